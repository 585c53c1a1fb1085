/*
 * ir.c - graph IR builder: tensors, nodes, inputs/outputs, size helpers with
 * the hard limits of ir.h, op/dtype/status name tables, float16 conversion.
 */
#include "nn/ir/ir.h"
#include "base/base.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {
#define X(id, name) name,
    AV_NN_OP_LIST(X)
#undef X
};
static_assert(sizeof op_names / sizeof op_names[0] == AV_NN_OP_COUNT,
              "op name table out of step with AV_NN_OP_LIST");

const char *av_nn__op_name(av_nn__op op)
{
    if ((int)op < 0 || op >= AV_NN_OP_COUNT)
        return "?";
    return op_names[op];
}

const char *av_nn_strerror(av_nn_status st)
{
    switch (st) {
#define X(name, num, msg)                                                                          \
    case AV_NN_##name:                                                                             \
        return msg;
        AV_NN_STATUS_MAP(X)
#undef X
    }
    return "unknown status";
}

static const char *const dtype_names[AV_NN_DTYPE_COUNT] = {"f32", "f16", "u8",  "i8",
                                                           "i32", "i64", "bool"};
static const size_t dtype_sizes[AV_NN_DTYPE_COUNT] = {4, 2, 1, 1, 4, 8, 1};

const char *av_nn_dtype_name(av_nn_dtype t)
{
    return ((int)t >= 0 && t < AV_NN_DTYPE_COUNT) ? dtype_names[t] : "?";
}

size_t av_nn_dtype_size(av_nn_dtype t)
{
    return ((int)t >= 0 && t < AV_NN_DTYPE_COUNT) ? dtype_sizes[t] : 0;
}

bool av_nn__env_zero(_Atomic int *cache, const char *name)
{
    int v = atomic_load_explicit(cache, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv(name);
        v = e && strcmp(e, "0") == 0;
        atomic_store_explicit(cache, v, memory_order_relaxed);
    }
    return v;
}

bool av_nn__switch_on(av_nn__switch *s)
{
    return !av_nn__env_zero(&s->env_off, s->env) && !atomic_load(&s->forced_off);
}

void av_nn__switch_force_off(av_nn__switch *s, bool on)
{
    atomic_store(&s->forced_off, on);
}

av_nn_status av_nn__fail(char *err, size_t errlen, av_nn_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    av_base_verrf(err, errlen, 0, fmt, ap);
    va_end(ap);
    return st;
}

av_nn_status av_nn__node_fail(char *err, size_t errlen, av_nn_status st, const av_nn__node *n,
                              const char *fmt, ...)
{
    if (err && errlen) {
        int k = snprintf(err, errlen, "node '%s' (%s): ", n->name, av_nn__op_name(n->op));
        va_list ap;
        va_start(ap, fmt);
        av_base_verrf(err, errlen, k > 0 ? (size_t)k : 0, fmt, ap);
        va_end(ap);
    }
    return st;
}

av_nn__graph *av_nn__graph_new(void)
{
    return calloc(1, sizeof(av_nn__graph));
}

void av_nn__graph_free(av_nn__graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_tensors; i++) {
        av_nn__tensor *t = &g->tensors[i];
        free(t->name);
        if (t->data_owned)
            free(t->data);
        free(t->quant.channel_scales);
    }
    for (int i = 0; i < g->n_nodes; i++)
        free(g->nodes[i].name);
    free(g->tensors);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->order);
    free(g);
}

int64_t av_nn__numel(const av_nn__tensor *t)
{
    if (t->rank < 0 || t->rank > AV_NN_MAX_RANK)
        return -1;
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        int64_t d = t->dims[i];
        if (d < 0)
            return -1;
        if (d != 0 && n > AV_NN_MAX_ELEMENTS / d)
            return -1;
        n *= d;
    }
    return n > AV_NN_MAX_ELEMENTS ? -1 : n;
}

int64_t av_nn__nbytes(const av_nn__tensor *t)
{
    int64_t n = av_nn__numel(t);
    size_t es = av_nn_dtype_size(t->dtype);
    if (n < 0 || es == 0)
        return -1;
    return n * (int64_t)es; /* n <= 2^31, es <= 8: no overflow */
}

