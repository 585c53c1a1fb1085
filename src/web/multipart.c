/*
 * multipart.c - streaming multipart/form-data parser (RFC 7578 / 2046).
 *
 * The body goes through one fixed window. The window starts with a CRLF of
 * its own so the first boundary ("--B" at the very start) is found by the
 * same search as every later one ("\r\n--B"). In a part's data everything
 * but the last (delimiter length - 1) bytes can be handed on at once: no
 * delimiter can start before them.
 */
#include "web/multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { MP_PREAMBLE, MP_AFTER_DELIM, MP_HEADERS, MP_BODY, MP_EPILOGUE, MP_FAILED };

struct av_web__mp {
    av_web__mp_events ev;
    void *ctx;
    int state;
    char delim[4 + 70 + 1]; /* "\r\n--" boundary */
    size_t dlen;
    char name[257], filename[1025], ctype[129];
    int has_filename;
    char error[96];
    size_t len;
    char buf[AV_WEB__MP_WINDOW];
};

static int fail(av_web__mp *m, const char *why)
{
    m->state = MP_FAILED;
    snprintf(m->error, sizeof m->error, "%s", why);
    return -1;
}

/* First occurrence of needle in hay, or -1 (memmem is not in C11/POSIX). */
static long find(const char *hay, size_t n, const char *needle, size_t k)
{
    if (k == 0 || n < k)
        return -1;
    const char *p = hay, *end = hay + n - k + 1;
    while (p < end) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (!p)
            return -1;
        if (!memcmp(p, needle, k))
            return p - hay;
        p++;
    }
    return -1;
}

static void consume(av_web__mp *m, size_t n)
{
    memmove(m->buf, m->buf + n, m->len - n);
    m->len -= n;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* One parameter value (token or quoted-string, backslash escapes kept
 * literal as browsers and curl send them) into out; returns the end. */
static const char *param_value(const char *p, const char *end, char *out, size_t cap)
{
    size_t n = 0;
    if (p < end && *p == '"') {
        p++;
        while (p < end && *p != '"') {
            if (*p == '\\' && p + 1 < end)
                p++;
            if (n + 1 < cap)
                out[n++] = *p;
            p++;
        }
        if (p < end)
            p++; /* closing quote */
    } else {
        while (p < end && *p != ';' && *p != ' ' && *p != '\t') {
            if (n + 1 < cap)
                out[n++] = *p;
            p++;
        }
    }
    out[n] = '\0';
    return p;
}

/* Walk "; key=value" parameters; calls on_param for each. */
static void params(const char *p, const char *end,
                   void (*on_param)(void *, const char *, size_t, const char *, const char *),
                   void *ud)
{
    char val[1025];
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (!semi)
            return;
        p = skip_ws(semi + 1, end);
        const char *key = p;
        while (p < end && *p != '=' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t klen = (size_t)(p - key);
        p = skip_ws(p, end);
        if (p >= end || *p != '=')
            continue;
        const char *v0 = skip_ws(p + 1, end);
        p = param_value(v0, end, val, sizeof val);
        on_param(ud, key, klen, v0, val);
    }
}

static int key_is(const char *key, size_t klen, const char *want)
{
    return klen == strlen(want) && !strncasecmp(key, want, klen);
}

static void disposition_param(void *ud, const char *key, size_t klen, const char *raw,
                              const char *val)
{
    (void)raw;
    av_web__mp *m = ud;
    if (key_is(key, klen, "name"))
        snprintf(m->name, sizeof m->name, "%s", val);
    else if (key_is(key, klen, "filename")) {
        snprintf(m->filename, sizeof m->filename, "%s", val);
        m->has_filename = 1;
    }
}

/* The header block of a part (lines ending in CRLF). */
static void parse_headers(av_web__mp *m, const char *p, const char *end)
{
    m->name[0] = m->filename[0] = m->ctype[0] = '\0';
    m->has_filename = 0;
    while (p < end) {
        const char *eol = p;
        while (eol + 1 < end && !(eol[0] == '\r' && eol[1] == '\n'))
            eol++;
        if (eol + 1 >= end)
            eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            size_t klen = (size_t)(colon - p);
            const char *v = skip_ws(colon + 1, eol);
            const char *vend = eol;
            while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
                vend--;
            if (key_is(p, klen, "Content-Disposition")) {
                params(v, vend, disposition_param, m);
            } else if (key_is(p, klen, "Content-Type")) {
                size_t n = (size_t)(vend - v) < sizeof m->ctype ? (size_t)(vend - v)
                                                                 : sizeof m->ctype - 1;
                memcpy(m->ctype, v, n);
                m->ctype[n] = '\0';
            }
        }
        p = eol + 2;
    }
}

static int begin_part(av_web__mp *m)
{
    av_web__mp_part part = {.name = m->name,
                            .filename = m->has_filename ? m->filename : NULL,
                            .content_type = m->ctype};
    if (m->ev.begin && m->ev.begin(m->ctx, &part))
        return fail(m, "stopped");
    return 0;
}

