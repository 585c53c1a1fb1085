/*
 * t_serving.c - the TF-Serving-compatible model server over real HTTP
 * (status, metadata, predict with b64 images and the original client's
 * nested-list request, TF's error shapes and statuses), version hot swap
 * under load, the libcurl client, and `aviary serve --model-url` against
 * an `aviary model-server` process end to end, including the model server
 * going away; dynamic batching (same answers as unbatched, batch sizes in
 * /metrics, 503 + Retry-After when the queue is full) and several models
 * from one model config file.
 */
#include "harness.h"
#include "http.h"
#include "proc.h"

#include "log/log.h"
#include "serving/serving.h"
#include "vision/vision.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        FAIL("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n)
        FAIL("cannot read %s", path);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static char *b64_request(const char *path)
{
    size_t n;
    unsigned char *img = read_file(path, &n);
    char *b64;
    size_t bl;
    CHECK(av_serving_b64_encode(img, n, &b64, &bl) == 0);
    free(img);
    char *body = malloc(bl + 64);
    CHECK(body != NULL);
    snprintf(body, bl + 64, "{\"instances\": [{\"b64\": \"%s\"}]}", b64);
    free(b64);
    return body;
}

typedef struct srv {
    av_serving *s;
    char base[64];
} srv;

static void start_srv(srv *v, const av_serving_opts *o_in)
{
    av_log_setup(AV_LOG_WARN, AV_LOG_LOGFMT);
    av_serving_opts o = o_in ? *o_in : (av_serving_opts){0};
    o.listen = "127.0.0.1";
    o.port = 0;
    if (!o.models_dir && !o.base_path)
        o.models_dir = "models";
    if (!o.workers)
        o.workers = 4;
    char err[512];
    av_serving_status st = av_serving_start(&o, &v->s, err, sizeof err);
    if (st == AV_SERVING_E_MODEL && strstr(err, "cannot"))
        SKIP("models not installed (run scripts/setup)");
    CHECK_MSG(st == AV_SERVING_OK, "start: %s", err);
    snprintf(v->base, sizeof v->base, "http://127.0.0.1:%d", av_serving_port(v->s));
}

/* Request path on v; returns the parsed JSON body (NULL when not JSON). */
static json_t *call(const srv *v, const char *method, const char *path, const char *body,
                    long *status, av_http_resp *keep)
{
    char url[2400];
    snprintf(url, sizeof url, "%s%s", v->base, path);
    av_http_resp r;
    CHECK_EQ_INT(av_http_request(method, url, body ? "application/json" : NULL, body,
                                 body ? strlen(body) : 0, &r),
                 0);
    *status = r.status;
    json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
    if (keep)
        *keep = r;
    else
        av_http_free(&r);
    return j;
}

static const char *err_of(const json_t *j)
{
    const char *e = json_string_value(json_object_get(j, "error"));
    return e ? e : "(no error key)";
}

static void expect_error(const srv *v, const char *method, const char *path, const char *body,
                         long status, const char *msg)
{
    long st;
    json_t *j = call(v, method, path, body, &st, NULL);
    CHECK_MSG(j && json_object_size(j) == 1, "%s %s: not {\"error\"}", method, path);
    CHECK_MSG(st == status, "%s %s: status %ld, want %ld (%s)", method, path, st, status,
              err_of(j));
    CHECK_STR_CONTAINS(err_of(j), msg);
    json_decref(j);
}

static const char *aviary_bin(void)
{
    const char *b = getenv("AVIARY_BIN");
    return b && *b ? b : "build/aviary";
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A models folder for a version: a symlink to ./models. */
static void make_version(const char *base, const char *name, int broken)
{
    char tmp[1200], dst[1200], real[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/.incoming-%s", base, name);
    snprintf(dst, sizeof dst, "%s/%s", base, name);
    CHECK(mkdir(tmp, 0755) == 0);
    char models[1300];
    snprintf(models, sizeof models, "%s/models", tmp);
    if (broken) {
        CHECK(mkdir(models, 0755) == 0);
        char pj[1400];
        snprintf(pj, sizeof pj, "%s/pipeline.json", models);
        FILE *f = fopen(pj, "w");
        CHECK(f != NULL);
        fputs("{\"detector\": \"no_such_detector\", \"species\": \"inat_bird\", "
              "\"crop_margin\": 0.15, \"whole_image_min_species_score\": 0.5}\n",
              f);
        fclose(f);
    } else {
        CHECK(realpath("models", real) != NULL);
        CHECK(symlink(real, models) == 0);
    }
    CHECK(rename(tmp, dst) == 0); /* appears atomically, as a deployment should do it */
}

/* State of version n in a status answer, or NULL. */
static const char *state_of(const json_t *st, const char *n, const char **code)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(st, "model_version_status"), i, e)
    {
        if (!strcmp(json_string_value(json_object_get(e, "version")), n)) {
            if (code)
                *code = json_string_value(
                    json_object_get(json_object_get(e, "status"), "error_code"));
            return json_string_value(json_object_get(e, "state"));
        }
    }
    return NULL;
}

/* -------------------------------------------------------------- cases */

