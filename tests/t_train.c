/*
 * t_train.c - closing the loop: head files (round trip, hostile files), a
 * version carrying the base head answers as the base model does (the
 * pipeline's head path), `model promote` swaps a model server under
 * predict load with zero failed requests, and the simulation on
 * ../shared/eval/birds (a lean subset: 4 photos of a species at most) with
 * its lineage in ML Metadata.
 */
#include "harness.h"
#include "detect_fixture.h"
#include "http.h"

#include "log/log.h"
#include "serving/serving.h"
#include "store/store.h"
#include "train/train.h"

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

TEST(head_file_round_trip_and_hostile_files)
{
    float w[6] = {1, -2, 3.5f, 0, 1e-3f, -7}, b[3] = {0.5f, -1, 2};
    av_detect_head h = {.n_classes = 3, .dim = 2, .w = w, .b = b}, g;
    char path[600], err[512];
    snprintf(path, sizeof path, "%s/head.bin", av_test_tmpdir());
    CHECK(av_detect_head_save(path, &h, err, sizeof err) == AV_DETECT_OK);
    CHECK_MSG(av_detect_head_load(path, &g, err, sizeof err) == AV_DETECT_OK, "%s", err);
    CHECK_EQ_INT(g.n_classes, 3);
    CHECK_EQ_INT(g.dim, 2);
    CHECK(!memcmp(g.w, w, sizeof w) && !memcmp(g.b, b, sizeof b));
    float x[2] = {2, 1}, logit[3];
    av_detect_head_logits(&g, x, logit);
    CHECK_NEAR(logit[0], 0.5 + 2 - 2, 1e-6);
    CHECK_NEAR(logit[2], 2 + 2e-3 - 7, 1e-6);
    av_detect_head_free(&g);

    size_t n;
    unsigned char *bytes = av_test_read_file(path, &n);
    av_test_write_file(path, bytes, n - 1); /* truncated */
    CHECK(av_detect_head_load(path, &g, err, sizeof err) == AV_DETECT_E_MODEL);
    CHECK_STR_CONTAINS(err, "bytes");
    unsigned char *bad = malloc(n);
    memcpy(bad, bytes, n);
    memset(bad + 16, 0xff, 4); /* a NaN weight */
    av_test_write_file(path, bad, n);
    CHECK(av_detect_head_load(path, &g, err, sizeof err) == AV_DETECT_E_MODEL);
    CHECK_STR_CONTAINS(err, "finite");
    memcpy(bad, bytes, n);
    bad[8] = 0xff, bad[9] = 0xff, bad[10] = 0xff, bad[11] = 0x7f; /* 2^31 classes */
    av_test_write_file(path, bad, n);
    CHECK(av_detect_head_load(path, &g, err, sizeof err) == AV_DETECT_E_MODEL);
    CHECK_STR_CONTAINS(err, "out of range");
    av_test_write_file(path, "GIF89a..........", 16);
    CHECK(av_detect_head_load(path, &g, err, sizeof err) == AV_DETECT_E_MODEL);
    CHECK_STR_CONTAINS(err, "AVHEAD1");
    free(bad);
    free(bytes);
}

/* A small dataset: classes background, A, B, C over 2 features; samples
 * (x, label, test). The head scores A and B alike on an ambiguous crop. */
static void tiny_dataset(av_train_dataset *d, const float (*x)[2], const int *label,
                         const int *test, int n)
{
    memset(d, 0, sizeof *d);
    d->n = n, d->dim = 2, d->n_classes = 4, d->n_base = 4, d->background = 0;
    d->s = calloc((size_t)n, sizeof *d->s);
    d->feat = malloc((size_t)n * 2 * sizeof *d->feat);
    d->names = calloc(4, sizeof *d->names);
    d->commons = calloc(4, sizeof *d->commons);
    CHECK(d->s && d->feat && d->names && d->commons);
    static const char *const sci[4] = {"background", "Aus aus", "Bus bus", "Cus cus"};
    for (int c = 0; c < 4; c++)
        snprintf(d->names[c], sizeof d->names[c], "%s", sci[c]);
    for (int i = 0; i < n; i++) {
        d->feat[2 * i] = x[i][0], d->feat[2 * i + 1] = x[i][1];
        d->s[i].label = label[i], d->s[i].test = test[i];
        snprintf(d->s[i].image_id, sizeof d->s[i].image_id, "img%d", i);
        snprintf(d->s[i].species, sizeof d->s[i].species, "%s", sci[label[i]]);
    }
}

