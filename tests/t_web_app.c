/*
 * t_web_app.c - the web application over real HTTP on an ephemeral port,
 * with SQLite (or the MySQL/MariaDB server named by $AVIARY_TEST_DB, one
 * fresh database per case) and a scripted analyzer (the real pipeline has its own
 * tests; here the pages, uploads, votes and limits are under test).
 */
#include "harness.h"
#include "http.h"

#include "detect/illus.h"
#include "store/store.h"
#include "vision/vision.h"
#include "web/web.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char JPEG[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1};
static const unsigned char PNG[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};

static int g_calls;
static int g_flaky_left; /* temporary failures the analyzer still reports */
static int g_gate;       /* 1: images of sizeof JPEG + 2 bytes wait until it is 0 */
static pthread_cond_t g_gate_cv = PTHREAD_COND_INITIALIZER;
static int g_http_workers = 8, g_wait_ms; /* start() settings; 0 ms = the default */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

/* Scripted analyzer: two birds, a robin and a magpie; counts its calls. */
/* Extra /metrics text, as aviary serve adds the pipeline's pass counters. */
static size_t fake_metrics(void *ud, char *buf, size_t cap)
{
    (void)ud;
    return (size_t)snprintf(buf, cap, "aviary_detect_pass_images_total{pass=\"zoom_out\"} 7\n");
}

/* A scripted detector with the real page rule: a picture on white paper
 * (illus.h) comes back as a drawing of a robin, as the pipeline would answer
 * it; 1 when it did (*out filled), 0 for anything else. */
static int fake_drawing(const void *bytes, size_t len, av_web_analysis *out)
{
    av_image *im = NULL;
    char err[256];
    if (len < sizeof PNG || memcmp(bytes, PNG, 8) ||
        av_vision_decode(bytes, len, NULL, &im, NULL, err, sizeof err) != AV_VISION_OK)
        return 0;
    av_detect__illus rule;
    av_detect__illus_default(&rule);
    av_detect__page pg;
    av_detect__page_measure(im->data, im->width, im->height, &pg);
    av_detect_result r;
    memset(&r, 0, sizeof r);
    r.width = im->width, r.height = im->height;
    av_img_free(im);
    if (!av_detect__illus_is(&rule, &pg))
        return 0;
    r.page_measured = r.illustration = 1;
    r.page_paper = pg.paper, r.page_border = pg.border;
    av_detect_det *d = &r.illustrated;
    d->x2 = 400, d->y2 = 300, d->confidence = 0.57f, d->class_index = 14;
    d->rule = AV_DETECT_RULE_UNKNOWN;
    snprintf(d->label, sizeof d->label, "Unknown bird");
    d->n_species = 1;
    d->species[0].score = 0.25f;
    snprintf(d->species[0].scientific, sizeof d->species[0].scientific, "Erithacus rubecula");
    snprintf(d->species[0].common, sizeof d->species[0].common, "Robin <painted>");
    snprintf(r.detector, sizeof r.detector, "test");
    CHECK(av_web_analysis_from_result(&r, out) == 0);
    return 1;
}

static av_web_analysis_status fake_analyze(void *ud, const void *bytes, size_t len,
                                           av_web_analysis *out, char *err, size_t errlen)
{
    (void)ud, (void)bytes;
    pthread_mutex_lock(&g_mu);
    g_calls++;
    pthread_mutex_unlock(&g_mu);
    usleep(200 * 1000); /* long enough for racing first views to overlap */
    if (len < 4) {
        snprintf(err, errlen, "image: too short");
        return AV_WEB_ANALYSIS_E_FAILED;
    }
    if (fake_drawing(bytes, len, out))
        return AV_WEB_ANALYSIS_OK;
    if (len == sizeof JPEG + 2) { /* a slow analysis, released by the test */
        pthread_mutex_lock(&g_mu);
        while (g_gate)
            pthread_cond_wait(&g_gate_cv, &g_mu);
        pthread_mutex_unlock(&g_mu);
    }
    if (len == sizeof JPEG + 1 && g_flaky_left > 0) { /* a model server that is away */
        pthread_mutex_lock(&g_mu);
        g_flaky_left--;
        pthread_mutex_unlock(&g_mu);
        snprintf(err, errlen, "the model server could not be used (test)");
        return AV_WEB_ANALYSIS_E_RETRY;
    }
    out->width = 640;
    out->height = 480;
    out->n_dets = 2;
    out->dets = calloc(2, sizeof *out->dets);
    const char *sp[2] = {"Erithacus rubecula", "Pica pica"};
    const char *cn[2] = {"European Robin", "<script>alert(1)</script>"};
    for (int i = 0; i < 2; i++) {
        av_store_detection *d = &out->dets[i];
        d->x1 = 10 + i * 100, d->y1 = 20, d->x2 = 90 + i * 100, d->y2 = 200;
        d->score = i ? 0.5 : 0.9;
        d->detector_score = 0.7;
        d->species_score = d->score;
        d->class_id = 1 + i;
        snprintf(d->label, sizeof d->label, "bird");
        snprintf(d->species, sizeof d->species, "%s", sp[i]);
        snprintf(d->common_name, sizeof d->common_name, "%s", cn[i]);
        snprintf(d->model_version, sizeof d->model_version, "test@1");
    }
    out->annotated = malloc(sizeof JPEG);
    memcpy(out->annotated, JPEG, sizeof JPEG);
    out->annotated_len = sizeof JPEG;
    snprintf(out->annotated_ext, sizeof out->annotated_ext, "jpg");
    return AV_WEB_ANALYSIS_OK;
}

