/*
 * bench_web.c - the web application under load over loopback.
 *
 *   bench_web [-b build/aviary] [-i IMAGE] [-s SECONDS] [-c 1,8,32]
 *
 * Starts `aviary serve` on a free port with a fresh data folder, uploads
 * IMAGE and views its results page once (so the analysis is done and
 * stored), then for each concurrency C runs C client threads, each with
 * one keep-alive libcurl handle, for SECONDS:
 *   results  GET /uploads/<ID> (the cached results page: one store read, template)
 *   upload   POST /upload, multipart, IMAGE (streamed to disk, stored, 303)
 * and prints requests/s, p50 and p99 latency, errors, and the server's
 * peak RSS (VmHWM) at the end. Figures, not assertions.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
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
    qsort(all, (size_t)total, sizeof *all, cmp_double);
    double p50 = total ? all[total / 2] * 1e3 : 0, p99 = total ? all[total * 99 / 100] * 1e3 : 0;
    printf("%-8s concurrency %3d  %9.0f req/s  p50 %8.3f ms  p99 %8.3f ms  (%ld requests, %ld "
           "errors, %.1f s)\n",
           what, conc, total / el, p50, p99, total, errors, el);
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

int main(int argc, char **argv)
{
    const char *bin = "build/aviary", *image = "../shared/testdata/images/parrot.jpg";
    const char *concs = "1,8,32";
    double secs = 5;
    int opt;
    while ((opt = getopt(argc, argv, "b:i:s:c:")) != -1) {
        if (opt == 'b')
            bin = optarg;
        else if (opt == 'i')
            image = optarg;
        else if (opt == 's')
            secs = atof(optarg);
        else if (opt == 'c')
            concs = optarg;
        else {
            fprintf(stderr, "usage: %s [-b aviary] [-i image] [-s seconds] [-c 1,8,32]\n", argv[0]);
            return 2;
        }
    }
    if (access(image, R_OK) || access(bin, X_OK)) {
        fprintf(stderr, "bench_web: need %s and %s\n", bin, image);
        return 2;
    }
    char data[] = "/tmp/aviary-bench-web-XXXXXX";
    if (!mkdtemp(data))
        return 1;
    int port = free_port();
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        execl(bin, bin, "serve", "--listen", "127.0.0.1", "--port", ports, "--data", data,
              "--log-level", "warn", (char *)NULL);
        _exit(127);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char base[64], id[128] = "", url[256];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    for (int i = 0; i < 300 && upload_once(base, image, id, sizeof id); i++)
        usleep(100 * 1000); /* the server loads its models first */
    if (!id[0]) {
        fprintf(stderr, "bench_web: server did not come up\n");
        kill(pid, SIGTERM);
        return 1;
    }
    snprintf(url, sizeof url, "%s/uploads/%s", base, id);
    CURL *h = curl_easy_init(); /* the first view runs the analysis */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    double t0 = now_s();
    curl_easy_perform(h);
    printf("server %s, image %s: first view (analysis) %.1f ms\n", bin, image, (now_s() - t0) * 1e3);
    curl_easy_cleanup(h);
    char upurl[256];
    snprintf(upurl, sizeof upurl, "%s/upload", base);
    for (const char *c = concs; *c;) {
        int n = atoi(c);
        if (n > 0) {
            run("results", url, NULL, n, secs);
            run("upload", upurl, image, n, secs);
        }
        c += strcspn(c, ",");
        if (*c == ',')
            c++;
    }
    printf("server peak RSS %.1f MiB\n", peak_rss_kb(pid) / 1024.0);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_web: could not remove %s\n", data);
    curl_global_cleanup();
    return 0;
}