/* background low everywhere; A on feature 0, B on feature 0 a little less,
 * C on feature 1 */
static void tiny_head(av_detect_head *h)
{
    static const float w[8] = {0, 0, 4, 0, 3.8f, 0, 0, 6};
    static const float b[4] = {-5, 0, 0, 0};
    h->n_classes = 4, h->dim = 2, h->prior = NULL;
    h->w = malloc(sizeof w), h->b = malloc(sizeof b);
    CHECK(h->w && h->b);
    memcpy(h->w, w, sizeof w), memcpy(h->b, b, sizeof b);
}

static int top1(const av_detect_head *h, const float *x)
{
    float p[4];
    av_detect_head_logits(h, x, p);
    av_detect_softmax(p, 4);
    av_detect_prior_apply(h, p);
    int best = 1;
    for (int c = 2; c < 4; c++)
        best = p[c] > p[best] ? c : best;
    float sum = p[0] + p[1] + p[2] + p[3];
    CHECK_NEAR(sum, 1.0, 1e-5); /* renormalised */
    return best;
}

TEST(species_prior_from_confirmed_reviews)
{
    /* the site's birds: B confirmed 5 times, A once, C never */
    static const float x[8][2] = {{1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}};
    static const int label[8] = {2, 2, 2, 2, 2, 1, 2, 2}, test[8] = {0, 0, 0, 0, 0, 0, 1, 1};
    av_train_dataset d;
    tiny_dataset(&d, x, label, test, 8);
    av_detect_head h;
    tiny_head(&h);
    double counts[4];
    av_train_prior_counts(&d, 1, counts);
    CHECK_NEAR(counts[1], 1, 0);
    CHECK_NEAR(counts[2], 5, 0);
    CHECK_NEAR(counts[3], 0, 0);
    av_train_prior_counts(&d, 0, counts);
    CHECK_NEAR(counts[2], 7, 0);

    const float amb[2] = {1, 0}, c_crop[2] = {0, 1};
    CHECK_EQ_INT(top1(&h, amb), 1); /* without a prior the head says A */
    char err[512];
    av_train_prior_counts(&d, 1, counts);
    CHECK(av_train_prior_set(&d, &h, counts, 1.0, 1.0, err, sizeof err) == AV_TRAIN_OK);
    /* weights relative to uniform over the 3 species: (3 (n + 1) / (6 + 3)) */
    CHECK_NEAR(h.prior[0], 1, 0);
    CHECK_NEAR(h.prior[1], 3.0 * 2 / 9, 1e-6);
    CHECK_NEAR(h.prior[2], 3.0 * 6 / 9, 1e-6);
    CHECK_NEAR(h.prior[3], 3.0 * 1 / 9, 1e-6);
    CHECK_EQ_INT(top1(&h, amb), 2);    /* the site's common bird wins a close call */
    CHECK_EQ_INT(top1(&h, c_crop), 3); /* a species never confirmed keeps working */
    CHECK(av_train_prior_set(&d, &h, counts, 0.0, 1.0, err, sizeof err) == AV_TRAIN_OK);
    CHECK_EQ_INT(top1(&h, amb), 1); /* alpha 0: the head alone */

    /* alpha chosen on the held-back split: the held-back Bs need the prior */
    free(h.prior), h.prior = NULL;
    av_train_fit_opts fo = {0};
    double alpha, pseudo;
    CHECK(av_train_prior_choose(&d, &h, &h, &fo, &alpha, &pseudo, err, sizeof err) == AV_TRAIN_OK);
    CHECK_MSG(alpha > 0, "alpha %g", alpha);
    CHECK(pseudo > 0);
    /* ... and not when the held-back birds are the rarely confirmed A */
    d.s[6].label = d.s[7].label = 1;
    CHECK(av_train_prior_choose(&d, &h, &h, &fo, &alpha, &pseudo, err, sizeof err) == AV_TRAIN_OK);
    CHECK_NEAR(alpha, 0, 0);
    /* fixed by the options */
    fo.prior_alpha = 0.5, fo.prior_pseudo = 2;
    CHECK(av_train_prior_choose(&d, &h, &h, &fo, &alpha, &pseudo, err, sizeof err) == AV_TRAIN_OK);
    CHECK_NEAR(alpha, 0.5, 0);
    CHECK_NEAR(pseudo, 2, 0);

    /* serialised and loaded against the labels; hostile files refused */
    char path[600];
    snprintf(path, sizeof path, "%s/prior.json", av_test_tmpdir());
    const char *names[4] = {"background", "Aus aus", "Bus bus", "Cus cus"};
    const char *labels[4] = {"background", "Aus aus (Ay)", "Bus bus (Bee)", "Cus cus (Sea)"};
    CHECK(av_detect_prior_save(path, counts, names, 4, 0, 1.0, 1.0, err, sizeof err) ==
          AV_DETECT_OK);
    av_detect_head g;
    tiny_head(&g);
    CHECK_MSG(av_detect_prior_load(path, labels, 4, 0, &g, err, sizeof err) == AV_DETECT_OK,
              "%s", err);
    float want[4];
    av_detect_prior_weights(counts, 4, 0, 1.0, 1.0, want);
    for (int c = 0; c < 4; c++)
        CHECK_NEAR(g.prior[c], want[c], 1e-6);
    CHECK_EQ_INT(top1(&g, amb), 2);
    CHECK_EQ_INT(top1(&g, c_crop), 3);
    static const char *const bad[] = {
        "{\"format\": 1, \"alpha\": 1, \"pseudo_count\": 1, \"species\": "
        "[{\"class\": 2, \"name\": \"Aus aus\", \"n\": 3}]}", /* not that class's name */
        "{\"format\": 1, \"alpha\": 1, \"pseudo_count\": 1, \"species\": "
        "[{\"class\": 9, \"name\": \"Aus aus\", \"n\": 3}]}", /* no such class */
        "{\"format\": 1, \"alpha\": 1, \"pseudo_count\": 1, \"species\": "
        "[{\"class\": 0, \"name\": \"background\", \"n\": 3}]}", /* not a species */
        "{\"format\": 1, \"alpha\": 1, \"pseudo_count\": 1, \"species\": "
        "[{\"class\": 1, \"name\": \"Aus aus\", \"n\": -3}]}", /* negative count */
        "{\"format\": 1, \"alpha\": 99, \"pseudo_count\": 1, \"species\": []}",
        "{\"format\": 2, \"alpha\": 1, \"pseudo_count\": 1, \"species\": []}",
        "[1, 2, 3]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        av_test_write_file(path, bad[i], strlen(bad[i]));
        CHECK_MSG(av_detect_prior_load(path, labels, 4, 0, &g, err, sizeof err) ==
                      AV_DETECT_E_MODEL,
                  "bad prior %zu loaded", i);
        CHECK_STR_CONTAINS(err, path);
    }
    av_detect_head_free(&g);
    av_detect_head_free(&h);
    av_train_dataset_free(&d);
}

