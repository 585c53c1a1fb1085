/*
 * ref_conv.c - reference kernels for the compute-heavy ops: conv2d (dense and
 * grouped), depthwise conv2d, transpose conv2d, fully connected, matmul and
 * 2-D pooling. f32 everywhere; conv/depthwise/fc/pool also u8/i8 quantised
 * with TFLite's integer semantics (int accumulation of (q - zp) products,
 * float requantisation rounding half away from zero).
 *
 * Layouts: x NHWC, conv w OHWI, depthwise w [1,KH,KW,C*m], fc w [N,K]. The
 * innermost loops run over contiguous channels of both x and w.
 */
#include "nn/ref/ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Weight scale of output channel o (per-channel when the weights carry one per output). */
static double w_scale(const av_nn__tensor *w, int64_t o)
{
    if (w->quant.channel_scales && o < w->quant.n_channels)
        return w->quant.channel_scales[o];
    return w->quant.scale;
}

/* Integer bias of channel o in units of sx*sw(o); float biases are quantised on the fly. */
static int64_t q_bias(const av_nn__tensor *b, const void *bd, int64_t o, double acc_scale)
{
    if (!b || !bd)
        return 0;
    if (b->dtype == AV_NN_I32 || b->dtype == AV_NN_I64)
        return av_nn__load_int(bd, b->dtype, o);
    return (int64_t)llround(av_nn__load_elem(bd, b->dtype, o) / acc_scale);
}

/* sum_i (x[i] - zx) * (w[i] - zw) over n u8/i8 elements; typed loops keep the oracle usable. */
#define DOT_Q(TX, TW)                                                                              \
    do {                                                                                           \
        const TX *xp = x;                                                                          \
        const TW *wp = w;                                                                          \
        for (int64_t i = 0; i < n; i++)                                                            \
            s += ((int32_t)xp[i] - zx) * ((int32_t)wp[i] - zw);                                    \
    } while (0)

static int64_t dot_q(const void *x, av_nn_dtype xt, int32_t zx, const void *w, av_nn_dtype wt,
                     int32_t zw, int64_t n)
{
    int64_t s = 0;
    if (xt == AV_NN_U8 && wt == AV_NN_U8)
        DOT_Q(uint8_t, uint8_t);
    else if (xt == AV_NN_U8)
        DOT_Q(uint8_t, int8_t);
    else if (wt == AV_NN_U8)
        DOT_Q(int8_t, uint8_t);
    else
        DOT_Q(int8_t, int8_t);
    return s;
}
#undef DOT_Q

typedef struct conv_geom {
    int64_t N, H, W, C, OH, OW, O, KH, KW;
    int sh, sw, dh, dw, pt, pl;
} conv_geom;

static void geom(const av_nn__graph *g, const av_nn__node *n, conv_geom *c)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
    const av_nn__tensor *y = &g->tensors[n->out[0]];
    const av_nn__conv_params *p = &n->p.conv;
    c->N = x->dims[0], c->H = x->dims[1], c->W = x->dims[2], c->C = x->dims[3];
    c->OH = y->dims[1], c->OW = y->dims[2], c->O = y->dims[3];
    c->KH = w->dims[1], c->KW = w->dims[2];
    c->sh = p->stride_h, c->sw = p->stride_w, c->dh = p->dilation_h, c->dw = p->dilation_w;
    c->pt = p->pad_top, c->pl = p->pad_left;
}

/* f32 conv / depthwise: y[n,oy,ox,o] = act(bias[o] + sum x[n,iy,ix,c] * w[...] + res[...])
 * (res: the optional residual input of a CONV2D, NULL when absent) */
