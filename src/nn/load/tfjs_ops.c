/*
 * tfjs_ops.c - lowering of TF ops (as tfjs-converter writes them) into IR
 * nodes, following the input conventions at the top of shape.c.
 *
 * Semantics follow TF.js's executors (tfjs-converter operations/executors):
 * dtypes narrowed to f32/i32/bool, integer Div is floor division, Mod is
 * floor mod, Cast to any integer type gives i32. Layout differences are
 * settled here: TF conv filters HWIO become OHWI constants, depthwise
 * filters H,W,C,m become [1,H,W,C*m]. ExpandDims/Squeeze become TF strided
 * slices (new/shrink axis) because the IR reshape needs the input shape,
 * which is only known at finalize.
 */
#include "nn/load/tfjs_ops_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- small builders ---- */

/* Activation (non-constant) tensor named base + suffix; -1 on OOM. */
av_nn__tid av_nn__tfjs_act_tensor(av_nn__tfjs *L, const char *base, const char *suffix)
{
    char name[512];
    snprintf(name, sizeof name, "%.400s%s", base, suffix);
    return av_nn__add_tensor(L->g, name, AV_NN_F32, -1, NULL, NULL, false);
}

/* The k consecutive output tensors of n (named like TF: name, name:1, ...). */
av_nn_status av_nn__tfjs_make_outputs(av_nn__tfjs *L, av_nn__tfjs_node *n, int k)
{
    for (int i = 0; i < k; i++) {
        char sfx[16] = "";
        if (i)
            snprintf(sfx, sizeof sfx, ":%d", i);
        av_nn__tid t = av_nn__tfjs_act_tensor(L, n->name, sfx);
        if (t < 0)
            return FAIL(AV_NN_E_NOMEM, "cannot add output tensor %d", i);
        if (i == 0)
            n->out0 = t;
    }
    n->n_out = k;
    return AV_NN_OK;
}

av_nn_status av_nn__tfjs_emit(av_nn__tfjs *L, av_nn__tfjs_node *n, av_nn__op op, const av_nn__tid *in,
                         int n_in, const av_nn__tid *out, int n_out, const av_nn__params *p)
{
    for (int i = 0; i < n_in; i++)
        if (in[i] < -1 || in[i] >= L->g->n_tensors)
            return FAIL(AV_NN_E_FORMAT, "input %d has no tensor", i);
    if (av_nn__add_node(L->g, op, n->name, in, n_in, out, n_out, p) < 0)
        return FAIL(AV_NN_E_NOMEM, "cannot add IR node");
    return AV_NN_OK;
}

/* One-in one-out node writing n's single output. */
av_nn_status av_nn__tfjs_emit1(av_nn__tfjs *L, av_nn__tfjs_node *n, av_nn__op op, const av_nn__tid *in,
                          int n_in, const av_nn__params *p)
{
    av_nn_status st = av_nn__tfjs_make_outputs(L, n, 1);
    return st ? st : av_nn__tfjs_emit(L, n, op, in, n_in, &n->out0, 1, p);
}

/* Constant i32 vector (rank 1, or rank 0 when scalar). */
av_nn__tid av_nn__tfjs_const_i32(av_nn__tfjs *L, const char *base, const char *suffix,
                            const int64_t *v, int k, bool scalar)
{
    int32_t *d = malloc(k ? (size_t)k * 4 : 4);
    if (!d)
        return -1;
    for (int i = 0; i < k; i++)
        d[i] = (int32_t)v[i];
    char name[512];
    snprintf(name, sizeof name, "%.400s%s", base, suffix);
    int64_t dims[1] = {k};
    return av_nn__add_tensor(L->g, name, AV_NN_I32, scalar ? 0 : 1, dims, d, true);
}

/* Integer values of constant input i (at most max); count, or minus the status (err set). */
int av_nn__tfjs_const_ints(av_nn__tfjs *L, av_nn__tfjs_node *n, int i, const char *what, int64_t *out,
                      int max)
{
    av_nn__tid t = IN(i);
    const av_nn__tensor *c = t >= 0 ? &L->g->tensors[t] : NULL;
    if (!c || !c->data)
        return -(int)FAIL(AV_NN_E_UNSUPPORTED, "%s (input %d) must be a constant", what, i);
    if (c->dtype != AV_NN_I32 && c->dtype != AV_NN_I64)
        return -(int)FAIL(AV_NN_E_FORMAT, "%s must be an integer tensor, got %s", what,
                          av_nn_dtype_name(c->dtype));
    int64_t ne = av_nn__numel(c);
    if (ne < 0 || ne > max)
        return -(int)FAIL(AV_NN_E_FORMAT, "%s has %lld values (at most %d)", what,
                          (long long)ne, max);
    for (int64_t k = 0; k < ne; k++) {
        if (c->dtype == AV_NN_I32) {
            int32_t v;
            memcpy(&v, (const char *)c->data + 4 * k, 4);
            out[k] = v;
        } else {
            memcpy(&out[k], (const char *)c->data + 8 * k, 8);
        }
    }
    return (int)ne;
}

/* A scalar constant integer input (e.g. an axis). */
av_nn_status av_nn__tfjs_const_scalar(av_nn__tfjs *L, av_nn__tfjs_node *n, int i, const char *what,
                                 int64_t lo, int64_t hi, int *out)
{
    int64_t v[1];
    int k = av_nn__tfjs_const_ints(L, n, i, what, v, 1);
    if (k < 0)
        return (av_nn_status)-k;
    if (k != 1 || v[0] < lo || v[0] > hi)
        return FAIL(AV_NN_E_FORMAT, "%s must be one value in [%lld, %lld]", what, (long long)lo,
                    (long long)hi);
    *out = (int)v[0];
    return AV_NN_OK;
}

