/*
 * batch.c - dynamic batching for predict: a bounded queue of tasks (one
 * per request, its images decoded by the HTTP worker within a pixel
 * budget, the rest decoded here just before they run) and one
 * set of threads per model (TF Serving's num_batch_threads) that group them
 * and run each group as one av_detect_run_batch, one group per thread at a
 * time.
 *
 * Grouping: the thread takes the oldest task, waits until wait_ms after it
 * was queued or until the tasks on the same version hold max images, then
 * runs every such task (oldest first, while the total stays <= max; the
 * first task always goes, even when it alone holds more than max). Tasks
 * on another version stay queued for the next batch.
 *
 * What a batch shares: one thread, one pipeline worker and the detector's
 * forward pass: the images of all its tasks go through av_detect_run_batch,
 * which runs the detector once for up to 8 images on a context planned for
 * that many (the engine re-plans the graph for batch N) and the bird crops
 * of all of them in batched species runs. A detector the engine cannot
 * batch (CenterNet: a reshape in tower_0/BatchGather) runs one image at a
 * time instead, logged once. Either way results equal unbatched runs
 * (NanoDet at batch N is bit-identical to batch 1 on XNNPACK), and a bad
 * image fails only its own request. /metrics counts detector runs.
 *
 * Bound: at most queue_cap tasks wait (the running batch is not counted);
 * a submit beyond that fails at once and the request gets 503.
 */
#include "serving/internal.h"
#include "base/base.h"

#include "vision/vision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Images queued on version v (caller holds mu). */
static int images_on(const av_serving__batcher *b, const av_serving__version *v)
{
    int n = 0;
    for (const av_serving__task *t = b->head; t; t = t->next)
        if (t->v == v)
            n += t->n;
    return n;
}

/* Unlink the next batch from the queue into a list (caller holds mu). */
static av_serving__task *take_batch(av_serving__batcher *b, int *images)
{
    av_serving__version *v = b->head->v;
    av_serving__task *list = NULL, **tail = &list, **pp = &b->head, *prev = NULL;
    int total = 0;
    while (*pp) {
        av_serving__task *t = *pp;
        if (t->v == v && (total == 0 || total + t->n <= b->max)) {
            *pp = t->next;
            if (b->tail == t)
                b->tail = prev;
            t->next = NULL;
            *tail = t;
            tail = &t->next;
            total += t->n;
            b->queued--;
        } else {
            prev = t;
            pp = &t->next;
        }
    }
    *images = total;
    return list;
}

av_detect_status av_serving__decode(const void *bytes, size_t len, long long max_bytes,
                                    long long max_pixels, av_image **out, char *err,
                                    size_t errlen)
{
    av_vision_decode_opts o;
    memset(&o, 0, sizeof o);
    o.limits.max_bytes = max_bytes;
    o.limits.max_pixels = max_pixels;
    av_vision_status vs = av_vision_decode(bytes, len, &o, out, NULL, err, errlen);
    if (vs == AV_VISION_OK)
        return AV_DETECT_OK;
    *out = NULL;
    return vs == AV_VISION_E_LIMIT   ? AV_DETECT_E_LIMIT
           : vs == AV_VISION_E_NOMEM ? AV_DETECT_E_NOMEM
                                     : AV_DETECT_E_IMAGE;
}

/* Every image of the tasks in list (images in all) through shared
 * detector runs; each task gets its first failure (its other results
 * freed) or all its results. Images the HTTP workers left encoded are
 * decoded in there, a chunk at a time, within the same limits. */
