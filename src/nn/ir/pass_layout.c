/*
 * pass_layout.c - carries the layout of a transposed tensor through the ops
 * that do not care about layout, so that the transposes NCHW loaders wrap
 * around every spatial op meet their inverses and vanish.
 *
 * ONNX (and TF.js graphs converted from NCHW) reach the IR as
 *   conv(NHWC) -> T(0,3,1,2) -> sigmoid, mul, add, concat, pad, slice ... ->
 *   T(0,2,3,1) -> conv(NHWC)
 * A transpose is sunk below a consumer c when every data input of c is the
 * same transpose of its own source (or a constant, which is permuted once
 * here): c then runs on the sources, its axis parameters remapped, and one
 * transpose follows each of its outputs. Repeated, the transposes walk down
 * until they compose with the inverse in front of the next conv and cancel.
 * Transposes of transposes compose, and duplicate transposes of one tensor
 * are merged. A constant zero PAD in front of a convolution folds into the
 * convolution's own padding, and a slice of a slice becomes one slice.
 *
 * Every rewrite is exact (pure data movement or elementwise on the same
 * values); shapes are re-inferred for every node touched.
 */
#include "nn/ref/ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bound on rewrites per graph: each moves a transpose forward, so a DAG
 * runs out long before; the bound only guards against a bug looping. */
#define MAX_REWRITES_PER_NODE 8

static bool is_transpose(const av_nn__graph *g, av_nn__tid t, const int *perm, int r)
{
    if (t < 0 || g->tensors[t].producer < 0)
        return false;
    const av_nn__node *p = &g->nodes[g->tensors[t].producer];
    return !p->dead && p->op == AV_NN_OP_TRANSPOSE && p->p.transpose.rank == r &&
           memcmp(p->p.transpose.perm, perm, sizeof(int) * (size_t)r) == 0;
}

/* Producers and consumer counts; nodes whose outputs nobody reads (left
 * behind by earlier rewrites) die first, so that they do not count. */
static void set_producers(av_nn__graph *g)
{
    for (bool again = true; again;) {
        again = false;
        for (int t = 0; t < g->n_tensors; t++) {
            g->tensors[t].producer = -1;
            g->tensors[t].n_consumers = 0;
        }
        for (int i = 0; i < g->n_nodes; i++) {
            av_nn__node *n = &g->nodes[i];
            if (n->dead)
                continue;
            for (int k = 0; k < n->n_out; k++)
                g->tensors[n->out[k]].producer = i;
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0)
                    g->tensors[n->in[k]].n_consumers++;
        }
        for (int i = 0; i < g->n_nodes; i++) {
            av_nn__node *n = &g->nodes[i];
            bool used = false;
            for (int k = 0; !n->dead && k < n->n_out; k++)
                used = used || g->tensors[n->out[k]].n_consumers > 0 ||
                       g->tensors[n->out[k]].is_output;
            if (!n->dead && !used) {
                n->dead = true;
                again = true;
            }
        }
    }
}

static void replace_uses(av_nn__graph *g, av_nn__tid from, av_nn__tid to)
{
    for (int i = 0; i < g->n_nodes; i++) {
        av_nn__node *n = &g->nodes[i];
        for (int k = 0; !n->dead && k < n->n_in; k++)
            if (n->in[k] == from)
                n->in[k] = to;
    }
}

/* Number of inputs of n that carry data in the layout (the rest are
 * parameters, already resolved into n->p and dropped when rewriting). */
