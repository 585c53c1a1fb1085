/*
 * xnn_dw_slide.c - the f32 depthwise's row kernel with a register sliding
 * window (AVX2+FMA), for 3- and 5-wide kernels at stride 1.
 *
 * Why: the run kernel in xnn_dw.c loads every input vector again for each
 * tap that reads it (about 10 loads per 8 FMAs). Here, for one vector of 8
 * channels, a run of P output pixels keeps its P accumulators and the kw
 * weights of the current tap row in registers; each of the (P-1)*stride + kw
 * input pixels of the run is loaded once and multiplied into every
 * accumulator whose window holds it (P = 8, kw = 5: 12 + 5 loads per 40
 * FMAs). bench_xnn_dw, 1 thread, Zen 3: 1.1-1.5x the run kernel's speed on
 * 5x5 and 1.1-1.3x on most 3x3 layers; large 3x3 layers that stream memory
 * (128x128x128) gain nothing, and 3x3 on 128, 256, ... channels stays with
 * the run kernel (see av_nn__xnn_dw_slide_row). At stride 2 (an input pixel
 * feeds only ceil(kw/2) outputs) the same kernel (P = 4, 6 or 8) was
 * 0.8-1.0x the run kernel's, which keeps those.
 *
 * The sums are the run kernel's, bit for bit: each output starts from its
 * bias and takes its taps in (ky, kx) order, taps outside the input skipped
 * (an input pixel j is added to output p as tap kx = j - p*stride, so kx
 * rises with j). Runs whose window crosses the left or right edge skip the
 * pixels outside; the row's last run overlaps the one before it when P does
 * not divide the row (recomputing a few outputs, same values).
 *
 * Order: runs of P pixels along the row, all channels of a run before the
 * next, so the input is read as it lies in memory (bench_xnn_dw: 16 or 64
 * channels at a time along the whole row was up to 1.2x slower on 64x64x192).
 */
#include "nn/xnn/xnn_dw_impl.h"

static av_nn__switch sw = AV_NN__SWITCH("AV_NN_XNN_DW_SLIDE");

void av_nn__xnn_dw_slide_force_off(bool on)
{
    av_nn__switch_force_off(&sw, on);
}

#ifdef DW_X86

/* Output pixels per run: 8 accumulators + 5 weights + the input vector fit
 * the 16 registers (bench_xnn_dw: 10 spills and was 1.1-1.3x slower, 12
 * more so; 4 or 6 on 3x3 was up to 1.15x slower: fewer independent sums to
 * cover the FMA latency). */
#define PMAX 8

/*
 * Outputs [ox, ox + P) of the row, the 8 channels at c0 (lanes of m when not
 * full). KW, S: the kernel width and stride (constants: loops unrolled, the
 * accumulators and weights in registers). CHK: skip input pixels outside
 * [0, w) (a run at the row's edge).
 */
DW_INL void slide_run(const av_nn__xnn_dw *k, const float *xb, float *yr, int64_t iy0,
                      int64_t ky0, int64_t ky1, size_t ox, size_t c0, bool full, __m256i m,
                      const int P, const int KW, const int S, const bool CHK)
{
    const size_t C = k->c, cp = k->cp;
    const int64_t ix0 = (int64_t)ox * S - k->pl, w = (int64_t)k->w;
    const float *wt = k->packed + cp + c0;
    __m256 acc[PMAX], wv[5];
    const __m256 b = _mm256_load_ps(k->packed + c0);
#pragma GCC unroll 8
    for (int p = 0; p < P; p++)
        acc[p] = b;
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const float *xr = xb + (size_t)(iy0 + ky) * k->w * C + c0;
        const float *wr = wt + (size_t)(ky * KW) * cp;
#pragma GCC unroll 5
        for (int kx = 0; kx < KW; kx++)
            wv[kx] = _mm256_load_ps(wr + (size_t)kx * cp);
#pragma GCC unroll 24
        for (int j = 0; j < (P - 1) * S + KW; j++) {
            if (CHK && (ix0 + j < 0 || ix0 + j >= w))
                continue;
            const __m256 x = av_nn__dw_ld(xr + (size_t)(ix0 + j) * C, full, m);
#pragma GCC unroll 8
            for (int p = 0; p < P; p++) {
                const int kx = j - p * S;
                if (kx >= 0 && kx < KW)
                    acc[p] = _mm256_fmadd_ps(x, wv[kx], acc[p]);
            }
        }
    }
    float *o = yr + ox * C + c0;
