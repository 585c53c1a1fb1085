/*
 * quant.c - int8 post-training quantisation of a float model (nn.h).
 *
 * Calibration: av_nn_calib_run runs the float graph and widens, per
 * computed f32 tensor, the [min, max] of the values it held; the table is
 * saved as text ("name<TAB>min<TAB>max" per line) keyed by tensor name in
 * the optimised graph, so a table made by another model or engine version
 * is refused by name instead of silently mis-scaling.
 *
 * Quantisation rewrites every float CONV2D / DEPTHWISE_CONV2D whose input
 * and output have ranges, whose fused activation is a clamp (none, relu,
 * relu6, clamp) or a leaky relu (where our int8 kernels run: AVX2), and
 * which would not run on our f32
 * Winograd kernel (faster than int8 here), into a qc8 convolution (our
 * int8 GEMM, xnn_qsgemm.c, or XNNPACK's): int8 weights with one
 * symmetric scale per output channel, int32 bias at scale x*w, int8
 * activations with one asymmetric scale per tensor from the calibrated
 * range. A QUANTIZE enters the int8 domain before the first such conv and
 * a DEQUANTIZE leaves it for every float consumer; consecutive int8 convs
 * pass int8 directly (the same tensor's range gives the same parameters on
 * both sides). Every other op stays float.
 */
#include "nn/core.h"
#include "nn/ref/ref.h" /* av_nn__apply_act: the heat map of a sigmoid peak top-k */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALIB_MAGIC "# aviary int8 calibration v1"
#define CALIB_MAX_BYTES (16u << 20)
/* XNNPACK's requantisation scale (input * weight / output) must lie in
 * [2^-32, 256) (see xnn_conv.c). */
#define REQ_MIN 0x1.0p-32
#define REQ_MAX 256.0

struct av_nn_calib {
    const av_nn_model *m;
    int n;          /* tensors of m's graph */
    bool *track;    /* computed f32 tensor with a unique, non-empty name */
    float *lo, *hi; /* observed range; lo > hi until seen */
    long runs;
};

typedef struct named {
    const char *name;
    av_nn__tid t;
} named;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

/*
 * Tensors a range is kept for: f32, computed (or a graph input), named
 * uniquely. Writes track[]; when idx is non-NULL, *idx receives them sorted
 * by name (malloc'd, *n_idx entries) for name lookups. Sorting keeps both
 * the duplicate check and the lookups O(n log n) on hostile graphs.
 */
static av_nn_status pick_tracked(const av_nn__graph *g, bool *track, named **idx, int *n_idx)
{
    named *v = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *v);
    if (!v)
        return AV_NN_E_NOMEM;
    int n = 0;
    bool *pre = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), sizeof *pre);
    if (!pre) {
        free(v);
        return AV_NN_E_NOMEM;
    }
    for (int i = 0; i < g->n_nodes; i++) { /* a fused conv's own output (observe) */
        if (!g->nodes[i].dead && av_nn__conv_residual(g, &g->nodes[i]) >= 0)
            pre[g->nodes[i].p.conv.pre_residual] = true;
        if (!g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_CONV2D &&
            g->nodes[i].p.conv.dw_on) /* and the depthwise it took */
            pre[g->nodes[i].p.conv.pre_dw] = true;
        if (!g->nodes[i].dead && av_nn__dwpw_scale(&g->nodes[i]) >= 0) /* its multiply */
            pre[g->nodes[i].p.conv.pre_scale] = true;
        if (!g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_CONCAT &&
            g->nodes[i].p.axis.resized) /* a concat's resize */
            pre[g->nodes[i].p.axis.pre_resize] = true;
        if (!g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_DEPTHWISE_CONV2D &&
            g->nodes[i].p.conv.pw_on) /* a depthwise's 1x1 conv */
            pre[g->nodes[i].p.conv.pre_pw] = true;
        if (!g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_TOPK &&
            g->nodes[i].p.topk.peak) /* a top-k's peak mask, reshaped */
            pre[g->nodes[i].p.topk.pre_peak] = pre[g->nodes[i].p.topk.pre_rows] = true;
        if (!g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_TOPK && g->nodes[i].p.topk.peak &&
            g->nodes[i].p.topk.sigmoid) /* and the heat map it takes the sigmoid of */
            pre[g->nodes[i].p.topk.pre_sig] = true;
        if (!g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_SPARSE_HEAD) {
            /* the head read at gathered pixels: what its conv and reshape
             * wrote (it stays f32: its rows are few) */
            const av_nn__conv_params *p = &g->nodes[i].p.conv;
            pre[p->pre_rows] = pre[p->pre_head] = true;
            if (p->pre_dw >= 0)
                pre[p->pre_dw] = true;
            if (g->nodes[i].n_in > 6 && g->nodes[i].in[6] >= 0)
                pre[p->pre_scale] = true;
        }
    }
    for (int t = 0; t < g->n_tensors; t++) {
        const av_nn__tensor *x = &g->tensors[t];
        track[t] = false;
        if (x->dtype == AV_NN_F32 && !x->data && x->name && x->name[0] &&
            !strpbrk(x->name, "\t\n\r") &&
            (x->is_input || pre[t] || (x->producer >= 0 && !g->nodes[x->producer].dead)))
            v[n++] = (named){x->name, t};
    }
    free(pre);
    qsort(v, (size_t)n, sizeof *v, by_name);
    int kept = 0;
    for (int i = 0; i < n;) {
        int j = i + 1;
        while (j < n && !strcmp(v[j].name, v[i].name))
            j++;
        if (j == i + 1) { /* names used twice are ambiguous in a table: neither is kept */
            track[v[i].t] = true;
            v[kept++] = v[i];
        }
        i = j;
    }
    if (idx)
        *idx = v, *n_idx = kept;
    else
        free(v);
    return AV_NN_OK;
}

