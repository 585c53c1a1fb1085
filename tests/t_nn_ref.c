/*
 * t_nn_ref.c - reference kernels against hand-computed small cases, and the
 * quantised kernels against float math on dequantised values (within 1 LSB).
 */
#include "nn_test_util.h"

#include <math.h>

/* One conv2d on x [1,3,3,1] = 1..9 with w [1,2,2,1] = 1,2,3,4 and the given params. */
static void conv_case(av_nn__conv_params p, const float *bias, int64_t oh, int64_t ow,
                      const float *want)
{
    av_nn__graph *g = av_nn__graph_new();
    int64_t xd[4] = {1, 3, 3, 1}, wd[4] = {1, 2, 2, 1}, bd[1] = {1};
    float w[4] = {1, 2, 3, 4}, x[9], y[16];
    for (int i = 0; i < 9; i++)
        x[i] = (float)(i + 1);
    av_nn__tid in[3] = {tt_input(g, "x", AV_NN_F32, 4, xd), tt_const(g, "w", AV_NN_F32, 4, wd, w),
                        bias ? tt_const(g, "b", AV_NN_F32, 1, bd, bias) : -1};
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pp = {.conv = p};
    tt_node(g, AV_NN_OP_CONV2D, "conv", in, 3, &out, 1, &pp);
    av_nn__mark_output(g, out);
    const void *ins[1] = {x};
    void *outs[1] = {y};
    tt_run(g, ins, outs);
    for (int i = 0; i < oh * ow; i++)
        CHECK_NEAR(y[i], want[i], 1e-5);
}

TEST(conv_valid_bias)
{
    float b = 1, want[4] = {38, 48, 68, 78};
    conv_case((av_nn__conv_params){.padding = AV_NN_PAD_VALID}, &b, 2, 2, want);
}

TEST(conv_stride2_same)
{
    /* TF SAME, in 3, k 2, s 2: out 2, pad 0 top / 1 bottom */
    float want[4] = {37, 21, 23, 9};
    conv_case((av_nn__conv_params){.padding = AV_NN_PAD_SAME, .stride_h = 2, .stride_w = 2}, NULL,
              2, 2, want);
}

TEST(conv_dilation)
{
    float want[1] = {1 * 1 + 3 * 2 + 7 * 3 + 9 * 4};
    conv_case((av_nn__conv_params){.padding = AV_NN_PAD_VALID, .dilation_h = 2, .dilation_w = 2},
              NULL, 1, 1, want);
}

TEST(conv_explicit_pad)
{
    /* pad 1 all round: out 4x4; corners see one tap each */
    float want[16] = {4, 3 + 8, 6 + 12, 9, 2 + 16, 1 + 4 + 12 + 20, 0, 0, 0, 0, 0,
                      0, 7 * 2, 0,      0, 9 * 1};
    av_nn__conv_params p = {.padding = AV_NN_PAD_EXPLICIT,
                            .pad_top = 1,
                            .pad_left = 1,
                            .pad_bottom = 1,
                            .pad_right = 1};
    /* spot values only where hand-computed (others zeroed in want are skipped below) */
    av_nn__graph *g = av_nn__graph_new();
    int64_t xd[4] = {1, 3, 3, 1}, wd[4] = {1, 2, 2, 1};
    float w[4] = {1, 2, 3, 4}, x[9], y[16];
    for (int i = 0; i < 9; i++)
        x[i] = (float)(i + 1);
    av_nn__tid in[2] = {tt_input(g, "x", AV_NN_F32, 4, xd), tt_const(g, "w", AV_NN_F32, 4, wd, w)};
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pp = {.conv = p};
    tt_node(g, AV_NN_OP_CONV2D, "conv", in, 2, &out, 1, &pp);
    av_nn__mark_output(g, out);
    const void *ins[1] = {x};
    void *outs[1] = {y};
    tt_run(g, ins, outs);
    int idx[] = {0, 1, 2, 3, 4, 5, 12, 15};
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
        CHECK_NEAR(y[idx[i]], want[idx[i]], 1e-5);
}

TEST(conv_grouped)
{
    av_nn__graph *g = av_nn__graph_new();
    int64_t xd[4] = {1, 1, 1, 2}, wd[4] = {2, 1, 1, 1};
    float x[2] = {1, 2}, w[2] = {3, 4}, y[2];
    av_nn__tid in[2] = {tt_input(g, "x", AV_NN_F32, 4, xd), tt_const(g, "w", AV_NN_F32, 4, wd, w)};
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params p = {.conv = {.groups = 2, .padding = AV_NN_PAD_VALID}};
    tt_node(g, AV_NN_OP_CONV2D, "gconv", in, 2, &out, 1, &p);
    av_nn__mark_output(g, out);
    const void *ins[1] = {x};
    void *outs[1] = {y};
    tt_run(g, ins, outs);
    CHECK_NEAR(y[0], 3, 0);
    CHECK_NEAR(y[1], 8, 0);
}

TEST(depthwise_multiplier)
{
    av_nn__graph *g = av_nn__graph_new();
    int64_t xd[4] = {1, 1, 2, 2}, wd[4] = {1, 1, 2, 4};
    float x[4] = {1, 2, 3, 4}, w[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[4];
    av_nn__tid in[2] = {tt_input(g, "x", AV_NN_F32, 4, xd), tt_const(g, "w", AV_NN_F32, 4, wd, w)};
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params p = {.conv = {.padding = AV_NN_PAD_VALID}};
    tt_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw", in, 2, &out, 1, &p);
    av_nn__mark_output(g, out);
    const void *ins[1] = {x};
    void *outs[1] = {y};
    tt_run(g, ins, outs);
    float want[4] = {16, 20, 34, 40};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(y[i], want[i], 0);
}

TEST(transpose_conv_stride2)
{
    /* x [1,2,2,1] = 1..4, w [1,2,2,1] = 1 each, stride 2 VALID: every output gets one tap */
    av_nn__graph *g = av_nn__graph_new();
    int64_t xd[4] = {1, 2, 2, 1}, wd[4] = {1, 2, 2, 1};
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 1, 1}, y[16];
    av_nn__tid in[2] = {tt_input(g, "x", AV_NN_F32, 4, xd), tt_const(g, "w", AV_NN_F32, 4, wd, w)};
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params p = {.conv = {.padding = AV_NN_PAD_VALID, .stride_h = 2, .stride_w = 2}};
    tt_node(g, AV_NN_OP_TRANSPOSE_CONV2D, "tconv", in, 2, &out, 1, &p);
    av_nn__mark_output(g, out);
    const void *ins[1] = {x};
    void *outs[1] = {y};
    tt_run(g, ins, outs);
    for (int oy = 0; oy < 4; oy++)
        for (int ox = 0; ox < 4; ox++)
            CHECK_NEAR(y[oy * 4 + ox], x[(oy / 2) * 2 + ox / 2], 0);
}

