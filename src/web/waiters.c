/*
 * waiters.c - a results page or API call for an image still being analysed
 * waits without holding an HTTP thread: its connection is suspended and
 * this module's thread resumes it when the analysis is over (here, or on
 * another node: then seen in the database) or after analysis_wait_ms.
 * libmicrohttpd then calls the handler again, which answers with what is
 * stored by then. A blocked handler would stall every other connection its
 * worker thread serves.
 */
#include "web/internal.h"
#include "base/base.h"

#include "log/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_WAITERS 4096 /* beyond: answer at once ("pending", refreshing) */
#define TICK_MS 25       /* how often local jobs are looked at */
#define DB_EVERY_MS 200  /* how often the database is asked (other nodes' results) */

typedef struct waiter {
    struct MHD_Connection *c;
    av_web__req *r;
    char id[AV_STORE_ID_LEN + 1];
    double deadline_ms, next_db_ms;
} waiter;

struct av_web__waiters {
    av_web *web;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    waiter *w;
    int n, cap, stopping;
    pthread_t thread;
};

/* Over: no local job left for it (or only a retry waiting out its backoff),
 * and, when none ran here, the database no longer says pending. */
static int over(av_web *web, waiter *x, double now)
{
    if (now >= x->deadline_ms)
        return 1;
    if (av_web__jobs_active(web->jobs, x->id))
        return 0;
    if (now < x->next_db_ms)
        return 0;
    x->next_db_ms = now + DB_EVERY_MS;
    av_store_image img;
    char err[256];
    if (av_store_image_get(web->o.store, x->id, 0, &img, err, sizeof err) != AV_STORE_OK)
        return 1; /* the handler will say what is wrong */
    return strcmp(img.status, "pending") != 0 || img.error[0];
}

static void *run(void *arg)
{
    av_web__waiters *ws = arg;
    pthread_mutex_lock(&ws->mu);
    while (!ws->stopping) {
        /* check outside the lock (database calls); only this thread removes */
        int n = ws->n;
        waiter *snap = n ? malloc((size_t)n * sizeof *snap) : NULL;
        if (snap)
            memcpy(snap, ws->w, (size_t)n * sizeof *snap);
        pthread_mutex_unlock(&ws->mu);
        double now = av_base_now_ms();
        char *done = snap ? calloc((size_t)n, 1) : NULL;
        for (int i = 0; done && i < n; i++)
            done[i] = (char)over(ws->web, &snap[i], now);
        pthread_mutex_lock(&ws->mu);
        for (int i = 0; done && i < n; i++) {
            if (!done[i]) {
                ws->w[i].next_db_ms = snap[i].next_db_ms;
                continue;
            }
            ws->w[i].r->waited = 1;
            MHD_resume_connection(ws->w[i].c);
            ws->w[i].c = NULL;
        }
        int k = 0; /* compact; entries added meanwhile sit past n and are kept */
        for (int i = 0; i < ws->n; i++)
            if (ws->w[i].c)
                ws->w[k++] = ws->w[i];
        ws->n = k;
        free(snap);
        free(done);
        struct timespec until;
        av_base_deadline(&until, TICK_MS);
        if (!ws->stopping)
            pthread_cond_timedwait(&ws->cv, &ws->mu, &until);
    }
    pthread_mutex_unlock(&ws->mu);
    return NULL;
}

int av_web__waiters_start(av_web *web, av_web__waiters **out, char *err, size_t errlen)
{
    *out = NULL;
    av_web__waiters *ws = calloc(1, sizeof *ws);
    if (!ws) {
        snprintf(err, errlen, "web: out of memory");
        return -1;
    }
    ws->web = web;
    pthread_mutex_init(&ws->mu, NULL);
    pthread_cond_init(&ws->cv, NULL);
    if (pthread_create(&ws->thread, NULL, run, ws)) {
        pthread_mutex_destroy(&ws->mu);
        pthread_cond_destroy(&ws->cv);
        free(ws);
        snprintf(err, errlen, "web: cannot start the waiting thread");
        return -1;
    }
    *out = ws;
    return 0;
}

int av_web__wait_async(av_web__waiters *ws, av_web__req *r, const char *id, int wait_ms)
{
    if (!ws || !r)
        return -1;
    struct MHD_Connection *c = r->c;
    pthread_mutex_lock(&ws->mu);
    if (ws->stopping || ws->n >= MAX_WAITERS) {
        pthread_mutex_unlock(&ws->mu);
        return -1;
    }
    if (ws->n == ws->cap) {
        int cap = ws->cap ? ws->cap * 2 : 64;
        waiter *nw = realloc(ws->w, (size_t)cap * sizeof *nw);
        if (!nw) {
            pthread_mutex_unlock(&ws->mu);
            return -1;
        }
        ws->w = nw;
        ws->cap = cap;
    }
    waiter *x = &ws->w[ws->n++];
    x->c = c;
    x->r = r;
    snprintf(x->id, sizeof x->id, "%s", id);
    double now = av_base_now_ms();
    x->deadline_ms = now + (wait_ms > 0 ? wait_ms : 1);
    x->next_db_ms = now;
    /* suspended under the lock: the thread cannot resume it before */
    MHD_suspend_connection(c);
    pthread_mutex_unlock(&ws->mu);
    return 0;
}

void av_web__waiters_stop(av_web__waiters *ws)
{
    if (!ws)
        return;
    pthread_mutex_lock(&ws->mu);
    ws->stopping = 1;
    pthread_cond_broadcast(&ws->cv);
    pthread_mutex_unlock(&ws->mu);
    pthread_join(ws->thread, NULL);
    /* the daemon may not stop with suspended connections: let them answer */
    for (int i = 0; i < ws->n; i++) {
        ws->w[i].r->waited = 1;
        MHD_resume_connection(ws->w[i].c);
    }
    ws->n = 0;
}

void av_web__waiters_free(av_web__waiters *ws)
{
    if (!ws)
        return;
    pthread_mutex_destroy(&ws->mu);
    pthread_cond_destroy(&ws->cv);
    free(ws->w);
    free(ws);
}
