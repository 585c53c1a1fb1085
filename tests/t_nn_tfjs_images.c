/*
 * t_nn_tfjs_images.c - Human's CenterNet and NanoDet through the TF.js loader
 * on the BMP reference images, checked against the per-image summaries that
 * ../shared/reference/tfjs/reference/<model>/<image>.json records (sum, mean,
 * min, max and first values of every output).
 *
 * Only the BMPs are used: their pixels are unambiguous, so the preprocessing
 * here can be exact. It re-implements TF.js's cpu resizeBilinear (TF1
 * mapping src = dst * in/out, double arithmetic, stored as float32), then
 * NanoDet's float32 /255 and NCHW transpose. bird.bmp's result is compared
 * bit for bit with the raw input dump first, which proves the preprocessing
 * before any model output is looked at. (src/vision will own image decoding;
 * this reader only needs the 24/32-bpp uncompressed BMPs of the reference.)
 */
#include "harness.h"
#include "detect_fixture.h"
#include "nn/nn.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Uncompressed 24/32-bpp BMP -> RGB (malloc'ed, caller frees). */
static uint8_t *read_bmp(const char *path, int *w, int *h)
{
    size_t len;
    uint8_t *b = av_test_read_file(path, &len);
    CHECK_MSG(len >= 54 && b[0] == 'B' && b[1] == 'M', "%s: not a BMP", path);
    uint32_t off = rd32(b + 10);
    int32_t W = (int32_t)rd32(b + 18), H = (int32_t)rd32(b + 22);
    int bpp = b[28] | b[29] << 8;
    CHECK_MSG(rd32(b + 30) == 0 && (bpp == 24 || bpp == 32), "%s: unsupported BMP", path);
    bool top_down = H < 0;
    if (top_down)
        H = -H;
    CHECK(W > 0 && W <= 16384 && H > 0 && H <= 16384);
    size_t stride = ((size_t)W * (size_t)bpp + 31) / 32 * 4;
    CHECK_MSG(off <= len && (len - off) / stride >= (size_t)H, "%s: truncated", path);
    uint8_t *rgb = malloc((size_t)W * (size_t)H * 3);
    CHECK(rgb);
    for (int y = 0; y < H; y++) {
        const uint8_t *row = b + off + stride * (size_t)(top_down ? y : H - 1 - y);
        for (int x = 0; x < W; x++) {
            const uint8_t *px = row + (size_t)x * (size_t)(bpp / 8);
            uint8_t *o = rgb + ((size_t)y * (size_t)W + (size_t)x) * 3;
            o[0] = px[2];
            o[1] = px[1];
            o[2] = px[0];
        }
    }
    free(b);
    *w = W;
    *h = H;
    return rgb;
}

/*
 * tf.image.resizeBilinear(alignCorners=false, halfPixelCenters=false) as
 * tfjs-backend-cpu computes it: double precision, stored as float32.
 */
static void resize_tf1(const uint8_t *rgb, int w, int h, int ow, int oh, float *out)
{
    double ry = (double)h / oh, rx = (double)w / ow;
    for (int r = 0; r < oh; r++) {
        double fy = ry * r;
        int y0 = (int)fmax(0, floor(fy)), y1 = (int)fmin(h - 1, ceil(fy));
        double dy = fy - y0;
        for (int c = 0; c < ow; c++) {
            double fx = rx * c;
            int x0 = (int)fmax(0, floor(fx)), x1 = (int)fmin(w - 1, ceil(fx));
            double dx = fx - x0;
            for (int d = 0; d < 3; d++) {
                double tl = rgb[((size_t)y0 * w + x0) * 3 + d], tr = rgb[((size_t)y0 * w + x1) * 3 + d];
                double bl = rgb[((size_t)y1 * w + x0) * 3 + d], br = rgb[((size_t)y1 * w + x1) * 3 + d];
                double top = tl + (tr - tl) * dx, bottom = bl + (br - bl) * dx;
                out[((size_t)r * ow + c) * 3 + d] = (float)(top + (bottom - top) * dy);
            }
        }
    }
}

/* The model's input for an image, laid out as the model wants it (caller frees). */
static float *preprocess(const char *model, const char *image_path, int64_t *count)
{
    int w, h;
    uint8_t *rgb = read_bmp(image_path, &w, &h);
    bool nanodet = !strcmp(model, "nanodet");
    int S = nanodet ? 416 : 512;
    size_t n = (size_t)S * S * 3;
    float *nhwc = malloc(n * sizeof(float));
    CHECK(nhwc);
    resize_tf1(rgb, w, h, S, S, nhwc);
    free(rgb);
    *count = (int64_t)n;
    if (!nanodet)
        return nhwc;
    float *nchw = malloc(n * sizeof(float));
    CHECK(nchw);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            for (int c = 0; c < 3; c++) /* float32 / 255, correctly rounded like tf.div */
                nchw[((size_t)c * S + y) * S + x] =
                    (float)((double)nhwc[((size_t)y * S + x) * 3 + c] / 255.0);
    free(nhwc);
    return nchw;
}

typedef struct summary {
    double sum, mean, min, max;
} summary;

static summary summarize(const float *v, int64_t n)
{
    summary s = {0, 0, INFINITY, -INFINITY};
    for (int64_t i = 0; i < n; i++) { /* in order, in double: as the JS reference does */
        s.sum += v[i];
        s.min = fmin(s.min, v[i]);
        s.max = fmax(s.max, v[i]);
    }
    s.mean = n ? s.sum / (double)n : 0;
    return s;
}

