/*
 * png.c - PNG through libspng: header probe (IHDR only), decode of any bit
 * depth and colour type to RGB8 (16-bit samples keep their high byte, alpha
 * and tRNS are composited onto white), and RGB8 encoding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spng.h>

#include "vision/vision_int.h"
#include "base/base.h"

/* Ancillary chunk caps: text/ICC/etc. may not balloon memory (hostile files). */
#define PNG_CHUNK_MAX (8u * 1024 * 1024)
#define PNG_CACHE_MAX (16u * 1024 * 1024)

static spng_ctx *open_ctx(const uint8_t *d, size_t n, struct spng_ihdr *ihdr, char *err,
                          size_t errlen, av_vision_status *st)
{
    spng_ctx *ctx = spng_ctx_new(0);
    if (!ctx) {
        *st = av_vision__err(err, errlen, AV_VISION_E_NOMEM, "cannot start PNG decoder");
        return NULL;
    }
    spng_set_chunk_limits(ctx, PNG_CHUNK_MAX, PNG_CACHE_MAX);
    int rc = spng_set_png_buffer(ctx, d, n);
    if (!rc)
        rc = spng_get_ihdr(ctx, ihdr);
    if (rc) {
        *st = av_vision__err(err, errlen, AV_VISION_E_CORRUPT, "PNG header unreadable: %s",
                             spng_strerror(rc));
        spng_ctx_free(ctx);
        return NULL;
    }
    *st = AV_VISION_OK;
    return ctx;
}

av_vision_status av_vision__png_probe(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                      char *err, size_t errlen)
{
    struct spng_ihdr ihdr;
    av_vision_status st;
    spng_ctx *ctx = open_ctx(d, n, &ihdr, err, errlen, &st);
    if (!ctx)
        return st;
    /* spng checked both are <= 2^31-1; the caller's pixel limit decides the rest. */
    info->src_width = (int)ihdr.width;
    info->src_height = (int)ihdr.height;
    spng_ctx_free(ctx);
    return AV_VISION_OK;
}

av_vision_status av_vision__png_decode(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                       av_image **out, char *err, size_t errlen)
{
    *out = NULL;
    struct spng_ihdr ihdr;
    av_vision_status st;
    uint8_t *rgba = NULL;
    av_image *img = NULL;
    spng_ctx *ctx = open_ctx(d, n, &ihdr, err, errlen, &st);
    if (!ctx)
        return st;

    struct spng_trns trns;
    int has_alpha = ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA ||
                    ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ||
                    spng_get_trns(ctx, &trns) == 0;
    int w = (int)ihdr.width, h = (int)ihdr.height; /* probe bounded them */
    size_t npx = (size_t)w * (size_t)h;
    int rc;
    if (has_alpha) {
        /* RGBA8 then flattened in place and shrunk: 4 bytes/px at peak. */
        size_t sz = 0;
        rc = spng_decoded_image_size(ctx, SPNG_FMT_RGBA8, &sz);
        if (!rc && sz != npx * 4)
            rc = SPNG_EOVERFLOW;
        if (!rc) {
            rgba = malloc(sz);
            if (!rgba) {
                st = av_vision__err(err, errlen, AV_VISION_E_NOMEM, "out of memory for %dx%d", w,
                                    h);
                goto done;
            }
            rc = spng_decode_image(ctx, rgba, sz, SPNG_FMT_RGBA8, SPNG_DECODE_TRNS);
        }
        if (!rc) {
            av_vision__flatten_rgba(rgba, rgba, npx);
            img = malloc(sizeof *img);
            if (!img) {
                st = av_vision__err(err, errlen, AV_VISION_E_NOMEM, "out of memory");
                goto done;
            }
            uint8_t *shrunk = realloc(rgba, npx * 3);
            img->data = shrunk ? shrunk : rgba;
            rgba = NULL;
            img->width = w;
            img->height = h;
        }
    } else {
        img = av_vision__img_alloc(w, h);
        if (!img) {
            st = av_vision__err(err, errlen, AV_VISION_E_NOMEM, "out of memory for %dx%d", w, h);
            goto done;
        }
        rc = spng_decode_image(ctx, img->data, npx * 3, SPNG_FMT_RGB8, 0);
    }
    if (rc) {
        st = av_vision__err(err, errlen,
                            rc == SPNG_EFMT ? AV_VISION_E_UNSUPPORTED : AV_VISION_E_CORRUPT,
                            "PNG data %s: %s", rc == SPNG_EFMT ? "unsupported" : "corrupt or truncated",
                            spng_strerror(rc));
        goto done;
    }
    info->had_alpha = has_alpha;
    *out = img;
    img = NULL;
    st = AV_VISION_OK;
done:
    free(rgba);
    av_img_free(img);
    spng_ctx_free(ctx);
    return st;
}

/* Encoder output, grown by png_write. spng's own SPNG_ENCODE_TO_BUFFER is
 * not used: in libspng 0.7.3 spng_get_png_buffer can hand back a pointer
 * that is not the start of a malloc'd block (found by fuzz_image on an
 * 82x2 image), which the caller could never free. */
typedef struct png_out {
    unsigned char *p;
    size_t len, cap;
} png_out;

static int png_write(spng_ctx *ctx, void *user, void *src, size_t n)
{
    (void)ctx;
    png_out *o = user;
    if (n > SIZE_MAX / 2 - o->len)
        return SPNG_IO_ERROR;
    if (av_base_grow((void **)&o->p, &o->cap, o->len + n, 1))
        return SPNG_IO_ERROR;
    memcpy(o->p + o->len, src, n);
    o->len += n;
    return 0;
}

av_vision_status av_vision_encode_png(const av_image *img, unsigned char **buf, size_t *len,
                                      char *err, size_t errlen)
{
    if (!buf || !len)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "encode PNG: NULL output");
    *buf = NULL;
    *len = 0;
    if (!img || !img->data || img->width < 1 || img->height < 1)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "encode PNG: no image");

    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!ctx)
        return av_vision__err(err, errlen, AV_VISION_E_NOMEM, "cannot start PNG encoder");
    struct spng_ihdr ihdr = {
        .width = (uint32_t)img->width,
        .height = (uint32_t)img->height,
        .bit_depth = 8,
        .color_type = SPNG_COLOR_TYPE_TRUECOLOR,
    };
    size_t bytes = (size_t)img->width * (size_t)img->height * 3;
    png_out out = {0};
    int rc = spng_set_png_stream(ctx, png_write, &out);
    if (!rc)
        rc = spng_set_ihdr(ctx, &ihdr);
    if (!rc)
        rc = spng_encode_image(ctx, img->data, bytes, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
    spng_ctx_free(ctx);
    if (rc || !out.p) {
        free(out.p);
        return av_vision__err(err, errlen,
                              rc == SPNG_EMEM || rc == SPNG_IO_ERROR ? AV_VISION_E_NOMEM
                                                                     : AV_VISION_E_ENCODE,
                              "PNG encoding failed: %s", spng_strerror(rc));
    }
    *buf = out.p; /* malloc'd: the caller frees */
    *len = out.len;
    return AV_VISION_OK;
}
