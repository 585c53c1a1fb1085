/*
 * t_nn_quant.c - int8 post-training quantisation (nn/quant.c, xnn_quant.c).
 *
 * 1. Kernels: random convolutions (odd sizes, groups, depthwise, strides,
 *    padding, fused relu) quantised by the pass run on XNNPACK's qc8 path
 *    and on the reference kernels: the two must agree within one int8 step
 *    of the output (rounding of the requantisation), and both must stay
 *    near the float convolution (within the quantisation error bound).
 * 2. Human's CenterNet and NanoDet (models/human; skipped when absent)
 *    calibrated on bird.bmp's exact input, quantised, and compared with the
 *    float graph on that input.
 * 3. Calibration tables: round trip, refusal of tables of another model,
 *    of garbage, and of a missing file, with messages naming the problem.
 */
#include "harness.h"
#include "quant_fixture.h"
#include "detect_fixture.h"
#include "nn/nn.h"
#include "nn_test_util.h"
#include "nn/xnn/xnn_impl.h" /* av_nn__xnn_qgemm_available: which int8 kernel runs */

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- 1. random convolutions: qc8 on XNNPACK vs the reference kernels ---- */

typedef struct rconv {
    av_nn__op op;
    int64_t n, h, w, c, cout, kh, kw;
    int stride, groups, mult;
    av_nn__padding pad;
    av_nn__act act;
    bool bias;
} rconv;

static uint32_t rnd(uint32_t *s, uint32_t n)
{
    *s = *s * 1664525u + 1013904223u;
    return (*s >> 8) % n;
}

#define LEAKY_ALPHA 0.1f /* NanoDet's slope (read only by leaky relu) */

/* x -> conv A (the random one) -> a -> 1x1 conv B -> b; outputs a and b, so
 * the int8 output of A feeds B directly and is also dequantised. */
static av_nn_model *rconv_model(const rconv *r, uint32_t seed)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {r->n, r->h, r->w, r->c};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    bool dw = r->op == AV_NN_OP_DEPTHWISE_CONV2D;
    int64_t cout = dw ? r->c * r->mult : r->cout;
    int64_t wd[4] = {dw ? 1 : cout, r->kh, r->kw, dw ? cout : r->c / r->groups};
    int64_t nw = wd[0] * wd[1] * wd[2] * wd[3];
    float *w = malloc((size_t)nw * sizeof *w), *b = malloc((size_t)cout * sizeof *b);
    float *w2 = malloc((size_t)cout * 5 * sizeof *w2), b2[5];
    CHECK(w && b && w2);
    tt_fill(w, nw, seed, -1, 1);
    /* one output channel with far smaller weights: per-channel scales matter */
    for (int64_t i = 0; i < nw; i++)
        if ((dw ? i % cout : i / (nw / cout)) == cout - 1)
            w[i] *= 0.01f;
    tt_fill(b, cout, seed + 1, -2, 2);
    tt_fill(w2, cout * 5, seed + 2, -1, 1);
    tt_fill(b2, 5, seed + 3, -1, 1);
    av_nn__tid in[3] = {x, tt_const(g, "w", AV_NN_F32, 4, wd, w),
                        r->bias ? tt_const(g, "b", AV_NN_F32, 1, &cout, b) : -1};
    av_nn__tid a = tt_act(g, "a", AV_NN_F32, -1, NULL);
    av_nn__params p = {.conv = {.stride_h = r->stride, .stride_w = r->stride, .dilation_h = 1,
                                .dilation_w = 1, .padding = r->pad, .groups = r->groups,
                                .depth_multiplier = r->mult,
                                .act = {.kind = r->act, .alpha = LEAKY_ALPHA}}};
    tt_node(g, r->op, "A", in, r->bias ? 3 : 2, &a, 1, &p);
    int64_t w2d[4] = {5, 1, 1, cout}, five = 5;
    av_nn__tid in2[3] = {a, tt_const(g, "w2", AV_NN_F32, 4, w2d, w2),
                         tt_const(g, "b2", AV_NN_F32, 1, &five, b2)};
    av_nn__tid bo = tt_act(g, "b_out", AV_NN_F32, -1, NULL);
    av_nn__params p2 = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                 .padding = AV_NN_PAD_VALID, .groups = 1}};
    tt_node(g, AV_NN_OP_CONV2D, "B", in2, 3, &bo, 1, &p2);
    CHECK(av_nn__mark_output(g, a) >= 0 && av_nn__mark_output(g, bo) >= 0);
    free(w), free(b), free(w2);
    char err[512];
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn_model *m = NULL;
    CHECK(av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) == AV_NN_OK);
    return m;
}

