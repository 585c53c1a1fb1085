/*
 * t_web_detection.c - the detection <-> stored row adapter (web/detection.c):
 * a detection of every answer rule survives detection -> row -> detection
 * (what the row keeps) and row -> detection -> row unchanged, the label read
 * back is the one the pipeline drew, and long or old rows are read safely.
 */
#include "harness.h"

#include "web/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static av_detect_det det(const char *class_name, const char *label, int rule, int n_species)
{
    static const char *sci[] = {"Erithacus rubecula", "Corvus corone", "Turdus merula"};
    static const char *com[] = {"European Robin", "Carrion Crow", ""};
    av_detect_det d;
    memset(&d, 0, sizeof d);
    d.x1 = 10.25f, d.y1 = 20.5f, d.x2 = 300.75f, d.y2 = 200;
    d.det_score = 0.61f;
    d.confidence = 0.87f;
    d.class_index = 14;
    snprintf(d.class_name, sizeof d.class_name, "%s", class_name);
    snprintf(d.label, sizeof d.label, "%s", label);
    d.rule = rule;
    d.n_species = n_species;
    for (int i = 0; i < n_species; i++) {
        d.species[i].class_index = 100 + i;
        d.species[i].score = 0.5f - 0.1f * (float)i;
        snprintf(d.species[i].scientific, sizeof d.species[i].scientific, "%s", sci[i]);
        snprintf(d.species[i].common, sizeof d.species[i].common, "%s", com[i]);
    }
    return d;
}

TEST(round_trip_every_rule)
{
    av_detect_det cases[] = {
        det("bird", "European Robin", AV_DETECT_RULE_SPECIES, 3),
        det("bird", "Corvus sp.", AV_DETECT_RULE_GENUS, 3),
        det("bird", "Unknown bird", AV_DETECT_RULE_UNKNOWN, 2),
        det("bird", "Bird", AV_DETECT_RULE_NONE, 0),
        det("cat", "cat", AV_DETECT_RULE_NONE, 0),
        det("bird", "Unknown bird", AV_DETECT_RULE_UNKNOWN, 2), /* whole image, by ImageNet */
        det("bird", "European Robin", AV_DETECT_RULE_SPECIES, 3), /* whole image, two views */
    };
    cases[5].whole_image = 1, cases[5].whole_by = AV_DETECT_WHOLE_IMAGENET;
    cases[6].whole_image = 1, cases[6].whole_by = AV_DETECT_WHOLE_TWO_VIEWS;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const av_detect_det *a = &cases[k];
        av_store_detection row, row2;
        av_detect_det b;
        av_web_store_detection(a, "nanodet@1", &row);
        av_web_load_detection(&row, &b);
        CHECK(b.x1 == a->x1 && b.y1 == a->y1 && b.x2 == a->x2 && b.y2 == a->y2);
        CHECK(b.confidence == a->confidence && b.det_score == a->det_score);
        CHECK_STR_EQ(b.class_name, a->class_name);
        CHECK_STR_EQ(b.label, a->label); /* the label the pipeline drew */
        CHECK_EQ_INT(b.rule, a->rule);
        CHECK_EQ_INT(b.whole_image, a->whole_image);
        CHECK_EQ_INT(b.whole_by, a->whole_by);
        CHECK_STR_EQ(row.whole_image_by, a->whole_image ? av_detect_whole_by_name(a->whole_by) : "");
        CHECK_EQ_INT(b.n_species, a->n_species);
        for (int i = 0; i < a->n_species; i++) {
            CHECK(b.species[i].score == a->species[i].score);
            CHECK_STR_EQ(b.species[i].scientific, a->species[i].scientific);
            CHECK_STR_EQ(b.species[i].common, a->species[i].common);
        }
        if (a->rule == AV_DETECT_RULE_SPECIES)
            CHECK_EQ_INT(b.species[0].class_index, a->species[0].class_index);
        av_web_store_detection(&b, row.model_version, &row2);
        CHECK_MSG(!memcmp(&row, &row2, sizeof row), "case %zu: row changed on the way back", k);
    }
}

/* A row written before the guesses were kept (schema < 8): its species
 * comes back as the one guess; a genus row without guesses stays a genus. */
