/*
 * xnn_conv.c - XNNPACK operators for the weight-carrying ops: CONV2D,
 * DEPTHWISE_CONV2D, TRANSPOSE_CONV2D (f32 only) and FULLY_CONNECTED, in f32,
 * qu8 (TFLite uint8), qs8 (int8 per-tensor) and qc8 (int8 with
 * per-output-channel weight scales).
 *
 * Layouts need no repacking: the IR's OHWI filters are XNNPACK's
 * [groups][group_out][H][W][group_in], and the depthwise 1HW(C*m) filter is
 * the HWGo layout XNN_FLAG_DEPTHWISE_CONVOLUTION expects.
 */
#include "nn/xnn/xnn_impl.h"

#include "nn/core.h" /* av_nn__conv_residual */

#include <math.h>
#include <stdlib.h>

/* XNNPACK's fp32 requantisation asserts below 2^-32 and rejects >= 256. */
#define REQ_MIN 0x1.0p-32
#define REQ_MAX 256.0

typedef enum qkind { Q_F32, Q_QU8, Q_QS8, Q_QC8, Q_NONE } qkind;

/* Geometry of one conv-like node, resolved from the IR. */
typedef struct geom {
    uint32_t kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
    uint32_t groups;
    size_t gic, goc;          /* channels per group in / out */
    size_t cin, cout;         /* total */
    size_t batch, h, w;       /* input */
    uint32_t adj_h, adj_w;    /* deconvolution */
    uint32_t flags;
    int w_axis;               /* output-channel axis of the filter (qc8 scales) */
} geom;

static bool fits_u32(int64_t v)
{
    return v >= 0 && v <= (int64_t)UINT32_MAX;
}

static bool requant_ok(double s)
{
    return s >= REQ_MIN && s < REQ_MAX;
}

/* Kind of arithmetic for x -> y with filter w (constant), or Q_NONE. */
static qkind classify(const av_nn__tensor *x, const av_nn__tensor *w, const av_nn__tensor *y,
                      int w_axis, size_t cout)
{
    if (!w->data)
        return Q_NONE; /* weights computed at run time: not packable */
    if (x->dtype == AV_NN_F32 && y->dtype == AV_NN_F32 && w->dtype == AV_NN_F32)
        return Q_F32;
    if (av_nn__xnn_qtensor(x, AV_NN_U8) && av_nn__xnn_qtensor(y, AV_NN_U8) &&
        av_nn__xnn_qtensor(w, AV_NN_U8)) {
        double r = (double)x->quant.scale * w->quant.scale / y->quant.scale;
        return requant_ok(r) ? Q_QU8 : Q_NONE;
    }
    if (!av_nn__xnn_qtensor(x, AV_NN_I8) || !av_nn__xnn_qtensor(y, AV_NN_I8) ||
        w->dtype != AV_NN_I8 || w->quant.zero_point != 0)
        return Q_NONE;
    if (w->quant.channel_scales) {
        if (w->quant.n_channels < 0 || (size_t)w->quant.n_channels != cout ||
            w->quant.axis != w_axis)
            return Q_NONE;
        for (size_t c = 0; c < cout; c++) {
            float ws = w->quant.channel_scales[c];
            if (!(ws > 0.0f) || !isfinite(ws) ||
                !requant_ok((double)x->quant.scale * ws / y->quant.scale))
                return Q_NONE;
        }
        return Q_QC8;
    }
    if (!(w->quant.scale > 0.0f) || !isfinite(w->quant.scale))
        return Q_NONE;
    return requant_ok((double)x->quant.scale * w->quant.scale / y->quant.scale) ? Q_QS8
                                                                                : Q_NONE;
}

/* Bias must be absent or a constant of the kind's dtype with cout elements. */
static bool bias_ok(const av_nn__tensor *b, qkind k, size_t cout)
{
    if (!b)
        return true;
    if (!b->data || av_nn__xnn_numel(b) != (int64_t)cout)
        return false;
    return b->dtype == (k == Q_F32 ? AV_NN_F32 : AV_NN_I32);
}

/* Output size of a strided window along one axis (floor mode). */
static int64_t conv_out(int64_t in, int64_t pads, int64_t k, int64_t s, int64_t d)
{
    int64_t keff = (k - 1) * d + 1, num = in + pads - keff;
    return num < 0 ? -1 : num / s + 1;
}

