/*
 * t_nn_xnn_elem.c - the XNNPACK backend's pooling, mean, resize and
 * elementwise operators (our SiLU, sigmoid and hard-swish kernels, top-k
 * included), f32 and quantised, against the reference kernels one node at a
 * time (tests/nn_fixture.h), and the cases it must refuse.
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"
#include "nn/xnn/xnn_impl.h" /* av_nn__xnn_silu_with */

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- pooling, mean, resize ---- */

static void pool(uint64_t seed, av_nn__op op, av_nn_dtype dt, const int64_t *xd,
                 av_nn__pool_params p, float scale, int32_t zp, float oscale, int32_t ozp)
{
    av_nn__graph *g = nf_new_graph(seed);
    av_nn__tid x = nf_act_in(g, dt, xd, 4, scale, zp);
    av_nn__params pp = {.pool = p};
    nf_check_node(g, nf_add(g, op, &x, 1, nf_out_t(g, oscale, ozp), &pp));
}

TEST(max_pool_f32)
{
    pool(30, AV_NN_OP_MAX_POOL2D, AV_NN_F32, D(1, 9, 10, 3),
         nf_pp(3, 2, AV_NN_PAD_SAME, AV_NN_ACT_NONE), 0, 0, 0, 0);
    pool(31, AV_NN_OP_MAX_POOL2D, AV_NN_F32, D(2, 8, 8, 5),
         nf_pp(2, 2, AV_NN_PAD_VALID, AV_NN_ACT_RELU), 0, 0, 0, 0);
    av_nn__pool_params p = nf_pp(3, 2, AV_NN_PAD_EXPLICIT, AV_NN_ACT_NONE);
    p.ceil_mode = true, p.pad_top = p.pad_left = 1;
    pool(32, AV_NN_OP_MAX_POOL2D, AV_NN_F32, D(1, 10, 10, 2), p, 0, 0, 0, 0);
    p = nf_pp(2, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE);
    p.dilation_h = p.dilation_w = 2;
    pool(33, AV_NN_OP_MAX_POOL2D, AV_NN_F32, D(1, 7, 7, 4), p, 0, 0, 0, 0);
}

TEST(avg_pool_f32)
{
    pool(34, AV_NN_OP_AVG_POOL2D, AV_NN_F32, D(1, 8, 8, 3),
         nf_pp(2, 2, AV_NN_PAD_VALID, AV_NN_ACT_NONE), 0, 0, 0, 0);
    /* SAME padding, excluded from the count (TF) */
    pool(35, AV_NN_OP_AVG_POOL2D, AV_NN_F32, D(1, 9, 7, 4),
         nf_pp(3, 2, AV_NN_PAD_SAME, AV_NN_ACT_RELU6), 0, 0, 0, 0);
    pool(36, AV_NN_OP_AVG_POOL2D, AV_NN_F32, D(1, 7, 7, 16),
         nf_pp(7, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE), 0, 0, 0, 0);
}

TEST(pool_refusals)
{
    /* count_include_pad with padding: XNNPACK would divide by the valid pixels only */
    av_nn__graph *g = nf_new_graph(37);
    av_nn__pool_params p = nf_pp(3, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE);
    p.count_include_pad = true;
    av_nn__params par = {.pool = p};
    av_nn__tid x = nf_act_in(g, AV_NN_F32, SH(1, 5, 5, 2), 0, 0);
    nf_check_refused(g, nf_add(g, AV_NN_OP_AVG_POOL2D, &x, 1, nf_out_t(g, 0, 0), &par));
    /* 1x1 windows */
    g = nf_new_graph(38);
    par.pool = nf_pp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE);
    x = nf_act_in(g, AV_NN_F32, SH(1, 5, 5, 2), 0, 0);
    nf_check_refused(g, nf_add(g, AV_NN_OP_MAX_POOL2D, &x, 1, nf_out_t(g, 0, 0), &par));
    /* windows lying wholly in the padding */
    g = nf_new_graph(39);
    par.pool = nf_pp(2, 2, AV_NN_PAD_EXPLICIT, AV_NN_ACT_NONE);
    par.pool.pad_top = par.pool.pad_left = 2;
    x = nf_act_in(g, AV_NN_F32, SH(1, 5, 5, 2), 0, 0);
    nf_check_refused(g, nf_add(g, AV_NN_OP_MAX_POOL2D, &x, 1, nf_out_t(g, 0, 0), &par));
}

static void mean(uint64_t seed, av_nn_dtype dt, const int64_t *xd, int r, uint32_t mask, bool keep,
                 float s, int32_t zp, float os, int32_t ozp)
{
    av_nn__graph *g = nf_new_graph(seed);
    av_nn__tid x = nf_act_in(g, dt, xd, r, s, zp);
    av_nn__params p = {.reduce = {.kind = AV_NN_REDUCE_MEAN, .axes_mask = mask, .keep_dims = keep}};
    nf_check_node(g, nf_add(g, AV_NN_OP_REDUCE, &x, 1, nf_out_t(g, os, ozp), &p));
}

