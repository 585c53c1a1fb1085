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

/* ---- helpers shared by the families ---- */

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
        if (n->p.unary.as_act) /* a conv's sigmoid: its own arithmetic, not XNNPACK's */
            return av_nn__xnn_sigact_supports(g, n);
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
        return n->p.topk.peak ? av_nn__xnn_peaktopk_supports(g, n)
                              : av_nn__xnn_topk_supports(g, n);
    case AV_NN_OP_SPARSE_HEAD:
        return av_nn__xnn_sparse_supports(g, n);
    default:
        return false;
    }
}

bool av_nn__xnn_gemm_takes(const av_nn__graph *g, const av_nn__node *n)
{
    /* the order of av_nn__xnn_conv_prepare's choice (the RGB stem, xnn_stem.c,
     * packs as our GEMM does, in the same shared buffer: released weights work too) */
    return xnn_supports_op(g, n) && av_nn__xnn_gemm_supports(g, n) &&
           !av_nn__xnn_wino_supports(g, n);
}

bool av_nn__xnn_wino_takes(const av_nn__graph *g, const av_nn__node *n)
{
    return xnn_supports_op(g, n) && av_nn__xnn_wino_supports(g, n);
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
    av_nn__xnn_gemm_free(s->gemm);
    av_nn__xnn_wino_free(s->wino);
    av_nn__xnn_qgemm_free(s->qgemm);
    av_nn__xnn_qdw_free(s->qdw);
    av_nn__xnn_qsgemm_free(s->qsgemm);
    av_nn__xnn_dw_free(s->dw);
    free(s->post_lut);
    av_nn__xnn_dwpw_free(s->dwpw);
    av_nn__xnn_pwdw_free(s->pwdw);
    av_nn__xnn_stem_free(s->stem);
    av_nn__xnn_sparse_free(s->sparse);
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
        if (n->p.topk.peak) {
            av_nn__xnn_peaktopk_prepare(n, s);
            st = AV_NN_OK;
        } else {
            st = av_nn__xnn_topk_prepare(g, n, s, err, errlen);
        }
        break;
    case AV_NN_OP_SPARSE_HEAD:
        st = av_nn__xnn_sparse_prepare(g, n, s, err, errlen);
        break;
    case AV_NN_OP_UNARY:
        if (n->p.unary.as_act) {
            av_nn__xnn_sigact_prepare(s);
            st = AV_NN_OK;
            break;
        }
        /* fall through */
    case AV_NN_OP_BINARY:
    case AV_NN_OP_CAST:
        st = av_nn__xnn_elem_supports(g, n) ? av_nn__xnn_elem_prepare(g, n, s, err, errlen)
                                            : av_nn__xnn_data_prepare(g, n, s, err, errlen);
        break;
    default:
        st = av_nn__xnn_elem_prepare(g, n, s, err, errlen);
        break;
    }
    if (st == AV_NN_OK && !s->kernel && !s->gemm && !s->wino && !s->qgemm && !s->qdw && !s->dw &&
        !s->qsgemm && !s->dwpw && !s->pwdw && !s->stem && !s->sparse)
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
    if (s && s->wino) {
        if (!av_nn__xnn_wino_run(s->wino, in[0], out[0], pool))
            return av_nn__fail(err, errlen, AV_NN_E_NOMEM,
                               "node '%s' (%s): out of memory for Winograd scratch",
                               n->name ? n->name : "", av_nn__op_name(n->op));
        return AV_NN_OK;
    }
    if (s && s->dwpw) {
        if (!av_nn__xnn_dwpw_run(s->dwpw, in[0], in[3], n->n_in > 6 ? in[6] : NULL, out[0],
                                 pool))
            return av_nn__fail(err, errlen, AV_NN_E_NOMEM,
                               "node '%s' (%s): out of memory for the depthwise bands",
                               n->name ? n->name : "", av_nn__op_name(n->op));
        return AV_NN_OK;
    }
    if (s && s->pwdw) {
        if (!av_nn__xnn_pwdw_run(s->pwdw, in[0], out[0], pool))
            return av_nn__fail(err, errlen, AV_NN_E_NOMEM,
                               "node '%s' (%s): out of memory for the 1x1 conv's window",
                               n->name ? n->name : "", av_nn__op_name(n->op));
        return AV_NN_OK;
    }
    if (s && s->sparse)
        return av_nn__xnn_sparse_run(s->sparse, n, in[0], in[3], g->tensors[n->in[3]].dtype,
                                     n->n_in > 6 ? in[6] : NULL, out[0], err, errlen);
    if (s && s->stem) {
        av_nn__xnn_stem_run(s->stem, in[0], out[0], pool);
        return AV_NN_OK;
    }
    if (s && s->gemm) {
        av_nn__xnn_gemm_run_res(s->gemm, in[0], n->n_in > 3 ? in[3] : NULL, out[0], pool);
        return AV_NN_OK;
    }
    if (s && s->qsgemm) {
        av_nn__xnn_qsgemm_run(s->qsgemm, in[0], out[0], pool);
        return AV_NN_OK;
    }
    if (s && s->qgemm) {
        av_nn__xnn_qgemm_run(s->qgemm, in[0], out[0], pool);
        return AV_NN_OK;
    }
    if (s && s->qdw) {
        av_nn__xnn_qdw_run(s->qdw, in[0], out[0], pool);
        return AV_NN_OK;
    }
    if (s && s->dw) {
        av_nn__xnn_dw_run(s->dw, in[0], out[0], pool);
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
    if (s->post_lut)
        av_nn__xnn_lut_s8(s->post_lut, out[0], s->post_n, pool);
    if (s->post_silu)
        av_nn__xnn_silu(out[0], out[0], s->post_n, pool);
    if (s->post_hswish)
        av_nn__xnn_hswish(out[0], s->post_n, s->post_alpha, pool);
    return AV_NN_OK;
}

const char *av_nn__xnn_kernel_name(const void *state)
{
    const av_nn__xnn_node *s = state;
    return s && s->what ? s->what : "xnnpack";
}

const av_nn__backend av_nn__backend_xnn = {
    .name = "xnnpack",
    .supports_op = xnn_supports_op,
    .prepare = xnn_prepare,
    .run = xnn_run,
    .release = xnn_release,
};
