/*
 * t_nn_tflite.c - the TFLite flatbuffer loader (src/nn/load_tflite.c,
 * tflite_ops.c over flatbuf.c) on real models, on small models built here,
 * and on hostile input.
 *
 * Small models come from a FlatBuffers writer below (back-to-front, like
 * the real builder: children are written before the tables that point at
 * them, so every uoffset points forward) emitting the TFLite schema v3
 * tables the loader reads. Each synthetic model runs on both backends
 * against values computed here. Hostile cases check for a non-OK status
 * and a message naming the problem; every prefix and single-byte flip of a
 * small valid model must load or fail cleanly (the ASan build runs these
 * too). The real models (../shared/models) run through the same path as
 * `aviary classify` and are compared across backends.
 *
 * With AV_TFLITE_SEED_DIR set, the cases write their small models there as
 * fuzz seeds (fuzz/corpus/tflite):
 *   AV_TFLITE_SEED_DIR=fuzz/corpus/tflite build/tests/t_nn_tflite
 */
#include "harness.h"

#include "detect/detect.h"
#include "nn/nn.h"
#include "vision/vision.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ flatbuffers writer */

/* Bytes live at b[cap - n .. cap); a "ref" is n right after an object was written. */
typedef struct fbw {
    uint8_t *b;
    size_t cap, n, maxalign;
} fbw;

static void fbw_grow(fbw *w, size_t need)
{
    if (w->n + need <= w->cap)
        return;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->n + need)
        cap *= 2;
    uint8_t *nb = malloc(cap);
    CHECK(nb != NULL);
    if (w->n)
        memcpy(nb + cap - w->n, w->b + w->cap - w->n, w->n);
    free(w->b);
    w->b = nb;
    w->cap = cap;
}

static void fbw_push(fbw *w, const void *p, size_t len)
{
    fbw_grow(w, len);
    w->n += len;
    if (len)
        memcpy(w->b + w->cap - w->n, p, len);
}

/* Pad so that after `len` more bytes n is a multiple of align. */
static void fbw_prep(fbw *w, size_t align, size_t len)
{
    if (align > w->maxalign)
        w->maxalign = align;
    static const uint8_t zero[16];
    while ((w->n + len) % align)
        fbw_push(w, zero, 1);
}

static void fbw_u32(fbw *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fbw_prep(w, 4, 4);
    fbw_push(w, b, 4);
}

/* A uoffset to ref, stored at the next 4-aligned slot. */
static void fbw_uoff(fbw *w, uint32_t ref)
{
    fbw_prep(w, 4, 4);
    fbw_u32(w, (uint32_t)(w->n + 4 - ref));
}

/* Vector of n scalars of elem bytes (little-endian host data), data aligned to align. */
static uint32_t fbw_vec(fbw *w, const void *data, uint32_t n, size_t elem, size_t align)
{
    fbw_prep(w, 4, n * elem);
    fbw_prep(w, align < 4 ? 4 : align, n * elem);
    fbw_push(w, data, n * elem);
    fbw_u32(w, n);
    return (uint32_t)w->n;
}

static uint32_t fbw_vec_refs(fbw *w, const uint32_t *refs, uint32_t n)
{
    fbw_prep(w, 4, 4 * (size_t)n);
    for (uint32_t i = n; i-- > 0;)
        fbw_uoff(w, refs[i]);
    fbw_u32(w, n);
    return (uint32_t)w->n;
}

static uint32_t fbw_string(fbw *w, const char *s)
{
    size_t l = strlen(s);
    fbw_prep(w, 4, l + 1);
    fbw_push(w, "", 1);
    fbw_push(w, s, l);
    fbw_u32(w, (uint32_t)l);
    return (uint32_t)w->n;
}

/* Table under construction: field id -> ref of its bytes (0 = absent). */
typedef struct fbt {
    size_t start;
    uint32_t at[16];
    int max_id;
} fbt;

static void fbt_begin(fbw *w, fbt *t)
{
    memset(t, 0, sizeof *t);
    t->start = w->n;
    t->max_id = -1;
}

static void fbt_mark(fbw *w, fbt *t, int id)
{
    CHECK(id >= 0 && id < 16);
    t->at[id] = (uint32_t)w->n;
    if (id > t->max_id)
        t->max_id = id;
}

static void fbt_scalar(fbw *w, fbt *t, int id, const void *p, size_t sz)
{
    fbw_prep(w, sz, sz);
    fbw_push(w, p, sz);
    fbt_mark(w, t, id);
}

static void fbt_u8(fbw *w, fbt *t, int id, uint8_t v) { fbt_scalar(w, t, id, &v, 1); }
static void fbt_i32(fbw *w, fbt *t, int id, int32_t v) { fbt_scalar(w, t, id, &v, 4); }
static void fbt_f32(fbw *w, fbt *t, int id, float v) { fbt_scalar(w, t, id, &v, 4); }

static void fbt_off(fbw *w, fbt *t, int id, uint32_t ref)
{
    fbw_uoff(w, ref);
    fbt_mark(w, t, id);
}

/* Close the table: soffset, then its vtable written just before it. */
static uint32_t fbt_end(fbw *w, fbt *t)
{
    fbw_prep(w, 4, 4);
    fbw_push(w, "\0\0\0\0", 4);
    uint32_t tref = (uint32_t)w->n;
    uint16_t vt[2 + 16];
    int nf = t->max_id + 1;
    vt[0] = (uint16_t)(4 + 2 * nf);
    vt[1] = (uint16_t)(tref - t->start);
    for (int i = 0; i < nf; i++)
        vt[2 + i] = t->at[i] ? (uint16_t)(tref - t->at[i]) : 0;
    fbw_push(w, vt, (size_t)vt[0]);
    uint32_t vref = (uint32_t)w->n;
    int32_t so = (int32_t)(vref - tref);
    memcpy(w->b + w->cap - tref, &so, 4);
    return tref;
}

/* Root offset and "TFL3"; returns the finished bytes (caller frees) in *len. */
static uint8_t *fbw_finish(fbw *w, uint32_t root, size_t *len)
{
    fbw_prep(w, w->maxalign < 8 ? 8 : w->maxalign, 8);
    fbw_push(w, "TFL3", 4);
    fbw_uoff(w, root);
    uint8_t *out = malloc(w->n);
    CHECK(out != NULL);
    memcpy(out, w->b + w->cap - w->n, w->n);
    *len = w->n;
    free(w->b);
    memset(w, 0, sizeof *w);
    return out;
}

/* ------------------------------------------------------------ TFLite model builder */

enum { TT_F32 = 0, TT_I32 = 2, TT_U8 = 3, TT_I64 = 4, TT_STRING = 5, TT_I8 = 9 };
enum {
    OP_ADD = 0, OP_CONCAT = 2, OP_CONV = 3, OP_RESHAPE = 22, OP_SOFTMAX = 25, OP_PAD = 34,
    OP_MEAN = 40, OP_STRIDED_SLICE = 45, OP_SPLIT = 49, OP_CUSTOM = 32, OP_PACK = 83,
    OP_UNPACK = 88
};
enum {
    O_CONV = 1, O_SOFTMAX = 9, O_CONCAT = 10, O_ADD = 11, O_RESHAPE = 17, O_REDUCER = 27,
    O_STRIDED_SLICE = 32, O_SPLIT = 35, O_PACK = 59, O_UNPACK = 64
};

typedef struct mb_tensor {
    char name[32];
    int type;
    int rank; /* -1: no shape vector */
    int32_t dims[12];
    uint32_t buffer;
    int nq; /* scales; 0 = no quantization table */
    float scale[16];
    int64_t zp[16];
    int nzp;
    int qdim;
} mb_tensor;

typedef struct mb_opt {
    int id;
    char kind; /* 'b' u8/bool, 'i' i32, 'f' f32 */
    double v;
} mb_opt;

typedef struct mb_op {
    uint32_t code_index;
    int n_in, n_out;
    int32_t in[16], out[16];
    uint8_t opt_type;
    int n_opt;
    mb_opt opt[8];
} mb_op;

typedef struct mb {
    uint32_t version;
    int n_codes;
    int32_t codes[16];
    const char *custom[16];
    int n_t;
    mb_tensor t[48];
    int n_buf;
    uint8_t *buf[48];
    size_t buf_len[48];
    int n_in, n_out;
    int32_t in[8], out[8];
    int n_ops;
    mb_op ops[24];
    bool no_outputs;
} mb;

static void mb_init(mb *m)
{
    memset(m, 0, sizeof *m);
    m->version = 3;
    m->n_buf = 1; /* buffer 0: the empty sentinel */
}

static void mb_free(mb *m)
{
    for (int i = 0; i < m->n_buf; i++)
        free(m->buf[i]);
}

static uint32_t mb_code(mb *m, int32_t code)
{
    for (int i = 0; i < m->n_codes; i++)
        if (m->codes[i] == code)
            return (uint32_t)i;
    CHECK(m->n_codes < 16);
    m->codes[m->n_codes] = code;
    return (uint32_t)m->n_codes++;
}

static int mb_tensor_add(mb *m, const char *name, int type, int rank, const int32_t *dims)
{
    CHECK(m->n_t < 48 && rank <= 12);
    mb_tensor *t = &m->t[m->n_t];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->dims[i] = dims[i];
    return m->n_t++;
}

static uint32_t mb_buffer(mb *m, const void *data, size_t n)
{
    CHECK(m->n_buf < 48);
    m->buf[m->n_buf] = malloc(n ? n : 1);
    CHECK(m->buf[m->n_buf] != NULL);
    if (n)
        memcpy(m->buf[m->n_buf], data, n);
    m->buf_len[m->n_buf] = n;
    return (uint32_t)m->n_buf++;
}

