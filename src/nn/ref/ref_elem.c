/*
 * ref_elem.c - reference kernels for elementwise ops: binary (numpy
 * broadcasting), unary, clamp, leaky relu, prelu, where, batch norm,
 * softmax, cast, quantize, dequantize.
 *
 * dtype handling: f32 computes in float; quantised u8/i8 dequantise, compute
 * in float and requantise to the output's quantisation; integer dtypes
 * compute exactly in int64 (DIV truncates like ONNX, FLOOR_DIV/FLOOR_MOD
 * follow TF, FMOD follows C); bool for logical ops and comparisons; f16 and
 * mixed cases go through double.
 */
#include "nn/ref/ref.h"

#include <math.h>
#include <string.h>

/* Advance a row-major multi-index over dims d (rank r) and k operand offsets. */
static void bc_next(int r, const int64_t *d, int64_t *idx, int k,
                    const int64_t (*st)[AV_NN_MAX_RANK], int64_t *off)
{
    for (int i = r - 1; i >= 0; i--) {
        idx[i]++;
        for (int j = 0; j < k; j++)
            off[j] += st[j][i];
        if (idx[i] < d[i])
            return;
        for (int j = 0; j < k; j++)
            off[j] -= st[j][i] * d[i];
        idx[i] = 0;
    }
}

static double bin_f(av_nn__binary_kind k, double a, double b)
{
    switch (k) {
    case AV_NN_BIN_ADD:
        return a + b;
    case AV_NN_BIN_SUB:
        return a - b;
    case AV_NN_BIN_MUL:
        return a * b;
    case AV_NN_BIN_DIV:
        return a / b;
    case AV_NN_BIN_FLOOR_DIV:
        return floor(a / b);
    case AV_NN_BIN_FLOOR_MOD: {
        double m = fmod(a, b);
        return (m != 0 && ((m < 0) != (b < 0))) ? m + b : m;
    }
    case AV_NN_BIN_FMOD:
        return fmod(a, b);
    case AV_NN_BIN_MAX:
        return a != a || b != b ? NAN : (a > b ? a : b);
    case AV_NN_BIN_MIN:
        return a != a || b != b ? NAN : (a < b ? a : b);
    case AV_NN_BIN_POW:
        return pow(a, b);
    case AV_NN_BIN_SQUARED_DIFF:
        return (a - b) * (a - b);
    case AV_NN_BIN_EQUAL:
        return a == b;
    case AV_NN_BIN_NOT_EQUAL:
        return a != b;
    case AV_NN_BIN_LESS:
        return a < b;
    case AV_NN_BIN_LESS_EQUAL:
        return a <= b;
    case AV_NN_BIN_GREATER:
        return a > b;
    case AV_NN_BIN_GREATER_EQUAL:
        return a >= b;
    case AV_NN_BIN_AND:
        return (a != 0) && (b != 0);
    case AV_NN_BIN_OR:
        return (a != 0) || (b != 0);
    case AV_NN_BIN_XOR:
        return (a != 0) != (b != 0);
    }
    return 0;
}

static int64_t ipow(int64_t a, int64_t b)
{
    if (b < 0)
        return a == 1 ? 1 : a == -1 ? (b & 1 ? -1 : 1) : 0;
    uint64_t r = 1, base = (uint64_t)a;
    while (b) { /* wraps like the fixed-width integer it models */
        if (b & 1)
            r *= base;
        base *= base;
        b >>= 1;
    }
    return (int64_t)r;
}

/* Exact integer binary op; division by zero yields 0 rather than a trap. */
static int64_t bin_i(av_nn__binary_kind k, int64_t a, int64_t b)
{
    switch (k) {
    case AV_NN_BIN_ADD:
        return (int64_t)((uint64_t)a + (uint64_t)b);
    case AV_NN_BIN_SUB:
        return (int64_t)((uint64_t)a - (uint64_t)b);
    case AV_NN_BIN_MUL:
        return (int64_t)((uint64_t)a * (uint64_t)b);
    case AV_NN_BIN_DIV:
        return b == 0 || (b == -1 && a == INT64_MIN) ? 0 : a / b;
    case AV_NN_BIN_FLOOR_DIV: {
        if (b == 0 || (b == -1 && a == INT64_MIN))
            return 0;
        int64_t q = a / b;
        return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
    }
    case AV_NN_BIN_FLOOR_MOD: {
        if (b == 0 || b == -1)
            return 0;
        int64_t m = a % b;
        return (m != 0 && ((m < 0) != (b < 0))) ? m + b : m;
    }
    case AV_NN_BIN_FMOD:
        return b == 0 || b == -1 ? 0 : a % b;
    case AV_NN_BIN_MAX:
        return a > b ? a : b;
    case AV_NN_BIN_MIN:
        return a < b ? a : b;
    case AV_NN_BIN_POW:
        return ipow(a, b);
    case AV_NN_BIN_SQUARED_DIFF: {
        uint64_t d = (uint64_t)a - (uint64_t)b;
        return (int64_t)(d * d);
    }
    default:
        return (int64_t)bin_f(k, (double)a, (double)b);
    }
}

