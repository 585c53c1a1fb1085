/*
 * t_nn_fuse_pwdw.c - the pointwise -> strided depthwise fusion
 * (pass_fuse.c, xnn_pwdw.c): dw(conv1x1(x)) with the depthwise's stride
 * >= 2 becomes the depthwise reading x with the conv's filter, bias and
 * act, only in batch 1 graphs where the conv's output is read by the
 * depthwise alone. The fused node (our GEMM into row windows and our
 * depthwise on the xnn backend, on 1 and 3 threads; the reference kernel on
 * the other) gives the unfused graph's answer on random shapes with odd
 * sizes, 1x1 to 5x5 kernels, strides 2 and 3, acts on both, with and without
 * biases; and the fusion forced off, or not taken (stride 1, a second
 * reader, batch 3).
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pd_case {
    int64_t n, h, w, c, o; /* x [n,h,w,c]; the conv makes o channels */
    int k, s;              /* depthwise kernel and stride (SAME) */
    bool pw_bias, dw_bias;
    av_nn__act pw_act, dw_act;
    bool pw_out;           /* the conv's output is a graph output too: no fusion */
} pd_case;

/* x; conv1x1(x) -> m; dw(m) -> y */
static av_nn__graph *build(const pd_case *pc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {pc->n, pc->h, pc->w, pc->c}, pd[4] = {pc->o, 1, 1, pc->c};
    int64_t wd[4] = {1, pc->k, pc->k, pc->o}, od[1] = {pc->o};
    int64_t np = pc->o * pc->c, nw = pc->k * pc->k * pc->o;
    float *w = malloc((size_t)(np + nw + 2 * pc->o) * sizeof *w);
    CHECK(w);
    float *dwf = w + np, *pb = dwf + nw, *db = pb + pc->o;
    tt_fill(w, np, 31, -0.5f, 0.5f);
    tt_fill(dwf, nw, 32, -0.6f, 0.6f);
    tt_fill(pb, pc->o, 33, -1, 1);
    tt_fill(db, pc->o, 34, -1, 1);
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid m = tt_act(g, "m", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params q = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                .padding = AV_NN_PAD_VALID, .groups = 1,
                                .act = {.kind = pc->pw_act}}};
    av_nn__tid pin[3] = {x, tt_const(g, "pw_w", AV_NN_F32, 4, pd, w),
                         pc->pw_bias ? tt_const(g, "pw_b", AV_NN_F32, 1, od, pb) : -1};
    tt_node(g, AV_NN_OP_CONV2D, "pw", pin, pc->pw_bias ? 3 : 2, &m, 1, &q);
    av_nn__params p = {.conv = {.stride_h = pc->s, .stride_w = pc->s, .dilation_h = 1,
                                .dilation_w = 1, .padding = AV_NN_PAD_SAME,
                                .depth_multiplier = 1, .act = {.kind = pc->dw_act}}};
    av_nn__tid din[3] = {m, tt_const(g, "dw_w", AV_NN_F32, 4, wd, dwf),
                         pc->dw_bias ? tt_const(g, "dw_b", AV_NN_F32, 1, od, db) : -1};
    tt_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw", din, pc->dw_bias ? 3 : 2, &y, 1, &p);
    CHECK(av_nn__mark_output(g, y) >= 0);
    if (pc->pw_out)
        CHECK(av_nn__mark_output(g, m) >= 0);
    free(w);
    return g;
}

