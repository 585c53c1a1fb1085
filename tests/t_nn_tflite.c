/*
 * t_nn_tflite.c - the TFLite flatbuffer loader (src/nn/load_tflite.c,
 * tflite_ops.c over flatbuf.c) on small models built here
 * (tests/tflite_fixture.h), each run on both backends against values
 * computed here. Hostile input: t_nn_tflite_hostile.c; the real models
 * and batches: t_nn_tflite_models.c.
 *
 * With AV_TFLITE_SEED_DIR set, the cases write their small models there as
 * fuzz seeds (fuzz/corpus/tflite):
 *   AV_TFLITE_SEED_DIR=fuzz/corpus/tflite build/tests/t_nn_tflite
 */
#include "harness.h"
#include "tflite_fixture.h"

#include "detect/detect.h"
#include "nn/nn.h"
#include "vision/vision.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TEST(add_fused_relu)
{
    mb m;
    tf_add_model(&m);
    const float x[4] = {1.0f, 1.0f, -3.0f, 0.5f};
    const float want[4] = {2.0f, 0.0f, 0.0f, 0.25f};
    tf_check_f32(&m, x, want, 4, 1e-6);
    av_nn_model *model = tf_load_ok(&m);
    CHECK_EQ_INT(av_nn_model_format(model), AV_NN_FORMAT_TFLITE);
    CHECK_EQ_INT(av_nn_num_inputs(model), 1);
    CHECK_EQ_INT(av_nn_num_outputs(model), 1);
    CHECK_STR_EQ(av_nn_input(model, 0)->name, "x");
    CHECK_STR_EQ(av_nn_output(model, 0)->name, "y");
    CHECK_EQ_INT(av_nn_output(model, 0)->rank, 2);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[1], 4);
    av_nn_model_free(model);
    mb_free(&m);
}

TEST(conv2d_relu6)
{
    float x[18], want[8];
    for (int i = 0; i < 18; i++)
        x[i] = (float)(i % 7) - 1.5f;
    mb m;
    tf_conv_model(&m, want, x, 3);
    bool clipped_hi = false, clipped_lo = false;
    for (int i = 0; i < 8; i++) {
        clipped_hi |= want[i] == 6.0f;
        clipped_lo |= want[i] == 0.0f;
    }
    CHECK_MSG(clipped_hi && clipped_lo, "the data should exercise both RELU6 bounds");
    tf_check_f32(&m, x, want, 8, 1e-5);
    mb_free(&m);
}

TEST(reshape_and_softmax)
{
    static const int32_t dx[2] = {2, 3}, dr[1] = {6}, ds[1] = {2}, shp[2] = {1, 6};
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, dx);
    int s = mb_const_i32(&m, "shape", 1, ds, shp, 2);
    int r = mb_tensor_add(&m, "r", TT_F32, 2, (int32_t[]){1, 6});
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){1, 6});
    int op = mb_op_add(&m, OP_RESHAPE, 2, (int32_t[]){x, s}, 1, (int32_t[]){r});
    mb_opt_add(&m, op, O_RESHAPE, 0, 'i', 0); /* an options table with no new_shape */
    op = mb_op_add(&m, OP_SOFTMAX, 1, (int32_t[]){r}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_SOFTMAX, 0, 'f', 0.5);
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    (void)dr;
    const float xv[6] = {1, 2, 3, -1, 0, 4};
    float want[6];
    double sum = 0;
    for (int i = 0; i < 6; i++)
        sum += exp(0.5 * xv[i]);
    for (int i = 0; i < 6; i++)
        want[i] = (float)(exp(0.5 * xv[i]) / sum);
    tf_check_f32(&m, xv, want, 6, 1e-5);
    av_nn_model *model = tf_load_ok(&m);
    CHECK_EQ_INT(av_nn_output(model, 0)->rank, 2);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[0], 1);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[1], 6);
    av_nn_model_free(model);
    mb_free(&m);
}

