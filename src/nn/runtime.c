/*
 * runtime.c - run contexts (nn.h): per node a backend (XNNPACK where it
 * supports the node, else the reference kernels), its prepared state, a
 * thread pool and one planned activation arena; av_nn_run copies inputs in
 * (unless the caller filled av_nn_ctx_input_buffer in place), runs the nodes
 * in order and copies outputs out.
 */
#include "nn/core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xnnpack.h>

#include <assert.h>

static_assert(AV_NN_ARENA_SLACK >= XNN_EXTRA_BYTES, "arena slack must cover XNNPACK over-reads");

struct av_nn_ctx {
    const av_nn_model *m;
    av_nn__graph *bg;          /* batch-N copy of m's graph (opts.batch), owned; NULL: m's */
    int64_t batch;             /* dim 0 of the inputs and outputs */
    pthreadpool_t pool;        /* NULL: calling thread only */
    int own_pool;              /* 1: created here, destroyed with the context */
    const av_nn__backend **be; /* per node index; NULL for nodes not in the order */
    void **state;              /* per node index: backend state */
    void **tptr;               /* per tensor: data (constant or in the arena) */
    /* per node index: its one output is a graph output that no node reads
     * (CenterNet's wh once pass_sparse_head.c took its gather): av_nn_run
     * skips it when the caller does not want that output */
    bool *unread;
    uint8_t *arena;
    size_t arena_bytes;
    av_nn__profile *prof; /* per-op time accumulated by av_nn_run when set (benchmarks) */
    av_nn__observer obs;  /* calibration: sees every node's outputs when set */
    void *obs_user;
    bool raw;             /* a convolution here reads its weights from the graph */
};

/* The graph this context runs: its batch copy, else the model's. */
static const av_nn__graph *ctx_graph(const av_nn_ctx *c)
{
    return c->bg ? c->bg : c->m->g;
}

void av_nn_ctx_free(av_nn_ctx *c)
{
    if (!c)
        return;
    if (c->raw) {
        av_nn_model *m = (av_nn_model *)c->m; /* its lock and count (release.c) */
        pthread_mutex_lock(&m->mu);
        m->raw_ctx--;
        pthread_mutex_unlock(&m->mu);
    }
    const av_nn__graph *g = ctx_graph(c);
    for (int i = 0; c->be && c->state && i < g->n_nodes; i++)
        if (c->be[i] && c->state[i])
            c->be[i]->release(c->state[i]);
    if (c->pool && c->own_pool)
        pthreadpool_destroy(c->pool);
    free(c->be);
    free(c->state);
    free(c->unread);
    free(c->tptr);
    free(c->arena);
    av_nn__graph_rebatch_free(c->bg);
    free(c);
}

/* unread[i] for the nodes whose one output is a graph output that no node
 * of the order reads (and no graph input); readers counted in scratch
 * (n_tensors entries, overwritten by the planner after). */
static void mark_unread(const av_nn__graph *g, bool *unread, int64_t *readers)
{
    for (int t = 0; t < g->n_tensors; t++)
        readers[t] = 0;
    for (int j = 0; j < g->n_order; j++) {
        const av_nn__node *n = &g->nodes[g->order[j]];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0)
                readers[n->in[k]]++;
    }
    for (int j = 0; j < g->n_order; j++) {
        int i = g->order[j];
        const av_nn__node *n = &g->nodes[i];
        const av_nn__tensor *y = n->n_out == 1 ? &g->tensors[n->out[0]] : NULL;
        unread[i] = y && y->is_output && !y->is_input && !readers[n->out[0]];
    }
}

