/*
 * load_onnx.c - ONNX ModelProto -> graph IR.
 *
 * Steps: parse the protobuf (onnx_proto.c); index every tensor name; check
 * that each node input is defined exactly once (an initializer, a graph
 * input or one node's output); order the nodes topologically (files should
 * already be, but cycles must fail cleanly); add the used initializers as
 * constants and the real graph inputs as inputs; lower each node through the
 * op tables of onnx_ops_*.c, inferring shapes as we go; mark the outputs.
 *
 * Symbolic input dims (dim_param, e.g. a batch 'N') become 1: the IR is
 * static, and av_nn_input() reports the dims chosen.
 */
#include "nn/load/onnx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- name index: open addressing over the names of the file ---- */

typedef struct name_entry {
    av_nn__onnx_str key;   /* key.p NULL = empty slot */
    av_nn__tid tid;        /* -1 until the tensor exists */
    int producer;          /* node index, -1 none */
    int init;              /* initializer index, -1 none */
    int input;             /* graph input index, -1 none */
    bool used;             /* read by a node or a graph output */
} name_entry;

typedef struct name_map {
    name_entry *slots;
    size_t cap; /* power of two */
} name_map;

static uint64_t hash_str(av_nn__onnx_str s)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s.n; i++)
        h = (h ^ (uint8_t)s.p[i]) * 1099511628211ull;
    return h;
}

static bool map_init(name_map *m, size_t n_names)
{
    size_t cap = 16;
    while (cap < 2 * n_names + 1)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    m->cap = cap;
    return m->slots != NULL;
}

/* Entry for key, inserted when absent (never fails: the map is sized for every name). */
static name_entry *map_get(name_map *m, av_nn__onnx_str key)
{
    size_t i = (size_t)hash_str(key) & (m->cap - 1);
    for (;;) {
        name_entry *e = &m->slots[i];
        if (!e->key.p) {
            e->key = key;
            e->tid = -1;
            e->producer = e->init = e->input = -1;
            return e;
        }
        if (e->key.n == key.n && memcmp(e->key.p, key.p, key.n) == 0)
            return e;
        i = (i + 1) & (m->cap - 1);
    }
}

/* ---- helpers ---- */

#define SHOWN(s) (int)((s).n > 200 ? 200 : (s).n), (s).p

/* NUL-terminated copy of a name into buf (truncated: names only label tensors). */
static const char *cstr(av_nn__onnx_str s, char *buf, size_t len)
{
    size_t n = s.n < len - 1 ? s.n : len - 1;
    memcpy(buf, s.p, n);
    buf[n] = '\0';
    return buf;
}

static void node_label(const av_nn__onnx_node *n, int idx, char *buf, size_t len)
{
    if (n->name.n)
        snprintf(buf, len, "node '%.*s' (%.*s)", SHOWN(n->name), SHOWN(n->op_type));
    else if (n->n_out && n->out[0].n)
        snprintf(buf, len, "node #%d -> '%.*s' (%.*s)", idx, SHOWN(n->out[0]),
                 SHOWN(n->op_type));
    else
        snprintf(buf, len, "node #%d (%.*s)", idx, SHOWN(n->op_type));
}

static bool dtype_from_onnx(int t, av_nn_dtype *dt)
{
    switch (t) {
    case 1: *dt = AV_NN_F32; return true;
    case 2: *dt = AV_NN_U8; return true;
    case 3: *dt = AV_NN_I8; return true;
    case 6: *dt = AV_NN_I32; return true;
    case 7: *dt = AV_NN_I64; return true;
    case 9: *dt = AV_NN_BOOL; return true;
    case 10: *dt = AV_NN_F16; return true;
    default: return false;
    }
}

/* ---- checks and ordering ---- */

typedef struct loader {
    const av_nn__onnx_model *m;
    av_nn__graph *g;
    name_map map;
    int *order; /* node indices in execution order */
    char *err;
    size_t errlen;
} loader;

