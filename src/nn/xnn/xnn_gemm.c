/*
 * xnn_gemm.c - our own f32 dense convolution (CONV2D, groups 1) for AVX2+FMA
 * CPUs without AVX-512: an indirect GEMM (output pixels x output channels,
 * summed over kernel taps x input channels) with a 6x16 register tile, the
 * bias loaded into the accumulators and the fused activation (clamps in
 * registers; leaky relu, sigmoid, SiLU on each output row) applied while the
 * tile is still in L1.
 *
 * Why not XNNPACK's: Debian's build of its f32 5x16 FMA3 igemm kernel keeps
 * one of its ten accumulators on the stack (gcc ran out of the 16 ymm
 * registers), so every k step waits on a store-to-load round trip: on an AMD
 * EPYC (Zen 3) it reaches about 35 GFLOP/s of the core's ~95, on every conv
 * shape. The 6x16 tile here uses 12 accumulators + 2 weight vectors + 1
 * broadcast, no spill. AVX-512 CPUs keep XNNPACK's 7x16 AVX-512 kernel.
 *
 * Layout: packed weights are, per tile of NR = 16 output channels (zero
 * padded), NR biases then for each tap (ky, kx) and input channel c the NR
 * weights. The input rows each tap reads are found per block of MR output
 * pixels when the block runs (a padding tap reads a row of zeros), so no
 * indirection buffer is kept. A last tile of <= 8 channels runs a 6x8
 * kernel; few input channels run in row mode (ROW_FLOATS); pointwise convs
 * of 16 to 96 input channels (PWK_TAKES) in pwk_blocks (AV_NN_FUSE_FRONT). 3x3 stride-1
 * convolutions with enough channels go to Winograd instead (xnn_wino.c),
 * which runs its GEMMs on this file's kernel.
 */
#include "nn/xnn/xnn_impl.h"

#include "nn/core.h" /* av_nn__silu_fusion_pays */

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "nn/xnn/xnn_tile.h"
#define GEMM_X86 1
#endif

#define MR 6
#define NR 16
#define MAX_TAPS 64 /* kernel taps; the pointer block of one task lives on its stack */
/* input channels of the pointwise convs pwk_blocks takes (CenterNet's) */
#define PWK_TAKES(cin)                                                                  \
    ((cin) == 16 || (cin) == 18 || (cin) == 24 || (cin) == 32 || (cin) == 64 ||          \
     (cin) == 72 || (cin) == 96)
/* Row mode (few input channels, e.g. the RGB stem): the kw taps of one kernel
 * row read kw * cin consecutive floats of the input row, so the kernel takes
 * them as one tap of kw * cin channels: kw times fewer row pointers and inner
 * loops of kw * cin steps instead of cin (3 for RGB). Pixels whose kernel row
 * crosses the left or right edge read a zero-padded copy on the task's stack,
 * MR * ROW_FLOATS floats at most. */
#define ROW_FLOATS 192
/* Narrow mode: a pointwise conv to at most NARROW_N channels (CenterNet's
 * 128 -> 4 box head at 128x128) wastes 12 of the tile's 16 columns and runs
 * at 10-12 GFLOP/s. Instead each output is a dot product along the input
 * channels, 8 at a time, two pixels sharing each weight load (8
 * accumulators), summed across lanes at the end: a different order of the
 * same sum, within the f32 tolerance of the tile kernel. AV_NN_XNN_NARROW=0
 * turns it off. */
#define NARROW_N 4
#define NARROW_MIN_CIN 16
#define NARROW_PIXELS 64 /* per pool task */

struct av_nn__xnn_gemm {
    av_nn__xnn_geom geo;
    size_t ntiles, tile_floats;               /* NR tiles, floats per packed tile */
    const float *packed; /* shared by the model's contexts (xnn_share.c) */
    float *zero;                              /* kw * cin zeros: what a padding tap reads */
    bool rows;                                /* row mode (see ROW_FLOATS) */
    float lo, hi;                             /* clamp of the fused activation */
    bool residual;                            /* a fused residual add: in[3] (pass_fuse.c) */
    float *narrow; /* pointwise, <= NARROW_N outputs (NARROW_N rows of cin8 weights, then
                    * NARROW_N biases), per context: see narrow_pair; NULL otherwise */
    size_t cin8;   /* cin rounded up to 8 (narrow) */
    av_nn__act post;                          /* LEAKY, SIGMOID, SILU, HARDSWISH per row, else NONE */
    float alpha;
    bool front; /* AV_NN_FUSE_FRONT: pwk_blocks, ReLU's max-only clamp */
    bool pwk;   /* pointwise, K of PWK_TAKES (pwk_blocks) */
};

/* AV_NN_XNN_RES_REG=0: the residual added by a pass over the block after its kernel */
static av_nn__switch res_reg_sw = AV_NN__SWITCH("AV_NN_XNN_RES_REG");
static av_nn__switch front_sw = AV_NN__SWITCH("AV_NN_FUSE_FRONT");

bool av_nn__xnn_front_on(void)
{
    return av_nn__switch_on(&front_sw);
}

void av_nn__front_force_off(bool on)
{
    av_nn__switch_force_off(&front_sw, on);
}

#ifdef GEMM_X86

/* The first nc (<= NR) floats at p into lo and hi (zeros past nc), nothing
 * past them read. */