av_nn_status av_nn_ctx_new(const av_nn_model *m, const av_nn_ctx_opts *opts, av_nn_ctx **out,
                           char *err, size_t errlen)
{
    if (!out)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "out is NULL");
    *out = NULL;
    if (!m)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "model is NULL");
    av_nn_ctx_opts o = {.threads = 1, .backend = AV_NN_BACKEND_XNNPACK};
    if (opts)
        o = *opts;
    if (o.backend != AV_NN_BACKEND_XNNPACK && o.backend != AV_NN_BACKEND_REFERENCE)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "unknown backend %d", (int)o.backend);
    if (o.backend == AV_NN_BACKEND_XNNPACK) {
        int xs = av_nn__xnn_init();
        if (xs != 0)
            return av_nn__fail(err, errlen, AV_NN_E_BACKEND, "xnn_initialize failed (status %d)",
                               xs);
    }
    if (o.batch < 0)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "batch %d is negative", o.batch);
    av_nn_status st = AV_NN_OK;
    av_nn_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "context");
    c->m = m;
    /* the model's lock: its graph's weights may be released or restored (release.c) */
    av_nn_model *mm = (av_nn_model *)m;
    pthread_mutex_lock(&mm->mu);
    c->batch = av_nn__graph_batch(m->g);
    /* the model's own batch runs the model's graph: nothing re-inferred */
    if (o.batch > 0 && o.batch != c->batch) {
        if ((st = av_nn__graph_rebatch(m->g, o.batch, &c->bg, err, errlen))) {
            pthread_mutex_unlock(&mm->mu);
            free(c);
            return st;
        }
        c->batch = o.batch;
    }
    const av_nn__graph *g = ctx_graph(c);
    size_t nn = (size_t)(g->n_nodes ? g->n_nodes : 1),
           nt = (size_t)(g->n_tensors ? g->n_tensors : 1);
    c->be = calloc(nn, sizeof *c->be);
    c->state = calloc(nn, sizeof *c->state);
    c->tptr = calloc(nt, sizeof *c->tptr);
    c->unread = calloc(nn, sizeof *c->unread);
    int64_t *offsets = malloc(nt * sizeof *offsets);
    if (!c->be || !c->state || !c->tptr || !c->unread || !offsets) {
        st = av_nn__fail(err, errlen, AV_NN_E_NOMEM, "context tables");
        goto fail;
    }
    if (o.pool) {
        c->pool = (pthreadpool_t)o.pool;
    } else if (o.threads > 1) {
        c->own_pool = 1;
        c->pool = pthreadpool_create((size_t)o.threads);
        if (!c->pool) {
            st = av_nn__fail(err, errlen, AV_NN_E_NOMEM, "thread pool of %d", o.threads);
            goto fail;
        }
    }
    for (int j = 0; j < g->n_order; j++) {
        int i = g->order[j];
        const av_nn__node *n = &g->nodes[i];
        const av_nn__backend *be = &av_nn__backend_ref;
        if (o.backend == AV_NN_BACKEND_XNNPACK && av_nn__backend_xnn.supports_op(g, n))
            be = &av_nn__backend_xnn;
        /* released weights run on the packed GEMM only: anything else reads them back */
        bool gemm = be == &av_nn__backend_xnn && av_nn__xnn_gemm_takes(g, n);
        if (!gemm && (st = av_nn__model_restore(mm, c->bg, n, err, errlen)))
            goto fail;
        st = be->prepare(g, n, c->pool, &c->state[i], err, errlen);
        if (st == AV_NN_E_UNSUPPORTED && be != &av_nn__backend_ref) {
            /* the fast backend declined at prepare time: the reference kernel runs it */
            be = &av_nn__backend_ref, gemm = false;
            if (!(st = av_nn__model_restore(mm, c->bg, n, err, errlen)))
                st = be->prepare(g, n, c->pool, &c->state[i], err, errlen);
        }
        if (st)
            goto fail;
        c->be[i] = be;
        if (be == &av_nn__backend_ref && n->op == AV_NN_OP_CONV2D && !c->raw)
            c->raw = true, mm->raw_ctx++; /* until av_nn_ctx_free: nothing released under it */
        if (gemm)
            av_nn__model_release(mm, c->bg, n);
    }
    mark_unread(g, c->unread, offsets);
    if ((st = av_nn__plan(g, offsets, &c->arena_bytes, err, errlen)))
        goto fail;
    c->arena =
        aligned_alloc(AV_NN_ARENA_ALIGN, c->arena_bytes ? c->arena_bytes : AV_NN_ARENA_ALIGN);
    if (!c->arena) {
        st = av_nn__fail(err, errlen, AV_NN_E_NOMEM, "arena of %zu bytes", c->arena_bytes);
        goto fail;
    }
    memset(c->arena, 0, c->arena_bytes);
    for (int t = 0; t < g->n_tensors; t++) {
        if (g->tensors[t].data)
            c->tptr[t] = g->tensors[t].data;
        else if (offsets[t] >= 0)
            c->tptr[t] = c->arena + offsets[t];
    }
    free(offsets);
    pthread_mutex_unlock(&mm->mu);
    *out = c;
    return AV_NN_OK;