TEST(status_and_metadata)
{
    srv v;
    start_srv(&v, NULL);
    long st;
    json_t *j = call(&v, "GET", "/v1/models/birdsClassifier", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    json_t *e = json_array_get(json_object_get(j, "model_version_status"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(e, "version")), "1");
    CHECK_STR_EQ(json_string_value(json_object_get(e, "state")), "AVAILABLE");
    json_t *s = json_object_get(e, "status");
    CHECK_STR_EQ(json_string_value(json_object_get(s, "error_code")), "OK");
    CHECK_STR_EQ(json_string_value(json_object_get(s, "error_message")), "");
    json_decref(j);

    j = call(&v, "GET", "/v1/models/birdsClassifier/versions/1", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "model_version_status")), 1);
    json_decref(j);

    av_http_resp keep;
    j = call(&v, "GET", "/v1/models/birdsClassifier/metadata", NULL, &st, &keep);
    CHECK_EQ_INT(st, 200);
    CHECK_STR_CONTAINS(keep.headers, "application/json");
    av_http_free(&keep);
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "model_spec"), "version")),
                 "1");
    json_t *sd = json_object_get(
        json_object_get(json_object_get(json_object_get(j, "metadata"), "signature_def"),
                        "signature_def"),
        "serving_default");
    json_t *in = json_object_get(json_object_get(sd, "inputs"), "input_tensor");
    CHECK_STR_EQ(json_string_value(json_object_get(in, "dtype")), "DT_UINT8");
    json_t *dims = json_object_get(json_object_get(in, "tensor_shape"), "dim");
    CHECK_EQ_INT(json_array_size(dims), 4);
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(dims, 3), "size")), "3");
    CHECK_STR_EQ(json_string_value(json_object_get(sd, "method_name")),
                 "tensorflow/serving/predict");
    const char *outs[] = {"detection_boxes", "detection_classes", "detection_scores",
                          "num_detections", "detection_species"};
    for (int i = 0; i < 5; i++) {
        json_t *o = json_object_get(json_object_get(sd, "outputs"), outs[i]);
        CHECK_MSG(o, "metadata lacks output %s", outs[i]);
    }
    json_decref(j);

    expect_error(&v, "GET", "/v1/models/nope", NULL, 404,
                 "Could not find any versions of model nope");
    expect_error(&v, "GET", "/v1/models/birdsClassifier/versions/2", NULL, 404,
                 "Could not find version 2 of model birdsClassifier");
    expect_error(&v, "GET", "/v1/models/birdsClassifier/versions/2/metadata", NULL, 404,
                 "Servable not found for request: Specific(birdsClassifier, 2)");
    expect_error(&v, "GET", "/v1/models", NULL, 400, "Missing model name in request.");
    expect_error(&v, "PUT", "/v1/models/birdsClassifier", "{}", 400,
                 "Malformed request: PUT /v1/models/birdsClassifier");
    expect_error(&v, "GET", "/v1/models/birdsClassifier:predict", NULL, 400,
                 "Malformed request: GET");
    expect_error(&v, "GET", "/v1/models/birdsClassifier/version/1", NULL, 400,
                 "Malformed request");

    char url0[128];
    j = call(&v, "GET", "/healthz", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "role")), "model-server");
    json_decref(j);
    j = call(&v, "GET", "/readyz", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "model_version")), 1);
    json_decref(j);

    snprintf(url0, sizeof url0, "%s/metrics", v.base);
    CHECK_EQ_INT(av_http_get(url0, &keep), 0);
    CHECK_EQ_INT(keep.status, 200);
    CHECK_STR_CONTAINS(keep.body, "aviary_serving_requests_total{route=\"status\",code=\"200\"} 2");
    CHECK_STR_CONTAINS(keep.body, "aviary_serving_requests_total{route=\"metadata\",code=\"200\"} 1");
    CHECK_STR_CONTAINS(keep.body, "aviary_serving_request_seconds_bucket{route=\"status\",le=\"+Inf\"}");
    CHECK_STR_CONTAINS(keep.body, "aviary_serving_model_version{model=\"birdsClassifier\"} 1");
    av_http_free(&keep);

    /* Outside /v1/: the HTTP library's plain 404, not JSON. */
    char url[128];
    snprintf(url, sizeof url, "%s/healthz-nope", v.base);
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(url, &r), 0);
    CHECK_EQ_INT(r.status, 404);
    CHECK_MSG(!strstr(r.headers, "application/json"), "plain 404 expected: %s", r.headers);
    av_http_free(&r);
    av_serving_stop(v.s);
}

TEST(predict_b64_parrot_is_scarlet_macaw)
{
    const char *img = av_test_shared("testdata/images/parrot.jpg");
    srv v;
    start_srv(&v, NULL);
    char *body = b64_request(img);
    long st;
    json_t *j = call(&v, "POST", "/v1/models/birdsClassifier:predict", body, &st, NULL);
    CHECK_MSG(st == 200, "status %ld: %s", st, err_of(j));
    json_t *p = json_array_get(json_object_get(j, "predictions"), 0);
    CHECK(json_is_object(p));
    int n = (int)json_number_value(json_object_get(p, "num_detections"));
    CHECK_MSG(n >= 1, "no bird on parrot.jpg");
    json_t *sp = json_object_get(p, "detection_species");
    if (!json_string_value(json_array_get(json_array_get(sp, 0), 0))[0])
        SKIP("species model not installed");
    CHECK_STR_EQ(json_string_value(json_array_get(json_array_get(sp, 0), 0)), "Ara macao");
    json_t *box = json_array_get(json_object_get(p, "detection_boxes"), 0);
    CHECK_EQ_INT(json_array_size(box), 4);
    double b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = json_number_value(json_array_get(box, (size_t)i));
        CHECK(b[i] >= 0 && b[i] <= 1);
    }
    CHECK(b[0] < b[2] && b[1] < b[3]); /* ymin < ymax, xmin < xmax */
    CHECK_NEAR(json_number_value(json_array_get(json_object_get(p, "detection_classes"), 0)),
               16, 0); /* not a tracked species: COCO 'bird' */
    json_t *size = json_object_get(p, "image_size");
    CHECK_EQ_INT(json_integer_value(json_array_get(size, 0)), 929);
    CHECK_EQ_INT(json_integer_value(json_array_get(size, 1)), 512);
    json_decref(j);

    /* Explicit version, signature and the columnar form give the same. */
    size_t bl = strlen(body) + 200;
    char *col = malloc(bl);
    const char *b64 = strstr(body, "\"b64\"");
    snprintf(col, bl, "{\"signature_name\": \"image_bytes\", \"inputs\": {\"image_bytes\": [{%.*s}]}}",
             (int)(strlen(b64) - 3), b64);
    j = call(&v, "POST", "/v1/models/birdsClassifier/versions/1:predict", col, &st, NULL);
    CHECK_MSG(st == 200, "columnar: status %ld: %s", st, err_of(j));
    json_t *o = json_object_get(j, "outputs");
    CHECK_STR_EQ(json_string_value(json_array_get(
                     json_array_get(json_array_get(json_object_get(o, "detection_species"), 0), 0),
                     0)),
                 "Ara macao");
    json_decref(j);
    free(col);
    free(body);
    av_serving_stop(v.s);
}

/* The original client's exact request and the exact fields it reads:
 * result["predictions"][0]["detection_classes" | "detection_boxes" |
 * "detection_scores"]. */
