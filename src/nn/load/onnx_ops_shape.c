/*
 * onnx_ops_shape.c - ONNX data-movement, indexing and constant ops -> IR:
 * Identity, Dropout, Concat, Split, Slice, Transpose, Reshape, Flatten,
 * Squeeze, Unsqueeze, Gather, TopK, ArgMax/ArgMin, Pad, Tile, Expand,
 * Shape, Size, Constant, ConstantOfShape, Range.
 *
 * Shapes are known while lowering (see onnx_lower.c), so Flatten, Squeeze,
 * Unsqueeze and Expand become RESHAPE/TILE with literal dims, and Shape,
 * Size, Constant* and Range become constants.
 */
#include "nn/load/onnx.h"

#include "nn/core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRY(x)                      \
    do {                            \
        av_nn_status st_ = (x);     \
        if (st_)                    \
            return st_;             \
    } while (0)

static av_nn_status need_input(av_nn__onnx_lower *L, av_nn__tid *x)
{
    *x = av_nn__onnx_in(L, 0);
    return *x < 0 ? AV_NN_ONNX_BAD(L, "needs an input") : AV_NN_OK;
}

static av_nn_status lower_identity(av_nn__onnx_lower *L)
{
    av_nn__tid x, y;
    TRY(need_input(L, &x));
    if (av_nn__onnx_str_eq(L->node->op_type, "Dropout")) {
        av_nn__tid tm = av_nn__onnx_in(L, 2);
        int64_t is_test;
        TRY(av_nn__onnx_attr_int(L, "is_test", 1, &is_test));
        if (!is_test)
            return AV_NN_ONNX_UNSUP(L, "training mode");
        if (tm >= 0) {
            /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, tm);
    const av_nn__tensor *t = &t_s;
            if (!t->data || av_nn__numel(t) != 1 || av_nn__load_int(t->data, t->dtype, 0))
                return AV_NN_ONNX_UNSUP(L, "training mode");
        }
        if (L->n_out > 1 && L->out_used[1])
            return AV_NN_ONNX_UNSUP(L, "the mask output");
    }
    TRY(av_nn__onnx_out(L, 0, &y));
    return av_nn__onnx_emit1(L, AV_NN_OP_IDENTITY, NULL, &x, 1, &y);
}

static av_nn_status lower_concat(av_nn__onnx_lower *L)
{
    av_nn__tid y;
    int64_t axis;
    TRY(av_nn__onnx_attr_int(L, "axis", 0, &axis));
    if (L->n_in < 1)
        return AV_NN_ONNX_BAD(L, "needs an input");
    for (int i = 0; i < L->n_in; i++)
        if (L->in[i] < 0)
            return AV_NN_ONNX_BAD(L, "input %d is empty", i);
    if (axis < -AV_NN_MAX_RANK || axis >= AV_NN_MAX_RANK)
        return AV_NN_ONNX_BAD(L, "axis %lld", (long long)axis);
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params p = {0};
    p.axis.axis = (int)axis;
    return av_nn__onnx_emit1(L, AV_NN_OP_CONCAT, &p, L->in, L->n_in, &y);
}

