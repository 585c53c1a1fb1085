/*
 * t_nn_ir.c - graph IR builder limits, shape inference, validation errors
 * (hand-made and random graphs, garbage to the loader) and constant
 * folding. The rewrite passes: t_nn_ir_passes.c; the arena planner:
 * t_nn_ir_planner.c.
 */
#include "nn_test_util.h"

#include <math.h>

TEST(builder_limits_and_tables)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, neg[1] = {-2};
    CHECK_EQ_INT(av_nn__add_tensor(g, "r9", AV_NN_F32, 9, d9, NULL, false), -1);
    CHECK_EQ_INT(av_nn__add_tensor(g, "neg", AV_NN_F32, 1, neg, NULL, false), -1);
    CHECK_EQ_INT(av_nn__add_tensor(g, "bad", (av_nn_dtype)99, 0, NULL, NULL, false), -1);
    /* an owned constant that cannot be added is freed (ASan checks the leak) */
    int64_t big[3] = {1 << 20, 1 << 20, 1 << 20};
    CHECK_EQ_INT(av_nn__add_tensor(g, "huge", AV_NN_F32, 3, big, malloc(4), true), -1);
    av_nn__tid t = av_nn__add_tensor(g, "huge_act", AV_NN_F32, 3, big, NULL, false);
    CHECK(t >= 0);
    CHECK_EQ_INT(av_nn__numel(&g->tensors[t]), -1); /* overflows AV_NN_MAX_ELEMENTS */
    CHECK_EQ_INT(av_nn__nbytes(&g->tensors[t]), -1);
    int64_t d2[2] = {3, 5};
    av_nn__tid u = av_nn__add_tensor(g, "ok", AV_NN_I64, 2, d2, NULL, false);
    CHECK_EQ_INT(av_nn__nbytes(&g->tensors[u]), 120);
    av_nn__tid s = av_nn__add_tensor(g, "scalar", AV_NN_F16, 0, NULL, NULL, false);
    CHECK_EQ_INT(av_nn__numel(&g->tensors[s]), 1);
    av_nn__tid many[AV_NN_MAX_NODE_INPUTS + 1];
    for (int i = 0; i <= AV_NN_MAX_NODE_INPUTS; i++)
        many[i] = u;
    CHECK_EQ_INT(
        av_nn__add_node(g, AV_NN_OP_CONCAT, "c", many, AV_NN_MAX_NODE_INPUTS + 1, &s, 1, NULL), -1);
    CHECK_EQ_INT(av_nn__add_node(g, AV_NN_OP_CONCAT, "c", many, 2, &s, 0, NULL), -1);
    CHECK_EQ_INT(av_nn__add_node(g, AV_NN_OP_COUNT, "c", many, 2, &s, 1, NULL), -1);
    CHECK_EQ_INT(av_nn__mark_input(g, 12345), -1);
    av_nn__graph_free(g);
    CHECK_STR_EQ(av_nn__op_name(AV_NN_OP_CONV2D), "conv2d");
    CHECK_STR_EQ(av_nn__op_name(AV_NN_OP_IDENTITY), "identity");
    CHECK_STR_EQ(av_nn__op_name(AV_NN_OP_COUNT), "?");
    CHECK_STR_EQ(av_nn_strerror(AV_NN_E_LIMIT), "model exceeds a size limit");
    CHECK_STR_EQ(av_nn_strerror((av_nn_status)77), "unknown status");
    CHECK_STR_EQ(av_nn_dtype_name(AV_NN_BOOL), "bool");
    CHECK_EQ_INT(av_nn_dtype_size(AV_NN_I64), 8);
    CHECK_EQ_INT(av_nn_dtype_size(AV_NN_F16), 2);
}

TEST(f16_conversion)
{
    float vals[] = {0.0f, 1.0f, -2.5f, 65504.0f, 0.333251953125f, 6.103515625e-05f, 5.9604645e-08f};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        CHECK_NEAR(av_nn__f16_to_f32(av_nn__f32_to_f16(vals[i])), vals[i], 0);
    CHECK_EQ_INT(av_nn__f32_to_f16(1.0f), 0x3c00);
    CHECK_EQ_INT(av_nn__f32_to_f16(65520.0f), 0x7c00);           /* rounds to inf */
    CHECK_EQ_INT(av_nn__f32_to_f16(1.0f + 1.0f / 2048), 0x3c00); /* tie to even */
    CHECK_EQ_INT(av_nn__f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);
    CHECK(isnan(av_nn__f16_to_f32(0x7e00)));
    CHECK_NEAR(av_nn__f16_to_f32(0xc000), -2.0, 0);
}

