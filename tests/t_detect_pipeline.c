/*
 * t_detect_pipeline.c - the detection pipeline end to end: engine on the
 * reference input tensors, then images through av_detect_run (bird photos
 * give a bird box, cat/grace_hopper none), species, annotation, limits, one
 * pipeline shared by threads. Batched runs: t_detect_batch.c; the CLI:
 * t_detect_cli.c.
 */
#include "harness.h"
#include "detect_fixture.h"

#include "detect/decode.h"
#include "detect/detect.h"
#include "detect/manifest.h"
#include "nn/nn.h"
#include "vision/vision.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Engine + decoder on the reference input tensor: same detection as TF.js. */
static void engine_reference(const char *model, const char *ref_key)
{
    av_test_need_models();
    char mpath[128], rel[256], err[512];
    snprintf(mpath, sizeof mpath, "models/%s.json", model);
    av_detect__manifest m;
    CHECK_MSG(av_detect__manifest_load(mpath, &m, err, sizeof err) == 0, "%s", err);
    av_nn_model *nm;
    CHECK_MSG(av_nn_load(m.path, &nm, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn_ctx *ctx;
    av_nn_ctx_opts co = {.threads = 1};
    CHECK_MSG(av_nn_ctx_new(nm, &co, &ctx, err, sizeof err) == AV_NN_OK, "%s", err);
    snprintf(rel, sizeof rel, "reference/tfjs/reference/%s/tensors/bird.bmp.input.f32", model);
    size_t len;
    float *input = av_test_read_file(av_test_shared(rel), &len);
    CHECK_EQ_INT(len, (size_t)m.in_w * m.in_h * 3 * 4);
    int no = av_nn_num_outputs(nm);
    void *outs[8];
    av_detect__tensor t[8];
    CHECK(no <= 8);
    for (int i = 0; i < no; i++) {
        const av_nn_tensor_info *ti = av_nn_output(nm, i);
        size_t n = 1;
        for (int d = 0; d < ti->rank; d++)
            n *= (size_t)ti->dims[d], t[i].dims[d] = ti->dims[d];
        t[i].rank = ti->rank;
        outs[i] = calloc(n, sizeof(float));
        CHECK(outs[i]);
        t[i].data = outs[i];
    }
    const void *ins[1] = {input};
    CHECK_MSG(av_nn_run(ctx, ins, outs, err, sizeof err) == AV_NN_OK, "%s", err);
    av_detect__dcfg cfg = {.min_score = m.min_score,
                           .nms_iou = m.nms_iou,
                           .max_out = m.max_dets,
                           .skip = m.skip,
                           .n_skip = m.n_skip,
                           .n_classes = m.n_labels,
                           .in_w = m.in_w,
                           .in_h = m.in_h,
                           .map_w = 512,
                           .map_h = 343,
                           .box_scale = m.box_scale,
                           .base_grid = m.base_grid};
    av_detect__box boxes[16];
    int n;
    if (m.kind == AV_DETECT__CENTERNET) {
        int di = av_nn_find_output(nm, m.output_name);
        CHECK(di >= 0);
        n = av_detect__decode_centernet(&t[di], &cfg, boxes, err, sizeof err);
    } else {
        n = av_detect__decode_nanodet(t, no, &cfg, boxes, err, sizeof err);
    }
    CHECK_MSG(n >= 0, "%s", err);
    snprintf(rel, sizeof rel, "reference/tfjs/reference/%s/bird.bmp.json", model);
    json_error_t je;
    json_t *root = json_load_file(av_test_shared(rel), 0, &je);
    CHECK(root);
    json_t *ref = json_object_get(root, ref_key);
    CHECK_EQ_INT(n, json_array_size(ref));
    for (int i = 0; i < n; i++) {
        json_t *d = json_array_get(ref, (size_t)i);
        CHECK_EQ_INT(boxes[i].cls, json_integer_value(json_object_get(d, "class_index")));
        /* cpu vs wasm differ by <= 1e-5 on scores and < 0.01 px on boxes (RESULTS.md) */
        CHECK_NEAR(boxes[i].score, json_number_value(json_object_get(d, "score")), 1e-3);
        json_t *b = json_object_get(d, "box");
        CHECK_NEAR(boxes[i].x1, json_number_value(json_array_get(b, 0)), 0.5);
        CHECK_NEAR(boxes[i].y1, json_number_value(json_array_get(b, 1)), 0.5);
        CHECK_NEAR(boxes[i].x2, json_number_value(json_array_get(b, 2)), 0.5);
        CHECK_NEAR(boxes[i].y2, json_number_value(json_array_get(b, 3)), 0.5);
    }
    json_decref(root);
    for (int i = 0; i < no; i++)
        free(outs[i]);
    free(input);
    av_nn_ctx_free(ctx);
    av_nn_model_free(nm);
    av_detect__manifest_free(&m);
}

TEST(engine_nanodet_reference_input)
{
    engine_reference("nanodet", "detections_nms_xyxy");
}

TEST(engine_centernet_reference_input)
{
    engine_reference("centernet", "detections");
}

/* The pipeline with `detector` instead of pipeline.json's (NanoDet batches). */

TEST(bird_bmp_has_bird_box)
{
    av_detect_pipeline *p = av_test_open_pipeline(NULL, NULL);
    av_detect_result r;
    av_test_run_file(p, av_test_shared("testdata/images/bird.bmp"), NULL, &r);
    CHECK_EQ_INT(r.width, 512);
    CHECK_EQ_INT(r.height, 343);
    CHECK_MSG(av_test_count_bird_boxes(&r) >= 1, "no bird box");
    const av_detect_det *d = &r.dets[0];
    /* the default detector is CenterNet (chosen on ../shared/eval/birds); its
     * reference: bird 0.547 at [9.6, 71.5, 477.7, 335.1] */
    CHECK_NEAR(d->det_score, 0.547, 0.01);
    CHECK_NEAR(d->x1, 9.6, 2);
    CHECK_NEAR(d->x2, 477.7, 2);
    CHECK_STR_EQ(r.detector, "centernet");
    /* a bird box was found: zoom-out did not run; nested suppression did */
    CHECK(r.passes[AV_DETECT_PASS_ZOOM].on && !r.passes[AV_DETECT_PASS_ZOOM].ran);
    CHECK_EQ_INT(r.passes[AV_DETECT_PASS_ZOOM].runs, 0);
    CHECK(r.passes[AV_DETECT_PASS_NESTED].ran);
    CHECK(!r.passes[AV_DETECT_PASS_TILES].on);
    if (r.species_available) {
        CHECK(d->n_species >= 1);
        CHECK_NEAR(d->confidence, d->species[0].score, 1e-6);
    }
    json_t *j = av_detect_result_to_json(&r, "bird.bmp");
    CHECK(j);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "detections")), r.n_dets);
    json_decref(j);
    av_detect_result_free(&r);
    av_detect_pipeline_close(p);
}