/* ---- derived constants (filters in IR layout) ---- */

enum { DERIVE_OHWI = 0, DERIVE_DW = 1, DERIVE_DECONV = 2 };

static av_nn__tid derived_get(const av_nn__tfjs *L, av_nn__tid src, int kind)
{
    for (int i = 0; i < L->n_derived; i++)
        if (L->derived_src[i] == src && L->derived_kind[i] == kind)
            return L->derived_dst[i];
    return -1;
}

static bool derived_put(av_nn__tfjs *L, av_nn__tid src, int kind, av_nn__tid dst)
{
    if (L->n_derived == L->cap_derived) {
        int nc = L->cap_derived ? 2 * L->cap_derived : 32;
        av_nn__tid *a = realloc(L->derived_src, (size_t)nc * sizeof *a);
        if (!a)
            return false;
        L->derived_src = a;
        av_nn__tid *b = realloc(L->derived_dst, (size_t)nc * sizeof *b);
        if (!b)
            return false;
        L->derived_dst = b;
        int *c = realloc(L->derived_kind, (size_t)nc * sizeof *c);
        if (!c)
            return false;
        L->derived_kind = c;
        L->cap_derived = nc;
    }
    L->derived_src[L->n_derived] = src;
    L->derived_dst[L->n_derived] = dst;
    L->derived_kind[L->n_derived++] = kind;
    return true;
}

/*
 * Filter input i of n in IR layout. Constant 4-D f32 filters are rewritten
 * once (cached per source); others get a TRANSPOSE node (not for depthwise).
 *   DERIVE_OHWI    [H,W,I,O] -> [O,H,W,I]     (conv)
 *   DERIVE_DECONV  [H,W,O,I] -> [O,H,W,I]     (Conv2DBackpropInput: O = output channels)
 *   DERIVE_DW      [H,W,C,m] -> [1,H,W,C*m]   (same memory order)
 */
static av_nn_status filter_input(av_nn__tfjs *L, av_nn__tfjs_node *n, int i, int kind,
                                 av_nn__tid *out)
{
    av_nn__tid src = IN(i);
    if (src < 0)
        return FAIL(AV_NN_E_FORMAT, "missing filter input %d", i);
    av_nn__tid have = derived_get(L, src, kind);
    if (have >= 0) {
        *out = have;
        return AV_NN_OK;
    }
    const av_nn__tensor *t = &L->g->tensors[src];
    if (!t->data) {
        if (kind == DERIVE_DW)
            return FAIL(AV_NN_E_UNSUPPORTED, "depthwise filter must be a constant");
        av_nn__params p = {0};
        p.transpose.rank = 4;
        static const int perm_conv[4] = {3, 0, 1, 2}, perm_deconv[4] = {2, 0, 1, 3};
        memcpy(p.transpose.perm, kind == DERIVE_OHWI ? perm_conv : perm_deconv, sizeof perm_conv);
        av_nn__tid o = av_nn__tfjs_act_tensor(L, n->name, "/filter_ohwi");
        if (o < 0)
            return FAIL(AV_NN_E_NOMEM, "filter tensor");
        av_nn_status st = av_nn__tfjs_emit(L, n, AV_NN_OP_TRANSPOSE, &src, 1, &o, 1, &p);
        if (st)
            return st;
        *out = o;
        return AV_NN_OK;
    }
    if (t->rank != 4 || t->dtype != AV_NN_F32)
        return FAIL(AV_NN_E_FORMAT, "filter must be a 4-D float32 tensor (rank %d, %s)",
                    t->rank, av_nn_dtype_name(t->dtype));
    int64_t H = t->dims[0], W = t->dims[1], A = t->dims[2], B = t->dims[3];
    int64_t ne = av_nn__numel(t);
    if (ne < 0)
        return FAIL(AV_NN_E_LIMIT, "filter too large");
    float *d = malloc(ne ? (size_t)ne * sizeof(float) : 4);
    if (!d)
        return FAIL(AV_NN_E_NOMEM, "filter of %lld values", (long long)ne);
    const float *s = t->data;
    int64_t dims[4];
    if (kind == DERIVE_DW) {
        memcpy(d, s, (size_t)ne * sizeof(float));
        dims[0] = 1, dims[1] = H, dims[2] = W, dims[3] = A * B;
    } else {
        /* src [H,W,A,B]; OHWI: O = B (conv) or A (deconv), I = the other */
        int64_t O = kind == DERIVE_OHWI ? B : A, I = kind == DERIVE_OHWI ? A : B;
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++)
                for (int64_t a = 0; a < A; a++)
                    for (int64_t b = 0; b < B; b++) {
                        int64_t o = kind == DERIVE_OHWI ? b : a, ii = kind == DERIVE_OHWI ? a : b;
                        d[((o * H + h) * W + w) * I + ii] = s[((h * W + w) * A + a) * B + b];
                    }
        dims[0] = O, dims[1] = H, dims[2] = W, dims[3] = I;
    }
    int sn = n->in_node[i];
    if (L->refs && L->refs[sn] == 1 && L->nodes[sn].n_out == 1 && t->data_owned &&
        !t->is_input && !t->is_output) {
        /* this filter's only reader: the source becomes the filter (the
         * decoded copy and its transpose never both held for every conv) */
        av_nn__tensor *ts = &L->g->tensors[src];
        free(ts->data);
        ts->data = d;
        memcpy(ts->dims, dims, sizeof dims);
        if (!derived_put(L, src, kind, src))
            return FAIL(AV_NN_E_NOMEM, "filter tensor");
        *out = src;
        return AV_NN_OK;
    }
    char name[512];
    snprintf(name, sizeof name, "%.400s%s", t->name, kind == DERIVE_DW ? "/dw" : "/ohwi");
    av_nn__tid o = av_nn__add_tensor(L->g, name, AV_NN_F32, 4, dims, d, true);
    if (o < 0 || !derived_put(L, src, kind, o))
        return FAIL(AV_NN_E_NOMEM, "filter tensor");
    *out = o;
    return AV_NN_OK;
}

