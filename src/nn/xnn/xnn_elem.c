/*
 * xnn_elem.c - XNNPACK operators for elementwise ops and friends: BINARY
 * (numpy broadcasting up to 6 dims; f32, qu8/qs8 add/sub/mul), UNARY (f32
 * math, qu8/qs8 sigmoid/tanh tables), CLAMP, LEAKY_RELU, PRELU, SOFTMAX over
 * the last axis, and constant PAD.
 */
#include "nn/core.h" /* the reference kernels' element helpers: PAD fills like they do */
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Input/output scale ratios XNNPACK accepts for qu8/qs8 add/sub and mul. */
#define ADD_QSCALE_MIN 0x1.0p-10
#define ADD_QSCALE_MAX 0x1.0p+8
#define MUL_QSCALE_MIN 0x1.0p-16
#define MUL_QSCALE_MAX 0x1.0p+8

static bool same_shape(const av_nn__tensor *a, const av_nn__tensor *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

/* Copy a tensor shape for an nd operator; false beyond XNNPACK's 6 dims. */
static bool nd_shape(const av_nn__tensor *t, size_t *rank, size_t *dims)
{
    if (t->rank < 0 || t->rank > XNN_MAX_TENSOR_DIMS || av_nn__xnn_numel(t) < 0)
        return false;
    *rank = (size_t)t->rank;
    for (int i = 0; i < t->rank; i++)
        dims[i] = (size_t)t->dims[i];
    return true;
}

/* y is the numpy broadcast of a and b. */
static bool is_broadcast(const av_nn__tensor *a, const av_nn__tensor *b, const av_nn__tensor *y)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    if (y->rank != r)
        return false;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return false;
        if (y->dims[i] != (da > db ? da : db))
            return false;
    }
    return true;
}

/* ---- BINARY ---- */

static bool binary_q_ok(const av_nn__node *n, const av_nn__tensor *a, const av_nn__tensor *b,
                        const av_nn__tensor *y)
{
    av_nn__binary_kind k = n->p.binary.kind;
    int32_t lo, hi;
    if (k != AV_NN_BIN_ADD && k != AV_NN_BIN_SUB && k != AV_NN_BIN_MUL)
        return false;
    if (!av_nn__xnn_qtensor(a, y->dtype) || !av_nn__xnn_qtensor(b, y->dtype) ||
        !av_nn__xnn_qtensor(y, y->dtype) || !av_nn__xnn_qbounds(&n->p.binary.act, y, &lo, &hi))
        return false;
    double ys = y->quant.scale;
    if (k == AV_NN_BIN_MUL) {
        double r = (double)a->quant.scale * b->quant.scale / ys;
        return r >= MUL_QSCALE_MIN && r < MUL_QSCALE_MAX;
    }
    double ra = a->quant.scale / ys, rb = b->quant.scale / ys;
    return ra >= ADD_QSCALE_MIN && ra < ADD_QSCALE_MAX && rb >= ADD_QSCALE_MIN &&
           rb < ADD_QSCALE_MAX;
}

static bool binary_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *a = av_nn__xnn_in(g, n, 0), *b = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *y = av_nn__xnn_out(g, n, 0);
    size_t r, d[XNN_MAX_TENSOR_DIMS];
    if (!a || !b || !y || !nd_shape(a, &r, d) || !nd_shape(b, &r, d) || !nd_shape(y, &r, d) ||
        !is_broadcast(a, b, y) || a->dtype != y->dtype || b->dtype != y->dtype)
        return false;
    if (y->dtype == AV_NN_U8 || y->dtype == AV_NN_I8)
        return binary_q_ok(n, a, b, y);
    if (y->dtype != AV_NN_F32 || !av_nn__xnn_act_ok_f32(&n->p.binary.act))
        return false;
    switch (n->p.binary.kind) {
    case AV_NN_BIN_ADD:
    case AV_NN_BIN_SUB:
    case AV_NN_BIN_MUL:
    case AV_NN_BIN_DIV:
    case AV_NN_BIN_MAX:
    case AV_NN_BIN_MIN:
    case AV_NN_BIN_SQUARED_DIFF:
        return true;
    default:
        return false;
    }
}