static bool is_intlike(av_nn_dtype t)
{
    return t == AV_NN_I32 || t == AV_NN_I64 || t == AV_NN_U8 || t == AV_NN_I8 || t == AV_NN_BOOL;
}

/* Store an integer result wrapping to the dtype's width (ONNX integer arithmetic). */
static void store_wrap(void *p, av_nn_dtype t, int64_t i, int64_t v)
{
    switch (t) {
    case AV_NN_I32:
        ((int32_t *)p)[i] = (int32_t)(uint32_t)(uint64_t)v;
        break;
    case AV_NN_U8:
        ((uint8_t *)p)[i] = (uint8_t)(uint64_t)v;
        break;
    case AV_NN_I8:
        ((int8_t *)p)[i] = (int8_t)(uint8_t)(uint64_t)v;
        break;
    default:
        av_nn__store_int(p, t, i, v);
        break;
    }
}

/* y = act(a op b) with numpy broadcasting. */
av_nn_status av_nn__ref_binary(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                               void *const *out, char *err, size_t errlen)
{
    const av_nn__tensor *a = &g->tensors[n->in[0]], *b = &g->tensors[n->in[1]];
    const av_nn__tensor *y = &g->tensors[n->out[0]];
    av_nn__binary_kind k = n->p.binary.kind;
    const av_nn__fused_act *act = &n->p.binary.act;
    int64_t st[2][AV_NN_MAX_RANK], idx[AV_NN_MAX_RANK] = {0}, off[2] = {0, 0};
    av_nn__bcast_strides(y->rank, y->dims, a->rank, a->dims, st[0]);
    av_nn__bcast_strides(y->rank, y->dims, b->rank, b->dims, st[1]);
    int64_t total = av_nn__numel(y);
    bool qa = av_nn__is_quant(a), qb = av_nn__is_quant(b), qy = av_nn__is_quant(y);
    bool cmp = y->dtype == AV_NN_BOOL && a->dtype != AV_NN_BOOL;
    if (qa != qb || (qa && !qy && !cmp))
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n,
                                "mixed quantised and plain operands");
    if (a->dtype == AV_NN_F32 && b->dtype == AV_NN_F32 && y->dtype == AV_NN_BOOL &&
        k >= AV_NN_BIN_EQUAL && k <= AV_NN_BIN_GREATER_EQUAL && av_nn__numel(a) == total &&
        av_nn__numel(b) == total) {
        /* same-shape float comparison (CenterNet's peak test on 1.3M scores): no broadcast walk */
        const float *ad = in[0], *bd = in[1];
        uint8_t *yd = out[0];
        for (int64_t i = 0; i < total; i++) {
            float u = ad[i], v = bd[i];
            yd[i] = k == AV_NN_BIN_EQUAL           ? u == v
                    : k == AV_NN_BIN_NOT_EQUAL     ? u != v
                    : k == AV_NN_BIN_LESS          ? u < v
                    : k == AV_NN_BIN_LESS_EQUAL    ? u <= v
                    : k == AV_NN_BIN_GREATER       ? u > v
                                                   : u >= v;
        }
    } else if (a->dtype == AV_NN_F32 && b->dtype == AV_NN_F32) {
        const float *ad = in[0], *bd = in[1];
        for (int64_t i = 0; i < total; i++) {
            double v = bin_f(k, ad[off[0]], bd[off[1]]);
            if (y->dtype == AV_NN_BOOL)
                ((uint8_t *)out[0])[i] = v != 0;
            else
                ((float *)out[0])[i] = av_nn__apply_act((float)v, act);
            bc_next(y->rank, y->dims, idx, 2, st, off);
        }
    } else if (qa) {
        av_nn__qout q;
        if (qy)
            av_nn__qout_init(&q, y, act);
        for (int64_t i = 0; i < total; i++) {
            double va = av_nn__deq((int32_t)av_nn__load_int(in[0], a->dtype, off[0]), a);
            double vb = av_nn__deq((int32_t)av_nn__load_int(in[1], b->dtype, off[1]), b);
            double v = bin_f(k, va, vb);
            if (cmp)
                ((uint8_t *)out[0])[i] = v != 0;
            else
                av_nn__store_int(out[0], y->dtype, i, av_nn__qout_put(&q, v));
            bc_next(y->rank, y->dims, idx, 2, st, off);
        }
    } else if (is_intlike(a->dtype) && is_intlike(b->dtype)) {
        for (int64_t i = 0; i < total; i++) {
            int64_t va = av_nn__load_int(in[0], a->dtype, off[0]);
            int64_t vb = av_nn__load_int(in[1], b->dtype, off[1]);
            store_wrap(out[0], y->dtype, i, bin_i(k, va, vb));
            bc_next(y->rank, y->dims, idx, 2, st, off);
        }
    } else {
        for (int64_t i = 0; i < total; i++) {
            double v = bin_f(k, av_nn__load_elem(in[0], a->dtype, off[0]),
                             av_nn__load_elem(in[1], b->dtype, off[1]));
            if (y->dtype != AV_NN_BOOL)
                v = av_nn__apply_act((float)v, act);
            av_nn__store_elem(out[0], y->dtype, i, v);
            bc_next(y->rank, y->dims, idx, 2, st, off);
        }
    }
    return AV_NN_OK;
}

