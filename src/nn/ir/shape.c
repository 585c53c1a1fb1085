/*
 * shape.c - shape/dtype inference for every op, and resolution of parameters
 * that arrive as constant inputs. Runs once per node, in topological order,
 * from av_nn__graph_finalize().
 *
 * Input conventions (loaders must follow them; -1 = absent optional input):
 *   CONV2D            [x NHWC, w OHWI (I = C/groups), bias? [O], residual? (f32, shaped
 *                     as the output: y = act(conv + bias + residual), set by pass_fuse.c)]
 *   DEPTHWISE_CONV2D  [x NHWC, w [1,KH,KW,C*m], bias? [C*m]]
 *   TRANSPOSE_CONV2D  [x NHWC, w OHWI, bias? [O], out_shape? (i32/i64 const,
 *                     4 = NHWC or 2 = HW)]; without out_shape the output is
 *                     (in-1)*s + (k-1)*d + 1 - pads + out_pad (SAME: in*s)
 *   FULLY_CONNECTED   [x [..,K], w [N,K], bias? [N]]; keep_dims false gives
 *                     [numel/K, N]
 *   MATMUL            [a, b] numpy matmul (1-D operands promoted/removed)
 *   MAX/AVG_POOL2D    [x NHWC]
 *   REDUCE            [x, axes?] axes const overrides axes_mask; mask 0 and no
 *                     axes input = all axes
 *   RESIZE            [x NHWC, size?, scales?]: size i32/i64 const of 2 (H,W)
 *                     or 4 (NHWC) elements; scales f32 const of 2 (H,W) or 4
 *                     (NHWC) giving floor(in*scale); else p.resize.out_h/w
 *   SOFTMAX           [x]
 *   BINARY            [a, b] numpy broadcasting
 *   UNARY, CLAMP, LEAKY_RELU, IDENTITY, CAST, QUANTIZE, DEQUANTIZE  [x]
 *   PRELU             [x, slope] slope broadcast to x
 *   BATCH_NORM        [x, scale, offset, mean, var], each [C], C = last axis
 *   PAD               [x, pads?, value?]: pads i32/i64 const, either a
 *                     [rank,2] tensor (TF: before/after per axis) or [2*rank]
 *                     (ONNX: all begins, then all ends); value a const scalar
 *                     overriding p.pad.value; without pads, p.pad.before/after
 *   CONCAT            [x0, x1, ...] along p.axis.axis
 *   SPLIT             [x, sizes?] sizes const (one -1 allowed); else
 *                     p.split.sizes when p.split.resolved; else equal parts
 *                     (ceil; the last part takes the remainder)
 *   SLICE  TF:        [x, begin, end, strides?] with the masks of p.slice
 *          ONNX:      [x, starts, ends, axes?, steps?] with ONNX clamping
 *          resolved:  p.slice.resolved on entry: begin/end/step per input
 *                     axis, clamped like ONNX, no other inputs read
 *                     After inference begin/end/step hold, per INPUT axis,
 *                     the clamped start, end and step; the output shape may
 *                     differ in rank (TF shrink/new axis) but not in numel.
 *   TRANSPOSE         [x, perm?] perm const used when p.transpose.rank is 0;
 *                     neither: reversed axes
 *   RESHAPE           [x, shape?] shape const (else p.reshape.dims/rank);
 *                     -1 inferred; 0 copies the input dim unless allowzero
 *   GATHER            [x, indices] along p.axis.axis (negative indices wrap)
 *   TOPK              [x, k?] -> [values, indices]; k const when p.topk.k <= 0;
 *                     p.topk.peak: x [N, H, W, C] -> [N, k] (pass_peaktopk.c)
 *   ARGMAX            [x] -> indices
 *   TILE              [x, multiples const]
 *   WHERE             [cond bool, a, b] numpy broadcasting of all three
 *   SPARSE_TO_DENSE   [indices ([N], [N,R] or scalar), output_shape const,
 *                     values (scalar or [N]), default scalar]
 *   SPARSE_HEAD       [x f32 NHWC, pw w [O,1,1,C], pw bias?, indices (i32/i64),
 *                     dw w [1,KH,KW,C], dw bias?, scale? [1 or N,1,1,C]] with
 *                     p.conv as a dw_on CONV2D's -> [indices..., O]
 *
 * Parameter defaults for zero-filled params: strides/dilations 0 mean 1,
 * CONV2D groups 0 means 1, DEPTHWISE depth_multiplier 0 is inferred, SOFTMAX
 * beta 0 means 1, TOPK/ARGMAX index_dtype other than i32/i64 takes the
 * output tensor's (i32 unless that is i64); in the kernels, ELU alpha 0 means
 * 1, SELU alpha/beta (gamma) 0 mean ONNX's defaults, HARDSIGMOID alpha = beta
 * = 0 means ONNX's 0.2 / 0.5. Padding SAME/SAME_LOWER/VALID is resolved to
 * explicit pads (padding becomes EXPLICIT). Output dtypes are set here from
 * the inputs (comparisons: bool; CAST: to; DEQUANTIZE: f32); QUANTIZE keeps
 * the loader's u8/i8 output with its quantisation. Pass-through ops copy the
 * input's quantisation to an output that has none.
 */
