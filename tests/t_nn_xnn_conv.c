/*
 * t_nn_xnn_conv.c - the XNNPACK backend's convolutions and fully connected
 * layers (f32, our AVX2+FMA GEMM, quantised) against the reference kernels,
 * one node at a time (tests/nn_fixture.h: run, run again, run on moved
 * buffers, compare), and the shapes it must refuse.
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"
#include "nn/xnn/xnn_impl.h" /* av_nn__xnn_gemm_* */

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- f32 convolutions ---- */

static void conv_f32(uint64_t seed, av_nn__op op, const int64_t *xd, const int64_t *wd,
                     av_nn__conv_params p, bool bias)
{
    av_nn__graph *g = nf_new_graph(seed);
    av_nn__tid in[3];
    in[0] = nf_act_in(g, AV_NN_F32, xd, 4, 0, 0);
    in[1] = nf_konst(g, AV_NN_F32, wd, 4, -1, 1);
    int64_t o = op == AV_NN_OP_DEPTHWISE_CONV2D ? wd[3] : wd[0];
    in[2] = bias ? nf_konst(g, AV_NN_F32, &o, 1, -1, 1) : -1;
    av_nn__params pp = {.conv = p};
    nf_check_node(g, nf_add(g, op, in, bias ? 3 : 2, nf_out_t(g, 0, 0), &pp));
}

TEST(conv_f32_same_bias)
{
    conv_f32(1, AV_NN_OP_CONV2D, D(1, 9, 11, 5), D(7, 3, 3, 5),
             nf_cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE), true);
}

TEST(conv_f32_stride_dilation_pads_relu6)
{
    av_nn__conv_params p = nf_cp(2, 2, AV_NN_PAD_EXPLICIT, AV_NN_ACT_RELU6);
    p.pad_top = 1, p.pad_left = 0, p.pad_bottom = 2, p.pad_right = 1;
    conv_f32(2, AV_NN_OP_CONV2D, D(2, 13, 10, 4), D(6, 3, 2, 4), p, true);
    p.stride_h = 1, p.dilation_w = 1; /* height and width kept apart */
    conv_f32(15, AV_NN_OP_CONV2D, D(1, 12, 11, 3), D(4, 2, 3, 3), p, true);
    conv_f32(16, AV_NN_OP_DEPTHWISE_CONV2D, D(1, 12, 11, 3), D(1, 2, 3, 3), p, false);
}

TEST(conv_f32_groups_clamp)
{
    av_nn__conv_params p = nf_cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_CLAMP);
    p.groups = 2;
    conv_f32(3, AV_NN_OP_CONV2D, D(1, 7, 7, 6), D(4, 3, 3, 3), p, true);
}

TEST(conv_f32_fused_leaky_sigmoid_relu_n1)
{
    conv_f32(4, AV_NN_OP_CONV2D, D(1, 6, 6, 3), D(5, 1, 1, 3),
             nf_cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_LEAKY), true);
    conv_f32(5, AV_NN_OP_CONV2D, D(1, 6, 6, 3), D(5, 3, 3, 3),
             nf_cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_SIGMOID), false);
    conv_f32(6, AV_NN_OP_CONV2D, D(1, 6, 6, 3), D(5, 3, 3, 3),
             nf_cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU_N1_1), false);
}

/* SiLU fused by the pass (YOLOX): our kernel in place after the XNNPACK op
 * (binary_f32_broadcast has it after an add). */
TEST(conv_dw_fused_silu)
{
    conv_f32(7, AV_NN_OP_CONV2D, D(1, 13, 11, 3), D(5, 3, 3, 3),
             nf_cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_SILU), true);
    conv_f32(8, AV_NN_OP_CONV2D, D(1, 64, 61, 3), D(9, 3, 3, 3),
             nf_cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_SILU), true); /* > one pool task */
    conv_f32(9, AV_NN_OP_DEPTHWISE_CONV2D, D(1, 9, 7, 6), D(1, 3, 3, 6),
             nf_cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_SILU), true);
}

/* Our AVX2+FMA convolution (xnn_gemm.c, where this CPU runs it) on random
 * shapes: output pixels not a multiple of the 6-row tile, channels not a
 * multiple of 16, 1 to 40 input channels, kernels up to 4x4 with strides,
 * dilations and uneven pads, batch 2, every fused activation it takes. On
 * other CPUs the same cases check XNNPACK's convolution. */
