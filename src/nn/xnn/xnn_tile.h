/*
 * xnn_tile.h - storing a 16-output register tile (two AVX vectors a row,
 * six rows), the last tile of a layer partly: what xnn_gemm.c's kernels and
 * the RGB stem (xnn_stem.c), which shares the GEMM's tiles, write with.
 * Internal to src/nn/xnn; include only where AVX2+FMA code is compiled.
 */
#ifndef AV_NN_XNN_TILE_H
#define AV_NN_XNN_TILE_H

#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes the first n (< 8) lanes of v to p: nothing past them is touched. */
__attribute__((target("avx2,fma"))) static inline void av_nn__tile_store_part(float *p, __m256 v,
                                                                              size_t n)
{
    static const int32_t mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    _mm256_maskstore_ps(p, _mm256_loadu_si256((const __m256i *)(mask + 8 - n)), v);
}

/* Outputs [0, min(nc, 16)) of one tile row: lo holds 0-7, hi 8-15. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
av_nn__tile_store_row(float *p, __m256 lo, __m256 hi, size_t nc)
{
    if (nc >= 16) {
        _mm256_storeu_ps(p, lo);
        _mm256_storeu_ps(p + 8, hi);
    } else if (nc >= 8) {
        _mm256_storeu_ps(p, lo);
        if (nc > 8)
            av_nn__tile_store_part(p + 8, hi, nc - 8);
    } else {
        av_nn__tile_store_part(p, lo, nc);
    }
}

/* The 6x16 tile's end: rows 0-5 (lo, hi halves) clamped to [vlo, vhi] when
 * clamp is set (24 ops on the FP pipes: worth skipping where there is no
 * bound), then rows [0, mr) stored cs floats apart, outputs [0, min(nc, 16)). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
av_nn__tile_store_6x16(float *c, size_t cs, size_t mr, size_t nc, bool clamp, bool clamp_hi,
                       __m256 vlo, __m256 vhi, __m256 c00, __m256 c01, __m256 c10, __m256 c11, __m256 c20,
                       __m256 c21, __m256 c30, __m256 c31, __m256 c40, __m256 c41, __m256 c50,
                       __m256 c51)
{
    if (clamp && !clamp_hi) { /* max_ps(r, lo) is never NaN: min_ps(r, +inf) would be r */
#define AV_NN__TILE_CLAMP(r) r = _mm256_max_ps(r, vlo)
        AV_NN__TILE_CLAMP(c00), AV_NN__TILE_CLAMP(c01), AV_NN__TILE_CLAMP(c10);
        AV_NN__TILE_CLAMP(c11), AV_NN__TILE_CLAMP(c20), AV_NN__TILE_CLAMP(c21);
        AV_NN__TILE_CLAMP(c30), AV_NN__TILE_CLAMP(c31), AV_NN__TILE_CLAMP(c40);
        AV_NN__TILE_CLAMP(c41), AV_NN__TILE_CLAMP(c50), AV_NN__TILE_CLAMP(c51);
#undef AV_NN__TILE_CLAMP
    } else if (clamp) {
#define AV_NN__TILE_CLAMP(r) r = _mm256_min_ps(_mm256_max_ps(r, vlo), vhi)
        AV_NN__TILE_CLAMP(c00), AV_NN__TILE_CLAMP(c01), AV_NN__TILE_CLAMP(c10);
        AV_NN__TILE_CLAMP(c11), AV_NN__TILE_CLAMP(c20), AV_NN__TILE_CLAMP(c21);
        AV_NN__TILE_CLAMP(c30), AV_NN__TILE_CLAMP(c31), AV_NN__TILE_CLAMP(c40);
        AV_NN__TILE_CLAMP(c41), AV_NN__TILE_CLAMP(c50), AV_NN__TILE_CLAMP(c51);
#undef AV_NN__TILE_CLAMP
    }
    av_nn__tile_store_row(c, c00, c01, nc);
    if (mr > 1)
        av_nn__tile_store_row(c + cs, c10, c11, nc);
    if (mr > 2)
        av_nn__tile_store_row(c + 2 * cs, c20, c21, nc);
    if (mr > 3)
        av_nn__tile_store_row(c + 3 * cs, c30, c31, nc);
    if (mr > 4)
        av_nn__tile_store_row(c + 4 * cs, c40, c41, nc);
    if (mr > 5)
        av_nn__tile_store_row(c + 5 * cs, c50, c51, nc);
}

#endif
