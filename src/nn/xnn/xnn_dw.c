/*
 * xnn_dw.c - our own f32 depthwise convolution (DEPTHWISE_CONV2D, depth
 * multiplier 1, no dilation) for AVX2+FMA CPUs without AVX-512, and the
 * hard-swish pass over memory that XNNPACK-run ops with a fused HARDSWISH use.
 *
 * Why: XNNPACK's f32 depthwise (Debian's 2022 build) reads KH*KW input
 * pointers and all the weights again for every output pixel; on CenterNet's
 * MobileNetV3 shapes it reaches 13-29 GFLOP/s on a Zen 3 core. This kernel
 * (bench_xnn_dw, 1 thread, CPU time) is 1.3-1.9x faster on 5x5 kernels, on
 * few channels (256x256x16: 1.9x) and with a fused hard-swish, and on a par
 * for large 3x3 layers, which supports() leaves to XNNPACK. The fused
 * hard-swish saves the pass over the tensor that followed each depthwise.
 *
 * Here one pool task computes one output row, pixels in order: a run of 4
 * output pixels whose windows lie inside the row is computed for every block
 * of 16 channels (two vectors; 8 accumulators share each weight load; the
 * tap loop unrolled for 3- and 5-wide kernels; the interior's last run
 * overlaps the one before), so the input is read as it lies in memory. The
 * bias starts the accumulators and the fused activation (clamp, hard-swish,
 * leaky relu in registers; sigmoid and SiLU over the row while it is in L1)
 * is applied before the row is left. Pixels whose window crosses the
 * left/right padding take a checked one-pixel path; rows of the window
 * outside the input are skipped. A last block of fewer than 16 channels uses
 * masked loads and stores (one vector when 8 or fewer), so nothing past the
 * tensor is read.
 *
 * Rows of 3x3 and 5x5 kernels at stride 1 (8 output pixels or more) take
 * the register sliding-window kernel of xnn_dw_slide.c instead (1.1-1.5x
 * faster; the same sums in the same order, so the same bits);
 * AV_NN_XNN_DW_SLIDE=0 keeps them here.
 *
 * Packed weights: cp = channels rounded up to 16, zero padded; cp biases then
 * for each tap (ky, kx) its cp weights.
 */
#include "nn/xnn/xnn_dw_impl.h"

#include "nn/core.h" /* av_nn__silu_fusion_pays */

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CB 16      /* channels per block: two AVX vectors */
#define PX 4       /* output pixels per run */
#define MAX_K 7    /* kernel height and width we take */
#define MAX_S 4    /* stride */
#define HS_CHUNK 16384 /* floats per pool task of the hard-swish pass */


static bool cpu_ok;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static av_nn__switch sw = AV_NN__SWITCH("AV_NN_XNN_DW"); /* "0": off */

/* Same gate as xnn_gemm.c: AVX2+FMA without AVX-512F. */
static void check_cpu(void)
{
#ifdef DW_X86
    __builtin_cpu_init();
    cpu_ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             !__builtin_cpu_supports("avx512f");
#endif
}

void av_nn__xnn_dw_force_off(bool on)
{
    av_nn__switch_force_off(&sw, on);
}

bool av_nn__xnn_dw_available(void)
{
    pthread_once(&cpu_once, check_cpu);
    return cpu_ok && av_nn__switch_on(&sw) && av_nn__silu_fusion_pays();
}

/* This kernel computes exactly node n (speed aside); any_batch: the output
 * may hold other images than the input (xnn_pwdw.c's, whose input tensor
 * holds one image's shape and which runs image by image). */
