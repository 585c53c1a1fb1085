/*
 * t_serving.c - the TF-Serving-compatible model server over real HTTP:
 * status, metadata, predict with b64 images and the original client's
 * nested-list request, TF's error shapes and statuses, base64, hostile
 * clients. Versions: t_serving_versions.c; the client and `aviary serve
 * --model-url`: t_serving_remote.c; batching: t_serving_batch.c; model
 * config files: t_serving_config.c.
 */
#include "harness.h"
#include "detect_fixture.h"
#include "http.h"
#include "proc.h"
#include "serving_fixture.h"

#include "serving/serving.h"

#include <jansson.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

TEST(status_and_metadata)
{
    av_test_srv v;
    av_test_srv_start(&v, NULL);
    long st;
    json_t *j = av_test_srv_call(&v, "GET", "/v1/models/birdsClassifier", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    json_t *e = json_array_get(json_object_get(j, "model_version_status"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(e, "version")), "1");
    CHECK_STR_EQ(json_string_value(json_object_get(e, "state")), "AVAILABLE");
    json_t *s = json_object_get(e, "status");
    CHECK_STR_EQ(json_string_value(json_object_get(s, "error_code")), "OK");
    CHECK_STR_EQ(json_string_value(json_object_get(s, "error_message")), "");
    json_decref(j);

    j = av_test_srv_call(&v, "GET", "/v1/models/birdsClassifier/versions/1", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "model_version_status")), 1);
    json_decref(j);

    av_http_resp keep;
    j = av_test_srv_call(&v, "GET", "/v1/models/birdsClassifier/metadata", NULL, &st, &keep);
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

    av_test_srv_expect_error(&v, "GET", "/v1/models/nope", NULL, 404,
                             "Could not find any versions of model nope");
    av_test_srv_expect_error(&v, "GET", "/v1/models/birdsClassifier/versions/2", NULL, 404,
                             "Could not find version 2 of model birdsClassifier");
    av_test_srv_expect_error(&v, "GET", "/v1/models/birdsClassifier/versions/2/metadata", NULL, 404,
                             "Servable not found for request: Specific(birdsClassifier, 2)");
    av_test_srv_expect_error(&v, "GET", "/v1/models", NULL, 400, "Missing model name in request.");
    av_test_srv_expect_error(&v, "PUT", "/v1/models/birdsClassifier", "{}", 400,
                             "Malformed request: PUT /v1/models/birdsClassifier");
    av_test_srv_expect_error(&v, "GET", "/v1/models/birdsClassifier:predict", NULL, 400,
                             "Malformed request: GET");
    av_test_srv_expect_error(&v, "GET", "/v1/models/birdsClassifier/version/1", NULL, 400,
                             "Malformed request");

    char url0[128];
    j = av_test_srv_call(&v, "GET", "/healthz", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "role")), "model-server");
    json_decref(j);
    j = av_test_srv_call(&v, "GET", "/readyz", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "model_version")), 1);
    json_decref(j);

    snprintf(url0, sizeof url0, "%s/metrics", v.base);
    CHECK_EQ_INT(av_http_get(url0, &keep), 0);
    CHECK_EQ_INT(keep.status, 200);
    CHECK_STR_CONTAINS(keep.body, "aviary_serving_requests_total{route=\"status\",code=\"200\"} 2");
    CHECK_STR_CONTAINS(keep.body,
                       "aviary_serving_requests_total{route=\"metadata\",code=\"200\"} 1");
    CHECK_STR_CONTAINS(keep.body,
                       "aviary_serving_request_seconds_bucket{route=\"status\",le=\"+Inf\"}");
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
    av_test_srv v;
    av_test_srv_start(&v, NULL);
    char *body = av_test_b64_request(img);
    long st;
    json_t *j = av_test_srv_call(&v, "POST", "/v1/models/birdsClassifier:predict", body, &st, NULL);
    CHECK_MSG(st == 200, "status %ld: %s", st, av_test_err_of(j));
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
    CHECK_NEAR(json_number_value(json_array_get(json_object_get(p, "detection_classes"), 0)), 16,
               0); /* not a tracked species: COCO 'bird' */
    json_t *size = json_object_get(p, "image_size");
    CHECK_EQ_INT(json_integer_value(json_array_get(size, 0)), 929);
    CHECK_EQ_INT(json_integer_value(json_array_get(size, 1)), 512);
    json_decref(j);

    /* Explicit version, signature and the columnar form give the same. */
    size_t bl = strlen(body) + 200;
    char *col = malloc(bl);
    const char *b64 = strstr(body, "\"b64\"");
    snprintf(col, bl,
             "{\"signature_name\": \"image_bytes\", \"inputs\": {\"image_bytes\": [{%.*s}]}}",
             (int)(strlen(b64) - 3), b64);
    j = av_test_srv_call(&v, "POST", "/v1/models/birdsClassifier/versions/1:predict", col, &st,
                         NULL);
    CHECK_MSG(st == 200, "columnar: status %ld: %s", st, av_test_err_of(j));
    json_t *o = json_object_get(j, "outputs");
    CHECK_STR_EQ(
        json_string_value(json_array_get(
            json_array_get(json_array_get(json_object_get(o, "detection_species"), 0), 0), 0)),
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
    unsigned char *bytes = av_test_read_file(path, &n);
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

    av_test_srv v;
    av_test_srv_start(&v, NULL);
    long st;
    json_t *j = av_test_srv_call(&v, "POST", "/v1/models/birdsClassifier:predict", body, &st, NULL);
    CHECK_MSG(st == 200, "status %ld: %s", st, av_test_err_of(j));
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
    j = av_test_srv_call(&v, "POST", "/v1/models/birdsClassifier:predict",
                         "{\"instances\": [{\"input_tensor\": [[[999, 0, 0]]]}]}", &st, NULL);
    CHECK_EQ_INT(st, 400);
    CHECK_STR_CONTAINS(av_test_err_of(j),
                       "JSON Value: 999 Type: Number is not of expected type: uint8");
    json_decref(j);
    free(body);
    av_serving_stop(v.s);
}