/* Build x -> op -> y with the given input shapes, finalize, return the graph (or NULL + err). */
static av_nn__graph *one_op(av_nn__op op, const av_nn__params *p, int n_in, const int *ranks,
                            const int64_t (*dims)[AV_NN_MAX_RANK], av_nn_status *st, char *err,
                            size_t errlen)
{
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid in[8];
    for (int i = 0; i < n_in; i++) {
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        in[i] = tt_input(g, name, AV_NN_F32, ranks[i], dims[i]);
    }
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    tt_node(g, op, "n1", in, n_in, &out, 1, p);
    av_nn__mark_output(g, out);
    *st = av_nn__graph_finalize(g, err, errlen);
    return g;
}

static void check_dims(const av_nn__tensor *t, int rank, const int64_t *want)
{
    CHECK_EQ_INT(t->rank, rank);
    for (int i = 0; i < rank; i++)
        CHECK_MSG(t->dims[i] == want[i], "dim %d: %lld != %lld", i, (long long)t->dims[i],
                  (long long)want[i]);
}

TEST(shape_broadcast)
{
    int ranks[2] = {3, 2};
    int64_t dims[2][AV_NN_MAX_RANK] = {{2, 1, 3}, {4, 1}};
    av_nn__params p = {.binary = {.kind = AV_NN_BIN_ADD}};
    av_nn_status st;
    char err[256] = "";
    av_nn__graph *g = one_op(AV_NN_OP_BINARY, &p, 2, ranks, dims, &st, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "%s", err);
    int64_t want[3] = {2, 4, 3};
    check_dims(&g->tensors[g->outputs[0]], 3, want);
    av_nn__graph_free(g);
    int64_t bad[2][AV_NN_MAX_RANK] = {{2, 3}, {4}};
    int r2[2] = {2, 1};
    g = one_op(AV_NN_OP_BINARY, &p, 2, r2, bad, &st, err, sizeof err);
    CHECK_EQ_INT(st, AV_NN_E_FORMAT);
    CHECK_STR_CONTAINS(err, "node 'n1' (binary)");
    CHECK_STR_CONTAINS(err, "[2,3] and [4] do not broadcast");
    av_nn__graph_free(g);
    /* comparisons yield bool */
    p.binary.kind = AV_NN_BIN_LESS;
    g = one_op(AV_NN_OP_BINARY, &p, 2, ranks, dims, &st, err, sizeof err);
    CHECK(st == AV_NN_OK);
    CHECK_EQ_INT(g->tensors[g->outputs[0]].dtype, AV_NN_BOOL);
    av_nn__graph_free(g);
}

/* conv on x [1,h,w,3] with filter [8,3,3,3], stride 2; returns the resolved params. */
static av_nn__conv_params conv_shape(int64_t h, int64_t w, av_nn__padding pad, int64_t *oh,
                                     int64_t *ow)
{
    av_nn__graph *g = av_nn__graph_new();
    int64_t xd[4] = {1, h, w, 3}, wd[4] = {8, 3, 3, 3};
    float wt[8 * 27] = {0};
    av_nn__tid in[2] = {tt_input(g, "x", AV_NN_F32, 4, xd), tt_const(g, "w", AV_NN_F32, 4, wd, wt)};
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params p = {.conv = {.padding = pad, .stride_h = 2, .stride_w = 2}};
    int k = tt_node(g, AV_NN_OP_CONV2D, "c", in, 2, &out, 1, &p);
    av_nn__mark_output(g, out);
    char err[256];
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    *oh = g->tensors[out].dims[1];
    *ow = g->tensors[out].dims[2];
    CHECK_EQ_INT(g->tensors[out].dims[3], 8);
    av_nn__conv_params r = g->nodes[k].p.conv;
    av_nn__graph_free(g);
    return r;
}

TEST(shape_conv_padding)
{
    int64_t oh, ow;
    av_nn__conv_params p = conv_shape(8, 7, AV_NN_PAD_SAME, &oh, &ow);
    CHECK_EQ_INT(oh, 4);
    CHECK_EQ_INT(ow, 4);
    CHECK_EQ_INT(p.pad_top, 0); /* total 1: TF puts the odd pixel at the bottom */
    CHECK_EQ_INT(p.pad_bottom, 1);
    CHECK_EQ_INT(p.pad_left, 1); /* width 7: total 2 */
    CHECK_EQ_INT(p.pad_right, 1);
    CHECK_EQ_INT(p.padding, AV_NN_PAD_EXPLICIT);
    p = conv_shape(8, 7, AV_NN_PAD_SAME_LOWER, &oh, &ow);
    CHECK_EQ_INT(p.pad_top, 1);
    CHECK_EQ_INT(p.pad_bottom, 0);
    p = conv_shape(8, 7, AV_NN_PAD_VALID, &oh, &ow);
    CHECK_EQ_INT(oh, 3);
    CHECK_EQ_INT(ow, 3);
    /* channel mismatch is an error naming the node */
    av_nn__graph *g = av_nn__graph_new();
    int64_t xd[4] = {1, 4, 4, 3}, wd[4] = {2, 1, 1, 4};
    float wt[8] = {0};
    av_nn__tid in[2] = {tt_input(g, "x", AV_NN_F32, 4, xd), tt_const(g, "w", AV_NN_F32, 4, wd, wt)};
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pp = {.conv = {.padding = AV_NN_PAD_VALID}};
    tt_node(g, AV_NN_OP_CONV2D, "conv_3", in, 2, &out, 1, &pp);
    av_nn__mark_output(g, out);
    char err[256];
    CHECK_EQ_INT(av_nn__graph_finalize(g, err, sizeof err), AV_NN_E_FORMAT);
    CHECK_STR_CONTAINS(err, "node 'conv_3' (conv2d): input channels 3 != filter 4");
    av_nn__graph_free(g);
}

