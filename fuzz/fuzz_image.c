/*
 * fuzz_image.c - libFuzzer target: decode arbitrary bytes with small
 * limits (so the fuzzer explores parsers, not allocators), and on success
 * push the pixels through the other operations a request would apply.
 * JPEGs are also decoded in parts (jpeg_par.c, as with threads lent) and
 * by tjDecompress2, both into zeroed pixels: a different verdict, message
 * or pixel is a bug (abort). (Zeroed: TurboJPEG accepts an image whose
 * error came after a warning, with the rows after the error unwritten.)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

#include "vision/vision.h"
#include "vision/vision_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The parts taken in turn, last first (each takes its own rows) or in
 * order (the first decodes them all): the same bytes either way. */
static void run_reversed(void *pool, av_vision_task_fn task, void *ctx, size_t n)
{
    (void)pool;
    for (size_t i = n; i-- > 0;)
        task(ctx, i);
}

static void run_forward(void *pool, av_vision_task_fn task, void *ctx, size_t n)
{
    (void)pool;
    for (size_t i = 0; i < n; i++)
        task(ctx, i);
}

static void jpeg_parts_same(const uint8_t *data, size_t size)
{
    tjhandle tj = tjInitDecompress();
    int w = 0, h = 0, ss = 0, cs = 0;
    if (!tj || tjDecompressHeader3(tj, data, (unsigned long)size, &w, &h, &ss, &cs) != 0 ||
        w < 1 || h < 1 || (long long)w * h > (1 << 20)) {
        if (tj)
            tjDestroy(tj);
        return;
    }
    int denom = 1 << (size % 4), cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    tjscalingfactor sf = {1, denom};
    w = TJSCALED(w, sf);
    h = TJSCALED(h, sf);
    size_t bytes = (size_t)w * h * (cmyk ? 4 : 3);
    uint8_t *a = calloc(bytes, 1), *b = calloc(bytes, 1);
    if (a && b) {
        av_vision__jpeg_verdict va, vb;
        memset(&va, 0, sizeof va);
        if (tjDecompress2(tj, data, (unsigned long)size, a, w, 0, h, cmyk ? TJPF_CMYK : TJPF_RGB,
                          TJFLAG_LIMITSCANS) != 0) {
            va.warned = tjGetErrorCode(tj) == TJERR_WARNING;
            va.failed = !va.warned;
            strncpy(va.msg, tjGetErrorStr2(tj), sizeof va.msg - 1);
        }
        av_vision_par par = {.run = size / 16 % 2 ? run_forward : run_reversed,
                             .threads = 2 + (int)(size / 4 % 3)};
        if (av_vision__jpeg_decode_par(data, size, denom, cmyk, &par, b, w, h, &vb)) {
            if ((va.failed || va.warned) != (vb.failed || vb.warned) || va.warned != vb.warned ||
                strcmp(va.msg, vb.msg) != 0 || memcmp(a, b, bytes) != 0)
                abort();
        }
    }
    free(a);
    free(b);
    tjDestroy(tj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    av_vision_decode_opts o = {.limits = {.max_bytes = 1 << 20, .max_pixels = 1 << 20}};
    /* The first byte steers reduce-on-decode so the scaled JPEG paths get fuzzed too. */
    if (size > 0 && (data[0] & 1))
        o.min_long_side = 8;
    if (size >= 2 && data[0] == 0xFF && data[1] == 0xD8)
        jpeg_parts_same(data, size);
    av_image *img = NULL;
    if (av_vision_decode(data, size, &o, &img, NULL, err, sizeof err) != AV_VISION_OK)
        return 0;

    av_image *r = NULL;
    if (av_vision_resize_pil(img, 17, 13, &r, NULL, 0) == AV_VISION_OK)
        av_img_free(r);
    float t[9 * 7 * 3];
    av_vision_resize_tf_bilinear_f32(img, 9, 7, t);
    av_vision_box b = {-5, 1, img->width / 2.0, img->height + 3.0, {255, 0, 0}, NULL};
    av_vision_draw_boxes(img, &b, 1, NULL);
    unsigned char *png = NULL;
    size_t len = 0;
    if (av_vision_encode_png(img, &png, &len, NULL, 0) == AV_VISION_OK)
        free(png);
    av_img_free(img);
    return 0;
}
