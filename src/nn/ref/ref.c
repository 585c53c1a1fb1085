/*
 * ref.c - the reference backend: op dispatch to the kernels of ref_*.c, the
 * av_nn__backend_ref method table, and the fused-activation and quantised-output
 * helpers the kernels share (element access lives with the IR: nn/ir/elem.c).
 */
#include "nn/ref/ref.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

float av_nn__apply_act(float v, const av_nn__fused_act *a)
{
    switch (a->kind) {
    case AV_NN_ACT_NONE:
        return v;
    case AV_NN_ACT_RELU:
        return v < 0 ? 0 : v;
    case AV_NN_ACT_RELU6:
        return v < 0 ? 0 : v > 6 ? 6 : v;
    case AV_NN_ACT_RELU_N1_1:
        return v < -1 ? -1 : v > 1 ? 1 : v;
    case AV_NN_ACT_CLAMP:
        return v < a->min ? a->min : v > a->max ? a->max : v;
    case AV_NN_ACT_LEAKY:
        return v < 0 ? v * a->alpha : v;
    case AV_NN_ACT_SIGMOID:
        return 1.0f / (1.0f + expf(-v));
    case AV_NN_ACT_TANH:
        return tanhf(v);
    case AV_NN_ACT_SILU:
        return v / (1.0f + expf(-v));
    case AV_NN_ACT_HARDSWISH: { /* as AV_NN_UN_HARDSWISH in ref_elem.c */
        double r = v + 3.0 < 0 ? 0 : v + 3.0 > 6 ? 6 : v + 3.0;
        return (float)(a->alpha != 0 ? v * a->alpha * r : v * r / 6);
    }
    }
    return v;
}

void av_nn__qout_init(av_nn__qout *q, const av_nn__tensor *y, const av_nn__fused_act *act)
{
    static const av_nn__fused_act none = {0};
    q->scale = y->quant.scale;
    q->zp = y->quant.zero_point;
    q->dt = y->dtype;
    q->act = act ? *act : none;
    q->lo = y->dtype == AV_NN_U8 ? 0 : -128;
    q->hi = y->dtype == AV_NN_U8 ? 255 : 127;
    float lo = -INFINITY, hi = INFINITY;
    switch (q->act.kind) {
    case AV_NN_ACT_RELU:
        lo = 0;
        break;
    case AV_NN_ACT_RELU6:
        lo = 0, hi = 6;
        break;
    case AV_NN_ACT_RELU_N1_1:
        lo = -1, hi = 1;
        break;
    case AV_NN_ACT_CLAMP:
        lo = q->act.min, hi = q->act.max;
        break;
    default:
        break;
    }
    if (lo > -INFINITY) {
        int32_t v = av_nn__quantize_val(lo, (float)q->scale, q->zp, q->dt);
        q->lo = v > q->lo ? v : q->lo;
    }
    if (hi < INFINITY) {
        int32_t v = av_nn__quantize_val(hi, (float)q->scale, q->zp, q->dt);
        q->hi = v < q->hi ? v : q->hi;
    }
}

int32_t av_nn__qout_put(const av_nn__qout *q, double real)
{
    av_nn__act k = q->act.kind;
    if (k == AV_NN_ACT_LEAKY || k == AV_NN_ACT_SIGMOID || k == AV_NN_ACT_TANH ||
        k == AV_NN_ACT_SILU || k == AV_NN_ACT_HARDSWISH)
        real = av_nn__apply_act((float)real, &q->act);
    double v = round(real / q->scale) + q->zp;
    if (!(v == v))
        v = q->zp;
    return (int32_t)(v < q->lo ? q->lo : v > q->hi ? q->hi : v);
}

