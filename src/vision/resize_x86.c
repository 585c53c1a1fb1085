/*
 * resize_x86.c - AVX2 versions of the two passes of the Pillow resize
 * (resize.c), chosen at run time. They compute the same integer sums as the
 * scalar passes, so the bytes do not change: the 22-bit coefficients are
 * split k = kh * 2^11 + kl into two 16-bit halves for pmaddwd (exact, as
 * p * k = 2^11 p*kh + p*kl and every partial sum fits in int32).
 * Also one row of the detectors' TF1 bilinear resize, a pixel's three
 * channels in one vector of doubles (the same operations, so the same
 * floats). Why: shrinking a large bird crop to the classifier's 224x224 spent most of
 * its time in the scalar horizontal pass (all source rows x taps x 3).
 */
#include <stdlib.h>
#include <string.h>

#include "vision/vision_int.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <stdatomic.h>

#define PREC 22 /* resize.c PRECISION_BITS */

static atomic_int g_force_scalar;

void av_vision__resize_force_scalar(int on)
{
    atomic_store(&g_force_scalar, on);
}

int av_vision__resize_simd(void)
{
    static atomic_int have = -1; /* workers may ask at once: same answer, no torn value */
    int h = atomic_load(&have);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx2") ? 1 : 0;
        atomic_store(&have, h);
    }
    return h && !atomic_load(&g_force_scalar);
}

/*
 * Per output pixel, its taps in groups of 4, as 2 x 16 int16 (high halves,
 * then low halves): lane 0 holds taps 4g, 4g+1 as [k0 k1 k0 k1 k0 k1 0 0],
 * lane 1 taps 4g+2, 4g+3 the same way (the shuffle below pairs each
 * channel's two pixels). Taps past xmax are 0. NULL when out of memory.
 */
static int16_t *pack_coeffs(int out_w, int ksize, const int *bounds, const int32_t *kk,
                            int *ngroups)
{
    int ng = (ksize + 3) / 4;
    int16_t *c = calloc((size_t)out_w * (size_t)ng * 32, sizeof *c);
    if (!c)
        return NULL;
    for (int xx = 0; xx < out_w; xx++) {
        int n = bounds[xx * 2 + 1];
        const int32_t *k = &kk[(size_t)xx * (size_t)ksize];
        for (int t = 0; t < n; t++) {
            int g = t / 4, lane = (t % 4) / 2, odd = t % 2;
            int16_t *hi = c + ((size_t)xx * (size_t)ng + (size_t)g) * 32;
            int16_t *lo = hi + 16;
            int16_t h = (int16_t)(k[t] >> 11), l = (int16_t)(k[t] & 0x7ff);
            for (int ch = 0; ch < 3; ch++) {
                hi[lane * 8 + ch * 2 + odd] = h;
                lo[lane * 8 + ch * 2 + odd] = l;
            }
        }
    }
    *ngroups = ng;
    return c;
}

static inline uint8_t clip8(int32_t v)
{
    if (v < 0)
        return 0;
    v >>= PREC;
    return v > 255 ? 255 : (uint8_t)v;
}

/* The sums of one output pixel: ng groups of 4 taps from p, coefficients c,
 * as [R G B 0] int32 in each 128-bit half of the result (the two halves are
 * the pixel's tap pairs, added by the caller). Taps past the pixel's own
 * have zero coefficients, so the bytes they read do not count. */
__attribute__((target("avx2"), always_inline)) static inline __m256i
h_sums(const uint8_t *p, const int16_t *c, int ng, __m256i shuf)
{
    __m256i ah = _mm256_setzero_si256(), al = _mm256_setzero_si256();
    for (int g = 0; g < ng; g++, p += 12, c += 32) {
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m256i v = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(b), shuf);
        ah = _mm256_add_epi32(ah, _mm256_madd_epi16(v, _mm256_loadu_si256((const __m256i *)c)));
        al = _mm256_add_epi32(al, _mm256_madd_epi16(v, _mm256_loadu_si256((const __m256i *)(c + 16))));
    }
    /* exact: kh * 2^11 + kl = k, and every sum of p * k fits in int32 */
    return _mm256_add_epi32(_mm256_slli_epi32(ah, 11), al);
}

