/*
 * guard.c - connection limits and request deadlines for libmicrohttpd
 * servers (see guard.h).
 *
 * libmicrohttpd 0.9.75 has an idle timeout only, and it restarts with
 * every byte: one byte per 25 s held a connection for ever. Each
 * connection therefore gets a deadline here (headers, then body), and a
 * thread shuts down the socket of any connection past it; libmicrohttpd
 * then sees the end of the stream and closes the connection itself. The
 * socket is only shut down under the lock the close notification also
 * takes, so the descriptor is still this connection's.
 *
 * Without MHD_OPTION_CONNECTION_LIMIT libmicrohttpd takes at most
 * FD_SETSIZE - 4 connections even with epoll: about 1,020 idle ones locked
 * every other client out. The total and per-address limits are set here.
 */
#include "guard/guard.h"
#include "base/base.h"

#include "log/log.h"

#include <microhttpd.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

typedef struct gconn {
    struct gconn *prev, *next;
    int fd;
    int64_t deadline; /* ms, CLOCK_MONOTONIC; 0: none */
    const char *phase; /* for the log: "headers" or "body" */
    unsigned bad;      /* a status the request line earned (414, 400), answered at check */
    const char *why;
} gconn;

struct av_guard {
    av_guard_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int stop;
    gconn head; /* circular list of open connections */
};

void av_guard_effective(const av_guard_opts *in, av_guard_opts *o)
{
    *o = in ? *in : (av_guard_opts){0};
    if (o->per_ip == 0)
        o->per_ip = 64;
    else if (o->per_ip < 0)
        o->per_ip = -1; /* no per-address limit (behind a proxy that has one) */
    if (o->total <= 0)
        o->total = 10000;
    if (o->idle_s <= 0)
        o->idle_s = 60;
    if (o->header_s <= 0)
        o->header_s = 30;
    if (o->request_s <= 0)
        o->request_s = 900;
    if (o->max_query_args <= 0)
        o->max_query_args = 64;
    if (o->max_uri <= 0)
        o->max_uri = 8192;
    /* Each connection is a descriptor; leave room for files and the database. */
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY) {
        long room = (long)rl.rlim_cur - 128;
        if (room < 16)
            room = 16;
        if (o->total > room)
            o->total = (int)room;
    }
    if (o->per_ip > o->total)
        o->per_ip = o->total;
}

long av_guard_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl))
            return -1;
    }
    return rl.rlim_cur == RLIM_INFINITY ? (long)INT32_MAX : (long)rl.rlim_cur;
}

static void *reaper(void *arg)
{
    av_guard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        int64_t now = av_base_mono_ms();
        for (gconn *c = g->head.next; c != &g->head; c = c->next) {
            if (!c->deadline || now < c->deadline)
                continue;
            c->deadline = 0;
            av_log(AV_LOG_INFO, "connection_deadline", "phase", c->phase, NULL);
            shutdown(c->fd, SHUT_RDWR); /* the daemon reads EOF and closes it */
        }
        struct timespec t;
        av_base_deadline(&t, 250);
        pthread_cond_timedwait(&g->cv, &g->mu, &t);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

av_guard *av_guard_new(const av_guard_opts *o, char *err, size_t errlen)
{
    av_guard *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "guard: out of memory");
        return NULL;
    }
    av_guard_effective(o, &g->o);
    g->head.next = g->head.prev = &g->head;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    int rc = pthread_create(&g->thread, NULL, reaper, g);
    if (rc) {
        snprintf(err, errlen, "guard: cannot start its thread: %s", strerror(rc));
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->cv);
        free(g);
        return NULL;
    }
    return g;
}

void av_guard_free(av_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->stop = 1;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    /* The daemon is stopped: every connection was notified closed. */
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}

static void set_deadline(av_guard *g, gconn *c, int seconds, const char *phase)
{
    pthread_mutex_lock(&g->mu);
    c->deadline = seconds > 0 ? av_base_mono_ms() + (int64_t)seconds * 1000 : 0;
    c->phase = phase;
    pthread_mutex_unlock(&g->mu);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    av_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        gconn *c = calloc(1, sizeof *c);
        if (!c || !ci) {
            free(c); /* untracked: the idle timeout still applies */
            *socket_context = NULL;
            return;
        }
        c->fd = ci->connect_fd;
        c->phase = "headers";
        pthread_mutex_lock(&g->mu);
        c->deadline = av_base_mono_ms() + (int64_t)g->o.header_s * 1000;
        c->next = g->head.next;
        c->prev = &g->head;
        g->head.next->prev = c;
        g->head.next = c;
        pthread_mutex_unlock(&g->mu);
        *socket_context = c;
        return;
    }
    gconn *c = *socket_context;
    if (!c)
        return;
    pthread_mutex_lock(&g->mu); /* before the daemon closes the descriptor */
    c->prev->next = c->next;
    c->next->prev = c->prev;
    pthread_mutex_unlock(&g->mu);
    free(c);
    *socket_context = NULL;
}

