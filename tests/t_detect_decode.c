/*
 * t_detect_decode.c - detector decoding, NMS and manifests without the
 * engine: the reference raw tensors of bird.bmp (../shared/reference/tfjs)
 * go through our decoders and must give the reference detections.
 */
#include "harness.h"

#include "detect/decode.h"
#include "detect/detect.h"
#include "detect/manifest.h"
#include "nn/nn.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REF "reference/tfjs/reference/"

/* Loaded reference tensors of one model (outputs only). */
typedef struct ref_set {
    int n;
    av_detect__tensor t[8];
    char names[8][64];
    float *bufs[8];
} ref_set;

static float *read_f32(const char *path, size_t count)
{
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f, "cannot open %s", path);
    float *buf = malloc(count * sizeof *buf);
    CHECK(buf);
    size_t got = fread(buf, sizeof *buf, count, f);
    CHECK_MSG(got == count && fgetc(f) == EOF, "%s: expected %zu floats", path, count);
    fclose(f);
    return buf;
}

static void load_ref(const char *model, ref_set *rs)
{
    char rel[256], dir[512];
    snprintf(rel, sizeof rel, REF "%s/tensors/bird.bmp.tensors.json", model);
    const char *jpath = av_test_shared(rel);
    snprintf(dir, sizeof dir, "%s", jpath);
    *strrchr(dir, '/') = '\0';
    json_error_t je;
    json_t *root = json_load_file(jpath, 0, &je);
    CHECK_MSG(root, "%s: %s", jpath, je.text);
    memset(rs, 0, sizeof *rs);
    json_t *files = json_object_get(root, "files");
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "role")), "output") != 0)
            continue;
        CHECK(rs->n < 8);
        av_detect__tensor *t = &rs->t[rs->n];
        json_t *shape = json_object_get(f, "shape");
        t->rank = (int)json_array_size(shape);
        size_t count = 1;
        for (int d = 0; d < t->rank; d++) {
            t->dims[d] = json_integer_value(json_array_get(shape, (size_t)d));
            count *= (size_t)t->dims[d];
        }
        char path[768];
        snprintf(path, sizeof path, "%s/%s", dir, json_string_value(json_object_get(f, "file")));
        rs->bufs[rs->n] = read_f32(path, count);
        t->data = rs->bufs[rs->n];
        snprintf(rs->names[rs->n], 64, "%s", json_string_value(json_object_get(f, "name")));
        rs->n++;
    }
    json_decref(root);
}

static void free_ref(ref_set *rs)
{
    for (int i = 0; i < rs->n; i++)
        free(rs->bufs[i]);
}

static json_t *load_ref_json(const char *model, const char *key)
{
    char rel[256];
    snprintf(rel, sizeof rel, REF "%s/bird.bmp.json", model);
    json_error_t je;
    json_t *root = json_load_file(av_test_shared(rel), 0, &je);
    CHECK_MSG(root, "%s: %s", rel, je.text);
    json_t *v = json_incref(json_object_get(root, key));
    json_decref(root);
    CHECK_MSG(json_is_array(v), "%s has no %s", rel, key);
    return v;
}

static void cfg_from_manifest(const av_detect__manifest *m, av_detect__dcfg *cfg, int img_w,
                              int img_h)
{
    *cfg = (av_detect__dcfg){
        .min_score = m->min_score,
        .nms_iou = m->nms_iou,
        .max_out = m->max_dets,
        .skip = m->skip,
        .n_skip = m->n_skip,
        .n_classes = m->n_labels,
        .in_w = m->in_w,
        .in_h = m->in_h,
        .map_w = img_w,
        .map_h = img_h,
        .box_scale = m->box_scale,
        .base_grid = m->base_grid,
    };
}

static void check_against(const av_detect__box *got, int n, json_t *ref)
{
    CHECK_EQ_INT(n, json_array_size(ref));
    for (int i = 0; i < n; i++) {
        json_t *d = json_array_get(ref, (size_t)i);
        CHECK_EQ_INT(got[i].cls, json_integer_value(json_object_get(d, "class_index")));
        /* the score is the raw float32 output: exact */
        CHECK_EQ_INT(got[i].score == (float)json_number_value(json_object_get(d, "score")), 1);
        json_t *box = json_object_get(d, "box");
        double want[4];
        for (int k = 0; k < 4; k++)
            want[k] = json_number_value(json_array_get(box, (size_t)k));
        CHECK_NEAR(got[i].x1, want[0], 1e-9);
        CHECK_NEAR(got[i].y1, want[1], 1e-9);
        CHECK_NEAR(got[i].x2, want[2], 1e-9);
        CHECK_NEAR(got[i].y2, want[3], 1e-9);
    }
}

