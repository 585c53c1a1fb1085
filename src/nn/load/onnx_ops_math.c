/*
 * onnx_ops_math.c - ONNX elementwise, activation, softmax, Gemm/MatMul,
 * reduction, Cast/Where and (de)quantisation ops -> IR nodes.
 *
 * Where the IR has no single op, the lowering composes exact ones (Softsign
 * = x / (1 + |x|), QuantizeLinear = saturate(round_half_even(x / s) + zp)):
 * each step is the same float operation the ONNX reference performs.
 */
#include "nn/load/onnx.h"

#include "nn/core.h"

#include <math.h>
#include <string.h>

#define TRY(x)                      \
    do {                            \
        av_nn_status st_ = (x);     \
        if (st_)                    \
            return st_;             \
    } while (0)

/* ---- unary ---- */

static const struct {
    const char *op;
    av_nn__unary_kind kind;
} unary_ops[] = {
    {"Abs", AV_NN_UN_ABS},       {"Neg", AV_NN_UN_NEG},         {"Exp", AV_NN_UN_EXP},
    {"Log", AV_NN_UN_LOG},       {"Sqrt", AV_NN_UN_SQRT},       {"Floor", AV_NN_UN_FLOOR},
    {"Ceil", AV_NN_UN_CEIL},     {"Round", AV_NN_UN_ROUND},     {"Sigmoid", AV_NN_UN_SIGMOID},
    {"Tanh", AV_NN_UN_TANH},     {"HardSwish", AV_NN_UN_HARDSWISH},
    {"HardSigmoid", AV_NN_UN_HARDSIGMOID},                      {"Elu", AV_NN_UN_ELU},
    {"Selu", AV_NN_UN_SELU},     {"Softplus", AV_NN_UN_SOFTPLUS}, {"Sin", AV_NN_UN_SIN},
    {"Cos", AV_NN_UN_COS},       {"Reciprocal", AV_NN_UN_RECIPROCAL}, {"Not", AV_NN_UN_NOT},
    {"Sign", AV_NN_UN_SIGN},     {"Erf", AV_NN_UN_ERF},
};

static bool is_float(av_nn_dtype t)
{
    return t == AV_NN_F32 || t == AV_NN_F16;
}

static av_nn_status lower_unary(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y;
    if (x < 0)
        return AV_NN_ONNX_BAD(L, "needs an input");
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params p = {0};
    size_t i = 0;
    while (!av_nn__onnx_str_eq(L->node->op_type, unary_ops[i].op))
        i++;
    p.unary.kind = unary_ops[i].kind;
    if (p.unary.kind == AV_NN_UN_HARDSIGMOID) {
        TRY(av_nn__onnx_attr_float(L, "alpha", 0.2f, &p.unary.alpha));
        TRY(av_nn__onnx_attr_float(L, "beta", 0.5f, &p.unary.beta));
    } else if (p.unary.kind == AV_NN_UN_ELU) {
        TRY(av_nn__onnx_attr_float(L, "alpha", 1.0f, &p.unary.alpha));
    } else if (p.unary.kind == AV_NN_UN_SELU) {
        TRY(av_nn__onnx_attr_float(L, "alpha", 1.67326319217681884765625f, &p.unary.alpha));
        TRY(av_nn__onnx_attr_float(L, "gamma", 1.05070102214813232421875f, &p.unary.beta));
    }
    if (p.unary.kind != AV_NN_UN_NOT && p.unary.kind != AV_NN_UN_ABS &&
        p.unary.kind != AV_NN_UN_NEG && p.unary.kind != AV_NN_UN_SIGN &&
        !is_float(av_nn__onnx_t(L, x)->dtype))
        return AV_NN_ONNX_UNSUP(L, "input type %s", av_nn_dtype_name(av_nn__onnx_t(L, x)->dtype));
    return av_nn__onnx_emit1(L, AV_NN_OP_UNARY, &p, &x, 1, &y);
}

static av_nn_status lower_relu(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y;
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params p = {0};
    if (av_nn__onnx_t(L, x)->dtype == AV_NN_F32) {
        p.clamp.min = 0.0f;
        p.clamp.max = INFINITY;
        return av_nn__onnx_emit1(L, AV_NN_OP_CLAMP, &p, &x, 1, &y);
    }
    p.unary.kind = AV_NN_UN_RELU;
    return av_nn__onnx_emit1(L, AV_NN_OP_UNARY, &p, &x, 1, &y);
}

static av_nn_status lower_leaky(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y;
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params p = {0};
    TRY(av_nn__onnx_attr_float(L, "alpha", 0.01f, &p.leaky.alpha));
    return av_nn__onnx_emit1(L, AV_NN_OP_LEAKY_RELU, &p, &x, 1, &y);
}

