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
/* Append s with &, <, >, ", ' escaped for HTML text and attributes, and
 * bytes that are not UTF-8 replaced by U+FFFD. */
void av_web__buf_html(av_web__buf *b, const char *s);
/* Append s percent-encoded for a URL path segment or query value. */
void av_web__buf_url(av_web__buf *b, const char *s);
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


/* ---- server state, the request, and the handlers every file shares ---- */

#include "web/jobs.h"
#include "web/auth.h"
#include "web/multipart.h"
#include "web/labels.h"

#include <jansson.h>

#include <microhttpd.h>
#include <string.h>
#include <time.h>

#define AV_WEB_MAX_FILES 20       /* files in one upload request */
#define AV_WEB_PAGE_LIMIT (8u << 20) /* largest rendered page */
#define AV_WEB_FORM_LIMIT (64 * 1024) /* largest feedback form body */

struct av_web {
    struct MHD_Daemon *daemon;
    int port;
    char role[32];
    time_t started;
    av_web_opts o;       /* copy; string pointers borrowed from the caller */
    av_web__jobs *jobs;  /* NULL without a store */
    av_web__metrics *metrics; /* NULL when out of memory at start: not counted */
    struct av_web__waiters *waiters; /* NULL without a store */
    av_guard *guard;     /* freed after the daemon stops */
    av_web__labels *labels; /* species a review may choose; NULL: any well-formed name */
    struct av_web__retrain *retrain; /* retrain.c; NULL without a store */
};

/* One uploaded file after its part ended. */
typedef struct av_web__file {
    char id[AV_STORE_ID_LEN + 1]; /* "" when rejected */
    char name[256];
    unsigned status;              /* 0 stored, else the HTTP status of the problem */
    char problem[160];
} av_web__file;

/* A per-bird review as posted: form fields (review.c) or a JSON body (API). */
#define AV_WEB_REVIEW_BODY_MAX 4096
typedef struct av_web__review_form {
    char box[12], action[16], species[272], guess[272], x1[24], y1[24], x2[24], y2[24];
    char body[AV_WEB_REVIEW_BODY_MAX + 1];
    size_t body_len;
    int too_long;
    char error[320]; /* why the review was refused, shown above the birds */
} av_web__review_form;

/* The fixed label of a request in the metrics (metrics.c). */
typedef enum av_web__metric_route {
    AV_WEB__ROUTE_M_INDEX = 0, AV_WEB__ROUTE_M_UPLOAD, AV_WEB__ROUTE_M_RESULTS,
    AV_WEB__ROUTE_M_FEEDBACK, AV_WEB__ROUTE_M_MONITOR, AV_WEB__ROUTE_M_IMAGE,
    AV_WEB__ROUTE_M_STATIC, AV_WEB__ROUTE_M_API, AV_WEB__ROUTE_M_HEALTH,
    AV_WEB__ROUTE_M_METRICS, AV_WEB__ROUTE_M_OTHER, AV_WEB__N_METRIC_ROUTES
} av_web__metric_route;

/* What a request's body is for (set from its headers). */
typedef enum av_web__route {
    AV_WEB_ROUTE_OTHER = 0, /* no body kept (or answered already) */
    AV_WEB_ROUTE_UPLOAD,
    AV_WEB_ROUTE_API_UPLOAD,
    AV_WEB_ROUTE_FEEDBACK,
    AV_WEB_ROUTE_AUTH,
    AV_WEB_ROUTE_REVIEW_API,
} av_web__route;

/* An upload part's size against its limit. */
typedef enum av_web__size_state {
    AV_WEB_SIZE_OK = 0,
    AV_WEB_SIZE_OVER = 1,     /* the current part passed its limit */
    AV_WEB_SIZE_ANSWERED = -1 /* refused from the headers: the body is discarded */
} av_web__size_state;

/* Per-request state, freed in the completion callback. */
typedef struct av_web__req {
    av_web *w;
    struct MHD_Connection *c;     /* the connection it came on */
    av_web__route route;
    struct MHD_PostProcessor *pp; /* feedback form */
    av_web__mp *mp;               /* upload body */
    int failed;                   /* the body could not be parsed */
    /* upload */
    int fd;
    char tmp_path[1024];
    long long part_bytes, total_bytes;
    int in_file, n_files;
    av_web__size_state too_big;
    av_web__file files[AV_WEB_MAX_FILES];
    int skip_part;                /* the current part is not a kept file */
    int csrf_part;                /* the current part is the form's csrf field */
    uint64_t csrf_off;            /* its bytes so far */
    int extra_files;              /* file parts past AV_WEB_MAX_FILES, not stored */
    char first_extra[256];        /* the name of the first of them */
    int sniffed, part_video;      /* the part's type is known from its first bytes */
    unsigned char head[64];       /* those bytes */
    size_t head_len;
    /* small form fields (feedback) */
    char vote[8], ground_truth[24], predicted[24];
    int field_too_long;
    av_web__review_form rv; /* POST /uploads/<ID>/review, POST /api/v1/images/<ID>/detections */
    int waited;      /* 1: resumed after waiting for its analysis (waiters.c) */
    av_web__auth auth; /* who asks (auth.c) */
    /* metrics */
    av_web__metric_route metric_route;
    unsigned status; /* of the queued answer; 0 until then */
    struct timespec t0;
} av_web__req;


