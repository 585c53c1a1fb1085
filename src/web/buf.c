/*
 * buf.c - capped growable buffer and HTML escaping for page rendering.
 */
#include "web/internal.h"

#include "text/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void av_web__buf_init(av_web__buf *b, size_t limit)
{
    memset(b, 0, sizeof *b);
    b->limit = limit;
}

void av_web__buf_free(av_web__buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static int reserve(av_web__buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra > b->limit || b->len + extra + 1 > b->limit) {
        b->failed = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < need)
        cap *= 2;
    if (cap > b->limit)
        cap = b->limit;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void av_web__buf_add(av_web__buf *b, const char *s, size_t n)
{
    if (reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void av_web__buf_str(av_web__buf *b, const char *s)
{
    av_web__buf_add(b, s, strlen(s));
}

void av_web__buf_fmt(av_web__buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        av_web__buf_add(b, small, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Escapes HTML and replaces bytes that are not UTF-8 (pages are UTF-8). */
void av_web__buf_html(av_web__buf *b, const char *s)
{
    const char *run = s;
    while (*s) {
        const char *esc = NULL;
        size_t k = av_text_utf8_len((const unsigned char *)s);
        switch (*s) {
        case '&': esc = "&amp;"; break;
        case '<': esc = "&lt;"; break;
        case '>': esc = "&gt;"; break;
        case '"': esc = "&quot;"; break;
        case '\'': esc = "&#39;"; break;
        default:
            if (!k)
                esc = AV_TEXT_REPLACEMENT;
            break;
        }
        if (!esc) {
            s += k;
            continue;
        }
        av_web__buf_add(b, run, (size_t)(s - run));
        av_web__buf_str(b, esc);
        s++;
        run = s;
    }
    av_web__buf_add(b, run, (size_t)(s - run));
}

char *av_web__buf_take(av_web__buf *b, size_t *len)
{
    if (!b->p && !b->failed)
        reserve(b, 0);
    char *p = b->failed ? NULL : b->p;
    if (len)
        *len = b->len;
    if (!p)
        free(b->p);
    memset(b, 0, sizeof *b);
    return p;
}

void av_web__buf_url(av_web__buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            av_web__buf_add(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            av_web__buf_add(b, e, 3);
        }
    }
}
