/*
 * t_nn_run_unwanted.c - av_nn_run with a NULL output pointer: that output is
 * not copied out, and the outputs that are wanted come out bit for bit as in
 * a run that copies every one (CenterNet: the pipeline reads its detections
 * only, not the 5 MiB heat map). A NULL outputs array is still refused.
 */
#include "harness.h"

#include "nn/nn.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODEL "models/human/centernet.json"
#define MAX_OUT 8

static size_t out_bytes(const av_nn_model *m, int i)
{
    const av_nn_tensor_info *ti = av_nn_output(m, i);
    size_t n = 1;
    for (int d = 0; d < ti->rank; d++)
        n *= (size_t)ti->dims[d];
    return n * av_nn_dtype_size(ti->dtype);
}

TEST(null_output_is_skipped_and_the_others_are_exact)
{
    if (access(MODEL, R_OK) != 0)
        SKIP(MODEL " missing (run scripts/setup)");
    char err[512] = "";
    av_nn_model *m = NULL;
    CHECK_MSG(av_nn_load(MODEL, &m, err, sizeof err) == AV_NN_OK, "%s", err);
    int no = av_nn_num_outputs(m);
    CHECK(no >= 2 && no <= MAX_OUT);
    int det = av_nn_find_output(m, "tower_0/detections");
    CHECK(det >= 0);
    const av_nn_tensor_info *ti = av_nn_input(m, 0);
    CHECK(ti->dtype == AV_NN_F32);
    size_t n_in = 1;
    for (int d = 0; d < ti->rank; d++)
        n_in *= (size_t)ti->dims[d];
    float *x = malloc(n_in * sizeof *x);
    CHECK(x);
    for (size_t i = 0; i < n_in; i++) /* a smooth picture with some edges, 0..255 */
        x[i] = (float)(127.5 + 127.5 * sin((double)(i % 1531) * 0.013 + (double)(i / 1536) * 0.05));
    av_nn_ctx_opts o = {.threads = 2, .backend = AV_NN_BACKEND_XNNPACK};
    av_nn_ctx *c = NULL;
    CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "%s", err);
    const void *in[1] = {x};

    void *all[MAX_OUT] = {0}, *want[MAX_OUT] = {0};
    for (int i = 0; i < no; i++) {
        all[i] = malloc(out_bytes(m, i));
        CHECK(all[i]);
    }
    CHECK_MSG(av_nn_run(c, in, all, err, sizeof err) == AV_NN_OK, "%s", err);

    size_t nb = out_bytes(m, det);
    want[det] = malloc(nb);
    CHECK(want[det]);
    memset(want[det], 0x7f, nb); /* a run that skipped it too would leave this */
    CHECK_MSG(av_nn_run(c, in, want, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_MSG(memcmp(want[det], all[det], nb) == 0,
              "detections differ when the other outputs are not wanted");
    /* the heat map is still computed: the detections hold real scores */
    const float *d = all[det];
    CHECK(d[4] > 0.0f && d[4] <= 1.0f);

    CHECK(av_nn_run(c, in, NULL, err, sizeof err) == AV_NN_E_ARG);

    for (int i = 0; i < no; i++)
        free(all[i]);
    free(want[det]);
    free(x);
    av_nn_ctx_free(c);
    av_nn_model_free(m);
}

TEST_MAIN(T(null_output_is_skipped_and_the_others_are_exact))
