/*
 * load_tflite.c - TFLite flatbuffer -> graph IR.
 *
 * Steps: open the root Model table (version 3), read the builtin code of
 * every operator code, read the tensor table of subgraph 0 (shape, type,
 * buffer index, name), then lower its operators in file order (TFLite
 * stores them executable in that order; finalize re-sorts anyway and fails
 * cleanly on cycles) and mark the subgraph's inputs and outputs.
 *
 * Tensors become IR tensors on first use: constants point into the model
 * bytes (which the model keeps alive) unless misaligned for their type, in
 * which case they are copied; activations get their dtype and quantisation
 * here and their shape from inference. Quantisation is per tensor (u8/i8,
 * scale + zero point) or per channel (i8 weights: one scale per slice of
 * quantized_dimension, zero points 0).
 */
#include "nn/load/tflite.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* schema field ids */

#define TFL_CUSTOM 32

/* ---- tensors ---- */

static bool read_tensor_meta(av_nn__tfl *L, const av_nn__fb_vec *tv, uint32_t i)
{
    av_nn__fb *fb = &L->fb;
    av_nn__tfl_tensor *t = &L->t[i];
    av_nn__fb_ctx(fb, "tflite: tensor %u", i);
    av_nn__fb_vec shape;
    uint8_t type;
    const char *name;
    size_t nl;
    if (!av_nn__fb_vec_table(fb, tv, i, "tensor", &t->table) ||
        !av_nn__fb_vec_field(fb, &t->table, T_SHAPE, "shape", 4, &shape) ||
        !av_nn__fb_u8(fb, &t->table, T_TYPE, "type", 0, &type) ||
        !av_nn__fb_u32(fb, &t->table, T_BUFFER, "buffer", 0, &t->buffer) ||
        !av_nn__fb_string_field(fb, &t->table, T_NAME, "name", &name, &nl))
        return false;
    t->type = type;
    t->name = name ? name : "";
    av_nn__fb_ctx(fb, "tflite: tensor %u '%.80s'", i, t->name);
    if (shape.present && shape.n > AV_NN_MAX_RANK)
        return av_nn__fb_error(fb, "rank %u exceeds %d", shape.n, AV_NN_MAX_RANK);
    t->rank = shape.present ? (int)shape.n : 0;
    for (int d = 0; d < t->rank; d++) {
        int32_t v = av_nn__fb_vec_i32(fb, &shape, (uint32_t)d);
        if (v < 0)
            return av_nn__fb_error(fb, "dim %d is %d", d, (int)v);
        t->dims[d] = v;
    }
    return true;
}

/* ---- operators ---- */

static bool read_index_vec(av_nn__tfl *L, const av_nn__fb_table *t, int id, const char *what,
                           int32_t *out, int max, int *n)
{
    av_nn__fb *fb = &L->fb;
    av_nn__fb_vec v;
    if (!av_nn__fb_vec_field(fb, t, id, what, 4, &v))
        return false;
    *n = 0;
    if (!v.present)
        return true;
    if (v.n > (uint32_t)max)
        return av_nn__fb_error(fb, "%u %s (at most %d)", v.n, what, max);
    for (uint32_t k = 0; k < v.n; k++) {
        int32_t x = av_nn__fb_vec_i32(fb, &v, k);
        if (x < -1 || (x >= 0 && (uint32_t)x >= L->n_t))
            return av_nn__fb_error(fb, "%s %u names tensor %d of %u", what, k, (int)x, L->n_t);
        out[k] = x;
    }
    *n = (int)v.n;
    return true;
}

static av_nn_status lower_operator(av_nn__tfl *L, const av_nn__fb_vec *ops, uint32_t k)
{
    av_nn__fb *fb = &L->fb;
    av_nn__tfl_op op = {.index = k};
    av_nn__fb_table t;
    uint32_t ci;
    av_nn__fb_ctx(fb, "tflite: operator %u", k);
    if (!av_nn__fb_vec_table(fb, ops, k, "operator", &t) ||
        !av_nn__fb_u32(fb, &t, OP_CODE, "opcode_index", 0, &ci) ||
        !read_index_vec(L, &t, OP_INPUTS, "inputs", op.in, AV_NN_MAX_NODE_INPUTS, &op.n_in) ||
        !read_index_vec(L, &t, OP_OUTPUTS, "outputs", op.out, AV_NN_MAX_NODE_OUTPUTS,
                        &op.n_out) ||
        !av_nn__fb_u8(fb, &t, OP_OPT_TYPE, "builtin_options_type", 0, &op.opt_type) ||
        !av_nn__fb_table_field(fb, &t, OP_OPT, "builtin_options", &op.opt))
        return AV_NN_E_FORMAT;
    if (ci >= L->n_codes) {
        av_nn__fb_error(fb, "opcode_index %u of %u", ci, L->n_codes);
        return AV_NN_E_FORMAT;
    }
    op.code = L->codes[ci];
    op.custom = L->custom[ci];
    op.op_name = av_nn__tfl_op_name(op.code);
    if (op.n_out < 1 || op.out[0] < 0) {
        av_nn__fb_error(fb, "no outputs");
        return AV_NN_E_FORMAT;
    }
    const char *first = L->t[op.out[0]].name;
    if (first[0])
        snprintf(op.name, sizeof op.name, "%.150s", first);
    else
        snprintf(op.name, sizeof op.name, "op %u", k);
    for (int i = 0; i < op.n_out; i++)
        if (op.out[i] < 0)
            return av_nn__tfl_fail(L, &op, AV_NN_E_FORMAT, "output %d is absent", i);
    av_nn_status st = av_nn__tfl_lower(L, &op);
    /* a tensor that could not be made reports its own status (limit, unsupported type) */
    return st == AV_NN_E_FORMAT && L->tensor_st ? L->tensor_st : st;
}

