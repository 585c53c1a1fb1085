/*
 * bench_xnn_dw.c - our f32 depthwise convolution (xnn_dw.c: the sliding-window
 * row kernel, xnn_dw_slide.c, and the run kernel it replaces where it can)
 * against XNNPACK's on CenterNet's and yolox_nano's depthwise shapes, 1
 * thread, runs alternating between the three so that machine load hits all alike. Times are the
 * calling thread's CPU time (a loaded machine's waits do not count), median
 * of N runs after one warm-up; GFLOP/s counts 2 * taps per output element.
 *
 *   bench_xnn_dw [runs [H W C K S]]   (runs: default 50, at least 1; H W C K S:
 *                                       that shape alone, no activation)
 */
#include "bench_util.h"
#include "nn/core.h"
#include "nn/xnn/xnn_dw_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLACK 64 /* XNNPACK may read past the end of its inputs */

typedef struct shape {
    int h, w, c, k, s;
    av_nn__act act;
} shape;

/* One-node graph y = act(dwconv(x, w) + b), SAME padding. NULL on failure. */
static av_nn__graph *build(const shape *sh, int *node)
{
    unsigned seed = 1;
    av_nn__graph *g = av_nn__graph_new();
    float *w = bench_rand_floats((size_t)sh->k * sh->k * sh->c, SLACK, &seed);
    float *b = bench_rand_floats((size_t)sh->c, SLACK, &seed);
    if (!g || !w || !b) {
        free(w);
        free(b);
        av_nn__graph_free(g);
        return NULL;
    }
    const int64_t xd[4] = {1, sh->h, sh->w, sh->c}, wd[4] = {1, sh->k, sh->k, sh->c};
    const int64_t bd[1] = {sh->c};
    av_nn__tid in[3] = {av_nn__add_tensor(g, "x", AV_NN_F32, 4, xd, NULL, false),
                        av_nn__add_tensor(g, "w", AV_NN_F32, 4, wd, w, true),
                        av_nn__add_tensor(g, "b", AV_NN_F32, 1, bd, b, true)};
    av_nn__tid out = av_nn__add_tensor(g, "y", AV_NN_F32, -1, NULL, NULL, false);
    av_nn__params p = {.conv = {.stride_h = sh->s, .stride_w = sh->s, .dilation_h = 1,
                                .dilation_w = 1, .padding = AV_NN_PAD_SAME,
                                .depth_multiplier = 1, .act = {.kind = sh->act}}};
    char err[256] = "";
    *node = av_nn__add_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw", in, 3, &out, 1, &p);
    if (in[0] < 0 || in[1] < 0 || in[2] < 0 || out < 0 || *node < 0 ||
        av_nn__infer_node(g, &g->nodes[*node], err, sizeof err) != AV_NN_OK) {
        fprintf(stderr, "bench_xnn_dw: cannot build the graph: %s\n", err);
        av_nn__graph_free(g);
        return NULL;
    }
    return g;
}

/* Our kernel (sliding window on: v 0, off: 1) as xnn_dwpw.c runs it: bands
 * of 3 output rows into a scratch that stays in cache. */
static bool bench_bands(const av_nn__graph *g, const av_nn__node *n, const float *x, int runs,
                        double *t[2])
{
    av_nn__xnn_node st;
    memset(&st, 0, sizeof st);
    char err[256] = "";
    if (av_nn__xnn_dw_prepare(g, n, &st, err, sizeof err) != AV_NN_OK) {
        fprintf(stderr, "bench_xnn_dw: %s\n", err);
        return false;
    }
    size_t rows, rowf = av_nn__xnn_dw_row_floats(st.dw, &rows);
    float *mid = malloc(3 * rowf * sizeof(float));
    for (int r = -1; mid && r < runs; r++)
        for (int v = 0; v < 2; v++) {
            av_nn__xnn_dw_slide_force_off(v == 1);
            double t0 = bench_thread_cpu_ms() / 1e3;
            for (size_t i = 0; i < rows; i += 3)
                av_nn__xnn_dw_rows(st.dw, x, mid, i, rows - i < 3 ? rows - i : 3);
            if (r >= 0)
                t[v][r] = bench_thread_cpu_ms() / 1e3 - t0;
        }
    av_nn__xnn_dw_slide_force_off(false);
    av_nn__xnn_dw_free(st.dw);
    free(mid);
    return mid != NULL;
}