/* ---- attribute groups ---- */

static av_nn_status check_nhwc(av_nn__tfjs *L, av_nn__tfjs_node *n)
{
    char buf[32];
    bool bad = false;
    const char *df = av_nn__tfjs_attr_s(n, "data_format", "NHWC", buf, sizeof buf, &bad);
    if (bad)
        return FAIL(AV_NN_E_FORMAT, "bad data_format attribute");
    if (strcmp(df, "NHWC") != 0)
        return FAIL(AV_NN_E_UNSUPPORTED, "data_format %s (only NHWC)", df);
    return AV_NN_OK;
}

/* list attr of 4 (N,H,W,C) positive ints -> h, w; default 1. */
static av_nn_status hw_list(av_nn__tfjs *L, av_nn__tfjs_node *n, const char *key, int *h, int *w)
{
    int64_t v[8];
    int k = av_nn__tfjs_attr_list_i(n, key, v, 8);
    *h = *w = 1;
    if (k == 0)
        return AV_NN_OK;
    if (k != 4 || v[0] != 1 || v[3] != 1 || v[1] < 1 || v[2] < 1 || v[1] > 65536 ||
        v[2] > 65536)
        return FAIL(AV_NN_E_UNSUPPORTED, "%s must be [1,h,w,1] with 1 <= h,w <= 65536", key);
    *h = (int)v[1];
    *w = (int)v[2];
    return AV_NN_OK;
}

static av_nn_status padding_attr(av_nn__tfjs *L, av_nn__tfjs_node *n, av_nn__padding *pad,
                                 int *t, int *b, int *l, int *r)
{
    char buf[32];
    bool bad = false;
    const char *s = av_nn__tfjs_attr_s(n, "padding", "VALID", buf, sizeof buf, &bad);
    if (bad)
        return FAIL(AV_NN_E_FORMAT, "bad padding attribute");
    *t = *b = *l = *r = 0;
    if (!strcmp(s, "SAME")) {
        *pad = AV_NN_PAD_SAME;
    } else if (!strcmp(s, "VALID")) {
        *pad = AV_NN_PAD_VALID;
    } else if (!strcmp(s, "EXPLICIT")) {
        int64_t v[8];
        int k = av_nn__tfjs_attr_list_i(n, "explicit_paddings", v, 8);
        if (k != 8)
            return FAIL(AV_NN_E_FORMAT, "EXPLICIT padding needs 8 explicit_paddings");
        for (int i = 0; i < 8; i++)
            if (v[i] < 0 || v[i] > 65536 || ((i < 2 || i >= 6) && v[i] != 0))
                return FAIL(AV_NN_E_UNSUPPORTED, "explicit_paddings must pad H and W only, "
                                                 "each in 0..65536");
        *pad = AV_NN_PAD_EXPLICIT;
        *t = (int)v[2], *b = (int)v[3], *l = (int)v[4], *r = (int)v[5];
    } else {
        return FAIL(AV_NN_E_UNSUPPORTED, "padding '%s'", s);
    }
    return AV_NN_OK;
}

/* ---- activations (fused_ops of _Fused* and plain nodes) ---- */

typedef enum act_kind {
    ACT_NONE = 0,
    ACT_RELU,
    ACT_RELU6,
    ACT_LEAKY,
    ACT_SIGMOID,
    ACT_TANH,
    ACT_ELU,
    ACT_PRELU
} act_kind;

