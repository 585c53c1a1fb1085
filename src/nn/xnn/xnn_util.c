/*
 * xnn_util.c - what every XNNPACK kernel file shares: node inputs and outputs,
 * element counts, quantisation of a tensor and its bounds, fused activations
 * as output bounds or a post pass, errors.
 */
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *xnn_status_str(enum xnn_status st)
{
    switch (st) {
    case xnn_status_success:
        return "success";
    case xnn_status_uninitialized:
        return "uninitialized";
    case xnn_status_invalid_parameter:
        return "invalid parameter";
    case xnn_status_invalid_state:
        return "invalid state";
    case xnn_status_unsupported_parameter:
        return "unsupported parameter";
    case xnn_status_unsupported_hardware:
        return "unsupported hardware";
    case xnn_status_out_of_memory:
        return "out of memory";
    }
    return "unknown status";
}

bool av_nn__xnn_act_ok_f32(const av_nn__fused_act *a)
{
    float lo, hi;
    if (av_nn__xnn_act_bounds(a, &lo, &hi))
        return true;
    if (a->kind == AV_NN_ACT_SIGMOID || a->kind == AV_NN_ACT_SILU ||
        a->kind == AV_NN_ACT_HARDSWISH)
        return true;
    /* leaky_relu_nc_f32 rejects non-finite slopes */
    return a->kind == AV_NN_ACT_LEAKY && isfinite(a->alpha);
}

bool av_nn__xnn_act_bounds(const av_nn__fused_act *a, float *lo, float *hi)
{
    switch (a->kind) {
    case AV_NN_ACT_NONE:
        *lo = -INFINITY, *hi = INFINITY;
        return true;
    case AV_NN_ACT_RELU:
        *lo = 0.0f, *hi = INFINITY;
        return true;
    case AV_NN_ACT_RELU6:
        *lo = 0.0f, *hi = 6.0f;
        return true;
    case AV_NN_ACT_RELU_N1_1:
        *lo = -1.0f, *hi = 1.0f;
        return true;
    case AV_NN_ACT_CLAMP:
        /* XNNPACK rejects NaN and empty ranges */
        if (isnan(a->min) || isnan(a->max) || !(a->min < a->max))
            return false;
        *lo = a->min, *hi = a->max;
        return true;
    default:
        return false;
    }
}

enum xnn_status av_nn__xnn_make_post(av_nn__xnn_node *s, const av_nn__fused_act *a,
                                     bool force_clamp, size_t n_out)
{
    enum xnn_status st = xnn_status_success;
    float lo, hi;
    s->post_n = n_out;
    if (a->kind == AV_NN_ACT_LEAKY) {
        st = xnn_create_leaky_relu_nc_f32(1, 1, 1, a->alpha, 0, &s->post);
        s->post_setup = xnn_setup_leaky_relu_nc_f32;
    } else if (a->kind == AV_NN_ACT_SIGMOID) {
        st = xnn_create_sigmoid_nc_f32(1, 1, 1, 0, &s->post);
        s->post_setup = xnn_setup_sigmoid_nc_f32;
    } else if (a->kind == AV_NN_ACT_SILU) {
        s->post_silu = true; /* our kernel: XNNPACK has no SiLU */
    } else if (a->kind == AV_NN_ACT_HARDSWISH) {
        s->post_hswish = true; /* ours (xnn_dw.c): XNNPACK's scale is 1/6 only */
        s->post_alpha = a->alpha;
    } else if (force_clamp && a->kind != AV_NN_ACT_NONE && av_nn__xnn_act_bounds(a, &lo, &hi)) {
        st = xnn_create_clamp_nc_f32(1, 1, 1, lo, hi, 0, &s->post);
        s->post_setup = xnn_setup_clamp_nc_f32;
    }
    return st;
}

const av_nn__tensor *av_nn__xnn_in(const av_nn__graph *g, const av_nn__node *n, int i)
{
    if (i >= n->n_in || n->in[i] < 0 || n->in[i] >= g->n_tensors)
        return NULL;
    return &g->tensors[n->in[i]];
}

const av_nn__tensor *av_nn__xnn_out(const av_nn__graph *g, const av_nn__node *n, int i)
{
    if (i >= n->n_out || n->out[i] < 0 || n->out[i] >= g->n_tensors)
        return NULL;
    return &g->tensors[n->out[i]];
}

