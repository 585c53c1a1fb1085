/*
 * t_nn_qdw3.c - the qu8 depthwise column kernel for 3x3, stride-1 layers of
 * up to 64 channels (nn/xnn/xnn_qdw.c, qdw3_row) against the general
 * kernel (the column kernel forced off) and XNNPACK's depthwise, byte for
 * byte: random sizes, channel counts with a tail past the 16-channel
 * groups, padding 0 and 1, batch 1 and 3, 1 and 2 threads; which layers
 * take it; and reads that stay inside the input (guard page).
 *
 * The streaming kernel (which takes these layers by default) is forced
 * off here; t_nn_qdws tests it.
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
 * into y; *col: whether the column kernel ran it. */
static void run(av_nn__graph *g, int k, const uint8_t *x, uint8_t *y, pthreadpool_t pool,
                bool *col)
{
    const av_nn__backend *be = &av_nn__backend_xnn;
    const av_nn__node *n = &g->nodes[k];
    CHECK(be->supports_op(g, n));
    void *state = NULL;
    char err[256] = "";
    CHECK_MSG(be->prepare(g, n, pool, &state, err, sizeof err) == AV_NN_OK, "prepare: %s", err);
    *col = av_nn__xnn_qdw_uses3(((av_nn__xnn_node *)state)->qdw);
    const void *in[3] = {x, g->tensors[n->in[1]].data, g->tensors[n->in[2]].data};
    void *out[1] = {y};
    CHECK_MSG(be->run(state, g, n, in, out, pool, err, sizeof err) == AV_NN_OK, "run: %s", err);
    be->release(state);
}

/* Column kernel (1 and 2 threads) == general kernel == XNNPACK, byte for
 * byte; whether the column kernel ran is what its rule says. */
static void check(uint64_t seed, const dwc *c)
{
    av_nn__xnn_qdws_force_off(true); /* the streaming kernel: t_nn_qdws */
    int k;
    av_nn__graph *g = dwc_build(c, &k);
    size_t nx = (size_t)(c->n * c->h * c->w * c->c);
    size_t ny = (size_t)av_nn__numel(&g->tensors[g->nodes[k].out[0]]);
    uint8_t *x = malloc(nx + XNN_EXTRA_BYTES), *y1 = malloc(ny), *y2 = malloc(ny);
    uint8_t *yg = malloc(ny), *yx = malloc(ny + XNN_EXTRA_BYTES);
    CHECK(x && y1 && y2 && yg && yx);
    for (size_t i = 0; i < nx + XNN_EXTRA_BYTES; i++)
        x[i] = (uint8_t)nf_rnd();
    bool col1, col2, colg, colx;
    run(g, k, x, y1, NULL, &col1);
    run(g, k, x, y2, nf_pool(), &col2);
    av_nn__xnn_qdw3_force_off(true);
    run(g, k, x, yg, nf_pool(), &colg);
    av_nn__xnn_qdw3_force_off(false);
    av_nn__xnn_qgemm_force_off(true);
    run(g, k, x, yx, nf_pool(), &colx);
    av_nn__xnn_qgemm_force_off(false);
    int64_t ow = g->tensors[g->nodes[k].out[0]].dims[2];
    bool want = av_nn__xnn_qgemm_available() && c->sh == 1 && c->c >= 16 && c->c <= 79 &&
                (ow - 1) + 3 <= 256;
    CHECK_MSG(col1 == want && col2 == want, "seed %llu: column kernel %d, want %d",
              (unsigned long long)seed, col1, want);
    CHECK(!colg && !colx);
    for (size_t i = 0; i < ny; i++)
        CHECK_MSG(y1[i] == yx[i] && y2[i] == yx[i] && yg[i] == yx[i],
                  "seed %llu: element %zu of %zu: column %d (2 threads %d), general %d, "
                  "XNNPACK %d",
                  (unsigned long long)seed, i, ny, y1[i], y2[i], yg[i], yx[i]);
    free(x), free(y1), free(y2), free(yg), free(yx);
    av_nn__graph_free(g);
    av_nn__xnn_qdws_force_off(false);
}

static int irand(int lo, int hi) /* [lo, hi] */
{
    return lo + (int)(nf_rnd() % (uint32_t)(hi - lo + 1));
}

static dwc random_dw(void)
{
    static const av_nn__act acts[] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU, AV_NN_ACT_RELU6};
    dwc c = {.n = irand(0, 2) ? 1 : 3, .h = irand(1, 12), .w = irand(1, 40),
             .c = irand(0, 1) ? 16 * irand(1, 4) : irand(1, 80)};
    c.sh = c.sw = irand(0, 4) ? 1 : 2;
    c.pt = c.pl = c.pb = c.pr = irand(0, 2) ? 1 : 0;
    c.act = acts[irand(0, 2)];
    while (c.h + 2 * c.pt < 3 || c.w + 2 * c.pt < 3)
        c.h++, c.w++;
    c.xs = nf_frand(0.005f, 0.05f), c.ws = nf_frand(0.001f, 0.02f), c.ys = nf_frand(0.01f, 0.2f);
    c.xz = irand(0, 255), c.wz = irand(0, 255), c.yz = irand(0, c.act ? 200 : 255);
    return c;
}