TEST(parrot_is_scarlet_macaw)
{
    av_detect_pipeline *p = av_test_open_pipeline(NULL, NULL);
    if (!av_detect_pipeline_has_species(p))
        SKIP("species model not available");
    av_detect_result r;
    av_test_run_file(p, av_test_shared("testdata/images/parrot.jpg"), NULL, &r);
    CHECK_MSG(av_test_count_bird_boxes(&r) >= 1, "no bird box on parrot.jpg");
    CHECK_STR_EQ(r.dets[0].species[0].scientific, "Ara macao");
    CHECK_STR_EQ(r.dets[0].label, "Scarlet Macaw");
    CHECK_STR_EQ(r.classifier, "inat_bird");
    av_detect_result_free(&r);
    av_detect_pipeline_close(p);
}

TEST(no_bird_on_cat_and_grace_hopper)
{
    av_detect_pipeline *p = av_test_open_pipeline(NULL, NULL);
    const char *imgs[] = {"testdata/images/cat.bmp", "testdata/images/grace_hopper.bmp"};
    for (int i = 0; i < 2; i++) {
        av_detect_result r;
        av_test_run_file(p, av_test_shared(imgs[i]), NULL, &r);
        CHECK_MSG(r.n_dets == 0, "%s: %d detections, first '%s'", imgs[i], r.n_dets,
                  r.n_dets ? r.dets[0].label : "");
        av_detect_result_free(&r);
        /* with every class, grace_hopper has a person */
        if (i == 1) {
            av_detect_run_opts o = {.all_classes = 1};
            av_test_run_file(p, av_test_shared(imgs[i]), &o, &r);
            CHECK(r.n_dets >= 1);
            CHECK_STR_EQ(r.dets[0].class_name, "person");
            CHECK_STR_EQ(r.dets[0].label, "person");
            CHECK_EQ_INT(r.dets[0].n_species, 0);
            av_detect_result_free(&r);
        }
    }
    av_detect_pipeline_close(p);
}

