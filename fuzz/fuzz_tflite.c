/*
 * fuzz_tflite.c - libFuzzer target for the TFLite loader.
 *
 * The input is the model file. It goes through the public in-memory entry
 * (av_nn_load_mem: format detection by the "TFL3" identifier, the checked
 * flatbuffer reader, operator lowering, finalize with shape inference and
 * constant folding). A model that loads is freed, never run: run-time cost
 * is bounded by the engine's limits, not by the fuzzer's budget. Inputs
 * without the identifier would only exercise the other loaders, so the
 * target writes it into a copy: every input reaches the TFLite path.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_tflite -dict=fuzz/tflite.dict corpus_dir fuzz/corpus/tflite
 * (seeds: small models written by tests/t_nn_tflite.c, case fuzz_seeds,
 * with AV_TFLITE_SEED_DIR=fuzz/corpus/tflite).
 */
#include "nn/nn.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    memcpy(copy + 4, "TFL3", 4);
    char err[256];
    av_nn_model *m = NULL;
    if (av_nn_load_mem(copy, size, &m, err, sizeof err) == AV_NN_OK) {
        if (!m)
            abort(); /* OK must come with a model */
        av_nn_model_free(m);
    } else if (m || !err[0]) {
        abort(); /* a failed load hands out no model and says why */
    }
    free(copy);
    return 0;
}
