/*
 * tfjs_weights.c - the weight side of a TF.js graph model: weightsManifest
 * groups -> shard files (relative to the model folder) -> concatenated bytes
 * -> one byte range per weight, checked against what the shards hold, and
 * decoding of those bytes (float16 and uint8/uint16 affine dequantised to
 * f32 at load, as tfjs-converter does).
 */
#include "nn/load/tfjs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { Q_NONE = 0, Q_F16, Q_U8, Q_U16 };

void av_nn__tfjs_weights_free(av_nn__tfjs_weights *wt)
{
    if (!wt)
        return;
    for (int i = 0; i < wt->n_groups; i++)
        free(wt->group_bytes[i]);
    free(wt->group_bytes);
    free(wt->group_len);
    free(wt->w);
    memset(wt, 0, sizeof *wt);
}

/* A shard path must stay inside the model folder: relative, no '..' parts. */
static bool safe_rel_path(const char *p, size_t len)
{
    if (len == 0 || len >= AV_NN_TFJS_MAX_PATH || strlen(p) != len || p[0] == '/')
        return false;
    const char *s = p;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return false;
        if (!e)
            break;
        s = e + 1;
    }
    return p[len - 1] != '/';
}

/* Open dir/rel for reading as a regular file; its size into *size. -1 on failure (errno set). */
static int open_shard(const char *dir, const char *rel, int64_t *size)
{
    char path[AV_NN_TFJS_MAX_PATH * 2 + 2];
    int k = snprintf(path, sizeof path, "%s/%s", (dir && *dir) ? dir : ".", rel);
    if (k < 0 || (size_t)k >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    *size = (int64_t)st.st_size;
    return fd;
}

static bool read_all(int fd, uint8_t *dst, int64_t n)
{
    while (n > 0) {
        size_t chunk = n > (1 << 30) ? (size_t)1 << 30 : (size_t)n;
        ssize_t r = read(fd, dst, chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        dst += r;
        n -= r;
    }
    return true;
}

/* Read and concatenate the shards of group gi; *budget bounds the bytes of all groups. */
static av_nn_status read_group(json_t *paths, int gi, const char *dir, int64_t *budget,
                               uint8_t **out, int64_t *out_len, int *n_shards, char *err,
                               size_t errlen)
{
    size_t np = json_array_size(paths);
    if (!json_is_array(paths) || np == 0)
        return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                           "weightsManifest[%d]: 'paths' must be a non-empty array", gi);
    if (np > (size_t)(AV_NN_TFJS_MAX_SHARDS - *n_shards))
        return av_nn__fail(err, errlen, AV_NN_E_LIMIT, "more than %d weight shards",
                           AV_NN_TFJS_MAX_SHARDS);
    *n_shards += (int)np;
    int64_t total = 0;
    /* First pass: validate names and sizes so that one allocation suffices. */
    for (size_t i = 0; i < np; i++) {
        json_t *p = json_array_get(paths, i);
        const char *s = json_string_value(p);
        if (!s || !safe_rel_path(s, json_string_length(p)))
            return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                               "weightsManifest[%d].paths[%zu]: '%.200s' is not a relative path "
                               "inside the model folder",
                               gi, i, s ? s : "(not a string)");
        int64_t sz = 0;
        int fd = open_shard(dir, s, &sz);
        if (fd < 0)
            return av_nn__fail(err, errlen, AV_NN_E_IO, "weight shard '%.200s': %s", s,
                               strerror(errno));
        close(fd);
        if (sz > *budget - total)
            return av_nn__fail(err, errlen, AV_NN_E_LIMIT,
                               "weight shard '%.200s': %lld bytes exceed the model size limit",
                               s, (long long)sz);
        total += sz;
    }
    uint8_t *buf = malloc(total ? (size_t)total : 1);
    if (!buf)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "weight shards: %lld bytes",
                           (long long)total);
    int64_t at = 0;
    for (size_t i = 0; i < np; i++) {
        const char *s = json_string_value(json_array_get(paths, i));
        int64_t sz = 0;
        int fd = open_shard(dir, s, &sz);
        bool ok = fd >= 0 && sz <= total - at && read_all(fd, buf + at, sz);
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (!ok) {
            free(buf);
            return av_nn__fail(err, errlen, AV_NN_E_IO, "weight shard '%.200s': %s", s,
                               fd < 0 ? strerror(e) : "changed or short while reading");
        }
        at += sz;
    }
    *budget -= total;
    *out = buf;
    *out_len = at;
    return AV_NN_OK;
}