/* ---- respond.c: every answer goes through these (r: the request being
 * answered; they note the status for its metrics). MHD_NO: none queued. ---- */

/* MHD_queue_response, noting the status for the request's metrics. */
enum MHD_Result av_web__queue(av_web__req *r, unsigned status, struct MHD_Response *resp);
/* The embedded file `name` (templates/, static/) as type, cached an hour;
 * MHD_NO when there is no such file. */
enum MHD_Result av_web__send_asset(av_web__req *r, const char *name, const char *type);
/* Queue a response; body is copied. */
enum MHD_Result av_web__send(av_web__req *r, unsigned status, const char *type, const char *body,
                             size_t len, const char *cache);
/* The same with extra headers: name, value, ..., NULL (hdrs may be NULL). */
enum MHD_Result av_web__send_hdrs(av_web__req *r, unsigned status, const char *type,
                                  const char *body, size_t len, const char *cache,
                                  const char *const *hdrs);
/* Render a page: the template inside layout.html with a title and the
 * request's account navigation. 0, or -1 when out grew past its limit. */
int av_web__page(av_web__req *r, av_web__buf *out, const char *title, const char *tmpl,
                 const char *const *kv, const char *head);
/* Queue the rendered page b as HTML (a failed b is a 500) and free b. */
enum MHD_Result av_web__send_page(av_web__req *r, unsigned status, av_web__buf *b,
                                  const char *const *hdrs);
/* body (freed here) inside plain.html with a title. */
enum MHD_Result av_web__html(av_web__req *r, unsigned status, const char *title, av_web__buf *body);
/* A full HTML message page (404, 413, 500, ...). */
enum MHD_Result av_web__message(av_web__req *r, unsigned status, const char *heading,
                                const char *text);
/* A 500 page; what failed (where, err) goes to the log only. */
enum MHD_Result av_web__internal_error(av_web__req *r, const char *where, const char *err);
/* The 404 page for an address that names nothing. */
enum MHD_Result av_web__not_found(av_web__req *r);
/* 303 See Other to location. */
enum MHD_Result av_web__redirect(av_web__req *r, const char *location);
/* Queue j as compact JSON and release it; a NULL j (or a failed dump) is a 500. */
enum MHD_Result av_web__send_json(av_web__req *r, unsigned status, json_t *j);
/* {"error": msg} with status. */
enum MHD_Result av_web__json_error(av_web__req *r, unsigned status, const char *msg);
/* The feedback form of an analysed upload (image or video); form_error:
 * why the last one was refused (its values are kept), or NULL. */
void av_web__feedback_form(av_web__req *r, av_web__buf *b, const av_store_image *img,
                           const char *form_error);

/* ---- access.c: what the request's user may do, and the HTML that
 * depends on it (reads r->auth as auth.c set it; answers nothing). ---- */

/* The guest rights in force (AV_WEB_GUEST_*, VIEW implied by the others). */
int av_web__guest_bits(const av_web *w);
/* 1 when the request may do what guests need `right` for (AV_WEB_GUEST_*):
 * the owner always may; r NULL: nobody signed in and no server (1). */
int av_web__may(const av_web__req *r, int right);
/* The hidden CSRF input of a form (empty for guests), the account part of
 * the navigation, the owner's delete button for an upload. */
void av_web__csrf_input(const av_web__req *r, av_web__buf *b);
void av_web__account_nav(const av_web__req *r, av_web__buf *b);
void av_web__owner_tools(const av_web__req *r, av_web__buf *b, const char *id);

/* upload.c; the largest part accepted: video 1, image 0, either -1 */
long long av_web__part_limit(const av_web *w, int video);
int av_web__upload_begin(av_web__req *r);
/* The largest upload body accepted (every file at its limit). */
long long av_web__body_limit(const av_web *w);
/* One chunk of the body of an upload or feedback request. */
int av_web__upload_feed(av_web__req *r, const char *data, size_t n);
void av_web__upload_end(av_web *w, av_web__req *r);
void av_web__req_free(av_web__req *r);