/* No bird box on cat.bmp: zoom-out runs (0.5 and 0.3 side by side on one
 * mosaic canvas: one detector run, tests/t_detect_mosaic.c), the result and
 * the pipeline's totals say so; --passes none
 * runs nothing more; bird.bmp has a box, so zoom-out stays off. */
TEST(zoom_out_runs_only_without_a_bird_box)
{
    av_detect_pipeline *p = av_test_open_pipeline(NULL, NULL);
    av_detect_result r;
    av_test_run_file(p, av_test_shared("testdata/images/cat.bmp"), NULL, &r);
    CHECK_EQ_INT(r.n_dets, 0);
    const av_detect_pass_info *z = &r.passes[AV_DETECT_PASS_ZOOM];
    CHECK(z->on && z->ran);
    CHECK_EQ_INT(z->runs, 1);
    CHECK_EQ_INT(z->boxes, 0);
    CHECK(z->ms > 0 && r.ms_detect >= z->ms);
    json_t *j = av_detect_result_to_json(&r, NULL);
    json_t *jz = json_object_get(json_object_get(j, "passes"), "zoom_out");
    CHECK(json_is_true(json_object_get(jz, "ran")));
    CHECK_EQ_INT(json_integer_value(json_object_get(jz, "runs")), 1);
    json_decref(j);
    av_detect_result_free(&r);
    av_detect_pass_totals t[AV_DETECT_PASS_N];
    av_detect_pipeline_pass_totals(p, t);
    CHECK_EQ_INT(t[AV_DETECT_PASS_ZOOM].ran, 1);
    CHECK_EQ_INT(t[AV_DETECT_PASS_ZOOM].runs, 1);
    CHECK_EQ_INT(t[AV_DETECT_PASS_NESTED].ran, 1);
    av_detect_run_opts none = {.passes = AV_DETECT_PASSES_SET};
    av_test_run_file(p, av_test_shared("testdata/images/cat.bmp"), &none, &r);
    for (int k = 0; k < AV_DETECT_PASS_N; k++)
        CHECK(!r.passes[k].on && !r.passes[k].ran && r.passes[k].runs == 0);
    av_detect_result_free(&r);
    av_test_run_file(p, av_test_shared("testdata/images/bird.bmp"), NULL, &r);
    CHECK(av_test_count_bird_boxes(&r) >= 1 && !r.passes[AV_DETECT_PASS_ZOOM].ran);
    av_detect_result_free(&r);
    av_detect_pipeline_pass_totals(p, t);
    CHECK_EQ_INT(t[AV_DETECT_PASS_ZOOM].runs, 1);
    av_detect_pipeline_close(p);
}