fail:
    free(offsets);
    pthread_mutex_unlock(&mm->mu);
    av_nn_ctx_free(c);
    return st;
}

/* The caller asked for graph output tensor t (a non-NULL pointer). */
static bool wanted(const av_nn__graph *g, void *const *outputs, av_nn__tid t)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == t && outputs[i])
            return true;
    return false;
}

/* av_nn_run; tap >= 0: copy that tensor into tap_out once it is written
 * (an input at once), before a later node can reuse its arena bytes. */
static av_nn_status run(av_nn_ctx *c, const void *const *inputs, void *const *outputs,
                        av_nn__tid tap, void *tap_out, char *err, size_t errlen)
{
    const av_nn__graph *g = ctx_graph(c);
    if ((g->n_inputs && !inputs) || !outputs)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "inputs/outputs array is NULL");
    for (int i = 0; i < g->n_inputs; i++) {
        av_nn__tid t = g->inputs[i];
        if (!inputs[i])
            return av_nn__fail(err, errlen, AV_NN_E_ARG, "input %d ('%s') is NULL", i,
                               g->tensors[t].name);
        int64_t nb = av_nn__nbytes(&g->tensors[t]);
        if (nb > 0 && c->tptr[t] && inputs[i] != c->tptr[t]) /* else filled in place */
            memcpy(c->tptr[t], inputs[i], (size_t)nb);
        if (t == tap)
            memcpy(tap_out, inputs[i], (size_t)av_nn__nbytes(&g->tensors[t]));
    }
    const void *in[AV_NN_MAX_NODE_INPUTS];
    void *out[AV_NN_MAX_NODE_OUTPUTS];
    for (int j = 0; j < g->n_order; j++) {
        int i = g->order[j];
        const av_nn__node *n = &g->nodes[i];
        if (c->unread[i] && !wanted(g, outputs, n->out[0]) && n->out[0] != tap && !c->obs)
            continue; /* nobody reads what it writes */
        for (int k = 0; k < n->n_in; k++)
            in[k] = n->in[k] >= 0 ? c->tptr[n->in[k]] : NULL;
        for (int k = 0; k < n->n_out; k++)
            out[k] = c->tptr[n->out[k]];
        struct timespec t0, t1;
        clockid_t clk = c->prof && c->prof->thread_cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
        if (c->prof)
            clock_gettime(clk, &t0);
        av_nn_status st = c->be[i]->run(c->state[i], g, n, in, out, c->pool, err, errlen);
        if (st)
            return st;
        for (int k = 0; tap >= 0 && k < n->n_out; k++)
            if (n->out[k] == tap)
                memcpy(tap_out, c->tptr[tap], (size_t)av_nn__nbytes(&g->tensors[tap]));
        if (c->obs)
            c->obs(c->obs_user, g, n, in, out);
        if (c->prof) {
            clock_gettime(clk, &t1);
            int k = n->op * 2 + (c->be[i] == &av_nn__backend_ref);
            double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
            c->prof->ms[k] += ms;
            c->prof->count[k]++;
            if (i < c->prof->n_nodes && c->prof->node_ms) {
                c->prof->node_ms[i] += ms;
                if (c->prof->node_kernel && !c->prof->node_kernel[i])
                    c->prof->node_kernel[i] = c->be[i] == &av_nn__backend_xnn
                                                  ? av_nn__xnn_kernel_name(c->state[i])
                                                  : c->be[i]->name;
            }
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        av_nn__tid t = g->outputs[i];
        if (!outputs[i])
            continue; /* not wanted: CenterNet's 5 MiB heat map is not copied for nothing */
        int64_t nb = av_nn__nbytes(&g->tensors[t]);
        if (nb > 0 && c->tptr[t])
            memcpy(outputs[i], c->tptr[t], (size_t)nb);
    }
    return AV_NN_OK;
}

