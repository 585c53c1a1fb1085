/*
 * t_nn_ir_passes.c - the graph rewrite passes, each checked numerically
 * against an unoptimised run of the same graph, and the runtime on the
 * XNNPACK backend against the reference on the same graphs.
 */
#include "nn_test_util.h"

#include <math.h>
#include <stdbool.h>

/* ---- rewrite passes: optimised run vs unoptimised interpretation ---- */

typedef void (*builder)(av_nn__graph *g);

/* Builds the graph twice; returns the number of nodes left after finalize. */
static int compare_passes(builder build, int64_t n_in, int64_t n_out, double tol)
{
    float *x = malloc((size_t)n_in * sizeof *x), *y0 = malloc((size_t)n_out * sizeof *y0);
    float *y1 = malloc((size_t)n_out * sizeof *y1);
    CHECK(x && y0 && y1);
    tt_fill(x, n_in, 42, -2, 2);
    const void *ins[1] = {x};
    void *o0[1] = {y0}, *o1[1] = {y1};
    av_nn__graph *g0 = av_nn__graph_new();
    build(g0);
    tt_interpret(g0, ins, o0);
    int before = 0;
    for (int i = 0; i < g0->n_nodes; i++)
        before++;
    av_nn__graph_free(g0);
    av_nn__graph *g1 = av_nn__graph_new();
    build(g1);
    char err[256];
    CHECK_MSG(av_nn__graph_finalize(g1, err, sizeof err) == AV_NN_OK, "%s", err);
    int after = g1->n_order;
    /* run the finalized graph through the public runtime */
    av_nn_model *m;
    CHECK(av_nn__model_from_graph(g1, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) == 0);
    av_nn_ctx_opts o = {.backend = AV_NN_BACKEND_REFERENCE};
    av_nn_ctx *c;
    CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_MSG(av_nn_run(c, ins, o1, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn_ctx_free(c);
    av_nn_model_free(m);
    double d = tt_max_diff(y0, y1, n_out);
    CHECK_MSG(d <= tol, "optimised output differs by %g (nodes %d -> %d)", d, before, after);
    free(x), free(y0), free(y1);
    return after;
}

static av_nn__tid rand_const(av_nn__graph *g, const char *name, int rank, const int64_t *dims,
                             uint32_t seed, float lo, float hi)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    float *v = malloc((size_t)n * sizeof *v);
    CHECK(v);
    tt_fill(v, n, seed, lo, hi);
    av_nn__tid t = av_nn__add_tensor(g, name, AV_NN_F32, rank, dims, v, true);
    CHECK(t >= 0);
    return t;
}

/* x [1,6,6,3] -> conv 3x3 (bias) -> batch_norm -> relu6 */
static void build_conv_bn_relu6(av_nn__graph *g)
{
    int64_t xd[4] = {1, 6, 6, 3}, wd[4] = {4, 3, 3, 3}, cd[1] = {4};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid in[3] = {x, rand_const(g, "w", 4, wd, 1, -1, 1),
                        rand_const(g, "b", 1, cd, 2, -1, 1)};
    av_nn__tid c = tt_act(g, "conv", AV_NN_F32, -1, NULL),
               bn = tt_act(g, "bn", AV_NN_F32, -1, NULL);
    av_nn__tid y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pc = {.conv = {.padding = AV_NN_PAD_SAME}};
    tt_node(g, AV_NN_OP_CONV2D, "conv", in, 3, &c, 1, &pc);
    av_nn__tid bin[5] = {
        c, rand_const(g, "scale", 1, cd, 3, 0.5f, 2), rand_const(g, "offset", 1, cd, 4, -1, 1),
        rand_const(g, "mean", 1, cd, 5, -1, 1), rand_const(g, "var", 1, cd, 6, 0.1f, 2)};
    av_nn__params pb = {.bn = {.epsilon = 1e-3f}};
    tt_node(g, AV_NN_OP_BATCH_NORM, "bn", bin, 5, &bn, 1, &pb);
    av_nn__params pr = {.clamp = {.min = 0, .max = 6}};
    tt_node(g, AV_NN_OP_CLAMP, "relu6", &bn, 1, &y, 1, &pr);
    av_nn__mark_output(g, y);
}

TEST(pass_conv_bn_relu6)
{
    CHECK_EQ_INT(compare_passes(build_conv_bn_relu6, 108, 144, 1e-5), 1);
}

/* x -> depthwise (no bias) -> mul [1,1,1,C] const -> add [C] const -> leaky relu */
static void build_dw_mul_add_leaky(av_nn__graph *g)
{
    int64_t xd[4] = {1, 5, 5, 4}, wd[4] = {1, 3, 3, 8}, md[4] = {1, 1, 1, 8}, ad[1] = {8};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid in[2] = {x, rand_const(g, "w", 4, wd, 7, -1, 1)};
    av_nn__tid c = tt_act(g, "dw", AV_NN_F32, -1, NULL), m = tt_act(g, "m", AV_NN_F32, -1, NULL);
    av_nn__tid a = tt_act(g, "a", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pc = {.conv = {.padding = AV_NN_PAD_SAME, .stride_h = 2, .stride_w = 2}};
    tt_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw", in, 2, &c, 1, &pc);
    av_nn__params pm = {.binary = {.kind = AV_NN_BIN_MUL}};
    av_nn__tid mi[2] = {rand_const(g, "scale", 4, md, 8, -2, 2), c};
    tt_node(g, AV_NN_OP_BINARY, "mul", mi, 2, &m, 1, &pm);
    av_nn__params pa = {.binary = {.kind = AV_NN_BIN_ADD}};
    av_nn__tid ai[2] = {m, rand_const(g, "shift", 1, ad, 9, -1, 1)};
    tt_node(g, AV_NN_OP_BINARY, "add", ai, 2, &a, 1, &pa);
    av_nn__params pl = {.leaky = {.alpha = 0.1f}};
    tt_node(g, AV_NN_OP_LEAKY_RELU, "leaky", &a, 1, &y, 1, &pl);
    av_nn__mark_output(g, y);
}

TEST(pass_dw_mul_add_leaky)
{
    CHECK_EQ_INT(compare_passes(build_dw_mul_add_leaky, 100, 72, 1e-5), 1);
}

/* fc (no bias) -> add bias [N] -> sigmoid; plus a binary add + relu after it */
static void build_fc_sigmoid_add_relu(av_nn__graph *g)
{
    int64_t xd[2] = {2, 6}, wd[2] = {5, 6}, bd[1] = {5}, kd[2] = {1, 5};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 2, xd);
    av_nn__tid in[2] = {x, rand_const(g, "w", 2, wd, 10, -1, 1)};
    av_nn__tid f = tt_act(g, "fc", AV_NN_F32, -1, NULL), fb = tt_act(g, "fb", AV_NN_F32, -1, NULL);
    av_nn__tid s = tt_act(g, "sig", AV_NN_F32, -1, NULL), a = tt_act(g, "a", AV_NN_F32, -1, NULL);
    av_nn__tid y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    tt_node(g, AV_NN_OP_FULLY_CONNECTED, "fc", in, 2, &f, 1, NULL);
    av_nn__params pa = {.binary = {.kind = AV_NN_BIN_ADD}};
    av_nn__tid bi[2] = {f, rand_const(g, "bias", 1, bd, 11, -1, 1)};
    tt_node(g, AV_NN_OP_BINARY, "bias", bi, 2, &fb, 1, &pa);
    av_nn__params ps = {.unary = {.kind = AV_NN_UN_SIGMOID}};
    tt_node(g, AV_NN_OP_UNARY, "sigmoid", &fb, 1, &s, 1, &ps);
    av_nn__tid ai[2] = {s, rand_const(g, "k", 2, kd, 12, -1, 0)};
    tt_node(g, AV_NN_OP_BINARY, "add", ai, 2, &a, 1, &pa);
    av_nn__params pr = {.unary = {.kind = AV_NN_UN_RELU}};
    tt_node(g, AV_NN_OP_UNARY, "relu", &a, 1, &y, 1, &pr);
    av_nn__mark_output(g, y);
}

TEST(pass_fc_bias_sigmoid_binary_relu)
{
    CHECK_EQ_INT(compare_passes(build_fc_sigmoid_add_relu, 12, 10, 1e-6), 2);
}

/* NHWC -> NCHW transpose -> tanh -> NHWC transpose -> identity -> NCHW -> NHWC -> conv 1x1 */
static void build_transposes(av_nn__graph *g)
{
    int64_t xd[4] = {1, 3, 4, 2}, wd[4] = {3, 1, 1, 2};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid t1 = tt_act(g, "t1", AV_NN_F32, -1, NULL), u = tt_act(g, "u", AV_NN_F32, -1, NULL);
    av_nn__tid t2 = tt_act(g, "t2", AV_NN_F32, -1, NULL), id = tt_act(g, "id", AV_NN_F32, -1, NULL);
    av_nn__tid t3 = tt_act(g, "t3", AV_NN_F32, -1, NULL), t4 = tt_act(g, "t4", AV_NN_F32, -1, NULL);
    av_nn__tid y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params to_nchw = {.transpose = {.perm = {0, 3, 1, 2}, .rank = 4}};
    av_nn__params to_nhwc = {.transpose = {.perm = {0, 2, 3, 1}, .rank = 4}};
    tt_node(g, AV_NN_OP_TRANSPOSE, "t1", &x, 1, &t1, 1, &to_nchw);
    av_nn__params pt = {.unary = {.kind = AV_NN_UN_TANH}};
    tt_node(g, AV_NN_OP_UNARY, "tanh", &t1, 1, &u, 1, &pt);
    tt_node(g, AV_NN_OP_TRANSPOSE, "t2", &u, 1, &t2, 1, &to_nhwc);
    tt_node(g, AV_NN_OP_IDENTITY, "id", &t2, 1, &id, 1, NULL);
    tt_node(g, AV_NN_OP_TRANSPOSE, "t3", &id, 1, &t3, 1, &to_nchw);
    tt_node(g, AV_NN_OP_TRANSPOSE, "t4", &t3, 1, &t4, 1, &to_nhwc);
    av_nn__tid in[2] = {t4, rand_const(g, "w", 4, wd, 13, -1, 1)};
    av_nn__params pc = {.conv = {.padding = AV_NN_PAD_VALID}};
    tt_node(g, AV_NN_OP_CONV2D, "conv", in, 2, &y, 1, &pc);
    av_nn__mark_output(g, y);
}

/* x * 3 -> TF's hard-swish h * (relu6(h + 3) * (1/6)): becomes one HARDSWISH node
 * (inputs span -6..6, so both clamp bounds are hit). With hs_tfjs, TF.js's
 * MobileNetV3 (CenterNet) form (h * c) * relu6(h + 3), c = 1/6 stored as float16. */
static bool hs_tfjs;

static void build_hardswish(av_nn__graph *g)
{
    int64_t xd[4] = {1, 4, 4, 8}, sd[1] = {1};
    static const float three = 3.0f, sixth = 1.0f / 6, sixth16 = 0.166625977f;
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid h = tt_act(g, "h", AV_NN_F32, -1, NULL), a = tt_act(g, "a", AV_NN_F32, -1, NULL);
    av_nn__tid b = tt_act(g, "b", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__tid c3 = tt_const(g, "three", AV_NN_F32, 0, sd, &three);
    av_nn__tid c6 = tt_const(g, "sixth", AV_NN_F32, 0, sd, hs_tfjs ? &sixth16 : &sixth);
    av_nn__params pm = {.binary = {.kind = AV_NN_BIN_MUL}};
    av_nn__params pa = {.binary = {.kind = AV_NN_BIN_ADD, .act = {.kind = AV_NN_ACT_RELU6}}};
    av_nn__tid i0[2] = {x, c3}, i1[2] = {h, c3}, i2[2] = {c6, hs_tfjs ? h : a},
               i3[2] = {b, hs_tfjs ? a : h};
    tt_node(g, AV_NN_OP_BINARY, "scale", i0, 2, &h, 1, &pm);
    tt_node(g, AV_NN_OP_BINARY, "hs/add", i1, 2, &a, 1, &pa);
    tt_node(g, AV_NN_OP_BINARY, "hs/mul", i2, 2, &b, 1, &pm);
    tt_node(g, AV_NN_OP_BINARY, "hs/mul_1", i3, 2, &y, 1, &pm);
    av_nn__mark_output(g, y);
}

/* conv -> batch-norm-like mul -> x * sigmoid(x) (YOLOX's SiLU), the mul's operands in
 * either order; with silu_extra the conv output is also read by an add, so the
 * SiLU must stay two nodes. */
static bool silu_swap, silu_extra;

static void build_conv_silu(av_nn__graph *g)
{
    int64_t xd[4] = {1, 5, 6, 3}, wd[4] = {4, 3, 3, 3}, cd[1] = {4};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__tid in[3] = {x, rand_const(g, "w", 4, wd, 21, -1, 1),
                        rand_const(g, "b", 1, cd, 22, -1, 1)};
    av_nn__tid c = tt_act(g, "conv", AV_NN_F32, -1, NULL), h = tt_act(g, "h", AV_NN_F32, -1, NULL);
    av_nn__tid s = tt_act(g, "sig", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pc = {.conv = {.padding = AV_NN_PAD_SAME}};
    tt_node(g, AV_NN_OP_CONV2D, "conv", in, 3, &c, 1, &pc);
    av_nn__params pm = {.binary = {.kind = AV_NN_BIN_MUL}};
    av_nn__tid mi[2] = {c, rand_const(g, "scale", 1, cd, 23, 0.5f, 3)};
    tt_node(g, AV_NN_OP_BINARY, "bn", mi, 2, &h, 1, &pm);
    av_nn__params ps = {.unary = {.kind = AV_NN_UN_SIGMOID}};
    tt_node(g, AV_NN_OP_UNARY, "sigmoid", &h, 1, &s, 1, &ps);
    av_nn__tid si[2] = {silu_swap ? s : h, silu_swap ? h : s};
    if (!silu_extra) {
        tt_node(g, AV_NN_OP_BINARY, "silu", si, 2, &y, 1, &pm);
    } else {
        av_nn__tid m = tt_act(g, "m", AV_NN_F32, -1, NULL);
        tt_node(g, AV_NN_OP_BINARY, "silu", si, 2, &m, 1, &pm);
        av_nn__params pa = {.binary = {.kind = AV_NN_BIN_ADD}};
        av_nn__tid ai[2] = {m, h};
        tt_node(g, AV_NN_OP_BINARY, "add", ai, 2, &y, 1, &pa);
    }
    av_nn__mark_output(g, y);
}

TEST(pass_conv_silu)
{
    /* the fusion needs the AVX2/AVX-512 kernel: on a CPU without it conv, sigmoid, mul stay */
    int fused = av_nn__silu_fusion_pays() ? 1 : 3;
    /* inputs span -2..2 and the scale up to 3: both sigmoid branches are taken */
    CHECK_EQ_INT(compare_passes(build_conv_silu, 90, 120, 1e-5), fused);
    silu_swap = true;
    CHECK_EQ_INT(compare_passes(build_conv_silu, 90, 120, 1e-5), fused);
    silu_extra = true;
    CHECK_EQ_INT(compare_passes(build_conv_silu, 90, 120, 1e-5), 4);
}

/* A CPU without AVX2 (forced): the portable SiLU kernel is slower than XNNPACK's sigmoid +
 * multiply, so the pass leaves the pair as two nodes (conv with the folded scale, sigmoid,
 * mul), still equal to the unoptimised graph. */
TEST(pass_conv_silu_no_avx2)
{
    av_nn__silu_force_portable(true);
    CHECK(!av_nn__silu_fusion_pays());
    CHECK_EQ_INT(compare_passes(build_conv_silu, 90, 120, 1e-5), 3);
    av_nn__silu_force_portable(false);
}

/* exp -> identity into the graph output (TF.js names outputs so): exp writes the output */
static void build_identity_output(av_nn__graph *g)
{
    int64_t xd[2] = {4, 32};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 2, xd);
    av_nn__tid h = tt_act(g, "h", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pe = {.unary = {.kind = AV_NN_UN_EXP}};
    tt_node(g, AV_NN_OP_UNARY, "exp", &x, 1, &h, 1, &pe);
    tt_node(g, AV_NN_OP_IDENTITY, "out", &h, 1, &y, 1, NULL);
    av_nn__mark_output(g, y);
}

TEST(pass_identity_into_output)
{
    CHECK_EQ_INT(compare_passes(build_identity_output, 128, 128, 1e-6), 1);
}

TEST(pass_hardswish)
{
    CHECK_EQ_INT(compare_passes(build_hardswish, 128, 128, 1e-5), 2);
    hs_tfjs = true;
    CHECK_EQ_INT(compare_passes(build_hardswish, 128, 128, 1e-5), 2);
}

TEST(pass_transposes_identity)
{
    /* tanh (now on NHWC directly) and conv remain: transposes and identity cancel */
    CHECK_EQ_INT(compare_passes(build_transposes, 24, 36, 1e-6), 2);
}

/*
 * x -> T(NCHW) read by two inverse transposes (both vanish), and x -> T -> T
 * composing to one non-identity transpose (merged), reshaped and added.
 */
static void build_transpose_fanout_merge(av_nn__graph *g)
{
    int64_t xd[4] = {1, 3, 4, 2};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__params to_nchw = {.transpose = {.perm = {0, 3, 1, 2}, .rank = 4}};
    av_nn__params to_nhwc = {.transpose = {.perm = {0, 2, 3, 1}, .rank = 4}};
    av_nn__params swap12 = {.transpose = {.perm = {0, 2, 1, 3}, .rank = 4}};
    av_nn__params swap23 = {.transpose = {.perm = {0, 1, 3, 2}, .rank = 4}};
    av_nn__tid t1 = tt_act(g, "t1", AV_NN_F32, -1, NULL), i1 = tt_act(g, "i1", AV_NN_F32, -1, NULL);
    av_nn__tid i2 = tt_act(g, "i2", AV_NN_F32, -1, NULL), a = tt_act(g, "a", AV_NN_F32, -1, NULL);
    av_nn__tid ta = tt_act(g, "ta", AV_NN_F32, -1, NULL), tb = tt_act(g, "tb", AV_NN_F32, -1, NULL);
    av_nn__tid r = tt_act(g, "r", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    tt_node(g, AV_NN_OP_TRANSPOSE, "t1", &x, 1, &t1, 1, &to_nchw);
    tt_node(g, AV_NN_OP_TRANSPOSE, "i1", &t1, 1, &i1, 1, &to_nhwc);
    tt_node(g, AV_NN_OP_TRANSPOSE, "i2", &t1, 1, &i2, 1, &to_nhwc);
    av_nn__params add = {.binary = {.kind = AV_NN_BIN_ADD}};
    av_nn__tid ai[2] = {i1, i2};
    tt_node(g, AV_NN_OP_BINARY, "a", ai, 2, &a, 1, &add);
    tt_node(g, AV_NN_OP_TRANSPOSE, "ta", &x, 1, &ta, 1, &swap12);
    tt_node(g, AV_NN_OP_TRANSPOSE, "tb", &ta, 1, &tb, 1, &swap23);
    av_nn__params rs = {.reshape = {.rank = 4, .dims = {1, 3, 4, 2}}};
    tt_node(g, AV_NN_OP_RESHAPE, "r", &tb, 1, &r, 1, &rs);
    av_nn__params mul = {.binary = {.kind = AV_NN_BIN_MUL}};
    av_nn__tid yi[2] = {a, r};
    tt_node(g, AV_NN_OP_BINARY, "y", yi, 2, &y, 1, &mul);
    av_nn__mark_output(g, y);
}

TEST(pass_transpose_fanout_and_merge)
{
    CHECK_EQ_INT(compare_passes(build_transpose_fanout_merge, 24, 24, 0), 4);
}

/* T(x) + T(-x) -> T^-1 -> T -> * 2 -> T^-1: binaries run in the original layout */
static void build_binary_sandwich(av_nn__graph *g)
{
    int64_t xd[4] = {1, 3, 4, 2};
    float two = 2;
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd);
    av_nn__params to_nchw = {.transpose = {.perm = {0, 3, 1, 2}, .rank = 4}};
    av_nn__params to_nhwc = {.transpose = {.perm = {0, 2, 3, 1}, .rank = 4}};
    av_nn__tid a = tt_act(g, "a", AV_NN_F32, -1, NULL), u = tt_act(g, "u", AV_NN_F32, -1, NULL);
    av_nn__tid b = tt_act(g, "b", AV_NN_F32, -1, NULL), sum = tt_act(g, "s", AV_NN_F32, -1, NULL);
    av_nn__tid y1 = tt_act(g, "y1", AV_NN_F32, -1, NULL), c = tt_act(g, "c", AV_NN_F32, -1, NULL);
    av_nn__tid d = tt_act(g, "d", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    tt_node(g, AV_NN_OP_TRANSPOSE, "ta", &x, 1, &a, 1, &to_nchw);
    av_nn__params neg = {.unary = {.kind = AV_NN_UN_SQUARE}};
    tt_node(g, AV_NN_OP_UNARY, "sq", &x, 1, &u, 1, &neg);
    tt_node(g, AV_NN_OP_TRANSPOSE, "tb", &u, 1, &b, 1, &to_nchw);
    av_nn__params sub = {.binary = {.kind = AV_NN_BIN_SUB}};
    av_nn__tid si[2] = {a, b};
    tt_node(g, AV_NN_OP_BINARY, "sub", si, 2, &sum, 1, &sub);
    tt_node(g, AV_NN_OP_TRANSPOSE, "t1", &sum, 1, &y1, 1, &to_nhwc);
    tt_node(g, AV_NN_OP_TRANSPOSE, "tc", &y1, 1, &c, 1, &to_nchw);
    av_nn__params div = {.binary = {.kind = AV_NN_BIN_DIV}};
    av_nn__tid di[2] = {tt_const(g, "two", AV_NN_F32, 0, NULL, &two), c};
    tt_node(g, AV_NN_OP_BINARY, "div", di, 2, &d, 1, &div);
    tt_node(g, AV_NN_OP_TRANSPOSE, "t2", &d, 1, &y, 1, &to_nhwc);
    av_nn__mark_output(g, y);
}

TEST(pass_binary_transpose_sandwich)
{
    CHECK_EQ_INT(compare_passes(build_binary_sandwich, 24, 24, 0), 3);
}

/* the intermediate is also a graph output: nothing may fuse into it */
static void build_no_fuse(av_nn__graph *g)
{
    int64_t xd[2] = {1, 4}, wd[2] = {4, 4};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 2, xd);
    av_nn__tid in[2] = {x, rand_const(g, "w", 2, wd, 14, -1, 1)};
    av_nn__tid f = tt_act(g, "fc", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    tt_node(g, AV_NN_OP_FULLY_CONNECTED, "fc", in, 2, &f, 1, NULL);
    av_nn__params pr = {.clamp = {.min = 0, .max = INFINITY}};
    tt_node(g, AV_NN_OP_CLAMP, "relu", &f, 1, &y, 1, &pr);
    av_nn__mark_output(g, y);
    av_nn__mark_output(g, f);
    /* dead branch: nothing reads it */
    av_nn__tid dead = tt_act(g, "dead", AV_NN_F32, -1, NULL);
    av_nn__params pn = {.unary = {.kind = AV_NN_UN_NEG}};
    tt_node(g, AV_NN_OP_UNARY, "unused", &x, 1, &dead, 1, &pn);
}

TEST(pass_no_fuse_into_output_and_dead_removal)
{
    av_nn__graph *g = av_nn__graph_new();
    build_no_fuse(g);
    char err[256];
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_EQ_INT(g->n_order, 2);
    CHECK_STR_EQ(tt_op_label(g, 0), "fully_connected");
    CHECK_STR_EQ(tt_op_label(g, 1), "clamp");
    CHECK_EQ_INT(g->nodes[g->order[0]].p.fc.act.kind, AV_NN_ACT_NONE);
    av_nn__graph_free(g);
}

/*
 * The runtime with the XNNPACK backend (nodes it declines fall back to the
 * reference kernels) gives the reference backend's numbers, with 2 threads.
 */
TEST(runtime_xnnpack_matches_reference)
{
    builder builds[] = {build_conv_bn_relu6, build_dw_mul_add_leaky, build_transposes};
    int64_t n_in[] = {108, 100, 24}, n_out[] = {144, 72, 36};
    for (size_t b = 0; b < sizeof builds / sizeof builds[0]; b++) {
        float x[128], y[2][160];
        tt_fill(x, n_in[b], 5, -2, 2);
        for (int be = 0; be < 2; be++) {
            av_nn__graph *g = av_nn__graph_new();
            builds[b](g);
            char err[256];
            CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
            av_nn_model *m;
            CHECK(av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) == 0);
            av_nn_ctx_opts o = {.threads = 2,
                                .backend = be ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE};
            av_nn_ctx *c;
            CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "%s", err);
            CHECK(av_nn_ctx_arena_bytes(c) > 0);
            const void *ins[1] = {x};
            void *outs[1] = {y[be]};
            for (int rep = 0; rep < 2; rep++) /* a context runs more than once */
                CHECK_MSG(av_nn_run(c, ins, outs, err, sizeof err) == AV_NN_OK, "%s", err);
            av_nn_ctx_free(c);
            av_nn_model_free(m);
        }
        double d = tt_max_diff(y[0], y[1], n_out[b]);
        CHECK_MSG(d <= 1e-4, "graph %zu: xnnpack differs by %g", b, d);
    }
}

TEST_MAIN(T(pass_conv_bn_relu6), T(pass_dw_mul_add_leaky), T(pass_fc_bias_sigmoid_binary_relu),
          T(pass_hardswish), T(pass_conv_silu), T(pass_conv_silu_no_avx2),
          T(pass_identity_into_output), T(pass_transposes_identity),
          T(pass_transpose_fanout_and_merge), T(pass_binary_transpose_sandwich),
          T(pass_no_fuse_into_output_and_dead_removal), T(runtime_xnnpack_matches_reference))
