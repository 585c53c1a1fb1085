/*
 * pass.c - av_nn__graph_finalize(): validation, topological sort, shape
 * inference with constant folding, rewrites (identity removal, transpose
 * cancelling, batch-norm / per-channel mul / add folding into float convs,
 * activation fusion, hard-swish recognition, pass_fuse.c's fusions), dead-node removal
 * and the final execution order.
 *
 * Every rewrite fires only when it is exact up to float rounding: the
 * intermediate tensor has a single consumer, is not a graph output, and the
 * parameters folded are constants of the expected per-channel shape.
 */
#include "nn/ref/ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool live(const av_nn__node *n)
{
    return !n->dead;
}

static av_nn_status validate(av_nn__graph *g, char *err, size_t errlen)
{
    for (int t = 0; t < g->n_tensors; t++) {
        g->tensors[t].producer = -1;
        if (g->tensors[t].rank > AV_NN_MAX_RANK)
            return av_nn__fail(err, errlen, AV_NN_E_LIMIT, "tensor '%s': rank %d exceeds %d",
                               g->tensors[t].name, g->tensors[t].rank, AV_NN_MAX_RANK);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        av_nn__node *n = &g->nodes[i];
        if (!live(n))
            continue;
        if ((int)n->op < 0 || n->op >= AV_NN_OP_COUNT || n->n_in < 0 ||
            n->n_in > AV_NN_MAX_NODE_INPUTS || n->n_out < 1 || n->n_out > AV_NN_MAX_NODE_OUTPUTS)
            return av_nn__fail(err, errlen, AV_NN_E_FORMAT, "node '%s': bad op or arity", n->name);
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] < -1 || n->in[k] >= g->n_tensors)
                return av_nn__node_fail(err, errlen, AV_NN_E_FORMAT, n,
                                        "input %d refers to tensor %d of %d", k, (int)n->in[k],
                                        g->n_tensors);
        for (int k = 0; k < n->n_out; k++) {
            av_nn__tid t = n->out[k];
            if (t < 0 || t >= g->n_tensors)
                return av_nn__node_fail(err, errlen, AV_NN_E_FORMAT, n,
                                        "output %d refers to tensor %d of %d", k, (int)t,
                                        g->n_tensors);
            av_nn__tensor *tt = &g->tensors[t];
            if (tt->producer >= 0)
                return av_nn__node_fail(err, errlen, AV_NN_E_FORMAT, n,
                                        "tensor '%s' is also produced by node '%s'", tt->name,
                                        g->nodes[tt->producer].name);
            if (tt->data || tt->is_input)
                return av_nn__node_fail(err, errlen, AV_NN_E_FORMAT, n, "writes %s tensor '%s'",
                                        tt->data ? "constant" : "graph input", tt->name);
            tt->producer = i;
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        av_nn__node *n = &g->nodes[i];
        for (int k = 0; live(n) && k < n->n_in; k++) {
            if (n->in[k] < 0)
                continue;
            av_nn__tensor *t = &g->tensors[n->in[k]];
            if (t->producer < 0 && !t->data && !t->is_input)
                return av_nn__node_fail(err, errlen, AV_NN_E_FORMAT, n,
                                        "input %d tensor '%s' is never produced", k, t->name);
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        av_nn__tensor *t = &g->tensors[g->inputs[i]];
        if (av_nn__numel(t) < 0)
            return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                               "graph input '%s' has unknown or oversized shape", t->name);
        if (t->data)
            return av_nn__fail(err, errlen, AV_NN_E_FORMAT, "graph input '%s' is a constant",
                               t->name);
    }
    if (g->n_outputs == 0)
        return av_nn__fail(err, errlen, AV_NN_E_FORMAT, "graph has no outputs");
    for (int i = 0; i < g->n_outputs; i++) {
        av_nn__tensor *t = &g->tensors[g->outputs[i]];
        if (t->producer < 0 && !t->data && !t->is_input)
            return av_nn__fail(err, errlen, AV_NN_E_FORMAT, "graph output '%s' is never produced",
                               t->name);
    }
    return AV_NN_OK;
}

/*
 * Kahn's algorithm over live nodes into g->order (producers set). A node left
 * over sits on a cycle: name it.
 */
