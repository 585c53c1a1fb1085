/*
 * t_detect_crops.c - the pipeline's input plumbing: the worker's crop cache
 * (src/detect/crops.c: the same pixels as a fresh crop, a hit is not made
 * again, reset forgets, more crops than it keeps, crops made in bands on a
 * pool) and the filling of model inputs (tensor.c: the per-channel table
 * for 8-bit pixels and the float loops give the values of the plain
 * per-value formula, every dtype and layout, BGR included).
 */
#include "harness.h"

#include "detect/crops.h"
#include "detect/tensor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *noise(int w, int h, unsigned seed)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    for (size_t i = 0; p && i < (size_t)w * h * 3; i++)
        p[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 23);
    return p;
}

TEST(crop_cache_same_pixels_hits_and_resets)
{
    uint8_t *rgb = noise(301, 207, 7);
    av_detect__img img = av_detect__img_wrap(301, 207, rgb);
    av_detect__crops c;
    memset(&c, 0, sizeof c);
    uint8_t *want = malloc(224 * 224 * 3);
    CHECK(av_detect__img_crop_area(&img, 10, 20, 200, 207, 224, 224, want) == 0);
    const uint8_t *a = av_detect__crops_get(&c, &img, 10, 20, 200, 207, 224, 224, NULL);
    CHECK(a && memcmp(a, want, 224 * 224 * 3) == 0);
    /* a hit: the same buffer, not made again */
    CHECK(av_detect__crops_get(&c, &img, 10, 20, 200, 207, 224, 224, NULL) == a);
    CHECK_EQ_INT(c.n, 1);
    /* another size or rectangle is another crop */
    const uint8_t *b = av_detect__crops_get(&c, &img, 10, 20, 200, 207, 112, 112, NULL);
    CHECK(b && b != a);
    CHECK_EQ_INT(c.n, 2);
    /* after a reset the same key is made again from the (new) pixels */
    av_detect__crops_reset(&c);
    memset(rgb, 9, (size_t)301 * 207 * 3);
    a = av_detect__crops_get(&c, &img, 10, 20, 200, 207, 224, 224, NULL);
    CHECK(a && a[0] == 9 && a[224 * 224 * 3 - 1] == 9);
    /* more crops than it keeps: the oldest go, every answer still right */
    av_detect__crops_reset(&c);
    uint8_t *fresh = noise(301, 207, 8);
    memcpy(rgb, fresh, (size_t)301 * 207 * 3);
    free(fresh);
    const uint8_t *last = NULL;
    for (int k = 0; k < AV_DETECT__CROPS_MAX + 5; k++) {
        const uint8_t *p = av_detect__crops_get(&c, &img, k, 0, 100 + k, 100, 32, 32, NULL);
        CHECK(av_detect__img_crop_area(&img, k, 0, 100 + k, 100, 32, 32, want) == 0);
        CHECK_MSG(p && memcmp(p, want, 32 * 32 * 3) == 0, "crop %d", k);
        last = p;
    }
    CHECK_EQ_INT(c.n, AV_DETECT__CROPS_MAX);
    int k = AV_DETECT__CROPS_MAX + 4;
    CHECK(av_detect__crops_get(&c, &img, k, 0, 100 + k, 100, 32, 32, NULL) == last); /* kept */
    const uint8_t *p = av_detect__crops_get(&c, &img, 0, 0, 100, 100, 32, 32, NULL); /* made again */
    CHECK(av_detect__img_crop_area(&img, 0, 0, 100, 100, 32, 32, want) == 0);
    CHECK(p && memcmp(p, want, 32 * 32 * 3) == 0);
    /* a crop outside the image fails */
    CHECK(av_detect__crops_get(&c, &img, 400, 0, 500, 10, 32, 32, NULL) == NULL);
    av_detect__crops_free(&c);
    free(want);
    free(rgb);
}

/* Crops made in bands on a pool of 2 or 3 threads (img.c crop_area_on) have
 * the bytes of the crop made on this thread: random rectangles of a photo-
 * sized image (shrunk a lot, shrunk little, enlarged, one row), through the
 * cache too. */
