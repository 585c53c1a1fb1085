/*
 * resize.c - the two resizes the models were trained/validated with.
 *
 * 1. Pillow's Image.resize(BILINEAR) (libImaging/Resample.c), for the
 *    species classifier: a triangle filter whose support grows with the
 *    downscale factor (so shrinking averages every source pixel instead of
 *    sampling), coefficients normalised per output pixel and stored as
 *    22-bit fixed point, horizontal pass first, rounded to 8 bits between
 *    passes. Reproduced operation for operation so the bytes match.
 *
 * 2. TF1 tf.image.resizeBilinear (alignCorners=false, halfPixelCenters=false)
 *    as TF.js's cpu backend computes it, for the detectors: double-precision
 *    source coordinates and interpolation, stored as float32.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vision/vision_int.h"

/* Exact double rounding at every step: no fused multiply-add. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* ------------------------------------------------------------- Pillow */

#define PRECISION_BITS (32 - 8 - 2)

static double bilinear_filter(double x)
{
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return 1.0 - x;
    return 0.0;
}

/*
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis. On
 * success *bounds (2 per output: first source index, count) and *kk
 * (ksize per output, fixed point) are malloc'd, owned by the caller; returns
 * ksize, or 0 when out of memory.
 */
static int precompute(int in_size, float in0, float in1, int out_size, int **bounds_out,
                      int32_t **kk_out)
{
    double scale = (double)(in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale; /* BILINEAR support is 1 */
    int ksize = (int)ceil(support) * 2 + 1;

    int *bounds = malloc((size_t)out_size * 2 * sizeof *bounds);
    double *pre = malloc((size_t)out_size * (size_t)ksize * sizeof *pre);
    int32_t *kk = malloc((size_t)out_size * (size_t)ksize * sizeof *kk);
    if (!bounds || !pre || !kk) {
        free(bounds);
        free(pre);
        free(kk);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        double *k = &pre[(size_t)xx * (size_t)ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double w = bilinear_filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0)
                k[x] /= ww;
        for (; x < ksize; x++)
            k[x] = 0;
        bounds[xx * 2 + 0] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)out_size * (size_t)ksize; i++)
        kk[i] = pre[i] < 0 ? (int32_t)(-0.5 + pre[i] * (1 << PRECISION_BITS))
                           : (int32_t)(0.5 + pre[i] * (1 << PRECISION_BITS));
    free(pre);
    *bounds_out = bounds;
    *kk_out = kk;
    return ksize;
}

static inline uint8_t clip8(int32_t v)
{
    if (v < 0)
        return 0;
    v >>= PRECISION_BITS;
    return v > 255 ? 255 : (uint8_t)v;
}

/* Rows [row0, row0+nrows) of src (width in_w) -> dst (width out_w, nrows rows). */
static void resample_h(uint8_t *dst, int out_w, const uint8_t *src, int in_w, int row0, int nrows,
                       int ksize, const int *bounds, const int32_t *kk)
{
    for (int yy = 0; yy < nrows; yy++) {
        const uint8_t *in = src + (size_t)(row0 + yy) * (size_t)in_w * 3;
        uint8_t *o = dst + (size_t)yy * (size_t)out_w * 3;
        for (int xx = 0; xx < out_w; xx++) {
            int xmin = bounds[xx * 2], xmax = bounds[xx * 2 + 1];
            const int32_t *k = &kk[(size_t)xx * (size_t)ksize];
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            const uint8_t *p = in + (size_t)xmin * 3;
            for (int x = 0; x < xmax; x++, p += 3) {
                s0 += p[0] * k[x];
                s1 += p[1] * k[x];
                s2 += p[2] * k[x];
            }
            o[3 * xx + 0] = clip8(s0);
            o[3 * xx + 1] = clip8(s1);
            o[3 * xx + 2] = clip8(s2);
        }
    }
}

/*
 * Vertical pass, accumulated a whole row at a time (same integer sums as
 * Pillow's per-pixel loop, in an order that vectorises). acc holds w*3.
 */
