/*
 * t_nn_qplain.c - the own qu8 convolution's (nn/xnn/xnn_qgemm.c) clamp-free
 * requantisation and its output-channel order inside a tile (lane_slot):
 * with it on, forced off (AV_NN_XNN_QPLAIN's switch) and XNNPACK's qu8
 * convolution, byte for byte, and the reference kernels within one step;
 * random shapes with channel counts past the 16-channel tiles, zero points,
 * clamps; which nodes take it, and the nodes whose sums could overflow the
 * float-to-int conversion without the clamp, which must not.
 *
 * On a CPU without our qu8 kernels (no AVX2, AVX-512) the cases check only
 * that XNNPACK runs the node and nothing is clamp-free.
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <pthreadpool.h>
#include <stdlib.h>
#include <string.h>

typedef struct qc {
    int64_t n, h, w, cin, cout, k; /* k x k filter, stride 1, pad k / 2 */
    av_nn__act act;
    float xs, ws, ys;
    int32_t xz, wz, yz;
} qc;

static int irand(int lo, int hi) /* [lo, hi] */
{
    return lo + (int)(nf_rnd() % (uint32_t)(hi - lo + 1));
}

static av_nn__tid tensor(av_nn__graph *g, const char *name, av_nn_dtype dt, const int64_t *d,
                         int r, void *data, float s, int32_t zp)
{
    av_nn__tid t = av_nn__add_tensor(g, name, dt, r, d, data, data != NULL);
    CHECK(t >= 0);
    g->tensors[t].quant.scale = s;
    g->tensors[t].quant.zero_point = zp;
    return t;
}

static av_nn__graph *build(const qc *c, int *k)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {c->n, c->h, c->w, c->cin}, wd[4] = {c->cout, c->k, c->k, c->cin};
    size_t nw = (size_t)(c->cout * c->k * c->k * c->cin);
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
    in[2] = tensor(g, "b", AV_NN_I32, &c->cout, 1, bq, 0, 0);
    av_nn__tid y = tensor(g, "y", AV_NN_U8, NULL, -1, NULL, c->ys, c->yz);
    CHECK(av_nn__mark_output(g, y) >= 0);
    int p = (int)(c->k / 2);
    av_nn__params pr = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                 .padding = AV_NN_PAD_EXPLICIT, .groups = 1, .pad_top = p,
                                 .pad_bottom = p, .pad_left = p, .pad_right = p,
                                 .act = {c->act, 0.1f, 0, 0}}};
    *k = av_nn__add_node(g, AV_NN_OP_CONV2D, "conv", in, 3, &y, 1, &pr);
    CHECK(*k >= 0);
    char err[256] = "";
    CHECK_MSG(av_nn__infer_node(g, &g->nodes[*k], err, sizeof err) == AV_NN_OK, "infer: %s",
              err);
    return g;
}

/* Node k on the XNNPACK backend into y; *plain: ours ran it clamp-free. */
static void run(av_nn__graph *g, int k, const uint8_t *x, uint8_t *y, pthreadpool_t pool,
                bool *plain)
{
    const av_nn__backend *be = &av_nn__backend_xnn;
    const av_nn__node *n = &g->nodes[k];
    void *state = NULL;
    char err[256] = "";
    CHECK_MSG(be->prepare(g, n, pool, &state, err, sizeof err) == AV_NN_OK, "prepare: %s", err);
    *plain = av_nn__xnn_qgemm_uses_plain(((av_nn__xnn_node *)state)->qgemm);
    const void *in[3] = {x, g->tensors[n->in[1]].data, g->tensors[n->in[2]].data};
    void *out[1] = {y};
    CHECK_MSG(be->run(state, g, n, in, out, pool, err, sizeof err) == AV_NN_OK, "run: %s", err);
    be->release(state);
}

/* Clamp-free (1 and 2 threads) == clamped == XNNPACK, the reference within
 * one step. Returns whether it ran clamp-free. */
