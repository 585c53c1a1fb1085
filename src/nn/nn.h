/*
 * nn.h - Aviary's inference engine, public face.
 *
 * Loads a TFLite flatbuffer, a TF.js graph model (model.json + shards) or an
 * ONNX protobuf (format told from the bytes, never from the file name),
 * lowers it to one graph IR, optimises it once, and runs it on XNNPACK with a
 * portable C reference kernel behind every op.
 *
 * Objects:
 *   av_nn_model  immutable after av_nn_load(); safe to share between threads.
 *   av_nn_ctx    per-caller run state: XNNPACK operators (weights packed when
 *                the context is made), a thread pool and one planned arena.
 *                One context runs one inference at a time; make one per
 *                worker thread to run several at once.
 *
 * Errors: every fallible call returns an av_nn_status and, when given a
 * buffer, writes a message naming what failed and where (tensor, node, byte
 * offset). Nothing here exits or aborts on bad input.
 */
#ifndef AV_NN_H
#define AV_NN_H

#include <stddef.h>
#include <stdint.h>

#define AV_NN_STATUS_MAP(X)                                   \
    X(OK, 0, "ok")                                            \
    X(E_IO, 1, "cannot read model file")                      \
    X(E_FORMAT, 2, "unrecognised or malformed model")         \
    X(E_UNSUPPORTED, 3, "unsupported operator or attribute")  \
    X(E_LIMIT, 4, "model exceeds a size limit")               \
    X(E_NOMEM, 5, "out of memory")                            \
    X(E_ARG, 6, "invalid argument")                           \
    X(E_BACKEND, 7, "backend failure")

typedef enum av_nn_status {
#define X(name, num, msg) AV_NN_##name = num,
    AV_NN_STATUS_MAP(X)
#undef X
} av_nn_status;

/* Static string for a status; never NULL. */
const char *av_nn_strerror(av_nn_status st);

typedef enum av_nn_dtype {
    AV_NN_F32 = 0,
    AV_NN_F16,
    AV_NN_U8,
    AV_NN_I8,
    AV_NN_I32,
    AV_NN_I64,
    AV_NN_BOOL, /* one byte per element, 0 or 1 */
    AV_NN_DTYPE_COUNT
} av_nn_dtype;

const char *av_nn_dtype_name(av_nn_dtype t);
size_t av_nn_dtype_size(av_nn_dtype t);

typedef enum av_nn_format {
    AV_NN_FORMAT_AUTO = 0,
    AV_NN_FORMAT_TFLITE,
    AV_NN_FORMAT_TFJS,
    AV_NN_FORMAT_ONNX
} av_nn_format;

#define AV_NN_MAX_RANK 8

/* Describes one graph input or output. Strings are owned by the model. */
typedef struct av_nn_tensor_info {
    const char *name;
    av_nn_dtype dtype;
    int rank;
    int64_t dims[AV_NN_MAX_RANK];
    float scale;        /* quantised tensors: real = scale * (q - zero_point) */
    int32_t zero_point; /* scale 0 means not quantised */
} av_nn_tensor_info;

typedef enum av_nn_backend {
    AV_NN_BACKEND_XNNPACK = 0, /* XNNPACK where it supports the node, else reference */
    AV_NN_BACKEND_REFERENCE    /* portable C kernels only: the test oracle */
} av_nn_backend;

typedef struct av_nn_model av_nn_model;
typedef struct av_nn_ctx av_nn_ctx;

/*
 * Load a model. `path` is the model file (for TF.js, model.json; weight
 * shards are read from its folder). On success *out owns the model; free it
 * with av_nn_model_free(). On failure *out is NULL and err (if non-NULL)
 * holds a NUL-terminated message.
 */
av_nn_status av_nn_load(const char *path, av_nn_model **out, char *err, size_t errlen);

/* Load from memory (TFLite or ONNX only; TF.js needs its shards). The bytes
 * are copied where the model keeps them; the caller keeps ownership of buf. */
av_nn_status av_nn_load_mem(const void *buf, size_t len, av_nn_model **out, char *err,
                            size_t errlen);

void av_nn_model_free(av_nn_model *m);

av_nn_format av_nn_model_format(const av_nn_model *m);
int av_nn_num_inputs(const av_nn_model *m);
int av_nn_num_outputs(const av_nn_model *m);
/* Borrowed pointers, valid while the model lives; NULL when i is out of range. */
const av_nn_tensor_info *av_nn_input(const av_nn_model *m, int i);
const av_nn_tensor_info *av_nn_output(const av_nn_model *m, int i);
/* Index of the input/output with this name, or -1. */
int av_nn_find_input(const av_nn_model *m, const char *name);
int av_nn_find_output(const av_nn_model *m, const char *name);