static bool act_from_name(const char *s, act_kind *k)
{
    static const struct {
        const char *name;
        act_kind k;
    } m[] = {{"Relu", ACT_RELU},       {"Relu6", ACT_RELU6}, {"LeakyRelu", ACT_LEAKY},
             {"Sigmoid", ACT_SIGMOID}, {"Tanh", ACT_TANH},   {"Elu", ACT_ELU},
             {"Prelu", ACT_PRELU}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (!strcmp(s, m[i].name)) {
            *k = m[i].k;
            return true;
        }
    return false;
}

/* Emit activation k from x into out (prelu: slope tensor). */
static av_nn_status emit_act(av_nn__tfjs *L, av_nn__tfjs_node *n, act_kind k, float alpha,
                             av_nn__tid x, av_nn__tid slope, av_nn__tid out)
{
    av_nn__params p = {0};
    switch (k) {
    case ACT_RELU:
    case ACT_RELU6:
        p.clamp.min = 0.0f;
        p.clamp.max = k == ACT_RELU ? INFINITY : 6.0f;
        return av_nn__tfjs_emit(L, n, AV_NN_OP_CLAMP, &x, 1, &out, 1, &p);
    case ACT_LEAKY:
        p.leaky.alpha = alpha;
        return av_nn__tfjs_emit(L, n, AV_NN_OP_LEAKY_RELU, &x, 1, &out, 1, &p);
    case ACT_SIGMOID:
    case ACT_TANH:
    case ACT_ELU:
        p.unary.kind = k == ACT_SIGMOID ? AV_NN_UN_SIGMOID
                       : k == ACT_TANH  ? AV_NN_UN_TANH
                                        : AV_NN_UN_ELU;
        p.unary.alpha = 1.0f;
        return av_nn__tfjs_emit(L, n, AV_NN_OP_UNARY, &x, 1, &out, 1, &p);
    case ACT_PRELU: {
        av_nn__tid in[2] = {x, slope};
        return av_nn__tfjs_emit(L, n, AV_NN_OP_PRELU, in, 2, &out, 1, NULL);
    }
    default:
        return av_nn__tfjs_emit(L, n, AV_NN_OP_IDENTITY, &x, 1, &out, 1, NULL);
    }
}

/*
 * Conv-family nodes, plain and fused (_FusedConv2D, FusedDepthwiseConv2dNative,
 * _FusedMatMul). fused_ops = [extra, activation?] with extra BiasAdd or
 * FusedBatchNorm(V3); args = inputs 2.. (bias | scale,offset,mean,var; then
 * the prelu slope). Relu/Relu6 go into the IR node's fused act; the others
 * become their own nodes (pass.c fuses what backends support).
 */
typedef struct fused {
    bool bias, bn;
    act_kind act;
    float alpha;
    av_nn__tid bias_t, bn_t[4], slope;
    float epsilon;
} fused;

static av_nn_status parse_fused(av_nn__tfjs *L, av_nn__tfjs_node *n, fused *f)
{
    memset(f, 0, sizeof *f);
    f->bias_t = f->slope = -1;
    char ops[4][32];
    int k = av_nn__tfjs_attr_list_s(n, "fused_ops", ops, 4);
    if (k < 0 || k > 2)
        return FAIL(AV_NN_E_UNSUPPORTED, "fused_ops must list at most 2 ops");
    bool bad = false;
    int64_t num_args = av_nn__tfjs_attr_i(n, "num_args", 0, &bad);
    if (k >= 1) {
        if (!strcmp(ops[0], "BiasAdd")) {
            f->bias = true;
        } else if (!strncmp(ops[0], "FusedBatchNorm", 14)) {
            f->bn = true;
        } else if (k == 1 && act_from_name(ops[0], &f->act)) {
            /* activation only, no extra op */
        } else {
            return FAIL(AV_NN_E_UNSUPPORTED, "fused op '%s'", ops[0]);
        }
    }
    if (k == 2 && !act_from_name(ops[1], &f->act))
        return FAIL(AV_NN_E_UNSUPPORTED, "fused activation '%s'", ops[1]);
    int need = (f->bias ? 1 : 0) + (f->bn ? 4 : 0) + (f->act == ACT_PRELU ? 1 : 0);
    if (bad || num_args != need || n->n_in != 2 + need)
        return FAIL(AV_NN_E_FORMAT, "fused_ops need %d args; num_args %lld, %d inputs", need,
                    (long long)num_args, n->n_in);
    int a = 2;
    if (f->bias)
        f->bias_t = IN(a++);
    if (f->bn)
        for (int i = 0; i < 4; i++)
            f->bn_t[i] = IN(a++);
    if (f->act == ACT_PRELU)
        f->slope = IN(a++);
    f->alpha = (float)av_nn__tfjs_attr_f(n, "leakyrelu_alpha", 0.2, &bad);
    f->epsilon = (float)av_nn__tfjs_attr_f(n, "epsilon", 1e-3, &bad);
    if (bad)
        return FAIL(AV_NN_E_FORMAT, "bad leakyrelu_alpha/epsilon attribute");
    return AV_NN_OK;
}

/*
 * Emit main op (whose params p may take a fused relu/relu6 in *act_slot),
 * then batch norm and activation, ending in n's output tensor.
 */
static av_nn_status emit_fused(av_nn__tfjs *L, av_nn__tfjs_node *n, av_nn__op op,
                               av_nn__tid *in, int n_in, av_nn__params *p,
                               av_nn__fused_act *act_slot, const fused *f)
{
    av_nn_status st = av_nn__tfjs_make_outputs(L, n, 1);
    if (st)
        return st;
    bool act_inline = act_slot && !f->bn && (f->act == ACT_RELU || f->act == ACT_RELU6);
    if (act_inline)
        act_slot->kind = f->act == ACT_RELU ? AV_NN_ACT_RELU : AV_NN_ACT_RELU6;
    bool tail = f->bn || (f->act != ACT_NONE && !act_inline);
    av_nn__tid cur = n->out0;
    if (tail && (cur = av_nn__tfjs_act_tensor(L, n->name, "/pre")) < 0)
        return FAIL(AV_NN_E_NOMEM, "tensor");
    if ((st = av_nn__tfjs_emit(L, n, op, in, n_in, &cur, 1, p)))
        return st;
    if (f->bn) {
        av_nn__tid o = f->act != ACT_NONE ? av_nn__tfjs_act_tensor(L, n->name, "/bn") : n->out0;
        if (o < 0)
            return FAIL(AV_NN_E_NOMEM, "tensor");
        av_nn__tid bin[5] = {cur, f->bn_t[0], f->bn_t[1], f->bn_t[2], f->bn_t[3]};
        av_nn__params bp = {0};
        bp.bn.epsilon = f->epsilon;
        if ((st = av_nn__tfjs_emit(L, n, AV_NN_OP_BATCH_NORM, bin, 5, &o, 1, &bp)))
            return st;
        cur = o;
    }
    if (f->act != ACT_NONE && !act_inline)
        return emit_act(L, n, f->act, f->alpha, cur, f->slope, n->out0);
    return AV_NN_OK;
}

/* ---- op lowerings ---- */

typedef av_nn_status (*lower_fn)(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);

static av_nn_status lower_const(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    int wi = av_nn__tfjs_map_get(&L->weight_map, n->name);
    if (wi < 0)
        return FAIL(AV_NN_E_FORMAT, "constant has no entry in weightsManifest");
    const av_nn__tfjs_weight *w = &L->wt.w[wi];
    void *data = NULL;
    av_nn_status st = av_nn__tfjs_decode_weight(&L->wt, w, &data, L->err, L->errlen);
    if (st)
        return st;
    av_nn__tid t = av_nn__add_tensor(L->g, n->name, w->dtype, w->rank, w->dims, data, true);
    if (t < 0)
        return FAIL(AV_NN_E_LIMIT, "cannot add constant (size limit or out of memory)");
    n->out0 = t;
    n->n_out = 1;
    return AV_NN_OK;
}

static av_nn_status lower_identity(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in < 1)
        return FAIL(AV_NN_E_FORMAT, "needs an input");
    av_nn__tid x = IN(0);
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_IDENTITY, &x, 1, NULL);
}