TEST(shape_pool_ceil_mode)
{
    int ranks[1] = {4};
    int64_t dims[1][AV_NN_MAX_RANK] = {{1, 6, 6, 2}};
    av_nn__params p = {.pool = {.filter_h = 3, .filter_w = 3, .stride_h = 2, .stride_w = 2}};
    av_nn_status st;
    char err[256];
    av_nn__graph *g = one_op(AV_NN_OP_MAX_POOL2D, &p, 1, ranks, dims, &st, err, sizeof err);
    CHECK(st == AV_NN_OK);
    CHECK_EQ_INT(g->tensors[g->outputs[0]].dims[1], 2);
    av_nn__graph_free(g);
    p.pool.ceil_mode = true;
    g = one_op(AV_NN_OP_MAX_POOL2D, &p, 1, ranks, dims, &st, err, sizeof err);
    CHECK(st == AV_NN_OK);
    CHECK_EQ_INT(g->tensors[g->outputs[0]].dims[1], 3);
    av_nn__graph_free(g);
}

/* TF StridedSlice on x [4,5,6] with constant begin/end/strides; returns output dims. */
static int tf_slice_shape(const int32_t *b, const int32_t *e, const int32_t *s, int n,
                          av_nn__slice_params sp, int64_t *od)
{
    int64_t xd[3] = {4, 5, 6};
    av_nn__tid out;
    av_nn__graph *g = tt_tf_strided_slice(3, xd, b, e, s, n, sp, &out);
    char err[256];
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    int r = g->tensors[out].rank;
    memcpy(od, g->tensors[out].dims, sizeof(int64_t) * (size_t)r);
    av_nn__graph_free(g);
    return r;
}

