/*
 * t_kserve.c - the model server's KServe V2 / Open Inference Protocol REST
 * endpoints over real HTTP: server and model metadata, health and
 * readiness, infer with base64 BYTES images and a UINT8 [N,H,W,3] tensor
 * (same answers), the request id echoed, output selection, and the
 * protocol's documented example request and error shapes.
 */
#include "harness.h"
#include "detect_fixture.h"
#include "http.h"
#include "serving_fixture.h"

#include "serving/serving.h"
#include "vision/vision.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The in-process server, two HTTP workers. */
static void start_srv(av_test_srv *v)
{
    av_serving_opts o = {.workers = 2};
    av_test_srv_start(v, &o);
}

static json_t *output(const json_t *resp, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(resp, "outputs"), i, o)
    {
        if (!strcmp(json_string_value(json_object_get(o, "name")), name))
            return o;
    }
    return NULL;
}

/* Every output tensor is {name, datatype, shape, data} with as many data
 * values as its shape says (the protocol's response tensor). */
static void check_tensors(const json_t *resp)
{
    size_t i;
    json_t *o;
    CHECK(json_array_size(json_object_get(resp, "outputs")) > 0);
    json_array_foreach(json_object_get(resp, "outputs"), i, o)
    {
        CHECK(json_is_string(json_object_get(o, "name")));
        CHECK(json_is_string(json_object_get(o, "datatype")));
        long long n = 1;
        size_t k;
        json_t *d;
        json_array_foreach(json_object_get(o, "shape"), k, d) n *= json_integer_value(d);
        CHECK_EQ_INT(json_array_size(json_object_get(o, "data")), n);
    }
}

TEST(server_and_model_metadata_health)
{
    av_test_srv v;
    start_srv(&v);
    long st;
    json_t *j = av_test_srv_call(&v, "GET", "/v2", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "name")), "aviary");
    CHECK(json_is_string(json_object_get(j, "version")));
    CHECK(json_is_array(json_object_get(j, "extensions")));
    json_decref(j);
    j = av_test_srv_call(&v, "GET", "/v2/health/live", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    json_decref(j);
    j = av_test_srv_call(&v, "GET", "/v2/health/ready", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    CHECK(json_is_true(json_object_get(j, "ready")));
    json_decref(j);

    const char *paths[] = {"/v2/models/birdsClassifier", "/v2/models/birdsClassifier/versions/1"};
    for (int i = 0; i < 2; i++) {
        j = av_test_srv_call(&v, "GET", paths[i], NULL, &st, NULL);
        CHECK_EQ_INT(st, 200);
        CHECK_STR_EQ(json_string_value(json_object_get(j, "name")), "birdsClassifier");
        CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(j, "versions"), 0)), "1");
        CHECK(json_is_string(json_object_get(j, "platform")));
        json_t *in = json_array_get(json_object_get(j, "inputs"), 0);
        CHECK_STR_EQ(json_string_value(json_object_get(in, "name")), "image_bytes");
        CHECK_STR_EQ(json_string_value(json_object_get(in, "datatype")), "BYTES");
        in = json_array_get(json_object_get(j, "inputs"), 1);
        CHECK_STR_EQ(json_string_value(json_object_get(in, "datatype")), "UINT8");
        CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(in, "shape"), 3)), 3);
        CHECK_EQ_INT(json_array_size(json_object_get(j, "outputs")), 28);
        /* what the REST answer carries beside the TF OD API's */
        static const char *const more[][3] = {
            {"detection_whole_image_by", "BYTES", "2"},   {"detection_rules", "BYTES", "2"},
            {"detection_confidences", "FP32", "2"},       {"illustration", "BOOL", "1"},
            {"illustration_page", "FP32", "2"},           {"illustrated_boxes", "FP32", "3"},
            {"illustrated_whole_image_by", "BYTES", "2"}, {"illustrated_species", "BYTES", "3"}};
        for (size_t k = 0; k < sizeof more / sizeof more[0]; k++) {
            size_t m;
            json_t *o, *found = NULL;
            json_array_foreach(json_object_get(j, "outputs"), m, o)
            {
                if (!strcmp(json_string_value(json_object_get(o, "name")), more[k][0]))
                    found = o;
            }
            CHECK_MSG(found, "no output %s", more[k][0]);
            CHECK_STR_EQ(json_string_value(json_object_get(found, "datatype")), more[k][1]);
            CHECK_EQ_INT(json_array_size(json_object_get(found, "shape")), atoi(more[k][2]));
        }
        CHECK_STR_EQ(json_string_value(
                         json_object_get(json_array_get(json_object_get(j, "outputs"), 0), "name")),
                     "detection_boxes");
        json_decref(j);
    }
    j = av_test_srv_call(&v, "GET", "/v2/models/birdsClassifier/ready", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    CHECK(json_is_true(json_object_get(j, "ready")));
    json_decref(j);
    j = av_test_srv_call(&v, "GET", "/v2/models/birdsClassifier/versions/3/ready", NULL, &st, NULL);
    CHECK_EQ_INT(st, 400); /* the protocol: not ready is a 4xx */
    CHECK(json_is_false(json_object_get(j, "ready")));
    json_decref(j);

    av_test_srv_expect_error(&v, "GET", "/v2/models/nope", NULL, 404, "Model nope is not found");
    av_test_srv_expect_error(&v, "GET", "/v2/models/nope/ready", NULL, 404,
                             "Model nope is not found");
    av_test_srv_expect_error(&v, "GET", "/v2/models/birdsClassifier/versions/3", NULL, 404,
                             "version 3 is not found");
    av_test_srv_expect_error(&v, "POST", "/v2/health/live", "{}", 405, "not allowed");
    av_test_srv_expect_error(&v, "GET", "/v2/models/birdsClassifier/infer", NULL, 405,
                             "not allowed");
    av_test_srv_expect_error(&v, "GET", "/v2/repository/index", NULL, 404, "no such endpoint");
    av_serving_stop(v.s);
}

