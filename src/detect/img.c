/*
 * img.c - the pipeline's image operations (img.h) on top of src/vision.
 *
 * NOT FINISHED: src/vision (decode, TF1-bilinear and area resize, crop,
 * draw, encode) had not landed when this was written, so every operation
 * reports that it is unavailable instead of guessing vision's API. Wiring it
 * is six small functions once src/vision/vision.h exists.
 */
#include "detect/img.h"

#include <stdio.h>
#include <string.h>

#define NO_VISION "image support unavailable: src/vision is not built into this version"

av_detect_status av_detect__img_decode(const void *bytes, size_t len, long long max_bytes,
                                       long long max_pixels, av_detect__img *img, char *err,
                                       size_t errlen)
{
    (void)bytes, (void)max_pixels;
    memset(img, 0, sizeof *img);
    if (max_bytes > 0 && (long long)len > max_bytes) {
        snprintf(err, errlen, "image: %zu bytes, limit is %lld", len, max_bytes);
        return AV_DETECT_E_LIMIT;
    }
    if (len == 0) {
        snprintf(err, errlen, "image: empty (0 bytes)");
        return AV_DETECT_E_IMAGE;
    }
    snprintf(err, errlen, "%s", NO_VISION);
    return AV_DETECT_E_IMAGE;
}

void av_detect__img_free(av_detect__img *img)
{
    memset(img, 0, sizeof *img);
}

av_detect__img av_detect__img_wrap(int w, int h, const uint8_t *rgb)
{
    return (av_detect__img){.w = w, .h = h, .rgb = rgb};
}

int av_detect__img_resize_tf(const av_detect__img *img, int out_w, int out_h, float *out)
{
    (void)img, (void)out_w, (void)out_h, (void)out;
    return -1;
}

int av_detect__img_crop_area(const av_detect__img *img, int x1, int y1, int x2, int y2,
                             int out_w, int out_h, uint8_t *out)
{
    (void)img, (void)x1, (void)y1, (void)x2, (void)y2, (void)out_w, (void)out_h, (void)out;
    return -1;
}

av_detect_status av_detect__img_annotate(const av_detect__img *img, const av_detect_det *dets,
                                         int n, unsigned char **out, size_t *len, char *mime,
                                         size_t mimecap, char *err, size_t errlen)
{
    (void)img, (void)dets, (void)n, (void)mime, (void)mimecap;
    *out = NULL;
    *len = 0;
    snprintf(err, errlen, "%s", NO_VISION);
    return AV_DETECT_E_IMAGE;
}
