/*
 * http.c - libcurl client for tests (see http.h).
 */
#include "http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct sink {
    char *p;
    size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t add = size * nmemb;
    char *q = realloc(s->p, s->n + add + 1);
    if (!q)
        return 0;
    memcpy(q + s->n, ptr, add);
    s->n += add;
    q[s->n] = '\0';
    s->p = q;
    return add;
}

int av_http_request(const char *method, const char *url, const char *content_type,
                    const void *body, size_t len, av_http_resp *r)
{
    return av_http_send(method, url, NULL, content_type, body, len, r);
}

int av_http_send(const char *method, const char *url, const char *const *headers,
                 const char *content_type, const void *body, size_t len, av_http_resp *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    struct sink b = {0}, h = {0};
    struct curl_slist *hdrs = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (content_type) {
        char line[256];
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, line);
    }
    for (; headers && *headers; headers++)
        hdrs = curl_slist_append(hdrs, *headers);
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    r->body = b.p ? b.p : calloc(1, 1);
    r->len = b.n;
    r->headers = h.p ? h.p : calloc(1, 1);
    return rc == CURLE_OK ? 0 : -1;
}

int av_http_upload(const char *url, const char *field, int n_files, const char *const *names,
                   const void *const *datas, const size_t *lens, av_http_resp *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    struct sink b = {0}, h = {0};
    curl_mime *mime = curl_mime_init(c);
    for (int i = 0; i < n_files; i++) {
        curl_mimepart *part = curl_mime_addpart(mime);
        curl_mime_name(part, field);
        curl_mime_filename(part, names[i]);
        curl_mime_data(part, datas[i], lens[i]);
        curl_mime_type(part, "application/octet-stream");
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_mime_free(mime);
    curl_easy_cleanup(c);
    r->body = b.p ? b.p : calloc(1, 1);
    r->len = b.n;
    r->headers = h.p ? h.p : calloc(1, 1);
    return rc == CURLE_OK ? 0 : -1;
}

int av_http_get(const char *url, av_http_resp *r)
{
    return av_http_request("GET", url, NULL, NULL, 0, r);
}

void av_http_free(av_http_resp *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}
