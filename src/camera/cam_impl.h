/*
 * cam_impl.h - one camera and the node that runs them, shared by cam.c (the
 * frame path) and node.c (threads, lease, API). Internal to src/camera.
 */
#ifndef AV_CAMERA_CAM_IMPL_H
#define AV_CAMERA_CAM_IMPL_H

#include "camera/internal.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log/log.h"
#include "video/video.h"

struct av_camera__cam {
    av_camera_node *node;
    av_camera_conf c;
    pthread_t th;
    int started;
    pthread_mutex_t mu; /* st and the last frame */
    av_camera_status st;
    unsigned char *last_rgb;
    int last_w, last_h;
    av_detect_det *last_dets;
    int *last_ids;
    int last_n;
    int64_t last_frame_mono;
    /* the camera thread's own */
    av_camera_motion *motion;
    av_video_tracker *trk;
    av_video_stills *stills;
    int64_t base_ms;      /* wall time of tracker time 0 */
    int64_t seq;          /* live frames looked at since the tracker was made */
    int64_t *seen_seq;    /* per visit id: the last frame it was seen in */
    unsigned char *stored; /* per visit id: already stored */
    int ids_cap;
    int gap_frames;
    int64_t take_mono;    /* when the next frame is due (fps cap) */
    int64_t lease_due;    /* monotonic ms of the next lease renewal */
    int held;
    int fails;            /* failed connects in a row */
    int64_t win_start;
    long long win_frames, win_analysed;
    int *ids;
    int ids_n;
};

struct av_camera_node {
    av_camera_node_opts o;
    av_camera_conf *confs;
    char node_id[128];
    atomic_int stop;
    av_camera__cam *cams;
    int n;
    pthread_mutex_t budget_mu;
    double tokens;        /* CPU seconds the analyses may still spend now */
    int64_t tokens_mono;
    av_video_stills *draw; /* font and quality for /cameras' frames */
    av_camera__notifier *notifier;
    pthread_t keeper;      /* retention */
    int keeper_started;
    av_camera__frigate *frigate; /* NULL without Frigate */
};

/* ---- accessors for source.c ---- */

/* 1 while this node holds the camera's lease (renewed here when due). */
int av_camera__lease_ok(av_camera__cam *k);
/* End the visits whose tracks closed (all of them when flush), storing and
 * notifying each. */
void av_camera__end_visits(av_camera__cam *k, int flush);

#endif
