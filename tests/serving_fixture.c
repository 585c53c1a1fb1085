/*
 * serving_fixture.c - shared set-up of the model server tests
 * (serving_fixture.h).
 */
#include "serving_fixture.h"

#include "detect_fixture.h"
#include "harness.h"

#include "log/log.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void av_test_srv_start(av_test_srv *v, const av_serving_opts *o_in)
{
    av_log_setup(AV_LOG_WARN, AV_LOG_LOGFMT);
    av_serving_opts o = o_in ? *o_in : (av_serving_opts){0};
    o.listen = "127.0.0.1";
    o.port = 0;
    if (!o.models_dir && !o.base_path)
        o.models_dir = "models";
    if (!o.workers)
        o.workers = 4;
    char err[512];
    av_serving_status st = av_serving_start(&o, &v->s, err, sizeof err);
    if (st == AV_SERVING_E_MODEL && strstr(err, "cannot"))
        SKIP("models not installed (run scripts/setup)");
    CHECK_MSG(st == AV_SERVING_OK, "start: %s", err);
    snprintf(v->base, sizeof v->base, "http://127.0.0.1:%d", av_serving_port(v->s));
}

json_t *av_test_srv_call(const av_test_srv *v, const char *method, const char *path,
                         const char *body, long *status, av_http_resp *keep)
{
    char url[2400];
    snprintf(url, sizeof url, "%s%s", v->base, path);
    av_http_resp r;
    CHECK_EQ_INT(av_http_request(method, url, body ? "application/json" : NULL, body,
                                 body ? strlen(body) : 0, &r),
                 0);
    *status = r.status;
    json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
    if (keep)
        *keep = r;
    else
        av_http_free(&r);
    return j;
}

const char *av_test_err_of(const json_t *j)
{
    const char *e = json_string_value(json_object_get(j, "error"));
    return e ? e : "(no error key)";
}

void av_test_srv_expect_error(const av_test_srv *v, const char *method, const char *path,
                              const char *body, long status, const char *msg)
{
    long st;
    json_t *j = av_test_srv_call(v, method, path, body, &st, NULL);
    CHECK_MSG(j && json_object_size(j) == 1 && json_string_value(json_object_get(j, "error")),
              "%s %s: not {\"error\"}", method, path);
    CHECK_MSG(st == status, "%s %s: status %ld, want %ld (%s)", method, path, st, status,
              av_test_err_of(j));
    CHECK_STR_CONTAINS(av_test_err_of(j), msg);
    json_decref(j);
}

char *av_test_b64_request(const char *path)
{
    size_t n;
    unsigned char *img = av_test_read_file(path, &n);
    char *b64;
    size_t bl;
    CHECK(av_serving_b64_encode(img, n, &b64, &bl) == 0);
    free(img);
    char *body = malloc(bl + 64);
    CHECK(body != NULL);
    snprintf(body, bl + 64, "{\"instances\": [{\"b64\": \"%s\"}]}", b64);
    free(b64);
    return body;
}

void av_test_make_version(const char *base, const char *name, int broken)
{
    char tmp[1200], dst[1200], real[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/.incoming-%s", base, name);
    snprintf(dst, sizeof dst, "%s/%s", base, name);
    CHECK(mkdir(tmp, 0755) == 0);
    char models[1300];
    snprintf(models, sizeof models, "%s/models", tmp);
    if (broken) {
        CHECK(mkdir(models, 0755) == 0);
        char pj[1400];
        snprintf(pj, sizeof pj, "%s/pipeline.json", models);
        static const char text[] =
            "{\"detector\": \"no_such_detector\", \"species\": \"inat_bird\", "
            "\"crop_margin\": 0.15, \"whole_image_min_species_score\": 0.5}\n";
        av_test_write_file(pj, text, sizeof text - 1);
    } else {
        CHECK(realpath("models", real) != NULL);
        CHECK(symlink(real, models) == 0);
    }
    CHECK(rename(tmp, dst) == 0); /* appears atomically, as a deployment should do it */
}

const char *av_test_state_of(const json_t *st, const char *n, const char **code)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(st, "model_version_status"), i, e)
    {
        if (!strcmp(json_string_value(json_object_get(e, "version")), n)) {
            if (code)
                *code =
                    json_string_value(json_object_get(json_object_get(e, "status"), "error_code"));
            return json_string_value(json_object_get(e, "state"));
        }
    }
    return NULL;
}

char *av_test_metrics_text(const av_test_srv *v)
{
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", v->base);
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(url, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    char *t = strdup(r.body ? r.body : "");
    av_http_free(&r);
    CHECK(t != NULL);
    return t;
}

double av_test_metric(const char *text, const char *name)
{
    char key[160];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    CHECK_MSG(p, "metric %s missing", name);
    return strtod(p + strlen(key), NULL);
}
