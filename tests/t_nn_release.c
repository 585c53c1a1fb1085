/*
 * t_nn_release.c - a model frees a convolution's f32 weights once packed
 * (nn/release.c, av_nn_model_release_packed), and every reader after that
 * still gets the right answer: more contexts (1 and 2 threads, batch 2)
 * run from the shared packed copy, the reference backend, a node another
 * kernel takes, av_nn_find_tensor and the quantiser get the weights back
 * bit for bit; nothing is released while a context reads them from the
 * graph, nor when the model did not ask, nor what Winograd packed; the
 * records and packs are all freed (ASan: no leak, no use after free).
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
#define CO 24

/* x [1,H,H,CI] -> 3x3 conv (Winograd) -> 1x1 conv w2 (GEMM) -> 3x3 s2 conv w3 (GEMM) -> y. */
static av_nn_model *three_conv_model(void)
{
    nf_reseed(7);
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {1, H, H, CI}, w1d[4] = {CM, 3, 3, CI}, w2d[4] = {CO, 1, 1, CM};
    int64_t w3d[4] = {CO, 3, 3, CO}, b1d[1] = {CM}, b2d[1] = {CO};
    av_nn__tid x = av_nn__add_tensor(g, "x", AV_NN_F32, 4, xd, NULL, false);
    CHECK(x >= 0 && av_nn__mark_input(g, x) >= 0);
    av_nn__tid h1 = av_nn__add_tensor(g, "h1", AV_NN_F32, -1, NULL, NULL, false);
    av_nn__tid h2 = av_nn__add_tensor(g, "h2", AV_NN_F32, -1, NULL, NULL, false);
    av_nn__tid y = av_nn__add_tensor(g, "y", AV_NN_F32, -1, NULL, NULL, false);
    CHECK(h1 >= 0 && h2 >= 0 && y >= 0 && av_nn__mark_output(g, y) >= 0);
    av_nn__params p = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                .padding = AV_NN_PAD_EXPLICIT, .groups = 1, .pad_top = 1,
                                .pad_bottom = 1, .pad_left = 1, .pad_right = 1}};
    av_nn__tid in1[3] = {
        x, nf_konst_named(g, "w1", AV_NN_F32, w1d, 4, -0.2f, 0.2f),
        nf_konst_named(g, "b1", AV_NN_F32, b1d, 1, -0.2f, 0.2f)};
    CHECK(av_nn__add_node(g, AV_NN_OP_CONV2D, "c1", in1, 3, &h1, 1, &p) >= 0);
    p.conv.act = nf_act(AV_NN_ACT_RELU);
    p.conv.pad_top = p.conv.pad_bottom = p.conv.pad_left = p.conv.pad_right = 0;
    av_nn__tid in2[3] = {
        h1, nf_konst_named(g, "w2", AV_NN_F32, w2d, 4, -0.2f, 0.2f),
        nf_konst_named(g, "b2", AV_NN_F32, b2d, 1, -0.2f, 0.2f)};
    CHECK(av_nn__add_node(g, AV_NN_OP_CONV2D, "c2", in2, 3, &h2, 1, &p) >= 0);
    p.conv.stride_h = p.conv.stride_w = 2, p.conv.pad_bottom = p.conv.pad_right = 1;
    av_nn__tid in3[2] = {
        h2, nf_konst_named(g, "w3", AV_NN_F32, w3d, 4, -0.2f, 0.2f)};
    CHECK(av_nn__add_node(g, AV_NN_OP_CONV2D, "c3", in3, 2, &y, 1, &p) >= 0);
    return nf_model(g);
}

static const av_nn__tensor *tensor(const av_nn_model *m, const char *name)
{
    for (int t = 0; t < m->g->n_tensors; t++)
        if (m->g->tensors[t].name && strcmp(m->g->tensors[t].name, name) == 0)
            return &m->g->tensors[t];
    CHECK_MSG(0, "no tensor %s", name);
    return NULL;
}

static float *copy_of(const av_nn__tensor *t)
{
    size_t nb = (size_t)av_nn__nbytes(t);
    float *c = malloc(nb);
    CHECK(c);
    memcpy(c, t->data, nb);
    return c;
}

static bool same_data(const av_nn__tensor *t, const float *want)
{
    return !t->released && memcmp(t->data, want, (size_t)av_nn__nbytes(t)) == 0;
}

enum { NX = H * H * CI, NY = (H / 2) * (H / 2) * CO };
enum { W2_BYTES = CO * CM * 4, W3_BYTES = CO * 9 * CO * 4 };

static float x[2 * NX];

static void input(void)
{
    for (int i = 0; i < NX; i++)
        x[i] = x[NX + i] = nf_frand(-1.0f, 1.0f);
}

static void near(const float *got, const float *want, const char *what)
{
    double worst = 0, big = 0;
    for (int i = 0; i < NY; i++)
        worst = fmax(worst, fabs((double)got[i] - want[i])), big = fmax(big, fabs((double)want[i]));
    CHECK_MSG(worst <= 1e-5 * (big + 1), "%s: max |diff| %g of max %g", what, worst, big);
}

