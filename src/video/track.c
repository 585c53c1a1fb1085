/*
 * track.c - join the detections of successive sampled frames into visits
 * (the rule is in video.h). Each open visit remembers its last box and the
 * last detection's top-3 species; a small table of candidate species per
 * visit sums confidences so one frame of a wrong top-1 does not rename it.
 */
#include "video/video.h"
#include "base/base.h"

#include <stdlib.h>
#include <string.h>

#include "video/internal.h"

#define CANDS 8          /* candidate species kept per visit */
#define TOPN 3           /* species compared for agreement */
#define MAX_TRACKS 100000
#define MAX_DETS_FRAME 10000
#define DEFAULT_IOU 0.3
#define DEFAULT_GAP 2
#define NESTED 0.7       /* share of the smaller box inside a same-frame box: a duplicate */

typedef struct cand {
    int key;             /* species class, or detector key (see det_key) */
    double sum;          /* summed confidence */
    av_detect_det best;  /* its most confident detection */
    int best_frame;
    double best_t;
} cand;

typedef struct trk {
    int id;
    float box[4];        /* last matched box */
    int last_seq;        /* tracker sequence number of the last match */
    int top[TOPN], n_top; /* last detection's keys */
    double first_s, last_s;
    int n_frames;
    cand c[CANDS];
    int n_c;
} trk;

struct av_video_tracker {
    double iou_min;
    int max_gap;
    int seq;             /* av_video_tracker_add calls so far */
    trk *t;
    int n;
    size_t cap;
    av_video_track *out; /* published copies, out_cap entries */
    int out_cap;
};

/* Keys: species class indexes (>= 0) when the detection has species, else
 * the detector class shifted below every species index. */
static int det_key(const av_detect_det *d, int i)
{
    if (d->n_species > 0)
        return d->species[i].class_index;
    return -1000000 - d->class_index;
}

static int det_keys(const av_detect_det *d, int *keys)
{
    if (d->n_species <= 0) {
        keys[0] = det_key(d, 0);
        return 1;
    }
    int n = d->n_species < TOPN ? d->n_species : TOPN;
    for (int i = 0; i < n; i++)
        keys[i] = det_key(d, i);
    return n;
}

static int has(const int *a, int n, int k)
{
    for (int i = 0; i < n; i++)
        if (a[i] == k)
            return 1;
    return 0;
}

double av_video__iou(const float *a, const float *b)
{
    double ix = (a[2] < b[2] ? a[2] : b[2]) - (a[0] > b[0] ? a[0] : b[0]);
    double iy = (a[3] < b[3] ? a[3] : b[3]) - (a[1] > b[1] ? a[1] : b[1]);
    if (ix <= 0 || iy <= 0)
        return 0;
    double inter = ix * iy;
    double ua = (double)(a[2] - a[0]) * (a[3] - a[1]) + (double)(b[2] - b[0]) * (b[3] - b[1]) -
                inter;
    return ua > 0 ? inter / ua : 0;
}

static int voted(const trk *t)
{
    int best = 0;
    for (int i = 1; i < t->n_c; i++)
        if (t->c[i].sum > t->c[best].sum)
            best = i;
    return best;
}

/* One's top-1 among the other's top 3 (the visit's side: its last
 * detection's keys plus its voted species). */
static int agree(const trk *t, const int *keys, int nk)
{
    int v = t->c[voted(t)].key;
    return has(t->top, t->n_top, keys[0]) || v == keys[0] || has(keys, nk, t->top[0]) ||
           has(keys, nk, v);
}

/* Intersection over the smaller box's area. */
static double overlap_small(const float *a, const float *b)
{
    double ix = (a[2] < b[2] ? a[2] : b[2]) - (a[0] > b[0] ? a[0] : b[0]);
    double iy = (a[3] < b[3] ? a[3] : b[3]) - (a[1] > b[1] ? a[1] : b[1]);
    double sa = (double)(a[2] - a[0]) * (a[3] - a[1]), sb = (double)(b[2] - b[0]) * (b[3] - b[1]);
    double m = sa < sb ? sa : sb;
    return ix > 0 && iy > 0 && m > 0 ? ix * iy / m : 0;
}