static void pool_run(av_nn__op op, av_nn__pool_params p, const float *x, int64_t h, int64_t w,
                     float *y)
{
    av_nn__graph *g = av_nn__graph_new();
    int64_t xd[4] = {1, h, w, 1};
    av_nn__tid in = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pp = {.pool = p};
    tt_node(g, op, "pool", &in, 1, &out, 1, &pp);
    av_nn__mark_output(g, out);
    const void *ins[1] = {x};
    void *outs[1] = {y};
    tt_run(g, ins, outs);
}

TEST(pooling)
{
    float x[16], y[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1);
    pool_run(
        AV_NN_OP_MAX_POOL2D,
        (av_nn__pool_params){
            .filter_h = 2, .filter_w = 2, .stride_h = 2, .stride_w = 2, .padding = AV_NN_PAD_VALID},
        x, 4, 4, y);
    CHECK_NEAR(y[0], 6, 0);
    CHECK_NEAR(y[1], 8, 0);
    CHECK_NEAR(y[2], 14, 0);
    CHECK_NEAR(y[3], 16, 0);
    /* SAME 3x3 average over a 2x2 input: padding excluded from the count */
    pool_run(AV_NN_OP_AVG_POOL2D,
             (av_nn__pool_params){.filter_h = 3, .filter_w = 3, .padding = AV_NN_PAD_SAME}, x, 2, 2,
             y);
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(y[i], 2.5, 1e-6);
    /* explicit pad 1, counting the padding (ONNX count_include_pad) */
    pool_run(AV_NN_OP_AVG_POOL2D,
             (av_nn__pool_params){.filter_h = 3,
                                  .filter_w = 3,
                                  .pad_top = 1,
                                  .pad_left = 1,
                                  .pad_bottom = 1,
                                  .pad_right = 1,
                                  .count_include_pad = true},
             x, 2, 2, y);
    CHECK_NEAR(y[0], 10.0 / 9, 1e-6);
    /* ceil_mode: in 5, k 2, s 2 -> 3 outputs, the last window clipped */
    float x5[25];
    for (int i = 0; i < 25; i++)
        x5[i] = (float)i;
    pool_run(AV_NN_OP_MAX_POOL2D,
             (av_nn__pool_params){
                 .filter_h = 2, .filter_w = 2, .stride_h = 2, .stride_w = 2, .ceil_mode = true},
             x5, 5, 5, y);
    CHECK_NEAR(y[2], 9, 0);
    CHECK_NEAR(y[8], 24, 0);
}

static void resize_run(av_nn__coord_mode coord, av_nn__resize_mode mode, int oh, int ow,
                       const float *x, float *y)
{
    av_nn__graph *g = av_nn__graph_new();
    int64_t xd[4] = {1, 2, 2, 1};
    av_nn__tid in = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params p = {.resize = {.mode = mode, .coord = coord, .out_h = oh, .out_w = ow}};
    tt_node(g, AV_NN_OP_RESIZE, "resize", &in, 1, &out, 1, &p);
    av_nn__mark_output(g, out);
    const void *ins[1] = {x};
    void *outs[1] = {y};
    tt_run(g, ins, outs);
}

TEST(resize_bilinear_modes)
{
    float x[4] = {0, 1, 2, 3}, y[16];
    resize_run(AV_NN_COORD_ASYMMETRIC, AV_NN_RESIZE_BILINEAR, 4, 4, x, y);
    float asym[4] = {0, 0.5f, 1, 1};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(y[i], asym[i], 1e-6);
    CHECK_NEAR(y[4], 1, 1e-6); /* row 0.5: (0 + 2) / 2 */
    resize_run(AV_NN_COORD_ALIGN_CORNERS, AV_NN_RESIZE_BILINEAR, 3, 3, x, y);
    float ac[9] = {0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3};
    for (int i = 0; i < 9; i++)
        CHECK_NEAR(y[i], ac[i], 1e-6);
    resize_run(AV_NN_COORD_HALF_PIXEL, AV_NN_RESIZE_BILINEAR, 4, 4, x, y);
    float hp[4] = {0, 0.25f, 0.75f, 1};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(y[i], hp[i], 1e-6);
    CHECK_NEAR(y[5], 0.25 + 2 * 0.25, 1e-6);
    resize_run(AV_NN_COORD_ASYMMETRIC, AV_NN_RESIZE_NEAREST, 4, 4, x, y);
    float nn[4] = {0, 0, 1, 1};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(y[i], nn[i], 0);
}

/* Single-input single-output op on a float vector. */
static void op1(av_nn__op op, const av_nn__params *p, const float *x, int rank, const int64_t *dims,
                void *y)
{
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid in = tt_input(g, "x", AV_NN_F32, rank, dims);
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    tt_node(g, op, "op", &in, 1, &out, 1, p);
    av_nn__mark_output(g, out);
    const void *ins[1] = {x};
    void *outs[1] = {y};
    tt_run(g, ins, outs);
}

TEST(softmax_values)
{
    float x[6] = {1, 2, 3, 1, 1, 1}, y[6];
    int64_t d[2] = {2, 3};
    av_nn__params p = {.softmax = {.axis = -1, .beta = 1}};
    op1(AV_NN_OP_SOFTMAX, &p, x, 2, d, y);
    CHECK_NEAR(y[0], 0.09003057, 1e-6);
    CHECK_NEAR(y[1], 0.24472847, 1e-6);
    CHECK_NEAR(y[2], 0.66524096, 1e-6);
    CHECK_NEAR(y[4], 1.0 / 3, 1e-6);
    p.softmax.axis = 0; /* along the first axis: columns */
    op1(AV_NN_OP_SOFTMAX, &p, x, 2, d, y);
    CHECK_NEAR(y[0], 0.5, 1e-6);
    CHECK_NEAR(y[2], exp(2) / (exp(2) + 1), 1e-6);
}