/* concat(x[1,2], c[1,3]) axis 1 with fused RELU_N1_TO_1. */
TEST(concat_fused_activation)
{
    static const float c[3] = {0.5f, -4.0f, 2.0f};
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){1, 2});
    int k = mb_const(&m, "c", TT_F32, 2, (int32_t[]){1, 3}, c, sizeof c);
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){1, 5});
    int op = mb_op_add(&m, OP_CONCAT, 2, (int32_t[]){x, k}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_CONCAT, 0, 'i', -1); /* negative axis */
    mb_opt_add(&m, op, O_CONCAT, 1, 'b', 2);  /* RELU_N1_TO_1 */
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    const float xv[2] = {-0.25f, 3.0f};
    const float want[5] = {-0.25f, 1.0f, 0.5f, -1.0f, 1.0f};
    tf_maybe_seed("concat_act", &m);
    tf_check_f32(&m, xv, want, 5, 1e-6);
    mb_free(&m);
}

/* pad x[1,2,2,1] by [[0,0],[1,0],[0,1],[0,0]] then mean over H,W keep_dims. */
TEST(pad_then_mean)
{
    static const int32_t pads[8] = {0, 0, 1, 0, 0, 1, 0, 0}, axes[2] = {1, 2};
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 4, (int32_t[]){1, 2, 2, 1});
    int p = mb_const_i32(&m, "pads", 2, (int32_t[]){4, 2}, pads, 8);
    int pd = mb_tensor_add(&m, "padded", TT_F32, 4, (int32_t[]){1, 3, 3, 1});
    int a = mb_const_i32(&m, "axes", 1, (int32_t[]){2}, axes, 2);
    int y = mb_tensor_add(&m, "y", TT_F32, 4, (int32_t[]){1, 1, 1, 1});
    mb_op_add(&m, OP_PAD, 2, (int32_t[]){x, p}, 1, (int32_t[]){pd});
    int op = mb_op_add(&m, OP_MEAN, 2, (int32_t[]){pd, a}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_REDUCER, 0, 'b', 1);
    mb_io(&m, 1, (int32_t[]){x}, 2, (int32_t[]){y, pd});
    const float xv[4] = {1, 2, 3, 6};
    tf_maybe_seed("pad_mean", &m);
    av_nn_model *model = tf_load_ok(&m);
    CHECK_EQ_INT(av_nn_output(model, 0)->rank, 4);
    for (int b = 0; b < 2; b++) {
        float got = -1, padded[9];
        const void *in[1] = {xv};
        void *out[2] = {&got, padded};
        tf_run_on(model, tf_backends[b], in, out);
        /* rows: pad one on top; cols: pad one on the right */
        const float wp[9] = {0, 0, 0, 1, 2, 0, 3, 6, 0};
        for (int i = 0; i < 9; i++)
            CHECK_NEAR(padded[i], wp[i], 0);
        CHECK_NEAR(got, 12.0 / 9.0, 1e-6);
    }
    av_nn_model_free(model);
    mb_free(&m);
}

/* x[3,4]: rows 0..2 step 2, cols 3 down to 1 step -1, then shrink nothing. */
TEST(strided_slice_masks)
{
    static const int32_t begin[2] = {0, 3}, end[2] = {3, 0}, strides[2] = {2, -1};
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){3, 4});
    int b = mb_const_i32(&m, "begin", 1, (int32_t[]){2}, begin, 2);
    int e = mb_const_i32(&m, "end", 1, (int32_t[]){2}, end, 2);
    int s = mb_const_i32(&m, "strides", 1, (int32_t[]){2}, strides, 2);
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){2, 3});
    int op = mb_op_add(&m, OP_STRIDED_SLICE, 4, (int32_t[]){x, b, e, s}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_STRIDED_SLICE, 0, 'i', 0);
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    float xv[12];
    for (int i = 0; i < 12; i++)
        xv[i] = (float)i;
    const float want[6] = {3, 2, 1, 11, 10, 9};
    tf_check_f32(&m, xv, want, 6, 0);

    /* begin_mask on axis 1 and shrink_axis on axis 0: x[1, :] -> [4] */
    mb_free(&m);
    mb_init(&m);
    static const int32_t b2[2] = {1, 2}, e2[2] = {2, 0}, s2[2] = {1, 1};
    x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){3, 4});
    b = mb_const_i32(&m, "begin", 1, (int32_t[]){2}, b2, 2);
    e = mb_const_i32(&m, "end", 1, (int32_t[]){2}, e2, 2);
    s = mb_const_i32(&m, "strides", 1, (int32_t[]){2}, s2, 2);
    y = mb_tensor_add(&m, "y", TT_F32, 1, (int32_t[]){4});
    op = mb_op_add(&m, OP_STRIDED_SLICE, 4, (int32_t[]){x, b, e, s}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_STRIDED_SLICE, 0, 'i', 2); /* begin_mask: axis 1 from 0 */
    mb_opt_add(&m, op, O_STRIDED_SLICE, 1, 'i', 2); /* end_mask: axis 1 to the end */
    mb_opt_add(&m, op, O_STRIDED_SLICE, 4, 'i', 1); /* shrink axis 0 */
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    const float want2[4] = {4, 5, 6, 7};
    tf_check_f32(&m, xv, want2, 4, 0);
    av_nn_model *model = tf_load_ok(&m);
    CHECK_EQ_INT(av_nn_output(model, 0)->rank, 1);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[0], 4);
    av_nn_model_free(model);
    mb_free(&m);
}

