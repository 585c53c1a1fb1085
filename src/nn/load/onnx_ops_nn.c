/*
 * onnx_ops_nn.c - ONNX spatial ops -> IR: Conv, ConvTranspose, MaxPool,
 * AveragePool, global pools, BatchNormalization, InstanceNormalization,
 * Resize/Upsample, DepthToSpace/SpaceToDepth.
 *
 * ONNX is NCHW, the IR's image ops NHWC: each spatial op is wrapped in
 * TRANSPOSE nodes (NCHW -> NHWC before, back after; a pass cancels the
 * inverse pairs between consecutive ops). Conv weights OIHW are transposed
 * to OHWI by a TRANSPOSE node that folds at load when they are constant.
 * 1-D ops run as 2-D ones with H = 1; 3-D ones are unsupported.
 */
#include "nn/load/onnx.h"

#include "nn/core.h"

#include <math.h>
#include <string.h>

#define TRY(x)                      \
    do {                            \
        av_nn_status st_ = (x);     \
        if (st_)                    \
            return st_;             \
    } while (0)

static const int TO_NHWC[4] = {0, 2, 3, 1};
static const int TO_NCHW[4] = {0, 3, 1, 2};

/* x NCHW of rank 3 (N,C,L) or 4 -> NHWC rank 4. */
static av_nn_status to_nhwc(av_nn__onnx_lower *L, av_nn__tid x, av_nn__tid *out)
{
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor t_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *t = &t_s;
    if (t->rank == 3) {
        int64_t d[4] = {t->dims[0], t->dims[1], 1, t->dims[2]};
        TRY(av_nn__onnx_reshape(L, x, d, 4, -1, &x));
    } else if (t->rank != 4) {
        return AV_NN_ONNX_UNSUP(L, "input rank %d (only 1-D and 2-D spatial ops)", t->rank);
    }
    return av_nn__onnx_transpose(L, x, TO_NHWC, 4, -1, out);
}

/* y NHWC -> NCHW into dst; back to rank 3 when the ONNX input was 1-D. */
static av_nn_status from_nhwc(av_nn__onnx_lower *L, av_nn__tid y, bool one_d, av_nn__tid dst)
{
    av_nn__tid t;
    TRY(av_nn__onnx_transpose(L, y, TO_NCHW, 4, one_d ? -1 : dst, &t));
    if (!one_d)
        return AV_NN_OK;
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor tt_s = *av_nn__onnx_t(L, t);
    const av_nn__tensor *tt = &tt_s;
    int64_t d[3] = {tt->dims[0], tt->dims[1], tt->dims[3]};
    return av_nn__onnx_reshape(L, t, d, 3, dst, &t);
}

/* Window attributes of conv/pool, mapped onto 2-D (1-D gets H = 1). */
typedef struct window {
    int nd;                  /* spatial dims in the ONNX op: 1 or 2 */
    int64_t k[2], s[2], d[2];
    int64_t pb[2], pe[2];    /* pads at begin / end, per 2-D axis */
    av_nn__padding pad;
    bool have_k;
} window;

static av_nn_status ints_n(av_nn__onnx_lower *L, const char *name, int want, int64_t *v,
                           int64_t def, bool *given)
{
    int n;
    int64_t tmp[8];
    TRY(av_nn__onnx_attr_ints(L->node, name, tmp, 8, &n, L->err, L->errlen));
    if (given)
        *given = n >= 0;
    if (n < 0) {
        for (int i = 0; i < want; i++)
            v[i] = def;
        return AV_NN_OK;
    }
    if (n != want)
        return AV_NN_ONNX_BAD(L, "attribute '%s' has %d values, want %d", name, n, want);
    memcpy(v, tmp, sizeof(int64_t) * (size_t)want);
    return AV_NN_OK;
}