/* A version folder under base whose head is the base model's own last
 * layer, made from the models folder models; returns its path in out. */
static void base_head_version_of(const char *models, const char *base,
                                 const av_train_prior *prior, char *out, size_t cap)
{
    char err[512], db[700];
    snprintf(db, sizeof db, "sqlite:%s/empty.db", av_test_tmpdir());
    av_store *s;
    CHECK(av_store_open(db, &s, err, sizeof err) == AV_STORE_OK);
    CHECK(av_store_migrate(s, NULL, err, sizeof err) == AV_STORE_OK);
    av_detect_pipeline *p;
    av_detect_open_opts oo = {.max_contexts = 1};
    if (av_detect_pipeline_open(models, &oo, &p, err, sizeof err) != AV_DETECT_OK ||
        !av_detect_pipeline_has_species(p))
        SKIP("models not installed (run scripts/setup)");
    av_detect_head h;
    const char *const *labels, *features;
    int bg;
    CHECK_MSG(av_detect_species_base_head(p, &h, &labels, &bg, &features, err, sizeof err) ==
                  AV_DETECT_OK,
              "%s", err);
    CHECK_EQ_INT(h.n_classes, 965);
    CHECK_EQ_INT(h.dim, 1280);
    av_train_dataset d;
    CHECK(av_train_dataset_build(s, p, &h, labels, bg, &d, err, sizeof err) == AV_TRAIN_OK);
    CHECK_EQ_INT(d.n, 0);
    snprintf(d.feature_name, sizeof d.feature_name, "%s", features);
    long long v, before = av_train_latest_version(base);
    CHECK_MSG(av_train_write_version(base, models, &d, &h, prior, "{}", 1, &v, out, cap, err,
                                     sizeof err) == AV_TRAIN_OK,
              "%s", err);
    CHECK_EQ_INT(v, before + 1);
    av_train_dataset_free(&d);
    av_detect_head_free(&h);
    av_detect_pipeline_close(p);
    av_store_close(s);
}