/* Scripted re-draw: marks what it was given, so the test sees it came from
 * the store's original and detections. */
static const char RENDERED[] = "rendered:";
static int fake_render(void *ud, const void *bytes, size_t len, const av_store_detection *dets,
                       int n, av_web_analysis *out, char *err, size_t errlen)
{
    (void)ud;
    if (len != sizeof JPEG || memcmp(bytes, JPEG, len) || n != 2 ||
        strcmp(dets[0].species, "Erithacus rubecula")) {
        snprintf(err, errlen, "render: unexpected input");
        return -1;
    }
    char *p = malloc(64);
    if (!p)
        return -1;
    out->annotated_len = (size_t)snprintf(p, 64, "%s%d", RENDERED, n);
    out->annotated = p;
    snprintf(out->annotated_ext, sizeof out->annotated_ext, "jpg");
    return 0;
}

static const char *const tracked[] = {"Erithacus rubecula", "Periparus ater", "Pica pica"};
static const double baselines[] = {0.85, 0.80, 0.75};

struct app {
    av_store *store;
    av_web *web;
    char base[64];
};

static void start(struct app *a, long long max_upload)
{
    char dir[700], url[1200], err[512];
    snprintf(dir, sizeof dir, "%s", av_test_tmpdir());
    char sub[800];
    snprintf(sub, sizeof sub, "%s/originals", dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/inferenced", dir);
    mkdir(sub, 0755);
    av_test_db_url(url, sizeof url, "aviary.db", 'w');
    CHECK_MSG(av_store_open(url, &a->store, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_MSG(av_store_migrate(a->store, NULL, err, sizeof err) == AV_STORE_OK, "%s", err);
    static char data_dir[700];
    snprintf(data_dir, sizeof data_dir, "%s", dir);
    av_web_opts o = {.listen = "127.0.0.1", .port = 0, .workers = g_http_workers,
                     .analysis_wait_ms = g_wait_ms, .store = a->store,
                     .data_dir = data_dir, .max_upload_bytes = max_upload,
                     .analyze = fake_analyze, .render = fake_render, .analysis_workers = 1, .queue_max = 8,
                     .tracked = tracked, .n_tracked = 3, .baselines = baselines,
                     .detector_name = "NanoDet-m (test)", .species_name = "iNat birds (test)",
                     .extra_metrics = fake_metrics};
    CHECK_MSG(av_web_start(&o, &a->web, err, sizeof err) == 0, "%s", err);
    snprintf(a->base, sizeof a->base, "http://127.0.0.1:%d", av_web_port(a->web));
}

static void stop(struct app *a)
{
    av_web_stop(a->web);
    av_store_close(a->store);
}

static void url(char *out, size_t cap, const struct app *a, const char *path)
{
    snprintf(out, cap, "%s%s", a->base, path);
}

/* Upload one file, expect 303, return the ID from Location. */
static void upload(struct app *a, const char *name, const void *data, size_t len, char *id)
{
    char u[256];
    url(u, sizeof u, a, "/upload");
    av_http_resp r;
    const char *names[] = {name};
    const void *datas[] = {data};
    size_t lens[] = {len};
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_MSG(r.status == 303, "upload status %ld: %.300s", r.status, r.body);
    const char *loc = strstr(r.headers, "Location: /uploads/");
    CHECK_MSG(loc, "no Location header: %s", r.headers);
    memcpy(id, loc + strlen("Location: /uploads/"), AV_STORE_ID_LEN);
    id[AV_STORE_ID_LEN] = '\0';
    CHECK(av_store_valid_id(id));
    av_http_free(&r);
}

TEST(index_page)
{
    struct app a;
    start(&a, 1000000);
    char u[256];
    url(u, sizeof u, &a, "/");
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "enctype=\"multipart/form-data\"");
    CHECK_STR_CONTAINS(r.body, "name=\"file\"");
    CHECK_STR_CONTAINS(r.body, "action=\"/upload\"");
    av_http_free(&r);
    url(u, sizeof u, &a, "/static/aviary.css");
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.headers, "text/css");
    CHECK_STR_CONTAINS(r.headers, "max-age");
    av_http_free(&r);
    stop(&a);
}

TEST(upload_results_feedback_monitor)
{
    struct app a;
    start(&a, 1000000);
    char id[AV_STORE_ID_LEN + 1], u[256];
    upload(&a, "<img src=x onerror=alert(1)>.jpg", JPEG, sizeof JPEG, id);

    char path[128];
    snprintf(path, sizeof path, "/uploads/%s", id);
    url(u, sizeof u, &a, path);
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "European Robin");
    CHECK_STR_CONTAINS(r.body, "90.0%");
    CHECK_STR_CONTAINS(r.body, "&lt;img src=x onerror=alert(1)&gt;.jpg");
    CHECK(!strstr(r.body, "<img src=x"));
    CHECK(!strstr(r.body, "<script>alert"));
    CHECK_STR_CONTAINS(r.body, "&lt;script&gt;");
    CHECK_STR_CONTAINS(r.body, "name=\"vote\"");
    char img_url[128];
    snprintf(img_url, sizeof img_url, "/inferenced/%s.jpg", id);
    CHECK_STR_CONTAINS(r.body, img_url);
    av_http_free(&r);

    /* Images come from their own URLs, cached. */
    url(u, sizeof u, &a, img_url);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.len, sizeof JPEG);
    CHECK_STR_CONTAINS(r.headers, "immutable");
    av_http_free(&r);
    snprintf(img_url, sizeof img_url, "/originals/%s.jpg", id);
    url(u, sizeof u, &a, img_url);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    av_http_free(&r);

    /* Bad votes: the form again with a message, nothing stored. */
    url(u, sizeof u, &a, path);
    const char *bad[] = {"vote=no&ground_truth=abc&predicted=1", "vote=no&ground_truth=-2&predicted=0",
                         "vote=no&ground_truth=1&predicted=3", "vote=maybe",
                         "vote=no&ground_truth=2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(av_http_request("POST", u, "application/x-www-form-urlencoded", bad[i],
                                     strlen(bad[i]), &r), 0);
        CHECK_MSG(r.status == 422, "%s -> %ld", bad[i], r.status);
        CHECK_STR_CONTAINS(r.body, "class=\"error\"");
        av_http_free(&r);
    }
    int64_t votes = -1;
    char err[256];
    CHECK(av_store_feedback_count(a.store, &votes, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(votes, 0);

    const char *good = "vote=no&ground_truth=4&predicted=2";
    CHECK_EQ_INT(av_http_request("POST", u, "application/x-www-form-urlencoded", good,
                                 strlen(good), &r), 0);
    CHECK_EQ_INT(r.status, 303);
    av_http_free(&r);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_STR_CONTAINS(r.body, "Thank you for your feedback");
    av_http_free(&r);
    /* A second vote (another tab) is refused, saying so (issue 17), nothing added. */
    const char *again = "vote=yes";
    CHECK_EQ_INT(av_http_request("POST", u, "application/x-www-form-urlencoded", again,
                                 strlen(again), &r), 0);
    CHECK_EQ_INT(r.status, 409);
    CHECK_STR_CONTAINS(r.body, "this vote was not counted");
    av_http_free(&r);
    CHECK(av_store_feedback_count(a.store, &votes, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(votes, 1);

    url(u, sizeof u, &a, "/monitor");
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "<svg");
    CHECK_STR_CONTAINS(r.body, "polyline");
    CHECK_STR_CONTAINS(r.body, "50.0%"); /* satisfaction 2/4 */
    CHECK_STR_CONTAINS(r.body, "Retraining advised: user satisfaction");
    CHECK_STR_CONTAINS(r.body, "below its test baseline"); /* magpie 0.5 < 0.75 */
    CHECK_STR_CONTAINS(r.body, "NanoDet-m (test)");
    av_http_free(&r);

    /* JSON API */
    snprintf(path, sizeof path, "/api/v1/images/%s", id);
    url(u, sizeof u, &a, path);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "\"species\":\"Erithacus rubecula\"");
    CHECK_STR_CONTAINS(r.body, "\"voted\":true");
    av_http_free(&r);
    stop(&a);
}

struct viewer {
    char url[256];
    long status;
};

static void *view(void *arg)
{
    struct viewer *v = arg;
    av_http_resp r;
    if (av_http_get(v->url, &r) == 0)
        v->status = r.status;
    av_http_free(&r);
    return NULL;
}

TEST(concurrent_first_views_analyse_once)
{
    struct app a;
    start(&a, 1000000);
    char id[AV_STORE_ID_LEN + 1];
    g_calls = 0;
    upload(&a, "robin.png", PNG, sizeof PNG, id);
    struct viewer v[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        snprintf(v[i].url, sizeof v[i].url, "%s/uploads/%s", a.base, id);
        v[i].status = 0;
        pthread_create(&t[i], NULL, view, &v[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(v[i].status, 200);
    }
    CHECK_EQ_INT(g_calls, 1);
    av_store_detection *d;
    int n;
    char err[256];
    CHECK(av_store_detections_get(a.store, id, &d, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 2);
    free(d);
    stop(&a);
}

TEST(rejects_bad_uploads)
{
    struct app a;
    start(&a, 1000);
    char u[256];
    url(u, sizeof u, &a, "/upload");
    av_http_resp r;
    /* not an image, whatever the name says */
    const char *names[] = {"bird.jpg"};
    const void *datas[] = {"GIF89a not really"};
    size_t lens[] = {17};
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 415);
    CHECK_STR_CONTAINS(r.body, "not a PNG, JPEG or WebP");
    av_http_free(&r);
    /* empty */
    datas[0] = "";
    lens[0] = 0;
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 400);
    av_http_free(&r);
    /* over the limit: a readable 413 page */
    char *big = calloc(1, 5000);
    memcpy(big, JPEG, sizeof JPEG);
    datas[0] = big;
    lens[0] = 5000;
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 413);
    CHECK_STR_CONTAINS(r.body, "too large");
    /* the limit and what was received when it was refused */
    CHECK_STR_CONTAINS(r.body, "larger than the photo limit of 1 kB (at least ");
    av_http_free(&r);
    /* the API says the same in its JSON error */
    url(u, sizeof u, &a, "/api/v1/images");
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 413);
    CHECK_STR_CONTAINS(r.body, "photo limit of 1 kB (at least ");
    av_http_free(&r);
    /* a body over the whole-request limit is refused from its Content-Length */
    char *huge = realloc(big, 300000);
    CHECK(huge != NULL);
    big = huge;
    memset(big + 5000, 0, 300000 - 5000);
    datas[0] = big;
    lens[0] = 300000;
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 413);
    CHECK_STR_CONTAINS(r.body, "\"error\"");
    CHECK_STR_CONTAINS(r.body, "This upload is 300.");
    CHECK_STR_CONTAINS(r.body, "each photo may be at most 1 kB");
    av_http_free(&r);
    url(u, sizeof u, &a, "/upload");
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 413);
    CHECK_STR_CONTAINS(r.body, "This upload is 300.");
    av_http_free(&r);
    free(big);
    /* nothing stored, no temp files left */
    int64_t n = -1;
    char err[256];
    CHECK(av_store_image_count(a.store, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 0);
    char cmd[900];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s/originals)\"", av_test_tmpdir());
    CHECK_MSG(system(cmd) == 0, "files left in originals/");
    stop(&a);
}