__attribute__((target("avx2,fma"), always_inline)) static inline void load_row(const float *p,
                                                                               size_t nc,
                                                                               __m256 *lo,
                                                                               __m256 *hi)
{
    static const int32_t mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    *hi = _mm256_setzero_ps();
    if (nc >= 8) {
        *lo = _mm256_loadu_ps(p);
        if (nc >= NR)
            *hi = _mm256_loadu_ps(p + 8);
        else if (nc > 8)
            *hi = _mm256_maskload_ps(p + 8,
                                     _mm256_loadu_si256((const __m256i *)(mask + 16 - nc)));
    } else {
        *lo = _mm256_maskload_ps(p, _mm256_loadu_si256((const __m256i *)(mask + 8 - nc)));
    }
}

/* The 6x8 kernel's last tile when it has nc <= 8 channels: the left half
 * of the tile only (6 accumulators), weights still packed NR wide. */
__attribute__((target("avx2,fma"))) static void ukernel_6x8(size_t mr, size_t nc, size_t kc,
                                                           size_t ks, const float *const *a,
                                                           const float *w, float *c, size_t cs,
                                                           const float *res, __m256 vlo,
                                                           __m256 vhi)
{
    __m256 c0 = _mm256_load_ps(w), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    w += NR;
    for (size_t t = 0; t < ks; t++, a += MR) {
        const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
        for (size_t k = 0; k < kc; k++, w += NR) {
            const __m256 b = _mm256_load_ps(w);
            c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a0 + k), b, c0);
            c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + k), b, c1);
            c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a2 + k), b, c2);
            c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a3 + k), b, c3);
            c4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a4 + k), b, c4);
            c5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a5 + k), b, c5);
        }
    }
    __m256 r[MR] = {c0, c1, c2, c3, c4, c5};
    for (size_t i = 0; i < mr; i++) {
        __m256 v = r[i];
        if (res) { /* the residual, then the clamp: add_clamp_row's order */
            __m256 lo, hi;
            load_row(res + i * cs, nc, &lo, &hi);
            v = _mm256_add_ps(v, lo);
        }
        v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);
        if (nc == 8)
            _mm256_storeu_ps(c + i * cs, v);
        else
            av_nn__tile_store_part(c + i * cs, v, nc);
    }
}

/*
 * C[mr rows, nc cols] = clamp(bias + sum over taps t and channels k of
 * a[t * MR + i][k] * w [+ res]), row stride cs floats. a holds MR row
 * pointers per tap (rows >= mr repeat valid ones and are not stored); w is
 * the packed weights from the first tile of the nc range. res (NULL: none)
 * is the residual laid out as C, added before the clamp while the tile is
 * in registers (add_clamp_row's order: the same bits) instead of a pass over
 * the stored tile: 4-6% off the CenterNet stem's depthwise + 1x1 pair.
 * front (AV_NN_FUSE_FRONT): a ReLU's clamp is max_ps alone (max_ps(v, lo)
 * is never NaN, so min_ps(v, +inf) would give v back: the same bits).
 */
__attribute__((target("avx2,fma"))) static void ukernel_6x16(size_t mr, size_t nc, size_t kc,
                                                            size_t ks, const float *const *a,
                                                            const float *w, float *c, size_t cs,
                                                            const float *res, float lo, float hi,
                                                            bool front)
{
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    /* an unbounded act: no clamp, the residual's add included (the same
     * bits where values are finite; a NaN stays NaN, as in the reference,
     * where add_clamp_row's max_ps made it -inf): 2.5% off the residual
     * convs (bench_nodes -t 1) */
    const bool clamp = lo != -INFINITY || hi != INFINITY;
    const bool clamp_hi = hi != INFINITY || !front;
    for (;;) {
        if (nc <= 8) { /* a last tile of <= 8 channels: half the multiplies */
            ukernel_6x8(mr, nc, kc, ks, a, w, c, cs, res, vlo, vhi);
            return;
        }
        __m256 c00 = _mm256_load_ps(w), c01 = _mm256_load_ps(w + 8);
        __m256 c10 = c00, c11 = c01, c20 = c00, c21 = c01;
        __m256 c30 = c00, c31 = c01, c40 = c00, c41 = c01, c50 = c00, c51 = c01;
        w += NR;
        const float *const *ap = a;
        for (size_t t = 0; t < ks; t++, ap += MR) {
            const float *a0 = ap[0], *a1 = ap[1], *a2 = ap[2];
            const float *a3 = ap[3], *a4 = ap[4], *a5 = ap[5];
            for (size_t k = 0; k < kc; k++, w += NR) {
                const __m256 b0 = _mm256_load_ps(w), b1 = _mm256_load_ps(w + 8);
                __m256 v = _mm256_broadcast_ss(a0 + k);
                c00 = _mm256_fmadd_ps(v, b0, c00), c01 = _mm256_fmadd_ps(v, b1, c01);
                v = _mm256_broadcast_ss(a1 + k);
                c10 = _mm256_fmadd_ps(v, b0, c10), c11 = _mm256_fmadd_ps(v, b1, c11);
                v = _mm256_broadcast_ss(a2 + k);
                c20 = _mm256_fmadd_ps(v, b0, c20), c21 = _mm256_fmadd_ps(v, b1, c21);
                v = _mm256_broadcast_ss(a3 + k);
                c30 = _mm256_fmadd_ps(v, b0, c30), c31 = _mm256_fmadd_ps(v, b1, c31);
                v = _mm256_broadcast_ss(a4 + k);
                c40 = _mm256_fmadd_ps(v, b0, c40), c41 = _mm256_fmadd_ps(v, b1, c41);
                v = _mm256_broadcast_ss(a5 + k);
                c50 = _mm256_fmadd_ps(v, b0, c50), c51 = _mm256_fmadd_ps(v, b1, c51);
            }
        }
        if (res) {
            __m256 r0, r1;
#define ADD_RES(i, x0, x1)                                   \
    if (mr > i) {                                            \
        load_row(res + i * cs, nc, &r0, &r1);                \
        x0 = _mm256_add_ps(x0, r0), x1 = _mm256_add_ps(x1, r1); \
    }
            ADD_RES(0, c00, c01) ADD_RES(1, c10, c11) ADD_RES(2, c20, c21);
            ADD_RES(3, c30, c31) ADD_RES(4, c40, c41) ADD_RES(5, c50, c51);
#undef ADD_RES
        }
        /* clamp skipped where unbounded (SiLU convs, K of 16) */
        av_nn__tile_store_6x16(c, cs, mr, nc, clamp, clamp_hi, vlo, vhi, c00,
                               c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
        if (nc <= NR)
            return;
        nc -= NR, c += NR, res = res ? res + NR : NULL;
    }
}

/* y = x >= 0 ? x : alpha * x over n floats in place. */
__attribute__((target("avx2,fma"))) static void leaky_row(float *y, size_t n, float alpha)
{
    const __m256 va = _mm256_set1_ps(alpha), zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(y + i);
        _mm256_storeu_ps(y + i, _mm256_blendv_ps(_mm256_mul_ps(v, va), v,
                                                 _mm256_cmp_ps(v, zero, _CMP_GE_OQ)));
    }
    for (; i < n; i++)
        y[i] = y[i] >= 0.0f ? y[i] : alpha * y[i];
}