/* Resolve the geometry of CONV2D / DEPTHWISE / TRANSPOSE; false if XNNPACK
 * cannot compute exactly this node. */
static bool conv_geom(const av_nn__graph *g, const av_nn__node *n, geom *o)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *y = av_nn__xnn_out(g, n, 0);
    const av_nn__conv_params *p = &n->p.conv;
    if (!x || !w || !y || x->rank != 4 || w->rank != 4 || y->rank != 4)
        return false;
    if (av_nn__xnn_numel(x) < 0 || av_nn__xnn_numel(w) < 0 || av_nn__xnn_numel(y) < 0)
        return false;
    if (p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        p->pad_top < 0 || p->pad_left < 0 || p->pad_bottom < 0 || p->pad_right < 0)
        return false;
    *o = (geom){0};
    o->sh = (uint32_t)p->stride_h, o->sw = (uint32_t)p->stride_w;
    o->dh = (uint32_t)p->dilation_h, o->dw = (uint32_t)p->dilation_w;
    o->pt = (uint32_t)p->pad_top, o->pl = (uint32_t)p->pad_left;
    o->pb = (uint32_t)p->pad_bottom, o->pr = (uint32_t)p->pad_right;
    o->kh = (uint32_t)w->dims[1], o->kw = (uint32_t)w->dims[2];
    o->batch = (size_t)x->dims[0], o->h = (size_t)x->dims[1], o->w = (size_t)x->dims[2];
    o->cin = (size_t)x->dims[3], o->cout = (size_t)y->dims[3];
    if (!fits_u32(w->dims[1]) || !fits_u32(w->dims[2]) || y->dims[0] != x->dims[0])
        return false;
    if (n->op == AV_NN_OP_CONV2D) {
        int gr = p->groups < 1 ? 1 : p->groups;
        if ((int64_t)o->cin != w->dims[3] * gr || w->dims[0] != (int64_t)o->cout ||
            o->cout % (size_t)gr)
            return false;
        o->groups = (uint32_t)gr, o->gic = (size_t)w->dims[3], o->goc = o->cout / (size_t)gr;
        o->w_axis = 0;
    } else if (n->op == AV_NN_OP_DEPTHWISE_CONV2D) {
        if (w->dims[0] != 1 || w->dims[3] != (int64_t)o->cout || o->cout % o->cin ||
            !fits_u32(x->dims[3]))
            return false;
        o->groups = (uint32_t)o->cin, o->gic = 1, o->goc = o->cout / o->cin;
        o->flags = XNN_FLAG_DEPTHWISE_CONVOLUTION;
        o->w_axis = 3;
    } else { /* TRANSPOSE_CONV2D: IR filters are OHWI with I = all input channels */
        if (p->groups > 1 || w->dims[0] != (int64_t)o->cout || w->dims[3] != (int64_t)o->cin)
            return false;
        o->groups = 1, o->gic = o->cin, o->goc = o->cout;
        o->w_axis = 0;
        /* output = s*(in-1) + keff - pads + adjustment; XNNPACK wants adj < s */
        int64_t full_h = (int64_t)o->sh * (x->dims[1] - 1) + (int64_t)(o->kh - 1) * o->dh + 1;
        int64_t full_w = (int64_t)o->sw * (x->dims[2] - 1) + (int64_t)(o->kw - 1) * o->dw + 1;
        int64_t ah = y->dims[1] - (full_h - o->pt - o->pb);
        int64_t aw = y->dims[2] - (full_w - o->pl - o->pr);
        if (ah < 0 || aw < 0 || ah >= o->sh || aw >= o->sw)
            return false;
        o->adj_h = (uint32_t)ah, o->adj_w = (uint32_t)aw;
        return true;
    }
    return conv_out(x->dims[1], (int64_t)o->pt + o->pb, o->kh, o->sh, o->dh) == y->dims[1] &&
           conv_out(x->dims[2], (int64_t)o->pl + o->pr, o->kw, o->sw, o->dw) == y->dims[2];
}