static av_nn_status topo_sort(av_nn__graph *g, char *err, size_t errlen)
{
    int N = g->n_nodes;
    int *indeg = calloc((size_t)(N ? N : 1), sizeof *indeg);
    int *head = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *head);
    int *order = realloc(g->order, (size_t)(N ? N : 1) * sizeof *order);
    if (order)
        g->order = order;
    for (int t = 0; t < g->n_tensors; t++)
        g->tensors[t].producer = -1;
    for (int i = 0; i < N; i++)
        for (int k = 0; live(&g->nodes[i]) && k < g->nodes[i].n_out; k++)
            g->tensors[g->nodes[i].out[k]].producer = i;
    if (!indeg || !head || !order) {
        free(indeg);
        free(head);
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "topological sort of %d nodes", N);
    }
    /* indeg = number of inputs produced by live nodes (each distinct edge counted) */
    for (int i = 0; i < N; i++) {
        av_nn__node *n = &g->nodes[i];
        for (int k = 0; live(n) && k < n->n_in; k++)
            if (n->in[k] >= 0 && g->tensors[n->in[k]].producer >= 0)
                indeg[i]++;
    }
    int nq = 0;
    for (int i = 0; i < N; i++)
        if (live(&g->nodes[i]) && indeg[i] == 0)
            order[nq++] = i;
    /* consumers are found by scanning: build tensor -> consumer lists once */
    int n_edges = 0;
    for (int i = 0; i < N; i++)
        if (live(&g->nodes[i]))
            n_edges += g->nodes[i].n_in;
    int *next = malloc((size_t)(n_edges ? n_edges : 1) * sizeof *next);
    int *who = malloc((size_t)(n_edges ? n_edges : 1) * sizeof *who);
    if (!next || !who) {
        free(indeg), free(head), free(next), free(who);
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "topological sort of %d nodes", N);
    }
    for (int t = 0; t < g->n_tensors; t++)
        head[t] = -1;
    int e = 0;
    for (int i = 0; i < N; i++) {
        av_nn__node *n = &g->nodes[i];
        for (int k = 0; live(n) && k < n->n_in; k++) {
            if (n->in[k] < 0)
                continue;
            who[e] = i;
            next[e] = head[n->in[k]];
            head[n->in[k]] = e++;
        }
    }
    for (int qi = 0; qi < nq; qi++) {
        av_nn__node *n = &g->nodes[order[qi]];
        for (int k = 0; k < n->n_out; k++)
            for (int j = head[n->out[k]]; j >= 0; j = next[j])
                if (--indeg[who[j]] == 0)
                    order[nq++] = who[j];
    }
    int n_live = 0, stuck = -1;
    for (int i = 0; i < N; i++)
        if (live(&g->nodes[i])) {
            n_live++;
            if (indeg[i] > 0 && stuck < 0)
                stuck = i;
        }
    free(indeg), free(head), free(next), free(who);
    g->n_order = nq;
    if (nq != n_live)
        return av_nn__fail(err, errlen, AV_NN_E_FORMAT, "graph has a cycle through node '%s' (%s)",
                           stuck >= 0 ? g->nodes[stuck].name : "?",
                           stuck >= 0 ? av_nn__op_name(g->nodes[stuck].op) : "?");
    return AV_NN_OK;
}

/* Evaluate node n (all inputs constant) with the reference kernel; outputs become constants. */
static av_nn_status fold_node(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    const void *in[AV_NN_MAX_NODE_INPUTS];
    void *out[AV_NN_MAX_NODE_OUTPUTS] = {0};
    for (int k = 0; k < n->n_in; k++)
        in[k] = n->in[k] >= 0 ? g->tensors[n->in[k]].data : NULL;
    int64_t need = 0;
    for (int k = 0; k < n->n_out; k++)
        need += av_nn__nbytes(&g->tensors[n->out[k]]);
    if (g->total_bytes + need > AV_NN_MAX_TOTAL_BYTES)
        return av_nn__node_fail(err, errlen, AV_NN_E_LIMIT, n,
                                "folding needs %lld bytes beyond the %lld-byte limit",
                                (long long)need, (long long)AV_NN_MAX_TOTAL_BYTES);
    av_nn_status st = AV_NN_OK;
    for (int k = 0; k < n->n_out && !st; k++) {
        int64_t nb = av_nn__nbytes(&g->tensors[n->out[k]]);
        out[k] = malloc((size_t)(nb > 0 ? nb : 1));
        if (!out[k])
            st = av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "folding %lld bytes",
                                  (long long)nb);
    }
    if (!st)
        st = av_nn__ref_run(g, n, in, out, err, errlen);
    if (st) {
        for (int k = 0; k < n->n_out; k++)
            free(out[k]);
        return st;
    }
    for (int k = 0; k < n->n_out; k++) {
        av_nn__tensor *t = &g->tensors[n->out[k]];
        t->data = out[k];
        t->data_owned = true;
        t->producer = -1;
    }
    g->total_bytes += need;
    n->dead = true;
    return AV_NN_OK;
}

static bool foldable(const av_nn__graph *g, const av_nn__node *n)
{
    bool any = false;
    for (int k = 0; k < n->n_in; k++) {
        if (n->in[k] < 0)
            continue;
        if (!g->tensors[n->in[k]].data)
            return false;
        any = true;
    }
    return any;
}

/* ---- rewrite helpers ---- */

static void count_consumers(av_nn__graph *g)
{
    for (int t = 0; t < g->n_tensors; t++) {
        g->tensors[t].n_consumers = 0;
        g->tensors[t].producer = -1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        av_nn__node *n = &g->nodes[i];
        if (!live(n))
            continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0)
                g->tensors[n->in[k]].n_consumers++;
        for (int k = 0; k < n->n_out; k++)
            g->tensors[n->out[k]].producer = i;
    }
}