void av_nn__xnn_conv_geom(const av_nn__graph *g, const av_nn__node *n, av_nn__xnn_geom *q)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *y = av_nn__xnn_out(g, n, 0);
    const av_nn__conv_params *p = &n->p.conv;
    q->batch = (size_t)x->dims[0], q->h = (size_t)x->dims[1], q->w = (size_t)x->dims[2];
    q->cin = (size_t)x->dims[3], q->oh = (size_t)y->dims[1], q->ow = (size_t)y->dims[2];
    q->cout = (size_t)y->dims[3], q->m = q->batch * q->oh * q->ow;
    q->kh = w->dims[1], q->kw = w->dims[2], q->sh = p->stride_h, q->sw = p->stride_w;
    q->dh = p->dilation_h, q->dw = p->dilation_w, q->pt = p->pad_top, q->pl = p->pad_left;
    q->ks = (size_t)(q->kh * q->kw);
    q->pointwise = q->ks == 1 && q->sh == 1 && q->sw == 1 && q->pt == 0 && q->pl == 0 &&
                   q->oh == q->h && q->ow == q->w;
}

int64_t av_nn__xnn_numel(const av_nn__tensor *t)
{
    if (!t || t->rank < 0 || t->rank > AV_NN_MAX_RANK)
        return -1;
    int64_t c = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] <= 0 || t->dims[i] > AV_NN_MAX_ELEMENTS)
            return -1;
        c *= t->dims[i];
        if (c > AV_NN_MAX_ELEMENTS)
            return -1;
    }
    return c;
}

av_nn_status av_nn__xnn_fail(char *err, size_t errlen, const av_nn__node *n, const char *what,
                             enum xnn_status st)
{
    return av_nn__fail(err, errlen, AV_NN_E_BACKEND, "node '%s' (%s): XNNPACK %s failed: %s (%d)",
                       n->name ? n->name : "", av_nn__op_name(n->op), what, xnn_status_str(st),
                       (int)st);
}

bool av_nn__xnn_qtensor(const av_nn__tensor *t, av_nn_dtype dt)
{
    if (!t || t->dtype != dt || t->quant.channel_scales || t->quant.n_channels > 1)
        return false;
    float s = t->quant.scale;
    if (!(s > 0.0f) || !isnormal(s) || !isfinite(s))
        return false;
    int32_t zp = t->quant.zero_point;
    if (dt == AV_NN_U8)
        return zp >= 0 && zp <= 255;
    if (dt == AV_NN_I8)
        return zp >= -128 && zp <= 127;
    return false;
}

bool av_nn__xnn_qbounds(const av_nn__fused_act *a, const av_nn__tensor *t, int32_t *lo,
                        int32_t *hi)
{
    float rlo, rhi;
    if (!av_nn__xnn_act_bounds(a, &rlo, &rhi))
        return false;
    int32_t qmin = t->dtype == AV_NN_U8 ? 0 : -128, qmax = t->dtype == AV_NN_U8 ? 255 : 127;
    double s = t->quant.scale, zp = t->quant.zero_point;
    *lo = qmin, *hi = qmax;
    if (rlo > -INFINITY) {
        double q = round(rlo / s) + zp;
        if (q > *lo)
            *lo = q > qmax ? qmax : (int32_t)q;
    }
    if (rhi < INFINITY) {
        double q = round(rhi / s) + zp;
        if (q < *hi)
            *hi = q < qmin ? qmin : (int32_t)q;
    }
    return *lo < *hi; /* XNNPACK wants output_min < output_max */
}

bool av_nn__xnn_same_quant(const av_nn__tensor *a, const av_nn__tensor *b)
{
    return a->quant.scale == b->quant.scale && a->quant.zero_point == b->quant.zero_point &&
           !a->quant.channel_scales && !b->quant.channel_scales;
}

const float *av_nn__xnn_f32_data(const av_nn__tensor *t, float **buf)
{
    *buf = NULL;
    if (t->dtype == AV_NN_F32)
        return t->data;
    int64_t c = av_nn__xnn_numel(t);
    if (c < 0 || t->dtype != AV_NN_F16)
        return NULL;
    float *f = malloc((size_t)c * sizeof *f);
    if (!f)
        return NULL;
    const uint16_t *h = t->data;
    for (int64_t i = 0; i < c; i++)
        f[i] = av_nn__f16_to_f32(h[i]);
    *buf = f;
    return f;
}
