/*
 * report.c - an evaluation as a text table and as JSON: the summary, a
 * per-species table, the most frequent confusions and time per stage.
 */
#include "eval/eval_int.h"
#include "base/base.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFUSIONS_SHOWN 20

static const char *const stage_names[AV_EVAL__STAGES] = {"decode", "detect", "species", "draw",
                                                         "total"};

typedef struct sp_stat {
    const char *name; /* a binomial in the set (borrowed) */
    int images, found, top1, top5, named_right;
} sp_stat;

typedef struct confusion {
    char truth[256], pred[AV_DETECT_NAME_MAX];
    int n;
} confusion;

/* Per-species figures, sorted by images then name; *n gets the count. */
static sp_stat *species_stats(const av_eval *e, int *n)
{
    *n = 0;
    size_t cap = 0;
    sp_stat *st = NULL;
    for (int i = 0; i < e->set->n_rows; i++) {
        const av_eval_row *row = &e->set->rows[i];
        const av_eval__row *o = &e->rows[i];
        if (!o->scored)
            continue;
        for (int k = 0; k < row->n_names; k++) {
            int j = 0;
            while (j < *n && strcmp(st[j].name, row->names[k]))
                j++;
            if (j == *n) {
                if (av_base_grow((void **)&st, &cap, (size_t)*n + 1, sizeof *st)) {
                    free(st);
                    *n = 0;
                    return NULL;
                }
                st[j] = (sp_stat){.name = row->names[k]};
                (*n)++;
            }
            st[j].images++;
            st[j].found += o->birds > 0;
            st[j].top1 += o->top1;
            st[j].top5 += o->top5;
            st[j].named_right += o->named == AV_EVAL__RIGHT;
        }
    }
    return st;
}

static int cmp_species(const void *a, const void *b)
{
    const sp_stat *x = a, *y = b;
    if (x->images != y->images)
        return y->images - x->images;
    return strcmp(x->name, y->name);
}

static int cmp_confusion(const void *a, const void *b)
{
    const confusion *x = a, *y = b;
    if (x->n != y->n)
        return y->n - x->n;
    int c = strcmp(x->truth, y->truth);
    return c ? c : strcmp(x->pred, y->pred);
}

/* Wrong top-1 answers grouped by (truth, answer), most frequent first. */
static confusion *confusions(const av_eval *e, int *n)
{
    *n = 0;
    confusion *c = calloc((size_t)e->set->n_rows, sizeof *c);
    if (!c)
        return NULL;
    for (int i = 0; i < e->set->n_rows; i++) {
        const av_eval_row *row = &e->set->rows[i];
        const av_eval__row *o = &e->rows[i];
        if (!o->scored || row->n_names == 0 || o->top1)
            continue;
        confusion k = {.n = 1};
        size_t off = 0;
        for (int j = 0; j < row->n_names && off < sizeof k.truth; j++)
            off += (size_t)snprintf(k.truth + off, sizeof k.truth - off, "%s%s", j ? ";" : "",
                                    row->names[j]);
        snprintf(k.pred, sizeof k.pred, "%s",
                 o->error      ? "(error)"
                 : !o->birds   ? "(no bird found)"
                 : o->pred[0] ? o->pred
                              : "(no species)");
        int j = 0;
        while (j < *n && (strcmp(c[j].truth, k.truth) || strcmp(c[j].pred, k.pred)))
            j++;
        if (j < *n)
            c[j].n++;
        else
            c[(*n)++] = k;
    }
    qsort(c, (size_t)*n, sizeof *c, cmp_confusion);
    return c;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean and median of one stage over the rows that ran; 0 when none did. */
static void stage_stats(const av_eval *e, int stage, double *mean, double *median)
{
    *mean = *median = 0;
    double *v = malloc((size_t)e->set->n_rows * sizeof *v);
    if (!v)
        return;
    int n = 0;
    double sum = 0;
    for (int i = 0; i < e->set->n_rows; i++)
        if (e->rows[i].scored && !e->rows[i].error) {
            v[n++] = e->rows[i].ms[stage];
            sum += e->rows[i].ms[stage];
        }
    if (n) {
        qsort(v, (size_t)n, sizeof *v, cmp_double);
        *mean = sum / n;
        *median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
    free(v);
}

/* Detector runs over the rows that ran: the total, and per pass the runs,
 * the images it ran on and the boxes it added (nested: removed). */
typedef struct run_stats {
    int images, total;
    int runs[AV_DETECT_PASS_N], ran[AV_DETECT_PASS_N], boxes[AV_DETECT_PASS_N];
} run_stats;

static void det_run_stats(const av_eval *e, run_stats *r)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < e->set->n_rows; i++) {
        const av_eval__row *o = &e->rows[i];
        if (!o->scored || o->error)
            continue;
        r->images++;
        r->total += o->det_runs;
        for (int k = 0; k < AV_DETECT_PASS_N; k++) {
            r->runs[k] += o->pass_runs[k];
            r->ran[k] += o->pass_runs[k] > 0;
            r->boxes[k] += o->pass_boxes[k];
        }
    }
}

