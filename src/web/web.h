/*
 * web.h - Aviary's HTTP front end on libmicrohttpd: the web application
 * (upload, results, feedback, monitoring, JSON API) and /healthz.
 *
 * av_web_start() binds, starts the worker threads and returns at once;
 * av_web_stop() stops accepting, finishes in-flight requests and frees.
 * With no store the server answers /healthz only (used by tests and by
 * roles that have no pages).
 *
 * Analysis is not done here: the caller passes an analyze callback (the
 * in-process pipeline, or a remote model server client). It runs on a
 * bounded pool of analysis workers with a bounded queue; an image is
 * analysed at most once even when many first views arrive together.
 */
#ifndef AV_WEB_H
#define AV_WEB_H

#include <stddef.h>

#include "guard/guard.h"
#include "store/store.h"
#include "video/video.h"

typedef struct av_web av_web;

/* What an analysis produces; detections and annotated bytes are malloc'd
 * by the analyzer and freed by the web module. */
typedef struct av_web_analysis {
    int width, height;
    av_store_detection *dets;
    int n_dets;
    void *annotated;       /* encoded image with boxes drawn; may be NULL */
    size_t annotated_len;
    char annotated_ext[8]; /* "jpg" or "png" */
    av_store_illustration illustration; /* a drawing, not a photo: dets hold no bird */
} av_web_analysis;

/* How an analysis ended (the analyze callback's answer). */
#define AV_WEB_ANALYSIS_STATUS_MAP(X)                                     \
    X(OK, 0, "analysed")                                                  \
    X(E_FAILED, 1, "the image cannot be analysed")                        \
    X(E_RETRY, 2, "temporary failure: the image stays pending, retried")

typedef enum av_web_analysis_status {
#define X(name, num, msg) AV_WEB_ANALYSIS_##name = num,
    AV_WEB_ANALYSIS_STATUS_MAP(X)
#undef X
} av_web_analysis_status;

/* Static string for a status; never NULL. */
const char *av_web_analysis_strerror(av_web_analysis_status st);

/*
 * Analyze one image. Returns AV_WEB_ANALYSIS_OK and fills *out, E_FAILED
 * with a message for the user in err (e.g. "image: truncated JPEG"), or
 * E_RETRY for a temporary failure (a model server unreachable): the image
 * stays pending with err shown and is retried with backoff. Called from
 * analysis worker threads, possibly concurrently.
 */
typedef av_web_analysis_status (*av_web_analyze_fn)(void *ud, const void *bytes, size_t len,
                                                    av_web_analysis *out, char *err,
                                                    size_t errlen);

/*
 * Re-create the annotated image of an analysed upload from its original
 * bytes and stored detections (a node that did not analyse it has no copy
 * on its disk). Fills out->annotated, annotated_len, annotated_ext only.
 * Returns 0, or -1 with a message in err. Called from HTTP threads.
 */
typedef int (*av_web_render_fn)(void *ud, const void *bytes, size_t len,
                                const av_store_detection *dets, int n, av_web_analysis *out,
                                char *err, size_t errlen);

/*
 * Analyse one video clip (bytes borrowed for the call): av_video_run on the
 * caller's pipeline with the given options (the web module sets the limits,
 * the progress callback and a frame hook keeping stills). Same contract as
 * av_video_run. Called from analysis worker threads, possibly concurrently.
 */
typedef av_video_status (*av_web_analyze_video_fn)(void *ud, const void *bytes, size_t len,
                                                   const av_video_opts *opts,
                                                   av_video_result *r, char *err,
                                                   size_t errlen);

/* What a guest (anyone not signed in) may do; --guest. View is implied by
 * the others. The owner may do everything. AV_WEB_GUEST_SET marks an
 * explicit choice, so that SET alone (no rights) differs from 0 (default). */
enum { AV_WEB_GUEST_VIEW = 1, AV_WEB_GUEST_UPLOAD = 2, AV_WEB_GUEST_VOTE = 4,
       AV_WEB_GUEST_SET = 8 };
#define AV_WEB_GUEST_DEFAULT (AV_WEB_GUEST_VIEW | AV_WEB_GUEST_UPLOAD | AV_WEB_GUEST_VOTE)
/*
 * Extra Prometheus text for GET /metrics (the pipeline's pass counters):
 * writes at most cap - 1 bytes and a NUL into buf, returns the length.
 * Called from HTTP threads, possibly concurrently.
 */
typedef size_t (*av_web_metrics_fn)(void *ud, char *buf, size_t cap);

