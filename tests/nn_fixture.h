/*
 * nn_fixture.h - one-node checks of an engine backend against the reference
 * kernels, shared by the t_nn_xnn_* tests (and any test of a kernel of the
 * xnn backend): seeded random data, graph building, running a node through
 * av_nn__ref_run and av_nn__backend_xnn (prepare, run, run again, run on
 * moved buffers) and comparing (f32 within 1e-4 relative, absolute below 1;
 * u8/i8 within one step), and an input that ends at a PROT_NONE page.
 *
 * Linked into every test (Makefile TEST_LIB); failures go through CHECK, so
 * call these only from inside a test case.
 */
#ifndef AV_NN_FIXTURE_H
#define AV_NN_FIXTURE_H

#include "nn/core.h"

#include <pthreadpool.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* D(1,2,3): a dims array; SH(1,2,3): the array and its rank, as two arguments. */
#define D(...) ((const int64_t[]){__VA_ARGS__})
#define SH(...) D(__VA_ARGS__), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

/* ---- random data (one xorshift stream; nf_new_graph reseeds it) ---- */

void nf_reseed(uint64_t state);
uint32_t nf_rnd(void);
float nf_frand(float lo, float hi);
/* f32/f16 activations from nf_fill: in [lo, hi], multiples of 0.25 with
 * quarter (rounding ties); nf_new_graph resets it to [-2, 2]. */
void nf_range(float lo, float hi, bool quarter);
/* n random values of dt (ints over their whole range, i32 in +-1000). */
void nf_fill(void *p, av_nn_dtype dt, int64_t n);

/* ---- graph building ---- */

/* A new graph; seeds the stream with seed (named in failure messages). */
av_nn__graph *nf_new_graph(uint64_t seed);
int64_t nf_prod(const int64_t *d, int r);
void nf_set_q(av_nn__graph *g, av_nn__tid t, float scale, int32_t zp);
/* Activation input (data supplied at run time). */
av_nn__tid nf_act_in(av_nn__graph *g, av_nn_dtype dt, const int64_t *d, int r, float scale,
                     int32_t zp);
/* Constant with random data (f32 in [lo,hi]; ints over their whole range). */
av_nn__tid nf_konst(av_nn__graph *g, av_nn_dtype dt, const int64_t *d, int r, float lo, float hi);
/* The same with a name (tests that look tensors up by name). */
av_nn__tid nf_konst_named(av_nn__graph *g, const char *name, av_nn_dtype dt, const int64_t *d,
                          int r, float lo, float hi);
/* Graph output with shape to infer and the given quantisation. */
av_nn__tid nf_out_t(av_nn__graph *g, float scale, int32_t zp);
/* Adds a one-output node and infers its shapes; its index. */
int nf_add(av_nn__graph *g, av_nn__op op, const av_nn__tid *in, int n_in, av_nn__tid out,
           const av_nn__params *p);
/* Fused activation of this kind with fixed alpha/min/max (0.1, -0.5, 0.7). */
av_nn__fused_act nf_act(av_nn__act kind);
av_nn__conv_params nf_cp(int stride, int dilation, av_nn__padding pad, av_nn__act act);
av_nn__pool_params nf_pp(int k, int stride, av_nn__padding pad, av_nn__act act);

/* ---- running and comparing ---- */

pthreadpool_t nf_pool(void); /* 2 threads, made once */
/* Zeroed buffer for t, with XNNPACK's read-past-the-end slack. */
void *nf_buf(const av_nn__tensor *t);
/* got against want (the reference) within the tolerances above. */
void nf_compare(const av_nn__tensor *y, const void *got, const void *want, const char *what);
/* Runs node k of g on both backends and compares every output; frees g. */
void nf_check_node(av_nn__graph *g, int k);
/* Checks that the xnn backend refuses node k; frees g. */
void nf_check_refused(av_nn__graph *g, int k);

/* ---- whole models through the public API ---- */

/* Finalizes g and makes it a model (ONNX rules), which then owns it. */
av_nn_model *nf_model(av_nn__graph *g);
/* A context of m; NULL (a failed CHECK) when it cannot be made. */
av_nn_ctx *nf_ctx(const av_nn_model *m, av_nn_backend be, int threads, int batch);
/* av_nn_run of a model with one input x and one output y. */
void nf_run(av_nn_ctx *c, const void *x, void *y);
/* The byte size of each of m's n outputs into bytes (a failed CHECK when m
 * has another count, or one is over max). */
void nf_output_bytes(const av_nn_model *m, int n, size_t max, size_t *bytes);

/* ---- an input that ends at a PROT_NONE page ---- */

/* ASan does not see intrinsic loads: a kernel that reads past its input
 * faults here instead. */
typedef struct nf_guarded {
    void *map;
    size_t len;
} nf_guarded;

/* n floats (bytes) whose last one touches an unreadable page; NULL when
 * mmap fails. Freed with nf_guarded_free. */
float *nf_guarded_floats(nf_guarded *g, size_t n);
void *nf_guarded_bytes(nf_guarded *g, size_t bytes);
void nf_guarded_free(nf_guarded *g);

#endif