/* Four pixels' sums (h_sums) to 12 bytes at o: the halves added, rounded,
 * shifted and clamped as clip8 does (a negative sum shifts to a negative
 * that packus makes 0; above 255 saturates to 255). */
__attribute__((target("avx2"), always_inline)) static inline void
h_store4(uint8_t *o, __m256i s0, __m256i s1, __m256i s2, __m256i s3, int n)
{
    const __m256i half = _mm256_set1_epi32(1 << (PREC - 1));
    __m256i t01 = _mm256_add_epi32(_mm256_permute2x128_si256(s0, s1, 0x20),
                                   _mm256_permute2x128_si256(s0, s1, 0x31));
    __m256i t23 = _mm256_add_epi32(_mm256_permute2x128_si256(s2, s3, 0x20),
                                   _mm256_permute2x128_si256(s2, s3, 0x31));
    t01 = _mm256_srai_epi32(_mm256_add_epi32(t01, half), PREC);
    t23 = _mm256_srai_epi32(_mm256_add_epi32(t23, half), PREC);
    /* packs per lane: [p0 p2 | p1 p3] in 64-bit quarters, put back in order */
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(t01, t23), 0xD8);
    __m128i u = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    u = _mm_shuffle_epi8(u, _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1));
    if (n == 4) {
        _mm_storel_epi64((__m128i *)(void *)o, u);
        int32_t last = _mm_extract_epi32(u, 2);
        memcpy(o + 8, &last, 4);
    } else {
        uint8_t tmp[16];
        _mm_storeu_si128((__m128i *)(void *)tmp, u);
        memcpy(o, tmp, (size_t)n * 3);
    }
}

/* One output pixel the scalar way (its 16-byte loads would pass limit). */
static void h_scalar1(uint8_t *o, const uint8_t *p, const int32_t *k, int n)
{
    int32_t s0 = 1 << (PREC - 1), s1 = s0, s2 = s0;
    for (int x = 0; x < n; x++, p += 3) {
        s0 += p[0] * k[x];
        s1 += p[1] * k[x];
        s2 += p[2] * k[x];
    }
    o[0] = clip8(s0), o[1] = clip8(s1), o[2] = clip8(s2);
}

/*
 * Rows [row0, row0 + nrows) of src: every output pixel sums ng groups of
 * 4 taps (the widest pixel's; a narrower one's extra taps weigh 0), four
 * pixels stored at once. The pixels from vend on (their ng groups' loads
 * would pass the image's end on the last row) are done the scalar way on
 * every row, which gives the same bytes.
 * Rows go in chunks of `chunk`: each block of four output pixels runs down
 * the chunk's rows before the next block, so its coefficients (ng * 256
 * bytes) are read from L1 chunk times instead of once per row from L2 (a
 * 224-wide row's table is 43 KB for a 4.6x shrink, more than L1 holds).
 * chunk 1 is the row-by-row order. The sums are the same either way.
 */
