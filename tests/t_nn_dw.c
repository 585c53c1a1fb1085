/*
 * t_nn_dw.c - our f32 depthwise convolution (src/nn/xnn/xnn_dw.c) and the
 * fused hard-swish: against the reference kernels on random shapes (odd
 * sizes, channels not a multiple of 16, strides, uneven pads, batch 2, every
 * fused activation it takes), with the kernel forced off (XNNPACK's
 * depthwise and our hard-swish pass after it), reads that must stay inside
 * the input (guard pages), and the pass that fuses hard-swish into the
 * producing convolution. On CPUs that run XNNPACK's depthwise (no AVX2+FMA,
 * or AVX-512) the same cases check XNNPACK's.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <pthreadpool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xnnpack.h>

#define F32_TOL 1e-4

static float *rand_floats(int64_t n, float lo, float hi)
{
    float *p = malloc((size_t)n * sizeof(float) + XNN_EXTRA_BYTES + 64);
    CHECK(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = nf_frand(lo, hi);
    return p;
}

/* f32 within 1e-4 relative (absolute below 1). */
static void compare(const float *got, const float *want, int64_t n, uint64_t seed,
                    const char *what)
{
    for (int64_t i = 0; i < n; i++) {
        double a = got[i], b = want[i], tol = F32_TOL * (fabs(b) > 1 ? fabs(b) : 1);
        CHECK_MSG(fabs(a - b) <= tol, "seed %llu %s: element %lld of %lld: xnn %.9g vs ref %.9g",
                  (unsigned long long)seed, what, (long long)i, (long long)n, a, b);
    }
}

typedef struct dw_case {
    int64_t nb, h, w, c, kh, kw;
    av_nn__conv_params p;
    bool bias;
    av_nn__op op; /* DEPTHWISE_CONV2D, or CONV2D (the dense kernel's hard-swish) */
} dw_case;

/* The one-node graph of c, weights and bias random; *k receives the node. */
static av_nn__graph *build(const dw_case *c, int *k)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    bool dw = c->op == AV_NN_OP_DEPTHWISE_CONV2D;
    int64_t co = dw ? c->c : 1 + c->c % 7;
    const int64_t xd[4] = {c->nb, c->h, c->w, c->c};
    const int64_t wd[4] = {dw ? 1 : co, c->kh, c->kw, dw ? c->c : c->c};
    av_nn__tid in[3];
    in[0] = av_nn__add_tensor(g, "x", AV_NN_F32, 4, xd, NULL, false);
    in[1] = av_nn__add_tensor(g, "w", AV_NN_F32, 4, wd, rand_floats(wd[0] * wd[1] * wd[2] * wd[3], -1, 1), true);
    in[2] = c->bias ? av_nn__add_tensor(g, "b", AV_NN_F32, 1, &co, rand_floats(co, -1, 1), true)
                    : -1;
    av_nn__tid y = av_nn__add_tensor(g, "y", AV_NN_F32, -1, NULL, NULL, false);
    CHECK(in[0] >= 0 && in[1] >= 0 && y >= 0 && (!c->bias || in[2] >= 0));
    av_nn__params pp = {.conv = c->p};
    *k = av_nn__add_node(g, c->op, "dw", in, c->bias ? 3 : 2, &y, 1, &pp);
    CHECK(*k >= 0);
    char err[256] = "";
    CHECK_MSG(av_nn__infer_node(g, &g->nodes[*k], err, sizeof err) == AV_NN_OK, "infer: %s", err);
    return g;
}

/* Runs node k on the reference and on the xnn backend (pool, again, caller's
 * thread on a moved input) and compares; frees g. */
