/*
 * xnn_pool.c - XNNPACK operators for the window and spatial ops:
 * MAX_POOL2D (f32, u8, i8), AVG_POOL2D (f32; qu8 unpadded), REDUCE mean over a
 * contiguous block of axes (global_average_pooling_nwc f32/qu8/qs8) and
 * bilinear RESIZE (f32, u8, i8).
 */
#include "nn/xnn/xnn_impl.h"

#include <math.h>

/* Mean scale limits of XNNPACK's qu8/qs8 average pooling (input/output). */
#define AVG_QSCALE_MIN 0x1.0p-8
#define AVG_QSCALE_MAX 0x1.0p+8
/* Keeps scale / pool size far from XNNPACK's 2^-32 requantisation assert. */
#define AVG_MAX_WINDOW (1 << 16)

static bool fits_u32(int64_t v)
{
    return v >= 0 && v <= (int64_t)UINT32_MAX;
}

static bool avg_qscale_ok(const av_nn__tensor *x, const av_nn__tensor *y)
{
    double r = (double)x->quant.scale / y->quant.scale;
    return r >= AVG_QSCALE_MIN && r < AVG_QSCALE_MAX;
}

/* ---- pooling ---- */

typedef struct pgeom {
    uint32_t kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
    size_t batch, h, w, c;
} pgeom;

static int64_t pool_out(int64_t in, int64_t pads, int64_t k, int64_t s, int64_t d)
{
    int64_t keff = (k - 1) * d + 1, num = in + pads - keff;
    return num < 0 ? -1 : num / s + 1;
}

static bool pool_geom(const av_nn__graph *g, const av_nn__node *n, pgeom *o)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    const av_nn__pool_params *p = &n->p.pool;
    if (!x || !y || x->rank != 4 || y->rank != 4 || av_nn__xnn_numel(x) < 0 ||
        av_nn__xnn_numel(y) < 0 || x->dims[0] != y->dims[0] || x->dims[3] != y->dims[3])
        return false;
    if (p->filter_h < 1 || p->filter_w < 1 || p->stride_h < 1 || p->stride_w < 1 ||
        p->dilation_h < 1 || p->dilation_w < 1 || p->pad_top < 0 || p->pad_left < 0 ||
        p->pad_bottom < 0 || p->pad_right < 0)
        return false;
    if (p->filter_h == 1 && p->filter_w == 1)
        return false; /* XNNPACK rejects 1x1 windows */
    *o = (pgeom){(uint32_t)p->filter_h, (uint32_t)p->filter_w, (uint32_t)p->stride_h,
                 (uint32_t)p->stride_w, (uint32_t)p->dilation_h, (uint32_t)p->dilation_w,
                 (uint32_t)p->pad_top, (uint32_t)p->pad_left, (uint32_t)p->pad_bottom,
                 (uint32_t)p->pad_right, (size_t)x->dims[0], (size_t)x->dims[1],
                 (size_t)x->dims[2], (size_t)x->dims[3]};
    /* every window must hold a real pixel (the reference writes 0 for empty
     * ones, XNNPACK would not): pads shorter than the window, no dilated gaps */
    bool padded = o->pt || o->pl || o->pb || o->pr;
    if (padded && (o->dh > 1 || o->dw > 1 || o->pt >= o->kh || o->pb >= o->kh ||
                   o->pl >= o->kw || o->pr >= o->kw))
        return false;
    int64_t oh = pool_out(x->dims[1], (int64_t)o->pt + o->pb, o->kh, o->sh, o->dh);
    int64_t ow = pool_out(x->dims[2], (int64_t)o->pl + o->pr, o->kw, o->sw, o->dw);
    if (oh == y->dims[1] && ow == y->dims[2])
        return true;
    /* ceil_mode adds a last, partial window. Max pooling ignores padding, so
     * extra end padding gives exactly that window; averaging would not. */
    if (n->op != AV_NN_OP_MAX_POOL2D || !p->ceil_mode || oh < 0 || ow < 0 ||
        y->dims[1] < oh || y->dims[2] < ow)
        return false;
    int64_t need_h = (y->dims[1] - 1) * o->sh + (int64_t)(o->kh - 1) * o->dh + 1;
    int64_t need_w = (y->dims[2] - 1) * o->sw + (int64_t)(o->kw - 1) * o->dw + 1;
    int64_t eb = need_h - (x->dims[1] + o->pt + o->pb), er = need_w - (x->dims[2] + o->pl + o->pr);
    if (eb < 0 || er < 0 || !fits_u32(o->pb + eb) || !fits_u32(o->pr + er) || o->dh > 1 ||
        o->dw > 1)
        return false;
    o->pb += (uint32_t)eb, o->pr += (uint32_t)er;
    /* the added windows must still start on a real pixel */
    return (y->dims[1] - 1) * (int64_t)o->sh < x->dims[1] + o->pt &&
           (y->dims[2] - 1) * (int64_t)o->sw < x->dims[2] + o->pl;
}

