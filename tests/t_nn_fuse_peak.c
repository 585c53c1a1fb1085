/*
 * t_nn_fuse_peak.c - the peak-mask fusion (pass_fuse.c, xnn_peak.c):
 * max_pool -> equal -> cast -> mul becomes one MAX_POOL2D with p.pool.peak,
 * only where the three intermediates are private; the fused node gives the
 * unfused graph's answer exactly (interpreter, reference backend and own
 * kernel), on odd sizes, batch 1 and 3, ties (quarter-step data), and with
 * the fusion forced off.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include <stdlib.h>
#include <string.h>

typedef struct peak_case {
    int64_t n, h, w, c;
    int kh, kw;
    bool swap_eq, swap_mul;  /* operand orders of equal and mul */
    int leak;                /* 0 none; 1: pool out, 2: equal out, 3: cast out is a graph output */
    bool x_out;              /* x also a graph output (CenterNet's keypoints) */
} peak_case;

/* x (input) -> sigmoid -> s; peak mask of s -> y (output 0); s as output 1
 * when x_out, the leaked intermediate as the last output. */
static av_nn__graph *build(const peak_case *pc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t d[4] = {pc->n, pc->h, pc->w, pc->c};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, d);
    av_nn__tid s = tt_act(g, "s", AV_NN_F32, -1, NULL), m = tt_act(g, "m", AV_NN_F32, -1, NULL);
    av_nn__tid e = tt_act(g, "e", AV_NN_BOOL, -1, NULL), c = tt_act(g, "c", AV_NN_F32, -1, NULL);
    av_nn__tid y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params ps = {.unary = {.kind = AV_NN_UN_RELU}};
    tt_node(g, AV_NN_OP_UNARY, "relu", &x, 1, &s, 1, &ps);
    av_nn__params pp = {.pool = {.filter_h = pc->kh, .filter_w = pc->kw, .stride_h = 1,
                                 .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                 .padding = AV_NN_PAD_SAME}};
    tt_node(g, AV_NN_OP_MAX_POOL2D, "pool", &s, 1, &m, 1, &pp);
    av_nn__params pe = {.binary = {.kind = AV_NN_BIN_EQUAL}};
    av_nn__tid eq_in[2] = {pc->swap_eq ? m : s, pc->swap_eq ? s : m};
    tt_node(g, AV_NN_OP_BINARY, "equal", eq_in, 2, &e, 1, &pe);
    av_nn__params pk = {.cast = {.to = AV_NN_F32}};
    tt_node(g, AV_NN_OP_CAST, "cast", &e, 1, &c, 1, &pk);
    av_nn__params pm = {.binary = {.kind = AV_NN_BIN_MUL}};
    av_nn__tid mul_in[2] = {pc->swap_mul ? c : s, pc->swap_mul ? s : c};
    tt_node(g, AV_NN_OP_BINARY, "mul", mul_in, 2, &y, 1, &pm);
    CHECK(av_nn__mark_output(g, y) >= 0);
    if (pc->x_out)
        CHECK(av_nn__mark_output(g, s) >= 0);
    if (pc->leak)
        CHECK(av_nn__mark_output(g, pc->leak == 1 ? m : pc->leak == 2 ? e : c) >= 0);
    return g;
}

/* Live nodes of a finalized graph: *peak counts MAX_POOL2D with peak set. */
static int live_nodes(const av_nn__graph *g, int *peak)
{
    int live = 0;
    *peak = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead) {
            live++;
            *peak += g->nodes[i].op == AV_NN_OP_MAX_POOL2D && g->nodes[i].p.pool.peak;
        }
    return live;
}

static int64_t numel(const peak_case *pc)
{
    return pc->n * pc->h * pc->w * pc->c;
}

/* Runs pc on both backends after finalize (fused unless forced off) and
 * compares every output (floats by value) with the unoptimised interpreter. */
