/*
 * pass_fuse.c - rewrites of the fusion sweep (av_nn__graph_finalize) that
 * merge a chain of memory-bound nodes into one pass over the tensor.
 *
 * Peak mask: CenterNet's heat-map NMS is
 *     m = max_pool(x, k, stride 1, same size);  e = equal(x, m);
 *     c = cast(e, f32);                         y = mul(x, c)
 * four passes over 128x128x80 floats (and a bool map). It becomes the
 * max_pool node with p.pool.peak set, writing y directly: one read of x,
 * one write of y (xnn_peak.c; the reference kernel computes the same).
 * Fires only where m, e and c are private (one reader, not graph outputs),
 * the operands are exactly x (either order) and nothing broadcasts; x itself
 * may have other readers (CenterNet's keypoints output).
 *
 * Residual add: y = add(conv(x), r) (MobileNetV3's projection plus the
 * block's input) becomes the conv with r as its fourth input; our GEMM adds
 * r to each output tile while it is in L1 (xnn_gemm.c), one pass over y
 * less. The conv must have no act of its own; the add's (a clamp, leaky,
 * sigmoid: what our GEMM applies) becomes the conv's, applied after the
 * residual as the IR defines it, its output read by the add only, r
 * computed before the conv (the sweep keeps g->order valid) and shaped as y.
 * Only where our GEMM runs the result; XNNPACK's convolution has no such
 * input.
 *
 * Concat act: y = clamp(concat(x_i)) (CenterNet's head: relu after the
 * concat of the upsampled branches, 128x128x128 and 64x64x192) becomes the
 * concat with the clamp as its act, applied while copying: one pass over y
 * less. Only f32 (not quantised), the concat's output read by the clamp
 * only and not a graph output, bounds a plain compare can apply (relu,
 * relu6, clamp with lo < hi). Off with AV_NN_FUSE_CONCAT_ACT=0.
 *
 * Depthwise -> pointwise: y = conv1x1(dw(x)) (MobileNet's separable
 * convolutions, CenterNet's two 128x128x128 heads) becomes the 1x1 conv
 * reading x, with the depthwise's filter, bias, pads and act (p.conv.dw_on).
 * Our kernels run it in bands of rows (xnn_dwpw.c): each band's depthwise
 * output stays in cache for the GEMM instead of a pass to memory and back.
 * Only a depthwise of stride 1, multiplier 1, output the size of its input
 * (so the conv's shapes infer from x as before), its output read by the
 * conv only; f32 throughout; where our depthwise and GEMM run, and the
 * depthwise's output is big enough to leave the caches (av_nn__dwpw_min_floats).
 *
 * Pointwise -> strided depthwise: y = dw(conv1x1(x)) with dw's stride >= 2
 * (MobileNetV3's expansions before each downsampling: CenterNet's stem
 * 16 -> 64 at 256x256, 16 MiB) becomes the depthwise reading x, with the
 * conv's filter, bias and act (p.conv.pw_on); our kernels compute the
 * conv's rows each output row needs into a window that stays in cache
 * (xnn_pwdw.c). Stride 1 depthwise convolutions are left to the fusion
 * above. Only batch 1 graphs (the conv's output tensor keeps one image's
 * shape for the reference and quant.c), the conv's output read by the
 * depthwise only and as big as the other fusion asks.
 *
 * Squeeze-excite into the depthwise: y = x * s, s per image and channel
 * ([N or 1, 1, 1, C]: the SE block's gate), read only by convs that took
 * their depthwise (CenterNet's two heads on 128x128x128, 8 MiB) becomes
 * those convs reading x with s as in[6]: dw(x * s) = (taps * s) applied to
 * x, so our bands scale the depthwise's taps per run (C x taps floats) and
 * y is never written nor read (xnn_dwpw.c; the reference multiplies first).
 * f32, y not a graph output, every reader taking it. AV_NN_FUSE_SE_DW=0.
 *
 * Resize into concat: concat(..., resize_bilinear(z), ...) along channels
 * (CenterNet's FPN: 64x64x64 upsampled to 128x128 beside a 128x128x64
 * skip) becomes the concat reading z (p.axis.resized), which samples z row
 * by row straight into its slice of the output (xnn_concat.c): the resize's
 * output (4 MiB there) is never written nor read. f32 NHWC, sizes
 * constant, the coordinate modes our rows and the reference share, the
 * resize's output read by the concat only. AV_NN_FUSE_RESIZE_CONCAT=0.
 */
