/*
 * t_nn_wino.c - the Winograd F(4x4, 3x3) convolution (xnn_wino.c) against
 * the reference kernel: random shapes with odd sizes and channel counts
 * (vector tails), batches, explicit pads, every fused activation it takes,
 * on 2 threads and on the caller's; the refusals; forced off; and an input
 * and output that end at a PROT_NONE page (intrinsic loads are invisible to
 * ASan). Also the GEMM's row mode and 6x8 kernel (xnn_gemm.c) the same way.
 *
 * Tolerance: Winograd reorders the sum and its transforms scale terms by up
 * to 8 * 5 (At, Bt) and 1/24 (G), so its error is bounded by a small multiple
 * of FLT_EPSILON times S = |b| + sum |x| |w| over the window, not by the
 * output, which cancellation can make tiny. TOL_S = 2e-5 is ~170 ulps of S
 * (the worst case measured is ~3e-6 S); an error in a transform gives errors
 * of the order of S itself.
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <pthreadpool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define TOL_S 2e-5

typedef struct shape {
    int64_t n, h, w, ci, co, pt, pb, pl, pr;
    av_nn__act act;
    float alpha;
    bool bias;
    int64_t kh, kw, stride; /* 0: 3, 3, 1 */
} shape;

/* One-node graph x (*) w + b with random constants; *k is the node. */
static av_nn__graph *conv_graph(const shape *s, int *k)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t kh = s->kh ? s->kh : 3, kw = s->kw ? s->kw : 3, st = s->stride ? s->stride : 1;
    int64_t xd[4] = {s->n, s->h, s->w, s->ci}, wd[4] = {s->co, kh, kw, s->ci};
    av_nn__tid in[3];
    in[0] = av_nn__add_tensor(g, "x", AV_NN_F32, 4, xd, NULL, false);
    CHECK(in[0] >= 0 && av_nn__mark_input(g, in[0]) >= 0);
    size_t nw = (size_t)(s->co * kh * kw * s->ci);
    float *wf = malloc(nw * sizeof *wf), *bf = malloc((size_t)s->co * sizeof *bf);
    CHECK(wf && bf);
    for (size_t i = 0; i < nw; i++)
        wf[i] = nf_frand(-1, 1);
    for (int64_t i = 0; i < s->co; i++)
        bf[i] = nf_frand(-1, 1);
    in[1] = av_nn__add_tensor(g, "w", AV_NN_F32, 4, wd, wf, true);
    in[2] = s->bias ? av_nn__add_tensor(g, "b", AV_NN_F32, 1, &s->co, bf, true) : -1;
    if (!s->bias)
        free(bf);
    CHECK(in[1] >= 0 && (!s->bias || in[2] >= 0));
    av_nn__tid y = av_nn__add_tensor(g, "y", AV_NN_F32, -1, NULL, NULL, false);
    CHECK(y >= 0 && av_nn__mark_output(g, y) >= 0);
    av_nn__params p = {.conv = {.stride_h = (int)st, .stride_w = (int)st, .dilation_h = 1,
                                .dilation_w = 1,
                                .padding = AV_NN_PAD_EXPLICIT, .groups = 1,
                                .pad_top = (int)s->pt, .pad_bottom = (int)s->pb,
                                .pad_left = (int)s->pl, .pad_right = (int)s->pr,
                                .act = {s->act, s->alpha, -0.5f, 0.7f}}};
    *k = av_nn__add_node(g, AV_NN_OP_CONV2D, "conv", in, s->bias ? 3 : 2, &y, 1, &p);
    CHECK(*k >= 0);
    char err[256] = "";
    CHECK_MSG(av_nn__infer_node(g, &g->nodes[*k], err, sizeof err) == AV_NN_OK, "infer: %s", err);
    return g;
}