/* Fused activation supported for this arithmetic kind. */
static bool act_ok(qkind k, const av_nn__fused_act *a, const av_nn__tensor *y)
{
    int32_t lo, hi;
    if (k == Q_F32)
        return av_nn__xnn_act_ok_f32(a);
    return av_nn__xnn_qbounds(a, y, &lo, &hi);
}

/* The output an int8 conv with a fused leaky relu computes itself: the
 * pre-activation, in parameters of its own (written to *pre), with no act;
 * the leaky relu is a table after it (xnn_qlut.c). Else y and its act. */
static const av_nn__tensor *conv_out_q(const av_nn__node *n, const av_nn__tensor *y,
                                       av_nn__tensor *pre, const av_nn__fused_act **a)
{
    static const av_nn__fused_act none = {0};
    *a = &n->p.conv.act;
    if (n->op == AV_NN_OP_TRANSPOSE_CONV2D || !av_nn__xnn_qleaky_ok(*a, y))
        return y;
    *pre = *y;
    av_nn__xnn_qleaky_pre(*a, y, &pre->quant.scale, &pre->quant.zero_point);
    *a = &none;
    return pre;
}

static bool fc_shape(const av_nn__graph *g, const av_nn__node *n, size_t *batch, size_t *k,
                     size_t *cout)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *y = av_nn__xnn_out(g, n, 0);
    if (!x || !w || !y || w->rank != 2)
        return false;
    int64_t nx = av_nn__xnn_numel(x), nw = av_nn__xnn_numel(w), ny = av_nn__xnn_numel(y);
    if (nx < 0 || nw < 0 || ny < 0 || nx % w->dims[1])
        return false;
    *k = (size_t)w->dims[1], *cout = (size_t)w->dims[0], *batch = (size_t)(nx / w->dims[1]);
    return (int64_t)(*batch * *cout) == ny;
}

bool av_nn__xnn_conv_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *b = av_nn__xnn_in(g, n, 2), *y = av_nn__xnn_out(g, n, 0);
    if (!x || !w || !y)
        return false;
    if (n->op == AV_NN_OP_FULLY_CONNECTED) {
        size_t batch, k, cout;
        if (!fc_shape(g, n, &batch, &k, &cout))
            return false;
        qkind q = classify(x, w, y, 0, cout);
        return q != Q_NONE && bias_ok(b, q, cout) && act_ok(q, &n->p.fc.act, y);
    }
    if (n->op == AV_NN_OP_DEPTHWISE_CONV2D && n->p.conv.pw_on)
        return av_nn__xnn_pwdw_supports(g, n); /* a fused 1x1 conv: our windows only */
    if (n->op == AV_NN_OP_CONV2D && n->p.conv.dw_on) /* a fused depthwise: our bands only */
        return av_nn__xnn_dwpw_supports(g, n) && av_nn__xnn_gemm_supports(g, n);
    if (n->op == AV_NN_OP_TRANSPOSE_CONV2D && n->n_in > 3 && n->in[3] >= 0 &&
        !g->tensors[n->in[3]].data)
        return false; /* output shape given at run time */
    geom o;
    if (!conv_geom(g, n, &o))
        return false;
    if (av_nn__xnn_gemm_supports(g, n) || av_nn__xnn_qgemm_supports(g, n) ||
        av_nn__xnn_qsgemm_supports(g, n) ||
        av_nn__xnn_qdw_supports(g, n) || av_nn__xnn_dw_supports(g, n))
        return true;
    if (av_nn__conv_residual(g, n) >= 0)
        return false; /* a fused residual add: our GEMM only */
    av_nn__tensor pre;
    const av_nn__fused_act *a;
    const av_nn__tensor *yq = conv_out_q(n, y, &pre, &a);
    qkind q = classify(x, w, yq, o.w_axis, o.cout);
    if (q == Q_NONE || (q != Q_F32 && n->op == AV_NN_OP_TRANSPOSE_CONV2D))
        return false; /* the reference defines transpose conv for f32 only */
    return bias_ok(b, q, o.cout) && act_ok(q, a, yq);
}

/* ---- setup callbacks (one per XNNPACK operator type) ---- */

static enum xnn_status setup_conv_f32(av_nn__xnn_node *s, const void *const *in,
                                      void *const *out, pthreadpool_t pool)
{
    return xnn_setup_convolution2d_nhwc_f32(s->op, s->batch, s->in_h, s->in_w, in[0], out[0],
                                            pool);
}