TEST(original_client_nested_list_request)
{
    const char *path = av_test_shared("testdata/images/bird.bmp");
    size_t n;
    unsigned char *bytes = read_file(path, &n);
    av_image *img = NULL, *small = NULL;
    char err[256];
    CHECK(av_vision_decode(bytes, n, NULL, &img, NULL, err, sizeof err) == AV_VISION_OK);
    CHECK(av_vision_resize_pil(img, 160, 120, &small, err, sizeof err) == AV_VISION_OK);
    free(bytes);
    av_img_free(img);
    size_t cap = 64 + (size_t)160 * 120 * 20 + 120 * 4;
    char *body = malloc(cap);
    size_t k = (size_t)snprintf(body, cap, "{\"instances\": [{\"input_tensor\": [");
    for (int y = 0; y < 120; y++) {
        body[k++] = '[';
        for (int x = 0; x < 160; x++) {
            const uint8_t *px = small->data + ((size_t)y * 160 + (size_t)x) * 3;
            k += (size_t)snprintf(body + k, cap - k, "[%d, %d, %d]%s", px[0], px[1], px[2],
                                  x < 159 ? ", " : "");
        }
        k += (size_t)snprintf(body + k, cap - k, "]%s", y < 119 ? ", " : "");
    }
    snprintf(body + k, cap - k, "]}]}");
    av_img_free(small);

    srv v;
    start_srv(&v, NULL);
    long st;
    json_t *j = call(&v, "POST", "/v1/models/birdsClassifier:predict", body, &st, NULL);
    CHECK_MSG(st == 200, "status %ld: %s", st, err_of(j));
    json_t *p = json_array_get(json_object_get(j, "predictions"), 0);
    json_t *classes = json_object_get(p, "detection_classes");
    json_t *boxes = json_object_get(p, "detection_boxes");
    json_t *scores = json_object_get(p, "detection_scores");
    CHECK(json_is_array(classes) && json_is_array(boxes) && json_is_array(scores));
    CHECK_MSG(json_array_size(classes) >= 1, "no bird in the 160x120 bird.bmp");
    CHECK_EQ_INT(json_array_size(boxes), json_array_size(classes));
    CHECK_EQ_INT(json_array_size(scores), json_array_size(classes));
    for (size_t i = 0; i < json_array_size(classes); i++) {
        json_t *c = json_array_get(classes, i);
        CHECK_MSG(json_is_real(c), "classes are floats as in TF");
        double cv = json_real_value(c);
        CHECK_MSG(cv == 16 || cv == 1 || cv == 2 || cv == 3, "class %g", cv);
        CHECK_EQ_INT(json_array_size(json_array_get(boxes, i)), 4);
        double s = json_number_value(json_array_get(scores, i));
        CHECK(s > 0 && s <= 1);
    }
    CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(p, "image_size"), 1)), 160);
    json_decref(j);

    /* A value out of uint8 range is refused with TF's message shape. */
    j = call(&v, "POST", "/v1/models/birdsClassifier:predict",
             "{\"instances\": [{\"input_tensor\": [[[999, 0, 0]]]}]}", &st, NULL);
    CHECK_EQ_INT(st, 400);
    CHECK_STR_CONTAINS(err_of(j), "JSON Value: 999 Type: Number is not of expected type: uint8");
    json_decref(j);
    free(body);
    av_serving_stop(v.s);
}

TEST(malformed_requests)
{
    av_serving_opts o = {.max_upload_bytes = 60000, .max_pixels = 10000};
    srv v;
    start_srv(&v, &o);
    const char *P = "/v1/models/birdsClassifier:predict";
    expect_error(&v, "POST", P, "", 400, "JSON Parse error: The document is empty");
    expect_error(&v, "POST", P, "{\"instances\": [", 400, "JSON Parse error:");
    expect_error(&v, "POST", P, "[1, 2]", 400, "Is not object");
    expect_error(&v, "POST", P, "{}", 400, "Missing 'inputs' or 'instances' key");
    expect_error(&v, "POST", P, "{\"instances\": [], \"inputs\": []}", 400,
                 "expecting only one of 'inputs' or 'instances'");
    expect_error(&v, "POST", P, "{\"instances\": {}}", 400,
                 "Expecting 'instances' to be an list/array");
    expect_error(&v, "POST", P, "{\"instances\": []}", 400, "No values in 'instances' array");
    expect_error(&v, "POST", P, "{\"signature_name\": 7, \"instances\": [1]}", 400,
                 "'signature_name' key must be a string value.");
    expect_error(&v, "POST", P, "{\"signature_name\": \"other\", \"instances\": [1]}", 400,
                 "Serving signature name: \"other\" not found in signature def");
    expect_error(&v, "POST", P, "{\"instances\": [{\"b64\": \"!!not base64!!\"}]}", 400,
                 "Unable to base64 decode");
    expect_error(&v, "POST", P, "{\"instances\": [{\"b64\": \"aGVsbG8gd29ybGQ=\"}]}", 400,
                 "image");
    expect_error(&v, "POST", P, "{\"instances\": [{\"pixels\": [1]}]}", 400,
                 "does not have named input: pixels");
    expect_error(&v, "POST", P, "{\"instances\": [{\"input_tensor\": [[[1, 2, 3]], [[1, 2]]]}]}",
                 400, "unexpected size/level");
    expect_error(&v, "POST", P, "{\"instances\": [{\"input_tensor\": [[[1, 2, \"x\"]]]}]}", 400,
                 "Type: String is not of expected type: uint8");
    expect_error(&v, "POST", "/v1/models/nope:predict", "{\"instances\": [1]}", 404,
                 "Servable not found for request: Latest(nope)");
    expect_error(&v, "POST", "/v1/models/birdsClassifier/versions/9:predict",
                 "{\"instances\": [1]}", 404,
                 "Servable not found for request: Specific(birdsClassifier, 9)");
    expect_error(&v, "POST", "/v1/models/birdsClassifier/versions/99999999999999999999:predict",
                 "{\"instances\": [1]}", 400, "Failed to convert version");
    expect_error(&v, "POST", "/v1/models/birdsClassifier/labels/stable:predict",
                 "{\"instances\": [1]}", 400, "Unrecognized servable version label: stable");
    expect_error(&v, "POST", "/v1/models/birdsClassifier:classify", "{\"examples\": []}", 400,
                 "tensorflow/serving/classify");
    expect_error(&v, "POST", "/v1/models/birdsClassifier/metadata", "{}", 400,
                 "Malformed request: POST");

    /* 101 x 101 pixels > max_pixels 10000: refused before any allocation. */
    char *big;
    size_t k;
    size_t cap = 64 + 101 * (101 * 8 + 4);
    big = malloc(cap);
    k = (size_t)snprintf(big, cap, "{\"instances\": [[");
    for (int y = 0; y < 101; y++) {
        big[k++] = '[';
        for (int x = 0; x < 101; x++)
            k += (size_t)snprintf(big + k, cap - k, "[0,0,0]%s", x < 100 ? "," : "");
        k += (size_t)snprintf(big + k, cap - k, "]%s", y < 100 ? "," : "");
    }
    snprintf(big + k, cap - k, "]]}");
    expect_error(&v, "POST", P, big, 400, "exceeds the pixel limit");
    free(big);

    /* Body over 4/3 * max_upload + 1 MiB: 413 before parsing. */
    size_t huge = 1200000;
    big = malloc(huge + 1);
    memset(big, ' ', huge);
    big[huge] = '\0';
    big[0] = '{';
    big[huge - 1] = '}';
    long st;
    json_t *j = call(&v, "POST", P, big, &st, NULL);
    CHECK_EQ_INT(st, 413);
    CHECK_STR_CONTAINS(err_of(j), "larger than the limit");
    json_decref(j);
    free(big);
    /* The server still answers afterwards. */
    j = call(&v, "GET", "/v1/models/birdsClassifier", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    json_decref(j);
    av_serving_stop(v.s);
}

/* A loop of predict requests runs while version 2 is swapped in and a
 * broken version 3 appears; no request fails. */
struct loop {
    const srv *v;
    const char *body;
    volatile int stop;
    volatile int ok, failed; /* read by the test thread while the loops run */
    long last_status;
};

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    char url[256];
    snprintf(url, sizeof url, "%s/v1/models/birdsClassifier:predict", l->v->base);
    while (!l->stop) {
        av_http_resp r;
        if (av_http_request("POST", url, "application/json", l->body, strlen(l->body), &r) ==
                0 &&
            r.status == 200)
            l->ok++;
        else
            l->failed++, l->last_status = r.status;
        av_http_free(&r);
    }
    return NULL;
}

