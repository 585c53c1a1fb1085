/*
 * xnn_concat.c - concat and split (its inverse, the same loop over the
 * parts) for the XNNPACK backend, on the strided-copy kernel (xnn_copy.h):
 * each part is a box copied into or out of the whole. A concat with a fused
 * act (pass_fuse.c) clamps f32 elements while copying them, 8 at a time on
 * AVX2; one with a fused bilinear resize (pass_fuse.c) samples that part
 * straight into its channels; one with a fused mean (pass_catmean.c) goes
 * row by row over its output and adds up each row's channels as it stores
 * them.
 */
#include "nn/core.h"
#include "nn/xnn/xnn_copy.h"
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static av_nn__switch wide_sw = AV_NN__SWITCH("AV_NN_CONCAT_AVX2");

bool av_nn__xnn_concat_wide(void)
{
    return __builtin_cpu_supports("avx2") && av_nn__switch_on(&wide_sw);
}

void av_nn__concat_wide_force_off(bool on)
{
    av_nn__switch_force_off(&wide_sw, on);
}

/* ---- the concat-act fusion's switch (pass_fuse.c) ---- */

static av_nn__switch concat_act_sw = AV_NN__SWITCH("AV_NN_FUSE_CONCAT_ACT");

bool av_nn__concat_act_fusion_pays(void)
{
    return av_nn__switch_on(&concat_act_sw);
}

void av_nn__concat_act_force_off(bool on)
{
    av_nn__switch_force_off(&concat_act_sw, on);
}

/* ---- a concat's fused bilinear resize (pass_fuse.c): that part's rows ---- */

typedef struct rs_job {
    const float *x;
    float *y;                /* the concat's output at the part's first channel */
    int64_t h, w, c, oh, ow, ys; /* ys: floats per output pixel (all the concat's) */
    const av_nn__resize_params *p;
    double sh, sw;
    const int64_t *x0, *x1;  /* per output column: source columns and weight */
    const float *ax;
    bool clamp, wide; /* wide: 8 floats at a time (av_nn__xnn_concat_wide()) */
    float lo, hi;
} rs_job;

/* The two source pixels of output pixel o along an axis of `in` pixels (out
 * of them in the output) and the second one's weight, as the reference
 * samples them. */
static void rs_src(const rs_job *j, int64_t o, int64_t in, int64_t out, double scale,
                   int64_t *i0, int64_t *i1, float *a)
{
    double f = av_nn__resize_src_coord(j->p->coord, o, in, out, scale);
    double c = f < 0 ? 0 : f > (double)(in - 1) ? (double)(in - 1) : f;
    *i0 = (int64_t)floor(c);
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *a = (float)(c - (double)*i0);
}

