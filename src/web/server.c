/*
 * server.c - the libmicrohttpd daemon and the request life cycle: each
 * request's state (av_web__req, handed to every handler), its route from
 * the headers, its body to the parser that wants it, then the handler.
 * It answers nothing itself: answers are respond.c's, the probes
 * health.c's, the pages their files'.
 *
 * Routes (the original's paths kept):
 *   GET  /                      upload form
 *   POST /upload                multipart "file" (one or several) -> 303 /uploads/<ID>
 *   GET  /uploads/<ID>          results (analysis runs once if needed)
 *   POST /uploads/<ID>          feedback vote
 *   GET  /monitor               monitoring page
 *   GET  /uploads, /batch, /species[/<name>], /activity, /review   the birder's pages
 *   POST /uploads/<ID>/review   per-bird review (form); POST /api/v1/images/<ID>/detections[/<N>]
 *   GET  /export/detections.csv, /export/ebird.csv, /export/coco.json   exports (export.c)
 *   GET  /originals/<ID>.<ext>, /inferenced/<ID>.<ext>   images, long-cached
 *   GET  /videos/<ID>/poster.jpg, /videos/<ID>/visit-<N>.jpg   video stills (video_pages.c)
 *   GET  /static/<name>         embedded stylesheet, script, icon
 *   GET  /api/v1/images/<ID>    results as JSON;  POST /api/v1/images  upload, JSON
 *   GET  /healthz               liveness JSON (health.c)
 *   GET  /readyz                200 when the database answers, else 503
 *   GET  /cameras, /cameras/<NAME>/frame.jpg, /api/v1/cameras, /api/v1/visits
 *                               live cameras and their visits (camera_pages.c)
 *   GET  /metrics               Prometheus text (health.c, metrics.c; bearer token if configured)
 *   GET/POST /login, POST /logout, GET /settings, POST /uploads/<ID>/delete,
 *   DELETE /api/v1/images/<ID>  accounts (auth.c, which also checks every
 *                               request's rights, origin and CSRF token)
 */
#include "web/internal.h"

#include "config/config.h"
#include "log/log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The fixed metrics label for a request. */
static av_web__metric_route metric_route(const char *url, int post)
{
    if (!strcmp(url, "/"))
        return AV_WEB__ROUTE_M_INDEX;
    if (!strcmp(url, "/upload"))
        return AV_WEB__ROUTE_M_UPLOAD;
    if (!strncmp(url, "/uploads/", 9))
        return post ? AV_WEB__ROUTE_M_FEEDBACK : AV_WEB__ROUTE_M_RESULTS;
    if (!strcmp(url, "/monitor"))
        return AV_WEB__ROUTE_M_MONITOR;
    if (!strncmp(url, "/originals/", 11) || !strncmp(url, "/inferenced/", 12))
        return AV_WEB__ROUTE_M_IMAGE;
    if (!strncmp(url, "/static/", 8))
        return AV_WEB__ROUTE_M_STATIC;
    if (!strncmp(url, "/api/", 5))
        return AV_WEB__ROUTE_M_API;
    if (!strcmp(url, "/healthz") || !strcmp(url, "/readyz"))
        return AV_WEB__ROUTE_M_HEALTH;
    if (!strcmp(url, "/metrics"))
        return AV_WEB__ROUTE_M_METRICS;
    return AV_WEB__ROUTE_M_OTHER;
}

static const char *type_of(const char *ext)
{
    if (!strcmp(ext, "css")) return "text/css; charset=utf-8";
    if (!strcmp(ext, "js")) return "text/javascript; charset=utf-8";
    if (!strcmp(ext, "svg")) return "image/svg+xml";
    if (!strcmp(ext, "jpg")) return "image/jpeg";
    if (!strcmp(ext, "png")) return "image/png";
    if (!strcmp(ext, "webp")) return "image/webp";
    if (!strcmp(ext, "bmp")) return "image/bmp";
    if (!strcmp(ext, "mp4")) return "video/mp4";
    if (!strcmp(ext, "mov")) return "video/quicktime";
    if (!strcmp(ext, "webm")) return "video/webm";
    if (!strcmp(ext, "mkv")) return "video/x-matroska";
    if (!strcmp(ext, "avi")) return "video/x-msvideo";
    return NULL;
}

