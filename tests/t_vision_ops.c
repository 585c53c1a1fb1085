/*
 * t_vision_ops.c - pixel operations: the detectors' TF1 bilinear resize
 * against the TF.js reference input tensors of bird.bmp, the classifier's
 * Pillow-style resize against hashes of Pillow 9.4's output, crops, and
 * drawing (box pixels, labels, degenerate images and boxes, missing font).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "t_vision_util.h"
#include "vision/vision.h"
#include "vision/vision_int.h"

static av_image *load(const char *name)
{
    size_t n;
    unsigned char *d = tv_image_file(name, &n);
    char err[256];
    av_image *img = NULL;
    av_vision_status st = av_vision_decode(d, n, NULL, &img, NULL, err, sizeof err);
    CHECK_MSG(st == AV_VISION_OK, "%s: %s", name, err);
    free(d);
    return img;
}

static void hash_of(const av_image *img, char hex[65])
{
    tv_sha256_hex(img->data, (size_t)img->width * img->height * 3, hex);
}

/* Compare n floats with a reference .f32 file; returns max |diff|, counts mismatches. */
static double compare_f32(const float *got, const char *rel, size_t n, size_t *ndiff)
{
    size_t len;
    unsigned char *ref = tv_slurp(av_test_shared(rel), &len);
    CHECK_MSG(len == n * sizeof(float), "%s: %zu bytes, expected %zu", rel, len, n * 4);
    double mx = 0;
    *ndiff = 0;
    for (size_t i = 0; i < n; i++) {
        float r;
        memcpy(&r, ref + 4 * i, 4); /* little-endian host (x86-64/arm64) */
        double d = fabs((double)got[i] - (double)r);
        if (d > 0)
            (*ndiff)++;
        if (d > mx)
            mx = d;
    }
    free(ref);
    return mx;
}

/* ------------------------------------------------------- TF1 bilinear */

TEST(tf_bilinear_matches_centernet_input)
{
    av_image *img = load("bird.bmp");
    size_t n = (size_t)512 * 512 * 3;
    float *t = malloc(n * sizeof *t);
    CHECK(t);
    CHECK(av_vision_resize_tf_bilinear_f32(img, 512, 512, t) == AV_VISION_OK);
    size_t nd;
    double mx = compare_f32(t, "reference/tfjs/reference/centernet/tensors/bird.bmp.input.f32", n, &nd);
    printf("  centernet input 1x512x512x3 NHWC: max |diff| %.3g, %zu of %zu values differ\n", mx,
           nd, n);
    CHECK_MSG(mx == 0, "max abs diff %.9g", mx);
    free(t);
    av_img_free(img);
}

TEST(tf_bilinear_matches_nanodet_input)
{
    av_image *img = load("bird.bmp");
    size_t n = (size_t)416 * 416 * 3;
    float *t = malloc(n * sizeof *t);
    CHECK(t);
    CHECK(av_vision_resize_tf_bilinear_ex(img, 416, 416, 255.0f, AV_VISION_NCHW, t) ==
          AV_VISION_OK);
    size_t nd;
    double mx = compare_f32(t, "reference/tfjs/reference/nanodet/tensors/bird.bmp.input.f32", n, &nd);
    printf("  nanodet input 1x3x416x416 NCHW /255: max |diff| %.3g, %zu of %zu values differ\n", mx,
           nd, n);
    CHECK_MSG(mx == 0, "max abs diff %.9g", mx);
    free(t);
    av_img_free(img);
}

TEST(tf_bilinear_small_cases)
{
    /* 2x1 -> 4x1: src x = dst/2; upper neighbour clamped at the edge. */
    av_image *img = av_img_new(2, 1);
    CHECK(img);
    memset(img->data, 10, 3);
    memset(img->data + 3, 30, 3);
    float out[12];
    CHECK(av_vision_resize_tf_bilinear_f32(img, 4, 1, out) == AV_VISION_OK);
    CHECK(out[0] == 10 && out[3] == 20 && out[6] == 30 && out[9] == 30);
    /* NCHW layout puts channel planes apart */
    img->data[4] = 50; /* green of pixel 1 */
    CHECK(av_vision_resize_tf_bilinear_ex(img, 4, 1, 1.0f, AV_VISION_NCHW, out) == AV_VISION_OK);
    CHECK(out[0] == 10 && out[1] == 20 && out[4] == 10 && out[5] == 30 && out[6] == 50);
    CHECK(av_vision_resize_tf_bilinear_f32(img, 0, 4, out) == AV_VISION_E_ARG);
    CHECK(av_vision_resize_tf_bilinear_f32(NULL, 4, 1, out) == AV_VISION_E_ARG);
    av_img_free(img);
}

