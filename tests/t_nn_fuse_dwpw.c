/*
 * t_nn_fuse_dwpw.c - the depthwise -> 1x1 conv fusion (pass_fuse.c,
 * xnn_dwpw.c): conv1x1(dw(x)) becomes the conv reading x with the
 * depthwise's filter, bias, pads and act, only where the depthwise has
 * stride 1, multiplier 1, an output the size of its input read by the conv
 * alone. The fused conv (our depthwise and GEMM in row bands on the xnn
 * backend, on 1 and 3 threads; the reference kernel on the other) gives the
 * unfused graph's answer on random shapes with odd sizes: 1x1 to 5x5
 * depthwise kernels, acts on both, with and without biases, batch 1 and 3,
 * a residual add after the conv (fused too), the narrow (<= 4 outputs)
 * pointwise; and the fusion forced off.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct dp_case {
    int64_t n, h, w, c, o;
    int k;                 /* depthwise kernel (SAME, stride s) */
    int s;                 /* depthwise stride: 2 is not fused */
    bool dw_bias, pw_bias;
    av_nn__act dw_act, pw_act;
    bool res;              /* add(conv, r) after the conv */
    bool dw_out;           /* the depthwise's output is a graph output too: no fusion */
} dp_case;

/* x [, r] inputs; dw(x) -> d; conv1x1(d) -> y [; add(y, r) -> z] */
static av_nn__graph *build(const dp_case *dc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {dc->n, dc->h, dc->w, dc->c}, wd[4] = {1, dc->k, dc->k, dc->c};
    int64_t pd[4] = {dc->o, 1, 1, dc->c}, cd[1] = {dc->c}, od[1] = {dc->o};
    int64_t nw = dc->k * dc->k * dc->c, np = dc->o * dc->c;
    float *w = malloc((size_t)(nw + np + dc->c + dc->o) * sizeof *w);
    CHECK(w);
    float *pw = w + nw, *db = pw + np, *pb = db + dc->c;
    tt_fill(w, nw, 21, -0.6f, 0.6f);
    tt_fill(pw, np, 22, -0.5f, 0.5f);
    tt_fill(db, dc->c, 23, -1, 1);
    tt_fill(pb, dc->o, 24, -1, 1);
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid d = tt_act(g, "d", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params p = {.conv = {.stride_h = dc->s, .stride_w = dc->s, .dilation_h = 1,
                                .dilation_w = 1, .padding = AV_NN_PAD_SAME,
                                .depth_multiplier = 1, .act = {.kind = dc->dw_act}}};
    av_nn__tid din[3] = {x, tt_const(g, "dw_w", AV_NN_F32, 4, wd, w),
                         dc->dw_bias ? tt_const(g, "dw_b", AV_NN_F32, 1, cd, db) : -1};
    tt_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw", din, dc->dw_bias ? 3 : 2, &d, 1, &p);
    av_nn__params q = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                .padding = AV_NN_PAD_VALID, .groups = 1,
                                .act = {.kind = dc->pw_act}}};
    av_nn__tid pin[3] = {d, tt_const(g, "pw_w", AV_NN_F32, 4, pd, pw),
                         dc->pw_bias ? tt_const(g, "pw_b", AV_NN_F32, 1, od, pb) : -1};
    tt_node(g, AV_NN_OP_CONV2D, "pw", pin, dc->pw_bias ? 3 : 2, &y, 1, &q);
    av_nn__tid out = y;
    if (dc->res) {
        int64_t rd[4] = {dc->n, dc->h, dc->w, dc->o};
        av_nn__tid r = tt_input(g, "r", AV_NN_F32, 4, rd);
        out = tt_act(g, "z", AV_NN_F32, -1, NULL);
        av_nn__params pa = {.binary = {.kind = AV_NN_BIN_ADD}};
        tt_node(g, AV_NN_OP_BINARY, "add", (av_nn__tid[]){y, r}, 2, &out, 1, &pa);
    }
    CHECK(av_nn__mark_output(g, out) >= 0);
    if (dc->dw_out)
        CHECK(av_nn__mark_output(g, d) >= 0);
    free(w);
    return g;
}

