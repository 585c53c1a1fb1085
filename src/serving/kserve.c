/*
 * kserve.c - KServe V2 / Open Inference Protocol REST beside TF Serving's:
 *
 *   GET  /v2                                    server metadata
 *   GET  /v2/health/live, /v2/health/ready      200, or 400 when not ready
 *   GET  /v2/models/NAME[/versions/V]           model metadata
 *   GET  /v2/models/NAME[/versions/V]/ready     200, or 400 when not ready
 *   POST /v2/models/NAME[/versions/V]/infer     inference
 *
 * An infer request has one input: BYTES [N] whose elements are base64
 * strings of encoded images (JPEG/PNG/WebP/BMP), or UINT8 [N,H,W,3] (or
 * [H,W,3]) pixels, its data flat in row-major order or nested. Outputs are
 * what predict.c writes (TF OD API tensors and ours), as named tensors
 * padded to the most detections of any image (shape [N, D, ...];
 * num_detections says how many rows of each image are real), a drawing's
 * best bird in illustrated_* [N, I, ...] (I = 1 when any image is a drawing;
 * "illustration" says which rows are real). Errors are {"error": msg}: 400 bad
 * request, 404 unknown model or version, 500 inference failure. The
 * images of a request run as one av_detect_run_batch (one shared detector
 * pass), on the HTTP worker, also when --batch-max is on.
 */
#include "serving/internal.h"

#include "config/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 5 /* nesting of a UINT8 tensor's data: [N][H][W][3] + 1 */

static unsigned err(json_t **answer, unsigned status, const char *fmt, const char *a,
                    const char *b)
{
    *answer = av_serving__error_json(fmt, a ? a : "", b ? b : "");
    return status;
}

/* ------------------------------------------------------------ metadata */

typedef struct tensor_desc {
    const char *name, *datatype;
    int rank;
    long long shape[4];
} tensor_desc;

static const tensor_desc INPUTS[] = {
    {"image_bytes", "BYTES", 1, {-1}},
    {"input_tensor", "UINT8", 4, {-1, -1, -1, 3}},
};

/*
 * The outputs of predict.c (TF OD API names plus ours), as V2 tensors. Two
 * groups of detection rows have the same columns: detection_* (D rows, the
 * most detections of any image) and illustrated_* (I rows: 1 when any image
 * of the request is a drawing, else 0); k = top_k species per row.
 */
enum {
    O_BOXES, O_CLASSES, O_SCORES, O_NUM, O_DSCORES, O_LABELS, O_SP, O_SPC, O_SPS, O_SPI,
    O_SIZE, O_CONF, O_RULES, O_WHOLE, O_ILLUS, O_PAGE,
    O_I_BOXES, O_I_CLASSES, O_I_SCORES, O_I_DSCORES, O_I_LABELS, O_I_CONF, O_I_RULES,
    O_I_WHOLE, O_I_SP, O_I_SPC, O_I_SPS, O_I_SPI, N_OUT
};
static const tensor_desc OUTPUTS[N_OUT] = {
    {"detection_boxes", "FP32", 3, {-1, -1, 4}},
    {"detection_classes", "FP32", 2, {-1, -1}},
    {"detection_scores", "FP32", 2, {-1, -1}},
    {"num_detections", "FP32", 1, {-1}},
    {"detection_detector_scores", "FP32", 2, {-1, -1}},
    {"detection_labels", "BYTES", 2, {-1, -1}},
    {"detection_species", "BYTES", 3, {-1, -1, -1}},
    {"detection_species_common", "BYTES", 3, {-1, -1, -1}},
    {"detection_species_scores", "FP32", 3, {-1, -1, -1}},
    {"detection_species_classes", "FP32", 3, {-1, -1, -1}},
    {"image_size", "INT32", 2, {-1, 2}},
    {"detection_confidences", "FP32", 2, {-1, -1}},
    {"detection_rules", "BYTES", 2, {-1, -1}},
    {"detection_whole_image_by", "BYTES", 2, {-1, -1}},
    {"illustration", "BOOL", 1, {-1}},
    {"illustration_page", "FP32", 2, {-1, 2}},
    {"illustrated_boxes", "FP32", 3, {-1, -1, 4}},
    {"illustrated_classes", "FP32", 2, {-1, -1}},
    {"illustrated_scores", "FP32", 2, {-1, -1}},
    {"illustrated_detector_scores", "FP32", 2, {-1, -1}},
    {"illustrated_labels", "BYTES", 2, {-1, -1}},
    {"illustrated_confidences", "FP32", 2, {-1, -1}},
    {"illustrated_rules", "BYTES", 2, {-1, -1}},
    {"illustrated_whole_image_by", "BYTES", 2, {-1, -1}},
    {"illustrated_species", "BYTES", 3, {-1, -1, -1}},
    {"illustrated_species_common", "BYTES", 3, {-1, -1, -1}},
    {"illustrated_species_scores", "FP32", 3, {-1, -1, -1}},
    {"illustrated_species_classes", "FP32", 3, {-1, -1, -1}},
};

