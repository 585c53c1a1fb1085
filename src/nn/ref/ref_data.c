/*
 * ref_data.c - reference kernels for data movement and index ops: pad,
 * concat, split, strided slice, transpose, reshape/identity copy, gather,
 * topk, argmax, tile, sparse_to_dense; plus reduce and resize.
 *
 * Most of these move raw element bytes, so they serve every dtype; the
 * quantisation rides along unchanged (concat requantises inputs whose
 * quantisation differs from the output's).
 */
#include "nn/ref/ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void resize_into(const av_nn__resize_params *p, const av_nn__tensor *x,
                        av_nn_dtype yt, int64_t OH, int64_t OW, double sh, double sw,
                        const void *xin, void *yout);

/* Increment a row-major multi-index; returns false after the last element. */
static bool next_index(int r, const int64_t *d, int64_t *idx)
{
    for (int i = r - 1; i >= 0; i--) {
        if (++idx[i] < d[i])
            return true;
        idx[i] = 0;
    }
    return false;
}

av_nn_status av_nn__ref_copy(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                             void *const *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    int64_t nb = av_nn__nbytes(&g->tensors[n->in[0]]);
    if (nb > 0 && out[0] != in[0])
        memmove(out[0], in[0], (size_t)nb);
    return AV_NN_OK;
}

/* Constant / reflect / edge padding of any dtype. */
av_nn_status av_nn__ref_pad(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                            void *const *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    const av_nn__pad_params *p = &n->p.pad;
    size_t es = av_nn_dtype_size(x->dtype);
    uint8_t fill[8] = {0};
    const av_nn__tensor *vt = n->n_in > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
    if (av_nn__is_quant(x) && vt && vt->dtype == x->dtype)
        memcpy(fill, in[2], es); /* a quantised pad value is already raw */
    else if (av_nn__is_quant(x))
        av_nn__store_int(
            fill, x->dtype, 0,
            av_nn__quantize_val(p->value, x->quant.scale, x->quant.zero_point, x->dtype));
    else
        av_nn__store_elem(fill, x->dtype, 0, p->value);
    int64_t xs[AV_NN_MAX_RANK], idx[AV_NN_MAX_RANK] = {0};
    av_nn__strides(x->rank, x->dims, xs);
    int64_t total = av_nn__numel(y);
    for (int64_t i = 0; i < total; i++, next_index(y->rank, y->dims, idx)) {
        int64_t off = 0;
        bool inside = true;
        for (int a = 0; a < x->rank; a++) {
            int64_t j = idx[a] - p->before[a], d = x->dims[a];
            if (j < 0 || j >= d) {
                if (p->mode == AV_NN_PADMODE_CONSTANT) {
                    inside = false;
                    break;
                }
                if (p->mode == AV_NN_PADMODE_EDGE) {
                    j = j < 0 ? 0 : d - 1;
                } else { /* reflect, pads < d checked at finalize */
                    j = j < 0 ? -j : 2 * (d - 1) - j;
                    j = d == 1 ? 0 : j;
                }
            }
            off += j * xs[a];
        }
        memcpy((uint8_t *)out[0] + i * (int64_t)es,
               inside ? (const uint8_t *)in[0] + off * (int64_t)es : fill, es);
    }
    return AV_NN_OK;
}

