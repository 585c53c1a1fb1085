/*
 * xnn_qdw.c - our own TFLite-uint8 (qu8, per-tensor) depthwise convolution
 * (depth multiplier 1) for AVX2 CPUs without AVX-512, beside xnn_qgemm.c
 * and switched with it (AV_NN_XNN_QGEMM=0 turns both off).
 *
 * Why not XNNPACK's: Debian's build runs MobileNetV2's 3x3 depthwise layers
 * at ~10 GMAC/s on Zen 3, a fifth of the species model's time. Here 16
 * channels of two taps are interleaved (vpunpck{l,h}wd) and multiplied by
 * prepacked weight pairs with one vpmaddwd per 8 channels and tap pair.
 *
 * The input zero point is folded into the bias (bias - xz * sum over taps of
 * (w - wz)) and a padding tap reads a row of xz bytes, so inputs are only
 * widened, never shifted: the int32 sums equal XNNPACK's exactly and the
 * requantisation is its fp32 one (t_nn_qgemm checks bit-identity).
 *
 * Packed weights, per group of 16 channels: 16 int32 biases then, per tap
 * pair, 16 int32 words holding the int16 pair (w[2p] - wz, w[2p+1] - wz) of
 * one channel, in the order vpunpck leaves the channels in (channels 0-3,
 * 8-11 then 4-7, 12-15; vpackssdw puts them back). Channels past the last
 * full group run a scalar loop with the same arithmetic.
 *
 * 3x3 layers with dilation 1, stride 1 and at most 64 channels (MobileNetV2's
 * first, 112x112x32) take a column kernel instead: the taps are paired down
 * a column, (row 0, row 1) and (row 2, 0), so one input column's widened,
 * interleaved pairs serve the 3 output pixels whose windows cover it. Per
 * output row and group it widens and interleaves each column once into a
 * stack buffer, then a pixel is 12 loads and 12 vpmaddwd. With 2 groups a
 * pixel the general kernel's per-pixel set-up dominated (0.255 -> 0.198 ms
 * on that layer, 1 thread); with more groups its tight loop is faster (one
 * vpmaddwd fewer: 5 pairs, not 6), and at stride 2 a column serves too few
 * pixels (bench_nodes, AV_NN_XNN_QDW3=0: 5-40% slower there). The int32
 * sums are the same integers, so the outputs do not change. Its packed
 * weights, per group: 16 biases then, per column kx, 16 words of (w[0][kx],
 * w[1][kx]) and 16 of (w[2][kx], 0), in the same lane order.
 *
 * The streaming kernel (qdws_row1/qdws_row2) now takes every 3x3 layer of
 * dilation 1 and stride 1 or 2 with at least one full group (the column
 * kernel runs only with AV_NN_XNN_QDWS=0): the same column pairs and packed
 * weights, but each column is multiplied, as soon as it is widened, into
 * the running sums of the outputs whose windows hold it (three at stride 1,
 * two at stride 2), so nothing goes through a buffer, and any row width or
 * channel count works (bench_xnn_qdw: 15-25% faster than the column and
 * general kernels on MobileNetV2's shapes, 1 thread). Where the output clamp
 * is 0..255 and no sum can overflow the float-to-int conversion
 * (av_nn__xnn_req_plain_ok), it requantises without the clamps (the
 * saturating packs give the same bytes).
 */
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define QDW_X86 1
#endif

#define CG 16      /* channels per group */
#define MAX_TAPS AV_NN__XNN_QMAX_TAPS
#define COLS3 256  /* the column kernel's buffer: 3x3 layers of up to this many padded columns */
#define WORDS3 (CG + 6 * CG) /* its packed words per group */
#define QDW3_GROUPS 4 /* ... and channel groups (64 channels) at most */

struct av_nn__xnn_qdw {
    size_t batch, h, w, c, oh, ow;
    int64_t kh, kw, sh, sw, dh, dw, pt, pl;
    size_t ks, pairs, groups, group_words; /* full groups of CG channels */
    int32_t *packed;
    int32_t *packed3; /* the 3x3 column kernel's weights, or NULL: the general kernel */
    size_t cols3;     /* input columns (padding included) a row of outputs reads */
    bool stream;      /* packed3 runs the streaming kernel (qdws_row), not the column one */
    bool plain_req;   /* the streaming kernel may requantise without clamps (req_plain) */
    int16_t *wt;    /* tail: (w - wz) per tap and channel, [ks][c] */
    int32_t *bias;  /* bias with the input zero point folded in, per channel */
    uint8_t *zrow;  /* c bytes of xz: what a padding tap reads */
    int16_t yz;
    uint8_t ymin, ymax;
    float scale, ymax_less_yz;
};

