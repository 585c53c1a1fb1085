/*
 * xnn_wino.c - f32 3x3 stride-1 CONV2D (groups 1) by Winograd F(4x4, 3x3)
 * on AVX2+FMA CPUs where our GEMM runs (xnn_gemm.c).
 *
 * Each 4x4 block of output pixels ("tile") is computed from the 6x6 input
 * patch under it: V = Bt d B per input channel, then for each of the 36
 * points xi of the transformed tile M[xi] = V[xi] . U[xi] summed over input
 * channels (a GEMM: tiles x cin by cin x cout, on xnn_gemm.c's 6x16 kernel),
 * then Y = At M A, plus bias, clamp and activation. 36 multiply-adds per
 * 16 outputs instead of 144: about 4x fewer, at the cost of the transforms
 * (vectorised over 8 channels) and of weights 4x the size (U = G g Gt,
 * 36 per filter instead of 9, transformed once at prepare): supports()
 * takes only layers with enough pixels for the GEMM to dominate.
 *
 * Work is split into blocks of tiles; one block's V and M (36 x tiles x
 * channels) stay in L2 while its 36 GEMMs run, so the scratch is a few
 * hundred KiB per thread, allocated per run (no per-node buffers held).
 *
 * Accuracy: the transforms' constants (1/4, 1/6, 1/24, powers of 2 up to 8)
 * scale rounding errors by a few tens of ulps of the largest term; against
 * the direct sum the error is a few 1e-6 relative to sum |x||w| (t_nn_wino).
 */
#include "nn/xnn/xnn_impl.h"

#include "nn/core.h" /* av_nn__conv_residual */

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define WINO_X86 1
#endif

#define MR 6  /* rows of xnn_gemm.c's kernel */
#define NR 16 /* its columns */
#define PTS 36 /* points of a 6x6 transformed tile */
#define MAX_SLOTS 64 /* scratch slots: tasks of one run (threads) */

struct av_nn__xnn_wino {
    size_t batch, h, w, cin, oh, ow, cout;
    int64_t pt, pl;
    size_t th, tw, tiles;           /* tiles per column, per row, in all */
    size_t ntiles, tile_floats;     /* NR tiles of cout; floats per packed NR tile */
    size_t blk;                     /* tiles per block: a multiple of MR */
    const float *packed;            /* [PTS][ntiles][tile_floats], shared (xnn_share.c) */
    float *bias;                    /* cout */
    float lo, hi;
    av_nn__act post;
    float alpha;
};

static av_nn__switch sw = AV_NN__SWITCH("AV_NN_XNN_WINO"); /* A/B runs in one build */

void av_nn__xnn_wino_force_off(bool on)
{
    av_nn__switch_force_off(&sw, on);
}

bool av_nn__xnn_wino_supports(const av_nn__graph *g, const av_nn__node *n)
{
#ifdef WINO_X86
    if (!av_nn__switch_on(&sw) || !av_nn__xnn_gemm_supports(g, n) ||
        av_nn__conv_residual(g, n) >= 0)
        return false;
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *y = av_nn__xnn_out(g, n, 0);
    const av_nn__conv_params *p = &n->p.conv;
    if (w->dims[1] != 3 || w->dims[2] != 3 || p->stride_h != 1 || p->stride_w != 1 ||
        p->dilation_h != 1 || p->dilation_w != 1 || p->pad_top < 0 || p->pad_left < 0)
        return false;
    /* pays where the GEMM dominates the transforms: enough channels both
     * ways (measured on NanoDet: 16 -> 16 is slower, 32 -> 16 faster), and
     * enough tiles that the 4x weights are worth their memory; tiles of one
     * image, so that a batch takes the same kernel, and gives the same bits,
     * as each of its images alone */
    int64_t cin = x->dims[3], cout = y->dims[3];
    int64_t tiles = ((y->dims[1] + 3) / 4) * ((y->dims[2] + 3) / 4);
    return cin >= 16 && cout >= 16 && cin + cout >= 48 && tiles >= 36; /* 16 -> 16: the GEMM */
#else
    (void)g, (void)n;
    return false;
#endif
}

void av_nn__xnn_wino_free(av_nn__xnn_wino *k)
{
    if (!k)
        return;
    av_nn__xnn_pack_put(k->packed);
    free(k->bias);
    free(k);
}