/*
 * A pool of worker threads that several contexts used by one caller thread
 * can share: each context's own pool would leave its idle workers spinning
 * while the next context runs (measured: a detector and a classifier run
 * back to back with a pool each gained nothing from 2 threads; sharing one
 * brings the detector from 51 to 33 ms). Owned by the caller of
 * av_nn_pool_new, freed with av_nn_pool_free after every context using it.
 * A pool runs one context at a time: share it only between contexts used
 * from the same thread.
 */
typedef struct av_nn_pool av_nn_pool;
/* threads <= 1 gives NULL (run on the calling thread), which is not an error. */
av_nn_status av_nn_pool_new(int threads, av_nn_pool **out, char *err, size_t errlen);
void av_nn_pool_free(av_nn_pool *p);
/* fn(ctx, i) for i in [0, n) on the pool's threads, the caller's included;
 * returns when all are done. NULL pool: in turn on the calling thread. For
 * work beside the contexts' runs (the pipeline's crops), never during one. */
void av_nn_pool_for(av_nn_pool *p, void (*fn)(void *ctx, size_t i), void *ctx, size_t n);
/* Threads of the pool (the caller's included); 1 for NULL. */
int av_nn_pool_threads(const av_nn_pool *p);

typedef struct av_nn_ctx_opts {
    int threads;           /* <= 1: run on the calling thread only (ignored with pool) */
    av_nn_backend backend; /* default XNNPACK */
    av_nn_pool *pool;      /* borrowed, may be NULL: the threads to run on instead of our own */
    int batch;             /* 0: the model's batch; N > 0: dim 0 of every input and
                            * output is N (see av_nn_ctx_new) */
} av_nn_ctx_opts;

/*
 * Make a run context for m (which must outlive it). Packs weights for the
 * chosen backend and plans the activation arena. Free with av_nn_ctx_free().
 *
 * With opts->batch = N other than the model's batch (av_nn_model_batch),
 * shapes are re-inferred with dim 0 = N and the arena and operators are
 * planned for that: each input and output then holds N samples back to back
 * (av_nn_input/av_nn_output describe the model's batch; only dim 0 differs).
 * Reshape targets whose dim 0 is the model's batch follow N. A graph whose
 * samples would not stay independent in dim 0 (an op along the batch axis,
 * a reshape that moves it, inputs without a common batch) is refused with
 * AV_NN_E_UNSUPPORTED and a message naming the node; N > 4096 is E_ARG.
 */
av_nn_status av_nn_ctx_new(const av_nn_model *m, const av_nn_ctx_opts *opts, av_nn_ctx **out,
                           char *err, size_t errlen);
void av_nn_ctx_free(av_nn_ctx *c);

/*
 * Run one inference. inputs[i] points at the data of input i laid out as
 * av_nn_input(m, i) describes (row-major, its dtype); outputs[i] receives
 * output i, or is NULL when the caller does not want it (it is computed
 * but not copied out). Buffers belong to the caller and are only
 * read/written during the call.
 */
av_nn_status av_nn_run(av_nn_ctx *c, const void *const *inputs, void *const *outputs, char *err,
                       size_t errlen);

/*
 * Zero-copy input: the bytes of input i inside the context's own arena, for
 * the caller to fill in place and pass as inputs[i] to av_nn_run /
 * av_nn_run_tap, which then copies nothing for it (any other pointer is
 * copied in as usual). *nbytes (may be NULL) gets its size at the
 * context's batch (dim 0 = av_nn_ctx_batch). The buffer is owned by c and
 * valid until av_nn_ctx_free(c); the caller may write it only between runs.
 * A run reuses the bytes for later tensors once the graph has read the
 * input, so its contents are undefined after every run: fill all of it again
 * before each one. NULL (and *nbytes 0) when c is NULL, i is out of range or
 * the input has no bytes in the arena: copy from a buffer of your own then.
 */
void *av_nn_ctx_input_buffer(av_nn_ctx *c, int i, size_t *nbytes);