static av_nn_status index_names(loader *ld)
{
    const av_nn__onnx_model *m = ld->m;
    size_t names = (size_t)m->n_inits + (size_t)m->n_inputs + (size_t)m->n_outputs;
    for (int i = 0; i < m->n_nodes; i++)
        names += (size_t)m->nodes[i].n_in + (size_t)m->nodes[i].n_out;
    if (!map_init(&ld->map, names))
        return av_nn__fail(ld->err, ld->errlen, AV_NN_E_NOMEM, "onnx: out of memory");
    for (int i = 0; i < m->n_inits; i++) {
        /* only the name is needed now; data is decoded when used */
        av_nn__pb r = m->inits[i];
        av_nn__pb_field f;
        av_nn__onnx_str name = {"", 0};
        int rc;
        while ((rc = av_nn__pb_next(&r, &f, ld->err, ld->errlen)) > 0)
            if (f.num == 8 && f.wire == AV_NN_PB_LEN)
                name = (av_nn__onnx_str){(const char *)f.data, f.len};
        if (rc < 0)
            return AV_NN_E_FORMAT;
        if (!name.n)
            return av_nn__fail(ld->err, ld->errlen, AV_NN_E_FORMAT,
                               "onnx: initializer %d has no name", i);
        name_entry *e = map_get(&ld->map, name);
        if (e->init >= 0)
            return av_nn__fail(ld->err, ld->errlen, AV_NN_E_FORMAT,
                               "onnx: initializer '%.*s' defined twice", SHOWN(name));
        e->init = i;
    }
    for (int i = 0; i < m->n_inputs; i++) {
        const av_nn__onnx_value_info *vi = &m->inputs[i];
        if (!vi->name.n)
            return av_nn__fail(ld->err, ld->errlen, AV_NN_E_FORMAT,
                               "onnx: graph input %d has no name", i);
        name_entry *e = map_get(&ld->map, vi->name);
        if (e->input >= 0)
            return av_nn__fail(ld->err, ld->errlen, AV_NN_E_FORMAT,
                               "onnx: graph input '%.*s' listed twice", SHOWN(vi->name));
        e->input = i;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        const av_nn__onnx_node *n = &m->nodes[i];
        for (int k = 0; k < n->n_out; k++) {
            if (!n->out[k].n)
                continue;
            name_entry *e = map_get(&ld->map, n->out[k]);
            if (e->producer >= 0 || e->init >= 0 || e->input >= 0) {
                char lab[256];
                node_label(n, i, lab, sizeof lab);
                return av_nn__fail(ld->err, ld->errlen, AV_NN_E_FORMAT,
                                   "onnx: %s: output '%.*s' is already defined", lab,
                                   SHOWN(n->out[k]));
            }
            e->producer = i;
        }
    }
    for (int i = 0; i < m->n_nodes; i++) {
        const av_nn__onnx_node *n = &m->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            if (!n->in[k].n)
                continue;
            name_entry *e = map_get(&ld->map, n->in[k]);
            if (e->producer < 0 && e->init < 0 && e->input < 0) {
                char lab[256];
                node_label(n, i, lab, sizeof lab);
                return av_nn__fail(ld->err, ld->errlen, AV_NN_E_FORMAT,
                                   "onnx: %s: input '%.*s' is not defined by any node, "
                                   "initializer or graph input",
                                   lab, SHOWN(n->in[k]));
            }
            e->used = true;
        }
    }
    for (int i = 0; i < m->n_outputs; i++) {
        name_entry *e = map_get(&ld->map, m->outputs[i].name);
        if (e->producer < 0 && e->init < 0 && e->input < 0)
            return av_nn__fail(ld->err, ld->errlen, AV_NN_E_FORMAT,
                               "onnx: graph output '%.*s' is not defined",
                               SHOWN(m->outputs[i].name));
        e->used = true;
    }
    return AV_NN_OK;
}

