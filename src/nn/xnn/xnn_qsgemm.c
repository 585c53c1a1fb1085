/*
 * xnn_qsgemm.c - our own int8 dense convolution (CONV2D, groups 1) for the
 * int8 rewrite (nn/quant.c): int8 activations with one scale and zero
 * point per tensor, int8 symmetric weights with one scale per output
 * channel (qc8) or per tensor, int32 bias, and a fused clamp or leaky relu.
 *
 * Why not XNNPACK's qc8: on AVX2 without AVX-512, Debian's build runs
 * NanoDet's 13x13 3x3 and stride-2 layers at ~100 GFLOP/s, no faster than
 * our f32 GEMM (~90); and it has no leaky relu. This is the scheme of our
 * qu8 GEMM (xnn_qgemm.c, kept separate: the iNat model's file), simpler
 * because the weights are symmetric (no zero point, so no per-row
 * correction): each task widens its block of input rows once (x - xz,
 * int16) and a 6x16 register tile takes, per pair of k, one broadcast per
 * row, two vpmovsxbw of the packed weight pairs and one vpmaddwd + vpaddd
 * per 8 outputs (~1.5x the f32 GEMM's multiply-adds per cycle).
 *
 * Epilogue, per output: float(acc) * (xs * ws[o] / ys), the leaky relu on
 * that (a positive scaling commutes with it: one rounding, not two), then
 * XNNPACK's fp32 requantisation (min with ymax - yz, round to nearest even,
 * saturating packs, + yz, clamp to the act's bounds). The sums are exact in
 * int32 (|x - xz| <= 255, |w| <= 127, K <= KMAX).
 *
 * Packed weights: per tile of NR = 16 output channels (zero padded), NR
 * int32 biases, NR float scales, then for each pair p of the K = taps * cin
 * inputs (K padded to even with zeros) NR byte pairs (w[2p], w[2p+1]).
 */
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define QSGEMM_X86 1
#endif

#define MR 6
#define NR 16
#define KMAX 4096 /* taps * cin: the block of widened rows lives on the task's stack */
#define HEAD (NR * (sizeof(int32_t) + sizeof(float))) /* biases and scales of a tile */

struct av_nn__xnn_qsgemm {
    av_nn__xnn_geom geo;
    size_t k, kp, ntiles, tile_bytes;     /* K, K padded even, NR tiles */
    int8_t *packed;                       /* 64-byte aligned tiles */
    bool leaky;
    float alpha, ymax_less_yz;
    int16_t xz, yz;
    int8_t ymin, ymax;
};

static atomic_bool forced_off;

void av_nn__xnn_qsgemm_force_off(bool on)
{
    atomic_store(&forced_off, on);
}

/* Scale of output channel o of w (per channel or per tensor). */
static float w_scale(const av_nn__tensor *w, size_t o)
{
    return w->quant.channel_scales ? w->quant.channel_scales[o] : w->quant.scale;
}

bool av_nn__xnn_qsgemm_supports(const av_nn__graph *g, const av_nn__node *n)
{
#ifdef QSGEMM_X86
    if (n->op != AV_NN_OP_CONV2D || n->p.conv.groups > 1 || atomic_load(&forced_off) ||
        !av_nn__xnn_qgemm_available()) /* the same CPUs and switches as the qu8 GEMM */
        return false;
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *b = av_nn__xnn_in(g, n, 2), *y = av_nn__xnn_out(g, n, 0);
    if (!x || !w || !y || !w->data || w->dtype != AV_NN_I8 || w->quant.zero_point != 0 ||
        !av_nn__xnn_qtensor(x, AV_NN_I8) || x->quant.channel_scales ||
        !av_nn__xnn_qtensor(y, AV_NN_I8) || y->quant.channel_scales || x->rank != 4 ||
        w->rank != 4 || y->rank != 4)
        return false;
    if (av_nn__xnn_numel(x) < 1 || av_nn__xnn_numel(y) < 1 || x->dims[0] != y->dims[0] ||
        w->dims[0] != y->dims[3] || w->dims[3] != x->dims[3] || w->dims[1] < 1 ||
        w->dims[2] < 1 || w->dims[1] * w->dims[2] > AV_NN__XNN_QMAX_TAPS ||
        w->dims[1] * w->dims[2] * w->dims[3] > KMAX)
        return false;
    if (b && (!b->data || b->dtype != AV_NN_I32 || av_nn__xnn_numel(b) != y->dims[3]))
        return false;
    const av_nn__conv_params *p = &n->p.conv;
    if (p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        p->pad_top < 0 || p->pad_left < 0)
        return false;
    if (w->quant.channel_scales &&
        (w->quant.n_channels != y->dims[3] || w->quant.axis != 0))
        return false;
    for (int64_t o = 0; o < y->dims[3]; o++) {
        double s = (double)x->quant.scale * w_scale(w, (size_t)o) / y->quant.scale;
        if (!(s > 0x1.0p-32 && s < 256.0))
            return false;
    }
    int32_t lo, hi;
    return av_nn__xnn_qleaky_ok(&p->act, y) || av_nn__xnn_qbounds(&p->act, y, &lo, &hi);
#else
    (void)g, (void)n;
    return false;
#endif
}