TEST(conv_own_gemm_random_shapes)
{
    static const av_nn__act acts[] = {AV_NN_ACT_NONE,   AV_NN_ACT_RELU,  AV_NN_ACT_RELU6,
                                      AV_NN_ACT_CLAMP,  AV_NN_ACT_LEAKY, AV_NN_ACT_SILU,
                                      AV_NN_ACT_SIGMOID};
    int ours = 0;
    for (uint64_t seed = 400; seed < 460; seed++) {
        nf_reseed(seed * 7919 + 3);
        int64_t nb = 1 + nf_rnd() % 2, h = 1 + nf_rnd() % 14, w = 1 + nf_rnd() % 14;
        int64_t ci = 1 + nf_rnd() % 40, co = 1 + nf_rnd() % 40, kh = 1 + nf_rnd() % 4,
                kw = 1 + nf_rnd() % 4;
        av_nn__conv_params p = nf_cp(1 + (int)(nf_rnd() % 3), 1 + (int)(nf_rnd() % 2),
                                     AV_NN_PAD_EXPLICIT, acts[nf_rnd() % 7]);
        p.stride_w = 1 + (int)(nf_rnd() % 3), p.dilation_w = 1 + (int)(nf_rnd() % 2);
        p.pad_top = (int)(nf_rnd() % 3), p.pad_left = (int)(nf_rnd() % 3);
        p.pad_bottom = (int)(nf_rnd() % 3), p.pad_right = (int)(nf_rnd() % 3);
        p.act.alpha = nf_frand(-0.5f, 1.5f); /* LEAKY: slopes above 1 and below 0 too */
        if (h + p.pad_top + p.pad_bottom < (kh - 1) * p.dilation_h + 1 ||
            w + p.pad_left + p.pad_right < (kw - 1) * p.dilation_w + 1)
            continue; /* no output */
        bool bias = nf_rnd() % 4 != 0;
        av_nn__graph *g = nf_new_graph(seed);
        av_nn__tid in[3];
        in[0] = nf_act_in(g, AV_NN_F32, D(nb, h, w, ci), 4, 0, 0);
        in[1] = nf_konst(g, AV_NN_F32, D(co, kh, kw, ci), 4, -1, 1);
        in[2] = bias ? nf_konst(g, AV_NN_F32, &co, 1, -1, 1) : -1;
        av_nn__params pp = {.conv = p};
        int k = nf_add(g, AV_NN_OP_CONV2D, in, bias ? 3 : 2, nf_out_t(g, 0, 0), &pp);
        CHECK_EQ_INT(av_nn__xnn_gemm_supports(g, &g->nodes[k]), av_nn__xnn_gemm_available());
        ours += av_nn__xnn_gemm_supports(g, &g->nodes[k]);
        nf_check_node(g, k);
    }
    CHECK(ours == 0 || ours >= 40); /* most seeds give an output */
}

/* The kernel always reads MR = 6 input rows per tap; a block's pixels past
 * the last output pixel must read a valid row (its first), never the pixels
 * after the input. ASan does not see intrinsic loads, so the input ends at a
 * PROT_NONE page: a read past it faults. 7 output pixels: the last block has
 * one pixel, so five rows repeat it. */
