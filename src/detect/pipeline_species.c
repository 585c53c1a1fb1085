/*
 * pipeline_species.c - species of the bird boxes. The bird crops of one
 * image (or of a batch of images) are classified in one batched engine run
 * (species_batch crops at most; more go in even chunks) on a worker context
 * made for exactly that many crops (av_detect__batch_slot). When the engine
 * cannot make one (a classifier graph that does not batch) the pipeline
 * logs why once and classifies crops one at a time from then on. With the
 * ImageNet veto on and two engine threads, the species runs and the veto
 * runs go side by side, one thread each (species_pair). An image without a
 * bird box is asked about as a whole. Also the retraining entry
 * points, which read the same classifier (base head, box features).
 */
#include "detect/pipeline_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"

/* Square crop around a box with a context margin, clamped to the image. */
static void crop_square(const av_detect__img *img, const av_detect_det *d, double margin, int *x1,
                        int *y1, int *x2, int *y2)
{
    double cx = (d->x1 + d->x2) / 2, cy = (d->y1 + d->y2) / 2;
    double side = fmax(d->x2 - d->x1, d->y2 - d->y1) * (1 + 2 * margin);
    *x1 = (int)fmax(0, floor(cx - side / 2));
    *y1 = (int)fmax(0, floor(cy - side / 2));
    *x2 = (int)fmin(img->w, ceil(cx + side / 2));
    *y2 = (int)fmin(img->h, ceil(cy + side / 2));
    if (*x2 <= *x1)
        *x2 = *x1 + 1 <= img->w ? *x1 + 1 : img->w, *x1 = *x2 - 1;
    if (*y2 <= *y1)
        *y2 = *y1 + 1 <= img->h ? *y1 + 1 : img->h, *y1 = *y2 - 1;
}

/* Crop [x1,y1,x2,y2) of img to the classifier input into dst (one sample),
 * mirrored left to right when mirror is set; the crop comes from the
 * worker's cache (crops.h), so a mirrored view reuses its plain view's cut. */
static int fill_crop(av_detect_pipeline *p, worker *w, const av_detect__img *img, int x1, int y1,
                     int x2, int y2, int mirror, void *dst, char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->cls;
    const uint8_t *px = av_detect__crops_get(&w->crops, img, x1, y1, x2, y2, m->in_w, m->in_h,
                                            w->pool);
    if (!px) {
        av_base_errf(err, errlen, "species: crop failed");
        return -1;
    }
    if (mirror) { /* the cached crop stays as cut: the ImageNet veto reads it */
        size_t row = (size_t)m->in_w * 3;
        for (int y = 0; y < m->in_h; y++) {
            const uint8_t *src = px + (size_t)y * row;
            uint8_t *dst_row = w->flip + (size_t)y * row;
            for (int a = 0; a < m->in_w; a++)
                memcpy(dst_row + 3 * (size_t)(m->in_w - 1 - a), src + 3 * (size_t)a, 3);
        }
        px = w->flip;
    }
    av_detect__fill_input(m, av_nn_input(p->cls_model, p->cls_in), NULL, px, dst);
    return 0;
}

/* The species crop of box d for view v (pipeline.json "species_tta"). */
static int fill_view(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                     const av_detect_det *d, int v, void *dst, char *err, size_t errlen)
{
    int x1, y1, x2, y2;
    crop_square(img, d, p->views[v].margin, &x1, &y1, &x2, &y2);
    return fill_crop(p, w, img, x1, y1, x2, y2, p->views[v].mirror, dst, err, errlen);
}

/* Tapped features (feat_info's dtype) -> dim floats. */
static void dequantise(const av_nn_tensor_info *ti, const void *src, float *dst, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = ti->dtype == AV_NN_F32 ? ((const float *)src)[i]
                 : ti->dtype == AV_NN_U8
                     ? ti->scale * (float)(((const uint8_t *)src)[i] - ti->zero_point)
                     : ti->scale * (float)(((const int8_t *)src)[i] - ti->zero_point);
}

/* Class scores of one sample's classifier output buf (with a head: its
 * tapped features) into w->probs. */
static void read_scores(av_detect_pipeline *p, worker *w, const void *buf)
{
    const av_detect__manifest *m = &p->cls;
    if (p->head.n_classes) {
        dequantise(&p->feat_info, buf, w->featf, p->head.dim);
        av_detect_head_logits(&p->head, w->featf, w->probs);
        av_detect_softmax(w->probs, p->head.n_classes);
        av_detect__answer_balance(&p->answer, w->probs);
        av_detect_prior_apply(&p->head, w->probs);
    } else {
        av_detect__read_scores(m, av_nn_output(p->cls_model, p->cls_out), buf, w->probs,
                               (size_t)m->n_labels);
        av_detect__answer_balance(&p->answer, w->probs);
    }
}

