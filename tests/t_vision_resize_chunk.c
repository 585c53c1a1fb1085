/*
 * t_vision_resize_chunk.c - the AVX2 horizontal pass of the Pillow resize
 * (resize_x86.c) run in chunks of rows, each block of four output pixels
 * down a chunk's rows before the next block, and the vertical pass in
 * 32-byte blocks summed in registers (or without them): every chunk size,
 * with and without the blocks, gives the scalar passes' bytes (random pixels, odd sizes, fractional boxes reaching
 * the image's last byte, shrinking and enlarging, crops made in uneven
 * bands of output rows as the species step makes them on its threads).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "vision/vision.h"
#include "vision/vision_int.h"

static unsigned g_seed = 2024;

static unsigned rnd(void)
{
    g_seed = g_seed * 1103515245u + 12345u;
    return g_seed >> 8;
}

static av_image *noise(int w, int h)
{
    av_image *img = av_img_new(w, h);
    CHECK(img != NULL);
    for (size_t k = 0; k < (size_t)w * h * 3; k++)
        img->data[k] = (uint8_t)(rnd() >> 7);
    return img;
}

/* The crop of box to ow x oh in `bands` uneven bands of output rows. */
static void crop_bands(const av_image *img, const av_vision_rect *box, int ow, int oh, int bands,
                       uint8_t *out)
{
    int r0 = 0;
    for (int i = 1; i <= bands; i++) {
        int r1 = i == bands ? oh : oh * i * i / (bands * bands);
        if (r1 > r0)
            CHECK(av_vision_resize_pil_box_rows(img, box, ow, oh, r0, r1, out, NULL, 0) ==
                  AV_VISION_OK);
        r0 = r1 > r0 ? r1 : r0;
    }
}

TEST(every_chunk_size_gives_the_scalar_bytes)
{
    static const int dims[][4] = {{1024, 1858, 224, 224}, {331, 197, 224, 224},
                                  {97, 61, 13, 7},       {33, 1000, 5, 300},
                                  {7, 5, 1, 1},          {1500, 9, 224, 3},
                                  {258, 259, 37, 41}};
    static const int chunks[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 33, 1024};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        int w = dims[d][0], h = dims[d][1], ow = dims[d][2], oh = dims[d][3];
        av_image *img = noise(w, h);
        size_t n = (size_t)ow * oh * 3;
        uint8_t *want = malloc(n), *got = malloc(n);
        CHECK(want && got);
        for (int b = 0; b < 3; b++) {
            /* the whole image, then fractional boxes, one reaching the last byte */
            float fx = b ? (float)(rnd() % 97) / 97.0f * (float)w * 0.4f : 0;
            float fy = b ? (float)(rnd() % 89) / 89.0f * (float)h * 0.4f : 0;
            av_vision_rect box = {fx, fy, b == 2 ? (float)w - fx / 3 : (float)w,
                                  b == 1 ? (float)h - fy / 5 : (float)h};
            av_vision__resize_force_scalar(1);
            CHECK(av_vision_resize_pil_box_into(img, &box, ow, oh, want, NULL, 0) ==
                  AV_VISION_OK);
            av_vision__resize_force_scalar(0);
            for (size_t c = 0; c < 2 * (sizeof chunks / sizeof chunks[0]); c++) {
                size_t nc = sizeof chunks / sizeof chunks[0];
                av_vision__resize_h_chunk(chunks[c % nc]);
                av_vision__resize_v_plain(c >= nc); /* second round: no 32-byte blocks */
                int bands = 1 + (int)((c + (size_t)b) % 4);
                memset(got, 0xa5, n);
                crop_bands(img, &box, ow, oh, bands, got);
                CHECK_MSG(memcmp(want, got, n) == 0,
                          "%dx%d box (%g,%g)-(%g,%g) to %dx%d, chunk %d, %d bands, v blocks %d",
                          w, h, box.x0, box.y0, box.x1, box.y1, ow, oh, chunks[c % nc], bands,
                          c < nc);
            }
            av_vision__resize_h_chunk(0);
            av_vision__resize_v_plain(0);
        }
        free(want);
        free(got);
        av_img_free(img);
    }
}

/* A chunk size reset to 0 goes back to the default, whose bytes are the same. */
TEST(chunk_reset_to_default)
{
    av_image *img = noise(400, 700);
    av_vision_rect box = {3.5f, 10.25f, 399.0f, 700.0f};
    uint8_t *a = malloc(224 * 224 * 3), *b = malloc(224 * 224 * 3);
    CHECK(a && b);
    av_vision__resize_h_chunk(1);
    CHECK(av_vision_resize_pil_box_into(img, &box, 224, 224, a, NULL, 0) == AV_VISION_OK);
    av_vision__resize_h_chunk(0);
    CHECK(av_vision_resize_pil_box_into(img, &box, 224, 224, b, NULL, 0) == AV_VISION_OK);
    CHECK(memcmp(a, b, 224 * 224 * 3) == 0);
    free(a);
    free(b);
    av_img_free(img);
}

TEST_MAIN(T(every_chunk_size_gives_the_scalar_bytes), T(chunk_reset_to_default))
