/*
 * xnn_impl.h - internals of the XNNPACK backend (xnn.c and its op families
 * xnn_conv.c, xnn_pool.c, xnn_elem.c, xnn_data.c, xnn_concat.c, xnn_topk.c;
 * xnn_silu.c's kernel; our own convolutions xnn_gemm.c (f32), xnn_qgemm.c and
 * xnn_qdw.c (qu8); the fused depthwise + 1x1 pairs xnn_dwpw.c and
 * xnn_pwdw.c). Internal to src/nn.
 *
 * Each family offers supports(g, n): true only where XNNPACK computes exactly
 * what the IR node means (dtype, quantisation, shape and parameter limits,
 * including the ones XNNPACK asserts on instead of returning an error), and
 * prepare(g, n, s): create the operator(s) into s, packing constant weights.
 * xnn.c calls prepare only for nodes whose supports() said true.
 */
#ifndef AV_NN_XNN_IMPL_H
#define AV_NN_XNN_IMPL_H

#include "nn/backend.h"

#include <xnnpack.h>

typedef struct av_nn__xnn_node av_nn__xnn_node;
typedef struct av_nn__xnn_gemm av_nn__xnn_gemm; /* xnn_gemm.c: our f32 convolution */
typedef struct av_nn__xnn_wino av_nn__xnn_wino; /* xnn_wino.c: our Winograd 3x3 convolution */
typedef struct av_nn__xnn_qgemm av_nn__xnn_qgemm; /* xnn_qgemm.c: our qu8 convolution */
typedef struct av_nn__xnn_qdw av_nn__xnn_qdw;     /* xnn_qdw.c: our qu8 depthwise */
typedef struct av_nn__xnn_qsgemm av_nn__xnn_qsgemm; /* xnn_qsgemm.c: our int8 convolution */
typedef struct av_nn__xnn_dw av_nn__xnn_dw;     /* xnn_dw.c: our f32 depthwise */
typedef struct av_nn__xnn_dwpw av_nn__xnn_dwpw; /* xnn_dwpw.c: depthwise + 1x1 in bands */
typedef struct av_nn__xnn_sparse av_nn__xnn_sparse; /* xnn_sparse_head.c: at gathered pixels */
typedef struct av_nn__xnn_pwdw av_nn__xnn_pwdw; /* xnn_pwdw.c: 1x1 + strided depthwise */
typedef struct av_nn__xnn_stem av_nn__xnn_stem; /* xnn_stem.c: 3x3 stride-2 RGB stem */

/* Binds this run's data pointers to s->op (one xnn_setup_* call). */
typedef enum xnn_status (*av_nn__xnn_setup_fn)(av_nn__xnn_node *s, const void *const *in,
                                               void *const *out, pthreadpool_t pool);

/* Signature shared by every f32 "nc" elementwise setup (clamp, sigmoid, ...). */
typedef enum xnn_status (*av_nn__xnn_f32_nc_setup)(xnn_operator_t op, size_t batch,
                                                   const float *x, float *y,
                                                   pthreadpool_t pool);

/* An op XNNPACK lacks, run by our own kernel on the pool (xnn_data.c, xnn_concat.c). */
typedef void (*av_nn__xnn_kernel_fn)(const av_nn__graph *g, const av_nn__node *n,
                                     const void *const *in, void *const *out,
                                     pthreadpool_t pool);

