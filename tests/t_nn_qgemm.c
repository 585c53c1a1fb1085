/*
 * t_nn_qgemm.c - our own qu8 convolution (nn/xnn/xnn_qgemm.c) against
 * XNNPACK's qu8 convolution of the same node, byte for byte (the kernel
 * claims bit-identical outputs), and against the reference kernels within
 * one step; random shapes, odd sizes, zero points, scales and clamps;
 * forced off; reads that stay inside the input.
 *
 * On a CPU where the kernel is not available (no AVX2, AVX-512) the cases
 * check only that it is refused and XNNPACK runs the node.
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <pthreadpool.h>
#include <stdlib.h>
#include <string.h>

static uint64_t cur_seed;

static int irand(int lo, int hi) /* [lo, hi] */
{
    return lo + (int)(nf_rnd() % (uint32_t)(hi - lo + 1));
}

typedef struct qconv {
    int64_t n, h, w, cin, cout, kh, kw;
    int stride, dil, pad; /* pad: explicit on every side */
    av_nn__act act;
    bool bias, dw; /* dw: depthwise (cout = cin, filter 1 x kh x kw x cin) */
    float xs, ws, ys;
    int32_t xz, wz, yz;
} qconv;

static av_nn__tid tensor(av_nn__graph *g, const char *name, av_nn_dtype dt, const int64_t *d,
                         int r, void *data, float s, int32_t zp)
{
    av_nn__tid t = av_nn__add_tensor(g, name, dt, r, d, data, data != NULL);
    CHECK(t >= 0);
    g->tensors[t].quant.scale = s;
    g->tensors[t].quant.zero_point = zp;
    return t;
}

/* A one-node graph for c with random weights and bias; *k the node. */
static av_nn__graph *build(const qconv *c, int *k)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {c->n, c->h, c->w, c->cin}, wd[4] = {c->cout, c->kh, c->kw, c->cin};
    if (c->dw)
        wd[0] = 1;
    size_t nw = (size_t)(wd[0] * c->kh * c->kw * c->cin);
    uint8_t *wq = malloc(nw);
    int32_t *bq = malloc((size_t)c->cout * sizeof *bq);
    CHECK(wq && bq);
    for (size_t i = 0; i < nw; i++)
        wq[i] = (uint8_t)nf_rnd();
    for (int64_t i = 0; i < c->cout; i++)
        bq[i] = (int32_t)(nf_rnd() % 40001) - 20000;
    av_nn__tid in[3];
    in[0] = tensor(g, "x", AV_NN_U8, xd, 4, NULL, c->xs, c->xz);
    CHECK(av_nn__mark_input(g, in[0]) >= 0);
    in[1] = tensor(g, "w", AV_NN_U8, wd, 4, wq, c->ws, c->wz);
    if (c->bias)
        in[2] = tensor(g, "b", AV_NN_I32, &c->cout, 1, bq, 0, 0); /* the graph owns bq */
    else
        free(bq);
    av_nn__tid y = tensor(g, "y", AV_NN_U8, NULL, -1, NULL, c->ys, c->yz);
    CHECK(av_nn__mark_output(g, y) >= 0);
    av_nn__params p = {.conv = {.stride_h = c->stride, .stride_w = c->stride,
                                .dilation_h = c->dil, .dilation_w = c->dil,
                                .padding = AV_NN_PAD_EXPLICIT, .groups = 1,
                                .pad_top = c->pad, .pad_bottom = c->pad, .pad_left = c->pad,
                                .pad_right = c->pad, .act = {c->act, 0.1f, 0, 0}}};
    *k = av_nn__add_node(g, c->dw ? AV_NN_OP_DEPTHWISE_CONV2D : AV_NN_OP_CONV2D, "conv", in, c->bias ? 3 : 2, &y, 1, &p);
    CHECK(*k >= 0);
    char err[256] = "";
    CHECK_MSG(av_nn__infer_node(g, &g->nodes[*k], err, sizeof err) == AV_NN_OK, "infer: %s",
              err);
    return g;
}

/* Prepare node k on the XNNPACK backend (ours or XNNPACK's, as forced) and
 * run it on x into y with pool; own: whether our kernel ran it. */
