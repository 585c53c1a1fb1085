/*
 * t_detect_species_pair.c - one bird box on two threads
 * (pipeline_species.c species_pair): the species model and the ImageNet
 * veto side by side on one-thread contexts give the answers of the run in
 * turn (1 engine thread): the same species and scores, and a vetoed box
 * leaves the result as it does there (then the whole image is asked);
 * the pair's contexts are made once per worker. Three bird boxes go
 * side by side in one batched run per model, with the answers of one crop
 * at a time. Also the u8 classifiers'
 * input (tensor.c): where the quantisation maps each byte to itself the
 * input is the crop's bytes, and a table one step off is not taken for it.
 */
#include "harness.h"
#include "detect_fixture.h"

#include "detect/pipeline_impl.h"
#include "detect/tensor.h"

#include <stdlib.h>
#include <string.h>

/* av_detect_run of path on a fresh pipeline of dir with `threads` engine
 * threads; *solo gets its worker's pair state after the run. */
static void run_with(const char *dir, int threads, const char *path, av_detect_result *r,
                     int *solo)
{
    av_detect_open_opts oo = {.threads = threads, .max_contexts = 1};
    av_detect_pipeline *p = av_test_open_pipeline(dir, &oo);
    av_test_run_file(p, path, NULL, r);
    *solo = p->workers[0].solo;
    /* a second request on the same worker reuses the pair's contexts */
    av_detect_result again;
    av_test_run_file(p, path, NULL, &again);
    CHECK_EQ_INT(again.n_dets, r->n_dets);
    CHECK_EQ_INT(p->workers[0].solo, *solo);
    av_detect_result_free(&again);
    av_detect_pipeline_close(p);
}

static void same_answers(const av_detect_result *a, const av_detect_result *b)
{
    CHECK_EQ_INT(a->n_dets, b->n_dets);
    for (int i = 0; i < a->n_dets && i < b->n_dets; i++) {
        const av_detect_det *x = &a->dets[i], *y = &b->dets[i];
        CHECK_EQ_INT(x->whole_image, y->whole_image);
        CHECK_EQ_INT(x->class_index, y->class_index);
        CHECK_EQ_INT(x->rule, y->rule);
        CHECK_STR_EQ(x->label, y->label);
        CHECK_NEAR(x->confidence, y->confidence, 1e-5);
        CHECK_EQ_INT(x->n_species, y->n_species);
        for (int k = 0; k < x->n_species && k < y->n_species; k++) {
            CHECK_STR_EQ(x->species[k].scientific, y->species[k].scientific);
            CHECK_NEAR(x->species[k].score, y->species[k].score, 1e-6);
        }
    }
}

/* The shipped models with the veto asked about every box (veto_max_species
 * 0): only then do the two models run side by side; as shipped the veto
 * waits for the species (t_detect_veto_cascade). */
static const char *shipped_pair(void)
{
    return av_test_models_with("pair_shipped", "imagenet.json", "second_opinion.veto_max_species",
                               "0");
}

/* parrot.jpg: one bird box; on 2 threads it goes through the pair. */
TEST(pair_names_the_box_as_in_turn)
{
    av_test_need_species_model();
    const char *img = av_test_shared("testdata/images/parrot.jpg");
    const char *dir = shipped_pair();
    av_detect_result one, two;
    int solo1, solo2;
    run_with(dir, 1, img, &one, &solo1);
    run_with(dir, 2, img, &two, &solo2);
    CHECK_EQ_INT(solo1, 0); /* one thread: never tried */
    CHECK_EQ_INT(solo2, 1); /* two: made and used */
    CHECK_EQ_INT(av_test_count_bird_boxes(&one), 1);
    CHECK(one.dets[0].n_species > 0);
    same_answers(&one, &two);
    av_detect_result_free(&one);
    av_detect_result_free(&two);
}

/* A veto every bird box meets (its "bird" group the background class
 * alone, under 1; artefacts at 0 or more; the real bird classes can sum
 * past 1 in 8-bit outputs): the pair drops the box as veto_boxes does, and the whole image is
 * asked instead, on 1 thread and on 2 alike. */
TEST(pair_veto_drops_the_box_as_in_turn)
{
    av_test_need_species_model();
    const char *dir = av_test_models_with("veto_all", "imagenet.json", "second_opinion",
                                          "{\"groups\": {\"bird\": [[0, 0]], "
                                          "\"artefact\": [[399, 924]]}, "
                                          "\"veto_max_bird\": 1, \"veto_min_artefact\": 0}");
    const char *img = av_test_shared("testdata/images/parrot.jpg");
    av_detect_result one, two;
    int solo1, solo2;
    run_with(dir, 1, img, &one, &solo1);
    run_with(dir, 2, img, &two, &solo2);
    CHECK_EQ_INT(solo2, 1);
    CHECK_EQ_INT(av_test_count_bird_boxes(&one), 0);
    CHECK_EQ_INT(av_test_count_bird_boxes(&two), 0);
    same_answers(&one, &two);
    av_detect_result_free(&one);
    av_detect_result_free(&two);
}

/* bird.bmp with the veto off: no pair (it only overlaps the veto), the
 * worker never makes its contexts. */
