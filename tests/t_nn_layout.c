/*
 * t_nn_layout.c - the layout pass (pass_layout.c) against the graph as built.
 *
 * Each case builds an NCHW graph the way the ONNX loader does (every NHWC
 * conv wrapped in transposes, layout-agnostic ops in between), evaluates it
 * node by node with the reference kernels before finalize, then finalizes
 * it (the pass runs there) and runs it through the public API on both
 * backends: outputs must agree, and the transposes must be gone except at
 * the edges. Shapes are random and odd-sized, seeded per case.
 */
#include "harness.h"

#include "nn/core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng;

static uint32_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static float frand(void)
{
    return -1.0f + 2.0f * (float)(rnd() & 0xffffff) / (float)0xffffff;
}

typedef struct gb {
    av_nn__graph *g;
    int n_built; /* nodes in build order, for the reference evaluation */
} gb;

static av_nn__tid tensor(gb *b, const int64_t *d, int r, bool random_const)
{
    void *data = NULL;
    if (random_const) {
        int64_t n = 1;
        for (int i = 0; i < r; i++)
            n *= d[i];
        float *f = malloc((size_t)n * sizeof *f + 1);
        CHECK(f);
        for (int64_t i = 0; i < n; i++)
            f[i] = frand();
        data = f;
    }
    av_nn__tid t = av_nn__add_tensor(b->g, "t", AV_NN_F32, data ? r : -1, data ? d : NULL, data,
                                     true);
    CHECK(t >= 0);
    return t;
}

static av_nn__tid i64_const(gb *b, const int64_t *v, int64_t n)
{
    int64_t *p = malloc((size_t)n * sizeof *p + 1);
    CHECK(p);
    memcpy(p, v, (size_t)n * sizeof *p);
    av_nn__tid t = av_nn__add_tensor(b->g, "c", AV_NN_I64, 1, &n, p, true);
    CHECK(t >= 0);
    return t;
}

static av_nn__tid node(gb *b, av_nn__op op, const av_nn__tid *in, int n_in, const av_nn__params *p)
{
    av_nn__tid y = tensor(b, NULL, 0, false);
    int k = av_nn__add_node(b->g, op, "n", in, n_in, &y, 1, p);
    CHECK(k >= 0);
    char err[256] = "";
    CHECK_MSG(av_nn__infer_node(b->g, &b->g->nodes[k], err, sizeof err) == AV_NN_OK, "infer: %s",
              err);
    b->n_built++;
    return y;
}

static av_nn__tid transpose(gb *b, av_nn__tid x, const int *perm, int r)
{
    av_nn__params p = {.transpose = {.rank = r}};
    memcpy(p.transpose.perm, perm, sizeof(int) * (size_t)r);
    return node(b, AV_NN_OP_TRANSPOSE, &x, 1, &p);
}

static const int TO_NHWC[4] = {0, 2, 3, 1}, TO_NCHW[4] = {0, 3, 1, 2};

/* x NCHW -> NHWC conv (k x k, stride s, SAME-like explicit pads) -> NCHW, as ONNX lowers it */
static av_nn__tid conv_nchw(gb *b, av_nn__tid x, int64_t cout, int k, int s, bool depthwise)
{
    av_nn__tid xh = transpose(b, x, TO_NHWC, 4);
    int64_t cin = b->g->tensors[xh].dims[3];
    av_nn__params p = {.conv = {.stride_h = s, .stride_w = s, .padding = AV_NN_PAD_EXPLICIT,
                                .pad_top = k / 2, .pad_left = k / 2, .pad_bottom = k / 2,
                                .pad_right = k / 2, .groups = 1}};
    av_nn__tid in[3];
    in[0] = xh;
    if (depthwise) {
        in[1] = tensor(b, (int64_t[]){1, k, k, cin}, 4, true);
        in[2] = tensor(b, (int64_t[]){cin}, 1, true);
    } else {
        in[1] = tensor(b, (int64_t[]){cout, k, k, cin}, 4, true);
        in[2] = tensor(b, (int64_t[]){cout}, 1, true);
    }
    av_nn__tid y = node(b, depthwise ? AV_NN_OP_DEPTHWISE_CONV2D : AV_NN_OP_CONV2D, in, 3, &p);
    return transpose(b, y, TO_NCHW, 4);
}

static av_nn__tid unary(gb *b, av_nn__tid x, av_nn__unary_kind k)
{
    av_nn__params p = {.unary = {.kind = k}};
    return node(b, AV_NN_OP_UNARY, &x, 1, &p);
}

static av_nn__tid binary(gb *b, av_nn__tid x, av_nn__tid y, av_nn__binary_kind k)
{
    av_nn__params p = {.binary = {.kind = k}};
    av_nn__tid in[2] = {x, y};
    return node(b, AV_NN_OP_BINARY, in, 2, &p);
}

/* Evaluates nodes 0..n_built-1 with the reference kernels; returns the
 * buffer of tensor `want` (caller frees bufs via free_bufs). */