static int mb_const(mb *m, const char *name, int type, int rank, const int32_t *dims,
                    const void *data, size_t n)
{
    int t = mb_tensor_add(m, name, type, rank, dims);
    m->t[t].buffer = mb_buffer(m, data, n);
    return t;
}

static int mb_const_i32(mb *m, const char *name, int rank, const int32_t *dims,
                        const int32_t *v, size_t count)
{
    return mb_const(m, name, TT_I32, rank, dims, v, count * 4);
}

static void mb_quant(mb *m, int t, int n, const float *scale, const int64_t *zp, int nzp,
                     int qdim)
{
    mb_tensor *x = &m->t[t];
    x->nq = n;
    for (int i = 0; i < n; i++)
        x->scale[i] = scale[i];
    x->nzp = nzp;
    for (int i = 0; i < nzp; i++)
        x->zp[i] = zp[i];
    x->qdim = qdim;
}

static int mb_op_add(mb *m, int32_t code, int n_in, const int32_t *in, int n_out,
                     const int32_t *out)
{
    CHECK(m->n_ops < 24);
    mb_op *o = &m->ops[m->n_ops];
    memset(o, 0, sizeof *o);
    o->code_index = mb_code(m, code);
    o->n_in = n_in;
    o->n_out = n_out;
    memcpy(o->in, in, (size_t)n_in * sizeof *in);
    memcpy(o->out, out, (size_t)n_out * sizeof *out);
    return m->n_ops++;
}

static void mb_opt_add(mb *m, int op, uint8_t type, int id, char kind, double v)
{
    mb_op *o = &m->ops[op];
    CHECK(o->n_opt < 8);
    o->opt_type = type;
    o->opt[o->n_opt++] = (mb_opt){id, kind, v};
}

static void mb_io(mb *m, int n_in, const int32_t *in, int n_out, const int32_t *out)
{
    m->n_in = n_in;
    m->n_out = n_out;
    if (n_in)
        memcpy(m->in, in, (size_t)n_in * sizeof *in);
    if (n_out)
        memcpy(m->out, out, (size_t)n_out * sizeof *out);
}

static uint8_t *mb_build(const mb *m, size_t *len)
{
    fbw w = {0};
    uint32_t refs[64];
    /* buffers */
    for (int i = 0; i < m->n_buf; i++) {
        uint32_t data = 0;
        if (i > 0)
            data = fbw_vec(&w, m->buf[i], (uint32_t)m->buf_len[i], 1, 16);
        fbt t;
        fbt_begin(&w, &t);
        if (data)
            fbt_off(&w, &t, 0, data);
        refs[i] = fbt_end(&w, &t);
    }
    uint32_t buffers = fbw_vec_refs(&w, refs, (uint32_t)m->n_buf);
    /* tensors */
    for (int i = 0; i < m->n_t; i++) {
        const mb_tensor *x = &m->t[i];
        uint32_t shape = 0, name = fbw_string(&w, x->name), quant = 0;
        if (x->rank >= 0)
            shape = fbw_vec(&w, x->dims, (uint32_t)x->rank, 4, 4);
        if (x->nq) {
            uint32_t sc = fbw_vec(&w, x->scale, (uint32_t)x->nq, 4, 4);
            uint32_t zp = fbw_vec(&w, x->zp, (uint32_t)x->nzp, 8, 8);
            fbt q;
            fbt_begin(&w, &q);
            fbt_off(&w, &q, 2, sc);
            fbt_off(&w, &q, 3, zp);
            fbt_i32(&w, &q, 6, x->qdim);
            quant = fbt_end(&w, &q);
        }
        fbt t;
        fbt_begin(&w, &t);
        if (shape)
            fbt_off(&w, &t, 0, shape);
        fbt_off(&w, &t, 3, name);
        if (quant)
            fbt_off(&w, &t, 4, quant);
        fbt_i32(&w, &t, 2, (int32_t)x->buffer);
        fbt_u8(&w, &t, 1, (uint8_t)x->type);
        refs[i] = fbt_end(&w, &t);
    }
    uint32_t tensors = fbw_vec_refs(&w, refs, (uint32_t)m->n_t);
    /* operators */
    for (int i = 0; i < m->n_ops; i++) {
        const mb_op *o = &m->ops[i];
        uint32_t in = fbw_vec(&w, o->in, (uint32_t)o->n_in, 4, 4);
        uint32_t out = fbw_vec(&w, o->out, (uint32_t)o->n_out, 4, 4);
        uint32_t opt = 0;
        if (o->opt_type) {
            fbt t;
            fbt_begin(&w, &t);
            for (int k = 0; k < o->n_opt; k++) {
                const mb_opt *f = &o->opt[k];
                if (f->kind == 'b')
                    fbt_u8(&w, &t, f->id, (uint8_t)f->v);
                else if (f->kind == 'i')
                    fbt_i32(&w, &t, f->id, (int32_t)f->v);
                else
                    fbt_f32(&w, &t, f->id, (float)f->v);
            }
            opt = fbt_end(&w, &t);
        }
        fbt t;
        fbt_begin(&w, &t);
        fbt_off(&w, &t, 1, in);
        fbt_off(&w, &t, 2, out);
        if (opt)
            fbt_off(&w, &t, 4, opt);
        fbt_i32(&w, &t, 0, (int32_t)o->code_index);
        if (o->opt_type)
            fbt_u8(&w, &t, 3, o->opt_type);
        refs[i] = fbt_end(&w, &t);
    }
    uint32_t ops = fbw_vec_refs(&w, refs, (uint32_t)m->n_ops);
    uint32_t sg_in = fbw_vec(&w, m->in, (uint32_t)m->n_in, 4, 4);
    uint32_t sg_out = m->no_outputs ? 0 : fbw_vec(&w, m->out, (uint32_t)m->n_out, 4, 4);
    fbt sg;
    fbt_begin(&w, &sg);
    fbt_off(&w, &sg, 0, tensors);
    fbt_off(&w, &sg, 1, sg_in);
    if (sg_out)
        fbt_off(&w, &sg, 2, sg_out);
    fbt_off(&w, &sg, 3, ops);
    uint32_t sgref = fbt_end(&w, &sg);
    uint32_t subgraphs = fbw_vec_refs(&w, &sgref, 1);
    /* operator codes */
    for (int i = 0; i < m->n_codes; i++) {
        uint32_t cname = m->custom[i] ? fbw_string(&w, m->custom[i]) : 0;
        fbt t;
        fbt_begin(&w, &t);
        fbt_i32(&w, &t, 3, m->codes[i]);
        if (cname)
            fbt_off(&w, &t, 1, cname);
        fbt_u8(&w, &t, 0, (uint8_t)(int8_t)(m->codes[i] < 127 ? m->codes[i] : 127));
        refs[i] = fbt_end(&w, &t);
    }
    uint32_t codes = fbw_vec_refs(&w, refs, (uint32_t)m->n_codes);
    fbt model;
    fbt_begin(&w, &model);
    fbt_off(&w, &model, 1, codes);
    fbt_off(&w, &model, 2, subgraphs);
    fbt_off(&w, &model, 4, buffers);
    fbt_i32(&w, &model, 0, (int32_t)m->version);
    return fbw_finish(&w, fbt_end(&w, &model), len);
}

/* ------------------------------------------------------------ running */

static av_nn_status load_mb(const mb *m, av_nn_model **out, char *err, size_t errlen)
{
    size_t len;
    uint8_t *b = mb_build(m, &len);
    av_nn_status st = av_nn_load_mem(b, len, out, err, errlen);
    free(b);
    return st;
}

static av_nn_model *load_ok(const mb *m)
{
    char err[512] = "";
    av_nn_model *model = NULL;
    av_nn_status st = load_mb(m, &model, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK && model, "load: %s (%s)", av_nn_strerror(st), err);
    return model;
}

static void run_on(const av_nn_model *model, av_nn_backend be, const void *const *in,
                   void *const *out)
{
    char err[512] = "";
    av_nn_ctx_opts o = {.threads = 1, .backend = be};
    av_nn_ctx *c = NULL;
    av_nn_status st = av_nn_ctx_new(model, &o, &c, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "ctx (%s): %s", be ? "reference" : "xnnpack", err);
    st = av_nn_run(c, in, out, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "run (%s): %s", be ? "reference" : "xnnpack", err);
    av_nn_ctx_free(c);
}

static const av_nn_backend backends[2] = {AV_NN_BACKEND_REFERENCE, AV_NN_BACKEND_XNNPACK};

/* One f32 input, one f32 output of n values: run on both backends, compare with want. */
static void check_f32(const mb *m, const float *x, const float *want, int n, double tol)
{
    av_nn_model *model = load_ok(m);
    for (int b = 0; b < 2; b++) {
        float got[256];
        CHECK(n <= 256);
        memset(got, 0xff, sizeof got);
        const void *in[1] = {x};
        void *out[1] = {got};
        run_on(model, backends[b], in, out);
        for (int i = 0; i < n; i++)
            CHECK_MSG(fabs(got[i] - want[i]) <= tol, "%s: [%d] %.6g, want %.6g",
                      b ? "xnnpack" : "reference", i, (double)got[i], (double)want[i]);
    }
    av_nn_model_free(model);
}

/* Status and message of loading m: must fail, message containing needle. */
static void check_fails(const mb *m, const char *needle)
{
    char err[512] = "";
    av_nn_model *model = (av_nn_model *)1;
    av_nn_status st = load_mb(m, &model, err, sizeof err);
    CHECK_MSG(st != AV_NN_OK, "loaded, expected an error naming \"%s\"", needle);
    CHECK(model == NULL);
    if (getenv("AV_TFLITE_VERBOSE"))
        fprintf(stderr, "    [%s] %s\n", av_nn_strerror(st), err);
    CHECK_STR_CONTAINS(err, needle);
}

