/*
 * t_nn_qdws.c - the qu8 depthwise streaming kernel for 3x3 layers of stride
 * 1 and 2 (nn/xnn/xnn_qdw.c, qdws_row1/qdws_row2), and its clamp-free
 * requantisation, against the general kernel (streaming and column kernels
 * forced off), XNNPACK's depthwise byte for byte, and the reference kernels
 * within one step: random sizes, channel counts with a tail past the
 * 16-channel groups, strides 1 and 2 (also mixed), asymmetric padding 0-2,
 * zero points, clamps, batch 1 and 3, 1 and 2 threads; which layers take it;
 * reads that stay inside the input (guard page).
 *
 * On a CPU without our qu8 kernels (no AVX2, AVX-512) the cases check only
 * that the node goes to XNNPACK.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "qdw_fixture.h"

#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <pthreadpool.h>
#include <stdlib.h>
#include <string.h>

/* Node k on the XNNPACK backend (ours, or XNNPACK's when forced off) on x
 * into y; *st: whether the streaming kernel ran it, *plain: without clamps. */
static void run(av_nn__graph *g, int k, const uint8_t *x, uint8_t *y, pthreadpool_t pool,
                bool *st, bool *plain)
{
    const av_nn__backend *be = &av_nn__backend_xnn;
    const av_nn__node *n = &g->nodes[k];
    CHECK(be->supports_op(g, n));
    void *state = NULL;
    char err[256] = "";
    CHECK_MSG(be->prepare(g, n, pool, &state, err, sizeof err) == AV_NN_OK, "prepare: %s", err);
    const av_nn__xnn_qdw *q = ((av_nn__xnn_node *)state)->qdw;
    *st = av_nn__xnn_qdw_uses_stream(q);
    *plain = av_nn__xnn_qdw_uses_plain(q);
    const void *in[3] = {x, g->tensors[n->in[1]].data, g->tensors[n->in[2]].data};
    void *out[1] = {y};
    CHECK_MSG(be->run(state, g, n, in, out, pool, err, sizeof err) == AV_NN_OK, "run: %s", err);
    be->release(state);
}

/* Streaming kernel (1 and 2 threads, with and without the clamp-free
 * requantisation) == general kernel == XNNPACK byte for byte, the reference
 * within one step; the streaming kernel ran where its rule says. Returns
 * whether the clamp-free requantisation ran. */
static bool check(uint64_t seed, const dwc *c)
{
    int k;
    av_nn__graph *g = dwc_build(c, &k);
    size_t nx = (size_t)(c->n * c->h * c->w * c->c);
    size_t ny = (size_t)av_nn__numel(&g->tensors[g->nodes[k].out[0]]);
    uint8_t *x = malloc(nx + XNN_EXTRA_BYTES), *y1 = malloc(ny), *y2 = malloc(ny);
    uint8_t *yc = malloc(ny), *yg = malloc(ny), *yx = malloc(ny + XNN_EXTRA_BYTES);
    uint8_t *yr = malloc(ny);
    CHECK(x && y1 && y2 && yc && yg && yx && yr);
    for (size_t i = 0; i < nx + XNN_EXTRA_BYTES; i++)
        x[i] = (uint8_t)nf_rnd();
    bool s1, s2, sc, sg, sx, p1, p2, pc, pg, px;
    run(g, k, x, y1, NULL, &s1, &p1);
    run(g, k, x, y2, nf_pool(), &s2, &p2);
    av_nn__xnn_qplain_force_off(true); /* streaming, with the clamps */
    run(g, k, x, yc, nf_pool(), &sc, &pc);
    av_nn__xnn_qplain_force_off(false);
    av_nn__xnn_qdws_force_off(true);
    av_nn__xnn_qdw3_force_off(true);
    run(g, k, x, yg, nf_pool(), &sg, &pg);
    av_nn__xnn_qdw3_force_off(false);
    av_nn__xnn_qdws_force_off(false);
    av_nn__xnn_qgemm_force_off(true);
    run(g, k, x, yx, nf_pool(), &sx, &px);
    av_nn__xnn_qgemm_force_off(false);
    bool want = av_nn__xnn_qgemm_available() && c->c >= 16 && c->sw <= 2;
    CHECK_MSG(s1 == want && s2 == want && sc == want, "seed %llu: streaming %d %d %d, want %d",
              (unsigned long long)seed, s1, s2, sc, want);
    CHECK(!sg && !sx && !pc && !pg && !px && p2 == p1);
    const void *in[3] = {x, g->tensors[g->nodes[k].in[1]].data, g->tensors[g->nodes[k].in[2]].data};
    void *out[1] = {yr};
    char err[256] = "";
    CHECK_MSG(av_nn__ref_run(g, &g->nodes[k], in, out, err, sizeof err) == AV_NN_OK, "ref: %s",
              err);
    for (size_t i = 0; i < ny; i++) {
        CHECK_MSG(y1[i] == yx[i] && y2[i] == yx[i] && yc[i] == yx[i] && yg[i] == yx[i],
                  "seed %llu: element %zu of %zu: streaming %d (2 threads %d, clamped %d), "
                  "general %d, XNNPACK %d",
                  (unsigned long long)seed, i, ny, y1[i], y2[i], yc[i], yg[i], yx[i]);
        CHECK_MSG(abs(y1[i] - yr[i]) <= 1, "seed %llu: element %zu: ours %d vs reference %d",
                  (unsigned long long)seed, i, y1[i], yr[i]);
    }
    free(x), free(y1), free(y2), free(yc), free(yg), free(yx), free(yr);
    av_nn__graph_free(g);
    return p1;
}

