/*
 * xnn_qlut.c - leaky relu on int8 (qs8/qc8) convolution outputs.
 *
 * Debian's XNNPACK has no qs8 leaky relu, and its convolutions only clamp.
 * So an int8 convolution with a fused leaky relu runs as: the convolution
 * writes the PRE-activation in int8 with parameters of its own (the range
 * of y's parameters with the negative end divided by alpha: leaky relu is
 * monotonic, so that is exactly the pre-activation range y's calibration
 * implies), then a 256-entry table maps each pre-activation byte to y's
 * quantisation in place. The table holds the exact leaky relu of each of
 * the 256 inputs, rounded the reference's way (half away from zero); what
 * the two roundings (pre-activation, then y) lose is bounded by half a step
 * of each (tests/t_nn_qleaky.c).
 */
#include "nn/xnn/xnn_impl.h"

#include "nn/core.h" /* av_nn__quantize_val */

#include <math.h>
#include <stdlib.h>

bool av_nn__xnn_qleaky_pays(void)
{
    return av_nn__xnn_qgemm_available();
}

bool av_nn__xnn_qleaky_ok(const av_nn__fused_act *a, const av_nn__tensor *y)
{
    return a->kind == AV_NN_ACT_LEAKY && isfinite(a->alpha) && a->alpha > 0.0f &&
           a->alpha < 1.0f && av_nn__xnn_qtensor(y, AV_NN_I8) && !y->quant.channel_scales;
}

void av_nn__xnn_qleaky_pre(const av_nn__fused_act *a, const av_nn__tensor *y, float *scale,
                           int32_t *zp)
{
    double s = y->quant.scale, z = y->quant.zero_point;
    double lo = (-128.0 - z) * s, hi = (127.0 - z) * s;
    if (lo < 0)
        lo /= a->alpha; /* the negative side of the input, before the slope */
    if (hi < 0)
        hi = 0;
    if (hi - lo < 1e-6)
        hi = lo + 1e-6;
    double ps = (hi - lo) / 255.0, pz = nearbyint(-128.0 - lo / ps);
    *scale = (float)ps;
    *zp = (int32_t)(pz < -128 ? -128 : pz > 127 ? 127 : pz);
}

void av_nn__xnn_qleaky_table(const av_nn__fused_act *a, const av_nn__tensor *y, float pscale,
                             int32_t pzp, int8_t lut[256])
{
    for (int q = -128; q <= 127; q++) {
        double r = (double)pscale * (q - pzp);
        r = r < 0 ? r * a->alpha : r;
        lut[q + 128] = (int8_t)av_nn__quantize_val(r, y->quant.scale, y->quant.zero_point,
                                                  AV_NN_I8);
    }
}

#define LUT_CHUNK 16384

typedef struct lut_job {
    const int8_t *lut;
    int8_t *y;
    size_t n;
} lut_job;

static void lut_chunk(void *ctx, size_t i, size_t count)
{
    const lut_job *j = ctx;
    size_t b = i * LUT_CHUNK, e = (i + count) * LUT_CHUNK;
    e = e < j->n ? e : j->n;
    const int8_t *lut = j->lut + 128;
    int8_t *y = j->y;
    for (size_t k = b; k < e; k++)
        y[k] = lut[y[k]];
}

void av_nn__xnn_lut_s8(const int8_t *lut, int8_t *y, size_t n, pthreadpool_t pool)
{
    lut_job j = {lut, y, n};
    pthreadpool_parallelize_1d_tile_1d(pool, lut_chunk, &j, (n + LUT_CHUNK - 1) / LUT_CHUNK, 1, 0);
}
