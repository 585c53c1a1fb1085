/*
 * xnn.c - the XNNPACK backend: the av_nn__backend_xnn method table, the
 * one-time library initialisation, dispatch to the op families (xnn_conv.c,
 * xnn_pool.c, xnn_elem.c) and the helpers they share.
 *
 * prepare() creates the node's XNNPACK operator once per context (weights are
 * packed then and never read again from the graph); run() binds the data
 * pointers (xnn_setup_*, skipped when they did not change since the last run)
 * and runs the operator on the context's thread pool.
 */
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* XNNPACK keeps process-wide kernel tables; initialise them once. */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static enum xnn_status init_status = xnn_status_uninitialized;

static void init_xnnpack(void)
{
    init_status = xnn_initialize(NULL);
}

static enum xnn_status ensure_init(void)
{
    pthread_once(&init_once, init_xnnpack);
    return init_status;
}

int av_nn__xnn_init(void)
{
    return (int)ensure_init();
}

static const char *xnn_status_str(enum xnn_status st)
{
    switch (st) {
    case xnn_status_success:
        return "success";
    case xnn_status_uninitialized:
        return "uninitialized";
    case xnn_status_invalid_parameter:
        return "invalid parameter";
    case xnn_status_invalid_state:
        return "invalid state";
    case xnn_status_unsupported_parameter:
        return "unsupported parameter";
    case xnn_status_unsupported_hardware:
        return "unsupported hardware";
    case xnn_status_out_of_memory:
        return "out of memory";
    }
    return "unknown status";
}

av_nn_status av_nn__xnn_fail(char *err, size_t errlen, const av_nn__node *n, const char *what,
                             enum xnn_status st)
{
    return av_nn__fail(err, errlen, AV_NN_E_BACKEND, "node '%s' (%s): XNNPACK %s failed: %s (%d)",
                       n->name ? n->name : "", av_nn__op_name(n->op), what, xnn_status_str(st),
                       (int)st);
}

/* ---- helpers shared by the families ---- */

const av_nn__tensor *av_nn__xnn_in(const av_nn__graph *g, const av_nn__node *n, int i)
{
    if (i >= n->n_in || n->in[i] < 0 || n->in[i] >= g->n_tensors)
        return NULL;
    return &g->tensors[n->in[i]];
}

const av_nn__tensor *av_nn__xnn_out(const av_nn__graph *g, const av_nn__node *n, int i)
{
    if (i >= n->n_out || n->out[i] < 0 || n->out[i] >= g->n_tensors)
        return NULL;
    return &g->tensors[n->out[i]];
}

int64_t av_nn__xnn_numel(const av_nn__tensor *t)
{
    if (!t || t->rank < 0 || t->rank > AV_NN_MAX_RANK)
        return -1;
    int64_t c = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] <= 0 || t->dims[i] > AV_NN_MAX_ELEMENTS)
            return -1;
        c *= t->dims[i];
        if (c > AV_NN_MAX_ELEMENTS)
            return -1;
    }
    return c;
}

bool av_nn__xnn_qtensor(const av_nn__tensor *t, av_nn_dtype dt)
{
    if (!t || t->dtype != dt || t->quant.channel_scales || t->quant.n_channels > 1)
        return false;
    float s = t->quant.scale;
    if (!(s > 0.0f) || !isnormal(s) || !isfinite(s))
        return false;
    int32_t zp = t->quant.zero_point;
    if (dt == AV_NN_U8)
        return zp >= 0 && zp <= 255;
    if (dt == AV_NN_I8)
        return zp >= -128 && zp <= 127;
    return false;
}

bool av_nn__xnn_same_quant(const av_nn__tensor *a, const av_nn__tensor *b)
{
    return a->quant.scale == b->quant.scale && a->quant.zero_point == b->quant.zero_point &&
           !a->quant.channel_scales && !b->quant.channel_scales;
}