static bool pool_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    const av_nn__pool_params *p = &n->p.pool;
    pgeom o;
    int32_t lo, hi;
    if (!pool_geom(g, n, &o) || x->dtype != y->dtype)
        return false;
    bool padded = o.pt || o.pl || o.pb || o.pr;
    if (n->op == AV_NN_OP_MAX_POOL2D) {
        if (x->dtype == AV_NN_F32)
            return av_nn__xnn_act_ok_f32(&p->act);
        if (x->dtype != AV_NN_U8 && x->dtype != AV_NN_I8)
            return false;
        if (x->quant.scale == 0.0f && y->quant.scale == 0.0f)
            return p->act.kind == AV_NN_ACT_NONE; /* raw integers */
        return av_nn__xnn_qtensor(x, x->dtype) && av_nn__xnn_same_quant(x, y) &&
               av_nn__xnn_qbounds(&p->act, y, &lo, &hi);
    }
    /* AVG has no dilation. With padding, XNNPACK's f32 operator averages the
     * valid pixels only, while its qu8 one counts padding as zero points. */
    if (p->dilation_h != 1 || p->dilation_w != 1)
        return false;
    if (x->dtype == AV_NN_F32)
        return !(padded && p->count_include_pad) && av_nn__xnn_act_ok_f32(&p->act);
    return !padded && av_nn__xnn_qtensor(x, AV_NN_U8) && av_nn__xnn_qtensor(y, AV_NN_U8) &&
           avg_qscale_ok(x, y) && (int64_t)o.kh * o.kw <= AVG_MAX_WINDOW &&
           av_nn__xnn_qbounds(&p->act, y, &lo, &hi);
}

static enum xnn_status setup_max_f32(av_nn__xnn_node *s, const void *const *in,
                                     void *const *out, pthreadpool_t pool)
{
    return xnn_setup_max_pooling2d_nhwc_f32(s->op, s->batch, s->in_h, s->in_w, in[0], out[0],
                                            pool);
}

static enum xnn_status setup_max_u8(av_nn__xnn_node *s, const void *const *in,
                                    void *const *out, pthreadpool_t pool)
{
    return xnn_setup_max_pooling2d_nhwc_u8(s->op, s->batch, s->in_h, s->in_w, in[0], out[0],
                                           pool);
}

static enum xnn_status setup_max_s8(av_nn__xnn_node *s, const void *const *in,
                                    void *const *out, pthreadpool_t pool)
{
    return xnn_setup_max_pooling2d_nhwc_s8(s->op, s->batch, s->in_h, s->in_w, in[0], out[0],
                                           pool);
}

static enum xnn_status setup_avg_f32(av_nn__xnn_node *s, const void *const *in,
                                     void *const *out, pthreadpool_t pool)
{
    return xnn_setup_average_pooling2d_nhwc_f32(s->op, s->batch, s->in_h, s->in_w, in[0],
                                                out[0], pool);
}

static enum xnn_status setup_avg_qu8(av_nn__xnn_node *s, const void *const *in,
                                     void *const *out, pthreadpool_t pool)
{
    return xnn_setup_average_pooling2d_nhwc_qu8(s->op, s->batch, s->in_h, s->in_w, in[0],
                                                out[0], pool);
}

