/*
 * onnx.h - the ONNX loader's internals (internal to src/nn).
 *
 * onnx_proto.c reads the protobuf messages we need (ModelProto, GraphProto,
 * NodeProto, AttributeProto, TensorProto, ValueInfoProto) into the plain
 * structs below; strings and nested messages stay views into the model
 * buffer, which must outlive the parsed model. load_onnx.c orders the nodes
 * and drives the lowering; onnx_ops*.c lower one ONNX op each into IR nodes.
 */
#ifndef AV_NN_ONNX_H
#define AV_NN_ONNX_H

#include "nn/ir/ir.h"
#include "nn/load/pb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A string inside the model buffer: not NUL-terminated. */
typedef struct av_nn__onnx_str {
    const char *p;
    size_t n;
} av_nn__onnx_str;

bool av_nn__onnx_str_eq(av_nn__onnx_str s, const char *z);

/* AttributeProto.AttributeType values we read. */
enum {
    AV_NN_ONNX_ATTR_FLOAT = 1,
    AV_NN_ONNX_ATTR_INT = 2,
    AV_NN_ONNX_ATTR_STRING = 3,
    AV_NN_ONNX_ATTR_TENSOR = 4,
    AV_NN_ONNX_ATTR_GRAPH = 5,
    AV_NN_ONNX_ATTR_FLOATS = 6,
    AV_NN_ONNX_ATTR_INTS = 7,
    AV_NN_ONNX_ATTR_STRINGS = 8
};

typedef struct av_nn__onnx_attr {
    av_nn__onnx_str name;
    int type;       /* AttributeType; 0 when the file leaves it out */
    float f;        /* FLOAT */
    int64_t i;      /* INT */
    av_nn__onnx_str s; /* STRING */
    av_nn__pb t;    /* TENSOR: reader over the TensorProto (t.p NULL when absent) */
    av_nn__pb msg;  /* the whole AttributeProto, re-read for FLOATS / INTS */
} av_nn__onnx_attr;

typedef struct av_nn__onnx_node {
    av_nn__onnx_str name, op_type, domain;
    int n_in, n_out, n_attr;
    av_nn__onnx_str *in, *out; /* "" = absent optional input/output */
    av_nn__onnx_attr *attr;
    size_t off;                /* byte offset of the NodeProto, for messages */
} av_nn__onnx_node;

typedef struct av_nn__onnx_value_info {
    av_nn__onnx_str name;
    int elem_type;                 /* ONNX TensorProto.DataType, 0 when absent */
    int rank;                      /* -1 when the shape is absent */
    int64_t dims[AV_NN_MAX_RANK];  /* -1 for a symbolic or missing dim */
    bool is_tensor;                /* false for sequence/map/optional types */
} av_nn__onnx_value_info;

typedef struct av_nn__onnx_arena av_nn__onnx_arena;

typedef struct av_nn__onnx_model {
    int64_t ir_version;
    int64_t opset; /* of the default domain ("" / "ai.onnx"); 1 when not given */
    av_nn__onnx_node *nodes;
    int n_nodes;
    av_nn__pb *inits; /* TensorProto messages of the initializers */
    int n_inits;
    bool has_sparse_init;
    av_nn__onnx_value_info *inputs, *outputs;
    int n_inputs, n_outputs;
    av_nn__onnx_arena *arena; /* owns the arrays above */
} av_nn__onnx_model;

/*
 * Parse a ModelProto from buf[0..len) into *m (views into buf). On failure
 * returns a status with err naming the byte offset; *m is then empty. Free
 * with av_nn__onnx_model_free() in both cases.
 */
av_nn_status av_nn__onnx_parse(const uint8_t *buf, size_t len, av_nn__onnx_model *m, char *err,
                               size_t errlen);
void av_nn__onnx_model_free(av_nn__onnx_model *m);