static void conv_f32(const av_nn__graph *g, const av_nn__node *n, const conv_geom *c,
                     const float *x, const float *w, const float *bias, const float *res,
                     float *y, float *acc)
{
    bool dw = n->op == AV_NN_OP_DEPTHWISE_CONV2D;
    int64_t groups = dw ? 1 : n->p.conv.groups, Cg = dw ? 1 : c->C / groups;
    int64_t Og = c->O / groups, m = dw ? n->p.conv.depth_multiplier : 1;
    (void)g;
    for (int64_t b = 0; b < c->N; b++)
        for (int64_t oy = 0; oy < c->OH; oy++)
            for (int64_t ox = 0; ox < c->OW; ox++) {
                for (int64_t o = 0; o < c->O; o++)
                    acc[o] = bias ? bias[o] : 0.0f;
                for (int64_t ky = 0; ky < c->KH; ky++) {
                    int64_t iy = oy * c->sh - c->pt + ky * c->dh;
                    if (iy < 0 || iy >= c->H)
                        continue;
                    for (int64_t kx = 0; kx < c->KW; kx++) {
                        int64_t ix = ox * c->sw - c->pl + kx * c->dw;
                        if (ix < 0 || ix >= c->W)
                            continue;
                        const float *xp = x + ((b * c->H + iy) * c->W + ix) * c->C;
                        if (dw) {
                            const float *wp = w + (ky * c->KW + kx) * c->O;
                            for (int64_t o = 0; o < c->O; o++)
                                acc[o] += xp[o / m] * wp[o];
                            continue;
                        }
                        for (int64_t o = 0; o < c->O; o++) {
                            const float *wp = w + ((o * c->KH + ky) * c->KW + kx) * Cg;
                            const float *xg = xp + (o / Og) * Cg;
                            float s = 0;
                            for (int64_t ci = 0; ci < Cg; ci++)
                                s += xg[ci] * wp[ci];
                            acc[o] += s;
                        }
                    }
                }
                int64_t yo = ((b * c->OH + oy) * c->OW + ox) * c->O;
                for (int64_t o = 0; res && o < c->O; o++)
                    acc[o] += res[yo + o]; /* the add it stands for, after the bias */
                for (int64_t o = 0; o < c->O; o++)
                    y[yo + o] = av_nn__apply_act(acc[o], &n->p.conv.act);
            }
}

/* Quantised conv / depthwise: int64 accumulation of (x - zx) * (w - zw), then requantise. */
static void conv_q(const av_nn__graph *g, const av_nn__node *n, const conv_geom *c, const void *x,
                   const void *w, const void *bias, void *y, int64_t *acc)
{
    const av_nn__tensor *xt = &g->tensors[n->in[0]], *wt = &g->tensors[n->in[1]];
    const av_nn__tensor *bt = n->n_in > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
    const av_nn__tensor *yt = &g->tensors[n->out[0]];
    bool dw = n->op == AV_NN_OP_DEPTHWISE_CONV2D;
    int64_t groups = dw ? 1 : n->p.conv.groups, Cg = dw ? 1 : c->C / groups;
    int64_t Og = c->O / groups, m = dw ? n->p.conv.depth_multiplier : 1;
    int32_t zx = xt->quant.zero_point, zw = wt->quant.zero_point;
    av_nn__qout q;
    av_nn__qout_init(&q, yt, &n->p.conv.act);
    double sx = xt->quant.scale;
    for (int64_t b = 0; b < c->N; b++)
        for (int64_t oy = 0; oy < c->OH; oy++)
            for (int64_t ox = 0; ox < c->OW; ox++) {
                for (int64_t o = 0; o < c->O; o++)
                    acc[o] = q_bias(bt, bias, o, sx * w_scale(wt, o));
                for (int64_t ky = 0; ky < c->KH; ky++) {
                    int64_t iy = oy * c->sh - c->pt + ky * c->dh;
                    if (iy < 0 || iy >= c->H)
                        continue;
                    for (int64_t kx = 0; kx < c->KW; kx++) {
                        int64_t ix = ox * c->sw - c->pl + kx * c->dw;
                        if (ix < 0 || ix >= c->W)
                            continue;
                        int64_t xo = ((b * c->H + iy) * c->W + ix) * c->C;
                        for (int64_t o = 0; o < c->O; o++) {
                            if (dw) {
                                int64_t xv = av_nn__load_int(x, xt->dtype, xo + o / m) - zx;
                                int64_t wv =
                                    av_nn__load_int(w, wt->dtype, (ky * c->KW + kx) * c->O + o) -
                                    zw;
                                acc[o] += xv * wv;
                                continue;
                            }
                            int64_t wo = ((o * c->KH + ky) * c->KW + kx) * Cg;
                            int64_t xg = xo + (o / Og) * Cg; /* both 1-byte types */
                            acc[o] += dot_q((const uint8_t *)x + xg, xt->dtype, zx,
                                            (const uint8_t *)w + wo, wt->dtype, zw, Cg);
                        }
                    }
                }
                int64_t yo = ((b * c->OH + oy) * c->OW + ox) * c->O;
                for (int64_t o = 0; o < c->O; o++)
                    av_nn__store_int(y, yt->dtype, yo + o,
                                     av_nn__qout_put(&q, (double)acc[o] * sx * w_scale(wt, o)));
            }
}

