/*
 * t_nn_sparse_head.c - gather(reshape(conv1x1(dw(x [* s])), [N*H*W, O]), idx)
 * along axis 0 becomes one SPARSE_HEAD node (pass_sparse_head.c) that
 * computes the depthwise and the 1x1 at the gathered pixels only
 * (xnn_sparse_head.c; ref_sparse_head.c on the reference backend). On
 * random shapes with odd sizes (channels not a multiple of 8, 1x1 to 5x5
 * depthwise kernels, pads, border pixels, batch 1 and 3, a squeeze-excite
 * scale, acts, with and without biases, denormal inputs) and indices that repeat, wrap
 * (negative) or hit the corners, the rewritten graph gives the unrewritten
 * one's rows bit for bit, on each backend. An index out of range fails the
 * run. The dense conv output as a graph output: kept and exact when wanted,
 * not run when the caller passes NULL for it.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sh_case {
    int64_t n, h, w, c, o, k; /* x [n, h, w, c]; o outputs; k indices */
    int ks;                   /* depthwise kernel (SAME) */
    bool dw_bias, pw_bias, scale;
    av_nn__act dw_act, pw_act;
    bool y_out;               /* the conv's output is a graph output too */
    bool i64;                 /* indices as i64 */
    bool tiny;                /* x near the smallest normal floats: denormal sums */
} sh_case;

/* inputs x, idx [, s]; outputs g [, y] */
static av_nn__graph *build(const sh_case *sc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {sc->n, sc->h, sc->w, sc->c}, wd[4] = {1, sc->ks, sc->ks, sc->c};
    int64_t pd[4] = {sc->o, 1, 1, sc->c}, cd[1] = {sc->c}, od[1] = {sc->o};
    int64_t sd[4] = {1, 1, 1, sc->c}, id[1] = {sc->k}, rd[2] = {-1, sc->o}, two[1] = {2};
    int64_t nw = sc->ks * sc->ks * sc->c, np = sc->o * sc->c;
    float *w = malloc((size_t)(nw + np + sc->c + sc->o) * sizeof *w);
    CHECK(w);
    float *pw = w + nw, *db = pw + np, *pb = db + sc->c;
    tt_fill(w, nw, 31, -0.6f, 0.6f);
    tt_fill(pw, np, 32, -0.5f, 0.5f);
    tt_fill(db, sc->c, 33, -1, 1);
    tt_fill(pb, sc->o, 34, -1, 1);
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid idx = tt_input(g, "idx", sc->i64 ? AV_NN_I64 : AV_NN_I32, 1, id);
    av_nn__tid xin = x;
    if (sc->scale) {
        av_nn__tid s = tt_input(g, "s", AV_NN_F32, 4, sd);
        xin = tt_act(g, "xs", AV_NN_F32, -1, NULL);
        av_nn__params pm = {.binary = {.kind = AV_NN_BIN_MUL}};
        tt_node(g, AV_NN_OP_BINARY, "se", (av_nn__tid[]){x, s}, 2, &xin, 1, &pm);
    }
    av_nn__tid d = tt_act(g, "d", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__tid r = tt_act(g, "r", AV_NN_F32, -1, NULL), o = tt_act(g, "g", AV_NN_F32, -1, NULL);
    av_nn__params p = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                .padding = AV_NN_PAD_SAME, .depth_multiplier = 1,
                                .act = {.kind = sc->dw_act}}};
    av_nn__tid din[3] = {xin, tt_const(g, "dw_w", AV_NN_F32, 4, wd, w),
                         sc->dw_bias ? tt_const(g, "dw_b", AV_NN_F32, 1, cd, db) : -1};
    tt_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw", din, sc->dw_bias ? 3 : 2, &d, 1, &p);
    av_nn__params q = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                .padding = AV_NN_PAD_VALID, .groups = 1,
                                .act = {.kind = sc->pw_act, .min = -0.5f, .max = 0.75f}}};
    av_nn__tid pin[3] = {d, tt_const(g, "pw_w", AV_NN_F32, 4, pd, pw),
                         sc->pw_bias ? tt_const(g, "pw_b", AV_NN_F32, 1, od, pb) : -1};
    tt_node(g, AV_NN_OP_CONV2D, "pw", pin, sc->pw_bias ? 3 : 2, &y, 1, &q);
    int32_t shape[2] = {(int32_t)rd[0], (int32_t)rd[1]};
    av_nn__tid rin[2] = {y, tt_const(g, "shape", AV_NN_I32, 1, two, shape)};
    tt_node(g, AV_NN_OP_RESHAPE, "reshape", rin, 2, &r, 1, NULL);
    av_nn__params pa = {.axis = {.axis = 0}};
    tt_node(g, AV_NN_OP_GATHER, "gather", (av_nn__tid[]){r, idx}, 2, &o, 1, &pa);
    CHECK(av_nn__mark_output(g, o) >= 0);
    if (sc->y_out)
        CHECK(av_nn__mark_output(g, y) >= 0);
    free(w);
    return g;
}

