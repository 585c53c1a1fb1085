/*
 * t_web_app.c - the web application's pages over real HTTP on an ephemeral
 * port, with SQLite (or the MySQL/MariaDB server named by $AVIARY_TEST_DB,
 * one fresh database per case) and a scripted analyzer (tests/web_fixture.h;
 * the real pipeline has its own tests; here the pages, uploads, votes,
 * limits, drawings and the monitor are under test). How analyses are
 * scheduled: t_web_app_analysis.c.
 */
#include "harness.h"
#include "http.h"
#include "web_fixture.h"

#include "detect/illus.h"
#include "store/store.h"
#include "vision/vision.h"
#include "web/web.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(index_page)
{
    av_test_app a;
    av_test_app_start(&a, 1000000);
    char u[256];
    av_test_app_url(u, sizeof u, &a, "/");
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "enctype=\"multipart/form-data\"");
    CHECK_STR_CONTAINS(r.body, "name=\"file\"");
    CHECK_STR_CONTAINS(r.body, "action=\"/upload\"");
    av_http_free(&r);
    av_test_app_url(u, sizeof u, &a, "/static/aviary.css");
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.headers, "text/css");
    CHECK_STR_CONTAINS(r.headers, "max-age");
    av_http_free(&r);
    av_test_app_stop(&a);
}

TEST(upload_results_feedback_monitor)
{
    av_test_app a;
    av_test_app_start(&a, 1000000);
    char id[AV_STORE_ID_LEN + 1], u[256];
    av_test_upload(a.base, "<img src=x onerror=alert(1)>.jpg", av_test_jpeg, sizeof av_test_jpeg,
                   id);

    char path[128];
    snprintf(path, sizeof path, "/uploads/%s", id);
    av_test_app_url(u, sizeof u, &a, path);
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
    av_test_app_url(u, sizeof u, &a, img_url);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.len, sizeof av_test_jpeg);
    CHECK_STR_CONTAINS(r.headers, "immutable");
    av_http_free(&r);
    snprintf(img_url, sizeof img_url, "/originals/%s.jpg", id);
    av_test_app_url(u, sizeof u, &a, img_url);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    av_http_free(&r);

    /* Bad votes: the form again with a message, nothing stored. */
    av_test_app_url(u, sizeof u, &a, path);
    const char *bad[] = {
        "vote=no&ground_truth=abc&predicted=1", "vote=no&ground_truth=-2&predicted=0",
        "vote=no&ground_truth=1&predicted=3", "vote=maybe", "vote=no&ground_truth=2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(av_http_request("POST", u, "application/x-www-form-urlencoded", bad[i],
                                     strlen(bad[i]), &r),
                     0);
        CHECK_MSG(r.status == 422, "%s -> %ld", bad[i], r.status);
        CHECK_STR_CONTAINS(r.body, "class=\"error\"");
        av_http_free(&r);
    }
    int64_t votes = -1;
    char err[256];
    CHECK(av_store_feedback_count(a.store, &votes, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(votes, 0);

    const char *good = "vote=no&ground_truth=4&predicted=2";
    CHECK_EQ_INT(
        av_http_request("POST", u, "application/x-www-form-urlencoded", good, strlen(good), &r), 0);
    CHECK_EQ_INT(r.status, 303);
    av_http_free(&r);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_STR_CONTAINS(r.body, "Thank you for your feedback");
    av_http_free(&r);
    /* A second vote (another tab) is refused, saying so (issue 17), nothing added. */
    const char *again = "vote=yes";
    CHECK_EQ_INT(
        av_http_request("POST", u, "application/x-www-form-urlencoded", again, strlen(again), &r),
        0);
    CHECK_EQ_INT(r.status, 409);
    CHECK_STR_CONTAINS(r.body, "this vote was not counted");
    av_http_free(&r);
    CHECK(av_store_feedback_count(a.store, &votes, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(votes, 1);

    av_test_app_url(u, sizeof u, &a, "/monitor");
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
    av_test_app_url(u, sizeof u, &a, path);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "\"species\":\"Erithacus rubecula\"");
    CHECK_STR_CONTAINS(r.body, "\"voted\":true");
    av_http_free(&r);
    av_test_app_stop(&a);
}

TEST(rejects_bad_uploads)
{
    av_test_app a;
    av_test_app_start(&a, 1000);
    char u[256];
    av_test_app_url(u, sizeof u, &a, "/upload");
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
    memcpy(big, av_test_jpeg, sizeof av_test_jpeg);
    datas[0] = big;
    lens[0] = 5000;
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 413);
    CHECK_STR_CONTAINS(r.body, "too large");
    /* the limit and what was received when it was refused */
    CHECK_STR_CONTAINS(r.body, "larger than the photo limit of 1 kB (at least ");
    av_http_free(&r);
    /* the API says the same in its JSON error */
    av_test_app_url(u, sizeof u, &a, "/api/v1/images");
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
    av_test_app_url(u, sizeof u, &a, "/upload");
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
    av_test_app_stop(&a);
}

/* /readyz answers from the database; /metrics counts what was served. */
TEST(readyz_and_metrics)
{
    av_test_app a;
    av_test_app_start(&a, 1000000);
    char id[AV_STORE_ID_LEN + 1], u[256], path[128];
    av_http_resp r;
    av_test_app_url(u, sizeof u, &a, "/readyz");
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "\"status\":\"ready\"");
    av_http_free(&r);

    av_test_upload(a.base, "m.jpg", av_test_jpeg, sizeof av_test_jpeg, id);
    snprintf(path, sizeof path, "/uploads/%s", id);
    av_test_app_url(u, sizeof u, &a, path);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    av_http_free(&r);
    av_test_app_url(u, sizeof u, &a, "/nope");
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    av_http_free(&r);

    /* A request is counted when libmicrohttpd reports it complete, which may
     * come just after its client has the answer: poll briefly for the last. */
    av_test_app_url(u, sizeof u, &a, "/metrics");
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
    CHECK_STR_CONTAINS(r.body,
                       "aviary_web_request_seconds_bucket{route=\"upload\",le=\"+Inf\"} 1\n");
    /* the analyzer's own counters (the pipeline's passes in aviary serve) follow */
    CHECK_STR_CONTAINS(r.body, "\naviary_detect_pass_images_total{pass=\"zoom_out\"} 7\n");
    av_http_free(&r);
    av_test_app_stop(&a);
}