static av_nn_status read_window(av_nn__onnx_lower *L, int nd, bool dil, window *w)
{
    memset(w, 0, sizeof *w);
    w->nd = nd;
    int64_t k[2], s[2], d[2] = {1, 1}, pads[4];
    TRY(ints_n(L, "kernel_shape", nd, k, 0, &w->have_k));
    TRY(ints_n(L, "strides", nd, s, 1, NULL));
    if (dil)
        TRY(ints_n(L, "dilations", nd, d, 1, NULL));
    TRY(ints_n(L, "pads", 2 * nd, pads, 0, NULL));
    av_nn__onnx_str ap;
    TRY(av_nn__onnx_attr_str(L, "auto_pad", "NOTSET", &ap));
    if (av_nn__onnx_str_eq(ap, "NOTSET"))
        w->pad = AV_NN_PAD_EXPLICIT;
    else if (av_nn__onnx_str_eq(ap, "SAME_UPPER"))
        w->pad = AV_NN_PAD_SAME;
    else if (av_nn__onnx_str_eq(ap, "SAME_LOWER"))
        w->pad = AV_NN_PAD_SAME_LOWER;
    else if (av_nn__onnx_str_eq(ap, "VALID"))
        w->pad = AV_NN_PAD_VALID;
    else
        return AV_NN_ONNX_BAD(L, "auto_pad '%.*s'", (int)(ap.n > 32 ? 32 : ap.n), ap.p);
    /* 1-D: the single axis is W; H is a dummy axis of size 1 */
    int o = 2 - nd;
    for (int i = 0; i < 2; i++) {
        w->k[i] = 1;
        w->s[i] = 1;
        w->d[i] = 1;
        w->pb[i] = w->pe[i] = 0;
    }
    for (int i = 0; i < nd; i++) {
        w->k[o + i] = k[i];
        w->s[o + i] = s[i];
        w->d[o + i] = d[i];
        w->pb[o + i] = pads[i];
        w->pe[o + i] = pads[nd + i];
    }
    for (int i = 0; i < 2; i++) {
        if (w->s[i] < 1 || w->s[i] > 65536 || w->d[i] < 1 || w->d[i] > 65536 ||
            w->k[i] < 0 || w->k[i] > 65536 || w->pb[i] < 0 || w->pe[i] < 0 ||
            w->pb[i] > 65536 || w->pe[i] > 65536)
            return AV_NN_ONNX_BAD(L, "kernel/stride/dilation/pads out of range");
    }
    return AV_NN_OK;
}

static int spatial_nd(av_nn__onnx_lower *L, av_nn__tid x)
{
    int r = av_nn__onnx_t(L, x)->rank;
    return r == 3 ? 1 : r == 4 ? 2 : 0;
}

/* ---- Conv ---- */

static av_nn_status lower_conv(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), w = av_nn__onnx_in(L, 1), b = av_nn__onnx_in(L, 2), y;
    if (x < 0 || w < 0)
        return AV_NN_ONNX_BAD(L, "needs X and W");
    int nd = spatial_nd(L, x);
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor tx_s = *av_nn__onnx_t(L, x), tw_s = *av_nn__onnx_t(L, w);
    const av_nn__tensor *tx = &tx_s, *tw = &tw_s;
    if (!nd)
        return AV_NN_ONNX_UNSUP(L, "input rank %d (only 1-D and 2-D convolutions)", tx->rank);
    if (tw->rank != tx->rank)
        return AV_NN_ONNX_BAD(L, "weights rank %d for input rank %d", tw->rank, tx->rank);
    if (tx->dtype != AV_NN_F32 || tw->dtype != AV_NN_F32)
        return AV_NN_ONNX_UNSUP(L, "Conv of %s", av_nn_dtype_name(tx->dtype));
    window win;
    int64_t group;
    TRY(read_window(L, nd, true, &win));
    TRY(av_nn__onnx_attr_int(L, "group", 1, &group));
    for (int i = 0; i < nd; i++)
        if (win.have_k && win.k[2 - nd + i] != tw->dims[2 + i])
            return AV_NN_ONNX_BAD(L, "kernel_shape does not match the weights");
    int64_t C = tx->dims[1], O = tw->dims[0];
    if (group < 1 || C % group || tw->dims[1] * group != C || O % group)
        return AV_NN_ONNX_BAD(L, "group %lld does not fit %lld input / %lld output channels",
                              (long long)group, (long long)C, (long long)O);
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params p = {0};
    p.conv.stride_h = (int)win.s[0];
    p.conv.stride_w = (int)win.s[1];
    p.conv.dilation_h = (int)win.d[0];
    p.conv.dilation_w = (int)win.d[1];
    p.conv.padding = win.pad;
    p.conv.pad_top = (int)win.pb[0];
    p.conv.pad_left = (int)win.pb[1];
    p.conv.pad_bottom = (int)win.pe[0];
    p.conv.pad_right = (int)win.pe[1];
    av_nn__tid xh, wh = w;
    TRY(to_nhwc(L, x, &xh));
    if (nd == 1) {
        int64_t d[4] = {tw->dims[0], tw->dims[1], 1, tw->dims[2]};
        TRY(av_nn__onnx_reshape(L, w, d, 4, -1, &wh));
    }
    av_nn__op op = AV_NN_OP_CONV2D;
    if (group > 1 && group == C) {
        static const int to_1hwo[4] = {1, 2, 3, 0};
        op = AV_NN_OP_DEPTHWISE_CONV2D;
        p.conv.depth_multiplier = (int)(O / C);
        TRY(av_nn__onnx_transpose(L, wh, to_1hwo, 4, -1, &wh));
    } else {
        p.conv.groups = (int)group;
        TRY(av_nn__onnx_transpose(L, wh, TO_NHWC, 4, -1, &wh));
    }
    av_nn__tid in[3] = {xh, wh, b}, yh = -1;
    TRY(av_nn__onnx_emit1(L, op, &p, in, b >= 0 ? 3 : 2, &yh));
    return from_nhwc(L, yh, nd == 1, y);
}