TEST(conv_own_gemm_reads_stay_in_the_input)
{
    if (!av_nn__xnn_gemm_available())
        return; /* not this CPU's path: XNNPACK runs the convolution */
    av_nn__graph *g = nf_new_graph(480);
    av_nn__tid in[2];
    in[0] = nf_act_in(g, AV_NN_F32, SH(1, 1, 7, 4), 0, 0);
    in[1] = nf_konst(g, AV_NN_F32, SH(5, 3, 3, 4), -1, 1);
    av_nn__params pp = {.conv = nf_cp(1, 1, AV_NN_PAD_EXPLICIT, AV_NN_ACT_NONE)};
    pp.conv.pad_top = pp.conv.pad_bottom = pp.conv.pad_left = pp.conv.pad_right = 1;
    int k = nf_add(g, AV_NN_OP_CONV2D, in, 2, nf_out_t(g, 0, 0), &pp);
    CHECK(av_nn__xnn_gemm_supports(g, &g->nodes[k]));
    av_nn__xnn_node s;
    memset(&s, 0, sizeof s);
    char err[256];
    CHECK_EQ_INT(av_nn__xnn_gemm_prepare(g, &g->nodes[k], &s, err, sizeof err), AV_NN_OK);
    nf_guarded guard;
    float *x = nf_guarded_floats(&guard, 7 * 4); /* the input's last float touches the guard */
    CHECK(x);
    for (int i = 0; i < 7 * 4; i++)
        x[i] = (float)(i % 5) - 2;
    float y[7 * 5];
    av_nn__xnn_gemm_run(s.gemm, x, y, NULL);
    /* output pixel 3, channel 0, by the definition (pads read zeros) */
    const float *wf = g->tensors[in[1]].data;
    double want = 0;
    for (int kx = 0; kx < 3; kx++)
        for (int c = 0; c < 4; c++)
            want += (double)wf[(0 * 3 + 1) * 3 * 4 + kx * 4 + c] * x[(3 - 1 + kx) * 4 + c];
    CHECK_MSG(fabs(y[3 * 5] - want) < 1e-4, "pixel 3: %g, want %g", y[3 * 5], want);
    av_nn__xnn_gemm_free(s.gemm);
    nf_guarded_free(&guard);
    av_nn__graph_free(g);
}

/* Forced off (as on AVX-512 CPUs), the same convolution runs on XNNPACK and
 * still matches; groups > 1 and tanh outputs always stay on XNNPACK. */
TEST(conv_own_gemm_forced_off)
{
    av_nn__xnn_gemm_force_off(true);
    CHECK(!av_nn__xnn_gemm_available());
    conv_f32(470, AV_NN_OP_CONV2D, D(1, 9, 10, 7), D(19, 3, 3, 7),
             nf_cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_LEAKY), true);
    av_nn__xnn_gemm_force_off(false);
    av_nn__graph *g = nf_new_graph(471);
    av_nn__tid in[2];
    in[0] = nf_act_in(g, AV_NN_F32, SH(1, 5, 5, 4), 0, 0);
    in[1] = nf_konst(g, AV_NN_F32, SH(4, 3, 3, 2), -1, 1);
    av_nn__params pp = {.conv = nf_cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE)};
    pp.conv.groups = 2;
    int k = nf_add(g, AV_NN_OP_CONV2D, in, 2, nf_out_t(g, 0, 0), &pp);
    CHECK(!av_nn__xnn_gemm_supports(g, &g->nodes[k]));
    g->nodes[k].p.conv.groups = 1, g->nodes[k].p.conv.act.kind = AV_NN_ACT_TANH;
    g->tensors[in[1]].dims[3] = 4; /* shape only: supports() reads no data */
    CHECK(!av_nn__xnn_gemm_supports(g, &g->nodes[k]));
    av_nn__graph_free(g);
}

TEST(conv_f16_weights_refused)
{
    /* loaders widen f16 weights; the reference refuses f16 filters, so do we */
    av_nn__graph *g = nf_new_graph(7);
    av_nn__tid in[2];
    in[0] = nf_act_in(g, AV_NN_F32, SH(1, 8, 8, 4), 0, 0);
    in[1] = nf_konst(g, AV_NN_F16, SH(8, 3, 3, 4), -1, 1);
    av_nn__params p = {.conv = nf_cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU)};
    nf_check_refused(g, nf_add(g, AV_NN_OP_CONV2D, in, 2, nf_out_t(g, 0, 0), &p));
}

TEST(conv_f32_mobilenet_3x3)
{
    conv_f32(8, AV_NN_OP_CONV2D, D(1, 28, 28, 32), D(64, 3, 3, 32),
             nf_cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6), true);
}

TEST(depthwise_f32)
{
    conv_f32(9, AV_NN_OP_DEPTHWISE_CONV2D, D(1, 10, 9, 8), D(1, 3, 3, 8),
             nf_cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6), true);
    conv_f32(10, AV_NN_OP_DEPTHWISE_CONV2D, D(2, 11, 11, 3), D(1, 5, 5, 6),
             nf_cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE), true);
    conv_f32(11, AV_NN_OP_DEPTHWISE_CONV2D, D(1, 12, 12, 1), D(1, 3, 3, 4),
             nf_cp(1, 2, AV_NN_PAD_VALID, AV_NN_ACT_LEAKY), false);
}

