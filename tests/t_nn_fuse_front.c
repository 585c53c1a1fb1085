/*
 * t_nn_fuse_front.c - the high-resolution front's fast paths (AV_NN_FUSE_FRONT:
 * xnn_gemm.c's compile-time-K pointwise blocks, the ReLU
 * clamp without its min, xnn_stem.c's k loop) keep every bit: CenterNet's
 * front as a graph (RGB stem 3x3 stride 2 with hard-swish, depthwise 3x3 +
 * 1x1 + residual, 1x1 16 -> 64 + strided depthwise) and lone pointwise convs
 * of the K it takes (16 to 96; outputs a multiple of 16 or not, with a
 * residual, every act) on random inputs with odd sizes (odd widths and
 * heights, pixel counts not a multiple of the 6-pixel block, rows not a
 * multiple of the fused kernels' bands), 1 and 2 threads, give the same
 * bytes with the switch on and off; both match the reference kernels within
 * f32 tolerance; and the real CenterNet's outputs are the same bytes.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Finalizes g and runs it (which frees it) on the xnn backend with the
 * front's paths on or off; fused: check that the front's fusions took it
 * (stem, depthwise + 1x1 + residual, 1x1 + strided depthwise). */
static void run_xnn(av_nn__graph *g, bool front, bool fused, int threads, const void *const *in,
                    void **out)
{
    char err[256] = "";
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    if (fused && av_nn__dwpw_fusion_pays() && av_nn__pwdw_fusion_pays() &&
        av_nn__residual_fusion_pays()) {
        CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_CONV2D), 2);
        CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_DEPTHWISE_CONV2D), 1);
        CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_BINARY), 0);
    }
    av_nn__front_force_off(!front);
    tt_run_model(g, AV_NN_BACKEND_XNNPACK, threads, in, out);
    av_nn__front_force_off(false);
}

/* ---- CenterNet's front ---- */

typedef struct front_case {
    int64_t h, w; /* the RGB input */
    bool relu6;   /* the pointwise 16 -> 64's act: RELU6 instead of RELU (both bounds) */
} front_case;

/* x [1,h,w,3] -> stem (3x3 s2 SAME, hard-swish) s -> dw 3x3 relu -> 1x1 16->16 -> + s
 * -> 1x1 16->64 relu -> dw 3x3 s2 relu -> y */
/* on and off give the same bits, and both are the reference's within 1e-4
 * relative (what: the case, for the message). */
static void same_bits_near_ref(const float *on, const float *off, const float *want, int64_t n,
                               const char *what)
{
    CHECK_MSG(memcmp(on, off, (size_t)n * sizeof *on) == 0, "%s: bits differ", what);
    for (int64_t i = 0; i < n; i++) {
        double tol = 1e-4 * (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
        CHECK_MSG(fabs((double)on[i] - want[i]) <= tol, "[%lld] got %g want %g (%s)",
                  (long long)i, on[i], want[i], what);
    }
}

static av_nn__graph *front_graph(const front_case *fc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    float w[16 * 27 + 16 + 9 * 16 + 16 + 256 + 16 + 1024 + 64 + 9 * 64 + 64];
    float *sw = w, *sb = sw + 16 * 27, *dw1 = sb + 16, *db1 = dw1 + 144, *pw1 = db1 + 16;
    float *pb1 = pw1 + 256, *pw2 = pb1 + 16, *pb2 = pw2 + 1024, *dw2 = pb2 + 64;
    float *db2 = dw2 + 576;
    tt_fill(w, (int64_t)(sizeof w / sizeof *w), 5, -0.5f, 0.5f);
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, (int64_t[]){1, fc->h, fc->w, 3});
    av_nn__tid s = tt_act(g, "s", AV_NN_F32, -1, NULL), d = tt_act(g, "d", AV_NN_F32, -1, NULL);
    av_nn__tid p = tt_act(g, "p", AV_NN_F32, -1, NULL), r = tt_act(g, "r", AV_NN_F32, -1, NULL);
    av_nn__tid e = tt_act(g, "e", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params stem = {.conv = {.stride_h = 2, .stride_w = 2, .dilation_h = 1,
                                   .dilation_w = 1, .padding = AV_NN_PAD_SAME, .groups = 1,
                                   .act = {.kind = AV_NN_ACT_HARDSWISH}}};
    tt_node(g, AV_NN_OP_CONV2D, "stem",
            (av_nn__tid[]){x, tt_const(g, "sw", AV_NN_F32, 4, (int64_t[]){16, 3, 3, 3}, sw),
                           tt_const(g, "sb", AV_NN_F32, 1, (int64_t[]){16}, sb)},
            3, &s, 1, &stem);
    av_nn__params dwp = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                  .dilation_w = 1, .padding = AV_NN_PAD_SAME,
                                  .depth_multiplier = 1, .act = {.kind = AV_NN_ACT_RELU}}};
    tt_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw1",
            (av_nn__tid[]){s, tt_const(g, "dw1", AV_NN_F32, 4, (int64_t[]){1, 3, 3, 16}, dw1),
                           tt_const(g, "db1", AV_NN_F32, 1, (int64_t[]){16}, db1)},
            3, &d, 1, &dwp);
    av_nn__params pwp = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                  .dilation_w = 1, .padding = AV_NN_PAD_VALID, .groups = 1}};
    tt_node(g, AV_NN_OP_CONV2D, "pw1",
            (av_nn__tid[]){d, tt_const(g, "pw1", AV_NN_F32, 4, (int64_t[]){16, 1, 1, 16}, pw1),
                           tt_const(g, "pb1", AV_NN_F32, 1, (int64_t[]){16}, pb1)},
            3, &p, 1, &pwp);
    av_nn__params add = {.binary = {.kind = AV_NN_BIN_ADD}};
    tt_node(g, AV_NN_OP_BINARY, "add", (av_nn__tid[]){p, s}, 2, &r, 1, &add);
    pwp.conv.act.kind = fc->relu6 ? AV_NN_ACT_RELU6 : AV_NN_ACT_RELU;
    tt_node(g, AV_NN_OP_CONV2D, "pw2",
            (av_nn__tid[]){r, tt_const(g, "pw2", AV_NN_F32, 4, (int64_t[]){64, 1, 1, 16}, pw2),
                           tt_const(g, "pb2", AV_NN_F32, 1, (int64_t[]){64}, pb2)},
            3, &e, 1, &pwp);
    dwp.conv.stride_h = dwp.conv.stride_w = 2;
    tt_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw2",
            (av_nn__tid[]){e, tt_const(g, "dw2", AV_NN_F32, 4, (int64_t[]){1, 3, 3, 64}, dw2),
                           tt_const(g, "db2", AV_NN_F32, 1, (int64_t[]){64}, db2)},
            3, &y, 1, &dwp);
    CHECK(av_nn__mark_output(g, y) >= 0);
    return g;
}