static av_nn_status lower_split(av_nn__onnx_lower *L)
{
    av_nn__tid x;
    int64_t axis, sizes[AV_NN_MAX_NODE_OUTPUTS];
    int ns = -1;
    TRY(need_input(L, &x));
    TRY(av_nn__onnx_attr_int(L, "axis", 0, &axis));
    if (axis < -AV_NN_MAX_RANK || axis >= AV_NN_MAX_RANK)
        return AV_NN_ONNX_BAD(L, "axis %lld", (long long)axis);
    av_nn__tid s = -1;
    if (L->opset >= 13) {
        s = av_nn__onnx_in(L, 1);
    } else {
        TRY(av_nn__onnx_attr_ints(L->node, "split", sizes, AV_NN_MAX_NODE_OUTPUTS, &ns, L->err,
                                  L->errlen));
        if (ns >= 0)
            TRY(av_nn__onnx_const_i64s(L, sizes, ns, &s));
    }
    if (s < 0) {
        /* equal parts: ONNX requires the axis to divide evenly */
        /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
        int a = av_nn__norm_axis((int)axis, t->rank);
        if (a < 0 || L->n_out < 1 || t->dims[a] % L->n_out)
            return AV_NN_ONNX_BAD(L, "axis %lld of size %lld cannot split in %d",
                                  (long long)axis, a < 0 ? -1LL : (long long)t->dims[a],
                                  L->n_out);
    }
    av_nn__tid out[AV_NN_MAX_NODE_OUTPUTS];
    for (int k = 0; k < L->n_out; k++)
        TRY(av_nn__onnx_out(L, k, &out[k]));
    av_nn__params p = {0};
    p.split.axis = (int)axis;
    av_nn__tid in[2] = {x, s};
    return av_nn__onnx_emit(L, AV_NN_OP_SPLIT, &p, in, s >= 0 ? 2 : 1, out, L->n_out);
}

static av_nn_status lower_slice(av_nn__onnx_lower *L)
{
    av_nn__tid x, y;
    TRY(need_input(L, &x));
    av_nn__tid in[5] = {x, -1, -1, -1, -1};
    int n_in = 3;
    if (L->opset < 10) {
        int64_t st[AV_NN_MAX_RANK], en[AV_NN_MAX_RANK], ax[AV_NN_MAX_RANK];
        int ns, ne, na;
        TRY(av_nn__onnx_attr_ints(L->node, "starts", st, AV_NN_MAX_RANK, &ns, L->err, L->errlen));
        TRY(av_nn__onnx_attr_ints(L->node, "ends", en, AV_NN_MAX_RANK, &ne, L->err, L->errlen));
        TRY(av_nn__onnx_attr_ints(L->node, "axes", ax, AV_NN_MAX_RANK, &na, L->err, L->errlen));
        if (ns < 0 || ne < 0)
            return AV_NN_ONNX_BAD(L, "needs starts and ends");
        TRY(av_nn__onnx_const_i64s(L, st, ns, &in[1]));
        TRY(av_nn__onnx_const_i64s(L, en, ne, &in[2]));
        if (na >= 0) {
            TRY(av_nn__onnx_const_i64s(L, ax, na, &in[3]));
            n_in = 4;
        }
    } else {
        for (int i = 1; i < 5; i++)
            in[i] = av_nn__onnx_in(L, i);
        if (in[1] < 0 || in[2] < 0)
            return AV_NN_ONNX_BAD(L, "needs starts and ends");
        n_in = L->n_in;
        if (in[3] < 0 && in[4] >= 0) {
            /* steps without axes: axes are 0..n-1 */
            int64_t ax[AV_NN_MAX_RANK];
            int64_t n = av_nn__numel(av_nn__onnx_t(L, in[1]));
            if (n < 0 || n > AV_NN_MAX_RANK)
                return AV_NN_ONNX_BAD(L, "starts has %lld values", (long long)n);
            for (int i = 0; i < n; i++)
                ax[i] = i;
            TRY(av_nn__onnx_const_i64s(L, ax, (int)n, &in[3]));
        }
    }
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params p = {0};
    p.slice.tf_semantics = false;
    return av_nn__onnx_emit1(L, AV_NN_OP_SLICE, &p, in, n_in, &y);
}

static av_nn_status lower_transpose(av_nn__onnx_lower *L)
{
    av_nn__tid x, y;
    int64_t perm[AV_NN_MAX_RANK];
    int n;
    TRY(need_input(L, &x));
    TRY(av_nn__onnx_attr_ints(L->node, "perm", perm, AV_NN_MAX_RANK, &n, L->err, L->errlen));
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params p = {0};
    if (n >= 0) {
        if (n != av_nn__onnx_t(L, x)->rank)
            return AV_NN_ONNX_BAD(L, "perm has %d values for rank %d", n,
                                  av_nn__onnx_t(L, x)->rank);
        for (int i = 0; i < n; i++)
            p.transpose.perm[i] = (int)(perm[i] < 0 || perm[i] >= n ? -1 : perm[i]);
        p.transpose.rank = n;
    }
    return av_nn__onnx_emit1(L, AV_NN_OP_TRANSPOSE, &p, &x, 1, &y);
}