av_nn_status av_nn_calib_new(const av_nn_model *m, av_nn_calib **out, char *err, size_t errlen)
{
    if (!out || !m)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "model or out is NULL");
    *out = NULL;
    const av_nn__graph *g = m->g;
    av_nn_calib *c = calloc(1, sizeof *c);
    size_t nt = (size_t)(g->n_tensors ? g->n_tensors : 1);
    if (c) {
        c->track = calloc(nt, sizeof *c->track);
        c->lo = malloc(nt * sizeof *c->lo);
        c->hi = malloc(nt * sizeof *c->hi);
    }
    if (!c || !c->track || !c->lo || !c->hi) {
        av_nn_calib_free(c);
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "calibration table of %d tensors",
                           g->n_tensors);
    }
    c->m = m, c->n = g->n_tensors;
    if (pick_tracked(g, c->track, NULL, NULL)) {
        av_nn_calib_free(c);
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "calibration table of %d tensors",
                           g->n_tensors);
    }
    for (int t = 0; t < c->n; t++)
        c->lo[t] = INFINITY, c->hi[t] = -INFINITY;
    *out = c;
    return AV_NN_OK;
}

void av_nn_calib_free(av_nn_calib *c)
{
    if (!c)
        return;
    free(c->track);
    free(c->lo);
    free(c->hi);
    free(c);
}