static bool dw_exact(const av_nn__graph *g, const av_nn__node *n, bool any_batch)
{
    if (n->op != AV_NN_OP_DEPTHWISE_CONV2D || n->p.conv.pw_on)
        return false;
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *b = av_nn__xnn_in(g, n, 2), *y = av_nn__xnn_out(g, n, 0);
    const av_nn__conv_params *p = &n->p.conv;
    if (!x || !w || !y || !w->data || x->dtype != AV_NN_F32 || w->dtype != AV_NN_F32 ||
        y->dtype != AV_NN_F32 || x->rank != 4 || w->rank != 4 || y->rank != 4)
        return false;
    if (av_nn__xnn_numel(x) < 1 || av_nn__xnn_numel(y) < 1 || av_nn__xnn_numel(w) < 1)
        return false;
    int64_t c = x->dims[3];
    if (w->dims[0] != 1 || w->dims[3] != c || y->dims[3] != c ||
        (y->dims[0] != x->dims[0] && !any_batch))
        return false; /* depth multiplier 1 only */
    if (b && (!b->data || b->dtype != AV_NN_F32 || av_nn__xnn_numel(b) != c))
        return false;
    if (w->dims[1] > MAX_K || w->dims[2] > MAX_K || p->dilation_h != 1 || p->dilation_w != 1 ||
        p->stride_h < 1 || p->stride_w < 1 || p->stride_h > MAX_S || p->stride_w > MAX_S ||
        p->pad_top < 0 || p->pad_left < 0 || p->pad_bottom < 0 || p->pad_right < 0 ||
        p->pad_top >= w->dims[1] || p->pad_left >= w->dims[2])
        return false;
    /* the output size the padding gives (floor mode) must be the tensor's */
    int64_t oh = (x->dims[1] + p->pad_top + p->pad_bottom - w->dims[1]) / p->stride_h + 1;
    int64_t ow = (x->dims[2] + p->pad_left + p->pad_right - w->dims[2]) / p->stride_w + 1;
    if (x->dims[1] + p->pad_top + p->pad_bottom < w->dims[1] ||
        x->dims[2] + p->pad_left + p->pad_right < w->dims[2] || oh != y->dims[1] ||
        ow != y->dims[2])
        return false;
    const av_nn__fused_act *a = &p->act;
    float lo, hi;
    return av_nn__xnn_act_bounds(a, &lo, &hi) || a->kind == AV_NN_ACT_SILU ||
           a->kind == AV_NN_ACT_SIGMOID || a->kind == AV_NN_ACT_HARDSWISH ||
           (a->kind == AV_NN_ACT_LEAKY && isfinite(a->alpha));
}

bool av_nn__xnn_dw_takes(const av_nn__graph *g, const av_nn__node *n)
{
    return av_nn__xnn_dw_available() && dw_exact(g, n, false);
}

bool av_nn__xnn_dw_takes_rows(const av_nn__graph *g, const av_nn__node *n)
{
    return av_nn__xnn_dw_available() && dw_exact(g, n, true);
}

bool av_nn__xnn_dw_supports(const av_nn__graph *g, const av_nn__node *n)
{
    if (!av_nn__xnn_dw_takes(g, n))
        return false;
    /* Where ours is faster (bench_xnn_dw, Zen 3): 5x5 kernels, few channels, or
     * an input of at most 1M floats; XNNPACK's streams large 3x3 layers
     * (128x128x72 and up) better. (Fused into a pointwise conv, xnn_dwpw.c,
     * ours runs them all: its output stays in cache.) */
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    return !(w->dims[1] * w->dims[2] < 25 && x->dims[3] > 32 &&
             av_nn__xnn_numel(x) / x->dims[0] > (1 << 20));
}

static size_t packed_floats(const av_nn__xnn_dw *k)
{
    return (size_t)(1 + k->kh * k->kw) * k->cp;
}

void av_nn__xnn_dw_free(av_nn__xnn_dw *k)
{
    if (!k)
        return;
    free(k->packed);
    free(k);
}