__attribute__((target("avx2"))) static void
h_rows(uint8_t *dst, int out_w, const uint8_t *src, int in_w, int row0, int nrows, int ksize,
       const int *bounds, const int32_t *kk, const int16_t *co, int ng, int vend, int chunk)
{
    /* lane 0: R0 R1 G0 G1 B0 B1 of pixels 0, 1; lane 1: the same of pixels 2, 3 */
    const __m256i shuf = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1,
                                          -1, 6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1,
                                          -1, -1);
    size_t ib = (size_t)in_w * 3, ob = (size_t)out_w * 3, cs = (size_t)ng * 32;
    for (int y0 = 0; y0 < nrows; y0 += chunk) {
        int y1 = nrows - y0 < chunk ? nrows : y0 + chunk;
        const uint8_t *in0 = src + (size_t)(row0 + y0) * ib;
        uint8_t *o0 = dst + (size_t)y0 * ob;
        int xx = 0;
        for (; xx + 4 <= vend; xx += 4) {
            const int16_t *c = co + (size_t)xx * cs;
            size_t b0 = (size_t)bounds[xx * 2] * 3, b1 = (size_t)bounds[xx * 2 + 2] * 3;
            size_t b2 = (size_t)bounds[xx * 2 + 4] * 3, b3 = (size_t)bounds[xx * 2 + 6] * 3;
            const uint8_t *in = in0;
            uint8_t *o = o0 + 3 * (size_t)xx;
            for (int yy = y0; yy < y1; yy++, in += ib, o += ob) {
                __m256i s0 = h_sums(in + b0, c, ng, shuf);
                __m256i s1 = h_sums(in + b1, c + cs, ng, shuf);
                __m256i s2 = h_sums(in + b2, c + 2 * cs, ng, shuf);
                __m256i s3 = h_sums(in + b3, c + 3 * cs, ng, shuf);
                h_store4(o, s0, s1, s2, s3, 4);
            }
        }
        if (xx < vend) {
            int n = vend - xx;
            const uint8_t *in = in0;
            uint8_t *o = o0 + 3 * (size_t)xx;
            for (int yy = y0; yy < y1; yy++, in += ib, o += ob) {
                __m256i s[4];
                for (int i = 0; i < 4; i++) /* past n: a copy of the first, not stored */
                    s[i] = h_sums(in + (size_t)bounds[(xx + (i < n ? i : 0)) * 2] * 3,
                                  co + (size_t)(xx + (i < n ? i : 0)) * cs, ng, shuf);
                h_store4(o, s[0], s[1], s[2], s[3], n);
            }
            xx = vend;
        }
        for (; xx < out_w; xx++) {
            const uint8_t *in = in0;
            uint8_t *o = o0 + 3 * (size_t)xx;
            for (int yy = y0; yy < y1; yy++, in += ib, o += ob)
                h_scalar1(o, in + (size_t)bounds[xx * 2] * 3, &kk[(size_t)xx * (size_t)ksize],
                          bounds[xx * 2 + 1]);
        }
    }
}

static atomic_int g_h_chunk; /* rows per chunk set by a test; 0: the default */

void av_vision__resize_h_chunk(int rows)
{
    atomic_store(&g_h_chunk, rows > 0 ? rows : 0);
}

/* Rows per chunk of h_rows: a test's choice, else AV_VISION_RESIZE_H_CHUNK
 * (1: row by row, as before chunks; bench comparisons), else 8. */
static int h_chunk(void)
{
    int c = atomic_load(&g_h_chunk);
    if (c > 0)
        return c;
    static atomic_int env = 0;
    c = atomic_load(&env);
    if (c == 0) {
        const char *e = getenv("AV_VISION_RESIZE_H_CHUNK");
        c = e && atoi(e) > 0 && atoi(e) <= 1024 ? atoi(e) : 8;
        atomic_store(&env, c);
    }
    return c;
}

int av_vision__resample_h_simd(uint8_t *dst, int out_w, const uint8_t *src, int in_w, int in_h,
                               int row0, int nrows, int ksize, const int *bounds,
                               const int32_t *kk)
{
    int ng = 0;
    int16_t *co = pack_coeffs(out_w, ksize, bounds, kk, &ng);
    if (!co)
        return -1;
    /* the pixels whose ng groups of 16-byte loads stay inside the image on
     * the last row read: bounds[2x] grows with x, so they are a prefix */
    const uint8_t *limit = src + (size_t)in_w * (size_t)in_h * 3;
    const uint8_t *last = src + (size_t)(row0 + nrows - 1) * (size_t)in_w * 3;
    int vend = 0;
    while (vend < out_w && last + (size_t)bounds[vend * 2] * 3 + (size_t)ng * 12 + 4 <= limit)
        vend++;
    h_rows(dst, out_w, src, in_w, row0, nrows, ksize, bounds, kk, co, ng, vend, h_chunk());
    free(co);
    return 0;
}

/* Output bytes [i, i + 32) of one vertical-pass row: the taps' sums in
 * four registers (the same integer sums as resample_v), rounded, shifted
 * and clamped as clip8 does (packs then packus: a negative sum goes to 0,
 * above 255 to 255). */
