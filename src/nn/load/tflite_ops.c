/*
 * tflite_ops.c - one TFLite builtin operator -> IR nodes.
 *
 * Most operators map to one IR node with the inputs in the order shape.c
 * documents. Where TFLite fuses something the IR does not (an activation on
 * CONCATENATION) or splits an op the IR has whole (PACK, UNPACK, SPLIT with
 * its axis as input 0), the lowering adds the small chain of nodes that
 * computes the same thing. Options tables are read by schema field id
 * after checking the union type names the expected table.
 */
#include "nn/load/tflite.h"

#include <math.h>
#include <string.h>

/* BuiltinOperator codes used here */
enum {
    ADD = 0, AVERAGE_POOL_2D = 1, CONCATENATION = 2, CONV_2D = 3, DEPTHWISE_CONV_2D = 4,
    DEQUANTIZE = 6, FLOOR = 8, FULLY_CONNECTED = 9, LOGISTIC = 14, MAX_POOL_2D = 17, MUL = 18,
    RELU = 19, RELU_N1_TO_1 = 20, RELU6 = 21, RESHAPE = 22, RESIZE_BILINEAR = 23, SOFTMAX = 25,
    TANH = 28, CUSTOM = 32, PAD = 34, GATHER = 36, TRANSPOSE = 39, MEAN = 40, SUB = 41, DIV = 42,
    SQUEEZE = 43, STRIDED_SLICE = 45, EXP = 47, TOPK_V2 = 48, SPLIT = 49, LOG_SOFTMAX = 50,
    CAST = 53, PRELU = 54, MAXIMUM = 55, ARG_MAX = 56, MINIMUM = 57, LESS = 58, NEG = 59,
    PADV2 = 60, GREATER = 61, GREATER_EQUAL = 62, LESS_EQUAL = 63, SELECT = 64, SLICE = 65,
    SIN = 66, TRANSPOSE_CONV = 67, SPARSE_TO_DENSE = 68, TILE = 69, EXPAND_DIMS = 70,
    EQUAL = 71, NOT_EQUAL = 72, LOG = 73, SUM = 74, SQRT = 75, RSQRT = 76, POW = 78,
    ARG_MIN = 79, REDUCE_PROD = 81, REDUCE_MAX = 82, PACK = 83, LOGICAL_OR = 84,
    LOGICAL_AND = 86, LOGICAL_NOT = 87, UNPACK = 88, REDUCE_MIN = 89, FLOOR_DIV = 90,
    SQUARE = 92, FLOOR_MOD = 95, RESIZE_NEAREST_NEIGHBOR = 97, LEAKY_RELU = 98,
    SQUARED_DIFFERENCE = 99, MIRROR_PAD = 100, ABS = 101, SPLIT_V = 102, CEIL = 104,
    COS = 108, ELU = 111, QUANTIZE = 114, ROUND = 116, HARD_SWISH = 117, SELECT_V2 = 123,
    BATCH_MATMUL = 126
};

/* BuiltinOptions union types used here */
enum {
    O_CONV = 1, O_DWCONV = 2, O_POOL = 5, O_FC = 8, O_SOFTMAX = 9, O_CONCAT = 10, O_ADD = 11,
    O_RESIZE_BILINEAR = 15, O_RESHAPE = 17, O_MUL = 21, O_GATHER = 23, O_REDUCER = 27,
    O_SUB = 28, O_DIV = 29, O_STRIDED_SLICE = 32, O_SPLIT = 35, O_TRANSPOSE_CONV = 49,
    O_PACK = 59, O_UNPACK = 64, O_RESIZE_NN = 74, O_LEAKY = 75, O_MIRROR_PAD = 77,
    O_SPLIT_V = 79, O_BATCH_MATMUL = 101
};

static const struct {
    int32_t code;
    const char *name;
} op_names[] = {
    {ADD, "ADD"}, {AVERAGE_POOL_2D, "AVERAGE_POOL_2D"}, {CONCATENATION, "CONCATENATION"},
    {CONV_2D, "CONV_2D"}, {DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D"}, {DEQUANTIZE, "DEQUANTIZE"},
    {FLOOR, "FLOOR"}, {FULLY_CONNECTED, "FULLY_CONNECTED"}, {LOGISTIC, "LOGISTIC"},
    {MAX_POOL_2D, "MAX_POOL_2D"}, {MUL, "MUL"}, {RELU, "RELU"}, {RELU_N1_TO_1, "RELU_N1_TO_1"},
    {RELU6, "RELU6"}, {RESHAPE, "RESHAPE"}, {RESIZE_BILINEAR, "RESIZE_BILINEAR"},
    {SOFTMAX, "SOFTMAX"}, {TANH, "TANH"}, {PAD, "PAD"}, {GATHER, "GATHER"},
    {TRANSPOSE, "TRANSPOSE"}, {MEAN, "MEAN"}, {SUB, "SUB"}, {DIV, "DIV"}, {SQUEEZE, "SQUEEZE"},
    {STRIDED_SLICE, "STRIDED_SLICE"}, {EXP, "EXP"}, {TOPK_V2, "TOPK_V2"}, {SPLIT, "SPLIT"},
    {LOG_SOFTMAX, "LOG_SOFTMAX"}, {CAST, "CAST"}, {PRELU, "PRELU"}, {MAXIMUM, "MAXIMUM"},
    {ARG_MAX, "ARG_MAX"}, {MINIMUM, "MINIMUM"}, {LESS, "LESS"}, {NEG, "NEG"}, {PADV2, "PADV2"},
    {GREATER, "GREATER"}, {GREATER_EQUAL, "GREATER_EQUAL"}, {LESS_EQUAL, "LESS_EQUAL"},
    {SELECT, "SELECT"}, {SLICE, "SLICE"}, {SIN, "SIN"}, {TRANSPOSE_CONV, "TRANSPOSE_CONV"},
    {SPARSE_TO_DENSE, "SPARSE_TO_DENSE"}, {TILE, "TILE"}, {EXPAND_DIMS, "EXPAND_DIMS"},
    {EQUAL, "EQUAL"}, {NOT_EQUAL, "NOT_EQUAL"}, {LOG, "LOG"}, {SUM, "SUM"}, {SQRT, "SQRT"},
    {RSQRT, "RSQRT"}, {POW, "POW"}, {ARG_MIN, "ARG_MIN"}, {REDUCE_PROD, "REDUCE_PROD"},
    {REDUCE_MAX, "REDUCE_MAX"}, {PACK, "PACK"}, {LOGICAL_OR, "LOGICAL_OR"},
    {LOGICAL_AND, "LOGICAL_AND"}, {LOGICAL_NOT, "LOGICAL_NOT"}, {UNPACK, "UNPACK"},
    {REDUCE_MIN, "REDUCE_MIN"}, {FLOOR_DIV, "FLOOR_DIV"}, {SQUARE, "SQUARE"},
    {FLOOR_MOD, "FLOOR_MOD"}, {RESIZE_NEAREST_NEIGHBOR, "RESIZE_NEAREST_NEIGHBOR"},
    {LEAKY_RELU, "LEAKY_RELU"}, {SQUARED_DIFFERENCE, "SQUARED_DIFFERENCE"},
    {MIRROR_PAD, "MIRROR_PAD"}, {ABS, "ABS"}, {SPLIT_V, "SPLIT_V"}, {CEIL, "CEIL"},
    {COS, "COS"}, {ELU, "ELU"}, {QUANTIZE, "QUANTIZE"}, {ROUND, "ROUND"},
    {HARD_SWISH, "HARD_SWISH"}, {SELECT_V2, "SELECT_V2"}, {BATCH_MATMUL, "BATCH_MATMUL"},
    {CUSTOM, "CUSTOM"},
};

const char *av_nn__tfl_op_name(int32_t code)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
        if (op_names[i].code == code)
            return op_names[i].name;
    return NULL;
}