/* Scores of a box's views (v of them, nv in all) into w->probs_sum, and
 * once the last is in, their mean into w->probs. Probabilities are averaged,
 * not logits: the model's output is already its softmax. */
static void add_view(av_detect_pipeline *p, worker *w, int v, int nv)
{
    int n = p->cls.n_labels;
    for (int i = 0; i < n; i++)
        w->probs_sum[i] = v ? w->probs_sum[i] + w->probs[i] : w->probs[i];
    if (v == nv - 1)
        for (int i = 0; i < n; i++)
            w->probs[i] = w->probs_sum[i] / (float)nv;
}

/* Species (top_k) of the scores in w->probs into d, restricted to the site
 * list, and the shown answer (answer.h; a box to drop is left with species
 * but rule NONE, dropped by species_step); returns the best non-background
 * score before the site list (whether a whole image shows a bird is not the
 * list's business). */
static double name_species(av_detect_pipeline *p, worker *w, int top_k, av_detect_det *d)
{
    const av_detect__manifest *m = &p->cls;
    double raw_best = av_detect__answer_restrict(&p->answer, w->probs, &w->raw_top);
    int idx[AV_DETECT_TOPK_MAX];
    int k = av_detect__topk(w->probs, (size_t)m->n_labels, m->background, top_k, idx);
    d->n_species = k;
    for (int i = 0; i < k; i++) {
        av_detect_species *s = &d->species[i];
        s->class_index = idx[i];
        s->score = w->probs[idx[i]];
        av_detect_split_label(m->labels[idx[i]], s->scientific, sizeof s->scientific, s->common,
                              sizeof s->common);
    }
    d->rule = AV_DETECT_RULE_NONE;
    d->species_best = k ? (float)raw_best : 0.0f;
    if (k)
        av_detect__answer_name(&p->answer, w->probs, d);
    return k ? raw_best : 0.0;
}

/* One species run of n samples; with a head it also taps the features
 * into feat (n samples). */
static av_nn_status run_species(av_detect_pipeline *p, av_nn_ctx *c, void **in, void **out,
                                uint8_t *feat, int n, char *e, size_t elen)
{
    if (!p->head.n_classes)
        return av_nn_run(c, (const void *const *)in, out, e, elen);
    return av_nn_run_tap(c, (const void *const *)in, out, p->cls.head_features, feat,
                         (size_t)n * p->feat_bytes, e, elen);
}

/* One run of the sample in w->cls_in; its scores into w->probs. 0, or -1. */
static int run_one(av_detect_pipeline *p, worker *w, char *err, size_t errlen)
{
    char e[512] = "";
    if (run_species(p, w->cls_ctx, w->cls_in, w->cls_out, w->feat, 1, e, sizeof e) != AV_NN_OK) {
        av_base_errf(err, errlen, "%s: %s", p->cls.name, e);
        return -1;
    }
    read_scores(p, w, p->head.n_classes ? (void *)w->feat : w->cls_out[p->cls_out]);
    return 0;
}

/* Classify pixels [x1,y1,x2,y2) of img (one view, as is); fills species
 * (top_k) and returns the best non-background score, or -1 on engine
 * failure. */
static double classify(av_detect_pipeline *p, worker *w, const av_detect__img *img, int x1,
                       int y1, int x2, int y2, int top_k, av_detect_det *d, char *err,
                       size_t errlen)
{
    if (fill_crop(p, w, img, x1, y1, x2, y2, 0, w->cls_in[p->cls_in], err, errlen) ||
        run_one(p, w, err, errlen))
        return -1;
    return name_species(p, w, top_k, d);
}

/* Species of bird box d from its views, one run each. 0, or -1. */
static int classify_box(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                        av_detect_det *d, int top_k, char *err, size_t errlen)
{
    for (int v = 0; v < p->n_views; v++) {
        if (fill_view(p, w, img, d, v, w->cls_in[p->cls_in], err, errlen) ||
            run_one(p, w, err, errlen))
            return -1;
        add_view(p, w, v, p->n_views);
    }
    name_species(p, w, top_k, d);
    return 0;
}

/*
 * Classify the n bird boxes of dets, every view of each, in one engine run
 * (n x n_views >= 2 samples). 0 on success, 1 when the engine cannot batch
 * this classifier (nothing written: the caller runs the crops one by one;
 * batching is then off for the pipeline, logged once), -1 on a failure that
 * fails the run.
 */