static char *dup_name(const char *s)
{
    if (!s)
        s = "";
    size_t n = strnlen(s, 4096); /* names only serve messages: cap them */
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Grow *arr (element size es) so that it holds at least need elements. */
static bool grow(void **arr, int *cap, int need, size_t es, int limit)
{
    if (need <= *cap)
        return true;
    if (need > limit)
        return false;
    int nc = *cap ? *cap : 16;
    while (nc < need)
        nc = nc > limit / 2 ? limit : nc * 2;
    void *p = realloc(*arr, (size_t)nc * es);
    if (!p)
        return false;
    *arr = p;
    *cap = nc;
    return true;
}

av_nn__tid av_nn__add_tensor(av_nn__graph *g, const char *name, av_nn_dtype dtype, int rank,
                             const int64_t *dims, void *data, bool own_data)
{
    bool ok = g && (int)dtype >= 0 && dtype < AV_NN_DTYPE_COUNT && rank >= -1 &&
              rank <= AV_NN_MAX_RANK && (rank <= 0 || dims);
    for (int i = 0; ok && i < rank; i++)
        ok = dims[i] >= 0 && dims[i] <= AV_NN_MAX_ELEMENTS;
    if (ok && !grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1, sizeof(av_nn__tensor),
                    AV_NN_MAX_TENSORS))
        ok = false;
    av_nn__tensor t = {0};
    if (ok) {
        t.dtype = dtype;
        t.rank = rank;
        for (int i = 0; i < rank; i++)
            t.dims[i] = dims[i];
        t.producer = -1;
        if (data) {
            /* constants need a known, bounded shape */
            int64_t nb = av_nn__nbytes(&t);
            ok = nb >= 0 && g->total_bytes + nb <= AV_NN_MAX_TOTAL_BYTES;
            if (ok)
                g->total_bytes += nb;
        }
    }
    if (ok) {
        t.name = dup_name(name);
        ok = t.name != NULL;
    }
    if (!ok) {
        if (data && own_data)
            free(data);
        return -1;
    }
    t.data = data;
    t.data_owned = data && own_data;
    g->tensors[g->n_tensors] = t;
    return g->n_tensors++;
}

int av_nn__add_node(av_nn__graph *g, av_nn__op op, const char *name, const av_nn__tid *in, int n_in,
                    const av_nn__tid *out, int n_out, const av_nn__params *p)
{
    if (!g || (int)op < 0 || op >= AV_NN_OP_COUNT || n_in < 0 || n_in > AV_NN_MAX_NODE_INPUTS ||
        n_out < 1 || n_out > AV_NN_MAX_NODE_OUTPUTS || (n_in && !in) || !out)
        return -1;
    if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(av_nn__node),
              AV_NN_MAX_NODES))
        return -1;
    av_nn__node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = dup_name(name);
    if (!n->name)
        return -1;
    n->op = op;
    n->n_in = n_in;
    n->n_out = n_out;
    for (int i = 0; i < n_in; i++)
        n->in[i] = in[i];
    for (int i = 0; i < n_out; i++)
        n->out[i] = out[i];
    if (p)
        n->p = *p;
    return g->n_nodes++;
}

static int add_io(av_nn__tid **arr, int *n, av_nn__tid t)
{
    if (*n >= AV_NN_MAX_TENSORS)
        return -1;
    av_nn__tid *p = realloc(*arr, (size_t)(*n + 1) * sizeof *p);
    if (!p)
        return -1;
    p[*n] = t;
    *arr = p;
    return (*n)++;
}

int av_nn__mark_input(av_nn__graph *g, av_nn__tid t)
{
    if (!g || t < 0 || t >= g->n_tensors)
        return -1;
    g->tensors[t].is_input = true;
    return add_io(&g->inputs, &g->n_inputs, t);
}

int av_nn__mark_output(av_nn__graph *g, av_nn__tid t)
{
    if (!g || t < 0 || t >= g->n_tensors)
        return -1;
    g->tensors[t].is_output = true;
    return add_io(&g->outputs, &g->n_outputs, t);
}

/* IEEE half <-> single, round to nearest even, with subnormals, inf and NaN. */
float av_nn__f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float f;
    if (exp == 0) {
        f = ldexpf((float)man, -24); /* zero or subnormal */
    } else if (exp == 31) {
        f = man ? NAN : INFINITY;
    } else {
        uint32_t bits = ((exp + 112) << 23) | (man << 13);
        memcpy(&f, &bits, 4);
    }
    uint32_t b;
    memcpy(&b, &f, 4);
    b |= sign;
    memcpy(&f, &b, 4);
    return f;
}

uint16_t av_nn__f32_to_f16(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000);
    uint32_t exp = (b >> 23) & 0xff, man = b & 0x7fffff;
    if (exp == 0xff)
        return sign | 0x7c00 | (man ? 0x200 : 0);
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return sign | 0x7c00;
    if (e <= 0) {
        if (e < -10)
            return sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return sign | (uint16_t)half;
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
        half++; /* may carry into the exponent: still correct, up to inf */
    return sign | (uint16_t)half;
}
