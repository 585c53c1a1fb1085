/*
 * dataset.c - the training set: every current review that names a species
 * (confirm, another species, an added bird with a species), its box cut
 * from the stored image exactly as the pipeline cuts a bird crop and run
 * through the species model to its head's input (av_detect_box_features).
 */
#include "train/train.h"
#include "base/base.h"

#include "store/store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct rlist {
    av_store_review *r;
    int n, skipped;
    size_t cap;
} rlist;

static int collect(void *ud, const av_store_review *r)
{
    rlist *l = ud;
    int named = (r->action == AV_REVIEW_CONFIRM || r->action == AV_REVIEW_SPECIES ||
                 r->action == AV_REVIEW_ADDED) &&
                r->species[0];
    if (!named)
        return 0; /* not a bird, a duplicate, or an unidentified added bird */
    if (r->is_video) {
        l->skipped++; /* box in a video frame: the stored blob is the video */
        return 0;
    }
    if (av_base_grow((void **)&l->r, &l->cap, (size_t)l->n + 1, sizeof *l->r))
        return 1;
    l->r[l->n++] = *r;
    return 0;
}

void av_train_dataset_free(av_train_dataset *d)
{
    free(d->s);
    free(d->feat);
    free(d->names);
    free(d->commons);
    memset(d, 0, sizeof *d);
}

void av_train_sha256(const void *data, size_t len, char hex[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    sodium_bin2hex(hex, 65, h, sizeof h);
}

#define FEATURE_THREADS 4

/* Feature extraction shared by threads: each takes the next image group. */
typedef struct feat_job {
    av_store *s;
    av_detect_pipeline *p;
    const av_store_review *r;
    const int *g0;         /* group g is reviews g0[g] .. g0[g + 1] */
    int ng, next, dim;
    float *feat;           /* review k's features at k * dim */
    av_detect_status *gst; /* per group; (av_detect_status)-1: image gone */
    char err[512];         /* the first fatal failure's message */
    pthread_mutex_t mu;
} feat_job;

static void *feat_main(void *arg)
{
    feat_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int g = j->next < j->ng ? j->next++ : -1;
        pthread_mutex_unlock(&j->mu);
        if (g < 0)
            return NULL;
        int i = j->g0[g], n = j->g0[g + 1] - i;
        char e[512];
        av_store_image img;
        float *boxes = malloc((size_t)n * 4 * sizeof *boxes);
        if (!boxes) {
            j->gst[g] = AV_DETECT_E_NOMEM;
            continue;
        }
        if (av_store_image_get(j->s, j->r[i].image_id, 1, &img, e, sizeof e) != AV_STORE_OK) {
            j->gst[g] = (av_detect_status)-1;
            free(boxes);
            continue;
        }
        for (int k = 0; k < n; k++) {
            const av_store_review *r = &j->r[i + k];
            boxes[4 * k] = (float)r->x1, boxes[4 * k + 1] = (float)r->y1;
            boxes[4 * k + 2] = (float)r->x2, boxes[4 * k + 3] = (float)r->y2;
        }
        j->gst[g] = av_detect_box_features(j->p, img.blob, img.blob_len, NULL, n, boxes,
                                           j->feat + (size_t)i * j->dim, e, sizeof e);
        av_store_image_clear(&img);
        free(boxes);
        if (j->gst[g] != AV_DETECT_OK) {
            pthread_mutex_lock(&j->mu);
            if (!j->err[0])
                snprintf(j->err, sizeof j->err, "%s", e);
            pthread_mutex_unlock(&j->mu);
        }
    }
}

/* Class of a species name: a base label's scientific part, or a new class. */
static int class_of(av_train_dataset *d, const char *sci, const char *common)
{
    for (int c = 0; c < d->n_classes; c++)
        if (c != d->background && !strcmp(d->names[c], sci))
            return c;
    int c = d->n_classes++;
    snprintf(d->names[c], sizeof d->names[c], "%s", sci);
    snprintf(d->commons[c], sizeof d->commons[c], "%s", common);
    d->n_new_classes++;
    return c;
}