static av_nn_status lower_reshape(av_nn__onnx_lower *L)
{
    av_nn__tid x, y;
    int64_t allowzero;
    TRY(need_input(L, &x));
    TRY(av_nn__onnx_attr_int(L, "allowzero", 0, &allowzero));
    av_nn__params p = {0};
    p.reshape.allowzero = allowzero != 0;
    av_nn__tid in[1] = {x};
    if (L->opset < 5) {
        int n;
        TRY(av_nn__onnx_attr_ints(L->node, "shape", p.reshape.dims, AV_NN_MAX_RANK, &n, L->err,
                                  L->errlen));
        if (n < 0)
            return AV_NN_ONNX_BAD(L, "needs shape");
        p.reshape.rank = n;
    } else {
        /* resolve the shape here: 0 copies the input dim unless allowzero,
         * leaving literal dims (and at most one -1) that mean the same on
         * every later inference of the node */
        int n;
        TRY(av_nn__onnx_const_ints(L, av_nn__onnx_in(L, 1), "shape", p.reshape.dims,
                                   AV_NN_MAX_RANK, &n));
        /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
        for (int i = 0; i < n && !allowzero; i++) {
            if (p.reshape.dims[i] == 0 && i >= t->rank)
                return AV_NN_ONNX_BAD(L, "0 at index %d copies a missing input dim", i);
            if (p.reshape.dims[i] == 0)
                p.reshape.dims[i] = t->dims[i];
        }
        p.reshape.rank = n;
        p.reshape.allowzero = true;
    }
    TRY(av_nn__onnx_out(L, 0, &y));
    return av_nn__onnx_emit1(L, AV_NN_OP_RESHAPE, &p, in, 1, &y);
}

static av_nn_status lower_flatten(av_nn__onnx_lower *L)
{
    av_nn__tid x, y;
    int64_t axis;
    TRY(need_input(L, &x));
    TRY(av_nn__onnx_attr_int(L, "axis", 1, &axis));
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
    int r = t->rank;
    if (axis < -r || axis > r)
        return AV_NN_ONNX_BAD(L, "axis %lld out of range for rank %d", (long long)axis, r);
    if (axis < 0)
        axis += r;
    int64_t d[2] = {1, 1};
    for (int i = 0; i < r; i++)
        d[i >= axis] *= t->dims[i];
    TRY(av_nn__onnx_out(L, 0, &y));
    return av_nn__onnx_reshape(L, x, d, 2, y, &y);
}

/* Axes of Squeeze/Unsqueeze: attribute before opset 13, input after; *n -1 when absent. */
static av_nn_status squeeze_axes(av_nn__onnx_lower *L, int64_t *axes, int *n)
{
    *n = -1;
    if (L->opset < 13)
        return av_nn__onnx_attr_ints(L->node, "axes", axes, AV_NN_MAX_RANK, n, L->err,
                                     L->errlen);
    if (av_nn__onnx_in(L, 1) < 0)
        return AV_NN_OK;
    return av_nn__onnx_const_ints(L, av_nn__onnx_in(L, 1), "axes", axes, AV_NN_MAX_RANK, n);
}

static av_nn_status lower_squeeze(av_nn__onnx_lower *L)
{
    av_nn__tid x, y;
    int64_t axes[AV_NN_MAX_RANK], dims[AV_NN_MAX_RANK];
    int n, r2 = 0;
    TRY(need_input(L, &x));
    TRY(squeeze_axes(L, axes, &n));
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
    uint32_t mask = 0;
    for (int i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + t->rank : axes[i];
        if (a < 0 || a >= t->rank || t->dims[a] != 1)
            return AV_NN_ONNX_BAD(L, "cannot squeeze axis %lld", (long long)axes[i]);
        mask |= 1u << a;
    }
    for (int i = 0; i < t->rank; i++)
        if (!(n < 0 ? t->dims[i] == 1 : (mask >> i) & 1))
            dims[r2++] = t->dims[i];
    TRY(av_nn__onnx_out(L, 0, &y));
    return av_nn__onnx_reshape(L, x, dims, r2, y, &y);
}

