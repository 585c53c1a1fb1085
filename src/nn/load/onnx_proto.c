/*
 * onnx_proto.c - reads the ONNX protobuf messages the loader needs into the
 * structs of onnx.h, and decodes TensorProto data. Field numbers are those
 * of onnx.proto (ONNX 1.12); unknown fields are skipped, as protobuf wants.
 * Every repeated field is counted first and then filled, so each array is
 * one allocation from the model's arena, freed all at once.
 */
#include "nn/load/onnx.h"

#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "raw_data is little-endian; this reader copies it as is"
#endif

/* ---- arena: every array of a parsed model, freed together ---- */

struct av_nn__onnx_arena {
    struct chunk *head;
};

struct chunk {
    struct chunk *next;
    max_align_t data[];
};

static void *arena_alloc(av_nn__onnx_arena *a, size_t n, size_t size)
{
    if (n == 0)
        n = 1;
    if (n > (SIZE_MAX - sizeof(struct chunk)) / size)
        return NULL;
    struct chunk *c = calloc(1, sizeof(struct chunk) + n * size);
    if (!c)
        return NULL;
    c->next = a->head;
    a->head = c;
    return c->data;
}

void av_nn__onnx_model_free(av_nn__onnx_model *m)
{
    if (!m)
        return;
    if (m->arena) {
        struct chunk *c = m->arena->head;
        while (c) {
            struct chunk *next = c->next;
            free(c);
            c = next;
        }
        free(m->arena);
    }
    memset(m, 0, sizeof *m);
}

bool av_nn__onnx_str_eq(av_nn__onnx_str s, const char *z)
{
    size_t n = strlen(z);
    return s.n == n && (n == 0 || memcmp(s.p, z, n) == 0);
}

/* ---- field helpers ---- */

typedef struct parse {
    av_nn__onnx_arena *arena;
    char *err;
    size_t errlen;
} parse;

static av_nn_status bad_wire(parse *ps, const char *msg, const av_nn__pb_field *f)
{
    return av_nn__fail(ps->err, ps->errlen, AV_NN_E_FORMAT,
                       "onnx: %s field %u at byte %zu has wire type %d", msg, f->num, f->off,
                       (int)f->wire);
}

static av_nn_status get_str(parse *ps, const char *msg, const av_nn__pb_field *f,
                            av_nn__onnx_str *s)
{
    if (f->wire != AV_NN_PB_LEN)
        return bad_wire(ps, msg, f);
    s->p = (const char *)f->data;
    s->n = f->len;
    return AV_NN_OK;
}

static av_nn_status get_varint(parse *ps, const char *msg, const av_nn__pb_field *f, int64_t *v)
{
    if (f->wire != AV_NN_PB_VARINT)
        return bad_wire(ps, msg, f);
    *v = (int64_t)f->u;
    return AV_NN_OK;
}

/* Walk the fields of r; status of the walk, 0 while fields remain. */
#define FOR_FIELDS(r, f, ps, st)                                                    \
    for (int rc_; (rc_ = av_nn__pb_next((r), &(f), (ps)->err, (ps)->errlen)) != 0 && \
                  ((st) = rc_ < 0 ? AV_NN_E_FORMAT : (st)) == AV_NN_OK;)

/* ---- ValueInfoProto ---- */

static av_nn_status parse_shape(parse *ps, const av_nn__pb *r, av_nn__onnx_value_info *vi)
{
    av_nn_status st = AV_NN_OK;
    av_nn__pb_field f;
    av_nn__pb rr = *r;
    vi->rank = 0;
    FOR_FIELDS(&rr, f, ps, st)
    {
        if (f.num != 1)
            continue;
        av_nn__pb dim;
        if (!av_nn__pb_sub(&rr, &f, &dim, ps->err, ps->errlen))
            return AV_NN_E_FORMAT;
        int64_t v = -1;
        av_nn__pb_field g;
        FOR_FIELDS(&dim, g, ps, st)
        {
            if (g.num == 1 && (st = get_varint(ps, "dim_value", &g, &v)))
                return st;
        }
        if (st)
            return st;
        if (vi->rank < AV_NN_MAX_RANK)
            vi->dims[vi->rank] = v < 0 ? -1 : v;
        if (vi->rank < 1000000)
            vi->rank++;
    }
    return st;
}