static int classify_batch(av_detect_pipeline *p, worker *w, const av_detect__img *const *imgs,
                          av_detect_det **dets, int n, int top_k, char *err, size_t errlen)
{
    char e[512] = "";
    int nv = p->n_views, ns = n * nv;
    cls_batch *b = av_detect__batch_slot(p, w, p->cls_model, w->cb, BATCH_SLOTS, ns, e, sizeof e);
    if (!b) {
        if (atomic_exchange(&p->batch_refused, 1) == 0)
            av_log(AV_LOG_WARN, "species_batch_off", "model", p->cls.name, "error", e, "effect",
                   "species crops run one at a time", NULL);
        return 1;
    }
    const av_nn_tensor_info *ti = av_nn_input(p->cls_model, p->cls_in);
    const av_nn_tensor_info *to = av_nn_output(p->cls_model, p->cls_out);
    size_t in_bytes = av_detect__numel(ti) * av_nn_dtype_size(ti->dtype);
    size_t out_bytes = av_detect__numel(to) * av_nn_dtype_size(to->dtype);
    for (int s = 0; s < ns; s++)
        if (fill_view(p, w, imgs[s / nv], dets[s / nv], s % nv,
                      (uint8_t *)b->in[p->cls_in] + (size_t)s * in_bytes, err, errlen))
            return -1;
    if (run_species(p, b->ctx, b->in, b->out, w->feat, ns, e, sizeof e) != AV_NN_OK) {
        av_base_errf(err, errlen, "%s: %s", p->cls.name, e);
        return -1;
    }
    for (int s = 0; s < ns; s++) {
        read_scores(p, w,
                    p->head.n_classes ? (const void *)(w->feat + (size_t)s * p->feat_bytes)
                                      : (const uint8_t *)b->out[p->cls_out] + s * out_bytes);
        add_view(p, w, s % nv, nv);
        if (s % nv == nv - 1)
            name_species(p, w, top_k, dets[s / nv]);
    }
    return 0;
}

/*
 * Species of the boxes dets[0..n), dets[j] cut from imgs[j]: one batched run
 * when they make two or more samples and batching is on, else one run per
 * crop. *batched is cleared when a chunk of two or more boxes ran one by
 * one. 0, or -1 on failure (err set).
 */
static int classify_chunk(av_detect_pipeline *p, worker *w, const av_detect__img *const *imgs,
                          av_detect_det **dets, int n, int top_k, int *batched, char *err,
                          size_t errlen)
{
    int ns = n * p->n_views; /* bounded by species_batch: w->feat holds that many */
    if (ns >= 2 && ns <= p->species_batch && !atomic_load(&p->batch_refused)) {
        int rc = classify_batch(p, w, imgs, dets, n, top_k, err, errlen);
        if (rc <= 0)
            return rc;
    }
    if (n >= 2)
        *batched = 0;
    for (int j = 0; j < n; j++)
        if (classify_box(p, w, imgs[j], dets[j], top_k, err, errlen))
            return -1;
    return 0;
}

/* Label of a box without species (read_species names the others). */
static void set_label(av_detect_pipeline *p, av_detect_det *d)
{
    if (d->n_species == 0) {
        const char *name = d->class_index == p->bird_class || d->whole_image ? "Bird"
                                                                               : d->class_name;
        snprintf(d->label, sizeof d->label, "%s", name);
        d->confidence = d->det_score;
    }
}

/* ImageNet's group sums for pixels [x1,y1,x2,y2) of img; the crop comes
 * from the worker's cache (crops.h), so a box's species crop is reused. */
static int second_crop(av_detect_pipeline *p, worker *w, const av_detect__img *img, int x1,
                       int y1, int x2, int y2, av_detect__second_sums *sums, char *err,
                       size_t errlen)
{
    int sw, sh;
    av_detect__second_input_size(p->second, &sw, &sh);
    const uint8_t *px = av_detect__crops_get(&w->crops, img, x1, y1, x2, y2, sw, sh, w->pool);
    if (!px)
        return av_base_errf(err, errlen, "second opinion: crop failed");
    return av_detect__second_run(p->second, w->second, px, sums, err, errlen);
}

/* Whether the veto asks about d: a bird box the species model is unsure of
 * (second.h av_detect__second_asks; its species are named first). */
static int veto_asks(const av_detect_pipeline *p, const av_detect_det *d)
{
    return d->class_index == p->bird_class &&
           av_detect__second_asks(av_detect__second_rules_of(p->second), d->species_best);
}

/* The ImageNet veto (second.h) on r's bird boxes: a box whose crop
 * ImageNet calls an artefact and not a bird is removed. 0, or -1 (err). */
static int veto_boxes(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                      av_detect_result *r, char *err, size_t errlen)
{
    int kept = 0;
    for (int i = 0; i < r->n_dets; i++) {
        av_detect_det *d = &r->dets[i];
        if (veto_asks(p, d)) {
            int x1, y1, x2, y2;
            av_detect__second_sums sums;
            crop_square(img, d, p->crop_margin, &x1, &y1, &x2, &y2);
            if (second_crop(p, w, img, x1, y1, x2, y2, &sums, err, errlen))
                return -1;
            if (av_detect__second_vetoes(av_detect__second_rules_of(p->second), &sums))
                continue;
        }
        if (kept != i)
            r->dets[kept] = *d;
        kept++;
    }
    r->n_dets = kept;
    return 0;
}

