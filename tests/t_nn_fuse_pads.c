/*
 * t_nn_fuse_pads.c - the depthwise fusions (pass_fuse.c) with
 * explicit, uneven paddings a model file may give. Pointwise -> strided
 * depthwise (xnn_pwdw.c): bottom and right pads as large as the kernel or
 * larger (output rows and columns whose window holds no input row,
 * xnn_dw.c's window lo > hi), a top pad of kernel - 1. Depthwise ->
 * pointwise (xnn_dwpw.c): all of the kernel - 1 pad on one side. The fused
 * node on the xnn backend (1 and 3 threads) must give the unfused
 * reference's answer.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pp_case {
    int64_t h, w, c, o;
    int k, s, pt, pb, pl, pr;
    bool dwpw; /* x -> depthwise (stride 1) -> 1x1, not x -> 1x1 -> depthwise */
} pp_case;

static int64_t out_size(int64_t n, int k, int s, int a, int b)
{
    return (n + a + b - k) / s + 1;
}

static av_nn__graph *build(const pp_case *pc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t dc = pc->dwpw ? pc->c : pc->o; /* the depthwise's channels */
    int64_t xd[4] = {1, pc->h, pc->w, pc->c}, pd[4] = {pc->o, 1, 1, pc->c};
    int64_t wd[4] = {1, pc->k, pc->k, dc}, od[1] = {pc->o}, cd[1] = {dc};
    int64_t np = pc->o * pc->c, nw = pc->k * pc->k * dc;
    float *w = malloc((size_t)(np + nw + pc->o + dc) * sizeof *w);
    CHECK(w);
    float *dwf = w + np, *pb = dwf + nw, *db = pb + pc->o;
    tt_fill(w, np, 41, -0.5f, 0.5f);
    tt_fill(dwf, nw, 42, -0.6f, 0.6f);
    tt_fill(pb, pc->o, 43, -1, 1);
    tt_fill(db, dc, 44, -1, 1);
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid m = tt_act(g, "m", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params q = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                .padding = AV_NN_PAD_VALID, .groups = 1,
                                .act = {.kind = AV_NN_ACT_RELU}}};
    av_nn__tid pin[3] = {pc->dwpw ? m : x, tt_const(g, "pw_w", AV_NN_F32, 4, pd, w),
                         tt_const(g, "pw_b", AV_NN_F32, 1, od, pb)};
    av_nn__params p = {.conv = {.stride_h = pc->s, .stride_w = pc->s, .dilation_h = 1,
                                .dilation_w = 1, .padding = AV_NN_PAD_EXPLICIT,
                                .pad_top = pc->pt, .pad_bottom = pc->pb, .pad_left = pc->pl,
                                .pad_right = pc->pr, .depth_multiplier = 1,
                                .act = {.kind = AV_NN_ACT_NONE}}};
    av_nn__tid din[3] = {pc->dwpw ? x : m, tt_const(g, "dw_w", AV_NN_F32, 4, wd, dwf),
                         tt_const(g, "dw_b", AV_NN_F32, 1, cd, db)};
    if (pc->dwpw) {
        tt_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw", din, 3, &m, 1, &p);
        tt_node(g, AV_NN_OP_CONV2D, "pw", pin, 3, &y, 1, &q);
    } else {
        tt_node(g, AV_NN_OP_CONV2D, "pw", pin, 3, &m, 1, &q);
        tt_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw", din, 3, &y, 1, &p);
    }
    CHECK(av_nn__mark_output(g, y) >= 0);
    free(w);
    return g;
}

static void check_case(const pp_case *pc)
{
    int64_t oh = out_size(pc->h, pc->k, pc->s, pc->pt, pc->pb);
    int64_t ow = out_size(pc->w, pc->k, pc->s, pc->pl, pc->pr);
    int64_t nx = pc->h * pc->w * pc->c, ny = oh * ow * pc->o;
    float *x = malloc((size_t)nx * sizeof *x), *want = calloc((size_t)ny, 4);
    float *got = calloc((size_t)ny, 4);
    CHECK(x && want && got);
    tt_fill(x, nx, (uint32_t)(nx + pc->o), -2, 2);
    const void *in[1] = {x};
    av_nn__graph *g = build(pc);
    tt_interpret(g, in, (void **)&want);
    av_nn__graph_free(g);
    for (int run = 1; run < 3; run++) { /* xnnpack 1 thread; 3 threads */
        g = build(pc);
        char err[256] = "";
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        if (pc->dwpw)
            CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_DEPTHWISE_CONV2D), !av_nn__dwpw_fusion_pays());
        else
            CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_CONV2D), !av_nn__pwdw_fusion_pays());
        memset(got, 0xff, (size_t)ny * 4); /* NaN: a row never written shows */
        tt_run_model(g, AV_NN_BACKEND_XNNPACK /* takes g */, run == 2 ? 3 : 1, in, (void **)&got);
        for (int64_t i = 0; i < ny; i++) {
            double tol = 1e-4 * (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
            CHECK_MSG(fabs((double)got[i] - want[i]) <= tol,
                      "run %d [%lld of %lldx%lld] got %g want %g (%lldx%lld k%d s%d pads %d %d %d %d)",
                      run, (long long)i, (long long)oh, (long long)ow, got[i], want[i],
                      (long long)pc->h, (long long)pc->w, pc->k, pc->s, pc->pt, pc->pb, pc->pl,
                      pc->pr);
        }
    }
    free(x), free(want), free(got);
}

TEST(pwdw_uneven_explicit_pads)
{
    int64_t was = av_nn__dwpw_min_floats(0); /* every size, kernel and stride */
    static const pp_case cases[] = {
        {9, 8, 5, 7, 3, 2, 0, 3, 0, 3},   /* bottom / right pad = k */
        {10, 7, 3, 9, 3, 2, 2, 6, 1, 5},  /* top k - 1, bottom 2k */
        {8, 9, 4, 6, 5, 3, 4, 7, 0, 9},   /* 5x5 stride 3 */
        {6, 6, 2, 3, 1, 2, 0, 4, 0, 4},   /* 1x1: rows of padding only */
        {12, 5, 6, 8, 3, 2, 1, 0, 2, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
    av_nn__dwpw_min_floats(was);
}

TEST(dwpw_one_sided_explicit_pads)
{
    int64_t was = av_nn__dwpw_min_floats(0);
    static const pp_case cases[] = {
        {9, 8, 5, 7, 3, 1, 2, 0, 0, 2, true},  /* all the pad above and right */
        {7, 10, 6, 4, 3, 1, 0, 2, 2, 0, true}, /* below and left */
        {11, 6, 3, 5, 5, 1, 4, 0, 1, 3, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
    av_nn__dwpw_min_floats(was);
}

TEST_MAIN(T(pwdw_uneven_explicit_pads), T(dwpw_one_sided_explicit_pads))
