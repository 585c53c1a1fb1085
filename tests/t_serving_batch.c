/*
 * t_serving_batch.c - the model server's dynamic batching: the same answers
 * as unbatched, batch sizes and detector runs in /metrics, 503 +
 * Retry-After when the queue is full.
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
#include <unistd.h>

/* ----------------------------------------------------------- batching */

typedef struct post_job {
    const av_test_srv *v;
    const char *path, *body;
    long status;
    json_t *j;
    int retry_after; /* the answer carried Retry-After */
} post_job;

static void *post_main(void *arg)
{
    post_job *p = arg;
    char url[2400];
    snprintf(url, sizeof url, "%s%s", p->v->base, p->path);
    av_http_resp r;
    if (av_http_request("POST", url, "application/json", p->body, strlen(p->body), &r) != 0) {
        p->status = -1;
        return NULL;
    }
    p->status = r.status;
    p->j = json_loads(r.body ? r.body : "", 0, NULL);
    p->retry_after = r.headers && strstr(r.headers, "Retry-After: 1") != NULL;
    av_http_free(&r);
    return NULL;
}

/* A models folder like models/ whose pipeline.json picks NanoDet, which
 * batches (the default, CenterNet, runs the images of a batch one by one);
 * the path lives in the case's scratch directory. */
static const char *nanodet_models(void)
{
    static char dir[600];
    char cwd[400], cmd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(dir, sizeof dir, "%s/nanodet_models", av_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && cp models/*.json models/*.int8.calib '%s'/ && "
             "ln -s '%s/models/human' "
             "'%s/models/inat_bird' '%s'/",
             dir, dir, cwd, cwd, dir);
    CHECK(system(cmd) == 0);
    char path[700];
    snprintf(path, sizeof path, "%s/pipeline.json", dir);
    json_error_t je;
    json_t *pj = json_load_file(path, 0, &je);
    CHECK_MSG(pj != NULL, "%s: %s", path, je.text);
    CHECK(json_object_set_new(pj, "detector", json_string("nanodet")) == 0);
    CHECK(json_dump_file(pj, path, JSON_INDENT(1)) == 0);
    json_decref(pj);
    return dir;
}

/* Four different images posted at once to a batching server come back
 * each with its own answer, identical to the unbatched server's, and the
 * batch-size histogram shows they shared batches, each batch one detector
 * forward pass. */
TEST(batching_matches_unbatched_and_fills_batches)
{
    const char *names[] = {"parrot.jpg", "bird.bmp", "kite_and_cold.jpg", "cat.bmp"};
    enum { N = 4 };
    char *bodies[N];
    for (int i = 0; i < N; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "testdata/images/%s", names[i]);
        bodies[i] = av_test_b64_request(av_test_shared(rel));
    }
    av_test_srv off, on;
    const char *models = nanodet_models(); /* the images without birds also run zoom-out */
    av_serving_opts plain = {.models_dir = models};
    av_test_srv_start(&off, &plain);
    json_t *want[N];
    for (int i = 0; i < N; i++) {
        long st;
        json_t *j = av_test_srv_call(&off, "POST", "/v1/models/birdsClassifier:predict", bodies[i],
                                     &st, NULL);
        CHECK_MSG(st == 200, "unbatched %s: status %ld: %s", names[i], st, av_test_err_of(j));
        want[i] = json_incref(json_object_get(j, "predictions"));
        json_decref(j);
    }
    av_serving_stop(off.s);

    /* A wide window so the four requests meet in the queue even when slow
     * (sanitizers); the batch runs as soon as it holds 4 images. */
    av_serving_opts o = {.workers = 4,
                         .batch_max = N,
                         .batch_wait_ms = 2000,
                         .batch_queue = 8,
                         .models_dir = models};
    av_test_srv_start(&on, &o);
    post_job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i] =
            (post_job){.v = &on, .path = "/v1/models/birdsClassifier:predict", .body = bodies[i]};
        CHECK(pthread_create(&th[i], NULL, post_main, &jobs[i]) == 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        CHECK_MSG(jobs[i].status == 200, "batched %s: status %ld: %s", names[i], jobs[i].status,
                  av_test_err_of(jobs[i].j));
        json_t *got = json_object_get(jobs[i].j, "predictions");
        if (!json_equal(got, want[i])) {
            char *a = json_dumps(got, JSON_COMPACT), *b = json_dumps(want[i], JSON_COMPACT);
            FAIL("batched answer for %s differs:\n got %.300s\nwant %.300s", names[i], a, b);
        }
        json_decref(jobs[i].j);
        if (i > 0)
            json_decref(want[i]);
    }
    json_t *want0 = want[0]; /* parrot, again below */
    char *m = av_test_metrics_text(&on);
    double count = av_test_metric(m, "aviary_serving_batch_size_count");
    double sum = av_test_metric(m, "aviary_serving_batch_size_sum");
    CHECK_MSG(sum == N, "%g images went through batches, want %d", sum, N);
    CHECK_MSG(count >= 1 && count < N, "%g batches for %d concurrent requests: none shared", count,
              N);
    double le1 = av_test_metric(m, "aviary_serving_batch_size_bucket{le=\"1\"}");
    CHECK_MSG(le1 < count, "every batch had one image (%g of %g)", le1, count);
    /* NanoDet batches: each batch, whatever its size, was one detector pass */
    double runs = av_test_metric(m, "aviary_serving_batch_detector_runs_total");
    CHECK_MSG(runs == count, "%g detector runs for %g batches of %d images", runs, count, N);
    free(m);

    /* A lone request still runs (after the wait) and a request with more
     * images than batch_max runs as one batch of its own. */
    size_t bl = strlen(bodies[0]);
    const char *inner = strstr(bodies[0], "{\"b64\"");
    size_t il = strlen(inner) - 2; /* drop the closing "]}" */
    char *big = malloc(bl * 6 + 64);
    CHECK(big != NULL);
    size_t k = (size_t)sprintf(big, "{\"instances\": [");
    for (int i = 0; i < N + 1; i++) {
        memcpy(big + k, inner, il);
        k += il;
        big[k++] = i < N ? ',' : ']';
    }
    big[k++] = '}';
    big[k] = '\0';
    long st;
    json_t *j = av_test_srv_call(&on, "POST", "/v1/models/birdsClassifier:predict", big, &st, NULL);
    CHECK_MSG(st == 200, "5-image request: status %ld: %s", st, av_test_err_of(j));
    CHECK_EQ_INT(json_array_size(json_object_get(j, "predictions")), N + 1);
    json_decref(j);
    free(big);
    m = av_test_metrics_text(&on);
    CHECK_MSG(av_test_metric(m, "aviary_serving_batch_size_sum") == 2 * N + 1,
              "5 more images expected");
    CHECK_MSG(av_test_metric(m, "aviary_serving_batch_detector_runs_total") == count + 1,
              "the 5-image request took more than one detector run");
    free(m);
    /* Bad images fail the same way as unbatched. */
    av_test_srv_expect_error(&on, "POST", "/v1/models/birdsClassifier:predict",
                             "{\"instances\": [{\"b64\": \"aGVsbG8=\"}]}", 400, "");
    av_serving_stop(on.s);

    /* Past the decode-ahead budget (max_pixels per worker: here one
     * parrot) the second image stays encoded and the batch thread decodes
     * it: same answers. */
    av_serving_opts tight = {.workers = 1,
                             .max_pixels = 500000,
                             .batch_max = 2,
                             .batch_wait_ms = 1,
                             .models_dir = models};
    av_test_srv_start(&on, &tight);
    char *two = malloc(2 * il + 64);
    CHECK(two != NULL);
    sprintf(two, "{\"instances\": [%.*s,%.*s]}", (int)il, inner, (int)il, inner);
    j = av_test_srv_call(&on, "POST", "/v1/models/birdsClassifier:predict", two, &st, NULL);
    CHECK_MSG(st == 200, "two parrots: status %ld: %s", st, av_test_err_of(j));
    for (size_t i = 0; i < 2; i++)
        CHECK_MSG(json_equal(json_array_get(json_object_get(j, "predictions"), i),
                             json_array_get(want0, 0)),
                  "parrot %zu decoded by the batch thread differs", i);
    json_decref(j);
    free(two);
    av_serving_stop(on.s);
    json_decref(want0);
    for (int i = 0; i < N; i++)
        free(bodies[i]);
}