TEST(shape_strided_slice_masks)
{
    int64_t od[AV_NN_MAX_RANK];
    /* begin/end masks and a negative stride */
    int32_t b1[3] = {1, 3, -1}, e1[3] = {3, 0, 0}, s1[3] = {1, 1, -1};
    int r =
        tf_slice_shape(b1, e1, s1, 3, (av_nn__slice_params){.begin_mask = 2, .end_mask = 6}, od);
    int64_t w1[3] = {2, 5, 6};
    CHECK_EQ_INT(r, 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(od[i], w1[i]);
    /* x[..., newaxis, 2]: ellipsis covers two axes, new axis, shrink the last */
    int32_t b2[3] = {0, 0, 2}, e2[3] = {0, 0, 3}, s2[3] = {1, 1, 1};
    r = tf_slice_shape(
        b2, e2, s2, 3,
        (av_nn__slice_params){.ellipsis_mask = 1, .new_axis_mask = 2, .shrink_axis_mask = 4}, od);
    int64_t w2[3] = {4, 5, 1};
    CHECK_EQ_INT(r, 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(od[i], w2[i]);
    /* x[1:-1:2] with the trailing axes implicit; out of range ends clamp */
    int32_t b3[1] = {1}, e3[1] = {100}, s3[1] = {2};
    r = tf_slice_shape(b3, e3, s3, 1, (av_nn__slice_params){0}, od);
    int64_t w3[3] = {2, 5, 6};
    CHECK_EQ_INT(r, 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(od[i], w3[i]);
}

TEST(shape_reshape_infer)
{
    int ranks[1] = {3};
    int64_t dims[1][AV_NN_MAX_RANK] = {{2, 3, 4}};
    av_nn_status st;
    char err[256];
    av_nn__params p = {.reshape = {.rank = 2, .dims = {-1, 4}}};
    av_nn__graph *g = one_op(AV_NN_OP_RESHAPE, &p, 1, ranks, dims, &st, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "%s", err);
    int64_t w1[2] = {6, 4};
    check_dims(&g->tensors[g->outputs[0]], 2, w1);
    av_nn__graph_free(g);
    p.reshape = (av_nn__reshape_params){.rank = 2, .dims = {0, -1}}; /* ONNX 0 copies */
    g = one_op(AV_NN_OP_RESHAPE, &p, 1, ranks, dims, &st, err, sizeof err);
    CHECK(st == AV_NN_OK);
    int64_t w2[2] = {2, 12};
    check_dims(&g->tensors[g->outputs[0]], 2, w2);
    av_nn__graph_free(g);
    p.reshape = (av_nn__reshape_params){.rank = 2, .dims = {-1, -1}};
    g = one_op(AV_NN_OP_RESHAPE, &p, 1, ranks, dims, &st, err, sizeof err);
    CHECK_EQ_INT(st, AV_NN_E_FORMAT);
    CHECK_STR_CONTAINS(err, "more than one -1");
    av_nn__graph_free(g);
    p.reshape = (av_nn__reshape_params){.rank = 2, .dims = {5, -1}};
    g = one_op(AV_NN_OP_RESHAPE, &p, 1, ranks, dims, &st, err, sizeof err);
    CHECK_EQ_INT(st, AV_NN_E_FORMAT);
    av_nn__graph_free(g);
    /* shape from a constant input, ONNX pads [2*rank] */
    g = av_nn__graph_new();
    int64_t xd[2] = {2, 3}, sd[1] = {4};
    int64_t pads[4] = {0, 1, 2, 3};
    av_nn__tid in[2] = {tt_input(g, "x", AV_NN_F32, 2, xd),
                        tt_const(g, "p", AV_NN_I64, 1, sd, pads)};
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    tt_node(g, AV_NN_OP_PAD, "pad", in, 2, &out, 1, NULL);
    av_nn__mark_output(g, out);
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    int64_t w3[2] = {4, 7};
    check_dims(&g->tensors[out], 2, w3);
    av_nn__graph_free(g);
}

/* ONNX Slice on x [10] with constant starts/ends/steps; returns the output length or -1. */
static int64_t onnx_slice_len(int64_t start, int64_t end, int64_t step)
{
    av_nn__graph *g = av_nn__graph_new();
    int64_t xd[1] = {10}, one[1] = {1};
    av_nn__tid in[5] = {
        tt_input(g, "x", AV_NN_F32, 1, xd), tt_const(g, "s", AV_NN_I64, 1, one, &start),
        tt_const(g, "e", AV_NN_I64, 1, one, &end), -1, tt_const(g, "st", AV_NN_I64, 1, one, &step)};
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    tt_node(g, AV_NN_OP_SLICE, "slice", in, 5, &out, 1, NULL);
    av_nn__mark_output(g, out);
    char err[256];
    int64_t r =
        av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK ? g->tensors[out].dims[0] : -1;
    av_nn__graph_free(g);
    return r;
}

TEST(hostile_params_are_errors)
{
    CHECK_EQ_INT(onnx_slice_len(0, INT64_MAX, INT64_MAX), 1);
    CHECK_EQ_INT(onnx_slice_len(-1, INT64_MIN, INT64_MIN), 1);
    CHECK_EQ_INT(onnx_slice_len(INT64_MIN, INT64_MAX, 3), 4);
    CHECK_EQ_INT(onnx_slice_len(2, 8, 0), -1);
    char err[256];
    int64_t xd[4] = {1, 8, 8, 2}, wd[4] = {2, 3, 3, 2};
    float wt[36] = {0};
    av_nn__params bad[3] = {{.conv = {.stride_h = 1 << 20, .padding = AV_NN_PAD_SAME}},
                            {.conv = {.dilation_w = INT32_MAX}},
                            {.conv = {.pad_top = -5}}};
    for (int i = 0; i < 3; i++) {
        av_nn__graph *g = av_nn__graph_new();
        av_nn__tid in[2] = {tt_input(g, "x", AV_NN_F32, 4, xd),
                            tt_const(g, "w", AV_NN_F32, 4, wd, wt)};
        av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
        tt_node(g, i == 1 ? AV_NN_OP_TRANSPOSE_CONV2D : AV_NN_OP_CONV2D, "c", in, 2, &out, 1,
                &bad[i]);
        av_nn__mark_output(g, out);
        CHECK_EQ_INT(av_nn__graph_finalize(g, err, sizeof err), AV_NN_E_FORMAT);
        av_nn__graph_free(g);
    }
    /* reflect padding may not crop; a graph input may not be a constant */
    int ranks[1] = {1};
    int64_t dims[1][AV_NN_MAX_RANK] = {{5}};
    av_nn__params pp = {.pad = {.mode = AV_NN_PADMODE_REFLECT, .before = {-2}, .after = {1}}};
    av_nn_status st;
    av_nn__graph *g = one_op(AV_NN_OP_PAD, &pp, 1, ranks, dims, &st, err, sizeof err);
    CHECK_EQ_INT(st, AV_NN_E_FORMAT);
    av_nn__graph_free(g);
    g = av_nn__graph_new();
    float v[5] = {0};
    av_nn__tid c = tt_const(g, "c", AV_NN_F32, 1, dims[0], v),
               y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__mark_input(g, c);
    tt_node(g, AV_NN_OP_UNARY, "u", &c, 1, &y, 1, NULL);
    av_nn__mark_output(g, y);
    CHECK_EQ_INT(av_nn__graph_finalize(g, err, sizeof err), AV_NN_E_FORMAT);
    CHECK_STR_CONTAINS(err, "graph input 'c' is a constant");
    av_nn__graph_free(g);
}

TEST(cycle_and_undefined_errors)
{
    char err[256];
    int64_t d[1] = {4};
    /* a -> relu -> b -> relu -> a */
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 1, d);
    av_nn__tid a = tt_act(g, "a", AV_NN_F32, -1, NULL), b = tt_act(g, "b", AV_NN_F32, -1, NULL);
    av_nn__tid ab[2] = {x, b};
    av_nn__params p = {.binary = {.kind = AV_NN_BIN_ADD}};
    tt_node(g, AV_NN_OP_BINARY, "loop_a", ab, 2, &a, 1, &p);
    tt_node(g, AV_NN_OP_UNARY, "loop_b", &a, 1, &b, 1, NULL);
    av_nn__mark_output(g, b);
    CHECK_EQ_INT(av_nn__graph_finalize(g, err, sizeof err), AV_NN_E_FORMAT);
    CHECK_STR_CONTAINS(err, "cycle");
    CHECK_STR_CONTAINS(err, "loop_");
    av_nn__graph_free(g);
    /* input never produced */
    g = av_nn__graph_new();
    x = tt_input(g, "x", AV_NN_F32, 1, d);
    av_nn__tid ghost = tt_act(g, "ghost", AV_NN_F32, -1, NULL),
               y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__tid xg[2] = {x, ghost};
    tt_node(g, AV_NN_OP_BINARY, "uses_ghost", xg, 2, &y, 1, &p);
    av_nn__mark_output(g, y);
    CHECK_EQ_INT(av_nn__graph_finalize(g, err, sizeof err), AV_NN_E_FORMAT);
    CHECK_STR_CONTAINS(err, "'ghost' is never produced");
    av_nn__graph_free(g);
    /* tensor id out of range, tensor produced twice */
    g = av_nn__graph_new();
    x = tt_input(g, "x", AV_NN_F32, 1, d);
    y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__tid bogus = 999;
    tt_node(g, AV_NN_OP_UNARY, "bogus", &bogus, 1, &y, 1, NULL);
    av_nn__mark_output(g, y);
    CHECK_EQ_INT(av_nn__graph_finalize(g, err, sizeof err), AV_NN_E_FORMAT);
    CHECK_STR_CONTAINS(err, "refers to tensor 999");
    av_nn__graph_free(g);
    g = av_nn__graph_new();
    x = tt_input(g, "x", AV_NN_F32, 1, d);
    y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    tt_node(g, AV_NN_OP_UNARY, "first", &x, 1, &y, 1, NULL);
    tt_node(g, AV_NN_OP_UNARY, "second", &x, 1, &y, 1, NULL);
    av_nn__mark_output(g, y);
    CHECK_EQ_INT(av_nn__graph_finalize(g, err, sizeof err), AV_NN_E_FORMAT);
    CHECK_STR_CONTAINS(err, "also produced by node 'first'");
    av_nn__graph_free(g);
}

TEST(constant_folding)
{
    /* shape = cast(const i64 [2]) feeds reshape; c = a + b (consts) feeds mul with x */
    av_nn__graph *g = av_nn__graph_new();
    int64_t d3[1] = {3}, d2[1] = {2}, sh[2] = {3, 1};
    float a[3] = {1, 2, 3}, b[3] = {10, 20, 30};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 1, d3);
    av_nn__tid ca = tt_const(g, "a", AV_NN_F32, 1, d3, a),
               cb = tt_const(g, "b", AV_NN_F32, 1, d3, b);
    av_nn__tid c = tt_act(g, "c", AV_NN_F32, -1, NULL), m = tt_act(g, "m", AV_NN_F32, -1, NULL);
    av_nn__tid s64 = tt_const(g, "s64", AV_NN_I64, 1, d2, sh),
               s32 = tt_act(g, "s32", AV_NN_I32, -1, NULL);
    av_nn__tid r = tt_act(g, "r", AV_NN_F32, -1, NULL);
    av_nn__params p = {.binary = {.kind = AV_NN_BIN_ADD}};
    av_nn__tid i1[2] = {ca, cb};
    tt_node(g, AV_NN_OP_BINARY, "fold_add", i1, 2, &c, 1, &p);
    p.binary.kind = AV_NN_BIN_MUL;
    av_nn__tid i2[2] = {x, c};
    tt_node(g, AV_NN_OP_BINARY, "mul", i2, 2, &m, 1, &p);
    av_nn__params pc = {.cast = {.to = AV_NN_I32}};
    tt_node(g, AV_NN_OP_CAST, "fold_cast", &s64, 1, &s32, 1, &pc);
    av_nn__tid i3[2] = {m, s32};
    tt_node(g, AV_NN_OP_RESHAPE, "reshape", i3, 2, &r, 1, NULL);
    av_nn__mark_output(g, r);
    char err[256];
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_EQ_INT(g->n_order, 2);
    CHECK_STR_EQ(tt_op_label(g, 0), "binary");
    CHECK_STR_EQ(tt_op_label(g, 1), "reshape");
    CHECK(g->tensors[c].data);
    const float *cd = g->tensors[c].data;
    CHECK_NEAR(cd[2], 33, 0);
    int64_t w[2] = {3, 1};
    check_dims(&g->tensors[r], 2, w);
    av_nn_model *mo;
    CHECK(av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &mo, err, sizeof err) == 0);
    av_nn_ctx_opts o = {.backend = AV_NN_BACKEND_REFERENCE};
    av_nn_ctx *ctx;
    CHECK(av_nn_ctx_new(mo, &o, &ctx, err, sizeof err) == AV_NN_OK);
    float xin[3] = {1, 1, 2}, y[3];
    const void *ins[1] = {xin};
    void *outs[1] = {y};
    CHECK(av_nn_run(ctx, ins, outs, err, sizeof err) == AV_NN_OK);
    CHECK_NEAR(y[0], 11, 0);
    CHECK_NEAR(y[2], 66, 0);
    av_nn_ctx_free(ctx);
    av_nn_model_free(mo);
}

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/*
 * Random single-node graphs (any op, dtype, small shapes, constant or
 * graph inputs, small-valued params): finalize and the reference run must
 * return a status, never crash or read out of bounds (run this under ASan).
 */