/* Parse one manifest weight entry (shape, dtype, quantisation). */
static av_nn_status parse_weight(json_t *jw, int gi, size_t wi, av_nn__tfjs_weight *w, char *err,
                                 size_t errlen)
{
    json_t *jn = json_object_get(jw, "name");
    const char *name = json_string_value(jn);
    if (!name || !*name || strlen(name) != json_string_length(jn))
        return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                           "weightsManifest[%d].weights[%zu]: missing or bad 'name'", gi, wi);
    w->name = name;
    json_t *shape = json_object_get(jw, "shape");
    size_t rank = json_array_size(shape);
    if (!json_is_array(shape) || rank > AV_NN_MAX_RANK)
        return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                           "weight '%.200s': 'shape' must be an array of at most %d dims", name,
                           AV_NN_MAX_RANK);
    w->rank = (int)rank;
    w->numel = 1;
    for (size_t i = 0; i < rank; i++) {
        json_t *d = json_array_get(shape, i);
        json_int_t v = json_integer_value(d);
        if (!json_is_integer(d) || v < 0 || v > AV_NN_MAX_ELEMENTS)
            return av_nn__fail(err, errlen, AV_NN_E_FORMAT, "weight '%.200s': bad dim %zu", name,
                               i);
        w->dims[i] = v;
        if (v && w->numel > AV_NN_MAX_ELEMENTS / v)
            return av_nn__fail(err, errlen, AV_NN_E_LIMIT,
                               "weight '%.200s': shape exceeds %lld elements", name,
                               (long long)AV_NN_MAX_ELEMENTS);
        w->numel *= v;
    }
    const char *dt = json_string_value(json_object_get(jw, "dtype"));
    int64_t esize;
    if (dt && !strcmp(dt, "float32")) {
        w->dtype = AV_NN_F32;
        esize = 4;
    } else if (dt && !strcmp(dt, "int32")) {
        w->dtype = AV_NN_I32;
        esize = 4;
    } else if (dt && !strcmp(dt, "bool")) {
        w->dtype = AV_NN_BOOL;
        esize = 1;
    } else {
        /* string weights have per-element lengths: nothing after them could be located */
        return av_nn__fail(err, errlen, AV_NN_E_UNSUPPORTED, "weight '%.200s': dtype '%.40s'",
                           name, dt ? dt : "(missing)");
    }
    w->quant = Q_NONE;
    json_t *q = json_object_get(jw, "quantization");
    if (q && !json_is_null(q)) {
        const char *qd = json_string_value(json_object_get(q, "dtype"));
        if (!json_is_object(q) || !qd)
            return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                               "weight '%.200s': 'quantization' needs a dtype", name);
        if (!strcmp(qd, "float16")) {
            w->quant = Q_F16;
            esize = 2;
        } else if (!strcmp(qd, "uint8") || !strcmp(qd, "uint16")) {
            json_t *js = json_object_get(q, "scale"), *jm = json_object_get(q, "min");
            if (!json_is_number(js) || !json_is_number(jm))
                return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                                   "weight '%.200s': %s quantization needs scale and min", name,
                                   qd);
            w->quant = qd[4] == '8' ? Q_U8 : Q_U16;
            esize = w->quant == Q_U8 ? 1 : 2;
            w->scale = (float)json_number_value(js);
            w->min = (float)json_number_value(jm);
        } else {
            return av_nn__fail(err, errlen, AV_NN_E_UNSUPPORTED,
                               "weight '%.200s': quantization dtype '%.40s'", name, qd);
        }
        if (w->dtype == AV_NN_BOOL)
            return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                               "weight '%.200s': a bool weight cannot be quantised", name);
    }
    w->nbytes = w->numel * esize;
    return AV_NN_OK;
}