static av_nn__switch qdw3_sw = AV_NN__SWITCH("AV_NN_XNN_QDW3");
static av_nn__switch qdws_sw = AV_NN__SWITCH("AV_NN_XNN_QDWS");

void av_nn__xnn_qdws_force_off(bool off)
{
    av_nn__switch_force_off(&qdws_sw, off);
}

bool av_nn__xnn_qdw_uses_stream(const av_nn__xnn_qdw *k)
{
    return k && k->packed3 && k->stream;
}

bool av_nn__xnn_qdw_uses_plain(const av_nn__xnn_qdw *k)
{
    return av_nn__xnn_qdw_uses_stream(k) && k->plain_req;
}

void av_nn__xnn_qdw3_force_off(bool off)
{
    av_nn__switch_force_off(&qdw3_sw, off);
}

bool av_nn__xnn_qdw_uses3(const av_nn__xnn_qdw *k)
{
    return k && k->packed3 && !k->stream;
}

bool av_nn__xnn_qdw_supports(const av_nn__graph *g, const av_nn__node *n)
{
    if (n->op != AV_NN_OP_DEPTHWISE_CONV2D || !av_nn__xnn_qgemm_available() ||
        !av_nn__xnn_qconv_common_ok(g, n))
        return false;
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *y = av_nn__xnn_out(g, n, 0);
    return w->dims[0] == 1 && w->dims[3] == x->dims[3] && y->dims[3] == x->dims[3];
}

void av_nn__xnn_qdw_free(av_nn__xnn_qdw *k)
{
    if (!k)
        return;
    free(k->packed);
    free(k->packed3);
    free(k->wt);
    free(k->bias);
    free(k->zrow);
    free(k);
}

/* Word j (0..15) of a group's vector pair holds this channel of the group. */
static size_t lane_channel(size_t j)
{
    return j < 8 ? (j < 4 ? j : j + 4) : (j < 12 ? j - 4 : j);
}

