/*
 * img.c - the pipeline's image operations (img.h) on top of src/vision.
 *
 * Images are decoded at full size (EXIF orientation applied) so boxes are
 * reported in the pixels of the upright original. The label font is opened
 * once per process; without it boxes are still drawn, without text.
 */
#include "detect/img.h"

#include "log/log.h"
#include "vision/vision.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static av_detect_status from_vision(av_vision_status st)
{
    switch (st) {
    case AV_VISION_OK: return AV_DETECT_OK;
    case AV_VISION_E_LIMIT: return AV_DETECT_E_LIMIT;
    case AV_VISION_E_NOMEM: return AV_DETECT_E_NOMEM;
    default: return AV_DETECT_E_IMAGE;
    }
}

av_detect_status av_detect__img_decode(const void *bytes, size_t len, long long max_bytes,
                                       long long max_pixels, av_detect__img *img, char *err,
                                       size_t errlen)
{
    return av_detect__img_decode_on(bytes, len, max_bytes, max_pixels, NULL, img, err, errlen);
}

av_detect_status av_detect__img_decode_on(const void *bytes, size_t len, long long max_bytes,
                                          long long max_pixels, const av_vision_par *par,
                                          av_detect__img *img, char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    av_vision_decode_opts o;
    memset(&o, 0, sizeof o);
    o.limits.max_bytes = max_bytes;
    o.limits.max_pixels = max_pixels;
    o.par = par;
    av_image *im = NULL;
    av_vision_decode_info info;
    av_vision_status st = av_vision_decode(bytes, len, &o, &im, &info, err, errlen);
    if (st != AV_VISION_OK)
        return from_vision(st);
    img->w = im->width;
    img->h = im->height;
    img->rgb = im->data;
    img->owner = im;
    img->png = info.format == AV_VISION_FMT_PNG;
    return AV_DETECT_OK;
}

void av_detect__img_free(av_detect__img *img)
{
    av_img_free(img->owner);
    memset(img, 0, sizeof *img);
}

av_detect__img av_detect__img_wrap(int w, int h, const uint8_t *rgb)
{
    return (av_detect__img){.w = w, .h = h, .rgb = rgb};
}

/* A read-only vision view of the pixels (never freed through vision). */
static av_image view(const av_detect__img *img)
{
    return (av_image){.width = img->w, .height = img->h, .data = (uint8_t *)img->rgb};
}

int av_detect__img_resize_tf(const av_detect__img *img, int out_w, int out_h, float *out)
{
    if (out_w == img->w && out_h == img->h) { /* the zoom-out canvas: TF bilinear at scale 1
                                               * reads each pixel as it is */
        size_t n = (size_t)out_w * out_h * 3;
        for (size_t i = 0; i < n; i++)
            out[i] = img->rgb[i];
        return 0;
    }
    av_image v = view(img);
    return av_vision_resize_tf_bilinear_f32(&v, out_w, out_h, out) == AV_VISION_OK ? 0 : -1;
}

/* One band of a crop (crop_band below). */
typedef struct crop_job {
    av_image v;
    av_vision_rect r;
    int out_w, out_h, bands;
    uint8_t *out;
    int failed[AV_DETECT__CROP_BANDS_MAX];
} crop_job;

static void crop_band(void *ctx, size_t i)
{
    crop_job *j = ctx;
    int r0 = (int)((long long)j->out_h * (long long)i / j->bands);
    int r1 = (int)((long long)j->out_h * (long long)(i + 1) / j->bands);
    char err[128];
    j->failed[i] = r1 > r0 && av_vision_resize_pil_box_rows(&j->v, &j->r, j->out_w, j->out_h, r0,
                                                           r1, j->out, err, sizeof err) !=
                                  AV_VISION_OK;
}

int av_detect__img_crop_area_on(const av_detect__img *img, int x1, int y1, int x2, int y2,
                                int out_w, int out_h, uint8_t *out, av_nn_pool *pool)
{
    if (x1 < 0) x1 = 0;
    if (y1 < 0) y1 = 0;
    if (x2 > img->w) x2 = img->w;
    if (y2 > img->h) y2 = img->h;
    if (x2 <= x1 || y2 <= y1 || out_h < 1)
        return -1;
    /* two bands a thread: a band whose thread is late is shared out */
    int threads = av_nn_pool_threads(pool), bands = threads > 1 ? 2 * threads : 1;
    if (bands > AV_DETECT__CROP_BANDS_MAX)
        bands = AV_DETECT__CROP_BANDS_MAX;
    if (bands > out_h)
        bands = out_h;
    crop_job j = {.v = view(img), .r = {(float)x1, (float)y1, (float)x2, (float)y2},
                  .out_w = out_w, .out_h = out_h, .bands = bands, .out = out};
    if (bands > 1)
        av_nn_pool_for(pool, crop_band, &j, (size_t)bands);
    else
        crop_band(&j, 0);
    for (int i = 0; i < bands; i++)
        if (j.failed[i])
            return -1;
    return 0;
}