/* S of every output element (see the tolerance above), for the definition's window. */
static double *scale_of(const av_nn__graph *g, const av_nn__node *n, const float *x)
{
    const av_nn__tensor *xt = &g->tensors[n->in[0]], *yt = &g->tensors[n->out[0]];
    const float *w = g->tensors[n->in[1]].data;
    const float *b = n->in[2] >= 0 ? g->tensors[n->in[2]].data : NULL;
    int64_t N = yt->dims[0], OH = yt->dims[1], OW = yt->dims[2], CO = yt->dims[3];
    int64_t H = xt->dims[1], W = xt->dims[2], CI = xt->dims[3];
    int64_t KH = g->tensors[n->in[1]].dims[1], KW = g->tensors[n->in[1]].dims[2];
    int64_t SH = n->p.conv.stride_h, SW = n->p.conv.stride_w;
    double *s = malloc((size_t)(N * OH * OW * CO) * sizeof *s);
    CHECK(s);
    for (int64_t bi = 0; bi < N; bi++)
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++)
                for (int64_t o = 0; o < CO; o++) {
                    double a = b ? fabs(b[o]) : 0;
                    for (int64_t ky = 0; ky < KH; ky++)
                        for (int64_t kx = 0; kx < KW; kx++) {
                            int64_t iy = oy * SH - n->p.conv.pad_top + ky;
                            int64_t ix = ox * SW - n->p.conv.pad_left + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                continue;
                            for (int64_t c = 0; c < CI; c++)
                                a += fabs(x[((bi * H + iy) * W + ix) * CI + c]) *
                                     fabs(w[((o * KH + ky) * KW + kx) * CI + c]);
                        }
                    s[((bi * OH + oy) * OW + ox) * CO + o] = a;
                }
    return s;
}

/* |got - want| <= TOL_S * S everywhere; returns the worst error / S. */
static double compare(const float *got, const float *want, const double *s, int64_t cnt,
                      const char *what)
{
    double worst = 0;
    for (int64_t i = 0; i < cnt; i++) {
        double e = fabs((double)got[i] - want[i]), sc = s[i] > 1e-30 ? s[i] : 1e-30;
        CHECK_MSG(e <= TOL_S * sc || (isnan(got[i]) && isnan(want[i])),
                  "%s: element %lld of %lld: %.9g vs ref %.9g (S %.3g)", what, (long long)i,
                  (long long)cnt, got[i], want[i], s[i]);
        if (e / sc > worst)
            worst = e / sc;
    }
    return worst;
}

/* Runs node k on the reference and on the XNNPACK backend (expecting Winograd
 * when wino), 2 threads then the caller's; frees g. x: the input, or NULL
 * for random data; y: the output buffer for the backend, or NULL. */
static double check_conv(av_nn__graph *g, int k, bool wino, float *x, float *y)
{
    const av_nn__node *n = &g->nodes[k];
    const av_nn__tensor *xt = &g->tensors[n->in[0]], *yt = &g->tensors[n->out[0]];
    int64_t nx = av_nn__numel(xt), ny = av_nn__numel(yt);
    float *xo = x ? NULL : malloc((size_t)nx * sizeof(float));
    float *yo = y ? NULL : malloc((size_t)ny * sizeof(float));
    float *ref = malloc((size_t)ny * sizeof(float));
    CHECK((x || xo) && (y || yo) && ref);
    if (!x) {
        x = xo;
        for (int64_t i = 0; i < nx; i++)
            x[i] = nf_frand(-2, 2);
    }
    if (!y)
        y = yo;
    const void *in[3] = {x, g->tensors[n->in[1]].data, n->in[2] >= 0 ? g->tensors[n->in[2]].data : NULL};
    char err[256] = "";
    void *out[1] = {ref};
    CHECK_MSG(av_nn__ref_run(g, n, in, out, err, sizeof err) == AV_NN_OK, "ref: %s", err);
    double *s = scale_of(g, n, x);
    CHECK(av_nn__backend_xnn.supports_op(g, n));
    CHECK_EQ_INT(av_nn__xnn_wino_supports(g, n), wino);
    void *state = NULL;
    CHECK_MSG(av_nn__backend_xnn.prepare(g, n, nf_pool(), &state, err, sizeof err) == AV_NN_OK,
              "prepare: %s", err);
    CHECK_EQ_INT(((av_nn__xnn_node *)state)->wino != NULL, wino);
    out[0] = y;
    double worst = 0;
    for (int r = 0; r < 2; r++) {
        memset(y, 0, (size_t)ny * sizeof(float));
        pthreadpool_t pool = r == 0 ? nf_pool() : NULL;
        CHECK_MSG(av_nn__backend_xnn.run(state, g, n, in, out, pool, err, sizeof err) == AV_NN_OK,
                  "run: %s", err);
        double e = compare(y, ref, s, ny, r == 0 ? "2 threads" : "caller's thread");
        worst = e > worst ? e : worst;
    }
    av_nn__backend_xnn.release(state);
    free(s);
    free(ref);
    free(xo);
    free(yo);
    av_nn__graph_free(g);
    return worst;
}