/* ---- helpers ---- */

typedef av_nn__tfl L_t;
typedef av_nn__tfl_op op_t;

static av_nn_status emit(L_t *L, const op_t *op, av_nn__op irop, const av_nn__tid *in, int n_in,
                         const av_nn__tid *out, int n_out, const av_nn__params *p)
{
    av_nn__params zero;
    if (!p) {
        memset(&zero, 0, sizeof zero);
        p = &zero;
    }
    if (av_nn__add_node(L->g, irop, op->name, in, n_in, out, n_out, p) < 0)
        return av_nn__tfl_fail(L, op, AV_NN_E_NOMEM, "cannot add node");
    return AV_NN_OK;
}

/* IR ids of file tensors idx[0..n) (absent -1 stays -1); false on failure (message set). */
static bool ids(L_t *L, const int32_t *idx, int n, av_nn__tid *out)
{
    for (int i = 0; i < n; i++) {
        out[i] = -1;
        if (idx[i] >= 0 && (out[i] = av_nn__tfl_tensor_id(L, idx[i])) < 0)
            return false;
    }
    return true;
}

/* The options table when its union type is `want`; absent options read as defaults. */
static av_nn_status options(L_t *L, const op_t *op, uint8_t want, av_nn__fb_table *t)
{
    memset(t, 0, sizeof *t);
    if (op->opt_type == 0 || !op->opt.present)
        return AV_NN_OK;
    if (op->opt_type != want)
        return av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "options of union type %u, expected %u",
                               op->opt_type, want);
    *t = op->opt;
    return AV_NN_OK;
}

static bool need(L_t *L, const op_t *op, int min_in, int max_in, int n_out)
{
    if (op->n_in < min_in || op->n_in > max_in || op->n_out != n_out) {
        av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "%d inputs and %d outputs (expected %d..%d and %d)",
                        op->n_in, op->n_out, min_in, max_in, n_out);
        return false;
    }
    for (int i = 0; i < min_in; i++)
        if (op->in[i] < 0) {
            av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "input %d is absent", i);
            return false;
        }
    return true;
}

/* Field readers that leave a message naming the operator. */
static bool rd_i32(L_t *L, const op_t *op, const av_nn__fb_table *t, int id, const char *name,
                   int32_t def, int32_t *v)
{
    av_nn__fb_ctx(&L->fb, "tflite: operator %u '%s' options", op->index, op->name);
    return av_nn__fb_i32(&L->fb, t, id, name, def, v);
}

static bool rd_u8(L_t *L, const op_t *op, const av_nn__fb_table *t, int id, const char *name,
                  uint8_t *v)
{
    av_nn__fb_ctx(&L->fb, "tflite: operator %u '%s' options", op->index, op->name);
    return av_nn__fb_u8(&L->fb, t, id, name, 0, v);
}

static bool rd_bool(L_t *L, const op_t *op, const av_nn__fb_table *t, int id, const char *name,
                    bool *v)
{
    av_nn__fb_ctx(&L->fb, "tflite: operator %u '%s' options", op->index, op->name);
    return av_nn__fb_bool(&L->fb, t, id, name, false, v);
}

/* ActivationFunctionType -> fused activation; SIGN_BIT (5) is not supported. */
static av_nn_status act(L_t *L, const op_t *op, uint8_t a, av_nn__fused_act *out)
{
    static const av_nn__act map[] = {AV_NN_ACT_NONE, AV_NN_ACT_RELU, AV_NN_ACT_RELU_N1_1,
                                     AV_NN_ACT_RELU6, AV_NN_ACT_TANH};
    if (a >= sizeof map / sizeof map[0])
        return av_nn__tfl_fail(L, op, AV_NN_E_UNSUPPORTED, "fused activation %u", a);
    memset(out, 0, sizeof *out);
    out->kind = map[a];
    return AV_NN_OK;
}

static av_nn_status padding(L_t *L, const op_t *op, uint8_t pad, av_nn__padding *out)
{
    if (pad > 1)
        return av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "padding %u", pad);
    *out = pad == 0 ? AV_NN_PAD_SAME : AV_NN_PAD_VALID;
    return AV_NN_OK;
}

static av_nn_dtype file_dtype(L_t *L, int32_t i)
{
    av_nn_dtype dt = AV_NN_F32;
    if (i >= 0 && (uint32_t)i < L->n_t)
        av_nn__tfl_dtype(L->t[i].type, &dt);
    return dt;
}

