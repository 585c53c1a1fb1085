/*
 * elem.c - element access, quantisation and strides of the IR:
 * used by shape inference, the passes, the loaders and every kernel, so they
 * live with the IR rather than in a backend.
 */
#include "nn/core.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double av_nn__load_elem(const void *p, av_nn_dtype t, int64_t i)
{
    switch (t) {
    case AV_NN_F32:
        return ((const float *)p)[i];
    case AV_NN_F16:
        return av_nn__f16_to_f32(((const uint16_t *)p)[i]);
    case AV_NN_U8:
        return ((const uint8_t *)p)[i];
    case AV_NN_I8:
        return ((const int8_t *)p)[i];
    case AV_NN_I32:
        return ((const int32_t *)p)[i];
    case AV_NN_I64:
        return (double)((const int64_t *)p)[i];
    case AV_NN_BOOL:
        return ((const uint8_t *)p)[i] != 0;
    default:
        return 0;
    }
}

/* Saturating double -> integer conversion (NaN -> 0), truncating toward zero. */
static int64_t sat_i64(double v, double lo, double hi)
{
    if (!(v == v))
        return 0;
    if (v <= lo)
        return (int64_t)lo;
    if (v >= hi)
        return hi >= 9.2e18 ? INT64_MAX : (int64_t)hi;
    return (int64_t)v;
}

void av_nn__store_elem(void *p, av_nn_dtype t, int64_t i, double v)
{
    switch (t) {
    case AV_NN_F32:
        ((float *)p)[i] = (float)v;
        break;
    case AV_NN_F16:
        ((uint16_t *)p)[i] = av_nn__f32_to_f16((float)v);
        break;
    case AV_NN_U8:
        ((uint8_t *)p)[i] = (uint8_t)sat_i64(v, 0, 255);
        break;
    case AV_NN_I8:
        ((int8_t *)p)[i] = (int8_t)sat_i64(v, -128, 127);
        break;
    case AV_NN_I32:
        ((int32_t *)p)[i] = (int32_t)sat_i64(v, -2147483648.0, 2147483647.0);
        break;
    case AV_NN_I64:
        ((int64_t *)p)[i] = sat_i64(v, -9223372036854775808.0, 9223372036854775807.0);
        break;
    case AV_NN_BOOL:
        ((uint8_t *)p)[i] = v != 0;
        break;
    default:
        break;
    }
}

int64_t av_nn__load_int(const void *p, av_nn_dtype t, int64_t i)
{
    switch (t) {
    case AV_NN_U8:
        return ((const uint8_t *)p)[i];
    case AV_NN_I8:
        return ((const int8_t *)p)[i];
    case AV_NN_I32:
        return ((const int32_t *)p)[i];
    case AV_NN_I64:
        return ((const int64_t *)p)[i];
    case AV_NN_BOOL:
        return ((const uint8_t *)p)[i] != 0;
    default:
        return sat_i64(av_nn__load_elem(p, t, i), -9223372036854775808.0, 9223372036854775807.0);
    }
}

void av_nn__store_int(void *p, av_nn_dtype t, int64_t i, int64_t v)
{
    switch (t) {
    case AV_NN_I32:
        ((int32_t *)p)[i] = (int32_t)(v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : v);
        break;
    case AV_NN_I64:
        ((int64_t *)p)[i] = v;
        break;
    default:
        av_nn__store_elem(p, t, i, (double)v);
        break;
    }
}

int32_t av_nn__quantize_val(double real, float scale, int32_t zp, av_nn_dtype t)
{
    /* float division like TFLite's reference quantize; roundf: half away from zero */
    double q = (double)roundf((float)real / scale) + zp;
    double lo = t == AV_NN_U8 ? 0 : t == AV_NN_I8 ? -128 : -2147483648.0;
    double hi = t == AV_NN_U8 ? 255 : t == AV_NN_I8 ? 127 : 2147483647.0;
    if (!(q == q))
        q = zp;
    return (int32_t)(q < lo ? lo : q > hi ? hi : q);
}

void av_nn__strides(int rank, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

void av_nn__bcast_strides(int ro, const int64_t *dout, int ri, const int64_t *di, int64_t *bstrides)
{
    int64_t s = 1;
    for (int i = ro - 1; i >= 0; i--) {
        int k = i - (ro - ri);
        if (k >= 0 && di[k] == dout[i] && di[k] != 1) {
            bstrides[i] = s;
        } else {
            bstrides[i] = 0;
        }
        if (k >= 0)
            s *= di[k];
    }
}

int av_nn__norm_axis(int a, int r)
{
    if (a < 0)
        a += r;
    return (a < 0 || a >= (r > 0 ? r : 1)) ? -1 : a;
}
