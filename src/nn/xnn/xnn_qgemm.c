/*
 * xnn_qgemm.c - our own TFLite-uint8 (qu8, per-tensor) dense convolution
 * (CONV2D, groups 1) for AVX2 CPUs without AVX-512: the species model's
 * MobileNetV2 spends ~80% of its time in these (the 1x1 expand/project
 * layers and the 3x3 stem).
 *
 * Why not XNNPACK's: Debian's build picks a 3x8c8 AVX2 qu8 kernel that
 * widens and re-subtracts zero points of both operands in the inner loop and
 * ends each output with a horizontal reduction. Here the weights are packed
 * once at prepare as uint8 pairs (w[k], w[k+1]) per output channel, and each
 * task widens its block of input rows once (x - xz, int16) for all the
 * output-channel tiles it computes; the 6x16 register tile then needs per
 * pair of k one broadcast per row, two vpmovzxbw of the weights and one
 * vpmaddwd + vpaddd per 8 outputs, nothing else.
 *
 * The weights stay 8-bit (packed no bigger than the graph's own copy: the
 * int16 packing of w - wz raised the model's peak RSS by 1.2 MiB, issue 15),
 * so the weight zero point is not subtracted per product: sum (x-xz)(w-wz) =
 * sum (x-xz) w - wz * sum (x-xz), and the task folds -wz * (its row's sum
 * of x - xz) into that row's starting accumulators.
 *
 * The sums are exact int32 (|x - xz| <= 255, w <= 255: a pair sums to at
 * most 130050, K <= KMAX keeps every term far below 2^31), so the order of
 * summation does not matter; the requantisation is XNNPACK's fp32 one, step
 * for step (float(acc) * scale with scale = xs * ws / ys in float, min with
 * ymax - yz, round to nearest even, saturating packs, + yz, clamp): the
 * outputs are bit-identical to XNNPACK's (t_nn_qgemm checks it).
 *
 * Packed weights: per tile of NR = 16 output channels (zero padded), NR
 * int32 biases, then for each pair p of the K = taps * cin inputs (K padded
 * to even with zeros), NR byte pairs (w[2p], w[2p+1]), one per output
 * channel (vpmovzxbw of 8 pairs gives the int16 pairs vpmaddwd takes), the
 * channels in lane_slot's order (so vpackssdw leaves them in sequence).
 *
 * Issue 15's speed-ups, each with a switch (=0: off) and t_nn_qgemm_fast:
 * the clamp-free requantisation where the clamp is 0..255 and sums cannot
 * overflow (AV_NN_XNN_QPLAIN), a 6x8 kernel for a layer's last tile of <= 8
 * channels (AV_NN_XNN_QHALF: the 24-channel layers), blocks of <= 3 rows
 * skipping the other rows' multiply-adds (AV_NN_XNN_QFEW: 7x7 = 8 x 6 + 1),
 * and the RGB stem's windows widened in registers (AV_NN_XNN_QSTEM).
 */
#include "nn/xnn/xnn_impl.h"

#include "nn/core.h" /* av_nn__silu_fusion_pays: the AVX2 switch */

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define QGEMM_X86 1
#endif

#define MR 6
#define NR 16
#define MAX_TAPS AV_NN__XNN_QMAX_TAPS
#define KMAX 4096 /* taps * cin: the block of widened rows lives on the task's stack */
/* Up to AV_NN__XNN_QGEMM_WIDE_KMAX or _WIDE_COUT (xnn_impl.h) the weights
 * are packed as int16 w - wz (twice the bytes, but these filters are small):
 * there the per-row zero-point correction (a row sum per pixel, an add per
 * accumulator per tile) cost the 8-bit packing 10-45% of the layer (stem
 * 0.41 -> 0.59 ms, 56x56x144 -> 24 0.217 -> 0.241 ms); with large K and many
 * tiles the 8-bit weights are faster (half the bytes to stream: the 7x7
 * layers 10-15%). */
#define WIDE_KMAX AV_NN__XNN_QGEMM_WIDE_KMAX
#define WIDE_COUT AV_NN__XNN_QGEMM_WIDE_COUT

struct av_nn__xnn_qgemm {
    av_nn__xnn_geom geo;
    size_t k, kp, ntiles, tile_bytes;         /* K, K padded even, NR tiles */
    uint8_t *packed;                          /* 64-byte aligned tiles */
    bool wide;                                /* int16 pairs w - wz (small K, below) */
    bool plain;                               /* requantise without clamps (req_plain_ok) */
    bool stem9;                               /* 3x3 over 3 channels: widen_stem9 */
    bool half;                                /* half tiles are on (AV_NN_XNN_QHALF) */
    bool few;                                 /* 3-row blocks skip rows 3-5 (AV_NN_XNN_QFEW) */
    int16_t xz, yz;
    int32_t wz;
    uint8_t ymin, ymax;
    float scale, ymax_less_yz;
};

