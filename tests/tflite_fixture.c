/*
 * tflite_fixture.c - see tflite_fixture.h.
 */
#include "tflite_fixture.h"

#include "harness.h"

#include <math.h>
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

void mb_init(mb *m)
{
    memset(m, 0, sizeof *m);
    m->version = 3;
    m->n_buf = 1; /* buffer 0: the empty sentinel */
}

void mb_free(mb *m)
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

int mb_tensor_add(mb *m, const char *name, int type, int rank, const int32_t *dims)
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

uint32_t mb_buffer(mb *m, const void *data, size_t n)
{
    CHECK(m->n_buf < 48);
    m->buf[m->n_buf] = malloc(n ? n : 1);
    CHECK(m->buf[m->n_buf] != NULL);
    if (n)
        memcpy(m->buf[m->n_buf], data, n);
    m->buf_len[m->n_buf] = n;
    return (uint32_t)m->n_buf++;
}

int mb_const(mb *m, const char *name, int type, int rank, const int32_t *dims,
             const void *data, size_t n)
{
    int t = mb_tensor_add(m, name, type, rank, dims);
    m->t[t].buffer = mb_buffer(m, data, n);
    return t;
}

int mb_const_i32(mb *m, const char *name, int rank, const int32_t *dims,
                 const int32_t *v, size_t count)
{
    return mb_const(m, name, TT_I32, rank, dims, v, count * 4);
}

void mb_quant(mb *m, int t, int n, const float *scale, const int64_t *zp, int nzp,
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

int mb_op_add(mb *m, int32_t code, int n_in, const int32_t *in, int n_out,
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

void mb_opt_add(mb *m, int op, uint8_t type, int id, char kind, double v)
{
    mb_op *o = &m->ops[op];
    CHECK(o->n_opt < 8);
    o->opt_type = type;
    o->opt[o->n_opt++] = (mb_opt){id, kind, v};
}

void mb_io(mb *m, int n_in, const int32_t *in, int n_out, const int32_t *out)
{
    m->n_in = n_in;
    m->n_out = n_out;
    if (n_in)
        memcpy(m->in, in, (size_t)n_in * sizeof *in);
    if (n_out)
        memcpy(m->out, out, (size_t)n_out * sizeof *out);
}

uint8_t *mb_build(const mb *m, size_t *len)
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

av_nn_status tf_load_mb(const mb *m, av_nn_model **out, char *err, size_t errlen)
{
    size_t len;
    uint8_t *b = mb_build(m, &len);
    av_nn_status st = av_nn_load_mem(b, len, out, err, errlen);
    free(b);
    return st;
}

av_nn_model *tf_load_ok(const mb *m)
{
    char err[512] = "";
    av_nn_model *model = NULL;
    av_nn_status st = tf_load_mb(m, &model, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK && model, "load: %s (%s)", av_nn_strerror(st), err);
    return model;
}

void tf_run_on(const av_nn_model *model, av_nn_backend be, const void *const *in,
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

const av_nn_backend tf_backends[2] = {AV_NN_BACKEND_REFERENCE, AV_NN_BACKEND_XNNPACK};

/* One f32 input, one f32 output of n values: run on both tf_backends, compare with want. */
void tf_check_f32(const mb *m, const float *x, const float *want, int n, double tol)
{
    av_nn_model *model = tf_load_ok(m);
    for (int b = 0; b < 2; b++) {
        float got[256];
        CHECK(n <= 256);
        memset(got, 0xff, sizeof got);
        const void *in[1] = {x};
        void *out[1] = {got};
        tf_run_on(model, tf_backends[b], in, out);
        for (int i = 0; i < n; i++)
            CHECK_MSG(fabs(got[i] - want[i]) <= tol, "%s: [%d] %.6g, want %.6g",
                      b ? "xnnpack" : "reference", i, (double)got[i], (double)want[i]);
    }
    av_nn_model_free(model);
}

/* Status and message of loading m: must fail, message containing needle. */
void tf_check_fails(const mb *m, const char *needle)
{
    char err[512] = "";
    av_nn_model *model = (av_nn_model *)1;
    av_nn_status st = tf_load_mb(m, &model, err, sizeof err);
    CHECK_MSG(st != AV_NN_OK, "loaded, expected an error naming \"%s\"", needle);
    CHECK(model == NULL);
    if (getenv("AV_TFLITE_VERBOSE"))
        fprintf(stderr, "    [%s] %s\n", av_nn_strerror(st), err);
    CHECK_STR_CONTAINS(err, needle);
}

void tf_check_fails_bytes(const uint8_t *b, size_t len, const char *needle)
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

/* ------------------------------------------------------------ fuzz seeds */

void tf_write_seed(const char *dir, const char *name, const mb *m)
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
void tf_maybe_seed(const char *name, const mb *m)
{
    const char *dir = getenv("AV_TFLITE_SEED_DIR");
    if (dir)
        tf_write_seed(dir, name, m);
}

/* ------------------------------------------------------------ shared models */

/* x[1,4] f32 + c[4] (fused RELU) -> y. */
void tf_add_model(mb *m)
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

/* x[1,3,3,2] NHWC, w[2,2,2,2] OHWI, bias[2], VALID stride 1, RELU6. */
void tf_conv_model(mb *m, float *want, const float *x, int act)
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