/* One setup callback per nd operator type (their signatures differ by type). */
#define ND_SETUP(name, fn, T)                                                                 \
    static enum xnn_status name(av_nn__xnn_node *s, const void *const *in, void *const *out, \
                                pthreadpool_t pool)                                           \
    {                                                                                         \
        return fn(s->op, s->rank_a, s->dims_a, s->rank_b, s->dims_b, (const T *)in[0],        \
                  (const T *)in[1], (T *)out[0], pool);                                       \
    }
ND_SETUP(setup_add_f32, xnn_setup_add_nd_f32, float)
ND_SETUP(setup_sub_f32, xnn_setup_subtract_nd_f32, float)
ND_SETUP(setup_mul_f32, xnn_setup_multiply_nd_f32, float)
ND_SETUP(setup_div_f32, xnn_setup_divide_nd_f32, float)
ND_SETUP(setup_max_f32, xnn_setup_maximum_nd_f32, float)
ND_SETUP(setup_min_f32, xnn_setup_minimum_nd_f32, float)
ND_SETUP(setup_sqd_f32, xnn_setup_squared_difference_nd_f32, float)
ND_SETUP(setup_add_qu8, xnn_setup_add_nd_qu8, uint8_t)
ND_SETUP(setup_sub_qu8, xnn_setup_subtract_nd_qu8, uint8_t)
ND_SETUP(setup_mul_qu8, xnn_setup_multiply_nd_qu8, uint8_t)
ND_SETUP(setup_add_qs8, xnn_setup_add_nd_qs8, int8_t)
ND_SETUP(setup_sub_qs8, xnn_setup_subtract_nd_qs8, int8_t)
ND_SETUP(setup_mul_qs8, xnn_setup_multiply_nd_qs8, int8_t)
#undef ND_SETUP

static enum xnn_status binary_create_f32(const av_nn__node *n, size_t ny, av_nn__xnn_node *s)
{
    const av_nn__fused_act *a = &n->p.binary.act;
    float lo = -INFINITY, hi = INFINITY;
    av_nn__xnn_act_bounds(a, &lo, &hi);
    enum xnn_status st;
    bool bounded = true; /* the operator applies lo/hi itself */
    switch (n->p.binary.kind) {
    case AV_NN_BIN_ADD:
        s->setup = setup_add_f32;
        st = xnn_create_add_nd_f32(lo, hi, 0, &s->op);
        break;
    case AV_NN_BIN_SUB:
        s->setup = setup_sub_f32;
        st = xnn_create_subtract_nd_f32(lo, hi, 0, &s->op);
        break;
    case AV_NN_BIN_MUL:
        s->setup = setup_mul_f32;
        st = xnn_create_multiply_nd_f32(lo, hi, 0, &s->op);
        break;
    case AV_NN_BIN_DIV:
        s->setup = setup_div_f32;
        st = xnn_create_divide_nd_f32(lo, hi, 0, &s->op);
        break;
    case AV_NN_BIN_MAX:
        s->setup = setup_max_f32, bounded = false;
        st = xnn_create_maximum_nd_f32(0, &s->op);
        break;
    case AV_NN_BIN_MIN:
        s->setup = setup_min_f32, bounded = false;
        st = xnn_create_minimum_nd_f32(0, &s->op);
        break;
    default: /* SQUARED_DIFF, checked by supports */
        s->setup = setup_sqd_f32, bounded = false;
        st = xnn_create_squared_difference_nd_f32(0, &s->op);
        break;
    }
    if (st == xnn_status_success)
        st = av_nn__xnn_make_post(s, a, !bounded, ny);
    return st;
}