#include "nn/core.h"

#include <math.h>
#include <string.h>

/* The only live reader of t when t is a private intermediate, else NULL. */
static av_nn__node *only_reader(av_nn__graph *g, av_nn__tid t)
{
    const av_nn__tensor *x = &g->tensors[t];
    if (x->n_consumers != 1 || x->is_output || x->is_input || x->data)
        return NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        av_nn__node *n = &g->nodes[i];
        for (int k = 0; !n->dead && k < n->n_in; k++)
            if (n->in[k] == t)
                return n;
    }
    return NULL;
}

av_nn__node *av_nn__private_reader(av_nn__graph *g, av_nn__tid t)
{
    return only_reader(g, t);
}

/* A two-input node reading exactly {a, b}, in either order. */
static bool reads_pair(const av_nn__node *n, av_nn__tid a, av_nn__tid b)
{
    return n->n_in == 2 && ((n->in[0] == a && n->in[1] == b) || (n->in[0] == b && n->in[1] == a));
}

static bool same_shape(const av_nn__tensor *a, const av_nn__tensor *b)
{
    return a->rank == b->rank && a->rank >= 0 &&
           memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) == 0;
}

bool av_nn__fuse_peak(av_nn__graph *g, av_nn__node *mp)
{
    if (mp->op != AV_NN_OP_MAX_POOL2D || mp->p.pool.peak || mp->n_in != 1 || mp->n_out != 1 ||
        mp->p.pool.act.kind != AV_NN_ACT_NONE || !av_nn__peak_fusion_pays())
        return false;
    av_nn__tid x = mp->in[0], m = mp->out[0];
    const av_nn__tensor *xt = &g->tensors[x];
    if (x < 0 || xt->dtype != AV_NN_F32 || xt->rank != 4 || av_nn__is_quant(xt) ||
        !same_shape(xt, &g->tensors[m]) || g->tensors[m].dtype != AV_NN_F32)
        return false;
    av_nn__node *eq = only_reader(g, m);
    if (!eq || eq->op != AV_NN_OP_BINARY || eq->p.binary.kind != AV_NN_BIN_EQUAL ||
        !reads_pair(eq, x, m) || g->tensors[eq->out[0]].dtype != AV_NN_BOOL ||
        !same_shape(xt, &g->tensors[eq->out[0]]))
        return false;
    av_nn__node *cast = only_reader(g, eq->out[0]);
    if (!cast || cast->op != AV_NN_OP_CAST || cast->n_in != 1 ||
        g->tensors[cast->out[0]].dtype != AV_NN_F32)
        return false;
    av_nn__node *mul = only_reader(g, cast->out[0]);
    if (!mul || mul->op != AV_NN_OP_BINARY || mul->p.binary.kind != AV_NN_BIN_MUL ||
        mul->p.binary.act.kind != AV_NN_ACT_NONE || !reads_pair(mul, x, cast->out[0]))
        return false;
    const av_nn__tensor *yt = &g->tensors[mul->out[0]];
    if (yt->dtype != AV_NN_F32 || av_nn__is_quant(yt) || !same_shape(xt, yt))
        return false;
    mp->p.pool.peak = true;
    mp->out[0] = mul->out[0];
    g->tensors[mul->out[0]].producer = (int)(mp - g->nodes);
    eq->dead = cast->dead = mul->dead = true;
    return true;
}

av_nn__tid av_nn__conv_residual(const av_nn__graph *g, const av_nn__node *n)
{
    (void)g;
    return n->op == AV_NN_OP_CONV2D && n->n_in > 3 ? n->in[3] : -1;
}

/* Position of t's producer in g->order (-1: a graph input, never produced). */
static int order_pos(const av_nn__graph *g, av_nn__tid t)
{
    int p = g->tensors[t].producer;
    for (int j = 0; p >= 0 && j < g->n_order; j++)
        if (g->order[j] == p)
            return j;
    return p >= 0 ? g->n_order : -1;
}

/* A conv our GEMM takes with a residual: f32 constant filter of at most 64
 * taps (xnn_gemm.c's MAX_TAPS), constant f32 bias if any, no act, groups 1. */
