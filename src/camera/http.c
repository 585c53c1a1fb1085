/*
 * http.c - the two HTTP calls cameras make with libcurl: fetch a snapshot
 * (bounded size and time) and POST a webhook. Clocks too.
 */
#include "camera/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

typedef struct sink {
    unsigned char *p;
    size_t len, cap, max;
    int too_big, nomem;
} sink;

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    sink *s = ud;
    size_t add = size * n;
    if (s->len + add > s->max) {
        s->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (av_base_grow((void **)&s->p, &s->cap, s->len + add, 1)) {
        s->nomem = 1;
        return 0;
    }
    memcpy(s->p + s->len, data, add);
    s->len += add;
    return add;
}

static size_t discard(char *data, size_t size, size_t n, void *ud)
{
    (void)data, (void)ud;
    return size * n;
}

/* Common options: time limit, no signals (threads), http(s) only. */
static CURL *easy(const char *url, double timeout_s)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout_s > 0 ? timeout_s * 1000 : 10000));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(timeout_s > 0 ? timeout_s * 1000 : 10000));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_USERAGENT, "aviary-camera/1");
    return h;
}

int av_camera__http_get(const char *url, double timeout_s, long long max_bytes, void **body,
                        size_t *len, char *err, size_t errlen)
{
    *body = NULL;
    *len = 0;
    sink s = {.max = max_bytes > 0 ? (size_t)max_bytes : 30u * 1000 * 1000};
    CURL *h = easy(url, timeout_s);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    if (s.too_big)
        snprintf(err, errlen, "snapshot larger than %zu bytes", s.max);
    else if (s.nomem)
        snprintf(err, errlen, "out of memory");
    else if (rc != CURLE_OK)
        snprintf(err, errlen, "snapshot fetch failed: %s", curl_easy_strerror(rc));
    else if (code < 200 || code > 299)
        snprintf(err, errlen, "snapshot fetch: HTTP %ld", code);
    else if (!s.len)
        snprintf(err, errlen, "snapshot fetch: empty body");
    else {
        *body = s.p;
        *len = s.len;
        return 0;
    }
    free(s.p);
    return -1;
}

int av_camera__http_post(const char *url, double timeout_s, const char *body, size_t len,
                         const char *const *headers, char *err, size_t errlen)
{
    CURL *h = easy(url, timeout_s);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    for (int i = 0; hl && headers && headers[i]; i++) {
        struct curl_slist *n = curl_slist_append(hl, headers[i]);
        if (!n) {
            curl_slist_free_all(hl);
            hl = NULL;
        } else {
            hl = n;
        }
    }
    if (!h || !hl) {
        curl_easy_cleanup(h);
        curl_slist_free_all(hl);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "webhook POST failed: %s", curl_easy_strerror(rc));
        return -1;
    }
    if (code < 200 || code > 299) {
        snprintf(err, errlen, "webhook POST: HTTP %ld", code);
        return -1;
    }
    return 0;
}
