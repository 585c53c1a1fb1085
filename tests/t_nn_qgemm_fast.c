/*
 * t_nn_qgemm_fast.c - the own qu8 convolution's (nn/xnn/xnn_qgemm.c) fast
 * paths, each against the same node with that path switched off, XNNPACK's
 * qu8 convolution byte for byte, and the reference kernels within one step:
 * the clamp-free requantisation and the output-channel order inside a tile
 * (lane_slot; AV_NN_XNN_QPLAIN), the half tile of a layer whose channels end
 * <= 8 past a 16-channel tile (AV_NN_XNN_QHALF), blocks of at most 3 rows
 * that skip the multiply-adds of the other 3 (AV_NN_XNN_QFEW), the RGB stem's widening
 * (widen_stem9, AV_NN_XNN_QSTEM): random shapes, channel counts past the
 * tiles, strides 1 and 2, paddings, zero points, clamps, 1 and 2 threads;
 * which nodes take them; nodes whose sums could overflow the float-to-int
 * conversion without the clamp, which must not; stem reads that stay inside
 * the input (guard page).
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
    int64_t n, h, w, cin, cout, k; /* k x k filter */
    int stride, pt, pl, pb, pr;
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
    av_nn__params pr = {.conv = {.stride_h = c->stride, .stride_w = c->stride, .dilation_h = 1,
                                 .dilation_w = 1, .padding = AV_NN_PAD_EXPLICIT, .groups = 1,
                                 .pad_top = c->pt, .pad_bottom = c->pb, .pad_left = c->pl,
                                 .pad_right = c->pr, .act = {c->act, 0.1f, 0, 0}}};
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

/* Ours (1 and 2 threads) == ours with the path off (its AV_NN_XNN_Q... switch) ==
 * XNNPACK, the reference within one step. Returns whether it ran clamp-free. */
static bool check_path(uint64_t seed, const qc *c, const char *env)
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
    CHECK(av_nn__xnn_qpath_force_off(env, true));
    run(g, k, x, yc, nf_pool(), &pc);
    CHECK(av_nn__xnn_qpath_force_off(env, false));
    av_nn__xnn_qgemm_force_off(true);
    run(g, k, x, yx, nf_pool(), &px);
    av_nn__xnn_qgemm_force_off(false);
    CHECK(p2 == p1 && !px);
    if (strcmp(env, "AV_NN_XNN_QPLAIN") == 0)
        CHECK(!pc);
    const void *in[3] = {x, g->tensors[g->nodes[k].in[1]].data, g->tensors[g->nodes[k].in[2]].data};
    void *out[1] = {yr};
    char err[256] = "";
    CHECK_MSG(av_nn__ref_run(g, &g->nodes[k], in, out, err, sizeof err) == AV_NN_OK, "ref: %s",
              err);
    for (size_t i = 0; i < ny; i++) {
        CHECK_MSG(y1[i] == yx[i] && y2[i] == yx[i] && yc[i] == yx[i],
                  "seed %llu: element %zu of %zu: ours %d (2 threads %d), %s=0 %d, XNNPACK %d",
                  (unsigned long long)seed, i, ny, y1[i], y2[i], env, yc[i], yx[i]);
        CHECK_MSG(abs(y1[i] - yr[i]) <= 1, "seed %llu: element %zu: ours %d vs reference %d",
                  (unsigned long long)seed, i, y1[i], yr[i]);
    }
    free(x), free(y1), free(y2), free(yc), free(yx), free(yr);
    av_nn__graph_free(g);
    return p1;
}

static bool check(uint64_t seed, const qc *c)
{
    return check_path(seed, c, "AV_NN_XNN_QPLAIN");
}

