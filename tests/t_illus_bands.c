/*
 * t_illus_bands.c - the page statistic measured in bands of grid rows on a
 * pool (illus.c av_detect__page_measure_on) gives exactly the fractions of
 * one pass over the grid (the loop as it was, kept here as the reference):
 * frames of paper patches and grain, photo-sized, small, one row or one
 * column, on 1, 2 and 3 threads.
 */
#include "harness.h"

#include "detect/illus.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int luma(const uint8_t *p)
{
    return (77 * p[0] + 150 * p[1] + 29 * p[2]) >> 8;
}

/* The single-pass measure (illus.c before the bands). */
static void reference(const uint8_t *rgb, int w, int h, av_detect__page *out)
{
    int step = (int)sqrt((double)w * (double)h / 65536);
    step = step < 1 ? 1 : step;
    int ring = (w < h ? w : h) / 20;
    ring = ring < 1 ? 1 : ring;
    long n = 0, paper = 0, nb = 0, pb = 0;
    for (int y = step / 2; y < h; y += step)
        for (int x = step / 2; x < w; x += step) {
            const uint8_t *p = rgb + 3 * ((size_t)y * (size_t)w + (size_t)x);
            int is = p[0] >= 245 && p[1] >= 245 && p[2] >= 245;
            int lo = 255, hi = 0;
            for (int dy = -1; is && dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
                    int xx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
                    int l = luma(rgb + 3 * ((size_t)yy * (size_t)w + (size_t)xx));
                    lo = l < lo ? l : lo;
                    hi = l > hi ? l : hi;
                }
            is = is && hi - lo <= 2;
            n++;
            paper += is;
            if (y < ring || y >= h - ring || x < ring || x >= w - ring) {
                nb++;
                pb += is;
            }
        }
    out->paper = n ? (double)paper / (double)n : 0;
    out->border = nb ? (double)pb / (double)nb : out->paper;
}

/* Flat white blocks (edge 8 to 71 px) over grainy grey and slightly grainy white. */
static uint8_t *frame(int w, int h, unsigned seed)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    if (!rgb)
        return NULL;
    int block = 8 + (int)(seed % 64);
    unsigned grain = seed;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned cell = (unsigned)(x / block) * 7919u + (unsigned)(y / block) * 104729u + seed;
            cell = cell * 2654435761u >> 28;
            grain = grain * 1103515245u + 12345u;
            int v = cell < 6 ? 255 : cell < 9 ? 250 + (int)(grain >> 29) : 90 + (int)(grain >> 26);
            uint8_t *p = rgb + 3 * ((size_t)y * w + x);
            p[0] = p[1] = p[2] = (uint8_t)(v > 255 ? 255 : v);
        }
    return rgb;
}

TEST(bands_give_the_single_pass_fractions)
{
    static const int sizes[][2] = {{1031, 1857}, {1638, 1097}, {640, 480}, {37, 23},
                                   {1, 1},       {200, 1},     {1, 300},  {3001, 2}};
    av_nn_pool *pools[3] = {NULL, NULL, NULL};
    CHECK(av_nn_pool_new(2, &pools[1], NULL, 0) == AV_NN_OK && pools[1]);
    CHECK(av_nn_pool_new(3, &pools[2], NULL, 0) == AV_NN_OK && pools[2]);
    int some_paper = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int w = sizes[s][0], h = sizes[s][1];
        uint8_t *rgb = frame(w, h, (unsigned)s * 31u + 5u);
        CHECK(rgb);
        av_detect__page want, got;
        reference(rgb, w, h, &want);
        some_paper += want.paper > 0.05 && want.paper < 0.95;
        av_detect__page_measure(rgb, w, h, &got);
        CHECK_MSG(got.paper == want.paper && got.border == want.border, "%dx%d plain", w, h);
        for (int t = 0; t < 3; t++) {
            memset(&got, 0xa5, sizeof got);
            av_detect__page_measure_on(rgb, w, h, pools[t], &got);
            CHECK_MSG(got.paper == want.paper && got.border == want.border,
                      "%dx%d on %d threads: paper %.6f want %.6f, border %.6f want %.6f", w, h,
                      t + 1, got.paper, want.paper, got.border, want.border);
        }
        free(rgb);
    }
    CHECK(some_paper >= 4); /* the frames are mixed, not all one thing */
    av_nn_pool_free(pools[1]);
    av_nn_pool_free(pools[2]);
}

TEST_MAIN(T(bands_give_the_single_pass_fractions))
