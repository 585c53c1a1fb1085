/*
 * t_nn_concat_mean.c - the concat -> global mean fusion (pass_catmean.c,
 * xnn_data.c's rows with their sums, the reference's concat + reduce):
 * m = mean(concat(x_i), H and W, keepdims) becomes the concat writing m
 * too (CenterNet's squeeze-excite over its FPN concat). On random shapes
 * with odd sizes (H, W, channels off the vector width), batch 1 and 2, 1 to
 * 3 parts, a fused resize part or none, with and without the concat's relu:
 *  - the reference backend gives the unfused oracle's answer bit for bit;
 *  - xnnpack's concat output is the unfused xnnpack one bit for bit, and so
 *    is a reader of both (y = concat * m, the squeeze-excite's multiply)
 *    up to the mean's rounding;
 *  - its mean is within 1e-5 * mean(|concat|) of the double-precision mean
 *    of the concat's output (floats summed per row, rows merged in double:
 *    at most W float adds per sum, W <= 128 here: W * 2^-24 < 1e-5);
 *  - and is the same bits on 1 and 2 threads (rows merged in a fixed order).
 * The rows 8 floats at a time (AVX2) give the bits of 4 at a time, fused
 * or not, with a relu, a relu6 or no act. Left alone where the mean is over
 * other axes or the concat runs along W; and when forced off.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cm_case {
    int64_t n, h, w;
    int64_t c[3]; /* channels of each part */
    int parts;
    int rk;        /* part rk is resize(z) of a (h/2 + 1) x (w/2 + 1) z; -1: none */
    bool relu;     /* relu(concat): fused into the concat as its act */
    bool relu6;    /* clamp(concat, 0, 6) instead: a general clamp */
    bool cat_out;  /* the concat's output is a graph output */
    uint32_t mask; /* the reduce's axes (6: H and W, the fused one) */
    bool keep;     /* keepdims */
    bool axis2;    /* concat along W (the parts share C): not fused */
} cm_case;

static int64_t cm_chan(const cm_case *cc)
{
    int64_t c = 0;
    for (int i = 0; i < cc->parts; i++)
        c += cc->axis2 ? 0 : cc->c[i];
    return cc->axis2 ? cc->c[0] : c;
}

static int64_t cm_width(const cm_case *cc)
{
    return cc->axis2 ? cc->w * cc->parts : cc->w;
}

static int64_t z_h(const cm_case *cc)
{
    return cc->h / 2 + 1;
}

static int64_t z_w(const cm_case *cc)
{
    return cc->w / 2 + 1;
}

/* inputs x_i; [resize;] concat -> c [; relu -> c']; mean -> m; y = c' * m.
 * Outputs: m, y [, c'] (c' always for the oracle: the mean's exact value). */
