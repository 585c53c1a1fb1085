/*
 * tensor.c - fill model inputs from pixels and read classifier outputs,
 * following the manifest (layout, colour order, normalisation) and the
 * engine's tensor info (dtype, quantisation); the run buffers of a model.
 */
#include "detect/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t av_detect__numel(const av_nn_tensor_info *ti)
{
    size_t n = 1;
    for (int i = 0; i < ti->rank; i++) {
        if (ti->dims[i] <= 0 || ti->dims[i] > (1 << 30))
            return 0;
        n *= (size_t)ti->dims[i];
    }
    return n;
}

int av_detect__check_input(const av_detect__manifest *m, const av_nn_tensor_info *ti,
                           char *err, size_t errlen)
{
    int64_t want[4] = {1, m->in_h, m->in_w, 3};
    if (m->layout == AV_DETECT__NCHW)
        want[1] = 3, want[2] = m->in_h, want[3] = m->in_w;
    int ok = ti->rank == 4;
    for (int i = 0; ok && i < 4; i++)
        ok = ti->dims[i] == want[i];
    if (!ok) {
        snprintf(err, errlen,
                 "%s: input '%s' has rank %d shape [%lld,%lld,%lld,%lld], manifest says "
                 "[%lld,%lld,%lld,%lld] (%s)",
                 m->name, ti->name ? ti->name : "?", ti->rank, (long long)ti->dims[0],
                 (long long)(ti->rank > 1 ? ti->dims[1] : 0),
                 (long long)(ti->rank > 2 ? ti->dims[2] : 0),
                 (long long)(ti->rank > 3 ? ti->dims[3] : 0), (long long)want[0],
                 (long long)want[1], (long long)want[2], (long long)want[3],
                 m->layout == AV_DETECT__NCHW ? "NCHW" : "NHWC");
        return -1;
    }
    if (ti->dtype == AV_NN_F32)
        return 0;
    if ((ti->dtype == AV_NN_U8 || ti->dtype == AV_NN_I8) && ti->scale > 0)
        return 0;
    snprintf(err, errlen, "%s: input '%s' has dtype %s%s; supported: f32, quantised u8/i8",
             m->name, ti->name ? ti->name : "?", av_nn_dtype_name(ti->dtype),
             ti->scale > 0 ? "" : " without quantisation");
    return -1;
}

/* One normalised value v stored as the input's dtype at dst[o]. */
static inline void store(const av_nn_tensor_info *ti, float inv_scale, float v, void *dst,
                         size_t o)
{
    if (ti->dtype == AV_NN_F32) {
        ((float *)dst)[o] = v;
    } else {
        float q = roundf(v * inv_scale) + (float)ti->zero_point;
        if (ti->dtype == AV_NN_U8)
            ((uint8_t *)dst)[o] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
        else
            ((int8_t *)dst)[o] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
    }
}

void av_detect__fill_input(const av_detect__manifest *m, const av_nn_tensor_info *ti,
                           const float *pxf, const uint8_t *px8, void *dst)
{
    size_t hw = (size_t)m->in_w * (size_t)m->in_h;
    float mean[3], sd[3];
    int srcc[3];
    for (int c = 0; c < 3; c++) {
        srcc[c] = m->bgr ? 2 - c : c; /* channel c of the model reads pixel channel src */
        mean[c] = m->mean[srcc[c]];
        sd[c] = m->std[srcc[c]];
    }
    float inv_scale = ti->scale > 0 ? 1.0f / ti->scale : 0.0f;
    int nchw = m->layout == AV_DETECT__NCHW;
    /* float32 arithmetic, as the reference (tf.div by 255 for NanoDet) */
    size_t es = av_nn_dtype_size(ti->dtype);
    if (px8 && (es == 1 || es == sizeof(float))) {
        /* 8-bit pixels: each channel's 256 possible inputs computed once
         * with the same arithmetic, then looked up (the same bytes). */
        float lut[3][256]; /* floats, or bytes from the start (es 1) */
        int same = es == 1 && !nchw; /* every table the identity: the bytes as they are */
        for (int c = 0; c < 3; c++) {
            same = same && srcc[c] == c;
            for (int v = 0; v < 256; v++) {
                store(ti, inv_scale, ((float)v - mean[c]) / sd[c], lut[c], (size_t)v);
                same = same && ((const uint8_t *)lut[c])[v] == v;
            }
        }
        if (same) { /* the u8 classifiers (mean = std = 128, scale 1/128, zero point 128) */
            memcpy(dst, px8, hw * 3);
            return;
        }
        for (size_t p = 0; p < hw; p++)
            for (int c = 0; c < 3; c++) {
                size_t o = nchw ? (size_t)c * hw + p : p * 3 + (size_t)c;
                size_t v = px8[p * 3 + (size_t)srcc[c]];
                if (es == 1)
                    ((uint8_t *)dst)[o] = ((const uint8_t *)lut[c])[v];
                else
                    ((float *)dst)[o] = lut[c][v];
            }
        return;
    }
    if (pxf && ti->dtype == AV_NN_F32) {
        /* the detectors' float input: one tight loop per layout */
        float *o = dst;
        if (nchw) {
            for (int c = 0; c < 3; c++) {
                const float *s = pxf + srcc[c];
                float *oc = o + (size_t)c * hw, mc = mean[c], sc = sd[c];
                for (size_t p = 0; p < hw; p++)
                    oc[p] = (s[p * 3] - mc) / sc;
            }
        } else {
            for (size_t p = 0; p < hw; p++) {
                const float *s = pxf + p * 3;
                o[p * 3 + 0] = (s[srcc[0]] - mean[0]) / sd[0];
                o[p * 3 + 1] = (s[srcc[1]] - mean[1]) / sd[1];
                o[p * 3 + 2] = (s[srcc[2]] - mean[2]) / sd[2];
            }
        }
        return;
    }
    for (size_t p = 0; p < hw; p++)
        for (int c = 0; c < 3; c++) {
            size_t i = p * 3 + (size_t)srcc[c];
            float v = ((pxf ? pxf[i] : (float)px8[i]) - mean[c]) / sd[c];
            store(ti, inv_scale, v, dst, nchw ? (size_t)c * hw + p : p * 3 + (size_t)c);
        }
}

