/*
 * xnn_stem.c - the RGB stem: a 3x3 stride-2 f32 convolution of a 3-channel
 * image (CenterNet's 512x512x3 -> 256x256x16) by a direct kernel.
 *
 * Why: our GEMM (xnn_gemm.c) runs it in row mode, which looks up 3 row
 * pointers per output pixel (bounds checks, 64-bit index arithmetic) and
 * runs inner loops of a run-time length of 9: with only 27 multiply-adds
 * per output, that bookkeeping costs about as much as the arithmetic
 * (41 GFLOP/s on one Zen 3 core where its 1x1 convolutions reach 75).
 * Here the geometry is fixed at compile time: the kernel row of pixel i of
 * a 6-pixel tile starts PS = 6 floats after pixel i - 1's (stride 2 x 3
 * channels) and is KC = 9 consecutive floats, so the tile needs one pointer
 * per kernel row and each step reads at constant offsets from it. The 9
 * steps of a kernel row run as a loop (AV_NN_FUSE_FRONT=0: 9 copies, where
 * gcc keeps accumulators on the stack: 64 against 80 GFLOP/s in cache).
 *
 * Same packing (shared with the GEMM's: same key, same bytes), same
 * accumulation order (bias, then kernel rows, then the 9 floats of each,
 * one fused multiply-add each), same zeros where the kernel leaves the
 * image, same clamp and row activation: bit-identical to xnn_gemm.c's
 * result. Tiles that cross the image's left or right edge, or the row's
 * last partial tile, read a zero-padded copy of their 39 floats per kernel
 * row. AV_NN_XNN_STEM=0 leaves the stem to the GEMM.
 */
#include "nn/xnn/xnn_impl.h"

#include "nn/core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "nn/xnn/xnn_tile.h"
#define STEM_X86 1
#endif

#define MR 6                        /* output pixels per tile */
#define NR 16                       /* output channels per tile (the GEMM's packing) */
#define KC 9                        /* floats of one kernel row: 3 taps x 3 channels */
#define PS 6                        /* floats between neighbouring pixels' kernel rows */
#define SPAN ((MR - 1) * PS + KC)   /* floats one tile's kernel row reads: 39 */
#define ROWS_PER_TASK 2             /* output rows per pool task */

struct av_nn__xnn_stem {
    av_nn__xnn_geom geo;
    const float *packed; /* the GEMM's layout, shared (xnn_share.c) */
    size_t ntiles, tile_floats;
    float lo, hi;        /* clamp of the fused act */
    av_nn__act post;     /* LEAKY, SIGMOID, SILU, HARDSWISH on each output row, else NONE */
    float alpha;
    bool front;          /* AV_NN_FUSE_FRONT: the steps as a loop (stem_tile) */
};

static av_nn__switch sw = AV_NN__SWITCH("AV_NN_XNN_STEM");

void av_nn__xnn_stem_force_off(bool on)
{
    av_nn__switch_force_off(&sw, on);
}

bool av_nn__xnn_stem_supports(const av_nn__graph *g, const av_nn__node *n)
{
#ifdef STEM_X86
    if (!av_nn__switch_on(&sw) ||
        n->op != AV_NN_OP_CONV2D || n->p.conv.dw_on || n->n_in > 3 ||
        !av_nn__xnn_gemm_supports(g, n)) /* f32, constant filter, an act the GEMM applies */
        return false;
    const av_nn__conv_params *p = &n->p.conv;
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *y = av_nn__xnn_out(g, n, 0);
    if (x->dims[3] != 3 || w->dims[1] != 3 || w->dims[2] != 3 || p->stride_h != 2 ||
        p->stride_w != 2 || p->dilation_h != 1 || p->dilation_w != 1 || p->pad_top < 0 ||
        p->pad_left < 0 || p->pad_top > 2 || p->pad_left > 2)
        return false;
    /* the output size the geometry implies (the GEMM's bookkeeping assumes it too) */
    int64_t oh = (x->dims[1] + p->pad_top + p->pad_bottom - 3) / 2 + 1;
    int64_t ow = (x->dims[2] + p->pad_left + p->pad_right - 3) / 2 + 1;
    return y->dims[1] == oh && y->dims[2] == ow && oh >= 1 && ow >= 1;
#else
    (void)g, (void)n;
    return false;
#endif
}

void av_nn__xnn_stem_free(av_nn__xnn_stem *k)
{
    if (!k)
        return;
    av_nn__xnn_pack_put(k->packed);
    free(k);
}

