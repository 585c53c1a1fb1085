/*
 * fuzz_onnx.c - libFuzzer target for the ONNX loader.
 *
 * The input is the model file. It goes through the public in-memory entry
 * (av_nn_load_mem: format detection, protobuf reader, lowering with
 * load-time shape inference and constant folding, finalize). A model that
 * loads is freed, never run: run-time cost is bounded by the engine's
 * limits, not by the fuzzer's budget. The loader also decodes TensorProto
 * files on their own (the conformance suite's *.pb), so those are fuzzed
 * from the same bytes.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_onnx -max_len=65536 corpus_dir
 * (seed corpus: the model.onnx files of /usr/share/libonnx-testdata).
 */
#include "nn/nn.h"
#include "nn/load/onnx.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    av_nn_model *m = NULL;
    if (av_nn_load_mem(data, size, &m, err, sizeof err) == AV_NN_OK) {
        if (!m)
            abort(); /* OK must come with a model */
        av_nn_model_free(m);
    } else if (m) {
        abort(); /* a failed load must not hand out a model */
    }
    av_nn__onnx_tensor t;
    if (av_nn__onnx_tensor_decode_buf(data, size, false, &t, err, sizeof err) == AV_NN_OK)
        free(t.data);
    return 0;
}