static void check_case(const peak_case *pc, bool want_fused)
{
    int64_t ne = numel(pc);
    float *x = malloc((size_t)ne * sizeof *x);
    CHECK(x);
    nf_reseed((uint64_t)ne * 31 + (uint64_t)pc->kh);
    nf_range(-2, 2, true); /* quarter steps: plateaus of equal maxima */
    nf_fill(x, AV_NN_F32, ne);
    int n_out = 1 + pc->x_out + (pc->leak != 0);
    void *want[3], *got[3];
    for (int i = 0; i < n_out; i++) {
        want[i] = calloc((size_t)ne, sizeof(float)); /* bool outputs fit too */
        got[i] = calloc((size_t)ne, sizeof(float));
        CHECK(want[i] && got[i]);
    }
    const void *in[1] = {x};
    av_nn__graph *g = build(pc);
    tt_interpret(g, in, want);
    av_nn__graph_free(g);
    for (int be = 0; be < 2; be++) {
        g = build(pc);
        char err[256] = "";
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        int peak, live = live_nodes(g, &peak);
        CHECK_EQ_INT(peak, want_fused ? 1 : 0);
        CHECK_EQ_INT(live, want_fused ? 2 : 5);
        for (int i = 0; i < n_out; i++)
            memset(got[i], 0xff, (size_t)ne * sizeof(float));
        tt_run_backend(g, be ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE, in, got);
        for (int i = 0; i < n_out; i++) {
            /* equal as floats: relu's zeros carry their sign differently per backend */
            bool same = true;
            if (pc->leak == 2 && i == n_out - 1)
                same = memcmp(got[i], want[i], (size_t)ne) == 0;
            for (int64_t q = 0; q < ne && same && !(pc->leak == 2 && i == n_out - 1); q++)
                same = ((float *)got[i])[q] == ((float *)want[i])[q];
            CHECK_MSG(same, "%s output %d differs: %lldx%lldx%lldx%lld k%dx%d",
                      be ? "xnnpack" : "reference", i, (long long)pc->n, (long long)pc->h,
                      (long long)pc->w, (long long)pc->c, pc->kh, pc->kw);
        }
    }
    for (int i = 0; i < n_out; i++)
        free(want[i]), free(got[i]);
    free(x);
}

TEST(fused_equals_unfused_random_shapes)
{
    bool fused = av_nn__peak_fusion_pays(); /* no AVX2: the four nodes stay */
    nf_reseed(7);
    for (int it = 0; it < 24; it++) {
        peak_case pc = {.n = it % 3 == 2 ? 3 : 1,
                        .h = 1 + nf_rnd() % 19,
                        .w = 1 + nf_rnd() % 23,
                        .c = it == 0 ? 80 : 1 + nf_rnd() % 27,
                        .kh = it % 4 == 3 ? 5 : 3,
                        .kw = it % 5 == 4 ? 1 : 3,
                        .swap_eq = it & 1,
                        .swap_mul = (it >> 1) & 1,
                        .x_out = it % 3 == 0};
        check_case(&pc, fused);
    }
}

TEST(forced_off_keeps_four_nodes)
{
    av_nn__peak_force_off(true);
    peak_case pc = {.n = 3, .h = 7, .w = 9, .c = 13, .kh = 3, .kw = 3, .x_out = true};
    check_case(&pc, false);
    av_nn__peak_force_off(false);
}

TEST(not_fused_where_an_intermediate_has_another_reader)
{
    for (int leak = 1; leak <= 3; leak++) {
        peak_case pc = {.n = 1, .h = 6, .w = 5, .c = 9, .kh = 3, .kw = 3, .leak = leak};
        check_case(&pc, false);
    }
}

TEST(not_fused_when_mul_reads_another_tensor)
{
    /* mul(c, other) instead of mul(c, x): a different op, left alone */
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t d[4] = {1, 4, 4, 8};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, d), o = tt_input(g, "o", AV_NN_F32, 4, d);
    av_nn__tid m = tt_act(g, "m", AV_NN_F32, -1, NULL), e = tt_act(g, "e", AV_NN_BOOL, -1, NULL);
    av_nn__tid c = tt_act(g, "c", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pp = {.pool = {.filter_h = 3, .filter_w = 3, .stride_h = 1, .stride_w = 1,
                                 .dilation_h = 1, .dilation_w = 1, .padding = AV_NN_PAD_SAME}};
    av_nn__params pe = {.binary = {.kind = AV_NN_BIN_EQUAL}}, pk = {.cast = {.to = AV_NN_F32}};
    av_nn__params pm = {.binary = {.kind = AV_NN_BIN_MUL}};
    tt_node(g, AV_NN_OP_MAX_POOL2D, "pool", &x, 1, &m, 1, &pp);
    tt_node(g, AV_NN_OP_BINARY, "equal", (av_nn__tid[]){x, m}, 2, &e, 1, &pe);
    tt_node(g, AV_NN_OP_CAST, "cast", &e, 1, &c, 1, &pk);
    tt_node(g, AV_NN_OP_BINARY, "mul", (av_nn__tid[]){o, c}, 2, &y, 1, &pm);
    CHECK(av_nn__mark_output(g, y) >= 0);
    char err[256] = "";
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    int peak;
    CHECK_EQ_INT(live_nodes(g, &peak), 4);
    CHECK_EQ_INT(peak, 0);
    av_nn__graph_free(g);
}