static bool check(uint64_t seed, const qc *c)
{
    int k;
    av_nn__graph *g = build(c, &k);
    size_t nx = (size_t)(c->n * c->h * c->w * c->cin);
    size_t ny = (size_t)av_nn__numel(&g->tensors[g->nodes[k].out[0]]);
    uint8_t *x = malloc(nx + XNN_EXTRA_BYTES), *y1 = malloc(ny), *y2 = malloc(ny);
    uint8_t *yc = malloc(ny), *yx = malloc(ny + XNN_EXTRA_BYTES), *yr = malloc(ny);
    CHECK(x && y1 && y2 && yc && yx && yr);
    for (size_t i = 0; i < nx + XNN_EXTRA_BYTES; i++)
        x[i] = (uint8_t)nf_rnd();
    bool p1, p2, pc, px;
    run(g, k, x, y1, NULL, &p1);
    run(g, k, x, y2, nf_pool(), &p2);
    av_nn__xnn_qplain_force_off(true);
    run(g, k, x, yc, nf_pool(), &pc);
    av_nn__xnn_qplain_force_off(false);
    av_nn__xnn_qgemm_force_off(true);
    run(g, k, x, yx, nf_pool(), &px);
    av_nn__xnn_qgemm_force_off(false);
    CHECK(p2 == p1 && !pc && !px);
    const void *in[3] = {x, g->tensors[g->nodes[k].in[1]].data, g->tensors[g->nodes[k].in[2]].data};
    void *out[1] = {yr};
    char err[256] = "";
    CHECK_MSG(av_nn__ref_run(g, &g->nodes[k], in, out, err, sizeof err) == AV_NN_OK, "ref: %s",
              err);
    for (size_t i = 0; i < ny; i++) {
        CHECK_MSG(y1[i] == yx[i] && y2[i] == yx[i] && yc[i] == yx[i],
                  "seed %llu: element %zu of %zu: clamp-free %d (2 threads %d), clamped %d, "
                  "XNNPACK %d",
                  (unsigned long long)seed, i, ny, y1[i], y2[i], yc[i], yx[i]);
        CHECK_MSG(abs(y1[i] - yr[i]) <= 1, "seed %llu: element %zu: ours %d vs reference %d",
                  (unsigned long long)seed, i, y1[i], yr[i]);
    }
    free(x), free(y1), free(y2), free(yc), free(yx), free(yr);
    av_nn__graph_free(g);
    return p1;
}

TEST(plain_random_shapes_bit_exact)
{
    static const av_nn__act acts[] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU, AV_NN_ACT_RELU6};
    int plain = 0;
    for (uint64_t s = 1; s <= 120; s++) {
        nf_reseed(s * 0x9e3779b97f4a7c15ull + 101);
        qc c = {.n = irand(1, 3), .h = irand(1, 9), .w = irand(1, 13), .cin = irand(1, 100),
                .cout = irand(1, 60), .k = irand(0, 2) ? 1 : 3, .act = acts[irand(0, 2)]};
        c.xs = nf_frand(0.005f, 0.05f), c.ws = nf_frand(0.001f, 0.02f);
        c.ys = nf_frand(0.01f, 0.2f);
        c.xz = irand(0, 255), c.wz = irand(0, 255);
        c.yz = irand(0, 1) ? 0 : irand(0, c.act ? 200 : 255);
        plain += check(s, &c);
    }
    if (av_nn__xnn_qgemm_available())
        CHECK_MSG(plain >= 10 && plain <= 110, "clamp-free in %d of 120", plain);
    else
        CHECK_EQ_INT(plain, 0);
}

/* Large K and scale: sums times scale can pass 2^30, so the clamps stay;
 * with a small scale the same filter goes clamp-free; every product at
 * 255^2 either way. */
TEST(plain_not_taken_where_the_conversion_could_overflow)
{
    for (int big = 0; big < 2; big++) {
        nf_reseed(7 + (uint64_t)big);
        qc c = {.n = 1, .h = 3, .w = 5, .cin = 2000, .cout = 24, .k = 1, .act = AV_NN_ACT_NONE,
                .xs = 0.5f, .ws = 0.9f, .ys = big ? 0.0025f : 2.0f, .xz = 255, .wz = 0,
                .yz = 0};
        bool plain = check(7 + (uint64_t)big, &c);
        CHECK_EQ_INT(plain, !big && av_nn__xnn_qgemm_available());
    }
}

TEST_MAIN(T(plain_random_shapes_bit_exact), T(plain_not_taken_where_the_conversion_could_overflow))
