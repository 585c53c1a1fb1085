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

/* ---- raw sockets ---- */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int av_http_raw_connect(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (src) {
        struct sockaddr_in me = {.sin_family = AF_INET};
        if (inet_pton(AF_INET, src, &me.sin_addr) != 1 ||
            bind(fd, (struct sockaddr *)&me, sizeof me)) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        close(fd);
        return -1;
    }
    return fd;
}

int av_http_raw_send(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The value of header name (with its colon) in the header block, or NULL. */
static const char *header_value(const char *buf, const char *end, const char *name)
{
    size_t k = strlen(name);
    for (const char *p = buf; p && p < end; p = strstr(p, "\r\n")) {
        p += (p != buf) * 2;
        if (!strncasecmp(p, name, k))
            return p + k;
    }
    return NULL;
}

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

long av_http_raw_response(int fd, int timeout_ms, char *buf, size_t cap)
{
    size_t n = 0;
    long end = now_ms() + timeout_ms;
    buf[0] = '\0';
    for (;;) {
        char *hend = strstr(buf, "\r\n\r\n");
        if (hend) {
            const char *cl = header_value(buf, hend, "Content-Length:");
            long want = cl ? atol(cl) : -1;
            if (want >= 0 && (long)(n - (size_t)(hend + 4 - buf)) >= want)
                break;
            if (want >= 0 && n + 1 >= cap)
                break;
        }
        long left = end - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        char tmp[4096];
        ssize_t k = recv(fd, tmp, sizeof tmp, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (!strstr(buf, "\r\n\r\n"))
                return -1;
            break; /* closed after the response */
        }
        size_t take = (size_t)k < cap - 1 - n ? (size_t)k : cap - 1 - n;
        memcpy(buf + n, tmp, take);
        n += take;
        buf[n] = '\0';
    }
    long status = -1;
    if (sscanf(buf, "HTTP/1.%*d %ld", &status) != 1)
        return -1;
    return status;
}
