/*
 * evaluate.c - base vs new head on the held-back reviews: top-1 and top-5
 * (background excluded), per species, and the promotion rule.
 */
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rank of class `label` among the heads' logits (0 = top), background
 * skipped; classes the head does not have rank last. */
static int rank_of(const av_detect_head *h, const float *x, int label, int background,
                   int with_prior, float *logit)
{
    if (label >= h->n_classes)
        return 1 << 30;
    av_detect_head_logits(h, x, logit);
    /* p * w renormalised ranks as log p + log w: the softmax keeps the order */
    for (int c = 0; with_prior && h->prior && c < h->n_classes; c++)
        logit[c] += h->prior[c] > 0 ? logf(h->prior[c]) : -1e30f;
    int r = 0;
    for (int c = 0; c < h->n_classes; c++)
        if (c != background && c != label && logit[c] > logit[label])
            r++;
    return r;
}

void av_train_evaluate(const av_train_dataset *d, const av_detect_head *base,
                       const av_detect_head *h, av_train_eval *e)
{
    memset(e, 0, sizeof *e);
    float *logit = malloc((size_t)(h->n_classes > base->n_classes ? h->n_classes
                                                                  : base->n_classes) *
                          sizeof *logit);
    int b1 = 0, b5 = 0, n1 = 0, n5 = 0, h1 = 0, h5 = 0;
    for (int i = 0; logit && i < d->n; i++) {
        const av_train_sample *s = &d->s[i];
        int row = -1;
        for (int k = 0; k < e->n_sp; k++)
            if (!strcmp(e->sp[k].species, s->species))
                row = k;
        if (row < 0 && e->n_sp < AV_TRAIN_MAX_SPECIES_ROWS) {
            row = e->n_sp++;
            snprintf(e->sp[row].species, sizeof e->sp[row].species, "%s", s->species);
        }
        if (row >= 0)
            e->sp[row].n_reviews++;
        if (!s->test)
            continue;
        const float *x = d->feat + (size_t)i * d->dim;
        int rb = rank_of(base, x, s->label, d->background, 0, logit);
        int rn = rank_of(h, x, s->label, d->background, 1, logit);
        int rh = h->prior ? rank_of(h, x, s->label, d->background, 0, logit) : rn;
        e->n++;
        b1 += rb == 0, b5 += rb < 5, n1 += rn == 0, n5 += rn < 5, h1 += rh == 0, h5 += rh < 5;
        if (row >= 0) {
            e->sp[row].n++;
            e->sp[row].base_top1 += rb == 0;
            e->sp[row].new_top1 += rn == 0;
            e->sp[row].head_top1 += rh == 0;
        }
    }
    free(logit);
    if (e->n) {
        e->base_top1 = 100.0 * b1 / e->n, e->base_top5 = 100.0 * b5 / e->n;
        e->new_top1 = 100.0 * n1 / e->n, e->new_top5 = 100.0 * n5 / e->n;
        e->head_top1 = 100.0 * h1 / e->n, e->head_top5 = 100.0 * h5 / e->n;
    }
    const char *worst = NULL;
    double drop = 0;
    for (int k = 0; k < e->n_sp; k++) {
        av_train_species_score *p = &e->sp[k];
        if (p->n) {
            p->base_top1 = 100.0 * p->base_top1 / p->n;
            p->new_top1 = 100.0 * p->new_top1 / p->n;
            p->head_top1 = 100.0 * p->head_top1 / p->n;
        }
        if (p->n && p->n_reviews >= 5 && p->base_top1 - p->new_top1 > drop)
            drop = p->base_top1 - p->new_top1, worst = p->species;
    }
    if (e->n == 0)
        snprintf(e->reason, sizeof e->reason, "no held-back reviews to evaluate on");
    else if (e->new_top1 <= e->base_top1)
        snprintf(e->reason, sizeof e->reason, "top-1 %.1f%% does not beat the base's %.1f%%",
                 e->new_top1, e->base_top1);
    else if (drop > 5.0)
        snprintf(e->reason, sizeof e->reason,
                 "%.100s (>= 5 reviews) drops %.1f points of top-1", worst, drop);
    else {
        e->promote = 1;
        snprintf(e->reason, sizeof e->reason,
                 "top-1 %.1f%% beats the base's %.1f%%, no species with >= 5 reviews drops > 5 "
                 "points",
                 e->new_top1, e->base_top1);
    }
}