av_nn_status av_nn__xnn_qdw_prepare(const av_nn__graph *g, const av_nn__node *n,
                                    av_nn__xnn_node *s, char *err, size_t errlen)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *b = av_nn__xnn_in(g, n, 2), *y = av_nn__xnn_out(g, n, 0);
    const av_nn__conv_params *p = &n->p.conv;
    av_nn__xnn_qdw *k = calloc(1, sizeof *k);
    if (!k)
        goto nomem;
    k->batch = (size_t)x->dims[0], k->h = (size_t)x->dims[1], k->w = (size_t)x->dims[2];
    k->c = (size_t)x->dims[3], k->oh = (size_t)y->dims[1], k->ow = (size_t)y->dims[2];
    k->kh = w->dims[1], k->kw = w->dims[2], k->sh = p->stride_h, k->sw = p->stride_w;
    k->dh = p->dilation_h, k->dw = p->dilation_w, k->pt = p->pad_top, k->pl = p->pad_left;
    k->ks = (size_t)(k->kh * k->kw), k->pairs = (k->ks + 1) / 2, k->groups = k->c / CG;
    k->group_words = CG + k->pairs * CG;
    k->cols3 = k->ow ? (k->ow - 1) * (size_t)k->sw + 3 : 0;
    /* the column kernel only where it measured faster (top of the file) */
    bool k3 = k->kh == 3 && k->kw == 3 && k->dh == 1 && k->dw == 1 && k->groups;
    k->stream = k3 && k->sh <= 2 && k->sw <= 2 && av_nn__switch_on(&qdws_sw);
    bool use3 = k->stream || (k3 && k->sh == 1 && k->sw == 1 && k->groups <= QDW3_GROUPS &&
                              k->cols3 <= COLS3 && av_nn__switch_on(&qdw3_sw));
    /* the general kernel's weights only where it runs the full groups */
    size_t bytes = (k->groups ? k->groups : 1) * k->group_words * sizeof(int32_t);
    k->packed = use3 ? NULL : aligned_alloc(64, (bytes + 63) / 64 * 64);
    k->wt = malloc(k->ks * k->c * sizeof *k->wt);
    k->bias = malloc(k->c * sizeof *k->bias);
    k->zrow = malloc(k->c);
    if ((!use3 && !k->packed) || !k->wt || !k->bias || !k->zrow)
        goto nomem;
    if (k->packed)
        memset(k->packed, 0, bytes);
    const uint8_t *wq = w->data; /* 1 x kh x kw x c */
    const int32_t *bq = b ? b->data : NULL;
    int32_t xz = x->quant.zero_point, wz = w->quant.zero_point;
    memset(k->zrow, xz, k->c);
    for (size_t c = 0; c < k->c; c++) {
        int32_t sum = 0;
        for (size_t t = 0; t < k->ks; t++) {
            int32_t v = (int32_t)wq[t * k->c + c] - wz;
            k->wt[t * k->c + c] = (int16_t)v;
            sum += v;
        }
        /* exact in int32: |sum| <= 64 * 255, |xz * sum| < 2^22 */
        k->bias[c] = (int32_t)((uint32_t)(bq ? bq[c] : 0) - (uint32_t)(xz * sum));
    }
    for (size_t gi = 0; k->packed && gi < k->groups; gi++) {
        int32_t *t = k->packed + gi * k->group_words;
        for (size_t j = 0; j < CG; j++) {
            size_t c = gi * CG + lane_channel(j);
            t[j] = k->bias[c];
            for (size_t q = 0; q < k->pairs; q++) {
                int16_t w0 = k->wt[2 * q * k->c + c];
                int16_t w1 = 2 * q + 1 < k->ks ? k->wt[(2 * q + 1) * k->c + c] : 0;
                t[CG + q * CG + j] =
                    (int32_t)((uint32_t)(uint16_t)w0 | (uint32_t)(uint16_t)w1 << 16);
            }
        }
    }
    if (use3) {
        k->packed3 = aligned_alloc(64, k->groups * WORDS3 * sizeof(int32_t));
        if (!k->packed3)
            goto nomem;
        for (size_t gi = 0; gi < k->groups; gi++) {
            int32_t *t = k->packed3 + gi * WORDS3;
            for (size_t j = 0; j < CG; j++) {
                size_t c = gi * CG + lane_channel(j);
                t[j] = k->bias[c];
                for (size_t kx = 0; kx < 3; kx++) {
                    int16_t w0 = k->wt[kx * k->c + c], w1 = k->wt[(3 + kx) * k->c + c];
                    int16_t w2 = k->wt[(6 + kx) * k->c + c];
                    t[CG + kx * 2 * CG + j] =
                        (int32_t)((uint32_t)(uint16_t)w0 | (uint32_t)(uint16_t)w1 << 16);
                    t[CG + kx * 2 * CG + CG + j] = (int32_t)(uint32_t)(uint16_t)w2;
                }
            }
        }
    }
    int32_t lo, hi;
    av_nn__xnn_qbounds(&p->act, y, &lo, &hi);
    k->yz = (int16_t)y->quant.zero_point, k->ymin = (uint8_t)lo, k->ymax = (uint8_t)hi;
    k->scale = av_nn__xnn_qreq_scale(x, w, y);
    k->ymax_less_yz = (float)(hi - y->quant.zero_point);
    /* |sum| <= |bias| + 255 * sum over taps of |w - wz| (x is 0..255) */
    double most = 0;
    for (size_t c = 0; c < k->c; c++) {
        double m = fabs((double)k->bias[c]);
        for (size_t t = 0; t < k->ks; t++)
            m += 255.0 * abs(k->wt[t * k->c + c]);
        most = m > most ? m : most;
    }
    k->plain_req = av_nn__xnn_req_plain_ok(most, k->scale, lo, hi);
    s->qdw = k;
    s->what = "own qu8 depthwise convolution (AVX2)";
    return AV_NN_OK;
