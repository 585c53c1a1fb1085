/*
 * core.h - engine-core internals shared inside src/nn (not a public header):
 * shape inference (shape.c), the arena planner (plan.c), the model object
 * shared by nn.c and runtime.c, and small element helpers used by the
 * reference kernels (ref_*.c).
 */
#ifndef AV_NN_CORE_H
#define AV_NN_CORE_H

#include "nn/backend.h"
#include "nn/ir/ir.h"

#include <pthread.h>

/* ---- shape.c ---- */

/*
 * Infer the output shapes/dtypes of node n from its inputs (whose shapes
 * must be known) and resolve parameters given by constant inputs (reshape
 * target, pads, slice, split sizes, topk k, resize size, transpose perm,
 * reduce axes). Writes n->p and the output tensors. Errors name the node.
 */
av_nn_status av_nn__infer_node(av_nn__graph *g, av_nn__node *n, char *err, size_t errlen);

/* Normalise axis a against rank r (negative counts from the end); -1 when out of range. */
int av_nn__norm_axis(int a, int r);

/* ---- xnn/xnn_silu.c, read by the fusion pass ---- */

/*
 * True when this CPU has a vector SiLU kernel (AVX2+FMA or AVX-512F) that
 * beats XNNPACK's sigmoid + multiply; the portable kernel is about 4x slower
 * than that pair, so without one the pass keeps SiLU as two nodes. False also
 * with AV_NN_NO_AVX2 set in the environment or after
 * av_nn__silu_force_portable(true).
 */
bool av_nn__silu_fusion_pays(void);

/* Tests: act as a CPU without AVX2 (portable SiLU kernel, no fusion) when on. */
void av_nn__silu_force_portable(bool on);

/* ---- pass_fuse.c, and its kernels' gates in xnn/xnn_peak.c ---- */

/* max_pool -> equal -> cast -> mul (CenterNet's peak mask) into mp: see
 * pass_fuse.c. True when it rewrote (the three followers are dead). */
bool av_nn__fuse_peak(av_nn__graph *g, av_nn__node *mp);

/* conv -> add(conv output, r) into the conv's residual input (in[3]): see
 * pass_fuse.c. True when it rewrote (the add is dead). */
bool av_nn__fuse_residual(av_nn__graph *g, av_nn__node *add);
/* The residual input (tensor id) of a CONV2D, -1 when it has none. */
av_nn__tid av_nn__conv_residual(const av_nn__graph *g, const av_nn__node *n);
/* True when our GEMM (xnn_gemm.c) runs convolutions with a residual input
 * here: AVX2+FMA, and neither AV_NN_FUSE_RESIDUAL=0 nor the GEMM's own
 * switches (AV_NN_XNN_GEMM=0, AV_NN_NO_AVX2) nor av_nn__residual_force_off. */
bool av_nn__residual_fusion_pays(void);
void av_nn__residual_force_off(bool on);

/* depthwise (stride 1, f32) -> 1x1 conv into the conv (p.conv.dw_on): see
 * pass_fuse.c. True when it rewrote (the depthwise is dead). */
bool av_nn__fuse_dwpw(av_nn__graph *g, av_nn__node *pw);
/* The depthwise a fused conv took, as a node of its own in *dw (its output
 * named as its input: the same shape and dtype); false when n has none. */
bool av_nn__dwpw_node(const av_nn__graph *g, const av_nn__node *n, av_nn__node *dw);
/* The same without the check, for any node carrying a depthwise the way a
 * fused conv does (in[4] its filter, in[5] its bias or -1, p.conv.dw_*):
 * the fused conv, and the sparse head that took one (pass_sparse_head.c). */
void av_nn__dwpw_dw_of(const av_nn__node *n, av_nn__node *dw);
/* Our f32 depthwise (xnn_dw.c) computes node n exactly and runs on this CPU
 * (its speed choice aside: fused, it runs every shape it takes). */
bool av_nn__xnn_dw_takes(const av_nn__graph *g, const av_nn__node *n);
/* On where our depthwise and GEMM run (AVX2+FMA) unless AV_NN_FUSE_DWPW=0
 * or av_nn__dwpw_force_off (tests). */
