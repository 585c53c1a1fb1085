/*
 * tflite_tensors.c - what the TFLite loader and its op lowerings share:
 * tensors read from the flatbuffer (dtype, shape, quantisation, buffer), their
 * ids, synthesised constants, constant int lists, errors.
 */
#include "nn/load/tflite.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Bytes of buffer b: *data NULL when the buffer is empty (an activation).
 * Data lies either in the buffer's vector or, for files over 2 GiB, at an
 * absolute offset/size after the flatbuffer.
 */
static bool buffer_bytes(av_nn__tfl *L, uint32_t b, const uint8_t **data, uint64_t *len)
{
    av_nn__fb *fb = &L->fb;
    *data = NULL;
    *len = 0;
    if (b == 0 || !L->buffers.present)
        return true; /* buffer 0 is the schema's empty sentinel */
    if (b >= L->buffers.n)
        return av_nn__fb_error(fb, "buffer %u of %u", b, L->buffers.n);
    av_nn__fb_table bt;
    av_nn__fb_vec v;
    uint64_t off, size;
    if (!av_nn__fb_vec_table(fb, &L->buffers, b, "buffer", &bt) ||
        !av_nn__fb_vec_field(fb, &bt, BUF_DATA, "data", 1, &v) ||
        !av_nn__fb_u64(fb, &bt, BUF_OFFSET, "offset", 0, &off) ||
        !av_nn__fb_u64(fb, &bt, BUF_SIZE, "size", 0, &size))
        return false;
    if (v.present && v.n) {
        *data = fb->buf + v.data;
        *len = v.n;
    } else if (off > 1) {
        if (off > fb->len || size > fb->len - off)
            return av_nn__fb_error(fb, "buffer %u: bytes %llu..+%llu outside the %zu-byte file",
                                   b, (unsigned long long)off, (unsigned long long)size,
                                   fb->len);
        *data = fb->buf + off;
        *len = size;
    }
    return true;
}

/* Record why tensor creation failed (message already written); returns -1. */
static av_nn__tid tensor_fail(av_nn__tfl *L, av_nn_status st)
{
    L->tensor_st = st;
    return -1;
}

static const char *type_name(int type)
{
    static const char *const names[] = {"FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64",
                                        "STRING", "BOOL", "INT16", "COMPLEX64", "INT8",
                                        "FLOAT64"};
    return (type >= 0 && type < (int)(sizeof names / sizeof names[0])) ? names[type] : "?";
}

/* "[2, 3]" of a file tensor's shape, for messages. */
const char *av_nn__tfl_shape_str(const av_nn__tfl_tensor *t, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int d = 0; d < t->rank && k < n; d++) {
        int w = snprintf(buf + k, n - k, "%s%lld", d ? ", " : "[", (long long)t->dims[d]);
        if (w < 0)
            break;
        k += (size_t)w;
    }
    if (k < n)
        snprintf(buf + k, n - k, "%s", t->rank ? "]" : "[]");
    return buf;
}