static void check_front(const front_case *fc)
{
    int64_t sh = (fc->h + 1) / 2, sw = (fc->w + 1) / 2, oh = (sh + 1) / 2, ow = (sw + 1) / 2;
    int64_t nx = fc->h * fc->w * 3, ny = oh * ow * 64;
    float *x = malloc((size_t)nx * sizeof *x), *want = calloc((size_t)ny, 4);
    float *on = calloc((size_t)ny, 4), *off = calloc((size_t)ny, 4);
    CHECK(x && want && on && off);
    tt_fill(x, nx, (uint32_t)(fc->h * 131 + fc->w), -1, 1);
    const void *in[1] = {x};
    tt_run_backend(front_graph(fc), AV_NN_BACKEND_REFERENCE, in, (void *[]){want});
    for (int threads = 1; threads <= 2; threads++) {
        run_xnn(front_graph(fc), true, true, threads, in, (void *[]){on});
        run_xnn(front_graph(fc), false, true, threads, in, (void *[]){off});
        char what[96];
        snprintf(what, sizeof what, "front %lldx%lld, %d threads", (long long)fc->h,
                 (long long)fc->w, threads);
        same_bits_near_ref(on, off, want, ny, what);
    }
    free(x), free(want), free(on), free(off);
}

TEST(front_same_bits_on_and_off)
{
    int64_t was = av_nn__dwpw_min_floats(0); /* the fusions at every size */
    static const front_case cases[] = {
        {.h = 37, .w = 53}, {.h = 38, .w = 41, .relu6 = true}, {.h = 3, .w = 5},
        {.h = 61, .w = 24}, {.h = 100, .w = 35}, {.h = 12, .w = 99, .relu6 = true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_front(&cases[i]);
    av_nn__dwpw_min_floats(was);
}

/* ---- lone pointwise convs of the K pwk_blocks takes ---- */

typedef struct pw_case {
    int64_t h, w, k, o; /* x [1,h,w,k] -> o channels */
    av_nn__act act;
    bool residual; /* + x (o == k) */
} pw_case;

static av_nn__graph *pw_graph(const pw_case *pc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    float *w = malloc((size_t)(pc->o * pc->k + pc->o) * sizeof *w);
    CHECK(w);
    tt_fill(w, pc->o * pc->k + pc->o, (uint32_t)(pc->k * 7 + pc->o), -0.7f, 0.7f);
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, (int64_t[]){1, pc->h, pc->w, pc->k});
    av_nn__tid c = tt_act(g, "c", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params p = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                .padding = AV_NN_PAD_VALID, .groups = 1,
                                .act = {.kind = pc->residual ? AV_NN_ACT_NONE : pc->act,
                                        .alpha = pc->act == AV_NN_ACT_LEAKY ? 0.1f : 0.0f}}};
    tt_node(g, AV_NN_OP_CONV2D, "pw",
            (av_nn__tid[]){x, tt_const(g, "w", AV_NN_F32, 4, (int64_t[]){pc->o, 1, 1, pc->k}, w),
                           tt_const(g, "b", AV_NN_F32, 1, (int64_t[]){pc->o}, w + pc->o * pc->k)},
            3, pc->residual ? &c : &y, 1, &p);
    if (pc->residual) { /* the add fuses into the conv (pass_fuse.c) */
        av_nn__params add = {.binary = {.kind = AV_NN_BIN_ADD,
                                        .act = {.kind = pc->act}}};
        tt_node(g, AV_NN_OP_BINARY, "add", (av_nn__tid[]){c, x}, 2, &y, 1, &add);
    }
    CHECK(av_nn__mark_output(g, y) >= 0);
    free(w);
    return g;
}

