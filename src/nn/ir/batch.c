/*
 * batch.c - a model's graph re-inferred for another batch size, for run
 * contexts made with av_nn_ctx_opts.batch (runtime.c).
 *
 * The copy owns only its tensor and node arrays; names, constant data,
 * quantisation tables, inputs, outputs and the execution order are the
 * model's (read-only). The model's batch B is dim 0 of its inputs (all must
 * agree). Batch N is accepted only when every activation keeps the batch in
 * dim 0: after re-inference each non-constant tensor has dim 0 = N where the
 * model had B there, and all its other dims unchanged. Shape checks alone
 * cannot see an op that mixes samples when N happens to equal another dim,
 * so each op is also checked to work sample by sample: nothing reduces,
 * concatenates, splits, slices, pads, tiles, gathers, sorts or transposes
 * along dim 0, and matmul never contracts over an activation's dim 0. Any
 * other graph is refused with the node named.
 *
 * Reshape targets are literal dims after load; a target whose dim 0 equals
 * B follows the new batch. With the reshape's input and output both
 * carrying the batch in dim 0 (checked), a row-major reshape of N samples
 * is N reshapes of one, so that rule is exact; a target with another dim 0
 * moves the batch and is refused.
 */
#include "nn/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_act(const av_nn__graph *g, const av_nn__node *n, int i)
{
    return i < n->n_in && n->in[i] >= 0 && !g->tensors[n->in[i]].data;
}

static const av_nn__tensor *input(const av_nn__graph *g, const av_nn__node *n, int i)
{
    return i < n->n_in && n->in[i] >= 0 ? &g->tensors[n->in[i]] : NULL;
}

int64_t av_nn__graph_batch(const av_nn__graph *g)
{
    int64_t b = -1;
    for (int i = 0; i < g->n_inputs; i++) {
        const av_nn__tensor *t = &g->tensors[g->inputs[i]];
        if (t->rank < 1 || t->dims[0] < 1 || (b >= 0 && t->dims[0] != b))
            return -1;
        b = t->dims[0];
    }
    return b;
}

/* Broadcasting ops: an activation operand has the output's rank (its dim 0
 * is the batch); a constant either stops short of dim 0 or broadcasts there. */
static const char *check_broadcast(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *y = &g->tensors[n->out[0]];
    for (int i = 0; i < n->n_in; i++) {
        const av_nn__tensor *t = input(g, n, i);
        if (!t)
            continue;
        if (!t->data && t->rank != y->rank)
            return "an activation operand of lower rank broadcasts its dim 0 over a non-batch "
                   "axis";
        if (t->data && t->rank == y->rank && t->dims[0] != 1)
            return "a constant operand has per-sample values along the batch axis";
    }
    return NULL;
}

/*
 * Why node n (of the model's graph g, batch B) cannot run sample by sample,
 * or NULL when it can. Parameters are the resolved ones of the model graph.
 */