/* Quantisation of file tensor i onto IR tensor x. */
static bool read_quant(av_nn__tfl *L, uint32_t i, av_nn__tensor *x)
{
    av_nn__fb *fb = &L->fb;
    const av_nn__tfl_tensor *t = &L->t[i];
    av_nn__fb_table q;
    av_nn__fb_vec sc, zp;
    int32_t qdim;
    av_nn__fb_ctx(fb, "tflite: tensor %u '%s' quantization", i, t->name);
    if (!av_nn__fb_table_field(fb, &t->table, T_QUANT, "quantization", &q))
        return false;
    if (!q.present)
        return true;
    if (!av_nn__fb_vec_field(fb, &q, Q_SCALE, "scale", 4, &sc) ||
        !av_nn__fb_vec_field(fb, &q, Q_ZERO, "zero_point", 8, &zp) ||
        !av_nn__fb_i32(fb, &q, Q_DIM, "quantized_dimension", 0, &qdim))
        return false;
    if (!sc.present || sc.n == 0)
        return true; /* min/max only: not quantised for inference */
    if (zp.present && zp.n == 0)
        zp.present = false; /* an empty zero_point vector: all zero */
    if (zp.present && zp.n != sc.n && zp.n != 1)
        return av_nn__fb_error(fb, "%u scales but %u zero points", sc.n, zp.n);
    for (uint32_t k = 0; k < sc.n; k++) {
        float s = av_nn__fb_vec_f32(fb, &sc, k);
        if (!(s > 0.0f) || s > 1e30f)
            return av_nn__fb_error(fb, "scale %u is %g", k, (double)s);
    }
    int64_t z0 = zp.present && zp.n ? av_nn__fb_vec_i64(fb, &zp, 0) : 0;
    if (z0 < INT32_MIN || z0 > INT32_MAX)
        return av_nn__fb_error(fb, "zero point %lld", (long long)z0);
    x->quant.scale = av_nn__fb_vec_f32(fb, &sc, 0);
    x->quant.zero_point = (int32_t)z0;
    if (sc.n == 1)
        return true;
    /* per channel: one scale per slice of quantized_dimension, zero points all equal */
    if (qdim < 0 || qdim >= t->rank || t->dims[qdim] != (int64_t)sc.n)
        return av_nn__fb_error(fb, "%u scales along dimension %d of a rank-%d tensor", sc.n,
                               (int)qdim, t->rank);
    for (uint32_t k = 1; zp.present && k < zp.n; k++)
        if (av_nn__fb_vec_i64(fb, &zp, k) != z0)
            return av_nn__fb_error(fb, "per-channel zero points differ (channel %u)", k);
    x->quant.channel_scales = malloc(sc.n * sizeof(float));
    if (!x->quant.channel_scales)
        return av_nn__fb_error(fb, "out of memory for %u scales", sc.n);
    for (uint32_t k = 0; k < sc.n; k++)
        x->quant.channel_scales[k] = av_nn__fb_vec_f32(fb, &sc, k);
    x->quant.n_channels = (int32_t)sc.n;
    x->quant.axis = qdim;
    return true;
}

static av_nn__tid make_tensor(av_nn__tfl *L, uint32_t i)
{
    av_nn__fb *fb = &L->fb;
    const av_nn__tfl_tensor *t = &L->t[i];
    av_nn_dtype dt;
    av_nn__fb_ctx(fb, "tflite: tensor %u '%s'", i, t->name);
    if (!av_nn__tfl_dtype(t->type, &dt)) {
        av_nn__fb_error(fb, "type %s (%d) is not supported", type_name(t->type), t->type);
        return tensor_fail(L, AV_NN_E_UNSUPPORTED);
    }
    av_nn__fb_table sp;
    bool var;
    if (!av_nn__fb_table_field(fb, &t->table, T_SPARSITY, "sparsity", &sp) ||
        !av_nn__fb_bool(fb, &t->table, T_VARIABLE, "is_variable", false, &var))
        return tensor_fail(L, AV_NN_E_FORMAT);
    if (sp.present || var) {
        av_nn__fb_error(fb, "%s tensors are not supported", sp.present ? "sparse" : "variable");
        return tensor_fail(L, AV_NN_E_UNSUPPORTED);
    }
    const uint8_t *data;
    uint64_t len;
    if (!buffer_bytes(L, t->buffer, &data, &len))
        return tensor_fail(L, AV_NN_E_FORMAT);
    void *bytes = NULL;
    bool own = false;
    if (data) {
        av_nn__tensor probe = {.dtype = dt, .rank = t->rank};
        memcpy(probe.dims, t->dims, sizeof probe.dims);
        int64_t want = av_nn__nbytes(&probe);
        if (want < 0) {
            char sh[160];
            av_nn__fb_error(fb, "shape %s exceeds %lld elements", av_nn__tfl_shape_str(t, sh, sizeof sh),
                            (long long)AV_NN_MAX_ELEMENTS);
            return tensor_fail(L, AV_NN_E_LIMIT);
        }
        if ((uint64_t)want != len) {
            av_nn__fb_error(fb, "buffer %u holds %llu bytes, shape and type need %lld", t->buffer,
                            (unsigned long long)len, (long long)want);
            return tensor_fail(L, AV_NN_E_FORMAT);
        }
        size_t es = av_nn_dtype_size(dt);
        if ((uintptr_t)data % es == 0) {
            bytes = (void *)(uintptr_t)data; /* the model keeps the file bytes */
        } else {
            bytes = malloc(len ? len : 1);
            if (!bytes) {
                av_nn__fb_error(fb, "out of memory copying %llu bytes", (unsigned long long)len);
                return tensor_fail(L, AV_NN_E_NOMEM);
            }
            memcpy(bytes, data, len);
            own = true;
        }
    }
    /* activations: shape comes from inference (the file's may be a placeholder) */
    av_nn__tid id = av_nn__add_tensor(L->g, t->name, dt, bytes ? t->rank : -1, t->dims, bytes, own);
    if (id < 0) {
        av_nn__fb_error(fb, "cannot add tensor (out of memory or size limit)");
        return tensor_fail(L, AV_NN_E_NOMEM);
    }
    if (!read_quant(L, i, &L->g->tensors[id]))
        return tensor_fail(L, AV_NN_E_FORMAT);
    return id;
}