/* y = cond ? a : b with broadcasting of all three; copies element bytes. */
av_nn_status av_nn__ref_where(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                              void *const *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    const av_nn__tensor *c = &g->tensors[n->in[0]], *a = &g->tensors[n->in[1]];
    const av_nn__tensor *b = &g->tensors[n->in[2]], *y = &g->tensors[n->out[0]];
    int64_t st[3][AV_NN_MAX_RANK], idx[AV_NN_MAX_RANK] = {0}, off[3] = {0, 0, 0};
    av_nn__bcast_strides(y->rank, y->dims, c->rank, c->dims, st[0]);
    av_nn__bcast_strides(y->rank, y->dims, a->rank, a->dims, st[1]);
    av_nn__bcast_strides(y->rank, y->dims, b->rank, b->dims, st[2]);
    size_t es = av_nn_dtype_size(y->dtype);
    int64_t total = av_nn__numel(y);
    for (int64_t i = 0; i < total; i++) {
        bool cv = av_nn__load_elem(in[0], c->dtype, off[0]) != 0;
        const uint8_t *src = cv ? (const uint8_t *)in[1] + off[1] * (int64_t)es
                                : (const uint8_t *)in[2] + off[2] * (int64_t)es;
        memcpy((uint8_t *)out[0] + i * (int64_t)es, src, es);
        bc_next(y->rank, y->dims, idx, 3, st, off);
    }
    return AV_NN_OK;
}

static double erf_d(double x)
{
    return erf(x);
}

static double un_f(const av_nn__unary_params *p, double x)
{
    switch (p->kind) {
    case AV_NN_UN_ABS:
        return fabs(x);
    case AV_NN_UN_NEG:
        return -x;
    case AV_NN_UN_EXP:
        return exp(x);
    case AV_NN_UN_LOG:
        return log(x);
    case AV_NN_UN_SQRT:
        return sqrt(x);
    case AV_NN_UN_RSQRT:
        return 1.0 / sqrt(x);
    case AV_NN_UN_SQUARE:
        return x * x;
    case AV_NN_UN_FLOOR:
        return floor(x);
    case AV_NN_UN_CEIL:
        return ceil(x);
    case AV_NN_UN_ROUND:
        return nearbyint(x); /* default rounding mode: half to even */
    case AV_NN_UN_SIGMOID:
        return 1.0 / (1.0 + exp(-x));
    case AV_NN_UN_TANH:
        return tanh(x);
    case AV_NN_UN_HARDSWISH: {
        double r = x + 3 < 0 ? 0 : x + 3 > 6 ? 6 : x + 3;
        return p->alpha != 0 ? x * p->alpha * r : x * r / 6; /* alpha: TF.js's f16 1/6 */
    }
    case AV_NN_UN_HARDSIGMOID: {
        double al = p->alpha, be = p->beta;
        if (al == 0 && be == 0) /* ONNX defaults */
            al = 0.2, be = 0.5;
        double v = al * x + be;
        return v < 0 ? 0 : v > 1 ? 1 : v;
    }
    case AV_NN_UN_ELU: {
        double al = p->alpha != 0 ? p->alpha : 1.0;
        return x < 0 ? al * (exp(x) - 1) : x;
    }
    case AV_NN_UN_SELU: {
        double al = p->alpha != 0 ? p->alpha : 1.67326319217681884765625;
        double ga = p->beta != 0 ? p->beta : 1.05070102214813232421875;
        return ga * (x > 0 ? x : al * (exp(x) - 1));
    }
    case AV_NN_UN_SOFTPLUS:
        return x > 30 ? x : log1p(exp(x));
    case AV_NN_UN_SIN:
        return sin(x);
    case AV_NN_UN_COS:
        return cos(x);
    case AV_NN_UN_RECIPROCAL:
        return 1.0 / x;
    case AV_NN_UN_NOT:
        return x == 0;
    case AV_NN_UN_SIGN:
        return x > 0 ? 1 : x < 0 ? -1 : 0;
    case AV_NN_UN_ERF:
        return erf_d(x);
    case AV_NN_UN_RELU:
        return x < 0 ? 0 : x;
    }
    return x;
}

