/*
 * pass_focus.c - YOLOX's space-to-depth stem ("Focus") as one data move.
 *
 * The ONNX graph takes NCHW x[N,C,H,W] through four strided slices
 * x[:, :, qy::2, qx::2], a concat of them along C and the transpose to
 * NHWC in front of the first convolution: four reads of x, two full writes
 * and the transpose's 3-channel rows. The same values come out of
 *   reshape x to [N, C, H/2, 2, W/2, 2] (the axes c, i, qy, j, qx)
 *   -> transpose to [N, H/2, W/2, 2, 2, C] (i, j, then the concat's order
 *      of (qy, qx), then c)
 *   -> reshape to [N, H/2, W/2, 4C]
 * where the reshapes are free (the planner aliases them) and the rank-6
 * transpose is one pass the XNNPACK backend runs on its own kernel
 * (xnn_s2d.c). Exact: pure data movement. Matched only when the concat
 * takes all four (qy, qx) offsets in an order that is a product order
 * (qx-major as YOLOX has it, or qy-major), H and W are even, and no
 * intermediate tensor has another reader or is a graph output.
 * AV_NN_FUSE_FOCUS=0 (or av_nn__focus_force_off) leaves the graph as it is.
 */
#include "nn/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static av_nn__switch sw = AV_NN__SWITCH("AV_NN_FUSE_FOCUS");

void av_nn__focus_force_off(bool on)
{
    av_nn__switch_force_off(&sw, on);
}

static bool wanted(void)
{
    return av_nn__switch_on(&sw);
}

/* The live node that writes tensor t and how many live nodes read it. */
static int producer_of(const av_nn__graph *g, av_nn__tid t, int *readers)
{
    int p = -1;
    *readers = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const av_nn__node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] == t)
                p = i;
        for (int k = 0; k < n->n_in; k++)
            *readers += n->in[k] == t;
    }
    return p;
}

/* Slice s of x [N,C,H,W] is x[:, :, qy::2, qx::2] whole: sets *q = qy * 2 + qx. */
static bool focus_slice(const av_nn__graph *g, const av_nn__node *s, av_nn__tid x, int *q)
{
    if (s->op != AV_NN_OP_SLICE || !s->p.slice.resolved || s->n_in < 1 || s->in[0] != x)
        return false;
    const av_nn__tensor *xt = &g->tensors[x], *yt = &g->tensors[s->out[0]];
    const av_nn__slice_params *p = &s->p.slice;
    if (yt->rank != 4 || yt->is_output || yt->dtype != xt->dtype)
        return false;
    for (int a = 0; a < 2; a++)
        if (p->begin[a] != 0 || p->step[a] != 1 || yt->dims[a] != xt->dims[a])
            return false;
    for (int a = 2; a < 4; a++)
        if ((p->begin[a] != 0 && p->begin[a] != 1) || p->step[a] != 2 ||
            yt->dims[a] * 2 != xt->dims[a] ||
            av_nn__slice_count(p->begin[a], p->end[a], p->step[a]) != yt->dims[a])
            return false;
    *q = (int)(p->begin[2] * 2 + p->begin[3]);
    return true;
}

/*
 * Transpose node ti (NCHW -> NHWC) of concat(4 focus slices of one x, C):
 * *x, the concat node and the slice nodes, and whether the concat's order is
 * qx-major ((0,0), (1,0), (0,1), (1,1) in (qy, qx)) rather than qy-major.
 */
static bool match(const av_nn__graph *g, int ti, av_nn__tid *x, int *ci, int sl[4], bool *qx_major)
{
    static const int nhwc[4] = {0, 2, 3, 1};
    const av_nn__node *t = &g->nodes[ti];
    if (t->dead || t->op != AV_NN_OP_TRANSPOSE || t->p.transpose.rank != 4 || t->n_in < 1 ||
        memcmp(t->p.transpose.perm, nhwc, sizeof nhwc) != 0)
        return false;
    int readers;
    *ci = producer_of(g, t->in[0], &readers);
    if (*ci < 0 || readers != 1 || g->tensors[t->in[0]].is_output)
        return false;
    const av_nn__node *c = &g->nodes[*ci];
    if (c->op != AV_NN_OP_CONCAT || c->n_in != 4 || c->p.axis.axis != 1 ||
        g->tensors[c->out[0]].rank != 4)
        return false;
    int q[4];
    for (int k = 0; k < 4; k++) {
        sl[k] = producer_of(g, c->in[k], &readers);
        if (sl[k] < 0 || readers != 1)
            return false;
        if (k == 0)
            *x = g->nodes[sl[0]].in[0];
        if (!focus_slice(g, &g->nodes[sl[k]], *x, &q[k]))
            return false;
    }
    const av_nn__tensor *xt = &g->tensors[*x];
    if (xt->rank != 4 || xt->data)
        return false;
    for (int a = 0; a < 4; a++)
        if (xt->dims[a] < 1)
            return false;
    *qx_major = q[0] == 0 && q[1] == 2 && q[2] == 1 && q[3] == 3;
    return *qx_major || (q[0] == 0 && q[1] == 1 && q[2] == 2 && q[3] == 3);
}