TEST(reduce_mean_f32)
{
    mean(40, AV_NN_F32, SH(2, 7, 7, 16), 0x6, true, 0, 0, 0, 0);
    mean(41, AV_NN_F32, SH(1, 5, 6, 3), 0x6, false, 0, 0, 0, 0);
    mean(42, AV_NN_F32, SH(3, 10), 0x2, false, 0, 0, 0, 0);
    mean(43, AV_NN_F32, SH(2, 3, 4, 5), 0x1, true, 0, 0, 0, 0);
}

TEST(reduce_refusals)
{
    av_nn__graph *g = nf_new_graph(44);
    av_nn__tid x = nf_act_in(g, AV_NN_F32, SH(2, 3, 4, 5), 0, 0);
    av_nn__params p = {.reduce = {.kind = AV_NN_REDUCE_MEAN, .axes_mask = 0x5, .keep_dims = true}};
    nf_check_refused(g,
                     nf_add(g, AV_NN_OP_REDUCE, &x, 1, nf_out_t(g, 0, 0), &p)); /* not contiguous */
    g = nf_new_graph(45);
    x = nf_act_in(g, AV_NN_F32, SH(2, 3, 4, 5), 0, 0);
    p.reduce.kind = AV_NN_REDUCE_SUM, p.reduce.axes_mask = 0x6;
    nf_check_refused(g, nf_add(g, AV_NN_OP_REDUCE, &x, 1, nf_out_t(g, 0, 0), &p));
}

static void resize(uint64_t seed, av_nn_dtype dt, av_nn__coord_mode coord, const int64_t *xd,
                   int oh, int ow, float s, int32_t zp)
{
    av_nn__graph *g = nf_new_graph(seed);
    av_nn__tid x = nf_act_in(g, dt, xd, 4, s, zp);
    av_nn__params p = {
        .resize = {.mode = AV_NN_RESIZE_BILINEAR, .coord = coord, .out_h = oh, .out_w = ow}};
    nf_check_node(g, nf_add(g, AV_NN_OP_RESIZE, &x, 1, nf_out_t(g, s, zp), &p));
}

TEST(resize_bilinear_f32_modes)
{
    av_nn__coord_mode modes[] = {AV_NN_COORD_ASYMMETRIC, AV_NN_COORD_ALIGN_CORNERS,
                                 AV_NN_COORD_HALF_PIXEL, AV_NN_COORD_PYTORCH_HALF_PIXEL};
    for (int m = 0; m < 4; m++) {
        resize(50 + (uint64_t)m, AV_NN_F32, modes[m], D(1, 5, 7, 3), 11, 16, 0, 0); /* up */
        resize(60 + (uint64_t)m, AV_NN_F32, modes[m], D(2, 12, 9, 2), 5, 4, 0, 0); /* down */
        resize(70 + (uint64_t)m, AV_NN_F32, modes[m], D(1, 4, 4, 8), 8, 8, 0, 0); /* x2 */
    }
}

TEST(resize_refusals)
{
    av_nn__graph *g = nf_new_graph(80);
    av_nn__tid x = nf_act_in(g, AV_NN_F32, SH(1, 4, 4, 2), 0, 0);
    av_nn__params p = {.resize = {.mode = AV_NN_RESIZE_NEAREST, .out_h = 8, .out_w = 8}};
    nf_check_refused(g, nf_add(g, AV_NN_OP_RESIZE, &x, 1, nf_out_t(g, 0, 0), &p));
    g = nf_new_graph(81);
    x = nf_act_in(g, AV_NN_F32, SH(1, 4, 4, 2), 0, 0);
    p.resize = (av_nn__resize_params){.mode = AV_NN_RESIZE_BILINEAR,
                                      .coord = AV_NN_COORD_PYTORCH_HALF_PIXEL,
                                      .out_h = 1,
                                      .out_w = 8};
    nf_check_refused(g, nf_add(g, AV_NN_OP_RESIZE, &x, 1, nf_out_t(g, 0, 0), &p));
}

/* ---- elementwise ---- */

