/*
 * internal.h - shared pieces of the web module (not a public header).
 */
#ifndef AV_WEB_INTERNAL_H
#define AV_WEB_INTERNAL_H

#include "web/web.h"

#include <stdarg.h>
#include <stddef.h>

/* Growable byte buffer with a hard cap; a failed append sets failed and
 * leaves the contents as they were (callers check once at the end). */
typedef struct av_web__buf {
    char *p;
    size_t len, cap, limit;
    int failed;
} av_web__buf;

void av_web__buf_init(av_web__buf *b, size_t limit);
void av_web__buf_free(av_web__buf *b);
void av_web__buf_add(av_web__buf *b, const char *s, size_t n);
void av_web__buf_str(av_web__buf *b, const char *s);
void av_web__buf_fmt(av_web__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s with &, <, >, ", ' escaped for HTML text and attributes. */
void av_web__buf_html(av_web__buf *b, const char *s);
/* Hand the bytes to the caller (malloc'd, NUL-terminated); the buffer is emptied. */
char *av_web__buf_take(av_web__buf *b, size_t *len);

/* Embedded templates/ and static/ files, by base name; NULL if absent. */
typedef struct av_web__asset_ref {
    const char *data;
    size_t len;
} av_web__asset_ref;
int av_web__asset(const char *name, av_web__asset_ref *out);

/*
 * Render template `name` into out: {{key}} is replaced by the value
 * HTML-escaped, {{{key}}} by the value as is (already-safe HTML built by
 * the caller). kv is key, value, ..., NULL. Unknown keys render empty.
 */
int av_web__render(av_web__buf *out, const char *name, const char *const *kv);
/* Render a page: the template inside layout.html with a title. */
int av_web__page(av_web__buf *out, const char *title, const char *tmpl, const char *const *kv,
                 const char *head);

#endif

/* ---- server state and handlers shared by server.c, upload.c, pages.c ---- */

#include "web/jobs.h"
#include "web/auth.h"

#include <jansson.h>

#include <microhttpd.h>
#include <time.h>

#define AV_WEB_MAX_FILES 20       /* files in one upload request */
#define AV_WEB_PAGE_LIMIT (8u << 20) /* largest rendered page */

struct av_web {
    struct MHD_Daemon *daemon;
    int port;
    char role[32];
    time_t started;
    av_web_opts o;       /* copy; string pointers borrowed from the caller */
    av_web__jobs *jobs;  /* NULL without a store */
    av_web__metrics *metrics; /* NULL when out of memory at start: not counted */
    struct av_web__waiters *waiters; /* NULL without a store */
};

/* One uploaded file after its part ended. */
typedef struct av_web__file {
    char id[AV_STORE_ID_LEN + 1]; /* "" when rejected */
    char name[256];
    unsigned status;              /* 0 stored, else the HTTP status of the problem */
    char problem[160];
} av_web__file;

/* Per-request state, freed in the completion callback. */
typedef struct av_web__req {
    av_web *w;
    int route;
    struct MHD_PostProcessor *pp;
    /* upload */
    int fd;
    char tmp_path[1024];
    long long part_bytes, total_bytes;
    int in_file, too_big, n_files;
    av_web__file files[AV_WEB_MAX_FILES];
    int sniffed, part_video;      /* the part's type is known from its first bytes */
    unsigned char head[64];       /* those bytes */
    size_t head_len;
    /* small form fields (feedback) */
    char vote[8], ground_truth[24], predicted[24];
    int field_too_long;
    int waited;      /* 1: resumed after waiting for its analysis (waiters.c) */
    av_web__auth auth; /* who asks (auth.c) */
    /* metrics */
    int metric_route;
    unsigned status; /* of the queued answer; 0 until then */
    struct timespec t0;
} av_web__req;

enum { AV_WEB_ROUTE_OTHER = 0, AV_WEB_ROUTE_UPLOAD, AV_WEB_ROUTE_API_UPLOAD,
       AV_WEB_ROUTE_FEEDBACK, AV_WEB_ROUTE_AUTH };

/* MHD_queue_response, noting the status for the request's metrics. */
enum MHD_Result av_web__queue(struct MHD_Connection *c, unsigned status,
                              struct MHD_Response *r);
/* Queue a response; body is copied. */
enum MHD_Result av_web__send(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body, size_t len, const char *cache);
/* The same with extra headers: name, value, ..., NULL (hdrs may be NULL). */
enum MHD_Result av_web__send_hdrs(struct MHD_Connection *c, unsigned status, const char *type,
                                  const char *body, size_t len, const char *cache,
                                  const char *const *hdrs);
/* Queue j as compact JSON and release it; a NULL j (or a failed dump) is a 500. */
enum MHD_Result av_web__send_json(struct MHD_Connection *c, unsigned status, json_t *j);
/* A full HTML message page (404, 413, 500, ...). */
enum MHD_Result av_web__message(av_web *w, struct MHD_Connection *c, unsigned status,
                                const char *heading, const char *text);
enum MHD_Result av_web__redirect(struct MHD_Connection *c, const char *location);

/* upload.c; the largest part accepted: video 1, image 0, either -1 */
long long av_web__part_limit(const av_web *w, int video);
int av_web__upload_begin(av_web *w, av_web__req *r, struct MHD_Connection *c);
void av_web__upload_end(av_web *w, av_web__req *r);
void av_web__req_free(av_web__req *r);

/* pages.c */
enum MHD_Result av_web__page_index(av_web *w, struct MHD_Connection *c);
enum MHD_Result av_web__page_results(av_web *w, struct MHD_Connection *c, const char *id,
                                     const char *form_error, unsigned status);
enum MHD_Result av_web__page_feedback(av_web *w, struct MHD_Connection *c, const char *id,
                                      av_web__req *r);
enum MHD_Result av_web__page_monitor(av_web *w, struct MHD_Connection *c);
enum MHD_Result av_web__api_image(av_web *w, struct MHD_Connection *c, const char *id);
enum MHD_Result av_web__after_upload(av_web *w, struct MHD_Connection *c, av_web__req *r,
                                     int api);

/* camera_pages.c: /cameras, its frames, /api/v1/cameras, /api/v1/visits[/<ID>/best.jpg];
 * the frame route answers MHD_NO when there is no such camera or frame. */
enum MHD_Result av_web__page_cameras(av_web *w, struct MHD_Connection *c);
enum MHD_Result av_web__camera_frame(av_web *w, struct MHD_Connection *c, const char *rest);
enum MHD_Result av_web__api_cameras(av_web *w, struct MHD_Connection *c);
enum MHD_Result av_web__api_visits(av_web *w, struct MHD_Connection *c, const char *rest);
/* Camera best frames stored, "12.3 MB", for /monitor. */
void av_web__camera_storage(av_web *w, char *out, size_t outlen);

/* images.c: an original (annotated 0) or annotated image, from this node's
 * cache or else the store; MHD_NO when there is no such image. */
enum MHD_Result av_web__image(av_web *w, struct MHD_Connection *c, int annotated,
                              const char *id, const char *ext, const char *mime);

/* metrics.c: counters behind GET /metrics; all calls are thread-safe and
 * accept m == NULL (nothing counted). */
enum { AV_WEB__ROUTE_M_INDEX = 0, AV_WEB__ROUTE_M_UPLOAD, AV_WEB__ROUTE_M_RESULTS,
       AV_WEB__ROUTE_M_FEEDBACK, AV_WEB__ROUTE_M_MONITOR, AV_WEB__ROUTE_M_IMAGE,
       AV_WEB__ROUTE_M_STATIC, AV_WEB__ROUTE_M_API, AV_WEB__ROUTE_M_HEALTH,
       AV_WEB__ROUTE_M_METRICS, AV_WEB__ROUTE_M_OTHER, AV_WEB__N_METRIC_ROUTES };
/* New counters, owned by the caller (av_web__metrics_free); NULL if out of memory. */
av_web__metrics *av_web__metrics_new(void);
void av_web__metrics_free(av_web__metrics *m);
void av_web__metrics_request(av_web__metrics *m, int route, unsigned code, double seconds);
void av_web__metrics_analysis(av_web__metrics *m, double seconds);
void av_web__metrics_text(av_web__metrics *m, av_web__buf *b, int queued, int running);

/* pages.c: the feedback form of an analysed upload (image or video) */
void av_web__feedback_form(av_web__buf *b, const av_store_image *img, const char *form_error);

/* video_pages.c: a video's results page, its API JSON, its stills */
int av_web__is_video_type(const char *content_type);
enum MHD_Result av_web__video_results(av_web *w, struct MHD_Connection *c,
                                      const av_store_image *img, const char *form_error,
                                      unsigned status);
enum MHD_Result av_web__video_api(av_web *w, struct MHD_Connection *c,
                                  const av_store_image *img);
enum MHD_Result av_web__video_still(av_web *w, struct MHD_Connection *c, const char *rest);

/* video_jobs.c: queue the videos a restart left pending (av_web_start). */
void av_web__video_resume(av_web *w);

/* waiters.c: park a connection until an analysis is over (or wait_ms);
 * libmicrohttpd then calls the handler again with r->waited = 1. */
typedef struct av_web__waiters av_web__waiters;
int av_web__waiters_start(av_web *web, av_web__waiters **out, char *err, size_t errlen);
/* 0: the connection is suspended (answer nothing now); -1: wait inline. */
int av_web__wait_async(av_web__waiters *ws, struct MHD_Connection *c, av_web__req *r,
                       const char *id, int wait_ms);
/* Resume every parked connection (before MHD_stop_daemon), then free. */
void av_web__waiters_stop(av_web__waiters *ws);
void av_web__waiters_free(av_web__waiters *ws);
/* server.c: the request being handled on this thread (NULL outside one). */
av_web__req *av_web__current_req(void);

/* auth.c: called with every request's headers (after the route is set):
 * who asks, same-origin check, rights; answers the account routes (sign-in
 * page, settings, API delete) and refusals itself. 0: go on; -1: answered
 * (the body, if any, is discarded). */
int av_web__auth_begin(av_web *w, struct MHD_Connection *c, const char *url, const char *method,
                       av_web__req *r);
/* At the end of a POST body: 0 when its CSRF token is fine, else -1 with
 * a 403 queued. */
int av_web__auth_body_ok(av_web *w, struct MHD_Connection *c, av_web__req *r);
/* The end of an AV_WEB_ROUTE_AUTH form: sign in, sign out, delete. */
enum MHD_Result av_web__auth_end(av_web *w, struct MHD_Connection *c, const char *url,
                                 av_web__req *r);
/* Forget the password field (on completion). */
void av_web__auth_clear(av_web__req *r);
/* HTML for the current request: the hidden CSRF input of a form (empty
 * for guests), the account part of the navigation, the owner's delete
 * button for an upload. */
void av_web__csrf_input(av_web__buf *b);
void av_web__account_nav(av_web__buf *b);
void av_web__owner_tools(av_web__buf *b, const char *id);
/* 1 when the current request may do what guests need `right` for
 * (AV_WEB_GUEST_*): the owner always may. w NULL: the request's server. */
int av_web__may(const av_web *w, int right);
/* First start (no owner yet): 1 with the note saying how to add one in out; else 0, "". */
int av_web__owner_hint(av_web *w, char *out, size_t cap);

/* chart.c: server-rendered SVG of the monitoring series */
void av_web__chart_svg(av_web__buf *b, const av_store_monitor_point *p, int n,
                       const char *const *names, int n_classes);