static json_t *wait_state(const srv *v, const char *ver, const char *state, int ms)
{
    for (int t = 0; t < ms; t += 50) {
        long st;
        json_t *j = call(v, "GET", "/v1/models/birdsClassifier", NULL, &st, NULL);
        const char *s = state_of(j, ver, NULL);
        if (s && !strcmp(s, state))
            return j;
        json_decref(j);
        sleep_ms(50);
    }
    return NULL;
}

TEST(version_hot_swap)
{
    char base[700];
    snprintf(base, sizeof base, "%s/saved_model", av_test_tmpdir());
    CHECK(mkdir(base, 0755) == 0);
    make_version(base, "1", 0);
    av_serving_opts o = {.base_path = base, .poll_ms = 100, .workers = 4};
    srv v;
    start_srv(&v, &o);
    CHECK_EQ_INT(av_serving_live_version(v.s), 1);
    if (av_serving_live_version(v.s) == 0)
        SKIP("models not installed");
    long st;
    json_t *j = call(&v, "GET", "/v1/models/birdsClassifier", NULL, &st, NULL);
    CHECK_STR_EQ(state_of(j, "1", NULL), "AVAILABLE");
    json_decref(j);

    char *body = b64_request(av_test_shared("testdata/images/parrot.jpg"));
    struct loop l = {.v = &v, .body = body};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&th[i], NULL, loop_main, &l) == 0);
    sleep_ms(300);
    make_version(base, "002", 0); /* leading zeros are a version number, as in TF */
    j = wait_state(&v, "2", "AVAILABLE", 10000);
    CHECK_MSG(j, "version 2 never became AVAILABLE");
    json_decref(j);
    j = wait_state(&v, "1", "END", 5000); /* UNLOADING until its last request ends */
    CHECK_MSG(j, "version 1 never reached END");
    json_decref(j);
    CHECK_EQ_INT(av_serving_live_version(v.s), 2);
    sleep_ms(300);

    make_version(base, "3", 1);
    const char *code = NULL;
    j = wait_state(&v, "3", "END", 10000);
    CHECK_MSG(j, "broken version 3 never reported");
    state_of(j, "3", &code);
    CHECK_MSG(code && strcmp(code, "OK"), "broken version has error_code %s", code);
    CHECK_STR_EQ(state_of(j, "2", NULL), "AVAILABLE");
    json_t *e = json_array_get(json_object_get(j, "model_version_status"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(e, "version")), "3"); /* newest first */
    CHECK_STR_CONTAINS(
        json_string_value(json_object_get(json_object_get(e, "status"), "error_message")),
        "no_such_detector");
    json_decref(j);
    sleep_ms(300);
    /* a slow build (sanitizers, a loaded machine) gets the time to answer four */
    for (int t = 0; t < 20000 && l.ok + l.failed < 4; t += 50)
        sleep_ms(50);
    l.stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_MSG(l.failed == 0, "%d of %d requests failed during the swaps (last status %ld)",
              l.failed, l.ok + l.failed, l.last_status);
    CHECK_MSG(l.ok >= 4, "only %d requests ran", l.ok);
    CHECK_EQ_INT(av_serving_live_version(v.s), 2);
    expect_error(&v, "POST", "/v1/models/birdsClassifier/versions/1:predict", body, 404,
                 "Specific(birdsClassifier, 1)");
    j = call(&v, "POST", "/v1/models/birdsClassifier/versions/2:predict", body, &st, NULL);
    CHECK_EQ_INT(st, 200);
    json_decref(j);
    free(body);
    av_serving_stop(v.s);
}

/* An empty base path: the server starts, is not ready, and picks up the
 * first version when it appears. */
