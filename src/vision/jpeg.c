/*
 * jpeg.c - JPEG through the TurboJPEG API of libjpeg-turbo: header probe,
 * decode (optionally reduced 1/2, 1/4, 1/8 inside the IDCT, which is what
 * makes big photos cheap), CMYK conversion, and quality-q encoding. A short
 * marker walk of our own finds the EXIF APP1 and Adobe APP14 segments.
 *
 * Decoding uses the accurate integer IDCT and fancy upsampling (TurboJPEG's
 * defaults), the same pixels Pillow and tfjs-node get from libjpeg. Big
 * sequential files decode in horizontal parts on threads the caller lends
 * (jpeg_par.c: the same bytes and verdict).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

#include "vision/vision_int.h"

typedef struct jpeg_markers {
    const uint8_t *exif; /* APP1 payload starting "Exif\0\0", or NULL */
    size_t exif_len;
    int adobe;           /* APP14 "Adobe" present: CMYK is stored inverted */
} jpeg_markers;

/* Walk the segments before the first scan; bounded by n, never trusts lengths. */
static void scan_markers(const uint8_t *d, size_t n, jpeg_markers *m)
{
    memset(m, 0, sizeof *m);
    size_t i = 2; /* after SOI */
    while (i + 4 <= n) {
        if (d[i] != 0xFF)
            return;
        uint8_t mk = d[i + 1];
        if (mk == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (mk == 0xD8 || mk == 0x01 || (mk >= 0xD0 && mk <= 0xD7)) {
            i += 2;
            continue;
        }
        if (mk == 0xDA || mk == 0xD9)
            return;
        size_t len = av_vision__be16(d + i + 2);
        if (len < 2 || i + 2 + len > n)
            return;
        const uint8_t *p = d + i + 4;
        size_t plen = len - 2;
        if (mk == 0xE1 && !m->exif && plen >= 6 && memcmp(p, "Exif\0\0", 6) == 0) {
            m->exif = p;
            m->exif_len = plen;
        } else if (mk == 0xEE && plen >= 5 && memcmp(p, "Adobe", 5) == 0) {
            m->adobe = 1;
        }
        i += 2 + len;
    }
}

av_vision_status av_vision__jpeg_probe(const uint8_t *d, size_t n, av_vision_decode_info *info,
                                       char *err, size_t errlen)
{
    tjhandle tj = tjInitDecompress();
    if (!tj)
        return av_vision__err(err, errlen, AV_VISION_E_NOMEM, "cannot start JPEG decoder");
    int w = 0, h = 0, ss = 0, cs = 0;
    int rc = tjDecompressHeader3(tj, d, (unsigned long)n, &w, &h, &ss, &cs);
    av_vision_status st = AV_VISION_OK;
    if (rc != 0)
        st = av_vision__err(err, errlen, AV_VISION_E_CORRUPT, "JPEG header unreadable: %s",
                            tjGetErrorStr2(tj));
    tjDestroy(tj);
    if (st != AV_VISION_OK)
        return st;
    info->src_width = w;
    info->src_height = h;
    jpeg_markers m;
    scan_markers(d, n, &m);
    info->orientation = m.exif ? av_vision__exif_orientation(m.exif, m.exif_len) : 1;
    return AV_VISION_OK;
}

/* CMYK (as libjpeg returns it) to RGB; Adobe files store the inks inverted. */
static void cmyk_to_rgb(uint8_t *rgb, const uint8_t *cmyk, size_t npx, int inverted)
{
    for (size_t i = 0; i < npx; i++) {
        const uint8_t *s = cmyk + 4 * i;
        unsigned c = s[0], m = s[1], y = s[2], k = s[3];
        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }
        /* Now each value is "amount of paper left": R = (1-C)(1-K). */
        rgb[3 * i + 0] = (uint8_t)((c * k + 127) / 255);
        rgb[3 * i + 1] = (uint8_t)((m * k + 127) / 255);
        rgb[3 * i + 2] = (uint8_t)((y * k + 127) / 255);
    }
}

/*
 * Warnings leave a complete image (e.g. "extraneous bytes before marker")
 * and are accepted; running out of data is not: the rest of the picture
 * would be grey filler. As TurboJPEG reports it: an error after a warning
 * still counts as a warning, with the error's text.
 */
static av_vision_status verdict_status(const av_vision__jpeg_verdict *v, char *err, size_t errlen)
{
    if (!v->failed && !v->warned)
        return AV_VISION_OK;
    int truncated = strstr(v->msg, "Premature end") != NULL;
    if (v->warned && !truncated)
        return AV_VISION_OK;
    return av_vision__err(err, errlen, AV_VISION_E_CORRUPT, "JPEG data %s: %s",
                          truncated ? "is truncated" : "is corrupt", v->msg);
}