static void replace_uses(av_nn__graph *g, av_nn__tid from, av_nn__tid to)
{
    for (int i = 0; i < g->n_nodes; i++) {
        av_nn__node *n = &g->nodes[i];
        for (int k = 0; live(n) && k < n->n_in; k++)
            if (n->in[k] == from)
                n->in[k] = to;
    }
}

/* The only live consumer node of tensor t, or NULL. */
static av_nn__node *sole_consumer(av_nn__graph *g, av_nn__tid t)
{
    if (g->tensors[t].n_consumers != 1 || g->tensors[t].is_output)
        return NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        av_nn__node *n = &g->nodes[i];
        for (int k = 0; live(n) && k < n->n_in; k++)
            if (n->in[k] == t)
                return n;
    }
    return NULL;
}

/* An intermediate that may disappear: single consumer, not a graph output. */
static bool private_tensor(const av_nn__graph *g, av_nn__tid t)
{
    const av_nn__tensor *x = &g->tensors[t];
    return x->n_consumers == 1 && !x->is_output && !x->is_input && !x->data;
}

static bool rm_identity(av_nn__graph *g, av_nn__node *n)
{
    av_nn__tid x = n->in[0], y = n->out[0];
    if (n->op != AV_NN_OP_IDENTITY)
        return false;
    if (!g->tensors[y].is_output) {
        replace_uses(g, y, x);
        n->dead = true;
        return true;
    }
    /* identity into a graph output (TF.js names its outputs so): x's producer
     * writes the output itself, and x's other readers read it there */
    av_nn__tensor *xt = &g->tensors[x];
    if (xt->producer < 0 || xt->is_input || xt->is_output || xt->data ||
        g->tensors[y].dtype != xt->dtype)
        return false;
    av_nn__node *p = &g->nodes[xt->producer];
    for (int k = 0; k < p->n_out; k++)
        if (p->out[k] == x)
            p->out[k] = y;
    g->tensors[y].producer = xt->producer;
    replace_uses(g, x, y);
    n->dead = true;
    return true;
}

static bool perm_compose_identity(const int *p1, const int *p2, int r, int *q)
{
    bool id = true;
    for (int i = 0; i < r; i++) {
        q[i] = p1[p2[i]];
        id = id && q[i] == i;
    }
    return id;
}

static bool is_elementwise_unary(const av_nn__node *n)
{
    return n->op == AV_NN_OP_UNARY || n->op == AV_NN_OP_CLAMP || n->op == AV_NN_OP_LEAKY_RELU;
}

/*
 * TRANSPOSE t1 followed by transposes only: inverse pairs vanish, a single
 * non-inverse follower absorbs t1. t1 -> unary -> inverse transpose: the unary
 * runs on t1's input directly.
 */
static bool cancel_transposes(av_nn__graph *g, av_nn__node *t1)
{
    if (t1->op != AV_NN_OP_TRANSPOSE || t1->n_in < 1)
        return false;
    av_nn__tid x = t1->in[0], y = t1->out[0];
    av_nn__tensor *yt = &g->tensors[y];
    int r = t1->p.transpose.rank, q[AV_NN_MAX_RANK];
    if (yt->is_output || yt->n_consumers == 0)
        return false;
    av_nn__node *c1 = sole_consumer(g, y);
    if (c1 && is_elementwise_unary(c1) && c1->in[0] == y && private_tensor(g, c1->out[0])) {
        av_nn__node *t2 = sole_consumer(g, c1->out[0]);
        if (t2 && t2->op == AV_NN_OP_TRANSPOSE && t2->p.transpose.rank == r &&
            perm_compose_identity(t1->p.transpose.perm, t2->p.transpose.perm, r, q)) {
            c1->in[0] = x;
            c1->out[0] = t2->out[0]; /* same shape as x: the pair composes to identity */
            t1->dead = t2->dead = true;
            return true;
        }
    }
    /* every consumer must be a transpose reading y */
    int n_inverse = 0, n_cons = 0;
    av_nn__node *only = NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        av_nn__node *n = &g->nodes[i];
        if (!live(n))
            continue;
        bool uses = false;
        for (int k = 0; k < n->n_in; k++)
            uses = uses || n->in[k] == y;
        if (!uses)
            continue;
        n_cons++;
        if (n->op != AV_NN_OP_TRANSPOSE || n->in[0] != y || n->p.transpose.rank != r)
            return false;
        if (perm_compose_identity(t1->p.transpose.perm, n->p.transpose.perm, r, q) &&
            !g->tensors[n->out[0]].is_output)
            n_inverse++;
        only = n;
    }
    if (n_inverse == n_cons) {
        for (int i = 0; i < g->n_nodes; i++) {
            av_nn__node *n = &g->nodes[i];
            if (live(n) && n->op == AV_NN_OP_TRANSPOSE && n->in[0] == y) {
                replace_uses(g, n->out[0], x);
                n->dead = true;
            }
        }
        t1->dead = true;
        return true;
    }
    if (n_cons == 1 && only) { /* merge into the follower */
        perm_compose_identity(t1->p.transpose.perm, only->p.transpose.perm, r, q);
        memcpy(only->p.transpose.perm, q, sizeof q);
        only->in[0] = x;
        t1->dead = true;
        return true;
    }
    return false;
}

