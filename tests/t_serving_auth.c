/*
 * t_serving_auth.c - the model server's /metrics behind a bearer token
 * (--metrics-token), while health and readiness probes stay open.
 */
#include "harness.h"
#include "http.h"

#include "log/log.h"
#include "serving/serving.h"

#include <stdio.h>
#include <string.h>

TEST(model_server_metrics_token)
{
    av_log_setup(AV_LOG_WARN, AV_LOG_LOGFMT);
    av_serving_opts o = {.listen = "127.0.0.1", .models_dir = "models", .workers = 2,
                         .metrics_token = "m0del-metrics"};
    av_serving *s = NULL;
    char err[512], url[128];
    av_serving_status st = av_serving_start(&o, &s, err, sizeof err);
    if (st == AV_SERVING_E_MODEL && strstr(err, "cannot"))
        SKIP("models not installed (run scripts/setup)");
    CHECK_MSG(st == AV_SERVING_OK, "start: %s", err);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", av_serving_port(s));
    av_http_resp r;
    CHECK_EQ_INT(av_http_send("GET", url, NULL, NULL, NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 401);
    av_http_free(&r);
    const char *wrong[] = {"Authorization: Bearer m0del-metricz", NULL};
    CHECK_EQ_INT(av_http_send("GET", url, wrong, NULL, NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 401);
    av_http_free(&r);
    const char *right[] = {"Authorization: Bearer m0del-metrics", NULL};
    CHECK_EQ_INT(av_http_send("GET", url, right, NULL, NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "aviary_serving_model_version");
    av_http_free(&r);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", av_serving_port(s));
    CHECK_EQ_INT(av_http_send("GET", url, NULL, NULL, NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    av_http_free(&r);
    av_serving_stop(s);

    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    o.metrics_token = big;
    CHECK_EQ_INT(av_serving_start(&o, &s, err, sizeof err), AV_SERVING_E_ARG);
    CHECK_STR_CONTAINS(err, "metrics token");
}

TEST_MAIN(T(model_server_metrics_token))