TEST(wino_matches_reference_random_shapes)
{
    if (!av_nn__xnn_gemm_available())
        return; /* not this CPU's path: XNNPACK runs the convolution */
    static const av_nn__act acts[] = {AV_NN_ACT_NONE,  AV_NN_ACT_RELU,  AV_NN_ACT_RELU6,
                                      AV_NN_ACT_CLAMP, AV_NN_ACT_LEAKY, AV_NN_ACT_SILU,
                                      AV_NN_ACT_SIGMOID, AV_NN_ACT_HARDSWISH};
    double worst = 0;
    int ran = 0;
    for (uint64_t seed = 1; seed <= 24; seed++) {
        nf_reseed(seed * 0x9e3779b97f4a7c15ull + 1);
        shape s = {.n = 1 + nf_rnd() % 2, .h = 21 + nf_rnd() % 14, .w = 21 + nf_rnd() % 14,
                   .ci = 16 + nf_rnd() % 27, .co = 16 + nf_rnd() % 37, .pt = nf_rnd() % 3,
                   .pb = nf_rnd() % 3, .pl = nf_rnd() % 3, .pr = nf_rnd() % 3, .act = acts[nf_rnd() % 8],
                   .alpha = nf_frand(-0.5f, 1.5f), .bias = nf_rnd() % 4 != 0};
        int k;
        av_nn__graph *g = conv_graph(&s, &k);
        const av_nn__tensor *y = &g->tensors[g->nodes[k].out[0]];
        bool big = y->dims[0] * ((y->dims[1] + 3) / 4) * ((y->dims[2] + 3) / 4) >= 36 &&
                   s.ci + s.co >= 48;
        double e = check_conv(g, k, big, NULL, NULL);
        worst = e > worst ? e : worst;
        ran += big;
    }
    CHECK(ran >= 12); /* most seeds are big enough to take the Winograd path */
    printf("  worst error / S: %.3g\n", worst);
}

/* Shapes the GEMM keeps: strides, dilation, other kernels, few channels or tiles. */
TEST(wino_refusals)
{
    if (!av_nn__xnn_gemm_available())
        return;
    nf_reseed(77);
    shape s = {.n = 1, .h = 30, .w = 30, .ci = 16, .co = 32, .pt = 1, .pb = 1, .pl = 1, .pr = 1};
    int k;
    av_nn__graph *g = conv_graph(&s, &k);
    av_nn__node *n = &g->nodes[k];
    CHECK(av_nn__xnn_wino_supports(g, n));
    n->p.conv.stride_h = 2;
    CHECK(!av_nn__xnn_wino_supports(g, n));
    n->p.conv.stride_h = 1, n->p.conv.dilation_w = 2;
    CHECK(!av_nn__xnn_wino_supports(g, n));
    n->p.conv.dilation_w = 1, n->p.conv.act.kind = AV_NN_ACT_TANH; /* the GEMM refuses it too */
    CHECK(!av_nn__xnn_wino_supports(g, n));
    av_nn__graph_free(g);
    s.ci = 15; /* too few input channels */
    g = conv_graph(&s, &k);
    check_conv(g, k, false, NULL, NULL);
    s.ci = 32, s.co = 15; /* too few output channels */
    g = conv_graph(&s, &k);
    check_conv(g, k, false, NULL, NULL);
    s.ci = 16, s.co = 16; /* both small: the transforms cost more than they save */
    g = conv_graph(&s, &k);
    check_conv(g, k, false, NULL, NULL);
    s.co = 32, s.h = s.w = 20; /* 25 tiles */
    g = conv_graph(&s, &k);
    check_conv(g, k, false, NULL, NULL);
}