static void base_head_version(const char *base, const av_train_prior *prior, char *out,
                              size_t cap)
{
    base_head_version_of("models", base, prior, out, cap);
}

TEST(version_with_the_base_head_answers_as_the_base)
{
    char base[600], ver[1024], err[512];
    snprintf(base, sizeof base, "%s/versions", av_test_tmpdir());
    const char *models =
        av_test_models_with("models_unbalanced", "inat_bird.json", "answer", NULL);
    base_head_version_of(models, base, NULL, ver, sizeof ver);
    size_t n;
    unsigned char *img = av_test_read_file(av_test_shared("testdata/images/parrot.jpg"), &n);
    av_detect_pipeline *a, *b;
    av_detect_open_opts oo = {.max_contexts = 1};
    CHECK(av_detect_pipeline_open(models, &oo, &a, err, sizeof err) == AV_DETECT_OK);
    CHECK_MSG(av_detect_pipeline_open(ver, &oo, &b, err, sizeof err) == AV_DETECT_OK, "%s", err);
    CHECK_MSG(av_detect_pipeline_has_species(b), "%s", av_detect_pipeline_species_note(b));
    av_detect_result ra, rb;
    CHECK(av_detect_run(a, img, n, NULL, &ra, err, sizeof err) == AV_DETECT_OK);
    CHECK(av_detect_run(b, img, n, NULL, &rb, err, sizeof err) == AV_DETECT_OK);
    CHECK_EQ_INT(ra.n_dets, rb.n_dets);
    CHECK(ra.n_dets >= 1);
    CHECK_STR_EQ(rb.dets[0].species[0].scientific, "Ara macao");
    CHECK_STR_EQ(ra.dets[0].species[0].scientific, rb.dets[0].species[0].scientific);
    /* float head vs the model's uint8 logits and softmax: close, not equal */
    CHECK_NEAR(ra.dets[0].species[0].score, rb.dets[0].species[0].score, 0.03);
    av_detect_result_free(&ra);
    av_detect_result_free(&rb);
    av_detect_pipeline_close(a);
    av_detect_pipeline_close(b);
    free(img);
}

/* A version whose species prior favours the base's second answer on the
 * parrot: the pipeline loads the prior the manifest names and its answer
 * follows it; species the prior never saw still score. */
