/*
 * t_nn_fuse_concat.c - the concat-act fusion (pass_fuse.c, xnn_data.c):
 * clamp(concat(x_i)) becomes the concat with the clamp as its act, only
 * where the concat's output has no other reader, is f32 and the bounds are
 * a plain compare (relu, relu6, clamp with lo < hi). The fused concat (our
 * strided copy on the xnn backend, the reference kernel on the other) gives
 * the unfused graph's answer on random shapes with odd sizes, every axis
 * (contiguous runs, rows, short strided rows), 2 to 4 inputs, batch 1 and 3,
 * and with the fusion forced off.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARTS 4

typedef struct cat_case {
    int64_t d[4];            /* the inputs' dims but along axis */
    int64_t part[MAX_PARTS]; /* each input's size along axis */
    int parts, axis;
    int act;           /* 0 relu (unary), 1 relu (clamp 0..inf), 2 relu6, 3 clamp(-0.5, 0.7) */
    bool cat_out;      /* the concat's output is a graph output too: no fusion */
    bool empty_range;  /* clamp(1, 1): left alone */
} cat_case;

static void dims_of(const cat_case *cc, int k, int64_t *d)
{
    memcpy(d, cc->d, sizeof cc->d);
    d[cc->axis] = 0;
    for (int i = 0; i < cc->parts; i++) /* k < 0: the concat's output */
        d[cc->axis] += k < 0 || i == k ? cc->part[i] : 0;
}

static int64_t numel4(const int64_t *d)
{
    return d[0] * d[1] * d[2] * d[3];
}

/* inputs x_k; concat -> c; act(c) -> y */
static av_nn__graph *build(const cat_case *cc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    av_nn__tid x[MAX_PARTS];
    for (int k = 0; k < cc->parts; k++) {
        int64_t d[4];
        dims_of(cc, k, d);
        char name[8] = {'x', (char)('0' + k), 0};
        x[k] = tt_input(g, name, AV_NN_F32, 4, d);
    }
    av_nn__tid c = tt_act(g, "cat", AV_NN_F32, -1, NULL), y = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params pc = {.axis = {.axis = cc->axis}};
    tt_node(g, AV_NN_OP_CONCAT, "cat", x, cc->parts, &c, 1, &pc);
    if (cc->act == 0) {
        av_nn__params pu = {.unary = {.kind = AV_NN_UN_RELU}};
        tt_node(g, AV_NN_OP_UNARY, "relu", &c, 1, &y, 1, &pu);
    } else {
        static const float lo[4] = {0, 0, 0, -0.5f}, hi[4] = {0, INFINITY, 6, 0.7f};
        av_nn__params pk = {.clamp = {.min = lo[cc->act], .max = hi[cc->act]}};
        if (cc->empty_range)
            pk.clamp.min = pk.clamp.max = 1;
        tt_node(g, AV_NN_OP_CLAMP, "clamp", &c, 1, &y, 1, &pk);
    }
    CHECK(av_nn__mark_output(g, y) >= 0);
    if (cc->cat_out)
        CHECK(av_nn__mark_output(g, c) >= 0);
    return g;
}

static void check_case(const cat_case *cc, bool want_fused)
{
    int64_t dy[4];
    dims_of(cc, -1, dy);
    int64_t ny = numel4(dy);
    float *x[MAX_PARTS], *want[2], *got[2];
    const void *in[MAX_PARTS];
    for (int k = 0; k < cc->parts; k++) {
        int64_t d[4];
        dims_of(cc, k, d);
        x[k] = malloc((size_t)numel4(d) * sizeof(float));
        CHECK(x[k]);
        tt_fill(x[k], numel4(d), (uint32_t)(k * 31 + numel4(d)), -8, 8);
        in[k] = x[k];
    }
    for (int i = 0; i < 2; i++) {
        want[i] = calloc((size_t)ny, sizeof(float)), got[i] = calloc((size_t)ny, sizeof(float));
        CHECK(want[i] && got[i]);
    }
    av_nn__graph *g = build(cc);
    tt_interpret(g, in, (void **)want);
    av_nn__graph_free(g);
    for (int be = 0; be < 2; be++) {
        g = build(cc);
        char err[256] = "";
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        int left = tt_count_live(g, AV_NN_OP_CLAMP) + tt_count_live(g, AV_NN_OP_UNARY);
        CHECK_MSG(left == !want_fused, "act nodes left %d (axis %d, act %d)", left, cc->axis,
                  cc->act);
        tt_run_backend(g, be ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE, in,
                       (void **)got);
        for (int o = 0; o < (cc->cat_out ? 2 : 1); o++)
            for (int64_t i = 0; i < ny; i++) /* a copy and a compare: exact */
                CHECK_MSG(got[o][i] == want[o][i],
                          "%s output %d [%lld] got %g want %g (axis %d, %d parts, act %d)",
                          be ? "xnnpack" : "reference", o, (long long)i, got[o][i], want[o][i],
                          cc->axis, cc->parts, cc->act);
    }
    for (int i = 0; i < 2; i++)
        free(want[i]), free(got[i]);
    for (int k = 0; k < cc->parts; k++)
        free(x[k]);
}

static cat_case random_case(int it)
{
    cat_case cc = {.d = {it % 3 == 1 ? 3 : 1, 1 + nf_rnd() % 13, 1 + nf_rnd() % 17,
                         1 + nf_rnd() % 40},
                   .parts = 2 + (int)(nf_rnd() % 3),
                   .axis = (int)(nf_rnd() % 4),
                   .act = it % 4};
    for (int k = 0; k < cc.parts; k++)
        cc.part[k] = 1 + nf_rnd() % 21;
    return cc;
}

TEST(fused_equals_unfused_random_shapes)
{
    bool fused = av_nn__concat_act_fusion_pays(); /* AV_NN_FUSE_CONCAT_ACT=0: stays */
    nf_reseed(5);
    for (int it = 0; it < 40; it++)
        check_case((cat_case[]){random_case(it)}, fused);
    /* CenterNet's head: channels of two branches, rows of 64 floats */
    check_case(&(cat_case){.d = {1, 9, 11, 0}, .part = {64, 64}, .parts = 2, .axis = 3},
               fused);
    /* short rows (3 channels) over many pixels: the long-row strided copy */
    check_case(&(cat_case){.d = {1, 40, 37, 0}, .part = {3, 2, 5}, .parts = 3, .axis = 3,
                           .act = 2},
               fused);
    /* along the batch: one contiguous run per input, chunks across the pool */
    check_case(&(cat_case){.d = {0, 61, 67, 9}, .part = {2, 1}, .parts = 2, .axis = 0,
                           .act = 3},
               fused);
}

TEST(forced_off_keeps_the_clamp)
{
    av_nn__concat_act_force_off(true);
    check_case(&(cat_case){.d = {3, 5, 7, 0}, .part = {9, 4}, .parts = 2, .axis = 3, .act = 1},
               false);
    av_nn__concat_act_force_off(false);
}

TEST(not_fused_where_it_would_not_be_exact)
{
    cat_case cc = {.d = {1, 6, 5, 0}, .part = {8, 3}, .parts = 2, .axis = 3, .act = 2};
    cc.cat_out = true; /* the concat's output is read as itself too */
    check_case(&cc, false);
    cc.cat_out = false;
    cc.act = 3;
    cc.empty_range = true; /* clamp(1, 1): no plain compare order to rely on */
    check_case(&cc, false);
}

TEST_MAIN(T(fused_equals_unfused_random_shapes), T(forced_off_keeps_the_clamp),
          T(not_fused_where_it_would_not_be_exact))