static void binary(uint64_t seed, av_nn__binary_kind k, av_nn_dtype dt, const int64_t *ad, int ar,
                   const int64_t *bd, int br, bool b_const, av_nn__act act, float as, int32_t az,
                   float bs, int32_t bz, float ys, int32_t yz)
{
    av_nn__graph *g = nf_new_graph(seed);
    av_nn__tid in[2];
    in[0] = nf_act_in(g, dt, ad, ar, as, az);
    if (b_const) { /* divisors away from zero: magnitudes in [0.5, 2] with random sign */
        in[1] = nf_konst(g, dt, bd, br, 0.5f, 2.0f);
        float *v = g->tensors[in[1]].data;
        for (int64_t i = 0; dt == AV_NN_F32 && i < nf_prod(bd, br); i++)
            v[i] = (nf_rnd() & 1) ? v[i] : -v[i];
        nf_set_q(g, in[1], bs, bz);
    } else {
        in[1] = nf_act_in(g, dt, bd, br, bs, bz);
    }
    av_nn__params p = {.binary = {.kind = k, .act = nf_act(act)}};
    nf_check_node(g, nf_add(g, AV_NN_OP_BINARY, in, 2, nf_out_t(g, ys, yz), &p));
}

TEST(binary_f32_broadcast)
{
    av_nn__binary_kind kinds[] = {AV_NN_BIN_ADD,         AV_NN_BIN_SUB, AV_NN_BIN_MUL,
                                  AV_NN_BIN_DIV,         AV_NN_BIN_MAX, AV_NN_BIN_MIN,
                                  AV_NN_BIN_SQUARED_DIFF};
    for (int i = 0; i < 7; i++) {
        uint64_t s = 100 + (uint64_t)i * 10;
        binary(s, kinds[i], AV_NN_F32, SH(2, 3, 4, 5), SH(2, 3, 4, 5), true, AV_NN_ACT_NONE, 0, 0,
               0, 0, 0, 0);
        binary(s + 1, kinds[i], AV_NN_F32, SH(2, 3, 4, 5), SH(3, 1, 5), true, AV_NN_ACT_NONE, 0, 0,
               0, 0, 0, 0);
        binary(s + 2, kinds[i], AV_NN_F32, SH(4, 1), SH(1, 2, 1, 6), true, AV_NN_ACT_RELU, 0, 0, 0,
               0, 0, 0);
        binary(s + 3, kinds[i], AV_NN_F32, SH(1), SH(2, 1, 3, 1, 2, 3), true, AV_NN_ACT_CLAMP, 0, 0,
               0, 0, 0, 0);
        binary(s + 4, kinds[i], AV_NN_F32, SH(3, 7), SH(3, 7), true, AV_NN_ACT_LEAKY, 0, 0, 0, 0, 0,
               0);
        binary(s + 5, kinds[i], AV_NN_F32, SH(3, 7), D(1), 0, true, AV_NN_ACT_NONE, 0, 0, 0, 0, 0,
               0); /* rank-0 operand */
    }
    binary(180, AV_NN_BIN_ADD, AV_NN_F32, SH(3, 7), SH(3, 7), true, AV_NN_ACT_SILU, 0, 0, 0, 0, 0,
           0);
    /* both operands at run time */
    binary(190, AV_NN_BIN_ADD, AV_NN_F32, SH(1, 8, 8, 16), SH(1, 8, 8, 16), false, AV_NN_ACT_RELU6,
           0, 0, 0, 0, 0, 0);
}

static void unary1(uint64_t seed, av_nn__unary_kind k, float alpha, float lo, float hi,
                   bool quarter)
{
    av_nn__graph *g = nf_new_graph(seed);
    nf_range(lo, hi, quarter);
    av_nn__tid x = nf_act_in(g, AV_NN_F32, SH(3, 5, 7), 0, 0);
    av_nn__params p = {.unary = {.kind = k, .alpha = alpha}};
    nf_check_node(g, nf_add(g, AV_NN_OP_UNARY, &x, 1, nf_out_t(g, 0, 0), &p));
}

TEST(unary_f32)
{
    unary1(200, AV_NN_UN_ABS, 0, -3, 3, false);
    unary1(201, AV_NN_UN_NEG, 0, -3, 3, false);
    unary1(202, AV_NN_UN_SQRT, 0, 0, 9, false);
    unary1(203, AV_NN_UN_SQUARE, 0, -3, 3, false);
    unary1(204, AV_NN_UN_FLOOR, 0, -3, 3, true);
    unary1(205, AV_NN_UN_CEIL, 0, -3, 3, true);
    unary1(206, AV_NN_UN_ROUND, 0, -3, 3, true); /* ties go to even */
    unary1(207, AV_NN_UN_SIGMOID, 0, -8, 8, false);
    unary1(208, AV_NN_UN_HARDSWISH, 0, -5, 5, false);
    unary1(213, AV_NN_UN_HARDSWISH, 0.166625977f, -5, 5, false); /* TF.js's f16 1/6: our kernel */
    unary1(209, AV_NN_UN_ELU, 0.7f, -4, 4, false);
    unary1(210, AV_NN_UN_RELU, 0, -3, 3, false);
}

