/*
 * b64.c - base64 (RFC 4648) for {"b64": ...} values.
 */
#include "serving/serving.h"

#include <stdint.h>
#include <stdlib.h>

static const char ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int av_serving_b64_encode(const void *in, size_t n, char **out, size_t *outlen)
{
    *out = NULL;
    if (n > (SIZE_MAX / 4) * 3 - 3)
        return -1;
    size_t m = (n + 2) / 3 * 4;
    char *o = malloc(m + 1);
    if (!o)
        return -1;
    const unsigned char *p = in;
    size_t j = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[j++] = ALPHA[v >> 18], o[j++] = ALPHA[(v >> 12) & 63];
        o[j++] = ALPHA[(v >> 6) & 63], o[j++] = ALPHA[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        o[j++] = ALPHA[v >> 18], o[j++] = ALPHA[(v >> 12) & 63];
        o[j++] = i + 1 < n ? ALPHA[(v >> 6) & 63] : '=';
        o[j++] = '=';
    }
    o[j] = '\0';
    *out = o;
    if (outlen)
        *outlen = j;
    return 0;
}

static int val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int av_serving_b64_decode(const char *in, size_t n, unsigned char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    unsigned char *o = malloc(n / 4 * 3 + 3);
    if (!o)
        return -1;
    size_t j = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = val((unsigned char)in[i]);
        if (v < 0) {
            free(o);
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[j++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *out = o;
    *outlen = j;
    return 0;
}