/* The veto on the bird boxes of rs[0..n) in runs of several crops (even
 * chunks of at most species_batch): one run for a photo's boxes instead of
 * one each. Boxes ImageNet vetoes are marked in out (one flag per box, in
 * order over rs); 0, 1 when the engine cannot batch ImageNet (nothing
 * marked: the caller vetoes box by box; logged once), -1 on failure. */
static int veto_batched(av_detect_pipeline *p, worker *w, int n,
                        const av_detect__img *const *imgs, av_detect_result *const *rs,
                        int birds, unsigned char *out, char *err, size_t errlen)
{
    const av_detect__second_rules *ru = av_detect__second_rules_of(p->second);
    int sw, sh, cap = p->species_batch;
    av_detect__second_input_size(p->second, &sw, &sh);
    int chunks = (birds + cap - 1) / cap, per = (birds + chunks - 1) / chunks;
    int at[SPECIES_BATCH_CAP], nc = 0, done = 0, flag = 0;
    av_detect__second_sums sums[SPECIES_BATCH_CAP];
    cls_batch *b = NULL;
    char e[512] = "";
    for (int k = 0; k < n; k++)
        for (int i = 0; i < rs[k]->n_dets; i++, flag++) {
            const av_detect_det *d = &rs[k]->dets[i];
            if (!veto_asks(p, d))
                continue;
            if (nc == 0) {
                int want = birds - done < per ? birds - done : per;
                b = av_detect__batch_slot(p, w, av_detect__second_nn(p->second), w->sb,
                                          BATCH_SLOTS, want, e, sizeof e);
                if (!b) {
                    if (atomic_exchange(&p->second_refused, 1) == 0)
                        av_log(AV_LOG_WARN, "second_batch_off", "model", "imagenet", "error", e,
                               "effect", "veto crops run one at a time", NULL);
                    return 1; /* earlier chunks are marked again box by box: same answers */
                }
            }
            int x1, y1, x2, y2;
            crop_square(imgs[k], d, p->crop_margin, &x1, &y1, &x2, &y2);
            /* filled at once: a later get may replace this crop's cache entry */
            const uint8_t *px = av_detect__crops_get(&w->crops, imgs[k], x1, y1, x2, y2, sw, sh,
                                                     w->pool);
            if (!px)
                return av_base_errf(err, errlen, "second opinion: crop failed");
            av_detect__second_fill(p->second, px, b->in, nc);
            at[nc++] = flag;
            done++;
            if (nc == b->n) {
                if (av_detect__second_run_n(p->second, w->second, b->ctx, b->in, b->out, nc, sums,
                                            err, errlen))
                    return -1;
                for (int j = 0; j < nc; j++)
                    out[at[j]] = (unsigned char)av_detect__second_vetoes(ru, &sums[j]);
                nc = 0;
            }
        }
    return 0;
}

/* The ImageNet veto on the bird boxes of rs[0..n) (rs[k] cut from imgs[k]):
 * batched when there are two or more and batching is on, else box by box.
 * 0, or -1 (err). */
static int veto_step(av_detect_pipeline *p, worker *w, int n, const av_detect__img *const *imgs,
                     av_detect_result *const *rs, char *err, size_t errlen)
{
    int birds = 0, total = 0;
    for (int k = 0; k < n; k++) {
        total += rs[k]->n_dets;
        for (int i = 0; i < rs[k]->n_dets; i++)
            birds += veto_asks(p, &rs[k]->dets[i]);
    }
    if (birds == 0)
        return 0;
    int rc = 1;
    unsigned char *veto = NULL;
    if (birds >= 2 && p->species_batch >= 2 && !atomic_load(&p->second_refused)) {
        veto = calloc((size_t)total, 1);
        if (!veto)
            return av_base_errf(err, errlen, "second opinion: out of memory");
        rc = veto_batched(p, w, n, imgs, rs, birds, veto, err, errlen);
    }
    if (rc == 0) { /* drop the marked boxes, in order */
        int flag = 0;
        for (int k = 0; k < n; k++) {
            av_detect_result *r = rs[k];
            int kept = 0;
            for (int i = 0; i < r->n_dets; i++, flag++)
                if (!veto[flag])
                    r->dets[kept++] = r->dets[i];
            r->n_dets = kept;
        }
    }
    free(veto);
    for (int k = 0; rc == 1 && k < n; k++)
        if (veto_boxes(p, w, imgs[k], rs[k], err, errlen))
            return -1;
    return rc < 0 ? -1 : 0;
}

/* ---- bird boxes: species and veto side by side ----
 * Both models are MobileNets of ~5.5 ms a crop on one thread; each split
 * over two threads pays a barrier per layer (and waits out a thread the
 * machine's other load took), so the bird crops of a step run through the
 * species model on one thread and through the ImageNet veto on the other,
 * each on a one-thread context of the worker's (cbs, sbs), instead of
 * one model after the other on both. Same crops, same arithmetic, same
 * order of effects: the species are named, then the veto drops boxes. */