static av_nn__tid add_like(av_nn__graph *g, av_nn__tid like, const char *suffix, int rank,
                           const int64_t *dims)
{
    char name[300];
    snprintf(name, sizeof name, "%.256s/%s", g->tensors[like].name, suffix);
    av_nn__tid t = av_nn__add_tensor(g, name, g->tensors[like].dtype, rank, dims, NULL, false);
    if (t >= 0)
        g->tensors[t].quant = g->tensors[like].quant; /* per-tensor values move unchanged */
    return t;
}

static av_nn_status rewrite(av_nn__graph *g, int ti, av_nn__tid x, int ci, const int sl[4],
                            bool qx_major, char *err, size_t errlen)
{
    const av_nn__tensor *xt = &g->tensors[x];
    int64_t n = xt->dims[0], c = xt->dims[1], ho = xt->dims[2] / 2, wo = xt->dims[3] / 2;
    int64_t d6[6] = {n, c, ho, 2, wo, 2}, t6[6] = {n, ho, wo, 2, 2, c};
    av_nn__tid r = add_like(g, x, "focus6", 6, d6), s = add_like(g, x, "focus_s2d", 6, t6);
    if (r < 0 || s < 0)
        return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, &g->nodes[ti],
                                "out of memory fusing the focus stem");
    av_nn__params pr;
    memset(&pr, 0, sizeof pr);
    pr.reshape.rank = 6, pr.reshape.resolved = true;
    memcpy(pr.reshape.dims, d6, sizeof d6);
    av_nn__params pt;
    memset(&pt, 0, sizeof pt);
    pt.transpose.rank = 6; /* (n, i, j, then (qx, qy) or (qy, qx), c) */
    const int px[6] = {0, 2, 4, 5, 3, 1}, py[6] = {0, 2, 4, 3, 5, 1};
    memcpy(pt.transpose.perm, qx_major ? px : py, sizeof px);
    char name[300];
    snprintf(name, sizeof name, "%.256s/focus", g->nodes[ti].name ? g->nodes[ti].name : "");
    int nr = av_nn__add_node(g, AV_NN_OP_RESHAPE, name, &x, 1, &r, 1, &pr);
    int nt = nr < 0 ? -1 : av_nn__add_node(g, AV_NN_OP_TRANSPOSE, name, &r, 1, &s, 1, &pt);
    if (nt < 0)
        return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, &g->nodes[ti],
                                "out of memory fusing the focus stem");
    /* the NHWC transpose becomes the last reshape, writing the same tensor */
    av_nn__node *last = &g->nodes[ti];
    const av_nn__tensor *yt = &g->tensors[last->out[0]];
    last->op = AV_NN_OP_RESHAPE;
    last->in[0] = s, last->n_in = 1;
    memset(&last->p, 0, sizeof last->p);
    last->p.reshape.rank = 4, last->p.reshape.resolved = true;
    memcpy(last->p.reshape.dims, yt->dims, sizeof(int64_t) * 4);
    g->nodes[ci].dead = true;
    for (int k = 0; k < 4; k++)
        g->nodes[sl[k]].dead = true;
    av_nn_status st = av_nn__infer_node(g, &g->nodes[nr], err, errlen);
    if (!st)
        st = av_nn__infer_node(g, &g->nodes[nt], err, errlen);
    if (!st)
        st = av_nn__infer_node(g, &g->nodes[ti], err, errlen);
    return st;
}

av_nn_status av_nn__focus_pass(av_nn__graph *g, char *err, size_t errlen)
{
    if (!wanted())
        return AV_NN_OK;
    int n_nodes = g->n_nodes; /* the nodes this adds are never a match */
    for (int i = 0; i < n_nodes; i++) {
        av_nn__tid x;
        int ci, sl[4];
        bool qx_major;
        if (!match(g, i, &x, &ci, sl, &qx_major))
            continue;
        av_nn_status st = rewrite(g, i, x, ci, sl, qx_major, err, errlen);
        if (st)
            return st;
    }
    return AV_NN_OK;
}