static av_nn_status parse_value_info(parse *ps, const av_nn__pb *r, av_nn__onnx_value_info *vi)
{
    av_nn_status st = AV_NN_OK;
    av_nn__pb_field f;
    av_nn__pb rr = *r;
    vi->rank = -1;
    FOR_FIELDS(&rr, f, ps, st)
    {
        if (f.num == 1) {
            if ((st = get_str(ps, "ValueInfoProto.name", &f, &vi->name)))
                return st;
        } else if (f.num == 2) { /* TypeProto */
            av_nn__pb tp;
            if (!av_nn__pb_sub(&rr, &f, &tp, ps->err, ps->errlen))
                return AV_NN_E_FORMAT;
            av_nn__pb_field g;
            FOR_FIELDS(&tp, g, ps, st)
            {
                if (g.num != 1) /* sequence, map, optional, sparse: not a tensor */
                    continue;
                vi->is_tensor = true;
                av_nn__pb tt;
                if (!av_nn__pb_sub(&tp, &g, &tt, ps->err, ps->errlen))
                    return AV_NN_E_FORMAT;
                av_nn__pb_field h;
                FOR_FIELDS(&tt, h, ps, st)
                {
                    if (h.num == 1) {
                        int64_t v = 0;
                        if ((st = get_varint(ps, "elem_type", &h, &v)))
                            return st;
                        vi->elem_type = (int)(v > 0 && v < 1000 ? v : -1);
                    } else if (h.num == 2) {
                        av_nn__pb sh;
                        if (!av_nn__pb_sub(&tt, &h, &sh, ps->err, ps->errlen))
                            return AV_NN_E_FORMAT;
                        if ((st = parse_shape(ps, &sh, vi)))
                            return st;
                    }
                }
                if (st)
                    return st;
            }
            if (st)
                return st;
        }
    }
    return st;
}

/* ---- NodeProto / AttributeProto ---- */

static av_nn_status parse_attr(parse *ps, const av_nn__pb *r, av_nn__onnx_attr *a)
{
    av_nn_status st = AV_NN_OK;
    av_nn__pb_field f;
    av_nn__pb rr = *r;
    a->msg = *r;
    int seen = 0; /* field number of a value, for files that leave the type out */
    FOR_FIELDS(&rr, f, ps, st)
    {
        int64_t v = 0;
        if ((f.num >= 2 && f.num <= 5) || f.num == 7 || f.num == 8)
            seen = (int)f.num;
        switch (f.num) {
        case 1:
            st = get_str(ps, "AttributeProto.name", &f, &a->name);
            break;
        case 20:
            if (!(st = get_varint(ps, "AttributeProto.type", &f, &v)))
                a->type = (int)(v >= 0 && v < 100 ? v : 99);
            break;
        case 2:
            if (f.wire != AV_NN_PB_I32)
                st = bad_wire(ps, "AttributeProto.f", &f);
            a->f = av_nn__pb_f32(f.u);
            break;
        case 3:
            st = get_varint(ps, "AttributeProto.i", &f, &a->i);
            break;
        case 4:
            st = get_str(ps, "AttributeProto.s", &f, &a->s);
            break;
        case 5:
            if (!av_nn__pb_sub(&rr, &f, &a->t, ps->err, ps->errlen))
                st = AV_NN_E_FORMAT;
            break;
        default:
            break;
        }
        if (st)
            return st;
    }
    if (!st && a->type == 0) {
        static const int type_of_field[9] = {0, 0, AV_NN_ONNX_ATTR_FLOAT, AV_NN_ONNX_ATTR_INT,
                                             AV_NN_ONNX_ATTR_STRING, AV_NN_ONNX_ATTR_TENSOR, 0,
                                             AV_NN_ONNX_ATTR_FLOATS, AV_NN_ONNX_ATTR_INTS};
        a->type = type_of_field[seen];
    }
    return st;
}