bool av_nn__xnn_act_bounds(const av_nn__fused_act *a, float *lo, float *hi)
{
    switch (a->kind) {
    case AV_NN_ACT_NONE:
        *lo = -INFINITY, *hi = INFINITY;
        return true;
    case AV_NN_ACT_RELU:
        *lo = 0.0f, *hi = INFINITY;
        return true;
    case AV_NN_ACT_RELU6:
        *lo = 0.0f, *hi = 6.0f;
        return true;
    case AV_NN_ACT_RELU_N1_1:
        *lo = -1.0f, *hi = 1.0f;
        return true;
    case AV_NN_ACT_CLAMP:
        /* XNNPACK rejects NaN and empty ranges */
        if (isnan(a->min) || isnan(a->max) || !(a->min < a->max))
            return false;
        *lo = a->min, *hi = a->max;
        return true;
    default:
        return false;
    }
}

bool av_nn__xnn_qbounds(const av_nn__fused_act *a, const av_nn__tensor *t, int32_t *lo,
                        int32_t *hi)
{
    float rlo, rhi;
    if (!av_nn__xnn_act_bounds(a, &rlo, &rhi))
        return false;
    int32_t qmin = t->dtype == AV_NN_U8 ? 0 : -128, qmax = t->dtype == AV_NN_U8 ? 255 : 127;
    double s = t->quant.scale, zp = t->quant.zero_point;
    *lo = qmin, *hi = qmax;
    if (rlo > -INFINITY) {
        double q = round(rlo / s) + zp;
        if (q > *lo)
            *lo = q > qmax ? qmax : (int32_t)q;
    }
    if (rhi < INFINITY) {
        double q = round(rhi / s) + zp;
        if (q < *hi)
            *hi = q < qmin ? qmin : (int32_t)q;
    }
    return *lo < *hi; /* XNNPACK wants output_min < output_max */
}

bool av_nn__xnn_act_ok_f32(const av_nn__fused_act *a)
{
    float lo, hi;
    if (av_nn__xnn_act_bounds(a, &lo, &hi))
        return true;
    if (a->kind == AV_NN_ACT_SIGMOID || a->kind == AV_NN_ACT_SILU)
        return true;
    /* leaky_relu_nc_f32 rejects non-finite slopes */
    return a->kind == AV_NN_ACT_LEAKY && isfinite(a->alpha);
}

enum xnn_status av_nn__xnn_make_post(av_nn__xnn_node *s, const av_nn__fused_act *a,
                                     bool force_clamp, size_t n_out)
{
    enum xnn_status st = xnn_status_success;
    float lo, hi;
    s->post_n = n_out;
    if (a->kind == AV_NN_ACT_LEAKY) {
        st = xnn_create_leaky_relu_nc_f32(1, 1, 1, a->alpha, 0, &s->post);
        s->post_setup = xnn_setup_leaky_relu_nc_f32;
    } else if (a->kind == AV_NN_ACT_SIGMOID) {
        st = xnn_create_sigmoid_nc_f32(1, 1, 1, 0, &s->post);
        s->post_setup = xnn_setup_sigmoid_nc_f32;
    } else if (a->kind == AV_NN_ACT_SILU) {
        s->post_silu = true; /* our kernel: XNNPACK has no SiLU */
    } else if (force_clamp && a->kind != AV_NN_ACT_NONE && av_nn__xnn_act_bounds(a, &lo, &hi)) {
        st = xnn_create_clamp_nc_f32(1, 1, 1, lo, hi, 0, &s->post);
        s->post_setup = xnn_setup_clamp_nc_f32;
    }
    return st;
}

const float *av_nn__xnn_f32_data(const av_nn__tensor *t, float **buf)
{
    *buf = NULL;
    if (t->dtype == AV_NN_F32)
        return t->data;
    int64_t c = av_nn__xnn_numel(t);
    if (c < 0 || t->dtype != AV_NN_F16)
        return NULL;
    float *f = malloc((size_t)c * sizeof *f);
    if (!f)
        return NULL;
    const uint16_t *h = t->data;
    for (int64_t i = 0; i < c; i++)
        f[i] = av_nn__f16_to_f32(h[i]);
    *buf = f;
    return f;
}

/* ---- the method table ---- */