/* ---- ConvTranspose ---- */

static av_nn_status lower_conv_transpose(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), w = av_nn__onnx_in(L, 1), b = av_nn__onnx_in(L, 2), y;
    if (x < 0 || w < 0)
        return AV_NN_ONNX_BAD(L, "needs X and W");
    int nd = spatial_nd(L, x);
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor tx_s = *av_nn__onnx_t(L, x), tw_s = *av_nn__onnx_t(L, w);
    const av_nn__tensor *tx = &tx_s, *tw = &tw_s;
    if (!nd)
        return AV_NN_ONNX_UNSUP(L, "input rank %d (only 1-D and 2-D)", tx->rank);
    if (tw->rank != tx->rank || tw->dims[0] != tx->dims[1])
        return AV_NN_ONNX_BAD(L, "weights do not match the input");
    if (tx->dtype != AV_NN_F32 || tw->dtype != AV_NN_F32)
        return AV_NN_ONNX_UNSUP(L, "ConvTranspose of %s", av_nn_dtype_name(tx->dtype));
    window win;
    int64_t group, opad[2], oshape[4];
    int n_os;
    TRY(read_window(L, nd, true, &win));
    TRY(av_nn__onnx_attr_int(L, "group", 1, &group));
    if (group != 1)
        return AV_NN_ONNX_UNSUP(L, "group %lld", (long long)group);
    TRY(ints_n(L, "output_padding", nd, opad, 0, NULL));
    TRY(av_nn__onnx_attr_ints(L->node, "output_shape", oshape, 4, &n_os, L->err, L->errlen));
    if (n_os >= 0 && n_os != nd && n_os != nd + 2)
        return AV_NN_ONNX_BAD(L, "output_shape has %d values", n_os);
    /* resolve ONNX padding rules here, with the input size known */
    av_nn__params p = {0};
    int64_t in_sz[2] = {nd == 1 ? 1 : tx->dims[2], tx->dims[tx->rank - 1]};
    int64_t k_sz[2] = {nd == 1 ? 1 : tw->dims[2], tw->dims[tw->rank - 1]};
    int64_t op2[2] = {nd == 1 ? 0 : opad[0], opad[nd - 1]};
    int64_t pb[2], pe[2];
    for (int i = 0; i < 2; i++) {
        if (op2[i] < 0 || op2[i] > 65536)
            return AV_NN_ONNX_BAD(L, "output_padding out of range");
        int64_t keff = (k_sz[i] - 1) * win.d[i] + 1;
        int64_t full = win.s[i] * (in_sz[i] - 1) + op2[i] + keff;
        int64_t want = -1;
        if (n_os > 0) /* the spatial sizes are the last nd values; 1-D has H = 1 */
            want = (nd == 1 && i == 0) ? 1 : oshape[n_os - 2 + i];
        if (want < 0 && (win.pad == AV_NN_PAD_SAME || win.pad == AV_NN_PAD_SAME_LOWER))
            want = in_sz[i] * win.s[i];
        if (want >= 0) {
            /* ONNX splits total padding with floor division (Python //) */
            int64_t total = full - want;
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
            bool upper = win.pad == AV_NN_PAD_SAME;
            pb[i] = upper ? half : total - half;
            pe[i] = total - pb[i];
            if (pb[i] < 0)
                return AV_NN_ONNX_UNSUP(L, "output size %lld needs negative leading padding",
                                        (long long)want);
            if (pe[i] < 0) { /* output longer than the full result: extra rows at the end */
                op2[i] -= pe[i];
                pe[i] = 0;
            }
        } else if (win.pad == AV_NN_PAD_VALID) {
            pb[i] = pe[i] = 0;
        } else {
            pb[i] = win.pb[i];
            pe[i] = win.pe[i];
        }
    }
    p.conv.stride_h = (int)win.s[0];
    p.conv.stride_w = (int)win.s[1];
    p.conv.dilation_h = (int)win.d[0];
    p.conv.dilation_w = (int)win.d[1];
    p.conv.padding = AV_NN_PAD_EXPLICIT;
    p.conv.pad_top = (int)pb[0];
    p.conv.pad_left = (int)pb[1];
    p.conv.pad_bottom = (int)pe[0];
    p.conv.pad_right = (int)pe[1];
    p.conv.out_pad_h = (int)op2[0];
    p.conv.out_pad_w = (int)op2[1];
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__tid xh, wh = w;
    TRY(to_nhwc(L, x, &xh));
    if (nd == 1) {
        int64_t d[4] = {tw->dims[0], tw->dims[1], 1, tw->dims[2]};
        TRY(av_nn__onnx_reshape(L, w, d, 4, -1, &wh));
    }
    static const int to_ohwi[4] = {1, 2, 3, 0}; /* [C_in, O, kh, kw] -> [O, kh, kw, C_in] */
    TRY(av_nn__onnx_transpose(L, wh, to_ohwi, 4, -1, &wh));
    av_nn__tid in[3] = {xh, wh, b}, yh = -1;
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_TRANSPOSE_CONV2D, &p, in, b >= 0 ? 3 : 2, &yh));
    return from_nhwc(L, yh, nd == 1, y);
}

