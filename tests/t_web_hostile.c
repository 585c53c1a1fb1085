/*
 * t_web_hostile.c - the web application against hostile and careless
 * clients (issue 16): split and oversized upload bodies, too many parts,
 * names that are not UTF-8, bad headers, query and connection floods.
 * Real HTTP on an ephemeral port, SQLite (or $AVIARY_TEST_DB), a scripted
 * analyzer.
 */
#include "harness.h"
#include "http.h"

#include "store/store.h"
#include "web/web.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const unsigned char JPEG[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1};

/* One bird, the image itself as the annotated copy. */
static int fake_analyze(void *ud, const void *bytes, size_t len, av_web_analysis *out, char *err,
                        size_t errlen)
{
    (void)ud, (void)err, (void)errlen;
    out->width = 64;
    out->height = 48;
    out->n_dets = 1;
    out->dets = calloc(1, sizeof *out->dets);
    out->annotated = malloc(len);
    if (!out->dets || !out->annotated)
        return -1;
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
    return 0;
}

static const char *const tracked[] = {"Erithacus rubecula"};
static const double baselines[] = {0.85};

struct app {
    av_store *store;
    av_web *web;
    int port;
    char base[64];
};

static void start(struct app *a, long long max_upload)
{
    char url[1200], err[512], sub[800];
    static char dir[700];
    snprintf(dir, sizeof dir, "%s", av_test_tmpdir());
    snprintf(sub, sizeof sub, "%s/originals", dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/inferenced", dir);
    mkdir(sub, 0755);
    av_test_db_url(url, sizeof url, "aviary.db", 'h');
    CHECK_MSG(av_store_open(url, &a->store, err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_MSG(av_store_migrate(a->store, NULL, err, sizeof err) == AV_STORE_OK, "%s", err);
    av_web_opts o = {.listen = "127.0.0.1", .workers = 2, .store = a->store, .data_dir = dir,
                     .max_upload_bytes = max_upload, .analyze = fake_analyze,
                     .analysis_workers = 1, .tracked = tracked, .n_tracked = 1,
                     .baselines = baselines};
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

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
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
    sleep_ms(300); /* the server reads the part's headers and those bytes alone */
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
    char nm[N][16];
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

TEST_MAIN(T(split_part_is_one_file), T(split_oversized_part_is_413),
          T(files_past_the_limit_are_reported), T(non_utf8_file_name),
          T(feedback_too_large_says_form))