/* -------------------------------------------------------------- Pillow */

/*
 * Expected hashes come from Pillow 9.4.0 (Debian 12 python3-pil):
 *   im = Image.open("parrot.jpg").convert("RGB")
 *   im.resize((224, 224), Image.BILINEAR)
 *   im.resize((224, 224), Image.BILINEAR, box=(30.5, 100.25, 470.0, 600.0))
 * (the decoded parrot pixels themselves match Pillow's: t_vision.c).
 */
TEST(pil_resize_matches_pillow)
{
    av_image *img = load("parrot.jpg");
    av_image *r = NULL;
    char err[256], hex[65];
    CHECK(av_vision_resize_pil(img, 224, 224, &r, err, sizeof err) == AV_VISION_OK);
    CHECK(r->width == 224 && r->height == 224);
    hash_of(r, hex);
    CHECK_STR_EQ(hex, "353c63a7c5b497785c4f3f49a54775b51d316330ba02eaa2201976c25172ff2e");
    av_img_free(r);

    av_vision_rect box = {30.5f, 100.25f, 470.0f, 600.0f};
    CHECK(av_vision_resize_pil_box(img, &box, 224, 224, &r, err, sizeof err) == AV_VISION_OK);
    hash_of(r, hex);
    CHECK_STR_EQ(hex, "a430ceb1eeb46c259e0475dd18b661a3b3ddb3f552219c6a71b7bbd779e8bdc4");
    av_img_free(r);

    /* box outside the image is refused */
    av_vision_rect bad = {0, 0, 513, 10};
    CHECK(av_vision_resize_pil_box(img, &bad, 10, 10, &r, err, sizeof err) == AV_VISION_E_ARG);
    CHECK(r == NULL);
    CHECK_STR_CONTAINS(err, "not inside");
    av_img_free(img);
}

TEST(pil_resize_properties)
{
    /* constant stays constant, up or down; same size is a copy */
    av_image *c = av_img_new(97, 61);
    memset(c->data, 77, (size_t)97 * 61 * 3);
    static const int sizes[][2] = {{224, 224}, {13, 7}, {1, 1}, {97, 200}, {97, 61}};
    for (size_t i = 0; i < 5; i++) {
        av_image *r = NULL;
        CHECK(av_vision_resize_pil(c, sizes[i][0], sizes[i][1], &r, NULL, 0) == AV_VISION_OK);
        for (size_t k = 0; k < (size_t)r->width * r->height * 3; k++)
            CHECK_MSG(r->data[k] == 77, "size %dx%d byte %zu = %d", r->width, r->height, k,
                      r->data[k]);
        av_img_free(r);
    }
    av_img_free(c);

    /* halving a 1-px checkerboard averages it (antialiasing, not sampling) */
    av_image *cb = av_img_new(64, 64);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
            memset(cb->data + ((size_t)y * 64 + x) * 3, ((x + y) & 1) ? 255 : 0, 3);
    av_image *r = NULL;
    CHECK(av_vision_resize_pil(cb, 16, 16, &r, NULL, 0) == AV_VISION_OK);
    for (int k = 0; k < 16 * 16 * 3; k++)
        CHECK_MSG(abs(r->data[k] - 128) <= 16, "byte %d = %d", k, r->data[k]);
    av_img_free(r);
    CHECK(av_vision_resize_pil(cb, 0, 16, &r, NULL, 0) == AV_VISION_E_ARG);
    av_img_free(cb);
}

/* The AVX2 passes (resize_x86.c) give the scalar passes' bytes: random
 * pixels, fractional boxes (to the image's last byte, where the SIMD loads
 * fall back), shrinking and enlarging, odd sizes; and _into matches. */