static void check_fails_bytes(const uint8_t *b, size_t len, const char *needle)
{
    char err[512] = "";
    av_nn_model *model = (av_nn_model *)1;
    av_nn_status st = av_nn_load_mem(b, len, &model, err, sizeof err);
    CHECK_MSG(st != AV_NN_OK, "loaded, expected an error naming \"%s\"", needle);
    CHECK(model == NULL);
    if (getenv("AV_TFLITE_VERBOSE"))
        fprintf(stderr, "    [%s] %s\n", av_nn_strerror(st), err);
    CHECK_STR_CONTAINS(err, needle);
}

/* ------------------------------------------------------------ small models */

static void write_seed(const char *dir, const char *name, const mb *m)
{
    size_t len;
    uint8_t *b = mb_build(m, &len);
    CHECK_MSG(len < 4096, "seed %s is %zu bytes", name, len);
    av_nn_model *model = NULL;
    char err[256];
    CHECK_MSG(av_nn_load_mem(b, len, &model, err, sizeof err) == AV_NN_OK, "seed %s: %s", name,
              err);
    av_nn_model_free(model);
    if (dir) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.tflite", dir, name);
        FILE *f = fopen(path, "wb");
        CHECK_MSG(f != NULL, "cannot write %s", path);
        CHECK(fwrite(b, 1, len, f) == len);
        CHECK(fclose(f) == 0);
    }
    free(b);
}

/* Write m as a fuzz seed when AV_TFLITE_SEED_DIR is set. */
static void maybe_seed(const char *name, const mb *m)
{
    const char *dir = getenv("AV_TFLITE_SEED_DIR");
    if (dir)
        write_seed(dir, name, m);
}


/* x[1,4] f32 + c[4] (fused RELU) -> y. */
static void add_model(mb *m)
{
    static const int32_t d[2] = {1, 4}, dc[1] = {4};
    static const float c[4] = {1.0f, -2.0f, 0.5f, -0.25f};
    mb_init(m);
    int x = mb_tensor_add(m, "x", TT_F32, 2, d);
    int k = mb_const(m, "c", TT_F32, 1, dc, c, sizeof c);
    int y = mb_tensor_add(m, "y", TT_F32, 2, d);
    int op = mb_op_add(m, OP_ADD, 2, (int32_t[]){x, k}, 1, (int32_t[]){y});
    mb_opt_add(m, op, O_ADD, 0, 'b', 1); /* RELU */
    mb_io(m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
}

TEST(add_fused_relu)
{
    mb m;
    add_model(&m);
    const float x[4] = {1.0f, 1.0f, -3.0f, 0.5f};
    const float want[4] = {2.0f, 0.0f, 0.0f, 0.25f};
    check_f32(&m, x, want, 4, 1e-6);
    av_nn_model *model = load_ok(&m);
    CHECK_EQ_INT(av_nn_model_format(model), AV_NN_FORMAT_TFLITE);
    CHECK_EQ_INT(av_nn_num_inputs(model), 1);
    CHECK_EQ_INT(av_nn_num_outputs(model), 1);
    CHECK_STR_EQ(av_nn_input(model, 0)->name, "x");
    CHECK_STR_EQ(av_nn_output(model, 0)->name, "y");
    CHECK_EQ_INT(av_nn_output(model, 0)->rank, 2);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[1], 4);
    av_nn_model_free(model);
    mb_free(&m);
}

/* x[1,3,3,2] NHWC, w[2,2,2,2] OHWI, bias[2], VALID stride 1, RELU6. */
static void conv_model(mb *m, float *want, const float *x, int act)
{
    static const int32_t dx[4] = {1, 3, 3, 2}, dw[4] = {2, 2, 2, 2}, db[1] = {2},
                         dy[4] = {1, 2, 2, 2};
    float w[16], b[2] = {0.5f, -1.0f};
    for (int i = 0; i < 16; i++)
        w[i] = (float)((i * 7) % 5 - 2) * 0.5f;
    mb_init(m);
    int tx = mb_tensor_add(m, "x", TT_F32, 4, dx);
    int tw = mb_const(m, "w", TT_F32, 4, dw, w, sizeof w);
    int tb = mb_const(m, "b", TT_F32, 1, db, b, sizeof b);
    int ty = mb_tensor_add(m, "y", TT_F32, 4, dy);
    int op = mb_op_add(m, OP_CONV, 3, (int32_t[]){tx, tw, tb}, 1, (int32_t[]){ty});
    mb_opt_add(m, op, O_CONV, 0, 'b', 1); /* VALID */
    mb_opt_add(m, op, O_CONV, 1, 'i', 1);
    mb_opt_add(m, op, O_CONV, 2, 'i', 1);
    mb_opt_add(m, op, O_CONV, 3, 'b', act);
    mb_io(m, 1, (int32_t[]){tx}, 1, (int32_t[]){ty});
    for (int oy = 0; oy < 2; oy++)
        for (int ox = 0; ox < 2; ox++)
            for (int o = 0; o < 2; o++) {
                double s = b[o];
                for (int ky = 0; ky < 2; ky++)
                    for (int kx = 0; kx < 2; kx++)
                        for (int c = 0; c < 2; c++)
                            s += x[((oy + ky) * 3 + ox + kx) * 2 + c] *
                                 w[((o * 2 + ky) * 2 + kx) * 2 + c];
                if (act == 3)
                    s = s < 0 ? 0 : s > 6 ? 6 : s;
                want[(oy * 2 + ox) * 2 + o] = (float)s;
            }
}

TEST(conv2d_relu6)
{
    float x[18], want[8];
    for (int i = 0; i < 18; i++)
        x[i] = (float)(i % 7) - 1.5f;
    mb m;
    conv_model(&m, want, x, 3);
    bool clipped_hi = false, clipped_lo = false;
    for (int i = 0; i < 8; i++) {
        clipped_hi |= want[i] == 6.0f;
        clipped_lo |= want[i] == 0.0f;
    }
    CHECK_MSG(clipped_hi && clipped_lo, "the data should exercise both RELU6 bounds");
    check_f32(&m, x, want, 8, 1e-5);
    mb_free(&m);
}

TEST(reshape_and_softmax)
{
    static const int32_t dx[2] = {2, 3}, dr[1] = {6}, ds[1] = {2}, shp[2] = {1, 6};
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, dx);
    int s = mb_const_i32(&m, "shape", 1, ds, shp, 2);
    int r = mb_tensor_add(&m, "r", TT_F32, 2, (int32_t[]){1, 6});
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){1, 6});
    int op = mb_op_add(&m, OP_RESHAPE, 2, (int32_t[]){x, s}, 1, (int32_t[]){r});
    mb_opt_add(&m, op, O_RESHAPE, 0, 'i', 0); /* an options table with no new_shape */
    op = mb_op_add(&m, OP_SOFTMAX, 1, (int32_t[]){r}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_SOFTMAX, 0, 'f', 0.5);
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    (void)dr;
    const float xv[6] = {1, 2, 3, -1, 0, 4};
    float want[6];
    double sum = 0;
    for (int i = 0; i < 6; i++)
        sum += exp(0.5 * xv[i]);
    for (int i = 0; i < 6; i++)
        want[i] = (float)(exp(0.5 * xv[i]) / sum);
    check_f32(&m, xv, want, 6, 1e-5);
    av_nn_model *model = load_ok(&m);
    CHECK_EQ_INT(av_nn_output(model, 0)->rank, 2);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[0], 1);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[1], 6);
    av_nn_model_free(model);
    mb_free(&m);
}

/* concat(x[1,2], c[1,3]) axis 1 with fused RELU_N1_TO_1. */
TEST(concat_fused_activation)
{
    static const float c[3] = {0.5f, -4.0f, 2.0f};
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){1, 2});
    int k = mb_const(&m, "c", TT_F32, 2, (int32_t[]){1, 3}, c, sizeof c);
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){1, 5});
    int op = mb_op_add(&m, OP_CONCAT, 2, (int32_t[]){x, k}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_CONCAT, 0, 'i', -1); /* negative axis */
    mb_opt_add(&m, op, O_CONCAT, 1, 'b', 2);  /* RELU_N1_TO_1 */
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    const float xv[2] = {-0.25f, 3.0f};
    const float want[5] = {-0.25f, 1.0f, 0.5f, -1.0f, 1.0f};
    maybe_seed("concat_act", &m);
    check_f32(&m, xv, want, 5, 1e-6);
    mb_free(&m);
}

/* pad x[1,2,2,1] by [[0,0],[1,0],[0,1],[0,0]] then mean over H,W keep_dims. */
TEST(pad_then_mean)
{
    static const int32_t pads[8] = {0, 0, 1, 0, 0, 1, 0, 0}, axes[2] = {1, 2};
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 4, (int32_t[]){1, 2, 2, 1});
    int p = mb_const_i32(&m, "pads", 2, (int32_t[]){4, 2}, pads, 8);
    int pd = mb_tensor_add(&m, "padded", TT_F32, 4, (int32_t[]){1, 3, 3, 1});
    int a = mb_const_i32(&m, "axes", 1, (int32_t[]){2}, axes, 2);
    int y = mb_tensor_add(&m, "y", TT_F32, 4, (int32_t[]){1, 1, 1, 1});
    mb_op_add(&m, OP_PAD, 2, (int32_t[]){x, p}, 1, (int32_t[]){pd});
    int op = mb_op_add(&m, OP_MEAN, 2, (int32_t[]){pd, a}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_REDUCER, 0, 'b', 1);
    mb_io(&m, 1, (int32_t[]){x}, 2, (int32_t[]){y, pd});
    const float xv[4] = {1, 2, 3, 6};
    maybe_seed("pad_mean", &m);
    av_nn_model *model = load_ok(&m);
    CHECK_EQ_INT(av_nn_output(model, 0)->rank, 4);
    for (int b = 0; b < 2; b++) {
        float got = -1, padded[9];
        const void *in[1] = {xv};
        void *out[2] = {&got, padded};
        run_on(model, backends[b], in, out);
        /* rows: pad one on top; cols: pad one on the right */
        const float wp[9] = {0, 0, 0, 1, 2, 0, 3, 6, 0};
        for (int i = 0; i < 9; i++)
            CHECK_NEAR(padded[i], wp[i], 0);
        CHECK_NEAR(got, 12.0 / 9.0, 1e-6);
    }
    av_nn_model_free(model);
    mb_free(&m);
}

