/*
 * t_vision_tf_rows.c - the AVX2 rows of the detectors' TF1 bilinear resize
 * (resize_x86.c) load each pixel's 3 bytes as 4 without a bound check on
 * rows whose farthest load stays inside the image (all but the last): the
 * floats equal the scalar resize's and those of the every-load-checked
 * rows, for the plain resize (both layouts, with and without a divisor) and
 * the normalised one (mean, std, channel order, a tensor larger than the
 * picture). The pixels lie in a buffer of exactly w * h * 3 bytes, so
 * under ASan a load past the image's end is reported.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "vision/vision.h"
#include "vision/vision_int.h"

static unsigned g_seed = 99;

static unsigned rnd(void)
{
    g_seed = g_seed * 1103515245u + 12345u;
    return g_seed >> 8;
}

/* Random pixels in an exact-size buffer (freed by the caller with free). */
static av_image exact_image(int w, int h)
{
    size_t n = (size_t)w * h * 3;
    uint8_t *px = malloc(n);
    CHECK(px != NULL);
    for (size_t k = 0; k < n; k++)
        px[k] = (uint8_t)(rnd() >> 5);
    return (av_image){.width = w, .height = h, .data = px};
}

static const int g_dims[][4] = {{1024, 1858, 512, 512}, {61, 97, 416, 416}, {640, 9, 7, 13},
                                {1, 1, 3, 2},           {5, 3, 1, 1},       {3, 700, 320, 2},
                                {333, 2, 333, 2}};

TEST(plain_rows_match_scalar_and_checked)
{
    for (size_t d = 0; d < sizeof g_dims / sizeof g_dims[0]; d++) {
        int w = g_dims[d][0], h = g_dims[d][1], ow = g_dims[d][2], oh = g_dims[d][3];
        av_image img = exact_image(w, h);
        size_t n = (size_t)ow * oh * 3;
        float *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
        CHECK(want && got);
        for (int v = 0; v < 4; v++) {
            av_vision_layout lay = v % 2 ? AV_VISION_NCHW : AV_VISION_NHWC;
            float div = v / 2 ? 255.0f : 1.0f;
            av_vision__resize_force_scalar(1);
            CHECK(av_vision_resize_tf_bilinear_ex(&img, ow, oh, div, lay, want) == AV_VISION_OK);
            av_vision__resize_force_scalar(0);
            for (int checked = 0; checked < 2; checked++) {
                av_vision__tf_force_checked(checked);
                memset(got, 0xff, n * sizeof *got); /* NaNs: a value not written shows */
                CHECK(av_vision_resize_tf_bilinear_ex(&img, ow, oh, div, lay, got) ==
                      AV_VISION_OK);
                CHECK_MSG(memcmp(want, got, n * sizeof *got) == 0,
                          "%dx%d to %dx%d, layout %d, divisor %g, checked %d", w, h, ow, oh,
                          (int)lay, div, checked);
            }
            av_vision__tf_force_checked(0);
        }
        free(want);
        free(got);
        free(img.data);
    }
}

TEST(normalised_rows_match_scalar_and_checked)
{
    for (size_t d = 0; d < sizeof g_dims / sizeof g_dims[0]; d++) {
        int w = g_dims[d][0], h = g_dims[d][1], ow = g_dims[d][2], oh = g_dims[d][3];
        av_image img = exact_image(w, h);
        for (int v = 0; v < 6; v++) {
            /* v 0, 1: mean 0 and one std (the plain row); 2..5: the normalised row */
            av_vision_tf_norm nm = {.layout = v % 2 ? AV_VISION_NCHW : AV_VISION_NHWC,
                                    .tensor_w = v >= 4 ? ow + 3 : 0,
                                    .tensor_h = v >= 4 ? oh + 1 : 0};
            for (int c = 0; c < 3; c++) {
                nm.src[c] = v >= 2 ? 2 - c : c;
                nm.mean[c] = v >= 2 ? 100.0f + 10.0f * (float)c : 0.0f;
                nm.std[c] = v >= 2 ? 50.0f + 7.0f * (float)c : 255.0f;
            }
            int tw = nm.tensor_w ? nm.tensor_w : ow, th = nm.tensor_h ? nm.tensor_h : oh;
            size_t n = (size_t)tw * th * 3;
            float *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
            CHECK(want && got);
            memset(want, 0, n * sizeof *want); /* the tensor's margin is not written */
            av_vision__resize_force_scalar(1);
            CHECK(av_vision_resize_tf_norm(&img, ow, oh, &nm, NULL, want) == AV_VISION_OK);
            av_vision__resize_force_scalar(0);
            for (int checked = 0; checked < 2; checked++) {
                av_vision__tf_force_checked(checked);
                memset(got, 0, n * sizeof *got);
                CHECK(av_vision_resize_tf_norm(&img, ow, oh, &nm, NULL, got) == AV_VISION_OK);
                CHECK_MSG(memcmp(want, got, n * sizeof *got) == 0,
                          "%dx%d to %dx%d, variant %d, checked %d", w, h, ow, oh, v, checked);
            }
            av_vision__tf_force_checked(0);
            free(want);
            free(got);
        }
        free(img.data);
    }
}

TEST_MAIN(T(plain_rows_match_scalar_and_checked), T(normalised_rows_match_scalar_and_checked))
