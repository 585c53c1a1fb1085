/*
 * camera_fixture.h - shared set-up of the live-camera tests (t_camera*):
 * the visit store (SQLite, or $AVIARY_TEST_DB), the pipeline, a camera's
 * status and visits, a Mosquitto broker with a subscriber recording every
 * message, and a local HTTP server (libmicrohttpd) serving snapshots and
 * receiving webhooks.
 *
 * Linked into every test (Makefile TEST_LIB); failures go through CHECK and
 * SKIP, so call these only from inside a test case.
 */
#ifndef AV_CAMERA_FIXTURE_H
#define AV_CAMERA_FIXTURE_H

#include "camera/camera.h"
#include "detect/detect.h"
#include "store/store.h"

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>
#include <unistd.h>

/* Poll cond every 0.1 s for up to secs seconds (then go on: the caller checks). */
#define WAIT_FOR(cond, secs)                                            \
    do {                                                                \
        for (int w_ = 0; w_ < (secs) * 10 && !(cond); w_++)             \
            usleep(100 * 1000);                                         \
    } while (0)

/* The case's store (av_test_open_store "cam.db", tag 'c'), migrated. */
av_store *cam_open_store(void);
/* ./models with one thread and two contexts; skips when the models are not fetched. */
av_detect_pipeline *cam_open_pipeline(void);
/* The status of camera name on node n; fails the case when there is none. */
av_camera_status cam_status(av_camera_node *n, const char *name);
/* Up to 100 stored visits of camera (*v: free()); their count. */
int cam_visits(av_store *s, const char *camera, av_store_camera_visit **v);

/* ---- a Mosquitto broker and a subscriber recording every message ---- */

typedef struct cam_mq_msg {
    char topic[256];
    char payload[4096];
    int retain;
} cam_mq_msg;

typedef struct cam_mq_sub {
    struct mosquitto *m;
    pthread_mutex_t mu;
    cam_mq_msg msgs[64];
    int n;
} cam_mq_sub;

/* /usr/sbin/mosquitto on 127.0.0.1:port (skips when not installed); its pid. */
pid_t cam_broker_start(int port);
/* SIGTERM, then reaped. */
void cam_broker_stop(pid_t pid);
/* q subscribed to "#" on the broker at port (retried while it starts). */
void cam_mq_subscribe(cam_mq_sub *q, int port);
void cam_mq_close(cam_mq_sub *q);
/* The last message on topic (copied into out), or 0 when none came. */
int cam_mq_last(cam_mq_sub *q, const char *topic, cam_mq_msg *out);

/* ---- a local HTTP server: snapshots out, webhooks in ---- */

typedef struct cam_fake {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    const unsigned char *snap; /* what GET /snap.jpg serves now */
    size_t snap_len;
    int gets;
    char hooks[8][4096];       /* webhook bodies received */
    char sigs[8][100];         /* their X-Aviary-Signature */
    char urls[8][256];         /* and path */
    int n_hooks;
    int fail_hooks;            /* answer the first N webhooks with 500 */
} cam_fake;

/* Zeroes f and starts it on a free port. */
void cam_fake_start(cam_fake *f);
/* What GET /snap.jpg (and a Frigate event's snapshot.jpg) serves from now on. */
void cam_fake_serve(cam_fake *f, const unsigned char *p, size_t n);
/* Webhooks received so far. */
int cam_fake_hooks(cam_fake *f);

#endif
