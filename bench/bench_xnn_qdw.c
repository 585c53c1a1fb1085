/*
 * bench_xnn_qdw.c - our qu8 3x3 depthwise kernels (xnn_qdw.c) on the iNat
 * species model's MobileNetV2 shapes, 1 thread: the streaming kernel, the
 * column kernel (stride 1, <= 64 channels) and the general one, runs
 * alternating between them so that machine load hits all alike. Times are
 * the calling thread's CPU time, median of N runs after one warm-up; GMAC/s
 * counts 9 multiply-adds per output element. The outputs must agree byte
 * for byte (exit status 1 otherwise).
 *
 *   bench_xnn_qdw [runs]     (default 50; at least 1)
 */
#include "bench_util.h"
#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLACK 64
#define VARIANTS 3

typedef struct shape {
    int h, w, c, s;
} shape;

static av_nn__tid qtensor(av_nn__graph *g, const char *name, const int64_t *d, int r,
                          void *data, float s, int32_t zp, av_nn_dtype dt)
{
    av_nn__tid t = av_nn__add_tensor(g, name, dt, r, d, data, data != NULL);
    if (t >= 0) {
        g->tensors[t].quant.scale = s;
        g->tensors[t].quant.zero_point = zp;
    }
    return t;
}

/* One-node graph y = relu6(dwconv(x, w) + b), pad 1 (TFLite's SAME for 3x3). */
static av_nn__graph *build(const shape *sh, int *node)
{
    unsigned seed = 1;
    av_nn__graph *g = av_nn__graph_new();
    uint8_t *w = malloc((size_t)9 * sh->c);
    int32_t *b = malloc((size_t)sh->c * sizeof *b);
    if (!g || !w || !b) {
        free(w), free(b);
        av_nn__graph_free(g);
        return NULL;
    }
    for (int i = 0; i < 9 * sh->c; i++)
        w[i] = (uint8_t)(rand_r(&seed) >> 4);
    for (int i = 0; i < sh->c; i++)
        b[i] = (int32_t)(rand_r(&seed) % 20001) - 10000;
    const int64_t xd[4] = {1, sh->h, sh->w, sh->c}, wd[4] = {1, 3, 3, sh->c};
    const int64_t bd[1] = {sh->c};
    av_nn__tid in[3] = {qtensor(g, "x", xd, 4, NULL, 0.0235f, 128, AV_NN_U8),
                        qtensor(g, "w", wd, 4, w, 0.03f, 110, AV_NN_U8),
                        qtensor(g, "b", bd, 1, b, 0, 0, AV_NN_I32)};
    av_nn__tid out = qtensor(g, "y", NULL, -1, NULL, 0.0235f, 0, AV_NN_U8);
    av_nn__params p = {.conv = {.stride_h = sh->s, .stride_w = sh->s, .dilation_h = 1,
                                .dilation_w = 1, .padding = AV_NN_PAD_EXPLICIT, .groups = 1,
                                .pad_top = sh->s == 1, .pad_bottom = 1, .pad_left = sh->s == 1,
                                .pad_right = 1, .act = {.kind = AV_NN_ACT_RELU6}}};
    char err[256] = "";
    *node = av_nn__add_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw", in, 3, &out, 1, &p);
    if (in[0] < 0 || in[1] < 0 || in[2] < 0 || out < 0 || *node < 0 ||
        av_nn__infer_node(g, &g->nodes[*node], err, sizeof err) != AV_NN_OK) {
        fprintf(stderr, "bench_xnn_qdw: cannot build the graph: %s\n", err);
        av_nn__graph_free(g);
        return NULL;
    }
    return g;
}

static const char *const names[VARIANTS] = {"stream", "column", "general"};

/* Prepares variant v (0 stream, 1 column, 2 general) of node n into *state. */
static bool prepare(int v, const av_nn__graph *g, const av_nn__node *n, void **state, char *err,
                    size_t errlen)
{
    av_nn__xnn_qdws_force_off(v != 0);
    av_nn__xnn_qdw3_force_off(v != 1);
    bool ok = av_nn__backend_xnn.prepare(g, n, NULL, state, err, errlen) == AV_NN_OK;
    av_nn__xnn_qdws_force_off(false);
    av_nn__xnn_qdw3_force_off(false);
    return ok;
}

