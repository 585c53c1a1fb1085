/*
 * birds_cache.c - every bird after review, compact, kept in memory for the
 * life list, activity and the review queue: reading and joining every
 * detection with its review costs about 10 ms per thousand uploads, so it
 * is read again only when av_store_birds_version says something changed
 * (any node's upload, analysis, review or delete). Snapshots are
 * reference-counted: a page keeps its snapshot while a newer one is built.
 * Camera visits (issue 19) are read into the same snapshot, so the life
 * list, a species' page and activity count them without a query of their own.
 */
#include "web/internal.h"

#include "camera/camera.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BIRDS_CACHED 5000000
#define MAX_VISITS_CACHED 2000000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static av_web__birds *current;

typedef struct build {
    av_web__birds *b;
    int cap, cap_sp, cap_v, failed;
} build;

static int species_of(build *x, const char *sci, const char *common)
{
    av_web__birds *b = x->b;
    if (!sci[0])
        return -1;
    for (int i = b->n_species - 1; i >= 0; i--)
        if (!strcmp(b->species[i].scientific, sci)) {
            if (!b->species[i].common[0] && common[0])
                snprintf(b->species[i].common, sizeof b->species[i].common, "%s", common);
            return i;
        }
    if (b->n_species == x->cap_sp) {
        int cap = x->cap_sp ? x->cap_sp * 2 : 64;
        av_web__label *v = realloc(b->species, (size_t)cap * sizeof *v);
        if (!v) {
            x->failed = 1;
            return -1;
        }
        b->species = v, x->cap_sp = cap;
    }
    av_web__label *l = &b->species[b->n_species];
    snprintf(l->scientific, sizeof l->scientific, "%s", sci);
    snprintf(l->common, sizeof l->common, "%s", common);
    return b->n_species++;
}

static int add(void *ud, const av_store_bird *s)
{
    build *x = ud;
    av_web__birds *b = x->b;
    if (b->n >= MAX_BIRDS_CACHED)
        return 1;
    if (b->n == x->cap) {
        int cap = x->cap ? x->cap * 2 : 1024;
        av_web__bird *v = realloc(b->v, (size_t)cap * sizeof *v);
        if (!v) {
            x->failed = 1;
            return 1;
        }
        b->v = v, x->cap = cap;
    }
    av_web__bird *d = &b->v[b->n];
    memset(d, 0, sizeof *d);
    memcpy(d->image_id, s->image_id, sizeof d->image_id);
    memcpy(d->ext, s->ext, sizeof d->ext);
    memcpy(d->seen, s->seen_at, sizeof d->seen - 1);
    d->box = s->box;
    d->action = s->action;
    d->is_video = s->is_video;
    d->score = s->score;
    d->sp = species_of(x, s->species, s->common_name);
    b->n++;
    return x->failed;
}

static int add_visit(void *ud, const av_store_camera_visit *s)
{
    build *x = ud;
    av_web__birds *b = x->b;
    if (b->n_visits >= MAX_VISITS_CACHED)
        return 1;
    if (s->review == AV_REVIEW_NOT_BIRD)
        return 0;
    if (b->n_visits == x->cap_v) {
        int cap = x->cap_v ? x->cap_v * 2 : 256;
        av_web__visit *v = realloc(b->visits, (size_t)cap * sizeof *v);
        if (!v) {
            x->failed = 1;
            return 1;
        }
        b->visits = v, x->cap_v = cap;
    }
    av_web__visit *d = &b->visits[b->n_visits];
    memset(d, 0, sizeof *d);
    d->id = s->id;
    snprintf(d->camera, sizeof d->camera, "%s", s->camera);
    char t[32];
    av_camera_iso(s->first_ms, t);
    snprintf(d->seen, sizeof d->seen, "%.19s", t);
    av_camera_iso(s->last_ms, t);
    snprintf(d->last, sizeof d->last, "%.19s", t);
    d->score = s->score;
    d->has_jpeg = s->has_jpeg;
    d->reviewed = s->review != 0;
    d->sp = s->review == AV_REVIEW_SPECIES
                ? species_of(x, s->review_species, s->review_common)
                : species_of(x, s->species, s->common_name);
    b->n_visits++;
    return x->failed;
}

static void birds_free(av_web__birds *b)
{
    free(b->v);
    free(b->visits);
    free(b->species);
    free(b);
}

void av_web__birds_put(av_web__birds *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&mu);
    int last = --b->refs == 0;
    pthread_mutex_unlock(&mu);
    if (last)
        birds_free(b);
}

int av_web__birds_get(av_web *w, av_web__birds **out, char *err, size_t errlen)
{
    *out = NULL;
    char version[200];
    if (av_store_birds_version(w->o.store, version, sizeof version, err, errlen) != AV_STORE_OK)
        return -1;
    pthread_mutex_lock(&mu);
    if (current && current->store == w->o.store && !strcmp(current->version, version)) {
        current->refs++;
        *out = current;
        pthread_mutex_unlock(&mu);
        return 0;
    }
    pthread_mutex_unlock(&mu);
    /* Build outside the lock: readers of the old snapshot go on meanwhile. */
    build x = {calloc(1, sizeof(av_web__birds)), 0, 0, 0};
    if (!x.b) {
        snprintf(err, errlen, "birds: out of memory");
        return -1;
    }
    if (av_store_birds_each(w->o.store, NULL, add, &x, err, errlen) != AV_STORE_OK ||
        x.failed ||
        av_store_camera_visits_each(w->o.store, add_visit, &x, err, errlen) != AV_STORE_OK ||
        x.failed) {
        if (x.failed)
            snprintf(err, errlen, "birds: out of memory");
        birds_free(x.b);
        return -1;
    }
    snprintf(x.b->version, sizeof x.b->version, "%s", version);
    x.b->store = w->o.store;
    x.b->refs = 2; /* the cache's and the caller's */
    pthread_mutex_lock(&mu);
    av_web__birds *old = current;
    current = x.b;
    pthread_mutex_unlock(&mu);
    av_web__birds_put(old);
    *out = x.b;
    return 0;
}