static void **reference_eval(gb *b, const float *input, av_nn__tid x)
{
    av_nn__graph *g = b->g;
    void **bufs = calloc((size_t)g->n_tensors, sizeof *bufs);
    CHECK(bufs);
    bufs[x] = (void *)input;
    for (int k = 0; k < b->n_built; k++) {
        const av_nn__node *n = &g->nodes[k];
        const void *in[AV_NN_MAX_NODE_INPUTS];
        for (int i = 0; i < n->n_in; i++)
            in[i] = n->in[i] < 0                  ? NULL
                    : g->tensors[n->in[i]].data ? g->tensors[n->in[i]].data
                                                : bufs[n->in[i]];
        void *out[1];
        out[0] = bufs[n->out[0]] = calloc(1, (size_t)av_nn__nbytes(&g->tensors[n->out[0]]) + 64);
        CHECK(out[0]);
        char err[256] = "";
        CHECK_MSG(av_nn__ref_run(g, n, in, out, err, sizeof err) == AV_NN_OK, "ref: %s", err);
    }
    bufs[x] = NULL;
    return bufs;
}

/* Finalizes b's graph, runs it on both backends, compares output y with want. */
static void check_against(gb *b, av_nn__tid x, av_nn__tid y, const float *input,
                          const float *want, int max_transposes)
{
    av_nn__graph *g = b->g;
    int64_t n_out = av_nn__numel(&g->tensors[y]);
    char err[256] = "";
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "finalize: %s", err);
    int n_tr = 0;
    for (int j = 0; j < g->n_order; j++)
        n_tr += g->nodes[g->order[j]].op == AV_NN_OP_TRANSPOSE;
    CHECK_MSG(n_tr <= max_transposes, "%d transposes left (at most %d expected)", n_tr,
              max_transposes);
    (void)x;
    av_nn_model *m = NULL;
    CHECK_MSG(av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) ==
                  AV_NN_OK,
              "model: %s", err);
    float *got = malloc((size_t)n_out * sizeof *got);
    CHECK(got);
    for (int be = 0; be < 2; be++) {
        av_nn_ctx_opts o = {.threads = 2,
                            .backend = be ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE};
        av_nn_ctx *c = NULL;
        CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "ctx: %s", err);
        const void *ins[1] = {input};
        void *outs[1] = {got};
        CHECK_MSG(av_nn_run(c, ins, outs, err, sizeof err) == AV_NN_OK, "run: %s", err);
        for (int64_t i = 0; i < n_out; i++)
            CHECK_MSG(fabsf(got[i] - want[i]) <= 1e-4f * (fabsf(want[i]) > 1 ? fabsf(want[i]) : 1),
                      "backend %d element %lld: %.7g vs %.7g before the pass", be, (long long)i,
                      got[i], want[i]);
        av_nn_ctx_free(c);
    }
    free(got);
    av_nn_model_free(m);
}

/*
 * YOLOX / NanoDet shapes: strided-slice stem, conv + SiLU (sigmoid, mul),
 * residual add, per-channel constant add, zero pad before a conv, concat
 * on channels, softmax over channels, reduce with keep_dims, and a head
 * reshape [N,C,H*W] transposed to [N,H*W,C]. Only the input's transpose
 * (in front of the first conv) may remain.
 */