TEST(infer_bytes_and_uint8_tensor_agree)
{
    const char *path = av_test_shared("testdata/images/parrot.jpg");
    av_test_srv v;
    start_srv(&v);
    size_t n;
    unsigned char *img = av_test_read_file(path, &n);
    char *b64;
    size_t bl;
    CHECK(av_serving_b64_encode(img, n, &b64, &bl) == 0);
    json_t *req = json_pack("{s:s, s:[{s:s, s:[i], s:s, s:[s]}]}", "id", "42", "inputs", "name",
                            "image_bytes", "shape", 1, "datatype", "BYTES", "data", b64);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    long st;
    json_t *a = av_test_srv_call(&v, "POST", "/v2/models/birdsClassifier/infer", body, &st, NULL);
    CHECK_MSG(st == 200, "status %ld: %s", st, json_string_value(json_object_get(a, "error")));
    CHECK_STR_EQ(json_string_value(json_object_get(a, "id")), "42");
    CHECK_STR_EQ(json_string_value(json_object_get(a, "model_name")), "birdsClassifier");
    CHECK_STR_EQ(json_string_value(json_object_get(a, "model_version")), "1");
    check_tensors(a);
    json_t *num = output(a, "num_detections");
    CHECK(json_number_value(json_array_get(json_object_get(num, "data"), 0)) >= 1);
    json_t *sp = output(a, "detection_species");
    CHECK_STR_EQ(json_string_value(json_object_get(sp, "datatype")), "BYTES");
    const char *top = json_string_value(json_array_get(json_object_get(sp, "data"), 0));
    if (!top[0])
        SKIP("species model not installed");
    CHECK_STR_EQ(top, "Ara macao");
    json_t *size = output(a, "image_size");
    CHECK_STR_EQ(json_string_value(json_object_get(size, "datatype")), "INT32");
    CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(size, "data"), 0)), 929);
    CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(size, "data"), 1)), 512);
    json_t *boxes = output(a, "detection_boxes");
    CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(boxes, "shape"), 2)), 4);
    free(body);

    /* The same image as a UINT8 [1,H,W,3] tensor (flat row-major data). */
    av_image *im = NULL;
    char err[256];
    CHECK(av_vision_decode(img, n, NULL, &im, NULL, err, sizeof err) == AV_VISION_OK);
    json_t *data = json_array();
    for (long long i = 0; i < (long long)im->width * im->height * 3; i++)
        json_array_append_new(data, json_integer(im->data[i]));
    req = json_pack("{s:[{s:s, s:[i,i,i,i], s:s, s:o}], s:[{s:s}, {s:s}]}", "inputs", "name",
                    "input_tensor", "shape", 1, im->height, im->width, 3, "datatype", "UINT8",
                    "data", data, "outputs", "name", "detection_species", "name", "num_detections");
    body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    json_t *b = av_test_srv_call(&v, "POST", "/v2/models/birdsClassifier/versions/1/infer", body,
                                 &st, NULL);
    CHECK_MSG(st == 200, "status %ld: %s", st, json_string_value(json_object_get(b, "error")));
    CHECK(json_object_get(b, "id") == NULL); /* none sent, none echoed */
    CHECK_EQ_INT(json_array_size(json_object_get(b, "outputs")), 2); /* only those asked */
    check_tensors(b);
    CHECK(json_equal(output(a, "detection_species"), output(b, "detection_species")));
    CHECK(json_equal(output(a, "num_detections"), output(b, "num_detections")));
    json_decref(a);
    json_decref(b);
    free(body);
    av_img_free(im);

    /* Two images, one without a bird: padded to the larger count. */
    req = json_pack("{s:[{s:s, s:[i], s:s, s:[s,s]}]}", "inputs", "name", "image_bytes", "shape", 2,
                    "datatype", "BYTES", "data", b64, b64);
    body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    a = av_test_srv_call(&v, "POST", "/v2/models/birdsClassifier/infer", body, &st, NULL);
    CHECK_EQ_INT(st, 200);
    check_tensors(a);
    CHECK_EQ_INT(json_integer_value(
                     json_array_get(json_object_get(output(a, "detection_scores"), "shape"), 0)),
                 2);
    json_decref(a);
    free(body);
    free(b64);
    free(img);
    av_serving_stop(v.s);
}

