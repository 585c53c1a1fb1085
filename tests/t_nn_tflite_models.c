/*
 * t_nn_tflite_models.c - the real TFLite models (../shared/models) through
 * the same path as `aviary classify`, compared across backends, and
 * batches of N samples against N single runs (small models:
 * tests/tflite_fixture.h).
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

static void top1(const float *v, size_t n, size_t *best)
{
    *best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[*best])
            *best = i;
}

TEST(inat_bird_parrot_via_classifier)
{
    const char *model =
        av_test_shared("models/inat_bird/mobilenet_v2_1.0_224_inat_bird_quant.tflite");
    const char *labels = av_test_shared("models/inat_bird/inat_bird_labels.txt");
    const char *img = av_test_shared("testdata/images/parrot.jpg");
    char err[512] = "";
    av_detect_classifier *c = NULL;
    av_detect_status st = av_detect_classifier_open(model, labels, NULL, 1, &c, err, sizeof err);
    CHECK_MSG(st == AV_DETECT_OK, "open: %s", err);
    FILE *f = fopen(img, "rb");
    CHECK(f);
    static uint8_t buf[4 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(n > 0 && n < sizeof buf);
    av_detect_species sp[5];
    int k = 0;
    st = av_detect_classify(c, buf, n, 0, 0, 5, sp, &k, err, sizeof err);
    CHECK_MSG(st == AV_DETECT_OK, "classify: %s", err);
    CHECK(k >= 1);
    CHECK_EQ_INT(sp[0].class_index, 923);
    CHECK_STR_EQ(sp[0].scientific, "Ara macao");
    CHECK_STR_EQ(sp[0].common, "Scarlet Macaw");
    CHECK_MSG(sp[0].score >= 0.73f && sp[0].score <= 0.79f, "score %.4f", (double)sp[0].score);
    av_detect_classifier_close(c);
}

/* Image file -> 224x224 RGB (Pillow bilinear resize of the whole image). */
static uint8_t *image_224(const char *rel)
{
    const char *path = av_test_shared(rel);
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "%s", path);
    static uint8_t buf[4 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char err[256];
    av_image *img = NULL, *small = NULL;
    CHECK(av_vision_decode(buf, n, NULL, &img, NULL, err, sizeof err) == AV_VISION_OK);
    CHECK(av_vision_resize_pil(img, 224, 224, &small, err, sizeof err) == AV_VISION_OK);
    uint8_t *px = malloc(224 * 224 * 3);
    CHECK(px);
    memcpy(px, small->data, 224 * 224 * 3);
    av_img_free(img);
    av_img_free(small);
    return px;
}

/* Run a u8 classifier on px with backend be; returns the dequantised scores (malloc). */
static float *classify_raw(av_nn_model *m, const uint8_t *px, av_nn_backend be, size_t *n)
{
    const av_nn_tensor_info *oi = av_nn_output(m, 0);
    *n = 1;
    for (int d = 0; d < oi->rank; d++)
        *n *= (size_t)oi->dims[d];
    CHECK(oi->dtype == AV_NN_U8);
    uint8_t *q = malloc(*n);
    float *v = malloc(*n * sizeof *v);
    CHECK(q && v);
    const void *in[1] = {px};
    void *out[1] = {q};
    tf_run_on(m, be, in, out);
    for (size_t i = 0; i < *n; i++)
        v[i] = oi->scale * ((int)q[i] - oi->zero_point);
    free(q);
    return v;
}

static av_nn_model *load_shared(const char *rel)
{
    const char *path = av_test_shared(rel);
    char err[512] = "";
    av_nn_model *m = NULL;
    av_nn_status st = av_nn_load(path, &m, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "%s: %s", rel, err);
    return m;
}

