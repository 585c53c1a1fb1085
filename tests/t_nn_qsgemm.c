/*
 * t_nn_qsgemm.c - the int8 convolution kernels of the int8 rewrite:
 * our own (nn/xnn/xnn_qsgemm.c: per-channel weight scales, fused clamp or
 * leaky relu) and XNNPACK's qc8 followed by the int8 leaky relu table
 * (xnn_qlut.c), against the reference kernels, on random shapes with odd
 * sizes, strides, dilations, paddings, zero points and scales.
 *
 * Ours computes the leaky relu on the float value before the one rounding:
 * within one step of the reference (round half to even vs half away from
 * zero). XNNPACK's path rounds the pre-activation first (its own, coarser
 * scale ps) and then the table rounds to y: within 1 + ps / ys steps.
 * On a CPU without our kernel (no AVX2, or AVX-512) the cases check that
 * it is refused and the XNNPACK path still holds its bound.
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <pthreadpool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t cur_seed;

static int irand(int lo, int hi) /* [lo, hi] */
{
    return lo + (int)(nf_rnd() % (uint32_t)(hi - lo + 1));
}

typedef struct sconv {
    int64_t n, h, w, cin, cout, kh, kw;
    int stride, dil, pad; /* pad: explicit on every side */
    av_nn__act act;
    float alpha;          /* leaky relu slope */
    bool bias, per_channel;
    float xs, ys;
    int32_t xz, yz;
} sconv;

static av_nn__tid tensor(av_nn__graph *g, const char *name, av_nn_dtype dt, const int64_t *d,
                         int r, void *data, float s, int32_t zp)
{
    av_nn__tid t = av_nn__add_tensor(g, name, dt, r, d, data, data != NULL);
    CHECK(t >= 0);
    g->tensors[t].quant.scale = s;
    g->tensors[t].quant.zero_point = zp;
    return t;
}

/* A one-node int8 graph for c with random symmetric weights; *k the node. */
static av_nn__graph *build(const sconv *c, int *k)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {c->n, c->h, c->w, c->cin}, wd[4] = {c->cout, c->kh, c->kw, c->cin};
    size_t nw = (size_t)(c->cout * c->kh * c->kw * c->cin);
    int8_t *wq = malloc(nw);
    int32_t *bq = malloc((size_t)c->cout * sizeof *bq);
    float *ws = malloc((size_t)c->cout * sizeof *ws);
    CHECK(wq && bq && ws);
    for (size_t i = 0; i < nw; i++)
        wq[i] = (int8_t)irand(-127, 127);
    for (int64_t i = 0; i < c->cout; i++) {
        bq[i] = (int32_t)(nf_rnd() % 40001) - 20000;
        ws[i] = nf_frand(0.001f, 0.02f);
    }
    ws[c->cout - 1] = 2e-5f; /* one far smaller channel: the scales are per channel */
    av_nn__tid in[3];
    in[0] = tensor(g, "x", AV_NN_I8, xd, 4, NULL, c->xs, c->xz);
    CHECK(av_nn__mark_input(g, in[0]) >= 0);
    in[1] = tensor(g, "w", AV_NN_I8, wd, 4, wq, ws[0], 0);
    if (c->per_channel) {
        av_nn__quant *q = &g->tensors[in[1]].quant;
        q->axis = 0, q->n_channels = (int32_t)c->cout, q->channel_scales = ws; /* owned */
    } else {
        free(ws);
    }
    if (c->bias)
        in[2] = tensor(g, "b", AV_NN_I32, &c->cout, 1, bq, 0, 0); /* the graph owns bq */
    else
        free(bq);
    av_nn__tid y = tensor(g, "y", AV_NN_I8, NULL, -1, NULL, c->ys, c->yz);
    CHECK(av_nn__mark_output(g, y) >= 0);
    av_nn__params p = {.conv = {.stride_h = c->stride, .stride_w = c->stride,
                                .dilation_h = c->dil, .dilation_w = c->dil,
                                .padding = AV_NN_PAD_EXPLICIT, .groups = 1,
                                .pad_top = c->pad, .pad_bottom = c->pad, .pad_left = c->pad,
                                .pad_right = c->pad, .act = {c->act, c->alpha, 0, 0}}};
    *k = av_nn__add_node(g, AV_NN_OP_CONV2D, "conv", in, c->bias ? 3 : 2, &y, 1, &p);
    CHECK(*k >= 0);
    char err[256] = "";
    CHECK_MSG(av_nn__infer_node(g, &g->nodes[*k], err, sizeof err) == AV_NN_OK, "infer: %s",
              err);
    return g;
}

/* Prepare node k on the XNNPACK backend and run it on x into y with pool;
 * *own: our kernel ran it; *lut: XNNPACK's conv and the leaky table did. */