/* U = G g Gt for one 3x3 filter g (row-major), in double. */
static void filter_transform(const double g[9], double u[PTS])
{
    static const double G[6][3] = {{1.0 / 4, 0, 0},
                                   {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                   {0, 0, 1}};
    double t[6][3];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++)
            t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++)
            u[i * 6 + j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

typedef struct wino_src {
    const av_nn__xnn_wino *k;
    const float *w;
} wino_src;

/* U = G g Gt of every filter, per point xi a GEMM operand [ntiles][NR bias + cin * NR];
 * the NR bias slots stay 0: bias is added after At M A. */
static void wino_fill(float *packed, const void *ctx)
{
    const wino_src *src = ctx;
    const av_nn__xnn_wino *k = src->k;
    for (size_t o = 0; o < k->cout; o++)
        for (size_t c = 0; c < k->cin; c++) {
            double gg[9], u[PTS];
            for (int t = 0; t < 9; t++) /* OHWI */
                gg[t] = src->w[(o * 9 + (size_t)t) * k->cin + c];
            filter_transform(gg, u);
            for (size_t xi = 0; xi < PTS; xi++)
                packed[(xi * k->ntiles + o / NR) * k->tile_floats + NR + c * NR + o % NR] =
                    (float)u[xi];
        }
}

av_nn_status av_nn__xnn_wino_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *b = av_nn__xnn_in(g, n, 2), *y = av_nn__xnn_out(g, n, 0);
    const av_nn__conv_params *p = &n->p.conv;
    av_nn__xnn_wino *k = calloc(1, sizeof *k);
    if (!k)
        goto nomem;
    k->batch = (size_t)x->dims[0], k->h = (size_t)x->dims[1], k->w = (size_t)x->dims[2];
    k->cin = (size_t)x->dims[3], k->oh = (size_t)y->dims[1], k->ow = (size_t)y->dims[2];
    k->cout = (size_t)y->dims[3], k->pt = p->pad_top, k->pl = p->pad_left;
    k->th = (k->oh + 3) / 4, k->tw = (k->ow + 3) / 4, k->tiles = k->batch * k->th * k->tw;
    k->ntiles = (k->cout + NR - 1) / NR, k->tile_floats = NR + k->cin * NR;
    /* a block's V and M: PTS * blk * (cin + cout) floats, kept near 256 KiB */
    size_t per_row = (size_t)PTS * MR * (k->cin + k->cout) * sizeof(float);
    size_t rows = (256u << 10) / per_row;
    k->blk = MR * (rows < 1 ? 1 : rows > 4 ? 4 : rows);
    /* the filter is a graph constant: its size is bounded by the loader's limits */
    size_t bytes = (size_t)PTS * k->ntiles * k->tile_floats * sizeof(float);
    k->bias = calloc(k->cout, sizeof(float));
    if (!k->bias)
        goto nomem;
    for (size_t o = 0; o < k->cout; o++)
        k->bias[o] = b ? ((const float *)b->data)[o] : 0.0f;
    /* one transformed copy per model: its contexts share it (xnn_share.c) */
    wino_src src = {.k = k, .w = w->data};
    av_nn__xnn_pack_key key = {.kind = AV_NN__XNN_PACK_WINO, .w = src.w, .cin = k->cin,
                               .cout = k->cout, .kh = 3, .kw = 3, .bytes = bytes};
    k->packed = av_nn__xnn_pack_get(&key, wino_fill, &src);
    if (!k->packed)
        goto nomem;
    k->lo = -INFINITY, k->hi = INFINITY;
    if (!av_nn__xnn_act_bounds(&p->act, &k->lo, &k->hi))
        k->post = p->act.kind, k->alpha = p->act.alpha; /* LEAKY, SIGMOID, SILU, HARDSWISH */
    s->wino = k;
    s->what = "own Winograd F(4x4,3x3) (AVX2+FMA)";
    return AV_NN_OK;
nomem:
    av_nn__xnn_wino_free(k);
    return av_nn__fail(err, errlen, AV_NN_E_NOMEM,
                       "node '%s' (%s): out of memory transforming weights",
                       n->name ? n->name : "", av_nn__op_name(n->op));
}

#ifdef WINO_X86

#define TGT __attribute__((target("avx2,fma")))

/* Lane mask of the first n (<= 8) lanes. */
TGT static __m256i lanes(size_t n)
{
    static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(m + 8 - n));
}

