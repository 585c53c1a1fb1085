/*
 * t_nn_onnx.c - the protobuf reader and the ONNX loader on hand-built and
 * hostile input: varints, lengths past the end, packed fields, nesting
 * depth, huge dims, cycles, undefined tensors, unsupported ops and dtypes,
 * and every truncation / byte flip of a valid model (no crash, clean
 * status). Small valid models are built with a protobuf writer below and
 * run through the public API.
 */
#include "harness.h"

#include "nn/nn.h"
#include "nn/load/onnx.h"
#include "nn/load/pb.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- a minimal protobuf writer ---- */

typedef struct pbw {
    uint8_t *b;
    size_t n, cap;
} pbw;

static void w_raw(pbw *w, const void *p, size_t n)
{
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 64;
        while (cap < w->n + n)
            cap *= 2;
        uint8_t *nb = realloc(w->b, cap);
        CHECK(nb != NULL);
        w->b = nb;
        w->cap = cap;
    }
    if (n)
        memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void w_varint(pbw *w, uint64_t v)
{
    uint8_t buf[10];
    int k = 0;
    do {
        buf[k] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            buf[k] |= 0x80;
        k++;
    } while (v);
    w_raw(w, buf, (size_t)k);
}

static void w_tag(pbw *w, uint32_t num, int wire)
{
    w_varint(w, (uint64_t)num << 3 | (uint64_t)wire);
}

static void w_int(pbw *w, uint32_t num, int64_t v)
{
    w_tag(w, num, 0);
    w_varint(w, (uint64_t)v);
}

static void w_bytes(pbw *w, uint32_t num, const void *p, size_t n)
{
    w_tag(w, num, 2);
    w_varint(w, n);
    w_raw(w, p, n);
}

static void w_str(pbw *w, uint32_t num, const char *s)
{
    w_bytes(w, num, s, strlen(s));
}

/* Append sub as a nested message and free it. */
static void w_msg(pbw *w, uint32_t num, pbw *sub)
{
    w_bytes(w, num, sub->b, sub->n);
    free(sub->b);
    memset(sub, 0, sizeof *sub);
}

/* ---- ONNX message builders ---- */

enum { FLOAT = 1, INT64 = 7, DOUBLE = 11 };

/* TensorProto with raw_data. */
static void w_tensor(pbw *w, uint32_t num, const char *name, int type, int rank,
                     const int64_t *dims, const void *raw, size_t nraw)
{
    pbw t = {0};
    for (int i = 0; i < rank; i++)
        w_int(&t, 1, dims[i]);
    w_int(&t, 2, type);
    w_str(&t, 8, name);
    w_bytes(&t, 9, raw, nraw);
    w_msg(w, num, &t);
}

/* ValueInfoProto; a negative dim is written as dim_param "N". */
static void w_value_info(pbw *w, uint32_t num, const char *name, int type, int rank,
                         const int64_t *dims)
{
    pbw shape = {0}, tt = {0}, tp = {0}, vi = {0};
    for (int i = 0; i < rank; i++) {
        pbw d = {0};
        if (dims[i] < 0)
            w_str(&d, 2, "N");
        else
            w_int(&d, 1, dims[i]);
        w_msg(&shape, 1, &d);
    }
    w_int(&tt, 1, type);
    w_msg(&tt, 2, &shape);
    w_msg(&tp, 1, &tt);
    w_str(&vi, 1, name);
    w_msg(&vi, 2, &tp);
    w_msg(w, num, &vi);
}

/* NodeProto with "|"-free input/output lists given as NULL-terminated arrays. */
static void w_node(pbw *g, const char *op, const char *const *in, const char *const *out,
                   pbw *attrs)
{
    pbw n = {0};
    for (int i = 0; in[i]; i++)
        w_str(&n, 1, in[i]);
    for (int i = 0; out[i]; i++)
        w_str(&n, 2, out[i]);
    w_str(&n, 4, op);
    if (attrs && attrs->n)
        w_raw(&n, attrs->b, attrs->n); /* already tagged attribute fields */
    if (attrs) {
        free(attrs->b);
        memset(attrs, 0, sizeof *attrs);
    }
    w_msg(g, 1, &n);
}

