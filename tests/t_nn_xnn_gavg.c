/*
 * t_nn_xnn_gavg.c - our f32 global mean (xnn_gavg.c): REDUCE mean over a
 * contiguous block of axes, one image's pixels split across the pool. It
 * gives the reference's answer on random shapes with odd sizes (ranks 2 to
 * 5, every contiguous block of axes, keep_dims either way, batch 1 and 3,
 * sizes below and above the chunking threshold), on 1 and 3 threads; and
 * with it forced off (XNNPACK's pooling) the same.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>

typedef struct gv_case {
    int rank;
    int64_t d[5];
    uint32_t mask; /* contiguous */
    bool keep;
} gv_case;

static av_nn__graph *build(const gv_case *gc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, gc->rank, gc->d);
    av_nn__tid y = tt_act(g, "mean", AV_NN_F32, -1, NULL);
    av_nn__params p = {.reduce = {.kind = AV_NN_REDUCE_MEAN, .axes_mask = gc->mask,
                                  .keep_dims = gc->keep}};
    tt_node(g, AV_NN_OP_REDUCE, "mean", &x, 1, &y, 1, &p);
    CHECK(av_nn__mark_output(g, y) >= 0);
    return g;
}

/* The mean of each reduced block, by ours where want_ours, else XNNPACK's. */
static void check_case(const gv_case *gc, bool want_ours)
{
    int64_t nx = 1, ny = 1;
    for (int i = 0; i < gc->rank; i++) {
        nx *= gc->d[i];
        ny *= gc->mask >> i & 1 ? 1 : gc->d[i];
    }
    float *x = malloc((size_t)nx * sizeof *x), *want = calloc((size_t)ny, 4);
    float *got = calloc((size_t)ny, 4);
    CHECK(x && want && got);
    tt_fill(x, nx, (uint32_t)(nx + gc->mask), -3, 5);
    const void *in[1] = {x};
    av_nn__graph *g = build(gc);
    tt_interpret(g, in, (void **)&want);
    av_nn__graph_free(g);
    for (int threads = 1; threads <= 3; threads += 2) {
        g = build(gc);
        char err[256] = "";
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        for (int i = 0; i < g->n_nodes; i++)
            if (!g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_REDUCE)
                CHECK_EQ_INT(av_nn__xnn_gavg_takes(g, &g->nodes[i]), want_ours);
        tt_run_model(g, AV_NN_BACKEND_XNNPACK, threads, in, (void **)&got);
        for (int64_t i = 0; i < ny; i++) /* a float sum of up to 10^5 terms in [-3, 5) */
            CHECK_MSG(fabs((double)got[i] - want[i]) <= 2e-5 * (1 + fabs(want[i])),
                      "threads %d [%lld] got %.9g want %.9g (rank %d mask %u)", threads,
                      (long long)i, got[i], want[i], gc->rank, gc->mask);
    }
    free(x), free(want), free(got);
}

TEST(matches_reference_random_shapes)
{
    nf_reseed(33);
    for (int it = 0; it < 40; it++) {
        gv_case gc = {.rank = 2 + it % 4, .keep = it % 3 != 0};
        for (int i = 0; i < gc.rank; i++)
            gc.d[i] = 1 + nf_rnd() % (it % 5 == 4 ? 90 : 13);
        if (it % 4 == 1)
            gc.d[0] = 3; /* batch */
        int first = (int)(nf_rnd() % (uint32_t)gc.rank);
        int last = first + (int)(nf_rnd() % (uint32_t)(gc.rank - first));
        for (int i = first; i <= last; i++)
            gc.mask |= 1u << i;
        check_case(&gc, true);
    }
    /* CenterNet's squeeze-excite pools: over H, W of NHWC */
    check_case(&(gv_case){.rank = 4, .d = {1, 128, 128, 128}, .mask = 6, .keep = true}, true);
    check_case(&(gv_case){.rank = 4, .d = {1, 64, 64, 72}, .mask = 6, .keep = true}, true);
    check_case(&(gv_case){.rank = 4, .d = {3, 16, 16, 721}, .mask = 6}, true);
}

TEST(forced_off_leaves_it_to_xnnpack)
{
    av_nn__xnn_gavg_force_off(true);
    check_case(&(gv_case){.rank = 4, .d = {3, 33, 17, 29}, .mask = 6, .keep = true}, false);
    av_nn__xnn_gavg_force_off(false);
}

TEST_MAIN(T(matches_reference_random_shapes), T(forced_off_leaves_it_to_xnnpack))
