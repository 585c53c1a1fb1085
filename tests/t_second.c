/*
 * t_second.c - the ImageNet second opinion (src/detect/second.c): its
 * "second_opinion" rules parsed and refused, group sums, the veto rule,
 * the shipped manifest's groups against the ImageNet labels, a models
 * folder without the model running without a second opinion, and the
 * batched veto run giving each crop its own run's sums.
 */
#include "harness.h"

#include "detect/second.h"
#include "detect/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#define RULES(groups, extra) "{\"second_opinion\": {\"groups\": " groups extra "}}"
#define GROUPS "{\"bird\": [[1, 2], [5, 5]], \"artefact\": [[6, 9]]}"

static int parse(const char *text, int n, av_detect__second_rules *r, char *err, size_t errlen)
{
    return av_detect__second_rules_parse(text, strlen(text), n, r, err, errlen);
}

TEST(rules_parse_groups_and_thresholds)
{
    av_detect__second_rules r;
    char err[512];
    CHECK_MSG(parse(RULES(GROUPS, ", \"whole_image_min_bird\": 0.4, \"veto_max_bird\": 0.1, "
                                  "\"veto_min_artefact\": 0.5"),
                    10, &r, err, sizeof err) == 0,
              "%s", err);
    CHECK_EQ_INT(r.n_ranges[AV_DETECT__SECOND_BIRD], 2);
    CHECK(r.lo[AV_DETECT__SECOND_BIRD][1] == 5 && r.hi[AV_DETECT__SECOND_BIRD][1] == 5);
    CHECK(r.lo[AV_DETECT__SECOND_ARTEFACT][0] == 6 && r.hi[AV_DETECT__SECOND_ARTEFACT][0] == 9);
    CHECK_NEAR(r.rescue_min_bird, 0.4, 1e-9);
    CHECK_NEAR(r.veto_max_bird, 0.1, 1e-9);
    CHECK_NEAR(r.veto_min_artefact, 0.5, 1e-9);
    /* thresholds left out: both rules off */
    CHECK(parse(RULES(GROUPS, ""), 10, &r, err, sizeof err) == 0);
    CHECK(r.rescue_min_bird == 0 && r.veto_max_bird == 0);
}

TEST(rules_refused_with_the_field)
{
    av_detect__second_rules r;
    char err[512];
    /* a class past the model's outputs */
    CHECK(parse(RULES(GROUPS, ""), 9, &r, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "groups.artefact[0]"), "%s", err);
    /* first after last */
    CHECK(parse(RULES("{\"bird\": [[3, 2]], \"artefact\": [[6, 9]]}", ""), 10, &r, err,
                sizeof err) == -1);
    CHECK_MSG(strstr(err, "groups.bird[0]"), "%s", err);
    /* a group missing */
    CHECK(parse(RULES("{\"bird\": [[1, 2]]}", ""), 10, &r, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "groups.artefact"), "%s", err);
    /* a threshold outside [0, 1] */
    CHECK(parse(RULES(GROUPS, ", \"veto_max_bird\": 1.5"), 10, &r, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "veto_max_bird"), "%s", err);
    /* no second_opinion object at all, and not JSON */
    CHECK(parse("{\"name\": \"x\"}", 10, &r, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "second_opinion.groups"), "%s", err);
    CHECK(parse("{\"second_opinion\": ", 10, &r, err, sizeof err) == -1);
}

TEST(sums_and_veto)
{
    av_detect__second_rules r;
    char err[512];
    CHECK(parse(RULES(GROUPS, ", \"veto_max_bird\": 0.1, \"veto_min_artefact\": 0.5"), 10, &r,
                err, sizeof err) == 0);
    /* index:            0    1    2    3    4    5    6    7    8    9 */
    float drawing[10] = {0, .3f, .2f, 0, 0, .1f, .2f, 0, .2f, 0};
    float object[10] = {0, .02f, 0, .1f, 0, .03f, .5f, .1f, 0, .25f};
    float creature[10] = {0, .05f, 0, .9f, 0, 0, .05f, 0, 0, 0};
    av_detect__second_sums s;
    av_detect__second_sum(&r, drawing, 10, &s);
    CHECK_NEAR(s.group[AV_DETECT__SECOND_BIRD], 0.6, 1e-6);
    CHECK_NEAR(s.group[AV_DETECT__SECOND_ARTEFACT], 0.4, 1e-6);
    CHECK_EQ_INT(av_detect__second_vetoes(&r, &s), 0); /* a bird */
    av_detect__second_sum(&r, object, 10, &s);
    CHECK_NEAR(s.group[AV_DETECT__SECOND_BIRD], 0.05, 1e-6);
    CHECK_NEAR(s.group[AV_DETECT__SECOND_ARTEFACT], 0.85, 1e-6);
    CHECK_EQ_INT(av_detect__second_vetoes(&r, &s), 1); /* an object, not a bird */
    av_detect__second_sum(&r, creature, 10, &s);
    CHECK_EQ_INT(av_detect__second_vetoes(&r, &s), 0); /* not a bird, not an object either */
    r.veto_max_bird = 0;
    av_detect__second_sum(&r, object, 10, &s);
    CHECK_EQ_INT(av_detect__second_vetoes(&r, &s), 0); /* rule off */
}