/* Times the variants on one shape; returns false on error or a mismatch. */
static bool bench_shape(const shape *sh, int runs, double *t)
{
    int k;
    av_nn__graph *g = build(sh, &k);
    if (!g)
        return false;
    const av_nn__node *n = &g->nodes[k];
    size_t nx = (size_t)sh->h * sh->w * sh->c, ny = (size_t)av_nn__numel(&g->tensors[n->out[0]]);
    uint8_t *x = malloc(nx + SLACK), *y[VARIANTS];
    void *state[VARIANTS] = {NULL};
    bool ok = x != NULL, ran[VARIANTS];
    for (int v = 0; v < VARIANTS; v++)
        ok = (y[v] = calloc(ny + SLACK, 1)) != NULL && ok;
    unsigned seed = 7;
    for (size_t i = 0; ok && i < nx + SLACK; i++)
        x[i] = (uint8_t)(rand_r(&seed) >> 4);
    char err[256] = "";
    for (int v = 0; ok && v < VARIANTS; v++) {
        ok = prepare(v, g, n, &state[v], err, sizeof err);
        const av_nn__xnn_qdw *q = ok ? ((av_nn__xnn_node *)state[v])->qdw : NULL;
        ran[v] = q && (v == 0   ? av_nn__xnn_qdw_uses_stream(q)
                       : v == 1 ? av_nn__xnn_qdw_uses3(q)
                                : !av_nn__xnn_qdw_uses3(q) && !av_nn__xnn_qdw_uses_stream(q));
    }
    const void *in[3] = {x, g->tensors[n->in[1]].data, g->tensors[n->in[2]].data};
    for (int r = -1; ok && r < runs; r++)
        for (int v = 0; ok && v < VARIANTS; v++) {
            void *out = y[v];
            double t0 = bench_thread_cpu_ms();
            ok = av_nn__backend_xnn.run(state[v], g, n, in, &out, NULL, err, sizeof err) ==
                 AV_NN_OK;
            if (r >= 0)
                t[v * runs + r] = bench_thread_cpu_ms() - t0;
        }
    bool same = true;
    for (int v = 1; ok && v < VARIANTS; v++)
        if (memcmp(y[0], y[v], ny) != 0) {
            fprintf(stderr, "bench_xnn_qdw: %s and %s outputs differ\n", names[0], names[v]);
            same = false;
        }
    if (!ok)
        fprintf(stderr, "bench_xnn_qdw: %s\n", err);
    else {
        double mac = 9.0 * (double)ny;
        printf("  %3dx%3dx%4d s%d", sh->h, sh->w, sh->c, sh->s);
        for (int v = 0; v < VARIANTS; v++) {
            double ms = bench_median(t + v * runs, runs);
            printf("  %s%s %6.3f ms %5.1f GMAC/s", names[v], ran[v] ? "" : "(-)", ms,
                   mac / ms * 1e-6);
        }
        printf("\n");
    }
    for (int v = 0; v < VARIANTS; v++) {
        if (state[v])
            av_nn__backend_xnn.release(state[v]);
        free(y[v]);
    }
    free(x);
    av_nn__graph_free(g);
    return ok && same;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 50;
    if (runs < 1 || runs > 100000) {
        fprintf(stderr, "usage: bench_xnn_qdw [runs >= 1]\n");
        return 2;
    }
    if (!av_nn__xnn_qgemm_available()) {
        printf("bench_xnn_qdw: this CPU runs XNNPACK's qu8 depthwise (no AVX2, or AVX-512)\n");
        return 0;
    }
    static const shape shapes[] = {
        {112, 112, 32, 1}, {112, 112, 96, 2}, {56, 56, 144, 1}, {56, 56, 144, 2},
        {28, 28, 192, 1},  {28, 28, 192, 2},  {14, 14, 384, 1}, {14, 14, 576, 1},
        {14, 14, 576, 2},  {7, 7, 960, 1},
    };
    double *t = calloc((size_t)runs * VARIANTS, sizeof *t);
    if (!t)
        return 1;
    printf("qu8 depthwise 3x3, relu6, 1 thread, thread CPU time, median of %d alternating "
           "runs; (-): that kernel does not take the shape, another ran\n",
           runs);
    int rc = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!bench_shape(&shapes[i], runs, t))
            rc = 1;
    free(t);
    return rc;
}