static void check_case(const pd_case *pc, bool want_fused)
{
    int64_t oh = (pc->h + pc->s - 1) / pc->s, ow = (pc->w + pc->s - 1) / pc->s;
    int64_t nx = pc->n * pc->h * pc->w * pc->c, ny = pc->n * oh * ow * pc->o;
    int64_t nm = pc->n * pc->h * pc->w * pc->o;
    float *x = malloc((size_t)nx * sizeof *x);
    float *want[2] = {calloc((size_t)ny, 4), calloc((size_t)nm, 4)};
    float *got[2] = {calloc((size_t)ny, 4), calloc((size_t)nm, 4)};
    CHECK(x && want[0] && want[1] && got[0] && got[1]);
    tt_fill(x, nx, (uint32_t)(nx + pc->o), -2, 2);
    const void *in[1] = {x};
    av_nn__graph *g = build(pc);
    tt_interpret(g, in, (void **)want);
    av_nn__graph_free(g);
    for (int run = 0; run < 3; run++) { /* reference; xnnpack 1 thread; xnnpack 3 threads */
        g = build(pc);
        char err[256] = "";
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        CHECK_MSG(tt_count_live(g, AV_NN_OP_CONV2D) == !want_fused,
                  "conv left: %lldx%lldx%lldx%lld -> %lld k%d s%d", (long long)pc->n,
                  (long long)pc->h, (long long)pc->w, (long long)pc->c, (long long)pc->o, pc->k,
                  pc->s);
        for (int i = 0; i < g->n_nodes; i++) {
            const av_nn__node *n = &g->nodes[i];
            if (n->dead || n->op != AV_NN_OP_DEPTHWISE_CONV2D)
                continue;
            CHECK_EQ_INT(n->p.conv.pw_on, want_fused);
            if (want_fused && run) /* our windows run it, never XNNPACK's convolution */
                CHECK(av_nn__xnn_pwdw_supports(g, n));
        }
        tt_run_model(g, run ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE,
                    run == 2 ? 3 : 1, in, (void **)got);
        for (int o = 0; o < (pc->pw_out ? 2 : 1); o++)
            for (int64_t i = 0, ne = o ? nm : ny; i < ne; i++) {
                double tol = 1e-4 * (fabs(want[o][i]) > 1 ? fabs(want[o][i]) : 1);
                CHECK_MSG(fabs((double)got[o][i] - want[o][i]) <= tol,
                          "run %d out %d [%lld] got %g want %g (%lldx%lldx%lldx%lld -> %lld k%d "
                          "s%d)",
                          run, o, (long long)i, got[o][i], want[o][i], (long long)pc->n,
                          (long long)pc->h, (long long)pc->w, (long long)pc->c, (long long)pc->o,
                          pc->k, pc->s);
            }
    }
    for (int i = 0; i < 2; i++)
        free(want[i]), free(got[i]);
    free(x);
}

TEST(fused_equals_unfused_random_shapes)
{
    int64_t was = av_nn__dwpw_min_floats(0); /* every size, kernel and stride */
    bool fused = av_nn__pwdw_fusion_pays();   /* no AVX2+FMA: the conv stays */
    static const av_nn__act pw_acts[4] = {AV_NN_ACT_RELU, AV_NN_ACT_NONE, AV_NN_ACT_HARDSWISH,
                                          AV_NN_ACT_SIGMOID};
    static const av_nn__act dw_acts[3] = {AV_NN_ACT_RELU, AV_NN_ACT_NONE, AV_NN_ACT_RELU6};
    nf_reseed(11);
    for (int it = 0; it < 30; it++) {
        pd_case pc = {.n = 1,
                      .h = 1 + nf_rnd() % 29,
                      .w = 1 + nf_rnd() % 23,
                      .c = 1 + nf_rnd() % 24,
                      .o = 1 + nf_rnd() % 40,
                      .k = 1 + 2 * (int)(nf_rnd() % 3),
                      .s = it % 4 == 3 ? 3 : 2,
                      .pw_bias = it % 3 != 2,
                      .dw_bias = it % 4 != 1,
                      .pw_act = pw_acts[it % 4],
                      .dw_act = dw_acts[it % 3]};
        check_case(&pc, fused);
    }
    /* CenterNet's stem: 16 -> 64, 3x3 stride 2 (a 40-row image: 5 rows a chunk) */
    check_case(&(pd_case){.n = 1, .h = 40, .w = 37, .c = 16, .o = 64, .k = 3, .s = 2,
                          .pw_bias = true, .dw_bias = true, .pw_act = AV_NN_ACT_RELU,
                          .dw_act = AV_NN_ACT_RELU},
               fused);
    av_nn__dwpw_min_floats(was);
}

/* At the default size rule: a big enough conv output with a 3x3 stride 2
 * fuses; a 5x5 stride 2 over few rows (each chunk recomputing 3 of its
 * rows) stays two nodes. */
TEST(fused_only_where_it_pays)
{
    bool fused = av_nn__pwdw_fusion_pays();
    check_case(&(pd_case){.n = 1, .h = 256, .w = 64, .c = 4, .o = 32, .k = 3, .s = 2,
                          .pw_bias = true},
               fused);
    check_case(&(pd_case){.n = 1, .h = 32, .w = 256, .c = 4, .o = 64, .k = 5, .s = 2,
                          .pw_bias = true},
               false);
}