/* ---- model ---- */

static av_nn_status read_opcodes(av_nn__tfl *L, const av_nn__fb_table *model)
{
    av_nn__fb *fb = &L->fb;
    av_nn__fb_vec v;
    av_nn__fb_ctx(fb, "tflite: model");
    if (!av_nn__fb_vec_field(fb, model, MODEL_OPCODES, "operator_codes", 4, &v))
        return AV_NN_E_FORMAT;
    L->n_codes = v.present ? v.n : 0;
    L->codes = calloc(L->n_codes ? L->n_codes : 1, sizeof *L->codes);
    L->custom = calloc(L->n_codes ? L->n_codes : 1, sizeof *L->custom);
    if (!L->codes || !L->custom)
        return av_nn__fail(L->err, L->errlen, AV_NN_E_NOMEM, "tflite: operator codes");
    for (uint32_t i = 0; i < L->n_codes; i++) {
        av_nn__fb_table oc;
        int8_t dep;
        int32_t code;
        av_nn__fb_ctx(fb, "tflite: operator code %u", i);
        if (!av_nn__fb_vec_table(fb, &v, i, "operator code", &oc) ||
            !av_nn__fb_i8(fb, &oc, OPCODE_DEPRECATED, "deprecated_builtin_code", 0, &dep) ||
            !av_nn__fb_i32(fb, &oc, OPCODE_BUILTIN, "builtin_code", 0, &code))
            return AV_NN_E_FORMAT;
        /* files before schema 3a only set the int8 field: the larger of the two is right */
        L->codes[i] = code > dep ? code : dep;
        if (L->codes[i] == TFL_CUSTOM) {
            const char *cn;
            size_t cl;
            if (!av_nn__fb_string_field(fb, &oc, OPCODE_CUSTOM, "custom_code", &cn, &cl))
                return AV_NN_E_FORMAT;
            (void)cl;
            L->custom[i] = cn; /* reported when an operator uses it */
        }
    }
    return AV_NN_OK;
}

static av_nn_status mark_io(av_nn__tfl *L, const av_nn__fb_table *sg, int id, bool input)
{
    av_nn__fb *fb = &L->fb;
    av_nn__fb_vec v;
    av_nn__fb_ctx(fb, "tflite: subgraph 0 %s", input ? "inputs" : "outputs");
    if (!av_nn__fb_vec_field(fb, sg, id, input ? "inputs" : "outputs", 4, &v))
        return AV_NN_E_FORMAT;
    for (uint32_t k = 0; v.present && k < v.n; k++) {
        int32_t i = av_nn__fb_vec_i32(fb, &v, k);
        if (i < 0 || (uint32_t)i >= L->n_t) {
            av_nn__fb_error(fb, "entry %u names tensor %d of %u", k, (int)i, L->n_t);
            return AV_NN_E_FORMAT;
        }
        av_nn__tid t = av_nn__tfl_tensor_id(L, i);
        if (t < 0)
            return L->tensor_st ? L->tensor_st : AV_NN_E_FORMAT;
        if (input) {
            av_nn__tensor *x = &L->g->tensors[t];
            if (x->data) {
                av_nn__fb_error(fb, "input '%s' has constant data", x->name);
                return AV_NN_E_FORMAT;
            }
            /* inputs keep the file's shape: nothing infers it */
            x->rank = L->t[i].rank;
            memcpy(x->dims, L->t[i].dims, sizeof x->dims);
            if (av_nn__nbytes(x) < 0) {
                char sh[160];
                av_nn__fb_error(fb, "input '%s': shape %s exceeds %lld elements", x->name,
                                av_nn__tfl_shape_str(&L->t[i], sh, sizeof sh),
                                (long long)AV_NN_MAX_ELEMENTS);
                return AV_NN_E_LIMIT;
            }
        }
        if ((input ? av_nn__mark_input(L->g, t) : av_nn__mark_output(L->g, t)) < 0)
            return av_nn__fail(L->err, L->errlen, AV_NN_E_NOMEM, "tflite: marking %s",
                               input ? "inputs" : "outputs");
    }
    if (!input && (!v.present || v.n == 0)) {
        av_nn__fb_error(fb, "the subgraph has no outputs");
        return AV_NN_E_FORMAT;
    }
    return AV_NN_OK;
}

