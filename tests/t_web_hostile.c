/*
 * t_web_hostile.c - the web application against hostile and careless
 * clients (issue 16): split and oversized upload bodies, too many parts,
 * names that are not UTF-8, bad headers, query and connection floods.
 * Real HTTP on an ephemeral port, SQLite (or $AVIARY_TEST_DB), a scripted
 * analyzer.
 */
#include "harness.h"
#include "http.h"
#include "proc.h"
#include "web_fixture.h"

#include "store/store.h"
#include "web/web.h"

#include <jansson.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const unsigned char JPEG[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1};

/* One bird, the image itself as the annotated copy. */
static av_web_analysis_status fake_analyze(void *ud, const void *bytes, size_t len,
                                           av_web_analysis *out, char *err, size_t errlen)
{
    (void)ud, (void)err, (void)errlen;
    out->width = 64;
    out->height = 48;
    out->n_dets = 1;
    out->dets = calloc(1, sizeof *out->dets);
    out->annotated = malloc(len);
    if (!out->dets || !out->annotated)
        return AV_WEB_ANALYSIS_E_FAILED;
    memcpy(out->annotated, bytes, len);
    out->annotated_len = len;
    av_store_detection *d = &out->dets[0];
    d->x1 = 1, d->y1 = 2, d->x2 = 30, d->y2 = 40;
    d->score = d->detector_score = d->species_score = 0.9;
    d->class_id = 1;
    snprintf(d->label, sizeof d->label, "bird");
    snprintf(d->species, sizeof d->species, "Erithacus rubecula");
    snprintf(d->common_name, sizeof d->common_name, "European Robin");
    snprintf(d->model_version, sizeof d->model_version, "test@1");
    snprintf(out->annotated_ext, sizeof out->annotated_ext, "jpg");
    return AV_WEB_ANALYSIS_OK;
}

static const char *const tracked[] = {"Erithacus rubecula"};
static const double baselines[] = {0.85};

static av_guard_opts g_guard; /* start() settings; zeros = defaults */

struct app {
    av_store *store;
    av_web *web;
    int port;
    char base[64];
};

static void start(struct app *a, long long max_upload)
{
    char err[512];
    static char dir[700];
    snprintf(dir, sizeof dir, "%s", av_test_tmpdir());
    av_test_make_data_dir(dir);
    a->store = av_test_open_store("aviary.db", 'h');
    av_web_opts o = {.listen = "127.0.0.1", .workers = 2, .store = a->store, .data_dir = dir,
                     .max_upload_bytes = max_upload, .analyze = fake_analyze,
                     .analysis_workers = 1, .tracked = tracked, .n_tracked = 1,
                     .baselines = baselines, .guard = g_guard};
    CHECK_MSG(av_web_start(&o, &a->web, err, sizeof err) == 0, "%s", err);
    a->port = av_web_port(a->web);
    snprintf(a->base, sizeof a->base, "http://127.0.0.1:%d", a->port);
}

static void stop(struct app *a)
{
    av_web_stop(a->web);
    av_store_close(a->store);
}

static int64_t image_count(struct app *a)
{
    int64_t n = -1;
    char err[256];
    CHECK(av_store_image_count(a->store, &n, err, sizeof err) == AV_STORE_OK);
    return n;
}

/* POST /upload with one file part, sent as the part's headers plus the
 * first `first` bytes of the file, a pause, then the rest. */
