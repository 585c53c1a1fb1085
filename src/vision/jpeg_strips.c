/*
 * jpeg_strips.c - baseline JPEG encoded in horizontal strips on several
 * threads and joined into one file.
 *
 * One 2 Mpx photo takes ~5.7 ms to encode at q90 on one core, the largest
 * part of an annotated request after the detector. A JPEG scan cannot be
 * split unless it has restart markers: at each one the coder pads to a byte
 * and resets the DC predictions, so what follows is coded independently of
 * what came before. We ask for a restart after every MCU row (16 pixel rows
 * at 4:2:0), encode each strip of whole MCU rows as its own JPEG with the
 * same settings (same tables: no optimised Huffman coding), keep the first
 * strip's headers with the full height patched into SOF, and append every
 * strip's entropy-coded data, with the restart marker due between strips
 * and each strip's own markers renumbered to their place in the whole
 * (RST0..7 count modulo 8). The result is byte for byte what one encoder
 * with restart_in_rows = 1 writes, whatever the strip count, and decodes
 * to the same pixels as av_vision_encode_jpeg (the coefficients are the
 * same: downsampling and the DCT never look across an MCU row).
 *
 * Settings follow TurboJPEG's tjCompress2 (what av_vision_encode_jpeg
 * uses): libjpeg defaults, quality with baseline tables, JDCT_FASTEST below
 * quality 96, YCbCr 2x2/1x1/1x1, JFIF header.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "vision/vision_int.h"

#define MCU_ROWS_PX 16 /* pixel rows per MCU row at 4:2:0 */
#define STRIPS_MAX 64

typedef struct strip_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
} strip_err;

typedef struct strip {
    int y0, y1;         /* pixel rows [y0, y1) */
    unsigned char *buf; /* the strip as a JPEG file, ours (see strip_dest) */
    size_t len, cap;
    int failed;         /* 1: libjpeg error, msg says which */
    char msg[JMSG_LENGTH_MAX];
} strip;

/* A destination growing s->buf with realloc: unlike libjpeg's mem dest,
 * the buffer stays ours to free when an error longjmps out. */
typedef struct strip_dest {
    struct jpeg_destination_mgr pub;
    strip *s;
} strip_dest;

typedef struct strips_job {
    const av_image *img;
    int quality;
    strip *s;
} strips_job;

static void on_error(j_common_ptr c)
{
    longjmp(((strip_err *)(void *)c->err)->jb, 1);
}

static void no_output(j_common_ptr c)
{
    (void)c; /* warnings are not printed: a library never writes to stderr */
}

static void dest_init(j_compress_ptr c)
{
    strip_dest *d = (strip_dest *)(void *)c->dest;
    d->pub.next_output_byte = d->s->buf;
    d->pub.free_in_buffer = d->s->cap;
}

static boolean dest_grow(j_compress_ptr c)
{
    strip_dest *d = (strip_dest *)(void *)c->dest;
    strip *s = d->s;
    size_t cap = s->cap * 2;
    unsigned char *b = cap > s->cap ? realloc(s->buf, cap) : NULL;
    if (!b)
        ERREXIT1(c, JERR_OUT_OF_MEMORY, 0);
    d->pub.next_output_byte = b + s->cap; /* the whole old buffer is full */
    d->pub.free_in_buffer = cap - s->cap;
    s->buf = b;
    s->cap = cap;
    return TRUE;
}

static void dest_term(j_compress_ptr c)
{
    strip_dest *d = (strip_dest *)(void *)c->dest;
    d->s->len = d->s->cap - d->pub.free_in_buffer;
}