/* Kahn's algorithm; keeps file order when it is already topological. */
static av_nn_status order_nodes(loader *ld)
{
    const av_nn__onnx_model *m = ld->m;
    int N = m->n_nodes;
    ld->order = malloc(sizeof(int) * (size_t)(N ? N : 1));
    if (!ld->order)
        return av_nn__fail(ld->err, ld->errlen, AV_NN_E_NOMEM, "onnx: out of memory");
    bool sorted = true;
    for (int i = 0; i < N && sorted; i++) {
        const av_nn__onnx_node *n = &m->nodes[i];
        for (int k = 0; k < n->n_in && sorted; k++)
            if (n->in[k].n && map_get(&ld->map, n->in[k])->producer >= i)
                sorted = false;
    }
    if (sorted) {
        for (int i = 0; i < N; i++)
            ld->order[i] = i;
        return AV_NN_OK;
    }
    /* edges producer -> consumer, in compressed rows */
    int *indeg = calloc((size_t)N, sizeof(int)), *start = calloc((size_t)N + 1, sizeof(int));
    int *fill = calloc((size_t)N + 1, sizeof(int));
    size_t n_edges = 0;
    for (int i = 0; i < N; i++)
        n_edges += (size_t)m->nodes[i].n_in;
    int *adj = malloc(sizeof(int) * (n_edges ? n_edges : 1));
    av_nn_status st = AV_NN_OK;
    if (!indeg || !start || !fill || !adj) {
        st = av_nn__fail(ld->err, ld->errlen, AV_NN_E_NOMEM, "onnx: out of memory");
        goto done;
    }
    for (int i = 0; i < N; i++) {
        const av_nn__onnx_node *n = &m->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            int p = n->in[k].n ? map_get(&ld->map, n->in[k])->producer : -1;
            if (p >= 0) {
                start[p + 1]++;
                indeg[i]++;
            }
        }
    }
    for (int i = 0; i < N; i++)
        start[i + 1] += start[i];
    for (int i = 0; i < N; i++) {
        const av_nn__onnx_node *n = &m->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            int p = n->in[k].n ? map_get(&ld->map, n->in[k])->producer : -1;
            if (p >= 0)
                adj[start[p] + fill[p]++] = i;
        }
    }
    int head = 0, tail = 0;
    for (int i = 0; i < N; i++)
        if (indeg[i] == 0)
            ld->order[tail++] = i;
    while (head < tail) {
        int p = ld->order[head++];
        for (int e = start[p]; e < start[p + 1]; e++)
            if (--indeg[adj[e]] == 0)
                ld->order[tail++] = adj[e];
    }
    if (tail < N) {
        int bad = 0;
        while (indeg[bad] == 0)
            bad++;
        char lab[256];
        node_label(&m->nodes[bad], bad, lab, sizeof lab);
        st = av_nn__fail(ld->err, ld->errlen, AV_NN_E_FORMAT,
                         "onnx: the graph has a cycle through %s", lab);
    }
done:
    free(indeg);
    free(start);
    free(fill);
    free(adj);
    return st;
}

/* ---- tensors of the graph boundary ---- */

static av_nn_status add_initializer(loader *ld, name_entry *e)
{
    av_nn__onnx_tensor t;
    char name[512];
    av_nn_status st = av_nn__onnx_tensor_decode(&ld->m->inits[e->init], true, &t, ld->err,
                                                ld->errlen);
    if (st)
        return st;
    e->tid = av_nn__add_tensor(ld->g, cstr(e->key, name, sizeof name), t.dtype, t.rank, t.dims,
                               t.data, true);
    if (e->tid < 0)
        return av_nn__fail(ld->err, ld->errlen, AV_NN_E_LIMIT,
                           "onnx: initializer '%.*s' exceeds the model size limit (%lld bytes "
                           "in all) or memory",
                           SHOWN(e->key), (long long)AV_NN_MAX_TOTAL_BYTES);
    return AV_NN_OK;
}

