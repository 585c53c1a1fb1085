/*
 * pass_peaktopk.c - CenterNet's detections: the peak mask of the heat map
 * (MAX_POOL2D with p.pool.peak, pass_fuse.c) reshaped to [N, H*W*C] and
 * sorted by one top-k (k = 100 of 1.3 M values). Unfused, the mask writes
 * 5.2 MB that the top-k reads back whole; nearly all of it loses to the
 * k-th best value. The rewrite makes the top-k read the heat map x itself
 * (p.topk.peak, the window in p.topk.peak_pool): its kernels scan x against
 * the running k-th best and compute the window max only for values that
 * could still enter (xnn_peaktopk.c; the reference builds the mask and
 * sorts it, as unfused). The top-k's outputs (tensors, names, dtypes) stay.
 *
 * Fires only where the mask and the reshaped mask are private (read by the
 * reshape, the top-k only; not graph outputs), the reshape keeps one image
 * per row ([N, H*W*C], so batch N graphs are N independent rows), the
 * top-k sorts the largest, 1 <= k <= AV_NN__TOPK_MAX_K, and the window is
 * one the own peak kernel takes (stride 1, no dilation, pads inside the
 * window, no act). AV_NN_FUSE_PEAK_TOPK=0 keeps the two nodes.
 */
#include "nn/core.h"

#include <stdio.h>
#include <string.h>

static av_nn__switch peak_sw = AV_NN__SWITCH("AV_NN_FUSE_PEAK_TOPK");

bool av_nn__peak_topk_fusion_pays(void)
{
    return av_nn__switch_on(&peak_sw);
}

void av_nn__peak_topk_force_off(bool on)
{
    av_nn__switch_force_off(&peak_sw, on);
}

bool av_nn__peak_window_ok(const av_nn__pool_params *p)
{
    return p->stride_h == 1 && p->stride_w == 1 && p->dilation_h == 1 && p->dilation_w == 1 &&
           p->filter_h >= 1 && p->filter_w >= 1 && p->pad_top >= 0 && p->pad_left >= 0 &&
           p->pad_bottom >= 0 && p->pad_right >= 0 && p->pad_top < p->filter_h &&
           p->pad_bottom < p->filter_h && p->pad_left < p->filter_w && p->pad_right < p->filter_w;
}

static bool window_ok(const av_nn__pool_params *p)
{
    return p->peak && p->act.kind == AV_NN_ACT_NONE && av_nn__peak_window_ok(p);
}

bool av_nn__fuse_peak_topk(av_nn__graph *g, av_nn__node *tk)
{
    const av_nn__topk_params *p = &tk->p.topk;
    if (tk->op != AV_NN_OP_TOPK || p->peak || !p->largest || p->k < 1 ||
        p->k > AV_NN__TOPK_MAX_K || tk->n_in < 1 || tk->n_out != 2 || tk->in[0] < 0 ||
        !av_nn__peak_topk_fusion_pays())
        return false;
    av_nn__tid r = tk->in[0];
    const av_nn__tensor *rt = &g->tensors[r];
    if (rt->producer < 0 || rt->rank != 2 || p->axis != 1 || rt->dtype != AV_NN_F32 ||
        av_nn__is_quant(rt) || av_nn__private_reader(g, r) != tk)
        return false;
    av_nn__node *rs = &g->nodes[rt->producer];
    if (rs->dead || rs->op != AV_NN_OP_RESHAPE || rs->n_out != 1 || rs->in[0] < 0)
        return false;
    av_nn__tid y = rs->in[0];
    const av_nn__tensor *yt = &g->tensors[y];
    if (yt->producer < 0 || av_nn__private_reader(g, y) != rs)
        return false;
    av_nn__node *pk = &g->nodes[yt->producer];
    if (pk->dead || pk->op != AV_NN_OP_MAX_POOL2D || pk->n_in != 1 || pk->n_out != 1 ||
        pk->in[0] < 0 || !window_ok(&pk->p.pool))
        return false;
    const av_nn__tensor *xt = &g->tensors[pk->in[0]];
    if (xt->dtype != AV_NN_F32 || av_nn__is_quant(xt) || xt->rank != 4 || yt->rank != 4 ||
        yt->dtype != AV_NN_F32 || av_nn__numel(xt) < 1 ||
        memcmp(xt->dims, yt->dims, sizeof xt->dims[0] * 4) != 0 ||
        rt->dims[0] != xt->dims[0] || rt->dims[1] != xt->dims[1] * xt->dims[2] * xt->dims[3])
        return false;
    for (int o = 0; o < 2; o++) { /* outputs [N, k] as the kernels write them */
        const av_nn__tensor *ot = &g->tensors[tk->out[o]];
        if (ot->rank != 2 || ot->dims[0] != xt->dims[0] || ot->dims[1] != p->k)
            return false;
    }
    if (g->tensors[tk->out[0]].dtype != AV_NN_F32 ||
        (g->tensors[tk->out[1]].dtype != AV_NN_I32 && g->tensors[tk->out[1]].dtype != AV_NN_I64))
        return false;
    tk->p.topk.peak = true;
    tk->p.topk.pre_peak = y;
    tk->p.topk.pre_rows = r;
    tk->p.topk.peak_pool = pk->p.pool;
    tk->in[0] = pk->in[0];
    rs->dead = pk->dead = true;
    return true;
}

