/*
 * xnn_pwdw.c - a strided depthwise convolution that took the 1x1 conv
 * before it (p.conv.pw_on, pass_fuse.c): the conv's output (CenterNet's
 * stem: 256x256x64, 16 MiB, written and read back once each) is only ever
 * computed a few rows at a time into a window that stays in cache.
 *
 * A pool task takes a chunk of output rows of one image and walks it in
 * order: for each output row, the window keeps the conv rows the last row
 * read that this one reads too (moved to the front), our GEMM (xnn_gemm.c)
 * adds the new ones, and our depthwise (xnn_dw.c) computes the row from the
 * window. Only the first rows of each chunk are computed twice (kh - stride
 * rows; chunks of an eighth of the image: ~3% of the conv on the stem).
 * Each task takes a free scratch slot (one task per thread at once).
 */
#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS 64 /* threads of a pool that get a slot of their own */

struct av_nn__xnn_pwdw {
    av_nn__xnn_gemm *pw;
    av_nn__xnn_dw *dw;
    size_t batch, h, w, cin, c, oh, ow; /* input (h, w, cin), conv output c, dw output */
    size_t kh, chunk;                   /* window rows at most; output rows per task */
};

static av_nn__switch sw = AV_NN__SWITCH("AV_NN_FUSE_PWDW");

bool av_nn__pwdw_fusion_pays(void)
{
    return av_nn__switch_on(&sw) && av_nn__xnn_dw_available() && av_nn__xnn_gemm_available();
}

void av_nn__pwdw_force_off(bool on)
{
    av_nn__switch_force_off(&sw, on);
}

bool av_nn__xnn_pwdw_supports(const av_nn__graph *g, const av_nn__node *n)
{
    av_nn__node pw, dw;
    if (!av_nn__pwdw_nodes(g, n, &pw, &dw) || !av_nn__xnn_gemm_available() ||
        !av_nn__xnn_dw_takes_rows(g, &dw)) /* any batch: row by row, image by image */
        return false;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[4]];
    const av_nn__tensor *m = &g->tensors[dw.in[0]];
    const av_nn__tensor *b = n->in[5] >= 0 ? &g->tensors[n->in[5]] : NULL;
    const av_nn__fused_act *a = &n->p.conv.pw_act;
    float lo, hi;
    return x->dtype == AV_NN_F32 && x->rank == 4 && m->rank == 4 && m->dims[0] == 1 &&
           x->dims[1] == m->dims[1] && x->dims[2] == m->dims[2] && w->data &&
           w->dtype == AV_NN_F32 && w->rank == 4 && w->dims[1] == 1 && w->dims[2] == 1 &&
           w->dims[3] == x->dims[3] && w->dims[0] == m->dims[3] &&
           (!b || (b->data && b->dtype == AV_NN_F32)) &&
           (av_nn__xnn_act_bounds(a, &lo, &hi) || a->kind == AV_NN_ACT_SILU ||
            a->kind == AV_NN_ACT_HARDSWISH || a->kind == AV_NN_ACT_SIGMOID ||
            (a->kind == AV_NN_ACT_LEAKY && isfinite(a->alpha)));
}

void av_nn__xnn_pwdw_free(av_nn__xnn_pwdw *k)
{
    if (!k)
        return;
    av_nn__xnn_gemm_free(k->pw);
    av_nn__xnn_dw_free(k->dw);
    free(k);
}

