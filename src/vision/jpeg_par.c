/*
 * jpeg_par.c - one baseline JPEG decoded by several threads, the same
 * pixels and the same verdict as one tjDecompress2 call.
 *
 * Entropy decoding is sequential, but the IDCT, upsampling and colour
 * conversion (~45 % of a q90 photo's decode) are not. Part j of P runs its
 * own decompressor on the same bytes, skips rows [0, k_j) with
 * jpeg_skip_scanlines (entropy decoding only; libjpeg-turbo re-reads the
 * iMCU row before k_j, so fancy upsampling's context rows at the seam come
 * out as in a whole decode) and decodes rows [k_j, k_j+1) into the
 * caller's buffer. Part j then costs h * k_j+1 + i * (k_j+1 - k_j)
 * (h: entropy share, i = 1 - h, per image), so the seams are placed to
 * make the costs equal (parts_split).
 *
 * A part that starts late (its thread busy elsewhere: a loaded machine)
 * would make the decode slower than one thread, so part j takes its rows
 * only if it can still finish first: if part j-1 has not yet passed row
 * i * k_j (what part j-1 would still need for [k_j, k_j+1) is then more
 * than part j's skip and rows). It claims its seam with a compare-and-swap;
 * part j-1, reaching a seam nobody claimed, claims it itself and goes on
 * decoding through it. Nobody waits, every row is decoded once, and the
 * part that reaches the last row is the one that read the whole file.
 *
 * The verdict is that of the part that reached the last row: it read every
 * byte of the file as the single decode does (header, every MCU, then
 * jpeg_finish_decompress to EOI), and warnings and errors come only from
 * reading the data, so it saw the same first warning or error; or, when an
 * error stopped the parts, the first failed part's (the same error, met
 * in the same data). Error reporting copies TurboJPEG's
 * (first warning's text, an error's text replacing it, "warned" sticky).
 *
 * Settings as tjDecompress2 with TJFLAG_LIMITSCANS: accurate integer IDCT
 * (libjpeg's default, JDCT_ISLOW), fancy upsampling, scale 1/scale_denom.
 * Progressive and other multi-scan files are declined (the caller decodes
 * them on one thread, with TurboJPEG's scan limit): all their entropy
 * decoding happens in jpeg_start_decompress, in every part.
 */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "vision/vision_int.h"

#define PARTS_MAX 16
/* Entropy decoding's share of a baseline photo's decode: 3.75 of 6.70 CPU
 * ms on bench_pipeline's one_bird.jpg (1024x1858 q90 4:2:0, libjpeg-turbo
 * 2.1, AVX2; bench_image's "entropy only" line). It places the seams
 * (parts_split): two parts split at 1 / (2 - h) = 69 % of the rows. */
#define ENTROPY_SHARE 0.55

typedef struct par_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    av_vision__jpeg_verdict *v;
} par_err;

typedef struct part {
    int y0, y1; /* output rows [y0, y1) when every part takes its own */
    int ended;  /* 1: this part decoded the last row and read to EOI */
    av_vision__jpeg_verdict v;
    atomic_int seam; /* part j's first row: 0 open, 1 part j took it, 2 part j-1 went through */
    atomic_int row;  /* the rows this part has decoded up to (output_scanline) */
} part;

typedef struct par_job {
    const uint8_t *d;
    size_t n;
    int scale_denom, cmyk, nparts;
    uint8_t *dst;
    size_t stride;
    part p[PARTS_MAX];
} par_job;

static void on_error(j_common_ptr c)
{
    par_err *e = (par_err *)(void *)c->err;
    e->pub.format_message(c, e->v->msg);
    e->v->failed = 1;
    longjmp(e->jb, 1);
}

/* As libjpeg's emit_message with trace level 0, which TurboJPEG keeps:
 * the first warning's text is recorded, later ones only counted. */
static void on_message(j_common_ptr c, int level)
{
    par_err *e = (par_err *)(void *)c->err;
    if (level >= 0)
        return;
    if (e->pub.num_warnings == 0)
        e->pub.format_message(c, e->v->msg);
    e->pub.num_warnings++;
    e->v->warned = 1;
}

static void no_output(j_common_ptr c)
{
    (void)c; /* a library never writes to stderr */
}

static void err_init(struct jpeg_decompress_struct *c, par_err *e, av_vision__jpeg_verdict *v)
{
    c->err = jpeg_std_error(&e->pub);
    e->pub.error_exit = on_error;
    e->pub.emit_message = on_message;
    e->pub.output_message = no_output;
    e->v = v;
}

/* The settings of tjDecompress2 (TJPF_RGB or TJPF_CMYK, no flags). */
static void settings(struct jpeg_decompress_struct *c, int cmyk, int scale_denom)
{
    c->out_color_space = cmyk ? JCS_CMYK : JCS_EXT_RGB;
    c->scale_num = 1;
    c->scale_denom = (unsigned)scale_denom;
}

/* Part i > 0: take its rows only if the part before has not got so far
 * that going on through them would finish sooner (see the top comment). */
static int take_seam(par_job *job, int i)
{
    int before = atomic_load_explicit(&job->p[i - 1].row, memory_order_relaxed);
    int open = 0;
    return before < (1.0 - ENTROPY_SHARE) * job->p[i].y0 &&
           atomic_compare_exchange_strong(&job->p[i].seam, &open, 1);
}

