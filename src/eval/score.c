/*
 * score.c - score av_detect results against the manifest's rows (figures
 * defined in eval.h) and sum them up.
 */
#include "eval/eval_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

av_eval *av_eval_new(const av_eval_set *set)
{
    if (!set || set->n_rows <= 0)
        return NULL;
    av_eval *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->set = set;
    e->rows = calloc((size_t)set->n_rows, sizeof *e->rows);
    if (!e->rows) {
        free(e);
        return NULL;
    }
    return e;
}

void av_eval_free(av_eval *e)
{
    if (!e)
        return;
    free(e->rows);
    free(e);
}

static int is_bird(const av_detect_det *d)
{
    return !strcmp(d->class_name, "bird");
}

/* 1 when the binomial of name is one of the row's names. */
static int row_has(const av_eval_row *row, const char *name)
{
    char b[AV_DETECT_NAME_MAX];
    av_detect_species_binomial(name, b, sizeof b);
    for (int i = 0; i < row->n_names; i++)
        if (!strcmp(row->names[i], b))
            return 1;
    return 0;
}

/* 1 when genus (a first word) is the genus of one of the row's names. */
static int row_has_genus(const av_eval_row *row, const char *genus)
{
    for (int i = 0; i < row->n_names; i++) {
        char g[AV_DETECT_NAME_MAX];
        av_detect_species_genus(row->names[i], g, sizeof g);
        if (!strcmp(g, genus))
            return 1;
    }
    return 0;
}

static double iou(const float *a, const av_detect_det *d)
{
    double ix = fmin(a[2], d->x2) - fmax(a[0], d->x1);
    double iy = fmin(a[3], d->y2) - fmax(a[1], d->y1);
    if (ix <= 0 || iy <= 0)
        return 0;
    double inter = ix * iy;
    double u = (double)(a[2] - a[0]) * (a[3] - a[1]) +
               (double)(d->x2 - d->x1) * (d->y2 - d->y1) - inter;
    return u > 0 ? inter / u : 0;
}

/* Greedy matching, best detection first (results list them best first). */
static void match_boxes(const av_eval_row *row, const av_detect_result *r, av_eval__row *o)
{
    unsigned char used[AV_EVAL_BOXES_MAX] = {0};
    for (int i = 0; i < r->n_dets; i++) {
        const av_detect_det *d = &r->dets[i];
        if (!is_bird(d))
            continue;
        int best = -1;
        double bi = 0.5;
        for (int g = 0; g < row->n_boxes; g++) {
            double v = used[g] ? 0 : iou(row->boxes[g], d);
            if (v >= bi)
                bi = v, best = g;
        }
        if (best >= 0) {
            used[best] = 1;
            o->tp++;
        } else {
            o->fp++;
        }
    }
    o->fn = row->n_boxes - o->tp;
}

/* What the user is shown for the best bird d of a row with species. */
static void score_named(const av_eval_row *row, const av_detect_det *d, av_eval__row *o)
{
    snprintf(o->shown, sizeof o->shown, "%s", d->label);
    o->rule = d->rule;
    if (d->rule == AV_DETECT_RULE_SPECIES && d->n_species > 0) {
        o->named = row_has(row, d->species[0].scientific) ? AV_EVAL__RIGHT : AV_EVAL__WRONG;
    } else if (d->rule == AV_DETECT_RULE_GENUS) {
        char g[AV_DETECT_NAME_MAX];
        av_detect_species_genus(d->label, g, sizeof g);
        o->named = row_has_genus(row, g) ? AV_EVAL__GENUS_RIGHT : AV_EVAL__GENUS_WRONG;
    } else {
        o->named = AV_EVAL__UNKNOWN;
    }
}