/* Reads an int16 pair of the widened rows as one int32 (broadcast operand). */
typedef int32_t __attribute__((may_alias)) pair32;

static bool cpu_ok;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

/* AVX2 without AVX-512F (those keep XNNPACK's). */
static void check_cpu(void)
{
#ifdef QGEMM_X86
    __builtin_cpu_init();
    cpu_ok = __builtin_cpu_supports("avx2") && !__builtin_cpu_supports("avx512f");
#endif
}

/* The kernel (AV_NN_XNN_QGEMM) and its paths, each off with its variable
 * set to "0" or a test's force (av_nn__xnn_qpath_force_off). */
static av_nn__switch qgemm_sw = AV_NN__SWITCH("AV_NN_XNN_QGEMM");
static av_nn__switch stem_sw = AV_NN__SWITCH("AV_NN_XNN_QSTEM");
static av_nn__switch plain_sw = AV_NN__SWITCH("AV_NN_XNN_QPLAIN");
static av_nn__switch half_sw = AV_NN__SWITCH("AV_NN_XNN_QHALF");
static av_nn__switch few_sw = AV_NN__SWITCH("AV_NN_XNN_QFEW");

void av_nn__xnn_qgemm_force_off(bool on)
{
    av_nn__switch_force_off(&qgemm_sw, on);
}

bool av_nn__xnn_qpath_force_off(const char *env, bool off)
{
    av_nn__switch *all[] = {&stem_sw, &plain_sw, &half_sw, &few_sw};
    for (size_t i = 0; env && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->env, env) == 0) {
            av_nn__switch_force_off(all[i], off);
            return true;
        }
    return false;
}

bool av_nn__xnn_qgemm_available(void)
{
    pthread_once(&cpu_once, check_cpu);
    /* AV_NN_NO_AVX2 (see xnn_silu.c) turns it off too */
    return cpu_ok && av_nn__switch_on(&qgemm_sw) && av_nn__silu_fusion_pays();
}

float av_nn__xnn_qreq_scale(const av_nn__tensor *x, const av_nn__tensor *w,
                            const av_nn__tensor *y)
{
    return x->quant.scale * w->quant.scale / y->quant.scale;
}

bool av_nn__xnn_qconv_common_ok(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *b = av_nn__xnn_in(g, n, 2), *y = av_nn__xnn_out(g, n, 0);
    if (!x || !w || !y || !w->data || !av_nn__xnn_qtensor(x, AV_NN_U8) ||
        !av_nn__xnn_qtensor(w, AV_NN_U8) || !av_nn__xnn_qtensor(y, AV_NN_U8) || x->rank != 4 ||
        w->rank != 4 || y->rank != 4)
        return false;
    if (b && (!b->data || b->dtype != AV_NN_I32 || av_nn__xnn_numel(b) != y->dims[3]))
        return false;
    if (av_nn__xnn_numel(x) < 1 || av_nn__xnn_numel(y) < 1 || x->dims[0] != y->dims[0] ||
        w->dims[1] < 1 || w->dims[2] < 1 || w->dims[1] * w->dims[2] > AV_NN__XNN_QMAX_TAPS)
        return false;
    const av_nn__conv_params *p = &n->p.conv;
    if (p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        p->pad_top < 0 || p->pad_left < 0)
        return false;
    float s = av_nn__xnn_qreq_scale(x, w, y);
    int32_t lo, hi;
    return s >= 0x1.0p-32f && s < 256.0f && av_nn__xnn_qbounds(&p->act, y, &lo, &hi);
}

/* Tile j is the last and holds at most 8 channels: packed in channel order
 * in the first half of its slots and run by qkernel_half (half the
 * vpmaddwd of a full tile: the 24-channel layers' second tile). */
static bool half_tile(const av_nn__xnn_qgemm *k, size_t j)
{
    return k->half && j + 1 == k->ntiles && k->geo.cout - j * NR <= NR / 2;
}

/* The 3x3 stem over RGB (K = 27, int16 weights) takes widen_stem9, not
 * AV_NN_XNN_QSTEM=0. */
static bool stem9_ok(const av_nn__xnn_qgemm *k)
{
    return k->geo.kh == 3 && k->geo.kw == 3 && k->geo.cin == 3 && k->geo.dh == 1 &&
           k->geo.dw == 1 && k->wide && av_nn__switch_on(&stem_sw);
}