nomem:
    av_nn__xnn_qdw_free(k);
    return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "node '%s' (%s): out of memory packing weights",
                       n->name ? n->name : "", av_nn__op_name(n->op));
}

/* XNNPACK's fp32 requantisation of one sum, in scalar code: the same float
 * product and clamp, round to nearest even (lrintf in the default mode), the
 * saturations of its packs folded into the final clamp. */
static uint8_t requant1(const av_nn__xnn_qdw *k, int32_t acc)
{
    float f = fminf((float)acc * k->scale, k->ymax_less_yz);
    if (f < -65536.0f)
        f = -65536.0f; /* keeps lrintf in range; far below any output */
    long v = lrintf(f) + k->yz;
    return (uint8_t)(v < k->ymin ? k->ymin : v > k->ymax ? k->ymax : v);
}

#ifdef QDW_X86

typedef struct qdw_job {
    const av_nn__xnn_qdw *k;
    const uint8_t *x;
    uint8_t *y;
} qdw_job;

/* Groups [g0, g0 + ng) of one output pixel whose ks taps read rows tp. */
__attribute__((target("avx2"), always_inline)) static inline void
pixel_groups_ks(const av_nn__xnn_qdw *k, const uint8_t *const *tp, size_t g0, size_t ng,
                uint8_t *out, size_t ks)
{
    const __m256 vs = _mm256_set1_ps(k->scale), vmax = _mm256_set1_ps(k->ymax_less_yz);
    const __m256i vzp = _mm256_set1_epi16(k->yz);
    const __m128i vlo = _mm_set1_epi8((char)k->ymin), vhi = _mm_set1_epi8((char)k->ymax);
    for (size_t gi = g0; gi < g0 + ng; gi++) {
        const int32_t *w = k->packed + gi * k->group_words;
        size_t off = gi * CG;
        __m256i alo = _mm256_load_si256((const __m256i *)w);
        __m256i ahi = _mm256_load_si256((const __m256i *)(w + 8));
        w += CG;
        size_t t = 0;
        for (; t + 1 < ks; t += 2, w += CG) {
            __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(tp[t] + off)));
            __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(tp[t + 1] + off)));
            alo = _mm256_add_epi32(alo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b),
                                                          _mm256_load_si256((const __m256i *)w)));
            ahi = _mm256_add_epi32(ahi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b),
                                                          _mm256_load_si256((const __m256i *)(w + 8))));
        }
        if (t < ks) { /* odd tap count: the last tap's partner weight is zero */
            __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(tp[t] + off)));
            __m256i z = _mm256_setzero_si256();
            alo = _mm256_add_epi32(alo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, z),
                                                          _mm256_load_si256((const __m256i *)w)));
            ahi = _mm256_add_epi32(ahi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, z),
                                                          _mm256_load_si256((const __m256i *)(w + 8))));
        }
        __m256i ilo = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(alo), vs), vmax));
        __m256i ihi = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(ahi), vs), vmax));
        /* per lane: (0-3, 4-7) and (8-11, 12-15): in order again */
        __m256i p = _mm256_adds_epi16(_mm256_packs_epi32(ilo, ihi), vzp);
        __m128i u = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        _mm_storeu_si128((__m128i *)(out + off), _mm_min_epu8(_mm_max_epu8(u, vlo), vhi));
    }
}

/* 3x3 (MobileNet's) with the tap loop unrolled, and any other size. */
__attribute__((target("avx2"))) static void pixel_groups9(const av_nn__xnn_qdw *k,
                                                         const uint8_t *const *tp, size_t g0,
                                                         size_t ng, uint8_t *out)
{
    pixel_groups_ks(k, tp, g0, ng, out, 9);
}

__attribute__((target("avx2"))) static void pixel_groups(const av_nn__xnn_qdw *k,
                                                        const uint8_t *const *tp, size_t g0,
                                                        size_t ng, uint8_t *out)
{
    pixel_groups_ks(k, tp, g0, ng, out, k->ks);
}

/* The 16 sums of one group (alo: channels 0-3, 8-11; ahi: 4-7, 12-15) to
 * u8 at out: XNNPACK's fp32 requantisation, as pixel_groups_ks does it. */
__attribute__((target("avx2"), always_inline)) static inline void
store_group(__m256i alo, __m256i ahi, uint8_t *out, __m256 vs, __m256 vmax, __m256i vzp,
            __m128i vlo, __m128i vhi);