/* Inputs 0..n_in of op and output 0, then one node. */
static av_nn_status simple(L_t *L, const op_t *op, av_nn__op irop, int n_in,
                           const av_nn__params *p)
{
    av_nn__tid in[AV_NN_MAX_NODE_INPUTS], out;
    if (!ids(L, op->in, n_in, in) || !ids(L, op->out, 1, &out))
        return AV_NN_E_FORMAT;
    return emit(L, op, irop, in, n_in, &out, 1, p);
}

/* Output 0 through an activation node after `pre` (for ops without a fused one). */
static av_nn_status with_act(L_t *L, const op_t *op, av_nn__op irop, const av_nn__tid *in,
                             int n_in, const av_nn__params *p, const av_nn__fused_act *a)
{
    av_nn__tid out;
    if (!ids(L, op->out, 1, &out))
        return AV_NN_E_FORMAT;
    if (a->kind == AV_NN_ACT_NONE)
        return emit(L, op, irop, in, n_in, &out, 1, p);
    av_nn__tid mid = av_nn__tfl_synth(L, op, "pre_act", L->g->tensors[out].dtype);
    if (mid < 0)
        return av_nn__tfl_fail(L, op, AV_NN_E_NOMEM, "cannot add tensor");
    L->g->tensors[mid].quant.scale = L->g->tensors[out].quant.scale;
    L->g->tensors[mid].quant.zero_point = L->g->tensors[out].quant.zero_point;
    av_nn_status st = emit(L, op, irop, in, n_in, &mid, 1, p);
    if (st)
        return st;
    av_nn__params q = {0};
    if (a->kind == AV_NN_ACT_TANH) {
        q.unary.kind = AV_NN_UN_TANH;
        return emit(L, op, AV_NN_OP_UNARY, &mid, 1, &out, 1, &q);
    }
    q.clamp.min = a->kind == AV_NN_ACT_RELU_N1_1 ? -1.0f : 0.0f;
    q.clamp.max = a->kind == AV_NN_ACT_RELU ? INFINITY : a->kind == AV_NN_ACT_RELU6 ? 6.0f : 1.0f;
    return emit(L, op, AV_NN_OP_CLAMP, &mid, 1, &out, 1, &q);
}

/* The file's shape of tensor i as a reshape target. */
static void reshape_to(L_t *L, int32_t i, av_nn__params *p)
{
    memset(p, 0, sizeof *p);
    p->reshape.rank = L->t[i].rank;
    memcpy(p->reshape.dims, L->t[i].dims, sizeof p->reshape.dims);
    p->reshape.allowzero = true; /* TFLite shapes are literal: 0 means 0 */
}

static bool const_axis(L_t *L, const op_t *op, int32_t i, int *axis)
{
    int64_t v[1];
    int n;
    if (!av_nn__tfl_const_ints(L, op, i, "axis", v, 1, &n))
        return false;
    if (n != 1 || v[0] < -AV_NN_MAX_RANK || v[0] >= AV_NN_MAX_RANK) {
        av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "axis must be one value in range");
        return false;
    }
    *axis = (int)v[0];
    return true;
}

/* ---- operator families ---- */

static av_nn_status conv(L_t *L, const op_t *op)
{
    bool dw = op->code == DEPTHWISE_CONV_2D, tr = op->code == TRANSPOSE_CONV;
    if (!need(L, op, tr ? 3 : 2, tr ? 4 : 3, 1))
        return AV_NN_E_FORMAT;
    av_nn__fb_table t;
    av_nn_status st = options(L, op, dw ? O_DWCONV : tr ? O_TRANSPOSE_CONV : O_CONV, &t);
    if (st)
        return st;
    uint8_t pad, a;
    int32_t sw, sh, dwf = 1, dhf = 1, mult = 0;
    /* field ids: Conv2D pad 0, sw 1, sh 2, act 3, dil_w 4, dil_h 5; Depthwise inserts
     * depth_multiplier at 3; TransposeConv pad 0, sw 1, sh 2, act 3 */
    int ia = dw ? 4 : 3, idw = dw ? 5 : 4, idh = dw ? 6 : 5;
    if (!rd_u8(L, op, &t, 0, "padding", &pad) || !rd_i32(L, op, &t, 1, "stride_w", 1, &sw) ||
        !rd_i32(L, op, &t, 2, "stride_h", 1, &sh) || !rd_u8(L, op, &t, ia, "activation", &a) ||
        (!tr && (!rd_i32(L, op, &t, idw, "dilation_w_factor", 1, &dwf) ||
                 !rd_i32(L, op, &t, idh, "dilation_h_factor", 1, &dhf))) ||
        (dw && !rd_i32(L, op, &t, 3, "depth_multiplier", 0, &mult)))
        return AV_NN_E_FORMAT;
    if (sw < 1 || sh < 1 || dwf < 1 || dhf < 1 || sw > 4096 || sh > 4096 || dwf > 4096 ||
        dhf > 4096)
        return av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "stride %dx%d, dilation %dx%d", (int)sh,
                               (int)sw, (int)dhf, (int)dwf);
    av_nn__params p = {0};
    p.conv.stride_h = sh;
    p.conv.stride_w = sw;
    p.conv.dilation_h = dhf;
    p.conv.dilation_w = dwf;
    p.conv.groups = 1;
    (void)mult; /* inferred from the filter: old converters wrote wrong multipliers */
    if ((st = padding(L, op, pad, &p.conv.padding)) || (st = act(L, op, a, &p.conv.act)))
        return st;
    av_nn__tid in[4], out;
    if (tr) {
        /* TFLite: [output_shape, weights, input, bias?] -> IR [x, w, bias, out_shape] */
        int32_t order[4] = {op->in[2], op->in[1], op->n_in > 3 ? op->in[3] : -1, op->in[0]};
        if (!ids(L, order, 4, in) || !ids(L, op->out, 1, &out))
            return AV_NN_E_FORMAT;
        return emit(L, op, AV_NN_OP_TRANSPOSE_CONV2D, in, 4, &out, 1, &p);
    }
    if (!ids(L, op->in, op->n_in, in) || !ids(L, op->out, 1, &out))
        return AV_NN_E_FORMAT;
    return emit(L, op, dw ? AV_NN_OP_DEPTHWISE_CONV2D : AV_NN_OP_CONV2D, in, op->n_in, &out, 1,
                &p);
}