void av_nn__xnn_gemm_tile(size_t mr, size_t nc, size_t kc, const float *const *a,
                          const float *w, float *c, size_t cs)
{
    ukernel_6x16(mr, nc, kc, 1, a, w, c, cs, NULL, -INFINITY, INFINITY, false);
}

void av_nn__xnn_leaky_span(float *y, size_t n, float alpha)
{
    leaky_row(y, n, alpha);
}

void av_nn__xnn_post_span(av_nn__act act, float alpha, float *y, size_t n)
{
    if (act == AV_NN_ACT_LEAKY)
        leaky_row(y, n, alpha);
    else if (act == AV_NN_ACT_SIGMOID)
        av_nn__xnn_sigmoid_span(y, n);
    else if (act == AV_NN_ACT_HARDSWISH)
        av_nn__xnn_hswish_span(y, n, alpha);
    else if (act == AV_NN_ACT_SILU)
        av_nn__xnn_silu_span(y, n);
}

#endif /* GEMM_X86 */

static bool cpu_ok;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

/* AVX2+FMA without AVX-512F (AVX-512 CPUs: XNNPACK's 7x16 AVX-512 kernel has
 * registers to spare). */
static void check_cpu(void)
{
#ifdef GEMM_X86
    __builtin_cpu_init();
    cpu_ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             !__builtin_cpu_supports("avx512f");
#endif
}

/* AV_NN_XNN_GEMM=0: off (A/B runs in one build); av_nn__xnn_gemm_force_off (tests) */
static av_nn__switch gemm_sw = AV_NN__SWITCH("AV_NN_XNN_GEMM");

void av_nn__xnn_gemm_force_off(bool on)
{
    av_nn__switch_force_off(&gemm_sw, on);
}

bool av_nn__xnn_gemm_available(void)
{
    pthread_once(&cpu_once, check_cpu);
    /* AV_NN_NO_AVX2 (a CPU without AVX2, see xnn_silu.c) turns it off too */
    return cpu_ok && av_nn__switch_on(&gemm_sw) && av_nn__silu_fusion_pays();
}

static av_nn__switch residual_sw = AV_NN__SWITCH("AV_NN_FUSE_RESIDUAL");

void av_nn__residual_force_off(bool on)
{
    av_nn__switch_force_off(&residual_sw, on);
}

bool av_nn__residual_fusion_pays(void)
{
    return av_nn__switch_on(&residual_sw) && av_nn__xnn_gemm_available();
}

bool av_nn__xnn_gemm_supports(const av_nn__graph *g, const av_nn__node *n)
{
    if (n->op != AV_NN_OP_CONV2D || (n->p.conv.groups > 1) || !av_nn__xnn_gemm_available())
        return false;
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *b = av_nn__xnn_in(g, n, 2), *y = av_nn__xnn_out(g, n, 0);
    if (!x || !w || !y || !w->data || x->dtype != AV_NN_F32 || w->dtype != AV_NN_F32 ||
        y->dtype != AV_NN_F32 || x->rank != 4 || w->rank != 4 || y->rank != 4)
        return false;
    if (b && (!b->data || b->dtype != AV_NN_F32 || av_nn__xnn_numel(b) != y->dims[3]))
        return false;
    if (av_nn__xnn_numel(x) < 1 || av_nn__xnn_numel(y) < 1) /* unknown or empty */
        return false;
    if (w->dims[0] != y->dims[3] || w->dims[3] != x->dims[3] || w->dims[1] < 1 ||
        w->dims[2] < 1 || w->dims[1] * w->dims[2] > MAX_TAPS || x->dims[0] != y->dims[0])
        return false;
    const av_nn__fused_act *a = &n->p.conv.act;
    float lo, hi;
    return av_nn__xnn_act_bounds(a, &lo, &hi) || a->kind == AV_NN_ACT_SILU ||
           a->kind == AV_NN_ACT_HARDSWISH ||
           a->kind == AV_NN_ACT_SIGMOID || (a->kind == AV_NN_ACT_LEAKY && isfinite(a->alpha));
}

