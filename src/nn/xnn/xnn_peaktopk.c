/*
 * xnn_peaktopk.c - CenterNet's peak mask and top-k as one pass over the
 * heat map x (TOPK with p.topk.peak, pass_peaktopk.c): the k largest of
 * y = x * (x == max of x's window), [N, H, W, C] f32 read as rows of
 * H*W*C, without writing y (5.2 MB at 128x128x80 that the top-k read back).
 *
 * Rows of the image are split in bands across the pool; each task keeps the
 * best k of its band in a heap (xnn_topk.c's, same order: the union of the
 * bands' best k holds the image's, merged and sorted as there). Once a heap
 * is full and its root r >= 0, a value x can only enter when x > r, x is NaN
 * or infinite: its y is x or x * 0 (+-0 <= r, later index, loses; inf * 0
 * is NaN). A vector compare of 8 channels against r rejects almost all of
 * the map; only a group with a candidate computes its window max.
 *
 * Exactly the unfused answer (values' bits, indices, order, ties): y is
 * computed as xnn_peak.c computes it, the same max sequence per lane (AVX2
 * groups of 8 channels, then the scalar tail, or the portable loop for every
 * channel when xnn_peak.c runs portable), so even NaN windows agree.
 *
 * With p.topk.sigmoid (pass_peaktopk.c) x holds logits and the map is
 * their sigmoid s, as the conv's epilogue computed it (av_nn__xnn_sigmoid_span
 * in whole vectors, denormals off). The scan skips logits <= the root's
 * logit - AV_NN__SIGMOID_MARGIN and computes s for candidates only: s of
 * the window's max logit and of the pixel (the window's s one by one near
 * a tie or NaN), none for a logit AV_NN__SIGMOID_GAP below its window's
 * max (no peak). t_nn_sigmoid_peak.c checks the two properties of s these
 * rest on over every float, and the answers against unfused bit for bit.
 */
#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PT_X86 1
#endif

typedef av_nn__topk_cand cand;

typedef struct pt_job {
    const float *x; /* one image */
    int64_t h, w, c, k, band;
    int kh, kw, pt, pl;
    bool avx2;
    bool sig; /* x holds logits: the map is their sigmoid (p.topk.sigmoid) */
    cand (*heaps)[AV_NN__TOPK_MAX_K];
    int64_t *counts;
} pt_job;

/* A task's heap and the threshold its scan skips by. */
typedef struct scan {
    cand *h;
    const float *x; /* the image */
    int64_t nh, k;
    float r;   /* the root's value while skip */
    float t;   /* sig: the root's logit while skip */
    bool sig;
    bool skip; /* heap full, root >= 0: skip x in (-inf, r]; sig: root > 0, skip x <= t */
} scan;

/* y at flat index i enters if it beats the root (offered in index order). */
static inline void take(scan *s, float y, int64_t i)
{
    if (s->nh == s->k) {
        float r = s->h[0].v;
        if (!(y > r) && y == y) /* no better, not NaN: loses (to a NaN root, any number does) */
            return;
    }
    av_nn__topk_offer(s->h, &s->nh, s->k, (cand){y, i}, true);
    s->r = s->h[0].v;
    if (!s->sig) {
        s->skip = s->nh == s->k && s->r >= 0;
        return;
    }
    /* A root > 0 is a peak whose value is s(its logit u). s is monotone
     * but for a margin (AV_NN__SIGMOID_MARGIN, t_nn_sigmoid_peak.c checks
     * every float): x <= t = u - margin gives y <= s(x) <= s(u) = r at a
     * later index, which loses. A root of 0 may be a masked non-peak:
     * nothing skipped until the heap holds k peaks. */
    s->skip = s->nh == s->k && s->r > 0;
    if (s->skip)
        s->t = s->x[s->h[0].i] - AV_NN__SIGMOID_MARGIN;
}

static inline bool skipped(const scan *s, float v)
{
    if (s->sig) /* the sigmoid of +-inf is finite: no exception */
        return s->skip && v <= s->t;
    return s->skip && v <= s->r && v > -INFINITY && v < INFINITY;
}

/* s(v) as the conv's epilogue computed it for a value in a full vector:
 * av_nn__xnn_sigmoid_span over 8 (its AVX2 vector, or the portable one). */
static float sig1(float v)
{
    float b[8] = {v, v, v, v, v, v, v, v};
    av_nn__xnn_sigmoid_span(b, 8);
    return b[0];
}

