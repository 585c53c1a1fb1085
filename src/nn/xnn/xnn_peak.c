/*
 * xnn_peak.c - the peak mask of CenterNet's heat map as one pass over
 * memory: y = x * (x == max of x's window), a MAX_POOL2D node with
 * p.pool.peak set by pass_fuse.c (it stood for max_pool, equal, cast and
 * mul: 3.0 ms of 53 on one thread at 128x128x80, four reads and three writes
 * of the map). Stride 1, no dilation, output shaped as the input, NHWC f32;
 * rows of the output split across the pool, 8 channels per AVX2 vector.
 * Exactly the unfused answer for NaN-free input (max is exact, so is x * 1
 * and x * 0).
 *
 * AV_NN_FUSE_PEAK=0 (or AV_NN_NO_AVX2) keeps the four nodes; where the
 * fusion happened anyway (a graph finalized before) the portable loop runs.
 */
#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PEAK_X86 1
#endif

static bool cpu_ok;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static av_nn__switch sw = AV_NN__SWITCH("AV_NN_FUSE_PEAK");

/* AVX2, and AV_NN_NO_AVX2 not set to other than "" or "0" (a CPU without
 * AVX2, as xnn_silu.c reads it). */
static void check_cpu(void)
{
#ifdef PEAK_X86
    const char *no = getenv("AV_NN_NO_AVX2");
    __builtin_cpu_init();
    cpu_ok = __builtin_cpu_supports("avx2") && !(no && *no && strcmp(no, "0") != 0);
#endif
}

bool av_nn__peak_fusion_pays(void)
{
    pthread_once(&cpu_once, check_cpu);
    return cpu_ok && av_nn__switch_on(&sw);
}

void av_nn__peak_force_off(bool on)
{
    av_nn__switch_force_off(&sw, on);
}

typedef struct peak_job {
    const float *x;
    float *y;
    int64_t h, w, c;
    int kh, kw, pt, pl;
    bool avx2;
} peak_job;

/* Window [*lo, *hi) of output coordinate o along an axis of n. */
static void window(int64_t o, int pad, int k, int64_t n, int64_t *lo, int64_t *hi)
{
    int64_t a = o - pad, b = a + k;
    *lo = a < 0 ? 0 : a;
    *hi = b > n ? n : b;
}

/* Channels [c0, C) of one output pixel; x0 the window's top-left pixel. */
static void peak_tail(const peak_job *j, const float *x0, const float *xc, float *y, int64_t c0,
                      int64_t nr, int64_t nc)
{
    int64_t rs = j->w * j->c;
    for (int64_t c = c0; c < j->c; c++) {
        float m = x0[c];
        for (int64_t r = 0; r < nr; r++)
            for (int64_t q = 0; q < nc; q++) {
                float v = x0[r * rs + q * j->c + c];
                m = v > m ? v : m;
            }
        y[c] = xc[c] * (xc[c] == m ? 1.0f : 0.0f);
    }
}

#ifdef PEAK_X86
__attribute__((target("avx2"))) static int64_t peak_avx2(const peak_job *j, const float *x0,
                                                        const float *xc, float *y, int64_t nr,
                                                        int64_t nc)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t rs = j->w * j->c, c = 0;
    for (; c + 8 <= j->c; c += 8) {
        __m256 m = _mm256_loadu_ps(x0 + c);
        for (int64_t r = 0; r < nr; r++)
            for (int64_t q = 0; q < nc; q++)
                m = _mm256_max_ps(m, _mm256_loadu_ps(x0 + r * rs + q * j->c + c));
        __m256 v = _mm256_loadu_ps(xc + c);
        __m256 keep = _mm256_and_ps(_mm256_cmp_ps(v, m, _CMP_EQ_OQ), one);
        _mm256_storeu_ps(y + c, _mm256_mul_ps(v, keep));
    }
    return c;
}
#endif

static void peak_rows(void *ctx, size_t row, size_t count)
{
    const peak_job *j = ctx;
    for (size_t rr = row; rr < row + count; rr++) {
        int64_t b = (int64_t)rr / j->h, oy = (int64_t)rr % j->h, y0, y1;
        window(oy, j->pt, j->kh, j->h, &y0, &y1);
        const float *img = j->x + b * j->h * j->w * j->c;
        for (int64_t ox = 0; ox < j->w; ox++) {
            int64_t x0, x1;
            window(ox, j->pl, j->kw, j->w, &x0, &x1);
            const float *top = img + (y0 * j->w + x0) * j->c;
            const float *xc = img + (oy * j->w + ox) * j->c;
            float *y = j->y + (((int64_t)rr) * j->w + ox) * j->c;
            int64_t c = 0;
#ifdef PEAK_X86
            if (j->avx2)
                c = peak_avx2(j, top, xc, y, y1 - y0, x1 - x0);
#endif
            peak_tail(j, top, xc, y, c, y1 - y0, x1 - x0);
        }
    }
}

static void k_peak(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                   void *const *out, pthreadpool_t pool)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]];
    const av_nn__pool_params *p = &n->p.pool;
    peak_job j = {.x = in[0], .y = out[0], .h = x->dims[1], .w = x->dims[2], .c = x->dims[3],
                  .kh = p->filter_h, .kw = p->filter_w, .pt = p->pad_top, .pl = p->pad_left,
                  .avx2 = av_nn__peak_fusion_pays()};
    pthreadpool_parallelize_1d_tile_1d(pool, peak_rows, &j, (size_t)(x->dims[0] * j.h), 1, 0);
}

bool av_nn__xnn_peak_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    const av_nn__pool_params *p = &n->p.pool;
    if (n->op != AV_NN_OP_MAX_POOL2D || !p->peak || !x || !y || x->dtype != AV_NN_F32 ||
        y->dtype != AV_NN_F32 || x->rank != 4 || y->rank != 4 || av_nn__xnn_numel(x) < 1 ||
        memcmp(x->dims, y->dims, sizeof x->dims[0] * 4) != 0 || p->act.kind != AV_NN_ACT_NONE)
        return false;
    return av_nn__peak_window_ok(p); /* every window holds a real pixel */
}

void av_nn__xnn_peak_prepare(av_nn__xnn_node *s)
{
    s->kernel = k_peak;
    s->what = av_nn__peak_fusion_pays() ? "own peak mask (AVX2)" : "own peak mask (portable)";
}
