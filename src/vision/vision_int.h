/*
 * vision_int.h - internals shared by the files of src/vision: the error
 * formatter and the per-format probe/decode entry points that decode.c
 * dispatches to. Not part of the public API.
 */
#ifndef AV_VISION_INT_H
#define AV_VISION_INT_H

#include <stddef.h>
#include <stdint.h>

#include "vision/vision.h"

/* Write "image: <fmt...>" into err (if non-NULL) and return st. */
av_vision_status av_vision__err(char *err, size_t errlen, av_vision_status st, const char *fmt,
                                ...) __attribute__((format(printf, 4, 5)));

/* The JPEG encoders' shared argument checks: *buf NULL and *len 0, an image
 * JPEG can hold, *quality clamped to 1..100 (<= 0: 90). AV_VISION_OK or an
 * argument error in err. */
av_vision_status av_vision__encode_jpeg_args(const av_image *img, int *quality,
                                             unsigned char **buf, size_t *len, char *err,
                                             size_t errlen);

/*
 * Allocate an image without zeroing its pixels (the decoder overwrites every
 * byte). NULL on bad size or out of memory; free with av_img_free.
 */
av_image *av_vision__img_alloc(int w, int h);

/*
 * AVX2 passes of the Pillow resize (resize_x86.c), the same integer sums as
 * resize.c's scalar ones. av_vision__resize_simd says whether they run here
 * (CPU has AVX2, not forced off); force_scalar(1) turns them off (tests
 * compare both). resample_h_simd returns -1 when out of memory.
 */
int av_vision__resize_simd(void);
void av_vision__resize_force_scalar(int on);
/* Rows per chunk of the AVX2 horizontal pass (the same bytes for any;
 * tests try several); 0: back to AV_VISION_RESIZE_H_CHUNK or the default 8. */
void av_vision__resize_h_chunk(int rows);
/* 1: the AVX2 vertical pass without its 32-byte register blocks (the same
 * bytes; tests compare, AV_VISION_RESIZE_V_PLAIN=1 for benches); 0: back. */
void av_vision__resize_v_plain(int on);
int av_vision__resize_v_blocks(void);
int av_vision__resample_h_simd(uint8_t *dst, int out_w, const uint8_t *src, int in_w, int in_h,
                               int row0, int nrows, int ksize, const int *bounds,
                               const int32_t *kk);
void av_vision__resample_v_simd(uint8_t *dst, int w, int out_h, const uint8_t *src, int ksize,
                                const int *bounds, const int32_t *kk, int32_t *acc);
/* One output row of resize.c's TF1 bilinear resize: x0 holds byte offsets
 * (2 per output pixel), end bounds the source; value c, channel ch goes to
 * o[c * step + ch * (plane ? plane : 1)] (NHWC: step 3, plane 0). */
/* The same row with the detectors' normalisation (av_vision_resize_tf_norm):
 * output channel k = (v[src[k]] - mean[k]) / sd[k] in float32. */
void av_vision__tf_row_norm_simd(const uint8_t *top, const uint8_t *bot, const uint8_t *end,
                                 const int *x0, const double *fx, int out_w, double fy,
                                 const float mean[3], const float sd[3], const int src[3],
                                 float *o, size_t step, size_t plane);
/* 1: the TF rows check every 4-byte load against end, as on the image's
 * last row (tests compare; AV_VISION_TF_CHECKED=1 does it for benches);
 * 0: only rows whose farthest load could pass end are checked. */
void av_vision__tf_force_checked(int on);
void av_vision__tf_row_simd(const uint8_t *top, const uint8_t *bot, const uint8_t *end,
                            const int *x0, const double *fx, int out_w, double fy, float divisor,
                            float *o, size_t step, size_t plane);

/* Little/big-endian reads from a byte buffer the caller bounds-checked. */
static inline uint32_t av_vision__le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint16_t av_vision__le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint16_t av_vision__be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Per format: probe fills info->src_width/src_height (and orientation where
 * the format carries EXIF) from the header without decoding pixels; decode
 * decodes at full size (JPEG: reduced by scale_denom) into a new image.
 * Both get data whose magic bytes matched the format and n <= the byte limit.
 */
av_vision_status av_vision__jpeg_probe(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                       char *err, size_t errlen);
av_vision_status av_vision__jpeg_decode(const uint8_t *d, size_t n, int scale_denom,
                                        const av_vision_par *par, av_vision_decode_info *info,
                                        av_image **out, char *err, size_t errlen);

/* How a JPEG decode ended, as TurboJPEG reports it: failed (an error
 * stopped it), warned (a warning came, sticky), msg (the first warning's
 * text, or the error's). */
typedef struct av_vision__jpeg_verdict {
    int failed, warned;
    char msg[200]; /* JMSG_LENGTH_MAX */
} av_vision__jpeg_verdict;

/* Smallest output (pixels) decoded on several threads: below it the
 * threads' start-up costs more than they save. */
#define AV_VISION__JPEG_PAR_MIN_PX 500000

/*
 * Decode a sequential JPEG at 1/scale_denom (w x h output, as TurboJPEG
 * scales) into dst (RGB, or CMYK as libjpeg returns it when cmyk) in
 * horizontal parts on par's threads (jpeg_par.c), byte for byte what
 * tjDecompress2 writes, whatever its size (the caller keeps small images
 * on one thread: AV_VISION__JPEG_PAR_MIN_PX). 0: declined (no threads, a
 * progressive or multi-scan file, an unreadable header): decode on one
 * thread. 1: done, *v says how it ended.
 */
int av_vision__jpeg_decode_par(const uint8_t *d, size_t n, int scale_denom, int cmyk,
                               const av_vision_par *par, uint8_t *dst, int w, int h,
                               av_vision__jpeg_verdict *v);

av_vision_status av_vision__png_probe(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                      char *err, size_t errlen);
av_vision_status av_vision__png_decode(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                       av_image **out, char *err, size_t errlen);

av_vision_status av_vision__webp_probe(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                       char *err, size_t errlen);
av_vision_status av_vision__webp_decode(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                        av_image **out, char *err, size_t errlen);

av_vision_status av_vision__bmp_probe(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                      char *err, size_t errlen);
av_vision_status av_vision__bmp_decode(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                       av_image **out, char *err, size_t errlen);

/*
 * EXIF orientation (1..8) from an EXIF block that starts either with
 * "Exif\0\0" (JPEG APP1 payload) or directly with the TIFF header (WebP
 * EXIF chunk). 1 when absent, unreadable or out of range.
 */
int av_vision__exif_orientation(const uint8_t *d, size_t n);

/*
 * Composite n RGBA8 pixels onto white, writing RGB8 to dst. dst may equal
 * src (in-place compaction works because dst runs behind src).
 */
void av_vision__flatten_rgba(uint8_t *dst, const uint8_t *src, size_t n);

#endif