av_nn_status av_nn__xnn_dw_prepare(const av_nn__graph *g, const av_nn__node *n,
                                   av_nn__xnn_node *s, char *err, size_t errlen)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *b = av_nn__xnn_in(g, n, 2), *y = av_nn__xnn_out(g, n, 0);
    const av_nn__conv_params *p = &n->p.conv;
    av_nn__xnn_dw *k = calloc(1, sizeof *k);
    if (!k)
        goto nomem;
    k->batch = (size_t)x->dims[0], k->h = (size_t)x->dims[1], k->w = (size_t)x->dims[2];
    k->c = (size_t)x->dims[3], k->oh = (size_t)y->dims[1], k->ow = (size_t)y->dims[2];
    k->cp = (k->c + CB - 1) / CB * CB;
    k->kh = w->dims[1], k->kw = w->dims[2], k->sh = p->stride_h, k->sw = p->stride_w;
    k->pt = p->pad_top, k->pl = p->pad_left;
    /* the filter is a graph constant: its size is bounded by the loader's limits */
    size_t floats = packed_floats(k);
    k->packed = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    if (!k->packed)
        goto nomem;
    memset(k->packed, 0, floats * sizeof(float));
    const float *wf = w->data, *bf = b ? b->data : NULL;
    for (size_t c = 0; c < k->c && bf; c++)
        k->packed[c] = bf[c];
    for (size_t t = 0; t < (size_t)(k->kh * k->kw); t++) /* 1HWC: taps then channels */
        memcpy(k->packed + (1 + t) * k->cp, wf + t * k->c, k->c * sizeof(float));
    k->lo = -INFINITY, k->hi = INFINITY;
    if (!av_nn__xnn_act_bounds(&p->act, &k->lo, &k->hi))
        k->act = p->act.kind, k->alpha = p->act.alpha;
    if (k->act == AV_NN_ACT_HARDSWISH && k->alpha == 0.0f)
        k->alpha = 1.0f / 6;
    s->dw = k;
    s->what = "own f32 depthwise convolution (AVX2+FMA)";
    return AV_NN_OK;
nomem:
    av_nn__xnn_dw_free(k);
    return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "node '%s' (%s): out of memory packing weights",
                       n->name ? n->name : "", av_nn__op_name(n->op));
}

typedef struct dw_job {
    const av_nn__xnn_dw *k;
    const float *x;
    float *y;
} dw_job;

#ifdef DW_X86


/* PX output pixels from ox (their windows inside the row), 16 channels at c0. */
DW_INL void dw_px4(const av_nn__xnn_dw *k, const float *xb, float *yr, int64_t iy0, int64_t ky0,
                int64_t ky1, size_t ox, size_t c0, bool full, bool two, const __m256i *m,
                int64_t kwc)
{
    const size_t C = k->c, cp = k->cp, step = (size_t)k->sw * C;
    const int64_t kw = kwc ? kwc : k->kw; /* a constant 3 or 5: the tap loop unrolled */
    const float *wt = k->packed + cp + c0;
    const __m256 b0 = _mm256_load_ps(k->packed + c0), b1 = _mm256_load_ps(k->packed + c0 + 8);
    __m256 a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const float *xr =
            xb + ((size_t)(iy0 + ky) * k->w + (size_t)((int64_t)ox * k->sw - k->pl)) * C + c0;
        const float *wr = wt + (size_t)(ky * kw) * cp;
        for (int64_t kx = 0; kx < kw; kx++, xr += C, wr += cp) {
            const __m256 w0 = _mm256_load_ps(wr), w1 = two ? _mm256_load_ps(wr + 8) : w0;
            const float *p = xr;
            a00 = _mm256_fmadd_ps(av_nn__dw_ld(p, full, m[0]), w0, a00);
            if (two)
                a01 = _mm256_fmadd_ps(av_nn__dw_ld(p + 8, full, m[1]), w1, a01);
            p += step;
            a10 = _mm256_fmadd_ps(av_nn__dw_ld(p, full, m[0]), w0, a10);
            if (two)
                a11 = _mm256_fmadd_ps(av_nn__dw_ld(p + 8, full, m[1]), w1, a11);
            p += step;
            a20 = _mm256_fmadd_ps(av_nn__dw_ld(p, full, m[0]), w0, a20);
            if (two)
                a21 = _mm256_fmadd_ps(av_nn__dw_ld(p + 8, full, m[1]), w1, a21);
            p += step;
            a30 = _mm256_fmadd_ps(av_nn__dw_ld(p, full, m[0]), w0, a30);
            if (two)
                a31 = _mm256_fmadd_ps(av_nn__dw_ld(p + 8, full, m[1]), w1, a31);
        }
    }
    float *o = yr + ox * C + c0;
    av_nn__dw_st(o, av_nn__dw_act8(a00, k), full, m[0]);
    if (two)
        av_nn__dw_st(o + 8, av_nn__dw_act8(a01, k), full, m[1]);
    o += C;
    av_nn__dw_st(o, av_nn__dw_act8(a10, k), full, m[0]);
    if (two)
        av_nn__dw_st(o + 8, av_nn__dw_act8(a11, k), full, m[1]);
    o += C;
    av_nn__dw_st(o, av_nn__dw_act8(a20, k), full, m[0]);
    if (two)
        av_nn__dw_st(o + 8, av_nn__dw_act8(a21, k), full, m[1]);
    o += C;
    av_nn__dw_st(o, av_nn__dw_act8(a30, k), full, m[0]);
    if (two)
        av_nn__dw_st(o + 8, av_nn__dw_act8(a31, k), full, m[1]);
}