/* The fused node alone, own kernel against the reference kernel (the
 * fixture's random data, moved buffers), including a channel tail and
 * an input ending at an unreadable page; AVX2 and portable loops. */
TEST(own_kernel_against_reference)
{
    static const int64_t shapes[][4] = {{1, 1, 1, 1}, {1, 5, 3, 8}, {3, 7, 11, 17},
                                        {1, 16, 16, 80}, {2, 9, 4, 3}};
    for (int portable = 0; portable < 2; portable++) /* forced off: the portable loop */
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int k = 1; k <= 5; k += 2) {
            av_nn__peak_force_off(portable);
            av_nn__graph *g = nf_new_graph(i * 10 + (size_t)k);
            av_nn__tid x = nf_act_in(g, AV_NN_F32, shapes[i], 4, 0, 0);
            av_nn__pool_params pp = nf_pp(k, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE);
            pp.peak = true;
            nf_check_node(g, nf_add(g, AV_NN_OP_MAX_POOL2D, &x, 1, nf_out_t(g, 0, 0),
                                    &(av_nn__params){.pool = pp}));
            av_nn__peak_force_off(false);
        }
    /* strided or shape-changing windows are not a peak mask: refused */
    av_nn__graph *g = nf_new_graph(99);
    av_nn__tid x = nf_act_in(g, AV_NN_F32, D(1, 8, 8, 4), 4, 0, 0);
    av_nn__pool_params pp = nf_pp(3, 2, AV_NN_PAD_SAME, AV_NN_ACT_NONE);
    pp.peak = true;
    nf_check_refused(g, nf_add(g, AV_NN_OP_MAX_POOL2D, &x, 1, nf_out_t(g, 0, 0),
                               &(av_nn__params){.pool = pp}));
}

TEST(own_kernel_reads_stay_in_the_input)
{
    nf_guarded gx;
    int64_t d[4] = {1, 5, 7, 19};
    size_t ne = 5 * 7 * 19;
    float *x = nf_guarded_floats(&gx, ne);
    CHECK(x);
    nf_fill(x, AV_NN_F32, (int64_t)ne);
    av_nn__graph *g = nf_new_graph(5);
    av_nn__tid xt = nf_act_in(g, AV_NN_F32, d, 4, 0, 0);
    av_nn__pool_params pp = nf_pp(3, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE);
    pp.peak = true;
    int k = nf_add(g, AV_NN_OP_MAX_POOL2D, &xt, 1, nf_out_t(g, 0, 0), &(av_nn__params){.pool = pp});
    const av_nn__node *n = &g->nodes[k];
    float *want = nf_buf(&g->tensors[n->out[0]]), *got = nf_buf(&g->tensors[n->out[0]]);
    const void *in[1] = {x};
    char err[256] = "";
    CHECK(av_nn__ref_run(g, n, in, (void *[]){want}, err, sizeof err) == AV_NN_OK);
    void *state = NULL;
    CHECK_MSG(av_nn__backend_xnn.prepare(g, n, nf_pool(), &state, err, sizeof err) == AV_NN_OK,
              "%s", err);
    CHECK(av_nn__backend_xnn.run(state, g, n, in, (void *[]){got}, nf_pool(), err, sizeof err) ==
          AV_NN_OK);
    CHECK(memcmp(got, want, ne * sizeof(float)) == 0);
    av_nn__backend_xnn.release(state);
    free(want), free(got);
    nf_guarded_free(&gx);
    av_nn__graph_free(g);
}

TEST_MAIN(T(fused_equals_unfused_random_shapes), T(forced_off_keeps_four_nodes),
          T(not_fused_where_an_intermediate_has_another_reader),
          T(not_fused_when_mul_reads_another_tensor), T(own_kernel_against_reference),
          T(own_kernel_reads_stay_in_the_input))
