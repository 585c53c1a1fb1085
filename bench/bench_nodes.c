/*
 * bench_nodes - per-node profile of one model on the XNNPACK backend: for
 * every node in run order its op, output shape, filter shape, multiply-adds,
 * median time and GMAC/s, then a summary by kind of node (1x1 convolution,
 * other convolutions, depthwise, fully connected, the rest).
 *
 *   build/bench/bench_nodes [-n runs] [-t threads] [-b batch] model
 *
 * -b N runs N samples per run (the batch the pipeline gives the species
 * model's crops) and reports times per sample.
 * Times come from the runtime's per-node profile (av_nn__profile). On 1
 * thread they are the calling thread's CPU time (every node runs on
 * it), which a loaded machine inflates far less than wall time; on more
 * threads it is wall time. Env switches (AV_NN_XNN_QGEMM=0, ...) apply.
 */
#include "bench_util.h"
#include "nn/core.h"
#include "nn/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Multiply-adds of a weight-carrying node (0 for the others). */
static double macs(const av_nn__graph *g, const av_nn__node *n)
{
    if (n->n_in < 2 || n->in[1] < 0 || n->out[0] < 0)
        return 0;
    const av_nn__tensor *w = &g->tensors[n->in[1]], *y = &g->tensors[n->out[0]];
    double ny = (double)av_nn__numel(y);
    /* a fused pair (pass_fuse.c) does both convolutions' work (bench_models.c) */
    const av_nn__tensor *f = n->n_in > 4 && n->in[4] >= 0 ? &g->tensors[n->in[4]] : NULL;
    const av_nn__tensor *x = n->in[0] >= 0 ? &g->tensors[n->in[0]] : NULL;
    double fused = 0;
    if (f && x && f->rank == 4 && x->rank == 4 && n->op == AV_NN_OP_DEPTHWISE_CONV2D &&
        n->p.conv.pw_on)
        fused = (double)(x->dims[0] * x->dims[1] * x->dims[2]) * (double)(f->dims[0] * f->dims[3]);
    if (f && x && f->rank == 4 && x->rank == 4 && n->op == AV_NN_OP_CONV2D && n->p.conv.dw_on)
        fused = (double)av_nn__numel(x) * (double)(f->dims[1] * f->dims[2]);
    if (n->op == AV_NN_OP_CONV2D && w->rank == 4)
        return fused + ny * (double)(w->dims[1] * w->dims[2] * w->dims[3]);
    if (n->op == AV_NN_OP_DEPTHWISE_CONV2D && w->rank == 4)
        return fused + ny * (double)(w->dims[1] * w->dims[2]);
    if (n->op == AV_NN_OP_FULLY_CONNECTED && w->rank == 2)
        return ny * (double)w->dims[1];
    return 0;
}

static int kind_of(const av_nn__graph *g, const av_nn__node *n)
{
    if (n->op == AV_NN_OP_CONV2D) {
        const av_nn__tensor *w = &g->tensors[n->in[1]];
        return w->dims[1] == 1 && w->dims[2] == 1 ? 0 : 1;
    }
    return n->op == AV_NN_OP_DEPTHWISE_CONV2D ? 2 : n->op == AV_NN_OP_FULLY_CONNECTED ? 3 : 4;
}