int av_detect__fill_input_tf(const av_detect__manifest *m, const av_image *img, int nw, int nh,
                             const av_vision_par *par, float *dst)
{
    av_vision_tf_norm nm = {.layout = m->layout == AV_DETECT__NCHW ? AV_VISION_NCHW
                                                                    : AV_VISION_NHWC,
                            .tensor_w = m->in_w,
                            .tensor_h = m->in_h};
    for (int c = 0; c < 3; c++) { /* as fill_input: model channel c reads pixel channel src */
        nm.src[c] = m->bgr ? 2 - c : c;
        nm.mean[c] = m->mean[nm.src[c]];
        nm.std[c] = m->std[nm.src[c]];
    }
    if (av_vision_resize_tf_norm(img, nw, nh, &nm, par, dst) != AV_VISION_OK)
        return -1;
    if (nw == m->in_w && nh == m->in_h)
        return 0;
    float pad[3]; /* a 0 pixel, normalised */
    for (int c = 0; c < 3; c++)
        pad[c] = (0.0f - nm.mean[c]) / nm.std[c];
    size_t hw = (size_t)m->in_w * (size_t)m->in_h;
    for (int y = 0; y < m->in_h; y++)
        for (int x = y < nh ? nw : 0; x < m->in_w; x++)
            for (int c = 0; c < 3; c++) {
                size_t p = (size_t)y * (size_t)m->in_w + (size_t)x;
                dst[nm.layout == AV_VISION_NCHW ? (size_t)c * hw + p : p * 3 + (size_t)c] = pad[c];
            }
    return 0;
}

int av_detect__read_scores(const av_detect__manifest *m, const av_nn_tensor_info *ti,
                           const void *buf, float *probs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (ti->dtype) {
        case AV_NN_F32:
            probs[i] = ((const float *)buf)[i];
            break;
        case AV_NN_U8:
            probs[i] = ti->scale > 0
                           ? ti->scale * (float)((int)((const uint8_t *)buf)[i] - ti->zero_point)
                           : ((const uint8_t *)buf)[i] / 255.0f;
            break;
        case AV_NN_I8:
            probs[i] = ti->scale > 0
                           ? ti->scale * (float)((int)((const int8_t *)buf)[i] - ti->zero_point)
                           : ((const int8_t *)buf)[i] / 127.0f;
            break;
        default:
            return -1;
        }
    }
    if (m && m->softmax && n)
        av_detect_softmax(probs, (int)n);
    return 0;
}

int av_detect__topk(const float *probs, size_t n, int skip, int k, int *idx)
{
    int got = 0;
    for (size_t i = 0; i < n; i++) {
        if ((int)i == skip || isnan(probs[i]))
            continue;
        /* insertion into a short sorted list; strict > keeps the lower index on ties */
        int pos = got;
        while (pos > 0 && probs[i] > probs[idx[pos - 1]])
            pos--;
        if (pos >= k)
            continue;
        int end = got < k ? got : k - 1;
        for (int j = end; j > pos; j--)
            idx[j] = idx[j - 1];
        idx[pos] = (int)i;
        if (got < k)
            got++;
    }
    return got;
}

void av_detect__bufs_free(void **b, int n)
{
    if (!b)
        return;
    for (int i = 0; i < n; i++)
        free(b[i]);
    free(b);
}

void **av_detect__bufs_alloc(const av_nn_model *m, int inputs, size_t n_samples)
{
    int n = inputs ? av_nn_num_inputs(m) : av_nn_num_outputs(m);
    void **b = calloc((size_t)(n > 0 ? n : 1), sizeof *b);
    if (!b)
        return NULL;
    for (int i = 0; i < n; i++) {
        const av_nn_tensor_info *ti = inputs ? av_nn_input(m, i) : av_nn_output(m, i);
        size_t bytes = av_detect__numel(ti) * av_nn_dtype_size(ti->dtype);
        b[i] = bytes ? calloc(n_samples, bytes) : NULL;
        if (!b[i]) {
            av_detect__bufs_free(b, i);
            return NULL;
        }
    }
    return b;
}
