/*
 * t_vision_jpeg_par.c - the JPEG decode split across threads
 * (jpeg_par.c): for every subsampling, odd sizes, restart markers or none,
 * greyscale, CMYK/YCCK and every reduce-on-decode scale, its bytes are
 * tjDecompress2's (what the one-thread decode writes); truncated and
 * corrupt files get the same verdict and message as one thread;
 * progressive files are declined (decoded on one thread); and
 * av_vision_decode with threads gives what it gives without them.
 */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <turbojpeg.h>

#include "harness.h"
#include "par_fixture.h"
#include "vision/vision.h"
#include "vision/vision_int.h"

/* ------------------------------------------------------- making JPEGs */

typedef struct spec {
    int w, h;
    int comps;      /* 1 grey, 3 YCbCr, 4 CMYK (stored YCCK when ycck) */
    int hs, vs;     /* luma (and K) sampling factors; chroma 1x1 */
    int restart;    /* 0 none, > 0: restart interval in MCUs, < 0: in MCU rows */
    int progressive, ycck, quality;
    int orientation; /* > 1: an EXIF APP1 saying so */
} spec;

typedef struct cerr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
} cerr;

static void cerr_exit(j_common_ptr c)
{
    longjmp(((cerr *)(void *)c->err)->jb, 1);
}

/* Photo-like samples: gradients, texture and hard edges in every channel. */
static uint8_t sample(int x, int y, int c, unsigned seed)
{
    unsigned r = (unsigned)(x * 7 + y * 13 + c * 31) * 2654435761u ^ seed;
    switch (c) {
    case 0: return (uint8_t)(x * 3 + y);
    case 1: return (uint8_t)((x / 5 + y / 3) % 2 ? 230 : 20);
    case 2: return (uint8_t)((r >> 24) / 2 + y);
    default: return (uint8_t)(255 - x - (r >> 29));
    }
}