void av_nn__xnn_qsgemm_free(av_nn__xnn_qsgemm *k)
{
    if (!k)
        return;
    free(k->packed);
    free(k);
}

av_nn_status av_nn__xnn_qsgemm_prepare(const av_nn__graph *g, const av_nn__node *n,
                                       av_nn__xnn_node *s, char *err, size_t errlen)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *b = av_nn__xnn_in(g, n, 2), *y = av_nn__xnn_out(g, n, 0);
    const av_nn__conv_params *p = &n->p.conv;
    av_nn__xnn_qsgemm *k = calloc(1, sizeof *k);
    if (!k)
        goto nomem;
    av_nn__xnn_conv_geom(g, n, &k->geo);
    k->k = k->geo.ks * k->geo.cin, k->kp = (k->k + 1) & ~(size_t)1;
    k->ntiles = (k->geo.cout + NR - 1) / NR;
    /* HEAD (128 bytes) then kp / 2 pairs of NR * 2 bytes: a multiple of 32
     * (the kernel's 16-byte loads stay aligned) */
    k->tile_bytes = HEAD + k->kp * NR;
    size_t bytes = k->ntiles * k->tile_bytes; /* bounded by the graph constant's own size */
    k->packed = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!k->packed)
        goto nomem;
    memset(k->packed, 0, bytes);
    const int8_t *wq = w->data;
    const int32_t *bq = b ? b->data : NULL;
    float ys = y->quant.scale;
    for (size_t j = 0; j < k->ntiles; j++) {
        int8_t *t = k->packed + j * k->tile_bytes;
        int32_t *bias = (int32_t *)t;
        float *scale = (float *)(t + NR * sizeof(int32_t));
        int8_t *pairs = t + HEAD;
        for (size_t r = 0; r < NR && j * NR + r < k->geo.cout; r++) {
            size_t o = j * NR + r;
            bias[r] = bq ? bq[o] : 0;
            scale[r] = (float)((double)x->quant.scale * w_scale(w, o) / ys);
            /* OHWI: K runs over taps then channels, as the widened rows do */
            for (size_t q = 0; q < k->k; q++)
                pairs[q / 2 * NR * 2 + r * 2 + q % 2] = wq[o * k->k + q];
        }
    }
    int32_t lo = -128, hi = 127;
    k->leaky = av_nn__xnn_qleaky_ok(&p->act, y);
    if (!k->leaky)
        av_nn__xnn_qbounds(&p->act, y, &lo, &hi);
    k->alpha = k->leaky ? p->act.alpha : 1.0f;
    k->xz = (int16_t)x->quant.zero_point, k->yz = (int16_t)y->quant.zero_point;
    k->ymin = (int8_t)lo, k->ymax = (int8_t)hi;
    k->ymax_less_yz = (float)(hi - y->quant.zero_point);
    s->qsgemm = k;
    s->what = k->leaky ? "own int8 convolution + leaky relu (AVX2)" : "own int8 convolution (AVX2)";
    return AV_NN_OK;
nomem:
    av_nn__xnn_qsgemm_free(k);
    return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "node '%s' (%s): out of memory packing weights",
                       n->name ? n->name : "", av_nn__op_name(n->op));
}

#ifdef QSGEMM_X86

/* Reads an int16 pair of the widened rows as one int32 (broadcast operand). */
typedef int32_t __attribute__((may_alias)) pair32;

/* dst[0..n) = src[i] - xz as int16; reads exactly n bytes of src. */
__attribute__((target("avx2"))) static void widen(int16_t *dst, const int8_t *src, size_t n,
                                                 int16_t xz)
{
    const __m256i vz = _mm256_set1_epi16(xz);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i v = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_sub_epi16(v, vz));
    }
    for (; i < n; i++)
        dst[i] = (int16_t)(src[i] - xz);
}

/* One row of 16 accumulators (two halves) to int8, stored to the first nc
 * (<= 16) bytes of c: scale per channel, leaky relu, XNNPACK's fp32 rounding. */