static av_nn_status fully_connected(L_t *L, const op_t *op)
{
    if (!need(L, op, 2, 3, 1))
        return AV_NN_E_FORMAT;
    av_nn__fb_table t;
    av_nn_status st = options(L, op, O_FC, &t);
    uint8_t a, wf;
    bool keep;
    if (st)
        return st;
    if (!rd_u8(L, op, &t, 0, "activation", &a) || !rd_u8(L, op, &t, 1, "weights_format", &wf) ||
        !rd_bool(L, op, &t, 2, "keep_num_dims", &keep))
        return AV_NN_E_FORMAT;
    if (wf != 0)
        return av_nn__tfl_fail(L, op, AV_NN_E_UNSUPPORTED, "shuffled weights format %u", wf);
    av_nn__params p = {0};
    p.fc.keep_dims = keep;
    if ((st = act(L, op, a, &p.fc.act)))
        return st;
    return simple(L, op, AV_NN_OP_FULLY_CONNECTED, op->n_in, &p);
}

static av_nn_status pool(L_t *L, const op_t *op)
{
    if (!need(L, op, 1, 1, 1))
        return AV_NN_E_FORMAT;
    av_nn__fb_table t;
    av_nn_status st = options(L, op, O_POOL, &t);
    uint8_t pad, a;
    int32_t sw, sh, fw, fh;
    if (st)
        return st;
    if (!rd_u8(L, op, &t, 0, "padding", &pad) || !rd_i32(L, op, &t, 1, "stride_w", 1, &sw) ||
        !rd_i32(L, op, &t, 2, "stride_h", 1, &sh) ||
        !rd_i32(L, op, &t, 3, "filter_width", 1, &fw) ||
        !rd_i32(L, op, &t, 4, "filter_height", 1, &fh) || !rd_u8(L, op, &t, 5, "activation", &a))
        return AV_NN_E_FORMAT;
    if (sw < 1 || sh < 1 || fw < 1 || fh < 1 || sw > 4096 || sh > 4096 || fw > 65536 ||
        fh > 65536)
        return av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "filter %dx%d stride %dx%d", (int)fh,
                               (int)fw, (int)sh, (int)sw);
    av_nn__params p = {0};
    p.pool.filter_h = fh;
    p.pool.filter_w = fw;
    p.pool.stride_h = sh;
    p.pool.stride_w = sw;
    if ((st = padding(L, op, pad, &p.pool.padding)) || (st = act(L, op, a, &p.pool.act)))
        return st;
    return simple(L, op, op->code == MAX_POOL_2D ? AV_NN_OP_MAX_POOL2D : AV_NN_OP_AVG_POOL2D, 1,
                  &p);
}

static av_nn_status binary(L_t *L, const op_t *op, av_nn__binary_kind kind)
{
    if (!need(L, op, 2, 2, 1))
        return AV_NN_E_FORMAT;
    av_nn__params p = {0};
    p.binary.kind = kind;
    /* ADD/SUB/MUL/DIV carry a fused activation as their first option */
    uint8_t want = op->code == ADD ? O_ADD : op->code == SUB ? O_SUB : op->code == MUL ? O_MUL
                   : op->code == DIV ? O_DIV : 0;
    if (want) {
        av_nn__fb_table t;
        uint8_t a;
        av_nn_status st = options(L, op, want, &t);
        if (st)
            return st;
        if (!rd_u8(L, op, &t, 0, "activation", &a))
            return AV_NN_E_FORMAT;
        if ((st = act(L, op, a, &p.binary.act)))
            return st;
    }
    return simple(L, op, AV_NN_OP_BINARY, 2, &p);
}

static av_nn_status unary(L_t *L, const op_t *op, av_nn__unary_kind kind)
{
    if (!need(L, op, 1, 1, 1))
        return AV_NN_E_FORMAT;
    av_nn__params p = {0};
    p.unary.kind = kind;
    return simple(L, op, AV_NN_OP_UNARY, 1, &p);
}

static av_nn_status clamp(L_t *L, const op_t *op, float lo, float hi)
{
    if (!need(L, op, 1, 1, 1))
        return AV_NN_E_FORMAT;
    av_nn__params p = {0};
    p.clamp.min = lo;
    p.clamp.max = hi;
    return simple(L, op, AV_NN_OP_CLAMP, 1, &p);
}

static av_nn_status softmax(L_t *L, const op_t *op)
{
    if (!need(L, op, 1, 1, 1))
        return AV_NN_E_FORMAT;
    av_nn__params p = {0};
    p.softmax.axis = -1;
    p.softmax.beta = 1.0f;
    p.softmax.log = op->code == LOG_SOFTMAX;
    if (op->code == SOFTMAX) {
        av_nn__fb_table t;
        av_nn_status st = options(L, op, O_SOFTMAX, &t);
        if (st)
            return st;
        av_nn__fb_ctx(&L->fb, "tflite: operator %u '%s' options", op->index, op->name);
        if (!av_nn__fb_f32(&L->fb, &t, 0, "beta", 1.0f, &p.softmax.beta))
            return AV_NN_E_FORMAT;
        if (!(p.softmax.beta > 0.0f) || !isfinite(p.softmax.beta))
            return av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "beta %g", (double)p.softmax.beta);
    }
    return simple(L, op, AV_NN_OP_SOFTMAX, 1, &p);
}