static av_nn_status lower_unsqueeze(av_nn__onnx_lower *L)
{
    av_nn__tid x, y;
    int64_t axes[AV_NN_MAX_RANK], dims[AV_NN_MAX_RANK];
    int n;
    TRY(need_input(L, &x));
    TRY(squeeze_axes(L, axes, &n));
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
    int r2 = t->rank + (n > 0 ? n : 0);
    if (n < 1 || r2 > AV_NN_MAX_RANK)
        return AV_NN_ONNX_BAD(L, "needs 1..%d axes", AV_NN_MAX_RANK - t->rank);
    uint32_t mask = 0;
    for (int i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + r2 : axes[i];
        if (a < 0 || a >= r2 || ((mask >> a) & 1))
            return AV_NN_ONNX_BAD(L, "bad or repeated axis %lld", (long long)axes[i]);
        mask |= 1u << a;
    }
    for (int i = 0, k = 0; i < r2; i++)
        dims[i] = ((mask >> i) & 1) ? 1 : t->dims[k++];
    TRY(av_nn__onnx_out(L, 0, &y));
    return av_nn__onnx_reshape(L, x, dims, r2, y, &y);
}

static av_nn_status lower_gather(av_nn__onnx_lower *L)
{
    av_nn__tid in[2] = {av_nn__onnx_in(L, 0), av_nn__onnx_in(L, 1)}, y;
    int64_t axis;
    TRY(av_nn__onnx_attr_int(L, "axis", 0, &axis));
    if (in[0] < 0 || in[1] < 0)
        return AV_NN_ONNX_BAD(L, "needs data and indices");
    if (axis < -AV_NN_MAX_RANK || axis >= AV_NN_MAX_RANK)
        return AV_NN_ONNX_BAD(L, "axis %lld", (long long)axis);
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params p = {0};
    p.axis.axis = (int)axis;
    return av_nn__onnx_emit1(L, AV_NN_OP_GATHER, &p, in, 2, &y);
}

static av_nn_status lower_topk(av_nn__onnx_lower *L)
{
    av_nn__tid x, k = -1, out[2];
    int64_t axis, largest, sorted, kattr;
    TRY(need_input(L, &x));
    TRY(av_nn__onnx_attr_int(L, "axis", -1, &axis));
    TRY(av_nn__onnx_attr_int(L, "largest", 1, &largest));
    TRY(av_nn__onnx_attr_int(L, "sorted", 1, &sorted));
    TRY(av_nn__onnx_attr_int(L, "k", -1, &kattr));
    if (L->opset < 10) {
        if (kattr < 0)
            return AV_NN_ONNX_BAD(L, "needs k");
        TRY(av_nn__onnx_const_i64s(L, &kattr, 1, &k));
    } else {
        k = av_nn__onnx_in(L, 1);
    }
    if (k < 0)
        return AV_NN_ONNX_BAD(L, "needs k");
    if (axis < -AV_NN_MAX_RANK || axis >= AV_NN_MAX_RANK)
        return AV_NN_ONNX_BAD(L, "axis %lld", (long long)axis);
    TRY(av_nn__onnx_out(L, 0, &out[0]));
    TRY(av_nn__onnx_out(L, 1, &out[1]));
    av_nn__params p = {0};
    p.topk.axis = (int)axis;
    p.topk.largest = largest != 0;
    p.topk.sorted = sorted != 0;
    p.topk.index_dtype = AV_NN_I64;
    av_nn__tid in[2] = {x, k};
    return av_nn__onnx_emit(L, AV_NN_OP_TOPK, &p, in, 2, out, 2);
}

