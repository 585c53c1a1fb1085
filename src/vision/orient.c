/*
 * orient.c - EXIF orientation: turn a decoded image upright. Mirrors (2, 4)
 * and the half turn (3) work in place; the four that swap width and height
 * (5..8) write a new image, walked in tiles so neither side thrashes cache.
 */
#include <string.h>

#include "vision/vision_int.h"

static void swap3(uint8_t *a, uint8_t *b)
{
    uint8_t t[3];
    memcpy(t, a, 3);
    memcpy(a, b, 3);
    memcpy(b, t, 3);
}

static void mirror_rows(av_image *img)
{
    int w = img->width;
    for (int y = 0; y < img->height; y++) {
        uint8_t *r = img->data + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < w / 2; x++)
            swap3(r + 3 * (size_t)x, r + 3 * (size_t)(w - 1 - x));
    }
}

static void flip_rows(av_image *img)
{
    size_t rb = (size_t)img->width * 3;
    uint8_t tmp[1024];
    for (int y = 0; y < img->height / 2; y++) {
        uint8_t *a = img->data + (size_t)y * rb;
        uint8_t *b = img->data + (size_t)(img->height - 1 - y) * rb;
        for (size_t off = 0; off < rb; off += sizeof tmp) {
            size_t k = rb - off < sizeof tmp ? rb - off : sizeof tmp;
            memcpy(tmp, a + off, k);
            memcpy(a + off, b + off, k);
            memcpy(b + off, tmp, k);
        }
    }
}

#define TILE 32

av_vision_status av_vision_orient(av_image **imgp, int o)
{
    if (!imgp || !*imgp || !(*imgp)->data)
        return AV_VISION_E_ARG;
    av_image *in = *imgp;
    switch (o) {
    case 2: mirror_rows(in); return AV_VISION_OK;
    case 3: mirror_rows(in); flip_rows(in); return AV_VISION_OK;
    case 4: flip_rows(in); return AV_VISION_OK;
    case 5: case 6: case 7: case 8: break;
    default: return AV_VISION_OK;
    }

    int W = in->width, H = in->height; /* input size; output is H x W */
    av_image *out = av_vision__img_alloc(H, W);
    if (!out)
        return AV_VISION_E_NOMEM;
    int ow = H, oh = W;
    for (int ty = 0; ty < oh; ty += TILE)
        for (int tx = 0; tx < ow; tx += TILE) {
            int ye = ty + TILE < oh ? ty + TILE : oh;
            int xe = tx + TILE < ow ? tx + TILE : ow;
            for (int oy = ty; oy < ye; oy++) {
                uint8_t *dst = out->data + ((size_t)oy * (size_t)ow + (size_t)tx) * 3;
                for (int ox = tx; ox < xe; ox++, dst += 3) {
                    int ix, iy; /* which input pixel lands at (ox, oy) */
                    switch (o) {
                    case 5: ix = oy; iy = ox; break;                 /* transpose */
                    case 6: ix = oy; iy = H - 1 - ox; break;         /* 90 clockwise */
                    case 7: ix = W - 1 - oy; iy = H - 1 - ox; break; /* transverse */
                    default: ix = W - 1 - oy; iy = ox; break;        /* 8: 90 counter-clockwise */
                    }
                    memcpy(dst, in->data + ((size_t)iy * (size_t)W + (size_t)ix) * 3, 3);
                }
            }
        }
    av_img_free(in);
    *imgp = out;
    return AV_VISION_OK;
}
