/*
 * t_nn_ir_planner.c - the arena planner: reshapes alias their input's
 * bytes, and no two live buffers overlap.
 */
#include "nn_test_util.h"

#include <math.h>

/* x -> neg -> a -> reshape -> b -> neg -> c -> reshape -> c2 -> neg -> d (output); c2 is an output too
 * and exp reads a again (e, output), so the alias group lives as long as its last reader. */
static void build_reshape_chain(av_nn__graph *g, av_nn__tid *ta, av_nn__tid *tb, av_nn__tid *tc)
{
    int64_t xd[2] = {2, 6};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 2, xd);
    av_nn__tid a = tt_act(g, "a", AV_NN_F32, -1, NULL), b = tt_act(g, "b", AV_NN_F32, -1, NULL);
    av_nn__tid c = tt_act(g, "c", AV_NN_F32, -1, NULL), d = tt_act(g, "d", AV_NN_F32, -1, NULL);
    av_nn__tid e = tt_act(g, "e", AV_NN_F32, -1, NULL);
    av_nn__params pn = {.unary = {.kind = AV_NN_UN_NEG}}, pe = {.unary = {.kind = AV_NN_UN_EXP}};
    av_nn__params r1 = {.reshape = {.dims = {3, 4}, .rank = 2, .resolved = true}};
    av_nn__params r2 = {.reshape = {.dims = {1, 12}, .rank = 2, .resolved = true}};
    tt_node(g, AV_NN_OP_UNARY, "neg", &x, 1, &a, 1, &pn);
    tt_node(g, AV_NN_OP_RESHAPE, "r1", &a, 1, &b, 1, &r1);
    tt_node(g, AV_NN_OP_UNARY, "neg_b", &b, 1, &c, 1, &pn); /* keeps b, breaks the chain */
    av_nn__tid c2 = tt_act(g, "c2", AV_NN_F32, -1, NULL);
    tt_node(g, AV_NN_OP_RESHAPE, "r2", &c, 1, &c2, 1, &r2);
    tt_node(g, AV_NN_OP_UNARY, "neg_c", &c2, 1, &d, 1, &pn);
    tt_node(g, AV_NN_OP_UNARY, "exp", &a, 1, &e, 1, &pe);
    av_nn__mark_output(g, d);
    av_nn__mark_output(g, c2);
    av_nn__mark_output(g, e);
    *ta = a, *tb = b, *tc = c2;
}

/* Reshapes of activations share their input's arena bytes (no copy), and runs on both
 * backends still give the unaliased results. */
TEST(planner_reshape_aliases)
{
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid a, b, c2;
    build_reshape_chain(g, &a, &b, &c2);
    char err[256];
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    int64_t *off = malloc((size_t)g->n_tensors * sizeof *off);
    CHECK(off);
    size_t arena = 0;
    CHECK(av_nn__plan(g, off, &arena, err, sizeof err) == AV_NN_OK);
    int reshapes = 0;
    for (int j = 0; j < g->n_order; j++) {
        const av_nn__node *n = &g->nodes[g->order[j]];
        if (n->op != AV_NN_OP_RESHAPE)
            continue;
        reshapes++;
        CHECK(off[n->in[0]] >= 0);
        CHECK_EQ_INT(off[n->out[0]], off[n->in[0]]);
    }
    CHECK(reshapes >= 1);
    CHECK_EQ_INT(off[b], off[a]);
    /* a tensor may reuse the group's bytes only once no node reads a or b any more */
    int group_last = -1;
    for (int j = 0; j < g->n_order; j++) {
        const av_nn__node *n = &g->nodes[g->order[j]];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == a || n->in[k] == b)
                group_last = j;
    }
    CHECK(group_last >= 0);
    for (int j = 0; j < g->n_order; j++) {
        const av_nn__node *n = &g->nodes[g->order[j]];
        av_nn__tid t = n->out[0];
        if (t != a && t != b && off[t] >= 0 && off[t] < off[a] + 48 + AV_NN_ARENA_SLACK &&
            off[a] < off[t] + av_nn__nbytes(&g->tensors[t]) + AV_NN_ARENA_SLACK)
            CHECK_MSG(j > group_last, "'%s' written at step %d "
                      "over a's bytes, read until step %d", g->tensors[t].name, j, group_last);
    }
    free(off);
    av_nn__graph_free(g);
    float x[12], d[12], c[12], e[12];
    tt_fill(x, 12, 5, -2, 2);
    for (int be = 0; be < 2; be++) {
        g = av_nn__graph_new();
        build_reshape_chain(g, &a, &b, &c2);
        memset(d, 0, sizeof d), memset(c, 0, sizeof c), memset(e, 0, sizeof e);
        const void *in[1] = {x};
        void *out[3] = {d, c, e};
        tt_run_backend(g, be ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE, in, out);
        for (int i = 0; i < 12; i++) {
            CHECK_MSG(d[i] == -x[i], "be %d i %d d %g c %g x %g", be, i, d[i], c[i], x[i]);
            CHECK(c[i] == x[i]);
            CHECK(fabsf(e[i] - expf(-x[i])) <= 1e-5f * expf(-x[i]));
        }
    }
}