/* SPLIT (axis as input 0) of x[2,6] into 3 along axis 1 (given as -1). */
TEST(split_axis_input)
{
    static const int32_t axis[1] = {-1};
    mb m;
    mb_init(&m);
    int a = mb_const_i32(&m, "axis", 0, NULL, axis, 1);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){2, 6});
    int y0 = mb_tensor_add(&m, "y0", TT_F32, 2, (int32_t[]){2, 2});
    int y1 = mb_tensor_add(&m, "y1", TT_F32, 2, (int32_t[]){2, 2});
    int y2 = mb_tensor_add(&m, "y2", TT_F32, 2, (int32_t[]){2, 2});
    int op = mb_op_add(&m, OP_SPLIT, 2, (int32_t[]){a, x}, 3, (int32_t[]){y0, y1, y2});
    mb_opt_add(&m, op, O_SPLIT, 0, 'i', 3);
    mb_io(&m, 1, (int32_t[]){x}, 3, (int32_t[]){y2, y0, y1});
    float xv[12];
    for (int i = 0; i < 12; i++)
        xv[i] = (float)i;
    av_nn_model *model = tf_load_ok(&m);
    CHECK_EQ_INT(av_nn_num_outputs(model), 3);
    CHECK_STR_EQ(av_nn_output(model, 0)->name, "y2");
    for (int b = 0; b < 2; b++) {
        float o[3][4];
        const void *in[1] = {xv};
        void *out[3] = {o[0], o[1], o[2]};
        tf_run_on(model, tf_backends[b], in, out);
        /* outputs are y2, y0, y1 */
        const int part[3] = {2, 0, 1};
        for (int k = 0; k < 3; k++)
            for (int r = 0; r < 2; r++)
                for (int c = 0; c < 2; c++)
                    CHECK_NEAR(o[k][r * 2 + c], xv[r * 6 + part[k] * 2 + c], 0);
    }
    av_nn_model_free(model);

    /* num_splits that disagrees with the outputs */
    m.ops[0].opt[0].v = 2;
    tf_check_fails(&m, "num_splits 2 but 3 outputs");
    mb_free(&m);
}

/* UNPACK x[2,3] along axis 1 into three [2], then PACK them back along axis 0 -> [3,2]. */
TEST(pack_unpack)
{
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){2, 3});
    int u[3];
    for (int i = 0; i < 3; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "u%d", i);
        u[i] = mb_tensor_add(&m, nm, TT_F32, 1, (int32_t[]){2});
    }
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){3, 2});
    int op = mb_op_add(&m, OP_UNPACK, 1, (int32_t[]){x}, 3, (int32_t[]){u[0], u[1], u[2]});
    mb_opt_add(&m, op, O_UNPACK, 0, 'i', 3);
    mb_opt_add(&m, op, O_UNPACK, 1, 'i', 1);
    op = mb_op_add(&m, OP_PACK, 3, (int32_t[]){u[2], u[0], u[1]}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_PACK, 0, 'i', 3);
    mb_opt_add(&m, op, O_PACK, 1, 'i', 0);
    mb_io(&m, 1, (int32_t[]){x}, 2, (int32_t[]){y, u[1]});
    const float xv[6] = {1, 2, 3, 4, 5, 6};
    tf_maybe_seed("pack_unpack", &m);
    av_nn_model *model = tf_load_ok(&m);
    CHECK_EQ_INT(av_nn_output(model, 0)->rank, 2);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[0], 3);
    CHECK_EQ_INT(av_nn_output(model, 1)->rank, 1);
    for (int b = 0; b < 2; b++) {
        float got[6], col[2];
        const void *in[1] = {xv};
        void *out[2] = {got, col};
        tf_run_on(model, tf_backends[b], in, out);
        /* rows of y: column 2, column 0, column 1 of x */
        const float want[6] = {3, 6, 1, 4, 2, 5};
        for (int i = 0; i < 6; i++)
            CHECK_NEAR(got[i], want[i], 0);
        CHECK_NEAR(col[0], 2, 0);
        CHECK_NEAR(col[1], 5, 0);
    }
    av_nn_model_free(model);
    mb_free(&m);
}