static enum xnn_status binary_create_q(const av_nn__node *n, const av_nn__tensor *a,
                                       const av_nn__tensor *b, const av_nn__tensor *y,
                                       av_nn__xnn_node *s)
{
    int32_t lo, hi;
    av_nn__xnn_qbounds(&n->p.binary.act, y, &lo, &hi);
    int32_t az = a->quant.zero_point, bz = b->quant.zero_point, yz = y->quant.zero_point;
    float as = a->quant.scale, bs = b->quant.scale, ys = y->quant.scale;
    av_nn__binary_kind k = n->p.binary.kind;
    if (y->dtype == AV_NN_U8) {
        if (k == AV_NN_BIN_ADD) {
            s->setup = setup_add_qu8;
            return xnn_create_add_nd_qu8((uint8_t)az, as, (uint8_t)bz, bs, (uint8_t)yz, ys,
                                         (uint8_t)lo, (uint8_t)hi, 0, &s->op);
        }
        if (k == AV_NN_BIN_SUB) {
            s->setup = setup_sub_qu8;
            return xnn_create_subtract_nd_qu8((uint8_t)az, as, (uint8_t)bz, bs, (uint8_t)yz, ys,
                                              (uint8_t)lo, (uint8_t)hi, 0, &s->op);
        }
        s->setup = setup_mul_qu8;
        return xnn_create_multiply_nd_qu8((uint8_t)az, as, (uint8_t)bz, bs, (uint8_t)yz, ys,
                                          (uint8_t)lo, (uint8_t)hi, 0, &s->op);
    }
    if (k == AV_NN_BIN_ADD) {
        s->setup = setup_add_qs8;
        return xnn_create_add_nd_qs8((int8_t)az, as, (int8_t)bz, bs, (int8_t)yz, ys, (int8_t)lo,
                                     (int8_t)hi, 0, &s->op);
    }
    if (k == AV_NN_BIN_SUB) {
        s->setup = setup_sub_qs8;
        return xnn_create_subtract_nd_qs8((int8_t)az, as, (int8_t)bz, bs, (int8_t)yz, ys,
                                          (int8_t)lo, (int8_t)hi, 0, &s->op);
    }
    s->setup = setup_mul_qs8;
    return xnn_create_multiply_nd_qs8((int8_t)az, as, (int8_t)bz, bs, (int8_t)yz, ys, (int8_t)lo,
                                      (int8_t)hi, 0, &s->op);
}

static enum xnn_status binary_create(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s)
{
    const av_nn__tensor *a = av_nn__xnn_in(g, n, 0), *b = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *y = av_nn__xnn_out(g, n, 0);
    nd_shape(a, &s->rank_a, s->dims_a);
    nd_shape(b, &s->rank_b, s->dims_b);
    s->what = "binary_elementwise_nd";
    if (y->dtype == AV_NN_F32)
        return binary_create_f32(n, (size_t)av_nn__xnn_numel(y), s);
    return binary_create_q(n, a, b, y, s);
}

/* ---- "nc" ops (rows x channels): UNARY, CLAMP, LEAKY_RELU, PRELU, SOFTMAX ---- */

/* The u8/i8 "nc" setups, like the f32 ones, share one shape per type. */
typedef enum xnn_status (*nc_u8_setup)(xnn_operator_t, size_t, const uint8_t *, uint8_t *,
                                       pthreadpool_t);
typedef enum xnn_status (*nc_s8_setup)(xnn_operator_t, size_t, const int8_t *, int8_t *,
                                       pthreadpool_t);

/* Which typed setup an "nc" node uses; the callback below dispatches on it. */
typedef enum nc_kind { NC_F32, NC_U8, NC_S8 } nc_kind;

typedef struct nc_pick {
    nc_kind kind;
    av_nn__xnn_f32_nc_setup f32;
    nc_u8_setup u8;
    nc_s8_setup s8;
} nc_pick;

