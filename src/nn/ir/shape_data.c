/*
 * shape_data.c - shape inference of the data-movement and index ops (pad,
 * concat, split, slice, transpose, reshape, gather, topk, argmax, tile,
 * sparse-to-dense); conventions in shape.c's header comment.
 */
#include "nn/ir/shape_impl.h"

#include <math.h>

av_nn_status av_nn__infer_pad(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__pad_params *p = &n->p.pad;
    av_nn__tensor *x = tin(g, n, 0), *pads = tin(g, n, 1), *val = tin(g, n, 2);
    if (pads) {
        int64_t v[2 * AV_NN_MAX_RANK];
        int nv = 0;
        av_nn_status st = const_ints(g, n, 1, "pads", v, 2 * AV_NN_MAX_RANK, &nv, err, errlen);
        if (st)
            return st;
        if (nv != 2 * x->rank)
            return FAILN(AV_NN_E_FORMAT, "pads has %d values for rank %d", nv, x->rank);
        bool tf = pads->rank == 2;
        for (int i = 0; i < x->rank; i++) {
            p->before[i] = tf ? v[2 * i] : v[i];
            p->after[i] = tf ? v[2 * i + 1] : v[x->rank + i];
        }
        p->resolved = true;
    }
    if (val) {
        if (!val->data || av_nn__numel(val) != 1)
            return FAILN(AV_NN_E_UNSUPPORTED, "pad value must be a constant scalar");
        p->value = (float)av_nn__load_elem(val->data, val->dtype, 0);
    }
    int64_t od[AV_NN_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        od[i] = x->dims[i] + p->before[i] + p->after[i];
        bool neg_ok = p->mode == AV_NN_PADMODE_CONSTANT; /* negative pads crop (ONNX) */
        if (od[i] < 0 || p->before[i] > AV_NN_MAX_ELEMENTS || p->after[i] > AV_NN_MAX_ELEMENTS ||
            p->before[i] < (neg_ok ? -x->dims[i] : 0) || p->after[i] < (neg_ok ? -x->dims[i] : 0))
            return FAILN(AV_NN_E_FORMAT, "pads %lld/%lld on axis %d of size %lld",
                         (long long)p->before[i], (long long)p->after[i], i, (long long)x->dims[i]);
        if (p->mode == AV_NN_PADMODE_REFLECT &&
            (p->before[i] >= x->dims[i] || p->after[i] >= x->dims[i]) &&
            (p->before[i] > 0 || p->after[i] > 0))
            return FAILN(AV_NN_E_FORMAT, "reflect pad %lld/%lld >= axis %d size %lld",
                         (long long)p->before[i], (long long)p->after[i], i, (long long)x->dims[i]);
        if (p->mode == AV_NN_PADMODE_EDGE && x->dims[i] == 0 && od[i] > 0)
            return FAILN(AV_NN_E_FORMAT, "edge pad of an empty axis %d", i);
    }
    set_out(g, n, 0, x->dtype, x->rank, od);
    inherit_quant(g, n, 0, x);
    return AV_NN_OK;
}

bool av_nn__concat_part_dims(const av_nn__graph *g, const av_nn__node *n, int i, int64_t *d)
{
    const av_nn__tensor *x = n->in[i] >= 0 ? &g->tensors[n->in[i]] : NULL;
    if (!x || x->rank < 0)
        return false;
    memcpy(d, x->dims, sizeof(int64_t) * AV_NN_MAX_RANK);
    if (!n->p.axis.resized || i != n->p.axis.resize_k)
        return true;
    if (x->rank != 4) /* a fused resize (pass_fuse.c): its output's dims */
        return false;
    d[1] = n->p.axis.resize.out_h, d[2] = n->p.axis.resize.out_w;
    return true;
}