static const char *not_separable(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = input(g, n, 0);
    switch (n->op) {
    case AV_NN_OP_CONV2D:
    case AV_NN_OP_DEPTHWISE_CONV2D:
    case AV_NN_OP_TRANSPOSE_CONV2D:
    case AV_NN_OP_FULLY_CONNECTED:
        for (int i = 1; i < n->n_in; i++) {
            if (i == 3 && n->op == AV_NN_OP_CONV2D && is_act(g, n, i) &&
                av_nn__conv_residual(g, n) >= 0) {
                /* a fused residual (pass_fuse.c) is added sample by sample: it has the
                 * output's shape, batch in dim 0 */
                const av_nn__tensor *r = input(g, n, i), *y = &g->tensors[n->out[0]];
                if (r->rank != y->rank)
                    return "a residual input of another rank than the output";
                continue;
            }
            if (i == 6 && is_act(g, n, i) && av_nn__dwpw_scale(n) >= 0) {
                /* a fused squeeze-excite scale (pass_fuse.c): [1 or batch, 1, 1, C],
                 * applied image by image */
                if (input(g, n, i)->rank != 4)
                    return "a scale input of another rank than 4";
                continue;
            }
            if (is_act(g, n, i))
                return "weights, bias or output shape computed at run time";
        }
        if (n->op == AV_NN_OP_TRANSPOSE_CONV2D && input(g, n, 3) &&
            av_nn__numel(input(g, n, 3)) == 4)
            return "a constant NHWC output shape fixes the batch";
        return is_act(g, n, 0) ? NULL : "constant input";
    case AV_NN_OP_MATMUL: {
        const av_nn__tensor *b = input(g, n, 1);
        bool aa = is_act(g, n, 0), ab = is_act(g, n, 1);
        if (!b)
            return "missing operand";
        if (aa && !ab && x->rank == 2 && b->rank <= 2)
            return NULL; /* rows of a are the samples */
        if (aa && !ab && x->rank >= 3 && (b->rank < x->rank || b->dims[0] == 1))
            return NULL; /* dim 0 is a matmul batch dim that b broadcasts */
        if (ab && !aa && b->rank >= 3 && (x->rank < b->rank || x->dims[0] == 1))
            return NULL;
        if (aa && ab && x->rank >= 3 && x->rank == b->rank)
            return NULL;
        return "contracts or broadcasts over the batch axis";
    }
    case AV_NN_OP_MAX_POOL2D:
    case AV_NN_OP_AVG_POOL2D:
    case AV_NN_OP_RESIZE:
    case AV_NN_OP_UNARY:
    case AV_NN_OP_CLAMP:
    case AV_NN_OP_LEAKY_RELU:
    case AV_NN_OP_CAST:
    case AV_NN_OP_QUANTIZE:
    case AV_NN_OP_DEQUANTIZE:
    case AV_NN_OP_IDENTITY:
        return NULL;
    case AV_NN_OP_BATCH_NORM:
        for (int i = 1; i < n->n_in; i++)
            if (is_act(g, n, i))
                return "statistics computed at run time";
        return NULL;
    case AV_NN_OP_BINARY:
    case AV_NN_OP_WHERE:
    case AV_NN_OP_PRELU:
        return check_broadcast(g, n);
    case AV_NN_OP_REDUCE:
        return (n->p.reduce.axes_mask & 1u) ? "reduces over the batch axis" : NULL;
    case AV_NN_OP_SOFTMAX:
        return n->p.softmax.axis == 0 ? "normalises along the batch axis" : NULL;
    case AV_NN_OP_PAD:
        return n->p.pad.before[0] || n->p.pad.after[0] ? "pads the batch axis" : NULL;
    case AV_NN_OP_CONCAT:
        if (n->p.axis.axis == 0)
            return "concatenates along the batch axis";
        for (int i = 0; i < n->n_in; i++)
            if (!is_act(g, n, i))
                return "concatenates a constant, which has no batch";
        return NULL;
    case AV_NN_OP_SPLIT:
        return n->p.split.axis == 0 ? "splits the batch axis" : NULL;
    case AV_NN_OP_SLICE:
        if (x->rank < 1 || n->p.slice.begin[0] != 0 || n->p.slice.end[0] != x->dims[0] ||
            n->p.slice.step[0] != 1)
            return "slices the batch axis";
        return NULL;
    case AV_NN_OP_TRANSPOSE:
        return n->p.transpose.rank < 1 || n->p.transpose.perm[0] != 0 ? "moves the batch axis"
                                                                        : NULL;
    case AV_NN_OP_RESHAPE: {
        const av_nn__reshape_params *p = &n->p.reshape;
        if (!is_act(g, n, 0))
            return "constant input";
        if (p->rank < 1 || p->dims[0] != x->dims[0])
            return "its target does not keep the batch in dim 0";
        return NULL;
    }
    case AV_NN_OP_GATHER:
        if (is_act(g, n, 0))
            return n->p.axis.axis != 0 && !is_act(g, n, 1)
                       ? NULL
                       : "gathers along the batch axis or with run-time indices";
        return n->p.axis.axis == 0 ? NULL : "indices do not carry the batch";
    case AV_NN_OP_TOPK:
        return n->p.topk.axis == 0 ? "sorts along the batch axis" : NULL;
    case AV_NN_OP_ARGMAX:
        return n->p.argmax.axis == 0 ? "reduces over the batch axis" : NULL;
    case AV_NN_OP_TILE: {
        const av_nn__tensor *m = input(g, n, 1);
        if (!m || !m->data || av_nn__numel(m) < 1)
            return "multiples computed at run time";
        return av_nn__load_int(m->data, m->dtype, 0) == 1 ? NULL : "tiles the batch axis";
    }
    case AV_NN_OP_SPARSE_HEAD:
        return "gathers along the batch axis or with run-time indices";
    case AV_NN_OP_SPARSE_TO_DENSE:
    case AV_NN_OP_COUNT:
        break;
    }
    return "its output shape does not follow the batch";
}

/* t (batch-N copy) against o (the model's): batch in dim 0, all else equal. */
static bool keeps_batch(const av_nn__tensor *t, const av_nn__tensor *o, int64_t B, int64_t N)
{
    if (t->rank != o->rank || o->rank < 1 || o->dims[0] != B || t->dims[0] != N)
        return false;
    for (int i = 1; i < o->rank; i++)
        if (t->dims[i] != o->dims[i])
            return false;
    return true;
}

static void dims_str(const av_nn__tensor *t, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < t->rank && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ",%lld" : "%lld", (long long)t->dims[i]);
    if (k < len)
        snprintf(buf + k, len - k, "]");
}

void av_nn__graph_rebatch_free(av_nn__graph *bg)
{
    if (!bg)
        return;
    free(bg->tensors);
    free(bg->nodes);
    free(bg);
}

