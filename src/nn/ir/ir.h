/*
 * ir.h - the engine's graph IR (internal to src/nn; not a public header).
 *
 * All three loaders (TFLite, TF.js, ONNX) lower into this one graph:
 *   tensors  dtype + static shape + optional quantisation + optional constant
 *            data; identified by index (av_nn__tid) into graph->tensors.
 *   nodes    op + input tensor ids + output tensor ids + per-op parameters.
 * Layout convention: image tensors are NHWC. Loaders for NCHW formats (ONNX)
 * wrap spatial ops in TRANSPOSE nodes; a pass cancels inverse pairs.
 *
 * Life cycle: a loader calls av_nn__graph_new(), adds tensors and nodes,
 * marks inputs/outputs, then av_nn__graph_finalize() infers shapes, folds
 * constants, fuses, removes dead nodes and topologically sorts. After that
 * the graph is read-only and owned by the model.
 *
 * Naming: av_nn__ is internal-but-shared inside src/nn; static elsewhere.
 *
 * Which input index holds what for each op (and what zero params mean) is
 * written down at the top of shape.c; loaders follow it.
 */
#ifndef AV_NN_IR_H
#define AV_NN_IR_H

#include "nn/nn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard limits that bound every allocation driven by a model file. */
#define AV_NN_MAX_TENSORS (1 << 20)
#define AV_NN_MAX_NODES (1 << 20)
#define AV_NN_MAX_NODE_INPUTS 64       /* concat fan-in, etc. */
#define AV_NN_MAX_NODE_OUTPUTS 64      /* split fan-out */
#define AV_NN_MAX_ELEMENTS (1LL << 31) /* per tensor */
#define AV_NN_MAX_TOTAL_BYTES (4LL << 30)

typedef int32_t av_nn__tid; /* tensor id; -1 = absent optional input */

/*
 * Ops. X(NAME, "name") - the name table is generated from the same list and
 * checked by static_assert in ir.c.
 */
#define AV_NN_OP_LIST(X)                                                     \
    /* compute-heavy, XNNPACK-backed where possible */                       \
    X(CONV2D, "conv2d")             /* in NHWC, w OHWI, bias [O] */            \
    X(DEPTHWISE_CONV2D, "depthwise_conv2d") /* w 1HW(C*m), bias [C*m] */       \
    X(TRANSPOSE_CONV2D, "transpose_conv2d") /* w OHWI */                      \
    X(FULLY_CONNECTED, "fully_connected")   /* in [.., K], w [N,K], bias [N] */ \
    X(MATMUL, "matmul")             /* batched, numpy broadcasting */          \
    X(MAX_POOL2D, "max_pool2d")                                              \
    X(AVG_POOL2D, "avg_pool2d")                                              \
    X(REDUCE, "reduce")             /* mean/sum/max/min/prod over axes */      \
    X(RESIZE, "resize")             /* bilinear / nearest, NHWC */             \
    X(SOFTMAX, "softmax")           /* along p.softmax.axis */                 \
    X(BINARY, "binary")             /* elementwise with broadcasting */        \
    X(UNARY, "unary")               /* elementwise */                          \
    X(CLAMP, "clamp")               /* min/max, also relu/relu6 */             \
    X(LEAKY_RELU, "leaky_relu")                                              \
    X(PRELU, "prelu")                                                        \
    X(BATCH_NORM, "batch_norm")     /* inference form, channel = last axis */  \
    X(PAD, "pad")                   /* constant / reflect / edge */            \
    /* data movement and index ops: reference kernels */                      \
    X(CONCAT, "concat")                                                      \
    X(SPLIT, "split")                                                        \
    X(SLICE, "slice")               /* strided slice, resolved to begin/end/step per axis */ \
    X(TRANSPOSE, "transpose")                                                \
    X(RESHAPE, "reshape")           /* also squeeze/unsqueeze/flatten/expand_dims */ \
    X(GATHER, "gather")                                                      \
    X(TOPK, "topk")                 /* outputs values, indices (i32 or i64) */ \
    X(ARGMAX, "argmax")             /* argmax/argmin along axis */             \
    X(CAST, "cast")                                                          \
    X(QUANTIZE, "quantize")         /* f32 -> u8/i8 with output quant */       \
    X(DEQUANTIZE, "dequantize")     /* u8/i8/f16 -> f32 */                     \
    X(TILE, "tile")                                                          \
    X(WHERE, "where")               /* select(cond, a, b) with broadcasting */ \
    X(SPARSE_TO_DENSE, "sparse_to_dense")                                    \
    X(IDENTITY, "identity")                                                  \
    /* a dw_on 1x1 conv evaluated only at the pixels a gather reads          \
     * (pass_sparse_head.c): in as the conv's, in[3] the flat pixel indices */ \
    X(SPARSE_HEAD, "sparse_head")

