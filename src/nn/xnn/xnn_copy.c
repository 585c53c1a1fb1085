/*
 * xnn_copy.c - the strided-copy kernel (xnn_copy.h) that xnn_data.c runs for
 * transpose and slice and xnn_concat.c for concat and split: a box of dims d
 * copied from x (strides sx) to y (strides sy), unit axes dropped and
 * adjacent axes merged first, rows split across the pool; f32 elements of a
 * concat with a fused act clamped on the way. Its own file so both callers
 * sit above it (no call cycle between them).
 */
#include "nn/core.h"
#include "nn/xnn/xnn_copy.h"

#include <math.h>
#include <string.h>

/* Rows per pool task are chosen so a task moves at least this many bytes. */
#define TASK_BYTES 16384

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

/* clamp_row's contiguous case, 8 floats at a time (AVX2). */
__attribute__((target("avx2"))) static void clamp_row_wide(float *y, const float *x, int64_t n,
                                                            float lo, float hi)
{
    int mode = av_nn__xnn_act_mode(true, lo, hi);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        v8c v = LD8(x + j);
        ACT8(v, mode, lo, hi);
        memcpy(y + j, &v, sizeof v);
    }
    clamp_row(y + j, x + j, n - j, 1, 1, lo, hi);
}

/* Drop unit axes, merge axes adjacent in x and y alike; keeps r >= 1. */
static void collapse(av_nn__xnn_box *b)
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
    const av_nn__xnn_box *b = ctx;
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
    const av_nn__xnn_box *b = ctx;
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
static void long_rows(av_nn__xnn_box *b)
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

void av_nn__xnn_run_box(av_nn__xnn_box *b, pthreadpool_t pool)
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