#include "nn/ir/shape_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool conv_axis(int64_t in, int k, int s, int d, av_nn__padding pad, int *pb, int *pa,
                      bool ceil_mode, int64_t *out)
{
    int64_t keff = (int64_t)(k - 1) * d + 1;
    if (pad == AV_NN_PAD_SAME || pad == AV_NN_PAD_SAME_LOWER) {
        *out = (in + s - 1) / s;
        int64_t total = (*out - 1) * s + keff - in;
        if (total < 0)
            total = 0;
        int small = (int)(total / 2), big = (int)(total - total / 2);
        *pb = pad == AV_NN_PAD_SAME ? small : big;
        *pa = pad == AV_NN_PAD_SAME ? big : small;
        return true;
    }
    if (pad == AV_NN_PAD_VALID)
        *pb = *pa = 0;
    if (*pb < 0 || *pa < 0)
        return false;
    int64_t num = in + *pb + *pa - keff;
    if (num < 0)
        return false;
    *out = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
    if (ceil_mode && (*out - 1) * s >= in + *pb)
        (*out)--;
    return true;
}

/* Strides, dilations and pads beyond these are malformed; the bound keeps sizes in int64. */
#define MAX_WINDOW_PARAM (1 << 16)
#define MAX_PAD (1 << 24)

static bool window_params_ok(int sh, int sw, int dh, int dw, const int *pads)
{
    bool ok = sh <= MAX_WINDOW_PARAM && sw <= MAX_WINDOW_PARAM && dh <= MAX_WINDOW_PARAM &&
              dw <= MAX_WINDOW_PARAM;
    for (int i = 0; i < 4; i++)
        ok = ok && pads[i] >= 0 && pads[i] <= MAX_PAD;
    return ok;
}

static void norm_act_params(int *sh, int *sw, int *dh, int *dw)
{
    if (*sh <= 0)
        *sh = 1;
    if (*sw <= 0)
        *sw = 1;
    if (*dh <= 0)
        *dh = 1;
    if (*dw <= 0)
        *dw = 1;
}