static av_nn_status lower_prelu(av_nn__onnx_lower *L)
{
    av_nn__tid in[2] = {av_nn__onnx_in(L, 0), av_nn__onnx_in(L, 1)}, y;
    if (in[1] < 0)
        return AV_NN_ONNX_BAD(L, "needs a slope");
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor tx_s = *av_nn__onnx_t(L, in[0]), ts_s = *av_nn__onnx_t(L, in[1]);
    const av_nn__tensor *tx = &tx_s, *ts = &ts_s;
    if (L->opset < 7 && ts->rank == 1 && tx->rank > 2 && ts->dims[0] == tx->dims[1] &&
        ts->dims[0] != 1) {
        /* opset 6: a [C] slope is per channel (axis 1), not numpy-aligned */
        int64_t dims[AV_NN_MAX_RANK];
        for (int i = 0; i < tx->rank - 1; i++)
            dims[i] = i ? 1 : ts->dims[0];
        TRY(av_nn__onnx_reshape(L, in[1], dims, tx->rank - 1, -1, &in[1]));
    }
    TRY(av_nn__onnx_out(L, 0, &y));
    return av_nn__onnx_emit1(L, AV_NN_OP_PRELU, NULL, in, 2, &y);
}

/* Softsign: x / (1 + |x|) */
static av_nn_status lower_softsign(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y, a, one, d;
    TRY(av_nn__onnx_out(L, 0, &y));
    if (av_nn__onnx_t(L, x)->dtype != AV_NN_F32)
        return AV_NN_ONNX_UNSUP(L, "input type %s", av_nn_dtype_name(av_nn__onnx_t(L, x)->dtype));
    TRY(av_nn__onnx_unary(L, AV_NN_UN_ABS, x, -1, &a));
    TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, 1.0, &one));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_ADD, a, one, -1, &d));
    return av_nn__onnx_binary(L, AV_NN_BIN_DIV, x, d, y, &y);
}

/* ThresholdedRelu: x > alpha ? x : 0 */
static av_nn_status lower_thresholded_relu(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y, th, zero, c;
    float alpha;
    TRY(av_nn__onnx_attr_float(L, "alpha", 1.0f, &alpha));
    TRY(av_nn__onnx_out(L, 0, &y));
    if (av_nn__onnx_t(L, x)->dtype != AV_NN_F32)
        return AV_NN_ONNX_UNSUP(L, "input type %s", av_nn_dtype_name(av_nn__onnx_t(L, x)->dtype));
    TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, alpha, &th));
    TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, 0.0, &zero));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_GREATER, x, th, -1, &c));
    av_nn__tid in[3] = {c, x, zero};
    return av_nn__onnx_emit1(L, AV_NN_OP_WHERE, NULL, in, 3, &y);
}

/* ---- binary and variadic ---- */

static const struct {
    const char *op;
    av_nn__binary_kind kind;
} binary_ops[] = {
    {"Add", AV_NN_BIN_ADD},
    {"Sub", AV_NN_BIN_SUB},
    {"Mul", AV_NN_BIN_MUL},
    {"Div", AV_NN_BIN_DIV},
    {"Pow", AV_NN_BIN_POW},
    {"Equal", AV_NN_BIN_EQUAL},
    {"Less", AV_NN_BIN_LESS},
    {"LessOrEqual", AV_NN_BIN_LESS_EQUAL},
    {"Greater", AV_NN_BIN_GREATER},
    {"GreaterOrEqual", AV_NN_BIN_GREATER_EQUAL},
    {"And", AV_NN_BIN_AND},
    {"Or", AV_NN_BIN_OR},
    {"Xor", AV_NN_BIN_XOR},
    {"Max", AV_NN_BIN_MAX},
    {"Min", AV_NN_BIN_MIN},
    {"Sum", AV_NN_BIN_ADD},
    {"Mean", AV_NN_BIN_ADD},
};

/*
 * Before opset 7 binary ops broadcast only with broadcast=1, aligning B with
 * A from `axis` (default: the trailing axes, as numpy does). Reshape B so
 * numpy broadcasting gives that alignment.
 */