static int data_inputs(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *y = &g->tensors[n->out[0]];
    const av_nn__tensor *x = n->n_in > 0 && n->in[0] >= 0 ? &g->tensors[n->in[0]] : NULL;
    if (!x || x->rank != y->rank || x->quant.channel_scales || y->quant.channel_scales)
        return 0;
    switch (n->op) {
    case AV_NN_OP_UNARY:
    case AV_NN_OP_CLAMP:
    case AV_NN_OP_LEAKY_RELU:
    case AV_NN_OP_CAST:
    case AV_NN_OP_IDENTITY:
    case AV_NN_OP_QUANTIZE:
    case AV_NN_OP_DEQUANTIZE:
        return n->n_in == 1 ? 1 : 0;
    case AV_NN_OP_BINARY:
        return n->n_in == 2 && n->in[1] >= 0 ? 2 : 0;
    case AV_NN_OP_CONCAT:
        return n->n_in;
    case AV_NN_OP_SPLIT:
        return n->p.split.resolved ? 1 : 0;
    case AV_NN_OP_SOFTMAX:
        return 1;
    case AV_NN_OP_REDUCE:
        return n->p.reduce.keep_dims ? 1 : 0;
    case AV_NN_OP_PAD:
        return n->p.pad.resolved ? 1 : 0;
    case AV_NN_OP_SLICE: {
        /* resolved, same rank in and out, forward steps: then begin/end are
         * plain ONNX-clamped values that re-inference leaves unchanged */
        const av_nn__slice_params *s = &n->p.slice;
        if (!s->resolved)
            return 0;
        for (int i = 0; i < x->rank; i++)
            if (s->step[i] <= 0)
                return 0;
        return 1;
    }
    default:
        return 0;
    }
}

/* dst[perm[i]] = src[i] for the per-axis parameter arrays. */
static void remap64(int64_t *a, const int *perm, int r)
{
    int64_t tmp[AV_NN_MAX_RANK];
    for (int i = 0; i < r; i++)
        tmp[perm[i]] = a[i];
    memcpy(a, tmp, sizeof(int64_t) * (size_t)r);
}

/*
 * Constant c (rank <= r, broadcast against a rank-r tensor in layout B) as a
 * new constant in layout A, where B = transpose(A, perm): leading 1s added,
 * then axes moved so that transpose(result, perm) gives c back. -1 on OOM.
 */
static av_nn__tid permute_const(av_nn__graph *g, av_nn__tid c, const int *perm, int r)
{
    const av_nn__tensor *k = &g->tensors[c];
    int64_t kd[AV_NN_MAX_RANK], od[AV_NN_MAX_RANK], ks[AV_NN_MAX_RANK], os[AV_NN_MAX_RANK];
    int lead = r - k->rank;
    for (int i = 0; i < r; i++)
        kd[i] = i < lead ? 1 : k->dims[i - lead];
    for (int i = 0; i < r; i++)
        od[perm[i]] = kd[i];
    int64_t ne = av_nn__numel(k), nb = av_nn__nbytes(k);
    size_t es = av_nn_dtype_size(k->dtype);
    if (ne < 0 || nb < 0)
        return -1;
    void *d = malloc((size_t)nb + 1);
    if (!d)
        return -1;
    av_nn__strides(r, kd, ks);
    av_nn__strides(r, od, os);
    int64_t idx[AV_NN_MAX_RANK] = {0};
    for (int64_t e = 0; e < ne; e++) {
        int64_t o = 0;
        for (int i = 0; i < r; i++)
            o += idx[i] * os[perm[i]];
        memcpy((char *)d + o * (int64_t)es, (const char *)k->data + e * (int64_t)es, es);
        for (int i = r - 1; i >= 0; i--) {
            if (++idx[i] < kd[i])
                break;
            idx[i] = 0;
        }
    }
    char name[300];
    snprintf(name, sizeof name, "%.256s/layout", k->name);
    av_nn_dtype dt = k->dtype;
    av_nn__quant q = k->quant;
    av_nn__tid t = av_nn__add_tensor(g, name, dt, r, od, d, true);
    if (t >= 0) {
        g->tensors[t].quant = q;
        g->tensors[t].quant.channel_scales = NULL;
        g->tensors[t].quant.n_channels = 0;
        g->total_bytes += nb;
    }
    return t;
}

/* Can consumer c of a tensor transposed by perm run on the sources? */
static bool sinkable(const av_nn__graph *g, const av_nn__node *c, const int *perm, int r)
{
    int nd = data_inputs(g, c);
    if (nd == 0)
        return false;
    int n_tr = 0;
    for (int k = 0; k < nd; k++) {
        av_nn__tid t = c->in[k];
        if (t < 0)
            return false;
        const av_nn__tensor *x = &g->tensors[t];
        if (is_transpose(g, t, perm, r)) {
            n_tr++;
            continue;
        }
        if (!x->data || x->rank > r || x->quant.channel_scales)
            return false;
    }
    for (int k = 0; k < c->n_out; k++)
        if (g->tensors[c->out[k]].rank != r)
            return false;
    return n_tr > 0;
}