static av_nn_status parse_node(parse *ps, const av_nn__pb *r, av_nn__onnx_node *n)
{
    av_nn_status st = AV_NN_OK;
    av_nn__pb_field f;
    av_nn__pb rr = *r;
    int n_in = 0, n_out = 0, n_attr = 0;
    FOR_FIELDS(&rr, f, ps, st)
    {
        n_in += f.num == 1;
        n_out += f.num == 2;
        n_attr += f.num == 5;
    }
    if (st)
        return st;
    n->in = arena_alloc(ps->arena, (size_t)n_in, sizeof *n->in);
    n->out = arena_alloc(ps->arena, (size_t)n_out, sizeof *n->out);
    n->attr = arena_alloc(ps->arena, (size_t)n_attr, sizeof *n->attr);
    if (!n->in || !n->out || !n->attr)
        return av_nn__fail(ps->err, ps->errlen, AV_NN_E_NOMEM, "onnx: out of memory for a node");
    rr = *r;
    FOR_FIELDS(&rr, f, ps, st)
    {
        switch (f.num) {
        case 1:
            st = get_str(ps, "NodeProto.input", &f, &n->in[n->n_in++]);
            break;
        case 2:
            st = get_str(ps, "NodeProto.output", &f, &n->out[n->n_out++]);
            break;
        case 3:
            st = get_str(ps, "NodeProto.name", &f, &n->name);
            break;
        case 4:
            st = get_str(ps, "NodeProto.op_type", &f, &n->op_type);
            break;
        case 7:
            st = get_str(ps, "NodeProto.domain", &f, &n->domain);
            break;
        case 5: {
            av_nn__pb am;
            if (!av_nn__pb_sub(&rr, &f, &am, ps->err, ps->errlen))
                return AV_NN_E_FORMAT;
            st = parse_attr(ps, &am, &n->attr[n->n_attr++]);
            break;
        }
        default:
            break;
        }
        if (st)
            return st;
    }
    return st;
}

/* ---- GraphProto / ModelProto ---- */

static av_nn_status parse_graph(parse *ps, const av_nn__pb *r, av_nn__onnx_model *m)
{
    av_nn_status st = AV_NN_OK;
    av_nn__pb_field f;
    av_nn__pb rr = *r;
    int nn = 0, ni = 0, nin = 0, nout = 0;
    FOR_FIELDS(&rr, f, ps, st)
    {
        nn += f.num == 1;
        ni += f.num == 5;
        nin += f.num == 11;
        nout += f.num == 12;
        m->has_sparse_init |= f.num == 15;
    }
    if (st)
        return st;
    if (nn > AV_NN_MAX_NODES || ni > AV_NN_MAX_TENSORS || nin > AV_NN_MAX_TENSORS ||
        nout > AV_NN_MAX_TENSORS)
        return av_nn__fail(ps->err, ps->errlen, AV_NN_E_LIMIT,
                           "onnx: graph has %d nodes, %d initializers (limits %d, %d)", nn, ni,
                           AV_NN_MAX_NODES, AV_NN_MAX_TENSORS);
    m->nodes = arena_alloc(ps->arena, (size_t)nn, sizeof *m->nodes);
    m->inits = arena_alloc(ps->arena, (size_t)ni, sizeof *m->inits);
    m->inputs = arena_alloc(ps->arena, (size_t)nin, sizeof *m->inputs);
    m->outputs = arena_alloc(ps->arena, (size_t)nout, sizeof *m->outputs);
    if (!m->nodes || !m->inits || !m->inputs || !m->outputs)
        return av_nn__fail(ps->err, ps->errlen, AV_NN_E_NOMEM, "onnx: out of memory for the graph");
    rr = *r;
    FOR_FIELDS(&rr, f, ps, st)
    {
        if (f.num != 1 && f.num != 5 && f.num != 11 && f.num != 12)
            continue;
        av_nn__pb sub;
        if (!av_nn__pb_sub(&rr, &f, &sub, ps->err, ps->errlen))
            return AV_NN_E_FORMAT;
        if (f.num == 1) {
            av_nn__onnx_node *n = &m->nodes[m->n_nodes++];
            n->off = f.off;
            st = parse_node(ps, &sub, n);
        } else if (f.num == 5) {
            m->inits[m->n_inits++] = sub;
        } else if (f.num == 11) {
            st = parse_value_info(ps, &sub, &m->inputs[m->n_inputs++]);
        } else {
            st = parse_value_info(ps, &sub, &m->outputs[m->n_outputs++]);
        }
        if (st)
            return st;
    }
    return st;
}