static void run_xnn(av_nn__graph *g, int k, const int8_t *x, int8_t *y, pthreadpool_t pool,
                    bool *own, bool *lut)
{
    const av_nn__backend *be = &av_nn__backend_xnn;
    const av_nn__node *n = &g->nodes[k];
    CHECK_MSG(be->supports_op(g, n), "seed %llu: not supported", (unsigned long long)cur_seed);
    void *state = NULL;
    char err[256] = "";
    CHECK_MSG(be->prepare(g, n, pool, &state, err, sizeof err) == AV_NN_OK, "prepare: %s", err);
    *own = ((av_nn__xnn_node *)state)->qsgemm != NULL;
    *lut = ((av_nn__xnn_node *)state)->post_lut != NULL;
    const void *in[3] = {x, g->tensors[n->in[1]].data,
                         n->n_in > 2 ? g->tensors[n->in[2]].data : NULL};
    void *out[1] = {y};
    CHECK_MSG(be->run(state, g, n, in, out, pool, err, sizeof err) == AV_NN_OK, "run: %s", err);
    be->release(state);
}

/* Pre-activation scale of XNNPACK's leaky path for c (else ys). */
static double pre_scale(const sconv *c)
{
    if (c->act != AV_NN_ACT_LEAKY)
        return c->ys;
    av_nn__fused_act a = {.kind = AV_NN_ACT_LEAKY, .alpha = c->alpha};
    av_nn__tensor y = {.dtype = AV_NN_I8, .quant = {.scale = c->ys, .zero_point = c->yz}};
    float ps;
    int32_t pz;
    av_nn__xnn_qleaky_pre(&a, &y, &ps, &pz);
    CHECK(ps >= c->ys * 0.999f);
    return ps;
}

/* An output scale for c's sums: |x - xz| ~ 80, |w| ~ 64 at ~0.01, K terms
 * of random sign: about 50 steps of spread (0.5-2x), little saturation. */
static void fit_ys(sconv *c)
{
    double k = (double)(c->kh * c->kw * c->cin);
    c->ys = (float)(c->xs * 0.01 * sqrt(k) * 80 * 64 / 50 * nf_frand(0.5f, 2.0f));
}

/* Ours (1 and 2 threads, identical) and XNNPACK's path against the reference. */
static void check_conv(uint64_t seed, sconv *c, bool ours_expected)
{
    fit_ys(c);
    cur_seed = seed;
    int k;
    av_nn__graph *g = build(c, &k);
    const av_nn__tensor *yt = &g->tensors[g->nodes[k].out[0]];
    size_t nx = (size_t)(c->n * c->h * c->w * c->cin), ny = (size_t)av_nn__numel(yt);
    int8_t *x = malloc(nx + XNN_EXTRA_BYTES), *y1 = malloc(ny), *y2 = malloc(ny);
    int8_t *yx = malloc(ny + XNN_EXTRA_BYTES), *yr = malloc(ny);
    CHECK(x && y1 && y2 && yx && yr);
    for (size_t i = 0; i < nx + XNN_EXTRA_BYTES; i++)
        x[i] = (int8_t)nf_rnd();
    bool own1, own2, ownx, lut1, lut2, lutx;
    run_xnn(g, k, x, y1, NULL, &own1, &lut1);
    run_xnn(g, k, x, y2, nf_pool(), &own2, &lut2);
    av_nn__xnn_qsgemm_force_off(true);
    run_xnn(g, k, x, yx, nf_pool(), &ownx, &lutx);
    av_nn__xnn_qsgemm_force_off(false);
    CHECK(!ownx);
    CHECK_EQ_INT(lutx, c->act == AV_NN_ACT_LEAKY);
    CHECK_EQ_INT(own1, ours_expected && av_nn__xnn_qgemm_available());
    CHECK_EQ_INT(own2, own1);
    CHECK(!own1 || !lut1);
    const void *in[3] = {x, g->tensors[g->nodes[k].in[1]].data,
                         c->bias ? g->tensors[g->nodes[k].in[2]].data : NULL};
    void *out[1] = {yr};
    char err[256] = "";
    CHECK_MSG(av_nn__ref_run(g, &g->nodes[k], in, out, err, sizeof err) == AV_NN_OK, "ref: %s",
              err);
    double tol_x = 1.0 + pre_scale(c) / c->ys + 1e-6;
    size_t inside = 0, negative = 0;
    for (size_t i = 0; i < ny; i++) {
        CHECK_MSG(y1[i] == y2[i], "seed %llu: element %zu: 1 thread %d, 2 threads %d",
                  (unsigned long long)cur_seed, i, y1[i], y2[i]);
        int d = abs(y1[i] - yr[i]), dx = abs(yx[i] - yr[i]);
        inside += yr[i] > -128 && yr[i] < 127;
        negative += yr[i] < c->yz;
        /* no own kernel here (no AVX2): y1 is XNNPACK's path, its bound */
        CHECK_MSG(d <= (own1 ? 1.0 : tol_x),
                  "seed %llu: element %zu of %zu: ours %d vs reference %d",
                  (unsigned long long)cur_seed, i, ny, y1[i], yr[i]);
        CHECK_MSG(dx <= tol_x, "seed %llu: element %zu: XNNPACK path %d vs reference %d (tol %.2f)",
                  (unsigned long long)cur_seed, i, yx[i], yr[i], tol_x);
    }
    /* the outputs span values, not only the clamps (a wrong scale would
     * saturate everything and still "agree"); the leaky relu's slope is
     * exercised (values below the zero point) */
    CHECK_MSG(ny < 16 || inside * 4 >= ny, "seed %llu: %zu of %zu outputs inside the range",
              (unsigned long long)cur_seed, inside, ny);
    CHECK_MSG(c->act != AV_NN_ACT_LEAKY || ny < 16 || negative > 0,
              "seed %llu: no negative leaky output", (unsigned long long)cur_seed);
    free(x), free(y1), free(y2), free(yx), free(yr);
    av_nn__graph_free(g);
}

