/*
 * dataset.c - the training set: every current review that names a species
 * (confirm, another species, an added bird with a species), its box cut
 * from the stored image exactly as the pipeline cuts a bird crop and run
 * through the species model to its head's input (av_detect_box_features).
 */
#include "train/train.h"

#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rlist {
    av_store_review *r;
    int n, cap, skipped;
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
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 256;
        av_store_review *p = realloc(l->r, (size_t)cap * sizeof *p);
        if (!p)
            return 1;
        l->r = p;
        l->cap = cap;
    }
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
    float *boxes = malloc((size_t)(l.n ? l.n : 1) * 4 * sizeof *boxes);
    if (!d->s || !d->feat || !d->names || !d->commons || !boxes) {
        free(l.r);
        free(boxes);
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
    av_train_status st = AV_TRAIN_OK;
    /* reviews come ordered by image: one decode per image */
    for (int i = 0; i < l.n && !st;) {
        int j = i;
        while (j < l.n && !strcmp(l.r[j].image_id, l.r[i].image_id))
            j++;
        av_store_image img;
        if (av_store_image_get(s, l.r[i].image_id, 1, &img, e, sizeof e) != AV_STORE_OK) {
            d->skipped += j - i; /* deleted since it was reviewed */
            i = j;
            continue;
        }
        for (int k = i; k < j; k++) {
            float *b = boxes + 4 * (k - i);
            b[0] = (float)l.r[k].x1, b[1] = (float)l.r[k].y1;
            b[2] = (float)l.r[k].x2, b[3] = (float)l.r[k].y2;
        }
        av_detect_status ds = av_detect_box_features(p, img.blob, img.blob_len, NULL, j - i,
                                                     boxes, d->feat + (size_t)d->n * d->dim, e,
                                                     sizeof e);
        av_store_image_clear(&img);
        if (ds == AV_DETECT_E_IMAGE || ds == AV_DETECT_E_LIMIT || ds == AV_DETECT_E_ARG) {
            d->skipped += j - i;
        } else if (ds != AV_DETECT_OK) {
            snprintf(err, errlen, "features of image %s: %s", l.r[i].image_id, e);
            st = ds == AV_DETECT_E_NOMEM ? AV_TRAIN_E_NOMEM : AV_TRAIN_E_MODEL;
        } else {
            d->n_images++;
            for (int k = i; k < j; k++) {
                av_train_sample *x = &d->s[d->n++];
                snprintf(x->image_id, sizeof x->image_id, "%s", l.r[k].image_id);
                snprintf(x->species, sizeof x->species, "%s", l.r[k].species);
                snprintf(x->common, sizeof x->common, "%s", l.r[k].common_name);
                x->label = class_of(d, x->species, x->common);
            }
        }
        i = j;
    }
    free(l.r);
    free(boxes);
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
