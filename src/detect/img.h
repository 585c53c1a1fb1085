/*
 * img.h - the few image operations the pipeline needs (internal to
 * src/detect), implemented in img.c on top of src/vision.
 */
#ifndef AV_DETECT_IMG_H
#define AV_DETECT_IMG_H

#include <stddef.h>
#include <stdint.h>

#include "detect/detect.h"
#include "nn/nn.h"
#include "vision/vision.h"

typedef struct av_detect__img {
    int w, h;
    const uint8_t *rgb; /* w*h*3, rows packed; borrowed from `owner` */
    void *owner;        /* the vision image; freed by av_detect__img_free */
    int png;            /* 1 when decoded from PNG (annotate as PNG) */
    int drawable;       /* 1: owned pixels nobody reads after the annotation, which
                         * then draws on them instead of on a copy (set by callers) */
} av_detect__img;

/* Decode bytes (any format vision reads, EXIF-upright) within the limits.
 * On success *img owns the pixels (free with av_detect__img_free). */
av_detect_status av_detect__img_decode(const void *bytes, size_t len, long long max_bytes,
                                       long long max_pixels, av_detect__img *img, char *err,
                                       size_t errlen);
/* The same with a big JPEG's decode split across par's threads (NULL:
 * the calling thread; the pixels and errors are the same either way). */
av_detect_status av_detect__img_decode_on(const void *bytes, size_t len, long long max_bytes,
                                          long long max_pixels, const av_vision_par *par,
                                          av_detect__img *img, char *err, size_t errlen);
void av_detect__img_free(av_detect__img *img);

/* Wrap caller pixels (not owned; free is a no-op for them). */
av_detect__img av_detect__img_wrap(int w, int h, const uint8_t *rgb);

/* TF1 bilinear resize (alignCorners=false, halfPixelCenters=false) of the
 * whole image to out_w x out_h, NHWC float 0..255 into out. 0 or -1. */
int av_detect__img_resize_tf(const av_detect__img *img, int out_w, int out_h, float *out);

/* Crop [x1,y1,x2,y2] (clamped) and area-resize to out_w x out_h RGB8 into
 * out. 0 or -1. */
int av_detect__img_crop_area(const av_detect__img *img, int x1, int y1, int x2, int y2,
                             int out_w, int out_h, uint8_t *out);
/* The same in bands of output rows on pool's threads (NULL: this one), the
 * same bytes: a species crop of a large photo took ~2 ms of one thread. */
#define AV_DETECT__CROP_BANDS_MAX 16
int av_detect__img_crop_area_on(const av_detect__img *img, int x1, int y1, int x2, int y2,
                                int out_w, int out_h, uint8_t *out, av_nn_pool *pool);

/* Draw every detection (box + "label 93%") on a copy of the image (on the
 * image itself when img->drawable) and encode it (PNG when img->png, else
 * JPEG q90 with a restart per MCU row, av_vision_encode_jpeg_par, its
 * strips on par's threads; par may be NULL). *out is malloc'd, caller
 * frees. */
av_detect_status av_detect__img_annotate(const av_detect__img *img, const av_detect_det *dets,
                                         int n, const av_vision_par *par, unsigned char **out,
                                         size_t *len, char *mime, size_t mimecap, char *err,
                                         size_t errlen);

#endif