typedef enum av_nn__op {
#define X(id, name) AV_NN_OP_##id,
    AV_NN_OP_LIST(X)
#undef X
        AV_NN_OP_COUNT
} av_nn__op;

const char *av_nn__op_name(av_nn__op op);

/* Activation fused into conv / fc / binary outputs by the fusion pass. */
typedef enum av_nn__act {
    AV_NN_ACT_NONE = 0,
    AV_NN_ACT_RELU,
    AV_NN_ACT_RELU6,
    AV_NN_ACT_RELU_N1_1,
    AV_NN_ACT_CLAMP,   /* [act_min, act_max] */
    AV_NN_ACT_LEAKY,   /* alpha */
    AV_NN_ACT_SIGMOID,
    AV_NN_ACT_TANH,
    AV_NN_ACT_SILU,    /* x * sigmoid(x): YOLOX's sigmoid + mul, fused by the pass */
    AV_NN_ACT_HARDSWISH /* x * relu6(x + 3) * alpha, alpha 0 meaning 1/6 (AV_NN_UN_HARDSWISH) */
} av_nn__act;

typedef struct av_nn__fused_act {
    av_nn__act kind;
    float alpha;            /* LEAKY; HARDSWISH scale */
    float min, max;         /* CLAMP */
} av_nn__fused_act;

typedef enum av_nn__padding {
    AV_NN_PAD_EXPLICIT = 0, /* pad_top/left/bottom/right given */
    AV_NN_PAD_SAME,         /* TF 'SAME' (extra pad at bottom/right); resolved at finalize */
    AV_NN_PAD_SAME_LOWER,   /* ONNX SAME_LOWER (extra pad at top/left) */
    AV_NN_PAD_VALID
} av_nn__padding;

typedef struct av_nn__conv_params {
    int stride_h, stride_w;
    int dilation_h, dilation_w;
    av_nn__padding padding;
    int pad_top, pad_left, pad_bottom, pad_right;
    int groups;           /* CONV2D: 1 = dense; DEPTHWISE uses depth_multiplier */
    int depth_multiplier; /* DEPTHWISE_CONV2D */
    int out_pad_h, out_pad_w; /* TRANSPOSE_CONV2D adjustment */
    av_nn__fused_act act;
    /* CONV2D with a residual input (in[3], pass_fuse.c): the tensor its own
     * output was before the add fused (int8 calibration keeps its range by
     * name and quantisation splits the add off again, quant.c) */
    int32_t pre_residual;
    /* CONV2D 1x1 that took the depthwise before it (dw_on, pass_fuse.c):
     * in[0] is the depthwise's input, in[4] and in[5] its filter and bias
     * (-1: none), n_in 6 (in[3] the residual or -1); the depthwise has
     * stride 1, dilation 1, multiplier 1, these pads (its output the size of
     * its input) and act; pre_dw is its own output tensor (quant.c) */
    bool dw_on;
    int dw_pad_top, dw_pad_left, dw_pad_bottom, dw_pad_right;
    av_nn__fused_act dw_act;
    int32_t pre_dw;
    /* A dw_on conv that also took the squeeze-excite multiply before its
     * depthwise (pass_fuse.c, av_nn__fuse_se_dw): n_in 7, in[6] the scale
     * [N or 1, 1, 1, C] that multiplies in[0] per image and channel before
     * the depthwise; pre_scale the multiply's own output tensor (quant.c).
     * Meaningful only where n_in > 6 and in[6] >= 0. */
    int32_t pre_scale;
    /* DEPTHWISE_CONV2D (stride >= 2) that took the 1x1 conv before it
     * (pw_on, pass_fuse.c): in[0] is the conv's input, in[4] and in[5] its
     * filter [C,1,1,Cin] and bias (-1: none), n_in 6 (in[3] -1); pw_act its
     * act; pre_pw its own output tensor (shape inference takes C from
     * in[4]; the reference and quant.c use pre_pw, one image, as its shape) */
    bool pw_on;
    av_nn__fused_act pw_act;
    int32_t pre_pw;
    /* SPARSE_HEAD (pass_sparse_head.c; the rest as the dw_on conv's): the
     * reshape's output the gather read and the conv's own output, whose
     * names an int8 calibration table keeps (quant.c) */
    int32_t pre_rows, pre_head;
} av_nn__conv_params;

