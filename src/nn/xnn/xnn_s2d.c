/*
 * xnn_s2d.c - the rank-6 transpose of the fused space-to-depth stem
 * (pass_focus.c) as one pass: x viewed as [N, C, Ho, 2, Wo, 2] (NCHW input,
 * axes n, c, i, qy, j, qx) to y [N, Ho, Wo, 2, 2, C] with the two offset
 * axes in either order. The strided-copy kernel (xnn_data.c) would move it
 * as rows of C = 3 elements; here each task takes output rows (n, i),
 * reads the 2C input rows they need front to back and writes the row while
 * it sits in L1. Bit-exact (a copy); 4-byte elements. AV_NN_XNN_S2D=0 (or
 * av_nn__xnn_s2d_force_off) leaves it to the strided copy.
 */
#include "nn/xnn/xnn_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static av_nn__switch sw = AV_NN__SWITCH("AV_NN_XNN_S2D");

void av_nn__xnn_s2d_force_off(bool on)
{
    av_nn__switch_force_off(&sw, on);
}

typedef struct s2d_job {
    const uint32_t *x;
    uint32_t *y;
    size_t c, ho, wo;
    size_t slot[2][2]; /* [qy][qx]: first element of that offset's C values in a pixel */
} s2d_job;

static void s2d_rows(void *ctx, size_t r)
{
    const s2d_job *j = ctx;
    size_t n = r / j->ho, i = r % j->ho, px = 4 * j->c;
    uint32_t *yr = j->y + r * j->wo * px;
    for (size_t c = 0; c < j->c; c++)
        for (size_t qy = 0; qy < 2; qy++) {
            const uint32_t *xr = j->x + (((n * j->c + c) * j->ho + i) * 2 + qy) * j->wo * 2;
            uint32_t *y0 = yr + j->slot[qy][0] + c, *y1 = yr + j->slot[qy][1] + c;
            for (size_t q = 0; q < j->wo; q++) {
                y0[q * px] = xr[2 * q];
                y1[q * px] = xr[2 * q + 1];
            }
        }
}

bool av_nn__xnn_s2d(const av_nn__graph *g, const av_nn__node *n, const void *x, void *y,
                    pthreadpool_t pool)
{
    static const int px[6] = {0, 2, 4, 5, 3, 1}, py[6] = {0, 2, 4, 3, 5, 1};
    if (!av_nn__switch_on(&sw) || n->op != AV_NN_OP_TRANSPOSE || n->p.transpose.rank != 6)
        return false;
    const av_nn__tensor *xt = av_nn__xnn_in(g, n, 0);
    bool qx_major = memcmp(n->p.transpose.perm, px, sizeof px) == 0;
    if (!xt || xt->rank != 6 || av_nn_dtype_size(xt->dtype) != 4 || xt->dims[3] != 2 ||
        xt->dims[5] != 2 || (!qx_major && memcmp(n->p.transpose.perm, py, sizeof py) != 0) ||
        av_nn__xnn_numel(xt) < 1)
        return false;
    s2d_job j = {.x = x, .y = y, .c = (size_t)xt->dims[1], .ho = (size_t)xt->dims[2],
                 .wo = (size_t)xt->dims[4]};
    for (size_t qy = 0; qy < 2; qy++)
        for (size_t qx = 0; qx < 2; qx++)
            j.slot[qy][qx] = (qx_major ? qx * 2 + qy : qy * 2 + qx) * j.c;
    pthreadpool_parallelize_1d(pool, s2d_rows, &j, (size_t)xt->dims[0] * j.ho, 0);
    return true;
}