/* x[3,4]: rows 0..2 step 2, cols 3 down to 1 step -1, then shrink nothing. */
TEST(strided_slice_masks)
{
    static const int32_t begin[2] = {0, 3}, end[2] = {3, 0}, strides[2] = {2, -1};
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){3, 4});
    int b = mb_const_i32(&m, "begin", 1, (int32_t[]){2}, begin, 2);
    int e = mb_const_i32(&m, "end", 1, (int32_t[]){2}, end, 2);
    int s = mb_const_i32(&m, "strides", 1, (int32_t[]){2}, strides, 2);
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){2, 3});
    int op = mb_op_add(&m, OP_STRIDED_SLICE, 4, (int32_t[]){x, b, e, s}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_STRIDED_SLICE, 0, 'i', 0);
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    float xv[12];
    for (int i = 0; i < 12; i++)
        xv[i] = (float)i;
    const float want[6] = {3, 2, 1, 11, 10, 9};
    check_f32(&m, xv, want, 6, 0);

    /* begin_mask on axis 1 and shrink_axis on axis 0: x[1, :] -> [4] */
    mb_free(&m);
    mb_init(&m);
    static const int32_t b2[2] = {1, 2}, e2[2] = {2, 0}, s2[2] = {1, 1};
    x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){3, 4});
    b = mb_const_i32(&m, "begin", 1, (int32_t[]){2}, b2, 2);
    e = mb_const_i32(&m, "end", 1, (int32_t[]){2}, e2, 2);
    s = mb_const_i32(&m, "strides", 1, (int32_t[]){2}, s2, 2);
    y = mb_tensor_add(&m, "y", TT_F32, 1, (int32_t[]){4});
    op = mb_op_add(&m, OP_STRIDED_SLICE, 4, (int32_t[]){x, b, e, s}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_STRIDED_SLICE, 0, 'i', 2); /* begin_mask: axis 1 from 0 */
    mb_opt_add(&m, op, O_STRIDED_SLICE, 1, 'i', 2); /* end_mask: axis 1 to the end */
    mb_opt_add(&m, op, O_STRIDED_SLICE, 4, 'i', 1); /* shrink axis 0 */
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    const float want2[4] = {4, 5, 6, 7};
    check_f32(&m, xv, want2, 4, 0);
    av_nn_model *model = load_ok(&m);
    CHECK_EQ_INT(av_nn_output(model, 0)->rank, 1);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[0], 4);
    av_nn_model_free(model);
    mb_free(&m);
}

/* SPLIT (axis as input 0) of x[2,6] into 3 along axis 1 (given as -1). */
TEST(split_axis_input)
{
    static const int32_t axis[1] = {-1};
    mb m;
    mb_init(&m);
    int a = mb_const_i32(&m, "axis", 0, NULL, axis, 1);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){2, 6});
    int y0 = mb_tensor_add(&m, "y0", TT_F32, 2, (int32_t[]){2, 2});
    int y1 = mb_tensor_add(&m, "y1", TT_F32, 2, (int32_t[]){2, 2});
    int y2 = mb_tensor_add(&m, "y2", TT_F32, 2, (int32_t[]){2, 2});
    int op = mb_op_add(&m, OP_SPLIT, 2, (int32_t[]){a, x}, 3, (int32_t[]){y0, y1, y2});
    mb_opt_add(&m, op, O_SPLIT, 0, 'i', 3);
    mb_io(&m, 1, (int32_t[]){x}, 3, (int32_t[]){y2, y0, y1});
    float xv[12];
    for (int i = 0; i < 12; i++)
        xv[i] = (float)i;
    av_nn_model *model = load_ok(&m);
    CHECK_EQ_INT(av_nn_num_outputs(model), 3);
    CHECK_STR_EQ(av_nn_output(model, 0)->name, "y2");
    for (int b = 0; b < 2; b++) {
        float o[3][4];
        const void *in[1] = {xv};
        void *out[3] = {o[0], o[1], o[2]};
        run_on(model, backends[b], in, out);
        /* outputs are y2, y0, y1 */
        const int part[3] = {2, 0, 1};
        for (int k = 0; k < 3; k++)
            for (int r = 0; r < 2; r++)
                for (int c = 0; c < 2; c++)
                    CHECK_NEAR(o[k][r * 2 + c], xv[r * 6 + part[k] * 2 + c], 0);
    }
    av_nn_model_free(model);

    /* num_splits that disagrees with the outputs */
    m.ops[0].opt[0].v = 2;
    check_fails(&m, "num_splits 2 but 3 outputs");
    mb_free(&m);
}

/* UNPACK x[2,3] along axis 1 into three [2], then PACK them back along axis 0 -> [3,2]. */
TEST(pack_unpack)
{
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){2, 3});
    int u[3];
    for (int i = 0; i < 3; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "u%d", i);
        u[i] = mb_tensor_add(&m, nm, TT_F32, 1, (int32_t[]){2});
    }
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){3, 2});
    int op = mb_op_add(&m, OP_UNPACK, 1, (int32_t[]){x}, 3, (int32_t[]){u[0], u[1], u[2]});
    mb_opt_add(&m, op, O_UNPACK, 0, 'i', 3);
    mb_opt_add(&m, op, O_UNPACK, 1, 'i', 1);
    op = mb_op_add(&m, OP_PACK, 3, (int32_t[]){u[2], u[0], u[1]}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_PACK, 0, 'i', 3);
    mb_opt_add(&m, op, O_PACK, 1, 'i', 0);
    mb_io(&m, 1, (int32_t[]){x}, 2, (int32_t[]){y, u[1]});
    const float xv[6] = {1, 2, 3, 4, 5, 6};
    maybe_seed("pack_unpack", &m);
    av_nn_model *model = load_ok(&m);
    CHECK_EQ_INT(av_nn_output(model, 0)->rank, 2);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[0], 3);
    CHECK_EQ_INT(av_nn_output(model, 1)->rank, 1);
    for (int b = 0; b < 2; b++) {
        float got[6], col[2];
        const void *in[1] = {xv};
        void *out[2] = {got, col};
        run_on(model, backends[b], in, out);
        /* rows of y: column 2, column 0, column 1 of x */
        const float want[6] = {3, 6, 1, 4, 2, 5};
        for (int i = 0; i < 6; i++)
            CHECK_NEAR(got[i], want[i], 0);
        CHECK_NEAR(col[0], 2, 0);
        CHECK_NEAR(col[1], 5, 0);
    }
    av_nn_model_free(model);
    mb_free(&m);
}

static int32_t clampi(long v, long lo, long hi)
{
    return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

/*
 * A quantised 1x1-ish conv: x[1,2,2,2] -> y[1,2,2,3], filter [3,1,1,2].
 * per_channel: i8 with one weight scale per output channel (zero points 0,
 * the bias quantised per channel too); otherwise u8, one scale each.
 */
static void check_quant_conv(bool per_channel)
{
    const int type = per_channel ? TT_I8 : TT_U8;
    const float sx = 0.05f, so = 0.1f;
    const int64_t zx = per_channel ? -3 : 120, zo = per_channel ? 5 : 100, zw = per_channel ? 0 : 128;
    const float swc[3] = {0.02f, 0.005f, 0.04f}, sw1 = 0.01f;
    uint8_t wq[6];
    const int wv[6] = {40, -20, -90, 100, 7, 60}; /* q - zw */
    for (int i = 0; i < 6; i++)
        wq[i] = (uint8_t)(wv[i] + zw);
    int32_t bias[3] = {100, -250, 30};
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", type, 4, (int32_t[]){1, 2, 2, 2});
    int w = mb_const(&m, "w", type, 4, (int32_t[]){3, 1, 1, 2}, wq, 6);
    int b = mb_const_i32(&m, "b", 1, (int32_t[]){3}, bias, 3);
    int y = mb_tensor_add(&m, "y", type, 4, (int32_t[]){1, 2, 2, 3});
    mb_quant(&m, x, 1, &sx, &zx, 1, 0);
    mb_quant(&m, y, 1, &so, &zo, 1, 0);
    if (per_channel) {
        const int64_t z0[3] = {0, 0, 0};
        float bs[3];
        for (int i = 0; i < 3; i++)
            bs[i] = sx * swc[i];
        mb_quant(&m, w, 3, swc, z0, 3, 0);
        mb_quant(&m, b, 3, bs, z0, 3, 0);
    } else {
        const int64_t z0 = 0;
        float bs = sx * sw1;
        mb_quant(&m, w, 1, &sw1, &zw, 1, 0);
        mb_quant(&m, b, 1, &bs, &z0, 1, 0);
    }
    int op = mb_op_add(&m, OP_CONV, 3, (int32_t[]){x, w, b}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_CONV, 0, 'b', 1);
    mb_opt_add(&m, op, O_CONV, 1, 'i', 1);
    mb_opt_add(&m, op, O_CONV, 2, 'i', 1);
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});

    uint8_t xq[8];
    const int xv[8] = {10, -40, 90, 3, -100, 60, 25, 0}; /* q - zx */
    for (int i = 0; i < 8; i++)
        xq[i] = (uint8_t)(xv[i] + zx);
    int want[12];
    for (int p = 0; p < 4; p++)
        for (int o = 0; o < 3; o++) {
            double sw = per_channel ? swc[o] : sw1;
            long acc = bias[o];
            for (int c = 0; c < 2; c++)
                acc += (long)xv[p * 2 + c] * wv[o * 2 + c];
            double real = (double)acc * sx * sw;
            want[p * 3 + o] = clampi(lround(real / so) + zo, per_channel ? -128 : 0,
                                     per_channel ? 127 : 255);
        }
    maybe_seed(per_channel ? "conv_i8_per_channel" : "conv_u8", &m);
    av_nn_model *model = load_ok(&m);
    const av_nn_tensor_info *ii = av_nn_input(model, 0), *oi = av_nn_output(model, 0);
    CHECK_EQ_INT(ii->dtype, per_channel ? AV_NN_I8 : AV_NN_U8);
    CHECK_NEAR(ii->scale, sx, 0);
    CHECK_EQ_INT(ii->zero_point, zx);
    CHECK_NEAR(oi->scale, so, 0);
    CHECK_EQ_INT(oi->zero_point, zo);
    bool saw_non_zero = false;
    for (int bk = 0; bk < 2; bk++) {
        uint8_t got[12];
        const void *in[1] = {xq};
        void *out[1] = {got};
        run_on(model, backends[bk], in, out);
        for (int i = 0; i < 12; i++) {
            int g = per_channel ? (int)(int8_t)got[i] : (int)got[i];
            CHECK_MSG(abs(g - want[i]) <= 1, "%s: [%d] %d, want %d",
                      bk ? "xnnpack" : "reference", i, g, want[i]);
            saw_non_zero |= want[i] != zo;
        }
    }
    CHECK(saw_non_zero);
    av_nn_model_free(model);

    if (per_channel) {
        /* scales that do not match the quantized dimension */
        m.t[w].qdim = 3;
        check_fails(&m, "3 scales along dimension 3");
        m.t[w].qdim = 0;
        m.t[w].zp[1] = 4;
        check_fails(&m, "per-channel zero points differ");
        m.t[w].nzp = 2;
        check_fails(&m, "3 scales but 2 zero points");
        m.t[w].nzp = 0; /* no zero points: all 0, the same model */
        model = load_ok(&m);
        av_nn_model_free(model);
        m.t[w].scale[2] = -1.0f;
        check_fails(&m, "scale 2 is -1");
    }
    mb_free(&m);
}

