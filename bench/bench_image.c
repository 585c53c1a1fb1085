/*
 * bench_image.c - the image stages around the engine on bench_pipeline's
 * one_bird.jpg (parrot.jpg scaled 2x, 1024x1858, q90), each old way and
 * new way side by side in one run:
 *   decode        av_vision_decode (libjpeg-turbo, accurate IDCT); with 2
 *                 threads in horizontal parts (jpeg_par.c)
 *   entropy only  libjpeg skipping every row but the last 16
 *                 (jpeg_skip_scanlines: Huffman decoding without IDCT,
 *                 upsampling or colour): its share of the decode is what
 *                 jpeg_par.c's ENTROPY_SHARE places the seam by
 *   det input     CenterNet's 512x512 NHWC float input: resize to 0..255
 *                 floats then fill_input (two passes, one thread) vs
 *                 av_detect__fill_input_tf (one pass, rows on the pool)
 *   draw          one box and its label (FreeType) on the photo
 *   zoom-out canvas  the mosaic canvas (scales 0.5 and 0.3 of the photo on a
 *                 photo-sized canvas of their mean colour): as before (double
 *                 sums, a pixel at a time, crops on one thread) vs integer
 *                 sums and row copies, then also the crops on a 2-thread
 *                 engine pool (its "cpu" is the calling thread's only)
 *   species crop  the whole photo (one_bird's 0.3-margin square, clamped) to
 *                 224x224 by the Pillow box resize on 1 thread: horizontal
 *                 pass row by row (chunk 1) and the vertical through memory
 *                 vs 8-row chunks and 32-byte register blocks (resize_x86.c)
 *   encode        the annotated JPEG q90: tjCompress2 (av_vision_encode_jpeg)
 *                 vs strips joined at restart markers (av_vision_encode_jpeg_par)
 * Each line: median thread CPU ms on 1 thread (what a loaded machine
 * disturbs least), then wall ms on 1 and 2 pool threads, median and min
 * (the min is what an idle machine gives; medians need one).
 *
 *   build/bench/bench_image [RUNS]   (run from the repo root; default 50)
 */
#include "bench_util.h"

#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jpeglib.h>
#include <turbojpeg.h>

#include "detect/img.h"
#include "detect/passes.h"
#include "detect/tensor.h"
#include "vision/vision.h"
#include "vision/vision_int.h" /* av_vision__resize_h_chunk */

static double thread_cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void pool_run(void *pool, av_vision_task_fn task, void *ctx, size_t n)
{
    pthreadpool_parallelize_1d((pthreadpool_t)pool, task, ctx, n, 0);
}

typedef struct stage_ctx {
    const unsigned char *jpg;
    size_t len;
    av_image *img;
    av_detect__manifest m;
    float *rs, *in;
    av_vision_font *font;
    uint8_t crop[224 * 224 * 3];
    av_nn_pool *npool; /* the engine's pool (2 threads): the zoom-out canvas's crops */
    int which; /* 0 decode, 1 entropy only, 2 input two-pass, 3 input one pass, 4 tj
                * encode, 5 strips */
} stage_ctx;

/* Entropy-decode the whole file, reconstruct only its last 16 rows. */
static int entropy_only(const unsigned char *jpg, size_t len)
{
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr e;
    d.err = jpeg_std_error(&e); /* (a bench on its own good file: errors exit) */
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, jpg, (unsigned long)len);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_EXT_RGB;
    jpeg_start_decompress(&d);
    JDIMENSION skip = d.output_height > 16 ? d.output_height - 16 : 0;
    int rc = jpeg_skip_scanlines(&d, skip) != skip;
    unsigned char *row = malloc((size_t)d.output_width * 3);
    while (row && d.output_scanline < d.output_height)
        jpeg_read_scanlines(&d, &row, 1);
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    free(row);
    return rc || !row;
}

static int stage(stage_ctx *c, const av_vision_par *par)
{
    char err[256];
    av_nn_tensor_info ti = {.dtype = AV_NN_F32, .rank = 4};
    unsigned char *out = NULL;
    size_t n = 0;
    int rc = 0;
    switch (c->which) {
    case 0: {
        av_image *im = NULL;
        av_vision_decode_opts o = {.par = par};
        rc = av_vision_decode(c->jpg, c->len, &o, &im, NULL, err, sizeof err) != AV_VISION_OK;
        av_img_free(im);
        break;
    }
    case 1: rc = entropy_only(c->jpg, c->len); break;
    case 2: {
        av_detect__img di = av_detect__img_wrap(c->img->width, c->img->height, c->img->data);
        rc = av_detect__img_resize_tf(&di, 512, 512, c->rs);
        av_detect__fill_input(&c->m, &ti, c->rs, NULL, c->in);
        break;
    }
    case 3: rc = av_detect__fill_input_tf(&c->m, c->img, 512, 512, par, c->in); break;
    case 6: {
        av_vision_box b = {.x1 = 200, .y1 = 400, .x2 = 800, .y2 = 1500,
                           .color = av_vision_palette(0), .label = "Grey Parrot 97%"};
        rc = av_vision_draw_boxes(c->img, &b, 1, c->font) != AV_VISION_OK;
        break;
    }
    case 7: /* the species crop of one_bird.jpg: its 0.3-margin square is the whole photo */
    case 8: {
        av_vision_rect box = {0, 0, (float)c->img->width, (float)c->img->height};
        av_vision__resize_h_chunk(c->which == 7 ? 1 : 0);
        av_vision__resize_v_plain(c->which == 7);
        rc = av_vision_resize_pil_box_into(c->img, &box, 224, 224, c->crop, err, sizeof err) !=
             AV_VISION_OK;
        av_vision__resize_h_chunk(0);
        av_vision__resize_v_plain(0);
        break;
    }
    case 9: /* zoom-out's mosaic canvas (scales 0.5 and 0.3, CenterNet's 512 input): */
    case 10: /* as before (one thread, double sums, pixel fill), by rows, and on the pool */
    case 11: {
        static const double scales[2] = {0.5, 0.3};
        av_detect__mosaic mo;
        av_detect__mosaic_geom(c->img->width, c->img->height, 512, 512, 1, scales, 2,
                               AV_DETECT__MOSAIC_GAP, &mo);
        av_detect__img di = av_detect__img_wrap(c->img->width, c->img->height, c->img->data);
        uint8_t *canvas = NULL;
        av_detect__canvas_plain(c->which == 9);
        rc = av_detect__mosaic_canvas_on(&di, &mo, c->which == 11 ? c->npool : NULL, &canvas);
        av_detect__canvas_plain(0);
        free(canvas);
        break;
    }
    case 4:
        rc = av_vision_encode_jpeg(c->img, 90, &out, &n, err, sizeof err) != AV_VISION_OK;
        break;
    default:
        rc = av_vision_encode_jpeg_par(c->img, 90, par, &out, &n, err, sizeof err) != AV_VISION_OK;
        break;
    }
    free(out);
    return rc;
}