av_nn_status av_nn__ref_unary(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                              void *const *out, char *err, size_t errlen)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    const av_nn__unary_params *p = &n->p.unary;
    int64_t total = av_nn__numel(x);
    if (x->dtype == AV_NN_F32) {
        const float *xd = in[0];
        float *yd = out[0];
        const av_nn__fused_act sig = {.kind = AV_NN_ACT_SIGMOID};
        if (p->as_act && p->kind == AV_NN_UN_SIGMOID) /* a conv's act split off: its float sigmoid */
            for (int64_t i = 0; i < total; i++)
                yd[i] = av_nn__apply_act(xd[i], &sig);
        else
            for (int64_t i = 0; i < total; i++)
                yd[i] = (float)un_f(p, xd[i]);
    } else if (av_nn__is_quant(x)) {
        if (!av_nn__is_quant(y))
            return av_nn__node_fail(err, errlen, AV_NN_E_FORMAT, n, "output not quantised");
        av_nn__qout q;
        av_nn__qout_init(&q, y, NULL);
        for (int64_t i = 0; i < total; i++) {
            double v = un_f(p, av_nn__deq((int32_t)av_nn__load_int(in[0], x->dtype, i), x));
            av_nn__store_int(out[0], y->dtype, i, av_nn__qout_put(&q, v));
        }
    } else if (is_intlike(x->dtype)) {
        for (int64_t i = 0; i < total; i++) {
            int64_t v = av_nn__load_int(in[0], x->dtype, i);
            switch (p->kind) {
            case AV_NN_UN_ABS:
                v = v < 0 ? (int64_t)(0 - (uint64_t)v) : v;
                break;
            case AV_NN_UN_NEG:
                v = (int64_t)(0 - (uint64_t)v);
                break;
            case AV_NN_UN_SQUARE:
                v = (int64_t)((uint64_t)v * (uint64_t)v);
                break;
            case AV_NN_UN_SIGN:
                v = v > 0 ? 1 : v < 0 ? -1 : 0;
                break;
            case AV_NN_UN_RELU:
                v = v < 0 ? 0 : v;
                break;
            case AV_NN_UN_NOT:
                v = v == 0;
                break;
            case AV_NN_UN_FLOOR:
            case AV_NN_UN_CEIL:
            case AV_NN_UN_ROUND:
                break;
            default:
                v = (int64_t)un_f(p, (double)v);
                break;
            }
            store_wrap(out[0], y->dtype, i, v);
        }
    } else {
        for (int64_t i = 0; i < total; i++)
            av_nn__store_elem(out[0], y->dtype, i, un_f(p, av_nn__load_elem(in[0], x->dtype, i)));
    }
    return AV_NN_OK;
}

