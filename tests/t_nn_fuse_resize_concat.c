/*
 * t_nn_fuse_resize_concat.c - the resize -> concat fusion (pass_fuse.c
 * av_nn__fuse_resize_concat, xnn_data.c's rows, the reference's concat):
 * concat(..., resize_bilinear(z), ...) along channels becomes the concat
 * reading z, which samples it while copying (CenterNet's FPN). The fused
 * concat (reference; xnn on 1 and 3 threads) gives the unfused graph's
 * answer on random shapes with odd sizes: every coordinate mode we take,
 * up- and downsampling by whole and odd ratios, the resized part first,
 * middle or last of 2 or 3, channel counts off the vector width, batch 1 and
 * 3, with and without the concat's fused relu. Left alone where the resize's
 * output is a graph output, the concat runs along another axis, the resize
 * is nearest; and when forced off.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct rc_case {
    int64_t n, h, w;          /* the concat's spatial size */
    int64_t zh, zw;           /* the resize's input's */
    int64_t c[3];             /* channels of each part */
    int parts, k;             /* part k is the resize's output */
    av_nn__coord_mode coord;
    bool relu;                /* relu(concat): fused into the concat as its act */
    bool r_out;               /* the resize's output is a graph output too: not fused */
    bool axis2;               /* concat along W (the parts share C): not fused */
    bool nearest;             /* not fused */
} rc_case;

static int64_t part_elems(const rc_case *rc, int i)
{
    return rc->n * rc->h * rc->w * rc->c[i];
}

/* x_i inputs (z for part k); resize(z) -> r; concat -> c [; relu(c) -> y] */
static av_nn__graph *build(const rc_case *rc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    av_nn__tid x[3];
    for (int i = 0; i < rc->parts; i++) {
        int64_t d[4] = {rc->n, rc->h, rc->w, rc->c[i]};
        if (i == rc->k)
            d[1] = rc->zh, d[2] = rc->zw;
        char name[4] = {'x', (char)('0' + i), 0};
        x[i] = tt_input(g, name, AV_NN_F32, 4, d);
    }
    av_nn__tid r = tt_act(g, "r", AV_NN_F32, -1, NULL);
    int32_t sz[2] = {(int32_t)rc->h, (int32_t)rc->w};
    int64_t sd[1] = {2};
    av_nn__params pr = {.resize = {.mode = rc->nearest ? AV_NN_RESIZE_NEAREST
                                                       : AV_NN_RESIZE_BILINEAR,
                                   .coord = rc->coord}};
    av_nn__tid rin[2] = {x[rc->k], tt_const(g, "size", AV_NN_I32, 1, sd, sz)};
    tt_node(g, AV_NN_OP_RESIZE, "resize", rin, 2, &r, 1, &pr);
    av_nn__tid cin[3];
    for (int i = 0; i < rc->parts; i++)
        cin[i] = i == rc->k ? r : x[i];
    av_nn__tid c = tt_act(g, "cat", AV_NN_F32, -1, NULL);
    av_nn__params pc = {.axis = {.axis = rc->axis2 ? 2 : -1}};
    tt_node(g, AV_NN_OP_CONCAT, "cat", cin, rc->parts, &c, 1, &pc);
    av_nn__tid out = c;
    if (rc->relu) {
        out = tt_act(g, "y", AV_NN_F32, -1, NULL);
        av_nn__params pu = {.unary = {.kind = AV_NN_UN_RELU}};
        tt_node(g, AV_NN_OP_UNARY, "relu", &c, 1, &out, 1, &pu);
    }
    CHECK(av_nn__mark_output(g, out) >= 0);
    if (rc->r_out)
        CHECK(av_nn__mark_output(g, r) >= 0);
    return g;
}