/* ---- pools ---- */

/* ONNX output size of one pooled axis (explicit pads), for checking the IR's. */
static int64_t onnx_pool_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pads,
                             bool ceil_mode)
{
    int64_t num = in + pads - ((k - 1) * d + 1);
    if (num < 0)
        return -1;
    return (ceil_mode ? (num + s - 1) / s : num / s) + 1;
}

static av_nn_status lower_pool(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y;
    bool is_max = av_nn__onnx_str_eq(L->node->op_type, "MaxPool");
    int nd = spatial_nd(L, x);
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor tx_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *tx = &tx_s;
    if (!nd)
        return AV_NN_ONNX_UNSUP(L, "input rank %d (only 1-D and 2-D pools)", tx->rank);
    if (tx->dtype != AV_NN_F32 && !(is_max && (tx->dtype == AV_NN_U8 || tx->dtype == AV_NN_I8)))
        return AV_NN_ONNX_UNSUP(L, "pool of %s", av_nn_dtype_name(tx->dtype));
    window win;
    int64_t ceil_mode, cip = 0, storage;
    TRY(read_window(L, nd, is_max, &win));
    TRY(av_nn__onnx_attr_int(L, "ceil_mode", 0, &ceil_mode));
    TRY(av_nn__onnx_attr_int(L, "storage_order", 0, &storage));
    if (!is_max)
        TRY(av_nn__onnx_attr_int(L, "count_include_pad", 0, &cip));
    if (!win.have_k)
        return AV_NN_ONNX_BAD(L, "kernel_shape is required");
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params p = {0};
    av_nn__pool_params *pp = &p.pool;
    pp->filter_h = (int)win.k[0];
    pp->filter_w = (int)win.k[1];
    pp->stride_h = (int)win.s[0];
    pp->stride_w = (int)win.s[1];
    pp->dilation_h = (int)win.d[0];
    pp->dilation_w = (int)win.d[1];
    pp->padding = win.pad;
    pp->pad_top = (int)win.pb[0];
    pp->pad_left = (int)win.pb[1];
    pp->pad_bottom = (int)win.pe[0];
    pp->pad_right = (int)win.pe[1];
    pp->ceil_mode = ceil_mode != 0;
    pp->count_include_pad = cip != 0;
    av_nn__tid xh, yh = -1;
    TRY(to_nhwc(L, x, &xh));
    TRY(av_nn__onnx_emit1(L, is_max ? AV_NN_OP_MAX_POOL2D : AV_NN_OP_AVG_POOL2D, &p, &xh, 1,
                          &yh));
    if (win.pad == AV_NN_PAD_EXPLICIT) {
        /* ceil_mode: the IR drops a last window that starts in the padding
         * (PyTorch); ONNX keeps it. Refuse where the two differ. */
        /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor to_s = *av_nn__onnx_t(L, yh);
    const av_nn__tensor *to = &to_s;
        int64_t in_hw[2] = {av_nn__onnx_t(L, xh)->dims[1], av_nn__onnx_t(L, xh)->dims[2]};
        for (int i = 0; i < 2; i++)
            if (onnx_pool_out(in_hw[i], win.k[i], win.s[i], win.d[i], win.pb[i] + win.pe[i],
                              ceil_mode) != to->dims[1 + i])
                return AV_NN_ONNX_UNSUP(L, "ceil_mode output size differs from ONNX's");
    }
    if (is_max && L->n_out > 1 && L->out_used[1])
        return AV_NN_ONNX_UNSUP(L, "the Indices output");
    return from_nhwc(L, yh, nd == 1, y);
}