/* y = concat(x_i, axis): rows of [outer, dims[axis] * inner] copied in turn. */
av_nn_status av_nn__ref_concat(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                               void *const *out, char *err, size_t errlen)
{
    const av_nn__tensor *y = &g->tensors[n->out[0]];
    int axis = n->p.axis.axis;
    size_t es = av_nn_dtype_size(y->dtype);
    void *rin = NULL; /* a fused resize's output (pass_fuse.c), as the node ran */
    if (n->p.axis.resized) {
        int k = n->p.axis.resize_k;
        const av_nn__tensor *x = &g->tensors[n->in[k]];
        int64_t d[AV_NN_MAX_RANK];
        av_nn__concat_part_dims(g, n, k, d);
        int64_t ne = d[0] * d[1] * d[2] * d[3];
        if (!(rin = malloc((size_t)(ne > 0 ? ne : 1) * es)))
            return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "resized input");
        resize_into(&n->p.axis.resize, x, y->dtype, d[1], d[2],
                    (double)x->dims[1] / (double)d[1], (double)x->dims[2] / (double)d[2], in[k],
                    rin);
    }
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= y->dims[i];
    for (int i = axis + 1; i < y->rank; i++)
        inner *= y->dims[i];
    int64_t yrow = y->dims[axis] * inner, col = 0;
    for (int k = 0; k < n->n_in; k++) {
        const av_nn__tensor *x = &g->tensors[n->in[k]];
        int64_t xd[AV_NN_MAX_RANK];
        av_nn__concat_part_dims(g, n, k, xd);
        int64_t xrow = xd[axis] * inner;
        const void *xk = rin && k == n->p.axis.resize_k ? rin : in[k];
        bool requant = av_nn__is_quant(y) && (x->quant.scale != y->quant.scale ||
                                              x->quant.zero_point != y->quant.zero_point);
        for (int64_t o = 0; o < outer; o++) {
            if (!requant) {
                memcpy((uint8_t *)out[0] + (o * yrow + col) * (int64_t)es,
                       (const uint8_t *)xk + o * xrow * (int64_t)es, (size_t)xrow * es);
                continue;
            }
            for (int64_t j = 0; j < xrow; j++) {
                double v = av_nn__deq((int32_t)av_nn__load_int(xk, x->dtype, o * xrow + j), x);
                av_nn__store_int(
                    out[0], y->dtype, o * yrow + col + j,
                    av_nn__quantize_val(v, y->quant.scale, y->quant.zero_point, y->dtype));
            }
        }
        col += xrow;
    }
    /* a fused clamp (pass_fuse.c): f32 only */
    const av_nn__fused_act *act = &n->p.axis.act;
    if (act->kind != AV_NN_ACT_NONE && y->dtype == AV_NN_F32) {
        float *yf = out[0];
        for (int64_t i = 0, ny = av_nn__numel(y); i < ny; i++)
            yf[i] = av_nn__apply_act(yf[i], act);
    }
    free(rin);
    if (n->p.axis.mean && n->n_out == 2) { /* the fused reduce (pass_catmean.c), as it ran */
        av_nn__node r = {.op = AV_NN_OP_REDUCE, .name = n->name, .n_in = 1, .n_out = 1,
                         .in = {n->out[0]}, .out = {n->out[1]},
                         .p.reduce = {.kind = AV_NN_REDUCE_MEAN, .axes_mask = 6u,
                                      .keep_dims = true}};
        return av_nn__ref_reduce(g, &r, (const void *[]){out[0]}, (void *[]){out[1]}, err,
                                 errlen);
    }
    return AV_NN_OK;
}

av_nn_status av_nn__ref_split(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                              void *const *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    const av_nn__tensor *x = &g->tensors[n->in[0]];
    int axis = n->p.split.axis;
    size_t es = av_nn_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    int64_t xrow = x->dims[axis] * inner, col = 0;
    for (int k = 0; k < n->n_out; k++) {
        int64_t yrow = n->p.split.sizes[k] * inner;
        for (int64_t o = 0; o < outer; o++)
            memcpy((uint8_t *)out[k] + o * yrow * (int64_t)es,
                   (const uint8_t *)in[0] + (o * xrow + col) * (int64_t)es, (size_t)yrow * es);
        col += yrow;
    }
    return AV_NN_OK;
}

/* y[j...] = x[begin + j * step ...] per input axis (output rank may differ, numel not). */
av_nn_status av_nn__ref_slice(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                              void *const *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    const av_nn__tensor *x = &g->tensors[n->in[0]];
    const av_nn__slice_params *p = &n->p.slice;
    size_t es = av_nn_dtype_size(x->dtype);
    int64_t cnt[AV_NN_MAX_RANK], xs[AV_NN_MAX_RANK], idx[AV_NN_MAX_RANK] = {0}, total = 1;
    av_nn__strides(x->rank, x->dims, xs);
    for (int a = 0; a < x->rank; a++) {
        int64_t b = p->begin[a], e = p->end[a], s = p->step[a];
        cnt[a] = av_nn__slice_count(b, e, s);
        total *= cnt[a];
    }
    for (int64_t i = 0; i < total; i++, next_index(x->rank, cnt, idx)) {
        int64_t off = 0;
        for (int a = 0; a < x->rank; a++)
            off += (p->begin[a] + idx[a] * p->step[a]) * xs[a];
        memcpy((uint8_t *)out[0] + i * (int64_t)es, (const uint8_t *)in[0] + off * (int64_t)es, es);
    }
    return AV_NN_OK;
}