TEST(pil_resize_simd_matches_scalar)
{
#if defined(__x86_64__)
    CHECK(av_vision__resize_simd() == (__builtin_cpu_supports("avx2") ? 1 : 0));
#endif
    unsigned s = 12345;
    static const int dims[][4] = {{1024, 1858, 224, 224}, {97, 61, 224, 224}, {640, 480, 13, 7},
                                  {33, 1000, 5, 300}, {7, 5, 1, 1}, {1500, 9, 224, 224}};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        int w = dims[d][0], h = dims[d][1], ow = dims[d][2], oh = dims[d][3];
        av_image *img = av_img_new(w, h);
        for (size_t k = 0; k < (size_t)w * h * 3; k++)
            img->data[k] = (uint8_t)((s = s * 1103515245u + 12345u) >> 23);
        for (int b = 0; b < 6; b++) {
            float fx = (float)(s % 97) / 97.0f * (float)w * 0.5f;
            float fy = (float)((s = s * 1103515245u + 12345u) % 89) / 89.0f * (float)h * 0.5f;
            av_vision_rect box = {b ? fx : 0, b ? fy : 0, b % 2 ? (float)w : (float)w - fx / 3,
                                  b % 3 ? (float)h : (float)h - fy / 5};
            av_image *a = NULL, *c = NULL;
            av_vision__resize_force_scalar(1);
            CHECK(av_vision_resize_pil_box(img, &box, ow, oh, &a, NULL, 0) == AV_VISION_OK);
            av_vision__resize_force_scalar(0);
            CHECK(av_vision_resize_pil_box(img, &box, ow, oh, &c, NULL, 0) == AV_VISION_OK);
            CHECK_MSG(memcmp(a->data, c->data, (size_t)ow * oh * 3) == 0,
                      "%dx%d box (%g,%g)-(%g,%g) to %dx%d differs", w, h, box.x0, box.y0,
                      box.x1, box.y1, ow, oh);
            uint8_t *into = malloc((size_t)ow * oh * 3);
            CHECK(av_vision_resize_pil_box_into(img, &box, ow, oh, into, NULL, 0) ==
                  AV_VISION_OK);
            CHECK(memcmp(into, c->data, (size_t)ow * oh * 3) == 0);
            /* in bands of rows (1 to 5 of them, uneven), SIMD and scalar */
            for (int simd = 0; simd < 2; simd++) {
                int bands = 1 + (b + simd) % 5, r0 = 0;
                memset(into, 0xa5, (size_t)ow * oh * 3);
                av_vision__resize_force_scalar(!simd);
                for (int i = 1; i <= bands; i++) {
                    int r1 = i == bands ? oh : oh * i * i / (bands * bands);
                    if (r1 > r0)
                        CHECK(av_vision_resize_pil_box_rows(img, &box, ow, oh, r0, r1, into,
                                                            NULL, 0) == AV_VISION_OK);
                    r0 = r1 > r0 ? r1 : r0;
                }
                CHECK_MSG(memcmp(into, c->data, (size_t)ow * oh * 3) == 0,
                          "%dx%d box (%g,%g)-(%g,%g) to %dx%d in %d bands (simd %d)", w, h,
                          box.x0, box.y0, box.x1, box.y1, ow, oh, bands, simd);
            }
            av_vision__resize_force_scalar(0);
            CHECK(av_vision_resize_pil_box_rows(img, &box, ow, oh, 0, 0, into, NULL, 0) ==
                  AV_VISION_E_ARG);
            CHECK(av_vision_resize_pil_box_rows(img, &box, ow, oh, 0, oh + 1, into, NULL, 0) ==
                  AV_VISION_E_ARG);
            free(into);
            av_img_free(a);
            av_img_free(c);
        }
        av_img_free(img);
    }
}

/* Bands of rows when a pass is skipped (the whole image to its own width or
 * height, or to its own size: a copy) give the whole resize's bytes. */
