/*
 * bench_pipeline.c - per-stage latency of the bird pipeline (decode, detect,
 * species, draw): median of N runs (default 30) with 1 and 2 engine threads,
 * on two 1-2 Mpx JPEGs made at start-up from ../shared test images:
 *   one_bird.jpg    parrot.jpg scaled 2x (1024x1858, 1.9 Mpx)
 *   three_birds.jpg bird.bmp tiled 2x2 with the last cell black, scaled 1.6x
 *                   (1638x1097, 1.8 Mpx): three bird boxes (a 3x1 strip gave none:
 *                   squeezed into the detector's square input the birds are too narrow)
 * The JPEGs are built with TurboJPEG here (bench-only pixel plumbing: the
 * pipeline itself decodes through src/vision). three_birds.jpg runs twice:
 * with its crops classified in one batched run ("batch"), and one run per
 * crop ("1-by-1", av_detect_open_opts.species_batch = 1). Last, the species
 * model alone: N crops as N batch-1 runs vs one batch-N run (N = 3, 16).
 * Each line says which detector passes ran (pipeline.json's "passes") and
 * their median time; the "+passes" lines turn every pass on (zoom-out still
 * runs only when its condition holds, tiles only on frames >= min_side).
 * no_bird.jpg (cat.bmp scaled 2.8x, 1434x955) is the photo zoom-out runs on:
 * no bird box, so both of its scales run.
 *
 * First the cost of a fresh pipeline: open, then the first and second
 * request on it (CPU time, medians over 5 opens, 1 thread, one_bird.jpg and
 * three_birds.jpg: the latter's first request also makes the batched
 * species context for 3 crops), which shows what opening plans and what
 * the first request still pays.
 *
 * Last, the CPU time of one request per photo (1 engine thread, the
 * process's CPU time: what a loaded machine disturbs least) with the
 * default passes and with every pass on, and the detector runs it made.
 *
 *   build/bench/bench_pipeline [RUNS] [MODELS_DIR] [species]   (run from the repo root;
 *   "species": only the species model lines for 3 crops)
 *   build/bench/bench_pipeline first [MODELS_DIR]    (only the fresh-pipeline line)
 *   build/bench/bench_pipeline cpu [RUNS] [MODELS_DIR] (only the CPU-time lines)
 *   build/bench/bench_pipeline stages [RUNS] [MODELS_DIR] (only the one_bird.jpg and
 *   batched three_birds.jpg lines, 1 and 2 threads: the per-stage figures, quickly)
 *   build/bench/bench_pipeline one [RUNS] [MODELS_DIR] (one_bird.jpg only, 1 and 2
 *   threads and its CPU line: a short loop to profile with perf; "none": no_bird.jpg)
 */
#include "bench_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <turbojpeg.h>

#include "detect/detect.h"
#include "nn/nn.h"

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

/* Nearest-neighbour tile (tx x ty, the last cell black when blank_last) and
 * scale by s, then JPEG q90. */