TEST(random_graphs_fail_cleanly)
{
    uint32_t s = 2024;
    int ok_final = 0, ok_run = 0;
    enum { ITERS = 10000 };
    for (int iter = 0; iter < ITERS; iter++) {
        av_nn__graph *g = av_nn__graph_new();
        CHECK(g);
        /* a chain of 1-3 nodes, later ones biased toward the ops the passes rewrite */
        static const av_nn__op chain_ops[] = {
            AV_NN_OP_CLAMP,     AV_NN_OP_LEAKY_RELU, AV_NN_OP_UNARY,     AV_NN_OP_BINARY,
            AV_NN_OP_TRANSPOSE, AV_NN_OP_IDENTITY,   AV_NN_OP_BATCH_NORM};
        int n_nodes = 1 + (int)(rnd(&s) % 3);
        av_nn__tid prev = -1;
        for (int nd = 0; nd < n_nodes; nd++) {
            av_nn__op op = (av_nn__op)(rnd(&s) % AV_NN_OP_COUNT);
            if (nd > 0 && rnd(&s) % 2)
                op = chain_ops[rnd(&s) % (sizeof chain_ops / sizeof chain_ops[0])];
            int n_in = 1 + (int)(rnd(&s) % 5), n_out = 1 + (int)(rnd(&s) % 2);
            av_nn__tid in[5], out[2];
            for (int i = 0; i < n_in; i++) {
                if (i == 0 && prev >= 0) {
                    in[0] = prev;
                    continue;
                }
                int rank = (int)(rnd(&s) % 5);
                int64_t d[4];
                for (int k = 0; k < rank; k++)
                    d[k] = (int64_t)(rnd(&s) % 4);
                av_nn_dtype dt =
                    rnd(&s) % 3 ? AV_NN_F32 : (av_nn_dtype)(rnd(&s) % AV_NN_DTYPE_COUNT);
                if (i > 0 && rnd(&s) % 2)
                    dt = rnd(&s) % 2 ? AV_NN_I32 : AV_NN_I64;
                av_nn__tensor tmp = {.dtype = dt, .rank = rank};
                memcpy(tmp.dims, d, sizeof d);
                int64_t nb = av_nn__nbytes(&tmp), ne = av_nn__numel(&tmp);
                if (i > 0 && rnd(&s) % 2) {
                    uint8_t *data = calloc(1, (size_t)nb + 1);
                    for (int64_t e = 0; e < ne; e++)
                        av_nn__store_elem(data, dt, e, (double)(rnd(&s) % 4));
                    in[i] = av_nn__add_tensor(g, "c", dt, rank, d, data, true);
                } else {
                    in[i] = tt_input(g, "x", dt, rank, d);
                }
                if ((dt == AV_NN_U8 || dt == AV_NN_I8) && rnd(&s) % 2)
                    g->tensors[in[i]].quant = (av_nn__quant){.scale = 0.1f, .zero_point = 3};
                if (rnd(&s) % 8 == 0)
                    in[i] = -1;
            }
            for (int k = 0; k < n_out; k++) {
                av_nn_dtype dt = (av_nn_dtype)(rnd(&s) % AV_NN_DTYPE_COUNT);
                out[k] = tt_act(g, "y", dt, -1, NULL);
                if (rnd(&s) % 2)
                    g->tensors[out[k]].quant = (av_nn__quant){.scale = 0.05f, .zero_point = 1};
            }
            av_nn__params p = {0};
            int r4 = (int)(rnd(&s) % 4), a = (int)(rnd(&s) % 6) - 2;
            switch (op) {
            case AV_NN_OP_CONV2D:
            case AV_NN_OP_DEPTHWISE_CONV2D:
            case AV_NN_OP_TRANSPOSE_CONV2D:
                p.conv = (av_nn__conv_params){.stride_h = 1 + r4 % 2,
                                              .stride_w = 1 + a % 2,
                                              .padding = (av_nn__padding)r4,
                                              .pad_top = a > 0 ? a : 0,
                                              .groups = 1 + (int)(rnd(&s) % 2),
                                              .act = {.kind = (av_nn__act)(rnd(&s) % 8)}};
                break;
            case AV_NN_OP_MAX_POOL2D:
            case AV_NN_OP_AVG_POOL2D:
                p.pool = (av_nn__pool_params){.filter_h = 1 + r4 % 3,
                                              .filter_w = 1 + (a + 2) % 3,
                                              .stride_h = 1 + r4 % 2,
                                              .padding = (av_nn__padding)r4,
                                              .ceil_mode = a > 1,
                                              .count_include_pad = a & 1};
                break;
            case AV_NN_OP_BINARY:
                p.binary.kind = (av_nn__binary_kind)(rnd(&s) % 20);
                break;
            case AV_NN_OP_UNARY:
                p.unary.kind = (av_nn__unary_kind)(rnd(&s) % 24);
                break;
            case AV_NN_OP_REDUCE:
                p.reduce = (av_nn__reduce_params){.kind = (av_nn__reduce_kind)(r4 % 5),
                                                  .axes_mask = rnd(&s) % 16,
                                                  .keep_dims = a > 0};
                break;
            case AV_NN_OP_RESIZE:
                p.resize = (av_nn__resize_params){.mode = (av_nn__resize_mode)(r4 % 2),
                                                  .coord = (av_nn__coord_mode)(rnd(&s) % 5),
                                                  .nearest = (av_nn__nearest_mode)(rnd(&s) % 4),
                                                  .out_h = a,
                                                  .out_w = r4};
                break;
            case AV_NN_OP_PAD:
                p.pad.mode = (av_nn__pad_mode)(r4 % 3);
                for (int k = 0; k < 4; k++)
                    p.pad.before[k] = (int64_t)(rnd(&s) % 4) - 1,
                    p.pad.after[k] = (int64_t)(rnd(&s) % 4) - 1;
                break;
            case AV_NN_OP_SLICE:
                p.slice.tf_semantics = r4 & 1;
                p.slice.begin_mask = rnd(&s) % 8, p.slice.end_mask = rnd(&s) % 8;
                p.slice.ellipsis_mask = rnd(&s) % 4 == 0, p.slice.new_axis_mask = rnd(&s) % 4;
                p.slice.shrink_axis_mask = rnd(&s) % 4;
                break;
            case AV_NN_OP_RESHAPE:
                p.reshape.rank = r4;
                for (int k = 0; k < 4; k++)
                    p.reshape.dims[k] = (int64_t)(rnd(&s) % 5) - 1;
                break;
            case AV_NN_OP_SPLIT:
                p.split.axis = a;
                break;
            case AV_NN_OP_TOPK:
                p.topk = (av_nn__topk_params){.k = r4, .axis = a, .largest = a & 1};
                break;
            case AV_NN_OP_ARGMAX:
                p.argmax = (av_nn__argmax_params){.axis = a, .is_min = r4 & 1, .keep_dims = r4 & 2};
                break;
            case AV_NN_OP_SOFTMAX:
                p.softmax = (av_nn__softmax_params){.axis = a, .beta = 1, .log = r4 & 1};
                break;
            case AV_NN_OP_CAST:
                p.cast.to = (av_nn_dtype)(rnd(&s) % AV_NN_DTYPE_COUNT);
                break;
            case AV_NN_OP_CLAMP:
                p.clamp = (av_nn__clamp_params){.min = (float)a, .max = (float)r4};
                break;
            case AV_NN_OP_CONCAT:
            case AV_NN_OP_GATHER:
                p.axis.axis = a;
                break;
            case AV_NN_OP_FULLY_CONNECTED:
                p.fc.keep_dims = r4 & 1;
                break;
            default:
                break;
            }
            tt_node(g, op, "rnd", in, n_in, out, n_out, &p);
            prev = out[0];
            for (int k = 0; k < n_out; k++)
                if (nd == n_nodes - 1 || rnd(&s) % 4 == 0)
                    av_nn__mark_output(g, out[k]);
        }
        char err[256];
        if (av_nn__graph_finalize(g, err, sizeof err) != AV_NN_OK) {
            CHECK(err[0] != '\0');
            av_nn__graph_free(g);
            continue;
        }
        ok_final++;
        int64_t total = 0;
        for (int t = 0; t < g->n_tensors; t++)
            total += av_nn__nbytes(&g->tensors[t]) > 0 ? av_nn__nbytes(&g->tensors[t]) : 0;
        if (total > (64 << 20)) {
            av_nn__graph_free(g);
            continue;
        }
        av_nn_model *m;
        CHECK(av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) == 0);
        av_nn_ctx_opts o = {.backend = AV_NN_BACKEND_REFERENCE};
        av_nn_ctx *c;
        if (av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK) {
            void *ins[32] = {0}, *outs[32] = {0};
            for (int i = 0; i < av_nn_num_inputs(m); i++) {
                const av_nn_tensor_info *ti = av_nn_input(m, i);
                int64_t ne = 1;
                for (int k = 0; k < ti->rank; k++)
                    ne *= ti->dims[k];
                ins[i] = calloc(1, (size_t)ne * av_nn_dtype_size(ti->dtype) + 1);
                for (int64_t e = 0; e < ne; e++)
                    av_nn__store_elem(ins[i], ti->dtype, e, (double)(rnd(&s) % 4));
            }
            for (int i = 0; i < av_nn_num_outputs(m); i++) {
                const av_nn_tensor_info *ti = av_nn_output(m, i);
                int64_t ne = 1;
                for (int k = 0; k < ti->rank; k++)
                    ne *= ti->dims[k];
                outs[i] = calloc(1, (size_t)ne * av_nn_dtype_size(ti->dtype) + 1);
            }
            if (av_nn_run(c, (const void *const *)ins, outs, err, sizeof err) == AV_NN_OK)
                ok_run++;
            for (int i = 0; i < 32; i++)
                free(ins[i]), free(outs[i]);
            av_nn_ctx_free(c);
        }
        av_nn_model_free(m);
    }
    fprintf(stderr, "    %d random graphs: %d finalized, %d ran\n", ITERS, ok_final, ok_run);
    /* the generator must reach the kernels, or this test proves nothing */
    CHECK_MSG(ok_final > 100 && ok_run > 100, "finalized %d, ran %d", ok_final, ok_run);
}