static void widen(av_nn_calib *c, av_nn__tid t, const float *v, int64_t n)
{
    float lo = c->lo[t], hi = c->hi[t];
    for (int64_t i = 0; i < n; i++) {
        float x = v[i];
        if (!isfinite(x))
            continue;
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    c->lo[t] = lo, c->hi[t] = hi;
}

/* A conv that took its depthwise (pass_fuse.c): the depthwise's output
 * again, by the reference kernel (calibration is offline). */
static void observe_dw(av_nn_calib *c, const av_nn__graph *g, const av_nn__node *n,
                       const void *const *in)
{
    av_nn__node dw;
    if (!av_nn__dwpw_node(g, n, &dw))
        return;
    av_nn__tid t = n->p.conv.pre_dw, ts = av_nn__dwpw_scale(n);
    const av_nn__tensor *xt = &g->tensors[n->in[0]];
    int64_t ne = av_nn__numel(xt);
    if (t < 0 || t >= c->n || !in[0] || ne < 1 || (ts >= 0 && !in[6]))
        return;
    float *xs = NULL; /* a fused multiply's output, x * s (its own range too) */
    if (ts >= 0) {
        av_nn__tid tp = n->p.conv.pre_scale;
        const float *xf = in[0], *sf = in[6];
        int64_t ch = xt->dims[3], hw = ne / xt->dims[0];
        if (!(xs = malloc((size_t)ne * sizeof *xs)))
            return;
        for (int64_t i = 0; i < ne; i++)
            xs[i] = xf[i] * sf[(g->tensors[ts].dims[0] == 1 ? 0 : i / hw) * ch + i % ch];
        if (tp >= 0 && tp < c->n && c->track[tp])
            widen(c, tp, xs, ne);
    }
    float *v = c->track[t] ? malloc((size_t)ne * sizeof *v) : NULL;
    char err[8];
    if (v && av_nn__ref_run(g, &dw, (const void *[]){xs ? xs : in[0], in[4], in[5]},
                            (void *[]){v}, err, sizeof err) == AV_NN_OK)
        widen(c, t, v, ne);
    free(v); /* out of memory: the range stays unseen, the table lacks it */
    free(xs);
}

/* A depthwise that took its 1x1 conv: the conv's output again, by the
 * reference kernel (batch 1 graphs only fuse it). */
static void observe_pw(av_nn_calib *c, const av_nn__graph *g, const av_nn__node *n,
                       const void *const *in)
{
    av_nn__node pw, dw;
    if (!av_nn__pwdw_nodes(g, n, &pw, &dw))
        return;
    av_nn__tid t = n->p.conv.pre_pw;
    int64_t ne = av_nn__numel(&g->tensors[t]);
    if (t < 0 || t >= c->n || !c->track[t] || !in[0] || ne < 1 ||
        g->tensors[n->in[0]].dims[0] != 1)
        return;
    float *v = malloc((size_t)ne * sizeof *v);
    char err[8];
    if (v && av_nn__ref_run(g, &pw, (const void *[]){in[0], in[4], in[5]}, (void *[]){v}, err,
                            sizeof err) == AV_NN_OK)
        widen(c, t, v, ne);
    free(v);
}

/* The resize node a concat took (pass_fuse.c), writing pre_resize. */
static av_nn__node resize_node(const av_nn__node *cat)
{
    av_nn__node r = {.op = AV_NN_OP_RESIZE, .name = cat->name, .n_in = 1, .n_out = 1};
    r.in[0] = cat->in[cat->p.axis.resize_k];
    r.out[0] = cat->p.axis.pre_resize;
    r.p.resize = cat->p.axis.resize;
    return r;
}

/* A concat that took a resize: the resize's output again, by the reference
 * (batch 1 graphs: pre_resize keeps one image's shape). */
static void observe_rs(av_nn_calib *c, const av_nn__graph *g, const av_nn__node *n,
                       const void *const *in)
{
    if (n->op != AV_NN_OP_CONCAT || !n->p.axis.resized)
        return;
    av_nn__node r = resize_node(n);
    av_nn__tid t = r.out[0];
    int64_t ne = av_nn__numel(&g->tensors[t]);
    if (t < 0 || t >= c->n || !c->track[t] || !in[n->p.axis.resize_k] || ne < 1 ||
        g->tensors[r.in[0]].dims[0] != 1)
        return;
    float *v = malloc((size_t)ne * sizeof *v);
    char err[8];
    if (v && av_nn__ref_run(g, &r, (const void *[]){in[n->p.axis.resize_k]}, (void *[]){v}, err,
                            sizeof err) == AV_NN_OK)
        widen(c, t, v, ne);
    free(v);
}

/* A top-k that took the peak mask (pass_peaktopk.c): the mask again, by
 * the reference kernel; its reshape holds the same values. */
static void observe_peak(av_nn_calib *c, const av_nn__graph *g, const av_nn__node *n,
                         const void *const *in)
{
    if (n->op != AV_NN_OP_TOPK || !n->p.topk.peak || !in[0])
        return;
    av_nn__tid t = n->p.topk.pre_peak, tr = n->p.topk.pre_rows;
    int64_t ne = av_nn__numel(&g->tensors[n->in[0]]);
    if (t < 0 || t >= c->n || tr < 0 || tr >= c->n || (!c->track[t] && !c->track[tr]) || ne < 1)
        return;
    av_nn__node pk = {.op = AV_NN_OP_MAX_POOL2D, .name = n->name, .n_in = 1, .n_out = 1,
                      .in = {n->in[0]}, .out = {t}, .p.pool = n->p.topk.peak_pool};
    float *v = malloc((size_t)ne * sizeof *v), *sx = NULL;
    const void *xin[1] = {in[0]};
    char err[8];
    if (v && n->p.topk.sigmoid) { /* logits: the heat map first (reference arithmetic) */
        const av_nn__fused_act sig = {.kind = AV_NN_ACT_SIGMOID};
        const float *xl = in[0];
        av_nn__tid ts = n->p.topk.pre_sig;
        if (!(sx = malloc((size_t)ne * sizeof *sx))) {
            free(v);
            return;
        }
        for (int64_t i = 0; i < ne; i++)
            sx[i] = av_nn__apply_act(xl[i], &sig);
        /* the heat map's own range where its node is dead (no graph
         * output); a live one is observed as it runs */
        if (ts >= 0 && ts < c->n && c->track[ts] && g->tensors[ts].producer < 0)
            widen(c, ts, sx, ne);
        xin[0] = sx;
    }
    if (v && av_nn__ref_run(g, &pk, xin, (void *[]){v}, err, sizeof err) == AV_NN_OK) {
        if (c->track[t])
            widen(c, t, v, ne);
        if (c->track[tr])
            widen(c, tr, v, ne);
    }
    free(sx);
    free(v);
}

static void observe(void *user, const av_nn__graph *g, const av_nn__node *n,
                    const void *const *in, void *const *out)
{
    av_nn_calib *c = user;
    for (int k = 0; k < n->n_out; k++) {
        av_nn__tid t = n->out[k];
        if (t >= 0 && t < c->n && c->track[t] && out[k])
            widen(c, t, out[k], av_nn__numel(&g->tensors[t]));
    }
    observe_dw(c, g, n, in);
    observe_pw(c, g, n, in);
    observe_rs(c, g, n, in);
    observe_peak(c, g, n, in);
    av_nn__tid t = av_nn__conv_residual(g, n) >= 0 ? n->p.conv.pre_residual : -1;
    if (t < 0 || t >= c->n || !c->track[t] || !in[3] || !out[0])
        return;
    /* the conv's own output, as it was before its residual add was fused:
     * y - r (the float sum undone: within a rounding of it) */
    const float *y = out[0], *r = in[3];
    float v[256];
    for (int64_t i = 0, ne = av_nn__numel(&g->tensors[t]); i < ne; i += 256) {
        int64_t m = ne - i < 256 ? ne - i : 256;
        for (int64_t j = 0; j < m; j++)
            v[j] = y[i + j] - r[i + j];
        widen(c, t, v, m);
    }
}

/* Resizes fused into concats (pass_fuse.c) become nodes again. */
static av_nn_status split_resizes(av_nn__graph *g, char *err, size_t errlen)
{
    int n0 = g->n_nodes;
    bool any = false;
    for (int i = 0; i < n0; i++) {
        av_nn__node *c = &g->nodes[i];
        if (c->dead || c->op != AV_NN_OP_CONCAT || !c->p.axis.resized)
            continue;
        av_nn__node r = resize_node(c);
        c->in[c->p.axis.resize_k] = r.out[0];
        c->p.axis.resized = false;
        int ri = av_nn__add_node(g, AV_NN_OP_RESIZE, g->tensors[r.out[0]].name, r.in, 1, r.out,
                                 1, &r.p);
        if (ri < 0)
            return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "resize for '%s'",
                               g->tensors[r.out[0]].name);
        g->tensors[r.out[0]].producer = ri;
        any = true;
    }
    return any ? av_nn__graph_reorder(g, err, errlen) : AV_NN_OK;
}

