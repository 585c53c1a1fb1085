/*
 * t_serving_versions.c - the model server's versions: a new version hot
 * swapped in under load (no request fails, the old one unloads after its
 * last request), a broken one refused, an empty base path that gets its
 * first version.
 */
#include "harness.h"
#include "detect_fixture.h"
#include "http.h"
#include "proc.h"
#include "serving_fixture.h"

#include "serving/serving.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A loop of predict requests runs while version 2 is swapped in and a
 * broken version 3 appears; no request fails. */
struct loop {
    const av_test_srv *v;
    const char *body;
    volatile int stop;
    volatile int ok, failed; /* read by the test thread while the loops run */
    long last_status;
};

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    char url[256];
    snprintf(url, sizeof url, "%s/v1/models/birdsClassifier:predict", l->v->base);
    while (!l->stop) {
        av_http_resp r;
        if (av_http_request("POST", url, "application/json", l->body, strlen(l->body), &r) == 0 &&
            r.status == 200)
            l->ok++;
        else
            l->failed++, l->last_status = r.status;
        av_http_free(&r);
    }
    return NULL;
}

static json_t *wait_state(const av_test_srv *v, const char *ver, const char *state, int ms)
{
    for (int t = 0; t < ms; t += 50) {
        long st;
        json_t *j = av_test_srv_call(v, "GET", "/v1/models/birdsClassifier", NULL, &st, NULL);
        const char *s = av_test_state_of(j, ver, NULL);
        if (s && !strcmp(s, state))
            return j;
        json_decref(j);
        av_test_sleep_ms(50);
    }
    return NULL;
}

TEST(version_hot_swap)
{
    char base[700];
    snprintf(base, sizeof base, "%s/saved_model", av_test_tmpdir());
    CHECK(mkdir(base, 0755) == 0);
    av_test_make_version(base, "1", 0);
    av_serving_opts o = {.base_path = base, .poll_ms = 100, .workers = 4};
    av_test_srv v;
    av_test_srv_start(&v, &o);
    CHECK_EQ_INT(av_serving_live_version(v.s), 1);
    if (av_serving_live_version(v.s) == 0)
        SKIP("models not installed");
    long st;
    json_t *j = av_test_srv_call(&v, "GET", "/v1/models/birdsClassifier", NULL, &st, NULL);
    CHECK_STR_EQ(av_test_state_of(j, "1", NULL), "AVAILABLE");
    json_decref(j);

    char *body = av_test_b64_request(av_test_shared("testdata/images/parrot.jpg"));
    struct loop l = {.v = &v, .body = body};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&th[i], NULL, loop_main, &l) == 0);
    av_test_sleep_ms(300);
    av_test_make_version(base, "002", 0); /* leading zeros are a version number, as in TF */
    j = wait_state(&v, "2", "AVAILABLE", 10000);
    CHECK_MSG(j, "version 2 never became AVAILABLE");
    json_decref(j);
    j = wait_state(&v, "1", "END", 5000); /* UNLOADING until its last request ends */
    CHECK_MSG(j, "version 1 never reached END");
    json_decref(j);
    CHECK_EQ_INT(av_serving_live_version(v.s), 2);
    av_test_sleep_ms(300);

    av_test_make_version(base, "3", 1);
    const char *code = NULL;
    j = wait_state(&v, "3", "END", 10000);
    CHECK_MSG(j, "broken version 3 never reported");
    av_test_state_of(j, "3", &code);
    CHECK_MSG(code && strcmp(code, "OK"), "broken version has error_code %s", code);
    CHECK_STR_EQ(av_test_state_of(j, "2", NULL), "AVAILABLE");
    json_t *e = json_array_get(json_object_get(j, "model_version_status"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(e, "version")), "3"); /* newest first */
    CHECK_STR_CONTAINS(
        json_string_value(json_object_get(json_object_get(e, "status"), "error_message")),
        "no_such_detector");
    json_decref(j);
    av_test_sleep_ms(300);
    /* a slow build (sanitizers, a loaded machine) gets the time to answer four */
    for (int t = 0; t < 20000 && l.ok + l.failed < 4; t += 50)
        av_test_sleep_ms(50);
    l.stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_MSG(l.failed == 0, "%d of %d requests failed during the swaps (last status %ld)",
              l.failed, l.ok + l.failed, l.last_status);
    CHECK_MSG(l.ok >= 4, "only %d requests ran", l.ok);
    CHECK_EQ_INT(av_serving_live_version(v.s), 2);
    av_test_srv_expect_error(&v, "POST", "/v1/models/birdsClassifier/versions/1:predict", body, 404,
                             "Specific(birdsClassifier, 1)");
    j = av_test_srv_call(&v, "POST", "/v1/models/birdsClassifier/versions/2:predict", body, &st,
                         NULL);
    CHECK_EQ_INT(st, 200);
    json_decref(j);
    free(body);
    av_serving_stop(v.s);
}

/* An empty base path: the server starts, is not ready, and picks up the
 * first version when it appears. */
TEST(empty_base_path_then_first_version)
{
    char base[700];
    snprintf(base, sizeof base, "%s/empty", av_test_tmpdir());
    CHECK(mkdir(base, 0755) == 0);
    av_serving_opts o = {.base_path = base, .poll_ms = 100};
    av_test_srv v;
    av_test_srv_start(&v, &o);
    long st;
    json_t *j = av_test_srv_call(&v, "GET", "/readyz", NULL, &st, NULL);
    CHECK_EQ_INT(st, 503);
    json_decref(j);
    av_test_srv_expect_error(&v, "GET", "/v1/models/birdsClassifier", NULL, 404,
                             "Could not find any versions of model birdsClassifier");
    av_test_srv_expect_error(&v, "POST", "/v1/models/birdsClassifier:predict",
                             "{\"instances\": [1]}", 404,
                             "Servable not found for request: Latest(birdsClassifier)");
    av_test_make_version(base, "7", 0);
    j = wait_state(&v, "7", "AVAILABLE", 10000);
    CHECK_MSG(j, "version 7 never became AVAILABLE");
    json_decref(j);
    j = av_test_srv_call(&v, "GET", "/readyz", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    json_decref(j);
    av_serving_stop(v.s);
}

TEST_MAIN(T(version_hot_swap), T(empty_base_path_then_first_version))