/* Encode rows [s->y0, s->y1) of job->img into s->buf; the task of one strip. */
static void encode_strip(void *ctx, size_t i)
{
    const strips_job *job = ctx;
    strip *s = &job->s[i];
    const av_image *img = job->img;
    struct jpeg_compress_struct c;
    strip_err je;
    c.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = on_error;
    je.pub.output_message = no_output;
    if (setjmp(je.jb)) {
        je.pub.format_message((j_common_ptr)&c, s->msg);
        s->failed = 1;
        jpeg_destroy_compress(&c);
        return;
    }
    jpeg_create_compress(&c);
    /* 2 bits per pixel: a q90 photo takes ~1.9 (grown when short) */
    s->cap = (size_t)img->width * (size_t)(s->y1 - s->y0) / 4 + 4096;
    s->buf = malloc(s->cap);
    if (!s->buf)
        ERREXIT1(&c, JERR_OUT_OF_MEMORY, 0);
    strip_dest d = {.pub = {.init_destination = dest_init,
                            .empty_output_buffer = dest_grow,
                            .term_destination = dest_term},
                    .s = s};
    c.dest = &d.pub;
    c.image_width = (JDIMENSION)img->width;
    c.image_height = (JDIMENSION)(s->y1 - s->y0);
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, job->quality, TRUE);
    c.dct_method = job->quality >= 96 ? JDCT_ISLOW : JDCT_FASTEST; /* as tjCompress2 */
    jpeg_set_colorspace(&c, JCS_YCbCr);
    c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = 2;
    c.comp_info[1].h_samp_factor = c.comp_info[1].v_samp_factor = 1;
    c.comp_info[2].h_samp_factor = c.comp_info[2].v_samp_factor = 1;
    c.restart_in_rows = 1;
    jpeg_start_compress(&c, TRUE);
    size_t stride = (size_t)img->width * 3;
    JSAMPROW rows[MCU_ROWS_PX];
    while (c.next_scanline < c.image_height) {
        JDIMENSION n = c.image_height - c.next_scanline;
        if (n > MCU_ROWS_PX)
            n = MCU_ROWS_PX;
        for (JDIMENSION k = 0; k < n; k++)
            rows[k] = img->data + (size_t)(s->y0 + (int)(c.next_scanline + k)) * stride;
        jpeg_write_scanlines(&c, rows, n);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
}

/*
 * Where strip file b (n bytes) has its entropy-coded data: [*ent, n - 2),
 * before the closing EOI; *sof is the offset of the SOF marker. 0, or -1
 * when the file is not laid out as libjpeg writes it.
 */
static int strip_layout(const unsigned char *b, size_t n, size_t *sof, size_t *ent)
{
    *sof = 0;
    if (n < 4 || b[0] != 0xFF || b[1] != 0xD8 || b[n - 2] != 0xFF || b[n - 1] != 0xD9)
        return -1;
    size_t i = 2;
    while (i + 4 <= n && b[i] == 0xFF) {
        unsigned mk = b[i + 1];
        size_t len = (size_t)b[i + 2] << 8 | b[i + 3];
        if (len < 2 || i + 2 + len > n - 2)
            return -1;
        if (mk == 0xC0 && len >= 8) /* SOF0 with its height (offset 5) */
            *sof = i;
        if (mk == 0xDA) {
            *ent = i + 2 + len;
            return *sof ? 0 : -1; /* (offset 0 is SOI: 0 means none seen) */
        }
        i += 2 + len;
    }
    return -1;
}

/* Default parallel for: every task on the calling thread. */
static void run_here(void *pool, av_vision_task_fn task, void *ctx, size_t n)
{
    (void)pool;
    for (size_t i = 0; i < n; i++)
        task(ctx, i);
}

