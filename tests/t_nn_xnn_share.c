/*
 * t_nn_xnn_share.c - packed convolution weights shared by the contexts of one
 * model (xnn_share.c): a second context, one on 2 threads and a batch-2 one
 * take the first's Winograd and GEMM packs instead of packing again, give
 * the same bits, keep working after the first is freed (ASan sees a use
 * after free otherwise), and the last one frees them; two models loaded
 * from equal weights do not share (the key is the model's constant).
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define H 24
#define CI 32
#define CM 32
#define CO 16

/* x [1,H,H,CI] -> 3x3 conv (Winograd) -> [1,H,H,CM] -> 1x1 conv (GEMM) -> y [1,H,H,CO]. */
static av_nn_model *two_conv_model(void)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {1, H, H, CI}, w1d[4] = {CM, 3, 3, CI}, w2d[4] = {CO, 1, 1, CM};
    int64_t b1d[1] = {CM}, b2d[1] = {CO};
    av_nn__tid x = av_nn__add_tensor(g, "x", AV_NN_F32, 4, xd, NULL, false);
    CHECK(x >= 0 && av_nn__mark_input(g, x) >= 0);
    av_nn__tid in1[3] = {
        x, nf_konst_named(g, "w1", AV_NN_F32, w1d, 4, -0.2f, 0.2f),
        nf_konst_named(g, "b1", AV_NN_F32, b1d, 1, -0.2f, 0.2f)};
    av_nn__tid h = av_nn__add_tensor(g, "h", AV_NN_F32, -1, NULL, NULL, false);
    av_nn__tid y = av_nn__add_tensor(g, "y", AV_NN_F32, -1, NULL, NULL, false);
    CHECK(h >= 0 && y >= 0 && av_nn__mark_output(g, y) >= 0);
    av_nn__params p = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                .padding = AV_NN_PAD_EXPLICIT, .groups = 1, .pad_top = 1,
                                .pad_bottom = 1, .pad_left = 1, .pad_right = 1}};
    CHECK(av_nn__add_node(g, AV_NN_OP_CONV2D, "c1", in1, 3, &h, 1, &p) >= 0);
    av_nn__tid in2[3] = {
        h, nf_konst_named(g, "w2", AV_NN_F32, w2d, 4, -0.2f, 0.2f),
        nf_konst_named(g, "b2", AV_NN_F32, b2d, 1, -0.2f, 0.2f)};
    p.conv.pad_top = p.conv.pad_bottom = p.conv.pad_left = p.conv.pad_right = 0;
    CHECK(av_nn__add_node(g, AV_NN_OP_CONV2D, "c2", in2, 3, &y, 1, &p) >= 0);
    return nf_model(g);
}

enum { NX = H * H * CI, NY = H * H * CO };

TEST(contexts_of_a_model_share_packs)
{
    if (!av_nn__xnn_gemm_available())
        return; /* neither own kernel runs here: nothing is packed by them */
    static float x[2 * NX], ya[NY], yb[NY], yc[2 * NY], yr[NY];
    for (int i = 0; i < NX; i++)
        x[i] = x[NX + i] = nf_frand(-1.0f, 1.0f);
    size_t r0, r;
    size_t base = av_nn__xnn_pack_live(&r0);
    av_nn_model *m = two_conv_model();
    av_nn_ctx *a = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 1, 0);
    CHECK_EQ_INT(av_nn__xnn_pack_live(&r), base + 2); /* the Winograd and the GEMM pack */
    CHECK_EQ_INT(r, r0 + 2);
    nf_run(a, x, ya);
    av_nn_ctx *b = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 2, 0);
    av_nn_ctx *c = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 1, 2);
    CHECK_EQ_INT(av_nn__xnn_pack_live(&r), base + 2);
    CHECK_EQ_INT(r, r0 + 6);
    av_nn_ctx_free(a);
    CHECK_EQ_INT(av_nn__xnn_pack_live(&r), base + 2);
    CHECK_EQ_INT(r, r0 + 4);
    nf_run(b, x, yb);
    nf_run(c, x, yc);
    CHECK(memcmp(ya, yb, sizeof ya) == 0);
    CHECK(memcmp(ya, yc, sizeof ya) == 0 && memcmp(ya, yc + NY, sizeof ya) == 0);
    /* and the shared packs compute the convolutions: against the reference kernels */
    av_nn_ctx *ref = nf_ctx(m, AV_NN_BACKEND_REFERENCE, 1, 0);
    nf_run(ref, x, yr);
    double worst = 0, big = 0;
    for (int i = 0; i < NY; i++)
        worst = fmax(worst, fabs((double)yb[i] - yr[i])), big = fmax(big, fabs((double)yr[i]));
    CHECK_MSG(worst <= 1e-5 * (big + 1), "max |xnn - ref| %g of max |ref| %g", worst, big);
    av_nn_ctx_free(ref);
    av_nn_ctx_free(b);
    av_nn_ctx_free(c);
    CHECK_EQ_INT(av_nn__xnn_pack_live(&r), base);
    CHECK_EQ_INT(r, r0);
    av_nn_model_free(m);
}

TEST(models_do_not_share)
{
    if (!av_nn__xnn_gemm_available())
        return;
    size_t base = av_nn__xnn_pack_live(NULL);
    av_nn_model *m1 = two_conv_model(), *m2 = two_conv_model();
    av_nn_ctx *a = nf_ctx(m1, AV_NN_BACKEND_XNNPACK, 1, 0);
    av_nn_ctx *b = nf_ctx(m2, AV_NN_BACKEND_XNNPACK, 1, 0);
    CHECK_EQ_INT(av_nn__xnn_pack_live(NULL), base + 4);
    av_nn_ctx_free(a);
    CHECK_EQ_INT(av_nn__xnn_pack_live(NULL), base + 2);
    av_nn_ctx_free(b);
    CHECK_EQ_INT(av_nn__xnn_pack_live(NULL), base);
    av_nn_model_free(m1);
    av_nn_model_free(m2);
}

TEST_MAIN(T(contexts_of_a_model_share_packs), T(models_do_not_share))
