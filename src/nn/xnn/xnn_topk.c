/*
 * xnn_topk.c - top-k of float rows split across the context's pthreadpool
 * (CenterNet picks its peaks with one top-k over the whole heatmap, about
 * 1.3 M values). Each task keeps the best k of its chunk of the row in a
 * heap; since (value, index) with ties by lower index and NaN as in the
 * reference is a total order, the row's best k are among the chunks' best k,
 * so sorting the union gives exactly the reference's answer.
 *
 * Most values lose to the heap's root once it is full: a block of 16 is
 * tested against it with vector compares and skipped whole; a block with
 * a candidate (or a NaN) goes one value at a time. A value equal to the
 * root loses too (everything kept has a lower index): the zero plateaus of a
 * peak-masked heatmap are skipped at the same speed.
 */
#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <stdlib.h>
#include <string.h>

/* Bounds of the fast path: the candidates live on the caller's stack (the
 * kernel has no error path to report a failed allocation). */
#define TOPK_MAX_K AV_NN__TOPK_MAX_K
#define TOPK_TASKS AV_NN__TOPK_TASKS
#define TOPK_MIN_CHUNK 65536 /* values per task at least */
#define TOPK_BLOCK 16

typedef av_nn__topk_cand cand;

typedef struct topk_job {
    const float *x;
    int64_t A, k, chunk;
    bool largest;
    cand (*heaps)[TOPK_MAX_K];
    int64_t *counts;
} topk_job;

/* a before b in the output: the reference's kv_desc / kv_asc on floats */
static bool before(cand a, cand b, bool largest)
{
    bool an = a.v != a.v, bn = b.v != b.v;
    if (an != bn)
        return largest ? an : bn;
    if (!an && a.v != b.v)
        return largest ? a.v > b.v : a.v < b.v;
    return a.i < b.i;
}

static int cmp_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return before(*x, *y, true) ? -1 : before(*y, *x, true);
}

static int cmp_asc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return before(*x, *y, false) ? -1 : before(*y, *x, false);
}

/* The root h[0] is the worst kept: every parent comes after its children. */
static void sift_down(cand *h, int64_t n, bool largest)
{
    int64_t i = 0;
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && before(h[w], h[l], largest))
            w = l;
        if (r < n && before(h[w], h[r], largest))
            w = r;
        if (w == i)
            return;
        cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

void av_nn__topk_offer(cand *h, int64_t *nh, int64_t k, cand e, bool largest)
{
    if (*nh < k) {
        int64_t c = (*nh)++;
        h[c] = e;
        while (c > 0 && before(h[(c - 1) / 2], h[c], largest)) {
            cand t = h[c];
            h[c] = h[(c - 1) / 2];
            h[(c - 1) / 2] = t;
            c = (c - 1) / 2;
        }
    } else if (before(e, h[0], largest)) {
        h[0] = e;
        sift_down(h, *nh, largest);
    }
}

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

/* True when every one of the TOPK_BLOCK values at p loses to the root value r
 * of a full heap: no better and not NaN (r NaN: nothing is skipped). */
static bool block_loses(const float *p, float r, bool largest)
{
    v4f rv = {r, r, r, r};
    v4i all = {-1, -1, -1, -1};
    for (int q = 0; q < TOPK_BLOCK; q += 4) {
        v4f v;
        memcpy(&v, p + q, sizeof v);
        all &= largest ? (v4i)(v <= rv) : (v4i)(v >= rv);
    }
    return (all[0] & all[1] & all[2] & all[3]) != 0;
}

static void topk_chunk(void *ctx, size_t t)
{
    const topk_job *j = ctx;
    int64_t lo = (int64_t)t * j->chunk, hi = lo + j->chunk < j->A ? lo + j->chunk : j->A;
    cand *h = j->heaps[t];
    int64_t nh = 0, i = lo;
    while (i < hi) {
        if (nh == j->k && i + TOPK_BLOCK <= hi && block_loses(j->x + i, h[0].v, j->largest)) {
            i += TOPK_BLOCK;
            continue;
        }
        int64_t end = nh == j->k && i + TOPK_BLOCK <= hi ? i + TOPK_BLOCK : i + 1;
        for (; i < end; i++) {
            float v = j->x[i], r = h[0].v;
            if (nh == j->k && (j->largest ? v <= r : v >= r)) /* loses to the root */
                continue;
            av_nn__topk_offer(h, &nh, j->k, (cand){v, i}, j->largest);
        }
    }
    j->counts[t] = nh;
}

size_t av_nn__topk_merge(cand (*heaps)[TOPK_MAX_K], const int64_t *counts, int64_t tasks,
                        bool largest)
{
    cand *all = heaps[0];
    size_t na = 0;
    for (int64_t t = 0; t < tasks; t++) {
        memmove(all + na, heaps[t], (size_t)counts[t] * sizeof *all); /* packed in place */
        na += (size_t)counts[t];
    }
    qsort(all, na, sizeof *all, largest ? cmp_desc : cmp_asc);
    return na;
}

static void k_topk(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                   void *const *out, pthreadpool_t pool)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]], *yi = &g->tensors[n->out[1]];
    const av_nn__topk_params *p = &n->p.topk;
    int64_t A = x->dims[p->axis], k = p->k, rows = A > 0 ? av_nn__numel(x) / A : 0;
    int64_t tasks = (A + TOPK_MIN_CHUNK - 1) / TOPK_MIN_CHUNK;
    if (tasks > TOPK_TASKS)
        tasks = TOPK_TASKS;
    if (tasks < 1)
        tasks = 1;
    cand heaps[TOPK_TASKS][TOPK_MAX_K], *all = heaps[0]; /* 32 KiB */
    int64_t counts[TOPK_TASKS];
    for (int64_t o = 0; o < rows && k > 0; o++) {
        topk_job j = {(const float *)in[0] + o * A, A, k, (A + tasks - 1) / tasks, p->largest,
                      heaps, counts};
        pthreadpool_parallelize_1d(pool, topk_chunk, &j, (size_t)tasks, 0);
        av_nn__topk_merge(heaps, counts, tasks, p->largest);
        float *yv = (float *)out[0] + o * k;
        for (int64_t q = 0; q < k; q++) {
            memcpy(yv + q, j.x + all[q].i, sizeof *yv); /* the input's bits, -0 and NaN kept */
            av_nn__store_int(out[1], yi->dtype, o * k + q, all[q].i);
        }
    }
}

bool av_nn__xnn_topk_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0),
                        *yi = av_nn__xnn_out(g, n, 1);
    if (n->op != AV_NN_OP_TOPK || n->p.topk.peak || !x || !y || !yi || x->dtype != AV_NN_F32 ||
        y->dtype != AV_NN_F32 || av_nn__is_quant(x) || av_nn__is_quant(y) ||
        (yi->dtype != AV_NN_I32 && yi->dtype != AV_NN_I64) || x->rank < 1 ||
        av_nn__numel(x) < 0 || n->p.topk.k < 0 || n->p.topk.k > TOPK_MAX_K)
        return false;
    /* contiguous rows: only unit axes after the top-k axis */
    for (int d = n->p.topk.axis + 1; d < x->rank; d++)
        if (x->dims[d] != 1)
            return false;
    return n->p.topk.axis >= 0 && n->p.topk.axis < x->rank;
}

av_nn_status av_nn__xnn_topk_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen)
{
    (void)g, (void)n, (void)err, (void)errlen;
    s->what = "top-k";
    s->kernel = k_topk;
    return AV_NN_OK;
}