enum { CONV_PLAIN = 0, CONV_FUSED = 1, CONV_DW = 2, CONV_DW_FUSED = 3 };

static av_nn_status lower_conv(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    bool dw = arg & CONV_DW, fusedop = arg & CONV_FUSED;
    av_nn_status st = check_nhwc(L, n);
    if (st)
        return st;
    if (n->n_in < 2)
        return FAIL(AV_NN_E_FORMAT, "needs input and filter");
    fused f;
    if (fusedop) {
        if ((st = parse_fused(L, n, &f)))
            return st;
    } else {
        memset(&f, 0, sizeof f);
        f.bias_t = f.slope = -1;
        if (n->n_in != 2)
            return FAIL(AV_NN_E_FORMAT, "%d inputs, want 2", n->n_in);
    }
    av_nn__params p = {0};
    av_nn__conv_params *c = &p.conv;
    if ((st = hw_list(L, n, "strides", &c->stride_h, &c->stride_w)) ||
        (st = hw_list(L, n, "dilations", &c->dilation_h, &c->dilation_w)) ||
        (st = padding_attr(L, n, &c->padding, &c->pad_top, &c->pad_bottom, &c->pad_left,
                           &c->pad_right)))
        return st;
    c->groups = 1;
    av_nn__tid w;
    if ((st = filter_input(L, n, 1, dw ? DERIVE_DW : DERIVE_OHWI, &w)))
        return st;
    av_nn__tid in[3] = {IN(0), w, f.bias_t};
    return emit_fused(L, n, dw ? AV_NN_OP_DEPTHWISE_CONV2D : AV_NN_OP_CONV2D, in,
                      f.bias ? 3 : 2, &p, &c->act, &f);
}

/* Conv2DBackpropInput: inputs [output_shape, filter HWOI, x]. */
static av_nn_status lower_deconv(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    av_nn_status st = check_nhwc(L, n);
    if (st)
        return st;
    if (n->n_in != 3)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 3", n->n_in);
    av_nn__params p = {0};
    av_nn__conv_params *c = &p.conv;
    if ((st = hw_list(L, n, "strides", &c->stride_h, &c->stride_w)) ||
        (st = hw_list(L, n, "dilations", &c->dilation_h, &c->dilation_w)) ||
        (st = padding_attr(L, n, &c->padding, &c->pad_top, &c->pad_bottom, &c->pad_left,
                           &c->pad_right)))
        return st;
    c->groups = 1;
    av_nn__tid w;
    if ((st = filter_input(L, n, 1, DERIVE_DECONV, &w)))
        return st;
    av_nn__tid in[4] = {IN(2), w, -1, IN(0)};
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_TRANSPOSE_CONV2D, in, 4, &p);
}

static av_nn_status lower_pool(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    av_nn_status st = check_nhwc(L, n);
    if (st)
        return st;
    if (n->n_in != 1)
        return FAIL(AV_NN_E_UNSUPPORTED, "%d inputs (ksize/strides must be attributes)",
                    n->n_in);
    av_nn__params p = {0};
    av_nn__pool_params *q = &p.pool;
    if ((st = hw_list(L, n, "ksize", &q->filter_h, &q->filter_w)) ||
        (st = hw_list(L, n, "strides", &q->stride_h, &q->stride_w)) ||
        (st = padding_attr(L, n, &q->padding, &q->pad_top, &q->pad_bottom, &q->pad_left,
                           &q->pad_right)))
        return st;
    q->dilation_h = q->dilation_w = 1;
    q->count_include_pad = false; /* TF averages over the valid cells only */
    av_nn__tid x = IN(0);
    return av_nn__tfjs_emit1(L, n, arg ? AV_NN_OP_AVG_POOL2D : AV_NN_OP_MAX_POOL2D, &x, 1, &p);
}

static av_nn_status lower_reduce(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    if (n->n_in != 2)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 2", n->n_in);
    int64_t ax[AV_NN_MAX_RANK];
    int k = av_nn__tfjs_const_ints(L, n, 1, "axes", ax, AV_NN_MAX_RANK);
    if (k < 0)
        return (av_nn_status)-k;
    av_nn__tid x = IN(0);
    if (k == 0) /* TF reduces nothing over an empty axis list */
        return av_nn__tfjs_emit1(L, n, AV_NN_OP_IDENTITY, &x, 1, NULL);
    bool bad = false;
    av_nn__params p = {0};
    p.reduce.kind = (av_nn__reduce_kind)arg;
    p.reduce.keep_dims = av_nn__tfjs_attr_b(n, "keep_dims", false, &bad);
    if (bad)
        return FAIL(AV_NN_E_FORMAT, "bad keep_dims");
    av_nn__tid in[2] = {x, IN(1)};
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_REDUCE, in, 2, &p);
}

