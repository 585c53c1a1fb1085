/*
 * t_nn_input_buffer.c - zero-copy input (av_nn_ctx_input_buffer): a run on
 * the context's own input bytes, filled in place, gives the bits of a run
 * that copies the same input from a buffer of the caller's, twice in a row
 * (the second refilled, since the planner hands the input's bytes to a
 * later tensor), at batch 1 and 3, on both backends; a tap on the input
 * still sees it, and so does the calibration observer; bad indices give
 * NULL.
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"

#include <stdio.h>
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

/* Two contexts of one model: own runs on its input bytes filled in place
 * (buf, n floats), copy on a buffer of ours, x (n floats), copied in. */
typedef struct pair {
    av_nn_ctx *own, *copy;
    float *buf, *x;
    size_t n;
} pair;

static bool pair_new(pair *q, const av_nn_model *m, av_nn_backend be, int threads, int batch)
{
    *q = (pair){.own = nf_ctx(m, be, threads, batch), .copy = nf_ctx(m, be, threads, batch),
                .n = (size_t)(batch ? batch : 1) * N};
    size_t nb = 0;
    q->buf = q->own ? av_nn_ctx_input_buffer(q->own, 0, &nb) : NULL;
    CHECK_EQ_INT((long long)nb, (long long)(q->n * sizeof(float)));
    q->x = malloc(q->n * sizeof *q->x);
    CHECK(q->copy && q->buf && q->x);
    return q->copy && q->buf && q->x;
}

/* Fresh input in x and, as a caller refills it before each run, in buf. */
static void pair_fill(pair *q)
{
    for (size_t i = 0; i < q->n; i++)
        q->x[i] = nf_frand(-2.0f, 2.0f);
    memcpy(q->buf, q->x, q->n * sizeof *q->x);
}

static void pair_free(pair *q)
{
    av_nn_ctx_free(q->own);
    av_nn_ctx_free(q->copy);
    free(q->x);
}

TEST(in_place_input_equals_copied_input)
{
    av_nn_model *m = chain_model();
    for (int be = 0; be < 2; be++) {
        av_nn_backend b = be ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE;
        for (int batch = 1; batch <= 3; batch += 2) {
            pair q;
            if (!pair_new(&q, m, b, 2, batch)) {
                pair_free(&q);
                break;
            }
            size_t nb = q.n * sizeof(float);
            float *y1 = calloc(q.n, sizeof *y1), *y2 = calloc(q.n, sizeof *y2), *tap = malloc(nb);
            CHECK(y1 && y2 && tap);
            for (int round = 0; round < 2; round++) { /* other data each time: a refill */
                pair_fill(&q);
                nf_run(q.own, q.buf, y1);
                nf_run(q.copy, q.x, y2);
                CHECK_MSG(memcmp(y1, y2, nb) == 0, "backend %d batch %d round %d", be, batch,
                          round);
                /* the pool's output took the input's bytes: why a caller refills */
                CHECK_MSG(memcmp(q.buf, q.x, nb) != 0, "backend %d batch %d: input kept", be,
                          batch);
            }
            /* a tap on the input sees what was written in place */
            memcpy(q.buf, q.x, nb);
            const void *in[1] = {q.buf};
            void *out[1] = {y1};
            char err[256] = "";
            CHECK_MSG(av_nn_run_tap(q.own, in, out, "x", tap, nb, err, sizeof err) == AV_NN_OK,
                      "%s", err);
            CHECK(memcmp(tap, q.x, nb) == 0);
            CHECK(memcmp(y1, y2, nb) == 0);
            free(tap);
            free(y1);
            free(y2);
            pair_free(&q);
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

/* The calibration observer sees the same tensors from an in-place input:
 * the two saved range tables are the same bytes. */
TEST(observer_sees_in_place_input)
{
    av_nn_model *m = chain_model();
    pair q;
    av_nn_calib *cal[2] = {NULL, NULL};
    char err[256] = "", text[2][4096];
    float y[N];
    if (!pair_new(&q, m, AV_NN_BACKEND_XNNPACK, 1, 0))
        goto done;
    for (int k = 0; k < 2; k++)
        CHECK(av_nn_calib_new(m, &cal[k], err, sizeof err) == AV_NN_OK);
    for (int round = 0; round < 2; round++) {
        pair_fill(&q);
        const void *own_in[1] = {q.buf}, *copy_in[1] = {q.x};
        void *out[1] = {y};
        CHECK_MSG(av_nn_calib_run(cal[0], q.own, own_in, out, err, sizeof err) == AV_NN_OK, "%s",
                  err);
        CHECK_MSG(av_nn_calib_run(cal[1], q.copy, copy_in, out, err, sizeof err) == AV_NN_OK,
                  "%s", err);
    }
    for (int k = 0; k < 2; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/input_buffer%d.calib", av_test_tmpdir(), k);
        CHECK(av_nn_calib_save(cal[k], path, NULL, err, sizeof err) == AV_NN_OK);
        FILE *f = fopen(path, "r");
        CHECK(f);
        size_t got = f ? fread(text[k], 1, sizeof text[k] - 1, f) : 0;
        text[k][got] = 0;
        CHECK(got > 0 && got < sizeof text[k] - 1);
        if (f)
            fclose(f);
    }
    CHECK_STR_EQ(text[0], text[1]);
    CHECK_STR_CONTAINS(text[0], "y\t"); /* the output's range is in the table */
done:
    av_nn_calib_free(cal[0]);
    av_nn_calib_free(cal[1]);
    pair_free(&q);
    av_nn_model_free(m);
}

TEST_MAIN(T(in_place_input_equals_copied_input), T(no_buffer_for_bad_arguments),
          T(observer_sees_in_place_input))
