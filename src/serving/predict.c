/*
 * predict.c - POST ...:predict: the TF Serving request grammar (row
 * "instances" or columnar "inputs", "signature_name", {"b64": ...}), one
 * pipeline run per image (directly on the HTTP worker, or through the
 * model's batch queue when batching is on), TF Object Detection API outputs.
 *
 * Signatures (metadata in server.c): "serving_default" takes input_tensor
 * (uint8 [1,H,W,3], the original client's nested lists) and "image_bytes"
 * takes image_bytes (encoded JPEG/PNG/WebP/BMP). Either accepts either
 * form: a nested list is pixels, a {"b64": ...} object or a string is an
 * encoded image. Pixels are bounded (H*W <= max_pixels) before anything is
 * allocated and become an in-memory BMP, so both forms run the same
 * decode -> detect -> species path.
 *
 * Outputs per image (row format: one object per instance in
 * "predictions"; columnar: {"outputs": {alias: [one entry per image]}},
 * lists not padded to a common length): see OUTPUTS in server.c.
 */
#include "serving/internal.h"

#include "vision/vision.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct item {
    unsigned char *bytes; /* encoded image, owned */
    size_t len;
    int is_pixels;        /* bytes is our BMP of an input_tensor */
} item;

typedef struct batch {
    item v[AV_SERVING_MAX_INSTANCES];
    int n;
    av_serving__pixels *px; /* pixel lists read ahead of jansson (pixels.c) */
} batch;

static void batch_free(batch *b)
{
    for (int i = 0; i < b->n; i++)
        free(b->v[i].bytes);
    b->n = 0;
}

/* Answer builder: status + {"error"} with a printf message. */
static unsigned fail(json_t **answer, unsigned status, const char *fmt, const char *a,
                     const char *b)
{
    *answer = av_serving__error_json(fmt, a ? a : "", b ? b : "");
    return status;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "Object";
    case JSON_ARRAY: return "Array";
    case JSON_STRING: return "String";
    case JSON_INTEGER:
    case JSON_REAL: return "Number";
    case JSON_TRUE:
    case JSON_FALSE: return "Boolean";
    default: return "Null";
    }
}

/* H x W x 3 nested list of 0..255 ints -> top-down 24-bit BMP. */
static unsigned pixels_to_bmp(const av_serving *s, const json_t *img, item *out, json_t **answer)
{
    size_t h = json_array_size(img);
    const json_t *row0 = json_array_get(img, 0);
    size_t w = json_is_array(row0) ? json_array_size(row0) : 0;
    if (h == 0 || w == 0)
        return fail(answer, 400, "input_tensor: expecting a H x W x 3 list of pixels%s%s", 0, 0);
    if (h > 65535 || w > 65535 || (long long)h * (long long)w > s->max_pixels) {
        char dims[64];
        snprintf(dims, sizeof dims, "%zu x %zu", h, w);
        return fail(answer, 400, "input_tensor: image of %s pixels exceeds the pixel limit%s",
                    dims, "");
    }
    size_t stride = (w * 3 + 3) & ~(size_t)3;
    size_t total;
    unsigned char *bmp = av_serving__pixels_bmp(h, w, &total);
    if (!bmp)
        return fail(answer, 500, "out of memory%s%s", 0, 0);
    for (size_t y = 0; y < h; y++) {
        const json_t *row = json_array_get(img, y);
        if (!json_is_array(row) || json_array_size(row) != w) {
            free(bmp);
            return fail(answer, 400,
                        "input_tensor: Encountered list at unexpected size/level (rows must "
                        "all have the same width)%s%s",
                        0, 0);
        }
        unsigned char *dst = bmp + 54 + y * stride;
        for (size_t x = 0; x < w; x++) {
            const json_t *px = json_array_get(row, x);
            if (!json_is_array(px) || json_array_size(px) != 3) {
                free(bmp);
                return fail(answer, 400,
                            "input_tensor: Encountered list at unexpected size/level (each "
                            "pixel is a list of 3 values)%s%s",
                            0, 0);
            }
            for (int c = 0; c < 3; c++) {
                const json_t *v = json_array_get(px, (size_t)c);
                json_int_t k = json_is_integer(v) ? json_integer_value(v) : -1;
                if (k < 0 || k > 255) {
                    char *txt = json_dumps(v, JSON_ENCODE_ANY);
                    unsigned st = fail(answer, 400,
                                       "JSON Value: %s Type: %s is not of expected type: uint8",
                                       txt ? txt : "?", json_type_name(v));
                    free(txt);
                    free(bmp);
                    return st;
                }
                dst[x * 3 + (2 - c)] = (unsigned char)k; /* BMP stores BGR */
            }
        }
    }
    out->bytes = bmp;
    out->len = total;
    out->is_pixels = 1;
    return 0;
}