static void w_attr_ints(pbw *attrs, const char *name, const int64_t *v, int n)
{
    pbw a = {0}, packed = {0};
    w_str(&a, 1, name);
    w_int(&a, 20, 7);
    for (int i = 0; i < n; i++)
        w_varint(&packed, (uint64_t)v[i]);
    w_bytes(&a, 8, packed.b, packed.n);
    free(packed.b);
    w_msg(attrs, 5, &a);
}

static void w_attr_int(pbw *attrs, const char *name, int64_t v)
{
    pbw a = {0};
    w_str(&a, 1, name);
    w_int(&a, 20, 2);
    w_int(&a, 3, v);
    w_msg(attrs, 5, &a);
}

/* ModelProto around a finished graph: ir_version first (format detection). */
static pbw w_model(pbw *graph, int64_t opset)
{
    pbw m = {0}, os = {0};
    w_int(&m, 1, 8);
    w_str(&m, 2, "aviary-test");
    w_msg(&m, 7, graph);
    w_str(&os, 1, "");
    w_int(&os, 2, opset);
    w_msg(&m, 8, &os);
    return m;
}

static av_nn_status load(const pbw *m, av_nn_model **out, char *err, size_t errlen)
{
    *out = NULL;
    return av_nn_load_mem(m->b, m->n, out, err, errlen);
}

/* x[2,3] + b[3] -> s; Relu(s) -> y. order_reversed lists the nodes backwards. */
static pbw add_relu_model(bool order_reversed)
{
    pbw g = {0};
    int64_t xd[2] = {2, 3}, bd[1] = {3};
    const float b[3] = {1.0f, -2.0f, 0.5f};
    static const char *const add_in[] = {"x", "b", NULL}, *const add_out[] = {"s", NULL};
    static const char *const relu_in[] = {"s", NULL}, *const relu_out[] = {"y", NULL};
    if (order_reversed) {
        w_node(&g, "Relu", relu_in, relu_out, NULL);
        w_node(&g, "Add", add_in, add_out, NULL);
    } else {
        w_node(&g, "Add", add_in, add_out, NULL);
        w_node(&g, "Relu", relu_in, relu_out, NULL);
    }
    w_str(&g, 2, "add_relu");
    w_tensor(&g, 5, "b", FLOAT, 1, bd, b, sizeof b);
    w_value_info(&g, 11, "x", FLOAT, 2, xd);
    w_value_info(&g, 12, "y", FLOAT, 2, xd);
    return w_model(&g, 13);
}

static void run_add_relu(const pbw *m)
{
    char err[256];
    av_nn_model *model;
    av_nn_status st = load(m, &model, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "load: %s", err);
    CHECK_EQ_INT(av_nn_num_inputs(model), 1);
    CHECK_EQ_INT(av_nn_num_outputs(model), 1);
    CHECK_STR_EQ(av_nn_output(model, 0)->name, "y");
    const float x[6] = {0.0f, 1.0f, 2.0f, -3.0f, 4.0f, -5.0f};
    float y[6] = {0};
    for (int be = 0; be < 2; be++) {
        av_nn_ctx_opts o = {.threads = 1,
                            .backend = be ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE};
        av_nn_ctx *c;
        CHECK_MSG(av_nn_ctx_new(model, &o, &c, err, sizeof err) == AV_NN_OK, "ctx: %s", err);
        const void *in[1] = {x};
        void *out[1] = {y};
        CHECK_MSG(av_nn_run(c, in, out, err, sizeof err) == AV_NN_OK, "run: %s", err);
        const float want[6] = {1.0f, 0.0f, 2.5f, 0.0f, 2.0f, 0.0f};
        for (int i = 0; i < 6; i++)
            CHECK_NEAR(y[i], want[i], 1e-6);
        av_nn_ctx_free(c);
    }
    av_nn_model_free(model);
}