/* pages.c */
enum MHD_Result av_web__page_index(av_web__req *r);
enum MHD_Result av_web__page_results(av_web__req *r, const char *id, const char *form_error,
                                     unsigned status);
enum MHD_Result av_web__page_feedback(av_web__req *r, const char *id);
/* monitor_page.c */
enum MHD_Result av_web__page_monitor(av_web__req *r);

/* retrain.c: the monitor's owner-only "Retrain now" (a background
 * av_train_species, one per database). new: 0 or -1 (no memory); free joins
 * a run in progress. post: POST /monitor/retrain, owner and CSRF checked by
 * auth.c. section: the run's status, and the button for the owner. */
typedef struct av_web__retrain av_web__retrain;
int av_web__retrain_new(av_web *w);
void av_web__retrain_free(av_web__retrain *r);
enum MHD_Result av_web__retrain_post(av_web__req *r, const char *user);
void av_web__retrain_section(const av_web__req *r, av_web__buf *b);
/* --retrain-auto: start a run when the retraining warning holds and enough
 * reviews arrived since the last run (the checker thread calls it). */
void av_web__retrain_check(av_web *w);
/* tracked.c: the species the monitor tracks (the settings page's list, else
 * --tracked) with their test baselines, into *t. */
#define AV_WEB_MAX_TRACKED AV_STORE_MAX_CLASSES
typedef struct av_web__tracked_set {
    char names[AV_WEB_MAX_TRACKED][128];
    const char *name[AV_WEB_MAX_TRACKED]; /* name[k] = names[k], as the store takes them */
    double baselines[AV_WEB_MAX_TRACKED]; /* NaN: none */
    int n;
} av_web__tracked_set;
void av_web__tracked(av_web *w, av_web__tracked_set *t);

/* indicators.c: the retraining indicators for the latest monitoring point
 * (NULL: none yet): warnings into warn, the tracked classes' rows into
 * classes, reviewed accuracy's tables into reviewed. 1 when one is raised. */
int av_web__indicators(av_web *w, const av_store_monitor_point *last,
                       const av_web__tracked_set *t, av_web__buf *warn, av_web__buf *classes,
                       av_web__buf *reviewed);
/* 1 when the monitor raises a retraining indicator now. */
int av_web__retraining_advised(av_web *w);
/* "12.3%", or "no data yet" for NaN. */
void av_web__fmt_pct(char *out, size_t cap, double v);
enum MHD_Result av_web__api_image(av_web__req *r, const char *id);
enum MHD_Result av_web__after_upload(av_web__req *r, int api);

/* camera_pages.c: /cameras, its frames, /api/v1/cameras, /api/v1/visits[/<ID>/best.jpg];
 * the frame route answers MHD_NO when there is no such camera or frame. */
enum MHD_Result av_web__page_cameras(av_web__req *r);
enum MHD_Result av_web__camera_frame(av_web__req *r, const char *rest);
enum MHD_Result av_web__api_cameras(av_web__req *r);
enum MHD_Result av_web__api_visits(av_web__req *r, const char *rest);
/* Camera best frames stored, "12.3 MB", for /monitor. */
void av_web__camera_storage(av_web *w, char *out, size_t outlen);

/* images.c: an original (annotated 0) or annotated image, from this node's
 * cache or else the store; MHD_NO when there is no such image. */
enum MHD_Result av_web__image(av_web__req *r, int annotated, const char *id, const char *ext,
                              const char *mime);

/* metrics.c: counters behind GET /metrics; all calls are thread-safe and
 * accept m == NULL (nothing counted). */
/* health.c: GET /healthz, /readyz and /metrics (the bearer token, when
 * configured, is checked by auth.c before). */
enum MHD_Result av_web__health(av_web__req *r);
enum MHD_Result av_web__ready(av_web__req *r);
enum MHD_Result av_web__metrics_page(av_web__req *r);
/* New counters, owned by the caller (av_web__metrics_free); NULL if out of memory. */
av_web__metrics *av_web__metrics_new(void);
void av_web__metrics_free(av_web__metrics *m);
void av_web__metrics_request(av_web__metrics *m, av_web__metric_route route, unsigned code,
                             double seconds);
void av_web__metrics_analysis(av_web__metrics *m, double seconds);
void av_web__metrics_text(av_web__metrics *m, av_web__buf *b, int queued, int running);

