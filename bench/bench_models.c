/*
 * bench_models.c - latency and memory of whole models on each backend.
 *
 *   bench_models [-n RUNS] [-w WARMUP] [-p|-P] [-x] [model.json|model.tflite|model.onnx ...]
 *
 * Default models: models/human/centernet.json and models/human/nanodet.json.
 * For each model it prints the IR node count as loaded and after finalize
 * (with the TRANSPOSE count: NanoDet was converted from NCHW and relies on
 * the pass that cancels inverse pairs), then one line per configuration
 * (reference and XNNPACK, 1 and 2 threads): load, context and first-run
 * times, median/min/max over RUNS timed runs after WARMUP untimed ones, the
 * median CPU time per run of the whole process (all threads: on 2 threads it
 * counts the pool's spinning too; on 1 thread it is what a loaded machine
 * cannot inflate), the arena size and the peak RSS. Each configuration runs in its own child
 * process so that its peak RSS is its own. -p adds, for the XNNPACK
 * configurations, the time per op type over the timed runs (which kernels
 * run where, and what is left on the reference kernels; on 1 thread the
 * calling thread's CPU time, which machine load does not inflate). -x skips the
 * reference configurations (bench/peers.sh times XNNPACK against peers).
 * The model frees its f32 convolution weights once packed, as the pipeline's
 * do (av_nn_model_release_packed); -k keeps them (the RSS before that).
 * -i TABLE quantises every model with the int8 calibration TABLE after load,
 * as a manifest with "precision": "int8" does (the int8 model alone: its
 * profile, its RSS; -q compares it with float).
 * -P is -p plus one line per convolution node (XNNPACK configurations):
 * input shape, kernel, stride, groups, output channels, MFLOP, ms per run,
 * GFLOP/s and which kernel ran it (our own GEMM, Winograd, depthwise or XNNPACK's),
 * then the f32 FMA peak of as many threads, measured on the spot (bench_peak.h),
 * and the time the convolutions' FLOPs take at that peak: the floor no f32 kernel
 * goes under.
 * -o NAME asks for output NAME only (the others passed as NULL, as the
 * pipeline runs its detector: CenterNet's tower_0/detections), so nodes that
 * write only unwanted outputs are skipped.
 *
 *   bench_models -q TABLE [-n RUNS] [-w WARMUP] model
 *
 * int8 against float: the model loaded twice, one copy quantised with the
 * calibration table TABLE (`aviary model quantize`), both run on XNNPACK in
 * one process, alternating run by run (interleaved, so machine load hits
 * both alike), on 1 and 2 threads (both copies on one shared pool): medians
 * and the float/int8 ratio.
 */
#include "bench_peak.h"
#include "bench_util.h"
#include "nn/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *only_output; /* -o NAME: the other outputs NULL */

static void count_nodes(const av_nn__graph *g, int *live, int *transposes)
{
    *live = *transposes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead)
            continue;
        (*live)++;
        *transposes += g->nodes[i].op == AV_NN_OP_TRANSPOSE;
    }
}