static av_nn_status legacy_broadcast(av_nn__onnx_lower *L, av_nn__tid a, av_nn__tid *b)
{
    int64_t bc;
    const av_nn__onnx_attr *ax = av_nn__onnx_attr_find(L->node, "axis");
    TRY(av_nn__onnx_attr_int(L, "broadcast", 0, &bc));
    if (L->opset >= 7) {
        if (ax || av_nn__onnx_attr_find(L->node, "broadcast"))
            return AV_NN_ONNX_UNSUP(L, "attributes broadcast/axis after opset 7");
        return AV_NN_OK;
    }
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor ta_s = *av_nn__onnx_t(L, a), tb_s = *av_nn__onnx_t(L, *b);
    const av_nn__tensor *ta = &ta_s, *tb = &tb_s;
    if (!bc) {
        bool same = ta->rank == tb->rank;
        for (int i = 0; same && i < ta->rank; i++)
            same = ta->dims[i] == tb->dims[i];
        return same ? AV_NN_OK : AV_NN_ONNX_BAD(L, "shapes differ without broadcast=1");
    }
    if (!ax)
        return AV_NN_OK;
    int64_t axis;
    TRY(av_nn__onnx_attr_int(L, "axis", 0, &axis));
    if (axis < 0)
        axis += ta->rank;
    if (axis < 0 || axis + tb->rank > ta->rank)
        return AV_NN_ONNX_BAD(L, "axis %lld does not fit B of rank %d", (long long)axis,
                              tb->rank);
    int64_t dims[AV_NN_MAX_RANK];
    int r = ta->rank - (int)axis;
    for (int i = 0; i < r; i++)
        dims[i] = i < tb->rank ? tb->dims[i] : 1;
    return av_nn__onnx_reshape(L, *b, dims, r, -1, b);
}

static av_nn_status lower_binary(av_nn__onnx_lower *L)
{
    av_nn__tid a = av_nn__onnx_in(L, 0), b = av_nn__onnx_in(L, 1), y;
    if (a < 0 || b < 0)
        return AV_NN_ONNX_BAD(L, "needs two inputs");
    size_t i = 0;
    while (!av_nn__onnx_str_eq(L->node->op_type, binary_ops[i].op))
        i++;
    av_nn__binary_kind k = binary_ops[i].kind;
    av_nn_dtype ta = av_nn__onnx_t(L, a)->dtype;
    /* integer add/sub/mul wrap in ONNX; the IR saturates: only exact on floats
     * and 32/64-bit ints (where overflow is the model's own error) */
    if ((ta == AV_NN_U8 || ta == AV_NN_I8) &&
        (k == AV_NN_BIN_ADD || k == AV_NN_BIN_SUB || k == AV_NN_BIN_MUL || k == AV_NN_BIN_POW))
        return AV_NN_ONNX_UNSUP(L, "8-bit integer arithmetic wraps in ONNX");
    if (k == AV_NN_BIN_POW && ta != AV_NN_F32 && ta != AV_NN_I32 && ta != AV_NN_I64)
        return AV_NN_ONNX_UNSUP(L, "Pow of %s", av_nn_dtype_name(ta));
    TRY(legacy_broadcast(L, a, &b));
    TRY(av_nn__onnx_out(L, 0, &y));
    return av_nn__onnx_binary(L, k, a, b, y, &y);
}

static av_nn_status lower_mod(av_nn__onnx_lower *L)
{
    av_nn__tid a = av_nn__onnx_in(L, 0), b = av_nn__onnx_in(L, 1), y;
    int64_t fmod_;
    TRY(av_nn__onnx_attr_int(L, "fmod", 0, &fmod_));
    if (a < 0 || b < 0)
        return AV_NN_ONNX_BAD(L, "needs two inputs");
    if (!fmod_ && is_float(av_nn__onnx_t(L, a)->dtype))
        return AV_NN_ONNX_BAD(L, "fmod must be 1 for floating-point inputs");
    TRY(av_nn__onnx_out(L, 0, &y));
    return av_nn__onnx_binary(L, fmod_ ? AV_NN_BIN_FMOD : AV_NN_BIN_FLOOR_MOD, a, b, y, &y);
}

/* Max/Min/Sum/Mean of 1..n inputs: a chain of binary nodes. */
static av_nn_status lower_variadic(av_nn__onnx_lower *L)
{
    if (L->n_in < 1)
        return AV_NN_ONNX_BAD(L, "needs an input");
    for (int i = 0; i < L->n_in; i++)
        if (L->in[i] < 0)
            return AV_NN_ONNX_BAD(L, "input %d is empty", i);
    size_t k = 0;
    while (!av_nn__onnx_str_eq(L->node->op_type, binary_ops[k].op))
        k++;
    bool mean = av_nn__onnx_str_eq(L->node->op_type, "Mean");
    av_nn__tid acc = L->in[0], y;
    TRY(av_nn__onnx_out(L, 0, &y));
    if (L->n_in == 1)
        return av_nn__onnx_emit1(L, AV_NN_OP_IDENTITY, NULL, &acc, 1, &y);
    av_nn_dtype dt = av_nn__onnx_t(L, acc)->dtype;
    if ((dt == AV_NN_U8 || dt == AV_NN_I8) && binary_ops[k].kind == AV_NN_BIN_ADD)
        return AV_NN_ONNX_UNSUP(L, "8-bit integer sums wrap in ONNX");
    if (mean && dt != AV_NN_F32)
        return AV_NN_ONNX_UNSUP(L, "Mean of %s", av_nn_dtype_name(dt));
    for (int i = 1; i < L->n_in; i++) {
        av_nn__tid dst = (i == L->n_in - 1 && !mean) ? y : -1;
        TRY(av_nn__onnx_binary(L, binary_ops[k].kind, acc, L->in[i], dst, &acc));
    }
    if (mean) {
        av_nn__tid n;
        TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, L->n_in, &n));
        TRY(av_nn__onnx_binary(L, AV_NN_BIN_DIV, acc, n, y, &acc));
    }
    return AV_NN_OK;
}