/* A conv that took a depthwise (pass_fuse.c): the depthwise into a buffer,
 * then the conv on it, as the two nodes ran. */
static av_nn_status conv_after_dw(const av_nn__graph *g, const av_nn__node *n,
                                  const void *const *in, void *const *out, char *err,
                                  size_t errlen)
{
    av_nn__node dw, pw = *n;
    av_nn__dwpw_node(g, n, &dw);
    const av_nn__tensor *x = &g->tensors[n->in[0]];
    int64_t nx = av_nn__numel(x);
    float *mid = nx >= 0 ? malloc((size_t)(nx ? nx : 1) * sizeof *mid) : NULL;
    if (!mid)
        return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "depthwise output");
    float *xs = NULL; /* a fused squeeze-excite multiply: x * s, as the node ran */
    av_nn__tid sct = av_nn__dwpw_scale(n);
    if (sct >= 0) {
        const av_nn__tensor *sc = &g->tensors[sct];
        int64_t c = x->dims[3], hw = x->dims[0] ? nx / x->dims[0] : 0;
        xs = malloc((size_t)(nx ? nx : 1) * sizeof *xs);
        if (!xs) {
            free(mid);
            return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "scaled input");
        }
        const float *xf = in[0], *sf = in[6];
        for (int64_t i = 0; i < nx; i++) {
            int64_t b = sc->dims[0] == 1 ? 0 : i / hw;
            xs[i] = xf[i] * sf[b * c + i % c];
        }
    }
    const void *din[3] = {xs ? xs : in[0], in[4], in[5]};
    void *dout[1] = {mid};
    av_nn_status st = av_nn__ref_conv(g, &dw, din, dout, err, errlen);
    free(xs);
    if (st == AV_NN_OK) {
        pw.p.conv.dw_on = false;
        pw.n_in = 4;
        const void *pin[4] = {mid, in[1], in[2], in[3]};
        st = av_nn__ref_conv(g, &pw, pin, out, err, errlen);
    }
    free(mid);
    return st;
}

/* A depthwise that took its 1x1 conv (pass_fuse.c): the conv into a
 * buffer, then the depthwise on it image by image (the conv's output tensor
 * holds one image's shape), as the two nodes ran. */
static av_nn_status dw_after_pw(const av_nn__graph *g, const av_nn__node *n,
                                const void *const *in, void *const *out, char *err,
                                size_t errlen)
{
    av_nn__node pw, dw;
    av_nn__pwdw_nodes(g, n, &pw, &dw);
    const av_nn__tensor *x = &g->tensors[n->in[0]], *m = &g->tensors[pw.out[0]];
    const av_nn__tensor *y = &g->tensors[n->out[0]];
    int64_t ms = av_nn__numel(m), batch = x->dims[0];
    int64_t ys = batch ? av_nn__numel(y) / batch : 0;
    if (ms < 0 || m->dims[0] != 1 || (batch && ms > INT64_MAX / batch))
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n, "fused conv output shape");
    int64_t all = ms * batch;
    float *mid = malloc((size_t)(all > 0 ? all : 1) * sizeof *mid);
    if (!mid)
        return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "1x1 conv output");
    const void *pin[3] = {in[0], in[4], in[5]};
    void *pout[1] = {mid};
    av_nn_status st = av_nn__ref_conv(g, &pw, pin, pout, err, errlen); /* every image */
    for (int64_t b = 0; b < batch && st == AV_NN_OK; b++) {
        const void *din[3] = {mid + b * ms, in[1], in[2]};
        void *dout[1] = {(float *)out[0] + b * ys};
        st = av_nn__ref_conv(g, &dw, din, dout, err, errlen);
    }
    free(mid);
    return st;
}

