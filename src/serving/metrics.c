/*
 * metrics.c - Prometheus text exposition for the model server (GET
 * /metrics): requests by route and status code, a latency histogram per
 * route (time from the complete request to the queued answer), images
 * predicted, the sizes of dynamic batches (images per batch, all models)
 * and the detector forward passes they made,
 * and the version each model serves (appended by server.c).
 */
#include "serving/internal.h"

#include <stdio.h>
#include <string.h>

static const char *const ROUTES[AV_SERVING__N_ROUTES] = {"status", "metadata", "predict",
                                                         "other"};
static const double BUCKETS[AV_SERVING__N_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5,   1.0,  2.5,   5.0,  10.0};

void av_serving__metrics_init(av_serving__metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void av_serving__metrics_batch(av_serving__metrics *m, int images, int det_runs)
{
    pthread_mutex_lock(&m->mu);
    for (int b = 0; b < AV_SERVING__N_BATCH_BUCKETS; b++)
        if (images <= (1 << b))
            m->batch_bucket[b]++;
    m->batch_count++;
    m->batch_sum += (unsigned long long)(images > 0 ? images : 0);
    m->det_runs += (unsigned long long)(det_runs > 0 ? det_runs : 0);
    pthread_mutex_unlock(&m->mu);
}

void av_serving__metrics_free(av_serving__metrics *m)
{
    pthread_mutex_destroy(&m->mu);
}

void av_serving__metrics_observe(av_serving__metrics *m, int route, unsigned code,
                                 double seconds, int images)
{
    if (route < 0 || route >= AV_SERVING__N_ROUTES)
        route = AV_SERVING__N_ROUTES - 1;
    pthread_mutex_lock(&m->mu);
    int i;
    for (i = 0; i < m->n_codes; i++)
        if (m->codes[i].route == route && m->codes[i].code == code)
            break;
    if (i == m->n_codes && m->n_codes < AV_SERVING__MAX_CODES) {
        m->codes[i].route = route;
        m->codes[i].code = code;
        m->n_codes++;
    }
    if (i < m->n_codes)
        m->codes[i].count++;
    for (int b = 0; b < AV_SERVING__N_BUCKETS; b++)
        if (seconds <= BUCKETS[b])
            m->bucket[route][b]++;
    m->count[route]++;
    m->sum[route] += seconds;
    m->images += (unsigned long long)(images > 0 ? images : 0);
    pthread_mutex_unlock(&m->mu);
}

size_t av_serving__metrics_text(av_serving__metrics *m, char *out, size_t cap)
{
    size_t n = 0;
#define OUT(...)                                                            \
    do {                                                                    \
        int k_ = snprintf(out + n, n < cap ? cap - n : 0, __VA_ARGS__);     \
        if (k_ > 0)                                                         \
            n += (size_t)k_;                                                \
    } while (0)
    pthread_mutex_lock(&m->mu);
    OUT("# HELP aviary_serving_requests_total Model server HTTP requests by route and status.\n"
        "# TYPE aviary_serving_requests_total counter\n");
    for (int i = 0; i < m->n_codes; i++)
        OUT("aviary_serving_requests_total{route=\"%s\",code=\"%u\"} %llu\n",
            ROUTES[m->codes[i].route], m->codes[i].code, m->codes[i].count);
    OUT("# HELP aviary_serving_request_seconds Time to answer a complete request.\n"
        "# TYPE aviary_serving_request_seconds histogram\n");
    for (int r = 0; r < AV_SERVING__N_ROUTES; r++) {
        for (int b = 0; b < AV_SERVING__N_BUCKETS; b++)
            OUT("aviary_serving_request_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", ROUTES[r],
                BUCKETS[b], m->bucket[r][b]);
        OUT("aviary_serving_request_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", ROUTES[r],
            m->count[r]);
        OUT("aviary_serving_request_seconds_sum{route=\"%s\"} %.6f\n", ROUTES[r], m->sum[r]);
        OUT("aviary_serving_request_seconds_count{route=\"%s\"} %llu\n", ROUTES[r], m->count[r]);
    }
    OUT("# HELP aviary_serving_images_total Images run through the pipeline.\n"
        "# TYPE aviary_serving_images_total counter\naviary_serving_images_total %llu\n",
        m->images);
    OUT("# HELP aviary_serving_batch_size Images per dynamic batch (batching on).\n"
        "# TYPE aviary_serving_batch_size histogram\n");
    for (int b = 0; b < AV_SERVING__N_BATCH_BUCKETS; b++)
        OUT("aviary_serving_batch_size_bucket{le=\"%d\"} %llu\n", 1 << b, m->batch_bucket[b]);
    OUT("aviary_serving_batch_size_bucket{le=\"+Inf\"} %llu\n"
        "aviary_serving_batch_size_sum %llu\naviary_serving_batch_size_count %llu\n",
        m->batch_count, m->batch_sum, m->batch_count);
    OUT("# HELP aviary_serving_batch_detector_runs_total Detector forward passes run by dynamic "
        "batches (one per batch when the detector batches, one per image when it cannot).\n"
        "# TYPE aviary_serving_batch_detector_runs_total counter\n"
        "aviary_serving_batch_detector_runs_total %llu\n",
        m->det_runs);
    pthread_mutex_unlock(&m->mu);
#undef OUT
    return n;
}