TEST(nanodet_matches_reference_bird)
{
    av_detect__manifest m;
    char err[512];
    CHECK_MSG(av_detect__manifest_load("models/nanodet.json", &m, err, sizeof err) == 0, "%s", err);
    ref_set rs;
    load_ref("nanodet", &rs);
    CHECK_EQ_INT(rs.n, 6);
    av_detect__dcfg cfg;
    cfg_from_manifest(&m, &cfg, 512, 343);
    av_detect__box out[10];
    int n = av_detect__decode_nanodet(rs.t, rs.n, &cfg, out, err, sizeof err);
    CHECK_MSG(n >= 0, "%s", err);
    json_t *ref = load_ref_json("nanodet", "detections_nms_xyxy");
    check_against(out, n, ref);
    CHECK_EQ_INT(out[0].level_grid, 13);
    CHECK_EQ_INT(out[0].cell, 97);
    json_decref(ref);

    /* Order of the outputs must not matter (matched by shape). */
    av_detect__tensor rev[6];
    for (int i = 0; i < 6; i++)
        rev[i] = rs.t[5 - i];
    av_detect__box out2[10];
    CHECK_EQ_INT(av_detect__decode_nanodet(rev, 6, &cfg, out2, err, sizeof err), n);
    CHECK(memcmp(out, out2, (size_t)n * sizeof *out) == 0);

    /* A missing level is an error naming the shape, not a crash. */
    CHECK_EQ_INT(av_detect__decode_nanodet(rs.t, 5, &cfg, out2, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "nanodet: no");
    free_ref(&rs);
    av_detect__manifest_free(&m);
}

/* With a low threshold many candidates survive NMS: every kept pair must
 * overlap less than the threshold, and scores must be non-increasing. */
TEST(nanodet_low_threshold_is_consistent)
{
    av_detect__manifest m;
    char err[512];
    CHECK_MSG(av_detect__manifest_load("models/nanodet.json", &m, err, sizeof err) == 0, "%s", err);
    ref_set rs;
    load_ref("nanodet", &rs);
    av_detect__dcfg cfg;
    cfg_from_manifest(&m, &cfg, 512, 343);
    cfg.min_score = 0.01;
    cfg.max_out = 100;
    av_detect__box out[100];
    int n = av_detect__decode_nanodet(rs.t, rs.n, &cfg, out, err, sizeof err);
    CHECK_MSG(n > 5, "only %d boxes at 0.01: %s", n, err);
    for (int i = 0; i < n; i++) {
        CHECK(out[i].cls != 61);
        /* x, y, w, h are clamped to [0,1] one by one (as Human), so x2 may pass the edge */
        CHECK(out[i].x1 >= 0 && out[i].y1 >= 0 && out[i].x2 >= out[i].x1 && out[i].y2 >= out[i].y1);
        if (i)
            CHECK(out[i].score <= out[i - 1].score);
    }
    CHECK_EQ_INT(out[0].cls, 14);
    free_ref(&rs);
    av_detect__manifest_free(&m);
}

TEST(centernet_matches_reference_bird)
{
    av_detect__manifest m;
    char err[512];
    CHECK_MSG(av_detect__manifest_load("models/centernet.json", &m, err, sizeof err) == 0, "%s",
              err);
    ref_set rs;
    load_ref("centernet", &rs);
    const av_detect__tensor *det = NULL;
    for (int i = 0; i < rs.n; i++)
        if (!strcmp(rs.names[i], m.output_name))
            det = &rs.t[i];
    CHECK_MSG(det, "no %s among the reference tensors", m.output_name);
    av_detect__dcfg cfg;
    cfg_from_manifest(&m, &cfg, 512, 343);
    av_detect__box out[10];
    int n = av_detect__decode_centernet(det, &cfg, out, err, sizeof err);
    CHECK_MSG(n >= 0, "%s", err);
    json_t *ref = load_ref_json("centernet", "detections");
    check_against(out, n, ref);
    json_decref(ref);
    /* wrong shape -> error */
    CHECK_EQ_INT(av_detect__decode_centernet(&rs.t[0], &cfg, out, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "[1,N,6]");
    free_ref(&rs);
    av_detect__manifest_free(&m);
}

/* Synthetic NanoDet outputs: one bird at a known cell and bins. */
TEST(nanodet_synthetic_box_and_skip)
{
    enum { C = 80, B = 11 };
    static const int grids[3] = {13, 26, 52};
    float *sc[3], *bx[3];
    av_detect__tensor t[6];
    for (int l = 0; l < 3; l++) {
        int cells = grids[l] * grids[l];
        sc[l] = calloc((size_t)cells * C, sizeof(float));
        bx[l] = calloc((size_t)cells * 4 * B, sizeof(float));
        CHECK(sc[l] && bx[l]);
        t[2 * l] = (av_detect__tensor){sc[l], 3, {1, cells, C}};
        t[2 * l + 1] = (av_detect__tensor){bx[l], 3, {1, cells, 4 * B}};
    }
    /* grid 26 (s = 2), cell gx=10, gy=5: centre (10.5/26, 5.5/26) */
    int cell = 5 * 26 + 10;
    sc[1][cell * C + 14] = 0.9f;
    sc[1][cell * C + 61] = 0.95f; /* toilet: skipped before NMS, must not suppress the bird */
    int bins[4] = {2, 3, 4, 5};
    for (int s = 0; s < 4; s++) {
        bx[1][(cell * 4 + s) * B + bins[s]] = 1.0f;
        bx[1][(cell * 4 + s) * B + bins[s] + 1] = 1.0f; /* tie: the first maximum wins */
    }
    av_detect__dcfg cfg = {.min_score = 0.2, .nms_iou = 0.4, .max_out = 10, .skip = (int[]){61},
                           .n_skip = 1, .n_classes = C, .in_w = 416, .in_h = 416, .map_w = 1000,
                           .map_h = 500, .box_scale = 2.5, .base_grid = 13};
    av_detect__box out[10];
    char err[256];
    int n = av_detect__decode_nanodet(t, 6, &cfg, out, err, sizeof err);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(out[0].cls, 14);
    double k = 2.5 / 2 * (13.0 / 416); /* normalised units per bin at s = 2 */
    double cx = 10.5 / 26, cy = 5.5 / 26;
    CHECK_NEAR(out[0].x1, (cx - 2 * k) * 1000, 1e-9);
    CHECK_NEAR(out[0].y1, (cy - 3 * k) * 500, 1e-9);
    CHECK_NEAR(out[0].x2, (cx + 4 * k) * 1000, 1e-9);
    CHECK_NEAR(out[0].y2, (cy + 5 * k) * 500, 1e-9);
    /* without the skip list the toilet wins and suppresses the bird (same box) */
    cfg.n_skip = 0;
    n = av_detect__decode_nanodet(t, 6, &cfg, out, err, sizeof err);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(out[0].cls, 61);
    for (int l = 0; l < 3; l++)
        free(sc[l]), free(bx[l]);
}

TEST(nms_tfjs_semantics)
{
    /* boxes as [y1,x1,y2,x2] */
    float boxes[] = {
        0, 0, 10, 10,  /* 0: score .5 */
        0, 0, 10, 10,  /* 1: score .5 (tie with 0: lower index first) */
        0, 0, 10, 10,  /* 2: score .9 */
        0, 20, 10, 30, /* 3: no overlap, score .3 */
        0, 0, 10, 6,   /* 4: IoU with 2 = 0.6 */
        5, 5, 5, 9,    /* 5: zero area: IoU 0, never suppressed */
        0, 40, 10, 50, /* 6: score exactly at threshold: not a candidate */
    };
    float scores[] = {0.5f, 0.5f, 0.9f, 0.3f, 0.8f, 0.7f, 0.25f};
    int keep[7];
    int n = av_detect__nms(boxes, scores, 7, 0.25f, 0.6, 7, keep);
    /* 2 kept; 4 has IoU 0.6 >= 0.6 -> dropped; 5 kept (zero area); 0 dropped by 2; 3 kept */
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(keep[0], 2);
    CHECK_EQ_INT(keep[1], 5);
    CHECK_EQ_INT(keep[2], 3);
    /* slightly higher threshold keeps 4 */
    n = av_detect__nms(boxes, scores, 7, 0.2, 0.61, 7, keep);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(keep[1], 4);
    CHECK_EQ_INT(keep[4], 6);
    /* ties: without 2, box 0 (lower index) beats 1 */
    scores[2] = 0.0f;
    n = av_detect__nms(boxes, scores, 7, 0.2, 0.5, 1, keep);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(keep[0], 4);
    scores[4] = 0.0f;
    n = av_detect__nms(boxes, scores, 7, 0.2, 0.5, 2, keep);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(keep[0], 5);
    CHECK_EQ_INT(keep[1], 0);
    /* NaN scores are never candidates */
    scores[0] = NAN;
    n = av_detect__nms(boxes, scores, 2, 0.0, 0.5, 2, keep);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(keep[0], 1);
}

static av_detect_status parse(const char *json, char *err)
{
    av_detect__manifest m;
    av_detect_status st =
        av_detect__manifest_parse(json, strlen(json), "models", "test.json", &m, err, 512);
    av_detect__manifest_free(&m);
    return st;
}

#define GOOD_HEAD                                                                           \
    "{\"name\":\"x\",\"version\":\"1\",\"role\":\"detector\",\"file\":\"x/m.json\",\"format\":" \
    "\"tfjs\","
#define GOOD_INPUT                                                                        \
    "\"input\":{\"width\":8,\"height\":8,\"layout\":\"NHWC\",\"normalise\":\"0..255\"," \
    "\"resize\":\"stretch\",\"filter\":\"tf_bilinear\"},"

/* "precision": float by default, "int8" with a calibration path resolved
 * like "file" (default NAME.int8.calib), anything else refused by name. */
TEST(manifest_precision)
{
#define PREC_TAIL GOOD_INPUT "\"output\":{\"kind\":\"nanodet\"},\"labels\":[\"a\",\"bird\"]," \
                             "\"classes\":{\"keep\":[1]}}"
    char err[512];
    av_detect__manifest m;
    const char *j = GOOD_HEAD PREC_TAIL;
    CHECK_EQ_INT(av_detect__manifest_parse(j, strlen(j), "models", "t.json", &m, err, 512), 0);
    CHECK_EQ_INT(m.precision, AV_DETECT__FLOAT);
    CHECK_STR_EQ(m.calib_path, "");
    av_detect__manifest_free(&m);
    j = GOOD_HEAD "\"precision\":\"int8\"," PREC_TAIL;
    CHECK_EQ_INT(av_detect__manifest_parse(j, strlen(j), "models", "t.json", &m, err, 512), 0);
    CHECK_EQ_INT(m.precision, AV_DETECT__INT8);
    CHECK_STR_EQ(m.calib_path, "models/x.int8.calib");
    av_detect__manifest_free(&m);
    j = GOOD_HEAD "\"precision\":\"int8\",\"calibration\":\"c/x.calib\"," PREC_TAIL;
    CHECK_EQ_INT(av_detect__manifest_parse(j, strlen(j), "models", "t.json", &m, err, 512), 0);
    CHECK_STR_EQ(m.calib_path, "models/c/x.calib");
    av_detect__manifest_free(&m);
    CHECK_EQ_INT(parse(GOOD_HEAD "\"precision\":\"float\"," PREC_TAIL, err), AV_DETECT_OK);
    CHECK_EQ_INT(parse(GOOD_HEAD "\"precision\":\"fp16\"," PREC_TAIL, err),
                 AV_DETECT_E_MANIFEST);
    CHECK_MSG(strstr(err, "precision: 'fp16' is not one of float, int8"), "%s", err);
    CHECK_EQ_INT(parse(GOOD_HEAD "\"precision\":8," PREC_TAIL, err), AV_DETECT_E_MANIFEST);
    CHECK_MSG(strstr(err, "precision: must be a string"), "%s", err);
    CHECK_EQ_INT(parse(GOOD_HEAD "\"calibration\":\"x.calib\"," PREC_TAIL, err),
                 AV_DETECT_E_MANIFEST);
    CHECK_MSG(strstr(err, "calibration: only read with"), "%s", err);
    CHECK_EQ_INT(parse(GOOD_HEAD "\"precision\":\"int8\",\"calibration\":\"../x\"," PREC_TAIL,
                       err),
                 AV_DETECT_E_MANIFEST);
    CHECK_MSG(strstr(err, "calibration: '../x' must be a relative path"), "%s", err);
#undef PREC_TAIL
}

/* `aviary model quantize`'s calibration: one photo through CenterNet gives
 * a table the engine quantises the model with; an empty folder is refused. */
TEST(calibrate_detector)
{
    if (access("models/human/centernet.json", R_OK) != 0)
        SKIP("models/human missing (run scripts/setup)");
    char bird[4096];
    CHECK(realpath(av_test_shared("testdata/images/bird.bmp"), bird));
    char dir[1024], photo[1100], table[1100], used[1100], err[512];
    snprintf(dir, sizeof dir, "%s/photos", av_test_tmpdir());
    CHECK(mkdir(dir, 0700) == 0);
    int n = -1;
    CHECK_EQ_INT(av_detect_calibrate("models/centernet.json", dir, NULL, used, sizeof used, &n,
                                     err, sizeof err),
                 AV_DETECT_E_ARG);
    CHECK_MSG(strstr(err, "no .jpg/.jpeg/.png/.bmp photos"), "%s", err);
    snprintf(photo, sizeof photo, "%s/bird.bmp", dir);
    CHECK(symlink(bird, photo) == 0);
    snprintf(table, sizeof table, "%s/c.calib", av_test_tmpdir());
    CHECK_MSG(av_detect_calibrate("models/centernet.json", dir, table, used, sizeof used, &n, err,
                                  sizeof err) == AV_DETECT_OK,
              "%s", err);
    CHECK_EQ_INT(n, 1);
    CHECK_STR_EQ(used, table);
    av_nn_model *m = NULL;
    CHECK(av_nn_load("models/human/centernet.json", &m, err, sizeof err) == AV_NN_OK);
    av_nn_quant_report r;
    CHECK_MSG(av_nn_model_quantize(m, table, &r, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK(r.quantised >= 45); /* 50 of 89: convs with a fused hard-swish stay float */
    av_nn_model_free(m);
}

TEST(manifest_validation)
{
    char err[512];
    CHECK_EQ_INT(parse(GOOD_HEAD GOOD_INPUT "\"output\":{\"kind\":\"nanodet\"},"
                                            "\"labels\":[\"a\",\"bird\"],\"classes\":{\"keep\":[1]}}",
                       err),
                 AV_DETECT_OK);
    CHECK_EQ_INT(parse(GOOD_HEAD "\"input\":{\"width\":8,\"height\":8,\"layout\":\"NHWD\","
                                 "\"normalise\":\"0..255\",\"resize\":\"stretch\",\"filter\":"
                                 "\"area\"},\"output\":{\"kind\":\"nanodet\"},\"labels\":[\"a\"]}",
                       err),
                 AV_DETECT_E_MANIFEST);
    CHECK_STR_CONTAINS(err, "test.json: input.layout: 'NHWD' is not one of NHWC, NCHW");
    CHECK_EQ_INT(parse(GOOD_HEAD GOOD_INPUT "\"output\":{\"kind\":\"nanodet\"},"
                                            "\"labels\":[\"a\"],\"classes\":{\"keep\":[3]}}",
                       err),
                 AV_DETECT_E_MANIFEST);
    CHECK_STR_CONTAINS(err, "classes.keep[0]: must be a class index in [0, 1)");
    CHECK_EQ_INT(parse(GOOD_HEAD GOOD_INPUT "\"output\":{\"kind\":\"classifier\"},"
                                            "\"labels\":[\"a\"],\"classes\":{\"keep\":[0]}}",
                       err),
                 AV_DETECT_E_MANIFEST);
    CHECK_STR_CONTAINS(err, "does not fit role 'detector'");
    CHECK_EQ_INT(parse("{\"name\":\"x\",\"version\":\"1\",\"role\":\"detector\",\"file\":"
                       "\"../etc/passwd\",\"format\":\"tfjs\"}",
                       err),
                 AV_DETECT_E_MANIFEST);
    CHECK_STR_CONTAINS(err, "file: '../etc/passwd' must be a relative path");
    CHECK_EQ_INT(parse("{\"name\":\"x\"", err), AV_DETECT_E_MANIFEST);
    CHECK_STR_CONTAINS(err, "test.json: line 1");
    CHECK_EQ_INT(parse(GOOD_HEAD GOOD_INPUT "\"output\":{\"kind\":\"nanodet\"},\"labels\":[\"a\"],"
                                            "\"classes\":{\"keep\":[0]},"
                                            "\"thresholds\":{\"nms_iou\":1.5}}",
                       err),
                 AV_DETECT_E_MANIFEST);
    CHECK_STR_CONTAINS(err, "thresholds.nms_iou: 1.5 is outside [0, 1]");
    CHECK_EQ_INT(parse(GOOD_HEAD "\"input\":{\"width\":0,\"height\":8}}", err),
                 AV_DETECT_E_MANIFEST);
    CHECK_STR_CONTAINS(err, "input.width: 0 is outside");
}

TEST(shipped_manifests_load)
{
    av_detect__manifest m;
    char err[512];
    CHECK_MSG(av_detect__manifest_load("models/centernet.json", &m, err, sizeof err) == 0, "%s",
              err);
    CHECK_EQ_INT(m.n_labels, 80);
    CHECK_STR_EQ(m.labels[14], "bird");
    CHECK_EQ_INT(m.kind, AV_DETECT__CENTERNET);
    CHECK_STR_EQ(m.path, "models/human/centernet.json");
    CHECK_EQ_INT(av_detect__manifest_keeps(&m, 14, 0), 1);
    CHECK_EQ_INT(av_detect__manifest_keeps(&m, 0, 0), 0);
    CHECK_EQ_INT(av_detect__manifest_keeps(&m, 0, 1), 1);
    av_detect__manifest_free(&m);
    CHECK_MSG(av_detect__manifest_load("models/nanodet.json", &m, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(m.layout, AV_DETECT__NCHW);
    CHECK_NEAR(m.std[0], 255.0, 0);
    CHECK_EQ_INT(av_detect__manifest_keeps(&m, 61, 1), 0);
    av_detect__manifest_free(&m);
    /* The classifier's label file lives with the (git-ignored) model. */
    FILE *f = fopen("models/inat_bird/inat_bird_labels.txt", "r");
    if (!f)
        SKIP("models/inat_bird not fetched (run scripts/setup)");
    fclose(f);
    CHECK_MSG(av_detect__manifest_load("models/inat_bird.json", &m, err, sizeof err) == 0, "%s",
              err);
    CHECK_EQ_INT(m.n_labels, 965);
    CHECK_STR_EQ(m.labels[m.background], "background");
    CHECK_EQ_INT(m.background, 964);
    CHECK_EQ_INT(m.role, AV_DETECT__CLASSIFIER);
    av_detect__manifest_free(&m);
}

TEST(missing_manifest_names_file)
{
    av_detect__manifest m;
    char err[512];
    CHECK_EQ_INT(av_detect__manifest_load("models/nope.json", &m, err, sizeof err),
                 AV_DETECT_E_IO);
    CHECK_STR_CONTAINS(err, "models/nope.json");
}

TEST(split_label)
{
    char s[AV_DETECT_NAME_MAX], c[AV_DETECT_NAME_MAX];
    av_detect_split_label("Ara macao (Scarlet Macaw)", s, sizeof s, c, sizeof c);
    CHECK_STR_EQ(s, "Ara macao");
    CHECK_STR_EQ(c, "Scarlet Macaw");
    av_detect_split_label("Haemorhous cassinii (Cassin's Finch)", s, sizeof s, c, sizeof c);
    CHECK_STR_EQ(c, "Cassin's Finch");
    av_detect_split_label("background", s, sizeof s, c, sizeof c);
    CHECK_STR_EQ(s, "background");
    CHECK_STR_EQ(c, "");
    av_detect_split_label("Foo (bar) baz", s, sizeof s, c, sizeof c);
    CHECK_STR_EQ(s, "Foo (bar) baz");
    CHECK_STR_EQ(c, "");
    char tiny[4];
    av_detect_split_label("Ara macao (Scarlet Macaw)", tiny, sizeof tiny, c, sizeof c);
    CHECK_STR_EQ(tiny, "Ara");
}

TEST_MAIN(T(nanodet_matches_reference_bird), T(nanodet_low_threshold_is_consistent),
          T(centernet_matches_reference_bird), T(nanodet_synthetic_box_and_skip),
          T(nms_tfjs_semantics), T(manifest_validation), T(manifest_precision), T(calibrate_detector), T(shipped_manifests_load),
          T(missing_manifest_names_file), T(split_label))
