/*
 * tflite_fixture.h - small TFLite models built in the tests (t_nn_tflite*):
 * a FlatBuffers writer (back-to-front, like the real builder: children are
 * written before the tables that point at them, so every uoffset points
 * forward) emitting the TFLite schema v3 tables the loader reads, a model
 * builder over it, and loading, running (both backends) and checking them.
 *
 * With AV_TFLITE_SEED_DIR set, tf_maybe_seed writes a model there as a
 * fuzz seed (fuzz/corpus/tflite; scripts/run-tests runs t_nn_tflite so).
 *
 * Linked into every test (Makefile TEST_LIB); failures go through CHECK, so
 * call these only from inside a test case.
 */
#ifndef AV_TFLITE_FIXTURE_H
#define AV_TFLITE_FIXTURE_H

#include "nn/nn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ TFLite model builder */

enum { TT_F32 = 0, TT_I32 = 2, TT_U8 = 3, TT_I64 = 4, TT_STRING = 5, TT_I8 = 9 };
enum {
    OP_ADD = 0, OP_CONCAT = 2, OP_CONV = 3, OP_RESHAPE = 22, OP_SOFTMAX = 25, OP_PAD = 34,
    OP_MEAN = 40, OP_STRIDED_SLICE = 45, OP_SPLIT = 49, OP_CUSTOM = 32, OP_PACK = 83,
    OP_UNPACK = 88
};
enum {
    O_CONV = 1, O_SOFTMAX = 9, O_CONCAT = 10, O_ADD = 11, O_RESHAPE = 17, O_REDUCER = 27,
    O_STRIDED_SLICE = 32, O_SPLIT = 35, O_PACK = 59, O_UNPACK = 64
};

typedef struct mb_tensor {
    char name[32];
    int type;
    int rank; /* -1: no shape vector */
    int32_t dims[12];
    uint32_t buffer;
    int nq; /* scales; 0 = no quantization table */
    float scale[16];
    int64_t zp[16];
    int nzp;
    int qdim;
} mb_tensor;

typedef struct mb_opt {
    int id;
    char kind; /* 'b' u8/bool, 'i' i32, 'f' f32 */
    double v;
} mb_opt;

typedef struct mb_op {
    uint32_t code_index;
    int n_in, n_out;
    int32_t in[16], out[16];
    uint8_t opt_type;
    int n_opt;
    mb_opt opt[8];
} mb_op;

typedef struct mb {
    uint32_t version;
    int n_codes;
    int32_t codes[16];
    const char *custom[16];
    int n_t;
    mb_tensor t[48];
    int n_buf;
    uint8_t *buf[48];
    size_t buf_len[48];
    int n_in, n_out;
    int32_t in[8], out[8];
    int n_ops;
    mb_op ops[24];
    bool no_outputs;
} mb;

void mb_init(mb *m);
void mb_free(mb *m);
/* A tensor (rank -1: no shape vector); its index. */
int mb_tensor_add(mb *m, const char *name, int type, int rank, const int32_t *dims);
/* A constant tensor with n bytes of data; its index. */
int mb_const(mb *m, const char *name, int type, int rank, const int32_t *dims, const void *data,
             size_t n);
int mb_const_i32(mb *m, const char *name, int rank, const int32_t *dims, const int32_t *v,
                 size_t count);
void mb_quant(mb *m, int t, int n, const float *scale, const int64_t *zp, int nzp, int qdim);
/* An operator of builtin code; its index. */
int mb_op_add(mb *m, int32_t code, int n_in, const int32_t *in, int n_out, const int32_t *out);
/* Option field id of the operator's options table of this type ('b' u8/bool, 'i' i32, 'f' f32). */
void mb_opt_add(mb *m, int op, uint8_t type, int id, char kind, double v);
void mb_io(mb *m, int n_in, const int32_t *in, int n_out, const int32_t *out);
/* The flatbuffer (caller frees), its size in *len. */
uint8_t *mb_build(const mb *m, size_t *len);

/* ---- loading and running ---- */

av_nn_status tf_load_mb(const mb *m, av_nn_model **out, char *err, size_t errlen);
/* Loads m; fails the case when it does not load. */
av_nn_model *tf_load_ok(const mb *m);
/* One run of model on backend be in a one-thread context; fails the case on an error. */
void tf_run_on(const av_nn_model *model, av_nn_backend be, const void *const *in,
               void *const *out);
extern const av_nn_backend tf_backends[2]; /* reference, xnnpack */
/* One f32 input, one f32 output of n values: run on both backends, compare with want. */
void tf_check_f32(const mb *m, const float *x, const float *want, int n, double tol);
/* Loading m (or the bytes b) must fail with a message containing needle. */
void tf_check_fails(const mb *m, const char *needle);
void tf_check_fails_bytes(const uint8_t *b, size_t len, const char *needle);

/* ---- fuzz seeds ---- */

/* m must load and be under 4 KiB; written to dir/name.tflite when dir is not NULL. */
void tf_write_seed(const char *dir, const char *name, const mb *m);
/* Write m as a fuzz seed when AV_TFLITE_SEED_DIR is set. */
void tf_maybe_seed(const char *name, const mb *m);

/* ---- models more than one file uses ---- */

/* x[1,4] f32 + c[4] (fused RELU) -> y. */
void tf_add_model(mb *m);
/* x[1,3,3,2] NHWC, w[2,2,2,2] OHWI, bias[2], VALID stride 1, act (3: RELU6);
 * want: the 8 outputs for x, computed here. */
void tf_conv_model(mb *m, float *want, const float *x, int act);

#endif