TEST(documented_example_and_errors)
{
    av_test_srv v;
    start_srv(&v);
    const char *url = "/v2/models/birdsClassifier/infer";
    /* The protocol's own example inference request: valid V2, but not
     * inputs this model takes, so a 400 {"error"}. */
    av_test_srv_expect_error(
        &v, "POST", url,
        "{\"id\" : \"42\", \"inputs\" : [{\"name\" : \"input0\", \"shape\" : [ 2, 2 ], "
        "\"datatype\" : \"UINT32\", \"data\" : [ 1, 2, 3, 4 ]}, {\"name\" : \"input1\", "
        "\"shape\" : [ 3 ], \"datatype\" : \"BOOL\", \"data\" : [ true ]}], "
        "\"outputs\" : [{\"name\" : \"output0\"}]}",
        400, "exactly one input tensor");
    av_test_srv_expect_error(&v, "POST", url,
                             "{\"inputs\" : [{\"name\" : \"input0\", \"shape\" : [ 2, 2 ], "
                             "\"datatype\" : \"UINT32\", \"data\" : [ 1, 2, 3, 4 ]}]}",
                             400, "datatype UINT32 is not supported");
    av_test_srv_expect_error(&v, "POST", url, "{\"inputs\": [", 400, "JSON parse error");
    av_test_srv_expect_error(&v, "POST", url, "[]", 400, "must be a JSON object");
    av_test_srv_expect_error(
        &v, "POST", url,
        "{\"inputs\": [{\"name\": \"image_bytes\", \"shape\": [1], \"datatype\": "
        "\"BYTES\", \"data\": [\"***\"]}]}",
        400, "Unable to base64 decode");
    av_test_srv_expect_error(
        &v, "POST", url,
        "{\"inputs\": [{\"name\": \"image_bytes\", \"shape\": [2], \"datatype\": "
        "\"BYTES\", \"data\": [\"AAAA\"]}]}",
        400, "as many base64 strings as its shape says");
    av_test_srv_expect_error(
        &v, "POST", url,
        "{\"inputs\": [{\"name\": \"image_bytes\", \"shape\": [1], \"datatype\": "
        "\"BYTES\", \"data\": [\"AAAA\"]}]}",
        400, "image 0");
    av_test_srv_expect_error(&v, "POST", url,
                             "{\"inputs\": [{\"name\": \"t\", \"shape\": [1,2,2,3], \"datatype\": "
                             "\"UINT8\", \"data\": [1,2,3]}]}",
                             400, "as many values as its shape says");
    av_test_srv_expect_error(&v, "POST", url,
                             "{\"inputs\": [{\"name\": \"t\", \"shape\": [1,1,1,3], \"datatype\": "
                             "\"UINT8\", \"data\": [1,2,300]}]}",
                             400, "not an integer 0..255");
    av_test_srv_expect_error(&v, "POST", url,
                             "{\"inputs\": [{\"name\": \"t\", \"shape\": [3], \"datatype\": "
                             "\"UINT8\", \"data\": [1,2,3]}]}",
                             400, "must have shape [N,H,W,3]");
    av_test_srv_expect_error(
        &v, "POST", url,
        "{\"inputs\": [{\"name\": \"t\", \"shape\": [1,100000,100000,3], \"datatype\": "
        "\"UINT8\", \"data\": []}]}",
        400, "pixel limit");
    av_test_srv_expect_error(
        &v, "POST", url,
        "{\"inputs\": [{\"name\": \"t\", \"shape\": [1,1,1,3], \"datatype\": "
        "\"UINT8\", \"data\": [1,2,3]}], \"outputs\": [{\"name\": \"output0\"}]}",
        400, "unknown output 'output0'");
    av_test_srv_expect_error(&v, "POST", "/v2/models/nope/infer", "{}", 404,
                             "Model nope is not found");
    av_test_srv_expect_error(&v, "POST", "/v2/models/birdsClassifier/versions/9/infer", "{}", 404,
                             "version 9 is not found");
    av_serving_stop(v.s);
}