TEST(topk_values_and_ties)
{
    float x[8] = {3, 1, 4, 1, 5, 9, 2, 6}, v[3];
    int32_t idx[3];
    int64_t d[1] = {8};
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid in = tt_input(g, "x", AV_NN_F32, 1, d);
    av_nn__tid out[2] = {tt_act(g, "v", AV_NN_F32, -1, NULL), tt_act(g, "i", AV_NN_I32, -1, NULL)};
    av_nn__params p = {
        .topk = {.k = 3, .axis = -1, .largest = true, .sorted = true, .index_dtype = AV_NN_I32}};
    tt_node(g, AV_NN_OP_TOPK, "topk", &in, 1, out, 2, &p);
    av_nn__mark_output(g, out[0]);
    av_nn__mark_output(g, out[1]);
    const void *ins[1] = {x};
    void *outs[2] = {v, idx};
    tt_run(g, ins, outs);
    CHECK_NEAR(v[0], 9, 0);
    CHECK_NEAR(v[1], 6, 0);
    CHECK_NEAR(v[2], 5, 0);
    CHECK_EQ_INT(idx[0], 5);
    CHECK_EQ_INT(idx[1], 7);
    CHECK_EQ_INT(idx[2], 4);
    /* ties go to the lower index; k from a constant input */
    float t[4] = {1, 3, 3, 2};
    int64_t d4[1] = {4}, kd[1] = {1};
    int64_t kval = 2;
    g = av_nn__graph_new();
    av_nn__tid in2[2] = {tt_input(g, "x", AV_NN_F32, 1, d4),
                         tt_const(g, "k", AV_NN_I64, 1, kd, &kval)};
    out[0] = tt_act(g, "v", AV_NN_F32, -1, NULL);
    out[1] = tt_act(g, "i", AV_NN_I64, -1, NULL);
    p.topk.k = 0;
    p.topk.index_dtype = AV_NN_I64;
    tt_node(g, AV_NN_OP_TOPK, "topk", in2, 2, out, 2, &p);
    av_nn__mark_output(g, out[0]);
    av_nn__mark_output(g, out[1]);
    int64_t idx64[2];
    const void *ins2[1] = {t};
    void *outs2[2] = {v, idx64};
    tt_run(g, ins2, outs2);
    CHECK_EQ_INT(idx64[0], 1);
    CHECK_EQ_INT(idx64[1], 2);
}

/* top-k over a long row with many ties against a naive repeated selection */
TEST(topk_long_row_with_ties)
{
    enum { A = 3000, K = 25 };
    float *x = malloc(A * sizeof *x);
    CHECK(x);
    tt_fill(x, A, 99, 0, 40);
    for (int i = 0; i < A; i++)
        x[i] = floorf(x[i]); /* 40 levels: plenty of ties */
    for (int largest = 0; largest < 2; largest++) {
        int64_t d[2] = {1, A};
        av_nn__graph *g = av_nn__graph_new();
        av_nn__tid in = tt_input(g, "x", AV_NN_F32, 2, d);
        av_nn__tid out[2] = {tt_act(g, "v", AV_NN_F32, -1, NULL),
                             tt_act(g, "i", AV_NN_I32, -1, NULL)};
        av_nn__params p = {
            .topk = {
                .k = K, .axis = 1, .largest = largest, .sorted = true, .index_dtype = AV_NN_I32}};
        tt_node(g, AV_NN_OP_TOPK, "topk", &in, 1, out, 2, &p);
        av_nn__mark_output(g, out[0]);
        av_nn__mark_output(g, out[1]);
        float v[K];
        int32_t idx[K];
        const void *ins[1] = {x};
        void *outs[2] = {v, idx};
        tt_run(g, ins, outs);
        bool taken[A] = {false};
        for (int j = 0; j < K; j++) {
            int best = -1;
            for (int i = 0; i < A; i++)
                if (!taken[i] && (best < 0 || (largest ? x[i] > x[best] : x[i] < x[best])))
                    best = i;
            taken[best] = true;
            CHECK_EQ_INT(idx[j], best);
            CHECK_NEAR(v[j], x[best], 0);
        }
    }
    free(x);
}

TEST(gather_axes_and_bounds)
{
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6];
    int64_t xd[2] = {3, 2}, id[1] = {3};
    int32_t ind[3] = {2, 0, -1};
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid in[2] = {tt_input(g, "x", AV_NN_F32, 2, xd),
                        tt_const(g, "i", AV_NN_I32, 1, id, ind)};
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params p = {.axis = {.axis = 0}};
    tt_node(g, AV_NN_OP_GATHER, "gather", in, 2, &out, 1, &p);
    av_nn__mark_output(g, out);
    const void *ins[1] = {x};
    void *outs[1] = {y};
    tt_run(g, ins, outs);
    float want[6] = {5, 6, 1, 2, 5, 6};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(y[i], want[i], 0);
    /* axis 1 with an index input at run time; out of range gives an error, not a crash */
    g = av_nn__graph_new();
    int64_t one[1] = {1};
    av_nn__tid in2[2] = {tt_input(g, "x", AV_NN_F32, 2, xd), tt_input(g, "i", AV_NN_I32, 1, one)};
    out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    p.axis.axis = -1;
    tt_node(g, AV_NN_OP_GATHER, "gather", in2, 2, &out, 1, &p);
    av_nn__mark_output(g, out);
    char err[256];
    CHECK(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK);
    av_nn_model *m;
    CHECK(av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) == 0);
    av_nn_ctx_opts o = {.backend = AV_NN_BACKEND_REFERENCE};
    av_nn_ctx *c;
    CHECK(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK);
    int32_t good = 1, bad = 2;
    const void *ins3[2] = {x, &good};
    CHECK(av_nn_run(c, ins3, outs, err, sizeof err) == AV_NN_OK);
    CHECK_NEAR(y[0], 2, 0);
    CHECK_NEAR(y[2], 6, 0);
    ins3[1] = &bad;
    CHECK(av_nn_run(c, ins3, outs, err, sizeof err) == AV_NN_E_ARG);
    CHECK_STR_CONTAINS(err, "out of range");
    av_nn_ctx_free(c);
    av_nn_model_free(m);
}

/* TF StridedSlice on x [2,3] = 0..5 with constant begin/end/strides. */
static void tf_slice(const int32_t *b, const int32_t *e, const int32_t *s, int n,
                     av_nn__slice_params sp, int64_t want_numel, const float *want)
{
    float x[6] = {0, 1, 2, 3, 4, 5}, y[6];
    int64_t xd[2] = {2, 3}, vd[1] = {n};
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid in[4] = {tt_input(g, "x", AV_NN_F32, 2, xd), tt_const(g, "b", AV_NN_I32, 1, vd, b),
                        tt_const(g, "e", AV_NN_I32, 1, vd, e),
                        tt_const(g, "s", AV_NN_I32, 1, vd, s)};
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    sp.tf_semantics = true;
    av_nn__params p = {.slice = sp};
    tt_node(g, AV_NN_OP_SLICE, "ss", in, 4, &out, 1, &p);
    av_nn__mark_output(g, out);
    const void *ins[1] = {x};
    void *outs[1] = {y};
    tt_run(g, ins, outs);
    for (int64_t i = 0; i < want_numel; i++)
        CHECK_NEAR(y[i], want[i], 0);
}