/* Another node took the upload: this node's data folder has no copy, so
 * the original comes from the store and the annotated image is re-drawn. */
TEST(images_from_store_when_not_on_this_node)
{
    struct app a;
    start(&a, 1000000);
    char id[AV_STORE_ID_LEN + 1], u[256], path[128], file[1200];
    upload(&a, "a.jpg", JPEG, sizeof JPEG, id);
    av_http_resp r;
    snprintf(path, sizeof path, "/uploads/%s", id);
    url(u, sizeof u, &a, path);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_STR_CONTAINS(r.body, "European Robin");
    av_http_free(&r);
    for (int annotated = 0; annotated < 2; annotated++) {
        const char *sub = annotated ? "inferenced" : "originals";
        snprintf(file, sizeof file, "%s/%s/%s.jpg", av_test_tmpdir(), sub, id);
        CHECK_MSG(unlink(file) == 0, "%s was not written", file);
        snprintf(path, sizeof path, "/%s/%s.jpg", sub, id);
        url(u, sizeof u, &a, path);
        CHECK_EQ_INT(av_http_get(u, &r), 0);
        CHECK_EQ_INT(r.status, 200);
        CHECK_STR_CONTAINS(r.headers, "image/jpeg");
        if (annotated)
            CHECK(r.len == strlen(RENDERED) + 1 && !memcmp(r.body, "rendered:2", r.len));
        else
            CHECK(r.len == sizeof JPEG && !memcmp(r.body, JPEG, r.len));
        av_http_free(&r);
        CHECK_MSG(access(file, F_OK) == 0, "%s not cached again", file);
    }
    /* a wrong extension, or an ID never uploaded, is not an image */
    char other[AV_STORE_ID_LEN + 1];
    memcpy(other, id, sizeof other);
    other[0] = other[0] == '0' ? '1' : '0';
    const char *paths[4][2] = {{"/originals/%s.png", id}, {"/inferenced/%s.png", id},
                               {"/originals/%s.jpg", other}, {"/inferenced/%s.jpg", other}};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, paths[i][0], paths[i][1]);
        url(u, sizeof u, &a, path);
        CHECK_EQ_INT(av_http_get(u, &r), 0);
        CHECK_MSG(r.status == 404, "%s -> %ld", path, r.status);
        av_http_free(&r);
    }
    stop(&a);
}