static av_nn_status add_input(loader *ld, name_entry *e)
{
    const av_nn__onnx_value_info *vi = &ld->m->inputs[e->input];
    av_nn_dtype dt;
    if (!vi->is_tensor)
        return av_nn__fail(ld->err, ld->errlen, AV_NN_E_UNSUPPORTED,
                           "onnx: graph input '%.*s' is not a tensor", SHOWN(vi->name));
    if (!dtype_from_onnx(vi->elem_type, &dt))
        return av_nn__fail(ld->err, ld->errlen, AV_NN_E_UNSUPPORTED,
                           "onnx: graph input '%.*s' has data type %s (%d), not supported",
                           SHOWN(vi->name), av_nn__onnx_type_name(vi->elem_type),
                           vi->elem_type);
    if (vi->rank < 0)
        return av_nn__fail(ld->err, ld->errlen, AV_NN_E_UNSUPPORTED,
                           "onnx: graph input '%.*s' has no shape", SHOWN(vi->name));
    if (vi->rank > AV_NN_MAX_RANK)
        return av_nn__fail(ld->err, ld->errlen, AV_NN_E_UNSUPPORTED,
                           "onnx: graph input '%.*s' has rank %d (at most %d)", SHOWN(vi->name),
                           vi->rank, AV_NN_MAX_RANK);
    int64_t dims[AV_NN_MAX_RANK];
    int64_t ne = 1;
    for (int i = 0; i < vi->rank; i++) {
        dims[i] = vi->dims[i] < 0 ? 1 : vi->dims[i];
        if (dims[i] > AV_NN_MAX_ELEMENTS || (dims[i] && ne > AV_NN_MAX_ELEMENTS / dims[i]))
            return av_nn__fail(ld->err, ld->errlen, AV_NN_E_LIMIT,
                               "onnx: graph input '%.*s' has more than %lld elements",
                               SHOWN(vi->name), (long long)AV_NN_MAX_ELEMENTS);
        ne *= dims[i];
    }
    char name[512];
    e->tid = av_nn__add_tensor(ld->g, cstr(e->key, name, sizeof name), dt, vi->rank, dims, NULL,
                               false);
    if (e->tid < 0 || av_nn__mark_input(ld->g, e->tid) < 0)
        return av_nn__fail(ld->err, ld->errlen, AV_NN_E_NOMEM, "onnx: out of memory");
    return AV_NN_OK;
}

/* ---- lowering one node ---- */

static const av_nn__onnx_op_entry *find_op(av_nn__onnx_str op)
{
    const av_nn__onnx_op_entry *tables[] = {av_nn__onnx_ops_math, av_nn__onnx_ops_nn,
                                            av_nn__onnx_ops_shape, av_nn__onnx_ops_misc};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const av_nn__onnx_op_entry *e = tables[t]; e->op_type; e++)
            if (av_nn__onnx_str_eq(op, e->op_type))
                return e;
    return NULL;
}

/* Is name (length n) a word of the space-separated list? */
static bool in_list(const char *list, const char *name, size_t n)
{
    for (const char *p = list; *p;) {
        const char *q = strchr(p, ' ');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return true;
        if (!q)
            break;
        p = q + 1;
    }
    return false;
}

static av_nn_status lower_node(loader *ld, int idx, int64_t opset)
{
    const av_nn__onnx_node *n = &ld->m->nodes[idx];
    av_nn__onnx_lower L = {0};
    L.g = ld->g;
    L.opset = opset;
    L.node = n;
    L.err = ld->err;
    L.errlen = ld->errlen;
    node_label(n, idx, L.label, sizeof L.label);
    if (n->domain.n && !av_nn__onnx_str_eq(n->domain, "ai.onnx"))
        return AV_NN_ONNX_UNSUP(&L, "operator domain '%.*s' is not supported", SHOWN(n->domain));
    const av_nn__onnx_op_entry *op = find_op(n->op_type);
    if (!op)
        return AV_NN_ONNX_UNSUP(&L, "operator %.*s is not supported", SHOWN(n->op_type));
    for (int a = 0; a < n->n_attr; a++)
        if (!in_list(op->attrs, n->attr[a].name.p, n->attr[a].name.n))
            return AV_NN_ONNX_UNSUP(&L, "attribute '%.*s' is not supported",
                                    SHOWN(n->attr[a].name));
    int n_in = n->n_in;
    while (n_in > 0 && !n->in[n_in - 1].n)
        n_in--;
    if (n_in > AV_NN_MAX_NODE_INPUTS || n->n_out > AV_NN_MAX_NODE_OUTPUTS)
        return AV_NN_ONNX_UNSUP(&L, "%d inputs / %d outputs (at most %d / %d)", n_in, n->n_out,
                                AV_NN_MAX_NODE_INPUTS, AV_NN_MAX_NODE_OUTPUTS);
    L.n_in = n_in;
    for (int i = 0; i < n_in; i++) {
        L.in[i] = -1;
        if (!n->in[i].n)
            continue;
        name_entry *e = map_get(&ld->map, n->in[i]);
        if (e->tid < 0 && e->init >= 0 && e->producer < 0) {
            av_nn_status st = add_initializer(ld, e);
            if (st)
                return st;
        }
        if (e->tid < 0) /* ordering guarantees producers came first */
            return AV_NN_ONNX_BAD(&L, "input '%.*s' is not available", SHOWN(n->in[i]));
        L.in[i] = e->tid;
    }
    /* every op but Constant reads input 0; handlers may rely on it */
    if (!av_nn__onnx_str_eq(n->op_type, "Constant") && (n_in == 0 || L.in[0] < 0))
        return AV_NN_ONNX_BAD(&L, "input 0 is missing");
    L.n_out = n->n_out;
    for (int k = 0; k < n->n_out; k++) {
        L.out[k] = -1;
        L.out_used[k] = n->out[k].n && map_get(&ld->map, n->out[k])->used;
    }
    av_nn_status st = op->fn(&L);
    if (st)
        return st;
    for (int k = 0; k < n->n_out; k++) {
        if (!n->out[k].n)
            continue;
        if (L.out[k] < 0) {
            if (L.out_used[k])
                return AV_NN_ONNX_UNSUP(&L, "output %d ('%.*s') is not supported", k,
                                        SHOWN(n->out[k]));
            continue;
        }
        map_get(&ld->map, n->out[k])->tid = L.out[k];
    }
    return AV_NN_OK;
}