TEST(strided_slice_values)
{
    int32_t b[2] = {0, -1}, e[2] = {2, -4}, s[2] = {1, -1};
    float rev[6] = {2, 1, 0, 5, 4, 3};
    tf_slice(b, e, s, 2, (av_nn__slice_params){0}, 6, rev);
    /* shrink axis 0 at index 1, stride 2 on axis 1 with end_mask */
    int32_t b2[2] = {1, 0}, e2[2] = {2, 0}, s2[2] = {1, 2};
    float want2[2] = {3, 5};
    tf_slice(b2, e2, s2, 2, (av_nn__slice_params){.shrink_axis_mask = 1, .end_mask = 2}, 2, want2);
}

TEST(int_binary_semantics)
{
    int32_t a[4] = {-7, 7, -7, 7}, b[4] = {2, -2, -2, 2}, y[4];
    int64_t d[1] = {4};
    struct {
        av_nn__binary_kind k;
        int32_t want[4];
    } cases[] = {
        {AV_NN_BIN_DIV, {-3, -3, 3, 3}},
        {AV_NN_BIN_FLOOR_DIV, {-4, -4, 3, 3}},
        {AV_NN_BIN_FLOOR_MOD, {1, -1, -1, 1}},
        {AV_NN_BIN_FMOD, {-1, 1, -1, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        av_nn__graph *g = av_nn__graph_new();
        av_nn__tid in[2] = {tt_input(g, "a", AV_NN_I32, 1, d), tt_input(g, "b", AV_NN_I32, 1, d)};
        av_nn__tid out = tt_act(g, "y", AV_NN_I32, -1, NULL);
        av_nn__params p = {.binary = {.kind = cases[c].k}};
        tt_node(g, AV_NN_OP_BINARY, "bin", in, 2, &out, 1, &p);
        av_nn__mark_output(g, out);
        const void *ins[2] = {a, b};
        void *outs[1] = {y};
        tt_run(g, ins, outs);
        for (int i = 0; i < 4; i++)
            CHECK_MSG(y[i] == cases[c].want[i], "kind %d elem %d: %d != %d", (int)cases[c].k, i,
                      y[i], cases[c].want[i]);
    }
    /* float floor mod follows the divisor's sign */
    float fa[2] = {-7.5f, 7.5f}, fb[2] = {2, -2}, fy[2];
    int64_t d2[1] = {2};
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid in[2] = {tt_input(g, "a", AV_NN_F32, 1, d2), tt_input(g, "b", AV_NN_F32, 1, d2)};
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params p = {.binary = {.kind = AV_NN_BIN_FLOOR_MOD}};
    tt_node(g, AV_NN_OP_BINARY, "fmod", in, 2, &out, 1, &p);
    av_nn__mark_output(g, out);
    const void *ins[2] = {fa, fb};
    void *outs[1] = {fy};
    tt_run(g, ins, outs);
    CHECK_NEAR(fy[0], 0.5, 1e-6);
    CHECK_NEAR(fy[1], -0.5, 1e-6);
}

TEST(compare_where_cast)
{
    /* where(x == 2, x, 0 - x) broadcast against a scalar; then cast to i32 */
    float x[4] = {2, -1.7f, 2, 3.9f};
    int64_t d[1] = {4};
    float two = 2, zero = 0;
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid tx = tt_input(g, "x", AV_NN_F32, 1, d);
    av_nn__tid c2 = tt_const(g, "two", AV_NN_F32, 0, NULL, &two);
    av_nn__tid c0 = tt_const(g, "zero", AV_NN_F32, 0, NULL, &zero);
    av_nn__tid eq = tt_act(g, "eq", AV_NN_BOOL, -1, NULL),
               neg = tt_act(g, "neg", AV_NN_F32, -1, NULL);
    av_nn__tid sel = tt_act(g, "sel", AV_NN_F32, -1, NULL),
               ci = tt_act(g, "ci", AV_NN_I32, -1, NULL);
    av_nn__params p = {.binary = {.kind = AV_NN_BIN_EQUAL}};
    av_nn__tid a1[2] = {tx, c2};
    tt_node(g, AV_NN_OP_BINARY, "eq", a1, 2, &eq, 1, &p);
    p.binary.kind = AV_NN_BIN_SUB;
    av_nn__tid a2[2] = {c0, tx};
    tt_node(g, AV_NN_OP_BINARY, "neg", a2, 2, &neg, 1, &p);
    av_nn__tid a3[3] = {eq, tx, neg};
    tt_node(g, AV_NN_OP_WHERE, "where", a3, 3, &sel, 1, NULL);
    av_nn__params pc = {.cast = {.to = AV_NN_I32}};
    tt_node(g, AV_NN_OP_CAST, "cast", &sel, 1, &ci, 1, &pc);
    av_nn__mark_output(g, sel);
    av_nn__mark_output(g, ci);
    float ys[4];
    int32_t yi[4];
    const void *ins[1] = {x};
    void *outs[2] = {ys, yi};
    tt_run(g, ins, outs);
    float want[4] = {2, 1.7f, 2, -3.9f};
    int32_t wanti[4] = {2, 1, 2, -3};
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(ys[i], want[i], 1e-6);
        CHECK_EQ_INT(yi[i], wanti[i]);
    }
}

TEST(data_movement)
{
    /* x [2,3] -> pad (TF [rank,2] pads, reflect) -> transpose -> concat with itself ->
     * split with a -1 size -> tile; all checked element by element */
    float x[6] = {0, 1, 2, 3, 4, 5};
    int64_t xd[2] = {2, 3}, pd[2] = {2, 2};
    int32_t pads[4] = {0, 1, 1, 1};
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid tx = tt_input(g, "x", AV_NN_F32, 2, xd);
    av_nn__tid tp = tt_const(g, "pads", AV_NN_I32, 2, pd, pads);
    av_nn__tid y1 = tt_act(g, "pad", AV_NN_F32, -1, NULL);
    av_nn__params p = {.pad = {.mode = AV_NN_PADMODE_REFLECT}};
    av_nn__tid a1[2] = {tx, tp};
    tt_node(g, AV_NN_OP_PAD, "pad", a1, 2, &y1, 1, &p);
    av_nn__mark_output(g, y1);
    av_nn__tid y2 = tt_act(g, "tr", AV_NN_F32, -1, NULL);
    tt_node(g, AV_NN_OP_TRANSPOSE, "tr", &tx, 1, &y2, 1, NULL); /* default: reversed axes */
    av_nn__mark_output(g, y2);
    av_nn__tid y3 = tt_act(g, "cat", AV_NN_F32, -1, NULL);
    av_nn__params pc = {.axis = {.axis = -1}};
    av_nn__tid a3[2] = {tx, tx};
    tt_node(g, AV_NN_OP_CONCAT, "cat", a3, 2, &y3, 1, &pc);
    av_nn__mark_output(g, y3);
    int64_t sd[1] = {2};
    int32_t sizes[2] = {-1, 2};
    av_nn__tid ts = tt_const(g, "sizes", AV_NN_I32, 1, sd, sizes);
    av_nn__tid y4[2] = {tt_act(g, "s0", AV_NN_F32, -1, NULL), tt_act(g, "s1", AV_NN_F32, -1, NULL)};
    av_nn__params ps = {.split = {.axis = 1}};
    av_nn__tid a4[2] = {tx, ts};
    tt_node(g, AV_NN_OP_SPLIT, "split", a4, 2, y4, 2, &ps);
    av_nn__mark_output(g, y4[1]);
    int32_t mult[2] = {2, 1};
    av_nn__tid tm = tt_const(g, "mult", AV_NN_I32, 1, sd, mult);
    av_nn__tid y5 = tt_act(g, "tile", AV_NN_F32, -1, NULL);
    av_nn__tid a5[2] = {y4[0], tm};
    tt_node(g, AV_NN_OP_TILE, "tile", a5, 2, &y5, 1, NULL);
    av_nn__mark_output(g, y5);
    float o1[20], o2[6], o3[12], o4[4], o5[4];
    const void *ins[1] = {x};
    void *outs[5] = {o1, o2, o3, o4, o5};
    tt_run(g, ins, outs);
    /* pad: rows [0,1,2],[3,4,5],(reflect) [0,1,2]; cols reflect 1 each side */
    float w1[15] = {1, 0, 1, 2, 1, 4, 3, 4, 5, 4, 1, 0, 1, 2, 1};
    for (int i = 0; i < 15; i++)
        CHECK_NEAR(o1[i], w1[i], 0);
    float w2[6] = {0, 3, 1, 4, 2, 5};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(o2[i], w2[i], 0);
    float w3[12] = {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5};
    for (int i = 0; i < 12; i++)
        CHECK_NEAR(o3[i], w3[i], 0);
    float w4[4] = {1, 2, 4, 5};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(o4[i], w4[i], 0);
    float w5[4] = {0, 3, 0, 3};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(o5[i], w5[i], 0);
}

TEST(reduce_argmax_sparse)
{
    float x[6] = {1, 5, 3, 4, 2, 6};
    int64_t xd[2] = {2, 3}, ad[1] = {1};
    int32_t axes[1] = {-1};
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid tx = tt_input(g, "x", AV_NN_F32, 2, xd);
    av_nn__tid ta = tt_const(g, "axes", AV_NN_I32, 1, ad, axes);
    av_nn__tid ym = tt_act(g, "mean", AV_NN_F32, -1, NULL);
    av_nn__params p = {.reduce = {.kind = AV_NN_REDUCE_MEAN, .keep_dims = true}};
    av_nn__tid a1[2] = {tx, ta};
    tt_node(g, AV_NN_OP_REDUCE, "mean", a1, 2, &ym, 1, &p);
    av_nn__mark_output(g, ym);
    av_nn__tid yx = tt_act(g, "max", AV_NN_F32, -1, NULL);
    av_nn__params pm = {.reduce = {.kind = AV_NN_REDUCE_MAX, .axes_mask = 1}};
    tt_node(g, AV_NN_OP_REDUCE, "max", &tx, 1, &yx, 1, &pm);
    av_nn__mark_output(g, yx);
    av_nn__tid yg = tt_act(g, "argmax", AV_NN_I64, -1, NULL);
    av_nn__params pg = {.argmax = {.axis = 1, .index_dtype = AV_NN_I64}};
    tt_node(g, AV_NN_OP_ARGMAX, "argmax", &tx, 1, &yg, 1, &pg);
    av_nn__mark_output(g, yg);
    /* sparse_to_dense: indices [2] into [5], values [2], default -1 */
    int64_t id[1] = {2}, shp[1] = {5};
    int32_t ind[2] = {1, 3}, shape[1] = {5};
    float vals[2] = {7, 8}, def = -1;
    av_nn__tid a4[4] = {
        tt_const(g, "ind", AV_NN_I32, 1, id, ind), tt_const(g, "shape", AV_NN_I32, 1, ad, shape),
        tt_input(g, "vals", AV_NN_F32, 1, id), tt_const(g, "def", AV_NN_F32, 0, NULL, &def)};
    (void)shp;
    av_nn__tid ys = tt_act(g, "s2d", AV_NN_F32, -1, NULL);
    tt_node(g, AV_NN_OP_SPARSE_TO_DENSE, "s2d", a4, 4, &ys, 1, NULL);
    av_nn__mark_output(g, ys);
    float om[2], ox[3], os[5];
    int64_t og[2];
    const void *ins[2] = {x, vals};
    void *outs[4] = {om, ox, og, os};
    tt_run(g, ins, outs);
    CHECK_NEAR(om[0], 3, 1e-6);
    CHECK_NEAR(om[1], 4, 1e-6);
    CHECK_NEAR(ox[0], 4, 0);
    CHECK_NEAR(ox[1], 5, 0);
    CHECK_NEAR(ox[2], 6, 0);
    CHECK_EQ_INT(og[0], 1);
    CHECK_EQ_INT(og[1], 2);
    float ws[5] = {-1, 7, -1, 8, -1};
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(os[i], ws[i], 0);
}

/*
 * Quantised conv (u8, per-tensor) and depthwise (i8, per-channel weights)
 * against float conv on the dequantised values, then quantised: within 1 LSB.
 */
static void quant_conv_case(av_nn__op op, av_nn_dtype wdt, bool per_channel)
{
    enum { H = 6, W = 5, C = 3, O = 4, K = 3 };
    int64_t xd[4] = {1, H, W, C}, bd[1] = {O};
    bool dw = op == AV_NN_OP_DEPTHWISE_CONV2D;
    int O_ = dw ? C : O; /* depthwise multiplier 1 */
    int64_t wd[4] = {dw ? 1 : O_, K, K, dw ? C : C};
    int64_t nw = wd[0] * K * K * wd[3];
    uint8_t xq[H * W * C], wq_raw[O * K * K * C];
    tt_fill_u8(xq, H * W * C, 3);
    tt_fill_u8(wq_raw, nw, 4);
    if (wdt == AV_NN_I8)
        for (int64_t i = 0; i < nw; i++)
            wq_raw[i] = (uint8_t)(int8_t)((int)wq_raw[i] - 128);
    float sx = 0.02f, sw = 0.005f, sy = 0.05f, cs[O] = {0.004f, 0.007f, 0.002f, 0.01f};
    int32_t zx = 120, zw = wdt == AV_NN_U8 ? 130 : 0, zy = 100;
    float bf[O] = {0.3f, -0.2f, 0.05f, 1.1f};
    int32_t bq[O];
    for (int o = 0; o < O_; o++)
        bq[o] = (int32_t)lround(bf[o] / (sx * (per_channel ? cs[o] : sw)));
    /* float model of the same numbers */
    float xf[H * W * C], wf[O * K * K * C], bff[O];
    for (int i = 0; i < H * W * C; i++)
        xf[i] = sx * (float)(xq[i] - zx);
    for (int64_t i = 0; i < nw; i++) {
        int o = dw ? (int)(i % C) : (int)(i / (K * K * C));
        double wv = wdt == AV_NN_U8 ? (double)wq_raw[i] : (double)(int8_t)wq_raw[i];
        wf[i] = (float)((per_channel ? cs[o] : sw) * (wv - zw));
    }
    for (int o = 0; o < O_; o++)
        bff[o] = (float)bq[o] * sx * (per_channel ? cs[o] : sw);
    av_nn__conv_params cp = {
        .padding = AV_NN_PAD_SAME, .stride_h = 2, .stride_w = 1, .act = {.kind = AV_NN_ACT_RELU6}};
    /* quantised graph */
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid tx = tt_input(g, "x", AV_NN_U8, 4, xd);
    g->tensors[tx].quant.scale = sx, g->tensors[tx].quant.zero_point = zx;
    av_nn__tid tw = tt_const(g, "w", wdt, 4, wd, wq_raw);
    g->tensors[tw].quant.scale = sw, g->tensors[tw].quant.zero_point = zw;
    if (per_channel) {
        g->tensors[tw].quant.channel_scales = malloc(sizeof cs);
        memcpy(g->tensors[tw].quant.channel_scales, cs, sizeof cs);
        g->tensors[tw].quant.n_channels = O_;
        g->tensors[tw].quant.axis = dw ? 3 : 0;
    }
    bd[0] = O_;
    av_nn__tid tb = tt_const(g, "b", AV_NN_I32, 1, bd, bq);
    av_nn__tid ty = tt_act(g, "y", AV_NN_U8, -1, NULL);
    g->tensors[ty].quant.scale = sy, g->tensors[ty].quant.zero_point = zy;
    av_nn__tid in[3] = {tx, tw, tb};
    av_nn__params p = {.conv = cp};
    tt_node(g, op, "qconv", in, 3, &ty, 1, &p);
    av_nn__mark_output(g, ty);
    uint8_t yq[H * W * O];
    const void *ins[1] = {xq};
    void *outs[1] = {yq};
    tt_run(g, ins, outs);
    /* float graph */
    g = av_nn__graph_new();
    tx = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid in2[3] = {tx, tt_const(g, "w", AV_NN_F32, 4, wd, wf),
                         tt_const(g, "b", AV_NN_F32, 1, bd, bff)};
    ty = tt_act(g, "y", AV_NN_F32, -1, NULL);
    tt_node(g, op, "fconv", in2, 3, &ty, 1, &p);
    av_nn__mark_output(g, ty);
    float yf[H * W * O];
    const void *ins2[1] = {xf};
    void *outs2[1] = {yf};
    tt_run(g, ins2, outs2);
    int64_t ny = ((H + 1) / 2) * W * O_;
    int nonzero = 0;
    for (int64_t i = 0; i < ny; i++) {
        long want = lround(yf[i] / sy) + zy;
        want = want < zy ? zy : want > 255 ? 255 : want;
        long hi6 = lround(6.0 / sy) + zy;
        want = want > hi6 ? hi6 : want;
        CHECK_MSG(labs((long)yq[i] - want) <= 1, "elem %lld: q %d vs float %ld", (long long)i,
                  yq[i], want);
        nonzero += yq[i] != zy;
    }
    CHECK(nonzero > ny / 4); /* the case is not trivially all-zero */
}

TEST(quant_conv_u8_vs_float)
{
    quant_conv_case(AV_NN_OP_CONV2D, AV_NN_U8, false);
}

TEST(quant_conv_i8_per_channel_vs_float)
{
    quant_conv_case(AV_NN_OP_CONV2D, AV_NN_I8, true);
}

TEST(quant_depthwise_vs_float)
{
    quant_conv_case(AV_NN_OP_DEPTHWISE_CONV2D, AV_NN_U8, false);
    quant_conv_case(AV_NN_OP_DEPTHWISE_CONV2D, AV_NN_I8, true);
}

TEST(quant_add_avgpool_softmax)
{
    /* add of two u8 tensors with different scales, then avg pool, then softmax */
    enum { N = 16 };
    uint8_t a[N], b[N];
    tt_fill_u8(a, N, 11);
    tt_fill_u8(b, N, 12);
    int64_t d[4] = {1, 4, 4, 1};
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid ta = tt_input(g, "a", AV_NN_U8, 4, d), tb = tt_input(g, "b", AV_NN_U8, 4, d);
    g->tensors[ta].quant = (av_nn__quant){.scale = 0.1f, .zero_point = 128};
    g->tensors[tb].quant = (av_nn__quant){.scale = 0.05f, .zero_point = 10};
    av_nn__tid ts = tt_act(g, "sum", AV_NN_U8, -1, NULL);
    g->tensors[ts].quant = (av_nn__quant){.scale = 0.2f, .zero_point = 60};
    av_nn__params p = {.binary = {.kind = AV_NN_BIN_ADD}};
    av_nn__tid ab[2] = {ta, tb};
    tt_node(g, AV_NN_OP_BINARY, "add", ab, 2, &ts, 1, &p);
    av_nn__tid tp = tt_act(g, "pool", AV_NN_U8, -1, NULL);
    av_nn__params pp = {.pool = {.filter_h = 2, .filter_w = 2, .stride_h = 2, .stride_w = 2}};
    tt_node(g, AV_NN_OP_AVG_POOL2D, "pool", &ts, 1, &tp, 1, &pp);
    av_nn__tid tq = tt_act(g, "sm", AV_NN_U8, -1, NULL);
    g->tensors[tq].quant = (av_nn__quant){.scale = 1.0f / 256, .zero_point = 0};
    av_nn__params ps = {.softmax = {.axis = -1, .beta = 1}};
    av_nn__tid tr = tt_act(g, "flat", AV_NN_U8, -1, NULL);
    av_nn__params pr = {.reshape = {.rank = 2, .dims = {1, -1}}};
    tt_node(g, AV_NN_OP_RESHAPE, "flat", &tp, 1, &tr, 1, &pr);
    tt_node(g, AV_NN_OP_SOFTMAX, "sm", &tr, 1, &tq, 1, &ps);
    av_nn__mark_output(g, ts);
    av_nn__mark_output(g, tp);
    av_nn__mark_output(g, tq);
    uint8_t ys[N], yp[4], yq[4];
    const void *ins[2] = {a, b};
    void *outs[3] = {ys, yp, yq};
    tt_run(g, ins, outs);
    double sum[N];
    for (int i = 0; i < N; i++) {
        sum[i] = 0.1 * (a[i] - 128) + 0.05 * (b[i] - 10);
        long want = lround(sum[i] / 0.2) + 60;
        want = want < 0 ? 0 : want > 255 ? 255 : want;
        CHECK_MSG(labs((long)ys[i] - want) <= 1, "add %d: %d vs %ld", i, ys[i], want);
    }
    double pooled[4], e[4], es = 0;
    for (int py = 0; py < 2; py++)
        for (int px = 0; px < 2; px++) {
            int i0 = py * 8 + px * 2;
            double m = (ys[i0] + ys[i0 + 1] + ys[i0 + 4] + ys[i0 + 5]) / 4.0;
            CHECK_MSG(fabs(yp[py * 2 + px] - m) <= 0.5 + 1e-9, "pool %d: %d vs %.2f", py * 2 + px,
                      yp[py * 2 + px], m);
            pooled[py * 2 + px] = 0.2 * (yp[py * 2 + px] - 60);
        }
    for (int i = 0; i < 4; i++)
        es += e[i] = exp(pooled[i]);
    for (int i = 0; i < 4; i++) {
        long want = lround(e[i] / es * 256);
        want = want > 255 ? 255 : want;
        CHECK_MSG(labs((long)yq[i] - want) <= 1, "softmax %d: %d vs %ld", i, yq[i], want);
    }
}

TEST(unary_kinds)
{
    float x[5] = {-2, -0.5f, 0, 0.5f, 2.5f}, y[5];
    int64_t d[1] = {5};
    struct {
        av_nn__unary_kind k;
        double (*f)(double);
    } cases[] = {{AV_NN_UN_EXP, exp},   {AV_NN_UN_TANH, tanh}, {AV_NN_UN_FLOOR, floor},
                 {AV_NN_UN_CEIL, ceil}, {AV_NN_UN_ERF, erf},   {AV_NN_UN_ABS, fabs}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        av_nn__params p = {.unary = {.kind = cases[c].k}};
        op1(AV_NN_OP_UNARY, &p, x, 1, d, y);
        for (int i = 0; i < 5; i++)
            CHECK_NEAR(y[i], cases[c].f(x[i]), 1e-6);
    }
    av_nn__params p = {.unary = {.kind = AV_NN_UN_ROUND}};
    op1(AV_NN_OP_UNARY, &p, x, 1, d, y);
    CHECK_NEAR(y[1], 0, 0); /* half to even */
    CHECK_NEAR(y[4], 2, 0);
    p.unary.kind = AV_NN_UN_HARDSWISH;
    op1(AV_NN_OP_UNARY, &p, x, 1, d, y);
    CHECK_NEAR(y[4], 2.5 * 5.5 / 6, 1e-6);
    av_nn__params pl = {.leaky = {.alpha = 0.1f}};
    op1(AV_NN_OP_LEAKY_RELU, &pl, x, 1, d, y);
    CHECK_NEAR(y[0], -0.2, 1e-6);
    CHECK_NEAR(y[4], 2.5, 0);
    av_nn__params pc = {.clamp = {.min = 0, .max = 1}};
    op1(AV_NN_OP_CLAMP, &pc, x, 1, d, y);
    CHECK_NEAR(y[0], 0, 0);
    CHECK_NEAR(y[3], 0.5, 0);
    CHECK_NEAR(y[4], 1, 0);
}

TEST(f16_dequantize)
{
    uint16_t h[4] = {av_nn__f32_to_f16(1.5f), av_nn__f32_to_f16(-0.25f), 0x7c00, 0x0001};
    int64_t d[1] = {4};
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid x = tt_input(g, "h", AV_NN_F16, 1, d);
    av_nn__tid y = tt_act(g, "f", AV_NN_F32, -1, NULL);
    tt_node(g, AV_NN_OP_DEQUANTIZE, "deq", &x, 1, &y, 1, NULL);
    av_nn__mark_output(g, y);
    float f[4];
    const void *ins[1] = {h};
    void *outs[1] = {f};
    tt_run(g, ins, outs);
    CHECK_NEAR(f[0], 1.5, 0);
    CHECK_NEAR(f[1], -0.25, 0);
    CHECK(isinf(f[2]) && f[2] > 0);
    CHECK_NEAR(f[3], ldexp(1, -24), 0);
}

TEST(quantize_and_concat_requant)
{
    /* quantize rounds half away from zero and saturates; concat requantises its inputs */
    float x[5] = {0.26f, -0.26f, 100, -100, 0.25f};
    int64_t d[1] = {5};
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid tx = tt_input(g, "x", AV_NN_F32, 1, d);
    av_nn__tid tq = tt_act(g, "q", AV_NN_U8, -1, NULL);
    g->tensors[tq].quant = (av_nn__quant){.scale = 0.1f, .zero_point = 10};
    tt_node(g, AV_NN_OP_QUANTIZE, "quant", &tx, 1, &tq, 1, NULL);
    av_nn__tid tq2 = tt_act(g, "q2", AV_NN_U8, -1, NULL);
    g->tensors[tq2].quant = (av_nn__quant){.scale = 0.5f, .zero_point = 0};
    tt_node(g, AV_NN_OP_QUANTIZE, "quant2", &tx, 1, &tq2, 1, NULL);
    av_nn__tid tc = tt_act(g, "cat", AV_NN_U8, -1, NULL);
    g->tensors[tc].quant = (av_nn__quant){.scale = 0.25f, .zero_point = 20};
    av_nn__params pc = {.axis = {.axis = 0}};
    av_nn__tid ci[2] = {tq, tq2};
    tt_node(g, AV_NN_OP_CONCAT, "cat", ci, 2, &tc, 1, &pc);
    av_nn__mark_output(g, tq);
    av_nn__mark_output(g, tq2);
    av_nn__mark_output(g, tc);
    uint8_t q[5], q2[5], c[10];
    const void *ins[1] = {x};
    void *outs[3] = {q, q2, c};
    tt_run(g, ins, outs);
    /* 0.25f / 0.1f is 2.5f in float (as in TFLite): rounds away from zero */
    uint8_t wq[5] = {13, 7, 255, 0, 13}, wq2[5] = {1, 0, 200, 0, 1};
    uint8_t wc[10] = {21, 19, 118, 16, 21, 22, 20, 255, 20, 22};
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(q[i], wq[i]);
        CHECK_EQ_INT(q2[i], wq2[i]);
    }
    for (int i = 0; i < 10; i++)
        CHECK_EQ_INT(c[i], wc[i]);
}