static void random_quant(qc *c)
{
    static const av_nn__act acts[] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU, AV_NN_ACT_RELU6};
    c->act = acts[irand(0, 2)];
    c->xs = nf_frand(0.005f, 0.05f), c->ws = nf_frand(0.001f, 0.02f);
    c->ys = nf_frand(0.01f, 0.2f);
    c->xz = irand(0, 255), c->wz = irand(0, 255);
    c->yz = irand(0, 1) ? 0 : irand(0, c->act ? 200 : 255);
}

TEST(plain_random_shapes_bit_exact)
{
    int plain = 0;
    for (uint64_t s = 1; s <= 120; s++) {
        nf_reseed(s * 0x9e3779b97f4a7c15ull + 101);
        qc c = {.n = irand(1, 3), .h = irand(1, 9), .w = irand(1, 13), .cin = irand(1, 100),
                .cout = irand(1, 60), .k = irand(0, 2) ? 1 : 3, .stride = 1};
        c.pt = c.pl = c.pb = c.pr = (int)(c.k / 2);
        random_quant(&c);
        plain += check(s, &c);
    }
    if (av_nn__xnn_qgemm_available())
        CHECK_MSG(plain >= 10 && plain <= 110, "clamp-free in %d of 120", plain);
    else
        CHECK_EQ_INT(plain, 0);
}

/* Channel counts 1-8 past a tile (the half tile) and the others, small K
 * (int16 weights) and large (8-bit, with the row correction). */
TEST(half_tile_random_shapes_bit_exact)
{
    for (uint64_t s = 1; s <= 80; s++) {
        nf_reseed(s * 0x9e3779b97f4a7c15ull + 555);
        int64_t tiles = irand(0, 3);
        qc c = {.n = irand(1, 3), .h = irand(1, 9), .w = irand(1, 11),
                .cin = irand(0, 1) ? irand(1, 30) : irand(65, 200),
                .cout = 16 * tiles + (irand(0, 3) ? irand(1, 8) : irand(9, 16)),
                .k = irand(0, 3) ? 1 : 3, .stride = irand(1, 2)};
        c.pt = c.pl = c.pb = c.pr = (int)(c.k / 2);
        random_quant(&c);
        check_path(s, &c, "AV_NN_XNN_QHALF");
    }
}

/* Pixel counts whose last block of 6 rows holds 1-3 (7x7 = 8 x 6 + 1). */
TEST(few_rows_random_shapes_bit_exact)
{
    for (uint64_t s = 1; s <= 60; s++) {
        nf_reseed(s * 0x9e3779b97f4a7c15ull + 321);
        qc c = {.n = irand(1, 3), .h = irand(1, 9), .w = irand(1, 9),
                .cin = irand(0, 1) ? irand(1, 30) : irand(65, 300), .cout = irand(1, 70),
                .k = irand(0, 3) ? 1 : 3, .stride = 1};
        while ((c.n * c.h * c.w) % 6 == 0 || (c.n * c.h * c.w) % 6 > 3)
            if (++c.w > 12) /* n * h may be a multiple of 6 */
                c.w = 1, c.h++;
        c.pt = c.pl = c.pb = c.pr = (int)(c.k / 2);
        random_quant(&c);
        check_path(s, &c, "AV_NN_XNN_QFEW");
    }
}

/* 3x3 convolutions over 3 channels (widen_stem9 where the window is inside
 * the input), strides 1 and 2, paddings 0-2 on each side, batch 1 and 3. */