TEST(old_rows_without_guesses)
{
    av_store_detection row;
    memset(&row, 0, sizeof row);
    row.x2 = row.y2 = 50;
    row.score = 0.9;
    row.species_score = 0.8;
    row.class_id = 7;
    snprintf(row.label, sizeof row.label, "bird");
    snprintf(row.species, sizeof row.species, "Parus major");
    snprintf(row.common_name, sizeof row.common_name, "Great Tit");
    av_detect_det d;
    av_web_load_detection(&row, &d);
    CHECK_EQ_INT(d.rule, AV_DETECT_RULE_SPECIES);
    CHECK_EQ_INT(d.n_species, 1);
    CHECK_EQ_INT(d.species[0].class_index, 7);
    CHECK_NEAR(d.species[0].score, 0.8, 1e-6);
    CHECK_STR_EQ(d.label, "Great Tit");

    row.species_score = -1;
    row.common_name[0] = '\0';
    snprintf(row.species, sizeof row.species, "Corvus sp.");
    av_web_load_detection(&row, &d);
    CHECK_EQ_INT(d.rule, AV_DETECT_RULE_GENUS);
    CHECK_EQ_INT(d.n_species, 0);
    CHECK_STR_EQ(d.label, "Corvus sp.");

    row.species[0] = '\0';
    row.label[0] = '\0'; /* no detector class: a bird */
    av_web_load_detection(&row, &d);
    CHECK_EQ_INT(d.rule, AV_DETECT_RULE_NONE);
    CHECK_STR_EQ(d.label, "Bird");
    CHECK_STR_EQ(d.class_name, "bird");
}

/* Names longer than a detection's fields are cut, never overflow. */
TEST(long_names_are_cut)
{
    av_store_detection row;
    memset(&row, 0, sizeof row);
    memset(row.common_name, 'c', sizeof row.common_name - 1);
    memset(row.species, 's', sizeof row.species - 1);
    row.n_guesses = 1;
    memset(row.guesses[0].species, 'g', sizeof row.guesses[0].species - 1);
    memset(row.guesses[0].common_name, 'h', sizeof row.guesses[0].common_name - 1);
    av_detect_det d;
    av_web_load_detection(&row, &d);
    CHECK_EQ_INT((int)strlen(d.label), AV_DETECT_NAME_MAX - 1);
    CHECK(d.label[0] == 'c');
    CHECK_EQ_INT((int)strlen(d.species[0].scientific), AV_DETECT_NAME_MAX - 1);
    CHECK_EQ_INT((int)strlen(d.species[0].common), AV_DETECT_NAME_MAX - 1);
}

/* A result as an analysis: rows for its boxes; a drawing's best guess is its
 * top species (not "Unknown bird"), else its label; the annotated image moves. */
TEST(analysis_from_result_keeps_the_drawing)
{
    av_detect_result r;
    memset(&r, 0, sizeof r);
    r.width = 640, r.height = 480;
    av_detect_det boxes[1] = {det("bird", "European Robin", AV_DETECT_RULE_SPECIES, 3)};
    r.dets = boxes, r.n_dets = 1;
    snprintf(r.detector, sizeof r.detector, "centernet");
    snprintf(r.detector_version, sizeof r.detector_version, "1");
    snprintf(r.annotated_mime, sizeof r.annotated_mime, "image/png");
    static unsigned char pixels[4];
    r.annotated = pixels, r.annotated_len = sizeof pixels;
    av_web_analysis a;
    CHECK(av_web_analysis_from_result(&r, &a) == 0);
    CHECK_EQ_INT(a.n_dets, 1);
    CHECK_STR_EQ(a.dets[0].species, "Erithacus rubecula");
    CHECK_STR_EQ(a.dets[0].model_version, "centernet@1");
    CHECK_EQ_INT(a.illustration.on, 0);
    CHECK(a.illustration.score < 0);
    CHECK(a.annotated == pixels && r.annotated == NULL);
    CHECK_STR_EQ(a.annotated_ext, "png");
    free(a.dets);

    r.n_dets = 0;
    r.annotated_mime[0] = '\0';
    r.illustration = 1;
    r.illustrated = det("bird", "Unknown bird", AV_DETECT_RULE_UNKNOWN, 2);
    CHECK(av_web_analysis_from_result(&r, &a) == 0);
    CHECK_EQ_INT(a.n_dets, 0);
    CHECK_EQ_INT(a.illustration.on, 1);
    CHECK_STR_EQ(a.illustration.species, "Erithacus rubecula");
    CHECK_STR_EQ(a.illustration.common_name, "European Robin");
    CHECK_NEAR(a.illustration.score, 0.5, 1e-6);
    CHECK_STR_EQ(a.annotated_ext, "jpg"); /* no image: jpg by default */

    r.illustrated = det("bird", "Bird", AV_DETECT_RULE_NONE, 0); /* species off */
    CHECK(av_web_analysis_from_result(&r, &a) == 0);
    CHECK_STR_EQ(a.illustration.species, "");
    CHECK_STR_EQ(a.illustration.common_name, "Bird");
    CHECK_NEAR(a.illustration.score, 0.87, 1e-6);
}

TEST_MAIN(T(analysis_from_result_keeps_the_drawing), T(round_trip_every_rule), T(old_rows_without_guesses), T(long_names_are_cut))