/* RESHAPE, SQUEEZE, EXPAND_DIMS: the output's shape in the file is the target. */
static av_nn_status reshape(L_t *L, const op_t *op)
{
    if (!need(L, op, 1, 2, 1))
        return AV_NN_E_FORMAT;
    av_nn__params p;
    reshape_to(L, op->out[0], &p);
    if (op->code == RESHAPE && op->n_in == 2 && op->in[1] >= 0) {
        /* a constant shape input is authoritative (it may hold -1) */
        av_nn__tid s = av_nn__tfl_tensor_id(L, op->in[1]);
        if (s < 0)
            return AV_NN_E_FORMAT;
        if (L->g->tensors[s].data) {
            int n;
            if (!av_nn__tfl_const_ints(L, op, op->in[1], "shape", p.reshape.dims, AV_NN_MAX_RANK,
                                       &n))
                return AV_NN_E_FORMAT;
            p.reshape.rank = n;
        }
    }
    return simple(L, op, AV_NN_OP_RESHAPE, 1, &p);
}

static av_nn_status concat(L_t *L, const op_t *op)
{
    if (!need(L, op, 1, AV_NN_MAX_NODE_INPUTS, 1))
        return AV_NN_E_FORMAT;
    av_nn__fb_table t;
    av_nn_status st = options(L, op, O_CONCAT, &t);
    int32_t axis;
    uint8_t a;
    if (st)
        return st;
    if (!rd_i32(L, op, &t, 0, "axis", 0, &axis) || !rd_u8(L, op, &t, 1, "activation", &a))
        return AV_NN_E_FORMAT;
    av_nn__fused_act fa;
    if ((st = act(L, op, a, &fa)))
        return st;
    av_nn__params p = {0};
    p.axis.axis = axis;
    av_nn__tid in[AV_NN_MAX_NODE_INPUTS];
    if (!ids(L, op->in, op->n_in, in))
        return AV_NN_E_FORMAT;
    return with_act(L, op, AV_NN_OP_CONCAT, in, op->n_in, &p, &fa);
}

static av_nn_status pad(L_t *L, const op_t *op)
{
    if (!need(L, op, 2, op->code == PADV2 ? 3 : 2, 1))
        return AV_NN_E_FORMAT;
    av_nn__params p = {0};
    p.pad.mode = AV_NN_PADMODE_CONSTANT;
    if (op->code == MIRROR_PAD) {
        av_nn__fb_table t;
        uint8_t mode;
        av_nn_status st = options(L, op, O_MIRROR_PAD, &t);
        if (st)
            return st;
        if (!rd_u8(L, op, &t, 0, "mode", &mode))
            return AV_NN_E_FORMAT;
        if (mode != 0)
            return av_nn__tfl_fail(L, op, AV_NN_E_UNSUPPORTED, "SYMMETRIC mirror padding");
        p.pad.mode = AV_NN_PADMODE_REFLECT;
    }
    return simple(L, op, AV_NN_OP_PAD, op->n_in, &p);
}

static av_nn_status reduce(L_t *L, const op_t *op, av_nn__reduce_kind kind)
{
    if (!need(L, op, 2, 2, 1))
        return AV_NN_E_FORMAT;
    av_nn__fb_table t;
    av_nn_status st = options(L, op, O_REDUCER, &t);
    bool keep;
    if (st)
        return st;
    if (!rd_bool(L, op, &t, 0, "keep_dims", &keep))
        return AV_NN_E_FORMAT;
    av_nn__params p = {0};
    p.reduce.kind = kind;
    p.reduce.keep_dims = keep;
    return simple(L, op, AV_NN_OP_REDUCE, 2, &p);
}

static av_nn_status resize(L_t *L, const op_t *op)
{
    if (!need(L, op, 2, 2, 1))
        return AV_NN_E_FORMAT;
    bool bil = op->code == RESIZE_BILINEAR, align, half;
    av_nn__fb_table t;
    av_nn_status st = options(L, op, bil ? O_RESIZE_BILINEAR : O_RESIZE_NN, &t);
    if (st)
        return st;
    /* ResizeBilinearOptions keeps two deprecated size fields at ids 0, 1 */
    int ia = bil ? 2 : 0;
    if (!rd_bool(L, op, &t, ia, "align_corners", &align) ||
        !rd_bool(L, op, &t, ia + 1, "half_pixel_centers", &half))
        return AV_NN_E_FORMAT;
    av_nn__params p = {0};
    p.resize.mode = bil ? AV_NN_RESIZE_BILINEAR : AV_NN_RESIZE_NEAREST;
    if (align) {
        p.resize.coord = AV_NN_COORD_ALIGN_CORNERS;
        p.resize.nearest = AV_NN_NEAREST_ROUND_PREFER_CEIL; /* TF rounds when aligning */
    } else if (half) {
        p.resize.coord = bil ? AV_NN_COORD_HALF_PIXEL : AV_NN_COORD_TF_HALF_PIXEL_FOR_NN;
        p.resize.nearest = AV_NN_NEAREST_FLOOR;
    } else {
        p.resize.coord = AV_NN_COORD_ASYMMETRIC;
        p.resize.nearest = AV_NN_NEAREST_FLOOR;
    }
    return simple(L, op, AV_NN_OP_RESIZE, 2, &p);
}

static av_nn_status strided_slice(L_t *L, const op_t *op)
{
    if (!need(L, op, 3, 4, 1))
        return AV_NN_E_FORMAT;
    av_nn__fb_table t;
    av_nn_status st = options(L, op, O_STRIDED_SLICE, &t);
    int32_t m[5];
    bool offset;
    static const char *const names[5] = {"begin_mask", "end_mask", "ellipsis_mask",
                                         "new_axis_mask", "shrink_axis_mask"};
    if (st)
        return st;
    for (int i = 0; i < 5; i++)
        if (!rd_i32(L, op, &t, i, names[i], 0, &m[i]))
            return AV_NN_E_FORMAT;
    if (!rd_bool(L, op, &t, 5, "offset", &offset))
        return AV_NN_E_FORMAT;
    if (offset)
        return av_nn__tfl_fail(L, op, AV_NN_E_UNSUPPORTED, "offset=true");
    av_nn__params p = {0};
    p.slice.tf_semantics = true;
    p.slice.begin_mask = (uint32_t)m[0];
    p.slice.end_mask = (uint32_t)m[1];
    p.slice.ellipsis_mask = (uint32_t)m[2];
    p.slice.new_axis_mask = (uint32_t)m[3];
    p.slice.shrink_axis_mask = (uint32_t)m[4];
    return simple(L, op, AV_NN_OP_SLICE, op->n_in, &p);
}

