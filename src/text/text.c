/*
 * text.c - UTF-8 checks for text that came from clients (file names, model
 * names) and goes out in UTF-8 pages and JSON (jansson refuses strings that
 * are not UTF-8).
 */
#include "text/text.h"

#include <string.h>

size_t av_text_utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* the second byte's range excludes overlongs, surrogates */
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

void av_text_utf8_clean(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)src;
    while (*p) {
        size_t k = av_text_utf8_len(p);
        const char *from = k ? (const char *)p : AV_TEXT_REPLACEMENT;
        size_t len = k ? k : 3;
        if (n + len + 1 > cap)
            break; /* never cut a character in two */
        memcpy(dst + n, from, len);
        n += len;
        p += k ? k : 1;
    }
    if (cap)
        dst[n] = '\0';
}