/* Which "nc" operator a node runs: indexes nc_table, kept in s->sel. */
enum nc_code {
    NC_ABS,
    NC_NEG,
    NC_SQRT,
    NC_SQUARE,
    NC_FLOOR,
    NC_CEIL,
    NC_ROUND,
    NC_SIGMOID,
    NC_HARDSWISH,
    NC_ELU,
    NC_CLAMP,
    NC_LEAKY,
    NC_PRELU,
    NC_SOFTMAX,
    NC_CLAMP_U8,
    NC_CLAMP_S8,
    NC_SIGMOID_U8,
    NC_SIGMOID_S8,
    NC_TANH_U8,
    NC_TANH_S8,
    NC_SOFTMAX_U8,
    NC_COUNT
};

static const nc_pick nc_table[NC_COUNT] = {
    [NC_ABS] = {NC_F32, xnn_setup_abs_nc_f32, NULL, NULL},
    [NC_NEG] = {NC_F32, xnn_setup_negate_nc_f32, NULL, NULL},
    [NC_SQRT] = {NC_F32, xnn_setup_square_root_nc_f32, NULL, NULL},
    [NC_SQUARE] = {NC_F32, xnn_setup_square_nc_f32, NULL, NULL},
    [NC_FLOOR] = {NC_F32, xnn_setup_floor_nc_f32, NULL, NULL},
    [NC_CEIL] = {NC_F32, xnn_setup_ceiling_nc_f32, NULL, NULL},
    [NC_ROUND] = {NC_F32, xnn_setup_bankers_rounding_nc_f32, NULL, NULL},
    [NC_SIGMOID] = {NC_F32, xnn_setup_sigmoid_nc_f32, NULL, NULL},
    [NC_HARDSWISH] = {NC_F32, xnn_setup_hardswish_nc_f32, NULL, NULL},
    [NC_ELU] = {NC_F32, xnn_setup_elu_nc_f32, NULL, NULL},
    [NC_CLAMP] = {NC_F32, xnn_setup_clamp_nc_f32, NULL, NULL},
    [NC_LEAKY] = {NC_F32, xnn_setup_leaky_relu_nc_f32, NULL, NULL},
    [NC_PRELU] = {NC_F32, xnn_setup_prelu_nc_f32, NULL, NULL},
    [NC_SOFTMAX] = {NC_F32, xnn_setup_softmax_nc_f32, NULL, NULL},
    [NC_CLAMP_U8] = {NC_U8, NULL, xnn_setup_clamp_nc_u8, NULL},
    [NC_CLAMP_S8] = {NC_S8, NULL, NULL, xnn_setup_clamp_nc_s8},
    [NC_SIGMOID_U8] = {NC_U8, NULL, xnn_setup_sigmoid_nc_qu8, NULL},
    [NC_SIGMOID_S8] = {NC_S8, NULL, NULL, xnn_setup_sigmoid_nc_qs8},
    [NC_TANH_U8] = {NC_U8, NULL, xnn_setup_tanh_nc_qu8, NULL},
    [NC_TANH_S8] = {NC_S8, NULL, NULL, xnn_setup_tanh_nc_qs8},
    [NC_SOFTMAX_U8] = {NC_U8, NULL, xnn_setup_softmax_nc_qu8, NULL},
};

/* Setup for every "nc" op: s->sel holds the nc_code, s->batch the rows. */
static enum xnn_status setup_nc(av_nn__xnn_node *s, const void *const *in, void *const *out,
                                pthreadpool_t pool)
{
    const nc_pick *p = &nc_table[s->sel];
    switch (p->kind) {
    case NC_F32:
        return p->f32(s->op, s->batch, in[0], out[0], pool);
    case NC_U8:
        return p->u8(s->op, s->batch, in[0], out[0], pool);
    default:
        return p->s8(s->op, s->batch, in[0], out[0], pool);
    }
}