TEST(version_with_a_species_prior_weights_the_answer)
{
    char base[600], ver[1024], err[512];
    snprintf(base, sizeof base, "%s/versions", av_test_tmpdir());
    size_t n;
    unsigned char *img = av_test_read_file(av_test_shared("testdata/images/parrot.jpg"), &n);
    av_detect_pipeline *a, *b;
    av_detect_open_opts oo = {.max_contexts = 1};
    if (av_detect_pipeline_open("models", &oo, &a, err, sizeof err) != AV_DETECT_OK ||
        !av_detect_pipeline_has_species(a))
        SKIP("models not installed (run scripts/setup)");
    av_detect_result ra, rb;
    CHECK(av_detect_run(a, img, n, NULL, &ra, err, sizeof err) == AV_DETECT_OK);
    CHECK(ra.n_dets >= 1 && ra.dets[0].n_species >= 2);
    int second = ra.dets[0].species[1].class_index;
    double *counts = calloc(965, sizeof *counts);
    CHECK(counts != NULL);
    counts[second] = 50; /* the site's bird */
    av_train_prior pr = {.counts = counts, .alpha = 2, .pseudo = 1};
    base_head_version(base, &pr, ver, sizeof ver);
    char p[1200];
    snprintf(p, sizeof p, "%s/retrain/prior.json", ver);
    CHECK(access(p, R_OK) == 0);
    CHECK_MSG(av_detect_pipeline_open(ver, &oo, &b, err, sizeof err) == AV_DETECT_OK, "%s", err);
    CHECK(av_detect_run(b, img, n, NULL, &rb, err, sizeof err) == AV_DETECT_OK);
    CHECK(rb.n_dets >= 1 && rb.dets[0].n_species >= 2);
    CHECK_STR_EQ(rb.dets[0].species[0].scientific, ra.dets[0].species[1].scientific);
    CHECK_STR_EQ(rb.dets[0].species[1].scientific, ra.dets[0].species[0].scientific);
    CHECK(rb.dets[0].species[1].score > 1e-4); /* never confirmed, still there */
    av_detect_result_free(&ra);
    av_detect_result_free(&rb);
    av_detect_pipeline_close(b);
    /* a prior that does not belong to the labels is refused, the file named */
    const char *wrong = "{\"format\": 1, \"alpha\": 1, \"pseudo_count\": 1, \"species\": "
                        "[{\"class\": 5, \"name\": \"Nonesuch bird\", \"n\": 3}]}";
    av_test_write_file(p, wrong, strlen(wrong));
    if (av_detect_pipeline_open(ver, &oo, &b, err, sizeof err) == AV_DETECT_OK) {
        /* the pipeline opens without species and says why */
        CHECK(!av_detect_pipeline_has_species(b));
        snprintf(err, sizeof err, "%s", av_detect_pipeline_species_note(b));
        av_detect_pipeline_close(b);
    }
    CHECK_STR_CONTAINS(err, "prior.json");
    CHECK_STR_CONTAINS(err, "Nonesuch");
    av_detect_pipeline_close(a);
    free(counts);
    free(img);
}

/* An in-process node's watch: a version promoted under the base path is
 * swapped in; a request holding the old pipeline finishes on it. */
TEST(in_process_reload_of_a_promoted_version)
{
    char base[600], ver[1024], err[512];
    snprintf(base, sizeof base, "%s/versions", av_test_tmpdir());
    av_detect_open_opts oo = {.max_contexts = 1};
    av_detect_pipeline *p0;
    if (av_detect_pipeline_open("models", &oo, &p0, err, sizeof err) != AV_DETECT_OK)
        SKIP("models not installed (run scripts/setup)");
    av_detect_current *cur;
    CHECK_EQ_INT(av_detect_current_new(p0, &cur), 0);
    av_train_watch *w;
    mkdir(base, 0755);
    CHECK_MSG(av_train_watch_start(base, &oo, cur, 50, &w, err, sizeof err) == AV_TRAIN_OK,
              "%s", err);
    av_detect_pipeline *held = av_detect_current_acquire(cur); /* a request in flight */
    CHECK(held == p0);
    base_head_version(base, NULL, ver, sizeof ver);
    for (int i = 0; i < 400 && !av_detect_current_swaps(cur); i++)
        usleep(50000);
    CHECK_EQ_INT((int)av_detect_current_swaps(cur), 1);
    av_detect_pipeline *now = av_detect_current_acquire(cur);
    CHECK(now != p0);
    size_t n;
    unsigned char *img = av_test_read_file(av_test_shared("testdata/images/parrot.jpg"), &n);
    av_detect_result ra, rb;
    CHECK(av_detect_run(held, img, n, NULL, &ra, err, sizeof err) == AV_DETECT_OK);
    CHECK(av_detect_run(now, img, n, NULL, &rb, err, sizeof err) == AV_DETECT_OK);
    CHECK(rb.n_dets >= 1 && ra.n_dets == rb.n_dets);
    CHECK_STR_EQ(rb.dets[0].species[0].scientific, "Ara macao");
    av_detect_result_free(&ra);
    av_detect_result_free(&rb);
    av_detect_current_release(cur, held);
    av_detect_current_release(cur, now);
    av_train_watch_stop(w);
    av_detect_current_free(cur); /* closes the loaded version */
    av_detect_pipeline_close(p0);
    free(img);
}

