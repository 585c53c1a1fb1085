/*
 * xnn_silu.c - SiLU, y = x * sigmoid(x) (YOLOX's activation), as one pass over
 * memory split across the context's pthreadpool. XNNPACK (Debian's 2022
 * snapshot) has no SiLU: as its sigmoid operator followed by its multiply the
 * tensor is read twice, written twice and the sigmoid kept in a buffer.
 *
 * The fusion pass makes SiLU the fused activation of the producing
 * convolution, and xnn.c runs this kernel in place on the convolution's
 * output right after it, while that output is still in cache.
 *
 * sigmoid(x) = e / (1 + e) with e = exp(-|x|), mirrored for x > 0 (as
 * XNNPACK does: no overflow, no cancellation); exp by range reduction to
 * |r| <= ln2/2 and a degree-5 polynomial (XNNPACK's rr2_p5 coefficients),
 * about 1 ulp. The x86-64 kernels (AVX-512F, AVX2+FMA) are picked at run time
 * by CPUID; a plain 4-wide vector kernel is the portable fallback (slower
 * than XNNPACK's sigmoid + multiply, measured: 1.4 vs 0.5 ms per million
 * elements, so the AVX paths are what makes the fusion pay).
 */
#include "nn/core.h" /* av_nn__is_quant, av_nn__numel */
#include "nn/xnn/xnn_impl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SILU_X86 1
#endif

/* Elements per pool task: 64 KiB of floats, in L2 next to the conv output. */
#define SILU_CHUNK 16384

#define LOG2E 0x1.715476p+0f
#define LN2_HI 0x1.62E400p-1f
#define LN2_LO 0x1.7F7D1Cp-20f
#define C5 0x1.0F9F9Cp-7f
#define C4 0x1.573A1Ap-5f
#define C3 0x1.555A80p-3f
#define C2 0x1.FFFDC6p-2f
#define C1 0x1.FFFFF6p-1f
#define Z_MIN -87.5f /* exp(z) below it is 0 for our purpose (denormals) */

/* ---- portable: GCC/Clang vector extensions, 4 wide ---- */

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

/* sigmoid(x) */
static v4f sig4(v4f x)
{
    const v4f zmin = {Z_MIN, Z_MIN, Z_MIN, Z_MIN}, one = {1, 1, 1, 1};
    const v4f magic = {0x1.8000FEp23f, 0x1.8000FEp23f, 0x1.8000FEp23f, 0x1.8000FEp23f};
    v4f z = (v4f)((v4i)x | (v4i){INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN}); /* -|x| */
    v4i low = z < zmin;
    z = (v4f)(((v4i)z & ~low) | ((v4i)zmin & low));
    v4f t = z * LOG2E + magic;             /* n + 127 in the low mantissa bits */
    v4f s = (v4f)((v4i)t << 23);           /* 2^n */
    t = t - magic;                         /* n */
    v4f r = t * -LN2_HI + z;
    r = t * -LN2_LO + r;
    v4f p = r * C5 + C4;
    p = p * r + C3;
    p = p * r + C2;
    p = p * r + C1;
    r = r * s;
    v4f e = r * p + s;                     /* exp(-|x|) */
    v4f f = e / (e + one);                 /* sigmoid(-|x|) */
    v4i pos = x > (v4f){0, 0, 0, 0};
    return (v4f)(((v4i)(one - f) & pos) | ((v4i)f & ~pos));
}

static v4f silu4(v4f x)
{
    return x * sig4(x);
}

static void sigmoid_generic(float *y, size_t n)
{
    for (size_t i = 0; i < n; i += 4) { /* through a zero-padded vector at the tail */
        size_t m = n - i < 4 ? n - i : 4;
        v4f v = {0, 0, 0, 0};
        memcpy(&v, y + i, m * sizeof *y);
        v = sig4(v);
        memcpy(y + i, &v, m * sizeof *y);
    }
}