/* Means fused into concats (pass_catmean.c) become reduce nodes again. */
static av_nn_status split_means(av_nn__graph *g, char *err, size_t errlen)
{
    int n0 = g->n_nodes;
    bool any = false;
    for (int i = 0; i < n0; i++) {
        av_nn__node *c = &g->nodes[i];
        if (c->dead || c->op != AV_NN_OP_CONCAT || !c->p.axis.mean || c->n_out != 2)
            continue;
        av_nn__tid in = c->out[0], out = c->out[1];
        av_nn__params p = {.reduce = {.kind = AV_NN_REDUCE_MEAN, .axes_mask = 6u,
                                      .keep_dims = true}};
        c->n_out = 1;
        c->p.axis.mean = false;
        int ri = av_nn__add_node(g, AV_NN_OP_REDUCE, g->tensors[out].name, &in, 1, &out, 1, &p);
        if (ri < 0)
            return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "reduce for '%s'",
                               g->tensors[out].name);
        g->tensors[out].producer = ri;
        any = true;
    }
    return any ? av_nn__graph_reorder(g, err, errlen) : AV_NN_OK;
}

/* Squeeze-excite multiplies fused into dw_on convs (pass_fuse.c) become
 * nodes again (one per scaled tensor, every reader rewired to it), before
 * the depthwise convolutions split off below. */
static av_nn_status split_scales(av_nn__graph *g, char *err, size_t errlen)
{
    int n0 = g->n_nodes;
    bool any = false;
    for (int i = 0; i < n0; i++) {
        av_nn__node *c = &g->nodes[i];
        av_nn__tid s = c->dead ? -1 : av_nn__dwpw_scale(c);
        if (s < 0)
            continue;
        av_nn__tid t = c->p.conv.pre_scale, in[2] = {c->in[0], s};
        c->in[0] = t;
        c->in[6] = -1;
        c->n_in = 6;
        bool made = false; /* by an earlier reader of t */
        for (int j = n0; j < g->n_nodes; j++)
            made |= g->nodes[j].out[0] == t;
        if (made)
            continue;
        av_nn__params p = {.binary = {.kind = AV_NN_BIN_MUL}};
        int mi = av_nn__add_node(g, AV_NN_OP_BINARY, g->tensors[t].name, in, 2, &t, 1, &p);
        if (mi < 0)
            return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "multiply for '%s'",
                               g->tensors[t].name);
        g->tensors[t].producer = mi;
        any = true;
    }
    return any ? av_nn__graph_reorder(g, err, errlen) : AV_NN_OK;
}

/* Depthwise convolutions fused into 1x1 convs (pass_fuse.c) become nodes
 * again, so each can go int8 on its own ranges. */
static av_nn_status split_dwpw(av_nn__graph *g, char *err, size_t errlen)
{
    int n0 = g->n_nodes;
    bool any = false;
    for (int i = 0; i < n0; i++) {
        av_nn__node dw;
        if (g->nodes[i].dead || !av_nn__dwpw_node(g, &g->nodes[i], &dw))
            continue;
        av_nn__tid t = g->nodes[i].p.conv.pre_dw;
        char name[512];
        snprintf(name, sizeof name, "%s/depthwise", g->tensors[t].name);
        dw.out[0] = t;
        int di = av_nn__add_node(g, AV_NN_OP_DEPTHWISE_CONV2D, name, dw.in, dw.n_in, dw.out, 1,
                                 &dw.p);
        if (di < 0)
            return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "depthwise for '%s'",
                               g->tensors[t].name);
        av_nn__node *c = &g->nodes[i]; /* add_node may have moved the nodes */
        c->in[0] = t;
        c->in[4] = c->in[5] = -1;
        c->n_in = c->in[3] >= 0 ? 4 : 3;
        c->p.conv.dw_on = false;
        g->tensors[t].producer = di;
        any = true;
    }
    return any ? av_nn__graph_reorder(g, err, errlen) : AV_NN_OK;
}

/* 1x1 convs fused into depthwise convolutions (pass_fuse.c) become nodes
 * again, each to go int8 on its own ranges. */
static av_nn_status split_pwdw(av_nn__graph *g, char *err, size_t errlen)
{
    int n0 = g->n_nodes;
    bool any = false;
    for (int i = 0; i < n0; i++) {
        av_nn__node pw, dw;
        if (g->nodes[i].dead || !av_nn__pwdw_nodes(g, &g->nodes[i], &pw, &dw))
            continue;
        av_nn__tid t = pw.out[0];
        char name[512];
        snprintf(name, sizeof name, "%s/pointwise", g->tensors[t].name);
        int ci = av_nn__add_node(g, AV_NN_OP_CONV2D, name, pw.in, pw.n_in, pw.out, 1, &pw.p);
        if (ci < 0)
            return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "1x1 conv for '%s'",
                               g->tensors[t].name);
        av_nn__node *d = &g->nodes[i]; /* add_node may have moved the nodes */
        d->in[0] = t;
        d->in[3] = d->in[4] = d->in[5] = -1;
        d->n_in = d->in[2] >= 0 ? 3 : 2;
        d->p.conv.pw_on = false;
        g->tensors[t].producer = ci;
        any = true;
    }
    return any ? av_nn__graph_reorder(g, err, errlen) : AV_NN_OK;
}

