/*
 * t_nn_quant_noavx2.c - the int8 rewrite (nn/quant.c) on a CPU without
 * AVX2 (AV_NN_NO_AVX2=1, set before any kernel is picked): there a leaky
 * relu conv would run as XNNPACK's qc8 on the pre-activation's coarse scale
 * (up to ys / alpha per step) and then the table (xnn_qlut.c), and NanoDet's
 * int8 outputs drifted twice past the bound t_nn_quant.c holds them to on
 * AVX2 (0.157 of Identity_1:0's range against 0.08). Such convs stay float.
 */
#include "harness.h"
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

static const char *human_model(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "models/human/%s.json", name);
    if (access(path, R_OK) != 0)
        SKIP("models/human missing (run scripts/setup)");
    return path;
}

/* bird.bmp's preprocessed input for model name (the TF.js reference dump). */
static float *bird_input(const char *name, size_t *len)
{
    char p[1100], dir[512];
    snprintf(p, sizeof p, "reference/tfjs/reference/%s/tensors/bird.bmp.tensors.json", name);
    snprintf(dir, sizeof dir, "%s", av_test_shared(p));
    json_error_t je;
    json_t *desc = json_load_file(dir, 0, &je);
    CHECK_MSG(desc, "%s: %s", dir, je.text);
    *strrchr(dir, '/') = '\0';
    json_t *files = json_object_get(desc, "files");
    float *in = NULL;
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);
        if (strcmp(json_string_value(json_object_get(f, "role")), "input"))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, json_string_value(json_object_get(f, "file")));
        in = av_test_read_file(p, len);
    }
    json_decref(desc);
    CHECK_MSG(in, "no input dump for %s", name);
    return in;
}

/* Output buffers of m (caller frees each and the array). */
static void **alloc_outputs(const av_nn_model *m)
{
    int no = av_nn_num_outputs(m);
    void **o = calloc((size_t)no, sizeof *o);
    CHECK(o);
    for (int i = 0; i < no; i++) {
        const av_nn_tensor_info *ti = av_nn_output(m, i);
        int64_t n = 1;
        for (int d = 0; d < ti->rank; d++)
            n *= ti->dims[d];
        CHECK(o[i] = calloc((size_t)n + 1, av_nn_dtype_size(ti->dtype)));
    }
    return o;
}

static int64_t out_numel(const av_nn_model *m, int i)
{
    const av_nn_tensor_info *ti = av_nn_output(m, i);
    int64_t n = 1;
    for (int d = 0; d < ti->rank; d++)
        n *= ti->dims[d];
    return n;
}

static void free_outputs(const av_nn_model *m, void **o)
{
    for (int i = 0; i < av_nn_num_outputs(m); i++)
        free(o[i]);
    free(o);
}

/* Calibrate model m on input in (one run), write the table to table. */
static void calibrate_model(const av_nn_model *m, const void *in, const char *table)
{
    char err[512];
    av_nn_ctx *c = NULL;
    CHECK_MSG(av_nn_ctx_new(m, NULL, &c, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn_calib *cal = NULL;
    CHECK_MSG(av_nn_calib_new(m, &cal, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK(av_nn_calib_save(cal, table, NULL, err, sizeof err) == AV_NN_E_ARG); /* no run yet */
    void **o = alloc_outputs(m);
    const void *ins[1] = {in};
    CHECK_MSG(av_nn_calib_run(cal, c, ins, o, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_MSG(av_nn_calib_save(cal, table, "test\none input", err, sizeof err) == AV_NN_OK, "%s",
              err);
    free_outputs(m, o);
    av_nn_calib_free(cal);
    av_nn_ctx_free(c);
}

/* Run model m on in with backend be into fresh outputs. */
static void **run_model(const av_nn_model *m, av_nn_backend be, const void *in)
{
    char err[512];
    av_nn_ctx_opts o = {.threads = 1, .backend = be};
    av_nn_ctx *c = NULL;
    CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "%s", err);
    void **out = alloc_outputs(m);
    const void *ins[1] = {in};
    CHECK_MSG(av_nn_run(c, ins, out, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn_ctx_free(c);
    return out;
}

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