static int is_b64(const json_t *v)
{
    return json_is_object(v) && json_object_size(v) == 1 &&
           json_is_string(json_object_get(v, "b64"));
}

/* One input value -> one image. */
static unsigned convert_value(const av_serving *s, const json_t *v, batch *b, json_t **answer)
{
    if (b->n >= AV_SERVING_MAX_INSTANCES) {
        char n[16];
        snprintf(n, sizeof n, "%d", AV_SERVING_MAX_INSTANCES);
        return fail(answer, 400, "Too many images in one request (at most %s)%s", n, "");
    }
    item *it = &b->v[b->n];
    memset(it, 0, sizeof *it);
    int k = av_serving__pixels_ref(b->px, v);
    if (k >= 0) { /* moved: a second reference to the same list is not pixels */
        it->bytes = b->px->bmp[k];
        it->len = b->px->bmp_len[k];
        it->is_pixels = 1;
        b->px->bmp[k] = NULL;
    } else if (is_b64(v)) {
        const json_t *t = json_object_get(v, "b64");
        if (av_serving_b64_decode(json_string_value(t), json_string_length(t), &it->bytes,
                                  &it->len))
            return fail(answer, 400, "Unable to base64 decode%s%s", 0, 0);
    } else if (json_is_string(v)) {
        size_t n = json_string_length(v);
        it->bytes = malloc(n ? n : 1);
        if (!it->bytes)
            return fail(answer, 500, "out of memory%s%s", 0, 0);
        memcpy(it->bytes, json_string_value(v), n);
        it->len = n;
    } else if (json_is_array(v)) {
        unsigned st = pixels_to_bmp(s, v, it, answer);
        if (st)
            return st;
    } else {
        char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        unsigned st = fail(answer, 400, "JSON Value: %.200s Type: %s is not of expected type: "
                                        "uint8",
                           txt ? txt : "?", json_type_name(v));
        free(txt);
        return st;
    }
    b->n++;
    return 0;
}

static int is_input_name(const char *k)
{
    return !strcmp(k, "input_tensor") || !strcmp(k, "image_bytes");
}

/* Row format: each element is a value or {"input_tensor"|"image_bytes": value}. */
static unsigned parse_instances(const av_serving *s, const json_t *inst, batch *b,
                                json_t **answer)
{
    if (!json_is_array(inst))
        return fail(answer, 400, "Expecting 'instances' to be an list/array%s%s", 0, 0);
    if (json_array_size(inst) == 0)
        return fail(answer, 400, "No values in 'instances' array%s%s", 0, 0);
    size_t i;
    const json_t *e;
    json_array_foreach(inst, i, e)
    {
        const json_t *v = e;
        if (json_is_object(e) && !is_b64(e) && av_serving__pixels_ref(b->px, e) < 0) {
            if (json_object_size(e) != 1) {
                char n[24];
                snprintf(n, sizeof n, "%zu", json_object_size(e));
                return fail(answer, 400, "Expecting 1 named input (input_tensor or image_bytes)"
                                         ", found %s%s",
                            n, "");
            }
            const char *key = json_object_iter_key(json_object_iter((json_t *)e));
            if (!is_input_name(key))
                return fail(answer, 400, "JSON object: does not have named input: %.200s%s",
                            key, "");
            v = json_object_iter_value(json_object_iter((json_t *)e));
        }
        unsigned st = convert_value(s, v, b, answer);
        if (st)
            return st;
    }
    return 0;
}