static av_nn_status infer_conv(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__conv_params *p = &n->p.conv;
    av_nn__tensor *x = tin(g, n, 0), *w = tin(g, n, 1), *b = tin(g, n, 2);
    if (!x || !w)
        return FAILN(AV_NN_E_FORMAT, "needs input and filter");
    if (x->rank != 4 || w->rank != 4)
        return FAILN(AV_NN_E_FORMAT, "input rank %d and filter rank %d must be 4", x->rank,
                     w->rank);
    norm_act_params(&p->stride_h, &p->stride_w, &p->dilation_h, &p->dilation_w);
    int pads[4] = {p->pad_top, p->pad_left, p->pad_bottom, p->pad_right};
    if (!window_params_ok(p->stride_h, p->stride_w, p->dilation_h, p->dilation_w, pads) ||
        p->out_pad_h < 0 || p->out_pad_w < 0 || p->out_pad_h > MAX_PAD || p->out_pad_w > MAX_PAD)
        return FAILN(AV_NN_E_FORMAT, "stride/dilation/padding out of range");
    int64_t C = x->dims[3], O, KH = w->dims[1], KW = w->dims[2];
    if (n->op == AV_NN_OP_DEPTHWISE_CONV2D && p->pw_on) { /* the 1x1 conv's outputs */
        const av_nn__tensor *pw = tin(g, n, 4);
        if (!pw || pw->rank != 4 || pw->dims[3] != C)
            return FAILN(AV_NN_E_FORMAT, "fused 1x1 filter does not match the input");
        C = pw->dims[0];
    }
    if (n->op == AV_NN_OP_CONV2D) {
        if (p->groups <= 0)
            p->groups = 1;
        O = w->dims[0];
        if (C != w->dims[3] * p->groups)
            return FAILN(AV_NN_E_FORMAT, "input channels %lld != filter %lld x groups %d",
                         (long long)C, (long long)w->dims[3], p->groups);
        if (O % p->groups)
            return FAILN(AV_NN_E_FORMAT, "output channels %lld not divisible by groups %d",
                         (long long)O, p->groups);
    } else if (n->op == AV_NN_OP_DEPTHWISE_CONV2D) {
        O = w->dims[3];
        if (w->dims[0] != 1)
            return FAILN(AV_NN_E_FORMAT, "depthwise filter dim 0 is %lld, want 1",
                         (long long)w->dims[0]);
        if (C == 0 || O % C)
            return FAILN(AV_NN_E_FORMAT, "filter channels %lld not a multiple of input %lld",
                         (long long)O, (long long)C);
        if (p->depth_multiplier <= 0)
            p->depth_multiplier = (int)(O / C);
        if (O != C * p->depth_multiplier)
            return FAILN(AV_NN_E_FORMAT, "input channels %lld x multiplier %d != filter %lld",
                         (long long)C, p->depth_multiplier, (long long)O);
    } else { /* TRANSPOSE_CONV2D */
        O = w->dims[0];
        if (C != w->dims[3])
            return FAILN(AV_NN_E_FORMAT, "input channels %lld != filter %lld", (long long)C,
                         (long long)w->dims[3]);
    }
    if (b && av_nn__numel(b) != O)
        return FAILN(AV_NN_E_FORMAT, "bias has %lld elements, want %lld",
                     (long long)av_nn__numel(b), (long long)O);
    if (KH <= 0 || KW <= 0)
        return FAILN(AV_NN_E_FORMAT, "empty filter");
    int64_t od[4] = {x->dims[0], 0, 0, O};
    if (n->op != AV_NN_OP_TRANSPOSE_CONV2D) {
        if (!conv_axis(x->dims[1], (int)KH, p->stride_h, p->dilation_h, p->padding, &p->pad_top,
                       &p->pad_bottom, false, &od[1]) ||
            !conv_axis(x->dims[2], (int)KW, p->stride_w, p->dilation_w, p->padding, &p->pad_left,
                       &p->pad_right, false, &od[2]))
            return FAILN(AV_NN_E_FORMAT, "filter %lldx%lld larger than padded input %lldx%lld",
                         (long long)KH, (long long)KW, (long long)x->dims[1],
                         (long long)x->dims[2]);
    } else {
        int64_t req[4] = {0};
        int nreq = 0;
        if (tin(g, n, 3)) {
            av_nn_status st = const_ints(g, n, 3, "output shape", req, 4, &nreq, err, errlen);
            if (st)
                return st;
            if (nreq != 4 && nreq != 2)
                return FAILN(AV_NN_E_FORMAT, "output shape has %d elements", nreq);
        }
        int64_t in_hw[2] = {x->dims[1], x->dims[2]}, k_hw[2] = {KH, KW};
        int s[2] = {p->stride_h, p->stride_w}, d[2] = {p->dilation_h, p->dilation_w};
        int op_[2] = {p->out_pad_h, p->out_pad_w};
        int *pb[2] = {&p->pad_top, &p->pad_left}, *pa[2] = {&p->pad_bottom, &p->pad_right};
        for (int i = 0; i < 2; i++) {
            int64_t keff = (k_hw[i] - 1) * d[i] + 1, full = (in_hw[i] - 1) * s[i] + keff + op_[i];
            int64_t want;
            if (nreq)
                want = req[nreq == 4 ? 1 + i : i];
            else if (p->padding == AV_NN_PAD_SAME || p->padding == AV_NN_PAD_SAME_LOWER)
                want = in_hw[i] * s[i];
            else if (p->padding == AV_NN_PAD_VALID)
                want = full;
            else
                want = full - *pb[i] - *pa[i];
            if (nreq || p->padding != AV_NN_PAD_EXPLICIT) {
                int64_t total = full - want;
                if (total < 0 || total > 2 * (int64_t)MAX_PAD)
                    return FAILN(AV_NN_E_FORMAT, "output size %lld does not fit the input",
                                 (long long)want);
                int64_t small = total / 2, big = total - small;
                *pb[i] = (int)(p->padding == AV_NN_PAD_SAME_LOWER ? big : small);
                *pa[i] = (int)(p->padding == AV_NN_PAD_SAME_LOWER ? small : big);
            }
            if (want <= 0)
                return FAILN(AV_NN_E_FORMAT, "output size %lld", (long long)want);
            od[1 + i] = want;
        }
        if (nreq == 4 && (req[0] != x->dims[0] || req[3] != O))
            return FAILN(AV_NN_E_FORMAT, "output shape batch/channels do not match");
    }
    p->padding = AV_NN_PAD_EXPLICIT;
    av_nn__tensor *r = n->op == AV_NN_OP_CONV2D ? tin(g, n, 3) : NULL;
    if (r && (r->dtype != AV_NN_F32 || x->dtype != AV_NN_F32 || r->rank != 4 ||
              memcmp(r->dims, od, sizeof od) != 0))
        return FAILN(AV_NN_E_FORMAT, "residual input must be f32 shaped as the output");
    set_out(g, n, 0, x->dtype, 4, od);
    return AV_NN_OK;
}