static av_nn_status lower_resize(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    if (n->n_in != 2)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 2", n->n_in);
    bool bad = false;
    bool ac = av_nn__tfjs_attr_b(n, "align_corners", false, &bad);
    bool hp = av_nn__tfjs_attr_b(n, "half_pixel_centers", false, &bad);
    if (bad)
        return FAIL(AV_NN_E_FORMAT, "bad align_corners/half_pixel_centers");
    if (ac && hp)
        return FAIL(AV_NN_E_FORMAT, "align_corners and half_pixel_centers are exclusive");
    av_nn__params p = {0};
    av_nn__resize_params *r = &p.resize;
    r->mode = arg ? AV_NN_RESIZE_NEAREST : AV_NN_RESIZE_BILINEAR;
    if (ac)
        r->coord = AV_NN_COORD_ALIGN_CORNERS;
    else if (hp)
        r->coord = arg ? AV_NN_COORD_TF_HALF_PIXEL_FOR_NN : AV_NN_COORD_HALF_PIXEL;
    else
        r->coord = AV_NN_COORD_ASYMMETRIC;
    /* TF nearest: round (half up) with align_corners, floor otherwise */
    r->nearest = ac ? AV_NN_NEAREST_ROUND_PREFER_CEIL : AV_NN_NEAREST_FLOOR;
    av_nn__tid in[2] = {IN(0), IN(1)};
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_RESIZE, in, 2, &p);
}

static av_nn_status lower_binary(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    if (n->n_in != 2)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 2", n->n_in);
    av_nn_status st;
    if (!strcmp(n->op, "BiasAdd") && (st = check_nhwc(L, n)))
        return st;
    av_nn__params p = {0};
    p.binary.kind = (av_nn__binary_kind)arg;
    if (arg == AV_NN_BIN_DIV && !strcmp(n->op, "Div")) {
        /* TF.js divides integers with floor division */
        json_t *t = json_object_get(av_nn__tfjs_attr(n, "T"), "type");
        av_nn_dtype dt;
        if (json_string_value(t) && av_nn__tfjs_dtype(json_string_value(t), &dt) &&
            dt == AV_NN_I32)
            p.binary.kind = AV_NN_BIN_FLOOR_DIV;
    }
    av_nn__tid in[2] = {IN(0), IN(1)};
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_BINARY, in, 2, &p);
}

static av_nn_status lower_addn(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in < 1)
        return FAIL(AV_NN_E_FORMAT, "needs inputs");
    av_nn_status st = av_nn__tfjs_make_outputs(L, n, 1);
    if (st)
        return st;
    av_nn__tid acc = IN(0);
    if (n->n_in == 1)
        return av_nn__tfjs_emit(L, n, AV_NN_OP_IDENTITY, &acc, 1, &n->out0, 1, NULL);
    for (int i = 1; i < n->n_in; i++) {
        av_nn__tid o = i == n->n_in - 1 ? n->out0 : av_nn__tfjs_act_tensor(L, n->name, "/sum");
        if (o < 0)
            return FAIL(AV_NN_E_NOMEM, "tensor");
        av_nn__params p = {0};
        p.binary.kind = AV_NN_BIN_ADD;
        av_nn__tid in[2] = {acc, IN(i)};
        if ((st = av_nn__tfjs_emit(L, n, AV_NN_OP_BINARY, in, 2, &o, 1, &p)))
            return st;
        acc = o;
    }
    return AV_NN_OK;
}

static av_nn_status lower_unary(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    if (n->n_in != 1)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 1", n->n_in);
    av_nn__params p = {0};
    p.unary.kind = (av_nn__unary_kind)arg;
    if (arg == AV_NN_UN_ELU)
        p.unary.alpha = 1.0f;
    if (arg == AV_NN_UN_SELU) { /* TF's fixed constants */
        p.unary.alpha = 1.6732632423543772f;
        p.unary.beta = 1.0507009873554805f;
    }
    av_nn__tid x = IN(0);
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_UNARY, &x, 1, &p);
}

static av_nn_status lower_act(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    act_kind k = (act_kind)arg;
    if (n->n_in != (k == ACT_PRELU ? 2 : 1))
        return FAIL(AV_NN_E_FORMAT, "%d inputs", n->n_in);
    bool bad = false;
    float alpha = (float)av_nn__tfjs_attr_f(n, "alpha", 0.2, &bad);
    if (bad)
        return FAIL(AV_NN_E_FORMAT, "bad alpha");
    av_nn_status st = av_nn__tfjs_make_outputs(L, n, 1);
    return st ? st : emit_act(L, n, k, alpha, IN(0), k == ACT_PRELU ? IN(1) : -1, n->out0);
}

static av_nn_status lower_clip(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    if (n->n_in != 3)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 3", n->n_in);
    float lim[2];
    for (int i = 0; i < 2; i++) {
        av_nn__tid t = IN(1 + i);
        const av_nn__tensor *c = &L->g->tensors[t];
        if (!c->data || c->dtype != AV_NN_F32 || av_nn__numel(c) != 1)
            return FAIL(AV_NN_E_UNSUPPORTED, "clip bounds must be constant f32 scalars");
        memcpy(&lim[i], c->data, 4);
    }
    av_nn__params p = {0};
    p.clamp.min = lim[0];
    p.clamp.max = lim[1];
    av_nn__tid x = IN(0);
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_CLAMP, &x, 1, &p);
}