av_nn_status av_nn__xnn_pwdw_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen)
{
    av_nn__node pwn, dwn;
    av_nn__pwdw_nodes(g, n, &pwn, &dwn); /* supports() said it has them */
    av_nn__xnn_node a = {0}, b = {0};
    av_nn__xnn_pwdw *k = calloc(1, sizeof *k);
    if (!k)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "node '%s' (%s): out of memory",
                           n->name ? n->name : "", av_nn__op_name(n->op));
    av_nn_status st = av_nn__xnn_gemm_prepare(g, &pwn, &a, err, errlen);
    k->pw = a.gemm;
    if (st == AV_NN_OK) {
        st = av_nn__xnn_dw_prepare(g, &dwn, &b, err, errlen);
        k->dw = b.dw;
    }
    if (st != AV_NN_OK) {
        av_nn__xnn_pwdw_free(k);
        return st;
    }
    const av_nn__tensor *x = &g->tensors[n->in[0]], *m = &g->tensors[dwn.in[0]];
    const av_nn__tensor *y = &g->tensors[n->out[0]], *wd = &g->tensors[n->in[1]];
    k->batch = (size_t)x->dims[0], k->h = (size_t)x->dims[1], k->w = (size_t)x->dims[2];
    k->cin = (size_t)x->dims[3], k->c = (size_t)m->dims[3];
    k->oh = (size_t)y->dims[1], k->ow = (size_t)y->dims[2], k->kh = (size_t)wd->dims[1];
    k->chunk = (k->oh + AV_NN__PWDW_CHUNKS - 1) / AV_NN__PWDW_CHUNKS;
    s->pwdw = k;
    s->what = "own 1x1 + strided depthwise in row windows (AVX2+FMA)";
    return AV_NN_OK;
}

typedef struct win_job {
    const av_nn__xnn_pwdw *k;
    const float *x;
    float *y, *scratch;
    atomic_int *busy;
    size_t slots, chunks;
} win_job;

static void chunk_task(void *ctx, size_t t)
{
    const win_job *j = ctx;
    const av_nn__xnn_pwdw *k = j->k;
    size_t slot = 0;
    for (;; slot = (slot + 1) % j->slots) /* a free one exists: one task per thread */
        if (!atomic_exchange(&j->busy[slot], 1))
            break;
    size_t rowf = k->w * k->c, bi = t / j->chunks, oy0 = t % j->chunks * k->chunk;
    size_t oy1 = oy0 + k->chunk < k->oh ? oy0 + k->chunk : k->oh;
    float *win = j->scratch + slot * k->kh * rowf;
    const float *xb = j->x + bi * k->h * k->w * k->cin;
    size_t base = 0, have = 0; /* the window holds conv rows [base, base + have) */
    for (size_t oy = oy0; oy < oy1; oy++) {
        size_t lo, hi;
        av_nn__xnn_dw_window(k->dw, oy, &lo, &hi);
        if (have && lo > base) { /* rows above lo are done with */
            size_t keep = base + have > lo ? base + have - lo : 0;
            if (keep)
                memmove(win, win + (lo - base) * rowf, keep * rowf * sizeof *win);
            have = keep;
            base = lo;
        }
        if (!have)
            base = lo;
        if (base + have < hi) {
            size_t r0 = base + have;
            av_nn__xnn_gemm_span(k->pw, xb + r0 * k->w * k->cin, NULL, win + have * rowf,
                                 (hi - r0) * k->w);
            have = hi - base;
        }
        av_nn__xnn_dw_row_from(k->dw, win, base, j->y + (bi * k->oh + oy) * k->ow * k->c, oy);
    }
    atomic_store(&j->busy[slot], 0);
}

bool av_nn__xnn_pwdw_run(const av_nn__xnn_pwdw *k, const float *x, float *y, pthreadpool_t pool)
{
    size_t slots = pthreadpool_get_threads_count(pool);
    slots = slots < 1 ? 1 : slots > MAX_SLOTS ? MAX_SLOTS : slots;
    atomic_int busy[MAX_SLOTS];
    for (size_t i = 0; i < slots; i++)
        atomic_init(&busy[i], 0);
    size_t bytes = (slots * k->kh * k->w * k->c * sizeof(float) + 63) / 64 * 64;
    float *scratch = aligned_alloc(64, bytes);
    if (!scratch)
        return false;
    size_t chunks = (k->oh + k->chunk - 1) / k->chunk;
    win_job j = {k, x, y, scratch, busy, slots, chunks};
    pthreadpool_parallelize_1d(pool, chunk_task, &j, k->batch * chunks,
                               PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    free(scratch);
    return true;
}
