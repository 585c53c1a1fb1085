/*
 * backend.h - how the runtime executes one IR node (internal to src/nn).
 *
 * A backend is a method table. The runtime asks each node's preferred
 * backend whether it supports_op(); if not, the node falls back to the
 * reference backend, which supports every op. prepare() runs once per
 * context (XNNPACK: create the operator, packing the weights); run() runs
 * per inference with the node's input/output data pointers (constants point
 * at tensor->data, activations into the context's arena).
 */
#ifndef AV_NN_BACKEND_H
#define AV_NN_BACKEND_H

#include "nn/ir/ir.h"

#include <pthreadpool.h>

typedef struct av_nn__backend {
    const char *name;
    /* true when this backend can run node n of g (shapes/dtypes known). */
    bool (*supports_op)(const av_nn__graph *g, const av_nn__node *n);
    /* Per-context state for node n (may set *state = NULL). */
    av_nn_status (*prepare)(const av_nn__graph *g, const av_nn__node *n, pthreadpool_t pool,
                            void **state, char *err, size_t errlen);
    /* Execute node n. in[i] / out[i] are the data of n->in[i] / n->out[i]
     * (in[i] is NULL for an absent optional input). */
    av_nn_status (*run)(void *state, const av_nn__graph *g, const av_nn__node *n,
                        const void *const *in, void *const *out, pthreadpool_t pool, char *err,
                        size_t errlen);
    void (*release)(void *state);
} av_nn__backend;

extern const av_nn__backend av_nn__backend_ref;
extern const av_nn__backend av_nn__backend_xnn;

/* XNNPACK's process-wide initialisation, done once for every caller (xnn.c):
 * 0 (xnn_status_success), else XNNPACK's status, the same on every call. */
int av_nn__xnn_init(void);

/* Which kernel runs an XNNPACK node (its operator family, or our own
 * kernel's name), from its prepared state; for profiles. */
const char *av_nn__xnn_kernel_name(const void *state);

/* ---- weights a model releases once packed (release.c; xnn.c, xnn_share.c, xnn_gemm.c) ---- */

/* Node n would run on our packed GEMM (xnn_gemm.c) in an XNNPACK context:
 * then it never reads its weights from the graph after prepare. */
bool av_nn__xnn_gemm_takes(const av_nn__graph *g, const av_nn__node *n);

/* Node n (f32) would run on our Winograd 3x3 convolution (xnn_wino.c) in an
 * XNNPACK context: the int8 rewrite (quant.c) leaves those float. */
bool av_nn__xnn_wino_takes(const av_nn__graph *g, const av_nn__node *n);
/* A conv with a fused leaky relu may go int8 (quant.c): only where our int8
 * kernels run (xnn_qsgemm.c, AVX2). Elsewhere each would run as XNNPACK's qc8
 * on the pre-activation's coarser scale and the table (xnn_qlut.c): NanoDet's
 * outputs drift twice past the int8 bound (tests/t_nn_review_noavx2.c). */
bool av_nn__xnn_qleaky_pays(void);
/* The GEMM-packed buffer made from constant w, held once more (the caller
 * puts it with av_nn__xnn_pack_put); NULL when no context packed w. */
float *av_nn__xnn_pack_hold(const void *w, int kind);
/* A buffer of another packing than kind is made from w (Winograd's cannot
 * give the f32 weights back exactly). */
bool av_nn__xnn_pack_has_other(const void *w, int kind);
/* Every shared buffer keyed by constant `from` is keyed by `to` from now on. */
void av_nn__xnn_pack_rekey(const void *from, const void *to);
void av_nn__xnn_pack_put(const float *data);
/* The OHWI weights [cout][ks][cin] back from xnn_gemm.c's packing (exact: a permutation). */
void av_nn__xnn_gemm_unpack(const float *packed, size_t cout, size_t ks, size_t cin, float *w);
/* Its inverse: w (OHWI) and b (may be NULL) into the GEMM's tiles of 16 outputs. */
void av_nn__xnn_gemm_pack(float *packed, size_t cout, size_t ks, size_t cin, const float *w,
                          const float *b);
#define AV_NN__PACK_GEMM 1 /* = AV_NN__XNN_PACK_GEMM */

/* The reference kernel for any node; also used by constant folding. */
av_nn_status av_nn__ref_run(const av_nn__graph *g, const av_nn__node *n, const void *const *in,
                            void *const *out, char *err, size_t errlen);

#endif