/* Every permutation of a few shapes (unit dims, mergeable axes), f32, u8 and i64,
 * against index arithmetic done here. */
static bool next_perm(int *a, int n)
{
    int i = n - 2;
    while (i >= 0 && a[i] >= a[i + 1])
        i--;
    if (i < 0)
        return false;
    int j = n - 1;
    while (a[j] <= a[i])
        j--;
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) {
        t = a[l];
        a[l] = a[r];
        a[r] = t;
    }
    return true;
}

TEST(transpose_all_perms)
{
    static const int64_t shapes[][5] = {{1, 3, 4, 5, 0}, {2, 3, 1, 4, 0}, {3, 2, 2, 0, 0},
                                        {2, 1, 3, 1, 2}, {7, 0, 0, 0, 0}};
    static const int ranks[] = {4, 4, 3, 5, 1};
    static const av_nn_dtype types[] = {AV_NN_F32, AV_NN_U8, AV_NN_I64};
    for (size_t si = 0; si < sizeof ranks / sizeof ranks[0]; si++) {
        int r = ranks[si];
        const int64_t *d = shapes[si];
        int64_t n = 1, xs[5];
        for (int k = r - 1; k >= 0; k--) {
            xs[k] = n;
            n *= d[k];
        }
        for (size_t ti = 0; ti < 3; ti++) {
            size_t es = av_nn_dtype_size(types[ti]);
            int perm[5] = {0, 1, 2, 3, 4};
            do {
                uint8_t x[64 * 8], y[64 * 8], want[64 * 8];
                for (size_t b = 0; b < (size_t)n * es; b++)
                    x[b] = (uint8_t)(b * 7 + 3);
                int64_t yd[5];
                for (int k = 0; k < r; k++)
                    yd[k] = d[perm[k]];
                for (int64_t i = 0; i < n; i++) { /* i = output flat index */
                    int64_t rem = i, off = 0;
                    for (int k = r - 1; k >= 0; k--) {
                        off += (rem % yd[k]) * xs[perm[k]];
                        rem /= yd[k];
                    }
                    memcpy(want + i * (int64_t)es, x + off * (int64_t)es, es);
                }
                av_nn__graph *g = av_nn__graph_new();
                av_nn__tid tx = tt_input(g, "x", types[ti], r, d);
                av_nn__tid ty = tt_act(g, "y", types[ti], -1, NULL);
                av_nn__params p = {0};
                p.transpose.rank = r;
                for (int k = 0; k < r; k++)
                    p.transpose.perm[k] = perm[k];
                tt_node(g, AV_NN_OP_TRANSPOSE, "tr", &tx, 1, &ty, 1, &p);
                CHECK(av_nn__mark_output(g, ty) >= 0);
                const void *ins[1] = {x};
                void *outs[1] = {y};
                tt_run(g, ins, outs);
                CHECK_MSG(memcmp(y, want, (size_t)n * es) == 0,
                          "shape %zu type %s perm %d%d%d%d%d differs", si,
                          av_nn_dtype_name(types[ti]), perm[0], perm[1], perm[2], perm[3], perm[4]);
            } while (next_perm(perm, r));
        }
    }
}