static enum xnn_status setup_conv_qu8(av_nn__xnn_node *s, const void *const *in,
                                      void *const *out, pthreadpool_t pool)
{
    return xnn_setup_convolution2d_nhwc_qu8(s->op, s->batch, s->in_h, s->in_w, in[0], out[0],
                                            pool);
}

static enum xnn_status setup_conv_qs8(av_nn__xnn_node *s, const void *const *in,
                                      void *const *out, pthreadpool_t pool)
{
    return xnn_setup_convolution2d_nhwc_qs8(s->op, s->batch, s->in_h, s->in_w, in[0], out[0],
                                            pool);
}

static enum xnn_status setup_conv_qc8(av_nn__xnn_node *s, const void *const *in,
                                      void *const *out, pthreadpool_t pool)
{
    return xnn_setup_convolution2d_nhwc_qc8(s->op, s->batch, s->in_h, s->in_w, in[0], out[0],
                                            pool);
}

static enum xnn_status setup_deconv_f32(av_nn__xnn_node *s, const void *const *in,
                                        void *const *out, pthreadpool_t pool)
{
    return xnn_setup_deconvolution2d_nhwc_f32(s->op, s->batch, s->in_h, s->in_w, s->adj_h,
                                              s->adj_w, in[0], out[0], pool);
}

static enum xnn_status setup_fc_f32(av_nn__xnn_node *s, const void *const *in, void *const *out,
                                    pthreadpool_t pool)
{
    return xnn_setup_fully_connected_nc_f32(s->op, s->batch, in[0], out[0], pool);
}

static enum xnn_status setup_fc_qu8(av_nn__xnn_node *s, const void *const *in, void *const *out,
                                    pthreadpool_t pool)
{
    return xnn_setup_fully_connected_nc_qu8(s->op, s->batch, in[0], out[0], pool);
}

static enum xnn_status setup_fc_qs8(av_nn__xnn_node *s, const void *const *in, void *const *out,
                                    pthreadpool_t pool)
{
    return xnn_setup_fully_connected_nc_qs8(s->op, s->batch, in[0], out[0], pool);
}

/* ---- operator creation ---- */

/* Quantisation parameters of x, w, y and the act bounds, for qu8/qs8/qc8. */
typedef struct qparams {
    int32_t xz, wz, yz, lo, hi;
    float xs, ws, ys;
} qparams;

static void get_q(const av_nn__tensor *x, const av_nn__tensor *w, const av_nn__tensor *y,
                  const av_nn__fused_act *a, qparams *q)
{
    q->xz = x->quant.zero_point, q->xs = x->quant.scale;
    q->wz = w->quant.zero_point, q->ws = w->quant.scale;
    q->yz = y->quant.zero_point, q->ys = y->quant.scale;
    av_nn__xnn_qbounds(a, y, &q->lo, &q->hi);
}

