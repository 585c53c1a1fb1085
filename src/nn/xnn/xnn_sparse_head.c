/*
 * xnn_sparse_head.c - SPARSE_HEAD (pass_sparse_head.c): a depthwise + 1x1
 * conv head evaluated at the gathered pixels only (CenterNet's box sizes:
 * 100 pixels of 16384, about 1.6 CPU ms of dense work down to microseconds).
 *
 * Bit for bit the rows the dense pair (xnn_dwpw.c) writes: the depthwise of
 * one pixel takes its taps as our depthwise does (xnn_dw.c, xnn_dw_slide.c:
 * each channel starts from its bias and adds tap (ky, kx) in that order with
 * one FMA each, taps outside the input skipped, the same packed and scaled
 * weights, the same register activation), and the 1x1 is our GEMM's own
 * span (av_nn__xnn_gemm_span) over the gathered rows: its pixels are
 * independent of each other, so a row's sum does not depend on its
 * neighbours. Indices are checked (negative ones wrap, as the gather's did;
 * out of range is an error, nothing read).
 */
#include "nn/xnn/xnn_dw_impl.h"

#include "nn/core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct av_nn__xnn_sparse {
    av_nn__xnn_dw *dw;       /* the depthwise, packed as xnn_dw.c packs it */
    av_nn__xnn_dw_se se;     /* per scale image: dw's taps times its scale (in[6]) */
    av_nn__xnn_gemm *pw;     /* the 1x1 on our GEMM */
    size_t n, h, w, c, cout; /* the conv's input [n, h, w, c]; its output channels */
    size_t rows;             /* gathered pixels (indices) */
    float *mid;              /* rows x c: the depthwise at the gathered pixels */
};

/* The 1x1 part as a CONV2D of a small graph of its own: x, w, b and the
 * dense output [n, h, w, cout] that the gather's rows came from (our GEMM
 * takes its geometry from the tensors). */
typedef struct pw_part {
    av_nn__graph g;
    av_nn__tensor t[4];
    av_nn__node n;
} pw_part;

static bool make_pw(const av_nn__graph *g, const av_nn__node *n, pw_part *q)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *w = av_nn__xnn_in(g, n, 1);
    const av_nn__tensor *b = av_nn__xnn_in(g, n, 2);
    if (!x || !w || x->rank != 4 || w->rank != 4)
        return false;
    memset(q, 0, sizeof *q);
    q->t[0] = *x, q->t[1] = *w;
    if (b)
        q->t[2] = *b;
    q->t[3] = *x;
    q->t[3].dims[3] = w->dims[0];
    q->t[3].data = NULL;
    q->g.tensors = q->t, q->g.n_tensors = 4;
    q->n = (av_nn__node){.op = AV_NN_OP_CONV2D, .name = n->name, .n_in = b ? 3 : 2, .n_out = 1};
    q->n.in[0] = 0, q->n.in[1] = 1, q->n.in[2] = b ? 2 : -1, q->n.out[0] = 3;
    q->n.p.conv = n->p.conv;
    q->n.p.conv.dw_on = false;
    q->n.p.conv.pre_residual = -1;
    return true;
}

/* Register activations only: a row-wide one (sigmoid, SiLU) runs over spans
 * whose vector/tail split depends on the row's length. */
static bool reg_act(const av_nn__fused_act *a)
{
    float lo, hi;
    return av_nn__xnn_act_bounds(a, &lo, &hi) || a->kind == AV_NN_ACT_HARDSWISH ||
           (a->kind == AV_NN_ACT_LEAKY && isfinite(a->alpha));
}

