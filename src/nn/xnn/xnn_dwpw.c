/*
 * xnn_dwpw.c - a 1x1 convolution that took the depthwise before it
 * (p.conv.dw_on, pass_fuse.c), run in bands of output rows: our depthwise
 * (xnn_dw.c) writes a band of rows into a scratch buffer that fits in L2
 * (BAND_FLOATS), and our GEMM (xnn_gemm.c) reads it back while it is still
 * in cache. The depthwise's output never goes to memory:
 * on CenterNet's heads (128x128x128, 8 MiB each) that is a write and a read
 * of 8 MiB less per head.
 *
 * Pool tasks are bands; each takes a free scratch slot (at most one task
 * per thread runs at once, so one slot per thread suffices). The depthwise
 * runs every shape our kernel takes here, even the large 3x3 layers its
 * own node leaves to XNNPACK (xnn_dw.c): there, XNNPACK's edge came from
 * streaming memory, which the band avoids. AV_NN_FUSE_DWPW=0 turns the
 * fusion off (pass_fuse.c).
 */
#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Floats of one band's depthwise output at most (192 KiB, in L2 with the
 * GEMM's weights): 3 rows of CenterNet's 128x128x128 heads, 12 of its
 * 256x256x16 stem. Bands of a multiple of 6 pixels where the row allows:
 * the GEMM's 6-row tile wastes nothing at the band's end. */
#define BAND_FLOATS 49152
#define MAX_SLOTS 64 /* threads of a pool that get a slot of their own */

struct av_nn__xnn_dwpw {
    av_nn__xnn_dw *dw;
    av_nn__xnn_gemm *pw;
    size_t rows, row_floats, w, cout; /* depthwise output rows (all images), floats per row */
    size_t band;                      /* rows per band */
    av_nn__xnn_dw_se se;    /* a fused squeeze-excite scale's copies of dw */
    size_t oh;              /* depthwise output rows per image */
};

static av_nn__switch sw = AV_NN__SWITCH("AV_NN_FUSE_DWPW");
static _Atomic int64_t min_floats = AV_NN__DWPW_MIN_FLOATS;

bool av_nn__dwpw_fusion_pays(void)
{
    return av_nn__switch_on(&sw) && av_nn__xnn_dw_available() && av_nn__xnn_gemm_available();
}

void av_nn__dwpw_force_off(bool on)
{
    av_nn__switch_force_off(&sw, on);
}

int64_t av_nn__dwpw_min_floats(int64_t floats)
{
    return floats < 0 ? atomic_load(&min_floats) : atomic_exchange(&min_floats, floats);
}

bool av_nn__xnn_dwpw_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__conv_params *p = &n->p.conv;
    av_nn__node dw;
    const av_nn__tensor *w = n->n_in > 1 && n->in[1] >= 0 ? &g->tensors[n->in[1]] : NULL;
    av_nn__tid st = av_nn__dwpw_scale(n);
    if (st >= 0) { /* [1 or N, 1, 1, C] f32 */
        const av_nn__tensor *sc = &g->tensors[st], *x = av_nn__xnn_in(g, n, 0);
        if (!x || x->rank != 4 || sc->dtype != AV_NN_F32 || av_nn__is_quant(sc) ||
            sc->rank != 4 || sc->dims[1] != 1 || sc->dims[2] != 1 || sc->dims[3] != x->dims[3] ||
            (sc->dims[0] != 1 && sc->dims[0] != x->dims[0]))
            return false;
    }
    return av_nn__dwpw_node(g, n, &dw) && av_nn__xnn_dw_takes(g, &dw) && w && w->rank == 4 &&
           w->dims[1] == 1 && w->dims[2] == 1 && p->stride_h == 1 && p->stride_w == 1 &&
           !p->pad_top && !p->pad_left && !p->pad_bottom && !p->pad_right;
}

void av_nn__xnn_dwpw_free(av_nn__xnn_dwpw *k)
{
    if (!k)
        return;
    av_nn__xnn_dw_se_free(&k->se);
    av_nn__xnn_dw_free(k->dw);
    av_nn__xnn_gemm_free(k->pw);
    free(k);
}