/* Rewrite node ci (see sinkable) to run on the transposes' sources, with a
 * transpose by perm after each of its outputs. */
static av_nn_status sink(av_nn__graph *g, int ci, const int *perm_in, int r, char *err,
                         size_t errlen)
{
    int perm[AV_NN_MAX_RANK];
    memcpy(perm, perm_in, sizeof(int) * (size_t)r); /* perm_in may live in g->nodes */
    int nd = data_inputs(g, &g->nodes[ci]);
    for (int k = 0; k < nd; k++) {
        av_nn__tid t = g->nodes[ci].in[k];
        if (is_transpose(g, t, perm, r)) {
            g->nodes[ci].in[k] = g->nodes[g->tensors[t].producer].in[0];
        } else if (av_nn__numel(&g->tensors[t]) != 1 || g->tensors[t].rank != 0) {
            av_nn__tid pc = permute_const(g, t, perm, r);
            if (pc < 0)
                return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, &g->nodes[ci],
                                        "out of memory changing layout");
            g->nodes[ci].in[k] = pc;
        }
    }
    av_nn__node *c = &g->nodes[ci];
    c->n_in = nd; /* parameter inputs are resolved into c->p */
    switch (c->op) {
    case AV_NN_OP_CONCAT:
        c->p.axis.axis = perm[c->p.axis.axis];
        break;
    case AV_NN_OP_SPLIT:
        c->p.split.axis = perm[c->p.split.axis];
        break;
    case AV_NN_OP_SOFTMAX:
        c->p.softmax.axis = perm[c->p.softmax.axis];
        break;
    case AV_NN_OP_REDUCE: {
        uint32_t m = 0;
        for (int i = 0; i < r; i++)
            if (c->p.reduce.axes_mask & (1u << i))
                m |= 1u << perm[i];
        c->p.reduce.axes_mask = m;
        break;
    }
    case AV_NN_OP_PAD:
        remap64(c->p.pad.before, perm, r);
        remap64(c->p.pad.after, perm, r);
        break;
    case AV_NN_OP_SLICE:
        remap64(c->p.slice.begin, perm, r);
        remap64(c->p.slice.end, perm, r);
        remap64(c->p.slice.step, perm, r);
        c->p.slice.tf_semantics = false;
        break;
    default:
        break;
    }
    int n_out = c->n_out, tnodes[AV_NN_MAX_NODE_OUTPUTS];
    for (int k = 0; k < n_out; k++) {
        av_nn__tid y = g->nodes[ci].out[k];
        char name[300];
        snprintf(name, sizeof name, "%.256s/layout", g->tensors[y].name);
        av_nn__tid ny = av_nn__add_tensor(g, name, g->tensors[y].dtype, -1, NULL, NULL, false);
        if (ny < 0)
            return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, &g->nodes[ci],
                                    "out of memory changing layout");
        g->tensors[ny].quant = g->tensors[y].quant;
        g->nodes[ci].out[k] = ny;
        av_nn__params p;
        memset(&p, 0, sizeof p);
        p.transpose.rank = r;
        memcpy(p.transpose.perm, perm, sizeof(int) * (size_t)r);
        snprintf(name, sizeof name, "%.256s/layout", g->nodes[ci].name);
        tnodes[k] = av_nn__add_node(g, AV_NN_OP_TRANSPOSE, name, &ny, 1, &y, 1, &p);
        if (tnodes[k] < 0)
            return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, &g->nodes[ci],
                                    "out of memory changing layout");
        g->tensors[ny].producer = ci;
        g->tensors[y].producer = tnodes[k];
    }
    av_nn_status st = av_nn__infer_node(g, &g->nodes[ci], err, errlen);
    for (int k = 0; !st && k < n_out; k++)
        st = av_nn__infer_node(g, &g->nodes[tnodes[k]], err, errlen);
    return st;
}

/*
 * RESHAPE ci of y = transpose(x, perm) that only merges runs of adjacent axes
 * of y, each run also adjacent and in order in x: the reshape merges the
 * same runs of x, and a transpose of the merged axes follows (none when the
 * order of the runs is kept). Returns 1 when rewritten, 0 when not
 * applicable, -1 on error.
 */
