/*
 * server.c - libmicrohttpd daemon, request dispatch, /healthz.
 */
#include "web/web.h"

#include "config/config.h"
#include "log/log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct av_web {
    struct MHD_Daemon *daemon;
    int port;
    char role[32];
    time_t started;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result health(struct av_web *w, struct MHD_Connection *conn)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"status\":\"ok\",\"role\":\"%s\",\"version\":\"%s\",\"uptime_s\":%lld}\n",
             w->role, AV_VERSION, (long long)(time(NULL) - w->started));
    return reply(conn, MHD_HTTP_OK, "application/json", body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct av_web *w = cls;
    (void)version;
    (void)upload_data;
    if (*req_cls == NULL) { /* first call: headers only */
        *req_cls = w;
        return MHD_YES;
    }
    if (*upload_data_size) { /* bodies are not accepted on these routes: drain */
        *upload_data_size = 0;
        return MHD_YES;
    }
    int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(url, "/healthz") == 0) {
        if (!is_get)
            return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
                         "{\"error\":\"method not allowed\"}\n");
        return health(w, conn);
    }
    return reply(conn, MHD_HTTP_NOT_FOUND, "application/json", "{\"error\":\"not found\"}\n");
}

int av_web_start(const av_web_opts *o, av_web **out, char *err, size_t errlen)
{
    *out = NULL;
    struct av_web *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "web: out of memory");
        return -1;
    }
    snprintf(w->role, sizeof w->role, "%s", o->role ? o->role : "web");
    w->started = time(NULL);

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    const char *addr = o->listen && *o->listen ? o->listen : "0.0.0.0";
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "web: '%s' is not an IPv4 address", addr);
        free(w);
        return -1;
    }
    unsigned workers = o->workers > 0 ? (unsigned)o->workers : 1;
    w->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY |
                                     MHD_USE_TURBO,
                                 (uint16_t)o->port, NULL, NULL, on_request, w,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_THREAD_POOL_SIZE, workers,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                                 MHD_OPTION_END);
    if (!w->daemon) {
        snprintf(err, errlen, "web: cannot listen on %s:%d (port in use or no permission?)", addr,
                 o->port);
        free(w);
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_BIND_PORT);
    w->port = di ? di->port : o->port;
    *out = w;
    return 0;
}

int av_web_port(const av_web *w)
{
    return w->port;
}

void av_web_stop(av_web *w)
{
    if (!w)
        return;
    if (w->daemon)
        MHD_stop_daemon(w->daemon);
    free(w);
}