av_nn_status av_nn__tfl_fail(av_nn__tfl *L, const av_nn__tfl_op *op, av_nn_status st,
                             const char *fmt, ...)
{
    if (L->err && L->errlen) {
        const char *on = op->op_name;
        char code[24];
        if (!on) {
            snprintf(code, sizeof code, "builtin %d", (int)op->code);
            on = code;
        }
        int k = snprintf(L->err, L->errlen, "tflite: operator %u '%s' (%s): ", op->index,
                         op->name, on);
        if (k >= 0 && (size_t)k < L->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(L->err + k, L->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return st;
}

bool av_nn__tfl_dtype(int type, av_nn_dtype *dt)
{
    switch (type) {
    case 0: *dt = AV_NN_F32; return true;
    case 1: *dt = AV_NN_F16; return true;
    case 2: *dt = AV_NN_I32; return true;
    case 3: *dt = AV_NN_U8; return true;
    case 4: *dt = AV_NN_I64; return true;
    case 6: *dt = AV_NN_BOOL; return true;
    case 9: *dt = AV_NN_I8; return true;
    default: return false;
    }
}

av_nn__tid av_nn__tfl_tensor_id(av_nn__tfl *L, int32_t i)
{
    if (i < 0 || (uint32_t)i >= L->n_t)
        return -1;
    if (L->tid[i] == -2)
        L->tid[i] = make_tensor(L, (uint32_t)i);
    return L->tid[i];
}

av_nn__tid av_nn__tfl_synth(av_nn__tfl *L, const av_nn__tfl_op *op, const char *what,
                            av_nn_dtype dt)
{
    char name[200];
    snprintf(name, sizeof name, "%s/%s_%d", op->name, what, L->synth++);
    return av_nn__add_tensor(L->g, name, dt, -1, NULL, NULL, false);
}

bool av_nn__tfl_const_ints(av_nn__tfl *L, const av_nn__tfl_op *op, int32_t i, const char *what,
                           int64_t *out, int max, int *count)
{
    av_nn__tid id = av_nn__tfl_tensor_id(L, i);
    if (id < 0)
        return i < 0 ? (av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "%s input is absent", what), false)
                     : false;
    const av_nn__tensor *t = &L->g->tensors[id];
    if (!t->data)
        return av_nn__tfl_fail(L, op, AV_NN_E_UNSUPPORTED, "%s must be a constant", what), false;
    if (t->dtype != AV_NN_I32 && t->dtype != AV_NN_I64)
        return av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "%s must be int32/int64", what), false;
    int64_t n = av_nn__numel(t);
    if (n < 0 || n > max)
        return av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "%s has %lld values (at most %d)", what,
                               (long long)n, max),
               false;
    for (int64_t k = 0; k < n; k++)
        out[k] = t->dtype == AV_NN_I32 ? ((const int32_t *)t->data)[k]
                                       : ((const int64_t *)t->data)[k];
    *count = (int)n;
    return true;
}