static av_nn_status lower_fused_bn(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    (void)arg;
    av_nn_status st = check_nhwc(L, n);
    if (st)
        return st;
    bool bad = false;
    if (n->n_in < 5)
        return FAIL(AV_NN_E_FORMAT, "%d inputs, want 5", n->n_in);
    if (av_nn__tfjs_attr_b(n, "is_training", false, &bad))
        return FAIL(AV_NN_E_UNSUPPORTED, "is_training");
    av_nn__params p = {0};
    p.bn.epsilon = (float)av_nn__tfjs_attr_f(n, "epsilon", 1e-3, &bad);
    if (bad)
        return FAIL(AV_NN_E_FORMAT, "bad attributes");
    av_nn__tid in[5] = {IN(0), IN(1), IN(2), IN(3), IN(4)};
    return av_nn__tfjs_emit1(L, n, AV_NN_OP_BATCH_NORM, in, 5, &p);
}

/* MatMul / _FusedMatMul / BatchMatMul(V2): transposes only for 2-D MatMul. */
static av_nn_status lower_matmul(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg)
{
    bool fusedop = arg == 1, batch = arg == 2;
    fused f;
    av_nn_status st;
    if (fusedop) {
        if ((st = parse_fused(L, n, &f)))
            return st;
        if (f.bn)
            return FAIL(AV_NN_E_UNSUPPORTED, "batch norm fused into a matmul");
    } else {
        memset(&f, 0, sizeof f);
        f.bias_t = f.slope = -1;
        if (n->n_in != 2)
            return FAIL(AV_NN_E_FORMAT, "%d inputs, want 2", n->n_in);
    }
    bool bad = false;
    bool ta = av_nn__tfjs_attr_b(n, batch ? "adj_x" : "transpose_a", false, &bad);
    bool tb = av_nn__tfjs_attr_b(n, batch ? "adj_y" : "transpose_b", false, &bad);
    if (bad)
        return FAIL(AV_NN_E_FORMAT, "bad transpose attributes");
    if (batch && (ta || tb))
        return FAIL(AV_NN_E_UNSUPPORTED, "adj_x/adj_y");
    av_nn__tid in[2] = {IN(0), IN(1)};
    for (int i = 0; i < 2; i++) {
        if (!(i ? tb : ta))
            continue;
        av_nn__params tp = {0};
        tp.transpose.rank = 2;
        tp.transpose.perm[0] = 1;
        av_nn__tid o = av_nn__tfjs_act_tensor(L, n->name, i ? "/bT" : "/aT");
        if (o < 0)
            return FAIL(AV_NN_E_NOMEM, "tensor");
        if ((st = av_nn__tfjs_emit(L, n, AV_NN_OP_TRANSPOSE, &in[i], 1, &o, 1, &tp)))
            return st;
        in[i] = o;
    }
    if (!f.bias)
        return emit_fused(L, n, AV_NN_OP_MATMUL, in, 2, NULL, NULL, &f);
    /* matmul, then bias add carrying the relu/relu6 (binary ops take a fused act) */
    av_nn__tid mm = av_nn__tfjs_act_tensor(L, n->name, "/matmul");
    if (mm < 0)
        return FAIL(AV_NN_E_NOMEM, "tensor");
    if ((st = av_nn__tfjs_emit(L, n, AV_NN_OP_MATMUL, in, 2, &mm, 1, NULL)))
        return st;
    av_nn__params bp = {0};
    bp.binary.kind = AV_NN_BIN_ADD;
    av_nn__tid bin[2] = {mm, f.bias_t};
    return emit_fused(L, n, AV_NN_OP_BINARY, bin, 2, &bp, &bp.binary.act, &f);
}

/* ---- the op table ---- */

