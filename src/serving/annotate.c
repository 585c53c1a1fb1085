/*
 * annotate.c - client side: the image's upright size and the annotated
 * copy the web app shows, drawn here because a TF Serving answer carries
 * boxes, not pictures, with the pipeline's own drawing (av_detect_draw),
 * encoded as the pipeline does (PNG for PNG input, else JPEG 90 with
 * restart markers, av_vision_encode_jpeg_par: the same bytes).
 */
#include "serving/internal.h"

#include "vision/vision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

av_serving_status av_serving__finish(const void *image, size_t len, long long max_bytes,
                                     long long max_pixels, int scaled, int draw,
                                     av_vision_font *font, av_detect_result *r, char *err,
                                     size_t errlen)
{
    av_vision_decode_opts o = {.limits = {.max_bytes = max_bytes, .max_pixels = max_pixels}};
    av_image *img = NULL;
    char e[256] = "";
    if (av_vision_decode(image, len, &o, &img, NULL, e, sizeof e) != AV_VISION_OK) {
        snprintf(err, errlen, "image: %s", e);
        return AV_SERVING_E_IMAGE;
    }
    if (!scaled) {
        r->width = img->width;
        r->height = img->height;
        for (int i = 0; i < r->n_dets; i++) {
            av_detect_det *d = &r->dets[i];
            d->x1 *= (float)img->width, d->x2 *= (float)img->width;
            d->y1 *= (float)img->height, d->y2 *= (float)img->height;
        }
    }
    if (!draw) {
        av_img_free(img);
        return AV_SERVING_OK;
    }
    int png = av_vision_sniff(image, len) == AV_VISION_FMT_PNG;
    av_detect_status ds = av_detect_draw(img, r->dets, r->n_dets, 1.0, NULL, font, e, sizeof e);
    if (ds != AV_DETECT_OK) {
        av_img_free(img);
        snprintf(err, errlen, "%s", e); /* says "annotate: ..." */
        return ds == AV_DETECT_E_NOMEM ? AV_SERVING_E_NOMEM : AV_SERVING_E_IMAGE;
    }
    av_vision_status st =
        png ? av_vision_encode_png(img, &r->annotated, &r->annotated_len, e, sizeof e)
            : av_vision_encode_jpeg_par(img, 90, NULL, &r->annotated, &r->annotated_len, e,
                                        sizeof e);
    av_img_free(img);
    if (st != AV_VISION_OK) {
        snprintf(err, errlen, "annotate: %s", e[0] ? e : av_vision_strerror(st));
        return st == AV_VISION_E_NOMEM ? AV_SERVING_E_NOMEM : AV_SERVING_E_IMAGE;
    }
    snprintf(r->annotated_mime, sizeof r->annotated_mime, "%s", png ? "image/png" : "image/jpeg");
    return AV_SERVING_OK;
}
