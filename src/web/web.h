/*
 * web.h - Aviary's HTTP front end on libmicrohttpd.
 *
 * av_web_start() binds, starts the worker threads and returns at once;
 * av_web_stop() stops accepting, finishes in-flight requests and frees.
 * Routes: GET /healthz (JSON liveness + version); the application pages are
 * added by the web application module.
 */
#ifndef AV_WEB_H
#define AV_WEB_H

#include <stddef.h>

typedef struct av_web av_web;

typedef struct av_web_opts {
    const char *listen; /* IPv4 address to bind, e.g. "0.0.0.0"; NULL = any */
    int port;           /* 0 = ephemeral (see av_web_port) */
    int workers;        /* worker threads, >= 1 */
    const char *role;   /* reported by /healthz: "web", "model-server" */
} av_web_opts;

/* Start serving. On success *out owns the server (free with av_web_stop). */
int av_web_start(const av_web_opts *o, av_web **out, char *err, size_t errlen);

/* The port actually bound (useful with port 0). */
int av_web_port(const av_web *w);

/* Stop and free; NULL is a no-op. */
void av_web_stop(av_web *w);

#endif
