/*
 * t_nn_xnn.c - the XNNPACK backend against the reference kernels.
 *
 * Every case builds a one-node graph by hand, infers its shapes with
 * av_nn__infer_node, fills the activations with seeded random data, runs the
 * node through av_nn__ref_run and through av_nn__backend_xnn (prepare, run,
 * run again, run on moved buffers) and compares: f32 within 1e-4 relative
 * (absolute below 1), u8/i8 within one step. Cases also check that
 * supports_op() refuses what XNNPACK cannot compute exactly.
 */
#include "harness.h"

#include "nn/core.h"
#include "nn/xnn/xnn_impl.h" /* av_nn__xnn_silu_with */

#include <math.h>
#include <pthreadpool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xnnpack.h>

#define F32_TOL 1e-4

/* ---- random data ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t cur_seed; /* of the case being checked, for failure messages */

static uint32_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static float frand(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rnd() & 0xffffff) / (float)0xffffff;
}

/* Range of random f32 activations; quarter: multiples of 0.25 (rounding ties). */
static float in_lo = -2.0f, in_hi = 2.0f;
static bool in_quarter;

static void fill(void *p, av_nn_dtype dt, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case AV_NN_F32: {
            float v = frand(in_lo, in_hi);
            ((float *)p)[i] = in_quarter ? roundf(v * 4) / 4 : v;
            break;
        }
        case AV_NN_F16:
            ((uint16_t *)p)[i] = av_nn__f32_to_f16(frand(in_lo, in_hi));
            break;
        case AV_NN_U8:
            ((uint8_t *)p)[i] = (uint8_t)rnd();
            break;
        case AV_NN_I8:
            ((int8_t *)p)[i] = (int8_t)(uint8_t)rnd();
            break;
        case AV_NN_I32:
            ((int32_t *)p)[i] = (int32_t)(rnd() % 2001) - 1000;
            break;
        case AV_NN_I64:
            ((int64_t *)p)[i] = (int64_t)((uint64_t)rnd() << 32 | rnd());
            break;
        case AV_NN_BOOL:
            ((uint8_t *)p)[i] = (uint8_t)(rnd() & 1);
            break;
        default:
            memset((uint8_t *)p + i * (int64_t)av_nn_dtype_size(dt), 0, av_nn_dtype_size(dt));
            break;
        }
    }
}

/* ---- graph building ---- */

/* D(1,2,3): a dims array; SH(1,2,3): the array and its rank, as two arguments. */
#define D(...) ((const int64_t[]){__VA_ARGS__})
#define SH(...) D(__VA_ARGS__), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

static int64_t prod(const int64_t *d, int r)
{
    int64_t c = 1;
    for (int i = 0; i < r; i++)
        c *= d[i];
    return c;
}

static void set_q(av_nn__graph *g, av_nn__tid t, float scale, int32_t zp)
{
    g->tensors[t].quant.scale = scale;
    g->tensors[t].quant.zero_point = zp;
}

/* Activation input (data supplied at run time). */
static av_nn__tid act_in(av_nn__graph *g, av_nn_dtype dt, const int64_t *d, int r, float scale,
                         int32_t zp)
{
    av_nn__tid t = av_nn__add_tensor(g, "x", dt, r, d, NULL, false);
    CHECK(t >= 0);
    set_q(g, t, scale, zp);
    CHECK(av_nn__mark_input(g, t) >= 0);
    return t;
}

/* Constant with random data (f32 in [lo,hi]; ints over their whole range). */
static av_nn__tid konst(av_nn__graph *g, av_nn_dtype dt, const int64_t *d, int r, float lo,
                        float hi)
{
    int64_t n = prod(d, r);
    void *p = malloc((size_t)n * av_nn_dtype_size(dt) + 1);
    CHECK(p);
    float slo = in_lo, shi = in_hi;
    bool sq = in_quarter;
    in_lo = lo, in_hi = hi, in_quarter = false;
    fill(p, dt, n);
    in_lo = slo, in_hi = shi, in_quarter = sq;
    av_nn__tid t = av_nn__add_tensor(g, "k", dt, r, d, p, true);
    CHECK(t >= 0);
    return t;
}

/* Output with shape to infer and the given quantisation. */
static av_nn__tid out_t(av_nn__graph *g, float scale, int32_t zp)
{
    av_nn__tid t = av_nn__add_tensor(g, "y", AV_NN_F32, -1, NULL, NULL, false);
    CHECK(t >= 0);
    set_q(g, t, scale, zp);
    CHECK(av_nn__mark_output(g, t) >= 0);
    return t;
}

static int add(av_nn__graph *g, av_nn__op op, const av_nn__tid *in, int n_in, av_nn__tid out,
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

static pthreadpool_t test_pool(void)
{
    static pthreadpool_t pool;
    if (!pool)
        pool = pthreadpool_create(2);
    CHECK(pool);
    return pool;
}

static void *buf_for(const av_nn__tensor *t)
{
    size_t nb = (size_t)av_nn__nbytes(t);
    void *p = calloc(1, nb + XNN_EXTRA_BYTES + 64); /* XNNPACK may read past the end */
    CHECK(p);
    return p;
}

static void compare(const av_nn__tensor *y, const void *got, const void *want, const char *what)
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
                      (unsigned long long)cur_seed, what, (long long)i, (long long)n,
                      (long long)a, (long long)b);
        }
    }
}

/* Runs node k of g on both backends and compares every output; frees g. */
static void check_node(av_nn__graph *g, int k)
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
            own[i] = buf_for(t);
            fill(own[i], t->dtype, av_nn__numel(t));
            in[i] = own[i];
        }
    }
    int no = n->n_out;
    void *yref[AV_NN_MAX_NODE_OUTPUTS], *yx[AV_NN_MAX_NODE_OUTPUTS], *yx2[AV_NN_MAX_NODE_OUTPUTS];
    for (int o = 0; o < no; o++) {
        yref[o] = buf_for(&g->tensors[n->out[o]]);
        yx[o] = buf_for(&g->tensors[n->out[o]]);
        yx2[o] = buf_for(&g->tensors[n->out[o]]);
    }
    char err[256] = "";
    av_nn_status st = av_nn__ref_run(g, n, in, yref, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "ref: %s", err);
    void *state = NULL;
    st = be->prepare(g, n, test_pool(), &state, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "prepare: %s", err);
    st = be->run(state, g, n, in, yx, test_pool(), err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "run: %s", err);
    for (int o = 0; o < no; o++)
        compare(&g->tensors[n->out[o]], yx[o], yref[o], "first run");
    /* again on the same buffers (setup skipped), then on moved ones (setup redone) */
    for (int o = 0; o < no; o++)
        memset(yx[o], 0, (size_t)av_nn__nbytes(&g->tensors[n->out[o]]));
    st = be->run(state, g, n, in, yx, test_pool(), err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "second run: %s", err);
    for (int o = 0; o < no; o++)
        compare(&g->tensors[n->out[o]], yx[o], yref[o], "second run");
    const void *in2[AV_NN_MAX_NODE_INPUTS];
    memcpy(in2, in, sizeof in2);
    void *moved = NULL;
    if (own[0]) {
        moved = buf_for(&g->tensors[n->in[0]]);
        memcpy(moved, own[0], (size_t)av_nn__nbytes(&g->tensors[n->in[0]]));
        in2[0] = moved;
    }
    st = be->run(state, g, n, in2, yx2, NULL, err, sizeof err); /* and on the caller's thread */
    CHECK_MSG(st == AV_NN_OK, "moved run: %s", err);
    for (int o = 0; o < no; o++)
        compare(&g->tensors[n->out[o]], yx2[o], yref[o], "moved run");
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
static void check_refused(av_nn__graph *g, int k)
{
    CHECK_MSG(!av_nn__backend_xnn.supports_op(g, &g->nodes[k]), "xnn accepted a %s node",
              av_nn__op_name(g->nodes[k].op));
    av_nn__graph_free(g);
}

static av_nn__graph *new_graph(uint64_t seed)
{
    cur_seed = seed;
    rng = seed * 0x9e3779b97f4a7c15ull + 1;
    in_lo = -2.0f, in_hi = 2.0f, in_quarter = false;
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    return g;
}

static av_nn__fused_act act_of(av_nn__act kind)
{
    av_nn__fused_act a = {kind, 0.1f, -0.5f, 0.7f};
    return a;
}

/* ---- f32 convolutions ---- */

static void conv_f32(uint64_t seed, av_nn__op op, const int64_t *xd, const int64_t *wd,
                     av_nn__conv_params p, bool bias)
{
    av_nn__graph *g = new_graph(seed);
    av_nn__tid in[3];
    in[0] = act_in(g, AV_NN_F32, xd, 4, 0, 0);
    in[1] = konst(g, AV_NN_F32, wd, 4, -1, 1);
    int64_t o = op == AV_NN_OP_DEPTHWISE_CONV2D ? wd[3] : wd[0];
    in[2] = bias ? konst(g, AV_NN_F32, &o, 1, -1, 1) : -1;
    av_nn__params pp = {.conv = p};
    check_node(g, add(g, op, in, bias ? 3 : 2, out_t(g, 0, 0), &pp));
}

static av_nn__conv_params cp(int s, int d, av_nn__padding pad, av_nn__act act)
{
    av_nn__conv_params p = {.stride_h = s, .stride_w = s, .dilation_h = d, .dilation_w = d,
                            .padding = pad, .groups = 1, .act = act_of(act)};
    return p;
}

TEST(conv_f32_same_bias)
{
    conv_f32(1, AV_NN_OP_CONV2D, D(1, 9, 11, 5), D(7, 3, 3, 5),
             cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE), true);
}

TEST(conv_f32_stride_dilation_pads_relu6)
{
    av_nn__conv_params p = cp(2, 2, AV_NN_PAD_EXPLICIT, AV_NN_ACT_RELU6);
    p.pad_top = 1, p.pad_left = 0, p.pad_bottom = 2, p.pad_right = 1;
    conv_f32(2, AV_NN_OP_CONV2D, D(2, 13, 10, 4), D(6, 3, 2, 4), p, true);
    p.stride_h = 1, p.dilation_w = 1; /* height and width kept apart */
    conv_f32(15, AV_NN_OP_CONV2D, D(1, 12, 11, 3), D(4, 2, 3, 3), p, true);
    conv_f32(16, AV_NN_OP_DEPTHWISE_CONV2D, D(1, 12, 11, 3), D(1, 2, 3, 3), p, false);
}

