/*
 * prior.c - the site's species prior from confirmed sightings: every
 * reviewed box naming a species is one sighting; the counts are smoothed
 * toward the uniform distribution (a Dirichlet pseudo-count per species)
 * and weight the head's answers by prior^alpha (src/detect/prior.c).
 * alpha and the pseudo-count are chosen on the held-back split with the
 * prior counted from the training part only, so the choice never sees the
 * labels it is scored on. The held-back split only holds species with two
 * or more images, birds the site has seen before; a prior tuned on them
 * alone would bury every first visitor. So the choice also scores each
 * species confirmed on one training image only as a first sighting (its
 * own count left out, scored by the base head, which is what the head knows
 * of a species it was not trained on): as often as the reviews met a
 * species once, the choice meets a newcomer (Good-Turing's estimate of the
 * chance that the next bird is a new species).
 */
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double ALPHAS[] = {0, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3};
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

/* Training sample i is its species' only confirmed image in the training
 * part: a first sighting had the site not seen it. */
static int first_sighting(const av_train_dataset *d, int i)
{
    for (int j = 0; j < d->n; j++)
        if (!d->s[j].test && d->s[j].label == d->s[i].label &&
            strcmp(d->s[j].image_id, d->s[i].image_id))
            return 0;
    return 1;
}

av_train_status av_train_prior_choose(const av_train_dataset *d, const av_detect_head *base,
                                      const av_detect_head *h, const av_train_fit_opts *o,
                                      double *alpha, double *pseudo, char *err, size_t errlen)
{
    int C = h->n_classes, nt = 0;
    *alpha = 0;
    *pseudo = o->prior_pseudo > 0 ? o->prior_pseudo : 1.0;
    for (int i = 0; i < d->n; i++)
        nt += d->s[i].test;
    if (nt == 0)
        return AV_TRAIN_OK;
    /* the scored items' log-probabilities, once: held-back samples under
     * the head; first sightings under the base head (what the head knows
     * of a species it was not trained on), their own species unseen */
    int ni = 0;
    char *first = calloc((size_t)d->n, 1);
    for (int i = 0; first && i < d->n; i++) {
        first[i] = !d->s[i].test && d->s[i].label < base->n_classes && first_sighting(d, i);
        ni += d->s[i].test || first[i];
    }
    float *lp = malloc((size_t)ni * (size_t)C * sizeof *lp);
    float *w = malloc((size_t)C * sizeof *w);
    double *counts = malloc((size_t)C * sizeof *counts);
    int *label = malloc((size_t)ni * sizeof *label);
    char *unseen = malloc((size_t)ni);
    double *sc = malloc((size_t)C * sizeof *sc);
    if (!first || !lp || !w || !counts || !label || !unseen || !sc) {
        free(first), free(lp), free(w), free(counts), free(label), free(unseen), free(sc);
        snprintf(err, errlen, "species prior: out of memory for %d held-back samples", nt);
        return AV_TRAIN_E_NOMEM;
    }
    for (int i = 0, t = 0; i < d->n; i++) {
        if (!d->s[i].test && !first[i])
            continue;
        float *v = lp + (size_t)t * C;
        const av_detect_head *by = d->s[i].test ? h : base;
        av_detect_head_logits(by, d->feat + (size_t)i * d->dim, v);
        for (int c = by->n_classes; c < C; c++)
            v[c] = -1e30f; /* classes the base does not have */
        av_detect_softmax(v, C);
        for (int c = 0; c < C; c++)
            v[c] = logf(v[c] > 1e-30f ? v[c] : 1e-30f);
        unseen[t] = first[i];
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
            /* a species' weight with no sighting (its one image left out) */
            double total = 0;
            int species = 0;
            for (int c = 0; c < C; c++)
                if (c != d->background)
                    total += counts[c], species++;
            double w0 = al * log(species * ps / (total + ps * species));
            int ok = 0;
            double nll = 0;
            for (int t = 0; t < ni; t++) {
                const float *v = lp + (size_t)t * C;
                int y = label[t], top = -1;
                /* log of the renormalised p * w; top-1 skips background */
                double mx = -INFINITY, sum = 0;
                for (int c = 0; c < C; c++)
                    sc[c] = (double)v[c] + w[c];
                if (unseen[t])
                    sc[y] = (double)v[y] + w0;
                for (int c = 0; c < C; c++) {
                    mx = sc[c] > mx ? sc[c] : mx;
                    if (c != d->background && (top < 0 || sc[c] > sc[top]))
                        top = c;
                }
                for (int c = 0; c < C; c++)
                    sum += exp(sc[c] - mx);
                ok += top == y;
                nll -= sc[y] - mx - log(sum);
            }
            nll /= ni;
            /* strictly better only: ties keep the smaller alpha (tried first) */
            if (ok > best_ok || (ok == best_ok && nll < best_nll - 1e-9)) {
                best_ok = ok, best_nll = nll;
                *alpha = al, *pseudo = ps;
            }
        }
    free(first), free(lp), free(w), free(counts), free(label), free(unseen), free(sc);
    return AV_TRAIN_OK;
}
