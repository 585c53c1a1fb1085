/*
 * guard.h - limits every libmicrohttpd server here applies to its clients
 * (the web application and the model server): connections per client
 * address and in total, absolute deadlines for a request's headers and
 * body on top of libmicrohttpd's idle timeout, bounded URIs and query
 * strings, and the header checks RFC 9112 asks of a server (one
 * Content-Length, Host on HTTP/1.1).
 *
 * Use: av_guard_new, pass av_guard_mhd_options to MHD_start_daemon
 * (MHD_OPTION_ARRAY), call av_guard_check on the first call of every
 * request, av_guard_responded when a response is queued and
 * av_guard_completed from MHD_OPTION_NOTIFY_COMPLETED; av_guard_free after
 * MHD_stop_daemon.
 */
#ifndef AV_GUARD_H
#define AV_GUARD_H

#include <stddef.h>

struct MHD_Connection;
struct MHD_OptionItem;

/* Zero fields take the defaults. */
typedef struct av_guard_opts {
    int per_ip;           /* open connections per client address (default 64; < 0: no
                             limit, for a node behind a proxy that limits instead) */
    int total;            /* open connections in all (default 10000, within RLIMIT_NOFILE) */
    int idle_s;           /* nothing received or sent for this long: closed (default 60) */
    int header_s;         /* request line and headers within this (default 30) */
    int request_s;        /* the whole body within this after the headers (default 900) */
    int max_query_args;   /* query parameters (default 64) */
    int max_uri;          /* bytes of the request target (default 8192) */
} av_guard_opts;

typedef struct av_guard av_guard;

/* The limits in effect (defaults filled in), for logs and docs. */
void av_guard_effective(const av_guard_opts *in, av_guard_opts *out);

/* Raise this process's open-file limit to its hard limit (a server holds
 * one descriptor per connection); the new soft limit, or -1. */
long av_guard_raise_nofile(void);

/* A guard (started deadline thread); NULL with err set. Owned by the
 * caller: av_guard_free once the daemon is stopped. */
av_guard *av_guard_new(const av_guard_opts *o, char *err, size_t errlen);
void av_guard_free(av_guard *g);

/* Fill items (cap >= 8) with the libmicrohttpd options that apply the
 * guard, ending with MHD_OPTION_END; pass them as MHD_OPTION_ARRAY. The
 * server must not set these options itself (connection and per-address
 * limits, timeout, connection notification, URI log, unescape). */
void av_guard_mhd_options(av_guard *g, struct MHD_OptionItem *items, size_t cap);

/*
 * On the first call for a request (headers in): 0 when it may go on (the
 * body deadline starts), else the status to answer (400, 414) with *why
 * saying what was wrong, in words for the client; the server answers and
 * ignores the body.
 */
unsigned av_guard_check(av_guard *g, struct MHD_Connection *c, const char *version,
                        const char **why);
/* A response was queued: from now on only the idle timeout applies. */
void av_guard_responded(av_guard *g, struct MHD_Connection *c);
/* The request is over: the next one on this connection has
 * idle_s + header_s for its request line and headers. */
void av_guard_completed(av_guard *g, struct MHD_Connection *c);

#endif
