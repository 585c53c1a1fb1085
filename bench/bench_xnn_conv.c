/*
 * bench_xnn_conv.c - GFLOP/s of one 3x3 convolution, 56x56x128 -> 128 f32
 * (stride 1, SAME padding, bias), on the XNNPACK backend with 1 and 2
 * threads and on the reference kernel: the ceiling our engine is measured
 * against. Each figure is the median of N timed runs after one warm-up.
 *
 *   bench_xnn_conv [runs]     (default 30; at least 1)
 */
#include "bench_util.h"
#include "nn/core.h"

#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define H 56
#define W 56
#define CIN 128
#define COUT 128
#define K 3
#define SLACK 64 /* XNNPACK may read past the end of its inputs */

/* One-node graph: y = conv3x3(x, w) + b. NULL on failure (message printed). */
static av_nn__graph *build(int *node)
{
    unsigned seed = 1;
    av_nn__graph *g = av_nn__graph_new();
    float *w = bench_rand_floats((size_t)COUT * K * K * CIN, SLACK, &seed);
    float *b = bench_rand_floats(COUT, SLACK, &seed);
    if (!g || !w || !b) {
        free(w);
        free(b);
        av_nn__graph_free(g);
        return NULL;
    }
    const int64_t xd[4] = {1, H, W, CIN}, wd[4] = {COUT, K, K, CIN}, bd[1] = {COUT};
    av_nn__tid in[3] = {av_nn__add_tensor(g, "x", AV_NN_F32, 4, xd, NULL, false),
                        av_nn__add_tensor(g, "w", AV_NN_F32, 4, wd, w, true),
                        av_nn__add_tensor(g, "b", AV_NN_F32, 1, bd, b, true)};
    av_nn__tid out = av_nn__add_tensor(g, "y", AV_NN_F32, -1, NULL, NULL, false);
    av_nn__params p = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                .dilation_w = 1, .padding = AV_NN_PAD_SAME, .groups = 1}};
    char err[256] = "";
    *node = av_nn__add_node(g, AV_NN_OP_CONV2D, "conv3x3", in, 3, &out, 1, &p);
    if (in[0] < 0 || in[1] < 0 || in[2] < 0 || out < 0 || *node < 0 ||
        av_nn__infer_node(g, &g->nodes[*node], err, sizeof err) != AV_NN_OK) {
        fprintf(stderr, "bench_xnn_conv: cannot build the graph: %s\n", err);
        av_nn__graph_free(g);
        return NULL;
    }
    return g;
}

/* Median seconds of `runs` XNNPACK runs with `threads` threads; < 0 on error. */
static double time_xnn(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                       void *y, int threads, int runs, double *t)
{
    pthreadpool_t pool = threads > 1 ? pthreadpool_create((size_t)threads) : NULL;
    void *state = NULL;
    char err[256] = "";
    double med = -1;
    if (threads > 1 && !pool) {
        fprintf(stderr, "bench_xnn_conv: no thread pool\n");
        return -1;
    }
    if (av_nn__backend_xnn.prepare(g, n, pool, &state, err, sizeof err) != AV_NN_OK ||
        av_nn__backend_xnn.run(state, g, n, in, &y, pool, err, sizeof err) != AV_NN_OK) {
        fprintf(stderr, "bench_xnn_conv: xnnpack: %s\n", err);
        goto done;
    }
    for (int i = 0; i < runs; i++) {
        double t0 = bench_now_ms() / 1e3;
        if (av_nn__backend_xnn.run(state, g, n, in, &y, pool, err, sizeof err) != AV_NN_OK) {
            fprintf(stderr, "bench_xnn_conv: xnnpack: %s\n", err);
            goto done;
        }
        t[i] = bench_now_ms() / 1e3 - t0;
    }
    med = bench_median(t, runs);
done:
    if (state)
        av_nn__backend_xnn.release(state);
    if (pool)
        pthreadpool_destroy(pool);
    return med;
}

static double time_ref(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                       void *y, int runs, double *t)
{
    char err[256] = "";
    for (int i = 0; i < runs; i++) {
        double t0 = bench_now_ms() / 1e3;
        if (av_nn__ref_run(g, n, in, &y, err, sizeof err) != AV_NN_OK) {
            fprintf(stderr, "bench_xnn_conv: reference: %s\n", err);
            return -1;
        }
        t[i] = bench_now_ms() / 1e3 - t0;
    }
    return bench_median(t, runs);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 30;
    if (runs < 1 || runs > 100000) {
        fprintf(stderr, "usage: bench_xnn_conv [runs >= 1]\n");
        return 2;
    }
    int k;
    av_nn__graph *g = build(&k);
    unsigned seed = 7;
    float *x = bench_rand_floats((size_t)H * W * CIN, SLACK, &seed);
    float *yx = calloc((size_t)H * W * COUT * sizeof(float) + SLACK, 1);
    float *yr = calloc((size_t)H * W * COUT * sizeof(float) + SLACK, 1);
    double *t = calloc((size_t)runs, sizeof *t);
    int rc = 1;
    if (!g || !x || !yx || !yr || !t) {
        fprintf(stderr, "bench_xnn_conv: out of memory\n");
        goto done;
    }
    const av_nn__node *n = &g->nodes[k];
    const void *in[3] = {x, g->tensors[n->in[1]].data, g->tensors[n->in[2]].data};
    double flop = 2.0 * H * W * COUT * (double)K * K * CIN;
    printf("conv 3x3 %dx%dx%d -> %d f32, SAME, %.3f GFLOP per run, median of %d runs\n", H, W,
           CIN, COUT, flop * 1e-9, runs);
    for (int threads = 1; threads <= 2; threads++) {
        double s = time_xnn(g, n, in, yx, threads, runs, t);
        if (s <= 0)
            goto done;
        printf("  xnnpack   %d thread%s  %9.3f ms  %8.2f GFLOP/s\n", threads,
               threads > 1 ? "s" : " ", s * 1e3, flop / s * 1e-9);
    }
    double s = time_ref(g, n, in, yr, runs, t);
    if (s <= 0)
        goto done;
    printf("  reference 1 thread   %9.3f ms  %8.2f GFLOP/s\n", s * 1e3, flop / s * 1e-9);
    double maxd = 0;
    for (size_t i = 0; i < (size_t)H * W * COUT; i++)
        maxd = fmax(maxd, fabs((double)yx[i] - yr[i]));
    printf("  max |xnnpack - reference| = %.3g\n", maxd);
    rc = maxd < 1e-2 ? 0 : 1;
done:
    free(t);
    free(yr);
    free(yx);
    free(x);
    av_nn__graph_free(g);
    return rc;
}
