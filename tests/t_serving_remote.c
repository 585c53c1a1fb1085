/*
 * t_serving_remote.c - the libcurl client against the model server, and
 * `aviary serve --model-url` against an `aviary model-server` process end
 * to end, including the model server going away and coming back; the
 * model server's command line.
 */
#include "harness.h"
#include "detect_fixture.h"
#include "http.h"
#include "proc.h"
#include "serving_fixture.h"

#include "serving/serving.h"

#include <jansson.h>
#include "vision/vision.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TEST(client_round_trip_and_server_down)
{
    const char *path = av_test_shared("testdata/images/parrot.jpg");
    av_test_srv v;
    av_test_srv_start(&v, NULL);
    av_serving_client_opts co = {.url = v.base};
    av_serving_client *c = NULL;
    char err[512];
    CHECK(av_serving_client_open(&co, &c, err, sizeof err) == AV_SERVING_OK);
    CHECK_STR_CONTAINS(av_serving_client_url(c), "/v1/models/birdsClassifier:predict");
    size_t n;
    unsigned char *img = av_test_read_file(path, &n);
    av_serving_client_run_opts ro = {.annotate = 1};
    av_detect_result r;
    CHECK_MSG(av_serving_client_predict(c, img, n, &ro, &r, err, sizeof err) == AV_SERVING_OK, "%s",
              err);
    CHECK_EQ_INT(r.width, 512);
    CHECK_EQ_INT(r.height, 929);
    CHECK(r.n_dets >= 1);
    CHECK(r.dets[0].x2 > r.dets[0].x1 + 50 && r.dets[0].x2 <= 512.5f);
    CHECK(r.dets[0].y2 > r.dets[0].y1 + 50 && r.dets[0].y2 <= 929.5f);
    if (r.dets[0].n_species)
        CHECK_STR_EQ(r.dets[0].species[0].scientific, "Ara macao");
    CHECK(r.annotated && r.annotated_len > 1000);
    CHECK_STR_EQ(r.annotated_mime, "image/jpeg");
    av_detect_result_free(&r);
    av_serving_client_close(c);
    av_serving_stop(v.s);

    /* Nothing listens: a clean transport error, quickly. */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", av_test_free_port());
    co = (av_serving_client_opts){.url = url, .connect_timeout_ms = 500, .timeout_ms = 2000};
    CHECK(av_serving_client_open(&co, &c, err, sizeof err) == AV_SERVING_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ_INT(av_serving_client_predict(c, img, n, &ro, &r, err, sizeof err),
                 AV_SERVING_E_TRANSPORT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_STR_CONTAINS(err, "did not answer");
    CHECK(r.n_dets == 0 && r.dets == NULL && r.annotated == NULL);
    CHECK((t1.tv_sec - t0.tv_sec) < 5);
    av_serving_client_close(c);
    co.url = "ftp://x";
    CHECK_EQ_INT(av_serving_client_open(&co, &c, err, sizeof err), AV_SERVING_E_ARG);
    free(img);
}

/* Upload to the web app; returns the analysis JSON from /api/v1/images/ID. */
static json_t *upload_and_get(const char *web, const unsigned char *img, size_t n)
{
    char u[256];
    snprintf(u, sizeof u, "%s/upload", web);
    const char *names[] = {"parrot.jpg"};
    const void *datas[] = {img};
    size_t lens[] = {n};
    av_http_resp r;
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_MSG(r.status == 303, "upload status %ld", r.status);
    const char *loc = strstr(r.headers, "Location: /uploads/");
    CHECK(loc);
    char id[64];
    snprintf(id, sizeof id, "%.32s", loc + strlen("Location: /uploads/"));
    av_http_free(&r);
    snprintf(u, sizeof u, "%s/api/v1/images/%s", web, id);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    json_t *j = json_loads(r.body, 0, NULL);
    CHECK_MSG(j, "not JSON: %.200s", r.body);
    av_http_free(&r);
    /* The results page as a person sees it. */
    snprintf(u, sizeof u, "%s/uploads/%s", web, id);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    json_object_set_new(j, "_page", json_string(r.body ? r.body : ""));
    av_http_free(&r);
    return j;
}

TEST(serve_with_model_url_end_to_end)
{
    const char *path = av_test_shared("testdata/images/parrot.jpg");
    if (access("models/pipeline.json", F_OK))
        SKIP("models not installed");
    int mport = av_test_free_port(), wport = av_test_free_port();
    char mp[16], wp[16], murl[64], data[700];
    snprintf(mp, sizeof mp, "%d", mport);
    snprintf(wp, sizeof wp, "%d", wport);
    snprintf(murl, sizeof murl, "http://127.0.0.1:%d", mport);
    snprintf(data, sizeof data, "%s/data", av_test_tmpdir());
    char *ms_argv[] = {"aviary", "model-server", "--listen", "127.0.0.1", "--port",
                       mp,       "--log-level",  "warn",     NULL};
    pid_t ms = av_test_spawn(ms_argv);
    char url[128];
    snprintf(url, sizeof url, "%s/v1/models/birdsClassifier", murl);
    CHECK_MSG(av_test_wait_up(url, 15000), "model-server did not answer %s", url);

    char *web_argv[] = {"aviary", "serve",       "--listen", "127.0.0.1",   "--port", wp,  "--data",
                        data,     "--model-url", murl,       "--log-level", "error",  NULL};
    pid_t web = av_test_spawn(web_argv);
    char wbase[64];
    snprintf(wbase, sizeof wbase, "http://127.0.0.1:%d", wport);
    snprintf(url, sizeof url, "%s/healthz", wbase);
    CHECK_MSG(av_test_wait_up(url, 15000), "serve did not answer %s", url);

    size_t n;
    unsigned char *img = av_test_read_file(path, &n);
    json_t *j = upload_and_get(wbase, img, n);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "status")), "done");
    json_t *d = json_array_get(json_object_get(j, "detections"), 0);
    CHECK_MSG(d, "no detection through the model server");
    const char *sp = json_string_value(json_object_get(d, "species"));
    if (sp)
        CHECK_STR_EQ(sp, "Ara macao");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "width")), 512);
    const char *ann = json_string_value(json_object_get(j, "annotated_url"));
    CHECK(ann);
    snprintf(url, sizeof url, "%s%s", wbase, ann);
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(url, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.len > 1000);
    av_http_free(&r);
    json_decref(j);

    /* The model server goes away: the upload is kept and stays pending, the
     * page says analysis is being retried... */
    CHECK_EQ_INT(av_test_stop(ms, SIGTERM), 0);
    j = upload_and_get(wbase, img, n);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "status")), "pending");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(j, "retrying")), "model server");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(j, "_page")), "retrying by itself");
    const char *orig = json_string_value(json_object_get(j, "original_url"));
    snprintf(url, sizeof url, "%s%s", wbase, orig);
    CHECK_EQ_INT(av_http_get(url, &r), 0);
    CHECK_EQ_INT(r.status, 200); /* the photo itself is kept */
    CHECK_EQ_INT(r.len, n);
    av_http_free(&r);
    char api[160];
    snprintf(api, sizeof api, "%s/api/v1/images/%s", wbase,
             json_string_value(json_object_get(j, "id")));
    json_decref(j);

    /* ...and once the model server is back it is analysed without anyone
     * asking again (retries back off 1, 2, 4 ... 30 s). */
    ms = av_test_spawn(ms_argv);
    snprintf(url, sizeof url, "%s/v1/models/birdsClassifier", murl);
    CHECK_MSG(av_test_wait_up(url, 15000), "model-server did not come back on %s", url);
    const char *status = "";
    for (int i = 0; i < 90 && strcmp(status, "done"); i++) { /* at most 45 s */
        usleep(500 * 1000);
        CHECK_EQ_INT(av_http_get(api, &r), 0);
        status = r.body && strstr(r.body, "\"status\":\"done\"") ? "done" : "";
        av_http_free(&r);
    }
    CHECK_STR_EQ(status, "done");
    free(img);
    CHECK_EQ_INT(av_test_stop(web, SIGINT), 0);
    CHECK_EQ_INT(av_test_stop(ms, SIGTERM), 0);
}

TEST(model_server_cli_base_path_and_bad_flags)
{
    char base[700];
    snprintf(base, sizeof base, "%s/sm", av_test_tmpdir());
    CHECK(mkdir(base, 0755) == 0);
    av_test_make_version(base, "001", 0);
    int port = av_test_free_port();
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    char *argv[] = {
        "aviary", "model-server",      "--listen", "127.0.0.1",   "--port", p,   "--model-name",
        "birds2", "--model-base-path", base,       "--log-level", "warn",   NULL};
    pid_t pid = av_test_spawn(argv);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/models/birds2/versions/1", port);
    CHECK_MSG(av_test_wait_up(url, 15000), "model-server did not serve version 1 at %s", url);
    CHECK_EQ_INT(av_test_stop(pid, SIGINT), 0);

    char *bad[] = {"aviary", "model-server", "extra", NULL};
    pid = av_test_spawn(bad);
    int status;
    waitpid(pid, &status, 0);
    CHECK_EQ_INT(WEXITSTATUS(status), 2);
}

TEST_MAIN(T(client_round_trip_and_server_down), T(serve_with_model_url_end_to_end),
          T(model_server_cli_base_path_and_bad_flags))