TEST(conv_f32_groups_clamp)
{
    av_nn__conv_params p = cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_CLAMP);
    p.groups = 2;
    conv_f32(3, AV_NN_OP_CONV2D, D(1, 7, 7, 6), D(4, 3, 3, 3), p, true);
}

TEST(conv_f32_fused_leaky_sigmoid_relu_n1)
{
    conv_f32(4, AV_NN_OP_CONV2D, D(1, 6, 6, 3), D(5, 1, 1, 3),
             cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_LEAKY), true);
    conv_f32(5, AV_NN_OP_CONV2D, D(1, 6, 6, 3), D(5, 3, 3, 3),
             cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_SIGMOID), false);
    conv_f32(6, AV_NN_OP_CONV2D, D(1, 6, 6, 3), D(5, 3, 3, 3),
             cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU_N1_1), false);
}

/* SiLU fused by the pass (YOLOX): our kernel in place after the XNNPACK op
 * (binary_f32_broadcast has it after an add). */
TEST(conv_dw_fused_silu)
{
    conv_f32(7, AV_NN_OP_CONV2D, D(1, 13, 11, 3), D(5, 3, 3, 3),
             cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_SILU), true);
    conv_f32(8, AV_NN_OP_CONV2D, D(1, 64, 61, 3), D(9, 3, 3, 3),
             cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_SILU), true); /* > one pool task */
    conv_f32(9, AV_NN_OP_DEPTHWISE_CONV2D, D(1, 9, 7, 6), D(1, 3, 3, 6),
             cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_SILU), true);
}

/* Our AVX2+FMA convolution (xnn_gemm.c, where this CPU runs it) on random
 * shapes: output pixels not a multiple of the 6-row tile, channels not a
 * multiple of 16, 1 to 40 input channels, kernels up to 4x4 with strides,
 * dilations and uneven pads, batch 2, every fused activation it takes. On
 * other CPUs the same cases check XNNPACK's convolution. */
TEST(conv_own_gemm_random_shapes)
{
    static const av_nn__act acts[] = {AV_NN_ACT_NONE,  AV_NN_ACT_RELU,  AV_NN_ACT_RELU6,
                                      AV_NN_ACT_CLAMP, AV_NN_ACT_LEAKY, AV_NN_ACT_SILU,
                                      AV_NN_ACT_SIGMOID};
    int ours = 0;
    for (uint64_t seed = 400; seed < 460; seed++) {
        rng = seed * 7919 + 3;
        int64_t nb = 1 + rnd() % 2, h = 1 + rnd() % 14, w = 1 + rnd() % 14;
        int64_t ci = 1 + rnd() % 40, co = 1 + rnd() % 40, kh = 1 + rnd() % 4, kw = 1 + rnd() % 4;
        av_nn__conv_params p = cp(1 + (int)(rnd() % 3), 1 + (int)(rnd() % 2), AV_NN_PAD_EXPLICIT,
                                  acts[rnd() % 7]);
        p.stride_w = 1 + (int)(rnd() % 3), p.dilation_w = 1 + (int)(rnd() % 2);
        p.pad_top = (int)(rnd() % 3), p.pad_left = (int)(rnd() % 3);
        p.pad_bottom = (int)(rnd() % 3), p.pad_right = (int)(rnd() % 3);
        p.act.alpha = frand(-0.5f, 1.5f); /* LEAKY: slopes above 1 and below 0 too */
        if (h + p.pad_top + p.pad_bottom < (kh - 1) * p.dilation_h + 1 ||
            w + p.pad_left + p.pad_right < (kw - 1) * p.dilation_w + 1)
            continue; /* no output */
        bool bias = rnd() % 4 != 0;
        av_nn__graph *g = new_graph(seed);
        av_nn__tid in[3];
        in[0] = act_in(g, AV_NN_F32, D(nb, h, w, ci), 4, 0, 0);
        in[1] = konst(g, AV_NN_F32, D(co, kh, kw, ci), 4, -1, 1);
        in[2] = bias ? konst(g, AV_NN_F32, &co, 1, -1, 1) : -1;
        av_nn__params pp = {.conv = p};
        int k = add(g, AV_NN_OP_CONV2D, in, bias ? 3 : 2, out_t(g, 0, 0), &pp);
        CHECK_EQ_INT(av_nn__xnn_gemm_supports(g, &g->nodes[k]), av_nn__xnn_gemm_available());
        ours += av_nn__xnn_gemm_supports(g, &g->nodes[k]);
        check_node(g, k);
    }
    CHECK(ours == 0 || ours >= 40); /* most seeds give an output */
}

/* The kernel always reads MR = 6 input rows per tap; a block's pixels past
 * the last output pixel must read a valid row (its first), never the pixels
 * after the input. ASan does not see intrinsic loads, so the input ends at a
 * PROT_NONE page: a read past it faults. 7 output pixels: the last block has
 * one pixel, so five rows repeat it. */
TEST(conv_own_gemm_reads_stay_in_the_input)
{
    if (!av_nn__xnn_gemm_available())
        return; /* not this CPU's path: XNNPACK runs the convolution */
    av_nn__graph *g = new_graph(480);
    av_nn__tid in[2];
    in[0] = act_in(g, AV_NN_F32, SH(1, 1, 7, 4), 0, 0);
    in[1] = konst(g, AV_NN_F32, SH(5, 3, 3, 4), -1, 1);
    av_nn__params pp = {.conv = cp(1, 1, AV_NN_PAD_EXPLICIT, AV_NN_ACT_NONE)};
    pp.conv.pad_top = pp.conv.pad_bottom = pp.conv.pad_left = pp.conv.pad_right = 1;
    int k = add(g, AV_NN_OP_CONV2D, in, 2, out_t(g, 0, 0), &pp);
    CHECK(av_nn__xnn_gemm_supports(g, &g->nodes[k]));
    av_nn__xnn_node s;
    memset(&s, 0, sizeof s);
    char err[256];
    CHECK_EQ_INT(av_nn__xnn_gemm_prepare(g, &g->nodes[k], &s, err, sizeof err), AV_NN_OK);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    CHECK(mprotect(map + page, page, PROT_NONE) == 0);
    float *x = (float *)(map + page) - 7 * 4; /* the input's last float touches the guard */
    for (int i = 0; i < 7 * 4; i++)
        x[i] = (float)(i % 5) - 2;
    float y[7 * 5];
    av_nn__xnn_gemm_run(s.gemm, x, y, NULL);
    /* output pixel 3, channel 0, by the definition (pads read zeros) */
    const float *wf = g->tensors[in[1]].data;
    double want = 0;
    for (int kx = 0; kx < 3; kx++)
        for (int c = 0; c < 4; c++)
            want += (double)wf[(0 * 3 + 1) * 3 * 4 + kx * 4 + c] * x[(3 - 1 + kx) * 4 + c];
    CHECK_MSG(fabs(y[3 * 5] - want) < 1e-4, "pixel 3: %g, want %g", y[3 * 5], want);
    av_nn__xnn_gemm_free(s.gemm);
    munmap(map, 2 * page);
    av_nn__graph_free(g);
}

/* Forced off (as on AVX-512 CPUs), the same convolution runs on XNNPACK and
 * still matches; groups > 1 and tanh outputs always stay on XNNPACK. */
TEST(conv_own_gemm_forced_off)
{
    av_nn__xnn_gemm_force_off(true);
    CHECK(!av_nn__xnn_gemm_available());
    conv_f32(470, AV_NN_OP_CONV2D, D(1, 9, 10, 7), D(19, 3, 3, 7),
             cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_LEAKY), true);
    av_nn__xnn_gemm_force_off(false);
    av_nn__graph *g = new_graph(471);
    av_nn__tid in[2];
    in[0] = act_in(g, AV_NN_F32, SH(1, 5, 5, 4), 0, 0);
    in[1] = konst(g, AV_NN_F32, SH(4, 3, 3, 2), -1, 1);
    av_nn__params pp = {.conv = cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE)};
    pp.conv.groups = 2;
    int k = add(g, AV_NN_OP_CONV2D, in, 2, out_t(g, 0, 0), &pp);
    CHECK(!av_nn__xnn_gemm_supports(g, &g->nodes[k]));
    g->nodes[k].p.conv.groups = 1, g->nodes[k].p.conv.act.kind = AV_NN_ACT_TANH;
    g->tensors[in[1]].dims[3] = 4; /* shape only: supports() reads no data */
    CHECK(!av_nn__xnn_gemm_supports(g, &g->nodes[k]));
    av_nn__graph_free(g);
}

TEST(conv_f16_weights_refused)
{
    /* loaders widen f16 weights; the reference refuses f16 filters, so do we */
    av_nn__graph *g = new_graph(7);
    av_nn__tid in[2];
    in[0] = act_in(g, AV_NN_F32, SH(1, 8, 8, 4), 0, 0);
    in[1] = konst(g, AV_NN_F16, SH(8, 3, 3, 4), -1, 1);
    av_nn__params p = {.conv = cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU)};
    check_refused(g, add(g, AV_NN_OP_CONV2D, in, 2, out_t(g, 0, 0), &p));
}

TEST(conv_f32_mobilenet_3x3)
{
    conv_f32(8, AV_NN_OP_CONV2D, D(1, 28, 28, 32), D(64, 3, 3, 32),
             cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6), true);
}

TEST(depthwise_f32)
{
    conv_f32(9, AV_NN_OP_DEPTHWISE_CONV2D, D(1, 10, 9, 8), D(1, 3, 3, 8),
             cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6), true);
    conv_f32(10, AV_NN_OP_DEPTHWISE_CONV2D, D(2, 11, 11, 3), D(1, 5, 5, 6),
             cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE), true);
    conv_f32(11, AV_NN_OP_DEPTHWISE_CONV2D, D(1, 12, 12, 1), D(1, 3, 3, 4),
             cp(1, 2, AV_NN_PAD_VALID, AV_NN_ACT_LEAKY), false);
}

