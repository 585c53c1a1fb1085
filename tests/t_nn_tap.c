/*
 * t_nn_tap.c - named intermediate tensors out of the engine: the species
 * model's penultimate features (av_nn_run_tap) and its head's weights
 * (av_nn_last_fc, av_nn_find_tensor). The head applied here to the tapped
 * features must give the model's own softmax output; a batch-3 context
 * taps the same features as three single runs; bad names and sizes fail
 * with a message.
 */
#include "harness.h"

#include "nn/nn.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static av_nn_model *load_inat(void)
{
    const char *p = av_test_shared("models/inat_bird/mobilenet_v2_1.0_224_inat_bird_quant.tflite");
    av_nn_model *m = NULL;
    char err[256];
    CHECK_MSG(av_nn_load(p, &m, err, sizeof err) == AV_NN_OK, "load: %s", err);
    return m;
}

/* Deterministic textured inputs: n crops of 224x224x3. */
static uint8_t *crops(int n)
{
    uint8_t *px = malloc((size_t)n * 224 * 224 * 3);
    CHECK(px != NULL);
    uint32_t x = 12345;
    for (size_t i = 0; i < (size_t)n * 224 * 224 * 3; i++) {
        x = x * 1103515245u + 12345u;
        px[i] = (uint8_t)(((i / 3) % 224) + (x >> 27));
    }
    return px;
}

TEST(head_on_tapped_features_gives_model_output)
{
    av_nn_model *m = load_inat();
    const char *in, *w, *b;
    char err[256];
    CHECK_MSG(av_nn_last_fc(m, &in, &w, &b, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_STR_EQ(in, "AvgPool/AvgPool");
    av_nn_tensor_info fi, wi, bi;
    const void *fd, *wd, *bd;
    CHECK(av_nn_find_tensor(m, in, &fi, &fd, err, sizeof err) == AV_NN_OK);
    CHECK(fd == NULL); /* computed, not a constant */
    CHECK_EQ_INT(fi.dims[fi.rank - 1], 1280);
    CHECK(av_nn_find_tensor(m, w, &wi, &wd, err, sizeof err) == AV_NN_OK && wd);
    CHECK(av_nn_find_tensor(m, b, &bi, &bd, err, sizeof err) == AV_NN_OK && bd);
    CHECK_EQ_INT(wi.dims[0], 965);
    CHECK_EQ_INT(wi.dims[1], 1280);
    CHECK_EQ_INT(wi.dtype, AV_NN_U8);
    CHECK_EQ_INT(bi.dtype, AV_NN_I32);

    av_nn_ctx *c;
    CHECK(av_nn_ctx_new(m, NULL, &c, err, sizeof err) == AV_NN_OK);
    uint8_t *px = crops(1), feat[1280], out[965];
    const void *ins[] = {px};
    void *outs[] = {out};
    CHECK_MSG(av_nn_run_tap(c, ins, outs, in, feat, sizeof feat, err, sizeof err) == AV_NN_OK,
              "%s", err);
    /* logits = W f + b in reals, softmax; vs the model's uint8 softmax. */
    const uint8_t *W = wd;
    const int32_t *B = bd;
    double logit[965], mx = -1e30, sum = 0;
    for (int n = 0; n < 965; n++) {
        double acc = 0;
        for (int k = 0; k < 1280; k++)
            acc += (W[n * 1280 + k] - wi.zero_point) * (double)wi.scale *
                   (feat[k] - fi.zero_point) * (double)fi.scale;
        logit[n] = acc + B[n] * (double)bi.scale;
        mx = logit[n] > mx ? logit[n] : mx;
    }
    for (int n = 0; n < 965; n++)
        sum += exp(logit[n] - mx);
    const av_nn_tensor_info *oi = av_nn_output(m, 0);
    int best = 0, best_model = 0;
    for (int n = 0; n < 965; n++) {
        double p = exp(logit[n] - mx) / sum, q = oi->scale * (out[n] - oi->zero_point);
        /* the model quantises logits (scale 0.08) and then the softmax (1/256) */
        CHECK_MSG(fabs(p - q) < 0.03, "class %d: head %.4f, model %.4f", n, p, q);
        best = logit[n] > logit[best] ? n : best;
        best_model = out[n] > out[best_model] ? n : best_model;
    }
    CHECK_NEAR(out[best], out[best_model], 1);
    int nonzero = 0;
    for (int k = 0; k < 1280; k++)
        nonzero += feat[k] != fi.zero_point;
    CHECK(nonzero > 100);

    /* A wrong size or name is refused with a message. */
    CHECK(av_nn_run_tap(c, ins, outs, in, feat, 1279, err, sizeof err) == AV_NN_E_ARG);
    CHECK_STR_CONTAINS(err, "1280 bytes");
    CHECK(av_nn_run_tap(c, ins, outs, "nope", feat, 1280, err, sizeof err) == AV_NN_E_ARG);
    CHECK_STR_CONTAINS(err, "'nope'");
    CHECK(av_nn_find_tensor(m, "nope", &fi, NULL, err, sizeof err) == AV_NN_E_ARG);
    av_nn_ctx_free(c);
    free(px);
    av_nn_model_free(m);
}

TEST(batch_tap_equals_single_runs)
{
    av_nn_model *m = load_inat();
    const char *in, *w, *b;
    char err[256];
    CHECK(av_nn_last_fc(m, &in, &w, &b, err, sizeof err) == AV_NN_OK);
    av_nn_ctx *c1, *c3;
    av_nn_ctx_opts o3 = {.batch = 3};
    CHECK(av_nn_ctx_new(m, NULL, &c1, err, sizeof err) == AV_NN_OK);
    CHECK_MSG(av_nn_ctx_new(m, &o3, &c3, err, sizeof err) == AV_NN_OK, "%s", err);
    uint8_t *px = crops(3), f3[3 * 1280], f1[1280], out[3 * 965];
    const void *ins[] = {px};
    void *outs[] = {out};
    CHECK(av_nn_run_tap(c3, ins, outs, in, f3, sizeof f3, err, sizeof err) == AV_NN_OK);
    for (int i = 0; i < 3; i++) {
        const void *in1[] = {px + (size_t)i * 224 * 224 * 3};
        CHECK(av_nn_run_tap(c1, in1, outs, in, f1, sizeof f1, err, sizeof err) == AV_NN_OK);
        CHECK(memcmp(f1, f3 + i * 1280, 1280) == 0);
    }
    av_nn_ctx_free(c1);
    av_nn_ctx_free(c3);
    free(px);
    av_nn_model_free(m);
}

TEST_MAIN(T(head_on_tapped_features_gives_model_output), T(batch_tap_equals_single_runs))