static int irand(int lo, int hi) /* [lo, hi] */
{
    return lo + (int)(nf_rnd() % (uint32_t)(hi - lo + 1));
}

static dwc random_dw(void)
{
    static const av_nn__act acts[] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU, AV_NN_ACT_RELU6};
    dwc c = {.n = irand(0, 2) ? 1 : 3, .h = irand(1, 12), .w = irand(1, 40),
             .c = irand(0, 1) ? 16 * irand(1, 5) : irand(1, 90), .sh = irand(1, 2),
             .sw = irand(1, 2), .pt = irand(0, 2), .pl = irand(0, 2), .pb = irand(0, 2),
             .pr = irand(0, 2), .act = acts[irand(0, 2)]};
    while (c.h + c.pt + c.pb < 3)
        c.h++;
    while (c.w + c.pl + c.pr < 3)
        c.w++;
    c.xs = nf_frand(0.005f, 0.05f), c.ws = nf_frand(0.001f, 0.02f), c.ys = nf_frand(0.01f, 0.2f);
    c.xz = irand(0, 255), c.wz = irand(0, 255);
    /* zero point 0 half the time: RELU's and NONE's clamps are then 0..255 */
    c.yz = irand(0, 1) ? 0 : irand(0, c.act ? 200 : 255);
    return c;
}

TEST(streaming_random_shapes_bit_exact)
{
    int plain = 0;
    for (uint64_t s = 1; s <= 200; s++) {
        nf_reseed(s * 0x9e3779b97f4a7c15ull + 47);
        dwc c = random_dw();
        plain += check(s, &c);
    }
    /* both requantisations ran (where our kernels are on) */
    if (av_nn__xnn_qgemm_available())
        CHECK_MSG(plain >= 20 && plain <= 180, "clamp-free in %d of 200", plain);
}

/* MobileNetV2's layers (stride 1 and 2, TFLite's SAME pads), batch 3,
 * rows of one pixel, and the largest sums (every product at 255^2 and the
 * largest scale qconv_common_ok lets through: 9 taps stay below 2^30). */
TEST(streaming_model_and_edge_shapes)
{
    static const int64_t sh[][6] = {
        /* h, w, c, n, stride, pad (stride 2: bottom/right only) */
        {112, 112, 32, 1, 1, 1}, {112, 112, 96, 1, 2, 1}, {56, 56, 144, 3, 2, 1},
        {14, 14, 576, 1, 1, 1},  {7, 7, 960, 3, 1, 1},    {1, 1, 48, 1, 1, 1},
        {3, 2, 16, 1, 2, 1},     {5, 300, 32, 1, 1, 0},   {2, 2, 64, 3, 1, 1}};
    for (int i = 0; i < 9; i++) {
        nf_reseed((uint64_t)(i + 90) * 0x9e3779b97f4a7c15ull + 3);
        int s = (int)sh[i][4], p = (int)sh[i][5];
        dwc c = {.n = sh[i][3], .h = sh[i][0], .w = sh[i][1], .c = sh[i][2], .sh = s, .sw = s,
                 .pt = s == 1 ? p : 0, .pl = s == 1 ? p : 0, .pb = p, .pr = p,
                 .act = AV_NN_ACT_RELU6, .xs = 0.0235f, .ws = 0.03f, .ys = 0.0235f, .xz = 128,
                 .wz = 110, .yz = 0};
        bool plain = check(90 + (uint64_t)i, &c);
        CHECK_EQ_INT(plain, av_nn__xnn_qgemm_available()); /* 0..255 clamp, small sums */
    }
    nf_reseed(99);
    dwc big = {.n = 1, .h = 6, .w = 21, .c = 40, .sh = 1, .sw = 1, .pt = 1, .pl = 1, .pb = 1,
               .pr = 1, .act = AV_NN_ACT_NONE, .xs = 0.5f, .ws = 0.9f, .ys = 0.00177f,
               .xz = 255, .wz = 0, .yz = 0};
    CHECK_EQ_INT(check(99, &big), av_nn__xnn_qgemm_available());
}