struct load {
    const char *url, *body;
    volatile int stop;
    int ok, failed;
    long last;
};

static void *load_main(void *arg)
{
    struct load *l = arg;
    while (!l->stop) {
        av_http_resp r;
        int rc = av_http_request("POST", l->url, "application/json", l->body, strlen(l->body),
                                 &r);
        if (rc == 0 && r.status == 200)
            __atomic_add_fetch(&l->ok, 1, __ATOMIC_SEQ_CST);
        else
            __atomic_add_fetch(&l->failed, 1, __ATOMIC_SEQ_CST), l->last = rc ? -1 : r.status;
        if (rc == 0)
            av_http_free(&r);
    }
    return NULL;
}

TEST(promote_swaps_a_loaded_model_server_with_no_failed_request)
{
    char base[600], ver[1024], err[512];
    snprintf(base, sizeof base, "%s/versions", av_test_tmpdir());
    base_head_version(base, NULL, ver, sizeof ver);
    av_log_setup(AV_LOG_WARN, AV_LOG_LOGFMT);
    av_serving_opts o = {.listen = "127.0.0.1", .base_path = base, .poll_ms = 100,
                         .workers = 2};
    av_serving *s;
    CHECK_MSG(av_serving_start(&o, &s, err, sizeof err) == AV_SERVING_OK, "%s", err);
    CHECK_EQ_INT(av_serving_live_version(s), 1);
    size_t n;
    unsigned char *img = av_test_read_file(av_test_shared("testdata/images/bird.bmp"), &n);
    char *b64;
    size_t bl;
    CHECK(av_serving_b64_encode(img, n, &b64, &bl) == 0);
    char *body = malloc(bl + 200);
    snprintf(body, bl + 200,
             "{\"inputs\": [{\"name\": \"image_bytes\", \"shape\": [1], \"datatype\": \"BYTES\", "
             "\"data\": [\"%s\"]}]}",
             b64);
    char url[200];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/models/birdsClassifier/infer",
             av_serving_port(s));
    struct load l = {.url = url, .body = body};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&th[i], NULL, load_main, &l) == 0);
    struct timespec ts = {0, 100 * 1000000L};
    for (int i = 0; i < 300 && __atomic_load_n(&l.ok, __ATOMIC_SEQ_CST) < 3; i++)
        nanosleep(&ts, NULL);
    long long v;
    CHECK_MSG(av_train_promote(base, "1", &v, err, sizeof err) == AV_TRAIN_OK, "%s", err);
    CHECK_EQ_INT(v, 2);
    for (int i = 0; i < 100 && av_serving_live_version(s) != 2; i++)
        nanosleep(&ts, NULL);
    CHECK_EQ_INT(av_serving_live_version(s), 2);
    int after = __atomic_load_n(&l.ok, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 300 && __atomic_load_n(&l.ok, __ATOMIC_SEQ_CST) < after + 3; i++)
        nanosleep(&ts, NULL);
    l.stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_MSG(l.failed == 0, "%d of %d requests failed during the swap (last status %ld)",
              l.failed, l.ok + l.failed, l.last);
    CHECK_MSG(l.ok >= 6, "only %d requests ran", l.ok);
    CHECK(av_train_promote(base, "../x", &v, err, sizeof err) == AV_TRAIN_E_ARG);
    CHECK(av_train_promote(base, "candidate-9", &v, err, sizeof err) == AV_TRAIN_E_ARG);
    CHECK_STR_CONTAINS(err, "no such version");
    av_serving_stop(s);
    free(body);
    free(b64);
    free(img);
}

