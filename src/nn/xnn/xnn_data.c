/*
 * xnn_data.c - ops of the XNNPACK backend that XNNPACK (Debian's 2022
 * snapshot) lacks, as our own kernels split across the context's
 * pthreadpool: transpose, slice (strided, negative steps included), concat
 * and split as one strided-copy kernel; hard-swish with a scale other
 * than 1/6 (TF.js models store 1/6 as float16); float equality and the
 * mask-to-float cast of CenterNet's peak finding.
 *
 * Every op becomes "copy a box of dims d from x (strides sx) to y (strides
 * sy)", with unit axes dropped and axes that stay adjacent on both sides
 * merged, so rows are as long as the layouts allow: a contiguous row is
 * one memcpy, a strided one a loop typed on the element size. A concat with
 * a fused clamp (pass_fuse.c) clamps f32 elements while copying them; one
 * with a fused mean (pass_catmean.c) goes row by row over its output and
 * adds up each row's channels as it stores them.
 */
#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows per pool task are chosen so a task moves at least this many bytes. */
#define TASK_BYTES 16384

typedef struct box {
    int r;
    int64_t d[AV_NN_MAX_RANK], sx[AV_NN_MAX_RANK], sy[AV_NN_MAX_RANK]; /* elements */
    size_t es;
    const char *x;
    char *y;
    bool clamp;     /* f32 elements clamped to [lo, hi] on the way (es 4) */
    bool wide;      /* contiguous clamps 8 floats at a time (wide_ok()) */
    float lo, hi;
} box;

typedef float v4c __attribute__((vector_size(16)));
typedef int32_t v4ci __attribute__((vector_size(16)));

/* y[j * ty] = x[j * tx] clamped as the reference's fused act does it
 * (v < lo ? lo : v > hi ? hi : v: NaN passes), over n floats; 4-wide
 * vectors (SSE, every x86-64; wider generic vectors gcc splits into scalars). */
static void clamp_row(float *y, const float *x, int64_t n, int64_t tx, int64_t ty, float lo,
                      float hi)
{
    int64_t j = 0;
    if (tx == 1 && ty == 1) {
        const v4c vlo = {lo, lo, lo, lo}, vhi = {hi, hi, hi, hi};
        for (; j + 4 <= n; j += 4) {
            v4c v;
            memcpy(&v, x + j, sizeof v);
            v4ci m = v < vlo;
            v = (v4c)(((v4ci)v & ~m) | ((v4ci)vlo & m));
            m = v > vhi;
            v = (v4c)(((v4ci)v & ~m) | ((v4ci)vhi & m));
            memcpy(y + j, &v, sizeof v);
        }
    }
    for (; j < n; j++) {
        float v = x[j * tx];
        y[j * ty] = v < lo ? lo : v > hi ? hi : v;
    }
}

/* A concat's act on 4 floats as clamp_row applies it: mode 0 none, 1 relu
 * (lo 0, hi +inf: v < 0 ? 0 : v, the same bits in two operations), 2 clamp. */
static int act_mode(bool clamp, float lo, float hi)
{
    return !clamp ? 0 : lo == 0 && hi == INFINITY ? 1 : 2;
}

static inline v4c act4(v4c v, int mode, v4c vlo, v4c vhi)
{
    if (mode == 0)
        return v;
    const v4c zero = {0, 0, 0, 0};
    if (mode == 1)
        return (v4c)((v4ci)v & ~(v4ci)(v < zero));
    v4ci m = v < vlo;
    v = (v4c)(((v4ci)v & ~m) | ((v4ci)vlo & m));
    m = v > vhi;
    return (v4c)(((v4ci)v & ~m) | ((v4ci)vhi & m));
}

/* The same 8 floats at a time: the concat's rows on AVX2 (wide_ok()); the
 * same operations per float, so the same bits as 4 at a time. */
typedef float v8c __attribute__((vector_size(32)));
typedef int32_t v8ci __attribute__((vector_size(32)));
typedef float v8c_u __attribute__((vector_size(32), aligned(4), may_alias)); /* unaligned loads */