bool av_nn__dwpw_fusion_pays(void);
void av_nn__dwpw_force_off(bool on);
/* Fused only where the depthwise's output (per image) has at least this
 * many floats: smaller ones stay in L2 unfused and the bands cost more than
 * they save (measured on CenterNet, Zen 3). floats >= 0 sets it (tests:
 * 0, every size, and for the pointwise -> depthwise fusion every kernel
 * and stride too) and returns the old value; < 0 only returns it. */
#define AV_NN__DWPW_MIN_FLOATS (1 << 19)
int64_t av_nn__dwpw_min_floats(int64_t floats);

/* Bilinear resize (f32, NHWC, sizes constant) whose output only a concat
 * along channels reads, into the concat (p.axis.resized): the concat samples
 * the resize's input while copying. See pass_fuse.c. True when it rewrote
 * (the resize is dead). */
bool av_nn__fuse_resize_concat(av_nn__graph *g, av_nn__node *rs);
/* On unless AV_NN_FUSE_RESIZE_CONCAT=0 or av_nn__resize_concat_force_off. */
bool av_nn__resize_concat_fusion_pays(void);
void av_nn__resize_concat_force_off(bool on);
/* Dims (AV_NN_MAX_RANK) of concat n's part i into d: its input's, or for a
 * fused resize's input the resize's output's. false: no such input. */
bool av_nn__concat_part_dims(const av_nn__graph *g, const av_nn__node *n, int i, int64_t *d);

/* Source coordinate of output coordinate dst of a resize from in to out
 * pixels (scale in/out) under coordinate mode m (ref_data.c; xnn_concat.c's
 * fused resize shares it). */
double av_nn__resize_src_coord(av_nn__coord_mode m, int64_t dst, int64_t in, int64_t out,
                               double scale);

/* Squeeze-excite multiply y = x * s (s per image and channel) read only by
 * convs that took their depthwise (dw_on): s goes to those convs (in[6]),
 * which scale their depthwise's taps per run. See pass_fuse.c. True when
 * it rewrote (the multiply is dead). */
bool av_nn__fuse_se_dw(av_nn__graph *g, av_nn__node *mul);
/* The scale input of a dw_on conv (in[6]), or -1 when it has none. */
av_nn__tid av_nn__dwpw_scale(const av_nn__node *n);
/* On unless AV_NN_FUSE_SE_DW=0 or av_nn__se_dw_force_off (tests). */
bool av_nn__se_dw_fusion_pays(void);
void av_nn__se_dw_force_off(bool on);

/* 1x1 conv -> depthwise of stride >= 2 (f32) into the depthwise
 * (p.conv.pw_on): see pass_fuse.c. True when it rewrote (the conv is dead). */
bool av_nn__fuse_pwdw(av_nn__graph *g, av_nn__node *dw);
/* The two nodes a fused depthwise stands for: *pw the 1x1 conv (output
 * pre_pw), *dw the depthwise reading pre_pw. false when n has none. */
/* Chunks of output rows per image the fused depthwise runs in (xnn_pwdw.c). */
#define AV_NN__PWDW_CHUNKS 8
/* On where our depthwise and GEMM run unless AV_NN_FUSE_PWDW=0 or
 * av_nn__pwdw_force_off (tests). */
bool av_nn__pwdw_fusion_pays(void);
void av_nn__pwdw_force_off(bool on);
bool av_nn__pwdw_nodes(const av_nn__graph *g, const av_nn__node *n, av_nn__node *pw,
                       av_nn__node *dw);

/* concat -> clamp/relu (f32, the concat's output read by the clamp only)
 * into the concat's act: see pass_fuse.c. True when it rewrote. */
bool av_nn__fuse_concat_act(av_nn__graph *g, av_nn__node *cat);
/* On unless AV_NN_FUSE_CONCAT_ACT=0 or av_nn__concat_act_force_off (tests). */
bool av_nn__concat_act_fusion_pays(void);
void av_nn__concat_act_force_off(bool on);

/* reduce mean over H, W (keepdims, f32) of a concat along channels into the
 * concat (p.axis.mean: out[1] the mean): see pass_catmean.c. True when it
 * rewrote (the reduce is dead). */