/* Residual adds fused into convs (pass_fuse.c) become add nodes again, so
 * the conv can go int8 on its own output's range (the add stays float). */
static av_nn_status split_residuals(av_nn__graph *g, char *err, size_t errlen)
{
    int n0 = g->n_nodes;
    bool any = false;
    for (int i = 0; i < n0; i++) {
        av_nn__node *c = &g->nodes[i];
        av_nn__tid r = c->dead ? -1 : av_nn__conv_residual(g, c);
        if (r < 0)
            continue;
        av_nn__tid t = c->p.conv.pre_residual, y = c->out[0];
        av_nn__params p = {.binary = {.kind = AV_NN_BIN_ADD, .act = c->p.conv.act}};
        char name[512];
        snprintf(name, sizeof name, "%s/residual", g->tensors[y].name);
        c->out[0] = t, c->n_in = 3, c->in[3] = -1;
        c->p.conv.act = (av_nn__fused_act){0};
        g->tensors[t].producer = i;
        int ai = av_nn__add_node(g, AV_NN_OP_BINARY, name, (av_nn__tid[]){t, r}, 2, &y, 1, &p);
        if (ai < 0)
            return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "residual add for '%s'",
                               g->tensors[y].name);
        g->tensors[y].producer = ai;
        any = true;
    }
    return any ? av_nn__graph_reorder(g, err, errlen) : AV_NN_OK;
}

av_nn_status av_nn_calib_run(av_nn_calib *c, av_nn_ctx *ctx, const void *const *inputs,
                             void *const *outputs, char *err, size_t errlen)
{
    if (!c || !ctx || !inputs)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "calibration, context or inputs is NULL");
    if (av_nn__ctx_model(ctx) != c->m || av_nn_ctx_batch(ctx) != av_nn_model_batch(c->m))
        return av_nn__fail(err, errlen, AV_NN_E_ARG,
                           "calibration needs a context of its own model at the model's batch");
    const av_nn__graph *g = c->m->g;
    for (int i = 0; i < g->n_inputs; i++) {
        av_nn__tid t = g->inputs[i];
        if (c->track[t] && inputs[i])
            widen(c, t, inputs[i], av_nn__numel(&g->tensors[t]));
    }
    av_nn__ctx_set_observer(ctx, observe, c);
    av_nn_status st = av_nn_run(ctx, inputs, outputs, err, errlen);
    av_nn__ctx_set_observer(ctx, NULL, NULL);
    if (!st)
        c->runs++;
    return st;
}

av_nn_status av_nn_calib_save(const av_nn_calib *c, const char *path, const char *comment,
                              char *err, size_t errlen)
{
    if (!c || !path)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "calibration or path is NULL");
    if (c->runs < 1)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "no calibration run was recorded");
    FILE *f = fopen(path, "w");
    if (!f)
        return av_nn__fail(err, errlen, AV_NN_E_IO, "cannot write %s: %s", path, strerror(errno));
    const av_nn__graph *g = c->m->g;
    fprintf(f, "%s\n# runs %ld\n", CALIB_MAGIC, c->runs);
    if (comment) /* one line per comment line, each behind '#' */
        for (const char *s = comment; *s;) {
            size_t l = strcspn(s, "\n");
            fprintf(f, "# %.*s\n", (int)l, s);
            s += l + (s[l] == '\n');
        }
    for (int t = 0; t < c->n; t++)
        if (c->track[t] && c->lo[t] <= c->hi[t])
            fprintf(f, "%s\t%.9g\t%.9g\n", g->tensors[t].name, (double)c->lo[t],
                    (double)c->hi[t]);
    if (fclose(f) != 0)
        return av_nn__fail(err, errlen, AV_NN_E_IO, "cannot write %s: %s", path, strerror(errno));
    return AV_NN_OK;
}

/* ---- reading a table ---- */