typedef struct pair_job {
    av_detect_pipeline *p;
    worker *w;
    int ns;                     /* bird boxes, one sample each */
    av_detect_det **dets;       /* [ns], in step order */
    cls_batch *cb, *sb;         /* species' cbs and the veto's sbs slot, inputs filled */
    unsigned char *vetoed;      /* [ns] */
    int top_k, rc[2];
    char err[2][512];
} pair_job;

static void pair_task(void *ctx, size_t t)
{
    pair_job *j = ctx;
    av_detect_pipeline *p = j->p;
    worker *w = j->w;
    char e[512] = "";
    if (t == 0) { /* as classify_batch / classify_box for one view */
        if (run_species(p, j->cb->ctx, j->cb->in, j->cb->out, w->feat, j->ns, e, sizeof e) !=
            AV_NN_OK) {
            j->rc[0] = av_base_errf(j->err[0], sizeof j->err[0], "%s: %s", p->cls.name, e);
            return;
        }
        const av_nn_tensor_info *to = av_nn_output(p->cls_model, p->cls_out);
        size_t out_bytes = av_detect__numel(to) * av_nn_dtype_size(to->dtype);
        for (int s = 0; s < j->ns; s++) {
            read_scores(p, w,
                        p->head.n_classes ? (const void *)(w->feat + (size_t)s * p->feat_bytes)
                                          : (const uint8_t *)j->cb->out[p->cls_out] + s * out_bytes);
            add_view(p, w, 0, 1);
            name_species(p, w, j->top_k, j->dets[s]);
        }
        return;
    }
    const av_detect__second_rules *ru = av_detect__second_rules_of(p->second);
    av_detect__second_sums sums[SPECIES_BATCH_CAP];
    j->rc[1] = av_detect__second_run_n(p->second, w->second, j->sb->ctx, j->sb->in, j->sb->out,
                                       j->ns, sums, j->err[1], sizeof j->err[1]);
    for (int s = 0; j->rc[1] == 0 && s < j->ns; s++)
        j->vetoed[s] = (unsigned char)av_detect__second_vetoes(ru, &sums[s]);
}

/* Whether the bird boxes of a step (birds of them) go through species_pair:
 * two pool threads, the veto on, one species view, one run's worth of
 * boxes (more than one only when the models batch), and the worker's
 * one-thread contexts not refused before (w->solo). */
static int pair_wanted(av_detect_pipeline *p, worker *w, int birds)
{
    if (birds < 1 || w->solo < 0 || p->n_views != 1 || !p->second ||
        av_nn_pool_threads(w->pool) < 2 ||
        av_detect__second_rules_of(p->second)->veto_max_bird <= 0 ||
        av_detect__second_rules_of(p->second)->veto_max_species > 0)
        return 0; /* with veto_max_species the veto waits for the species' answers */
    return birds == 1 || (birds <= p->species_batch && !atomic_load(&p->batch_refused) &&
                          !atomic_load(&p->second_refused));
}

/* Species and veto of the bird boxes of rs[0..n) (birds of them) side by
 * side (above); vetoed boxes leave their results. 0, 1 when the engine
 * cannot batch a model (nothing written: the caller runs them as before),
 * or -1 (err set). */
static int species_pair(av_detect_pipeline *p, worker *w, int n,
                        const av_detect__img *const *imgs, av_detect_result *const *rs,
                        int birds, int top_k, char *err, size_t errlen)
{
    char e[512] = "";
    av_detect_det *dets[SPECIES_BATCH_CAP];
    unsigned char vetoed[SPECIES_BATCH_CAP] = {0};
    pair_job j = {.p = p, .w = w, .ns = birds, .dets = dets, .vetoed = vetoed, .top_k = top_k};
    j.cb = av_detect__batch_slot_solo(p, w, p->cls_model, w->cbs, BATCH_SLOTS, birds, e,
                                      sizeof e);
    j.sb = j.cb ? av_detect__batch_slot_solo(p, w, av_detect__second_nn(p->second), w->sbs,
                                             BATCH_SLOTS, birds, e, sizeof e)
                : NULL;
    if (!j.sb) {
        if (birds == 1) { /* a model that cannot run at all on one thread: never again */
            w->solo = -1;
            av_log(AV_LOG_WARN, "species_pair_off", "error", e, "effect",
                   "the species model and ImageNet run one after the other", NULL);
        }
        return 1;
    }
    w->solo = 1;
    const av_nn_tensor_info *ti = av_nn_input(p->cls_model, p->cls_in);
    size_t in_bytes = av_detect__numel(ti) * av_nn_dtype_size(ti->dtype);
    int sw, sh, s = 0;
    av_detect__second_input_size(p->second, &sw, &sh);
    /* every crop made here, on both threads; each filled at once (a later
     * get may replace a cache entry; the veto's is the species crop when
     * margins and sizes agree) */
    for (int k = 0; k < n; k++)
        for (int i = 0; i < rs[k]->n_dets; i++) {
            av_detect_det *d = &rs[k]->dets[i];
            if (d->class_index != p->bird_class)
                continue;
            int x1, y1, x2, y2;
            if (fill_view(p, w, imgs[k], d, 0,
                          (uint8_t *)j.cb->in[p->cls_in] + (size_t)s * in_bytes, err, errlen))
                return -1;
            crop_square(imgs[k], d, p->crop_margin, &x1, &y1, &x2, &y2);
            const uint8_t *px =
                av_detect__crops_get(&w->crops, imgs[k], x1, y1, x2, y2, sw, sh, w->pool);
            if (!px)
                return av_base_errf(err, errlen, "second opinion: crop failed");
            av_detect__second_fill(p->second, px, j.sb->in, s);
            dets[s++] = d;
        }
    av_nn_pool_for(w->pool, pair_task, &j, 2);
    for (int t = 0; t < 2; t++)
        if (j.rc[t])
            return av_base_errf(err, errlen, "%s", j.err[t]);
    s = 0; /* drop the vetoed boxes as veto_step does: the others keep their order */
    for (int k = 0; k < n; k++) {
        av_detect_result *r = rs[k];
        int kept = 0;
        for (int i = 0; i < r->n_dets; i++)
            if (r->dets[i].class_index != p->bird_class || !vetoed[s++])
                r->dets[kept++] = r->dets[i];
        r->n_dets = kept;
    }
    return 0;
}