/* y[i0..] = x[i_perm...]: y.dims[k] = x.dims[perm[k]] */
/*
 * Transpose as a strided copy: output axes that stay adjacent in the input
 * are merged and unit axes dropped first (NCHW <-> NHWC becomes a 2-D
 * [HW, C] <-> [C, HW] swap), then each output row is gathered with one
 * input stride by a loop typed on the element size.
 */
av_nn_status av_nn__ref_transpose(const av_nn__graph *g, const av_nn__node *n,
                                  const void *const *in, void *const *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    size_t es = av_nn_dtype_size(x->dtype);
    int64_t xs[AV_NN_MAX_RANK], D[AV_NN_MAX_RANK], S[AV_NN_MAX_RANK], idx[AV_NN_MAX_RANK] = {0};
    av_nn__strides(x->rank, x->dims, xs);
    int r = 0;
    for (int k = 0; k < y->rank; k++) {
        int a = n->p.transpose.perm[k];
        if (x->dims[a] == 1)
            continue;
        if (r > 0 && S[r - 1] == xs[a] * x->dims[a]) {
            D[r - 1] *= x->dims[a]; /* adjacent in the input too: one axis */
            S[r - 1] = xs[a];
            continue;
        }
        D[r] = x->dims[a];
        S[r] = xs[a];
        r++;
    }
    int64_t total = av_nn__numel(y);
    if (total == 0)
        return AV_NN_OK;
    if (r == 0 || S[r - 1] == 1) {
        /* innermost run contiguous in the input: copy rows */
        int64_t row = r ? D[r - 1] : 1, rows = total / row;
        const uint8_t *src = in[0];
        uint8_t *dst = out[0];
        for (int64_t i = 0; i < rows; i++, next_index(r - 1, D, idx)) {
            int64_t off = 0;
            for (int k = 0; k < r - 1; k++)
                off += idx[k] * S[k];
            memcpy(dst + i * row * (int64_t)es, src + off * (int64_t)es, (size_t)(row * (int64_t)es));
        }
        return AV_NN_OK;
    }
    int64_t row = D[r - 1], step = S[r - 1], rows = total / row;
    for (int64_t i = 0; i < rows; i++, next_index(r - 1, D, idx)) {
        int64_t off = 0;
        for (int k = 0; k < r - 1; k++)
            off += idx[k] * S[k];
        switch (es) {
        case 4: {
            const uint32_t *s4 = (const uint32_t *)in[0] + off;
            uint32_t *d4 = (uint32_t *)out[0] + i * row;
            for (int64_t j = 0; j < row; j++)
                d4[j] = s4[j * step];
            break;
        }
        case 1: {
            const uint8_t *s1 = (const uint8_t *)in[0] + off;
            uint8_t *d1 = (uint8_t *)out[0] + i * row;
            for (int64_t j = 0; j < row; j++)
                d1[j] = s1[j * step];
            break;
        }
        default:
            for (int64_t j = 0; j < row; j++)
                memcpy((uint8_t *)out[0] + (i * row + j) * (int64_t)es,
                       (const uint8_t *)in[0] + (off + j * step) * (int64_t)es, es);
        }
    }
    return AV_NN_OK;
}

/* y[outer, idx..., inner] = x[outer, indices[idx...], inner]; negative indices wrap. */
av_nn_status av_nn__ref_gather(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                               void *const *out, char *err, size_t errlen)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]], *it = &g->tensors[n->in[1]];
    int axis = n->p.axis.axis;
    size_t es = av_nn_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1, A = x->dims[axis], ni = av_nn__numel(it);
    for (int i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    size_t row = (size_t)inner * es;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < ni; j++) {
            int64_t k = av_nn__load_int(in[1], it->dtype, j);
            if (k < 0)
                k += A;
            if (k < 0 || k >= A)
                return av_nn__node_fail(
                    err, errlen, AV_NN_E_ARG, n, "index %lld out of range [0, %lld)",
                    (long long)av_nn__load_int(in[1], it->dtype, j), (long long)A);
            memcpy((uint8_t *)out[0] + (o * ni + j) * (int64_t)row,
                   (const uint8_t *)in[0] + (o * A + k) * (int64_t)row, row);
        }
    return AV_NN_OK;
}

typedef struct kv {
    double v;
    int64_t i;
} kv;