/* Parse the table at path into lo/hi (indexed by tensor; lo > hi = no range). */
static av_nn_status load_table(const av_nn__graph *g, const char *path, float *lo, float *hi,
                               char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return av_nn__fail(err, errlen, AV_NN_E_IO, "cannot read calibration table %s: %s", path,
                           strerror(errno));
    bool *track = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), sizeof *track);
    named *idx = NULL;
    int n_idx = 0;
    if (!track || pick_tracked(g, track, &idx, &n_idx)) {
        free(track);
        fclose(f);
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "calibration table %s", path);
    }
    char line[1024];
    long lineno = 0, total = 0;
    av_nn_status st = AV_NN_OK;
    while (!st && fgets(line, sizeof line, f)) {
        lineno++;
        total += (long)strlen(line);
        size_t l = strlen(line);
        if (total > (long)CALIB_MAX_BYTES || (l == sizeof line - 1 && line[l - 1] != '\n')) {
            st = av_nn__fail(err, errlen, AV_NN_E_LIMIT, "%s:%ld: line or file too long", path,
                             lineno);
            break;
        }
        if (lineno == 1 && strncmp(line, CALIB_MAGIC, strlen(CALIB_MAGIC))) {
            st = av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                             "%s: not an aviary int8 calibration table (first line must be '%s')",
                             path, CALIB_MAGIC);
            break;
        }
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *tab = strchr(line, '\t');
        char *end = NULL;
        if (!tab) {
            st = av_nn__fail(err, errlen, AV_NN_E_FORMAT, "%s:%ld: expected name<TAB>min<TAB>max",
                             path, lineno);
            break;
        }
        *tab = '\0';
        double a = strtod(tab + 1, &end), b = end && *end == '\t' ? strtod(end + 1, &end) : NAN;
        if (!isfinite(a) || !isfinite(b) || a > b || fabs(a) > 1e30 || fabs(b) > 1e30) {
            st = av_nn__fail(err, errlen, AV_NN_E_FORMAT, "%s:%ld: bad range for '%s'", path,
                             lineno, line);
            break;
        }
        named key = {line, -1};
        const named *hit = n_idx ? bsearch(&key, idx, (size_t)n_idx, sizeof *idx, by_name) : NULL;
        if (!hit) {
            st = av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                             "%s:%ld: tensor '%s' is not in this model's optimised graph (table "
                             "made for another model or engine version: regenerate it with "
                             "`aviary model quantize`)",
                             path, lineno, line);
            break;
        }
        lo[hit->t] = (float)a, hi[hit->t] = (float)b;
    }
    if (!st && ferror(f))
        st = av_nn__fail(err, errlen, AV_NN_E_IO, "cannot read %s", path);
    if (!st && lineno == 0)
        st = av_nn__fail(err, errlen, AV_NN_E_FORMAT, "%s: empty calibration table", path);
    free(track);
    free(idx);
    fclose(f);
    return st;
}

/* ---- the rewrite ---- */

/* Per-tensor asymmetric int8 parameters covering [lo, hi] and 0. */
static void act_params(float lo, float hi, float *scale, int32_t *zp)
{
    double a = lo < 0 ? lo : 0, b = hi > 0 ? hi : 0;
    if (b - a < 1e-6)
        b = a + 1e-6;
    double s = (b - a) / 255.0;
    double z = nearbyint(-128.0 - a / s);
    *scale = (float)s;
    *zp = (int32_t)(z < -128 ? -128 : z > 127 ? 127 : z);
}

/* Fused activations an int8 conv computes: clamps (XNNPACK's output
 * bounds) and leaky relu with 0 < alpha < 1 (a table after the conv,
 * xnn_qlut.c). */
static bool act_int8(const av_nn__fused_act *a)
{
    return a->kind == AV_NN_ACT_NONE || a->kind == AV_NN_ACT_RELU ||
           a->kind == AV_NN_ACT_RELU6 || a->kind == AV_NN_ACT_RELU_N1_1 ||
           a->kind == AV_NN_ACT_CLAMP ||
           (a->kind == AV_NN_ACT_LEAKY && isfinite(a->alpha) && a->alpha > 0.0f &&
            a->alpha < 1.0f);
}

/* A float conv the rewrite can take, given the ranges. */
static bool candidate(const av_nn__graph *g, const av_nn__node *n, const float *lo,
                      const float *hi)
{
    if (n->dead || (n->op != AV_NN_OP_CONV2D && n->op != AV_NN_OP_DEPTHWISE_CONV2D) ||
        n->n_in < 2 || n->n_out != 1 || !act_int8(&n->p.conv.act) ||
        av_nn__conv_residual(g, n) >= 0) /* a fused residual add stays float */
        return false;
    /* where int8 would be a slow-down: our f32 Winograd 3x3 stride-1 convs
     * do a quarter of the multiplies (NanoDet: 150-270 GFLOP/s effective
     * against ~90 for the f32 GEMM), which XNNPACK's int8 direct convolution
     * does not beat */
    if (av_nn__xnn_wino_takes(g, n))
        return false;
    if (n->p.conv.act.kind == AV_NN_ACT_LEAKY && !av_nn__xnn_qleaky_pays())
        return false;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
    const av_nn__tensor *y = &g->tensors[n->out[0]];
    const av_nn__tensor *b = n->n_in > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
    if (x->dtype != AV_NN_F32 || x->data || w->dtype != AV_NN_F32 || !w->data || w->rank != 4 ||
        y->dtype != AV_NN_F32 || y->rank != 4 || x->rank != 4)
        return false;
    /* 1x1 outputs (squeeze-excite): no time to win, and int8 there cost
     * CenterNet the most accuracy on bird.bmp */
    if (y->dims[1] * y->dims[2] == 1)
        return false;
    if (b && (b->dtype != AV_NN_F32 || !b->data || av_nn__numel(b) != y->dims[3]))
        return false;
    return lo[n->in[0]] <= hi[n->in[0]] && lo[n->out[0]] <= hi[n->out[0]];
}