/* The shipped manifest: the bird group holds exactly the label lines that
 * name birds we know, the artefact group none of them. */
TEST(shipped_groups_match_the_labels)
{
    if (access("models/imagenet.json", R_OK))
        SKIP("no models/imagenet.json");
    FILE *f = fopen("models/imagenet.json", "rb");
    CHECK(f);
    static char text[1 << 16];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    av_detect__second_rules r;
    char err[512];
    CHECK_MSG(av_detect__second_rules_parse(text, len, 1001, &r, err, sizeof err) == 0, "%s", err);
    CHECK(r.rescue_min_bird > 0 && r.veto_max_bird > 0 && r.veto_min_artefact > 0);
    const char *labels = av_test_shared("models/imagenet_mobilenet/imagenet_labels.txt");
    if (access(labels, R_OK))
        SKIP("no ImageNet label file in the shared folder");
    f = fopen(labels, "r");
    CHECK(f);
    char line[512];
    int i = 0, birds = 0, seen = 0;
    float one[1001];
    while (fgets(line, sizeof line, f) && i < 1001) {
        memset(one, 0, sizeof one);
        one[i] = 1;
        av_detect__second_sums s;
        av_detect__second_sum(&r, one, 1001, &s);
        int bird = s.group[AV_DETECT__SECOND_BIRD] > 0;
        birds += bird;
        CHECK_MSG(!(bird && s.group[AV_DETECT__SECOND_ARTEFACT] > 0), "line %d in both", i);
        if (strstr(line, "goldfinch") || strstr(line, "albatross") || !strcmp(line, "cock\n") ||
            strstr(line, "great grey owl") || strstr(line, "black grouse") ||
            strstr(line, "black swan") || strstr(line, "white stork")) {
            CHECK_MSG(bird, "line %d '%s' is not in the bird group", i, line);
            seen++;
        }
        if (strstr(line, "fox squirrel") || strstr(line, "golf ball") || strstr(line, "tench"))
            CHECK_MSG(!bird, "line %d '%s' is in the bird group", i, line);
        if (strstr(line, "golf ball") || strstr(line, "comic book"))
            CHECK_MSG(s.group[AV_DETECT__SECOND_ARTEFACT] > 0, "line %d '%s' not an artefact", i,
                      line);
        i++;
    }
    fclose(f);
    CHECK_EQ_INT(i, 1001);
    CHECK_EQ_INT(seen, 7);
    CHECK_EQ_INT(birds, 59); /* ImageNet's 59 bird classes */
}

/* A folder whose imagenet.json names a model file that is not there: no
 * second opinion and no error (today's behaviour); a broken manifest is
 * refused with its path. */