/* Create the convolution (or deconvolution) operator of kind k into s. */
static enum xnn_status create_conv(const av_nn__node *n, const geom *o, qkind k,
                                   const av_nn__tensor *x, const av_nn__tensor *w,
                                   const av_nn__tensor *b, const av_nn__tensor *y,
                                   const av_nn__fused_act *a, const float *wf, const float *bf,
                                   av_nn__xnn_node *s)
{
    bool de = n->op == AV_NN_OP_TRANSPOSE_CONV2D;
    const void *bq = b ? b->data : NULL;
    float lo = -INFINITY, hi = INFINITY;
    qparams q = {0};
    if (k == Q_F32)
        av_nn__xnn_act_bounds(a, &lo, &hi); /* LEAKY/SIGMOID: unbounded, then post op */
    else
        get_q(x, w, y, a, &q);
    s->batch = o->batch, s->in_h = o->h, s->in_w = o->w, s->adj_h = o->adj_h, s->adj_w = o->adj_w;
    if (de) { /* f32 only, see av_nn__xnn_conv_supports */
        s->what = "deconvolution2d_nhwc";
        s->setup = setup_deconv_f32;
        return xnn_create_deconvolution2d_nhwc_f32(o->pt, o->pr, o->pb, o->pl, o->kh, o->kw,
                                                   o->sh, o->sw, o->dh, o->dw, o->groups, o->gic,
                                                   o->goc, o->cin, o->cout, wf, bf, lo, hi, 0,
                                                   &s->op);
    }
    s->what = "convolution2d_nhwc";
    switch (k) {
    case Q_F32:
        s->setup = setup_conv_f32;
        return xnn_create_convolution2d_nhwc_f32(
            o->pt, o->pr, o->pb, o->pl, o->kh, o->kw, o->sh, o->sw, o->dh, o->dw, o->groups,
            o->gic, o->goc, o->cin, o->cout, wf, bf, lo, hi, o->flags, &s->op);
    case Q_QU8:
        s->setup = setup_conv_qu8;
        return xnn_create_convolution2d_nhwc_qu8(
            o->pt, o->pr, o->pb, o->pl, o->kh, o->kw, o->sh, o->sw, o->dh, o->dw, o->groups,
            o->gic, o->goc, o->cin, o->cout, (uint8_t)q.xz, q.xs, (uint8_t)q.wz, q.ws, w->data,
            bq, (uint8_t)q.yz, q.ys, (uint8_t)q.lo, (uint8_t)q.hi, o->flags, &s->op);
    case Q_QS8:
        s->setup = setup_conv_qs8;
        return xnn_create_convolution2d_nhwc_qs8(
            o->pt, o->pr, o->pb, o->pl, o->kh, o->kw, o->sh, o->sw, o->dh, o->dw, o->groups,
            o->gic, o->goc, o->cin, o->cout, (int8_t)q.xz, q.xs, q.ws, w->data, bq,
            (int8_t)q.yz, q.ys, (int8_t)q.lo, (int8_t)q.hi, o->flags, &s->op);
    case Q_QC8:
        s->setup = setup_conv_qc8;
        return xnn_create_convolution2d_nhwc_qc8(
            o->pt, o->pr, o->pb, o->pl, o->kh, o->kw, o->sh, o->sw, o->dh, o->dw, o->groups,
            o->gic, o->goc, o->cin, o->cout, (int8_t)q.xz, q.xs, w->quant.channel_scales,
            w->data, bq, (int8_t)q.yz, q.ys, (int8_t)q.lo, (int8_t)q.hi, o->flags, &s->op);
    default:
        return xnn_status_unsupported_parameter;
    }
}

static enum xnn_status create_fc(size_t batch, size_t kin, size_t cout, qkind k,
                                 const av_nn__tensor *x, const av_nn__tensor *w,
                                 const av_nn__tensor *b, const av_nn__tensor *y,
                                 const av_nn__fused_act *a, const float *wf, const float *bf,
                                 av_nn__xnn_node *s)
{
    const void *bq = b ? b->data : NULL;
    float lo = -INFINITY, hi = INFINITY;
    qparams q = {0};
    if (k == Q_F32)
        av_nn__xnn_act_bounds(a, &lo, &hi);
    else
        get_q(x, w, y, a, &q);
    s->batch = batch;
    s->what = "fully_connected_nc";
    switch (k) {
    case Q_F32:
        s->setup = setup_fc_f32;
        return xnn_create_fully_connected_nc_f32(kin, cout, kin, cout, wf, bf, lo, hi, 0,
                                                 &s->op);
    case Q_QU8:
        s->setup = setup_fc_qu8;
        return xnn_create_fully_connected_nc_qu8(kin, cout, kin, cout, (uint8_t)q.xz, q.xs,
                                                 (uint8_t)q.wz, q.ws, w->data, bq,
                                                 (uint8_t)q.yz, q.ys, (uint8_t)q.lo,
                                                 (uint8_t)q.hi, 0, &s->op);
    case Q_QS8:
        s->setup = setup_fc_qs8;
        return xnn_create_fully_connected_nc_qs8(kin, cout, kin, cout, (int8_t)q.xz, q.xs, q.ws,
                                                 w->data, bq, (int8_t)q.yz, q.ys, (int8_t)q.lo,
                                                 (int8_t)q.hi, 0, &s->op);
    case Q_QC8: {
        /* no qc8 fully-connected here: a 1x1 convolution over [batch,1,1,K] is the same */
        s->what = "convolution2d_nhwc (1x1 for qc8 fully connected)";
        s->setup = setup_conv_qc8;
        s->in_h = 1, s->in_w = 1;
        return xnn_create_convolution2d_nhwc_qc8(
            0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, kin, cout, kin, cout, (int8_t)q.xz, q.xs,
            w->quant.channel_scales, w->data, bq, (int8_t)q.yz, q.ys, (int8_t)q.lo,
            (int8_t)q.hi, 0, &s->op);
    }
    default:
        return xnn_status_unsupported_parameter;
    }
}