static av_nn_status lower_argmax(av_nn__onnx_lower *L)
{
    av_nn__tid x, y;
    int64_t axis, keep, last;
    TRY(need_input(L, &x));
    TRY(av_nn__onnx_attr_int(L, "axis", 0, &axis));
    TRY(av_nn__onnx_attr_int(L, "keepdims", 1, &keep));
    TRY(av_nn__onnx_attr_int(L, "select_last_index", 0, &last));
    if (axis < -AV_NN_MAX_RANK || axis >= AV_NN_MAX_RANK)
        return AV_NN_ONNX_BAD(L, "axis %lld", (long long)axis);
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params p = {0};
    p.argmax.axis = (int)axis;
    p.argmax.keep_dims = keep != 0;
    p.argmax.select_last = last != 0;
    p.argmax.is_min = av_nn__onnx_str_eq(L->node->op_type, "ArgMin");
    p.argmax.index_dtype = AV_NN_I64;
    return av_nn__onnx_emit1(L, AV_NN_OP_ARGMAX, &p, &x, 1, &y);
}

static av_nn_status lower_pad(av_nn__onnx_lower *L)
{
    av_nn__tid x, y;
    TRY(need_input(L, &x));
    av_nn__onnx_str mode;
    TRY(av_nn__onnx_attr_str(L, "mode", "constant", &mode));
    av_nn__params p = {0};
    if (av_nn__onnx_str_eq(mode, "constant"))
        p.pad.mode = AV_NN_PADMODE_CONSTANT;
    else if (av_nn__onnx_str_eq(mode, "reflect"))
        p.pad.mode = AV_NN_PADMODE_REFLECT;
    else if (av_nn__onnx_str_eq(mode, "edge"))
        p.pad.mode = AV_NN_PADMODE_EDGE;
    else
        return AV_NN_ONNX_UNSUP(L, "mode '%.*s'", (int)(mode.n > 16 ? 16 : mode.n), mode.p);
    int64_t pads[2 * AV_NN_MAX_RANK];
    int np;
    av_nn__tid in[3] = {x, -1, -1};
    if (L->opset < 11) {
        TRY(av_nn__onnx_attr_ints(L->node, L->opset < 2 ? "paddings" : "pads", pads,
                                  2 * AV_NN_MAX_RANK, &np, L->err, L->errlen));
        if (np < 0)
            return AV_NN_ONNX_BAD(L, "needs pads");
        TRY(av_nn__onnx_attr_float(L, "value", 0.0f, &p.pad.value));
        TRY(av_nn__onnx_const_i64s(L, pads, np, &in[1]));
    } else {
        in[1] = av_nn__onnx_in(L, 1);
        in[2] = av_nn__onnx_in(L, 2);
        TRY(av_nn__onnx_const_ints(L, in[1], "pads", pads, 2 * AV_NN_MAX_RANK, &np));
    }
    for (int i = 0; i < np; i++)
        if (pads[i] < 0)
            return AV_NN_ONNX_UNSUP(L, "negative pads");
    TRY(av_nn__onnx_out(L, 0, &y));
    return av_nn__onnx_emit1(L, AV_NN_OP_PAD, &p, in, in[2] >= 0 ? 3 : 2, &y);
}

static av_nn_status lower_tile(av_nn__onnx_lower *L)
{
    av_nn__tid in[2] = {av_nn__onnx_in(L, 0), av_nn__onnx_in(L, 1)}, y;
    if (in[0] < 0 || in[1] < 0)
        return AV_NN_ONNX_BAD(L, "needs input and repeats");
    TRY(av_nn__onnx_out(L, 0, &y));
    return av_nn__onnx_emit1(L, AV_NN_OP_TILE, NULL, in, 2, &y);
}