TEST(inat_bird_input_and_backends_agree)
{
    av_nn_model *m =
        load_shared("models/inat_bird/mobilenet_v2_1.0_224_inat_bird_quant.tflite");
    CHECK_EQ_INT(av_nn_model_format(m), AV_NN_FORMAT_TFLITE);
    CHECK_EQ_INT(av_nn_num_inputs(m), 1);
    const av_nn_tensor_info *ii = av_nn_input(m, 0);
    CHECK_EQ_INT(ii->dtype, AV_NN_U8);
    CHECK_EQ_INT(ii->rank, 4);
    CHECK_EQ_INT(ii->dims[0], 1);
    CHECK_EQ_INT(ii->dims[1], 224);
    CHECK_EQ_INT(ii->dims[2], 224);
    CHECK_EQ_INT(ii->dims[3], 3);
    CHECK_MSG(ii->scale > 0.007f && ii->scale < 0.008f, "input scale %g", (double)ii->scale);
    CHECK_EQ_INT(ii->zero_point, 128);
    uint8_t *px = image_224("testdata/images/parrot.jpg");
    size_t n1, n2, b1, b2;
    float *ref = classify_raw(m, px, AV_NN_BACKEND_REFERENCE, &n1);
    float *xnn = classify_raw(m, px, AV_NN_BACKEND_XNNPACK, &n2);
    CHECK_EQ_INT(n1, n2);
    top1(ref, n1, &b1);
    top1(xnn, n2, &b2);
    CHECK_EQ_INT(b1, 923);
    CHECK_EQ_INT(b2, 923);
    float step = av_nn_output(m, 0)->scale;
    double maxd = 0;
    for (size_t i = 0; i < n1; i++)
        maxd = fmax(maxd, fabs(ref[i] - xnn[i]));
    CHECK_MSG(maxd <= 2.5 * step, "tf_backends differ by %g (%g steps)", maxd, maxd / step);
    free(ref);
    free(xnn);
    free(px);
    av_nn_model_free(m);
}

static void imagenet_top1(const char *img, size_t want, const char *want_label)
{
    const char *labels = av_test_shared("models/imagenet_mobilenet/imagenet_labels.txt");
    av_nn_model *m = load_shared("models/imagenet_mobilenet/mobilenet_v2_1.0_224_quant.tflite");
    uint8_t *px = image_224(img);
    size_t n, best;
    float *v = classify_raw(m, px, AV_NN_BACKEND_XNNPACK, &n);
    top1(v, n, &best);
    /* the label file's line `best` */
    FILE *f = fopen(labels, "r");
    CHECK(f);
    char line[256] = "";
    for (size_t i = 0; i <= best && fgets(line, sizeof line, f); i++)
        ;
    fclose(f);
    CHECK_MSG(best == want && strstr(line, want_label), "%s: top-1 %zu '%.*s' (%.3f)", img,
              best, (int)strcspn(line, "\n"), line, (double)v[best]);
    free(v);
    free(px);
    av_nn_model_free(m);
}

TEST(imagenet_bird_is_a_chickadee) { imagenet_top1("testdata/images/bird.bmp", 20, "chickadee"); }
TEST(imagenet_parrot_is_a_macaw) { imagenet_top1("testdata/images/parrot.jpg", 89, "macaw"); }

/* ------------------------------------------------------------ batch N */

/* Run model once on n samples laid back to back, in a context made for batch n. */
static void run_batch(const av_nn_model *model, av_nn_backend be, int n, const void *in,
                      void *out)
{
    char err[512] = "";
    av_nn_ctx_opts o = {.threads = 1, .backend = be, .batch = n};
    av_nn_ctx *c = NULL;
    av_nn_status st = av_nn_ctx_new(model, &o, &c, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "ctx batch %d (%s): %s", n, be ? "reference" : "xnnpack", err);
    CHECK_EQ_INT(av_nn_ctx_batch(c), n);
    const void *ins[1] = {in};
    void *outs[1] = {out};
    st = av_nn_run(c, ins, outs, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "run batch %d (%s): %s", n, be ? "reference" : "xnnpack", err);
    av_nn_ctx_free(c);
}