__attribute__((target("avx2"), always_inline)) static inline void
v_block32(uint8_t *o, const uint8_t *src, size_t rb, size_t i, int ymin, int ymax,
          const int32_t *k)
{
    const __m256i half = _mm256_set1_epi32(1 << (PREC - 1));
    __m256i a0 = half, a1 = half, a2 = half, a3 = half;
    const uint8_t *row = src + (size_t)ymin * rb + i;
    for (int y = 0; y < ymax; y++, row += rb) {
        __m256i kv = _mm256_set1_epi32(k[y]);
        __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)row);
        __m128i hi = _mm_loadu_si128((const __m128i *)(const void *)(row + 16));
        a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(lo), kv));
        a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), kv));
        a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(hi), kv));
        a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), kv));
    }
    a0 = _mm256_srai_epi32(a0, PREC), a1 = _mm256_srai_epi32(a1, PREC);
    a2 = _mm256_srai_epi32(a2, PREC), a3 = _mm256_srai_epi32(a3, PREC);
    /* packs/packus work per 128-bit lane: put the bytes back in order */
    __m256i w01 = _mm256_permute4x64_epi64(_mm256_packs_epi32(a0, a1), 0xD8);
    __m256i w23 = _mm256_permute4x64_epi64(_mm256_packs_epi32(a2, a3), 0xD8);
    __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi16(w01, w23), 0xD8);
    _mm256_storeu_si256((__m256i *)(void *)(o + i), b);
}

/* The vertical pass (resize.c resample_v): 32 bytes of a row at a time
 * with the sums in registers across the taps, the rest as before (8 bytes
 * at a time through acc, then one by one). */
__attribute__((target("avx2"))) void av_vision__resample_v_simd(uint8_t *dst, int w, int out_h,
                                                                 const uint8_t *src, int ksize,
                                                                 const int *bounds,
                                                                 const int32_t *kk,
                                                                 int32_t *acc)
{
    size_t rb = (size_t)w * 3, n32 = av_vision__resize_v_blocks() ? rb / 32 * 32 : 0;
    size_t n8 = n32 + (rb - n32) / 8 * 8;
    for (int yy = 0; yy < out_h; yy++) {
        int ymin = bounds[yy * 2], ymax = bounds[yy * 2 + 1];
        const int32_t *k = &kk[(size_t)yy * (size_t)ksize];
        uint8_t *o = dst + (size_t)yy * rb;
        for (size_t i = 0; i < n32; i += 32)
            v_block32(o, src, rb, i, ymin, ymax, k);
        for (size_t i = n32; i < rb; i++)
            acc[i] = 1 << (PREC - 1);
        for (int y = 0; y < ymax; y++) {
            const uint8_t *row = src + (size_t)(y + ymin) * rb;
            int32_t ky = k[y];
            __m256i kv = _mm256_set1_epi32(ky);
            size_t i = n32;
            for (; i < n8; i += 8) {
                __m256i px = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(row + i)));
                __m256i a = _mm256_loadu_si256((const __m256i *)(void *)(acc + i));
                _mm256_storeu_si256((__m256i *)(void *)(acc + i),
                                    _mm256_add_epi32(a, _mm256_mullo_epi32(px, kv)));
            }
            for (; i < rb; i++)
                acc[i] += row[i] * ky;
        }
        for (size_t i = n32; i < rb; i++)
            o[i] = clip8(acc[i]);
    }
}

static atomic_int g_v_plain; /* 1: no 32-byte blocks (a test's choice) */

void av_vision__resize_v_plain(int on)
{
    atomic_store(&g_v_plain, on);
}

/* Whether the vertical pass goes in 32-byte register blocks: not when a
 * test or AV_VISION_RESIZE_V_PLAIN=1 (bench comparisons) says so. */
int av_vision__resize_v_blocks(void)
{
    static atomic_int env = -1;
    int e = atomic_load(&env);
    if (e < 0) {
        const char *v = getenv("AV_VISION_RESIZE_V_PLAIN");
        e = v && *v == '1';
        atomic_store(&env, e);
    }
    return !e && !atomic_load(&g_v_plain);
}

/* 3 bytes at p as 4 doubles, the 4th any byte value: a 4-byte load, or 3
 * when the 4th would pass end (checked). The 4th lane's float is never kept:
 * the next pixel's store overwrites it, the last pixel's store masks it. */
__attribute__((target("avx2"), always_inline)) static inline __m256d
px4(const uint8_t *p, const uint8_t *end, int checked)
{
    int32_t u = 0;
    if (!checked || p + 4 <= end)
        memcpy(&u, p, 4);
    else
        memcpy(&u, p, 3);
    return _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(u)));
}

