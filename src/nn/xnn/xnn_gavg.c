/*
 * xnn_gavg.c - our f32 global mean (REDUCE mean over a contiguous block of
 * axes: [batch, width (reduced), channels]) split across the pool.
 *
 * Why: XNNPACK's global_average_pooling_nwc (Debian's 2022 build) splits
 * only over the batch, so one image's mean runs on one thread; CenterNet's
 * nine squeeze-excite pools (the head's 128x128x128, 8 MiB) took 0.48 ms of
 * a 2-thread run against 0.58 ms on 1. Here each image's pixels are cut
 * into chunks, each task sums its chunk's rows into its own partial row
 * (4-wide vectors, in L1), and the caller adds the partial rows and
 * scales them. AV_NN_XNN_GAVG=0 leaves the mean to XNNPACK.
 */
#include "nn/core.h"
#include "nn/xnn/xnn_impl.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A task sums at least this many floats; at most MAX_CHUNKS per image. */
#define CHUNK_FLOATS 32768
#define MAX_CHUNKS 16

typedef float v4g __attribute__((vector_size(16)));

static _Atomic int env_off = -1; /* AV_NN_XNN_GAVG=0: 1 (av_nn__env_zero) */
static atomic_bool forced_off;

void av_nn__xnn_gavg_force_off(bool on)
{
    atomic_store(&forced_off, on);
}

bool av_nn__xnn_gavg_takes(const av_nn__graph *g, const av_nn__node *n)
{
    size_t b, w, c;
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    return !av_nn__env_zero(&env_off, "AV_NN_XNN_GAVG") && !atomic_load(&forced_off) && x &&
           y && x->dtype == AV_NN_F32 && y->dtype == AV_NN_F32 && !av_nn__is_quant(y) &&
           av_nn__xnn_mean_split(g, n, &b, &w, &c);
}

typedef struct gavg_job {
    const float *x;
    float *part; /* [batch * chunks][c] */
    size_t w, c, chunks, per;
} gavg_job;

/* acc[0, c) += row[0, c) */
static void add_row(float *acc, const float *row, size_t c)
{
    size_t k = 0;
    for (; k + 4 <= c; k += 4) {
        v4g a, r;
        memcpy(&a, acc + k, sizeof a);
        memcpy(&r, row + k, sizeof r);
        a += r;
        memcpy(acc + k, &a, sizeof a);
    }
    for (; k < c; k++)
        acc[k] += row[k];
}

static void gavg_task(void *ctx, size_t t)
{
    const gavg_job *j = ctx;
    size_t b = t / j->chunks, p0 = t % j->chunks * j->per;
    size_t p1 = p0 + j->per < j->w ? p0 + j->per : j->w;
    float *acc = j->part + t * j->c;
    memset(acc, 0, j->c * sizeof *acc);
    for (size_t p = p0; p < p1; p++)
        add_row(acc, j->x + (b * j->w + p) * j->c, j->c);
}

void av_nn__xnn_gavg(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                     void *const *out, pthreadpool_t pool)
{
    size_t b, w, c;
    av_nn__xnn_mean_split(g, n, &b, &w, &c); /* takes() said yes */
    float *y = out[0];
    size_t chunks = w * c / CHUNK_FLOATS;
    chunks = chunks < 1 ? 1 : chunks > MAX_CHUNKS ? MAX_CHUNKS : chunks;
    if (chunks > w)
        chunks = w ? w : 1;
    gavg_job j = {.x = in[0], .w = w, .c = c, .chunks = chunks,
                  .per = (w + chunks - 1) / chunks};
    j.part = c && b ? malloc(b * chunks * c * sizeof *j.part) : NULL;
    if (j.part)
        pthreadpool_parallelize_1d(pool, gavg_task, &j, b * chunks, 0);
    float scale = w ? 1.0f / (float)w : 0.0f; /* an empty window: 0 (XNNPACK's too) */
    for (size_t i = 0; i < b; i++) {
        float *yi = y + i * c;
        memset(yi, 0, c * sizeof *yi);
        if (!j.part) { /* out of memory for the partial rows: on this thread */
            for (size_t p = 0; p < w; p++)
                add_row(yi, j.x + (i * w + p) * c, c);
        } else {
            for (size_t k = 0; k < chunks; k++)
                add_row(yi, j.part + (i * chunks + k) * c, c);
        }
        for (size_t k = 0; k < c; k++)
            yi[k] *= scale;
    }
    free(j.part);
}