/* SLICE: constant begin and size (-1 = to the end) resolved here. */
static av_nn_status slice(L_t *L, const op_t *op)
{
    if (!need(L, op, 3, 3, 1))
        return AV_NN_E_FORMAT;
    int64_t b[AV_NN_MAX_RANK], s[AV_NN_MAX_RANK];
    int nb, ns;
    if (!av_nn__tfl_const_ints(L, op, op->in[1], "begin", b, AV_NN_MAX_RANK, &nb) ||
        !av_nn__tfl_const_ints(L, op, op->in[2], "size", s, AV_NN_MAX_RANK, &ns))
        return AV_NN_E_FORMAT;
    if (nb != ns || nb != L->t[op->in[0]].rank)
        return av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "begin/size of %d/%d values for rank %d",
                               nb, ns, L->t[op->in[0]].rank);
    av_nn__params p = {0};
    p.slice.resolved = true;
    for (int i = 0; i < nb; i++) {
        if (b[i] < 0 || s[i] < -1 || b[i] > AV_NN_MAX_ELEMENTS || s[i] > AV_NN_MAX_ELEMENTS)
            return av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "begin %lld size %lld on axis %d",
                                   (long long)b[i], (long long)s[i], i);
        p.slice.begin[i] = b[i];
        p.slice.end[i] = s[i] < 0 ? INT64_MAX : b[i] + s[i];
        p.slice.step[i] = 1;
    }
    return simple(L, op, AV_NN_OP_SLICE, 1, &p);
}

static av_nn_status gather(L_t *L, const op_t *op)
{
    if (!need(L, op, 2, 2, 1))
        return AV_NN_E_FORMAT;
    av_nn__fb_table t;
    av_nn_status st = options(L, op, O_GATHER, &t);
    int32_t axis, bd;
    if (st)
        return st;
    if (!rd_i32(L, op, &t, 0, "axis", 0, &axis) || !rd_i32(L, op, &t, 1, "batch_dims", 0, &bd))
        return AV_NN_E_FORMAT;
    if (bd != 0)
        return av_nn__tfl_fail(L, op, AV_NN_E_UNSUPPORTED, "batch_dims %d", (int)bd);
    av_nn__params p = {0};
    p.axis.axis = axis;
    return simple(L, op, AV_NN_OP_GATHER, 2, &p);
}

/* SPLIT [axis, x] with num_splits equal parts; SPLIT_V [x, sizes, axis]. */
static av_nn_status split(L_t *L, const op_t *op)
{
    bool v = op->code == SPLIT_V;
    if (!need(L, op, v ? 3 : 2, v ? 3 : 2, op->n_out))
        return AV_NN_E_FORMAT;
    av_nn__fb_table t;
    av_nn_status st = options(L, op, v ? O_SPLIT_V : O_SPLIT, &t);
    int32_t num;
    if (st)
        return st;
    if (!rd_i32(L, op, &t, 0, "num_splits", op->n_out, &num))
        return AV_NN_E_FORMAT;
    if (num != op->n_out)
        return av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "num_splits %d but %d outputs", (int)num,
                               op->n_out);
    av_nn__params p = {0};
    if (!const_axis(L, op, v ? op->in[2] : op->in[0], &p.split.axis))
        return AV_NN_E_FORMAT;
    av_nn__tid in[2], out[AV_NN_MAX_NODE_OUTPUTS];
    int32_t src[2] = {v ? op->in[0] : op->in[1], v ? op->in[1] : -1};
    if (!ids(L, src, 2, in) || !ids(L, op->out, op->n_out, out))
        return AV_NN_E_FORMAT;
    return emit(L, op, AV_NN_OP_SPLIT, in, v ? 2 : 1, out, op->n_out, &p);
}

/* PACK: each input reshaped to have a 1 at `axis`, then one CONCAT. */
static av_nn_status pack(L_t *L, const op_t *op)
{
    if (!need(L, op, 1, AV_NN_MAX_NODE_INPUTS, 1))
        return AV_NN_E_FORMAT;
    av_nn__fb_table t;
    av_nn_status st = options(L, op, O_PACK, &t);
    int32_t axis;
    if (st)
        return st;
    if (!rd_i32(L, op, &t, 1, "axis", 0, &axis))
        return AV_NN_E_FORMAT;
    const av_nn__tfl_tensor *o = &L->t[op->out[0]];
    int ax = axis < 0 ? axis + o->rank : axis;
    if (ax < 0 || ax >= o->rank)
        return av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "axis %d for output rank %d", (int)axis,
                               o->rank);
    av_nn__tid in[AV_NN_MAX_NODE_INPUTS];
    if (!ids(L, op->in, op->n_in, in))
        return AV_NN_E_FORMAT;
    for (int i = 0; i < op->n_in; i++) {
        av_nn__params r;
        reshape_to(L, op->out[0], &r);
        r.reshape.dims[ax] = 1;
        av_nn__tid x = in[i];
        av_nn__tid mid = av_nn__tfl_synth(L, op, "expand", file_dtype(L, op->in[i]));
        if (mid < 0)
            return av_nn__tfl_fail(L, op, AV_NN_E_NOMEM, "cannot add tensor");
        if ((st = emit(L, op, AV_NN_OP_RESHAPE, &x, 1, &mid, 1, &r)))
            return st;
        in[i] = mid;
    }
    av_nn__params p = {0};
    p.axis.axis = ax;
    av_nn__tid out;
    if (!ids(L, op->out, 1, &out))
        return AV_NN_E_FORMAT;
    return emit(L, op, AV_NN_OP_CONCAT, in, op->n_in, &out, 1, &p);
}

