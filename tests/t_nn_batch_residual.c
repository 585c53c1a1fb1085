/*
 * t_nn_batch_residual.c - a convolution that took a residual add
 * (pass_fuse.c) runs at another batch (ir/batch.c): its residual input is an
 * activation of the output's shape, added sample by sample, so a batch-2
 * context is made (it was refused as "weights computed at run time") and
 * gives each sample the batch-1 bits, on both backends.
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"

#include <stdlib.h>
#include <string.h>

#define H 9
#define C 16

/* x [1,H,H,C] -> 1x1 conv -> + x -> y: the add fuses into the conv where our GEMM runs. */
static av_nn_model *residual_model(bool *fused)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {1, H, H, C}, wd[4] = {C, 1, 1, C}, bd[1] = {C};
    av_nn__tid x = av_nn__add_tensor(g, "x", AV_NN_F32, 4, xd, NULL, false);
    CHECK(x >= 0 && av_nn__mark_input(g, x) >= 0);
    av_nn__tid cin[3] = {x,
                         nf_konst_named(g, "w", AV_NN_F32, wd, 4, -0.3f, 0.3f),
                         nf_konst_named(g, "b", AV_NN_F32, bd, 1, -0.3f, 0.3f)};
    av_nn__tid h = av_nn__add_tensor(g, "h", AV_NN_F32, -1, NULL, NULL, false);
    av_nn__tid y = av_nn__add_tensor(g, "y", AV_NN_F32, -1, NULL, NULL, false);
    CHECK(h >= 0 && y >= 0 && av_nn__mark_output(g, y) >= 0);
    av_nn__params p = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                .padding = AV_NN_PAD_SAME, .groups = 1}};
    CHECK(av_nn__add_node(g, AV_NN_OP_CONV2D, "conv", cin, 3, &h, 1, &p) >= 0);
    av_nn__params pa = {.binary = {.kind = AV_NN_BIN_ADD}};
    CHECK(av_nn__add_node(g, AV_NN_OP_BINARY, "add", (av_nn__tid[]){h, x}, 2, &y, 1, &pa) >= 0);
    char err[256] = "";
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "finalize: %s", err);
    *fused = false;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_CONV2D)
            *fused = *fused || av_nn__conv_residual(g, &g->nodes[i]) >= 0;
    av_nn_model *m = NULL;
    CHECK_MSG(av_nn__model_from_graph(g, AV_NN_FORMAT_ONNX, NULL, &m, err, sizeof err) ==
                  AV_NN_OK,
              "%s", err);
    return m;
}

static void run(const av_nn_model *m, av_nn_backend be, int batch, const float *x, float *y)
{
    char err[256] = "";
    av_nn_ctx_opts o = {.threads = 2, .backend = be, .batch = batch};
    av_nn_ctx *c = NULL;
    CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "batch %d: %s", batch, err);
    if (!c)
        return;
    const void *in[1] = {x};
    void *out[1] = {y};
    CHECK_MSG(av_nn_run(c, in, out, err, sizeof err) == AV_NN_OK, "run: %s", err);
    av_nn_ctx_free(c);
}

enum { N = H * H * C };

TEST(residual_conv_runs_batched)
{
    bool fused;
    av_nn_model *m = residual_model(&fused);
    /* where our GEMM does not run (no AVX2), the add stays and the case is plain */
    CHECK_EQ_INT(fused, av_nn__residual_fusion_pays());
    static float x[2 * N], y1[N], y2[2 * N];
    for (int i = 0; i < 2 * N; i++)
        x[i] = nf_frand(-2.0f, 2.0f);
    for (int be = 0; be < 2; be++) {
        av_nn_backend b = be ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE;
        memset(y2, 0, sizeof y2);
        run(m, b, 2, x, y2);
        for (int s = 0; s < 2; s++) {
            run(m, b, 0, x + s * N, y1);
            CHECK_MSG(memcmp(y1, y2 + s * N, sizeof y1) == 0, "backend %d sample %d", be, s);
        }
    }
    av_nn_model_free(m);
}

TEST_MAIN(T(residual_conv_runs_batched))