/* The ImageNet rescue (second.h): 1 when the whole image's bird classes
 * reach the threshold, 0 when not (or the rule is off), -1 on failure. */
static int rescue_whole(av_detect_pipeline *p, worker *w, const av_detect__img *img, char *err,
                        size_t errlen)
{
    const av_detect__second_rules *ru = av_detect__second_rules_of(p->second);
    av_detect__second_sums sums;
    if (ru->rescue_min_bird <= 0)
        return 0;
    if (second_crop(p, w, img, 0, 0, img->w, img->h, &sums, err, errlen))
        return -1;
    return sums.group[AV_DETECT__SECOND_BIRD] >= ru->rescue_min_bird;
}

/* A bird found on a white page is a drawing, not a sighting (illus.h): its
 * bird answers leave the box list, the best one kept aside for display. */
static void illustration_rule(const av_detect_pipeline *p, const worker *w,
                              const av_detect__img *img, av_detect_result *r)
{
    int first = -1;
    for (int i = 0; i < r->n_dets && first < 0; i++)
        if (r->dets[i].class_index == p->bird_class || r->dets[i].whole_image)
            first = i;
    if (!p->illus.on || first < 0)
        return;
    av_detect__page pg;
    av_detect__page_measure_on(img->rgb, img->w, img->h, w->pool, &pg);
    r->page_measured = 1;
    r->page_paper = pg.paper;
    r->page_border = pg.border;
    if (!av_detect__illus_is(&p->illus, &pg))
        return;
    r->illustration = 1;
    r->illustrated = r->dets[first];
    int kept = 0;
    for (int i = 0; i < r->n_dets; i++)
        if (r->dets[i].class_index != p->bird_class && !r->dets[i].whole_image)
            r->dets[kept++] = r->dets[i];
    r->n_dets = kept;
}

/*
 * Species and labels for n detected images (rs[i] cut from imgs[i]): the
 * bird crops of all of them in even chunks of at most species_batch crops
 * (20 crops at 16 run as 10 + 10), then, for an image without a bird box,
 * the whole image. 0, or -1 on an engine failure (err set).
 */