static double jnum(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    CHECK_MSG(json_is_number(v), "summary field '%s' missing", k);
    return json_number_value(v);
}

/*
 * Run <model> on each BMP and compare with the reference summaries. Mean,
 * min, max and the first 20 values must agree within 1e-3 of the output's
 * value range (sum = mean x size). CenterNet's detection rows may swap on
 * near-equal scores, so only its order-free statistics are compared.
 */
static void check_images(const char *model, av_nn_backend be)
{
    char mpath[256], p[1024];
    snprintf(mpath, sizeof mpath, "models/human/%s.json", model);
    if (access(mpath, R_OK) != 0)
        SKIP("models/human missing (run scripts/setup)");
    char err[512];
    av_nn_model *m = NULL;
    CHECK_MSG(av_nn_load(mpath, &m, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn_ctx_opts o = {.threads = 2, .backend = be};
    av_nn_ctx *c = NULL;
    CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "%s", err);
    int nout = av_nn_num_outputs(m);
    float *outs[8];
    int64_t counts[8];
    CHECK(nout <= 8);
    for (int i = 0; i < nout; i++) {
        const av_nn_tensor_info *ti = av_nn_output(m, i);
        counts[i] = 1;
        for (int d = 0; d < ti->rank; d++)
            counts[i] *= ti->dims[d];
        outs[i] = malloc((size_t)counts[i] * sizeof(float));
        CHECK(outs[i]);
    }
    static const char *images[] = {"bird.bmp", "cat.bmp", "grace_hopper.bmp"};
    for (size_t k = 0; k < sizeof images / sizeof images[0]; k++) {
        snprintf(p, sizeof p, "reference/tfjs/images/%s", images[k]);
        int64_t n_in;
        float *in = preprocess(model, av_test_shared(p), &n_in);
        if (k == 0) { /* the raw dump proves the preprocessing bit for bit */
            snprintf(p, sizeof p, "reference/tfjs/reference/%s/tensors/bird.bmp.input.f32", model);
            size_t len;
            void *dump = av_test_read_file(av_test_shared(p), &len);
            CHECK_EQ_INT(len, (size_t)n_in * 4);
            CHECK_MSG(memcmp(dump, in, len) == 0, "%s: bird.bmp preprocessing differs", model);
            free(dump);
        }
        snprintf(p, sizeof p, "reference/tfjs/reference/%s/%s.json", model, images[k]);
        json_error_t je;
        json_t *ref = json_load_file(av_test_shared(p), 0, &je);
        CHECK_MSG(ref, "%s: %s", p, je.text);
        json_t *ps = json_object_get(json_object_get(ref, "preprocess"), "summary");
        summary si = summarize(in, n_in);
        CHECK_MSG(si.sum == jnum(ps, "sum") && si.min == jnum(ps, "min") &&
                      si.max == jnum(ps, "max"),
                  "%s %s: input summary differs (sum %.17g vs %.17g)", model, images[k], si.sum,
                  jnum(ps, "sum"));
        const void *ins[1] = {in};
        CHECK_MSG(av_nn_run(c, ins, (void *const *)outs, err, sizeof err) == AV_NN_OK, "%s", err);
        for (int i = 0; i < nout; i++) {
            const char *name = av_nn_output(m, i)->name;
            json_t *os = json_object_get(json_object_get(ref, "outputs"), name);
            CHECK_MSG(os, "%s: no summary for output '%s'", images[k], name);
            summary s = summarize(outs[i], counts[i]);
            double range = jnum(os, "max") - jnum(os, "min"), tol = 1e-3 * range;
            double worst = fmax(fmax(fabs(s.mean - jnum(os, "mean")), fabs(s.min - jnum(os, "min"))),
                                fabs(s.max - jnum(os, "max")));
            json_t *f20 = json_object_get(os, "first20");
            bool ordered = strcmp(name, "tower_0/detections") != 0;
            for (size_t j = 0; ordered && j < json_array_size(f20); j++)
                worst = fmax(worst, fabs(outs[i][j] - json_number_value(json_array_get(f20, j))));
            printf("    %s %-16s %-20s worst |diff| %.3g (range %.4g)\n", model, images[k], name,
                   worst, range);
            CHECK_MSG(worst <= tol, "%s %s %s: summary differs by %.4g > %.4g", model, images[k],
                      name, worst, tol);
        }
        json_decref(ref);
        free(in);
    }
    for (int i = 0; i < nout; i++)
        free(outs[i]);
    av_nn_ctx_free(c);
    av_nn_model_free(m);
}

TEST(centernet_bmp_summaries_xnnpack) { check_images("centernet", AV_NN_BACKEND_XNNPACK); }
TEST(nanodet_bmp_summaries_xnnpack) { check_images("nanodet", AV_NN_BACKEND_XNNPACK); }
TEST(centernet_bmp_summaries_reference) { check_images("centernet", AV_NN_BACKEND_REFERENCE); }
TEST(nanodet_bmp_summaries_reference) { check_images("nanodet", AV_NN_BACKEND_REFERENCE); }

TEST_MAIN(T(centernet_bmp_summaries_xnnpack), T(nanodet_bmp_summaries_xnnpack),
          T(centernet_bmp_summaries_reference), T(nanodet_bmp_summaries_reference))
