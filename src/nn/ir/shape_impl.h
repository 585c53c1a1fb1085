/*
 * shape_impl.h - what shape.c (compute ops, dispatch) and shape_data.c (data
 * movement and index ops) share. Internal to src/nn/ir.
 */
#ifndef AV_NN_SHAPE_IMPL_H
#define AV_NN_SHAPE_IMPL_H

#include "nn/core.h"

#include <stdio.h>
#include <string.h>

#define FAILN(st, ...) av_nn__node_fail(err, errlen, st, n, __VA_ARGS__)

static inline av_nn__tensor *tin(av_nn__graph *g, const av_nn__node *n, int i)
{
    return (i < n->n_in && n->in[i] >= 0) ? &g->tensors[n->in[i]] : NULL;
}

static inline bool is_int_dtype(av_nn_dtype t)
{
    return t == AV_NN_I32 || t == AV_NN_I64 || t == AV_NN_U8 || t == AV_NN_I8;
}

/* Read a constant integer vector (any rank, flattened) of at most max elements. */
static inline av_nn_status const_ints(av_nn__graph *g, av_nn__node *n, int i, const char *what,
                               int64_t *out, int max, int *count, char *err, size_t errlen)
{
    av_nn__tensor *t = tin(g, n, i);
    if (!t || !t->data)
        return FAILN(AV_NN_E_UNSUPPORTED, "%s (input %d) must be a constant", what, i);
    if (!is_int_dtype(t->dtype))
        return FAILN(AV_NN_E_FORMAT, "%s must be integer, got %s", what,
                     av_nn_dtype_name(t->dtype));
    int64_t ne = av_nn__numel(t);
    if (ne < 0 || ne > max)
        return FAILN(AV_NN_E_FORMAT, "%s has %lld elements (at most %d)", what, (long long)ne, max);
    for (int64_t k = 0; k < ne; k++)
        out[k] = av_nn__load_int(t->data, t->dtype, k);
    *count = (int)ne;
    return AV_NN_OK;
}

static inline void set_out(av_nn__graph *g, const av_nn__node *n, int k, av_nn_dtype dt, int rank,
                    const int64_t *dims)
{
    av_nn__tensor *o = &g->tensors[n->out[k]];
    o->dtype = dt;
    o->rank = rank;
    for (int i = 0; i < rank; i++)
        o->dims[i] = dims[i];
}

/* Pass-through ops keep the quantisation of their input when the loader gave none. */
static inline void inherit_quant(av_nn__graph *g, const av_nn__node *n, int k, const av_nn__tensor *x)
{
    av_nn__tensor *o = &g->tensors[n->out[k]];
    if (o->quant.scale == 0.0f && x->quant.scale != 0.0f && o->dtype == x->dtype) {
        o->quant.scale = x->quant.scale;
        o->quant.zero_point = x->quant.zero_point;
    }
}

static inline bool broadcast(int ra, const int64_t *a, int rb, const int64_t *b, int *ro, int64_t *o)
{
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int64_t da = i - (r - ra) >= 0 ? a[i - (r - ra)] : 1;
        int64_t db = i - (r - rb) >= 0 ? b[i - (r - rb)] : 1;
        if (da != db && da != 1 && db != 1)
            return false;
        o[i] = da == 1 ? db : da;
    }
    *ro = r;
    return true;
}

static inline const char *dims_str(const av_nn__tensor *t, char *buf, size_t len)
{
    size_t k = 0;
    k += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < t->rank && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ",%lld" : "%lld", (long long)t->dims[i]);
    if (k < len)
        snprintf(buf + k, len - k, "]");
    return buf;
}

/*
 * Output size along one spatial axis of a conv/pool, resolving SAME/VALID to
 * explicit pads. ceil_mode follows ONNX/PyTorch: a last window that would
 * start in the end padding is dropped.
 */

/* shape_data.c */
av_nn_status av_nn__infer_pad(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen);
av_nn_status av_nn__infer_concat(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen);
av_nn_status av_nn__infer_split(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen);
av_nn_status av_nn__infer_slice(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen);
av_nn_status av_nn__infer_transpose(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen);
av_nn_status av_nn__infer_reshape(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen);
av_nn_status av_nn__infer_gather(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen);
av_nn_status av_nn__infer_topk(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen);
av_nn_status av_nn__infer_argmax(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen);
av_nn_status av_nn__infer_tile(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen);
av_nn_status av_nn__infer_s2d(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen);
av_nn_status av_nn__infer_sparse_head(av_nn__graph *g, av_nn__node *n, char *err,
                                      size_t errlen);

#endif