static enum xnn_status pool_create(const av_nn__graph *g, const av_nn__node *n,
                                   av_nn__xnn_node *s)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    const av_nn__fused_act *a = &n->p.pool.act;
    pgeom o;
    pool_geom(g, n, &o);
    s->batch = o.batch, s->in_h = o.h, s->in_w = o.w;
    float lo = -INFINITY, hi = INFINITY;
    int32_t qlo = x->dtype == AV_NN_U8 ? 0 : -128, qhi = x->dtype == AV_NN_U8 ? 255 : 127;
    if (x->dtype == AV_NN_F32)
        av_nn__xnn_act_bounds(a, &lo, &hi);
    else if (x->quant.scale != 0.0f)
        av_nn__xnn_qbounds(a, y, &qlo, &qhi);
    enum xnn_status st;
    if (n->op == AV_NN_OP_MAX_POOL2D) {
        s->what = "max_pooling2d_nhwc";
        if (x->dtype == AV_NN_F32) {
            s->setup = setup_max_f32;
            st = xnn_create_max_pooling2d_nhwc_f32(o.pt, o.pr, o.pb, o.pl, o.kh, o.kw, o.sh, o.sw,
                                                   o.dh, o.dw, o.c, o.c, o.c, lo, hi, 0, &s->op);
        } else if (x->dtype == AV_NN_U8) {
            s->setup = setup_max_u8;
            st = xnn_create_max_pooling2d_nhwc_u8(o.pt, o.pr, o.pb, o.pl, o.kh, o.kw, o.sh, o.sw,
                                                  o.dh, o.dw, o.c, o.c, o.c, (uint8_t)qlo,
                                                  (uint8_t)qhi, 0, &s->op);
        } else {
            s->setup = setup_max_s8;
            st = xnn_create_max_pooling2d_nhwc_s8(o.pt, o.pr, o.pb, o.pl, o.kh, o.kw, o.sh, o.sw,
                                                  o.dh, o.dw, o.c, o.c, o.c, (int8_t)qlo,
                                                  (int8_t)qhi, 0, &s->op);
        }
    } else {
        s->what = "average_pooling2d_nhwc";
        if (x->dtype == AV_NN_F32) {
            s->setup = setup_avg_f32;
            st = xnn_create_average_pooling2d_nhwc_f32(o.pt, o.pr, o.pb, o.pl, o.kh, o.kw, o.sh,
                                                       o.sw, o.c, o.c, o.c, lo, hi, 0, &s->op);
        } else {
            s->setup = setup_avg_qu8;
            st = xnn_create_average_pooling2d_nhwc_qu8(
                o.pt, o.pr, o.pb, o.pl, o.kh, o.kw, o.sh, o.sw, o.c, o.c, o.c,
                (uint8_t)x->quant.zero_point, x->quant.scale, (uint8_t)y->quant.zero_point,
                y->quant.scale, (uint8_t)qlo, (uint8_t)qhi, 0, &s->op);
        }
    }
    if (st == xnn_status_success && x->dtype == AV_NN_F32)
        st = av_nn__xnn_make_post(s, a, false, (size_t)av_nn__xnn_numel(y));
    return st;
}

/* ---- REDUCE mean: [outer, inner (reduced), channels] ---- */

static bool mean_split(const av_nn__graph *g, const av_nn__node *n, size_t *batch,
                       size_t *width, size_t *chan)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    const av_nn__reduce_params *p = &n->p.reduce;
    if (!x || !y || p->kind != AV_NN_REDUCE_MEAN || x->rank < 1 || x->rank > 31 ||
        av_nn__xnn_numel(x) < 0 || av_nn__xnn_numel(y) < 0)
        return false;
    uint32_t m = p->axes_mask & ((1u << x->rank) - 1);
    if (m == 0)
        m = (1u << x->rank) - 1; /* no axes: all of them */
    if (m != (p->axes_mask ? p->axes_mask : m))
        return false; /* an axis beyond the rank */
    int first = __builtin_ctz(m), last = 31 - __builtin_clz(m);
    if ((m >> first) != (1u << (last - first + 1)) - 1)
        return false; /* not one contiguous block */
    int64_t b = 1, w = 1, c = 1;
    for (int i = 0; i < x->rank; i++)
        *(i < first ? &b : i <= last ? &w : &c) *= x->dims[i];
    if (av_nn__xnn_numel(y) != b * c)
        return false;
    *batch = (size_t)b, *width = (size_t)w, *chan = (size_t)c;
    return true;
}

static bool mean_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    size_t b, w, c;
    if (!mean_split(g, n, &b, &w, &c))
        return false;
    if (n->n_in > 1 && n->in[1] >= 0 && !g->tensors[n->in[1]].data)
        return false; /* axes decided at run time */
    if (x->dtype == AV_NN_F32)
        return y->dtype == AV_NN_F32;
    if (x->dtype != AV_NN_U8 && x->dtype != AV_NN_I8)
        return false;
    return av_nn__xnn_qtensor(x, x->dtype) && av_nn__xnn_qtensor(y, x->dtype) &&
           avg_qscale_ok(x, y) && w <= AVG_MAX_WINDOW;
}

