/*
 * t_nn_peak_topk.c - the peak mask + top-k fusion (pass_peaktopk.c,
 * xnn_peaktopk.c, the reference's peak top-k): CenterNet's
 * max_pool -> equal -> cast -> mul -> reshape [N, H*W*C] -> top-k becomes one
 * TOPK reading the heat map, and its values and indices are the unfused
 * graph's bit for bit: odd shapes, plateaus and ties (quarter steps), all
 * zero maps and maps with fewer peaks than k (the zeros then come in index
 * order, -0 where x < 0), NaN and infinities, batch 1 and 3, a batch-1 model
 * run at batch 3, 1 and 2 threads, both backends, the fusion forced off.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DATA_STEPS, DATA_ZERO, DATA_SPARSE, DATA_NEG, DATA_NAN, DATA_SMOOTH };

typedef struct pt_case {
    int64_t n, h, w, c;
    int kh, kw, k;
    bool i64;  /* indices i64 (ONNX) or i32 (TF.js) */
    int data;  /* DATA_* */
    bool leak; /* the mask is a graph output too: not fused */
} pt_case;

static int64_t numel(const pt_case *pc)
{
    return pc->n * pc->h * pc->w * pc->c;
}

/* x -> peak mask (four nodes) -> reshape [n, h*w*c] -> top-k: outputs
 * values, indices (and the mask when leak). */
static av_nn__graph *build(const pt_case *pc, int64_t n)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t d[4] = {n, pc->h, pc->w, pc->c};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, d);
    av_nn__tid out[2];
    av_nn__tid y = tt_peak_topk(g, x, n, pc->h * pc->w * pc->c, pc->kh, pc->kw, pc->k,
                                pc->i64 ? AV_NN_I64 : AV_NN_I32, out);
    CHECK(av_nn__mark_output(g, out[0]) >= 0);
    CHECK(av_nn__mark_output(g, out[1]) >= 0);
    if (pc->leak)
        CHECK(av_nn__mark_output(g, y) >= 0);
    return g;
}

/* Heat maps of each kind; quarter steps make plateaus of equal maxima. */
static float *make_x(const pt_case *pc, int64_t ne, uint64_t seed)
{
    float *x = malloc((size_t)ne * sizeof *x);
    CHECK(x);
    nf_reseed(seed);
    nf_range(-2, 2, true);
    nf_fill(x, AV_NN_F32, ne);
    for (int64_t i = 0; i < ne; i++) {
        uint32_t u = nf_rnd();
        switch (pc->data) {
        case DATA_ZERO:
            x[i] = (u & 1) ? 0.0f : -0.0f;
            break;
        case DATA_SPARSE: /* a few positive peaks among zeros and negatives */
            x[i] = u % 97 == 0 ? x[i] + 3 : u % 3 == 0 ? -x[i] * x[i] : 0.0f;
            break;
        case DATA_NEG:
            x[i] = -fabsf(x[i]);
            break;
        case DATA_NAN:
            x[i] = u % 41 == 0 ? NAN : u % 43 == 0 ? INFINITY : u % 47 == 0 ? -INFINITY : x[i];
            break;
        case DATA_SMOOTH: /* a sigmoid map: a low background and a few bumps */
            x[i] = 1.0f / (1.0f + expf(5.0f - 0.5f * x[i] - (u % 211 == 0 ? 6.0f : 0.0f)));
            break;
        default:
            break;
        }
    }
    return x;
}

/* Live TOPK nodes that took the mask, and live MAX_POOL2D nodes. */
static void count(const av_nn__graph *g, int *fused, int *pools)
{
    *fused = *pools = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead) {
            *fused += g->nodes[i].op == AV_NN_OP_TOPK && g->nodes[i].p.topk.peak;
            *pools += g->nodes[i].op == AV_NN_OP_MAX_POOL2D;
        }
}

/* Finalizes pc's graph (model batch mb), checks the fusion happened or not,
 * runs it on backend be with threads at batch pc->n into out. */