/* Per-context state of one node: owns its operators. */
struct av_nn__xnn_node {
    av_nn__xnn_kernel_fn kernel; /* set instead of op for our own kernels */
    av_nn__xnn_gemm *gemm;      /* set instead of op: our f32 convolution (xnn_gemm.c) */
    av_nn__xnn_wino *wino;      /* set instead of op: our Winograd 3x3 convolution */
    av_nn__xnn_qgemm *qgemm;    /* set instead of op: our qu8 convolution (xnn_qgemm.c) */
    av_nn__xnn_qdw *qdw;        /* set instead of op: our qu8 depthwise (xnn_qdw.c) */
    xnn_operator_t op;          /* main operator */
    av_nn__xnn_setup_fn setup;  /* binds in/out pointers to op */
    const char *what;           /* XNNPACK operator family, for error messages */
    /* An optional f32 elementwise operator run in place on out[0] after op:
     * fused LEAKY/SIGMOID activations, or a clamp for ops without bounds. */
    xnn_operator_t post;
    av_nn__xnn_f32_nc_setup post_setup;
    size_t post_n;              /* elements of out[0] */
    bool post_silu;             /* a fused SILU act: av_nn__xnn_silu in place on out[0] */
    bool post_hswish;           /* a fused HARDSWISH act: av_nn__xnn_hswish, scale post_alpha */
    float post_alpha;
    av_nn__xnn_qsgemm *qsgemm;  /* set instead of op: our int8 convolution (xnn_qsgemm.c) */
    int8_t *post_lut;           /* 256 bytes: an int8 conv's fused leaky relu, in place
                                 * on out[0]'s post_n bytes (xnn_qlut.c) */
    av_nn__xnn_dw *dw;          /* set instead of op: our f32 depthwise (xnn_dw.c) */
    av_nn__xnn_dwpw *dwpw;      /* set instead of op: depthwise + 1x1 in bands (xnn_dwpw.c) */
    av_nn__xnn_pwdw *pwdw;      /* set instead of op: 1x1 + strided depthwise (xnn_pwdw.c) */
    av_nn__xnn_stem *stem;      /* set instead of op: the 3x3 stride-2 RGB stem (xnn_stem.c) */
    av_nn__xnn_sparse *sparse;  /* set instead of op: SPARSE_HEAD (xnn_sparse_head.c) */
    /* Arguments of the setup call, filled by prepare. */
    size_t batch, in_h, in_w, out_h, out_w; /* spatial ops; "nc" ops use batch */
    uint32_t adj_h, adj_w;                  /* deconvolution output adjustment */
    int sel;                                /* family-specific: which setup variant */
    size_t rank_a, rank_b;                  /* nd ops (binary, pad) */
    size_t dims_a[XNN_MAX_TENSOR_DIMS], dims_b[XNN_MAX_TENSOR_DIMS];
    size_t pad_pre[XNN_MAX_TENSOR_DIMS], pad_post[XNN_MAX_TENSOR_DIMS];
    /* Padded copies of constant data inputs 0/1 that XNNPACK reads at run time
     * (it may read XNN_EXTRA_BYTES past the end; graph constants carry no
     * slack, the arena does). NULL when the input is an activation. */
    void *kcopy[2];
    /* Pointers of the last setup: a run with the same ones skips setup. */
    const void *last_in[2];
    void *last_out;
    int bound;                  /* 0 until the first successful setup */
};

/* ---- xnn.c: helpers shared by the families ---- */

/* Tensor n->in[i] / n->out[i], or NULL when absent. */
const av_nn__tensor *av_nn__xnn_in(const av_nn__graph *g, const av_nn__node *n, int i);
const av_nn__tensor *av_nn__xnn_out(const av_nn__graph *g, const av_nn__node *n, int i);

/* Elements of a tensor with known shape; -1 when unknown, empty or too big. */
int64_t av_nn__xnn_numel(const av_nn__tensor *t);

/* A convolution as our GEMM kernels (xnn_gemm.c, xnn_qgemm.c, xnn_qsgemm.c)
 * see it: NHWC input and output, filter [cout, kh, kw, cin]. */
typedef struct av_nn__xnn_geom {
    size_t batch, h, w, cin, oh, ow, cout, m; /* m = output pixels */
    int64_t kh, kw, sh, sw, dh, dw, pt, pl;
    size_t ks;                                /* taps: kh * kw */
    bool pointwise;                           /* 1x1, stride 1, no padding */
} av_nn__xnn_geom;

/* The geometry of conv node n, whose shapes the caller has checked. */
void av_nn__xnn_conv_geom(const av_nn__graph *g, const av_nn__node *n, av_nn__xnn_geom *q);

/* Per-tensor quantised u8/i8 tensor with a usable scale and zero point. */
bool av_nn__xnn_qtensor(const av_nn__tensor *t, av_nn_dtype dt);
/* Same scale and zero point (element values carry over unchanged). */
bool av_nn__xnn_same_quant(const av_nn__tensor *a, const av_nn__tensor *b);

/* Real output bounds of a fused activation that XNNPACK applies through
 * output_min/max; false for the others (LEAKY, SIGMOID, TANH). */
bool av_nn__xnn_act_bounds(const av_nn__fused_act *a, float *lo, float *hi);

/* Quantised output bounds of a fused activation on tensor t (u8/i8), the way
 * TFLite computes them (round half away from zero, clamp to the dtype);
 * false when the act cannot be expressed as bounds or the range is empty. */
bool av_nn__xnn_qbounds(const av_nn__fused_act *a, const av_nn__tensor *t, int32_t *lo,
                        int32_t *hi);

/* Fused activations supported on f32 outputs: bounds, or a post op. */
bool av_nn__xnn_act_ok_f32(const av_nn__fused_act *a);