/* /readyz answers from the database; /metrics counts what was served. */
TEST(readyz_and_metrics)
{
    struct app a;
    start(&a, 1000000);
    char id[AV_STORE_ID_LEN + 1], u[256], path[128];
    av_http_resp r;
    url(u, sizeof u, &a, "/readyz");
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "\"status\":\"ready\"");
    av_http_free(&r);

    upload(&a, "m.jpg", JPEG, sizeof JPEG, id);
    snprintf(path, sizeof path, "/uploads/%s", id);
    url(u, sizeof u, &a, path);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    av_http_free(&r);
    url(u, sizeof u, &a, "/nope");
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    av_http_free(&r);

    /* A request is counted when libmicrohttpd reports it complete, which may
     * come just after its client has the answer: poll briefly for the last. */
    url(u, sizeof u, &a, "/metrics");
    for (int tries = 0;; tries++) {
        CHECK_EQ_INT(av_http_get(u, &r), 0);
        if (strstr(r.body, "aviary_web_requests_total{route=\"other\",code=\"404\"} 1\n") &&
            strstr(r.body, "aviary_web_requests_total{route=\"results\",code=\"200\"} 1\n"))
            break;
        if (tries == 40)
            break; /* the checks below say what is missing */
        av_http_free(&r);
        usleep(50 * 1000);
    }
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.headers, "text/plain");
    CHECK_STR_CONTAINS(r.body, "aviary_web_requests_total{route=\"upload\",code=\"303\"} 1\n");
    CHECK_STR_CONTAINS(r.body, "aviary_web_requests_total{route=\"results\",code=\"200\"} 1\n");
    CHECK_STR_CONTAINS(r.body, "aviary_web_requests_total{route=\"other\",code=\"404\"} 1\n");
    CHECK_STR_CONTAINS(r.body, "aviary_web_requests_total{route=\"health\",code=\"200\"} 1\n");
    CHECK_STR_CONTAINS(r.body, "aviary_web_request_seconds_count{route=\"results\"} 1\n");
    CHECK_STR_CONTAINS(r.body, "aviary_web_analysis_seconds_count 1\n");
    CHECK_STR_CONTAINS(r.body, "aviary_web_analysis_queue{state=\"queued\"} 0\n");
    /* the histogram is cumulative: the +Inf bucket holds every request */
    CHECK_STR_CONTAINS(r.body, "aviary_web_request_seconds_bucket{route=\"upload\",le=\"+Inf\"} 1\n");
    /* the analyzer's own counters (the pipeline's passes in aviary serve) follow */
    CHECK_STR_CONTAINS(r.body, "\naviary_detect_pass_images_total{pass=\"zoom_out\"} 7\n");
    av_http_free(&r);
    stop(&a);
}