static int32_t clampi(long v, long lo, long hi)
{
    return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

/*
 * A quantised 1x1-ish conv: x[1,2,2,2] -> y[1,2,2,3], filter [3,1,1,2].
 * per_channel: i8 with one weight scale per output channel (zero points 0,
 * the bias quantised per channel too); otherwise u8, one scale each.
 */
static void check_quant_conv(bool per_channel)
{
    const int type = per_channel ? TT_I8 : TT_U8;
    const float sx = 0.05f, so = 0.1f;
    const int64_t zx = per_channel ? -3 : 120, zo = per_channel ? 5 : 100, zw = per_channel ? 0 : 128;
    const float swc[3] = {0.02f, 0.005f, 0.04f}, sw1 = 0.01f;
    uint8_t wq[6];
    const int wv[6] = {40, -20, -90, 100, 7, 60}; /* q - zw */
    for (int i = 0; i < 6; i++)
        wq[i] = (uint8_t)(wv[i] + zw);
    int32_t bias[3] = {100, -250, 30};
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", type, 4, (int32_t[]){1, 2, 2, 2});
    int w = mb_const(&m, "w", type, 4, (int32_t[]){3, 1, 1, 2}, wq, 6);
    int b = mb_const_i32(&m, "b", 1, (int32_t[]){3}, bias, 3);
    int y = mb_tensor_add(&m, "y", type, 4, (int32_t[]){1, 2, 2, 3});
    mb_quant(&m, x, 1, &sx, &zx, 1, 0);
    mb_quant(&m, y, 1, &so, &zo, 1, 0);
    if (per_channel) {
        const int64_t z0[3] = {0, 0, 0};
        float bs[3];
        for (int i = 0; i < 3; i++)
            bs[i] = sx * swc[i];
        mb_quant(&m, w, 3, swc, z0, 3, 0);
        mb_quant(&m, b, 3, bs, z0, 3, 0);
    } else {
        const int64_t z0 = 0;
        float bs = sx * sw1;
        mb_quant(&m, w, 1, &sw1, &zw, 1, 0);
        mb_quant(&m, b, 1, &bs, &z0, 1, 0);
    }
    int op = mb_op_add(&m, OP_CONV, 3, (int32_t[]){x, w, b}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_CONV, 0, 'b', 1);
    mb_opt_add(&m, op, O_CONV, 1, 'i', 1);
    mb_opt_add(&m, op, O_CONV, 2, 'i', 1);
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});

    uint8_t xq[8];
    const int xv[8] = {10, -40, 90, 3, -100, 60, 25, 0}; /* q - zx */
    for (int i = 0; i < 8; i++)
        xq[i] = (uint8_t)(xv[i] + zx);
    int want[12];
    for (int p = 0; p < 4; p++)
        for (int o = 0; o < 3; o++) {
            double sw = per_channel ? swc[o] : sw1;
            long acc = bias[o];
            for (int c = 0; c < 2; c++)
                acc += (long)xv[p * 2 + c] * wv[o * 2 + c];
            double real = (double)acc * sx * sw;
            want[p * 3 + o] = clampi(lround(real / so) + zo, per_channel ? -128 : 0,
                                     per_channel ? 127 : 255);
        }
    tf_maybe_seed(per_channel ? "conv_i8_per_channel" : "conv_u8", &m);
    av_nn_model *model = tf_load_ok(&m);
    const av_nn_tensor_info *ii = av_nn_input(model, 0), *oi = av_nn_output(model, 0);
    CHECK_EQ_INT(ii->dtype, per_channel ? AV_NN_I8 : AV_NN_U8);
    CHECK_NEAR(ii->scale, sx, 0);
    CHECK_EQ_INT(ii->zero_point, zx);
    CHECK_NEAR(oi->scale, so, 0);
    CHECK_EQ_INT(oi->zero_point, zo);
    bool saw_non_zero = false;
    for (int bk = 0; bk < 2; bk++) {
        uint8_t got[12];
        const void *in[1] = {xq};
        void *out[1] = {got};
        tf_run_on(model, tf_backends[bk], in, out);
        for (int i = 0; i < 12; i++) {
            int g = per_channel ? (int)(int8_t)got[i] : (int)got[i];
            CHECK_MSG(abs(g - want[i]) <= 1, "%s: [%d] %d, want %d",
                      bk ? "xnnpack" : "reference", i, g, want[i]);
            saw_non_zero |= want[i] != zo;
        }
    }
    CHECK(saw_non_zero);
    av_nn_model_free(model);

    if (per_channel) {
        /* scales that do not match the quantized dimension */
        m.t[w].qdim = 3;
        tf_check_fails(&m, "3 scales along dimension 3");
        m.t[w].qdim = 0;
        m.t[w].zp[1] = 4;
        tf_check_fails(&m, "per-channel zero points differ");
        m.t[w].nzp = 2;
        tf_check_fails(&m, "3 scales but 2 zero points");
        m.t[w].nzp = 0; /* no zero points: all 0, the same model */
        model = tf_load_ok(&m);
        av_nn_model_free(model);
        m.t[w].scale[2] = -1.0f;
        tf_check_fails(&m, "scale 2 is -1");
    }
    mb_free(&m);
}

