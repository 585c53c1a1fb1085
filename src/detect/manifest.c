/*
 * manifest.c - parse and validate model manifests (format: manifest.h) with
 * jansson. Every field is checked; errors name the file and the field path
 * ("models/nanodet.json: input.layout: 'NHWD' is not NHWC or NCHW").
 */
#include "detect/manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST_MAX_BYTES (1 << 20)
#define LABELS_MAX_BYTES (4 << 20)
#define MAX_INPUT_SIDE 8192
#define MAX_CLASS_LIST 1024

typedef struct parser {
    const char *origin;
    char *err;
    size_t errlen;
} parser;

static av_detect_status fail(parser *ps, av_detect_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static av_detect_status fail(parser *ps, av_detect_status st, const char *fmt, ...)
{
    if (ps->err && ps->errlen) {
        int n = snprintf(ps->err, ps->errlen, "%s: ", ps->origin);
        if (n < 0 || (size_t)n >= ps->errlen)
            return st;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return st;
}

#define BAD(ps, ...) fail((ps), AV_DETECT_E_MANIFEST, __VA_ARGS__)

av_detect_status av_detect__read_file(const char *path, size_t max, char **out, size_t *len,
                                      char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err)
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return AV_DETECT_E_IO;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    av_detect_status st = AV_DETECT_OK;
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                if (err)
                    snprintf(err, errlen, "%s: larger than the %zu-byte limit", path, max);
                st = AV_DETECT_E_LIMIT;
                break;
            }
            size_t ncap = cap ? cap * 2 : 65536;
            if (ncap > max + 1)
                ncap = max + 1;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                if (err)
                    snprintf(err, errlen, "%s: out of memory reading file", path);
                st = AV_DETECT_E_NOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                if (err)
                    snprintf(err, errlen, "%s: read error", path);
                st = AV_DETECT_E_IO;
            }
            break;
        }
    }
    fclose(f);
    if (st == AV_DETECT_OK && n > max) {
        if (err)
            snprintf(err, errlen, "%s: larger than the %zu-byte limit", path, max);
        st = AV_DETECT_E_LIMIT;
    }
    if (st != AV_DETECT_OK) {
        free(buf);
        return st;
    }
    if (!buf) {
        buf = malloc(1);
        if (!buf) {
            if (err)
                snprintf(err, errlen, "%s: out of memory", path);
            return AV_DETECT_E_NOMEM;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return AV_DETECT_OK;
}

void av_detect__labels_free(char **labels, int n)
{
    if (!labels)
        return;
    for (int i = 0; i < n; i++)
        free(labels[i]);
    free(labels);
}

av_detect_status av_detect__labels_load(const char *path, char ***labels, int *n, char *err,
                                        size_t errlen)
{
    *labels = NULL;
    *n = 0;
    char *text;
    size_t len;
    av_detect_status st = av_detect__read_file(path, LABELS_MAX_BYTES, &text, &len, err, errlen);
    if (st)
        return st;
    /* Count lines first so the array is allocated once. */
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    if (len && text[len - 1] != '\n')
        lines++;
    if (lines > AV_DETECT__MAX_LABELS) {
        free(text);
        if (err)
            snprintf(err, errlen, "%s: %zu lines, more than the %d-label limit", path, lines,
                     AV_DETECT__MAX_LABELS);
        return AV_DETECT_E_LIMIT;
    }
    char **arr = calloc(lines ? lines : 1, sizeof *arr);
    if (!arr) {
        free(text);
        if (err)
            snprintf(err, errlen, "%s: out of memory", path);
        return AV_DETECT_E_NOMEM;
    }
    int count = 0, last_nonblank = 0;
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        char *le = e;
        if (le > p && le[-1] == '\r')
            le--;
        size_t l = (size_t)(le - p);
        arr[count] = malloc(l + 1);
        if (!arr[count]) {
            av_detect__labels_free(arr, count);
            free(text);
            if (err)
                snprintf(err, errlen, "%s: out of memory", path);
            return AV_DETECT_E_NOMEM;
        }
        memcpy(arr[count], p, l);
        arr[count][l] = '\0';
        count++;
        if (l)
            last_nonblank = count;
        p = nl ? nl + 1 : end;
    }
    free(text);
    for (int i = last_nonblank; i < count; i++)
        free(arr[i]);
    count = last_nonblank;
    if (count == 0) {
        free(arr);
        if (err)
            snprintf(err, errlen, "%s: no labels", path);
        return AV_DETECT_E_MANIFEST;
    }
    *labels = arr;
    *n = count;
    return AV_DETECT_OK;
}

