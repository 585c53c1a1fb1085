/*
 * bmp.c - our own BMP reader. Headers: BITMAPCOREHEADER (12), INFO (40),
 * V2/V3 (52/56), OS/2 v2 (64), V4 (108), V5 (124). Pixels: 1/4/8-bit
 * palette, 16/24/32-bit, uncompressed or BI_BITFIELDS / BI_ALPHABITFIELDS;
 * bottom-up and top-down; pixel data found at bfOffBits. Alpha is ignored
 * (as most viewers do for BMP). RLE and embedded JPEG/PNG are refused.
 * Every offset is checked against the buffer before it is read.
 */
#include <stdlib.h>
#include <string.h>

#include "vision/vision_int.h"

enum { BI_RGB = 0, BI_RLE8 = 1, BI_RLE4 = 2, BI_BITFIELDS = 3, BI_JPEG = 4, BI_PNG = 5,
       BI_ALPHABITFIELDS = 6 };

typedef struct bmp_hdr {
    uint32_t off_bits, hdr_size, compression, colors_used;
    int32_t w, h_raw;
    int h, top_down, bpp;
    uint32_t mask[3]; /* R, G, B */
} bmp_hdr;

static av_vision_status parse_header(const uint8_t *d, size_t n, bmp_hdr *b, char *err,
                                     size_t errlen)
{
    memset(b, 0, sizeof *b);
    if (n < 26)
        return av_vision__err(err, errlen, AV_VISION_E_CORRUPT, "BMP truncated in its header (%zu bytes)", n);
    b->off_bits = av_vision__le32(d + 10);
    b->hdr_size = av_vision__le32(d + 14);
    if (14 + (size_t)b->hdr_size > n)
        return av_vision__err(err, errlen, AV_VISION_E_CORRUPT,
                              "BMP truncated: %u-byte info header, %zu bytes in file", b->hdr_size, n);
    int planes;
    if (b->hdr_size == 12) {
        b->w = (int16_t)av_vision__le16(d + 18);
        b->h_raw = (int16_t)av_vision__le16(d + 20);
        planes = av_vision__le16(d + 22);
        b->bpp = av_vision__le16(d + 24);
        b->compression = BI_RGB;
    } else {
        b->w = (int32_t)av_vision__le32(d + 18);
        b->h_raw = (int32_t)av_vision__le32(d + 22);
        planes = av_vision__le16(d + 26);
        b->bpp = av_vision__le16(d + 28);
        b->compression = av_vision__le32(d + 30);
        b->colors_used = av_vision__le32(d + 46);
    }
    if (planes != 1)
        return av_vision__err(err, errlen, AV_VISION_E_CORRUPT, "BMP header says %d planes", planes);
    if (b->w <= 0 || b->h_raw == 0 || b->h_raw == INT32_MIN)
        return av_vision__err(err, errlen, AV_VISION_E_CORRUPT, "BMP header says %dx%d",
                              (int)b->w, (int)b->h_raw);
    b->top_down = b->h_raw < 0;
    b->h = b->top_down ? -b->h_raw : b->h_raw;
    if (b->compression == BI_RLE8 || b->compression == BI_RLE4 || b->compression == BI_JPEG ||
        b->compression == BI_PNG)
        return av_vision__err(err, errlen, AV_VISION_E_UNSUPPORTED,
                              "BMP compression %u (RLE/JPEG/PNG) is not supported", b->compression);
    if (b->compression != BI_RGB && b->compression != BI_BITFIELDS &&
        b->compression != BI_ALPHABITFIELDS)
        return av_vision__err(err, errlen, AV_VISION_E_CORRUPT, "BMP compression %u is unknown",
                              b->compression);
    int bitfields = b->compression != BI_RGB;
    switch (b->bpp) {
    case 1: case 4: case 8:
        if (bitfields)
            return av_vision__err(err, errlen, AV_VISION_E_CORRUPT,
                                  "BMP bit fields on a %d-bit palette image", b->bpp);
        break;
    case 16: case 24: case 32:
        if (bitfields && b->bpp == 24)
            return av_vision__err(err, errlen, AV_VISION_E_UNSUPPORTED,
                                  "BMP bit fields on 24-bit pixels");
        break;
    default:
        return av_vision__err(err, errlen, AV_VISION_E_UNSUPPORTED, "BMP with %d bits per pixel",
                              b->bpp);
    }
    if (bitfields) {
        /* Masks live inside V2+ headers, or right after a 40-byte one. */
        size_t mo = 14 + 40;
        if (mo + 12 > n)
            return av_vision__err(err, errlen, AV_VISION_E_CORRUPT, "BMP truncated in its bit masks");
        for (int c = 0; c < 3; c++)
            b->mask[c] = av_vision__le32(d + mo + 4 * (size_t)c);
    } else if (b->bpp == 16) {
        b->mask[0] = 0x7C00; /* 5-5-5 */
        b->mask[1] = 0x03E0;
        b->mask[2] = 0x001F;
    }
    return AV_VISION_OK;
}