/* The message of making a batch-n context for model: must fail with st. */
static void check_batch_refused(const av_nn_model *model, int n, av_nn_status want,
                                const char *needle)
{
    for (int b = 0; b < 2; b++) {
        char err[512] = "";
        av_nn_ctx_opts o = {.threads = 1, .backend = tf_backends[b], .batch = n};
        av_nn_ctx *c = (av_nn_ctx *)1;
        av_nn_status st = av_nn_ctx_new(model, &o, &c, err, sizeof err);
        CHECK_MSG(st == want, "batch %d: status %s (%s), want %s", n, av_nn_strerror(st), err,
                  av_nn_strerror(want));
        CHECK(c == NULL);
        if (getenv("AV_TFLITE_VERBOSE"))
            fprintf(stderr, "    [%s] %s\n", av_nn_strerror(st), err);
        CHECK_STR_CONTAINS(err, needle);
    }
}

/* conv [1,3,3,2] -> [1,2,2,2], reshape to constant [1,8], softmax: the
 * reshape target's dim 0 (the model's batch) must follow the batch. */
TEST(batch_conv_reshape_softmax_equals_single_runs)
{
    float x1[18], want[8];
    for (int i = 0; i < 18; i++)
        x1[i] = (float)(i % 7) - 1.5f;
    mb m;
    tf_conv_model(&m, want, x1, 0);
    static const int32_t shp[2] = {1, 8};
    int s = mb_const_i32(&m, "shape", 1, (int32_t[]){2}, shp, 2);
    int r = mb_tensor_add(&m, "r", TT_F32, 2, (int32_t[]){1, 8});
    int z = mb_tensor_add(&m, "z", TT_F32, 2, (int32_t[]){1, 8});
    mb_op_add(&m, OP_RESHAPE, 2, (int32_t[]){3, s}, 1, (int32_t[]){r});
    int op = mb_op_add(&m, OP_SOFTMAX, 1, (int32_t[]){r}, 1, (int32_t[]){z});
    mb_opt_add(&m, op, O_SOFTMAX, 0, 'f', 1.0);
    mb_io(&m, 1, (int32_t[]){0}, 1, (int32_t[]){z});
    av_nn_model *model = tf_load_ok(&m);
    CHECK_EQ_INT(av_nn_model_batch(model), 1);
    enum { N = 3 };
    float x[N * 18], one[N * 8], many[N * 8];
    for (int i = 0; i < N * 18; i++)
        x[i] = (float)((i * 5) % 11) * 0.25f - 1.0f;
    for (int b = 0; b < 2; b++) {
        for (int k = 0; k < N; k++) {
            const void *in[1] = {x + k * 18};
            void *out[1] = {one + k * 8};
            tf_run_on(model, tf_backends[b], in, out);
        }
        memset(many, 0xff, sizeof many);
        run_batch(model, tf_backends[b], N, x, many);
        /* each sample's arithmetic is the same sequence at any batch */
        for (int i = 0; i < N * 8; i++)
            CHECK_MSG(many[i] == one[i], "%s: [%d] batch %.9g, single %.9g",
                      b ? "xnnpack" : "reference", i, (double)many[i], (double)one[i]);
    }
    av_nn_model_free(model);
    mb_free(&m);
}

TEST(batch_refused_with_the_node_named)
{
    /* concat(x, x) on axis 0 mixes samples */
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){1, 2});
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){2, 2});
    int op = mb_op_add(&m, OP_CONCAT, 2, (int32_t[]){x, x}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_CONCAT, 0, 'i', 0);
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    av_nn_model *model = tf_load_ok(&m);
    check_batch_refused(model, 2, AV_NN_E_UNSUPPORTED, "(concat) cannot run sample by sample");
    check_batch_refused(model, 2, AV_NN_E_UNSUPPORTED, "batch axis");
    check_batch_refused(model, -1, AV_NN_E_ARG, "negative");
    float in1[2] = {1, 2}, out1[4];
    run_batch(model, AV_NN_BACKEND_XNNPACK, 1, in1, out1); /* the model's own batch */
    CHECK(out1[0] == 1 && out1[1] == 2 && out1[2] == 1 && out1[3] == 2);
    av_nn_model_free(model);
    mb_free(&m);

    /* x [2,3] (batch 2) reshaped to a constant [1,6]: the target moves the batch */
    static const int32_t shp[2] = {1, 6};
    mb_init(&m);
    x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){2, 3});
    int s = mb_const_i32(&m, "shape", 1, (int32_t[]){2}, shp, 2);
    y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){1, 6});
    mb_op_add(&m, OP_RESHAPE, 2, (int32_t[]){x, s}, 1, (int32_t[]){y});
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    model = tf_load_ok(&m);
    CHECK_EQ_INT(av_nn_model_batch(model), 2);
    check_batch_refused(model, 4, AV_NN_E_UNSUPPORTED,
                        "(reshape) cannot run sample by sample: its target does not keep the "
                        "batch in dim 0 (model batch 2)");
    check_batch_refused(model, 5000, AV_NN_E_ARG, "outside 1..4096");
    av_nn_model_free(model);
    mb_free(&m);
}