static void run_xnn(av_nn__graph *g, int k, const uint8_t *x, uint8_t *y, pthreadpool_t pool,
                    bool *own)
{
    const av_nn__backend *be = &av_nn__backend_xnn;
    const av_nn__node *n = &g->nodes[k];
    const av_nn__tensor *yt = &g->tensors[n->out[0]];
    CHECK_MSG(be->supports_op(g, n), "seed %llu: not supported (ours %s) y %lldx%lldx%lldx%lld",
              (unsigned long long)cur_seed, av_nn__xnn_qgemm_available() ? "on" : "off",
              (long long)yt->dims[0], (long long)yt->dims[1], (long long)yt->dims[2],
              (long long)yt->dims[3]);
    void *state = NULL;
    char err[256] = "";
    CHECK_MSG(be->prepare(g, n, pool, &state, err, sizeof err) == AV_NN_OK, "prepare: %s", err);
    *own = ((av_nn__xnn_node *)state)->qgemm || ((av_nn__xnn_node *)state)->qdw;
    if (((av_nn__xnn_node *)state)->qgemm) { /* 8-bit packing past small K (issue 15: RSS) */
        const av_nn__tensor *wt = &g->tensors[n->in[1]];
        size_t cout_p = ((size_t)wt->dims[0] + 15) / 16 * 16;
        size_t k = (size_t)(wt->dims[1] * wt->dims[2] * wt->dims[3]);
        bool wide = k <= AV_NN__XNN_QGEMM_WIDE_KMAX || wt->dims[0] <= AV_NN__XNN_QGEMM_WIDE_COUT;
        CHECK_EQ_INT(av_nn__xnn_qgemm_packed_bytes(((av_nn__xnn_node *)state)->qgemm),
                     cout_p * ((k + 1) / 2 * 2 * (wide ? 2 : 1) + sizeof(int32_t)));
    }
    const void *in[3] = {x, n->n_in > 1 ? g->tensors[n->in[1]].data : NULL,
                         n->n_in > 2 ? g->tensors[n->in[2]].data : NULL};
    void *out[1] = {y};
    CHECK_MSG(be->run(state, g, n, in, out, pool, err, sizeof err) == AV_NN_OK, "run: %s", err);
    be->release(state);
}

/* Ours (1 and 2 threads) == XNNPACK's byte for byte; the reference within one step. */
static void check_conv(uint64_t seed, const qconv *c)
{
    cur_seed = seed;
    int k;
    av_nn__graph *g = build(c, &k);
    const av_nn__tensor *yt = &g->tensors[g->nodes[k].out[0]];
    size_t nx = (size_t)(c->n * c->h * c->w * c->cin), ny = (size_t)av_nn__numel(yt);
    uint8_t *x = malloc(nx + XNN_EXTRA_BYTES), *y1 = malloc(ny), *y2 = malloc(ny);
    uint8_t *yx = malloc(ny + XNN_EXTRA_BYTES), *yr = malloc(ny);
    CHECK(x && y1 && y2 && yx && yr);
    for (size_t i = 0; i < nx + XNN_EXTRA_BYTES; i++)
        x[i] = (uint8_t)nf_rnd();
    bool own1, own2, ownx;
    run_xnn(g, k, x, y1, NULL, &own1);
    run_xnn(g, k, x, y2, nf_pool(), &own2);
    av_nn__xnn_qgemm_force_off(true);
    run_xnn(g, k, x, yx, nf_pool(), &ownx);
    av_nn__xnn_qgemm_force_off(false);
    CHECK(!ownx);
    CHECK_EQ_INT(own1, av_nn__xnn_qgemm_available());
    CHECK_EQ_INT(own2, own1);
    const void *in[3] = {x, g->tensors[g->nodes[k].in[1]].data,
                         c->bias ? g->tensors[g->nodes[k].in[2]].data : NULL};
    void *out[1] = {yr};
    char err[256] = "";
    CHECK_MSG(av_nn__ref_run(g, &g->nodes[k], in, out, err, sizeof err) == AV_NN_OK, "ref: %s",
              err);
    for (size_t i = 0; i < ny; i++) {
        CHECK_MSG(y1[i] == yx[i] && y2[i] == yx[i],
                  "seed %llu: element %zu of %zu: ours %d (2 threads %d) vs XNNPACK %d",
                  (unsigned long long)cur_seed, i, ny, y1[i], y2[i], yx[i]);
        CHECK_MSG(abs(y1[i] - yr[i]) <= 1, "seed %llu: element %zu: ours %d vs reference %d",
                  (unsigned long long)cur_seed, i, y1[i], yr[i]);
    }
    free(x), free(y1), free(y2), free(yx), free(yr);
    av_nn__graph_free(g);
}

