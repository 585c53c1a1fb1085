/*
 * t_nn_fuse_se_dw.c - the squeeze-excite multiply into the depthwise of a
 * fused depthwise + 1x1 conv (pass_fuse.c av_nn__fuse_se_dw, xnn_dwpw.c,
 * the reference's conv_after_dw): y = x * s (s per image and channel, [N or
 * 1, 1, 1, C]) read only by dw_on convs becomes those convs reading x with
 * s as in[6]; our bands scale the depthwise's taps per run. The fused graph
 * (reference; xnn on 1 and 3 threads) gives the unfused graph's answer on
 * random shapes with odd sizes: one or two readers (CenterNet's two heads),
 * either operand order, batch 1 and 3, a scale shared by the batch, acts
 * and biases on both convs. Left alone where y is a graph output, has a
 * reader of another kind, or the scale is not per channel; and when forced
 * off. The int8 quantiser splits it back (t_nn_quant's CenterNet).
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct se_case {
    int64_t n, h, w, c, o;
    int64_t sn;        /* the scale's images: n or 1 */
    int heads;         /* dw_on convs reading y: 1 or 2 */
    int k[2];          /* their depthwise kernels */
    bool swap;         /* mul(s, x) */
    bool y_out;        /* y is a graph output too: not fused */
    bool relu_reader;  /* y also read by a relu: not fused */
    bool full_scale;   /* s has y's shape (not per channel): not fused */
    av_nn__act dw_act, pw_act;
} se_case;

static int n_outputs(const se_case *sc)
{
    return sc->heads + sc->y_out + sc->relu_reader;
}

/* x, s inputs; mul(x, s) -> y; per head: conv1x1(dw(y)) -> o_h */
static av_nn__graph *build(const se_case *sc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {sc->n, sc->h, sc->w, sc->c};
    int64_t sd[4] = {sc->sn, 1, 1, sc->c};
    if (sc->full_scale)
        memcpy(sd, xd, sizeof sd);
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid s = tt_input(g, "s", AV_NN_F32, 4, sd);
    av_nn__tid y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pm = {.binary = {.kind = AV_NN_BIN_MUL}};
    av_nn__tid min[2] = {sc->swap ? s : x, sc->swap ? x : s};
    tt_node(g, AV_NN_OP_BINARY, "mul", min, 2, &y, 1, &pm);
    for (int h = 0; h < sc->heads; h++) {
        int k = sc->k[h];
        int64_t wd[4] = {1, k, k, sc->c}, pd[4] = {sc->o, 1, 1, sc->c};
        int64_t cd[1] = {sc->c}, od[1] = {sc->o}, nw = k * k * sc->c, np = sc->o * sc->c;
        float *w = malloc((size_t)(nw + np + sc->c + sc->o) * sizeof *w);
        CHECK(w);
        float *pw = w + nw, *db = pw + np, *pb = db + sc->c;
        tt_fill(w, nw, (uint32_t)(31 + h), -0.6f, 0.6f);
        tt_fill(pw, np, (uint32_t)(41 + h), -0.5f, 0.5f);
        tt_fill(db, sc->c, (uint32_t)(51 + h), -1, 1);
        tt_fill(pb, sc->o, (uint32_t)(61 + h), -1, 1);
        char nm[5][8] = {"dw0", "d0", "pw0", "o0", "wd0"};
        for (int i = 0; i < 5; i++)
            nm[i][strlen(nm[i]) - 1] = (char)('0' + h);
        av_nn__tid d = tt_act(g, nm[1], AV_NN_F32, -1, NULL);
        av_nn__tid o = tt_act(g, nm[3], AV_NN_F32, -1, NULL);
        av_nn__params p = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                    .dilation_w = 1, .padding = AV_NN_PAD_SAME,
                                    .depth_multiplier = 1, .act = {.kind = sc->dw_act}}};
        av_nn__tid din[3] = {y, tt_const(g, nm[4], AV_NN_F32, 4, wd, w),
                             tt_const(g, h ? "db1" : "db0", AV_NN_F32, 1, cd, db)};
        tt_node(g, AV_NN_OP_DEPTHWISE_CONV2D, nm[0], din, 3, &d, 1, &p);
        av_nn__params q = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                    .dilation_w = 1, .padding = AV_NN_PAD_VALID, .groups = 1,
                                    .act = {.kind = sc->pw_act}}};
        av_nn__tid pin[3] = {d, tt_const(g, h ? "pw1" : "pwx", AV_NN_F32, 4, pd, pw),
                             tt_const(g, h ? "pb1" : "pb0", AV_NN_F32, 1, od, pb)};
        tt_node(g, AV_NN_OP_CONV2D, nm[2], pin, 3, &o, 1, &q);
        CHECK(av_nn__mark_output(g, o) >= 0);
        free(w);
    }
    if (sc->y_out)
        CHECK(av_nn__mark_output(g, y) >= 0);
    if (sc->relu_reader) {
        av_nn__tid r = tt_act(g, "r", AV_NN_F32, -1, NULL);
        av_nn__params pu = {.unary = {.kind = AV_NN_UN_RELU}};
        tt_node(g, AV_NN_OP_UNARY, "relu", &y, 1, &r, 1, &pu);
        CHECK(av_nn__mark_output(g, r) >= 0);
    }
    return g;
}