/* A random int8 convolution: small shapes, odd channel counts, all paddings. */
static sconv random_conv(int act)
{
    static const int64_t ks[][2] = {{1, 1}, {1, 1}, {3, 3}, {1, 3}, {3, 1}, {2, 2}};
    sconv c = {0};
    int t = irand(0, 5);
    c.kh = ks[t][0], c.kw = ks[t][1];
    c.n = irand(1, 3), c.h = irand(1, 13), c.w = irand(1, 13);
    c.cin = irand(1, 70), c.cout = irand(1, 50);
    c.stride = irand(1, 2), c.dil = irand(0, 3) == 0 ? 2 : 1, c.pad = irand(0, 1);
    while ((c.kh - 1) * c.dil + 1 > c.h + 2 * c.pad || (c.kw - 1) * c.dil + 1 > c.w + 2 * c.pad)
        c.h++, c.w++;
    static const av_nn__act acts[] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU, AV_NN_ACT_RELU6,
                                      AV_NN_ACT_LEAKY};
    c.act = acts[act];
    c.alpha = nf_frand(0.05f, 0.6f);
    c.bias = irand(0, 3) != 0;
    c.per_channel = irand(0, 3) != 0;
    c.xs = nf_frand(0.005f, 0.05f);
    /* a clamp needs room above the zero point (XNNPACK wants min < max) */
    c.xz = irand(-128, 127), c.yz = irand(-128, c.act == AV_NN_ACT_RELU6 ? 60 : 100);
    return c;
}

TEST(qsgemm_random_shapes_against_reference)
{
    for (uint64_t s = 1; s <= 160; s++) {
        nf_reseed(s);
        sconv c = random_conv((int)(s % 4));
        check_conv(s, &c, true);
    }
}

/* NanoDet's int8 layers, smaller planes: K up to 2304, many tiles of 16. */
TEST(qsgemm_nanodet_shapes)
{
    static const int64_t sh[][6] = {/* h, cin, cout, k, stride, pad */
                                    {9, 256, 128, 3, 1, 1}, {10, 128, 128, 3, 2, 1},
                                    {7, 512, 128, 1, 1, 0}, {11, 64, 64, 3, 2, 1},
                                    {5, 128, 124, 1, 1, 0}, {6, 256, 256, 3, 2, 1}};
    for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++) {
        nf_reseed(1000 + i);
        sconv c = random_conv(3);
        c.n = 1, c.h = c.w = sh[i][0], c.cin = sh[i][1], c.cout = sh[i][2];
        c.kh = c.kw = sh[i][3], c.stride = (int)sh[i][4], c.pad = (int)sh[i][5], c.dil = 1;
        check_conv(1000 + i, &c, true);
    }
}

/* K over the stack block (4096): ours refuses, XNNPACK's path runs it. */
TEST(qsgemm_refuses_large_k)
{
    nf_reseed(77);
    sconv c = random_conv(3);
    c.n = 1, c.h = c.w = 4, c.cin = 460, c.cout = 5, c.kh = c.kw = 3, c.stride = 1, c.dil = 1;
    c.pad = 1;
    check_conv(77, &c, false);
}