static void check_node(av_nn__graph *g, int k, uint64_t seed)
{
    const av_nn__node *n = &g->nodes[k];
    const av_nn__backend *be = &av_nn__backend_xnn;
    CHECK_MSG(be->supports_op(g, n), "seed %llu: xnn refuses the node", (unsigned long long)seed);
    const av_nn__tensor *xt = &g->tensors[n->in[0]], *yt = &g->tensors[n->out[0]];
    int64_t nx = av_nn__numel(xt), ny = av_nn__numel(yt);
    float *x = rand_floats(nx, -4, 4), *x2 = rand_floats(nx, 0, 0); /* hard-swish bends at +-3 */
    memcpy(x2, x, (size_t)nx * sizeof *x);
    float *yref = rand_floats(ny, 0, 0), *yx = rand_floats(ny, 0, 0);
    const void *in[3] = {x, g->tensors[n->in[1]].data,
                         n->n_in > 2 && n->in[2] >= 0 ? g->tensors[n->in[2]].data : NULL};
    void *out[1] = {yref};
    char err[256] = "";
    CHECK_MSG(av_nn__ref_run(g, n, in, out, err, sizeof err) == AV_NN_OK, "ref: %s", err);
    void *state = NULL;
    CHECK_MSG(be->prepare(g, n, nf_pool(), &state, err, sizeof err) == AV_NN_OK, "prepare: %s",
              err);
    out[0] = yx;
    CHECK_MSG(be->run(state, g, n, in, out, nf_pool(), err, sizeof err) == AV_NN_OK, "run: %s",
              err);
    compare(yx, yref, ny, seed, "first run");
    memset(yx, 0, (size_t)ny * sizeof *yx);
    CHECK(be->run(state, g, n, in, out, nf_pool(), err, sizeof err) == AV_NN_OK);
    compare(yx, yref, ny, seed, "second run");
    memset(yx, 0, (size_t)ny * sizeof *yx);
    in[0] = x2;
    CHECK(be->run(state, g, n, in, out, NULL, err, sizeof err) == AV_NN_OK);
    compare(yx, yref, ny, seed, "moved run, caller's thread");
    be->release(state);
    free(x);
    free(x2);
    free(yref);
    free(yx);
    av_nn__graph_free(g);
}

static const av_nn__act acts[] = {AV_NN_ACT_NONE,    AV_NN_ACT_RELU,   AV_NN_ACT_RELU6,
                                  AV_NN_ACT_RELU_N1_1, AV_NN_ACT_CLAMP, AV_NN_ACT_LEAKY,
                                  AV_NN_ACT_SIGMOID, AV_NN_ACT_SILU,   AV_NN_ACT_HARDSWISH};
#define N_ACTS (int)(sizeof acts / sizeof acts[0])

/* A random case for seed: kernels 1..7 (mostly 3 and 5), strides 1..2 per
 * axis, pads below the kernel, 1..40 channels, every act. */
static dw_case random_case(uint64_t seed)
{
    nf_reseed(seed * 0x9e3779b97f4a7c15ull + 1);
    dw_case c = {.nb = 1 + nf_rnd() % 2, .h = 1 + nf_rnd() % 17, .w = 1 + nf_rnd() % 23,
                 .c = 1 + nf_rnd() % 40, .op = AV_NN_OP_DEPTHWISE_CONV2D};
    static const int64_t ks[] = {3, 5, 3, 5, 1, 2, 7};
    c.kh = ks[nf_rnd() % 7], c.kw = nf_rnd() % 3 ? c.kh : ks[nf_rnd() % 7];
    c.p = (av_nn__conv_params){.stride_h = 1 + (int)(nf_rnd() % 2), .stride_w = 1 + (int)(nf_rnd() % 2),
                               .dilation_h = 1, .dilation_w = 1, .padding = AV_NN_PAD_EXPLICIT,
                               .depth_multiplier = 1};
    c.p.pad_top = (int)(nf_rnd() % (uint32_t)c.kh), c.p.pad_bottom = (int)(nf_rnd() % (uint32_t)c.kh);
    c.p.pad_left = (int)(nf_rnd() % (uint32_t)c.kw), c.p.pad_right = (int)(nf_rnd() % (uint32_t)c.kw);
    c.p.act.kind = acts[nf_rnd() % N_ACTS];
    c.p.act.min = -0.5f, c.p.act.max = 0.7f;
    /* LEAKY slopes on both sides of 0 and 1; HARDSWISH: 1/6 (0) or TF.js's f16 1/6 */
    c.p.act.alpha = c.p.act.kind == AV_NN_ACT_HARDSWISH ? (nf_rnd() % 2 ? 0.0f : 0.166625977f)
                                                        : nf_frand(-0.5f, 1.5f);
    c.bias = nf_rnd() % 4 != 0;
    return c;
}

static bool has_output(const dw_case *c)
{
    return c->h + c->p.pad_top + c->p.pad_bottom >= c->kh &&
           c->w + c->p.pad_left + c->p.pad_right >= c->kw;
}

TEST(dw_own_random_shapes)
{
    int ours = 0, tried = 0;
    for (uint64_t seed = 1; seed <= 150; seed++) {
        dw_case c = random_case(seed);
        if (!has_output(&c))
            continue;
        int k;
        av_nn__graph *g = build(&c, &k);
        bool own = av_nn__xnn_dw_supports(g, &g->nodes[k]);
        /* small shapes: ours takes every one where the CPU runs it */
        CHECK_MSG(own == av_nn__xnn_dw_available(), "seed %llu", (unsigned long long)seed);
        ours += own, tried++;
        check_node(g, k, seed);
    }
    CHECK(tried >= 100);
    CHECK(ours == 0 || ours == tried);
}