bool av_nn__xnn_sparse_supports(const av_nn__graph *g, const av_nn__node *n)
{
    if (n->op != AV_NN_OP_SPARSE_HEAD || (n->n_in != 6 && n->n_in != 7))
        return false;
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *it = av_nn__xnn_in(g, n, 3);
    const av_nn__tensor *y = av_nn__xnn_out(g, n, 0);
    if (!x || !it || !y || x->rank != 4 || av_nn__xnn_numel(x) < 1 || y->dtype != AV_NN_F32 ||
        av_nn__xnn_numel(it) < 1 || (it->dtype != AV_NN_I32 && it->dtype != AV_NN_I64))
        return false;
    /* the gathered depthwise rows (rows x C floats) within one tensor's limit */
    if (av_nn__xnn_numel(it) > AV_NN_MAX_ELEMENTS / x->dims[3])
        return false;
    av_nn__tid st = n->n_in > 6 ? n->in[6] : -1;
    if (st >= 0) {
        const av_nn__tensor *sc = &g->tensors[st];
        if (sc->dtype != AV_NN_F32 || av_nn__is_quant(sc) || sc->rank != 4 || sc->dims[1] != 1 ||
            sc->dims[2] != 1 || sc->dims[3] != x->dims[3] ||
            (sc->dims[0] != 1 && sc->dims[0] != x->dims[0]))
            return false;
    }
    av_nn__node dw;
    av_nn__dwpw_dw_of(n, &dw);
    pw_part *q = malloc(sizeof *q); /* 4 tensors: too big for a stack frame here */
    bool ok = q && reg_act(&n->p.conv.dw_act) && reg_act(&n->p.conv.act) &&
              av_nn__xnn_dw_takes(g, &dw) && make_pw(g, n, q) &&
              av_nn__xnn_gemm_supports(&q->g, &q->n) && q->t[1].dims[1] == 1 &&
              q->t[1].dims[2] == 1;
    free(q);
    return ok;
}

void av_nn__xnn_sparse_free(av_nn__xnn_sparse *k)
{
    if (!k)
        return;
    av_nn__xnn_dw_se_free(&k->se);
    av_nn__xnn_dw_free(k->dw);
    av_nn__xnn_gemm_free(k->pw);
    free(k->mid);
    free(k);
}

av_nn_status av_nn__xnn_sparse_prepare(const av_nn__graph *g, const av_nn__node *n,
                                       av_nn__xnn_node *s, char *err, size_t errlen)
{
    av_nn__node dw;
    av_nn__dwpw_dw_of(n, &dw);
    av_nn__xnn_node a = {0}, b = {0};
    av_nn__xnn_sparse *k = calloc(1, sizeof *k);
    pw_part *q = malloc(sizeof *q);
    av_nn_status st = AV_NN_E_NOMEM;
    if (!k || !q || !make_pw(g, n, q))
        goto fail;
    if ((st = av_nn__xnn_dw_prepare(g, &dw, &a, err, errlen)))
        goto fail;
    k->dw = a.dw;
    if ((st = av_nn__xnn_gemm_prepare(&q->g, &q->n, &b, err, errlen)))
        goto fail;
    k->pw = b.gemm;
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0);
    k->n = (size_t)x->dims[0], k->h = (size_t)x->dims[1], k->w = (size_t)x->dims[2];
    k->c = (size_t)x->dims[3], k->cout = (size_t)q->t[3].dims[3];
    k->rows = (size_t)av_nn__xnn_numel(av_nn__xnn_in(g, n, 3));
    st = AV_NN_E_NOMEM;
    /* rows x c floats, bounded by supports(); a row more of slack */
    if (!(k->mid = malloc((k->rows + 1) * k->c * sizeof *k->mid)))
        goto fail;
    av_nn__tid sid = n->n_in > 6 ? n->in[6] : -1;
    if (av_nn__xnn_dw_se_init(&k->se, k->dw, sid >= 0 ? &g->tensors[sid] : NULL, k->n))
        goto fail;
    free(q);
    s->sparse = k;
    s->what = "own depthwise + 1x1 at the gathered pixels (AVX2+FMA)";
    return AV_NN_OK;
fail:
    free(q);
    av_nn__xnn_sparse_free(k);
    if (st == AV_NN_E_NOMEM)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "node '%s' (%s): out of memory",
                           n->name ? n->name : "", av_nn__op_name(n->op));
    return st;
}

