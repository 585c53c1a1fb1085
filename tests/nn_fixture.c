/*
 * nn_fixture.c - one-node checks of an engine backend against the reference
 * kernels (nn_fixture.h).
 */
#include "nn_fixture.h"

#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xnnpack.h>

#define F32_TOL 1e-4

/* ---- random data ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t cur_seed; /* of the case being checked, for failure messages */

void nf_reseed(uint64_t state)
{
    rng = state;
}

uint32_t nf_rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

float nf_frand(float lo, float hi)
{
    return lo + (hi - lo) * (float)(nf_rnd() & 0xffffff) / (float)0xffffff;
}

/* Range of random f32 activations; quarter: multiples of 0.25 (rounding ties). */
static float in_lo = -2.0f, in_hi = 2.0f;
static bool in_quarter;

void nf_range(float lo, float hi, bool quarter)
{
    in_lo = lo, in_hi = hi, in_quarter = quarter;
}

void nf_fill(void *p, av_nn_dtype dt, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case AV_NN_F32: {
            float v = nf_frand(in_lo, in_hi);
            ((float *)p)[i] = in_quarter ? roundf(v * 4) / 4 : v;
            break;
        }
        case AV_NN_F16:
            ((uint16_t *)p)[i] = av_nn__f32_to_f16(nf_frand(in_lo, in_hi));
            break;
        case AV_NN_U8:
            ((uint8_t *)p)[i] = (uint8_t)nf_rnd();
            break;
        case AV_NN_I8:
            ((int8_t *)p)[i] = (int8_t)(uint8_t)nf_rnd();
            break;
        case AV_NN_I32:
            ((int32_t *)p)[i] = (int32_t)(nf_rnd() % 2001) - 1000;
            break;
        case AV_NN_I64:
            ((int64_t *)p)[i] = (int64_t)((uint64_t)nf_rnd() << 32 | nf_rnd());
            break;
        case AV_NN_BOOL:
            ((uint8_t *)p)[i] = (uint8_t)(nf_rnd() & 1);
            break;
        default:
            memset((uint8_t *)p + i * (int64_t)av_nn_dtype_size(dt), 0, av_nn_dtype_size(dt));
            break;
        }
    }
}

/* ---- graph building ---- */

int64_t nf_prod(const int64_t *d, int r)
{
    int64_t c = 1;
    for (int i = 0; i < r; i++)
        c *= d[i];
    return c;
}

void nf_set_q(av_nn__graph *g, av_nn__tid t, float scale, int32_t zp)
{
    g->tensors[t].quant.scale = scale;
    g->tensors[t].quant.zero_point = zp;
}

/* Activation input (data supplied at run time). */
av_nn__tid nf_act_in(av_nn__graph *g, av_nn_dtype dt, const int64_t *d, int r, float scale,
                     int32_t zp)
{
    av_nn__tid t = av_nn__add_tensor(g, "x", dt, r, d, NULL, false);
    CHECK(t >= 0);
    nf_set_q(g, t, scale, zp);
    CHECK(av_nn__mark_input(g, t) >= 0);
    return t;
}

/* Constant with random data (f32 in [lo,hi]; ints over their whole range). */
av_nn__tid nf_konst_named(av_nn__graph *g, const char *name, av_nn_dtype dt,
                          const int64_t *d, int r, float lo, float hi) {
  int64_t n = nf_prod(d, r);
  void *p = malloc((size_t)n * av_nn_dtype_size(dt) + 1);
  CHECK(p);
  float slo = in_lo, shi = in_hi;
  bool sq = in_quarter;
  in_lo = lo, in_hi = hi, in_quarter = false;
  nf_fill(p, dt, n);
  in_lo = slo, in_hi = shi, in_quarter = sq;
  av_nn__tid t = av_nn__add_tensor(g, name, dt, r, d, p, true);
  CHECK(t >= 0);
  return t;
}

av_nn__tid nf_konst(av_nn__graph *g, av_nn_dtype dt, const int64_t *d, int r,
                    float lo, float hi) {
  return nf_konst_named(g, "k", dt, d, r, lo, hi);
}

/* Output with shape to infer and the given quantisation. */
av_nn__tid nf_out_t(av_nn__graph *g, float scale, int32_t zp) {
  av_nn__tid t = av_nn__add_tensor(g, "y", AV_NN_F32, -1, NULL, NULL, false);
  CHECK(t >= 0);
  nf_set_q(g, t, scale, zp);
  CHECK(av_nn__mark_output(g, t) >= 0);
  return t;
}