typedef struct av_nn__pool_params {
    int filter_h, filter_w;
    int stride_h, stride_w;
    int dilation_h, dilation_w;
    av_nn__padding padding;
    int pad_top, pad_left, pad_bottom, pad_right;
    bool count_include_pad; /* AVG: divide by full window (ONNX option) */
    bool ceil_mode;
    /* MAX_POOL2D, f32, output shape = input shape: y = x * (x == window max),
     * CenterNet's peak mask (max_pool, equal, cast, mul fused by pass_fuse.c) */
    bool peak;
    av_nn__fused_act act;
} av_nn__pool_params;

typedef enum av_nn__reduce_kind {
    AV_NN_REDUCE_MEAN = 0,
    AV_NN_REDUCE_SUM,
    AV_NN_REDUCE_MAX,
    AV_NN_REDUCE_MIN,
    AV_NN_REDUCE_PROD
} av_nn__reduce_kind;

typedef struct av_nn__reduce_params {
    av_nn__reduce_kind kind;
    uint32_t axes_mask; /* bit i set: reduce axis i (resolved, non-negative) */
    bool keep_dims;
} av_nn__reduce_params;

typedef enum av_nn__resize_mode {
    AV_NN_RESIZE_BILINEAR = 0,
    AV_NN_RESIZE_NEAREST
} av_nn__resize_mode;

typedef enum av_nn__coord_mode {
    AV_NN_COORD_ASYMMETRIC = 0, /* TF1: src = dst * scale */
    AV_NN_COORD_ALIGN_CORNERS,
    AV_NN_COORD_HALF_PIXEL,     /* TF2 half_pixel_centers / ONNX half_pixel */
    AV_NN_COORD_PYTORCH_HALF_PIXEL,
    AV_NN_COORD_TF_HALF_PIXEL_FOR_NN
} av_nn__coord_mode;

typedef enum av_nn__nearest_mode {
    AV_NN_NEAREST_FLOOR = 0,
    AV_NN_NEAREST_ROUND_PREFER_FLOOR,
    AV_NN_NEAREST_ROUND_PREFER_CEIL,
    AV_NN_NEAREST_CEIL
} av_nn__nearest_mode;

typedef struct av_nn__resize_params {
    av_nn__resize_mode mode;
    av_nn__coord_mode coord;
    av_nn__nearest_mode nearest;
    int out_h, out_w; /* resolved at finalize when given by a constant input */
} av_nn__resize_params;

typedef enum av_nn__binary_kind {
    AV_NN_BIN_ADD = 0,
    AV_NN_BIN_SUB,
    AV_NN_BIN_MUL,
    AV_NN_BIN_DIV,       /* integer: truncating (ONNX Div) */
    AV_NN_BIN_FLOOR_DIV, /* TF FloorDiv */
    AV_NN_BIN_FLOOR_MOD, /* TF FloorMod, ONNX Mod fmod=0 */
    AV_NN_BIN_FMOD,      /* C fmod semantics, ONNX Mod fmod=1 */
    AV_NN_BIN_MAX,
    AV_NN_BIN_MIN,
    AV_NN_BIN_POW,
    AV_NN_BIN_SQUARED_DIFF,
    AV_NN_BIN_EQUAL,     /* comparison kinds produce BOOL */
    AV_NN_BIN_NOT_EQUAL,
    AV_NN_BIN_LESS,
    AV_NN_BIN_LESS_EQUAL,
    AV_NN_BIN_GREATER,
    AV_NN_BIN_GREATER_EQUAL,
    AV_NN_BIN_AND,       /* logical kinds take and produce BOOL */
    AV_NN_BIN_OR,
    AV_NN_BIN_XOR
} av_nn__binary_kind;

typedef struct av_nn__binary_params {
    av_nn__binary_kind kind;
    av_nn__fused_act act;
} av_nn__binary_params;