/* Columnar: a value (one image, or a list of images) or {name: value}. */
static unsigned parse_inputs(const av_serving *s, const json_t *in, batch *b, json_t **answer)
{
    const json_t *v = in;
    if (json_is_object(in) && !is_b64(in) && av_serving__pixels_ref(b->px, in) < 0) {
        v = json_object_get(in, "input_tensor");
        if (!v)
            v = json_object_get(in, "image_bytes");
        if (!v)
            return fail(answer, 400, "Missing named input: input_tensor in 'inputs' object.%s%s",
                        0, 0);
        if (json_object_size(in) != 1)
            return fail(answer, 400, "'inputs' object: expecting only one named input%s%s", 0,
                        0);
    }
    if (!json_is_array(v))
        return convert_value(s, v, b, answer);
    if (json_array_size(v) == 0)
        return fail(answer, 400, "No values in 'inputs'%s%s", 0, 0);
    /* [img, img, ...] (b64/strings or B x H x W x 3) vs one H x W x 3 image. */
    const json_t *a = json_array_get(v, 0), *a1 = json_array_get(a, 0);
    int batch_of_pixels = json_is_array(a) && json_is_array(a1) &&
                          json_is_array(json_array_get(a1, 0));
    if (json_is_array(a) && !batch_of_pixels)
        return convert_value(s, v, b, answer);
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e)
    {
        unsigned st = convert_value(s, e, b, answer);
        if (st)
            return st;
    }
    return 0;
}

/* ----------------------------------------------------------- outputs */

/* Columns of n detections, named prefix + "boxes", "classes", ... (the TF OD
 * API names with "detection_", plus ours), into o. 0, or -1 out of memory. */
static int det_columns(const av_serving *s, const av_detect_result *r, const av_detect_det *dets,
                       int n, const char *prefix, json_t *o)
{
    static const char *const names[] = {"boxes", "classes", "scores", "detector_scores",
                                        "labels", "confidences", "rules", "whole_image_by",
                                        "species", "species_common", "species_scores",
                                        "species_classes"};
    enum { BOX, CLS, SCORE, DSCORE, LABEL, CONF, RULE, WHOLE, SP, SPC, SPS, SPI, NCOL };
    json_t *col[NCOL];
    int oom = 0;
    for (int c = 0; c < NCOL; c++)
        oom |= !(col[c] = json_array());
    double w = r->width > 0 ? r->width : 1, h = r->height > 0 ? r->height : 1;
    for (int i = 0; !oom && i < n; i++) {
        const av_detect_det *d = &dets[i];
        int cls = av_serving__class_id(d, s->tracked, s->n_tracked);
        double score = av_serving__det_score(d, cls, s->tracked, s->n_tracked);
        json_t *row_s = json_array(), *row_c = json_array(), *row_p = json_array(),
               *row_i = json_array();
        oom |= !row_s || !row_c || !row_p || !row_i;
        for (int k = 0; !oom && k < s->top_k; k++) {
            const av_detect_species *q = k < d->n_species ? &d->species[k] : NULL;
            oom |= json_array_append_new(row_s, json_string(q ? q->scientific : ""));
            oom |= json_array_append_new(row_c, json_string(q ? q->common : ""));
            oom |= json_array_append_new(row_p, json_real(q ? q->score : 0.0));
            oom |= json_array_append_new(row_i, json_real(q ? q->class_index : -1));
        }
        oom |= json_array_append_new(col[BOX], json_pack("[f,f,f,f]", d->y1 / h, d->x1 / w,
                                                         d->y2 / h, d->x2 / w));
        oom |= json_array_append_new(col[CLS], json_real(cls));
        oom |= json_array_append_new(col[SCORE], json_real(score));
        oom |= json_array_append_new(col[DSCORE], json_real(d->det_score));
        oom |= json_array_append_new(col[LABEL], json_string(d->label));
        oom |= json_array_append_new(col[CONF], json_real(d->confidence));
        oom |= json_array_append_new(col[RULE], json_string(av_detect_rule_name(d->rule)));
        oom |= json_array_append_new(
            col[WHOLE], json_string(av_detect_whole_by_name(d->whole_image ? d->whole_by
                                                                           : AV_DETECT_WHOLE_NONE)));
        oom |= json_array_append_new(col[SP], row_s);
        oom |= json_array_append_new(col[SPC], row_c);
        oom |= json_array_append_new(col[SPS], row_p);
        oom |= json_array_append_new(col[SPI], row_i);
    }
    for (int c = 0; c < NCOL; c++) {
        char key[64];
        snprintf(key, sizeof key, "%s%s", prefix, names[c]);
        if (oom)
            json_decref(col[c]);
        else
            oom |= json_object_set_new(o, key, col[c]);
    }
    return oom ? -1 : 0;
}