void av_nn__xnn_gemm_free(av_nn__xnn_gemm *k)
{
    if (!k)
        return;
    av_nn__xnn_pack_put(k->packed);
    free(k->narrow);
    free(k->zero);
    free(k);
}

static av_nn__switch narrow_sw = AV_NN__SWITCH("AV_NN_XNN_NARROW");

static bool narrow_wanted(const av_nn__xnn_gemm *k)
{
    return av_nn__switch_on(&narrow_sw) && k->geo.pointwise &&
           k->geo.cout <= NARROW_N && k->geo.cin >= NARROW_MIN_CIN;
}

typedef struct gemm_src {
    const av_nn__xnn_gemm *k;
    const float *w, *b;
} gemm_src;

/* Per tile of NR outputs: NR biases, then per tap and input channel NR
 * weights (OHWI: taps then channels per output). The RGB stem (xnn_stem.c)
 * packs with this too: both share one buffer. */
void av_nn__xnn_gemm_pack(float *packed, size_t cout, size_t ks, size_t cin, const float *w,
                          const float *b)
{
    size_t tile_floats = NR + ks * cin * NR;
    for (size_t j = 0; j * NR < cout; j++) {
        float *t = packed + j * tile_floats;
        for (size_t r = 0; r < NR && j * NR + r < cout; r++) {
            size_t o = j * NR + r;
            t[r] = b ? b[o] : 0.0f;
            for (size_t q = 0; q < ks; q++)
                for (size_t c = 0; c < cin; c++)
                    t[NR + (q * cin + c) * NR + r] = w[(o * ks + q) * cin + c];
        }
    }
}

static void gemm_fill(float *packed, const void *ctx)
{
    const gemm_src *src = ctx;
    av_nn__xnn_gemm_pack(packed, src->k->geo.cout, src->k->geo.ks, src->k->geo.cin, src->w,
                         src->b);
}

void av_nn__xnn_gemm_unpack(const float *packed, size_t cout, size_t ks, size_t cin, float *w)
{
    size_t tile_floats = NR + ks * cin * NR;
    for (size_t o = 0; o < cout; o++) {
        const float *t = packed + (o / NR) * tile_floats;
        for (size_t q = 0; q < ks; q++)
            for (size_t c = 0; c < cin; c++)
                w[(o * ks + q) * cin + c] = t[NR + (q * cin + c) * NR + o % NR];
    }
}

av_nn_status av_nn__xnn_gemm_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen)
{
    const av_nn__tensor *w = av_nn__xnn_in(g, n, 1), *b = av_nn__xnn_in(g, n, 2);
    const av_nn__conv_params *p = &n->p.conv;
    av_nn__xnn_gemm *k = calloc(1, sizeof *k);
    if (!k)
        goto nomem;
    av_nn__xnn_conv_geom(g, n, &k->geo);
    k->front = av_nn__xnn_front_on();
    k->ntiles = (k->geo.cout + NR - 1) / NR;
    k->tile_floats = NR + k->geo.ks * k->geo.cin * NR;
    k->rows = k->geo.kw > 1 && k->geo.dw == 1 && k->geo.ks * k->geo.cin <= ROW_FLOATS;
    /* the filter is a graph constant: its size is bounded by the loader's limits */
    size_t bytes = k->ntiles * k->tile_floats * sizeof(float);
    k->zero =
        calloc(k->geo.cin * (size_t)k->geo.kw, sizeof(float)); /* a whole kernel row (row mode) */
    if (!k->zero)
        goto nomem;
    /* one packed copy per model: the contexts of one model share it (xnn_share.c) */
    gemm_src src = {.k = k, .w = w->data, .b = b ? b->data : NULL};
    av_nn__xnn_pack_key key = {.kind = AV_NN__XNN_PACK_GEMM, .w = src.w, .b = src.b,
                               .cin = k->geo.cin, .cout = k->geo.cout, .kh = (size_t)k->geo.kh,
                               .kw = (size_t)k->geo.kw, .bytes = bytes};
    if (w->released) { /* the model freed w once packed: only the shared copy has it */
        k->packed = av_nn__xnn_pack_find(&key);
        if (!k->packed) {
            av_nn__xnn_gemm_free(k);
            return av_nn__fail(err, errlen, AV_NN_E_BACKEND,
                               "node '%s' (%s): weights released and no packed copy left",
                               n->name ? n->name : "", av_nn__op_name(n->op));
        }
    } else {
        k->packed = av_nn__xnn_pack_get(&key, gemm_fill, &src);
    }
    if (!k->packed)
        goto nomem;
    k->lo = -INFINITY, k->hi = INFINITY;
    if (!av_nn__xnn_act_bounds(&p->act, &k->lo, &k->hi))
        k->post = p->act.kind, k->alpha = p->act.alpha; /* LEAKY, SIGMOID, SILU, HARDSWISH */
    k->residual = av_nn__conv_residual(g, n) >= 0;
    if (narrow_wanted(k)) {
        k->cin8 = (k->geo.cin + 7) / 8 * 8;
        k->narrow = calloc(NARROW_N * (k->cin8 + 1), sizeof(float));
        if (!k->narrow)
            goto nomem;
        /* from the shared pack (one tile: cout <= NARROW_N < NR), not from w:
         * the model may have released w once packed (release.c) */
        const float *t = k->packed;
        for (size_t o = 0; o < k->geo.cout; o++) {
            for (size_t c = 0; c < k->geo.cin; c++)
                k->narrow[o * k->cin8 + c] = t[NR + c * NR + o];
            k->narrow[NARROW_N * k->cin8 + o] = t[o];
        }
    }
    /* the residual in registers only (AV_NN_XNN_RES_REG=0: block_out's pass) */
    k->pwk = k->geo.pointwise && PWK_TAKES(k->geo.cin) && k->front && !k->narrow &&
             (!k->residual || av_nn__switch_on(&res_reg_sw));
    s->gemm = k;
    s->what = k->narrow     ? "own f32 narrow pointwise (AVX2+FMA)"
              : k->residual ? "own f32 convolution + residual (AVX2+FMA)"
                            : "own f32 convolution (AVX2+FMA)";
    return AV_NN_OK;
nomem:
    av_nn__xnn_gemm_free(k);
    return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "node '%s' (%s): out of memory packing weights",
                       n->name ? n->name : "", av_nn__op_name(n->op));
}