/* Widths where runs of 4 interior pixels and the checked edges meet in every
 * way, 5x5 and 3x3, stride 1 and 2, SAME padding as the models have it. */
TEST(dw_own_edges_and_widths)
{
    uint64_t seed = 1000;
    for (int64_t w = 1; w <= 14; w++)
        for (int k = 3; k <= 5; k += 2)
            for (int s = 1; s <= 2; s++, seed++) {
                nf_reseed(seed);
                dw_case c = {.nb = 1, .h = 3 + w % 4, .w = w, .c = 16 + (w % 3) * 5, .kh = k,
                             .kw = k, .bias = true, .op = AV_NN_OP_DEPTHWISE_CONV2D};
                c.p = (av_nn__conv_params){.stride_h = s, .stride_w = s, .dilation_h = 1,
                                           .dilation_w = 1, .padding = AV_NN_PAD_SAME,
                                           .depth_multiplier = 1,
                                           .act = {.kind = AV_NN_ACT_HARDSWISH}};
                int n;
                av_nn__graph *g = build(&c, &n);
                check_node(g, n, seed);
            }
}

/* Forced off (as on AVX-512 CPUs): XNNPACK's depthwise, then our hard-swish
 * pass (any scale) or XNNPACK's other post ops; still the reference's answer.
 * Depth multiplier 2 and dilation stay with XNNPACK even when ours is on. */
TEST(dw_forced_off_and_refusals)
{
    av_nn__xnn_dw_force_off(true);
    CHECK(!av_nn__xnn_dw_available());
    for (uint64_t seed = 200; seed < 240; seed++) {
        dw_case c = random_case(seed);
        if (!has_output(&c))
            continue;
        int k;
        av_nn__graph *g = build(&c, &k);
        CHECK(!av_nn__xnn_dw_supports(g, &g->nodes[k]));
        check_node(g, k, seed);
    }
    av_nn__xnn_dw_force_off(false);
    nf_reseed(7);
    dw_case c = {.nb = 1, .h = 6, .w = 7, .c = 4, .kh = 3, .kw = 3, .bias = true,
                 .op = AV_NN_OP_DEPTHWISE_CONV2D};
    c.p = (av_nn__conv_params){.stride_h = 1, .stride_w = 1, .dilation_h = 2, .dilation_w = 2,
                               .padding = AV_NN_PAD_SAME, .depth_multiplier = 1};
    int k;
    av_nn__graph *g = build(&c, &k);
    CHECK(!av_nn__xnn_dw_supports(g, &g->nodes[k])); /* dilation */
    check_node(g, k, 7);
    c.p.dilation_h = c.p.dilation_w = 1;
    g = build(&c, &k);
    g->tensors[g->nodes[k].in[1]].dims[3] = 8; /* multiplier 2: shape only, data unread */
    g->tensors[g->nodes[k].out[0]].dims[3] = 8;
    CHECK(!av_nn__xnn_dw_supports(g, &g->nodes[k]));
    av_nn__graph_free(g);
}

/* The dense convolution (xnn_gemm.c; forced off for every third seed:
 * XNNPACK's + our pass) with a fused hard-swish of either scale. */
TEST(conv_fused_hardswish)
{
    for (uint64_t seed = 300; seed < 330; seed++) {
        av_nn__xnn_gemm_force_off(seed % 3 == 0);
        dw_case c = random_case(seed);
        c.op = AV_NN_OP_CONV2D;
        c.p.act.kind = AV_NN_ACT_HARDSWISH;
        c.p.act.alpha = seed % 2 ? 0.0f : 0.166625977f;
        c.p.groups = 1;
        if (!has_output(&c))
            continue;
        int k;
        av_nn__graph *g = build(&c, &k);
        CHECK(av_nn__xnn_gemm_supports(g, &g->nodes[k]) ==
              (av_nn__xnn_gemm_available() && seed % 3 != 0));
        check_node(g, k, seed);
    }
    av_nn__xnn_gemm_force_off(false);
}

/*
 * Intrinsic loads are invisible to ASan: the input sits against a PROT_NONE
 * page, first ending at it, then starting right after it, so a read past
 * either end faults. 5 channels (a masked block), 5x5 with pads 2, stride 1
 * and 2, and 7 pixels per row (a run of 4 and checked edges).
 */