static v4c rs_load(const float *p)
{
    v4c v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Output row `row` (image-major): per pixel top = tl + (tr - tl) * ax,
 * bottom likewise, top + (bottom - top) * ay; clamped when the concat has
 * an act; stored at the part's channels of the concat's pixel. sum (the
 * part's c floats; NULL: none) adds up what is stored, per channel. */
__attribute__((always_inline)) static inline void rs_row_body(const rs_job *j, size_t row,
                                                             float *sum, bool wide)
{
    int64_t b = (int64_t)row / j->oh, oy = (int64_t)row % j->oh, y0, y1;
    float ay;
    rs_src(j, oy, j->h, j->oh, j->sh, &y0, &y1, &ay);
    const float *r0 = j->x + (b * j->h + y0) * j->w * j->c;
    const float *r1 = j->x + (b * j->h + y1) * j->w * j->c;
    float *yr = j->y + (int64_t)row * j->ow * j->ys;
    int64_t c = j->c, c4 = c / 4 * 4;
    v4c vay = {ay, ay, ay, ay}, vlo = {j->lo, j->lo, j->lo, j->lo};
    v4c vhi = {j->hi, j->hi, j->hi, j->hi};
    int mode = av_nn__xnn_act_mode(j->clamp, j->lo, j->hi);
    for (int64_t ox = 0; ox < j->ow; ox++) {
        int64_t x0, x1;
        float ax;
        if (j->x0)
            x0 = j->x0[ox], x1 = j->x1[ox], ax = j->ax[ox];
        else
            rs_src(j, ox, j->w, j->ow, j->sw, &x0, &x1, &ax);
        const float *tl = r0 + x0 * c, *tr = r0 + x1 * c;
        const float *bl = r1 + x0 * c, *br = r1 + x1 * c;
        float *yp = yr + ox * j->ys;
        v4c vax = {ax, ax, ax, ax};
        int64_t k0 = 0;
        for (; wide && k0 + 8 <= c; k0 += 8) {
            v8c t = LD8(tl + k0) + (LD8(tr + k0) - LD8(tl + k0)) * ax;
            v8c u = LD8(bl + k0) + (LD8(br + k0) - LD8(bl + k0)) * ax;
            v8c v = t + (u - t) * ay;
            ACT8(v, mode, j->lo, j->hi);
            memcpy(yp + k0, &v, sizeof v);
            if (sum) {
                v8c a = LD8(sum + k0) + v;
                memcpy(sum + k0, &a, sizeof a);
            }
        }
        for (int64_t k = k0; k < c4; k += 4) {
            v4c t = rs_load(tl + k) + (rs_load(tr + k) - rs_load(tl + k)) * vax;
            v4c u = rs_load(bl + k) + (rs_load(br + k) - rs_load(bl + k)) * vax;
            v4c v = av_nn__xnn_act4(t + (u - t) * vay, mode, vlo, vhi);
            memcpy(yp + k, &v, sizeof v);
            if (sum) {
                v4c a = rs_load(sum + k) + v;
                memcpy(sum + k, &a, sizeof a);
            }
        }
        for (int64_t k = c4; k < c; k++) {
            float t = tl[k] + (tr[k] - tl[k]) * ax, u = bl[k] + (br[k] - bl[k]) * ax;
            float v = t + (u - t) * ay;
            v = mode && v < j->lo ? j->lo : mode && v > j->hi ? j->hi : v;
            yp[k] = v;
            if (sum)
                sum[k] += v;
        }
    }
}

__attribute__((target("avx2"))) static void rs_row_wide(const rs_job *j, size_t row,
                                                         float *sum)
{
    rs_row_body(j, row, sum, true);
}

static void rs_row_narrow(const rs_job *j, size_t row, float *sum)
{
    rs_row_body(j, row, sum, false);
}

static void rs_row_sum(const rs_job *j, size_t row, float *sum)
{
    if (j->wide)
        rs_row_wide(j, row, sum);
    else
        rs_row_narrow(j, row, sum);
}

static void rs_row(void *ctx, size_t row)
{
    rs_row_sum(ctx, row, NULL);
}

/* The job of part k of concat n, the fused resize of x (NHWC) to the part's
 * dims d, into y at channel `at`; returns its column table to free (NULL
 * when out of memory: each row then computes its columns). */
static int64_t *rs_init(rs_job *j, const av_nn__graph *g, const av_nn__node *n,
                        const int64_t *d, const float *x, float *y, int64_t at, bool clamp,
                        float lo, float hi)
{
    const av_nn__tensor *xt = &g->tensors[n->in[n->p.axis.resize_k]];
    const av_nn__tensor *yt = &g->tensors[n->out[0]];
    *j = (rs_job){.x = x, .y = y + at, .h = xt->dims[1], .w = xt->dims[2], .c = xt->dims[3],
                  .oh = d[1], .ow = d[2], .ys = yt->dims[3], .p = &n->p.axis.resize,
                  .clamp = clamp, .wide = av_nn__xnn_concat_wide(), .lo = lo, .hi = hi};
    j->sh = (double)j->h / (double)j->oh, j->sw = (double)j->w / (double)j->ow;
    int64_t *cols = malloc((size_t)j->ow * (2 * sizeof(int64_t) + sizeof(float)));
    if (!cols)
        return NULL;
    float *ax = (float *)(cols + 2 * j->ow);
    for (int64_t ox = 0; ox < j->ow; ox++)
        rs_src(j, ox, j->w, j->ow, j->sw, cols + ox, cols + j->ow + ox, ax + ox);
    j->x0 = cols, j->x1 = cols + j->ow, j->ax = ax;
    return cols;
}

static void rs_part(const av_nn__graph *g, const av_nn__node *n, const int64_t *d,
                    const float *x, float *y, int64_t at, const av_nn__xnn_box *bx, pthreadpool_t pool)
{
    rs_job j;
    int64_t *cols = rs_init(&j, g, n, d, x, y, at, bx->clamp, bx->lo, bx->hi);
    pthreadpool_parallelize_1d(pool, rs_row, &j, (size_t)(d[0] * j.oh), 0);
    free(cols);
}

/* Input k of a concat (or output k of a split) as a av_nn__xnn_box into / out of the whole. */
static void copy_parts(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                           void *const *out, pthreadpool_t pool)
{
    bool split = n->op == AV_NN_OP_SPLIT;
    const av_nn__tensor *whole = &g->tensors[split ? n->in[0] : n->out[0]];
    int axis = split ? n->p.split.axis : n->p.axis.axis, parts = split ? n->n_out : n->n_in;
    size_t es = av_nn_dtype_size(whole->dtype);
    int64_t ws[AV_NN_MAX_RANK], at = 0;
    av_nn__strides(whole->rank, whole->dims, ws);
    float lo = -INFINITY, hi = INFINITY;
    /* supports() took only f32 with bounds for a concat's act */
    bool clamp = !split && n->p.axis.act.kind != AV_NN_ACT_NONE &&
                 av_nn__xnn_act_bounds(&n->p.axis.act, &lo, &hi);
    for (int k = 0; k < parts; k++) {
        const av_nn__tensor *t = &g->tensors[split ? n->out[k] : n->in[k]];
        av_nn__xnn_box b = {.r = t->rank, .es = es, .clamp = clamp, .wide = clamp && av_nn__xnn_concat_wide(), .lo = lo,
                 .hi = hi};
        int64_t ts[AV_NN_MAX_RANK], td[AV_NN_MAX_RANK];
        memcpy(td, t->dims, sizeof td);
        if (!split && n->p.axis.resized && k == n->p.axis.resize_k) {
            av_nn__concat_part_dims(g, n, k, td); /* supports(): f32, NHWC, axis 3 */
            if (td[0] * td[1] * td[2] * td[3] > 0)
                rs_part(g, n, td, in[k], out[0], at, &b, pool);
            at += td[axis];
            continue;
        }
        av_nn__strides(t->rank, t->dims, ts);
        memcpy(b.d, t->dims, sizeof b.d);
        memcpy(split ? b.sy : b.sx, ts, sizeof ts);
        memcpy(split ? b.sx : b.sy, ws, sizeof ws);
        if (split) {
            b.x = (const char *)in[0] + at * ws[axis] * (int64_t)es;
            b.y = out[k];
        } else {
            b.x = in[k];
            b.y = (char *)out[0] + at * ws[axis] * (int64_t)es;
        }
        if (av_nn__numel(t) > 0)
            av_nn__xnn_run_box(&b, pool);
        at += t->dims[axis];
    }
}

/* ---- a concat with a fused mean (pass_catmean.c): f32 NHWC along C ---- */

typedef struct cm_job {
    float *y;                  /* the concat's output */
    float *sums;               /* [N * H][C]: each output row's sums */
    int64_t w, c, parts, rk;   /* rk: the fused resize's part, or -1 */
    const float *x[AV_NN_MAX_NODE_INPUTS];
    int64_t at[AV_NN_MAX_NODE_INPUTS], ck[AV_NN_MAX_NODE_INPUTS]; /* channels */
    rs_job rs;
    bool clamp;
    float lo, hi;
} cm_job;

/* One row of w pixels of a copied part (ck channels, x contiguous, y c
 * apart), acted on, each pixel's values added to s (in L1) as they are
 * stored. Pixel by pixel: 16 channels at a time down the row with the sums
 * in registers measured 0.35 ms slower on CenterNet's 128x128 (strided). */
__attribute__((always_inline)) static inline void
cm_part_body(const cm_job *j, const float *x, float *y, int64_t ck, float *s, bool wide)
{
    int mode = av_nn__xnn_act_mode(j->clamp, j->lo, j->hi);
    v4c vlo = {j->lo, j->lo, j->lo, j->lo}, vhi = {j->hi, j->hi, j->hi, j->hi};
    int64_t c4 = ck / 4 * 4;
    for (int64_t px = 0; px < j->w; px++, x += ck, y += j->c) {
        int64_t k0 = 0;
        for (; wide && k0 + 8 <= ck; k0 += 8) {
            v8c v = LD8(x + k0);
            ACT8(v, mode, j->lo, j->hi);
            memcpy(y + k0, &v, sizeof v);
            v8c a = LD8(s + k0) + v;
            memcpy(s + k0, &a, sizeof a);
        }
        for (int64_t k = k0; k < c4; k += 4) {
            v4c v = av_nn__xnn_act4(rs_load(x + k), mode, vlo, vhi);
            memcpy(y + k, &v, sizeof v);
            v4c a = rs_load(s + k) + v;
            memcpy(s + k, &a, sizeof a);
        }
        for (int64_t k = c4; k < ck; k++) {
            float v = x[k];
            v = mode && v < j->lo ? j->lo : mode && v > j->hi ? j->hi : v;
            y[k] = v;
            s[k] += v;
        }
    }
}

__attribute__((target("avx2"))) static void cm_part_wide(const cm_job *j, const float *x,
                                                          float *y, int64_t ck, float *s)
{
    cm_part_body(j, x, y, ck, s, true);
}

static void cm_part_row(const cm_job *j, const float *x, float *y, int64_t ck, float *s)
{
    if (j->rs.wide)
        cm_part_wide(j, x, y, ck, s);
    else
        cm_part_body(j, x, y, ck, s, false);
}

/* Output row `row` (image-major) of every part, clamped as the concat's act,
 * and its per-channel sums of what it stored: one task writes a row's sums
 * whole, so they do not depend on the threads. */
static void cm_row(void *ctx, size_t row)
{
    const cm_job *j = ctx;
    float *s = j->sums + (int64_t)row * j->c;
    memset(s, 0, (size_t)j->c * sizeof *s);
    for (int64_t k = 0; k < j->parts; k++) {
        if (k == j->rk) {
            rs_row_sum(&j->rs, row, s + j->at[k]);
            continue;
        }
        cm_part_row(j, j->x[k] + (int64_t)row * j->w * j->ck[k],
                    j->y + (int64_t)row * j->w * j->c + j->at[k], j->ck[k], s + j->at[k]);
    }
}

/* mean[b][ch] = (sum of image b's rows' sums, in row order, in double) / (H * W);
 * sums NULL (out of memory): straight from y, channel by channel. */
static void cm_merge(const float *sums, const float *y, float *mean, int64_t n, int64_t h,
                     int64_t w, int64_t c)
{
    double inv = 1.0 / (double)(h * w);
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++) {
            double acc = 0;
            if (sums)
                for (int64_t r = 0; r < h; r++)
                    acc += sums[(b * h + r) * c + ch];
            else
                for (int64_t p = 0; p < h * w; p++)
                    acc += y[(b * h * w + p) * c + ch];
            mean[b * c + ch] = (float)(acc * inv);
        }
}

static void k_concat_mean(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                          void *const *out, pthreadpool_t pool, bool clamp, float lo, float hi)
{
    const av_nn__tensor *yt = &g->tensors[n->out[0]];
    int64_t nb = yt->dims[0], h = yt->dims[1], w = yt->dims[2], c = yt->dims[3];
    if (nb * h * w * c <= 0) {
        if (nb * c > 0) /* no pixels: the reference's 0 / 0 */
            for (int64_t i = 0; i < nb * c; i++)
                ((float *)out[1])[i] = NAN;
        return;
    }
    cm_job j = {.y = out[0], .w = w, .c = c, .parts = n->n_in, .rk = -1, .clamp = clamp,
                .lo = lo, .hi = hi, .rs.wide = av_nn__xnn_concat_wide()};
    int64_t *cols = NULL, at = 0;
    for (int k = 0; k < n->n_in; k++) {
        int64_t d[AV_NN_MAX_RANK];
        av_nn__concat_part_dims(g, n, k, d); /* supports(): f32, NHWC, axis 3 */
        j.x[k] = in[k], j.at[k] = at, j.ck[k] = d[3];
        if (n->p.axis.resized && k == n->p.axis.resize_k) {
            j.rk = k;
            cols = rs_init(&j.rs, g, n, d, in[k], out[0], at, clamp, lo, hi);
        }
        at += d[3];
    }
    j.sums = malloc((size_t)(nb * h * c) * sizeof *j.sums);
    if (j.sums) {
        pthreadpool_parallelize_1d(pool, cm_row, &j, (size_t)(nb * h), 0);
    } else { /* out of memory: the plain concat, then the mean from its output */
        copy_parts(g, n, in, out, pool);
    }
    cm_merge(j.sums, out[0], out[1], nb, h, w, c);
    free(j.sums);
    free(cols);
}

void av_nn__xnn_concat_split(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                           void *const *out, pthreadpool_t pool)
{
    if (n->op == AV_NN_OP_CONCAT && n->p.axis.mean && n->n_out == 2) {
        float lo = -INFINITY, hi = INFINITY;
        bool clamp = n->p.axis.act.kind != AV_NN_ACT_NONE &&
                     av_nn__xnn_act_bounds(&n->p.axis.act, &lo, &hi);
        k_concat_mean(g, n, in, out, pool, clamp, lo, hi);
        return;
    }
    copy_parts(g, n, in, out, pool);
}

/* The concat case of av_nn__xnn_data_supports (x and y, the first input and
 * output, already checked there: plain elements, the same dtype). */
bool av_nn__xnn_concat_supports(const av_nn__graph *g, const av_nn__node *n,
                                const av_nn__tensor *y)
{
    float lo, hi;
    if (n->p.axis.resized && (y->dtype != AV_NN_F32 || av_nn__is_quant(y) || y->rank != 4 ||
                              n->p.axis.axis != 3))
        return false; /* a fused resize (pass_fuse.c): our f32 NHWC rows only */
    if (n->p.axis.mean) { /* a fused mean (pass_catmean.c): our f32 NHWC rows only */
        const av_nn__tensor *m = av_nn__xnn_out(g, n, 1);
        if (n->n_out != 2 || !m || m->dtype != AV_NN_F32 || av_nn__is_quant(m) ||
            y->dtype != AV_NN_F32 || av_nn__is_quant(y) || y->rank != 4 || n->p.axis.axis != 3)
            return false;
    }
    if (n->p.axis.act.kind != AV_NN_ACT_NONE &&
        (y->dtype != AV_NN_F32 || av_nn__is_quant(y) ||
         !av_nn__xnn_act_bounds(&n->p.axis.act, &lo, &hi)))
        return false;
    for (int k = 0; k < n->n_in; k++) {
        const av_nn__tensor *t = av_nn__xnn_in(g, n, k);
        /* inputs quantised differently need requantising: the reference does it */
        if (!t || t->dtype != y->dtype || (av_nn__is_quant(y) && !av_nn__xnn_same_quant(t, y)))
            return false;
    }
    return true;
}