static void check_pw(const pw_case *pc)
{
    int64_t nx = pc->h * pc->w * pc->k, ny = pc->h * pc->w * pc->o;
    float *x = malloc((size_t)nx * sizeof *x), *want = calloc((size_t)ny, 4);
    float *on = calloc((size_t)ny, 4), *off = calloc((size_t)ny, 4);
    CHECK(x && want && on && off);
    tt_fill(x, nx, (uint32_t)(nx + pc->o), -2, 2);
    const void *in[1] = {x};
    tt_run_backend(pw_graph(pc), AV_NN_BACKEND_REFERENCE, in, (void *[]){want});
    for (int threads = 1; threads <= 2; threads++) {
        run_xnn(pw_graph(pc), true, false, threads, in, (void *[]){on});
        run_xnn(pw_graph(pc), false, false, threads, in, (void *[]){off});
        char what[128];
        snprintf(what, sizeof what, "pw %lldx%lld k%lld -> %lld act %d res %d, %d threads",
                 (long long)pc->h, (long long)pc->w, (long long)pc->k, (long long)pc->o,
                 (int)pc->act, pc->residual, threads);
        same_bits_near_ref(on, off, want, ny, what);
    }
    free(x), free(want), free(on), free(off);
}

TEST(pointwise_same_bits_on_and_off)
{
    static const int64_t ks[7] = {16, 18, 24, 32, 64, 72, 96};
    static const int64_t os[7] = {16, 64, 72, 8, 40, 96, 18};
    static const av_nn__act acts[6] = {AV_NN_ACT_RELU, AV_NN_ACT_NONE, AV_NN_ACT_RELU6,
                                       AV_NN_ACT_HARDSWISH, AV_NN_ACT_LEAKY, AV_NN_ACT_SIGMOID};
    nf_reseed(15);
    for (int it = 0; it < 28; it++) {
        pw_case pc = {.h = 1 + nf_rnd() % 23, .w = 1 + nf_rnd() % 31, .k = ks[it % 7],
                      .o = os[(it / 7 + it * 3) % 7], .act = acts[(it / 4) % 6]};
        check_pw(&pc);
    }
    /* the residual in registers: 16 -> 16, 32 -> 32, 72 -> 72 (+ relu after the add) */
    check_pw(&(pw_case){.h = 13, .w = 17, .k = 16, .o = 16, .residual = true});
    check_pw(&(pw_case){.h = 5, .w = 11, .k = 72, .o = 72, .residual = true});
    check_pw(&(pw_case){.h = 7, .w = 9, .k = 32, .o = 32, .act = AV_NN_ACT_RELU,
                        .residual = true});
}

/* ---- the real CenterNet ---- */

#define MODEL "models/human/centernet.json"

/* All outputs of CenterNet on x with the front's paths on or off, into bufs. */
static void centernet_run(bool front, int threads, const float *x, void **bufs, size_t *bytes)
{
    char err[512] = "";
    av_nn_model *m = NULL;
    CHECK_MSG(av_nn_load(MODEL, &m, err, sizeof err) == AV_NN_OK, "%s", err);
    nf_output_bytes(m, 3, 8u << 20, bytes);
    av_nn__front_force_off(!front);
    av_nn_ctx *c = nf_ctx(m, AV_NN_BACKEND_XNNPACK, threads, 0);
    av_nn__front_force_off(false);
    CHECK_MSG(av_nn_run(c, (const void *[]){x}, bufs, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn_ctx_free(c);
    av_nn_model_free(m);
}

TEST(centernet_outputs_same_bits)
{
    if (access(MODEL, R_OK) != 0)
        SKIP(MODEL " missing (run scripts/setup)");
    size_t n_in = 512 * 512 * 3, bytes[3];
    float *x = malloc(n_in * sizeof *x);
    void *on[3], *off[3];
    CHECK(x);
    for (int i = 0; i < 3; i++) {
        on[i] = malloc(8u << 20), off[i] = malloc(8u << 20);
        CHECK(on[i] && off[i]);
    }
    tt_fill(x, (int64_t)n_in, 99, 0, 1);
    for (int threads = 1; threads <= 2; threads++) {
        centernet_run(true, threads, x, on, bytes);
        centernet_run(false, threads, x, off, bytes);
        for (int i = 0; i < 3; i++)
            CHECK_MSG(memcmp(on[i], off[i], bytes[i]) == 0, "output %d, %d threads", i, threads);
    }
    for (int i = 0; i < 3; i++)
        free(on[i]), free(off[i]);
    free(x);
}

TEST_MAIN(T(front_same_bits_on_and_off), T(pointwise_same_bits_on_and_off),
          T(centernet_outputs_same_bits))