TEST(u8_conv_per_tensor) { check_quant_conv(false); }
TEST(i8_conv_per_channel) { check_quant_conv(true); }


/* Legal but unusual files: unnamed tensors, no bias, outputs that are inputs or constants. */
TEST(unnamed_tensors)
{
    mb m;
    add_model(&m);
    for (int i = 0; i < m.n_t; i++)
        m.t[i].name[0] = '\0';
    const float x[4] = {1.0f, 1.0f, -3.0f, 0.5f};
    const float want[4] = {2.0f, 0.0f, 0.0f, 0.25f};
    check_f32(&m, x, want, 4, 1e-6);
    mb_free(&m);
}

TEST(conv_without_bias)
{
    float x[18], want[8];
    for (int i = 0; i < 18; i++)
        x[i] = (float)(i % 5) * 0.25f;
    mb m;
    conv_model(&m, want, x, 0);
    /* the bias was 0.5, -1: take it back out of the expected values */
    for (int i = 0; i < 8; i++)
        want[i] -= i % 2 ? -1.0f : 0.5f;
    m.ops[0].in[2] = -1;
    check_f32(&m, x, want, 8, 1e-5);
    m.ops[0].n_in = 2;
    check_f32(&m, x, want, 8, 1e-5);
    mb_free(&m);
}

TEST(outputs_that_are_inputs_or_constants)
{
    mb m;
    add_model(&m);
    mb_io(&m, 1, (int32_t[]){0}, 3, (int32_t[]){2, 0, 1});
    const float x[4] = {1.0f, 1.0f, -3.0f, 0.5f};
    av_nn_model *model = load_ok(&m);
    CHECK_EQ_INT(av_nn_num_outputs(model), 3);
    for (int b = 0; b < 2; b++) {
        float y[4], xo[4], c[4];
        const void *in[1] = {x};
        void *out[3] = {y, xo, c};
        run_on(model, backends[b], in, out);
        CHECK_NEAR(y[0], 2.0f, 1e-6);
        CHECK_NEAR(y[2], 0.0f, 1e-6);
        for (int i = 0; i < 4; i++)
            CHECK_NEAR(xo[i], x[i], 0);
        CHECK_NEAR(c[1], -2.0f, 0);
        CHECK_NEAR(c[3], -0.25f, 0);
    }
    av_nn_model_free(model);
    /* no operators at all: the input is the output */
    m.n_ops = 0;
    mb_io(&m, 1, (int32_t[]){0}, 1, (int32_t[]){0});
    check_f32(&m, x, x, 4, 0);
    mb_free(&m);
}

TEST(reshape_shape_with_minus_one)
{
    static const int32_t shp[2] = {-1, 2};
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){2, 3});
    int s = mb_const_i32(&m, "shape", 1, (int32_t[]){2}, shp, 2);
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){3, 2});
    mb_op_add(&m, OP_RESHAPE, 2, (int32_t[]){x, s}, 1, (int32_t[]){y});
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    const float xv[6] = {1, 2, 3, 4, 5, 6};
    check_f32(&m, xv, xv, 6, 0);
    av_nn_model *model = load_ok(&m);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[0], 3);
    CHECK_EQ_INT(av_nn_output(model, 0)->dims[1], 2);
    av_nn_model_free(model);
    mb_free(&m);
}

TEST(input_listed_twice_and_unproduced_tensor)
{
    mb m;
    add_model(&m);
    mb_io(&m, 2, (int32_t[]){0, 0}, 1, (int32_t[]){2});
    char err[512] = "";
    av_nn_model *model = NULL;
    av_nn_status st = load_mb(&m, &model, err, sizeof err);
    if (st == AV_NN_OK) {
        av_nn_model_free(model); /* accepted: then it must be one input */
    } else {
        CHECK_STR_CONTAINS(err, "'x'");
    }
    mb_free(&m);
    /* an operator reading a tensor nothing produces */
    add_model(&m);
    mb_io(&m, 0, NULL, 1, (int32_t[]){2});
    check_fails(&m, "'x'");
    mb_free(&m);
}

/* ------------------------------------------------------------ hostile input */

TEST(empty_and_short)
{
    check_fails_bytes((const uint8_t *)"", 0, "unrecognised");
    const uint8_t hdr[8] = {0, 0, 0, 0, 'T', 'F', 'L', '3'};
    check_fails_bytes(hdr, sizeof hdr, "vtable");
    const uint8_t shortb[9] = {8, 0, 0, 0, 'T', 'F', 'L', '3', 0};
    check_fails_bytes(shortb, sizeof shortb, "out of bounds");
}

TEST(wrong_version)
{
    mb m;
    add_model(&m);
    m.version = 2;
    check_fails(&m, "schema version 2");
    mb_free(&m);
}

TEST(tensor_index_out_of_range)
{
    mb m;
    add_model(&m);
    m.ops[0].in[1] = 99;
    check_fails(&m, "names tensor 99 of 3");
    mb_free(&m);
    add_model(&m);
    m.ops[0].out[0] = -5;
    check_fails(&m, "names tensor -5");
    mb_free(&m);
    add_model(&m);
    m.in[0] = 7;
    check_fails(&m, "names tensor 7");
    mb_free(&m);
    add_model(&m);
    m.ops[0].code_index = 4;
    check_fails(&m, "opcode_index 4 of 1");
    mb_free(&m);
}

TEST(buffer_index_out_of_range)
{
    mb m;
    add_model(&m);
    m.t[1].buffer = 50;
    check_fails(&m, "buffer 50 of 2");
    mb_free(&m);
}

TEST(data_size_mismatch)
{
    mb m;
    add_model(&m);
    m.buf_len[1] = 12; /* 3 floats for shape [4] */
    check_fails(&m, "holds 12 bytes, shape and type need 16");
    mb_free(&m);
}

TEST(huge_dims)
{
    mb m;
    /* an input: nothing infers its shape, the file's is used as is */
    add_model(&m);
    m.t[0].dims[0] = 1 << 30;
    m.t[0].dims[1] = 1 << 30;
    char err[512] = "";
    av_nn_model *model = NULL;
    av_nn_status st = load_mb(&m, &model, err, sizeof err);
    CHECK_MSG(st != AV_NN_OK, "loaded a [2^30, 2^30] input");
    CHECK(model == NULL);
    CHECK_STR_CONTAINS(err, "'x'");
    CHECK_STR_CONTAINS(err, "exceeds");
    CHECK_EQ_INT(st, AV_NN_E_LIMIT);
    /* a constant */
    m.t[0].dims[0] = 1;
    m.t[0].dims[1] = 4;
    m.t[1].rank = 2;
    m.t[1].dims[0] = 1 << 30;
    m.t[1].dims[1] = 1 << 30;
    check_fails(&m, "'c': shape [1073741824, 1073741824] exceeds");
    CHECK_EQ_INT(load_mb(&m, &model, err, sizeof err), AV_NN_E_LIMIT);
    /* negative dims */
    m.t[1].rank = 1;
    m.t[1].dims[0] = -4;
    check_fails(&m, "tensor 1 'c': dim 0 is -4");
    mb_free(&m);
}

TEST(rank_nine)
{
    mb m;
    add_model(&m);
    m.t[2].rank = 9;
    for (int i = 0; i < 9; i++)
        m.t[2].dims[i] = 1;
    check_fails(&m, "rank 9 exceeds 8");
    mb_free(&m);
}

TEST(unknown_builtin_code)
{
    mb m;
    add_model(&m);
    m.codes[0] = 200;
    check_fails(&m, "builtin 200");
    char err[256];
    av_nn_model *model = NULL;
    CHECK_EQ_INT(load_mb(&m, &model, err, sizeof err), AV_NN_E_UNSUPPORTED);
    check_fails(&m, "not supported");
    m.codes[0] = -3;
    check_fails(&m, "not supported");
    mb_free(&m);
}