/* Bt applied to 6 vectors (stride st apart in v), in place. */
__attribute__((always_inline)) TGT static inline void bt6(__m256 *v, size_t st)
{
    const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f);
    const __m256 two = _mm256_set1_ps(2.0f);
    __m256 d0 = v[0], d1 = v[st], d2 = v[2 * st], d3 = v[3 * st], d4 = v[4 * st],
           d5 = v[5 * st];
    __m256 a = _mm256_fnmadd_ps(four, d2, d4);      /* d4 - 4 d2 */
    __m256 bb = _mm256_fnmadd_ps(four, d1, d3);     /* d3 - 4 d1 */
    __m256 c = _mm256_sub_ps(d4, d2);               /* d4 - d2 */
    __m256 e = _mm256_mul_ps(two, _mm256_sub_ps(d3, d1)); /* 2 (d3 - d1) */
    v[0] = _mm256_fnmadd_ps(five, d2, _mm256_fmadd_ps(four, d0, d4));
    v[st] = _mm256_add_ps(a, bb);
    v[2 * st] = _mm256_sub_ps(a, bb);
    v[3 * st] = _mm256_add_ps(c, e);
    v[4 * st] = _mm256_sub_ps(c, e);
    v[5 * st] = _mm256_fnmadd_ps(five, d3, _mm256_fmadd_ps(four, d1, d5));
}

/* At applied to 6 vectors (stride st) into 4 (stride ot). */
__attribute__((always_inline)) TGT static inline void at6(const __m256 *m, size_t st, __m256 *o, size_t ot)
{
    const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f);
    const __m256 eight = _mm256_set1_ps(8.0f);
    __m256 s12 = _mm256_add_ps(m[st], m[2 * st]), d12 = _mm256_sub_ps(m[st], m[2 * st]);
    __m256 s34 = _mm256_add_ps(m[3 * st], m[4 * st]), d34 = _mm256_sub_ps(m[3 * st], m[4 * st]);
    o[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
    o[ot] = _mm256_fmadd_ps(two, d34, d12);
    o[2 * ot] = _mm256_fmadd_ps(four, s34, s12);
    o[3 * ot] = _mm256_add_ps(_mm256_fmadd_ps(eight, d34, d12), m[5 * st]);
}

typedef struct wino_job {
    const av_nn__xnn_wino *k;
    const float *x;
    float *y;
    float *scratch;     /* per task: PTS * blk * (cin + cout) floats */
    size_t slot_floats;
    atomic_size_t next; /* the next block to claim */
} wino_job;

/* V[xi][i][c] of tile t (block row i) over all channels. */
TGT static void input_tile(const av_nn__xnn_wino *k, const float *x, size_t t, float *v,
                           size_t i, size_t blk)
{
    size_t plane = k->th * k->tw, bi = t / plane, r = t % plane;
    int64_t y0 = (int64_t)(r / k->tw) * 4 - k->pt, x0 = (int64_t)(r % k->tw) * 4 - k->pl;
    const float *rows[6][6];
    for (int a = 0; a < 6; a++)
        for (int b2 = 0; b2 < 6; b2++) {
            int64_t iy = y0 + a, ix = x0 + b2;
            rows[a][b2] = iy >= 0 && iy < (int64_t)k->h && ix >= 0 && ix < (int64_t)k->w
                              ? x + ((bi * k->h + (size_t)iy) * k->w + (size_t)ix) * k->cin
                              : NULL;
        }
    for (size_t c = 0; c < k->cin; c += 8) {
        size_t nc = k->cin - c < 8 ? k->cin - c : 8;
        __m256i mask = lanes(nc);
        __m256 d[PTS];
        for (int q = 0; q < PTS; q++) {
            const float *p = rows[q / 6][q % 6];
            d[q] = !p ? _mm256_setzero_ps()
                      : nc == 8 ? _mm256_loadu_ps(p + c) : _mm256_maskload_ps(p + c, mask);
        }
        for (int col = 0; col < 6; col++) /* Bt d: down each column */
            bt6(d + col, 6);
        for (int row = 0; row < 6; row++) /* (Bt d) B: along each row */
            bt6(d + row * 6, 1);
        for (size_t q = 0; q < PTS; q++) {
            float *dst = v + (q * blk + i) * k->cin + c;
            if (nc == 8)
                _mm256_storeu_ps(dst, d[q]);
            else
                _mm256_maskstore_ps(dst, mask, d[q]);
        }
    }
}