/* Clip: attrs min/max before opset 11, optional inputs after. */
static av_nn_status lower_clip(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y;
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn_dtype dt = av_nn__onnx_t(L, x)->dtype;
    if (L->opset < 11) {
        av_nn__params p = {0};
        TRY(av_nn__onnx_attr_float(L, "min", -INFINITY, &p.clamp.min));
        TRY(av_nn__onnx_attr_float(L, "max", INFINITY, &p.clamp.max));
        if (dt != AV_NN_F32)
            return AV_NN_ONNX_UNSUP(L, "Clip of %s", av_nn_dtype_name(dt));
        return av_nn__onnx_emit1(L, AV_NN_OP_CLAMP, &p, &x, 1, &y);
    }
    av_nn__tid lo = av_nn__onnx_in(L, 1), hi = av_nn__onnx_in(L, 2);
    const av_nn__tensor *tl = lo >= 0 ? av_nn__onnx_t(L, lo) : NULL;
    const av_nn__tensor *th = hi >= 0 ? av_nn__onnx_t(L, hi) : NULL;
    if ((tl && av_nn__numel(tl) != 1) || (th && av_nn__numel(th) != 1))
        return AV_NN_ONNX_BAD(L, "min and max must be scalars");
    if (dt == AV_NN_F32 && (!tl || tl->data) && (!th || th->data)) {
        av_nn__params p = {0};
        p.clamp.min = tl ? ((const float *)tl->data)[0] : -INFINITY;
        p.clamp.max = th ? ((const float *)th->data)[0] : INFINITY;
        return av_nn__onnx_emit1(L, AV_NN_OP_CLAMP, &p, &x, 1, &y);
    }
    /* min(max(x, lo), hi), as the ONNX definition reads */
    av_nn__tid v = x;
    if (lo >= 0)
        TRY(av_nn__onnx_binary(L, AV_NN_BIN_MAX, v, lo, hi >= 0 ? -1 : y, &v));
    if (hi >= 0)
        TRY(av_nn__onnx_binary(L, AV_NN_BIN_MIN, v, hi, y, &v));
    if (lo < 0 && hi < 0)
        return av_nn__onnx_emit1(L, AV_NN_OP_IDENTITY, NULL, &x, 1, &y);
    return AV_NN_OK;
}

/* ---- softmax ---- */

static av_nn_status lower_softmax(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y;
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
    int64_t axis;
    TRY(av_nn__onnx_attr_int(L, "axis", L->opset >= 13 ? -1 : 1, &axis));
    TRY(av_nn__onnx_out(L, 0, &y));
    if (t->dtype != AV_NN_F32)
        return AV_NN_ONNX_UNSUP(L, "input type %s", av_nn_dtype_name(t->dtype));
    int r = t->rank;
    if (axis < -r || axis >= r || r == 0)
        return AV_NN_ONNX_BAD(L, "axis %lld out of range for rank %d", (long long)axis, r);
    int a = (int)(axis < 0 ? axis + r : axis);
    av_nn__params p = {0};
    p.softmax.beta = 1.0f;
    p.softmax.log = av_nn__onnx_str_eq(L->node->op_type, "LogSoftmax");
    if (L->opset >= 13 || a == r - 1) {
        p.softmax.axis = a;
        return av_nn__onnx_emit1(L, AV_NN_OP_SOFTMAX, &p, &x, 1, &y);
    }
    /* opset < 13: softmax over the flattened dims [axis, rank) */
    int64_t d2[2] = {1, 1};
    for (int i = 0; i < r; i++)
        d2[i >= a] *= t->dims[i];
    int64_t dims[AV_NN_MAX_RANK];
    memcpy(dims, t->dims, sizeof dims);
    av_nn__tid f, s;
    TRY(av_nn__onnx_reshape(L, x, d2, 2, -1, &f));
    p.softmax.axis = 1;
    s = -1;
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_SOFTMAX, &p, &f, 1, &s));
    return av_nn__onnx_reshape(L, s, dims, r, y, &y);
}

/* ---- Gemm / MatMul ---- */