/* ---- field helpers: each names the field path in its error ---- */

static av_detect_status get_str(parser *ps, json_t *obj, const char *where, const char *key,
                                int required, char *dst, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return BAD(ps, "%s%s: missing (a string)", where, key);
        dst[0] = '\0';
        return AV_DETECT_OK;
    }
    if (!json_is_string(v))
        return BAD(ps, "%s%s: must be a string", where, key);
    const char *s = json_string_value(v);
    size_t l = strlen(s);
    if (l >= cap)
        return BAD(ps, "%s%s: longer than %zu characters", where, key, cap - 1);
    if (required && l == 0)
        return BAD(ps, "%s%s: empty", where, key);
    memcpy(dst, s, l + 1);
    return AV_DETECT_OK;
}

static av_detect_status get_num(parser *ps, json_t *obj, const char *where, const char *key,
                                int required, double def, double lo, double hi, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return BAD(ps, "%s%s: missing (a number)", where, key);
        *out = def;
        return AV_DETECT_OK;
    }
    if (!json_is_number(v))
        return BAD(ps, "%s%s: must be a number", where, key);
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi))
        return BAD(ps, "%s%s: %g is outside [%g, %g]", where, key, d, lo, hi);
    *out = d;
    return AV_DETECT_OK;
}

static av_detect_status get_int(parser *ps, json_t *obj, const char *where, const char *key,
                                int required, int def, int lo, int hi, int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return BAD(ps, "%s%s: missing (an integer)", where, key);
        *out = def;
        return AV_DETECT_OK;
    }
    if (!json_is_integer(v))
        return BAD(ps, "%s%s: must be an integer", where, key);
    json_int_t i = json_integer_value(v);
    if (i < lo || i > hi)
        return BAD(ps, "%s%s: %lld is outside [%d, %d]", where, key, (long long)i, lo, hi);
    *out = (int)i;
    return AV_DETECT_OK;
}

/* Match s against names[]; returns the index or fails listing the choices. */
static av_detect_status get_enum(parser *ps, json_t *obj, const char *where, const char *key,
                                 int required, int def, const char *const *names, int *out)
{
    char s[32];
    av_detect_status st = get_str(ps, obj, where, key, required, s, sizeof s);
    if (st)
        return st;
    if (!s[0]) {
        *out = def;
        return AV_DETECT_OK;
    }
    char choices[160] = "";
    for (int i = 0; names[i]; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return AV_DETECT_OK;
        }
        size_t l = strlen(choices);
        snprintf(choices + l, sizeof choices - l, "%s%s", i ? ", " : "", names[i]);
    }
    return BAD(ps, "%s%s: '%s' is not one of %s", where, key, s, choices);
}

static json_t *get_obj(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_object(v) ? v : NULL;
}

static av_detect_status get_vec3(parser *ps, json_t *obj, const char *where, const char *key,
                                 float *out, int positive)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_array(v) || json_array_size(v) != 3)
        return BAD(ps, "%s%s: must be an array of 3 numbers", where, key);
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_number(e))
            return BAD(ps, "%s%s[%zu]: must be a number", where, key, i);
        double d = json_number_value(e);
        if (!(d > -1e6 && d < 1e6) || (positive && !(d > 0)))
            return BAD(ps, "%s%s[%zu]: %g out of range%s", where, key, i, d,
                       positive ? " (must be > 0)" : "");
        out[i] = (float)d;
    }
    return AV_DETECT_OK;
}