/* The same where req_plain says the clamps change nothing (plain_req). */
__attribute__((target("avx2"), always_inline)) static inline void
store_group_plain(__m256i alo, __m256i ahi, uint8_t *out, __m256 vs, __m256i vzp)
{
    __m256i ilo = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(alo), vs));
    __m256i ihi = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(ahi), vs));
    __m256i p = _mm256_adds_epi16(_mm256_packs_epi32(ilo, ihi), vzp);
    __m128i u = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    _mm_storeu_si128((__m128i *)out, u);
}

__attribute__((target("avx2"), always_inline)) static inline void
store_group(__m256i alo, __m256i ahi, uint8_t *out, __m256 vs, __m256 vmax, __m256i vzp,
            __m128i vlo, __m128i vhi)
{
    __m256i ilo = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(alo), vs), vmax));
    __m256i ihi = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(ahi), vs), vmax));
    __m256i p = _mm256_adds_epi16(_mm256_packs_epi32(ilo, ihi), vzp);
    __m128i u = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    _mm_storeu_si128((__m128i *)out, _mm_min_epu8(_mm_max_epu8(u, vlo), vhi));
}

/* The column kernel (3x3, dilation 1): one output row's groups [g0, g0 + ng)
 * into yrow, from input rows rowp[0..3) (NULL: a padding row). */
__attribute__((target("avx2"))) static void qdw3_row(const av_nn__xnn_qdw *k,
                                                    const uint8_t *const *rowp, size_t g0,
                                                    size_t ng, uint8_t *yrow)
{
    /* per column: (row 0, row 1) pairs of channels 0-3, 8-11 and 4-7, 12-15,
     * then (row 2, 0) the same */
    _Alignas(32) __m256i col[COLS3][4];
    const __m256i zero = _mm256_setzero_si256();
    const __m256 vs = _mm256_set1_ps(k->scale), vmax = _mm256_set1_ps(k->ymax_less_yz);
    const __m256i vzp = _mm256_set1_epi16(k->yz);
    const __m128i vlo = _mm_set1_epi8((char)k->ymin), vhi = _mm_set1_epi8((char)k->ymax);
    const size_t ow = k->ow, sw = (size_t)k->sw, c = k->c;
    for (size_t gi = g0; gi < g0 + ng; gi++) {
        size_t off = gi * CG;
        const uint8_t *z = k->zrow + off;
        for (size_t j = 0; j < k->cols3; j++) {
            int64_t ix = (int64_t)j - k->pl;
            bool in = ix >= 0 && ix < (int64_t)k->w;
            size_t at = in ? (size_t)ix * k->c + off : 0;
            const uint8_t *p0 = in && rowp[0] ? rowp[0] + at : z;
            const uint8_t *p1 = in && rowp[1] ? rowp[1] + at : z;
            const uint8_t *p2 = in && rowp[2] ? rowp[2] + at : z;
            __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p0));
            __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p1));
            __m256i d = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p2));
            col[j][0] = _mm256_unpacklo_epi16(a, b);
            col[j][1] = _mm256_unpackhi_epi16(a, b);
            col[j][2] = _mm256_unpacklo_epi16(d, zero);
            col[j][3] = _mm256_unpackhi_epi16(d, zero);
        }
        const __m256i *w = (const __m256i *)(k->packed3 + gi * WORDS3);
        for (size_t ox = 0; ox < ow; ox++) {
            const __m256i(*cj)[4] = col + ox * sw;
            __m256i alo = _mm256_load_si256(w), ahi = _mm256_load_si256(w + 1);
            for (int kx = 0; kx < 3; kx++) {
                const __m256i *wk = w + 2 + 4 * kx;
                alo = _mm256_add_epi32(alo, _mm256_madd_epi16(cj[kx][0], _mm256_load_si256(wk)));
                ahi = _mm256_add_epi32(ahi, _mm256_madd_epi16(cj[kx][1], _mm256_load_si256(wk + 1)));
                alo = _mm256_add_epi32(alo, _mm256_madd_epi16(cj[kx][2], _mm256_load_si256(wk + 2)));
                ahi = _mm256_add_epi32(ahi, _mm256_madd_epi16(cj[kx][3], _mm256_load_si256(wk + 3)));
            }
            store_group(alo, ahi, yrow + ox * c + off, vs, vmax, vzp, vlo, vhi);
        }
    }
}

