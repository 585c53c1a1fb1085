/*
 * camera.h - live feeder cameras (issue 19): the public face of src/camera.
 *
 * A node watches configured cameras, each on its own thread:
 *
 *   stream    rtsp://, rtmp://, http(s):// video (FFmpeg, with an interrupt
 *             callback: a read never blocks longer than io_timeout; a dead
 *             stream is reopened with backoff 1, 2, 4 ... 30 s)
 *   snapshot  http(s):// still image, fetched every `interval` seconds
 *             (libcurl; marked by "snapshot:" before the URL, or kind=snapshot)
 *   folder    dir:/path (inotify): photos and clips written there are
 *             analysed, then moved to `done` or kept
 *
 * Every frame, after the per-camera fps cap, goes through a motion gate
 * (a 64x48 grey copy differenced against the previous one); the detection
 * pipeline runs only on frames with motion or while a visit is open, and
 * only as the node's CPU budget allows. The video tracker (video.h) joins
 * detections into visits; a visit ends when its bird was not seen for
 * visit_gap seconds of live frames (an outage does not count, so a stream
 * that drops and returns does not split a visit), and is then stored
 * (store.h camera_visits) with its best frame, and notified (notify rules).
 *
 * Several nodes: a camera is watched only by the node holding its lease
 * in the database (renewed every lease/3; taken over when stale).
 *
 * Objects: av_camera_node (opaque, owned by the caller of
 * av_camera_node_start, freed by av_camera_node_stop). Status snapshots and
 * frames handed out are copies owned by the caller.
 */
#ifndef AV_CAMERA_H
#define AV_CAMERA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "detect/detect.h"
#include "store/store.h"

#define AV_CAMERA_MAX 64          /* cameras per node */
#define AV_CAMERA_URL_MAX 1024
#define AV_CAMERA_LIST_MAX 1024   /* species allow/block list text */

typedef enum av_camera_kind {
    AV_CAMERA_STREAM = 0,
    AV_CAMERA_SNAPSHOT,
    AV_CAMERA_FOLDER,
} av_camera_kind;

/* "stream", "snapshot", "folder"; static. */
const char *av_camera_kind_name(av_camera_kind k);

/* One camera's settings (conf.c). Keys of camera.NAME.KEY: url, kind, fps,
 * interval, motion, motion-threshold, visit-gap, min-score, done, timeout. */
typedef struct av_camera_conf {
    char name[AV_STORE_CAMERA_NAME_MAX];
    char url[AV_CAMERA_URL_MAX];  /* stream URL, snapshot URL or folder path */
    av_camera_kind kind;
    double fps;                   /* frames looked at per second, at most; default 2 */
    double interval_s;            /* snapshot polling period; default 5 */
    int motion;                   /* 1: the motion gate is on (default) */
    double motion_threshold;      /* share of changed grey pixels that is motion; 0.01 */
    double visit_gap_s;           /* unseen live seconds that end a visit; default 10 */
    double min_score;             /* detections below are ignored; default 0 (pipeline's) */
    double io_timeout_s;          /* stream open/read, snapshot fetch; default 10 */
    char done_dir[512];           /* folder: move analysed files here; "" keeps them */
} av_camera_conf;

/* Notification settings (notify.c), node-wide. */
typedef struct av_camera_notify_conf {
    char webhook_url[AV_CAMERA_URL_MAX]; /* "" = no webhook */
    char webhook_secret[256];            /* HMAC-SHA256 key; "" = unsigned */
    char allow[AV_CAMERA_LIST_MAX];      /* comma-separated species; "" = all */
    char block[AV_CAMERA_LIST_MAX];      /* comma-separated species never notified */
    int first_of_day;                    /* 1: only a species' first visit of the day per camera */
    int new_for_site;                    /* 1: only species never seen before at any camera */
    double min_score;                    /* visits below are not notified */
    double cooldown_s;                   /* per camera and species; default 300 */
    int retries;                         /* webhook attempts after the first; default 3 */
    /* MQTT (mqtt.c): mqtt://[user:pass@]host[:port]; "" = off */
    char mqtt_url[AV_CAMERA_URL_MAX];
    char mqtt_prefix[64];                /* topics under it; "" = "aviary" */
    int mqtt_discovery;                  /* 1: Home Assistant discovery (homeassistant/...) */
} av_camera_notify_conf;

/*
 * Parse camera settings: text is lines "NAME.KEY=VALUE" (as the config
 * keeps --camera NAME=URL and camera.NAME.KEY lines: "NAME.url=URL").
 * *out malloc'd (free()), *n cameras, in order of first mention. Returns
 * 0, or -1 with a message naming the camera and key.
 */
int av_camera_conf_parse(const char *text, av_camera_conf **out, int *n, char *err,
                         size_t errlen);
/* Defaults of one camera named name (url ""). */
void av_camera_conf_defaults(av_camera_conf *c, const char *name);

/* ------------------------------------------------------------ motion gate */

/* A motion gate: the previous frame as a small grey copy. */
typedef struct av_camera_motion av_camera_motion;

#define AV_CAMERA_MOTION_W 64
#define AV_CAMERA_MOTION_H 48