int main(int argc, char **argv)
{
    int runs = 30, threads = 1, batch = 1, opt;
    while ((opt = getopt(argc, argv, "n:t:b:")) != -1) {
        if (opt == 'n')
            runs = atoi(optarg);
        else if (opt == 'b')
            batch = atoi(optarg);
        else if (opt == 't')
            threads = atoi(optarg);
        else
            break;
    }
    if (optind != argc - 1 || runs < 1 || threads < 1 || batch < 1 || batch > 64) {
        fprintf(stderr, "usage: %s [-n runs] [-t threads] [-b batch] model\n", argv[0]);
        return 2;
    }
    char err[512];
    av_nn_model *m = NULL;
    av_nn_ctx *c = NULL;
    av_nn_ctx_opts o = {.threads = threads, .backend = AV_NN_BACKEND_XNNPACK, .batch = batch};
    if (av_nn_load(argv[optind], &m, err, sizeof err) != AV_NN_OK ||
        av_nn_ctx_new(m, &o, &c, err, sizeof err) != AV_NN_OK) {
        fprintf(stderr, "%s: %s\n", argv[optind], err);
        return 1;
    }
    const av_nn__graph *g = m->g; /* struct av_nn_model is in nn/core.h */
    int nn = g->n_nodes, ni = av_nn_num_inputs(m), no = av_nn_num_outputs(m);
    double *t = calloc((size_t)runs * (size_t)nn, sizeof *t), *col = calloc((size_t)runs, sizeof *col);
    void **bufs = calloc((size_t)(ni + no), sizeof *bufs);
    if (!t || !col || !bufs)
        return 1;
    for (int i = 0; i < ni + no; i++) {
        const av_nn_tensor_info *ti = i < ni ? av_nn_input(m, i) : av_nn_output(m, i - ni);
        size_t cnt = av_nn_dtype_size(ti->dtype) * (size_t)batch; /* dims: batch 1 */
        for (int d = 0; d < ti->rank; d++)
            cnt *= (size_t)ti->dims[d];
        if (!(bufs[i] = malloc(cnt ? cnt : 1)))
            return 1;
        for (size_t k = 0; k < cnt; k++) /* arbitrary bytes; f32 inputs get small values */
            ((uint8_t *)bufs[i])[k] = (uint8_t)((k * 2654435761u) >> 24) & 0x3f;
    }
    /* the runtime's per-node profile, one run's row at a time (warm-up runs into scratch) */
    static av_nn__profile p;
    double *scratch = calloc((size_t)nn, sizeof *scratch);
    if (!scratch)
        return 1;
    p.n_nodes = nn;
    p.thread_cpu = threads == 1;
    av_nn__ctx_set_profile(c, &p);
    for (int r = -3; r < runs; r++) {
        p.node_ms = r >= 0 ? t + (size_t)r * (size_t)nn : scratch;
        if (av_nn_run(c, (const void *const *)bufs, bufs + ni, err, sizeof err) != AV_NN_OK) {
            fprintf(stderr, "run: %s\n", err);
            return 1;
        }
    }
    static const char *kinds[] = {"conv 1x1", "conv kxk", "depthwise", "fully conn", "other"};
    double sum_ms[5] = {0}, sum_mac[5] = {0}, total = 0;
    int cnt[5] = {0};
    printf("%s, %d thread%s, batch %d, median of %d runs (%s), per sample\n", argv[optind],
           threads, threads > 1 ? "s" : "", batch, runs,
           threads == 1 ? "thread CPU time" : "wall time");
    printf("%4s %-18s %-20s %-16s %8s %9s %7s\n", "node", "op", "output", "filter", "MMAC",
           "ms", "GMAC/s");
    for (int j = 0; j < g->n_order; j++) {
        int i = g->order[j];
        const av_nn__node *n = &g->nodes[i];
        for (int r = 0; r < runs; r++)
            col[r] = t[(size_t)r * (size_t)nn + (size_t)i];
        double ms = bench_median(col, runs) / batch;
        double mac = macs(g, n);
        char ys[32] = "", ws[32] = "";
        const av_nn__tensor *y = n->out[0] >= 0 ? &g->tensors[n->out[0]] : NULL;
        if (y)
            for (int d = 0, at = 0; d < y->rank && at < 28; d++)
                at += snprintf(ys + at, sizeof ys - (size_t)at, d ? "x%lld" : "%lld",
                               (long long)y->dims[d]);
        const av_nn__tensor *w = n->n_in > 1 && n->in[1] >= 0 ? &g->tensors[n->in[1]] : NULL;
        if (w && mac > 0)
            for (int d = 0, at = 0; d < w->rank && at < 28; d++)
                at += snprintf(ws + at, sizeof ws - (size_t)at, d ? "x%lld" : "%lld",
                               (long long)w->dims[d]);
        printf("%4d %-18s %-20s %-16s %8.2f %9.4f %7.1f\n", i, av_nn__op_name(n->op), ys, ws,
               mac / 1e6, ms, ms > 0 && mac > 0 ? mac / ms / 1e6 : 0.0);
        int k = kind_of(g, n);
        sum_ms[k] += ms, sum_mac[k] += mac, cnt[k]++, total += ms;
    }
    for (int k = 0; k < 5; k++)
        if (cnt[k])
            printf("  %-11s nodes %3d  %8.2f MMAC  %7.3f ms  %5.1f%%  %6.1f GMAC/s\n", kinds[k],
                   cnt[k], sum_mac[k] / 1e6, sum_ms[k], 100 * sum_ms[k] / total,
                   sum_ms[k] > 0 ? sum_mac[k] / sum_ms[k] / 1e6 : 0.0);
    printf("  total: %.3f ms per run\n", total);
    return 0; /* the OS frees the rest */
}