/* One output pixel, 16 channels at c0, taps outside the row skipped. */
DW_INL void dw_px1(const av_nn__xnn_dw *k, const float *xb, float *yr, int64_t iy0, int64_t ky0,
                int64_t ky1, size_t ox, size_t c0, bool full, bool two, const __m256i *m)
{
    const size_t C = k->c, cp = k->cp;
    const int64_t kw = k->kw, ix0 = (int64_t)ox * k->sw - k->pl;
    const float *wt = k->packed + cp + c0;
    __m256 a0 = _mm256_load_ps(k->packed + c0), a1 = _mm256_load_ps(k->packed + c0 + 8);
    int64_t kx0 = ix0 < 0 ? -ix0 : 0, kx1 = (int64_t)k->w - ix0;
    if (kx1 > kw)
        kx1 = kw;
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const float *xr = xb + ((size_t)(iy0 + ky) * k->w) * C + c0;
        const float *wr = wt + (size_t)(ky * kw) * cp;
        for (int64_t kx = kx0; kx < kx1; kx++) {
            const float *p = xr + (size_t)(ix0 + kx) * C, *q = wr + (size_t)kx * cp;
            a0 = _mm256_fmadd_ps(av_nn__dw_ld(p, full, m[0]), _mm256_load_ps(q), a0);
            if (two)
                a1 = _mm256_fmadd_ps(av_nn__dw_ld(p + 8, full, m[1]), _mm256_load_ps(q + 8), a1);
        }
    }
    float *o = yr + ox * C + c0;
    av_nn__dw_st(o, av_nn__dw_act8(a0, k), full, m[0]);
    if (two)
        av_nn__dw_st(o + 8, av_nn__dw_act8(a1, k), full, m[1]);
}

/*
 * Output row oy of image bi: pixels in order (so the input is read as it
 * lies in memory, all channels of a pixel after each other), runs of PX
 * whose windows lie inside the row [in0, in1) without checks.
 */
DW_INL void dw_row_kw(const av_nn__xnn_dw *k, const float *xb, float *yr, int64_t iy0,
                   int64_t ky0, int64_t ky1, size_t in0, size_t in1, int64_t kwc)
{
    const __m256i none[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()}; /* unused */
    __m256i m[2];
    size_t cfull = k->c / CB * CB;
    bool two = k->c - cfull > 8; /* a tail of up to 8 channels: one vector */
    av_nn__dw_masks(k->c - cfull, m);
    for (size_t ox = 0; ox < k->ow;) {
        /* the interior's last pixels: a run overlapping the previous one
         * (recomputing a few outputs) beats the checked path */
        if (ox >= in0 && ox < in1 && ox + PX > in1 && in1 - in0 >= PX)
            ox = in1 - PX;
        if (ox >= in0 && ox + PX <= in1) {
            for (size_t c0 = 0; c0 < cfull; c0 += CB)
                dw_px4(k, xb, yr, iy0, ky0, ky1, ox, c0, true, true, none, kwc);
            if (cfull < k->c && two)
                dw_px4(k, xb, yr, iy0, ky0, ky1, ox, cfull, false, true, m, kwc);
            else if (cfull < k->c)
                dw_px4(k, xb, yr, iy0, ky0, ky1, ox, cfull, false, false, m, kwc);
            ox += PX;
        } else {
            for (size_t c0 = 0; c0 < cfull; c0 += CB)
                dw_px1(k, xb, yr, iy0, ky0, ky1, ox, c0, true, true, none);
            if (cfull < k->c)
                dw_px1(k, xb, yr, iy0, ky0, ky1, ox, cfull, false, two, m);
            ox++;
        }
    }
}

DW_TGT static void dw_row_avx2(const av_nn__xnn_dw *k, const float *xb, float *yr, int64_t iy0,
                            int64_t ky0, int64_t ky1, size_t in0, size_t in1)
{
    if (k->kw == 3)
        dw_row_kw(k, xb, yr, iy0, ky0, ky1, in0, in1, 3);
    else if (k->kw == 5)
        dw_row_kw(k, xb, yr, iy0, ky0, ky1, in0, in1, 5);
    else
        dw_row_kw(k, xb, yr, iy0, ky0, ky1, in0, in1, 0);
}