/* Shared by clamp and leaky relu: f(x) in the real domain for any dtype. */
static av_nn_status map_real(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                             void *const *out, const av_nn__fused_act *act)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    int64_t total = av_nn__numel(x);
    if (x->dtype == AV_NN_F32) {
        const float *xd = in[0];
        float *yd = out[0];
        for (int64_t i = 0; i < total; i++)
            yd[i] = av_nn__apply_act(xd[i], act);
    } else if (av_nn__is_quant(x) && av_nn__is_quant(y)) {
        av_nn__qout q;
        av_nn__qout_init(&q, y, NULL);
        for (int64_t i = 0; i < total; i++) {
            double v = av_nn__deq((int32_t)av_nn__load_int(in[0], x->dtype, i), x);
            av_nn__store_int(out[0], y->dtype, i,
                             av_nn__qout_put(&q, av_nn__apply_act((float)v, act)));
        }
    } else if (x->dtype == AV_NN_I32 || x->dtype == AV_NN_I64) {
        for (int64_t i = 0; i < total; i++) {
            int64_t v = av_nn__load_int(in[0], x->dtype, i);
            if (act->kind == AV_NN_ACT_CLAMP) {
                if ((double)v < act->min)
                    v = (int64_t)ceil(act->min);
                if ((double)v > act->max)
                    v = (int64_t)floor(act->max);
            } else if (v < 0) {
                v = (int64_t)floor((double)v * act->alpha);
            }
            av_nn__store_int(out[0], y->dtype, i, v);
        }
    } else {
        for (int64_t i = 0; i < total; i++)
            av_nn__store_elem(out[0], y->dtype, i,
                              av_nn__apply_act((float)av_nn__load_elem(in[0], x->dtype, i), act));
    }
    return AV_NN_OK;
}

av_nn_status av_nn__ref_clamp(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                              void *const *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    av_nn__fused_act a = {.kind = AV_NN_ACT_CLAMP, .min = n->p.clamp.min, .max = n->p.clamp.max};
    return map_real(g, n, in, out, &a);
}

av_nn_status av_nn__ref_leaky(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                              void *const *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    av_nn__fused_act a = {.kind = AV_NN_ACT_LEAKY, .alpha = n->p.leaky.alpha};
    return map_real(g, n, in, out, &a);
}

/* y = x < 0 ? slope * x : x, slope broadcast to x. */
av_nn_status av_nn__ref_prelu(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                              void *const *out, char *err, size_t errlen)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]], *s = &g->tensors[n->in[1]];
    const av_nn__tensor *y = &g->tensors[n->out[0]];
    if (av_nn__is_quant(x) || x->dtype == AV_NN_BOOL)
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n, "dtype %s",
                                av_nn_dtype_name(x->dtype));
    int64_t st[2][AV_NN_MAX_RANK], idx[AV_NN_MAX_RANK] = {0}, off[2] = {0, 0};
    av_nn__bcast_strides(y->rank, y->dims, x->rank, x->dims, st[0]);
    av_nn__bcast_strides(y->rank, y->dims, s->rank, s->dims, st[1]);
    int64_t total = av_nn__numel(y);
    for (int64_t i = 0; i < total; i++) {
        double v = av_nn__load_elem(in[0], x->dtype, off[0]);
        if (v < 0)
            v *= av_nn__load_elem(in[1], s->dtype, off[1]);
        av_nn__store_elem(out[0], y->dtype, i, v);
        bc_next(y->rank, y->dims, idx, 2, st, off);
    }
    return AV_NN_OK;
}

/* y[.., c] = (x[.., c] - mean[c]) * scale[c] / sqrt(var[c] + eps) + offset[c] */
av_nn_status av_nn__ref_batch_norm(const av_nn__graph *g, const av_nn__node *n,
                                   const void *const *in, void *const *out, char *err,
                                   size_t errlen)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]];
    if (x->dtype != AV_NN_F32)
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n, "only f32");
    int64_t C = x->rank ? x->dims[x->rank - 1] : 1, total = av_nn__numel(x);
    const float *xd = in[0], *sc = in[1], *of = in[2], *mu = in[3], *va = in[4];
    float *y = out[0];
    for (int64_t i = 0; i < total; i++) {
        int64_t c = C ? i % C : 0;
        float k = sc[c] / sqrtf(va[c] + n->p.bn.epsilon);
        y[i] = (xd[i] - mu[c]) * k + of[c];
    }
    return AV_NN_OK;
}

