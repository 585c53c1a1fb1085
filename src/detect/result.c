/*
 * result.c - the detection result shared by CLI, web app and model server:
 * freeing, JSON form (jansson), label splitting and status strings.
 */
#include "detect/detect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *av_detect_strerror(av_detect_status st)
{
    switch (st) {
#define X(name, num, msg) \
    case AV_DETECT_##name:  \
        return msg;
        AV_DETECT_STATUS_MAP(X)
#undef X
    }
    return "unknown status";
}

const char *av_detect_rule_name(av_detect_rule rule)
{
    switch (rule) {
    case AV_DETECT_RULE_SPECIES:
        return "species";
    case AV_DETECT_RULE_GENUS:
        return "genus";
    case AV_DETECT_RULE_UNKNOWN:
        return "unknown";
    case AV_DETECT_RULE_NONE:
        break;
    }
    return "none";
}

av_detect_rule av_detect_rule_from_name(const char *name)
{
    for (int r = AV_DETECT_RULE_SPECIES; r <= AV_DETECT_RULE_UNKNOWN; r++)
        if (!strcmp(name, av_detect_rule_name((av_detect_rule)r)))
            return (av_detect_rule)r;
    return AV_DETECT_RULE_NONE;
}

const char *av_detect_whole_by_name(av_detect_whole_by by)
{
    switch (by) {
    case AV_DETECT_WHOLE_SPECIES:
        return "species";
    case AV_DETECT_WHOLE_TWO_VIEWS:
        return "two_views";
    case AV_DETECT_WHOLE_IMAGENET:
        return "imagenet";
    case AV_DETECT_WHOLE_NONE:
        break;
    }
    return "none";
}

av_detect_whole_by av_detect_whole_by_from_name(const char *name)
{
    for (int b = AV_DETECT_WHOLE_SPECIES; b <= AV_DETECT_WHOLE_IMAGENET; b++)
        if (!strcmp(name, av_detect_whole_by_name((av_detect_whole_by)b)))
            return (av_detect_whole_by)b;
    return AV_DETECT_WHOLE_NONE;
}

void av_detect_result_free(av_detect_result *r)
{
    if (!r)
        return;
    free(r->dets);
    free(r->annotated);
    memset(r, 0, sizeof *r);
}