TEST(empty_base_path_then_first_version)
{
    char base[700];
    snprintf(base, sizeof base, "%s/empty", av_test_tmpdir());
    CHECK(mkdir(base, 0755) == 0);
    av_serving_opts o = {.base_path = base, .poll_ms = 100};
    srv v;
    start_srv(&v, &o);
    long st;
    json_t *j = call(&v, "GET", "/readyz", NULL, &st, NULL);
    CHECK_EQ_INT(st, 503);
    json_decref(j);
    expect_error(&v, "GET", "/v1/models/birdsClassifier", NULL, 404,
                 "Could not find any versions of model birdsClassifier");
    expect_error(&v, "POST", "/v1/models/birdsClassifier:predict", "{\"instances\": [1]}", 404,
                 "Servable not found for request: Latest(birdsClassifier)");
    make_version(base, "7", 0);
    j = wait_state(&v, "7", "AVAILABLE", 10000);
    CHECK_MSG(j, "version 7 never became AVAILABLE");
    json_decref(j);
    j = call(&v, "GET", "/readyz", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    json_decref(j);
    av_serving_stop(v.s);
}

TEST(client_round_trip_and_server_down)
{
    const char *path = av_test_shared("testdata/images/parrot.jpg");
    srv v;
    start_srv(&v, NULL);
    av_serving_client_opts co = {.url = v.base};
    av_serving_client *c = NULL;
    char err[512];
    CHECK(av_serving_client_open(&co, &c, err, sizeof err) == AV_SERVING_OK);
    CHECK_STR_CONTAINS(av_serving_client_url(c), "/v1/models/birdsClassifier:predict");
    size_t n;
    unsigned char *img = read_file(path, &n);
    av_serving_client_run_opts ro = {.annotate = 1};
    av_detect_result r;
    CHECK_MSG(av_serving_client_predict(c, img, n, &ro, &r, err, sizeof err) == AV_SERVING_OK,
              "%s", err);
    CHECK_EQ_INT(r.width, 512);
    CHECK_EQ_INT(r.height, 929);
    CHECK(r.n_dets >= 1);
    CHECK(r.dets[0].x2 > r.dets[0].x1 + 50 && r.dets[0].x2 <= 512.5f);
    CHECK(r.dets[0].y2 > r.dets[0].y1 + 50 && r.dets[0].y2 <= 929.5f);
    if (r.dets[0].n_species)
        CHECK_STR_EQ(r.dets[0].species[0].scientific, "Ara macao");
    CHECK(r.annotated && r.annotated_len > 1000);
    CHECK_STR_EQ(r.annotated_mime, "image/jpeg");
    av_detect_result_free(&r);
    av_serving_client_close(c);
    av_serving_stop(v.s);

    /* Nothing listens: a clean transport error, quickly. */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", av_test_free_port());
    co = (av_serving_client_opts){.url = url, .connect_timeout_ms = 500, .timeout_ms = 2000};
    CHECK(av_serving_client_open(&co, &c, err, sizeof err) == AV_SERVING_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ_INT(av_serving_client_predict(c, img, n, &ro, &r, err, sizeof err),
                 AV_SERVING_E_TRANSPORT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_STR_CONTAINS(err, "did not answer");
    CHECK(r.n_dets == 0 && r.dets == NULL && r.annotated == NULL);
    CHECK((t1.tv_sec - t0.tv_sec) < 5);
    av_serving_client_close(c);
    co.url = "ftp://x";
    CHECK_EQ_INT(av_serving_client_open(&co, &c, err, sizeof err), AV_SERVING_E_ARG);
    free(img);
}

static pid_t spawn(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        execv(aviary_bin(), argv);
        _exit(127);
    }
    return pid;
}

static int wait_up(const char *url, int ms)
{
    for (int t = 0; t < ms; t += 100) {
        av_http_resp r;
        if (av_http_get(url, &r) == 0 && r.status == 200) {
            av_http_free(&r);
            return 1;
        }
        av_http_free(&r);
        sleep_ms(100);
    }
    return 0;
}

static int stop_proc(pid_t pid, int sig)
{
    kill(pid, sig);
    int status = 0;
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        sleep_ms(100);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* Upload to the web app; returns the analysis JSON from /api/v1/images/ID. */
static json_t *upload_and_get(const char *web, const unsigned char *img, size_t n)
{
    char u[256];
    snprintf(u, sizeof u, "%s/upload", web);
    const char *names[] = {"parrot.jpg"};
    const void *datas[] = {img};
    size_t lens[] = {n};
    av_http_resp r;
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_MSG(r.status == 303, "upload status %ld", r.status);
    const char *loc = strstr(r.headers, "Location: /uploads/");
    CHECK(loc);
    char id[64];
    snprintf(id, sizeof id, "%.32s", loc + strlen("Location: /uploads/"));
    av_http_free(&r);
    snprintf(u, sizeof u, "%s/api/v1/images/%s", web, id);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    json_t *j = json_loads(r.body, 0, NULL);
    CHECK_MSG(j, "not JSON: %.200s", r.body);
    av_http_free(&r);
    /* The results page as a person sees it. */
    snprintf(u, sizeof u, "%s/uploads/%s", web, id);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    json_object_set_new(j, "_page", json_string(r.body ? r.body : ""));
    av_http_free(&r);
    return j;
}

TEST(serve_with_model_url_end_to_end)
{
    const char *path = av_test_shared("testdata/images/parrot.jpg");
    if (access("models/pipeline.json", F_OK))
        SKIP("models not installed");
    int mport = av_test_free_port(), wport = av_test_free_port();
    char mp[16], wp[16], murl[64], data[700];
    snprintf(mp, sizeof mp, "%d", mport);
    snprintf(wp, sizeof wp, "%d", wport);
    snprintf(murl, sizeof murl, "http://127.0.0.1:%d", mport);
    snprintf(data, sizeof data, "%s/data", av_test_tmpdir());
    char *ms_argv[] = {"aviary", "model-server", "--listen", "127.0.0.1", "--port", mp,
                       "--log-level", "warn", NULL};
    pid_t ms = spawn(ms_argv);
    char url[128];
    snprintf(url, sizeof url, "%s/v1/models/birdsClassifier", murl);
    CHECK_MSG(wait_up(url, 15000), "model-server did not answer %s", url);

    char *web_argv[] = {"aviary", "serve", "--listen", "127.0.0.1", "--port", wp, "--data", data,
                        "--model-url", murl, "--log-level", "error", NULL};
    pid_t web = spawn(web_argv);
    char wbase[64];
    snprintf(wbase, sizeof wbase, "http://127.0.0.1:%d", wport);
    snprintf(url, sizeof url, "%s/healthz", wbase);
    CHECK_MSG(wait_up(url, 15000), "serve did not answer %s", url);

    size_t n;
    unsigned char *img = read_file(path, &n);
    json_t *j = upload_and_get(wbase, img, n);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "status")), "done");
    json_t *d = json_array_get(json_object_get(j, "detections"), 0);
    CHECK_MSG(d, "no detection through the model server");
    const char *sp = json_string_value(json_object_get(d, "species"));
    if (sp)
        CHECK_STR_EQ(sp, "Ara macao");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "width")), 512);
    const char *ann = json_string_value(json_object_get(j, "annotated_url"));
    CHECK(ann);
    snprintf(url, sizeof url, "%s%s", wbase, ann);
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(url, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.len > 1000);
    av_http_free(&r);
    json_decref(j);

    /* The model server goes away: the upload is kept and stays pending, the
     * page says analysis is being retried... */
    CHECK_EQ_INT(stop_proc(ms, SIGTERM), 0);
    j = upload_and_get(wbase, img, n);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "status")), "pending");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(j, "retrying")), "model server");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(j, "_page")), "retrying by itself");
    const char *orig = json_string_value(json_object_get(j, "original_url"));
    snprintf(url, sizeof url, "%s%s", wbase, orig);
    CHECK_EQ_INT(av_http_get(url, &r), 0);
    CHECK_EQ_INT(r.status, 200); /* the photo itself is kept */
    CHECK_EQ_INT(r.len, n);
    av_http_free(&r);
    char api[160];
    snprintf(api, sizeof api, "%s/api/v1/images/%s", wbase,
             json_string_value(json_object_get(j, "id")));
    json_decref(j);

    /* ...and once the model server is back it is analysed without anyone
     * asking again (retries back off 1, 2, 4 ... 30 s). */
    ms = spawn(ms_argv);
    snprintf(url, sizeof url, "%s/v1/models/birdsClassifier", murl);
    CHECK_MSG(wait_up(url, 15000), "model-server did not come back on %s", url);
    const char *status = "";
    for (int i = 0; i < 90 && strcmp(status, "done"); i++) { /* at most 45 s */
        usleep(500 * 1000);
        CHECK_EQ_INT(av_http_get(api, &r), 0);
        status = r.body && strstr(r.body, "\"status\":\"done\"") ? "done" : "";
        av_http_free(&r);
    }
    CHECK_STR_EQ(status, "done");
    free(img);
    CHECK_EQ_INT(stop_proc(web, SIGINT), 0);
    CHECK_EQ_INT(stop_proc(ms, SIGTERM), 0);
}

