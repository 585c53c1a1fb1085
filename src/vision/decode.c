/*
 * decode.c - the decode front door: byte limit, format from magic bytes,
 * header probe, pixel limit (all before any pixel is decoded), the JPEG
 * reduce-on-decode choice, then the format's decoder and EXIF orientation.
 */
#include <stdio.h>
#include <string.h>

#include "vision/vision_int.h"

static void limits_resolve(const av_vision_limits *in, long long *max_bytes, long long *max_px)
{
    *max_bytes = in && in->max_bytes > 0 ? in->max_bytes : AV_VISION_DEFAULT_MAX_BYTES;
    *max_px = in && in->max_pixels > 0 ? in->max_pixels : AV_VISION_DEFAULT_MAX_PIXELS;
}

/* "3600", "50.41": megapixels without noise. */
static void fmt_mpx(char *buf, size_t len, long long px)
{
    if (px % 1000000 == 0)
        snprintf(buf, len, "%lld", px / 1000000);
    else
        snprintf(buf, len, "%.2f", (double)px / 1e6);
}

static const char *upper_name(av_vision_format f)
{
    switch (f) {
    case AV_VISION_FMT_JPEG: return "JPEG";
    case AV_VISION_FMT_PNG: return "PNG";
    case AV_VISION_FMT_WEBP: return "WebP";
    case AV_VISION_FMT_BMP: return "BMP";
    case AV_VISION_FMT_UNKNOWN: break;
    }
    return "image";
}

av_vision_status av_vision_probe(const void *bytes, size_t n, const av_vision_limits *limits,
                                 av_vision_decode_info *info, char *err, size_t errlen)
{
    if (!info || (!bytes && n))
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "probe: NULL argument");
    memset(info, 0, sizeof *info);
    info->orientation = 1;
    info->scale_denom = 1;
    if (n == 0)
        return av_vision__err(err, errlen, AV_VISION_E_EMPTY, "no data (0 bytes)");

    long long max_bytes, max_px;
    limits_resolve(limits, &max_bytes, &max_px);
    if ((unsigned long long)n > (unsigned long long)max_bytes)
        return av_vision__err(err, errlen, AV_VISION_E_LIMIT, "%zu bytes, limit is %lld bytes", n,
                              max_bytes);

    const uint8_t *d = bytes;
    info->format = av_vision_sniff(d, n);
    av_vision_status st;
    switch (info->format) {
    case AV_VISION_FMT_JPEG: st = av_vision__jpeg_probe(d, n, info, err, errlen); break;
    case AV_VISION_FMT_PNG: st = av_vision__png_probe(d, n, info, err, errlen); break;
    case AV_VISION_FMT_WEBP: st = av_vision__webp_probe(d, n, info, err, errlen); break;
    case AV_VISION_FMT_BMP: st = av_vision__bmp_probe(d, n, info, err, errlen); break;
    default:
        return av_vision__err(err, errlen, AV_VISION_E_FORMAT,
                              "unknown format (%zu bytes; not JPEG, PNG, WebP or BMP)", n);
    }
    if (st != AV_VISION_OK)
        return st;

    long long w = info->src_width, h = info->src_height;
    if (w < 1 || h < 1)
        return av_vision__err(err, errlen, AV_VISION_E_CORRUPT, "%s header says %lldx%lld",
                              upper_name(info->format), w, h);
    if (w * h > max_px || w > AV_VISION_MAX_SIDE || h > AV_VISION_MAX_SIDE) {
        char a[32], b[32];
        fmt_mpx(a, sizeof a, w * h);
        fmt_mpx(b, sizeof b, max_px);
        return av_vision__err(err, errlen, AV_VISION_E_LIMIT,
                              "%s header says %lldx%lld = %s Mpx, limit is %s Mpx",
                              upper_name(info->format), w, h, a, b);
    }
    return AV_VISION_OK;
}

/*
 * Largest JPEG reduction (8, 4, 2, else 1) that keeps the upright image at
 * least as big as asked. libjpeg rounds scaled sizes up (TJSCALED).
 */
static int pick_scale(const av_vision_decode_opts *o, int w, int h, int orientation)
{
    if (!o || (o->min_width <= 0 && o->min_height <= 0 && o->min_long_side <= 0))
        return 1;
    int uw = w, uh = h; /* upright size */
    if (!o->no_orientation && orientation >= 5 && orientation <= 8) {
        uw = h;
        uh = w;
    }
    static const int denoms[] = {8, 4, 2};
    for (size_t i = 0; i < sizeof denoms / sizeof denoms[0]; i++) {
        int dn = denoms[i];
        int sw = (uw + dn - 1) / dn, sh = (uh + dn - 1) / dn;
        int ls = sw > sh ? sw : sh;
        if (sw >= o->min_width && sh >= o->min_height && ls >= o->min_long_side)
            return dn;
    }
    return 1;
}

av_vision_status av_vision_decode(const void *bytes, size_t n, const av_vision_decode_opts *opts,
                                  av_image **out, av_vision_decode_info *info, char *err,
                                  size_t errlen)
{
    if (!out)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "decode: NULL output");
    *out = NULL;
    av_vision_decode_info local;
    if (!info)
        info = &local;

    av_vision_status st = av_vision_probe(bytes, n, opts ? &opts->limits : NULL, info, err, errlen);
    if (st != AV_VISION_OK)
        return st;

    const uint8_t *d = bytes;
    av_image *img = NULL;
    switch (info->format) {
    case AV_VISION_FMT_JPEG: {
        int dn = pick_scale(opts, info->src_width, info->src_height, info->orientation);
        st = av_vision__jpeg_decode(d, n, dn, opts ? opts->par : NULL, info, &img, err, errlen);
        break;
    }
    case AV_VISION_FMT_PNG: st = av_vision__png_decode(d, n, info, &img, err, errlen); break;
    case AV_VISION_FMT_WEBP: st = av_vision__webp_decode(d, n, info, &img, err, errlen); break;
    case AV_VISION_FMT_BMP: st = av_vision__bmp_decode(d, n, info, &img, err, errlen); break;
    default: st = av_vision__err(err, errlen, AV_VISION_E_FORMAT, "unknown format"); break;
    }
    if (st != AV_VISION_OK) {
        av_img_free(img);
        return st;
    }
    if (!(opts && opts->no_orientation) && info->orientation > 1) {
        st = av_vision_orient(&img, info->orientation);
        if (st != AV_VISION_OK) {
            av_img_free(img);
            return av_vision__err(err, errlen, st, "out of memory applying EXIF orientation %d",
                                  info->orientation);
        }
    }
    *out = img;
    return AV_VISION_OK;
}