/* Every SiLU kernel this CPU has (portable, AVX2+FMA, AVX-512F) against
 * x / (1 + exp(-x)) in double: sizes that leave vector tails and span pool
 * tasks, values up to the exp cut-off and past it, signed zeros, NaN, out of
 * place and in place, on the pool and on the caller's thread. */
TEST(silu_kernels_odd_sizes)
{
    static const size_t sizes[] = {1, 3, 7, 8, 15, 17, 31, 33, 16385, 40001};
    static const float special[] = {0.0f,   -0.0f,   88.0f,  -88.0f,  87.4f, -87.4f,
                                    100.0f, -100.0f, 1e-30f, -1e-30f, 20.0f, -20.0f};
    int kernels = 0;
    for (int k = 0; k < 3; k++) {
        for (int si = 0; si < 10; si++) {
            size_t n = sizes[si];
            float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
            CHECK(x && y);
            nf_reseed(300 + (uint64_t)si);
            for (size_t i = 0; i < n; i++)
                x[i] = i < 12 && n >= 12 ? special[i] : nf_frand(-30, 30);
            if (n > 40)
                x[n / 2] = NAN;
            if (!av_nn__xnn_silu_with(k, x, y, n, si % 2 ? nf_pool() : NULL)) {
                free(x), free(y);
                break; /* not on this CPU */
            }
            for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < n; i++) {
                    double v = x[i], want = v / (1 + exp(-v));
                    double tol = 2e-6 * (fabs(want) > 1e-3 ? fabs(want) : 1e-3);
                    CHECK_MSG(fabs(y[i] - want) <= tol || (isnan(want) && isnan(y[i])),
                              "kernel %d n %zu pass %d: silu(%.9g) = %.9g, want %.9g", k, n, pass,
                              v, y[i], want);
                }
                if (pass == 0) { /* in place */
                    float *keep = malloc(n * sizeof *keep);
                    CHECK(keep);
                    memcpy(keep, x, n * sizeof *x);
                    memcpy(y, x, n * sizeof *x);
                    CHECK(av_nn__xnn_silu_with(k, y, y, n, nf_pool()));
                    memcpy(x, keep, n * sizeof *x);
                    free(keep);
                }
            }
            free(x), free(y);
            if (si == 9)
                kernels++;
        }
    }
    CHECK(kernels >= 1); /* the portable one at least */
}

/* The fusion pays exactly where a vector kernel exists; forced to act as a CPU without AVX2,
 * the engine's SiLU is the portable kernel's, bit for bit. */
TEST(silu_forced_portable)
{
    enum { N = 1031 };
    static float x[N], y0[N], y1[N];
    nf_reseed(231);
    for (int i = 0; i < N; i++)
        x[i] = nf_frand(-9, 9);
    bool vec = av_nn__xnn_silu_with(1, x, y1, N, NULL) || av_nn__xnn_silu_with(2, x, y1, N, NULL);
    CHECK_EQ_INT(av_nn__silu_fusion_pays(), vec);
    av_nn__silu_force_portable(true);
    CHECK(!av_nn__silu_fusion_pays());
    CHECK(av_nn__xnn_silu_with(0, x, y0, N, NULL));
    av_nn__xnn_silu(x, y1, N, nf_pool());
    av_nn__silu_force_portable(false);
    CHECK(memcmp(y0, y1, sizeof y0) == 0);
}

/* The row sigmoid of our convolution's epilogue, vector and portable, against
 * 1 / (1 + exp(-x)) in double over sizes that leave tails. */
TEST(sigmoid_span_both_kernels)
{
    for (int portable = 0; portable < 2; portable++) {
        av_nn__silu_force_portable(portable);
        for (size_t n = 1; n < 40; n += 3) {
            float y[40], x[40];
            nf_reseed(500 + n);
            for (size_t i = 0; i < n; i++)
                x[i] = y[i] = i == 0 ? -100.0f : i == 1 ? 100.0f : nf_frand(-20, 20);
            av_nn__xnn_sigmoid_span(y, n);
            for (size_t i = 0; i < n; i++) {
                double want = 1 / (1 + exp(-(double)x[i]));
                CHECK_MSG(fabs(y[i] - want) <= 2e-6 * (want > 1e-3 ? want : 1e-3),
                          "portable %d n %zu: sigmoid(%.9g) = %.9g, want %.9g", portable, n, x[i],
                          y[i], want);
            }
        }
    }
    av_nn__silu_force_portable(false);
}

/* Scaled hard-swish over sizes that leave vector tails and span pool tasks. */
TEST(hardswish_scaled_odd_sizes)
{
    static const int64_t sizes[] = {1, 3, 5, 4099, 8195 * 3};
    for (int i = 0; i < 5; i++) {
        av_nn__graph *g = nf_new_graph(214 + (uint64_t)i);
        nf_range(-7, 7, false);
        av_nn__tid x = nf_act_in(g, AV_NN_F32, &sizes[i], 1, 0, 0);
        av_nn__params p = {.unary = {.kind = AV_NN_UN_HARDSWISH, .alpha = 0.2f + 0.01f * i}};
        nf_check_node(g, nf_add(g, AV_NN_OP_UNARY, &x, 1, nf_out_t(g, 0, 0), &p));
    }
}