static av_detect_status get_class_list(parser *ps, json_t *obj, const char *where,
                                       const char *key, int n_labels, int **out, int *n)
{
    *out = NULL;
    *n = 0;
    json_t *v = json_object_get(obj, key);
    if (!v)
        return AV_DETECT_OK;
    if (!json_is_array(v) || json_array_size(v) > MAX_CLASS_LIST)
        return BAD(ps, "%s%s: must be an array of at most %d class indices", where, key,
                   MAX_CLASS_LIST);
    size_t cnt = json_array_size(v);
    if (cnt == 0)
        return AV_DETECT_OK;
    int *arr = malloc(cnt * sizeof *arr);
    if (!arr)
        return fail(ps, AV_DETECT_E_NOMEM, "%s%s: out of memory", where, key);
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 ||
            json_integer_value(e) >= n_labels) {
            free(arr);
            return BAD(ps, "%s%s[%zu]: must be a class index in [0, %d)", where, key, i,
                       n_labels);
        }
        arr[i] = (int)json_integer_value(e);
    }
    *out = arr;
    *n = (int)cnt;
    return AV_DETECT_OK;
}

static av_detect_status resolve(parser *ps, const char *base_dir, const char *rel,
                                const char *field, char *dst, size_t cap)
{
    if (strstr(rel, "..") || rel[0] == '/')
        return BAD(ps, "%s: '%s' must be a relative path inside the models folder", field, rel);
    int n = (base_dir && base_dir[0]) ? snprintf(dst, cap, "%s/%s", base_dir, rel)
                                      : snprintf(dst, cap, "%s", rel);
    if (n < 0 || (size_t)n >= cap)
        return BAD(ps, "%s: path too long", field);
    return AV_DETECT_OK;
}

static av_detect_status parse_input(parser *ps, json_t *root, av_detect__manifest *m)
{
    static const char *const layouts[] = {"NHWC", "NCHW", NULL};
    static const char *const colours[] = {"RGB", "BGR", NULL};
    static const char *const resizes[] = {"stretch", "letterbox", NULL};
    static const char *const filters[] = {"tf_bilinear", "area", NULL};
    json_t *in = get_obj(root, "input");
    if (!in)
        return BAD(ps, "input: missing (an object)");
    av_detect_status st;
    int e;
    if ((st = get_str(ps, in, "input.", "name", 0, m->input_name, sizeof m->input_name)) ||
        (st = get_int(ps, in, "input.", "width", 1, 0, 1, MAX_INPUT_SIDE, &m->in_w)) ||
        (st = get_int(ps, in, "input.", "height", 1, 0, 1, MAX_INPUT_SIDE, &m->in_h)))
        return st;
    if ((st = get_enum(ps, in, "input.", "layout", 1, 0, layouts, &e)))
        return st;
    m->layout = (av_detect__layout)e;
    if ((st = get_enum(ps, in, "input.", "colour", 0, 0, colours, &e)))
        return st;
    m->bgr = e;
    if ((st = get_enum(ps, in, "input.", "resize", 1, 0, resizes, &e)))
        return st;
    m->resize = (av_detect__resize)e;
    if ((st = get_enum(ps, in, "input.", "filter", 1, 0, filters, &e)))
        return st;
    m->filter = (av_detect__filter)e;

    /* normalise: "0..255" | "0..1" | "-1..1" | {"mean":[3], "std":[3]} */
    json_t *nv = json_object_get(in, "normalise");
    if (json_is_string(nv)) {
        const char *s = json_string_value(nv);
        float mean, sd;
        if (!strcmp(s, "0..255"))
            mean = 0.0f, sd = 1.0f;
        else if (!strcmp(s, "0..1"))
            mean = 0.0f, sd = 255.0f;
        else if (!strcmp(s, "-1..1"))
            mean = 127.5f, sd = 127.5f;
        else
            return BAD(ps, "input.normalise: '%s' is not 0..255, 0..1, -1..1 or {mean, std}", s);
        for (int c = 0; c < 3; c++)
            m->mean[c] = mean, m->std[c] = sd;
    } else if (json_is_object(nv)) {
        if ((st = get_vec3(ps, nv, "input.normalise.", "mean", m->mean, 0)) ||
            (st = get_vec3(ps, nv, "input.normalise.", "std", m->std, 1)))
            return st;
    } else {
        return BAD(ps, "input.normalise: missing (\"0..255\", \"0..1\", \"-1..1\" or "
                       "{\"mean\": [3], \"std\": [3]})");
    }
    return AV_DETECT_OK;
}