/* More waiting requests than --batch-queue: the extra ones get TF
 * Serving's UNAVAILABLE as 503 with Retry-After, the others are answered. */
TEST(batch_queue_full_is_503_with_retry_after)
{
    char *body = av_test_b64_request(av_test_shared("testdata/images/parrot.jpg"));
    av_serving_opts o = {.workers = 4, .batch_max = 8, .batch_wait_ms = 1500, .batch_queue = 2};
    av_test_srv v;
    av_test_srv_start(&v, &o);
    enum { N = 4 };
    post_job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (post_job){.v = &v, .path = "/v1/models/birdsClassifier:predict", .body = body};
        CHECK(pthread_create(&th[i], NULL, post_main, &jobs[i]) == 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    int ok = 0, full = 0;
    for (int i = 0; i < N; i++) {
        if (jobs[i].status == 200) {
            ok++;
            json_t *p = json_array_get(json_object_get(jobs[i].j, "predictions"), 0);
            CHECK(json_number_value(json_object_get(p, "num_detections")) >= 1);
        } else {
            CHECK_MSG(jobs[i].status == 503, "status %ld: %s", jobs[i].status,
                      av_test_err_of(jobs[i].j));
            full++;
            CHECK_MSG(jobs[i].retry_after, "503 without Retry-After");
            CHECK_EQ_INT(json_object_size(jobs[i].j), 1);
            CHECK_STR_CONTAINS(av_test_err_of(jobs[i].j), "batch scheduling queue");
        }
        json_decref(jobs[i].j);
    }
    CHECK_MSG(ok >= 1 && ok <= 2, "%d requests answered with a queue of 2", ok);
    CHECK_MSG(full >= 2, "%d requests refused, want >= 2", full);
    char *m = av_test_metrics_text(&v);
    CHECK_STR_CONTAINS(m, "aviary_serving_requests_total{route=\"predict\",code=\"503\"}");
    free(m);
    av_serving_stop(v.s);
    free(body);
}

TEST_MAIN(T(batching_matches_unbatched_and_fills_batches),
          T(batch_queue_full_is_503_with_retry_after))