/* One top-k node on both backends, outputs compared bit for bit (values and indices: the
 * order is total, ties by lower index, so any correct selection gives the same bytes). */
static void topk_exact(uint64_t seed, const int64_t *xd, int r, int axis, int k, bool largest,
                       av_nn_dtype idx, int specials, bool all_equal)
{
    av_nn__graph *g = nf_new_graph(seed);
    float v = all_equal ? 0.5f : 2.0f;
    nf_range(all_equal ? v : -v, v, true); /* 17 distinct values: ties everywhere */
    av_nn__tid x = nf_act_in(g, AV_NN_F32, xd, r, 0, 0);
    av_nn__tid o[2] = {av_nn__add_tensor(g, "v", AV_NN_F32, -1, NULL, NULL, false),
                       av_nn__add_tensor(g, "i", idx, -1, NULL, NULL, false)};
    CHECK(o[0] >= 0 && o[1] >= 0);
    av_nn__params p = {
        .topk = {.k = k, .axis = axis, .largest = largest, .sorted = true, .index_dtype = idx}};
    int ni = av_nn__add_node(g, AV_NN_OP_TOPK, "topk", &x, 1, o, 2, &p);
    CHECK(ni >= 0);
    char err[256] = "";
    CHECK_MSG(av_nn__infer_node(g, &g->nodes[ni], err, sizeof err) == AV_NN_OK, "%s", err);
    const av_nn__node *n = &g->nodes[ni];
    const av_nn__backend *be = &av_nn__backend_xnn;
    CHECK_MSG(be->supports_op(g, n), "xnn refused top-k seed %llu", (unsigned long long)seed);
    const av_nn__tensor *xt = &g->tensors[x];
    int64_t nx = av_nn__numel(xt);
    float *xv = nf_buf(xt);
    nf_fill(xv, AV_NN_F32, nx);
    for (int q = 0; q < specials; q++) { /* NaN, -0 and the extremes, some in the winners */
        static const float sp[] = {NAN, -0.0f, 0.0f, 1e30f, -1e30f, INFINITY, -INFINITY};
        xv[nf_rnd() % (uint32_t)nx] = sp[q % 7];
    }
    void *ref[2] = {nf_buf(&g->tensors[o[0]]), nf_buf(&g->tensors[o[1]])};
    void *got[2] = {nf_buf(&g->tensors[o[0]]), nf_buf(&g->tensors[o[1]])};
    const void *in[1] = {xv};
    CHECK_MSG(av_nn__ref_run(g, n, in, ref, err, sizeof err) == AV_NN_OK, "ref: %s", err);
    void *state = NULL;
    CHECK_MSG(be->prepare(g, n, nf_pool(), &state, err, sizeof err) == AV_NN_OK, "%s", err);
    for (int pass = 0; pass < 2; pass++) { /* on the pool, then on the caller's thread */
        for (int q = 0; q < 2; q++)
            memset(got[q], 0xa5, (size_t)av_nn__nbytes(&g->tensors[o[q]]));
        CHECK_MSG(be->run(state, g, n, in, got, pass ? NULL : nf_pool(), err, sizeof err) ==
                      AV_NN_OK,
                  "run: %s", err);
        for (int q = 0; q < 2; q++)
            CHECK_MSG(memcmp(got[q], ref[q], (size_t)av_nn__nbytes(&g->tensors[o[q]])) == 0,
                      "seed %llu k %d largest %d: %s differ from the reference",
                      (unsigned long long)seed, k, largest, q ? "indices" : "values");
    }
    be->release(state);
    for (int q = 0; q < 2; q++) {
        free(ref[q]);
        free(got[q]);
    }
    free(xv);
    av_nn__graph_free(g);
}

/* Top-k on the pool against the reference: odd row lengths (vector tails, one and several
 * pool tasks), k from 1 to the 256 limit and up to the whole row, largest and smallest,
 * both index dtypes, several rows, trailing unit axes, NaN / -0 / infinities. */