/*
 * Planner: a random DAG; every pair of tensors whose lifetimes overlap must
 * occupy disjoint, 64-byte aligned byte ranges with the slack included.
 */
TEST(planner_no_overlap)
{
    enum { NODES = 40 };
    av_nn__graph *g = av_nn__graph_new();
    int64_t d[1] = {0};
    uint32_t s = 12345;
    av_nn__tid t[NODES + 1];
    d[0] = 17;
    t[0] = tt_input(g, "x", AV_NN_F32, 1, d);
    av_nn__params p = {.unary = {.kind = AV_NN_UN_NEG}};
    for (int i = 1; i <= NODES; i++) {
        s = s * 1664525u + 1013904223u;
        int a = i - 1 - (int)((s >> 8) % (uint32_t)(i < 4 ? i : 4)); /* a recent tensor */
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        t[i] = tt_act(g, name, AV_NN_F32, -1, NULL);
        /* vary sizes through pads so buffers differ */
        av_nn__params pp = {.pad = {.before = {(int64_t)((s >> 20) % 40)}, .resolved = true}};
        if (i % 3 == 0)
            tt_node(g, AV_NN_OP_PAD, name, &t[a], 1, &t[i], 1, &pp);
        else
            tt_node(g, AV_NN_OP_UNARY, name, &t[a], 1, &t[i], 1, &p);
    }
    /* outputs: the last few, so most of the DAG stays live */
    for (int i = NODES - 4; i <= NODES; i++)
        av_nn__mark_output(g, t[i]);
    char err[256];
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    int64_t *off = malloc((size_t)g->n_tensors * sizeof *off);
    size_t arena = 0;
    CHECK(av_nn__plan(g, off, &arena, err, sizeof err) == AV_NN_OK);
    /* independent lifetimes */
    int first[NODES + 1], last[NODES + 1];
    for (int i = 0; i <= NODES; i++)
        first[i] = 1 << 30, last[i] = -2;
    first[0] = -1, last[0] = -1;
    for (int j = 0; j < g->n_order; j++) {
        const av_nn__node *n = &g->nodes[g->order[j]];
        for (int i = 0; i <= NODES; i++) {
            if (n->out[0] == t[i])
                first[i] = j, last[i] = last[i] > j ? last[i] : j;
            if (n->in[0] == t[i])
                last[i] = last[i] > j ? last[i] : j;
        }
    }
    for (int i = NODES - 4; i <= NODES; i++)
        last[i] = g->n_order;
    int planned = 0, checked = 0;
    int64_t total_live_max = 0;
    for (int i = 0; i <= NODES; i++) {
        if (first[i] == 1 << 30)
            continue;
        planned++;
        int64_t oi = off[t[i]], si = av_nn__nbytes(&g->tensors[t[i]]) + AV_NN_ARENA_SLACK;
        CHECK(oi >= 0);
        CHECK_EQ_INT(oi % 64, 0);
        CHECK((size_t)(oi + si) <= arena);
        total_live_max += si;
        for (int k = 0; k < i; k++) {
            if (first[k] == 1 << 30 || first[i] > last[k] || first[k] > last[i])
                continue;
            int64_t ok = off[t[k]], sk = av_nn__nbytes(&g->tensors[t[k]]) + AV_NN_ARENA_SLACK;
            CHECK_MSG(oi + si <= ok || ok + sk <= oi, "t%d [%lld,+%lld) overlaps t%d [%lld,+%lld)",
                      i, (long long)oi, (long long)si, k, (long long)ok, (long long)sk);
            checked++;
        }
    }
    CHECK(planned > 20 && checked > 20);
    CHECK((int64_t)arena < total_live_max); /* buffers really are reused */
    free(off);
    av_nn__graph_free(g);
}

TEST_MAIN(T(planner_no_overlap), T(planner_reshape_aliases))