typedef struct stem_src {
    const av_nn__xnn_stem *k;
    const float *w, *b;
} stem_src;

/* xnn_gemm.c's packing, so the GEMM and the stem share one buffer. */
static void stem_fill(float *packed, const void *ctx)
{
    const stem_src *src = ctx;
    const av_nn__xnn_stem *k = src->k;
    av_nn__xnn_gemm_pack(packed, k->geo.cout, k->geo.ks, k->geo.cin, src->w, src->b);
}

av_nn_status av_nn__xnn_stem_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen)
{
    const av_nn__tensor *w = av_nn__xnn_in(g, n, 1), *b = av_nn__xnn_in(g, n, 2);
    av_nn__xnn_stem *k = calloc(1, sizeof *k);
    if (!k)
        return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "out of memory");
    av_nn__xnn_conv_geom(g, n, &k->geo);
    k->ntiles = (k->geo.cout + NR - 1) / NR;
    k->tile_floats = NR + k->geo.ks * k->geo.cin * NR;
    stem_src src = {.k = k, .w = w->data, .b = b ? b->data : NULL};
    av_nn__xnn_pack_key key = {.kind = AV_NN__XNN_PACK_GEMM, .w = src.w, .b = src.b,
                               .cin = k->geo.cin, .cout = k->geo.cout, .kh = (size_t)k->geo.kh,
                               .kw = (size_t)k->geo.kw,
                               .bytes = k->ntiles * k->tile_floats * sizeof(float)};
    k->packed = w->released ? av_nn__xnn_pack_find(&key) : av_nn__xnn_pack_get(&key, stem_fill, &src);
    if (!k->packed) {
        bool gone = w->released;
        av_nn__xnn_stem_free(k);
        return gone ? av_nn__node_fail(err, errlen, AV_NN_E_BACKEND, n,
                                       "weights released and no packed copy left")
                    : av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n,
                                       "out of memory packing weights");
    }
    k->lo = -INFINITY, k->hi = INFINITY;
    if (!av_nn__xnn_act_bounds(&n->p.conv.act, &k->lo, &k->hi))
        k->post = n->p.conv.act.kind, k->alpha = n->p.conv.act.alpha;
    k->front = av_nn__xnn_front_on();
    s->stem = k;
    s->what = "own 3x3 stride-2 RGB stem (AVX2+FMA)";
    return AV_NN_OK;
}

#ifdef STEM_X86

static const float zeros[SPAN]; /* what a kernel row above or below the image reads */

/* One step k of a kernel row: the NR weights times each pixel's float k. */
#define STEP(k)                                                                    \
    do {                                                                           \
        const __m256 b0 = _mm256_load_ps(w + (k) * NR), b1 = _mm256_load_ps(w + (k) * NR + 8); \
        __m256 v = _mm256_broadcast_ss(a + (k));                                   \
        c00 = _mm256_fmadd_ps(v, b0, c00), c01 = _mm256_fmadd_ps(v, b1, c01);      \
        v = _mm256_broadcast_ss(a + PS + (k));                                     \
        c10 = _mm256_fmadd_ps(v, b0, c10), c11 = _mm256_fmadd_ps(v, b1, c11);      \
        v = _mm256_broadcast_ss(a + 2 * PS + (k));                                 \
        c20 = _mm256_fmadd_ps(v, b0, c20), c21 = _mm256_fmadd_ps(v, b1, c21);      \
        v = _mm256_broadcast_ss(a + 3 * PS + (k));                                 \
        c30 = _mm256_fmadd_ps(v, b0, c30), c31 = _mm256_fmadd_ps(v, b1, c31);      \
        v = _mm256_broadcast_ss(a + 4 * PS + (k));                                 \
        c40 = _mm256_fmadd_ps(v, b0, c40), c41 = _mm256_fmadd_ps(v, b1, c41);      \
        v = _mm256_broadcast_ss(a + 5 * PS + (k));                                 \
        c50 = _mm256_fmadd_ps(v, b0, c50), c51 = _mm256_fmadd_ps(v, b1, c51);      \
    } while (0)

/* C[mr pixels, all channels] (row stride cout) from the tile's three kernel
 * rows r[0..2], each SPAN floats with pixel i's row at i * PS. */