/*
 * BINARY whose operands are both private TRANSPOSEs by the same perm (or one
 * is a scalar constant), feeding only the inverse transpose: the binary runs
 * on the untransposed tensors and all transposes go (layout sandwiches left
 * by NCHW loaders around elementwise ops).
 */
static bool sink_binary_transposes(av_nn__graph *g, av_nn__node *n)
{
    if (n->op != AV_NN_OP_BINARY || n->n_in != 2 || !private_tensor(g, n->out[0]))
        return false;
    av_nn__node *tr[2] = {NULL, NULL};
    const int *perm = NULL;
    int r = 0;
    for (int k = 0; k < 2; k++) {
        av_nn__tid t = n->in[k];
        if (t < 0)
            return false;
        const av_nn__tensor *x = &g->tensors[t];
        if (x->data && av_nn__numel(x) == 1)
            continue; /* a scalar constant broadcasts the same in any layout */
        av_nn__node *p = x->producer >= 0 ? &g->nodes[x->producer] : NULL;
        if (!p || p->dead || p->op != AV_NN_OP_TRANSPOSE || !private_tensor(g, t))
            return false;
        if (perm && (p->p.transpose.rank != r ||
                     memcmp(perm, p->p.transpose.perm, sizeof(int) * (size_t)r) != 0))
            return false;
        perm = p->p.transpose.perm;
        r = p->p.transpose.rank;
        tr[k] = p;
    }
    if (!perm || (tr[0] && tr[1] && tr[0] == tr[1]))
        return false;
    av_nn__node *t2 = sole_consumer(g, n->out[0]);
    int q[AV_NN_MAX_RANK];
    if (!t2 || t2->op != AV_NN_OP_TRANSPOSE || t2->p.transpose.rank != r ||
        !perm_compose_identity(perm, t2->p.transpose.perm, r, q))
        return false;
    /* operands of equal rank only: then broadcasting commutes with the permutation */
    for (int k = 0; k < 2; k++)
        if (tr[k] && g->tensors[tr[k]->in[0]].rank != r)
            return false;
    for (int k = 0; k < 2; k++)
        if (tr[k]) {
            n->in[k] = tr[k]->in[0];
            tr[k]->dead = true;
        }
    n->out[0] = t2->out[0]; /* n now writes t2's output (already in this layout) */
    t2->dead = true;
    return true;
}

static bool is_f32_const(const av_nn__graph *g, av_nn__tid t)
{
    return t >= 0 && g->tensors[t].data && g->tensors[t].dtype == AV_NN_F32;
}

static av_nn__fused_act *act_of(av_nn__node *n)
{
    switch (n->op) {
    case AV_NN_OP_CONV2D:
    case AV_NN_OP_DEPTHWISE_CONV2D:
        return &n->p.conv.act;
    case AV_NN_OP_FULLY_CONNECTED:
        return &n->p.fc.act;
    case AV_NN_OP_BINARY:
        return &n->p.binary.act;
    default:
        return NULL;
    }
}

/*
 * A float conv/depthwise/fc with constant f32 weights (and bias), no fused
 * activation, whose output is private: its per-output-channel affine may be
 * folded. Returns the channel count O, or 0.
 */
static int64_t foldable_conv(const av_nn__graph *g, av_nn__node *c)
{
    if (c->op != AV_NN_OP_CONV2D && c->op != AV_NN_OP_DEPTHWISE_CONV2D &&
        c->op != AV_NN_OP_FULLY_CONNECTED)
        return 0;
    if (act_of(c)->kind != AV_NN_ACT_NONE || !is_f32_const(g, c->in[1]) ||
        g->tensors[c->in[0]].dtype != AV_NN_F32 || av_nn__conv_residual(g, c) >= 0)
        return 0;
    if (c->n_in > 2 && c->in[2] >= 0 && !is_f32_const(g, c->in[2]))
        return 0;
    if (!private_tensor(g, c->out[0]))
        return 0;
    const av_nn__tensor *y = &g->tensors[c->out[0]];
    return y->rank ? y->dims[y->rank - 1] : 0;
}

/*
 * Replace c's weights and bias by w' = w * s[o], b' = b * s[o] + t[o] (s or t
 * may be NULL for 1 / 0), as new constants (the old ones may be shared).
 */