static int emit(av_web__mp *m, size_t n)
{
    if (n && m->ev.data && m->ev.data(m->ctx, m->buf, n))
        return fail(m, "stopped");
    consume(m, n);
    return 0;
}

/* Advance as far as the window allows; 0 (wait for more) or -1. */
static int process(av_web__mp *m)
{
    for (;;) {
        switch (m->state) {
        case MP_PREAMBLE:
        case MP_BODY: {
            long at = find(m->buf, m->len, m->delim, m->dlen);
            if (at < 0) {
                size_t keep = m->dlen - 1;
                if (m->len > keep) {
                    if (m->state == MP_BODY) {
                        if (emit(m, m->len - keep))
                            return -1;
                    } else {
                        consume(m, m->len - keep);
                    }
                }
                return 0;
            }
            if (m->state == MP_BODY) {
                if (emit(m, (size_t)at))
                    return -1;
                at = 0;
                if (m->ev.end && m->ev.end(m->ctx))
                    return fail(m, "stopped");
            }
            consume(m, (size_t)at + m->dlen);
            m->state = MP_AFTER_DELIM;
            break;
        }
        case MP_AFTER_DELIM: {
            if (m->len < 2)
                return 0;
            if (m->buf[0] == '-' && m->buf[1] == '-') {
                m->state = MP_EPILOGUE;
                break;
            }
            size_t i = 0;
            while (i < m->len && (m->buf[i] == ' ' || m->buf[i] == '\t'))
                i++;
            if (i + 2 > m->len) {
                if (m->len == sizeof m->buf)
                    return fail(m, "malformed boundary line");
                return 0;
            }
            if (m->buf[i] != '\r' || m->buf[i + 1] != '\n')
                return fail(m, "malformed boundary line");
            consume(m, i + 2);
            m->state = MP_HEADERS;
            break;
        }
        case MP_HEADERS: {
            if (m->len < 2)
                return 0;
            size_t hlen, skip;
            if (m->buf[0] == '\r' && m->buf[1] == '\n') {
                hlen = 0, skip = 2; /* a part without headers */
            } else {
                long at = find(m->buf, m->len, "\r\n\r\n", 4);
                if (at < 0) {
                    if (m->len == sizeof m->buf)
                        return fail(m, "part headers too large");
                    return 0;
                }
                hlen = (size_t)at + 2, skip = (size_t)at + 4;
            }
            parse_headers(m, m->buf, m->buf + hlen);
            consume(m, skip);
            m->state = MP_BODY;
            if (begin_part(m))
                return -1;
            break;
        }
        case MP_EPILOGUE:
            m->len = 0;
            return 0;
        default:
            return -1;
        }
    }
}

/* The boundary parameter of a multipart/form-data Content-Type. */
static void boundary_param(void *ud, const char *key, size_t klen, const char *raw,
                           const char *val)
{
    (void)raw;
    if (key_is(key, klen, "boundary") && !((char *)ud)[0])
        snprintf(ud, 72, "%s", val);
}

av_web__mp *av_web__mp_new(const char *content_type, const av_web__mp_events *ev, void *ctx,
                           char *err, size_t errlen)
{
    static const char mt[] = "multipart/form-data";
    if (!content_type || strncasecmp(content_type, mt, sizeof mt - 1)) {
        snprintf(err, errlen, "the body is not multipart/form-data");
        return NULL;
    }
    char b[72] = "";
    params(content_type + sizeof mt - 1, content_type + strlen(content_type), boundary_param, b);
    size_t blen = strlen(b);
    if (blen < 1 || blen > 70 || strpbrk(b, "\r\n")) {
        snprintf(err, errlen, "multipart/form-data without a usable boundary");
        return NULL;
    }
    av_web__mp *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->ev = *ev;
    m->ctx = ctx;
    m->dlen = (size_t)snprintf(m->delim, sizeof m->delim, "\r\n--%s", b);
    memcpy(m->buf, "\r\n", 2);
    m->len = 2;
    m->state = MP_PREAMBLE;
    return m;
}

int av_web__mp_feed(av_web__mp *m, const char *data, size_t n)
{
    if (m->state == MP_FAILED)
        return -1;
    while (n) {
        size_t k = sizeof m->buf - m->len < n ? sizeof m->buf - m->len : n;
        if (!k)
            return fail(m, "parser window full"); /* every state drains it: not reached */
        memcpy(m->buf + m->len, data, k);
        m->len += k;
        data += k;
        n -= k;
        if (process(m))
            return -1;
    }
    return 0;
}

int av_web__mp_finish(av_web__mp *m)
{
    if (m->state == MP_EPILOGUE)
        return 0;
    if (m->state != MP_FAILED)
        fail(m, "the body ended before its closing boundary");
    return -1;
}

const char *av_web__mp_error(const av_web__mp *m)
{
    return m->error;
}

void av_web__mp_free(av_web__mp *m)
{
    free(m);
}