static void resample_v(uint8_t *dst, int w, int out_h, const uint8_t *src, int ksize,
                       const int *bounds, const int32_t *kk, int32_t *acc)
{
    size_t rb = (size_t)w * 3;
    for (int yy = 0; yy < out_h; yy++) {
        int ymin = bounds[yy * 2], ymax = bounds[yy * 2 + 1];
        const int32_t *k = &kk[(size_t)yy * (size_t)ksize];
        for (size_t i = 0; i < rb; i++)
            acc[i] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < ymax; y++) {
            const uint8_t *row = src + (size_t)(y + ymin) * rb;
            int32_t ky = k[y];
            for (size_t i = 0; i < rb; i++)
                acc[i] += row[i] * ky;
        }
        uint8_t *o = dst + (size_t)yy * rb;
        for (size_t i = 0; i < rb; i++)
            o[i] = clip8(acc[i]);
    }
}

/* Output rows [row0, row1) of the box resize (box_rows in vision.h); the
 * arguments are checked by the callers. */
static av_vision_status box_rows(const av_image *src, const av_vision_rect *box, int out_w,
                                 int out_h, int row0, int row1, uint8_t *dst, char *err,
                                 size_t errlen)
{
    int need_h = out_w != src->width || box->x0 != 0 || box->x1 != (float)out_w;
    int need_v = out_h != src->height || box->y0 != 0 || box->y1 != (float)out_h;
    size_t rb = (size_t)out_w * 3;
    if (!need_h && !need_v) {
        memcpy(dst + (size_t)row0 * rb, src->data + (size_t)row0 * rb,
               (size_t)(row1 - row0) * rb);
        return AV_VISION_OK;
    }

    av_vision_status st = AV_VISION_E_NOMEM;
    int *bh = NULL, *bv = NULL;
    int32_t *kh = NULL, *kv = NULL, *acc = NULL;
    uint8_t *tmp = NULL;
    int simd = av_vision__resize_simd();
    int ksh = precompute(src->width, box->x0, box->x1, out_w, &bh, &kh);
    int ksv = ksh ? precompute(src->height, box->y0, box->y1, out_h, &bv, &kv) : 0;
    if (!ksv)
        goto done;

    const uint8_t *vin = src->data;
    if (need_h) {
        /* Only the source rows the vertical pass will read for these output
         * rows (without one, output row i is source row i); straight into
         * dst when there is no vertical pass. */
        int first = need_v ? bv[row0 * 2] : row0;
        int last = need_v ? bv[(row1 - 1) * 2] + bv[(row1 - 1) * 2 + 1] : row1;
        for (int i = row0; need_v && i < row1; i++)
            bv[i * 2] -= first;
        uint8_t *hout = dst + (size_t)row0 * rb;
        if (need_v) {
            tmp = malloc(rb * (size_t)(last - first));
            if (!tmp)
                goto done;
            hout = tmp;
        }
        if (!simd || av_vision__resample_h_simd(hout, out_w, src->data, src->width, src->height,
                                                first, last - first, ksh, bh, kh))
            resample_h(hout, out_w, src->data, src->width, first, last - first, ksh, bh, kh);
        vin = tmp;
    }
    if (need_v) {
        acc = malloc(rb * sizeof *acc);
        if (!acc)
            goto done;
        uint8_t *d = dst + (size_t)row0 * rb;
        const int *bvr = bv + 2 * (size_t)row0;
        const int32_t *kvr = kv + (size_t)row0 * (size_t)ksv;
        if (simd)
            av_vision__resample_v_simd(d, out_w, row1 - row0, vin, ksv, bvr, kvr, acc);
        else
            resample_v(d, out_w, row1 - row0, vin, ksv, bvr, kvr, acc);
    }
    st = AV_VISION_OK;
done:
    if (st != AV_VISION_OK)
        av_vision__err(err, errlen, st, "resize to %dx%d: out of memory", out_w, out_h);
    free(bh);
    free(bv);
    free(kh);
    free(kv);
    free(acc);
    free(tmp);
    return st;
}

av_vision_status av_vision_resize_pil_box_rows(const av_image *src, const av_vision_rect *box,
                                               int out_w, int out_h, int row0, int row1,
                                               uint8_t *dst, char *err, size_t errlen)
{
    if (!src || !src->data || !box || !dst)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "resize: NULL image, box or output");
    if (out_w < 1 || out_h < 1 || out_w > AV_VISION_MAX_SIDE || out_h > AV_VISION_MAX_SIDE)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "resize: bad output size %dx%d", out_w,
                              out_h);
    if (row0 < 0 || row1 > out_h || row0 >= row1)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "resize: rows [%d, %d) of %d", row0,
                              row1, out_h);
    if (!(box->x0 >= 0 && box->y0 >= 0 && box->x1 <= (float)src->width &&
          box->y1 <= (float)src->height && box->x0 < box->x1 && box->y0 < box->y1))
        return av_vision__err(err, errlen, AV_VISION_E_ARG,
                              "resize: box (%g,%g)-(%g,%g) not inside %dx%d image", box->x0,
                              box->y0, box->x1, box->y1, src->width, src->height);
    return box_rows(src, box, out_w, out_h, row0, row1, dst, err, errlen);
}