TEST(transpose_conv_f32)
{
    av_nn__conv_params p = cp(2, 1, AV_NN_PAD_EXPLICIT, AV_NN_ACT_NONE);
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    p.out_pad_h = p.out_pad_w = 1;
    conv_f32(12, AV_NN_OP_TRANSPOSE_CONV2D, D(1, 5, 6, 4), D(3, 3, 3, 4), p, true);
    conv_f32(13, AV_NN_OP_TRANSPOSE_CONV2D, D(2, 4, 4, 3), D(5, 4, 4, 3),
             cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU), true);
    conv_f32(14, AV_NN_OP_TRANSPOSE_CONV2D, D(1, 3, 5, 2), D(2, 3, 2, 2),
             cp(1, 2, AV_NN_PAD_VALID, AV_NN_ACT_NONE), false);
}

static void fc_f32(uint64_t seed, const int64_t *xd, int xr, int64_t n_out, bool bias,
                   av_nn__act act)
{
    av_nn__graph *g = new_graph(seed);
    av_nn__tid in[3];
    in[0] = act_in(g, AV_NN_F32, xd, xr, 0, 0);
    in[1] = konst(g, AV_NN_F32, D(n_out, xd[xr - 1]), 2, -1, 1);
    in[2] = bias ? konst(g, AV_NN_F32, &n_out, 1, -1, 1) : -1;
    av_nn__params p = {.fc = {.keep_dims = xr > 2, .act = act_of(act)}};
    check_node(g, add(g, AV_NN_OP_FULLY_CONNECTED, in, bias ? 3 : 2, out_t(g, 0, 0), &p));
}

TEST(fully_connected_f32)
{
    fc_f32(20, SH(3, 10), 6, true, AV_NN_ACT_RELU);
    fc_f32(21, SH(2, 2, 8), 5, false, AV_NN_ACT_NONE);
    fc_f32(22, SH(1, 1280), 965, true, AV_NN_ACT_SIGMOID);
}

/* ---- pooling, mean, resize ---- */

static void pool(uint64_t seed, av_nn__op op, av_nn_dtype dt, const int64_t *xd,
                 av_nn__pool_params p, float scale, int32_t zp, float oscale, int32_t ozp)
{
    av_nn__graph *g = new_graph(seed);
    av_nn__tid x = act_in(g, dt, xd, 4, scale, zp);
    av_nn__params pp = {.pool = p};
    check_node(g, add(g, op, &x, 1, out_t(g, oscale, ozp), &pp));
}

static av_nn__pool_params pp(int k, int s, av_nn__padding pad, av_nn__act act)
{
    av_nn__pool_params p = {.filter_h = k, .filter_w = k, .stride_h = s, .stride_w = s,
                            .dilation_h = 1, .dilation_w = 1, .padding = pad,
                            .act = act_of(act)};
    return p;
}

TEST(max_pool_f32)
{
    pool(30, AV_NN_OP_MAX_POOL2D, AV_NN_F32, D(1, 9, 10, 3), pp(3, 2, AV_NN_PAD_SAME, AV_NN_ACT_NONE),
         0, 0, 0, 0);
    pool(31, AV_NN_OP_MAX_POOL2D, AV_NN_F32, D(2, 8, 8, 5), pp(2, 2, AV_NN_PAD_VALID, AV_NN_ACT_RELU),
         0, 0, 0, 0);
    av_nn__pool_params p = pp(3, 2, AV_NN_PAD_EXPLICIT, AV_NN_ACT_NONE);
    p.ceil_mode = true, p.pad_top = p.pad_left = 1;
    pool(32, AV_NN_OP_MAX_POOL2D, AV_NN_F32, D(1, 10, 10, 2), p, 0, 0, 0, 0);
    p = pp(2, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE);
    p.dilation_h = p.dilation_w = 2;
    pool(33, AV_NN_OP_MAX_POOL2D, AV_NN_F32, D(1, 7, 7, 4), p, 0, 0, 0, 0);
}

TEST(avg_pool_f32)
{
    pool(34, AV_NN_OP_AVG_POOL2D, AV_NN_F32, D(1, 8, 8, 3), pp(2, 2, AV_NN_PAD_VALID, AV_NN_ACT_NONE),
         0, 0, 0, 0);
    /* SAME padding, excluded from the count (TF) */
    pool(35, AV_NN_OP_AVG_POOL2D, AV_NN_F32, D(1, 9, 7, 4), pp(3, 2, AV_NN_PAD_SAME, AV_NN_ACT_RELU6),
         0, 0, 0, 0);
    pool(36, AV_NN_OP_AVG_POOL2D, AV_NN_F32, D(1, 7, 7, 16), pp(7, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE),
         0, 0, 0, 0);
}

TEST(pool_refusals)
{
    /* count_include_pad with padding: XNNPACK would divide by the valid pixels only */
    av_nn__graph *g = new_graph(37);
    av_nn__pool_params p = pp(3, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE);
    p.count_include_pad = true;
    av_nn__params par = {.pool = p};
    av_nn__tid x = act_in(g, AV_NN_F32, SH(1, 5, 5, 2), 0, 0);
    check_refused(g, add(g, AV_NN_OP_AVG_POOL2D, &x, 1, out_t(g, 0, 0), &par));
    /* 1x1 windows */
    g = new_graph(38);
    par.pool = pp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE);
    x = act_in(g, AV_NN_F32, SH(1, 5, 5, 2), 0, 0);
    check_refused(g, add(g, AV_NN_OP_MAX_POOL2D, &x, 1, out_t(g, 0, 0), &par));
    /* windows lying wholly in the padding */
    g = new_graph(39);
    par.pool = pp(2, 2, AV_NN_PAD_EXPLICIT, AV_NN_ACT_NONE);
    par.pool.pad_top = par.pool.pad_left = 2;
    x = act_in(g, AV_NN_F32, SH(1, 5, 5, 2), 0, 0);
    check_refused(g, add(g, AV_NN_OP_MAX_POOL2D, &x, 1, out_t(g, 0, 0), &par));
}

static void mean(uint64_t seed, av_nn_dtype dt, const int64_t *xd, int r, uint32_t mask,
                 bool keep, float s, int32_t zp, float os, int32_t ozp)
{
    av_nn__graph *g = new_graph(seed);
    av_nn__tid x = act_in(g, dt, xd, r, s, zp);
    av_nn__params p = {.reduce = {.kind = AV_NN_REDUCE_MEAN, .axes_mask = mask, .keep_dims = keep}};
    check_node(g, add(g, AV_NN_OP_REDUCE, &x, 1, out_t(g, os, ozp), &p));
}

TEST(reduce_mean_f32)
{
    mean(40, AV_NN_F32, SH(2, 7, 7, 16), 0x6, true, 0, 0, 0, 0);
    mean(41, AV_NN_F32, SH(1, 5, 6, 3), 0x6, false, 0, 0, 0, 0);
    mean(42, AV_NN_F32, SH(3, 10), 0x2, false, 0, 0, 0, 0);
    mean(43, AV_NN_F32, SH(2, 3, 4, 5), 0x1, true, 0, 0, 0, 0);
}

TEST(reduce_refusals)
{
    av_nn__graph *g = new_graph(44);
    av_nn__tid x = act_in(g, AV_NN_F32, SH(2, 3, 4, 5), 0, 0);
    av_nn__params p = {.reduce = {.kind = AV_NN_REDUCE_MEAN, .axes_mask = 0x5, .keep_dims = true}};
    check_refused(g, add(g, AV_NN_OP_REDUCE, &x, 1, out_t(g, 0, 0), &p)); /* not contiguous */
    g = new_graph(45);
    x = act_in(g, AV_NN_F32, SH(2, 3, 4, 5), 0, 0);
    p.reduce.kind = AV_NN_REDUCE_SUM, p.reduce.axes_mask = 0x6;
    check_refused(g, add(g, AV_NN_OP_REDUCE, &x, 1, out_t(g, 0, 0), &p));
}

static void resize(uint64_t seed, av_nn_dtype dt, av_nn__coord_mode coord, const int64_t *xd,
                   int oh, int ow, float s, int32_t zp)
{
    av_nn__graph *g = new_graph(seed);
    av_nn__tid x = act_in(g, dt, xd, 4, s, zp);
    av_nn__params p = {.resize = {.mode = AV_NN_RESIZE_BILINEAR, .coord = coord, .out_h = oh,
                                  .out_w = ow}};
    check_node(g, add(g, AV_NN_OP_RESIZE, &x, 1, out_t(g, s, zp), &p));
}

TEST(resize_bilinear_f32_modes)
{
    av_nn__coord_mode modes[] = {AV_NN_COORD_ASYMMETRIC, AV_NN_COORD_ALIGN_CORNERS,
                                 AV_NN_COORD_HALF_PIXEL, AV_NN_COORD_PYTORCH_HALF_PIXEL};
    for (int m = 0; m < 4; m++) {
        resize(50 + (uint64_t)m, AV_NN_F32, modes[m], D(1, 5, 7, 3), 11, 16, 0, 0); /* up */
        resize(60 + (uint64_t)m, AV_NN_F32, modes[m], D(2, 12, 9, 2), 5, 4, 0, 0);  /* down */
        resize(70 + (uint64_t)m, AV_NN_F32, modes[m], D(1, 4, 4, 8), 8, 8, 0, 0);   /* x2 */
    }
}

TEST(resize_refusals)
{
    av_nn__graph *g = new_graph(80);
    av_nn__tid x = act_in(g, AV_NN_F32, SH(1, 4, 4, 2), 0, 0);
    av_nn__params p = {.resize = {.mode = AV_NN_RESIZE_NEAREST, .out_h = 8, .out_w = 8}};
    check_refused(g, add(g, AV_NN_OP_RESIZE, &x, 1, out_t(g, 0, 0), &p));
    g = new_graph(81);
    x = act_in(g, AV_NN_F32, SH(1, 4, 4, 2), 0, 0);
    p.resize = (av_nn__resize_params){.mode = AV_NN_RESIZE_BILINEAR,
                                      .coord = AV_NN_COORD_PYTORCH_HALF_PIXEL, .out_h = 1,
                                      .out_w = 8};
    check_refused(g, add(g, AV_NN_OP_RESIZE, &x, 1, out_t(g, 0, 0), &p));
}

