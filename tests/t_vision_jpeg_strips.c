/*
 * t_vision_jpeg_strips.c - the strip-parallel JPEG encoder
 * (av_vision_encode_jpeg_par): its bytes are the same for every strip
 * count and thread count, it decodes to exactly the pixels
 * av_vision_encode_jpeg's file decodes to, it has a restart marker per
 * MCU row numbered in order, and it refuses what the plain encoder refuses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "harness.h"
#include "par_fixture.h"
#include "t_vision_util.h"
#include "vision/vision.h"

/* A photo-like image: smooth gradients, texture and hard edges, so every
 * part of the coder (DC, AC runs, 0xFF stuffing) has work. */
static av_image *pattern(int w, int h, unsigned seed)
{
    av_image *img = av_img_new(w, h);
    CHECK(img);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->data + ((size_t)y * w + x) * 3;
            unsigned r = (unsigned)(x * 7 + y * 3) ^ seed;
            seed = seed * 1103515245u + 12345u;
            p[0] = (uint8_t)(x * 255 / (w > 1 ? w - 1 : 1));
            p[1] = (uint8_t)((x / 9 + y / 7) % 2 ? 250 : 10);
            p[2] = (uint8_t)((r + (seed >> 28)) & 0xFF);
        }
    return img;
}

static av_image *decode(const unsigned char *j, size_t n)
{
    av_image *img = NULL;
    char err[256];
    av_vision_status st = av_vision_decode(j, n, NULL, &img, NULL, err, sizeof err);
    CHECK_MSG(st == AV_VISION_OK, "decode: %s", err);
    return img;
}

/* The restart markers of a JPEG's scan: their count, and whether each is
 * RST(k mod 8) for the k-th. */
static int restarts(const unsigned char *j, size_t n, int *in_order)
{
    size_t i = 2;
    while (i + 4 <= n && !(j[i] == 0xFF && j[i + 1] == 0xDA))
        i += 2 + ((size_t)j[i + 2] << 8 | j[i + 3]);
    CHECK(i + 4 <= n);
    i += 2 + ((size_t)j[i + 2] << 8 | j[i + 3]);
    int k = 0;
    *in_order = 1;
    for (; i + 1 < n; i++)
        if (j[i] == 0xFF) {
            if (j[i + 1] >= 0xD0 && j[i + 1] <= 0xD7) {
                if (j[i + 1] != 0xD0 + (k & 7))
                    *in_order = 0;
                k++;
            }
            i++;
        }
    return k;
}

TEST(bytes_same_for_every_strip_count)
{
    static const int sizes[][2] = {{1, 1},   {17, 15}, {33, 16},  {40, 17}, {64, 130},
                                   {7, 129}, {300, 255}, {161, 400}, {1024, 300}};
    char err[256];
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int w = sizes[s][0], h = sizes[s][1];
        av_image *img = pattern(w, h, (unsigned)s * 77u + 1u);
        unsigned char *one = NULL;
        size_t one_n = 0;
        CHECK(av_vision_encode_jpeg_par(img, 90, NULL, &one, &one_n, err, sizeof err) ==
              AV_VISION_OK);
        int mcu_rows = (h + 15) / 16, ordered = 0;
        CHECK_EQ_INT(restarts(one, one_n, &ordered), mcu_rows - 1);
        CHECK(ordered);
        for (int strips = 2; strips <= 12; strips++)
            for (int how = 0; how < 2; how++) {
                av_vision_par par = {.run = how ? tp_run_threads : tp_run_reversed,
                                     .threads = 2,
                                     .strips = strips};
                unsigned char *j = NULL;
                size_t jn = 0;
                CHECK(av_vision_encode_jpeg_par(img, 90, &par, &j, &jn, err, sizeof err) ==
                      AV_VISION_OK);
                CHECK_MSG(jn == one_n && memcmp(j, one, jn) == 0,
                          "%dx%d, %d strips: %zu bytes differ from one strip's %zu", w, h,
                          strips, jn, one_n);
                free(j);
            }
        free(one);
        av_img_free(img);
    }
}

TEST(decodes_to_the_plain_encoders_pixels)
{
    char err[256];
    static const int q[] = {90, 50, 97};
    for (int t = 0; t < 3; t++) {
        av_image *img = pattern(523 + t * 40, 337 + t * 3, 99u + (unsigned)t);
        unsigned char *a = NULL, *b = NULL;
        size_t an = 0, bn = 0;
        av_vision_par par = {.run = tp_run_threads, .threads = 2};
        CHECK(av_vision_encode_jpeg(img, q[t], &a, &an, err, sizeof err) == AV_VISION_OK);
        CHECK(av_vision_encode_jpeg_par(img, q[t], &par, &b, &bn, err, sizeof err) ==
              AV_VISION_OK);
        av_image *da = decode(a, an), *db = decode(b, bn);
        CHECK_EQ_INT(da->width, db->width);
        CHECK_EQ_INT(da->height, db->height);
        CHECK_MSG(memcmp(da->data, db->data, (size_t)da->width * da->height * 3) == 0,
                  "quality %d: pixels differ from av_vision_encode_jpeg's", q[t]);
        /* restart markers cost a few bytes a row, nothing more */
        CHECK_MSG(bn > an && bn < an + (size_t)(db->height / 16 + 1) * 4,
                  "%zu bytes vs %zu", bn, an);
        free(a);
        free(b);
        av_img_free(da);
        av_img_free(db);
        av_img_free(img);
    }
}