/* Join the strips (each a whole JPEG) into one file; see the top comment. */
static av_vision_status join(const strip *s, int n, int height, int mcu_rows_per,
                             unsigned char **buf, size_t *len, char *err, size_t errlen)
{
    size_t sof[STRIPS_MAX], ent[STRIPS_MAX], total = 2;
    for (int k = 0; k < n; k++) {
        if (strip_layout(s[k].buf, s[k].len, &sof[k], &ent[k]))
            return av_vision__err(err, errlen, AV_VISION_E_ENCODE,
                                  "encode JPEG: strip %d is not a baseline JPEG", k);
        total += (k ? 2 : ent[0]) + (s[k].len - 2 - ent[k]);
    }
    unsigned char *out = malloc(total);
    if (!out)
        return av_vision__err(err, errlen, AV_VISION_E_NOMEM, "out of memory for JPEG output");
    memcpy(out, s[0].buf, ent[0]);
    out[sof[0] + 5] = (unsigned char)(height >> 8); /* SOF: FF C0 len(2) P(1) Y(2) */
    out[sof[0] + 6] = (unsigned char)height;
    size_t o = ent[0];
    for (int k = 0; k < n; k++) {
        unsigned first = (unsigned)(k * mcu_rows_per); /* restarts before this strip */
        if (k) {
            out[o++] = 0xFF;
            out[o++] = (unsigned char)(0xD0 + ((first - 1) & 7));
        }
        const unsigned char *e = s[k].buf + ent[k];
        size_t m = s[k].len - 2 - ent[k];
        memcpy(out + o, e, m);
        if (first & 7) /* renumber this strip's own restart markers */
            for (size_t i = 0; i + 1 < m; i++)
                if (e[i] == 0xFF) {
                    if (e[i + 1] >= 0xD0 && e[i + 1] <= 0xD7)
                        out[o + i + 1] = (unsigned char)(0xD0 + ((e[i + 1] - 0xD0 + first) & 7));
                    i++; /* FF 00 (a stuffed data byte) or a marker: skip both */
                }
        o += m;
    }
    out[o++] = 0xFF;
    out[o++] = 0xD9;
    *buf = out;
    *len = o;
    return AV_VISION_OK;
}

av_vision_status av_vision_encode_jpeg_par(const av_image *img, int quality,
                                           const av_vision_par *par, unsigned char **buf,
                                           size_t *len, char *err, size_t errlen)
{
    av_vision_status st = av_vision__encode_jpeg_args(img, &quality, buf, len, err, errlen);
    if (st)
        return st;
    /* Two strips per thread: pieces small enough to even out a busy core. */
    int mcu_rows = (img->height + MCU_ROWS_PX - 1) / MCU_ROWS_PX;
    int want = par && par->run && par->threads > 1 ? par->threads * 2 : 1;
    if (par && par->strips > 0)
        want = par->strips;
    if (want > mcu_rows)
        want = mcu_rows;
    if (want > STRIPS_MAX)
        want = STRIPS_MAX;
    int per = (mcu_rows + want - 1) / want;
    int n = (mcu_rows + per - 1) / per;
    strip s[STRIPS_MAX];
    memset(s, 0, sizeof s);
    for (int k = 0; k < n; k++) {
        s[k].y0 = k * per * MCU_ROWS_PX;
        s[k].y1 = (k + 1) * per * MCU_ROWS_PX < img->height ? (k + 1) * per * MCU_ROWS_PX
                                                             : img->height;
    }
    strips_job job = {.img = img, .quality = quality, .s = s};
    if (n > 1 && par && par->run)
        par->run(par->pool, encode_strip, &job, (size_t)n);
    else
        run_here(NULL, encode_strip, &job, (size_t)n);
    st = AV_VISION_OK;
    for (int k = 0; k < n && st == AV_VISION_OK; k++)
        if (s[k].failed || !s[k].buf)
            st = av_vision__err(err, errlen, AV_VISION_E_ENCODE, "JPEG encoding failed: %s",
                                s[k].failed ? s[k].msg : "no output");
    if (st == AV_VISION_OK && n == 1) { /* one strip is the whole file */
        unsigned char *b = realloc(s[0].buf, s[0].len);
        *buf = b ? b : s[0].buf;
        *len = s[0].len;
        s[0].buf = NULL;
    } else if (st == AV_VISION_OK) {
        st = join(s, n, img->height, per, buf, len, err, errlen);
    }
    for (int k = 0; k < n; k++)
        free(s[k].buf);
    return st;
}