/*
 * The heat map's sigmoid where only the peak top-k reads it (CenterNet: the
 * 1x1 conv's fused act over 1.3 M values, of which the top-k keeps 100).
 * The conv writes logits L instead, and the top-k takes p.topk.sigmoid: it
 * scans L and computes the sigmoid only for candidates (xnn_peaktopk.c;
 * the reference computes it all, then as before). The sigmoid s as
 * implemented is monotone non-decreasing but for a margin of 1e-6
 * (AV_NN__SIGMOID_MARGIN; t_nn_sigmoid_peak.c checks every float), so a
 * logit below the logit of the heap's root by the margin cannot beat it
 * (the peak test itself: see xnn_peaktopk.c).
 *
 * When the heat map is a graph output (TF.js names it tower_0/keypoints),
 * one UNARY SIGMOID node (p.unary.as_act: the conv's arithmetic) writes it
 * from L, read by nobody: av_nn_run skips it when the caller does not want
 * that output (the pipeline), and it runs last (av_nn__sigmoid_peak_order:
 * the arena stays as it was). Otherwise the dead-node removal drops it.
 *
 * Fires for a dw_on conv (pass_fuse.c: the own GEMM, whose epilogue is
 * av_nn__xnn_sigmoid_span) with a channel count a multiple of 8, so that
 * every value went through the span's full vectors (its tail runs a
 * different, non-FMA kernel), f32, the top-k its only reader.
 * AV_NN_FUSE_SIGMOID_PEAK=0 keeps the sigmoid in the conv.
 */
static av_nn__switch sig_sw = AV_NN__SWITCH("AV_NN_FUSE_SIGMOID_PEAK");

bool av_nn__sigmoid_peak_pays(void)
{
    return av_nn__switch_on(&sig_sw);
}

void av_nn__sigmoid_peak_force_off(bool on)
{
    av_nn__switch_force_off(&sig_sw, on);
}

/* The top-k node ti (peak) reads a sigmoid conv's output it can take: the conv's index, else -1. */
static int sigmoid_conv(const av_nn__graph *g, int ti)
{
    const av_nn__node *tk = &g->nodes[ti];
    if (tk->dead || tk->op != AV_NN_OP_TOPK || !tk->p.topk.peak || tk->p.topk.sigmoid ||
        tk->n_in < 1 || tk->in[0] < 0)
        return -1;
    const av_nn__tensor *x = &g->tensors[tk->in[0]];
    if (x->producer < 0 || x->is_input || x->data || x->n_consumers != 1 || x->rank != 4 ||
        x->dtype != AV_NN_F32 || av_nn__is_quant(x) || x->dims[3] % 8 != 0)
        return -1;
    const av_nn__node *c = &g->nodes[x->producer];
    if (c->dead || c->op != AV_NN_OP_CONV2D || !c->p.conv.dw_on || c->n_out != 1 ||
        c->out[0] != tk->in[0] || c->p.conv.act.kind != AV_NN_ACT_SIGMOID)
        return -1;
    return x->producer;
}

static av_nn_status fuse_sigmoid_peak(av_nn__graph *g, int ti, char *err, size_t errlen)
{
    int ci = sigmoid_conv(g, ti);
    if (ci < 0)
        return AV_NN_OK;
    av_nn__tid x = g->nodes[ti].in[0];
    char name[256];
    snprintf(name, sizeof name, "%s:logits", g->tensors[x].name ? g->tensors[x].name : "");
    int64_t dims[4];
    memcpy(dims, g->tensors[x].dims, sizeof dims);
    av_nn__tid l = av_nn__add_tensor(g, name, AV_NN_F32, 4, dims, NULL, false);
    if (l < 0)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "sigmoid logits tensor");
    av_nn__params p = {.unary = {.kind = AV_NN_UN_SIGMOID, .as_act = true}};
    int si = av_nn__add_node(g, AV_NN_OP_UNARY, name, &l, 1, &x, 1, &p);
    if (si < 0)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "sigmoid node");
    /* g->nodes and g->tensors may have moved: by index from here */
    g->nodes[ci].out[0] = l;
    g->nodes[ci].p.conv.act = (av_nn__fused_act){.kind = AV_NN_ACT_NONE};
    g->tensors[l].producer = ci;
    g->tensors[l].n_consumers = 2;
    g->tensors[x].producer = si;
    g->tensors[x].n_consumers = 0;
    av_nn__node *tk = &g->nodes[ti];
    tk->in[0] = l;
    tk->p.topk.sigmoid = true;
    tk->p.topk.pre_sig = x;
    return AV_NN_OK;
}

av_nn_status av_nn__sigmoid_peak_pass(av_nn__graph *g, char *err, size_t errlen)
{
    if (!av_nn__sigmoid_peak_pays())
        return AV_NN_OK;
    av_nn_status st = AV_NN_OK;
    for (int j = 0, n = g->n_order; j < n && !st; j++)
        st = fuse_sigmoid_peak(g, g->order[j], err, errlen);
    return st;
}

void av_nn__sigmoid_peak_order(av_nn__graph *g)
{
    /* The split-off sigmoids last in g->order (nothing reads their output,
     * so the order stays valid): the heat map's buffer then lives only from
     * the last step, not next to the logits and the head's input (+5 MiB of
     * CenterNet's arena when next to the conv, where the topological sort
     * puts it). A stable partition. */
    int w = 0, n_last = 0, last[8];
    for (int j = 0; j < g->n_order; j++) {
        int i = g->order[j];
        const av_nn__node *n = &g->nodes[i];
        if (n_last < 8 && n->op == AV_NN_OP_UNARY && n->p.unary.as_act &&
            g->tensors[n->out[0]].n_consumers == 0)
            last[n_last++] = i;
        else
            g->order[w++] = i;
    }
    for (int k = 0; k < n_last; k++)
        g->order[w++] = last[k];
}