/* A decoded TensorProto. data is malloc'ed and owned by the caller (free()). */
typedef struct av_nn__onnx_tensor {
    av_nn__onnx_str name;
    int onnx_type;
    av_nn_dtype dtype;
    int rank;
    int64_t dims[AV_NN_MAX_RANK];
    int64_t numel;
    void *data; /* NULL only when numel is 0 */
} av_nn__onnx_tensor;

/*
 * Decode the TensorProto read by msg. FLOAT16 becomes F32 when f16_to_f32,
 * else stays F16. Types the IR lacks (DOUBLE, STRING, INT16, ...) and
 * external data give AV_NN_E_UNSUPPORTED naming the tensor; dims beyond the
 * element limits give AV_NN_E_LIMIT.
 */
av_nn_status av_nn__onnx_tensor_decode(const av_nn__pb *msg, bool f16_to_f32,
                                       av_nn__onnx_tensor *t, char *err, size_t errlen);

/* Decode a whole serialized TensorProto file (the conformance suite's *.pb). */
av_nn_status av_nn__onnx_tensor_decode_buf(const uint8_t *buf, size_t len, bool f16_to_f32,
                                           av_nn__onnx_tensor *t, char *err, size_t errlen);

/* Name of an ONNX TensorProto.DataType, for messages. */
const char *av_nn__onnx_type_name(int onnx_type);

/* ---- attribute access (load_onnx.c); errors name the node and attribute ---- */

const av_nn__onnx_attr *av_nn__onnx_attr_find(const av_nn__onnx_node *n, const char *name);

/* ints/floats of a list attribute: *count -1 when absent; more than cap is an error. */
av_nn_status av_nn__onnx_attr_ints(const av_nn__onnx_node *n, const char *name, int64_t *out,
                                   int cap, int *count, char *err, size_t errlen);
av_nn_status av_nn__onnx_attr_floats(const av_nn__onnx_node *n, const char *name, float *out,
                                     int cap, int *count, char *err, size_t errlen);

/* ---- lowering (onnx_lower.c helpers, used by the onnx_ops_*.c handlers) ---- */

/* State while one ONNX node is lowered. */
typedef struct av_nn__onnx_lower {
    av_nn__graph *g;
    int64_t opset;
    const av_nn__onnx_node *node;
    char label[160];                     /* "node 'name' (OpType)" for messages */
    int n_in;                            /* ONNX inputs, trailing absent ones dropped */
    av_nn__tid in[AV_NN_MAX_NODE_INPUTS]; /* -1 = absent optional input */
    int n_out;
    av_nn__tid out[AV_NN_MAX_NODE_OUTPUTS]; /* bound by the handler; -1 until then */
    bool out_used[AV_NN_MAX_NODE_OUTPUTS]; /* read by a node or a graph output */
    int n_tmp;                           /* counter for intermediate tensor names */
    char *err;
    size_t errlen;
} av_nn__onnx_lower;

typedef av_nn_status av_nn__onnx_op_fn(av_nn__onnx_lower *L);