/* Fixed output quantisation of XNNPACK's sigmoid/tanh tables (TFLite's). */
static bool table_out_ok(const av_nn__tensor *y, bool tanh_)
{
    float want = tanh_ ? 0x1.0p-7f : 0x1.0p-8f;
    int32_t zp = y->dtype == AV_NN_U8 ? (tanh_ ? 128 : 0) : (tanh_ ? 0 : -128);
    return y->quant.scale == want && y->quant.zero_point == zp;
}

/* nc_code of a UNARY node, or -1. */
static int unary_code(const av_nn__node *n, const av_nn__tensor *x, const av_nn__tensor *y)
{
    const av_nn__unary_params *p = &n->p.unary;
    if (x->dtype == AV_NN_F32) {
        switch (p->kind) {
        case AV_NN_UN_ABS:
            return NC_ABS;
        case AV_NN_UN_NEG:
            return NC_NEG;
        case AV_NN_UN_SQRT:
            return NC_SQRT;
        case AV_NN_UN_SQUARE:
            return NC_SQUARE;
        case AV_NN_UN_FLOOR:
            return NC_FLOOR;
        case AV_NN_UN_CEIL:
            return NC_CEIL;
        case AV_NN_UN_ROUND:
            return NC_ROUND;
        case AV_NN_UN_SIGMOID:
            return NC_SIGMOID;
        case AV_NN_UN_HARDSWISH: /* XNNPACK's scale is 1/6 (others: xnn_data.c) */
            return p->alpha == 0 ? NC_HARDSWISH : -1;
        case AV_NN_UN_ELU: /* XNNPACK wants a positive normal alpha */
            return isnormal(p->alpha) && p->alpha > 0 ? NC_ELU : -1;
        case AV_NN_UN_RELU:
            return NC_CLAMP;
        default:
            return -1;
        }
    }
    if (!av_nn__xnn_qtensor(x, x->dtype) || !av_nn__xnn_qtensor(y, x->dtype))
        return -1;
    bool u8 = x->dtype == AV_NN_U8;
    if (p->kind == AV_NN_UN_SIGMOID && table_out_ok(y, false))
        return u8 ? NC_SIGMOID_U8 : NC_SIGMOID_S8;
    if (p->kind == AV_NN_UN_TANH && table_out_ok(y, true))
        return u8 ? NC_TANH_U8 : NC_TANH_S8;
    return -1;
}

/* A PRELU slope XNNPACK can take: constant, one value per last-axis channel
 * (or a single value), broadcast over every other axis. */
static bool prelu_slope_ok(const av_nn__tensor *x, const av_nn__tensor *sl)
{
    if (!sl->data || (sl->dtype != AV_NN_F32 && sl->dtype != AV_NN_F16) || x->rank < 1)
        return false;
    int64_t ns = av_nn__xnn_numel(sl), c = x->dims[x->rank - 1];
    if (ns == 1)
        return sl->rank <= x->rank;
    if (ns != c || sl->rank < 1 || sl->rank > x->rank || sl->dims[sl->rank - 1] != c)
        return false;
    return true; /* the other dims multiply to 1, so they are all 1 */
}

/* nc_code and row length of an nc op node (UNARY, CLAMP, LEAKY_RELU, PRELU,
 * SOFTMAX); -1 when unsupported. */