/* One image's outputs, TF OD API names plus ours. A drawing (README
 * "Illustrations are not sightings") has "illustration": true and its best
 * bird in the illustrated_* columns (one row; none for a photo);
 * "illustration_page" is [paper, border] when the page was measured, else []. */
static json_t *image_outputs(const av_serving *s, const av_detect_result *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int oom = det_columns(s, r, r->dets, r->n_dets, "detection_", o);
    oom |= det_columns(s, r, &r->illustrated, r->illustration ? 1 : 0, "illustrated_", o);
    oom |= json_object_set_new(o, "num_detections", json_real(r->n_dets));
    oom |= json_object_set_new(o, "image_size", json_pack("[i,i]", r->height, r->width));
    oom |= json_object_set_new(o, "illustration", json_boolean(r->illustration));
    oom |= json_object_set_new(o, "illustration_page",
                               r->page_measured
                                   ? json_pack("[f,f]", r->page_paper, r->page_border)
                                   : json_array());
    if (!oom)
        return o;
    json_decref(o);
    return NULL;
}

static unsigned detect_code(av_detect_status ds)
{
    return ds == AV_DETECT_E_IMAGE || ds == AV_DETECT_E_LIMIT || ds == AV_DETECT_E_ARG ? 400 : 500;
}

static long long item_max_bytes(const av_serving *s, const item *it)
{
    return it->is_pixels ? (long long)it->len + 1 : s->max_upload_bytes;
}

/* Batching off: every image through av_detect_run on this worker. Fills
 * res[0..b->n) or, on failure, frees what it filled. */
static unsigned run_direct(av_serving *s, av_serving__version *v, const batch *b,
                           av_detect_result *res, json_t **answer)
{
    for (int i = 0; i < b->n; i++) {
        av_detect_run_opts ro = {.top_k = s->top_k,
                                 .max_bytes = item_max_bytes(s, &b->v[i]),
                                 .max_pixels = s->max_pixels};
        char err[512];
        av_detect_status ds = av_detect_run(v->pipe, b->v[i].bytes, b->v[i].len, &ro, &res[i],
                                            err, sizeof err);
        if (ds != AV_DETECT_OK) {
            for (int k = 0; k < i; k++)
                av_detect_result_free(&res[k]);
            return fail(answer, detect_code(ds), "%s%s", err, "");
        }
    }
    return 0;
}

/* A request queued on a batcher: everything it owns until it is answered. */
struct av_serving__pending {
    av_serving__task task;
    av_serving__model *md;
    av_serving__version *v;     /* referenced */
    av_image *imgs[AV_SERVING_MAX_INSTANCES];          /* decoded ahead, or NULL */
    av_serving__encoded enc[AV_SERVING_MAX_INSTANCES]; /* bytes owned (moved from the batch) */
    long long px_reserved;      /* decode-ahead budget held */
    av_detect_result *res;      /* task.n entries */
    int columnar;
};

