/*
 * tmpl.c - embedded assets and the {{key}} / {{{key}}} template renderer.
 */
#include "web/internal.h"

#include <string.h>

struct av_asset {
    const char *name;
    const char *data;
    size_t len;
};
extern const struct av_asset av_web__assets[];

int av_web__asset(const char *name, av_web__asset_ref *out)
{
    for (const struct av_asset *a = av_web__assets; a->name; a++)
        if (strcmp(a->name, name) == 0) {
            out->data = a->data;
            out->len = a->len;
            return 0;
        }
    return -1;
}

static const char *lookup(const char *const *kv, const char *key, size_t klen)
{
    for (; kv && kv[0]; kv += 2)
        if (strlen(kv[0]) == klen && strncmp(kv[0], key, klen) == 0)
            return kv[1] ? kv[1] : "";
    return "";
}

int av_web__render(av_web__buf *out, const char *name, const char *const *kv)
{
    av_web__asset_ref t;
    if (av_web__asset(name, &t))
        return -1;
    const char *p = t.data, *end = t.data + t.len;
    while (p < end) {
        const char *open = memchr(p, '{', (size_t)(end - p));
        if (!open || open + 1 >= end || open[1] != '{') {
            const char *stop = open ? open + 1 : end;
            av_web__buf_add(out, p, (size_t)(stop - p));
            p = stop;
            continue;
        }
        av_web__buf_add(out, p, (size_t)(open - p));
        int raw = open + 2 < end && open[2] == '{';
        const char *key = open + (raw ? 3 : 2);
        const char *close = key;
        while (close + 1 < end && !(close[0] == '}' && close[1] == '}'))
            close++;
        if (close + 1 >= end) { /* unterminated: copy literally */
            av_web__buf_add(out, open, (size_t)(end - open));
            break;
        }
        const char *val = lookup(kv, key, (size_t)(close - key));
        if (raw)
            av_web__buf_str(out, val);
        else
            av_web__buf_html(out, val);
        p = close + (raw ? 3 : 2);
    }
    return out->failed ? -1 : 0;
}