/* macros, not functions: a 32-byte vector crossing a call outside AVX code
 * changes the ABI */
#define LD8(p) (*(const v8c_u *)(const void *)(p))
#define ACT8(v, mode, lo, hi)                                                              \
    do {                                                                                   \
        const v8c zero8_ = {0, 0, 0, 0, 0, 0, 0, 0};                                       \
        if ((mode) == 1) {                                                                 \
            (v) = (v8c)((v8ci)(v) & ~(v8ci)((v) < zero8_));                                \
        } else if ((mode) == 2) {                                                          \
            const v8c lo8_ = zero8_ + (lo), hi8_ = zero8_ + (hi);                          \
            v8ci m8_ = (v) < lo8_;                                                         \
            (v) = (v8c)(((v8ci)(v) & ~m8_) | ((v8ci)lo8_ & m8_));                          \
            m8_ = (v) > hi8_;                                                              \
            (v) = (v8c)(((v8ci)(v) & ~m8_) | ((v8ci)hi8_ & m8_));                          \
        }                                                                                  \
    } while (0)

static av_nn__switch wide_sw = AV_NN__SWITCH("AV_NN_CONCAT_AVX2");

/* The concat's rows 8 floats at a time: AVX2 here, unless AV_NN_CONCAT_AVX2=0. */
static bool wide_ok(void)
{
    return __builtin_cpu_supports("avx2") && av_nn__switch_on(&wide_sw);
}

void av_nn__concat_wide_force_off(bool on)
{
    av_nn__switch_force_off(&wide_sw, on);
}

/* clamp_row's contiguous case, 8 floats at a time (AVX2). */
__attribute__((target("avx2"))) static void clamp_row_wide(float *y, const float *x, int64_t n,
                                                            float lo, float hi)
{
    int mode = act_mode(true, lo, hi);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        v8c v = LD8(x + j);
        ACT8(v, mode, lo, hi);
        memcpy(y + j, &v, sizeof v);
    }
    clamp_row(y + j, x + j, n - j, 1, 1, lo, hi);
}

/* Drop unit axes, merge axes adjacent in x and y alike; keeps r >= 1. */
static void collapse(box *b)
{
    int r = 0;
    for (int k = 0; k < b->r; k++) {
        if (b->d[k] == 1)
            continue;
        if (r > 0 && b->sx[r - 1] == b->sx[k] * b->d[k] && b->sy[r - 1] == b->sy[k] * b->d[k]) {
            b->d[r - 1] *= b->d[k];
            b->sx[r - 1] = b->sx[k];
            b->sy[r - 1] = b->sy[k];
            continue;
        }
        b->d[r] = b->d[k], b->sx[r] = b->sx[k], b->sy[r] = b->sy[k];
        r++;
    }
    if (r == 0) {
        b->d[0] = 1, b->sx[0] = b->sy[0] = 1;
        r = 1;
    }
    b->r = r;
}

#define ROW_LOOP(T)                                                                          \
    do {                                                                                     \
        const T *xs = (const T *)x;                                                          \
        T *ys = (T *)y;                                                                      \
        for (int64_t j = 0; j < n; j++)                                                      \
            ys[j * ty] = xs[j * tx];                                                         \
    } while (0)

/* Rows [start, start + count) of the box; a row runs along the last axis.
 * The row's index is divided out once per task, then stepped like an
 * odometer: short rows (3 channels) paid two 64-bit divisions per axis each. */