TEST(crop_bands_on_a_pool_same_bytes)
{
    int w = 1031, h = 1857;
    uint8_t *rgb = noise(w, h, 11);
    av_detect__img img = av_detect__img_wrap(w, h, rgb);
    uint8_t *want = malloc(300 * 300 * 3), *got = malloc(300 * 300 * 3);
    unsigned s = 5;
    for (int threads = 2; threads <= 3; threads++) {
        av_nn_pool *pool = NULL;
        CHECK(av_nn_pool_new(threads, &pool, NULL, 0) == AV_NN_OK && pool);
        CHECK_EQ_INT(av_nn_pool_threads(pool), threads);
        av_detect__crops c;
        memset(&c, 0, sizeof c);
        for (int k = 0; k < 12; k++) {
            int x1 = (int)((s = s * 1103515245u + 12345u) >> 16) % (w - 8);
            int y1 = (int)((s = s * 1103515245u + 12345u) >> 16) % (h - 8);
            int x2 = x1 + 1 + (int)((s = s * 1103515245u + 12345u) >> 16) % (w - x1);
            int y2 = y1 + 1 + (int)((s = s * 1103515245u + 12345u) >> 16) % (h - y1);
            int ow = k % 4 == 3 ? 300 : 224, oh = k % 6 == 5 ? 1 : k % 4 == 3 ? 7 : 224;
            if (k == 0)
                x1 = y1 = 0, x2 = w, y2 = h; /* the whole photo */
            size_t n = (size_t)ow * oh * 3;
            memset(got, 0xa5, n);
            CHECK(av_detect__img_crop_area(&img, x1, y1, x2, y2, ow, oh, want) == 0);
            CHECK(av_detect__img_crop_area_on(&img, x1, y1, x2, y2, ow, oh, got, pool) == 0);
            CHECK_MSG(memcmp(got, want, n) == 0, "%d threads (%d,%d)-(%d,%d) to %dx%d", threads,
                      x1, y1, x2, y2, ow, oh);
            const uint8_t *p = av_detect__crops_get(&c, &img, x1, y1, x2, y2, ow, oh, pool);
            CHECK(p && memcmp(p, want, n) == 0);
        }
        CHECK(av_detect__img_crop_area_on(&img, w, 0, w + 5, 9, 32, 32, got, pool) == -1);
        av_detect__crops_free(&c);
        av_nn_pool_free(pool);
    }
    free(want);
    free(got);
    free(rgb);
}

/* The plain formula, one value at a time (tensor.c before the table). */
static void reference_fill(const av_detect__manifest *m, const av_nn_tensor_info *ti,
                           const float *pxf, const uint8_t *px8, void *dst)
{
    size_t hw = (size_t)m->in_w * m->in_h;
    for (size_t p = 0; p < hw; p++)
        for (int c = 0; c < 3; c++) {
            int src = m->bgr ? 2 - c : c;
            float v = pxf ? pxf[p * 3 + src] : (float)px8[p * 3 + src];
            v = (v - m->mean[src]) / m->std[src];
            size_t o = m->layout == AV_DETECT__NCHW ? (size_t)c * hw + p : p * 3 + (size_t)c;
            if (ti->dtype == AV_NN_F32) {
                ((float *)dst)[o] = v;
            } else {
                float q = roundf(v * (1.0f / ti->scale)) + (float)ti->zero_point;
                if (ti->dtype == AV_NN_U8)
                    ((uint8_t *)dst)[o] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
                else
                    ((int8_t *)dst)[o] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
            }
        }
}

TEST(fill_input_matches_the_formula)
{
    av_detect__manifest m;
    memset(&m, 0, sizeof m);
    m.in_w = 37;
    m.in_h = 23;
    size_t n = (size_t)m.in_w * m.in_h * 3;
    uint8_t *px8 = noise(m.in_w, m.in_h, 3);
    float *pxf = malloc(n * sizeof *pxf);
    for (size_t i = 0; i < n; i++)
        pxf[i] = (float)px8[i] * 0.731f + 0.25f;
    float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
    static const av_nn_dtype dts[] = {AV_NN_F32, AV_NN_U8, AV_NN_I8};
    static const float norm[][2][3] = {{{128, 128, 128}, {128, 128, 128}},
                                       {{0, 0, 0}, {255, 255, 255}},
                                       {{123.7f, 116.3f, 103.5f}, {58.4f, 57.1f, 57.4f}}};
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < 3; k++)
            for (int layout = 0; layout < 2; layout++)
                for (int bgr = 0; bgr < 2; bgr++)
                    for (int f = 0; f < 2; f++) {
                        memcpy(m.mean, norm[k][0], sizeof m.mean);
                        memcpy(m.std, norm[k][1], sizeof m.std);
                        m.layout = layout ? AV_DETECT__NCHW : AV_DETECT__NHWC;
                        m.bgr = bgr;
                        av_nn_tensor_info ti = {.dtype = dts[d],
                                                .scale = d ? 0.0078125f * (k + 1) : 0,
                                                .zero_point = d == 1 ? 128 : d == 2 ? -3 : 0};
                        size_t bytes = n * av_nn_dtype_size(ti.dtype);
                        memset(got, 0xa5, n * sizeof *got);
                        memset(want, 0x5a, n * sizeof *want);
                        av_detect__fill_input(&m, &ti, f ? pxf : NULL, f ? NULL : px8, got);
                        reference_fill(&m, &ti, f ? pxf : NULL, f ? NULL : px8, want);
                        CHECK_MSG(memcmp(got, want, bytes) == 0,
                                  "dtype %d norm %d layout %d bgr %d float %d", d, k, layout,
                                  bgr, f);
                    }
    free(px8);
    free(pxf);
    free(got);
    free(want);
}

TEST_MAIN(T(crop_cache_same_pixels_hits_and_resets), T(crop_bands_on_a_pool_same_bytes),
          T(fill_input_matches_the_formula))
