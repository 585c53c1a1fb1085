/*
 * bench_web.c - the web application under load over loopback.
 *
 *   bench_web [-b build/aviary] [-i IMAGE] [-s SECONDS] [-c 1,8,32]
 *             [-u URL] [-l results,upload,analysed] [-n UPLOADS]
 *
 * Starts `aviary serve` on a free port with a fresh data folder (or, with
 * -u, drives the server or balancer already answering at URL), uploads
 * IMAGE and views its results page once (so the analysis is done and
 * stored), then for each concurrency C runs C client threads, each with
 * one keep-alive libcurl handle, for SECONDS:
 *   results  GET /uploads/<ID> (the cached results page: one store read, template)
 *   upload   POST /upload, multipart, IMAGE (streamed to disk, stored, 303)
 *   analysed (only when -l names it) UPLOADS images, C at a time: POST
 *            /api/v1/images, then GET /api/v1/images/<ID> until its status
 *            is no longer "pending"; analysed images/s over the whole batch,
 *            latency from upload to analysed (end to end, with inference)
 * and prints requests/s, p50 and p99 latency, errors, and the server's
 * peak RSS (VmHWM) at the end (not with -u). -l picks the loads (default
 * results,upload). Figures, not assertions.
 *   birder   (only when -l names it; not with -u) seeds the database with
 *            -N images (default 10000: two birds each, every tenth reviewed,
 *            every third with an EXIF time) before the server starts, then
 *            times single GETs of the birder's pages (/uploads, a filtered
 *            /uploads, /species, /species/<name>, /activity, /review):
 *            median and p90 of 30 each, against the 50 ms target.
 */
#define _GNU_SOURCE
#include "bench_util.h"
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t sink(void *p, size_t sz, size_t n, void *ud)
{
    (void)p, (void)ud;
    return sz * n;
}

typedef struct job {
    const char *url;
    const char *image; /* NULL: GET */
    double until;
    double *lat;
    long n, cap, errors;
} job;

static void *client(void *arg)
{
    job *j = arg;
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_mime *mime = NULL;
    if (j->image) {
        mime = curl_mime_init(h);
        curl_mimepart *part = curl_mime_addpart(mime);
        curl_mime_name(part, "file");
        curl_mime_filedata(part, j->image);
        curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    }
    curl_easy_setopt(h, CURLOPT_URL, j->url);
    while (now_s() < j->until && j->n < j->cap) {
        double t0 = now_s();
        long code = 0;
        CURLcode rc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        if (rc != CURLE_OK || (code != 200 && code != 303)) {
            j->errors++;
            continue;
        }
        j->lat[j->n++] = now_s() - t0;
    }
    curl_mime_free(mime);
    curl_easy_cleanup(h);
    return NULL;
}

static void run(const char *what, const char *url, const char *image, int conc, double secs)
{
    job *jobs = calloc((size_t)conc, sizeof *jobs);
    pthread_t *th = calloc((size_t)conc, sizeof *th);
    if (!jobs || !th)
        return;
    double start = now_s();
    for (int i = 0; i < conc; i++) {
        jobs[i] = (job){.url = url, .image = image, .until = start + secs, .cap = 2000000};
        jobs[i].lat = malloc((size_t)jobs[i].cap * sizeof(double));
        pthread_create(&th[i], NULL, client, &jobs[i]);
    }
    long total = 0, errors = 0;
    for (int i = 0; i < conc; i++) {
        pthread_join(th[i], NULL);
        total += jobs[i].n;
        errors += jobs[i].errors;
    }
    double el = now_s() - start;
    double *all = malloc((size_t)(total ? total : 1) * sizeof *all);
    long k = 0;
    for (int i = 0; i < conc; i++) {
        memcpy(all + k, jobs[i].lat, (size_t)jobs[i].n * sizeof *all);
        k += jobs[i].n;
        free(jobs[i].lat);
    }
    qsort(all, (size_t)total, sizeof *all, bench_cmp_double);
    double p50 = total ? all[total / 2] * 1e3 : 0, p99 = total ? all[total * 99 / 100] * 1e3 : 0;
    printf("%-8s concurrency %3d  %9.0f req/s  p50 %8.3f ms  p99 %8.3f ms  (%ld requests, %ld "
           "errors, %.1f s)\n",
           what, conc, total / el, p50, p99, total, errors, el);
    fflush(stdout);
    free(all);
    free(jobs);
    free(th);
}