/* Element i of output name's flat data. */
static const json_t *at(const json_t *resp, const char *name, size_t i)
{
    const json_t *o = output(resp, name);
    CHECK_MSG(o, "no output %s", name);
    return json_array_get(json_object_get(o, "data"), i);
}

static long long dim(const json_t *resp, const char *name, size_t d)
{
    return json_integer_value(json_array_get(json_object_get(output(resp, name), "shape"), d));
}

/* Row k of image i in group prefix ("detection_" or "illustrated_", rows
 * per image, k = 3 species) says what d says (NULL: padding). */
static void same_row(const json_t *resp, const char *prefix, int rows, int i, int k,
                     const av_detect_result *r, const av_detect_det *d)
{
    char n[64];
    size_t row = (size_t)i * (size_t)rows + (size_t)k;
#define COL(suffix) (snprintf(n, sizeof n, "%s%s", prefix, suffix), n)
    CHECK_STR_EQ(json_string_value(at(resp, COL("labels"), row)), d ? d->label : "");
    CHECK_STR_EQ(json_string_value(at(resp, COL("rules"), row)),
                 d ? av_detect_rule_name(d->rule) : "");
    CHECK_STR_EQ(json_string_value(at(resp, COL("whole_image_by"), row)),
                 d ? av_detect_whole_by_name(d->whole_image ? d->whole_by : AV_DETECT_WHOLE_NONE)
                   : "");
    CHECK_NEAR(json_number_value(at(resp, COL("confidences"), row)), d ? d->confidence : 0, 1e-6);
    CHECK_NEAR(json_number_value(at(resp, COL("boxes"), row * 4 + 1)), d ? d->x1 / r->width : 0,
               1e-6);
    CHECK_NEAR(json_number_value(at(resp, COL("boxes"), row * 4 + 2)), d ? d->y2 / r->height : 0,
               1e-6);
    for (int j = 0; j < 3; j++) {
        const av_detect_species *q = d && j < d->n_species ? &d->species[j] : NULL;
        CHECK_STR_EQ(json_string_value(at(resp, COL("species"), row * 3 + (size_t)j)),
                     q ? q->scientific : "");
        CHECK_NEAR(json_number_value(at(resp, COL("species_scores"), row * 3 + (size_t)j)),
                   q ? q->score : 0, 1e-6);
    }
#undef COL
}

/* A drawing (bird.bmp on a white page: a plate) and a photo (bird.bmp) in
 * one request: the V2 outputs carry what the REST answer carries, the
 * in-process pipeline's answer row for row; the photo's illustrated_* row
 * is padding. The photo alone has no illustrated_* rows. */