static json_t *api_get(struct app *a, const char *id)
{
    char path[128], u[256];
    snprintf(path, sizeof path, "/api/v1/images/%s", id);
    url(u, sizeof u, a, path);
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    json_error_t je;
    json_t *j = json_loadb(r.body, r.len, 0, &je);
    CHECK_MSG(j, "bad JSON: %s", je.text);
    av_http_free(&r);
    return j;
}

/* A results page waiting for its analysis holds no HTTP thread: with one
 * HTTP worker, /healthz answers while the page waits (the old handler
 * blocked that worker, and /healthz with it, for the whole wait). */
struct view_arg {
    const char *url;
    av_http_resp r;
    int done;
};

static void *view_slow(void *arg)
{
    struct view_arg *v = arg;
    av_http_get(v->url, &v->r);
    pthread_mutex_lock(&g_mu);
    v->done = 1;
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

TEST(waiting_page_does_not_hold_the_http_thread)
{
    g_http_workers = 1;
    g_wait_ms = 30000;
    struct app a;
    start(&a, 1000000);
    unsigned char slow[sizeof JPEG + 2];
    memcpy(slow, JPEG, sizeof JPEG);
    slow[sizeof JPEG] = slow[sizeof JPEG + 1] = 0;
    pthread_mutex_lock(&g_mu);
    g_gate = 1;
    pthread_mutex_unlock(&g_mu);
    char id[AV_STORE_ID_LEN + 1], path[128], u[256], h[256];
    upload(&a, "slow.jpg", slow, sizeof slow, id);
    snprintf(path, sizeof path, "/uploads/%s", id);
    url(u, sizeof u, &a, path);
    struct view_arg v = {.url = u};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, view_slow, &v) == 0);
    usleep(300 * 1000); /* ordering only: the page request is in before /healthz */
    url(h, sizeof h, &a, "/healthz");
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(h, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    av_http_free(&r);
    pthread_mutex_lock(&g_mu);
    int page_done = v.done;
    g_gate = 0; /* now let the analysis finish */
    pthread_cond_broadcast(&g_gate_cv);
    pthread_mutex_unlock(&g_mu);
    pthread_join(t, NULL);
    CHECK_MSG(!page_done, "/healthz waited for the parked results page");
    CHECK_EQ_INT(v.r.status, 200);
    CHECK_STR_CONTAINS(v.r.body, "European Robin"); /* woken when the analysis ended */
    av_http_free(&v.r);
    stop(&a);
    g_http_workers = 8;
    g_wait_ms = 0;
}