static void print_rate(FILE *f, const char *what, double v, int a, int b)
{
    if (b > 0)
        fprintf(f, "  %-34s %6.3f  %4d/%d\n", what, v, a, b);
    else
        fprintf(f, "  %-34s %6s  (no such rows)\n", what, "-");
}

void av_eval_print(const av_eval *e, const char *title, FILE *f)
{
    av_eval_summary s;
    av_eval_summarise(e, &s);
    fprintf(f, "%s\n", title ? title : "aviary eval");
    fprintf(f, "%d images: %d with birds, %d without%s", s.images, s.with_birds, s.without,
            s.errors ? "" : "\n");
    if (s.errors)
        fprintf(f, "; %d failed (counted as misses)\n", s.errors);
    fprintf(f, "\n");
    print_rate(f, "bird recall (a bird found)", s.recall, s.found, s.with_birds);
    print_rate(f, "negatives clean (no bird reported)", s.negatives_clean, s.clean, s.without);
    print_rate(f, "box count exact", s.count_rate, s.count_exact, s.counted);
    print_rate(f, "box precision @ IoU 0.5", s.box_precision, s.box_tp, s.box_tp + s.box_fp);
    print_rate(f, "box recall @ IoU 0.5", s.box_recall, s.box_tp, s.box_tp + s.box_fn);
    print_rate(f, "species top-1 (best box)", s.top1_rate, s.top1, s.species_rows);
    print_rate(f, "species top-5 (best box)", s.top5_rate, s.top5, s.species_rows);
    fprintf(f, "\nshown answer of the best box (photos with a species label):\n");
    fprintf(f, "  species right %d, species wrong %d, genus %d, unknown bird %d, no bird %d\n",
            s.named_right, s.named_wrong, s.named_genus, s.named_unknown,
            s.species_rows - s.named_right - s.named_wrong - s.named_genus - s.named_unknown);
    fprintf(f, "  boxes named as a species at a species score under 0.2: %d\n", s.named_weak);
    fprintf(f, "  illustrations (birds on a white page, not counted): %d, %d of them labelled "
               "with birds\n",
            s.illustrations, s.illustrations_with_birds);

    fprintf(f, "\ntime per image (ms)   mean   median\n");
    for (int k = 0; k < AV_EVAL__STAGES; k++) {
        double mean, med;
        stage_stats(e, k, &mean, &med);
        fprintf(f, "  %-18s %7.1f %8.1f\n", stage_names[k], mean, med);
    }
    run_stats rs;
    det_run_stats(e, &rs);
    fprintf(f, "\ndetector runs per image %.3f (%d on %d images)",
            rs.images ? (double)rs.total / rs.images : 0, rs.total, rs.images);
    for (int k = 0; k < AV_DETECT_PASS_N; k++)
        if (rs.runs[k])
            fprintf(f, "; %s %d runs on %d images, %d boxes added", av_detect_pass_name(k),
                    rs.runs[k], rs.ran[k], rs.boxes[k]);
    fprintf(f, "\n");

    int ns = 0;
    sp_stat *st = species_stats(e, &ns);
    if (st) {
        qsort(st, (size_t)ns, sizeof *st, cmp_species);
        fprintf(f, "\nper species                         images found  top-1  top-5  named\n");
        for (int i = 0; i < ns; i++)
            fprintf(f, "  %-34s %5d %5d %6d %6d %6d\n", st[i].name, st[i].images, st[i].found,
                    st[i].top1, st[i].top5, st[i].named_right);
        free(st);
    }
    int nc = 0;
    confusion *c = confusions(e, &nc);
    if (c) {
        fprintf(f, "\nmost frequent confusions (label -> top species of the best box)\n");
        if (!nc)
            fprintf(f, "  none\n");
        for (int i = 0; i < nc && i < CONFUSIONS_SHOWN; i++)
            fprintf(f, "  %3d  %s -> %s\n", c[i].n, c[i].truth, c[i].pred);
        free(c);
    }
    int shown = 0;
    for (int i = 0; i < e->set->n_rows; i++)
        if (e->rows[i].error) {
            if (!shown++)
                fprintf(f, "\nfailed images\n");
            fprintf(f, "  %s: %s\n", e->set->rows[i].file, e->rows[i].msg);
        }
}