static av_nn_status infer_pool(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__pool_params *p = &n->p.pool;
    av_nn__tensor *x = tin(g, n, 0);
    if (x->rank != 4)
        return FAILN(AV_NN_E_FORMAT, "input rank %d, want 4 (NHWC)", x->rank);
    norm_act_params(&p->stride_h, &p->stride_w, &p->dilation_h, &p->dilation_w);
    int pads[4] = {p->pad_top, p->pad_left, p->pad_bottom, p->pad_right};
    if (p->filter_h <= 0 || p->filter_w <= 0 || p->filter_h > MAX_PAD || p->filter_w > MAX_PAD ||
        !window_params_ok(p->stride_h, p->stride_w, p->dilation_h, p->dilation_w, pads))
        return FAILN(AV_NN_E_FORMAT, "filter %dx%d, strides, dilations or pads out of range",
                     p->filter_h, p->filter_w);
    int64_t od[4] = {x->dims[0], 0, 0, x->dims[3]};
    if (!conv_axis(x->dims[1], p->filter_h, p->stride_h, p->dilation_h, p->padding, &p->pad_top,
                   &p->pad_bottom, p->ceil_mode, &od[1]) ||
        !conv_axis(x->dims[2], p->filter_w, p->stride_w, p->dilation_w, p->padding, &p->pad_left,
                   &p->pad_right, p->ceil_mode, &od[2]))
        return FAILN(AV_NN_E_FORMAT, "window %dx%d larger than padded input %lldx%lld", p->filter_h,
                     p->filter_w, (long long)x->dims[1], (long long)x->dims[2]);
    p->padding = AV_NN_PAD_EXPLICIT;
    set_out(g, n, 0, x->dtype, 4, od);
    inherit_quant(g, n, 0, x);
    return AV_NN_OK;
}

static av_nn_status infer_fc(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__tensor *x = tin(g, n, 0), *w = tin(g, n, 1), *b = tin(g, n, 2);
    if (!w || w->rank != 2 || x->rank < 1)
        return FAILN(AV_NN_E_FORMAT, "weights must be [N,K]");
    int64_t N = w->dims[0], K = w->dims[1], ne = av_nn__numel(x);
    if (b && av_nn__numel(b) != N)
        return FAILN(AV_NN_E_FORMAT, "bias has %lld elements, want %lld",
                     (long long)av_nn__numel(b), (long long)N);
    int64_t od[AV_NN_MAX_RANK];
    if (n->p.fc.keep_dims) {
        if (x->dims[x->rank - 1] != K)
            return FAILN(AV_NN_E_FORMAT, "input depth %lld != weights %lld",
                         (long long)x->dims[x->rank - 1], (long long)K);
        memcpy(od, x->dims, sizeof(int64_t) * (size_t)x->rank);
        od[x->rank - 1] = N;
        set_out(g, n, 0, x->dtype, x->rank, od);
    } else {
        if (K == 0 || ne % K)
            return FAILN(AV_NN_E_FORMAT, "input size %lld not a multiple of %lld", (long long)ne,
                         (long long)K);
        od[0] = ne / K;
        od[1] = N;
        set_out(g, n, 0, x->dtype, 2, od);
    }
    return AV_NN_OK;
}

