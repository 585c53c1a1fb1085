/*
 * t_nn_ref.c - reference kernels against hand-computed small cases: conv,
 * depthwise, transpose conv, pooling, resize, softmax, top-k, gather and
 * the unary kinds. Slicing, integer, compare and data-movement ops:
 * t_nn_ref_data.c; quantised kernels: t_nn_ref_quant.c.
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

TEST_MAIN(T(conv_valid_bias), T(conv_stride2_same), T(conv_dilation), T(conv_explicit_pad),
          T(conv_grouped), T(depthwise_multiplier), T(transpose_conv_stride2), T(pooling),
          T(resize_bilinear_modes), T(softmax_values), T(topk_values_and_ties),
          T(topk_long_row_with_ties), T(gather_axes_and_bounds), T(unary_kinds))