/* Expand: numpy broadcast of x to shape -> reshape (leading 1s) + tile. */
static av_nn_status lower_expand(av_nn__onnx_lower *L)
{
    av_nn__tid x, y;
    int64_t shape[AV_NN_MAX_RANK];
    int ns;
    TRY(need_input(L, &x));
    TRY(av_nn__onnx_const_ints(L, av_nn__onnx_in(L, 1), "shape", shape, AV_NN_MAX_RANK, &ns));
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
    int r = t->rank > ns ? t->rank : ns;
    int64_t xd[AV_NN_MAX_RANK], mult[AV_NN_MAX_RANK];
    bool tile = false;
    for (int i = 0; i < r; i++) {
        int64_t a = i - (r - t->rank) >= 0 ? t->dims[i - (r - t->rank)] : 1;
        int64_t b = i - (r - ns) >= 0 ? shape[i - (r - ns)] : 1;
        if (a != b && a != 1 && b != 1)
            return AV_NN_ONNX_BAD(L, "shape does not broadcast with the input");
        if (b < 0 || b > AV_NN_MAX_ELEMENTS)
            return AV_NN_ONNX_BAD(L, "shape value %lld", (long long)b);
        xd[i] = a;
        mult[i] = (a == 1) ? b : 1;
        tile |= mult[i] != 1;
    }
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__tid v = x, m;
    if (!tile)
        return av_nn__onnx_reshape(L, x, xd, r, y, &v);
    if (r != t->rank)
        TRY(av_nn__onnx_reshape(L, x, xd, r, -1, &v));
    TRY(av_nn__onnx_const_i64s(L, mult, r, &m));
    av_nn__tid in[2] = {v, m};
    return av_nn__onnx_emit1(L, AV_NN_OP_TILE, NULL, in, 2, &y);
}

/* ---- ops that become constants ---- */

static av_nn_status lower_shape(av_nn__onnx_lower *L)
{
    av_nn__tid x, c;
    int64_t start, end;
    TRY(need_input(L, &x));
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
    int r = t->rank;
    TRY(av_nn__onnx_attr_int(L, "start", 0, &start));
    TRY(av_nn__onnx_attr_int(L, "end", r, &end));
    if (start < 0)
        start += r;
    if (end < 0)
        end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < 0 ? 0 : end > r ? r : end;
    int n = end > start ? (int)(end - start) : 0;
    TRY(av_nn__onnx_const_i64s(L, t->dims + start, n, &c));
    av_nn__onnx_bind(L, 0, c);
    return AV_NN_OK;
}

static av_nn_status lower_size(av_nn__onnx_lower *L)
{
    av_nn__tid x, c;
    TRY(need_input(L, &x));
    int64_t n = av_nn__numel(av_nn__onnx_t(L, x));
    TRY(av_nn__onnx_const(L, AV_NN_I64, 0, NULL, &n, &c));
    av_nn__onnx_bind(L, 0, c);
    return AV_NN_OK;
}

/* Add a decoded TensorProto as a constant (takes its data). */
static av_nn_status add_decoded(av_nn__onnx_lower *L, av_nn__onnx_tensor *t, av_nn__tid *out)
{
    char name[300];
    const av_nn__onnx_str o = L->node->n_out ? L->node->out[0] : (av_nn__onnx_str){"", 0};
    snprintf(name, sizeof name, "%.*s", (int)(o.n > 256 ? 256 : o.n), o.p);
    *out = av_nn__add_tensor(L->g, name, t->dtype, t->rank, t->dims, t->data, true);
    t->data = NULL;
    return *out < 0 ? av_nn__onnx_fail(L, AV_NN_E_LIMIT, "constants exceed the size limit")
                    : AV_NN_OK;
}