static void check_case(const rc_case *rc, bool want_fused)
{
    float *xs[3];
    int64_t ny = 0;
    for (int i = 0; i < rc->parts; i++) {
        int64_t ne = i == rc->k ? rc->n * rc->zh * rc->zw * rc->c[i] : part_elems(rc, i);
        ny += part_elems(rc, i);
        xs[i] = malloc((size_t)ne * sizeof *xs[i]);
        CHECK(xs[i]);
        tt_fill(xs[i], ne, (uint32_t)(ne + 3 * i + 1), -2, 2);
    }
    int64_t nr = part_elems(rc, rc->k);
    float *want[2] = {calloc((size_t)ny, 4), calloc((size_t)nr, 4)};
    float *got[2] = {calloc((size_t)ny, 4), calloc((size_t)nr, 4)};
    CHECK(want[0] && want[1] && got[0] && got[1]);
    const void *in[3] = {xs[0], xs[1], rc->parts > 2 ? xs[2] : NULL};
    av_nn__graph *g = build(rc);
    tt_interpret(g, in, (void **)want);
    av_nn__graph_free(g);
    for (int run = 0; run < 3; run++) { /* reference; xnnpack 1 thread; xnnpack 3 threads */
        g = build(rc);
        char err[256] = "";
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        CHECK_EQ_INT(tt_count_live(g, AV_NN_OP_RESIZE), !want_fused);
        for (int i = 0; i < g->n_nodes; i++)
            if (!g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_CONCAT)
                CHECK_EQ_INT(g->nodes[i].p.axis.resized, want_fused);
        tt_run_model(g, run ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE,
                     run == 2 ? 3 : 1, in, (void **)got);
        for (int o = 0; o < (rc->r_out ? 2 : 1); o++)
            for (int64_t i = 0, ne = o ? nr : ny; i < ne; i++) {
                double tol = 1e-5 * (fabs(want[o][i]) > 1 ? fabs(want[o][i]) : 1);
                CHECK_MSG(fabs((double)got[o][i] - want[o][i]) <= tol,
                          "run %d out %d [%lld] got %g want %g (n%lld %lldx%lld <- %lldx%lld, "
                          "part %d of %d, coord %d)",
                          run, o, (long long)i, got[o][i], want[o][i], (long long)rc->n,
                          (long long)rc->h, (long long)rc->w, (long long)rc->zh,
                          (long long)rc->zw, rc->k, rc->parts, (int)rc->coord);
            }
    }
    for (int i = 0; i < 2; i++)
        free(want[i]), free(got[i]);
    for (int i = 0; i < rc->parts; i++)
        free(xs[i]);
}

TEST(fused_equals_unfused_random_shapes)
{
    bool fused = av_nn__resize_concat_fusion_pays();
    static const av_nn__coord_mode coords[4] = {AV_NN_COORD_HALF_PIXEL,
                                                AV_NN_COORD_ALIGN_CORNERS,
                                                AV_NN_COORD_ASYMMETRIC,
                                                AV_NN_COORD_PYTORCH_HALF_PIXEL};
    nf_reseed(27);
    for (int it = 0; it < 32; it++) {
        rc_case rc = {.n = it % 4 == 1 ? 3 : 1,
                      .zh = 1 + nf_rnd() % 12,
                      .zw = 1 + nf_rnd() % 12,
                      .c = {1 + nf_rnd() % 21, 1 + nf_rnd() % 21, 1 + nf_rnd() % 21},
                      .parts = 2 + it % 2,
                      .coord = coords[it % 4],
                      .relu = it % 3 != 0};
        rc.k = (int)(nf_rnd() % (uint32_t)rc.parts);
        if (it % 2) { /* CenterNet's 2x */
            rc.h = 2 * rc.zh, rc.w = 2 * rc.zw;
        } else { /* odd ratios, up or down */
            rc.h = 2 + nf_rnd() % 17, rc.w = 2 + nf_rnd() % 17;
        }
        check_case(&rc, fused);
    }
    /* CenterNet's last level: 64x64x64 to 128x128, after 128x128x64, relu */
    check_case(&(rc_case){.n = 1, .h = 128, .w = 128, .zh = 64, .zw = 64, .c = {64, 64},
                          .parts = 2, .k = 1, .coord = AV_NN_COORD_HALF_PIXEL, .relu = true},
               fused);
}

TEST(forced_off_keeps_the_resize)
{
    av_nn__resize_concat_force_off(true);
    check_case(&(rc_case){.n = 3, .h = 10, .w = 6, .zh = 5, .zw = 3, .c = {5, 7}, .parts = 2,
                          .k = 0, .coord = AV_NN_COORD_HALF_PIXEL, .relu = true},
               false);
    av_nn__resize_concat_force_off(false);
}

TEST(not_fused_where_it_would_not_be_exact)
{
    rc_case base = {.n = 1, .h = 8, .w = 6, .zh = 4, .zw = 3, .c = {5, 6}, .parts = 2, .k = 1,
                    .coord = AV_NN_COORD_HALF_PIXEL};
    rc_case rc = base;
    rc.r_out = true; /* the resize's output must still be written */
    check_case(&rc, false);
    rc = base;
    rc.axis2 = true, rc.c[1] = rc.c[0], rc.zh = rc.h; /* along W */
    check_case(&rc, false);
    rc = base;
    rc.nearest = true;
    check_case(&rc, false);
    rc = base;
    rc.coord = AV_NN_COORD_PYTORCH_HALF_PIXEL, rc.h = 1; /* differs from half-pixel at 1 */
    check_case(&rc, false);
}

TEST_MAIN(T(fused_equals_unfused_random_shapes), T(forced_off_keeps_the_resize),
          T(not_fused_where_it_would_not_be_exact))
