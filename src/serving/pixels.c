/*
 * pixels.c - nested-list pixels (H x W x 3 lists of 0..255) read straight
 * from the request text into a BMP, before jansson sees the body.
 *
 * Parsed by jansson, every pixel value is a json_t (tens of bytes for a
 * one-to-four-byte token): a 41 MB body became a 1.3 GB tree. Here each
 * such list is checked and measured in one pass over its text, written in
 * a second into a BMP of exactly its size, and replaced in the JSON that
 * jansson then parses by a small reference object {"@pixels-<random>": k}.
 *
 * A list that fails early (before its first complete pixel) is not pixels
 * at all (say a batch [[[[...]]]] or a list of strings) and is left for
 * jansson; one that fails later is answered here, so a bad large body
 * never reaches jansson either. Small failing lists (< SMALL bytes) are
 * left to jansson too, for its TF Serving-style messages.
 */
#include "serving/internal.h"
#include "base/base.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define SMALL 65536

enum { PX_OK = 0, PX_NOT_PIXELS = 1, PX_BAD = 2 };

typedef struct scan {
    const char *p, *end;
    const char *start; /* of the list */
    size_t h, w;
    int any_pixel;     /* a complete pixel was read */
    unsigned char *dst; /* second pass: BMP rows (BGR), stride bytes apart */
    size_t stride;
    long long max_pixels;
    char msg[256];
} scan;

static void ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int expect(scan *s, char c)
{
    ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

static int bad(scan *s, const char *fmt, const char *a)
{
    if (!s->any_pixel)
        return PX_NOT_PIXELS;
    snprintf(s->msg, sizeof s->msg, fmt, a);
    return PX_BAD;
}

static int bad_shape(scan *s, const char *what)
{
    return bad(s, "input_tensor: Encountered list at unexpected size/level (%s)", what);
}

/* One 0..255 value, as jansson would read the JSON token. */
static int value(scan *s, unsigned char *out)
{
    ws(s);
    const char *t = s->p;
    unsigned v = 0;
    int digits = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9' && digits < 4) {
        v = v * 10 + (unsigned)(*s->p - '0');
        s->p++, digits++;
    }
    int plain = digits > 0 && s->p < s->end && strchr(",] \t\r\n", *s->p) &&
                !(digits > 1 && t[0] == '0');
    if (plain && v <= 255) {
        *out = (unsigned char)v;
        return PX_OK;
    }
    /* The token as written, for the message (what jansson's path says). */
    const char *e = t;
    while (e < s->end && !strchr(",] \t\r\n", *e) && e - t < 40)
        e++;
    char tok[48];
    snprintf(tok, sizeof tok, "%.*s", (int)(e - t), t);
    int number = e > t && (strchr("-0123456789", t[0]) != NULL);
    if (number)
        return bad(s, "JSON Value: %s Type: Number is not of expected type: uint8", tok);
    return bad(s, "input_tensor: expecting a H x W x 3 list of uint8 pixels, found %s", tok);
}