static bool rescale_conv(av_nn__graph *g, av_nn__node *c, int64_t O, const float *s, const float *t)
{
    const av_nn__tensor *w = &g->tensors[c->in[1]];
    int64_t nw = av_nn__numel(w), wdims[AV_NN_MAX_RANK];
    int wrank = w->rank; /* copied: add_tensor below may move g->tensors */
    memcpy(wdims, w->dims, sizeof wdims);
    const float *wd = w->data;
    const float *bd = c->n_in > 2 && c->in[2] >= 0 ? g->tensors[c->in[2]].data : NULL;
    float *nwd = malloc((size_t)nw * sizeof *nwd), *nbd = malloc((size_t)O * sizeof *nbd);
    if (!nwd || !nbd) {
        free(nwd), free(nbd);
        return false;
    }
    /* output channel of weight element i: last axis for depthwise, first otherwise */
    int64_t per = nw / O;
    for (int64_t i = 0; i < nw; i++) {
        int64_t o = c->op == AV_NN_OP_DEPTHWISE_CONV2D ? i % O : i / per;
        nwd[i] = s ? wd[i] * s[o] : wd[i];
    }
    for (int64_t o = 0; o < O; o++) {
        float b = bd ? bd[o] : 0.0f;
        nbd[o] = (s ? b * s[o] : b) + (t ? t[o] : 0.0f);
    }
    int64_t bdim = O;
    char name[300];
    snprintf(name, sizeof name, "%s/folded_w", c->name);
    av_nn__tid tw = av_nn__add_tensor(g, name, AV_NN_F32, wrank, wdims, nwd, true);
    snprintf(name, sizeof name, "%s/folded_b", c->name);
    av_nn__tid tb = tw < 0 ? -1 : av_nn__add_tensor(g, name, AV_NN_F32, 1, &bdim, nbd, true);
    if (tw < 0 || tb < 0) {
        if (tw < 0)
            free(nbd);
        return false;
    }
    c->in[1] = tw;
    if (c->n_in < 3)
        c->n_in = 3;
    c->in[2] = tb;
    return true;
}

/* Per-channel values of a constant broadcast along the last axis: numel 1 or O, leading dims 1. */
static bool channel_vector(const av_nn__graph *g, av_nn__tid t, int64_t O, float *out)
{
    if (!is_f32_const(g, t))
        return false;
    const av_nn__tensor *x = &g->tensors[t];
    int64_t ne = av_nn__numel(x);
    if (ne != 1 && ne != O)
        return false;
    for (int i = 0; i + 1 < x->rank; i++)
        if (x->dims[i] != 1)
            return false;
    if (ne == O && O != 1 && (x->rank == 0 || x->dims[x->rank - 1] != O))
        return false;
    const float *d = x->data;
    for (int64_t o = 0; o < O; o++)
        out[o] = d[ne == 1 ? 0 : o];
    return true;
}

/* conv -> BATCH_NORM / MUL const / ADD const folds into the conv's weights and bias. */
static bool fold_affine(av_nn__graph *g, av_nn__node *c)
{
    int64_t O = foldable_conv(g, c);
    if (O <= 0)
        return false;
    av_nn__tid mid = c->out[0];
    av_nn__node *f = sole_consumer(g, mid);
    if (!f)
        return false;
    const av_nn__tensor *ft = &g->tensors[f->out[0]], *mt = &g->tensors[mid];
    if (ft->dtype != AV_NN_F32 || ft->rank != mt->rank ||
        memcmp(ft->dims, mt->dims, sizeof(int64_t) * (size_t)mt->rank) != 0)
        return false; /* the follower must not broadcast the conv output */
    float *s = malloc((size_t)O * sizeof *s), *t = malloc((size_t)O * sizeof *t);
    bool ok = false, scale = false, shift = false;
    if (!s || !t)
        goto done;
    if (f->op == AV_NN_OP_BATCH_NORM && f->in[0] == mid) {
        float *v[4];
        for (int i = 0; i < 4; i++) {
            v[i] = malloc((size_t)O * sizeof *v[i]);
            if (v[i] && !channel_vector(g, f->in[1 + i], O, v[i])) {
                free(v[i]);
                v[i] = NULL;
            }
        }
        if (v[0] && v[1] && v[2] && v[3]) {
            for (int64_t o = 0; o < O; o++) {
                s[o] = v[0][o] / sqrtf(v[3][o] + f->p.bn.epsilon);
                t[o] = v[1][o] - v[2][o] * s[o];
            }
            scale = shift = true;
        }
        for (int i = 0; i < 4; i++)
            free(v[i]);
    } else if (f->op == AV_NN_OP_BINARY && f->p.binary.act.kind == AV_NN_ACT_NONE &&
               (f->p.binary.kind == AV_NN_BIN_MUL || f->p.binary.kind == AV_NN_BIN_ADD)) {
        av_nn__tid other = f->in[0] == mid ? f->in[1] : f->in[1] == mid ? f->in[0] : -1;
        if (other >= 0 && other != mid &&
            channel_vector(g, other, O, f->p.binary.kind == AV_NN_BIN_MUL ? s : t)) {
            scale = f->p.binary.kind == AV_NN_BIN_MUL;
            shift = !scale;
        }
    }
    if ((scale || shift) && rescale_conv(g, c, O, scale ? s : NULL, shift ? t : NULL)) {
        c->out[0] = f->out[0];
        f->dead = true;
        ok = true;
    }
done:
    free(s);
    free(t);
    return ok;
}

/* conv/dw/fc/binary (f32, no act) -> relu/relu6/clamp/leaky/sigmoid/tanh (and hard-swish
 * after conv/dw) becomes a fused act. */