/* Copy at most cap-1 bytes of s[0..n) and terminate. */
static void copy_n(char *dst, size_t cap, const char *s, size_t n)
{
    if (!cap)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

void av_detect_split_label(const char *label, char *scientific, size_t scap, char *common,
                           size_t ccap)
{
    size_t len = strlen(label);
    /* "Genus species (Common Name)": the last '(' opens a group that ends the label */
    const char *open = strrchr(label, '(');
    if (open && len >= 2 && label[len - 1] == ')' && open > label && open[-1] == ' ' &&
        !memchr(open + 1, '(', (size_t)(label + len - 1 - (open + 1))) && label + len - 1 > open + 1) {
        copy_n(scientific, scap, label, (size_t)(open - 1 - label));
        copy_n(common, ccap, open + 1, (size_t)(label + len - 1 - (open + 1)));
        return;
    }
    copy_n(scientific, scap, label, len);
    copy_n(common, ccap, "", 0);
}

/* Round for JSON so output stays readable and stable across platforms. */
static json_t *num(double v, double unit)
{
    if (!isfinite(v))
        return json_null();
    return json_real(round(v / unit) * unit);
}

/* A JSON string; text that is not valid UTF-8 (labels from files, engine
 * messages) gets its non-ASCII bytes replaced by '?' instead of failing. */
static json_t *str(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (!c)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        c[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
    j = json_string(c);
    free(c);
    return j;
}

static int set(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}

static json_t *species_json(const av_detect_species *s)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = set(o, "scientific", str(s->scientific)) |
              set(o, "common", str(s->common)) | set(o, "score", num(s->score, 1e-4)) |
              set(o, "index", json_integer(s->class_index));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *det_json(const av_detect_det *d)
{
    json_t *o = json_object(), *box = json_array(), *sp = json_array();
    if (!o || !box || !sp)
        goto fail;
    if (json_array_append_new(box, num(d->x1, 0.1)) || json_array_append_new(box, num(d->y1, 0.1)) ||
        json_array_append_new(box, num(d->x2, 0.1)) || json_array_append_new(box, num(d->y2, 0.1)))
        goto fail;
    for (int i = 0; i < d->n_species; i++)
        if (json_array_append_new(sp, species_json(&d->species[i])))
            goto fail;
    int bad = set(o, "box", box);
    box = NULL;
    bad |= set(o, "label", str(d->label)) |
           set(o, "confidence", num(d->confidence, 1e-4)) |
           set(o, "detector_score", num(d->det_score, 1e-4)) |
           set(o, "class", str(d->class_name)) |
           set(o, "class_index", json_integer(d->class_index)) |
           set(o, "whole_image", json_boolean(d->whole_image)) |
           set(o, "whole_image_by",
               d->whole_image ? str(av_detect_whole_by_name(d->whole_by)) : json_null()) |
           set(o, "rule", str(av_detect_rule_name(d->rule)));
    bad |= set(o, "species", sp);
    sp = NULL;
    if (bad)
        goto fail;
    return o;
fail:
    json_decref(o);
    json_decref(box);
    json_decref(sp);
    return NULL;
}

static json_t *model_json(const char *name, const char *version)
{
    if (!name[0])
        return json_null();
    return json_pack("{s:o, s:o}", "name", str(name), "version", str(version));
}

/* {"zoom_out": {"on", "ran", "runs", "boxes", "ms"}, ...}: which passes ran. */
static json_t *passes_json(const av_detect_result *r)
{
    json_t *o = json_object();
    for (int i = 0; o && i < AV_DETECT_PASS_N; i++) {
        const av_detect_pass_info *pi = &r->passes[i];
        if (set(o, av_detect_pass_name(i),
                json_pack("{s:b, s:b, s:i, s:i, s:o}", "on", pi->on, "ran", pi->ran, "runs",
                          pi->runs, "boxes", pi->boxes, "ms", num(pi->ms, 0.01)))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

json_t *av_detect_result_to_json(const av_detect_result *r, const char *image)
{
    json_t *o = json_object(), *dets = json_array();
    if (!o || !dets) {
        json_decref(o);
        json_decref(dets);
        return NULL;
    }
    int bad = 0;
    if (image)
        bad |= set(o, "image", str(image));
    bad |= set(o, "width", json_integer(r->width)) | set(o, "height", json_integer(r->height));
    for (int i = 0; i < r->n_dets; i++)
        bad |= json_array_append_new(dets, det_json(&r->dets[i]));
    bad |= set(o, "detections", dets);
    bad |= set(o, "count", json_integer(r->n_dets));
    bad |= set(o, "species_available", json_boolean(r->species_available));
    if (!r->species_available)
        bad |= set(o, "species_note", str(r->species_note));
    bad |= set(o, "models",
               json_pack("{s:o, s:o, s:b}", "detector",
                         model_json(r->detector, r->detector_version), "species",
                         model_json(r->classifier, r->classifier_version), "species_batched",
                         r->batched_species));
    bad |= set(o, "timings_ms",
               json_pack("{s:o, s:o, s:o, s:o, s:o}", "decode", num(r->ms_decode, 0.01), "detect",
                         num(r->ms_detect, 0.01), "species", num(r->ms_species, 0.01), "draw",
                         num(r->ms_draw, 0.01), "total", num(r->ms_total, 0.01)));
    bad |= set(o, "passes", passes_json(r));
    if (r->page_measured) {
        /* which rule removed the bird boxes, and the answer it removed */
        bad |= set(o, "illustration", json_boolean(r->illustration));
        bad |= set(o, "page", json_pack("{s:o, s:o}", "paper", num(r->page_paper, 1e-3), "border",
                                        num(r->page_border, 1e-3)));
        if (r->illustration)
            bad |= set(o, "illustrated", det_json(&r->illustrated));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