av_nn_status av_nn__tfjs_read_weights(json_t *manifest, const char *dir,
                                      av_nn__tfjs_weights *wt, char *err, size_t errlen)
{
    memset(wt, 0, sizeof *wt);
    if (!manifest || json_is_null(manifest))
        return AV_NN_OK; /* a graph of no constants */
    if (!json_is_array(manifest))
        return av_nn__fail(err, errlen, AV_NN_E_FORMAT, "'weightsManifest' must be an array");
    size_t ng = json_array_size(manifest), nw = 0;
    if (ng > AV_NN_TFJS_MAX_SHARDS)
        return av_nn__fail(err, errlen, AV_NN_E_LIMIT, "more than %d weight groups",
                           AV_NN_TFJS_MAX_SHARDS);
    for (size_t i = 0; i < ng; i++) {
        json_t *ws = json_object_get(json_array_get(manifest, i), "weights");
        if (!json_is_array(ws))
            return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                               "weightsManifest[%zu]: 'weights' must be an array", i);
        nw += json_array_size(ws);
        if (nw > AV_NN_MAX_TENSORS)
            return av_nn__fail(err, errlen, AV_NN_E_LIMIT, "more than %d weights",
                               AV_NN_MAX_TENSORS);
    }
    wt->group_bytes = calloc(ng ? ng : 1, sizeof *wt->group_bytes);
    wt->group_len = calloc(ng ? ng : 1, sizeof *wt->group_len);
    wt->w = calloc(nw ? nw : 1, sizeof *wt->w);
    if (!wt->group_bytes || !wt->group_len || !wt->w)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "weight manifest of %zu weights", nw);
    int64_t budget = AV_NN_MAX_TOTAL_BYTES;
    int n_shards = 0;
    for (size_t gi = 0; gi < ng; gi++) {
        json_t *grp = json_array_get(manifest, gi);
        json_t *ws = json_object_get(grp, "weights");
        av_nn_status st = read_group(json_object_get(grp, "paths"), (int)gi, dir, &budget,
                                     &wt->group_bytes[gi], &wt->group_len[gi], &n_shards, err,
                                     errlen);
        if (st)
            return st;
        wt->n_groups = (int)gi + 1;
        int64_t off = 0;
        for (size_t wi = 0; wi < json_array_size(ws); wi++) {
            av_nn__tfjs_weight *w = &wt->w[wt->n];
            if ((st = parse_weight(json_array_get(ws, wi), (int)gi, wi, w, err, errlen)))
                return st;
            w->group = (int)gi;
            w->offset = off;
            if (w->nbytes > wt->group_len[gi] - off)
                return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                                   "weight '%.200s' needs bytes %lld..%lld of group %zu, but its "
                                   "shards hold %lld bytes",
                                   w->name, (long long)off, (long long)(off + w->nbytes), gi,
                                   (long long)wt->group_len[gi]);
            off += w->nbytes;
            wt->n++;
        }
    }
    return AV_NN_OK;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* TF.js turns dequantised values into an Int32Array: truncation; we saturate instead of wrapping. */
static int32_t f32_to_i32(double v)
{
    if (!(v == v))
        return 0;
    if (v >= 2147483647.0)
        return INT32_MAX;
    if (v <= -2147483648.0)
        return INT32_MIN;
    return (int32_t)v;
}

av_nn_status av_nn__tfjs_decode_weight(const av_nn__tfjs_weights *wt,
                                       const av_nn__tfjs_weight *w, void **out, char *err,
                                       size_t errlen)
{
    size_t es = av_nn_dtype_size(w->dtype);
    size_t nb = (size_t)w->numel * es;
    uint8_t *dst = malloc(nb ? nb : 1);
    if (!dst)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "weight '%.200s': %zu bytes", w->name, nb);
    const uint8_t *src = wt->group_bytes[w->group] + w->offset;
    for (int64_t i = 0; i < w->numel; i++) {
        double v;
        switch (w->quant) {
        case Q_F16:
            v = av_nn__f16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
            break;
        case Q_U8:
            v = (double)src[i] * w->scale + w->min;
            break;
        case Q_U16:
            v = (double)(src[2 * i] | src[2 * i + 1] << 8) * w->scale + w->min;
            break;
        default: /* stored as is */
            if (w->dtype == AV_NN_BOOL) {
                dst[i] = src[i] != 0;
            } else {
                uint32_t b = le32(src + 4 * i);
                memcpy(dst + 4 * i, &b, 4);
            }
            continue;
        }
        if (w->dtype == AV_NN_I32) {
            int32_t iv = f32_to_i32((float)v);
            memcpy(dst + 4 * i, &iv, 4);
        } else {
            float f = (float)v;
            memcpy(dst + 4 * i, &f, 4);
        }
    }
    *out = dst;
    return AV_NN_OK;
}
