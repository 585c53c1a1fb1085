/*
 * xnn_data.c - ops of the XNNPACK backend that XNNPACK (Debian's 2022
 * snapshot) lacks, as our own kernels split across the context's
 * pthreadpool: transpose and slice (strided, negative steps included) as
 * one strided-copy kernel, which concat and split (xnn_concat.c) run too;
 * hard-swish with a scale other than 1/6 (TF.js models store 1/6 as
 * float16); float equality and the mask-to-float cast of CenterNet's peak
 * finding.
 *
 * Every copy becomes "copy a box of dims d from x (strides sx) to y
 * (strides sy)", run by xnn_copy.c with unit axes dropped and axes that stay
 * adjacent on both sides merged, so rows are as long as the layouts allow.
 */
#include "nn/core.h"
#include "nn/xnn/xnn_copy.h"
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void k_transpose(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                        void *const *out, pthreadpool_t pool)
{
    if (av_nn__xnn_s2d(g, n, in[0], out[0], pool)) /* the fused focus stem (xnn_s2d.c) */
        return;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    av_nn__xnn_box b = {.r = y->rank, .es = av_nn_dtype_size(x->dtype), .x = in[0], .y = out[0]};
    int64_t xs[AV_NN_MAX_RANK];
    av_nn__strides(x->rank, x->dims, xs);
    av_nn__strides(y->rank, y->dims, b.sy);
    for (int k = 0; k < y->rank; k++) {
        b.d[k] = y->dims[k];
        b.sx[k] = xs[n->p.transpose.perm[k]];
    }
    av_nn__xnn_run_box(&b, pool);
}

static void k_slice(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                    void *const *out, pthreadpool_t pool)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]];
    const av_nn__slice_params *p = &n->p.slice;
    av_nn__xnn_box b = {.r = x->rank, .es = av_nn_dtype_size(x->dtype), .y = out[0]};
    int64_t xs[AV_NN_MAX_RANK], base = 0;
    av_nn__strides(x->rank, x->dims, xs);
    for (int a = 0; a < x->rank; a++) {
        b.d[a] = av_nn__slice_count(p->begin[a], p->end[a], p->step[a]);
        b.sx[a] = p->step[a] * xs[a];
        base += p->begin[a] * xs[a];
    }
    av_nn__strides(x->rank, b.d, b.sy);
    b.x = (const char *)in[0] + base * (int64_t)b.es;
    av_nn__xnn_run_box(&b, pool);
}

/* ---- hard-swish with TF.js's float16 1/6: (x * c) * relu6(x + 3) ---- */

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

typedef struct hswish {
    const float *x;
    float *y;
    size_t n;
    float c;
} hswish;

#define HSWISH_CHUNK 4096 /* elements per pool task */

/* The float operations of TF.js's mul, add + relu6, mul, in that order. */
static void hswish_chunk(void *ctx, size_t start, size_t count)
{
    const hswish *h = ctx;
    size_t i = start * HSWISH_CHUNK, end = (start + count) * HSWISH_CHUNK;
    if (end > h->n)
        end = h->n;
    const v4f three = {3, 3, 3, 3}, six = {6, 6, 6, 6}, zero = {0, 0, 0, 0};
    const v4f c = {h->c, h->c, h->c, h->c};
    for (; i + 4 <= end; i += 4) {
        v4f x, r;
        memcpy(&x, h->x + i, sizeof x);
        r = x + three;
        r = (v4f)((v4i)r & (r > zero));         /* max(r, 0) */
        v4i big = r > six;
        r = (v4f)(((v4i)r & ~big) | ((v4i)six & big)); /* min(r, 6) */
        r = (x * c) * r;
        memcpy(h->y + i, &r, sizeof r);
    }
    for (; i < end; i++) {
        float x = h->x[i], r = x + 3.0f;
        r = r > 0.0f ? r : 0.0f;
        r = r > 6.0f ? 6.0f : r;
        h->y[i] = (x * h->c) * r;
    }
}

static void k_hardswish(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                        void *const *out, pthreadpool_t pool)
{
    hswish h = {.x = in[0], .y = out[0], .c = n->p.unary.alpha};
    h.n = (size_t)av_nn__numel(&g->tensors[n->in[0]]);
    pthreadpool_parallelize_1d_tile_1d(pool, hswish_chunk, &h,
                                       (h.n + HSWISH_CHUNK - 1) / HSWISH_CHUNK, 1, 0);
}