static av_nn_status lower_global_pool(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y;
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor tx_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *tx = &tx_s;
    if (tx->rank < 3)
        return AV_NN_ONNX_BAD(L, "input rank %d", tx->rank);
    if (tx->dtype != AV_NN_F32)
        return AV_NN_ONNX_UNSUP(L, "pool of %s", av_nn_dtype_name(tx->dtype));
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params p = {0};
    p.reduce.kind = av_nn__onnx_str_eq(L->node->op_type, "GlobalMaxPool") ? AV_NN_REDUCE_MAX
                                                                           : AV_NN_REDUCE_MEAN;
    p.reduce.keep_dims = true;
    for (int i = 2; i < tx->rank; i++)
        p.reduce.axes_mask |= 1u << i;
    return av_nn__onnx_emit1(L, AV_NN_OP_REDUCE, &p, &x, 1, &y);
}

/* ---- normalisation ---- */

/* Permutation moving axis 1 last (and its inverse), for channel-last ops. */
static void channel_last_perm(int r, int *fwd, int *inv)
{
    int k = 0;
    fwd[k++] = 0;
    for (int i = 2; i < r; i++)
        fwd[k++] = i;
    fwd[k++] = 1;
    for (int i = 0; i < r; i++)
        inv[fwd[i]] = i;
}

static av_nn_status lower_batch_norm(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y;
    int64_t spatial, training, is_test;
    float eps;
    TRY(av_nn__onnx_attr_float(L, "epsilon", 1e-5f, &eps));
    TRY(av_nn__onnx_attr_int(L, "spatial", 1, &spatial));
    TRY(av_nn__onnx_attr_int(L, "training_mode", 0, &training));
    TRY(av_nn__onnx_attr_int(L, "is_test", 1, &is_test));
    if (!spatial || training || !is_test)
        return AV_NN_ONNX_UNSUP(L, "training mode or non-spatial batch norm");
    if (L->n_in < 5)
        return AV_NN_ONNX_BAD(L, "needs X, scale, B, mean, var");
    for (int i = 1; i < L->n_out; i++)
        if (L->out_used[i])
            return AV_NN_ONNX_UNSUP(L, "training outputs");
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor tx_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *tx = &tx_s;
    if (tx->rank < 2)
        return AV_NN_ONNX_BAD(L, "input rank %d", tx->rank);
    if (tx->dtype != AV_NN_F32)
        return AV_NN_ONNX_UNSUP(L, "batch norm of %s", av_nn_dtype_name(tx->dtype));
    int r = tx->rank, fwd[AV_NN_MAX_RANK], inv[AV_NN_MAX_RANK];
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params p = {0};
    p.bn.epsilon = eps;
    av_nn__tid in[5] = {x, L->in[1], L->in[2], L->in[3], L->in[4]};
    if (r == 2)
        return av_nn__onnx_emit1(L, AV_NN_OP_BATCH_NORM, &p, in, 5, &y);
    channel_last_perm(r, fwd, inv);
    av_nn__tid yh = -1;
    TRY(av_nn__onnx_transpose(L, x, fwd, r, -1, &in[0]));
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_BATCH_NORM, &p, in, 5, &yh));
    return av_nn__onnx_transpose(L, yh, inv, r, y, &yh);
}