/* A sigmoid on the 1x1: our kernel declines it (row acts run over spans),
 * the reference kernel runs the node on the XNNPACK backend too. */
static bool row_act(const sh_case *sc)
{
    return sc->pw_act == AV_NN_ACT_SIGMOID;
}

/* Finalize (the pass on or off), run once; the status of the run. out[1]
 * NULL: the conv's output (y_out) not wanted. */
static av_nn_status run(const sh_case *sc, bool pass, av_nn_backend be, int threads,
                        const void *const *in, void *const *out)
{
    av_nn__sparse_head_force_off(!pass);
    av_nn__graph *g = build(sc);
    char err[512] = "";
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    bool fused = pass && av_nn__dwpw_fusion_pays();
    CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_SPARSE_HEAD), fused);
    CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_GATHER), !fused);
    /* the dense conv stays only for its own graph output */
    CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_CONV2D), !fused || sc->y_out);
    av_nn__sparse_head_force_off(false);
    av_nn_model *m = NULL;
    CHECK(av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) == AV_NN_OK);
    if (fused && be == AV_NN_BACKEND_XNNPACK) { /* our kernel runs it unless a row act */
        const av_nn__graph *mg = m->g;
        for (int i = 0; i < mg->n_nodes; i++)
            if (!mg->nodes[i].dead && mg->nodes[i].op == AV_NN_OP_SPARSE_HEAD)
                CHECK_EQ_INT(av_nn__xnn_sparse_supports(mg, &mg->nodes[i]), !row_act(sc));
    }
    av_nn_ctx_opts o = {.threads = threads, .backend = be};
    av_nn_ctx *c = NULL;
    CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "ctx: %s", err);
    av_nn_status st = av_nn_run(c, in, out, err, sizeof err);
    if (st)
        fprintf(stderr, "    run: %s\n", err); /* the error tests expect some */
    av_nn_ctx_free(c);
    av_nn_model_free(m);
    return st;
}

/* Indices: corners and edges of each image, repeats, negatives (wrap). */
static void fill_idx(const sh_case *sc, void *idx, uint32_t seed)
{
    int64_t hw = sc->h * sc->w, all = sc->n * hw;
    nf_reseed(seed);
    for (int64_t j = 0; j < sc->k; j++) {
        int64_t b = (int64_t)(nf_rnd() % (uint32_t)sc->n), v;
        switch (j % 6) {
        case 0: v = b * hw; break;                    /* top left */
        case 1: v = b * hw + hw - 1; break;           /* bottom right */
        case 2: v = b * hw + sc->w - 1; break;        /* top right */
        case 3: v = j > 3 ? -1 : 0; break;            /* wraps to the last pixel */
        default: v = (int64_t)(nf_rnd() % (uint32_t)all); break;
        }
        if (j % 7 == 6 && v >= 0)
            v = v - all; /* the same pixel, negative */
        if (sc->i64)
            ((int64_t *)idx)[j] = v;
        else
            ((int32_t *)idx)[j] = (int32_t)v;
    }
}