static void run(const pt_case *pc, int64_t mb, bool want_fused, av_nn_backend be, int threads,
                const float *x, void *const *out)
{
    av_nn__graph *g = build(pc, mb);
    char err[512] = "";
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    int fused, pools;
    count(g, &fused, &pools);
    CHECK_EQ_INT(fused, want_fused ? 1 : 0);
    if (want_fused)
        CHECK_EQ_INT(pools, 0);
    av_nn_model *m = NULL;
    CHECK(av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) == AV_NN_OK);
    av_nn_ctx_opts o = {.threads = threads, .backend = be, .batch = (int)pc->n};
    av_nn_ctx *c = NULL;
    CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "ctx: %s", err);
    const void *in[1] = {x};
    CHECK_MSG(av_nn_run(c, in, out, err, sizeof err) == AV_NN_OK, "run: %s", err);
    av_nn_ctx_free(c);
    av_nn_model_free(m);
}

typedef struct result {
    float *v;
    void *i;
    float *mask;
} result;

static void res_new(result *r, const pt_case *pc)
{
    size_t nk = (size_t)(pc->n * pc->k);
    r->v = malloc(nk * sizeof *r->v);
    r->i = malloc(nk * 8);
    r->mask = malloc((size_t)numel(pc) * sizeof *r->mask);
    CHECK(r->v && r->i && r->mask);
    memset(r->v, 0xa5, nk * sizeof *r->v);
    memset(r->i, 0xa5, nk * 8);
}

static void res_free(result *r)
{
    free(r->v), free(r->i), free(r->mask);
}

static void same(const pt_case *pc, const result *got, const result *want, const char *what)
{
    size_t nk = (size_t)(pc->n * pc->k);
    CHECK_MSG(memcmp(got->v, want->v, nk * sizeof(float)) == 0 &&
                  memcmp(got->i, want->i, nk * (pc->i64 ? 8 : 4)) == 0,
              "%s differs: %lldx%lldx%lldx%lld k%dx%d top %d data %d", what, (long long)pc->n,
              (long long)pc->h, (long long)pc->w, (long long)pc->c, pc->kh, pc->kw, pc->k,
              pc->data);
}

/* Interpreter (unfused, reference kernels) against the fused graph on the
 * reference backend; the own kernels fused against unfused (NaN windows
 * differ between the reference and the own peak kernel, so without NaN all
 * four must agree). mb: the model's batch (1 with pc->n 3: rebatched). */
static void check_case(const pt_case *pc, int64_t mb, uint64_t seed)
{
    bool fuses = av_nn__peak_fusion_pays() && !pc->leak; /* the mask first, then this */
    int64_t ne = numel(pc);
    float *x = make_x(pc, ne, seed);
    result want, ref, own, own1, plain;
    res_new(&want, pc), res_new(&ref, pc), res_new(&own, pc), res_new(&own1, pc);
    res_new(&plain, pc);
    av_nn__graph *g = build(pc, pc->n);
    tt_interpret(g, (const void *[]){x}, (void *[]){want.v, want.i, want.mask});
    av_nn__graph_free(g);
    run(pc, mb, fuses, AV_NN_BACKEND_REFERENCE, 1, x, (void *[]){ref.v, ref.i, ref.mask});
    same(pc, &ref, &want, "reference fused");
    run(pc, mb, fuses, AV_NN_BACKEND_XNNPACK, 2, x, (void *[]){own.v, own.i, own.mask});
    run(pc, mb, fuses, AV_NN_BACKEND_XNNPACK, 1, x, (void *[]){own1.v, own1.i, own1.mask});
    av_nn__peak_topk_force_off(true);
    run(pc, mb, false, AV_NN_BACKEND_XNNPACK, 2, x, (void *[]){plain.v, plain.i, plain.mask});
    av_nn__peak_topk_force_off(false);
    same(pc, &own, &plain, "own kernel, 2 threads");
    same(pc, &own1, &plain, "own kernel, 1 thread");
    if (pc->data != DATA_NAN)
        same(pc, &own, &want, "own kernel against the interpreter");
    if (pc->leak) /* the mask itself, as unfused */
        CHECK(memcmp(own.mask, plain.mask, (size_t)ne * sizeof(float)) == 0);
    res_free(&want), res_free(&ref), res_free(&own), res_free(&own1), res_free(&plain);
    free(x);
}

TEST(fused_equals_unfused_random_shapes)
{
    nf_reseed(11);
    for (int it = 0; it < 36; it++) {
        pt_case pc = {.n = it % 4 == 3 ? 3 : 1,
                      .h = 1 + nf_rnd() % 21,
                      .w = 1 + nf_rnd() % 19,
                      .c = it % 6 == 0 ? 80 : 1 + nf_rnd() % 29,
                      .kh = it % 5 == 4 ? 5 : 3,
                      .kw = it % 7 == 6 ? 1 : 3,
                      .i64 = it & 1,
                      .data = it % 6};
        int64_t img = pc.h * pc.w * pc.c;
        pc.k = (int)(1 + nf_rnd() % (img < 256 ? img : 256));
        if (it % 9 == 8) /* k past the number of peaks: zeros in index order */
            pc.k = (int)(img < 256 ? img : 256);
        check_case(&pc, pc.n, 100 + (uint64_t)it);
    }
}