/* scale * (x - mean) / sqrt(var + eps) + B over each (n, c) plane. */
static av_nn_status lower_instance_norm(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), sc = av_nn__onnx_in(L, 1), bias = av_nn__onnx_in(L, 2);
    av_nn__tid y;
    float eps;
    TRY(av_nn__onnx_attr_float(L, "epsilon", 1e-5f, &eps));
    if (sc < 0 || bias < 0)
        return AV_NN_ONNX_BAD(L, "needs input, scale, B");
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor tx_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *tx = &tx_s;
    if (tx->rank < 3 || tx->dtype != AV_NN_F32)
        return AV_NN_ONNX_UNSUP(L, "input rank %d of %s", tx->rank,
                                av_nn_dtype_name(tx->dtype));
    int r = tx->rank;
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__params p = {0};
    p.reduce.kind = AV_NN_REDUCE_MEAN;
    p.reduce.keep_dims = true;
    for (int i = 2; i < r; i++)
        p.reduce.axes_mask |= 1u << i;
    int64_t cdims[AV_NN_MAX_RANK];
    for (int i = 0; i < r - 1; i++)
        cdims[i] = i == 0 ? tx->dims[1] : 1;
    av_nn__tid mean = -1, d, sq, var = -1, e, den, nrm, s2, b2, t;
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_REDUCE, &p, &x, 1, &mean));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_SUB, x, mean, -1, &d));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_MUL, d, d, -1, &sq));
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_REDUCE, &p, &sq, 1, &var));
    TRY(av_nn__onnx_const_scalar(L, AV_NN_F32, eps, &e));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_ADD, var, e, -1, &var));
    TRY(av_nn__onnx_unary(L, AV_NN_UN_SQRT, var, -1, &den));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_DIV, d, den, -1, &nrm));
    TRY(av_nn__onnx_reshape(L, sc, cdims, r - 1, -1, &s2));
    TRY(av_nn__onnx_reshape(L, bias, cdims, r - 1, -1, &b2));
    TRY(av_nn__onnx_binary(L, AV_NN_BIN_MUL, s2, nrm, -1, &t));
    return av_nn__onnx_binary(L, AV_NN_BIN_ADD, t, b2, y, &t);
}

/* ---- Resize / Upsample ---- */