/* threshold: share (0..1] of grey pixels that must change by more than
 * 24 levels. NULL when out of memory. Free with av_camera_motion_free. */
av_camera_motion *av_camera_motion_new(double threshold);
void av_camera_motion_free(av_camera_motion *m);
/* Feed an RGB frame (width x height, rows of 3*width bytes): 1 when it
 * differs from the previous one (the first frame counts as motion), else
 * 0. *changed (optional) gets the share of changed pixels. */
int av_camera_motion_feed(av_camera_motion *m, const unsigned char *rgb, int width, int height,
                          double *changed);

/* ------------------------------------------------------------------- node */

typedef struct av_camera_node av_camera_node;

typedef struct av_camera_node_opts {
    av_store *store;                 /* borrowed; required */
    av_detect_pipeline *pipe;        /* borrowed; NULL: frames are watched, not analysed */
    const av_camera_conf *cams;      /* copied */
    int n_cams;
    const av_camera_notify_conf *notify; /* copied; may be NULL */
    const char *node_id;             /* this node's name in leases; NULL: host:pid */
    double cpu_budget;               /* cores the node's analyses may use on average;
                                        <= 0: all online cores */
    int lease_ms;                    /* camera lease; <= 0: 30000 */
    long long max_pixels;            /* per frame; <= 0: 50 Mpx */
    long long max_bytes;             /* snapshot / folder file; <= 0: 30 MB */
    const char *frigate_url;         /* Frigate's HTTP API; NULL/"": no Frigate events.
                                        Events come from notify->mqtt_url's broker */
    const char *frigate_topic;       /* Frigate's MQTT prefix; NULL: "frigate" */
    int retention_days;              /* > 0: hourly, drop best frames older than that */
    int keep_best;                   /* ... except each species' keep_best best ones */
    unsigned passes;                 /* detector passes on live frames, as
                                        av_detect_run_opts.passes; 0: pipeline.json's
                                        without zoom-out (README "Cameras": it tripled
                                        the cost of each analysed frame without a bird) */
} av_camera_node_opts;

/* Start watching (threads start at once, connections in the background).
 * *out owns the node (av_camera_node_stop). -1 with a message on bad opts. */
int av_camera_node_start(const av_camera_node_opts *o, av_camera_node **out, char *err,
                         size_t errlen);
/* Stop every thread (each within about a second), release leases, free;
 * NULL-safe. */
void av_camera_node_stop(av_camera_node *n);

/* One camera's state, a copy. */
typedef struct av_camera_status {
    char name[AV_STORE_CAMERA_NAME_MAX];
    av_camera_kind kind;
    char url_shown[AV_CAMERA_URL_MAX]; /* URL with any password replaced by *** */
    char state[16];        /* starting, live, reconnecting, dead, idle, standby (other
                              node holds the lease), stopped */
    char error[256];       /* last failure, "" if none */
    double fps;            /* frames looked at per second, last 10 s */
    double analysed_fps;   /* frames the pipeline ran on per second, last 10 s */
    long long frames, analysed, motion_frames;
    int reconnects;
    int visits_open;
    long long visits_stored;
    double last_frame_age_s; /* seconds since the last frame; < 0: none yet */
    char last_species[128];  /* label of the last stored visit, "" if none */
    int bird_present;        /* an open visit now */
    double cpu_s;            /* thread CPU seconds used so far */
} av_camera_status;

/* Snapshot of every camera: *out malloc'd (free()), *n cameras. -1 if out of memory. */
int av_camera_node_status(av_camera_node *n, av_camera_status **out, int *count);
/* The last frame of a camera as JPEG, boxes of its last analysis drawn:
 * *jpeg malloc'd (free()). -1 when the camera is unknown or has no frame. */
int av_camera_node_frame(av_camera_node *n, const char *name, unsigned char **jpeg,
                         size_t *len);
/* A status as JSON (new reference, NULL when out of memory); visits_today
 * is added by the caller that counted them. */
json_t *av_camera_status_json(const av_camera_status *s);

/* ---------------------------------------------------------- notifications */

/* ms since the epoch as ISO-8601 UTC with milliseconds ("...T12:00:00.000Z"). */
void av_camera_iso(int64_t ms, char out[32]);
/* Parse a time: ms since the epoch, or ISO-8601 UTC "YYYY-MM-DD[THH:MM[:SS]][Z]".
 * 0, or -1 when it is neither. */
int av_camera_parse_time(const char *s, int64_t *ms);
/* A stored visit as the API and the notifications show it (new reference;
 * NULL when out of memory): id, camera, species, common_name, label, score,
 * first_seen, last_seen (ISO), first_seen_ms, last_seen_ms, n_frames, box,
 * best_frame (its URL path, "" when none), node. */
json_t *av_camera_visit_json(const av_store_camera_visit *v);

/*
 * The webhook body of a visit (JSON, malloc'd, NUL-terminated; caller
 * frees) and its signature header value "sha256=<hex HMAC-SHA256 of the
 * body keyed with secret>". NULL when out of memory.
 */
char *av_camera_visit_payload(const av_store_camera_visit *v, const char *event, size_t *len);
void av_camera_sign(const char *secret, const void *body, size_t len, char out[72]);

#endif
