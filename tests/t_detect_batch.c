/*
 * t_detect_batch.c - batched runs of the detection pipeline give what one
 * by one gives: several crops through the species model at once
 * (species_batch), several images through av_detect_run_batch, and the
 * fallbacks when a model cannot batch.
 */
#include "harness.h"
#include "detect_fixture.h"

#include "detect/detect.h"
#include "vision/vision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static av_detect_pipeline *open_batch(int species_batch)
{
    av_detect_open_opts oo = {.threads = 1, .species_batch = species_batch};
    av_detect_pipeline *p = av_test_open_pipeline(NULL, &oo);
    if (!av_detect_pipeline_has_species(p))
        SKIP("species model not available");
    return p;
}

static void run_px(av_detect_pipeline *p, const unsigned char *px, int w, int h,
                   av_detect_result *r)
{
    char err[1024];
    CHECK_MSG(av_detect_run_rgb(p, w, h, px, NULL, r, err, sizeof err) == AV_DETECT_OK, "%s", err);
}

/* Same boxes, species and scores (bit for bit: uint8 model outputs). */
static void same_species(const av_detect_result *a, const av_detect_result *b)
{
    CHECK_EQ_INT(a->n_dets, b->n_dets);
    for (int i = 0; i < a->n_dets; i++) {
        const av_detect_det *x = &a->dets[i], *y = &b->dets[i];
        CHECK(x->x1 == y->x1 && x->y2 == y->y2 && x->det_score == y->det_score);
        CHECK_EQ_INT(x->n_species, y->n_species);
        for (int k = 0; k < x->n_species; k++) {
            CHECK_EQ_INT(x->species[k].class_index, y->species[k].class_index);
            CHECK_MSG(x->species[k].score == y->species[k].score, "det %d species %d: %.7f vs %.7f",
                      i, k, (double)x->species[k].score, (double)y->species[k].score);
            CHECK_STR_EQ(x->species[k].scientific, y->species[k].scientific);
        }
        CHECK_STR_EQ(x->label, y->label);
    }
}

TEST(three_birds_batched_equal_one_by_one)
{
    int w, h;
    unsigned char *px = av_test_three_birds(&w, &h);
    av_detect_pipeline *one = open_batch(1), *all = open_batch(0), *two = open_batch(2);
    av_detect_result r1, ra, r2, ra2;
    run_px(one, px, w, h, &r1);
    CHECK_MSG(av_test_count_bird_boxes(&r1) == 3, "%d bird boxes, want 3",
              av_test_count_bird_boxes(&r1));
    CHECK_EQ_INT(r1.batched_species, 0);
    run_px(all, px, w, h, &ra);
    CHECK_EQ_INT(ra.batched_species, 1); /* all three crops in one run */
    same_species(&r1, &ra);
    run_px(all, px, w, h, &ra2); /* the worker's batch-3 context again */
    same_species(&r1, &ra2);
    run_px(two, px, w, h, &r2); /* chunks of 2 + 1 */
    CHECK_EQ_INT(r2.batched_species, 1);
    same_species(&r1, &r2);
    json_t *j = av_detect_result_to_json(&ra, "three");
    CHECK(json_is_true(json_object_get(json_object_get(j, "models"), "species_batched")));
    json_decref(j);
    av_detect_result_free(&r1);
    av_detect_result_free(&ra);
    av_detect_result_free(&ra2);
    av_detect_result_free(&r2);
    /* one bird: one run, nothing batched */
    av_test_run_file(all, av_test_shared("testdata/images/parrot.jpg"), NULL, &ra);
    CHECK_EQ_INT(ra.batched_species, av_test_count_bird_boxes(&ra) >= 2);
    av_detect_result_free(&ra);
    av_detect_pipeline_close(one);
    av_detect_pipeline_close(all);
    av_detect_pipeline_close(two);
    free(px);
}

/* A species model the engine cannot batch (a TF.js mean over batch, height
 * and width: three "classes", one per colour): the pipeline falls back to one
 * run per crop and gives what species_batch = 1 gives. */
