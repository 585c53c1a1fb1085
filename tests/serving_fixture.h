/*
 * serving_fixture.h - shared set-up of the model server tests (t_serving*,
 * t_kserve): an in-process server on a free loopback port, JSON requests to
 * it, TF Serving's {"error"} answers, a b64 predict body, versions that
 * appear in a base path, the status list, /metrics.
 *
 * Linked into every test (Makefile TEST_LIB); failures go through CHECK and
 * SKIP, so call these only from inside a test case.
 */
#ifndef AV_SERVING_FIXTURE_H
#define AV_SERVING_FIXTURE_H

#include "http.h"

#include "serving/serving.h"

#include <jansson.h>

typedef struct av_test_srv {
    av_serving *s;
    char base[64]; /* http://127.0.0.1:PORT */
} av_test_srv;

/* Starts a server on 127.0.0.1, a free port, with o (NULL: defaults;
 * models_dir "models" unless o names a base path, 4 workers unless o says);
 * skips the case when the models are not installed. */
void av_test_srv_start(av_test_srv *v, const av_serving_opts *o);

/* Requests path on v (a JSON body, or none); the parsed JSON answer (NULL
 * when not JSON), its status in *status, the whole response in *keep when
 * keep is not NULL (free it with av_http_free). */
json_t *av_test_srv_call(const av_test_srv *v, const char *method, const char *path,
                         const char *body, long *status, av_http_resp *keep);

/* The "error" of an answer, or "(no error key)". */
const char *av_test_err_of(const json_t *j);

/* The answer is {"error": ...} with this status and msg in the message. */
void av_test_srv_expect_error(const av_test_srv *v, const char *method, const char *path,
                              const char *body, long status, const char *msg);

/* {"instances": [{"b64": ...}]} of the file at path (malloc'd). */
char *av_test_b64_request(const char *path);

/* Version `name` in base path base: a folder whose models/ links to
 * ./models (broken: a pipeline.json naming no detector), renamed into place
 * at once as a deployment does. */
void av_test_make_version(const char *base, const char *name, int broken);

/* State of version n in a TF status answer (and its error code), or NULL. */
const char *av_test_state_of(const json_t *st, const char *n, const char **code);

/* GET /metrics (malloc'd), and the value of an unlabelled line "NAME VALUE". */
char *av_test_metrics_text(const av_test_srv *v);
double av_test_metric(const char *text, const char *name);

#endif