TEST(custom_op)
{
    mb m;
    add_model(&m);
    m.codes[0] = OP_CUSTOM;
    m.custom[0] = "TFLite_Detection_PostProcess";
    check_fails(&m, "CUSTOM");
    check_fails(&m, "TFLite_Detection_PostProcess");
    mb_free(&m);
}

TEST(unsupported_tensor_type)
{
    mb m;
    add_model(&m);
    m.t[0].type = TT_STRING;
    check_fails(&m, "type STRING (5) is not supported");
    char err[256];
    av_nn_model *model = NULL;
    CHECK_EQ_INT(load_mb(&m, &model, err, sizeof err), AV_NN_E_UNSUPPORTED);
    m.t[0].type = TT_F32;
    m.t[1].type = TT_STRING; /* a constant's type, read inside the operator */
    check_fails(&m, "tensor 1 'c': type STRING");
    CHECK_EQ_INT(load_mb(&m, &model, err, sizeof err), AV_NN_E_UNSUPPORTED);
    m.t[0].type = 77;
    check_fails(&m, "(77) is not supported");
    mb_free(&m);
}

TEST(operator_reads_its_own_output)
{
    mb m;
    add_model(&m);
    m.ops[0].in[0] = 2; /* y = relu(y + c) */
    check_fails(&m, "cycle");
    mb_free(&m);
    /* two operators feeding each other */
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 1, (int32_t[]){4});
    int a = mb_tensor_add(&m, "a", TT_F32, 1, (int32_t[]){4});
    int b = mb_tensor_add(&m, "b", TT_F32, 1, (int32_t[]){4});
    mb_op_add(&m, OP_ADD, 2, (int32_t[]){x, b}, 1, (int32_t[]){a});
    mb_op_add(&m, OP_ADD, 2, (int32_t[]){a, x}, 1, (int32_t[]){b});
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){b});
    check_fails(&m, "cycle");
    mb_free(&m);
}

TEST(writes_to_inputs_and_constants)
{
    mb m;
    /* an operator whose output is the graph input */
    add_model(&m);
    m.ops[0].out[0] = 0;
    m.out[0] = 0;
    check_fails(&m, "'x'");
    mb_free(&m);
    /* an operator whose output is a constant */
    add_model(&m);
    m.ops[0].out[0] = 1;
    m.out[0] = 1;
    check_fails(&m, "'c'");
    mb_free(&m);
    /* two operators writing one tensor */
    add_model(&m);
    mb_op_add(&m, OP_ADD, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
    check_fails(&m, "'y'");
    mb_free(&m);
}

TEST(no_outputs)
{
    mb m;
    add_model(&m);
    m.no_outputs = true;
    check_fails(&m, "no outputs");
    m.no_outputs = false;
    m.n_out = 0;
    check_fails(&m, "no outputs");
    m.n_out = 1;
    m.ops[0].n_out = 0;
    check_fails(&m, "no outputs");
    mb_free(&m);
}

TEST(no_subgraphs_or_operators)
{
    mb m;
    add_model(&m);
    /* an output nothing computes */
    m.n_ops = 0;
    check_fails(&m, "'y'");
    mb_free(&m);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

TEST(offsets_outside_the_file)
{
    mb m;
    add_model(&m);
    size_t len;
    uint8_t *b = mb_build(&m, &len);
    uint8_t *c = malloc(len);
    CHECK(c);
    /* sanity: the bytes load as built */
    char err[256];
    av_nn_model *model = NULL;
    CHECK(av_nn_load_mem(b, len, &model, err, sizeof err) == AV_NN_OK);
    av_nn_model_free(model);
    uint32_t root = rd32(b);
    /* root offset past the end */
    memcpy(c, b, len);
    wr32(c, (uint32_t)len + 100);
    check_fails_bytes(c, len, "root table: table offset");
    /* root table's vtable before the file start and after its end */
    memcpy(c, b, len);
    wr32(c + root, root + 64);
    check_fails_bytes(c, len, "vtable offset");
    wr32(c + root, (uint32_t)-(int32_t)(len + 8));
    check_fails_bytes(c, len, "vtable offset");
    /* a vtable slot pointing past the table's inline size */
    memcpy(c, b, len);
    uint32_t vt = (uint32_t)((int64_t)root - (int32_t)rd32(b + root));
    uint16_t tsize = (uint16_t)(c[vt + 2] | c[vt + 3] << 8);
    c[vt + 4] = (uint8_t)tsize; /* version field at the table's end */
    c[vt + 5] = (uint8_t)(tsize >> 8);
    check_fails_bytes(c, len, "field version: offset");
    /* the vtable claims more bytes than the file has */
    memcpy(c, b, len);
    c[vt] = 0xfe;
    c[vt + 1] = 0xff;
    check_fails_bytes(c, len, "bad vtable size");
    /* the subgraphs offset points past the end */
    memcpy(c, b, len);
    uint16_t fo = (uint16_t)(c[vt + 4 + 2 * 2] | c[vt + 5 + 2 * 2] << 8);
    CHECK(fo != 0);
    wr32(c + root + fo, (uint32_t)len);
    check_fails_bytes(c, len, "subgraphs: offset");
    /* a vector whose count runs past the end */
    memcpy(c, b, len);
    uint32_t sgs = root + fo + rd32(b + root + fo);
    wr32(c + sgs, 0x40000000u);
    check_fails_bytes(c, len, "subgraphs: vector length");
    free(c);
    free(b);
    mb_free(&m);
}

/* Every prefix and single-byte flip of a small valid model: no crash, clean status. */
TEST(truncations_and_flips)
{
    mb m;
    add_model(&m);
    size_t len;
    uint8_t *b = mb_build(&m, &len);
    mb_free(&m);
    /* Output of the whole model on one input, to compare what a prefix loads to. */
    const float xin[4] = {1.0f, 1.0f, -3.0f, 0.5f};
    float want[4], got[4];
    {
        av_nn_model *model = NULL;
        char err[256];
        CHECK(av_nn_load_mem(b, len, &model, err, sizeof err) == AV_NN_OK);
        const void *in[1] = {xin};
        void *out[1] = {want};
        run_on(model, AV_NN_BACKEND_REFERENCE, in, out);
        av_nn_model_free(model);
    }
    size_t shortest_ok = len;
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size so ASan sees overreads */
        CHECK(copy);
        memcpy(copy, b, n);
        char err[256] = "";
        av_nn_model *model = NULL;
        av_nn_status st = av_nn_load_mem(copy, n, &model, err, sizeof err);
        CHECK_MSG((st == AV_NN_OK) == (model != NULL), "prefix %zu: status %d", n, (int)st);
        if (st == AV_NN_OK) {
            /* only bytes nothing refers to were cut (the builder writes buffer 0's
             * empty table last): the model must be the same */
            if (n < shortest_ok)
                shortest_ok = n;
            const void *in[1] = {xin};
            void *out[1] = {got};
            run_on(model, AV_NN_BACKEND_REFERENCE, in, out);
            CHECK_MSG(memcmp(got, want, sizeof got) == 0, "prefix %zu computes otherwise", n);
            av_nn_model_free(model);
        } else {
            CHECK_MSG(err[0], "prefix %zu: no message", n);
        }
        free(copy);
    }
    CHECK_MSG(shortest_ok + 32 >= len, "a prefix of %zu/%zu bytes loaded", shortest_ok, len);
    static const uint8_t flips[] = {0xff, 0x80, 0x01, 0x7f, 0x10};
    int loaded = 0;
    uint8_t *copy = malloc(len);
    CHECK(copy);
    for (size_t i = 0; i < len; i++)
        for (size_t k = 0; k < sizeof flips; k++) {
            memcpy(copy, b, len);
            copy[i] ^= flips[k];
            char err[256] = "";
            av_nn_model *model = NULL;
            av_nn_status st = av_nn_load_mem(copy, len, &model, err, sizeof err);
            CHECK_MSG((st == AV_NN_OK) == (model != NULL), "flip %zu: status %d", i, (int)st);
            if (st != AV_NN_OK) {
                CHECK_MSG(err[0], "flip %zu^%02x: no message", i, flips[k]);
            } else {
                /* what loads must also run (small shapes only) */
                loaded++;
                const av_nn_tensor_info *ii = av_nn_input(model, 0);
                int64_t ne = 1;
                for (int d = 0; ii && d < ii->rank; d++)
                    ne *= ii->dims[d];
                if (ii && av_nn_num_inputs(model) == 1 && av_nn_num_outputs(model) == 1 &&
                    ne <= 64) {
                    const av_nn_tensor_info *oi = av_nn_output(model, 0);
                    int64_t no = 1;
                    for (int d = 0; d < oi->rank; d++)
                        no *= oi->dims[d];
                    if (no <= 64) {
                        uint8_t inb[64 * 8] = {0}, outb[64 * 8];
                        const void *in[1] = {inb};
                        void *out[1] = {outb};
                        av_nn_ctx_opts o = {.threads = 1, .backend = AV_NN_BACKEND_REFERENCE};
                        av_nn_ctx *c = NULL;
                        if (av_nn_ctx_new(model, &o, &c, err, sizeof err) == AV_NN_OK) {
                            av_nn_run(c, in, out, err, sizeof err);
                            av_nn_ctx_free(c);
                        }
                    }
                }
                av_nn_model_free(model);
            }
        }
    CHECK(loaded > 0); /* flips of padding and of values still load */
    free(copy);
    free(b);
}

/* ------------------------------------------------------------ fuzz seeds */

TEST(fuzz_seeds)
{
    const char *dir = getenv("AV_TFLITE_SEED_DIR");
    mb m;
    float x[18] = {0}, want[8];
    add_model(&m);
    write_seed(dir, "add_relu", &m);
    mb_free(&m);
    conv_model(&m, want, x, 3);
    write_seed(dir, "conv_relu6", &m);
    mb_free(&m);
    /* softmax over a reshape, a strided slice and a split: the option tables */
    static const int32_t shp[2] = {1, 6}, axis[1] = {1}, bg[2] = {0, 0}, en[2] = {1, 4},
                         st[2] = {1, 2};
    mb_init(&m);
    int in = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){2, 3});
    int s = mb_const_i32(&m, "shape", 1, (int32_t[]){2}, shp, 2);
    int r = mb_tensor_add(&m, "r", TT_F32, 2, (int32_t[]){1, 6});
    int sm = mb_tensor_add(&m, "sm", TT_F32, 2, (int32_t[]){1, 6});
    int ax = mb_const_i32(&m, "axis", 0, NULL, axis, 1);
    int p0 = mb_tensor_add(&m, "p0", TT_F32, 2, (int32_t[]){1, 3});
    int p1 = mb_tensor_add(&m, "p1", TT_F32, 2, (int32_t[]){1, 3});
    int b = mb_const_i32(&m, "b", 1, (int32_t[]){2}, bg, 2);
    int e = mb_const_i32(&m, "e", 1, (int32_t[]){2}, en, 2);
    int sd = mb_const_i32(&m, "s", 1, (int32_t[]){2}, st, 2);
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){1, 2});
    mb_op_add(&m, OP_RESHAPE, 2, (int32_t[]){in, s}, 1, (int32_t[]){r});
    int op = mb_op_add(&m, OP_SOFTMAX, 1, (int32_t[]){r}, 1, (int32_t[]){sm});
    mb_opt_add(&m, op, O_SOFTMAX, 0, 'f', 1.0);
    op = mb_op_add(&m, OP_SPLIT, 2, (int32_t[]){ax, sm}, 2, (int32_t[]){p0, p1});
    mb_opt_add(&m, op, O_SPLIT, 0, 'i', 2);
    op = mb_op_add(&m, OP_STRIDED_SLICE, 4, (int32_t[]){sm, b, e, sd}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_STRIDED_SLICE, 1, 'i', 0);
    mb_io(&m, 1, (int32_t[]){in}, 3, (int32_t[]){y, p0, p1});
    write_seed(dir, "reshape_softmax_split_slice", &m);
    mb_free(&m);
}