typedef enum av_nn__unary_kind {
    AV_NN_UN_ABS = 0,
    AV_NN_UN_NEG,
    AV_NN_UN_EXP,
    AV_NN_UN_LOG,
    AV_NN_UN_SQRT,
    AV_NN_UN_RSQRT,
    AV_NN_UN_SQUARE,
    AV_NN_UN_FLOOR,
    AV_NN_UN_CEIL,
    AV_NN_UN_ROUND,      /* half to even */
    AV_NN_UN_SIGMOID,
    AV_NN_UN_TANH,
    AV_NN_UN_HARDSWISH,   /* x * relu6(x + 3) * alpha; alpha 0 means 1/6 */
    AV_NN_UN_HARDSIGMOID, /* alpha, beta */
    AV_NN_UN_ELU,         /* alpha */
    AV_NN_UN_SELU,        /* alpha, gamma(beta) */
    AV_NN_UN_SOFTPLUS,
    AV_NN_UN_SIN,
    AV_NN_UN_COS,
    AV_NN_UN_RECIPROCAL,
    AV_NN_UN_NOT,         /* BOOL */
    AV_NN_UN_SIGN,
    AV_NN_UN_ERF,
    AV_NN_UN_RELU         /* plain relu on any signed type */
} av_nn__unary_kind;

typedef struct av_nn__unary_params {
    av_nn__unary_kind kind;
    float alpha, beta;
    /* SIGMOID split off a conv (pass_peaktopk.c): computed as the conv's
     * fused act was (av_nn__apply_act; the own backend's sigmoid span) */
    bool as_act;
} av_nn__unary_params;

typedef struct av_nn__clamp_params {
    float min, max; /* +-INFINITY when unbounded */
} av_nn__clamp_params;

typedef struct av_nn__leaky_params {
    float alpha;
} av_nn__leaky_params;

typedef struct av_nn__bn_params {
    float epsilon; /* inputs: x, scale, offset, mean, variance */
} av_nn__bn_params;

typedef enum av_nn__pad_mode {
    AV_NN_PADMODE_CONSTANT = 0,
    AV_NN_PADMODE_REFLECT,
    AV_NN_PADMODE_EDGE
} av_nn__pad_mode;

typedef struct av_nn__pad_params {
    av_nn__pad_mode mode;
    float value;                       /* constant (f32 view; ints cast) */
    int64_t before[AV_NN_MAX_RANK];    /* resolved from the pads input at finalize */
    int64_t after[AV_NN_MAX_RANK];
    bool resolved;
} av_nn__pad_params;

typedef struct av_nn__axis_params {
    int axis; /* may be negative until finalize normalises it */
    /* CONCAT (f32) only: a clamp (relu, relu6, clamp) applied to every
     * element, fused from the clamp that read the concat (pass_fuse.c) */
    av_nn__fused_act act;
    /* CONCAT (f32, rank 4, axis 3) only: input resize_k is the input of the
     * bilinear resize (params `resize`, out_h/out_w resolved) that produced
     * that part, fused into the concat (pass_fuse.c av_nn__fuse_resize_concat):
     * the concat samples it while copying; pre_resize the resize's own
     * output tensor (quant.c splits the resize off again) */
    bool resized;
    int resize_k;
    av_nn__resize_params resize;
    int32_t pre_resize;
    /* CONCAT (f32, rank 4, axis 3) only: out[1] is the per-image, per-channel
     * mean over H and W ([N, 1, 1, C]) of out[0], the reduce it fed fused
     * into the concat (pass_catmean.c); quant.c splits it off again */
    bool mean;
} av_nn__axis_params;

typedef struct av_nn__split_params {
    int axis;
    int64_t sizes[AV_NN_MAX_NODE_OUTPUTS]; /* resolved at finalize */
    bool resolved;
} av_nn__split_params;

typedef struct av_nn__slice_params {
    /* resolved per axis, after TF masks / ONNX clamping, at finalize */
    int64_t begin[AV_NN_MAX_RANK];
    int64_t end[AV_NN_MAX_RANK];
    int64_t step[AV_NN_MAX_RANK];
    /* TF StridedSlice masks, applied when resolving */
    uint32_t begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask;
    bool tf_semantics; /* true: TF StridedSlice; false: ONNX Slice (axes/steps inputs) */
    bool resolved;
} av_nn__slice_params;

typedef struct av_nn__transpose_params {
    int perm[AV_NN_MAX_RANK];
    int rank; /* 0 until known: then reverse order (ONNX default) */
} av_nn__transpose_params;