TEST(model_server_cli_base_path_and_bad_flags)
{
    char base[700];
    snprintf(base, sizeof base, "%s/sm", av_test_tmpdir());
    CHECK(mkdir(base, 0755) == 0);
    make_version(base, "001", 0);
    int port = av_test_free_port();
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    char *argv[] = {"aviary", "model-server", "--listen", "127.0.0.1", "--port", p,
                    "--model-name", "birds2", "--model-base-path", base, "--log-level", "warn",
                    NULL};
    pid_t pid = spawn(argv);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/models/birds2/versions/1", port);
    CHECK_MSG(wait_up(url, 15000), "model-server did not serve version 1 at %s", url);
    CHECK_EQ_INT(stop_proc(pid, SIGINT), 0);

    char *bad[] = {"aviary", "model-server", "extra", NULL};
    pid = spawn(bad);
    int status;
    waitpid(pid, &status, 0);
    CHECK_EQ_INT(WEXITSTATUS(status), 2);
}

/* ----------------------------------------------------------- batching */

typedef struct post_job {
    const srv *v;
    const char *path, *body;
    long status;
    json_t *j;
    int retry_after; /* the answer carried Retry-After */
} post_job;

static void *post_main(void *arg)
{
    post_job *p = arg;
    char url[2400];
    snprintf(url, sizeof url, "%s%s", p->v->base, p->path);
    av_http_resp r;
    if (av_http_request("POST", url, "application/json", p->body, strlen(p->body), &r) != 0) {
        p->status = -1;
        return NULL;
    }
    p->status = r.status;
    p->j = json_loads(r.body ? r.body : "", 0, NULL);
    p->retry_after = r.headers && strstr(r.headers, "Retry-After: 1") != NULL;
    av_http_free(&r);
    return NULL;
}

/* Value of an unlabelled metric line "NAME VALUE" in exposition text. */
static double metric(const char *text, const char *name)
{
    char key[160];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    CHECK_MSG(p, "metric %s missing", name);
    return strtod(p + strlen(key), NULL);
}