__attribute__((target("avx2"))) static void requant_row(int8_t *c, __m256i a0, __m256i a1,
                                                       size_t nc, __m256 s0, __m256 s1,
                                                       __m256 valpha, bool leaky, __m256 vmax,
                                                       __m256i vzp, __m128i vlo, __m128i vhi)
{
    __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(a0), s0);
    __m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(a1), s1);
    if (leaky) { /* 0 < alpha < 1: max(f, alpha f) */
        f0 = _mm256_max_ps(f0, _mm256_mul_ps(f0, valpha));
        f1 = _mm256_max_ps(f1, _mm256_mul_ps(f1, valpha));
    }
    __m256i i0 = _mm256_cvtps_epi32(_mm256_min_ps(f0, vmax));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_min_ps(f1, vmax));
    /* packs works per 128-bit lane: put the four quarters back in order */
    __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(i0, i1), 0xD8);
    p = _mm256_adds_epi16(p, vzp);
    __m128i u = _mm_packs_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    u = _mm_min_epi8(_mm_max_epi8(u, vlo), vhi);
    if (nc >= NR) {
        _mm_storeu_si128((__m128i *)c, u);
    } else {
        int8_t tmp[NR];
        _mm_storeu_si128((__m128i *)tmp, u);
        memcpy(c, tmp, nc);
    }
}

/*
 * C[mr rows, nc cols] (row stride cs bytes) from MR widened rows a (stride
 * lda int16, kp of them; rows >= mr hold zeros and are not stored) and the
 * packed tiles w from the first tile of the nc range.
 */
static inline __attribute__((always_inline, target("avx2"))) void
qs_body(size_t mr, size_t nc, size_t kp, const int16_t *a, size_t lda, const int8_t *w, int8_t *c,
        size_t cs, const av_nn__xnn_qsgemm *k, const bool leaky)
{
    const __m256 vmax = _mm256_set1_ps(k->ymax_less_yz), valpha = _mm256_set1_ps(k->alpha);
    const __m256i vzp = _mm256_set1_epi16(k->yz);
    const __m128i vlo = _mm_set1_epi8(k->ymin), vhi = _mm_set1_epi8(k->ymax);
    const int16_t *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda;
    const int16_t *a3 = a + 3 * lda, *a4 = a + 4 * lda, *a5 = a + 5 * lda;
    for (;;) {
        const __m256i bias0 = _mm256_load_si256((const __m256i *)w);
        const __m256i bias1 = _mm256_load_si256((const __m256i *)(w + 32));
        const __m256 s0 = _mm256_load_ps((const float *)(w + 64));
        const __m256 s1 = _mm256_load_ps((const float *)(w + 96));
        __m256i c00 = bias0, c01 = bias1, c10 = bias0, c11 = bias1, c20 = bias0, c21 = bias1;
        __m256i c30 = bias0, c31 = bias1, c40 = bias0, c41 = bias1, c50 = bias0, c51 = bias1;
        w += HEAD;
        for (size_t q = 0; q < kp; q += 2, w += NR * 2) {
            const __m256i b0 = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)w));
            const __m256i b1 = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(w + 16)));
            __m256i v = _mm256_set1_epi32(*(const pair32 *)(a0 + q));
            c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(v, b0));
            c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(v, b1));
            v = _mm256_set1_epi32(*(const pair32 *)(a1 + q));
            c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(v, b0));
            c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(v, b1));
            v = _mm256_set1_epi32(*(const pair32 *)(a2 + q));
            c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(v, b0));
            c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(v, b1));
            v = _mm256_set1_epi32(*(const pair32 *)(a3 + q));
            c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(v, b0));
            c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(v, b1));
            v = _mm256_set1_epi32(*(const pair32 *)(a4 + q));
            c40 = _mm256_add_epi32(c40, _mm256_madd_epi16(v, b0));
            c41 = _mm256_add_epi32(c41, _mm256_madd_epi16(v, b1));
            v = _mm256_set1_epi32(*(const pair32 *)(a5 + q));
            c50 = _mm256_add_epi32(c50, _mm256_madd_epi16(v, b0));
            c51 = _mm256_add_epi32(c51, _mm256_madd_epi16(v, b1));
        }
        size_t n = nc < NR ? nc : NR;
#define ROW(i, x0, x1)                                                                             \
    requant_row(c + (i) * cs, x0, x1, n, s0, s1, valpha, leaky, vmax, vzp, vlo, vhi)
        ROW(0, c00, c01);
        if (mr > 1)
            ROW(1, c10, c11);
        if (mr > 2)
            ROW(2, c20, c21);
        if (mr > 3)
            ROW(3, c30, c31);
        if (mr > 4)
            ROW(4, c40, c41);
        if (mr > 5)
            ROW(5, c50, c51);
#undef ROW
        if (nc <= NR)
            return;
        nc -= NR, c += NR;
    }
}