/* A temporary failure (model server away) keeps the image pending, says so,
 * and the workers retry it by themselves. */
TEST(temporary_failure_is_retried)
{
    struct app a;
    start(&a, 1000000);
    unsigned char flaky[sizeof JPEG + 1];
    memcpy(flaky, JPEG, sizeof JPEG);
    flaky[sizeof JPEG] = 0;
    g_flaky_left = 1;
    char id[AV_STORE_ID_LEN + 1];
    upload(&a, "flaky.jpg", flaky, sizeof flaky, id);
    json_t *j = NULL;
    for (int i = 0; i < 50; i++) { /* the first attempt fails within 0.2 s */
        json_decref(j);
        j = api_get(&a, id);
        if (json_object_get(j, "retrying"))
            break;
        usleep(50 * 1000);
    }
    CHECK_STR_EQ(json_string_value(json_object_get(j, "status")), "pending");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(j, "retrying")), "model server");
    json_decref(j);
    char path[128], u[256];
    snprintf(path, sizeof path, "/uploads/%s", id);
    url(u, sizeof u, &a, path);
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    if (!strstr(r.body, "European Robin")) /* not retried yet: the page says why */
        CHECK_STR_CONTAINS(r.body, "retrying by itself");
    av_http_free(&r);
    const char *status = "";
    for (int i = 0; i < 100 && strcmp(status, "done"); i++) { /* retried after 1 s */
        usleep(50 * 1000);
        j = api_get(&a, id);
        status = strcmp(json_string_value(json_object_get(j, "status")), "done") ? "" : "done";
        if (*status)
            CHECK(!json_object_get(j, "retrying"));
        json_decref(j);
    }
    CHECK_STR_EQ(status, "done");
    CHECK_EQ_INT(g_flaky_left, 0);
    stop(&a);
}

/* An image another node has claimed is not analysed here: a view waits
 * for that node's result in the database; a claim given up is taken over. */
struct other_node {
    av_store *store;
    const char *id;
};

static void *other_node_stores(void *arg)
{
    struct other_node *o = arg;
    usleep(300 * 1000);
    av_store_detection d;
    memset(&d, 0, sizeof d);
    d.x2 = d.y2 = 10, d.score = 0.7;
    snprintf(d.label, sizeof d.label, "bird");
    snprintf(d.species, sizeof d.species, "Periparus ater");
    snprintf(d.whole_image_by, sizeof d.whole_image_by, "two_views"); /* a whole-image bird */
    char err[256];
    av_store_analysis_put(o->store, o->id, 64, 48, &d, 1, err, sizeof err);
    return NULL;
}

static void insert_claimed(struct app *a, av_store_image *img)
{
    memset(img, 0, sizeof *img);
    CHECK(av_store_new_id(img->id) == 0);
    snprintf(img->name, sizeof img->name, "elsewhere.jpg");
    snprintf(img->ext, sizeof img->ext, "jpg");
    snprintf(img->content_type, sizeof img->content_type, "image/jpeg");
    img->size_bytes = sizeof JPEG;
    char err[256];
    CHECK(av_store_image_insert(a->store, img, JPEG, sizeof JPEG, err, sizeof err) ==
          AV_STORE_OK);
    int claimed = 0;
    CHECK(av_store_analysis_claim(a->store, img->id, 60000, &claimed, err, sizeof err) ==
          AV_STORE_OK);
    CHECK_EQ_INT(claimed, 1);
}

static int calls(void)
{
    pthread_mutex_lock(&g_mu);
    int n = g_calls;
    pthread_mutex_unlock(&g_mu);
    return n;
}