/* ---- elementwise ---- */

static void binary(uint64_t seed, av_nn__binary_kind k, av_nn_dtype dt, const int64_t *ad,
                   int ar, const int64_t *bd, int br, bool b_const, av_nn__act act, float as,
                   int32_t az, float bs, int32_t bz, float ys, int32_t yz)
{
    av_nn__graph *g = new_graph(seed);
    av_nn__tid in[2];
    in[0] = act_in(g, dt, ad, ar, as, az);
    if (b_const) { /* divisors away from zero: magnitudes in [0.5, 2] with random sign */
        in[1] = konst(g, dt, bd, br, 0.5f, 2.0f);
        float *v = g->tensors[in[1]].data;
        for (int64_t i = 0; dt == AV_NN_F32 && i < prod(bd, br); i++)
            v[i] = (rnd() & 1) ? v[i] : -v[i];
        set_q(g, in[1], bs, bz);
    } else {
        in[1] = act_in(g, dt, bd, br, bs, bz);
    }
    av_nn__params p = {.binary = {.kind = k, .act = act_of(act)}};
    check_node(g, add(g, AV_NN_OP_BINARY, in, 2, out_t(g, ys, yz), &p));
}

TEST(binary_f32_broadcast)
{
    av_nn__binary_kind kinds[] = {AV_NN_BIN_ADD, AV_NN_BIN_SUB, AV_NN_BIN_MUL, AV_NN_BIN_DIV,
                                  AV_NN_BIN_MAX, AV_NN_BIN_MIN, AV_NN_BIN_SQUARED_DIFF};
    for (int i = 0; i < 7; i++) {
        uint64_t s = 100 + (uint64_t)i * 10;
        binary(s, kinds[i], AV_NN_F32, SH(2, 3, 4, 5), SH(2, 3, 4, 5), true, AV_NN_ACT_NONE, 0,
               0, 0, 0, 0, 0);
        binary(s + 1, kinds[i], AV_NN_F32, SH(2, 3, 4, 5), SH(3, 1, 5), true, AV_NN_ACT_NONE, 0,
               0, 0, 0, 0, 0);
        binary(s + 2, kinds[i], AV_NN_F32, SH(4, 1), SH(1, 2, 1, 6), true, AV_NN_ACT_RELU, 0, 0,
               0, 0, 0, 0);
        binary(s + 3, kinds[i], AV_NN_F32, SH(1), SH(2, 1, 3, 1, 2, 3), true, AV_NN_ACT_CLAMP, 0,
               0, 0, 0, 0, 0);
        binary(s + 4, kinds[i], AV_NN_F32, SH(3, 7), SH(3, 7), true, AV_NN_ACT_LEAKY, 0, 0, 0, 0,
               0, 0);
        binary(s + 5, kinds[i], AV_NN_F32, SH(3, 7), D(1), 0, true, AV_NN_ACT_NONE, 0, 0, 0, 0,
               0, 0); /* rank-0 operand */
    }
    binary(180, AV_NN_BIN_ADD, AV_NN_F32, SH(3, 7), SH(3, 7), true, AV_NN_ACT_SILU, 0, 0, 0, 0,
           0, 0);
    /* both operands at run time */
    binary(190, AV_NN_BIN_ADD, AV_NN_F32, SH(1, 8, 8, 16), SH(1, 8, 8, 16), false,
           AV_NN_ACT_RELU6, 0, 0, 0, 0, 0, 0);
}

static void unary1(uint64_t seed, av_nn__unary_kind k, float alpha, float lo, float hi,
                   bool quarter)
{
    av_nn__graph *g = new_graph(seed);
    in_lo = lo, in_hi = hi, in_quarter = quarter;
    av_nn__tid x = act_in(g, AV_NN_F32, SH(3, 5, 7), 0, 0);
    av_nn__params p = {.unary = {.kind = k, .alpha = alpha}};
    check_node(g, add(g, AV_NN_OP_UNARY, &x, 1, out_t(g, 0, 0), &p));
}

TEST(unary_f32)
{
    unary1(200, AV_NN_UN_ABS, 0, -3, 3, false);
    unary1(201, AV_NN_UN_NEG, 0, -3, 3, false);
    unary1(202, AV_NN_UN_SQRT, 0, 0, 9, false);
    unary1(203, AV_NN_UN_SQUARE, 0, -3, 3, false);
    unary1(204, AV_NN_UN_FLOOR, 0, -3, 3, true);
    unary1(205, AV_NN_UN_CEIL, 0, -3, 3, true);
    unary1(206, AV_NN_UN_ROUND, 0, -3, 3, true); /* ties go to even */
    unary1(207, AV_NN_UN_SIGMOID, 0, -8, 8, false);
    unary1(208, AV_NN_UN_HARDSWISH, 0, -5, 5, false);
    unary1(213, AV_NN_UN_HARDSWISH, 0.166625977f, -5, 5, false); /* TF.js's f16 1/6: our kernel */
    unary1(209, AV_NN_UN_ELU, 0.7f, -4, 4, false);
    unary1(210, AV_NN_UN_RELU, 0, -3, 3, false);
}

/* Every SiLU kernel this CPU has (portable, AVX2+FMA, AVX-512F) against
 * x / (1 + exp(-x)) in double: sizes that leave vector tails and span pool
 * tasks, values up to the exp cut-off and past it, signed zeros, NaN, out of
 * place and in place, on the pool and on the caller's thread. */
TEST(silu_kernels_odd_sizes)
{
    static const size_t sizes[] = {1, 3, 7, 8, 15, 17, 31, 33, 16385, 40001};
    static const float special[] = {0.0f, -0.0f, 88.0f, -88.0f, 87.4f, -87.4f, 100.0f,
                                    -100.0f, 1e-30f, -1e-30f, 20.0f, -20.0f};
    int kernels = 0;
    for (int k = 0; k < 3; k++) {
        for (int si = 0; si < 10; si++) {
            size_t n = sizes[si];
            float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
            CHECK(x && y);
            rng = 300 + (uint64_t)si;
            for (size_t i = 0; i < n; i++)
                x[i] = i < 12 && n >= 12 ? special[i] : frand(-30, 30);
            if (n > 40)
                x[n / 2] = NAN;
            if (!av_nn__xnn_silu_with(k, x, y, n, si % 2 ? test_pool() : NULL)) {
                free(x), free(y);
                break; /* not on this CPU */
            }
            for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < n; i++) {
                    double v = x[i], want = v / (1 + exp(-v));
                    double tol = 2e-6 * (fabs(want) > 1e-3 ? fabs(want) : 1e-3);
                    CHECK_MSG(fabs(y[i] - want) <= tol || (isnan(want) && isnan(y[i])),
                              "kernel %d n %zu pass %d: silu(%.9g) = %.9g, want %.9g", k, n,
                              pass, v, y[i], want);
                }
                if (pass == 0) { /* in place */
                    float *keep = malloc(n * sizeof *keep);
                    CHECK(keep);
                    memcpy(keep, x, n * sizeof *x);
                    memcpy(y, x, n * sizeof *x);
                    CHECK(av_nn__xnn_silu_with(k, y, y, n, test_pool()));
                    memcpy(x, keep, n * sizeof *x);
                    free(keep);
                }
            }
            free(x), free(y);
            if (si == 9)
                kernels++;
        }
    }
    CHECK(kernels >= 1); /* the portable one at least */
}

/* The fusion pays exactly where a vector kernel exists; forced to act as a CPU without AVX2,
 * the engine's SiLU is the portable kernel's, bit for bit. */
TEST(silu_forced_portable)
{
    enum { N = 1031 };
    static float x[N], y0[N], y1[N];
    rng = 231;
    for (int i = 0; i < N; i++)
        x[i] = frand(-9, 9);
    bool vec = av_nn__xnn_silu_with(1, x, y1, N, NULL) || av_nn__xnn_silu_with(2, x, y1, N, NULL);
    CHECK_EQ_INT(av_nn__silu_fusion_pays(), vec);
    av_nn__silu_force_portable(true);
    CHECK(!av_nn__silu_fusion_pays());
    CHECK(av_nn__xnn_silu_with(0, x, y0, N, NULL));
    av_nn__xnn_silu(x, y1, N, test_pool());
    av_nn__silu_force_portable(false);
    CHECK(memcmp(y0, y1, sizeof y0) == 0);
}

/* The row sigmoid of our convolution's epilogue, vector and portable, against
 * 1 / (1 + exp(-x)) in double over sizes that leave tails. */
TEST(sigmoid_span_both_kernels)
{
    for (int portable = 0; portable < 2; portable++) {
        av_nn__silu_force_portable(portable);
        for (size_t n = 1; n < 40; n += 3) {
            float y[40], x[40];
            rng = 500 + n;
            for (size_t i = 0; i < n; i++)
                x[i] = y[i] = i == 0 ? -100.0f : i == 1 ? 100.0f : frand(-20, 20);
            av_nn__xnn_sigmoid_span(y, n);
            for (size_t i = 0; i < n; i++) {
                double want = 1 / (1 + exp(-(double)x[i]));
                CHECK_MSG(fabs(y[i] - want) <= 2e-6 * (want > 1e-3 ? want : 1e-3),
                          "portable %d n %zu: sigmoid(%.9g) = %.9g, want %.9g", portable, n,
                          x[i], y[i], want);
            }
        }
    }
    av_nn__silu_force_portable(false);
}

/* Scaled hard-swish over sizes that leave vector tails and span pool tasks. */
TEST(hardswish_scaled_odd_sizes)
{
    static const int64_t sizes[] = {1, 3, 5, 4099, 8195 * 3};
    for (int i = 0; i < 5; i++) {
        av_nn__graph *g = new_graph(214 + (uint64_t)i);
        in_lo = -7, in_hi = 7;
        av_nn__tid x = act_in(g, AV_NN_F32, &sizes[i], 1, 0, 0);
        av_nn__params p = {.unary = {.kind = AV_NN_UN_HARDSWISH, .alpha = 0.2f + 0.01f * i}};
        check_node(g, add(g, AV_NN_OP_UNARY, &x, 1, out_t(g, 0, 0), &p));
    }
}

