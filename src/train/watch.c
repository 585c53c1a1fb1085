/*
 * watch.c - an in-process web node follows the model server's base path
 * as a model server does: a newly promoted version folder is loaded beside
 * the running pipeline and swapped in (av_detect_current).
 */
#include "train/train.h"
#include "base/base.h"

#include "log/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct av_train_watch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int stopping, interval_ms;
    long long seen;
    char base[1024];
    av_detect_open_opts oo;
    av_detect_current *cur;
};

static void load(av_train_watch *w, long long v)
{
    char dir[1100], err[512], ver[32];
    snprintf(dir, sizeof dir, "%s/%lld", w->base, v);
    snprintf(ver, sizeof ver, "%lld", v);
    av_detect_pipeline *p = NULL;
    if (av_detect_pipeline_open(dir, &w->oo, &p, err, sizeof err) != AV_DETECT_OK) {
        av_log(AV_LOG_ERROR, "models_reload_failed", "dir", dir, "error", err, NULL);
        return; /* keep serving the loaded one; a newer version is tried when it comes */
    }
    if (av_detect_current_replace(w->cur, p)) {
        av_detect_pipeline_close(p);
        av_log(AV_LOG_ERROR, "models_reload_failed", "dir", dir, "error", "out of memory", NULL);
        return;
    }
    av_log(AV_LOG_INFO, "models_reloaded", "version", ver, "dir", dir, NULL);
}

static void *loop(void *arg)
{
    av_train_watch *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        struct timespec until;
        av_base_deadline(&until, w->interval_ms);
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
        if (w->stopping)
            break;
        pthread_mutex_unlock(&w->mu);
        long long v = av_train_latest_served(w->base);
        if (v > w->seen) { /* a rollback is promoted as a newer number too */
            w->seen = v;
            load(w, v);
        }
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

av_train_status av_train_watch_start(const char *base_dir, const av_detect_open_opts *oo,
                                     av_detect_current *cur, int interval_ms,
                                     av_train_watch **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!base_dir || !*base_dir || strlen(base_dir) >= sizeof((av_train_watch *)0)->base ||
        !cur) {
        snprintf(err, errlen, "watch: bad base path");
        return AV_TRAIN_E_ARG;
    }
    av_train_watch *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return AV_TRAIN_E_NOMEM;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    snprintf(w->base, sizeof w->base, "%s", base_dir);
    if (oo)
        w->oo = *oo;
    w->cur = cur;
    w->interval_ms = interval_ms > 0 ? interval_ms : 2000;
    w->seen = av_train_latest_served(base_dir);
    if (pthread_create(&w->th, NULL, loop, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        snprintf(err, errlen, "watch: cannot start a thread");
        return AV_TRAIN_E_NOMEM;
    }
    *out = w;
    return AV_TRAIN_OK;
}

void av_train_watch_stop(av_train_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