/* ---- protobuf reader ---- */

TEST(pb_varints)
{
    char err[200];
    const uint8_t ok[] = {0x08, 0x00,                                        /* 1: 0 */
                          0x10, 0xac, 0x02,                                  /* 2: 300 */
                          0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                          0x01}; /* 3: UINT64_MAX */
    av_nn__pb r;
    av_nn__pb_field f;
    av_nn__pb_init(&r, ok, sizeof ok);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), 1);
    CHECK(f.num == 1 && f.u == 0);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), 1);
    CHECK(f.num == 2 && f.u == 300);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), 1);
    CHECK(f.num == 3 && f.u == UINT64_MAX);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), 0);

    const uint8_t overlong[] = {0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                0x80, 0x80, 0x80, 0x80, 0x01};
    av_nn__pb_init(&r, overlong, sizeof overlong);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "varint");
    const uint8_t bit65[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    av_nn__pb_init(&r, bit65, sizeof bit65);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), -1);
    const uint8_t truncated[] = {0x08, 0x80};
    av_nn__pb_init(&r, truncated, sizeof truncated);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "truncated varint");
    const uint8_t trunc_tag[] = {0x80};
    av_nn__pb_init(&r, trunc_tag, sizeof trunc_tag);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "tag");
}

TEST(pb_lengths_and_wire_types)
{
    char err[200];
    av_nn__pb r;
    av_nn__pb_field f;
    const uint8_t past_end[] = {0x0a, 0x05, 'a', 'b'};
    av_nn__pb_init(&r, past_end, sizeof past_end);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "claims 5 bytes, 2 left");
    const uint8_t huge_len[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    av_nn__pb_init(&r, huge_len, sizeof huge_len);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), -1);
    const uint8_t fixed32[] = {0x0d, 0x00, 0x00, 0x80};
    av_nn__pb_init(&r, fixed32, sizeof fixed32);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "fixed32");
    const uint8_t fixed64[] = {0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    av_nn__pb_init(&r, fixed64, sizeof fixed64);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), 1);
    CHECK(av_nn__pb_f64(f.u) == 1.0);
    const uint8_t group[] = {0x0b, 0x0c};
    av_nn__pb_init(&r, group, sizeof group);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "wire type 3");
    const uint8_t field0[] = {0x00, 0x01};
    av_nn__pb_init(&r, field0, sizeof field0);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "field number");
}

