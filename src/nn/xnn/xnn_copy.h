/*
 * xnn_copy.h - the strided-copy kernel (xnn_copy.c: "copy a box of dims d
 * from x, strides sx, to y, strides sy", f32 elements optionally clamped on
 * the way), which xnn_concat.c runs for its plain parts, and the concat's
 * act on 4 and 8 floats that both files apply. Internal to src/nn/xnn.
 */
#ifndef AV_NN_XNN_COPY_H
#define AV_NN_XNN_COPY_H

#include "nn/core.h"

#include <math.h>
#include <pthreadpool.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct av_nn__xnn_box {
    int r;
    int64_t d[AV_NN_MAX_RANK], sx[AV_NN_MAX_RANK], sy[AV_NN_MAX_RANK]; /* elements */
    size_t es;
    const char *x;
    char *y;
    bool clamp;     /* f32 elements clamped to [lo, hi] on the way (es 4) */
    bool wide;      /* contiguous clamps 8 floats at a time (av_nn__xnn_concat_wide()) */
    float lo, hi;
} av_nn__xnn_box;

/* Copies box b (its axes collapsed and reordered in place) on the pool. */
void av_nn__xnn_run_box(av_nn__xnn_box *b, pthreadpool_t pool);

typedef float v4c __attribute__((vector_size(16)));
typedef int32_t v4ci __attribute__((vector_size(16)));

/* A concat's act on 4 floats as xnn_data.c's clamp_row applies it: mode 0 none, 1 relu
 * (lo 0, hi +inf: v < 0 ? 0 : v, the same bits in two operations), 2 clamp. */
static inline int av_nn__xnn_act_mode(bool clamp, float lo, float hi)
{
    return !clamp ? 0 : lo == 0 && hi == INFINITY ? 1 : 2;
}

static inline v4c av_nn__xnn_act4(v4c v, int mode, v4c vlo, v4c vhi)
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

/* The same 8 floats at a time: the concat's rows on AVX2 (av_nn__xnn_concat_wide()); the
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

/* The concat's rows 8 floats at a time: AVX2 here, unless AV_NN_CONCAT_AVX2=0
 * (or av_nn__concat_wide_force_off); xnn_concat.c. */
bool av_nn__xnn_concat_wide(void);

/* xnn_concat.c: the concat case of av_nn__xnn_data_supports (y: output 0)
 * and the kernel of a concat or split. */
bool av_nn__xnn_concat_supports(const av_nn__graph *g, const av_nn__node *n,
                                const av_nn__tensor *y);
void av_nn__xnn_concat_split(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                             void *const *out, pthreadpool_t pool);

#endif