static av_nn_status infer_matmul(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__tensor *a = tin(g, n, 0), *b = tin(g, n, 1);
    if (!b || a->rank < 1 || b->rank < 1)
        return FAILN(AV_NN_E_FORMAT, "operands must have rank >= 1");
    if (a->dtype != b->dtype)
        return FAILN(AV_NN_E_FORMAT, "dtype %s != %s", av_nn_dtype_name(a->dtype),
                     av_nn_dtype_name(b->dtype));
    int64_t M = a->rank == 1 ? 1 : a->dims[a->rank - 2], K = a->dims[a->rank - 1];
    int64_t Kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    int64_t N = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    if (K != Kb)
        return FAILN(AV_NN_E_FORMAT, "inner dims %lld != %lld", (long long)K, (long long)Kb);
    int rb_a = a->rank > 2 ? a->rank - 2 : 0, rb_b = b->rank > 2 ? b->rank - 2 : 0, r;
    int64_t od[AV_NN_MAX_RANK + 2];
    if (!broadcast(rb_a, a->dims, rb_b, b->dims, &r, od))
        return FAILN(AV_NN_E_FORMAT, "batch dims do not broadcast");
    if (a->rank > 1)
        od[r++] = M;
    if (b->rank > 1)
        od[r++] = N;
    set_out(g, n, 0, a->dtype, r, od);
    return AV_NN_OK;
}

static av_nn_status infer_binary(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__tensor *a = tin(g, n, 0), *b = tin(g, n, 1);
    if (!b)
        return FAILN(AV_NN_E_FORMAT, "needs two inputs");
    av_nn__binary_kind k = n->p.binary.kind;
    if (a->dtype != b->dtype && k != AV_NN_BIN_POW)
        return FAILN(AV_NN_E_FORMAT, "dtype %s != %s", av_nn_dtype_name(a->dtype),
                     av_nn_dtype_name(b->dtype));
    int r;
    int64_t od[AV_NN_MAX_RANK];
    if (!broadcast(a->rank, a->dims, b->rank, b->dims, &r, od)) {
        char s1[128], s2[128];
        return FAILN(AV_NN_E_FORMAT, "shapes %s and %s do not broadcast", dims_str(a, s1, 128),
                     dims_str(b, s2, 128));
    }
    bool cmp = k >= AV_NN_BIN_EQUAL && k <= AV_NN_BIN_GREATER_EQUAL;
    bool logic = k >= AV_NN_BIN_AND;
    if (logic && a->dtype != AV_NN_BOOL)
        return FAILN(AV_NN_E_FORMAT, "logical op on %s", av_nn_dtype_name(a->dtype));
    set_out(g, n, 0, (cmp || logic) ? AV_NN_BOOL : a->dtype, r, od);
    return AV_NN_OK;
}

static av_nn_status infer_where(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__tensor *c = tin(g, n, 0), *a = tin(g, n, 1), *b = tin(g, n, 2);
    if (!a || !b)
        return FAILN(AV_NN_E_FORMAT, "needs cond, a, b");
    if (a->dtype != b->dtype)
        return FAILN(AV_NN_E_FORMAT, "dtype %s != %s", av_nn_dtype_name(a->dtype),
                     av_nn_dtype_name(b->dtype));
    int r1, r2;
    int64_t t[AV_NN_MAX_RANK], od[AV_NN_MAX_RANK];
    if (!broadcast(c->rank, c->dims, a->rank, a->dims, &r1, t) ||
        !broadcast(r1, t, b->rank, b->dims, &r2, od))
        return FAILN(AV_NN_E_FORMAT, "shapes do not broadcast");
    set_out(g, n, 0, a->dtype, r2, od);
    return AV_NN_OK;
}

