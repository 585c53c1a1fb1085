/*
 * image.c - the av_image type, status strings, the error formatter, format
 * sniffing from magic bytes and file-name extensions, and small pixel
 * helpers (alpha flattening, float conversion).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vision/vision_int.h"
#include "base/base.h"

const char *av_vision_strerror(av_vision_status st)
{
    switch (st) {
#define X(name, num, msg) \
    case AV_VISION_##name: return msg;
        AV_VISION_STATUS_MAP(X)
#undef X
    }
    return "unknown status";
}

const char *av_vision_status_name(av_vision_status st)
{
    switch (st) {
#define X(name, num, msg) \
    case AV_VISION_##name: return #name;
        AV_VISION_STATUS_MAP(X)
#undef X
    }
    return "UNKNOWN";
}

av_vision_status av_vision__err(char *err, size_t errlen, av_vision_status st, const char *fmt,
                                ...)
{
    if (err && errlen > 0) {
        int k = snprintf(err, errlen, "image: ");
        va_list ap;
        va_start(ap, fmt);
        av_base_verrf(err, errlen, k > 0 ? (size_t)k : 0, fmt, ap);
        va_end(ap);
    }
    return st;
}

av_image *av_vision__img_alloc(int w, int h)
{
    if (w < 1 || h < 1 || w > AV_VISION_MAX_SIDE || h > AV_VISION_MAX_SIDE)
        return NULL;
    size_t bytes = (size_t)w * (size_t)h * 3;
    if (bytes / 3 / (size_t)w != (size_t)h)
        return NULL;
    av_image *img = malloc(sizeof *img);
    if (!img)
        return NULL;
    img->data = malloc(bytes);
    if (!img->data) {
        free(img);
        return NULL;
    }
    img->width = w;
    img->height = h;
    return img;
}

av_image *av_img_new(int w, int h)
{
    av_image *img = av_vision__img_alloc(w, h);
    if (img)
        memset(img->data, 0, (size_t)w * (size_t)h * 3);
    return img;
}

av_image *av_img_clone(const av_image *src)
{
    if (!src || !src->data)
        return NULL;
    av_image *img = av_vision__img_alloc(src->width, src->height);
    if (img)
        memcpy(img->data, src->data, (size_t)src->width * (size_t)src->height * 3);
    return img;
}

void av_img_free(av_image *img)
{
    if (!img)
        return;
    free(img->data);
    free(img);
}

/* ---------------------------------------------------------------- formats */

static int is_bmp_header_size(uint32_t s)
{
    /* core, info, v2, v3, os/2 v2, v4, v5 */
    return s == 12 || s == 40 || s == 52 || s == 56 || s == 64 || s == 108 || s == 124;
}

av_vision_format av_vision_sniff(const void *bytes, size_t n)
{
    const uint8_t *d = bytes;
    if (!d || n < 3)
        return AV_VISION_FMT_UNKNOWN;
    if (d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
        return AV_VISION_FMT_JPEG;
    if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
        return AV_VISION_FMT_PNG;
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return AV_VISION_FMT_WEBP;
    /* "BM" alone is too weak (any text starting "BM"): require a known DIB header size. */
    if (n >= 18 && d[0] == 'B' && d[1] == 'M' && is_bmp_header_size(av_vision__le32(d + 14)))
        return AV_VISION_FMT_BMP;
    return AV_VISION_FMT_UNKNOWN;
}

const char *av_vision_format_name(av_vision_format f)
{
    switch (f) {
    case AV_VISION_FMT_JPEG: return "jpeg";
    case AV_VISION_FMT_PNG: return "png";
    case AV_VISION_FMT_WEBP: return "webp";
    case AV_VISION_FMT_BMP: return "bmp";
    case AV_VISION_FMT_UNKNOWN: break;
    }
    return "unknown";
}

const char *av_vision_format_ext(av_vision_format f)
{
    switch (f) {
    case AV_VISION_FMT_JPEG: return "jpg";
    case AV_VISION_FMT_PNG: return "png";
    case AV_VISION_FMT_WEBP: return "webp";
    case AV_VISION_FMT_BMP: return "bmp";
    case AV_VISION_FMT_UNKNOWN: break;
    }
    return "";
}

const char *av_vision_format_mime(av_vision_format f)
{
    switch (f) {
    case AV_VISION_FMT_JPEG: return "image/jpeg";
    case AV_VISION_FMT_PNG: return "image/png";
    case AV_VISION_FMT_WEBP: return "image/webp";
    case AV_VISION_FMT_BMP: return "image/bmp";
    case AV_VISION_FMT_UNKNOWN: break;
    }
    return "application/octet-stream";
}

av_vision_format av_vision_format_from_name(const char *filename)
{
    if (!filename)
        return AV_VISION_FMT_UNKNOWN;
    const char *dot = strrchr(filename, '.');
    const char *slash = strrchr(filename, '/');
    if (!dot || (slash && slash > dot))
        return AV_VISION_FMT_UNKNOWN;
    static const struct {
        const char *ext;
        av_vision_format f;
    } tab[] = {
        {"jpg", AV_VISION_FMT_JPEG}, {"jpeg", AV_VISION_FMT_JPEG}, {"jpe", AV_VISION_FMT_JPEG},
        {"jfif", AV_VISION_FMT_JPEG}, {"png", AV_VISION_FMT_PNG},  {"webp", AV_VISION_FMT_WEBP},
        {"bmp", AV_VISION_FMT_BMP},   {"dib", AV_VISION_FMT_BMP},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcasecmp(dot + 1, tab[i].ext) == 0)
            return tab[i].f;
    return AV_VISION_FMT_UNKNOWN;
}

/* ------------------------------------------------------------------ pixels */

void av_vision__flatten_rgba(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = src + 4 * i;
        unsigned a = s[3], ia = 255 - a;
        uint8_t r = s[0], g = s[1], b = s[2];
        /* c*a + 255*(1-a), rounded: over white. */
        dst[3 * i + 0] = (uint8_t)((r * a + 255 * ia + 127) / 255);
        dst[3 * i + 1] = (uint8_t)((g * a + 255 * ia + 127) / 255);
        dst[3 * i + 2] = (uint8_t)((b * a + 255 * ia + 127) / 255);
    }
}

void av_vision_to_f32(const av_image *img, float scale, float bias, float *out)
{
    if (!img || !img->data || !out)
        return;
    size_t n = (size_t)img->width * (size_t)img->height * 3;
    for (size_t i = 0; i < n; i++)
        out[i] = (float)img->data[i] * scale + bias;
}
