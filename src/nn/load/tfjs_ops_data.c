/*
 * tfjs_ops_data.c - lowering of the TF data-movement and index ops (reshape,
 * expand/squeeze, pack, slices, transpose, pad, split, gather, topk, argmax,
 * cast, softmax, sparse-to-dense, select, tile); the rest is tfjs_ops.c.
 */
#include "nn/load/tfjs_ops_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

av_nn_status av_nn__tfjs_lower_reshape(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in != 2)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 2", n->n_in);
    av_nn__params p = {0};
    p.reshape.allowzero = true; /* TF: 0 is a real zero-sized dim */
    av_nn__tid in[2] = {IN(0), IN(1)};
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_RESHAPE, in, 2, &p);
}

/*
 * Emit a TF strided slice of x into out whose spec has nb entries: begin,
 * end (masked out), strides 1; masks as given. Used for ExpandDims, Squeeze
 * and Pack, which need the input rank the loader does not know.
 */
static av_nn_status emit_spec_slice(av_nn__tfjs *L, av_nn__tfjs_node *n, av_nn__tid x,
                                    av_nn__tid out, int nb, uint32_t ellipsis, uint32_t newax,
                                    uint32_t shrink)
{
    int64_t zeros[AV_NN_MAX_RANK + 1] = {0}, ones[AV_NN_MAX_RANK + 1];
    for (int i = 0; i <= AV_NN_MAX_RANK; i++)
        ones[i] = 1;
    av_nn__tid b = av_nn__tfjs_const_i32(L, n->name, "/begin", zeros, nb, false);
    av_nn__tid e = b < 0 ? -1 : av_nn__tfjs_const_i32(L, n->name, "/end", ones, nb, false);
    av_nn__tid s = e < 0 ? -1 : av_nn__tfjs_const_i32(L, n->name, "/strides", ones, nb, false);
    if (s < 0)
        return FAIL(AV_NN_E_NOMEM, "slice constants");
    av_nn__params p = {0};
    av_nn__slice_params *sp = &p.slice;
    sp->tf_semantics = true;
    uint32_t all = (1u << nb) - 1;
    sp->begin_mask = sp->end_mask = all & ~(newax | shrink | ellipsis);
    sp->ellipsis_mask = ellipsis;
    sp->new_axis_mask = newax;
    sp->shrink_axis_mask = shrink;
    av_nn__tid in[4] = {x, b, e, s};
    return av_nn__tfjs_emit(L, n, AV_NN_OP_SLICE, in, 4, &out, 1, &p);
}

/* Insert a unit axis at a (ExpandDims convention: -1 appends) into out. */
static av_nn_status emit_expand(av_nn__tfjs *L, av_nn__tfjs_node *n, av_nn__tid x, int a,
                                av_nn__tid out)
{
    if (a >= AV_NN_MAX_RANK || a < -AV_NN_MAX_RANK)
        return FAIL(AV_NN_E_UNSUPPORTED, "axis %d", a);
    if (a >= 0) /* a full slices, then the new axis; the rest is implicit */
        return emit_spec_slice(L, n, x, out, a + 1, 0, 1u << a, 0);
    int k = -a - 1; /* ellipsis, new axis, k full slices */
    return emit_spec_slice(L, n, x, out, k + 2, 1u, 2u, 0);
}

av_nn_status av_nn__tfjs_lower_expand_dims(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in != 2)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 2", n->n_in);
    int a;
    av_nn_status st =
        av_nn__tfjs_const_scalar(L, n, 1, "dim", -AV_NN_MAX_RANK, AV_NN_MAX_RANK - 1, &a);
    if (st || (st = av_nn__tfjs_make_outputs(L, n, 1)))
        return st;
    return emit_expand(L, n, IN(0), a, n->out0);
}