static av_nn_status infer_reduce(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__reduce_params *p = &n->p.reduce;
    av_nn__tensor *x = tin(g, n, 0);
    if (tin(g, n, 1)) {
        int64_t ax[AV_NN_MAX_RANK];
        int na;
        av_nn_status st = const_ints(g, n, 1, "axes", ax, AV_NN_MAX_RANK, &na, err, errlen);
        if (st)
            return st;
        p->axes_mask = 0;
        for (int i = 0; i < na; i++) {
            int a = av_nn__norm_axis((int)ax[i], x->rank);
            if (a < 0 || ax[i] < -AV_NN_MAX_RANK || ax[i] >= AV_NN_MAX_RANK)
                return FAILN(AV_NN_E_FORMAT, "axis %lld out of range for rank %d", (long long)ax[i],
                             x->rank);
            p->axes_mask |= 1u << a;
        }
    }
    if (p->axes_mask == 0)
        p->axes_mask = x->rank ? (uint32_t)((1u << x->rank) - 1) : 0;
    if (p->axes_mask >> x->rank)
        return FAILN(AV_NN_E_FORMAT, "axes mask 0x%x beyond rank %d", p->axes_mask, x->rank);
    int64_t od[AV_NN_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (p->axes_mask & (1u << i)) {
            if (p->keep_dims)
                od[r++] = 1;
        } else {
            od[r++] = x->dims[i];
        }
    }
    set_out(g, n, 0, x->dtype, r, od);
    inherit_quant(g, n, 0, x);
    return AV_NN_OK;
}

static av_nn_status infer_resize(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__resize_params *p = &n->p.resize;
    av_nn__tensor *x = tin(g, n, 0), *sz = tin(g, n, 1), *sc = tin(g, n, 2);
    if (x->rank != 4)
        return FAILN(AV_NN_E_FORMAT, "input rank %d, want 4 (NHWC)", x->rank);
    if (sz) {
        int64_t v[4];
        int nv;
        av_nn_status st = const_ints(g, n, 1, "size", v, 4, &nv, err, errlen);
        if (st)
            return st;
        for (int i = 0; i < nv; i++)
            if (v[i] < 1 || v[i] > INT32_MAX)
                return FAILN(AV_NN_E_FORMAT, "size %lld", (long long)v[i]);
        if (nv == 2) {
            p->out_h = (int)v[0];
            p->out_w = (int)v[1];
        } else if (nv == 4 && v[0] == x->dims[0] && v[3] == x->dims[3]) {
            p->out_h = (int)v[1];
            p->out_w = (int)v[2];
        } else {
            return FAILN(AV_NN_E_UNSUPPORTED, "size must be (H,W) or NHWC with N, C unchanged");
        }
    } else if (sc) {
        int64_t ne = av_nn__numel(sc);
        if (!sc->data || sc->dtype != AV_NN_F32 || (ne != 2 && ne != 4))
            return FAILN(AV_NN_E_UNSUPPORTED, "scales must be a constant f32 of 2 or 4 values");
        const float *s = sc->data;
        if (ne == 4 && (s[0] != 1.0f || s[3] != 1.0f))
            return FAILN(AV_NN_E_UNSUPPORTED, "resize of batch or channels");
        const float *hw = ne == 4 ? s + 1 : s;
        double oh = floor((double)x->dims[1] * hw[0]), ow = floor((double)x->dims[2] * hw[1]);
        if (!(oh >= 1 && ow >= 1 && oh < 1e9 && ow < 1e9))
            return FAILN(AV_NN_E_FORMAT, "bad scales %g, %g", hw[0], hw[1]);
        p->out_h = (int)oh;
        p->out_w = (int)ow;
    }
    if (p->out_h <= 0 || p->out_w <= 0)
        return FAILN(AV_NN_E_FORMAT, "output size %dx%d", p->out_h, p->out_w);
    if (x->dims[1] == 0 || x->dims[2] == 0)
        return FAILN(AV_NN_E_FORMAT, "resize of an empty %lldx%lld image", (long long)x->dims[1],
                     (long long)x->dims[2]);
    int64_t od[4] = {x->dims[0], p->out_h, p->out_w, x->dims[3]};
    set_out(g, n, 0, x->dtype, 4, od);
    inherit_quant(g, n, 0, x);
    return AV_NN_OK;
}

