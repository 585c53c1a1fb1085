/*
 * onnx_lower.c - helpers the ONNX op handlers share: emitting IR nodes with
 * immediate shape inference and constant folding, making constants and
 * intermediate tensors, and reading attributes with type checks.
 *
 * Shapes are inferred while loading (not only at finalize) because many
 * ONNX ops can only be lowered exactly once the input rank or dims are
 * known (Flatten, Squeeze, opset < 13 Softmax, 1-D convs, Shape, ...).
 * Nodes whose inputs are all constant are evaluated at once with the
 * reference kernels for the same reason: Shape -> Gather -> Concat ->
 * Reshape chains must become constants before the Reshape is inferred.
 */
#include "nn/load/onnx.h"

#include "nn/backend.h"
#include "nn/core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

av_nn_status av_nn__onnx_fail(av_nn__onnx_lower *L, av_nn_status st, const char *fmt, ...)
{
    if (L->err && L->errlen) {
        int k = snprintf(L->err, L->errlen, "onnx: %s: ", L->label);
        if (k >= 0 && (size_t)k < L->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(L->err + k, L->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return st;
}

static av_nn_status oom(av_nn__onnx_lower *L)
{
    return av_nn__onnx_fail(L, AV_NN_E_NOMEM, "out of memory or tensor limit reached");
}

/* Label for an IR tensor: the first ONNX output's name, a colon, a counter. */
static av_nn__tid new_tmp(av_nn__onnx_lower *L)
{
    char name[300];
    const av_nn__onnx_str o = L->node->n_out ? L->node->out[0] : (av_nn__onnx_str){"", 0};
    snprintf(name, sizeof name, "%.*s:%d", (int)(o.n > 256 ? 256 : o.n), o.p, L->n_tmp++);
    return av_nn__add_tensor(L->g, name, AV_NN_F32, -1, NULL, NULL, false);
}

av_nn_status av_nn__onnx_out(av_nn__onnx_lower *L, int i, av_nn__tid *out)
{
    if (i >= L->n_out || !L->node->out[i].n) {
        /* output left unnamed: still give the node somewhere to write */
        *out = new_tmp(L);
        return *out < 0 ? oom(L) : AV_NN_OK;
    }
    if (L->out[i] < 0) {
        char name[4097];
        av_nn__onnx_str s = L->node->out[i];
        size_t n = s.n < sizeof name - 1 ? s.n : sizeof name - 1;
        memcpy(name, s.p, n);
        name[n] = '\0';
        L->out[i] = av_nn__add_tensor(L->g, name, AV_NN_F32, -1, NULL, NULL, false);
        if (L->out[i] < 0)
            return oom(L);
    }
    *out = L->out[i];
    return AV_NN_OK;
}

void av_nn__onnx_bind(av_nn__onnx_lower *L, int i, av_nn__tid t)
{
    if (i < L->n_out)
        L->out[i] = t;
}

/* Evaluate the last node (all inputs constant) and turn its outputs into constants. */
static av_nn_status fold_last(av_nn__onnx_lower *L)
{
    av_nn__graph *g = L->g;
    av_nn__node *n = &g->nodes[g->n_nodes - 1];
    const void *in[AV_NN_MAX_NODE_INPUTS];
    void *out[AV_NN_MAX_NODE_OUTPUTS] = {0};
    int64_t bytes = 0;
    av_nn_status st = AV_NN_OK;
    for (int i = 0; i < n->n_in; i++)
        in[i] = n->in[i] >= 0 ? g->tensors[n->in[i]].data : NULL;
    for (int k = 0; k < n->n_out && !st; k++) {
        int64_t nb = av_nn__nbytes(&g->tensors[n->out[k]]);
        if (nb < 0 || g->total_bytes + bytes + nb > AV_NN_MAX_TOTAL_BYTES) {
            st = av_nn__onnx_fail(L, AV_NN_E_LIMIT, "constant result exceeds %lld bytes",
                                  (long long)AV_NN_MAX_TOTAL_BYTES);
            break;
        }
        /* slack: kernels may read a little past the end, as in the arena */
        out[k] = calloc(1, (size_t)nb + AV_NN_ARENA_SLACK);
        if (!out[k])
            st = oom(L);
        bytes += nb;
    }
    if (!st)
        st = av_nn__ref_run(g, n, in, out, L->err, L->errlen);
    if (st) {
        for (int k = 0; k < n->n_out; k++)
            free(out[k]);
        return st;
    }
    for (int k = 0; k < n->n_out; k++) {
        av_nn__tensor *t = &g->tensors[n->out[k]];
        t->data = out[k];
        t->data_owned = true;
    }
    g->total_bytes += bytes;
    free(n->name);
    g->n_nodes--;
    return AV_NN_OK;
}

av_nn_status av_nn__onnx_emit(av_nn__onnx_lower *L, av_nn__op op, const av_nn__params *p,
                              const av_nn__tid *in, int n_in, av_nn__tid *out, int n_out)
{
    for (int k = 0; k < n_out; k++) {
        if (out[k] < 0 && (out[k] = new_tmp(L)) < 0)
            return oom(L);
    }
    /* IR nodes carry the ONNX node's name (else its first output's) */
    char name[260];
    const av_nn__onnx_node *on = L->node;
    av_nn__onnx_str nm = on->name.n ? on->name : on->n_out ? on->out[0] : on->op_type;
    snprintf(name, sizeof name, "%.*s", (int)(nm.n > 256 ? 256 : nm.n), nm.p);
    int idx = av_nn__add_node(L->g, op, name, in, n_in, out, n_out, p);
    if (idx < 0)
        return oom(L);
    av_nn__node *n = &L->g->nodes[idx];
    av_nn_status st = av_nn__infer_node(L->g, n, L->err, L->errlen);
    if (st)
        return st;
    bool all_const = true;
    for (int i = 0; i < n_in && all_const; i++)
        all_const = in[i] < 0 || L->g->tensors[in[i]].data != NULL;
    if (all_const && n_in > 0)
        return fold_last(L);
    return AV_NN_OK;
}

av_nn_status av_nn__onnx_emit1(av_nn__onnx_lower *L, av_nn__op op, const av_nn__params *p,
                               const av_nn__tid *in, int n_in, av_nn__tid *out)
{
    return av_nn__onnx_emit(L, op, p, in, n_in, out, 1);
}

av_nn_status av_nn__onnx_const(av_nn__onnx_lower *L, av_nn_dtype dt, int rank,
                               const int64_t *dims, const void *data, av_nn__tid *out)
{
    av_nn__tensor shape = {.dtype = dt, .rank = rank};
    for (int i = 0; i < rank; i++)
        shape.dims[i] = dims[i];
    int64_t nb = av_nn__nbytes(&shape);
    if (nb < 0)
        return av_nn__onnx_fail(L, AV_NN_E_LIMIT, "constant too large");
    void *copy = malloc((size_t)nb + 1);
    if (!copy)
        return oom(L);
    if (nb)
        memcpy(copy, data, (size_t)nb);
    char name[300];
    const av_nn__onnx_str o = L->node->n_out ? L->node->out[0] : (av_nn__onnx_str){"", 0};
    snprintf(name, sizeof name, "%.*s:c%d", (int)(o.n > 256 ? 256 : o.n), o.p, L->n_tmp++);
    *out = av_nn__add_tensor(L->g, name, dt, rank, dims, copy, true);
    return *out < 0 ? av_nn__onnx_fail(L, AV_NN_E_LIMIT, "constants exceed the size limit")
                    : AV_NN_OK;
}

av_nn_status av_nn__onnx_const_i64s(av_nn__onnx_lower *L, const int64_t *v, int n,
                                    av_nn__tid *out)
{
    int64_t d = n;
    return av_nn__onnx_const(L, AV_NN_I64, 1, &d, v, out);
}

av_nn_status av_nn__onnx_const_scalar(av_nn__onnx_lower *L, av_nn_dtype dt, double v,
                                      av_nn__tid *out)
{
    uint8_t buf[8];
    av_nn__store_elem(buf, dt, 0, v);
    return av_nn__onnx_const(L, dt, 0, NULL, buf, out);
}

av_nn_status av_nn__onnx_const_ints(av_nn__onnx_lower *L, av_nn__tid t, const char *what,
                                    int64_t *out, int cap, int *count)
{
    if (t < 0)
        return AV_NN_ONNX_BAD(L, "%s is missing", what);
    const av_nn__tensor *x = av_nn__onnx_t(L, t);
    if (!x->data)
        return AV_NN_ONNX_UNSUP(L, "%s must be a constant", what);
    if (x->dtype != AV_NN_I64 && x->dtype != AV_NN_I32)
        return AV_NN_ONNX_BAD(L, "%s must be int32/int64, got %s", what,
                              av_nn_dtype_name(x->dtype));
    int64_t ne = av_nn__numel(x);
    if (ne < 0 || ne > cap)
        return AV_NN_ONNX_UNSUP(L, "%s has %lld values (at most %d)", what, (long long)ne, cap);
    for (int64_t i = 0; i < ne; i++)
        out[i] = av_nn__load_int(x->data, x->dtype, i);
    *count = (int)ne;
    return AV_NN_OK;
}

av_nn_status av_nn__onnx_transpose(av_nn__onnx_lower *L, av_nn__tid x, const int *perm,
                                   int rank, av_nn__tid dst, av_nn__tid *out)
{
    av_nn__params p = {0};
    for (int i = 0; i < rank; i++)
        p.transpose.perm[i] = perm[i];
    p.transpose.rank = rank;
    *out = dst;
    return av_nn__onnx_emit1(L, AV_NN_OP_TRANSPOSE, &p, &x, 1, out);
}

av_nn_status av_nn__onnx_reshape(av_nn__onnx_lower *L, av_nn__tid x, const int64_t *dims,
                                 int rank, av_nn__tid dst, av_nn__tid *out)
{
    av_nn__params p = {0};
    for (int i = 0; i < rank; i++)
        p.reshape.dims[i] = dims[i];
    p.reshape.rank = rank;
    p.reshape.allowzero = true; /* literal dims */
    *out = dst;
    return av_nn__onnx_emit1(L, AV_NN_OP_RESHAPE, &p, &x, 1, out);
}

av_nn_status av_nn__onnx_binary(av_nn__onnx_lower *L, av_nn__binary_kind k, av_nn__tid a,
                                av_nn__tid b, av_nn__tid dst, av_nn__tid *out)
{
    av_nn__params p = {0};
    p.binary.kind = k;
    av_nn__tid in[2] = {a, b};
    *out = dst;
    return av_nn__onnx_emit1(L, AV_NN_OP_BINARY, &p, in, 2, out);
}

av_nn_status av_nn__onnx_unary(av_nn__onnx_lower *L, av_nn__unary_kind k, av_nn__tid x,
                               av_nn__tid dst, av_nn__tid *out)
{
    av_nn__params p = {0};
    p.unary.kind = k;
    *out = dst;
    return av_nn__onnx_emit1(L, AV_NN_OP_UNARY, &p, &x, 1, out);
}

/* ---- attributes ---- */

const av_nn__onnx_attr *av_nn__onnx_attr_find(const av_nn__onnx_node *n, const char *name)
{
    for (int i = n->n_attr - 1; i >= 0; i--) /* the last occurrence wins */
        if (av_nn__onnx_str_eq(n->attr[i].name, name))
            return &n->attr[i];
    return NULL;
}

static av_nn_status wrong_type(av_nn__onnx_lower *L, const char *name, int type)
{
    return AV_NN_ONNX_BAD(L, "attribute '%s' has type %d", name, type);
}

av_nn_status av_nn__onnx_attr_int(av_nn__onnx_lower *L, const char *name, int64_t def,
                                  int64_t *v)
{
    const av_nn__onnx_attr *a = av_nn__onnx_attr_find(L->node, name);
    *v = def;
    if (!a)
        return AV_NN_OK;
    if (a->type != AV_NN_ONNX_ATTR_INT)
        return wrong_type(L, name, a->type);
    *v = a->i;
    return AV_NN_OK;
}

av_nn_status av_nn__onnx_attr_float(av_nn__onnx_lower *L, const char *name, float def, float *v)
{
    const av_nn__onnx_attr *a = av_nn__onnx_attr_find(L->node, name);
    *v = def;
    if (!a)
        return AV_NN_OK;
    if (a->type != AV_NN_ONNX_ATTR_FLOAT)
        return wrong_type(L, name, a->type);
    *v = a->f;
    return AV_NN_OK;
}

av_nn_status av_nn__onnx_attr_str(av_nn__onnx_lower *L, const char *name, const char *def,
                                  av_nn__onnx_str *v)
{
    const av_nn__onnx_attr *a = av_nn__onnx_attr_find(L->node, name);
    v->p = def;
    v->n = strlen(def);
    if (!a)
        return AV_NN_OK;
    if (a->type != AV_NN_ONNX_ATTR_STRING)
        return wrong_type(L, name, a->type);
    *v = a->s;
    return AV_NN_OK;
}

/* Walk a FLOATS (7, fixed32) or INTS (8, varint) list of attribute a. */
static av_nn_status attr_list(const av_nn__onnx_node *n, const char *name, int want_type,
                              uint32_t field, av_nn__pb_kind kind, int64_t *iout, float *fout,
                              int cap, int *count, char *err, size_t errlen)
{
    const av_nn__onnx_attr *a = av_nn__onnx_attr_find(n, name);
    *count = -1;
    if (!a)
        return AV_NN_OK;
    if (a->type != want_type)
        return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                           "onnx: node '%.*s': attribute '%s' has type %d, want %d",
                           (int)(n->name.n > 200 ? 200 : n->name.n), n->name.p, name, a->type,
                           want_type);
    av_nn__pb r = a->msg;
    av_nn__pb_field f;
    int rc, c = 0;
    while ((rc = av_nn__pb_next(&r, &f, err, errlen)) > 0) {
        if (f.num != field)
            continue;
        av_nn__pb_iter it;
        uint64_t v;
        if (!av_nn__pb_iter_init(&it, &r, &f, kind, err, errlen))
            return AV_NN_E_FORMAT;
        while ((rc = av_nn__pb_iter_next(&it, &v, err, errlen)) > 0) {
            if (c >= cap)
                return av_nn__fail(err, errlen, AV_NN_E_UNSUPPORTED,
                                   "onnx: node '%.*s': attribute '%s' has more than %d values",
                                   (int)(n->name.n > 200 ? 200 : n->name.n), n->name.p, name,
                                   cap);
            if (iout)
                iout[c] = (int64_t)v;
            else
                fout[c] = av_nn__pb_f32(v);
            c++;
        }
        if (rc < 0)
            return AV_NN_E_FORMAT;
    }
    if (rc < 0)
        return AV_NN_E_FORMAT;
    *count = c;
    return AV_NN_OK;
}

av_nn_status av_nn__onnx_attr_ints(const av_nn__onnx_node *n, const char *name, int64_t *out,
                                   int cap, int *count, char *err, size_t errlen)
{
    return attr_list(n, name, AV_NN_ONNX_ATTR_INTS, 8, AV_NN_PB_K_VARINT, out, NULL, cap, count,
                     err, errlen);
}

av_nn_status av_nn__onnx_attr_floats(const av_nn__onnx_node *n, const char *name, float *out,
                                     int cap, int *count, char *err, size_t errlen)
{
    return attr_list(n, name, AV_NN_ONNX_ATTR_FLOATS, 7, AV_NN_PB_K_FIXED32, NULL, out, cap,
                     count, err, errlen);
}