static bool fuse_activation(av_nn__graph *g, av_nn__node *p)
{
    av_nn__fused_act *act = act_of(p);
    if (!act || act->kind != AV_NN_ACT_NONE || !private_tensor(g, p->out[0]) ||
        g->tensors[p->out[0]].dtype != AV_NN_F32)
        return false;
    av_nn__node *a = sole_consumer(g, p->out[0]);
    if (!a || a->in[0] != p->out[0])
        return false;
    av_nn__fused_act na = {0};
    if (a->op == AV_NN_OP_CLAMP) {
        float lo = a->p.clamp.min, hi = a->p.clamp.max;
        na.kind = AV_NN_ACT_CLAMP;
        if (lo == 0 && hi == INFINITY)
            na.kind = AV_NN_ACT_RELU;
        else if (lo == 0 && hi == 6)
            na.kind = AV_NN_ACT_RELU6;
        else if (lo == -1 && hi == 1)
            na.kind = AV_NN_ACT_RELU_N1_1;
        na.min = lo;
        na.max = hi;
    } else if (a->op == AV_NN_OP_LEAKY_RELU) {
        na.kind = AV_NN_ACT_LEAKY;
        na.alpha = a->p.leaky.alpha;
    } else if (a->op == AV_NN_OP_UNARY && a->p.unary.kind == AV_NN_UN_SIGMOID) {
        na.kind = AV_NN_ACT_SIGMOID;
    } else if (a->op == AV_NN_OP_UNARY && a->p.unary.kind == AV_NN_UN_TANH) {
        na.kind = AV_NN_ACT_TANH;
    } else if (a->op == AV_NN_OP_UNARY && a->p.unary.kind == AV_NN_UN_RELU) {
        na.kind = AV_NN_ACT_RELU;
    } else if (a->op == AV_NN_OP_UNARY && a->p.unary.kind == AV_NN_UN_HARDSWISH &&
               (p->op == AV_NN_OP_CONV2D || p->op == AV_NN_OP_DEPTHWISE_CONV2D)) {
        na.kind = AV_NN_ACT_HARDSWISH; /* MobileNetV3: one pass less over each conv output */
        na.alpha = a->p.unary.alpha;
    } else {
        return false;
    }
    if (g->tensors[a->out[0]].dtype != AV_NN_F32)
        return false;
    *act = na;
    p->out[0] = a->out[0];
    a->dead = true;
    return true;
}

/*
 * p (conv/dw/fc/binary, f32, no act) read by exactly sigmoid(p) and
 * mul(p, sigmoid(p)): YOLOX's SiLU. The pair becomes p's fused SILU act, one
 * pass over p's output while it is still in cache instead of two passes and a
 * sigmoid buffer. Only where the vector kernel exists: the portable one is
 * slower than XNNPACK's two operators.
 */
static bool fuse_silu(av_nn__graph *g, av_nn__node *p)
{
    if (!av_nn__silu_fusion_pays())
        return false;
    av_nn__fused_act *act = act_of(p);
    av_nn__tid x = p->out[0];
    const av_nn__tensor *xt = &g->tensors[x];
    if (!act || act->kind != AV_NN_ACT_NONE || xt->dtype != AV_NN_F32 || xt->n_consumers != 2 ||
        xt->is_output || xt->is_input || xt->data || av_nn__is_quant(xt))
        return false;
    av_nn__node *sg = NULL, *m = NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        av_nn__node *c = &g->nodes[i];
        bool reads = false;
        for (int k = 0; live(c) && k < c->n_in; k++)
            reads |= c->in[k] == x;
        if (!reads)
            continue;
        if (c->op == AV_NN_OP_UNARY && c->p.unary.kind == AV_NN_UN_SIGMOID && c->in[0] == x && !sg)
            sg = c;
        else if (!m)
            m = c;
        else
            return false;
    }
    if (!sg || !m || !private_tensor(g, sg->out[0]) || m->op != AV_NN_OP_BINARY ||
        m->p.binary.kind != AV_NN_BIN_MUL || m->p.binary.act.kind != AV_NN_ACT_NONE ||
        m->n_in != 2 ||
        !((m->in[0] == x && m->in[1] == sg->out[0]) || (m->in[1] == x && m->in[0] == sg->out[0])))
        return false;
    const av_nn__tensor *yt = &g->tensors[m->out[0]];
    if (yt->dtype != AV_NN_F32 || av_nn__is_quant(yt) ||
        g->tensors[sg->out[0]].dtype != AV_NN_F32 || av_nn__numel(yt) != av_nn__numel(xt))
        return false;
    act->kind = AV_NN_ACT_SILU;
    p->out[0] = m->out[0];
    sg->dead = m->dead = true;
    return true;
}

/* Scalar f32 constant within tol of v. */
static bool scalar_near(const av_nn__graph *g, av_nn__tid t, float v, float tol)
{
    if (!is_f32_const(g, t) || av_nn__numel(&g->tensors[t]) != 1)
        return false;
    float c = *(const float *)g->tensors[t].data;
    return c - v <= tol && v - c <= tol;
}