#pragma GCC unroll 8
    for (int p = 0; p < P; p++)
        av_nn__dw_st(o + (size_t)p * C, av_nn__dw_act8(acc[p], k), full, m);
}

/* The row: runs of P pixels along it (the last one overlapping the one
 * before), all channels of a run before the next (the input read as it lies
 * in memory). */
DW_INL void slide_row(const av_nn__xnn_dw *k, const float *xb, float *yr, int64_t iy0,
                      int64_t ky0, int64_t ky1, const int P, const int KW, const int S)
{
    const size_t C = k->c, ow = k->ow;
    const __m256i none = _mm256_setzero_si256();
    __m256i m[2];
    size_t cfull = C / 8 * 8;
    av_nn__dw_masks(C - cfull, m);
    for (size_t ox = 0; ox < ow; ox += P) {
        size_t o = ox + P <= ow ? ox : ow - P;
        int64_t ix0 = (int64_t)o * S - k->pl;
        bool in = ix0 >= 0 && ix0 + (P - 1) * S + KW <= (int64_t)k->w;
        for (size_t c = 0; c < cfull; c += 8)
            if (in)
                slide_run(k, xb, yr, iy0, ky0, ky1, o, c, true, none, P, KW, S, false);
            else
                slide_run(k, xb, yr, iy0, ky0, ky1, o, c, true, none, P, KW, S, true);
        if (cfull < C && in)
            slide_run(k, xb, yr, iy0, ky0, ky1, o, cfull, false, m[0], P, KW, S, false);
        else if (cfull < C)
            slide_run(k, xb, yr, iy0, ky0, ky1, o, cfull, false, m[0], P, KW, S, true);
    }
}

#define SLIDE(P, KW, S)                                                                       \
    DW_TGT static void slide_k##KW##_s##S(const av_nn__xnn_dw *k, const float *xb, float *yr, \
                                          int64_t iy0, int64_t ky0, int64_t ky1)              \
    {                                                                                         \
        slide_row(k, xb, yr, iy0, ky0, ky1, P, KW, S);                                        \
    }
SLIDE(PMAX, 3, 1)
SLIDE(PMAX, 5, 1)

bool av_nn__xnn_dw_slide_row(const av_nn__xnn_dw *k, const float *xb, float *yr, int64_t iy0,
                             int64_t ky0, int64_t ky1)
{
    if (k->ow < PMAX || k->sw != 1 || (k->kw != 3 && k->kw != 5) ||
        !av_nn__switch_on(&sw))
        return false;
    /* 3x3 on 128, 256, ... channels: a pixel is 512 B or a multiple apart, so
     * a run's 10 input pixels in 3 rows crowd a few L1 sets; bench_xnn_dw
     * (bands): 0.84-1.03x the run kernel at 128x128x128, 0.95-0.97x at 32x32
     * and 64x64x256, where 384 or 528 channels run 1.25-1.3x faster. */
    if (k->kw == 3 && k->c >= 128 && (k->c & (k->c - 1)) == 0)
        return false;
    if (k->kw == 3)
        slide_k3_s1(k, xb, yr, iy0, ky0, ky1);
    else
        slide_k5_s1(k, xb, yr, iy0, ky0, ky1);
    return true;
}

#endif /* DW_X86 */