/* Where one group's input columns are: a padding column (outside 0..w-1)
 * reads the zero-point row z in all three rows, an inside one at ix reads
 * base[r] + (ix * c & mask[r]) (mask 0: a padding row, base z). */
typedef struct stream_rows {
    const uint8_t *base[3], *z;
    size_t mask[3];
    int64_t pl, w, c;
} stream_rows;

__attribute__((always_inline)) static inline void
stream_rows_init(stream_rows *sr, const av_nn__xnn_qdw *k, const uint8_t *const *rowp, size_t off)
{
    sr->z = k->zrow + off;
    for (int r = 0; r < 3; r++) {
        sr->base[r] = rowp[r] ? rowp[r] + off : sr->z;
        sr->mask[r] = rowp[r] ? ~(size_t)0 : 0;
    }
    sr->pl = k->pl, sr->w = (int64_t)k->w, sr->c = (int64_t)k->c;
}

/* Input column j (padded coordinates) of one group as the column kernel
 * pairs it: v[0], v[1] (row 0, row 1), v[2], v[3] (row 2, 0). */
__attribute__((target("avx2"), always_inline)) static inline void
stream_col(const stream_rows *sr, size_t j, __m256i *v)
{
    int64_t ix = (int64_t)j - sr->pl;
    const uint8_t *p0 = sr->z, *p1 = sr->z, *p2 = sr->z;
    if (ix >= 0 && ix < sr->w) { /* padding columns only at the row's ends */
        size_t at = (size_t)(ix * sr->c);
        p0 = sr->base[0] + (at & sr->mask[0]);
        p1 = sr->base[1] + (at & sr->mask[1]);
        p2 = sr->base[2] + (at & sr->mask[2]);
    }
    __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p0));
    __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p1));
    __m256i d = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p2));
    v[0] = _mm256_unpacklo_epi16(a, b);
    v[1] = _mm256_unpackhi_epi16(a, b);
    v[2] = _mm256_unpacklo_epi16(d, _mm256_setzero_si256());
    v[3] = _mm256_unpackhi_epi16(d, _mm256_setzero_si256());
}

/* acc (lo, hi) += column v times tap column kx of the packed weights w. */
#define STREAM_MAC(lo, hi, v, w, kx)                                                              \
    do {                                                                                          \
        const __m256i *wk_ = (w) + 2 + 4 * (kx);                                                  \
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16((v)[0], _mm256_load_si256(wk_)));             \
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16((v)[1], _mm256_load_si256(wk_ + 1)));         \
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16((v)[2], _mm256_load_si256(wk_ + 2)));         \
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16((v)[3], _mm256_load_si256(wk_ + 3)));         \
    } while (0)

/* The streaming kernel, stride 1: one output row's groups [g0, g0 + ng)
 * into yrow. Each input column is widened once and multiplied straight
 * into the three outputs whose windows hold it (three running sums), so
 * nothing goes through memory between the widening and the vpmaddwd (the
 * column kernel's buffer cost it a store and three loads per column). */