/* One top-k node on both backends, outputs compared bit for bit (values and indices: the
 * order is total, ties by lower index, so any correct selection gives the same bytes). */
static void topk_exact(uint64_t seed, const int64_t *xd, int r, int axis, int k, bool largest,
                       av_nn_dtype idx, int specials)
{
    av_nn__graph *g = new_graph(seed);
    in_quarter = true; /* 17 distinct values: ties everywhere */
    av_nn__tid x = act_in(g, AV_NN_F32, xd, r, 0, 0);
    av_nn__tid o[2] = {av_nn__add_tensor(g, "v", AV_NN_F32, -1, NULL, NULL, false),
                       av_nn__add_tensor(g, "i", idx, -1, NULL, NULL, false)};
    CHECK(o[0] >= 0 && o[1] >= 0);
    av_nn__params p = {.topk = {.k = k, .axis = axis, .largest = largest, .sorted = true,
                                .index_dtype = idx}};
    int ni = av_nn__add_node(g, AV_NN_OP_TOPK, "topk", &x, 1, o, 2, &p);
    CHECK(ni >= 0);
    char err[256] = "";
    CHECK_MSG(av_nn__infer_node(g, &g->nodes[ni], err, sizeof err) == AV_NN_OK, "%s", err);
    const av_nn__node *n = &g->nodes[ni];
    const av_nn__backend *be = &av_nn__backend_xnn;
    CHECK_MSG(be->supports_op(g, n), "xnn refused top-k seed %llu", (unsigned long long)seed);
    const av_nn__tensor *xt = &g->tensors[x];
    int64_t nx = av_nn__numel(xt);
    float *xv = buf_for(xt);
    fill(xv, AV_NN_F32, nx);
    for (int q = 0; q < specials; q++) { /* NaN, -0 and the extremes, some in the winners */
        static const float sp[] = {NAN, -0.0f, 0.0f, 1e30f, -1e30f, INFINITY, -INFINITY};
        xv[rnd() % (uint32_t)nx] = sp[q % 7];
    }
    void *ref[2] = {buf_for(&g->tensors[o[0]]), buf_for(&g->tensors[o[1]])};
    void *got[2] = {buf_for(&g->tensors[o[0]]), buf_for(&g->tensors[o[1]])};
    const void *in[1] = {xv};
    CHECK_MSG(av_nn__ref_run(g, n, in, ref, err, sizeof err) == AV_NN_OK, "ref: %s", err);
    void *state = NULL;
    CHECK_MSG(be->prepare(g, n, test_pool(), &state, err, sizeof err) == AV_NN_OK, "%s", err);
    for (int pass = 0; pass < 2; pass++) { /* on the pool, then on the caller's thread */
        for (int q = 0; q < 2; q++)
            memset(got[q], 0xa5, (size_t)av_nn__nbytes(&g->tensors[o[q]]));
        CHECK_MSG(be->run(state, g, n, in, got, pass ? NULL : test_pool(), err, sizeof err) ==
                      AV_NN_OK, "run: %s", err);
        for (int q = 0; q < 2; q++)
            CHECK_MSG(memcmp(got[q], ref[q], (size_t)av_nn__nbytes(&g->tensors[o[q]])) == 0,
                      "seed %llu k %d largest %d: %s differ from the reference",
                      (unsigned long long)seed, k, largest, q ? "indices" : "values");
    }
    be->release(state);
    for (int q = 0; q < 2; q++) {
        free(ref[q]);
        free(got[q]);
    }
    free(xv);
    av_nn__graph_free(g);
}

/* Top-k on the pool against the reference: odd row lengths (vector tails, one and several
 * pool tasks), k from 1 to the 256 limit and up to the whole row, largest and smallest,
 * both index dtypes, several rows, trailing unit axes, NaN / -0 / infinities. */
TEST(topk_random_ties_exact)
{
    static const int64_t lens[] = {1, 7, 17, 100, 4099, 65536 * 3 + 5};
    static const int ks[] = {1, 5, 100, 256};
    uint64_t seed = 700;
    for (int l = 0; l < 6; l++)
        for (int q = 0; q < 4; q++) {
            int k = ks[q] < lens[l] ? ks[q] : (int)lens[l];
            for (int m = 0; m < 2; m++) {
                seed++;
                topk_exact(seed, SH(lens[l]), 0, k, m == 0, m ? AV_NN_I64 : AV_NN_I32,
                           (int)(seed % 4) * 5);
            }
        }
    topk_exact(800, SH(3, 1001), 1, 37, true, AV_NN_I32, 9);
    topk_exact(801, SH(2, 140001, 1), 1, 100, true, AV_NN_I64, 12);
    topk_exact(802, SH(2, 3, 333), -1, 250, false, AV_NN_I32, 4);
    /* all values equal: the lowest indices win */
    in_lo = in_hi = 0.5f;
    topk_exact(803, SH(70001), 0, 256, true, AV_NN_I32, 0);
}

/* Off the fast path, left to the reference: other dtypes, k over 256, rows not contiguous. */
TEST(topk_refusals)
{
    static const av_nn_dtype dts[] = {AV_NN_F16, AV_NN_U8, AV_NN_I8, AV_NN_I32, AV_NN_I64};
    for (int i = 0; i < 5 + 2; i++) {
        av_nn__graph *g = new_graph(820 + (uint64_t)i);
        av_nn_dtype dt = i < 5 ? dts[i] : AV_NN_F32;
        av_nn__tid x = act_in(g, dt, i == 6 ? D(40, 3) : D(1, 300), 2, 0, 0);
        av_nn__tid o[2] = {av_nn__add_tensor(g, "v", dt, -1, NULL, NULL, false),
                           av_nn__add_tensor(g, "i", AV_NN_I32, -1, NULL, NULL, false)};
        av_nn__params p = {.topk = {.k = i == 5 ? 257 : 3, .axis = i == 6 ? 0 : 1,
                                    .largest = true, .index_dtype = AV_NN_I32}};
        int ni = av_nn__add_node(g, AV_NN_OP_TOPK, "topk", &x, 1, o, 2, &p);
        CHECK(ni >= 0);
        char err[256] = "";
        CHECK_MSG(av_nn__infer_node(g, &g->nodes[ni], err, sizeof err) == AV_NN_OK, "%s", err);
        check_refused(g, ni);
    }
}

TEST(unary_refusals)
{
    av_nn__graph *g = new_graph(211);
    av_nn__tid x = act_in(g, AV_NN_F32, SH(4), 0, 0);
    av_nn__params p = {.unary = {.kind = AV_NN_UN_TANH}}; /* no f32 tanh in this XNNPACK */
    check_refused(g, add(g, AV_NN_OP_UNARY, &x, 1, out_t(g, 0, 0), &p));
    g = new_graph(212);
    x = act_in(g, AV_NN_F32, SH(4), 0, 0);
    p.unary = (av_nn__unary_params){.kind = AV_NN_UN_ELU, .alpha = 0.0f};
    check_refused(g, add(g, AV_NN_OP_UNARY, &x, 1, out_t(g, 0, 0), &p));
}

TEST(clamp_leaky_prelu_f32)
{
    av_nn__graph *g = new_graph(220);
    av_nn__tid x = act_in(g, AV_NN_F32, SH(2, 3, 5), 0, 0);
    av_nn__params p = {.clamp = {-0.25f, 1.5f}};
    check_node(g, add(g, AV_NN_OP_CLAMP, &x, 1, out_t(g, 0, 0), &p));
    g = new_graph(221);
    x = act_in(g, AV_NN_F32, SH(2, 3, 5), 0, 0);
    p.clamp = (av_nn__clamp_params){0.0f, INFINITY};
    check_node(g, add(g, AV_NN_OP_CLAMP, &x, 1, out_t(g, 0, 0), &p));
    g = new_graph(222);
    x = act_in(g, AV_NN_F32, SH(2, 3, 5), 0, 0);
    p.leaky.alpha = 0.2f;
    check_node(g, add(g, AV_NN_OP_LEAKY_RELU, &x, 1, out_t(g, 0, 0), &p));
    /* PRELU with per-channel slopes [1,1,C] and with one slope */
    g = new_graph(223);
    av_nn__tid in[2];
    in[0] = act_in(g, AV_NN_F32, SH(1, 4, 6, 8), 0, 0);
    in[1] = konst(g, AV_NN_F32, SH(1, 1, 8), -0.5f, 0.5f);
    check_node(g, add(g, AV_NN_OP_PRELU, in, 2, out_t(g, 0, 0), NULL));
    g = new_graph(224);
    in[0] = act_in(g, AV_NN_F32, SH(3, 7), 0, 0);
    in[1] = konst(g, AV_NN_F32, SH(1), 0.1f, 0.3f);
    check_node(g, add(g, AV_NN_OP_PRELU, in, 2, out_t(g, 0, 0), NULL));
    /* slopes varying along a non-channel axis: refused */
    g = new_graph(225);
    in[0] = act_in(g, AV_NN_F32, SH(1, 4, 6, 8), 0, 0);
    in[1] = konst(g, AV_NN_F32, SH(4, 1, 1), -0.5f, 0.5f);
    check_refused(g, add(g, AV_NN_OP_PRELU, in, 2, out_t(g, 0, 0), NULL));
}

TEST(softmax_f32)
{
    av_nn__graph *g = new_graph(230);
    in_lo = -6, in_hi = 6;
    av_nn__tid x = act_in(g, AV_NN_F32, SH(4, 965), 0, 0);
    av_nn__params p = {.softmax = {.axis = 1, .beta = 1.0f}};
    check_node(g, add(g, AV_NN_OP_SOFTMAX, &x, 1, out_t(g, 0, 0), &p));
    g = new_graph(231);
    x = act_in(g, AV_NN_F32, SH(4, 10), 0, 0);
    p.softmax = (av_nn__softmax_params){.axis = 0, .beta = 1.0f}; /* not the last axis */
    check_refused(g, add(g, AV_NN_OP_SOFTMAX, &x, 1, out_t(g, 0, 0), &p));
}

