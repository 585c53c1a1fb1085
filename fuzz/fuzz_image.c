/*
 * fuzz_image.c - libFuzzer target: decode arbitrary bytes with small
 * limits (so the fuzzer explores parsers, not allocators), and on success
 * push the pixels through the other operations a request would apply.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vision/vision.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    av_vision_decode_opts o = {.limits = {.max_bytes = 1 << 20, .max_pixels = 1 << 20}};
    /* The first byte steers reduce-on-decode so the scaled JPEG paths get fuzzed too. */
    if (size > 0 && (data[0] & 1))
        o.min_long_side = 8;
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