int av_detect__species_step(av_detect_pipeline *p, worker *w, int n,
                            const av_detect__img *const *imgs, av_detect_result *const *rs,
                            const av_detect_run_opts *o, char *err, size_t errlen)
{
    int top_k = o->top_k > 0 ? (o->top_k < AV_DETECT_TOPK_MAX ? o->top_k : AV_DETECT_TOPK_MAX) : 3;
    av_detect__crops_reset(&w->crops); /* crops of earlier images are stale */
    if (p->has_species) {
        int birds = 0;
        for (int k = 0; k < n; k++)
            for (int i = 0; i < rs[k]->n_dets; i++)
                birds += rs[k]->dets[i].class_index == p->bird_class;
        /* boxes per run, so that their views fit species_batch samples */
        int cap = p->species_batch / p->n_views > 0 ? p->species_batch / p->n_views : 1;
        int chunks = (birds + cap - 1) / cap;
        int per = chunks ? (birds + chunks - 1) / chunks : 0;
        av_detect_det *chunk[SPECIES_BATCH_CAP];
        const av_detect__img *cimg[SPECIES_BATCH_CAP];
        int nc = 0, done = 0, batched = birds >= 2 && p->species_batch > 1;
        int pair = pair_wanted(p, w, birds);
        if (pair) {
            int rc = species_pair(p, w, n, imgs, rs, birds, top_k, err, errlen);
            if (rc < 0)
                return -1;
            pair = rc == 0;
        }
        for (int k = 0; !pair && k < n; k++) {
            for (int i = 0; i < rs[k]->n_dets; i++) {
                if (rs[k]->dets[i].class_index != p->bird_class)
                    continue;
                cimg[nc] = imgs[k];
                chunk[nc++] = &rs[k]->dets[i];
                done++;
                if (nc == per || done == birds) {
                    if (classify_chunk(p, w, cimg, chunk, nc, top_k, &batched, err, errlen))
                        return -1;
                    nc = 0;
                }
            }
        }
        if (!pair && p->second && av_detect__second_rules_of(p->second)->veto_max_bird > 0 &&
            veto_step(p, w, n, imgs, rs, err, errlen))
            return -1;
        for (int k = 0; k < n; k++) {
            av_detect_result *r = rs[k];
            int mine = 0;
            for (int i = 0; i < r->n_dets; i++)
                mine += r->dets[i].class_index == p->bird_class;
            r->batched_species = batched && mine > 0;
            if (mine)
                continue;
            /* No bird box: ask the species model about the whole image and
             * report a whole-image bird when it is confident (pipeline.json). */
            const av_detect__img *img = imgs[k];
            av_detect_det *d = &r->dets[r->n_dets];
            memset(d, 0, sizeof *d);
            double best = classify(p, w, img, 0, 0, img->w, img->h, top_k, d, err, errlen);
            if (best < 0)
                return -1;
            int bird = best >= p->whole_min;
            av_detect_whole_by by = AV_DETECT_WHOLE_SPECIES;
            if (!bird && p->second) {
                int rescued = rescue_whole(p, w, img, err, errlen);
                if (rescued < 0)
                    return -1;
                if (rescued && d->rule == AV_DETECT_RULE_NONE) {
                    /* species says background: answered as an unknown bird */
                    d->whole_image = 1;
                    av_detect__answer_name(&p->answer, w->probs, d);
                }
                bird = rescued;
                by = AV_DETECT_WHOLE_IMAGENET;
            }
            if (!bird && p->answer.whole_agree > 0 && best >= p->answer.whole_agree) {
                /* a frame-filling bird: its centre square must name the same species */
                int top = w->raw_top, x1, y1, x2, y2;
                av_detect_det c;
                memset(&c, 0, sizeof c);
                av_detect__answer_centre(img->w, img->h, &x1, &y1, &x2, &y2);
                double cbest = classify(p, w, img, x1, y1, x2, y2, top_k, &c, err, errlen);
                if (cbest < 0)
                    return -1;
                bird = av_detect__answer_views_agree(&p->answer, top, best, w->raw_top, cbest);
                by = AV_DETECT_WHOLE_TWO_VIEWS;
            }
            if (!bird && r->recheck_found) {
                /* the zoom-out recheck's box (pipeline_run.c), after every whole-image rule */
                *d = r->recheck_box;
                if (classify_box(p, w, img, d, top_k, err, errlen))
                    return -1;
                r->n_dets++;
                continue;
            }
            if (bird) {
                d->x1 = d->y1 = 0;
                d->x2 = (float)img->w;
                d->y2 = (float)img->h;
                d->class_index = -1;
                d->whole_image = 1;
                d->whole_by = by;
                snprintf(d->class_name, sizeof d->class_name, "bird");
                r->n_dets++;
            } else {
                memset(d, 0, sizeof *d);
            }
        }
    }
    for (int k = 0; k < n; k++) {
        av_detect_result *r = rs[k];
        int kept = 0;
        for (int i = 0; i < r->n_dets; i++) {
            av_detect_det *d = &r->dets[i];
            if (d->n_species > 0 && d->rule == AV_DETECT_RULE_NONE)
                continue; /* answer.h: background, and a weak detector score */
            set_label(p, d);
            r->dets[kept++] = *d;
        }
        r->n_dets = p->has_species ? av_detect__answer_settle(&p->answer, r->dets, kept) : kept;
        illustration_rule(p, w, imgs[k], r);
    }
    return 0;
}

/* ------------------------------------------------------------ retraining */

