/*
 * t_nn_xnn_net.c - small f32 and quantised networks through the public API
 * (finalize, model, context, run) on the XNNPACK and reference backends,
 * compared (tests/nn_fixture.h).
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- through the public API: a small network on both backends ---- */

/* Activation tensor of unknown shape between two nodes. */
static av_nn__tid mid(av_nn__graph *g, float scale, int32_t zp)
{
    av_nn__tid t = av_nn__add_tensor(g, "t", AV_NN_F32, -1, NULL, NULL, false);
    CHECK(t >= 0);
    nf_set_q(g, t, scale, zp);
    return t;
}

static void node2(av_nn__graph *g, av_nn__op op, const av_nn__tid *in, int n_in, av_nn__tid out,
                  const av_nn__params *p)
{
    CHECK(av_nn__add_node(g, op, "n", in, n_in, &out, 1, p) >= 0);
}

/* Finalizes g (one input, one output, every node XNNPACK's), runs it through
 * the public API on both backends and compares; frees g. */
static void check_model(av_nn__graph *g)
{
    char err[256] = "";
    av_nn_status st = av_nn__graph_finalize(g, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "finalize: %s", err);
    for (int j = 0; j < g->n_order; j++) { /* else the comparison would be ref vs ref */
        const av_nn__node *n = &g->nodes[g->order[j]];
        CHECK_MSG(av_nn__backend_xnn.supports_op(g, n), "xnn refuses node %d (%s)", j,
                  av_nn__op_name(n->op));
    }
    av_nn_model *m = NULL;
    st = av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "model: %s", err);
    const av_nn__tensor *xt = &m->g->tensors[m->g->inputs[0]];
    const av_nn__tensor *yt = &m->g->tensors[m->g->outputs[0]];
    void *x = nf_buf(xt), *y[2] = {nf_buf(yt), nf_buf(yt)};
    nf_fill(x, xt->dtype, av_nn__numel(xt));
    for (int b = 0; b < 2; b++) {
        av_nn_ctx_opts o = {.threads = 2,
                            .backend = b ? AV_NN_BACKEND_REFERENCE : AV_NN_BACKEND_XNNPACK};
        av_nn_ctx *c = NULL;
        st = av_nn_ctx_new(m, &o, &c, err, sizeof err);
        CHECK_MSG(st == AV_NN_OK, "ctx: %s", err);
        const void *in[1] = {x};
        st = av_nn_run(c, in, &y[b], err, sizeof err);
        CHECK_MSG(st == AV_NN_OK, "run: %s", err);
        av_nn_ctx_free(c);
    }
    nf_compare(yt, y[0], y[1], "network");
    free(x);
    free(y[0]);
    free(y[1]);
    av_nn_model_free(m);
}

TEST(network_f32_on_both_backends)
{
    av_nn__graph *g = nf_new_graph(400);
    av_nn__tid x = nf_act_in(g, AV_NN_F32, SH(1, 16, 16, 3), 0, 0);
    av_nn__tid t1 = mid(g, 0, 0), t2 = mid(g, 0, 0), t3 = mid(g, 0, 0), t4 = mid(g, 0, 0);
    av_nn__tid t5 = mid(g, 0, 0), y = nf_out_t(g, 0, 0);
    av_nn__params p = {.conv = nf_cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6)};
    node2(g, AV_NN_OP_CONV2D,
          (av_nn__tid[]){x, nf_konst(g, AV_NN_F32, SH(8, 3, 3, 3), -1, 1),
                         nf_konst(g, AV_NN_F32, SH(8), -1, 1)},
          3, t1, &p);
    node2(g, AV_NN_OP_DEPTHWISE_CONV2D,
          (av_nn__tid[]){t1, nf_konst(g, AV_NN_F32, SH(1, 3, 3, 8), -1, 1),
                         nf_konst(g, AV_NN_F32, SH(8), -1, 1)},
          3, t2, &p);
    p = (av_nn__params){.binary = {.kind = AV_NN_BIN_ADD}};
    node2(g, AV_NN_OP_BINARY, (av_nn__tid[]){t2, nf_konst(g, AV_NN_F32, SH(8), -1, 1)}, 2, t3, &p);
    p = (av_nn__params){.reduce = {.kind = AV_NN_REDUCE_MEAN, .axes_mask = 0x6}};
    node2(g, AV_NN_OP_REDUCE, &t3, 1, t4, &p);
    p = (av_nn__params){.fc = {.act = nf_act(AV_NN_ACT_NONE)}};
    node2(g, AV_NN_OP_FULLY_CONNECTED,
          (av_nn__tid[]){t4, nf_konst(g, AV_NN_F32, SH(10, 8), -1, 1),
                         nf_konst(g, AV_NN_F32, SH(10), -1, 1)},
          3, t5, &p);
    p = (av_nn__params){.softmax = {.axis = -1, .beta = 1.0f}};
    node2(g, AV_NN_OP_SOFTMAX, &t5, 1, y, &p);
    check_model(g);
}

TEST(network_qu8_on_both_backends)
{
    av_nn__graph *g = nf_new_graph(401);
    av_nn__tid x = nf_act_in(g, AV_NN_U8, SH(1, 14, 14, 3), 1.0f / 128, 128);
    av_nn__tid t1 = mid(g, 0.0235f, 0), t2 = mid(g, 0.0235f, 0), t3 = mid(g, 0.03f, 5);
    av_nn__tid t4 = mid(g, 0.03f, 5), t5 = mid(g, 0.1f, 130), y = nf_out_t(g, 1.0f / 256, 0);
    av_nn__tid w1 = nf_konst(g, AV_NN_U8, SH(8, 3, 3, 3), 0, 0);
    av_nn__tid w2 = nf_konst(g, AV_NN_U8, SH(1, 3, 3, 8), 0, 0);
    av_nn__tid w3 = nf_konst(g, AV_NN_U8, SH(10, 8), 0, 0);
    nf_set_q(g, w1, 0.02f, 120), nf_set_q(g, w2, 0.01f, 130), nf_set_q(g, w3, 0.005f, 128);
    av_nn__params p = {.conv = nf_cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6)};
    node2(g, AV_NN_OP_CONV2D, (av_nn__tid[]){x, w1, nf_konst(g, AV_NN_I32, SH(8), 0, 0)}, 3, t1,
          &p);
    p.conv.stride_h = p.conv.stride_w = 1;
    node2(g, AV_NN_OP_DEPTHWISE_CONV2D, (av_nn__tid[]){t1, w2, nf_konst(g, AV_NN_I32, SH(8), 0, 0)},
          3, t2, &p);
    p = (av_nn__params){.binary = {.kind = AV_NN_BIN_ADD}};
    node2(g, AV_NN_OP_BINARY, (av_nn__tid[]){t1, t2}, 2, t3, &p);
    p = (av_nn__params){.pool = nf_pp(7, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE)};
    node2(g, AV_NN_OP_AVG_POOL2D, &t3, 1, t4, &p);
    p = (av_nn__params){.fc = {.act = nf_act(AV_NN_ACT_NONE)}};
    node2(g, AV_NN_OP_FULLY_CONNECTED, (av_nn__tid[]){t4, w3, nf_konst(g, AV_NN_I32, SH(10), 0, 0)},
          3, t5, &p);
    p = (av_nn__params){.softmax = {.axis = -1, .beta = 1.0f}};
    node2(g, AV_NN_OP_SOFTMAX, &t5, 1, y, &p);
    check_model(g);
}

TEST_MAIN(T(network_f32_on_both_backends), T(network_qu8_on_both_backends))