TEST(absent_model_is_no_second_opinion)
{
    char dir[1024], path[1100], err[512];
    snprintf(dir, sizeof dir, "%s", av_test_tmpdir());
    av_detect__second *s = (av_detect__second *)1;
    CHECK(av_detect__second_open(dir, &s, err, sizeof err) == AV_DETECT_OK && s == NULL);
    snprintf(path, sizeof path, "%s/imagenet.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("{\"name\": \"imagenet\", \"version\": \"1\", \"role\": \"classifier\", \"file\": "
          "\"none/missing.tflite\", \"format\": \"tflite\", \"input\": {\"width\": 8, "
          "\"height\": 8, \"layout\": \"NHWC\", \"normalise\": \"0..255\", \"resize\": "
          "\"stretch\", \"filter\": \"area\"}, \"output\": {\"kind\": \"classifier\"}, "
          "\"labels\": [\"a\", \"b\"]}",
          f);
    fclose(f);
    s = (av_detect__second *)1;
    CHECK_MSG(av_detect__second_open(dir, &s, err, sizeof err) == AV_DETECT_OK, "%s", err);
    CHECK(s == NULL);
    /* the model file there but its label file not (a models folder copied without it) */
    char model[1200];
    snprintf(model, sizeof model, "%s/m.tflite", dir);
    f = fopen(model, "w");
    CHECK(f);
    fputs("not a model", f);
    fclose(f);
    f = fopen(path, "w");
    CHECK(f);
    fputs("{\"name\": \"imagenet\", \"version\": \"1\", \"role\": \"classifier\", \"file\": "
          "\"m.tflite\", \"format\": \"tflite\", \"input\": {\"width\": 8, "
          "\"height\": 8, \"layout\": \"NHWC\", \"normalise\": \"0..255\", \"resize\": "
          "\"stretch\", \"filter\": \"area\"}, \"output\": {\"kind\": \"classifier\"}, "
          "\"labels\": {\"file\": \"labels.txt\"}}",
          f);
    fclose(f);
    s = (av_detect__second *)1;
    CHECK_MSG(av_detect__second_open(dir, &s, err, sizeof err) == AV_DETECT_OK, "%s", err);
    CHECK(s == NULL);
    /* both there, the model file broken: refused, naming it */
    snprintf(model, sizeof model, "%s/labels.txt", dir);
    f = fopen(model, "w");
    CHECK(f);
    fputs("a\nb\n", f);
    fclose(f);
    CHECK(av_detect__second_open(dir, &s, err, sizeof err) != AV_DETECT_OK && s == NULL);
    CHECK_MSG(strstr(err, "m.tflite"), "%s", err);
    f = fopen(path, "w");
    CHECK(f);
    fputs("{\"name\": ", f);
    fclose(f);
    CHECK(av_detect__second_open(dir, &s, err, sizeof err) != AV_DETECT_OK && s == NULL);
    CHECK_MSG(strstr(err, "imagenet.json"), "%s", err);
    /* the installed one opens when its model file is there */
    if (access("models/imagenet_mobilenet/mobilenet_v2_1.0_224_quant.tflite", R_OK))
        SKIP("ImageNet model not installed (scripts/setup)");
    CHECK_MSG(av_detect__second_open("models", &s, err, sizeof err) == AV_DETECT_OK, "%s", err);
    CHECK(s != NULL);
    CHECK_NEAR(av_detect__second_rules_of(s)->rescue_min_bird, 0.4, 1e-9);
    av_detect__second_close(s);
}

static void read_text(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    CHECK_MSG(f, "cannot open %s", path);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

/* The checksum `aviary doctor` checks the model file against is the one
 * scripts/setup installs it by; why a model is absent is said; a manifest
 * checksum that is not 64 hex digits is refused. */
TEST(manifest_checksum_and_absent_reason)
{
    static char manifest[16384], setup[16384];
    read_text("models/imagenet.json", manifest, sizeof manifest);
    read_text("scripts/setup", setup, sizeof setup);
    const char *m = strstr(manifest, "\"sha256\": \""), *u = strstr(setup, "IMAGENET_SHA256=\"");
    CHECK(m && u);
    CHECK_MSG(!strncmp(m + 11, u + 17, 64), "models/imagenet.json: %.64s, scripts/setup: %.64s",
              m + 11, u + 17);
    char dir[1024], path[1100], note[512], err[512];
    snprintf(dir, sizeof dir, "%s/why", av_test_tmpdir());
    mkdir(dir, 0755);
    av_detect__second_absent_why(dir, note, sizeof note);
    CHECK_STR_CONTAINS(note, "imagenet.json is absent");
    snprintf(path, sizeof path, "%s/imagenet.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("{\"file\": \"none/missing.tflite\"}", f);
    fclose(f);
    av_detect__second_absent_why(dir, note, sizeof note);
    CHECK_STR_CONTAINS(note, "not installed");
    /* the installed model with a broken checksum in its manifest */
    if (access("models/imagenet_mobilenet/mobilenet_v2_1.0_224_quant.tflite", R_OK))
        SKIP("ImageNet model not installed (scripts/setup)");
    char *h = strstr(manifest, "\"sha256\": \"");
    h[11] = 'X';
    char abs[1100];
    snprintf(abs, sizeof abs, "%s/imagenet.json", dir);
    /* the model file path is relative to the manifest: link it in */
    char target[1200], link[1200];
    CHECK(realpath("models/imagenet_mobilenet", target));
    snprintf(link, sizeof link, "%s/imagenet_mobilenet", dir);
    CHECK(symlink(target, link) == 0);
    f = fopen(abs, "w");
    CHECK(f);
    fputs(manifest, f);
    fclose(f);
    av_detect__second *s = (av_detect__second *)1;
    CHECK(av_detect__second_open(dir, &s, err, sizeof err) != AV_DETECT_OK && s == NULL);
    CHECK_STR_CONTAINS(err, "sha256");
}

/* The veto's batched run (av_detect__second_fill + _run_n on a context for n
 * crops, the pipeline's one run for a photo's boxes) gives each crop the
 * group sums of its own run, bit for bit: random crops, 3 and 2 a run. */
TEST(batched_sums_equal_one_by_one)
{
    if (access("models/imagenet_mobilenet/mobilenet_v2_1.0_224_quant.tflite", R_OK))
        SKIP("ImageNet model not installed (scripts/setup)");
    char err[512];
    av_detect__second *s = NULL;
    CHECK_MSG(av_detect__second_open("models", &s, err, sizeof err) == AV_DETECT_OK && s, "%s",
              err);
    av_detect__second_ctx *c = NULL;
    CHECK(av_detect__second_ctx_new(s, NULL, 1, &c, err, sizeof err) == AV_DETECT_OK);
    int sw, sh;
    av_detect__second_input_size(s, &sw, &sh);
    size_t bytes = (size_t)sw * sh * 3;
    uint8_t *px = malloc(3 * bytes);
    unsigned r = 17;
    for (size_t i = 0; i < 3 * bytes; i++) /* smooth-ish noise, a different image each */
        px[i] = (uint8_t)(((i / 3) % (size_t)sw * (i / bytes + 2) +
                           ((r = r * 1103515245u + 12345u) >> 27)) & 255);
    for (int n = 3; n >= 2; n--) {
        av_nn_ctx *bc = NULL;
        av_nn_ctx_opts co = {.threads = 1, .backend = AV_NN_BACKEND_XNNPACK, .batch = n};
        CHECK_MSG(av_nn_ctx_new(av_detect__second_nn(s), &co, &bc, err, sizeof err) == AV_NN_OK,
                  "%s", err);
        void **in = av_detect__bufs_alloc(av_detect__second_nn(s), 1, (size_t)n);
        void **out = av_detect__bufs_alloc(av_detect__second_nn(s), 0, (size_t)n);
        CHECK(in && out);
        av_detect__second_sums one[3], all[3];
        for (int j = 0; j < n; j++) {
            CHECK(av_detect__second_run(s, c, px + (size_t)j * bytes, &one[j], err, sizeof err) ==
                  0);
            av_detect__second_fill(s, px + (size_t)j * bytes, in, n - 1 - j); /* reversed */
        }
        CHECK(av_detect__second_run_n(s, c, bc, in, out, n, all, err, sizeof err) == 0);
        for (int j = 0; j < n; j++)
            for (int g = 0; g < AV_DETECT__SECOND_GROUPS; g++)
                CHECK_MSG(one[j].group[g] == all[n - 1 - j].group[g],
                          "batch %d crop %d group %d: %.9f vs %.9f", n, j, g, one[j].group[g],
                          all[n - 1 - j].group[g]);
        CHECK(one[0].group[0] != one[1].group[0] || one[0].group[1] != one[1].group[1]);
        av_detect__bufs_free(in, av_nn_num_inputs(av_detect__second_nn(s)));
        av_detect__bufs_free(out, av_nn_num_outputs(av_detect__second_nn(s)));
        av_nn_ctx_free(bc);
    }
    free(px);
    av_detect__second_ctx_free(c);
    av_detect__second_close(s);
}

TEST_MAIN(T(batched_sums_equal_one_by_one), T(rules_parse_groups_and_thresholds),
          T(rules_refused_with_the_field), T(sums_and_veto),
          T(shipped_groups_match_the_labels), T(absent_model_is_no_second_opinion),
          T(manifest_checksum_and_absent_reason))