/* Create s->post for a fused LEAKY/SIGMOID act (or clamp to [lo,hi] when
 * force_clamp) over n_out elements, or set s->post_silu for SILU; no-op for
 * acts XNNPACK fuses itself. */
enum xnn_status av_nn__xnn_make_post(av_nn__xnn_node *s, const av_nn__fused_act *a,
                                     bool force_clamp, size_t n_out);

/* f32 copy of a constant f32/f16 tensor: *buf is NULL when t is f32 already
 * (use t->data), else a malloc'd buffer the caller frees. Returns the data
 * pointer to use, or NULL on OOM. */
const float *av_nn__xnn_f32_data(const av_nn__tensor *t, float **buf);

/* "node 'x' (op): <what> failed: <xnn status>" as AV_NN_E_BACKEND. */
av_nn_status av_nn__xnn_fail(char *err, size_t errlen, const av_nn__node *n, const char *what,
                             enum xnn_status st);

/* ---- xnn_silu.c ---- */

/* y = x * sigmoid(x) over n floats (y may be x), split across pool, with the
 * fastest kernel this CPU has. */
void av_nn__xnn_silu(const float *x, float *y, size_t n, pthreadpool_t pool);

/* The same with one given kernel (tests): 0 portable, 1 AVX2+FMA, 2 AVX-512F;
 * false, computing nothing, where this CPU or build lacks it. */
bool av_nn__xnn_silu_with(int kernel, const float *x, float *y, size_t n, pthreadpool_t pool);

/* y = x * sigmoid(x) in place over n floats on the calling thread (rows of a
 * convolution's output tile, xnn_gemm.c). */
void av_nn__xnn_silu_span(float *y, size_t n);
/* The same for sigmoid(x) (AVX2+FMA where the CPU has it, else 4-wide portable). */
void av_nn__xnn_sigmoid_span(float *y, size_t n);
/* The sigmoid span is not monotone to the last bit (rcp + Newton, the exp
 * polynomial): s(x') > s(x) happens for x' < x, but only within 3.8e-7 of
 * x (AVX2+FMA; 1.8e-7 portable), all at |x| < 2. With this margin, every
 * x' <= x - margin (float) has s(x') <= s(x): t_nn_sigmoid_peak.c checks
 * it over every float for both kernels. xnn_peaktopk.c skips by it. */
#define AV_NN__SIGMOID_MARGIN 0x1p-20f
/* And strictly increasing at this scale inside [LO, HI] (not where it
 * saturates): for x there, every x' <= x - GAP (float) has s(x') < s(x),
 * also checked over every float. A logit that far below its window's max
 * is no peak, its sigmoid unneeded (xnn_peaktopk.c). */
#define AV_NN__SIGMOID_GAP 0x1p-10f
#define AV_NN__SIGMOID_STRICT_LO -80.0f
#define AV_NN__SIGMOID_STRICT_HI 8.0f
/* UNARY SIGMOID with p.unary.as_act (a conv's act split off, pass_peaktopk.c):
 * av_nn__xnn_sigmoid_span over chunks, on the pool. */
bool av_nn__xnn_sigact_supports(const av_nn__graph *g, const av_nn__node *n);
void av_nn__xnn_sigact_prepare(av_nn__xnn_node *s);

/* ---- xnn_share.c: packed weights shared by the contexts of a model ---- */

/* What a packed buffer is made from and how; equal keys give equal bytes. */
typedef struct av_nn__xnn_pack_key {
    int kind;              /* the packing: AV_NN__XNN_PACK_* */
    const void *w, *b;     /* the graph constants read (b: NULL if not packed in) */
    size_t cin, cout, kh, kw;
    size_t bytes;          /* of the packed buffer */
} av_nn__xnn_pack_key;
enum { AV_NN__XNN_PACK_GEMM = AV_NN__PACK_GEMM, AV_NN__XNN_PACK_WINO = 2 };
/* Writes the packed weights into dst (zeroed, key->bytes). */
typedef void (*av_nn__xnn_pack_fill)(float *dst, const void *ctx);
/* The shared buffer for key (64-byte aligned), filled by fill(dst, ctx) if
 * no context holds one yet; NULL when out of memory. Release with _put. */
float *av_nn__xnn_pack_get(const av_nn__xnn_pack_key *key, av_nn__xnn_pack_fill fill,
                           const void *ctx);
/* The shared buffer for key, held once more; NULL when none (never packs). */
float *av_nn__xnn_pack_find(const av_nn__xnn_pack_key *key);
/* Buffers held now (tests); *refs (if not NULL) receives the holds in all. */
size_t av_nn__xnn_pack_live(size_t *refs);