/* Order for top-k: larger value first, lower index first among equals; NaN largest. */
static int kv_desc(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    bool xn = x->v != x->v, yn = y->v != y->v;
    if (xn != yn)
        return xn ? -1 : 1;
    if (!xn && x->v != y->v)
        return x->v > y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int kv_asc(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    bool xn = x->v != x->v, yn = y->v != y->v;
    if (xn != yn)
        return xn ? 1 : -1;
    if (!xn && x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Restore the heap property below slot i: the root is the worst of the kept k. */
static void sift_down(kv *h, int64_t n, int64_t i, int (*better)(const void *, const void *))
{
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && better(&h[w], &h[l]) < 0)
            w = l;
        if (r < n && better(&h[w], &h[r]) < 0)
            w = r;
        if (w == i)
            return;
        kv t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/*
 * values/indices of the k largest (or smallest) along axis, sorted; ties by
 * lower index. A heap of the best k seen so far keeps this O(A log k): the
 * detectors run top-k over whole heatmaps. x holds outer x A x inner
 * elements of dtype dt (es bytes each).
 */
static av_nn_status topk_rows(const av_nn__node *n, const void *x, av_nn_dtype dt, int64_t outer,
                              int64_t A, int64_t inner, av_nn_dtype idt, void *const *out,
                              char *err, size_t errlen)
{
    const av_nn__topk_params *p = &n->p.topk;
    size_t es = av_nn_dtype_size(dt);
    int64_t k = p->k;
    int (*order)(const void *, const void *) = p->largest ? kv_desc : kv_asc;
    kv *heap = malloc((size_t)(k ? k : 1) * sizeof *heap);
    if (!heap)
        return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "top-k buffer of %lld",
                                (long long)k);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in_ = 0; in_ < inner; in_++) {
            int64_t nh = 0;
            const float *row = dt == AV_NN_F32 && inner == 1 ? (const float *)x + o * A : NULL;
            for (int64_t j = 0; j < A && k > 0; j++) {
                /* full heap, float row: most values lose to the root without a comparator call
                 * (ties and NaN go the general way) */
                if (row && nh == k) {
                    float v = row[j], r = (float)heap[0].v;
                    if (p->largest ? v < r : v > r)
                        continue;
                }
                kv e = {av_nn__load_elem(x, dt, (o * A + j) * inner + in_), j};
                if (nh < k) { /* sift up: parents are worse than children */
                    int64_t c = nh++;
                    heap[c] = e;
                    while (c > 0 && order(&heap[(c - 1) / 2], &heap[c]) < 0) {
                        kv t = heap[c];
                        heap[c] = heap[(c - 1) / 2];
                        heap[(c - 1) / 2] = t;
                        c = (c - 1) / 2;
                    }
                } else if (order(&e, &heap[0]) < 0) {
                    heap[0] = e;
                    sift_down(heap, nh, 0, order);
                }
            }
            qsort(heap, (size_t)nh, sizeof *heap, order);
            for (int64_t j = 0; j < nh; j++) {
                int64_t yo = (o * k + j) * inner + in_;
                memcpy((uint8_t *)out[0] + yo * (int64_t)es,
                       (const uint8_t *)x + ((o * A + heap[j].i) * inner + in_) * (int64_t)es,
                       es);
                av_nn__store_int(out[1], idt, yo, heap[j].i);
            }
        }
    free(heap);
    return AV_NN_OK;
}

/* The top-k that took CenterNet's peak mask (pass_peaktopk.c): the mask of
 * x as the reference's MAX_POOL2D with p.pool.peak writes it, then its rows
 * [N, H*W*C] sorted: exactly the unfused reference. */
static av_nn_status peak_topk(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                              void *const *out, char *err, size_t errlen)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]];
    int64_t ne = av_nn__numel(x);
    if (x->rank != 4 || x->dtype != AV_NN_F32 || ne < 1)
        return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n,
                                "peak top-k needs an f32 [N, H, W, C] input");
    float *y = malloc((size_t)ne * sizeof *y);
    if (!y)
        return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "peak mask of %lld floats",
                                (long long)ne);
    /* the mask node, its output shaped (and typed) as x */
    av_nn__node pn = {.op = AV_NN_OP_MAX_POOL2D, .name = n->name, .n_in = 1, .n_out = 1,
                      .in = {n->in[0]}, .out = {n->in[0]}, .p.pool = n->p.topk.peak_pool};
    const void *xin[1] = {in[0]};
    float *sx = NULL;
    if (n->p.topk.sigmoid) { /* logits: the conv's act first, as it computed it */
        const av_nn__fused_act sig = {.kind = AV_NN_ACT_SIGMOID};
        const float *xl = in[0];
        if (!(sx = malloc((size_t)ne * sizeof *sx))) {
            free(y);
            return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "sigmoid of %lld floats",
                                    (long long)ne);
        }
        for (int64_t i = 0; i < ne; i++)
            sx[i] = av_nn__apply_act(xl[i], &sig);
        xin[0] = sx;
    }
    av_nn_status st = av_nn__ref_pool(g, &pn, xin, (void *const[]){y}, err, errlen);
    free(sx);
    if (!st)
        st = topk_rows(n, y, AV_NN_F32, x->dims[0], ne / x->dims[0], 1,
                       g->tensors[n->out[1]].dtype, out, err, errlen);
    free(y);
    return st;
}

