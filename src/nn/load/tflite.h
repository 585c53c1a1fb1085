/*
 * tflite.h - the TFLite flatbuffer loader's internals (internal to src/nn).
 *
 * load_tflite.c reads the model table, the operator codes, the tensors of
 * subgraph 0 (shape, type, buffer, quantisation) and drives the lowering;
 * tflite_ops.c lowers one TFLite builtin operator each into IR nodes. Field
 * ids below are the TFLite schema's (schema.fbs, version 3); no generated
 * code is used, every field is read through flatbuf.h's checked accessors.
 */
#ifndef AV_NN_TFLITE_H
#define AV_NN_TFLITE_H

#include "nn/load/flatbuf.h"
#include "nn/ir/ir.h"

#include <stdbool.h>
#include <stdint.h>

/* What the file says of one tensor of subgraph 0 (read up front, cheap). */
typedef struct av_nn__tfl_tensor {
    int type;   /* TFLite TensorType */
    int rank;
    int64_t dims[AV_NN_MAX_RANK];
    uint32_t buffer;
    const char *name; /* points into the file (NUL checked), "" when absent */
    av_nn__fb_table table;
} av_nn__tfl_tensor;

typedef struct av_nn__tfl {
    av_nn__fb fb;
    av_nn__graph *g;
    av_nn__fb_vec buffers;
    av_nn__tfl_tensor *t; /* n_t entries */
    uint32_t n_t;
    av_nn__tid *tid;      /* IR id of each file tensor; -2 until first use */
    int32_t *codes;       /* builtin code of each operator code */
    const char **custom;  /* custom_code of each operator code (into the file), NULL if none */
    uint32_t n_codes;
    int synth;            /* counter for names of tensors the lowering adds */
    av_nn_status tensor_st; /* why the last tensor read failed (E_FORMAT, E_LIMIT, ...) */
    char *err;
    size_t errlen;
} av_nn__tfl;

/* One operator being lowered: file tensor indices (-1 = absent) and its options. */
typedef struct av_nn__tfl_op {
    uint32_t index;  /* position in the subgraph, for messages */
    int32_t code;    /* BuiltinOperator */
    const char *custom; /* custom_code when code is CUSTOM (may be NULL) */
    const char *op_name; /* av_nn__tfl_op_name(code), NULL when not in the table */
    int n_in, n_out;
    int32_t in[AV_NN_MAX_NODE_INPUTS];
    int32_t out[AV_NN_MAX_NODE_OUTPUTS];
    uint8_t opt_type; /* BuiltinOptions union type, 0 = none */
    av_nn__fb_table opt;
    char name[160];  /* node name: first output's tensor name, else "op N" */
} av_nn__tfl_op;

/* IR tensor for file tensor i, created on first use (constants read then). -1 on failure. */
av_nn__tid av_nn__tfl_tensor_id(av_nn__tfl *L, int32_t i);
/* New activation tensor for intermediate results of a lowering; -1 on failure. */
av_nn__tid av_nn__tfl_synth(av_nn__tfl *L, const av_nn__tfl_op *op, const char *what,
                            av_nn_dtype dt);
/* Constant integer data of file tensor i (at most max values); false with a message. */
bool av_nn__tfl_const_ints(av_nn__tfl *L, const av_nn__tfl_op *op, int32_t i, const char *what,
                           int64_t *out, int max, int *count);
/* Map a TFLite TensorType to an IR dtype; false when unsupported. */
bool av_nn__tfl_dtype(int type, av_nn_dtype *dt);

/* Message naming the operator; returns st. */
av_nn_status av_nn__tfl_fail(av_nn__tfl *L, const av_nn__tfl_op *op, av_nn_status st,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Name of a builtin operator code ("CONV_2D"), or NULL when not in our table. */
const char *av_nn__tfl_op_name(int32_t code);
/* Lower one operator (tflite_ops.c). */
av_nn_status av_nn__tfl_lower(av_nn__tfl *L, const av_nn__tfl_op *op);

/* "[1,224,224,3]" into buf (tflite_tensors.c). */
const char *av_nn__tfl_shape_str(const av_nn__tfl_tensor *t, char *buf, size_t n);

/* Field indices of the TFLite schema tables (tflite/schema.fbs). */
enum { MODEL_VERSION = 0, MODEL_OPCODES = 1, MODEL_SUBGRAPHS = 2, MODEL_BUFFERS = 4 };
enum { OPCODE_DEPRECATED = 0, OPCODE_CUSTOM = 1, OPCODE_BUILTIN = 3 };
enum { SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPERATORS = 3 };
enum { T_SHAPE = 0, T_TYPE = 1, T_BUFFER = 2, T_NAME = 3, T_QUANT = 4, T_VARIABLE = 5,
       T_SPARSITY = 6 };
enum { Q_SCALE = 2, Q_ZERO = 3, Q_DIM = 6 };
enum { BUF_DATA = 0, BUF_OFFSET = 1, BUF_SIZE = 2 };
enum { OP_CODE = 0, OP_INPUTS = 1, OP_OUTPUTS = 2, OP_OPT_TYPE = 3, OP_OPT = 4 };

#endif