TEST(dw_own_reads_stay_in_the_input)
{
    if (!av_nn__xnn_dw_available())
        return; /* not this CPU's path: XNNPACK runs the depthwise */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *map = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    CHECK(mprotect(map, page, PROT_NONE) == 0);
    CHECK(mprotect(map + 2 * page, page, PROT_NONE) == 0);
    for (int s = 1; s <= 2; s++) {
        nf_reseed(40 + (uint64_t)s);
        dw_case c = {.nb = 1, .h = 3, .w = 7, .c = 5, .kh = 5, .kw = 5, .bias = true,
                     .op = AV_NN_OP_DEPTHWISE_CONV2D};
        c.p = (av_nn__conv_params){.stride_h = s, .stride_w = s, .dilation_h = 1,
                                   .dilation_w = 1, .padding = AV_NN_PAD_EXPLICIT,
                                   .pad_top = 2, .pad_left = 2, .pad_bottom = 2, .pad_right = 2,
                                   .depth_multiplier = 1, .act = {.kind = AV_NN_ACT_HARDSWISH}};
        int k;
        av_nn__graph *g = build(&c, &k);
        const av_nn__node *n = &g->nodes[k];
        CHECK(av_nn__xnn_dw_supports(g, n));
        av_nn__xnn_node st;
        memset(&st, 0, sizeof st);
        char err[256];
        CHECK_EQ_INT(av_nn__xnn_dw_prepare(g, n, &st, err, sizeof err), AV_NN_OK);
        size_t nx = 3 * 7 * 5, ny = (size_t)av_nn__numel(&g->tensors[n->out[0]]);
        float *src = rand_floats((int64_t)nx, -4, 4), *want = rand_floats((int64_t)ny, 0, 0);
        float *got = rand_floats((int64_t)ny, 0, 0);
        const void *in[3] = {src, g->tensors[n->in[1]].data, g->tensors[n->in[2]].data};
        void *out[1] = {want};
        CHECK(av_nn__ref_run(g, n, in, out, err, sizeof err) == AV_NN_OK);
        float *at[2] = {(float *)(map + 2 * page) - nx, (float *)(map + page)};
        for (int e = 0; e < 2; e++) { /* ending at the guard, starting after it */
            memcpy(at[e], src, nx * sizeof *src);
            memset(got, 0, ny * sizeof *got);
            av_nn__xnn_dw_run(st.dw, at[e], got, NULL);
            compare(got, want, (int64_t)ny, 40 + (uint64_t)s, e ? "input after guard" : "input before guard");
        }
        av_nn__xnn_dw_free(st.dw);
        free(src);
        free(want);
        free(got);
        av_nn__graph_free(g);
    }
    munmap(map, 3 * page);
}

/* Our hard-swish pass and span on odd sizes (AVX2 body and scalar tail). */
TEST(hardswish_kernels_odd_sizes)
{
    static const size_t sizes[] = {1, 7, 8, 9, 31, 16385, 40001};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int a = 0; a < 2; a++) {
            nf_reseed(50 + i);
            size_t n = sizes[i];
            float alpha = a ? 0.166625977f : 0.0f;
            float *x = rand_floats((int64_t)n, -5, 5), *y = rand_floats((int64_t)n, 0, 0);
            float *want = rand_floats((int64_t)n, 0, 0);
            av_nn__unary_params up = {.kind = AV_NN_UN_HARDSWISH, .alpha = alpha};
            for (size_t j = 0; j < n; j++) {
                double r = x[j] + 3.0 < 0 ? 0 : x[j] + 3.0 > 6 ? 6 : x[j] + 3.0;
                want[j] = (float)(up.alpha != 0 ? x[j] * up.alpha * r : x[j] * r / 6);
            }
            memcpy(y, x, n * sizeof *y);
            av_nn__xnn_hswish(y, n, alpha, nf_pool());
            compare(y, want, (int64_t)n, n, "pool pass");
            memcpy(y, x, n * sizeof *y);
            av_nn__xnn_hswish_span(y, n, alpha);
            compare(y, want, (int64_t)n, n, "span");
            free(x);
            free(y);
            free(want);
        }
}

/*
 * MobileNetV3's block after the pass: conv -> hard-swish -> depthwise ->
 * hard-swish (TF.js's (h * c) * relu6(h + 3) form, c = f16 1/6): the pass
 * leaves two nodes (each hard-swish a fused act), and both backends give
 * the unoptimised graph's answer.
 */