static long split_upload(struct app *a, const unsigned char *file, size_t n, size_t first,
                         char *resp, size_t cap)
{
    static const char B[] = "----aviarysplit";
    char head[512], part[256];
    int plen = snprintf(part, sizeof part,
                        "--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                        "filename=\"parrot.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n",
                        B);
    char tail[64];
    int tlen = snprintf(tail, sizeof tail, "\r\n--%s--\r\n", B);
    size_t total = (size_t)plen + n + (size_t)tlen;
    int hlen = snprintf(head, sizeof head,
                        "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                        "Content-Type: multipart/form-data; boundary=%s\r\n"
                        "Content-Length: %zu\r\n\r\n",
                        B, total);
    int fd = av_http_raw_connect(NULL, a->port);
    CHECK(fd >= 0);
    CHECK(av_http_raw_send(fd, head, (size_t)hlen) == 0);
    CHECK(av_http_raw_send(fd, part, (size_t)plen) == 0);
    CHECK(av_http_raw_send(fd, file, first) == 0);
    av_test_sleep_ms(300); /* the server reads the part's headers and those bytes alone */
    CHECK(av_http_raw_send(fd, file + first, n - first) == 0);
    CHECK(av_http_raw_send(fd, tail, (size_t)tlen) == 0);
    long st = av_http_raw_response(fd, 10000, resp, cap);
    close(fd);
    return st;
}

/* D1: a read holding only 1-4 bytes of the file after its part headers
 * was taken for a new part: "parrot.jpg: is empty" plus the real file. */
TEST(split_part_is_one_file)
{
    struct app a;
    start(&a, 100000);
    unsigned char img[600];
    memset(img, 7, sizeof img);
    memcpy(img, JPEG, sizeof JPEG);
    char resp[8192];
    for (size_t first = 1; first <= 4; first++) {
        long st = split_upload(&a, img, sizeof img, first, resp, sizeof resp);
        CHECK_MSG(st == 303, "first %zu bytes: status %ld: %.400s", first, st, resp);
        CHECK_EQ_INT(image_count(&a), (int64_t)first);
    }
    stop(&a);
}

/* D1: the same split of an oversized file is a 413, not "is empty". */
TEST(split_oversized_part_is_413)
{
    struct app a;
    start(&a, 1000);
    unsigned char *img = calloc(1, 5000);
    CHECK(img);
    memcpy(img, JPEG, sizeof JPEG);
    char resp[8192];
    long st = split_upload(&a, img, 5000, 4, resp, sizeof resp);
    CHECK_MSG(st == 413, "status %ld: %.400s", st, resp);
    CHECK_STR_CONTAINS(resp, "too large");
    CHECK(!strstr(resp, "is empty"));
    CHECK_EQ_INT(image_count(&a), 0);
    free(img);
    stop(&a);
}

