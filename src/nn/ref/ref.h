/*
 * ref.h - the reference kernels, one function per op family, split over
 * ref_conv.c (conv/fc/matmul/pool), ref_elem.c (elementwise, softmax, norm,
 * casts) and ref_data.c (data movement, index ops, reduce, resize). ref.c
 * dispatches on the op. Internal to src/nn.
 *
 * Every kernel has the av_nn__backend run() contract: in[i]/out[i] are the
 * data of n->in[i]/n->out[i] (NULL for an absent optional input), shapes and
 * resolved params come from g after finalize.
 */
#ifndef AV_NN_REF_H
#define AV_NN_REF_H

#include "nn/core.h"

typedef av_nn_status av_nn__ref_kernel(const av_nn__graph *g, const av_nn__node *n,
                                       const void *const *in, void *const *out, char *err,
                                       size_t errlen);

av_nn__ref_kernel av_nn__ref_conv, av_nn__ref_transpose_conv, av_nn__ref_fc, av_nn__ref_matmul,
    av_nn__ref_pool;
av_nn__ref_kernel av_nn__ref_binary, av_nn__ref_unary, av_nn__ref_clamp, av_nn__ref_leaky,
    av_nn__ref_prelu, av_nn__ref_batch_norm, av_nn__ref_softmax, av_nn__ref_where, av_nn__ref_cast,
    av_nn__ref_quantize, av_nn__ref_dequantize;
av_nn__ref_kernel av_nn__ref_pad, av_nn__ref_concat, av_nn__ref_split, av_nn__ref_slice,
    av_nn__ref_transpose, av_nn__ref_copy, av_nn__ref_gather, av_nn__ref_topk, av_nn__ref_argmax,
    av_nn__ref_tile, av_nn__ref_sparse_to_dense, av_nn__ref_reduce, av_nn__ref_resize;
av_nn__ref_kernel av_nn__ref_sparse_head; /* ref_sparse_head.c */

/* Fused activation on a float value. */
float av_nn__apply_act(float v, const av_nn__fused_act *a);

/*
 * Quantised output: real value -> clamped integer of the output tensor with
 * TFLite's order (round half away from zero, add zero point, clamp to the
 * activation range). Non-clamp activations (leaky, sigmoid, tanh) are applied
 * to the real value first.
 */
typedef struct av_nn__qout {
    double scale;
    int32_t zp, lo, hi;
    av_nn__fused_act act;
    av_nn_dtype dt;
} av_nn__qout;
void av_nn__qout_init(av_nn__qout *q, const av_nn__tensor *y, const av_nn__fused_act *act);
int32_t av_nn__qout_put(const av_nn__qout *q, double real);

/* Real value of quantised element q of tensor t. */
static inline double av_nn__deq(int32_t q, const av_nn__tensor *t)
{
    return (double)t->quant.scale * (double)(q - t->quant.zero_point);
}

#endif