int av_eval_add(av_eval *e, int i, const av_detect_result *r)
{
    if (!e || !r || i < 0 || i >= e->set->n_rows)
        return -1;
    const av_eval_row *row = &e->set->rows[i];
    av_eval__row *o = &e->rows[i];
    memset(o, 0, sizeof *o);
    o->scored = 1;
    const av_detect_det *best = NULL;
    for (int k = 0; k < r->n_dets; k++)
        if (is_bird(&r->dets[k])) {
            o->birds++;
            o->weak += r->dets[k].rule == AV_DETECT_RULE_SPECIES && r->dets[k].confidence < 0.2f;
            if (!best)
                best = &r->dets[k];
        }
    if (row->n_boxes >= 0)
        match_boxes(row, r, o);
    o->top1 = o->top5 = 0;
    if (row->n_names > 0 && best) {
        for (int k = 0; k < best->n_species && k < 5; k++)
            if (row_has(row, best->species[k].scientific)) {
                o->top1 |= k == 0;
                o->top5 = 1;
            }
        if (best->n_species > 0) {
            av_detect_species_binomial(best->species[0].scientific, o->pred, sizeof o->pred);
            o->pred_score = best->species[0].score;
        }
        score_named(row, best, o);
    }
    o->whole_image = best && best->whole_image;
    o->illustration = r->illustration;
    o->whole_by = o->whole_image ? best->whole_by : AV_DETECT_WHOLE_NONE;
    o->ms[0] = r->ms_decode;
    o->ms[1] = r->ms_detect;
    o->ms[2] = r->ms_species;
    o->ms[3] = r->ms_draw;
    o->ms[4] = r->ms_total;
    o->det_runs = 1;
    for (int k = 0; k < AV_DETECT_PASS_N; k++) {
        o->pass_runs[k] = r->passes[k].runs;
        o->pass_boxes[k] = r->passes[k].boxes;
        o->det_runs += r->passes[k].runs;
    }
    return 0;
}

int av_eval_add_error(av_eval *e, int i, const char *msg)
{
    if (!e || i < 0 || i >= e->set->n_rows)
        return -1;
    av_eval__row *o = &e->rows[i];
    memset(o, 0, sizeof *o);
    o->scored = 1;
    o->error = 1;
    snprintf(o->msg, sizeof o->msg, "%s", msg ? msg : "failed");
    return 0;
}

static double ratio(int a, int b)
{
    return b > 0 ? (double)a / b : NAN;
}

void av_eval_summarise(const av_eval *e, av_eval_summary *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; e && i < e->set->n_rows; i++) {
        const av_eval_row *row = &e->set->rows[i];
        const av_eval__row *o = &e->rows[i];
        if (!o->scored)
            continue;
        s->images++;
        s->errors += o->error;
        int positive = row->n_names > 0 || row->n_birds > 0;
        if (positive) {
            s->with_birds++;
            s->found += o->birds > 0;
            if (row->n_birds > 0) {
                s->counted++;
                s->count_exact += !o->error && o->birds == row->n_birds;
            }
        } else {
            s->without++;
            s->clean += !o->error && o->birds == 0;
        }
        if (row->n_boxes >= 0) {
            s->boxed_rows++;
            s->box_tp += o->tp;
            s->box_fp += o->fp;
            s->box_fn += o->error ? row->n_boxes : o->fn;
        }
        if (row->n_names > 0) {
            s->species_rows++;
            s->top1 += o->top1;
            s->top5 += o->top5;
            s->named_right += o->named == AV_EVAL__RIGHT;
            s->named_wrong += o->named == AV_EVAL__WRONG;
            s->named_genus += o->named == AV_EVAL__GENUS_RIGHT || o->named == AV_EVAL__GENUS_WRONG;
            s->named_unknown += o->named == AV_EVAL__UNKNOWN;
        }
        s->named_weak += o->weak;
        s->illustrations += o->illustration;
        s->illustrations_with_birds += o->illustration && positive;
    }
    s->recall = ratio(s->found, s->with_birds);
    s->negatives_clean = ratio(s->clean, s->without);
    s->count_rate = ratio(s->count_exact, s->counted);
    s->box_precision = ratio(s->box_tp, s->box_tp + s->box_fp);
    s->box_recall = ratio(s->box_tp, s->box_tp + s->box_fn);
    s->top1_rate = ratio(s->top1, s->species_rows);
    s->top5_rate = ratio(s->top5, s->species_rows);
}