/* An embedded file by base name: MHD_NO when there is none. */
static enum MHD_Result static_asset(av_web__req *r, const char *name)
{
    const char *dot = strrchr(name, '.');
    const char *type = dot ? type_of(dot + 1) : NULL;
    if (!type || strchr(name, '/'))
        return MHD_NO;
    return av_web__send_asset(r, name, type);
}

/* "<32 hex>.<ext>" -> id, ext; -1 when the name is anything else. */
static int split_image_name(const char *name, char *id, char *ext, size_t extcap)
{
    const char *dot = strchr(name, '.');
    if (!dot || (size_t)(dot - name) != AV_STORE_ID_LEN || strlen(dot + 1) >= extcap)
        return -1;
    memcpy(id, name, AV_STORE_ID_LEN);
    id[AV_STORE_ID_LEN] = '\0';
    snprintf(ext, extcap, "%s", dot + 1);
    return av_store_valid_id(id) && type_of(ext) && strcmp(ext, "css") && strcmp(ext, "js") &&
                   strcmp(ext, "svg")
               ? 0
               : -1;
}

/* Uploaded and annotated images never change under one ID: cache for a year. */
static enum MHD_Result image_file(av_web__req *r, int annotated, const char *name)
{
    char id[AV_STORE_ID_LEN + 1], ext[8];
    if (split_image_name(name, id, ext, sizeof ext))
        return MHD_NO;
    return av_web__image(r, annotated, id, ext, type_of(ext));
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    av_web *w = cls;
    av_web__req *r = *req_cls;
    if (r) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        av_web__metrics_request(w->metrics, r->metric_route, r->status,
                                (double)(t1.tv_sec - r->t0.tv_sec) +
                                    (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e9);
        av_web__auth_clear(r);
        av_web__req_free(r);
    }
    *req_cls = NULL;
    av_guard_completed(w->guard, c);
}

