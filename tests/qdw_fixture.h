/*
 * qdw_fixture.h - a one-node qu8 3x3 depthwise graph with random weights and
 * bias, for the depthwise kernel tests (t_nn_qdw3, t_nn_qdws).
 */
#ifndef AV_TEST_QDW_FIXTURE_H
#define AV_TEST_QDW_FIXTURE_H

#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"

#include <stdint.h>
#include <stdlib.h>

typedef struct dwc {
    int64_t n, h, w, c;
    int sh, sw, pt, pl, pb, pr;
    av_nn__act act;
    float xs, ws, ys;
    int32_t xz, wz, yz;
} dwc;

static inline av_nn__tid dwc_tensor(av_nn__graph *g, const char *name, const int64_t *d, int r, void *data,
                         float s, int32_t zp, av_nn_dtype dt)
{
    av_nn__tid t = av_nn__add_tensor(g, name, dt, r, d, data, data != NULL);
    CHECK(t >= 0);
    g->tensors[t].quant.scale = s;
    g->tensors[t].quant.zero_point = zp;
    return t;
}

/* A one-node 3x3 depthwise graph with random weights and bias; *k the node. */
static inline av_nn__graph *dwc_build(const dwc *c, int *k)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {c->n, c->h, c->w, c->c}, wd[4] = {1, 3, 3, c->c};
    uint8_t *wq = malloc((size_t)(9 * c->c));
    int32_t *bq = malloc((size_t)c->c * sizeof *bq);
    CHECK(wq && bq);
    for (int64_t i = 0; i < 9 * c->c; i++)
        wq[i] = (uint8_t)nf_rnd();
    for (int64_t i = 0; i < c->c; i++)
        bq[i] = (int32_t)(nf_rnd() % 40001) - 20000;
    av_nn__tid in[3];
    in[0] = dwc_tensor(g, "x", xd, 4, NULL, c->xs, c->xz, AV_NN_U8);
    CHECK(av_nn__mark_input(g, in[0]) >= 0);
    in[1] = dwc_tensor(g, "w", wd, 4, wq, c->ws, c->wz, AV_NN_U8);
    in[2] = dwc_tensor(g, "b", &c->c, 1, bq, 0, 0, AV_NN_I32);
    av_nn__tid y = dwc_tensor(g, "y", NULL, -1, NULL, c->ys, c->yz, AV_NN_U8);
    CHECK(av_nn__mark_output(g, y) >= 0);
    av_nn__params p = {.conv = {.stride_h = c->sh, .stride_w = c->sw, .dilation_h = 1,
                                .dilation_w = 1, .padding = AV_NN_PAD_EXPLICIT, .groups = 1,
                                .pad_top = c->pt, .pad_bottom = c->pb, .pad_left = c->pl,
                                .pad_right = c->pr, .act = {c->act, 0.1f, 0, 0}}};
    *k = av_nn__add_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw", in, 3, &y, 1, &p);
    CHECK(*k >= 0);
    char err[256] = "";
    CHECK_MSG(av_nn__infer_node(g, &g->nodes[*k], err, sizeof err) == AV_NN_OK, "infer: %s",
              err);
    return g;
}

#endif
