/*
 * health.c - the probes every role answers: GET /healthz (liveness),
 * /readyz (200 when the database answers, else 503) and /metrics
 * (Prometheus text from metrics.c plus the caller's extra lines).
 */
#include "web/internal.h"

#include "config/config.h"
#include "log/log.h"

#include <stdio.h>

enum MHD_Result av_web__health(av_web__req *r)
{
    av_web *w = r->w;
    char body[256];
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"ok\",\"role\":\"%s\",\"version\":\"%s\",\"uptime_s\":%lld}\n",
                     w->role, AV_VERSION, (long long)(time(NULL) - w->started));
    return av_web__send(r, MHD_HTTP_OK, "application/json", body, (size_t)n, NULL);
}

/* Ready when the store answers: a node that cannot reach its database
 * should get no traffic. Without a store (health-only roles) always ready. */
enum MHD_Result av_web__ready(av_web__req *r)
{
    av_web *w = r->w;
    char err[512] = "";
    int version = 0;
    if (w->o.store &&
        av_store_schema_version(w->o.store, &version, err, sizeof err) != AV_STORE_OK) {
        av_log(AV_LOG_WARN, "not_ready", "error", err, NULL);
        static const char body[] = "{\"status\":\"unavailable\",\"reason\":\"database\"}\n";
        return av_web__send(r, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", body,
                            sizeof body - 1, NULL);
    }
    char body[160];
    int n = snprintf(body, sizeof body, "{\"status\":\"ready\",\"role\":\"%s\",\"schema\":%d}\n",
                     w->role, version);
    return av_web__send(r, MHD_HTTP_OK, "application/json", body, (size_t)n, NULL);
}

enum MHD_Result av_web__metrics_page(av_web__req *r)
{
    av_web *w = r->w;
    if (!w->metrics)
        return av_web__send(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "no metrics\n", 11,
                            NULL);
    int queued = 0, running = 0;
    if (w->jobs)
        av_web__jobs_depth(w->jobs, &queued, &running);
    av_web__buf b;
    av_web__buf_init(&b, 1u << 20);
    av_web__metrics_text(w->metrics, &b, queued, running);
    if (w->o.extra_metrics) {
        char extra[4096];
        size_t n = w->o.extra_metrics(w->o.extra_metrics_ud, extra, sizeof extra);
        if (n < sizeof extra)
            av_web__buf_str(&b, extra);
    }
    enum MHD_Result ret =
        b.failed ? av_web__send(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "error\n", 6,
                                NULL)
                 : av_web__send(r, MHD_HTTP_OK, "text/plain; version=0.0.4", b.p, b.len, NULL);
    av_web__buf_free(&b);
    return ret;
}