TEST(centernet_shape)
{
    for (int data = DATA_STEPS; data <= DATA_SMOOTH; data++) {
        pt_case pc = {.n = 1, .h = 32, .w = 40, .c = 80, .kh = 3, .kw = 3, .k = 100,
                      .data = data};
        check_case(&pc, 1, 7 + (uint64_t)data);
    }
}

TEST(batch_one_model_run_at_batch_three)
{
    pt_case pc = {.n = 3, .h = 9, .w = 11, .c = 17, .kh = 3, .kw = 3, .k = 40, .i64 = true,
                  .data = DATA_STEPS};
    check_case(&pc, 1, 5);
    pc.data = DATA_SPARSE;
    check_case(&pc, 1, 6);
}

TEST(not_fused_where_the_mask_is_an_output)
{
    pt_case pc = {.n = 1, .h = 7, .w = 6, .c = 9, .kh = 3, .kw = 3, .k = 20, .leak = true};
    check_case(&pc, 1, 3);
}

TEST(forced_off_keeps_the_top_k_apart)
{
    pt_case pc = {.n = 1, .h = 5, .w = 5, .c = 8, .kh = 3, .kw = 3, .k = 10};
    av_nn__peak_topk_force_off(true);
    float *x = make_x(&pc, numel(&pc), 1);
    result r;
    res_new(&r, &pc);
    run(&pc, 1, false, AV_NN_BACKEND_XNNPACK, 1, x, (void *[]){r.v, r.i, r.mask});
    av_nn__peak_topk_force_off(false);
    res_free(&r);
    free(x);
}

TEST(k_past_the_row_is_refused_at_finalize)
{
    pt_case pc = {.n = 1, .h = 2, .w = 2, .c = 2, .kh = 3, .kw = 3, .k = 9};
    av_nn__graph *g = build(&pc, 1);
    char err[256] = "";
    CHECK(av_nn__graph_finalize(g, err, sizeof err) != AV_NN_OK);
    av_nn__graph_free(g);
}

/* The calibration table of the fused graph (fused unless off) into buf. */
static void calib_table(const pt_case *pc, bool off, const float *x, char *buf, size_t len)
{
    av_nn__peak_topk_force_off(off);
    av_nn__graph *g = build(pc, pc->n);
    char err[512] = "", path[512];
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn__peak_topk_force_off(false);
    int fused, pools;
    count(g, &fused, &pools);
    CHECK_EQ_INT(fused, !off && av_nn__peak_fusion_pays());
    av_nn_model *m = NULL;
    CHECK(av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) == AV_NN_OK);
    av_nn_ctx *c = NULL;
    av_nn_ctx_opts o = {.threads = 1};
    CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn_calib *cal = NULL;
    CHECK(av_nn_calib_new(m, &cal, err, sizeof err) == AV_NN_OK);
    result r;
    res_new(&r, pc);
    CHECK_MSG(av_nn_calib_run(cal, c, (const void *[]){x}, (void *[]){r.v, r.i}, err,
                              sizeof err) == AV_NN_OK, "%s", err);
    snprintf(path, sizeof path, "%s/peak_topk%d.calib", av_test_tmpdir(), off);
    CHECK(av_nn_calib_save(cal, path, NULL, err, sizeof err) == AV_NN_OK);
    FILE *f = fopen(path, "r");
    CHECK(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = 0;
    fclose(f);
    res_free(&r);
    av_nn_calib_free(cal);
    av_nn_ctx_free(c);
    av_nn_model_free(m);
}

TEST(calibration_keeps_the_mask_ranges)
{
    pt_case pc = {.n = 1, .h = 9, .w = 11, .c = 17, .kh = 3, .kw = 3, .k = 30,
                  .data = DATA_STEPS};
    float *x = make_x(&pc, numel(&pc), 9);
    static char fused[16384], plain[16384];
    calib_table(&pc, false, x, fused, sizeof fused);
    calib_table(&pc, true, x, plain, sizeof plain);
    CHECK(strstr(plain, "\ny\t") && strstr(plain, "\nr\t"));
    CHECK_MSG(strcmp(fused, plain) == 0, "fused:\n%s\nunfused:\n%s", fused, plain);
    free(x);
}