TEST(simulation_on_eval_photos_and_lineage)
{
    const char *eval = av_test_shared("eval/birds/manifest.csv");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", eval);
    *strrchr(dir, '/') = '\0';
    if (access("models/inat_bird/mobilenet_v2_1.0_224_inat_bird_quant.tflite", R_OK))
        SKIP("models not installed (run scripts/setup)");
    static av_train_sim_result r;
    char err[1024];
    av_train_sim_opts o = {.eval_dir = dir, .models_dir = "models",
                           .work_dir = av_test_tmpdir(), .seed = 1, .max_per_species = 4,
                           .detector = "nanodet", .quiet = 1}; /* the fast detector: lean */
    CHECK_MSG(av_train_simulate(&o, &r, err, sizeof err) == AV_TRAIN_OK, "%s", err);
    CHECK(r.n_reviews >= 40);
    CHECK(r.train.n_test >= 10);
    CHECK_MSG(r.train.eval.new_top1 >= r.train.eval.base_top1,
              "held back: new %.1f%% < base %.1f%%", r.train.eval.new_top1,
              r.train.eval.base_top1);
    /* the scored half: European photos gain, North American ones lose nothing */
    CHECK(r.group_n[0] >= 20 && r.group_n[1] >= 5);
    CHECK_MSG(r.group_new[0] >= r.group_base[0], "European: new %d < base %d of %d",
              r.group_new[0], r.group_base[0], r.group_n[0]);
    CHECK_MSG(r.group_new[1] >= r.group_base[1], "North American: new %d < base %d of %d",
              r.group_new[1], r.group_base[1], r.group_n[1]);

    /* lineage: dataset -> training -> model + evaluation */
    char db[1200];
    snprintf(db, sizeof db, "sqlite:%s/sim.db", av_test_tmpdir());
    av_store *s;
    CHECK(av_store_open(db, &s, err, sizeof err) == AV_STORE_OK);
    av_store_model_version *mv;
    int nm;
    CHECK(av_store_mlmd_models(s, &mv, &nm, err, sizeof err) == AV_STORE_OK);
    int found = 0;
    for (int i = 0; i < nm; i++)
        found |= !strcmp(mv[i].name, "species-head") && !strcmp(mv[i].role, "species") &&
                 mv[i].artifact_id == r.train.mlmd_model_id;
    free(mv);
    CHECK_MSG(found, "the new head is not registered in ML Metadata");
    av_store_training_view tv;
    CHECK(av_store_mlmd_training_of(s, r.train.mlmd_model_id, &tv, err, sizeof err) ==
          AV_STORE_OK);
    CHECK(tv.found);
    CHECK_EQ_INT(tv.samples, r.train.n_samples);
    CHECK_NEAR(tv.new_top1, r.train.eval.new_top1, 1e-9);
    CHECK_NEAR(tv.base_top1, r.train.eval.base_top1, 1e-9);
    CHECK_NEAR(tv.held_back, r.train.n_test, 1e-9);
    CHECK_STR_CONTAINS(tv.dataset, "reviews@");
    CHECK_STR_CONTAINS(tv.params, "\"l2\"");
    CHECK(av_store_mlmd_training_of(s, 999999, &tv, err, sizeof err) == AV_STORE_OK && !tv.found);
    av_store_mlmd_info info;
    CHECK(av_store_mlmd_status(s, &info, err, sizeof err) == AV_STORE_OK);
    CHECK(info.n_events >= 3 && info.n_executions >= 1 && info.n_artifacts >= 3);
    av_store_close(s);
    /* the version records its evaluation */
    char p[1400];
    snprintf(p, sizeof p, "%s/retrain/version.json", r.train.path);
    json_t *j = json_load_file(p, 0, NULL);
    CHECK(j != NULL);
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(j, "evaluation"), "new_top1")),
               r.train.eval.new_top1, 1e-9);
    json_decref(j);
}

TEST(status_codes)
{
    CHECK_EQ_INT(AV_TRAIN_E_DATA, 2);
    CHECK_STR_EQ(av_train_strerror(AV_TRAIN_OK), "ok");
    CHECK_STR_EQ(av_train_strerror(AV_TRAIN_E_DATA), "too few reviews to train or evaluate");
    CHECK_STR_EQ(av_train_strerror((av_train_status)99), "unknown status");
}

TEST_MAIN(T(status_codes), T(head_file_round_trip_and_hostile_files), T(species_prior_from_confirmed_reviews),
          T(version_with_the_base_head_answers_as_the_base),
          T(version_with_a_species_prior_weights_the_answer),
          T(in_process_reload_of_a_promoted_version),
          T(promote_swaps_a_loaded_model_server_with_no_failed_request),
          T(simulation_on_eval_photos_and_lineage))