/* The columns of one group of detection rows, and their outputs per group. */
enum { C_BOXES, C_CLASSES, C_SCORES, C_DSCORES, C_LABELS, C_CONF, C_RULES, C_WHOLE, C_SP, C_SPC,
       C_SPS, C_SPI, N_COL };
static const int GROUP_OUT[2][N_COL] = {
    {O_BOXES, O_CLASSES, O_SCORES, O_DSCORES, O_LABELS, O_CONF, O_RULES, O_WHOLE, O_SP, O_SPC,
     O_SPS, O_SPI},
    {O_I_BOXES, O_I_CLASSES, O_I_SCORES, O_I_DSCORES, O_I_LABELS, O_I_CONF, O_I_RULES, O_I_WHOLE,
     O_I_SP, O_I_SPC, O_I_SPS, O_I_SPI},
};

static json_t *shape_json(const long long *dims, int rank)
{
    json_t *a = json_array();
    for (int i = 0; a && i < rank; i++)
        if (json_array_append_new(a, json_integer(dims[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *descs_json(const tensor_desc *d, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_pack("{s:s, s:s, s:o*}", "name", d[i].name,
                                               "datatype", d[i].datatype, "shape",
                                               shape_json(d[i].shape, d[i].rank)))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* Versions AVAILABLE (newest first), from the TF status list. */
static json_t *available_versions(av_serving__model *md, long long version)
{
    int http;
    char msg[256];
    json_t *st = av_serving__status_json(&md->models, version, &http, msg, sizeof msg);
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(st, "model_version_status"), i, e)
    {
        if (out && !strcmp(json_string_value(json_object_get(e, "state")) ? json_string_value(json_object_get(e, "state")) : "", "AVAILABLE"))
            json_array_append(out, json_object_get(e, "version"));
    }
    json_decref(st);
    return out;
}

static unsigned not_found(json_t **answer, const char *name, long long version)
{
    char v[32];
    snprintf(v, sizeof v, "%lld", version);
    if (version > 0)
        return err(answer, 404, "Model %s version %s is not found or not ready", name, v);
    return err(answer, 404, "Model %s is not found or has no ready version%s", name, "");
}

static unsigned model_metadata(av_serving__model *md, long long version, json_t **answer)
{
    av_serving__version *v = av_serving__acquire(&md->models, version);
    if (!v)
        return not_found(answer, md->models.name, version);
    av_serving__release(&md->models, v);
    json_t *vers = available_versions(md, version);
    *answer = json_pack("{s:s, s:o*, s:s, s:o*, s:o*}", "name", md->models.name, "versions",
                        vers, "platform", "aviary_detect_species", "inputs",
                        descs_json(INPUTS, 2), "outputs", descs_json(OUTPUTS, N_OUT));
    return *answer ? 200 : err(answer, 500, "out of memory%s%s", 0, 0);
}

/* ------------------------------------------------------------ request */

typedef struct images {
    av_detect_image im[AV_SERVING_MAX_INSTANCES];
    unsigned char *owned[AV_SERVING_MAX_INSTANCES]; /* decoded base64 */
    unsigned char *pixels;                          /* the UINT8 tensor */
    int n;
} images;

static void images_free(images *b)
{
    for (int i = 0; i < b->n; i++)
        free(b->owned[i]);
    free(b->pixels);
}

/* Leaves of a nested data array (counting stops past limit). */
static long long count_leaves(const json_t *a, int depth, long long limit)
{
    if (!json_is_array(a))
        return 1;
    if (depth >= MAX_DEPTH)
        return -1;
    long long n = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(a, i, e)
    {
        long long k = count_leaves(e, depth + 1, limit - n);
        if (k < 0)
            return -1;
        n += k;
        if (n > limit)
            return n;
    }
    return n;
}

/* Copy the leaves of a (nested) data array into out as uint8; -1 on a
 * value that is not an integer 0..255. */
static int fill_u8(const json_t *a, unsigned char *out, size_t *at)
{
    if (!json_is_array(a)) {
        json_int_t k = json_is_integer(a) ? json_integer_value(a) : -1;
        if (k < 0 || k > 255)
            return -1;
        out[(*at)++] = (unsigned char)k;
        return 0;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(a, i, e)
    if (fill_u8(e, out, at))
        return -1;
    return 0;
}

/* Flatten the BYTES leaves (strings) in order; -1 on a non-string. */
static int collect_strings(const json_t *a, const json_t **out, int cap, int *n, int depth)
{
    if (json_is_string(a)) {
        if (*n >= cap)
            return -1;
        out[(*n)++] = a;
        return 0;
    }
    if (!json_is_array(a) || depth >= MAX_DEPTH)
        return -1;
    size_t i;
    const json_t *e;
    json_array_foreach(a, i, e)
    if (collect_strings(e, out, cap, n, depth + 1))
        return -1;
    return 0;
}

/* The input's shape as numbers (each >= 0); -1 when malformed. */
static int read_shape(const json_t *sh, long long *dims, int cap)
{
    if (!json_is_array(sh) || json_array_size(sh) == 0 || json_array_size(sh) > (size_t)cap)
        return -1;
    for (size_t i = 0; i < json_array_size(sh); i++) {
        const json_t *d = json_array_get(sh, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0 ||
            json_integer_value(d) > 1000000000)
            return -1;
        dims[i] = json_integer_value(d);
    }
    return (int)json_array_size(sh);
}

static unsigned parse_bytes(const json_t *data, const long long *dims, int rank, images *b,
                            json_t **answer)
{
    if (rank != 1)
        return err(answer, 400, "input of datatype BYTES must have shape [N] (N images)%s%s", 0,
                   0);
    if (dims[0] < 1 || dims[0] > AV_SERVING_MAX_INSTANCES) {
        char n[16];
        snprintf(n, sizeof n, "%d", AV_SERVING_MAX_INSTANCES);
        return err(answer, 400, "shape [N]: N must be 1 to %s images%s", n, "");
    }
    const json_t *s[AV_SERVING_MAX_INSTANCES];
    int n = 0;
    if (collect_strings(data, s, AV_SERVING_MAX_INSTANCES, &n, 0) || n != dims[0])
        return err(answer, 400,
                   "input data must hold as many base64 strings as its shape says%s%s", 0, 0);
    for (int i = 0; i < n; i++) {
        size_t len;
        if (av_serving_b64_decode(json_string_value(s[i]), json_string_length(s[i]),
                                  &b->owned[i], &len)) {
            b->n = i;
            return err(answer, 400, "Unable to base64 decode an image of the BYTES input%s%s", 0,
                       0);
        }
        b->im[i] = (av_detect_image){.bytes = b->owned[i], .len = len};
    }
    b->n = n;
    return 0;
}

static unsigned parse_uint8(const av_serving *s, const json_t *data, const long long *dims,
                            int rank, images *b, json_t **answer)
{
    if ((rank != 3 && rank != 4) || dims[rank - 1] != 3)
        return err(answer, 400, "input of datatype UINT8 must have shape [N,H,W,3] or "
                                "[H,W,3]%s%s",
                   0, 0);
    long long n = rank == 4 ? dims[0] : 1, h = dims[rank - 3], w = dims[rank - 2];
    if (n < 1 || n > AV_SERVING_MAX_INSTANCES || h < 1 || w < 1 || h > 65535 || w > 65535 ||
        h * w > s->max_pixels) {
        char d[96];
        snprintf(d, sizeof d, "%lld x %lld x %lld", n, h, w);
        return err(answer, 400, "shape %s: at most 64 images within the pixel limit%s", d, "");
    }
    long long total = n * h * w * 3;
    if (count_leaves(data, 0, total) != total)
        return err(answer, 400, "input data does not hold as many values as its shape "
                                "says%s%s",
                   0, 0);
    b->pixels = malloc((size_t)total);
    if (!b->pixels)
        return err(answer, 500, "out of memory%s%s", 0, 0);
    size_t at = 0;
    if (fill_u8(data, b->pixels, &at))
        return err(answer, 400, "UINT8 input data holds a value that is not an integer "
                                "0..255%s%s",
                   0, 0);
    for (long long i = 0; i < n; i++)
        b->im[i] = (av_detect_image){.rgb = b->pixels + i * h * w * 3, .width = (int)w,
                                     .height = (int)h};
    b->n = (int)n;
    return 0;
}

/* ------------------------------------------------------------ outputs */

typedef struct col {
    json_t *data;
    long long shape[3];
    int rank;
} col;

/* Appends `rows` rows of one group for an image whose first n rows are
 * dets (the rest padding: zeros, "" and class -1) to the group's columns of
 * c. 0, or 1 out of memory. */
static int group_rows(const av_serving *s, const av_detect_result *r, const av_detect_det *dets,
                      int n, int rows, const int *out, col *c)
{
    double w = r->width > 0 ? r->width : 1, h = r->height > 0 ? r->height : 1;
    int oom = 0;
    for (int k = 0; !oom && k < rows; k++) {
        const av_detect_det *d = k < n ? &dets[k] : NULL;
        int cls = d ? av_serving__class_id(d, s->tracked, s->n_tracked) : 0;
        double box[4] = {d ? d->y1 / h : 0, d ? d->x1 / w : 0, d ? d->y2 / h : 0,
                         d ? d->x2 / w : 0};
        for (int j = 0; j < 4; j++)
            oom |= json_array_append_new(c[out[C_BOXES]].data, json_real(box[j]));
        oom |= json_array_append_new(c[out[C_CLASSES]].data, json_real(cls));
        oom |= json_array_append_new(
            c[out[C_SCORES]].data,
            json_real(d ? av_serving__det_score(d, cls, s->tracked, s->n_tracked) : 0));
        oom |= json_array_append_new(c[out[C_DSCORES]].data, json_real(d ? d->det_score : 0));
        oom |= json_array_append_new(c[out[C_LABELS]].data, json_string(d ? d->label : ""));
        oom |= json_array_append_new(c[out[C_CONF]].data, json_real(d ? d->confidence : 0));
        oom |= json_array_append_new(c[out[C_RULES]].data,
                                     json_string(d ? av_detect_rule_name(d->rule) : ""));
        av_detect_whole_by by = d && d->whole_image ? d->whole_by : AV_DETECT_WHOLE_NONE;
        oom |= json_array_append_new(c[out[C_WHOLE]].data,
                                     json_string(d ? av_detect_whole_by_name(by) : ""));
        for (int j = 0; j < s->top_k; j++) {
            const av_detect_species *q = d && j < d->n_species ? &d->species[j] : NULL;
            oom |= json_array_append_new(c[out[C_SP]].data, json_string(q ? q->scientific : ""));
            oom |= json_array_append_new(c[out[C_SPC]].data, json_string(q ? q->common : ""));
            oom |= json_array_append_new(c[out[C_SPS]].data, json_real(q ? q->score : 0));
            oom |= json_array_append_new(c[out[C_SPI]].data, json_real(q ? q->class_index : -1));
        }
    }
    return oom;
}

static unsigned build_outputs(const av_serving *s, const av_detect_result *res, int n,
                              const int *want, json_t *outs)
{
    int rows[2] = {0, 0}; /* D and I */
    for (int i = 0; i < n; i++) {
        rows[0] = res[i].n_dets > rows[0] ? res[i].n_dets : rows[0];
        rows[1] |= res[i].illustration != 0;
    }
    col c[N_OUT];
    int oom = 0;
    for (int o = 0; o < N_OUT; o++) {
        c[o].data = json_array();
        oom |= !c[o].data;
        c[o].rank = OUTPUTS[o].rank;
        c[o].shape[0] = n;
        c[o].shape[1] = OUTPUTS[o].shape[1]; /* 2 for image_size and illustration_page */
    }
    for (int g = 0; g < 2; g++)
        for (int k = 0; k < N_COL; k++) {
            col *e = &c[GROUP_OUT[g][k]];
            e->shape[1] = rows[g];
            e->shape[2] = k == C_BOXES ? 4 : s->top_k;
        }
    for (int i = 0; !oom && i < n; i++) {
        const av_detect_result *r = &res[i];
        oom |= group_rows(s, r, r->dets, r->n_dets, rows[0], GROUP_OUT[0], c);
        oom |= group_rows(s, r, &r->illustrated, r->illustration ? 1 : 0, rows[1], GROUP_OUT[1],
                          c);
        oom |= json_array_append_new(c[O_NUM].data, json_real(r->n_dets));
        oom |= json_array_append_new(c[O_SIZE].data, json_integer(r->height));
        oom |= json_array_append_new(c[O_SIZE].data, json_integer(r->width));
        oom |= json_array_append_new(c[O_ILLUS].data, json_boolean(r->illustration));
        /* -1: not measured (the REST answer's []; a V2 tensor cannot be ragged) */
        oom |= json_array_append_new(c[O_PAGE].data,
                                     json_real(r->page_measured ? r->page_paper : -1));
        oom |= json_array_append_new(c[O_PAGE].data,
                                     json_real(r->page_measured ? r->page_border : -1));
    }
    for (int o = 0; o < N_OUT; o++) {
        if (!oom && want[o])
            oom |= json_array_append_new(outs, json_pack("{s:s, s:s, s:o*, s:O}", "name",
                                                         OUTPUTS[o].name, "datatype",
                                                         OUTPUTS[o].datatype, "shape",
                                                         shape_json(c[o].shape, c[o].rank),
                                                         "data", c[o].data));
        json_decref(c[o].data);
    }
    return oom ? 500 : 0;
}

/* Which outputs to answer: all, or those named in "outputs". */
static unsigned wanted(const json_t *req_outs, int *want, json_t **answer)
{
    for (int o = 0; o < N_OUT; o++)
        want[o] = req_outs == NULL;
    if (!req_outs)
        return 0;
    if (!json_is_array(req_outs))
        return err(answer, 400, "'outputs' must be an array of {\"name\": ...}%s%s", 0, 0);
    size_t i;
    const json_t *e;
    json_array_foreach(req_outs, i, e)
    {
        const char *nm = json_string_value(json_object_get(e, "name"));
        int found = 0;
        for (int o = 0; nm && o < N_OUT; o++)
            if (!strcmp(nm, OUTPUTS[o].name))
                want[o] = found = 1;
        if (!found)
            return err(answer, 400, "unknown output '%.200s' requested%s", nm ? nm : "(no name)",
                       "");
    }
    return 0;
}

static unsigned infer(av_serving *s, av_serving__model *md, long long version, const char *body,
                      size_t len, json_t **answer, int *images_run)
{
    av_serving__version *v = av_serving__acquire(&md->models, version);
    if (!v)
        return not_found(answer, md->models.name, version);
    json_error_t je;
    json_t *req = json_loadb(body, len, 0, &je);
    unsigned st = 0;
    images *b = calloc(1, sizeof *b);
    int want[N_OUT];
    const json_t *in = json_object_get(req, "inputs"), *id = json_object_get(req, "id");
    const json_t *in0 = json_array_get(in, 0);
    const char *dt = json_string_value(json_object_get(in0, "datatype"));
    long long dims[4];
    int rank = read_shape(json_object_get(in0, "shape"), dims, 4);
    if (!b)
        st = err(answer, 500, "out of memory%s%s", 0, 0);
    else if (!req) {
        char off[32];
        snprintf(off, sizeof off, "%d", je.position);
        st = err(answer, 400, "JSON parse error: %s at offset %s", je.text, off);
    } else if (!json_is_object(req))
        st = err(answer, 400, "the request must be a JSON object%s%s", 0, 0);
    else if (id && !json_is_string(id))
        st = err(answer, 400, "'id' must be a string%s%s", 0, 0);
    else if (!json_is_array(in) || json_array_size(in) != 1)
        st = err(answer, 400, "'inputs' must be an array of exactly one input tensor "
                              "(image_bytes or input_tensor)%s%s",
                 0, 0);
    else if (!json_is_string(json_object_get(in0, "name")) || !dt || rank < 0 ||
             !json_object_get(in0, "data"))
        st = err(answer, 400, "the input tensor needs name, datatype, shape (non-negative "
                              "integers) and data%s%s",
                 0, 0);
    else if (!strcmp(dt, "BYTES"))
        st = parse_bytes(json_object_get(in0, "data"), dims, rank, b, answer);
    else if (!strcmp(dt, "UINT8"))
        st = parse_uint8(s, json_object_get(in0, "data"), dims, rank, b, answer);
    else
        st = err(answer, 400, "input datatype %.40s is not supported: use BYTES (base64 "
                              "encoded images) or UINT8 [N,H,W,3]%s",
                 dt, "");
    if (!st)
        st = wanted(json_object_get(req, "outputs"), want, answer);
    av_detect_result res[AV_SERVING_MAX_INSTANCES];
    av_detect_status dst[AV_SERVING_MAX_INSTANCES];
    char *msgs = NULL;
    if (!st) {
        msgs = malloc((size_t)b->n * 512);
        if (!msgs)
            st = err(answer, 500, "out of memory%s%s", 0, 0);
    }
    if (!st) {
        av_detect_run_opts ro = {.top_k = s->top_k, .max_bytes = s->max_upload_bytes,
                                 .max_pixels = s->max_pixels};
        av_detect_status ds =
            av_detect_run_batch(v->pipe, b->n, b->im, &ro, res, dst, msgs, 512, NULL);
        if (ds != AV_DETECT_OK) {
            int bad = 0;
            while (bad < b->n && dst[bad] == AV_DETECT_OK)
                bad++;
            for (int i = 0; i < b->n; i++)
                if (dst[i] == AV_DETECT_OK)
                    av_detect_result_free(&res[i]);
            unsigned code = ds == AV_DETECT_E_IMAGE || ds == AV_DETECT_E_LIMIT ||
                                    ds == AV_DETECT_E_ARG
                                ? 400
                                : 500;
            char which[32];
            snprintf(which, sizeof which, "%d", bad);
            st = err(answer, code, "image %s: %.400s", which, bad < b->n ? msgs + bad * 512 : "");
        } else {
            char ver[32];
            snprintf(ver, sizeof ver, "%lld", v->number);
            json_t *outs = json_array();
            *answer = json_pack("{s:s, s:s}", "model_name", md->models.name, "model_version",
                                ver);
            if (*answer && id)
                json_object_set(*answer, "id", (json_t *)id);
            if (!outs || !*answer || build_outputs(s, res, b->n, want, outs) ||
                json_object_set_new(*answer, "outputs", outs)) {
                json_decref(*answer);
                st = err(answer, 500, "out of memory%s%s", 0, 0);
            } else {
                st = 200;
                *images_run = b->n;
            }
            for (int i = 0; i < b->n; i++)
                av_detect_result_free(&res[i]);
        }
    }
    free(msgs);
    if (b) {
        images_free(b);
        free(b);
    }
    json_decref(req);
    av_serving__release(&md->models, v);
    return st;
}

/* ------------------------------------------------------------ routing */

static int all_ready(av_serving *s)
{
    for (int i = 0; i < s->n_models; i++)
        if (av_serving_live_version_of(s, s->model[i].models.name) <= 0)
            return 0;
    return s->n_models > 0;
}

unsigned av_serving__kserve(av_serving *s, const char *method, const char *url,
                            const char *body, size_t len, int binary_ext, json_t **answer,
                            int *images)
{
    *answer = NULL;
    *images = 0;
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/v2") || !strcmp(url, "/v2/")) {
        if (!get)
            return err(answer, 405, "method %.16s not allowed on /v2%s", method, "");
        *answer = json_pack("{s:s, s:s, s:[]}", "name", "aviary", "version", AV_VERSION,
                            "extensions");
        return *answer ? 200 : err(answer, 500, "out of memory%s%s", 0, 0);
    }
    if (!strcmp(url, "/v2/health/live") || !strcmp(url, "/v2/health/ready")) {
        if (!get)
            return err(answer, 405, "method %.16s not allowed on %s", method, url);
        int live = url[11] == 'l', ok = live || all_ready(s);
        *answer = json_pack("{s:b}", live ? "live" : "ready", ok);
        return ok ? 200 : 400;
    }
    const char *p = url + 3;
    if (strncmp(p, "/models/", 8) != 0)
        return err(answer, 404, "no such endpoint: %.200s%s", url, "");
    p += 8;
    size_t nl = strcspn(p, "/");
    char name[256];
    if (nl == 0 || nl >= sizeof name)
        return err(answer, 404, "no such endpoint: %.200s%s", url, "");
    memcpy(name, p, nl);
    name[nl] = '\0';
    p += nl;
    long long version = 0;
    if (!strncmp(p, "/versions/", 10)) {
        p += 10;
        size_t dl = strspn(p, "0123456789");
        if (dl == 0 || dl > 18)
            return err(answer, 400, "version must be a positive number: %.200s%s", url, "");
        version = strtoll(p, NULL, 10);
        p += dl;
    }
    av_serving__model *md = av_serving__find(s, name);
    if (!*p || !strcmp(p, "/ready")) {
        if (!get)
            return err(answer, 405, "method %.16s not allowed on %.200s", method, url);
        if (!md)
            return not_found(answer, name, version);
        if (!*p)
            return model_metadata(md, version, answer);
        av_serving__version *v = av_serving__acquire(&md->models, version);
        if (v)
            av_serving__release(&md->models, v);
        *answer = json_pack("{s:s, s:b}", "name", name, "ready", v != NULL);
        return v ? 200 : 400;
    }
    if (strcmp(p, "/infer"))
        return err(answer, 404, "no such endpoint: %.200s%s", url, "");
    if (!post)
        return err(answer, 405, "method %.16s not allowed on %.200s", method, url);
    if (!md)
        return not_found(answer, name, version);
    if (binary_ext)
        return err(answer, 400, "the binary data extension (Inference-Header-Content-Length) "
                                "is not supported: send JSON with base64 BYTES%s%s",
                   0, 0);
    return infer(s, md, version, body, len, answer, images);
}