TEST(topk_random_ties_exact)
{
    static const int64_t lens[] = {1, 7, 17, 100, 4099, 65536 * 3 + 5};
    static const int ks[] = {1, 5, 100, 256};
    uint64_t seed = 700;
    for (int l = 0; l < 6; l++)
        for (int q = 0; q < 4; q++) {
            int k = ks[q] < lens[l] ? ks[q] : (int)lens[l];
            for (int m = 0; m < 2; m++) {
                seed++;
                topk_exact(seed, SH(lens[l]), 0, k, m == 0, m ? AV_NN_I64 : AV_NN_I32,
                           (int)(seed % 4) * 5, false);
            }
        }
    topk_exact(800, SH(3, 1001), 1, 37, true, AV_NN_I32, 9, false);
    topk_exact(801, SH(2, 140001, 1), 1, 100, true, AV_NN_I64, 12, false);
    topk_exact(802, SH(2, 3, 333), -1, 250, false, AV_NN_I32, 4, false);
    /* all values equal: the lowest indices win */
    topk_exact(803, SH(70001), 0, 256, true, AV_NN_I32, 0, true);
}

/* Off the fast path, left to the reference: other dtypes, k over 256, rows not contiguous. */
TEST(topk_refusals)
{
    static const av_nn_dtype dts[] = {AV_NN_F16, AV_NN_U8, AV_NN_I8, AV_NN_I32, AV_NN_I64};
    for (int i = 0; i < 5 + 2; i++) {
        av_nn__graph *g = nf_new_graph(820 + (uint64_t)i);
        av_nn_dtype dt = i < 5 ? dts[i] : AV_NN_F32;
        av_nn__tid x = nf_act_in(g, dt, i == 6 ? D(40, 3) : D(1, 300), 2, 0, 0);
        av_nn__tid o[2] = {av_nn__add_tensor(g, "v", dt, -1, NULL, NULL, false),
                           av_nn__add_tensor(g, "i", AV_NN_I32, -1, NULL, NULL, false)};
        av_nn__params p = {.topk = {.k = i == 5 ? 257 : 3,
                                    .axis = i == 6 ? 0 : 1,
                                    .largest = true,
                                    .index_dtype = AV_NN_I32}};
        int ni = av_nn__add_node(g, AV_NN_OP_TOPK, "topk", &x, 1, o, 2, &p);
        CHECK(ni >= 0);
        char err[256] = "";
        CHECK_MSG(av_nn__infer_node(g, &g->nodes[ni], err, sizeof err) == AV_NN_OK, "%s", err);
        nf_check_refused(g, ni);
    }
}

TEST(unary_refusals)
{
    av_nn__graph *g = nf_new_graph(211);
    av_nn__tid x = nf_act_in(g, AV_NN_F32, SH(4), 0, 0);
    av_nn__params p = {.unary = {.kind = AV_NN_UN_TANH}}; /* no f32 tanh in this XNNPACK */
    nf_check_refused(g, nf_add(g, AV_NN_OP_UNARY, &x, 1, nf_out_t(g, 0, 0), &p));
    g = nf_new_graph(212);
    x = nf_act_in(g, AV_NN_F32, SH(4), 0, 0);
    p.unary = (av_nn__unary_params){.kind = AV_NN_UN_ELU, .alpha = 0.0f};
    nf_check_refused(g, nf_add(g, AV_NN_OP_UNARY, &x, 1, nf_out_t(g, 0, 0), &p));
}

TEST(clamp_leaky_prelu_f32)
{
    av_nn__graph *g = nf_new_graph(220);
    av_nn__tid x = nf_act_in(g, AV_NN_F32, SH(2, 3, 5), 0, 0);
    av_nn__params p = {.clamp = {-0.25f, 1.5f}};
    nf_check_node(g, nf_add(g, AV_NN_OP_CLAMP, &x, 1, nf_out_t(g, 0, 0), &p));
    g = nf_new_graph(221);
    x = nf_act_in(g, AV_NN_F32, SH(2, 3, 5), 0, 0);
    p.clamp = (av_nn__clamp_params){0.0f, INFINITY};
    nf_check_node(g, nf_add(g, AV_NN_OP_CLAMP, &x, 1, nf_out_t(g, 0, 0), &p));
    g = nf_new_graph(222);
    x = nf_act_in(g, AV_NN_F32, SH(2, 3, 5), 0, 0);
    p.leaky.alpha = 0.2f;
    nf_check_node(g, nf_add(g, AV_NN_OP_LEAKY_RELU, &x, 1, nf_out_t(g, 0, 0), &p));
    /* PRELU with per-channel slopes [1,1,C] and with one slope */
    g = nf_new_graph(223);
    av_nn__tid in[2];
    in[0] = nf_act_in(g, AV_NN_F32, SH(1, 4, 6, 8), 0, 0);
    in[1] = nf_konst(g, AV_NN_F32, SH(1, 1, 8), -0.5f, 0.5f);
    nf_check_node(g, nf_add(g, AV_NN_OP_PRELU, in, 2, nf_out_t(g, 0, 0), NULL));
    g = nf_new_graph(224);
    in[0] = nf_act_in(g, AV_NN_F32, SH(3, 7), 0, 0);
    in[1] = nf_konst(g, AV_NN_F32, SH(1), 0.1f, 0.3f);
    nf_check_node(g, nf_add(g, AV_NN_OP_PRELU, in, 2, nf_out_t(g, 0, 0), NULL));
    /* slopes varying along a non-channel axis: refused */
    g = nf_new_graph(225);
    in[0] = nf_act_in(g, AV_NN_F32, SH(1, 4, 6, 8), 0, 0);
    in[1] = nf_konst(g, AV_NN_F32, SH(4, 1, 1), -0.5f, 0.5f);
    nf_check_refused(g, nf_add(g, AV_NN_OP_PRELU, in, 2, nf_out_t(g, 0, 0), NULL));
}