av_nn_status av_nn__ref_topk(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                             void *const *out, char *err, size_t errlen)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]];
    const av_nn__topk_params *p = &n->p.topk;
    if (p->peak)
        return peak_topk(g, n, in, out, err, errlen);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < p->axis; i++)
        outer *= x->dims[i];
    for (int i = p->axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    return topk_rows(n, in[0], x->dtype, outer, x->dims[p->axis], inner,
                     g->tensors[n->out[1]].dtype, out, err, errlen);
}

av_nn_status av_nn__ref_argmax(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                               void *const *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    const av_nn__argmax_params *p = &n->p.argmax;
    int64_t outer = 1, inner = 1, A = x->dims[p->axis];
    for (int i = 0; i < p->axis; i++)
        outer *= x->dims[i];
    for (int i = p->axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            int64_t best = 0;
            double bv = av_nn__load_elem(in[0], x->dtype, o * A * inner + k);
            for (int64_t j = 1; j < A; j++) {
                double v = av_nn__load_elem(in[0], x->dtype, (o * A + j) * inner + k);
                bool better = p->is_min ? (p->select_last ? v <= bv : v < bv)
                                        : (p->select_last ? v >= bv : v > bv);
                if (better) {
                    bv = v;
                    best = j;
                }
            }
            av_nn__store_int(out[0], y->dtype, o * inner + k, best);
        }
    return AV_NN_OK;
}

/* y[i...] = x[i % dims ...] */
av_nn_status av_nn__ref_tile(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                             void *const *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    size_t es = av_nn_dtype_size(x->dtype);
    int64_t xs[AV_NN_MAX_RANK], idx[AV_NN_MAX_RANK] = {0}, total = av_nn__numel(y);
    av_nn__strides(x->rank, x->dims, xs);
    for (int64_t i = 0; i < total; i++, next_index(y->rank, y->dims, idx)) {
        int64_t off = 0;
        for (int a = 0; a < x->rank; a++)
            off += (idx[a] % x->dims[a]) * xs[a];
        memcpy((uint8_t *)out[0] + i * (int64_t)es, (const uint8_t *)in[0] + off * (int64_t)es, es);
    }
    return AV_NN_OK;
}

/* y = default everywhere, then y[indices[i]] = values[i] (or the scalar value). */
av_nn_status av_nn__ref_sparse_to_dense(const av_nn__graph *g, const av_nn__node *n,
                                        const void *const *in, void *const *out, char *err,
                                        size_t errlen)
{
    const av_nn__tensor *it = &g->tensors[n->in[0]], *vt = &g->tensors[n->in[2]];
    const av_nn__tensor *y = &g->tensors[n->out[0]];
    size_t es = av_nn_dtype_size(y->dtype);
    int64_t total = av_nn__numel(y), ys[AV_NN_MAX_RANK];
    av_nn__strides(y->rank, y->dims, ys);
    for (int64_t i = 0; i < total; i++)
        memcpy((uint8_t *)out[0] + i * (int64_t)es, in[3], es);
    int64_t nidx = it->rank == 0 ? 1 : it->dims[0], per = it->rank == 2 ? it->dims[1] : 1;
    bool scalar_v = av_nn__numel(vt) == 1;
    for (int64_t i = 0; i < nidx; i++) {
        int64_t off = 0;
        for (int a = 0; a < y->rank; a++) {
            int64_t k = av_nn__load_int(in[0], it->dtype, i * per + (it->rank == 2 ? a : 0));
            if (k < 0 || k >= y->dims[a])
                return av_nn__node_fail(err, errlen, AV_NN_E_ARG, n,
                                        "index %lld out of range on axis %d", (long long)k, a);
            off += k * ys[a];
        }
        memcpy((uint8_t *)out[0] + off * (int64_t)es,
               (const uint8_t *)in[2] + (scalar_v ? 0 : i) * (int64_t)es, es);
    }
    return AV_NN_OK;
}