static void copy_rows(void *ctx, size_t start, size_t count)
{
    const box *b = ctx;
    int last = b->r - 1;
    int64_t n = b->d[last], tx = b->sx[last], ty = b->sy[last];
    int64_t idx[AV_NN_MAX_RANK] = {0}, ox = 0, oy = 0, rest = (int64_t)start;
    for (int k = last - 1; k >= 0; k--) {
        idx[k] = rest % b->d[k];
        rest /= b->d[k];
        ox += idx[k] * b->sx[k];
        oy += idx[k] * b->sy[k];
    }
    for (size_t row = start; row < start + count; row++) {
        if (row > start) { /* next row: carry through the outer axes */
            for (int k = last - 1; k >= 0; k--) {
                ox += b->sx[k], oy += b->sy[k];
                if (++idx[k] < b->d[k])
                    break;
                ox -= b->sx[k] * b->d[k], oy -= b->sy[k] * b->d[k];
                idx[k] = 0;
            }
        }
        const char *x = b->x + ox * (int64_t)b->es;
        char *y = b->y + oy * (int64_t)b->es;
        if (b->clamp) {
            if (b->wide && tx == 1 && ty == 1)
                clamp_row_wide((float *)y, (const float *)x, n, b->lo, b->hi);
            else
                clamp_row((float *)y, (const float *)x, n, tx, ty, b->lo, b->hi);
            continue;
        }
        if (tx == 1 && ty == 1) {
            memcpy(y, x, (size_t)n * b->es);
            continue;
        }
        switch (b->es) {
        case 1:
            ROW_LOOP(uint8_t);
            break;
        case 2:
            ROW_LOOP(uint16_t);
            break;
        case 4:
            ROW_LOOP(uint32_t);
            break;
        case 8:
            ROW_LOOP(uint64_t);
            break;
        default:
            for (int64_t j = 0; j < n; j++)
                memcpy(y + j * ty * (int64_t)b->es, x + j * tx * (int64_t)b->es, b->es);
        }
    }
}

/* One long contiguous run split into chunks across the pool. */
static void copy_chunk(void *ctx, size_t start, size_t count)
{
    const box *b = ctx;
    size_t total = (size_t)b->d[0] * b->es;
    size_t from = start * TASK_BYTES, len = count * TASK_BYTES;
    if (from + len > total)
        len = total - from;
    if (b->clamp && b->wide)
        clamp_row_wide((float *)(b->y + from), (const float *)(b->x + from), (int64_t)(len / 4),
                       b->lo, b->hi);
    else if (b->clamp)
        clamp_row((float *)(b->y + from), (const float *)(b->x + from), (int64_t)(len / 4), 1,
                  1, b->lo, b->hi);
    else
        memcpy(b->y + from, b->x + from, len);
}

/*
 * Rows shorter than a vector (NCHW -> NHWC of 3 channels: 173056 rows of 3)
 * spend their time on loop overhead: make the longest axis the row instead,
 * cut into power-of-two pieces so the pool still gets many rows. Any order of
 * a box's axes copies the same elements.
 */
static void long_rows(box *b)
{
    int last = b->r - 1, big = -1;
    for (int k = 0; k < last; k++)
        if (big < 0 || b->d[k] > b->d[big])
            big = k;
    if (big < 0 || b->d[last] >= 16 || b->d[big] < 64 * b->d[last] || b->r + 1 > AV_NN_MAX_RANK)
        return;
    int64_t piece = 4096;
    while (piece > 64 && b->d[big] % piece)
        piece /= 2;
    if (b->d[big] % piece)
        return;
    /* axis big becomes its pieces where it was (so the short axis stays inner:
     * each piece's rows write one small region of y) and the piece the row */
    int64_t sx = b->sx[big], sy = b->sy[big];
    b->d[big] /= piece, b->sx[big] = sx * piece, b->sy[big] = sy * piece;
    b->d[last + 1] = piece, b->sx[last + 1] = sx, b->sy[last + 1] = sy;
    b->r++;
}