int nf_add(av_nn__graph *g, av_nn__op op, const av_nn__tid *in, int n_in, av_nn__tid out,
           const av_nn__params *p)
{
    int k = av_nn__add_node(g, op, "node", in, n_in, &out, 1, p);
    CHECK(k >= 0);
    char err[256] = "";
    av_nn_status st = av_nn__infer_node(g, &g->nodes[k], err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "infer: %s", err);
    return k;
}

/* ---- running and comparing ---- */

pthreadpool_t nf_pool(void)
{
    static pthreadpool_t pool;
    if (!pool)
        pool = pthreadpool_create(2);
    CHECK(pool);
    return pool;
}

void *nf_buf(const av_nn__tensor *t)
{
    size_t nb = (size_t)av_nn__nbytes(t);
    void *p = calloc(1, nb + XNN_EXTRA_BYTES + 64); /* XNNPACK may read past the end */
    CHECK(p);
    return p;
}

void nf_compare(const av_nn__tensor *y, const void *got, const void *want, const char *what)
{
    int64_t n = av_nn__numel(y);
    for (int64_t i = 0; i < n; i++) {
        if (y->dtype == AV_NN_F32) {
            double a = ((const float *)got)[i], b = ((const float *)want)[i];
            double tol = F32_TOL * (fabs(b) > 1 ? fabs(b) : 1);
            CHECK_MSG(fabs(a - b) <= tol || (isnan(a) && isnan(b)),
                      "seed %llu %s: element %lld of %lld: xnn %.9g vs ref %.9g",
                      (unsigned long long)cur_seed, what, (long long)i, (long long)n, a, b);
        } else {
            int64_t a = av_nn__load_int(got, y->dtype, i), b = av_nn__load_int(want, y->dtype, i);
            CHECK_MSG(llabs(a - b) <= 1, "seed %llu %s: element %lld of %lld: xnn %lld vs ref %lld",
                      (unsigned long long)cur_seed, what, (long long)i, (long long)n, (long long)a,
                      (long long)b);
        }
    }
}

/* Runs node k of g on both backends and compares every output; frees g. */
void nf_check_node(av_nn__graph *g, int k)
{
    const av_nn__node *n = &g->nodes[k];
    const av_nn__backend *be = &av_nn__backend_xnn;
    CHECK_MSG(be->supports_op(g, n), "xnn does not support this %s node", av_nn__op_name(n->op));
    const void *in[AV_NN_MAX_NODE_INPUTS] = {0};
    void *own[AV_NN_MAX_NODE_INPUTS] = {0};
    for (int i = 0; i < n->n_in; i++) {
        if (n->in[i] < 0)
            continue;
        const av_nn__tensor *t = &g->tensors[n->in[i]];
        if (t->data) {
            in[i] = t->data;
        } else {
            own[i] = nf_buf(t);
            nf_fill(own[i], t->dtype, av_nn__numel(t));
            in[i] = own[i];
        }
    }
    int no = n->n_out;
    void *yref[AV_NN_MAX_NODE_OUTPUTS], *yx[AV_NN_MAX_NODE_OUTPUTS], *yx2[AV_NN_MAX_NODE_OUTPUTS];
    for (int o = 0; o < no; o++) {
        yref[o] = nf_buf(&g->tensors[n->out[o]]);
        yx[o] = nf_buf(&g->tensors[n->out[o]]);
        yx2[o] = nf_buf(&g->tensors[n->out[o]]);
    }
    char err[256] = "";
    av_nn_status st = av_nn__ref_run(g, n, in, yref, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "ref: %s", err);
    void *state = NULL;
    st = be->prepare(g, n, nf_pool(), &state, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "prepare: %s", err);
    st = be->run(state, g, n, in, yx, nf_pool(), err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "run: %s", err);
    for (int o = 0; o < no; o++)
        nf_compare(&g->tensors[n->out[o]], yx[o], yref[o], "first run");
    /* again on the same buffers (setup skipped), then on moved ones (setup
   * redone) */
    for (int o = 0; o < no; o++)
        memset(yx[o], 0, (size_t)av_nn__nbytes(&g->tensors[n->out[o]]));
    st = be->run(state, g, n, in, yx, nf_pool(), err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "second run: %s", err);
    for (int o = 0; o < no; o++)
        nf_compare(&g->tensors[n->out[o]], yx[o], yref[o], "second run");
    const void *in2[AV_NN_MAX_NODE_INPUTS];
    memcpy(in2, in, sizeof in2);
    void *moved = NULL;
    if (own[0]) {
        moved = nf_buf(&g->tensors[n->in[0]]);
        memcpy(moved, own[0], (size_t)av_nn__nbytes(&g->tensors[n->in[0]]));
        in2[0] = moved;
    }
    st = be->run(state, g, n, in2, yx2, NULL, err, sizeof err); /* and on the caller's thread */
    CHECK_MSG(st == AV_NN_OK, "moved run: %s", err);
    for (int o = 0; o < no; o++)
        nf_compare(&g->tensors[n->out[o]], yx2[o], yref[o], "moved run");
    be->release(state);
    free(moved);
    for (int o = 0; o < no; o++) {
        free(yx2[o]);
        free(yref[o]);
        free(yx[o]);
    }
    for (int i = 0; i < n->n_in; i++)
        free(own[i]);
    av_nn__graph_free(g);
}

