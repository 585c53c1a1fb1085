/*
 * bench_serving.c - model server predict throughput and latency over
 * loopback: requests/s, p50 and p99 at concurrency 1, 2 and 4, for the two
 * request formats on the same pixels,
 *   b64 JPEG     {"instances": [{"b64": "<JPEG q90>"}]}   (our client)
 *   nested list  {"instances": [{"input_tensor": HxWx3}]} (the original client)
 * plus the in-process cost of the same JPEG (av_detect_run, no HTTP) to show
 * what the remote hop adds, and dynamic batching: b64 JPEG at concurrency
 * 1, 4 and 16 with batching off (4 workers, each its own engine context)
 * and on (--batch-max 8 --batch-wait-ms 5: a batch thread runs a batch's
 * images through one shared detector forward pass; with 1 batch thread,
 * and with one per core). The image is bird.bmp from ../shared (its own size); each
 * server runs in this process on an ephemeral port with 4 HTTP workers and
 * 1 engine thread per run unless said otherwise.
 *
 *   build/bench/bench_serving [REQUESTS] [MODELS_DIR]   (run from the repo root)
 */
#include "bench_util.h"
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"
#include "serving/serving.h"
#include "vision/vision.h"

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

typedef struct job {
    const char *url, *body;
    size_t len;
    int total;
    int next;          /* guarded by mu */
    int failed;
    double *lat;
    pthread_mutex_t mu;
} job;

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
    (void)p, (void)ud;
    return s * n;
}

