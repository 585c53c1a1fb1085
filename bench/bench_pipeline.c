/*
 * bench_pipeline.c - per-stage latency of the bird pipeline (decode, detect,
 * species, draw): median of N runs (default 30) with 1 and 2 engine threads,
 * on two 1-2 Mpx JPEGs made at start-up from ../shared test images:
 *   one_bird.jpg    parrot.jpg scaled 2x (1024x1858, 1.9 Mpx)
 *   three_birds.jpg bird.bmp tiled 3x1, scaled 1.6x (2457x548, 1.3 Mpx)
 * The JPEGs are built with TurboJPEG here (bench-only pixel plumbing: the
 * pipeline itself decodes through src/vision).
 *
 *   build/bench/bench_pipeline [RUNS] [MODELS_DIR]   (run from the repo root)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

#include "detect/detect.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b ? (size_t)n : 0;
    return b;
}

/* Decode a JPEG to RGB (bench set-up only). */
static unsigned char *jpeg_rgb(const unsigned char *jpg, size_t len, int *w, int *h)
{
    tjhandle t = tjInitDecompress();
    int ss, cs;
    unsigned char *rgb = NULL;
    if (t && !tjDecompressHeader3(t, jpg, (unsigned long)len, w, h, &ss, &cs)) {
        rgb = malloc((size_t)*w * (size_t)*h * 3);
        if (rgb && tjDecompress2(t, jpg, (unsigned long)len, rgb, *w, 0, *h, TJPF_RGB, 0)) {
            free(rgb);
            rgb = NULL;
        }
    }
    if (t)
        tjDestroy(t);
    return rgb;
}

/* Uncompressed 24-bit BMP (bottom-up, any header size) to RGB; set-up only. */
static unsigned char *bmp_rgb(const unsigned char *b, size_t len, int *w, int *h)
{
    if (len < 54 || b[0] != 'B' || b[1] != 'M')
        return NULL;
    unsigned off = b[10] | b[11] << 8 | b[12] << 16 | (unsigned)b[13] << 24;
    *w = b[18] | b[19] << 8 | b[20] << 16 | b[21] << 24;
    *h = b[22] | b[23] << 8 | b[24] << 16 | b[25] << 24;
    if (*w <= 0 || *h <= 0 || *w > 10000 || *h > 10000 || b[28] != 24)
        return NULL;
    size_t stride = ((size_t)*w * 3 + 3) & ~(size_t)3;
    if (off + stride * (size_t)*h > len)
        return NULL;
    unsigned char *rgb = malloc((size_t)*w * (size_t)*h * 3);
    for (int y = 0; rgb && y < *h; y++)
        for (int x = 0; x < *w; x++)
            for (int c = 0; c < 3; c++)
                rgb[((size_t)y * *w + x) * 3 + c] = b[off + stride * (size_t)(*h - 1 - y) + x * 3 + 2 - c];
    return rgb;
}

/* Nearest-neighbour tile (tx x 1) and scale by s, then JPEG q90. */
static unsigned char *make_jpeg(const unsigned char *rgb, int w, int h, int tx, double s,
                                size_t *len, int *ow, int *oh)
{
    *ow = (int)(w * tx * s);
    *oh = (int)(h * s);
    unsigned char *big = malloc((size_t)*ow * (size_t)*oh * 3);
    if (!big)
        return NULL;
    for (int y = 0; y < *oh; y++)
        for (int x = 0; x < *ow; x++) {
            int sx = (int)(x / s) % w, sy = (int)(y / s);
            memcpy(big + ((size_t)y * *ow + x) * 3, rgb + ((size_t)sy * w + sx) * 3, 3);
        }
    tjhandle t = tjInitCompress();
    unsigned char *jpg = NULL;
    unsigned long jl = 0;
    int bad = !t || tjCompress2(t, big, *ow, 0, *oh, TJPF_RGB, &jpg, &jl, TJSAMP_420, 90, 0);
    if (t)
        tjDestroy(t);
    free(big);
    if (bad)
        return NULL;
    *len = jl;
    return jpg; /* freed with tjFree */
}

static int bench(const char *models, const char *name, const unsigned char *jpg, size_t len,
                 int w, int h, int threads, int runs)
{
    av_detect_open_opts oo = {.threads = threads, .max_contexts = 1};
    av_detect_pipeline *p;
    char err[1024];
    if (av_detect_pipeline_open(models, &oo, &p, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return -1;
    }
    double *st[5];
    for (int k = 0; k < 5; k++)
        st[k] = calloc((size_t)runs, sizeof(double));
    av_detect_run_opts ro = {.annotate = 1};
    int birds = 0, rc = 0;
    for (int i = -2; i < runs && !rc; i++) { /* two warm-up runs */
        av_detect_result r;
        if (av_detect_run(p, jpg, len, &ro, &r, err, sizeof err)) {
            fprintf(stderr, "bench: %s: %s\n", name, err);
            rc = -1;
            break;
        }
        if (i >= 0) {
            st[0][i] = r.ms_decode, st[1][i] = r.ms_detect, st[2][i] = r.ms_species;
            st[3][i] = r.ms_draw, st[4][i] = r.ms_total;
        }
        birds = r.n_dets;
        av_detect_result_free(&r);
    }
    if (!rc)
        printf("%-16s %4dx%-4d %d thr  dets %d  decode %7.2f  detect %7.2f  species %7.2f  "
               "draw %7.2f  total %7.2f ms (median of %d)\n",
               name, w, h, threads, birds, median(st[0], runs), median(st[1], runs),
               median(st[2], runs), median(st[3], runs), median(st[4], runs), runs);
    for (int k = 0; k < 5; k++)
        free(st[k]);
    av_detect_pipeline_close(p);
    return rc;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 30;
    const char *models = argc > 2 ? argv[2] : "models";
    const char *shared = getenv("AVIARY_SHARED") ? getenv("AVIARY_SHARED") : "../shared";
    if (runs < 1)
        runs = 30;
    char path[1024];
    size_t len;
    int w, h;
    snprintf(path, sizeof path, "%s/testdata/images/parrot.jpg", shared);
    unsigned char *raw = read_all(path, &len);
    unsigned char *rgb = raw ? jpeg_rgb(raw, len, &w, &h) : NULL;
    free(raw);
    size_t l1 = 0, l3 = 0;
    int w1 = 0, h1 = 0, w3 = 0, h3 = 0;
    unsigned char *one = rgb ? make_jpeg(rgb, w, h, 1, 2.0, &l1, &w1, &h1) : NULL;
    free(rgb);
    snprintf(path, sizeof path, "%s/testdata/images/bird.bmp", shared);
    raw = read_all(path, &len);
    rgb = raw ? bmp_rgb(raw, len, &w, &h) : NULL;
    free(raw);
    unsigned char *three = rgb ? make_jpeg(rgb, w, h, 3, 1.6, &l3, &w3, &h3) : NULL;
    free(rgb);
    if (!one || !three) {
        fprintf(stderr, "bench: cannot build the test JPEGs from %s/testdata/images\n", shared);
        return 1;
    }
    int rc = 0;
    for (int t = 1; t <= 2 && !rc; t++) {
        rc |= bench(models, "one_bird.jpg", one, l1, w1, h1, t, runs);
        rc |= bench(models, "three_birds.jpg", three, l3, w3, h3, t, runs);
    }
    tjFree(one);
    tjFree(three);
    return rc ? 1 : 0;
}