static bool gemm_conv(const av_nn__graph *g, const av_nn__node *c)
{
    /* a conv that took a depthwise has 6 inputs (7 with a scale), in[3] free (-1) */
    bool dw_free = c->p.conv.dw_on && (c->n_in == 6 || c->n_in == 7) && c->in[3] < 0;
    if (c->dead || c->op != AV_NN_OP_CONV2D || c->n_in < 2 || (c->n_in > 3 && !dw_free) ||
        c->n_out != 1 ||
        c->p.conv.groups > 1 || c->p.conv.act.kind != AV_NN_ACT_NONE)
        return false;
    const av_nn__tensor *x = &g->tensors[c->in[0]], *w = &g->tensors[c->in[1]];
    const av_nn__tensor *b = c->n_in > 2 && c->in[2] >= 0 ? &g->tensors[c->in[2]] : NULL;
    return x->dtype == AV_NN_F32 && !av_nn__is_quant(x) && w->dtype == AV_NN_F32 && w->data &&
           w->rank == 4 && w->dims[1] * w->dims[2] <= 64 &&
           (!b || (b->data && b->dtype == AV_NN_F32));
}

bool av_nn__fuse_residual(av_nn__graph *g, av_nn__node *add)
{
    av_nn__act a = add->p.binary.act.kind; /* the sweep may have fused one already */
    if (add->op != AV_NN_OP_BINARY || add->p.binary.kind != AV_NN_BIN_ADD ||
        a == AV_NN_ACT_TANH || a == AV_NN_ACT_SILU || a == AV_NN_ACT_HARDSWISH ||
        (a == AV_NN_ACT_LEAKY && !isfinite(add->p.binary.act.alpha)) ||
        add->n_in != 2 || add->n_out != 1 ||
        add->in[0] < 0 || add->in[1] < 0 || add->in[0] == add->in[1] ||
        !av_nn__residual_fusion_pays())
        return false;
    const av_nn__tensor *yt = &g->tensors[add->out[0]];
    if (yt->dtype != AV_NN_F32 || av_nn__is_quant(yt) || yt->rank != 4)
        return false;
    for (int side = 0; side < 2; side++) {
        av_nn__tid t = add->in[side], r = add->in[1 - side];
        const av_nn__tensor *tt = &g->tensors[t], *rt = &g->tensors[r];
        if (tt->producer < 0 || rt->data || rt->dtype != AV_NN_F32 || av_nn__is_quant(rt) ||
            !same_shape(tt, yt) || !same_shape(rt, yt) || only_reader(g, t) != add)
            continue;
        av_nn__node *c = &g->nodes[tt->producer];
        if (!gemm_conv(g, c) || c->out[0] != t || order_pos(g, r) >= order_pos(g, t))
            continue;
        if (c->n_in < 3)
            c->in[2] = -1;
        c->in[3] = r;
        c->n_in = c->n_in > 4 ? c->n_in : 4;
        c->p.conv.pre_residual = t;
        c->p.conv.act = add->p.binary.act; /* after the residual, as the IR defines it */
        c->out[0] = add->out[0];
        g->tensors[add->out[0]].producer = tt->producer;
        add->dead = true;
        return true;
    }
    return false;
}

bool av_nn__fuse_concat_act(av_nn__graph *g, av_nn__node *cat)
{
    if (cat->op != AV_NN_OP_CONCAT || cat->n_out != 1 || cat->out[0] < 0 ||
        cat->p.axis.act.kind != AV_NN_ACT_NONE || !av_nn__concat_act_fusion_pays())
        return false;
    const av_nn__tensor *ct = &g->tensors[cat->out[0]];
    if (ct->dtype != AV_NN_F32 || av_nn__is_quant(ct))
        return false;
    av_nn__node *a = only_reader(g, cat->out[0]);
    if (!a || a->n_in != 1 || a->n_out != 1 || a->in[0] != cat->out[0])
        return false;
    av_nn__fused_act na = {0};
    if (a->op == AV_NN_OP_CLAMP) {
        float lo = a->p.clamp.min, hi = a->p.clamp.max;
        if (isnan(lo) || isnan(hi) || !(lo < hi))
            return false;
        na.kind = lo == 0 && hi == INFINITY ? AV_NN_ACT_RELU
                  : lo == 0 && hi == 6      ? AV_NN_ACT_RELU6
                                            : AV_NN_ACT_CLAMP;
        na.min = lo, na.max = hi;
    } else if (a->op == AV_NN_OP_UNARY && a->p.unary.kind == AV_NN_UN_RELU) {
        na.kind = AV_NN_ACT_RELU;
    } else {
        return false;
    }
    const av_nn__tensor *yt = &g->tensors[a->out[0]];
    if (yt->dtype != AV_NN_F32 || av_nn__is_quant(yt) || !same_shape(ct, yt))
        return false;
    cat->p.axis.act = na;
    cat->out[0] = a->out[0];
    g->tensors[a->out[0]].producer = (int)(cat - g->nodes);
    a->dead = true;
    return true;
}