av_vision_status av_vision__jpeg_decode(const uint8_t *d, size_t n, int scale_denom,
                                        const av_vision_par *par, av_vision_decode_info *info,
                                        av_image **out, char *err, size_t errlen)
{
    *out = NULL;
    av_vision_status st = AV_VISION_OK;
    av_image *img = NULL;
    uint8_t *cmyk = NULL;
    tjhandle tj = tjInitDecompress();
    if (!tj)
        return av_vision__err(err, errlen, AV_VISION_E_NOMEM, "cannot start JPEG decoder");

    int w = 0, h = 0, ss = 0, cs = 0;
    if (tjDecompressHeader3(tj, d, (unsigned long)n, &w, &h, &ss, &cs) != 0) {
        st = av_vision__err(err, errlen, AV_VISION_E_CORRUPT, "JPEG header unreadable: %s",
                            tjGetErrorStr2(tj));
        goto done;
    }
    if (scale_denom != 1 && scale_denom != 2 && scale_denom != 4 && scale_denom != 8)
        scale_denom = 1;
    tjscalingfactor sf = {1, scale_denom};
    int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);
    img = av_vision__img_alloc(sw, sh);
    if (!img) {
        st = av_vision__err(err, errlen, AV_VISION_E_NOMEM, "out of memory for %dx%d pixels", sw,
                            sh);
        goto done;
    }

    /* LIMITSCANS: refuse progressive files with absurd scan counts (a CPU bomb). */
    int flags = TJFLAG_LIMITSCANS;
    int is_cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    if (is_cmyk) {
        cmyk = malloc((size_t)sw * (size_t)sh * 4);
        if (!cmyk) {
            st = av_vision__err(err, errlen, AV_VISION_E_NOMEM, "out of memory for CMYK pixels");
            goto done;
        }
    }
    uint8_t *dst = is_cmyk ? cmyk : img->data;
    int pitch = sw * (is_cmyk ? 4 : 3), pf = is_cmyk ? TJPF_CMYK : TJPF_RGB;
    av_vision__jpeg_verdict v;
    /* big sequential files on the caller's threads (jpeg_par.c), the rest here */
    int big = (long long)sw * sh >= AV_VISION__JPEG_PAR_MIN_PX;
    int split = big && av_vision__jpeg_decode_par(d, n, scale_denom, is_cmyk, par, dst, sw, sh, &v);
    if (!split) {
        int rc = tjDecompress2(tj, d, (unsigned long)n, dst, sw, pitch, sh, pf, flags);
        memset(&v, 0, sizeof v);
        if (rc != 0) {
            v.warned = tjGetErrorCode(tj) == TJERR_WARNING;
            v.failed = !v.warned; /* (TurboJPEG does not tell an error after a warning) */
            snprintf(v.msg, sizeof v.msg, "%s", tjGetErrorStr2(tj));
        }
    }
    st = verdict_status(&v, err, errlen);
    if (st != AV_VISION_OK)
        goto done;
    if (v.warned && (!split || v.failed)) {
        /*
         * TurboJPEG reports an error that follows a warning as a warning,
         * and the rows after the error are never written: decode once more
         * into zeroed pixels so no stale heap bytes reach the image. The
         * split decode knows whether an error came (v.failed), so only its
         * failed files pay; one thread's, every warned file (rare).
         */
        memset(dst, 0, (size_t)pitch * (size_t)sh);
        (void)tjDecompress2(tj, d, (unsigned long)n, dst, sw, pitch, sh, pf, flags);
    }
    if (is_cmyk) {
        jpeg_markers m;
        scan_markers(d, n, &m);
        cmyk_to_rgb(img->data, cmyk, (size_t)sw * (size_t)sh, m.adobe);
    }
    info->scale_denom = scale_denom;
    *out = img;
    img = NULL;
done:
    free(cmyk);
    av_img_free(img);
    tjDestroy(tj);
    return st;
}

av_vision_status av_vision__encode_jpeg_args(const av_image *img, int *quality,
                                             unsigned char **buf, size_t *len, char *err,
                                             size_t errlen)
{
    if (!buf || !len)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "encode JPEG: NULL output");
    *buf = NULL;
    *len = 0;
    if (!img || !img->data || img->width < 1 || img->height < 1)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "encode JPEG: no image");
    if (img->width > 65500 || img->height > 65500)
        return av_vision__err(err, errlen, AV_VISION_E_ARG,
                              "encode JPEG: %dx%d exceeds JPEG's 65500 px per side", img->width,
                              img->height);
    if (*quality <= 0)
        *quality = 90;
    if (*quality > 100)
        *quality = 100;
    return AV_VISION_OK;
}

av_vision_status av_vision_encode_jpeg(const av_image *img, int quality, unsigned char **buf,
                                       size_t *len, char *err, size_t errlen)
{
    av_vision_status st = av_vision__encode_jpeg_args(img, &quality, buf, len, err, errlen);
    if (st)
        return st;

    tjhandle tj = tjInitCompress();
    if (!tj)
        return av_vision__err(err, errlen, AV_VISION_E_NOMEM, "cannot start JPEG encoder");
    /* Our own malloc'd worst-case buffer (NOREALLOC), so the caller can free() it. */
    unsigned long cap = tjBufSize(img->width, img->height, TJSAMP_420);
    unsigned char *out = cap != (unsigned long)-1 ? malloc(cap) : NULL;
    st = AV_VISION_OK;
    if (!out) {
        st = av_vision__err(err, errlen, AV_VISION_E_NOMEM, "out of memory for JPEG output");
        goto done;
    }
    unsigned long olen = cap;
    if (tjCompress2(tj, img->data, img->width, img->width * 3, img->height, TJPF_RGB, &out, &olen,
                    TJSAMP_420, quality, TJFLAG_NOREALLOC) != 0) {
        st = av_vision__err(err, errlen, AV_VISION_E_ENCODE, "JPEG encoding failed: %s",
                            tjGetErrorStr2(tj));
        free(out);
        goto done;
    }
    unsigned char *shrunk = realloc(out, olen ? olen : 1);
    *buf = shrunk ? shrunk : out;
    *len = olen;
done:
    tjDestroy(tj);
    return st;
}