/*
 * Named intermediate tensors (e.g. a classifier's penultimate features).
 * Names are those of the optimised graph: a tensor a pass fused away (an
 * activation folded into its conv) no longer exists.
 *
 * av_nn_find_tensor describes the tensor called name (strings owned by m;
 * dims at the model's batch) and sets *data (may be NULL) to its constant
 * values, borrowed from m, or NULL for a computed tensor. E_ARG when no
 * tensor has that name.
 *
 * av_nn_last_fc names the input, weights ([N, K]) and bias ([N], "" when
 * none) of the last fully connected node in execution order: a classifier
 * head. E_ARG when the graph has none.
 *
 * av_nn_run_tap is av_nn_run that also copies computed tensor `name` into
 * tap (tap_len must equal its bytes at the context's batch: numel x dtype
 * size, dim 0 = av_nn_ctx_batch) as soon as it is written.
 */
av_nn_status av_nn_find_tensor(const av_nn_model *m, const char *name, av_nn_tensor_info *info,
                               const void **data, char *err, size_t errlen);
av_nn_status av_nn_last_fc(const av_nn_model *m, const char **input, const char **weights,
                           const char **bias, char *err, size_t errlen);
av_nn_status av_nn_run_tap(av_nn_ctx *c, const void *const *inputs, void *const *outputs,
                           const char *name, void *tap, size_t tap_len, char *err, size_t errlen);

/*
 * Weights released once packed (memory): with on != 0, from now on a context
 * of m (XNNPACK backend) that runs a convolution on the packed GEMM frees the
 * graph's f32 copy of its weights right after packing it, when no live
 * context reads them from the graph (reference kernels) and nothing else
 * does; the contexts of m share the packed copy. Whatever needs the f32
 * weights later (a reference context, a node another kernel takes, a batch
 * context, av_nn_model_quantize, av_nn_find_tensor's data) gets them back
 * first, unpacked bit for bit; they stay until a later context releases them
 * again. av_nn_model_released_bytes: the f32 bytes released now.
 */
void av_nn_model_release_packed(av_nn_model *m, int on);
size_t av_nn_model_released_bytes(const av_nn_model *m);

/* Dim 0 shared by every input of m (its batch), or -1 when there is none. */
int64_t av_nn_model_batch(const av_nn_model *m);

/* Batch a context runs: dim 0 of its inputs and outputs (-1 as above). */
int64_t av_nn_ctx_batch(const av_nn_ctx *c);

/* Bytes of the planned activation arena of a context (for benchmarks). */
size_t av_nn_ctx_arena_bytes(const av_nn_ctx *c);

/*
 * int8 post-training quantisation (quant.c).
 *
 * Calibration: av_nn_calib_new makes an empty range table for float model m
 * (which must outlive it; free with av_nn_calib_free). Each av_nn_calib_run
 * is av_nn_run on ctx (a context of m at m's batch) that also widens the
 * [min, max] of every computed f32 tensor. av_nn_calib_save writes the table
 * as text (comment: optional lines written behind '#'); E_ARG before any run.
 *
 * av_nn_model_quantize rewrites m in place from the table at calib_path:
 * each float conv2d / depthwise conv2d with a range for its input and output
 * and a clamp-like fused activation runs as an XNNPACK qc8 convolution
 * (per-output-channel int8 weights, per-tensor int8 activations), with
 * QUANTIZE / DEQUANTIZE where int8 meets float; other ops stay float. Call it
 * before any context of m exists. A table naming a tensor m lacks is refused
 * (E_FORMAT naming the line). On any failure m is left unusable: free it.
 * rep (may be NULL) receives what was done.
 */
typedef struct av_nn_calib av_nn_calib;
typedef struct av_nn_quant_report {
    int quantised;  /* convolutions now int8 */
    int kept_float; /* convolutions left float (no range, activation, scale limits) */
    int boundaries; /* QUANTIZE + DEQUANTIZE nodes in the rewritten graph */
} av_nn_quant_report;

av_nn_status av_nn_calib_new(const av_nn_model *m, av_nn_calib **out, char *err, size_t errlen);
void av_nn_calib_free(av_nn_calib *cal);
av_nn_status av_nn_calib_run(av_nn_calib *cal, av_nn_ctx *ctx, const void *const *inputs,
                             void *const *outputs, char *err, size_t errlen);
av_nn_status av_nn_calib_save(const av_nn_calib *cal, const char *path, const char *comment,
                              char *err, size_t errlen);
av_nn_status av_nn_model_quantize(av_nn_model *m, const char *calib_path,
                                  av_nn_quant_report *rep, char *err, size_t errlen);

#endif