/* Reduce over the axes of p.reduce.axes_mask; accumulation in double. */
av_nn_status av_nn__ref_reduce(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                               void *const *out, char *err, size_t errlen)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    const av_nn__reduce_params *p = &n->p.reduce;
    int64_t ny = av_nn__numel(y), nx = av_nn__numel(x), cnt = ny ? nx / (ny ? ny : 1) : 0;
    bool qx = av_nn__is_quant(x), qy = av_nn__is_quant(y);
    double *acc = malloc((size_t)(ny ? ny : 1) * sizeof *acc);
    if (!acc)
        return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "accumulator of %lld",
                                (long long)ny);
    double init = p->kind == AV_NN_REDUCE_MAX    ? -INFINITY
                  : p->kind == AV_NN_REDUCE_MIN  ? INFINITY
                  : p->kind == AV_NN_REDUCE_PROD ? 1
                                                 : 0;
    for (int64_t i = 0; i < ny; i++)
        acc[i] = init;
    /* output stride of each input axis (0 on reduced axes) */
    int64_t ys[AV_NN_MAX_RANK], kd[AV_NN_MAX_RANK], ks[AV_NN_MAX_RANK], idx[AV_NN_MAX_RANK] = {0};
    int kr = 0;
    for (int a = 0; a < x->rank; a++)
        if (!(p->axes_mask & (1u << a)))
            kd[kr++] = x->dims[a];
    av_nn__strides(kr, kd, ks);
    for (int a = 0, k = 0; a < x->rank; a++)
        ys[a] = (p->axes_mask & (1u << a)) ? 0 : ks[k++];
    for (int64_t i = 0; i < nx; i++, next_index(x->rank, x->dims, idx)) {
        int64_t o = 0;
        for (int a = 0; a < x->rank; a++)
            o += idx[a] * ys[a];
        double v = qx ? av_nn__deq((int32_t)av_nn__load_int(in[0], x->dtype, i), x)
                      : av_nn__load_elem(in[0], x->dtype, i);
        switch (p->kind) {
        case AV_NN_REDUCE_MEAN:
        case AV_NN_REDUCE_SUM:
            acc[o] += v;
            break;
        case AV_NN_REDUCE_MAX:
            acc[o] = v > acc[o] ? v : acc[o];
            break;
        case AV_NN_REDUCE_MIN:
            acc[o] = v < acc[o] ? v : acc[o];
            break;
        case AV_NN_REDUCE_PROD:
            acc[o] *= v;
            break;
        }
    }
    for (int64_t i = 0; i < ny; i++) {
        double v = acc[i];
        if (p->kind == AV_NN_REDUCE_MEAN)
            v = cnt ? v / (double)cnt : NAN;
        if (qy)
            av_nn__store_int(out[0], y->dtype, i,
                             av_nn__quantize_val(v, y->quant.scale, y->quant.zero_point, y->dtype));
        else if (y->dtype == AV_NN_I32 || y->dtype == AV_NN_I64)
            av_nn__store_int(out[0], y->dtype, i, (int64_t)v);
        else
            av_nn__store_elem(out[0], y->dtype, i, v);
    }
    free(acc);
    return AV_NN_OK;
}

/* Source coordinate of output coordinate dst under a coordinate mode. */
double av_nn__resize_src_coord(av_nn__coord_mode m, int64_t dst, int64_t in, int64_t out,
                               double scale)
{
    switch (m) {
    case AV_NN_COORD_ALIGN_CORNERS:
        return out > 1 ? (double)dst * (double)(in - 1) / (double)(out - 1) : 0;
    case AV_NN_COORD_HALF_PIXEL:
        return ((double)dst + 0.5) * scale - 0.5;
    case AV_NN_COORD_PYTORCH_HALF_PIXEL:
        return out > 1 ? ((double)dst + 0.5) * scale - 0.5 : 0;
    case AV_NN_COORD_TF_HALF_PIXEL_FOR_NN:
        return ((double)dst + 0.5) * scale;
    case AV_NN_COORD_ASYMMETRIC:
        break;
    }
    return (double)dst * scale;
}