/* Output pixel c of a TF1 bilinear row as 4 floats (3 channels + junk):
 * the same double operations in the same order per channel (no fused
 * multiply-add), then float32. */
__attribute__((target("avx2"), always_inline)) static inline __m128
tf_px(const uint8_t *top, const uint8_t *bot, const uint8_t *end, const int *x0,
      const double *fx, int c, __m256d vfy, int checked)
{
    int a = x0[2 * c], b = x0[2 * c + 1];
    __m256d f = _mm256_set1_pd(fx[c]);
    __m256d tl = px4(top + a, end, checked), tr = px4(top + b, end, checked);
    __m256d bl = px4(bot + a, end, checked), br = px4(bot + b, end, checked);
    __m256d t = _mm256_add_pd(tl, _mm256_mul_pd(_mm256_sub_pd(tr, tl), f));
    __m256d bt = _mm256_add_pd(bl, _mm256_mul_pd(_mm256_sub_pd(br, bl), f));
    return _mm256_cvtpd_ps(_mm256_add_pd(t, _mm256_mul_pd(_mm256_sub_pd(bt, t), vfy)));
}

/* Whether every 4-byte load of the row stays before end (x0 grows with c,
 * so the last pixel's right neighbour is the farthest byte read): then the
 * row runs without the per-load check. Only the image's last row fails. */
static atomic_int g_tf_checked; /* 1: every load checked (a test's choice) */

void av_vision__tf_force_checked(int on)
{
    atomic_store(&g_tf_checked, on);
}

/* AV_VISION_TF_CHECKED=1 checks every load as before rows were told apart
 * (bench comparisons); read once. */
static int tf_checked_always(void)
{
    static atomic_int env = -1;
    int e = atomic_load(&env);
    if (e < 0) {
        const char *v = getenv("AV_VISION_TF_CHECKED");
        e = v && *v == '1';
        atomic_store(&env, e);
    }
    return e || atomic_load(&g_tf_checked);
}

static int row_loads_safe(const uint8_t *top, const uint8_t *bot, const uint8_t *end,
                          const int *x0, int out_w)
{
    if (tf_checked_always())
        return 0;
    const uint8_t *far = (top > bot ? top : bot) + x0[2 * out_w - 1];
    return far + 4 <= end;
}

/* Store v's first three floats as pixel c (see tf_px). */
__attribute__((target("avx2"), always_inline)) static inline void
tf_store(float *o, int c, int out_w, size_t step, size_t plane, __m128 v)
{
    if (plane == 0 && c + 1 < out_w) {
        /* NHWC: four floats at o + 3c, the fourth rewritten by the next pixel
         * (a masked store is microcoded and slow on AMD cores) */
        _mm_storeu_ps(o + (size_t)c * 3, v);
    } else if (plane == 0) { /* the row's last pixel: the next float is not ours */
        _mm_maskstore_ps(o + (size_t)c * 3, _mm_setr_epi32(-1, -1, -1, 0), v);
    } else { /* NCHW: one float per plane */
        float r[4];
        _mm_storeu_ps(r, v);
        o[(size_t)c * step] = r[0];
        o[(size_t)c * step + plane] = r[1];
        o[(size_t)c * step + 2 * plane] = r[2];
    }
}

/*
 * One output row of the TF1 bilinear resize (resize.c), the three channels
 * of a pixel in one vector of doubles (tf_px), then the float32 division
 * when divisor is not 1.
 */
__attribute__((target("avx2"))) void
av_vision__tf_row_simd(const uint8_t *top, const uint8_t *bot, const uint8_t *end,
                       const int *x0, const double *fx, int out_w, double fy, float divisor,
                       float *o, size_t step, size_t plane)
{
    const __m256d vfy = _mm256_set1_pd(fy);
    const __m128 vdiv = _mm_set1_ps(divisor);
    int divide = divisor != 1.0f, c = 0;
    if (row_loads_safe(top, bot, end, x0, out_w)) {
        if (!divide && plane == 0) /* CenterNet's case: 0..255, NHWC */
            for (; c + 1 < out_w; c++)
                _mm_storeu_ps(o + (size_t)c * 3, tf_px(top, bot, end, x0, fx, c, vfy, 0));
        for (; c < out_w; c++) {
            __m128 v = tf_px(top, bot, end, x0, fx, c, vfy, 0);
            tf_store(o, c, out_w, step, plane, divide ? _mm_div_ps(v, vdiv) : v);
        }
        return;
    }
    for (; c < out_w; c++) {
        __m128 v = tf_px(top, bot, end, x0, fx, c, vfy, 1);
        tf_store(o, c, out_w, step, plane, divide ? _mm_div_ps(v, vdiv) : v);
    }
}

