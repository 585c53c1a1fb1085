/*
 * t_nn_input_buffer.c - zero-copy input (av_nn_ctx_input_buffer): a run on
 * the context's own input bytes, filled in place, gives the bits of a run
 * that copies the same input from a buffer of the caller's, twice in a row
 * (the second refilled, since the planner hands the input's bytes to a
 * later tensor), at batch 1 and 3, on both backends; a tap on the input
 * still sees it; bad indices give NULL.
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"

#include <stdlib.h>
#include <string.h>

#define H 10
#define C 8
enum { N = H * H * C };

/* x [1,H,H,C] -> 3x3 conv -> 3x3 max pool -> 1x1 conv -> y: x is read by the
 * first node only, and the pool's output (x's size) takes its arena bytes. */
static av_nn_model *chain_model(void)
{
    av_nn__graph *g = nf_new_graph(15);
    av_nn__tid x = nf_act_in(g, AV_NN_F32, SH(1, H, H, C), 0, 0);
    av_nn__tid h = av_nn__add_tensor(g, "h", AV_NN_F32, -1, NULL, NULL, false);
    av_nn__tid p = av_nn__add_tensor(g, "p", AV_NN_F32, -1, NULL, NULL, false);
    av_nn__tid y = nf_out_t(g, 0, 0);
    CHECK(h >= 0 && p >= 0);
    av_nn__params pc = {.conv = nf_cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE)};
    av_nn__tid c1[3] = {x, nf_konst(g, AV_NN_F32, SH(C, 3, 3, C), -0.3f, 0.3f),
                        nf_konst(g, AV_NN_F32, SH(C), -0.3f, 0.3f)};
    nf_add(g, AV_NN_OP_CONV2D, c1, 3, h, &pc);
    av_nn__params pp = {.pool = nf_pp(3, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE)};
    nf_add(g, AV_NN_OP_MAX_POOL2D, &h, 1, p, &pp);
    av_nn__tid c2[3] = {p, nf_konst(g, AV_NN_F32, SH(C, 1, 1, C), -0.3f, 0.3f),
                        nf_konst(g, AV_NN_F32, SH(C), -0.3f, 0.3f)};
    nf_add(g, AV_NN_OP_CONV2D, c2, 3, y, &pc);
    return nf_model(g);
}

TEST(in_place_input_equals_copied_input)
{
    av_nn_model *m = chain_model();
    for (int be = 0; be < 2; be++) {
        av_nn_backend b = be ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE;
        for (int batch = 1; batch <= 3; batch += 2) {
            av_nn_ctx *own = nf_ctx(m, b, 2, batch), *copy = nf_ctx(m, b, 2, batch);
            if (!own || !copy)
                break;
            size_t nb = 0, n = (size_t)batch * N;
            float *buf = av_nn_ctx_input_buffer(own, 0, &nb);
            CHECK(buf != NULL);
            CHECK_EQ_INT((long long)nb, (long long)(n * sizeof(float)));
            float *x = malloc(nb), *y1 = calloc(n, sizeof *y1), *y2 = calloc(n, sizeof *y2);
            CHECK(x && y1 && y2);
            for (int round = 0; round < 2; round++) { /* other data each time: a refill */
                for (size_t i = 0; i < n; i++)
                    x[i] = nf_frand(-2.0f, 2.0f);
                memcpy(buf, x, nb);
                nf_run(own, buf, y1);
                nf_run(copy, x, y2);
                CHECK_MSG(memcmp(y1, y2, n * sizeof *y1) == 0, "backend %d batch %d round %d",
                          be, batch, round);
                /* the pool's output took the input's bytes: why a caller refills */
                CHECK_MSG(memcmp(buf, x, nb) != 0, "backend %d batch %d: input kept", be, batch);
            }
            /* a tap on the input sees what was written in place */
            memcpy(buf, x, nb);
            float *tap = malloc(nb);
            CHECK(tap);
            const void *in[1] = {buf};
            void *out[1] = {y1};
            char err[256] = "";
            CHECK_MSG(av_nn_run_tap(own, in, out, "x", tap, nb, err, sizeof err) == AV_NN_OK,
                      "%s", err);
            CHECK(memcmp(tap, x, nb) == 0);
            CHECK(memcmp(y1, y2, n * sizeof *y1) == 0);
            free(tap);
            free(x);
            free(y1);
            free(y2);
            av_nn_ctx_free(own);
            av_nn_ctx_free(copy);
        }
    }
    av_nn_model_free(m);
}

TEST(no_buffer_for_bad_arguments)
{
    av_nn_model *m = chain_model();
    av_nn_ctx *c = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 2, 0);
    size_t nb = 7;
    CHECK(av_nn_ctx_input_buffer(c, 1, &nb) == NULL);
    CHECK_EQ_INT((long long)nb, 0);
    nb = 7;
    CHECK(av_nn_ctx_input_buffer(c, -1, &nb) == NULL && nb == 0);
    nb = 7;
    CHECK(av_nn_ctx_input_buffer(NULL, 0, &nb) == NULL && nb == 0);
    CHECK(av_nn_ctx_input_buffer(c, 0, NULL) != NULL);
    /* two contexts never share input bytes */
    av_nn_ctx *d = nf_ctx(m, AV_NN_BACKEND_XNNPACK, 2, 0);
    CHECK(av_nn_ctx_input_buffer(c, 0, NULL) != av_nn_ctx_input_buffer(d, 0, NULL));
    av_nn_ctx_free(c);
    av_nn_ctx_free(d);
    av_nn_model_free(m);
}

TEST_MAIN(T(in_place_input_equals_copied_input), T(no_buffer_for_bad_arguments))
