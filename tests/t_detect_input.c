/*
 * t_detect_input.c - the detectors' input built in one pass
 * (av_detect__fill_input_tf over av_vision_resize_tf_norm) against the two
 * passes it replaces (av_detect__img_resize_tf to 0..255 floats, letterbox
 * padding, av_detect__fill_input): the same floats, bit for bit, for both
 * layouts, RGB and BGR, plain and mean/std normalisation, stretch and
 * letterbox, shrinking, scale 1 and enlarging, on 1 and several threads,
 * with the AVX2 rows and the scalar ones.
 */
#include "harness.h"
#include "par_fixture.h"

#include "detect/img.h"
#include "detect/tensor.h"
#include "vision/vision_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *noise(int w, int h, unsigned seed)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    CHECK(px);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        seed = seed * 1664525u + 1013904223u;
        px[i] = (uint8_t)(seed >> 24);
    }
    return px;
}

/* The old path of av_detect__det_prepare: resize, spread rows, fill. */
static void two_pass(const av_detect__manifest *m, const av_detect__img *img, int nw, int nh,
                     float *dst)
{
    float *rs = calloc((size_t)m->in_w * m->in_h * 3, sizeof *rs);
    CHECK(rs);
    CHECK(av_detect__img_resize_tf(img, nw, nh, rs) == 0);
    for (int y = nh - 1; y >= 0; y--) {
        memmove(rs + (size_t)y * m->in_w * 3, rs + (size_t)y * nw * 3, (size_t)nw * 3 * 4);
        memset(rs + ((size_t)y * m->in_w + nw) * 3, 0, (size_t)(m->in_w - nw) * 3 * 4);
    }
    memset(rs + (size_t)nh * m->in_w * 3, 0, (size_t)(m->in_h - nh) * m->in_w * 3 * 4);
    av_nn_tensor_info ti = {.dtype = AV_NN_F32, .rank = 4};
    av_detect__fill_input(m, &ti, rs, NULL, dst);
    free(rs);
}

static av_detect__manifest manifest(int in_w, int in_h, int nchw, int bgr, int norm,
                                    int letterbox)
{
    av_detect__manifest m;
    memset(&m, 0, sizeof m);
    m.in_w = in_w;
    m.in_h = in_h;
    m.layout = nchw ? AV_DETECT__NCHW : AV_DETECT__NHWC;
    m.bgr = bgr;
    m.resize = letterbox ? AV_DETECT__LETTERBOX : AV_DETECT__STRETCH;
    static const float mean[3] = {123.675f, 116.28f, 103.53f}, sd[3] = {58.395f, 57.12f, 57.375f};
    for (int c = 0; c < 3; c++) {
        m.mean[c] = norm == 2 ? mean[c] : 0.0f;
        m.std[c] = norm == 2 ? sd[c] : norm == 1 ? 255.0f : 1.0f;
    }
    return m;
}

/* Every variant of one image against the two-pass floats. */
static void compare(const av_detect__manifest *m, const av_detect__img *img)
{
    int nw = m->in_w, nh = m->in_h;
    if (m->resize == AV_DETECT__LETTERBOX) { /* as av_detect__det_prepare */
        double sc = fmin((double)m->in_w / img->w, (double)m->in_h / img->h);
        nw = (int)fmax(1, fmin(m->in_w, round(img->w * sc)));
        nh = (int)fmax(1, fmin(m->in_h, round(img->h * sc)));
    }
    size_t n = (size_t)m->in_w * m->in_h * 3;
    float *want = malloc(n * 4), *got = malloc(n * 4);
    CHECK(want && got);
    two_pass(m, img, nw, nh, want);
    av_image v = {.width = img->w, .height = img->h, .data = (uint8_t *)img->rgb};
    for (int scalar = 0; scalar < 2; scalar++) {
        av_vision__resize_force_scalar(scalar);
        for (int pieces = 0; pieces <= 7; pieces += 7) {
            av_vision_par par = {.run = tp_run_threads, .threads = 2, .strips = pieces};
            for (int use = 0; use < 2; use++) {
                memset(got, 0xAB, n * 4); /* every float must be written */
                CHECK(av_detect__fill_input_tf(m, &v, nw, nh, use ? &par : NULL, got) == 0);
                CHECK_MSG(memcmp(got, want, n * 4) == 0,
                          "%dx%d -> %dx%d (in %dx%d %s%s std %g%s): floats differ (scalar %d, "
                          "par %d, pieces %d)",
                          img->w, img->h, nw, nh, m->in_w, m->in_h,
                          m->layout == AV_DETECT__NCHW ? "NCHW" : "NHWC", m->bgr ? " BGR" : "",
                          m->std[0], m->resize == AV_DETECT__LETTERBOX ? " letterbox" : "",
                          scalar, use, pieces);
            }
        }
    }
    av_vision__resize_force_scalar(0);
    free(want);
    free(got);
}

TEST(one_pass_equals_two_passes)
{
    static const int sizes[][2] = {{300, 200}, {37, 91}, {64, 48}, {20, 10}, {1, 1}, {65, 49}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint8_t *px = noise(sizes[s][0], sizes[s][1], 7u + (unsigned)s);
        av_detect__img img = av_detect__img_wrap(sizes[s][0], sizes[s][1], px);
        for (int variant = 0; variant < 16; variant++) {
            int nchw = variant & 1, bgr = variant >> 1 & 1, letterbox = variant >> 2 & 1;
            int norm = (variant >> 3) ? 2 : nchw; /* NHWC 0..255, NCHW 0..1, or mean/std */
            av_detect__manifest m = manifest(64, 48, nchw, bgr, norm, letterbox);
            compare(&m, &img);
        }
        free(px);
    }
}

TEST(centernet_and_nanodet_sizes_on_a_photo_sized_image)
{
    uint8_t *px = noise(1024, 1858, 3u);
    av_detect__img img = av_detect__img_wrap(1024, 1858, px);
    av_detect__manifest cn = manifest(512, 512, 0, 0, 0, 0);
    av_detect__manifest nd = manifest(416, 416, 1, 0, 1, 0);
    compare(&cn, &img);
    compare(&nd, &img);
    free(px);
}

TEST(refuses_bad_sizes)
{
    uint8_t px[12] = {0};
    av_image v = {.width = 2, .height = 2, .data = px};
    av_detect__manifest m = manifest(4, 4, 0, 0, 0, 0);
    float out[4 * 4 * 3];
    CHECK(av_detect__fill_input_tf(&m, &v, 5, 4, NULL, out) == -1); /* wider than the input */
    CHECK(av_detect__fill_input_tf(&m, &v, 0, 4, NULL, out) == -1);
    av_vision_tf_norm nm = {.mean = {0, 0, 0}, .std = {1, 1, 1}, .src = {0, 1, 3}};
    CHECK(av_vision_resize_tf_norm(&v, 4, 4, &nm, NULL, out) == AV_VISION_E_ARG);
    nm.src[2] = 2;
    CHECK(av_vision_resize_tf_norm(&v, 4, 4, &nm, NULL, out) == AV_VISION_OK);
    CHECK(av_vision_resize_tf_norm(NULL, 4, 4, &nm, NULL, out) == AV_VISION_E_ARG);
}

TEST_MAIN(T(one_pass_equals_two_passes), T(centernet_and_nanodet_sizes_on_a_photo_sized_image),
          T(refuses_bad_sizes))
