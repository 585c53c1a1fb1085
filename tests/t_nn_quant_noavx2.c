/*
 * t_nn_quant_noavx2.c - the int8 rewrite (nn/quant.c) on a CPU without
 * AVX2 (AV_NN_NO_AVX2=1, set before any kernel is picked): there a leaky
 * relu conv would run as XNNPACK's qc8 on the pre-activation's coarse scale
 * (up to ys / alpha per step) and then the table (xnn_qlut.c), and NanoDet's
 * int8 outputs drifted twice past the bound t_nn_quant.c holds them to on
 * AVX2 (0.157 of Identity_1:0's range against 0.08). Such convs stay float.
 */
#include "harness.h"
#include "quant_fixture.h"
#include "detect_fixture.h"
#include "nn/nn.h"
#include "nn_test_util.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The same bound as t_nn_quant.c's nanodet_int8_close_to_float, without AVX2. */
TEST(nanodet_int8_close_to_float_without_avx2)
{
    CHECK(setenv("AV_NN_NO_AVX2", "1", 1) == 0); /* before the first kernel pick */
    const char *path = human_model("nanodet");
    size_t len;
    float *in = bird_input("nanodet", &len);
    char table[1024], err[512];
    snprintf(table, sizeof table, "%s/t.calib", av_test_tmpdir());
    av_nn_model *f = NULL, *q = NULL;
    CHECK(av_nn_load(path, &f, err, sizeof err) == AV_NN_OK);
    CHECK(av_nn_load(path, &q, err, sizeof err) == AV_NN_OK);
    calibrate_model(f, in, table);
    av_nn_quant_report r;
    CHECK_MSG(av_nn_model_quantize(q, table, &r, err, sizeof err) == AV_NN_OK, "%s", err);
    printf("    nanodet: %d int8 convs, %d float\n", r.quantised, r.kept_float);
    CHECK(r.quantised >= 1);
    void **fo = run_model(f, AV_NN_BACKEND_XNNPACK, in);
    void **qo = run_model(q, AV_NN_BACKEND_XNNPACK, in);
    for (int i = 0; i < av_nn_num_outputs(f); i++) {
        const char *on = av_nn_output(f, i)->name;
        const float *a = fo[i], *b = qo[i];
        double lo = INFINITY, hi = -INFINITY, e = 0;
        for (int64_t k = 0; k < out_numel(f, i); k++) {
            lo = fmin(lo, a[k]), hi = fmax(hi, a[k]);
            e = fmax(e, fabs((double)a[k] - b[k]));
        }
        printf("    %-14s int8 max err %.4g (%.3f of range)\n", on, e, e / (hi - lo));
        CHECK_MSG(e <= 0.08 * (hi - lo), "%s: int8 max error %.4g > 0.08 x range %.4g", on, e,
                  hi - lo);
    }
    free_outputs(f, fo), free_outputs(q, qo);
    av_nn_model_free(f), av_nn_model_free(q);
    free(in);
}

TEST_MAIN(T(nanodet_int8_close_to_float_without_avx2))