typedef struct av_web_opts {
    const char *listen;      /* IPv4 address to bind, e.g. "0.0.0.0"; NULL = any */
    int port;                /* 0 = ephemeral (see av_web_port) */
    int workers;             /* HTTP worker threads, >= 1 */
    const char *role;        /* reported by /healthz: "web", "model-server" */

    /* The application (all optional: without a store only /healthz). */
    av_store *store;
    const char *data_dir;    /* originals/ and inferenced/: a cache of the store */
    long long max_upload_bytes;
    av_web_analyze_fn analyze;
    void *analyze_ud;
    av_web_render_fn render; /* NULL: /inferenced/ only from this node's disk */
    void *render_ud;
    int analysis_workers;    /* concurrent analyses (default 1) */
    int queue_max;           /* waiting analyses before 503 (default 64) */
    int analysis_wait_ms;    /* how long a results page waits before showing "pending" */
    int analysis_lease_ms;   /* a node's lease on an analysis, renewed while it runs; a
                                crashed node's work is taken up once it lapses (default 15000) */
    const char *const *tracked; /* scientific names of tracked classes */
    int n_tracked;
    const double *baselines; /* per tracked class: test-time average confidence (NaN: none) */
    const char *detector_name;  /* for the monitor page */
    const char *species_name;
    const char *species_note;   /* plain text shown when species are unavailable; NULL if fine */
    const char *species_labels; /* the species model's label file: the names a review may
                                   choose from (NULL: any well-formed name) */
    /* The site species list (--species-list) as the pipeline loaded it
     * (av_detect_pipeline_on_site_list): 1 when a scientific name is on it,
     * 0 off it, -1 no list. NULL: no list. The review queue puts birds off
     * the list first. */
    int (*on_site_list)(void *ud, const char *scientific);
    void *site_list_ud;

    /* Videos (see av_web_analyze_video_fn); without analyze_video they are refused. */
    av_web_analyze_video_fn analyze_video;
    void *analyze_video_ud;
    long long max_video_bytes;  /* largest video upload (default 200 MB) */
    double max_video_seconds;   /* longest video (default 600) */
    long long max_pixels;       /* per video frame (default 50 Mpx) */
    int video_max_attempts;     /* analyses started before a restart-interrupted video
                                   is failed (default 2) */

    /* Live cameras watched by this node (camera.h; borrowed, may be NULL:
     * /cameras then lists none, the visits API still answers). */
    struct av_camera_node *cameras;
    /* Access (auth.c). guest: AV_WEB_GUEST_* bits; 0 = AV_WEB_GUEST_DEFAULT;
     * AV_WEB_GUEST_SET alone: guests see only the sign-in page. */
    int guest;
    const char *metrics_token;   /* NULL/"": /metrics is open; else Bearer TOKEN */
    const char *trusted_proxies; /* comma-separated IPv4 peers whose X-Forwarded-For
                                    names the client (login rate limit) */
    const char *owner_hint;      /* first start: the command that adds an owner */
    const char *const *settings; /* the settings page: name, value, ..., NULL */
    av_web_metrics_fn extra_metrics; /* NULL: none */
    void *extra_metrics_ud;
    av_guard_opts guard;        /* connection limits and deadlines; zeros = defaults */
    /* The monitor's "Retrain now" (av_train_species): NULL out_dir = not offered. */
    const char *retrain_db_url;     /* the database the reviews are in */
    const char *retrain_models_dir; /* the base models */
    const char *retrain_out_dir;    /* version folders: the model server's base path */
    int retrain_auto;       /* > 0: retrain by itself when the warning holds and this many
                               reviewed birds arrived since the last run; 0 = off */
    int retrain_check_ms;   /* how often that is checked (default 60000) */
} av_web_opts;

/* One pipeline detection as the row the store keeps (the UI's confidence,
 * the top species, "bird" when the detector names no class); version is the
 * model version recorded with it. Used by every analyzer so images, videos
 * and remote results are stored alike. */
void av_web_store_detection(const av_detect_det *d, const char *version,
                            av_store_detection *out);

/* The other way: a stored row as the detection it was made from, as far
 * as the row keeps it (box, confidences, detector class name, the shown
 * answer's rule and label, the species guesses; not the detector class
 * index nor the whole-image flag). Its label is the one the pipeline drew
 * (common name, else scientific or "Corvus sp.", else "Bird" or the
 * detector class), so annotations redrawn from rows match the originals. */
void av_web_load_detection(const av_store_detection *s, av_detect_det *out);

/* A pipeline result (in-process or from a model server) as an analysis: its
 * detections as rows (version "detector@version"), the illustration with its
 * best guess (the illustrated bird's top species, else its label), and the
 * annotated image, moved out of r. 0, or -1 when out of memory (out empty). */
int av_web_analysis_from_result(av_detect_result *r, av_web_analysis *out);

/* Start serving. On success *out owns the server (free with av_web_stop). */
int av_web_start(const av_web_opts *o, av_web **out, char *err, size_t errlen);

/* The port actually bound (useful with port 0). */
int av_web_port(const av_web *w);

/* Stop and free; NULL is a no-op. The store is not closed (caller owns it). */
void av_web_stop(av_web *w);

#endif