int av_detect__img_crop_area(const av_detect__img *img, int x1, int y1, int x2, int y2,
                             int out_w, int out_h, uint8_t *out)
{
    return av_detect__img_crop_area_on(img, x1, y1, x2, y2, out_w, out_h, out, NULL);
}

static pthread_once_t g_font_once = PTHREAD_ONCE_INIT;
static av_vision_font *g_font;

static void open_font(void)
{
    char err[256];
    if (av_vision_font_open(NULL, &g_font, err, sizeof err) != AV_VISION_OK)
        av_log(AV_LOG_WARN, "font_unavailable", "error", err, "effect",
               "boxes are drawn without labels", NULL);
}

av_detect_status av_detect_draw(av_image *img, const av_detect_det *dets, int n, double scale,
                                av_detect_color_fn color, av_vision_font *font, char *err,
                                size_t errlen)
{
    if (!img || n < 0 || (n > 0 && !dets)) {
        snprintf(err, errlen, "draw: invalid image or detections");
        return AV_DETECT_E_ARG;
    }
    av_vision_box *boxes = n > 0 ? calloc((size_t)n, sizeof *boxes) : NULL;
    char(*labels)[AV_DETECT_NAME_MAX + 16] = n > 0 ? calloc((size_t)n, sizeof *labels) : NULL;
    if (n > 0 && (!boxes || !labels)) {
        free(boxes);
        free(labels);
        snprintf(err, errlen, "annotate: out of memory");
        return AV_DETECT_E_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        const av_detect_det *d = &dets[i];
        snprintf(labels[i], sizeof labels[i], "%s %.0f%%", d->label, d->confidence * 100.0);
        boxes[i] = (av_vision_box){.x1 = d->x1 * scale, .y1 = d->y1 * scale,
                                   .x2 = d->x2 * scale, .y2 = d->y2 * scale,
                                   .color = color ? color(d, i) : av_vision_palette(i),
                                   .label = labels[i]};
    }
    av_vision_status st = av_vision_draw_boxes(img, boxes, (size_t)n, font);
    free(boxes);
    free(labels);
    if (st != AV_VISION_OK)
        snprintf(err, errlen, "annotate: %s", av_vision_strerror(st));
    return from_vision(st);
}

av_detect_status av_detect__img_annotate(const av_detect__img *img, const av_detect_det *dets,
                                         int n, const av_vision_par *par, unsigned char **out,
                                         size_t *len, char *mime, size_t mimecap, char *err,
                                         size_t errlen)
{
    *out = NULL;
    *len = 0;
    pthread_once(&g_font_once, open_font);
    av_image v = view(img);
    /* the copy is a 5.7 MB memcpy and fresh pages for a 2 Mpx photo */
    av_image *copy = img->drawable && img->owner ? &v : av_img_clone(&v);
    if (!copy) {
        snprintf(err, errlen, "annotate: out of memory");
        return AV_DETECT_E_NOMEM;
    }
    av_detect_status st = av_detect_draw(copy, dets, n, 1.0, NULL, g_font, err, errlen);
    if (st == AV_DETECT_OK) {
        av_vision_status vs = img->png ? av_vision_encode_png(copy, out, len, err, errlen)
                                       : av_vision_encode_jpeg_par(copy, 90, par, out, len, err,
                                                                   errlen);
        st = from_vision(vs);
    }
    snprintf(mime, mimecap, "%s", img->png ? "image/png" : "image/jpeg");
    if (copy != &v)
        av_img_free(copy);
    return st;
}

av_detect_status av_detect_annotate(const void *image, size_t len, const av_detect_det *dets,
                                    int n, long long max_bytes, long long max_pixels,
                                    unsigned char **out, size_t *outlen, char *mime,
                                    size_t mimecap, char *err, size_t errlen)
{
    *out = NULL;
    *outlen = 0;
    if (n < 0 || (n > 0 && !dets)) {
        snprintf(err, errlen, "annotate: invalid detections");
        return AV_DETECT_E_ARG;
    }
    av_detect__img img;
    av_detect_status st = av_detect__img_decode(image, len, max_bytes, max_pixels, &img, err,
                                                errlen);
    if (st)
        return st;
    img.drawable = 1; /* freed right after */
    st = av_detect__img_annotate(&img, dets, n, NULL, out, outlen, mime, mimecap, err, errlen);
    av_detect__img_free(&img);
    return st;
}