TEST(malformed_requests)
{
    av_serving_opts o = {.max_upload_bytes = 60000, .max_pixels = 10000};
    av_test_srv v;
    av_test_srv_start(&v, &o);
    const char *P = "/v1/models/birdsClassifier:predict";
    av_test_srv_expect_error(&v, "POST", P, "", 400, "JSON Parse error: The document is empty");
    av_test_srv_expect_error(&v, "POST", P, "{\"instances\": [", 400, "JSON Parse error:");
    av_test_srv_expect_error(&v, "POST", P, "[1, 2]", 400, "Is not object");
    av_test_srv_expect_error(&v, "POST", P, "{}", 400, "Missing 'inputs' or 'instances' key");
    av_test_srv_expect_error(&v, "POST", P, "{\"instances\": [], \"inputs\": []}", 400,
                             "expecting only one of 'inputs' or 'instances'");
    av_test_srv_expect_error(&v, "POST", P, "{\"instances\": {}}", 400,
                             "Expecting 'instances' to be an list/array");
    av_test_srv_expect_error(&v, "POST", P, "{\"instances\": []}", 400,
                             "No values in 'instances' array");
    av_test_srv_expect_error(&v, "POST", P, "{\"signature_name\": 7, \"instances\": [1]}", 400,
                             "'signature_name' key must be a string value.");
    av_test_srv_expect_error(&v, "POST", P, "{\"signature_name\": \"other\", \"instances\": [1]}",
                             400, "Serving signature name: \"other\" not found in signature def");
    av_test_srv_expect_error(&v, "POST", P, "{\"instances\": [{\"b64\": \"!!not base64!!\"}]}", 400,
                             "Unable to base64 decode");
    av_test_srv_expect_error(&v, "POST", P, "{\"instances\": [{\"b64\": \"aGVsbG8gd29ybGQ=\"}]}",
                             400, "image");
    av_test_srv_expect_error(&v, "POST", P, "{\"instances\": [{\"pixels\": [1]}]}", 400,
                             "does not have named input: pixels");
    av_test_srv_expect_error(&v, "POST", P,
                             "{\"instances\": [{\"input_tensor\": [[[1, 2, 3]], [[1, 2]]]}]}", 400,
                             "unexpected size/level");
    av_test_srv_expect_error(&v, "POST", P,
                             "{\"instances\": [{\"input_tensor\": [[[1, 2, \"x\"]]]}]}", 400,
                             "Type: String is not of expected type: uint8");
    av_test_srv_expect_error(&v, "POST", "/v1/models/nope:predict", "{\"instances\": [1]}", 404,
                             "Servable not found for request: Latest(nope)");
    av_test_srv_expect_error(&v, "POST", "/v1/models/birdsClassifier/versions/9:predict",
                             "{\"instances\": [1]}", 404,
                             "Servable not found for request: Specific(birdsClassifier, 9)");
    av_test_srv_expect_error(&v, "POST",
                             "/v1/models/birdsClassifier/versions/99999999999999999999:predict",
                             "{\"instances\": [1]}", 400, "Failed to convert version");
    av_test_srv_expect_error(&v, "POST", "/v1/models/birdsClassifier/labels/stable:predict",
                             "{\"instances\": [1]}", 400,
                             "Unrecognized servable version label: stable");
    av_test_srv_expect_error(&v, "POST", "/v1/models/birdsClassifier:classify",
                             "{\"examples\": []}", 400, "tensorflow/serving/classify");
    av_test_srv_expect_error(&v, "POST", "/v1/models/birdsClassifier/metadata", "{}", 400,
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
    av_test_srv_expect_error(&v, "POST", P, big, 400, "exceeds the pixel limit");
    free(big);

    /* Body over 4/3 * max_upload + 1 MiB: 413 before parsing. */
    size_t huge = 1200000;
    big = malloc(huge + 1);
    memset(big, ' ', huge);
    big[huge] = '\0';
    big[0] = '{';
    big[huge - 1] = '}';
    long st;
    json_t *j = av_test_srv_call(&v, "POST", P, big, &st, NULL);
    CHECK_EQ_INT(st, 413);
    CHECK_STR_CONTAINS(av_test_err_of(j), "larger than the limit");
    json_decref(j);
    free(big);
    /* The server still answers afterwards. */
    j = av_test_srv_call(&v, "GET", "/v1/models/birdsClassifier", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    json_decref(j);
    av_serving_stop(v.s);
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

/* Issue 16 on the model server: a model name that is not UTF-8 (D7), a
 * large nested list with a bad value late in it (answered by the pixel
 * reader, never a jansson tree: D6), the header and query checks. */
TEST(hostile_clients)
{
    av_serving_opts o = {.max_pixels = 1000000};
    av_test_srv v;
    av_test_srv_start(&v, &o);
    av_test_srv_expect_error(&v, "POST", "/v1/models/%FF%FEbirds:predict", "{\"instances\": [1]}",
                             404,
                             "Servable not found for request: Latest(\xef\xbf\xbd\xef\xbf\xbd"
                             "birds)");
    /* a parse error quoting bytes that are not UTF-8 (found by fuzz_predict) */
    av_test_srv_expect_error(&v, "POST", "/v1/models/birdsClassifier:predict",
                             "\"i\\\xce\x9a\x8b\"", 400, "JSON Parse error");
    /* 300 x 300 pixels (about 1 MB of text), one value out of range near the end */
    size_t cap = 64 + (size_t)300 * 300 * 16;
    char *body = malloc(cap);
    CHECK(body);
    size_t k = (size_t)snprintf(body, cap, "{\"instances\": [{\"input_tensor\": [");
    for (int y = 0; y < 300; y++) {
        body[k++] = '[';
        for (int x = 0; x < 300; x++)
            k += (size_t)snprintf(body + k, cap - k, "[1,2,%d]%s", y == 299 && x == 150 ? 300 : 3,
                                  x < 299 ? "," : "");
        k += (size_t)snprintf(body + k, cap - k, "]%s", y < 299 ? "," : "");
    }
    snprintf(body + k, cap - k, "]}]}");
    av_test_srv_expect_error(&v, "POST", "/v1/models/birdsClassifier:predict", body, 400,
                             "JSON Value: 300 Type: Number is not of expected type: uint8");
    free(body);
    int port = atoi(strrchr(v.base, ':') + 1);
    char resp[4096];
    int fd = av_http_raw_connect(NULL, port);
    CHECK(fd >= 0);
    const char *req = "GET /v1/models/birdsClassifier HTTP/1.1\r\nConnection: close\r\n\r\n";
    CHECK(av_http_raw_send(fd, req, strlen(req)) == 0);
    CHECK_EQ_INT(av_http_raw_response(fd, 5000, resp, sizeof resp), 400);
    CHECK_STR_CONTAINS(resp, "Host header");
    close(fd);
    av_serving_stop(v.s);
}

TEST_MAIN(T(b64_round_trip), T(status_and_metadata), T(predict_b64_parrot_is_scarlet_macaw),
          T(original_client_nested_list_request), T(malformed_requests), T(hostile_clients))