TEST(analysis_claimed_by_another_node_waits)
{
    struct app a;
    start(&a, 1000000);
    av_store_image img;
    insert_claimed(&a, &img);
    int before = calls();
    struct other_node o = {a.store, img.id};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_node_stores, &o) == 0);
    json_t *j = api_get(&a, img.id); /* waits for the other node's result */
    pthread_join(t, NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "status")), "done");
    char *dets = json_dumps(json_object_get(j, "detections"), 0);
    CHECK(dets);
    CHECK_STR_CONTAINS(dets, "Periparus ater");
    CHECK_STR_CONTAINS(dets, "\"whole_image_by\": \"two_views\"");
    free(dets);
    json_decref(j);
    CHECK_EQ_INT(calls(), before); /* the models did not run here */

    insert_claimed(&a, &img);
    char err[256];
    CHECK(av_store_analysis_release(a.store, img.id, err, sizeof err) == AV_STORE_OK);
    j = api_get(&a, img.id);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "status")), "done");
    json_decref(j);
    CHECK_EQ_INT(calls(), before + 1);
    stop(&a);
}

TEST(not_found_pages)
{
    struct app a;
    start(&a, 1000);
    const char *paths[] = {"/uploads/0123456789abcdef0123456789abcdef", "/uploads/../etc/passwd",
                           "/nope", "/originals/../../aviary.db", "/static/../aviary.db",
                           "/api/v1/images/zzz", "/inferenced/0123456789abcdef0123456789abcdef.jpg"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char u[256];
        url(u, sizeof u, &a, paths[i]);
        av_http_resp r;
        CHECK_EQ_INT(av_http_get(u, &r), 0);
        CHECK_MSG(r.status == 404, "%s -> %ld", paths[i], r.status);
        CHECK(!strstr(r.body, "sqlite"));
        CHECK(!strstr(r.body, "mysql"));
        av_http_free(&r);
    }
    stop(&a);
}