av_nn_status av_nn__graph_rebatch(const av_nn__graph *g, int64_t batch, av_nn__graph **out,
                                  char *err, size_t errlen)
{
    *out = NULL;
    int64_t B = av_nn__graph_batch(g);
    if (batch < 1 || batch > AV_NN_MAX_BATCH)
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "batch %lld outside 1..%d", (long long)batch,
                           AV_NN_MAX_BATCH);
    if (g->n_inputs < 1 || B < 1)
        return av_nn__fail(err, errlen, AV_NN_E_UNSUPPORTED,
                           "batch %lld: the model's inputs do not share a batch in dim 0",
                           (long long)batch);
    for (int i = 0; i < g->n_outputs; i++)
        if (g->tensors[g->outputs[i]].data)
            return av_nn__fail(err, errlen, AV_NN_E_UNSUPPORTED,
                               "batch %lld: output '%s' is a constant, which has no batch",
                               (long long)batch, g->tensors[g->outputs[i]].name);
    av_nn__graph *bg = calloc(1, sizeof *bg);
    if (!bg)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "batch graph");
    *bg = *g; /* inputs, outputs and order stay the model's */
    bg->tensors = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *bg->tensors);
    bg->nodes = malloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *bg->nodes);
    if (!bg->tensors || !bg->nodes) {
        av_nn__graph_rebatch_free(bg);
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "batch graph of %d tensors, %d nodes",
                           g->n_tensors, g->n_nodes);
    }
    memcpy(bg->tensors, g->tensors, (size_t)g->n_tensors * sizeof *bg->tensors);
    memcpy(bg->nodes, g->nodes, (size_t)g->n_nodes * sizeof *bg->nodes);
    bg->cap_tensors = g->n_tensors;
    bg->cap_nodes = g->n_nodes;
    for (int i = 0; i < g->n_inputs; i++) {
        av_nn__tensor *t = &bg->tensors[g->inputs[i]];
        t->dims[0] = batch;
        if (av_nn__numel(t) < 0) {
            av_nn__graph_rebatch_free(bg);
            return av_nn__fail(err, errlen, AV_NN_E_LIMIT,
                               "batch %lld: input '%s' exceeds %lld elements", (long long)batch,
                               t->name, (long long)AV_NN_MAX_ELEMENTS);
        }
    }
    av_nn_status st = AV_NN_OK;
    char e[384];
    for (int j = 0; j < g->n_order && !st; j++) {
        const av_nn__node *on = &g->nodes[g->order[j]];
        av_nn__node *n = &bg->nodes[g->order[j]];
        const char *why = not_separable(g, on);
        for (int i = 0; !why && i < on->n_in; i++)
            if (is_act(g, on, i) && !keeps_batch(&bg->tensors[on->in[i]],
                                                 &g->tensors[on->in[i]], B, batch))
                why = "an input does not carry the batch in dim 0";
        if (why) {
            st = av_nn__fail(err, errlen, AV_NN_E_UNSUPPORTED,
                             "batch %lld: node '%s' (%s) cannot run sample by sample: %s "
                             "(model batch %lld)",
                             (long long)batch, on->name, av_nn__op_name(on->op), why,
                             (long long)B);
            break;
        }
        if (n->op == AV_NN_OP_RESHAPE) {
            /* the target follows the batch; the literal dims replace a shape input */
            n->p.reshape.dims[0] = batch;
            if (n->n_in > 1)
                n->in[1] = -1;
        } else if (n->op == AV_NN_OP_SLICE && !n->p.slice.tf_semantics) {
            n->p.slice.end[0] = batch; /* checked above: the whole batch axis */
        }
        st = av_nn__infer_node(bg, n, e, sizeof e);
        if (st) {
            st = av_nn__fail(err, errlen, st, "batch %lld: %s", (long long)batch, e);
            break;
        }
        if (n->op == AV_NN_OP_SLICE &&
            (n->p.slice.begin[0] != 0 || n->p.slice.end[0] != batch || n->p.slice.step[0] != 1))
            st = av_nn__fail(err, errlen, AV_NN_E_UNSUPPORTED,
                             "batch %lld: node '%s' (slice) slices the batch axis",
                             (long long)batch, on->name);
        for (int k = 0; k < n->n_out && !st; k++) {
            const av_nn__tensor *o = &g->tensors[on->out[k]], *t = &bg->tensors[n->out[k]];
            if (!keeps_batch(t, o, B, batch)) {
                char s1[160], s2[160];
                dims_str(o, s1, sizeof s1);
                dims_str(t, s2, sizeof s2);
                st = av_nn__fail(err, errlen, AV_NN_E_UNSUPPORTED,
                                 "batch %lld: node '%s' (%s): output '%s' is %s at the model's "
                                 "batch %lld and %s at batch %lld; the batch must stay in dim 0",
                                 (long long)batch, on->name, av_nn__op_name(on->op), o->name, s1,
                                 (long long)B, s2, (long long)batch);
            }
        }
    }
    if (st) {
        av_nn__graph_rebatch_free(bg);
        return st;
    }
    *out = bg;
    return AV_NN_OK;
}