TEST(no_pair_without_the_veto)
{
    av_test_need_species_model();
    const char *dir = av_test_models_with("veto_off", "imagenet.json", "second_opinion",
                                          "{\"groups\": {\"bird\": [[8, 25]], "
                                          "\"artefact\": [[399, 924]]}}");
    av_detect_result r;
    int solo;
    run_with(dir, 2, av_test_shared("testdata/images/bird.bmp"), &r, &solo);
    CHECK(av_test_count_bird_boxes(&r) >= 1);
    CHECK_EQ_INT(solo, 0);
    av_detect_result_free(&r);
}

/* The three bird boxes of av_test_three_birds on 2 threads, with the
 * veto as shipped (veto_all 0) or met by every box (1, as above): side by side in
 * one batched run each (the worker's one-thread batch-3 contexts made, the
 * pooled ones not) against one crop at a time in turn (species_batch 1,
 * which the pair leaves alone), on the same detector boxes. */
static void three_boxes(int veto_all)
{
    av_test_need_species_model();
    const char *dir =
        veto_all ? av_test_models_with("veto_all3", "imagenet.json", "second_opinion",
                                       "{\"groups\": {\"bird\": [[0, 0]], "
                                       "\"artefact\": [[399, 924]]}, "
                                       "\"veto_max_bird\": 1, \"veto_min_artefact\": 0}")
                 : shipped_pair();
    int w, h;
    unsigned char *px = av_test_three_birds(&w, &h);
    av_detect_result r[2];
    for (int k = 0; k < 2; k++) {
        av_detect_open_opts oo = {.threads = 2, .max_contexts = 1, .species_batch = k ? 1 : 0};
        av_detect_pipeline *p = av_test_open_pipeline(dir, &oo);
        char err[1024];
        for (int again = 0; again < 2; again++) {
            if (again)
                av_detect_result_free(&r[k]);
            CHECK_MSG(av_detect_run_rgb(p, w, h, px, NULL, &r[k], err, sizeof err) ==
                          AV_DETECT_OK,
                      "%s", err);
        }
        const worker *wk = &p->workers[0];
        CHECK_EQ_INT(wk->cbs[0].n + wk->cbs[1].n, (k ? 0 : 3));
        CHECK_EQ_INT(wk->sbs[0].n + wk->sbs[1].n, (k ? 0 : 3));
        CHECK_EQ_INT(wk->cb[0].n + wk->cb[1].n + wk->sb[0].n + wk->sb[1].n, 0);
        av_detect_pipeline_close(p);
    }
    CHECK_EQ_INT(av_test_count_bird_boxes(&r[1]), (veto_all ? 0 : 3));
    CHECK_EQ_INT(r[0].batched_species, !veto_all);
    same_answers(&r[0], &r[1]);
    for (int i = 0; i < r[0].n_dets && i < r[1].n_dets; i++)
        CHECK(r[0].dets[i].x1 == r[1].dets[i].x1 && r[0].dets[i].y2 == r[1].dets[i].y2);
    av_detect_result_free(&r[0]);
    av_detect_result_free(&r[1]);
    free(px);
}

TEST(pair_names_three_boxes_as_one_by_one)
{
    three_boxes(0);
}

TEST(pair_veto_drops_three_boxes_as_one_by_one)
{
    three_boxes(1);
}

static uint8_t *noise(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; p && i < n; i++)
        p[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 23);
    return p;
}

/* The shipped classifiers' u8 input (mean = std = 128, scale 1/128, zero
 * point 128) is the crop's bytes as they are; zero point 127 (each byte one
 * lower, 0 held at 0) and BGR order are not. */
TEST(u8_identity_input_is_the_bytes)
{
    av_detect__manifest m;
    memset(&m, 0, sizeof m);
    m.in_w = 29;
    m.in_h = 17;
    for (int c = 0; c < 3; c++)
        m.mean[c] = m.std[c] = 128;
    size_t n = (size_t)m.in_w * m.in_h * 3;
    uint8_t *px = noise(n, 17), *got = malloc(n);
    CHECK(px && got);
    px[0] = 0;
    px[1] = 255;
    av_nn_tensor_info ti = {.dtype = AV_NN_U8, .scale = 0.0078125f, .zero_point = 128};
    av_detect__fill_input(&m, &ti, NULL, px, got);
    CHECK(memcmp(got, px, n) == 0);
    ti.zero_point = 127;
    av_detect__fill_input(&m, &ti, NULL, px, got);
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(got[i] == (px[i] ? px[i] - 1 : 0), "byte %zu: %d from %d", i, got[i], px[i]);
    ti.zero_point = 128;
    m.bgr = 1;
    av_detect__fill_input(&m, &ti, NULL, px, got);
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(got[i] == px[i / 3 * 3 + 2 - i % 3], "bgr byte %zu", i);
    free(px);
    free(got);
}

TEST_MAIN(T(pair_names_the_box_as_in_turn), T(pair_veto_drops_the_box_as_in_turn),
          T(pair_names_three_boxes_as_one_by_one), T(pair_veto_drops_three_boxes_as_one_by_one),
          T(no_pair_without_the_veto), T(u8_identity_input_is_the_bytes))