/* ---- xnn_gemm.c: f32 CONV2D (groups 1) by our AVX2+FMA indirect GEMM ---- */

/* This CPU runs our kernel rather than XNNPACK's (AVX2+FMA, no AVX-512F, not
 * turned off by AV_NN_XNN_GEMM=0 or AV_NN_NO_AVX2). */
bool av_nn__xnn_gemm_available(void);
/* Tests: act as a CPU where XNNPACK's convolution runs (prepared nodes keep theirs). */
void av_nn__xnn_gemm_force_off(bool on);
bool av_nn__xnn_gemm_supports(const av_nn__graph *g, const av_nn__node *n);
/* Packs the weights into s->gemm. */
av_nn_status av_nn__xnn_gemm_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen);
void av_nn__xnn_gemm_run(const av_nn__xnn_gemm *k, const float *x, float *y, pthreadpool_t pool);
/* The same with the residual r (laid out as y; NULL when the node has none). */
void av_nn__xnn_gemm_run_res(const av_nn__xnn_gemm *k, const float *x, const float *r, float *y,
                             pthreadpool_t pool);
void av_nn__xnn_gemm_free(av_nn__xnn_gemm *k);
/* A pointwise k over npix pixels of x (rows of cin) into y, residual r
 * (NULL: none), on the calling thread (xnn_dwpw.c's bands). */
void av_nn__xnn_gemm_span(const av_nn__xnn_gemm *k, const float *x, const float *r, float *y,
                          size_t npix);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* The 6x16 AVX2+FMA kernel alone (only where av_nn__xnn_gemm_available()):
 * C[mr rows, nc cols] (row stride cs) = w's NR biases + the sum over k < kc of
 * a[i][k] * w, w packed as xnn_gemm.c packs one tap; a holds MR row pointers
 * (rows >= mr repeat valid ones, never stored). */
/* The high-resolution front's fast paths (CenterNet's 256x256x16 layers and
 * its other few-channel pointwise convs: xnn_gemm.c's pwk_blocks and ReLU
 * clamp, xnn_stem.c's step loop), read at prepare: the same bits either way.
 * Off: AV_NN_FUSE_FRONT=0 or av_nn__front_force_off (tests). */
bool av_nn__xnn_front_on(void);
void av_nn__front_force_off(bool on);
void av_nn__xnn_gemm_tile(size_t mr, size_t nc, size_t kc, const float *const *a,
                          const float *w, float *c, size_t cs);
/* y = y >= 0 ? y : alpha * y in place over n floats (AVX2). */
void av_nn__xnn_leaky_span(float *y, size_t n, float alpha);
/* A fused activation our kernels apply after their clamp, over n floats in
 * place: LEAKY (alpha), SIGMOID, HARDSWISH (alpha), SILU; others: nothing. */
void av_nn__xnn_post_span(av_nn__act act, float alpha, float *y, size_t n);
#endif

/* ---- xnn_wino.c: f32 3x3 stride-1 CONV2D by Winograd F(4x4, 3x3) ---- */

/* This node runs on our Winograd kernel (a CONV2D our GEMM takes, 3x3,
 * stride 1, no dilation, with enough pixels and channels to pay; not turned
 * off by AV_NN_XNN_WINO=0 or av_nn__xnn_wino_force_off). */
bool av_nn__xnn_wino_supports(const av_nn__graph *g, const av_nn__node *n);
/* Tests: leave every 3x3 convolution to the GEMM (prepared nodes keep theirs). */
void av_nn__xnn_wino_force_off(bool on);
/* Transforms and packs the weights into s->wino. */
av_nn_status av_nn__xnn_wino_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen);
/* false: out of memory for the per-run scratch (nothing written). */
bool av_nn__xnn_wino_run(const av_nn__xnn_wino *k, const float *x, float *y,
                         pthreadpool_t pool);
void av_nn__xnn_wino_free(av_nn__xnn_wino *k);

/* ---- xnn_qgemm.c: qu8 CONV2D (groups 1, per-tensor) by our AVX2 GEMM ---- */

/* This CPU runs our kernel rather than XNNPACK's (AVX2, no AVX-512F, not
 * turned off by AV_NN_XNN_QGEMM=0 or AV_NN_NO_AVX2). */
