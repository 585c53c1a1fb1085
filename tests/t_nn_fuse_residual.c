/*
 * t_nn_fuse_residual.c - the residual-add fusion (pass_fuse.c, xnn_gemm.c):
 * add(conv(x), r) becomes the conv with r as its fourth input, only where
 * the conv's output has no other reader, the conv has no act of its own,
 * nothing broadcasts and r is computed before the conv; the fused conv
 * (our GEMM on the xnn backend, the reference kernel on the other) gives the
 * unfused graph's answer on random shapes, odd sizes, batch 1 and 3, with
 * an act fused after the add, and with the fusion forced off.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct res_case {
    int64_t n, h, w, c, o;
    int k;            /* filter size (stride 1, SAME) */
    bool bias, swap;  /* add(r, conv) when swap */
    bool self;        /* r is x itself (c == o) */
    bool relu6;       /* a relu6 after the add (fused into the conv after the residual) */
    bool conv_out;    /* the conv's output is a graph output too: no fusion */
    bool conv_act;    /* the conv has a relu of its own: no fusion */
    bool bcast;       /* r is [1,1,1,o]: broadcasting, no fusion */
} res_case;

/* x, r inputs; conv(x) (+) r -> y [-> relu6 -> y2] */
static av_nn__graph *build(const res_case *rc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {rc->n, rc->h, rc->w, rc->c}, wd[4] = {rc->o, rc->k, rc->k, rc->c};
    int64_t rd[4] = {rc->bcast ? 1 : rc->n, rc->bcast ? 1 : rc->h, rc->bcast ? 1 : rc->w, rc->o};
    int64_t bd[1] = {rc->o}, nw = rc->o * rc->k * rc->k * rc->c;
    float *wf = malloc((size_t)nw * sizeof *wf), *bf = malloc((size_t)rc->o * sizeof *bf);
    CHECK(wf && bf);
    tt_fill(wf, nw, 11, -0.5f, 0.5f);
    tt_fill(bf, rc->o, 12, -1, 1);
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid r = rc->self ? x : tt_input(g, "r", AV_NN_F32, 4, rd);
    av_nn__tid cv = tt_act(g, "conv", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pc = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                 .padding = AV_NN_PAD_SAME, .groups = 1}};
    if (rc->conv_act)
        pc.conv.act.kind = AV_NN_ACT_RELU;
    av_nn__tid cin[3] = {x, tt_const(g, "w", AV_NN_F32, 4, wd, wf),
                         rc->bias ? tt_const(g, "b", AV_NN_F32, 1, bd, bf) : -1};
    tt_node(g, AV_NN_OP_CONV2D, "conv", cin, rc->bias ? 3 : 2, &cv, 1, &pc);
    av_nn__params pa = {.binary = {.kind = AV_NN_BIN_ADD}};
    tt_node(g, AV_NN_OP_BINARY, "add", (av_nn__tid[]){rc->swap ? r : cv, rc->swap ? cv : r}, 2, &y,
            1, &pa);
    av_nn__tid out = y;
    if (rc->relu6) {
        out = tt_act(g, "y2", AV_NN_F32, -1, NULL);
        av_nn__params pk = {.clamp = {.min = 0, .max = 6}};
        tt_node(g, AV_NN_OP_CLAMP, "relu6", &y, 1, &out, 1, &pk);
    }
    CHECK(av_nn__mark_output(g, out) >= 0);
    if (rc->conv_out)
        CHECK(av_nn__mark_output(g, cv) >= 0);
    free(wf), free(bf);
    return g;
}