/* Two detections of one frame agree on the species (top-1 in the other's top 3). */
static int agree_dets(const int *a, int na, const int *b, int nb)
{
    return has(b, nb, a[0]) || has(a, na, b[0]);
}

av_video_status av_video_tracker_new(const av_video_track_opts *opts, av_video_tracker **out)
{
    *out = NULL;
    av_video_tracker *t = calloc(1, sizeof *t);
    if (!t)
        return AV_VIDEO_E_NOMEM;
    t->iou_min = opts && opts->iou_min > 0 ? opts->iou_min : DEFAULT_IOU;
    t->max_gap = opts && opts->max_gap >= 0 ? opts->max_gap : DEFAULT_GAP;
    *out = t;
    return AV_VIDEO_OK;
}

void av_video_tracker_free(av_video_tracker *t)
{
    if (!t)
        return;
    free(t->t);
    free(t->out);
    free(t);
}

static void add_to(trk *k, const av_detect_det *d, const int *keys, int nk, int frame, double ts,
                   int seq)
{
    k->box[0] = d->x1, k->box[1] = d->y1, k->box[2] = d->x2, k->box[3] = d->y2;
    k->last_seq = seq;
    memcpy(k->top, keys, (size_t)nk * sizeof *keys);
    k->n_top = nk;
    if (k->n_frames == 0)
        k->first_s = ts;
    k->last_s = ts;
    k->n_frames++;
    int key = keys[0], i;
    for (i = 0; i < k->n_c && k->c[i].key != key; i++)
        ;
    if (i == k->n_c) {
        if (k->n_c < CANDS) {
            k->n_c++;
        } else { /* replace the weakest candidate */
            i = 0;
            for (int j = 1; j < CANDS; j++)
                if (k->c[j].sum < k->c[i].sum)
                    i = j;
        }
        memset(&k->c[i], 0, sizeof k->c[i]);
        k->c[i].key = key;
        k->c[i].best_frame = -1;
    }
    cand *c = &k->c[i];
    c->sum += d->confidence;
    if (c->best_frame < 0 || d->confidence > c->best.confidence) {
        c->best = *d;
        c->best_frame = frame;
        c->best_t = ts;
    }
}

typedef struct pair {
    double iou;
    int det, trk;
} pair;

static int by_iou_desc(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->iou != y->iou)
        return x->iou < y->iou ? 1 : -1;
    if (x->det != y->det) /* stable across qsort implementations */
        return x->det - y->det;
    return x->trk - y->trk;
}