/* --- analysed: upload, then poll the JSON API until the analysis is done */

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t keep(void *p, size_t sz, size_t n, void *ud)
{
    buf *b = ud;
    size_t add = sz * n;
    if (b->n + add > 65536) /* a JSON answer is small: keep its start */
        add = b->n < 65536 ? 65536 - b->n : 0;
    char *q = realloc(b->p, b->n + add + 1);
    if (!q)
        return 0;
    memcpy(q + b->n, p, add);
    b->p = q;
    b->n += add;
    b->p[b->n] = 0;
    return sz * n;
}

typedef struct ajob {
    const char *base, *image;
    atomic_long *next;
    long total;
    double *lat;
    long n, errors;
} ajob;

/* "id":"<hex>" from an upload answer */
static int json_id(const char *s, char *id, size_t cap)
{
    const char *p = s ? strstr(s, "\"id\":\"") : NULL;
    if (!p)
        return -1;
    p += 6;
    size_t k = strcspn(p, "\"");
    if (!k || k >= cap || p[k] != '"')
        return -1;
    memcpy(id, p, k);
    id[k] = 0;
    return 0;
}

static void *aclient(void *arg)
{
    ajob *j = arg;
    CURL *up = curl_easy_init(), *get = curl_easy_init();
    if (!up || !get)
        goto out;
    buf b = {0};
    char url[512], id[128];
    snprintf(url, sizeof url, "%s/api/v1/images", j->base);
    curl_mime *mime = curl_mime_init(up);
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_name(part, "file");
    curl_mime_filedata(part, j->image);
    curl_easy_setopt(up, CURLOPT_URL, url);
    curl_easy_setopt(up, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(up, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(up, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(up, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(get, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(get, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(get, CURLOPT_WRITEDATA, &b);
    while (atomic_fetch_add(j->next, 1) < j->total) {
        double t0 = now_s();
        long code = 0;
        b.n = 0;
        if (curl_easy_perform(up) != CURLE_OK ||
            curl_easy_getinfo(up, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 201 ||
            json_id(b.p, id, sizeof id)) {
            j->errors++;
            continue;
        }
        snprintf(url, sizeof url, "%s/api/v1/images/%s", j->base, id);
        curl_easy_setopt(get, CURLOPT_URL, url);
        int ok = 0;
        while (now_s() - t0 < 120) { /* a GET waits for a pending analysis itself */
            b.n = 0;
            code = 0;
            CURLcode rc = curl_easy_perform(get);
            curl_easy_getinfo(get, CURLINFO_RESPONSE_CODE, &code);
            if (rc == CURLE_OK && code == 200 && b.p && strstr(b.p, "\"status\":\"done\"")) {
                ok = 1;
                break;
            }
            if (rc == CURLE_OK && code == 200 && b.p && strstr(b.p, "\"status\":\"failed\""))
                break;
            usleep(50 * 1000); /* pending, 503 busy, or a balancer error: again */
        }
        if (ok)
            j->lat[j->n++] = now_s() - t0;
        else
            j->errors++;
    }
    curl_mime_free(mime);
    free(b.p);
out:
    curl_easy_cleanup(up);
    curl_easy_cleanup(get);
    return NULL;
}

static void run_analysed(const char *base, const char *image, int conc, long total)
{
    ajob *jobs = calloc((size_t)conc, sizeof *jobs);
    pthread_t *th = calloc((size_t)conc, sizeof *th);
    double *all = malloc((size_t)(total > 0 ? total : 1) * sizeof *all);
    if (!jobs || !th || !all)
        return;
    atomic_long next = 0;
    double start = now_s();
    for (int i = 0; i < conc; i++) {
        jobs[i] = (ajob){.base = base, .image = image, .next = &next, .total = total};
        jobs[i].lat = malloc((size_t)(total > 0 ? total : 1) * sizeof(double));
        pthread_create(&th[i], NULL, aclient, &jobs[i]);
    }
    long done = 0, errors = 0;
    for (int i = 0; i < conc; i++) {
        pthread_join(th[i], NULL);
        memcpy(all + done, jobs[i].lat, (size_t)jobs[i].n * sizeof *all);
        done += jobs[i].n;
        errors += jobs[i].errors;
        free(jobs[i].lat);
    }
    double el = now_s() - start;
    qsort(all, (size_t)done, sizeof *all, bench_cmp_double);
    double p50 = done ? all[done / 2] * 1e3 : 0, p99 = done ? all[done * 99 / 100] * 1e3 : 0;
    printf("%-8s concurrency %3d  %9.2f img/s  p50 %8.1f ms  p99 %8.1f ms  (%ld analysed, %ld "
           "errors, %.1f s)\n",
           "analysed", conc, done / el, p50, p99, done, errors, el);
    fflush(stdout);
    free(all);
    free(jobs);
    free(th);
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &l))
        return -1;
    close(s);
    return ntohs(a.sin_port);
}

/* POST the image once without following the redirect; the ID from Location. */
static int upload_once(const char *base, const char *image, char *id, size_t cap)
{
    char url[256], *loc = NULL;
    snprintf(url, sizeof url, "%s/upload", base);
    CURL *h = curl_easy_init();
    curl_mime *mime = curl_mime_init(h);
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_name(part, "file");
    curl_mime_filedata(part, image);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    int ok = curl_easy_perform(h) == CURLE_OK &&
             curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc &&
             strstr(loc, "/uploads/");
    if (ok)
        snprintf(id, cap, "%s", strstr(loc, "/uploads/") + 9);
    curl_mime_free(mime);
    curl_easy_cleanup(h);
    return ok ? 0 : -1;
}

static long peak_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

static int has_load(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *c = list; *c;) {
        size_t k = strcspn(c, ",");
        if (k == n && !strncmp(c, name, n))
            return 1;
        c += k;
        if (*c == ',')
            c++;
    }
    return 0;
}

/* ---- the birder's pages over a big database ---- */

static const char *const SEED_SPECIES[][2] = {
    {"Erithacus rubecula", "European Robin"}, {"Pica pica", "Eurasian Magpie"},
    {"Parus major", "Great Tit"},             {"Turdus merula", "Eurasian Blackbird"},
    {"Passer domesticus", "House Sparrow"},   {"Cyanistes caeruleus", "Eurasian Blue Tit"},
    {"Fringilla coelebs", "Common Chaffinch"}, {"Corvus corone", "Carrion Crow"}};

static int seed(const char *data, long n)
{
    char url[600], err[512];
    snprintf(url, sizeof url, "sqlite:%s/aviary.db", data);
    av_store *s = NULL;
    if (av_store_open(url, &s, err, sizeof err) != AV_STORE_OK ||
        av_store_migrate(s, NULL, err, sizeof err) != AV_STORE_OK) {
        fprintf(stderr, "bench_web: seed: %s\n", err);
        return -1;
    }
    static const unsigned char jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1};
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        av_store_image img;
        memset(&img, 0, sizeof img);
        av_store_new_id(img.id);
        snprintf(img.name, sizeof img.name, "seed-%ld.jpg", i);
        snprintf(img.ext, sizeof img.ext, "jpg");
        snprintf(img.content_type, sizeof img.content_type, "image/jpeg");
        img.size_bytes = sizeof jpeg;
        av_store_detection d[2];
        memset(d, 0, sizeof d);
        for (int k = 0; k < 2; k++) {
            int sp = (int)((i * 7 + k * 3) % 8);
            d[k].x1 = 10 + 300 * k, d[k].y1 = 20, d[k].x2 = 200 + 300 * k, d[k].y2 = 300;
            d[k].score = d[k].species_score = 0.3 + 0.6 * (double)((i + k) % 10) / 10;
            d[k].detector_score = 0.8;
            d[k].class_id = sp + 1;
            snprintf(d[k].label, sizeof d[k].label, "bird");
            snprintf(d[k].species, sizeof d[k].species, "%s", SEED_SPECIES[sp][0]);
            snprintf(d[k].common_name, sizeof d[k].common_name, "%s", SEED_SPECIES[sp][1]);
            snprintf(d[k].model_version, sizeof d[k].model_version, "seed@1");
        }
        if (av_store_image_insert(s, &img, jpeg, sizeof jpeg, err, sizeof err) != AV_STORE_OK ||
            av_store_analysis_put(s, img.id, 640, 480, d, 2, err, sizeof err) != AV_STORE_OK) {
            fprintf(stderr, "bench_web: seed: %s\n", err);
            av_store_close(s);
            return -1;
        }
        if (i % 3 == 0) {
            av_store_image_meta m = {"", 0, 0, 0};
            snprintf(m.taken_at, sizeof m.taken_at, "2026-%02ld-%02ldT%02ld:15:00", 1 + i % 12,
                     1 + i % 28, i % 24);
            av_store_image_meta_put(s, img.id, &m, err, sizeof err);
        }
        if (i % 10 == 0) {
            av_store_review r;
            memset(&r, 0, sizeof r);
            snprintf(r.image_id, sizeof r.image_id, "%s", img.id);
            snprintf(r.who, sizeof r.who, "bench");
            r.box = 1;
            r.action = AV_REVIEW_SPECIES;
            snprintf(r.species, sizeof r.species, "Corvus corone");
            av_store_review_add(s, &r, err, sizeof err);
        }
    }
    /* as many live-camera visits (issue 19), each with a best frame: the birder
     * pages read them from the same snapshot */
    for (long i = 0; i < n; i++) {
        av_store_camera_visit v;
        memset(&v, 0, sizeof v);
        snprintf(v.camera, sizeof v.camera, "cam%ld", i % 3);
        v.first_ms = 1767225600000LL + i * 600000LL; /* from 2026-01-01, every 10 min */
        v.last_ms = v.first_ms + 30000;
        int sp = (int)(i % 8);
        snprintf(v.species, sizeof v.species, "%s", SEED_SPECIES[sp][0]);
        snprintf(v.common_name, sizeof v.common_name, "%s", SEED_SPECIES[sp][1]);
        snprintf(v.label, sizeof v.label, "%s", SEED_SPECIES[sp][1]);
        v.score = 0.5 + 0.4 * (double)(i % 10) / 10;
        v.n_frames = 10;
        v.x2 = v.y2 = 100;
        if (av_store_camera_visit_add(s, &v, jpeg, sizeof jpeg, NULL, err, sizeof err) !=
            AV_STORE_OK) {
            fprintf(stderr, "bench_web: seed: %s\n", err);
            av_store_close(s);
            return -1;
        }
    }
    printf("seeded %ld images (%ld birds) and %ld camera visits in %.1f s\n", n, 2 * n, n,
           now_s() - t0);
    av_store_close(s);
    return 0;
}

static void time_pages(const char *base)
{
    static const char *const pages[] = {"/uploads", "/uploads?species=Pica%20pica&page=3",
                                        "/species", "/species/Pica%20pica", "/activity",
                                        "/review"};
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    for (size_t p = 0; p < sizeof pages / sizeof pages[0]; p++) {
        char url[512];
        snprintf(url, sizeof url, "%s%s", base, pages[p]);
        curl_easy_setopt(h, CURLOPT_URL, url);
        enum { N = 30 };
        double lat[N];
        long code = 0;
        for (int i = 0; i < N; i++) {
            double t0 = now_s();
            curl_easy_perform(h);
            lat[i] = (now_s() - t0) * 1e3;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        }
        double first = lat[0]; /* /species: the snapshot of every bird is built here */
        qsort(lat, N, sizeof lat[0], bench_cmp_double);
        printf("birder %-38s HTTP %ld  first %7.1f ms  median %7.1f ms  p90 %7.1f ms"
               "  (target < 50 ms: %s)\n",
               pages[p], code, first, lat[N / 2], lat[N * 9 / 10],
               lat[N / 2] < 50 ? "met" : "MISSED");
    }
    curl_easy_cleanup(h);
}

int main(int argc, char **argv)
{
    const char *bin = "build/aviary", *image = "../shared/testdata/images/parrot.jpg";
    const char *concs = "1,8,32", *url_opt = NULL, *loads = "results,upload";
    double secs = 5;
    long uploads = 32, seeded = 10000;
    int opt;
    while ((opt = getopt(argc, argv, "b:i:s:c:u:l:n:N:")) != -1) {
        if (opt == 'b')
            bin = optarg;
        else if (opt == 'i')
            image = optarg;
        else if (opt == 's')
            secs = atof(optarg);
        else if (opt == 'c')
            concs = optarg;
        else if (opt == 'u')
            url_opt = optarg;
        else if (opt == 'l')
            loads = optarg;
        else if (opt == 'n')
            uploads = atol(optarg);
        else if (opt == 'N')
            seeded = atol(optarg);
        else {
            fprintf(stderr,
                    "usage: %s [-b aviary] [-i image] [-s seconds] [-c 1,8,32] [-u URL] "
                    "[-l results,upload,analysed,birder] [-n uploads] [-N seeded images]\n",
                    argv[0]);
            return 2;
        }
    }
    for (const char *c = loads; *c;) {
        size_t k = strcspn(c, ",");
        if (!((k == 7 && !strncmp(c, "results", 7)) || (k == 6 && !strncmp(c, "upload", 6)) ||
              (k == 8 && !strncmp(c, "analysed", 8)) || (k == 6 && !strncmp(c, "birder", 6)))) {
            fprintf(stderr, "bench_web: -l takes results, upload, analysed, birder\n");
            return 2;
        }
        c += k;
        if (*c == ',')
            c++;
    }
    if (access(image, R_OK) || (!url_opt && access(bin, X_OK))) {
        fprintf(stderr, "bench_web: need %s and %s\n", url_opt ? "-u URL" : bin, image);
        return 2;
    }
    char data[] = "/tmp/aviary-bench-web-XXXXXX";
    char base[256];
    pid_t pid = -1;
    if (url_opt) {
        snprintf(base, sizeof base, "%s", url_opt);
        size_t bl = strlen(base);
        while (bl && base[bl - 1] == '/')
            base[--bl] = 0;
    } else {
        if (!mkdtemp(data))
            return 1;
        if (has_load(loads, "birder") && seed(data, seeded))
            return 1;
        int port = free_port();
        char ports[16];
        snprintf(ports, sizeof ports, "%d", port);
        pid = fork();
        if (pid == 0) {
            execl(bin, bin, "serve", "--listen", "127.0.0.1", "--port", ports, "--data", data,
                  "--log-level", "warn", (char *)NULL);
            _exit(127);
        }
        snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char id[128] = "", url[512];
    int need_page = has_load(loads, "results");
    if (need_page || !url_opt) {
        for (int i = 0; i < 300 && upload_once(base, image, id, sizeof id); i++)
            usleep(100 * 1000); /* the server loads its models first */
        if (!id[0]) {
            fprintf(stderr, "bench_web: server %s did not come up\n", base);
            if (pid > 0)
                kill(pid, SIGTERM);
            return 1;
        }
        snprintf(url, sizeof url, "%s/uploads/%s", base, id);
        CURL *h = curl_easy_init(); /* the first view runs the analysis */
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
        double t0 = now_s();
        curl_easy_perform(h);
        printf("server %s, image %s: first view (analysis) %.1f ms\n", url_opt ? base : bin,
               image, (now_s() - t0) * 1e3);
        curl_easy_cleanup(h);
    }
    if (has_load(loads, "birder") && !url_opt)
        time_pages(base);
    char upurl[512];
    snprintf(upurl, sizeof upurl, "%s/upload", base);
    for (const char *c = concs; *c;) {
        int n = atoi(c);
        if (n > 0) {
            if (has_load(loads, "results"))
                run("results", url, NULL, n, secs);
            if (has_load(loads, "upload"))
                run("upload", upurl, image, n, secs);
            if (has_load(loads, "analysed"))
                run_analysed(base, image, n, uploads);
        }
        c += strcspn(c, ",");
        if (*c == ',')
            c++;
    }
    if (pid > 0) {
        printf("server peak RSS %.1f MiB\n", peak_rss_kb(pid) / 1024.0);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", data);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_web: could not remove %s\n", data);
    }
    curl_global_cleanup();
    return 0;
}