/* Same-shape float comparisons (the fast path) agree with C's operators, NaN included,
 * and bool/u8 -> f32 casts give 0/1 and the byte values. */
TEST(compare_same_shape_and_mask_cast)
{
    const float a[6] = {1, 2, NAN, -0.0f, 5, INFINITY}, b[6] = {1, 3, NAN, 0.0f, 4, INFINITY};
    static const av_nn__binary_kind kinds[] = {AV_NN_BIN_EQUAL, AV_NN_BIN_NOT_EQUAL,
                                               AV_NN_BIN_LESS, AV_NN_BIN_LESS_EQUAL,
                                               AV_NN_BIN_GREATER, AV_NN_BIN_GREATER_EQUAL};
    const int64_t d[2] = {2, 3};
    for (size_t k = 0; k < 6; k++) {
        av_nn__graph *g = av_nn__graph_new();
        av_nn__tid ta = tt_input(g, "a", AV_NN_F32, 2, d), tb = tt_input(g, "b", AV_NN_F32, 2, d);
        av_nn__tid tm = tt_act(g, "m", AV_NN_BOOL, -1, NULL), ty = tt_act(g, "y", AV_NN_F32, -1, NULL);
        av_nn__params p = {0}, c = {0};
        p.binary.kind = kinds[k];
        c.cast.to = AV_NN_F32;
        av_nn__tid in[2] = {ta, tb};
        tt_node(g, AV_NN_OP_BINARY, "cmp", in, 2, &tm, 1, &p);
        tt_node(g, AV_NN_OP_CAST, "cast", &tm, 1, &ty, 1, &c);
        CHECK(av_nn__mark_output(g, ty) >= 0);
        float y[6];
        const void *ins[2] = {a, b};
        void *outs[1] = {y};
        tt_run(g, ins, outs);
        for (int i = 0; i < 6; i++) {
            bool want = k == 0 ? a[i] == b[i] : k == 1 ? a[i] != b[i] : k == 2 ? a[i] < b[i]
                      : k == 3 ? a[i] <= b[i] : k == 4 ? a[i] > b[i] : a[i] >= b[i];
            CHECK_MSG(y[i] == (want ? 1.0f : 0.0f), "kind %d element %d: %g", (int)kinds[k], i,
                      (double)y[i]);
        }
    }
}

TEST_MAIN(T(conv_valid_bias), T(conv_stride2_same), T(conv_dilation), T(conv_explicit_pad),
          T(conv_grouped), T(depthwise_multiplier), T(transpose_conv_stride2), T(pooling),
          T(resize_bilinear_modes), T(softmax_values), T(topk_values_and_ties),
          T(topk_long_row_with_ties), T(gather_axes_and_bounds), T(strided_slice_values),
          T(int_binary_semantics), T(compare_where_cast), T(data_movement), T(reduce_argmax_sparse),
          T(quant_conv_u8_vs_float), T(quant_conv_i8_per_channel_vs_float),
          T(quant_depthwise_vs_float), T(quant_add_avgpool_softmax), T(unary_kinds),
          T(f16_dequantize), T(quantize_and_concat_requant),
          T(transpose_all_perms), T(compare_same_shape_and_mask_cast))