av_nn_status av_nn__xnn_conv_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *b = av_nn__xnn_in(g, n, 2), *y = av_nn__xnn_out(g, n, 0);
    bool fc = n->op == AV_NN_OP_FULLY_CONNECTED;
    if (n->op == AV_NN_OP_CONV2D && n->p.conv.dw_on) /* supports() asked our GEMM */
        return av_nn__xnn_dwpw_prepare(g, n, s, err, errlen);
    if (n->op == AV_NN_OP_DEPTHWISE_CONV2D && n->p.conv.pw_on)
        return av_nn__xnn_pwdw_prepare(g, n, s, err, errlen);
    if (av_nn__xnn_stem_supports(g, n)) /* the RGB stem: fixed geometry (xnn_stem.c) */
        return av_nn__xnn_stem_prepare(g, n, s, err, errlen);
    if (av_nn__xnn_wino_supports(g, n)) /* 3x3 stride 1: a quarter of the multiplies */
        return av_nn__xnn_wino_prepare(g, n, s, err, errlen);
    if (av_nn__xnn_gemm_supports(g, n)) /* this CPU: ours beats XNNPACK's (xnn_gemm.c) */
        return av_nn__xnn_gemm_prepare(g, n, s, err, errlen);
    if (av_nn__xnn_qgemm_supports(g, n)) /* qu8 likewise (xnn_qgemm.c) */
        return av_nn__xnn_qgemm_prepare(g, n, s, err, errlen);
    if (av_nn__xnn_qsgemm_supports(g, n)) /* and int8 (xnn_qsgemm.c) */
        return av_nn__xnn_qsgemm_prepare(g, n, s, err, errlen);
    if (av_nn__xnn_qdw_supports(g, n))
        return av_nn__xnn_qdw_prepare(g, n, s, err, errlen);
    if (av_nn__xnn_dw_supports(g, n)) /* and depthwise (xnn_dw.c) */
        return av_nn__xnn_dw_prepare(g, n, s, err, errlen);
    const av_nn__fused_act *a = fc ? &n->p.fc.act : &n->p.conv.act;
    geom o = {0};
    size_t batch = 0, kin = 0, cout = 0;
    qkind k;
    av_nn__tensor pre;
    const av_nn__tensor *yq = y;
    if (fc) {
        fc_shape(g, n, &batch, &kin, &cout);
        k = classify(x, w, y, 0, cout);
    } else {
        conv_geom(g, n, &o);
        yq = conv_out_q(n, y, &pre, &a);
        k = classify(x, w, yq, o.w_axis, o.cout);
    }
    const float *wf = k == Q_F32 ? w->data : NULL, *bf = k == Q_F32 && b ? b->data : NULL;
    enum xnn_status st = fc ? create_fc(batch, kin, cout, k, x, w, b, y, a, wf, bf, s)
                            : create_conv(n, &o, k, x, w, b, yq, a, wf, bf, s);
    if (st != xnn_status_success)
        return av_nn__xnn_fail(err, errlen, n, s->what ? s->what : "create", st);
    if (yq != y) { /* int8 leaky relu: the table after the conv */
        if (!(s->post_lut = malloc(256)))
            return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "int8 leaky relu table");
        av_nn__xnn_qleaky_table(&n->p.conv.act, y, pre.quant.scale, pre.quant.zero_point,
                                s->post_lut);
        s->post_n = (size_t)av_nn__xnn_numel(y);
        s->what = "convolution2d_nhwc + int8 leaky relu table";
    }
    if (k == Q_F32) {
        int64_t ny = av_nn__xnn_numel(y);
        st = av_nn__xnn_make_post(s, a, false, (size_t)ny);
        if (st != xnn_status_success)
            return av_nn__xnn_fail(err, errlen, n, "fused activation create", st);
    }
    return AV_NN_OK;
}