static void check_case(const se_case *sc, bool want_fused)
{
    int64_t nx = sc->n * sc->h * sc->w * sc->c, ny = sc->n * sc->h * sc->w * sc->o;
    int64_t ns = sc->full_scale ? nx : sc->sn * sc->c;
    int no = n_outputs(sc);
    float *x = malloc((size_t)nx * sizeof *x), *s = malloc((size_t)ns * sizeof *s);
    float *want[4] = {0}, *got[4] = {0};
    CHECK(x && s);
    for (int i = 0; i < no; i++) { /* heads (ny), then y and relu(y) (nx) */
        int64_t ne = i < sc->heads ? ny : nx;
        want[i] = calloc((size_t)ne, 4), got[i] = calloc((size_t)ne, 4);
        CHECK(want[i] && got[i]);
    }
    tt_fill(x, nx, (uint32_t)(nx + sc->o), -2, 2);
    tt_fill(s, ns, (uint32_t)(ns + 7), 0, 1.5f); /* a hard sigmoid's range, and past it */
    const void *in[2] = {x, s};
    av_nn__graph *g = build(sc);
    tt_interpret(g, in, (void **)want);
    av_nn__graph_free(g);
    for (int run = 0; run < 3; run++) { /* reference; xnnpack 1 thread; xnnpack 3 threads */
        g = build(sc);
        char err[256] = "";
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_BINARY), !want_fused);
        int scaled = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            const av_nn__node *n = &g->nodes[i];
            if (n->dead || n->op != AV_NN_OP_CONV2D)
                continue;
            scaled += av_nn__dwpw_scale(n) >= 0;
            if (want_fused && run) /* our bands run it */
                CHECK(av_nn__xnn_dwpw_supports(g, n) && av_nn__xnn_gemm_supports(g, n));
        }
        CHECK_EQ_INT(scaled, want_fused ? sc->heads : 0);
        tt_run_model(g, run ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE,
                     run == 2 ? 3 : 1, in, (void **)got);
        for (int o = 0; o < no; o++)
            for (int64_t i = 0, ne = o < sc->heads ? ny : nx; i < ne; i++) {
                double tol = 1e-4 * (fabs(want[o][i]) > 1 ? fabs(want[o][i]) : 1);
                CHECK_MSG(fabs((double)got[o][i] - want[o][i]) <= tol,
                          "run %d out %d [%lld] got %g want %g (%lldx%lldx%lldx%lld s%lld -> "
                          "%lld, %d heads)",
                          run, o, (long long)i, got[o][i], want[o][i], (long long)sc->n,
                          (long long)sc->h, (long long)sc->w, (long long)sc->c,
                          (long long)sc->sn, (long long)sc->o, sc->heads);
            }
    }
    for (int i = 0; i < no; i++)
        free(want[i]), free(got[i]);
    free(x), free(s);
}

TEST(fused_equals_unfused_random_shapes)
{
    int64_t was = av_nn__dwpw_min_floats(0); /* small shapes fuse too */
    bool fused = av_nn__dwpw_fusion_pays() && av_nn__se_dw_fusion_pays();
    static const av_nn__act dw_acts[4] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU6, AV_NN_ACT_HARDSWISH,
                                          AV_NN_ACT_RELU};
    static const av_nn__act pw_acts[3] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU, AV_NN_ACT_SIGMOID};
    nf_reseed(15);
    for (int it = 0; it < 24; it++) {
        int64_t n = it % 4 == 1 ? 3 : 1;
        se_case sc = {.n = n,
                      .sn = it % 8 == 5 ? 1 : n, /* (it 5, 13, 21: batch 3, one scale) */
                      .h = 1 + nf_rnd() % 19,
                      .w = 1 + nf_rnd() % 23,
                      .c = 1 + nf_rnd() % 40,
                      .o = it % 5 == 3 ? 1 + nf_rnd() % 4 : 1 + nf_rnd() % 40,
                      .heads = 1 + it % 2,
                      .k = {1 + 2 * (int)(nf_rnd() % 3), 1 + 2 * (int)(nf_rnd() % 3)},
                      .swap = it % 3 == 2,
                      .dw_act = dw_acts[it % 4],
                      .pw_act = pw_acts[it % 3]};
        if (it % 8 == 5)
            sc.n = 3;
        check_case(&sc, fused);
    }
    /* CenterNet's head: 128 channels, two 3x3 heads to 80 and to 4 (narrow) */
    check_case(&(se_case){.n = 1, .sn = 1, .h = 21, .w = 19, .c = 128, .o = 80, .heads = 2,
                          .k = {3, 3}, .pw_act = AV_NN_ACT_SIGMOID},
               fused);
    av_nn__dwpw_min_floats(was);
}

TEST(forced_off_keeps_the_multiply)
{
    int64_t was = av_nn__dwpw_min_floats(0);
    av_nn__se_dw_force_off(true);
    check_case(&(se_case){.n = 3, .sn = 3, .h = 7, .w = 9, .c = 11, .o = 13, .heads = 2,
                          .k = {3, 5}},
               false);
    av_nn__se_dw_force_off(false);
    av_nn__dwpw_min_floats(was);
}

TEST(not_fused_where_it_would_not_be_exact)
{
    int64_t was = av_nn__dwpw_min_floats(0); /* size aside */
    se_case base = {.n = 1, .sn = 1, .h = 9, .w = 7, .c = 10, .o = 12, .heads = 2,
                    .k = {3, 5}};
    se_case sc = base;
    sc.y_out = true; /* y must still be written */
    check_case(&sc, false);
    sc = base;
    sc.relu_reader = true; /* a reader that is not a fused conv */
    check_case(&sc, false);
    sc = base;
    sc.full_scale = true; /* not per channel */
    check_case(&sc, false);
    av_nn__dwpw_min_floats(was);
}

TEST_MAIN(T(fused_equals_unfused_random_shapes), T(forced_off_keeps_the_multiply),
          T(not_fused_where_it_would_not_be_exact))