av_vision_status av_vision__bmp_probe(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                      char *err, size_t errlen)
{
    bmp_hdr b;
    av_vision_status st = parse_header(d, n, &b, err, errlen);
    if (st != AV_VISION_OK)
        return st;
    info->src_width = b.w;
    info->src_height = b.h;
    return AV_VISION_OK;
}

/* One channel of a bit-field pixel scaled to 0..255, rounded as the reference reader does. */
typedef struct chan {
    uint32_t mask, max;
    int shift;
} chan;

static chan chan_of(uint32_t mask)
{
    chan c = {mask, 0, 0};
    if (!mask)
        return c;
    while (!((mask >> c.shift) & 1))
        c.shift++;
    c.max = mask >> c.shift;
    return c;
}

static inline uint8_t chan_get(const chan *c, uint32_t v)
{
    if (!c->max)
        return 0;
    uint64_t x = (v & c->mask) >> c->shift;
    return (uint8_t)((x * 255 * 2 + c->max) / (2 * (uint64_t)c->max));
}

av_vision_status av_vision__bmp_decode(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                       av_image **out, char *err, size_t errlen)
{
    *out = NULL;
    (void)info;
    bmp_hdr b;
    av_vision_status st = parse_header(d, n, &b, err, errlen);
    if (st != AV_VISION_OK)
        return st;

    uint8_t pal[256][3];
    memset(pal, 0, sizeof pal);
    if (b.bpp <= 8) {
        uint32_t maxc = 1u << b.bpp;
        uint32_t nc = b.colors_used == 0 || b.colors_used > maxc ? maxc : b.colors_used;
        size_t esz = b.hdr_size == 12 ? 3 : 4;
        size_t po = 14 + (size_t)b.hdr_size;
        /* Tolerate short palettes (missing entries stay black) but never read past them. */
        size_t avail = po < n ? (n - po) / esz : 0;
        if (b.off_bits > po && (b.off_bits - po) / esz < avail)
            avail = (b.off_bits - po) / esz;
        if (nc > avail)
            nc = (uint32_t)avail;
        for (uint32_t i = 0; i < nc; i++) {
            const uint8_t *p = d + po + esz * i;
            pal[i][0] = p[2];
            pal[i][1] = p[1];
            pal[i][2] = p[0];
        }
    }

    uint64_t stride = (((uint64_t)b.bpp * (uint64_t)b.w + 31) / 32) * 4;
    uint64_t need = (uint64_t)b.off_bits + stride * (uint64_t)b.h;
    if (b.off_bits < 14 + b.hdr_size || need > n)
        return av_vision__err(err, errlen, AV_VISION_E_CORRUPT,
                              "BMP truncated: pixels need bytes %u..%llu, file has %zu", b.off_bits,
                              (unsigned long long)need, n);

    av_image *img = av_vision__img_alloc(b.w, b.h);
    if (!img)
        return av_vision__err(err, errlen, AV_VISION_E_NOMEM, "out of memory for %dx%d", (int)b.w, b.h);

    chan ch[3] = {chan_of(b.mask[0]), chan_of(b.mask[1]), chan_of(b.mask[2])};
    int w = b.w;
    for (int y = 0; y < b.h; y++) {
        int sy = b.top_down ? y : b.h - 1 - y;
        const uint8_t *row = d + b.off_bits + (size_t)stride * (size_t)sy;
        uint8_t *o = img->data + (size_t)y * (size_t)w * 3;
        switch (b.bpp) {
        case 24:
            for (int x = 0; x < w; x++, o += 3) {
                o[0] = row[3 * x + 2];
                o[1] = row[3 * x + 1];
                o[2] = row[3 * x + 0];
            }
            break;
        case 32:
            if (b.compression == BI_RGB) {
                for (int x = 0; x < w; x++, o += 3) {
                    o[0] = row[4 * x + 2];
                    o[1] = row[4 * x + 1];
                    o[2] = row[4 * x + 0];
                }
                break;
            }
            for (int x = 0; x < w; x++, o += 3) {
                uint32_t v = av_vision__le32(row + 4 * (size_t)x);
                o[0] = chan_get(&ch[0], v);
                o[1] = chan_get(&ch[1], v);
                o[2] = chan_get(&ch[2], v);
            }
            break;
        case 16:
            for (int x = 0; x < w; x++, o += 3) {
                uint32_t v = av_vision__le16(row + 2 * (size_t)x);
                o[0] = chan_get(&ch[0], v);
                o[1] = chan_get(&ch[1], v);
                o[2] = chan_get(&ch[2], v);
            }
            break;
        default: { /* 1, 4, 8: MSB-first packed palette indices */
            int per = 8 / b.bpp;
            unsigned m = (1u << b.bpp) - 1;
            for (int x = 0; x < w; x++, o += 3) {
                unsigned byte = row[x / per];
                int sh = 8 - b.bpp * (x % per + 1);
                unsigned idx = (byte >> sh) & m;
                memcpy(o, pal[idx], 3);
            }
            break;
        }
        }
    }
    *out = img;
    return AV_VISION_OK;
}