static json_t *rate_json(double v, int a, int b)
{
    return json_pack("{s:o, s:i, s:i}", "value",
                     isfinite(v) ? json_real(round(v * 10000) / 10000) : json_null(), "n", a,
                     "of", b);
}

static json_t *summary_json(const av_eval_summary *s)
{
    return json_pack(
        "{s:i, s:i, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:i, s:i, s:i, s:i, s:i}, "
        "s:{s:i, s:i}}",
        "images", s->images, "with_birds", s->with_birds, "without_birds", s->without, "errors",
        s->errors, "bird_recall", rate_json(s->recall, s->found, s->with_birds),
        "negatives_clean", rate_json(s->negatives_clean, s->clean, s->without), "count_exact",
        rate_json(s->count_rate, s->count_exact, s->counted), "box_precision",
        rate_json(s->box_precision, s->box_tp, s->box_tp + s->box_fp), "box_recall",
        rate_json(s->box_recall, s->box_tp, s->box_tp + s->box_fn), "species_top1",
        rate_json(s->top1_rate, s->top1, s->species_rows), "species_top5",
        rate_json(s->top5_rate, s->top5, s->species_rows), "shown", "species_right",
        s->named_right, "species_wrong", s->named_wrong, "genus", s->named_genus,
        "unknown_bird", s->named_unknown, "species_under_0_2", s->named_weak, "illustrations",
        "rows", s->illustrations, "labelled_with_birds", s->illustrations_with_birds);
}

static const char *named_name(int named)
{
    switch (named) {
    case AV_EVAL__RIGHT:
        return "species_right";
    case AV_EVAL__WRONG:
        return "species_wrong";
    case AV_EVAL__GENUS_RIGHT:
        return "genus_right";
    case AV_EVAL__GENUS_WRONG:
        return "genus_wrong";
    case AV_EVAL__UNKNOWN:
        return "unknown";
    }
    return "none";
}