/* D2: parts past the 20-file limit are named in the answer, not dropped silently. */
TEST(files_past_the_limit_are_reported)
{
    struct app a;
    start(&a, 100000);
    enum { N = 26 };
    const char *names[N];
    const void *datas[N];
    size_t lens[N];
    char nm[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(nm[i], sizeof nm[i], "bird%02d.jpg", i);
        names[i] = nm[i], datas[i] = JPEG, lens[i] = sizeof JPEG;
    }
    char u[128];
    snprintf(u, sizeof u, "%s/api/v1/images", a.base);
    av_http_resp r;
    CHECK_EQ_INT(av_http_upload(u, "file", N, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 201);
    CHECK_STR_CONTAINS(r.body, "6 more files (from \\\"bird20.jpg\\\") were not stored");
    json_t *j = json_loads(r.body, 0, NULL);
    CHECK(j);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "images")), 21);
    json_decref(j);
    av_http_free(&r);
    snprintf(u, sizeof u, "%s/upload", a.base);
    CHECK_EQ_INT(av_http_upload(u, "file", N, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 303); /* to the batch page, which names what was not stored */
    const char *loc = strstr(r.headers, "Location: /batch?ids=");
    CHECK(loc);
    char path[8192];
    size_t n = strcspn(loc + 10, "\r\n");
    CHECK(n < sizeof path);
    memcpy(path, loc + 10, n);
    path[n] = '\0';
    CHECK_STR_CONTAINS(path, "&bad=");
    av_http_free(&r);
    static char page_url[8192 + 128];
    snprintf(page_url, sizeof page_url, "%s%s", a.base, path);
    CHECK_EQ_INT(av_http_get(page_url, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "6 more files (from &quot;bird20.jpg&quot;) were not stored: at "
                               "most 20 files per upload");
    av_http_free(&r);
    CHECK_EQ_INT(image_count(&a), 40);
    stop(&a);
}

/* D3: a file name that is not UTF-8 still gets its id back, a name in the
 * JSON and valid UTF-8 on the page. */
TEST(non_utf8_file_name)
{
    struct app a;
    start(&a, 100000);
    char u[128];
    snprintf(u, sizeof u, "%s/api/v1/images", a.base);
    const char *names[] = {"caf\xe9-\xff\xfe.jpg"};
    const void *datas[] = {JPEG};
    size_t lens[] = {sizeof JPEG};
    av_http_resp r;
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 201);
    json_t *j = json_loads(r.body, 0, NULL);
    CHECK_MSG(j, "not JSON: %s", r.body);
    json_t *img = json_array_get(json_object_get(j, "images"), 0);
    const char *id = json_string_value(json_object_get(img, "id"));
    CHECK_MSG(id && av_store_valid_id(id), "no id: %s", r.body);
    CHECK_STR_EQ(json_string_value(json_object_get(img, "name")),
                 "caf\xef\xbf\xbd-\xef\xbf\xbd\xef\xbf\xbd.jpg");
    char path[200];
    snprintf(path, sizeof path, "%s/api/v1/images/%s", a.base, id);
    av_http_resp g;
    CHECK_EQ_INT(av_http_get(path, &g), 0);
    CHECK_EQ_INT(g.status, 200);
    CHECK_STR_CONTAINS(g.body, "\"name\":\"caf\xef\xbf\xbd-");
    av_http_free(&g);
    snprintf(path, sizeof path, "%s/uploads/%s", a.base, id);
    CHECK_EQ_INT(av_http_get(path, &g), 0);
    CHECK_STR_CONTAINS(g.body, "caf\xef\xbf\xbd-");
    CHECK(!strchr(g.body, '\xff'));
    av_http_free(&g);
    json_decref(j);
    av_http_free(&r);
    stop(&a);
}

/* A feedback body over 64 kB: the form's own 413, not the photo size text. */
TEST(feedback_too_large_says_form)
{
    struct app a;
    start(&a, 100000);
    char u[200];
    snprintf(u, sizeof u, "%s/uploads/0123456789abcdef0123456789abcdef", a.base);
    size_t n = 70 * 1024;
    char *body = malloc(n + 1);
    CHECK(body);
    memcpy(body, "vote=yes&x=", 11);
    memset(body + 11, 'a', n - 11);
    av_http_resp r;
    CHECK_EQ_INT(av_http_request("POST", u, "application/x-www-form-urlencoded", body, n, &r), 0);
    CHECK_EQ_INT(r.status, 413);
    CHECK_STR_CONTAINS(r.body, "feedback form");
    CHECK(!strstr(r.body, "photo"));
    av_http_free(&r);
    free(body);
    stop(&a);
}

/* Send a raw request, return the status of its answer (-1: none in 5 s). */
static long raw(struct app *a, const char *src, const char *req, char *resp, size_t cap)
{
    int fd = av_http_raw_connect(src, a->port);
    CHECK(fd >= 0);
    CHECK(av_http_raw_send(fd, req, strlen(req)) == 0);
    long st = av_http_raw_response(fd, 5000, resp, cap);
    close(fd);
    return st;
}

/* Smaller items of issue 16: header checks RFC 9112 asks of a server. */
TEST(two_content_lengths_and_missing_host_are_400)
{
    struct app a;
    start(&a, 100000);
    char resp[8192];
    CHECK_EQ_INT(raw(&a, NULL,
                     "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                     "Content-Length: 3\r\nConnection: close\r\n\r\nabc",
                     resp, sizeof resp),
                 400);
    CHECK_STR_CONTAINS(resp, "two different Content-Length");
    CHECK_EQ_INT(raw(&a, NULL, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", resp,
                     sizeof resp),
                 400);
    CHECK_STR_CONTAINS(resp, "Host header");
    /* HTTP/1.0 needs none; the same value twice is one length */
    CHECK_EQ_INT(raw(&a, NULL, "GET /healthz HTTP/1.0\r\n\r\n", resp, sizeof resp), 200);
    CHECK_EQ_INT(raw(&a, NULL,
                     "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n",
                     resp, sizeof resp),
                 200);
    stop(&a);
}

