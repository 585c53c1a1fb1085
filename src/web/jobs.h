/*
 * jobs.h - bounded analysis queue and workers (internal to src/web).
 *
 * An image ID is analysed at most once at a time: requesting an ID that is
 * queued or running joins it instead of adding work. The queue has a fixed
 * size; when it is full a request is refused (the caller answers 503 with
 * Retry-After; the upload itself is already stored).
 */
#ifndef AV_WEB_JOBS_H
#define AV_WEB_JOBS_H

#include "web/web.h"

typedef struct av_web__jobs av_web__jobs;
typedef struct av_web__metrics av_web__metrics;

/* Start n_workers threads, and a keeper that renews the leases of running
 * analyses and queues pending images nobody holds a lease on (at once, then
 * every lease / 3: what a crash or another node's death left behind).
 * opts is borrowed for the life of the jobs. */
int av_web__jobs_start(const av_web_opts *opts, av_web__jobs **out, char *err, size_t errlen);
void av_web__jobs_stop(av_web__jobs *j);

/* Queue id unless queued/running; 0 ok, -1 queue full. */
int av_web__jobs_request(av_web__jobs *j, const char *id);
/* Wait until id is neither queued nor running (or is waiting for a retry),
 * at most timeout_ms; 1 if so. */
int av_web__jobs_wait(av_web__jobs *j, const char *id, int timeout_ms);

/* Time each analysis into m (borrowed; NULL: none). */
void av_web__jobs_set_metrics(av_web__jobs *j, av_web__metrics *m);
/* 1 while id is queued or running here (a retry waiting out its backoff
 * does not count). */
int av_web__jobs_active(av_web__jobs *j, const char *id);
/* Entries waiting and running now. */
void av_web__jobs_depth(av_web__jobs *j, int *queued, int *running);

/* Write dir/name via a temp file and rename (never half a file); 0 or -1
 * with errno. */
int av_web__write_file_atomic(const char *dir, const char *name, const void *p, size_t n);

/* The analysis lease in effect (opts->analysis_lease_ms or its default). */
int av_web__lease_ms(const av_web_opts *o);

/* 1 once av_web__jobs_stop has begun (long analyses check it to give up). */
int av_web__jobs_stopping(av_web__jobs *j);

/* video_jobs.c: analyse id if it is a video, on the calling thread, under
 * an analysis lease of lease_ms; stop (may be NULL) is polled during the
 * run and gives up when it returns 1. 1: handled; 0: not a video, for
 * av_web__analyse. */
int av_web__video_job(const av_web_opts *o, const char *id, int lease_ms, int (*stop)(void *ud),
                      void *stop_ud);

/* Analyse id now on the calling thread (used by the workers). Returns 1
 * when it should be retried later (a temporary failure: kept pending),
 * else 0 (stored, failed for good, or another node holds the claim). */
int av_web__analyse(const av_web_opts *o, const char *id);

#endif