/*
 * av_vision__tf_row_simd with the detectors' normalisation fused in: the
 * pixel's float32 channels permuted to the model's order, then the float32
 * subtraction and division (no fused multiply-add: the same floats as the
 * separate pass of tensor.c).
 */
__attribute__((target("avx2"))) void
av_vision__tf_row_norm_simd(const uint8_t *top, const uint8_t *bot, const uint8_t *end,
                            const int *x0, const double *fx, int out_w, double fy,
                            const float mean[3], const float sd[3], const int src[3], float *o,
                            size_t step, size_t plane)
{
    const __m256d vfy = _mm256_set1_pd(fy);
    const __m128 vmean = _mm_setr_ps(mean[0], mean[1], mean[2], 0.0f);
    const __m128 vsd = _mm_setr_ps(sd[0], sd[1], sd[2], 1.0f);
    const __m128i perm = _mm_setr_epi32(src[0], src[1], src[2], 3);
    int checked = !row_loads_safe(top, bot, end, x0, out_w);
    for (int c = 0; c < out_w; c++) {
        __m128 v = checked ? tf_px(top, bot, end, x0, fx, c, vfy, 1)
                           : tf_px(top, bot, end, x0, fx, c, vfy, 0);
        v = _mm_div_ps(_mm_sub_ps(_mm_permutevar_ps(v, perm), vmean), vsd);
        tf_store(o, c, out_w, step, plane, v);
    }
}

#else /* no x86 SIMD: resize.c keeps its scalar passes */

void av_vision__resize_h_chunk(int rows)
{
    (void)rows;
}

void av_vision__tf_force_checked(int on)
{
    (void)on;
}

void av_vision__resize_v_plain(int on)
{
    (void)on;
}

int av_vision__resize_v_blocks(void)
{
    return 0;
}

void av_vision__resize_force_scalar(int on)
{
    (void)on;
}

int av_vision__resize_simd(void)
{
    return 0;
}

int av_vision__resample_h_simd(uint8_t *dst, int out_w, const uint8_t *src, int in_w, int in_h,
                               int row0, int nrows, int ksize, const int *bounds,
                               const int32_t *kk)
{
    (void)dst, (void)out_w, (void)src, (void)in_w, (void)in_h, (void)row0, (void)nrows;
    (void)ksize, (void)bounds, (void)kk;
    return -1;
}

void av_vision__resample_v_simd(uint8_t *dst, int w, int out_h, const uint8_t *src, int ksize,
                                const int *bounds, const int32_t *kk, int32_t *acc)
{
    (void)dst, (void)w, (void)out_h, (void)src, (void)ksize, (void)bounds, (void)kk, (void)acc;
}

void av_vision__tf_row_norm_simd(const uint8_t *top, const uint8_t *bot, const uint8_t *end,
                                 const int *x0, const double *fx, int out_w, double fy,
                                 const float mean[3], const float sd[3], const int src[3],
                                 float *o, size_t step, size_t plane)
{
    (void)top, (void)bot, (void)end, (void)x0, (void)fx, (void)out_w, (void)fy, (void)mean;
    (void)sd, (void)src, (void)o, (void)step, (void)plane;
}

void av_vision__tf_row_simd(const uint8_t *top, const uint8_t *bot, const uint8_t *end,
                            const int *x0, const double *fx, int out_w, double fy, float divisor,
                            float *o, size_t step, size_t plane)
{
    (void)top, (void)bot, (void)end, (void)x0, (void)fx, (void)out_w, (void)fy, (void)divisor;
    (void)o, (void)step, (void)plane;
}

#endif