/* Forced off, the same convolution runs on the GEMM and still matches. */
TEST(wino_forced_off)
{
    if (!av_nn__xnn_gemm_available())
        return;
    nf_reseed(99);
    shape s = {.n = 1, .h = 27, .w = 25, .ci = 19, .co = 37, .pt = 1, .pb = 1, .pl = 1, .pr = 1,
               .act = AV_NN_ACT_SILU, .bias = true};
    av_nn__xnn_wino_force_off(true);
    int k;
    av_nn__graph *g;
    g = conv_graph(&s, &k);
    check_conv(g, k, false, NULL, NULL);
    av_nn__xnn_wino_force_off(false);
    g = conv_graph(&s, &k);
    check_conv(g, k, true, NULL, NULL);
}

/* Input and output each end at a PROT_NONE page (and, with 16 or 32 channels:
 * page-sized tensors, start right after one): a tile's patch over the edge
 * or a channel tail read or written past the end faults. */
static void guarded(const shape *s, bool wino)
{
    nf_reseed((uint64_t)(s->ci * 131 + s->co));
    int k;
    av_nn__graph *g = conv_graph(s, &k);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t xb = (size_t)av_nn__numel(&g->tensors[g->nodes[k].in[0]]) * sizeof(float);
    size_t yb = (size_t)av_nn__numel(&g->tensors[g->nodes[k].out[0]]) * sizeof(float);
    size_t xp = (xb + page - 1) / page * page, yp = (yb + page - 1) / page * page;
    size_t len = page + xp + page + yp + page;
    uint8_t *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    CHECK(mprotect(map, page, PROT_NONE) == 0);
    CHECK(mprotect(map + page + xp, page, PROT_NONE) == 0);
    CHECK(mprotect(map + 2 * page + xp + yp, page, PROT_NONE) == 0);
    float *x = (float *)(map + page + xp - xb), *y = (float *)(map + 2 * page + xp + yp - yb);
    for (size_t i = 0; i < xb / sizeof(float); i++)
        x[i] = nf_frand(-2, 2);
    check_conv(g, k, wino, x, y);
    munmap(map, len);
}

TEST(wino_reads_and_writes_stay_in_the_tensors)
{
    if (!av_nn__xnn_gemm_available())
        return;
    shape s = {.n = 1, .h = 24, .w = 24, .ci = 16, .co = 32, .pt = 1, .pb = 1, .pl = 1, .pr = 1,
               .bias = true};
    guarded(&s, true);
    s.ci = 19, s.co = 37;
    guarded(&s, true);
}

/* The GEMM's row mode (few input channels: a kernel row's kw * cin floats
 * read as one tap, edge pixels from a padded copy) and its 6x8 kernel (a last
 * tile of <= 8 channels), against the reference on stem-like shapes, with the
 * input and output at guard pages: the last pixel's kernel row ends exactly
 * at the input's end. */
TEST(gemm_row_mode_and_narrow_tiles)
{
    if (!av_nn__xnn_gemm_available())
        return;
    static const int64_t co[] = {4, 16, 20, 37};
    for (int i = 0; i < 4; i++) {
        shape s = {.n = 1 + i % 2, .h = 25 + i, .w = 31 - i, .ci = 3, .co = co[i], .pt = i % 2,
                   .pb = 1, .pl = 1, .pr = i % 2, .act = i % 2 ? AV_NN_ACT_LEAKY : AV_NN_ACT_RELU,
                   .alpha = 0.1f, .bias = i != 2, .stride = 1 + i % 2};
        guarded(&s, false);
        s.ci = 12, s.kh = 3, s.kw = 5, s.pr = 3; /* 180 floats a pixel: still row mode */
        guarded(&s, false);
    }
    shape s = {.n = 2, .h = 17, .w = 13, .ci = 5, .co = 7, .pt = 2, .pb = 0, .pl = 0, .pr = 2,
               .kh = 2, .kw = 3, .stride = 1, .bias = true};
    guarded(&s, false);
}

TEST_MAIN(T(wino_matches_reference_random_shapes), T(wino_refusals), T(wino_forced_off),
          T(wino_reads_and_writes_stay_in_the_tensors), T(gemm_row_mode_and_narrow_tiles))