TEST(u8_conv_per_tensor) { check_quant_conv(false); }
TEST(i8_conv_per_channel) { check_quant_conv(true); }


/* Legal but unusual files: unnamed tensors, no bias, outputs that are inputs or constants. */
TEST(unnamed_tensors)
{
    mb m;
    tf_add_model(&m);
    for (int i = 0; i < m.n_t; i++)
        m.t[i].name[0] = '\0';
    const float x[4] = {1.0f, 1.0f, -3.0f, 0.5f};
    const float want[4] = {2.0f, 0.0f, 0.0f, 0.25f};
    tf_check_f32(&m, x, want, 4, 1e-6);
    mb_free(&m);
}

TEST(conv_without_bias)
{
    float x[18], want[8];
    for (int i = 0; i < 18; i++)
        x[i] = (float)(i % 5) * 0.25f;
    mb m;
    tf_conv_model(&m, want, x, 0);
    /* the bias was 0.5, -1: take it back out of the expected values */
    for (int i = 0; i < 8; i++)
        want[i] -= i % 2 ? -1.0f : 0.5f;
    m.ops[0].in[2] = -1;
    tf_check_f32(&m, x, want, 8, 1e-5);
    m.ops[0].n_in = 2;
    tf_check_f32(&m, x, want, 8, 1e-5);
    mb_free(&m);
}

TEST(outputs_that_are_inputs_or_constants)
{
    mb m;
    tf_add_model(&m);
    mb_io(&m, 1, (int32_t[]){0}, 3, (int32_t[]){2, 0, 1});
    const float x[4] = {1.0f, 1.0f, -3.0f, 0.5f};
    av_nn_model *model = tf_load_ok(&m);
    CHECK_EQ_INT(av_nn_num_outputs(model), 3);
    for (int b = 0; b < 2; b++) {
        float y[4], xo[4], c[4];
        const void *in[1] = {x};
        void *out[3] = {y, xo, c};
        tf_run_on(model, tf_backends[b], in, out);
        CHECK_NEAR(y[0], 2.0f, 1e-6);
        CHECK_NEAR(y[2], 0.0f, 1e-6);
        for (int i = 0; i < 4; i++)
            CHECK_NEAR(xo[i], x[i], 0);
        CHECK_NEAR(c[1], -2.0f, 0);
        CHECK_NEAR(c[3], -0.25f, 0);
    }
    av_nn_model_free(model);
    /* no operators at all: the input is the output */
    m.n_ops = 0;
    mb_io(&m, 1, (int32_t[]){0}, 1, (int32_t[]){0});
    tf_check_f32(&m, x, x, 4, 0);
    mb_free(&m);
}

TEST(reshape_shape_with_minus_one)
{
    static const int32_t shp[2] = {-1, 2};
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){2, 3});
    int s = mb_const_i32(&m, "shape", 1, (int32_t[]){2}, shp, 2);
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){3, 2});
    mb_op_add(&m, OP_RESHAPE, 2, (int32_t[]){x, s}, 1, (int32_t[]){y});
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    const float xv[6] = {1, 2, 3, 4, 5, 6};
    tf_check_f32(&m, xv, xv, 6, 0);
    av_nn_model *model = tf_load_ok(&m);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[0], 3);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[1], 2);
    av_nn_model_free(model);
    mb_free(&m);
}

