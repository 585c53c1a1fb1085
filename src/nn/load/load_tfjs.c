/*
 * load_tfjs.c - TF.js graph model (model.json + weight shards) -> graph IR.
 *
 * Steps: parse the JSON (size-bounded), index the nodes by name, resolve each
 * input reference ("name", "name:k", "name:out:k"; "^ctrl" dependencies are
 * dropped), read the weights, then walk the graph depth-first from the
 * outputs (iteratively: hostile graphs may be deep; a node met again while
 * still on the stack is a cycle) and lower each node after its inputs. Only
 * nodes the outputs need are lowered, as TF.js only executes those.
 * Inputs and outputs come from the signature when there is one; otherwise
 * the Placeholders and the nodes nobody consumes.
 */
#include "nn/load/tfjs.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- string map ---- */

bool av_nn__tfjs_map_init(av_nn__tfjs_map *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n + 1)
        cap *= 2;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    m->cap = (m->keys && m->vals) ? cap : 0;
    return m->cap != 0;
}

bool av_nn__tfjs_map_put(av_nn__tfjs_map *m, const char *key, int val)
{
    size_t i = av_nn__tfjs_hash_str(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (!strcmp(m->keys[i], key))
            return false;
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = key;
    m->vals[i] = val;
    return true;
}

void av_nn__tfjs_map_free(av_nn__tfjs_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- helpers shared with tfjs_ops.c ---- */

av_nn_status av_nn__tfjs_fail(av_nn__tfjs *L, const av_nn__tfjs_node *n, av_nn_status st,
                              const char *fmt, ...)
{
    if (L->err && L->errlen) {
        int k = snprintf(L->err, L->errlen, "tfjs node '%.200s' (%.60s): ", n->name, n->op);
        if (k >= 0 && (size_t)k < L->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(L->err + k, L->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return st;
}

av_nn__tid av_nn__tfjs_in(const av_nn__tfjs *L, const av_nn__tfjs_node *n, int i)
{
    if (i < 0 || i >= n->n_in)
        return -1;
    const av_nn__tfjs_node *src = &L->nodes[n->in_node[i]];
    return src->out0 < 0 ? -1 : src->out0 + n->in_port[i];
}

/* ---- model.json structure ---- */

/* Split "name", "name:k" or "name:out:k" into a node index and port. */
static av_nn_status parse_ref(av_nn__tfjs *L, const char *ref, const char *where, int *node,
                              int *port)
{
    char name[4096];
    const char *colon = strchr(ref, ':');
    size_t nl = colon ? (size_t)(colon - ref) : strlen(ref);
    if (nl == 0 || nl >= sizeof name)
        return av_nn__fail(L->err, L->errlen, AV_NN_E_FORMAT, "%s: bad tensor reference '%.200s'",
                           where, ref);
    memcpy(name, ref, nl);
    name[nl] = '\0';
    int64_t p = 0;
    if (colon) {
        const char *last = strrchr(ref, ':') + 1;
        char *end;
        long long v = strtoll(last, &end, 10);
        if (!*last || *end || v < 0 || v > AV_NN_TFJS_MAX_PORT)
            return av_nn__fail(L->err, L->errlen, AV_NN_E_FORMAT,
                               "%s: bad output index in '%.200s'", where, ref);
        p = v;
    }
    int idx = av_nn__tfjs_map_get(&L->node_map, name);
    if (idx < 0)
        return av_nn__fail(L->err, L->errlen, AV_NN_E_FORMAT,
                           "%s: input '%.200s' names no node", where, ref);
    int nout = av_nn__tfjs_num_outputs(&L->nodes[idx]);
    if (p >= nout)
        return av_nn__fail(L->err, L->errlen, AV_NN_E_FORMAT,
                           "%s: '%.200s' asks for output %lld of a node with %d", where, ref,
                           (long long)p, nout);
    *node = idx;
    *port = (int)p;
    return AV_NN_OK;
}

static av_nn_status parse_nodes(av_nn__tfjs *L, json_t *jnodes)
{
    size_t nn = json_array_size(jnodes);
    if (!json_is_array(jnodes) || nn == 0)
        return av_nn__fail(L->err, L->errlen, AV_NN_E_FORMAT,
                           "modelTopology.node must be a non-empty array");
    if (nn > AV_NN_MAX_NODES)
        return av_nn__fail(L->err, L->errlen, AV_NN_E_LIMIT, "%zu nodes (at most %d)", nn,
                           AV_NN_MAX_NODES);
    L->nodes = calloc(nn, sizeof *L->nodes);
    if (!L->nodes || !av_nn__tfjs_map_init(&L->node_map, nn))
        return av_nn__fail(L->err, L->errlen, AV_NN_E_NOMEM, "%zu nodes", nn);
    L->n_nodes = (int)nn;
    for (size_t i = 0; i < nn; i++) {
        json_t *jn = json_array_get(jnodes, i);
        av_nn__tfjs_node *n = &L->nodes[i];
        json_t *jname = json_object_get(jn, "name");
        n->name = json_string_value(jname);
        n->op = json_string_value(json_object_get(jn, "op"));
        n->attr = json_object_get(jn, "attr");
        n->out0 = -1;
        if (!n->name || !*n->name || !n->op || strlen(n->name) != json_string_length(jname))
            return av_nn__fail(L->err, L->errlen, AV_NN_E_FORMAT,
                               "modelTopology.node[%zu]: needs a 'name' and an 'op'", i);
        if (n->attr && !json_is_object(n->attr))
            return av_nn__fail(L->err, L->errlen, AV_NN_E_FORMAT,
                               "node '%.200s': 'attr' must be an object", n->name);
        if (!av_nn__tfjs_map_put(&L->node_map, n->name, (int)i))
            return av_nn__fail(L->err, L->errlen, AV_NN_E_FORMAT, "duplicate node name '%.200s'",
                               n->name);
    }
    /* Second pass: inputs refer to nodes anywhere in the list. */
    for (size_t i = 0; i < nn; i++) {
        av_nn__tfjs_node *n = &L->nodes[i];
        json_t *ins = json_object_get(json_array_get(jnodes, i), "input");
        size_t k = json_array_size(ins);
        if (ins && !json_is_array(ins))
            return av_nn__tfjs_fail(L, n, AV_NN_E_FORMAT, "'input' must be an array");
        if (k > AV_NN_MAX_NODE_INPUTS)
            return av_nn__tfjs_fail(L, n, AV_NN_E_LIMIT, "%zu inputs (at most %d)", k,
                                    AV_NN_MAX_NODE_INPUTS);
        n->in_node = malloc((k ? k : 1) * sizeof *n->in_node);
        n->in_port = malloc((k ? k : 1) * sizeof *n->in_port);
        if (!n->in_node || !n->in_port)
            return av_nn__tfjs_fail(L, n, AV_NN_E_NOMEM, "inputs");
        for (size_t j = 0; j < k; j++) {
            const char *ref = json_string_value(json_array_get(ins, j));
            if (!ref)
                return av_nn__tfjs_fail(L, n, AV_NN_E_FORMAT, "input %zu is not a string", j);
            if (ref[0] == '^')
                continue; /* control dependency: no data, nothing to order in a pure graph */
            char where[300];
            snprintf(where, sizeof where, "node '%.200s'", n->name);
            av_nn_status st =
                parse_ref(L, ref, where, &n->in_node[n->n_in], &n->in_port[n->n_in]);
            if (st)
                return st;
            n->n_in++;
        }
    }
    return AV_NN_OK;
}

/* Read a TensorShapeProto ({"dim":[{"size":"1"},...]}); unknown dims come back as -1. */
static bool parse_shape(json_t *shape, int *rank, int64_t *dims)
{
    if (!json_is_object(shape))
        return false;
    if (json_is_true(json_object_get(shape, "unknownRank")))
        return false;
    json_t *d = json_object_get(shape, "dim");
    size_t r = json_array_size(d);
    if ((d && !json_is_array(d)) || r > AV_NN_MAX_RANK)
        return false;
    for (size_t i = 0; i < r; i++) {
        json_t *sz = json_object_get(json_array_get(d, i), "size");
        int64_t v = 0; /* proto3 omits a zero size */
        if (sz && !av_nn__tfjs_json_i64(sz, &v))
            return false;
        if (v < -1 || v > AV_NN_MAX_ELEMENTS)
            return false;
        dims[i] = v;
    }
    *rank = (int)r;
    return true;
}

/* Make the IR input tensor of a Placeholder; sig (may be NULL) is its signature entry. */
static av_nn_status lower_placeholder(av_nn__tfjs *L, av_nn__tfjs_node *n, json_t *sig)
{
    av_nn_dtype dt = AV_NN_F32;
    json_t *jdt = sig ? json_object_get(sig, "dtype") : NULL;
    const char *dts = json_string_value(jdt ? jdt : json_object_get(av_nn__tfjs_attr(n, "dtype"),
                                                                  "type"));
    if (dts && !av_nn__tfjs_dtype(dts, &dt))
        return av_nn__tfjs_fail(L, n, AV_NN_E_UNSUPPORTED, "input dtype %.40s", dts);
    int rank = -1;
    int64_t dims[AV_NN_MAX_RANK];
    json_t *shape = sig ? json_object_get(sig, "tensorShape") : NULL;
    if (!shape || !parse_shape(shape, &rank, dims)) {
        json_t *a = av_nn__tfjs_attr(n, "shape");
        if (!a || !parse_shape(json_object_get(a, "shape"), &rank, dims))
            return av_nn__tfjs_fail(L, n, AV_NN_E_UNSUPPORTED,
                                    "input needs a static shape (attr 'shape' or signature)");
    }
    for (int i = 0; i < rank; i++) {
        if (dims[i] >= 0)
            continue;
        if (i != 0)
            return av_nn__tfjs_fail(L, n, AV_NN_E_UNSUPPORTED,
                                    "input dim %d is dynamic; only the batch dim may be", i);
        dims[i] = 1; /* dynamic batch: one image per run */
    }
    av_nn__tid t = av_nn__add_tensor(L->g, n->name, dt, rank, dims, NULL, false);
    if (t < 0)
        return av_nn__tfjs_fail(L, n, AV_NN_E_NOMEM, "cannot add the input tensor");
    n->out0 = t;
    n->n_out = 1;
    n->state = 2;
    return AV_NN_OK;
}

/* Rename tensor t (a graph input or output) to its public signature name. */
static bool rename_tensor(av_nn__graph *g, av_nn__tid t, const char *name)
{
    size_t k = strnlen(name, 4096);
    char *d = malloc(k + 1);
    if (!d)
        return false;
    memcpy(d, name, k);
    d[k] = '\0';
    free(g->tensors[t].name);
    g->tensors[t].name = d;
    return true;
}

/* Lower everything node `root` needs, depth-first, without recursion. */
static av_nn_status walk(av_nn__tfjs *L, int root, int *stack, int *next)
{
    if (L->nodes[root].state == 2)
        return AV_NN_OK;
    int sp = 0;
    stack[sp] = root;
    next[sp++] = 0;
    L->nodes[root].state = 1;
    while (sp > 0) {
        av_nn__tfjs_node *n = &L->nodes[stack[sp - 1]];
        if (next[sp - 1] < n->n_in) {
            int c = n->in_node[next[sp - 1]++];
            av_nn__tfjs_node *cn = &L->nodes[c];
            if (cn->state == 2)
                continue;
            if (cn->state == 1)
                return av_nn__tfjs_fail(L, n, AV_NN_E_FORMAT,
                                        "the graph has a cycle through input '%.200s'",
                                        cn->name);
            cn->state = 1;
            stack[sp] = c;
            next[sp++] = 0;
            continue;
        }
        if (!strcmp(n->op, "Placeholder"))
            return av_nn__tfjs_fail(L, n, AV_NN_E_FORMAT,
                                    "placeholder is not among the model inputs");
        av_nn_status st = av_nn__tfjs_lower(L, n);
        if (st)
            return st;
        if (n->out0 < 0 || n->n_out != av_nn__tfjs_num_outputs(n))
            return av_nn__tfjs_fail(L, n, AV_NN_E_FORMAT, "lowering produced no outputs");
        n->state = 2;
        sp--;
    }
    return AV_NN_OK;
}

/* One model input or output: node, port and public name. */
typedef struct io_ref {
    int node, port;
    const char *name;
    json_t *sig;
} io_ref;

/* Collect signature inputs/outputs (object of name -> TensorInfo); count or -1 (err set). */
static int sig_refs(av_nn__tfjs *L, json_t *obj, const char *what, io_ref **out)
{
    size_t k = json_object_size(obj);
    *out = calloc(k ? k : 1, sizeof **out);
    if (!*out) {
        av_nn__fail(L->err, L->errlen, AV_NN_E_NOMEM, "signature");
        return -1;
    }
    const char *key;
    json_t *val;
    int i = 0;
    json_object_foreach(obj, key, val)
    {
        const char *ref = json_string_value(json_object_get(val, "name"));
        char where[300];
        snprintf(where, sizeof where, "signature %s '%.200s'", what, key);
        if (parse_ref(L, ref ? ref : key, where, &(*out)[i].node, &(*out)[i].port))
            return -1;
        (*out)[i].name = key;
        (*out)[i].sig = val;
        i++;
    }
    return i;
}

/* Without a signature: Placeholders in, nodes no one consumes out (as TF.js does). */
static int default_refs(av_nn__tfjs *L, bool inputs, io_ref **out)
{
    char *used = calloc((size_t)L->n_nodes, 1);
    *out = calloc((size_t)L->n_nodes, sizeof **out);
    if (!used || !*out) {
        free(used);
        av_nn__fail(L->err, L->errlen, AV_NN_E_NOMEM, "model inputs/outputs");
        return -1;
    }
    for (int i = 0; i < L->n_nodes; i++)
        for (int j = 0; j < L->nodes[i].n_in; j++)
            used[L->nodes[i].in_node[j]] = 1;
    int k = 0;
    for (int i = 0; i < L->n_nodes; i++) {
        const av_nn__tfjs_node *n = &L->nodes[i];
        bool ph = !strcmp(n->op, "Placeholder");
        bool take = inputs ? ph : (!used[i] && !ph && strcmp(n->op, "Const") != 0 &&
                                   strcmp(n->op, "NoOp") != 0);
        if (take)
            (*out)[k++] = (io_ref){i, 0, n->name, NULL};
    }
    free(used);
    return k;
}

static av_nn_status build(av_nn__tfjs *L, json_t *root, const char *dir)
{
    json_t *topo = json_object_get(root, "modelTopology");
    if (!json_is_object(topo))
        return av_nn__fail(L->err, L->errlen, AV_NN_E_FORMAT, "model.json has no modelTopology");
    if (json_object_get(topo, "model_config") || json_object_get(topo, "class_name"))
        return av_nn__fail(L->err, L->errlen, AV_NN_E_UNSUPPORTED,
                           "model.json is a Keras layers model; only graph models are supported");
    av_nn_status st = parse_nodes(L, json_object_get(topo, "node"));
    if (st)
        return st;
    if ((st = av_nn__tfjs_read_weights(json_object_get(root, "weightsManifest"), dir, &L->wt,
                                       L->err, L->errlen)))
        return st;
    if (!av_nn__tfjs_map_init(&L->weight_map, (size_t)L->wt.n))
        return av_nn__fail(L->err, L->errlen, AV_NN_E_NOMEM, "weight index");
    for (int i = 0; i < L->wt.n; i++)
        if (!av_nn__tfjs_map_put(&L->weight_map, L->wt.w[i].name, i))
            return av_nn__fail(L->err, L->errlen, AV_NN_E_FORMAT, "duplicate weight '%.200s'",
                               L->wt.w[i].name);
    if (!(L->g = av_nn__graph_new()))
        return av_nn__fail(L->err, L->errlen, AV_NN_E_NOMEM, "graph");

    json_t *sig = json_object_get(root, "signature");
    json_t *sin = json_object_get(sig, "inputs"), *sout = json_object_get(sig, "outputs");
    io_ref *ins = NULL, *outs = NULL;
    int *stack = NULL, *next = NULL;
    int n_in = json_object_size(sin) ? sig_refs(L, sin, "input", &ins) : default_refs(L, true, &ins);
    int n_out = -1;
    if (n_in >= 0)
        n_out = json_object_size(sout) ? sig_refs(L, sout, "output", &outs)
                                       : default_refs(L, false, &outs);
    st = AV_NN_E_FORMAT; /* err already written when a count is negative */
    if (n_in < 0 || n_out < 0)
        goto done;
    if (n_out == 0) {
        st = av_nn__fail(L->err, L->errlen, AV_NN_E_FORMAT, "model has no outputs");
        goto done;
    }
    for (int i = 0; i < n_in; i++) {
        av_nn__tfjs_node *n = &L->nodes[ins[i].node];
        if (strcmp(n->op, "Placeholder") != 0 || ins[i].port != 0) {
            st = av_nn__fail(L->err, L->errlen, AV_NN_E_UNSUPPORTED,
                             "model input '%.200s' is a %.60s, not a Placeholder", ins[i].name,
                             n->op);
            goto done;
        }
        if (n->state == 2) {
            st = av_nn__fail(L->err, L->errlen, AV_NN_E_FORMAT,
                             "model input '%.200s' listed twice", ins[i].name);
            goto done;
        }
        if ((st = lower_placeholder(L, n, ins[i].sig)))
            goto done;
        if (av_nn__mark_input(L->g, n->out0) < 0 || !rename_tensor(L->g, n->out0, ins[i].name)) {
            st = av_nn__fail(L->err, L->errlen, AV_NN_E_NOMEM, "model inputs");
            goto done;
        }
    }
    stack = malloc((size_t)L->n_nodes * sizeof *stack);
    next = malloc((size_t)L->n_nodes * sizeof *next);
    L->refs = calloc((size_t)L->n_nodes, sizeof *L->refs);
    if (!stack || !next || !L->refs) {
        st = av_nn__fail(L->err, L->errlen, AV_NN_E_NOMEM, "graph walk");
        goto done;
    }
    for (int i = 0; i < L->n_nodes; i++)
        for (int k = 0; k < L->nodes[i].n_in; k++)
            L->refs[L->nodes[i].in_node[k]]++;
    for (int i = 0; i < n_out; i++)
        L->refs[outs[i].node]++;
    for (int i = 0; i < n_out; i++)
        if ((st = walk(L, outs[i].node, stack, next)))
            goto done;
    for (int i = 0; i < n_out; i++) {
        av_nn__tfjs_node *n = &L->nodes[outs[i].node];
        av_nn__tid t = n->out0 + outs[i].port;
        av_nn__tensor *tt = &L->g->tensors[t];
        if (tt->is_input || tt->is_output || tt->data) {
            /* shared with another role: give this output its own tensor */
            av_nn__tid c = av_nn__add_tensor(L->g, outs[i].name, AV_NN_F32, -1, NULL, NULL, false);
            if (c < 0 || av_nn__add_node(L->g, AV_NN_OP_IDENTITY, outs[i].name, &t, 1, &c, 1,
                                         NULL) < 0) {
                st = av_nn__fail(L->err, L->errlen, AV_NN_E_NOMEM, "model outputs");
                goto done;
            }
            t = c;
        } else if (!rename_tensor(L->g, t, outs[i].name)) {
            st = av_nn__fail(L->err, L->errlen, AV_NN_E_NOMEM, "model outputs");
            goto done;
        }
        if (av_nn__mark_output(L->g, t) < 0) {
            st = av_nn__fail(L->err, L->errlen, AV_NN_E_NOMEM, "model outputs");
            goto done;
        }
    }
    st = AV_NN_OK;
done:
    free(stack);
    free(next);
    free(ins);
    free(outs);
    return st;
}

av_nn_status av_nn__load_tfjs(const char *json_text, size_t len, const char *dir,
                              av_nn__graph **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || (!json_text && len))
        return av_nn__fail(err, errlen, AV_NN_E_ARG, "tfjs: NULL argument");
    *out = NULL;
    if (len > AV_NN_TFJS_MAX_JSON)
        return av_nn__fail(err, errlen, AV_NN_E_LIMIT, "model.json is %zu bytes (at most %u)",
                           len, AV_NN_TFJS_MAX_JSON);
    json_error_t je;
    json_t *root = json_loadb(json_text ? json_text : "", len, 0, &je);
    if (!root)
        return av_nn__fail(err, errlen, AV_NN_E_FORMAT, "model.json line %d column %d: %s",
                           je.line, je.column, je.text);
    av_nn__tfjs L = {0};
    L.err = err;
    L.errlen = errlen;
    av_nn_status st = json_is_object(root)
                          ? build(&L, root, dir)
                          : av_nn__fail(err, errlen, AV_NN_E_FORMAT, "model.json is not an object");
    for (int i = 0; i < L.n_nodes; i++) {
        free(L.nodes[i].in_node);
        free(L.nodes[i].in_port);
    }
    free(L.nodes);
    free(L.derived_src);
    free(L.derived_dst);
    free(L.derived_kind);
    free(L.refs);
    av_nn__tfjs_map_free(&L.node_map);
    av_nn__tfjs_map_free(&L.weight_map);
    av_nn__tfjs_weights_free(&L.wt);
    json_decref(root);
    if (st) {
        av_nn__graph_free(L.g);
        return st;
    }
    *out = L.g;
    return AV_NN_OK;
}
