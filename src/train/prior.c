/*
 * prior.c - the site's species prior from confirmed sightings: every
 * reviewed box naming a species is one sighting; the counts are smoothed
 * toward the uniform distribution (a Dirichlet pseudo-count per species)
 * and weight the head's answers by prior^alpha (src/detect/prior.c).
 * alpha and the pseudo-count are chosen on the held-back split with the
 * prior counted from the training part only, so the choice never sees the
 * labels it is scored on.
 */
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double ALPHAS[] = {0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3};
static const double PSEUDOS[] = {0.1, 1};

void av_train_prior_counts(const av_train_dataset *d, int train_only, double *counts)
{
    memset(counts, 0, (size_t)d->n_classes * sizeof *counts);
    for (int i = 0; i < d->n; i++)
        if (!(train_only && d->s[i].test) && d->s[i].label != d->background)
            counts[d->s[i].label] += 1.0;
}

av_train_status av_train_prior_set(const av_train_dataset *d, av_detect_head *h,
                                   const double *counts, double alpha, double pseudo,
                                   char *err, size_t errlen)
{
    float *w = malloc((size_t)h->n_classes * sizeof *w);
    if (!w) {
        snprintf(err, errlen, "species prior: out of memory");
        return AV_TRAIN_E_NOMEM;
    }
    av_detect_prior_weights(counts, h->n_classes, d->background, alpha, pseudo, w);
    free(h->prior);
    h->prior = w;
    return AV_TRAIN_OK;
}

av_train_status av_train_prior_choose(const av_train_dataset *d, const av_detect_head *h,
                                      const av_train_fit_opts *o, double *alpha,
                                      double *pseudo, char *err, size_t errlen)
{
    int C = h->n_classes, nt = 0;
    *alpha = 0;
    *pseudo = o->prior_pseudo > 0 ? o->prior_pseudo : 1.0;
    for (int i = 0; i < d->n; i++)
        nt += d->s[i].test;
    if (nt == 0)
        return AV_TRAIN_OK;
    /* the held-back samples' log-probabilities under the head, once */
    float *lp = malloc((size_t)nt * (size_t)C * sizeof *lp);
    float *w = malloc((size_t)C * sizeof *w);
    double *counts = malloc((size_t)C * sizeof *counts);
    int *label = malloc((size_t)nt * sizeof *label);
    if (!lp || !w || !counts || !label) {
        free(lp), free(w), free(counts), free(label);
        snprintf(err, errlen, "species prior: out of memory for %d held-back samples", nt);
        return AV_TRAIN_E_NOMEM;
    }
    for (int i = 0, t = 0; i < d->n; i++) {
        if (!d->s[i].test)
            continue;
        float *v = lp + (size_t)t * C;
        av_detect_head_logits(h, d->feat + (size_t)i * d->dim, v);
        av_detect_softmax(v, C);
        for (int c = 0; c < C; c++)
            v[c] = logf(v[c] > 1e-30f ? v[c] : 1e-30f);
        label[t++] = d->s[i].label;
    }
    av_train_prior_counts(d, 1, counts);
    int best_ok = -1;
    double best_nll = 0;
    int na = o->prior_alpha > 0 ? 1 : (int)(sizeof ALPHAS / sizeof *ALPHAS);
    int np = o->prior_pseudo > 0 ? 1 : (int)(sizeof PSEUDOS / sizeof *PSEUDOS);
    for (int a = 0; a < na; a++)
        for (int q = 0; q < np; q++) {
            double al = o->prior_alpha > 0 ? o->prior_alpha : ALPHAS[a];
            double ps = o->prior_pseudo > 0 ? o->prior_pseudo : PSEUDOS[q];
            av_detect_prior_weights(counts, C, d->background, al, ps, w);
            for (int c = 0; c < C; c++)
                w[c] = logf(w[c] > 1e-30f ? w[c] : 1e-30f); /* now log weights */
            int ok = 0;
            double nll = 0;
            for (int t = 0; t < nt; t++) {
                const float *v = lp + (size_t)t * C;
                /* log of the renormalised p * w; top-1 skips background */
                double mx = -INFINITY, sum = 0;
                int top = -1;
                for (int c = 0; c < C; c++) {
                    double s = (double)v[c] + w[c];
                    mx = s > mx ? s : mx;
                    if (c != d->background && (top < 0 || s > (double)v[top] + w[top]))
                        top = c;
                }
                for (int c = 0; c < C; c++)
                    sum += exp((double)v[c] + w[c] - mx);
                ok += top == label[t];
                nll -= (double)v[label[t]] + w[label[t]] - mx - log(sum);
            }
            nll /= nt;
            /* strictly better only: ties keep the smaller alpha (tried first) */
            if (ok > best_ok || (ok == best_ok && nll < best_nll - 1e-9)) {
                best_ok = ok, best_nll = nll;
                *alpha = al, *pseudo = ps;
            }
        }
    free(lp), free(w), free(counts), free(label);
    return AV_TRAIN_OK;
}
