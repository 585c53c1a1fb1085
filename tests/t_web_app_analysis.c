/*
 * t_web_app_analysis.c - how the web application schedules analyses, over
 * real HTTP with the scripted analyzer of tests/web_fixture.h: first views
 * racing analyse once, a waiting page holds no HTTP thread, temporary
 * failures are retried, an image another node claimed or stored is not
 * analysed here, 32 clients uploading at once are all stored. SQLite, or
 * the server named by $AVIARY_TEST_DB.
 */
#include "harness.h"
#include "http.h"
#include "web_fixture.h"

#include "store/store.h"
#include "web/web.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    av_test_app a;
    av_test_app_start(&a, 1000000);
    char id[AV_STORE_ID_LEN + 1];
    av_test_fake.calls = 0;
    av_test_upload(a.base, "robin.png", av_test_png, sizeof av_test_png, id);
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
    CHECK_EQ_INT(av_test_fake.calls, 1);
    av_store_detection *d;
    int n;
    char err[256];
    CHECK(av_store_detections_get(a.store, id, &d, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 2);
    free(d);
    av_test_app_stop(&a);
}

/* Another node took the upload: this node's data folder has no copy, so
 * the original comes from the store and the annotated image is re-drawn. */
TEST(images_from_store_when_not_on_this_node)
{
    av_test_app a;
    av_test_app_start(&a, 1000000);
    char id[AV_STORE_ID_LEN + 1], u[256], path[128], file[1200];
    av_test_upload(a.base, "a.jpg", av_test_jpeg, sizeof av_test_jpeg, id);
    av_http_resp r;
    snprintf(path, sizeof path, "/uploads/%s", id);
    av_test_app_url(u, sizeof u, &a, path);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_STR_CONTAINS(r.body, "European Robin");
    av_http_free(&r);
    for (int annotated = 0; annotated < 2; annotated++) {
        const char *sub = annotated ? "inferenced" : "originals";
        snprintf(file, sizeof file, "%s/%s/%s.jpg", av_test_tmpdir(), sub, id);
        CHECK_MSG(unlink(file) == 0, "%s was not written", file);
        snprintf(path, sizeof path, "/%s/%s.jpg", sub, id);
        av_test_app_url(u, sizeof u, &a, path);
        CHECK_EQ_INT(av_http_get(u, &r), 0);
        CHECK_EQ_INT(r.status, 200);
        CHECK_STR_CONTAINS(r.headers, "image/jpeg");
        if (annotated)
            CHECK(r.len == strlen(av_test_rendered) + 1 && !memcmp(r.body, "rendered:2", r.len));
        else
            CHECK(r.len == sizeof av_test_jpeg && !memcmp(r.body, av_test_jpeg, r.len));
        av_http_free(&r);
        CHECK_MSG(access(file, F_OK) == 0, "%s not cached again", file);
    }
    /* a wrong extension, or an ID never uploaded, is not an image */
    char other[AV_STORE_ID_LEN + 1];
    memcpy(other, id, sizeof other);
    other[0] = other[0] == '0' ? '1' : '0';
    const char *paths[4][2] = {{"/originals/%s.png", id},
                               {"/inferenced/%s.png", id},
                               {"/originals/%s.jpg", other},
                               {"/inferenced/%s.jpg", other}};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, paths[i][0], paths[i][1]);
        av_test_app_url(u, sizeof u, &a, path);
        CHECK_EQ_INT(av_http_get(u, &r), 0);
        CHECK_MSG(r.status == 404, "%s -> %ld", path, r.status);
        av_http_free(&r);
    }
    av_test_app_stop(&a);
}

static json_t *api_get(av_test_app *a, const char *id)
{
    char path[128], u[256];
    snprintf(path, sizeof path, "/api/v1/images/%s", id);
    av_test_app_url(u, sizeof u, a, path);
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
    pthread_mutex_lock(&av_test_fake.mu);
    v->done = 1;
    pthread_mutex_unlock(&av_test_fake.mu);
    return NULL;
}