/* Y of tile t from M[xi][i][.]: At M A + bias, clamped, the valid pixels stored. */
TGT static void output_tile(const av_nn__xnn_wino *k, const float *m, size_t t, size_t i,
                            size_t blk, float *y)
{
    size_t plane = k->th * k->tw, bi = t / plane, r = t % plane;
    size_t oy = (r / k->tw) * 4, ox = (r % k->tw) * 4;
    size_t vh = k->oh - oy < 4 ? k->oh - oy : 4, vw = k->ow - ox < 4 ? k->ow - ox : 4;
    float *base = y + ((bi * k->oh + oy) * k->ow + ox) * k->cout;
    const __m256 vlo = _mm256_set1_ps(k->lo), vhi = _mm256_set1_ps(k->hi);
    for (size_t c = 0; c < k->cout; c += 8) {
        size_t nc = k->cout - c < 8 ? k->cout - c : 8;
        __m256i mask = lanes(nc);
        __m256 s[PTS], o[24];
        for (size_t q = 0; q < PTS; q++) {
            const float *src = m + (q * blk + i) * k->cout + c;
            s[q] = nc == 8 ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, mask);
        }
        for (int col = 0; col < 6; col++) /* At M: 4 rows of 6 */
            at6(s + col, 6, o + col, 6);
        __m256 bias = nc == 8 ? _mm256_loadu_ps(k->bias + c) : _mm256_maskload_ps(k->bias + c, mask);
        for (size_t row = 0; row < vh; row++) {
            __m256 out[4];
            at6(o + row * 6, 1, out, 1);
            for (size_t col = 0; col < vw; col++) {
                __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(out[col], bias), vlo), vhi);
                float *dst = base + (row * k->ow + col) * k->cout + c;
                if (nc == 8)
                    _mm256_storeu_ps(dst, v);
                else
                    _mm256_maskstore_ps(dst, mask, v);
            }
        }
    }
    /* a tile row's pixels are contiguous */
    for (size_t row = 0; row < vh && k->post != AV_NN_ACT_NONE; row++)
        av_nn__xnn_post_span(k->post, k->alpha, base + row * k->ow * k->cout, vw * k->cout);
}

/* Task `slot`: claims blocks of tiles until none is left. */
TGT static void wino_task(void *ctx, size_t slot)
{
    wino_job *job = ctx;
    const av_nn__xnn_wino *k = job->k;
    size_t blk = k->blk, nblocks = (k->tiles + blk - 1) / blk;
    float *v = job->scratch + slot * job->slot_floats, *m = v + PTS * blk * k->cin;
    for (;;) {
        size_t bl = atomic_fetch_add(&job->next, 1);
        if (bl >= nblocks)
            return;
        size_t t0 = bl * blk, nt = k->tiles - t0 < blk ? k->tiles - t0 : blk;
        for (size_t i = 0; i < nt; i++)
            input_tile(k, job->x, t0 + i, v, i, blk);
        for (size_t q = 0; q < PTS; q++) {
            const float *w = k->packed + q * k->ntiles * k->tile_floats;
            for (size_t i0 = 0; i0 < nt; i0 += MR) {
                const float *a[MR];
                size_t mr = nt - i0 < MR ? nt - i0 : MR;
                for (size_t i = 0; i < MR; i++) /* rows past nt repeat the first */
                    a[i] = v + (q * blk + i0 + (i < mr ? i : 0)) * k->cin;
                av_nn__xnn_gemm_tile(mr, k->cout, k->cin, a, w, m + (q * blk + i0) * k->cout,
                                     k->cout);
            }
        }
        for (size_t i = 0; i < nt; i++)
            output_tile(k, m, t0 + i, i, blk, job->y);
    }
}

#endif /* WINO_X86 */

bool av_nn__xnn_wino_run(const av_nn__xnn_wino *k, const float *x, float *y, pthreadpool_t pool)
{
#ifdef WINO_X86
    size_t nblocks = (k->tiles + k->blk - 1) / k->blk;
    size_t tasks = pthreadpool_get_threads_count(pool);
    if (tasks < 1)
        tasks = 1;
    if (tasks > nblocks)
        tasks = nblocks;
    if (tasks > MAX_SLOTS)
        tasks = MAX_SLOTS;
    wino_job job = {.k = k, .x = x, .y = y, .slot_floats = PTS * k->blk * (k->cin + k->cout)};
    atomic_init(&job.next, 0);
    /* per run: freed blocks of this size stay in malloc's heap, so it is cheap */
    size_t bytes = tasks * job.slot_floats * sizeof(float);
    job.scratch = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!job.scratch)
        return false;
    pthreadpool_parallelize_1d(pool, wino_task, &job, tasks, PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    free(job.scratch);
    return true;
#else
    (void)k, (void)x, (void)y, (void)pool; /* never prepared: supports() is false */
    return false;
#endif
}