static gconn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/*
 * Called with the raw request target before libmicrohttpd parses its query
 * into the connection's memory pool. 0.9.75 gives up without an answer
 * when the pool runs out (4,000 parameters held a connection for 60 s), so
 * a query over the limits is cut off here, in the daemon's own line buffer
 * (the parameter is const only in the callback's type), and the request
 * is answered at av_guard_check.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    av_guard *g = cls;
    gconn *c = conn_of(conn);
    if (!c)
        return NULL;
    c->bad = 0;
    size_t len = strlen(uri);
    char *q = strchr(uri, '?');
    int args = 0;
    if (q)
        for (const char *p = q; *p; p++)
            args += *p == '&' || *p == ';' || p == q;
    if (len > (size_t)g->o.max_uri) {
        c->bad = MHD_HTTP_URI_TOO_LONG;
        c->why = "The address is too long.";
    } else if (args > g->o.max_query_args) {
        c->bad = MHD_HTTP_URI_TOO_LONG;
        c->why = "The address has too many query parameters.";
    }
    if (c->bad && q)
        q[1] = '\0'; /* libmicrohttpd then parses an empty query */
    return NULL;
}

/* Percent-decoding, except %00: a NUL would cut the path short for C
 * string handling ("/originals/ID.jpg%00.html" served ID.jpg). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    char *out = s;
    const char *in = s;
    while (*in) {
        int hi, lo;
        if (in[0] == '%' && in[1] && in[2] &&
            (hi = (in[1] >= '0' && in[1] <= '9')   ? in[1] - '0'
                  : (in[1] | 32) >= 'a' && (in[1] | 32) <= 'f' ? (in[1] | 32) - 'a' + 10
                                                               : -1) >= 0 &&
            (lo = (in[2] >= '0' && in[2] <= '9')   ? in[2] - '0'
                  : (in[2] | 32) >= 'a' && (in[2] | 32) <= 'f' ? (in[2] | 32) - 'a' + 10
                                                               : -1) >= 0 &&
            (hi | lo)) {
            *out++ = (char)(hi * 16 + lo);
            in += 3;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
    return (size_t)(out - s);
}

void av_guard_mhd_options(av_guard *g, struct MHD_OptionItem *it, size_t cap)
{
    const struct MHD_OptionItem opts[] = {
        {MHD_OPTION_CONNECTION_LIMIT, g->o.total, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, g->o.per_ip > 0 ? g->o.per_ip : 0, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, g->o.idle_s, NULL},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, g},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, g},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    size_t n = sizeof opts / sizeof opts[0];
    if (cap < n) {
        it[0] = opts[n - 1];
        return;
    }
    memcpy(it, opts, sizeof opts);
}

struct header_count {
    int n_len, differ;
    const char *first;
};

static enum MHD_Result count_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    struct header_count *h = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
        return MHD_YES;
    if (h->n_len++ && strcmp(h->first, value ? value : ""))
        h->differ = 1;
    if (!h->first)
        h->first = value ? value : "";
    return MHD_YES;
}

unsigned av_guard_check(av_guard *g, struct MHD_Connection *conn, const char *version,
                        const char **why)
{
    gconn *c = conn_of(conn);
    if (c && c->bad) {
        *why = c->why;
        return c->bad;
    }
    struct header_count h = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_length, &h);
    if (h.differ) { /* RFC 9112 6.3: a message framing error */
        *why = "The request has two different Content-Length headers.";
        return MHD_HTTP_BAD_REQUEST;
    }
    if (version && !strcmp(version, MHD_HTTP_VERSION_1_1) &&
        !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST)) {
        *why = "An HTTP/1.1 request needs a Host header."; /* RFC 9112 3.2 */
        return MHD_HTTP_BAD_REQUEST;
    }
    if (c)
        set_deadline(g, c, g->o.request_s, "body");
    return 0;
}

void av_guard_responded(av_guard *g, struct MHD_Connection *conn)
{
    gconn *c = conn_of(conn);
    if (c)
        set_deadline(g, c, 0, "response");
}

void av_guard_completed(av_guard *g, struct MHD_Connection *conn)
{
    gconn *c = conn_of(conn);
    if (c)
        set_deadline(g, c, g->o.idle_s + g->o.header_s, "headers");
}