av_train_status av_train_dataset_build(av_store *s, av_detect_pipeline *p,
                                       const av_detect_head *base, const char *const *labels,
                                       int background, av_train_dataset *d, char *err,
                                       size_t errlen)
{
    memset(d, 0, sizeof *d);
    rlist l = {0};
    char e[512];
    if (av_store_reviews_each(s, collect, &l, e, sizeof e) != AV_STORE_OK) {
        free(l.r);
        snprintf(err, errlen, "reading reviews: %s", e);
        return AV_TRAIN_E_STORE;
    }
    d->dim = base->dim;
    d->n_base = base->n_classes;
    d->background = background;
    d->skipped = l.skipped;
    size_t maxc = (size_t)base->n_classes + (size_t)l.n;
    d->s = calloc((size_t)(l.n ? l.n : 1), sizeof *d->s);
    d->feat = malloc((size_t)(l.n ? l.n : 1) * (size_t)d->dim * sizeof *d->feat);
    d->names = calloc(maxc, sizeof *d->names);
    d->commons = calloc(maxc, sizeof *d->commons);
    if (!d->s || !d->feat || !d->names || !d->commons) {
        free(l.r);
        av_train_dataset_free(d);
        snprintf(err, errlen, "dataset: out of memory for %d reviews", l.n);
        return AV_TRAIN_E_NOMEM;
    }
    for (int c = 0; c < base->n_classes; c++)
        av_detect_split_label(labels[c], d->names[c], sizeof d->names[c], d->commons[c],
                              sizeof d->commons[c]);
    d->n_classes = base->n_classes;
    /* the snapshot's identity: every (image, box, species) in order */
    char *list = malloc((size_t)(l.n ? l.n : 1) * 200);
    size_t ll = 0;
    for (int i = 0; list && i < l.n; i++) {
        int k = snprintf(list + ll, 200, "%.40s %d %.0f %.0f %.0f %.0f %.80s\n", l.r[i].image_id,
                         l.r[i].box, l.r[i].x1, l.r[i].y1, l.r[i].x2, l.r[i].y2, l.r[i].species);
        ll += k > 0 && k < 200 ? (size_t)k : 199; /* each line fits its 200 bytes */
    }
    av_train_sha256(list ? list : "", list ? ll : 0, d->sha256);
    free(list);
    /* reviews come ordered by image: one group (one decode) per image, the
     * groups shared out to a few threads (the pipeline is thread-safe) */
    int ng = 0;
    int *g0 = malloc((size_t)(l.n + 1) * sizeof *g0);
    for (int i = 0; g0 && i < l.n; i++)
        if (i == 0 || strcmp(l.r[i].image_id, l.r[i - 1].image_id))
            g0[ng++] = i;
    if (g0)
        g0[ng] = l.n;
    feat_job job = {.s = s, .p = p, .r = l.r, .g0 = g0, .ng = ng, .feat = d->feat,
                    .dim = d->dim, .gst = calloc((size_t)(ng ? ng : 1), sizeof *job.gst)};
    av_train_status st = g0 && job.gst ? AV_TRAIN_OK : AV_TRAIN_E_NOMEM;
    pthread_mutex_init(&job.mu, NULL);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = cpus > 1 ? (cpus < FEATURE_THREADS ? (int)cpus : FEATURE_THREADS) : 1, started = 0;
    pthread_t th[FEATURE_THREADS];
    for (int t = 1; !st && t < nt; t++)
        started += pthread_create(&th[started], NULL, feat_main, &job) == 0;
    if (!st)
        feat_main(&job);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&job.mu);
    for (int g = 0; !st && g < ng; g++) {
        int i = g0[g], j = g0[g + 1];
        av_detect_status ds = job.gst[g];
        if (ds == AV_DETECT_E_IMAGE || ds == AV_DETECT_E_LIMIT || ds == AV_DETECT_E_ARG ||
            ds == (av_detect_status)-1) {
            d->skipped += j - i; /* undecodable, or deleted since it was reviewed */
        } else if (ds != AV_DETECT_OK) {
            snprintf(err, errlen, "features of image %s: %s", l.r[i].image_id, job.err);
            st = ds == AV_DETECT_E_NOMEM ? AV_TRAIN_E_NOMEM : AV_TRAIN_E_MODEL;
        } else {
            d->n_images++;
            for (int k = i; k < j; k++) {
                memmove(d->feat + (size_t)d->n * d->dim, d->feat + (size_t)k * d->dim,
                        (size_t)d->dim * sizeof *d->feat);
                av_train_sample *x = &d->s[d->n++];
                snprintf(x->image_id, sizeof x->image_id, "%s", l.r[k].image_id);
                snprintf(x->species, sizeof x->species, "%s", l.r[k].species);
                snprintf(x->common, sizeof x->common, "%s", l.r[k].common_name);
                x->label = class_of(d, x->species, x->common);
            }
        }
    }
    if (!g0 || !job.gst)
        snprintf(err, errlen, "dataset: out of memory");
    free(g0);
    free(job.gst);
    free(l.r);
    if (st)
        av_train_dataset_free(d);
    return st;
}

/* xorshift32: the split and the shuffles, reproducible from a seed. */
static unsigned next(unsigned *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

void av_train_split(av_train_dataset *d, double frac, unsigned seed)
{
    /* images in order of first appearance, each with its first species */
    int *img_first = malloc((size_t)(d->n ? d->n : 1) * sizeof *img_first);
    int ni = 0;
    for (int i = 0; img_first && i < d->n; i++)
        if (i == 0 || strcmp(d->s[i].image_id, d->s[i - 1].image_id))
            img_first[ni++] = i;
    unsigned x = seed ? seed : 0x9e3779b9u;
    int *pick = malloc((size_t)(ni ? ni : 1) * sizeof *pick);
    char *test = calloc((size_t)(ni ? ni : 1), 1);
    for (int c = 0; pick && test && c < d->n_classes; c++) {
        int m = 0;
        for (int k = 0; k < ni; k++)
            if (d->s[img_first[k]].label == c)
                pick[m++] = k;
        if (m < 2)
            continue; /* one image of it: all for training */
        for (int k = m - 1; k > 0; k--) { /* Fisher-Yates */
            int r = (int)(next(&x) % (unsigned)(k + 1)), t = pick[k];
            pick[k] = pick[r], pick[r] = t;
        }
        int nt = (int)(m * frac + 0.5);
        nt = nt < 1 ? 1 : nt > m - 1 ? m - 1 : nt;
        for (int k = 0; k < nt; k++)
            test[pick[k]] = 1;
    }
    for (int k = 0; test && k < ni; k++) {
        int end = k + 1 < ni ? img_first[k + 1] : d->n;
        for (int i = img_first[k]; i < end; i++)
            d->s[i].test = test[k];
    }
    free(img_first);
    free(pick);
    free(test);
}
