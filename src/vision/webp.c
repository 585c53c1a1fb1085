/*
 * webp.c - WebP through libwebp. A small RIFF walk of our own reads the
 * canvas size (VP8X, or the VP8/VP8L frame header) for the limit check and
 * finds the EXIF chunk for orientation; libwebp decodes the pixels. Alpha is
 * composited onto white. Animated files are refused.
 */
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>

#include "vision/vision_int.h"

typedef struct riff_info {
    int w, h;            /* 0 when no size was found */
    int animated;
    const uint8_t *exif; /* EXIF chunk payload, or NULL */
    size_t exif_len;
} riff_info;

static void riff_walk(const uint8_t *d, size_t n, riff_info *ri)
{
    memset(ri, 0, sizeof *ri);
    size_t end = n;
    if (n >= 8) {
        size_t riff_end = (size_t)av_vision__le32(d + 4) + 8;
        if (riff_end < end)
            end = riff_end;
    }
    size_t i = 12;
    while (i + 8 <= end) {
        const uint8_t *fourcc = d + i;
        size_t len = av_vision__le32(d + i + 4);
        const uint8_t *p = d + i + 8;
        size_t avail = end - (i + 8);
        size_t plen = len < avail ? len : avail;
        if (memcmp(fourcc, "VP8X", 4) == 0 && plen >= 10) {
            ri->animated = (p[0] & 0x02) != 0;
            ri->w = (int)(1 + ((uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16));
            ri->h = (int)(1 + ((uint32_t)p[7] | (uint32_t)p[8] << 8 | (uint32_t)p[9] << 16));
        } else if (memcmp(fourcc, "VP8 ", 4) == 0 && plen >= 10 && !ri->w) {
            if (p[3] == 0x9d && p[4] == 0x01 && p[5] == 0x2a) {
                ri->w = av_vision__le16(p + 6) & 0x3fff;
                ri->h = av_vision__le16(p + 8) & 0x3fff;
            }
        } else if (memcmp(fourcc, "VP8L", 4) == 0 && plen >= 5 && !ri->w) {
            if (p[0] == 0x2f) {
                uint32_t bits = av_vision__le32(p + 1);
                ri->w = (int)(bits & 0x3fff) + 1;
                ri->h = (int)((bits >> 14) & 0x3fff) + 1;
            }
        } else if (memcmp(fourcc, "EXIF", 4) == 0 && !ri->exif) {
            ri->exif = p;
            ri->exif_len = plen;
        }
        if (len > end - (i + 8))
            break;
        i += 8 + len + (len & 1); /* chunks are padded to even sizes */
    }
}

av_vision_status av_vision__webp_probe(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                       char *err, size_t errlen)
{
    riff_info ri;
    riff_walk(d, n, &ri);
    if (ri.w <= 0 || ri.h <= 0)
        return av_vision__err(err, errlen, AV_VISION_E_CORRUPT,
                              "WebP header unreadable (no VP8X/VP8/VP8L size in %zu bytes)", n);
    info->src_width = ri.w;
    info->src_height = ri.h;
    info->orientation = ri.exif ? av_vision__exif_orientation(ri.exif, ri.exif_len) : 1;
    return AV_VISION_OK;
}

av_vision_status av_vision__webp_decode(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                        av_image **out, char *err, size_t errlen)
{
    *out = NULL;
    WebPBitstreamFeatures f;
    VP8StatusCode vs = WebPGetFeatures(d, n, &f);
    if (vs != VP8_STATUS_OK)
        return av_vision__err(err, errlen,
                              vs == VP8_STATUS_UNSUPPORTED_FEATURE ? AV_VISION_E_UNSUPPORTED
                                                                   : AV_VISION_E_CORRUPT,
                              "WebP header %s (libwebp status %d)",
                              vs == VP8_STATUS_NOT_ENOUGH_DATA ? "is truncated" : "is invalid",
                              (int)vs);
    if (f.has_animation)
        return av_vision__err(err, errlen, AV_VISION_E_UNSUPPORTED, "animated WebP is not supported");
    /* libwebp's own idea of the size must be the one the limits were checked on. */
    if (f.width != info->src_width || f.height != info->src_height)
        return av_vision__err(err, errlen, AV_VISION_E_CORRUPT,
                              "WebP size mismatch: header %dx%d, bitstream %dx%d",
                              info->src_width, info->src_height, f.width, f.height);

    av_image *img = NULL;
    size_t npx = (size_t)f.width * (size_t)f.height;
    if (f.has_alpha) {
        uint8_t *rgba = malloc(npx * 4);
        if (!rgba)
            return av_vision__err(err, errlen, AV_VISION_E_NOMEM, "out of memory for %dx%d",
                                  f.width, f.height);
        if (!WebPDecodeRGBAInto(d, n, rgba, npx * 4, f.width * 4)) {
            free(rgba);
            return av_vision__err(err, errlen, AV_VISION_E_CORRUPT,
                                  "WebP data corrupt or truncated");
        }
        av_vision__flatten_rgba(rgba, rgba, npx);
        img = malloc(sizeof *img);
        if (!img) {
            free(rgba);
            return av_vision__err(err, errlen, AV_VISION_E_NOMEM, "out of memory");
        }
        uint8_t *shrunk = realloc(rgba, npx * 3);
        img->data = shrunk ? shrunk : rgba;
        img->width = f.width;
        img->height = f.height;
    } else {
        img = av_vision__img_alloc(f.width, f.height);
        if (!img)
            return av_vision__err(err, errlen, AV_VISION_E_NOMEM, "out of memory for %dx%d",
                                  f.width, f.height);
        if (!WebPDecodeRGBInto(d, n, img->data, npx * 3, f.width * 3)) {
            av_img_free(img);
            return av_vision__err(err, errlen, AV_VISION_E_CORRUPT,
                                  "WebP data corrupt or truncated");
        }
    }
    info->had_alpha = f.has_alpha;
    *out = img;
    return AV_VISION_OK;
}