static void pending_free(av_serving__pending *p)
{
    for (int i = 0; i < p->task.n; i++) {
        av_img_free(p->imgs[i]);
        free((void *)p->enc[i].bytes);
    }
    if (p->px_reserved)
        av_serving__batcher_unreserve(&p->md->batcher, p->px_reserved);
    free(p->res);
    av_serving__release(&p->md->models, p->v);
    free(p);
}

/* Batching on: decode here (the HTTP workers decode in parallel, within
 * the batcher's decode-ahead budget; past it an image stays encoded for
 * the batch thread) and queue on the model's batcher. Decode limits and
 * messages are av_detect_run's, so answers match batching off. On success
 * (0) the pending request owns v's reference and the batch's image bytes. */
static unsigned run_batched(av_serving *s, av_serving__model *md, av_serving__version *v,
                            batch *b, int columnar, void (*park)(void *),
                            void (*wake)(void *), void *ud, av_serving__pending **out,
                            json_t **answer)
{
    av_serving__pending *p = calloc(1, sizeof *p);
    av_detect_result *res = calloc((size_t)b->n, sizeof *res);
    if (!p || !res) {
        free(p);
        free(res);
        return fail(answer, 500, "out of memory%s%s", 0, 0);
    }
    unsigned st = 0;
    p->md = md;
    for (int i = 0; i < b->n; i++) {
        p->enc[i] = (av_serving__encoded){.bytes = b->v[i].bytes, .len = b->v[i].len,
                                          .max_bytes = item_max_bytes(s, &b->v[i])};
        b->v[i].bytes = NULL;
    }
    for (int i = 0; !st && i < b->n; i++) {
        av_vision_limits lim = {.max_bytes = p->enc[i].max_bytes, .max_pixels = s->max_pixels};
        av_vision_decode_info info;
        char err[512];
        long long px = -1;
        /* A failed probe is left to the decode, for av_detect_run's message. */
        if (av_vision_probe(p->enc[i].bytes, p->enc[i].len, &lim, &info, err, sizeof err) ==
            AV_VISION_OK)
            px = (long long)info.src_width * info.src_height;
        if (px >= 0 && !av_serving__batcher_reserve(&md->batcher, px))
            continue; /* over budget: the batch thread decodes it */
        av_detect_status ds = av_serving__decode(p->enc[i].bytes, p->enc[i].len,
                                                 p->enc[i].max_bytes, s->max_pixels,
                                                 &p->imgs[i], err, sizeof err);
        if (px >= 0)
            p->px_reserved += px;
        if (ds != AV_DETECT_OK)
            st = fail(answer, detect_code(ds), "%s%s", err, "");
    }
    p->columnar = columnar;
    p->res = res;
    p->task = (av_serving__task){.v = v, .n = b->n, .imgs = p->imgs, .enc = p->enc,
                                 .res = res, .park = park, .wake = wake, .ud = ud};
    if (!st && av_serving__batcher_submit(&md->batcher, &p->task))
        st = fail(answer, 503,
                  "The batch scheduling queue to which this task was submitted is full%s%s", 0,
                  0);
    if (st) {
        p->v = NULL; /* the caller still holds v's reference */
        pending_free(p);
        return st;
    }
    p->v = v;
    *out = p;
    return 0;
}

static unsigned build_answer(av_serving *s, av_detect_result *res, int n, int columnar,
                             json_t **answer);

/* Run every image on version v (referenced by the caller) of model md,
 * on this worker. */
static unsigned run_batch(av_serving *s, av_serving__version *v, const batch *b, int columnar,
                          json_t **answer)
{
    av_detect_result *res = calloc((size_t)b->n, sizeof *res);
    if (!res)
        return fail(answer, 500, "out of memory%s%s", 0, 0);
    unsigned st = run_direct(s, v, b, res, answer);
    if (st) {
        free(res);
        return st;
    }
    st = build_answer(s, res, b->n, columnar, answer);
    free(res);
    return st;
}