av_nn_status av_nn__tfjs_lower_squeeze(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in != 1)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 1", n->n_in);
    int64_t ax[AV_NN_MAX_RANK + 1];
    int k = av_nn__tfjs_attr_list_i(n, "squeeze_dims", ax, AV_NN_MAX_RANK);
    if (k == 0)
        k = av_nn__tfjs_attr_list_i(n, "axis", ax, AV_NN_MAX_RANK);
    if (k < 0)
        return FAIL(AV_NN_E_FORMAT, "bad squeeze_dims");
    if (k == 0)
        return FAIL(AV_NN_E_UNSUPPORTED, "squeeze without squeeze_dims needs the input shape");
    /* spec: positive axes 0..maxpos (shrink or full), ellipsis, then -m..-1 */
    uint32_t pos = 0, neg = 0;
    for (int i = 0; i < k; i++) {
        if (ax[i] >= AV_NN_MAX_RANK || ax[i] < -AV_NN_MAX_RANK)
            return FAIL(AV_NN_E_FORMAT, "squeeze axis %lld", (long long)ax[i]);
        if (ax[i] >= 0)
            pos |= 1u << ax[i];
        else
            neg |= 1u << (-ax[i] - 1); /* bit j: axis -(j+1) */
    }
    int np = 0, nneg = 0;
    while (pos >> np)
        np++;
    while (neg >> nneg)
        nneg++;
    int nb = np + 1 + nneg;
    if (nb > AV_NN_MAX_RANK + 1)
        return FAIL(AV_NN_E_UNSUPPORTED, "squeeze spec too long");
    uint32_t shrink = pos;
    for (int j = 0; j < nneg; j++) /* entry np+1+i holds axis -(nneg-i) */
        if ((neg >> j) & 1)
            shrink |= 1u << (np + 1 + (nneg - 1 - j));
    av_nn_status st = av_nn__tfjs_make_outputs(L, n, 1);
    return st ? st : emit_spec_slice(L, n, IN(0), n->out0, nb, 1u << np, 0, shrink);
}

av_nn_status av_nn__tfjs_lower_pack(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    bool bad = false;
    int64_t a = av_nn__tfjs_attr_i(n, "axis", 0, &bad);
    if (bad || n->n_in < 1 || a >= AV_NN_MAX_RANK || a < -AV_NN_MAX_RANK)
        return FAIL(AV_NN_E_FORMAT, "bad axis or no inputs");
    av_nn_status st = av_nn__tfjs_make_outputs(L, n, 1);
    if (st)
        return st;
    av_nn__tid parts[AV_NN_MAX_NODE_INPUTS];
    for (int i = 0; i < n->n_in; i++) {
        parts[i] = n->n_in == 1 ? n->out0 : av_nn__tfjs_act_tensor(L, n->name, "/expand");
        if (parts[i] < 0)
            return FAIL(AV_NN_E_NOMEM, "tensor");
        if ((st = emit_expand(L, n, IN(i), (int)a, parts[i])))
            return st;
    }
    if (n->n_in == 1)
        return AV_NN_OK;
    av_nn__params p = {0};
    p.axis.axis = (int)a;
    return av_nn__tfjs_emit(L, n, AV_NN_OP_CONCAT, parts, n->n_in, &n->out0, 1, &p);
}

av_nn_status av_nn__tfjs_lower_strided_slice(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in != 3 && n->n_in != 4)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 3 or 4", n->n_in);
    bool bad = false;
    av_nn__params p = {0};
    av_nn__slice_params *s = &p.slice;
    s->tf_semantics = true;
    int64_t m[5];
    static const char *keys[5] = {"begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                  "shrink_axis_mask"};
    for (int i = 0; i < 5; i++) {
        m[i] = av_nn__tfjs_attr_i(n, keys[i], 0, &bad);
        if (m[i] < 0 || m[i] > 0xffff)
            bad = true;
    }
    if (bad)
        return FAIL(AV_NN_E_FORMAT, "bad mask attributes");
    s->begin_mask = (uint32_t)m[0];
    s->end_mask = (uint32_t)m[1];
    s->ellipsis_mask = (uint32_t)m[2];
    s->new_axis_mask = (uint32_t)m[3];
    s->shrink_axis_mask = (uint32_t)m[4];
    av_nn__tid in[4] = {IN(0), IN(1), IN(2), n->n_in == 4 ? IN(3) : -1};
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_SLICE, in, n->n_in, &p);
}

/* Slice(x, begin, size): constant begin/size -> TF strided slice (size -1 = to the end). */
av_nn_status av_nn__tfjs_lower_slice(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in != 3)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 3", n->n_in);
    int64_t b[AV_NN_MAX_RANK], sz[AV_NN_MAX_RANK], e[AV_NN_MAX_RANK], one[AV_NN_MAX_RANK];
    int nb = av_nn__tfjs_const_ints(L, n, 1, "begin", b, AV_NN_MAX_RANK);
    if (nb < 0)
        return (av_nn_status)-nb;
    int ns = av_nn__tfjs_const_ints(L, n, 2, "size", sz, AV_NN_MAX_RANK);
    if (ns < 0)
        return (av_nn_status)-ns;
    if (ns != nb)
        return FAIL(AV_NN_E_FORMAT, "begin has %d values, size %d", nb, ns);
    av_nn__params p = {0};
    p.slice.tf_semantics = true;
    for (int i = 0; i < nb; i++) {
        if (b[i] < 0 || sz[i] < -1 || b[i] > AV_NN_MAX_ELEMENTS || sz[i] > AV_NN_MAX_ELEMENTS)
            return FAIL(AV_NN_E_FORMAT, "begin %lld / size %lld on axis %d", (long long)b[i],
                        (long long)sz[i], i);
        e[i] = sz[i] < 0 ? 0 : b[i] + sz[i];
        if (sz[i] < 0)
            p.slice.end_mask |= 1u << i;
        one[i] = 1;
    }
    av_nn__tid tb = av_nn__tfjs_const_i32(L, n->name, "/begin", b, nb, false);
    av_nn__tid te = tb < 0 ? -1 : av_nn__tfjs_const_i32(L, n->name, "/end", e, nb, false);
    av_nn__tid ts = te < 0 ? -1 : av_nn__tfjs_const_i32(L, n->name, "/strides", one, nb, false);
    if (ts < 0)
        return FAIL(AV_NN_E_NOMEM, "slice constants");
    av_nn__tid in[4] = {IN(0), tb, te, ts};
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_SLICE, in, 4, &p);
}