TEST(transpose_conv_f32)
{
    av_nn__conv_params p = nf_cp(2, 1, AV_NN_PAD_EXPLICIT, AV_NN_ACT_NONE);
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    p.out_pad_h = p.out_pad_w = 1;
    conv_f32(12, AV_NN_OP_TRANSPOSE_CONV2D, D(1, 5, 6, 4), D(3, 3, 3, 4), p, true);
    conv_f32(13, AV_NN_OP_TRANSPOSE_CONV2D, D(2, 4, 4, 3), D(5, 4, 4, 3),
             nf_cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU), true);
    conv_f32(14, AV_NN_OP_TRANSPOSE_CONV2D, D(1, 3, 5, 2), D(2, 3, 2, 2),
             nf_cp(1, 2, AV_NN_PAD_VALID, AV_NN_ACT_NONE), false);
}

static void fc_f32(uint64_t seed, const int64_t *xd, int xr, int64_t n_out, bool bias,
                   av_nn__act act)
{
    av_nn__graph *g = nf_new_graph(seed);
    av_nn__tid in[3];
    in[0] = nf_act_in(g, AV_NN_F32, xd, xr, 0, 0);
    in[1] = nf_konst(g, AV_NN_F32, D(n_out, xd[xr - 1]), 2, -1, 1);
    in[2] = bias ? nf_konst(g, AV_NN_F32, &n_out, 1, -1, 1) : -1;
    av_nn__params p = {.fc = {.keep_dims = xr > 2, .act = nf_act(act)}};
    nf_check_node(g, nf_add(g, AV_NN_OP_FULLY_CONNECTED, in, bias ? 3 : 2, nf_out_t(g, 0, 0), &p));
}

TEST(fully_connected_f32)
{
    fc_f32(20, SH(3, 10), 6, true, AV_NN_ACT_RELU);
    fc_f32(21, SH(2, 2, 8), 5, false, AV_NN_ACT_NONE);
    fc_f32(22, SH(1, 1280), 965, true, AV_NN_ACT_SIGMOID);
}

/* ---- quantised ---- */

typedef struct qspec {
    float xs, ws, ys;
    int32_t xz, wz, yz;
} qspec;

static void conv_q(uint64_t seed, av_nn__op op, av_nn_dtype dt, const int64_t *xd,
                   const int64_t *wd, av_nn__conv_params p, qspec q, bool per_channel)
{
    av_nn__graph *g = nf_new_graph(seed);
    av_nn__tid in[3];
    bool fc = op == AV_NN_OP_FULLY_CONNECTED;
    int xr = fc ? 2 : 4, wr = fc ? 2 : 4;
    in[0] = nf_act_in(g, dt, xd, xr, q.xs, q.xz);
    in[1] = nf_konst(g, dt, wd, wr, 0, 0);
    nf_set_q(g, in[1], q.ws, q.wz);
    int64_t o = op == AV_NN_OP_DEPTHWISE_CONV2D ? wd[3] : wd[0];
    if (per_channel) {
        av_nn__quant *wq = &g->tensors[in[1]].quant;
        wq->channel_scales = malloc((size_t)o * sizeof(float));
        CHECK(wq->channel_scales);
        for (int64_t c = 0; c < o; c++)
            wq->channel_scales[c] = q.ws * nf_frand(0.25f, 2.0f);
        wq->n_channels = (int32_t)o;
        wq->axis = op == AV_NN_OP_DEPTHWISE_CONV2D ? 3 : 0;
        wq->scale = 0;
    }
    in[2] = nf_konst(g, AV_NN_I32, &o, 1, 0, 0);
    av_nn__params pp = {.conv = p};
    if (fc)
        pp.fc = (av_nn__fc_params){.act = p.act};
    nf_check_node(g, nf_add(g, op, in, 3, nf_out_t(g, q.ys, q.yz), &pp));
}