static void pad(uint64_t seed, av_nn_dtype dt, float s, int32_t zp, float value)
{
    av_nn__graph *g = new_graph(seed);
    av_nn__tid x = act_in(g, dt, SH(2, 3, 4, 5), s, zp);
    av_nn__params p = {.pad = {.mode = AV_NN_PADMODE_CONSTANT, .value = value,
                               .before = {0, 1, 2, 0}, .after = {1, 0, 3, 2}, .resolved = true}};
    check_node(g, add(g, AV_NN_OP_PAD, &x, 1, out_t(g, s, zp), &p));
}

TEST(pad_constant)
{
    pad(240, AV_NN_F32, 0, 0, 0.0f);
    pad(241, AV_NN_F32, 0, 0, -1.5f);
    pad(242, AV_NN_U8, 0.05f, 117, 0.0f); /* quantised zero: the zero point */
    pad(243, AV_NN_I8, 0.1f, -3, 1.0f);
    pad(244, AV_NN_F16, 0, 0, 2.5f);
}

/* ---- quantised ---- */

typedef struct qspec {
    float xs, ws, ys;
    int32_t xz, wz, yz;
} qspec;

static void conv_q(uint64_t seed, av_nn__op op, av_nn_dtype dt, const int64_t *xd,
                   const int64_t *wd, av_nn__conv_params p, qspec q, bool per_channel)
{
    av_nn__graph *g = new_graph(seed);
    av_nn__tid in[3];
    bool fc = op == AV_NN_OP_FULLY_CONNECTED;
    int xr = fc ? 2 : 4, wr = fc ? 2 : 4;
    in[0] = act_in(g, dt, xd, xr, q.xs, q.xz);
    in[1] = konst(g, dt, wd, wr, 0, 0);
    set_q(g, in[1], q.ws, q.wz);
    int64_t o = op == AV_NN_OP_DEPTHWISE_CONV2D ? wd[3] : wd[0];
    if (per_channel) {
        av_nn__quant *wq = &g->tensors[in[1]].quant;
        wq->channel_scales = malloc((size_t)o * sizeof(float));
        CHECK(wq->channel_scales);
        for (int64_t c = 0; c < o; c++)
            wq->channel_scales[c] = q.ws * frand(0.25f, 2.0f);
        wq->n_channels = (int32_t)o;
        wq->axis = op == AV_NN_OP_DEPTHWISE_CONV2D ? 3 : 0;
        wq->scale = 0;
    }
    in[2] = konst(g, AV_NN_I32, &o, 1, 0, 0);
    av_nn__params pp = {.conv = p};
    if (fc)
        pp.fc = (av_nn__fc_params){.act = p.act};
    check_node(g, add(g, op, in, 3, out_t(g, q.ys, q.yz), &pp));
}

/* TFLite MobileNetV2-like quantisation */
static const qspec QU8 = {0.0235f, 0.0047f, 0.0235f, 128, 113, 0};
static const qspec QS8 = {0.031f, 0.0062f, 0.047f, -5, 0, 7};

TEST(conv_qu8)
{
    conv_q(300, AV_NN_OP_CONV2D, AV_NN_U8, D(1, 15, 15, 16), D(24, 3, 3, 16),
           cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6), QU8, false);
    conv_q(301, AV_NN_OP_CONV2D, AV_NN_U8, D(1, 7, 7, 32), D(16, 1, 1, 32),
           cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE), (qspec){0.02f, 0.003f, 0.05f, 131, 140, 122},
           false);
    conv_q(302, AV_NN_OP_DEPTHWISE_CONV2D, AV_NN_U8, D(1, 14, 14, 24), D(1, 3, 3, 24),
           cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6), QU8, false);
    conv_q(303, AV_NN_OP_DEPTHWISE_CONV2D, AV_NN_U8, D(1, 9, 9, 4), D(1, 3, 3, 8),
           cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE), QU8, false);
}

TEST(fully_connected_qu8)
{
    conv_q(310, AV_NN_OP_FULLY_CONNECTED, AV_NN_U8, D(2, 1280), D(965, 1280),
           cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE), (qspec){0.0235f, 0.0008f, 0.08f, 0, 110, 60},
           false);
}

TEST(conv_qs8_qc8)
{
    conv_q(320, AV_NN_OP_CONV2D, AV_NN_I8, D(1, 11, 11, 8), D(12, 3, 3, 8),
           cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU), QS8, false);
    conv_q(321, AV_NN_OP_CONV2D, AV_NN_I8, D(1, 11, 11, 8), D(12, 3, 3, 8),
           cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE), QS8, true);
    conv_q(322, AV_NN_OP_DEPTHWISE_CONV2D, AV_NN_I8, D(1, 10, 10, 16), D(1, 3, 3, 16),
           cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6), QS8, true);
    conv_q(323, AV_NN_OP_FULLY_CONNECTED, AV_NN_I8, D(3, 64), D(10, 64),
           cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE), QS8, false);
    conv_q(324, AV_NN_OP_FULLY_CONNECTED, AV_NN_I8, D(3, 64), D(10, 64),
           cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_RELU), QS8, true);
}

TEST(conv_q_refusals)
{
    /* requantisation scale >= 256 */
    av_nn__graph *g = new_graph(330);
    av_nn__tid in[2];
    in[0] = act_in(g, AV_NN_U8, SH(1, 4, 4, 2), 1.0f, 0);
    in[1] = konst(g, AV_NN_U8, SH(2, 1, 1, 2), 0, 0);
    set_q(g, in[1], 1.0f, 0);
    av_nn__params p = {.conv = cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE)};
    check_refused(g, add(g, AV_NN_OP_CONV2D, in, 2, out_t(g, 1.0f / 512, 0), &p));
    /* weights computed at run time */
    g = new_graph(331);
    in[0] = act_in(g, AV_NN_F32, SH(1, 4, 4, 2), 0, 0);
    in[1] = act_in(g, AV_NN_F32, SH(2, 1, 1, 2), 0, 0);
    check_refused(g, add(g, AV_NN_OP_CONV2D, in, 2, out_t(g, 0, 0), &p));
}

TEST(pool_mean_resize_u8)
{
    pool(340, AV_NN_OP_AVG_POOL2D, AV_NN_U8, D(1, 7, 7, 32), pp(7, 2, AV_NN_PAD_VALID, AV_NN_ACT_NONE),
         0.0235f, 0, 0.0235f, 0);
    pool(341, AV_NN_OP_AVG_POOL2D, AV_NN_U8, D(1, 9, 9, 8), pp(3, 2, AV_NN_PAD_VALID, AV_NN_ACT_RELU),
         0.05f, 100, 0.04f, 90);
    pool(342, AV_NN_OP_MAX_POOL2D, AV_NN_U8, D(1, 9, 9, 8), pp(3, 2, AV_NN_PAD_SAME, AV_NN_ACT_RELU6),
         0.05f, 100, 0.05f, 100);
    mean(343, AV_NN_U8, SH(1, 7, 7, 1280), 0x6, true, 0.0235f, 0, 0.0235f, 0);
    mean(344, AV_NN_U8, SH(2, 5, 5, 16), 0x6, false, 0.05f, 128, 0.03f, 120);
    mean(345, AV_NN_I8, SH(2, 5, 5, 16), 0x6, false, 0.05f, -3, 0.03f, 4);
    resize(346, AV_NN_U8, AV_NN_COORD_ASYMMETRIC, D(1, 5, 7, 3), 11, 16, 0.1f, 7);
    resize(347, AV_NN_U8, AV_NN_COORD_HALF_PIXEL, D(1, 5, 7, 3), 11, 16, 0.1f, 7);
    resize(348, AV_NN_U8, AV_NN_COORD_ALIGN_CORNERS, D(1, 6, 6, 5), 3, 4, 0.1f, 7);
}

TEST(avg_pool_qu8_padded_refused)
{
    /* XNNPACK's qu8 average pooling counts padding (as zero points); TFLite does not */
    av_nn__graph *g = new_graph(349);
    av_nn__tid x = act_in(g, AV_NN_U8, SH(1, 9, 9, 8), 0.05f, 100);
    av_nn__params p = {.pool = pp(3, 2, AV_NN_PAD_SAME, AV_NN_ACT_NONE)};
    check_refused(g, add(g, AV_NN_OP_AVG_POOL2D, &x, 1, out_t(g, 0.05f, 100), &p));
}

TEST(binary_q)
{
    binary(350, AV_NN_BIN_ADD, AV_NN_U8, SH(1, 8, 8, 24), SH(1, 8, 8, 24), false,
           AV_NN_ACT_NONE, 0.03f, 120, 0.02f, 131, 0.04f, 126);
    binary(351, AV_NN_BIN_ADD, AV_NN_U8, SH(2, 4, 6), SH(6), false, AV_NN_ACT_RELU6, 0.03f, 120,
           0.02f, 131, 0.04f, 126);
    binary(352, AV_NN_BIN_SUB, AV_NN_U8, SH(2, 4, 6), SH(4, 1), false, AV_NN_ACT_NONE, 0.03f,
           120, 0.02f, 131, 0.04f, 126);
    binary(353, AV_NN_BIN_MUL, AV_NN_U8, SH(2, 4, 6), SH(2, 4, 6), false, AV_NN_ACT_NONE, 0.03f,
           120, 0.02f, 131, 0.01f, 100);
    binary(354, AV_NN_BIN_ADD, AV_NN_I8, SH(3, 9), SH(3, 9), false, AV_NN_ACT_RELU, 0.03f, -2,
           0.02f, 5, 0.04f, -1);
    binary(355, AV_NN_BIN_MUL, AV_NN_I8, SH(3, 9), SH(1, 9), false, AV_NN_ACT_NONE, 0.03f, -2,
           0.02f, 5, 0.01f, 3);
}