static unsigned char *make_jpeg(const spec *s, unsigned seed, size_t *len)
{
    struct jpeg_compress_struct c;
    cerr e;
    unsigned char *out = NULL;
    unsigned long outlen = 0;
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = cerr_exit;
    if (setjmp(e.jb))
        FAIL("libjpeg could not encode the %dx%d test image", s->w, s->h);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &outlen);
    c.image_width = (JDIMENSION)s->w;
    c.image_height = (JDIMENSION)s->h;
    c.input_components = s->comps;
    c.in_color_space = s->comps == 1 ? JCS_GRAYSCALE : s->comps == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, s->quality ? s->quality : 90, TRUE);
    if (s->comps == 4)
        jpeg_set_colorspace(&c, s->ycck ? JCS_YCCK : JCS_CMYK);
    for (int k = 0; k < c.num_components; k++) {
        int luma = k == 0 || k == 3;
        c.comp_info[k].h_samp_factor = luma || s->comps == 1 ? s->hs : 1;
        c.comp_info[k].v_samp_factor = luma || s->comps == 1 ? s->vs : 1;
    }
    if (s->restart > 0)
        c.restart_interval = (unsigned)s->restart;
    else if (s->restart < 0)
        c.restart_in_rows = -s->restart;
    if (s->progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    if (s->orientation > 1) { /* TIFF little-endian, IFD0 with one SHORT: 0x0112 */
        static const uint8_t exif[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                                       1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                                       0, 0, 0, 0};
        uint8_t e2[sizeof exif];
        memcpy(e2, exif, sizeof exif);
        e2[24] = (uint8_t)s->orientation;
        jpeg_write_marker(&c, JPEG_APP0 + 1, e2, sizeof e2);
    }
    uint8_t *row = malloc((size_t)s->w * (size_t)s->comps);
    CHECK(row);
    while (c.next_scanline < c.image_height) {
        int y = (int)c.next_scanline;
        for (int x = 0; x < s->w; x++)
            for (int k = 0; k < s->comps; k++)
                row[(size_t)x * s->comps + k] = sample(x, y, k, seed);
        JSAMPROW rp = row;
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    *len = outlen;
    return out; /* malloc'd by libjpeg's memory destination */
}

/* ----------------------------------------------------- the two decodes */

/* In order on one thread: part 0 finds no seam taken and decodes every
 * row, the later parts find they come too late. */
static void run_forward(void *pool, av_vision_task_fn fn, void *ctx, size_t n)
{
    (void)pool;
    for (size_t i = 0; i < n; i++)
        fn(ctx, i);
}

typedef struct decoded {
    int ok_header, w, h, cmyk;
    uint8_t *px;
    av_vision__jpeg_verdict v;
} decoded;

/* What the one-thread decode does: tjDecompress2 (TJFLAG_LIMITSCANS). */
static decoded tj_decode(const unsigned char *j, size_t n, int denom)
{
    decoded r;
    memset(&r, 0, sizeof r);
    tjhandle tj = tjInitDecompress();
    CHECK(tj);
    int w, h, ss, cs;
    if (tjDecompressHeader3(tj, j, (unsigned long)n, &w, &h, &ss, &cs) == 0) {
        tjscalingfactor sf = {1, denom};
        r.ok_header = 1;
        r.w = TJSCALED(w, sf);
        r.h = TJSCALED(h, sf);
        r.cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
        size_t bytes = (size_t)r.w * r.h * (r.cmyk ? 4 : 3);
        r.px = calloc(bytes, 1);
        CHECK(r.px);
        if (tjDecompress2(tj, j, (unsigned long)n, r.px, r.w, 0, r.h,
                          r.cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_LIMITSCANS) != 0) {
            r.v.warned = tjGetErrorCode(tj) == TJERR_WARNING;
            r.v.failed = !r.v.warned;
            snprintf(r.v.msg, sizeof r.v.msg, "%s", tjGetErrorStr2(tj));
        }
    }
    tjDestroy(tj);
    return r;
}

typedef void (*runner_fn)(void *pool, av_vision_task_fn fn, void *ctx, size_t n);

/* The same through jpeg_par.c on `threads` parts; *taken: not declined. */
static decoded par_decode(const unsigned char *j, size_t n, int denom, int threads, runner_fn run,
                          int *taken)
{
    decoded r = tj_decode(j, n, denom); /* for the size; its pixels are overwritten */
    if (!r.ok_header) {
        *taken = 0;
        return r;
    }
    size_t bytes = (size_t)r.w * r.h * (r.cmyk ? 4 : 3);
    memset(r.px, 0, bytes);
    memset(&r.v, 0, sizeof r.v);
    av_vision_par par = {.run = run, .threads = threads};
    *taken = av_vision__jpeg_decode_par(j, n, denom, r.cmyk, &par, r.px, r.w, r.h, &r.v);
    return r;
}

/* Same verdict, and the same pixels wherever the decode is kept. */
static void same(const decoded *a, const decoded *b, const char *what)
{
    /* (TurboJPEG does not tell an error after a warning from a warning) */
    int rca = a->v.failed || a->v.warned, rcb = b->v.failed || b->v.warned;
    CHECK_MSG(rca == rcb && a->v.warned == b->v.warned,
              "%s: failed %d warned %d vs one thread's %d %d (%s | %s)", what, b->v.failed,
              b->v.warned, a->v.failed, a->v.warned, b->v.msg, a->v.msg);
    CHECK_MSG(strcmp(a->v.msg, b->v.msg) == 0, "%s: \"%s\" vs one thread's \"%s\"", what,
              b->v.msg, a->v.msg);
    if (a->v.failed || strstr(a->v.msg, "Premature end"))
        return; /* refused: the pixels are never used */
    size_t bytes = (size_t)a->w * a->h * (a->cmyk ? 4 : 3);
    size_t i = 0;
    while (i < bytes && a->px[i] == b->px[i])
        i++;
    CHECK_MSG(i == bytes, "%s: %dx%d, first difference at row %zu", what, a->w, a->h,
              i / ((size_t)a->w * (a->cmyk ? 4 : 3)));
}

static void check_spec(const spec *s, unsigned seed)
{
    size_t n;
    unsigned char *j = make_jpeg(s, seed, &n);
    static const int denoms[] = {1, 2, 4, 8};
    for (int d = 0; d < 4; d++) {
        decoded one = tj_decode(j, n, denoms[d]);
        CHECK(one.ok_header && !one.v.failed && !one.v.warned);
        for (int threads = 2; threads <= 5; threads++) {
            int taken = 0;
            runner_fn run = threads == 3 ? tp_run_reversed
                            : threads == 4 ? run_forward
                                           : tp_run_threads;
            decoded par = par_decode(j, n, denoms[d], threads, run, &taken);
            char what[160];
            snprintf(what, sizeof what, "%dx%d comps %d %dx%d restart %d 1/%d, %d threads",
                     s->w, s->h, s->comps, s->hs, s->vs, s->restart, denoms[d], threads);
            /* declined only where there are fewer iMCU rows than two */
            int l = 8 / denoms[d] * s->vs, rows = (one.h + l - 1) / l;
            CHECK_MSG(taken == (rows >= 2), "%s: taken %d, %d iMCU rows", what, taken, rows);
            if (taken)
                same(&one, &par, what);
            free(par.px);
        }
        free(one.px);
    }
    free(j);
}

/* --------------------------------------------------------------- tests */

TEST(every_subsampling_and_odd_sizes)
{
    static const int samp[][2] = {{1, 1}, {2, 1}, {2, 2}, {1, 2}, {4, 1}};
    static const int sizes[][2] = {{37, 53}, {129, 97}, {250, 33}, {61, 200}, {8, 17}};
    unsigned seed = 1;
    for (size_t a = 0; a < sizeof samp / sizeof samp[0]; a++)
        for (size_t b = 0; b < sizeof sizes / sizeof sizes[0]; b++) {
            spec s = {.w = sizes[b][0], .h = sizes[b][1], .comps = 3, .hs = samp[a][0],
                      .vs = samp[a][1]};
            check_spec(&s, seed++);
        }
}

TEST(restart_markers)
{
    static const int restart[] = {1, 7, 64, -1, -2};
    static const int samp[][2] = {{1, 1}, {2, 2}, {2, 1}, {1, 2}};
    unsigned seed = 100;
    for (size_t r = 0; r < sizeof restart / sizeof restart[0]; r++)
        for (size_t a = 0; a < sizeof samp / sizeof samp[0]; a++) {
            spec s = {.w = 203, .h = 141, .comps = 3, .hs = samp[a][0], .vs = samp[a][1],
                      .restart = restart[r]};
            check_spec(&s, seed++);
        }
}

TEST(greyscale_and_cmyk)
{
    spec grey = {.w = 157, .h = 123, .comps = 1, .hs = 1, .vs = 1};
    check_spec(&grey, 7);
    spec grey_r = {.w = 64, .h = 300, .comps = 1, .hs = 1, .vs = 1, .restart = 3};
    check_spec(&grey_r, 8);
    spec cmyk = {.w = 141, .h = 99, .comps = 4, .hs = 1, .vs = 1};
    check_spec(&cmyk, 9);
    spec ycck = {.w = 141, .h = 99, .comps = 4, .hs = 2, .vs = 2, .ycck = 1};
    check_spec(&ycck, 10);
    spec ycck_r = {.w = 90, .h = 170, .comps = 4, .hs = 2, .vs = 1, .ycck = 1, .restart = -1};
    check_spec(&ycck_r, 11);
}

TEST(progressive_is_declined)
{
    spec s = {.w = 200, .h = 150, .comps = 3, .hs = 2, .vs = 2, .progressive = 1};
    size_t n;
    unsigned char *j = make_jpeg(&s, 5, &n);
    int taken = 1;
    decoded par = par_decode(j, n, 1, 2, tp_run_threads, &taken);
    CHECK(par.ok_header);
    CHECK_MSG(!taken, "a progressive file went to the threads");
    free(par.px);
    free(j);
}

/* Truncated anywhere, and corrupt bytes in the scan: the same verdict and
 * message as one thread, and the same pixels where the image is kept. */
TEST(truncated_and_corrupt)
{
    static const int samp[][2] = {{2, 2}, {1, 1}, {2, 1}};
    for (size_t a = 0; a < sizeof samp / sizeof samp[0]; a++)
        for (int restart = 0; restart < 2; restart++) {
            spec s = {.w = 180, .h = 170, .comps = 3, .hs = samp[a][0], .vs = samp[a][1],
                      .restart = restart ? -1 : 0};
            size_t n;
            unsigned char *j = make_jpeg(&s, 40u + (unsigned)a, &n);
            char what[160];
            for (int cut = 1; cut <= 20; cut++) {
                size_t m = cut == 20 ? n - 2 : n * (size_t)cut / 20;
                decoded one = tj_decode(j, m, 1);
                int taken = 0;
                decoded par = par_decode(j, m, 1, 2 + cut % 2,
                                         cut % 3 == 0 ? run_forward : cut % 3 == 1 ? tp_run_reversed
                                                                                    : tp_run_threads,
                                         &taken);
                snprintf(what, sizeof what, "%zu of %zu bytes, %dx%d restart %d", m, n,
                         s.hs, s.vs, restart);
                if (one.ok_header) {
                    CHECK_MSG(taken, "%s: declined", what);
                    same(&one, &par, what);
                }
                free(one.px);
                free(par.px);
            }
            unsigned seed = 12345u + (unsigned)a * 7u + (unsigned)restart;
            unsigned char *bad = malloc(n);
            CHECK(bad);
            for (int t = 0; t < 40; t++) {
                memcpy(bad, j, n);
                for (int k = 0; k < 1 + t % 4; k++) { /* a few bytes of the scan's second half */
                    seed = seed * 1103515245u + 12345u;
                    size_t at = n / 2 + (seed >> 8) % (n / 2 - 2);
                    bad[at] = (uint8_t)(t % 5 == 0 ? 0xFF : seed >> 24);
                }
                decoded one = tj_decode(bad, n, 1);
                int taken = 0;
                decoded par = par_decode(bad, n, 1, 2 + t % 3,
                                         t % 2 ? tp_run_reversed : run_forward, &taken);
                snprintf(what, sizeof what, "corrupt try %d, %dx%d restart %d", t, s.hs, s.vs,
                         restart);
                CHECK(one.ok_header && taken);
                same(&one, &par, what);
                free(one.px);
                free(par.px);
            }
            free(bad);
            free(j);
        }
}

/* The public decode with threads: the same image and the same errors as
 * without, a photo-sized file (over the size where threads start) and
 * its broken copies, with EXIF orientation applied after the decode. */
static void public_same_opts(const unsigned char *j, size_t n, const av_vision_decode_opts *o,
                             const char *what)
{
    av_vision_par par = {.run = tp_run_threads, .threads = 2};
    av_vision_decode_opts o1 = *o, o2 = *o;
    o2.par = &par;
    av_image *a = NULL, *b = NULL;
    char ea[256] = "", eb[256] = "";
    av_vision_status sa = av_vision_decode(j, n, &o1, &a, NULL, ea, sizeof ea);
    av_vision_status sb = av_vision_decode(j, n, &o2, &b, NULL, eb, sizeof eb);
    CHECK_MSG(sa == sb, "%s: status %d vs %d", what, sb, sa);
    CHECK_MSG(strcmp(ea, eb) == 0, "%s: \"%s\" vs \"%s\"", what, eb, ea);
    if (sa == AV_VISION_OK) {
        CHECK(a->width == b->width && a->height == b->height);
        CHECK_MSG(memcmp(a->data, b->data, (size_t)a->width * a->height * 3) == 0,
                  "%s: pixels differ", what);
    }
    av_img_free(a);
    av_img_free(b);
}

static void public_same(const unsigned char *j, size_t n, const char *what)
{
    av_vision_decode_opts o;
    memset(&o, 0, sizeof o);
    public_same_opts(j, n, &o, what);
}

TEST(public_decode_same_with_threads)
{
    spec s = {.w = 1023, .h = 777, .comps = 3, .hs = 2, .vs = 2};
    CHECK((long long)s.w * s.h >= AV_VISION__JPEG_PAR_MIN_PX);
    size_t n;
    unsigned char *j = make_jpeg(&s, 77, &n);
    public_same(j, n, "whole");
    public_same(j, n * 2 / 3, "truncated");
    unsigned char *bad = malloc(n);
    CHECK(bad);
    memcpy(bad, j, n);
    bad[n * 3 / 4] ^= 0x5A;
    bad[n * 3 / 4 + 1] = 0xFF;
    public_same(bad, n, "corrupt");
    free(bad);
    /* the split really happens on this file */
    decoded one = tj_decode(j, n, 1);
    int taken = 0;
    decoded par = par_decode(j, n, 1, 2, tp_run_threads, &taken);
    CHECK(taken);
    same(&one, &par, "photo-sized");
    free(one.px);
    free(par.px);
    free(j);
    /* CMYK as YCCK, converted to RGB after the parts */
    spec k = {.w = 805, .h = 700, .comps = 4, .hs = 2, .vs = 2, .ycck = 1, .restart = -1};
    j = make_jpeg(&k, 78, &n);
    public_same(j, n, "YCCK");
    public_same(j, n / 2, "YCCK truncated");
    free(j);
}

/* EXIF orientation turns the threads' image as it turns one thread's, and
 * reduce-on-decode (1/2 of a 2.2 Mpx file: still over the threads' size)
 * splits at the scaled iMCU rows. */
TEST(public_orientation_and_scale)
{
    spec s = {.w = 2050, .h = 1090, .comps = 3, .hs = 2, .vs = 2, .orientation = 6};
    size_t n;
    unsigned char *j = make_jpeg(&s, 91, &n);
    av_vision_decode_opts o;
    memset(&o, 0, sizeof o);
    av_vision_decode_info info;
    av_image *img = NULL;
    CHECK(av_vision_decode(j, n, &o, &img, &info, NULL, 0) == AV_VISION_OK);
    CHECK_EQ_INT(info.orientation, 6);
    CHECK(img->width == s.h && img->height == s.w); /* turned upright */
    av_img_free(img);
    public_same_opts(j, n, &o, "orientation 6");
    o.min_long_side = 1000;
    CHECK(av_vision_decode(j, n, &o, &img, &info, NULL, 0) == AV_VISION_OK);
    CHECK_EQ_INT(info.scale_denom, 2);
    CHECK((long long)img->width * img->height >= AV_VISION__JPEG_PAR_MIN_PX);
    av_img_free(img);
    public_same_opts(j, n, &o, "orientation 6, 1/2");
    free(j);
}

/* A progressive file whose second scan is preceded by stray bytes (a
 * warning) and a bogus Huffman table (an error): TurboJPEG reports that as
 * a warning, and its rows were never written. Whatever the verdict, the
 * image must not carry stale heap bytes: decoded after the heap held a
 * 0xA5 pattern, it equals the decode after a 0x5A pattern. */
static av_image *decode_after_pattern(const uint8_t *j, size_t n, size_t px, int pattern,
                                      av_vision_status *st)
{
    uint8_t *junk = malloc(px);
    CHECK(junk);
    memset(junk, pattern, px);
    free(junk); /* the decode's pixels may now reuse these bytes */
    av_vision_decode_opts o;
    memset(&o, 0, sizeof o);
    av_image *im = NULL;
    char err[256];
    *st = av_vision_decode(j, n, &o, &im, NULL, err, sizeof err);
    return im;
}

TEST(warning_then_error_leaves_no_stale_bytes)
{
    spec s = {.w = 640, .h = 480, .comps = 3, .hs = 2, .vs = 2, .progressive = 1};
    size_t n;
    unsigned char *j = make_jpeg(&s, 91, &n);
    /* the second SOS marker: the start of the second scan's header */
    size_t at = 0;
    int sos = 0;
    for (size_t i = 2; i + 1 < n && !at; i++)
        if (j[i] == 0xFF && j[i + 1] == 0xDA && ++sos == 2)
            at = i;
    CHECK(at > 0);
    static const uint8_t bad[] = {0x12, 0x34, /* stray bytes: "extraneous bytes" warning */
                                  0xFF, 0xC4, 0x00, 0x13, 0x00, /* DHT, 17 bytes */
                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    size_t m = n + sizeof bad;
    uint8_t *f = malloc(m);
    CHECK(f);
    memcpy(f, j, at);
    memcpy(f + at, bad, sizeof bad);
    memcpy(f + at + sizeof bad, j + at, n - at);
    /* the case this guards: TurboJPEG says "warning" although an error stopped it */
    tjhandle tj = tjInitDecompress();
    CHECK(tj);
    size_t px = (size_t)s.w * s.h * 3;
    uint8_t *raw = malloc(px);
    CHECK(raw);
    int rc = tjDecompress2(tj, f, (unsigned long)m, raw, s.w, s.w * 3, s.h, TJPF_RGB, 0);
    CHECK_MSG(rc != 0 && tjGetErrorCode(tj) == TJERR_WARNING,
              "the crafted file should read as a warning (rc %d: %s)", rc, tjGetErrorStr2(tj));
    free(raw);
    tjDestroy(tj);
    av_vision_status st1, st2;
    av_image *a = decode_after_pattern(f, m, px, 0xA5, &st1);
    av_image *b = decode_after_pattern(f, m, px, 0x5A, &st2);
    CHECK_EQ_INT(st1, st2);
    if (st1 == AV_VISION_OK) {
        CHECK(a && b);
        CHECK_MSG(memcmp(a->data, b->data, px) == 0, "stale heap bytes in the decoded pixels");
    }
    av_img_free(a);
    av_img_free(b);
    free(f);
    free(j);
}

TEST_MAIN(T(every_subsampling_and_odd_sizes), T(restart_markers), T(greyscale_and_cmyk),
          T(progressive_is_declined), T(truncated_and_corrupt),
          T(public_decode_same_with_threads), T(public_orientation_and_scale),
          T(warning_then_error_leaves_no_stale_bytes))
