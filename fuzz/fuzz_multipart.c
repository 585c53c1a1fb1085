/*
 * fuzz_multipart.c - libFuzzer target: the upload body parser fed the same
 * body once whole and once in random chunk splits (0 to 17 bytes, now and
 * then larger); both must report the same parts, bytes and outcome. A
 * parser that guesses a part's start from where a chunk falls (issue 16,
 * D1) fails here.
 *
 * Input: 4 bytes seeding the splits, then the body (boundary "XB").
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    char ev[1 << 16]; /* begin/end records and data lengths */
    size_t ev_len;
    unsigned char bytes[1 << 16];
    size_t n_bytes, pending;
    int open;
} trace;

static void put(trace *t, const char *s, size_t n)
{
    if (t->ev_len + n > sizeof t->ev)
        abort(); /* inputs are far smaller than the trace */
    memcpy(t->ev + t->ev_len, s, n);
    t->ev_len += n;
}

static void flush(trace *t)
{
    if (t->pending) {
        char s[32];
        put(t, s, (size_t)snprintf(s, sizeof s, "D%zu;", t->pending));
        t->pending = 0;
    }
}

static int on_begin(void *ctx, const av_web__mp_part *p)
{
    trace *t = ctx;
    flush(t);
    if (t->open)
        abort(); /* a part began inside another */
    t->open = 1;
    put(t, "B", 1);
    put(t, p->name, strlen(p->name) + 1);
    put(t, p->filename ? p->filename : "(none)", strlen(p->filename ? p->filename : "(none)") + 1);
    put(t, p->content_type, strlen(p->content_type) + 1);
    return 0;
}

static int on_data(void *ctx, const char *d, size_t n)
{
    trace *t = ctx;
    if (!t->open || n == 0 || t->n_bytes + n > sizeof t->bytes)
        abort(); /* data outside a part, empty calls, or more bytes than came in */
    memcpy(t->bytes + t->n_bytes, d, n);
    t->n_bytes += n;
    t->pending += n;
    return 0;
}

static int on_end(void *ctx)
{
    trace *t = ctx;
    flush(t);
    if (!t->open)
        abort();
    t->open = 0;
    put(t, "E", 1);
    return 0;
}

static const av_web__mp_events EV = {on_begin, on_data, on_end};
static const char CT[] = "multipart/form-data; boundary=XB";

/* Parse body in chunks from the seeded generator (seed 0: one chunk). */
static int parse(const char *body, size_t n, uint32_t seed, trace *t)
{
    char err[128];
    av_web__mp *m = av_web__mp_new(CT, &EV, t, err, sizeof err);
    if (!m)
        abort();
    int rc = 0;
    size_t at = 0;
    do {
        size_t k = n - at;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            uint32_t r = (seed >> 16) & 0x7fff;
            size_t want = r % 23 == 0 ? 1000 + r % 20000 : r % 18;
            k = want < k ? want : k;
        }
        rc = av_web__mp_feed(m, body + at, k);
        at += k;
    } while (!rc && at < n);
    if (!rc)
        rc = av_web__mp_finish(m) ? 2 : 0;
    flush(t);
    av_web__mp_free(m);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || size > 60000)
        return 0;
    uint32_t seed = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                    (uint32_t)data[3] << 24 | 1u;
    const char *body = (const char *)data + 4;
    size_t n = size - 4;
    static trace whole, split;
    memset(&whole, 0, sizeof whole);
    memset(&split, 0, sizeof split);
    int a = parse(body, n, 0, &whole);
    int b = parse(body, n, seed, &split);
    if (a != b || whole.ev_len != split.ev_len || memcmp(whole.ev, split.ev, whole.ev_len) ||
        whole.n_bytes != split.n_bytes || memcmp(whole.bytes, split.bytes, whole.n_bytes)) {
        fprintf(stderr, "split parse differs: rc %d vs %d, %zu vs %zu data bytes\n", a, b,
                whole.n_bytes, split.n_bytes);
        abort();
    }
    return 0;
}