TEST(unbatchable_species_model_falls_back)
{
    av_test_need_models();
    const char *dir = av_test_tmpdir();
    char cmd[1600], cwd[512], path[1024];
    CHECK(getcwd(cwd, sizeof cwd));
    snprintf(cmd, sizeof cmd,
             "cp models/pipeline.json models/nanodet.json models/centernet.json '%s'/ && "
             "ln -s '%s/models/human' "
             "'%s/human' && mkdir '%s/m'",
             dir, cwd, dir, dir);
    CHECK(system(cmd) == 0);
    static const char manifest[] =
        "{\"name\": \"mean_colour\", \"version\": \"test\", \"role\": \"classifier\", "
        "\"file\": \"m/model.json\", \"format\": \"tfjs\", \"input\": {\"width\": 224, "
        "\"height\": 224, \"layout\": \"NHWC\", \"resize\": \"stretch\", \"filter\": \"area\", "
        "\"normalise\": \"0..1\"}, \"output\": {\"kind\": \"classifier\"}, "
        "\"labels\": [\"Rubus (Red)\", \"Viridis (Green)\", \"Caeruleus (Blue)\"]}";
    static const char model[] =
        "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":["
        "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},"
        "\"shape\":{\"shape\":{\"dim\":[{\"size\":\"1\"},{\"size\":\"224\"},{\"size\":\"224\"},"
        "{\"size\":\"3\"}]}}}},"
        "{\"name\":\"axes\",\"op\":\"Const\"},"
        "{\"name\":\"mean\",\"op\":\"Mean\",\"input\":[\"x\",\"axes\"],"
        "\"attr\":{\"keep_dims\":{\"b\":false}}},"
        "{\"name\":\"y\",\"op\":\"Identity\",\"input\":[\"mean\"]}]},"
        "\"signature\":{\"inputs\":{\"x:0\":{\"name\":\"x:0\"}},"
        "\"outputs\":{\"y:0\":{\"name\":\"y:0\"}}},"
        "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":["
        "{\"name\":\"axes\",\"shape\":[3],\"dtype\":\"int32\"}]}]}";
    static const int32_t axes[3] = {0, 1, 2};
    snprintf(path, sizeof path, "%s/inat_bird.json", dir);
    av_test_write_file(path, manifest, sizeof manifest - 1);
    snprintf(path, sizeof path, "%s/m/model.json", dir);
    av_test_write_file(path, model, sizeof model - 1);
    snprintf(path, sizeof path, "%s/m/w.bin", dir);
    av_test_write_file(path, axes, sizeof axes);
    av_detect_pipeline *p[2];
    char err[1024];
    for (int i = 0; i < 2; i++) {
        av_detect_open_opts oo = {.threads = 1, .species_batch = i ? 1 : 0};
        CHECK_MSG(av_detect_pipeline_open(dir, &oo, &p[i], err, sizeof err) == 0, "%s", err);
        CHECK_MSG(av_detect_pipeline_has_species(p[i]), "%s",
                  av_detect_pipeline_species_note(p[i]));
    }
    int w, h;
    unsigned char *px = av_test_three_birds(&w, &h);
    av_detect_result r[3];
    run_px(p[0], px, w, h, &r[0]); /* refused: logs species_batch_off, runs one by one */
    run_px(p[0], px, w, h, &r[1]); /* stays off */
    run_px(p[1], px, w, h, &r[2]);
    CHECK_MSG(av_test_count_bird_boxes(&r[0]) == 3, "%d bird boxes",
              av_test_count_bird_boxes(&r[0]));
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(r[i].batched_species, 0);
    CHECK(r[0].dets[0].n_species == 3);
    same_species(&r[2], &r[0]);
    same_species(&r[2], &r[1]);
    for (int i = 0; i < 3; i++)
        av_detect_result_free(&r[i]);
    av_detect_pipeline_close(p[0]);
    av_detect_pipeline_close(p[1]);
    free(px);
}

/* Same detections as a per-image run: boxes within 1e-4 px, scores within
 * 1e-6, the same species and labels. */
static void same_result(const char *what, const av_detect_result *a, const av_detect_result *b)
{
    CHECK_MSG(a->n_dets == b->n_dets, "%s: %d dets in the batch, %d alone", what, a->n_dets,
              b->n_dets);
    CHECK_EQ_INT(a->width, b->width);
    CHECK_EQ_INT(a->height, b->height);
    for (int k = 0; k < AV_DETECT_PASS_N; k++) { /* the same passes ran, to the same effect */
        CHECK_MSG(a->passes[k].ran == b->passes[k].ran && a->passes[k].runs == b->passes[k].runs &&
                      a->passes[k].boxes == b->passes[k].boxes,
                  "%s: pass %s differs", what, av_detect_pass_name(k));
    }
    for (int i = 0; i < a->n_dets; i++) {
        const av_detect_det *x = &a->dets[i], *y = &b->dets[i];
        CHECK_NEAR(x->x1, y->x1, 1e-4);
        CHECK_NEAR(x->y1, y->y1, 1e-4);
        CHECK_NEAR(x->x2, y->x2, 1e-4);
        CHECK_NEAR(x->y2, y->y2, 1e-4);
        CHECK_NEAR(x->det_score, y->det_score, 1e-6);
        CHECK_EQ_INT(x->class_index, y->class_index);
        CHECK_EQ_INT(x->whole_image, y->whole_image);
        CHECK_EQ_INT(x->n_species, y->n_species);
        for (int k = 0; k < x->n_species; k++) {
            CHECK_EQ_INT(x->species[k].class_index, y->species[k].class_index);
            CHECK_NEAR(x->species[k].score, y->species[k].score, 1e-6);
            CHECK_STR_EQ(x->species[k].scientific, y->species[k].scientific);
        }
        CHECK_STR_EQ(x->label, y->label);
        CHECK_NEAR(x->confidence, y->confidence, 1e-6);
    }
}

/* Several images through av_detect_run_batch: one detector run for all of
 * them (NanoDet batches), each result equal to av_detect_run's, a corrupt
 * image failing alone with its own message. cat.bmp has no bird: its
 * zoom-out pass runs after the shared run, as in av_detect_run. */
TEST(run_batch_equals_one_by_one)
{
    av_detect_open_opts oo = {.threads = 1, .detector = "nanodet"}; /* NanoDet batches */
    av_detect_pipeline *p = av_test_open_pipeline(NULL, &oo);
    const char *names[] = {"bird.bmp", "parrot.jpg", "cat.bmp"};
    enum { NF = 3, N = NF + 2 };
    void *buf[NF];
    size_t len[NF];
    av_detect_image ims[N];
    memset(ims, 0, sizeof ims);
    for (int i = 0; i < NF; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "testdata/images/%s", names[i]);
        buf[i] = av_test_read_file(av_test_shared(rel), &len[i]);
        ims[i] = (av_detect_image){.bytes = buf[i], .len = len[i]};
    }
    static const char corrupt[] = "\xff\xd8\xff\xe0 not really a JPEG";
    ims[NF] = (av_detect_image){.bytes = corrupt, .len = sizeof corrupt - 1};
    int w, h;
    unsigned char *px = av_test_three_birds(&w, &h); /* decoded pixels, three bird crops */
    ims[NF + 1] = (av_detect_image){.rgb = px, .width = w, .height = h};
    av_detect_run_opts o = {.annotate = 1};
    av_detect_result want[N], got[N];
    char err[1024];
    for (int i = 0; i < N; i++) {
        av_detect_status st =
            ims[i].rgb ? av_detect_run_rgb(p, w, h, px, &o, &want[i], err, sizeof err)
                       : av_detect_run(p, ims[i].bytes, ims[i].len, &o, &want[i], err, sizeof err);
        CHECK_MSG((st == AV_DETECT_OK) == (i != NF), "image %d alone: %s", i, err);
    }
    av_detect_status sts[N];
    char errs[N][256];
    int runs = -1;
    av_detect_status st =
        av_detect_run_batch(p, N, ims, &o, got, sts, errs[0], sizeof errs[0], &runs);
    CHECK_EQ_INT(st, AV_DETECT_E_IMAGE); /* the corrupt one's */
    CHECK_EQ_INT(runs, 1); /* four images, one detector pass */
    CHECK_EQ_INT(sts[NF], AV_DETECT_E_IMAGE);
    CHECK_MSG(errs[NF][0] != '\0', "no message for the corrupt image");
    CHECK_EQ_INT(got[NF].n_dets, 0);
    CHECK(got[NF].dets == NULL);
    for (int i = 0; i < N; i++) {
        if (i == NF)
            continue;
        CHECK_MSG(sts[i] == AV_DETECT_OK, "image %d in the batch: %s", i, errs[i]);
        CHECK_STR_EQ(errs[i], "");
        same_result(i < NF ? names[i] : "three birds", &got[i], &want[i]);
        CHECK_MSG(got[i].annotated_len == want[i].annotated_len &&
                      !memcmp(got[i].annotated, want[i].annotated, got[i].annotated_len),
                  "image %d: annotation differs", i);
        av_detect_result_free(&want[i]);
        av_detect_result_free(&got[i]);
    }
    /* one image: the batch-1 context, one run */
    st = av_detect_run_batch(p, 1, &ims[1], NULL, got, sts, NULL, 0, &runs);
    CHECK_MSG(st == AV_DETECT_OK && runs == 1, "one image: %d, %d runs", st, runs);
    av_detect_result_free(&got[0]);
    /* bad arguments run nothing */
    CHECK_EQ_INT(av_detect_run_batch(p, 0, ims, NULL, got, sts, NULL, 0, &runs), AV_DETECT_E_ARG);
    CHECK_EQ_INT(runs, 0);
    CHECK_EQ_INT(
        av_detect_run_batch(p, AV_DETECT_BATCH_MAX + 1, ims, NULL, got, sts, NULL, 0, NULL),
        AV_DETECT_E_ARG);
    for (int i = 0; i < NF; i++)
        free(buf[i]);
    free(px);
    av_detect_pipeline_close(p);
}

/* CenterNet does not batch (a reshape moves the batch): the images of a
 * batch run the detector one at a time, with the same results. */
TEST(run_batch_unbatchable_detector_falls_back)
{
    av_test_need_models();
    av_detect_pipeline *p;
    char err[1024];
    av_detect_open_opts oo = {.detector = "centernet", .threads = 1};
    CHECK_MSG(av_detect_pipeline_open("models", &oo, &p, err, sizeof err) == 0, "%s", err);
    const char *names[] = {"bird.bmp", "parrot.jpg"};
    enum { N = 2 };
    void *buf[N];
    size_t len[N];
    av_detect_image ims[N];
    av_detect_result want[N], got[N];
    for (int i = 0; i < N; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "testdata/images/%s", names[i]);
        buf[i] = av_test_read_file(av_test_shared(rel), &len[i]);
        ims[i] = (av_detect_image){.bytes = buf[i], .len = len[i]};
        CHECK_MSG(av_detect_run(p, buf[i], len[i], NULL, &want[i], err, sizeof err) == 0, "%s",
                  err);
    }
    av_detect_status sts[N];
    for (int round = 0; round < 2; round++) { /* refused (logged once), then still off */
        int runs = 0;
        CHECK_EQ_INT(av_detect_run_batch(p, N, ims, NULL, got, sts, NULL, 0, &runs), AV_DETECT_OK);
        CHECK_EQ_INT(runs, N);
        for (int i = 0; i < N; i++) {
            same_result(names[i], &got[i], &want[i]);
            av_detect_result_free(&got[i]);
        }
    }
    for (int i = 0; i < N; i++) {
        av_detect_result_free(&want[i]);
        free(buf[i]);
    }
    av_detect_pipeline_close(p);
}

TEST_MAIN(T(three_birds_batched_equal_one_by_one), T(unbatchable_species_model_falls_back),
          T(run_batch_equals_one_by_one), T(run_batch_unbatchable_detector_falls_back))