/* Scenes without birds where the species model alone would see one (kite.jpg: a beach
 * scores Great Blue Heron 0.73 on the whole image): the whole-image fallback's
 * threshold (pipeline.json, 0.8) keeps them empty. */
TEST(no_bird_on_birdless_scenes)
{
    av_detect_pipeline *p = av_test_open_pipeline(NULL, NULL);
    const char *imgs[] = {"reference/tfjs/images/kite.jpg", "reference/tfjs/images/person.jpg",
                          "reference/tfjs/images/horses.jpg", "reference/tfjs/images/dog.jpg"};
    for (int i = 0; i < 4; i++) {
        av_detect_result r;
        av_test_run_file(p, av_test_shared(imgs[i]), NULL, &r);
        CHECK_MSG(r.n_dets == 0, "%s: %d detections, first '%s'", imgs[i], r.n_dets,
                  r.n_dets ? r.dets[0].label : "");
        av_detect_result_free(&r);
    }
    av_detect_pipeline_close(p);
}

TEST(eagle_from_darknet_package)
{
    av_test_need_models();
    const char *dir = av_test_tmpdir();
    char cmd[1024], path[600];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && timeout 120 apt-get download darknet >/dev/null 2>&1 && "
             "dpkg -x darknet_*.deb x >/dev/null 2>&1 && "
             "find x -name eagle.jpg | head -n 1 > eagle.txt",
             dir);
    if (system(cmd) != 0)
        SKIP("apt-get download darknet failed (no network?)");
    snprintf(path, sizeof path, "%s/eagle.txt", dir);
    size_t len;
    char *rel = av_test_read_file(path, &len);
    rel[len] = '\0';
    if (len && rel[len - 1] == '\n')
        rel[len - 1] = '\0';
    if (!rel[0])
        SKIP("darknet package has no eagle.jpg");
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    free(rel);
    av_detect_pipeline *p = av_test_open_pipeline(NULL, NULL);
    av_detect_result r;
    av_test_run_file(p, path, NULL, &r);
    CHECK_EQ_INT(r.width, 773);
    CHECK_MSG(av_test_count_bird_boxes(&r) >= 1, "no bird box on eagle.jpg");
    av_detect_result_free(&r);
    av_detect_pipeline_close(p);
}

TEST(nanodet_also_finds_bird)
{
    av_test_need_models();
    av_detect_pipeline *p;
    char err[1024];
    av_detect_open_opts oo = {.detector = "nanodet", .no_species = 1};
    CHECK_MSG(av_detect_pipeline_open("models", &oo, &p, err, sizeof err) == 0, "%s", err);
    av_detect_result r;
    av_test_run_file(p, av_test_shared("testdata/images/bird.bmp"), NULL, &r);
    CHECK_EQ_INT(av_test_count_bird_boxes(&r), 1);
    /* NanoDet reference: bird 0.825 at [56.0, 90.7, 496.0, 331.9] (one bin ~ 40 px here) */
    CHECK_NEAR(r.dets[0].det_score, 0.825, 0.02);
    CHECK_NEAR(r.dets[0].x1, 56.0, 41);
    CHECK_NEAR(r.dets[0].x2, 496.0, 41);
    CHECK_STR_EQ(r.detector, "nanodet");
    CHECK_STR_EQ(r.dets[0].label, "Bird");
    CHECK_EQ_INT(r.species_available, 0);
    CHECK_STR_CONTAINS(r.species_note, "disabled");
    av_detect_result_free(&r);
    av_detect_pipeline_close(p);
}