static av_detect_status parse_labels(parser *ps, json_t *root, const char *base_dir,
                                     av_detect__manifest *m)
{
    json_t *lv = json_object_get(root, "labels");
    av_detect_status st;
    m->background = -1;
    if (json_is_array(lv)) {
        size_t n = json_array_size(lv);
        if (n == 0 || n > AV_DETECT__MAX_LABELS)
            return BAD(ps, "labels: must hold 1..%d names", AV_DETECT__MAX_LABELS);
        m->labels = calloc(n, sizeof *m->labels);
        if (!m->labels)
            return fail(ps, AV_DETECT_E_NOMEM, "labels: out of memory");
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(lv, i);
            if (!json_is_string(e))
                return BAD(ps, "labels[%zu]: must be a string", i);
            m->labels[i] = strdup(json_string_value(e));
            if (!m->labels[i])
                return fail(ps, AV_DETECT_E_NOMEM, "labels: out of memory");
            m->n_labels = (int)i + 1;
        }
        return AV_DETECT_OK;
    }
    if (!json_is_object(lv))
        return BAD(ps, "labels: missing (an array of names or {\"file\": ...})");
    char rel[512], path[AV_DETECT__PATH_MAX], bg[128];
    if ((st = get_str(ps, lv, "labels.", "file", 1, rel, sizeof rel)) ||
        (st = resolve(ps, base_dir, rel, "labels.file", path, sizeof path)) ||
        (st = get_str(ps, lv, "labels.", "background", 0, bg, sizeof bg)))
        return st;
    char lerr[512];
    st = av_detect__labels_load(path, &m->labels, &m->n_labels, lerr, sizeof lerr);
    if (st)
        return fail(ps, st, "labels.file: %s", lerr);
    if (bg[0]) {
        for (int i = 0; i < m->n_labels; i++)
            if (strcmp(m->labels[i], bg) == 0) {
                m->background = i;
                break;
            }
        if (m->background < 0)
            return BAD(ps, "labels.background: '%s' is not a line of %s", bg, path);
    }
    return AV_DETECT_OK;
}

static av_detect_status parse_precision(parser *ps, json_t *root, const char *base_dir,
                                        av_detect__manifest *m)
{
    static const char *const precisions[] = {"float", "int8", NULL};
    int e;
    char rel[512];
    av_detect_status st = get_enum(ps, root, "", "precision", 0, 0, precisions, &e);
    if (st)
        return st;
    m->precision = (av_detect__precision)e;
    if ((st = get_str(ps, root, "", "calibration", 0, rel, sizeof rel)))
        return st;
    if (m->precision == AV_DETECT__FLOAT) {
        if (rel[0])
            return BAD(ps, "calibration: only read with \"precision\": \"int8\"");
        return AV_DETECT_OK;
    }
    if (!rel[0])
        snprintf(rel, sizeof rel, "%s.int8.calib", m->name);
    return resolve(ps, base_dir, rel, "calibration", m->calib_path, sizeof m->calib_path);
}