static int nc_code(const av_nn__graph *g, const av_nn__node *n, size_t *chan)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    if (!x || !y || !same_shape(x, y) || x->dtype != y->dtype || av_nn__xnn_numel(x) < 0)
        return -1;
    *chan = 1;
    switch (n->op) {
    case AV_NN_OP_UNARY:
        return unary_code(n, x, y);
    case AV_NN_OP_CLAMP: {
        const av_nn__clamp_params *p = &n->p.clamp;
        av_nn__fused_act a = {AV_NN_ACT_CLAMP, 0, p->min, p->max};
        float lo, hi;
        int32_t qlo, qhi;
        if (x->dtype == AV_NN_F32)
            return av_nn__xnn_act_bounds(&a, &lo, &hi) ? NC_CLAMP : -1;
        if ((x->dtype != AV_NN_U8 && x->dtype != AV_NN_I8) || !av_nn__xnn_qtensor(x, x->dtype) ||
            !av_nn__xnn_same_quant(x, y) || !av_nn__xnn_qbounds(&a, y, &qlo, &qhi))
            return -1;
        return x->dtype == AV_NN_U8 ? NC_CLAMP_U8 : NC_CLAMP_S8;
    }
    case AV_NN_OP_LEAKY_RELU:
        return x->dtype == AV_NN_F32 && isfinite(n->p.leaky.alpha) ? NC_LEAKY : -1;
    case AV_NN_OP_PRELU: {
        const av_nn__tensor *sl = av_nn__xnn_in(g, n, 1);
        if (x->dtype != AV_NN_F32 || !sl || !prelu_slope_ok(x, sl))
            return -1;
        *chan = (size_t)x->dims[x->rank - 1];
        return NC_PRELU;
    }
    case AV_NN_OP_SOFTMAX: {
        const av_nn__softmax_params *p = &n->p.softmax;
        if (x->rank < 1 || (p->axis != x->rank - 1 && p->axis != -1) || p->log)
            return -1;
        *chan = (size_t)x->dims[x->rank - 1];
        if (x->dtype == AV_NN_F32)
            return p->beta == 1.0f ? NC_SOFTMAX : -1;
        /* qu8 only, with TFLite's fixed output quantisation; beta folds into the input scale */
        double in_scale = (double)x->quant.scale * p->beta;
        if (!av_nn__xnn_qtensor(x, AV_NN_U8) || y->dtype != AV_NN_U8 ||
            y->quant.scale != 0x1.0p-8f || y->quant.zero_point != 0 || !(in_scale > 0) ||
            !isnormal((float)in_scale))
            return -1;
        return NC_SOFTMAX_U8;
    }
    default:
        return -1;
    }
}

