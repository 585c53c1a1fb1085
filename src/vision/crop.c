/*
 * crop.c - regions of an image: the square-with-margin region around a
 * detection (the species classifier wants some context around the bird and
 * an undistorted aspect ratio), integer crops, and crop+resize in one step.
 */
#include <math.h>
#include <string.h>

#include "vision/vision_int.h"

/* Place an interval of length len centred at c inside [0, size]. */
static void fit_interval(double c, double len, int size, double *lo, double *hi)
{
    if (len >= size) {
        *lo = 0;
        *hi = size;
        return;
    }
    double a = c - len / 2;
    if (a < 0)
        a = 0;
    if (a + len > size)
        a = size - len;
    *lo = a;
    *hi = a + len;
}

av_vision_status av_vision_square_crop_rect(int img_w, int img_h, double x1, double y1, double x2,
                                            double y2, double margin, av_vision_rect *out)
{
    if (!out || img_w < 1 || img_h < 1 || !isfinite(x1) || !isfinite(y1) || !isfinite(x2) ||
        !isfinite(y2) || !isfinite(margin) || margin < 0)
        return AV_VISION_E_ARG;
    if (x2 < x1) {
        double t = x1; x1 = x2; x2 = t;
    }
    if (y2 < y1) {
        double t = y1; y1 = y2; y2 = t;
    }
    /* Only the part of the box inside the image counts. */
    if (x1 < 0) x1 = 0;
    if (y1 < 0) y1 = 0;
    if (x2 > img_w) x2 = img_w;
    if (y2 > img_h) y2 = img_h;
    if (x2 <= x1 || y2 <= y1)
        return AV_VISION_E_ARG;

    double side = fmax(x2 - x1, y2 - y1) * (1.0 + 2.0 * margin);
    if (side < 1.0)
        side = 1.0;
    double cx = (x1 + x2) / 2, cy = (y1 + y2) / 2;
    double ax, bx, ay, by;
    fit_interval(cx, side, img_w, &ax, &bx);
    fit_interval(cy, side, img_h, &ay, &by);
    out->x0 = (float)ax;
    out->x1 = (float)bx;
    out->y0 = (float)ay;
    out->y1 = (float)by;
    /* float rounding must not push the rect outside the image */
    if (out->x1 > (float)img_w) out->x1 = (float)img_w;
    if (out->y1 > (float)img_h) out->y1 = (float)img_h;
    if (out->x0 < 0) out->x0 = 0;
    if (out->y0 < 0) out->y0 = 0;
    return AV_VISION_OK;
}

av_vision_status av_vision_crop(const av_image *src, int x, int y, int w, int h, av_image **out,
                                char *err, size_t errlen)
{
    if (!out)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "crop: NULL output");
    *out = NULL;
    if (!src || !src->data)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "crop: NULL image");
    long long x0 = x, y0 = y, x1 = (long long)x + w, y1 = (long long)y + h;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > src->width) x1 = src->width;
    if (y1 > src->height) y1 = src->height;
    if (w <= 0 || h <= 0 || x1 <= x0 || y1 <= y0)
        return av_vision__err(err, errlen, AV_VISION_E_ARG,
                              "crop: region %d,%d %dx%d is outside the %dx%d image", x, y, w, h,
                              src->width, src->height);
    av_image *img = av_vision__img_alloc((int)(x1 - x0), (int)(y1 - y0));
    if (!img)
        return av_vision__err(err, errlen, AV_VISION_E_NOMEM, "crop: out of memory");
    size_t rb = (size_t)img->width * 3;
    for (int r = 0; r < img->height; r++)
        memcpy(img->data + (size_t)r * rb,
               src->data + (((size_t)(y0 + r)) * (size_t)src->width + (size_t)x0) * 3, rb);
    *out = img;
    return AV_VISION_OK;
}

av_vision_status av_vision_crop_resize(const av_image *src, double x1, double y1, double x2,
                                       double y2, double margin, int out_w, int out_h,
                                       av_image **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!src || !src->data)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "crop: NULL image");
    av_vision_rect r;
    if (av_vision_square_crop_rect(src->width, src->height, x1, y1, x2, y2, margin, &r) !=
        AV_VISION_OK)
        return av_vision__err(err, errlen, AV_VISION_E_ARG,
                              "crop: box (%g,%g)-(%g,%g) margin %g does not overlap the %dx%d image",
                              x1, y1, x2, y2, margin, src->width, src->height);
    return av_vision_resize_pil_box(src, &r, out_w, out_h, out, err, errlen);
}