__attribute__((target("avx2"), always_inline)) static inline void
qdws_row1_body(const av_nn__xnn_qdw *k, const uint8_t *const *rowp, size_t g0, size_t ng,
          uint8_t *yrow, const bool plain)
{
    const __m256 vs = _mm256_set1_ps(k->scale), vmax = _mm256_set1_ps(k->ymax_less_yz);
    const __m256i vzp = _mm256_set1_epi16(k->yz);
    const __m128i vlo = _mm_set1_epi8((char)k->ymin), vhi = _mm_set1_epi8((char)k->ymax);
    const size_t ow = k->ow, c = k->c;
    for (size_t gi = g0; gi < g0 + ng; gi++) {
        size_t off = gi * CG;
        stream_rows sr;
        stream_rows_init(&sr, k, rowp, off);
        const __m256i *w = (const __m256i *)(k->packed3 + gi * WORDS3);
        const __m256i blo = _mm256_load_si256(w), bhi = _mm256_load_si256(w + 1);
        __m256i v[4];
        /* a0: output ox - 2 (finishing), a1: ox - 1, a2: ox (starting) */
        __m256i a0lo, a0hi, a1lo = blo, a1hi = bhi;
        stream_col(&sr, 0, v);
        STREAM_MAC(a1lo, a1hi, v, w, 0);
        a0lo = a1lo, a0hi = a1hi, a1lo = blo, a1hi = bhi;
        stream_col(&sr, 1, v);
        STREAM_MAC(a0lo, a0hi, v, w, 1);
        STREAM_MAC(a1lo, a1hi, v, w, 0);
        for (size_t ox = 0; ox < ow; ox++) {
            stream_col(&sr, ox + 2, v);
            __m256i a2lo = blo, a2hi = bhi;
            STREAM_MAC(a0lo, a0hi, v, w, 2);
            STREAM_MAC(a1lo, a1hi, v, w, 1);
            STREAM_MAC(a2lo, a2hi, v, w, 0);
            if (plain)
                store_group_plain(a0lo, a0hi, yrow + ox * c + off, vs, vzp);
            else
                store_group(a0lo, a0hi, yrow + ox * c + off, vs, vmax, vzp, vlo, vhi);
            a0lo = a1lo, a0hi = a1hi, a1lo = a2lo, a1hi = a2hi;
        }
    }
}

/* The same at stride 2: input column 2m + 2 finishes output m and starts
 * output m + 1, column 2m + 1 is output m's middle tap. */
__attribute__((target("avx2"), always_inline)) static inline void
qdws_row2_body(const av_nn__xnn_qdw *k, const uint8_t *const *rowp, size_t g0, size_t ng,
          uint8_t *yrow, const bool plain)
{
    const __m256 vs = _mm256_set1_ps(k->scale), vmax = _mm256_set1_ps(k->ymax_less_yz);
    const __m256i vzp = _mm256_set1_epi16(k->yz);
    const __m128i vlo = _mm_set1_epi8((char)k->ymin), vhi = _mm_set1_epi8((char)k->ymax);
    const size_t ow = k->ow, c = k->c;
    for (size_t gi = g0; gi < g0 + ng; gi++) {
        size_t off = gi * CG;
        stream_rows sr;
        stream_rows_init(&sr, k, rowp, off);
        const __m256i *w = (const __m256i *)(k->packed3 + gi * WORDS3);
        const __m256i blo = _mm256_load_si256(w), bhi = _mm256_load_si256(w + 1);
        __m256i v[4];
        __m256i alo = blo, ahi = bhi; /* output ox */
        stream_col(&sr, 0, v);
        STREAM_MAC(alo, ahi, v, w, 0);
        for (size_t ox = 0; ox < ow; ox++) {
            stream_col(&sr, 2 * ox + 1, v);
            STREAM_MAC(alo, ahi, v, w, 1);
            stream_col(&sr, 2 * ox + 2, v);
            __m256i nlo = blo, nhi = bhi;
            STREAM_MAC(alo, ahi, v, w, 2);
            if (ox + 1 < ow)
                STREAM_MAC(nlo, nhi, v, w, 0);
            if (plain)
                store_group_plain(alo, ahi, yrow + ox * c + off, vs, vzp);
            else
                store_group(alo, ahi, yrow + ox * c + off, vs, vmax, vzp, vlo, vhi);
            alo = nlo, ahi = nhi;
        }
    }
}

/* The streaming kernels with and without the clamps. */
__attribute__((target("avx2"))) static void qdws_row1(const av_nn__xnn_qdw *k,
                                                     const uint8_t *const *rowp, size_t g0,
                                                     size_t ng, uint8_t *yrow)
{
    if (k->plain_req)
        qdws_row1_body(k, rowp, g0, ng, yrow, true);
    else
        qdws_row1_body(k, rowp, g0, ng, yrow, false);
}

__attribute__((target("avx2"))) static void qdws_row2(const av_nn__xnn_qdw *k,
                                                     const uint8_t *const *rowp, size_t g0,
                                                     size_t ng, uint8_t *yrow)
{
    if (k->plain_req)
        qdws_row2_body(k, rowp, g0, ng, yrow, true);
    else
        qdws_row2_body(k, rowp, g0, ng, yrow, false);
}