static void check_case(const sh_case *sc)
{
    int64_t nx = sc->n * sc->h * sc->w * sc->c, ng = sc->k * sc->o;
    int64_t ny = sc->n * sc->h * sc->w * sc->o;
    float *x = malloc((size_t)nx * sizeof *x), *s = malloc((size_t)sc->c * sizeof *s);
    void *idx = malloc((size_t)sc->k * 8);
    float *want[2] = {calloc((size_t)ng, 4), calloc((size_t)ny, 4)};
    float *got[2] = {calloc((size_t)ng, 4), calloc((size_t)ny, 4)};
    CHECK(x && s && idx && want[0] && want[1] && got[0] && got[1]);
    tt_fill(x, nx, (uint32_t)(nx + sc->o), -2, 2);
    for (int64_t i = 0; sc->tiny && i < nx; i++)
        x[i] *= 2e-38f; /* the dense kernels flush denormals (pool flag): ours too */
    tt_fill(s, sc->c, (uint32_t)(sc->c + 7), 0, 1.5f);
    fill_idx(sc, idx, (uint32_t)(nx + sc->k));
    const void *in[3] = {x, idx, s};
    for (int b = 0; b < 3; b++) { /* reference; xnnpack 1 thread; xnnpack 2 threads */
        av_nn_backend be = b ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE;
        int th = b == 2 ? 2 : 1;
        CHECK(run(sc, false, be, th, in, (void **)want) == AV_NN_OK);
        void *outs[2] = {got[0], sc->y_out ? got[1] : NULL};
        memset(got[1], 0, (size_t)ny * 4);
        CHECK(run(sc, true, be, th, in, outs) == AV_NN_OK);
        /* bit for bit: the same sums in the same order (see xnn_sparse_head.c);
         * the reference kernel against XNNPACK's dense pair: f32 tolerance */
        bool exact = !(b && row_act(sc));
        for (int64_t i = 0; i < ng; i++)
            CHECK_MSG(exact ? memcmp(&got[0][i], &want[0][i], 4) == 0
                            : fabs((double)got[0][i] - want[0][i]) <= 1e-5,
                      "backend %d [%lld] got %.9g want %.9g (%lldx%lldx%lldx%lld k%d -> %lld)",
                      b, (long long)i, got[0][i], want[0][i], (long long)sc->n,
                      (long long)sc->h, (long long)sc->w, (long long)sc->c, sc->ks,
                      (long long)sc->o);
        if (sc->y_out) /* wanted: the dense conv ran */
            CHECK(memcmp(got[1], want[1], (size_t)ny * 4) == 0);
        /* not wanted: the same rows (its conv skipped) */
        void *few[2] = {got[0], NULL};
        float *again = malloc((size_t)ng * 4);
        CHECK(again);
        memcpy(again, got[0], (size_t)ng * 4);
        memset(got[0], 0, (size_t)ng * 4);
        CHECK(run(sc, true, be, th, in, few) == AV_NN_OK);
        CHECK(memcmp(got[0], again, (size_t)ng * 4) == 0);
        free(again);
    }
    free(want[0]), free(want[1]), free(got[0]), free(got[1]);
    free(x), free(s), free(idx);
}

TEST(sparse_equals_dense_random_shapes)
{
    int64_t was = av_nn__dwpw_min_floats(0); /* small shapes fuse too */
    static const av_nn__act dw_acts[4] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU6, AV_NN_ACT_HARDSWISH,
                                          AV_NN_ACT_RELU};
    static const av_nn__act pw_acts[3] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU, AV_NN_ACT_CLAMP};
    nf_reseed(15);
    for (int it = 0; it < 24; it++) {
        sh_case sc = {.n = it % 4 == 1 ? 3 : 1,
                      .h = 1 + nf_rnd() % 17,
                      .w = 1 + nf_rnd() % 21,
                      .c = 1 + nf_rnd() % 37,
                      .o = it % 3 == 0 ? 1 + nf_rnd() % 4 : 1 + nf_rnd() % 33,
                      .k = 1 + nf_rnd() % 29,
                      .ks = 1 + 2 * (int)(nf_rnd() % 3),
                      .dw_bias = it % 3 != 2,
                      .pw_bias = it % 4 != 3,
                      .scale = it % 2 == 0,
                      .dw_act = dw_acts[it % 4],
                      .pw_act = pw_acts[it % 3],
                      .y_out = it % 5 == 2,
                      .i64 = it % 6 == 5};
        check_case(&sc);
    }
    /* CenterNet's box head: 128 channels, 3x3, to 4 (narrow GEMM), scaled,
     * its dense output a graph output; 100 indices */
    check_case(&(sh_case){.n = 1, .h = 23, .w = 19, .c = 128, .o = 4, .k = 100, .ks = 3,
                          .pw_bias = true, .scale = true, .y_out = true});
    /* denormal inputs and sums */
    check_case(&(sh_case){.n = 2, .h = 7, .w = 6, .c = 21, .o = 3, .k = 30, .ks = 3,
                          .pw_bias = false, .scale = true, .tiny = true});
    check_case(&(sh_case){.n = 1, .h = 8, .w = 9, .c = 17, .o = 20, .k = 30, .ks = 5,
                          .tiny = true});
    /* a sigmoid on the 1x1: the reference kernel runs the head everywhere */
    check_case(&(sh_case){.n = 3, .h = 9, .w = 11, .c = 19, .o = 6, .k = 17, .ks = 3,
                          .dw_bias = true, .pw_bias = true, .scale = true,
                          .pw_act = AV_NN_ACT_SIGMOID});
    av_nn__dwpw_min_floats(was);
}