static int64_t nearest_index(av_nn__nearest_mode m, double s, int64_t in)
{
    double r;
    switch (m) {
    case AV_NN_NEAREST_ROUND_PREFER_FLOOR:
        r = (s - floor(s) == 0.5) ? floor(s) : round(s);
        break;
    case AV_NN_NEAREST_ROUND_PREFER_CEIL:
        r = (s - floor(s) == 0.5) ? ceil(s) : round(s);
        break;
    case AV_NN_NEAREST_CEIL:
        r = ceil(s);
        break;
    default:
        r = floor(s);
        break;
    }
    return r < 0 ? 0 : r > (double)(in - 1) ? in - 1 : (int64_t)r;
}

/* Bilinear / nearest resize, NHWC, any numeric dtype (integers round half away). */
av_nn_status av_nn__ref_resize(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                               void *const *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    const av_nn__resize_params *p = &n->p.resize;
    int64_t H = x->dims[1], W = x->dims[2];
    int64_t OH = y->dims[1], OW = y->dims[2];
    double sh = (double)H / (double)OH, sw = (double)W / (double)OW;
    const av_nn__tensor *sc = n->n_in > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
    if (sc && !(n->n_in > 1 && n->in[1] >= 0)) { /* ONNX: the given scales, not the ratio */
        const float *s = in[2];
        int64_t k = av_nn__numel(sc) == 4 ? 1 : 0;
        sh = 1.0 / s[k];
        sw = 1.0 / s[k + 1];
    }
    resize_into(p, x, y->dtype, OH, OW, sh, sw, in[0], out[0]);
    return AV_NN_OK;
}

/* The resize of x (NHWC) to OH x OW, sampling at sh, sw input pixels per
 * output pixel, into y of dtype yt. */
static void resize_into(const av_nn__resize_params *p, const av_nn__tensor *x,
                        av_nn_dtype yt, int64_t OH, int64_t OW, double sh, double sw,
                        const void *xin, void *yout)
{
    int64_t N = x->dims[0], H = x->dims[1], W = x->dims[2], C = x->dims[3];
    const void *const in[1] = {xin};
    void *const out[1] = {yout};
    bool is_float = yt == AV_NN_F32 || yt == AV_NN_F16;
    for (int64_t b = 0; b < N; b++)
        for (int64_t oy = 0; oy < OH; oy++) {
            double fy = av_nn__resize_src_coord(p->coord, oy, H, OH, sh);
            for (int64_t ox = 0; ox < OW; ox++) {
                double fx = av_nn__resize_src_coord(p->coord, ox, W, OW, sw);
                int64_t yo = ((b * OH + oy) * OW + ox) * C;
                if (p->mode == AV_NN_RESIZE_NEAREST) {
                    int64_t iy = nearest_index(p->nearest, fy, H);
                    int64_t ix = nearest_index(p->nearest, fx, W);
                    size_t es = av_nn_dtype_size(x->dtype);
                    memcpy((uint8_t *)out[0] + yo * (int64_t)es,
                           (const uint8_t *)in[0] + ((b * H + iy) * W + ix) * C * (int64_t)es,
                           (size_t)C * es);
                    continue;
                }
                double cy = fy < 0 ? 0 : fy > (double)(H - 1) ? (double)(H - 1) : fy;
                double cx = fx < 0 ? 0 : fx > (double)(W - 1) ? (double)(W - 1) : fx;
                int64_t y0 = (int64_t)floor(cy), x0 = (int64_t)floor(cx);
                int64_t y1 = y0 + 1 < H ? y0 + 1 : H - 1, x1 = x0 + 1 < W ? x0 + 1 : W - 1;
                double dy = cy - (double)y0, dx = cx - (double)x0;
                for (int64_t c = 0; c < C; c++) {
#define AT(yy, xx) av_nn__load_elem(in[0], x->dtype, ((b * H + (yy)) * W + (xx)) * C + c)
                    double top = AT(y0, x0) + (AT(y0, x1) - AT(y0, x0)) * dx;
                    double bot = AT(y1, x0) + (AT(y1, x1) - AT(y1, x0)) * dx;
#undef AT
                    double v = top + (bot - top) * dy;
                    av_nn__store_elem(out[0], yt, yo + c, is_float ? v : round(v));
                }
            }
        }
}