TEST(softmax_f32)
{
    av_nn__graph *g = nf_new_graph(230);
    nf_range(-6, 6, false);
    av_nn__tid x = nf_act_in(g, AV_NN_F32, SH(4, 965), 0, 0);
    av_nn__params p = {.softmax = {.axis = 1, .beta = 1.0f}};
    nf_check_node(g, nf_add(g, AV_NN_OP_SOFTMAX, &x, 1, nf_out_t(g, 0, 0), &p));
    g = nf_new_graph(231);
    x = nf_act_in(g, AV_NN_F32, SH(4, 10), 0, 0);
    p.softmax = (av_nn__softmax_params){.axis = 0, .beta = 1.0f}; /* not the last axis */
    nf_check_refused(g, nf_add(g, AV_NN_OP_SOFTMAX, &x, 1, nf_out_t(g, 0, 0), &p));
}

static void pad(uint64_t seed, av_nn_dtype dt, float s, int32_t zp, float value)
{
    av_nn__graph *g = nf_new_graph(seed);
    av_nn__tid x = nf_act_in(g, dt, SH(2, 3, 4, 5), s, zp);
    av_nn__params p = {.pad = {.mode = AV_NN_PADMODE_CONSTANT,
                               .value = value,
                               .before = {0, 1, 2, 0},
                               .after = {1, 0, 3, 2},
                               .resolved = true}};
    nf_check_node(g, nf_add(g, AV_NN_OP_PAD, &x, 1, nf_out_t(g, s, zp), &p));
}

TEST(pad_constant)
{
    pad(240, AV_NN_F32, 0, 0, 0.0f);
    pad(241, AV_NN_F32, 0, 0, -1.5f);
    pad(242, AV_NN_U8, 0.05f, 117, 0.0f); /* quantised zero: the zero point */
    pad(243, AV_NN_I8, 0.1f, -3, 1.0f);
    pad(244, AV_NN_F16, 0, 0, 2.5f);
}

TEST(pool_mean_resize_u8)
{
    pool(340, AV_NN_OP_AVG_POOL2D, AV_NN_U8, D(1, 7, 7, 32),
         nf_pp(7, 2, AV_NN_PAD_VALID, AV_NN_ACT_NONE), 0.0235f, 0, 0.0235f, 0);
    pool(341, AV_NN_OP_AVG_POOL2D, AV_NN_U8, D(1, 9, 9, 8),
         nf_pp(3, 2, AV_NN_PAD_VALID, AV_NN_ACT_RELU), 0.05f, 100, 0.04f, 90);
    pool(342, AV_NN_OP_MAX_POOL2D, AV_NN_U8, D(1, 9, 9, 8),
         nf_pp(3, 2, AV_NN_PAD_SAME, AV_NN_ACT_RELU6), 0.05f, 100, 0.05f, 100);
    mean(343, AV_NN_U8, SH(1, 7, 7, 1280), 0x6, true, 0.0235f, 0, 0.0235f, 0);
    mean(344, AV_NN_U8, SH(2, 5, 5, 16), 0x6, false, 0.05f, 128, 0.03f, 120);
    mean(345, AV_NN_I8, SH(2, 5, 5, 16), 0x6, false, 0.05f, -3, 0.03f, 4);
    resize(346, AV_NN_U8, AV_NN_COORD_ASYMMETRIC, D(1, 5, 7, 3), 11, 16, 0.1f, 7);
    resize(347, AV_NN_U8, AV_NN_COORD_HALF_PIXEL, D(1, 5, 7, 3), 11, 16, 0.1f, 7);
    resize(348, AV_NN_U8, AV_NN_COORD_ALIGN_CORNERS, D(1, 6, 6, 5), 3, 4, 0.1f, 7);
}

TEST(avg_pool_qu8_padded_refused)
{
    /* XNNPACK's qu8 average pooling counts padding (as zero points); TFLite does not */
    av_nn__graph *g = nf_new_graph(349);
    av_nn__tid x = nf_act_in(g, AV_NN_U8, SH(1, 9, 9, 8), 0.05f, 100);
    av_nn__params p = {.pool = nf_pp(3, 2, AV_NN_PAD_SAME, AV_NN_ACT_NONE)};
    nf_check_refused(g, nf_add(g, AV_NN_OP_AVG_POOL2D, &x, 1, nf_out_t(g, 0.05f, 100), &p));
}