/* A models folder without the species model: still works, says how to add it. */
TEST(missing_species_model_degrades)
{
    av_test_need_models();
    const char *dir = av_test_tmpdir();
    char cmd[1200];
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd));
    snprintf(cmd, sizeof cmd,
             "cp models/pipeline.json models/nanodet.json models/centernet.json "
             "models/inat_bird.json '%s'/ && "
             "ln -s '%s/models/human' '%s/human'",
             dir, cwd, dir);
    CHECK(system(cmd) == 0);
    av_detect_pipeline *p;
    char err[1024];
    CHECK_MSG(av_detect_pipeline_open(dir, NULL, &p, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(av_detect_pipeline_has_species(p), 0);
    av_detect_result r;
    av_test_run_file(p, av_test_shared("testdata/images/bird.bmp"), NULL, &r);
    CHECK_EQ_INT(r.species_available, 0);
    CHECK_STR_CONTAINS(r.species_note, "scripts/setup");
    CHECK_STR_CONTAINS(r.species_note, "inat_bird/");
    CHECK(r.n_dets >= 1);
    CHECK_STR_EQ(r.dets[0].label, "Bird");
    CHECK_NEAR(r.dets[0].confidence, r.dets[0].det_score, 0);
    json_t *j = av_detect_result_to_json(&r, NULL);
    CHECK(json_is_false(json_object_get(j, "species_available")));
    CHECK(json_is_string(json_object_get(j, "species_note")));
    json_decref(j);
    av_detect_result_free(&r);
    av_detect_pipeline_close(p);
}

TEST(bad_inputs_are_errors)
{
    av_detect_pipeline *p = av_test_open_pipeline(NULL, NULL);
    av_detect_result r;
    char err[1024];
    unsigned char junk[4096];
    srand(7);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)rand();
    CHECK(av_detect_run(p, junk, 0, NULL, &r, err, sizeof err) != AV_DETECT_OK);
    CHECK(av_detect_run(p, junk, sizeof junk, NULL, &r, err, sizeof err) != AV_DETECT_OK);
    CHECK(err[0]);
    CHECK_EQ_INT(r.n_dets, 0);
    CHECK(r.dets == NULL);
    /* byte limit */
    size_t len;
    void *buf = av_test_read_file(av_test_shared("testdata/images/bird.bmp"), &len);
    av_detect_run_opts o = {.max_bytes = 1000};
    CHECK_EQ_INT(av_detect_run(p, buf, len, &o, &r, err, sizeof err), AV_DETECT_E_LIMIT);
    o = (av_detect_run_opts){.max_pixels = 1000};
    CHECK(av_detect_run(p, buf, len, &o, &r, err, sizeof err) != AV_DETECT_OK);
    free(buf);
    av_detect_pipeline_close(p);
}

TEST(annotate_png_and_jpeg)
{
    av_detect_pipeline *p = av_test_open_pipeline(NULL, NULL);
    av_detect_result r;
    av_detect_run_opts o = {.annotate = 1};
    av_test_run_file(p, av_test_shared("testdata/images/parrot.jpg"), &o, &r);
    CHECK(r.annotated && r.annotated_len > 1000);
    CHECK_STR_EQ(r.annotated_mime, "image/jpeg");
    CHECK(r.annotated[0] == 0xFF && r.annotated[1] == 0xD8);
    CHECK(r.n_dets > 0);

    /* Re-drawn from the detections alone (another web node): same bytes. */
    size_t len;
    void *buf = av_test_read_file(av_test_shared("testdata/images/parrot.jpg"), &len);
    unsigned char *again = NULL;
    size_t again_len = 0;
    char mime[16], err[512];
    CHECK_MSG(av_detect_annotate(buf, len, r.dets, r.n_dets, 0, 0, &again, &again_len, mime,
                                 sizeof mime, err, sizeof err) == AV_DETECT_OK,
              "%s", err);
    CHECK_STR_EQ(mime, "image/jpeg");
    CHECK(again_len == r.annotated_len && !memcmp(again, r.annotated, again_len));
    free(again);
    CHECK(av_detect_annotate("nope", 4, r.dets, r.n_dets, 0, 0, &again, &again_len, mime,
                             sizeof mime, err, sizeof err) != AV_DETECT_OK &&
          !again);
    CHECK(av_detect_annotate(buf, len, NULL, 2, 0, 0, &again, &again_len, mime, sizeof mime, err,
                             sizeof err) == AV_DETECT_E_ARG);
    free(buf);
    av_detect_result_free(&r);
    av_detect_pipeline_close(p);
}