av_vision_status av_vision_resize_pil_box_into(const av_image *src, const av_vision_rect *box,
                                               int out_w, int out_h, uint8_t *dst, char *err,
                                               size_t errlen)
{
    return av_vision_resize_pil_box_rows(src, box, out_w, out_h, 0, out_h > 0 ? out_h : 1, dst,
                                         err, errlen);
}

av_vision_status av_vision_resize_pil_box(const av_image *src, const av_vision_rect *box,
                                          int out_w, int out_h, av_image **out, char *err,
                                          size_t errlen)
{
    if (!out)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "resize: NULL output");
    *out = NULL;
    if (out_w < 1 || out_h < 1 || out_w > AV_VISION_MAX_SIDE || out_h > AV_VISION_MAX_SIDE)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "resize: bad output size %dx%d", out_w,
                              out_h);
    av_image *res = av_vision__img_alloc(out_w, out_h);
    if (!res)
        return av_vision__err(err, errlen, AV_VISION_E_NOMEM, "resize: out of memory");
    av_vision_status st = av_vision_resize_pil_box_into(src, box, out_w, out_h, res->data, err,
                                                        errlen);
    if (st != AV_VISION_OK)
        av_img_free(res);
    else
        *out = res;
    return st;
}

av_vision_status av_vision_resize_pil(const av_image *src, int out_w, int out_h, av_image **out,
                                      char *err, size_t errlen)
{
    if (!src)
        return av_vision__err(err, errlen, AV_VISION_E_ARG, "resize: NULL image");
    av_vision_rect box = {0, 0, (float)src->width, (float)src->height};
    return av_vision_resize_pil_box(src, &box, out_w, out_h, out, err, errlen);
}

/* ------------------------------------------------------------ TF1 bilinear */