static av_nn_status lower_constant(av_nn__onnx_lower *L)
{
    const av_nn__onnx_node *n = L->node;
    if (n->n_attr != 1)
        return AV_NN_ONNX_BAD(L, "needs exactly one value attribute");
    const av_nn__onnx_attr *a = &n->attr[0];
    av_nn__tid c;
    if (av_nn__onnx_str_eq(a->name, "value")) {
        if (a->type != AV_NN_ONNX_ATTR_TENSOR || !a->t.p)
            return AV_NN_ONNX_BAD(L, "value is not a tensor");
        av_nn__onnx_tensor t;
        TRY(av_nn__onnx_tensor_decode(&a->t, true, &t, L->err, L->errlen));
        TRY(add_decoded(L, &t, &c));
    } else if (av_nn__onnx_str_eq(a->name, "value_float")) {
        float v;
        TRY(av_nn__onnx_attr_float(L, "value_float", 0.0f, &v));
        TRY(av_nn__onnx_const(L, AV_NN_F32, 0, NULL, &v, &c));
    } else if (av_nn__onnx_str_eq(a->name, "value_int")) {
        int64_t v;
        TRY(av_nn__onnx_attr_int(L, "value_int", 0, &v));
        TRY(av_nn__onnx_const(L, AV_NN_I64, 0, NULL, &v, &c));
    } else if (av_nn__onnx_str_eq(a->name, "value_floats") ||
               av_nn__onnx_str_eq(a->name, "value_ints")) {
        bool f = av_nn__onnx_str_eq(a->name, "value_floats");
        enum { CAP = 1 << 16 };
        void *buf = malloc(CAP * 8);
        if (!buf)
            return av_nn__onnx_fail(L, AV_NN_E_NOMEM, "out of memory");
        int cnt;
        av_nn_status st =
            f ? av_nn__onnx_attr_floats(n, "value_floats", buf, CAP, &cnt, L->err, L->errlen)
              : av_nn__onnx_attr_ints(n, "value_ints", buf, CAP, &cnt, L->err, L->errlen);
        int64_t d = cnt;
        if (!st)
            st = av_nn__onnx_const(L, f ? AV_NN_F32 : AV_NN_I64, 1, &d, buf, &c);
        free(buf);
        if (st)
            return st;
    } else {
        return AV_NN_ONNX_UNSUP(L, "attribute '%.*s'", (int)(a->name.n > 32 ? 32 : a->name.n),
                                a->name.p);
    }
    av_nn__onnx_bind(L, 0, c);
    return AV_NN_OK;
}

static av_nn_status lower_constant_of_shape(av_nn__onnx_lower *L)
{
    av_nn__tid c;
    int64_t dims[AV_NN_MAX_RANK];
    int r;
    TRY(av_nn__onnx_const_ints(L, av_nn__onnx_in(L, 0), "shape", dims, AV_NN_MAX_RANK, &r));
    av_nn__onnx_tensor v = {.dtype = AV_NN_F32, .numel = 1};
    float zero = 0.0f;
    const void *val = &zero;
    const av_nn__onnx_attr *a = av_nn__onnx_attr_find(L->node, "value");
    if (a) {
        if (a->type != AV_NN_ONNX_ATTR_TENSOR || !a->t.p)
            return AV_NN_ONNX_BAD(L, "value is not a tensor");
        TRY(av_nn__onnx_tensor_decode(&a->t, true, &v, L->err, L->errlen));
        val = v.data;
        if (v.numel != 1) {
            free(v.data);
            return AV_NN_ONNX_BAD(L, "value must hold one element");
        }
    }
    av_nn__tensor shape = {.dtype = v.dtype, .rank = r};
    memcpy(shape.dims, dims, sizeof(int64_t) * (size_t)r);
    int64_t ne = av_nn__numel(&shape);
    size_t es = av_nn_dtype_size(v.dtype);
    if (ne < 0 || L->g->total_bytes + ne * (int64_t)es > AV_NN_MAX_TOTAL_BYTES) {
        free(v.data);
        return av_nn__onnx_fail(L, AV_NN_E_LIMIT, "constant of %lld elements exceeds the limit",
                                (long long)ne);
    }
    void *buf = malloc((size_t)ne * es + 1);
    if (!buf) {
        free(v.data);
        return av_nn__onnx_fail(L, AV_NN_E_NOMEM, "output of %lld elements", (long long)ne);
    }
    for (int64_t i = 0; i < ne; i++)
        memcpy((char *)buf + (size_t)i * es, val, es);
    free(v.data);
    av_nn_status st = av_nn__onnx_const(L, shape.dtype, r, dims, buf, &c);
    free(buf);
    if (st)
        return st;
    av_nn__onnx_bind(L, 0, c);
    return AV_NN_OK;
}