/* Where output channel r of a tile goes in it: the two accumulator halves
 * then hold channels 0-3, 8-11 and 4-7, 12-15, the order vpackssdw's
 * per-lane packing puts back in sequence (no vpermq per row). */
static size_t lane_slot(size_t r)
{
    return (r & 3) | (r & 4) << 1 | (r & 8) >> 1;
}

void av_nn__xnn_qplain_force_off(bool off)
{
    av_nn__switch_force_off(&plain_sw, off);
}

bool av_nn__xnn_qgemm_uses_plain(const av_nn__xnn_qgemm *k)
{
    return k && k->plain;
}

bool av_nn__xnn_req_plain_ok(double most, float scale, int32_t lo, int32_t hi)
{
    if (!av_nn__switch_on(&plain_sw))
        return false;
    return lo == 0 && hi == 255 && most * (double)scale < 0x1p30;
}

bool av_nn__xnn_qgemm_supports(const av_nn__graph *g, const av_nn__node *n)
{
    if (n->op != AV_NN_OP_CONV2D || n->p.conv.groups > 1 || !av_nn__xnn_qgemm_available() ||
        !av_nn__xnn_qconv_common_ok(g, n))
        return false;
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *y = av_nn__xnn_out(g, n, 0);
    return w->dims[0] == y->dims[3] && w->dims[3] == x->dims[3] &&
           w->dims[1] * w->dims[2] * w->dims[3] <= KMAX;
}

void av_nn__xnn_qgemm_free(av_nn__xnn_qgemm *k)
{
    if (!k)
        return;
    free(k->packed);
    free(k);
}

size_t av_nn__xnn_qgemm_packed_bytes(const av_nn__xnn_qgemm *k)
{
    return k ? k->ntiles * k->tile_bytes : 0;
}

av_nn_status av_nn__xnn_qgemm_prepare(const av_nn__graph *g, const av_nn__node *n,
                                      av_nn__xnn_node *s, char *err, size_t errlen)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *b = av_nn__xnn_in(g, n, 2), *y = av_nn__xnn_out(g, n, 0);
    const av_nn__conv_params *p = &n->p.conv;
    av_nn__xnn_qgemm *k = calloc(1, sizeof *k);
    if (!k)
        goto nomem;
    av_nn__xnn_conv_geom(g, n, &k->geo);
    k->k = k->geo.ks * k->geo.cin, k->kp = (k->k + 1) & ~(size_t)1;
    k->ntiles = (k->geo.cout + NR - 1) / NR;
    k->half = av_nn__switch_on(&half_sw);
    k->few = av_nn__switch_on(&few_sw);
    /* NR biases then kp / 2 pairs of NR * 2 bytes: a multiple of 64 bytes
     * when kp / 2 is even, of 32 (the kernel's load alignment) otherwise */
    k->wide = k->k <= WIDE_KMAX || k->geo.cout <= WIDE_COUT;
    k->tile_bytes = NR * sizeof(int32_t) + k->kp * NR * (k->wide ? 2 : 1);
    /* the filter is a graph constant: its size is bounded by the loader's limits */
    size_t bytes = k->ntiles * k->tile_bytes;
    k->packed = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!k->packed)
        goto nomem;
    memset(k->packed, 0, bytes);
    const uint8_t *wq = w->data;
    const int32_t *bq = b ? b->data : NULL;
    double most = 0; /* the largest |sum| any output can reach */
    for (size_t j = 0; j < k->ntiles; j++) {
        uint8_t *t = k->packed + j * k->tile_bytes;
        int32_t *bias = (int32_t *)t;
        uint8_t *pairs = t + NR * sizeof(int32_t);
        for (size_t r0 = 0; r0 < NR && j * NR + r0 < k->geo.cout; r0++) {
            size_t o = j * NR + r0, r = half_tile(k, j) ? r0 : lane_slot(r0);
            bias[r] = bq ? bq[o] : 0;
            double m = fabs((double)bias[r]); /* |x - xz| <= 255 */
            for (size_t q = 0; q < k->k; q++)
                m += 255.0 * abs((int)wq[o * k->k + q] - w->quant.zero_point);
            most = m > most ? m : most;
            /* OHWI: K runs over taps then channels, as the widened rows do;
             * the odd K's last pair ends in 0 (its row entry is 0 too) */
            for (size_t q = 0; q < k->k; q++) {
                if (k->wide) /* int16, little-endian: w - wz */
                    memcpy(pairs + (q / 2 * NR * 2 + r * 2 + q % 2) * 2,
                           &(int16_t){(int16_t)(wq[o * k->k + q] - w->quant.zero_point)}, 2);
                else
                    pairs[q / 2 * NR * 2 + r * 2 + q % 2] = wq[o * k->k + q];
            }
        }
    }
    k->wz = w->quant.zero_point;
    int32_t lo, hi;
    av_nn__xnn_qbounds(&p->act, y, &lo, &hi);
    k->xz = (int16_t)x->quant.zero_point, k->yz = (int16_t)y->quant.zero_point;
    k->ymin = (uint8_t)lo, k->ymax = (uint8_t)hi;
    k->scale = av_nn__xnn_qreq_scale(x, w, y);
    k->ymax_less_yz = (float)(hi - y->quant.zero_point);
    k->plain = av_nn__xnn_req_plain_ok(most, k->scale, lo, hi);
    k->stem9 = stem9_ok(k);
    s->qgemm = k;
    s->what = "own qu8 convolution (AVX2)";
    return AV_NN_OK;
