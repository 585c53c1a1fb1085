/*
 * t_nn_ref_quant.c - the quantised reference kernels against float math on
 * dequantised values (within 1 LSB), f16 dequantisation and quantize /
 * concat requantisation.
 */
#include "nn_test_util.h"

#include <math.h>
#include <stdbool.h>

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

TEST_MAIN(T(quant_conv_u8_vs_float), T(quant_conv_i8_per_channel_vs_float),
          T(quant_depthwise_vs_float), T(quant_add_avgpool_softmax), T(f16_dequantize),
          T(quantize_and_concat_requant))