/* ------------------------------------------------------------ real models */

/* av_test_shared's answer copied: it reuses one buffer, and cases need several paths. */
static const char *shared(const char *rel)
{
    static char paths[4][1024];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s", av_test_shared(rel));
    return p;
}

static void top1(const float *v, size_t n, size_t *best)
{
    *best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[*best])
            *best = i;
}

TEST(inat_bird_parrot_via_classifier)
{
    const char *model = shared("models/inat_bird/mobilenet_v2_1.0_224_inat_bird_quant.tflite");
    const char *labels = shared("models/inat_bird/inat_bird_labels.txt");
    const char *img = shared("testdata/images/parrot.jpg");
    char err[512] = "";
    av_detect_classifier *c = NULL;
    av_detect_status st = av_detect_classifier_open(model, labels, NULL, 1, &c, err, sizeof err);
    CHECK_MSG(st == AV_DETECT_OK, "open: %s", err);
    FILE *f = fopen(img, "rb");
    CHECK(f);
    static uint8_t buf[4 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(n > 0 && n < sizeof buf);
    av_detect_species sp[5];
    int k = 0;
    st = av_detect_classify(c, buf, n, 0, 0, 5, sp, &k, err, sizeof err);
    CHECK_MSG(st == AV_DETECT_OK, "classify: %s", err);
    CHECK(k >= 1);
    CHECK_EQ_INT(sp[0].class_index, 923);
    CHECK_STR_EQ(sp[0].scientific, "Ara macao");
    CHECK_STR_EQ(sp[0].common, "Scarlet Macaw");
    CHECK_MSG(sp[0].score >= 0.73f && sp[0].score <= 0.79f, "score %.4f", (double)sp[0].score);
    av_detect_classifier_close(c);
}

/* Image file -> 224x224 RGB (Pillow bilinear resize of the whole image). */
static uint8_t *image_224(const char *rel)
{
    const char *path = shared(rel);
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "%s", path);
    static uint8_t buf[4 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char err[256];
    av_image *img = NULL, *small = NULL;
    CHECK(av_vision_decode(buf, n, NULL, &img, NULL, err, sizeof err) == AV_VISION_OK);
    CHECK(av_vision_resize_pil(img, 224, 224, &small, err, sizeof err) == AV_VISION_OK);
    uint8_t *px = malloc(224 * 224 * 3);
    CHECK(px);
    memcpy(px, small->data, 224 * 224 * 3);
    av_img_free(img);
    av_img_free(small);
    return px;
}

/* Run a u8 classifier on px with backend be; returns the dequantised scores (malloc). */
static float *classify_raw(av_nn_model *m, const uint8_t *px, av_nn_backend be, size_t *n)
{
    const av_nn_tensor_info *oi = av_nn_output(m, 0);
    *n = 1;
    for (int d = 0; d < oi->rank; d++)
        *n *= (size_t)oi->dims[d];
    CHECK(oi->dtype == AV_NN_U8);
    uint8_t *q = malloc(*n);
    float *v = malloc(*n * sizeof *v);
    CHECK(q && v);
    const void *in[1] = {px};
    void *out[1] = {q};
    run_on(m, be, in, out);
    for (size_t i = 0; i < *n; i++)
        v[i] = oi->scale * ((int)q[i] - oi->zero_point);
    free(q);
    return v;
}

static av_nn_model *load_shared(const char *rel)
{
    const char *path = shared(rel);
    char err[512] = "";
    av_nn_model *m = NULL;
    av_nn_status st = av_nn_load(path, &m, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "%s: %s", rel, err);
    return m;
}

TEST(inat_bird_input_and_backends_agree)
{
    av_nn_model *m =
        load_shared("models/inat_bird/mobilenet_v2_1.0_224_inat_bird_quant.tflite");
    CHECK_EQ_INT(av_nn_model_format(m), AV_NN_FORMAT_TFLITE);
    CHECK_EQ_INT(av_nn_num_inputs(m), 1);
    const av_nn_tensor_info *ii = av_nn_input(m, 0);
    CHECK_EQ_INT(ii->dtype, AV_NN_U8);
    CHECK_EQ_INT(ii->rank, 4);
    CHECK_EQ_INT(ii->dims[0], 1);
    CHECK_EQ_INT(ii->dims[1], 224);
    CHECK_EQ_INT(ii->dims[2], 224);
    CHECK_EQ_INT(ii->dims[3], 3);
    CHECK_MSG(ii->scale > 0.007f && ii->scale < 0.008f, "input scale %g", (double)ii->scale);
    CHECK_EQ_INT(ii->zero_point, 128);
    uint8_t *px = image_224("testdata/images/parrot.jpg");
    size_t n1, n2, b1, b2;
    float *ref = classify_raw(m, px, AV_NN_BACKEND_REFERENCE, &n1);
    float *xnn = classify_raw(m, px, AV_NN_BACKEND_XNNPACK, &n2);
    CHECK_EQ_INT(n1, n2);
    top1(ref, n1, &b1);
    top1(xnn, n2, &b2);
    CHECK_EQ_INT(b1, 923);
    CHECK_EQ_INT(b2, 923);
    float step = av_nn_output(m, 0)->scale;
    double maxd = 0;
    for (size_t i = 0; i < n1; i++)
        maxd = fmax(maxd, fabs(ref[i] - xnn[i]));
    CHECK_MSG(maxd <= 2.5 * step, "backends differ by %g (%g steps)", maxd, maxd / step);
    free(ref);
    free(xnn);
    free(px);
    av_nn_model_free(m);
}

static void imagenet_top1(const char *img, size_t want, const char *want_label)
{
    const char *labels = shared("models/imagenet_mobilenet/imagenet_labels.txt");
    av_nn_model *m = load_shared("models/imagenet_mobilenet/mobilenet_v2_1.0_224_quant.tflite");
    uint8_t *px = image_224(img);
    size_t n, best;
    float *v = classify_raw(m, px, AV_NN_BACKEND_XNNPACK, &n);
    top1(v, n, &best);
    /* the label file's line `best` */
    FILE *f = fopen(labels, "r");
    CHECK(f);
    char line[256] = "";
    for (size_t i = 0; i <= best && fgets(line, sizeof line, f); i++)
        ;
    fclose(f);
    CHECK_MSG(best == want && strstr(line, want_label), "%s: top-1 %zu '%.*s' (%.3f)", img,
              best, (int)strcspn(line, "\n"), line, (double)v[best]);
    free(v);
    free(px);
    av_nn_model_free(m);
}

TEST(imagenet_bird_is_a_chickadee) { imagenet_top1("testdata/images/bird.bmp", 20, "chickadee"); }
TEST(imagenet_parrot_is_a_macaw) { imagenet_top1("testdata/images/parrot.jpg", 89, "macaw"); }

/* ------------------------------------------------------------ batch N */

/* Run model once on n samples laid back to back, in a context made for batch n. */
static void run_batch(const av_nn_model *model, av_nn_backend be, int n, const void *in,
                      void *out)
{
    char err[512] = "";
    av_nn_ctx_opts o = {.threads = 1, .backend = be, .batch = n};
    av_nn_ctx *c = NULL;
    av_nn_status st = av_nn_ctx_new(model, &o, &c, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "ctx batch %d (%s): %s", n, be ? "reference" : "xnnpack", err);
    CHECK_EQ_INT(av_nn_ctx_batch(c), n);
    const void *ins[1] = {in};
    void *outs[1] = {out};
    st = av_nn_run(c, ins, outs, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "run batch %d (%s): %s", n, be ? "reference" : "xnnpack", err);
    av_nn_ctx_free(c);
}

/* The message of making a batch-n context for model: must fail with st. */
static void check_batch_refused(const av_nn_model *model, int n, av_nn_status want,
                                const char *needle)
{
    for (int b = 0; b < 2; b++) {
        char err[512] = "";
        av_nn_ctx_opts o = {.threads = 1, .backend = backends[b], .batch = n};
        av_nn_ctx *c = (av_nn_ctx *)1;
        av_nn_status st = av_nn_ctx_new(model, &o, &c, err, sizeof err);
        CHECK_MSG(st == want, "batch %d: status %s (%s), want %s", n, av_nn_strerror(st), err,
                  av_nn_strerror(want));
        CHECK(c == NULL);
        if (getenv("AV_TFLITE_VERBOSE"))
            fprintf(stderr, "    [%s] %s\n", av_nn_strerror(st), err);
        CHECK_STR_CONTAINS(err, needle);
    }
}

/* conv [1,3,3,2] -> [1,2,2,2], reshape to constant [1,8], softmax: the
 * reshape target's dim 0 (the model's batch) must follow the batch. */
TEST(batch_conv_reshape_softmax_equals_single_runs)
{
    float x1[18], want[8];
    for (int i = 0; i < 18; i++)
        x1[i] = (float)(i % 7) - 1.5f;
    mb m;
    conv_model(&m, want, x1, 0);
    static const int32_t shp[2] = {1, 8};
    int s = mb_const_i32(&m, "shape", 1, (int32_t[]){2}, shp, 2);
    int r = mb_tensor_add(&m, "r", TT_F32, 2, (int32_t[]){1, 8});
    int z = mb_tensor_add(&m, "z", TT_F32, 2, (int32_t[]){1, 8});
    mb_op_add(&m, OP_RESHAPE, 2, (int32_t[]){3, s}, 1, (int32_t[]){r});
    int op = mb_op_add(&m, OP_SOFTMAX, 1, (int32_t[]){r}, 1, (int32_t[]){z});
    mb_opt_add(&m, op, O_SOFTMAX, 0, 'f', 1.0);
    mb_io(&m, 1, (int32_t[]){0}, 1, (int32_t[]){z});
    av_nn_model *model = load_ok(&m);
    CHECK_EQ_INT(av_nn_model_batch(model), 1);
    enum { N = 3 };
    float x[N * 18], one[N * 8], many[N * 8];
    for (int i = 0; i < N * 18; i++)
        x[i] = (float)((i * 5) % 11) * 0.25f - 1.0f;
    for (int b = 0; b < 2; b++) {
        for (int k = 0; k < N; k++) {
            const void *in[1] = {x + k * 18};
            void *out[1] = {one + k * 8};
            run_on(model, backends[b], in, out);
        }
        memset(many, 0xff, sizeof many);
        run_batch(model, backends[b], N, x, many);
        /* each sample's arithmetic is the same sequence at any batch */
        for (int i = 0; i < N * 8; i++)
            CHECK_MSG(many[i] == one[i], "%s: [%d] batch %.9g, single %.9g",
                      b ? "xnnpack" : "reference", i, (double)many[i], (double)one[i]);
    }
    av_nn_model_free(model);
    mb_free(&m);
}

TEST(batch_refused_with_the_node_named)
{
    /* concat(x, x) on axis 0 mixes samples */
    mb m;
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){1, 2});
    int y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){2, 2});
    int op = mb_op_add(&m, OP_CONCAT, 2, (int32_t[]){x, x}, 1, (int32_t[]){y});
    mb_opt_add(&m, op, O_CONCAT, 0, 'i', 0);
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    av_nn_model *model = load_ok(&m);
    check_batch_refused(model, 2, AV_NN_E_UNSUPPORTED, "(concat) cannot run sample by sample");
    check_batch_refused(model, 2, AV_NN_E_UNSUPPORTED, "batch axis");
    check_batch_refused(model, -1, AV_NN_E_ARG, "negative");
    float in1[2] = {1, 2}, out1[4];
    run_batch(model, AV_NN_BACKEND_XNNPACK, 1, in1, out1); /* the model's own batch */
    CHECK(out1[0] == 1 && out1[1] == 2 && out1[2] == 1 && out1[3] == 2);
    av_nn_model_free(model);
    mb_free(&m);

    /* x [2,3] (batch 2) reshaped to a constant [1,6]: the target moves the batch */
    static const int32_t shp[2] = {1, 6};
    mb_init(&m);
    x = mb_tensor_add(&m, "x", TT_F32, 2, (int32_t[]){2, 3});
    int s = mb_const_i32(&m, "shape", 1, (int32_t[]){2}, shp, 2);
    y = mb_tensor_add(&m, "y", TT_F32, 2, (int32_t[]){1, 6});
    mb_op_add(&m, OP_RESHAPE, 2, (int32_t[]){x, s}, 1, (int32_t[]){y});
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){y});
    model = load_ok(&m);
    CHECK_EQ_INT(av_nn_model_batch(model), 2);
    check_batch_refused(model, 4, AV_NN_E_UNSUPPORTED,
                        "(reshape) cannot run sample by sample: its target does not keep the "
                        "batch in dim 0 (model batch 2)");
    check_batch_refused(model, 5000, AV_NN_E_ARG, "outside 1..4096");
    av_nn_model_free(model);
    mb_free(&m);
}

