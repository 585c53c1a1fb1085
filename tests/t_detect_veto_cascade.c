/*
 * t_detect_veto_cascade.c - the ImageNet veto asks only about the bird
 * boxes the species model is unsure of ("veto_max_species" in
 * models/imagenet.json; second.h av_detect__second_asks): the rule parsed
 * and refused, a box named at or above the bar keeps its place under a veto
 * that drops every box it asks about, a box under it is dropped as before,
 * on 1 and on 2 engine threads, and on three boxes a bar between their
 * scores drops exactly those under it. species_best is the top species
 * score (no site list).
 */
#include "harness.h"
#include "detect_fixture.h"

#include "detect/pipeline_impl.h"
#include "detect/second.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A veto every bird box meets when asked (its "bird" group the background
 * class alone; artefacts at 0 or more), asking below `bar`. */
static const char *veto_all_below(const char *name, int threads, double bar)
{
    char v[256], dir[64];
    snprintf(dir, sizeof dir, "%s%d", name, threads); /* a folder per call: made once */
    snprintf(v, sizeof v,
             "{\"groups\": {\"bird\": [[0, 0]], \"artefact\": [[399, 924]]}, "
             "\"veto_max_bird\": 1, \"veto_min_artefact\": 0, \"veto_max_species\": %.4f}",
             bar);
    return av_test_models_with(dir, "imagenet.json", "second_opinion", v);
}

static void run_path(const char *dir, int threads, const char *path, av_detect_result *r)
{
    av_detect_open_opts oo = {.threads = threads, .max_contexts = 1};
    av_detect_pipeline *p = av_test_open_pipeline(dir, &oo);
    av_test_run_file(p, path, NULL, r);
    CHECK_EQ_INT(p->workers[0].solo, 0); /* the cascade never runs the pair */
    av_detect_pipeline_close(p);
}

TEST(rule_parsed_and_refused)
{
    const char *groups = "{\"second_opinion\": {\"groups\": {\"bird\": [[1, 2]], "
                         "\"artefact\": [[3, 4]]}, \"veto_max_bird\": 0.1, ";
    char text[512], err[256] = "";
    av_detect__second_rules r;
    snprintf(text, sizeof text, "%s\"veto_max_species\": 0.5}}", groups);
    CHECK_MSG(av_detect__second_rules_parse(text, strlen(text), 10, &r, err, sizeof err) == 0,
              "%s", err);
    CHECK(r.veto_max_species == 0.5);
    CHECK_EQ_INT(av_detect__second_asks(&r, 0.49), 1);
    CHECK_EQ_INT(av_detect__second_asks(&r, 0.5), 0);
    r.veto_max_species = 0; /* off: every box is asked about */
    CHECK_EQ_INT(av_detect__second_asks(&r, 1.0), 1);
    r.veto_max_bird = 0; /* no veto: none is */
    CHECK_EQ_INT(av_detect__second_asks(&r, 0.0), 0);
    snprintf(text, sizeof text, "%s\"veto_max_species\": 1.5}}", groups);
    CHECK(av_detect__second_rules_parse(text, strlen(text), 10, &r, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "veto_max_species"), "%s", err);
}

/* parrot.jpg: one box named Scarlet Macaw at about 0.83. */
TEST(sure_box_is_not_asked_unsure_box_is)
{
    av_test_need_species_model();
    const char *img = av_test_shared("testdata/images/parrot.jpg");
    for (int threads = 1; threads <= 2; threads++) {
        av_detect_result plain, kept, dropped;
        run_path("models", threads, img, &plain);
        CHECK_EQ_INT(av_test_count_bird_boxes(&plain), 1);
        if (plain.n_dets < 1 || plain.dets[0].n_species < 1) {
            av_detect_result_free(&plain);
            return;
        }
        double best = plain.dets[0].species_best;
        CHECK_NEAR(best, plain.dets[0].species[0].score, 1e-6);
        CHECK_MSG(best > 0.3 && best < 0.99, "parrot's best species %.3f", best);
        run_path(veto_all_below("sure", threads, best - 0.01), threads, img, &kept);
        CHECK_EQ_INT(av_test_count_bird_boxes(&kept), 1);
        CHECK(kept.n_dets >= 1 && strcmp(kept.dets[0].label, plain.dets[0].label) == 0);
        run_path(veto_all_below("unsure", threads, best + 0.01), threads, img, &dropped);
        CHECK_EQ_INT(av_test_count_bird_boxes(&dropped), 0);
        av_detect_result_free(&plain);
        av_detect_result_free(&kept);
        av_detect_result_free(&dropped);
    }
}

static void run_three(const char *dir, int threads, av_detect_result *r)
{
    int w, h;
    unsigned char *px = av_test_three_birds(&w, &h);
    CHECK(px != NULL);
    av_detect_open_opts oo = {.threads = threads, .max_contexts = 1};
    av_detect_pipeline *p = av_test_open_pipeline(dir, &oo);
    char err[1024] = "";
    CHECK_MSG(av_detect_run_rgb(p, w, h, px, NULL, r, err, sizeof err) == AV_DETECT_OK, "%s",
              err);
    av_detect_pipeline_close(p);
    free(px);
}

/* Three boxes (batched species, then the batched veto on the asked ones):
 * a bar between the lowest and highest best species score drops exactly
 * the boxes under it, on 1 and 2 threads. */
TEST(three_boxes_drop_those_under_the_bar)
{
    av_test_need_species_model();
    for (int threads = 1; threads <= 2; threads++) {
        av_detect_result plain, cut;
        run_three("models", threads, &plain);
        CHECK_EQ_INT(av_test_count_bird_boxes(&plain), 3);
        double lo = 2, hi = -1;
        for (int i = 0; i < plain.n_dets; i++) {
            double b = plain.dets[i].species_best;
            lo = b < lo ? b : lo;
            hi = b > hi ? b : hi;
        }
        CHECK_MSG(hi - lo > 0.002, "the three boxes' best species %.4f .. %.4f", lo, hi);
        double bar = (lo + hi) / 2;
        int under = 0;
        for (int i = 0; i < plain.n_dets; i++)
            under += plain.dets[i].species_best < bar;
        run_three(veto_all_below("bar", threads, bar), threads, &cut);
        CHECK_EQ_INT(av_test_count_bird_boxes(&cut), 3 - under);
        for (int i = 0; i < cut.n_dets; i++)
            CHECK_MSG(cut.dets[i].species_best >= bar, "box %d kept at %.4f under %.4f", i,
                      cut.dets[i].species_best, bar);
        av_detect_result_free(&plain);
        av_detect_result_free(&cut);
    }
}

TEST_MAIN(T(rule_parsed_and_refused), T(sure_box_is_not_asked_unsure_box_is),
          T(three_boxes_drop_those_under_the_bar))
