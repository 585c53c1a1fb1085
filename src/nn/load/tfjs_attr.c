/*
 * tfjs_attr.c - reading a TF.js node's attributes (dtype, numbers, strings,
 * lists) and the loader's name map, for the loader and the op lowerings.
 */
#include "nn/load/tfjs.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

uint64_t av_nn__tfjs_hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    while (*s)
        h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

static bool json_to_f64(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (!s)
        return false;
    if (!strcmp(s, "NaN"))
        *out = NAN;
    else if (!strcmp(s, "Infinity"))
        *out = INFINITY;
    else if (!strcmp(s, "-Infinity"))
        *out = -INFINITY;
    else
        return false;
    return true;
}

/* proto3 JSON writes int64 as a string; accept numbers too. */
bool av_nn__tfjs_json_i64(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return false;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (*end)
        return false;
    *out = x;
    return true;
}

/* Decode base64 into buf (NUL-terminated); false when malformed or too long. */
static bool b64_decode(const char *s, char *buf, size_t buflen)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        int v = b64_val(*s);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= buflen)
                return false;
            char c = (char)((acc >> bits) & 0xff);
            if (c == '\0')
                return false;
            buf[o++] = c;
        }
    }
    buf[o] = '\0';
    return true;
}

bool av_nn__tfjs_dtype(const char *tf, av_nn_dtype *out)
{
    static const struct {
        const char *name;
        av_nn_dtype t;
    } map[] = {
        /* TF.js has float32, int32 and bool only: the converter narrows the rest */
        {"DT_FLOAT", AV_NN_F32}, {"DT_HALF", AV_NN_F32},  {"DT_DOUBLE", AV_NN_F32},
        {"DT_BFLOAT16", AV_NN_F32}, {"DT_INT32", AV_NN_I32}, {"DT_INT64", AV_NN_I32},
        {"DT_INT16", AV_NN_I32}, {"DT_INT8", AV_NN_I32},  {"DT_UINT8", AV_NN_I32},
        {"DT_UINT16", AV_NN_I32}, {"DT_BOOL", AV_NN_BOOL},
    };
    if (!tf)
        return false;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(tf, map[i].name)) {
            *out = map[i].t;
            return true;
        }
    return false;
}

int av_nn__tfjs_map_get(const av_nn__tfjs_map *m, const char *key)
{
    if (!m->cap)
        return -1;
    size_t i = av_nn__tfjs_hash_str(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (!strcmp(m->keys[i], key))
            return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

double av_nn__tfjs_attr_f(const av_nn__tfjs_node *n, const char *key, double def, bool *bad)
{
    json_t *a = av_nn__tfjs_attr(n, key);
    if (!a)
        return def;
    json_t *f = json_object_get(a, "f");
    double v;
    if (!f)
        return 0.0;
    if (!json_to_f64(f, &v)) {
        *bad = true;
        return def;
    }
    return v;
}

int64_t av_nn__tfjs_attr_i(const av_nn__tfjs_node *n, const char *key, int64_t def, bool *bad)
{
    json_t *a = av_nn__tfjs_attr(n, key);
    if (!a)
        return def;
    int64_t v;
    if (!av_nn__tfjs_json_i64(json_object_get(a, "i"), &v)) {
        if (!json_object_get(a, "i"))
            return 0; /* proto3 omits a zero */
        *bad = true;
        return def;
    }
    return v;
}

const char *av_nn__tfjs_attr_s(const av_nn__tfjs_node *n, const char *key, const char *def,
                               char *buf, size_t buflen, bool *bad)
{
    json_t *a = av_nn__tfjs_attr(n, key);
    if (!a)
        return def;
    const char *s = json_string_value(json_object_get(a, "s"));
    if (!s || !b64_decode(s, buf, buflen)) {
        *bad = true;
        return def;
    }
    return buf;
}

int av_nn__tfjs_attr_list_i(const av_nn__tfjs_node *n, const char *key, int64_t *out, int max)
{
    json_t *a = av_nn__tfjs_attr(n, key);
    if (!a)
        return 0;
    json_t *l = json_object_get(a, "list");
    if (!json_is_object(l))
        return -1;
    json_t *arr = json_object_get(l, "i");
    if (!arr)
        return 0;
    size_t k = json_array_size(arr);
    if (!json_is_array(arr) || k > (size_t)max)
        return -1;
    for (size_t i = 0; i < k; i++)
        if (!av_nn__tfjs_json_i64(json_array_get(arr, i), &out[i]))
            return -1;
    return (int)k;
}

json_t *av_nn__tfjs_attr(const av_nn__tfjs_node *n, const char *key)
{
    return n->attr ? json_object_get(n->attr, key) : NULL;
}

bool av_nn__tfjs_attr_b(const av_nn__tfjs_node *n, const char *key, bool def, bool *bad)
{
    json_t *a = av_nn__tfjs_attr(n, key);
    if (!a)
        return def;
    json_t *b = json_object_get(a, "b");
    if (!b)
        return false;
    if (!json_is_boolean(b)) {
        *bad = true;
        return def;
    }
    return json_is_true(b);
}

int av_nn__tfjs_attr_list_s(const av_nn__tfjs_node *n, const char *key, char (*out)[32],
                            int max)
{
    json_t *a = av_nn__tfjs_attr(n, key);
    if (!a)
        return 0;
    json_t *l = json_object_get(a, "list");
    if (!json_is_object(l))
        return -1;
    json_t *arr = json_object_get(l, "s");
    if (!arr)
        return 0;
    size_t k = json_array_size(arr);
    if (!json_is_array(arr) || k > (size_t)max)
        return -1;
    for (size_t i = 0; i < k; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s || !b64_decode(s, out[i], sizeof out[i]))
            return -1;
    }
    return (int)k;
}