av_nn_status av_nn__xnn_dwpw_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen)
{
    av_nn__node dw;
    av_nn__dwpw_node(g, n, &dw); /* supports() said it has one */
    av_nn__xnn_node a = {0}, b = {0};
    av_nn__xnn_dwpw *k = calloc(1, sizeof *k);
    if (!k)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "node '%s' (%s): out of memory",
                           n->name ? n->name : "", av_nn__op_name(n->op));
    av_nn_status st = av_nn__xnn_dw_prepare(g, &dw, &a, err, errlen);
    k->dw = a.dw;
    if (st == AV_NN_OK) {
        st = av_nn__xnn_gemm_prepare(g, n, &b, err, errlen);
        k->pw = b.gemm;
    }
    if (st != AV_NN_OK) {
        av_nn__xnn_dwpw_free(k);
        return st;
    }
    const av_nn__tensor *y = av_nn__xnn_out(g, n, 0);
    k->row_floats = av_nn__xnn_dw_row_floats(k->dw, &k->rows);
    k->w = (size_t)y->dims[2], k->cout = (size_t)y->dims[3];
    k->oh = (size_t)y->dims[1];
    av_nn__tid st_id = av_nn__dwpw_scale(n);
    if (av_nn__xnn_dw_se_init(&k->se, k->dw, st_id >= 0 ? &g->tensors[st_id] : NULL,
                              (size_t)y->dims[0])) {
        av_nn__xnn_dwpw_free(k);
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "node '%s' (%s): out of memory",
                           n->name ? n->name : "", av_nn__op_name(n->op));
    }
    k->band = BAND_FLOATS / k->row_floats;
    /* at least 8 bands per image: enough tasks for two threads */
    size_t per_image = (size_t)y->dims[1] / 8;
    if (k->band > per_image)
        k->band = per_image;
    size_t six = k->band; /* the most rows whose pixels make whole tiles */
    while (six > 0 && (six * k->w) % 6)
        six--;
    k->band = six ? six : k->band ? k->band : 1;
    s->dwpw = k;
    s->what = "own depthwise + 1x1 in row bands (AVX2+FMA)";
    return AV_NN_OK;
}

typedef struct band_job {
    const av_nn__xnn_dwpw *k;
    const float *x, *r;
    float *y, *scratch;
    atomic_int *busy;
    size_t slots;
} band_job;

static void band_task(void *ctx, size_t bi)
{
    const band_job *j = ctx;
    const av_nn__xnn_dwpw *k = j->k;
    size_t slot = 0;
    for (;; slot = (slot + 1) % j->slots) /* a free one exists: one task per thread */
        if (!atomic_exchange(&j->busy[slot], 1))
            break;
    float *mid = j->scratch + slot * k->band * k->row_floats;
    size_t row0 = bi * k->band, n = k->rows - row0 < k->band ? k->rows - row0 : k->band;
    for (size_t r = row0; r < row0 + n;) { /* image by image: each may have its own taps */
        size_t img = r / k->oh, end = (img + 1) * k->oh;
        end = end < row0 + n ? end : row0 + n;
        av_nn__xnn_dw_rows(av_nn__xnn_dw_se_pick(&k->se, k->dw, img), j->x,
                           mid + (r - row0) * k->row_floats, r, end - r);
        r = end;
    }
    size_t p0 = row0 * k->w; /* rows of all images follow each other */
    av_nn__xnn_gemm_span(k->pw, mid, j->r ? j->r + p0 * k->cout : NULL, j->y + p0 * k->cout,
                         n * k->w);
    atomic_store(&j->busy[slot], 0);
}

bool av_nn__xnn_dwpw_run(const av_nn__xnn_dwpw *k, const float *x, const float *r,
                         const float *sc, float *y, pthreadpool_t pool)
{
    av_nn__xnn_dw_se_scale(&k->se, k->dw, sc);
    size_t slots = pthreadpool_get_threads_count(pool);
    slots = slots < 1 ? 1 : slots > MAX_SLOTS ? MAX_SLOTS : slots;
    atomic_int busy[MAX_SLOTS];
    for (size_t i = 0; i < slots; i++)
        atomic_init(&busy[i], 0);
    size_t bytes = (slots * k->band * k->row_floats * sizeof(float) + 63) / 64 * 64;
    float *scratch = aligned_alloc(64, bytes);
    if (!scratch)
        return false;
    band_job j = {k, x, r, y, scratch, busy, slots};
    pthreadpool_parallelize_1d(pool, band_task, &j, (k->rows + k->band - 1) / k->band,
                               PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    free(scratch);
    return true;
}