/* Graph outputs must be distinct non-constant, non-input tensors carrying the ONNX name. */
static av_nn_status mark_outputs(loader *ld)
{
    for (int i = 0; i < ld->m->n_outputs; i++) {
        const av_nn__onnx_value_info *vi = &ld->m->outputs[i];
        name_entry *e = map_get(&ld->map, vi->name);
        if (e->tid < 0 && e->init >= 0) {
            av_nn_status st = add_initializer(ld, e);
            if (st)
                return st;
        }
        if (e->tid < 0)
            return av_nn__fail(ld->err, ld->errlen, AV_NN_E_FORMAT,
                               "onnx: graph output '%.*s' is not produced", SHOWN(vi->name));
        av_nn__tensor *t = &ld->g->tensors[e->tid];
        av_nn__tid out = e->tid;
        if (t->is_input || t->is_output || t->data) {
            char name[512];
            out = av_nn__add_tensor(ld->g, cstr(vi->name, name, sizeof name), t->dtype, t->rank,
                                    t->dims, NULL, false);
            if (out < 0 || av_nn__add_node(ld->g, AV_NN_OP_IDENTITY, name, &e->tid, 1, &out, 1,
                                           NULL) < 0)
                return av_nn__fail(ld->err, ld->errlen, AV_NN_E_NOMEM, "onnx: out of memory");
        }
        if (av_nn__mark_output(ld->g, out) < 0)
            return av_nn__fail(ld->err, ld->errlen, AV_NN_E_NOMEM, "onnx: out of memory");
    }
    return AV_NN_OK;
}

av_nn_status av_nn__load_onnx(const uint8_t *buf, size_t len, av_nn__graph **out, char *err,
                              size_t errlen)
{
    *out = NULL;
    av_nn__onnx_model m;
    loader ld = {0};
    ld.m = &m;
    ld.err = err;
    ld.errlen = errlen;
    av_nn_status st = av_nn__onnx_parse(buf, len, &m, err, errlen);
    if (st)
        goto done;
    if (m.has_sparse_init) {
        st = av_nn__fail(err, errlen, AV_NN_E_UNSUPPORTED, "onnx: sparse initializers");
        goto done;
    }
    if ((st = index_names(&ld)) || (st = order_nodes(&ld)))
        goto done;
    ld.g = av_nn__graph_new();
    if (!ld.g) {
        st = av_nn__fail(err, errlen, AV_NN_E_NOMEM, "onnx: out of memory");
        goto done;
    }
    /* Real inputs in file order; an input that also has an initializer is a
     * constant (IR version < 4 lists initializers as inputs). */
    for (int i = 0; i < m.n_inputs; i++) {
        name_entry *e = map_get(&ld.map, m.inputs[i].name);
        if (e->init < 0 && (st = add_input(&ld, e)))
            goto done;
    }
    for (int i = 0; i < m.n_nodes; i++)
        if ((st = lower_node(&ld, ld.order[i], m.opset)))
            goto done;
    st = mark_outputs(&ld);
done:
    if (st == AV_NN_OK) {
        *out = ld.g;
    } else {
        av_nn__graph_free(ld.g);
    }
    free(ld.map.slots);
    free(ld.order);
    av_nn__onnx_model_free(&m);
    return st;
}
