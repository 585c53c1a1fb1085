/*
 * onnx_ops_misc.c - ONNX ops the IR has no single node for, composed from
 * exact ones, step for step as ONNX's reference implementation computes
 * them: LayerNormalization, Hardmax, Celu, Shrink, IsNaN, IsInf, and the
 * masks and constants of Trilu and EyeLike (built at load, shapes being
 * known).
 */
#include "nn/load/onnx.h"

#include "nn/core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TRY(x)                      \
    do {                            \
        av_nn_status st_ = (x);     \
        if (st_)                    \
            return st_;             \
    } while (0)

static av_nn_status need_f32(av_nn__onnx_lower *L, av_nn__tid x)
{
    if (x < 0)
        return AV_NN_ONNX_BAD(L, "needs an input");
    av_nn_dtype t = av_nn__onnx_t(L, x)->dtype;
    return t == AV_NN_F32 ? AV_NN_OK : AV_NN_ONNX_UNSUP(L, "input type %s", av_nn_dtype_name(t));
}

/*
 * LayerNormalization over axes [axis, rank):
 *   mean = sum(x) / n; d = x - mean; var = sum(d * d) / n;
 *   inv = 1 / sqrt(var + eps); y = d * inv * scale + B
 * Mean and InvStdDev are outputs 1 and 2.
 */
static av_nn_status lower_layer_norm(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), sc = av_nn__onnx_in(L, 1), b = av_nn__onnx_in(L, 2);
    int64_t axis, stash;
    float eps;
    TRY(need_f32(L, x));
    TRY(av_nn__onnx_attr_int(L, "axis", -1, &axis));
    TRY(av_nn__onnx_attr_int(L, "stash_type", 1, &stash));
    TRY(av_nn__onnx_attr_float(L, "epsilon", 1e-5f, &eps));
    if (sc < 0)
        return AV_NN_ONNX_BAD(L, "needs Scale");
    if (stash != 1)
        return AV_NN_ONNX_UNSUP(L, "stash_type %lld", (long long)stash);
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
    int r = t->rank;
    if (axis < -r || axis >= r)
        return AV_NN_ONNX_BAD(L, "axis %lld out of range for rank %d", (long long)axis, r);
    if (axis < 0)
        axis += r;
    av_nn__params p = {0};
    p.reduce.kind = AV_NN_REDUCE_MEAN;
    p.reduce.keep_dims = true;
    for (int i = (int)axis; i < r; i++)
        p.reduce.axes_mask |= 1u << i;
    av_nn__tid y, mean, inv, d, sq, var = -1, e, sd;
    TRY(av_nn__onnx_out(L, 0, &y));
    mean = -1;
    if (L->n_out > 1 && L->out_used[1])
        TRY(av_nn__onnx_out(L, 1, &mean));
    inv = -1;
    if (L->n_out > 2 && L->out_used[2])
        TRY(av_nn__onnx_out(L, 2, &inv));
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_REDUCE, &p, &x, 1, &mean));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_SUB, x, mean, -1, &d));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_MUL, d, d, -1, &sq));
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_REDUCE, &p, &sq, 1, &var));
    TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, eps, &e));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_ADD, var, e, -1, &var));
    TRY(av_nn__onnx_unary(L, AV_NN_UN_SQRT, var, -1, &sd));
    TRY(av_nn__onnx_unary(L, AV_NN_UN_RECIPROCAL, sd, inv, &inv));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_MUL, d, inv, -1, &d));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_MUL, d, sc, b >= 0 ? -1 : y, &d));
    if (b >= 0)
        TRY(av_nn__onnx_binary(L, AV_NN_BIN_ADD, d, b, y, &d));
    return AV_NN_OK;
}

/* Hardmax: 1 at the first maximum along the axis: (argmax == iota) as float. */
/* *y: the output tensor, or < 0 for a fresh one (returned there). */
static av_nn_status hardmax_axis(av_nn__onnx_lower *L, av_nn__tid x, int a, av_nn__tid *y)
{
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
    int r = t->rank;
    int64_t n = t->dims[a];
    av_nn__params p = {0};
    p.argmax.axis = a;
    p.argmax.keep_dims = true;
    p.argmax.index_dtype = AV_NN_I64;
    av_nn__tid idx = -1, iota, eq;
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_ARGMAX, &p, &x, 1, &idx));
    int64_t *v = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!v)
        return av_nn__onnx_fail(L, AV_NN_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        v[i] = i;
    int64_t dims[AV_NN_MAX_RANK];
    for (int i = 0; i < r - a; i++)
        dims[i] = i ? 1 : n;
    av_nn_status st = av_nn__onnx_const(L, AV_NN_I64, r - a, dims, v, &iota);
    free(v);
    if (st)
        return st;
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_EQUAL, idx, iota, -1, &eq));
    av_nn__params c = {0};
    c.cast.to = AV_NN_F32;
    return av_nn__onnx_emit1(L, AV_NN_OP_CAST, &c, &eq, 1, y);
}

