/*
 * quant_fixture.h - NanoDet/CenterNet float and int8 runs on bird.bmp for the
 * int8 tests (t_nn_quant, t_nn_quant_noavx2): the model path, its input,
 * output buffers, a calibration table from one photo, one run.
 */
#ifndef AV_TEST_QUANT_FIXTURE_H
#define AV_TEST_QUANT_FIXTURE_H

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

static inline const char *human_model(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "models/human/%s.json", name);
    if (access(path, R_OK) != 0)
        SKIP("models/human missing (run scripts/setup)");
    return path;
}

/* bird.bmp's preprocessed input for model name (the TF.js reference dump). */
static inline float *bird_input(const char *name, size_t *len)
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
static inline void **alloc_outputs(const av_nn_model *m)
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

static inline int64_t out_numel(const av_nn_model *m, int i)
{
    const av_nn_tensor_info *ti = av_nn_output(m, i);
    int64_t n = 1;
    for (int d = 0; d < ti->rank; d++)
        n *= ti->dims[d];
    return n;
}

static inline void free_outputs(const av_nn_model *m, void **o)
{
    for (int i = 0; i < av_nn_num_outputs(m); i++)
        free(o[i]);
    free(o);
}

/* Calibrate model m on input in (one run), write the table to table. */
static inline void calibrate_model(const av_nn_model *m, const void *in, const char *table)
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
static inline void **run_model(const av_nn_model *m, av_nn_backend be, const void *in)
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

#endif