/* Window [*lo, *hi) of output coordinate o along an axis of n (xnn_peak.c's). */
static void window(int64_t o, int pad, int k, int64_t n, int64_t *lo, int64_t *hi)
{
    int64_t a = o - pad, b = a + k;
    *lo = a < 0 ? 0 : a;
    *hi = b > n ? n : b;
}

/* Channels [c0, C) of one pixel as xnn_peak.c's scalar loop: top the
 * window's top-left pixel, xc the pixel, base its flat index. */
static void tail(const pt_job *j, scan *s, const float *top, const float *xc, int64_t base,
                 int64_t c0, int64_t nr, int64_t nc)
{
    int64_t rs = j->w * j->c;
    for (int64_t c = c0; c < j->c; c++) {
        if (skipped(s, xc[c]))
            continue;
        float m = j->sig ? sig1(top[c]) : top[c];
        for (int64_t r = 0; r < nr; r++)
            for (int64_t q = 0; q < nc; q++) {
                float v = top[r * rs + q * j->c + c];
                v = j->sig ? sig1(v) : v;
                m = v > m ? v : m;
            }
        float v = j->sig ? sig1(xc[c]) : xc[c];
        take(s, v * (v == m ? 1.0f : 0.0f), base + c);
    }
}

#ifdef PT_X86
/* The sigmoid of the 8 logits at p, as sig1 (the span's full vector). */
__attribute__((target("avx2"))) static __m256 sig8_at(const float *p)
{
    float b[8];
    memcpy(b, p, sizeof b);
    av_nn__xnn_sigmoid_span(b, 8);
    return _mm256_loadu_ps(b);
}