/* UNPACK: SPLIT into num slices, each reshaped to drop `axis`. */
static av_nn_status unpack(L_t *L, const op_t *op)
{
    if (!need(L, op, 1, 1, op->n_out))
        return AV_NN_E_FORMAT;
    av_nn__fb_table t;
    av_nn_status st = options(L, op, O_UNPACK, &t);
    int32_t num, axis;
    if (st)
        return st;
    if (!rd_i32(L, op, &t, 0, "num", op->n_out, &num) || !rd_i32(L, op, &t, 1, "axis", 0, &axis))
        return AV_NN_E_FORMAT;
    if (num != op->n_out)
        return av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "num %d but %d outputs", (int)num,
                               op->n_out);
    av_nn__tid x, out[AV_NN_MAX_NODE_OUTPUTS], mid[AV_NN_MAX_NODE_OUTPUTS];
    if (!ids(L, op->in, 1, &x) || !ids(L, op->out, op->n_out, out))
        return AV_NN_E_FORMAT;
    for (int i = 0; i < op->n_out; i++)
        if ((mid[i] = av_nn__tfl_synth(L, op, "slice", file_dtype(L, op->in[0]))) < 0)
            return av_nn__tfl_fail(L, op, AV_NN_E_NOMEM, "cannot add tensor");
    av_nn__params p = {0};
    p.split.axis = axis;
    if ((st = emit(L, op, AV_NN_OP_SPLIT, &x, 1, mid, op->n_out, &p)))
        return st;
    for (int i = 0; i < op->n_out; i++) {
        av_nn__params r;
        reshape_to(L, op->out[i], &r);
        if ((st = emit(L, op, AV_NN_OP_RESHAPE, &mid[i], 1, &out[i], 1, &r)))
            return st;
    }
    return AV_NN_OK;
}

/* QUANTIZE from a float quantises; from a quantised type it requantises (via f32). */
static av_nn_status quantize(L_t *L, const op_t *op)
{
    if (!need(L, op, 1, 1, 1))
        return AV_NN_E_FORMAT;
    av_nn_dtype from = file_dtype(L, op->in[0]);
    if (from == AV_NN_F32)
        return simple(L, op, AV_NN_OP_QUANTIZE, 1, NULL);
    av_nn__tid x, out;
    if (!ids(L, op->in, 1, &x) || !ids(L, op->out, 1, &out))
        return AV_NN_E_FORMAT;
    av_nn__tid mid = av_nn__tfl_synth(L, op, "real", AV_NN_F32);
    if (mid < 0)
        return av_nn__tfl_fail(L, op, AV_NN_E_NOMEM, "cannot add tensor");
    av_nn_status st = emit(L, op, AV_NN_OP_DEQUANTIZE, &x, 1, &mid, 1, NULL);
    return st ? st : emit(L, op, AV_NN_OP_QUANTIZE, &mid, 1, &out, 1, NULL);
}

static av_nn_status arg_minmax(L_t *L, const op_t *op)
{
    if (!need(L, op, 2, 2, 1))
        return AV_NN_E_FORMAT;
    av_nn__params p = {0};
    if (!const_axis(L, op, op->in[1], &p.argmax.axis))
        return AV_NN_E_FORMAT;
    p.argmax.is_min = op->code == ARG_MIN;
    p.argmax.index_dtype = file_dtype(L, op->out[0]);
    return simple(L, op, AV_NN_OP_ARGMAX, 1, &p);
}

static av_nn_status topk(L_t *L, const op_t *op)
{
    if (!need(L, op, 2, 2, 2))
        return AV_NN_E_FORMAT;
    av_nn__params p = {0};
    p.topk.axis = -1;
    p.topk.largest = true;
    p.topk.sorted = true;
    p.topk.index_dtype = file_dtype(L, op->out[1]);
    av_nn__tid in[2], out[2];
    if (!ids(L, op->in, 2, in) || !ids(L, op->out, 2, out))
        return AV_NN_E_FORMAT;
    return emit(L, op, AV_NN_OP_TOPK, in, 2, out, 2, &p);
}

static av_nn_status leaky(L_t *L, const op_t *op)
{
    if (!need(L, op, 1, 1, 1))
        return AV_NN_E_FORMAT;
    av_nn__fb_table t;
    av_nn_status st = options(L, op, O_LEAKY, &t);
    if (st)
        return st;
    av_nn__params p = {0};
    av_nn__fb_ctx(&L->fb, "tflite: operator %u '%s' options", op->index, op->name);
    if (!av_nn__fb_f32(&L->fb, &t, 0, "alpha", 0.2f, &p.leaky.alpha))
        return AV_NN_E_FORMAT;
    if (!isfinite(p.leaky.alpha))
        return av_nn__tfl_fail(L, op, AV_NN_E_FORMAT, "alpha is not finite");
    return simple(L, op, AV_NN_OP_LEAKY_RELU, 1, &p);
}

static av_nn_status batch_matmul(L_t *L, const op_t *op)
{
    if (!need(L, op, 2, 2, 1))
        return AV_NN_E_FORMAT;
    av_nn__fb_table t;
    av_nn_status st = options(L, op, O_BATCH_MATMUL, &t);
    bool ax, ay;
    if (st)
        return st;
    if (!rd_bool(L, op, &t, 0, "adj_x", &ax) || !rd_bool(L, op, &t, 1, "adj_y", &ay))
        return AV_NN_E_FORMAT;
    if (ax || ay)
        return av_nn__tfl_fail(L, op, AV_NN_E_UNSUPPORTED, "adjoint operands");
    return simple(L, op, AV_NN_OP_MATMUL, 2, NULL);
}

static av_nn_status cast(L_t *L, const op_t *op)
{
    if (!need(L, op, 1, 1, 1))
        return AV_NN_E_FORMAT;
    av_nn__params p = {0};
    if (!av_nn__tfl_dtype(L->t[op->out[0]].type, &p.cast.to))
        return av_nn__tfl_fail(L, op, AV_NN_E_UNSUPPORTED, "cast to type %d",
                               L->t[op->out[0]].type);
    return simple(L, op, AV_NN_OP_CAST, 1, &p);
}

static av_nn_status simple_n(L_t *L, const op_t *op, av_nn__op irop, int n_in)
{
    if (!need(L, op, n_in, n_in, 1))
        return AV_NN_E_FORMAT;
    return simple(L, op, irop, n_in, NULL);
}