static enum xnn_status setup_gavg_f32(av_nn__xnn_node *s, const void *const *in,
                                      void *const *out, pthreadpool_t pool)
{
    return xnn_setup_global_average_pooling_nwc_f32(s->op, s->batch, s->in_w, in[0], out[0],
                                                    pool);
}

static enum xnn_status setup_gavg_qu8(av_nn__xnn_node *s, const void *const *in,
                                      void *const *out, pthreadpool_t pool)
{
    return xnn_setup_global_average_pooling_nwc_qu8(s->op, s->batch, s->in_w, in[0], out[0],
                                                    pool);
}

static enum xnn_status setup_gavg_qs8(av_nn__xnn_node *s, const void *const *in,
                                      void *const *out, pthreadpool_t pool)
{
    return xnn_setup_global_average_pooling_nwc_qs8(s->op, s->batch, s->in_w, in[0], out[0],
                                                    pool);
}

static enum xnn_status mean_create(const av_nn__graph *g, const av_nn__node *n,
                                   av_nn__xnn_node *s)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    size_t b, w, c;
    mean_split(g, n, &b, &w, &c);
    s->batch = b, s->in_w = w;
    s->what = "global_average_pooling_nwc";
    if (x->dtype == AV_NN_F32) {
        s->setup = setup_gavg_f32;
        return xnn_create_global_average_pooling_nwc_f32(c, c, c, -INFINITY, INFINITY, 0,
                                                         &s->op);
    }
    if (x->dtype == AV_NN_U8) {
        s->setup = setup_gavg_qu8;
        return xnn_create_global_average_pooling_nwc_qu8(
            c, c, c, (uint8_t)x->quant.zero_point, x->quant.scale, (uint8_t)y->quant.zero_point,
            y->quant.scale, 0, 255, 0, &s->op);
    }
    s->setup = setup_gavg_qs8;
    return xnn_create_global_average_pooling_nwc_qs8(
        c, c, c, (int8_t)x->quant.zero_point, x->quant.scale, (int8_t)y->quant.zero_point,
        y->quant.scale, -128, 127, 0, &s->op);
}

/* ---- RESIZE bilinear ---- */

/* XNNPACK flags for the IR coordinate mode; false when there is none. */
static bool resize_flags(const av_nn__resize_params *p, int64_t oh, int64_t ow, uint32_t *flags)
{
    switch (p->coord) {
    case AV_NN_COORD_ASYMMETRIC:
        *flags = XNN_FLAG_TENSORFLOW_LEGACY_MODE; /* src = dst * in/out */
        return true;
    case AV_NN_COORD_ALIGN_CORNERS:
        *flags = XNN_FLAG_ALIGN_CORNERS;
        return true;
    case AV_NN_COORD_HALF_PIXEL:
        *flags = 0;
        return true;
    case AV_NN_COORD_PYTORCH_HALF_PIXEL:
        /* differs from half_pixel only for an output length of 1 */
        *flags = 0;
        return oh > 1 && ow > 1;
    default:
        return false;
    }
}

static bool resize_supports(const av_nn__graph *g, const av_nn__node *n)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    const av_nn__resize_params *p = &n->p.resize;
    uint32_t flags;
    if (!x || !y || p->mode != AV_NN_RESIZE_BILINEAR || x->rank != 4 || y->rank != 4 ||
        av_nn__xnn_numel(x) < 0 || av_nn__xnn_numel(y) < 0 || x->dims[0] != y->dims[0] ||
        x->dims[3] != y->dims[3] || x->dtype != y->dtype)
        return false;
    for (int i = 1; i < n->n_in; i++)
        if (n->in[i] >= 0 && !g->tensors[n->in[i]].data)
            return false; /* size decided at run time */
    /* ONNX scales without sizes: the reference samples at 1/scale, XNNPACK at
     * in/out; the same only when the scale maps the size exactly */
    const av_nn__tensor *sc = av_nn__xnn_in(g, n, 2);
    if (sc && !av_nn__xnn_in(g, n, 1)) {
        int64_t k = av_nn__xnn_numel(sc) == 4 ? 1 : 0;
        const float *sv = sc->data;
        if (sc->dtype != AV_NN_F32 || av_nn__xnn_numel(sc) < k + 2 ||
            (double)sv[k] * x->dims[1] != (double)y->dims[1] ||
            (double)sv[k + 1] * x->dims[2] != (double)y->dims[2])
            return false;
    }
    if (!resize_flags(p, y->dims[1], y->dims[2], &flags))
        return false;
    /* XNNPACK keeps sizes in 24-bit-exact float arithmetic */
    if (x->dims[1] >= (1 << 24) || x->dims[2] >= (1 << 24) || y->dims[1] >= (1 << 24) ||
        y->dims[2] >= (1 << 24))
        return false;
    if (x->dtype == AV_NN_F32)
        return true;
    if (x->dtype != AV_NN_U8 && x->dtype != AV_NN_I8)
        return false;
    return av_nn__xnn_same_quant(x, y); /* interpolates the stored integers */
}