static av_detect_status parse_root(parser *ps, json_t *root, const char *base_dir,
                                   av_detect__manifest *m)
{
    static const char *const roles[] = {"detector", "classifier", NULL};
    static const char *const formats[] = {"tfjs", "tflite", "onnx", NULL};
    static const char *const kinds[] = {"centernet", "nanodet", "classifier", NULL};
    av_detect_status st;
    int e;
    char rel[512];
    if (!json_is_object(root))
        return BAD(ps, "top level must be a JSON object");
    if ((st = get_str(ps, root, "", "name", 1, m->name, sizeof m->name)) ||
        (st = get_str(ps, root, "", "version", 1, m->version, sizeof m->version)))
        return st;
    if ((st = get_enum(ps, root, "", "role", 1, 0, roles, &e)))
        return st;
    m->role = (av_detect__role)e;
    if ((st = get_str(ps, root, "", "file", 1, rel, sizeof rel)) ||
        (st = resolve(ps, base_dir, rel, "file", m->path, sizeof m->path)))
        return st;
    if ((st = get_enum(ps, root, "", "format", 1, 0, formats, &e)))
        return st;
    snprintf(m->format, sizeof m->format, "%s", formats[e]);
    if ((st = parse_precision(ps, root, base_dir, m)) || (st = parse_input(ps, root, m)))
        return st;

    json_t *out = get_obj(root, "output");
    if (!out)
        return BAD(ps, "output: missing (an object)");
    if ((st = get_enum(ps, out, "output.", "kind", 1, 0, kinds, &e)))
        return st;
    m->kind = (av_detect__kind)e;
    if ((m->kind == AV_DETECT__CLASSIFY) != (m->role == AV_DETECT__CLASSIFIER))
        return BAD(ps, "output.kind: '%s' does not fit role '%s'", kinds[m->kind],
                   roles[m->role]);
    if ((st = get_str(ps, out, "output.", "tensor", m->kind == AV_DETECT__CENTERNET,
                      m->output_name, sizeof m->output_name)))
        return st;
    json_t *sm = json_object_get(out, "softmax");
    if (sm && !json_is_boolean(sm))
        return BAD(ps, "output.softmax: must be true or false");
    m->softmax = json_is_true(sm);
    if (m->kind == AV_DETECT__NANODET) {
        if ((st = get_num(ps, out, "output.", "box_scale", 0, 2.5, 0.01, 100.0, &m->box_scale)) ||
            (st = get_int(ps, out, "output.", "base_grid", 0, 13, 1, 1024, &m->base_grid)))
            return st;
    }

    if ((st = parse_labels(ps, root, base_dir, m)))
        return st;
    json_t *th = get_obj(root, "thresholds");
    if (!th && json_object_get(root, "thresholds"))
        return BAD(ps, "thresholds: must be an object");
    json_t *empty = NULL;
    if (!th)
        th = empty = json_object();
    if (!th)
        return fail(ps, AV_DETECT_E_NOMEM, "out of memory");
    st = get_num(ps, th, "thresholds.", "min_score", 0, 0.2, 0.0, 1.0, &m->min_score);
    if (!st)
        st = get_num(ps, th, "thresholds.", "nms_iou", 0, 0.4, 0.0, 1.0, &m->nms_iou);
    if (!st)
        st = get_int(ps, th, "thresholds.", "max_detections", 0, 10, 1, 1000, &m->max_dets);
    json_decref(empty);
    if (st)
        return st;

    json_t *cl = json_object_get(root, "classes");
    if (cl && !json_is_object(cl))
        return BAD(ps, "classes: must be an object");
    if (cl) {
        if ((st = get_class_list(ps, cl, "classes.", "keep", m->n_labels, &m->keep, &m->n_keep)) ||
            (st = get_class_list(ps, cl, "classes.", "skip", m->n_labels, &m->skip, &m->n_skip)))
            return st;
    }
    if (m->role == AV_DETECT__DETECTOR && m->n_keep == 0)
        return BAD(ps, "classes.keep: a detector needs at least one kept class (COCO bird = 14)");

    json_t *hd = json_object_get(root, "head");
    if (hd) {
        char rel[512];
        if (!json_is_object(hd) || m->role != AV_DETECT__CLASSIFIER)
            return BAD(ps, "head: must be an object, on a classifier");
        if ((st = get_str(ps, hd, "head.", "file", 1, rel, sizeof rel)) ||
            (st = resolve(ps, base_dir, rel, "head.file", m->head_path, sizeof m->head_path)) ||
            (st = get_str(ps, hd, "head.", "features", 1, m->head_features,
                          sizeof m->head_features)) ||
            (st = get_str(ps, hd, "head.", "prior", 0, rel, sizeof rel)))
            return st;
        if (rel[0] && (st = resolve(ps, base_dir, rel, "head.prior", m->head_prior_path,
                                    sizeof m->head_prior_path)))
            return st;
    }
    m->baseline_confidence = -1.0;
    json_t *bl = json_object_get(root, "baseline");
    if (bl) {
        if (!json_is_object(bl))
            return BAD(ps, "baseline: must be an object");
        if ((st = get_num(ps, bl, "baseline.", "mean_confidence", 1, 0, 0.0, 1.0,
                          &m->baseline_confidence)))
            return st;
    }
    json_t *an = json_object_get(root, "answer");
    if (an && !json_is_object(an))
        return BAD(ps, "answer: must be an object");
    json_t *none = NULL;
    if (!an)
        an = none = json_object();
    if (!an)
        return fail(ps, AV_DETECT_E_NOMEM, "out of memory");
    st = get_num(ps, an, "answer.", "min_species", 0, AV_DETECT__ANSWER_MIN_SPECIES, 0.0, 1.0,
                 &m->answer_min_species);
    if (!st)
        st = get_num(ps, an, "answer.", "min_genus", 0, AV_DETECT__ANSWER_MIN_GENUS, 0.0, 1.0,
                     &m->answer_min_genus);
    if (!st)
        st = get_num(ps, an, "answer.", "drop_detector", 0, AV_DETECT__ANSWER_DROP_DETECTOR, 0.0,
                     1.0, &m->answer_drop_detector);
    if (!st)
        st = get_num(ps, an, "answer.", "extra_detector", 0, AV_DETECT__ANSWER_EXTRA_DETECTOR,
                     0.0, 1.0, &m->answer_extra_detector);
    if (!st)
        st = get_num(ps, an, "answer.", "whole_agree", 0, AV_DETECT__ANSWER_WHOLE_AGREE, 0.0, 1.0,
                     &m->answer_whole_agree);
    if (!st)
        st = get_num(ps, an, "answer.", "balance", 0, 0.0, 0.0, 2.0, &m->answer_balance);
    json_decref(none);
    return st;
}

