/*
 * softmax.c - the new species head: softmax regression on the reviewed
 * boxes' features, pulled toward the base head (l2/2 ||theta - base||^2) so
 * that species nobody reviewed keep their base weights' behaviour.
 *
 * To train in seconds the softmax runs over an active class set: every
 * reviewed species plus each training sample's `candidates` best base
 * classes (the ones a review could be confused with). The other base
 * classes keep their base weights exactly; on these samples they scored
 * below every candidate anyway. Mini-batch SGD with momentum, at most
 * MAX_VISITS sample visits (epochs shrink as reviews grow); the step is
 * scaled by the mean squared feature norm, so one setting suits features of
 * any scale. Samples are shuffled with a seeded generator: the same data
 * and seed give the same head bit for bit.
 */
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VISITS 10000LL

static unsigned next(unsigned *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static float dot(const float *a, const float *b, int n)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    int k = 0;
    for (; k + 8 <= n; k += 8) {
        s0 += a[k] * b[k], s1 += a[k + 1] * b[k + 1], s2 += a[k + 2] * b[k + 2];
        s3 += a[k + 3] * b[k + 3], s4 += a[k + 4] * b[k + 4], s5 += a[k + 5] * b[k + 5];
        s6 += a[k + 6] * b[k + 6], s7 += a[k + 7] * b[k + 7];
    }
    for (; k < n; k++)
        s0 += a[k] * b[k];
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
}

/* Indices of the k largest of v[0..n) (skipping skip) into out. */
static int topk(const float *v, int n, int skip, int k, int *out)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (i == skip)
            continue;
        int j = m < k ? m++ : k;
        if (j == k && v[i] <= v[out[k - 1]])
            continue;
        if (j == k)
            j = k - 1;
        while (j > 0 && v[out[j - 1]] < v[i]) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = i;
    }
    return m;
}