TEST(column_kernel_random_shapes_bit_exact)
{
    for (uint64_t s = 1; s <= 150; s++) {
        nf_reseed(s * 0x9e3779b97f4a7c15ull + 31);
        dwc c = random_dw();
        check(s, &c);
    }
}

/* MobileNetV2's first depthwise layer (112x112x32, batch 1 and 3), rows
 * wider than the column buffer (the general kernel runs), extreme sums. */
TEST(column_kernel_model_and_edge_shapes)
{
    static const int64_t sh[][5] = {{112, 112, 32, 1, 1}, {9, 112, 32, 3, 1}, {3, 254, 16, 1, 1},
                                    {2, 255, 16, 1, 1},   {4, 300, 48, 1, 0}, {1, 1, 64, 3, 1}};
    for (int i = 0; i < 6; i++) {
        nf_reseed((uint64_t)(i + 70) * 0x9e3779b97f4a7c15ull + 5);
        dwc c = {.n = sh[i][3], .h = sh[i][0], .w = sh[i][1], .c = sh[i][2], .sh = 1, .sw = 1,
                 .pt = (int)sh[i][4], .pl = (int)sh[i][4], .pb = (int)sh[i][4],
                 .pr = (int)sh[i][4], .act = AV_NN_ACT_RELU6, .xs = 0.0235f, .ws = 0.03f,
                 .ys = 0.0235f, .xz = 128, .wz = 110, .yz = 0};
        if (i == 5) /* every product at +-255^2: the largest sums */
            c.act = AV_NN_ACT_NONE, c.xz = 255, c.wz = 0, c.xs = 0.5f, c.ws = 0.9f, c.yz = 7;
        check(70 + (uint64_t)i, &c);
    }
}

/* The input ends at a PROT_NONE page: the column loads read no byte past
 * it (the last column of the last row, padding on the right and below). */
TEST(column_kernel_reads_stay_in_the_input)
{
    if (!av_nn__xnn_qgemm_available())
        return; /* XNNPACK runs depthwise layers on this CPU */
    static const int64_t cfg[][4] = {{5, 7, 16, 1}, {4, 9, 32, 0}, {3, 3, 64, 1}, {1, 2, 16, 1}};
    for (int t = 0; t < 4; t++) {
        nf_reseed(777 + (uint64_t)t);
        dwc c = {.n = 1, .h = cfg[t][0], .w = cfg[t][1], .c = cfg[t][2], .sh = 1, .sw = 1,
                 .pt = (int)cfg[t][3], .pl = (int)cfg[t][3], .pb = (int)cfg[t][3],
                 .pr = (int)cfg[t][3], .act = AV_NN_ACT_NONE, .xs = 0.02f, .ws = 0.01f,
                 .ys = 0.05f, .xz = 3, .wz = 250, .yz = 9};
        int k;
        av_nn__graph *g = dwc_build(&c, &k);
        av_nn__xnn_node s;
        memset(&s, 0, sizeof s);
        char err[256];
        av_nn__xnn_qdws_force_off(true);
        CHECK_EQ_INT(av_nn__xnn_qdw_prepare(g, &g->nodes[k], &s, err, sizeof err), AV_NN_OK);
        av_nn__xnn_qdws_force_off(false);
        CHECK(av_nn__xnn_qdw_uses3(s.qdw));
        size_t nx = (size_t)(c.h * c.w * c.c);
        size_t ny = (size_t)av_nn__numel(&g->tensors[g->nodes[k].out[0]]);
        nf_guarded gx;
        uint8_t *x = nf_guarded_bytes(&gx, nx);
        CHECK(x);
        for (size_t i = 0; i < nx; i++)
            x[i] = (uint8_t)nf_rnd();
        uint8_t *y = malloc(ny), *yr = malloc(ny);
        CHECK(y && yr);
        av_nn__xnn_qdw_run(s.qdw, x, y, nf_pool());
        const void *in[3] = {x, g->tensors[g->nodes[k].in[1]].data,
                             g->tensors[g->nodes[k].in[2]].data};
        void *out[1] = {yr};
        CHECK(av_nn__ref_run(g, &g->nodes[k], in, out, err, sizeof err) == AV_NN_OK);
        for (size_t i = 0; i < ny; i++)
            CHECK_MSG(abs(y[i] - yr[i]) <= 1, "case %d element %zu: %d vs reference %d", t, i,
                      y[i], yr[i]);
        free(y), free(yr);
        av_nn__xnn_qdw_free(s.qdw);
        nf_guarded_free(&gx);
        av_nn__graph_free(g);
    }
}

TEST_MAIN(T(column_kernel_random_shapes_bit_exact), T(column_kernel_model_and_edge_shapes),
          T(column_kernel_reads_stay_in_the_input))