bool av_nn__xnn_qgemm_available(void);
/* Tests: act as a CPU where XNNPACK's convolution runs (prepared nodes keep theirs). */
void av_nn__xnn_qgemm_force_off(bool on);
/* Most kernel taps (kh * kw) the own qu8 convolution and depthwise take. */
#define AV_NN__XNN_QMAX_TAPS 64
/* The requantisation scale as XNNPACK computes it (float arithmetic). */
float av_nn__xnn_qreq_scale(const av_nn__tensor *x, const av_nn__tensor *w,
                            const av_nn__tensor *y);
/* What the own qu8 convolution and depthwise both need of node n: per-tensor
 * qu8 x, w (constant) and y of rank 4, non-empty, an optional i32 bias of y's
 * channels, at most AV_NN__XNN_QMAX_TAPS taps, positive strides and dilations,
 * leading pads >= 0, and a requantisation scale and clamp XNNPACK's qu8 takes. */
bool av_nn__xnn_qconv_common_ok(const av_nn__graph *g, const av_nn__node *n);
/* Whether the fp32 requantisation of sums no larger than most in magnitude,
 * with this scale and output clamp [lo, hi], gives the same bytes without
 * its clamps: lo 0 and hi 255 (the saturating packs clamp) and
 * most * scale < 2^30 (the float-to-int conversion cannot overflow, so the
 * min with hi - yz before it changes nothing the packs would not). */
bool av_nn__xnn_req_plain_ok(double most, float scale, int32_t lo, int32_t hi);
/* Tests: no clamp-free requantisation for the nodes prepared from now on
 * (AV_NN_XNN_QPLAIN=0 turns it off too). */
void av_nn__xnn_qplain_force_off(bool off);
/* Tests: the own convolution's path named by its off variable (AV_NN_XNN_QSTEM,
 * _QPLAIN, _QHALF, _QFEW) off or back on for the nodes prepared from now on,
 * as that variable set to "0" does for the whole process; false for another name. */
bool av_nn__xnn_qpath_force_off(const char *env, bool off);
/* Whether k requantises without the clamps. */
bool av_nn__xnn_qgemm_uses_plain(const av_nn__xnn_qgemm *k);
bool av_nn__xnn_qgemm_supports(const av_nn__graph *g, const av_nn__node *n);
/* Packs the weights into s->qgemm. */
av_nn_status av_nn__xnn_qgemm_prepare(const av_nn__graph *g, const av_nn__node *n,
                                      av_nn__xnn_node *s, char *err, size_t errlen);
/* Bit-identical to XNNPACK's qu8 convolution of the same node. */
void av_nn__xnn_qgemm_run(const av_nn__xnn_qgemm *k, const uint8_t *x, uint8_t *y,
                          pthreadpool_t pool);
void av_nn__xnn_qgemm_free(av_nn__xnn_qgemm *k);
/* Bytes of packed weights and biases k holds (tests: no bigger than the
 * graph's uint8 filter and int32 bias, up to the tile and pair padding,
 * where K = taps * cin > _WIDE_KMAX and cout > _WIDE_COUT; int16 else). */
#define AV_NN__XNN_QGEMM_WIDE_KMAX 64
#define AV_NN__XNN_QGEMM_WIDE_COUT 32
size_t av_nn__xnn_qgemm_packed_bytes(const av_nn__xnn_qgemm *k);

/* ---- xnn_qdw.c: qu8 DEPTHWISE_CONV2D (multiplier 1, per-tensor), AVX2 ----
 * On where av_nn__xnn_qgemm_available() is; bit-identical to XNNPACK's. */
bool av_nn__xnn_qdw_supports(const av_nn__graph *g, const av_nn__node *n);
av_nn_status av_nn__xnn_qdw_prepare(const av_nn__graph *g, const av_nn__node *n,
                                    av_nn__xnn_node *s, char *err, size_t errlen);
void av_nn__xnn_qdw_run(const av_nn__xnn_qdw *k, const uint8_t *x, uint8_t *y,
                        pthreadpool_t pool);
void av_nn__xnn_qdw_free(av_nn__xnn_qdw *k);
/* The 3x3 (dilation 1) layers' column kernel (xnn_qdw.c) off or on for
 * the depthwise nodes prepared from now on (tests and benchmarks compare
 * it with the general one; AV_NN_XNN_QDW3=0 turns it off too). */
void av_nn__xnn_qdw3_force_off(bool off);
/* Whether k runs the 3x3 column kernel. */
bool av_nn__xnn_qdw_uses3(const av_nn__xnn_qdw *k);
/* The 3x3 (dilation 1, stride 1 or 2) layers' streaming kernel off or on
 * for the nodes prepared from now on (AV_NN_XNN_QDWS=0 turns it off too;
 * off, the column or general kernel runs them). */