static av_nn_status lower_resize(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y;
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor tx_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *tx = &tx_s;
    bool upsample = av_nn__onnx_str_eq(L->node->op_type, "Upsample");
    bool legacy = upsample || L->opset < 11; /* asymmetric, no nearest_mode */
    av_nn__onnx_str mode, coord, nmode;
    int64_t excl;
    float cubic_a;
    TRY(av_nn__onnx_attr_str(L, "mode", "nearest", &mode));
    TRY(av_nn__onnx_attr_str(L, "coordinate_transformation_mode",
                             legacy ? "asymmetric" : "half_pixel", &coord));
    TRY(av_nn__onnx_attr_str(L, "nearest_mode", "round_prefer_floor", &nmode));
    TRY(av_nn__onnx_attr_int(L, "exclude_outside", 0, &excl));
    TRY(av_nn__onnx_attr_float(L, "cubic_coeff_a", -0.75f, &cubic_a));
    if (tx->rank != 4)
        return AV_NN_ONNX_UNSUP(L, "input rank %d (only NCHW)", tx->rank);
    if (tx->dtype != AV_NN_F32)
        return AV_NN_ONNX_UNSUP(L, "resize of %s", av_nn_dtype_name(tx->dtype));
    if (excl)
        return AV_NN_ONNX_UNSUP(L, "exclude_outside");
    av_nn__params p = {0};
    av_nn__resize_params *rp = &p.resize;
    if (av_nn__onnx_str_eq(mode, "nearest"))
        rp->mode = AV_NN_RESIZE_NEAREST;
    else if (av_nn__onnx_str_eq(mode, "linear") || av_nn__onnx_str_eq(mode, "bilinear"))
        rp->mode = AV_NN_RESIZE_BILINEAR;
    else
        return AV_NN_ONNX_UNSUP(L, "mode '%.*s'", (int)(mode.n > 32 ? 32 : mode.n), mode.p);
    if (av_nn__onnx_str_eq(coord, "asymmetric"))
        rp->coord = AV_NN_COORD_ASYMMETRIC;
    else if (av_nn__onnx_str_eq(coord, "align_corners"))
        rp->coord = AV_NN_COORD_ALIGN_CORNERS;
    else if (av_nn__onnx_str_eq(coord, "half_pixel"))
        rp->coord = AV_NN_COORD_HALF_PIXEL;
    else if (av_nn__onnx_str_eq(coord, "pytorch_half_pixel"))
        rp->coord = AV_NN_COORD_PYTORCH_HALF_PIXEL;
    else if (av_nn__onnx_str_eq(coord, "tf_half_pixel_for_nn"))
        rp->coord = AV_NN_COORD_TF_HALF_PIXEL_FOR_NN;
    else
        return AV_NN_ONNX_UNSUP(L, "coordinate_transformation_mode '%.*s'",
                                (int)(coord.n > 32 ? 32 : coord.n), coord.p);
    if (av_nn__onnx_str_eq(nmode, "round_prefer_floor"))
        rp->nearest = AV_NN_NEAREST_ROUND_PREFER_FLOOR;
    else if (av_nn__onnx_str_eq(nmode, "round_prefer_ceil"))
        rp->nearest = AV_NN_NEAREST_ROUND_PREFER_CEIL;
    else if (av_nn__onnx_str_eq(nmode, "floor"))
        rp->nearest = AV_NN_NEAREST_FLOOR;
    else if (av_nn__onnx_str_eq(nmode, "ceil"))
        rp->nearest = AV_NN_NEAREST_CEIL;
    else
        return AV_NN_ONNX_BAD(L, "nearest_mode '%.*s'", (int)(nmode.n > 32 ? 32 : nmode.n),
                              nmode.p);
    /* target size: sizes, else scales (attribute for opset 7 Upsample) */
    int64_t out_hw[2] = {0, 0};
    float scales[4];
    int n_sc = -1;
    av_nn__tid t_scales = -1, t_sizes = -1;
    if (upsample && L->opset < 9) {
        TRY(av_nn__onnx_attr_floats(L->node, "scales", scales, 4, &n_sc, L->err, L->errlen));
    } else if (L->opset < 11 || upsample) {
        t_scales = av_nn__onnx_in(L, 1);
    } else {
        t_scales = av_nn__onnx_in(L, 2);
        t_sizes = av_nn__onnx_in(L, 3); /* roi only serves tf_crop_and_resize */
    }
    if (t_scales >= 0 && av_nn__numel(av_nn__onnx_t(L, t_scales)) == 0)
        t_scales = -1; /* opset 11/12 pass an empty scales when sizes is given */
    if (t_sizes >= 0) {
        int64_t sz[4];
        int n;
        TRY(av_nn__onnx_const_ints(L, t_sizes, "sizes", sz, 4, &n));
        if (n != 4 || sz[0] != tx->dims[0] || sz[1] != tx->dims[1])
            return AV_NN_ONNX_UNSUP(L, "sizes must keep N and C");
        out_hw[0] = sz[2];
        out_hw[1] = sz[3];
    } else {
        if (t_scales >= 0) {
            /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor ts_s = *av_nn__onnx_t(L, t_scales);
    const av_nn__tensor *ts = &ts_s;
            if (!ts->data)
                return AV_NN_ONNX_UNSUP(L, "scales must be a constant");
            if (ts->dtype != AV_NN_F32 || av_nn__numel(ts) != 4)
                return AV_NN_ONNX_BAD(L, "scales must be 4 floats");
            memcpy(scales, ts->data, sizeof scales);
            n_sc = 4;
        }
        if (n_sc != 4)
            return AV_NN_ONNX_BAD(L, "needs 4 scales or sizes");
        if (scales[0] != 1.0f || scales[1] != 1.0f)
            return AV_NN_ONNX_UNSUP(L, "resize of batch or channels");
        for (int i = 0; i < 2; i++) {
            /* the IR maps coordinates with in/out; ONNX with the given
             * scale: the same only when in * scale is a whole number */
            double o = (double)scales[2 + i] * (double)tx->dims[2 + i];
            if (!(o >= 1 && o < 1e9) || o != floor(o))
                return AV_NN_ONNX_UNSUP(L, "scale %g does not give a whole output size",
                                        scales[2 + i]);
            out_hw[i] = (int64_t)o;
        }
        if (legacy && rp->mode == AV_NN_RESIZE_NEAREST) {
            /* pre-opset-11 nearest: floor when upsampling, ceil when downsampling */
            bool up = scales[2] >= 1.0f && scales[3] >= 1.0f;
            bool down = scales[2] < 1.0f && scales[3] < 1.0f;
            if (!up && !down)
                return AV_NN_ONNX_UNSUP(L, "mixed up/down nearest resize");
            rp->nearest = up ? AV_NN_NEAREST_FLOOR : AV_NN_NEAREST_CEIL;
        }
    }
    if (out_hw[0] < 1 || out_hw[1] < 1 || out_hw[0] > 1000000 || out_hw[1] > 1000000)
        return AV_NN_ONNX_BAD(L, "output size %lldx%lld", (long long)out_hw[0],
                              (long long)out_hw[1]);
    rp->out_h = (int)out_hw[0];
    rp->out_w = (int)out_hw[1];
    TRY(av_nn__onnx_out(L, 0, &y));
    av_nn__tid xh, yh = -1;
    TRY(to_nhwc(L, x, &xh));
    TRY(av_nn__onnx_emit1(L, AV_NN_OP_RESIZE, &p, &xh, 1, &yh));
    return from_nhwc(L, yh, false, y);
}