static void run_tasks(const av_serving__batcher *b, av_serving__task *list, int images,
                      int *det_runs)
{
    enum { ERRLEN = 512 };
    int cap = images < AV_DETECT_BATCH_MAX ? images : AV_DETECT_BATCH_MAX;
    av_detect_image *ims = calloc((size_t)(cap > 0 ? cap : 1), sizeof *ims);
    av_detect_result *rs = calloc((size_t)(cap > 0 ? cap : 1), sizeof *rs);
    av_detect_status *sts = calloc((size_t)(cap > 0 ? cap : 1), sizeof *sts);
    char *errs = malloc((size_t)(cap > 0 ? cap : 1) * ERRLEN);
    av_detect_run_opts ro = {.top_k = b->top_k, .max_pixels = b->max_pixels};
    *det_runs = 0;
    for (av_serving__task *t = list; t; t = t->next) {
        t->st = AV_DETECT_OK;
        t->err[0] = '\0';
    }
    /* Fill up to cap images (task, image) in queue order, run, hand out. */
    av_serving__task *t = list;
    int i = 0; /* next image of t */
    while (t) {
        if (t->n <= 0) {
            t = t->next;
            continue;
        }
        if (!ims || !rs || !sts || !errs) {
            t->st = AV_DETECT_E_NOMEM;
            snprintf(t->err, sizeof t->err, "serving: out of memory for a batch");
            t = t->next;
            continue;
        }
        av_serving__task *first = t;
        int first_i = i, n = 0;
        for (av_serving__task *u = t; u && n < cap; u = u->next) {
            for (int k = u == first ? first_i : 0; k < u->n && n < cap; k++, n++) {
                const av_image *im = u->imgs[k];
                ims[n] = im ? (av_detect_image){.rgb = im->data, .width = im->width,
                                                .height = im->height}
                            : (av_detect_image){.bytes = u->enc[k].bytes, .len = u->enc[k].len,
                                                .max_bytes = u->enc[k].max_bytes};
            }
        }
        int runs = 0;
        av_detect_run_batch(t->v->pipe, n, ims, &ro, rs, sts, errs, ERRLEN, &runs);
        *det_runs += runs;
        for (int k = 0; k < n; k++) {
            if (sts[k] == AV_DETECT_OK && t->st == AV_DETECT_OK) {
                t->res[i] = rs[k];
            } else {
                av_detect_result_free(&rs[k]);
                if (t->st == AV_DETECT_OK) { /* its first failure; drop what it got */
                    t->st = sts[k];
                    snprintf(t->err, sizeof t->err, "%s", errs + (size_t)k * ERRLEN);
                    for (int q = 0; q < i; q++)
                        av_detect_result_free(&t->res[q]);
                }
            }
            if (++i == t->n) {
                do /* requests always hold an image; skip any that does not */
                    t = t->next;
                while (t && t->n <= 0);
                i = 0;
            }
        }
    }
    free(ims);
    free(rs);
    free(sts);
    free(errs);
}