av_nn_status av_nn__tfl_lower(av_nn__tfl *L, const av_nn__tfl_op *op)
{
    switch (op->code) {
    case CONV_2D:
    case DEPTHWISE_CONV_2D:
    case TRANSPOSE_CONV: return conv(L, op);
    case FULLY_CONNECTED: return fully_connected(L, op);
    case AVERAGE_POOL_2D:
    case MAX_POOL_2D: return pool(L, op);
    case ADD: return binary(L, op, AV_NN_BIN_ADD);
    case SUB: return binary(L, op, AV_NN_BIN_SUB);
    case MUL: return binary(L, op, AV_NN_BIN_MUL);
    case DIV: return binary(L, op, AV_NN_BIN_DIV);
    case MAXIMUM: return binary(L, op, AV_NN_BIN_MAX);
    case MINIMUM: return binary(L, op, AV_NN_BIN_MIN);
    case POW: return binary(L, op, AV_NN_BIN_POW);
    case SQUARED_DIFFERENCE: return binary(L, op, AV_NN_BIN_SQUARED_DIFF);
    case FLOOR_DIV: return binary(L, op, AV_NN_BIN_FLOOR_DIV);
    case FLOOR_MOD: return binary(L, op, AV_NN_BIN_FLOOR_MOD);
    case LESS: return binary(L, op, AV_NN_BIN_LESS);
    case LESS_EQUAL: return binary(L, op, AV_NN_BIN_LESS_EQUAL);
    case GREATER: return binary(L, op, AV_NN_BIN_GREATER);
    case GREATER_EQUAL: return binary(L, op, AV_NN_BIN_GREATER_EQUAL);
    case EQUAL: return binary(L, op, AV_NN_BIN_EQUAL);
    case NOT_EQUAL: return binary(L, op, AV_NN_BIN_NOT_EQUAL);
    case LOGICAL_AND: return binary(L, op, AV_NN_BIN_AND);
    case LOGICAL_OR: return binary(L, op, AV_NN_BIN_OR);
    case LOGISTIC: return unary(L, op, AV_NN_UN_SIGMOID);
    case TANH: return unary(L, op, AV_NN_UN_TANH);
    case EXP: return unary(L, op, AV_NN_UN_EXP);
    case LOG: return unary(L, op, AV_NN_UN_LOG);
    case SQRT: return unary(L, op, AV_NN_UN_SQRT);
    case RSQRT: return unary(L, op, AV_NN_UN_RSQRT);
    case ABS: return unary(L, op, AV_NN_UN_ABS);
    case NEG: return unary(L, op, AV_NN_UN_NEG);
    case FLOOR: return unary(L, op, AV_NN_UN_FLOOR);
    case CEIL: return unary(L, op, AV_NN_UN_CEIL);
    case ROUND: return unary(L, op, AV_NN_UN_ROUND);
    case SIN: return unary(L, op, AV_NN_UN_SIN);
    case COS: return unary(L, op, AV_NN_UN_COS);
    case SQUARE: return unary(L, op, AV_NN_UN_SQUARE);
    case HARD_SWISH: return unary(L, op, AV_NN_UN_HARDSWISH);
    case ELU: return unary(L, op, AV_NN_UN_ELU);
    case LOGICAL_NOT: return unary(L, op, AV_NN_UN_NOT);
    case RELU: return clamp(L, op, 0.0f, INFINITY);
    case RELU6: return clamp(L, op, 0.0f, 6.0f);
    case RELU_N1_TO_1: return clamp(L, op, -1.0f, 1.0f);
    case LEAKY_RELU: return leaky(L, op);
    case PRELU: return simple_n(L, op, AV_NN_OP_PRELU, 2);
    case SOFTMAX:
    case LOG_SOFTMAX: return softmax(L, op);
    case RESHAPE:
    case SQUEEZE:
    case EXPAND_DIMS: return reshape(L, op);
    case CONCATENATION: return concat(L, op);
    case PAD:
    case PADV2:
    case MIRROR_PAD: return pad(L, op);
    case MEAN: return reduce(L, op, AV_NN_REDUCE_MEAN);
    case SUM: return reduce(L, op, AV_NN_REDUCE_SUM);
    case REDUCE_MAX: return reduce(L, op, AV_NN_REDUCE_MAX);
    case REDUCE_MIN: return reduce(L, op, AV_NN_REDUCE_MIN);
    case REDUCE_PROD: return reduce(L, op, AV_NN_REDUCE_PROD);
    case RESIZE_BILINEAR:
    case RESIZE_NEAREST_NEIGHBOR: return resize(L, op);
    case TRANSPOSE: return simple_n(L, op, AV_NN_OP_TRANSPOSE, 2);
    case STRIDED_SLICE: return strided_slice(L, op);
    case SLICE: return slice(L, op);
    case GATHER: return gather(L, op);
    case SPLIT:
    case SPLIT_V: return split(L, op);
    case PACK: return pack(L, op);
    case UNPACK: return unpack(L, op);
    case CAST: return cast(L, op);
    case QUANTIZE: return quantize(L, op);
    case DEQUANTIZE: return simple_n(L, op, AV_NN_OP_DEQUANTIZE, 1);
    case ARG_MAX:
    case ARG_MIN: return arg_minmax(L, op);
    case TOPK_V2: return topk(L, op);
    case TILE: return simple_n(L, op, AV_NN_OP_TILE, 2);
    case SELECT:
    case SELECT_V2: return simple_n(L, op, AV_NN_OP_WHERE, 3);
    case SPARSE_TO_DENSE: return simple_n(L, op, AV_NN_OP_SPARSE_TO_DENSE, 4);
    case BATCH_MATMUL: return batch_matmul(L, op);
    default: break;
    }
    if (op->code == CUSTOM)
        return av_nn__tfl_fail(L, op, AV_NN_E_UNSUPPORTED,
                               "custom operator '%.100s' is not supported",
                               op->custom ? op->custom : "");
    return av_nn__tfl_fail(L, op, AV_NN_E_UNSUPPORTED, "operator not supported");
}