TEST(pb_packed_and_unpacked)
{
    char err[200];
    pbw w = {0};
    pbw packed = {0};
    w_varint(&packed, 5);
    w_varint(&packed, 300);
    w_varint(&packed, (uint64_t)-7);
    w_bytes(&w, 1, packed.b, packed.n);
    free(packed.b);
    w_int(&w, 1, 9); /* an unpacked element of the same repeated field */
    av_nn__pb r;
    av_nn__pb_field f;
    av_nn__pb_init(&r, w.b, w.n);
    int64_t vals[8];
    int n = 0;
    while (av_nn__pb_next(&r, &f, err, sizeof err) == 1) {
        av_nn__pb_iter it;
        CHECK(av_nn__pb_iter_init(&it, &r, &f, AV_NN_PB_K_VARINT, err, sizeof err));
        int64_t c = av_nn__pb_iter_count(&it, err, sizeof err);
        CHECK(c == 3 || c == 1);
        uint64_t v;
        while (av_nn__pb_iter_next(&it, &v, err, sizeof err) == 1)
            vals[n++] = (int64_t)v;
    }
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(vals[0], 5);
    CHECK_EQ_INT(vals[1], 300);
    CHECK_EQ_INT(vals[2], -7);
    CHECK_EQ_INT(vals[3], 9);
    free(w.b);

    /* packed fixed32 with a partial value; packed varint cut mid-value */
    const uint8_t bad32[] = {0x0a, 0x05, 0, 0, 0x80, 0x3f, 0};
    av_nn__pb_init(&r, bad32, sizeof bad32);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), 1);
    av_nn__pb_iter it;
    CHECK(av_nn__pb_iter_init(&it, &r, &f, AV_NN_PB_K_FIXED32, err, sizeof err));
    CHECK_EQ_INT(av_nn__pb_iter_count(&it, err, sizeof err), -1);
    const uint8_t badvar[] = {0x0a, 0x02, 0x01, 0x80};
    av_nn__pb_init(&r, badvar, sizeof badvar);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), 1);
    CHECK(av_nn__pb_iter_init(&it, &r, &f, AV_NN_PB_K_VARINT, err, sizeof err));
    CHECK_EQ_INT(av_nn__pb_iter_count(&it, err, sizeof err), -1);
    uint64_t v;
    CHECK_EQ_INT(av_nn__pb_iter_next(&it, &v, err, sizeof err), 1);
    CHECK_EQ_INT(av_nn__pb_iter_next(&it, &v, err, sizeof err), -1);
    /* a fixed64 field is not a repeated varint */
    const uint8_t wrong[] = {0x09, 0, 0, 0, 0, 0, 0, 0, 0};
    av_nn__pb_init(&r, wrong, sizeof wrong);
    CHECK_EQ_INT(av_nn__pb_next(&r, &f, err, sizeof err), 1);
    CHECK(!av_nn__pb_iter_init(&it, &r, &f, AV_NN_PB_K_VARINT, err, sizeof err));
}

TEST(pb_nesting_depth_limit)
{
    char err[200];
    /* 100 messages nested in field 1 */
    pbw inner = {0};
    w_int(&inner, 2, 1);
    for (int i = 0; i < 100; i++) {
        pbw outer = {0};
        w_msg(&outer, 1, &inner);
        inner = outer;
    }
    av_nn__pb r, sub;
    av_nn__pb_field f;
    av_nn__pb_init(&r, inner.b, inner.n);
    int depth = 0;
    bool limited = false;
    while (av_nn__pb_next(&r, &f, err, sizeof err) == 1 && f.num == 1) {
        if (!av_nn__pb_sub(&r, &f, &sub, err, sizeof err)) {
            limited = true;
            break;
        }
        r = sub;
        depth++;
    }
    CHECK(limited);
    CHECK_EQ_INT(depth, AV_NN_PB_MAX_DEPTH);
    CHECK_STR_CONTAINS(err, "nested deeper");
    free(inner.b);
}

/* ---- loading valid models ---- */

TEST(loads_and_runs_add_relu)
{
    pbw m = add_relu_model(false);
    run_add_relu(&m);
    free(m.b);
}

TEST(loads_nodes_out_of_order)
{
    pbw m = add_relu_model(true);
    run_add_relu(&m);
    free(m.b);
}