/* Errors prefixed with the node label. */
av_nn_status av_nn__onnx_fail(av_nn__onnx_lower *L, av_nn_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define AV_NN_ONNX_UNSUP(L, ...) av_nn__onnx_fail((L), AV_NN_E_UNSUPPORTED, __VA_ARGS__)
#define AV_NN_ONNX_BAD(L, ...) av_nn__onnx_fail((L), AV_NN_E_FORMAT, __VA_ARGS__)

/* Tensor tid of the graph (tid must be valid). */
static inline av_nn__tensor *av_nn__onnx_t(av_nn__onnx_lower *L, av_nn__tid t)
{
    return &L->g->tensors[t];
}

/* Input i, or -1 when absent or beyond the inputs given. */
static inline av_nn__tid av_nn__onnx_in(const av_nn__onnx_lower *L, int i)
{
    return i < L->n_in ? L->in[i] : -1;
}

/* The tensor for ONNX output i (named after it), created and bound on first use. */
av_nn_status av_nn__onnx_out(av_nn__onnx_lower *L, int i, av_nn__tid *out);
/* Bind ONNX output i to an existing tensor (an alias; no node). */
void av_nn__onnx_bind(av_nn__onnx_lower *L, int i, av_nn__tid t);

/*
 * Add an IR node, infer its output shapes at once (so later lowering can
 * see them), and fold it into constants when all its inputs are constant.
 * Each out[k] < 0 is replaced by a fresh intermediate tensor.
 */
av_nn_status av_nn__onnx_emit(av_nn__onnx_lower *L, av_nn__op op, const av_nn__params *p,
                              const av_nn__tid *in, int n_in, av_nn__tid *out, int n_out);
/* One-output form: *out < 0 on entry gets a fresh tensor. */
av_nn_status av_nn__onnx_emit1(av_nn__onnx_lower *L, av_nn__op op, const av_nn__params *p,
                               const av_nn__tid *in, int n_in, av_nn__tid *out);

/* Constant tensors (data copied). */
av_nn_status av_nn__onnx_const(av_nn__onnx_lower *L, av_nn_dtype dt, int rank,
                               const int64_t *dims, const void *data, av_nn__tid *out);
av_nn_status av_nn__onnx_const_i64s(av_nn__onnx_lower *L, const int64_t *v, int n,
                                    av_nn__tid *out);
/* Rank-0 constant of dtype dt holding v (converted). */
av_nn_status av_nn__onnx_const_scalar(av_nn__onnx_lower *L, av_nn_dtype dt, double v,
                                      av_nn__tid *out);

/* Values of a constant integer input (AV_NN_E_UNSUPPORTED when not constant). */
av_nn_status av_nn__onnx_const_ints(av_nn__onnx_lower *L, av_nn__tid t, const char *what,
                                    int64_t *out, int cap, int *count);

/* Common IR node shapes; dst < 0 makes a fresh output tensor. */
av_nn_status av_nn__onnx_transpose(av_nn__onnx_lower *L, av_nn__tid x, const int *perm,
                                   int rank, av_nn__tid dst, av_nn__tid *out);
av_nn_status av_nn__onnx_reshape(av_nn__onnx_lower *L, av_nn__tid x, const int64_t *dims,
                                 int rank, av_nn__tid dst, av_nn__tid *out);
av_nn_status av_nn__onnx_binary(av_nn__onnx_lower *L, av_nn__binary_kind k, av_nn__tid a,
                                av_nn__tid b, av_nn__tid dst, av_nn__tid *out);
av_nn_status av_nn__onnx_unary(av_nn__onnx_lower *L, av_nn__unary_kind k, av_nn__tid x,
                               av_nn__tid dst, av_nn__tid *out);

/* Scalar attributes with defaults; a wrong attribute type is an error. */
av_nn_status av_nn__onnx_attr_int(av_nn__onnx_lower *L, const char *name, int64_t def,
                                  int64_t *v);
av_nn_status av_nn__onnx_attr_float(av_nn__onnx_lower *L, const char *name, float def, float *v);
av_nn_status av_nn__onnx_attr_str(av_nn__onnx_lower *L, const char *name, const char *def,
                                  av_nn__onnx_str *v);

/* Op handlers, by family (onnx_ops_math.c, _nn.c, _shape.c, _misc.c). */
typedef struct av_nn__onnx_op_entry {
    const char *op_type;
    av_nn__onnx_op_fn *fn;
    const char *attrs; /* space-separated attribute names the handler reads */
} av_nn__onnx_op_entry;

extern const av_nn__onnx_op_entry av_nn__onnx_ops_math[];
extern const av_nn__onnx_op_entry av_nn__onnx_ops_nn[];
extern const av_nn__onnx_op_entry av_nn__onnx_ops_shape[];
extern const av_nn__onnx_op_entry av_nn__onnx_ops_misc[];

#endif