__attribute__((target("avx2,fma"))) static void stem_tile(const av_nn__xnn_stem *k,
                                                         const float *const r[3], float *c,
                                                         size_t mr)
{
    const __m256 vlo = _mm256_set1_ps(k->lo), vhi = _mm256_set1_ps(k->hi);
    const bool clamp = k->lo != -INFINITY || k->hi != INFINITY, front_loop = k->front;
    size_t cout = k->geo.cout;
    for (size_t j = 0; j < k->ntiles; j++) {
        const float *w = k->packed + j * k->tile_floats;
        size_t nc = cout - j * NR < NR ? cout - j * NR : NR;
        __m256 c00 = _mm256_load_ps(w), c01 = _mm256_load_ps(w + 8);
        __m256 c10 = c00, c11 = c01, c20 = c00, c21 = c01;
        __m256 c30 = c00, c31 = c01, c40 = c00, c41 = c01, c50 = c00, c51 = c01;
        w += NR;
        for (int ky = 0; ky < 3; ky++, w += KC * NR) {
            const float *a = r[ky];
            if (front_loop) {
                /* a loop, not 9 copies: unrolled, gcc keeps some of the 12
                 * accumulators on the stack (a store-to-load round trip per
                 * step); the loop holds them all in registers */
#pragma GCC unroll 1
                for (int s = 0; s < KC; s++)
                    STEP(s);
            } else {
                STEP(0);
                STEP(1);
                STEP(2);
                STEP(3);
                STEP(4);
                STEP(5);
                STEP(6);
                STEP(7);
                STEP(8);
            }
        }
        av_nn__tile_store_6x16(c + j * NR, cout, mr, nc, clamp, true, vlo, vhi, c00, c01, c10, c11, c20,
                               c21, c30, c31, c40, c41, c50, c51);
    }
}
#undef STEP

typedef struct stem_job {
    const av_nn__xnn_stem *k;
    const float *x;
    float *y;
} stem_job;

/* Output rows [r0, r0 + count) of all images (rows of images follow each other). */
static void stem_task(void *ctx, size_t r0, size_t count)
{
    const stem_job *job = ctx;
    const av_nn__xnn_stem *k = job->k;
    const av_nn__xnn_geom *q = &k->geo;
    size_t line_floats = q->w * 3;
    float patch[3][SPAN];
    for (size_t row = r0; row < r0 + count; row++) {
        size_t bi = row / q->oh, oy = row % q->oh;
        const float *line[3]; /* the input row of each kernel row, NULL above or below */
        for (int ky = 0; ky < 3; ky++) {
            int64_t iy = (int64_t)oy * 2 - q->pt + ky;
            line[ky] = iy >= 0 && iy < (int64_t)q->h
                           ? job->x + (bi * q->h + (size_t)iy) * line_floats
                           : NULL;
        }
        float *yrow = job->y + row * q->ow * q->cout;
        for (size_t ox = 0; ox < q->ow; ox += MR) {
            size_t mr = q->ow - ox < MR ? q->ow - ox : MR;
            int64_t ix0 = (int64_t)ox * 2 - q->pl; /* the tile's first input column */
            bool inside = mr == MR && ix0 >= 0 && ix0 + SPAN / 3 <= (int64_t)q->w;
            const float *r[3];
            for (int ky = 0; ky < 3; ky++) {
                if (!line[ky]) {
                    r[ky] = zeros;
                } else if (inside) {
                    r[ky] = line[ky] + ix0 * 3;
                } else { /* a copy with zeros outside the image (and past the row's end) */
                    for (int64_t i = 0; i < SPAN / 3; i++) {
                        int64_t ix = ix0 + i;
                        bool in = ix >= 0 && ix < (int64_t)q->w;
                        for (int ch = 0; ch < 3; ch++)
                            patch[ky][i * 3 + ch] = in ? line[ky][ix * 3 + ch] : 0.0f;
                    }
                    r[ky] = patch[ky];
                }
            }
            stem_tile(k, r, yrow + ox * q->cout, mr);
        }
        /* the row's outputs are contiguous, still in L1 */
        av_nn__xnn_post_span(k->post, k->alpha, yrow, q->ow * q->cout);
    }
}

#endif /* STEM_X86 */

void av_nn__xnn_stem_run(const av_nn__xnn_stem *k, const float *x, float *y, pthreadpool_t pool)
{
#ifdef STEM_X86
    stem_job job = {k, x, y};
    pthreadpool_parallelize_1d_tile_1d(pool, stem_task, &job, k->geo.batch * k->geo.oh,
                                       ROWS_PER_TASK, PTHREADPOOL_FLAG_DISABLE_DENORMALS);
#else
    (void)k, (void)x, (void)y, (void)pool; /* never prepared: supports() is false */
#endif
}