static const struct op_entry {
    const char *op;
    lower_fn fn;
    int arg;
} ops[] = {
    {"Const", lower_const, 0},
    {"Identity", lower_identity, 0},
    {"Snapshot", lower_identity, 0},
    {"StopGradient", lower_identity, 0},
    {"Conv2D", lower_conv, CONV_PLAIN},
    {"_FusedConv2D", lower_conv, CONV_FUSED},
    {"DepthwiseConv2d", lower_conv, CONV_DW},
    {"DepthwiseConv2dNative", lower_conv, CONV_DW},
    {"FusedDepthwiseConv2dNative", lower_conv, CONV_DW_FUSED},
    {"Conv2DBackpropInput", lower_deconv, 0},
    {"MaxPool", lower_pool, 0},
    {"AvgPool", lower_pool, 1},
    {"Mean", lower_reduce, AV_NN_REDUCE_MEAN},
    {"Sum", lower_reduce, AV_NN_REDUCE_SUM},
    {"Max", lower_reduce, AV_NN_REDUCE_MAX},
    {"Min", lower_reduce, AV_NN_REDUCE_MIN},
    {"Prod", lower_reduce, AV_NN_REDUCE_PROD},
    {"ResizeBilinear", lower_resize, 0},
    {"ResizeNearestNeighbor", lower_resize, 1},
    {"Add", lower_binary, AV_NN_BIN_ADD},
    {"AddV2", lower_binary, AV_NN_BIN_ADD},
    {"BiasAdd", lower_binary, AV_NN_BIN_ADD},
    {"Sub", lower_binary, AV_NN_BIN_SUB},
    {"Mul", lower_binary, AV_NN_BIN_MUL},
    {"RealDiv", lower_binary, AV_NN_BIN_DIV},
    {"Div", lower_binary, AV_NN_BIN_DIV},
    {"FloorDiv", lower_binary, AV_NN_BIN_FLOOR_DIV},
    {"FloorMod", lower_binary, AV_NN_BIN_FLOOR_MOD},
    {"Mod", lower_binary, AV_NN_BIN_FLOOR_MOD},
    {"Maximum", lower_binary, AV_NN_BIN_MAX},
    {"Minimum", lower_binary, AV_NN_BIN_MIN},
    {"Pow", lower_binary, AV_NN_BIN_POW},
    {"SquaredDifference", lower_binary, AV_NN_BIN_SQUARED_DIFF},
    {"Equal", lower_binary, AV_NN_BIN_EQUAL},
    {"NotEqual", lower_binary, AV_NN_BIN_NOT_EQUAL},
    {"Less", lower_binary, AV_NN_BIN_LESS},
    {"LessEqual", lower_binary, AV_NN_BIN_LESS_EQUAL},
    {"Greater", lower_binary, AV_NN_BIN_GREATER},
    {"GreaterEqual", lower_binary, AV_NN_BIN_GREATER_EQUAL},
    {"LogicalAnd", lower_binary, AV_NN_BIN_AND},
    {"LogicalOr", lower_binary, AV_NN_BIN_OR},
    {"AddN", lower_addn, 0},
    {"Abs", lower_unary, AV_NN_UN_ABS},
    {"Neg", lower_unary, AV_NN_UN_NEG},
    {"Exp", lower_unary, AV_NN_UN_EXP},
    {"Log", lower_unary, AV_NN_UN_LOG},
    {"Sqrt", lower_unary, AV_NN_UN_SQRT},
    {"Rsqrt", lower_unary, AV_NN_UN_RSQRT},
    {"Square", lower_unary, AV_NN_UN_SQUARE},
    {"Floor", lower_unary, AV_NN_UN_FLOOR},
    {"Ceil", lower_unary, AV_NN_UN_CEIL},
    {"Round", lower_unary, AV_NN_UN_ROUND},
    {"Softplus", lower_unary, AV_NN_UN_SOFTPLUS},
    {"Sin", lower_unary, AV_NN_UN_SIN},
    {"Cos", lower_unary, AV_NN_UN_COS},
    {"Reciprocal", lower_unary, AV_NN_UN_RECIPROCAL},
    {"Inv", lower_unary, AV_NN_UN_RECIPROCAL},
    {"LogicalNot", lower_unary, AV_NN_UN_NOT},
    {"Sign", lower_unary, AV_NN_UN_SIGN},
    {"Erf", lower_unary, AV_NN_UN_ERF},
    {"Selu", lower_unary, AV_NN_UN_SELU},
    {"Relu", lower_act, ACT_RELU},
    {"Relu6", lower_act, ACT_RELU6},
    {"LeakyRelu", lower_act, ACT_LEAKY},
    {"Sigmoid", lower_act, ACT_SIGMOID},
    {"Tanh", lower_act, ACT_TANH},
    {"Elu", lower_act, ACT_ELU},
    {"Prelu", lower_act, ACT_PRELU},
    {"ClipByValue", lower_clip, 0},
    {"FusedBatchNorm", lower_fused_bn, 0},
    {"FusedBatchNormV2", lower_fused_bn, 0},
    {"FusedBatchNormV3", lower_fused_bn, 0},
    {"ConcatV2", av_nn__tfjs_lower_concat, 0},
    {"Concat", av_nn__tfjs_lower_concat, 1},
    {"Reshape", av_nn__tfjs_lower_reshape, 0},
    {"ExpandDims", av_nn__tfjs_lower_expand_dims, 0},
    {"Squeeze", av_nn__tfjs_lower_squeeze, 0},
    {"Pack", av_nn__tfjs_lower_pack, 0},
    {"StridedSlice", av_nn__tfjs_lower_strided_slice, 0},
    {"Slice", av_nn__tfjs_lower_slice, 0},
    {"Transpose", av_nn__tfjs_lower_transpose, 0},
    {"Pad", av_nn__tfjs_lower_pad, 0},
    {"PadV2", av_nn__tfjs_lower_pad, 1},
    {"MirrorPad", av_nn__tfjs_lower_pad, 2},
    {"Split", av_nn__tfjs_lower_split, 0},
    {"SplitV", av_nn__tfjs_lower_split, 1},
    {"Gather", av_nn__tfjs_lower_gather, 0},
    {"GatherV2", av_nn__tfjs_lower_gather, 1},
    {"TopKV2", av_nn__tfjs_lower_topk, 0},
    {"ArgMax", av_nn__tfjs_lower_argmax, 0},
    {"ArgMin", av_nn__tfjs_lower_argmax, 1},
    {"Cast", av_nn__tfjs_lower_cast, 0},
    {"Softmax", av_nn__tfjs_lower_softmax, 0},
    {"LogSoftmax", av_nn__tfjs_lower_softmax, 1},
    {"SparseToDense", av_nn__tfjs_lower_sparse_to_dense, 0},
    {"Select", av_nn__tfjs_lower_select, 0},
    {"SelectV2", av_nn__tfjs_lower_select, 0},
    {"Tile", av_nn__tfjs_lower_tile, 0},
    {"MatMul", lower_matmul, 0},
    {"_FusedMatMul", lower_matmul, 1},
    {"BatchMatMul", lower_matmul, 2},
    {"BatchMatMulV2", lower_matmul, 2},
};

int av_nn__tfjs_num_outputs(const av_nn__tfjs_node *n)
{
    if (!strcmp(n->op, "TopKV2"))
        return 2;
    if (!strcmp(n->op, "Split") || !strcmp(n->op, "SplitV")) {
        bool bad = false;
        int64_t k = av_nn__tfjs_attr_i(n, "num_split", 1, &bad);
        return (bad || k < 1 || k > AV_NN_MAX_NODE_OUTPUTS) ? -1 : (int)k;
    }
    return 1;
}

av_nn_status av_nn__tfjs_lower(av_nn__tfjs *L, av_nn__tfjs_node *n)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(n->op, ops[i].op))
            return ops[i].fn(L, n, ops[i].arg);
    return FAIL(AV_NN_E_UNSUPPORTED, "unsupported op '%.60s'", n->op);
}