static void nchw_network(uint64_t seed)
{
    rng = seed * 0x9e3779b97f4a7c15ull + 7;
    gb b = {av_nn__graph_new(), 0};
    CHECK(b.g);
    int64_t C = 1 + rnd() % 4, H = 6 + rnd() % 9, W = 6 + rnd() % 9, F = 2 + rnd() % 6;
    av_nn__tid x = av_nn__add_tensor(b.g, "x", AV_NN_F32, 4, (int64_t[]){1, C, H, W}, NULL, false);
    CHECK(x >= 0 && av_nn__mark_input(b.g, x) >= 0);
    /* stem: rows 0::2 then columns 1::2 (a space-to-depth quarter) */
    av_nn__params sp = {.slice = {.tf_semantics = false}};
    av_nn__tid s_in[5] = {x, i64_const(&b, (int64_t[]){0}, 1), i64_const(&b, (int64_t[]){H}, 1),
                          i64_const(&b, (int64_t[]){2}, 1), i64_const(&b, (int64_t[]){2}, 1)};
    av_nn__tid s1 = node(&b, AV_NN_OP_SLICE, s_in, 5, &sp);
    s_in[0] = s1, s_in[1] = i64_const(&b, (int64_t[]){1}, 1);
    s_in[2] = i64_const(&b, (int64_t[]){W}, 1), s_in[3] = i64_const(&b, (int64_t[]){3}, 1);
    av_nn__tid s2 = node(&b, AV_NN_OP_SLICE, s_in, 5, &sp);
    av_nn__params cat = {.axis = {.axis = 1}};
    av_nn__tid st[2] = {s2, s2};
    av_nn__tid stem = node(&b, AV_NN_OP_CONCAT, st, 2, &cat);
    av_nn__tid c1 = conv_nchw(&b, stem, F, 3, 1, false);
    av_nn__tid a1 = binary(&b, c1, unary(&b, c1, AV_NN_UN_SIGMOID), AV_NN_BIN_MUL);
    av_nn__tid c2 = conv_nchw(&b, a1, F, 3, 1, true);
    av_nn__tid a2 = binary(&b, c2, unary(&b, c2, AV_NN_UN_SIGMOID), AV_NN_BIN_MUL);
    av_nn__tid res = binary(&b, a2, a1, AV_NN_BIN_ADD);
    av_nn__tid shift = binary(&b, res, tensor(&b, (int64_t[]){F, 1, 1}, 3, true), AV_NN_BIN_ADD);
    av_nn__params pad = {.pad = {.mode = AV_NN_PADMODE_CONSTANT}};
    av_nn__tid p_in[2] = {shift, i64_const(&b, (int64_t[]){0, 0, 1, 1, 0, 0, 1, 1}, 8)};
    av_nn__tid padded = node(&b, AV_NN_OP_PAD, p_in, 2, &pad);
    av_nn__params vp = {.conv = {.stride_h = 2, .stride_w = 2, .padding = AV_NN_PAD_EXPLICIT,
                                 .groups = 1}};
    av_nn__tid ph = transpose(&b, padded, TO_NHWC, 4);
    av_nn__tid v_in[3] = {ph, tensor(&b, (int64_t[]){F, 3, 3, F}, 4, true),
                          tensor(&b, (int64_t[]){F}, 1, true)};
    av_nn__tid c3 = transpose(&b, node(&b, AV_NN_OP_CONV2D, v_in, 3, &vp), TO_NCHW, 4);
    av_nn__tid cc[2] = {c3, unary(&b, c3, AV_NN_UN_TANH)};
    av_nn__tid joined = node(&b, AV_NN_OP_CONCAT, cc, 2, &cat);
    av_nn__params sm = {.softmax = {.axis = 1}};
    av_nn__tid soft = node(&b, AV_NN_OP_SOFTMAX, &joined, 1, &sm);
    av_nn__params rd = {.reduce = {.kind = AV_NN_REDUCE_MEAN, .axes_mask = 1u << 1,
                                   .keep_dims = true}};
    av_nn__tid mean = node(&b, AV_NN_OP_REDUCE, &soft, 1, &rd);
    av_nn__tid scaled = binary(&b, soft, mean, AV_NN_BIN_SUB);
    const av_nn__tensor *sc = &b.g->tensors[scaled];
    av_nn__params rs = {.reshape = {.rank = 3, .dims = {1, sc->dims[1], sc->dims[2] * sc->dims[3]}}};
    av_nn__tid flat = node(&b, AV_NN_OP_RESHAPE, &scaled, 1, &rs);
    av_nn__tid y = transpose(&b, flat, (int[]){0, 2, 1}, 3);
    CHECK(av_nn__mark_output(b.g, y) >= 0);

    int64_t n_in = C * H * W;
    float *input = malloc((size_t)n_in * sizeof *input);
    CHECK(input);
    for (int64_t i = 0; i < n_in; i++)
        input[i] = frand();
    void **bufs = reference_eval(&b, input, x);
    int n_tensors = b.g->n_tensors;
    check_against(&b, x, y, input, bufs[y], 1);
    for (int t = 0; t < n_tensors; t++)
        free(bufs[t]);
    free(bufs);
    free(input);
}

TEST(nchw_network_matches_and_keeps_one_transpose)
{
    for (uint64_t s = 1; s <= 6; s++)
        nchw_network(s);
}

/* A transpose whose consumer is not layout-agnostic stays, and the result holds. */
TEST(transpose_before_matmul_kept)
{
    rng = 99;
    gb b = {av_nn__graph_new(), 0};
    CHECK(b.g);
    av_nn__tid x = av_nn__add_tensor(b.g, "x", AV_NN_F32, 3, (int64_t[]){2, 3, 5}, NULL, false);
    CHECK(x >= 0 && av_nn__mark_input(b.g, x) >= 0);
    av_nn__tid t = transpose(&b, x, (int[]){0, 2, 1}, 3);
    av_nn__tid e = unary(&b, t, AV_NN_UN_EXP);
    av_nn__tid mm[2] = {e, tensor(&b, (int64_t[]){3, 4}, 2, true)};
    av_nn__tid y = node(&b, AV_NN_OP_MATMUL, mm, 2, &(av_nn__params){0});
    CHECK(av_nn__mark_output(b.g, y) >= 0);
    float input[30];
    for (int i = 0; i < 30; i++)
        input[i] = frand();
    void **bufs = reference_eval(&b, input, x);
    int n_tensors = b.g->n_tensors;
    check_against(&b, x, y, input, bufs[y], 1);
    for (int i = 0; i < n_tensors; i++)
        free(bufs[i]);
    free(bufs);
}

TEST_MAIN(T(nchw_network_matches_and_keeps_one_transpose), T(transpose_before_matmul_kept))