TEST(input_listed_twice_and_unproduced_tensor)
{
    mb m;
    tf_add_model(&m);
    mb_io(&m, 2, (int32_t[]){0, 0}, 1, (int32_t[]){2});
    char err[512] = "";
    av_nn_model *model = NULL;
    av_nn_status st = tf_load_mb(&m, &model, err, sizeof err);
    if (st == AV_NN_OK) {
        av_nn_model_free(model); /* accepted: then it must be one input */
    } else {
        CHECK_STR_CONTAINS(err, "'x'");
    }
    mb_free(&m);
    /* an operator reading a tensor nothing produces */
    tf_add_model(&m);
    mb_io(&m, 0, NULL, 1, (int32_t[]){2});
    tf_check_fails(&m, "'x'");
    mb_free(&m);
}


/* ------------------------------------------------------------ fuzz seeds */

TEST(fuzz_seeds)
{
    const char *dir = getenv("AV_TFLITE_SEED_DIR");
    mb m;
    float x[18] = {0}, want[8];
    tf_add_model(&m);
    tf_write_seed(dir, "add_relu", &m);
    mb_free(&m);
    tf_conv_model(&m, want, x, 3);
    tf_write_seed(dir, "conv_relu6", &m);
    mb_free(&m);
    /* softmax over a reshape, a strided slice and a split: the option tables */
    static const int32_t shp[2] = {1, 6}, axis[1] = {1}, bg[2] = {0, 0}, en[2] = {1, 4},
                         st[2] = {1, 2};
    mb_init(&m);
    int in = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){2, 3});
    int s = mb_const_i32(&m, "shape", 1, (int32_t[]){2}, shp, 2);
    int r = mb_tensor_add(&m, "r", TT_F32, 2, (int32_t[]){1, 6});
    int sm = mb_tensor_add(&m, "sm", TT_F32, 2, (int32_t[]){1, 6});
    int ax = mb_const_i32(&m, "axis", 0, NULL, axis, 1);
    int p0 = mb_tensor_add(&m, "p0", TT_F32, 2, (int32_t[]){1, 3});
    int p1 = mb_tensor_add(&m, "p1", TT_F32, 2, (int32_t[]){1, 3});
    int b = mb_const_i32(&m, "b", 1, (int32_t[]){2}, bg, 2);
    int e = mb_const_i32(&m, "e", 1, (int32_t[]){2}, en, 2);
    int sd = mb_const_i32(&m, "s", 1, (int32_t[]){2}, st, 2);
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){1, 2});
    mb_op_add(&m, OP_RESHAPE, 2, (int32_t[]){in, s}, 1, (int32_t[]){r});
    int op = mb_op_add(&m, OP_SOFTMAX, 1, (int32_t[]){r}, 1, (int32_t[]){sm});
    mb_opt_add(&m, op, O_SOFTMAX, 0, 'f', 1.0);
    op = mb_op_add(&m, OP_SPLIT, 2, (int32_t[]){ax, sm}, 2, (int32_t[]){p0, p1});
    mb_opt_add(&m, op, O_SPLIT, 0, 'i', 2);
    op = mb_op_add(&m, OP_STRIDED_SLICE, 4, (int32_t[]){sm, b, e, sd}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_STRIDED_SLICE, 1, 'i', 0);
    mb_io(&m, 1, (int32_t[]){in}, 3, (int32_t[]){y, p0, p1});
    tf_write_seed(dir, "reshape_softmax_split_slice", &m);
    mb_free(&m);
}
TEST_MAIN(T(add_fused_relu), T(conv2d_relu6), T(reshape_and_softmax), T(concat_fused_activation),
          T(pad_then_mean), T(strided_slice_masks), T(split_axis_input), T(pack_unpack),
          T(u8_conv_per_tensor), T(i8_conv_per_channel), T(unnamed_tensors), T(conv_without_bias),
          T(outputs_that_are_inputs_or_constants), T(reshape_shape_with_minus_one),
          T(input_listed_twice_and_unproduced_tensor), T(fuzz_seeds))