/* An upload whose stored type is a video clip. */
static inline int av_web__is_video_type(const char *content_type)
{
    return content_type && strncmp(content_type, "video/", 6) == 0;
}

/* video_pages.c: a video's results page, its API JSON, its stills */
enum MHD_Result av_web__video_results(av_web__req *r, const av_store_image *img,
                                      const char *form_error, unsigned status);
enum MHD_Result av_web__video_api(av_web__req *r, const av_store_image *img);
enum MHD_Result av_web__video_still(av_web__req *r, const char *rest);


/* waiters.c: park a connection until an analysis is over (or wait_ms);
 * libmicrohttpd then calls the handler again with r->waited = 1. */
typedef struct av_web__waiters av_web__waiters;
int av_web__waiters_start(av_web *web, av_web__waiters **out, char *err, size_t errlen);
/* 0: the connection is suspended (answer nothing now); -1: wait inline. */
int av_web__wait_async(av_web__waiters *ws, av_web__req *r, const char *id, int wait_ms);
/* Resume every parked connection (before MHD_stop_daemon), then free. */
void av_web__waiters_stop(av_web__waiters *ws);
void av_web__waiters_free(av_web__waiters *ws);

/* auth.c: called with every request's headers (after the route is set):
 * who asks, same-origin check, rights; answers the account routes (sign-in
 * page, settings, API delete) and refusals itself. 0: go on; -1: answered
 * (the body, if any, is discarded). */
int av_web__auth_begin(av_web__req *r, const char *url, const char *method);
/* At the end of a POST body: 0 when its CSRF token is fine, else -1 with
 * a 403 queued. */
int av_web__auth_body_ok(av_web__req *r);
/* The end of an AV_WEB_ROUTE_AUTH form: sign in, sign out, delete. */
enum MHD_Result av_web__auth_end(av_web__req *r, const char *url);
/* Forget the password field (on completion). */
void av_web__auth_clear(av_web__req *r);
/* First start (no owner yet): 1 with the note saying how to add one in out; else 0, "". */
int av_web__owner_hint(av_web *w, char *out, size_t cap);

/* chart.c: server-rendered SVG of the monitoring series */
void av_web__chart_svg(av_web__buf *b, const av_store_monitor_point *p, int n,
                       const char *const *names, int n_classes);

/* ---- the birder's pages (gallery.c, species_pages.c, review.c, review_view.c, export.c) ---- */

/* GET /uploads (gallery with filters), /batch?ids=... (after a multi-file upload) */
enum MHD_Result av_web__page_uploads(av_web__req *r);
enum MHD_Result av_web__page_batch(av_web__req *r);
/* GET /species (name "") and /species/<scientific name>; GET /activity */
enum MHD_Result av_web__page_species(av_web__req *r, const char *name);
enum MHD_Result av_web__page_activity(av_web__req *r);
/* GET /review: the queue of unreviewed doubtful birds */
enum MHD_Result av_web__page_review_queue(av_web__req *r);
/* POST /uploads/<ID>/review (form) and the API's POST
 * /api/v1/images/<ID>/detections[/<N>] (JSON); rest is what follows the prefix. */
enum MHD_Result av_web__review_post(av_web__req *r, const char *id);
enum MHD_Result av_web__review_api(av_web__req *r, const char *rest);
/* review.c: POST /api/v1/visits/<ID>/review, a camera visit's review
 * ({"confirm":true}, {"species":"NAME"} or {"not_bird":true}). */
enum MHD_Result av_web__visit_review_api(av_web__req *r, const char *rest);
/* The form iterator's fields of a review form: 1 when key was one of them. */
int av_web__review_field(av_web__req *r, const char *key, const char *data, uint64_t off,
                         size_t size);
/* A chunk of an API review's JSON body. */
void av_web__review_body(av_web__req *r, const char *data, size_t size);
/* The results page's birds: the photo with numbered, coloured boxes (SVG),
 * and per bird its row with the review form. */
void av_web__review_figure(av_web__buf *b, const av_store_image *img, const av_store_detection *d,
                           int n, const av_store_review *rv, int n_rv);
void av_web__review_section(const av_web__req *r, av_web__buf *b, const av_store_image *img,
                            const av_store_detection *d, int n, const av_store_review *rv,
                            int n_rv);
/* birds_cache.c: every bird after review, compact, shared between requests
 * and rebuilt when av_store_birds_version changes. */