__attribute__((target("avx2"))) static void qs_kernel(size_t mr, size_t nc, size_t kp,
                                                     const int16_t *a, size_t lda,
                                                     const int8_t *w, int8_t *c, size_t cs,
                                                     const av_nn__xnn_qsgemm *k)
{
    if (k->leaky)
        qs_body(mr, nc, kp, a, lda, w, c, cs, k, true);
    else
        qs_body(mr, nc, kp, a, lda, w, c, cs, k, false);
}

typedef struct qs_job {
    const av_nn__xnn_qsgemm *k;
    const int8_t *x;
    int8_t *y;
} qs_job;

/* Output pixels [m0, m0 + mr) by NR tiles [j0, j0 + nj): widen the input
 * rows every tap of each pixel reads (a padding tap reads zeros: the input
 * zero point), then the kernel over the tiles. */
static void qs_task(void *ctx, size_t m0, size_t j0, size_t mr, size_t nj)
{
    const qs_job *job = ctx;
    const av_nn__xnn_qsgemm *k = job->k;
    _Alignas(32) int16_t a[MR * KMAX];
    size_t lda = k->kp, plane = k->geo.oh * k->geo.ow;
    size_t bi = m0 / plane, rem = m0 % plane;
    int64_t oy = (int64_t)(rem / k->geo.ow), ox = (int64_t)(rem % k->geo.ow);
    for (size_t i = 0; i < MR; i++) {
        int16_t *row = a + i * lda;
        if (i >= mr) { /* past the block's end: zeros, never stored */
            memset(row, 0, lda * sizeof *row);
            continue;
        }
        if (k->k < lda)
            row[k->k] = 0;
        if (k->geo.pointwise) {
            widen(row, job->x + (m0 + i) * k->geo.cin, k->geo.cin, k->xz);
            continue;
        }
        size_t span = (size_t)k->geo.kw * k->geo.cin; /* one ky's taps in K */
        int64_t ix0 = ox * k->geo.sw - k->geo.pl;
        bool inside = k->geo.dw == 1 && ix0 >= 0 && ix0 + k->geo.kw <= (int64_t)k->geo.w;
        for (int64_t ky = 0; ky < k->geo.kh; ky++) {
            int64_t iy = oy * k->geo.sh - k->geo.pt + ky * k->geo.dh;
            int16_t *seg = row + (size_t)ky * span;
            if (iy < 0 || iy >= (int64_t)k->geo.h) {
                memset(seg, 0, span * sizeof *seg);
                continue;
            }
            const int8_t *rowx = job->x + (bi * k->geo.h + (size_t)iy) * k->geo.w * k->geo.cin;
            if (inside) { /* the ky's taps are one run of bytes */
                widen(seg, rowx + (size_t)ix0 * k->geo.cin, span, k->xz);
                continue;
            }
            for (int64_t kx = 0; kx < k->geo.kw; kx++) {
                int64_t ix = ix0 + kx * k->geo.dw;
                if (ix >= 0 && ix < (int64_t)k->geo.w)
                    widen(seg + (size_t)kx * k->geo.cin, rowx + (size_t)ix * k->geo.cin, k->geo.cin,
                          k->xz);
                else
                    memset(seg + (size_t)kx * k->geo.cin, 0, k->geo.cin * sizeof *seg);
            }
        }
        if (++ox == (int64_t)k->geo.ow) {
            ox = 0;
            if (++oy == (int64_t)k->geo.oh)
                oy = 0, bi++;
        }
    }
    size_t n0 = j0 * NR, nc = nj * NR;
    if (n0 + nc > k->geo.cout)
        nc = k->geo.cout - n0;
    qs_kernel(mr, nc, lda, a, lda, k->packed + j0 * k->tile_bytes, job->y + m0 * k->geo.cout + n0,
              k->geo.cout, k);
}

#endif

void av_nn__xnn_qsgemm_run(const av_nn__xnn_qsgemm *k, const int8_t *x, int8_t *y,
                           pthreadpool_t pool)
{
#ifdef QSGEMM_X86
    qs_job job = {k, x, y};
    size_t mtiles = (k->geo.m + MR - 1) / MR, nt = k->ntiles;
    size_t threads = pthreadpool_get_threads_count(pool);
    if (threads > 1) { /* split channels too when pixels alone give few tasks per thread */
        size_t want = threads * 5;
        size_t max_nt = (k->ntiles * mtiles + want - 1) / want;
        if (max_nt < nt)
            nt = max_nt ? max_nt : 1;
    }
    pthreadpool_parallelize_2d_tile_2d(pool, qs_task, &job, k->geo.m, k->ntiles, MR, nt, 0);
#else
    (void)k, (void)x, (void)y, (void)pool; /* never prepared: supports() is false */
#endif
}