static bool xnn_supports_op(const av_nn__graph *g, const av_nn__node *n)
{
    if (n->dead || ensure_init() != xnn_status_success)
        return false;
    switch (n->op) {
    case AV_NN_OP_CONV2D:
    case AV_NN_OP_DEPTHWISE_CONV2D:
    case AV_NN_OP_TRANSPOSE_CONV2D:
    case AV_NN_OP_FULLY_CONNECTED:
        return av_nn__xnn_conv_supports(g, n);
    case AV_NN_OP_MAX_POOL2D:
    case AV_NN_OP_AVG_POOL2D:
    case AV_NN_OP_REDUCE:
    case AV_NN_OP_RESIZE:
        return av_nn__xnn_pool_supports(g, n);
    case AV_NN_OP_UNARY:
        return av_nn__xnn_elem_supports(g, n) || av_nn__xnn_data_supports(g, n);
    case AV_NN_OP_BINARY:
        return av_nn__xnn_elem_supports(g, n) || av_nn__xnn_data_supports(g, n);
    case AV_NN_OP_CAST:
        return av_nn__xnn_data_supports(g, n);
    case AV_NN_OP_CLAMP:
    case AV_NN_OP_LEAKY_RELU:
    case AV_NN_OP_PRELU:
    case AV_NN_OP_SOFTMAX:
    case AV_NN_OP_PAD:
        return av_nn__xnn_elem_supports(g, n);
    case AV_NN_OP_TRANSPOSE:
    case AV_NN_OP_SLICE:
    case AV_NN_OP_CONCAT:
    case AV_NN_OP_SPLIT:
        return av_nn__xnn_data_supports(g, n);
    case AV_NN_OP_QUANTIZE:
    case AV_NN_OP_DEQUANTIZE:
        return av_nn__xnn_quant_supports(g, n);
    case AV_NN_OP_TOPK:
        return av_nn__xnn_topk_supports(g, n);
    default:
        return false;
    }
}

static void xnn_release(void *state)
{
    av_nn__xnn_node *s = state;
    if (!s)
        return;
    if (s->op)
        xnn_delete_operator(s->op);
    if (s->post)
        xnn_delete_operator(s->post);
    free(s->kcopy[0]);
    free(s->kcopy[1]);
    free(s);
}

/* Fill s->kcopy for constant inputs the operator reads at run time: input 0,
 * and input 1 of BINARY (other ops pack their constant inputs at create). */
static av_nn_status copy_constants(const av_nn__graph *g, const av_nn__node *n,
                                   av_nn__xnn_node *s, char *err, size_t errlen)
{
    int n_read = n->op == AV_NN_OP_BINARY ? 2 : 1;
    for (int i = 0; i < n_read; i++) {
        const av_nn__tensor *t = av_nn__xnn_in(g, n, i);
        if (!t || !t->data)
            continue;
        int64_t nb = av_nn__nbytes(t);
        s->kcopy[i] = nb >= 0 ? malloc((size_t)nb + XNN_EXTRA_BYTES) : NULL;
        if (!s->kcopy[i])
            return av_nn__fail(err, errlen, AV_NN_E_NOMEM,
                               "node '%s' (%s): out of memory copying constant input %d",
                               n->name ? n->name : "", av_nn__op_name(n->op), i);
        memcpy(s->kcopy[i], t->data, (size_t)nb);
        memset((char *)s->kcopy[i] + nb, 0, XNN_EXTRA_BYTES);
    }
    return AV_NN_OK;
}

/*
 * *state receives a malloc'd av_nn__xnn_node owning the operators; the
 * runtime hands it back to release(). The pool is only used at run().
 */