static av_nn_status load(av_nn__tfl *L)
{
    av_nn__fb *fb = &L->fb;
    av_nn__fb_table model, sg;
    av_nn__fb_vec sgs, tensors, ops;
    uint32_t version;
    av_nn__fb_ctx(fb, "tflite: model");
    if (!av_nn__fb_root(fb, &model) ||
        !av_nn__fb_u32(fb, &model, MODEL_VERSION, "version", 0, &version))
        return AV_NN_E_FORMAT;
    if (version != 3) {
        av_nn__fb_error(fb, "schema version %u (only 3 is read)", version);
        return AV_NN_E_UNSUPPORTED;
    }
    av_nn_status st = read_opcodes(L, &model);
    if (st)
        return st;
    av_nn__fb_ctx(fb, "tflite: model");
    if (!av_nn__fb_vec_field(fb, &model, MODEL_BUFFERS, "buffers", 4, &L->buffers) ||
        !av_nn__fb_vec_field(fb, &model, MODEL_SUBGRAPHS, "subgraphs", 4, &sgs))
        return AV_NN_E_FORMAT;
    if (!sgs.present || sgs.n == 0) {
        av_nn__fb_error(fb, "no subgraphs");
        return AV_NN_E_FORMAT;
    }
    av_nn__fb_ctx(fb, "tflite: subgraph 0");
    if (!av_nn__fb_vec_table(fb, &sgs, 0, "subgraph", &sg) ||
        !av_nn__fb_vec_field(fb, &sg, SG_TENSORS, "tensors", 4, &tensors) ||
        !av_nn__fb_vec_field(fb, &sg, SG_OPERATORS, "operators", 4, &ops))
        return AV_NN_E_FORMAT;
    L->n_t = tensors.present ? tensors.n : 0;
    if (L->n_t > AV_NN_MAX_TENSORS)
        return av_nn__fail(L->err, L->errlen, AV_NN_E_LIMIT, "tflite: %u tensors (at most %d)",
                           L->n_t, AV_NN_MAX_TENSORS);
    /* n_t is bounded by the file size too: each entry is a 4-byte offset */
    L->t = calloc(L->n_t ? L->n_t : 1, sizeof *L->t);
    L->tid = malloc((L->n_t ? L->n_t : 1) * sizeof *L->tid);
    if (!L->t || !L->tid)
        return av_nn__fail(L->err, L->errlen, AV_NN_E_NOMEM, "tflite: %u tensors", L->n_t);
    for (uint32_t i = 0; i < L->n_t; i++) {
        L->tid[i] = -2;
        if (!read_tensor_meta(L, &tensors, i))
            return AV_NN_E_FORMAT;
    }
    if ((st = mark_io(L, &sg, SG_INPUTS, true)))
        return st;
    uint32_t n_ops = ops.present ? ops.n : 0;
    if (n_ops > AV_NN_MAX_NODES)
        return av_nn__fail(L->err, L->errlen, AV_NN_E_LIMIT, "tflite: %u operators", n_ops);
    for (uint32_t k = 0; k < n_ops; k++) {
        /* a failed tensor read leaves its message in err; keep its status generic */
        L->err[0] = '\0';
        if ((st = lower_operator(L, &ops, k)))
            return st;
    }
    return mark_io(L, &sg, SG_OUTPUTS, false);
}

av_nn_status av_nn__load_tflite(const uint8_t *buf, size_t len, av_nn__graph **out, char *err,
                                size_t errlen)
{
    *out = NULL;
    char local[256];
    if (!err || !errlen) {
        err = local; /* the loader writes messages as it goes */
        errlen = sizeof local;
    }
    err[0] = '\0';
    av_nn__tfl L = {.err = err, .errlen = errlen};
    av_nn__fb_init(&L.fb, buf, len, err, errlen);
    L.g = av_nn__graph_new();
    av_nn_status st = L.g ? load(&L) : AV_NN_E_NOMEM;
    if (st == AV_NN_E_NOMEM && !err[0])
        snprintf(err, errlen, "tflite: out of memory");
    if (st == AV_NN_OK && err[0])
        err[0] = '\0';
    free(L.t);
    free(L.tid);
    free(L.codes);
    free(L.custom);
    if (st) {
        av_nn__graph_free(L.g);
        return st;
    }
    *out = L.g;
    return AV_NN_OK;
}
