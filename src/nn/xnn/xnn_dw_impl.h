/*
 * xnn_dw_impl.h - what xnn_dw.c (the node, its packing and row driver) and
 * xnn_dw_slide.c (the register sliding-window row kernel) share. Internal to
 * src/nn/xnn.
 */
#ifndef AV_NN_XNN_DW_IMPL_H
#define AV_NN_XNN_DW_IMPL_H

#include "nn/xnn/xnn_impl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define DW_X86 1
#endif

struct av_nn__xnn_dw {
    size_t batch, h, w, c, oh, ow, cp;
    int64_t kh, kw, sh, sw, pt, pl;
    float *packed;     /* cp biases, then for each tap (ky, kx) its cp weights */
    float lo, hi;      /* clamp of the fused activation (also after hard-swish/leaky) */
    av_nn__act act;    /* HARDSWISH, LEAKY (registers), SIGMOID, SILU (row), else NONE */
    float alpha;       /* LEAKY slope; HARDSWISH scale (0: 1/6) */
};

/* Tests and benchmarks: the sliding-window row kernel off (the run kernel
 * computes every row) for the calls from now on; AV_NN_XNN_DW_SLIDE=0 too. */
void av_nn__xnn_dw_slide_force_off(bool on);

#ifdef DW_X86

#define DW_TGT __attribute__((target("avx2,fma")))
#define DW_INL static inline __attribute__((always_inline, target("avx2,fma")))

/* Lanes [0, n) of a 16-channel block set in m[0] (channels 0-7) and m[1]. */
DW_INL void av_nn__dw_masks(size_t n, __m256i m[2])
{
    static const int32_t ones[24] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                     -1, -1, -1, -1, 0,  0,  0,  0,  0,  0,  0,  0};
    /* ones + 16 - n: the first n lanes -1 */
    m[0] = _mm256_loadu_si256((const __m256i *)(ones + 16 - (n < 8 ? n : 8)));
    m[1] = _mm256_loadu_si256((const __m256i *)(ones + 16 - (n > 8 ? n - 8 : 0)));
}

DW_INL __m256 av_nn__dw_ld(const float *p, bool full, __m256i m)
{
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}

DW_INL void av_nn__dw_st(float *p, __m256 v, bool full, __m256i m)
{
    if (full)
        _mm256_storeu_ps(p, v);
    else
        _mm256_maskstore_ps(p, m, v);
}

/* The fused activation in registers: hard-swish or leaky relu, then the clamp. */
DW_INL __m256 av_nn__dw_act8(__m256 v, const av_nn__xnn_dw *k)
{
    if (k->act == AV_NN_ACT_HARDSWISH) {
        __m256 r = _mm256_add_ps(v, _mm256_set1_ps(3.0f));
        r = _mm256_min_ps(_mm256_max_ps(r, _mm256_setzero_ps()), _mm256_set1_ps(6.0f));
        v = _mm256_mul_ps(_mm256_mul_ps(v, _mm256_set1_ps(k->alpha)), r);
    } else if (k->act == AV_NN_ACT_LEAKY) {
        __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        v = _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(k->alpha)), neg);
    }
    return _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(k->lo)), _mm256_set1_ps(k->hi));
}

/* Output row of one image by the sliding-window kernel (xnn_dw_slide.c):
 * xb the image's input rows, iy0 the window's first input row (relative to
 * xb), taps rows [ky0, ky1) inside the input. false: a shape it does not take
 * (or turned off); nothing written then. */
bool av_nn__xnn_dw_slide_row(const av_nn__xnn_dw *k, const float *xb, float *yr, int64_t iy0,
                             int64_t ky0, int64_t ky1);

#endif /* DW_X86 */

#endif