TEST(readers_after_release)
{
    if (!av_nn__xnn_gemm_available())
        return; /* no packed GEMM on this CPU: nothing is ever released */
    input();
    static float ya[NY], yb[NY], yc[2 * NY], yr[NY];
    size_t base = av_nn__xnn_pack_live(NULL);
    av_nn_model *m = three_conv_model();
    float *w1 = copy_of(tensor(m, "w1")), *w2 = copy_of(tensor(m, "w2"));
    float *w3 = copy_of(tensor(m, "w3"));
    av_nn_model_release_packed(m, 1);
    av_nn_ctx *a = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 1, 0);
    /* the GEMM layers' f32 copies are gone; Winograd's stays (not exactly invertible) */
    CHECK_EQ_INT(av_nn_model_released_bytes(m), W2_BYTES + W3_BYTES);
    CHECK(tensor(m, "w2")->released && tensor(m, "w3")->released);
    CHECK(same_data(tensor(m, "w1"), w1));
    size_t packs = av_nn__xnn_pack_live(NULL);
    nf_run(a, x, ya);
    /* contexts made after the release share the packed copy: same bits */
    av_nn_ctx *b = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 2, 0);
    av_nn_ctx *c = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 1, 2);
    CHECK_EQ_INT(av_nn__xnn_pack_live(NULL), packs);
    nf_run(b, x, yb);
    nf_run(c, x, yc);
    CHECK(memcmp(ya, yb, sizeof ya) == 0);
    CHECK(memcmp(ya, yc, sizeof ya) == 0 && memcmp(ya, yc + NY, sizeof ya) == 0);
    /* the reference backend reads the graph: the weights come back, bit for bit */
    av_nn_ctx *ref = nf_ctx(m, AV_NN_BACKEND_REFERENCE, 1, 0);
    CHECK_EQ_INT(av_nn_model_released_bytes(m), 0);
    CHECK(same_data(tensor(m, "w2"), w2) && same_data(tensor(m, "w3"), w3));
    nf_run(ref, x, yr);
    near(ya, yr, "xnn vs reference");
    /* no release while a context reads them from the graph; contexts still share */
    av_nn_ctx *d = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 1, 0);
    CHECK_EQ_INT(av_nn_model_released_bytes(m), 0);
    CHECK_EQ_INT(av_nn__xnn_pack_live(NULL), packs);
    av_nn_ctx_free(ref);
    nf_run(ref = nf_ctx(m, AV_NN_BACKEND_REFERENCE, 2, 0), x, yr); /* restored: nothing to do */
    near(ya, yr, "reference, 2 threads");
    av_nn_ctx_free(ref);
    /* the next context releases again, and still shares */
    av_nn_ctx *e = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 1, 0);
    CHECK_EQ_INT(av_nn_model_released_bytes(m), W2_BYTES + W3_BYTES);
    CHECK_EQ_INT(av_nn__xnn_pack_live(NULL), packs);
    nf_run(e, x, yb);
    CHECK(memcmp(ya, yb, sizeof ya) == 0);
    /* the first context, across all that, still runs its packs */
    av_nn_ctx_free(b);
    av_nn_ctx_free(c);
    av_nn_ctx_free(d);
    nf_run(a, x, yb);
    CHECK(memcmp(ya, yb, sizeof ya) == 0);
    av_nn_ctx_free(a);
    av_nn_ctx_free(e);
    /* the model holds the released layers' packs until it is freed */
    CHECK(av_nn__xnn_pack_live(NULL) > base);
    av_nn_model_free(m);
    CHECK_EQ_INT(av_nn__xnn_pack_live(NULL), base);
    free(w1), free(w2), free(w3);
}

/* x [1,H,H,CI] -> 1x1 conv to 4 channels (the GEMM's narrow pointwise mode,
 * which keeps its own copy of the weights) -> y. */
static av_nn_model *narrow_model(void)
{
    nf_reseed(11);
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {1, H, H, CI}, wd[4] = {4, 1, 1, CI}, bd[1] = {4};
    av_nn__tid x = av_nn__add_tensor(g, "x", AV_NN_F32, 4, xd, NULL, false);
    av_nn__tid y = av_nn__add_tensor(g, "y", AV_NN_F32, -1, NULL, NULL, false);
    CHECK(x >= 0 && y >= 0 && av_nn__mark_input(g, x) >= 0 && av_nn__mark_output(g, y) >= 0);
    av_nn__params p = {.conv = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                                .padding = AV_NN_PAD_EXPLICIT, .groups = 1}};
    av_nn__tid in[3] = {x,
                        nf_konst_named(g, "w", AV_NN_F32, wd, 4, -0.2f, 0.2f),
                        nf_konst_named(g, "b", AV_NN_F32, bd, 1, -0.2f, 0.2f)};
    CHECK(av_nn__add_node(g, AV_NN_OP_CONV2D, "c", in, 3, &y, 1, &p) >= 0);
    return nf_model(g);
}