static av_nn_status xnn_prepare(const av_nn__graph *g, const av_nn__node *n, pthreadpool_t pool,
                                void **state, char *err, size_t errlen)
{
    (void)pool;
    *state = NULL;
    enum xnn_status ist = ensure_init();
    if (ist != xnn_status_success)
        return av_nn__xnn_fail(err, errlen, n, "initialisation", ist);
    if (!xnn_supports_op(g, n))
        return av_nn__fail(err, errlen, AV_NN_E_UNSUPPORTED,
                           "node '%s' (%s): not supported by the XNNPACK backend",
                           n->name ? n->name : "", av_nn__op_name(n->op));
    av_nn__xnn_node *s = calloc(1, sizeof *s);
    if (!s)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "node '%s' (%s): out of memory",
                           n->name ? n->name : "", av_nn__op_name(n->op));
    av_nn_status st;
    switch (n->op) {
    case AV_NN_OP_CONV2D:
    case AV_NN_OP_DEPTHWISE_CONV2D:
    case AV_NN_OP_TRANSPOSE_CONV2D:
    case AV_NN_OP_FULLY_CONNECTED:
        st = av_nn__xnn_conv_prepare(g, n, s, err, errlen);
        break;
    case AV_NN_OP_MAX_POOL2D:
    case AV_NN_OP_AVG_POOL2D:
    case AV_NN_OP_REDUCE:
    case AV_NN_OP_RESIZE:
        st = av_nn__xnn_pool_prepare(g, n, s, err, errlen);
        break;
    case AV_NN_OP_TRANSPOSE:
    case AV_NN_OP_SLICE:
    case AV_NN_OP_CONCAT:
    case AV_NN_OP_SPLIT:
        st = av_nn__xnn_data_prepare(g, n, s, err, errlen);
        break;
    case AV_NN_OP_QUANTIZE:
    case AV_NN_OP_DEQUANTIZE:
        st = av_nn__xnn_quant_prepare(g, n, s, err, errlen);
        break;
    case AV_NN_OP_TOPK:
        st = av_nn__xnn_topk_prepare(g, n, s, err, errlen);
        break;
    case AV_NN_OP_UNARY:
    case AV_NN_OP_BINARY:
    case AV_NN_OP_CAST:
        st = av_nn__xnn_elem_supports(g, n) ? av_nn__xnn_elem_prepare(g, n, s, err, errlen)
                                            : av_nn__xnn_data_prepare(g, n, s, err, errlen);
        break;
    default:
        st = av_nn__xnn_elem_prepare(g, n, s, err, errlen);
        break;
    }
    if (st == AV_NN_OK && !s->kernel)
        st = copy_constants(g, n, s, err, errlen);
    if (st != AV_NN_OK) {
        xnn_release(s);
        return st;
    }
    *state = s;
    return AV_NN_OK;
}

static av_nn_status xnn_run(void *state, const av_nn__graph *g, const av_nn__node *n,
                            const void *const *in, void *const *out, pthreadpool_t pool,
                            char *err, size_t errlen)
{
    (void)g;
    av_nn__xnn_node *s = state;
    if (s && s->kernel) {
        s->kernel(g, n, in, out, pool);
        return AV_NN_OK;
    }
    if (!s || !s->op || !s->setup)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "node '%s' (%s): not prepared",
                           n->name ? n->name : "", av_nn__op_name(n->op));
    const void *io[2] = {s->kcopy[0] ? s->kcopy[0] : in[0],
                         s->kcopy[1] ? s->kcopy[1] : n->n_in > 1 ? in[1] : NULL};
    if (s->kcopy[0] || s->kcopy[1])
        in = io; /* the setup callbacks read in[0] and in[1] only */
    const void *in1 = io[1];
    enum xnn_status st;
    if (!s->bound || s->last_in[0] != in[0] || s->last_in[1] != in1 || s->last_out != out[0]) {
        s->bound = 0;
        st = s->setup(s, in, out, pool);
        if (st != xnn_status_success)
            return av_nn__xnn_fail(err, errlen, n, s->what, st);
        if (s->post) {
            st = s->post_setup(s->post, s->post_n, out[0], out[0], pool);
            if (st != xnn_status_success)
                return av_nn__xnn_fail(err, errlen, n, "fused activation setup", st);
        }
        s->last_in[0] = in[0], s->last_in[1] = in1, s->last_out = out[0];
        s->bound = 1;
    }
    st = xnn_run_operator(s->op, pool);
    if (st != xnn_status_success)
        return av_nn__xnn_fail(err, errlen, n, s->what, st);
    if (s->post) {
        st = xnn_run_operator(s->post, pool);
        if (st != xnn_status_success)
            return av_nn__xnn_fail(err, errlen, n, "fused activation", st);
    }
    if (s->post_silu)
        av_nn__xnn_silu(out[0], out[0], s->post_n, pool);
    return AV_NN_OK;
}

const av_nn__backend av_nn__backend_xnn = {
    .name = "xnnpack",
    .supports_op = xnn_supports_op,
    .prepare = xnn_prepare,
    .run = xnn_run,
    .release = xnn_release,
};
