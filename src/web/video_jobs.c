/*
 * video_jobs.c - video analyses on the same bounded worker pool as images:
 * load the clip from the store, run the caller's video analyzer with the
 * limits, a progress callback that writes frames done into the database
 * (so any node and any reload sees it) and a frame hook keeping stills,
 * then store visits, frame detections and stills in one transaction.
 *
 * Restarts: a video is analysed under a lease like an image (renewed while
 * it runs, jobs.c), so once its node dies the lease lapses and the jobs'
 * keeper queues it again on some node (the analysis starts over; a partial
 * run stores nothing), unless it was already started video_max_attempts
 * times: a video that keeps dying with its server is failed with a reason
 * instead of looping for ever.
 */
#include "web/internal.h"
#include "base/base.h"

#include "log/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROGRESS_EVERY_MS 500.0 /* database writes of progress, at most this often */

typedef struct progress {
    const av_web_opts *o;
    int (*stop)(void *ud); /* 1: give up (the jobs are stopping); may be NULL */
    void *stop_ud;
    const char *id;
    double last_ms;
    int stopped; /* the server is stopping: the run was cancelled, not failed */
} progress;

static int on_progress(void *ud, int done, int expected)
{
    progress *p = ud;
    double t = av_base_now_ms();
    if (done < expected && t - p->last_ms < PROGRESS_EVERY_MS)
        return 0;
    p->last_ms = t;
    char err[256];
    if (av_store_video_progress(p->o->store, p->id, done, expected, err, sizeof err) !=
        AV_STORE_OK)
        av_log(AV_LOG_WARN, "video_progress_failed", "id", p->id, "error", err, NULL);
    if (p->stop && p->stop(p->stop_ud)) {
        p->stopped = 1;
        return 1;
    }
    return 0;
}

/* Store a finished run; returns the store status. */
static av_store_status store_result(const av_web_opts *o, const char *id, const av_video_result *r,
                                    const av_video_stills *stills, char *err, size_t errlen)
{
    av_store_status st = AV_STORE_ENOMEM;
    av_store_visit *vs = r->n_tracks ? calloc((size_t)r->n_tracks, sizeof *vs) : NULL;
    av_store_video_det *ds = r->n_dets ? calloc((size_t)r->n_dets, sizeof *ds) : NULL;
    av_store_media *media = calloc((size_t)r->n_tracks + 1, sizeof *media);
    char(*names)[24] = r->n_tracks ? calloc((size_t)r->n_tracks, sizeof *names) : NULL;
    if ((r->n_tracks && (!vs || !names)) || (r->n_dets && !ds) || !media) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    char version[64];
    snprintf(version, sizeof version, "%.30s@%.30s", r->detector, r->detector_version);
    for (int i = 0; i < r->n_tracks; i++) {
        const av_video_track *t = &r->tracks[i];
        vs[i] = (av_store_visit){.track = t->id, .first_s = t->first_s, .last_s = t->last_s,
                                 .best_t = t->best_t, .best_frame = t->best_frame,
                                 .n_frames = t->n_frames};
        av_web_store_detection(&t->best, version, &vs[i].det);
        vs[i].det.score = t->best_confidence;
    }
    for (int i = 0; i < r->n_dets; i++) {
        const av_video_det *d = &r->dets[i];
        const av_video_frame *f = d->frame >= 0 && d->frame < r->n_frames ? &r->frames[d->frame]
                                                                          : NULL;
        ds[i] = (av_store_video_det){.frame = d->frame, .frame_index = f ? f->index : -1,
                                     .t = f ? f->t : 0, .track = d->track};
        av_web_store_detection(&d->det, version, &ds[i].det);
    }
    int nm = 0;
    size_t len = 0;
    const unsigned char *p = av_video_stills_poster(stills, &len);
    if (p && len && len <= AV_STORE_MEDIA_MAX)
        media[nm++] = (av_store_media){"poster", "image/jpeg", p, len};
    for (int i = 0; i < r->n_tracks; i++) {
        p = av_video_stills_thumb(stills, &r->tracks[i], &len);
        if (!p || !len || len > AV_STORE_MEDIA_MAX)
            continue;
        snprintf(names[i], sizeof names[i], "visit-%d", r->tracks[i].id);
        media[nm++] = (av_store_media){names[i], "image/jpeg", p, len};
    }
    av_store_video info = {.width = r->width, .height = r->height,
                           .duration_s = r->duration_s, .sample_fps = r->sample_fps,
                           .frames_expected = r->n_frames};
    snprintf(info.codec, sizeof info.codec, "%s", r->codec);
    st = av_store_video_put(o->store, id, &info, vs, r->n_tracks, ds, r->n_dets, media, nm, err,
                            errlen);
out:
    free(vs);
    free(ds);
    free(media);
    free(names);
    return st;
}