static av_nn__graph *build(const cm_case *cc, bool cat_out)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    av_nn__tid cin[3];
    for (int i = 0; i < cc->parts; i++) {
        int64_t d[4] = {cc->n, cc->h, cc->w, cc->axis2 ? cc->c[0] : cc->c[i]};
        if (i == cc->rk)
            d[1] = z_h(cc), d[2] = z_w(cc);
        char name[4] = {'x', (char)('0' + i), 0};
        cin[i] = tt_input(g, name, AV_NN_F32, 4, d);
        if (i == cc->rk) {
            av_nn__tid r = tt_act(g, "r", AV_NN_F32, -1, NULL);
            int32_t sz[2] = {(int32_t)cc->h, (int32_t)cc->w};
            int64_t sd[1] = {2};
            av_nn__params pr = {.resize = {.mode = AV_NN_RESIZE_BILINEAR,
                                           .coord = AV_NN_COORD_HALF_PIXEL}};
            av_nn__tid rin[2] = {cin[i], tt_const(g, "size", AV_NN_I32, 1, sd, sz)};
            tt_node(g, AV_NN_OP_RESIZE, "resize", rin, 2, &r, 1, &pr);
            cin[i] = r;
        }
    }
    av_nn__tid c = tt_act(g, "cat", AV_NN_F32, -1, NULL);
    av_nn__params pc = {.axis = {.axis = cc->axis2 ? 2 : -1}};
    tt_node(g, AV_NN_OP_CONCAT, "cat", cin, cc->parts, &c, 1, &pc);
    if (cc->relu) {
        av_nn__tid r = tt_act(g, "catr", AV_NN_F32, -1, NULL);
        av_nn__params pu = {.unary = {.kind = AV_NN_UN_RELU}};
        tt_node(g, AV_NN_OP_UNARY, "relu", &c, 1, &r, 1, &pu);
        c = r;
    } else if (cc->relu6) {
        av_nn__tid r = tt_act(g, "catr", AV_NN_F32, -1, NULL);
        av_nn__params pu = {.clamp = {.min = 0, .max = 6}};
        tt_node(g, AV_NN_OP_CLAMP, "relu6", &c, 1, &r, 1, &pu);
        c = r;
    }
    av_nn__tid m = tt_act(g, "mean", AV_NN_F32, -1, NULL);
    av_nn__params pm = {.reduce = {.kind = AV_NN_REDUCE_MEAN, .axes_mask = cc->mask,
                                   .keep_dims = cc->keep}};
    tt_node(g, AV_NN_OP_REDUCE, "mean", &c, 1, &m, 1, &pm);
    av_nn__tid y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pb = {.binary = {.kind = AV_NN_BIN_MUL}};
    tt_node(g, AV_NN_OP_BINARY, "se", (av_nn__tid[]){c, m}, 2, &y, 1, &pb);
    CHECK(av_nn__mark_output(g, m) >= 0);
    CHECK(av_nn__mark_output(g, y) >= 0);
    if (cat_out)
        CHECK(av_nn__mark_output(g, c) >= 0);
    return g;
}

/* Elements of the mean's output. */
static int64_t mean_elems(const cm_case *cc)
{
    int64_t e = 1, d[4] = {cc->n, cc->h, cm_width(cc), cm_chan(cc)};
    for (int a = 0; a < 4; a++)
        e *= (cc->mask >> a) & 1 ? 1 : d[a];
    return e;
}

/* Finalize, check what the pass did, run on backend be with threads; out
 * the graph's outputs (m, y [, c]). */
static void run_fused(const cm_case *cc, bool want_fused, av_nn_backend be, int threads,
                      const void *const *in, void **out)
{
    av_nn__graph *g = build(cc, cc->cat_out);
    char err[256] = "";
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_REDUCE), !want_fused);
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_CONCAT)
            CHECK_EQ_INT(g->nodes[i].p.axis.mean, want_fused);
    tt_run_model(g, be, threads, in, out);
}

static bool forced; /* what av_nn__concat_mean_force_off was last given by a test */

static void force_off(bool on)
{
    forced = on;
    av_nn__concat_mean_force_off(on);
}