TEST(elementwise_q)
{
    av_nn__graph *g = new_graph(360);
    av_nn__tid x = act_in(g, AV_NN_U8, SH(4, 965), 0.1f, 140);
    av_nn__params p = {.softmax = {.axis = -1, .beta = 1.0f}};
    check_node(g, add(g, AV_NN_OP_SOFTMAX, &x, 1, out_t(g, 1.0f / 256, 0), &p));
    g = new_graph(361);
    x = act_in(g, AV_NN_U8, SH(3, 10), 0.2f, 128);
    p.softmax.beta = 0.5f;
    check_node(g, add(g, AV_NN_OP_SOFTMAX, &x, 1, out_t(g, 1.0f / 256, 0), &p));
    g = new_graph(362);
    x = act_in(g, AV_NN_U8, SH(5, 7), 0.05f, 100);
    p.clamp = (av_nn__clamp_params){-1.0f, 2.0f};
    check_node(g, add(g, AV_NN_OP_CLAMP, &x, 1, out_t(g, 0.05f, 100), &p));
    g = new_graph(363);
    x = act_in(g, AV_NN_U8, SH(5, 7), 0.05f, 100);
    p.unary = (av_nn__unary_params){.kind = AV_NN_UN_SIGMOID};
    check_node(g, add(g, AV_NN_OP_UNARY, &x, 1, out_t(g, 1.0f / 256, 0), &p));
    g = new_graph(364);
    x = act_in(g, AV_NN_I8, SH(5, 7), 0.05f, 3);
    p.unary = (av_nn__unary_params){.kind = AV_NN_UN_TANH};
    check_node(g, add(g, AV_NN_OP_UNARY, &x, 1, out_t(g, 1.0f / 128, 0), &p));
    /* sigmoid into a non-table output quantisation: refused */
    g = new_graph(365);
    x = act_in(g, AV_NN_U8, SH(5, 7), 0.05f, 100);
    p.unary = (av_nn__unary_params){.kind = AV_NN_UN_SIGMOID};
    check_refused(g, add(g, AV_NN_OP_UNARY, &x, 1, out_t(g, 0.01f, 0), &p));
}

/* ---- data movement: our strided-copy kernel on the pool ---- */

static const av_nn_dtype data_dtypes[] = {AV_NN_F32, AV_NN_F16, AV_NN_U8, AV_NN_I8,
                                          AV_NN_I32, AV_NN_I64, AV_NN_BOOL};
#define N_DATA_DTYPES (int)(sizeof data_dtypes / sizeof data_dtypes[0])

/* Random rank 1..5 shape with odd sizes and unit axes mixed in. */
static int rand_shape(int64_t *d, int max_rank)
{
    int r = 1 + (int)(rnd() % (unsigned)max_rank);
    for (int i = 0; i < r; i++)
        d[i] = rnd() % 5 == 0 ? 1 : 1 + (int64_t)(rnd() % 9);
    return r;
}

static av_nn__tid data_in(av_nn__graph *g, av_nn_dtype dt, const int64_t *d, int r)
{
    bool q = dt == AV_NN_U8 || dt == AV_NN_I8;
    return act_in(g, dt, d, r, q ? 0.05f : 0, q ? 3 : 0);
}

TEST(transpose_random_shapes_all_dtypes)
{
    for (int c = 0; c < 74; c++) {
        av_nn__graph *g = new_graph(400 + (uint64_t)c);
        int64_t d[AV_NN_MAX_RANK];
        int r = rand_shape(d, 5);
        av_nn__params p = {.transpose = {.rank = r}};
        if (c >= 60) { /* few channels, many pixels: rows of 3 become long rows of pieces */
            static const int64_t hw[7][3] = {{2, 64, 70}, {1, 416, 416}, {1, 67, 67},
                                              {3, 128, 1}, {1, 96, 33}, {2, 5, 256},
                                              {1, 1, 8192}};
            const int64_t *s = hw[(c - 60) % 7];
            r = p.transpose.rank = 4;
            d[0] = s[0], d[1] = c < 67 ? 3 : 2, d[2] = s[1], d[3] = s[2];
            for (int i = 0; i < 4; i++)
                p.transpose.perm[i] = (int[]){0, 2, 3, 1}[i];
            av_nn__tid x = data_in(g, data_dtypes[c % N_DATA_DTYPES], d, r);
            check_node(g, add(g, AV_NN_OP_TRANSPOSE, &x, 1, out_t(g, 0, 0), &p));
            continue;
        }
        for (int i = 0; i < r; i++)
            p.transpose.perm[i] = i;
        for (int i = r - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)(rnd() % (unsigned)(i + 1)), t = p.transpose.perm[i];
            p.transpose.perm[i] = p.transpose.perm[j], p.transpose.perm[j] = t;
        }
        if (c == 0) { /* the NCHW -> NHWC wrapper, large enough for several pool tasks */
            r = 4, d[0] = 1, d[1] = 12, d[2] = 67, d[3] = 45;
            memcpy(p.transpose.perm, (int[]){0, 2, 3, 1}, 4 * sizeof(int));
        }
        av_nn__tid x = data_in(g, data_dtypes[c % N_DATA_DTYPES], d, r);
        check_node(g, add(g, AV_NN_OP_TRANSPOSE, &x, 1, out_t(g, 0, 0), &p));
    }
}

static av_nn__tid i64_vec(av_nn__graph *g, const int64_t *v, int64_t n)
{
    int64_t *p = malloc((size_t)n * sizeof *p);
    CHECK(p);
    memcpy(p, v, (size_t)n * sizeof *p);
    av_nn__tid t = av_nn__add_tensor(g, "k", AV_NN_I64, 1, &n, p, true);
    CHECK(t >= 0);
    return t;
}

TEST(slice_random_strided_all_dtypes)
{
    for (int c = 0; c < 60; c++) {
        av_nn__graph *g = new_graph(500 + (uint64_t)c);
        int64_t d[AV_NN_MAX_RANK], b[AV_NN_MAX_RANK], e[AV_NN_MAX_RANK], st[AV_NN_MAX_RANK];
        int r = rand_shape(d, 5);
        if (c == 0) /* the space-to-depth stem: every other row and column */
            r = 4, d[0] = 1, d[1] = 3, d[2] = 64, d[3] = 70;
        for (int i = 0; i < r; i++) {
            st[i] = (int64_t)(rnd() % 3) + 1;
            if (rnd() % 4 == 0)
                st[i] = -st[i];
            b[i] = (int64_t)(rnd() % (uint64_t)(d[i] + 2)) - 1;
            e[i] = st[i] > 0 ? d[i] + 1 : -(d[i] + 2); /* clamped to the far end */
            if (rnd() % 2)
                e[i] = (int64_t)(rnd() % (uint64_t)(d[i] + 1));
            if (c == 0)
                b[i] = i >= 2, e[i] = d[i], st[i] = i >= 2 ? 2 : 1;
        }
        int64_t rr = r;
        av_nn__tid in[5];
        in[0] = data_in(g, data_dtypes[c % N_DATA_DTYPES], d, r);
        in[1] = i64_vec(g, b, rr);
        in[2] = i64_vec(g, e, rr);
        in[3] = -1;
        in[4] = i64_vec(g, st, rr);
        av_nn__params p = {.slice = {.tf_semantics = false}};
        int k = add(g, AV_NN_OP_SLICE, in, 5, out_t(g, 0, 0), &p);
        if (av_nn__numel(&g->tensors[g->nodes[k].out[0]]) == 0) {
            av_nn__graph_free(g); /* empty slices need no kernel */
            continue;
        }
        check_node(g, k);
    }
}

TEST(concat_split_random_axes_all_dtypes)
{
    for (int c = 0; c < 60; c++) {
        av_nn__graph *g = new_graph(600 + (uint64_t)c);
        int64_t d[AV_NN_MAX_RANK];
        int r = rand_shape(d, 5), axis = (int)(rnd() % (unsigned)r), parts = 1 + (int)(rnd() % 4);
        av_nn_dtype dt = data_dtypes[c % N_DATA_DTYPES];
        if (c % 2 == 0) {
            av_nn__tid in[4];
            for (int i = 0; i < parts; i++) {
                d[axis] = 1 + (int64_t)(rnd() % 6);
                in[i] = data_in(g, dt, d, r);
            }
            av_nn__params p = {.axis = {.axis = axis - (int)(rnd() % 2) * r}};
            av_nn__tid y = out_t(g, 0, 0);
            bool q = dt == AV_NN_U8 || dt == AV_NN_I8;
            set_q(g, y, q ? 0.05f : 0, q ? 3 : 0);
            check_node(g, add(g, AV_NN_OP_CONCAT, in, parts, y, &p));
        } else {
            int64_t sizes[4], total = 0;
            for (int i = 0; i < parts; i++)
                total += sizes[i] = (int64_t)(rnd() % 5);
            d[axis] = total;
            av_nn__tid x = data_in(g, dt, d, r), y[4];
            for (int i = 0; i < parts; i++)
                y[i] = out_t(g, 0, 0);
            av_nn__params p = {.split = {.axis = axis, .resolved = true}};
            memcpy(p.split.sizes, sizes, sizeof sizes);
            int k = av_nn__add_node(g, AV_NN_OP_SPLIT, "split", &x, 1, y, parts, &p);
            CHECK(k >= 0);
            char err[256] = "";
            CHECK_MSG(av_nn__infer_node(g, &g->nodes[k], err, sizeof err) == AV_NN_OK, "%s", err);
            if (av_nn__numel(&g->tensors[x]) == 0) {
                av_nn__graph_free(g);
                continue;
            }
            check_node(g, k);
        }
    }
}