nomem:
    av_nn__xnn_qgemm_free(k);
    return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "node '%s' (%s): out of memory packing weights",
                       n->name ? n->name : "", av_nn__op_name(n->op));
}

#ifdef QGEMM_X86

/* dst[0..n) = src[i] - xz as int16; reads exactly n bytes of src. */
__attribute__((target("avx2"))) static void widen(int16_t *dst, const uint8_t *src, size_t n,
                                                 int16_t xz)
{
    const __m256i vz = _mm256_set1_epi16(xz);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_sub_epi16(v, vz));
    }
    for (; i < n; i++)
        dst[i] = (int16_t)(src[i] - xz);
}

/* dst[0..16) = src[i] - xz: reads and writes 16 whatever n the caller needs. */
__attribute__((target("avx2"))) static void widen16(int16_t *dst, const uint8_t *src, int16_t xz)
{
    __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)src));
    _mm256_storeu_si256((__m256i *)dst, _mm256_sub_epi16(v, _mm256_set1_epi16(xz)));
}

/* widen's job and the sum of what it wrote (row_sum's), in one pass over
 * the row (the 8-bit layers' pointwise rows: one pass fewer per row). */
__attribute__((target("avx2"))) static int32_t widen_sum(int16_t *dst, const uint8_t *src,
                                                        size_t n, int16_t xz)
{
    const __m256i vz = _mm256_set1_epi16(xz), ones = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i v = _mm256_sub_epi16(
            _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(src + i))), vz);
        _mm256_storeu_si256((__m256i *)(dst + i), v);
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(v, ones));
    }
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
    int32_t s = _mm_cvtsi128_si32(h);
    for (; i < n; i++) {
        dst[i] = (int16_t)(src[i] - xz);
        s += dst[i];
    }
    return s;
}

/* The sum of r[0..n): exact in int32 (n <= KMAX, |r[i]| <= 255). */
__attribute__((target("avx2"))) static int32_t row_sum(const int16_t *r, size_t n)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(r + i)), ones));
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
    int32_t s = _mm_cvtsi128_si32(h);
    for (; i < n; i++)
        s += r[i];
    return s;
}

/* One row of 16 accumulators (two halves, lane_slot's order) to u8 the way
 * XNNPACK's fp32 AVX2 kernels do, stored to the first nc (<= 16) bytes of
 * c; plain (req_plain_ok): without the clamps, which change nothing there. */
__attribute__((target("avx2"), always_inline)) static inline void
requant_row(uint8_t *c, __m256i a0, __m256i a1, size_t nc, __m256 vs, __m256 vmax, __m256i vzp,
            __m128i vlo, __m128i vhi, const bool plain)
{
    __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(a0), vs);
    __m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(a1), vs);
    if (!plain)
        f0 = _mm256_min_ps(f0, vmax), f1 = _mm256_min_ps(f1, vmax);
    __m256i p = _mm256_packs_epi32(_mm256_cvtps_epi32(f0), _mm256_cvtps_epi32(f1));
    p = _mm256_adds_epi16(p, vzp);
    __m128i u = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    if (!plain)
        u = _mm_min_epu8(_mm_max_epu8(u, vlo), vhi);
    if (nc >= NR) {
        _mm_storeu_si128((__m128i *)c, u);
    } else {
        uint8_t tmp[NR];
        _mm_storeu_si128((__m128i *)tmp, u);
        memcpy(c, tmp, nc);
    }
}

/* One row of 8 accumulators (channel order) to the first nc (<= 8) bytes
 * of c, as requant_row does it. */