/* Create the "nc" operator of node n; *oom set when a temporary failed. */
static enum xnn_status nc_create(const av_nn__graph *g, const av_nn__node *n,
                                 av_nn__xnn_node *s, bool *oom)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    size_t c = 1;
    int code = nc_code(g, n, &c);
    int64_t total = av_nn__xnn_numel(x);
    s->sel = code, s->setup = setup_nc, s->batch = (size_t)total / c;
    int32_t qlo = 0, qhi = 0;
    float xs = x->quant.scale, ys = y->quant.scale;
    uint8_t xz8 = (uint8_t)x->quant.zero_point, yz8 = (uint8_t)y->quant.zero_point;
    int8_t xzs = (int8_t)x->quant.zero_point, yzs = (int8_t)y->quant.zero_point;
    xnn_operator_t *op = &s->op;
    s->what = "elementwise_nc";
    switch (code) {
    case NC_ABS:
        return xnn_create_abs_nc_f32(1, 1, 1, 0, op);
    case NC_NEG:
        return xnn_create_negate_nc_f32(1, 1, 1, 0, op);
    case NC_SQRT:
        return xnn_create_square_root_nc_f32(1, 1, 1, 0, op);
    case NC_SQUARE:
        return xnn_create_square_nc_f32(1, 1, 1, 0, op);
    case NC_FLOOR:
        return xnn_create_floor_nc_f32(1, 1, 1, 0, op);
    case NC_CEIL:
        return xnn_create_ceiling_nc_f32(1, 1, 1, 0, op);
    case NC_ROUND:
        return xnn_create_bankers_rounding_nc_f32(1, 1, 1, 0, op);
    case NC_SIGMOID:
        return xnn_create_sigmoid_nc_f32(1, 1, 1, 0, op);
    case NC_HARDSWISH:
        return xnn_create_hardswish_nc_f32(1, 1, 1, 0, op);
    case NC_ELU:
        return xnn_create_elu_nc_f32(1, 1, 1, n->p.unary.alpha, 0, op);
    case NC_CLAMP:
        if (n->op == AV_NN_OP_UNARY) /* RELU */
            return xnn_create_clamp_nc_f32(1, 1, 1, 0.0f, INFINITY, 0, op);
        return xnn_create_clamp_nc_f32(1, 1, 1, n->p.clamp.min, n->p.clamp.max, 0, op);
    case NC_CLAMP_U8:
    case NC_CLAMP_S8: {
        av_nn__fused_act a = {AV_NN_ACT_CLAMP, 0, n->p.clamp.min, n->p.clamp.max};
        av_nn__xnn_qbounds(&a, y, &qlo, &qhi);
        if (code == NC_CLAMP_U8)
            return xnn_create_clamp_nc_u8(1, 1, 1, (uint8_t)qlo, (uint8_t)qhi, 0, op);
        return xnn_create_clamp_nc_s8(1, 1, 1, (int8_t)qlo, (int8_t)qhi, 0, op);
    }
    case NC_LEAKY:
        return xnn_create_leaky_relu_nc_f32(1, 1, 1, n->p.leaky.alpha, 0, op);
    case NC_PRELU: {
        float *buf = NULL;
        const av_nn__tensor *sl = av_nn__xnn_in(g, n, 1);
        const float *slope = av_nn__xnn_f32_data(sl, &buf);
        float *wide = NULL;
        if (slope && av_nn__xnn_numel(sl) == 1 && c > 1) { /* one slope for all channels */
            wide = malloc(c * sizeof *wide);
            for (size_t i = 0; wide && i < c; i++)
                wide[i] = slope[0];
            slope = wide;
        }
        enum xnn_status st = xnn_status_out_of_memory;
        if (slope)
            st = xnn_create_prelu_nc_f32(c, c, c, slope, 0, op);
        else
            *oom = true;
        free(wide);
        free(buf);
        return st;
    }
    case NC_SOFTMAX:
        return xnn_create_softmax_nc_f32(c, c, c, 0, op);
    case NC_SOFTMAX_U8:
        return xnn_create_softmax_nc_qu8(c, c, c, x->quant.scale * n->p.softmax.beta, 0,
                                         0x1.0p-8f, 0, op);
    case NC_SIGMOID_U8:
        return xnn_create_sigmoid_nc_qu8(1, 1, 1, xz8, xs, yz8, ys, 0, 255, 0, op);
    case NC_TANH_U8:
        return xnn_create_tanh_nc_qu8(1, 1, 1, xz8, xs, yz8, ys, 0, 255, 0, op);
    case NC_SIGMOID_S8:
        return xnn_create_sigmoid_nc_qs8(1, 1, 1, xzs, xs, yzs, ys, -128, 127, 0, op);
    case NC_TANH_S8:
        return xnn_create_tanh_nc_qs8(1, 1, 1, xzs, xs, yzs, ys, -128, 127, 0, op);
    default:
        return xnn_status_unsupported_parameter;
    }
}

/* ---- PAD (constant) ---- */

/* The pad value's bytes, exactly as the reference kernel fills them: a
 * quantised tensor takes a raw value input of its own dtype as is, else the
 * quantised p.value; others store p.value converted. False when the value
 * comes from a non-constant input. */
static bool pad_fill(const av_nn__graph *g, const av_nn__node *n, uint8_t fill[8])
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *vt = av_nn__xnn_in(g, n, 2);
    size_t es = av_nn_dtype_size(x->dtype);
    memset(fill, 0, 8);
    if (av_nn__is_quant(x) && vt && vt->dtype == x->dtype) {
        if (!vt->data)
            return false;
        memcpy(fill, vt->data, es);
    } else if (av_nn__is_quant(x)) {
        av_nn__store_int(fill, x->dtype, 0,
                         av_nn__quantize_val(n->p.pad.value, x->quant.scale,
                                             x->quant.zero_point, x->dtype));
    } else {
        av_nn__store_elem(fill, x->dtype, 0, n->p.pad.value);
    }
    return true;
}