TEST(not_found_pages)
{
    av_test_app a;
    av_test_app_start(&a, 1000);
    const char *paths[] = {"/uploads/0123456789abcdef0123456789abcdef",
                           "/uploads/../etc/passwd",
                           "/nope",
                           "/originals/../../aviary.db",
                           "/static/../aviary.db",
                           "/api/v1/images/zzz",
                           "/inferenced/0123456789abcdef0123456789abcdef.jpg"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char u[256];
        av_test_app_url(u, sizeof u, &a, paths[i]);
        av_http_resp r;
        CHECK_EQ_INT(av_http_get(u, &r), 0);
        CHECK_MSG(r.status == 404, "%s -> %ld", paths[i], r.status);
        CHECK(!strstr(r.body, "sqlite"));
        CHECK(!strstr(r.body, "mysql"));
        av_http_free(&r);
    }
    av_test_app_stop(&a);
}

TEST(api_upload_json)
{
    av_test_app a;
    av_test_app_start(&a, 1000000);
    char u[256];
    av_test_app_url(u, sizeof u, &a, "/api/v1/images");
    av_http_resp r;
    const char *names[] = {"a.jpg", "b.txt"};
    const void *datas[] = {av_test_jpeg, "hello"};
    size_t lens[] = {sizeof av_test_jpeg, 5};
    CHECK_EQ_INT(av_http_upload(u, "file", 2, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 201);
    CHECK_STR_CONTAINS(r.body, "\"url\":\"/api/v1/images/");
    CHECK_STR_CONTAINS(r.body, "b.txt is not a PNG");
    av_http_free(&r);
    av_test_app_stop(&a);
}

/* A drawing (a shape painted on a white page, as t_illus.c) is not a
 * sighting: the page and its JSON say so with the escaped best guess, the
 * store keeps it, and the life list and uploads count no bird. */
TEST(drawing_is_not_a_sighting)
{
    av_test_app a;
    av_test_app_start(&a, 1000000);
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
    av_test_upload(a.base, "page.png", png, len, id);
    free(png);

    snprintf(path, sizeof path, "/uploads/%s", id);
    av_test_app_url(u, sizeof u, &a, path);
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
    av_test_app_url(u, sizeof u, &a, path);
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
        av_test_app_url(u, sizeof u, &a, pages[i]);
        CHECK_EQ_INT(av_http_get(u, &r), 0);
        CHECK_MSG(r.status == 200, "%s: %ld", pages[i], r.status);
        CHECK_MSG(!strstr(r.body, "Erithacus") && !strstr(r.body, "painted"), "%s counts it",
                  pages[i]);
        av_http_free(&r);
    }

    /* a photo answer leaves the columns empty */
    av_test_upload(a.base, "photo.jpg", av_test_jpeg, sizeof av_test_jpeg, id);
    snprintf(path, sizeof path, "/uploads/%s", id); /* waits for the analysis */
    av_test_app_url(u, sizeof u, &a, path);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK(!strstr(r.body, "drawing or painting"));
    av_http_free(&r);
    snprintf(path, sizeof path, "/api/v1/images/%s", id);
    av_test_app_url(u, sizeof u, &a, path);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    j = json_loads(r.body, 0, NULL);
    av_http_free(&r);
    CHECK(json_is_null(json_object_get(j, "illustration")));
    json_decref(j);
    CHECK(av_store_image_get(a.store, id, 0, &img, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(img.illustration.on, 0);
    av_test_app_stop(&a);
}

TEST(monitor_lists_model_versions)
{
    av_test_app a;
    av_test_app_start(&a, 1000000);
    char u[256], err[512];
    av_test_app_url(u, sizeof u, &a, "/monitor");
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "No model version is registered yet");
    av_http_free(&r);
    av_store_model_info m = {.name = "nanodet<b>",
                             .version = "3.0.4",
                             .uri = "models/x",
                             .sha256 = "0123456789abcdef",
                             .role = "detector"};
    int64_t id = 0;
    CHECK_MSG(av_store_mlmd_register_model(a.store, &m, &id, NULL, err, sizeof err) == AV_STORE_OK,
              "%s", err);
    CHECK(av_store_mlmd_deployment(a.store, "serve@test", &id, 1, NULL, NULL, err, sizeof err) ==
          AV_STORE_OK);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "Model versions");
    CHECK_STR_CONTAINS(r.body, "nanodet&lt;b&gt;");
    CHECK_STR_CONTAINS(r.body, "0123456789ab");
    CHECK(!strstr(r.body, "aviary-test-pw"));
    av_http_free(&r);
    av_test_app_stop(&a);
}

TEST_MAIN(T(index_page), T(readyz_and_metrics), T(monitor_lists_model_versions),
          T(upload_results_feedback_monitor), T(rejects_bad_uploads), T(not_found_pages),
          T(api_upload_json), T(drawing_is_not_a_sighting))