static av_nn__tid hardswish_tfjs(av_nn__graph *g, av_nn__tid h, const char *name)
{
    static const float three = 3.0f, sixth16 = 0.166625977f;
    int64_t sd[1] = {1};
    av_nn__tid a = tt_act(g, name, AV_NN_F32, -1, NULL), b = tt_act(g, "b", AV_NN_F32, -1, NULL);
    av_nn__tid y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__tid c3 = tt_const(g, "three", AV_NN_F32, 0, sd, &three);
    av_nn__tid c6 = tt_const(g, "sixth", AV_NN_F32, 0, sd, &sixth16);
    av_nn__params pm = {.binary = {.kind = AV_NN_BIN_MUL}};
    av_nn__params pa = {.binary = {.kind = AV_NN_BIN_ADD, .act = {.kind = AV_NN_ACT_RELU6}}};
    tt_node(g, AV_NN_OP_BINARY, "hs/add", (av_nn__tid[]){h, c3}, 2, &a, 1, &pa);
    tt_node(g, AV_NN_OP_BINARY, "hs/mul", (av_nn__tid[]){h, c6}, 2, &b, 1, &pm);
    tt_node(g, AV_NN_OP_BINARY, "hs/mul_1", (av_nn__tid[]){b, a}, 2, &y, 1, &pm);
    return y;
}

static av_nn__graph *build_block(void)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {1, 9, 11, 6}, wd[4] = {20, 1, 1, 6}, dd[4] = {1, 5, 5, 20}, bd[1] = {20};
    float wf[20 * 6], df[25 * 20], bf[20];
    tt_fill(wf, 20 * 6, 1, -1, 1), tt_fill(df, 25 * 20, 2, -0.5f, 0.5f), tt_fill(bf, 20, 3, -1, 1);
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid c = tt_act(g, "conv", AV_NN_F32, -1, NULL), d = tt_act(g, "dw", AV_NN_F32, -1, NULL);
    av_nn__params pc = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                 .padding = AV_NN_PAD_SAME, .groups = 1}};
    tt_node(g, AV_NN_OP_CONV2D, "conv",
            (av_nn__tid[]){x, tt_const(g, "w", AV_NN_F32, 4, wd, wf),
                           tt_const(g, "b", AV_NN_F32, 1, bd, bf)},
            3, &c, 1, &pc);
    av_nn__tid h1 = hardswish_tfjs(g, c, "a1");
    pc.conv.depth_multiplier = 1, pc.conv.stride_h = pc.conv.stride_w = 2;
    tt_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw",
            (av_nn__tid[]){h1, tt_const(g, "dwk", AV_NN_F32, 4, dd, df),
                           tt_const(g, "dwb", AV_NN_F32, 1, bd, bf)},
            3, &d, 1, &pc);
    av_nn__mark_output(g, hardswish_tfjs(g, d, "a2"));
    return g;
}

TEST(pass_fuses_hardswish_into_conv_and_depthwise)
{
    float x[9 * 11 * 6], want[5 * 6 * 20], got[5 * 6 * 20];
    tt_fill(x, 9 * 11 * 6, 4, -3, 3);
    av_nn__graph *g = build_block();
    const void *in[1] = {x};
    void *out[1] = {want};
    tt_interpret(g, in, out);
    av_nn__graph_free(g);
    for (int be = 0; be < 2; be++) {
        g = build_block();
        char err[256] = "";
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        int live = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            const av_nn__node *n = &g->nodes[i];
            if (n->dead)
                continue;
            live++;
            CHECK(n->op == AV_NN_OP_CONV2D || n->op == AV_NN_OP_DEPTHWISE_CONV2D);
            CHECK_EQ_INT(n->p.conv.act.kind, AV_NN_ACT_HARDSWISH);
        }
        CHECK_EQ_INT(live, 2);
        /* tt_run_backend finalizes again: a finalized graph is a fixed point */
        out[0] = got;
        tt_run_backend(g, be ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE, in, out);
        compare(got, want, 5 * 6 * 20, (uint64_t)be, be ? "xnnpack" : "reference");
    }
}

TEST_MAIN(T(dw_own_random_shapes), T(dw_own_edges_and_widths), T(dw_forced_off_and_refusals),
          T(conv_fused_hardswish), T(dw_own_reads_stay_in_the_input),
          T(hardswish_kernels_odd_sizes), T(pass_fuses_hardswish_into_conv_and_depthwise))