static void run_box(box *b, pthreadpool_t pool)
{
    collapse(b);
    long_rows(b);
    if (b->r == 1 && b->sx[0] == 1 && b->sy[0] == 1) {
        size_t bytes = (size_t)b->d[0] * b->es;
        pthreadpool_parallelize_1d_tile_1d(pool, copy_chunk, b,
                                           (bytes + TASK_BYTES - 1) / TASK_BYTES, 1, 0);
        return;
    }
    size_t rows = 1;
    for (int k = 0; k + 1 < b->r; k++)
        rows *= (size_t)b->d[k];
    size_t row_bytes = (size_t)b->d[b->r - 1] * b->es;
    size_t tile = row_bytes >= TASK_BYTES ? 1 : TASK_BYTES / (row_bytes ? row_bytes : 1);
    pthreadpool_parallelize_1d_tile_1d(pool, copy_rows, b, rows, tile, 0);
}

static void contiguous(int r, const int64_t *dims, int64_t *s)
{
    av_nn__strides(r, dims, s);
}

static void k_transpose(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                        void *const *out, pthreadpool_t pool)
{
    if (av_nn__xnn_s2d(g, n, in[0], out[0], pool)) /* the fused focus stem (xnn_s2d.c) */
        return;
    const av_nn__tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    box b = {.r = y->rank, .es = av_nn_dtype_size(x->dtype), .x = in[0], .y = out[0]};
    int64_t xs[AV_NN_MAX_RANK];
    contiguous(x->rank, x->dims, xs);
    contiguous(y->rank, y->dims, b.sy);
    for (int k = 0; k < y->rank; k++) {
        b.d[k] = y->dims[k];
        b.sx[k] = xs[n->p.transpose.perm[k]];
    }
    run_box(&b, pool);
}

static void k_slice(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                    void *const *out, pthreadpool_t pool)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]];
    const av_nn__slice_params *p = &n->p.slice;
    box b = {.r = x->rank, .es = av_nn_dtype_size(x->dtype), .y = out[0]};
    int64_t xs[AV_NN_MAX_RANK], base = 0;
    contiguous(x->rank, x->dims, xs);
    for (int a = 0; a < x->rank; a++) {
        b.d[a] = av_nn__slice_count(p->begin[a], p->end[a], p->step[a]);
        b.sx[a] = p->step[a] * xs[a];
        base += p->begin[a] * xs[a];
    }
    contiguous(x->rank, b.d, b.sy);
    b.x = (const char *)in[0] + base * (int64_t)b.es;
    run_box(&b, pool);
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
    bool clamp, wide; /* wide: 8 floats at a time (wide_ok()) */
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
    int mode = act_mode(j->clamp, j->lo, j->hi);
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
            v4c v = act4(t + (u - t) * vay, mode, vlo, vhi);
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
                  .clamp = clamp, .wide = wide_ok(), .lo = lo, .hi = hi};
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
                    const float *x, float *y, int64_t at, const box *bx, pthreadpool_t pool)
{
    rs_job j;
    int64_t *cols = rs_init(&j, g, n, d, x, y, at, bx->clamp, bx->lo, bx->hi);
    pthreadpool_parallelize_1d(pool, rs_row, &j, (size_t)(d[0] * j.oh), 0);
    free(cols);
}