static av_nn_status lower_hardmax(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y;
    int64_t axis;
    TRY(need_f32(L, x));
    TRY(av_nn__onnx_attr_int(L, "axis", L->opset >= 13 ? -1 : 1, &axis));
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
    int r = t->rank;
    if (r == 0 || axis < -r || axis >= r)
        return AV_NN_ONNX_BAD(L, "axis %lld out of range for rank %d", (long long)axis, r);
    int a = (int)(axis < 0 ? axis + r : axis);
    TRY(av_nn__onnx_out(L, 0, &y));
    if (L->opset >= 13 || a == r - 1)
        return hardmax_axis(L, x, a, &y);
    /* opset < 13: over the flattened dims [axis, rank) */
    int64_t d2[2] = {1, 1}, dims[AV_NN_MAX_RANK];
    for (int i = 0; i < r; i++)
        d2[i >= a] *= t->dims[i];
    memcpy(dims, t->dims, sizeof dims);
    av_nn__tid f, h = -1;
    TRY(av_nn__onnx_reshape(L, x, d2, 2, -1, &f));
    TRY(hardmax_axis(L, f, 1, &h));
    return av_nn__onnx_reshape(L, h, dims, r, y, &h);
}

/* Celu: max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) */
static av_nn_status lower_celu(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y, a, one, zero, v, pos;
    float alpha;
    TRY(need_f32(L, x));
    TRY(av_nn__onnx_attr_float(L, "alpha", 1.0f, &alpha));
    TRY(av_nn__onnx_out(L, 0, &y));
    TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, alpha, &a));
    TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, 1.0, &one));
    TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, 0.0, &zero));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_DIV, x, a, -1, &v));
    TRY(av_nn__onnx_unary(L, AV_NN_UN_EXP, v, -1, &v));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_SUB, v, one, -1, &v));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_MUL, a, v, -1, &v));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_MIN, zero, v, -1, &v));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_MAX, zero, x, -1, &pos));
    return av_nn__onnx_binary(L, AV_NN_BIN_ADD, pos, v, y, &v);
}

/* Shrink: x < -lambd ? x + bias : x > lambd ? x - bias : 0 */
static av_nn_status lower_shrink(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y, nl, pl, bias, zero, lo, hi, xa, xs, inner = -1;
    float lambd, b;
    TRY(need_f32(L, x));
    TRY(av_nn__onnx_attr_float(L, "lambd", 0.5f, &lambd));
    TRY(av_nn__onnx_attr_float(L, "bias", 0.0f, &b));
    TRY(av_nn__onnx_out(L, 0, &y));
    TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, -lambd, &nl));
    TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, lambd, &pl));
    TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, b, &bias));
    TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, 0.0, &zero));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_LESS, x, nl, -1, &lo));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_GREATER, x, pl, -1, &hi));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_ADD, x, bias, -1, &xa));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_SUB, x, bias, -1, &xs));
    av_nn__tid w1[3] = {hi, xs, zero};
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_WHERE, NULL, w1, 3, &inner));
    av_nn__tid w2[3] = {lo, xa, inner};
    return av_nn__onnx_emit1(L, AV_NN_OP_WHERE, NULL, w2, 3, &y);
}

/* IsNaN: !(x == x); IsInf: x == +inf (detect_positive) or x == -inf (detect_negative). */
static av_nn_status lower_isnan_isinf(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y, c, e;
    TRY(need_f32(L, x));
    TRY(av_nn__onnx_out(L, 0, &y));
    if (av_nn__onnx_str_eq(L->node->op_type, "IsNaN")) {
        TRY(av_nn__onnx_binary(L, AV_NN_BIN_EQUAL, x, x, -1, &e));
        return av_nn__onnx_unary(L, AV_NN_UN_NOT, e, y, &e);
    }
    int64_t neg, pos;
    TRY(av_nn__onnx_attr_int(L, "detect_negative", 1, &neg));
    TRY(av_nn__onnx_attr_int(L, "detect_positive", 1, &pos));
    if (!neg && !pos) { /* nothing equals NaN: all false */
        TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, NAN, &c));
        return av_nn__onnx_binary(L, AV_NN_BIN_EQUAL, x, c, y, &e);
    }
    av_nn__tid r = -1;
    if (pos) {
        TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, INFINITY, &c));
        TRY(av_nn__onnx_binary(L, AV_NN_BIN_EQUAL, x, c, neg ? -1 : y, &r));
    }
    if (neg) {
        TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, -INFINITY, &c));
        TRY(av_nn__onnx_binary(L, AV_NN_BIN_EQUAL, x, c, pos ? -1 : y, &e));
        if (pos)
            TRY(av_nn__onnx_binary(L, AV_NN_BIN_OR, r, e, y, &e));
    }
    return AV_NN_OK;
}

/*
 * Trilu: where(mask, x, 0), mask = (j - i >= k) for upper, (j - i <= k) for
 * lower: j - i is a constant [M,N] made here, k may be a run-time scalar.
 */
