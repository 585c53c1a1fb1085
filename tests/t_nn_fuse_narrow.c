/*
 * t_nn_fuse_narrow.c - the narrow pointwise mode of our GEMM (xnn_gemm.c):
 * a 1x1 conv to at most 4 channels (CenterNet's box head) as dot products
 * along the input channels. Against the reference kernel on random shapes:
 * odd pixel counts (a lone last pixel), input channels with a tail of 1-7,
 * 1-4 outputs, batch 1 and 3, with and without bias, each fused act, and
 * with a fused residual; wider convs keep the tile kernel.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Runs node k of g (xnn backend, 2 threads) against the reference; *what
 * receives the kernel's name. Frees nothing. */
static void run_one(av_nn__graph *g, int k, const char **what)
{
    const av_nn__node *n = &g->nodes[k];
    const void *in[4] = {0};
    void *own[4] = {0};
    for (int i = 0; i < n->n_in; i++) {
        if (n->in[i] < 0)
            continue;
        const av_nn__tensor *t = &g->tensors[n->in[i]];
        if (t->data) {
            in[i] = t->data;
            continue;
        }
        own[i] = nf_buf(t);
        nf_fill(own[i], t->dtype, av_nn__numel(t));
        in[i] = own[i];
    }
    const av_nn__tensor *yt = &g->tensors[n->out[0]];
    void *want = nf_buf(yt), *got = nf_buf(yt);
    char err[256] = "";
    CHECK_MSG(av_nn__ref_run(g, n, in, &want, err, sizeof err) == AV_NN_OK, "ref: %s", err);
    void *state = NULL;
    CHECK_MSG(av_nn__backend_xnn.prepare(g, n, nf_pool(), &state, err, sizeof err) == AV_NN_OK,
              "%s", err);
    CHECK(av_nn__backend_xnn.run(state, g, n, in, &got, nf_pool(), err, sizeof err) == AV_NN_OK);
    *what = av_nn__xnn_kernel_name(state);
    nf_compare(yt, got, want, *what);
    av_nn__backend_xnn.release(state);
    free(want), free(got);
    for (int i = 0; i < 4; i++)
        free(own[i]);
}

/* 1x1 conv x[n,h,w,cin] -> cout with the given act; with a residual input
 * when res. Returns the node index. */
static int add_conv(av_nn__graph *g, const int64_t *xd, int64_t cout, bool bias, av_nn__act act,
                    bool res)
{
    av_nn__tid x = nf_act_in(g, AV_NN_F32, xd, 4, 0, 0);
    av_nn__tid w = nf_konst(g, AV_NN_F32, D(cout, 1, 1, xd[3]), 4, -0.5f, 0.5f);
    av_nn__tid b = bias ? nf_konst(g, AV_NN_F32, D(cout), 1, -1, 1) : -1;
    av_nn__tid r = res ? nf_act_in(g, AV_NN_F32, D(xd[0], xd[1], xd[2], cout), 4, 0, 0) : -1;
    av_nn__conv_params cp = nf_cp(1, 1, AV_NN_PAD_VALID, act);
    if (res)
        cp.pre_residual = -1; /* no calibration here: never read */
    av_nn__tid in[4] = {x, w, b, r};
    return nf_add(g, AV_NN_OP_CONV2D, in, res ? 4 : bias ? 3 : 2, nf_out_t(g, 0, 0),
                  &(av_nn__params){.conv = cp});
}

TEST(narrow_against_reference_random_shapes)
{
    static const av_nn__act acts[] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU6, AV_NN_ACT_SIGMOID,
                                      AV_NN_ACT_LEAKY, AV_NN_ACT_HARDSWISH, AV_NN_ACT_SILU};
    nf_reseed(17);
    for (int it = 0; it < 40; it++) {
        int64_t xd[4] = {it % 4 == 1 ? 3 : 1, 1 + nf_rnd() % 9, 1 + nf_rnd() % 11,
                         16 + nf_rnd() % 120};
        if (it == 0)
            xd[1] = xd[2] = 16, xd[3] = 128; /* CenterNet's shape, scaled down */
        int64_t cout = 1 + it % 4;
        av_nn__graph *g = nf_new_graph((uint64_t)it);
        int k = add_conv(g, xd, cout, it % 5 != 2, acts[it % 6], it % 3 == 2);
        const char *what = "";
        run_one(g, k, &what);
        if (av_nn__xnn_gemm_available())
            CHECK_MSG(strstr(what, "narrow") != NULL, "kernel %s", what);
        av_nn__graph_free(g);
    }
}

TEST(wider_or_shallow_convs_keep_the_tile_kernel)
{
    /* 5 outputs, or fewer than 16 input channels: the 6x16 tile kernel */
    static const int64_t shapes[][5] = {{1, 7, 5, 64, 5}, {1, 9, 3, 8, 4}, {3, 4, 4, 15, 2}};
    for (int i = 0; i < 3; i++) {
        av_nn__graph *g = nf_new_graph(100 + (uint64_t)i);
        int k = add_conv(g, shapes[i], shapes[i][4], true, AV_NN_ACT_NONE, false);
        const char *what = "";
        run_one(g, k, &what);
        CHECK_MSG(strstr(what, "narrow") == NULL, "kernel %s", what);
        av_nn__graph_free(g);
    }
}

TEST_MAIN(T(narrow_against_reference_random_shapes), T(wider_or_shallow_convs_keep_the_tile_kernel))