av_nn_status av_nn__tfjs_lower_transpose(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in != 2)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 2", n->n_in);
    int64_t perm[AV_NN_MAX_RANK];
    int k = av_nn__tfjs_const_ints(L, n, 1, "perm", perm, AV_NN_MAX_RANK);
    if (k < 0)
        return (av_nn_status)-k;
    av_nn__params p = {0};
    uint32_t seen = 0;
    for (int i = 0; i < k; i++) {
        if (perm[i] < 0 || perm[i] >= k || (seen >> perm[i]) & 1)
            return FAIL(AV_NN_E_FORMAT, "perm is not a permutation of 0..%d", k - 1);
        seen |= 1u << perm[i];
        p.transpose.perm[i] = (int)perm[i];
    }
    p.transpose.rank = k;
    av_nn__tid x = IN(0);
    if (k == 0) /* a scalar: nothing to move */
        return av_nn__tfjs_emit1(L, n, AV_NN_OP_IDENTITY, &x, 1, NULL);
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_TRANSPOSE, &x, 1, &p);
}

av_nn_status av_nn__tfjs_lower_pad(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    av_nn__params p = {0};
    p.pad.mode = AV_NN_PADMODE_CONSTANT;
    int want = arg == 1 ? 3 : 2;
    if (n->n_in != want)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want %d", n->n_in, want);
    if (arg == 2) { /* MirrorPad */
        char buf[32];
        bool bad = false;
        const char *mode = av_nn__tfjs_attr_s(n, "mode", "", buf, sizeof buf, &bad);
        if (bad || strcmp(mode, "REFLECT") != 0)
            return FAIL(AV_NN_E_UNSUPPORTED, "MirrorPad mode '%s' (only REFLECT)", mode);
        p.pad.mode = AV_NN_PADMODE_REFLECT;
    }
    av_nn__tid in[3] = {IN(0), IN(1), arg == 1 ? IN(2) : -1};
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_PAD, in, arg == 1 ? 3 : 2, &p);
}

av_nn_status av_nn__tfjs_lower_split(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    /* SplitV: [x, size_splits, axis]; Split: [axis, x] in equal parts */
    bool v = arg == 1;
    if (n->n_in != (v ? 3 : 2))
        return FAIL(AV_NN_E_FORMAT, "%d inputs", n->n_in);
    int k = av_nn__tfjs_num_outputs(n);
    if (k < 1)
        return FAIL(AV_NN_E_FORMAT, "num_split must be 1..%d", AV_NN_MAX_NODE_OUTPUTS);
    int axis;
    av_nn_status st = av_nn__tfjs_const_scalar(L, n, v ? 2 : 0, "split_dim", -AV_NN_MAX_RANK,
                                   AV_NN_MAX_RANK - 1, &axis);
    if (st || (st = av_nn__tfjs_make_outputs(L, n, k)))
        return st;
    av_nn__params p = {0};
    p.split.axis = axis;
    av_nn__tid out[AV_NN_MAX_NODE_OUTPUTS];
    for (int i = 0; i < k; i++)
        out[i] = n->out0 + i;
    av_nn__tid in[2] = {IN(v ? 0 : 1), v ? IN(1) : -1};
    return av_nn__tfjs_emit(L, n, AV_NN_OP_SPLIT, in, v ? 2 : 1, out, k, &p);
}

