/*
 * xnn_quant.c - QUANTIZE (f32 -> int8) and DEQUANTIZE (int8 -> f32) on
 * XNNPACK's convert operators, per-tensor scale and zero point only: the
 * boundaries the int8 pass (nn/quant.c) puts between its qs8/qc8
 * convolutions and the ops that stay float. The reference kernels run
 * every other case (u8, per-channel, f16). XNNPACK rounds f32 -> int8 half
 * to even where the reference rounds half away from zero: the two differ by
 * one step on exact ties only.
 */
#include "nn/xnn/xnn_impl.h"

static bool is_i8_per_tensor(const av_nn__tensor *t)
{
    return av_nn__xnn_qtensor(t, AV_NN_I8) && !t->quant.channel_scales;
}

bool av_nn__xnn_quant_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    if (!x || !y || x->data || av_nn__xnn_numel(x) <= 0 || av_nn__xnn_numel(y) != av_nn__xnn_numel(x))
        return false;
    if (n->op == AV_NN_OP_QUANTIZE)
        return x->dtype == AV_NN_F32 && is_i8_per_tensor(y);
    if (n->op == AV_NN_OP_DEQUANTIZE)
        return is_i8_per_tensor(x) && y->dtype == AV_NN_F32;
    return false;
}

static enum xnn_status setup_f32_qs8(av_nn__xnn_node *s, const void *const *in,
                                     void *const *out, pthreadpool_t pool)
{
    return xnn_setup_convert_nc_f32_qs8(s->op, s->batch, in[0], out[0], pool);
}

static enum xnn_status setup_qs8_f32(av_nn__xnn_node *s, const void *const *in,
                                     void *const *out, pthreadpool_t pool)
{
    return xnn_setup_convert_nc_qs8_f32(s->op, s->batch, in[0], out[0], pool);
}

av_nn_status av_nn__xnn_quant_prepare(const av_nn__graph *g, const av_nn__node *n,
                                      av_nn__xnn_node *s, char *err, size_t errlen)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    enum xnn_status st;
    /* one channel, numel rows: the whole tensor is one flat run */
    s->batch = (size_t)av_nn__xnn_numel(x);
    if (n->op == AV_NN_OP_QUANTIZE) {
        s->what = "convert_nc_f32_qs8";
        s->setup = setup_f32_qs8;
        st = xnn_create_convert_nc_f32_qs8(1, 1, 1, y->quant.scale, (int8_t)y->quant.zero_point,
                                           INT8_MIN, INT8_MAX, 0, &s->op);
    } else {
        s->what = "convert_nc_qs8_f32";
        s->setup = setup_qs8_f32;
        st = xnn_create_convert_nc_qs8_f32(1, 1, 1, x->quant.scale, (int8_t)x->quant.zero_point,
                                           0, &s->op);
    }
    return st == xnn_status_success ? AV_NN_OK : av_nn__xnn_fail(err, errlen, n, s->what, st);
}