unsigned av_serving__predict_finish(av_serving *s, av_serving__pending *p, json_t **answer,
                                    int *images)
{
    *answer = NULL;
    *images = 0;
    av_serving__batcher_wait(&p->md->batcher, &p->task);
    unsigned st;
    if (p->task.st != AV_DETECT_OK) {
        st = fail(answer, detect_code(p->task.st), "%s%s", p->task.err, "");
    } else {
        st = build_answer(s, p->res, p->task.n, p->columnar, answer);
        if (st == 200)
            *images = p->task.n;
    }
    pending_free(p);
    return st;
}

void av_serving__predict_abandon(av_serving *s, av_serving__pending *p)
{
    (void)s;
    av_serving__batcher_wait(&p->md->batcher, &p->task);
    if (p->task.st == AV_DETECT_OK)
        for (int i = 0; i < p->task.n; i++)
            av_detect_result_free(&p->res[i]);
    pending_free(p);
}

/* Outputs of n results (freed here) as the row or columnar answer. */
static unsigned build_answer(av_serving *s, av_detect_result *res, int n, int columnar,
                             json_t **answer)
{
    unsigned st = 0;
    json_t *preds = json_array();
    if (!preds)
        st = fail(answer, 500, "out of memory%s%s", 0, 0);
    for (int i = 0; !st && i < n; i++) {
        json_t *o = image_outputs(s, &res[i]);
        if (!o || json_array_append_new(preds, o))
            st = fail(answer, 500, "out of memory%s%s", 0, 0);
    }
    for (int i = 0; i < n; i++)
        av_detect_result_free(&res[i]);
    if (st) {
        json_decref(preds);
        return st;
    }
    if (!columnar) {
        *answer = json_pack("{s:o}", "predictions", preds);
        return *answer ? 200 : fail(answer, 500, "out of memory%s%s", 0, 0);
    }
    /* Columnar: alias -> [entry of image 0, entry of image 1, ...]. */
    json_t *outs = json_object();
    json_t *first = json_array_get(preds, 0);
    const char *key;
    json_t *val;
    int oom = !outs;
    json_object_foreach(first, key, val)
    {
        json_t *col = json_array();
        size_t i;
        json_t *p;
        oom |= !col;
        json_array_foreach(preds, i, p) oom |= json_array_append(col, json_object_get(p, key));
        oom |= json_object_set_new(outs, key, col);
        if (oom)
            break;
    }
    json_decref(preds);
    if (oom) {
        json_decref(outs);
        return fail(answer, 500, "out of memory%s%s", 0, 0);
    }
    *answer = json_pack("{s:o}", "outputs", outs);
    return *answer ? 200 : fail(answer, 500, "out of memory%s%s", 0, 0);
}

typedef struct park_args {
    void (*park)(void *), (*wake)(void *);
    void *ud;
    av_serving__pending **pending;
} park_args;

static unsigned predict_on(av_serving *s, av_serving__model *md, av_serving__version *v,
                           const char *body, size_t len, json_t **answer, int *images,
                           const park_args *pa);

unsigned av_serving__predict(av_serving *s, av_serving__model *md, long long version,
                             const char *body, size_t len, json_t **answer, int *images,
                             void (*park)(void *), void (*wake)(void *), void *ud,
                             av_serving__pending **pending)
{
    *answer = NULL;
    *images = 0;
    *pending = NULL;
    /* As TF Serving: the servable is looked up before the body is parsed. */
    av_serving__version *v = av_serving__acquire(&md->models, version);
    if (!v) {
        char num[32];
        snprintf(num, sizeof num, "%lld", version);
        if (version > 0)
            return fail(answer, 404, "Servable not found for request: Specific(%s, %s)",
                        md->models.name, num);
        return fail(answer, 404, "Servable not found for request: Latest(%s)%s",
                    md->models.name, "");
    }
    park_args pa = {park, wake, ud, pending};
    unsigned st = predict_on(s, md, v, body, len, answer, images, &pa);
    if (!*pending) /* else the pending request holds v until it is answered */
        av_serving__release(&md->models, v);
    return st;
}

/* The request's images into b (b->px set by the caller; NULL: jansson
 * reads every pixel list, as before pixels.c, for the fuzzer to compare). */