static char *metrics_text(const srv *v)
{
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", v->base);
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(url, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    char *t = strdup(r.body ? r.body : "");
    av_http_free(&r);
    CHECK(t != NULL);
    return t;
}

/* A models folder like models/ whose pipeline.json picks NanoDet, which
 * batches (the default, CenterNet, runs the images of a batch one by one);
 * the path lives in the case's scratch directory. */
static const char *nanodet_models(void)
{
    static char dir[600];
    char cwd[400], cmd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(dir, sizeof dir, "%s/nanodet_models", av_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && cp models/*.json '%s'/ && ln -s '%s/models/human' "
             "'%s/models/inat_bird' '%s'/",
             dir, dir, cwd, cwd, dir);
    CHECK(system(cmd) == 0);
    char path[700];
    snprintf(path, sizeof path, "%s/pipeline.json", dir);
    json_error_t je;
    json_t *pj = json_load_file(path, 0, &je);
    CHECK_MSG(pj != NULL, "%s: %s", path, je.text);
    CHECK(json_object_set_new(pj, "detector", json_string("nanodet")) == 0);
    CHECK(json_dump_file(pj, path, JSON_INDENT(1)) == 0);
    json_decref(pj);
    return dir;
}

/* Four different images posted at once to a batching server come back
 * each with its own answer, identical to the unbatched server's, and the
 * batch-size histogram shows they shared batches, each batch one detector
 * forward pass. */
TEST(batching_matches_unbatched_and_fills_batches)
{
    const char *names[] = {"parrot.jpg", "bird.bmp", "kite_and_cold.jpg", "cat.bmp"};
    enum { N = 4 };
    char *bodies[N];
    for (int i = 0; i < N; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "testdata/images/%s", names[i]);
        bodies[i] = b64_request(av_test_shared(rel));
    }
    srv off, on;
    const char *models = nanodet_models(); /* the images without birds also run zoom-out */
    av_serving_opts plain = {.models_dir = models};
    start_srv(&off, &plain);
    json_t *want[N];
    for (int i = 0; i < N; i++) {
        long st;
        json_t *j = call(&off, "POST", "/v1/models/birdsClassifier:predict", bodies[i], &st,
                         NULL);
        CHECK_MSG(st == 200, "unbatched %s: status %ld: %s", names[i], st, err_of(j));
        want[i] = json_incref(json_object_get(j, "predictions"));
        json_decref(j);
    }
    av_serving_stop(off.s);

    /* A wide window so the four requests meet in the queue even when slow
     * (sanitizers); the batch runs as soon as it holds 4 images. */
    av_serving_opts o = {.workers = 4, .batch_max = N, .batch_wait_ms = 2000, .batch_queue = 8,
                         .models_dir = models};
    start_srv(&on, &o);
    post_job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (post_job){.v = &on, .path = "/v1/models/birdsClassifier:predict",
                             .body = bodies[i]};
        CHECK(pthread_create(&th[i], NULL, post_main, &jobs[i]) == 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        CHECK_MSG(jobs[i].status == 200, "batched %s: status %ld: %s", names[i], jobs[i].status,
                  err_of(jobs[i].j));
        json_t *got = json_object_get(jobs[i].j, "predictions");
        if (!json_equal(got, want[i])) {
            char *a = json_dumps(got, JSON_COMPACT), *b = json_dumps(want[i], JSON_COMPACT);
            FAIL("batched answer for %s differs:\n got %.300s\nwant %.300s", names[i], a, b);
        }
        json_decref(jobs[i].j);
        if (i > 0)
            json_decref(want[i]);
    }
    json_t *want0 = want[0]; /* parrot, again below */
    char *m = metrics_text(&on);
    double count = metric(m, "aviary_serving_batch_size_count");
    double sum = metric(m, "aviary_serving_batch_size_sum");
    CHECK_MSG(sum == N, "%g images went through batches, want %d", sum, N);
    CHECK_MSG(count >= 1 && count < N, "%g batches for %d concurrent requests: none shared", count,
              N);
    double le1 = metric(m, "aviary_serving_batch_size_bucket{le=\"1\"}");
    CHECK_MSG(le1 < count, "every batch had one image (%g of %g)", le1, count);
    /* NanoDet batches: each batch, whatever its size, was one detector pass */
    double runs = metric(m, "aviary_serving_batch_detector_runs_total");
    CHECK_MSG(runs == count, "%g detector runs for %g batches of %d images", runs, count, N);
    free(m);

    /* A lone request still runs (after the wait) and a request with more
     * images than batch_max runs as one batch of its own. */
    size_t bl = strlen(bodies[0]);
    const char *inner = strstr(bodies[0], "{\"b64\"");
    size_t il = strlen(inner) - 2; /* drop the closing "]}" */
    char *big = malloc(bl * 6 + 64);
    CHECK(big != NULL);
    size_t k = (size_t)sprintf(big, "{\"instances\": [");
    for (int i = 0; i < N + 1; i++) {
        memcpy(big + k, inner, il);
        k += il;
        big[k++] = i < N ? ',' : ']';
    }
    big[k++] = '}';
    big[k] = '\0';
    long st;
    json_t *j = call(&on, "POST", "/v1/models/birdsClassifier:predict", big, &st, NULL);
    CHECK_MSG(st == 200, "5-image request: status %ld: %s", st, err_of(j));
    CHECK_EQ_INT(json_array_size(json_object_get(j, "predictions")), N + 1);
    json_decref(j);
    free(big);
    m = metrics_text(&on);
    CHECK_MSG(metric(m, "aviary_serving_batch_size_sum") == 2 * N + 1, "5 more images expected");
    CHECK_MSG(metric(m, "aviary_serving_batch_detector_runs_total") == count + 1,
              "the 5-image request took more than one detector run");
    free(m);
    /* Bad images fail the same way as unbatched. */
    expect_error(&on, "POST", "/v1/models/birdsClassifier:predict",
                 "{\"instances\": [{\"b64\": \"aGVsbG8=\"}]}", 400, "");
    av_serving_stop(on.s);

    /* Past the decode-ahead budget (max_pixels per worker: here one
     * parrot) the second image stays encoded and the batch thread decodes
     * it: same answers. */
    av_serving_opts tight = {.workers = 1, .max_pixels = 500000, .batch_max = 2,
                             .batch_wait_ms = 1, .models_dir = models};
    start_srv(&on, &tight);
    char *two = malloc(2 * il + 64);
    CHECK(two != NULL);
    sprintf(two, "{\"instances\": [%.*s,%.*s]}", (int)il, inner, (int)il, inner);
    j = call(&on, "POST", "/v1/models/birdsClassifier:predict", two, &st, NULL);
    CHECK_MSG(st == 200, "two parrots: status %ld: %s", st, err_of(j));
    for (size_t i = 0; i < 2; i++)
        CHECK_MSG(json_equal(json_array_get(json_object_get(j, "predictions"), i),
                             json_array_get(want0, 0)),
                  "parrot %zu decoded by the batch thread differs", i);
    json_decref(j);
    free(two);
    av_serving_stop(on.s);
    json_decref(want0);
    for (int i = 0; i < N; i++)
        free(bodies[i]);
}

/* More waiting requests than --batch-queue: the extra ones get TF
 * Serving's UNAVAILABLE as 503 with Retry-After, the others are answered. */
TEST(batch_queue_full_is_503_with_retry_after)
{
    char *body = b64_request(av_test_shared("testdata/images/parrot.jpg"));
    av_serving_opts o = {.workers = 4, .batch_max = 8, .batch_wait_ms = 1500, .batch_queue = 2};
    srv v;
    start_srv(&v, &o);
    enum { N = 4 };
    post_job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (post_job){.v = &v, .path = "/v1/models/birdsClassifier:predict",
                             .body = body};
        CHECK(pthread_create(&th[i], NULL, post_main, &jobs[i]) == 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    int ok = 0, full = 0;
    for (int i = 0; i < N; i++) {
        if (jobs[i].status == 200) {
            ok++;
            json_t *p = json_array_get(json_object_get(jobs[i].j, "predictions"), 0);
            CHECK(json_number_value(json_object_get(p, "num_detections")) >= 1);
        } else {
            CHECK_MSG(jobs[i].status == 503, "status %ld: %s", jobs[i].status,
                      err_of(jobs[i].j));
            full++;
            CHECK_MSG(jobs[i].retry_after, "503 without Retry-After");
            CHECK_EQ_INT(json_object_size(jobs[i].j), 1);
            CHECK_STR_CONTAINS(err_of(jobs[i].j), "batch scheduling queue");
        }
        json_decref(jobs[i].j);
    }
    CHECK_MSG(ok >= 1 && ok <= 2, "%d requests answered with a queue of 2", ok);
    CHECK_MSG(full >= 2, "%d requests refused, want >= 2", full);
    char *m = metrics_text(&v);
    CHECK_STR_CONTAINS(m, "aviary_serving_requests_total{route=\"predict\",code=\"503\"}");
    free(m);
    av_serving_stop(v.s);
    free(body);
}

/* ---------------------------------------------------- model config file */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

TEST(model_config_file_two_models)
{
    char b1[700], b2[700], cfg[800], real[PATH_MAX], text[2 * 700 + PATH_MAX + 400];
    snprintf(b1, sizeof b1, "%s/cfg_birds", av_test_tmpdir());
    snprintf(b2, sizeof b2, "%s/cfg_robins", av_test_tmpdir());
    CHECK(mkdir(b1, 0755) == 0 && mkdir(b2, 0755) == 0);
    make_version(b1, "1", 0);
    make_version(b2, "3", 0);
    CHECK(realpath("models", real) != NULL);
    snprintf(cfg, sizeof cfg, "%s/models.config", av_test_tmpdir());
    snprintf(text, sizeof text,
             "# two version trees and one plain models folder\n"
             "model_config_list {\n"
             "  config { name: \"birds\" base_path: \"%s\" model_platform: \"tensorflow\" }\n"
             "  config: {\n    name: 'robins',\n    base_path: \"%s\"\n  }\n"
             "  config { name: \"flat\" base_path: \"%s\" }\n"
             "}\n",
             b1, b2, real);
    write_text(cfg, text);
    av_serving_opts o = {.model_config_file = cfg, .poll_ms = 100};
    srv v;
    start_srv(&v, &o);
    CHECK_EQ_INT(av_serving_live_version_of(v.s, "birds"), 1);
    CHECK_EQ_INT(av_serving_live_version_of(v.s, "robins"), 3);
    CHECK_EQ_INT(av_serving_live_version_of(v.s, "flat"), 1);
    CHECK_EQ_INT(av_serving_live_version_of(v.s, "birdsClassifier"), 0);

    const char *names[] = {"birds", "robins", "flat"}, *vers[] = {"1", "3", "1"};
    char *body = b64_request(av_test_shared("testdata/images/parrot.jpg"));
    for (int i = 0; i < 3; i++) {
        char path[256];
        long st;
        snprintf(path, sizeof path, "/v1/models/%s", names[i]);
        json_t *j = call(&v, "GET", path, NULL, &st, NULL);
        CHECK_MSG(st == 200, "%s: status %ld", path, st);
        CHECK_EQ_INT(json_array_size(json_object_get(j, "model_version_status")), 1);
        CHECK_STR_EQ(state_of(j, vers[i], NULL), "AVAILABLE");
        json_decref(j);

        snprintf(path, sizeof path, "/v1/models/%s/metadata", names[i]);
        j = call(&v, "GET", path, NULL, &st, NULL);
        CHECK_EQ_INT(st, 200);
        json_t *spec = json_object_get(j, "model_spec");
        CHECK_STR_EQ(json_string_value(json_object_get(spec, "name")), names[i]);
        CHECK_STR_EQ(json_string_value(json_object_get(spec, "version")), vers[i]);
        json_decref(j);

        snprintf(path, sizeof path, "/v1/models/%s/versions/%s:predict", names[i], vers[i]);
        j = call(&v, "POST", path, body, &st, NULL);
        CHECK_MSG(st == 200, "%s: status %ld: %s", path, st, err_of(j));
        json_t *p = json_array_get(json_object_get(j, "predictions"), 0);
        CHECK(json_number_value(json_object_get(p, "num_detections")) >= 1);
        json_decref(j);
    }
    /* Versions are per model: robins has no version 1. */
    expect_error(&v, "POST", "/v1/models/robins/versions/1:predict", body, 404,
                 "Servable not found for request: Specific(robins, 1)");
    expect_error(&v, "GET", "/v1/models/nope", NULL, 404,
                 "Could not find any versions of model nope");
    expect_error(&v, "GET", "/v1/models/nope/metadata", NULL, 404,
                 "Servable not found for request: Latest(nope)");
    expect_error(&v, "POST", "/v1/models/nope:predict", body, 404,
                 "Servable not found for request: Latest(nope)");
    expect_error(&v, "GET", "/v1/models/birdsClassifier", NULL, 404,
                 "Could not find any versions of model birdsClassifier");
    long st;
    json_t *j = call(&v, "GET", "/readyz", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    json_decref(j);
    char *m = metrics_text(&v);
    CHECK_STR_CONTAINS(m, "aviary_serving_model_version{model=\"birds\"} 1");
    CHECK_STR_CONTAINS(m, "aviary_serving_model_version{model=\"robins\"} 3");
    CHECK_STR_CONTAINS(m, "aviary_serving_model_version{model=\"flat\"} 1");
    free(m);

    /* Hot swap stays per model: a new robins version leaves birds alone. */
    make_version(b2, "4", 0);
    for (int t = 0; t < 200 && av_serving_live_version_of(v.s, "robins") != 4; t++)
        sleep_ms(50);
    CHECK_EQ_INT(av_serving_live_version_of(v.s, "robins"), 4);
    CHECK_EQ_INT(av_serving_live_version_of(v.s, "birds"), 1);
    av_serving_stop(v.s);
    free(body);

    /* Bad files are refused before anything loads, naming the line. */
    struct {
        const char *text, *want;
    } bad[] = {
        {"model_config_list {\n config {\n  name: \"a\" base_path: \"x\"\n  "
         "model_version_policy { all {} }\n }\n}\n",
         ":4: unsupported field 'model_version_policy'"},
        {"model_config_list { config { name: \"a\" base_path: \"x\" } config { name: \"a\" "
         "base_path: \"y\" } }",
         "model 'a' is listed twice"},
        {"model_config_list { config { name: \"a\" } }", "needs both name and base_path"},
        {"model_config_list { }", "no models"},
        {"model_config_list { config { name: \"a/b\" base_path: \"x\" } }", "model name"},
        {"model_config_list { config { name: \"a\" base_path: \"x }", "unterminated string"},
        {"{}", "expected model_config_list"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(cfg, bad[i].text);
        av_serving *s = NULL;
        char err[512] = "";
        av_serving_opts ob = {.listen = "127.0.0.1", .model_config_file = cfg};
        CHECK_EQ_INT(av_serving_start(&ob, &s, err, sizeof err), AV_SERVING_E_ARG);
        CHECK(s == NULL);
        CHECK_STR_CONTAINS(err, bad[i].want);
    }
}

/* The flags reach the server: `aviary model-server --model-config-file F
 * --batch-max 4` serves the file's model with batching (batch sizes in
 * /metrics); out-of-range batch flags are usage errors. */
TEST(model_server_cli_config_file_and_batching)
{
    char real[PATH_MAX], cfg[800], text[PATH_MAX + 200];
    CHECK(realpath("models", real) != NULL);
    snprintf(cfg, sizeof cfg, "%s/cli.config", av_test_tmpdir());
    snprintf(text, sizeof text,
             "model_config_list { config { name: \"cliBirds\" base_path: \"%s\" } }\n", real);
    write_text(cfg, text);
    int port = av_test_free_port();
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    char *argv[] = {"aviary", "model-server", "--listen", "127.0.0.1", "--port", p,
                    "--model-config-file", cfg, "--batch-max", "4", "--batch-wait-ms", "1",
                    "--log-level", "warn", NULL};
    pid_t pid = spawn(argv);
    srv v = {0};
    snprintf(v.base, sizeof v.base, "http://127.0.0.1:%d", port);
    char url[160];
    snprintf(url, sizeof url, "%s/v1/models/cliBirds", v.base);
    CHECK_MSG(wait_up(url, 15000), "model-server did not serve cliBirds at %s", url);
    char *body = b64_request(av_test_shared("testdata/images/parrot.jpg"));
    long st;
    json_t *j = call(&v, "POST", "/v1/models/cliBirds:predict", body, &st, NULL);
    CHECK_MSG(st == 200, "status %ld: %s", st, err_of(j));
    json_decref(j);
    free(body);
    char *m = metrics_text(&v);
    CHECK_MSG(metric(m, "aviary_serving_batch_size_count") == 1, "no batch counted:\n%s", m);
    free(m);
    CHECK_EQ_INT(stop_proc(pid, SIGINT), 0);

    char *bad[] = {"aviary", "model-server", "--batch-max", "100000", NULL};
    pid = spawn(bad);
    int status;
    waitpid(pid, &status, 0);
    CHECK_EQ_INT(WEXITSTATUS(status), 2);
}

TEST(b64_round_trip)
{
    const char *cases[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e;
        size_t el;
        CHECK(av_serving_b64_encode(cases[i], strlen(cases[i]), &e, &el) == 0);
        CHECK_STR_EQ(e, want[i]);
        unsigned char *d;
        size_t dl;
        CHECK(av_serving_b64_decode(e, el, &d, &dl) == 0);
        CHECK_EQ_INT(dl, strlen(cases[i]));
        CHECK(memcmp(d, cases[i], dl) == 0);
        free(d);
        free(e);
    }
    unsigned char *d;
    size_t dl;
    CHECK_EQ_INT(av_serving_b64_decode("Zm9v!", 5, &d, &dl), -1);
    CHECK_EQ_INT(av_serving_b64_decode("Z", 1, &d, &dl), -1);
    CHECK(av_serving_b64_decode("Zm9vYg", 6, &d, &dl) == 0 && dl == 4); /* unpadded */
    free(d);
}

TEST_MAIN(T(b64_round_trip), T(status_and_metadata), T(predict_b64_parrot_is_scarlet_macaw),
          T(original_client_nested_list_request), T(malformed_requests), T(version_hot_swap), T(empty_base_path_then_first_version),
          T(client_round_trip_and_server_down), T(serve_with_model_url_end_to_end),
          T(model_server_cli_base_path_and_bad_flags),
          T(batching_matches_unbatched_and_fills_batches),
          T(batch_queue_full_is_503_with_retry_after), T(model_config_file_two_models),
          T(model_server_cli_config_file_and_batching))