typedef struct gemm_job {
    const av_nn__xnn_gemm *k;
    const float *x;
    float *y;
    const float *r; /* the residual (k->residual), laid out as y */
} gemm_job;

#ifdef GEMM_X86

/* c = clamp(c + r) over n floats: the residual add after the bias, then the
 * act's bounds (the order the unfused add and act had). */
__attribute__((target("avx2,fma"))) static void add_clamp_row(float *c, const float *r, size_t n,
                                                              float lo, float hi)
{
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(c + i), _mm256_loadu_ps(r + i));
        _mm256_storeu_ps(c + i, _mm256_min_ps(_mm256_max_ps(v, vlo), vhi));
    }
    for (; i < n; i++) {
        float v = c[i] + r[i];
        v = v > lo ? v : lo; /* as max_ps(v, lo) then min_ps: lo/hi win over NaN */
        c[i] = v < hi ? v : hi;
    }
}

/* The kernel over the block's rows, then the row activation while the rows are in L1. */
static void block_out(const gemm_job *job, size_t m0, size_t j0, size_t mr, size_t nj,
                      const float *const *rows, size_t kc, size_t ks)
{
    const av_nn__xnn_gemm *k = job->k;
    size_t n0 = j0 * NR, nc = nj * NR;
    if (n0 + nc > k->geo.cout)
        nc = k->geo.cout - n0;
    float *c = job->y + m0 * k->geo.cout + n0;
    /* the residual in registers (AV_NN_XNN_RES_REG=0: a pass over the block after) */
    bool in_reg = k->residual && av_nn__switch_on(&res_reg_sw);
    ukernel_6x16(mr, nc, kc, ks, rows, k->packed + j0 * k->tile_floats, c, k->geo.cout,
                 in_reg ? job->r + m0 * k->geo.cout + n0 : NULL,
                 k->residual && !in_reg ? -INFINITY : k->lo,
                 k->residual && !in_reg ? INFINITY : k->hi, k->front);
    /* rows spanning all channels are contiguous: one call for the whole block */
    size_t spans = nc == k->geo.cout ? 1 : mr, len = nc == k->geo.cout ? mr * nc : nc;
    for (size_t i = 0; i < spans && k->residual && !in_reg; i++)
        add_clamp_row(c + i * k->geo.cout, job->r + (m0 + i) * k->geo.cout + n0, len, k->lo, k->hi);
    for (size_t i = 0; i < spans && k->post != AV_NN_ACT_NONE; i++)
        av_nn__xnn_post_span(k->post, k->alpha, c + i * k->geo.cout, len);
}

/* Row mode: one pointer per kernel row and pixel, to the input (the whole
 * kernel row inside it), the zero row (above or below it) or a padded copy. */
static void row_task(const gemm_job *job, size_t m0, size_t j0, size_t mr, size_t nj,
                     const float **rows)
{
    const av_nn__xnn_gemm *k = job->k;
    float patch[MR * ROW_FLOATS];
    size_t plane = k->geo.oh * k->geo.ow, span = (size_t)k->geo.kw * k->geo.cin;
    size_t bi = m0 / plane, rem = m0 % plane;
    int64_t oy = (int64_t)(rem / k->geo.ow), ox = (int64_t)(rem % k->geo.ow);
    for (size_t i = 0; i < MR; i++) {
        if (i >= mr) { /* rows past the block's end repeat its first (never stored) */
            for (int64_t ky = 0; ky < k->geo.kh; ky++)
                rows[(size_t)ky * MR + i] = rows[(size_t)ky * MR];
            continue;
        }
        int64_t ix0 = ox * k->geo.sw - k->geo.pl;
        bool inside = ix0 >= 0 && ix0 + k->geo.kw <= (int64_t)k->geo.w;
        for (int64_t ky = 0; ky < k->geo.kh; ky++) {
            int64_t iy = oy * k->geo.sh - k->geo.pt + ky * k->geo.dh;
            const float **r = &rows[(size_t)ky * MR + i];
            if (iy < 0 || iy >= (int64_t)k->geo.h) {
                *r = k->zero;
                continue;
            }
            const float *line = job->x + (bi * k->geo.h + (size_t)iy) * k->geo.w * k->geo.cin;
            if (inside) {
                *r = line + (size_t)ix0 * k->geo.cin;
            } else { /* the row crosses an edge: a copy with zeros outside */
                float *p = patch + (i * (size_t)k->geo.kh + (size_t)ky) * span;
                for (int64_t kx = 0; kx < k->geo.kw; kx++) {
                    int64_t ix = ix0 + kx;
                    if (ix >= 0 && ix < (int64_t)k->geo.w)
                        memcpy(p + kx * k->geo.cin, line + (size_t)ix * k->geo.cin,
                               k->geo.cin * sizeof *p);
                    else
                        memset(p + kx * k->geo.cin, 0, k->geo.cin * sizeof *p);
                }
                *r = p;
            }
        }
        if (++ox == (int64_t)k->geo.ow) { /* the next pixel */
            ox = 0;
            if (++oy == (int64_t)k->geo.oh)
                oy = 0, bi++;
        }
    }
    block_out(job, m0, j0, mr, nj, rows, span, (size_t)k->geo.kh);
}