/* N different 224x224 crops: the five test photos, whole-image resized. */
static uint8_t *inat_crops(int n)
{
    static const char *imgs[5] = {"testdata/images/parrot.jpg", "testdata/images/bird.bmp",
                                  "testdata/images/cat.bmp", "testdata/images/grace_hopper.bmp",
                                  "testdata/images/kite_and_cold.jpg"};
    CHECK(n <= 5);
    size_t sz = 224 * 224 * 3;
    uint8_t *px = malloc(sz * (size_t)n);
    CHECK(px);
    for (int k = 0; k < n; k++) {
        uint8_t *one = image_224(imgs[k]);
        memcpy(px + sz * (size_t)k, one, sz);
        free(one);
    }
    return px;
}

/*
 * The iNat classifier at batch n equals n batch-1 runs bit for bit: uint8
 * in and out, int32 accumulation and the same per-element requantisation at
 * any batch (XNNPACK qu8 and the reference kernels alike).
 */
static void inat_batch_equals_single(av_nn_backend be)
{
    av_nn_model *m =
        load_shared("models/inat_bird/mobilenet_v2_1.0_224_inat_bird_quant.tflite");
    CHECK_EQ_INT(av_nn_model_batch(m), 1);
    size_t no = 1;
    for (int d = 0; d < av_nn_output(m, 0)->rank; d++)
        no *= (size_t)av_nn_output(m, 0)->dims[d];
    uint8_t *px = inat_crops(5);
    uint8_t *one = malloc(no * 5), *many = malloc(no * 5);
    CHECK(one && many);
    for (int k = 0; k < 5; k++) {
        const void *in[1] = {px + (size_t)k * 224 * 224 * 3};
        void *out[1] = {one + no * (size_t)k};
        tf_run_on(m, be, in, out);
    }
    /* the crops really differ: distinct top-1 classes or scores */
    CHECK(memcmp(one, one + no, no) != 0 && memcmp(one + no, one + 2 * no, no) != 0);
    static const int ns[2] = {2, 5};
    for (int t = 0; t < 2; t++) {
        int n = ns[t];
        memset(many, 0xa5, no * 5);
        run_batch(m, be, n, px, many);
        for (size_t i = 0; i < no * (size_t)n; i++)
            CHECK_MSG(many[i] == one[i], "%s batch %d: crop %zu class %zu: %d, single run %d",
                      be ? "reference" : "xnnpack", n, i / no, i % no, many[i], one[i]);
        for (size_t i = no * (size_t)n; i < no * 5; i++)
            CHECK_MSG(many[i] == 0xa5, "batch %d wrote past its %d outputs", n, n);
    }
    free(one);
    free(many);
    free(px);
    av_nn_model_free(m);
}

TEST(inat_batch_2_and_5_equal_single_runs_xnnpack)
{
    inat_batch_equals_single(AV_NN_BACKEND_XNNPACK);
}

TEST(inat_batch_2_and_5_equal_single_runs_reference)
{
    inat_batch_equals_single(AV_NN_BACKEND_REFERENCE);
}
TEST_MAIN(T(inat_bird_parrot_via_classifier), T(inat_bird_input_and_backends_agree),
          T(imagenet_bird_is_a_chickadee), T(imagenet_parrot_is_a_macaw),
          T(batch_conv_reshape_softmax_equals_single_runs), T(batch_refused_with_the_node_named),
          T(inat_batch_2_and_5_equal_single_runs_xnnpack),
          T(inat_batch_2_and_5_equal_single_runs_reference))