/* Engine threads (one pool shared by the detector and classifier contexts)
 * change nothing in the results. */
TEST(two_engine_threads_same_results)
{
    av_test_need_models();
    av_detect_result r[2];
    for (int t = 0; t < 2; t++) {
        av_detect_pipeline *p;
        char err[1024];
        av_detect_open_opts oo = {.threads = t + 1};
        CHECK_MSG(av_detect_pipeline_open("models", &oo, &p, err, sizeof err) == 0, "%s", err);
        av_test_run_file(p, av_test_shared("testdata/images/parrot.jpg"), NULL, &r[t]);
        av_detect_pipeline_close(p);
    }
    CHECK(r[0].n_dets > 0);
    CHECK_EQ_INT(r[0].n_dets, r[1].n_dets);
    for (int i = 0; i < r[0].n_dets; i++) {
        CHECK_NEAR(r[0].dets[i].det_score, r[1].dets[i].det_score, 1e-5);
        CHECK_NEAR(r[0].dets[i].x1, r[1].dets[i].x1, 1e-3);
        CHECK_EQ_INT(r[0].dets[i].n_species, r[1].dets[i].n_species);
        if (r[0].dets[i].n_species) {
            CHECK_STR_EQ(r[0].dets[i].species[0].scientific, r[1].dets[i].species[0].scientific);
            CHECK_NEAR(r[0].dets[i].species[0].score, r[1].dets[i].species[0].score, 1e-6);
        }
    }
    av_detect_result_free(&r[0]);
    av_detect_result_free(&r[1]);
}

/* Two threads share one pipeline and agree with a single-threaded run. */
typedef struct thr_arg {
    av_detect_pipeline *p;
    void *buf;
    size_t len;
    int n_dets;
    float score;
    int ok;
} thr_arg;

static void *thr_main(void *v)
{
    thr_arg *a = v;
    for (int i = 0; i < 3; i++) {
        av_detect_result r;
        char err[512];
        a->ok = av_detect_run(a->p, a->buf, a->len, NULL, &r, err, sizeof err) == AV_DETECT_OK;
        if (!a->ok)
            return NULL;
        a->n_dets = r.n_dets;
        a->score = r.n_dets ? r.dets[0].det_score : 0;
        av_detect_result_free(&r);
    }
    return NULL;
}

TEST(shared_between_threads)
{
    av_detect_pipeline *p = av_test_open_pipeline(NULL, NULL);
    av_detect_result r0;
    av_test_run_file(p, av_test_shared("testdata/images/bird.bmp"), NULL, &r0);
    av_detect_result_free(&r0);
    thr_arg a[3];
    size_t len;
    void *buf = av_test_read_file(av_test_shared("testdata/images/bird.bmp"), &len);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        a[i] = (thr_arg){p, buf, len, 0, 0, 0};
        CHECK(pthread_create(&th[i], NULL, thr_main, &a[i]) == 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) {
        CHECK(a[i].ok);
        CHECK_EQ_INT(a[i].n_dets, a[0].n_dets);
        CHECK(a[i].score == a[0].score);
    }
    free(buf);
    av_detect_pipeline_close(p);
}

TEST_MAIN(T(engine_nanodet_reference_input), T(engine_centernet_reference_input),
          T(bird_bmp_has_bird_box), T(parrot_is_scarlet_macaw), T(no_bird_on_cat_and_grace_hopper),
          T(no_bird_on_birdless_scenes), T(eagle_from_darknet_package), T(nanodet_also_finds_bird),
          T(zoom_out_runs_only_without_a_bird_box), T(missing_species_model_degrades),
          T(bad_inputs_are_errors), T(annotate_png_and_jpeg), T(two_engine_threads_same_results),
          T(shared_between_threads))