bool av_nn__fuse_concat_mean(av_nn__graph *g, av_nn__node *rd);
/* On unless AV_NN_FUSE_CONCAT_MEAN=0 or av_nn__concat_mean_force_off (tests). */
bool av_nn__concat_mean_fusion_pays(void);
void av_nn__concat_mean_force_off(bool on);
/* Our concat's rows (xnn_concat.c) run 8 floats at a time on AVX2 unless
 * AV_NN_CONCAT_AVX2=0 or forced off here (tests: the same bits either way). */
void av_nn__concat_wide_force_off(bool on);

/* The only live reader of t when t is a private intermediate (one reader,
 * not a graph input or output, not constant), else NULL (pass_fuse.c). */
av_nn__node *av_nn__private_reader(av_nn__graph *g, av_nn__tid t);

/* peak mask -> reshape to [N, H*W*C] -> top-k (CenterNet's detections) into
 * the top-k (p.topk.peak, reading the heat map): see pass_peaktopk.c. True
 * when it rewrote (the peak mask and the reshape are dead). */
bool av_nn__fuse_peak_topk(av_nn__graph *g, av_nn__node *tk);
/* The peak mask's windows its kernels take (xnn_peak.c, xnn_peaktopk.c):
 * stride 1, no dilation, each window holding a real pixel. */
bool av_nn__peak_window_ok(const av_nn__pool_params *p);
/* On unless AV_NN_FUSE_PEAK_TOPK=0 or av_nn__peak_topk_force_off (tests). */
bool av_nn__peak_topk_fusion_pays(void);
void av_nn__peak_topk_force_off(bool on);
/* The peak top-k takes the sigmoid of the conv before it (p.topk.sigmoid):
 * see pass_peaktopk.c; after the fusion sweep (it adds a node and a tensor:
 * sort, remove dead nodes, sort after). On unless AV_NN_FUSE_SIGMOID_PEAK=0
 * or av_nn__sigmoid_peak_force_off (tests). */
av_nn_status av_nn__sigmoid_peak_pass(av_nn__graph *g, char *err, size_t errlen);
/* After the last sort: the heat-map sigmoids that pass added, read by no
 * node, moved to the end of g->order (arena: see pass_peaktopk.c). */
void av_nn__sigmoid_peak_order(av_nn__graph *g);
bool av_nn__sigmoid_peak_pays(void);
void av_nn__sigmoid_peak_force_off(bool on);

/* True when the peak-mask fusion pays: this CPU has the AVX2 kernel and
 * neither AV_NN_FUSE_PEAK=0, AV_NN_NO_AVX2 nor av_nn__peak_force_off is set. */
bool av_nn__peak_fusion_pays(void);
/* Tests: leave the peak mask as four nodes (graphs finalized later). */
void av_nn__peak_force_off(bool on);

/* ---- pass_sparse_head.c ---- */

/* gather(reshape(conv(dw_on)), indices) along axis 0 into one SPARSE_HEAD
 * node that computes the conv at the gathered pixels only (see
 * pass_sparse_head.c). True when it rewrote ga in place. */
bool av_nn__fuse_sparse_head(av_nn__graph *g, av_nn__node *ga);
/* Every such gather of a swept graph; leaves counts and order for the
 * caller's dead-node removal and sort. */
av_nn_status av_nn__sparse_head_pass(av_nn__graph *g, char *err, size_t errlen);
/* On unless AV_NN_FUSE_SPARSE_HEAD=0 or av_nn__sparse_head_force_off (tests). */
bool av_nn__sparse_head_pays(void);
void av_nn__sparse_head_force_off(bool on);

/* ---- pass_layout.c ---- */

/*
 * Sink the transposes of a shape-inferred graph through layout-agnostic ops
 * so that inverse pairs meet (see pass_layout.c); adds nodes and tensors,
 * leaves g->order stale (the caller sorts again). Errors name the node.
 */
av_nn_status av_nn__layout_pass(av_nn__graph *g, char *err, size_t errlen);

/* ---- pass_focus.c ---- */