/* Smaller: "/originals/ID.jpg%00.html" resolved to the JPEG; and videos
 * must be seekable: Range gets 206 (416 past the end). */
TEST(originals_nul_and_range)
{
    struct app a;
    start(&a, 100000);
    char u[128];
    snprintf(u, sizeof u, "%s/api/v1/images", a.base);
    unsigned char img[1000];
    for (size_t i = 0; i < sizeof img; i++)
        img[i] = (unsigned char)i;
    memcpy(img, JPEG, sizeof JPEG);
    const char *names[] = {"r.jpg"};
    const void *datas[] = {img};
    size_t lens[] = {sizeof img};
    av_http_resp r;
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 201);
    json_t *j = json_loads(r.body, 0, NULL);
    char id[64];
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(json_array_get(json_object_get(j, "images"), 0),
                                               "id")));
    json_decref(j);
    av_http_free(&r);
    char req[512], resp[8192];
    snprintf(req, sizeof req, "GET /originals/%s.jpg%%00.html HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n", id);
    CHECK_EQ_INT(raw(&a, NULL, req, resp, sizeof resp), 404);
    /* From this node's disk, then from the store (the cached file removed). */
    for (int pass = 0; pass < 2; pass++) {
        if (pass) {
            char path[900];
            snprintf(path, sizeof path, "%s/originals/%s.jpg", av_test_tmpdir(), id);
            CHECK(unlink(path) == 0);
        }
        snprintf(req, sizeof req, "GET /originals/%s.jpg HTTP/1.1\r\nHost: x\r\n"
                                  "Range: bytes=100-103\r\nConnection: close\r\n\r\n", id);
        CHECK_EQ_INT(raw(&a, NULL, req, resp, sizeof resp), 206);
        CHECK_STR_CONTAINS(resp, "Content-Range: bytes 100-103/1000");
        const char *body = strstr(resp, "\r\n\r\n") + 4;
        CHECK(!memcmp(body, img + 100, 4));
        snprintf(req, sizeof req, "GET /originals/%s.jpg HTTP/1.1\r\nHost: x\r\n"
                                  "Range: bytes=-10\r\nConnection: close\r\n\r\n", id);
        CHECK_EQ_INT(raw(&a, NULL, req, resp, sizeof resp), 206);
        CHECK_STR_CONTAINS(resp, "Content-Range: bytes 990-999/1000");
        snprintf(req, sizeof req, "GET /originals/%s.jpg HTTP/1.1\r\nHost: x\r\n"
                                  "Range: bytes=1000-\r\nConnection: close\r\n\r\n", id);
        CHECK_EQ_INT(raw(&a, NULL, req, resp, sizeof resp), 416);
        CHECK_STR_CONTAINS(resp, "Content-Range: bytes */1000");
        snprintf(req, sizeof req, "GET /originals/%s.jpg HTTP/1.1\r\nHost: x\r\n"
                                  "Connection: close\r\n\r\n", id);
        CHECK_EQ_INT(raw(&a, NULL, req, resp, sizeof resp), 200);
        CHECK_STR_CONTAINS(resp, "Accept-Ranges: bytes");
    }
    stop(&a);
}

