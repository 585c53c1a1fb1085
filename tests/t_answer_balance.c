/*
 * t_answer_balance.c - the training-prior balance of species answers
 * (answer.balance; src/detect/answer.c, pipeline.c open_balance): weights
 * from a log prior, scores renormalised, the background left alone, the
 * setting checked, and on the shipped species model the balanced scores
 * are the plain ones divided by exp(bias)^strength.
 */
#include "harness.h"
#include "detect_fixture.h"

#include "detect/answer.h"
#include "detect/detect.h"
#include "detect/manifest.h"

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A classifier manifest over four species and a background (last). */
static int tiny_manifest(av_detect__manifest *m, const char *balance, char *err, size_t errlen)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"name\": \"tiny\", \"version\": \"1\", \"role\": \"classifier\", \"file\": "
             "\"x.tflite\", \"format\": \"tflite\", \"input\": {\"width\": 8, \"height\": 8, "
             "\"layout\": \"NHWC\", \"normalise\": \"0..255\", \"resize\": \"stretch\", "
             "\"filter\": \"area\"}, \"output\": {\"kind\": \"classifier\"}, \"labels\": "
             "[\"Pica pica\", \"Pica hudsonia\", \"Corvus corone\", \"Corvus "
             "brachyrhynchos\", \"background\"], \"answer\": {\"balance\": %s}}",
             balance);
    int st = av_detect__manifest_parse(text, strlen(text), ".", "tiny", m, err, errlen);
    if (!st)
        m->background = 4;
    return st;
}

TEST(balance_divides_by_the_prior)
{
    av_detect__manifest m;
    av_detect__answer a;
    char err[512];
    CHECK_MSG(tiny_manifest(&m, "0.5", err, sizeof err) == 0, "%s", err);
    CHECK(fabs(m.answer_balance - 0.5) < 1e-12);
    CHECK(av_detect__answer_init(&a, &m, err, sizeof err) == 0);

    float probs[5] = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, plain[5];
    memcpy(plain, probs, sizeof probs);
    av_detect__answer_balance(&a, probs); /* no balance yet: untouched */
    CHECK(!memcmp(plain, probs, sizeof probs));

    const float log_prior[5] = {0.0f, 2.0f, -1.0f, 1.0f, 7.0f};
    CHECK(av_detect__answer_set_balance(&a, log_prior, 4, 0.5, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "answer.balance");
    CHECK(av_detect__answer_set_balance(&a, log_prior, 5, 0.5, err, sizeof err) == 0);
    av_detect__answer_balance(&a, probs);
    double sum = 0;
    for (int i = 0; i < 5; i++)
        sum += probs[i];
    CHECK(fabs(sum - 1.0) < 1e-6);
    /* species ratios follow exp(-0.5 * (log prior difference)) */
    CHECK(fabs(probs[0] / probs[1] - exp(1.0)) < 1e-5);
    CHECK(fabs(probs[2] / probs[3] - exp(1.0)) < 1e-5);
    CHECK(fabs(probs[2] / probs[0] - exp(0.5)) < 1e-5);
    /* the background is weighed 1, the species relative to their mean log
     * prior (0.5): species 3 (log prior 1) weighs exp(-0.25) */
    CHECK(fabs(probs[3] / probs[4] - exp(-0.25)) < 1e-5);
    av_detect__answer_free(&a);
    av_detect__manifest_free(&m);
}

TEST(balance_setting_is_checked)
{
    const char *bad[] = {"-0.1", "2.5", "\"half\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        av_detect__manifest m;
        char err[512] = "";
        CHECK_MSG(tiny_manifest(&m, bad[i], err, sizeof err) != 0, "balance %s accepted", bad[i]);
        CHECK_STR_CONTAINS(err, "answer.balance");
    }
}

static av_detect_pipeline *open_models(const char *dir)
{
    av_detect_pipeline *p = NULL;
    char err[512];
    av_detect_open_opts oo = {.threads = 1};
    CHECK_MSG(av_detect_pipeline_open(dir, &oo, &p, err, sizeof err) == AV_DETECT_OK, "%s: %s",
              dir, err);
    return p;
}

/* On the shipped model: a box's balanced scores are its plain ones over
 * exp(bias)^0.5, renormalised, so the ratio of two species' scores moves by
 * exp(-0.5 * (bias_a - bias_b)). */
TEST(balance_of_the_species_model)
{
    av_test_need_species_model();
    const char *img = av_test_shared("testdata/images/parrot.jpg");
    av_detect_pipeline *plain =
        open_models(av_test_models_with("plain", "inat_bird.json", "answer", "{\"balance\": 0}"));
    av_detect_pipeline *bal =
        open_models(av_test_models_with("half", "inat_bird.json", "answer", "{\"balance\": 0.5}"));
    av_detect_head h;
    const char *const *labels;
    const char *features;
    int background;
    char err[512];
    CHECK_MSG(av_detect_species_base_head(plain, &h, &labels, &background, &features, err,
                                          sizeof err) == AV_DETECT_OK,
              "%s", err);
    av_detect_run_opts o = {.top_k = 5};
    av_detect_result rp, rb;
    av_test_run_file(plain, img, &o, &rp);
    av_test_run_file(bal, img, &o, &rb);
    CHECK(rp.n_dets >= 1 && rb.n_dets >= 1);
    const av_detect_det *dp = &rp.dets[0], *db = &rb.dets[0];
    CHECK(dp->n_species >= 2 && db->n_species >= 2);
    int checked = 0;
    for (int i = 0; i < db->n_species; i++)
        for (int j = 0; j < db->n_species; j++) {
            const av_detect_species *a = &db->species[i], *b = &db->species[j];
            float pa = -1, pb = -1;
            for (int k = 0; k < dp->n_species; k++) {
                if (dp->species[k].class_index == a->class_index)
                    pa = dp->species[k].score;
                if (dp->species[k].class_index == b->class_index)
                    pb = dp->species[k].score;
            }
            if (i == j || pa <= 0 || pb <= 0 || a->score <= 0 || b->score <= 0)
                continue;
            double want = exp(-0.5 * (h.b[a->class_index] - h.b[b->class_index]));
            double got = (a->score / b->score) / (pa / pb);
            CHECK_MSG(fabs(got / want - 1) < 1e-4, "%s / %s: ratio moved %g, want %g",
                      a->scientific, b->scientific, got, want);
            checked++;
        }
    CHECK_MSG(checked >= 2, "only %d species pairs in both answers", checked);
    av_detect_head_free(&h);
    av_detect_result_free(&rp);
    av_detect_result_free(&rb);
    av_detect_pipeline_close(plain);
    av_detect_pipeline_close(bal);
}

TEST_MAIN(T(balance_divides_by_the_prior), T(balance_setting_is_checked),
          T(balance_of_the_species_model))