/* Y = alpha * A' B' + beta * C, with B' turned into FULLY_CONNECTED's [N,K]. */
static av_nn_status lower_gemm(av_nn__onnx_lower *L)
{
    av_nn__tid A = av_nn__onnx_in(L, 0), B = av_nn__onnx_in(L, 1), C = av_nn__onnx_in(L, 2), y;
    int64_t ta, tb;
    float alpha, beta;
    TRY(av_nn__onnx_attr_int(L, "transA", 0, &ta));
    TRY(av_nn__onnx_attr_int(L, "transB", 0, &tb));
    TRY(av_nn__onnx_attr_float(L, "alpha", 1.0f, &alpha));
    TRY(av_nn__onnx_attr_float(L, "beta", 1.0f, &beta));
    if (A < 0 || B < 0)
        return AV_NN_ONNX_BAD(L, "needs A and B");
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor tA_s = *av_nn__onnx_t(L, A), tB_s = *av_nn__onnx_t(L, B);
    const av_nn__tensor *tA = &tA_s, *tB = &tB_s;
    if (tA->rank != 2 || tB->rank != 2)
        return AV_NN_ONNX_BAD(L, "A and B must be 2-D (ranks %d, %d)", tA->rank, tB->rank);
    if (tA->dtype != AV_NN_F32 || tB->dtype != AV_NN_F32)
        return AV_NN_ONNX_UNSUP(L, "Gemm of %s", av_nn_dtype_name(tA->dtype));
    int64_t N = tb ? tB->dims[0] : tB->dims[1];
    TRY(av_nn__onnx_out(L, 0, &y));
    static const int swap[2] = {1, 0};
    if (ta)
        TRY(av_nn__onnx_transpose(L, A, swap, 2, -1, &A));
    av_nn__tid W = B;
    if (!tb)
        TRY(av_nn__onnx_transpose(L, B, swap, 2, -1, &W));
    av_nn__tid bias = -1;
    if (C >= 0 && beta == 0.0f)
        C = -1; /* beta 0: C does not contribute (ONNX reference skips it too) */
    if (C >= 0 && alpha == 1.0f) {
        /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor tc_s = *av_nn__onnx_t(L, C);
    const av_nn__tensor *tc = &tc_s;
        bool row = tc->dtype == AV_NN_F32 && av_nn__numel(tc) == N &&
                   (tc->rank == 1 || (tc->rank == 2 && tc->dims[0] == 1)) &&
                   (beta == 1.0f || tc->data);
        if (row) {
            int64_t n1 = N;
            TRY(av_nn__onnx_reshape(L, C, &n1, 1, -1, &bias));
            if (beta != 1.0f) {
                av_nn__tid b;
                TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, beta, &b));
                TRY(av_nn__onnx_binary(L, AV_NN_BIN_MUL, bias, b, -1, &bias));
            }
            C = -1;
        }
    }
    av_nn__params p = {0};
    p.fc.keep_dims = true;
    av_nn__tid in[3] = {A, W, bias}, acc = (C < 0 && alpha == 1.0f) ? y : -1;
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_FULLY_CONNECTED, &p, in, bias >= 0 ? 3 : 2, &acc));
    if (alpha != 1.0f) {
        av_nn__tid a;
        TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, alpha, &a));
        TRY(av_nn__onnx_binary(L, AV_NN_BIN_MUL, acc, a, C < 0 ? y : -1, &acc));
    }
    if (C >= 0) {
        if (beta != 1.0f) {
            av_nn__tid b;
            TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, beta, &b));
            TRY(av_nn__onnx_binary(L, AV_NN_BIN_MUL, C, b, -1, &C));
        }
        TRY(av_nn__onnx_binary(L, AV_NN_BIN_ADD, acc, C, y, &acc));
    }
    return AV_NN_OK;
}

static av_nn_status lower_matmul(av_nn__onnx_lower *L)
{
    av_nn__tid in[2] = {av_nn__onnx_in(L, 0), av_nn__onnx_in(L, 1)}, y;
    if (in[0] < 0 || in[1] < 0)
        return AV_NN_ONNX_BAD(L, "needs two inputs");
    if (av_nn__onnx_t(L, in[0])->dtype != AV_NN_F32)
        return AV_NN_ONNX_UNSUP(L, "MatMul of %s",
                                av_nn_dtype_name(av_nn__onnx_t(L, in[0])->dtype));
    TRY(av_nn__onnx_out(L, 0, &y));
    return av_nn__onnx_emit1(L, AV_NN_OP_MATMUL, NULL, in, 2, &y);
}

/* ---- reductions ---- */

