/*
 * batch.c - dynamic batching for predict: a bounded queue of tasks (one
 * per request, its images decoded by the HTTP worker within a pixel
 * budget, the rest decoded here just before they run) and one
 * set of threads per model (TF Serving's num_batch_threads) that group them
 * and run each group back to back, one group per thread at a time.
 *
 * Grouping: the thread takes the oldest task, waits until wait_ms after it
 * was queued or until the tasks on the same version hold max images, then
 * runs every such task (oldest first, while the total stays <= max; the
 * first task always goes, even when it alone holds more than max). Tasks
 * on another version stay queued for the next batch.
 *
 * What a batch shares: one thread and, since runs follow each other on it,
 * one warm engine context from the pipeline's pool (av_detect_run_rgb per
 * image). It does NOT share a forward pass: the engine plans each graph
 * for batch 1 at load (NanoDet's TF.js graph declares [1,3,416,416] and
 * reshapes to constant [1,80,-1] targets; the species TFLite model has a
 * fixed batch of 1), so running N images at once would need every graph
 * re-inferred and re-planned for batch N with its reshape targets
 * rewritten. Results are therefore exactly the unbatched ones.
 *
 * Bound: at most queue_cap tasks wait (the running batch is not counted);
 * a submit beyond that fails at once and the request gets 503.
 */
#include "serving/internal.h"

#include "vision/vision.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

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

static void run_task(const av_serving__batcher *b, av_serving__task *t)
{
    av_detect_run_opts ro = {.top_k = b->top_k, .max_pixels = b->max_pixels};
    t->st = AV_DETECT_OK;
    for (int i = 0; i < t->n; i++) {
        av_image *own = NULL; /* decoded here: the worker's budget was spent */
        const av_image *im = t->imgs[i];
        if (!im) {
            t->st = av_serving__decode(t->enc[i].bytes, t->enc[i].len, t->enc[i].max_bytes,
                                       b->max_pixels, &own, t->err, sizeof t->err);
            im = own;
        }
        if (im)
            t->st = av_detect_run_rgb(t->v->pipe, im->width, im->height, im->data, &ro,
                                      &t->res[i], t->err, sizeof t->err);
        av_img_free(own);
        if (t->st != AV_DETECT_OK) {
            for (int k = 0; k < i; k++)
                av_detect_result_free(&t->res[k]);
            break;
        }
    }
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
            double left = b->head->enqueued_ms + b->wait_ms - now_ms();
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

        for (av_serving__task *t = list; t; t = t->next)
            run_task(b, t);
        av_serving__metrics_batch(b->metrics, images);

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
    t->enqueued_ms = now_ms();
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