/* Output pixels [m0, m0 + mr) by NR tiles [j0, j0 + nj): the input row of
 * every tap for each pixel, then the kernel over the tiles, then the row
 * activation while the rows are in L1. */
static void block_task(const gemm_job *job, size_t m0, size_t j0, size_t mr, size_t nj)
{
    const av_nn__xnn_gemm *k = job->k;
    const float *rows[MAX_TAPS * MR];
    size_t plane = k->geo.oh * k->geo.ow;
    if (k->rows) {
        row_task(job, m0, j0, mr, nj, rows);
        return;
    }
    /* one division per block: the pixels of a block follow each other */
    size_t bi = m0 / plane, rem = m0 % plane;
    int64_t oy = (int64_t)(rem / k->geo.ow), ox = (int64_t)(rem % k->geo.ow);
    for (size_t i = 0; i < MR; i++) {
        if (i >= mr) { /* rows past the block's end repeat its first (never stored) */
            for (size_t t = 0; t < k->geo.ks; t++)
                rows[t * MR + i] = rows[t * MR];
            continue;
        }
        if (k->geo.pointwise) { /* 1x1, stride 1, no padding: pixel p reads row p */
            rows[i] = job->x + (m0 + i) * k->geo.cin;
            continue;
        }
        for (int64_t ky = 0; ky < k->geo.kh; ky++) {
            int64_t iy = oy * k->geo.sh - k->geo.pt + ky * k->geo.dh;
            for (int64_t kx = 0; kx < k->geo.kw; kx++) {
                int64_t ix = ox * k->geo.sw - k->geo.pl + kx * k->geo.dw;
                bool in = iy >= 0 && iy < (int64_t)k->geo.h && ix >= 0 && ix < (int64_t)k->geo.w;
                rows[(size_t)(ky * k->geo.kw + kx) * MR + i] =
                    in ? job->x +
                             ((bi * k->geo.h + (size_t)iy) * k->geo.w + (size_t)ix) * k->geo.cin
                       : k->zero;
            }
        }
        if (++ox == (int64_t)k->geo.ow) { /* the next pixel */
            ox = 0;
            if (++oy == (int64_t)k->geo.oh)
                oy = 0, bi++;
        }
    }
    block_out(job, m0, j0, mr, nj, rows, k->geo.cin, k->geo.ks);
}

