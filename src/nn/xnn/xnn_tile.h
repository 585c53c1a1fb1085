/*
 * xnn_tile.h - storing one row of a 16-output register tile (two AVX
 * vectors), the last tile of a layer partly: what xnn_gemm.c's kernels and
 * the RGB stem (xnn_stem.c), which shares the GEMM's tiles, write with.
 * Internal to src/nn/xnn; include only where AVX2+FMA code is compiled.
 */
#ifndef AV_NN_XNN_TILE_H
#define AV_NN_XNN_TILE_H

#include <immintrin.h>
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

#endif
