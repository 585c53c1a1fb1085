/*
 * t_answer.c - what a bird box is called (src/detect/answer.c): the
 * species / genus / unknown / drop rules, site species lists (refused
 * names with their line, renormalised scores), the shipped lists checked
 * against the species model's labels, and names matched as binomials.
 */
#include "harness.h"

#include "detect/answer.h"
#include "detect/detect.h"
#include "detect/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A classifier manifest over a few labels; the last is the background. */
static void small_manifest(av_detect__manifest *m, const char *answer)
{
    char text[2048], err[512];
    snprintf(text, sizeof text,
             "{\"name\": \"tiny\", \"version\": \"1\", \"role\": \"classifier\", \"file\": "
             "\"x.tflite\", \"format\": \"tflite\", \"input\": {\"width\": 8, \"height\": 8, "
             "\"layout\": \"NHWC\", \"normalise\": \"0..255\", \"resize\": \"stretch\", "
             "\"filter\": \"area\"}, \"output\": {\"kind\": "
             "\"classifier\"}, \"labels\": [\"Corvus corone (Carrion Crow)\", \"Corvus cornix "
             "(Hooded Crow)\", \"Corvus brachyrhynchos (American Crow)\", \"Parus major (Great "
             "Tit)\", \"Junco hyemalis oreganus\", \"Picoides pubescens (Downy Woodpecker)\", "
             "\"background\"]%s%s}",
             answer ? ", \"answer\": " : "", answer ? answer : "");
    CHECK_MSG(av_detect__manifest_parse(text, strlen(text), ".", "tiny", m, err, sizeof err) == 0,
              "%s", err);
    m->background = 6;
}

/* Fill d's species from probs (best first, background skipped) as the pipeline does. */
static void top(const av_detect__manifest *m, const float *probs, float det_score,
                av_detect_det *d)
{
    memset(d, 0, sizeof *d);
    d->det_score = det_score;
    int used[16] = {0};
    for (int k = 0; k < 3; k++) {
        int best = -1;
        for (int i = 0; i < m->n_labels; i++)
            if (i != m->background && !used[i] && (best < 0 || probs[i] > probs[best]))
                best = i;
        used[best] = 1;
        d->species[k].class_index = best;
        d->species[k].score = probs[best];
        av_detect_split_label(m->labels[best], d->species[k].scientific,
                              sizeof d->species[k].scientific, d->species[k].common,
                              sizeof d->species[k].common);
    }
    d->n_species = 3;
}

TEST(rules_name_species_genus_unknown_drop)
{
    av_detect__manifest m;
    small_manifest(&m, "{\"min_species\": 0.5, \"min_genus\": 0.6, \"drop_detector\": 0.4}");
    av_detect__answer a;
    char err[256];
    CHECK(av_detect__answer_init(&a, &m, err, sizeof err) == 0);
    av_detect_det d;
    /* sure species */
    float p1[] = {0.7f, 0.1f, 0.1f, 0.05f, 0.0f, 0.0f, 0.05f};
    top(&m, p1, 0.8f, &d);
    CHECK_EQ_INT(av_detect__answer_name(&a, p1, &d), 0);
    CHECK_EQ_INT(d.rule, AV_DETECT_RULE_SPECIES);
    CHECK_STR_EQ(d.label, "Carrion Crow");
    CHECK_NEAR(d.confidence, 0.7, 1e-6);
    /* unsure species, sure genus: "Corvus sp." with the genus's summed score */
    float p2[] = {0.35f, 0.3f, 0.2f, 0.1f, 0.0f, 0.0f, 0.05f};
    top(&m, p2, 0.8f, &d);
    CHECK_EQ_INT(av_detect__answer_name(&a, p2, &d), 0);
    CHECK_EQ_INT(d.rule, AV_DETECT_RULE_GENUS);
    CHECK_STR_EQ(d.label, "Corvus sp.");
    CHECK_NEAR(d.confidence, 0.85, 1e-5);
    CHECK_STR_EQ(d.species[0].scientific, "Corvus corone"); /* guesses kept */
    /* weak everything: unknown bird, with the detector's score */
    float p3[] = {0.2f, 0.05f, 0.05f, 0.3f, 0.1f, 0.1f, 0.2f};
    top(&m, p3, 0.45f, &d);
    CHECK_EQ_INT(av_detect__answer_name(&a, p3, &d), 0);
    CHECK_EQ_INT(d.rule, AV_DETECT_RULE_UNKNOWN);
    CHECK_STR_EQ(d.label, "Unknown bird");
    CHECK_NEAR(d.confidence, 0.45, 1e-6);
    /* a genus of one species is no genus answer */
    float p4[] = {0.05f, 0.05f, 0.05f, 0.45f, 0.1f, 0.1f, 0.2f};
    top(&m, p4, 0.45f, &d);
    CHECK_EQ_INT(av_detect__answer_name(&a, p4, &d), 0);
    CHECK_EQ_INT(d.rule, AV_DETECT_RULE_UNKNOWN);
    /* background wins and the detector is unsure: dropped */
    float p5[] = {0.1f, 0.05f, 0.05f, 0.1f, 0.0f, 0.0f, 0.7f};
    top(&m, p5, 0.3f, &d);
    CHECK_EQ_INT(av_detect__answer_name(&a, p5, &d), 1);
    /* ... but a sure detector keeps it as an unknown bird */
    top(&m, p5, 0.9f, &d);
    CHECK_EQ_INT(av_detect__answer_name(&a, p5, &d), 0);
    CHECK_EQ_INT(d.rule, AV_DETECT_RULE_UNKNOWN);
    /* a species that does not beat the background is not named */
    float p6[] = {0.45f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.55f};
    a.min_species = 0.2;
    top(&m, p6, 0.9f, &d);
    CHECK_EQ_INT(av_detect__answer_name(&a, p6, &d), 0);
    CHECK(d.rule != AV_DETECT_RULE_SPECIES);
    av_detect__answer_free(&a);
    av_detect__manifest_free(&m);
}