av_detect_status av_detect_species_base_head(av_detect_pipeline *p, av_detect_head *h,
                                             const char *const **labels, int *background,
                                             const char **features, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    if (!p || !p->has_species)
        return AV_BASE_FAIL(AV_DETECT_E_ARG, err, errlen, "species model not loaded");
    const char *in, *wn, *bn;
    av_nn_tensor_info wi, bi, fi;
    const void *wd = NULL, *bd = NULL;
    char e[512];
    if (av_nn_last_fc(p->cls_model, &in, &wn, &bn, e, sizeof e) ||
        av_nn_find_tensor(p->cls_model, in, &fi, NULL, e, sizeof e) ||
        av_nn_find_tensor(p->cls_model, wn, &wi, &wd, e, sizeof e))
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: %s", p->cls.name, e);
    if (bn[0] && av_nn_find_tensor(p->cls_model, bn, &bi, &bd, e, sizeof e))
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: %s", p->cls.name, e);
    const av_nn_tensor_info *to = av_nn_output(p->cls_model, p->cls_out);
    size_t n_out = av_detect__numel(to);
    if (!wd || wi.rank != 2 || (size_t)wi.dims[0] != n_out ||
        (size_t)wi.dims[1] != av_detect__numel(&fi) ||
        (wi.dtype != AV_NN_F32 && wi.dtype != AV_NN_U8 && wi.dtype != AV_NN_I8) ||
        (bd && bi.dtype != AV_NN_F32 && bi.dtype != AV_NN_I32))
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen,
                     "%s: its last fully connected layer does not map the features to the "
                     "%zu classes as a constant [classes, features] matrix",
                     p->cls.name, n_out);
    h->n_classes = (int)wi.dims[0];
    h->dim = (int)wi.dims[1];
    h->w = malloc((size_t)h->n_classes * (size_t)h->dim * sizeof *h->w);
    h->b = calloc((size_t)h->n_classes, sizeof *h->b);
    if (!h->w || !h->b) {
        av_detect_head_free(h);
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "base head: out of memory");
    }
    dequantise(&wi, wd, h->w, h->n_classes * h->dim);
    for (int c = 0; bd && c < h->n_classes; c++)
        h->b[c] = bi.dtype == AV_NN_F32 ? ((const float *)bd)[c]
                                         : bi.scale * (float)(((const int32_t *)bd)[c] -
                                                              bi.zero_point);
    *features = in;
    /* a retrained version's first classes are the base labels, in order */
    *labels = (const char *const *)p->cls.labels;
    *background = p->cls.background < h->n_classes ? p->cls.background : -1;
    return AV_DETECT_OK;
}

av_detect_status av_detect_box_features(av_detect_pipeline *p, const void *image, size_t len,
                                        const av_detect_run_opts *opts, int n,
                                        const float *boxes, float *feats, char *err,
                                        size_t errlen)
{
    if (!p || !p->has_species || n < 0 || (!image && len))
        return AV_BASE_FAIL(AV_DETECT_E_ARG, err, errlen, "features: no species model or image");
    const char *in, *wn, *bn;
    av_nn_tensor_info fi;
    char e[512];
    if (av_nn_last_fc(p->cls_model, &in, &wn, &bn, e, sizeof e) ||
        av_nn_find_tensor(p->cls_model, in, &fi, NULL, e, sizeof e))
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: %s", p->cls.name, e);
    int dim = (int)av_detect__numel(&fi);
    size_t fbytes = (size_t)dim * av_nn_dtype_size(fi.dtype);
    av_detect_run_opts o = opts ? *opts : (av_detect_run_opts){0};
    av_detect__img img;
    av_detect_status st = av_detect__img_decode(
        image, len, o.max_bytes > 0 ? o.max_bytes : DEFAULT_MAX_BYTES,
        o.max_pixels > 0 ? o.max_pixels : DEFAULT_MAX_PIXELS, &img, err, errlen);
    if (st)
        return st;
    uint8_t *buf = malloc(fbytes);
    worker *w = buf ? av_detect__acquire(p, err, errlen, &st) : NULL;
    if (w)
        av_detect__crops_reset(&w->crops);
    if (!buf && !st)
        st = AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "features: out of memory");
    for (int j = 0; w && !st && j < n; j++) {
        const float *b = boxes + 4 * j;
        av_detect_det d = {.x1 = b[0], .y1 = b[1], .x2 = b[2], .y2 = b[3]};
        if (!(d.x2 > d.x1 && d.y2 > d.y1)) {
            st = AV_BASE_FAIL(AV_DETECT_E_ARG, err, errlen, "features: box %d is empty", j);
            break;
        }
        int x1, y1, x2, y2;
        crop_square(&img, &d, p->crop_margin, &x1, &y1, &x2, &y2);
        if (fill_crop(p, w, &img, x1, y1, x2, y2, 0, w->cls_in[p->cls_in], err, errlen)) {
            st = AV_DETECT_E_NOMEM;
            break;
        }
        if (av_nn_run_tap(w->cls_ctx, (const void *const *)w->cls_in, w->cls_out, in, buf,
                          fbytes, e, sizeof e) != AV_NN_OK) {
            st = AV_BASE_FAIL(AV_DETECT_E_ENGINE, err, errlen, "%s: %s", p->cls.name, e);
            break;
        }
        dequantise(&fi, buf, feats + (size_t)j * (size_t)dim, dim);
    }
    if (w)
        av_detect__release(p, w);
    free(buf);
    av_detect__img_free(&img);
    return st;
}