/* y = x * relu6(x + 3) * c over n floats in place. */
DW_TGT static void hswish_avx2(float *y, size_t n, float c)
{
    const __m256 three = _mm256_set1_ps(3.0f), six = _mm256_set1_ps(6.0f);
    const __m256 zero = _mm256_setzero_ps(), vc = _mm256_set1_ps(c);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(y + i);
        __m256 r = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, three), zero), six);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(v, vc), r));
    }
    for (; i < n; i++) {
        float r = y[i] + 3.0f;
        r = r > 0.0f ? r : 0.0f;
        y[i] = (y[i] * c) * (r > 6.0f ? 6.0f : r);
    }
}

#endif /* DW_X86 */

/* Output row oy of one image into yr from xb, which holds that image's
 * input rows from row `base` on (0: the whole image). */
static void dw_row_at(const av_nn__xnn_dw *k, const float *xb, int64_t base, float *yr,
                      size_t oy)
{
#ifdef DW_X86
    int64_t iy0 = (int64_t)oy * k->sh - k->pt;
    int64_t ky0 = iy0 < 0 ? -iy0 : 0, ky1 = (int64_t)k->h - iy0;
    if (ky1 > k->kh)
        ky1 = k->kh;
    /* pixels whose window lies inside the row: ox*sw >= pl, ox*sw - pl + kw <= w */
    size_t in0 = (size_t)((k->pl + k->sw - 1) / k->sw), in1 = 0;
    if ((int64_t)k->w + k->pl >= k->kw)
        in1 = (size_t)(((int64_t)k->w + k->pl - k->kw) / k->sw + 1);
    if (in1 > k->ow)
        in1 = k->ow;
    if (in1 < in0)
        in1 = in0; /* no such pixel: every one takes the checked path */
    if (!av_nn__xnn_dw_slide_row(k, xb, yr, iy0 - base, ky0, ky1))
        dw_row_avx2(k, xb, yr, iy0 - base, ky0, ky1, in0, in1);
    if (k->act == AV_NN_ACT_SIGMOID)
        av_nn__xnn_sigmoid_span(yr, k->ow * k->c);
    else if (k->act == AV_NN_ACT_SILU)
        av_nn__xnn_silu_span(yr, k->ow * k->c);
#else
    (void)k, (void)xb, (void)base, (void)yr, (void)oy;
#endif
}

static void dw_row_to(const av_nn__xnn_dw *k, const float *x, float *yr, size_t row)
{
    size_t bi = row / k->oh;
    dw_row_at(k, x + bi * k->h * k->w * k->c, 0, yr, row % k->oh);
}

void av_nn__xnn_dw_row_from(const av_nn__xnn_dw *k, const float *rows, size_t base, float *yr,
                            size_t oy)
{
    dw_row_at(k, rows, (int64_t)base, yr, oy);
}

void av_nn__xnn_dw_window(const av_nn__xnn_dw *k, size_t oy, size_t *lo, size_t *hi)
{
    int64_t iy0 = (int64_t)oy * k->sh - k->pt, a = iy0 < 0 ? 0 : iy0, b = iy0 + k->kh;
    *lo = (size_t)a;
    *hi = (size_t)(b > (int64_t)k->h ? (int64_t)k->h : b);
}

static void dw_row(void *ctx, size_t row)
{
    const dw_job *job = ctx;
    dw_row_to(job->k, job->x, job->y + row * job->k->ow * job->k->c, row);
}

void av_nn__xnn_dw_rows(const av_nn__xnn_dw *k, const float *x, float *y, size_t row0,
                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        dw_row_to(k, x, y + i * k->ow * k->c, row0 + i);
}

av_nn__xnn_dw *av_nn__xnn_dw_clone(const av_nn__xnn_dw *k)
{
    av_nn__xnn_dw *d = malloc(sizeof *d);
    if (!d)
        return NULL;
    *d = *k;
    size_t floats = packed_floats(k);
    d->packed = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    if (!d->packed) {
        free(d);
        return NULL;
    }
    memcpy(d->packed, k->packed, floats * sizeof(float));
    return d;
}

