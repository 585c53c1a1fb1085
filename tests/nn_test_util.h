/*
 * nn_test_util.h - helpers for the engine-core tests (t_nn_ir*, t_nn_ref*):
 * build small graphs by hand, run them on the reference backend through the
 * public API, and an unoptimised interpreter (shape inference + reference
 * kernel per node, in insertion order, no passes) used as the oracle for the
 * rewrite passes.
 */
#ifndef AV_NN_TEST_UTIL_H
#define AV_NN_TEST_UTIL_H

#include "harness.h"
#include "nn/core.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline av_nn__tid tt_act(av_nn__graph *g, const char *name, av_nn_dtype dt, int rank,
                                const int64_t *dims)
{
    av_nn__tid t = av_nn__add_tensor(g, name, dt, rank, dims, NULL, false);
    CHECK(t >= 0);
    return t;
}

/* Constant tensor holding a copy of data. */
static inline av_nn__tid tt_const(av_nn__graph *g, const char *name, av_nn_dtype dt, int rank,
                                  const int64_t *dims, const void *data)
{
    av_nn__tensor tmp = {.dtype = dt, .rank = rank};
    for (int i = 0; i < rank; i++)
        tmp.dims[i] = dims[i];
    int64_t nb = av_nn__nbytes(&tmp);
    CHECK(nb >= 0);
    void *copy = malloc((size_t)nb + 1);
    CHECK(copy);
    memcpy(copy, data, (size_t)nb);
    av_nn__tid t = av_nn__add_tensor(g, name, dt, rank, dims, copy, true);
    CHECK(t >= 0);
    return t;
}

static inline av_nn__tid tt_input(av_nn__graph *g, const char *name, av_nn_dtype dt, int rank,
                                  const int64_t *dims)
{
    av_nn__tid t = tt_act(g, name, dt, rank, dims);
    CHECK(av_nn__mark_input(g, t) >= 0);
    return t;
}

static inline int tt_node(av_nn__graph *g, av_nn__op op, const char *name, const av_nn__tid *in,
                          int n_in, const av_nn__tid *out, int n_out, const av_nn__params *p)
{
    int k = av_nn__add_node(g, op, name, in, n_in, out, n_out, p);
    CHECK(k >= 0);
    return k;
}

/* Run the finalized graph g once on backend be with the given threads; frees g. */
/* CenterNet's tail on x ([n, h, w, c] f32): the peak mask (a kh x kw max pool
 * with same padding, equal, cast, mul: y = x where x is its window's max, else
 * 0) reshaped to [n, h*w*c] and its top k (largest, sorted) into out[0]
 * (values) and out[1] (indices of dtype idx). Returns y (a test may mark it an
 * output, which keeps the pattern from fusing). */
static inline av_nn__tid tt_peak_topk(av_nn__graph *g, av_nn__tid x, int64_t n, int64_t hwc,
                                      int kh, int kw, int k, av_nn_dtype idx, av_nn__tid out[2])
{
    av_nn__tid m = tt_act(g, "m", AV_NN_F32, -1, NULL), e = tt_act(g, "e", AV_NN_BOOL, -1, NULL);
    av_nn__tid c = tt_act(g, "c", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__tid r = tt_act(g, "r", AV_NN_F32, -1, NULL);
    out[0] = tt_act(g, "values", AV_NN_F32, -1, NULL);
    out[1] = tt_act(g, "indices", idx, -1, NULL);
    av_nn__params pp = {.pool = {.filter_h = kh, .filter_w = kw, .stride_h = 1, .stride_w = 1,
                                 .dilation_h = 1, .dilation_w = 1, .padding = AV_NN_PAD_SAME}};
    tt_node(g, AV_NN_OP_MAX_POOL2D, "pool", &x, 1, &m, 1, &pp);
    av_nn__params pe = {.binary = {.kind = AV_NN_BIN_EQUAL}};
    tt_node(g, AV_NN_OP_BINARY, "equal", (av_nn__tid[]){x, m}, 2, &e, 1, &pe);
    av_nn__params pk = {.cast = {.to = AV_NN_F32}};
    tt_node(g, AV_NN_OP_CAST, "cast", &e, 1, &c, 1, &pk);
    av_nn__params pm = {.binary = {.kind = AV_NN_BIN_MUL}};
    tt_node(g, AV_NN_OP_BINARY, "mul", (av_nn__tid[]){x, c}, 2, &y, 1, &pm);
    av_nn__params rs = {.reshape = {.rank = 2, .dims = {n, hwc}}};
    tt_node(g, AV_NN_OP_RESHAPE, "reshape", &y, 1, &r, 1, &rs);
    av_nn__params pt = {.topk = {.k = k, .axis = -1, .largest = true, .sorted = true,
                                 .index_dtype = idx}};
    tt_node(g, AV_NN_OP_TOPK, "topk", &r, 1, out, 2, &pt);
    return y;
}

static inline void tt_run_model(av_nn__graph *g, av_nn_backend be, int threads,
                                const void *const *inputs, void *const *outputs)
{
    char err[512] = "";
    av_nn_model *m = NULL;
    CHECK(av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) == AV_NN_OK);
    av_nn_ctx_opts o = {.threads = threads, .backend = be};
    av_nn_ctx *c = NULL;
    av_nn_status st = av_nn_ctx_new(m, &o, &c, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "ctx: %s", err);
    st = av_nn_run(c, inputs, outputs, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "run: %s", err);
    av_nn_ctx_free(c);
    av_nn_model_free(m);
}