/* The producer of t when t is a private intermediate of the given binary kind and act. */
static av_nn__node *private_binary(av_nn__graph *g, av_nn__tid t, av_nn__binary_kind kind,
                                   av_nn__act act)
{
    const av_nn__tensor *x = &g->tensors[t];
    if (x->producer < 0 || !private_tensor(g, t) || x->dtype != AV_NN_F32)
        return NULL;
    av_nn__node *p = &g->nodes[x->producer];
    return live(p) && p->op == AV_NN_OP_BINARY && p->p.binary.kind == kind &&
                   p->p.binary.act.kind == act
               ? p
               : NULL;
}

/*
 * x * (relu6(x + 3) * c) as TF writes hard-swish (MobileNetV3, c = 1/6, or
 * 1/6 rounded to float16 in TF.js models with f16 weights), or (x * c) *
 * relu6(x + 3) as the TF.js MobileNetV3 of CenterNet has it: three passes
 * over the tensor become one HARDSWISH with scale c (alpha; 0 for 1/6 within
 * float rounding). Matches either operand order.
 */
/* m2 becomes HARDSWISH(x) with scale alpha; the two other nodes of the pattern go. */
static void make_hardswish(av_nn__node *m2, av_nn__tid x, float alpha, av_nn__node *a,
                           av_nn__node *b)
{
    m2->op = AV_NN_OP_UNARY;
    memset(&m2->p, 0, sizeof m2->p);
    m2->p.unary.kind = AV_NN_UN_HARDSWISH;
    m2->p.unary.alpha = alpha;
    m2->in[0] = x;
    m2->in[1] = -1;
    m2->n_in = 1;
    a->dead = b->dead = true;
}

static bool fuse_hardswish(av_nn__graph *g, av_nn__node *m2)
{
    if (m2->op != AV_NN_OP_BINARY || m2->p.binary.kind != AV_NN_BIN_MUL ||
        m2->p.binary.act.kind != AV_NN_ACT_NONE || m2->n_in != 2 ||
        g->tensors[m2->out[0]].dtype != AV_NN_F32)
        return false;
    for (int side = 0; side < 2; side++) { /* (x * c) * relu6(x + 3): TF.js's order */
        av_nn__node *mc = private_binary(g, m2->in[side], AV_NN_BIN_MUL, AV_NN_ACT_NONE);
        av_nn__node *add = private_binary(g, m2->in[1 - side], AV_NN_BIN_ADD, AV_NN_ACT_RELU6);
        if (!mc || !add || mc == add)
            continue;
        int kc = scalar_near(g, mc->in[0], 1.0f / 6, 0.01f) ? 0
                 : scalar_near(g, mc->in[1], 1.0f / 6, 0.01f) ? 1
                                                              : -1;
        if (kc < 0)
            continue;
        av_nn__tid x = mc->in[1 - kc];
        if (x < 0 || g->tensors[x].data ||
            av_nn__numel(&g->tensors[x]) != av_nn__numel(&g->tensors[m2->out[0]]) ||
            !((add->in[0] == x && scalar_near(g, add->in[1], 3.0f, 0)) ||
              (add->in[1] == x && scalar_near(g, add->in[0], 3.0f, 0))))
            continue;
        float c = *(const float *)g->tensors[mc->in[kc]].data;
        make_hardswish(m2, x, scalar_near(g, mc->in[kc], 1.0f / 6, 1e-6f) ? 0.0f : c, mc, add);
        return true;
    }
    for (int side = 0; side < 2; side++) {
        av_nn__tid x = m2->in[side], b = m2->in[1 - side];
        if (x < 0 || b < 0 || g->tensors[x].data ||
            av_nn__numel(&g->tensors[x]) != av_nn__numel(&g->tensors[m2->out[0]]))
            continue;
        av_nn__node *m1 = private_binary(g, b, AV_NN_BIN_MUL, AV_NN_ACT_NONE);
        if (!m1)
            continue;
        int ka = scalar_near(g, m1->in[0], 1.0f / 6, 0.01f) ? 1
                 : scalar_near(g, m1->in[1], 1.0f / 6, 0.01f) ? 0
                                                              : -1;
        if (ka < 0)
            continue;
        float c = *(const float *)g->tensors[m1->in[1 - ka]].data;
        av_nn__node *add = private_binary(g, m1->in[ka], AV_NN_BIN_ADD, AV_NN_ACT_RELU6);
        if (!add || !((add->in[0] == x && scalar_near(g, add->in[1], 3.0f, 0)) ||
                      (add->in[1] == x && scalar_near(g, add->in[0], 3.0f, 0))))
            continue;
        make_hardswish(m2, x, scalar_near(g, m1->in[1 - ka], 1.0f / 6, 1e-6f) ? 0.0f : c, m1,
                       add);
        return true;
    }
    return false;
}

/* Keep only nodes that some graph output depends on. */
static av_nn_status remove_dead(av_nn__graph *g, char *err, size_t errlen)
{
    bool *need = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), sizeof *need);
    if (!need)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "dead-node removal");
    for (int i = 0; i < g->n_outputs; i++)
        need[g->outputs[i]] = true;
    /* walk the previous topological order backwards: consumers before producers */
    for (int j = g->n_order - 1; j >= 0; j--) {
        av_nn__node *n = &g->nodes[g->order[j]];
        if (!live(n))
            continue;
        bool used = false;
        for (int k = 0; k < n->n_out; k++)
            used = used || need[n->out[k]];
        if (!used) {
            n->dead = true;
            continue;
        }
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0)
                need[n->in[k]] = true;
    }
    free(need);
    return AV_NN_OK;
}