TEST(forced_off_keeps_the_conv)
{
    int64_t was = av_nn__dwpw_min_floats(0);
    av_nn__pwdw_force_off(true);
    check_case(&(pd_case){.n = 1, .h = 9, .w = 11, .c = 5, .o = 13, .k = 3, .s = 2,
                          .pw_bias = true, .dw_bias = true},
               false);
    av_nn__pwdw_force_off(false);
    av_nn__dwpw_min_floats(was);
}

TEST(not_fused_where_it_would_not_be_exact)
{
    int64_t was = av_nn__dwpw_min_floats(0);
    av_nn__dwpw_force_off(true); /* stride 1 would go to the other fusion */
    pd_case base = {.n = 1, .h = 9, .w = 7, .c = 6, .o = 10, .k = 3, .s = 2, .pw_bias = true};
    pd_case pc = base;
    pc.pw_out = true; /* the conv's output has a second reader */
    check_case(&pc, false);
    pc = base;
    pc.s = 1; /* stride 1: not this fusion's */
    check_case(&pc, false);
    pc = base;
    pc.n = 3; /* the conv's output tensor would hold one image: batch 1 only */
    check_case(&pc, false);
    av_nn__dwpw_force_off(false);
    av_nn__dwpw_min_floats(was);
}

/* Fused at batch 1, run at batch 3 (a context of another batch re-infers
 * the shapes; the conv's output tensor keeps one image): each image gives
 * what it gives alone, on both backends. */
TEST(fused_then_run_at_batch_3)
{
    int64_t was = av_nn__dwpw_min_floats(0);
    pd_case pc = {.n = 1, .h = 13, .w = 11, .c = 7, .o = 9, .k = 3, .s = 2, .pw_bias = true,
                  .dw_bias = true, .pw_act = AV_NN_ACT_RELU};
    int64_t nx = pc.h * pc.w * pc.c, ny = ((pc.h + 1) / 2) * ((pc.w + 1) / 2) * pc.o;
    float *x = malloc((size_t)(3 * nx) * sizeof *x), *want = malloc((size_t)(3 * ny) * 4);
    float *got = malloc((size_t)(3 * ny) * 4);
    CHECK(x && want && got);
    tt_fill(x, 3 * nx, 77, -2, 2);
    for (int b = 0; b < 3; b++) {
        av_nn__graph *g = build(&pc);
        const void *in[1] = {x + b * nx};
        void *out[1] = {want + b * ny};
        tt_interpret(g, in, out);
        av_nn__graph_free(g);
    }
    for (int be = 0; be < 2; be++) {
        av_nn__graph *g = build(&pc);
        char err[512] = "";
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_CONV2D), !av_nn__pwdw_fusion_pays());
        av_nn_model *m = NULL;
        CHECK(av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) ==
              AV_NN_OK);
        av_nn_ctx_opts o = {.threads = 2, .batch = 3,
                            .backend = be ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE};
        av_nn_ctx *c = NULL;
        CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "ctx: %s", err);
        const av_nn__graph *bg = av_nn__ctx_graph(c); /* the batch-3 copy */
        for (int i = 0; be && i < bg->n_nodes; i++) /* our windows at batch 3 too */
            if (!bg->nodes[i].dead && bg->nodes[i].op == AV_NN_OP_DEPTHWISE_CONV2D)
                CHECK_EQ_INT(av_nn__xnn_pwdw_supports(bg, &bg->nodes[i]),
                             av_nn__pwdw_fusion_pays());
        const void *in[1] = {x};
        void *out[1] = {got};
        CHECK_MSG(av_nn_run(c, in, out, err, sizeof err) == AV_NN_OK, "run: %s", err);
        for (int64_t i = 0; i < 3 * ny; i++)
            CHECK_MSG(fabs((double)got[i] - want[i]) <= 1e-4 * (fabs(want[i]) > 1 ? fabs(want[i]) : 1),
                      "backend %d [%lld] got %g want %g", be, (long long)i, got[i], want[i]);
        av_nn_ctx_free(c);
        av_nn_model_free(m);
    }
    free(x), free(want), free(got);
    av_nn__dwpw_min_floats(was);
}

TEST_MAIN(T(fused_equals_unfused_random_shapes), T(fused_only_where_it_pays),
          T(fused_then_run_at_batch_3),
          T(forced_off_keeps_the_conv), T(not_fused_where_it_would_not_be_exact))
