/*
 * plan.c - activation arena planner.
 *
 * Each non-constant tensor touched by g->order lives from the step that
 * writes it (graph inputs: step -1, before the first node) to the last step
 * that reads it (graph outputs: past the last node, since run() copies them
 * out at the end). Tensors are placed largest first, each at the best-fitting
 * gap (smallest gap that holds it) among already placed tensors whose
 * lifetimes overlap, else on top. Offsets are 64-byte aligned and every
 * buffer gets AV_NN_ARENA_SLACK spare bytes for XNNPACK's over-reads.
 *
 * A reshape (or identity) of an activation only relabels its bytes: its
 * output shares its input's buffer (an alias group, one lifetime covering
 * all its members) and the copy kernel sees in == out and moves nothing.
 * Every tensor is written once per run by its producer, so the members
 * never overwrite one another.
 */
#include "nn/core.h"

#include <stdlib.h>
#include <string.h>

typedef struct buf {
    av_nn__tid t;
    int first, last;
    int64_t size, off;
} buf;

static int by_size_desc(const void *a, const void *b)
{
    const buf *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first; /* stable, deterministic */
}

/* The tensor whose buffer t shares (itself when none). */
static av_nn__tid root_of(const av_nn__tid *alias, av_nn__tid t)
{
    while (alias[t] >= 0)
        t = alias[t];
    return t;
}

/* Output of node n may alias its input: same bytes, the input an activation. */
static bool aliasable(const av_nn__graph *g, const av_nn__node *n)
{
    if ((n->op != AV_NN_OP_RESHAPE && n->op != AV_NN_OP_IDENTITY) || n->n_out != 1 ||
        n->n_in < 1 || n->in[0] < 0)
        return false;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    int64_t nb = av_nn__nbytes(x);
    return !x->data && !y->data && x->dtype == y->dtype && nb >= 0 && nb == av_nn__nbytes(y);
}

static int by_off(const void *a, const void *b)
{
    const buf *x = *(const buf *const *)a, *y = *(const buf *const *)b;
    return x->off < y->off ? -1 : x->off > y->off;
}

av_nn_status av_nn__plan(const av_nn__graph *g, int64_t *offsets, size_t *arena_bytes, char *err,
                         size_t errlen)
{
    int T = g->n_tensors;
    int *first = malloc((size_t)(T ? T : 1) * sizeof *first);
    int *last = malloc((size_t)(T ? T : 1) * sizeof *last);
    av_nn__tid *alias = malloc((size_t)(T ? T : 1) * sizeof *alias);
    buf *bufs = NULL;
    buf **placed = NULL;
    av_nn_status st = AV_NN_OK;
    if (!first || !last || !alias) {
        st = av_nn__fail(err, errlen, AV_NN_E_NOMEM, "arena plan for %d tensors", T);
        goto done;
    }
    for (int t = 0; t < T; t++) {
        first[t] = INT32_MAX;
        last[t] = -2;
        offsets[t] = -1;
        alias[t] = -1;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        av_nn__tid t = g->inputs[i];
        first[t] = -1;
        last[t] = last[t] > -1 ? last[t] : -1;
    }
    for (int j = 0; j < g->n_order; j++) {
        const av_nn__node *n = &g->nodes[g->order[j]];
        for (int k = 0; k < n->n_in; k++) {
            av_nn__tid t = n->in[k];
            if (t >= 0 && !g->tensors[t].data && last[t] < j)
                last[t] = j;
        }
        for (int k = 0; k < n->n_out; k++) {
            av_nn__tid t = n->out[k];
            if (first[t] > j)
                first[t] = j;
            if (last[t] < j)
                last[t] = j; /* written even if never read */
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        av_nn__tid t = g->outputs[i];
        if (!g->tensors[t].data && first[t] != INT32_MAX)
            last[t] = g->n_order;
    }
    /* alias groups, in execution order so chains of reshapes join one root; the
     * root's lifetime grows to cover its members' */
    for (int j = 0; j < g->n_order; j++) {
        const av_nn__node *n = &g->nodes[g->order[j]];
        av_nn__tid y = n->out[0];
        if (!aliasable(g, n) || alias[y] >= 0 || first[y] != j)
            continue;
        av_nn__tid r = root_of(alias, n->in[0]);
        if (r == y)
            continue;
        alias[y] = r;
        first[r] = first[y] < first[r] ? first[y] : first[r];
        last[r] = last[y] > last[r] ? last[y] : last[r];
    }
    int nb = 0;
    for (int t = 0; t < T; t++)
        if (first[t] != INT32_MAX && !g->tensors[t].data && alias[t] < 0)
            nb++;
    bufs = malloc((size_t)(nb ? nb : 1) * sizeof *bufs);
    placed = malloc((size_t)(nb ? nb : 1) * sizeof *placed);
    if (!bufs || !placed) {
        st = av_nn__fail(err, errlen, AV_NN_E_NOMEM, "arena plan for %d buffers", nb);
        goto done;
    }
    nb = 0;
    for (int t = 0; t < T; t++) {
        if (first[t] == INT32_MAX || g->tensors[t].data || alias[t] >= 0)
            continue;
        int64_t bytes = av_nn__nbytes(&g->tensors[t]);
        if (bytes < 0) {
            st = av_nn__fail(err, errlen, AV_NN_E_FORMAT, "tensor '%s' has no known size",
                             g->tensors[t].name);
            goto done;
        }
        int64_t size =
            (bytes + AV_NN_ARENA_SLACK + AV_NN_ARENA_ALIGN - 1) & ~(int64_t)(AV_NN_ARENA_ALIGN - 1);
        bufs[nb++] = (buf){.t = t, .first = first[t], .last = last[t], .size = size, .off = -1};
    }
    qsort(bufs, (size_t)nb, sizeof *bufs, by_size_desc);
    int64_t top = 0;
    for (int i = 0; i < nb; i++) {
        buf *b = &bufs[i];
        int np = 0;
        for (int j = 0; j < i; j++)
            if (bufs[j].first <= b->last && b->first <= bufs[j].last)
                placed[np++] = &bufs[j];
        qsort(placed, (size_t)np, sizeof *placed, by_off);
        int64_t best = -1, best_gap = INT64_MAX, cur = 0;
        for (int j = 0; j < np; j++) {
            int64_t gap = placed[j]->off - cur;
            if (gap >= b->size && gap < best_gap) {
                best = cur;
                best_gap = gap;
            }
            int64_t end = placed[j]->off + placed[j]->size;
            cur = end > cur ? end : cur;
        }
        b->off = best >= 0 ? best : cur;
        if (b->off + b->size > top)
            top = b->off + b->size;
        if (top > AV_NN_MAX_TOTAL_BYTES) {
            st = av_nn__fail(err, errlen, AV_NN_E_LIMIT, "activation arena exceeds %lld bytes",
                             (long long)AV_NN_MAX_TOTAL_BYTES);
            goto done;
        }
        offsets[b->t] = b->off;
    }
    for (int t = 0; t < T; t++)
        if (alias[t] >= 0)
            offsets[t] = offsets[root_of(alias, t)];
    *arena_bytes = (size_t)top;
done:
    free(first);
    free(last);
    free(alias);
    free(bufs);
    free(placed);
    return st;
}
