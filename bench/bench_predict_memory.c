/*
 * bench_predict_memory.c - peak memory of `aviary model-server` answering
 * nested-list predict bodies (the original client's input_tensor format),
 * issue 16 D6: a 41 MB body once peaked at 1.33 GB (30x), 8 at once at
 * 5 GB, and the RSS stayed at 2.4-3.1 GB afterwards.
 *
 * Starts the server ($AVIARY_BIN, default build/aviary; models from
 * ./models), sends one body of about $AVIARY_BENCH_MB (default 41) MB, then
 * 8 at once, and prints VmRSS before, VmHWM (peak) after each round and
 * VmRSS a second after, from /proc/PID/status.
 *
 *   build/bench/bench_predict_memory [MB]
 */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key)))
            kb = atol(line + strlen(key) + 1);
    fclose(f);
    return kb;
}

/* Reset VmHWM to the current RSS (Linux: write 5 to clear_refs). */
static void reset_peak(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/clear_refs", (int)pid);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p, (void)ud;
    return s * n;
}

typedef struct call {
    const char *url, *body;
    size_t len;
    long status;
} call;

static void *post(void *arg)
{
    call *c = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 600L);
    c->status = curl_easy_perform(h) == CURLE_OK ? 0 : -1;
    if (!c->status)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return NULL;
}

static int get_ok(const char *url)
{
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 2L);
    long code = 0;
    int ok = curl_easy_perform(h) == CURLE_OK &&
             curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200;
    curl_easy_cleanup(h);
    return ok;
}

/* {"instances": [{"input_tensor": H x W x 3}]} of about mb megabytes. */
static char *nested_body(double mb, size_t *len, int *side)
{
    int s = 16;
    while ((double)s * s * 12.5 < mb * 1e6)
        s += 16;
    size_t cap = (size_t)s * s * 14 + 256;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    size_t k = (size_t)snprintf(b, cap, "{\"instances\": [{\"input_tensor\": [");
    unsigned v = 12345;
    for (int y = 0; y < s; y++) {
        b[k++] = '[';
        for (int x = 0; x < s; x++) {
            v = v * 1103515245u + 12345u;
            k += (size_t)snprintf(b + k, cap - k, "[%u,%u,%u]%s", (v >> 8) & 255,
                                  (unsigned)(x * 255 / s), (unsigned)(y * 255 / s),
                                  x < s - 1 ? "," : "");
        }
        k += (size_t)snprintf(b + k, cap - k, "]%s", y < s - 1 ? "," : "");
    }
    k += (size_t)snprintf(b + k, cap - k, "]}]}");
    *len = k;
    *side = s;
    return b;
}

static void round_of(pid_t pid, const char *url, const char *body, size_t len, int n)
{
    call c[8];
    pthread_t t[8];
    long before = status_kb(pid, "VmRSS:");
    reset_peak(pid);
    for (int i = 0; i < n; i++) {
        c[i] = (call){url, body, len, 0};
        pthread_create(&t[i], NULL, post, &c[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    long peak = status_kb(pid, "VmHWM:");
    sleep(1);
    long after = status_kb(pid, "VmRSS:");
    double body_mb = (double)len / 1e6;
    printf("%d at once: status %ld; RSS before %.0f MB, peak %.0f MB (%.1fx one body; "
           "%.0f MB over before = %.1fx), RSS 1 s after %.0f MB\n",
           n, c[0].status, before / 1e3, peak / 1e3, peak / 1e3 / body_mb,
           (peak - before) / 1e3, (peak - before) / 1e3 / body_mb, after / 1e3);
}

int main(int argc, char **argv)
{
    double mb = argc > 1 ? atof(argv[1]) : getenv("AVIARY_BENCH_MB") ? atof(getenv("AVIARY_BENCH_MB")) : 41;
    const char *bin = getenv("AVIARY_BIN") ? getenv("AVIARY_BIN") : "build/aviary";
    size_t len = 0;
    int side = 0;
    char *body = nested_body(mb, &len, &side);
    if (!body) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int port = 18000 + (int)(getpid() % 1000);
    char ports[16], url[128], ready[128];
    snprintf(ports, sizeof ports, "%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        execl(bin, "aviary", "model-server", "--listen", "127.0.0.1", "--port", ports,
              "--models", "models", "--max-megapixels", "50", "--log-level", "warn",
              (char *)NULL);
        _exit(127);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(ready, sizeof ready, "http://127.0.0.1:%d/readyz", port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/models/birdsClassifier:predict", port);
    int up = 0;
    for (int i = 0; i < 300 && !up; i++) {
        up = get_ok(ready);
        if (!up)
            usleep(100 * 1000);
    }
    if (!up) {
        fprintf(stderr, "model server did not come up (%s; models in ./models?)\n", bin);
        kill(pid, SIGKILL);
        return 1;
    }
    printf("%s: nested-list body %.1f MB (%d x %d pixels)\n", bin, (double)len / 1e6, side,
           side);
    round_of(pid, url, body, len, 1);
    round_of(pid, url, body, len, 8);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(body);
    return 0;
}