TEST(out_of_range_index_fails_the_run)
{
    int64_t was = av_nn__dwpw_min_floats(0);
    sh_case sc = {.n = 2, .h = 5, .w = 7, .c = 9, .o = 3, .k = 4, .ks = 3, .dw_bias = true};
    int64_t nx = sc.n * sc.h * sc.w * sc.c, all = sc.n * sc.h * sc.w;
    float *x = calloc((size_t)nx, 4), gout[12];
    CHECK(x);
    int32_t bad[3][4] = {{0, 1, (int32_t)all, 2}, {0, (int32_t)(-all - 1), 1, 2},
                         {INT32_MAX, 0, 0, 0}};
    for (int t = 0; t < 3; t++)
        for (int b = 0; b < 2; b++) {
            const void *in[2] = {x, bad[t]};
            void *out[1] = {gout};
            CHECK_EQ_INT(run(&sc, true, b ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE, 1,
                             in, out),
                         AV_NN_E_ARG);
        }
    free(x);
    av_nn__dwpw_min_floats(was);
}

TEST(left_alone_where_it_does_not_apply)
{
    int64_t was = av_nn__dwpw_min_floats(-1); /* tiny: the depthwise stays unfused */
    sh_case sc = {.n = 1, .h = 4, .w = 5, .c = 3, .o = 2, .k = 3, .ks = 3, .dw_bias = true};
    av_nn__graph *g = build(&sc);
    char err[256] = "";
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_SPARSE_HEAD), 0); /* no dw_on conv to take */
    CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_GATHER), 1);
    av_nn__graph_free(g);
    av_nn__dwpw_min_floats(was);
}

/* The dense conv whose output is a graph output nobody reads runs only when
 * the caller wants that output (the per-op profile counts its runs). */
TEST(unwanted_dense_conv_is_skipped)
{
    int64_t was = av_nn__dwpw_min_floats(0);
    sh_case sc = {.n = 1, .h = 6, .w = 7, .c = 10, .o = 4, .k = 5, .ks = 3, .dw_bias = true,
                  .y_out = true};
    int64_t nx = sc.h * sc.w * sc.c;
    float *x = calloc((size_t)nx, 4), g[20], y[6 * 7 * 4];
    int32_t idx[5] = {0, 1, 2, 3, 41};
    CHECK(x);
    for (int want = 0; want < 2; want++) {
        av_nn__graph *gr = build(&sc);
        char err[256] = "";
        CHECK_MSG(av_nn__graph_finalize(gr, err, sizeof err) == AV_NN_OK, "%s", err);
        bool fused = tt_count_live(gr, AV_NN_OP_SPARSE_HEAD) == 1;
        CHECK_EQ_INT(fused, av_nn__dwpw_fusion_pays());
        av_nn_model *m = NULL;
        CHECK(av_nn__model_from_graph(gr, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) ==
              AV_NN_OK);
        av_nn_ctx *c = NULL;
        CHECK(av_nn_ctx_new(m, NULL, &c, err, sizeof err) == AV_NN_OK);
        av_nn__profile prof;
        memset(&prof, 0, sizeof prof);
        av_nn__ctx_set_profile(c, &prof);
        const void *in[2] = {x, idx};
        void *out[2] = {g, want ? y : NULL};
        CHECK_MSG(av_nn_run(c, in, out, err, sizeof err) == AV_NN_OK, "%s", err);
        long convs = prof.count[AV_NN_OP_CONV2D * 2] + prof.count[AV_NN_OP_CONV2D * 2 + 1];
        /* unfused (no AVX2): the gather reads the conv, which always runs */
        CHECK_EQ_INT(convs, want || !fused);
        av_nn_ctx_free(c);
        av_nn_model_free(m);
    }
    free(x);
    av_nn__dwpw_min_floats(was);
}

TEST_MAIN(T(sparse_equals_dense_random_shapes), T(out_of_range_index_fails_the_run),
          T(left_alone_where_it_does_not_apply), T(unwanted_dense_conv_is_skipped))