static int sink_reshape(av_nn__graph *g, int ci, const int *perm, int r, char *err,
                        size_t errlen)
{
    av_nn__node *c = &g->nodes[ci];
    av_nn__tid y = c->in[0], z = c->out[0];
    const av_nn__tensor *yt = &g->tensors[y], *zt = &g->tensors[z];
    int ro = zt->rank, gs[AV_NN_MAX_RANK], ge[AV_NN_MAX_RANK];
    if (ro < 1 || ro > r || yt->rank != r || zt->quant.channel_scales)
        return 0;
    int i = 0;
    for (int j = 0; j < ro; j++) {
        int64_t prod = 1;
        gs[j] = i;
        while (i < r && (i == gs[j] || prod < zt->dims[j]))
            prod *= yt->dims[i++];
        ge[j] = i;
        if (prod != zt->dims[j])
            return 0;
        for (int k = gs[j]; k + 1 < ge[j]; k++)
            if (perm[k + 1] != perm[k] + 1)
                return 0;
    }
    if (i != r)
        return 0;
    /* position of each run in x: rank of its first axis among the runs' */
    int np[AV_NN_MAX_RANK];
    int64_t dims_x[AV_NN_MAX_RANK];
    bool id = true;
    for (int j = 0; j < ro; j++) {
        np[j] = 0;
        for (int k = 0; k < ro; k++)
            np[j] += perm[gs[k]] < perm[gs[j]];
        dims_x[np[j]] = zt->dims[j];
        id = id && np[j] == j;
    }
    const av_nn__node *t = &g->nodes[yt->producer];
    c->in[0] = t->in[0];
    c->n_in = 1;
    c->p.reshape.rank = ro;
    memcpy(c->p.reshape.dims, dims_x, sizeof dims_x);
    c->p.reshape.allowzero = true;
    c->p.reshape.resolved = true;
    if (!id) {
        char name[300];
        snprintf(name, sizeof name, "%.256s/layout", zt->name);
        av_nn_dtype dt = zt->dtype;
        av_nn__quant q = zt->quant;
        av_nn__tid nz = av_nn__add_tensor(g, name, dt, -1, NULL, NULL, false);
        if (nz < 0)
            return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, &g->nodes[ci],
                                    "out of memory changing layout"),
                   -1;
        g->tensors[nz].quant = q;
        g->nodes[ci].out[0] = nz;
        av_nn__params p;
        memset(&p, 0, sizeof p);
        p.transpose.rank = ro;
        memcpy(p.transpose.perm, np, sizeof np);
        snprintf(name, sizeof name, "%.256s/layout", g->nodes[ci].name);
        int ti = av_nn__add_node(g, AV_NN_OP_TRANSPOSE, name, &nz, 1, &z, 1, &p);
        if (ti < 0)
            return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, &g->nodes[ci],
                                    "out of memory changing layout"),
                   -1;
        g->tensors[nz].producer = ci;
        g->tensors[z].producer = ti;
        if (av_nn__infer_node(g, &g->nodes[ci], err, errlen) ||
            av_nn__infer_node(g, &g->nodes[ti], err, errlen))
            return -1;
        return 1;
    }
    return av_nn__infer_node(g, &g->nodes[ci], err, errlen) ? -1 : 1;
}

/* T2(T1(x)) -> one transpose of x (or x itself); true when rewritten. */
static bool compose(av_nn__graph *g, av_nn__node *t)
{
    av_nn__tid x = t->in[0];
    int pi = g->tensors[x].producer;
    if (pi < 0 || g->nodes[pi].dead || g->nodes[pi].op != AV_NN_OP_TRANSPOSE ||
        g->nodes[pi].p.transpose.rank != t->p.transpose.rank)
        return false;
    const av_nn__node *t0 = &g->nodes[pi];
    int r = t->p.transpose.rank, q[AV_NN_MAX_RANK];
    bool id = true;
    for (int i = 0; i < r; i++) {
        q[i] = t0->p.transpose.perm[t->p.transpose.perm[i]];
        id = id && q[i] == i;
    }
    if (id && !g->tensors[t->out[0]].is_output) {
        replace_uses(g, t->out[0], t0->in[0]);
        t->dead = true;
        return true;
    }
    av_nn__tensor *src = &g->tensors[t0->in[0]];
    if (id && src->producer >= 0 && !src->is_output && !src->is_input && !src->data &&
        src->n_consumers == 1 && g->tensors[x].n_consumers == 1) {
        /* x's only reader is t, and the source's only reader is t0: the
         * source's producer writes the graph output itself */
        av_nn__node *p = &g->nodes[src->producer];
        for (int k = 0; k < p->n_out; k++)
            if (p->out[k] == t0->in[0])
                p->out[k] = t->out[0];
        g->nodes[pi].dead = true;
        t->dead = true;
        return true;
    }
    memcpy(t->p.transpose.perm, q, sizeof q);
    t->in[0] = t0->in[0];
    return true;
}