static unsigned parse_request(const av_serving *s, const char *body, size_t len, batch *b,
                              int *columnar, json_t **answer)
{
    size_t k = 0;
    while (k < len && (body[k] == ' ' || body[k] == '\n' || body[k] == '\r' || body[k] == '\t'))
        k++;
    if (k == len)
        return fail(answer, 400, "JSON Parse error: The document is empty%s%s", 0, 0);
    av_serving__pixels *px = b->px;
    if (px) {
        char msg[300];
        unsigned st = av_serving__pixels_extract(body, len, s->max_pixels, px, msg, sizeof msg);
        if (st)
            return fail(answer, st, "%s%s", msg, "");
    }
    json_error_t je;
    json_t *req = json_loadb(px && px->json ? px->json : body, px && px->json ? px->len : len,
                             0, &je);
    if (!req) {
        char off[32];
        snprintf(off, sizeof off, "%d", je.position);
        return fail(answer, 400, "JSON Parse error: %s at offset: %s", je.text, off);
    }
    unsigned st = 0;
    const json_t *sig = json_object_get(req, "signature_name");
    const json_t *inst = json_object_get(req, "instances"), *in = json_object_get(req, "inputs");
    if (!json_is_object(req))
        st = fail(answer, 400, "JSON Parse error: Is not object%s%s", 0, 0);
    else if (sig && !json_is_string(sig))
        st = fail(answer, 400, "'signature_name' key must be a string value.%s%s", 0, 0);
    else if (sig && strcmp(json_string_value(sig), "serving_default") &&
             strcmp(json_string_value(sig), "image_bytes"))
        st = fail(answer, 400, "Serving signature name: \"%.200s\" not found in signature def%s",
                  json_string_value(sig), "");
    else if (inst && in)
        st = fail(answer, 400, "Not both of 'inputs' and 'instances': expecting only one of "
                               "'inputs' or 'instances'%s%s",
                  0, 0);
    else if (!inst && !in)
        st = fail(answer, 400, "Missing 'inputs' or 'instances' key%s%s", 0, 0);
    else
        st = inst ? parse_instances(s, inst, b, answer) : parse_inputs(s, in, b, answer);
    *columnar = in != NULL;
    json_decref(req); /* the batch owns copies of what it needs */
    return st;
}

unsigned av_serving__predict_parse(const av_serving *s, const char *body, size_t len, int fast,
                                   void (*each)(void *ud, const void *bytes, size_t len),
                                   void *ud, json_t **answer)
{
    *answer = NULL;
    batch *b = calloc(1, sizeof *b);
    if (!b)
        return fail(answer, 500, "out of memory%s%s", 0, 0);
    av_serving__pixels px = {0};
    b->px = fast ? &px : NULL;
    int columnar = 0;
    unsigned st = parse_request(s, body, len, b, &columnar, answer);
    for (int i = 0; !st && i < b->n; i++)
        each(ud, b->v[i].bytes, b->v[i].len);
    av_serving__pixels_free(&px);
    batch_free(b);
    free(b);
    return st;
}

static unsigned predict_on(av_serving *s, av_serving__model *md, av_serving__version *v,
                           const char *body, size_t len, json_t **answer, int *images,
                           const park_args *pa)
{
    batch *b = calloc(1, sizeof *b);
    if (!b)
        return fail(answer, 500, "out of memory%s%s", 0, 0);
    av_serving__pixels px = {0};
    b->px = &px;
    int columnar = 0;
    unsigned st = parse_request(s, body, len, b, &columnar, answer);
    av_serving__pixels_free(&px); /* lists not moved into the batch */
    b->px = NULL;
    if (!st)
        st = s->batching ? run_batched(s, md, v, b, columnar, pa->park, pa->wake, pa->ud,
                                       pa->pending, answer)
                         : run_batch(s, v, b, columnar, answer);
    if (!st || st == 200)
        *images = b->n;
    batch_free(b);
    free(b);
    return st;
}