void av_nn__xnn_qdws_force_off(bool off);
/* Whether k runs the 3x3 streaming kernel. */
bool av_nn__xnn_qdw_uses_stream(const av_nn__xnn_qdw *k);
/* Whether k runs the streaming kernel requantising without the clamps. */
bool av_nn__xnn_qdw_uses_plain(const av_nn__xnn_qdw *k);

/* ---- xnn_dw.c: f32 DEPTHWISE_CONV2D (multiplier 1) by our AVX2+FMA kernel ---- */

/* Same gate as the convolution's; AV_NN_XNN_DW=0 turns it off. */
bool av_nn__xnn_dw_available(void);
/* Tests: act as a CPU where XNNPACK's depthwise runs (prepared nodes keep theirs). */
void av_nn__xnn_dw_force_off(bool on);
bool av_nn__xnn_dw_supports(const av_nn__graph *g, const av_nn__node *n);
av_nn_status av_nn__xnn_dw_prepare(const av_nn__graph *g, const av_nn__node *n,
                                   av_nn__xnn_node *s, char *err, size_t errlen);
void av_nn__xnn_dw_run(const av_nn__xnn_dw *k, const float *x, float *y, pthreadpool_t pool);
void av_nn__xnn_dw_free(av_nn__xnn_dw *k);
/* Output rows [row0, row0 + n) (image-major) into y (row0's first), on the
 * calling thread (xnn_dwpw.c's bands). */
void av_nn__xnn_dw_rows(const av_nn__xnn_dw *k, const float *x, float *y, size_t row0,
                        size_t n);
/* As av_nn__xnn_dw_takes, the images of the output aside: a node run
 * row by row through av_nn__xnn_dw_row_from (xnn_pwdw.c). */
bool av_nn__xnn_dw_takes_rows(const av_nn__graph *g, const av_nn__node *n);
/* Output row oy of one image into yr, from rows: that image's input rows
 * from row base on (xnn_pwdw.c's window); *lo, *hi: the input rows
 * [lo, hi) output row oy reads. */
void av_nn__xnn_dw_row_from(const av_nn__xnn_dw *k, const float *rows, size_t base, float *yr,
                            size_t oy);
void av_nn__xnn_dw_window(const av_nn__xnn_dw *k, size_t oy, size_t *lo, size_t *hi);
/* Floats of one output row; *rows receives the rows of all images. */
size_t av_nn__xnn_dw_row_floats(const av_nn__xnn_dw *k, size_t *rows);
/* A copy of k with packed weights of its own (NULL: out of memory), for
 * av_nn__xnn_dw_scale_from; free with av_nn__xnn_dw_free. */
av_nn__xnn_dw *av_nn__xnn_dw_clone(const av_nn__xnn_dw *k);
/* dst's taps = src's times s[c] per channel (s: c floats), biases src's:
 * the depthwise of x * s (a fused squeeze-excite multiply, xnn_dwpw.c). */
void av_nn__xnn_dw_scale_from(av_nn__xnn_dw *dst, const av_nn__xnn_dw *src, const float *s);

/* A depthwise that took a squeeze-excite scale (in[6] of a fused conv or a
 * sparse head): copy i holds its taps times image i's scale, one copy when
 * the scale has one image, none without a scale (av_nn__xnn_dw_se_pick then
 * gives the depthwise itself). */
typedef struct av_nn__xnn_dw_se {
    av_nn__xnn_dw **copy;
    size_t n;
} av_nn__xnn_dw_se;
/* Copies of dw for scale (NULL: none) over `images` images. 0, or -1 out of
 * memory (what was made is freed). Free with av_nn__xnn_dw_se_free. */
int av_nn__xnn_dw_se_init(av_nn__xnn_dw_se *s, const av_nn__xnn_dw *dw,
                          const av_nn__tensor *scale, size_t images);
/* Per run: each copy's taps = dw's times its image's scale (sc: n x c floats;
 * NULL: no scale this run). */
void av_nn__xnn_dw_se_scale(const av_nn__xnn_dw_se *s, const av_nn__xnn_dw *dw, const float *sc);
/* The taps image img runs with. */
const av_nn__xnn_dw *av_nn__xnn_dw_se_pick(const av_nn__xnn_dw_se *s, const av_nn__xnn_dw *dw,
                                           size_t img);
void av_nn__xnn_dw_se_free(av_nn__xnn_dw_se *s);

/* ---- xnn_pwdw.c: a strided depthwise that took its 1x1 conv (p.conv.pw_on) ---- */