static unsigned char *make_jpeg(const unsigned char *rgb, int w, int h, int tx, int ty,
                                int blank_last, double s, size_t *len, int *ow, int *oh)
{
    *ow = (int)(w * tx * s);
    *oh = (int)(h * ty * s);
    unsigned char *big = calloc((size_t)*ow * (size_t)*oh, 3);
    if (!big)
        return NULL;
    for (int y = 0; y < *oh; y++)
        for (int x = 0; x < *ow; x++) {
            int ux = (int)(x / s), uy = (int)(y / s);
            if (blank_last && ux / w == tx - 1 && uy / h == ty - 1)
                continue;
            memcpy(big + ((size_t)y * *ow + x) * 3, rgb + ((size_t)(uy % h) * w + ux % w) * 3, 3);
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

/* Open a pipeline, run the same image twice; medians over `opens` pipelines
 * of the open, the first and the second request, in CPU time (the process's,
 * 1 engine thread: steadier than wall time on a shared machine). */
static int bench_first(const char *models, const char *name, const unsigned char *jpg, size_t len,
                       int opens)
{
    double to[16], t1[16], t2[16];
    char err[1024];
    if (opens > 16)
        opens = 16;
    for (int i = 0; i < opens; i++) {
        av_detect_open_opts oo = {.threads = 1, .max_contexts = 1};
        av_detect_run_opts ro = {.annotate = 1};
        av_detect_pipeline *p;
        double a = bench_cpu_ms();
        if (av_detect_pipeline_open(models, &oo, &p, err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            return -1;
        }
        to[i] = bench_cpu_ms() - a;
        for (int k = 0; k < 2; k++) {
            av_detect_result r;
            a = bench_cpu_ms();
            if (av_detect_run(p, jpg, len, &ro, &r, err, sizeof err)) {
                fprintf(stderr, "bench: first request: %s\n", err);
                av_detect_pipeline_close(p);
                return -1;
            }
            (k ? t2 : t1)[i] = bench_cpu_ms() - a;
            av_detect_result_free(&r);
        }
        av_detect_pipeline_close(p);
    }
    double m1 = bench_median(t1, opens), m2 = bench_median(t2, opens);
    printf("fresh pipeline   %-15s 1 thr, CPU ms: open %7.2f, first request %7.2f, "
           "second %7.2f (first pays %+.2f; median of %d opens)\n",
           name, bench_median(to, opens), m1, m2, m1 - m2, opens);
    return 0;
}

static int bench(const char *models, const char *name, const unsigned char *jpg, size_t len,
                 int w, int h, int threads, int runs, int species_batch, unsigned passes)
{
    av_detect_open_opts oo = {.threads = threads, .max_contexts = 1,
                              .species_batch = species_batch};
    av_detect_pipeline *p;
    char err[1024];
    if (av_detect_pipeline_open(models, &oo, &p, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return -1;
    }
    double *st[5 + AV_DETECT_PASS_N];
    int ran[AV_DETECT_PASS_N] = {0};
    for (int k = 0; k < 5 + AV_DETECT_PASS_N; k++)
        st[k] = calloc((size_t)runs, sizeof(double));
    av_detect_run_opts ro = {.annotate = 1, .passes = passes};
    int birds = 0, rc = 0, batched = 0;
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
            for (int k = 0; k < AV_DETECT_PASS_N; k++) {
                st[5 + k][i] = r.passes[k].ms;
                ran[k] += r.passes[k].ran;
            }
        }
        birds = r.n_dets;
        batched = r.batched_species;
        av_detect_result_free(&r);
    }
    if (!rc)
        printf("%-16s %4dx%-4d %d thr  dets %d  decode %7.2f  detect %7.2f  species %7.2f "
               "(%-7s)  draw %7.2f  total %7.2f ms (median of %d)\n",
               name, w, h, threads, birds, bench_median(st[0], runs), bench_median(st[1], runs),
               bench_median(st[2], runs), batched ? "batched" : birds > 1 ? "1-by-1" : "1 crop",
               bench_median(st[3], runs), bench_median(st[4], runs), runs);
    if (!rc) {
        printf("%-16s passes%s:", "", passes ? " (all on)" : "");
        for (int k = 0; k < AV_DETECT_PASS_N; k++)
            if (ran[k])
                printf("  %s %.2f ms", av_detect_pass_name(k), bench_median(st[5 + k], runs));
        printf("%s\n", ran[0] + ran[1] + ran[2] ? "" : "  none ran");
    }
    for (int k = 0; k < 5 + AV_DETECT_PASS_N; k++)
        free(st[k]);
    av_detect_pipeline_close(p);
    return rc;
}

/* CPU ms of whole requests (decode to annotated JPEG) on 1 engine thread:
 * the median over runs, and the detector runs of one request. */
static int bench_cpu(const char *models, const char *name, const unsigned char *jpg, size_t len,
                     int runs, unsigned passes)
{
    av_detect_open_opts oo = {.threads = 1, .max_contexts = 1};
    av_detect_pipeline *p;
    char err[1024];
    if (av_detect_pipeline_open(models, &oo, &p, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return -1;
    }
    double *c = calloc((size_t)runs, sizeof *c);
    av_detect_run_opts ro = {.annotate = 1, .passes = passes};
    int rc = c ? 0 : -1, det_runs = 0;
    for (int i = -1; i < runs && !rc; i++) { /* one warm-up run */
        av_detect_result r;
        double a = bench_cpu_ms();
        if (av_detect_run(p, jpg, len, &ro, &r, err, sizeof err)) {
            fprintf(stderr, "bench: %s: %s\n", name, err);
            rc = -1;
            break;
        }
        if (i >= 0)
            c[i] = bench_cpu_ms() - a;
        det_runs = 1;
        for (int k = 0; k < AV_DETECT_PASS_N; k++)
            det_runs += r.passes[k].runs;
        av_detect_result_free(&r);
    }
    if (!rc)
        printf("cpu per request  %-15s 1 thr  passes %-8s  %7.2f CPU ms  detector runs %d "
               "(median of %d)\n",
               name, passes ? "all on" : "default", bench_median(c, runs), det_runs, runs);
    free(c);
    av_detect_pipeline_close(p);
    return rc;
}

/* The species model alone: n crops as n batch-1 runs, then as one batch-n run. */
static int bench_batch(const char *models, int n, int threads, int runs)
{
    char path[1024], e[512] = "out of memory";
    snprintf(path, sizeof path, "%s/inat_bird/mobilenet_v2_1.0_224_inat_bird_quant.tflite",
             models);
    av_nn_model *m = NULL;
    av_nn_pool *pool = NULL;
    av_nn_ctx *c1 = NULL, *cn = NULL;
    size_t in1 = 224 * 224 * 3, out1 = 0;
    uint8_t *in = NULL, *out = NULL;
    double *t1 = calloc((size_t)runs, sizeof *t1), *tn = calloc((size_t)runs, sizeof *tn);
    av_nn_ctx_opts o1 = {.threads = threads}, on = {.threads = threads, .batch = n};
    int rc = -1;
    if (!t1 || !tn || av_nn_load(path, &m, e, sizeof e) ||
        av_nn_pool_new(threads, &pool, e, sizeof e))
        goto done;
    o1.pool = on.pool = pool;
    out1 = av_nn_dtype_size(av_nn_output(m, 0)->dtype);
    for (int d = 0; d < av_nn_output(m, 0)->rank; d++)
        out1 *= (size_t)av_nn_output(m, 0)->dims[d];
    in = malloc(in1 * (size_t)n);
    out = malloc(out1 * (size_t)n);
    if (!in || !out || av_nn_ctx_new(m, &o1, &c1, e, sizeof e) ||
        av_nn_ctx_new(m, &on, &cn, e, sizeof e))
        goto done;
    for (size_t i = 0; i < in1 * (size_t)n; i++)
        in[i] = (uint8_t)((i * 2654435761u) >> 24); /* arbitrary pixels */
    for (int r = -2; r < runs; r++) {
        double a = bench_now_ms();
        for (int j = 0; j < n; j++) {
            const void *ip[1] = {in + in1 * (size_t)j};
            void *op[1] = {out + out1 * (size_t)j};
            if (av_nn_run(c1, ip, op, e, sizeof e))
                goto done;
        }
        double b = bench_now_ms();
        const void *ip[1] = {in};
        void *op[1] = {out};
        if (av_nn_run(cn, ip, op, e, sizeof e))
            goto done;
        if (r >= 0)
            t1[r] = b - a, tn[r] = bench_now_ms() - b;
    }
    printf("species model %2d crops, %d thr: one by one %7.2f ms, one batch %7.2f ms (median of "
           "%d)\n",
           n, threads, bench_median(t1, runs), bench_median(tn, runs), runs);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "bench: species batch %d: %s\n", n, e);
    av_nn_ctx_free(c1);
    av_nn_ctx_free(cn);
    av_nn_pool_free(pool);
    av_nn_model_free(m);
    free(in);
    free(out);
    free(t1);
    free(tn);
    return rc;
}

int main(int argc, char **argv)
{
    int first_only = argc > 1 && !strcmp(argv[1], "first");
    int cpu_only = argc > 1 && !strcmp(argv[1], "cpu");
    int stages_only = argc > 1 && !strcmp(argv[1], "stages");
    int one_only = argc > 1 && !strcmp(argv[1], "one"); /* for perf: one_bird.jpg only */
    int none_only = argc > 1 && !strcmp(argv[1], "none"); /* for perf: no_bird.jpg only */
    if (cpu_only || stages_only || one_only || none_only) {
        argv++;
        argc--;
    }
    int runs = argc > 1 ? atoi(argv[1]) : 30;
    const char *models = argc > 2 ? argv[2] : "models";
    if (argc > 3 && !strcmp(argv[3], "species")) { /* the species model's lines only */
        int rc = 0;
        for (int t = 1; t <= 2 && !rc; t++)
            rc |= bench_batch(models, 3, t, runs > 0 ? runs : 30);
        return rc ? 1 : 0;
    }
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
    unsigned char *one = rgb ? make_jpeg(rgb, w, h, 1, 1, 0, 2.0, &l1, &w1, &h1) : NULL;
    free(rgb);
    snprintf(path, sizeof path, "%s/testdata/images/bird.bmp", shared);
    raw = read_all(path, &len);
    rgb = raw ? bmp_rgb(raw, len, &w, &h) : NULL;
    free(raw);
    unsigned char *three = rgb ? make_jpeg(rgb, w, h, 2, 2, 1, 1.6, &l3, &w3, &h3) : NULL;
    free(rgb);
    snprintf(path, sizeof path, "%s/testdata/images/cat.bmp", shared);
    raw = read_all(path, &len);
    rgb = raw ? bmp_rgb(raw, len, &w, &h) : NULL;
    free(raw);
    size_t l0 = 0;
    int w0 = 0, h0 = 0;
    unsigned char *none = rgb ? make_jpeg(rgb, w, h, 1, 1, 0, 2.8, &l0, &w0, &h0) : NULL;
    free(rgb);
    if (!one || !three || !none) {
        fprintf(stderr, "bench: cannot build the test JPEGs from %s/testdata/images\n", shared);
        return 1;
    }
    unsigned all = AV_DETECT_PASSES_SET;
    for (int k = 0; k < AV_DETECT_PASS_N; k++)
        all |= 1u << k;
    if (one_only || none_only) { /* one photo, 1 and 2 threads, then its CPU line */
        int rc = 0;
        const char *nm = one_only ? "one_bird.jpg" : "no_bird.jpg";
        const unsigned char *jp = one_only ? one : none;
        size_t jl = one_only ? l1 : l0;
        for (int t = 1; t <= 2 && !rc; t++)
            rc |= bench(models, nm, jp, jl, one_only ? w1 : w0, one_only ? h1 : h0, t, runs, 0, 0);
        rc |= rc ? 0 : bench_cpu(models, nm, jp, jl, runs, 0);
        tjFree(one);
        tjFree(three);
        tjFree(none);
        return rc ? 1 : 0;
    }
    if (stages_only) {
        int rc = 0;
        for (int t = 1; t <= 2 && !rc; t++) {
            rc |= bench(models, "one_bird.jpg", one, l1, w1, h1, t, runs, 0, 0);
            rc |= bench(models, "three_birds.jpg", three, l3, w3, h3, t, runs, 0, 0);
        }
        tjFree(one);
        tjFree(three);
        tjFree(none);
        return rc ? 1 : 0;
    }
    int rc = cpu_only ? 0 : bench_first(models, "one_bird.jpg", one, l1, 5);
    rc |= rc || cpu_only ? 0 : bench_first(models, "three_birds.jpg", three, l3, 5);
    if (!first_only && !cpu_only) {
        for (int t = 1; t <= 2 && !rc; t++) {
            rc |= bench(models, "one_bird.jpg", one, l1, w1, h1, t, runs, 0, 0);
            rc |= bench(models, "three_birds.jpg", three, l3, w3, h3, t, runs, 0, 0);
            rc |= bench(models, "three_birds.jpg", three, l3, w3, h3, t, runs, 1, 0);
        }
        rc |= rc ? 0 : bench(models, "one_bird+passes", one, l1, w1, h1, 2, runs, 0, all);
        rc |= rc ? 0 : bench(models, "three+passes", three, l3, w3, h3, 2, runs, 0, all);
        rc |= rc ? 0 : bench(models, "no_bird.jpg", none, l0, w0, h0, 2, runs, 0, 0);
        for (int t = 1; t <= 2 && !rc; t++) {
            rc |= bench_batch(models, 3, t, runs);
            rc |= bench_batch(models, 16, t, runs);
        }
    }
    if (!first_only) {
        const struct {
            const char *name;
            const unsigned char *jpg;
            size_t len;
        } cases[] = {{"one_bird.jpg", one, l1}, {"three_birds.jpg", three, l3},
                     {"no_bird.jpg", none, l0}};
        for (int i = 0; i < 3 && !rc; i++)
            for (int a = 0; a < 2 && !rc; a++)
                rc |= bench_cpu(models, cases[i].name, cases[i].jpg, cases[i].len, runs,
                                a ? all : 0);
    }
    tjFree(one);
    tjFree(three);
    tjFree(none);
    return rc ? 1 : 0;
}