av_nn_status av_nn__ref_run(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                            void *const *out, char *err, size_t errlen)
{
    av_nn__ref_kernel *k = NULL;
    switch (n->op) {
    case AV_NN_OP_CONV2D:
    case AV_NN_OP_DEPTHWISE_CONV2D:
        k = av_nn__ref_conv;
        break;
    case AV_NN_OP_TRANSPOSE_CONV2D:
        k = av_nn__ref_transpose_conv;
        break;
    case AV_NN_OP_FULLY_CONNECTED:
        k = av_nn__ref_fc;
        break;
    case AV_NN_OP_MATMUL:
        k = av_nn__ref_matmul;
        break;
    case AV_NN_OP_MAX_POOL2D:
    case AV_NN_OP_AVG_POOL2D:
        k = av_nn__ref_pool;
        break;
    case AV_NN_OP_REDUCE:
        k = av_nn__ref_reduce;
        break;
    case AV_NN_OP_RESIZE:
        k = av_nn__ref_resize;
        break;
    case AV_NN_OP_SOFTMAX:
        k = av_nn__ref_softmax;
        break;
    case AV_NN_OP_BINARY:
        k = av_nn__ref_binary;
        break;
    case AV_NN_OP_UNARY:
        k = av_nn__ref_unary;
        break;
    case AV_NN_OP_CLAMP:
        k = av_nn__ref_clamp;
        break;
    case AV_NN_OP_LEAKY_RELU:
        k = av_nn__ref_leaky;
        break;
    case AV_NN_OP_PRELU:
        k = av_nn__ref_prelu;
        break;
    case AV_NN_OP_BATCH_NORM:
        k = av_nn__ref_batch_norm;
        break;
    case AV_NN_OP_PAD:
        k = av_nn__ref_pad;
        break;
    case AV_NN_OP_CONCAT:
        k = av_nn__ref_concat;
        break;
    case AV_NN_OP_SPLIT:
        k = av_nn__ref_split;
        break;
    case AV_NN_OP_SLICE:
        k = av_nn__ref_slice;
        break;
    case AV_NN_OP_TRANSPOSE:
        k = av_nn__ref_transpose;
        break;
    case AV_NN_OP_RESHAPE:
    case AV_NN_OP_IDENTITY:
        k = av_nn__ref_copy;
        break;
    case AV_NN_OP_GATHER:
        k = av_nn__ref_gather;
        break;
    case AV_NN_OP_TOPK:
        k = av_nn__ref_topk;
        break;
    case AV_NN_OP_ARGMAX:
        k = av_nn__ref_argmax;
        break;
    case AV_NN_OP_CAST:
        k = av_nn__ref_cast;
        break;
    case AV_NN_OP_QUANTIZE:
        k = av_nn__ref_quantize;
        break;
    case AV_NN_OP_DEQUANTIZE:
        k = av_nn__ref_dequantize;
        break;
    case AV_NN_OP_TILE:
        k = av_nn__ref_tile;
        break;
    case AV_NN_OP_WHERE:
        k = av_nn__ref_where;
        break;
    case AV_NN_OP_SPARSE_TO_DENSE:
        k = av_nn__ref_sparse_to_dense;
        break;
    case AV_NN_OP_SPARSE_HEAD:
        k = av_nn__ref_sparse_head;
        break;
    case AV_NN_OP_COUNT:
        break;
    }
    if (!k)
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n, "no reference kernel");
    return k(g, n, in, out, err, errlen);
}

static bool ref_supports(const av_nn__graph *g, const av_nn__node *n)
{
    (void)g;
    return (int)n->op >= 0 && n->op < AV_NN_OP_COUNT;
}

static av_nn_status ref_prepare(const av_nn__graph *g, const av_nn__node *n, pthreadpool_t pool,
                                void **state, char *err, size_t errlen)
{
    (void)g, (void)n, (void)pool, (void)err, (void)errlen;
    *state = NULL;
    return AV_NN_OK;
}

static av_nn_status ref_exec(void *state, const av_nn__graph *g, const av_nn__node *n,
                             const void *const *in, void *const *out, pthreadpool_t pool, char *err,
                             size_t errlen)
{
    (void)state, (void)pool;
    return av_nn__ref_run(g, n, in, out, err, errlen);
}

static void ref_release(void *state)
{
    (void)state;
}

const av_nn__backend av_nn__backend_ref = {
    .name = "ref",
    .supports_op = ref_supports,
    .prepare = ref_prepare,
    .run = ref_exec,
    .release = ref_release,
};