TEST(load_rejects_garbage)
{
    char err[256] = "";
    av_nn_model *m = (av_nn_model *)1;
    const char junk[] = "\x42\x00\x01not a model at all";
    CHECK_EQ_INT(av_nn_load_mem(junk, sizeof junk, &m, err, sizeof err), AV_NN_E_FORMAT);
    CHECK(m == NULL);
    CHECK_STR_CONTAINS(err, "unrecognised model format");
    CHECK_EQ_INT(av_nn_load("/nonexistent/model.tflite", &m, err, sizeof err), AV_NN_E_IO);
    CHECK_STR_CONTAINS(err, "/nonexistent/model.tflite");
    const char tfjs[] = "  {\"format\": \"graph-model\", \"modelTopology\": {}}";
    CHECK_EQ_INT(av_nn_load_mem(tfjs, sizeof tfjs - 1, &m, err, sizeof err), AV_NN_E_ARG);
    CHECK_STR_CONTAINS(err, "shards");
}

TEST_MAIN(T(builder_limits_and_tables), T(f16_conversion), T(shape_broadcast),
          T(shape_conv_padding), T(shape_pool_ceil_mode), T(shape_strided_slice_masks),
          T(shape_reshape_infer), T(hostile_params_are_errors), T(cycle_and_undefined_errors),
          T(constant_folding), T(random_graphs_fail_cleanly), T(load_rejects_garbage))