/* ---- mask ops of CenterNet's peak finding: equal(a, b) -> bool, bool/u8 -> f32 ---- */

typedef struct elem2 {
    const void *a, *b;
    void *y;
    size_t n;
} elem2;

#define ELEM_CHUNK 16384 /* elements per pool task */

static void equal_chunk(void *ctx, size_t start, size_t count)
{
    const elem2 *e = ctx;
    const float *a = e->a, *b = e->b;
    uint8_t *y = e->y;
    size_t i = start * ELEM_CHUNK, end = (start + count) * ELEM_CHUNK;
    for (end = end < e->n ? end : e->n; i < end; i++)
        y[i] = a[i] == b[i];
}

static void mask_to_f32_chunk(void *ctx, size_t start, size_t count)
{
    const elem2 *e = ctx;
    const uint8_t *a = e->a;
    float *y = e->y;
    size_t i = start * ELEM_CHUNK, end = (start + count) * ELEM_CHUNK;
    for (end = end < e->n ? end : e->n; i < end; i++)
        y[i] = (float)a[i];
}

static void k_elem2(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                    void *const *out, pthreadpool_t pool)
{
    elem2 e = {.a = in[0], .b = n->n_in > 1 ? in[1] : NULL, .y = out[0]};
    e.n = (size_t)av_nn__numel(&g->tensors[n->out[0]]);
    pthreadpool_parallelize_1d_tile_1d(pool, n->op == AV_NN_OP_CAST ? mask_to_f32_chunk
                                                                    : equal_chunk,
                                       &e, (e.n + ELEM_CHUNK - 1) / ELEM_CHUNK, 1, 0);
}

static bool same_shape(const av_nn__tensor *a, const av_nn__tensor *b)
{
    return a->rank == b->rank && memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) == 0;
}

static bool plain_elem(const av_nn__tensor *t)
{
    size_t es = av_nn_dtype_size(t->dtype);
    return es >= 1 && es <= 8 && av_nn__numel(t) >= 0 && t->rank >= 0;
}

bool av_nn__xnn_data_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    if (!x || !y || !plain_elem(x) || !plain_elem(y))
        return false;
    if (x->dtype != y->dtype && n->op != AV_NN_OP_CAST && n->op != AV_NN_OP_BINARY)
        return false;
    switch (n->op) {
    case AV_NN_OP_BINARY: { /* float equality without broadcasting (NaN != NaN as in C) */
        const av_nn__tensor *b = av_nn__xnn_in(g, n, 1);
        return n->p.binary.kind == AV_NN_BIN_EQUAL && x->dtype == AV_NN_F32 && b &&
               b->dtype == AV_NN_F32 && same_shape(x, b) && same_shape(x, y);
    }
    case AV_NN_OP_CAST: /* masks to float (quantisation is not applied by cast) */
        return (x->dtype == AV_NN_BOOL || x->dtype == AV_NN_U8) && y->dtype == AV_NN_F32;
    case AV_NN_OP_UNARY:
        return n->p.unary.kind == AV_NN_UN_HARDSWISH && x->dtype == AV_NN_F32 &&
               !av_nn__is_quant(y);
    case AV_NN_OP_TRANSPOSE:
        return n->p.transpose.rank == x->rank;
    case AV_NN_OP_SLICE:
        return n->p.slice.resolved;
    case AV_NN_OP_SPLIT:
        return n->p.split.resolved;
    case AV_NN_OP_CONCAT:
        return av_nn__xnn_concat_supports(g, n, y);
    default:
        return false;
    }
}

av_nn_status av_nn__xnn_data_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen)
{
    (void)g, (void)err, (void)errlen;
    s->what = "strided copy";
    s->kernel = n->op == AV_NN_OP_BINARY || n->op == AV_NN_OP_CAST ? k_elem2
                : n->op == AV_NN_OP_UNARY       ? k_hardswish
                : n->op == AV_NN_OP_TRANSPOSE ? k_transpose
                : n->op == AV_NN_OP_SLICE   ? k_slice
                                            : av_nn__xnn_concat_split;
    return AV_NN_OK;
}