av_nn_status av_nn__infer_concat(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__tensor *x0 = tin(g, n, 0);
    int axis = av_nn__norm_axis(n->p.axis.axis, x0->rank);
    if (axis < 0 || x0->rank == 0)
        return FAILN(AV_NN_E_FORMAT, "axis %d out of range for rank %d", n->p.axis.axis, x0->rank);
    n->p.axis.axis = axis;
    int64_t od[AV_NN_MAX_RANK], d0[AV_NN_MAX_RANK], di[AV_NN_MAX_RANK];
    if (!av_nn__concat_part_dims(g, n, 0, d0))
        return FAILN(AV_NN_E_FORMAT, "input 0 of a fused resize is not rank 4");
    memcpy(od, d0, sizeof od);
    od[axis] = 0;
    for (int i = 0; i < n->n_in; i++) {
        av_nn__tensor *x = tin(g, n, i);
        if (!x)
            return FAILN(AV_NN_E_FORMAT, "input %d absent", i);
        if (!av_nn__concat_part_dims(g, n, i, di))
            return FAILN(AV_NN_E_FORMAT, "input %d of a fused resize is not rank 4", i);
        bool same = x->rank == x0->rank && x->dtype == x0->dtype;
        for (int d = 0; same && d < x0->rank; d++)
            same = d == axis || di[d] == d0[d];
        if (!same) {
            char s1[128], s2[128];
            return FAILN(AV_NN_E_FORMAT, "input %d %s %s does not match input 0 %s %s on axis %d",
                         i, av_nn_dtype_name(x->dtype), dims_str(x, s1, 128),
                         av_nn_dtype_name(x0->dtype), dims_str(x0, s2, 128), axis);
        }
        od[axis] += di[axis];
    }
    set_out(g, n, 0, x0->dtype, x0->rank, od);
    inherit_quant(g, n, 0, x0);
    if (n->p.axis.mean) { /* the fused reduce's output (pass_catmean.c) */
        if (n->n_out != 2 || x0->rank != 4 || axis != 3)
            return FAILN(AV_NN_E_FORMAT, "a fused mean needs 2 outputs, rank 4, axis 3");
        int64_t md[AV_NN_MAX_RANK] = {od[0], 1, 1, od[3]};
        set_out(g, n, 1, x0->dtype, 4, md);
    }
    return AV_NN_OK;
}

