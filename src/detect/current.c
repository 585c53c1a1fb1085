/*
 * current.c - the pipeline a node serves now, replaceable while requests
 * run: each request holds the one it started with, so a swap never pulls
 * models from under it; a replaced pipeline is closed by its last user.
 */
#include "detect/detect.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct held {
    av_detect_pipeline *p;
    int refs;
    int owned;          /* 0: the caller's first pipeline, never closed here */
    struct held *next;
} held;

struct av_detect_current {
    pthread_mutex_t mu;
    held *cur;          /* served now */
    held *old;          /* replaced, still in use */
    unsigned long long swaps;
};

int av_detect_current_new(av_detect_pipeline *first, av_detect_current **out)
{
    *out = NULL;
    av_detect_current *c = calloc(1, sizeof *c);
    held *h = calloc(1, sizeof *h);
    if (!c || !h) {
        free(c);
        free(h);
        return -1;
    }
    pthread_mutex_init(&c->mu, NULL);
    h->p = first;
    c->cur = h;
    *out = c;
    return 0;
}

av_detect_pipeline *av_detect_current_acquire(av_detect_current *c)
{
    pthread_mutex_lock(&c->mu);
    c->cur->refs++;
    av_detect_pipeline *p = c->cur->p;
    pthread_mutex_unlock(&c->mu);
    return p;
}

/* Close h when it is replaced and unused; called with mu held. */
static void drop_if_done(av_detect_current *c, held *h)
{
    if (h == c->cur || h->refs > 0)
        return;
    for (held **pp = &c->old; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    if (h->owned)
        av_detect_pipeline_close(h->p);
    free(h);
}

void av_detect_current_release(av_detect_current *c, av_detect_pipeline *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&c->mu);
    held *h = c->cur->p == p ? c->cur : NULL;
    for (held *o = c->old; !h && o; o = o->next)
        if (o->p == p && o->refs > 0)
            h = o;
    if (h) {
        h->refs--;
        drop_if_done(c, h);
    }
    pthread_mutex_unlock(&c->mu);
}

int av_detect_current_replace(av_detect_current *c, av_detect_pipeline *p)
{
    held *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    h->p = p;
    h->owned = 1;
    pthread_mutex_lock(&c->mu);
    held *prev = c->cur;
    c->cur = h;
    prev->next = c->old;
    c->old = prev;
    c->swaps++;
    drop_if_done(c, prev);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

unsigned long long av_detect_current_swaps(av_detect_current *c)
{
    pthread_mutex_lock(&c->mu);
    unsigned long long n = c->swaps;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void av_detect_current_free(av_detect_current *c)
{
    if (!c)
        return;
    held *lists[2] = {c->cur, c->old};
    for (int k = 0; k < 2; k++)
        for (held *h = lists[k], *next; h; h = next) {
            next = k ? h->next : NULL;
            if (h->owned)
                av_detect_pipeline_close(h->p);
            free(h);
        }
    pthread_mutex_destroy(&c->mu);
    free(c);
}