static av_nn_status lower_reduce(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y;
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
    av_nn__onnx_str op = L->node->op_type;
    int64_t keep, noop;
    TRY(av_nn__onnx_attr_int(L, "keepdims", 1, &keep));
    TRY(av_nn__onnx_attr_int(L, "noop_with_empty_axes", 0, &noop));
    int64_t axes[AV_NN_MAX_RANK];
    int na = -1;
    bool axes_input = av_nn__onnx_str_eq(op, "ReduceSum") && L->opset >= 13;
    if (axes_input) {
        if (av_nn__onnx_in(L, 1) >= 0)
            TRY(av_nn__onnx_const_ints(L, av_nn__onnx_in(L, 1), "axes", axes, AV_NN_MAX_RANK,
                                       &na));
    } else {
        TRY(av_nn__onnx_attr_ints(L->node, "axes", axes, AV_NN_MAX_RANK, &na, L->err,
                                  L->errlen));
    }
    TRY(av_nn__onnx_out(L, 0, &y));
    if (na <= 0 && noop)
        return av_nn__onnx_emit1(L, AV_NN_OP_IDENTITY, NULL, &x, 1, &y);
    if (t->dtype != AV_NN_F32 && t->dtype != AV_NN_I32 && t->dtype != AV_NN_I64)
        return AV_NN_ONNX_UNSUP(L, "reduction of %s", av_nn_dtype_name(t->dtype));
    av_nn__params p = {0};
    p.reduce.keep_dims = keep != 0;
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + t->rank : axes[i];
        if (a < 0 || a >= t->rank)
            return AV_NN_ONNX_BAD(L, "axis %lld out of range for rank %d", (long long)axes[i],
                                  t->rank);
        p.reduce.axes_mask |= 1u << a;
    }
    if (t->rank == 0)
        return av_nn__onnx_emit1(L, AV_NN_OP_IDENTITY, NULL, &x, 1, &y);
    if (p.reduce.axes_mask == 0)
        p.reduce.axes_mask = (1u << t->rank) - 1;
    /* composite forms: pre-map, reduce, post-map */
    av_nn__unary_kind pre = AV_NN_UN_ABS, post = AV_NN_UN_ABS;
    bool has_pre = false, square = false, has_post = false;
    p.reduce.kind = AV_NN_REDUCE_SUM;
    if (av_nn__onnx_str_eq(op, "ReduceMean"))
        p.reduce.kind = AV_NN_REDUCE_MEAN;
    else if (av_nn__onnx_str_eq(op, "ReduceMax"))
        p.reduce.kind = AV_NN_REDUCE_MAX;
    else if (av_nn__onnx_str_eq(op, "ReduceMin"))
        p.reduce.kind = AV_NN_REDUCE_MIN;
    else if (av_nn__onnx_str_eq(op, "ReduceProd"))
        p.reduce.kind = AV_NN_REDUCE_PROD;
    else if (av_nn__onnx_str_eq(op, "ReduceL1"))
        has_pre = true;
    else if (av_nn__onnx_str_eq(op, "ReduceL2"))
        square = has_post = true, post = AV_NN_UN_SQRT;
    else if (av_nn__onnx_str_eq(op, "ReduceSumSquare"))
        square = true;
    else if (av_nn__onnx_str_eq(op, "ReduceLogSum"))
        has_post = true, post = AV_NN_UN_LOG;
    else if (av_nn__onnx_str_eq(op, "ReduceLogSumExp"))
        has_pre = has_post = true, pre = AV_NN_UN_EXP, post = AV_NN_UN_LOG;
    if ((has_pre || square || has_post) && t->dtype != AV_NN_F32)
        return AV_NN_ONNX_UNSUP(L, "%.*s of %s", (int)op.n, op.p, av_nn_dtype_name(t->dtype));
    av_nn__tid v = x;
    if (has_pre)
        TRY(av_nn__onnx_unary(L, pre, v, -1, &v));
    if (square)
        TRY(av_nn__onnx_binary(L, AV_NN_BIN_MUL, v, v, -1, &v));
    av_nn__tid r = has_post ? -1 : y;
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_REDUCE, &p, &v, 1, &r));
    if (has_post)
        TRY(av_nn__onnx_unary(L, post, r, y, &r));
    return AV_NN_OK;
}

/* ---- Cast, Where ---- */

static bool onnx_dtype(int64_t t, av_nn_dtype *dt)
{
    switch (t) {
    case 1: *dt = AV_NN_F32; return true;
    case 2: *dt = AV_NN_U8; return true;
    case 3: *dt = AV_NN_I8; return true;
    case 6: *dt = AV_NN_I32; return true;
    case 7: *dt = AV_NN_I64; return true;
    case 9: *dt = AV_NN_BOOL; return true;
    case 10: *dt = AV_NN_F16; return true;
    default: return false;
    }
}