/* D5: thousands of query parameters got no answer (connection held 60 s). */
TEST(query_flood_is_answered)
{
    struct app a;
    start(&a, 100000);
    size_t cap = 64 * 1024;
    char *req = malloc(cap), *resp = malloc(8192);
    CHECK(req && resp);
    size_t n = (size_t)snprintf(req, cap, "GET /healthz?");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(req + n, cap - n, "a%d=1&", i);
    snprintf(req + n - 1, cap - n + 1, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK_EQ_INT(raw(&a, NULL, req, resp, 8192), 414);
    CHECK_STR_CONTAINS(resp, "too long");
    /* within the length limit, but too many parameters */
    n = (size_t)snprintf(req, cap, "GET /healthz?");
    for (int i = 0; i < 2000; i++)
        n += (size_t)snprintf(req + n, cap - n, "a&");
    snprintf(req + n - 1, cap - n + 1, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK_EQ_INT(raw(&a, NULL, req, resp, 8192), 414);
    CHECK_STR_CONTAINS(resp, "too many query parameters");
    CHECK_EQ_INT(raw(&a, NULL, "GET /healthz?a=1&b=2 HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\n\r\n", resp, 8192),
                 200);
    free(req);
    free(resp);
    stop(&a);
}

/* D4: 5,000 idle connections from one address; another client still gets
 * in. The test needs about 5,200 descriptors (ulimit -n). */
TEST(connection_flood_from_one_address)
{
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_cur < 5300) {
        rl.rlim_cur = rl.rlim_max < 5300 ? rl.rlim_max : 5300;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < 5300)
            SKIP("needs ulimit -n of at least 5300 (raise the hard limit)");
    }
    struct app a;
    start(&a, 100000);
    enum { N = 5000 };
    int *fds = malloc(N * sizeof *fds);
    CHECK(fds);
    int open_ok = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = av_http_raw_connect("127.0.0.1", a.port);
        if (fds[i] >= 0) {
            open_ok++;
            av_http_raw_send(fds[i], "GET /", 5); /* an idle, unfinished request */
        }
    }
    CHECK_MSG(open_ok > 4000, "only %d connections opened", open_ok);
    av_test_sleep_ms(500);
    char resp[4096];
    for (int k = 0; k < 3; k++) /* another address: 127.0.0.2 is loopback too */
        CHECK_EQ_INT(raw(&a, "127.0.0.2", "GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                          "Connection: close\r\n\r\n", resp, sizeof resp),
                     200);
    /* the flooding address keeps at most its share */
    int alive = 0;
    av_test_sleep_ms(300);
    for (int i = 0; i < N; i++) {
        if (fds[i] < 0)
            continue;
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        char c;
        if (poll(&p, 1, 0) == 0 || recv(fds[i], &c, 1, MSG_DONTWAIT) > 0)
            alive++;
        close(fds[i]);
    }
    CHECK_MSG(alive <= 64, "%d connections from one address still open", alive);
    free(fds);
    stop(&a);
}

/* D4: the idle timeout restarts with every byte; the header deadline does not. */
TEST(slow_headers_cut_at_deadline)
{
    g_guard.header_s = 2;
    struct app a;
    start(&a, 100000);
    int fd = av_http_raw_connect(NULL, a.port);
    CHECK(fd >= 0);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa";
    int closed = 0;
    for (size_t i = 0; i < strlen(req) && !closed; i++) {
        if (av_http_raw_send(fd, req + i, 1)) {
            closed = 1;
            break;
        }
        av_test_sleep_ms(250); /* 1 byte per 250 ms: never idle */
        char c;
        ssize_t k = recv(fd, &c, 1, MSG_DONTWAIT);
        if (k == 0)
            closed = 1;
    }
    CHECK_MSG(closed, "a request dribbling for over 10 s was not cut at its 2 s deadline");
    close(fd);
    /* a normal request on a fresh connection is unaffected */
    char resp[4096];
    CHECK_EQ_INT(raw(&a, NULL, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     resp, sizeof resp),
                 200);
    stop(&a);
}

TEST_MAIN(T(split_part_is_one_file), T(split_oversized_part_is_413),
          T(files_past_the_limit_are_reported), T(non_utf8_file_name),
          T(feedback_too_large_says_form), T(two_content_lengths_and_missing_host_are_400),
          T(originals_nul_and_range), T(query_flood_is_answered),
          T(connection_flood_from_one_address), T(slow_headers_cut_at_deadline))