av_nn_status av_nn__onnx_parse(const uint8_t *buf, size_t len, av_nn__onnx_model *m, char *err,
                               size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->arena = calloc(1, sizeof *m->arena);
    if (!m->arena)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "onnx: out of memory");
    parse ps = {m->arena, err, errlen};
    av_nn__pb r;
    av_nn__pb_init(&r, buf, len);
    av_nn__pb graph = {0};
    bool have_graph = false, have_opset = false;
    m->opset = 1;
    av_nn_status st = AV_NN_OK;
    av_nn__pb_field f;
    FOR_FIELDS(&r, f, &ps, st)
    {
        if (f.num == 1) {
            if ((st = get_varint(&ps, "ModelProto.ir_version", &f, &m->ir_version)))
                break;
        } else if (f.num == 7) {
            if (!av_nn__pb_sub(&r, &f, &graph, err, errlen))
                return AV_NN_E_FORMAT;
            have_graph = true;
        } else if (f.num == 8) { /* OperatorSetIdProto */
            av_nn__pb os;
            if (!av_nn__pb_sub(&r, &f, &os, err, errlen))
                return AV_NN_E_FORMAT;
            av_nn__onnx_str dom = {"", 0};
            int64_t ver = 0;
            av_nn__pb_field g;
            FOR_FIELDS(&os, g, &ps, st)
            {
                if (g.num == 1)
                    st = get_str(&ps, "opset domain", &g, &dom);
                else if (g.num == 2)
                    st = get_varint(&ps, "opset version", &g, &ver);
            }
            if (st)
                break;
            if (dom.n == 0 || av_nn__onnx_str_eq(dom, "ai.onnx")) {
                m->opset = ver;
                have_opset = true;
            }
        }
    }
    if (st)
        return st;
    if (!have_graph)
        return av_nn__fail(err, errlen, AV_NN_E_FORMAT, "onnx: model has no graph");
    if (have_opset && (m->opset < 1 || m->opset > 1000))
        return av_nn__fail(err, errlen, AV_NN_E_FORMAT, "onnx: bad opset version %lld",
                           (long long)m->opset);
    return parse_graph(&ps, &graph, m);
}

/* ---- TensorProto ---- */

/* ONNX TensorProto.DataType */
enum {
    T_FLOAT = 1, T_UINT8 = 2, T_INT8 = 3, T_UINT16 = 4, T_INT16 = 5, T_INT32 = 6, T_INT64 = 7,
    T_STRING = 8, T_BOOL = 9, T_FLOAT16 = 10, T_DOUBLE = 11, T_UINT32 = 12, T_UINT64 = 13,
    T_COMPLEX64 = 14, T_COMPLEX128 = 15, T_BFLOAT16 = 16
};