static void compare(const float *got, const float *want, int64_t n, const char *what,
                    const res_case *rc)
{
    for (int64_t i = 0; i < n; i++) {
        double tol = 1e-4 * (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
        CHECK_MSG(fabs((double)got[i] - want[i]) <= tol,
                  "%s [%lld] got %g want %g (%lldx%lldx%lldx%lld -> %lld k%d)", what,
                  (long long)i, got[i], want[i], (long long)rc->n, (long long)rc->h,
                  (long long)rc->w, (long long)rc->c, (long long)rc->o, rc->k);
    }
}

/* Both backends after finalize against the interpreter; want_fused: the
 * conv took the add (and the xnn backend ran it on our GEMM). */
static void check_case(const res_case *rc, bool want_fused)
{
    int64_t nx = rc->n * rc->h * rc->w * rc->c, ny = rc->n * rc->h * rc->w * rc->o;
    int64_t nr = rc->bcast ? rc->o : ny;
    float *x = malloc((size_t)nx * sizeof *x), *r = malloc((size_t)nr * sizeof *r);
    float *want[2], *got[2];
    CHECK(x && r);
    for (int i = 0; i < 2; i++) {
        want[i] = calloc((size_t)ny, sizeof(float)), got[i] = calloc((size_t)ny, sizeof(float));
        CHECK(want[i] && got[i]);
    }
    tt_fill(x, nx, (uint32_t)(nx + rc->o), -2, 2);
    tt_fill(r, nr, (uint32_t)(nr + 7), -3, 3);
    const void *in[2] = {x, r};
    av_nn__graph *g = build(rc);
    tt_interpret(g, in, (void **)want);
    av_nn__graph_free(g);
    for (int be = 0; be < 2; be++) {
        g = build(rc);
        char err[256] = "";
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        CHECK_MSG(tt_count_live(g, AV_NN_OP_BINARY) == (want_fused ? 0 : 1), "add left: %lldx%lldx%lldx%lld -> %lld k%d self %d swap %d", (long long)rc->n, (long long)rc->h, (long long)rc->w, (long long)rc->c, (long long)rc->o, rc->k, rc->self, rc->swap);
        CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_CLAMP), 0); /* relu6 fused: conv or add */
        for (int i = 0; i < g->n_nodes; i++) {
            const av_nn__node *n = &g->nodes[i];
            if (n->dead || n->op != AV_NN_OP_CONV2D)
                continue;
            CHECK_EQ_INT(av_nn__conv_residual(g, n) >= 0, want_fused);
            if (want_fused && be) /* our GEMM runs it, never XNNPACK's or Winograd */
                CHECK(av_nn__xnn_gemm_supports(g, n) && !av_nn__xnn_wino_supports(g, n));
        }
        tt_run_backend(g, be ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE, in, (void **)got);
        compare(got[0], want[0], ny, be ? "xnnpack" : "reference", rc);
        if (rc->conv_out)
            compare(got[1], want[1], ny, be ? "xnnpack conv" : "reference conv", rc);
    }
    for (int i = 0; i < 2; i++)
        free(want[i]), free(got[i]);
    free(x), free(r);
}

TEST(fused_equals_unfused_random_shapes)
{
    bool fused = av_nn__residual_fusion_pays(); /* no AVX2: the add stays */
    nf_reseed(3);
    for (int it = 0; it < 30; it++) {
        res_case rc = {.n = it % 3 == 1 ? 3 : 1,
                       .h = 1 + nf_rnd() % 13,
                       .w = 1 + nf_rnd() % 17,
                       .c = 1 + nf_rnd() % 40,
                       .o = 1 + nf_rnd() % 40,
                       .k = it % 5 == 4 ? 3 : 1,
                       .bias = it % 4 != 3,
                       .swap = it & 1,
                       .relu6 = it % 3 == 2};
        if (it % 6 == 5)
            rc.o = rc.c, rc.self = true; /* conv(x) + x */
        if (it == 0)
            rc.h = 16, rc.w = 16, rc.c = 64, rc.o = 24; /* whole 16-wide tiles, 8-wide tail */
        check_case(&rc, fused);
    }
}

TEST(forced_off_keeps_the_add)
{
    av_nn__residual_force_off(true);
    res_case rc = {.n = 3, .h = 5, .w = 7, .c = 9, .o = 20, .k = 1, .bias = true};
    check_case(&rc, false);
    av_nn__residual_force_off(false);
}

TEST(not_fused_where_it_would_not_be_exact)
{
    res_case base = {.n = 1, .h = 6, .w = 5, .c = 8, .o = 12, .k = 1, .bias = true};
    res_case rc = base;
    rc.conv_out = true; /* the conv's output has a second reader */
    check_case(&rc, false);
    rc = base;
    rc.conv_act = true; /* relu(conv) + r is not conv + r */
    check_case(&rc, false);
    rc = base;
    rc.bcast = true; /* r broadcast over pixels */
    check_case(&rc, false);
}

/* r produced after the conv in execution order: conv(x) + relu(z) where the
 * relu node comes later in the graph; the sweep leaves it (g->order). */
TEST(not_fused_when_r_comes_later)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {1, 4, 4, 8}, wd[4] = {8, 1, 1, 8};
    float wf[64];
    tt_fill(wf, 64, 1, -1, 1);
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid cv = tt_act(g, "conv", AV_NN_F32, -1, NULL), z = tt_act(g, "z", AV_NN_F32, -1, NULL);
    av_nn__tid y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pc = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                 .padding = AV_NN_PAD_SAME, .groups = 1}};
    av_nn__params pa = {.binary = {.kind = AV_NN_BIN_ADD}};
    av_nn__params pt = {.unary = {.kind = AV_NN_UN_TANH}};
    tt_node(g, AV_NN_OP_CONV2D, "conv", (av_nn__tid[]){x, tt_const(g, "w", AV_NN_F32, 4, wd, wf)},
            2, &cv, 1, &pc);
    tt_node(g, AV_NN_OP_UNARY, "tanh", &x, 1, &z, 1, &pt);
    tt_node(g, AV_NN_OP_BINARY, "add", (av_nn__tid[]){cv, z}, 2, &y, 1, &pa);
    CHECK(av_nn__mark_output(g, y) >= 0);
    char err[256] = "";
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_BINARY), 1);
    av_nn__graph_free(g);
}

TEST_MAIN(T(fused_equals_unfused_random_shapes), T(forced_off_keeps_the_add),
          T(not_fused_where_it_would_not_be_exact), T(not_fused_when_r_comes_later))