typedef struct av_web__bird {
    char image_id[AV_STORE_ID_LEN + 1];
    char ext[8];
    char seen[20];              /* capture time "YYYY-MM-DDTHH:MM:SS" */
    int box, sp;                /* sp: index into species; -1 none */
    av_store_review_action action;
    int is_video;
    double score;               /* NaN: an added bird */
} av_web__bird;
/* A camera visit (store.h av_store_camera_visit), as the birder pages use it. */
typedef struct av_web__visit {
    int64_t id;
    char camera[AV_STORE_CAMERA_NAME_MAX];
    char seen[20], last[20];    /* first and last seen, UTC "YYYY-MM-DDTHH:MM:SS" */
    int sp;                     /* index into species; -1 none */
    double score;
    int has_jpeg;
    int reviewed;               /* confirmed or another species (not_bird ones are left out) */
} av_web__visit;
typedef struct av_web__birds {
    av_web__bird *v;
    int n;
    av_web__visit *visits;      /* newest first */
    int n_visits;
    av_web__label *species;     /* scientific and common names */
    int n_species;
    int refs;
    char version[256];
    const void *store;
} av_web__birds;
/* A snapshot (shared, read-only) into *out; release with av_web__birds_put.
 * -1 with err when the store fails. */
int av_web__birds_get(av_web *w, av_web__birds **out, char *err, size_t errlen);
void av_web__birds_put(av_web__birds *b);

/* accuracy.c: the monitor's reviewed truth: per-species accuracy from
 * reviews into b, warnings (falling accuracy) into warn, *warned = 1 then. */
void av_web__accuracy(av_web *w, av_web__buf *warn, av_web__buf *b, int *warned);

/* review_view.c: a review as the API shows it (new reference). */
json_t *av_web__review_json(const av_store_review *r);


/* GET /export/detections.csv, /export/ebird.csv, /export/coco.json */
enum MHD_Result av_web__export(av_web__req *r, const char *name);

/* ---- birder.c: page pieces the birder's pages share (HTML only) ---- */

/* The colour of box i (or of a species' hash): dark enough for white text
 * (>= 4.5:1) and visible on a photo. */
const char *av_web__box_colour(int i);
const char *av_web__species_colour(const char *scientific);
/* 1 when species is outside the site's species list: the review queue
 * shows those first. The one place to wire the site list. */
int av_web__outside_site_list(const av_web *w, const char *species);
/* <datalist id="species-list"> of every species a review may choose
 * ("Genus species (Common)"); nothing without a label list. */
void av_web__species_datalist(const av_web *w, av_web__buf *b);
/* An upload's thumbnail image; a camera visit's best frame (the bird
 * picture when it has none). */
void av_web__thumb(av_web__buf *b, const av_store_image *img, int is_video, const char *alt);
void av_web__visit_thumb(av_web__buf *b, int64_t id, int has_jpeg, const char *alt);
/* A bird's display name: common, else scientific, else "Bird". */
const char *av_web__bird_name(const char *common, const char *sci);
/* A name only to the genus, as the pipeline's genus answer writes it ("Corvus sp."):
 * a birder's list shows it but does not count it as a species. */
int av_web__is_genus(const char *sci);
/* What the results page and its JSON say of a drawing (README "Illustrations
 * are not sightings"): "This looks like a drawing or painting, not a photo: no
 * sighting recorded. Best guess: NAME (SCIENTIFIC)", plain text into out. */
void av_web__illustration_text(const av_store_illustration *il, char *out, size_t cap);
/* "YYYY-MM-DDTHH:MM:SS" -> "YYYY-MM-DD HH:MM" */
void av_web__when(const char *t, char *out, size_t cap);

/* ---- galleries.c: the card grids of the gallery and species pages ---- */

#define AV_WEB_GALLERY_PAGE 24 /* cards per page */
/* Camera visits to show; NULL fields: any. */
typedef struct av_web__visit_filter {
    const char *species, *from, *to, *camera;
} av_web__visit_filter;
/* Uploads as cards with their birds' names. */
void av_web__gallery_items(av_web *w, av_web__buf *b, const av_store_gallery_item *g, int n);
/* The gallery's page: a species from the snapshot, anything else from the
 * store. Same contract as av_store_gallery. */
int av_web__gallery_page(av_web *w, const av_store_filter *f, int offset, int limit,
                         av_store_gallery_item **out, int *n, int64_t *total, char *err,
                         size_t errlen);
/* The visits matching f, newest first, from offset, at most limit, as cards
 * into b; *total = all matching. 0, or -1 with err. */
int av_web__visit_gallery(av_web *w, av_web__buf *b, const av_web__visit_filter *f, int offset,
                          int limit, int64_t *total, char *err, size_t errlen);

/* req.c: a query-string value of the request, or NULL. */
const char *av_web__arg(struct MHD_Connection *c, const char *key);

#endif