const char *av_nn__onnx_type_name(int t)
{
    static const char *const names[] = {
        "UNDEFINED", "FLOAT", "UINT8",  "INT8",   "UINT16",    "INT16",      "INT32",
        "INT64",     "STRING", "BOOL",  "FLOAT16", "DOUBLE",   "UINT32",     "UINT64",
        "COMPLEX64", "COMPLEX128", "BFLOAT16"};
    return t >= 0 && t < (int)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

/* Element size of an ONNX type in raw_data; 0 for types we do not decode. */
static size_t raw_size(int t)
{
    switch (t) {
    case T_FLOAT: case T_INT32: return 4;
    case T_UINT8: case T_INT8: case T_BOOL: return 1;
    case T_INT64: return 8;
    case T_FLOAT16: return 2;
    default: return 0;
    }
}

static void put(av_nn__onnx_tensor *t, int64_t i, uint64_t v)
{
    switch (t->onnx_type) {
    case T_FLOAT: {
        float x = av_nn__pb_f32(v);
        memcpy((char *)t->data + 4 * i, &x, 4);
        break;
    }
    case T_INT32: {
        int32_t x = (int32_t)(uint32_t)v; /* int32 varints are sign-extended to 64 bits */
        memcpy((char *)t->data + 4 * i, &x, 4);
        break;
    }
    case T_INT64: {
        int64_t x = (int64_t)v;
        memcpy((char *)t->data + 8 * i, &x, 8);
        break;
    }
    case T_UINT8:
    case T_INT8:
        ((uint8_t *)t->data)[i] = (uint8_t)v;
        break;
    case T_BOOL:
        ((uint8_t *)t->data)[i] = v != 0;
        break;
    case T_FLOAT16:
        if (t->dtype == AV_NN_F32) {
            float x = av_nn__f16_to_f32((uint16_t)v);
            memcpy((char *)t->data + 4 * i, &x, 4);
        } else {
            uint16_t x = (uint16_t)v;
            memcpy((char *)t->data + 2 * i, &x, 2);
        }
        break;
    default:
        break;
    }
}

/* The typed repeated field that carries a type's values, and its encoding. */
static uint32_t typed_field(int t, av_nn__pb_kind *kind)
{
    *kind = AV_NN_PB_K_VARINT;
    switch (t) {
    case T_FLOAT:
        *kind = AV_NN_PB_K_FIXED32;
        return 4;
    case T_INT64:
        return 7;
    default:
        return 5; /* int32_data: int32, (u)int8, bool, float16 bits */
    }
}

#define TNAME(t) (int)((t)->name.n > 200 ? 200 : (t)->name.n), (t)->name.p

av_nn_status av_nn__onnx_tensor_decode(const av_nn__pb *msg, bool f16_to_f32,
                                       av_nn__onnx_tensor *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->name.p = "";
    av_nn__pb r = *msg;
    av_nn__pb_field f;
    const uint8_t *raw = NULL;
    size_t raw_len = 0;
    bool have_raw = false, external = false, have_type = false;
    int64_t dims_count = 0;
    int rc;
    /* pass 1: metadata */
    while ((rc = av_nn__pb_next(&r, &f, err, errlen)) > 0) {
        if (f.num == 1) {
            av_nn__pb_iter it;
            if (!av_nn__pb_iter_init(&it, &r, &f, AV_NN_PB_K_VARINT, err, errlen))
                return AV_NN_E_FORMAT;
            uint64_t v;
            while ((rc = av_nn__pb_iter_next(&it, &v, err, errlen)) > 0) {
                int64_t d = (int64_t)v;
                if (d < 0)
                    return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                                       "onnx: tensor at byte %zu has negative dim %lld", f.off,
                                       (long long)d);
                if (d > AV_NN_MAX_ELEMENTS)
                    return av_nn__fail(err, errlen, AV_NN_E_LIMIT,
                                       "onnx: tensor at byte %zu has dim %lld (limit %lld)", f.off,
                                       (long long)d, (long long)AV_NN_MAX_ELEMENTS);
                if (dims_count < AV_NN_MAX_RANK)
                    t->dims[dims_count] = d;
                dims_count++;
                if (dims_count > AV_NN_MAX_RANK)
                    return av_nn__fail(err, errlen, AV_NN_E_LIMIT,
                                       "onnx: tensor at byte %zu has rank above %d", f.off,
                                       AV_NN_MAX_RANK);
            }
            if (rc < 0)
                return AV_NN_E_FORMAT;
        } else if (f.num == 2) {
            if (f.wire != AV_NN_PB_VARINT)
                return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                                   "onnx: tensor data_type at byte %zu is not a varint", f.off);
            t->onnx_type = (int)(f.u < 1000 ? f.u : 999);
            have_type = true;
        } else if (f.num == 8 && f.wire == AV_NN_PB_LEN) {
            t->name.p = (const char *)f.data;
            t->name.n = f.len;
        } else if (f.num == 9 && f.wire == AV_NN_PB_LEN) {
            raw = f.data;
            raw_len = f.len;
            have_raw = true;
        } else if (f.num == 14 && f.wire == AV_NN_PB_VARINT) {
            external = f.u == 1;
        } else if (f.num == 3) {
            return av_nn__fail(err, errlen, AV_NN_E_UNSUPPORTED,
                               "onnx: tensor at byte %zu is segmented", f.off);
        }
    }
    if (rc < 0)
        return AV_NN_E_FORMAT;
    t->rank = (int)dims_count;
    if (!have_type)
        return av_nn__fail(err, errlen, AV_NN_E_FORMAT, "onnx: tensor '%.*s' has no data_type",
                           TNAME(t));
    if (external)
        return av_nn__fail(err, errlen, AV_NN_E_UNSUPPORTED,
                           "onnx: tensor '%.*s' uses external data", TNAME(t));
    switch (t->onnx_type) {
    case T_FLOAT: t->dtype = AV_NN_F32; break;
    case T_UINT8: t->dtype = AV_NN_U8; break;
    case T_INT8: t->dtype = AV_NN_I8; break;
    case T_INT32: t->dtype = AV_NN_I32; break;
    case T_INT64: t->dtype = AV_NN_I64; break;
    case T_BOOL: t->dtype = AV_NN_BOOL; break;
    case T_FLOAT16: t->dtype = f16_to_f32 ? AV_NN_F32 : AV_NN_F16; break;
    default:
        return av_nn__fail(err, errlen, AV_NN_E_UNSUPPORTED,
                           "onnx: tensor '%.*s' has data type %s (%d), not supported", TNAME(t),
                           av_nn__onnx_type_name(t->onnx_type), t->onnx_type);
    }
    int64_t ne = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] && ne > AV_NN_MAX_ELEMENTS / t->dims[i])
            return av_nn__fail(err, errlen, AV_NN_E_LIMIT,
                               "onnx: tensor '%.*s' has more than %lld elements", TNAME(t),
                               (long long)AV_NN_MAX_ELEMENTS);
        ne *= t->dims[i];
    }
    t->numel = ne;
    size_t es = av_nn_dtype_size(t->dtype), rs = raw_size(t->onnx_type);
    if (have_raw && raw_len != (size_t)ne * rs)
        return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                           "onnx: tensor '%.*s' raw_data has %zu bytes, want %lld", TNAME(t),
                           raw_len, (long long)ne * (long long)rs);
    /* count the typed values before allocating: a claim of many elements must
     * be backed by that many bytes in the file */
    av_nn__pb_kind kind;
    uint32_t fnum = typed_field(t->onnx_type, &kind);
    int64_t have = 0;
    if (!have_raw) {
        r = *msg;
        while ((rc = av_nn__pb_next(&r, &f, err, errlen)) > 0) {
            if (f.num != fnum)
                continue;
            av_nn__pb_iter it;
            if (!av_nn__pb_iter_init(&it, &r, &f, kind, err, errlen))
                return AV_NN_E_FORMAT;
            int64_t c = av_nn__pb_iter_count(&it, err, errlen);
            if (c < 0)
                return AV_NN_E_FORMAT;
            have += c;
        }
        if (rc < 0)
            return AV_NN_E_FORMAT;
        if (have != ne)
            return av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                               "onnx: tensor '%.*s' has %lld values for %lld elements", TNAME(t),
                               (long long)have, (long long)ne);
    }
    t->data = malloc(ne ? (size_t)ne * es : 1);
    if (!t->data)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "onnx: out of memory for tensor '%.*s'",
                           TNAME(t));
    if (have_raw) {
        if (t->onnx_type == T_FLOAT16 && t->dtype == AV_NN_F32) {
            for (int64_t i = 0; i < ne; i++)
                put(t, i, (uint64_t)raw[2 * i] | (uint64_t)raw[2 * i + 1] << 8);
        } else if (t->onnx_type == T_BOOL) {
            for (int64_t i = 0; i < ne; i++)
                ((uint8_t *)t->data)[i] = raw[i] != 0;
        } else if (ne) {
            memcpy(t->data, raw, raw_len);
        }
        return AV_NN_OK;
    }
    r = *msg;
    int64_t i = 0;
    while ((rc = av_nn__pb_next(&r, &f, err, errlen)) > 0) {
        if (f.num != fnum)
            continue;
        av_nn__pb_iter it;
        uint64_t v;
        av_nn__pb_iter_init(&it, &r, &f, kind, err, errlen); /* checked in the count pass */
        while (i < ne && (rc = av_nn__pb_iter_next(&it, &v, err, errlen)) > 0)
            put(t, i++, v);
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        free(t->data);
        t->data = NULL;
        return AV_NN_E_FORMAT;
    }
    return AV_NN_OK;
}

av_nn_status av_nn__onnx_tensor_decode_buf(const uint8_t *buf, size_t len, bool f16_to_f32,
                                           av_nn__onnx_tensor *t, char *err, size_t errlen)
{
    av_nn__pb r;
    av_nn__pb_init(&r, buf, len);
    return av_nn__onnx_tensor_decode(&r, f16_to_f32, t, err, errlen);
}