/* A random qu8 convolution: small shapes, odd channel counts, all paddings. */
static qconv random_conv(void)
{
    static const int64_t ks[][2] = {{1, 1}, {1, 1}, {3, 3}, {1, 3}, {3, 1}, {2, 2}};
    qconv c = {0};
    int t = irand(0, 5);
    c.kh = ks[t][0], c.kw = ks[t][1];
    c.n = irand(1, 3), c.h = irand(1, 13), c.w = irand(1, 13);
    c.cin = irand(1, 70), c.cout = irand(1, 50);
    c.stride = irand(1, 2), c.dil = irand(0, 3) == 0 ? 2 : 1, c.pad = irand(0, 1);
    while ((c.kh - 1) * c.dil + 1 > c.h + 2 * c.pad || (c.kw - 1) * c.dil + 1 > c.w + 2 * c.pad)
        c.h++, c.w++;
    static const av_nn__act acts[] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU, AV_NN_ACT_RELU6};
    c.act = acts[irand(0, 2)];
    c.bias = irand(0, 3) != 0;
    c.xs = nf_frand(0.005f, 0.05f), c.ws = nf_frand(0.001f, 0.02f), c.ys = nf_frand(0.01f, 0.2f);
    /* a clamp needs room above the zero point (XNNPACK wants min < max) */
    c.xz = irand(0, 255), c.wz = irand(0, 255), c.yz = irand(0, c.act != AV_NN_ACT_NONE ? 200 : 255);
    return c;
}

TEST(qgemm_random_shapes_bit_exact)
{
    for (uint64_t s = 1; s <= 120; s++) {
        nf_reseed(s * 0x9e3779b97f4a7c15ull + 7);
        qconv c = random_conv();
        check_conv(s, &c);
    }
}

/* Depthwise: channel counts around the 16-channel groups (the tail runs a
 * scalar loop), odd tap counts, strides, dilations, padding. */
TEST(qdw_random_shapes_bit_exact)
{
    for (uint64_t s = 1; s <= 120; s++) {
        nf_reseed(s * 0x9e3779b97f4a7c15ull + 11);
        qconv c = random_conv();
        c.dw = true;
        c.cout = c.cin = s % 4 == 0 ? 16 * irand(1, 4) : irand(1, 70);
        check_conv(1000 + s, &c);
    }
}

/* The species model's layer shapes (MobileNetV2 1x1 expand/project, the
 * 3x3 stride-2 stem), TFLite-like quantisation, batch 1 and 3. */
