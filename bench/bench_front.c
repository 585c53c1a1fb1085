/*
 * bench_front.c - CenterNet with the front's fast paths (AV_NN_FUSE_FRONT:
 * xnn_gemm.c's pwk_blocks and ReLU clamp, xnn_stem.c's step loop) on and
 * off, in one process: two contexts of one model, run alternately (which
 * goes first alternates too), so that a loaded machine's drift falls on
 * both alike. Prints, per thread count, each side's median and lowest
 * process CPU time per run, its median wall time, and the median of the
 * paired differences (off - on) of CPU time.
 *
 *   build/bench/bench_front [RUNS] [MODEL]   (default 100, models/human/centernet.json;
 *                                             run from the repo root)
 */
#include "bench_util.h"
#include "nn/nn.h"
#include "nn/xnn/xnn_impl.h" /* av_nn__front_force_off */

#include <stdio.h>
#include <stdlib.h>

#define MAX_OUT 8

static int bench(av_nn_model *m, int threads, int runs)
{
    char err[512] = "";
    av_nn_ctx_opts o = {.threads = threads, .backend = AV_NN_BACKEND_XNNPACK};
    av_nn_ctx *c[2] = {NULL, NULL}; /* [0] off, [1] on */
    av_nn__front_force_off(true);   /* read when the context prepares its kernels */
    av_nn_status st = av_nn_ctx_new(m, &o, &c[0], err, sizeof err);
    av_nn__front_force_off(false);
    if (st != AV_NN_OK || av_nn_ctx_new(m, &o, &c[1], err, sizeof err) != AV_NN_OK) {
        fprintf(stderr, "bench_front: %s\n", err);
        av_nn_ctx_free(c[0]);
        return 1;
    }
    const av_nn_tensor_info *in = av_nn_input(m, 0);
    size_t nx = 1;
    for (int d = 0; d < in->rank; d++)
        nx *= (size_t)in->dims[d];
    unsigned seed = 3;
    float *x = bench_rand_floats(nx, 64, &seed);
    void *outs[MAX_OUT] = {NULL};
    int no = av_nn_num_outputs(m), rc = 1;
    double *t = calloc((size_t)runs * 5, sizeof *t);
    if (!x || !t || no > MAX_OUT || in->dtype != AV_NN_F32)
        goto done;
    for (int i = 0; i < no; i++) {
        const av_nn_tensor_info *ti = av_nn_output(m, i);
        size_t b = av_nn_dtype_size(ti->dtype);
        for (int d = 0; d < ti->rank; d++)
            b *= (size_t)ti->dims[d];
        if (!(outs[i] = malloc(b)))
            goto done;
    }
    double *cpu[2] = {t, t + runs}, *wall[2] = {t + 2 * runs, t + 3 * runs}, *diff = t + 4 * runs;
    for (int r = -3; r < runs; r++) /* 3 warm-up pairs */
        for (int j = 0; j < 2; j++) {
            int k = (r + 3 + j) % 2;
            double c0 = bench_cpu_ms(), w0 = bench_now_ms();
            if (av_nn_run(c[k], (const void *const[]){x}, outs, err, sizeof err) != AV_NN_OK) {
                fprintf(stderr, "bench_front: run: %s\n", err);
                goto done;
            }
            if (r >= 0)
                cpu[k][r] = bench_cpu_ms() - c0, wall[k][r] = bench_now_ms() - w0;
        }
    double lo[2] = {cpu[0][0], cpu[1][0]};
    for (int r = 0; r < runs; r++) {
        diff[r] = cpu[0][r] - cpu[1][r];
        for (int k = 0; k < 2; k++)
            lo[k] = cpu[k][r] < lo[k] ? cpu[k][r] : lo[k];
    }
    double d = bench_median(diff, runs);
    printf("%d thread%s  %d pairs  off: cpu median %7.2f min %7.2f wall median %7.2f ms  |  "
           "on: cpu median %7.2f min %7.2f wall median %7.2f ms  |  off - on cpu median %+.2f ms\n",
           threads, threads > 1 ? "s" : " ", runs, bench_median(cpu[0], runs), lo[0],
           bench_median(wall[0], runs), bench_median(cpu[1], runs), lo[1],
           bench_median(wall[1], runs), d);
    rc = 0;
done:
    for (int i = 0; i < MAX_OUT; i++)
        free(outs[i]);
    free(t);
    free(x);
    av_nn_ctx_free(c[0]);
    av_nn_ctx_free(c[1]);
    return rc;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 100;
    const char *path = argc > 2 ? argv[2] : "models/human/centernet.json";
    if (runs < 1 || runs > 100000) {
        fprintf(stderr, "usage: bench_front [RUNS >= 1] [MODEL]\n");
        return 2;
    }
    char err[512] = "";
    av_nn_model *m = NULL;
    if (av_nn_load(path, &m, err, sizeof err) != AV_NN_OK) {
        fprintf(stderr, "bench_front: %s: %s\n", path, err);
        return 1;
    }
    printf("%s, AV_NN_FUSE_FRONT off vs on, alternating runs (process CPU time)\n", path);
    int rc = bench(m, 1, runs) || bench(m, 2, runs);
    av_nn_model_free(m);
    return rc;
}
