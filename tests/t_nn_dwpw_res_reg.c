/*
 * t_nn_dwpw_res_reg.c - the fused residual added in registers (xnn_gemm.c,
 * AV_NN_XNN_RES_REG): our GEMM adds r to each output tile before the act's
 * clamp instead of a pass over the stored tile after it. On random shapes
 * with odd sizes (1 to 40 outputs: 8-wide tails, partial 16-wide tiles,
 * several tiles, the narrow path), 1x1 convs and depthwise -> 1x1 pairs
 * (xnn_dwpw.c, the CenterNet stem's shape among them), with and without a
 * relu6 after the add, on 1 and 3 threads: the fused graph's xnnpack output
 * is bit for bit the unfused graph's (conv, then XNNPACK's add and clamp)
 * and within tolerance of the interpreter. The kernels run directly on
 * inputs, residuals and outputs that end at a PROT_NONE page read and write
 * nothing past them.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct rr_case {
    int64_t n, h, w, c, o;
    int k;      /* depthwise kernel before the 1x1 (SAME, stride 1); 0: none */
    bool relu6; /* a relu6 after the add (fused into the conv after the residual) */
} rr_case;

/* x, r inputs; [dw(x) -> d;] conv1x1 -> y; add(y, r) -> z [-> relu6 -> z2] */
static av_nn__graph *build(const rr_case *rc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {rc->n, rc->h, rc->w, rc->c}, rd[4] = {rc->n, rc->h, rc->w, rc->o};
    int64_t wd[4] = {1, rc->k, rc->k, rc->c}, pd[4] = {rc->o, 1, 1, rc->c};
    int64_t cd[1] = {rc->c}, od[1] = {rc->o};
    int64_t nw = rc->k * rc->k * rc->c, np = rc->o * rc->c;
    float *w = malloc((size_t)(nw + np + rc->c + rc->o + 1) * sizeof *w);
    CHECK(w);
    float *pw = w + nw, *db = pw + np, *pb = db + rc->c;
    tt_fill(w, nw, 31, -0.6f, 0.6f);
    tt_fill(pw, np, 32, -0.5f, 0.5f);
    tt_fill(db, rc->c, 33, -1, 1);
    tt_fill(pb, rc->o, 34, -1, 1);
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid r = tt_input(g, "r", AV_NN_F32, 4, rd);
    av_nn__tid src = x;
    if (rc->k) {
        src = tt_act(g, "d", AV_NN_F32, -1, NULL);
        av_nn__params p = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                    .dilation_w = 1, .padding = AV_NN_PAD_SAME,
                                    .depth_multiplier = 1, .act = {.kind = AV_NN_ACT_RELU}}};
        av_nn__tid din[3] = {x, tt_const(g, "dw_w", AV_NN_F32, 4, wd, w),
                             tt_const(g, "dw_b", AV_NN_F32, 1, cd, db)};
        tt_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw", din, 3, &src, 1, &p);
    }
    av_nn__tid y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params q = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                .padding = AV_NN_PAD_VALID, .groups = 1}};
    av_nn__tid pin[3] = {src, tt_const(g, "pw_w", AV_NN_F32, 4, pd, pw),
                         tt_const(g, "pw_b", AV_NN_F32, 1, od, pb)};
    tt_node(g, AV_NN_OP_CONV2D, "pw", pin, 3, &y, 1, &q);
    av_nn__tid z = tt_act(g, "z", AV_NN_F32, -1, NULL);
    av_nn__params pa = {.binary = {.kind = AV_NN_BIN_ADD}};
    tt_node(g, AV_NN_OP_BINARY, "add", (av_nn__tid[]){y, r}, 2, &z, 1, &pa);
    av_nn__tid out = z;
    if (rc->relu6) {
        out = tt_act(g, "z2", AV_NN_F32, -1, NULL);
        av_nn__params pk = {.clamp = {.min = 0, .max = 6}};
        tt_node(g, AV_NN_OP_CLAMP, "relu6", &z, 1, &out, 1, &pk);
    }
    CHECK(av_nn__mark_output(g, out) >= 0);
    free(w);
    return g;
}

#define SHAPE_FMT "%lldx%lldx%lldx%lld k%d -> %lld relu6 %d"
#define SHAPE(rc)                                                                           \
    (long long)(rc)->n, (long long)(rc)->h, (long long)(rc)->w, (long long)(rc)->c, (rc)->k, \
        (long long)(rc)->o, (rc)->relu6

/* The live conv of a finalized graph (the only one). */
static av_nn__node *the_conv(av_nn__graph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_CONV2D)
            return &g->nodes[i];
    CHECK(false);
    return NULL;
}

/* The fused conv's kernel run directly: x, r and y each end at a PROT_NONE
 * page; y must match want (the interpreter) within tolerance. */
