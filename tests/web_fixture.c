/*
 * web_fixture.c - the web application with a scripted analyzer
 * (web_fixture.h).
 */
#include "web_fixture.h"

#include "harness.h"
#include "http.h"

#include "detect/illus.h"
#include "vision/vision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const unsigned char av_test_jpeg[12] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1};
const unsigned char av_test_png[12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
const char av_test_rendered[] = "rendered:";

av_test_fake_state av_test_fake = {
    .mu = PTHREAD_MUTEX_INITIALIZER, .gate_cv = PTHREAD_COND_INITIALIZER, .http_workers = 8};

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
    if (len < sizeof av_test_png || memcmp(bytes, av_test_png, 8) ||
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

/* The scripted analyzer (web_fixture.h); counts its calls. */
static av_web_analysis_status fake_analyze(void *ud, const void *bytes, size_t len,
                                           av_web_analysis *out, char *err, size_t errlen)
{
    (void)ud, (void)bytes;
    pthread_mutex_lock(&av_test_fake.mu);
    av_test_fake.calls++;
    pthread_mutex_unlock(&av_test_fake.mu);
    usleep(200 * 1000); /* long enough for racing first views to overlap */
    if (len < 4) {
        snprintf(err, errlen, "image: too short");
        return AV_WEB_ANALYSIS_E_FAILED;
    }
    if (fake_drawing(bytes, len, out))
        return AV_WEB_ANALYSIS_OK;
    if (len == sizeof av_test_jpeg + 2) { /* a slow analysis, released by the test */
        pthread_mutex_lock(&av_test_fake.mu);
        while (av_test_fake.gate)
            pthread_cond_wait(&av_test_fake.gate_cv, &av_test_fake.mu);
        pthread_mutex_unlock(&av_test_fake.mu);
    }
    if (len == sizeof av_test_jpeg + 1 &&
        av_test_fake.flaky_left > 0) { /* a model server that is away */
        pthread_mutex_lock(&av_test_fake.mu);
        av_test_fake.flaky_left--;
        pthread_mutex_unlock(&av_test_fake.mu);
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
    out->annotated = malloc(sizeof av_test_jpeg);
    memcpy(out->annotated, av_test_jpeg, sizeof av_test_jpeg);
    out->annotated_len = sizeof av_test_jpeg;
    snprintf(out->annotated_ext, sizeof out->annotated_ext, "jpg");
    return AV_WEB_ANALYSIS_OK;
}

/* Scripted re-draw: marks what it was given, so the test sees it came from
 * the store's original and detections. */
static int fake_render(void *ud, const void *bytes, size_t len, const av_store_detection *dets,
                       int n, av_web_analysis *out, char *err, size_t errlen)
{
    (void)ud;
    if (len != sizeof av_test_jpeg || memcmp(bytes, av_test_jpeg, len) || n != 2 ||
        strcmp(dets[0].species, "Erithacus rubecula")) {
        snprintf(err, errlen, "render: unexpected input");
        return -1;
    }
    char *p = malloc(64);
    if (!p)
        return -1;
    out->annotated_len = (size_t)snprintf(p, 64, "%s%d", av_test_rendered, n);
    out->annotated = p;
    snprintf(out->annotated_ext, sizeof out->annotated_ext, "jpg");
    return 0;
}

static const char *const tracked[] = {"Erithacus rubecula", "Periparus ater", "Pica pica"};
static const double baselines[] = {0.85, 0.80, 0.75};

av_store *av_test_store_at(const char *url)
{
    char err[512];
    av_store *s = NULL;
    CHECK_MSG(av_store_open(url, &s, err, sizeof err) == AV_STORE_OK, "%s: %s", url, err);
    int v = 0;
    CHECK_MSG(av_store_migrate(s, &v, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK(v >= 1);
    return s;
}

av_store *av_test_open_store(const char *sqlite_name, char tag)
{
    char url[1200];
    av_test_db_url(url, sizeof url, sqlite_name, tag);
    return av_test_store_at(url);
}

void av_test_make_data_dir(const char *dir)
{
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/originals", dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/inferenced", dir);
    mkdir(sub, 0755);
}

void av_test_app_start(av_test_app *a, long long max_upload)
{
    char dir[700], err[512];
    snprintf(dir, sizeof dir, "%s", av_test_tmpdir());
    av_test_make_data_dir(dir);
    a->store = av_test_open_store("aviary.db", 'w');
    static char data_dir[700];
    snprintf(data_dir, sizeof data_dir, "%s", dir);
    av_web_opts o = {.listen = "127.0.0.1",
                     .port = 0,
                     .workers = av_test_fake.http_workers,
                     .analysis_wait_ms = av_test_fake.wait_ms,
                     .store = a->store,
                     .data_dir = data_dir,
                     .max_upload_bytes = max_upload,
                     .analyze = fake_analyze,
                     .render = fake_render,
                     .analysis_workers = 1,
                     .queue_max = 8,
                     .tracked = tracked,
                     .n_tracked = 3,
                     .baselines = baselines,
                     .detector_name = "NanoDet-m (test)",
                     .species_name = "iNat birds (test)",
                     .extra_metrics = fake_metrics};
    CHECK_MSG(av_web_start(&o, &a->web, err, sizeof err) == 0, "%s", err);
    snprintf(a->base, sizeof a->base, "http://127.0.0.1:%d", av_web_port(a->web));
}

void av_test_app_stop(av_test_app *a)
{
    av_web_stop(a->web);
    av_store_close(a->store);
}

void av_test_app_url(char *out, size_t cap, const av_test_app *a, const char *path)
{
    snprintf(out, cap, "%s%s", a->base, path);
}

/* Upload one file, expect 303, return the ID from Location. */
void av_test_upload(const char *base, const char *name, const void *data, size_t len, char *id)
{
    char u[256];
    snprintf(u, sizeof u, "%s/upload", base);
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

int av_test_app_calls(void)
{
    pthread_mutex_lock(&av_test_fake.mu);
    int n = av_test_fake.calls;
    pthread_mutex_unlock(&av_test_fake.mu);
    return n;
}