__attribute__((target("avx2"), always_inline)) static inline void
requant_row8(uint8_t *c, __m256i a0, size_t nc, __m256 vs, __m256 vmax, __m256i vzp,
             __m128i vlo, __m128i vhi, const bool plain)
{
    __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(a0), vs);
    if (!plain)
        f0 = _mm256_min_ps(f0, vmax);
    __m256i i0 = _mm256_cvtps_epi32(f0);
    __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(i0), _mm256_extracti128_si256(i0, 1));
    p = _mm_adds_epi16(p, _mm256_castsi256_si128(vzp));
    __m128i u = _mm_packus_epi16(p, p);
    if (!plain)
        u = _mm_min_epu8(_mm_max_epu8(u, vlo), vhi);
    if (nc >= NR / 2) {
        _mm_storel_epi64((__m128i *)c, u);
    } else {
        uint8_t tmp[NR];
        _mm_storeu_si128((__m128i *)tmp, u);
        memcpy(c, tmp, nc);
    }
}

/* qkernel_body's job for a half tile (half_tile: nc <= 8): 6 rows by the
 * tile's first 8 slots. */
static inline __attribute__((always_inline, target("avx2"))) void
qkernel_half(size_t mr, size_t nc, size_t kp, const int16_t *a, size_t lda, const int32_t *zc,
             const uint8_t *w, uint8_t *c, size_t cs, const av_nn__xnn_qgemm *k, const bool wide,
             const bool plain)
{
    const __m256 vs = _mm256_set1_ps(k->scale), vmax = _mm256_set1_ps(k->ymax_less_yz);
    const __m256i vzp = _mm256_set1_epi16(k->yz);
    const __m128i vlo = _mm_set1_epi8((char)k->ymin), vhi = _mm_set1_epi8((char)k->ymax);
    const int16_t *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda;
    const int16_t *a3 = a + 3 * lda, *a4 = a + 4 * lda, *a5 = a + 5 * lda;
    const __m256i bias = _mm256_load_si256((const __m256i *)w);
    __m256i c0 = bias, c1 = bias, c2 = bias, c3 = bias, c4 = bias, c5 = bias;
    if (!wide) { /* the row corrections (zc is 0 for wide weights) */
        c0 = _mm256_add_epi32(c0, _mm256_set1_epi32(zc[0]));
        c1 = _mm256_add_epi32(c1, _mm256_set1_epi32(zc[1]));
        c2 = _mm256_add_epi32(c2, _mm256_set1_epi32(zc[2]));
        c3 = _mm256_add_epi32(c3, _mm256_set1_epi32(zc[3]));
        c4 = _mm256_add_epi32(c4, _mm256_set1_epi32(zc[4]));
        c5 = _mm256_add_epi32(c5, _mm256_set1_epi32(zc[5]));
    }
    w += NR * sizeof(int32_t);
    for (size_t q = 0; q < kp; q += 2, w += NR * 2 * (wide ? 2 : 1)) {
        const __m256i b0 = wide ? _mm256_load_si256((const __m256i *)w)
                                : _mm256_cvtepu8_epi16(_mm_load_si128((const __m128i *)w));
        c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_set1_epi32(*(const pair32 *)(a0 + q)), b0));
        c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(_mm256_set1_epi32(*(const pair32 *)(a1 + q)), b0));
        c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(_mm256_set1_epi32(*(const pair32 *)(a2 + q)), b0));
        c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(_mm256_set1_epi32(*(const pair32 *)(a3 + q)), b0));
        c4 = _mm256_add_epi32(c4, _mm256_madd_epi16(_mm256_set1_epi32(*(const pair32 *)(a4 + q)), b0));
        c5 = _mm256_add_epi32(c5, _mm256_madd_epi16(_mm256_set1_epi32(*(const pair32 *)(a5 + q)), b0));
    }
    requant_row8(c, c0, nc, vs, vmax, vzp, vlo, vhi, plain);
    if (mr > 1)
        requant_row8(c + cs, c1, nc, vs, vmax, vzp, vlo, vhi, plain);
    if (mr > 2)
        requant_row8(c + 2 * cs, c2, nc, vs, vmax, vzp, vlo, vhi, plain);
    if (mr > 3)
        requant_row8(c + 3 * cs, c3, nc, vs, vmax, vzp, vlo, vhi, plain);
    if (mr > 4)
        requant_row8(c + 4 * cs, c4, nc, vs, vmax, vzp, vlo, vhi, plain);
    if (mr > 5)
        requant_row8(c + 5 * cs, c5, nc, vs, vmax, vzp, vlo, vhi, plain);
}

/*
 * C[mr rows, nc cols] (row stride cs bytes) from MR widened rows a (stride
 * lda int16, kp of them, rows >= mr hold zeros and are not stored), zc[i]
 * = -wz * (sum of row i) and the packed weights w from the first tile of the
 * nc range.
 */