static void check_guarded(const rr_case *rc, const float *x, const float *r, const float *want)
{
    av_nn__graph *g = build(rc);
    char err[256] = "";
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn__node *n = the_conv(g);
    CHECK_MSG(av_nn__conv_residual(g, n) >= 0 && n->p.conv.dw_on == (rc->k > 0),
              "not fused: " SHAPE_FMT, SHAPE(rc));
    int64_t nx = rc->n * rc->h * rc->w * rc->c, ny = rc->n * rc->h * rc->w * rc->o;
    nf_guarded gx, gr, gy;
    float *xg = nf_guarded_floats(&gx, (size_t)nx), *rg = nf_guarded_floats(&gr, (size_t)ny);
    float *yg = nf_guarded_floats(&gy, (size_t)ny);
    CHECK(xg && rg && yg);
    memcpy(xg, x, (size_t)nx * sizeof *x);
    memcpy(rg, r, (size_t)ny * sizeof *r);
    av_nn__xnn_node s;
    memset(&s, 0, sizeof s);
    if (rc->k) {
        CHECK_EQ_INT(av_nn__xnn_dwpw_prepare(g, n, &s, err, sizeof err), AV_NN_OK);
        CHECK(av_nn__xnn_dwpw_run(s.dwpw, xg, rg, NULL, yg, nf_pool()));
        av_nn__xnn_dwpw_free(s.dwpw);
    } else {
        CHECK_EQ_INT(av_nn__xnn_gemm_prepare(g, n, &s, err, sizeof err), AV_NN_OK);
        av_nn__xnn_gemm_run_res(s.gemm, xg, rg, yg, nf_pool());
        av_nn__xnn_gemm_free(s.gemm);
    }
    for (int64_t i = 0; i < ny; i++) {
        double tol = 1e-4 * (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
        CHECK_MSG(fabs((double)yg[i] - want[i]) <= tol,
                  "guarded [%lld] got %g want %g (" SHAPE_FMT ")", (long long)i, yg[i], want[i],
                  SHAPE(rc));
    }
    nf_guarded_free(&gx), nf_guarded_free(&gr), nf_guarded_free(&gy);
    av_nn__graph_free(g);
}

static void check_case(const rr_case *rc)
{
    int64_t nx = rc->n * rc->h * rc->w * rc->c, ny = rc->n * rc->h * rc->w * rc->o;
    float *x = malloc((size_t)nx * sizeof *x), *r = malloc((size_t)ny * sizeof *r);
    float *want = calloc((size_t)ny, 4), *got = calloc((size_t)ny, 4), *base = calloc((size_t)ny, 4);
    CHECK(x && r && want && got && base);
    tt_fill(x, nx, (uint32_t)(nx + rc->o), -2, 2);
    tt_fill(r, ny, (uint32_t)(ny + 3), -3, 3);
    const void *in[2] = {x, r};
    av_nn__graph *g = build(rc);
    tt_interpret(g, in, (void **)&want);
    av_nn__graph_free(g);
    for (int threads = 1; threads <= 3; threads += 2) {
        /* unfused: the conv (or pair) alone, then XNNPACK's add (and clamp) */
        av_nn__residual_force_off(true);
        g = build(rc);
        char err[256] = "";
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        av_nn__residual_force_off(false);
        CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_BINARY), 1);
        tt_run_model(g, AV_NN_BACKEND_XNNPACK, threads, in, (void **)&base);
        g = build(rc);
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_BINARY), 0);
        CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_DEPTHWISE_CONV2D), 0);
        tt_run_model(g, AV_NN_BACKEND_XNNPACK, threads, in, (void **)&got);
        for (int64_t i = 0; i < ny; i++) {
            CHECK_MSG(memcmp(&got[i], &base[i], sizeof *got) == 0,
                      "threads %d [%lld] fused %a unfused %a (" SHAPE_FMT ")", threads,
                      (long long)i, got[i], base[i], SHAPE(rc));
            double tol = 1e-4 * (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
            CHECK_MSG(fabs((double)got[i] - want[i]) <= tol,
                      "threads %d [%lld] got %g want %g (" SHAPE_FMT ")", threads, (long long)i,
                      got[i], want[i], SHAPE(rc));
        }
    }
    check_guarded(rc, x, r, want);
    free(x), free(r), free(want), free(got), free(base);
}

TEST(residual_in_registers_same_bits_random_shapes)
{
    if (!av_nn__residual_fusion_pays() || !av_nn__dwpw_fusion_pays())
        return; /* no AVX2+FMA (or switched off): the add stays a node, nothing to compare */
    int64_t was = av_nn__dwpw_min_floats(0); /* small shapes fuse too */
    nf_reseed(15);
    for (int it = 0; it < 40; it++) {
        rr_case rc = {.n = it % 5 == 2 ? 3 : 1,
                      .h = 1 + nf_rnd() % 11,
                      .w = 1 + nf_rnd() % 13,
                      .c = 1 + nf_rnd() % 37,
                      .o = 1 + nf_rnd() % 40,
                      .k = it % 3 == 0 ? 0 : it % 3 == 1 ? 3 : 5,
                      .relu6 = it % 4 >= 2};
        if (it == 0) /* the CenterNet stem's pair, fewer rows */
            rc = (rr_case){.n = 1, .h = 9, .w = 33, .c = 16, .o = 16, .k = 3};
        if (it == 1) /* one 16-wide tile and a 1-wide tail, 7 pixels */
            rc = (rr_case){.n = 1, .h = 1, .w = 7, .c = 5, .o = 17, .k = 0, .relu6 = true};
        check_case(&rc);
    }
    av_nn__dwpw_min_floats(was);
}

TEST_MAIN(T(residual_in_registers_same_bits_random_shapes))