/* One output row: groups of 8 channels as xnn_peak.c's peak_avx2, then the tail. */
__attribute__((target("avx2"))) static void row_avx2(const pt_job *j, scan *s, int64_t oy)
{
    /* sig: the skip compares logits with t, no infinity exception (NaN never equals) */
    const __m256 one = _mm256_set1_ps(1.0f), inf = _mm256_set1_ps(j->sig ? NAN : INFINITY);
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    int64_t y0, y1, C = j->c, rs = j->w * C, c8 = C & ~(int64_t)7;
    window(oy, j->pt, j->kh, j->h, &y0, &y1);
    for (int64_t ox = 0; ox < j->w; ox++) {
        int64_t x0, x1, base = (oy * j->w + ox) * C;
        const float *xc = j->x + base;
        int64_t c = 0;
        if (s->skip) { /* the common case: no candidate in the pixel's vectors */
            __m256 rv = _mm256_set1_ps(j->sig ? s->t : s->r), any = _mm256_setzero_ps();
            for (int64_t q = 0; q < c8; q += 8) {
                __m256 v = _mm256_loadu_ps(xc + q);
                any = _mm256_or_ps(any, _mm256_or_ps(_mm256_cmp_ps(v, rv, _CMP_NLE_UQ),
                                                     _mm256_cmp_ps(_mm256_and_ps(v, absm), inf,
                                                                   _CMP_EQ_OQ)));
            }
            if (!_mm256_movemask_ps(any))
                c = c8;
        }
        window(ox, j->pl, j->kw, j->w, &x0, &x1);
        const float *top = j->x + (y0 * j->w + x0) * C;
        for (; c + 8 <= C; c += 8) {
            __m256 v = _mm256_loadu_ps(xc + c);
            unsigned mask = 0xff;
            if (s->skip) {
                __m256 in = _mm256_or_ps(
                    _mm256_cmp_ps(v, _mm256_set1_ps(j->sig ? s->t : s->r), _CMP_NLE_UQ),
                    _mm256_cmp_ps(_mm256_and_ps(v, absm), inf, _CMP_EQ_OQ));
                mask = (unsigned)_mm256_movemask_ps(in);
                if (!mask)
                    continue;
            }
            __m256 m;
            if (j->sig) {
                /* The window's max logit mx: every logit <= mx - margin has
                 * s <= s(mx), so the max of the window's s is s(mx) unless a
                 * logit lies in (mx - margin, mx) or is NaN (max's order).
                 * A lane with s(x) < s(mx) is no peak either way, nor one
                 * GAP below an mx in the strict range (no sigmoid needed);
                 * the others look for such logits, and if any, take the
                 * window's s one by one, the same max sequence as unfused. */
                __m256 mx = _mm256_loadu_ps(top + c), bad = _mm256_setzero_ps();
                for (int64_t r = 0; r < y1 - y0; r++)
                    for (int64_t q = 0; q < x1 - x0; q++) {
                        __m256 w = _mm256_loadu_ps(top + r * rs + q * C + c);
                        bad = _mm256_or_ps(bad, _mm256_cmp_ps(w, w, _CMP_UNORD_Q));
                        mx = _mm256_max_ps(mx, w);
                    }
                __m256 strict = _mm256_and_ps(
                    _mm256_cmp_ps(mx, _mm256_set1_ps(AV_NN__SIGMOID_STRICT_LO), _CMP_GE_OQ),
                    _mm256_cmp_ps(mx, _mm256_set1_ps(AV_NN__SIGMOID_STRICT_HI), _CMP_LE_OQ));
                __m256 far = _mm256_and_ps(
                    strict, _mm256_cmp_ps(v, _mm256_sub_ps(mx, _mm256_set1_ps(AV_NN__SIGMOID_GAP)),
                                          _CMP_LE_OQ));
                unsigned far_m = (unsigned)_mm256_movemask_ps(_mm256_andnot_ps(bad, far));
                if (!(mask & ~far_m)) { /* y = s(x) * 0 = +0 in every candidate lane */
                    v = _mm256_setzero_ps(), m = one;
                } else {
                    float b[16]; /* s(mx), s(x): one call, whole vectors */
                    _mm256_storeu_ps(b, mx);
                    _mm256_storeu_ps(b + 8, v);
                    av_nn__xnn_sigmoid_span(b, 16);
                    m = _mm256_loadu_ps(b);
                    v = _mm256_loadu_ps(b + 8);
                    unsigned near = (unsigned)_mm256_movemask_ps(
                                        _mm256_or_ps(bad, _mm256_cmp_ps(v, m, _CMP_GE_OQ))) &
                                    mask;
                    if (near && !(_mm256_movemask_ps(bad) & near)) {
                        __m256 lo = _mm256_sub_ps(mx, _mm256_set1_ps(AV_NN__SIGMOID_MARGIN));
                        for (int64_t r = 0; r < y1 - y0; r++)
                            for (int64_t q = 0; q < x1 - x0; q++) {
                                __m256 w = _mm256_loadu_ps(top + r * rs + q * C + c);
                                bad = _mm256_or_ps(
                                    bad, _mm256_and_ps(_mm256_cmp_ps(w, lo, _CMP_GT_OQ),
                                                       _mm256_cmp_ps(w, mx, _CMP_LT_OQ)));
                            }
                    }
                    if (_mm256_movemask_ps(bad) & near) {
                        m = sig8_at(top + c);
                        for (int64_t r = 0; r < y1 - y0; r++)
                            for (int64_t q = 0; q < x1 - x0; q++)
                                m = _mm256_max_ps(m, sig8_at(top + r * rs + q * C + c));
                    }
                }
            } else {
                m = _mm256_loadu_ps(top + c);
                for (int64_t r = 0; r < y1 - y0; r++)
                    for (int64_t q = 0; q < x1 - x0; q++)
                        m = _mm256_max_ps(m, _mm256_loadu_ps(top + r * rs + q * C + c));
            }
            __m256 keep = _mm256_and_ps(_mm256_cmp_ps(v, m, _CMP_EQ_OQ), one);
            __m256 yv = _mm256_mul_ps(v, keep);
            float y[8];
            _mm256_storeu_ps(y, yv);
            if (s->nh == s->k) /* lanes that beat the root (or NaN) only */
                mask &= (unsigned)_mm256_movemask_ps(
                    _mm256_cmp_ps(yv, _mm256_set1_ps(s->h[0].v), _CMP_NLE_UQ));
            while (mask) {
                int l = __builtin_ctz(mask);
                mask &= mask - 1;
                take(s, y[l], base + c + l);
            }
        }
        if (c < C)
            tail(j, s, top, xc, base, c, y1 - y0, x1 - x0);
    }
}
#endif