static inline __attribute__((always_inline, target("avx2"))) void
qkernel_body(size_t mr, size_t nc, size_t kp, const int16_t *a, size_t lda, const int32_t *zc,
             const uint8_t *w, uint8_t *c, size_t cs, const av_nn__xnn_qgemm *k, const bool wide,
             const bool plain, const bool few)
{
    const __m256 vs = _mm256_set1_ps(k->scale), vmax = _mm256_set1_ps(k->ymax_less_yz);
    const __m256i vzp = _mm256_set1_epi16(k->yz);
    const __m128i vlo = _mm_set1_epi8((char)k->ymin), vhi = _mm_set1_epi8((char)k->ymax);
    const int16_t *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda;
    const int16_t *a3 = a + 3 * lda, *a4 = a + 4 * lda, *a5 = a + 5 * lda;
    const __m256i z0 = _mm256_set1_epi32(zc[0]), z1 = _mm256_set1_epi32(zc[1]);
    const __m256i z2 = _mm256_set1_epi32(zc[2]), z3 = _mm256_set1_epi32(zc[3]);
    const __m256i z4 = _mm256_set1_epi32(zc[4]), z5 = _mm256_set1_epi32(zc[5]);
    for (;;) {
        if (nc <= NR / 2 && k->half) { /* only the last tile can be (half_tile) */
            qkernel_half(mr, nc, kp, a, lda, zc, w, c, cs, k, wide, plain);
            return;
        }
        const __m256i bias0 = _mm256_load_si256((const __m256i *)w);
        const __m256i bias1 = _mm256_load_si256((const __m256i *)(w + 32));
/* wide: the weights are w - wz, no row correction (zc is 0) */
#define ZADD(b, z) (wide ? (b) : _mm256_add_epi32((b), (z)))
        __m256i c00 = ZADD(bias0, z0), c01 = ZADD(bias1, z0);
        __m256i c10 = ZADD(bias0, z1), c11 = ZADD(bias1, z1);
        __m256i c20 = ZADD(bias0, z2), c21 = ZADD(bias1, z2);
        __m256i c30 = ZADD(bias0, z3), c31 = ZADD(bias1, z3);
        __m256i c40 = ZADD(bias0, z4), c41 = ZADD(bias1, z4);
        __m256i c50 = ZADD(bias0, z5), c51 = ZADD(bias1, z5);
#undef ZADD
        w += NR * sizeof(int32_t);
#pragma GCC unroll 2 /* ~1.5% on the 1x1 layers (fewer loop uops per vpmaddwd) */
        for (size_t q = 0; q < kp; q += 2, w += NR * 2 * (wide ? 2 : 1)) {
            const __m256i b0 =
                wide ? _mm256_load_si256((const __m256i *)w)
                     : _mm256_cvtepu8_epi16(_mm_load_si128((const __m128i *)w));
            const __m256i b1 =
                wide ? _mm256_load_si256((const __m256i *)(w + 32))
                     : _mm256_cvtepu8_epi16(_mm_load_si128((const __m128i *)(w + 16)));
            __m256i v = _mm256_set1_epi32(*(const pair32 *)(a0 + q));
            c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(v, b0));
            c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(v, b1));
            v = _mm256_set1_epi32(*(const pair32 *)(a1 + q));
            c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(v, b0));
            c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(v, b1));
            v = _mm256_set1_epi32(*(const pair32 *)(a2 + q));
            c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(v, b0));
            c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(v, b1));
            if (few) /* mr <= 3: rows 3-5 are not stored */
                continue;
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
        requant_row(c, c00, c01, n, vs, vmax, vzp, vlo, vhi, plain);
        if (mr > 1)
            requant_row(c + cs, c10, c11, n, vs, vmax, vzp, vlo, vhi, plain);
        if (mr > 2)
            requant_row(c + 2 * cs, c20, c21, n, vs, vmax, vzp, vlo, vhi, plain);
        if (mr > 3)
            requant_row(c + 3 * cs, c30, c31, n, vs, vmax, vzp, vlo, vhi, plain);
        if (mr > 4)
            requant_row(c + 4 * cs, c40, c41, n, vs, vmax, vzp, vlo, vhi, plain);
        if (mr > 5)
            requant_row(c + 5 * cs, c50, c51, n, vs, vmax, vzp, vlo, vhi, plain);
        if (nc <= NR)
            return;
        nc -= NR, c += NR;
    }
}