TEST(qgemm_mobilenet_shapes_bit_exact)
{
    static const int64_t sh[][5] = {{112, 112, 32, 16, 1}, {56, 56, 24, 144, 1},
                                    {14, 14, 384, 64, 1},  {7, 7, 960, 160, 1},
                                    {7, 7, 320, 1280, 1},  {224, 224, 3, 32, 3}};
    for (int i = 0; i < 6; i++) {
        nf_reseed((uint64_t)(i + 500) * 0x9e3779b97f4a7c15ull + 1);
        qconv c = {.n = 1 + (i & 1) * 2, .h = sh[i][0], .w = sh[i][1], .cin = sh[i][2],
                   .cout = sh[i][3], .kh = sh[i][4] == 3 ? 3 : 1, .kw = sh[i][4] == 3 ? 3 : 1,
                   .stride = sh[i][4] == 3 ? 2 : 1, .dil = 1, .pad = sh[i][4] == 3 ? 1 : 0,
                   .act = i % 3 ? AV_NN_ACT_RELU6 : AV_NN_ACT_NONE, .bias = true,
                   .xs = 0.0235f, .ws = 0.0047f + 0.001f * (float)i, .ys = 0.0235f,
                   .xz = i ? 0 : 128, .wz = 100 + i * 7, .yz = i % 3 ? 0 : 131};
        check_conv(500 + (uint64_t)i, &c);
    }
    /* the depthwise 3x3 layers: stride 1 and 2, SAME-like padding 1 */
    static const int64_t dw[][4] = {{112, 112, 32, 1}, {56, 56, 144, 2}, {14, 14, 576, 1},
                                    {7, 7, 960, 1}};
    for (int i = 0; i < 4; i++) {
        nf_reseed((uint64_t)(i + 600) * 0x9e3779b97f4a7c15ull + 1);
        qconv c = {.n = 1 + (i & 1) * 2, .h = dw[i][0], .w = dw[i][1], .cin = dw[i][2],
                   .cout = dw[i][2], .kh = 3, .kw = 3, .stride = (int)dw[i][3], .dil = 1,
                   .pad = 1, .act = AV_NN_ACT_RELU6, .bias = true, .dw = true, .xs = 0.0235f,
                   .ws = 0.02f + 0.01f * (float)i, .ys = 0.0235f, .xz = i * 40, .wz = 90 + i * 11,
                   .yz = 0};
        check_conv(600 + (uint64_t)i, &c);
    }
}

/* Extreme sums: every product at +-255^2 with a deep K; tiny and large scales. */
TEST(qgemm_saturation_and_scales)
{
    for (int i = 0; i < 8; i++) {
        nf_reseed((uint64_t)(i + 900) * 0x9e3779b97f4a7c15ull + 3);
        qconv c = {.n = 1, .h = 3, .w = 5, .cin = 1000 + i, .cout = 17, .kh = 1, .kw = 1,
                   .stride = 1, .dil = 1, .act = AV_NN_ACT_NONE, .bias = i & 1,
                   .xs = i < 4 ? 0.5f : 1e-4f, .ws = i < 4 ? 0.9f : 1e-4f, .ys = 0.01f,
                   .xz = (i & 2) ? 255 : 0, .wz = (i & 2) ? 0 : 255, .yz = 37 * i % 256};
        check_conv(900 + (uint64_t)i, &c);
        c.dw = true, c.cout = c.cin = 16 + i; /* the depthwise sums too */
        c.kh = c.kw = 5, c.h = c.w = 6, c.pad = 2;
        check_conv(950 + (uint64_t)i, &c);
    }
    /* all-positive products over K = 4000 at scale 45: float(acc) * scale passes 2^31,
     * where only the float clamp keeps the rounding from overflowing */
    nf_reseed(999);
    qconv big = {.n = 1, .h = 2, .w = 3, .cin = 4000, .cout = 18, .kh = 1, .kw = 1,
                 .stride = 1, .dil = 1, .act = AV_NN_ACT_NONE, .bias = false, .xs = 0.5f,
                 .ws = 0.9f, .ys = 0.01f, .xz = 0, .wz = 0, .yz = 3};
    check_conv(999, &big);
}

/* Forced off (as on AVX-512 CPUs) XNNPACK runs the node; refused shapes and
 * kinds (groups, u8 bias of the wrong type, per-channel, int8) stay there. */