/* Nodes of op that ran on XNNPACK (ref 0) or the reference kernels (ref 1)
 * in one run of m on XNNPACK: the comparisons mean something only when the
 * int8 nodes really run on XNNPACK. */
static long ran_on(const av_nn_model *m, const void *in, av_nn__op op, int ref)
{
    char err[512];
    av_nn_ctx *c = NULL;
    CHECK_MSG(av_nn_ctx_new(m, NULL, &c, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn__profile prof = {0};
    av_nn__ctx_set_profile(c, &prof);
    void **o = alloc_outputs(m);
    const void *ins[1] = {in};
    CHECK_MSG(av_nn_run(c, ins, o, err, sizeof err) == AV_NN_OK, "%s", err);
    free_outputs(m, o);
    av_nn_ctx_free(c);
    return prof.count[op * 2 + ref];
}

/* Scale of the int8 tensor called name in m's graph. */
static float int8_scale(const av_nn_model *m, const char *name)
{
    av_nn_tensor_info ti;
    const void *d;
    char err[256];
    CHECK_MSG(av_nn_find_tensor(m, name, &ti, &d, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_EQ_INT(ti.dtype, AV_NN_I8);
    CHECK(ti.scale > 0);
    return ti.scale;
}

static void check_rconv(const rconv *r, uint32_t seed)
{
    char err[512], table[1024];
    snprintf(table, sizeof table, "%s/r%u.calib", av_test_tmpdir(), seed);
    av_nn_model *f = rconv_model(r, seed), *q = rconv_model(r, seed);
    int64_t nx = r->n * r->h * r->w * r->c;
    float *x = malloc((size_t)nx * sizeof *x);
    CHECK(x);
    tt_fill(x, nx, seed + 9, -3, 5);
    calibrate_model(f, x, table);
    av_nn_quant_report rep;
    CHECK_MSG(av_nn_model_quantize(q, table, &rep, err, sizeof err) == AV_NN_OK, "%s", err);
    /* both convs int8; boundaries: quantize x, dequantize a and b (outputs) */
    CHECK_EQ_INT(rep.quantised, 2);
    CHECK_EQ_INT(rep.kept_float, 0);
    CHECK_EQ_INT(rep.boundaries, 3);
    float sa = int8_scale(q, "a/int8"), sb = int8_scale(q, "b_out/int8");
    CHECK_EQ_INT(ran_on(q, x, r->op, 0) + ran_on(q, x, AV_NN_OP_CONV2D, 0), r->op == AV_NN_OP_CONV2D ? 4 : 2);
    CHECK_EQ_INT(ran_on(q, x, AV_NN_OP_QUANTIZE, 0), 1);
    CHECK_EQ_INT(ran_on(q, x, AV_NN_OP_DEQUANTIZE, 0), 2);
    void **fo = run_model(f, AV_NN_BACKEND_XNNPACK, x);
    void **qx = run_model(q, AV_NN_BACKEND_XNNPACK, x);
    void **qr = run_model(q, AV_NN_BACKEND_REFERENCE, x);
    for (int o = 0; o < 2; o++) {
        int64_t n = out_numel(f, o);
        const float *a = fo[o], *b = qx[o], *c = qr[o];
        float lo = INFINITY, hi = -INFINITY;
        double dxr = 0, dqf = 0;
        for (int64_t k = 0; k < n; k++) {
            lo = fminf(lo, a[k]), hi = fmaxf(hi, a[k]);
            dxr = fmax(dxr, fabs((double)b[k] - c[k]));
            dqf = fmax(dqf, fabs((double)b[k] - a[k]));
        }
        float step = o == 0 ? sa : sb;
        /* XNNPACK and the reference requantise with different rounding
         * (fp32 magic-number vs double): one step on A; B's inputs then
         * differ by up to a step each, through |w2| <= 1 over cout inputs
         * with its own step on top */
        double tol_xr = o == 0 ? step * 1.01 : step + sa * (double)(r->c * r->mult + r->cout);
        /* a leaky relu where XNNPACK runs the conv (depthwise; CPUs without our int8
         * GEMM) rounds the pre-activation first, at up to step / alpha
         * (xnn_qlut.c; ours: one rounding, t_nn_qsgemm) */
        bool table = r->act == AV_NN_ACT_LEAKY &&
                     (r->op != AV_NN_OP_CONV2D || r->groups > 1 || !av_nn__xnn_qgemm_available());
        if (table)
            tol_xr += (o == 0 ? step : sa * (double)(r->c * r->mult + r->cout)) / LEAKY_ALPHA;
        /* against float: activation/weight rounding, a few steps; the
         * value range is 255 steps wide, so 4% of it is ~10 steps */
        double tol_qf = 0.04 * (hi - lo) + 1e-6;
        printf("    %s %lldx%lldx%lldx%lld k%lldx%lld s%d g%d m%d act %d: out %d xnn-ref %.3g "
               "(tol %.3g) int8-float %.3g (range %.3g)\n",
               r->op == AV_NN_OP_CONV2D ? "conv" : "dw", (long long)r->n, (long long)r->h,
               (long long)r->w, (long long)r->c, (long long)r->kh, (long long)r->kw, r->stride,
               r->groups, r->mult, (int)r->act, o, dxr, tol_xr, dqf, (double)(hi - lo));
        CHECK_MSG(dxr <= tol_xr, "output %d: XNNPACK and reference int8 differ by %.4g", o, dxr);
        CHECK_MSG(dqf <= tol_qf, "output %d: int8 off float by %.4g (range %.4g)", o, dqf,
                  (double)(hi - lo));
    }
    free_outputs(f, fo), free_outputs(q, qx), free_outputs(q, qr);
    av_nn_model_free(f), av_nn_model_free(q);
    free(x);
}

TEST(random_convs_xnnpack_matches_reference)
{
    static const av_nn__act acts[] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU, AV_NN_ACT_RELU6};
    uint32_t s = 12345;
    for (uint32_t t = 0; t < 10; t++) {
        rconv r = {.op = t % 3 == 2 ? AV_NN_OP_DEPTHWISE_CONV2D : AV_NN_OP_CONV2D,
                   .n = 1 + rnd(&s, 2), .h = 3 + rnd(&s, 15), .w = 3 + rnd(&s, 15),
                   .kh = 1 + 2 * rnd(&s, 3), .kw = 1 + 2 * rnd(&s, 2),
                   .stride = 1 + (int)rnd(&s, 2), .groups = 1, .mult = 1,
                   .pad = rnd(&s, 2) ? AV_NN_PAD_SAME : AV_NN_PAD_VALID,
                   .act = acts[rnd(&s, 3)], .bias = rnd(&s, 4) != 0};
        if (r.pad == AV_NN_PAD_VALID && (r.h < r.kh || r.w < r.kw))
            r.pad = AV_NN_PAD_SAME;
        if (r.op == AV_NN_OP_DEPTHWISE_CONV2D) {
            r.c = 1 + rnd(&s, 13), r.mult = 1 + (int)rnd(&s, 2), r.cout = 0;
        } else {
            r.groups = t % 3 == 1 ? 1 + (int)rnd(&s, 3) : 1;
            r.c = r.groups * (1 + rnd(&s, 9)), r.cout = r.groups * (1 + rnd(&s, 7));
            r.mult = 0;
        }
        check_rconv(&r, 100 + t);
    }
}

/*
 * The policy: leaky relu convs go int8 (NanoDet's), but a 3x3 stride-1 conv
 * our f32 Winograd kernel takes stays float (int8 would be slower there).
 */
TEST(leaky_convs_int8_winograd_ones_float)
{
    rconv s2 = {.op = AV_NN_OP_CONV2D, .n = 1, .h = 17, .w = 15, .c = 24, .cout = 40, .kh = 3,
                .kw = 3, .stride = 2, .groups = 1, .pad = AV_NN_PAD_SAME,
                .act = AV_NN_ACT_LEAKY, .bias = true};
    if (!av_nn__xnn_qleaky_pays()) { /* no AVX2: the leaky conv stays float */
        char err[512], table[1024];
        snprintf(table, sizeof table, "%s/s2.calib", av_test_tmpdir());
        av_nn_model *f = rconv_model(&s2, 300), *q = rconv_model(&s2, 300);
        float *x = malloc(17 * 15 * 24 * sizeof *x);
        CHECK(x);
        tt_fill(x, 17 * 15 * 24, 309, -3, 5);
        calibrate_model(f, x, table);
        av_nn_quant_report rep;
        CHECK_MSG(av_nn_model_quantize(q, table, &rep, err, sizeof err) == AV_NN_OK, "%s", err);
        CHECK_EQ_INT(rep.quantised, 1);
        CHECK_EQ_INT(rep.kept_float, 1);
        av_nn_model_free(f), av_nn_model_free(q);
        free(x);
        return;
    }
    check_rconv(&s2, 300); /* both int8, near float and the reference */
    rconv dw = {.op = AV_NN_OP_DEPTHWISE_CONV2D, .n = 1, .h = 9, .w = 11, .c = 13, .kh = 3,
                .kw = 3, .stride = 1, .mult = 1, .pad = AV_NN_PAD_SAME,
                .act = AV_NN_ACT_LEAKY, .bias = true};
    check_rconv(&dw, 301); /* XNNPACK's qc8 and the leaky table */
    rconv wino = {.op = AV_NN_OP_CONV2D, .n = 1, .h = 24, .w = 24, .c = 32, .cout = 32, .kh = 3,
                  .kw = 3, .stride = 1, .groups = 1, .pad = AV_NN_PAD_SAME,
                  .act = AV_NN_ACT_LEAKY, .bias = true};
    char err[512], table[1024];
    snprintf(table, sizeof table, "%s/wino.calib", av_test_tmpdir());
    av_nn_model *f = rconv_model(&wino, 302), *q = rconv_model(&wino, 302);
    const av_nn__graph *g = f->g;
    int a = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_CONV2D &&
            g->tensors[g->nodes[i].in[1]].dims[1] == 3)
            a = i;
    CHECK(a >= 0);
    bool takes = av_nn__xnn_wino_takes(g, &g->nodes[a]);
    printf("    24x24x32 -> 32 3x3 s1: Winograd %s here\n", takes ? "takes it" : "is off");
    float *x = malloc(24 * 24 * 32 * sizeof *x);
    CHECK(x);
    tt_fill(x, 24 * 24 * 32, 303, -3, 5);
    calibrate_model(f, x, table);
    av_nn_quant_report rep;
    CHECK_MSG(av_nn_model_quantize(q, table, &rep, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_EQ_INT(rep.quantised, takes ? 1 : 2);
    CHECK_EQ_INT(rep.kept_float, takes ? 1 : 0);
    av_nn_model_free(f), av_nn_model_free(q);
    free(x);
}

/* ---- 2. the detectors on bird.bmp ---- */

/*
 * Calibrated on bird.bmp's own input (the best case for the ranges), the
 * int8 graph runs on XNNPACK and its outputs are compared with the float
 * graph's. Tolerances are measured figures with headroom, not theory: the
 * int8 step of each activation is 1/255 of its range and errors compound
 * over ~60 layers (NanoDet measured 0.046 of the range at most, CenterNet
 * 0.45; 0.08 and 0.6 leave room for other CPUs' kernels). What they must
 * catch: a scale, zero point, bias or layout mistake, which moves outputs
 * by their whole range (the first
 * version of the bias scaling saturated squeeze-excite biases and moved
 * CenterNet's heatmap peak by 0.54 of its 0.55).
 */
static void check_detector(const char *name, int min_int8, double tol_frac)
{
    const char *path = human_model(name);
    size_t len;
    float *in = bird_input(name, &len);
    char table[1024], err[512];
    snprintf(table, sizeof table, "%s/t.calib", av_test_tmpdir());
    av_nn_model *f = NULL, *q = NULL;
    CHECK(av_nn_load(path, &f, err, sizeof err) == AV_NN_OK);
    CHECK(av_nn_load(path, &q, err, sizeof err) == AV_NN_OK);
    calibrate_model(f, in, table);
    av_nn_quant_report r;
    CHECK_MSG(av_nn_model_quantize(q, table, &r, err, sizeof err) == AV_NN_OK, "%s", err);
    printf("    %s: %d int8 convs, %d float, %d quantize/dequantize nodes\n", name, r.quantised,
           r.kept_float, r.boundaries);
    CHECK(r.quantised >= min_int8);
    void **fo = run_model(f, AV_NN_BACKEND_XNNPACK, in);
    void **qo = run_model(q, AV_NN_BACKEND_XNNPACK, in);
    for (int i = 0; i < av_nn_num_outputs(f); i++) {
        const char *on = av_nn_output(f, i)->name;
        if (!strcmp(on, "tower_0/detections"))
            continue; /* top-100 rows: reordered by any change; its inputs are checked */
        const float *a = fo[i], *b = qo[i];
        double lo = INFINITY, hi = -INFINITY, e = 0, se = 0;
        int64_t n = out_numel(f, i);
        for (int64_t k = 0; k < n; k++) {
            lo = fmin(lo, a[k]), hi = fmax(hi, a[k]);
            e = fmax(e, fabs((double)a[k] - b[k]));
            se += fabs((double)a[k] - b[k]);
        }
        printf("    %s %-18s range %.4g..%.4g  int8 max err %.4g (%.3f of range), mean %.3g\n",
               name, on, lo, hi, e, e / (hi - lo), se / (double)n);
        CHECK_MSG(e <= tol_frac * (hi - lo), "%s: int8 max error %.4g > %.2f x range %.4g", on, e,
                  tol_frac, hi - lo);
    }
    free_outputs(f, fo), free_outputs(q, qo);
    av_nn_model_free(f), av_nn_model_free(q);
    free(in);
}

/* 50 of 89: the convs with a fused hard-swish stay float (quant.c takes clamp activations) */
TEST(centernet_int8_close_to_float) { check_detector("centernet", 45, 0.6); }
TEST(nanodet_int8_close_to_float) { check_detector("nanodet", 6, 0.08); }

/* ---- 3. tables ---- */

static const char *write_text(const char *name, const char *text)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", av_test_tmpdir(), name);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs(text, f);
    CHECK(fclose(f) == 0);
    return path;
}

TEST(tables_refused_with_clear_errors)
{
    rconv r = {.op = AV_NN_OP_CONV2D, .n = 1, .h = 5, .w = 6, .c = 3, .cout = 4, .kh = 3, .kw = 3,
               .stride = 1, .groups = 1, .pad = AV_NN_PAD_SAME, .act = AV_NN_ACT_RELU, .bias = true};
    char err[512];
    struct {
        const char *text, *want;
        av_nn_status st;
    } cases[] = {
        {"hello\n", "not an aviary int8 calibration table", AV_NN_E_FORMAT},
        {"# aviary int8 calibration v1\nother/tensor\t-1\t1\n", "'other/tensor' is not in",
         AV_NN_E_FORMAT},
        {"# aviary int8 calibration v1\na\t2\t1\n", "bad range for 'a'", AV_NN_E_FORMAT},
        {"# aviary int8 calibration v1\na\tnan\t1\n", "bad range", AV_NN_E_FORMAT},
        {"# aviary int8 calibration v1\na 1 2\n", "expected name<TAB>min<TAB>max", AV_NN_E_FORMAT},
        {"", "empty calibration table", AV_NN_E_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        av_nn_model *m = rconv_model(&r, 7);
        const char *p = write_text("bad.calib", cases[i].text);
        av_nn_status st = av_nn_model_quantize(m, p, NULL, err, sizeof err);
        CHECK_MSG(st == cases[i].st && strstr(err, cases[i].want),
                  "case %zu: status %d, message '%s' (wanted '%s')", i, (int)st, err,
                  cases[i].want);
        av_nn_model_free(m);
    }
    av_nn_model *m = rconv_model(&r, 7);
    CHECK(av_nn_model_quantize(m, "/nonexistent/x.calib", NULL, err, sizeof err) == AV_NN_E_IO);
    CHECK(strstr(err, "/nonexistent/x.calib"));
    av_nn_model_free(m);
    /* a table covering only x and a: conv B keeps float, A becomes int8 */
    m = rconv_model(&r, 7);
    const char *p = write_text("part.calib", "# aviary int8 calibration v1\n# partial\n"
                                             "x\t-3\t5\na\t0\t9\n");
    av_nn_quant_report rep;
    CHECK_MSG(av_nn_model_quantize(m, p, &rep, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_EQ_INT(rep.quantised, 1);
    CHECK_EQ_INT(rep.kept_float, 1);
    CHECK_EQ_INT(rep.boundaries, 2);
    float x[90];
    tt_fill(x, 90, 3, -3, 5);
    void **o = run_model(m, AV_NN_BACKEND_XNNPACK, x);
    /* a batch-2 context of the int8 graph gives sample 0 as batch 1 did */
    av_nn_ctx_opts bo = {.threads = 1, .batch = 2};
    av_nn_ctx *c2 = NULL;
    CHECK_MSG(av_nn_ctx_new(m, &bo, &c2, err, sizeof err) == AV_NN_OK, "%s", err);
    float x2[180], a2[2 * 5 * 6 * 4], b2[2 * 5 * 6 * 5];
    memcpy(x2, x, sizeof x), memcpy(x2 + 90, x, sizeof x);
    const void *ins2[1] = {x2};
    void *outs2[2] = {a2, b2};
    CHECK_MSG(av_nn_run(c2, ins2, outs2, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK(!memcmp(a2, o[0], 5 * 6 * 4 * sizeof(float)) &&
          !memcmp(a2 + 120, o[0], 5 * 6 * 4 * sizeof(float)));
    CHECK(!memcmp(b2 + 150, o[1], 5 * 6 * 5 * sizeof(float)));
    av_nn_ctx_free(c2);
    free_outputs(m, o);
    av_nn_model_free(m);
}

/* The saved table names each tracked tensor once, with its observed range. */
TEST(table_round_trip)
{
    rconv r = {.op = AV_NN_OP_DEPTHWISE_CONV2D, .n = 1, .h = 4, .w = 4, .c = 2, .kh = 3, .kw = 3,
               .stride = 1, .groups = 1, .mult = 1, .pad = AV_NN_PAD_SAME, .act = AV_NN_ACT_NONE};
    av_nn_model *m = rconv_model(&r, 5);
    float x[32];
    for (int i = 0; i < 32; i++)
        x[i] = (float)i - 10;
    char table[1024];
    snprintf(table, sizeof table, "%s/rt.calib", av_test_tmpdir());
    calibrate_model(m, x, table);
    size_t len;
    char *text = av_test_read_file(table, &len);
    text[len] = '\0';
    CHECK(!strncmp(text, "# aviary int8 calibration v1\n# runs 1\n# test\n# one input\n", 56));
    CHECK(strstr(text, "\nx\t-10\t21\n"));
    CHECK(strstr(text, "\na\t"));
    CHECK(strstr(text, "\nb_out\t"));
    free(text);
    av_nn_model_free(m);
}

TEST_MAIN(T(random_convs_xnnpack_matches_reference), T(leaky_convs_int8_winograd_ones_float),
          T(centernet_int8_close_to_float),
          T(nanodet_int8_close_to_float), T(tables_refused_with_clear_errors),
          T(table_round_trip))