__attribute__((target("avx2"))) static void qkernel_6x16(size_t mr, size_t nc, size_t kp,
                                                        const int16_t *a, size_t lda,
                                                        const int32_t *zc, const uint8_t *w,
                                                        uint8_t *c, size_t cs,
                                                        const av_nn__xnn_qgemm *k)
{
    /* few: a block of at most 3 rows (a layer's last: 7x7 = 8 x 6 + 1)
     * skips the multiply-adds of rows 3-5 */
    bool few = k->few && mr <= MR / 2;
    if (k->wide && k->plain && few) /* wide: zc is all zeros */
        qkernel_body(mr, nc, kp, a, lda, zc, w, c, cs, k, true, true, true);
    else if (k->wide && k->plain)
        qkernel_body(mr, nc, kp, a, lda, zc, w, c, cs, k, true, true, false);
    else if (k->wide && few)
        qkernel_body(mr, nc, kp, a, lda, zc, w, c, cs, k, true, false, true);
    else if (k->wide)
        qkernel_body(mr, nc, kp, a, lda, zc, w, c, cs, k, true, false, false);
    else if (k->plain && few)
        qkernel_body(mr, nc, kp, a, lda, zc, w, c, cs, k, false, true, true);
    else if (k->plain)
        qkernel_body(mr, nc, kp, a, lda, zc, w, c, cs, k, false, true, false);
    else if (few)
        qkernel_body(mr, nc, kp, a, lda, zc, w, c, cs, k, false, false, true);
    else
        qkernel_body(mr, nc, kp, a, lda, zc, w, c, cs, k, false, false, false);
}

typedef struct qgemm_job {
    const av_nn__xnn_qgemm *k;
    const uint8_t *x, *xend; /* xend: one past the input's last byte */
    uint8_t *y;
} qgemm_job;

/* The stem9 layer's three input rows under output row oy of image bi
 * (NULL: padding). */
static void stem9_rows(const av_nn__xnn_qgemm *k, const uint8_t *x, size_t bi, int64_t oy,
                       const uint8_t **rows)
{
    for (int64_t ky = 0; ky < 3; ky++) {
        int64_t iy = oy * k->geo.sh - k->geo.pt + ky;
        rows[ky] = iy >= 0 && iy < (int64_t)k->geo.h
                       ? x + (bi * k->geo.h + (size_t)iy) * k->geo.w * 3
                       : NULL;
    }
}

/* Row of a stem9 layer's output pixel whose window is inside the input
 * columns from ix0, its input rows from stem9_rows: the three runs of 9
 * bytes packed into 27 in registers, widened to row[0..32) by two stores
 * (row[27..32) hold -xz: the weights there are 0). widen16 per run costs
 * overlapping stores, and the kernel's pair loads across two of them cannot
 * be forwarded (the stem ran at half the GMAC/s of the other layers).
 * false (nothing written): a window row is padding, or the loads would pass
 * the input's end. */
__attribute__((target("avx2"), always_inline)) static inline bool
widen_stem9(int16_t *row, const uint8_t *const *rows, int64_t ix0, const uint8_t *xend,
            int16_t xz)
{
    if (!rows[0] || !rows[1] || !rows[2])
        return false;
    size_t at = (size_t)ix0 * 3;
    if ((size_t)(xend - rows[2]) < at + 16)
        return false;
    const __m128i m9 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0);
    __m128i a = _mm_and_si128(_mm_loadu_si128((const __m128i *)(rows[0] + at)), m9);
    __m128i b = _mm_and_si128(_mm_loadu_si128((const __m128i *)(rows[1] + at)), m9);
    __m128i c = _mm_and_si128(_mm_loadu_si128((const __m128i *)(rows[2] + at)), m9);
    __m128i t0 = _mm_or_si128(a, _mm_slli_si128(b, 9));                    /* a0-8 b0-6 */
    __m128i t1 = _mm_or_si128(_mm_srli_si128(b, 7), _mm_slli_si128(c, 2)); /* b7-8 c0-8 */
    const __m256i vz = _mm256_set1_epi16(xz);
    _mm256_storeu_si256((__m256i *)row, _mm256_sub_epi16(_mm256_cvtepu8_epi16(t0), vz));
    _mm256_storeu_si256((__m256i *)(row + 16), _mm256_sub_epi16(_mm256_cvtepu8_epi16(t1), vz));
    return true;
}

/* Output pixels [m0, m0 + mr) by NR tiles [j0, j0 + nj): widen the input
 * rows every tap of each pixel reads (a padding tap reads zeros, the input
 * zero point), then the kernel over the tiles. */