av_nn_status av_nn__ref_conv(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                             void *const *out, char *err, size_t errlen)
{
    if (n->op == AV_NN_OP_CONV2D && n->p.conv.dw_on)
        return conv_after_dw(g, n, in, out, err, errlen);
    if (n->op == AV_NN_OP_DEPTHWISE_CONV2D && n->p.conv.pw_on)
        return dw_after_pw(g, n, in, out, err, errlen);
    const av_nn__tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
    const void *bias = n->n_in > 2 ? in[2] : NULL;
    conv_geom c;
    geom(g, n, &c);
    bool quant = av_nn__is_quant(x);
    if (!(x->dtype == AV_NN_F32 && w->dtype == AV_NN_F32) &&
        !(quant && av_nn__is_quant(&g->tensors[n->out[0]]) &&
          (w->dtype == AV_NN_U8 || w->dtype == AV_NN_I8) &&
          (w->quant.scale != 0 || w->quant.channel_scales)))
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n,
                                "input %s / filter %s not supported", av_nn_dtype_name(x->dtype),
                                av_nn_dtype_name(w->dtype));
    if (bias && !quant && g->tensors[n->in[2]].dtype != AV_NN_F32)
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n, "bias must be f32");
    const float *res = n->op == AV_NN_OP_CONV2D && n->n_in > 3 && n->in[3] >= 0 ? in[3] : NULL;
    if (res && (quant || g->tensors[n->in[3]].dtype != AV_NN_F32))
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n, "residual must be f32");
    void *acc = malloc((size_t)(c.O ? c.O : 1) * 8);
    if (!acc)
        return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "accumulator of %lld channels",
                                (long long)c.O);
    if (quant)
        conv_q(g, n, &c, in[0], in[1], bias, out[0], acc);
    else
        conv_f32(g, n, &c, in[0], in[1], bias, res, out[0], acc);
    free(acc);
    return AV_NN_OK;
}

/* f32 transpose conv by scatter: y[n, iy*s - pt + ky*d, ...][o] += x[n,iy,ix,c] * w[o,ky,kx,c] */
av_nn_status av_nn__ref_transpose_conv(const av_nn__graph *g, const av_nn__node *n,
                                       const void *const *in, void *const *out, char *err,
                                       size_t errlen)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
    if (x->dtype != AV_NN_F32 || w->dtype != AV_NN_F32)
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n, "only f32");
    conv_geom c;
    geom(g, n, &c);
    const float *xd = in[0], *wd = in[1], *bd = n->n_in > 2 ? in[2] : NULL;
    float *y = out[0];
    for (int64_t i = 0; i < c.N * c.OH * c.OW; i++)
        for (int64_t o = 0; o < c.O; o++)
            y[i * c.O + o] = bd ? bd[o] : 0.0f;
    for (int64_t b = 0; b < c.N; b++)
        for (int64_t iy = 0; iy < c.H; iy++)
            for (int64_t ix = 0; ix < c.W; ix++) {
                const float *xp = xd + ((b * c.H + iy) * c.W + ix) * c.C;
                for (int64_t ky = 0; ky < c.KH; ky++) {
                    int64_t oy = iy * c.sh - c.pt + ky * c.dh;
                    if (oy < 0 || oy >= c.OH)
                        continue;
                    for (int64_t kx = 0; kx < c.KW; kx++) {
                        int64_t ox = ix * c.sw - c.pl + kx * c.dw;
                        if (ox < 0 || ox >= c.OW)
                            continue;
                        float *yp = y + ((b * c.OH + oy) * c.OW + ox) * c.O;
                        for (int64_t o = 0; o < c.O; o++) {
                            const float *wp = wd + ((o * c.KH + ky) * c.KW + kx) * c.C;
                            float s = 0;
                            for (int64_t ci = 0; ci < c.C; ci++)
                                s += xp[ci] * wp[ci];
                            yp[o] += s;
                        }
                    }
                }
            }
    for (int64_t i = 0; i < c.N * c.OH * c.OW * c.O; i++)
        y[i] = av_nn__apply_act(y[i], &n->p.conv.act);
    return AV_NN_OK;
}

