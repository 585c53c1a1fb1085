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

#include <stdatomic.h>
#include <string.h>

static _Atomic int env_off = -1; /* AV_NN_FUSE_PEAK_TOPK=0: 1 (av_nn__env_zero) */
static atomic_bool forced_off;

bool av_nn__peak_topk_fusion_pays(void)
{
    return !av_nn__env_zero(&env_off, "AV_NN_FUSE_PEAK_TOPK") && !atomic_load(&forced_off);
}

void av_nn__peak_topk_force_off(bool on)
{
    atomic_store(&forced_off, on);
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