/* Softmax / log-softmax of beta * x along one axis: [outer, axis, inner]. */
av_nn_status av_nn__ref_softmax(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                                void *const *out, char *err, size_t errlen)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    const av_nn__softmax_params *p = &n->p.softmax;
    bool quant = av_nn__is_quant(x);
    if (x->dtype != AV_NN_F32 && x->dtype != AV_NN_F16 && !(quant && av_nn__is_quant(y)))
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n, "dtype %s",
                                av_nn_dtype_name(x->dtype));
    int64_t outer = 1, inner = 1, A = x->dims[p->axis];
    for (int i = 0; i < p->axis; i++)
        outer *= x->dims[i];
    for (int i = p->axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    av_nn__qout q;
    if (quant)
        av_nn__qout_init(&q, y, NULL);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            int64_t base = o * A * inner + k;
#define X_AT(j)                                                                                    \
    (quant ? av_nn__deq((int32_t)av_nn__load_int(in[0], x->dtype, base + (j)*inner), x)            \
           : av_nn__load_elem(in[0], x->dtype, base + (j)*inner))
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < A; j++) {
                double v = X_AT(j) * p->beta;
                mx = v > mx ? v : mx;
            }
            for (int64_t j = 0; j < A; j++)
                sum += exp(X_AT(j) * p->beta - mx);
            for (int64_t j = 0; j < A; j++) {
                double e = X_AT(j) * p->beta - mx;
                double v = p->log ? e - log(sum) : exp(e) / sum;
                if (quant)
                    av_nn__store_int(out[0], y->dtype, base + j * inner, av_nn__qout_put(&q, v));
                else
                    av_nn__store_elem(out[0], y->dtype, base + j * inner, v);
            }
#undef X_AT
        }
    return AV_NN_OK;
}

/* Type conversion: float -> int truncates toward zero (saturating), ints exact, bool = (x != 0). */
av_nn_status av_nn__ref_cast(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                             void *const *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    int64_t total = av_nn__numel(x);
    bool xi = is_intlike(x->dtype), yi = is_intlike(y->dtype) && y->dtype != AV_NN_BOOL;
    if (y->dtype == AV_NN_F32 && (x->dtype == AV_NN_BOOL || x->dtype == AV_NN_U8)) {
        /* the common mask -> float cast, without the generic element path */
        const uint8_t *xd = in[0];
        float *yd = out[0];
        for (int64_t i = 0; i < total; i++)
            yd[i] = (float)xd[i];
        return AV_NN_OK;
    }
    for (int64_t i = 0; i < total; i++) {
        if (xi && yi)
            store_wrap(out[0], y->dtype, i, av_nn__load_int(in[0], x->dtype, i));
        else
            av_nn__store_elem(out[0], y->dtype, i, av_nn__load_elem(in[0], x->dtype, i));
    }
    return AV_NN_OK;
}

av_nn_status av_nn__ref_quantize(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                                 void *const *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    int64_t total = av_nn__numel(x);
    bool qx = av_nn__is_quant(x);
    for (int64_t i = 0; i < total; i++) {
        double v = qx ? av_nn__deq((int32_t)av_nn__load_int(in[0], x->dtype, i), x)
                      : av_nn__load_elem(in[0], x->dtype, i);
        av_nn__store_int(out[0], y->dtype, i,
                         av_nn__quantize_val(v, y->quant.scale, y->quant.zero_point, y->dtype));
    }
    return AV_NN_OK;
}

/* f32 = scale * (q - zp), per channel along quant.axis when channel_scales is set; f16 widened. */
av_nn_status av_nn__ref_dequantize(const av_nn__graph *g, const av_nn__node *n,
                                   const void *const *in, void *const *out, char *err,
                                   size_t errlen)
{
    (void)err, (void)errlen;
    const av_nn__tensor *x = &g->tensors[n->in[0]];
    const av_nn__quant *qp = &x->quant;
    int64_t total = av_nn__numel(x), inner = 1, C = 1;
    bool per_ch = qp->channel_scales && qp->axis >= 0 && qp->axis < x->rank &&
                  x->dims[qp->axis] == qp->n_channels;
    if (per_ch) {
        C = qp->n_channels;
        for (int i = qp->axis + 1; i < x->rank; i++)
            inner *= x->dims[i];
    }
    float *y = out[0];
    for (int64_t i = 0; i < total; i++) {
        if (x->dtype == AV_NN_F16 || x->dtype == AV_NN_F32 || (qp->scale == 0 && !per_ch)) {
            y[i] = (float)av_nn__load_elem(in[0], x->dtype, i);
            continue;
        }
        double s = per_ch ? qp->channel_scales[(i / inner) % C] : qp->scale;
        y[i] = (float)(s * (double)(av_nn__load_int(in[0], x->dtype, i) - qp->zero_point));
    }
    return AV_NN_OK;
}