static void check_case(const dp_case *dc, bool want_fused)
{
    int64_t nx = dc->n * dc->h * dc->w * dc->c;
    int64_t oh = (dc->h + dc->s - 1) / dc->s, ow = (dc->w + dc->s - 1) / dc->s;
    int64_t ny = dc->n * oh * ow * dc->o, nd = dc->n * oh * ow * dc->c;
    float *x = malloc((size_t)nx * sizeof *x), *r = malloc((size_t)ny * sizeof *r);
    float *want[2] = {calloc((size_t)ny, 4), calloc((size_t)nd, 4)};
    float *got[2] = {calloc((size_t)ny, 4), calloc((size_t)nd, 4)};
    CHECK(x && r && want[0] && want[1] && got[0] && got[1]);
    tt_fill(x, nx, (uint32_t)(nx + dc->o), -2, 2);
    tt_fill(r, ny, (uint32_t)(ny + 5), -3, 3);
    const void *in[2] = {x, r};
    av_nn__graph *g = build(dc);
    tt_interpret(g, in, (void **)want);
    av_nn__graph_free(g);
    for (int run = 0; run < 3; run++) { /* reference; xnnpack 1 thread; xnnpack 3 threads */
        g = build(dc);
        char err[256] = "";
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        CHECK_MSG(tt_count_live(g, AV_NN_OP_DEPTHWISE_CONV2D) == !want_fused,
                  "depthwise left: %lldx%lldx%lldx%lld k%d s%d -> %lld",
                  (long long)dc->n, (long long)dc->h, (long long)dc->w, (long long)dc->c, dc->k,
                  dc->s, (long long)dc->o);
        /* the residual add fuses into the conv either way (where our GEMM runs) */
        CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_BINARY), dc->res && !av_nn__residual_fusion_pays());
        for (int i = 0; i < g->n_nodes; i++) {
            const av_nn__node *n = &g->nodes[i];
            if (n->dead || n->op != AV_NN_OP_CONV2D)
                continue;
            CHECK_EQ_INT(n->p.conv.dw_on, want_fused);
            if (want_fused && run) /* our bands run it, never XNNPACK's convolution */
                CHECK(av_nn__xnn_dwpw_supports(g, n) && av_nn__xnn_gemm_supports(g, n));
        }
        tt_run_model(g, run ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE,
                    run == 2 ? 3 : 1, in, (void **)got);
        for (int o = 0; o < (dc->dw_out ? 2 : 1); o++)
            for (int64_t i = 0, ne = o ? nd : ny; i < ne; i++) {
                double tol = 1e-4 * (fabs(want[o][i]) > 1 ? fabs(want[o][i]) : 1);
                CHECK_MSG(fabs((double)got[o][i] - want[o][i]) <= tol,
                          "run %d out %d [%lld] got %g want %g (%lldx%lldx%lldx%lld k%d -> %lld)",
                          run, o, (long long)i, got[o][i], want[o][i], (long long)dc->n,
                          (long long)dc->h, (long long)dc->w, (long long)dc->c, dc->k,
                          (long long)dc->o);
            }
    }
    for (int i = 0; i < 2; i++)
        free(want[i]), free(got[i]);
    free(x), free(r);
}

TEST(fused_equals_unfused_random_shapes)
{
    int64_t was = av_nn__dwpw_min_floats(0); /* small shapes fuse too */
    bool fused = av_nn__dwpw_fusion_pays(); /* no AVX2+FMA: the depthwise stays */
    static const av_nn__act dw_acts[4] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU6, AV_NN_ACT_HARDSWISH,
                                          AV_NN_ACT_RELU};
    static const av_nn__act pw_acts[3] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU, AV_NN_ACT_SIGMOID};
    nf_reseed(9);
    for (int it = 0; it < 30; it++) {
        dp_case dc = {.n = it % 4 == 1 ? 3 : 1,
                      .h = 1 + nf_rnd() % 19,
                      .w = 1 + nf_rnd() % 23,
                      .c = 1 + nf_rnd() % 40,
                      .o = it % 5 == 3 ? 1 + nf_rnd() % 4 : 1 + nf_rnd() % 40,
                      .k = 1 + 2 * (int)(nf_rnd() % 3),
                      .s = 1,
                      .dw_bias = it % 3 != 2,
                      .pw_bias = it % 4 != 3,
                      .dw_act = dw_acts[it % 4],
                      .pw_act = pw_acts[it % 3],
                      .res = it % 3 == 1};
        if (dc.res)
            dc.pw_act = AV_NN_ACT_NONE; /* the residual needs a conv without an act */
        check_case(&dc, fused);
    }
    /* CenterNet's heads: 128 channels, 3x3, to 80 and to 4 (narrow) */
    check_case(&(dp_case){.n = 1, .h = 21, .w = 19, .c = 128, .o = 80, .k = 3, .s = 1,
                          .dw_bias = true, .pw_bias = true, .pw_act = AV_NN_ACT_SIGMOID},
               fused);
    check_case(&(dp_case){.n = 1, .h = 17, .w = 13, .c = 128, .o = 4, .k = 3, .s = 1,
                          .pw_bias = true},
               fused);
    av_nn__dwpw_min_floats(was);
}

/* Below the size where the bands pay, the two nodes stay; at it, they fuse. */
TEST(only_big_depthwise_outputs_fuse)
{
    int64_t min = av_nn__dwpw_min_floats(-1);
    CHECK(min > 32 * 32 * 8);
    dp_case dc = {.n = 1, .h = 32, .w = 32, .c = 8, .o = 5, .k = 3, .s = 1, .dw_bias = true};
    check_case(&dc, false);
    av_nn__dwpw_min_floats(32 * 32 * 8);
    check_case(&dc, av_nn__dwpw_fusion_pays());
    av_nn__dwpw_min_floats(min);
}

TEST(forced_off_keeps_the_depthwise)
{
    int64_t was = av_nn__dwpw_min_floats(0);
    av_nn__dwpw_force_off(true);
    check_case(&(dp_case){.n = 3, .h = 7, .w = 9, .c = 11, .o = 13, .k = 3, .s = 1,
                          .dw_bias = true, .pw_bias = true},
               false);
    av_nn__dwpw_force_off(false);
    av_nn__dwpw_min_floats(was);
}

TEST(not_fused_where_it_would_not_be_exact)
{
    int64_t was = av_nn__dwpw_min_floats(0); /* size aside */
    dp_case base = {.n = 1, .h = 9, .w = 7, .c = 10, .o = 12, .k = 3, .s = 1, .dw_bias = true,
                    .pw_bias = true};
    dp_case dc = base;
    dc.dw_out = true; /* the depthwise's output has a second reader */
    check_case(&dc, false);
    dc = base;
    dc.s = 2; /* strided: the conv's shapes would no longer follow x */
    check_case(&dc, false);
    av_nn__dwpw_min_floats(was);
}

TEST_MAIN(T(fused_equals_unfused_random_shapes), T(only_big_depthwise_outputs_fuse),
          T(forced_off_keeps_the_depthwise),
          T(not_fused_where_it_would_not_be_exact))