/* The table applied over odd lengths on 1 and 2 threads: each byte mapped once. */
TEST(qlut_odd_lengths)
{
    int8_t lut[256];
    av_nn__fused_act a = {.kind = AV_NN_ACT_LEAKY, .alpha = 0.1f};
    av_nn__tensor y = {.dtype = AV_NN_I8, .quant = {.scale = 0.05f, .zero_point = -100}};
    CHECK(av_nn__xnn_qleaky_ok(&a, &y));
    float ps;
    int32_t pz;
    av_nn__xnn_qleaky_pre(&a, &y, &ps, &pz);
    av_nn__xnn_qleaky_table(&a, &y, ps, pz, lut);
    /* each entry: y's int8 of leaky of the pre-activation value, nearest */
    for (int q = -128; q <= 127; q++) {
        double r = (double)ps * (q - pz), v = r < 0 ? 0.1 * r : r;
        double want = fmin(127, fmax(-128, v / 0.05 - 100));
        CHECK_MSG(fabs(lut[q + 128] - want) <= 0.5 + 1e-3, "q %d: %d vs %.3f", q, lut[q + 128], want);
    }
    static const size_t lens[] = {1, 15, 16383, 16384, 16385, 70001};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = lens[i];
        int8_t *v = malloc(n), *w = malloc(n);
        CHECK(v && w);
        for (size_t j = 0; j < n; j++)
            v[j] = (int8_t)nf_rnd(), w[j] = v[j];
        av_nn__xnn_lut_s8(lut, v, n, i % 2 ? nf_pool() : NULL);
        for (size_t j = 0; j < n; j++)
            CHECK_MSG(v[j] == lut[w[j] + 128], "length %zu: byte %zu", n, j);
        free(v), free(w);
    }
    a.alpha = 1.0f; /* not a leaky relu the table takes */
    CHECK(!av_nn__xnn_qleaky_ok(&a, &y));
}

/* The input ends at a PROT_NONE page and the output too: no read past the
 * input's last byte (rows past the last block, the widening's vector loads),
 * no write past the output's (a partial tile of channels). */
TEST(qsgemm_stays_in_its_buffers)
{
    if (!av_nn__xnn_qgemm_available())
        SKIP("our int8 GEMM is off on this CPU (XNNPACK runs the convolution)");
    static const int64_t cfg[][5] = {/* h, w, cin, k, stride */
                                     {1, 7, 37, 1, 1}, {7, 7, 37, 3, 1}, {4, 7, 3, 3, 1},
                                     {5, 5, 19, 3, 2}, {3, 5, 16, 1, 1}};
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (int t = 0; t < 5; t++) {
        nf_reseed(4242 + (uint64_t)t);
        sconv c = random_conv(3);
        c.n = 1, c.h = cfg[t][0], c.w = cfg[t][1], c.cin = cfg[t][2], c.cout = 21;
        c.kh = c.kw = cfg[t][3], c.stride = (int)cfg[t][4], c.dil = 1, c.pad = c.kh > 1;
        fit_ys(&c);
        int k;
        av_nn__graph *g = build(&c, &k);
        av_nn__xnn_node s;
        memset(&s, 0, sizeof s);
        char err[256];
        CHECK(av_nn__xnn_qsgemm_supports(g, &g->nodes[k]));
        CHECK_EQ_INT(av_nn__xnn_qsgemm_prepare(g, &g->nodes[k], &s, err, sizeof err), AV_NN_OK);
        size_t nx = (size_t)(c.h * c.w * c.cin);
        size_t ny = (size_t)av_nn__numel(&g->tensors[g->nodes[k].out[0]]);
        CHECK(nx <= page && ny <= page);
        nf_guarded gx, gy; /* input and output both end at a guard */
        int8_t *x = nf_guarded_bytes(&gx, nx), *y = nf_guarded_bytes(&gy, ny);
        CHECK(x && y);
        for (size_t i = 0; i < nx; i++)
            x[i] = (int8_t)nf_rnd();
        int8_t *yr = malloc(ny);
        CHECK(yr);
        av_nn__xnn_qsgemm_run(s.qsgemm, x, y, nf_pool());
        const void *in[3] = {x, g->tensors[g->nodes[k].in[1]].data,
                             c.bias ? g->tensors[g->nodes[k].in[2]].data : NULL};
        void *out[1] = {yr};
        CHECK(av_nn__ref_run(g, &g->nodes[k], in, out, err, sizeof err) == AV_NN_OK);
        for (size_t i = 0; i < ny; i++)
            CHECK_MSG(abs(y[i] - yr[i]) <= 1, "case %d element %zu: %d vs reference %d", t, i,
                      y[i], yr[i]);
        free(yr);
        av_nn__xnn_qsgemm_free(s.qsgemm);
        nf_guarded_free(&gx), nf_guarded_free(&gy);
        av_nn__graph_free(g);
    }
}

TEST_MAIN(T(qsgemm_random_shapes_against_reference), T(qsgemm_nanodet_shapes),
          T(qsgemm_refuses_large_k), T(qlut_odd_lengths), T(qsgemm_stays_in_its_buffers))