av_nn_status av_nn_run(av_nn_ctx *c, const void *const *inputs, void *const *outputs, char *err,
                       size_t errlen)
{
    if (!c)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "context is NULL");
    return run(c, inputs, outputs, -1, NULL, err, errlen);
}

av_nn_status av_nn_run_tap(av_nn_ctx *c, const void *const *inputs, void *const *outputs,
                           const char *name, void *tap, size_t tap_len, char *err, size_t errlen)
{
    if (!c || !name || !tap)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "context, tensor name or buffer is NULL");
    const av_nn__graph *g = ctx_graph(c);
    av_nn__tid t = -1;
    for (int i = 0; i < g->n_tensors && t < 0; i++)
        if (g->tensors[i].name && !strcmp(g->tensors[i].name, name) && !g->tensors[i].data &&
            (g->tensors[i].is_input ||
             (g->tensors[i].producer >= 0 && !g->nodes[g->tensors[i].producer].dead)))
            t = i;
    if (t < 0)
        return av_nn__fail(err, errlen, AV_NN_E_ARG,
                           "no computed tensor '%s' in the optimised graph", name);
    int64_t nb = av_nn__nbytes(&g->tensors[t]);
    if (nb < 0 || (size_t)nb != tap_len || !c->tptr[t])
        return av_nn__fail(err, errlen, AV_NN_E_ARG,
                           "tensor '%s' has %lld bytes at batch %lld, buffer %zu", name,
                           (long long)nb, (long long)c->batch, tap_len);
    return run(c, inputs, outputs, t, tap, err, errlen);
}

void av_nn__ctx_set_profile(av_nn_ctx *c, av_nn__profile *p)
{
    if (c)
        c->prof = p;
}

void av_nn__ctx_set_observer(av_nn_ctx *c, av_nn__observer fn, void *user)
{
    if (c)
        c->obs = fn, c->obs_user = user;
}

const av_nn__graph *av_nn__ctx_graph(const av_nn_ctx *c)
{
    return c ? ctx_graph(c) : NULL;
}

const av_nn_model *av_nn__ctx_model(const av_nn_ctx *c)
{
    return c ? c->m : NULL;
}

int64_t av_nn_ctx_batch(const av_nn_ctx *c)
{
    return c ? c->batch : -1;
}

void *av_nn_ctx_input_buffer(av_nn_ctx *c, int i, size_t *nbytes)
{
    if (nbytes)
        *nbytes = 0;
    if (!c)
        return NULL;
    const av_nn__graph *g = ctx_graph(c);
    if (i < 0 || i >= g->n_inputs)
        return NULL;
    av_nn__tid t = g->inputs[i];
    int64_t nb = av_nn__nbytes(&g->tensors[t]);
    /* only arena bytes: a constant input's data belongs to the model */
    if (nb <= 0 || g->tensors[t].data || !c->tptr[t])
        return NULL;
    if (nbytes)
        *nbytes = (size_t)nb;
    return c->tptr[t];
}

size_t av_nn_ctx_arena_bytes(const av_nn_ctx *c)
{
    return c ? c->arena_bytes : 0;
}

/* An av_nn_pool is a pthreadpool; the type only keeps pthreadpool.h out of nn.h. */
av_nn_status av_nn_pool_new(int threads, av_nn_pool **out, char *err, size_t errlen)
{
    if (!out)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "out is NULL");
    *out = NULL;
    if (threads <= 1)
        return AV_NN_OK;
    pthreadpool_t p = pthreadpool_create((size_t)threads);
    if (!p)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "thread pool of %d", threads);
    *out = (av_nn_pool *)p;
    return AV_NN_OK;
}

void av_nn_pool_free(av_nn_pool *p)
{
    if (p)
        pthreadpool_destroy((pthreadpool_t)p);
}

void av_nn_pool_for(av_nn_pool *p, void (*fn)(void *ctx, size_t i), void *ctx, size_t n)
{
    if (!fn)
        return;
    if (!p) {
        for (size_t i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    pthreadpool_parallelize_1d((pthreadpool_t)p, fn, ctx, n, 0);
}

int av_nn_pool_threads(const av_nn_pool *p)
{
    return p ? (int)pthreadpool_get_threads_count((pthreadpool_t)(av_nn_pool *)p) : 1;
}