void av_nn__xnn_dw_scale_from(av_nn__xnn_dw *dst, const av_nn__xnn_dw *src, const float *s)
{
    size_t taps = (size_t)(src->kh * src->kw), cp = src->cp;
    for (size_t t = 1; t <= taps; t++) /* row 0: the biases, kept */
        for (size_t c = 0; c < src->c; c++)
            dst->packed[t * cp + c] = src->packed[t * cp + c] * s[c];
}

int av_nn__xnn_dw_se_init(av_nn__xnn_dw_se *s, const av_nn__xnn_dw *dw,
                          const av_nn__tensor *scale, size_t images)
{
    *s = (av_nn__xnn_dw_se){0};
    if (!scale)
        return 0;
    size_t copies = scale->dims[0] == 1 ? 1 : images;
    if (!(s->copy = calloc(copies ? copies : 1, sizeof *s->copy)))
        return -1;
    for (; s->n < copies; s->n++)
        if (!(s->copy[s->n] = av_nn__xnn_dw_clone(dw))) {
            av_nn__xnn_dw_se_free(s);
            return -1;
        }
    return 0;
}

void av_nn__xnn_dw_se_scale(const av_nn__xnn_dw_se *s, const av_nn__xnn_dw *dw, const float *sc)
{
    for (size_t i = 0; sc && i < s->n; i++) /* (taps x C floats: cheap) */
        av_nn__xnn_dw_scale_from(s->copy[i], dw, sc + i * dw->c);
}

const av_nn__xnn_dw *av_nn__xnn_dw_se_pick(const av_nn__xnn_dw_se *s, const av_nn__xnn_dw *dw,
                                           size_t img)
{
    return !s->copy ? dw : s->copy[s->n == 1 ? 0 : img];
}

void av_nn__xnn_dw_se_free(av_nn__xnn_dw_se *s)
{
    for (size_t i = 0; s->copy && i < s->n; i++)
        av_nn__xnn_dw_free(s->copy[i]);
    free(s->copy);
    *s = (av_nn__xnn_dw_se){0};
}

size_t av_nn__xnn_dw_row_floats(const av_nn__xnn_dw *k, size_t *rows)
{
    *rows = k->batch * k->oh;
    return k->ow * k->c;
}

void av_nn__xnn_dw_run(const av_nn__xnn_dw *k, const float *x, float *y, pthreadpool_t pool)
{
    dw_job job = {k, x, y};
    pthreadpool_parallelize_1d(pool, dw_row, &job, k->batch * k->oh,
                               PTHREADPOOL_FLAG_DISABLE_DENORMALS);
}

/* ---- hard-swish over memory (a fused HARDSWISH on an op XNNPACK runs) ---- */

typedef struct hs_job {
    float *y;
    size_t n;
    float c;
} hs_job;

static void hs_portable(float *y, size_t n, float c)
{
    for (size_t i = 0; i < n; i++) {
        float r = y[i] + 3.0f;
        r = r > 0.0f ? r : 0.0f;
        y[i] = (y[i] * c) * (r > 6.0f ? 6.0f : r);
    }
}

static void hs_chunk(void *ctx, size_t start, size_t count)
{
    const hs_job *j = ctx;
    size_t i = start * HS_CHUNK, end = (start + count) * HS_CHUNK;
    if (end > j->n)
        end = j->n;
#ifdef DW_X86
    if (av_nn__silu_fusion_pays()) { /* AVX2+FMA, not turned off */
        hswish_avx2(j->y + i, end - i, j->c);
        return;
    }
#endif
    hs_portable(j->y + i, end - i, j->c);
}

void av_nn__xnn_hswish(float *y, size_t n, float alpha, pthreadpool_t pool)
{
    hs_job j = {y, n, alpha != 0.0f ? alpha : 1.0f / 6};
    pthreadpool_parallelize_1d_tile_1d(pool, hs_chunk, &j, (n + HS_CHUNK - 1) / HS_CHUNK, 1, 0);
}

void av_nn__xnn_hswish_span(float *y, size_t n, float alpha)
{
    float c = alpha != 0.0f ? alpha : 1.0f / 6;
#ifdef DW_X86
    if (av_nn__silu_fusion_pays()) {
        hswish_avx2(y, n, c);
        return;
    }
#endif
    hs_portable(y, n, c);
}