/* NCHW conv with 2 output channels: checks the NCHW <-> NHWC wrapping. */
TEST(conv_nchw_layout)
{
    pbw g = {0}, attrs = {0};
    int64_t xd[4] = {1, 1, 3, 3}, wd[4] = {2, 1, 2, 2}, bd[1] = {2}, yd[4] = {1, 2, 2, 2};
    const float w[8] = {1, 0, 0, 1, /* ch 0: x[i][j] + x[i+1][j+1] */ 0, 1, 0, 0 /* ch 1 */};
    const float b[2] = {0.5f, -1.0f};
    static const char *const in[] = {"x", "w", "b", NULL}, *const out[] = {"y", NULL};
    int64_t k[2] = {2, 2};
    w_attr_ints(&attrs, "kernel_shape", k, 2);
    w_node(&g, "Conv", in, out, &attrs);
    w_tensor(&g, 5, "w", FLOAT, 4, wd, w, sizeof w);
    w_tensor(&g, 5, "b", FLOAT, 1, bd, b, sizeof b);
    w_value_info(&g, 11, "x", FLOAT, 4, xd);
    w_value_info(&g, 12, "y", FLOAT, 4, yd);
    pbw m = w_model(&g, 13);
    char err[256];
    av_nn_model *model;
    CHECK_MSG(load(&m, &model, err, sizeof err) == AV_NN_OK, "load: %s", err);
    const av_nn_tensor_info *yi = av_nn_output(model, 0);
    CHECK_EQ_INT(yi->rank, 4);
    CHECK(yi->dims[0] == 1 && yi->dims[1] == 2 && yi->dims[2] == 2 && yi->dims[3] == 2);
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float y[8];
    av_nn_ctx *c;
    av_nn_ctx_opts o = {.threads = 1, .backend = AV_NN_BACKEND_XNNPACK};
    CHECK_MSG(av_nn_ctx_new(model, &o, &c, err, sizeof err) == AV_NN_OK, "ctx: %s", err);
    const void *ins[1] = {x};
    void *outs[1] = {y};
    CHECK_MSG(av_nn_run(c, ins, outs, err, sizeof err) == AV_NN_OK, "run: %s", err);
    const float want[8] = {6.5f, 8.5f, 12.5f, 14.5f, 1.0f, 2.0f, 4.0f, 5.0f};
    for (int i = 0; i < 8; i++)
        CHECK_NEAR(y[i], want[i], 1e-5);
    av_nn_ctx_free(c);
    av_nn_model_free(model);
    free(m.b);
}

TEST(symbolic_dims_become_one)
{
    pbw g = {0};
    int64_t xd[2] = {-1, 4};
    static const char *const in[] = {"x", NULL}, *const out[] = {"y", NULL};
    w_node(&g, "Relu", in, out, NULL);
    w_value_info(&g, 11, "x", FLOAT, 2, xd);
    w_value_info(&g, 12, "y", FLOAT, 2, xd);
    pbw m = w_model(&g, 13);
    char err[256];
    av_nn_model *model;
    CHECK_MSG(load(&m, &model, err, sizeof err) == AV_NN_OK, "load: %s", err);
    CHECK_EQ_INT(av_nn_input(model, 0)->dims[0], 1);
    CHECK_EQ_INT(av_nn_input(model, 0)->dims[1], 4);
    av_nn_model_free(model);
    free(m.b);
}

/* ---- hostile and invalid models ---- */

/* Model with one Relu over an initializer-free input and an extra initializer. */
static pbw model_with_init(const char *init_name, int type, int rank, const int64_t *dims,
                           const void *raw, size_t nraw, bool used)
{
    pbw g = {0};
    int64_t xd[1] = {4};
    static const char *const in_x[] = {"x", NULL}, *const out[] = {"y", NULL};
    const char *in_i[] = {init_name, NULL};
    w_node(&g, "Relu", used ? in_i : in_x, out, NULL);
    w_tensor(&g, 5, init_name, type, rank, dims, raw, nraw);
    if (!used)
        w_value_info(&g, 11, "x", FLOAT, 1, xd);
    w_value_info(&g, 12, "y", FLOAT, 1, xd);
    return w_model(&g, 13);
}

static av_nn_status load_expect(const pbw *m, av_nn_status want, const char *needle)
{
    char err[512] = "";
    av_nn_model *model;
    av_nn_status st = load(m, &model, err, sizeof err);
    CHECK_MSG(st == want, "status %d (%s), want %d: %s", (int)st, av_nn_strerror(st), (int)want,
              err);
    CHECK(model == NULL || st == AV_NN_OK);
    if (needle)
        CHECK_STR_CONTAINS(err, needle);
    av_nn_model_free(model);
    return st;
}