/* CenterNet's peak mask: equal(maxpool(k), k) -> bool -> f32; sizes span pool tasks. */
TEST(equal_and_mask_cast)
{
    static const int64_t sizes[] = {1, 7, 16385 * 2 + 3};
    for (int i = 0; i < 3; i++) {
        av_nn__graph *g = new_graph(700 + (uint64_t)i);
        in_quarter = true; /* multiples of 0.25 in [-2, 2]: many equal pairs */
        av_nn__tid in[2] = {act_in(g, AV_NN_F32, &sizes[i], 1, 0, 0),
                            act_in(g, AV_NN_F32, &sizes[i], 1, 0, 0)};
        av_nn__params p = {.binary = {.kind = AV_NN_BIN_EQUAL}};
        check_node(g, add(g, AV_NN_OP_BINARY, in, 2, out_t(g, 0, 0), &p));
        for (int k = 0; k < 2; k++) {
            g = new_graph(710 + (uint64_t)(i * 2 + k));
            av_nn__tid x = act_in(g, k ? AV_NN_U8 : AV_NN_BOOL, &sizes[i], 1, 0, 0);
            av_nn__params c = {.cast = {.to = AV_NN_F32}};
            check_node(g, add(g, AV_NN_OP_CAST, &x, 1, out_t(g, 0, 0), &c));
        }
    }
    av_nn__graph *g = new_graph(720); /* broadcasting stays on the reference */
    av_nn__tid in[2] = {act_in(g, AV_NN_F32, SH(3, 4), 0, 0), act_in(g, AV_NN_F32, SH(4), 0, 0)};
    av_nn__params p = {.binary = {.kind = AV_NN_BIN_EQUAL}};
    check_refused(g, add(g, AV_NN_OP_BINARY, in, 2, out_t(g, 0, 0), &p));
}

TEST(concat_requantising_left_to_ref)
{
    av_nn__graph *g = new_graph(370);
    av_nn__tid in[2] = {act_in(g, AV_NN_U8, SH(2, 3), 0.05f, 3),
                        act_in(g, AV_NN_U8, SH(2, 3), 0.1f, 3)};
    av_nn__params p = {.axis = {.axis = 1}};
    check_refused(g, add(g, AV_NN_OP_CONCAT, in, 2, out_t(g, 0.05f, 3), &p));
}

/* ---- through the public API: a small network on both backends ---- */

/* Activation tensor of unknown shape between two nodes. */
static av_nn__tid mid(av_nn__graph *g, float scale, int32_t zp)
{
    av_nn__tid t = av_nn__add_tensor(g, "t", AV_NN_F32, -1, NULL, NULL, false);
    CHECK(t >= 0);
    set_q(g, t, scale, zp);
    return t;
}

static void node2(av_nn__graph *g, av_nn__op op, const av_nn__tid *in, int n_in, av_nn__tid out,
                  const av_nn__params *p)
{
    CHECK(av_nn__add_node(g, op, "n", in, n_in, &out, 1, p) >= 0);
}

/* Finalizes g (one input, one output, every node XNNPACK's), runs it through
 * the public API on both backends and compares; frees g. */
static void check_model(av_nn__graph *g)
{
    char err[256] = "";
    av_nn_status st = av_nn__graph_finalize(g, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "finalize: %s", err);
    for (int j = 0; j < g->n_order; j++) { /* else the comparison would be ref vs ref */
        const av_nn__node *n = &g->nodes[g->order[j]];
        CHECK_MSG(av_nn__backend_xnn.supports_op(g, n), "xnn refuses node %d (%s)", j,
                  av_nn__op_name(n->op));
    }
    av_nn_model *m = NULL;
    st = av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "model: %s", err);
    const av_nn__tensor *xt = &m->g->tensors[m->g->inputs[0]];
    const av_nn__tensor *yt = &m->g->tensors[m->g->outputs[0]];
    void *x = buf_for(xt), *y[2] = {buf_for(yt), buf_for(yt)};
    fill(x, xt->dtype, av_nn__numel(xt));
    for (int b = 0; b < 2; b++) {
        av_nn_ctx_opts o = {.threads = 2,
                            .backend = b ? AV_NN_BACKEND_REFERENCE : AV_NN_BACKEND_XNNPACK};
        av_nn_ctx *c = NULL;
        st = av_nn_ctx_new(m, &o, &c, err, sizeof err);
        CHECK_MSG(st == AV_NN_OK, "ctx: %s", err);
        const void *in[1] = {x};
        st = av_nn_run(c, in, &y[b], err, sizeof err);
        CHECK_MSG(st == AV_NN_OK, "run: %s", err);
        av_nn_ctx_free(c);
    }
    compare(yt, y[0], y[1], "network");
    free(x);
    free(y[0]);
    free(y[1]);
    av_nn_model_free(m);
}

TEST(network_f32_on_both_backends)
{
    av_nn__graph *g = new_graph(400);
    av_nn__tid x = act_in(g, AV_NN_F32, SH(1, 16, 16, 3), 0, 0);
    av_nn__tid t1 = mid(g, 0, 0), t2 = mid(g, 0, 0), t3 = mid(g, 0, 0), t4 = mid(g, 0, 0);
    av_nn__tid t5 = mid(g, 0, 0), y = out_t(g, 0, 0);
    av_nn__params p = {.conv = cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6)};
    node2(g, AV_NN_OP_CONV2D,
          (av_nn__tid[]){x, konst(g, AV_NN_F32, SH(8, 3, 3, 3), -1, 1),
                         konst(g, AV_NN_F32, SH(8), -1, 1)},
          3, t1, &p);
    node2(g, AV_NN_OP_DEPTHWISE_CONV2D,
          (av_nn__tid[]){t1, konst(g, AV_NN_F32, SH(1, 3, 3, 8), -1, 1),
                         konst(g, AV_NN_F32, SH(8), -1, 1)},
          3, t2, &p);
    p = (av_nn__params){.binary = {.kind = AV_NN_BIN_ADD}};
    node2(g, AV_NN_OP_BINARY, (av_nn__tid[]){t2, konst(g, AV_NN_F32, SH(8), -1, 1)}, 2, t3, &p);
    p = (av_nn__params){.reduce = {.kind = AV_NN_REDUCE_MEAN, .axes_mask = 0x6}};
    node2(g, AV_NN_OP_REDUCE, &t3, 1, t4, &p);
    p = (av_nn__params){.fc = {.act = act_of(AV_NN_ACT_NONE)}};
    node2(g, AV_NN_OP_FULLY_CONNECTED,
          (av_nn__tid[]){t4, konst(g, AV_NN_F32, SH(10, 8), -1, 1),
                         konst(g, AV_NN_F32, SH(10), -1, 1)},
          3, t5, &p);
    p = (av_nn__params){.softmax = {.axis = -1, .beta = 1.0f}};
    node2(g, AV_NN_OP_SOFTMAX, &t5, 1, y, &p);
    check_model(g);
}

TEST(network_qu8_on_both_backends)
{
    av_nn__graph *g = new_graph(401);
    av_nn__tid x = act_in(g, AV_NN_U8, SH(1, 14, 14, 3), 1.0f / 128, 128);
    av_nn__tid t1 = mid(g, 0.0235f, 0), t2 = mid(g, 0.0235f, 0), t3 = mid(g, 0.03f, 5);
    av_nn__tid t4 = mid(g, 0.03f, 5), t5 = mid(g, 0.1f, 130), y = out_t(g, 1.0f / 256, 0);
    av_nn__tid w1 = konst(g, AV_NN_U8, SH(8, 3, 3, 3), 0, 0);
    av_nn__tid w2 = konst(g, AV_NN_U8, SH(1, 3, 3, 8), 0, 0);
    av_nn__tid w3 = konst(g, AV_NN_U8, SH(10, 8), 0, 0);
    set_q(g, w1, 0.02f, 120), set_q(g, w2, 0.01f, 130), set_q(g, w3, 0.005f, 128);
    av_nn__params p = {.conv = cp(2, 1, AV_NN_PAD_SAME, AV_NN_ACT_RELU6)};
    node2(g, AV_NN_OP_CONV2D, (av_nn__tid[]){x, w1, konst(g, AV_NN_I32, SH(8), 0, 0)}, 3, t1, &p);
    p.conv.stride_h = p.conv.stride_w = 1;
    node2(g, AV_NN_OP_DEPTHWISE_CONV2D,
          (av_nn__tid[]){t1, w2, konst(g, AV_NN_I32, SH(8), 0, 0)}, 3, t2, &p);
    p = (av_nn__params){.binary = {.kind = AV_NN_BIN_ADD}};
    node2(g, AV_NN_OP_BINARY, (av_nn__tid[]){t1, t2}, 2, t3, &p);
    p = (av_nn__params){.pool = pp(7, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE)};
    node2(g, AV_NN_OP_AVG_POOL2D, &t3, 1, t4, &p);
    p = (av_nn__params){.fc = {.act = act_of(AV_NN_ACT_NONE)}};
    node2(g, AV_NN_OP_FULLY_CONNECTED, (av_nn__tid[]){t4, w3, konst(g, AV_NN_I32, SH(10), 0, 0)},
          3, t5, &p);
    p = (av_nn__params){.softmax = {.axis = -1, .beta = 1.0f}};
    node2(g, AV_NN_OP_SOFTMAX, &t5, 1, y, &p);
    check_model(g);
}

TEST_MAIN(T(conv_f32_same_bias), T(conv_f32_stride_dilation_pads_relu6), T(conv_f32_groups_clamp),
          T(conv_f32_fused_leaky_sigmoid_relu_n1), T(conv_dw_fused_silu),
          T(conv_own_gemm_random_shapes), T(conv_own_gemm_reads_stay_in_the_input),
          T(conv_own_gemm_forced_off),
          T(conv_f16_weights_refused), T(silu_kernels_odd_sizes), T(silu_forced_portable), T(sigmoid_span_both_kernels),
          T(conv_f32_mobilenet_3x3), T(depthwise_f32), T(transpose_conv_f32),
          T(fully_connected_f32), T(max_pool_f32), T(avg_pool_f32), T(pool_refusals),
          T(reduce_mean_f32), T(reduce_refusals), T(resize_bilinear_f32_modes),
          T(resize_refusals), T(binary_f32_broadcast), T(unary_f32), T(hardswish_scaled_odd_sizes), T(unary_refusals),
          T(topk_random_ties_exact), T(topk_refusals),
          T(clamp_leaky_prelu_f32), T(softmax_f32), T(pad_constant), T(conv_qu8),
          T(fully_connected_qu8), T(conv_qs8_qc8), T(conv_q_refusals), T(pool_mean_resize_u8), T(avg_pool_qu8_padded_refused),
          T(binary_q), T(elementwise_q), T(transpose_random_shapes_all_dtypes),
          T(slice_random_strided_all_dtypes), T(concat_split_random_axes_all_dtypes),
          T(equal_and_mask_cast), T(concat_requantising_left_to_ref),
          T(network_f32_on_both_backends), T(network_qu8_on_both_backends))