/* '[' row (',' row)* ']' with row = '[' px (',' px)* ']', px = '[' v ',' v ',' v ']'. */
static int parse(scan *s)
{
    s->h = s->w = 0;
    s->any_pixel = 0;
    if (!expect(s, '['))
        return PX_NOT_PIXELS;
    for (;;) { /* rows */
        if (!expect(s, '['))
            return bad_shape(s, "rows must all be lists of pixels");
        size_t x = 0;
        for (;;) { /* pixels */
            if (!expect(s, '['))
                return bad_shape(s, "each pixel is a list of 3 values");
            unsigned char v[3];
            for (int c = 0; c < 3; c++) {
                int st = value(s, &v[c]);
                if (st)
                    return st;
                if (c < 2 && !expect(s, ','))
                    return bad_shape(s, "each pixel is a list of 3 values");
            }
            if (!expect(s, ']'))
                return bad_shape(s, "each pixel is a list of 3 values");
            s->any_pixel = 1;
            if (s->h == 0 && x >= 65535)
                return bad(s, "input_tensor: image rows over %s pixels wide", "65535");
            if (s->h > 0 && x >= s->w)
                return bad_shape(s, "rows must all have the same width");
            if (s->dst) {
                unsigned char *d = s->dst + s->h * s->stride + x * 3;
                d[0] = v[2], d[1] = v[1], d[2] = v[0]; /* BMP stores BGR */
            }
            x++;
            if (expect(s, ','))
                continue;
            if (expect(s, ']'))
                break;
            return bad_shape(s, "each row is a list of pixels");
        }
        if (s->h == 0)
            s->w = x;
        else if (x != s->w)
            return bad_shape(s, "rows must all have the same width");
        s->h++;
        if (s->h > 65535 || (long long)s->h * (long long)s->w > s->max_pixels) {
            char dims[64];
            snprintf(dims, sizeof dims, "%zu x %zu", s->h, s->w);
            s->any_pixel = 1;
            return bad(s, "input_tensor: image of at least %s pixels exceeds the pixel limit",
                       dims);
        }
        if (expect(s, ','))
            continue;
        if (expect(s, ']'))
            return PX_OK;
        return bad_shape(s, "the image is a list of rows");
    }
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

unsigned char *av_serving__pixels_bmp(size_t h, size_t w, size_t *len)
{
    size_t stride = (w * 3 + 3) & ~(size_t)3;
    size_t total = 54 + stride * h;
    unsigned char *bmp = calloc(1, total);
    if (!bmp)
        return NULL;
    bmp[0] = 'B', bmp[1] = 'M';
    put_le32(bmp + 2, (uint32_t)total);
    put_le32(bmp + 10, 54);
    put_le32(bmp + 14, 40);
    put_le32(bmp + 18, (uint32_t)w);
    put_le32(bmp + 22, (uint32_t) - (int32_t)h); /* negative: top-down rows */
    bmp[26] = 1, bmp[28] = 24;
    put_le32(bmp + 34, (uint32_t)(stride * h));
    *len = total;
    return bmp;
}

/* Append n bytes to the reduced JSON text (grown as needed). */
static int put(av_serving__pixels *px, const char *p, size_t n)
{
    if (av_base_grow((void **)&px->json, &px->cap, px->len + n + 1, 1))
        return -1;
    memcpy(px->json + px->len, p, n);
    px->len += n;
    px->json[px->len] = '\0';
    return 0;
}

/* One pixel list at s->p: measured, then written into a new BMP. */
static int take_block(av_serving__pixels *px, scan *s)
{
    const char *start = s->p;
    int st = parse(s);
    if (st != PX_OK)
        return st == PX_BAD && s->p - start < SMALL ? PX_NOT_PIXELS : st;
    if (px->n == AV_SERVING_MAX_INSTANCES) {
        if (s->p - start < SMALL)
            return PX_NOT_PIXELS;
        snprintf(s->msg, sizeof s->msg, "Too many images in one request (at most %d)",
                 AV_SERVING_MAX_INSTANCES);
        return PX_BAD;
    }
    const char *stop = s->p;
    size_t len;
    unsigned char *bmp = av_serving__pixels_bmp(s->h, s->w, &len);
    if (!bmp) {
        snprintf(s->msg, sizeof s->msg, "out of memory");
        return PX_BAD;
    }
    s->dst = bmp + 54;
    s->stride = (s->w * 3 + 3) & ~(size_t)3;
    s->p = start;
    parse(s); /* same text, same result: now filling the rows */
    s->dst = NULL;
    s->p = stop;
    px->bmp[px->n] = bmp;
    px->bmp_len[px->n] = len;
    px->n++;
    return PX_OK;
}

unsigned av_serving__pixels_extract(const char *body, size_t len, long long max_pixels,
                                    av_serving__pixels *px, char *msg, size_t msglen)
{
    memset(px, 0, sizeof *px);
    /* A key the client cannot guess: a reference it wrote itself is not
     * taken for one of ours (say to a list under a key nobody reads). */
    unsigned char r[8] = {0};
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        memcpy(r, &t.tv_nsec, sizeof t.tv_nsec < sizeof r ? sizeof t.tv_nsec : sizeof r);
    }
    snprintf(px->key, sizeof px->key, "@pixels-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7]);
    scan s = {.p = body, .end = body + len, .max_pixels = max_pixels};
    const char *copied = body; /* text before this is in px->json */
    while (s.p < s.end) {
        char c = *s.p;
        if (c == '"') { /* skip a string, escapes included */
            s.p++;
            while (s.p < s.end && *s.p != '"')
                s.p += *s.p == '\\' && s.p + 1 < s.end ? 2 : 1;
            s.p++;
            continue;
        }
        if (c != '[') {
            s.p++;
            continue;
        }
        const char *start = s.p;
        int st = take_block(px, &s);
        if (st == PX_NOT_PIXELS) {
            s.p = start + 1;
            continue;
        }
        if (st == PX_BAD) {
            snprintf(msg, msglen, "%s", s.msg);
            av_serving__pixels_free(px);
            return strcmp(s.msg, "out of memory") ? 400 : 500;
        }
        char ref[64];
        int n = snprintf(ref, sizeof ref, "{\"%s\":%d}", px->key, px->n - 1);
        if (put(px, copied, (size_t)(start - copied)) || put(px, ref, (size_t)n)) {
            snprintf(msg, msglen, "out of memory");
            av_serving__pixels_free(px);
            return 500;
        }
        copied = s.p;
    }
    if (px->n && put(px, copied, (size_t)(body + len - copied))) {
        snprintf(msg, msglen, "out of memory");
        av_serving__pixels_free(px);
        return 500;
    }
    return 0;
}

int av_serving__pixels_ref(const av_serving__pixels *px, const json_t *v)
{
    if (!px || !json_is_object(v) || json_object_size(v) != 1)
        return -1;
    const json_t *k = json_object_get(v, px->key);
    if (!json_is_integer(k) || json_integer_value(k) < 0 ||
        json_integer_value(k) >= px->n || !px->bmp[json_integer_value(k)])
        return -1;
    return (int)json_integer_value(k);
}

void av_serving__pixels_free(av_serving__pixels *px)
{
    for (int i = 0; i < px->n; i++)
        free(px->bmp[i]);
    free(px->json);
    memset(px, 0, sizeof *px);
}