/* A constant f32 tensor of n elements (n < 0: any count). */
static bool f32_const(const av_nn__graph *g, av_nn__tid t, int64_t n)
{
    if (t < 0)
        return false;
    const av_nn__tensor *c = &g->tensors[t];
    return c->data && c->dtype == AV_NN_F32 && !c->released && (n < 0 || av_nn__numel(c) == n);
}

bool av_nn__fuse_dwpw(av_nn__graph *g, av_nn__node *pw)
{
    const av_nn__conv_params *p = &pw->p.conv;
    if (pw->op != AV_NN_OP_CONV2D || p->dw_on || p->groups > 1 || pw->n_in < 2 || pw->n_in > 4 ||
        pw->n_out != 1 || pw->in[0] < 0 || p->stride_h != 1 || p->stride_w != 1 ||
        p->pad_top || p->pad_left || p->pad_bottom || p->pad_right ||
        !av_nn__dwpw_fusion_pays())
        return false;
    const av_nn__tensor *mid = &g->tensors[pw->in[0]], *w = &g->tensors[pw->in[1]];
    if (mid->dtype != AV_NN_F32 || mid->rank != 4 || mid->producer < 0 || !f32_const(g, pw->in[1], -1) ||
        w->rank != 4 || w->dims[1] != 1 || w->dims[2] != 1 || w->dims[3] != mid->dims[3] ||
        (pw->n_in > 2 && pw->in[2] >= 0 && !f32_const(g, pw->in[2], w->dims[0])) ||
        only_reader(g, pw->in[0]) != pw)
        return false;
    av_nn__node *dw = &g->nodes[mid->producer];
    const av_nn__conv_params *q = &dw->p.conv;
    if (dw->dead || dw->op != AV_NN_OP_DEPTHWISE_CONV2D || dw->n_out != 1 ||
        dw->out[0] != pw->in[0] || dw->n_in < 2 || dw->n_in > 3 || dw->in[0] < 0)
        return false;
    const av_nn__tensor *x = &g->tensors[dw->in[0]], *wd = &g->tensors[dw->in[1]];
    int64_t c = mid->dims[3];
    if (x->dtype != AV_NN_F32 || av_nn__is_quant(x) || !same_shape(x, mid) ||
        !f32_const(g, dw->in[1], -1) || wd->rank != 4 || wd->dims[0] != 1 ||
        wd->dims[3] != c || (dw->n_in > 2 && dw->in[2] >= 0 && !f32_const(g, dw->in[2], c)) ||
        q->stride_h != 1 || q->stride_w != 1 || q->dilation_h != 1 || q->dilation_w != 1 ||
        q->pad_top < 0 || q->pad_left < 0 || q->pad_top + q->pad_bottom != wd->dims[1] - 1 ||
        q->pad_left + q->pad_right != wd->dims[2] - 1 || !av_nn__xnn_dw_takes(g, dw) ||
        av_nn__numel(mid) / mid->dims[0] < av_nn__dwpw_min_floats(-1))
        return false;
    av_nn__conv_params *o = &pw->p.conv;
    if (pw->n_in < 3)
        pw->in[2] = -1;
    if (pw->n_in < 4)
        pw->in[3] = -1;
    pw->in[0] = dw->in[0];
    pw->in[4] = dw->in[1];
    pw->in[5] = dw->n_in > 2 ? dw->in[2] : -1;
    pw->n_in = 6;
    o->dw_on = true;
    o->dw_pad_top = q->pad_top, o->dw_pad_left = q->pad_left;
    o->dw_pad_bottom = q->pad_bottom, o->dw_pad_right = q->pad_right;
    o->dw_act = q->act;
    o->pre_dw = dw->out[0];
    dw->dead = true;
    return true;
}