static av_nn_status lower_cast(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y;
    av_nn__params p = {0};
    if (av_nn__onnx_str_eq(L->node->op_type, "CastLike")) {
        av_nn__tid like = av_nn__onnx_in(L, 1);
        if (like < 0)
            return AV_NN_ONNX_BAD(L, "needs target_type");
        p.cast.to = av_nn__onnx_t(L, like)->dtype;
    } else {
        int64_t to;
        TRY(av_nn__onnx_attr_int(L, "to", 0, &to));
        if (!onnx_dtype(to, &p.cast.to))
            return AV_NN_ONNX_UNSUP(L, "cast to %s", av_nn__onnx_type_name((int)to));
    }
    TRY(av_nn__onnx_out(L, 0, &y));
    return av_nn__onnx_emit1(L, AV_NN_OP_CAST, &p, &x, 1, &y);
}

static av_nn_status lower_where(av_nn__onnx_lower *L)
{
    av_nn__tid in[3] = {av_nn__onnx_in(L, 0), av_nn__onnx_in(L, 1), av_nn__onnx_in(L, 2)}, y;
    if (in[1] < 0 || in[2] < 0)
        return AV_NN_ONNX_BAD(L, "needs condition, X and Y");
    TRY(av_nn__onnx_out(L, 0, &y));
    return av_nn__onnx_emit1(L, AV_NN_OP_WHERE, NULL, in, 3, &y);
}

/* ---- QuantizeLinear / DequantizeLinear ---- */

/* Reshape a per-axis parameter [C] so it broadcasts along axis of x (rank r). */
static av_nn_status per_axis(av_nn__onnx_lower *L, av_nn__tid v, int r, int64_t axis,
                             av_nn__tid *out)
{
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, v);
    const av_nn__tensor *t = &t_s;
    *out = v;
    if (av_nn__numel(t) == 1 && t->rank <= 1)
        return AV_NN_OK;
    if (t->rank != 1)
        return AV_NN_ONNX_UNSUP(L, "scale / zero point of rank %d", t->rank);
    int64_t a = axis < 0 ? axis + r : axis;
    if (a < 0 || a >= r)
        return AV_NN_ONNX_BAD(L, "axis %lld out of range for rank %d", (long long)axis, r);
    int64_t dims[AV_NN_MAX_RANK];
    for (int i = 0; i < r; i++)
        dims[i] = i == a ? t->dims[0] : 1;
    return av_nn__onnx_reshape(L, v, dims, r, -1, out);
}

static av_nn_status lower_quantize(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), s = av_nn__onnx_in(L, 1), zp = av_nn__onnx_in(L, 2), y;
    int64_t axis;
    TRY(av_nn__onnx_attr_int(L, "axis", 1, &axis));
    if (x < 0 || s < 0)
        return AV_NN_ONNX_BAD(L, "needs x and y_scale");
    av_nn_dtype out_t = zp >= 0 ? av_nn__onnx_t(L, zp)->dtype : AV_NN_U8;
    if (out_t != AV_NN_U8 && out_t != AV_NN_I8)
        return AV_NN_ONNX_UNSUP(L, "output type %s", av_nn_dtype_name(out_t));
    if (av_nn__onnx_t(L, s)->dtype != AV_NN_F32)
        return AV_NN_ONNX_BAD(L, "y_scale must be float");
    int r = av_nn__onnx_t(L, x)->rank;
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params c = {0};
    av_nn__tid v = x;
    if (av_nn__onnx_t(L, x)->dtype != AV_NN_F32) {
        c.cast.to = AV_NN_F32;
        v = -1;
        TRY(av_nn__onnx_emit1(L, AV_NN_OP_CAST, &c, &x, 1, &v));
    }
    TRY(per_axis(L, s, r, axis, &s));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_DIV, v, s, -1, &v));
    TRY(av_nn__onnx_unary(L, AV_NN_UN_ROUND, v, -1, &v));
    if (zp >= 0) {
        av_nn__tid zf = -1;
        c.cast.to = AV_NN_F32;
        TRY(per_axis(L, zp, r, axis, &zp));
        TRY(av_nn__onnx_emit1(L, AV_NN_OP_CAST, &c, &zp, 1, &zf));
        TRY(av_nn__onnx_binary(L, AV_NN_BIN_ADD, v, zf, -1, &v));
    }
    av_nn__params q = {0};
    q.clamp.min = out_t == AV_NN_U8 ? 0.0f : -128.0f;
    q.clamp.max = out_t == AV_NN_U8 ? 255.0f : 127.0f;
    av_nn__tid cl = -1;
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_CLAMP, &q, &v, 1, &cl));
    c.cast.to = out_t;
    return av_nn__onnx_emit1(L, AV_NN_OP_CAST, &c, &cl, 1, &y);
}