TEST(stem_random_shapes_bit_exact)
{
    for (uint64_t s = 1; s <= 60; s++) {
        nf_reseed(s * 0x9e3779b97f4a7c15ull + 909);
        qc c = {.n = irand(0, 2) ? 1 : 3, .h = irand(1, 20), .w = irand(1, 20), .cin = 3,
                .cout = irand(1, 40), .k = 3, .stride = irand(1, 2), .pt = irand(0, 2),
                .pl = irand(0, 2), .pb = irand(0, 2), .pr = irand(0, 2)};
        while (c.h + c.pt + c.pb < 3)
            c.h++;
        while (c.w + c.pl + c.pr < 3)
            c.w++;
        random_quant(&c);
        check_path(s, &c, "AV_NN_XNN_QSTEM");
    }
    nf_reseed(4242); /* MobileNetV2's stem, TFLite's SAME padding at stride 2 */
    qc m = {.n = 1, .h = 224, .w = 224, .cin = 3, .cout = 32, .k = 3, .stride = 2, .pb = 1,
            .pr = 1, .act = AV_NN_ACT_RELU6, .xs = 0.0078125f, .ws = 0.03f, .ys = 0.0235f,
            .xz = 128, .wz = 120, .yz = 0};
    check_path(4242, &m, "AV_NN_XNN_QSTEM");
}

/* The stem's input ends at a PROT_NONE page: its 16-byte loads read no byte
 * past it (the last windows fall back to the per-run widening). */
TEST(stem_reads_stay_in_the_input)
{
    if (!av_nn__xnn_qgemm_available())
        return;
    static const int cfg[][4] = {{5, 7, 1, 0}, {4, 9, 2, 0}, {6, 6, 1, 1}, {3, 3, 1, 0}};
    for (int t = 0; t < 4; t++) {
        nf_reseed(31 + (uint64_t)t);
        int p = cfg[t][3];
        qc c = {.n = 1, .h = cfg[t][0], .w = cfg[t][1], .cin = 3, .cout = 20, .k = 3,
                .stride = cfg[t][2], .pt = p, .pl = p, .pb = p, .pr = p, .act = AV_NN_ACT_NONE,
                .xs = 0.02f, .ws = 0.01f, .ys = 0.5f, .xz = 128, .wz = 128, .yz = 100};
        int k;
        av_nn__graph *g = build(&c, &k);
        av_nn__xnn_node st;
        memset(&st, 0, sizeof st);
        char err[256];
        CHECK_EQ_INT(av_nn__xnn_qgemm_prepare(g, &g->nodes[k], &st, err, sizeof err), AV_NN_OK);
        size_t nx = (size_t)(c.h * c.w * c.cin);
        size_t ny = (size_t)av_nn__numel(&g->tensors[g->nodes[k].out[0]]);
        nf_guarded gx;
        uint8_t *x = nf_guarded_bytes(&gx, nx);
        CHECK(x);
        for (size_t i = 0; i < nx; i++)
            x[i] = (uint8_t)nf_rnd();
        uint8_t *y = malloc(ny), *yr = malloc(ny);
        CHECK(y && yr);
        av_nn__xnn_qgemm_run(st.qgemm, x, y, nf_pool());
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
        av_nn__xnn_qgemm_free(st.qgemm);
        nf_guarded_free(&gx);
        av_nn__graph_free(g);
    }
}

/* Large K and scale: sums times scale can pass 2^30, so the clamps stay;
 * with a small scale the same filter goes clamp-free; every product at
 * 255^2 either way. */
TEST(plain_not_taken_where_the_conversion_could_overflow)
{
    for (int big = 0; big < 2; big++) {
        nf_reseed(7 + (uint64_t)big);
        qc c = {.n = 1, .h = 3, .w = 5, .cin = 2000, .cout = 24, .k = 1, .stride = 1,
                .act = AV_NN_ACT_NONE,
                .xs = 0.5f, .ws = 0.9f, .ys = big ? 0.0025f : 2.0f, .xz = 255, .wz = 0,
                .yz = 0};
        bool plain = check(7 + (uint64_t)big, &c);
        CHECK_EQ_INT(plain, !big && av_nn__xnn_qgemm_available());
    }
}

TEST_MAIN(T(plain_random_shapes_bit_exact), T(plain_not_taken_where_the_conversion_could_overflow),
          T(half_tile_random_shapes_bit_exact), T(few_rows_random_shapes_bit_exact),
          T(stem_random_shapes_bit_exact),
          T(stem_reads_stay_in_the_input))