av_nn_status av_nn__tfjs_lower_gather(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    bool v2 = arg == 1;
    if (n->n_in != (v2 ? 3 : 2))
        return FAIL(AV_NN_E_FORMAT, "%d inputs", n->n_in);
    bool bad = false;
    if (av_nn__tfjs_attr_i(n, "batch_dims", 0, &bad) != 0 || bad)
        return FAIL(AV_NN_E_UNSUPPORTED, "batch_dims other than 0");
    av_nn__params p = {0};
    if (v2) {
        av_nn_status st = av_nn__tfjs_const_scalar(L, n, 2, "axis", -AV_NN_MAX_RANK, AV_NN_MAX_RANK - 1,
                                       &p.axis.axis);
        if (st)
            return st;
    }
    av_nn__tid in[2] = {IN(0), IN(1)};
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_GATHER, in, 2, &p);
}

av_nn_status av_nn__tfjs_lower_topk(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in != 2)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 2", n->n_in);
    bool bad = false;
    av_nn__params p = {0};
    p.topk.k = 0; /* from the constant input at finalize */
    p.topk.axis = -1;
    p.topk.largest = true;
    p.topk.sorted = av_nn__tfjs_attr_b(n, "sorted", true, &bad);
    p.topk.index_dtype = AV_NN_I32;
    if (bad)
        return FAIL(AV_NN_E_FORMAT, "bad sorted attribute");
    av_nn_status st = av_nn__tfjs_make_outputs(L, n, 2);
    if (st)
        return st;
    av_nn__tid in[2] = {IN(0), IN(1)}, out[2] = {n->out0, n->out0 + 1};
    return av_nn__tfjs_emit(L, n, AV_NN_OP_TOPK, in, 2, out, 2, &p);
}

av_nn_status av_nn__tfjs_lower_argmax(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    if (n->n_in != 2)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 2", n->n_in);
    av_nn__params p = {0};
    av_nn_status st =
        av_nn__tfjs_const_scalar(L, n, 1, "axis", -AV_NN_MAX_RANK, AV_NN_MAX_RANK - 1, &p.argmax.axis);
    if (st)
        return st;
    p.argmax.is_min = arg == 1;
    p.argmax.index_dtype = AV_NN_I32;
    av_nn__tid x = IN(0);
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_ARGMAX, &x, 1, &p);
}

av_nn_status av_nn__tfjs_lower_cast(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in != 1)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 1", n->n_in);
    const char *dst = json_string_value(json_object_get(av_nn__tfjs_attr(n, "DstT"), "type"));
    av_nn__params p = {0};
    if (!av_nn__tfjs_dtype(dst, &p.cast.to))
        return FAIL(AV_NN_E_UNSUPPORTED, "cast to %s", dst ? dst : "(missing DstT)");
    av_nn__tid x = IN(0);
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_CAST, &x, 1, &p);
}

av_nn_status av_nn__tfjs_lower_softmax(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    if (n->n_in != 1)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 1", n->n_in);
    av_nn__params p = {0};
    p.softmax.axis = -1;
    p.softmax.beta = 1.0f;
    p.softmax.log = arg == 1;
    av_nn__tid x = IN(0);
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_SOFTMAX, &x, 1, &p);
}

av_nn_status av_nn__tfjs_lower_sparse_to_dense(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in != 4)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 4", n->n_in);
    av_nn__tid in[4] = {IN(0), IN(1), IN(2), IN(3)};
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_SPARSE_TO_DENSE, in, 4, NULL);
}

av_nn_status av_nn__tfjs_lower_select(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in != 3)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 3", n->n_in);
    av_nn__tid in[3] = {IN(0), IN(1), IN(2)};
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_WHERE, in, 3, NULL);
}

av_nn_status av_nn__tfjs_lower_tile(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in != 2)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 2", n->n_in);
    av_nn__tid in[2] = {IN(0), IN(1)};
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_TILE, in, 2, NULL);
}

av_nn_status av_nn__tfjs_lower_concat(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    /* ConcatV2: values..., axis.  Concat (v1): axis, values... */
    bool v1 = arg == 1;
    if (n->n_in < 2)
        return FAIL(AV_NN_E_FORMAT, "needs values and an axis");
    int axis;
    av_nn_status st = av_nn__tfjs_const_scalar(L, n, v1 ? 0 : n->n_in - 1, "axis", -AV_NN_MAX_RANK,
                                   AV_NN_MAX_RANK - 1, &axis);
    if (st)
        return st;
    av_nn__tid in[AV_NN_MAX_NODE_INPUTS];
    int k = 0;
    for (int i = v1 ? 1 : 0; i < (v1 ? n->n_in : n->n_in - 1); i++)
        in[k++] = IN(i);
    av_nn__params p = {0};
    p.axis.axis = axis;
    return av_nn__tfjs_emit1(L, n, k == 1 ? AV_NN_OP_IDENTITY : AV_NN_OP_CONCAT, in, k, &p);
}