static bool same_bits(const float *a, const float *b, int64_t n)
{
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

static void check_case(const cm_case *cc, bool want_fused)
{
    float *xs[3] = {NULL, NULL, NULL};
    int64_t ny = cc->n * cc->h * cm_width(cc) * cm_chan(cc), nm = mean_elems(cc);
    for (int i = 0; i < cc->parts; i++) {
        int64_t ne = cc->n * (i == cc->rk ? z_h(cc) * z_w(cc) : cc->h * cc->w) *
                     (cc->axis2 ? cc->c[0] : cc->c[i]);
        xs[i] = malloc((size_t)(ne > 0 ? ne : 1) * sizeof *xs[i]);
        CHECK(xs[i]);
        tt_fill(xs[i], ne, (uint32_t)(ne + 7 * i + 3), -2, 2);
    }
    const void *in[3] = {xs[0], cc->parts > 1 ? xs[1] : NULL, cc->parts > 2 ? xs[2] : NULL};
    /* [0] oracle, [1] reference, [2] xnn unfused, [3] xnn 1 thread, [4] xnn 2 threads:
     * each m, y, c */
    float *o[5][3];
    for (int r = 0; r < 5; r++) {
        o[r][0] = calloc((size_t)nm + 1, 4);
        o[r][1] = calloc((size_t)ny + 1, 4);
        o[r][2] = calloc((size_t)ny + 1, 4);
        CHECK(o[r][0] && o[r][1] && o[r][2]);
    }
    av_nn__graph *g = build(cc, true);
    tt_interpret(g, in, (void **)o[0]);
    av_nn__graph_free(g);
    run_fused(cc, want_fused, AV_NN_BACKEND_REFERENCE, 1, in, (void **)o[1]);
    bool was = forced;
    force_off(true);
    run_fused(cc, false, AV_NN_BACKEND_XNNPACK, 1, in, (void **)o[2]);
    force_off(was);
    run_fused(cc, want_fused, AV_NN_BACKEND_XNNPACK, 1, in, (void **)o[3]);
    run_fused(cc, want_fused, AV_NN_BACKEND_XNNPACK, 2, in, (void **)o[4]);
    CHECK_MSG(same_bits(o[1][0], o[0][0], nm) && same_bits(o[1][1], o[0][1], ny),
              "reference differs from the oracle (n%lld %lldx%lld)", (long long)cc->n,
              (long long)cc->h, (long long)cc->w);
    if (cc->cat_out) {
        CHECK(same_bits(o[1][2], o[0][2], ny));
        CHECK(same_bits(o[3][2], o[2][2], ny) && same_bits(o[4][2], o[2][2], ny));
    }
    CHECK_MSG(same_bits(o[3][0], o[4][0], nm), "mean differs on 1 and 2 threads");
    if (cc->mask == 6 && cc->keep && !cc->axis2) { /* [N, C]: the exact mean of the oracle's c */
        int64_t hw = cc->h * cc->w, c = cm_chan(cc);
        for (int64_t b = 0; b < cc->n; b++)
            for (int64_t ch = 0; ch < c; ch++) {
                double s = 0, a = 0;
                for (int64_t p = 0; p < hw; p++) {
                    double v = o[0][2][(b * hw + p) * c + ch];
                    s += v, a += fabs(v);
                }
                s /= (double)hw, a /= (double)hw;
                for (int r = 1; r < 5; r++)
                    CHECK_MSG(fabs((double)o[r][0][b * c + ch] - s) <= 1e-5 * a,
                              "run %d mean [%lld][%lld] got %.9g want %.9g (mean|c| %g, "
                              "n%lld %lldx%lld, %d parts, resize %d)",
                              r, (long long)b, (long long)ch, o[r][0][b * c + ch], s, a,
                              (long long)cc->n, (long long)cc->h, (long long)cc->w, cc->parts,
                              cc->rk);
            }
    }
    for (int r = 2; r < 5; r++) /* y = c * m: the mean's rounding, scaled */
        for (int64_t i = 0; i < ny; i++) {
            double want = o[0][1][i], tol = 1e-5 * (fabs(want) > 1 ? fabs(want) : 1);
            CHECK_MSG(fabs((double)o[r][1][i] - want) <= tol, "run %d y[%lld] got %g want %g",
                      r, (long long)i, o[r][1][i], want);
        }
    for (int r = 0; r < 5; r++)
        for (int k = 0; k < 3; k++)
            free(o[r][k]);
    for (int i = 0; i < cc->parts; i++)
        free(xs[i]);
}

TEST(fused_equals_unfused_random_shapes)
{
    bool fused = av_nn__concat_mean_fusion_pays();
    nf_reseed(41);
    for (int it = 0; it < 30; it++) {
        cm_case cc = {.n = it % 3 == 1 ? 2 : 1,
                      .h = 1 + nf_rnd() % 19,
                      .w = 1 + nf_rnd() % 23,
                      .c = {1 + nf_rnd() % 21, 1 + nf_rnd() % 21, 1 + nf_rnd() % 21},
                      .parts = 1 + it % 3,
                      .rk = -1,
                      .relu = it % 4 != 0,
                      .relu6 = it % 4 == 0 && it % 8,
                      .cat_out = it % 5 != 2,
                      .mask = 6,
                      .keep = true};
        if (it % 2 && cc.parts > 1)
            cc.rk = (int)(nf_rnd() % (uint32_t)cc.parts);
        check_case(&cc, fused);
    }
    /* CenterNet's: 128x128 skip of 64 beside 64x64x64 upsampled, relu, not an output */
    check_case(&(cm_case){.n = 1, .h = 128, .w = 128, .c = {64, 64}, .parts = 2, .rk = 1,
                          .relu = true, .mask = 6, .keep = true},
               fused);
}

/* xnnpack's outputs (m, y, c) on 2 threads with the rows 8 or 4 floats at a
 * time, the mean fused or not: the same bits (8 wide only where AVX2 is). */
static void check_wide(const cm_case *cc, bool mean)
{
    float *xs[3] = {NULL, NULL, NULL};
    int64_t ny = cc->n * cc->h * cc->w * cm_chan(cc), nm = cc->n * cm_chan(cc);
    for (int i = 0; i < cc->parts; i++) {
        int64_t ne = cc->n * (i == cc->rk ? z_h(cc) * z_w(cc) : cc->h * cc->w) * cc->c[i];
        xs[i] = malloc((size_t)ne * sizeof *xs[i]);
        CHECK(xs[i]);
        tt_fill(xs[i], ne, (uint32_t)(ne + 5 * i + 11), -8, 8);
    }
    const void *in[3] = {xs[0], cc->parts > 1 ? xs[1] : NULL, cc->parts > 2 ? xs[2] : NULL};
    float *o[2][3];
    force_off(!mean);
    for (int r = 0; r < 2; r++) {
        o[r][0] = calloc((size_t)nm, 4), o[r][1] = calloc((size_t)ny, 4);
        o[r][2] = calloc((size_t)ny, 4);
        CHECK(o[r][0] && o[r][1] && o[r][2]);
        av_nn__concat_wide_force_off(r == 1);
        run_fused(cc, mean && av_nn__concat_mean_fusion_pays(), AV_NN_BACKEND_XNNPACK, 2, in,
                  (void **)o[r]);
    }
    av_nn__concat_wide_force_off(false);
    force_off(false);
    CHECK_MSG(same_bits(o[0][0], o[1][0], nm) && same_bits(o[0][1], o[1][1], ny) &&
                  same_bits(o[0][2], o[1][2], ny),
              "8 and 4 wide differ (n%lld %lldx%lld, %d parts, resize %d, mean %d)",
              (long long)cc->n, (long long)cc->h, (long long)cc->w, cc->parts, cc->rk, mean);
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 3; k++)
            free(o[r][k]);
    for (int i = 0; i < cc->parts; i++)
        free(xs[i]);
}