av_vision_status av_vision_resize_tf_bilinear_ex(const av_image *src, int out_w, int out_h,
                                                 float divisor, av_vision_layout layout,
                                                 float *out)
{
    if (!src || !src->data || !out || out_w < 1 || out_h < 1 || out_w > AV_VISION_MAX_SIDE ||
        out_h > AV_VISION_MAX_SIDE || !(divisor > 0) ||
        (layout != AV_VISION_NHWC && layout != AV_VISION_NCHW))
        return AV_VISION_E_ARG;
    int in_w = src->width, in_h = src->height;
    int *x0 = malloc((size_t)out_w * 2 * sizeof *x0);
    double *fx = malloc((size_t)out_w * sizeof *fx);
    if (!x0 || !fx) {
        free(x0);
        free(fx);
        return AV_VISION_E_NOMEM;
    }
    /* TF.js: effectiveInputSize / effectiveOutputSize, both in double. */
    double rx = (double)in_w / (double)out_w, ry = (double)in_h / (double)out_h;
    for (int c = 0; c < out_w; c++) {
        double s = rx * c;
        double fl = floor(s);
        int lo = fl < 0 ? 0 : (int)fl;
        int hi = (int)ceil(s);
        if (hi > in_w - 1)
            hi = in_w - 1;
        x0[2 * c] = lo;
        x0[2 * c + 1] = hi;
        fx[c] = s - lo;
    }
    size_t plane = (size_t)out_w * (size_t)out_h;
    size_t rb = (size_t)in_w * 3;
    int divide = divisor != 1.0f;
    int simd = av_vision__resize_simd();
    const uint8_t *end = src->data + rb * (size_t)in_h;
    for (int c = 0; c < out_w; c++) { /* byte offsets of the two neighbours */
        x0[2 * c] *= 3;
        x0[2 * c + 1] *= 3;
    }
    for (int r = 0; r < out_h; r++) {
        double s = ry * r;
        double fl = floor(s);
        int lo = fl < 0 ? 0 : (int)fl;
        int hi = (int)ceil(s);
        if (hi > in_h - 1)
            hi = in_h - 1;
        double fy = s - lo;
        const uint8_t *top = src->data + (size_t)lo * rb;
        const uint8_t *bot = src->data + (size_t)hi * rb;
        if (simd) {
            int nhwc = layout == AV_VISION_NHWC;
            av_vision__tf_row_simd(top, bot, end, x0, fx, out_w, fy, divisor,
                                   out + (size_t)r * (size_t)out_w * (nhwc ? 3 : 1),
                                   nhwc ? 3 : 1, nhwc ? 0 : plane);
            continue;
        }
        if (layout == AV_VISION_NHWC && !divide) {
            /* the common case (CenterNet) without per-value branches */
            float *o = out + (size_t)r * (size_t)out_w * 3;
            for (int c = 0; c < out_w; c++, o += 3) {
                const uint8_t *ta = top + x0[2 * c], *tb = top + x0[2 * c + 1];
                const uint8_t *ba = bot + x0[2 * c], *bb = bot + x0[2 * c + 1];
                double f = fx[c];
                for (int ch = 0; ch < 3; ch++) {
                    double tl = ta[ch], tr = tb[ch], bl = ba[ch], br = bb[ch];
                    double t = tl + (tr - tl) * f;
                    double bt = bl + (br - bl) * f;
                    o[ch] = (float)(t + (bt - t) * fy);
                }
            }
            continue;
        }
        for (int c = 0; c < out_w; c++) {
            size_t a = (size_t)x0[2 * c], b = (size_t)x0[2 * c + 1];
            double f = fx[c];
            for (int ch = 0; ch < 3; ch++) {
                double tl = top[a + ch], tr = top[b + ch];
                double bl = bot[a + ch], br = bot[b + ch];
                double t = tl + (tr - tl) * f;
                double bt = bl + (br - bl) * f;
                float v = (float)(t + (bt - t) * fy);
                if (divide)
                    v = v / divisor;
                size_t idx = layout == AV_VISION_NHWC
                                 ? ((size_t)r * (size_t)out_w + (size_t)c) * 3 + (size_t)ch
                                 : (size_t)ch * plane + (size_t)r * (size_t)out_w + (size_t)c;
                out[idx] = v;
            }
        }
    }
    free(x0);
    free(fx);
    return AV_VISION_OK;
}

/* ----------------------------------------- TF1 bilinear, normalised, rows on threads */

typedef struct tf_job {
    const av_image *src;
    int out_w, out_h, rows_per;
    const int *x0;     /* byte offsets of each output column's two neighbours */
    const double *fx;  /* and its weight */
    double ry;
    const av_vision_tf_norm *nm;
    float *out;
    size_t plane, row; /* NCHW plane size (0: NHWC), floats per tensor row */
    int simd;
    float plain_div;   /* > 0: mean 0, one std for all, channels in order */
} tf_job;

/* Output rows [i * rows_per, ...) of av_vision_resize_tf_norm. */
static void tf_norm_rows(void *ctx, size_t i)
{
    const tf_job *j = ctx;
    const av_vision_tf_norm *nm = j->nm;
    size_t rb = (size_t)j->src->width * 3;
    int in_h = j->src->height;
    const uint8_t *end = j->src->data + rb * (size_t)in_h;
    int r0 = (int)i * j->rows_per, r1 = r0 + j->rows_per < j->out_h ? r0 + j->rows_per : j->out_h;
    size_t step = j->plane ? 1 : 3;
    for (int r = r0; r < r1; r++) {
        double s = j->ry * r; /* as av_vision_resize_tf_bilinear_ex */
        double fl = floor(s);
        int lo = fl < 0 ? 0 : (int)fl;
        int hi = (int)ceil(s);
        if (hi > in_h - 1)
            hi = in_h - 1;
        double fy = s - lo;
        const uint8_t *top = j->src->data + (size_t)lo * rb;
        const uint8_t *bot = j->src->data + (size_t)hi * rb;
        float *o = j->out + (size_t)r * j->row;
        if (j->simd && j->plain_div > 0) { /* (v - 0) / d is v / d: the plain row */
            av_vision__tf_row_simd(top, bot, end, j->x0, j->fx, j->out_w, fy, j->plain_div, o,
                                   step, j->plane);
            continue;
        }
        if (j->simd) {
            av_vision__tf_row_norm_simd(top, bot, end, j->x0, j->fx, j->out_w, fy, nm->mean,
                                        nm->std, nm->src, o, step, j->plane);
            continue;
        }
        for (int c = 0; c < j->out_w; c++) {
            size_t a = (size_t)j->x0[2 * c], b = (size_t)j->x0[2 * c + 1];
            double f = j->fx[c];
            float v[3];
            for (int ch = 0; ch < 3; ch++) {
                double tl = top[a + ch], tr = top[b + ch];
                double bl = bot[a + ch], br = bot[b + ch];
                double t = tl + (tr - tl) * f;
                double bt = bl + (br - bl) * f;
                v[ch] = (float)(t + (bt - t) * fy);
            }
            for (int k = 0; k < 3; k++)
                o[(size_t)c * step + (size_t)k * (j->plane ? j->plane : 1)] =
                    (v[nm->src[k]] - nm->mean[k]) / nm->std[k];
        }
    }
}