bool av_nn__dwpw_node(const av_nn__graph *g, const av_nn__node *n, av_nn__node *dw)
{
    (void)g;
    const av_nn__conv_params *p = &n->p.conv;
    if (n->op != AV_NN_OP_CONV2D || !p->dw_on || (n->n_in != 6 && n->n_in != 7))
        return false;
    av_nn__dwpw_dw_of(n, dw);
    return true;
}

void av_nn__dwpw_dw_of(const av_nn__node *n, av_nn__node *dw)
{
    const av_nn__conv_params *p = &n->p.conv;
    *dw = (av_nn__node){.op = AV_NN_OP_DEPTHWISE_CONV2D, .name = n->name, .n_out = 1};
    dw->n_in = n->in[5] >= 0 ? 3 : 2;
    dw->in[0] = n->in[0], dw->in[1] = n->in[4], dw->in[2] = n->in[5];
    dw->out[0] = n->in[0]; /* same shape and dtype as the depthwise's output */
    dw->p.conv = (av_nn__conv_params){.stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                      .dilation_w = 1, .padding = AV_NN_PAD_EXPLICIT,
                                      .pad_top = p->dw_pad_top, .pad_left = p->dw_pad_left,
                                      .pad_bottom = p->dw_pad_bottom,
                                      .pad_right = p->dw_pad_right, .depth_multiplier = 1,
                                      .act = p->dw_act, .pre_residual = -1, .pre_dw = -1};
}

static av_nn__switch rc_sw = AV_NN__SWITCH("AV_NN_FUSE_RESIZE_CONCAT");

bool av_nn__resize_concat_fusion_pays(void)
{
    return av_nn__switch_on(&rc_sw);
}

void av_nn__resize_concat_force_off(bool on)
{
    av_nn__switch_force_off(&rc_sw, on);
}

/* The coordinate modes our kernel (xnn_concat.c) and the reference share. */
static bool rc_coord_ok(const av_nn__resize_params *p)
{
    return p->coord == AV_NN_COORD_HALF_PIXEL || p->coord == AV_NN_COORD_ALIGN_CORNERS ||
           p->coord == AV_NN_COORD_ASYMMETRIC ||
           (p->coord == AV_NN_COORD_PYTORCH_HALF_PIXEL && p->out_h > 1 && p->out_w > 1);
}

bool av_nn__fuse_resize_concat(av_nn__graph *g, av_nn__node *rs)
{
    const av_nn__resize_params *p = &rs->p.resize;
    if (rs->op != AV_NN_OP_RESIZE || p->mode != AV_NN_RESIZE_BILINEAR || !rc_coord_ok(p) ||
        rs->n_in < 1 || rs->n_in > 2 || rs->n_out != 1 || rs->in[0] < 0 || rs->out[0] < 0 ||
        (rs->n_in > 1 && rs->in[1] >= 0 && !g->tensors[rs->in[1]].data) ||
        !av_nn__resize_concat_fusion_pays())
        return false;
    const av_nn__tensor *x = &g->tensors[rs->in[0]], *y = &g->tensors[rs->out[0]];
    if (x->dtype != AV_NN_F32 || av_nn__is_quant(x) || x->rank != 4 || y->rank != 4 ||
        y->dtype != AV_NN_F32 || av_nn__is_quant(y) || y->dims[1] != p->out_h ||
        y->dims[2] != p->out_w || x->dims[1] < 1 || x->dims[2] < 1)
        return false;
    av_nn__node *cat = only_reader(g, rs->out[0]);
    if (!cat || cat->op != AV_NN_OP_CONCAT || cat->p.axis.resized ||
        (cat->n_out != 1 && !cat->p.axis.mean) ||
        cat->p.axis.axis != 3 || g->tensors[cat->out[0]].rank != 4)
        return false;
    int k = -1;
    for (int i = 0; i < cat->n_in; i++)
        if (cat->in[i] == rs->out[0])
            k = i;
    cat->in[k] = rs->in[0];
    cat->p.axis.resized = true;
    cat->p.axis.resize_k = k;
    cat->p.axis.resize = *p;
    cat->p.axis.pre_resize = rs->out[0];
    rs->dead = true;
    return true;
}