av_detect_status av_detect__manifest_parse(const char *text, size_t len, const char *base_dir,
                                           const char *origin, av_detect__manifest *m,
                                           char *err, size_t errlen)
{
    parser ps = {origin ? origin : "manifest", err, errlen};
    memset(m, 0, sizeof *m);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return BAD(&ps, "line %d column %d: %s", je.line, je.column, je.text);
    av_detect_status st = parse_root(&ps, root, base_dir, m);
    json_decref(root);
    if (st)
        av_detect__manifest_free(m);
    return st;
}

av_detect_status av_detect__manifest_load(const char *path, av_detect__manifest *m, char *err,
                                          size_t errlen)
{
    memset(m, 0, sizeof *m);
    char *text;
    size_t len;
    av_detect_status st = av_detect__read_file(path, MANIFEST_MAX_BYTES, &text, &len, err, errlen);
    if (st)
        return st;
    char dir[AV_DETECT__PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) : 0;
    if (dl >= sizeof dir) {
        free(text);
        if (err)
            snprintf(err, errlen, "%s: path too long", path);
        return AV_DETECT_E_ARG;
    }
    memcpy(dir, path, dl);
    dir[dl] = '\0';
    st = av_detect__manifest_parse(text, len, dir, path, m, err, errlen);
    free(text);
    return st;
}

void av_detect__manifest_free(av_detect__manifest *m)
{
    if (!m)
        return;
    av_detect__labels_free(m->labels, m->n_labels);
    free(m->keep);
    free(m->skip);
    memset(m, 0, sizeof *m);
}

int av_detect__manifest_keeps(const av_detect__manifest *m, int c, int all_classes)
{
    for (int i = 0; i < m->n_skip; i++)
        if (m->skip[i] == c)
            return 0;
    if (all_classes)
        return 1;
    for (int i = 0; i < m->n_keep; i++)
        if (m->keep[i] == c)
            return 1;
    return 0;
}