/* The fused node alone on an input that ends at an unreadable page (ASan
 * does not see the AVX2 loads): own kernel (AVX2 and portable loops, 1 and 2
 * threads) against the reference kernel, bit for bit. */
TEST(own_kernel_reads_stay_in_the_input)
{
    static const int64_t shapes[][4] = {{1, 5, 7, 19}, {2, 6, 4, 16}, {1, 1, 1, 3}, {3, 3, 9, 8}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int portable = 0; portable < 2; portable++) {
            const int64_t *d = shapes[si];
            int64_t ne = d[0] * d[1] * d[2] * d[3], img = ne / d[0];
            int k = (int)(img < 37 ? img : 37);
            nf_guarded gx;
            float *x = nf_guarded_floats(&gx, (size_t)ne);
            CHECK(x);
            nf_reseed(si * 2 + (uint64_t)portable);
            nf_range(-1, 1, true);
            nf_fill(x, AV_NN_F32, ne);
            av_nn__graph *g = av_nn__graph_new();
            CHECK(g);
            av_nn__tid xt = tt_input(g, "x", AV_NN_F32, 4, d);
            av_nn__tid out[2] = {tt_act(g, "v", AV_NN_F32, -1, NULL),
                                 tt_act(g, "i", AV_NN_I32, -1, NULL)};
            av_nn__params p = {.topk = {.k = k, .axis = 1, .largest = true, .sorted = true,
                                        .index_dtype = AV_NN_I32, .peak = true, .pre_peak = -1,
                                        .pre_rows = -1,
                                        .peak_pool = {.filter_h = 3, .filter_w = 3,
                                                      .stride_h = 1, .stride_w = 1,
                                                      .dilation_h = 1, .dilation_w = 1,
                                                      .padding = AV_NN_PAD_EXPLICIT,
                                                      .pad_top = 1, .pad_left = 1,
                                                      .pad_bottom = 1, .pad_right = 1,
                                                      .peak = true}}};
            int ni = tt_node(g, AV_NN_OP_TOPK, "topk", &xt, 1, out, 2, &p);
            const av_nn__node *n = &g->nodes[ni];
            char err[256] = "";
            CHECK_MSG(av_nn__infer_node(g, &g->nodes[ni], err, sizeof err) == AV_NN_OK, "%s", err);
            size_t nk = (size_t)(d[0] * k);
            float *wv = calloc(nk, 4), *gv = calloc(nk, 4);
            int32_t *wi = calloc(nk, 4), *gi = calloc(nk, 4);
            CHECK(wv && gv && wi && gi);
            const void *in[1] = {x};
            CHECK(av_nn__ref_run(g, n, in, (void *[]){wv, wi}, err, sizeof err) == AV_NN_OK);
            av_nn__peak_force_off(portable); /* the portable loop, as xnn_peak.c's */
            for (int threads = 0; threads < 2; threads++) {
                void *state = NULL;
                pthreadpool_t pool = threads ? nf_pool() : NULL;
                CHECK_MSG(av_nn__backend_xnn.prepare(g, n, pool, &state, err, sizeof err) ==
                              AV_NN_OK, "%s", err);
                memset(gv, 0xff, nk * 4), memset(gi, 0xff, nk * 4);
                CHECK(av_nn__backend_xnn.run(state, g, n, in, (void *[]){gv, gi}, pool, err,
                                             sizeof err) == AV_NN_OK);
                CHECK_MSG(memcmp(gv, wv, nk * 4) == 0 && memcmp(gi, wi, nk * 4) == 0,
                          "shape %zu portable %d threads %d", si, portable, threads + 1);
                av_nn__backend_xnn.release(state);
            }
            av_nn__peak_force_off(false);
            free(wv), free(gv), free(wi), free(gi);
            nf_guarded_free(&gx);
            av_nn__graph_free(g);
        }
}

TEST_MAIN(T(own_kernel_reads_stay_in_the_input), T(calibration_keeps_the_mask_ranges), T(fused_equals_unfused_random_shapes), T(centernet_shape),
          T(batch_one_model_run_at_batch_three), T(not_fused_where_the_mask_is_an_output),
          T(forced_off_keeps_the_top_k_apart), T(k_past_the_row_is_refused_at_finalize))