av_nn__tid av_nn__dwpw_scale(const av_nn__node *n)
{
    return n->op == AV_NN_OP_CONV2D && n->p.conv.dw_on && n->n_in > 6 ? n->in[6] : -1;
}

static av_nn__switch se_sw = AV_NN__SWITCH("AV_NN_FUSE_SE_DW");

bool av_nn__se_dw_fusion_pays(void)
{
    return av_nn__switch_on(&se_sw);
}

void av_nn__se_dw_force_off(bool on)
{
    av_nn__switch_force_off(&se_sw, on);
}

/* A reader of y the squeeze-excite fusion can take: a dw_on conv reading y
 * as its input only, without a scale yet. */
static bool se_reader(const av_nn__node *n, av_nn__tid y)
{
    if (n->op != AV_NN_OP_CONV2D || !n->p.conv.dw_on || n->n_in != 6 || n->in[0] != y)
        return false;
    for (int k = 1; k < n->n_in; k++)
        if (n->in[k] == y)
            return false;
    return true;
}

bool av_nn__fuse_se_dw(av_nn__graph *g, av_nn__node *mul)
{
    if (mul->op != AV_NN_OP_BINARY || mul->p.binary.kind != AV_NN_BIN_MUL ||
        mul->p.binary.act.kind != AV_NN_ACT_NONE || mul->n_in != 2 || mul->n_out != 1 ||
        mul->in[0] < 0 || mul->in[1] < 0 || mul->in[0] == mul->in[1] || mul->out[0] < 0 ||
        !av_nn__se_dw_fusion_pays())
        return false;
    av_nn__tid yt = mul->out[0];
    const av_nn__tensor *y = &g->tensors[yt];
    if (y->dtype != AV_NN_F32 || av_nn__is_quant(y) || y->rank != 4 || y->is_output ||
        y->is_input || y->data || y->n_consumers < 1)
        return false;
    int side = -1;
    for (int k = 0; k < 2 && side < 0; k++) {
        const av_nn__tensor *x = &g->tensors[mul->in[k]], *sc = &g->tensors[mul->in[1 - k]];
        if (x->dtype == AV_NN_F32 && !av_nn__is_quant(x) && same_shape(x, y) &&
            sc->dtype == AV_NN_F32 && !av_nn__is_quant(sc) && !sc->data && sc->rank == 4 &&
            sc->dims[1] == 1 && sc->dims[2] == 1 && sc->dims[3] == y->dims[3] &&
            (sc->dims[0] == 1 || sc->dims[0] == y->dims[0]))
            side = k;
    }
    if (side < 0)
        return false;
    /* every reader must take it: the multiply's output is then never written */
    int readers = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const av_nn__node *n = &g->nodes[i];
        bool reads = false;
        for (int k = 0; !n->dead && k < n->n_in; k++)
            reads |= n->in[k] == yt;
        if (reads && !se_reader(n, yt))
            return false;
        readers += reads;
    }
    if (readers != y->n_consumers)
        return false;
    for (int i = 0; i < g->n_nodes; i++) {
        av_nn__node *n = &g->nodes[i];
        if (n->dead || n->n_in < 1 || n->in[0] != yt)
            continue;
        n->in[0] = mul->in[side];
        n->in[6] = mul->in[1 - side];
        n->n_in = 7;
        n->p.conv.pre_scale = yt;
    }
    mul->dead = true;
    return true;
}