int av_web__video_job(const av_web_opts *o, const char *id, int lease_ms, int (*stop)(void *ud),
                      void *stop_ud)
{
    char err[512] = "";
    av_store_video v;
    if (av_store_video_get(o->store, id, &v, err, sizeof err) != AV_STORE_OK)
        return 0; /* not a video (or unreadable: the image path reports it) */
    av_store_image img;
    if (av_store_image_get(o->store, id, 1, &img, err, sizeof err) != AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "video_load_failed", "id", id, "error", err, NULL);
        return 1;
    }
    if (strcmp(img.status, "pending") != 0) {
        av_store_image_clear(&img);
        return 1;
    }
    char e2[256];
    int max = o->video_max_attempts > 0 ? o->video_max_attempts : 2;
    if (v.attempts >= max) {
        char why[200];
        snprintf(why, sizeof why,
                 "video: the analysis was interrupted by a server restart %d time%s;"
                 " please upload the video again",
                 v.attempts, v.attempts == 1 ? "" : "s");
        av_store_analysis_fail(o->store, id, why, e2, sizeof e2);
        av_log(AV_LOG_WARN, "video_abandoned", "id", id, NULL);
        av_store_image_clear(&img);
        return 1;
    }
    if (!o->analyze_video || !img.blob) {
        av_store_analysis_fail(o->store, id,
                               !img.blob ? "the uploaded file is missing"
                                         : "video analysis is not available on this server",
                               e2, sizeof e2);
        av_store_image_clear(&img);
        return 1;
    }
    int claimed = 0; /* another node may be at it (its lease is renewed while it runs) */
    if (av_store_analysis_claim(o->store, id, lease_ms, &claimed, err, sizeof err) !=
            AV_STORE_OK ||
        !claimed) {
        av_store_image_clear(&img);
        return 1;
    }
    int attempts = 0;
    if (av_store_video_start(o->store, id, &attempts, err, sizeof err) != AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "video_start_failed", "id", id, "error", err, NULL);
        av_store_image_clear(&img);
        return 1;
    }
    av_video_stills *stills = NULL;
    if (av_video_stills_new(NULL, &stills) != AV_VIDEO_OK) {
        av_store_image_clear(&img);
        av_log(AV_LOG_ERROR, "video_start_failed", "id", id, "error", "out of memory", NULL);
        return 1; /* left pending: a later view or restart tries again */
    }
    progress pg = {.o = o, .stop = stop, .stop_ud = stop_ud, .id = id, .last_ms = -1e9};
    av_video_opts vo = {.limits = {.max_bytes = o->max_video_bytes,
                                   .max_seconds = o->max_video_seconds,
                                   .max_pixels = o->max_pixels},
                        .progress = on_progress, .progress_ud = &pg,
                        .frame_hook = av_video_stills_hook, .frame_ud = stills};
    av_video_result r;
    double t0 = av_base_now_ms();
    av_video_status vst =
        o->analyze_video(o->analyze_video_ud, img.blob, img.blob_len, &vo, &r, err, sizeof err);
    av_store_image_clear(&img);
    char ms[32];
    snprintf(ms, sizeof ms, "%.1f", av_base_now_ms() - t0);
    if (vst == AV_VIDEO_E_CANCELLED && pg.stopped) {
        /* Stopping: stays pending, its lease given up so the next start-up
         * (or another node) takes it at once. */
        av_log(AV_LOG_INFO, "video_interrupted", "id", id, "ms", ms, NULL);
        av_store_analysis_release(o->store, id, e2, sizeof e2);
    } else if (vst != AV_VIDEO_OK) {
        char why[640];
        snprintf(why, sizeof why, "video: %s", err[0] ? err : av_video_strerror(vst));
        av_log(AV_LOG_WARN, "analysis_failed", "id", id, "error", why, "ms", ms, NULL);
        av_store_analysis_fail(o->store, id, why, e2, sizeof e2);
    } else {
        av_store_status st = store_result(o, id, &r, stills, err, sizeof err);
        if (st != AV_STORE_OK && st != AV_STORE_CONFLICT) {
            av_log(AV_LOG_ERROR, "analysis_store_failed", "id", id, "error", err, NULL);
            av_store_analysis_fail(o->store, id, "the results could not be stored", e2,
                                   sizeof e2);
        }
        char nv[16], nf[16], at[16];
        snprintf(nv, sizeof nv, "%d", r.n_tracks);
        snprintf(nf, sizeof nf, "%d", r.n_frames);
        snprintf(at, sizeof at, "%d", attempts);
        av_log(AV_LOG_INFO, "video_analysed", "id", id, "visits", nv, "frames", nf, "attempt",
               at, "ms", ms, NULL);
        av_video_result_free(&r);
    }
    av_video_stills_free(stills);
    return 1;
}