#ifdef DW_X86
/* The depthwise at pixel (oy, ox) of image xb into yc (c floats): per 8
 * channels, the bias, then taps (ky, kx) inside the input in that order,
 * one FMA each, then the register act: xnn_dw.c's dw_px1 and dw_px4 and
 * xnn_dw_slide.c's runs sum each channel so. */
DW_TGT static void dw_pixel(const av_nn__xnn_dw *k, const float *xb, float *yc, int64_t oy,
                            int64_t ox)
{
    const size_t C = k->c, cp = k->cp;
    const int64_t iy0 = oy - k->pt, ix0 = ox - k->pl;
    int64_t ky0 = iy0 < 0 ? -iy0 : 0, ky1 = (int64_t)k->h - iy0;
    int64_t kx0 = ix0 < 0 ? -ix0 : 0, kx1 = (int64_t)k->w - ix0;
    ky1 = ky1 > k->kh ? k->kh : ky1;
    kx1 = kx1 > k->kw ? k->kw : kx1;
    __m256i m[2];
    for (size_t c0 = 0; c0 < C; c0 += 8) {
        bool full = c0 + 8 <= C;
        av_nn__dw_masks(full ? 8 : C - c0, m);
        __m256 acc = _mm256_load_ps(k->packed + c0);
        for (int64_t ky = ky0; ky < ky1; ky++)
            for (int64_t kx = kx0; kx < kx1; kx++) {
                const float *p = xb + ((size_t)(iy0 + ky) * k->w + (size_t)(ix0 + kx)) * C + c0;
                const float *w = k->packed + (1 + (size_t)(ky * k->kw + kx)) * cp + c0;
                acc = _mm256_fmadd_ps(av_nn__dw_ld(p, full, m[0]), _mm256_load_ps(w), acc);
            }
        av_nn__dw_st(yc + c0, av_nn__dw_act8(acc, k), full, m[0]);
    }
}
#endif

av_nn_status av_nn__xnn_sparse_run(av_nn__xnn_sparse *k, const av_nn__node *n, const float *x,
                                   const void *idx, av_nn_dtype it, const float *sc, float *y,
                                   char *err, size_t errlen)
{
#ifdef DW_X86
    /* denormals flushed (FTZ) and read as zero (DAZ), as the pool's
     * PTHREADPOOL_FLAG_DISABLE_DENORMALS runs the dense kernels: the same
     * bits on tiny values too */
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);
    av_nn__xnn_dw_se_scale(&k->se, k->dw, sc);
    const int64_t plane = (int64_t)(k->h * k->w), all = plane * (int64_t)k->n;
    for (size_t j = 0; j < k->rows; j++) {
        int64_t p = it == AV_NN_I32 ? ((const int32_t *)idx)[j] : ((const int64_t *)idx)[j];
        int64_t raw = p;
        if (p < 0)
            p += all; /* as the gather it replaced: negative indices wrap */
        if (p < 0 || p >= all) {
            _mm_setcsr(csr);
            return av_nn__node_fail(err, errlen, AV_NN_E_ARG, n, "index %lld out of range [0, %lld)",
                                    (long long)raw, (long long)all);
        }
        int64_t b = p / plane, r = p % plane;
        dw_pixel(av_nn__xnn_dw_se_pick(&k->se, k->dw, (size_t)b), x + (size_t)b * (size_t)plane * k->c, k->mid + j * k->c, r / (int64_t)k->w,
                 r % (int64_t)k->w);
    }
    av_nn__xnn_gemm_span(k->pw, k->mid, NULL, y, k->rows);
    _mm_setcsr(csr);
    return AV_NN_OK;
#else
    (void)k, (void)x, (void)idx, (void)it, (void)sc, (void)y; /* never prepared */
    return av_nn__node_fail(err, errlen, AV_NN_E_UNSUPPORTED, n, "no AVX2");
#endif
}