__attribute__((target("avx2"))) static void qgemm_task(void *ctx, size_t m0, size_t j0, size_t mr,
                                                      size_t nj)
{
    const qgemm_job *job = ctx;
    const av_nn__xnn_qgemm *k = job->k;
    /* + 16: the last row's widen16 spill (rows are written in order, each
     * spill lands where a later write or nothing the kernel reads goes) */
    _Alignas(32) int16_t a[MR * KMAX + 16];
    size_t lda = k->kp, plane = k->geo.oh * k->geo.ow;
    size_t bi = m0 / plane, rem = m0 % plane;
    int32_t zc[MR] = {0}; /* -wz * row sums: rows past mr stay 0 */
    int64_t oy = (int64_t)(rem / k->geo.ow), ox = (int64_t)(rem % k->geo.ow);
    const uint8_t *srow[3] = {NULL, NULL, NULL}; /* stem9_rows of (srow_bi, srow_oy) */
    int64_t srow_oy = -1;
    size_t srow_bi = 0;
    for (size_t i = 0; i < MR; i++) {
        int16_t *row = a + i * lda;
        if (i >= mr) { /* past the block's end: zeros, never stored */
            memset(row, 0, lda * sizeof *row);
            continue;
        }
        if (k->geo.pointwise) {
            if (k->k < lda)
                row[k->k] = 0;
            if (k->wide)
                widen(row, job->x + (m0 + i) * k->geo.cin, k->geo.cin, k->xz);
            else
                zc[i] = -k->wz * widen_sum(row, job->x + (m0 + i) * k->geo.cin, k->geo.cin, k->xz);
            continue;
        }
        size_t span = (size_t)k->geo.kw * k->geo.cin; /* one ky's taps in K */
        int64_t ix0 = ox * k->geo.sw - k->geo.pl;
        bool inside = k->geo.dw == 1 && ix0 >= 0 && ix0 + k->geo.kw <= (int64_t)k->geo.w;
        bool done = false;
        if (inside && k->stem9) {
            if (oy != srow_oy || bi != srow_bi) {
                stem9_rows(k, job->x, bi, oy, srow);
                srow_oy = oy, srow_bi = bi;
            }
            done = widen_stem9(row, srow, ix0, job->xend, k->xz);
        }
        for (int64_t ky = 0; !done && ky < k->geo.kh; ky++) {
            int64_t iy = oy * k->geo.sh - k->geo.pt + ky * k->geo.dh;
            int16_t *seg = row + (size_t)ky * span;
            if (iy < 0 || iy >= (int64_t)k->geo.h) {
                memset(seg, 0, span * sizeof *seg);
                continue;
            }
            const uint8_t *rowx = job->x + (bi * k->geo.h + (size_t)iy) * k->geo.w * k->geo.cin;
            if (inside) { /* the ky's taps are one run of bytes */
                const uint8_t *src = rowx + (size_t)ix0 * k->geo.cin;
                if (span < 16 && src + 16 <= job->xend)
                    widen16(seg, src, k->xz); /* spills into what is written next */
                else
                    widen(seg, src, span, k->xz);
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
        if (k->k < lda) /* after the spills */
            row[k->k] = 0;
        if (!k->wide)
            zc[i] = -k->wz * row_sum(row, k->k);
        if (++ox == (int64_t)k->geo.ow) {
            ox = 0;
            if (++oy == (int64_t)k->geo.oh)
                oy = 0, bi++;
        }
    }
    size_t n0 = j0 * NR, nc = nj * NR;
    if (n0 + nc > k->geo.cout)
        nc = k->geo.cout - n0;
    qkernel_6x16(mr, nc, lda, a, lda, zc, k->packed + j0 * k->tile_bytes,
                 job->y + m0 * k->geo.cout + n0, k->geo.cout, k);
}

#endif

void av_nn__xnn_qgemm_run(const av_nn__xnn_qgemm *k, const uint8_t *x, uint8_t *y,
                          pthreadpool_t pool)
{
#ifdef QGEMM_X86
    qgemm_job job = {k, x, x + k->geo.batch * k->geo.h * k->geo.w * k->geo.cin, y};
    size_t mtiles = (k->geo.m + MR - 1) / MR, nt = k->ntiles;
    size_t threads = pthreadpool_get_threads_count(pool);
    if (threads > 1) { /* split channels too when pixels alone give few tasks per thread */
        size_t want = threads * 5;
        size_t max_nt = (k->ntiles * mtiles + want - 1) / want;
        if (max_nt < nt)
            nt = max_nt ? max_nt : 1;
    }
    pthreadpool_parallelize_2d_tile_2d(pool, qgemm_task, &job, k->geo.m, k->ntiles, MR, nt, 0);
#else
    (void)k, (void)x, (void)y, (void)pool; /* never prepared: supports() is false */
#endif
}
