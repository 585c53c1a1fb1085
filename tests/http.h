/*
 * http.h - tiny libcurl wrapper for tests that talk real HTTP to a server.
 */
#ifndef AV_TEST_HTTP_H
#define AV_TEST_HTTP_H

#include <stddef.h>

typedef struct av_http_resp {
    long status;
    char *body;      /* NUL-terminated, malloc'd; free with av_http_free */
    size_t len;
    char *headers;   /* raw response headers, malloc'd */
} av_http_resp;

/* GET url; returns 0 on transport success (any status), -1 otherwise. */
int av_http_get(const char *url, av_http_resp *r);
/* Request with method/body/content type (body may be NULL). */
int av_http_request(const char *method, const char *url, const char *content_type,
                    const void *body, size_t len, av_http_resp *r);
/* POST multipart/form-data with one file part per (name, data, len). */
int av_http_upload(const char *url, const char *field, int n_files, const char *const *names,
                   const void *const *datas, const size_t *lens, av_http_resp *r);
/* Request with extra header lines ("Name: value", NULL-terminated list,
 * may be NULL) and an optional body of the given content type. */
int av_http_send(const char *method, const char *url, const char *const *headers,
                 const char *content_type, const void *body, size_t len, av_http_resp *r);
void av_http_free(av_http_resp *r);

/* Raw HTTP for what libcurl will not send (split writes, bad headers).
 * A TCP connection to 127.0.0.1:port from source address src (NULL: any);
 * the fd, or -1. */
int av_http_raw_connect(const char *src, int port);
/* Write all n bytes; 0 or -1. */
int av_http_raw_send(int fd, const void *p, size_t n);
/* Read one response into buf (NUL-terminated, body cut at cap) until its
 * Content-Length is in or the peer closes; the status, or -1 when nothing
 * complete came within timeout_ms. */
long av_http_raw_response(int fd, int timeout_ms, char *buf, size_t cap);

#endif