bool av_nn__fuse_pwdw(av_nn__graph *g, av_nn__node *dw)
{
    const av_nn__conv_params *q = &dw->p.conv;
    if (dw->op != AV_NN_OP_DEPTHWISE_CONV2D || q->pw_on || dw->n_in < 2 || dw->n_in > 3 ||
        dw->n_out != 1 || dw->in[0] < 0 || (q->stride_h < 2 && q->stride_w < 2) ||
        !av_nn__pwdw_fusion_pays())
        return false;
    const av_nn__tensor *mid = &g->tensors[dw->in[0]];
    if (mid->dtype != AV_NN_F32 || av_nn__is_quant(mid) || mid->rank != 4 ||
        mid->dims[0] != 1 || mid->producer < 0 || only_reader(g, dw->in[0]) != dw ||
        av_nn__numel(mid) < av_nn__dwpw_min_floats(-1) || !av_nn__xnn_dw_takes(g, dw))
        return false;
    /* each chunk of output rows (xnn_pwdw.c) computes kh - stride conv rows
     * twice: at most 1/20 more of the conv (the stem's 3x3 s2 at 128 rows:
     * 1/32; MobileNetV3's 5x5 s2 at 64 rows: 3/16, measured slower) */
    const av_nn__tensor *dy = &g->tensors[dw->out[0]], *wd = &g->tensors[dw->in[1]];
    int64_t chunk = (dy->dims[1] + AV_NN__PWDW_CHUNKS - 1) / AV_NN__PWDW_CHUNKS;
    if (av_nn__dwpw_min_floats(-1) > 0 && (wd->dims[1] - q->stride_h) * 20 > chunk * q->stride_h)
        return false;
    av_nn__node *pw = &g->nodes[mid->producer];
    const av_nn__conv_params *p = &pw->p.conv;
    if (pw->dead || pw->op != AV_NN_OP_CONV2D || p->dw_on || p->groups > 1 || pw->n_in < 2 ||
        pw->n_in > 3 || pw->n_out != 1 || pw->out[0] != dw->in[0] || pw->in[0] < 0 ||
        p->stride_h != 1 || p->stride_w != 1 || p->pad_top || p->pad_left || p->pad_bottom ||
        p->pad_right || p->act.kind == AV_NN_ACT_TANH ||
        (p->act.kind == AV_NN_ACT_LEAKY && !isfinite(p->act.alpha)) ||
        (p->act.kind == AV_NN_ACT_CLAMP && !(p->act.min < p->act.max)))
        return false;
    const av_nn__tensor *x = &g->tensors[pw->in[0]], *w = &g->tensors[pw->in[1]];
    if (x->dtype != AV_NN_F32 || av_nn__is_quant(x) || x->rank != 4 ||
        !f32_const(g, pw->in[1], -1) || w->rank != 4 || w->dims[1] != 1 || w->dims[2] != 1 ||
        w->dims[3] != x->dims[3] || w->dims[0] != mid->dims[3] ||
        x->dims[1] != mid->dims[1] || x->dims[2] != mid->dims[2] ||
        (pw->n_in > 2 && pw->in[2] >= 0 && !f32_const(g, pw->in[2], w->dims[0])))
        return false;
    av_nn__conv_params *o = &dw->p.conv;
    if (dw->n_in < 3)
        dw->in[2] = -1;
    dw->in[3] = -1;
    dw->in[4] = pw->in[1];
    dw->in[5] = pw->n_in > 2 ? pw->in[2] : -1;
    dw->in[0] = pw->in[0];
    dw->n_in = 6;
    o->pw_on = true;
    o->pw_act = p->act;
    o->pre_pw = pw->out[0];
    pw->dead = true;
    return true;
}

bool av_nn__pwdw_nodes(const av_nn__graph *g, const av_nn__node *n, av_nn__node *pw,
                       av_nn__node *dw)
{
    (void)g;
    const av_nn__conv_params *p = &n->p.conv;
    if (n->op != AV_NN_OP_DEPTHWISE_CONV2D || !p->pw_on || n->n_in != 6)
        return false;
    *pw = (av_nn__node){.op = AV_NN_OP_CONV2D, .name = n->name, .n_out = 1};
    pw->n_in = n->in[5] >= 0 ? 3 : 2;
    pw->in[0] = n->in[0], pw->in[1] = n->in[4], pw->in[2] = n->in[5];
    pw->out[0] = p->pre_pw;
    pw->p.conv = (av_nn__conv_params){.stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                      .dilation_w = 1, .padding = AV_NN_PAD_EXPLICIT,
                                      .groups = 1, .act = p->pw_act, .pre_residual = -1,
                                      .pre_dw = -1, .pre_pw = -1};
    *dw = *n;
    dw->p.conv.pw_on = false;
    dw->n_in = n->in[2] >= 0 ? 3 : 2;
    dw->in[0] = p->pre_pw;
    return true;
}