TEST(binary_q)
{
    binary(350, AV_NN_BIN_ADD, AV_NN_U8, SH(1, 8, 8, 24), SH(1, 8, 8, 24), false, AV_NN_ACT_NONE,
           0.03f, 120, 0.02f, 131, 0.04f, 126);
    binary(351, AV_NN_BIN_ADD, AV_NN_U8, SH(2, 4, 6), SH(6), false, AV_NN_ACT_RELU6, 0.03f, 120,
           0.02f, 131, 0.04f, 126);
    binary(352, AV_NN_BIN_SUB, AV_NN_U8, SH(2, 4, 6), SH(4, 1), false, AV_NN_ACT_NONE, 0.03f, 120,
           0.02f, 131, 0.04f, 126);
    binary(353, AV_NN_BIN_MUL, AV_NN_U8, SH(2, 4, 6), SH(2, 4, 6), false, AV_NN_ACT_NONE, 0.03f,
           120, 0.02f, 131, 0.01f, 100);
    binary(354, AV_NN_BIN_ADD, AV_NN_I8, SH(3, 9), SH(3, 9), false, AV_NN_ACT_RELU, 0.03f, -2,
           0.02f, 5, 0.04f, -1);
    binary(355, AV_NN_BIN_MUL, AV_NN_I8, SH(3, 9), SH(1, 9), false, AV_NN_ACT_NONE, 0.03f, -2,
           0.02f, 5, 0.01f, 3);
}

TEST(elementwise_q)
{
    av_nn__graph *g = nf_new_graph(360);
    av_nn__tid x = nf_act_in(g, AV_NN_U8, SH(4, 965), 0.1f, 140);
    av_nn__params p = {.softmax = {.axis = -1, .beta = 1.0f}};
    nf_check_node(g, nf_add(g, AV_NN_OP_SOFTMAX, &x, 1, nf_out_t(g, 1.0f / 256, 0), &p));
    g = nf_new_graph(361);
    x = nf_act_in(g, AV_NN_U8, SH(3, 10), 0.2f, 128);
    p.softmax.beta = 0.5f;
    nf_check_node(g, nf_add(g, AV_NN_OP_SOFTMAX, &x, 1, nf_out_t(g, 1.0f / 256, 0), &p));
    g = nf_new_graph(362);
    x = nf_act_in(g, AV_NN_U8, SH(5, 7), 0.05f, 100);
    p.clamp = (av_nn__clamp_params){-1.0f, 2.0f};
    nf_check_node(g, nf_add(g, AV_NN_OP_CLAMP, &x, 1, nf_out_t(g, 0.05f, 100), &p));
    g = nf_new_graph(363);
    x = nf_act_in(g, AV_NN_U8, SH(5, 7), 0.05f, 100);
    p.unary = (av_nn__unary_params){.kind = AV_NN_UN_SIGMOID};
    nf_check_node(g, nf_add(g, AV_NN_OP_UNARY, &x, 1, nf_out_t(g, 1.0f / 256, 0), &p));
    g = nf_new_graph(364);
    x = nf_act_in(g, AV_NN_I8, SH(5, 7), 0.05f, 3);
    p.unary = (av_nn__unary_params){.kind = AV_NN_UN_TANH};
    nf_check_node(g, nf_add(g, AV_NN_OP_UNARY, &x, 1, nf_out_t(g, 1.0f / 128, 0), &p));
    /* sigmoid into a non-table output quantisation: refused */
    g = nf_new_graph(365);
    x = nf_act_in(g, AV_NN_U8, SH(5, 7), 0.05f, 100);
    p.unary = (av_nn__unary_params){.kind = AV_NN_UN_SIGMOID};
    nf_check_refused(g, nf_add(g, AV_NN_OP_UNARY, &x, 1, nf_out_t(g, 0.01f, 0), &p));
}

TEST_MAIN(T(silu_kernels_odd_sizes), T(silu_forced_portable), T(sigmoid_span_both_kernels),
          T(max_pool_f32), T(avg_pool_f32), T(pool_refusals), T(reduce_mean_f32),
          T(reduce_refusals), T(resize_bilinear_f32_modes), T(resize_refusals),
          T(binary_f32_broadcast), T(unary_f32), T(hardswish_scaled_odd_sizes), T(unary_refusals),
          T(topk_random_ties_exact), T(topk_refusals), T(clamp_leaky_prelu_f32), T(softmax_f32),
          T(pad_constant), T(pool_mean_resize_u8), T(avg_pool_qu8_padded_refused), T(binary_q),
          T(elementwise_q))