typedef struct av_nn__reshape_params {
    /* target dims; resolved at finalize from an optional shape input.
     * ONNX: 0 copies the input dim unless allowzero; -1 inferred. */
    int64_t dims[AV_NN_MAX_RANK];
    int rank;
    bool allowzero;
    bool resolved;
} av_nn__reshape_params;

/* k our top-k kernels take at most (xnn_topk.c: candidates on the stack) */
#define AV_NN__TOPK_MAX_K 256

typedef struct av_nn__topk_params {
    int k;       /* resolved at finalize from a constant input */
    int axis;
    bool largest;
    bool sorted;
    av_nn_dtype index_dtype;
    /* CenterNet's peak mask fused in (pass_peaktopk.c): in[0] is the heat
     * map x [N, H, W, C] f32; the rows sorted are its peak mask (MAX_POOL2D
     * with p.pool.peak and peak_pool's window) reshaped to [N, H*W*C]: the
     * outputs are [N, k], axis 1, largest. pre_peak, pre_rows: the mask's
     * tensor and its reshape's (int8 calibration keeps their ranges, quant.c) */
    bool peak;
    int32_t pre_peak, pre_rows;
    av_nn__pool_params peak_pool;
    /* with peak (pass_peaktopk.c's av_nn__sigmoid_peak_pass): in[0] holds
     * logits and the mask is of sigmoid(x), the producing conv's fused act
     * split off (as the backends compute it: av_nn__apply_act, the own
     * av_nn__xnn_sigmoid_span); pre_sig the conv's output before */
    bool sigmoid;
    int32_t pre_sig;
} av_nn__topk_params;

typedef struct av_nn__argmax_params {
    int axis;
    bool keep_dims;
    bool select_last; /* ties -> last index */
    bool is_min;      /* argmin */
    av_nn_dtype index_dtype;
} av_nn__argmax_params;

typedef struct av_nn__cast_params {
    av_nn_dtype to;
} av_nn__cast_params;

typedef struct av_nn__softmax_params {
    int axis;
    float beta; /* TFLite softmax beta; 1 elsewhere */
    bool log;   /* log-softmax */
} av_nn__softmax_params;

typedef struct av_nn__fc_params {
    bool keep_dims;
    av_nn__fused_act act;
} av_nn__fc_params;

typedef union av_nn__params {
    av_nn__conv_params conv;
    av_nn__pool_params pool;
    av_nn__reduce_params reduce;
    av_nn__resize_params resize;
    av_nn__binary_params binary;
    av_nn__unary_params unary;
    av_nn__clamp_params clamp;
    av_nn__leaky_params leaky;
    av_nn__bn_params bn;
    av_nn__pad_params pad;
    av_nn__axis_params axis; /* CONCAT, GATHER */
    av_nn__split_params split;
    av_nn__slice_params slice;
    av_nn__transpose_params transpose;
    av_nn__reshape_params reshape;
    av_nn__topk_params topk;
    av_nn__argmax_params argmax;
    av_nn__cast_params cast;
    av_nn__softmax_params softmax;
    av_nn__fc_params fc;
} av_nn__params;

typedef struct av_nn__quant {
    float scale;        /* 0 = not quantised */
    int32_t zero_point;
    /* per-channel (int8 weights): n_channels scales along axis, owned by graph */
    int32_t axis;
    int32_t n_channels;
    float *channel_scales;
} av_nn__quant;

typedef struct av_nn__tensor {
    char *name;         /* owned; may be "" */
    av_nn_dtype dtype;
    int rank;           /* -1 = unknown until shape inference */
    int64_t dims[AV_NN_MAX_RANK];
    av_nn__quant quant;
    void *data;         /* constant data or NULL for activations */
    bool data_owned;    /* free(data) when the graph is freed */
    /* released (nn/release.c): the f32 copy is freed and data points at the
     * model's release record instead (the identity the packed copy is keyed
     * by); only the packed GEMM may run it until the model restores it */
    bool released;
    bool pinned;        /* data handed out (av_nn_find_tensor): never released */
    bool is_input, is_output;
    int producer;       /* node index or -1 */
    int n_consumers;    /* filled by finalize */
} av_nn__tensor;

typedef struct av_nn__node {
    av_nn__op op;
    char *name; /* owned, for error messages */
    int n_in, n_out;
    av_nn__tid in[AV_NN_MAX_NODE_INPUTS];
    av_nn__tid out[AV_NN_MAX_NODE_OUTPUTS];
    av_nn__params p;
    bool dead; /* removed by a pass; skipped by everyone */
} av_nn__node;