/* New tensor like `like` (shape) with dtype dt and data (owned). */
static av_nn__tid add_like(av_nn__graph *g, av_nn__tid like, const char *suffix, av_nn_dtype dt,
                           void *data)
{
    char name[512];
    int64_t dims[AV_NN_MAX_RANK];
    int rank = g->tensors[like].rank;
    memcpy(dims, g->tensors[like].dims, sizeof dims);
    snprintf(name, sizeof name, "%s%s", g->tensors[like].name ? g->tensors[like].name : "",
             suffix);
    av_nn__tid t = av_nn__add_tensor(g, name, dt, rank, dims, data, data != NULL);
    if (t < 0 && data)
        free(data);
    return t;
}

/* int8 weights (symmetric, per output channel) and int32 bias of conv n.
 * False when some channel cannot meet XNNPACK's requantisation range. */
static av_nn_status quant_weights(av_nn__graph *g, int ni, float xs, float ys, av_nn__tid *wq,
                                  av_nn__tid *bq, bool *ok, char *err, size_t errlen)
{
    const av_nn__node *n = &g->nodes[ni];
    av_nn__tid wt = n->in[1], bt = n->n_in > 2 ? n->in[2] : -1;
    const av_nn__tensor *w = &g->tensors[wt];
    bool dw = n->op == AV_NN_OP_DEPTHWISE_CONV2D;
    int64_t total = av_nn__numel(w), cout = g->tensors[n->out[0]].dims[3];
    *ok = false;
    *wq = *bq = -1;
    if (cout <= 0 || total <= 0 || total % cout)
        return AV_NN_OK;
    float *scales = malloc((size_t)cout * sizeof *scales);
    int8_t *q = malloc((size_t)total);
    int32_t *bias = bt >= 0 ? malloc((size_t)cout * sizeof *bias) : NULL;
    if (!scales || !q || (bt >= 0 && !bias)) {
        free(scales), free(q), free(bias);
        return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "int8 weights");
    }
    const float *wf = w->data;
    /* OHWI: channel o is a contiguous block; depthwise 1HW(C*m): index % cout */
    int64_t inner = total / cout;
    /* a leaky relu's int8 conv outputs the pre-activation, at a scale up to
     * ys / alpha (xnn_qlut.c): the lower requantisation limit holds there too */
    const av_nn__fused_act *act = &n->p.conv.act;
    double ys_pre = act->kind == AV_NN_ACT_LEAKY ? ys / (double)act->alpha : ys;
    for (int64_t c = 0; c < cout; c++) {
        float m = 0;
        for (int64_t i = 0; i < inner; i++) {
            float v = fabsf(wf[dw ? i * cout + c : c * inner + i]);
            m = v > m ? v : m;
        }
        double s = m > 0 ? m / 127.0 : (double)ys / xs; /* all-zero channel: any scale */
        /* the bias is stored at scale x*w in int32: where x's range is tiny
         * (squeeze-excite inputs) a coarser w keeps it from saturating */
        double bmin = bt >= 0 ? fabs(((const float *)g->tensors[bt].data)[c]) / ((double)xs * 0x1.0p30) : 0;
        s = s > bmin ? s : bmin;
        double r = (double)xs * s / ys;
        if (r >= REQ_MAX) {
            free(scales), free(q), free(bias);
            return AV_NN_OK; /* keeps float */
        }
        if ((double)xs * s / ys_pre < REQ_MIN)
            s = REQ_MIN * 2 * ys_pre / xs; /* tiny weights round to 0 either way */
        scales[c] = (float)s;
        for (int64_t i = 0; i < inner; i++) {
            int64_t k = dw ? i * cout + c : c * inner + i;
            double v = nearbyint(wf[k] / s);
            q[k] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
        }
        if (bias) {
            bias[c] = (int32_t)nearbyint(((const float *)g->tensors[bt].data)[c] / ((double)xs * s));
        }
    }
    *wq = add_like(g, wt, "/int8", AV_NN_I8, q);
    if (*wq < 0) {
        free(scales), free(bias);
        return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "int8 weights");
    }
    av_nn__quant *wqp = &g->tensors[*wq].quant;
    wqp->scale = scales[0], wqp->zero_point = 0, wqp->axis = dw ? 3 : 0;
    wqp->n_channels = (int32_t)cout, wqp->channel_scales = scales;
    if (bias) {
        *bq = add_like(g, bt, "/int32", AV_NN_I32, bias);
        if (*bq < 0)
            return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "int32 bias");
    }
    *ok = true;
    return AV_NN_OK;
}

/* The int8 twin of f32 tensor t (twin[t]), made with a QUANTIZE on first use. */
static av_nn_status twin_of(av_nn__graph *g, av_nn__tid t, av_nn__tid *twin, const float *lo,
                            const float *hi, int *boundaries, char *err, size_t errlen)
{
    if (twin[t] >= 0)
        return AV_NN_OK;
    av_nn__tid q = add_like(g, t, "/int8", AV_NN_I8, NULL);
    if (q < 0)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "int8 tensor for '%s'", g->tensors[t].name);
    act_params(lo[t], hi[t], &g->tensors[q].quant.scale, &g->tensors[q].quant.zero_point);
    char name[512];
    snprintf(name, sizeof name, "%s/quantize", g->tensors[t].name);
    int ni = av_nn__add_node(g, AV_NN_OP_QUANTIZE, name, &t, 1, &q, 1, NULL);
    if (ni < 0)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "quantize node for '%s'",
                           g->tensors[t].name);
    g->tensors[q].producer = ni;
    twin[t] = q;
    (*boundaries)++;
    return AV_NN_OK;
}