TEST(pil_resize_rows_without_a_pass)
{
    unsigned s = 99;
    av_image *img = av_img_new(50, 40);
    for (size_t k = 0; k < 50 * 40 * 3; k++)
        img->data[k] = (uint8_t)((s = s * 1103515245u + 12345u) >> 23);
    static const int outs[][2] = {{50, 40}, {23, 40}, {50, 17}, {77, 40}};
    av_vision_rect box = {0, 0, 50, 40};
    for (size_t o = 0; o < sizeof outs / sizeof outs[0]; o++) {
        int ow = outs[o][0], oh = outs[o][1];
        size_t n = (size_t)ow * oh * 3;
        uint8_t *whole = malloc(n), *bands = malloc(n);
        for (int simd = 0; simd < 2; simd++) {
            av_vision__resize_force_scalar(!simd);
            CHECK(av_vision_resize_pil_box_into(img, &box, ow, oh, whole, NULL, 0) ==
                  AV_VISION_OK);
            memset(bands, 0xa5, n);
            CHECK(av_vision_resize_pil_box_rows(img, &box, ow, oh, 0, 3, bands, NULL, 0) ==
                  AV_VISION_OK);
            CHECK(av_vision_resize_pil_box_rows(img, &box, ow, oh, 3, oh - 5, bands, NULL, 0) ==
                  AV_VISION_OK);
            CHECK(av_vision_resize_pil_box_rows(img, &box, ow, oh, oh - 5, oh, bands, NULL, 0) ==
                  AV_VISION_OK);
            CHECK_MSG(memcmp(whole, bands, n) == 0, "50x40 to %dx%d simd %d", ow, oh, simd);
        }
        av_vision__resize_force_scalar(0);
        if (ow == 50 && oh == 40)
            CHECK(memcmp(whole, img->data, n) == 0);
        free(whole);
        free(bands);
    }
    av_img_free(img);
}

/* The AVX2 row of the TF1 bilinear resize gives the scalar floats: random
 * pixels, both layouts, with and without the divisor, down and up. */
TEST(tf_bilinear_simd_matches_scalar)
{
    unsigned s = 777;
    static const int dims[][4] = {{1024, 1858, 512, 512}, {61, 97, 416, 416}, {640, 9, 7, 13},
                                  {1, 1, 3, 2}};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        int w = dims[d][0], h = dims[d][1], ow = dims[d][2], oh = dims[d][3];
        av_image *img = av_img_new(w, h);
        for (size_t k = 0; k < (size_t)w * h * 3; k++)
            img->data[k] = (uint8_t)((s = s * 1103515245u + 12345u) >> 23);
        size_t n = (size_t)ow * oh * 3;
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        for (int v = 0; v < 4; v++) {
            av_vision_layout lay = v % 2 ? AV_VISION_NCHW : AV_VISION_NHWC;
            float div = v / 2 ? 255.0f : 1.0f;
            av_vision__resize_force_scalar(1);
            CHECK(av_vision_resize_tf_bilinear_ex(img, ow, oh, div, lay, a) == AV_VISION_OK);
            av_vision__resize_force_scalar(0);
            CHECK(av_vision_resize_tf_bilinear_ex(img, ow, oh, div, lay, b) == AV_VISION_OK);
            CHECK_MSG(memcmp(a, b, n * sizeof *a) == 0, "%dx%d to %dx%d, variant %d", w, h, ow,
                      oh, v);
        }
        free(a);
        free(b);
        av_img_free(img);
    }
}

/* ---------------------------------------------------------------- crop */

TEST(square_crop_rect_math)
{
    av_vision_rect r;
    /* box 20x40 centred (20,30), margin 10%: side 48, shifted right to stay inside */
    CHECK(av_vision_square_crop_rect(100, 100, 10, 10, 30, 50, 0.1, &r) == AV_VISION_OK);
    CHECK_NEAR(r.x0, 0, 1e-4);
    CHECK_NEAR(r.x1, 48, 1e-4);
    CHECK_NEAR(r.y0, 6, 1e-4);
    CHECK_NEAR(r.y1, 54, 1e-4);
    /* wider than the image is tall: clipped, no longer square */
    CHECK(av_vision_square_crop_rect(100, 40, 40, 0, 60, 40, 0.5, &r) == AV_VISION_OK);
    CHECK_NEAR(r.x0, 10, 1e-4);
    CHECK_NEAR(r.x1, 90, 1e-4);
    CHECK_NEAR(r.y0, 0, 1e-4);
    CHECK_NEAR(r.y1, 40, 1e-4);
    /* box partly outside (detectors do not clamp): only the inside part counts */
    CHECK(av_vision_square_crop_rect(512, 343, -3.2, 71.5, 519.5, 335.1, 0, &r) == AV_VISION_OK);
    CHECK(r.x0 >= 0 && r.x1 <= 512 && r.y0 >= 0 && r.y1 <= 343);
    /* no overlap, NaN, negative margin */
    CHECK(av_vision_square_crop_rect(100, 100, 200, 200, 300, 300, 0, &r) == AV_VISION_E_ARG);
    CHECK(av_vision_square_crop_rect(100, 100, NAN, 0, 10, 10, 0, &r) == AV_VISION_E_ARG);
    CHECK(av_vision_square_crop_rect(100, 100, 0, 0, 10, 10, -1, &r) == AV_VISION_E_ARG);
}