/* A context made after the release builds its narrow weights from the shared
 * pack, not from the freed f32 copy (CenterNet's box head; a second pipeline
 * worker read freed memory before): the same bits as the first context. */
TEST(narrow_pointwise_after_release)
{
    if (!av_nn__xnn_gemm_available())
        return;
    input();
    static float ya[H * H * 4], yb[H * H * 4];
    av_nn_model *m = narrow_model();
    av_nn_model_release_packed(m, 1);
    av_nn_ctx *a = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 1, 0);
    CHECK(tensor(m, "w")->released);
    av_nn_ctx *b = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 2, 0);
    char err[256] = "";
    const void *in[1] = {x};
    void *out[1] = {ya};
    CHECK_MSG(av_nn_run(a, in, out, err, sizeof err) == AV_NN_OK, "run: %s", err);
    out[0] = yb;
    CHECK_MSG(av_nn_run(b, in, out, err, sizeof err) == AV_NN_OK, "run: %s", err);
    CHECK(memcmp(ya, yb, sizeof ya) == 0);
    av_nn_ctx_free(a);
    av_nn_ctx_free(b);
    av_nn_model_free(m);
}

TEST(other_kernel_after_release)
{
    if (!av_nn__xnn_gemm_available())
        return;
    input();
    static float ya[NY], yb[NY];
    av_nn_model *m = three_conv_model();
    float *w2 = copy_of(tensor(m, "w2"));
    av_nn_model_release_packed(m, 1);
    av_nn_ctx *a = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 1, 0);
    nf_run(a, x, ya);
    CHECK(tensor(m, "w2")->released);
    /* a CPU where XNNPACK's convolution runs: it reads the weights back */
    av_nn__xnn_gemm_force_off(true);
    av_nn_ctx *b = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 1, 0);
    av_nn__xnn_gemm_force_off(false);
    CHECK(same_data(tensor(m, "w2"), w2));
    CHECK_EQ_INT(av_nn_model_released_bytes(m), 0);
    nf_run(b, x, yb);
    near(yb, ya, "XNNPACK's convolution vs the packed GEMM");
    av_nn_ctx_free(a);
    av_nn_ctx_free(b);
    av_nn_model_free(m);
    free(w2);
}

TEST(find_tensor_and_quantize_read_back)
{
    if (!av_nn__xnn_gemm_available())
        return;
    av_nn_model *m = three_conv_model();
    float *w2 = copy_of(tensor(m, "w2")), *w3 = copy_of(tensor(m, "w3"));
    av_nn_model_release_packed(m, 1);
    av_nn_ctx *a = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 1, 0);
    CHECK(tensor(m, "w2")->released && tensor(m, "w3")->released);
    /* a pointer handed out is the f32 weights, and stays: w2 is never released again */
    char err[256] = "";
    av_nn_tensor_info info;
    const void *data = NULL;
    CHECK_MSG(av_nn_find_tensor(m, "w2", &info, &data, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK(data && memcmp(data, w2, W2_BYTES) == 0);
    CHECK_EQ_INT(av_nn_model_released_bytes(m), W3_BYTES);
    av_nn_ctx_free(a);
    a = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 1, 0);
    CHECK(!tensor(m, "w2")->released && tensor(m, "w3")->released);
    CHECK(memcmp(data, w2, W2_BYTES) == 0);
    av_nn_ctx_free(a);
    /* the quantiser reads every weight back before anything else (here its
     * table does not exist: it fails after that) */
    av_nn_status st = av_nn_model_quantize(m, "/nonexistent/t_nn_release.calib", NULL, err,
                                           sizeof err);
    CHECK(st != AV_NN_OK);
    CHECK_EQ_INT(av_nn_model_released_bytes(m), 0);
    CHECK(same_data(tensor(m, "w3"), w3));
    av_nn_model_free(m);
    free(w2), free(w3);
}

TEST(nothing_released_unless_asked)
{
    if (!av_nn__xnn_gemm_available())
        return;
    av_nn_model *m = three_conv_model();
    float *w2 = copy_of(tensor(m, "w2"));
    av_nn_ctx *a = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 1, 0);
    CHECK_EQ_INT(av_nn_model_released_bytes(m), 0);
    CHECK(same_data(tensor(m, "w2"), w2));
    av_nn_ctx_free(a);
    /* asked while a reference context lives: nothing either */
    av_nn_ctx *ref = nf_ctx(m, AV_NN_BACKEND_REFERENCE, 1, 0);
    av_nn_model_release_packed(m, 1);
    a = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 1, 0);
    CHECK_EQ_INT(av_nn_model_released_bytes(m), 0);
    av_nn_ctx_free(a);
    av_nn_ctx_free(ref);
    av_nn_model_free(m);
    free(w2);
}

TEST_MAIN(T(readers_after_release), T(narrow_pointwise_after_release), T(other_kernel_after_release),
          T(find_tensor_and_quantize_read_back), T(nothing_released_unless_asked))