static void decode_part(void *ctx, size_t i)
{
    par_job *job = ctx;
    part *p = &job->p[i];
    if (i > 0 && !take_seam(job, (int)i))
        return; /* the part before decodes these rows */
    struct jpeg_decompress_struct c;
    par_err e;
    err_init(&c, &e, &p->v);
    if (setjmp(e.jb)) {
        jpeg_destroy_decompress(&c);
        return;
    }
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, job->d, (unsigned long)job->n);
    jpeg_read_header(&c, TRUE);
    settings(&c, job->cmyk, job->scale_denom);
    jpeg_start_decompress(&c);
    if (p->y0 > 0 && jpeg_skip_scanlines(&c, (JDIMENSION)p->y0) != (JDIMENSION)p->y0) {
        snprintf(p->v.msg, sizeof p->v.msg, "cannot skip to row %d", p->y0);
        p->v.failed = 1;
        jpeg_destroy_decompress(&c);
        return;
    }
    JSAMPROW rows[16];
    int h = (int)c.output_height, next = (int)i + 1, stop = p->y1;
    while ((int)c.output_scanline < h) {
        int y = (int)c.output_scanline;
        if (y == stop) { /* part next's first row: go on unless it took it */
            int open = 0;
            if (!atomic_compare_exchange_strong(&job->p[next].seam, &open, 2))
                break;
            stop = job->p[next].y1;
            next++;
            continue;
        }
        int want = stop - y < 16 ? stop - y : 16;
        for (int k = 0; k < want; k++)
            rows[k] = job->dst + (size_t)(y + k) * job->stride;
        if (jpeg_read_scanlines(&c, rows, (JDIMENSION)want) == 0)
            break; /* cannot happen with a memory source; never spin */
        atomic_store_explicit(&p->row, (int)c.output_scanline, memory_order_relaxed);
    }
    if ((int)c.output_scanline == h) {
        jpeg_finish_decompress(&c); /* reads to EOI, as tjDecompress2 */
        p->ended = 1;
    }
    jpeg_destroy_decompress(&c);
}

/*
 * Seams for P parts of H rows, L rows per iMCU row: part j ends at e_j
 * (a fraction of the image) with e_j = C + i * e_j-1, e_-1 = 0, e_P-1 = 1
 * (every part costs C, see the top comment), rounded to whole iMCU rows,
 * at least one each: a last part with no rows to read would skip to the
 * end, which libjpeg does without decoding, and miss the file's warnings.
 */
static void parts_split(part *p, int nparts, int h, int l)
{
    double i = 1.0 - ENTROPY_SHARE, sum = 0, pw = 1;
    for (int j = 0; j < nparts; j++, pw *= i)
        sum += pw;
    double cost = 1.0 / sum, e = 0;
    int rows = (h + l - 1) / l, r = 0; /* iMCU rows; nparts <= rows */
    for (int j = 0; j < nparts; j++) {
        e = cost + i * e;
        int end = (int)(e * rows + 0.5);
        if (end > rows - (nparts - 1 - j))
            end = rows - (nparts - 1 - j);
        if (end < r + 1)
            end = r + 1;
        p[j].y0 = r * l;
        p[j].y1 = j == nparts - 1 ? h : end * l;
        r = end;
    }
}

int av_vision__jpeg_decode_par(const uint8_t *d, size_t n, int scale_denom, int cmyk,
                               const av_vision_par *par, uint8_t *dst, int w, int h,
                               av_vision__jpeg_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (!par || !par->run || par->threads < 2)
        return 0;
    /* The header once more, here: is it one interleaved sequential scan,
     * and how many output rows make an iMCU row at this scale? */
    struct jpeg_decompress_struct c;
    par_err e;
    av_vision__jpeg_verdict hv;
    memset(&hv, 0, sizeof hv);
    err_init(&c, &e, &hv);
    if (setjmp(e.jb)) {
        jpeg_destroy_decompress(&c);
        return 0; /* the one-thread decode reports it */
    }
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, d, (unsigned long)n);
    jpeg_read_header(&c, TRUE);
    settings(&c, cmyk, scale_denom);
    jpeg_calc_output_dimensions(&c);
    int ok = !c.progressive_mode && c.comps_in_scan == c.num_components &&
             (int)c.output_width == w && (int)c.output_height == h;
    int l = c.max_v_samp_factor * c.min_DCT_scaled_size;
    jpeg_destroy_decompress(&c);
    if (!ok || l < 1)
        return 0;

    par_job *job = calloc(1, sizeof *job);
    if (!job)
        return 0;
    int nparts = par->threads;
    if (nparts > PARTS_MAX)
        nparts = PARTS_MAX;
    if (nparts > (h + l - 1) / l)
        nparts = (h + l - 1) / l;
    if (nparts < 2) {
        free(job);
        return 0;
    }
    job->d = d;
    job->n = n;
    job->scale_denom = scale_denom;
    job->cmyk = cmyk;
    job->nparts = nparts;
    job->dst = dst;
    job->stride = (size_t)w * (cmyk ? 4 : 3);
    for (int j = 0; j < nparts; j++) {
        atomic_init(&job->p[j].seam, 0);
        atomic_init(&job->p[j].row, 0);
    }
    parts_split(job->p, nparts, h, l);
    par->run(par->pool, decode_part, job, (size_t)nparts);
    int ended = -1, failed = -1;
    for (int j = nparts - 1; j >= 0; j--) {
        if (job->p[j].v.failed)
            failed = j;
        if (job->p[j].ended)
            ended = j;
    }
    if (failed >= 0)
        *v = job->p[failed].v;
    else if (ended >= 0)
        *v = job->p[ended].v;
    else { /* cannot happen: some part decodes the last rows */
        v->failed = 1;
        snprintf(v->msg, sizeof v->msg, "no part of the decode reached the last row");
    }
    free(job);
    return 1;
}