/* Another live transpose of the same tensor by the same perm: reuse its output. */
static bool merge_duplicate(av_nn__graph *g, int ti)
{
    av_nn__node *t = &g->nodes[ti];
    for (int i = 0; i < ti; i++) {
        av_nn__node *o = &g->nodes[i];
        if (o->dead || o->op != AV_NN_OP_TRANSPOSE || o->in[0] != t->in[0] ||
            o->p.transpose.rank != t->p.transpose.rank ||
            memcmp(o->p.transpose.perm, t->p.transpose.perm,
                   sizeof(int) * (size_t)t->p.transpose.rank) != 0)
            continue;
        if (g->tensors[t->out[0]].is_output)
            return false;
        replace_uses(g, t->out[0], o->out[0]);
        t->dead = true;
        return true;
    }
    return false;
}

/* Forward-step slice of equal rank in and out, resolved: begin/end/step per axis. */
static bool plain_slice(const av_nn__graph *g, const av_nn__node *n)
{
    if (n->dead || n->op != AV_NN_OP_SLICE || !n->p.slice.resolved)
        return false;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    if (x->rank != y->rank)
        return false;
    for (int i = 0; i < x->rank; i++)
        if (n->p.slice.step[i] <= 0)
            return false;
    return true;
}

/* slice(slice(x)) -> one slice of x (the space-to-depth stems of YOLOX). */
static bool compose_slices(av_nn__graph *g, av_nn__node *s2, char *err, size_t errlen,
                           av_nn_status *st)
{
    if (!plain_slice(g, s2) || s2->n_in < 1)
        return false;
    int pi = g->tensors[s2->in[0]].producer;
    if (pi < 0 || !plain_slice(g, &g->nodes[pi]))
        return false;
    const av_nn__node *s1 = &g->nodes[pi];
    const av_nn__tensor *y = &g->tensors[s2->out[0]];
    av_nn__slice_params p = s2->p.slice;
    for (int i = 0; i < y->rank; i++) {
        int64_t b1 = s1->p.slice.begin[i], st1 = s1->p.slice.step[i];
        p.begin[i] = b1 + s2->p.slice.begin[i] * st1;
        p.step[i] = st1 * s2->p.slice.step[i];
        p.end[i] = y->dims[i] ? p.begin[i] + (y->dims[i] - 1) * p.step[i] + 1 : p.begin[i];
    }
    p.tf_semantics = false;
    s2->p.slice = p;
    s2->in[0] = s1->in[0];
    s2->n_in = 1;
    *st = av_nn__infer_node(g, s2, err, errlen);
    return true;
}

/*
 * Constant PAD of H and W only in front of its sole consumer, a float
 * convolution (zero pad) or max pooling (-inf pad, as TF.js's NanoDet has
 * it): the pads join the consumer's own. Exact: convolutions read padding
 * as zeros, max pooling skips it.
 */