/* Input k of a concat (or output k of a split) as a box into / out of the whole. */
static void copy_parts(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                           void *const *out, pthreadpool_t pool)
{
    bool split = n->op == AV_NN_OP_SPLIT;
    const av_nn__tensor *whole = &g->tensors[split ? n->in[0] : n->out[0]];
    int axis = split ? n->p.split.axis : n->p.axis.axis, parts = split ? n->n_out : n->n_in;
    size_t es = av_nn_dtype_size(whole->dtype);
    int64_t ws[AV_NN_MAX_RANK], at = 0;
    contiguous(whole->rank, whole->dims, ws);
    float lo = -INFINITY, hi = INFINITY;
    /* supports() took only f32 with bounds for a concat's act */
    bool clamp = !split && n->p.axis.act.kind != AV_NN_ACT_NONE &&
                 av_nn__xnn_act_bounds(&n->p.axis.act, &lo, &hi);
    for (int k = 0; k < parts; k++) {
        const av_nn__tensor *t = &g->tensors[split ? n->out[k] : n->in[k]];
        box b = {.r = t->rank, .es = es, .clamp = clamp, .wide = clamp && wide_ok(), .lo = lo,
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
        contiguous(t->rank, t->dims, ts);
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
            run_box(&b, pool);
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
    int mode = act_mode(j->clamp, j->lo, j->hi);
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
            v4c v = act4(rs_load(x + k), mode, vlo, vhi);
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
                .lo = lo, .hi = hi, .rs.wide = wide_ok()};
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

static void k_concat_split(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
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

/* ---- hard-swish with TF.js's float16 1/6: (x * c) * relu6(x + 3) ---- */

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

typedef struct hswish {
    const float *x;
    float *y;
    size_t n;
    float c;
} hswish;

#define HSWISH_CHUNK 4096 /* elements per pool task */

/* The float operations of TF.js's mul, add + relu6, mul, in that order. */
static void hswish_chunk(void *ctx, size_t start, size_t count)
{
    const hswish *h = ctx;
    size_t i = start * HSWISH_CHUNK, end = (start + count) * HSWISH_CHUNK;
    if (end > h->n)
        end = h->n;
    const v4f three = {3, 3, 3, 3}, six = {6, 6, 6, 6}, zero = {0, 0, 0, 0};
    const v4f c = {h->c, h->c, h->c, h->c};
    for (; i + 4 <= end; i += 4) {
        v4f x, r;
        memcpy(&x, h->x + i, sizeof x);
        r = x + three;
        r = (v4f)((v4i)r & (r > zero));         /* max(r, 0) */
        v4i big = r > six;
        r = (v4f)(((v4i)r & ~big) | ((v4i)six & big)); /* min(r, 6) */
        r = (x * c) * r;
        memcpy(h->y + i, &r, sizeof r);
    }
    for (; i < end; i++) {
        float x = h->x[i], r = x + 3.0f;
        r = r > 0.0f ? r : 0.0f;
        r = r > 6.0f ? 6.0f : r;
        h->y[i] = (x * h->c) * r;
    }
}

static void k_hardswish(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                        void *const *out, pthreadpool_t pool)
{
    hswish h = {.x = in[0], .y = out[0], .c = n->p.unary.alpha};
    h.n = (size_t)av_nn__numel(&g->tensors[n->in[0]]);
    pthreadpool_parallelize_1d_tile_1d(pool, hswish_chunk, &h,
                                       (h.n + HSWISH_CHUNK - 1) / HSWISH_CHUNK, 1, 0);
}

/* ---- mask ops of CenterNet's peak finding: equal(a, b) -> bool, bool/u8 -> f32 ---- */

typedef struct elem2 {
    const void *a, *b;
    void *y;
    size_t n;
} elem2;

#define ELEM_CHUNK 16384 /* elements per pool task */

static void equal_chunk(void *ctx, size_t start, size_t count)
{
    const elem2 *e = ctx;
    const float *a = e->a, *b = e->b;
    uint8_t *y = e->y;
    size_t i = start * ELEM_CHUNK, end = (start + count) * ELEM_CHUNK;
    for (end = end < e->n ? end : e->n; i < end; i++)
        y[i] = a[i] == b[i];
}

static void mask_to_f32_chunk(void *ctx, size_t start, size_t count)
{
    const elem2 *e = ctx;
    const uint8_t *a = e->a;
    float *y = e->y;
    size_t i = start * ELEM_CHUNK, end = (start + count) * ELEM_CHUNK;
    for (end = end < e->n ? end : e->n; i < end; i++)
        y[i] = (float)a[i];
}

static void k_elem2(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                    void *const *out, pthreadpool_t pool)
{
    elem2 e = {.a = in[0], .b = n->n_in > 1 ? in[1] : NULL, .y = out[0]};
    e.n = (size_t)av_nn__numel(&g->tensors[n->out[0]]);
    pthreadpool_parallelize_1d_tile_1d(pool, n->op == AV_NN_OP_CAST ? mask_to_f32_chunk
                                                                    : equal_chunk,
                                       &e, (e.n + ELEM_CHUNK - 1) / ELEM_CHUNK, 1, 0);
}

static bool same_shape(const av_nn__tensor *a, const av_nn__tensor *b)
{
    return a->rank == b->rank && memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) == 0;
}

static bool plain_elem(const av_nn__tensor *t)
{
    size_t es = av_nn_dtype_size(t->dtype);
    return es >= 1 && es <= 8 && av_nn__numel(t) >= 0 && t->rank >= 0;
}

bool av_nn__xnn_data_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    if (!x || !y || !plain_elem(x) || !plain_elem(y))
        return false;
    if (x->dtype != y->dtype && n->op != AV_NN_OP_CAST && n->op != AV_NN_OP_BINARY)
        return false;
    switch (n->op) {
    case AV_NN_OP_BINARY: { /* float equality without broadcasting (NaN != NaN as in C) */
        const av_nn__tensor *b = av_nn__xnn_in(g, n, 1);
        return n->p.binary.kind == AV_NN_BIN_EQUAL && x->dtype == AV_NN_F32 && b &&
               b->dtype == AV_NN_F32 && same_shape(x, b) && same_shape(x, y);
    }
    case AV_NN_OP_CAST: /* masks to float (quantisation is not applied by cast) */
        return (x->dtype == AV_NN_BOOL || x->dtype == AV_NN_U8) && y->dtype == AV_NN_F32;
    case AV_NN_OP_UNARY:
        return n->p.unary.kind == AV_NN_UN_HARDSWISH && x->dtype == AV_NN_F32 &&
               !av_nn__is_quant(y);
    case AV_NN_OP_TRANSPOSE:
        return n->p.transpose.rank == x->rank;
    case AV_NN_OP_SLICE:
        return n->p.slice.resolved;
    case AV_NN_OP_SPLIT:
        return n->p.split.resolved;
    case AV_NN_OP_CONCAT: {
        float lo, hi;
        if (n->p.axis.resized && (y->dtype != AV_NN_F32 || av_nn__is_quant(y) || y->rank != 4 ||
                                  n->p.axis.axis != 3))
            return false; /* a fused resize (pass_fuse.c): our f32 NHWC rows only */
        if (n->p.axis.mean) { /* a fused mean (pass_catmean.c): our f32 NHWC rows only */
            const av_nn__tensor *m = av_nn__xnn_out(g, n, 1);
            if (n->n_out != 2 || !m || m->dtype != AV_NN_F32 || av_nn__is_quant(m) ||
                y->dtype != AV_NN_F32 || av_nn__is_quant(y) || y->rank != 4 ||
                n->p.axis.axis != 3)
                return false;
        }
        if (n->p.axis.act.kind != AV_NN_ACT_NONE &&
            (y->dtype != AV_NN_F32 || av_nn__is_quant(y) ||
             !av_nn__xnn_act_bounds(&n->p.axis.act, &lo, &hi)))
            return false;
        for (int k = 0; k < n->n_in; k++) {
            const av_nn__tensor *t = av_nn__xnn_in(g, n, k);
            /* inputs quantised differently need requantising: the reference does it */
            if (!t || t->dtype != y->dtype ||
                (av_nn__is_quant(y) && !av_nn__xnn_same_quant(t, y)))
                return false;
        }
        return true;
    }
    default:
        return false;
    }
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

av_nn_status av_nn__xnn_data_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen)
{
    (void)g, (void)err, (void)errlen;
    s->what = "strided copy";
    s->kernel = n->op == AV_NN_OP_BINARY || n->op == AV_NN_OP_CAST ? k_elem2
                : n->op == AV_NN_OP_UNARY       ? k_hardswish
                : n->op == AV_NN_OP_TRANSPOSE ? k_transpose
                : n->op == AV_NN_OP_SLICE   ? k_slice
                                            : k_concat_split;
    return AV_NN_OK;
}