/* Finalize g, run it once on the reference (or given) backend; frees g. */
static inline void tt_run_backend(av_nn__graph *g, av_nn_backend be, const void *const *inputs,
                                  void *const *outputs)
{
    char err[512] = "";
    av_nn_status st = av_nn__graph_finalize(g, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "finalize: %s", err);
    tt_run_model(g, be, 1, inputs, outputs);
}

/* Live (not dead) nodes of g with op `op`: what a pass left. */
static inline int tt_count_live(const av_nn__graph *g, av_nn__op op)
{
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        k += !g->nodes[i].dead && g->nodes[i].op == op;
    return k;
}

static inline void tt_run(av_nn__graph *g, const void *const *inputs, void *const *outputs)
{
    tt_run_backend(g, AV_NN_BACKEND_REFERENCE, inputs, outputs);
}

/*
 * Oracle: infer and run every node in insertion order (nodes must be added
 * in a valid order), no folding or rewrites. Copies graph outputs out.
 * Does not free g.
 */
static inline void tt_interpret(av_nn__graph *g, const void *const *inputs, void *const *outputs)
{
    char err[512] = "";
    void **buf = calloc((size_t)g->n_tensors, sizeof *buf);
    CHECK(buf);
    for (int i = 0; i < g->n_inputs; i++)
        buf[g->inputs[i]] = (void *)inputs[i];
    for (int i = 0; i < g->n_nodes; i++) {
        av_nn__node *n = &g->nodes[i];
        CHECK_MSG(av_nn__infer_node(g, n, err, sizeof err) == AV_NN_OK, "infer: %s", err);
        const void *in[AV_NN_MAX_NODE_INPUTS];
        void *out[AV_NN_MAX_NODE_OUTPUTS];
        for (int k = 0; k < n->n_in; k++) {
            av_nn__tid t = n->in[k];
            in[k] = t < 0 ? NULL : g->tensors[t].data ? g->tensors[t].data : buf[t];
        }
        for (int k = 0; k < n->n_out; k++) {
            int64_t nb = av_nn__nbytes(&g->tensors[n->out[k]]);
            buf[n->out[k]] = malloc((size_t)nb + 64);
            CHECK(buf[n->out[k]]);
            out[k] = buf[n->out[k]];
        }
        CHECK_MSG(av_nn__ref_run(g, n, in, out, err, sizeof err) == AV_NN_OK, "run: %s", err);
    }
    for (int i = 0; i < g->n_outputs; i++) {
        av_nn__tid t = g->outputs[i];
        memcpy(outputs[i], buf[t], (size_t)av_nn__nbytes(&g->tensors[t]));
    }
    for (int t = 0; t < g->n_tensors; t++)
        if (!g->tensors[t].is_input)
            free(buf[t]);
    free(buf);
}

/* Deterministic pseudo-random floats in [lo, hi). */
static inline void tt_fill(float *x, int64_t n, uint32_t seed, float lo, float hi)
{
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = lo + (hi - lo) * (float)(s >> 8) / 16777216.0f;
    }
}

static inline void tt_fill_u8(uint8_t *x, int64_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 7;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (uint8_t)(s >> 24);
    }
}

static inline double tt_max_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
        if (!(d <= m))
            m = d;
    }
    return m;
}

/* A graph of one TF StridedSlice (sp, with TF semantics) of the f32 input x
 * (rank, xd) by constant begin/end/strides b, e, s of n values each; its
 * output tensor in *out. */
static inline av_nn__graph *tt_tf_strided_slice(int rank, const int64_t *xd, const int32_t *b,
                                                const int32_t *e, const int32_t *s, int n,
                                                av_nn__slice_params sp, av_nn__tid *out)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t vd[1] = {n};
    av_nn__tid in[4] = {tt_input(g, "x", AV_NN_F32, rank, xd),
                        tt_const(g, "b", AV_NN_I32, 1, vd, b),
                        tt_const(g, "e", AV_NN_I32, 1, vd, e),
                        tt_const(g, "s", AV_NN_I32, 1, vd, s)};
    *out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    sp.tf_semantics = true;
    av_nn__params p = {.slice = sp};
    tt_node(g, AV_NN_OP_SLICE, "ss", in, 4, out, 1, &p);
    av_nn__mark_output(g, *out);
    return g;
}

/* Name of the op of the j-th node in execution order. */
static inline const char *tt_op_label(const av_nn__graph *g, int j)
{
    return av_nn__op_name(g->nodes[g->order[j]].op);
}

#endif