static int line(stage_ctx *c, const char *name, int runs, pthreadpool_t pool)
{
    double *cpu = calloc((size_t)runs, sizeof *cpu), *w1 = calloc((size_t)runs, sizeof *w1);
    double *w2 = calloc((size_t)runs, sizeof *w2);
    av_vision_par one = {.threads = 1};
    av_vision_par two = {.run = pool_run, .pool = pool, .threads = 2};
    int rc = !cpu || !w1 || !w2;
    for (int i = -2; i < runs && !rc; i++) {
        double a = thread_cpu_ms(), t = bench_now_ms();
        rc |= stage(c, &one);
        if (i >= 0)
            cpu[i] = thread_cpu_ms() - a, w1[i] = bench_now_ms() - t;
        t = bench_now_ms();
        rc |= stage(c, &two);
        if (i >= 0)
            w2[i] = bench_now_ms() - t;
    }
    if (!rc) {
        double m1 = w1[0], m2 = w2[0];
        for (int i = 1; i < runs; i++)
            m1 = w1[i] < m1 ? w1[i] : m1, m2 = w2[i] < m2 ? w2[i] : m2;
        printf("%-30s cpu %6.2f ms | wall 1 thr %6.2f (min %6.2f) | 2 thr %6.2f (min %6.2f)\n",
               name, bench_median(cpu, runs), bench_median(w1, runs), m1, bench_median(w2, runs),
               m2);
    }
    free(cpu);
    free(w1);
    free(w2);
    return rc;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 && atoi(argv[1]) > 0 ? atoi(argv[1]) : 50;
    const char *shared = getenv("AVIARY_SHARED") ? getenv("AVIARY_SHARED") : "../shared";
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/testdata/images/parrot.jpg", shared);
    FILE *f = fopen(path, "rb");
    unsigned char raw[1 << 20];
    size_t rl = f ? fread(raw, 1, sizeof raw, f) : 0;
    if (f)
        fclose(f);
    av_image *small = NULL;
    if (!rl || av_vision_decode(raw, rl, NULL, &small, NULL, err, sizeof err) != AV_VISION_OK) {
        fprintf(stderr, "bench_image: cannot read %s\n", path);
        return 1;
    }
    /* as bench_pipeline's one_bird.jpg: nearest-neighbour 2x, q90 */
    av_image *img = av_img_new(small->width * 2, small->height * 2);
    stage_ctx c = {.img = img};
    if (!img)
        return 1;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            memcpy(img->data + ((size_t)y * img->width + x) * 3,
                   small->data + ((size_t)(y / 2) * small->width + x / 2) * 3, 3);
    av_img_free(small);
    unsigned char *jpg = NULL;
    if (av_vision_encode_jpeg(img, 90, &jpg, &c.len, err, sizeof err) != AV_VISION_OK)
        return 1;
    c.jpg = jpg;
    c.m.in_w = c.m.in_h = 512; /* CenterNet: NHWC, 0..255 */
    for (int k = 0; k < 3; k++)
        c.m.std[k] = 1.0f;
    c.rs = malloc(512 * 512 * 3 * sizeof(float));
    c.in = malloc(512 * 512 * 3 * sizeof(float));
    pthreadpool_t pool = pthreadpool_create(2);
    if (av_nn_pool_new(2, &c.npool, err, sizeof err) != AV_NN_OK)
        return 1;
    if (!c.rs || !c.in || !pool)
        return 1;
    printf("one_bird.jpg %dx%d, %zu bytes; %d runs\n", img->width, img->height, c.len, runs);
    static const char *names[] = {"decode",
                                  "decode: entropy only",
                                  "det input: resize + fill",
                                  "det input: one pass",
                                  "encode: tjCompress2",
                                  "encode: strips (restarts)",
                                  "draw: box + label",
                                  "species crop: as before",
                                  "species crop: chunks, blocks",
                                  "zoom-out canvas: plain",
                                  "zoom-out canvas: rows",
                                  "zoom-out canvas: rows, pool"};
    if (av_vision_font_open(NULL, &c.font, err, sizeof err) != AV_VISION_OK)
        fprintf(stderr, "bench_image: %s (the draw line has no label)\n", err);
    int rc = 0;
    for (c.which = 0; c.which < 12 && !rc; c.which++)
        rc = line(&c, names[c.which], runs, pool);
    av_vision_font_close(c.font);
    pthreadpool_destroy(pool);
    av_nn_pool_free(c.npool);
    free(c.rs);
    free(c.in);
    free(jpg);
    av_img_free(img);
    return rc;
}