static int is_route(const char *url, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(url, prefix, n) != 0)
        return 0;
    *rest = url + n;
    return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    av_web *w = cls;
    int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    int is_post = !strcmp(method, "POST");
    const char *rest = "";
    int app = w->o.store != NULL;

    if (*req_cls == NULL) { /* headers only: pick the route, set up body parsing */
        av_web__req *r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->fd = -1;
        r->w = w;
        r->metric_route = metric_route(url, is_post);
        clock_gettime(CLOCK_MONOTONIC, &r->t0);
        r->c = conn;
        *req_cls = r;
        const char *why = NULL;
        unsigned bad = av_guard_check(w->guard, conn, version, &why);
        if (bad) { /* answered now; the body is discarded */
            r->too_big = AV_WEB_SIZE_ANSWERED;
            return av_web__message(r, bad,
                                   bad == MHD_HTTP_URI_TOO_LONG ? "That address is too long"
                                                                : "Bad request",
                                   why);
        }
        if (app && is_post && !strcmp(url, "/upload"))
            r->route = AV_WEB_ROUTE_UPLOAD;
        else if (app && is_post && !strcmp(url, "/api/v1/images"))
            r->route = AV_WEB_ROUTE_API_UPLOAD;
        else if (app && is_post && is_route(url, "/uploads/", &rest))
            r->route = AV_WEB_ROUTE_FEEDBACK;
        else if (app && is_post && (is_route(url, "/api/v1/images/", &rest) ||
                                    is_route(url, "/api/v1/visits/", &rest)))
            r->route = AV_WEB_ROUTE_REVIEW_API;
        if (av_web__auth_begin(r, url, method) ||
            (r->route && r->route != AV_WEB_ROUTE_AUTH && r->route != AV_WEB_ROUTE_REVIEW_API &&
             av_web__upload_begin(r))) {
            r->route = AV_WEB_ROUTE_OTHER; /* a response was queued (413, 400) */
            r->too_big = AV_WEB_SIZE_ANSWERED;
        }
        return MHD_YES;
    }
    av_web__req *r = *req_cls;
    if (r->too_big == AV_WEB_SIZE_ANSWERED) { /* answered already; discard the body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size && r->route == AV_WEB_ROUTE_REVIEW_API) {
        av_web__review_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        av_web__upload_feed(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (r->total_bytes > av_web__body_limit(w) + (1 << 20))
            return MHD_NO; /* a chunked body far over any limit: cut the connection */
        return MHD_YES;
    }

    switch (r->route) {
    case AV_WEB_ROUTE_UPLOAD:
    case AV_WEB_ROUTE_API_UPLOAD:
        if (av_web__auth_body_ok(r))
            return MHD_YES;
        av_web__upload_end(w, r);
        return av_web__after_upload(r, r->route == AV_WEB_ROUTE_API_UPLOAD);
    case AV_WEB_ROUTE_AUTH:
        return av_web__auth_end(r, url);
    case AV_WEB_ROUTE_FEEDBACK: {
        if (av_web__auth_body_ok(r))
            return MHD_YES;
        is_route(url, "/uploads/", &rest);
        size_t n = strlen(rest);
        if (n == AV_STORE_ID_LEN + 7 && !strcmp(rest + AV_STORE_ID_LEN, "/review")) {
            char id[AV_STORE_ID_LEN + 1];
            memcpy(id, rest, AV_STORE_ID_LEN);
            id[AV_STORE_ID_LEN] = '\0';
            return av_web__review_post(r, id);
        }
        return av_web__page_feedback(r, rest);
    }
    case AV_WEB_ROUTE_REVIEW_API:
        if (av_web__auth_body_ok(r))
            return MHD_YES;
        if (is_route(url, "/api/v1/visits/", &rest))
            return av_web__visit_review_api(r, rest);
        is_route(url, "/api/v1/images/", &rest);
        return av_web__review_api(r, rest);
    default:
        break;
    }

    if (!strcmp(url, "/healthz") || !strcmp(url, "/readyz") || !strcmp(url, "/metrics")) {
        if (!is_get)
            return av_web__send(r, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
                                "{\"error\":\"method not allowed\"}\n", 31, NULL);
        if (url[1] == 'h')
            return av_web__health(r);
        if (url[1] == 'r')
            return av_web__ready(r);
        return av_web__metrics_page(r);
    }
    if (!app)
        return av_web__send(r, MHD_HTTP_NOT_FOUND, "application/json",
                            "{\"error\":\"not found\"}\n", 22, NULL);
    if (!is_get)
        return av_web__message(r, MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed",
                               "This address does not accept that kind of request.");
    if (!strcmp(url, "/"))
        return av_web__page_index(r);
    if (!strcmp(url, "/monitor"))
        return av_web__page_monitor(r);
    if (!strcmp(url, "/uploads") || !strcmp(url, "/uploads/"))
        return av_web__page_uploads(r);
    if (!strcmp(url, "/batch"))
        return av_web__page_batch(r);
    if (!strcmp(url, "/species") || !strcmp(url, "/species/"))
        return av_web__page_species(r, "");
    if (is_route(url, "/species/", &rest))
        return av_web__page_species(r, rest);
    if (!strcmp(url, "/activity"))
        return av_web__page_activity(r);
    if (!strcmp(url, "/review"))
        return av_web__page_review_queue(r);
    if (is_route(url, "/export/", &rest))
        return av_web__export(r, rest);
    if (is_route(url, "/uploads/", &rest))
        return av_web__page_results(r, rest, NULL, MHD_HTTP_OK);
    if (is_route(url, "/api/v1/images/", &rest))
        return av_web__api_image(r, rest);
    if (!strcmp(url, "/cameras"))
        return av_web__page_cameras(r);
    if (!strcmp(url, "/api/v1/cameras"))
        return av_web__api_cameras(r);
    if (!strcmp(url, "/api/v1/visits") || is_route(url, "/api/v1/visits/", &rest))
        return av_web__api_visits(r, url[14] ? rest : "");
    enum MHD_Result ret = MHD_NO;
    if (is_route(url, "/static/", &rest))
        ret = static_asset(r, rest);
    else if (is_route(url, "/originals/", &rest))
        ret = image_file(r, 0, rest);
    else if (is_route(url, "/inferenced/", &rest))
        ret = image_file(r, 1, rest);
    else if (is_route(url, "/videos/", &rest))
        ret = av_web__video_still(r, rest);
    else if (is_route(url, "/cameras/", &rest))
        ret = av_web__camera_frame(r, rest);
    if (ret == MHD_YES)
        return ret;
    return av_web__not_found(r);
}