/* Sum of each of a0..a3's 8 lanes: {sum a0, sum a1, sum a2, sum a3}. */
__attribute__((target("avx2,fma"))) static __m128 hsum4(__m256 a0, __m256 a1, __m256 a2,
                                                       __m256 a3)
{
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* Narrow mode: pixels x0 and x1 (may be the same) to y0 and y1, NARROW_N
 * outputs each (the first nc stored), clamped to the act's bounds unless a
 * residual follows. */
__attribute__((target("avx2,fma"))) static void narrow_pair(const av_nn__xnn_gemm *k,
                                                           const float *x0, const float *x1,
                                                           float *y0, float *y1, bool two)
{
    static const int32_t mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    const float *w = k->narrow;
    size_t cs = k->cin8, full = k->geo.cin / 8 * 8, c = 0;
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;
    __m256 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
#define NARROW_STEP(v0, v1)                                                                \
    do {                                                                                   \
        __m256 w0 = _mm256_loadu_ps(w + c), w1 = _mm256_loadu_ps(w + cs + c);              \
        __m256 w2 = _mm256_loadu_ps(w + 2 * cs + c), w3 = _mm256_loadu_ps(w + 3 * cs + c); \
        a00 = _mm256_fmadd_ps(v0, w0, a00), a01 = _mm256_fmadd_ps(v0, w1, a01);           \
        a02 = _mm256_fmadd_ps(v0, w2, a02), a03 = _mm256_fmadd_ps(v0, w3, a03);           \
        a10 = _mm256_fmadd_ps(v1, w0, a10), a11 = _mm256_fmadd_ps(v1, w1, a11);           \
        a12 = _mm256_fmadd_ps(v1, w2, a12), a13 = _mm256_fmadd_ps(v1, w3, a13);           \
    } while (0)
    for (; c < full; c += 8) {
        __m256 v0 = _mm256_loadu_ps(x0 + c), v1 = _mm256_loadu_ps(x1 + c);
        NARROW_STEP(v0, v1);
    }
    if (c < k->geo.cin) { /* the last cin % 8 channels: masked, nothing past the row read */
        __m256i m = _mm256_loadu_si256((const __m256i *)(mask + 8 - (k->geo.cin - c)));
        __m256 v0 = _mm256_maskload_ps(x0 + c, m), v1 = _mm256_maskload_ps(x1 + c, m);
        NARROW_STEP(v0, v1);
    }
#undef NARROW_STEP
    const __m128 bias = _mm_loadu_ps(w + NARROW_N * cs);
    __m128 lo = _mm_set1_ps(k->residual ? -INFINITY : k->lo);
    __m128 hi = _mm_set1_ps(k->residual ? INFINITY : k->hi);
    __m128 r0 = _mm_add_ps(bias, hsum4(a00, a01, a02, a03));
    __m128 r1 = _mm_add_ps(bias, hsum4(a10, a11, a12, a13));
    r0 = _mm_min_ps(_mm_max_ps(r0, lo), hi), r1 = _mm_min_ps(_mm_max_ps(r1, lo), hi);
    __m128i sm = _mm_loadu_si128((const __m128i *)(mask + 8 - k->geo.cout));
    _mm_maskstore_ps(y0, sm, r0);
    if (two)
        _mm_maskstore_ps(y1, sm, r1);
}

/* Narrow mode: pixels [m0, m0 + count), then the residual and row act over
 * their outputs (contiguous) while they are in L1. */
static void narrow_task(void *ctx, size_t m0, size_t count)
{
    const gemm_job *job = ctx;
    const av_nn__xnn_gemm *k = job->k;
    for (size_t i = 0; i < count; i += 2) {
        size_t p = m0 + i, q = i + 1 < count ? p + 1 : p;
        narrow_pair(k, job->x + p * k->geo.cin, job->x + q * k->geo.cin, job->y + p * k->geo.cout,
                    job->y + q * k->geo.cout, q != p);
    }
    float *c = job->y + m0 * k->geo.cout;
    size_t len = count * k->geo.cout;
    if (k->residual)
        add_clamp_row(c, job->r + m0 * k->geo.cout, len, k->lo, k->hi);
    av_nn__xnn_post_span(k->post, k->alpha, c, len);
}

/* A task: output pixels [m0, m0 + mrows) in blocks of MR. */
/*
 * Pointwise convs of few input channels (CenterNet's 256x256x16 front: 16 ->
 * 16 with the residual, 16 -> 64; its 18 to 96-channel layers): with K = 16
 * a 6x16 tile is 16 steps, so what runs around them (the block's row
 * pointers, the kernel's call, its tile loop over run-time sizes) costs
 * about a third of the time; less, but still 10-40% (most where the last
 * tile has 8 or 2 channels), up to K = 96. Here K is a compile-time constant: a block of
 * 6 pixels is 6 x K consecutive floats, read at constant offsets from one
 * pointer, all the row's tiles in one loop. The same steps in the same
 * order (bias, k = 0..K-1, the residual, the clamp) as ukernel_6x16: the
 * same bits.
 */
__attribute__((target("avx2,fma"), always_inline)) static inline void
pwk_tile(const float *a, size_t K, const float *w, float *c, size_t cs, const float *res,
         bool clamp, bool clamp_hi, __m256 vlo, __m256 vhi)
{
    __m256 c00 = _mm256_load_ps(w), c01 = _mm256_load_ps(w + 8);
    __m256 c10 = c00, c11 = c01, c20 = c00, c21 = c01;
    __m256 c30 = c00, c31 = c01, c40 = c00, c41 = c01, c50 = c00, c51 = c01;
    w += NR;
#pragma GCC unroll 1
    for (size_t k = 0; k < K; k++, w += NR) {
        const __m256 b0 = _mm256_load_ps(w), b1 = _mm256_load_ps(w + 8);
        __m256 v = _mm256_broadcast_ss(a + k);
        c00 = _mm256_fmadd_ps(v, b0, c00), c01 = _mm256_fmadd_ps(v, b1, c01);
        v = _mm256_broadcast_ss(a + K + k);
        c10 = _mm256_fmadd_ps(v, b0, c10), c11 = _mm256_fmadd_ps(v, b1, c11);
        v = _mm256_broadcast_ss(a + 2 * K + k);
        c20 = _mm256_fmadd_ps(v, b0, c20), c21 = _mm256_fmadd_ps(v, b1, c21);
        v = _mm256_broadcast_ss(a + 3 * K + k);
        c30 = _mm256_fmadd_ps(v, b0, c30), c31 = _mm256_fmadd_ps(v, b1, c31);
        v = _mm256_broadcast_ss(a + 4 * K + k);
        c40 = _mm256_fmadd_ps(v, b0, c40), c41 = _mm256_fmadd_ps(v, b1, c41);
        v = _mm256_broadcast_ss(a + 5 * K + k);
        c50 = _mm256_fmadd_ps(v, b0, c50), c51 = _mm256_fmadd_ps(v, b1, c51);
    }
    if (res) {
#define ADD_RES(i, x0, x1)                                                          \
    x0 = _mm256_add_ps(x0, _mm256_loadu_ps(res + i * cs)),                         \
    x1 = _mm256_add_ps(x1, _mm256_loadu_ps(res + i * cs + 8));
        ADD_RES(0, c00, c01) ADD_RES(1, c10, c11) ADD_RES(2, c20, c21);
        ADD_RES(3, c30, c31) ADD_RES(4, c40, c41) ADD_RES(5, c50, c51);
#undef ADD_RES
    }
    av_nn__tile_store_6x16(c, cs, MR, NR, clamp, clamp_hi, vlo, vhi, c00, c01, c10, c11, c20, c21,
                           c30, c31, c40, c41, c50, c51);
}

/* Pixels [m0, m0 + 6 * blocks), all output channels: the full tiles by
 * pwk_tile, a last one of fewer than 16 by ukernel_6x16; then the row
 * activation per block, as block_out does it (the same spans). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
pwk_blocks_k(const gemm_job *job, size_t m0, size_t blocks, size_t K)
{
    const av_nn__xnn_gemm *k = job->k;
    const size_t cout = k->geo.cout, full = cout / NR;
    const __m256 vlo = _mm256_set1_ps(k->lo), vhi = _mm256_set1_ps(k->hi);
    const bool clamp = k->lo != -INFINITY || k->hi != INFINITY, clamp_hi = k->hi != INFINITY;
    for (size_t b = 0; b < blocks; b++, m0 += MR) {
        const float *a = job->x + m0 * K;
        float *c = job->y + m0 * cout;
        const float *r = k->residual ? job->r + m0 * cout : NULL;
        for (size_t j = 0; j < full; j++)
            pwk_tile(a, K, k->packed + j * k->tile_floats, c + j * NR, cout,
                     r ? r + j * NR : NULL, clamp, clamp_hi, vlo, vhi);
        if (full * NR < cout) {
            const float *rows[MR] = {a, a + K, a + 2 * K, a + 3 * K, a + 4 * K, a + 5 * K};
            ukernel_6x16(MR, cout - full * NR, K, 1, rows, k->packed + full * k->tile_floats,
                         c + full * NR, cout, r ? r + full * NR : NULL, k->lo, k->hi, true);
        }
        if (k->post != AV_NN_ACT_NONE)
            av_nn__xnn_post_span(k->post, k->alpha, c, MR * cout);
    }
}

/* pwk_blocks_k for each K it takes (PWK_TAKES) */
__attribute__((target("avx2,fma"))) static void pwk_blocks(const gemm_job *job, size_t m0,
                                                          size_t blocks)
{
    switch (job->k->geo.cin) {
    case 16:
        pwk_blocks_k(job, m0, blocks, 16);
        break;
    case 18:
        pwk_blocks_k(job, m0, blocks, 18);
        break;
    case 24:
        pwk_blocks_k(job, m0, blocks, 24);
        break;
    case 32:
        pwk_blocks_k(job, m0, blocks, 32);
        break;
    case 64:
        pwk_blocks_k(job, m0, blocks, 64);
        break;
    case 72:
        pwk_blocks_k(job, m0, blocks, 72);
        break;
    default:
        pwk_blocks_k(job, m0, blocks, 96);
        break;
    }
}

static void gemm_task(void *ctx, size_t m0, size_t j0, size_t mrows, size_t nj)
{
    const gemm_job *job = ctx;
    size_t i = 0;
    if (job->k->pwk && j0 == 0 && nj == job->k->ntiles) { /* whole blocks of all channels */
        pwk_blocks(job, m0, mrows / MR);
        i = mrows / MR * MR;
    }
    for (; i < mrows; i += MR)
        block_task(ctx, m0 + i, j0, mrows - i < MR ? mrows - i : MR, nj);
}

#endif

void av_nn__xnn_gemm_span(const av_nn__xnn_gemm *k, const float *x, const float *r, float *y,
                          size_t npix)
{
#ifdef GEMM_X86
    gemm_job job = {k, x, y, r};
    if (k->narrow)
        narrow_task(&job, 0, npix);
    else
        gemm_task(&job, 0, 0, npix, k->ntiles);
#else
    (void)k, (void)x, (void)r, (void)y, (void)npix; /* never prepared */
#endif
}

void av_nn__xnn_gemm_run(const av_nn__xnn_gemm *k, const float *x, float *y, pthreadpool_t pool)
{
    av_nn__xnn_gemm_run_res(k, x, NULL, y, pool);
}

void av_nn__xnn_gemm_run_res(const av_nn__xnn_gemm *k, const float *x, const float *r, float *y,
                             pthreadpool_t pool)
{
#ifdef GEMM_X86
    gemm_job job = {k, x, y, r};
    if (k->narrow) {
        pthreadpool_parallelize_1d_tile_1d(pool, narrow_task, &job, k->geo.m, NARROW_PIXELS,
                                           PTHREADPOOL_FLAG_DISABLE_DENORMALS);
        return;
    }
    size_t mtiles = (k->geo.m + MR - 1) / MR, nt = k->ntiles;
    size_t threads = pthreadpool_get_threads_count(pool);
    if (threads > 1) { /* split channels too when pixels alone give few tasks per thread */
        size_t want = threads * 5;
        size_t max_nt = (k->ntiles * mtiles + want - 1) / want;
        if (max_nt < nt)
            nt = max_nt ? max_nt : 1;
    }
    /* up to 8 blocks of MR pixels per task while tasks stay plenty (16 per
     * thread): the pool's cost per task weighs on small blocks (few channels) */
    size_t per = 1, njt = (k->ntiles + nt - 1) / nt;
    while (per < 8 && mtiles / (per * 2) * njt >= (threads ? threads : 1) * 16)
        per *= 2;
    pthreadpool_parallelize_2d_tile_2d(pool, gemm_task, &job, k->geo.m, k->ntiles, MR * per, nt,
                                       PTHREADPOOL_FLAG_DISABLE_DENORMALS);
#else
    (void)k, (void)x, (void)r, (void)y, (void)pool; /* never prepared: supports() is false */
#endif
}