TEST(crop_and_crop_resize)
{
    av_image *img = load("bird.bmp");
    av_image *c = NULL;
    char err[256];
    CHECK(av_vision_crop(img, 500, 300, 100, 100, &c, err, sizeof err) == AV_VISION_OK);
    CHECK(c->width == 12 && c->height == 43);
    CHECK(memcmp(tv_px(c, 0, 0), tv_px(img, 500, 300), 3) == 0);
    CHECK(memcmp(tv_px(c, 11, 42), tv_px(img, 511, 342), 3) == 0);
    av_img_free(c);
    CHECK(av_vision_crop(img, 600, 0, 10, 10, &c, err, sizeof err) == AV_VISION_E_ARG);
    CHECK(c == NULL);

    /* crop_resize == Pillow box resize of the square rect */
    av_image *a = NULL, *b = NULL;
    CHECK(av_vision_crop_resize(img, 9.6, 71.5, 477.7, 335.1, 0.1, 224, 224, &a, err,
                                sizeof err) == AV_VISION_OK);
    av_vision_rect r;
    CHECK(av_vision_square_crop_rect(512, 343, 9.6, 71.5, 477.7, 335.1, 0.1, &r) == AV_VISION_OK);
    CHECK(av_vision_resize_pil_box(img, &r, 224, 224, &b, err, sizeof err) == AV_VISION_OK);
    CHECK(a->width == 224 && memcmp(a->data, b->data, 224 * 224 * 3) == 0);
    av_img_free(a);
    av_img_free(b);
    CHECK(av_vision_crop_resize(img, 900, 900, 950, 950, 0.1, 224, 224, &a, err, sizeof err) ==
          AV_VISION_E_ARG);
    av_img_free(img);
}

/* ---------------------------------------------------------------- draw */

static size_t count_color(const av_image *img, int x0, int y0, int x1, int y1, av_vision_color c,
                          int tol)
{
    size_t k = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < img->height; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < img->width; x++)
            k += tv_near(tv_px(img, x, y), c.r, c.g, c.b, tol);
    return k;
}

static av_vision_font *font_or_skip(void)
{
    av_vision_font *f = NULL;
    char err[256];
    if (av_vision_font_open(NULL, &f, err, sizeof err) != AV_VISION_OK)
        SKIP(err);
    return f;
}

TEST(draw_box_edges)
{
    av_image *img = av_img_new(200, 100);
    av_vision_box b = {20, 20, 120, 80, {255, 0, 0}, NULL};
    CHECK(av_vision_draw_boxes(img, &b, 1, NULL) == AV_VISION_OK);
    int t = av_vision_line_width(200, 100);
    CHECK_EQ_INT(t, 2);
    const av_vision_color red = {255, 0, 0}, black = {0, 0, 0};
    CHECK(tv_near(tv_px(img, 20, 50), 255, 0, 0, 0));  /* left edge */
    CHECK(tv_near(tv_px(img, 21, 50), 255, 0, 0, 0));
    CHECK(tv_near(tv_px(img, 22, 50), 0, 0, 0, 0));    /* inside */
    CHECK(tv_near(tv_px(img, 119, 50), 255, 0, 0, 0)); /* right edge */
    CHECK(tv_near(tv_px(img, 70, 20), 255, 0, 0, 0));  /* top */
    CHECK(tv_near(tv_px(img, 70, 79), 255, 0, 0, 0));  /* bottom */
    CHECK(tv_near(tv_px(img, 70, 50), 0, 0, 0, 0));
    CHECK(tv_near(tv_px(img, 19, 50), 0, 0, 0, 0));    /* outside */
    CHECK(tv_near(tv_px(img, 120, 50), 0, 0, 0, 0));
    /* exactly the outline: 2*(100+60)*2 - 4*4 corner overlaps */
    CHECK_EQ_INT(count_color(img, 0, 0, 200, 100, red, 0), 2 * 100 * 2 + 2 * 56 * 2);
    CHECK_EQ_INT(count_color(img, 0, 0, 200, 100, black, 0), 200 * 100 - (2 * 100 * 2 + 2 * 56 * 2));
    av_img_free(img);

    /* thickness grows with the picture */
    CHECK(av_vision_line_width(4000, 3000) > av_vision_line_width(800, 600));
    CHECK_EQ_INT(av_vision_font_px(100, 100), 12);
    CHECK(av_vision_font_px(4000, 3000) >= 80);
}