TEST(huge_dims_are_limits)
{
    float four[4] = {0};
    int64_t big[1] = {1LL << 40};
    pbw m = model_with_init("w", FLOAT, 1, big, four, sizeof four, true);
    load_expect(&m, AV_NN_E_LIMIT, "dim");
    free(m.b);
    int64_t product[3] = {1 << 20, 1 << 20, 1 << 20};
    m = model_with_init("w", FLOAT, 3, product, four, sizeof four, true);
    load_expect(&m, AV_NN_E_LIMIT, "elements");
    free(m.b);
    int64_t deep[9] = {1, 1, 1, 1, 1, 1, 1, 1, 4};
    m = model_with_init("w", FLOAT, 9, deep, four, sizeof four, true);
    load_expect(&m, AV_NN_E_LIMIT, "rank");
    free(m.b);
    /* a big claim backed by 16 bytes: rejected before allocating */
    int64_t claim[1] = {1 << 28};
    m = model_with_init("w", FLOAT, 1, claim, four, sizeof four, true);
    load_expect(&m, AV_NN_E_FORMAT, "raw_data has 16 bytes");
    free(m.b);
    int64_t neg[1] = {-4};
    m = model_with_init("w", FLOAT, 1, neg, four, sizeof four, true);
    load_expect(&m, AV_NN_E_FORMAT, "negative dim");
    free(m.b);
    /* graph input of 2^60 elements */
    pbw g = {0};
    int64_t xd[2] = {1LL << 30, 1LL << 30};
    static const char *const in[] = {"x", NULL}, *const out[] = {"y", NULL};
    w_node(&g, "Relu", in, out, NULL);
    w_value_info(&g, 11, "x", FLOAT, 2, xd);
    w_value_info(&g, 12, "y", FLOAT, 2, xd);
    m = w_model(&g, 13);
    load_expect(&m, AV_NN_E_LIMIT, "'x'");
    free(m.b);
}

TEST(unsupported_dtype_names_the_tensor)
{
    double d[4] = {0};
    int64_t dims[1] = {4};
    pbw m = model_with_init("weights_fp64", DOUBLE, 1, dims, d, sizeof d, true);
    load_expect(&m, AV_NN_E_UNSUPPORTED, "weights_fp64");
    free(m.b);
    /* unused: ignored */
    m = model_with_init("unused_fp64", DOUBLE, 1, dims, d, sizeof d, false);
    load_expect(&m, AV_NN_OK, NULL);
    free(m.b);
}

TEST(cycle_is_an_error)
{
    pbw g = {0};
    int64_t xd[1] = {4};
    static const char *const a_in[] = {"x", "b", NULL}, *const a_out[] = {"a", NULL};
    static const char *const b_in[] = {"a", NULL}, *const b_out[] = {"b", NULL};
    w_node(&g, "Add", a_in, a_out, NULL);
    w_node(&g, "Relu", b_in, b_out, NULL);
    w_value_info(&g, 11, "x", FLOAT, 1, xd);
    w_value_info(&g, 12, "b", FLOAT, 1, xd);
    pbw m = w_model(&g, 13);
    load_expect(&m, AV_NN_E_FORMAT, "cycle");
    free(m.b);
}

TEST(undefined_and_duplicate_tensors)
{
    pbw g = {0};
    int64_t xd[1] = {4};
    static const char *const in[] = {"nowhere", NULL}, *const out[] = {"y", NULL};
    w_node(&g, "Relu", in, out, NULL);
    w_value_info(&g, 12, "y", FLOAT, 1, xd);
    pbw m = w_model(&g, 13);
    load_expect(&m, AV_NN_E_FORMAT, "'nowhere' is not defined");
    free(m.b);

    pbw g2 = {0};
    static const char *const in2[] = {"x", NULL};
    w_node(&g2, "Relu", in2, out, NULL);
    w_node(&g2, "Sigmoid", in2, out, NULL);
    w_value_info(&g2, 11, "x", FLOAT, 1, xd);
    w_value_info(&g2, 12, "y", FLOAT, 1, xd);
    m = w_model(&g2, 13);
    load_expect(&m, AV_NN_E_FORMAT, "already defined");
    free(m.b);

    pbw g3 = {0};
    w_node(&g3, "Relu", in2, out, NULL);
    w_value_info(&g3, 11, "x", FLOAT, 1, xd);
    w_value_info(&g3, 12, "missing_out", FLOAT, 1, xd);
    m = w_model(&g3, 13);
    load_expect(&m, AV_NN_E_FORMAT, "missing_out");
    free(m.b);
}