TEST(rules_never_name_a_species_under_0_2)
{
    /* the shipped thresholds: a species name needs at least 0.2 */
    CHECK(AV_DETECT__ANSWER_MIN_SPECIES >= 0.2);
    if (access("models/inat_bird.json", R_OK))
        SKIP("species manifest missing");
    av_detect__manifest m;
    char err[512];
    CHECK_MSG(av_detect__manifest_load("models/inat_bird.json", &m, err, sizeof err) == 0, "%s",
              err);
    CHECK_MSG(m.answer_min_species >= 0.2, "models/inat_bird.json: answer.min_species %.3f",
              m.answer_min_species);
    av_detect__manifest_free(&m);
}

static const char *write_tmp(const char *name, const char *text)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", av_test_tmpdir(), name);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs(text, f);
    fclose(f);
    return path;
}

TEST(site_list_restricts_and_renormalises)
{
    av_detect__manifest m;
    small_manifest(&m, NULL);
    av_detect__answer a;
    char err[512];
    CHECK(av_detect__answer_init(&a, &m, err, sizeof err) == 0);
    const char *path = write_tmp("eu.txt", "# European crows\nCorvus corone   # Carrion\n\n"
                                           "Corvus cornix\nParus major major\n"
                                           "Dryobates pubescens\nCorvus corone\n");
    CHECK_MSG(av_detect__answer_load_list(&a, &m, path, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(a.n_allowed, 4);
    float p[] = {0.1f, 0.1f, 0.6f, 0.1f, 0.0f, 0.0f, 0.1f};
    int raw = -1;
    CHECK_NEAR(av_detect__answer_restrict(&a, p, &raw), 0.6, 1e-6); /* the best before the list */
    CHECK_EQ_INT(raw, 2);
    CHECK_NEAR(p[2], 0.0, 1e-9);         /* American Crow is off the list */
    CHECK_NEAR(p[0], 0.25, 1e-6);        /* 0.1 / 0.4 */
    CHECK_NEAR(p[6], 0.25, 1e-6);        /* background stays, rescaled */
    av_detect__answer_free(&a);
    av_detect__manifest_free(&m);
}

TEST(site_list_refuses_unknown_names_with_their_line)
{
    av_detect__manifest m;
    small_manifest(&m, NULL);
    av_detect__answer a;
    char err[512];
    CHECK(av_detect__answer_init(&a, &m, err, sizeof err) == 0);
    const char *path = write_tmp("bad.txt", "Corvus corone\n# comment\nPasser italiae\n");
    CHECK(av_detect__answer_load_list(&a, &m, path, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "bad.txt:3:") && strstr(err, "Passer italiae"), "%s", err);
    CHECK(a.allowed == NULL);
    path = write_tmp("genus.txt", "Corvus\n");
    CHECK(av_detect__answer_load_list(&a, &m, path, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, ":1:"), "%s", err);
    path = write_tmp("empty.txt", "# nothing\n");
    CHECK(av_detect__answer_load_list(&a, &m, path, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "no species"), "%s", err);
    CHECK(av_detect__answer_load_list(&a, &m, "/nonexistent/list.txt", err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "cannot open"), "%s", err);
    av_detect__answer_free(&a);
    av_detect__manifest_free(&m);
}

/* Every shipped list names only species of the species model. */
TEST(shipped_site_lists_match_the_labels)
{
    if (access("models/inat_bird.json", R_OK) || access("models/inat_bird", R_OK))
        SKIP("species model not fetched (run scripts/setup)");
    av_detect__manifest m;
    char err[512];
    CHECK_MSG(av_detect__manifest_load("models/inat_bird.json", &m, err, sizeof err) == 0, "%s",
              err);
    static const char *const lists[] = {"britain-ireland", "europe", "north-america"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        av_detect__answer a;
        CHECK(av_detect__answer_init(&a, &m, err, sizeof err) == 0);
        char path[256];
        snprintf(path, sizeof path, "models/sites/%s.txt", lists[i]);
        CHECK_MSG(av_detect__answer_load_list(&a, &m, path, err, sizeof err) == 0, "%s", err);
        CHECK_MSG(a.n_allowed >= 50, "%s: only %d species", path, a.n_allowed);
        av_detect__answer_free(&a);
    }
    av_detect__manifest_free(&m);
}

TEST(binomials_and_synonyms)
{
    char b[AV_DETECT_NAME_MAX];
    av_detect_species_binomial("Junco hyemalis oreganus", b, sizeof b);
    CHECK_STR_EQ(b, "Junco hyemalis");
    av_detect_species_binomial("  Leuconotopicus   villosus ", b, sizeof b);
    CHECK_STR_EQ(b, "Picoides villosus");
    av_detect_species_binomial("Larus glaucescens \xc3\x97 occidentalis", b, sizeof b);
    CHECK_STR_EQ(b, "Larus glaucescens \xc3\x97 occidentalis");
    av_detect_species_genus("Corvus corone", b, sizeof b);
    CHECK_STR_EQ(b, "Corvus");
    CHECK_EQ_INT(av_detect_rule_from_name("genus"), AV_DETECT_RULE_GENUS);
    CHECK_EQ_INT(av_detect_rule_from_name("bogus"), AV_DETECT_RULE_NONE);
}

/* The pipeline takes a list by name and refuses a bad one at open. */
TEST(pipeline_opens_with_site_lists)
{
    if (access("models/inat_bird.json", R_OK) || access("models/human/nanodet.json", R_OK))
        SKIP("models not fetched (run scripts/setup)");
    av_detect_pipeline *p;
    char err[512];
    av_detect_open_opts oo = {.species_list = "europe"};
    CHECK_MSG(av_detect_pipeline_open("models", &oo, &p, err, sizeof err) == AV_DETECT_OK, "%s",
              err);
    av_detect_pipeline_close(p);
    oo.species_list = write_tmp("one.txt", "Parus major\nNotus avis\n");
    CHECK(av_detect_pipeline_open("models", &oo, &p, err, sizeof err) == AV_DETECT_E_ARG);
    CHECK_MSG(strstr(err, "one.txt:2:") && strstr(err, "Notus avis"), "%s", err);
    oo.species_list = "atlantis";
    CHECK(av_detect_pipeline_open("models", &oo, &p, err, sizeof err) == AV_DETECT_E_ARG);
    CHECK_MSG(strstr(err, "sites/atlantis.txt"), "%s", err);
}

/* A named box of d's kind: rule, top species score, detector score. */
static av_detect_det box(av_detect_rule rule, float species, float det)
{
    av_detect_det d;
    memset(&d, 0, sizeof d);
    d.rule = rule;
    d.n_species = 1;
    d.species[0].score = species;
    d.det_score = det;
    return d;
}

TEST(settle_drops_unnamed_extras_and_orders_by_species)
{
    av_detect__manifest m;
    small_manifest(&m, "{\"extra_detector\": 0.4}");
    av_detect__answer a;
    char err[256];
    CHECK(av_detect__answer_init(&a, &m, err, sizeof err) == 0);
    CHECK_NEAR(a.extra_detector, 0.4, 1e-9);
    /* detector order: a weak unknown extra, a named bird, a sure unknown, a surer species */
    av_detect_det d[5] = {box(AV_DETECT_RULE_UNKNOWN, 0.2f, 0.39f),
                          box(AV_DETECT_RULE_SPECIES, 0.6f, 0.35f),
                          box(AV_DETECT_RULE_UNKNOWN, 0.3f, 0.41f),
                          box(AV_DETECT_RULE_GENUS, 0.4f, 0.3f),
                          box(AV_DETECT_RULE_SPECIES, 0.9f, 0.25f)};
    CHECK_EQ_INT(av_detect__answer_settle(&a, d, 5), 4);
    CHECK_NEAR(d[0].species[0].score, 0.9, 1e-6); /* the surest species first */
    CHECK_NEAR(d[1].species[0].score, 0.6, 1e-6);
    CHECK_NEAR(d[2].species[0].score, 0.4, 1e-6);
    CHECK_NEAR(d[3].species[0].score, 0.3, 1e-6); /* the unknown at 0.41 stays */
    /* with no named box, weak unknown boxes all stay (the only evidence of a bird) */
    av_detect_det u[2] = {box(AV_DETECT_RULE_UNKNOWN, 0.2f, 0.25f),
                          box(AV_DETECT_RULE_UNKNOWN, 0.3f, 0.2f)};
    CHECK_EQ_INT(av_detect__answer_settle(&a, u, 2), 2);
    CHECK_NEAR(u[0].det_score, 0.2, 1e-6);
    /* off (0): nothing dropped */
    av_detect_det o[2] = {box(AV_DETECT_RULE_SPECIES, 0.9f, 0.5f),
                          box(AV_DETECT_RULE_UNKNOWN, 0.1f, 0.2f)};
    a.extra_detector = 0;
    CHECK_EQ_INT(av_detect__answer_settle(&a, o, 2), 2);
    /* boxes without species go last, by detector score */
    av_detect_det n[3] = {box(AV_DETECT_RULE_NONE, 0, 0.3f), box(AV_DETECT_RULE_NONE, 0, 0.8f),
                          box(AV_DETECT_RULE_SPECIES, 0.1f, 0.2f)};
    n[0].n_species = n[1].n_species = 0;
    CHECK_EQ_INT(av_detect__answer_settle(&a, n, 3), 3);
    CHECK_EQ_INT(n[0].n_species, 1);
    CHECK_NEAR(n[1].det_score, 0.8, 1e-6);
    CHECK_NEAR(n[2].det_score, 0.3, 1e-6);
    av_detect__answer_free(&a);
    av_detect__manifest_free(&m);
}

TEST(whole_image_views_must_agree)
{
    av_detect__manifest m;
    small_manifest(&m, NULL);
    av_detect__answer a;
    char err[256];
    CHECK(av_detect__answer_init(&a, &m, err, sizeof err) == 0);
    CHECK_NEAR(a.whole_agree, AV_DETECT__ANSWER_WHOLE_AGREE, 1e-9);
    a.whole_agree = 0.4;
    CHECK_EQ_INT(av_detect__answer_views_agree(&a, 3, 0.6, 3, 0.45), 1);
    CHECK_EQ_INT(av_detect__answer_views_agree(&a, 3, 0.6, 2, 0.9), 0);  /* other species */
    CHECK_EQ_INT(av_detect__answer_views_agree(&a, 3, 0.6, 3, 0.39), 0); /* centre unsure */
    CHECK_EQ_INT(av_detect__answer_views_agree(&a, 3, 0.3, 3, 0.9), 0);  /* whole unsure */
    CHECK_EQ_INT(av_detect__answer_views_agree(&a, -1, 0.6, -1, 0.6), 0);
    a.whole_agree = 0;
    CHECK_EQ_INT(av_detect__answer_views_agree(&a, 3, 0.9, 3, 0.9), 0); /* off */
    /* the centre square: 0.8 of the shorter side, centred */
    int x1, y1, x2, y2;
    av_detect__answer_centre(1000, 500, &x1, &y1, &x2, &y2);
    CHECK(x1 == 300 && y1 == 50 && x2 == 700 && y2 == 450);
    av_detect__answer_centre(1, 1, &x1, &y1, &x2, &y2);
    CHECK(x1 == 0 && y1 == 0 && x2 == 1 && y2 == 1);
    av_detect__answer_free(&a);
    av_detect__manifest_free(&m);
}

TEST_MAIN(T(rules_name_species_genus_unknown_drop), T(rules_never_name_a_species_under_0_2),
          T(site_list_restricts_and_renormalises),
          T(site_list_refuses_unknown_names_with_their_line), T(shipped_site_lists_match_the_labels),
          T(binomials_and_synonyms), T(pipeline_opens_with_site_lists),
          T(settle_drops_unnamed_extras_and_orders_by_species), T(whole_image_views_must_agree))