TEST(photo_round_trip)
{
    size_t n;
    unsigned char *d = tv_image_file("parrot.jpg", &n);
    av_image *img = decode(d, n);
    free(d);
    char err[256];
    unsigned char *a = NULL, *b = NULL;
    size_t an = 0, bn = 0;
    av_vision_par par = {.run = tp_run_threads, .threads = 2};
    CHECK(av_vision_encode_jpeg(img, 90, &a, &an, err, sizeof err) == AV_VISION_OK);
    CHECK(av_vision_encode_jpeg_par(img, 90, &par, &b, &bn, err, sizeof err) == AV_VISION_OK);
    av_image *da = decode(a, an), *db = decode(b, bn);
    CHECK(memcmp(da->data, db->data, (size_t)img->width * img->height * 3) == 0);
    free(a);
    free(b);
    av_img_free(da);
    av_img_free(db);
    av_img_free(img);
}

TEST(refuses_what_the_plain_encoder_refuses)
{
    char err[256];
    unsigned char *j = (unsigned char *)"x";
    size_t n = 5;
    CHECK(av_vision_encode_jpeg_par(NULL, 90, NULL, &j, &n, err, sizeof err) == AV_VISION_E_ARG);
    CHECK(j == NULL && n == 0);
    av_image none = {.width = 4, .height = 4, .data = NULL};
    CHECK(av_vision_encode_jpeg_par(&none, 90, NULL, &j, &n, err, sizeof err) ==
          AV_VISION_E_ARG);
    uint8_t px[3] = {1, 2, 3};
    av_image wide = {.width = 70000, .height = 1, .data = px};
    CHECK(av_vision_encode_jpeg_par(&wide, 90, NULL, &j, &n, err, sizeof err) ==
          AV_VISION_E_ARG);
    CHECK(strstr(err, "65500") != NULL);
    av_image one = {.width = 1, .height = 1, .data = px};
    CHECK(av_vision_encode_jpeg_par(&one, 90, NULL, NULL, &n, err, sizeof err) ==
          AV_VISION_E_ARG);
    /* quality out of range is clamped as the plain encoder does */
    CHECK(av_vision_encode_jpeg_par(&one, 0, NULL, &j, &n, err, sizeof err) == AV_VISION_OK);
    free(j);
    CHECK(av_vision_encode_jpeg_par(&one, 400, NULL, &j, &n, err, sizeof err) == AV_VISION_OK);
    free(j);
}

/* Every allocation failed in turn (fault builds: build-asan; elsewhere the
 * first try succeeds): each failure is a clean E_NOMEM or E_ENCODE with a
 * message, nothing leaks (LeakSanitizer), and the run with no failure
 * gives the bytes of an undisturbed one. Noise pixels outgrow a strip's
 * first buffer, so growing it is among the failed calls. */
TEST(allocation_failures_are_clean)
{
    av_image *img = av_img_new(200, 100);
    CHECK(img);
    unsigned seed = 5;
    for (size_t i = 0; i < (size_t)200 * 100 * 3; i++) {
        seed = seed * 1664525u + 1013904223u;
        img->data[i] = (uint8_t)(seed >> 24);
    }
    char err[256];
    unsigned char *want = NULL;
    size_t want_n = 0;
    av_vision_par par = {.run = tp_run_reversed, .threads = 2, .strips = 3};
    CHECK(av_vision_encode_jpeg_par(img, 95, &par, &want, &want_n, err, sizeof err) ==
          AV_VISION_OK);
    for (long n = 1;; n++) {
        CHECK(n < 1000);
        unsigned char *j = NULL;
        size_t jn = 0;
        err[0] = 0;
        av_base_fault_arm(n);
        av_vision_status st = av_vision_encode_jpeg_par(img, 95, &par, &j, &jn, err, sizeof err);
        int fired = av_base_fault_fired();
        av_base_fault_arm(0);
        if (!fired) {
            CHECK(st == AV_VISION_OK && jn == want_n && !memcmp(j, want, jn));
            /* three strip buffers and the joined file at least */
            CHECK_MSG(!av_base_fault_enabled() || n > 4, "only %ld calls counted", n - 1);
            free(j);
            break;
        }
        if (st == AV_VISION_OK) { /* the shrinking realloc may fail harmlessly */
            CHECK(jn == want_n && !memcmp(j, want, jn));
            free(j);
            continue;
        }
        CHECK_MSG(st == AV_VISION_E_NOMEM || st == AV_VISION_E_ENCODE, "call %ld: status %d", n,
                  (int)st);
        CHECK_MSG(err[0] && j == NULL && jn == 0, "call %ld: no message or a stale output", n);
    }
    free(want);
    av_img_free(img);
}

TEST_MAIN(T(bytes_same_for_every_strip_count), T(decodes_to_the_plain_encoders_pixels),
          T(photo_round_trip), T(refuses_what_the_plain_encoder_refuses),
          T(allocation_failures_are_clean))