av_nn_status av_nn__infer_split(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__split_params *p = &n->p.split;
    av_nn__tensor *x = tin(g, n, 0);
    int axis = av_nn__norm_axis(p->axis, x->rank);
    if (axis < 0 || x->rank == 0)
        return FAILN(AV_NN_E_FORMAT, "axis %d out of range for rank %d", p->axis, x->rank);
    p->axis = axis;
    int64_t dim = x->dims[axis];
    if (tin(g, n, 1)) {
        int nv;
        av_nn_status st =
            const_ints(g, n, 1, "split sizes", p->sizes, AV_NN_MAX_NODE_OUTPUTS, &nv, err, errlen);
        if (st)
            return st;
        if (nv != n->n_out)
            return FAILN(AV_NN_E_FORMAT, "%d split sizes for %d outputs", nv, n->n_out);
    } else if (!p->resolved) {
        int64_t part = (dim + n->n_out - 1) / n->n_out;
        for (int i = 0; i < n->n_out; i++) {
            int64_t left = dim - part * i;
            p->sizes[i] = left < 0 ? 0 : (left < part ? left : part);
        }
    }
    int unknown = -1;
    int64_t sum = 0;
    for (int i = 0; i < n->n_out; i++) {
        if (p->sizes[i] == -1 && unknown < 0)
            unknown = i;
        else if (p->sizes[i] < 0 || p->sizes[i] > dim)
            return FAILN(AV_NN_E_FORMAT, "split size %lld for axis size %lld",
                         (long long)p->sizes[i], (long long)dim);
        else
            sum += p->sizes[i];
    }
    if (unknown >= 0)
        p->sizes[unknown] = dim - sum >= 0 ? dim - sum : -1;
    if (unknown >= 0 ? p->sizes[unknown] < 0 : sum != dim)
        return FAILN(AV_NN_E_FORMAT, "split sizes do not add up to %lld", (long long)dim);
    p->resolved = true;
    int64_t od[AV_NN_MAX_RANK];
    memcpy(od, x->dims, sizeof od);
    for (int i = 0; i < n->n_out; i++) {
        od[axis] = p->sizes[i];
        set_out(g, n, i, x->dtype, x->rank, od);
        inherit_quant(g, n, i, x);
    }
    return AV_NN_OK;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* A step beyond any dim acts like the dim: bounding it keeps the arithmetic in range. */
static int64_t bound_step(int64_t s)
{
    const int64_t big = (int64_t)1 << 32;
    return s > big ? big : s < -big ? -big : s;
}

/* ONNX Slice clamping of one axis (step already bounded); returns the element count. */
static int64_t onnx_slice_axis(int64_t d, int64_t *b, int64_t *e, int64_t s)
{
    if (*b < 0)
        *b += d;
    if (*e < 0)
        *e += d;
    if (s > 0) {
        *b = clamp64(*b, 0, d);
        *e = clamp64(*e, 0, d);
    } else {
        *b = clamp64(*b, -1, d - 1);
        *e = clamp64(*e, -1, d - 1);
    }
    return av_nn__slice_count(*b, *e, s);
}

av_nn_status av_nn__infer_slice(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__slice_params *p = &n->p.slice;
    av_nn__tensor *x = tin(g, n, 0);
    int R = x->rank;
    int64_t od[AV_NN_MAX_RANK];
    int orank = 0;
    if (p->resolved && !p->tf_semantics) {
        for (int i = 0; i < R; i++) {
            if (p->step[i] == 0)
                return FAILN(AV_NN_E_FORMAT, "step 0 on axis %d", i);
            p->step[i] = bound_step(p->step[i]);
            od[orank++] = onnx_slice_axis(x->dims[i], &p->begin[i], &p->end[i], p->step[i]);
        }
        set_out(g, n, 0, x->dtype, R, od);
        inherit_quant(g, n, 0, x);
        return AV_NN_OK;
    }
    /* Read the slice inputs. */
    int64_t bv[AV_NN_MAX_RANK], ev[AV_NN_MAX_RANK], sv[AV_NN_MAX_RANK], av[AV_NN_MAX_RANK];
    int nb = 0, ne = 0, ns = 0, na = 0;
    av_nn_status st = const_ints(g, n, 1, "begin", bv, AV_NN_MAX_RANK, &nb, err, errlen);
    if (!st)
        st = const_ints(g, n, 2, "end", ev, AV_NN_MAX_RANK, &ne, err, errlen);
    if (st)
        return st;
    if (nb != ne)
        return FAILN(AV_NN_E_FORMAT, "begin has %d values, end %d", nb, ne);
    if (!p->tf_semantics) {
        if (tin(g, n, 3) &&
            (st = const_ints(g, n, 3, "axes", av, AV_NN_MAX_RANK, &na, err, errlen)))
            return st;
        if (tin(g, n, 4) &&
            (st = const_ints(g, n, 4, "steps", sv, AV_NN_MAX_RANK, &ns, err, errlen)))
            return st;
        if ((na && na != nb) || (ns && ns != nb))
            return FAILN(AV_NN_E_FORMAT, "starts/ends/axes/steps lengths differ");
        for (int i = 0; i < R; i++) {
            p->begin[i] = 0;
            p->end[i] = x->dims[i];
            p->step[i] = 1;
        }
        uint32_t seen = 0;
        for (int i = 0; i < nb; i++) {
            int a = na ? av_nn__norm_axis((int)clamp64(av[i], -99, 99), R) : i;
            if (a < 0 || (seen & (1u << a)))
                return FAILN(AV_NN_E_FORMAT, "bad or repeated axis %lld",
                             (long long)(na ? av[i] : i));
            seen |= 1u << a;
            p->begin[a] = bv[i];
            p->end[a] = ev[i];
            p->step[a] = bound_step(ns ? sv[i] : 1);
            if (p->step[a] == 0)
                return FAILN(AV_NN_E_FORMAT, "step 0 on axis %d", a);
        }
        for (int i = 0; i < R; i++)
            od[i] = onnx_slice_axis(x->dims[i], &p->begin[i], &p->end[i], p->step[i]);
        p->resolved = true;
        set_out(g, n, 0, x->dtype, R, od);
        inherit_quant(g, n, 0, x);
        return AV_NN_OK;
    }
    /* TF StridedSlice: expand the sparse spec (ellipsis, new axes) onto input axes. */
    if (tin(g, n, 3)) {
        if ((st = const_ints(g, n, 3, "strides", sv, AV_NN_MAX_RANK, &ns, err, errlen)))
            return st;
        if (ns != nb)
            return FAILN(AV_NN_E_FORMAT, "strides has %d values, begin %d", ns, nb);
    } else {
        for (int i = 0; i < nb; i++)
            sv[i] = 1;
    }
    bool has_ellipsis = (p->ellipsis_mask & ((nb ? (1u << nb) : 1u) - 1)) != 0;
    int full = 0;
    for (int i = 0; i <= nb; i++) {
        bool ell = i < nb ? (p->ellipsis_mask >> i) & 1 : !has_ellipsis;
        if (ell) {
            int after_new = 0;
            for (int j = i + 1; j < nb; j++)
                after_new += (p->new_axis_mask >> j) & 1;
            int next = i < nb ? R - (nb - i) + 1 + after_new : R;
            if (next > R)
                next = R;
            for (; full < next; full++) {
                p->begin[full] = 0;
                p->end[full] = x->dims[full];
                p->step[full] = 1;
                if (orank >= AV_NN_MAX_RANK)
                    return FAILN(AV_NN_E_LIMIT, "output rank exceeds %d", AV_NN_MAX_RANK);
                od[orank++] = x->dims[full];
            }
            if (i < nb)
                has_ellipsis = true; /* only the first ellipsis counts */
            continue;
        }
        if (i == nb)
            break;
        if ((p->new_axis_mask >> i) & 1) {
            if (orank >= AV_NN_MAX_RANK)
                return FAILN(AV_NN_E_LIMIT, "output rank exceeds %d", AV_NN_MAX_RANK);
            od[orank++] = 1;
            continue;
        }
        if (full >= R)
            return FAILN(AV_NN_E_FORMAT, "slice spec has more axes than input rank %d", R);
        int64_t d = x->dims[full], b = bv[i], e = ev[i], s = bound_step(sv[i]);
        if (s == 0)
            return FAILN(AV_NN_E_FORMAT, "stride 0 at index %d", i);
        if ((p->shrink_axis_mask >> i) & 1) {
            if (b < 0)
                b += d;
            if (b < 0 || b >= d)
                return FAILN(AV_NN_E_FORMAT, "shrink index %lld out of range for axis %d size %lld",
                             (long long)bv[i], full, (long long)d);
            p->begin[full] = b;
            p->end[full] = b + 1;
            p->step[full] = 1;
            full++;
            continue;
        }
        if (b < 0)
            b += d;
        if (e < 0)
            e += d;
        if (s > 0) {
            b = (p->begin_mask >> i) & 1 ? 0 : clamp64(b, 0, d);
            e = (p->end_mask >> i) & 1 ? d : clamp64(e, 0, d);
        } else {
            b = (p->begin_mask >> i) & 1 ? d - 1 : clamp64(b, -1, d - 1);
            e = (p->end_mask >> i) & 1 ? -1 : clamp64(e, -1, d - 1);
        }
        p->begin[full] = b;
        p->end[full] = e;
        p->step[full] = s;
        int64_t cnt = av_nn__slice_count(b, e, s);
        if (orank >= AV_NN_MAX_RANK)
            return FAILN(AV_NN_E_LIMIT, "output rank exceeds %d", AV_NN_MAX_RANK);
        od[orank++] = cnt;
        full++;
    }
    for (; full < R; full++) { /* covered by the implicit trailing ellipsis */
        p->begin[full] = 0;
        p->end[full] = x->dims[full];
        p->step[full] = 1;
        if (orank >= AV_NN_MAX_RANK)
            return FAILN(AV_NN_E_LIMIT, "output rank exceeds %d", AV_NN_MAX_RANK);
        od[orank++] = x->dims[full];
    }
    p->resolved = true;
    set_out(g, n, 0, x->dtype, orank, od);
    inherit_quant(g, n, 0, x);
    return AV_NN_OK;
}

av_nn_status av_nn__infer_transpose(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__transpose_params *p = &n->p.transpose;
    av_nn__tensor *x = tin(g, n, 0);
    if (p->rank == 0 && tin(g, n, 1)) {
        int64_t v[AV_NN_MAX_RANK];
        int nv;
        av_nn_status st = const_ints(g, n, 1, "perm", v, AV_NN_MAX_RANK, &nv, err, errlen);
        if (st)
            return st;
        for (int i = 0; i < nv; i++)
            p->perm[i] = (int)clamp64(v[i], -1, AV_NN_MAX_RANK);
        p->rank = nv;
    } else if (p->rank == 0) {
        for (int i = 0; i < x->rank; i++)
            p->perm[i] = x->rank - 1 - i;
        p->rank = x->rank;
    }
    if (p->rank != x->rank)
        return FAILN(AV_NN_E_FORMAT, "perm has %d entries for rank %d", p->rank, x->rank);
    uint32_t seen = 0;
    int64_t od[AV_NN_MAX_RANK];
    for (int i = 0; i < p->rank; i++) {
        if (p->perm[i] < 0 || p->perm[i] >= x->rank || (seen & (1u << p->perm[i])))
            return FAILN(AV_NN_E_FORMAT, "perm is not a permutation of 0..%d", x->rank - 1);
        seen |= 1u << p->perm[i];
        od[i] = x->dims[p->perm[i]];
    }
    set_out(g, n, 0, x->dtype, x->rank, od);
    inherit_quant(g, n, 0, x);
    return AV_NN_OK;
}

av_nn_status av_nn__infer_reshape(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__reshape_params *p = &n->p.reshape;
    av_nn__tensor *x = tin(g, n, 0);
    if (tin(g, n, 1)) {
        int nv = 0;
        av_nn_status st = const_ints(g, n, 1, "shape", p->dims, AV_NN_MAX_RANK, &nv, err, errlen);
        if (st)
            return st;
        p->rank = nv;
    }
    if (p->rank < 0 || p->rank > AV_NN_MAX_RANK)
        return FAILN(AV_NN_E_FORMAT, "target rank %d", p->rank);
    int64_t od[AV_NN_MAX_RANK], known = 1, total = av_nn__numel(x);
    int infer = -1;
    for (int i = 0; i < p->rank; i++) {
        int64_t d = p->dims[i];
        if (d == 0 && !p->allowzero) {
            if (i >= x->rank)
                return FAILN(AV_NN_E_FORMAT, "0 at index %d copies a missing input dim", i);
            d = x->dims[i];
        }
        if (d == -1) {
            if (infer >= 0)
                return FAILN(AV_NN_E_FORMAT, "more than one -1 in target shape");
            infer = i;
            od[i] = 1;
            continue;
        }
        if (d < 0 || d > AV_NN_MAX_ELEMENTS)
            return FAILN(AV_NN_E_FORMAT, "target dim %lld", (long long)d);
        od[i] = d;
        if (d && known > AV_NN_MAX_ELEMENTS / d)
            return FAILN(AV_NN_E_LIMIT, "target shape too large");
        known *= d;
    }
    if (infer >= 0) {
        if (known == 0 || total % known)
            return FAILN(AV_NN_E_FORMAT, "cannot infer -1: %lld elements into %lld",
                         (long long)total, (long long)known);
        od[infer] = total / known;
        known = total;
    }
    if (known != total)
        return FAILN(AV_NN_E_FORMAT, "target shape has %lld elements, input %lld", (long long)known,
                     (long long)total);
    for (int i = 0; i < p->rank; i++)
        p->dims[i] = od[i];
    p->allowzero = true; /* dims are now literal */
    p->resolved = true;
    set_out(g, n, 0, x->dtype, p->rank, od);
    inherit_quant(g, n, 0, x);
    return AV_NN_OK;
}

av_nn_status av_nn__infer_gather(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__tensor *x = tin(g, n, 0), *idx = tin(g, n, 1);
    if (!idx || (idx->dtype != AV_NN_I32 && idx->dtype != AV_NN_I64))
        return FAILN(AV_NN_E_FORMAT, "indices must be i32 or i64");
    int axis = av_nn__norm_axis(n->p.axis.axis, x->rank);
    if (axis < 0 || x->rank == 0 || x->rank - 1 + idx->rank > AV_NN_MAX_RANK)
        return FAILN(AV_NN_E_FORMAT, "axis %d / ranks %d, %d out of range", n->p.axis.axis, x->rank,
                     idx->rank);
    n->p.axis.axis = axis;
    int64_t od[AV_NN_MAX_RANK];
    int r = 0;
    for (int i = 0; i < axis; i++)
        od[r++] = x->dims[i];
    for (int i = 0; i < idx->rank; i++)
        od[r++] = idx->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        od[r++] = x->dims[i];
    set_out(g, n, 0, x->dtype, r, od);
    inherit_quant(g, n, 0, x);
    return AV_NN_OK;
}

static av_nn_dtype index_dtype(av_nn_dtype want, const av_nn__tensor *out)
{
    if (want == AV_NN_I32 || want == AV_NN_I64)
        return want;
    return out->dtype == AV_NN_I64 ? AV_NN_I64 : AV_NN_I32;
}

av_nn_status av_nn__infer_topk(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__topk_params *p = &n->p.topk;
    av_nn__tensor *x = tin(g, n, 0);
    if (n->n_out != 2)
        return FAILN(AV_NN_E_FORMAT, "needs outputs values and indices");
    if (p->k <= 0) {
        int64_t v[1];
        int nv;
        av_nn_status st = const_ints(g, n, 1, "k", v, 1, &nv, err, errlen);
        if (st)
            return st;
        if (nv != 1 || v[0] < 0 || v[0] > INT32_MAX)
            return FAILN(AV_NN_E_FORMAT, "bad k");
        p->k = (int)v[0];
    }
    if (p->peak) { /* x [N, H, W, C] stands for its peak mask reshaped to [N, H*W*C] */
        int64_t hwc = x->rank == 4 ? x->dims[1] * x->dims[2] * x->dims[3] : -1;
        if (x->rank != 4 || p->axis != 1 || p->k > hwc)
            return FAILN(AV_NN_E_FORMAT, "peak top-k needs [N, H, W, C] with k <= H*W*C");
        p->index_dtype = index_dtype(p->index_dtype, &g->tensors[n->out[1]]);
        int64_t od[2] = {x->dims[0], p->k};
        set_out(g, n, 0, x->dtype, 2, od);
        set_out(g, n, 1, p->index_dtype, 2, od);
        return AV_NN_OK;
    }
    int axis = av_nn__norm_axis(p->axis, x->rank);
    if (axis < 0 || x->rank == 0)
        return FAILN(AV_NN_E_FORMAT, "axis %d out of range for rank %d", p->axis, x->rank);
    p->axis = axis;
    if (p->k > x->dims[axis])
        return FAILN(AV_NN_E_FORMAT, "k %d > axis size %lld", p->k, (long long)x->dims[axis]);
    p->index_dtype = index_dtype(p->index_dtype, &g->tensors[n->out[1]]);
    int64_t od[AV_NN_MAX_RANK];
    memcpy(od, x->dims, sizeof od);
    od[axis] = p->k;
    set_out(g, n, 0, x->dtype, x->rank, od);
    inherit_quant(g, n, 0, x);
    set_out(g, n, 1, p->index_dtype, x->rank, od);
    return AV_NN_OK;
}

av_nn_status av_nn__infer_argmax(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__argmax_params *p = &n->p.argmax;
    av_nn__tensor *x = tin(g, n, 0);
    int axis = av_nn__norm_axis(p->axis, x->rank);
    if (axis < 0 || x->rank == 0 || x->dims[axis] == 0)
        return FAILN(AV_NN_E_FORMAT, "axis %d out of range or empty", p->axis);
    p->axis = axis;
    p->index_dtype = index_dtype(p->index_dtype, &g->tensors[n->out[0]]);
    int64_t od[AV_NN_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (i != axis)
            od[r++] = x->dims[i];
        else if (p->keep_dims)
            od[r++] = 1;
    }
    set_out(g, n, 0, p->index_dtype, r, od);
    return AV_NN_OK;
}

av_nn_status av_nn__infer_tile(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__tensor *x = tin(g, n, 0);
    int64_t m[AV_NN_MAX_RANK], od[AV_NN_MAX_RANK];
    int nm = 0;
    av_nn_status st = const_ints(g, n, 1, "multiples", m, AV_NN_MAX_RANK, &nm, err, errlen);
    if (st)
        return st;
    if (nm != x->rank)
        return FAILN(AV_NN_E_FORMAT, "%d multiples for rank %d", nm, x->rank);
    for (int i = 0; i < nm; i++) {
        if (m[i] < 0 || (x->dims[i] && m[i] > AV_NN_MAX_ELEMENTS / x->dims[i]))
            return FAILN(AV_NN_E_FORMAT, "multiple %lld on axis %d", (long long)m[i], i);
        od[i] = x->dims[i] * m[i];
    }
    set_out(g, n, 0, x->dtype, x->rank, od);
    inherit_quant(g, n, 0, x);
    return AV_NN_OK;
}

av_nn_status av_nn__infer_s2d(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__tensor *idx = tin(g, n, 0), *vals = tin(g, n, 2), *def = tin(g, n, 3);
    int64_t od[AV_NN_MAX_RANK];
    int r = 0;
    if (!idx || !vals || !def)
        return FAILN(AV_NN_E_FORMAT, "needs indices, output_shape, values, default");
    av_nn_status st = const_ints(g, n, 1, "output_shape", od, AV_NN_MAX_RANK, &r, err, errlen);
    if (st)
        return st;
    if (idx->dtype != AV_NN_I32 && idx->dtype != AV_NN_I64)
        return FAILN(AV_NN_E_FORMAT, "indices must be i32 or i64");
    if (idx->rank > 2 || (idx->rank == 2 && idx->dims[1] != r) || av_nn__numel(def) != 1 ||
        vals->dtype != def->dtype)
        return FAILN(AV_NN_E_FORMAT, "indices/values/default do not fit output rank %d", r);
    int64_t nidx = idx->rank == 0 ? 1 : idx->dims[0], nv = av_nn__numel(vals);
    if (nv != 1 && nv != nidx)
        return FAILN(AV_NN_E_FORMAT, "%lld values for %lld indices", (long long)nv,
                     (long long)nidx);
    if (idx->rank < 2 && r != 1 && !(idx->rank == 0 && r == 0))
        return FAILN(AV_NN_E_FORMAT, "1-D indices need a 1-D output");
    for (int i = 0; i < r; i++)
        if (od[i] < 0 || od[i] > AV_NN_MAX_ELEMENTS)
            return FAILN(AV_NN_E_FORMAT, "output dim %lld", (long long)od[i]);
    set_out(g, n, 0, vals->dtype, r, od);
    return AV_NN_OK;
}

/* The conv's output rows at the indexed pixels: [indices..., O]. */
av_nn_status av_nn__infer_sparse_head(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__tensor *x = tin(g, n, 0), *w = tin(g, n, 1), *idx = tin(g, n, 3), *dw = tin(g, n, 4);
    if (!x || !w || !idx || !dw || (n->n_in != 6 && n->n_in != 7))
        return FAILN(AV_NN_E_FORMAT, "needs x, filter, bias?, indices, dw filter, dw bias?");
    if (x->rank != 4 || w->rank != 4 || dw->rank != 4 || w->dims[3] != x->dims[3] ||
        dw->dims[3] != x->dims[3] || x->dtype != AV_NN_F32)
        return FAILN(AV_NN_E_FORMAT, "x, filter and dw filter do not agree");
    if (idx->dtype != AV_NN_I32 && idx->dtype != AV_NN_I64)
        return FAILN(AV_NN_E_FORMAT, "indices must be i32 or i64");
    if (idx->rank >= AV_NN_MAX_RANK)
        return FAILN(AV_NN_E_FORMAT, "indices of rank %d", idx->rank);
    int64_t od[AV_NN_MAX_RANK];
    for (int i = 0; i < idx->rank; i++)
        od[i] = idx->dims[i];
    od[idx->rank] = w->dims[0];
    set_out(g, n, 0, AV_NN_F32, idx->rank + 1, od);
    return AV_NN_OK;
}