TEST(draw_label_above_box_and_legible)
{
    av_vision_font *f = font_or_skip();
    av_image *img = av_img_new(400, 300);
    memset(img->data, 255, (size_t)400 * 300 * 3); /* white picture */
    const av_vision_color navy = {0, 0, 160}, white = {255, 255, 255};
    av_vision_box b = {100, 120, 300, 250, navy, "European Robin 93%"};
    CHECK(av_vision_draw_boxes(img, &b, 1, f) == AV_VISION_OK);
    /* label background of the box colour right above the box, text in white on it */
    int px = av_vision_font_px(400, 300);
    size_t bg = count_color(img, 100, 120 - 2 * px, 400, 120, navy, 0);
    CHECK_MSG(bg > (size_t)(px * 40), "label background pixels: %zu", bg);
    /* white text pixels inside the label band, and antialiased (intermediate) ones */
    size_t text = 0, aa = 0;
    for (int y = 120 - 2 * px; y < 120; y++)
        for (int x = 100; x < 400; x++) {
            const uint8_t *p = tv_px(img, x, y);
            if (p[0] == 255 && p[1] == 255 && p[2] == 255)
                continue;
            if (p[2] >= 160 && p[0] > 40 && p[0] < 215)
                aa++;
            if (p[0] > 200 && p[2] > 200 && p[0] == p[1])
                text++;
        }
    CHECK_MSG(aa > 20, "antialiased pixels: %zu", aa);
    (void)white;
    /* nothing drawn below the box */
    CHECK_EQ_INT(count_color(img, 0, 252, 400, 300, white, 0), 400 * 48);

    /* dark text on a light box colour */
    av_image *img2 = av_img_new(400, 300);
    av_vision_box y = {100, 120, 300, 250, {255, 225, 25}, "Coal Tit 88%"};
    CHECK(av_vision_draw_boxes(img2, &y, 1, f) == AV_VISION_OK);
    size_t dark = count_color(img2, 100, 120 - 2 * px, 400, 120, (av_vision_color){0, 0, 0}, 30);
    CHECK_MSG(dark > 30, "dark text pixels: %zu", dark);
    av_img_free(img2);
    av_img_free(img);
    av_vision_font_close(f);
}

TEST(draw_label_kept_inside_image)
{
    av_vision_font *f = font_or_skip();
    const av_vision_color green = {60, 180, 75};
    /* box at the top-right corner: label cannot go above, nor start at the box's x */
    av_image *img = av_img_new(300, 200);
    av_vision_box b = {290, 0, 299, 50, green, "Eurasian Magpie 71%"};
    CHECK(av_vision_draw_boxes(img, &b, 1, f) == AV_VISION_OK);
    int px = av_vision_font_px(300, 200);
    /* background reaches the right border and sits in the top rows */
    CHECK(count_color(img, 299, 0, 300, px, green, 0) > (size_t)(px / 2));
    CHECK(count_color(img, 150, 0, 290, px, green, 0) > 100);
    av_img_free(img);

    /* box at the bottom-left with the image too short above: label still in the image */
    img = av_img_new(300, 30);
    av_vision_box c = {0, 5, 50, 29, green, "Robin 50%"};
    CHECK(av_vision_draw_boxes(img, &c, 1, f) == AV_VISION_OK);
    CHECK(count_color(img, 0, 0, 300, 30, green, 0) > 200);
    av_img_free(img);
    av_vision_font_close(f);
}