/* TFLite MobileNetV2-like quantisation */
static const qspec QU8 = {0.0235f, 0.0047f, 0.0235f, 128, 113, 0};
static const qspec QS8 = {0.031f, 0.0062f, 0.047f, -5, 0, 7};

TEST(conv_qu8)
{
    conv_q(300, AV_NN_OP_CONV2D, AV_NN_U8, D(1, 15, 15, 16), D(24, 3, 3, 16),
           nf_cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6), QU8, false);
    conv_q(301, AV_NN_OP_CONV2D, AV_NN_U8, D(1, 7, 7, 32), D(16, 1, 1, 32),
           nf_cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE),
           (qspec){0.02f, 0.003f, 0.05f, 131, 140, 122}, false);
    conv_q(302, AV_NN_OP_DEPTHWISE_CONV2D, AV_NN_U8, D(1, 14, 14, 24), D(1, 3, 3, 24),
           nf_cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6), QU8, false);
    conv_q(303, AV_NN_OP_DEPTHWISE_CONV2D, AV_NN_U8, D(1, 9, 9, 4), D(1, 3, 3, 8),
           nf_cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE), QU8, false);
}

TEST(fully_connected_qu8)
{
    conv_q(310, AV_NN_OP_FULLY_CONNECTED, AV_NN_U8, D(2, 1280), D(965, 1280),
           nf_cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE),
           (qspec){0.0235f, 0.0008f, 0.08f, 0, 110, 60}, false);
}

TEST(conv_qs8_qc8)
{
    conv_q(320, AV_NN_OP_CONV2D, AV_NN_I8, D(1, 11, 11, 8), D(12, 3, 3, 8),
           nf_cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU), QS8, false);
    conv_q(321, AV_NN_OP_CONV2D, AV_NN_I8, D(1, 11, 11, 8), D(12, 3, 3, 8),
           nf_cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE), QS8, true);
    conv_q(322, AV_NN_OP_DEPTHWISE_CONV2D, AV_NN_I8, D(1, 10, 10, 16), D(1, 3, 3, 16),
           nf_cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6), QS8, true);
    conv_q(323, AV_NN_OP_FULLY_CONNECTED, AV_NN_I8, D(3, 64), D(10, 64),
           nf_cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE), QS8, false);
    conv_q(324, AV_NN_OP_FULLY_CONNECTED, AV_NN_I8, D(3, 64), D(10, 64),
           nf_cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_RELU), QS8, true);
}

TEST(conv_q_refusals)
{
    /* requantisation scale >= 256 */
    av_nn__graph *g = nf_new_graph(330);
    av_nn__tid in[2];
    in[0] = nf_act_in(g, AV_NN_U8, SH(1, 4, 4, 2), 1.0f, 0);
    in[1] = nf_konst(g, AV_NN_U8, SH(2, 1, 1, 2), 0, 0);
    nf_set_q(g, in[1], 1.0f, 0);
    av_nn__params p = {.conv = nf_cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE)};
    nf_check_refused(g, nf_add(g, AV_NN_OP_CONV2D, in, 2, nf_out_t(g, 1.0f / 512, 0), &p));
    /* weights computed at run time */
    g = nf_new_graph(331);
    in[0] = nf_act_in(g, AV_NN_F32, SH(1, 4, 4, 2), 0, 0);
    in[1] = nf_act_in(g, AV_NN_F32, SH(2, 1, 1, 2), 0, 0);
    nf_check_refused(g, nf_add(g, AV_NN_OP_CONV2D, in, 2, nf_out_t(g, 0, 0), &p));
}

TEST_MAIN(T(conv_f32_same_bias), T(conv_f32_stride_dilation_pads_relu6), T(conv_f32_groups_clamp),
          T(conv_f32_fused_leaky_sigmoid_relu_n1), T(conv_dw_fused_silu),
          T(conv_own_gemm_random_shapes), T(conv_own_gemm_reads_stay_in_the_input),
          T(conv_own_gemm_forced_off), T(conv_f16_weights_refused), T(conv_f32_mobilenet_3x3),
          T(depthwise_f32), T(transpose_conv_f32), T(fully_connected_f32), T(conv_qu8),
          T(fully_connected_qu8), T(conv_qs8_qc8), T(conv_q_refusals))