static json_t *row_json(const av_eval_row *row, const av_eval__row *o)
{
    if (o->error)
        return json_pack("{s:s, s:s, s:s}", "file", row->file, "label", row->label, "error",
                         o->msg);
    json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:b, s:b, s:b}", "file", row->file, "label",
                          row->label, "n_birds", row->n_birds, "birds", o->birds, "whole_image",
                          o->whole_image, "top1", o->top1, "top5", o->top5);
    if (j && o->illustration)
        json_object_set_new(j, "illustration", json_true());
    if (j && o->whole_image)
        json_object_set_new(j, "whole_image_by", json_string(av_detect_whole_by_name(o->whole_by)));
    if (j && row->n_names > 0 && o->birds > 0) {
        json_object_set_new(j, "top_species", json_string(o->pred));
        json_object_set_new(j, "top_score", json_real(round(o->pred_score * 10000) / 10000));
        json_object_set_new(j, "shown", json_string(o->shown));
        json_object_set_new(j, "rule", json_string(av_detect_rule_name(o->rule)));
        json_object_set_new(j, "answer", json_string(named_name(o->named)));
    }
    if (j)
        json_object_set_new(j, "det_runs", json_integer(o->det_runs));
    for (int k = 0; j && k < AV_DETECT_PASS_N; k++)
        if (o->pass_runs[k] || o->pass_boxes[k])
            json_object_set_new(j, av_detect_pass_name(k),
                                json_pack("{s:i, s:i}", "runs", o->pass_runs[k], "boxes",
                                          o->pass_boxes[k]));
    if (j && row->n_boxes >= 0)
        json_object_set_new(j, "boxes", json_pack("{s:i, s:i, s:i}", "tp", o->tp, "fp", o->fp,
                                                  "fn", o->fn));
    return j;
}

json_t *av_eval_to_json(const av_eval *e)
{
    av_eval_summary s;
    av_eval_summarise(e, &s);
    json_t *root = json_object(), *per = json_array(), *conf = json_array(),
           *times = json_object(), *rows = json_array(), *runs = NULL;
    int bad = !root || !per || !conf || !times || !rows;
    int ns = 0, nc = 0;
    sp_stat *st = bad ? NULL : species_stats(e, &ns);
    confusion *c = bad ? NULL : confusions(e, &nc);
    bad |= !c || (!st && ns);
    if (!bad) {
        qsort(st, (size_t)ns, sizeof *st, cmp_species);
        for (int i = 0; i < ns; i++)
            bad |= json_array_append_new(
                per, json_pack("{s:s, s:i, s:i, s:i, s:i, s:i}", "species", st[i].name, "images",
                               st[i].images, "found", st[i].found, "top1", st[i].top1, "top5",
                               st[i].top5, "named_right", st[i].named_right));
        for (int i = 0; i < nc && i < CONFUSIONS_SHOWN; i++)
            bad |= json_array_append_new(conf, json_pack("{s:s, s:s, s:i}", "label", c[i].truth,
                                                         "answer", c[i].pred, "n", c[i].n));
        for (int k = 0; k < AV_EVAL__STAGES; k++) {
            double mean, med;
            stage_stats(e, k, &mean, &med);
            bad |= json_object_set_new(times, stage_names[k],
                                       json_pack("{s:f, s:f}", "mean", round(mean * 100) / 100,
                                                 "median", round(med * 100) / 100));
        }
        run_stats rs;
        det_run_stats(e, &rs);
        runs = json_pack("{s:i, s:i, s:f}", "images", rs.images, "total", rs.total, "mean",
                         rs.images ? round(1000.0 * rs.total / rs.images) / 1000 : 0.0);
        for (int k = 0; runs && k < AV_DETECT_PASS_N; k++)
            bad |= json_object_set_new(runs, av_detect_pass_name(k),
                                       json_pack("{s:i, s:i, s:i}", "runs", rs.runs[k], "images",
                                                 rs.ran[k], "boxes", rs.boxes[k]));
        bad |= !runs;
        for (int i = 0; i < e->set->n_rows; i++)
            if (e->rows[i].scored)
                bad |= json_array_append_new(rows, row_json(&e->set->rows[i], &e->rows[i]));
    }
    free(st);
    free(c);
    if (!bad) {
        bad |= json_object_set_new(root, "summary", summary_json(&s));
        bad |= json_object_set_new(root, "per_species", per);
        bad |= json_object_set_new(root, "confusions", conf);
        bad |= json_object_set_new(root, "timings_ms", times);
        bad |= json_object_set_new(root, "detector_runs", runs);
        bad |= json_object_set_new(root, "rows", rows);
        per = conf = times = rows = runs = NULL;
    }
    json_decref(runs);
    json_decref(per);
    json_decref(conf);
    json_decref(times);
    json_decref(rows);
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}