/* Free t's owned constant data if nothing reads it (after one reader less
 * when `dec`: the fold loop's count of live consumers). */
static void free_if_unused(av_nn__graph *g, av_nn__tid t, bool dec)
{
    av_nn__tensor *x = &g->tensors[t];
    if (dec && x->n_consumers > 0)
        x->n_consumers--;
    if (x->data && x->data_owned && x->n_consumers == 0 && !x->is_output) {
        int64_t nb = av_nn__nbytes(x);
        free(x->data);
        x->data = NULL;
        x->data_owned = false;
        if (nb > 0)
            g->total_bytes -= nb;
    }
}

/* Free owned constant data nothing reads any more (weights replaced by folded copies). */
static void drop_unused_constants(av_nn__graph *g)
{
    for (int t = 0; t < g->n_tensors; t++)
        free_if_unused(g, t, false);
}

av_nn_status av_nn__graph_finalize(av_nn__graph *g, char *err, size_t errlen)
{
    if (!g)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "no graph");
    av_nn_status st = validate(g, err, errlen);
    if (!st)
        st = topo_sort(g, err, errlen);
    if (st)
        return st;
    /* shapes in order; a node whose inputs are all constant is evaluated now,
     * so later nodes see constant shape/pads/axes inputs. A folded node's
     * constant inputs that nothing else reads are freed at once, so a chain of
     * folds (TF.js weights transposed, then scaled) holds one copy at a time,
     * not all of them until the end: that was the load's peak RSS. */
    count_consumers(g);
    for (int j = 0; j < g->n_order; j++) {
        av_nn__node *n = &g->nodes[g->order[j]];
        if ((st = av_nn__infer_node(g, n, err, errlen)))
            return st;
        if (foldable(g, n)) {
            if ((st = fold_node(g, n, err, errlen)))
                return st;
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0)
                    free_if_unused(g, n->in[k], true);
        }
    }
    if ((st = av_nn__layout_pass(g, err, errlen)) || (st = av_nn__focus_pass(g, err, errlen)) ||
        (st = av_nn__spp_pass(g, err, errlen)) || (st = topo_sort(g, err, errlen)) ||
        (st = remove_dead(g, err, errlen)) || (st = topo_sort(g, err, errlen)))
        return st;
    /*
     * Rewrites, swept to a fixed point (each one removes a node, so this
     * ends). They only rewire consumers to tensors produced earlier, so
     * g->order stays a valid order of the live nodes throughout.
     */
    bool changed = true;
    while (changed) {
        changed = false;
        count_consumers(g);
        for (int j = 0; j < g->n_order; j++) {
            av_nn__node *n = &g->nodes[g->order[j]];
            while (live(n) &&
                   (rm_identity(g, n) || cancel_transposes(g, n) || sink_binary_transposes(g, n) ||
                    fold_affine(g, n) || fuse_activation(g, n) || fuse_hardswish(g, n) ||
                    fuse_silu(g, n) || av_nn__fuse_peak(g, n) || av_nn__fuse_peak_topk(g, n) ||
                    av_nn__fuse_residual(g, n) || av_nn__fuse_concat_act(g, n) ||
                    av_nn__fuse_dwpw(g, n) || av_nn__fuse_pwdw(g, n) ||
                    av_nn__fuse_se_dw(g, n) || av_nn__fuse_resize_concat(g, n) ||
                    av_nn__fuse_concat_mean(g, n))) {
                changed = true;
                count_consumers(g);
                drop_unused_constants(g); /* the weights fold_affine replaced */
            }
        }
    }
    /* heads read at a few gathered pixels (pass_sparse_head.c): after the
     * sweep, which first folds their depthwise and scale into the conv */
    if ((st = av_nn__sparse_head_pass(g, err, errlen)) || (st = remove_dead(g, err, errlen)) ||
        (st = topo_sort(g, err, errlen)))
        return st;
    /* the heat map's sigmoid into the peak top-k: a new node, sorted in */
    count_consumers(g);
    if ((st = av_nn__sigmoid_peak_pass(g, err, errlen)) || (st = topo_sort(g, err, errlen)) ||
        (st = remove_dead(g, err, errlen)) || (st = topo_sort(g, err, errlen)))
        return st;
    count_consumers(g);
    av_nn__sigmoid_peak_order(g);
    drop_unused_constants(g);
    return AV_NN_OK;
}

av_nn_status av_nn__graph_reorder(av_nn__graph *g, char *err, size_t errlen)
{
    av_nn_status st;
    /* sort first: remove_dead walks the order, which must hold the new nodes */
    if ((st = topo_sort(g, err, errlen)) || (st = remove_dead(g, err, errlen)) ||
        (st = topo_sort(g, err, errlen)))
        return st;
    count_consumers(g);
    drop_unused_constants(g);
    return AV_NN_OK;
}