/* y[m, o] = act(bias[o] + sum_k x[m, k] * w[o, k]); x viewed as [M, K] */
av_nn_status av_nn__ref_fc(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                           void *const *out, char *err, size_t errlen)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
    const av_nn__tensor *bt = n->n_in > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
    const av_nn__tensor *yt = &g->tensors[n->out[0]];
    int64_t O = w->dims[0], K = w->dims[1], M = K ? av_nn__numel(x) / K : 0;
    const void *bias = n->n_in > 2 ? in[2] : NULL;
    if (x->dtype == AV_NN_F32 && w->dtype == AV_NN_F32) {
        if (bt && bt->dtype != AV_NN_F32)
            return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n, "bias must be f32");
        const float *xd = in[0], *wd = in[1], *bd = bias;
        float *y = out[0];
        for (int64_t m = 0; m < M; m++)
            for (int64_t o = 0; o < O; o++) {
                float s = bd ? bd[o] : 0.0f;
                for (int64_t k = 0; k < K; k++)
                    s += xd[m * K + k] * wd[o * K + k];
                y[m * O + o] = av_nn__apply_act(s, &n->p.fc.act);
            }
        return AV_NN_OK;
    }
    if (!av_nn__is_quant(x) || !av_nn__is_quant(yt) ||
        (w->dtype != AV_NN_U8 && w->dtype != AV_NN_I8) ||
        (w->quant.scale == 0 && !w->quant.channel_scales))
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n,
                                "input %s / weights %s not supported", av_nn_dtype_name(x->dtype),
                                av_nn_dtype_name(w->dtype));
    av_nn__qout q;
    av_nn__qout_init(&q, yt, &n->p.fc.act);
    double sx = x->quant.scale;
    int32_t zx = x->quant.zero_point, zw = w->quant.zero_point;
    for (int64_t m = 0; m < M; m++)
        for (int64_t o = 0; o < O; o++) {
            int64_t s = q_bias(bt, bias, o, sx * w_scale(w, o));
            s += dot_q((const uint8_t *)in[0] + m * K, x->dtype, zx, (const uint8_t *)in[1] + o * K,
                       w->dtype, zw, K);
            av_nn__store_int(out[0], yt->dtype, m * O + o,
                             av_nn__qout_put(&q, (double)s * sx * w_scale(w, o)));
        }
    return AV_NN_OK;
}

/* Batched matmul with numpy broadcasting over the leading dims; any numeric dtype. */
av_nn_status av_nn__ref_matmul(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                               void *const *out, char *err, size_t errlen)
{
    const av_nn__tensor *a = &g->tensors[n->in[0]], *b = &g->tensors[n->in[1]];
    const av_nn__tensor *y = &g->tensors[n->out[0]];
    if (av_nn__is_quant(a) || a->dtype == AV_NN_BOOL)
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n, "dtype %s",
                                av_nn_dtype_name(a->dtype));
    int64_t M = a->rank == 1 ? 1 : a->dims[a->rank - 2], K = a->dims[a->rank - 1];
    int64_t N = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0;
    int rbat = ra > rb ? ra : rb;
    int64_t bd[AV_NN_MAX_RANK] = {0}, sa[AV_NN_MAX_RANK], sb[AV_NN_MAX_RANK], nb = 1;
    for (int i = 0; i < rbat; i++) {
        int ka = i - (rbat - ra), kb = i - (rbat - rb);
        int64_t da = ka >= 0 ? a->dims[ka] : 1, db = kb >= 0 ? b->dims[kb] : 1;
        bd[i] = da == 1 ? db : da; /* as shape inference: 0 wins over 1 */
        nb *= bd[i];
    }
    av_nn__bcast_strides(rbat, bd, ra, a->dims, sa);
    av_nn__bcast_strides(rbat, bd, rb, b->dims, sb);
    int64_t idx[AV_NN_MAX_RANK] = {0}, oa = 0, ob = 0;
    for (int64_t bi = 0; bi < nb; bi++) {
        int64_t abase = oa * M * K, bbase = ob * K * N, ybase = bi * M * N;
        for (int64_t m = 0; m < M; m++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                if (a->dtype == AV_NN_F32) {
                    const float *ad = in[0], *bdd = in[1];
                    float sf = 0;
                    for (int64_t k = 0; k < K; k++)
                        sf += ad[abase + m * K + k] * bdd[bbase + k * N + j];
                    s = sf;
                } else {
                    for (int64_t k = 0; k < K; k++)
                        s += av_nn__load_elem(in[0], a->dtype, abase + m * K + k) *
                             av_nn__load_elem(in[1], b->dtype, bbase + k * N + j);
                }
                av_nn__store_elem(out[0], y->dtype, ybase + m * N + j, s);
            }
        for (int i = rbat - 1; i >= 0; i--) { /* next batch index */
            idx[i]++;
            oa += sa[i];
            ob += sb[i];
            if (idx[i] < bd[i])
                break;
            oa -= sa[i] * bd[i];
            ob -= sb[i] * bd[i];
            idx[i] = 0;
        }
    }
    return AV_NN_OK;
}