TEST(qgemm_forced_off_and_refusals)
{
    nf_reseed(77);
    qconv c = {.n = 1, .h = 6, .w = 6, .cin = 8, .cout = 8, .kh = 1, .kw = 1, .stride = 1,
               .dil = 1, .act = AV_NN_ACT_RELU6, .bias = true, .xs = 0.02f, .ws = 0.01f,
               .ys = 0.05f, .xz = 128, .wz = 120, .yz = 0};
    int k;
    av_nn__graph *g = build(&c, &k);
    av_nn__xnn_qgemm_force_off(true);
    CHECK(!av_nn__xnn_qgemm_available());
    CHECK(!av_nn__xnn_qgemm_supports(g, &g->nodes[k]));
    CHECK(av_nn__backend_xnn.supports_op(g, &g->nodes[k])); /* XNNPACK's still */
    av_nn__xnn_qgemm_force_off(false);
    bool avail = av_nn__xnn_qgemm_available();
    CHECK_EQ_INT(av_nn__xnn_qgemm_supports(g, &g->nodes[k]), avail);
    g->nodes[k].p.conv.groups = 2;
    CHECK(!av_nn__xnn_qgemm_supports(g, &g->nodes[k]));
    g->nodes[k].p.conv.groups = 1;
    g->tensors[g->nodes[k].in[1]].dtype = AV_NN_I8; /* shape only: supports reads no data */
    CHECK(!av_nn__xnn_qgemm_supports(g, &g->nodes[k]));
    g->tensors[g->nodes[k].in[1]].dtype = AV_NN_U8;
    g->tensors[g->nodes[k].out[0]].quant.scale = 1e-7f; /* requantisation scale >= 256 */
    CHECK(!av_nn__xnn_qgemm_supports(g, &g->nodes[k]));
    g->tensors[g->nodes[k].out[0]].quant.scale = 0.05f;
    CHECK_EQ_INT(av_nn__xnn_qgemm_supports(g, &g->nodes[k]), avail);
    av_nn__graph_free(g);
}

/* The input ends at a PROT_NONE page: no block reads past its last byte
 * (rows past the end of the last block, the widening's vector loads, the
 * 16-byte loads of a 3-channel window row near the end). */
TEST(qgemm_reads_stay_in_the_input)
{
    if (!av_nn__xnn_qgemm_available())
        return; /* XNNPACK runs the convolution on this CPU */
    static const int64_t cfg[][4] = {{1, 7, 37, 1}, {1, 7, 37, 3}, {4, 7, 3, 3}, {5, 5, 3, 3}};
    for (int t = 0; t < 4; t++) {
        nf_reseed(4242 + (uint64_t)t);
        int64_t kk = cfg[t][3];
        qconv c = {.n = 1, .h = cfg[t][0], .w = cfg[t][1], .cin = cfg[t][2], .cout = 5,
                   .kh = kk, .kw = kk, .stride = t == 3 ? 2 : 1, .dil = 1, .pad = t == 1 || t == 2,
                   .act = AV_NN_ACT_NONE, .bias = false, .xs = 0.02f, .ws = 0.01f, .ys = 0.05f,
                   .xz = 3, .wz = 250, .yz = 9};
        int k;
        av_nn__graph *g = build(&c, &k);
        av_nn__xnn_node s;
        memset(&s, 0, sizeof s);
        char err[256];
        CHECK(av_nn__xnn_qgemm_supports(g, &g->nodes[k]));
        CHECK_EQ_INT(av_nn__xnn_qgemm_prepare(g, &g->nodes[k], &s, err, sizeof err), AV_NN_OK);
        size_t nx = (size_t)(c.h * c.w * c.cin);
        size_t ny = (size_t)av_nn__numel(&g->tensors[g->nodes[k].out[0]]);
        nf_guarded gx;
        uint8_t *x = nf_guarded_bytes(&gx, nx); /* the input's last byte touches the guard */
        CHECK(x);
        for (size_t i = 0; i < nx; i++)
            x[i] = (uint8_t)nf_rnd();
        uint8_t *y = malloc(ny), *yr = malloc(ny);
        CHECK(y && yr);
        av_nn__xnn_qgemm_run(s.qgemm, x, y, NULL);
        const void *in[2] = {x, g->tensors[g->nodes[k].in[1]].data};
        void *out[1] = {yr};
        CHECK(av_nn__ref_run(g, &g->nodes[k], in, out, err, sizeof err) == AV_NN_OK);
        for (size_t i = 0; i < ny; i++)
            CHECK_MSG(abs(y[i] - yr[i]) <= 1, "case %d element %zu: %d vs reference %d", t, i,
                      y[i], yr[i]);
        free(y), free(yr);
        av_nn__xnn_qgemm_free(s.qgemm);
        nf_guarded_free(&gx);
        av_nn__graph_free(g);
    }
}

TEST_MAIN(T(qgemm_random_shapes_bit_exact), T(qdw_random_shapes_bit_exact), T(qgemm_mobilenet_shapes_bit_exact),
          T(qgemm_saturation_and_scales), T(qgemm_forced_off_and_refusals),
          T(qgemm_reads_stay_in_the_input))