/*
 * YOLOX's space-to-depth stem (four strided slices of an NCHW input, their
 * concat along C, the transpose to NHWC) as reshape -> rank-6 transpose ->
 * reshape (see pass_focus.c); adds nodes, leaves g->order stale. Nothing
 * when AV_NN_FUSE_FOCUS=0 or av_nn__focus_force_off(true) (tests).
 */
av_nn_status av_nn__focus_pass(av_nn__graph *g, char *err, size_t errlen);
void av_nn__focus_force_off(bool on);

/* ---- pass_spp.c ---- */

/*
 * Stride-1 "same" max pools of one input (YOLOX's SPP 5, 9, 13) chained so
 * each reads the next smaller one's output with a smaller window (see
 * pass_spp.c); exact. Leaves g->order stale. Nothing when AV_NN_FUSE_SPP=0
 * or av_nn__spp_force_off(true) (tests).
 */
av_nn_status av_nn__spp_pass(av_nn__graph *g, char *err, size_t errlen);
void av_nn__spp_force_off(bool on);

/* ---- pass.c ---- */

/*
 * After a rewrite of a finalized graph (nodes added, inputs rewired):
 * sort again, drop dead nodes and the constants nothing reads. Errors as
 * av_nn__graph_finalize.
 */
av_nn_status av_nn__graph_reorder(av_nn__graph *g, char *err, size_t errlen);

/* ---- plan.c ---- */

/* Bytes appended to every planned buffer: XNNPACK kernels may read past the end. */
#define AV_NN_ARENA_SLACK 64
#define AV_NN_ARENA_ALIGN 64

/*
 * Plan one arena for every non-constant tensor touched by g->order (graph
 * inputs and outputs included). offsets[t] receives the byte offset of tensor
 * t, or -1 for tensors that need no arena space (constants, unused).
 * offsets must hold g->n_tensors entries (caller-owned).
 */
av_nn_status av_nn__plan(const av_nn__graph *g, int64_t *offsets, size_t *arena_bytes, char *err,
                         size_t errlen);

/* ---- batch.c ---- */

/* Largest batch a context can be made for (av_nn_ctx_opts.batch). */
#define AV_NN_MAX_BATCH 4096

/* The model's batch: dim 0 shared by every graph input, or -1 when they
 * do not share one (a scalar input, or inputs that disagree). */
int64_t av_nn__graph_batch(const av_nn__graph *g);

/*
 * A copy of finalized graph g with every input's dim 0 set to batch and
 * shapes re-inferred (see batch.c for what is accepted). The copy shares
 * names, constants, inputs/outputs and order with g, which must outlive it;
 * free it with av_nn__graph_rebatch_free(), never av_nn__graph_free().
 * Graphs whose samples would not stay independent are refused with
 * AV_NN_E_UNSUPPORTED and a message naming the node.
 */
av_nn_status av_nn__graph_rebatch(const av_nn__graph *g, int64_t batch, av_nn__graph **out,
                                  char *err, size_t errlen);
void av_nn__graph_rebatch_free(av_nn__graph *bg);

/* ---- nn.c / runtime.c ---- */

struct av_nn_model {
    av_nn__graph *g;
    av_nn_format format;
    void *bytes; /* the model file, kept alive for constants that point into it */
    av_nn_tensor_info *in_info, *out_info;
    /* f32 convolution weights freed once packed (release.c) */
    pthread_mutex_t mu;        /* contexts, release and restore of this model */
    bool release_packed;       /* av_nn_model_release_packed */
    int raw_ctx;               /* live contexts that read conv weights from the graph */
    struct av_nn__rel *rel;    /* release records, freed with the model */
};

/* ---- release.c (callers hold m->mu) ---- */

/* Restore the released inputs of node n (of m's graph, or of bg: its batch
 * copy, updated too; NULL: none), or every released tensor when n is NULL:
 * the f32 weights back from the packed copy, bit for bit. */
av_nn_status av_nn__model_restore(av_nn_model *m, av_nn__graph *bg, const av_nn__node *n,
                                  char *err, size_t errlen);
/* Node n has just been prepared on the packed GEMM: free its f32 weights if
 * m releases them, no live context reads them and n is their only reader. */