/* Times the kernels on one shape; returns false on error. */
static bool bench_shape(const shape *sh, int runs, double *t_own, double *t_run, double *t_xnn,
                        double *t_band[2])
{
    int k;
    av_nn__graph *g = build(sh, &k);
    if (!g)
        return false;
    const av_nn__node *n = &g->nodes[k];
    const av_nn__tensor *yt = &g->tensors[n->out[0]];
    size_t ny = (size_t)av_nn__numel(yt);
    unsigned seed = 7;
    float *x = bench_rand_floats((size_t)sh->h * sh->w * sh->c, SLACK, &seed);
    float *y[3] = {calloc(ny * sizeof(float) + SLACK, 1), calloc(ny * sizeof(float) + SLACK, 1),
                   calloc(ny * sizeof(float) + SLACK, 1)};
    void *state[3] = {NULL, NULL, NULL};
    char err[256] = "";
    bool ok = x && y[0] && y[1] && y[2];
    const void *in[3] = {x, g->tensors[n->in[1]].data, g->tensors[n->in[2]].data};
    /* 0: ours (sliding window where it takes the shape), 1: ours with the run
     * kernel only, 2: XNNPACK's; shapes ours declines (*) run XNNPACK's thrice */
    for (int v = 0; ok && v < 3; v++) {
        av_nn__xnn_dw_force_off(v == 2);
        ok = av_nn__backend_xnn.prepare(g, n, NULL, &state[v], err, sizeof err) == AV_NN_OK;
    }
    av_nn__xnn_dw_force_off(false);
    for (int r = -1; ok && r < runs; r++)
        for (int v = 0; ok && v < 3; v++) {
            void *out = y[v];
            av_nn__xnn_dw_slide_force_off(v == 1);
            double t0 = bench_thread_cpu_ms() / 1e3;
            ok = av_nn__backend_xnn.run(state[v], g, n, in, &out, NULL, err, sizeof err) ==
                 AV_NN_OK;
            if (r >= 0)
                (v == 2 ? t_xnn : v ? t_run : t_own)[r] = bench_thread_cpu_ms() / 1e3 - t0;
        }
    av_nn__xnn_dw_slide_force_off(false);
    bool bands = ok && av_nn__xnn_dw_takes(g, n);
    if (bands)
        ok = bench_bands(g, n, x, runs, t_band);
    double maxd = 0;
    for (size_t i = 0; ok && i < ny; i++)
        maxd = fmax(maxd, fabs((double)y[0][i] - y[2][i]));
    /* the two kernels of ours sum in the same order: the same bits */
    bool same = ok && memcmp(y[0], y[1], ny * sizeof(float)) == 0;
    if (!ok)
        fprintf(stderr, "bench_xnn_dw: %s\n", err);
    else {
        double flop = 2.0 * (double)ny * sh->k * sh->k;
        double so = bench_median(t_own, runs), sr = bench_median(t_run, runs);
        double sx = bench_median(t_xnn, runs);
        printf("  %3dx%3dx%4d k%d s%d act %d %s own %7.3f ms %6.1f GFLOP/s  run kernel %7.3f ms "
               "%6.1f  x%.2f  xnnpack %7.3f ms %6.1f  x%.2f  max|diff| %.2g%s\n",
               sh->h, sh->w, sh->c, sh->k, sh->s, (int)sh->act,
               av_nn__xnn_dw_supports(g, n) ? "  " : "(*)", so * 1e3, flop / so * 1e-9,
               sr * 1e3, flop / sr * 1e-9, sr / so, sx * 1e3, flop / sx * 1e-9, sx / so, maxd,
               same ? "" : "  NOT BIT-IDENTICAL");
        if (bands) {
            double b0 = bench_median(t_band[0], runs), b1 = bench_median(t_band[1], runs);
            printf("      in bands of 3 rows (xnn_dwpw.c): own %7.3f ms %6.1f GFLOP/s  run kernel "
                   "%7.3f ms %6.1f  x%.2f\n",
                   b0 * 1e3, flop / b0 * 1e-9, b1 * 1e3, flop / b1 * 1e-9, b1 / b0);
        }
        ok = maxd < 1e-3 && same;
    }
    for (int v = 0; v < 3; v++)
        if (state[v])
            av_nn__backend_xnn.release(state[v]);
    free(x);
    free(y[0]);
    free(y[1]);
    free(y[2]);
    av_nn__graph_free(g);
    return ok;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 50;
    shape one = {0, 0, 0, 0, 0, AV_NN_ACT_NONE};
    if (argc == 7)
        one = (shape){atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]),
                      AV_NN_ACT_NONE};
    if (runs < 1 || runs > 100000 || (argc != 7 && argc > 2) ||
        (argc == 7 && (one.h < 1 || one.w < 1 || one.c < 1 || one.k < 1 || one.k > 7 ||
                       one.s < 1 || one.s > 4 || one.h > 4096 || one.w > 4096 || one.c > 4096))) {
        fprintf(stderr, "usage: bench_xnn_dw [runs >= 1 [H W C K S]]\n");
        return 2;
    }
    if (!av_nn__xnn_dw_available()) {
        printf("bench_xnn_dw: this CPU runs XNNPACK's depthwise (no AVX2+FMA, or AVX-512)\n");
        return 0;
    }
    static const shape shapes[] = {
        {128, 128, 128, 3, 1, AV_NN_ACT_NONE}, {256, 256, 64, 3, 2, AV_NN_ACT_RELU},
        {256, 256, 16, 3, 1, AV_NN_ACT_RELU},  {128, 128, 72, 3, 1, AV_NN_ACT_RELU},
        {128, 128, 72, 5, 2, AV_NN_ACT_RELU},  {64, 64, 96, 5, 1, AV_NN_ACT_RELU},
        {64, 64, 192, 5, 1, AV_NN_ACT_NONE},   {32, 32, 528, 3, 1, AV_NN_ACT_HARDSWISH},
        {32, 32, 528, 5, 2, AV_NN_ACT_HARDSWISH}, {16, 16, 720, 5, 1, AV_NN_ACT_HARDSWISH},
        {128, 128, 18, 5, 1, AV_NN_ACT_NONE},
        /* yolox_nano's (SiLU fused) */
        {208, 208, 16, 3, 2, AV_NN_ACT_SILU},  {104, 104, 16, 3, 1, AV_NN_ACT_SILU},
        {52, 52, 64, 3, 1, AV_NN_ACT_SILU},    {26, 26, 128, 3, 1, AV_NN_ACT_SILU},
        {13, 13, 256, 3, 1, AV_NN_ACT_SILU},
    };
    double *t = calloc((size_t)runs * 5, sizeof *t);
    if (!t)
        return 1;
    printf("depthwise f32, SAME, 1 thread, thread CPU time, median of %d alternating runs\n",
           runs);
    int rc = 0;
    size_t n = argc == 7 ? 1 : sizeof shapes / sizeof shapes[0];
    for (size_t i = 0; i < n; i++)
        if (!bench_shape(argc == 7 ? &one : &shapes[i], runs, t, t + runs, t + 2 * runs,
                         (double *[2]){t + 3 * runs, t + 4 * runs}))
            rc = 1;
    free(t);
    return rc;
}