TEST(unsupported_op_and_attribute)
{
    pbw g = {0}, attrs = {0};
    int64_t xd[1] = {4};
    static const char *const in[] = {"x", NULL}, *const out[] = {"y", NULL};
    w_node(&g, "FancyNewOp", in, out, NULL);
    w_value_info(&g, 11, "x", FLOAT, 1, xd);
    w_value_info(&g, 12, "y", FLOAT, 1, xd);
    pbw m = w_model(&g, 13);
    load_expect(&m, AV_NN_E_UNSUPPORTED, "FancyNewOp");
    free(m.b);

    pbw g2 = {0};
    w_attr_int(&attrs, "bogus", 3);
    w_node(&g2, "Relu", in, out, &attrs);
    w_value_info(&g2, 11, "x", FLOAT, 1, xd);
    w_value_info(&g2, 12, "y", FLOAT, 1, xd);
    m = w_model(&g2, 13);
    load_expect(&m, AV_NN_E_UNSUPPORTED, "'bogus'");
    free(m.b);

    /* an attribute of the wrong type is malformed */
    pbw g3 = {0}, a3 = {0};
    pbw a = {0};
    w_str(&a, 1, "alpha");
    w_int(&a, 20, 2);
    w_int(&a, 3, 1);
    w_msg(&a3, 5, &a);
    w_node(&g3, "LeakyRelu", in, out, &a3);
    w_value_info(&g3, 11, "x", FLOAT, 1, xd);
    w_value_info(&g3, 12, "y", FLOAT, 1, xd);
    m = w_model(&g3, 13);
    load_expect(&m, AV_NN_E_FORMAT, "alpha");
    free(m.b);
}

TEST(no_graph_and_garbage)
{
    pbw m = {0};
    w_int(&m, 1, 8);
    load_expect(&m, AV_NN_E_FORMAT, "no graph");
    free(m.b);
    char err[256];
    av_nn__graph *g = NULL;
    CHECK(av_nn__load_onnx((const uint8_t *)"", 0, &g, err, sizeof err) == AV_NN_E_FORMAT);
    CHECK(g == NULL);
    const uint8_t junk[] = {0x08, 0x03, 0x3a, 0xff, 0x01};
    CHECK(av_nn__load_onnx(junk, sizeof junk, &g, err, sizeof err) == AV_NN_E_FORMAT);
    CHECK(g == NULL);
}

/* Every prefix and every single-byte flip of a valid model: no crash, and
 * a status that agrees with the graph pointer. */
TEST(truncations_and_flips)
{
    pbw m = add_relu_model(false);
    char err[256];
    for (size_t n = 0; n < m.n; n++) {
        av_nn_model *model = NULL;
        av_nn_status st = av_nn_load_mem(m.b, n, &model, err, sizeof err);
        CHECK_MSG((st == AV_NN_OK) == (model != NULL), "prefix %zu: status %d", n, (int)st);
        av_nn_model_free(model);
    }
    uint8_t *copy = malloc(m.n);
    CHECK(copy);
    for (size_t i = 0; i < m.n; i++) {
        static const uint8_t flips[] = {0xff, 0x80, 0x01, 0x7f};
        for (size_t k = 0; k < sizeof flips; k++) {
            memcpy(copy, m.b, m.n);
            copy[i] ^= flips[k];
            av_nn_model *model = NULL;
            av_nn_status st = av_nn_load_mem(copy, m.n, &model, err, sizeof err);
            CHECK_MSG((st == AV_NN_OK) == (model != NULL), "flip %zu: status %d", i, (int)st);
            av_nn_model_free(model);
        }
    }
    free(copy);
    free(m.b);
}