void av_nn__model_release(av_nn_model *m, av_nn__graph *bg, const av_nn__node *n);
/* Undo every release record at model free (before the graph is freed). */
void av_nn__model_release_free(av_nn_model *m);

/*
 * Wrap a finalized graph into a model (takes ownership of g and of bytes,
 * also on failure). Used by av_nn_load and by tests that build graphs by hand.
 */
av_nn_status av_nn__model_from_graph(av_nn__graph *g, av_nn_format format, void *bytes,
                                     av_nn_model **out, char *err, size_t errlen);

/*
 * Per-op profile for benchmarks: ms[op * 2 + ref] and count[...] accumulate
 * the time of every node run, split by XNNPACK (ref = 0) and reference
 * (ref = 1) kernels. The caller owns p and zeroes it; NULL turns it off.
 */
typedef struct av_nn__profile {
    double ms[AV_NN_OP_COUNT * 2];
    long count[AV_NN_OP_COUNT * 2];
    /* Optional per node index (caller's arrays of n_nodes, zeroed): time of
     * each node, and which kernel ran it (av_nn__xnn_kernel_name or the backend), set on
     * the first run. */
    double *node_ms;
    const char **node_kernel;
    int n_nodes;
    /* Time the calling thread's CPU time instead of the wall clock: on 1
     * thread, what a loaded machine cannot inflate. */
    bool thread_cpu;
} av_nn__profile;
void av_nn__ctx_set_profile(av_nn_ctx *c, av_nn__profile *p);

/* The graph a context runs (its batch copy, else the model's): node indices
 * of av_nn__profile.node_ms. */
const av_nn__graph *av_nn__ctx_graph(const av_nn_ctx *c);

/* Called by av_nn_run after every node with its output data (calibration,
 * quant.c); NULL turns it off. */
typedef void (*av_nn__observer)(void *user, const av_nn__graph *g, const av_nn__node *n,
                                const void *const *in, void *const *out);
void av_nn__ctx_set_observer(av_nn_ctx *c, av_nn__observer fn, void *user);
/* The model a context runs. */
const av_nn_model *av_nn__ctx_model(const av_nn_ctx *c);

/* ---- ir/elem.c: element access and strides ---- */

/*
 * Broadcast iteration: offsets of an input (of rank ri, dims di) for each
 * output element in row-major order of the output (rank ro, dims dout).
 * bstrides receives per-output-axis strides of the input (0 where broadcast).
 */
void av_nn__bcast_strides(int ro, const int64_t *dout, int ri, const int64_t *di,
                          int64_t *bstrides);


/* Read element i of a buffer of dtype t as double (f16 widened; bool 0/1). */
double av_nn__load_elem(const void *p, av_nn_dtype t, int64_t i);
/* Store v as element i: ints are truncated toward zero and saturated. */
void av_nn__store_elem(void *p, av_nn_dtype t, int64_t i, double v);
/* Exact int64 read for integer/bool dtypes (floats are truncated). */
int64_t av_nn__load_int(const void *p, av_nn_dtype t, int64_t i);
void av_nn__store_int(void *p, av_nn_dtype t, int64_t i, int64_t v);

/* Round half away from zero, then clamp to the dtype's range (u8/i8/i32). */
int32_t av_nn__quantize_val(double real, float scale, int32_t zp, av_nn_dtype t);

static inline bool av_nn__is_quant(const av_nn__tensor *t)
{
    return (t->dtype == AV_NN_U8 || t->dtype == AV_NN_I8) && t->quant.scale != 0.0f;
}

/*
 * Elements a slice visits from b toward e (exclusive) in steps of s (s != 0,
 * |s| bounded by finalize so nothing here overflows).
 */
static inline int64_t av_nn__slice_count(int64_t b, int64_t e, int64_t s)
{
    if (s > 0)
        return e > b ? (e - b - 1) / s + 1 : 0;
    return b > e ? (b - e - 1) / -s + 1 : 0;
}

/* Strides (in elements) of a row-major shape. */
void av_nn__strides(int rank, const int64_t *dims, int64_t *strides);

#endif