TEST(draw_degenerate_images_and_boxes)
{
    av_vision_font *f = NULL;
    av_vision_font_open(NULL, &f, NULL, 0); /* may be NULL: boxes only */
    const av_vision_color c = {230, 25, 75};
    av_vision_box boxes[] = {
        {0, 0, 1, 1, c, "Bird 99%"},
        {-100, -100, -50, -50, c, "outside"},
        {1e12, 1e12, 2e12, 2e12, c, "far"},
        {-1e12, -1e12, 1e12, 1e12, c, "huge"},
        {NAN, 0, 10, 10, c, "nan"},
        {50, 50, 40, 40, c, "swapped"},
        {5, 5, 5, 5, c, "empty"},
        {0, 0, 10, 10, c, "\xff\xfe bad utf-8 \xe2\x82"},
    };
    size_t nb = sizeof boxes / sizeof boxes[0];

    av_image *one = av_img_new(1, 1);
    CHECK(av_vision_draw_boxes(one, boxes, 1, f) == AV_VISION_OK);
    CHECK(tv_near(tv_px(one, 0, 0), 230, 25, 75, 0));
    CHECK(av_vision_draw_boxes(one, boxes, nb, f) == AV_VISION_OK);
    av_img_free(one);

    av_image *wide = av_img_new(10000, 100);
    CHECK(av_vision_draw_boxes(wide, boxes, nb, f) == AV_VISION_OK);
    av_vision_box mid = {5000, 10, 9999, 90, c, "Pica pica 64%"};
    CHECK(av_vision_draw_boxes(wide, &mid, 1, f) == AV_VISION_OK);
    CHECK(tv_near(tv_px(wide, 5000, 50), 230, 25, 75, 0));
    CHECK(av_vision_font_px(10000, 100) <= 25);
    av_img_free(wide);

    av_image *tall = av_img_new(3, 5000);
    CHECK(av_vision_draw_boxes(tall, boxes, nb, f) == AV_VISION_OK);
    av_img_free(tall);

    CHECK(av_vision_draw_boxes(NULL, boxes, 1, f) == AV_VISION_E_ARG);
    av_vision_font_close(f);
}

TEST(missing_font_boxes_still_drawn)
{
    av_vision_font *f = (av_vision_font *)1;
    char err[256];
    CHECK_EQ_INT(av_vision_font_open("/nonexistent/NoSuchFont.ttf", &f, err, sizeof err),
                 AV_VISION_E_FONT);
    CHECK(f == NULL);
    CHECK_STR_CONTAINS(err, "/nonexistent/NoSuchFont.ttf");
    CHECK_STR_CONTAINS(err, "labels will not be drawn");
    /* a file that is not a font */
    CHECK_EQ_INT(av_vision_font_open(av_test_shared("testdata/images/bird.bmp"), &f, err,
                                     sizeof err),
                 AV_VISION_E_FONT);
    av_image *img = av_img_new(50, 50);
    av_vision_box b = {10, 10, 40, 40, {0, 130, 200}, "Robin 90%"};
    CHECK(av_vision_draw_boxes(img, &b, 1, NULL) == AV_VISION_OK);
    CHECK(tv_near(tv_px(img, 10, 25), 0, 130, 200, 0));
    CHECK(tv_near(tv_px(img, 25, 5), 0, 0, 0, 0)); /* no label */
    av_img_free(img);
}

TEST_MAIN(T(tf_bilinear_matches_centernet_input), T(tf_bilinear_matches_nanodet_input),
          T(tf_bilinear_small_cases), T(pil_resize_matches_pillow), T(pil_resize_properties),
          T(pil_resize_simd_matches_scalar), T(pil_resize_rows_without_a_pass),
          T(tf_bilinear_simd_matches_scalar),
          T(square_crop_rect_math), T(crop_and_crop_resize), T(draw_box_edges),
          T(draw_label_above_box_and_legible), T(draw_label_kept_inside_image),
          T(draw_degenerate_images_and_boxes), T(missing_font_boxes_still_drawn))