TEST(tensor_decode_typed_fields)
{
    char err[256];
    /* float_data packed, int64_data unpacked, float16 in int32_data */
    pbw t = {0}, packed = {0};
    w_int(&t, 1, 3);
    w_int(&t, 2, FLOAT);
    float f[3] = {1.5f, -2.0f, 0.25f};
    w_raw(&packed, f, sizeof f);
    w_bytes(&t, 4, packed.b, packed.n);
    free(packed.b);
    av_nn__onnx_tensor d;
    CHECK(av_nn__onnx_tensor_decode_buf(t.b, t.n, true, &d, err, sizeof err) == AV_NN_OK);
    CHECK_EQ_INT(d.dtype, AV_NN_F32);
    CHECK(((float *)d.data)[2] == 0.25f);
    free(d.data);
    free(t.b);

    pbw t2 = {0};
    w_int(&t2, 1, 2);
    w_int(&t2, 2, INT64);
    w_int(&t2, 7, -5);
    w_int(&t2, 7, 1LL << 40);
    CHECK(av_nn__onnx_tensor_decode_buf(t2.b, t2.n, true, &d, err, sizeof err) == AV_NN_OK);
    CHECK_EQ_INT(((int64_t *)d.data)[0], -5);
    CHECK_EQ_INT(((int64_t *)d.data)[1], 1LL << 40);
    free(d.data);
    w_int(&t2, 7, 3); /* one value too many */
    CHECK(av_nn__onnx_tensor_decode_buf(t2.b, t2.n, true, &d, err, sizeof err) ==
          AV_NN_E_FORMAT);
    CHECK_STR_CONTAINS(err, "3 values for 2 elements");
    free(t2.b);

    pbw t3 = {0};
    w_int(&t3, 2, 10); /* FLOAT16 scalar 1.0 = 0x3c00 */
    w_int(&t3, 5, 0x3c00);
    CHECK(av_nn__onnx_tensor_decode_buf(t3.b, t3.n, true, &d, err, sizeof err) == AV_NN_OK);
    CHECK_EQ_INT(d.rank, 0);
    CHECK(((float *)d.data)[0] == 1.0f);
    free(d.data);
    CHECK(av_nn__onnx_tensor_decode_buf(t3.b, t3.n, false, &d, err, sizeof err) == AV_NN_OK);
    CHECK_EQ_INT(d.dtype, AV_NN_F16);
    CHECK_EQ_INT(((uint16_t *)d.data)[0], 0x3c00);
    free(d.data);
    free(t3.b);

    pbw t4 = {0};
    w_int(&t4, 2, FLOAT);
    w_str(&t4, 8, "ext");
    w_int(&t4, 14, 1);
    CHECK(av_nn__onnx_tensor_decode_buf(t4.b, t4.n, true, &d, err, sizeof err) ==
          AV_NN_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(err, "external");
    free(t4.b);
}

TEST_MAIN(T(pb_varints), T(pb_lengths_and_wire_types), T(pb_packed_and_unpacked),
          T(pb_nesting_depth_limit), T(loads_and_runs_add_relu), T(loads_nodes_out_of_order),
          T(conv_nchw_layout), T(symbolic_dims_become_one), T(huge_dims_are_limits),
          T(unsupported_dtype_names_the_tensor), T(cycle_is_an_error),
          T(undefined_and_duplicate_tensors), T(unsupported_op_and_attribute),
          T(no_graph_and_garbage), T(truncations_and_flips), T(tensor_decode_typed_fields))