static av_nn_status lower_dequantize(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), s = av_nn__onnx_in(L, 1), zp = av_nn__onnx_in(L, 2), y;
    int64_t axis;
    TRY(av_nn__onnx_attr_int(L, "axis", 1, &axis));
    if (x < 0 || s < 0)
        return AV_NN_ONNX_BAD(L, "needs x and x_scale");
    av_nn_dtype xt = av_nn__onnx_t(L, x)->dtype;
    if (xt != AV_NN_U8 && xt != AV_NN_I8 && xt != AV_NN_I32)
        return AV_NN_ONNX_UNSUP(L, "input type %s", av_nn_dtype_name(xt));
    if (av_nn__onnx_t(L, s)->dtype != AV_NN_F32)
        return AV_NN_ONNX_BAD(L, "x_scale must be float");
    int r = av_nn__onnx_t(L, x)->rank;
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params c = {0};
    c.cast.to = AV_NN_F32;
    av_nn__tid v = -1;
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_CAST, &c, &x, 1, &v));
    if (zp >= 0) {
        av_nn__tid zf = -1;
        TRY(per_axis(L, zp, r, axis, &zp));
        TRY(av_nn__onnx_emit1(L, AV_NN_OP_CAST, &c, &zp, 1, &zf));
        TRY(av_nn__onnx_binary(L, AV_NN_BIN_SUB, v, zf, -1, &v));
    }
    TRY(per_axis(L, s, r, axis, &s));
    return av_nn__onnx_binary(L, AV_NN_BIN_MUL, v, s, y, &v);
}

const av_nn__onnx_op_entry av_nn__onnx_ops_math[] = {
    {"Abs", lower_unary, ""},
    {"Neg", lower_unary, ""},
    {"Exp", lower_unary, ""},
    {"Log", lower_unary, ""},
    {"Sqrt", lower_unary, ""},
    {"Floor", lower_unary, ""},
    {"Ceil", lower_unary, ""},
    {"Round", lower_unary, ""},
    {"Sigmoid", lower_unary, ""},
    {"Tanh", lower_unary, ""},
    {"HardSwish", lower_unary, ""},
    {"HardSigmoid", lower_unary, "alpha beta"},
    {"Elu", lower_unary, "alpha"},
    {"Selu", lower_unary, "alpha gamma"},
    {"Softplus", lower_unary, ""},
    {"Sin", lower_unary, ""},
    {"Cos", lower_unary, ""},
    {"Reciprocal", lower_unary, ""},
    {"Not", lower_unary, ""},
    {"Sign", lower_unary, ""},
    {"Erf", lower_unary, ""},
    {"Relu", lower_relu, ""},
    {"LeakyRelu", lower_leaky, "alpha"},
    {"PRelu", lower_prelu, ""},
    {"Softsign", lower_softsign, ""},
    {"ThresholdedRelu", lower_thresholded_relu, "alpha"},
    {"Add", lower_binary, "broadcast axis"},
    {"Sub", lower_binary, "broadcast axis"},
    {"Mul", lower_binary, "broadcast axis"},
    {"Div", lower_binary, "broadcast axis"},
    {"Pow", lower_binary, "broadcast axis"},
    {"Equal", lower_binary, "broadcast axis"},
    {"Less", lower_binary, "broadcast axis"},
    {"LessOrEqual", lower_binary, ""},
    {"Greater", lower_binary, "broadcast axis"},
    {"GreaterOrEqual", lower_binary, ""},
    {"And", lower_binary, "broadcast axis"},
    {"Or", lower_binary, "broadcast axis"},
    {"Xor", lower_binary, "broadcast axis"},
    {"Mod", lower_mod, "fmod"},
    {"Max", lower_variadic, ""},
    {"Min", lower_variadic, ""},
    {"Sum", lower_variadic, ""},
    {"Mean", lower_variadic, ""},
    {"Clip", lower_clip, "min max"},
    {"Softmax", lower_softmax, "axis"},
    {"LogSoftmax", lower_softmax, "axis"},
    {"Gemm", lower_gemm, "alpha beta transA transB broadcast"},
    {"MatMul", lower_matmul, ""},
    {"ReduceMean", lower_reduce, "axes keepdims"},
    {"ReduceSum", lower_reduce, "axes keepdims noop_with_empty_axes"},
    {"ReduceMax", lower_reduce, "axes keepdims"},
    {"ReduceMin", lower_reduce, "axes keepdims"},
    {"ReduceProd", lower_reduce, "axes keepdims"},
    {"ReduceL1", lower_reduce, "axes keepdims"},
    {"ReduceL2", lower_reduce, "axes keepdims"},
    {"ReduceSumSquare", lower_reduce, "axes keepdims"},
    {"ReduceLogSum", lower_reduce, "axes keepdims"},
    {"ReduceLogSumExp", lower_reduce, "axes keepdims"},
    {"Cast", lower_cast, "to"},
    {"CastLike", lower_cast, ""},
    {"Where", lower_where, ""},
    {"QuantizeLinear", lower_quantize, "axis"},
    {"DequantizeLinear", lower_dequantize, "axis"},
    {NULL, NULL, NULL},
};