bool av_nn__xnn_pwdw_supports(const av_nn__graph *g, const av_nn__node *n);
av_nn_status av_nn__xnn_pwdw_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen);
/* false: out of memory for the windows' scratch. */
bool av_nn__xnn_pwdw_run(const av_nn__xnn_pwdw *k, const float *x, float *y, pthreadpool_t pool);
void av_nn__xnn_pwdw_free(av_nn__xnn_pwdw *k);

/* ---- xnn_stem.c: f32 3x3 stride-2 CONV2D of 3 channels (the RGB stem) ---- */

/* Where our GEMM takes n (av_nn__xnn_gemm_supports), no residual or fused
 * depthwise, 3 input channels, 3x3, stride 2, pads of at most 2 before;
 * off by AV_NN_XNN_STEM=0 or av_nn__xnn_stem_force_off. Bit-identical to the GEMM. */
bool av_nn__xnn_stem_supports(const av_nn__graph *g, const av_nn__node *n);
void av_nn__xnn_stem_force_off(bool on);
av_nn_status av_nn__xnn_stem_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen);
void av_nn__xnn_stem_run(const av_nn__xnn_stem *k, const float *x, float *y, pthreadpool_t pool);
void av_nn__xnn_stem_free(av_nn__xnn_stem *k);

/* ---- xnn_dwpw.c: a 1x1 conv that took its depthwise (p.conv.dw_on), in bands ---- */

/* Our depthwise takes the fused depthwise and the conv is 1x1, stride 1,
 * unpadded (the rest: av_nn__xnn_gemm_supports; xnn_conv.c asks both). */
bool av_nn__xnn_dwpw_supports(const av_nn__graph *g, const av_nn__node *n);
av_nn_status av_nn__xnn_dwpw_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen);
/* r: the residual (NULL: none); sc: the fused squeeze-excite scale (in[6],
 * NULL: none). false: out of memory for the bands' scratch. */
bool av_nn__xnn_dwpw_run(const av_nn__xnn_dwpw *k, const float *x, const float *r,
                         const float *sc, float *y, pthreadpool_t pool);
void av_nn__xnn_dwpw_free(av_nn__xnn_dwpw *k);

/* ---- xnn_sparse_head.c: SPARSE_HEAD, the dw + 1x1 at gathered pixels ---- */

/* Our depthwise and GEMM take its two parts, with register activations. */
bool av_nn__xnn_sparse_supports(const av_nn__graph *g, const av_nn__node *n);
av_nn_status av_nn__xnn_sparse_prepare(const av_nn__graph *g, const av_nn__node *n,
                                       av_nn__xnn_node *s, char *err, size_t errlen);
/* x the conv's input, idx the indices (dtype it), sc the scale (in[6],
 * NULL: none), y the rows; an index out of range fails (AV_NN_E_ARG) with
 * y partly written. On the calling thread: 100 pixels are microseconds. */
av_nn_status av_nn__xnn_sparse_run(av_nn__xnn_sparse *k, const av_nn__node *n, const float *x,
                                   const void *idx, av_nn_dtype it, const float *sc, float *y,
                                   char *err, size_t errlen);
void av_nn__xnn_sparse_free(av_nn__xnn_sparse *k);

/* ---- xnn_s2d.c: the fused space-to-depth stem's rank-6 transpose (pass_focus.c) ---- */

/* Runs transpose node n (x to y) when it is that transpose of 4-byte elements
 * and the kernel is on; false (nothing written) otherwise. */
bool av_nn__xnn_s2d(const av_nn__graph *g, const av_nn__node *n, const void *x, void *y,
                    pthreadpool_t pool);
/* Tests: leave it to the strided copy (AV_NN_XNN_S2D=0 does too). */
void av_nn__xnn_s2d_force_off(bool on);

/* y = x * relu6(x + 3) * alpha (alpha 0: 1/6) in place over n floats, split across pool. */
void av_nn__xnn_hswish(float *y, size_t n, float alpha, pthreadpool_t pool);
/* The same on the calling thread (rows of a convolution's output tile). */
void av_nn__xnn_hswish_span(float *y, size_t n, float alpha);

/* ---- xnn_qsgemm.c: int8 CONV2D (groups 1; per-tensor activations, symmetric
 * per-channel or per-tensor weights; clamp or leaky relu) by our AVX2 GEMM ---- */

/* Where av_nn__xnn_qgemm_available() is, K = taps * cin <= 4096, taps <=
 * AV_NN__XNN_QMAX_TAPS; off while forced off (tests: XNNPACK's qc8 instead). */