/*
 * Max / average pooling, NHWC, any numeric dtype. Quantised average pooling
 * rounds the integer mean half away from zero (TFLite); max pooling works on
 * the raw values. Both requantise when input and output quantisation differ.
 */
av_nn_status av_nn__ref_pool(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                             void *const *out, char *err, size_t errlen)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    const av_nn__pool_params *p = &n->p.pool;
    bool is_max = n->op == AV_NN_OP_MAX_POOL2D, quant = av_nn__is_quant(x);
    if (x->dtype == AV_NN_BOOL ||
        (x->dtype != AV_NN_F32 && x->dtype != AV_NN_F16 && !quant && !is_max))
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n, "dtype %s",
                                av_nn_dtype_name(x->dtype));
    if (p->peak && (!is_max || x->dtype != AV_NN_F32 || y->dtype != AV_NN_F32 ||
                    av_nn__numel(x) != av_nn__numel(y) || x->rank != 4 || y->rank != 4 ||
                    memcmp(x->dims, y->dims, sizeof x->dims[0] * 4) != 0))
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n,
                                "peak mask needs f32 with the output shaped as the input");
    bool same_q =
        !quant ||
        (x->quant.scale == y->quant.scale && x->quant.zero_point == y->quant.zero_point) ||
        y->quant.scale == 0;
    av_nn__qout q;
    if (quant)
        av_nn__qout_init(&q, y->quant.scale ? y : x, &p->act);
    int64_t N = x->dims[0], H = x->dims[1], W = x->dims[2], C = x->dims[3];
    int64_t OH = y->dims[1], OW = y->dims[2];
    for (int64_t b = 0; b < N; b++)
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++)
                for (int64_t c = 0; c < C; c++) {
                    double acc = is_max ? -INFINITY : 0;
                    int64_t cnt = 0, padcnt = 0;
                    for (int ky = 0; ky < p->filter_h; ky++) {
                        int64_t iy = oy * p->stride_h - p->pad_top + (int64_t)ky * p->dilation_h;
                        if (iy >= H + p->pad_bottom)
                            break;
                        for (int kx = 0; kx < p->filter_w; kx++) {
                            int64_t ix =
                                ox * p->stride_w - p->pad_left + (int64_t)kx * p->dilation_w;
                            if (ix >= W + p->pad_right)
                                break;
                            padcnt++; /* inside the padded input */
                            if (iy < 0 || ix < 0 || iy >= H || ix >= W)
                                continue;
                            double v =
                                av_nn__load_elem(in[0], x->dtype, ((b * H + iy) * W + ix) * C + c);
                            acc = is_max ? (v > acc || v != v ? v : acc) : acc + v;
                            cnt++;
                        }
                    }
                    int64_t yo = ((b * OH + oy) * OW + ox) * C + c;
                    if (!is_max) {
                        int64_t div = p->count_include_pad ? padcnt : cnt;
                        acc = div ? acc / (double)div : 0;
                    }
                    if (p->peak) { /* equal(x, max_pool(x)), cast, mul: as unfused */
                        float xv = ((const float *)in[0])[yo];
                        float m = cnt ? (float)acc : 0.0f;
                        ((float *)out[0])[yo] = xv * (xv == m ? 1.0f : 0.0f);
                    } else if (!quant) {
                        if (is_max && cnt == 0)
                            acc = 0;
                        av_nn__store_elem(out[0], y->dtype, yo,
                                          av_nn__apply_act((float)acc, &p->act));
                    } else if (same_q) {
                        /* integer domain: acc is a raw (mean of) q value */
                        double r = is_max ? acc : round(acc);
                        if (cnt == 0)
                            r = x->quant.zero_point;
                        int32_t v = (int32_t)(r < q.lo ? q.lo : r > q.hi ? q.hi : r);
                        av_nn__store_int(out[0], y->dtype, yo, v);
                    } else {
                        double real = cnt ? (acc - x->quant.zero_point) * x->quant.scale : 0;
                        av_nn__store_int(out[0], y->dtype, yo, av_nn__qout_put(&q, real));
                    }
                }
    return AV_NN_OK;
}