static bool pad_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    const av_nn__pad_params *p = &n->p.pad;
    size_t r, d[XNN_MAX_TENSOR_DIMS];
    uint8_t fill[8];
    if (!x || !y || p->mode != AV_NN_PADMODE_CONSTANT || !p->resolved || x->rank < 1 ||
        !nd_shape(x, &r, d) || !nd_shape(y, &r, d) || x->rank != y->rank ||
        x->dtype != y->dtype || x->dtype == AV_NN_I64 || !pad_fill(g, n, fill))
        return false;
    for (int i = 0; i < x->rank; i++)
        if (p->before[i] < 0 || p->after[i] < 0 ||
            y->dims[i] != x->dims[i] + p->before[i] + p->after[i])
            return false; /* negative pads crop: not a pad XNNPACK knows */
    return true;
}

static enum xnn_status setup_pad(av_nn__xnn_node *s, const void *const *in, void *const *out,
                                 pthreadpool_t pool)
{
    if (s->sel == 4)
        return xnn_setup_constant_pad_nd_x32(s->op, s->rank_a, s->dims_a, s->pad_pre,
                                             s->pad_post, in[0], out[0], pool);
    if (s->sel == 2)
        return xnn_setup_constant_pad_nd_x16(s->op, s->rank_a, s->dims_a, s->pad_pre,
                                             s->pad_post, in[0], out[0], pool);
    return xnn_setup_constant_pad_nd_x8(s->op, s->rank_a, s->dims_a, s->pad_pre, s->pad_post,
                                        in[0], out[0], pool);
}

static enum xnn_status pad_create(const av_nn__graph *g, const av_nn__node *n,
                                  av_nn__xnn_node *s)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0);
    nd_shape(x, &s->rank_a, s->dims_a);
    for (int i = 0; i < x->rank; i++) {
        s->pad_pre[i] = (size_t)n->p.pad.before[i];
        s->pad_post[i] = (size_t)n->p.pad.after[i];
    }
    uint8_t fill[8];
    pad_fill(g, n, fill);
    s->what = "constant_pad_nd";
    s->setup = setup_pad;
    s->sel = (int)av_nn_dtype_size(x->dtype); /* element size picks x8/x16/x32 */
    if (s->sel == 4)
        return xnn_create_constant_pad_nd_x32(fill, 0, &s->op);
    if (s->sel == 2)
        return xnn_create_constant_pad_nd_x16(fill, 0, &s->op);
    return xnn_create_constant_pad_nd_x8(fill, 0, &s->op);
}

/* ---- family entry points ---- */

bool av_nn__xnn_elem_supports(const av_nn__graph *g, const av_nn__node *n)
{
    size_t c;
    switch (n->op) {
    case AV_NN_OP_BINARY:
        return binary_supports(g, n);
    case AV_NN_OP_PAD:
        return pad_supports(g, n);
    case AV_NN_OP_UNARY:
    case AV_NN_OP_CLAMP:
    case AV_NN_OP_LEAKY_RELU:
    case AV_NN_OP_PRELU:
    case AV_NN_OP_SOFTMAX:
        return nc_code(g, n, &c) >= 0;
    default:
        return false;
    }
}

av_nn_status av_nn__xnn_elem_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen)
{
    enum xnn_status st;
    bool oom = false;
    if (n->op == AV_NN_OP_BINARY)
        st = binary_create(g, n, s);
    else if (n->op == AV_NN_OP_PAD)
        st = pad_create(g, n, s);
    else
        st = nc_create(g, n, s, &oom);
    if (oom)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "node '%s' (%s): out of memory",
                           n->name ? n->name : "", av_nn__op_name(n->op));
    if (st != xnn_status_success)
        return av_nn__xnn_fail(err, errlen, n, s->what ? s->what : "create", st);
    return AV_NN_OK;
}