static bool fold_pad(av_nn__graph *g, av_nn__node *pad, char *err, size_t errlen,
                     av_nn_status *st)
{
    if (pad->op != AV_NN_OP_PAD || !pad->p.pad.resolved ||
        pad->p.pad.mode != AV_NN_PADMODE_CONSTANT ||
        (pad->p.pad.value != 0.0f && pad->p.pad.value != -INFINITY))
        return false;
    av_nn__tid y = pad->out[0];
    const av_nn__tensor *yt = &g->tensors[y], *xt = &g->tensors[pad->in[0]];
    if (yt->rank != 4 || yt->is_output || yt->n_consumers != 1 || xt->dtype != AV_NN_F32)
        return false;
    const int64_t *b = pad->p.pad.before, *a = pad->p.pad.after;
    if (b[0] || a[0] || b[3] || a[3] || b[1] < 0 || b[2] < 0 || a[1] < 0 || a[2] < 0 ||
        b[1] > 64 || b[2] > 64 || a[1] > 64 || a[2] > 64)
        return false;
    av_nn__node *c = NULL;
    for (int i = 0; i < g->n_nodes && !c; i++) {
        av_nn__node *n = &g->nodes[i];
        if (!n->dead && n->n_in > 0 && n->in[0] == y)
            c = n;
    }
    if (!c)
        return false;
    int *pads[4]; /* top, bottom, left, right of the consumer */
    if ((c->op == AV_NN_OP_CONV2D || c->op == AV_NN_OP_DEPTHWISE_CONV2D) &&
        pad->p.pad.value == 0.0f && c->p.conv.padding == AV_NN_PAD_EXPLICIT) {
        pads[0] = &c->p.conv.pad_top, pads[1] = &c->p.conv.pad_bottom;
        pads[2] = &c->p.conv.pad_left, pads[3] = &c->p.conv.pad_right;
    } else if (c->op == AV_NN_OP_MAX_POOL2D && pad->p.pad.value == -INFINITY &&
               c->p.pool.padding == AV_NN_PAD_EXPLICIT && !c->p.pool.ceil_mode) {
        pads[0] = &c->p.pool.pad_top, pads[1] = &c->p.pool.pad_bottom;
        pads[2] = &c->p.pool.pad_left, pads[3] = &c->p.pool.pad_right;
    } else {
        return false;
    }
    for (int k = 1; k < c->n_in; k++)
        if (c->in[k] == y)
            return false;
    *pads[0] += (int)b[1];
    *pads[1] += (int)a[1];
    *pads[2] += (int)b[2];
    *pads[3] += (int)a[2];
    c->in[0] = pad->in[0];
    pad->dead = true;
    *st = av_nn__infer_node(g, c, err, errlen);
    return true;
}

av_nn_status av_nn__layout_pass(av_nn__graph *g, char *err, size_t errlen)
{
    int64_t budget = (int64_t)g->n_nodes * MAX_REWRITES_PER_NODE + 64;
    bool changed = true;
    av_nn_status st = AV_NN_OK;
    while (changed && budget > 0) {
        changed = false;
        set_producers(g);
        int n_nodes = g->n_nodes; /* nodes added in this sweep wait for the next */
        for (int i = 0; i < n_nodes && !st && budget > 0; i++) {
            av_nn__node *t = &g->nodes[i];
            if (t->dead)
                continue;
            if (fold_pad(g, t, err, errlen, &st) || compose_slices(g, t, err, errlen, &st)) {
                changed = true;
                budget--;
                set_producers(g);
                continue;
            }
            if (t->op != AV_NN_OP_TRANSPOSE || t->p.transpose.rank < 2)
                continue;
            if (compose(g, t) || merge_duplicate(g, i)) {
                changed = true;
                budget--;
                set_producers(g);
                continue;
            }
            int r = t->p.transpose.rank, perm[AV_NN_MAX_RANK];
            memcpy(perm, t->p.transpose.perm, sizeof perm);
            av_nn__tid y = t->out[0];
            for (int j = 0; j < n_nodes && !st; j++) {
                av_nn__node *c = &g->nodes[j];
                bool uses = false;
                for (int k = 0; !c->dead && k < c->n_in; k++)
                    uses = uses || c->in[k] == y;
                if (!uses || c->op == AV_NN_OP_TRANSPOSE)
                    continue;
                if (c->op == AV_NN_OP_RESHAPE && c->in[0] == y) {
                    int k = sink_reshape(g, j, perm, r, err, errlen);
                    if (k < 0)
                        st = AV_NN_E_FORMAT;
                    if (k == 0)
                        continue;
                } else if (sinkable(g, c, perm, r)) {
                    st = sink(g, j, perm, r, err, errlen);
                } else {
                    continue;
                }
                changed = true;
                budget--;
                set_producers(g);
            }
        }
    }
    return st;
}