/* N different 224x224 crops: the five test photos, whole-image resized. */
static uint8_t *inat_crops(int n)
{
    static const char *imgs[5] = {"testdata/images/parrot.jpg", "testdata/images/bird.bmp",
                                  "testdata/images/cat.bmp", "testdata/images/grace_hopper.bmp",
                                  "testdata/images/kite_and_cold.jpg"};
    CHECK(n <= 5);
    size_t sz = 224 * 224 * 3;
    uint8_t *px = malloc(sz * (size_t)n);
    CHECK(px);
    for (int k = 0; k < n; k++) {
        uint8_t *one = image_224(imgs[k]);
        memcpy(px + sz * (size_t)k, one, sz);
        free(one);
    }
    return px;
}

/*
 * The iNat classifier at batch n equals n batch-1 runs bit for bit: uint8
 * in and out, int32 accumulation and the same per-element requantisation at
 * any batch (XNNPACK qu8 and the reference kernels alike).
 */
static void inat_batch_equals_single(av_nn_backend be)
{
    av_nn_model *m =
        load_shared("models/inat_bird/mobilenet_v2_1.0_224_inat_bird_quant.tflite");
    CHECK_EQ_INT(av_nn_model_batch(m), 1);
    size_t no = 1;
    for (int d = 0; d < av_nn_output(m, 0)->rank; d++)
        no *= (size_t)av_nn_output(m, 0)->dims[d];
    uint8_t *px = inat_crops(5);
    uint8_t *one = malloc(no * 5), *many = malloc(no * 5);
    CHECK(one && many);
    for (int k = 0; k < 5; k++) {
        const void *in[1] = {px + (size_t)k * 224 * 224 * 3};
        void *out[1] = {one + no * (size_t)k};
        run_on(m, be, in, out);
    }
    /* the crops really differ: distinct top-1 classes or scores */
    CHECK(memcmp(one, one + no, no) != 0 && memcmp(one + no, one + 2 * no, no) != 0);
    static const int ns[2] = {2, 5};
    for (int t = 0; t < 2; t++) {
        int n = ns[t];
        memset(many, 0xa5, no * 5);
        run_batch(m, be, n, px, many);
        for (size_t i = 0; i < no * (size_t)n; i++)
            CHECK_MSG(many[i] == one[i], "%s batch %d: crop %zu class %zu: %d, single run %d",
                      be ? "reference" : "xnnpack", n, i / no, i % no, many[i], one[i]);
        for (size_t i = no * (size_t)n; i < no * 5; i++)
            CHECK_MSG(many[i] == 0xa5, "batch %d wrote past its %d outputs", n, n);
    }
    free(one);
    free(many);
    free(px);
    av_nn_model_free(m);
}

TEST(inat_batch_2_and_5_equal_single_runs_xnnpack)
{
    inat_batch_equals_single(AV_NN_BACKEND_XNNPACK);
}

TEST(inat_batch_2_and_5_equal_single_runs_reference)
{
    inat_batch_equals_single(AV_NN_BACKEND_REFERENCE);
}

TEST_MAIN(T(add_fused_relu), T(conv2d_relu6), T(reshape_and_softmax), T(concat_fused_activation),
          T(pad_then_mean), T(strided_slice_masks), T(split_axis_input), T(pack_unpack),
          T(u8_conv_per_tensor), T(i8_conv_per_channel), T(unnamed_tensors),
          T(conv_without_bias), T(outputs_that_are_inputs_or_constants),
          T(reshape_shape_with_minus_one), T(input_listed_twice_and_unproduced_tensor), T(empty_and_short), T(wrong_version),
          T(tensor_index_out_of_range), T(buffer_index_out_of_range), T(data_size_mismatch),
          T(huge_dims), T(rank_nine), T(unknown_builtin_code), T(custom_op),
          T(unsupported_tensor_type), T(operator_reads_its_own_output),
          T(writes_to_inputs_and_constants), T(no_outputs), T(no_subgraphs_or_operators),
          T(offsets_outside_the_file), T(truncations_and_flips), T(fuzz_seeds),
          T(inat_bird_parrot_via_classifier), T(inat_bird_input_and_backends_agree),
          T(imagenet_bird_is_a_chickadee), T(imagenet_parrot_is_a_macaw),
          T(batch_conv_reshape_softmax_equals_single_runs), T(batch_refused_with_the_node_named),
          T(inat_batch_2_and_5_equal_single_runs_xnnpack),
          T(inat_batch_2_and_5_equal_single_runs_reference))
