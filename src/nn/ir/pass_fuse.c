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
 */
#include "nn/core.h"

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