static void *batch_main(void *arg)
{
    av_serving__batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        if (!b->head) {
            if (b->stopping)
                break;
            pthread_cond_wait(&b->cv, &b->mu);
            continue;
        }
        /* Let the batch fill: until the oldest task has waited wait_ms or
         * max images are queued for its version. Stopping runs at once.
         * Another batch thread may take the head meanwhile: re-check all. */
        if (!b->stopping && images_on(b, b->head->v) < b->max) {
            double left = b->head->enqueued_ms + b->wait_ms - av_base_now_ms();
            if (left > 0) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                long long ns = ts.tv_nsec + (long long)(left * 1e6);
                ts.tv_sec += (time_t)(ns / 1000000000LL);
                ts.tv_nsec = (long)(ns % 1000000000LL);
                pthread_cond_timedwait(&b->cv, &b->mu, &ts);
                continue;
            }
        }
        int images = 0;
        av_serving__task *list = take_batch(b, &images);
        pthread_mutex_unlock(&b->mu);

        int det_runs = 0;
        run_tasks(b, list, images, &det_runs);
        av_serving__metrics_batch(b->metrics, images, det_runs);

        pthread_mutex_lock(&b->mu);
        for (av_serving__task *t = list, *next; t; t = next) {
            next = t->next; /* t belongs to its submitter again once woken */
            void (*wake)(void *) = t->wake;
            void *ud = t->ud;
            t->done = 1;
            if (wake)
                wake(ud);
        }
        pthread_cond_broadcast(&b->done_cv);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int av_serving__batcher_start(av_serving__batcher *b, int max, int wait_ms, int queue_cap,
                              int threads, int top_k, long long max_pixels,
                              long long px_budget, av_serving__metrics *metrics, char *err,
                              size_t errlen)
{
    memset(b, 0, sizeof *b);
    b->max = max > AV_SERVING_MAX_BATCH ? AV_SERVING_MAX_BATCH : max;
    b->wait_ms = wait_ms > 0 ? (wait_ms > 60000 ? 60000 : wait_ms) : 0;
    b->queue_cap = queue_cap > 0 ? queue_cap : 64;
    b->top_k = top_k;
    b->max_pixels = max_pixels;
    b->px_budget = px_budget;
    b->metrics = metrics;
    if (threads < 1)
        threads = 1;
    if (threads > AV_SERVING_MAX_BATCH_THREADS)
        threads = AV_SERVING_MAX_BATCH_THREADS;
    if (pthread_mutex_init(&b->mu, NULL)) {
        snprintf(err, errlen, "serving: cannot create the batch mutex");
        return -1;
    }
    if (pthread_cond_init(&b->cv, NULL)) {
        pthread_mutex_destroy(&b->mu);
        snprintf(err, errlen, "serving: cannot create the batch condition");
        return -1;
    }
    if (pthread_cond_init(&b->done_cv, NULL)) {
        pthread_cond_destroy(&b->cv);
        pthread_mutex_destroy(&b->mu);
        snprintf(err, errlen, "serving: cannot create the batch condition");
        return -1;
    }
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&b->th[i], NULL, batch_main, b) == 0) {
            b->n_threads++;
            continue;
        }
        pthread_mutex_lock(&b->mu);
        b->stopping = 1;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        for (int k = 0; k < b->n_threads; k++)
            pthread_join(b->th[k], NULL);
        pthread_cond_destroy(&b->done_cv);
        pthread_cond_destroy(&b->cv);
        pthread_mutex_destroy(&b->mu);
        snprintf(err, errlen, "serving: cannot start the batch threads");
        return -1;
    }
    b->started = 1;
    return 0;
}

void av_serving__batcher_stop(av_serving__batcher *b)
{
    if (!b->started)
        return;
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->n_threads; i++)
        pthread_join(b->th[i], NULL); /* the threads drain the queue before they end */
    b->started = 0;
    b->joined = 1;
}

void av_serving__batcher_free(av_serving__batcher *b)
{
    if (!b->joined)
        return;
    pthread_cond_destroy(&b->done_cv);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    b->joined = 0;
}

int av_serving__batcher_submit(av_serving__batcher *b, av_serving__task *t)
{
    pthread_mutex_lock(&b->mu);
    if (b->stopping || b->queued >= b->queue_cap) {
        pthread_mutex_unlock(&b->mu);
        return -1;
    }
    t->done = 0;
    t->next = NULL;
    t->enqueued_ms = av_base_now_ms();
    if (b->tail)
        b->tail->next = t;
    else
        b->head = t;
    b->tail = t;
    b->queued++;
    if (t->park)
        t->park(t->ud); /* before the batcher can run it, so wake follows park */
    pthread_cond_broadcast(&b->cv); /* every batch thread re-checks the fill */
    pthread_mutex_unlock(&b->mu);
    return 0;
}

int av_serving__batcher_reserve(av_serving__batcher *b, long long px)
{
    pthread_mutex_lock(&b->mu);
    int ok = px >= 0 && px <= b->px_budget - b->px_held;
    if (ok)
        b->px_held += px;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

void av_serving__batcher_unreserve(av_serving__batcher *b, long long px)
{
    pthread_mutex_lock(&b->mu);
    b->px_held -= px;
    pthread_mutex_unlock(&b->mu);
}

void av_serving__batcher_wait(av_serving__batcher *b, av_serving__task *t)
{
    pthread_mutex_lock(&b->mu);
    while (!t->done)
        pthread_cond_wait(&b->done_cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}