bool av_nn__xnn_qsgemm_supports(const av_nn__graph *g, const av_nn__node *n);
void av_nn__xnn_qsgemm_force_off(bool on);
av_nn_status av_nn__xnn_qsgemm_prepare(const av_nn__graph *g, const av_nn__node *n,
                                       av_nn__xnn_node *s, char *err, size_t errlen);
void av_nn__xnn_qsgemm_run(const av_nn__xnn_qsgemm *k, const int8_t *x, int8_t *y,
                           pthreadpool_t pool);
void av_nn__xnn_qsgemm_free(av_nn__xnn_qsgemm *k);

/* ---- xnn_qlut.c: leaky relu on int8 convolution outputs ---- */

/* An int8 conv's fused act a on output y that the table below computes:
 * leaky relu with 0 < alpha < 1 on a per-tensor int8 y. */
bool av_nn__xnn_qleaky_ok(const av_nn__fused_act *a, const av_nn__tensor *y);
/* int8 parameters of the pre-activation: y's range with its negative end
 * divided by alpha. */
void av_nn__xnn_qleaky_pre(const av_nn__fused_act *a, const av_nn__tensor *y, float *scale,
                           int32_t *zp);
/* lut[q + 128]: y's int8 of leaky(pscale * (q - pzp)), rounded half away from zero. */
void av_nn__xnn_qleaky_table(const av_nn__fused_act *a, const av_nn__tensor *y, float pscale,
                             int32_t pzp, int8_t lut[256]);
/* y[i] = lut[y[i] + 128] over n bytes, split across pool. */
void av_nn__xnn_lut_s8(const int8_t *lut, int8_t *y, size_t n, pthreadpool_t pool);

/* ---- families ---- */

bool av_nn__xnn_conv_supports(const av_nn__graph *g, const av_nn__node *n);
av_nn_status av_nn__xnn_conv_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen);

bool av_nn__xnn_pool_supports(const av_nn__graph *g, const av_nn__node *n);
av_nn_status av_nn__xnn_pool_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen);

bool av_nn__xnn_elem_supports(const av_nn__graph *g, const av_nn__node *n);
av_nn_status av_nn__xnn_elem_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen);

bool av_nn__xnn_data_supports(const av_nn__graph *g, const av_nn__node *n);
av_nn_status av_nn__xnn_data_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen);

/* xnn_topk.c: f32 top-k along contiguous rows, k <= 256, on the pool */
bool av_nn__xnn_topk_supports(const av_nn__graph *g, const av_nn__node *n);
av_nn_status av_nn__xnn_topk_prepare(const av_nn__graph *g, const av_nn__node *n,
                                     av_nn__xnn_node *s, char *err, size_t errlen);

/* xnn_topk.c's candidates and heap, shared with xnn_peaktopk.c: ordered as
 * the reference (value, NaN largest, then lower index first). */
typedef struct av_nn__topk_cand {
    float v;
    int64_t i;
} av_nn__topk_cand;
#define AV_NN__TOPK_TASKS 8
/* Keeps e if it is among the best k offered to the heap h (*nh kept, the
 * worst at h[0]); offered in increasing index order, ties stay out. */
void av_nn__topk_offer(av_nn__topk_cand *h, int64_t *nh, int64_t k, av_nn__topk_cand e,
                       bool largest);
/* Packs the tasks' heaps (counts[t] each) into heaps[0] and sorts them best
 * first; returns how many. */
size_t av_nn__topk_merge(av_nn__topk_cand (*heaps)[AV_NN__TOPK_MAX_K], const int64_t *counts,
                         int64_t tasks, bool largest);

/* xnn_peaktopk.c: TOPK with p.topk.peak (the peak mask fused in), own kernel */
bool av_nn__xnn_peaktopk_supports(const av_nn__graph *g, const av_nn__node *n);
void av_nn__xnn_peaktopk_prepare(const av_nn__node *n, av_nn__xnn_node *s);

/* xnn_peak.c: MAX_POOL2D with p.pool.peak (the fused peak mask), our own kernel */
bool av_nn__xnn_peak_supports(const av_nn__graph *g, const av_nn__node *n);
void av_nn__xnn_peak_prepare(av_nn__xnn_node *s);

/* xnn_quant.c: per-tensor int8 QUANTIZE / DEQUANTIZE (convert operators) */
bool av_nn__xnn_quant_supports(const av_nn__graph *g, const av_nn__node *n);
av_nn_status av_nn__xnn_quant_prepare(const av_nn__graph *g, const av_nn__node *n,
                                      av_nn__xnn_node *s, char *err, size_t errlen);

#endif
