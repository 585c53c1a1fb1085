/*
 * par_fixture.h - parallel-for callbacks (av_vision_par's run) for tests:
 * tp_run_threads gives each task a real thread, so tasks really overlap;
 * tp_run_reversed runs them last to first on the caller, so code that
 * depends on running in order shows. Header-only, static functions.
 */
#ifndef AV_T_PAR_FIXTURE_H
#define AV_T_PAR_FIXTURE_H

#include <pthread.h>
#include <stddef.h>

#include "harness.h"
#include "vision/vision.h"

#define TP_MAX_TASKS 64

typedef struct tp_task {
    av_vision_task_fn fn;
    void *ctx;
    size_t i;
} tp_task;

static inline void *tp_task_main(void *a)
{
    tp_task *t = a;
    t->fn(t->ctx, t->i);
    return NULL;
}

static inline void tp_run_threads(void *pool, av_vision_task_fn fn, void *ctx, size_t n)
{
    (void)pool;
    pthread_t th[TP_MAX_TASKS];
    tp_task a[TP_MAX_TASKS];
    CHECK(n <= TP_MAX_TASKS);
    for (size_t i = 0; i < n; i++) {
        a[i] = (tp_task){fn, ctx, i};
        CHECK(pthread_create(&th[i], NULL, tp_task_main, &a[i]) == 0);
    }
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

static inline void tp_run_reversed(void *pool, av_vision_task_fn fn, void *ctx, size_t n)
{
    (void)pool;
    for (size_t i = n; i-- > 0;)
        fn(ctx, i);
}

#endif