static av_nn_status infer_elementwise(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    av_nn__tensor *x = tin(g, n, 0);
    av_nn_dtype dt = x->dtype;
    switch (n->op) {
    case AV_NN_OP_CAST:
        dt = n->p.cast.to;
        if ((int)dt < 0 || dt >= AV_NN_DTYPE_COUNT)
            return FAILN(AV_NN_E_FORMAT, "bad cast target %d", (int)dt);
        break;
    case AV_NN_OP_QUANTIZE: {
        av_nn__tensor *o = &g->tensors[n->out[0]];
        if ((o->dtype != AV_NN_U8 && o->dtype != AV_NN_I8) || o->quant.scale == 0.0f)
            return FAILN(AV_NN_E_FORMAT, "output must be quantised u8/i8");
        dt = o->dtype;
        break;
    }
    case AV_NN_OP_DEQUANTIZE:
        if (x->dtype != AV_NN_F16 && !av_nn__is_quant(x) && x->dtype != AV_NN_I32 &&
            x->dtype != AV_NN_F32)
            return FAILN(AV_NN_E_FORMAT, "input %s is not quantised", av_nn_dtype_name(x->dtype));
        dt = AV_NN_F32;
        break;
    case AV_NN_OP_PRELU: {
        av_nn__tensor *s = tin(g, n, 1);
        int r;
        int64_t od[AV_NN_MAX_RANK];
        if (!s || !broadcast(x->rank, x->dims, s->rank, s->dims, &r, od) || r != x->rank ||
            s->dtype != x->dtype)
            return FAILN(AV_NN_E_FORMAT, "slope does not broadcast to the input");
        break;
    }
    case AV_NN_OP_BATCH_NORM: {
        int64_t C = x->rank ? x->dims[x->rank - 1] : 1;
        for (int i = 1; i < 5; i++) {
            av_nn__tensor *t = tin(g, n, i);
            if (!t || av_nn__numel(t) != C || t->dtype != AV_NN_F32)
                return FAILN(AV_NN_E_FORMAT, "input %d must be f32 [%lld]", i, (long long)C);
        }
        break;
    }
    case AV_NN_OP_SOFTMAX: {
        int a = av_nn__norm_axis(n->p.softmax.axis, x->rank);
        if (a < 0 || x->rank == 0)
            return FAILN(AV_NN_E_FORMAT, "axis %d out of range for rank %d", n->p.softmax.axis,
                         x->rank);
        n->p.softmax.axis = a;
        if (n->p.softmax.beta == 0.0f)
            n->p.softmax.beta = 1.0f;
        break;
    }
    case AV_NN_OP_UNARY:
        if (n->p.unary.kind == AV_NN_UN_NOT && x->dtype != AV_NN_BOOL)
            return FAILN(AV_NN_E_FORMAT, "not on %s", av_nn_dtype_name(x->dtype));
        break;
    default:
        break;
    }
    set_out(g, n, 0, dt, x->rank, x->dims);
    if (n->op == AV_NN_OP_IDENTITY || n->op == AV_NN_OP_CLAMP)
        inherit_quant(g, n, 0, x);
    return AV_NN_OK;
}

static bool act_ok(const av_nn__fused_act *a)
{
    return (unsigned)a->kind <= AV_NN_ACT_HARDSWISH;
}

/* Enumerations in params come from loaders (ultimately files): reject values no kernel knows. */
static bool params_ok(const av_nn__node *n)
{
    const av_nn__params *p = &n->p;
    switch (n->op) {
    case AV_NN_OP_CONV2D:
    case AV_NN_OP_DEPTHWISE_CONV2D:
    case AV_NN_OP_TRANSPOSE_CONV2D:
        return (unsigned)p->conv.padding <= AV_NN_PAD_VALID && act_ok(&p->conv.act);
    case AV_NN_OP_MAX_POOL2D:
    case AV_NN_OP_AVG_POOL2D:
        return (unsigned)p->pool.padding <= AV_NN_PAD_VALID && act_ok(&p->pool.act);
    case AV_NN_OP_FULLY_CONNECTED:
        return act_ok(&p->fc.act);
    case AV_NN_OP_BINARY:
        return (unsigned)p->binary.kind <= AV_NN_BIN_XOR && act_ok(&p->binary.act);
    case AV_NN_OP_UNARY:
        return (unsigned)p->unary.kind <= AV_NN_UN_RELU;
    case AV_NN_OP_REDUCE:
        return (unsigned)p->reduce.kind <= AV_NN_REDUCE_PROD;
    case AV_NN_OP_RESIZE:
        return (unsigned)p->resize.mode <= AV_NN_RESIZE_NEAREST &&
               (unsigned)p->resize.coord <= AV_NN_COORD_TF_HALF_PIXEL_FOR_NN &&
               (unsigned)p->resize.nearest <= AV_NN_NEAREST_CEIL;
    case AV_NN_OP_PAD:
        return (unsigned)p->pad.mode <= AV_NN_PADMODE_EDGE;
    default:
        return true;
    }
}