TEST(plain_requantisation_rule)
{
    CHECK(av_nn__xnn_req_plain_ok(1e6, 0.001f, 0, 255));
    CHECK(!av_nn__xnn_req_plain_ok(1e6, 0.001f, 1, 255));  /* a clamp above 0 */
    CHECK(!av_nn__xnn_req_plain_ok(1e6, 0.001f, 0, 254));  /* a clamp below 255 */
    CHECK(!av_nn__xnn_req_plain_ok(1e6, 1074.0f, 0, 255)); /* 1.07e9 >= 2^30 */
    CHECK(av_nn__xnn_req_plain_ok(1e6, 1073.0f, 0, 255));
    av_nn__xnn_qplain_force_off(true);
    CHECK(!av_nn__xnn_req_plain_ok(1e6, 0.001f, 0, 255));
    av_nn__xnn_qplain_force_off(false);
}

/* The input ends at a PROT_NONE page: the streaming loads read no byte past
 * it (the last column of the last row, padding on the right and below). */
TEST(streaming_reads_stay_in_the_input)
{
    if (!av_nn__xnn_qgemm_available())
        return; /* XNNPACK runs depthwise layers on this CPU */
    static const int64_t cfg[][5] = {{5, 7, 16, 1, 1}, {4, 9, 32, 0, 1}, {3, 3, 64, 1, 2},
                                     {1, 2, 16, 1, 1}, {6, 8, 48, 1, 2}, {7, 7, 16, 0, 2}};
    for (int t = 0; t < 6; t++) {
        nf_reseed(877 + (uint64_t)t);
        int p = (int)cfg[t][3], s = (int)cfg[t][4];
        dwc c = {.n = 1, .h = cfg[t][0], .w = cfg[t][1], .c = cfg[t][2], .sh = s, .sw = s,
                 .pt = p, .pl = p, .pb = p, .pr = p, .act = AV_NN_ACT_NONE, .xs = 0.02f,
                 .ws = 0.01f, .ys = 0.1f, .xz = 128, .wz = 128, .yz = 100};
        int k;
        av_nn__graph *g = dwc_build(&c, &k);
        av_nn__xnn_node st;
        memset(&st, 0, sizeof st);
        char err[256];
        CHECK_EQ_INT(av_nn__xnn_qdw_prepare(g, &g->nodes[k], &st, err, sizeof err), AV_NN_OK);
        CHECK(av_nn__xnn_qdw_uses_stream(st.qdw));
        size_t nx = (size_t)(c.h * c.w * c.c);
        size_t ny = (size_t)av_nn__numel(&g->tensors[g->nodes[k].out[0]]);
        nf_guarded gx;
        uint8_t *x = nf_guarded_bytes(&gx, nx);
        CHECK(x);
        for (size_t i = 0; i < nx; i++)
            x[i] = (uint8_t)nf_rnd();
        uint8_t *y = malloc(ny), *yr = malloc(ny);
        CHECK(y && yr);
        av_nn__xnn_qdw_run(st.qdw, x, y, nf_pool());
        const void *in[3] = {x, g->tensors[g->nodes[k].in[1]].data,
                             g->tensors[g->nodes[k].in[2]].data};
        void *out[1] = {yr};
        CHECK(av_nn__ref_run(g, &g->nodes[k], in, out, err, sizeof err) == AV_NN_OK);
        int spread = 0; /* outputs away from the clamps: the test can see a wrong sum */
        for (size_t i = 0; i < ny; i++) {
            CHECK_MSG(abs(y[i] - yr[i]) <= 1, "case %d element %zu: %d vs reference %d", t, i,
                      y[i], yr[i]);
            spread += y[i] > 0 && y[i] < 255;
        }
        CHECK((size_t)spread * 2 > ny);
        free(y), free(yr);
        av_nn__xnn_qdw_free(st.qdw);
        nf_guarded_free(&gx);
        av_nn__graph_free(g);
    }
}

TEST_MAIN(T(streaming_random_shapes_bit_exact), T(streaming_model_and_edge_shapes),
          T(plain_requantisation_rule), T(streaming_reads_stay_in_the_input))
