/*
 * metrics.c - Prometheus text for the web node (GET /metrics): requests by
 * route and status code, a latency histogram per route (first byte of the
 * request to the queued answer, so a results page waiting for its analysis
 * counts that wait), analyses by outcome with their duration, and the
 * analysis queue. Route names are a fixed set, so label cardinality is
 * bounded whatever URLs clients send.
 */
#include "web/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_BUCKETS 11
#define MAX_CODES 96

static const char *const ROUTES[AV_WEB__N_METRIC_ROUTES] = {
    "index", "upload", "results", "feedback", "monitor", "image",
    "static", "api", "health", "metrics", "other"};
static const double BUCKETS[N_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5,   1.0,  2.5,   5.0,  10.0};

typedef struct histogram {
    unsigned long long bucket[N_BUCKETS], count;
    double sum;
} histogram;

struct av_web__metrics {
    pthread_mutex_t mu;
    struct {
        av_web__metric_route route;
        unsigned code;
        unsigned long long count;
    } codes[MAX_CODES];
    int n_codes;
    histogram req[AV_WEB__N_METRIC_ROUTES];
    histogram analysis;
};

static void observe(histogram *h, double s)
{
    for (int b = 0; b < N_BUCKETS; b++)
        if (s <= BUCKETS[b])
            h->bucket[b]++;
    h->count++;
    h->sum += s;
}

av_web__metrics *av_web__metrics_new(void)
{
    av_web__metrics *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->mu, NULL);
    return m;
}

void av_web__metrics_free(av_web__metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void av_web__metrics_request(av_web__metrics *m, av_web__metric_route route, unsigned code,
                             double seconds)
{
    if (!m)
        return;
    if ((int)route < 0 || route >= AV_WEB__N_METRIC_ROUTES)
        route = AV_WEB__ROUTE_M_OTHER;
    pthread_mutex_lock(&m->mu);
    int i;
    for (i = 0; i < m->n_codes; i++)
        if (m->codes[i].route == route && m->codes[i].code == code)
            break;
    if (i == m->n_codes && m->n_codes < MAX_CODES) {
        m->codes[i].route = route;
        m->codes[i].code = code;
        m->codes[i].count = 0;
        m->n_codes++;
    }
    if (i < m->n_codes)
        m->codes[i].count++;
    observe(&m->req[route], seconds);
    pthread_mutex_unlock(&m->mu);
}

void av_web__metrics_analysis(av_web__metrics *m, double seconds)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    observe(&m->analysis, seconds);
    pthread_mutex_unlock(&m->mu);
}

/* One histogram's lines; labels is "" or 'route="x",' (with the comma). */
static void histogram_text(av_web__buf *b, const char *name, const char *labels, const histogram *h)
{
    size_t l = strlen(labels);
    for (int i = 0; i < N_BUCKETS; i++)
        av_web__buf_fmt(b, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, BUCKETS[i],
                        h->bucket[i]);
    av_web__buf_fmt(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, h->count);
    /* _sum and _count carry the same labels without the trailing comma */
    av_web__buf_fmt(b, "%s_sum%s%.*s%s %.6f\n", name, l ? "{" : "", l ? (int)l - 1 : 0, labels,
                    l ? "}" : "", h->sum);
    av_web__buf_fmt(b, "%s_count%s%.*s%s %llu\n", name, l ? "{" : "", l ? (int)l - 1 : 0,
                    labels, l ? "}" : "", h->count);
}

void av_web__metrics_text(av_web__metrics *m, av_web__buf *b, int queued, int running)
{
    pthread_mutex_lock(&m->mu);
    av_web__buf_str(b, "# HELP aviary_web_requests_total Web HTTP requests by route and status.\n"
                       "# TYPE aviary_web_requests_total counter\n");
    for (int i = 0; i < m->n_codes; i++) {
        char code[16] = "none"; /* connection closed before an answer was queued */
        if (m->codes[i].code)
            snprintf(code, sizeof code, "%u", m->codes[i].code);
        av_web__buf_fmt(b, "aviary_web_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                        ROUTES[m->codes[i].route], code, m->codes[i].count);
    }
    av_web__buf_str(b, "# HELP aviary_web_request_seconds Time from request to queued answer.\n"
                       "# TYPE aviary_web_request_seconds histogram\n");
    for (int r = 0; r < AV_WEB__N_METRIC_ROUTES; r++) {
        char labels[48];
        snprintf(labels, sizeof labels, "route=\"%s\",", ROUTES[r]);
        histogram_text(b, "aviary_web_request_seconds", labels, &m->req[r]);
    }
    av_web__buf_str(b, "# HELP aviary_web_analysis_seconds Time to analyse one upload.\n"
                       "# TYPE aviary_web_analysis_seconds histogram\n");
    histogram_text(b, "aviary_web_analysis_seconds", "", &m->analysis);
    pthread_mutex_unlock(&m->mu);
    av_web__buf_fmt(b,
                    "# HELP aviary_web_analysis_queue Analyses waiting and running.\n"
                    "# TYPE aviary_web_analysis_queue gauge\n"
                    "aviary_web_analysis_queue{state=\"queued\"} %d\n"
                    "aviary_web_analysis_queue{state=\"running\"} %d\n",
                    queued, running);
}