/* Rewrite conv ni to int8 (see the file comment); *done false leaves it float. */
static av_nn_status rewrite_conv(av_nn__graph *g, int ni, av_nn__tid *twin, const float *lo,
                                 const float *hi, int *boundaries, bool *done, char *err,
                                 size_t errlen)
{
    av_nn__tid x = g->nodes[ni].in[0], y = g->nodes[ni].out[0];
    float xs, ys;
    int32_t xz, yz;
    act_params(lo[x], hi[x], &xs, &xz);
    act_params(lo[y], hi[y], &ys, &yz);
    av_nn__tid wq, bq;
    av_nn_status st = quant_weights(g, ni, xs, ys, &wq, &bq, done, err, errlen);
    if (st || !*done)
        return st;
    if ((st = twin_of(g, x, twin, lo, hi, boundaries, err, errlen)))
        return st;
    av_nn__tid yq = add_like(g, y, "/int8", AV_NN_I8, NULL);
    if (yq < 0)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "int8 tensor for '%s'", g->tensors[y].name);
    g->tensors[yq].quant.scale = ys, g->tensors[yq].quant.zero_point = yz;
    char name[512];
    snprintf(name, sizeof name, "%s/dequantize", g->tensors[y].name);
    int di = av_nn__add_node(g, AV_NN_OP_DEQUANTIZE, name, &yq, 1, &y, 1, NULL);
    if (di < 0)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "dequantize node for '%s'",
                           g->tensors[y].name);
    av_nn__node *n = &g->nodes[ni]; /* add_node may have moved the array */
    n->in[0] = twin[x], n->in[1] = wq;
    if (n->n_in > 2)
        n->in[2] = bq;
    n->out[0] = yq;
    g->tensors[yq].producer = ni;
    g->tensors[y].producer = di;
    twin[y] = yq;
    (*boundaries)++;
    return AV_NN_OK;
}

av_nn_status av_nn_model_quantize(av_nn_model *m, const char *calib_path,
                                  av_nn_quant_report *rep, char *err, size_t errlen)
{
    if (!m || !calib_path)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "model or calibration path is NULL");
    /* reads the f32 weights: back first where a context released them (release.c) */
    pthread_mutex_lock(&m->mu);
    av_nn_status rs = av_nn__model_restore(m, NULL, NULL, err, errlen);
    pthread_mutex_unlock(&m->mu);
    if (rs != AV_NN_OK)
        return rs;
    av_nn__graph *g = m->g;
    av_nn_status st0 = split_scales(g, err, errlen);
    if (!st0)
        st0 = split_means(g, err, errlen);
    if (!st0)
        st0 = split_resizes(g, err, errlen);
    if (!st0)
        st0 = split_dwpw(g, err, errlen);
    if (!st0)
        st0 = split_pwdw(g, err, errlen);
    if (!st0)
        st0 = split_residuals(g, err, errlen);
    if (st0)
        return st0;
    int n0 = g->n_tensors;
    float *lo = malloc((size_t)(n0 ? n0 : 1) * sizeof *lo);
    float *hi = malloc((size_t)(n0 ? n0 : 1) * sizeof *hi);
    av_nn__tid *twin = malloc((size_t)(n0 ? n0 : 1) * sizeof *twin);
    int *order = malloc((size_t)(g->n_order ? g->n_order : 1) * sizeof *order);
    av_nn_status st = AV_NN_OK;
    if (!lo || !hi || !twin || !order) {
        st = av_nn__fail(err, errlen, AV_NN_E_NOMEM, "quantising %d tensors", n0);
        goto done;
    }
    for (int t = 0; t < n0; t++)
        lo[t] = INFINITY, hi[t] = -INFINITY, twin[t] = -1;
    if ((st = load_table(g, calib_path, lo, hi, err, errlen)))
        goto done;
    av_nn_quant_report r = {0};
    int n_order = g->n_order;
    memcpy(order, g->order, (size_t)n_order * sizeof *order);
    for (int j = 0; j < n_order && !st; j++) {
        int ni = order[j];
        av_nn__op op = g->nodes[ni].op;
        if (op != AV_NN_OP_CONV2D && op != AV_NN_OP_DEPTHWISE_CONV2D)
            continue;
        bool done = false;
        if (candidate(g, &g->nodes[ni], lo, hi))
            st = rewrite_conv(g, ni, twin, lo, hi, &r.boundaries, &done, err, errlen);
        if (done)
            r.quantised++;
        else
            r.kept_float++;
    }
    if (!st)
        st = av_nn__graph_reorder(g, err, errlen);
    if (!st) {
        /* boundaries left after dead DEQUANTIZEs (int8 straight into int8) went away */
        r.boundaries = 0;
        for (int j = 0; j < g->n_order; j++) {
            av_nn__op op = g->nodes[g->order[j]].op;
            r.boundaries += op == AV_NN_OP_QUANTIZE || op == AV_NN_OP_DEQUANTIZE;
        }
        if (rep)
            *rep = r;
    }
done:
    free(lo);
    free(hi);
    free(twin);
    free(order);
    return st;
}