av_video_status av_video_tracker_add(av_video_tracker *t, int frame, double time_s,
                                     const av_detect_det *dets, int n, int *track_ids)
{
    if (n < 0 || n > MAX_DETS_FRAME || (n && !dets))
        return AV_VIDEO_E_ARG;
    int seq = ++t->seq;
    /* open visits: matched within the last max_gap + 1 sampled frames */
    int n_open = 0;
    for (int j = 0; j < t->n; j++)
        n_open += seq - t->t[j].last_seq - 1 <= t->max_gap;
    int *owner = n ? malloc((size_t)n * sizeof *owner) : NULL;
    int *keys = n ? malloc((size_t)n * TOPN * sizeof *keys) : NULL;
    int *nkeys = n ? malloc((size_t)n * sizeof *nkeys) : NULL;
    pair *pairs = n && n_open ? malloc((size_t)n * (size_t)n_open * sizeof *pairs) : NULL;
    char *taken = t->n ? calloc((size_t)t->n, 1) : NULL;
    av_video_status st = AV_VIDEO_OK;
    if ((n && (!owner || !keys || !nkeys)) || (n && n_open && !pairs) || (t->n && !taken)) {
        st = AV_VIDEO_E_NOMEM;
        goto done;
    }
    size_t np = 0;
    for (int i = 0; i < n; i++) {
        owner[i] = -1;
        nkeys[i] = det_keys(&dets[i], keys + (size_t)i * TOPN);
        float box[4] = {dets[i].x1, dets[i].y1, dets[i].x2, dets[i].y2};
        for (int j = 0; j < t->n; j++) {
            const trk *k = &t->t[j];
            if (seq - k->last_seq - 1 > t->max_gap)
                continue;
            double iou = av_video__iou(box, k->box);
            if (iou >= t->iou_min && agree(k, keys + (size_t)i * TOPN, nkeys[i]))
                pairs[np++] = (pair){iou, i, j};
        }
    }
    if (np > 1)
        qsort(pairs, np, sizeof *pairs, by_iou_desc);
    for (size_t p = 0; p < np; p++) {
        if (owner[pairs[p].det] >= 0 || taken[pairs[p].trk])
            continue;
        owner[pairs[p].det] = pairs[p].trk;
        taken[pairs[p].trk] = 1;
    }
    for (int i = 0; i < n; i++) {
        /* a box mostly inside an already placed box of this frame, same
         * species: the detector saw part of that bird again */
        const int *ki = keys + (size_t)i * TOPN;
        float bi[4] = {dets[i].x1, dets[i].y1, dets[i].x2, dets[i].y2};
        for (int j = 0; owner[i] < 0 && j < n; j++) {
            if (j == i || owner[j] < 0)
                continue;
            float bj[4] = {dets[j].x1, dets[j].y1, dets[j].x2, dets[j].y2};
            if (overlap_small(bi, bj) >= NESTED &&
                agree_dets(ki, nkeys[i], keys + (size_t)j * TOPN, nkeys[j])) {
                if (track_ids)
                    track_ids[i] = t->t[owner[j]].id;
                owner[i] = -2; /* placed, not counted again */
                break;
            }
        }
        if (owner[i] == -2)
            continue;
        if (owner[i] < 0) {
            if (t->n >= MAX_TRACKS) {
                st = AV_VIDEO_E_LIMIT;
                goto done;
            }
            if (av_base_grow((void **)&t->t, &t->cap, (size_t)t->n + 1, sizeof *t->t)) {
                st = AV_VIDEO_E_NOMEM;
                goto done;
            }
            owner[i] = t->n;
            memset(&t->t[t->n], 0, sizeof t->t[t->n]);
            t->t[t->n].id = t->n + 1;
            t->n++;
        }
        trk *k = &t->t[owner[i]];
        add_to(k, &dets[i], keys + (size_t)i * TOPN, nkeys[i], frame, time_s, seq);
        if (track_ids)
            track_ids[i] = k->id;
    }
done:
    free(owner);
    free(keys);
    free(nkeys);
    free(pairs);
    free(taken);
    return st;
}

int av_video_tracker_tracks(av_video_tracker *t, const av_video_track **out)
{
    *out = NULL;
    if (t->n > t->out_cap) {
        av_video_track *o = realloc(t->out, t->cap * sizeof *o);
        if (!o)
            return -1;
        t->out = o;
        t->out_cap = (int)t->cap;
    }
    for (int j = 0; j < t->n; j++) {
        const trk *k = &t->t[j];
        const cand *c = &k->c[voted(k)];
        av_video_track *o = &t->out[j];
        memset(o, 0, sizeof *o);
        o->id = k->id;
        o->class_index = c->best.n_species > 0 ? c->best.species[0].class_index
                                               : c->best.class_index;
        if (c->best.n_species > 0 && c->best.rule != AV_DETECT_RULE_GENUS &&
            c->best.rule != AV_DETECT_RULE_UNKNOWN) {
            memcpy(o->scientific, c->best.species[0].scientific, sizeof o->scientific);
            memcpy(o->common, c->best.species[0].common, sizeof o->common);
        } else if (c->best.rule == AV_DETECT_RULE_GENUS) { /* "Corvus sp.", as shown */
            snprintf(o->scientific, sizeof o->scientific, "%s", c->best.label);
        }
        memcpy(o->label, c->best.label, sizeof o->label);
        o->first_s = k->first_s;
        o->last_s = k->last_s;
        o->n_frames = k->n_frames;
        o->best_confidence = c->best.confidence;
        o->best_frame = c->best_frame;
        o->best_t = c->best_t;
        o->best = c->best;
    }
    *out = t->out;
    return t->n;
}