static enum xnn_status setup_resize_f32(av_nn__xnn_node *s, const void *const *in,
                                        void *const *out, pthreadpool_t pool)
{
    return xnn_setup_resize_bilinear2d_nhwc_f32(s->op, s->batch, s->in_h, s->in_w, s->out_h,
                                                s->out_w, in[0], out[0], pool);
}

static enum xnn_status setup_resize_u8(av_nn__xnn_node *s, const void *const *in,
                                       void *const *out, pthreadpool_t pool)
{
    return xnn_setup_resize_bilinear2d_nhwc_u8(s->op, s->batch, s->in_h, s->in_w, s->out_h,
                                               s->out_w, in[0], out[0], pool);
}

static enum xnn_status setup_resize_s8(av_nn__xnn_node *s, const void *const *in,
                                       void *const *out, pthreadpool_t pool)
{
    return xnn_setup_resize_bilinear2d_nhwc_s8(s->op, s->batch, s->in_h, s->in_w, s->out_h,
                                               s->out_w, in[0], out[0], pool);
}

static enum xnn_status resize_create(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s)
{
    const av_nn__tensor *x = av_nn__xnn_in(g, n, 0), *y = av_nn__xnn_out(g, n, 0);
    uint32_t flags = 0;
    resize_flags(&n->p.resize, y->dims[1], y->dims[2], &flags);
    size_t c = (size_t)x->dims[3];
    s->batch = (size_t)x->dims[0], s->in_h = (size_t)x->dims[1], s->in_w = (size_t)x->dims[2];
    s->out_h = (size_t)y->dims[1], s->out_w = (size_t)y->dims[2];
    s->what = "resize_bilinear2d_nhwc";
    if (x->dtype == AV_NN_F32) {
        s->setup = setup_resize_f32;
        return xnn_create_resize_bilinear2d_nhwc_f32(c, c, c, flags, &s->op);
    }
    if (x->dtype == AV_NN_U8) {
        s->setup = setup_resize_u8;
        return xnn_create_resize_bilinear2d_nhwc_u8(c, c, c, flags, &s->op);
    }
    s->setup = setup_resize_s8;
    return xnn_create_resize_bilinear2d_nhwc_s8(c, c, c, flags, &s->op);
}

/* ---- family entry points ---- */

bool av_nn__xnn_pool_supports(const av_nn__graph *g, const av_nn__node *n)
{
    switch (n->op) {
    case AV_NN_OP_MAX_POOL2D:
        return n->p.pool.peak ? av_nn__xnn_peak_supports(g, n) : pool_supports(g, n);
    case AV_NN_OP_AVG_POOL2D:
        return pool_supports(g, n);
    case AV_NN_OP_REDUCE:
        return mean_supports(g, n);
    case AV_NN_OP_RESIZE:
        return resize_supports(g, n);
    default:
        return false;
    }
}

av_nn_status av_nn__xnn_pool_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen)
{
    enum xnn_status st;
    if (n->op == AV_NN_OP_MAX_POOL2D && n->p.pool.peak) {
        av_nn__xnn_peak_prepare(s);
        return AV_NN_OK;
    }
    switch (n->op) {
    case AV_NN_OP_MAX_POOL2D:
    case AV_NN_OP_AVG_POOL2D:
        st = pool_create(g, n, s);
        break;
    case AV_NN_OP_REDUCE:
        st = mean_create(g, n, s);
        break;
    default:
        st = resize_create(g, n, s);
        break;
    }
    if (st != xnn_status_success)
        return av_nn__xnn_fail(err, errlen, n, s->what ? s->what : "create", st);
    return AV_NN_OK;
}