int av_web_start(const av_web_opts *o, av_web **out, char *err, size_t errlen)
{
    *out = NULL;
    struct av_web *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "web: out of memory");
        return -1;
    }
    w->o = *o;
    if (w->o.max_upload_bytes <= 0)
        w->o.max_upload_bytes = 30LL * 1000 * 1000;
    if (w->o.analysis_wait_ms <= 0)
        w->o.analysis_wait_ms = 5000; /* holds an HTTP thread: then "pending", refreshing */
    if (w->o.max_video_bytes <= 0)
        w->o.max_video_bytes = AV_VIDEO_DEFAULT_MAX_BYTES;
    if (!(w->o.max_video_seconds > 0))
        w->o.max_video_seconds = AV_VIDEO_DEFAULT_MAX_SECONDS;
    if (!w->o.data_dir)
        w->o.data_dir = "data";
    snprintf(w->role, sizeof w->role, "%s", o->role ? o->role : "web");
    if (o->store && o->species_labels && *o->species_labels &&
        av_web__labels_load(o->species_labels, &w->labels, err, errlen))
        av_log(AV_LOG_WARN, "species_labels_unavailable", "error", err, "note",
               "a review may name any well-formed species", NULL);
    w->started = time(NULL);
    w->metrics = av_web__metrics_new();
    if (o->store && av_web__retrain_new(w)) /* without it "Retrain now" says so */
        av_log(AV_LOG_WARN, "retrain_unavailable", "error", "out of memory", NULL);
    if (o->store && av_web__jobs_start(&w->o, &w->jobs, err, errlen)) {
        av_web__metrics_free(w->metrics);
        av_web__labels_free(w->labels);
        av_web__retrain_free(w->retrain);
        free(w);
        return -1;
    }
    if (w->jobs)
        av_web__jobs_set_metrics(w->jobs, w->metrics);
    if (w->jobs && av_web__waiters_start(w, &w->waiters, err, errlen)) {
        av_web__waiters_stop(w->waiters);
        av_web__waiters_free(w->waiters);
        av_web__jobs_stop(w->jobs);
        av_web__metrics_free(w->metrics);
        av_web__labels_free(w->labels);
        av_web__retrain_free(w->retrain);
        free(w);
        return -1;
    }

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    const char *addr = o->listen && *o->listen ? o->listen : "0.0.0.0";
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "web: '%s' is not an IPv4 address", addr);
        av_web__waiters_stop(w->waiters);
        av_web__waiters_free(w->waiters);
        av_web__jobs_stop(w->jobs);
        av_web__metrics_free(w->metrics);
        av_web__labels_free(w->labels);
        av_web__retrain_free(w->retrain);
        free(w);
        return -1;
    }
    unsigned workers = o->workers > 0 ? (unsigned)o->workers : 1;
    struct MHD_OptionItem guard[8];
    w->guard = av_guard_new(&o->guard, err, errlen);
    if (w->guard)
        av_guard_mhd_options(w->guard, guard, 8);
    w->daemon = !w->guard ? NULL : MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_TURBO |
            MHD_ALLOW_SUSPEND_RESUME,
        (uint16_t)o->port, NULL, NULL, on_request, w, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, workers, MHD_OPTION_ARRAY, guard,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, w, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(256 * 1024), MHD_OPTION_END);
    if (!w->daemon) {
        if (w->guard)
            snprintf(err, errlen, "web: cannot listen on %s:%d (port in use or no permission?)",
                     addr, o->port);
        av_guard_free(w->guard);
        av_web__waiters_stop(w->waiters);
        av_web__waiters_free(w->waiters);
        av_web__jobs_stop(w->jobs);
        av_web__metrics_free(w->metrics);
        av_web__labels_free(w->labels);
        av_web__retrain_free(w->retrain);
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
    av_web__waiters_stop(w->waiters); /* parked connections answer first */
    if (w->daemon)
        MHD_stop_daemon(w->daemon);
    av_guard_free(w->guard);
    av_web__waiters_free(w->waiters);
    av_web__jobs_stop(w->jobs);
    av_web__metrics_free(w->metrics);
    av_web__labels_free(w->labels);
    av_web__retrain_free(w->retrain);
    free(w);
}