/* ---- DepthToSpace / SpaceToDepth: reshape, transpose, reshape ---- */

static av_nn_status lower_depth_space(av_nn__onnx_lower *L)
{
    av_nn__tid x = av_nn__onnx_in(L, 0), y, t;
    /* snapshots: adding tensors may move g->tensors */
    const av_nn__tensor tx_s = *av_nn__onnx_t(L, x);
    const av_nn__tensor *tx = &tx_s;
    bool d2s = av_nn__onnx_str_eq(L->node->op_type, "DepthToSpace");
    int64_t bs;
    av_nn__onnx_str mode;
    TRY(av_nn__onnx_attr_int(L, "blocksize", 0, &bs));
    TRY(av_nn__onnx_attr_str(L, "mode", "DCR", &mode));
    if (tx->rank != 4)
        return AV_NN_ONNX_BAD(L, "input rank %d", tx->rank);
    if (bs < 1 || bs > 4096)
        return AV_NN_ONNX_BAD(L, "blocksize %lld", (long long)bs);
    bool crd = av_nn__onnx_str_eq(mode, "CRD");
    if (!crd && !av_nn__onnx_str_eq(mode, "DCR"))
        return AV_NN_ONNX_BAD(L, "mode '%.*s'", (int)(mode.n > 16 ? 16 : mode.n), mode.p);
    int64_t N = tx->dims[0], C = tx->dims[1], H = tx->dims[2], W = tx->dims[3];
    TRY(av_nn__onnx_out(L, 0, &y));
    if (d2s) {
        if (C % (bs * bs))
            return AV_NN_ONNX_BAD(L, "channels %lld not divisible by blocksize^2", (long long)C);
        int64_t c = C / (bs * bs);
        int64_t dcr[6] = {N, bs, bs, c, H, W}, crd6[6] = {N, c, bs, bs, H, W};
        static const int p_dcr[6] = {0, 3, 4, 1, 5, 2}, p_crd[6] = {0, 1, 4, 2, 5, 3};
        int64_t o[4] = {N, c, H * bs, W * bs};
        TRY(av_nn__onnx_reshape(L, x, crd ? crd6 : dcr, 6, -1, &t));
        TRY(av_nn__onnx_transpose(L, t, crd ? p_crd : p_dcr, 6, -1, &t));
        return av_nn__onnx_reshape(L, t, o, 4, y, &t);
    }
    if (H % bs || W % bs)
        return AV_NN_ONNX_BAD(L, "spatial size not divisible by blocksize");
    int64_t s6[6] = {N, C, H / bs, bs, W / bs, bs};
    static const int perm[6] = {0, 3, 5, 1, 2, 4};
    int64_t o[4] = {N, C * bs * bs, H / bs, W / bs};
    TRY(av_nn__onnx_reshape(L, x, s6, 6, -1, &t));
    TRY(av_nn__onnx_transpose(L, t, perm, 6, -1, &t));
    return av_nn__onnx_reshape(L, t, o, 4, y, &t);
}

const av_nn__onnx_op_entry av_nn__onnx_ops_nn[] = {
    {"Conv", lower_conv, "auto_pad dilations group kernel_shape pads strides"},
    {"ConvTranspose", lower_conv_transpose,
     "auto_pad dilations group kernel_shape output_padding output_shape pads strides"},
    {"MaxPool", lower_pool, "auto_pad ceil_mode dilations kernel_shape pads storage_order strides"},
    {"AveragePool", lower_pool, "auto_pad ceil_mode count_include_pad kernel_shape pads strides"},
    {"GlobalAveragePool", lower_global_pool, ""},
    {"GlobalMaxPool", lower_global_pool, ""},
    {"BatchNormalization", lower_batch_norm,
     "epsilon momentum spatial training_mode is_test consumed_inputs"},
    {"InstanceNormalization", lower_instance_norm, "epsilon"},
    {"Resize", lower_resize,
     "coordinate_transformation_mode cubic_coeff_a exclude_outside extrapolation_value mode "
     "nearest_mode"},
    {"Upsample", lower_resize, "mode scales"},
    {"DepthToSpace", lower_depth_space, "blocksize mode"},
    {"SpaceToDepth", lower_depth_space, "blocksize"},
    {NULL, NULL, NULL},
};