static void silu_generic(const float *x, float *y, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4f v;
        memcpy(&v, x + i, sizeof v);
        v = silu4(v);
        memcpy(y + i, &v, sizeof v);
    }
    if (i < n) { /* the tail through the same code, zero padded */
        v4f v = {0, 0, 0, 0};
        memcpy(&v, x + i, (n - i) * sizeof *x);
        v = silu4(v);
        memcpy(y + i, &v, (n - i) * sizeof *y);
    }
}

#ifdef SILU_X86

/* ---- AVX-512F: 16 wide, scalef for 2^n, rcp14 + one Newton step for 1/(1+e) ---- */

__attribute__((target("avx512f"))) static __m512 silu16(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 z = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN)));
    z = _mm512_max_ps(z, _mm512_set1_ps(Z_MIN));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(z, _mm512_set1_ps(LOG2E)), 0);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-LN2_HI), z);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-LN2_LO), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(C5), r, _mm512_set1_ps(C4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C1));
    p = _mm512_fmadd_ps(p, r, one);                      /* exp(r) */
    __m512 e = _mm512_scalef_ps(p, n);                    /* exp(-|x|) */
    __m512 d = _mm512_add_ps(e, one);
    __m512 q = _mm512_rcp14_ps(d);
    q = _mm512_fmadd_ps(_mm512_fnmadd_ps(q, d, one), q, q); /* 1/d to ~23 bits */
    __m512 f = _mm512_mul_ps(e, q);                       /* sigmoid(-|x|) */
    __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
    f = _mm512_mask_sub_ps(f, pos, one, f);
    return _mm512_mul_ps(x, f);
}

__attribute__((target("avx512f"))) static void silu_avx512(const float *x, float *y, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, silu16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, silu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* ---- AVX2 + FMA: 8 wide, 2^n in the exponent bits, rcp + one Newton step ---- */

/* sigmoid(x) */
__attribute__((target("avx2,fma"))) static __m256 sig8(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f), magic = _mm256_set1_ps(0x1.8000FEp23f);
    __m256 z = _mm256_or_ps(x, _mm256_set1_ps(-0.0f));
    z = _mm256_max_ps(z, _mm256_set1_ps(Z_MIN));
    __m256 t = _mm256_fmadd_ps(z, _mm256_set1_ps(LOG2E), magic);
    __m256 s = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
    t = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fmadd_ps(t, _mm256_set1_ps(-LN2_HI), z);
    r = _mm256_fmadd_ps(t, _mm256_set1_ps(-LN2_LO), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(C5), r, _mm256_set1_ps(C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C1));
    r = _mm256_mul_ps(r, s);
    __m256 e = _mm256_fmadd_ps(r, p, s);
    __m256 d = _mm256_add_ps(e, one);
    __m256 q = _mm256_rcp_ps(d);
    q = _mm256_fmadd_ps(_mm256_fnmadd_ps(q, d, one), q, q);
    __m256 f = _mm256_mul_ps(e, q);
    __m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
    return _mm256_blendv_ps(f, _mm256_sub_ps(one, f), pos);
}

__attribute__((target("avx2,fma"))) static __m256 silu8(__m256 x)
{
    return _mm256_mul_ps(x, sig8(x));
}

__attribute__((target("avx2,fma"))) static void sigmoid_avx2(float *y, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, sig8(_mm256_loadu_ps(y + i)));
    if (i < n)
        sigmoid_generic(y + i, n - i);
}

__attribute__((target("avx2,fma"))) static void silu_avx2(const float *x, float *y, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, silu8(_mm256_loadu_ps(x + i)));
    if (i < n)
        silu_generic(x + i, y + i, n - i);
}

/* ---- AVX2 + FMA, direct: y = x / (1 + exp(-x)) ----
 * The SiLU (not the sigmoid) needs no mirroring: for x < 0, 1 + exp(-x) is
 * large and accurate, for x > 0 it is near 1; x times its reciprocal keeps
 * the relative error of exp (~1 ulp) plus the Newton step's. No |x|, compare,
 * 1 - f or blend, and one ln2 constant instead of two (|n| <= 126: the
 * reduction error stays under 2.5e-7 relative): 17 vector ops per 8 floats
 * against the mirrored kernel's 22, and the SiLU is a quarter of YOLOX's
 * compute. x is clamped to [-87, 87] for exp (2^n stays a normal number and
 * so does the reciprocal); the final multiply uses x itself, so x > 87 gives
 * x, NaN gives NaN. AV_NN_XNN_SILU_DIRECT=0 goes back to the mirrored one. */

