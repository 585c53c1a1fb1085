/*
 * pass_spp.c - spatial pyramid pooling (YOLOX's SPP: max pools 5, 9 and 13
 * of one tensor, stride 1, "same" padding) as a chain of small pools.
 *
 * With stride 1 and padding that never counts (max pooling skips it), the
 * max over a b x b window is the max over an a x a window of the maxima over
 * (b - a + 1)-wide windows: the union of those windows around each pixel,
 * clipped to the image, is the b window clipped to the image. So the pools
 * of one input, sorted by size, each read the previous one's output with
 * a window of the difference plus one: 5, 9, 13 become 5, 5 of 5, 5 of
 * that (75 compares per output instead of 275; XNNPACK's max pooling costs
 * in proportion to the window). Exact: the same maxima, bit for bit.
 * AV_NN_FUSE_SPP=0 (or av_nn__spp_force_off) leaves the pools as they are.
 */
#include "nn/core.h"

#include <stdlib.h>
#include <string.h>

#define MAX_GROUP 8 /* pools of one input taken at a time */

static av_nn__switch sw = AV_NN__SWITCH("AV_NN_FUSE_SPP");

void av_nn__spp_force_off(bool on)
{
    av_nn__switch_force_off(&sw, on);
}

static bool wanted(void)
{
    return av_nn__switch_on(&sw);
}

/* A square odd k x k max pool, stride and dilation 1, k / 2 padding on every
 * side (or SAME, the same here), no act, f32 rank 4 with the input's shape. */
static int same_pool(const av_nn__graph *g, const av_nn__node *n)
{
    if (n->dead || n->op != AV_NN_OP_MAX_POOL2D || n->n_in < 1 || n->n_out != 1)
        return 0;
    const av_nn__pool_params *p = &n->p.pool;
    int k = p->filter_h, h = k / 2;
    if (k < 3 || k % 2 == 0 || p->filter_w != k || p->stride_h != 1 || p->stride_w != 1 ||
        p->dilation_h > 1 || p->dilation_w > 1 || p->peak || p->act.kind != AV_NN_ACT_NONE)
        return 0;
    if (p->padding == AV_NN_PAD_EXPLICIT &&
        (p->pad_top != h || p->pad_bottom != h || p->pad_left != h || p->pad_right != h))
        return 0;
    if (p->padding != AV_NN_PAD_EXPLICIT && p->padding != AV_NN_PAD_SAME)
        return 0;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    if (x->dtype != AV_NN_F32 || y->dtype != AV_NN_F32 || x->rank != 4 || y->rank != 4)
        return 0;
    for (int a = 0; a < 4; a++)
        if (x->dims[a] != y->dims[a] || x->dims[a] < 1)
            return 0;
    return k;
}

av_nn_status av_nn__spp_pass(av_nn__graph *g, char *err, size_t errlen)
{
    if (!wanted())
        return AV_NN_OK;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!same_pool(g, &g->nodes[i]))
            continue;
        av_nn__tid x = g->nodes[i].in[0];
        int grp[MAX_GROUP], ng = 0;
        for (int j = 0; j < g->n_nodes && ng < MAX_GROUP; j++)
            if (same_pool(g, &g->nodes[j]) && g->nodes[j].in[0] == x)
                grp[ng++] = j;
        if (ng < 2 || grp[0] != i) /* one pool alone; a group once, from its first node */
            continue;
        for (int a = 1; a < ng; a++) /* by window, insertion sort */
            for (int b = a; b > 0 && g->nodes[grp[b]].p.pool.filter_h <
                                          g->nodes[grp[b - 1]].p.pool.filter_h;
                 b--) {
                int t = grp[b];
                grp[b] = grp[b - 1], grp[b - 1] = t;
            }
        for (int a = ng - 1; a > 0; a--) { /* from the largest: each reads the next smaller */
            av_nn__node *big = &g->nodes[grp[a]];
            const av_nn__node *small = &g->nodes[grp[a - 1]];
            int k = big->p.pool.filter_h - small->p.pool.filter_h + 1;
            if (k == 1) /* the same window twice: stays as it is */
                continue;
            big->in[0] = small->out[0];
            big->p.pool.filter_h = big->p.pool.filter_w = k;
            big->p.pool.padding = AV_NN_PAD_EXPLICIT;
            big->p.pool.pad_top = big->p.pool.pad_bottom = k / 2;
            big->p.pool.pad_left = big->p.pool.pad_right = k / 2;
            av_nn_status st = av_nn__infer_node(g, big, err, errlen);
            if (st)
                return st;
        }
    }
    return AV_NN_OK;
}