static av_nn_status lower_range(av_nn__onnx_lower *L)
{
    const av_nn__tensor *t[3];
    for (int i = 0; i < 3; i++) {
        av_nn__tid id = av_nn__onnx_in(L, i);
        if (id < 0)
            return AV_NN_ONNX_BAD(L, "needs start, limit, delta");
        t[i] = av_nn__onnx_t(L, id);
        if (!t[i]->data || av_nn__numel(t[i]) != 1)
            return AV_NN_ONNX_UNSUP(L, "start/limit/delta must be constant scalars");
    }
    av_nn_dtype dt = t[0]->dtype;
    if (dt != AV_NN_F32 && dt != AV_NN_I32 && dt != AV_NN_I64)
        return AV_NN_ONNX_UNSUP(L, "Range of %s", av_nn_dtype_name(dt));
    double s = av_nn__load_elem(t[0]->data, dt, 0), l = av_nn__load_elem(t[1]->data, dt, 0);
    double d = av_nn__load_elem(t[2]->data, dt, 0);
    if (d == 0 || !isfinite(s) || !isfinite(l) || !isfinite(d))
        return AV_NN_ONNX_BAD(L, "bad range");
    double cnt = ceil((l - s) / d);
    if (cnt < 0)
        cnt = 0;
    if (cnt > (double)(1 << 24))
        return av_nn__onnx_fail(L, AV_NN_E_LIMIT, "range of %g elements", cnt);
    int64_t n = (int64_t)cnt;
    void *buf = malloc((size_t)n * 8 + 1);
    if (!buf)
        return av_nn__onnx_fail(L, AV_NN_E_NOMEM, "out of memory");
    /* ONNX: start + i * delta, accumulated in the input type */
    if (dt == AV_NN_F32) {
        float v = (float)s;
        for (int64_t i = 0; i < n; i++, v += (float)d)
            ((float *)buf)[i] = v;
    } else {
        int64_t v = av_nn__load_int(t[0]->data, dt, 0), di = av_nn__load_int(t[2]->data, dt, 0);
        for (int64_t i = 0; i < n; i++, v += di)
            av_nn__store_int(buf, dt, i, v);
    }
    av_nn__tid c;
    av_nn_status st = av_nn__onnx_const(L, dt, 1, &n, buf, &c);
    free(buf);
    if (st)
        return st;
    av_nn__onnx_bind(L, 0, c);
    return AV_NN_OK;
}

const av_nn__onnx_op_entry av_nn__onnx_ops_shape[] = {
    {"Identity", lower_identity, ""},
    {"Dropout", lower_identity, "ratio seed is_test"},
    {"Concat", lower_concat, "axis"},
    {"Split", lower_split, "axis split"},
    {"Slice", lower_slice, "starts ends axes"},
    {"Transpose", lower_transpose, "perm"},
    {"Reshape", lower_reshape, "allowzero shape"},
    {"Flatten", lower_flatten, "axis"},
    {"Squeeze", lower_squeeze, "axes"},
    {"Unsqueeze", lower_unsqueeze, "axes"},
    {"Gather", lower_gather, "axis"},
    {"TopK", lower_topk, "axis k largest sorted"},
    {"ArgMax", lower_argmax, "axis keepdims select_last_index"},
    {"ArgMin", lower_argmax, "axis keepdims select_last_index"},
    {"Pad", lower_pad, "mode pads paddings value"},
    {"Tile", lower_tile, ""},
    {"Expand", lower_expand, ""},
    {"Shape", lower_shape, "start end"},
    {"Size", lower_size, ""},
    {"Constant", lower_constant,
     "value value_float value_floats value_int value_ints sparse_value value_string "
     "value_strings"},
    {"ConstantOfShape", lower_constant_of_shape, "value"},
    {"Range", lower_range, ""},
    {NULL, NULL, NULL},
};