#define X_MAX 87.0f
#define LN2 0x1.62E430p-1f

__attribute__((target("avx2,fma"))) static __m256 silu8_direct(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f), magic = _mm256_set1_ps(0x1.8000FEp23f);
    __m256 c = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-X_MAX)), _mm256_set1_ps(X_MAX));
    /* exp(-c) = 2^n * exp(r), n = round(-c * log2e), r = -c - n ln2 = -(c + n ln2) */
    __m256 t = _mm256_fmadd_ps(c, _mm256_set1_ps(-LOG2E), magic);
    __m256 s = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
    t = _mm256_sub_ps(t, magic);
    /* m = -r; p(r) = C1 + C2 r + ... + C5 r^4 in m, even powers' coefficients negated */
    __m256 m = _mm256_fmadd_ps(t, _mm256_set1_ps(LN2), c);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(C5), m, _mm256_set1_ps(-C4));
    p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(C3));
    p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(-C2));
    p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(C1));
    __m256 u = _mm256_fnmadd_ps(m, p, one);  /* 1 + r p(r) = exp(r) */
    __m256 d = _mm256_fmadd_ps(u, s, one);   /* 1 + exp(-c) */
    __m256 q = _mm256_rcp_ps(d);
    q = _mm256_fmadd_ps(_mm256_fnmadd_ps(q, d, one), q, q); /* 1/d to ~23 bits */
    return _mm256_mul_ps(x, q);
}

__attribute__((target("avx2,fma"))) static void silu_avx2_direct(const float *x, float *y,
                                                                size_t n)
{
    static const int32_t mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) { /* two chains in flight: the ops of one are serial */
        __m256 a = silu8_direct(_mm256_loadu_ps(x + i));
        __m256 b = silu8_direct(_mm256_loadu_ps(x + i + 8));
        _mm256_storeu_ps(y + i, a);
        _mm256_storeu_ps(y + i + 8, b);
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, silu8_direct(_mm256_loadu_ps(x + i)));
    if (i < n) { /* the tail through the same kernel: lanes past n are neither read nor written */
        __m256i mk = _mm256_loadu_si256((const __m256i *)(mask + 8 - (n - i)));
        _mm256_maskstore_ps(y + i, mk, silu8_direct(_mm256_maskload_ps(x + i, mk)));
    }
}

#endif

typedef void (*silu_fn)(const float *x, float *y, size_t n);

static av_nn__switch direct_sw = AV_NN__SWITCH("AV_NN_XNN_SILU_DIRECT");

static bool direct_wanted(void)
{
    return av_nn__switch_on(&direct_sw);
}

/* Index 0 portable, 1 AVX2+FMA (direct unless turned off), 2 AVX-512F, 3 AVX2+FMA
 * mirrored, 4 AVX2+FMA direct; NULL where this CPU lacks it. */
static silu_fn kernel_at(int k)
{
    if (k == 0)
        return silu_generic;
#ifdef SILU_X86
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (k == 1 && avx2)
        return direct_wanted() ? silu_avx2_direct : silu_avx2;
    if (k == 2 && __builtin_cpu_supports("avx512f"))
        return silu_avx512;
    if (k == 3 && avx2)
        return silu_avx2;
    if (k == 4 && avx2)
        return silu_avx2_direct;
#endif
    return NULL;
}

static silu_fn best;
static pthread_once_t best_once = PTHREAD_ONCE_INIT;
static atomic_bool forced_portable; /* av_nn__silu_force_portable (tests) */

/* AV_NN_NO_AVX2 set (not "" or "0") stands for a CPU without AVX2: the
 * portable kernel only, so the fusion pass leaves SiLU to XNNPACK. */