TEST(eight_wide_rows_same_bits)
{
    nf_reseed(43);
    for (int it = 0; it < 16; it++) {
        cm_case cc = {.n = it % 4 == 3 ? 2 : 1,
                      .h = 1 + nf_rnd() % 13,
                      .w = 1 + nf_rnd() % 17,
                      .c = {1 + nf_rnd() % 37, 1 + nf_rnd() % 37, 1 + nf_rnd() % 37},
                      .parts = 1 + it % 3,
                      .rk = -1,
                      .relu = it % 3 == 0,
                      .relu6 = it % 3 == 1,
                      .cat_out = true,
                      .mask = 6,
                      .keep = true};
        if (it % 2 && cc.parts > 1)
            cc.rk = (int)(nf_rnd() % (uint32_t)cc.parts);
        check_wide(&cc, it % 4 < 2);
    }
}

TEST(forced_off_keeps_the_reduce)
{
    force_off(true);
    check_case(&(cm_case){.n = 2, .h = 7, .w = 5, .c = {3, 9}, .parts = 2, .rk = -1,
                          .relu = true, .cat_out = true, .mask = 6, .keep = true},
               false);
    force_off(false);
}

TEST(not_fused_where_it_is_another_reduce)
{
    cm_case base = {.n = 2, .h = 6, .w = 5, .c = {5, 6}, .parts = 2, .rk = -1, .relu = true,
                    .cat_out = true, .mask = 6, .keep = true};
    cm_case cc = base;
    cc.mask = 2; /* over H only */
    check_case(&cc, false);
    cc = base;
    cc.mask = 14; /* over H, W and C */
    check_case(&cc, false);
    cc = base;
    cc.axis2 = true; /* concat along W */
    check_case(&cc, false);
}

TEST_MAIN(T(fused_equals_unfused_random_shapes), T(eight_wide_rows_same_bits),
          T(forced_off_keeps_the_reduce),
          T(not_fused_where_it_is_another_reduce))