/* TF.js only: node counts before and after finalize, through the internal API. */
static void report_graph(const char *path)
{
    size_t plen = strlen(path);
    if (plen < 5 || strcmp(path + plen - 5, ".json") != 0)
        return;
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = n > 0 ? malloc((size_t)n) : NULL;
    size_t got = text ? fread(text, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!text || got != (size_t)n) {
        free(text);
        return;
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    char err[512];
    av_nn__graph *g = NULL;
    if (av_nn__load_tfjs(text, (size_t)n, dir, &g, err, sizeof err) == AV_NN_OK) {
        int before, tb, after, ta;
        count_nodes(g, &before, &tb);
        if (av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK) {
            count_nodes(g, &after, &ta);
            printf("%s: IR nodes %d as loaded (%d transpose), %d after finalize (%d transpose)\n",
                   path, before, tb, after, ta);
        } else {
            printf("%s: finalize failed: %s\n", path, err);
        }
    } else {
        printf("%s: load failed: %s\n", path, err);
    }
    av_nn__graph_free(g);
    free(text);
}

/* -P: one line per convolution node of g, from the per-node profile. */
static void print_conv_nodes(const av_nn__graph *g, const av_nn__profile *p, int runs,
                             int threads)
{
    double tot_ms = 0, tot_fl = 0;
    for (int i = 0; i < g->n_nodes && i < p->n_nodes; i++) {
        const av_nn__node *n = &g->nodes[i];
        if ((n->op != AV_NN_OP_CONV2D && n->op != AV_NN_OP_DEPTHWISE_CONV2D) || n->dead ||
            !p->node_kernel[i] || n->in[1] < 0)
            continue;
        const av_nn__tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
        const av_nn__tensor *y = &g->tensors[n->out[0]];
        if (x->rank != 4 || w->rank != 4 || y->rank != 4)
            continue;
        /* FLOPs: 2 per multiply-add; a depthwise filter [1,kh,kw,cout] has one input per output */
        double taps = n->op == AV_NN_OP_CONV2D ? (double)w->dims[1] * w->dims[2] * w->dims[3]
                                               : (double)w->dims[1] * w->dims[2];
        double fl = 2.0 * (double)y->dims[0] * y->dims[1] * y->dims[2] * y->dims[3] * taps;
        /* a fused pair (pass_fuse.c) does both convolutions' work: the 1x1 conv's
         * [cout, 1, 1, cin] filter (in[4]) runs on every input pixel; the depthwise's
         * [1, kh, kw, c] filter on the conv's input */
        const av_nn__tensor *f = n->n_in > 4 && n->in[4] >= 0 ? &g->tensors[n->in[4]] : NULL;
        if (f && f->rank == 4 && n->op == AV_NN_OP_DEPTHWISE_CONV2D && n->p.conv.pw_on)
            fl += 2.0 * (double)x->dims[0] * x->dims[1] * x->dims[2] * f->dims[0] * f->dims[3];
        if (f && f->rank == 4 && n->op == AV_NN_OP_CONV2D && n->p.conv.dw_on)
            fl += 2.0 * (double)x->dims[0] * x->dims[1] * x->dims[2] * x->dims[3] * f->dims[1] *
                  f->dims[2];
        double ms = p->node_ms[i] / runs;
        tot_ms += ms, tot_fl += fl;
        printf("    %-9s %3lldx%-3lld x%4lld  k%lldx%lld s%lld g%-4d -> %3lldx%-3lld x%4lld  "
               "%7.1f MFLOP %7.3f ms %6.1f GFLOP/s  %s\n",
               n->op == AV_NN_OP_CONV2D ? "conv" : "depthwise", (long long)x->dims[1],
               (long long)x->dims[2], (long long)x->dims[3], (long long)w->dims[1],
               (long long)w->dims[2], (long long)n->p.conv.stride_h,
               n->op == AV_NN_OP_CONV2D ? (n->p.conv.groups < 1 ? 1 : n->p.conv.groups)
                                        : (int)x->dims[3],
               (long long)y->dims[1], (long long)y->dims[2], (long long)y->dims[3], fl / 1e6, ms,
               ms > 0 ? fl / ms / 1e6 : 0.0, p->node_kernel[i]);
    }
    printf("    convolutions: %.1f MFLOP %.3f ms %.1f GFLOP/s\n", tot_fl / 1e6, tot_ms,
           tot_ms > 0 ? tot_fl / tot_ms / 1e6 : 0.0);
    double peak = bench_fma_peak_gflops(threads);
    if (peak > 0)
        printf("    f32 FMA peak of %d thread%s (measured now): %.1f GFLOP/s; the convolutions "
               "at that peak: %.3f ms (floor), reached %.0f %%\n",
               threads, threads > 1 ? "s" : "", peak, tot_fl / peak / 1e6,
               tot_ms > 0 ? 100.0 * (tot_fl / tot_ms / 1e6) / peak : 0.0);
}

static int keep_weights; /* -k */
static const char *int8_table; /* -i: quantise each model with this table after load */

/* One configuration, in the calling (child) process. Returns an exit status. */
static int bench_one(const char *path, av_nn_backend be, int threads, int runs, int warmup,
                     int profile)
{
    char err[512];
    double t0 = bench_now_ms();
    av_nn_model *m = NULL;
    if (av_nn_load(path, &m, err, sizeof err) != AV_NN_OK) {
        fprintf(stderr, "%s: %s\n", path, err);
        return 1;
    }
    /* -i: as a manifest with "precision": "int8" loads it (detect/pipeline.c) */
    if (int8_table && av_nn_model_quantize(m, int8_table, NULL, err, sizeof err) != AV_NN_OK) {
        fprintf(stderr, "%s: %s\n", path, err);
        av_nn_model_free(m);
        return 1;
    }
    double t_load = bench_now_ms() - t0;
    av_nn_ctx_opts o = {.threads = threads, .backend = be};
    av_nn_ctx *c = NULL;
    av_nn_model_release_packed(m, !keep_weights); /* as the pipeline does */
    t0 = bench_now_ms();
    if (av_nn_ctx_new(m, &o, &c, err, sizeof err) != AV_NN_OK) {
        fprintf(stderr, "%s: ctx: %s\n", path, err);
        av_nn_model_free(m);
        return 1;
    }
    double t_ctx = bench_now_ms() - t0;
    int ni = av_nn_num_inputs(m), no = av_nn_num_outputs(m);
    void **bufs = calloc((size_t)(ni + no), sizeof *bufs);
    double *times = calloc((size_t)runs, sizeof *times);
    double *cpu = calloc((size_t)runs, sizeof *cpu);
    int rc = bufs && times && cpu ? 0 : 1;
    for (int i = 0; !rc && i < ni + no; i++) {
        const av_nn_tensor_info *ti = i < ni ? av_nn_input(m, i) : av_nn_output(m, i - ni);
        size_t cnt = 1;
        for (int d = 0; d < ti->rank; d++)
            cnt *= (size_t)ti->dims[d];
        size_t nb = cnt * av_nn_dtype_size(ti->dtype);
        bufs[i] = malloc(nb ? nb : 1);
        if (!bufs[i]) {
            rc = 1;
            break;
        }
        /* deterministic input in [0,1) (f32) or small integers */
        uint32_t s = 12345u + (uint32_t)i;
        for (size_t k = 0; i < ni && k < cnt; k++) {
            s = s * 1664525u + 1013904223u;
            if (ti->dtype == AV_NN_F32)
                ((float *)bufs[i])[k] = (float)(s >> 8) / 16777216.0f;
            else
                ((uint8_t *)bufs[i])[k * av_nn_dtype_size(ti->dtype)] = (uint8_t)(s >> 24);
        }
    }
    void **outs = bufs ? bufs + ni : NULL; /* -o: a copy with the unwanted NULL */
    void **only = only_output && bufs ? calloc((size_t)(no ? no : 1), sizeof *only) : NULL;
    if (only_output && !rc) {
        int k = av_nn_find_output(m, only_output);
        if (!only || k < 0) {
            fprintf(stderr, "%s: no output '%s'\n", path, only_output);
            rc = 1;
        } else {
            only[k] = outs[k];
            outs = only;
        }
    }
    double t_cold = 0;
    static av_nn__profile prof;
    for (int r = 0; !rc && r < warmup + runs; r++) {
        if (profile && be == AV_NN_BACKEND_XNNPACK && r == warmup) {
            if (profile > 1) { /* -P: per node too (the child exits: the OS frees them) */
                int nn = av_nn__ctx_graph(c)->n_nodes;
                prof.node_ms = calloc((size_t)nn, sizeof *prof.node_ms);
                prof.node_kernel = calloc((size_t)nn, sizeof *prof.node_kernel);
                prof.n_nodes = prof.node_ms && prof.node_kernel ? nn : 0;
            }
            prof.thread_cpu = threads == 1; /* the pool is the caller: CPU time is the work */
            av_nn__ctx_set_profile(c, &prof);
        }
        double c0 = bench_cpu_ms();
        t0 = bench_now_ms();
        if (av_nn_run(c, (const void *const *)bufs, outs, err, sizeof err) != AV_NN_OK) {
            fprintf(stderr, "%s: run: %s\n", path, err);
            rc = 1;
            break;
        }
        double dt = bench_now_ms() - t0;
        if (r == 0)
            t_cold = dt;
        if (r >= warmup)
            times[r - warmup] = dt, cpu[r - warmup] = bench_cpu_ms() - c0;
    }
    if (!rc) {
        qsort(times, (size_t)runs, sizeof *times, bench_cmp_double);
        double med = runs % 2 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
        qsort(cpu, (size_t)runs, sizeof *cpu, bench_cmp_double);
        double cmed = runs % 2 ? cpu[runs / 2] : (cpu[runs / 2 - 1] + cpu[runs / 2]) / 2;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("%-28s %-9s %d  load %7.1f  ctx %6.1f  cold %7.1f  median %8.2f  min %8.2f  "
               "max %8.2f ms  cpu %8.2f ms  arena %6.1f MiB  peak RSS %6.1f MiB\n",
               path, be == AV_NN_BACKEND_REFERENCE ? "reference" : "xnnpack", threads, t_load,
               t_ctx, t_cold, med, times[0], times[runs - 1], cmed,
               av_nn_ctx_arena_bytes(c) / 1048576.0, ru.ru_maxrss / 1024.0);
        for (int k = 0; profile && k < AV_NN_OP_COUNT * 2; k++)
            if (prof.count[k])
                printf("    %-18s %-9s nodes %4ld  %8.3f ms per run\n", av_nn__op_name(k / 2),
                       k % 2 ? "reference" : "xnnpack", prof.count[k] / runs, prof.ms[k] / runs);
        if (prof.n_nodes)
            print_conv_nodes(av_nn__ctx_graph(c), &prof, runs, threads);
        fflush(stdout);
    }
    for (int i = 0; bufs && i < ni + no; i++)
        free(bufs[i]);
    free(bufs);
    free(only);
    free(times);
    free(cpu);
    av_nn_ctx_free(c);
    av_nn_model_free(m);
    return rc;
}

/* Deterministic inputs and output buffers for m: bufs[0..ni) inputs, then outputs. */
static void **make_bufs(const av_nn_model *m)
{
    int ni = av_nn_num_inputs(m), no = av_nn_num_outputs(m);
    void **bufs = calloc((size_t)(ni + no), sizeof *bufs);
    for (int i = 0; bufs && i < ni + no; i++) {
        const av_nn_tensor_info *ti = i < ni ? av_nn_input(m, i) : av_nn_output(m, i - ni);
        size_t cnt = 1;
        for (int d = 0; d < ti->rank; d++)
            cnt *= (size_t)ti->dims[d];
        size_t es = av_nn_dtype_size(ti->dtype);
        if (!(bufs[i] = calloc(cnt ? cnt : 1, es)))
            return NULL; /* the benchmark exits at once */
        uint32_t s = 12345u + (uint32_t)i;
        for (size_t k = 0; i < ni && ti->dtype == AV_NN_F32 && k < cnt; k++) {
            s = s * 1664525u + 1013904223u;
            ((float *)bufs[i])[k] = (float)(s >> 8) / 16777216.0f;
        }
    }
    return bufs;
}

/* -q: float and int8 copies of path, interleaved run by run. */
static int bench_int8(const char *path, const char *table, int threads, int runs, int warmup)
{
    char err[512];
    av_nn_model *m[2] = {NULL, NULL};
    av_nn_ctx *c[2] = {NULL, NULL};
    av_nn_quant_report rep;
    av_nn_ctx_opts o = {.threads = threads, .backend = AV_NN_BACKEND_XNNPACK};
    /* one pool for both copies: with a pool each, the idle pool's workers
     * still spin while the other copy runs and take one of the two cores
     * (2 threads float ran 49 ms here against 20 ms alone) */
    av_nn_pool *pool = NULL;
    if (threads > 1) {
        if (av_nn_pool_new(threads, &pool, err, sizeof err) != AV_NN_OK) {
            fprintf(stderr, "%s: %s\n", path, err);
            return 1;
        }
        o.pool = pool;
    }
    for (int k = 0; k < 2; k++) {
        if (av_nn_load(path, &m[k], err, sizeof err) != AV_NN_OK ||
            (k == 1 && av_nn_model_quantize(m[1], table, &rep, err, sizeof err) != AV_NN_OK) ||
            av_nn_ctx_new(m[k], &o, &c[k], err, sizeof err) != AV_NN_OK) {
            fprintf(stderr, "%s: %s\n", path, err);
            return 1;
        }
    }
    void **b[2] = {make_bufs(m[0]), make_bufs(m[1])};
    double *t[2] = {calloc((size_t)runs, sizeof(double)), calloc((size_t)runs, sizeof(double))};
    if (!b[0] || !b[1] || !t[0] || !t[1]) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int ni = av_nn_num_inputs(m[0]);
    for (int r = 0; r < warmup + runs; r++)
        for (int k = 0; k < 2; k++) {
            double t0 = bench_now_ms();
            if (av_nn_run(c[k], (const void *const *)b[k], b[k] + ni, err, sizeof err) != AV_NN_OK) {
                fprintf(stderr, "%s: run: %s\n", path, err);
                return 1;
            }
            if (r >= warmup)
                t[k][r - warmup] = bench_now_ms() - t0;
        }
    double mf = bench_median(t[0], runs), mq = bench_median(t[1], runs);
    printf("%-28s xnnpack %d thread%s  float median %8.2f ms  int8 median %8.2f ms  "
           "float/int8 %.2f  (%d int8 convs, %d float, %d quantize/dequantize)\n",
           path, threads, threads > 1 ? "s" : " ", mf, mq, mf / mq, rep.quantised,
           rep.kept_float, rep.boundaries);
    fflush(stdout);
    return 0; /* the child exits: the OS frees the rest */
}

int main(int argc, char **argv)
{
    int runs = 30, warmup = 3, profile = 0, xnn_only = 0, opt;
    const char *table = NULL;
    while ((opt = getopt(argc, argv, "n:w:pPxkq:i:o:")) != -1) {
        if (opt == 'o')
            only_output = optarg;
        else if (opt == 'k')
            keep_weights = 1;
        else if (opt == 'i')
            int8_table = optarg;
        else if (opt == 'q')
            table = optarg;
        else if (opt == 'p' || opt == 'P')
            profile = opt == 'P' ? 2 : profile > 1 ? 2 : 1;
        else if (opt == 'x')
            xnn_only = 1;
        else if (opt == 'n')
            runs = atoi(optarg);
        else if (opt == 'w')
            warmup = atoi(optarg);
        else {
            fprintf(stderr,
                    "usage: %s [-n runs] [-w warmup] [-p|-P] [-x] [-k] [-i TABLE] [-o OUTPUT] [model ...]\n"
                    "       %s -q TABLE [-n runs] [-w warmup] model\n",
                    argv[0], argv[0]);
            return 2;
        }
    }
    if (table) {
        if (argc - optind != 1 || runs < 1 || warmup < 0) {
            fprintf(stderr, "-q TABLE takes one model, runs >= 1, warmup >= 0\n");
            return 2;
        }
        printf("int8 vs float, interleaved: %d timed runs each after %d warm-up runs\n", runs,
               warmup);
        fflush(stdout); /* before fork: the children would print it again */
        int failed = 0;
        for (int threads = 1; threads <= 2; threads++) {
            pid_t pid = fork();
            if (pid == 0)
                _exit(bench_int8(argv[optind], table, threads, runs, warmup));
            int status = 0;
            failed |= pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
                      WEXITSTATUS(status) != 0;
        }
        return failed;
    }
    if (runs < 1 || warmup < 0) {
        fprintf(stderr, "runs must be >= 1 and warmup >= 0\n");
        return 2;
    }
    static const char *defaults[] = {"models/human/centernet.json", "models/human/nanodet.json"};
    const char **models = optind < argc ? (const char **)argv + optind : defaults;
    int nm = optind < argc ? argc - optind : 2;
    static const struct {
        av_nn_backend be;
        int threads;
    } cfg[] = {{AV_NN_BACKEND_REFERENCE, 1}, {AV_NN_BACKEND_REFERENCE, 2},
               {AV_NN_BACKEND_XNNPACK, 1},   {AV_NN_BACKEND_XNNPACK, 2}};
    int failed = 0;
    printf("%d timed runs after %d warm-up runs; times in ms\n", runs, warmup);
    for (int i = 0; i < nm; i++) {
        report_graph(models[i]);
        fflush(stdout);
        for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
            if (xnn_only && cfg[k].be != AV_NN_BACKEND_XNNPACK)
                continue;
            pid_t pid = fork();
            if (pid == 0)
                _exit(bench_one(models[i], cfg[k].be, cfg[k].threads, runs, warmup, profile));
            int status = 0;
            if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
                WEXITSTATUS(status) != 0)
                failed = 1;
        }
    }
    return failed;
}