av_nn_status av_nn__infer_node(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen)
{
    if (!params_ok(n))
        return FAILN(AV_NN_E_FORMAT, "parameter out of range");
    av_nn__tensor *x = tin(g, n, 0);
    if (!x && n->op != AV_NN_OP_SPARSE_TO_DENSE)
        return FAILN(AV_NN_E_FORMAT, "input 0 absent");
    if (n->n_in == 0)
        return FAILN(AV_NN_E_FORMAT, "no inputs");
    for (int i = 0; i < n->n_in; i++) {
        av_nn__tensor *t = tin(g, n, i);
        if (t && (t->rank < 0 || av_nn__numel(t) < 0))
            return FAILN(AV_NN_E_FORMAT, "input %d '%s' has unknown or oversized shape", i,
                         t->name);
    }
    av_nn_status st;
    switch (n->op) {
    case AV_NN_OP_CONV2D:
    case AV_NN_OP_DEPTHWISE_CONV2D:
    case AV_NN_OP_TRANSPOSE_CONV2D:
        st = infer_conv(g, n, err, errlen);
        break;
    case AV_NN_OP_FULLY_CONNECTED:
        st = infer_fc(g, n, err, errlen);
        break;
    case AV_NN_OP_MATMUL:
        st = infer_matmul(g, n, err, errlen);
        break;
    case AV_NN_OP_MAX_POOL2D:
    case AV_NN_OP_AVG_POOL2D:
        st = infer_pool(g, n, err, errlen);
        break;
    case AV_NN_OP_REDUCE:
        st = infer_reduce(g, n, err, errlen);
        break;
    case AV_NN_OP_RESIZE:
        st = infer_resize(g, n, err, errlen);
        break;
    case AV_NN_OP_BINARY:
        st = infer_binary(g, n, err, errlen);
        break;
    case AV_NN_OP_WHERE:
        st = infer_where(g, n, err, errlen);
        break;
    case AV_NN_OP_PAD:
        st = av_nn__infer_pad(g, n, err, errlen);
        break;
    case AV_NN_OP_CONCAT:
        st = av_nn__infer_concat(g, n, err, errlen);
        break;
    case AV_NN_OP_SPLIT:
        st = av_nn__infer_split(g, n, err, errlen);
        break;
    case AV_NN_OP_SLICE:
        st = av_nn__infer_slice(g, n, err, errlen);
        break;
    case AV_NN_OP_TRANSPOSE:
        st = av_nn__infer_transpose(g, n, err, errlen);
        break;
    case AV_NN_OP_RESHAPE:
        st = av_nn__infer_reshape(g, n, err, errlen);
        break;
    case AV_NN_OP_GATHER:
        st = av_nn__infer_gather(g, n, err, errlen);
        break;
    case AV_NN_OP_TOPK:
        st = av_nn__infer_topk(g, n, err, errlen);
        break;
    case AV_NN_OP_ARGMAX:
        st = av_nn__infer_argmax(g, n, err, errlen);
        break;
    case AV_NN_OP_TILE:
        st = av_nn__infer_tile(g, n, err, errlen);
        break;
    case AV_NN_OP_SPARSE_TO_DENSE:
        st = av_nn__infer_s2d(g, n, err, errlen);
        break;
    case AV_NN_OP_SPARSE_HEAD:
        st = av_nn__infer_sparse_head(g, n, err, errlen);
        break;
    default:
        st = infer_elementwise(g, n, err, errlen);
        break;
    }
    if (st)
        return st;
    if (n->op != AV_NN_OP_SPLIT && n->op != AV_NN_OP_TOPK && n->n_out != 1 &&
        !(n->op == AV_NN_OP_CONCAT && n->p.axis.mean && n->n_out == 2))
        return FAILN(AV_NN_E_FORMAT, "has %d outputs, want 1", n->n_out);
    for (int i = 0; i < n->n_out; i++) {
        av_nn__tensor *o = &g->tensors[n->out[i]];
        if (av_nn__numel(o) < 0)
            return FAILN(AV_NN_E_LIMIT, "output %d '%s' exceeds %lld elements", i, o->name,
                         (long long)AV_NN_MAX_ELEMENTS);
    }
    return AV_NN_OK;
}