TEST(illustration_plate_and_photo)
{
    av_test_srv v;
    start_srv(&v);
    size_t n[2];
    unsigned char *img[2] = {av_test_bird_on_a_page(&n[0]),
                             av_test_read_file(av_test_shared("testdata/images/bird.bmp"), &n[1])};
    char *b64[2];
    av_detect_result r[2];
    av_detect_pipeline *p = av_test_open_pipeline(NULL, NULL);
    for (int i = 0; i < 2; i++) {
        size_t bl;
        CHECK(av_serving_b64_encode(img[i], n[i], &b64[i], &bl) == 0);
        char err[1024];
        av_detect_run_opts ro = {.top_k = 3}; /* the model server's default */
        CHECK_MSG(av_detect_run(p, img[i], n[i], &ro, &r[i], err, sizeof err) == AV_DETECT_OK, "%s",
                  err);
    }
    av_detect_pipeline_close(p);
    CHECK_EQ_INT(r[0].illustration, 1); /* the page rule holds in process */
    CHECK_EQ_INT(r[1].illustration, 0);
    CHECK(r[0].page_measured && r[1].page_measured);

    json_t *req = json_pack("{s:[{s:s, s:[i], s:s, s:[s,s]}]}", "inputs", "name", "image_bytes",
                            "shape", 2, "datatype", "BYTES", "data", b64[0], b64[1]);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    long st;
    json_t *a = av_test_srv_call(&v, "POST", "/v2/models/birdsClassifier/infer", body, &st, NULL);
    CHECK_MSG(st == 200, "status %ld: %s", st, av_test_err_of(a));
    check_tensors(a);
    int D = (int)dim(a, "detection_labels", 1);
    CHECK_EQ_INT(D, r[0].n_dets > r[1].n_dets ? r[0].n_dets : r[1].n_dets);
    CHECK_EQ_INT(dim(a, "illustrated_boxes", 0), 2);
    CHECK_EQ_INT(dim(a, "illustrated_boxes", 1), 1); /* one drawing in the request */
    CHECK_EQ_INT(dim(a, "illustrated_boxes", 2), 4);
    CHECK_EQ_INT(dim(a, "illustrated_species", 2), 3);
    CHECK_EQ_INT(dim(a, "illustration_page", 1), 2);
    for (int i = 0; i < 2; i++) {
        CHECK(json_is_boolean(at(a, "illustration", (size_t)i)));
        CHECK_EQ_INT(json_is_true(at(a, "illustration", (size_t)i)), r[i].illustration);
        CHECK_NEAR(json_number_value(at(a, "illustration_page", 2 * (size_t)i)), r[i].page_paper,
                   1e-6);
        CHECK_NEAR(json_number_value(at(a, "illustration_page", 2 * (size_t)i + 1)),
                   r[i].page_border, 1e-6);
        CHECK_EQ_INT(json_number_value(at(a, "num_detections", (size_t)i)), r[i].n_dets);
        for (int k = 0; k < D; k++)
            same_row(a, "detection_", D, i, k, &r[i], k < r[i].n_dets ? &r[i].dets[k] : NULL);
        same_row(a, "illustrated_", 1, i, 0, &r[i], r[i].illustration ? &r[i].illustrated : NULL);
    }
    CHECK(r[1].n_dets >= 1); /* the photo keeps its bird, a box: "none" whole-image rule */
    CHECK_STR_EQ(json_string_value(at(a, "detection_whole_image_by", (size_t)D)), "none");
    CHECK(r[0].illustrated.label[0]);
    CHECK_MSG(r[0].page_paper > 0.7 && r[0].page_border > 0.99, "paper %.3f border %.3f",
              r[0].page_paper, r[0].page_border);
    json_decref(a);
    free(body);

    /* the photo alone: no drawing, so no illustrated_* rows */
    req = json_pack("{s:[{s:s, s:[i], s:s, s:[s]}], s:[{s:s}, {s:s}]}", "inputs", "name",
                    "image_bytes", "shape", 1, "datatype", "BYTES", "data", b64[1], "outputs",
                    "name", "illustrated_boxes", "name", "illustration");
    body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    a = av_test_srv_call(&v, "POST", "/v2/models/birdsClassifier/infer", body, &st, NULL);
    CHECK_MSG(st == 200, "status %ld: %s", st, av_test_err_of(a));
    check_tensors(a);
    CHECK_EQ_INT(json_array_size(json_object_get(a, "outputs")), 2);
    CHECK_EQ_INT(dim(a, "illustrated_boxes", 1), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(output(a, "illustrated_boxes"), "data")), 0);
    CHECK(json_is_false(at(a, "illustration", 0)));
    json_decref(a);
    free(body);
    for (int i = 0; i < 2; i++) {
        av_detect_result_free(&r[i]);
        free(b64[i]);
        free(img[i]);
    }
    av_serving_stop(v.s);
}

TEST_MAIN(T(server_and_model_metadata_health), T(infer_bytes_and_uint8_tensor_agree),
          T(documented_example_and_errors), T(illustration_plate_and_photo))