/* Frees g after checking that the xnn backend refuses node k. */
void nf_check_refused(av_nn__graph *g, int k)
{
    CHECK_MSG(!av_nn__backend_xnn.supports_op(g, &g->nodes[k]), "xnn accepted a %s node",
              av_nn__op_name(g->nodes[k].op));
    av_nn__graph_free(g);
}

av_nn__graph *nf_new_graph(uint64_t seed)
{
    cur_seed = seed;
    nf_reseed(seed * 0x9e3779b97f4a7c15ull + 1);
    in_lo = -2.0f, in_hi = 2.0f, in_quarter = false;
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    return g;
}

av_nn__fused_act nf_act(av_nn__act kind)
{
    av_nn__fused_act a = {kind, 0.1f, -0.5f, 0.7f};
    return a;
}

av_nn__conv_params nf_cp(int s, int d, av_nn__padding pad, av_nn__act act)
{
    av_nn__conv_params p = {.stride_h = s, .stride_w = s, .dilation_h = d, .dilation_w = d,
                            .padding = pad, .groups = 1, .act = nf_act(act)};
    return p;
}

av_nn__pool_params nf_pp(int k, int s, av_nn__padding pad, av_nn__act act)
{
    av_nn__pool_params p = {.filter_h = k, .filter_w = k, .stride_h = s, .stride_w = s,
                            .dilation_h = 1, .dilation_w = 1, .padding = pad,
                            .act = nf_act(act)};
    return p;
}

/* ---- whole models through the public API ---- */

av_nn_model *nf_model(av_nn__graph *g)
{
    char err[256] = "";
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "finalize: %s", err);
    av_nn_model *m = NULL;
    CHECK_MSG(av_nn__model_from_graph(g, AV_NN_FORMAT_ONNX, NULL, &m, err, sizeof err) ==
                  AV_NN_OK,
              "%s", err);
    return m;
}

av_nn_ctx *nf_ctx(const av_nn_model *m, av_nn_backend be, int threads, int batch)
{
    char err[256] = "";
    av_nn_ctx_opts o = {.threads = threads, .backend = be, .batch = batch};
    av_nn_ctx *c = NULL;
    CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "ctx: %s", err);
    return c;
}

void nf_run(av_nn_ctx *c, const void *x, void *y)
{
    char err[256] = "";
    const void *in[1] = {x};
    void *out[1] = {y};
    CHECK_MSG(av_nn_run(c, in, out, err, sizeof err) == AV_NN_OK, "run: %s", err);
}

void nf_output_bytes(const av_nn_model *m, int n, size_t max, size_t *bytes)
{
    CHECK_EQ_INT(av_nn_num_outputs(m), n);
    for (int i = 0; i < n && i < av_nn_num_outputs(m); i++) {
        const av_nn_tensor_info *ti = av_nn_output(m, i);
        size_t b = av_nn_dtype_size(ti->dtype);
        for (int d = 0; d < ti->rank; d++)
            b *= (size_t)ti->dims[d];
        CHECK(b <= max);
        bytes[i] = b;
    }
}

/* ---- an input that ends at a PROT_NONE page ---- */

void *nf_guarded_bytes(nf_guarded *g, size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (bytes + page - 1) / page * page;
    g->len = data + page;
    g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED) {
        g->map = NULL;
        return NULL;
    }
    if (mprotect((char *)g->map + data, page, PROT_NONE) != 0) {
        nf_guarded_free(g);
        return NULL;
    }
    return (char *)g->map + data - bytes;
}

float *nf_guarded_floats(nf_guarded *g, size_t n)
{
    return nf_guarded_bytes(g, n * sizeof(float));
}

void nf_guarded_free(nf_guarded *g)
{
    if (g->map)
        munmap(g->map, g->len);
    g->map = NULL;
}