av_vision_status av_vision_resize_tf_norm(const av_image *src, int out_w, int out_h,
                                          const av_vision_tf_norm *nm, const av_vision_par *par,
                                          float *out)
{
    if (!src || !src->data || !nm || !out || out_w < 1 || out_h < 1 ||
        out_w > AV_VISION_MAX_SIDE || out_h > AV_VISION_MAX_SIDE ||
        (nm->layout != AV_VISION_NHWC && nm->layout != AV_VISION_NCHW))
        return AV_VISION_E_ARG;
    int tw = nm->tensor_w > 0 ? nm->tensor_w : out_w, th = nm->tensor_h > 0 ? nm->tensor_h : out_h;
    if (tw < out_w || th < out_h || tw > AV_VISION_MAX_SIDE || th > AV_VISION_MAX_SIDE)
        return AV_VISION_E_ARG;
    for (int k = 0; k < 3; k++)
        if (nm->src[k] < 0 || nm->src[k] > 2)
            return AV_VISION_E_ARG;
    int in_w = src->width;
    int *x0 = malloc((size_t)out_w * 2 * sizeof *x0);
    double *fx = malloc((size_t)out_w * sizeof *fx);
    if (!x0 || !fx) {
        free(x0);
        free(fx);
        return AV_VISION_E_NOMEM;
    }
    double rx = (double)in_w / (double)out_w;
    for (int c = 0; c < out_w; c++) {
        double s = rx * c;
        double fl = floor(s);
        int lo = fl < 0 ? 0 : (int)fl;
        int hi = (int)ceil(s);
        if (hi > in_w - 1)
            hi = in_w - 1;
        x0[2 * c] = lo * 3; /* byte offsets */
        x0[2 * c + 1] = hi * 3;
        fx[c] = s - lo;
    }
    int nchw = nm->layout == AV_VISION_NCHW;
    /* pieces of rows: two per thread, so a busy core evens out */
    int threads = par && par->run && par->threads > 1 ? par->threads : 1;
    int pieces = par && par->strips > 0 ? par->strips : threads * 2;
    if (pieces > out_h)
        pieces = out_h;
    tf_job job = {.src = src,
                  .out_w = out_w,
                  .out_h = out_h,
                  .rows_per = (out_h + pieces - 1) / pieces,
                  .x0 = x0,
                  .fx = fx,
                  .ry = (double)src->height / (double)out_h,
                  .nm = nm,
                  .out = out,
                  .plane = nchw ? (size_t)tw * (size_t)th : 0,
                  .row = nchw ? (size_t)tw : (size_t)tw * 3,
                  .simd = av_vision__resize_simd()};
    if (nm->mean[0] == 0 && nm->mean[1] == 0 && nm->mean[2] == 0 && nm->std[0] == nm->std[1] &&
        nm->std[1] == nm->std[2] && nm->src[0] == 0 && nm->src[1] == 1 && nm->src[2] == 2)
        job.plain_div = nm->std[0] > 0 ? nm->std[0] : 0;
    size_t n = (size_t)((out_h + job.rows_per - 1) / job.rows_per);
    if (n > 1 && par && par->run)
        par->run(par->pool, tf_norm_rows, &job, n);
    else
        for (size_t i = 0; i < n; i++)
            tf_norm_rows(&job, i);
    free(x0);
    free(fx);
    return AV_VISION_OK;
}

av_vision_status av_vision_resize_tf_bilinear_f32(const av_image *src, int out_w, int out_h,
                                                  float *out)
{
    return av_vision_resize_tf_bilinear_ex(src, out_w, out_h, 1.0f, AV_VISION_NHWC, out);
}
