/*
 * internal.h - what the files of src/camera share (av_camera__ names).
 */
#ifndef AV_CAMERA_INTERNAL_H
#define AV_CAMERA_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "camera/camera.h"

/* A decoded frame handed to the camera: packed RGB, borrowed for the call.
 * Return 0 to go on, non-zero to stop reading (stop asked, lease lost). */
typedef int (*av_camera__frame_fn)(void *ud, int width, int height, const unsigned char *rgb);

/*
 * Read a stream (or a clip file: url is a path) until it ends, fails or fn
 * asks to stop; *stop is polled by FFmpeg's interrupt callback, and no
 * open or read blocks past io_timeout_s. max_fps > 0 drops decoded frames
 * arriving faster than that before they are converted. *opened is set
 * once the input is open and a frame decoded. Returns 0 at the stream's
 * end or when stopped, -1 with a message on failure.
 */
int av_camera__stream_run(const char *url, double io_timeout_s, double max_fps,
                          long long max_pixels, atomic_int *stop, av_camera__frame_fn fn,
                          void *ud, int *opened, char *err, size_t errlen);

/* GET url (libcurl, timeout, at most max_bytes): *body malloc'd. 0 or -1. */
int av_camera__http_get(const char *url, double timeout_s, long long max_bytes, void **body,
                        size_t *len, char *err, size_t errlen);
/* POST a JSON body with extra headers (NULL-terminated "Name: value"
 * strings); 0 on a 2xx answer, else -1 with a message. */
int av_camera__http_post(const char *url, double timeout_s, const char *body, size_t len,
                         const char *const *headers, char *err, size_t errlen);

/* ---- one camera, as the source loops (source.c) see it (node.c) ---- */

typedef struct av_camera__cam av_camera__cam;

const av_camera_conf *av_camera__conf(const av_camera__cam *k);
atomic_int *av_camera__stop_flag(av_camera__cam *k);
long long av_camera__max_bytes(const av_camera__cam *k);
long long av_camera__max_pixels(const av_camera__cam *k);
/* A frame from the source. flags: AV_CAMERA__FORCE analyses it whatever
 * the motion gate and fps cap say (a photo dropped in a watched folder);
 * AV_CAMERA__CAPPED: the source applied the fps cap already (streams, before
 * converting). Returns non-zero when the source should stop (stop asked,
 * lease lost). */
enum { AV_CAMERA__FORCE = 1, AV_CAMERA__CAPPED = 2 };
int av_camera__feed(av_camera__cam *k, int width, int height, const unsigned char *rgb,
                    int flags);
/* The fps cap: whether a frame arriving now is taken, *due_ms (monotonic,
 * 0 at first) moved on so that the average rate is fps, whatever the jitter. */
int av_camera__fps_take(int64_t *due_ms, double fps);
/* Live time passing without a frame (a watched folder between files):
 * counts toward the visit gap as an empty frame would. Returns non-zero
 * when the source should stop (as av_camera__feed). */
int av_camera__tick(av_camera__cam *k);
/* A clip from a watched folder: analysed whole, its visits stored. 0 or -1. */
int av_camera__clip(av_camera__cam *k, const char *path, char *err, size_t errlen);
/* State word (camera.h's av_camera_status.state) and error ("" clears). */
void av_camera__set_state(av_camera__cam *k, const char *state, const char *error);
/* Sleep up to ms, waking early on stop: returns 1 when stopping. */
int av_camera__sleep(av_camera__cam *k, int64_t ms);
/* Count a reconnect attempt. */
void av_camera__reconnected(av_camera__cam *k);

/* The source loops (source.c): run until stop or a failure to report;
 * the caller (node.c) reconnects with backoff. 0 when stopped, 1 when
 * the source delivered frames before failing (the backoff restarts), -1
 * when it failed with none. */
int av_camera__run_stream(av_camera__cam *k, char *err, size_t errlen);
int av_camera__run_snapshot(av_camera__cam *k, char *err, size_t errlen);
int av_camera__run_folder(av_camera__cam *k, char *err, size_t errlen);

/* ---- notifications (notify.c) ---- */

typedef struct av_camera__notifier av_camera__notifier;

/* NULL (and nothing sent) when conf has no target; *ok 0 when it cannot
 * start (message in err). names: the cameras, for Home Assistant discovery. */
av_camera__notifier *av_camera__notifier_start(const av_camera_notify_conf *conf,
                                               av_store *store, const char *const *names,
                                               int n_names, int *ok, char *err,
                                               size_t errlen);
void av_camera__notifier_stop(av_camera__notifier *nt);
/* Whether a visit passes the rules; call before it is stored (first of
 * the day and new for the site look at the visits stored before it). */
int av_camera__notify_wanted(av_camera__notifier *nt, const av_store_camera_visit *v);
/* Queue a visit for sending (copied); dropped when the queue is full. */
void av_camera__notify(av_camera__notifier *nt, const av_store_camera_visit *v);
/* State, whatever the rules: a bird present or not, the last species seen
 * (MQTT retained state topics; the webhook gets alerts only). */
void av_camera__notify_presence(av_camera__notifier *nt, const char *camera, int present);
void av_camera__notify_species(av_camera__notifier *nt, const char *camera, const char *label);

/* ---- MQTT (mqtt.c) ---- */

typedef struct av_camera__mqtt av_camera__mqtt;

/* Connect in the background (libmosquitto's thread reconnects); on every
 * connect, discovery for names is published. NULL with err on a bad URL. */
av_camera__mqtt *av_camera__mqtt_start(const av_camera_notify_conf *conf,
                                       const char *const *names, int n_names, char *err,
                                       size_t errlen);
void av_camera__mqtt_stop(av_camera__mqtt *m);
/* mosquitto_lib_init once per process. */
void av_camera__mqtt_lib_init(void);
/* mqtt://[user[:pass]@]host[:port] into its parts (user, pass 128 bytes,
 * host 256); -1 when malformed. */
int av_camera__mqtt_parse_url(const char *url, char *user, char *pass, char *host, int *port);
/* Publish prefix/camera/topic (retained or not); dropped while disconnected. */
void av_camera__mqtt_publish(av_camera__mqtt *m, const char *camera, const char *topic,
                             const char *payload, int retain);

/* ---- Frigate events (frigate.c) ---- */

typedef struct av_camera__frigate av_camera__frigate;

typedef struct av_camera__frigate_env {
    av_store *store;                  /* borrowed */
    av_detect_pipeline *pipe;         /* borrowed; required */
    av_camera__notifier *notifier;    /* borrowed; may be NULL */
    char mqtt_url[AV_CAMERA_URL_MAX];
    char frigate_url[AV_CAMERA_URL_MAX]; /* http(s)://host:5000 */
    char topic[64];                   /* Frigate's MQTT prefix; "" = "frigate" */
    char node_id[128];
    int lease_ms;
    long long max_bytes, max_pixels;
} av_camera__frigate_env;

/* Subscribe in the background. NULL with err when the URLs are bad or
 * there is no pipeline. */
av_camera__frigate *av_camera__frigate_start(const av_camera__frigate_env *env, char *err,
                                             size_t errlen);
void av_camera__frigate_stop(av_camera__frigate *f);

#endif
