/*
 * fuzz_tfjs.c - libFuzzer target for the TF.js graph-model loader.
 *
 * The input is the model.json text. Weight shards come from a fixed small
 * folder made once per process: w.bin (1 KiB of float16/float32-friendly
 * bytes) and sub/w2.bin (64 bytes), so manifests that name them get real
 * bytes and every size check is reached. A graph that loads is finalized
 * too (shape inference, folding, passes) but never run: run-time cost is
 * bounded by the engine's limits, not by the fuzzer's budget.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_tfjs -max_len=65536 fuzz/corpus/tfjs
 */
#include "nn/ir/ir.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[256];

static void write_shard(const char *rel, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, rel);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort(); /* the harness itself is broken: nothing to fuzz */
    for (size_t i = 0; i < n; i++) {
        /* small halves and floats: mostly finite values when read either way */
        uint8_t b = (uint8_t)(i % 4 == 3 ? 0x3c : (i * 37) & 0xff);
        fputc(b, f);
    }
    fclose(f);
}

static void setup_dir(void)
{
    if (g_dir[0])
        return;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/fuzz-tfjs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir))
        abort();
    char sub[300];
    snprintf(sub, sizeof sub, "%s/sub", g_dir);
    if (mkdir(sub, 0700) != 0)
        abort();
    write_shard("w.bin", 1024);
    write_shard("sub/w2.bin", 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_dir();
    char err[256];
    av_nn__graph *g = NULL;
    if (av_nn__load_tfjs((const char *)data, size, g_dir, &g, err, sizeof err) == AV_NN_OK) {
        if (!g)
            abort(); /* OK must come with a graph */
        av_nn__graph_finalize(g, err, sizeof err);
        av_nn__graph_free(g);
    } else if (g) {
        abort(); /* a failed load must not hand out a graph */
    }
    return 0;
}