static av_nn_status lower_trilu(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), k = av_nn__onnx_in(L, 1), y, diff, mask, zero;
    int64_t upper;
    TRY(av_nn__onnx_attr_int(L, "upper", 1, &upper));
    if (x < 0)
        return AV_NN_ONNX_BAD(L, "needs an input");
    if (k >= 0 && (av_nn__numel(av_nn__onnx_t(L, k)) != 1 ||
                   av_nn__onnx_t(L, k)->dtype != AV_NN_I64))
        return AV_NN_ONNX_BAD(L, "k must be an int64 scalar");
    if (k < 0)
        TRY(av_nn__onnx_const_scalar(L, AV_NN_I64, 0.0, &k));
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
    if (t->rank < 2)
        return AV_NN_ONNX_BAD(L, "input rank %d", t->rank);
    int64_t dims[2] = {t->dims[t->rank - 2], t->dims[t->rank - 1]};
    av_nn_dtype dt = t->dtype;
    if (dims[0] && dims[1] > (1 << 24) / dims[0])
        return av_nn__onnx_fail(L, AV_NN_E_LIMIT, "mask of %lldx%lld", (long long)dims[0],
                                (long long)dims[1]);
    int64_t *d = malloc(sizeof(int64_t) * (size_t)(dims[0] * dims[1] + 1));
    if (!d)
        return av_nn__onnx_fail(L, AV_NN_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < dims[0]; i++)
        for (int64_t j = 0; j < dims[1]; j++)
            d[i * dims[1] + j] = j - i;
    av_nn_status st = av_nn__onnx_const(L, AV_NN_I64, 2, dims, d, &diff);
    free(d);
    if (st)
        return st;
    TRY(av_nn__onnx_binary(L, upper ? AV_NN_BIN_GREATER_EQUAL : AV_NN_BIN_LESS_EQUAL, diff, k,
                           -1, &mask));
    TRY(av_nn__onnx_const_scalar(L, dt, 0.0, &zero));
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__tid in[3] = {mask, x, zero};
    return av_nn__onnx_emit1(L, AV_NN_OP_WHERE, NULL, in, 3, &y);
}

/* EyeLike: a constant of the input's 2-D shape, ones on diagonal k. */
static av_nn_status lower_eye_like(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), c;
    int64_t k, dtype;
    if (x < 0)
        return AV_NN_ONNX_BAD(L, "needs an input");
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
    TRY(av_nn__onnx_attr_int(L, "k", 0, &k));
    TRY(av_nn__onnx_attr_int(L, "dtype", 0, &dtype));
    av_nn_dtype dt = t->dtype;
    static const struct {
        int onnx;
        av_nn_dtype dt;
    } types[] = {{1, AV_NN_F32}, {2, AV_NN_U8},  {3, AV_NN_I8},  {6, AV_NN_I32},
                 {7, AV_NN_I64}, {9, AV_NN_BOOL}, {10, AV_NN_F16}};
    if (dtype) {
        size_t i = 0, n = sizeof types / sizeof types[0];
        while (i < n && types[i].onnx != dtype)
            i++;
        if (i == n)
            return AV_NN_ONNX_UNSUP(L, "dtype %s", av_nn__onnx_type_name((int)dtype));
        dt = types[i].dt;
    }
    if (t->rank != 2)
        return AV_NN_ONNX_BAD(L, "input rank %d", t->rank);
    int64_t ne = av_nn__numel(t);
    size_t es = av_nn_dtype_size(dt);
    if (ne < 0 || ne > (1 << 26))
        return av_nn__onnx_fail(L, AV_NN_E_LIMIT, "output of %lld elements", (long long)ne);
    void *buf = calloc((size_t)ne + 1, es);
    if (!buf)
        return av_nn__onnx_fail(L, AV_NN_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < t->dims[0]; i++) {
        int64_t j = i + k;
        if (j >= 0 && j < t->dims[1])
            av_nn__store_elem(buf, dt, i * t->dims[1] + j, 1.0);
    }
    av_nn_status st = av_nn__onnx_const(L, dt, 2, t->dims, buf, &c);
    free(buf);
    if (st)
        return st;
    av_nn__onnx_bind(L, 0, c);
    return AV_NN_OK;
}

const av_nn__onnx_op_entry av_nn__onnx_ops_misc[] = {
    {"LayerNormalization", lower_layer_norm, "axis epsilon stash_type"},
    {"Hardmax", lower_hardmax, "axis"},
    {"Celu", lower_celu, "alpha"},
    {"Shrink", lower_shrink, "bias lambd"},
    {"IsNaN", lower_isnan_isinf, ""},
    {"IsInf", lower_isnan_isinf, "detect_negative detect_positive"},
    {"Trilu", lower_trilu, "upper"},
    {"EyeLike", lower_eye_like, "dtype k"},
    {NULL, NULL, NULL},
};