TEST(api_upload_json)
{
    struct app a;
    start(&a, 1000000);
    char u[256];
    url(u, sizeof u, &a, "/api/v1/images");
    av_http_resp r;
    const char *names[] = {"a.jpg", "b.txt"};
    const void *datas[] = {JPEG, "hello"};
    size_t lens[] = {sizeof JPEG, 5};
    CHECK_EQ_INT(av_http_upload(u, "file", 2, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 201);
    CHECK_STR_CONTAINS(r.body, "\"url\":\"/api/v1/images/");
    CHECK_STR_CONTAINS(r.body, "b.txt is not a PNG");
    av_http_free(&r);
    stop(&a);
}

/* A drawing (a shape painted on a white page, as t_illus.c) is not a
 * sighting: the page and its JSON say so with the escaped best guess, the
 * store keeps it, and the life list and uploads count no bird. */
TEST(drawing_is_not_a_sighting)
{
    struct app a;
    start(&a, 1000000);
    int w = 300, h = 200;
    av_image *pg = av_img_new(w, h);
    CHECK(pg);
    memset(pg->data, 255, (size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double dx = (x - w / 2.0) / (w * 0.3), dy = (y - h / 2.0) / (h * 0.3);
            if (dx * dx + dy * dy <= 1) {
                uint8_t *p = pg->data + 3 * ((size_t)y * w + x);
                p[0] = (uint8_t)(120 + x % 60), p[1] = (uint8_t)(90 + y % 40), p[2] = 60;
            }
        }
    unsigned char *png = NULL;
    size_t len = 0;
    char err[256], id[AV_STORE_ID_LEN + 1], u[256], path[128];
    CHECK(av_vision_encode_png(pg, &png, &len, err, sizeof err) == AV_VISION_OK);
    av_img_free(pg);
    upload(&a, "page.png", png, len, id);
    free(png);

    snprintf(path, sizeof path, "/uploads/%s", id);
    url(u, sizeof u, &a, path);
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "This looks like a drawing or painting, not a photo: no sighting"
                               " recorded. Best guess: Robin &lt;painted&gt; (Erithacus rubecula)");
    CHECK(!strstr(r.body, "No birds were found"));
    CHECK(!strstr(r.body, "<painted>"));
    av_http_free(&r);

    av_store_image img;
    CHECK(av_store_image_get(a.store, id, 0, &img, err, sizeof err) == AV_STORE_OK);
    CHECK_STR_EQ(img.status, "done");
    CHECK_EQ_INT(img.illustration.on, 1);
    CHECK_STR_EQ(img.illustration.species, "Erithacus rubecula");
    CHECK_STR_EQ(img.illustration.common_name, "Robin <painted>");
    CHECK_NEAR(img.illustration.score, 0.25, 1e-6);

    snprintf(path, sizeof path, "/api/v1/images/%s", id);
    url(u, sizeof u, &a, path);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    json_t *j = json_loads(r.body, 0, NULL);
    av_http_free(&r);
    CHECK(j);
    const json_t *il = json_object_get(j, "illustration");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(il, "message")),
                       "not a photo: no sighting recorded. Best guess: Robin <painted>");
    CHECK_STR_EQ(json_string_value(json_object_get(il, "species")), "Erithacus rubecula");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "detections")), 0);
    json_decref(j);

    /* the life list and the uploads list count no robin */
    const char *pages[] = {"/species", "/uploads", "/activity"};
    for (int i = 0; i < 3; i++) {
        url(u, sizeof u, &a, pages[i]);
        CHECK_EQ_INT(av_http_get(u, &r), 0);
        CHECK_MSG(r.status == 200, "%s: %ld", pages[i], r.status);
        CHECK_MSG(!strstr(r.body, "Erithacus") && !strstr(r.body, "painted"), "%s counts it",
                  pages[i]);
        av_http_free(&r);
    }

    /* a photo answer leaves the columns empty */
    upload(&a, "photo.jpg", JPEG, sizeof JPEG, id);
    snprintf(path, sizeof path, "/uploads/%s", id); /* waits for the analysis */
    url(u, sizeof u, &a, path);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK(!strstr(r.body, "drawing or painting"));
    av_http_free(&r);
    snprintf(path, sizeof path, "/api/v1/images/%s", id);
    url(u, sizeof u, &a, path);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    j = json_loads(r.body, 0, NULL);
    av_http_free(&r);
    CHECK(json_is_null(json_object_get(j, "illustration")));
    json_decref(j);
    CHECK(av_store_image_get(a.store, id, 0, &img, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(img.illustration.on, 0);
    stop(&a);
}

TEST(monitor_lists_model_versions)
{
    struct app a;
    start(&a, 1000000);
    char u[256], err[512];
    url(u, sizeof u, &a, "/monitor");
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "No model version is registered yet");
    av_http_free(&r);
    av_store_model_info m = {.name = "nanodet<b>", .version = "3.0.4", .uri = "models/x",
                             .sha256 = "0123456789abcdef", .role = "detector"};
    int64_t id = 0;
    CHECK_MSG(av_store_mlmd_register_model(a.store, &m, &id, NULL, err, sizeof err) ==
                  AV_STORE_OK, "%s", err);
    CHECK(av_store_mlmd_deployment(a.store, "serve@test", &id, 1, NULL, NULL, err, sizeof err) ==
          AV_STORE_OK);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "Model versions");
    CHECK_STR_CONTAINS(r.body, "nanodet&lt;b&gt;");
    CHECK_STR_CONTAINS(r.body, "0123456789ab");
    CHECK(!strstr(r.body, "aviary-test-pw"));
    av_http_free(&r);
    stop(&a);
}

struct up_job {
    struct app *a;
    int ok;
};

static void *up_thread(void *arg)
{
    struct up_job *j = arg;
    char u[256];
    url(u, sizeof u, j->a, "/upload");
    for (int i = 0; i < 2; i++) {
        av_http_resp r;
        const char *names[] = {"bird.jpg"};
        const void *datas[] = {JPEG};
        size_t lens[] = {sizeof JPEG};
        if (av_http_upload(u, "file", 1, names, datas, lens, &r) == 0) {
            if (r.status == 303)
                j->ok++;
            av_http_free(&r);
        }
    }
    return NULL;
}

TEST(concurrent_uploads_32_clients_all_stored)
{
    struct app a;
    start(&a, 1000000);
    struct up_job j[32];
    pthread_t t[32];
    for (int i = 0; i < 32; i++) {
        j[i] = (struct up_job){.a = &a};
        pthread_create(&t[i], NULL, up_thread, &j[i]);
    }
    int ok = 0;
    for (int i = 0; i < 32; i++) {
        pthread_join(t[i], NULL);
        ok += j[i].ok;
    }
    CHECK_EQ_INT(ok, 64);
    int64_t n = 0;
    char err[512];
    CHECK(av_store_image_count(a.store, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 64);
    stop(&a);
}

TEST_MAIN(T(index_page), T(waiting_page_does_not_hold_the_http_thread), T(temporary_failure_is_retried), T(analysis_claimed_by_another_node_waits), T(readyz_and_metrics), T(images_from_store_when_not_on_this_node), T(monitor_lists_model_versions), T(concurrent_uploads_32_clients_all_stored), T(upload_results_feedback_monitor), T(concurrent_first_views_analyse_once),
          T(rejects_bad_uploads), T(not_found_pages), T(api_upload_json),
          T(drawing_is_not_a_sighting))