av_train_status av_train_fit(const av_train_dataset *d, const av_detect_head *base,
                             const av_train_fit_opts *o, av_detect_head *h, char *err,
                             size_t errlen)
{
    memset(h, 0, sizeof *h);
    int C = d->n_classes, K = d->dim, cand = o->candidates > 0 ? o->candidates : 10;
    if (cand > 64)
        cand = 64;
    h->n_classes = C;
    h->dim = K;
    h->w = calloc((size_t)C * (size_t)K, sizeof *h->w);
    h->b = calloc((size_t)C, sizeof *h->b);
    int *active = calloc((size_t)C, sizeof *active); /* class -> slot + 1 */
    float *logit = malloc((size_t)base->n_classes * sizeof *logit);
    int *train = malloc((size_t)(d->n ? d->n : 1) * sizeof *train);
    if (!h->w || !h->b || !active || !logit || !train) {
        free(active), free(logit), free(train);
        av_detect_head_free(h);
        snprintf(err, errlen, "head: out of memory for %d x %d", C, K);
        return AV_TRAIN_E_NOMEM;
    }
    memcpy(h->w, base->w, (size_t)base->n_classes * (size_t)K * sizeof *h->w);
    memcpy(h->b, base->b, (size_t)base->n_classes * sizeof *h->b);
    int nt = 0, na = 0;
    double sq = 0;
    int top[64];
    for (int i = 0; i < d->n; i++) {
        if (d->s[i].test)
            continue;
        train[nt++] = i;
        const float *x = d->feat + (size_t)i * K;
        sq += dot(x, x, K);
        if (!active[d->s[i].label])
            active[d->s[i].label] = ++na;
        av_detect_head_logits(base, x, logit);
        int m = topk(logit, base->n_classes, d->background, cand, top);
        for (int j = 0; j < m; j++)
            if (!active[top[j]])
                active[top[j]] = ++na;
    }
    free(logit);
    if (nt == 0) {
        free(active), free(train);
        return AV_TRAIN_OK; /* nothing to learn from: the base head */
    }
    /* slot order = class order, so results do not depend on discovery order */
    int *cls = malloc((size_t)na * sizeof *cls), *slot_of = active;
    float *vw = calloc((size_t)na * (size_t)K, sizeof *vw), *vb = calloc((size_t)na, sizeof *vb);
    float *gw = malloc((size_t)na * (size_t)K * sizeof *gw), *gb = malloc((size_t)na * sizeof *gb);
    float *p = malloc((size_t)na * sizeof *p);
    if (!cls || !vw || !vb || !gw || !gb || !p) {
        free(cls), free(vw), free(vb), free(gw), free(gb), free(p), free(active), free(train);
        av_detect_head_free(h);
        snprintf(err, errlen, "head: out of memory for %d active classes", na);
        return AV_TRAIN_E_NOMEM;
    }
    na = 0;
    for (int c = 0; c < C; c++)
        if (slot_of[c])
            cls[na] = c, slot_of[c] = ++na;
    double lr = (o->lr > 0 ? o->lr : 1.0) / (sq / nt > 1e-12 ? sq / nt : 1.0);
    float l2 = (float)(o->l2 > 0 ? o->l2 : 1e-5);
    int epochs = o->epochs > 0 ? o->epochs : 100, bs = o->batch > 0 ? o->batch : 32;
    /* bounded work: at most MAX_VISITS sample visits, whatever the reviews */
    if ((long long)epochs * nt > MAX_VISITS)
        epochs = (int)(MAX_VISITS / nt) > 1 ? (int)(MAX_VISITS / nt) : 1;
    unsigned rng = o->seed ? o->seed : 0x2545f491u;
    for (int ep = 0; ep < epochs; ep++) {
        for (int k = nt - 1; k > 0; k--) {
            int r = (int)(next(&rng) % (unsigned)(k + 1)), t = train[k];
            train[k] = train[r], train[r] = t;
        }
        for (int b0 = 0; b0 < nt; b0 += bs) {
            int b1 = b0 + bs < nt ? b0 + bs : nt;
            memset(gw, 0, (size_t)na * (size_t)K * sizeof *gw);
            memset(gb, 0, (size_t)na * sizeof *gb);
            for (int q = b0; q < b1; q++) {
                const av_train_sample *s = &d->s[train[q]];
                const float *x = d->feat + (size_t)train[q] * K;
                for (int a = 0; a < na; a++)
                    p[a] = h->b[cls[a]] + dot(h->w + (size_t)cls[a] * K, x, K);
                av_detect_softmax(p, na);
                p[slot_of[s->label] - 1] -= 1.0f; /* dCE/dlogit = p - y */
                for (int a = 0; a < na; a++) {
                    if (fabsf(p[a]) < 1e-6f)
                        continue;
                    float *g = gw + (size_t)a * K;
                    for (int k = 0; k < K; k++)
                        g[k] += p[a] * x[k];
                    gb[a] += p[a];
                }
            }
            float inv = 1.0f / (float)(b1 - b0), step = (float)lr;
            for (int a = 0; a < na; a++) {
                int c = cls[a];
                float *w = h->w + (size_t)c * K, *v = vw + (size_t)a * K, *g = gw + (size_t)a * K;
                const float *w0 = c < base->n_classes ? base->w + (size_t)c * K : NULL;
                for (int k = 0; k < K; k++) {
                    float grad = g[k] * inv + l2 * (w[k] - (w0 ? w0[k] : 0.0f));
                    v[k] = 0.9f * v[k] - step * grad;
                    w[k] += v[k];
                }
                float b0v = c < base->n_classes ? base->b[c] : 0.0f;
                float grad = gb[a] * inv + l2 * (h->b[c] - b0v);
                vb[a] = 0.9f * vb[a] - step * grad;
                h->b[c] += vb[a];
            }
        }
    }
    /* new classes nobody trained (none: every new class is a label) stay at
     * zero weights and a bias far below, so they never win by accident */
    for (int c = base->n_classes; c < C; c++)
        if (!slot_of[c])
            h->b[c] = -1e3f;
    free(cls), free(vw), free(vb), free(gw), free(gb), free(p), free(active), free(train);
    return AV_TRAIN_OK;
}