typedef struct av_nn__graph {
    av_nn__tensor *tensors;
    int n_tensors, cap_tensors;
    av_nn__node *nodes;
    int n_nodes, cap_nodes;
    av_nn__tid *inputs;
    int n_inputs;
    av_nn__tid *outputs;
    int n_outputs;
    int *order;   /* topological execution order of live nodes, after finalize */
    int n_order;
    int64_t total_bytes; /* constant bytes held, checked against the limit */
} av_nn__graph;

/* ---- building (loaders) ---- */

/* New empty graph; NULL on OOM. Free with av_nn__graph_free(). */
av_nn__graph *av_nn__graph_new(void);
void av_nn__graph_free(av_nn__graph *g);

/*
 * Add a tensor. name is copied. rank -1 means "infer". When data is non-NULL
 * and own_data is true the graph takes ownership (free() on free/failure);
 * when own_data is false data must outlive the graph (e.g. a mapped file the
 * model keeps). Returns the tensor id, or -1 on OOM / limit (set err).
 */
av_nn__tid av_nn__add_tensor(av_nn__graph *g, const char *name, av_nn_dtype dtype, int rank,
                             const int64_t *dims, void *data, bool own_data);
/* Add a node; in/out arrays are copied; returns node index or -1. */
int av_nn__add_node(av_nn__graph *g, av_nn__op op, const char *name, const av_nn__tid *in,
                    int n_in, const av_nn__tid *out, int n_out, const av_nn__params *p);
int av_nn__mark_input(av_nn__graph *g, av_nn__tid t);
int av_nn__mark_output(av_nn__graph *g, av_nn__tid t);

/* Element count of a tensor with known shape (1 for rank 0); -1 if unknown or overflowing. */
int64_t av_nn__numel(const av_nn__tensor *t);
/* Bytes of a tensor with known shape; -1 if unknown. */
int64_t av_nn__nbytes(const av_nn__tensor *t);

/*
 * Infer shapes, resolve constant parameters, fold constants, fuse,
 * remove dead nodes, sort. On failure returns a status and writes err
 * naming the node ("node 'conv_3' (conv2d): ...").
 */
av_nn_status av_nn__graph_finalize(av_nn__graph *g, char *err, size_t errlen);

/* A fast-path switch read once from the environment: true when `name` is
 * set to "0" (the path is off). *cache starts at -1; threads that race to
 * fill it store the same value (atomic: no data race). */
bool av_nn__env_zero(_Atomic int *cache, const char *name);

/* A fusion's or kernel's off switch: its environment variable set to "0"
 * (av_nn__env_zero, read once) or a test's av_nn__switch_force_off. One
 * static per switch: static av_nn__switch sw = AV_NN__SWITCH("AV_NN_...");. */
typedef struct av_nn__switch {
    const char *env;
    _Atomic int env_off; /* -1 until read */
    _Atomic bool forced_off;
} av_nn__switch;
#define AV_NN__SWITCH(ENV) {.env = (ENV), .env_off = -1, .forced_off = false}
bool av_nn__switch_on(av_nn__switch *s);
void av_nn__switch_force_off(av_nn__switch *s, bool on);

/* snprintf into err if err is non-NULL; returns st for `return av_nn__fail(...)`. */
av_nn_status av_nn__fail(char *err, size_t errlen, av_nn_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with "node 'x' (op): " before the message. */
av_nn_status av_nn__node_fail(char *err, size_t errlen, av_nn_status st, const av_nn__node *n,
                              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- loaders: each returns a graph to be finalized by the caller ---- */
av_nn_status av_nn__load_tflite(const uint8_t *buf, size_t len, av_nn__graph **out, char *err,
                                size_t errlen);
/* dir: folder of model.json, for the shard paths it lists */
av_nn_status av_nn__load_tfjs(const char *json_text, size_t len, const char *dir,
                              av_nn__graph **out, char *err, size_t errlen);
av_nn_status av_nn__load_onnx(const uint8_t *buf, size_t len, av_nn__graph **out, char *err,
                              size_t errlen);

/* ---- float16 helpers (weights) ---- */
float av_nn__f16_to_f32(uint16_t h);
uint16_t av_nn__f32_to_f16(float f);

#endif