static void pick_best(void)
{
    const char *no = getenv("AV_NN_NO_AVX2");
    int top = no && *no && strcmp(no, "0") != 0 ? 0 : 2;
    for (int k = top; k >= 0 && !best; k--)
        best = kernel_at(k);
}

static silu_fn best_kernel(void)
{
    pthread_once(&best_once, pick_best);
    return atomic_load(&forced_portable) ? silu_generic : best;
}

bool av_nn__silu_fusion_pays(void)
{
    return best_kernel() != silu_generic;
}

void av_nn__silu_force_portable(bool on)
{
    atomic_store(&forced_portable, on);
}

typedef struct silu_job {
    silu_fn fn;
    const float *x;
    float *y;
    size_t n;
} silu_job;

static void silu_chunk(void *ctx, size_t start, size_t count)
{
    const silu_job *j = ctx;
    size_t i = start * SILU_CHUNK, end = (start + count) * SILU_CHUNK;
    if (end > j->n)
        end = j->n;
    j->fn(j->x + i, j->y + i, end - i);
}

static void run_flags(silu_fn fn, const float *x, float *y, size_t n, pthreadpool_t pool,
                      uint32_t flags)
{
    silu_job j = {fn, x, y, n};
    pthreadpool_parallelize_1d_tile_1d(pool, silu_chunk, &j, (n + SILU_CHUNK - 1) / SILU_CHUNK,
                                       1, flags);
}

static void run(silu_fn fn, const float *x, float *y, size_t n, pthreadpool_t pool)
{
    run_flags(fn, x, y, n, pool, 0);
}

void av_nn__xnn_silu_span(float *y, size_t n)
{
    best_kernel()(y, y, n);
}

void av_nn__xnn_sigmoid_span(float *y, size_t n)
{
#ifdef SILU_X86
    if (best_kernel() != silu_generic) { /* AVX2 at least */
        sigmoid_avx2(y, n);
        return;
    }
#endif
    sigmoid_generic(y, n);
}

void av_nn__xnn_silu(const float *x, float *y, size_t n, pthreadpool_t pool)
{
    run(best_kernel(), x, y, n, pool);
}

bool av_nn__xnn_silu_with(int kernel, const float *x, float *y, size_t n, pthreadpool_t pool)
{
    silu_fn fn = kernel >= 0 && kernel <= 4 ? kernel_at(kernel) : NULL;
    if (fn)
        run(fn, x, y, n, pool);
    return fn != NULL;
}

/* ---- UNARY SIGMOID with p.unary.as_act: a conv's act split off (pass_peaktopk.c) ----
 * The conv ran av_nn__xnn_sigmoid_span over its rows (denormals off);
 * chunks of SILU_CHUNK (a multiple of 8) go through the same full vectors. */

/* A chunk of x sigmoided into y, as av_nn__xnn_sigmoid_span does in place. */
static void sigmoid_copy(const float *x, float *y, size_t n)
{
    if (y != x)
        memcpy(y, x, n * sizeof *y);
    av_nn__xnn_sigmoid_span(y, n);
}

static void k_sigact(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                     void *const *out, pthreadpool_t pool)
{
    /* denormals flushed and read as zero, as the conv's epilogue ran */
    run_flags(sigmoid_copy, in[0], out[0], (size_t)av_nn__numel(&g->tensors[n->in[0]]), pool,
              PTHREADPOOL_FLAG_DISABLE_DENORMALS);
}

bool av_nn__xnn_sigact_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    return n->op == AV_NN_OP_UNARY && n->p.unary.as_act && n->p.unary.kind == AV_NN_UN_SIGMOID &&
           x && y && x->dtype == AV_NN_F32 && y->dtype == AV_NN_F32 && !av_nn__is_quant(x) &&
           !av_nn__is_quant(y) && av_nn__numel(x) >= 0 && av_nn__numel(x) == av_nn__numel(y);
}

void av_nn__xnn_sigact_prepare(av_nn__xnn_node *s)
{
    s->kernel = k_sigact;
    s->what = "own sigmoid (a conv's act)";
}