static void pt_task(void *ctx, size_t t)
{
    const pt_job *j = ctx;
    int64_t lo = (int64_t)t * j->band, hi = lo + j->band < j->h ? lo + j->band : j->h;
    scan s = {.h = j->heaps[t], .x = j->x, .k = j->k, .sig = j->sig};
    for (int64_t oy = lo; oy < hi; oy++) {
#ifdef PT_X86
        if (j->avx2) {
            row_avx2(j, &s, oy);
            continue;
        }
#endif
        int64_t y0, y1;
        window(oy, j->pt, j->kh, j->h, &y0, &y1);
        for (int64_t ox = 0; ox < j->w; ox++) {
            int64_t x0, x1, base = (oy * j->w + ox) * j->c;
            window(ox, j->pl, j->kw, j->w, &x0, &x1);
            tail(j, &s, j->x + (y0 * j->w + x0) * j->c, j->x + base, base, 0, y1 - y0, x1 - x0);
        }
    }
    j->counts[t] = s.nh;
}

static void k_peaktopk(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                       void *const *out, pthreadpool_t pool)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]];
    const av_nn__pool_params *p = &n->p.topk.peak_pool;
    av_nn_dtype idt = g->tensors[n->out[1]].dtype;
    int64_t N = x->dims[0], H = x->dims[1], k = n->p.topk.k, img = av_nn__numel(x) / N;
    /* a band a thread: each band pays for filling its heap from nothing */
    int64_t threads = pool ? (int64_t)pthreadpool_get_threads_count(pool) : 1;
    int64_t tasks = threads < AV_NN__TOPK_TASKS ? threads : AV_NN__TOPK_TASKS;
    tasks = tasks < H ? tasks : H;
    int64_t band = (H + tasks - 1) / tasks;
    tasks = (H + band - 1) / band;
    cand heaps[AV_NN__TOPK_TASKS][AV_NN__TOPK_MAX_K]; /* 32 KiB */
    int64_t counts[AV_NN__TOPK_TASKS];
    for (int64_t o = 0; o < N; o++) {
        pt_job j = {.x = (const float *)in[0] + o * img, .h = H, .w = x->dims[2],
                    .c = x->dims[3], .k = k, .band = band, .kh = p->filter_h,
                    .kw = p->filter_w, .pt = p->pad_top, .pl = p->pad_left,
                    .avx2 = av_nn__peak_fusion_pays(), .sig = n->p.topk.sigmoid,
                    .heaps = heaps, .counts = counts};
        /* sig: denormals flushed and read as zero, as the conv's epilogue ran
         * (the pool's flag on its kernels): the same bits on tiny values */
        pthreadpool_parallelize_1d(pool, pt_task, &j, (size_t)tasks,
                                   j.sig ? PTHREADPOOL_FLAG_DISABLE_DENORMALS : 0);
        av_nn__topk_merge(heaps, counts, tasks, true);
        float *yv = (float *)out[0] + o * k;
        for (int64_t q = 0; q < k; q++) {
            memcpy(yv + q, &heaps[0][q].v, sizeof *yv); /* the mask's bits: -0 and NaN kept */
            av_nn__store_int(out[1], idt, o * k + q, heaps[0][q].i);
        }
    }
}

bool av_nn__xnn_peaktopk_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0),
                        *yi = av_nn__xnn_out(g, n, 1);
    const av_nn__topk_params *tp = &n->p.topk;
    const av_nn__pool_params *p = &tp->peak_pool;
    if (n->op != AV_NN_OP_TOPK || !tp->peak || !tp->largest || !x || !y || !yi ||
        x->dtype != AV_NN_F32 || y->dtype != AV_NN_F32 || av_nn__is_quant(x) ||
        (yi->dtype != AV_NN_I32 && yi->dtype != AV_NN_I64) || x->rank != 4 ||
        av_nn__numel(x) < 1 || tp->k < 1 || tp->k > AV_NN__TOPK_MAX_K ||
        (int64_t)tp->k > av_nn__numel(x) / x->dims[0] || y->rank != 2 || yi->rank != 2 ||
        y->dims[0] != x->dims[0] || y->dims[1] != tp->k || yi->dims[0] != x->dims[0] ||
        yi->dims[1] != tp->k || p->act.kind != AV_NN_ACT_NONE)
        return false;
    return av_nn__peak_window_ok(p);
}

void av_nn__xnn_peaktopk_prepare(const av_nn__node *n, av_nn__xnn_node *s)
{
    s->kernel = k_peaktopk;
    s->what = av_nn__peak_fusion_pays() ? "own peak mask + top-k (AVX2)"
                                        : "own peak mask + top-k (portable)";
    if (n->p.topk.sigmoid)
        s->what = av_nn__peak_fusion_pays() ? "own sigmoid + peak mask + top-k (AVX2)"
                                            : "own sigmoid + peak mask + top-k (portable)";
}
