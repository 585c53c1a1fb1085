/*
 * t_detect_canvas.c - the zoom-out canvases (one copy: passes.c; the mosaic
 * of several: mosaic.c) made with integer colour sums, a row-at-a-time fill
 * and their shrinks on an engine pool give the bytes of the plain way
 * (double sums, a pixel at a time, one thread: av_detect__canvas_plain)
 * and of a reference written here from the documented layout: the first
 * copy's mean colour everywhere, each copy (area-resized from the image or
 * from the copy before it) at its place. Random photos, odd sizes, both
 * canvas kinds (stretched to the input, or the image scaled to fit it).
 */
#include "harness.h"

#include "detect/passes.h"
#include "nn/nn.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static unsigned g_seed = 4242;

static unsigned rnd(void)
{
    g_seed = g_seed * 1103515245u + 12345u;
    return g_seed >> 8;
}

/* Smooth random pixels (a gradient and noise: mean colours of any value). */
static uint8_t *photo(int w, int h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    CHECK(px != NULL);
    int a = (int)(rnd() % 200), b = (int)(rnd() % 7);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                px[((size_t)y * w + x) * 3 + c] =
                    (uint8_t)((a + x * (c + 1) + y * b + (int)(rnd() % 23)) & 255);
    return px;
}

/* The canvas from the header's words: copies made one by one (each from
 * the smallest earlier copy still larger, else the image), mean of copy 0
 * summed in doubles, painted everywhere, copies laid on top. */
static uint8_t *reference(const av_detect__img *img, int cw, int ch, const av_detect__zoom *z,
                          int n)
{
    uint8_t *copy[AV_DETECT__ZOOM_MAX] = {NULL};
    for (int i = 0; i < n; i++) {
        av_detect__img src = *img;
        for (int j = i - 1; j >= 0; j--)
            if (z[j].sw >= z[i].sw && z[j].sh >= z[i].sh) {
                src = av_detect__img_wrap(z[j].sw, z[j].sh, copy[j]);
                break;
            }
        copy[i] = malloc((size_t)z[i].sw * z[i].sh * 3);
        CHECK(copy[i] != NULL);
        CHECK_EQ_INT(av_detect__img_crop_area(&src, 0, 0, src.w, src.h, z[i].sw, z[i].sh,
                                              copy[i]),
                     0);
    }
    double sum[3] = {0, 0, 0};
    size_t np = (size_t)z[0].sw * z[0].sh;
    for (size_t i = 0; i < np * 3; i++)
        sum[i % 3] += copy[0][i];
    uint8_t *out = malloc((size_t)cw * ch * 3);
    CHECK(out != NULL);
    for (size_t i = 0; i < (size_t)cw * ch * 3; i++)
        out[i] = (uint8_t)(sum[i % 3] / (double)np + 0.5);
    for (int i = 0; i < n; i++) {
        for (int y = 0; y < z[i].sh; y++)
            for (int x = 0; x < z[i].sw * 3; x++)
                out[((size_t)(y + z[i].oy) * cw + (size_t)z[i].ox) * 3 + (size_t)x] =
                    copy[i][(size_t)y * z[i].sw * 3 + (size_t)x];
        free(copy[i]);
    }
    return out;
}

static const int g_sizes[][2] = {{1433, 954}, {1024, 1858}, {333, 97}, {61, 640}, {512, 512}};

TEST(mosaic_canvas_matches_plain_and_reference)
{
    av_nn_pool *pool = NULL;
    CHECK(av_nn_pool_new(2, &pool, NULL, 0) == AV_NN_OK && pool);
    const double sc[] = {0.5, 0.3};
    for (size_t s = 0; s < sizeof g_sizes / sizeof g_sizes[0]; s++)
        for (int stretch = 0; stretch < 2; stretch++) {
            int w = g_sizes[s][0], h = g_sizes[s][1];
            uint8_t *px = photo(w, h);
            av_detect__img img = av_detect__img_wrap(w, h, px);
            av_detect__mosaic m;
            av_detect__mosaic_geom(w, h, 512, 512, stretch, sc, 2, AV_DETECT__MOSAIC_GAP, &m);
            CHECK(m.n >= 1);
            size_t n = (size_t)m.cw * m.ch * 3;
            uint8_t *want = reference(&img, m.cw, m.ch, m.z, m.n), *plain = NULL;
            av_detect__canvas_plain(1);
            CHECK_EQ_INT(av_detect__mosaic_canvas(&img, &m, &plain), 0);
            av_detect__canvas_plain(0);
            CHECK_MSG(memcmp(want, plain, n) == 0, "%dx%d stretch %d: plain", w, h, stretch);
            for (int k = 0; k < 2; k++) {
                uint8_t *got = NULL;
                CHECK_EQ_INT(av_detect__mosaic_canvas_on(&img, &m, k ? pool : NULL, &got), 0);
                CHECK_MSG(memcmp(want, got, n) == 0, "%dx%d stretch %d: rows, pool %d", w, h,
                          stretch, k);
                free(got);
            }
            free(plain);
            free(want);
            free(px);
        }
    av_nn_pool_free(pool);
}

TEST(zoom_canvas_matches_plain_and_reference)
{
    av_nn_pool *pool = NULL;
    CHECK(av_nn_pool_new(2, &pool, NULL, 0) == AV_NN_OK && pool);
    for (size_t s = 0; s < sizeof g_sizes / sizeof g_sizes[0]; s++) {
        int w = g_sizes[s][0], h = g_sizes[s][1];
        uint8_t *px = photo(w, h);
        av_detect__img img = av_detect__img_wrap(w, h, px);
        av_detect__zoom z;
        av_detect__zoom_geom(w, h, 512, 512, (int)(s % 2), s == 2 ? 0.3 : 0.5, &z);
        size_t n = (size_t)z.cw * z.ch * 3;
        uint8_t *want = reference(&img, z.cw, z.ch, &z, 1);
        for (int k = 0; k < 3; k++) { /* plain, rows, rows with the pool */
            uint8_t *got = NULL, *small = NULL;
            av_detect__canvas_plain(k == 0);
            CHECK_EQ_INT(av_detect__zoom_canvas_on(&img, &z, k == 2 ? pool : NULL, &got, &small),
                         0);
            av_detect__canvas_plain(0);
            CHECK_MSG(memcmp(want, got, n) == 0, "%dx%d: way %d", w, h, k);
            /* the shrunk copy is the canvas's middle */
            int same = 1;
            for (int y = 0; y < z.sh; y++)
                same &= !memcmp(small + (size_t)y * z.sw * 3,
                                got + ((size_t)(y + z.oy) * z.cw + (size_t)z.ox) * 3,
                                (size_t)z.sw * 3);
            CHECK_MSG(same, "%dx%d: way %d: shrunk copy", w, h, k);
            free(got);
            free(small);
        }
        free(want);
        free(px);
    }
    av_nn_pool_free(pool);
}

TEST_MAIN(T(mosaic_canvas_matches_plain_and_reference), T(zoom_canvas_matches_plain_and_reference))