static void *client(void *arg)
{
    job *j = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int i = j->next < j->total ? j->next++ : -1;
        pthread_mutex_unlock(&j->mu);
        if (i < 0 || !h)
            break;
        curl_easy_setopt(h, CURLOPT_URL, j->url);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, j->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        double t0 = bench_now_ms();
        long code = 0;
        if (curl_easy_perform(h) != CURLE_OK ||
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200) {
            pthread_mutex_lock(&j->mu);
            j->failed++;
            pthread_mutex_unlock(&j->mu);
        }
        j->lat[i] = bench_now_ms() - t0;
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

static void run(const char *name, const char *url, const char *body, size_t len, int n, int conc)
{
    job j = {.url = url, .body = body, .len = len, .total = n};
    j.lat = calloc((size_t)n, sizeof *j.lat);
    pthread_mutex_init(&j.mu, NULL);
    pthread_t th[32];
    if (conc > 32)
        conc = 32;
    double t0 = bench_now_ms();
    for (int i = 0; i < conc; i++)
        pthread_create(&th[i], NULL, client, &j);
    for (int i = 0; i < conc; i++)
        pthread_join(th[i], NULL);
    double wall = bench_now_ms() - t0;
    if (name && !strcmp(name, "-")) { /* silent warm-up */
        pthread_mutex_destroy(&j.mu);
        free(j.lat);
        return;
    }
    if (name)
        printf("%-12s %11.1f KB ", name, (double)len / 1024);
    printf("%4d %8.1f %9.1f %9.1f %6d\n", conc, n / (wall / 1e3), pct(j.lat, n, 0.5),
           pct(j.lat, n, 0.99), j.failed);
    pthread_mutex_destroy(&j.mu);
    free(j.lat);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 40;
    const char *models = argc > 2 ? argv[2] : "models";
    const char *shared = getenv("AVIARY_SHARED") ? getenv("AVIARY_SHARED") : "../shared";
    if (n < 4)
        n = 4;
    av_log_setup(AV_LOG_WARN, AV_LOG_LOGFMT);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    char path[600], err[512];
    snprintf(path, sizeof path, "%s/testdata/images/bird.bmp", shared);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_serving: cannot open %s\n", path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long fl = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bmp = malloc((size_t)fl);
    if (!bmp || fread(bmp, 1, (size_t)fl, f) != (size_t)fl)
        return 1;
    fclose(f);
    av_image *img = NULL;
    if (av_vision_decode(bmp, (size_t)fl, NULL, &img, NULL, err, sizeof err)) {
        fprintf(stderr, "bench_serving: %s\n", err);
        return 1;
    }
    free(bmp);
    unsigned char *jpg = NULL;
    size_t jl = 0;
    if (av_vision_encode_jpeg(img, 90, &jpg, &jl, err, sizeof err))
        return 1;

    /* The two bodies. */
    char *b64;
    size_t bl;
    if (av_serving_b64_encode(jpg, jl, &b64, &bl))
        return 1;
    size_t b64_len = bl + 64;
    char *b64_body = malloc(b64_len);
    b64_len = (size_t)snprintf(b64_body, b64_len, "{\"instances\": [{\"b64\": \"%s\"}]}", b64);
    free(b64);
    size_t cap = 64 + (size_t)img->width * img->height * 20 + (size_t)img->height * 4;
    char *nl = malloc(cap);
    size_t k = (size_t)snprintf(nl, cap, "{\"instances\": [{\"input_tensor\": [");
    for (int y = 0; y < img->height; y++) {
        nl[k++] = '[';
        for (int x = 0; x < img->width; x++) {
            const unsigned char *p = img->data + ((size_t)y * img->width + (size_t)x) * 3;
            k += (size_t)snprintf(nl + k, cap - k, "[%d, %d, %d]%s", p[0], p[1], p[2],
                                  x + 1 < img->width ? ", " : "");
        }
        k += (size_t)snprintf(nl + k, cap - k, "]%s", y + 1 < img->height ? ", " : "");
    }
    k += (size_t)snprintf(nl + k, cap - k, "]}]}");

    av_serving_opts o = {.listen = "127.0.0.1", .workers = 4, .threads = 1,
                         .models_dir = models};
    av_serving *s = NULL;
    if (av_serving_start(&o, &s, err, sizeof err)) {
        fprintf(stderr, "bench_serving: %s\n", err);
        return 1;
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/models/birdsClassifier:predict",
             av_serving_port(s));
    printf("bench_serving: bird.bmp %dx%d, %d requests per row, 4 HTTP workers, 1 engine "
           "thread per run\n",
           img->width, img->height, n);

    /* In-process baseline: the same JPEG through av_detect_run. */
    av_detect_pipeline *p = NULL;
    av_detect_open_opts oo = {.threads = 1, .max_contexts = 1};
    if (av_detect_pipeline_open(models, &oo, &p, err, sizeof err) == AV_DETECT_OK) {
        double *lat = calloc((size_t)n, sizeof *lat);
        for (int i = 0; i < n; i++) {
            av_detect_result r;
            double t0 = bench_now_ms();
            av_detect_run(p, jpg, jl, NULL, &r, err, sizeof err);
            lat[i] = bench_now_ms() - t0;
            av_detect_result_free(&r);
        }
        printf("in-process av_detect_run (JPEG, no HTTP): p50 %.1f ms, p99 %.1f ms\n",
               pct(lat, n, 0.5), pct(lat, n, 0.99));
        free(lat);
        av_detect_pipeline_close(p);
    }
    printf("%-12s %14s %4s %8s %9s %9s %6s\n", "format", "body", "conc", "req/s", "p50 ms",
           "p99 ms", "failed");
    run("warm-up", url, b64_body, b64_len, 4, 1);
    int concs[] = {1, 2, 4};
    for (int c = 0; c < 3; c++) {
        run("b64-jpeg", url, b64_body, b64_len, n, concs[c]);
        run("nested-list", url, nl, k, n, concs[c]);
    }
    av_serving_stop(s);

    /* Batching off vs on, same body. */
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    struct {
        const char *name;
        int batch_max, batch_threads;
    } modes[] = {{"off", 0, 0}, {"on", 8, 1}, {"on", 8, cores}};
    printf("\nbatching (b64 JPEG, 4 HTTP workers, 1 engine thread per run; on = --batch-max 8 "
           "--batch-wait-ms 5)\n");
    printf("%-12s %14s %4s %8s %9s %9s %6s\n", "batching", "batch threads", "conc", "req/s",
           "p50 ms", "p99 ms", "failed");
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        av_serving_opts bo = {.listen = "127.0.0.1", .workers = 4, .threads = 1,
                              .models_dir = models, .batch_max = modes[m].batch_max,
                              .batch_wait_ms = 5, .batch_queue = 64,
                              .batch_threads = modes[m].batch_threads};
        if (av_serving_start(&bo, &s, err, sizeof err)) {
            fprintf(stderr, "bench_serving: %s\n", err);
            return 1;
        }
        snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/models/birdsClassifier:predict",
                 av_serving_port(s));
        run("-", url, b64_body, b64_len, 8, 4); /* contexts made, weights packed */
        int bconc[] = {1, 4, 16};
        for (int c = 0; c < 3; c++) {
            if (modes[m].batch_max)
                printf("%-12s %14d ", modes[m].name, modes[m].batch_threads);
            else
                printf("%-12s %14s ", modes[m].name, "-");
            run(NULL, url, b64_body, b64_len, n, bconc[c]);
        }
        av_serving_stop(s);
    }
    av_img_free(img);
    free(jpg);
    free(b64_body);
    free(nl);
    curl_global_cleanup();
    return 0;
}