TEST(waiting_page_does_not_hold_the_http_thread)
{
    av_test_fake.http_workers = 1;
    av_test_fake.wait_ms = 30000;
    av_test_app a;
    av_test_app_start(&a, 1000000);
    unsigned char slow[sizeof av_test_jpeg + 2];
    memcpy(slow, av_test_jpeg, sizeof av_test_jpeg);
    slow[sizeof av_test_jpeg] = slow[sizeof av_test_jpeg + 1] = 0;
    pthread_mutex_lock(&av_test_fake.mu);
    av_test_fake.gate = 1;
    pthread_mutex_unlock(&av_test_fake.mu);
    char id[AV_STORE_ID_LEN + 1], path[128], u[256], h[256];
    av_test_upload(a.base, "slow.jpg", slow, sizeof slow, id);
    snprintf(path, sizeof path, "/uploads/%s", id);
    av_test_app_url(u, sizeof u, &a, path);
    struct view_arg v = {.url = u};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, view_slow, &v) == 0);
    usleep(300 * 1000); /* ordering only: the page request is in before /healthz */
    av_test_app_url(h, sizeof h, &a, "/healthz");
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(h, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    av_http_free(&r);
    pthread_mutex_lock(&av_test_fake.mu);
    int page_done = v.done;
    av_test_fake.gate = 0; /* now let the analysis finish */
    pthread_cond_broadcast(&av_test_fake.gate_cv);
    pthread_mutex_unlock(&av_test_fake.mu);
    pthread_join(t, NULL);
    CHECK_MSG(!page_done, "/healthz waited for the parked results page");
    CHECK_EQ_INT(v.r.status, 200);
    CHECK_STR_CONTAINS(v.r.body, "European Robin"); /* woken when the analysis ended */
    av_http_free(&v.r);
    av_test_app_stop(&a);
    av_test_fake.http_workers = 8;
    av_test_fake.wait_ms = 0;
}

/* A temporary failure (model server away) keeps the image pending, says so,
 * and the workers retry it by themselves. */
TEST(temporary_failure_is_retried)
{
    av_test_app a;
    av_test_app_start(&a, 1000000);
    unsigned char flaky[sizeof av_test_jpeg + 1];
    memcpy(flaky, av_test_jpeg, sizeof av_test_jpeg);
    flaky[sizeof av_test_jpeg] = 0;
    av_test_fake.flaky_left = 1;
    char id[AV_STORE_ID_LEN + 1];
    av_test_upload(a.base, "flaky.jpg", flaky, sizeof flaky, id);
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
    av_test_app_url(u, sizeof u, &a, path);
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
    CHECK_EQ_INT(av_test_fake.flaky_left, 0);
    av_test_app_stop(&a);
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

static void insert_claimed(av_test_app *a, av_store_image *img)
{
    memset(img, 0, sizeof *img);
    CHECK(av_store_new_id(img->id) == 0);
    snprintf(img->name, sizeof img->name, "elsewhere.jpg");
    snprintf(img->ext, sizeof img->ext, "jpg");
    snprintf(img->content_type, sizeof img->content_type, "image/jpeg");
    img->size_bytes = sizeof av_test_jpeg;
    char err[256];
    CHECK(av_store_image_insert(a->store, img, av_test_jpeg, sizeof av_test_jpeg, err,
                                sizeof err) == AV_STORE_OK);
    int claimed = 0;
    CHECK(av_store_analysis_claim(a->store, img->id, 60000, &claimed, err, sizeof err) ==
          AV_STORE_OK);
    CHECK_EQ_INT(claimed, 1);
}

TEST(analysis_claimed_by_another_node_waits)
{
    av_test_app a;
    av_test_app_start(&a, 1000000);
    av_store_image img;
    insert_claimed(&a, &img);
    int before = av_test_app_calls();
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
    CHECK_EQ_INT(av_test_app_calls(), before); /* the models did not run here */

    insert_claimed(&a, &img);
    char err[256];
    CHECK(av_store_analysis_release(a.store, img.id, err, sizeof err) == AV_STORE_OK);
    j = api_get(&a, img.id);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "status")), "done");
    json_decref(j);
    CHECK_EQ_INT(av_test_app_calls(), before + 1);
    av_test_app_stop(&a);
}

struct up_job {
    av_test_app *a;
    int ok;
};

static void *up_thread(void *arg)
{
    struct up_job *j = arg;
    char u[256];
    av_test_app_url(u, sizeof u, j->a, "/upload");
    for (int i = 0; i < 2; i++) {
        av_http_resp r;
        const char *names[] = {"bird.jpg"};
        const void *datas[] = {av_test_jpeg};
        size_t lens[] = {sizeof av_test_jpeg};
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
    av_test_app a;
    av_test_app_start(&a, 1000000);
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
    av_test_app_stop(&a);
}

TEST_MAIN(T(waiting_page_does_not_hold_the_http_thread), T(temporary_failure_is_retried),
          T(analysis_claimed_by_another_node_waits), T(images_from_store_when_not_on_this_node),
          T(concurrent_uploads_32_clients_all_stored), T(concurrent_first_views_analyse_once))