/* Output row r (batch * oh rows) by group tiles [g0, g0 + ng); the tile past
 * the last full group is the channel tail. */
static void qdw_task(void *ctx, size_t r, size_t g0, size_t one, size_t ng)
{
    (void)one;
    const qdw_job *job = ctx;
    const av_nn__xnn_qdw *k = job->k;
    size_t bi = r / k->oh;
    int64_t oy = (int64_t)(r % k->oh);
    bool tail = g0 + ng > k->groups;
    if (tail)
        ng = k->groups - g0;
    const uint8_t *tp[MAX_TAPS], *rowp[MAX_TAPS]; /* rowp: input row of each ky, or NULL */
    for (int64_t ky = 0; ky < k->kh; ky++) {
        int64_t iy = oy * k->sh - k->pt + ky * k->dh;
        rowp[ky] = iy >= 0 && iy < (int64_t)k->h ? job->x + (bi * k->h + (size_t)iy) * k->w * k->c
                                                 : NULL;
    }
    if (k->packed3) { /* a 3x3 kernel; the channel tail below, pixel by pixel */
        if (ng && k->stream && k->sw == 1)
            qdws_row1(k, rowp, g0, ng, job->y + r * k->ow * k->c);
        else if (ng && k->stream)
            qdws_row2(k, rowp, g0, ng, job->y + r * k->ow * k->c);
        else if (ng)
            qdw3_row(k, rowp, g0, ng, job->y + r * k->ow * k->c);
        if (!tail)
            return;
        ng = 0;
    }
    bool prev_inside = false;              /* tp holds an inside window */
    size_t step = (size_t)k->sw * k->c;    /* bytes between windows */
    for (size_t ox = 0; ox < k->ow; ox++) {
        int64_t ix0 = (int64_t)ox * k->sw - k->pl;
        bool inside = ix0 >= 0 && ix0 + (k->kw - 1) * k->dw < (int64_t)k->w;
        if (inside && prev_inside) { /* the window moved by one stride: so did its taps */
            for (int64_t ky = 0; ky < k->kh; ky++)
                for (int64_t kx = 0; rowp[ky] && kx < k->kw; kx++)
                    tp[ky * k->kw + kx] += step;
        } else {
            for (int64_t ky = 0; ky < k->kh; ky++)
                for (int64_t kx = 0; kx < k->kw; kx++) {
                    int64_t ix = ix0 + kx * k->dw;
                    bool in = rowp[ky] && (inside || (ix >= 0 && ix < (int64_t)k->w));
                    tp[ky * k->kw + kx] = in ? rowp[ky] + (size_t)ix * k->c : k->zrow;
                }
        }
        prev_inside = inside;
        uint8_t *out = job->y + (r * k->ow + ox) * k->c;
        if (ng && k->ks == 9)
            pixel_groups9(k, tp, g0, ng, out);
        else if (ng)
            pixel_groups(k, tp, g0, ng, out);
        for (size_t c = k->groups * CG; tail && c < k->c; c++) {
            uint32_t acc = (uint32_t)k->bias[c]; /* wraps as vpaddd does */
            for (size_t t = 0; t < k->ks; t++)
                acc += (uint32_t)((int32_t)tp[t][c] * k->wt[t * k->c + c]);
            out[c] = requant1(k, (int32_t)acc);
        }
    }
}

#endif

void av_nn__xnn_qdw_run(const av_nn__xnn_qdw *k, const uint8_t *x, uint8_t *y,
                        pthreadpool_t pool)
{
#ifdef QDW_X86
    qdw_job job = {k, x, y};
    size_t rows = k->batch * k->oh, tiles = k->groups + (k->c % CG != 0), gt = tiles;
    size_t threads = pthreadpool_get_threads_count(pool);
    if (threads > 1 && rows < threads * 4) { /* few rows: split channels too */
        size_t want = threads * 4;
        gt = (tiles * rows + want - 1) / want;
        gt = gt ? gt : 1;
    }
    pthreadpool_parallelize_2d_tile_2d(pool, qdw_task, &job, rows, tiles, 1, gt, 0);
#else
    (void)k, (void)x, (void)y, (void)pool;
#endif
}
