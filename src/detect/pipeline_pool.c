/*
 * pipeline_pool.c - the pipeline's workers: one engine context per model
 * plus the buffers one run needs, in a small pool guarded by a mutex so one
 * pipeline serves many threads. Each worker also keeps a few batched
 * contexts per model (cls_batch), one per sample count, replacing the
 * least recently used: the species crops and the detector batches use them.
 */
#include "detect/pipeline_impl.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>


static void batch_free(const av_nn_model *m, cls_batch *b)
{
    av_nn_ctx_free(b->ctx);
    if (b->in && b->in_ctx)
        b->in[b->in_ctx - 1] = NULL; /* the context's bytes, freed with it */
    av_detect__bufs_free(b->in, b->in && m ? av_nn_num_inputs(m) : 0);
    av_detect__bufs_free(b->out, b->out && m ? av_nn_num_outputs(m) : 0);
    memset(b, 0, sizeof *b);
}

void av_detect__worker_free(av_detect_pipeline *p, worker *w)
{
    for (int i = 0; i < BATCH_SLOTS; i++)
        batch_free(p->cls_model, &w->cb[i]); /* before the pool their contexts use */
    for (int i = 0; i < BATCH_SLOTS; i++) {
        batch_free(p->cls_model, &w->cbs[i]);
        batch_free(p->second ? av_detect__second_nn(p->second) : NULL, &w->sb[i]);
        batch_free(p->second ? av_detect__second_nn(p->second) : NULL, &w->sbs[i]);
    }
    for (int i = 0; i < DET_SLOTS; i++)
        batch_free(p->det_model, &w->db[i]);
    batch_free(p->det_model, &w->tb);
    av_nn_ctx_free(w->det_ctx);
    av_nn_ctx_free(w->cls_ctx);
    av_detect__second_ctx_free(w->second);
    w->second = NULL;
    av_nn_pool_free(w->pool); /* after the contexts that use it */
    w->pool = NULL;
    if (w->det_in && w->det_in_ctx)
        w->det_in[p->det_in] = NULL; /* the context's bytes, freed with it */
    av_detect__bufs_free(w->det_in, p->det_model ? av_nn_num_inputs(p->det_model) : 0);
    av_detect__bufs_free(w->det_out, p->det_model ? av_nn_num_outputs(p->det_model) : 0);
    av_detect__bufs_free(w->cls_in, p->cls_model ? av_nn_num_inputs(p->cls_model) : 0);
    av_detect__bufs_free(w->cls_out, p->cls_model ? av_nn_num_outputs(p->cls_model) : 0);
    free(w->resized);
    av_detect__crops_free(&w->crops);
    free(w->probs);
    free(w->probs_sum);
    free(w->flip);
    free(w->feat);
    free(w->featf);
    free(w->boxes);
    free(w->xboxes);
    free(w->touts);
    memset(w, 0, sizeof *w);
}

/* ---- the context pool ---- */

/* AV_DETECT_INPUT_INPLACE=0: the detector input goes through a buffer of
 * the worker's and is copied into the context each run (as before the
 * in-place fill); read once. */
static int input_inplace(void)
{
    static atomic_int on = -1; /* -1: not read from the environment yet */
    int v = atomic_load(&on);
    if (v < 0) {
        const char *e = getenv("AV_DETECT_INPUT_INPLACE");
        v = !(e && !strcmp(e, "0"));
        atomic_store(&on, v);
    }
    return v;
}

/* Point bufs[i], the n-sample buffer of detector input i, at ctx's own
 * input bytes, so the resize writes where the engine reads (no 3 MiB copy
 * a CenterNet image, and 3 MiB less memory). Every run refills it
 * (det_prepare writes all of a sample; a batch runs only as many samples
 * as it has images or tiles), and nothing reads it after av_nn_run, which
 * may reuse the bytes. Returns 1 when it did; keeps our buffer when the
 * context has none of the expected size. */
static int det_input_in_place(const av_nn_model *m, av_nn_ctx *ctx, void **bufs, int i,
                              size_t n)
{
    if (!bufs || !input_inplace())
        return 0;
    const av_nn_tensor_info *ti = av_nn_input(m, i);
    size_t nb = 0;
    void *b = av_nn_ctx_input_buffer(ctx, i, &nb);
    if (!b || nb != n * av_detect__numel(ti) * av_nn_dtype_size(ti->dtype))
        return 0;
    free(bufs[i]);
    bufs[i] = b;
    return 1;
}

/* One zeroed buffer per tensor of a model's inputs or outputs, for n
 * samples (the models here have batch 1: the checks ask for [1,...]). */

av_detect_status av_detect__worker_init(av_detect_pipeline *p, worker *w, char *err, size_t errlen)
{
    char e[512] = "";
    /* one thread pool for the worker's detector and classifier contexts, which
     * run one after the other: a pool each left idle workers spinning */
    if (av_nn_pool_new(p->threads, &w->pool, e, sizeof e) != AV_NN_OK)
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "%s", e);
    av_nn_ctx_opts co = {.threads = p->threads, .backend = AV_NN_BACKEND_XNNPACK,
                         .pool = w->pool};
    if (av_nn_ctx_new(p->det_model, &co, &w->det_ctx, e, sizeof e) != AV_NN_OK)
        return AV_BASE_FAIL(AV_DETECT_E_ENGINE, err, errlen, "%s: %s", p->det.name, e);
    if (p->has_species && av_nn_ctx_new(p->cls_model, &co, &w->cls_ctx, e, sizeof e) != AV_NN_OK)
        return AV_BASE_FAIL(AV_DETECT_E_ENGINE, err, errlen, "%s: %s", p->cls.name, e);
    av_detect_status st;
    if (p->second && (st = av_detect__second_ctx_new(p->second, w->pool, p->threads, &w->second,
                                                     err, errlen)))
        return st;
    int no = av_nn_num_outputs(p->det_model);
    w->det_in = av_detect__bufs_alloc(p->det_model, 1, 1);
    w->det_out = av_detect__bufs_alloc(p->det_model, 0, 1);
    w->det_in_ctx = det_input_in_place(p->det_model, w->det_ctx, w->det_in, p->det_in, 1);
    /* CenterNet is decoded from its detections alone: a NULL buffer tells the
     * engine not to copy out the others (the 128x128x80 heat map, 5 MiB a run) */
    for (int i = 0; w->det_out && p->det_out >= 0 && i < no; i++)
        if (i != p->det_out) {
            free(w->det_out[i]);
            w->det_out[i] = NULL;
        }
    /* only quantised inputs go through 0..255 floats (float ones are filled in one pass) */
    int f32_in = av_nn_input(p->det_model, p->det_in)->dtype == AV_NN_F32;
    w->resized = f32_in ? NULL
                        : malloc((size_t)p->det.in_w * (size_t)p->det.in_h * 3 * sizeof(float));
    w->boxes = malloc(NMS_POOL * sizeof *w->boxes);
    w->xboxes = malloc(NMS_POOL * sizeof *w->xboxes);
    w->touts = calloc((size_t)no, sizeof *w->touts);
    int ok = w->det_in && w->det_out && (f32_in || w->resized) && w->boxes && w->xboxes &&
             w->touts;
    if (p->has_species) {
        w->cls_in = av_detect__bufs_alloc(p->cls_model, 1, 1);
        w->cls_out = av_detect__bufs_alloc(p->cls_model, 0, 1);
        w->probs = malloc((size_t)p->cls.n_labels * sizeof *w->probs);
        w->probs_sum = malloc((size_t)p->cls.n_labels * sizeof *w->probs_sum);
        w->flip = malloc((size_t)p->cls.in_w * (size_t)p->cls.in_h * 3);
        ok = ok && w->cls_in && w->cls_out && w->probs && w->probs_sum && w->flip;
        if (p->head.n_classes) {
            w->feat = malloc((size_t)p->species_batch * p->feat_bytes);
            w->featf = malloc((size_t)p->head.dim * sizeof *w->featf);
            ok = ok && w->feat && w->featf;
        }
    }
    if (!ok)
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "pipeline: out of memory for run buffers");
    for (int i = 0; i < no; i++) {
        const av_nn_tensor_info *ti = av_nn_output(p->det_model, i);
        w->touts[i].data = w->det_out[i];
        w->touts[i].rank = ti->rank;
        for (int d = 0; d < ti->rank; d++)
            w->touts[i].dims[d] = ti->dims[d];
    }
    w->ready = 1;
    return AV_DETECT_OK;
}

worker *av_detect__acquire(av_detect_pipeline *p, char *err, size_t errlen, av_detect_status *st)
{
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int spare = -1;
        for (int i = 0; i < p->n_workers; i++) {
            if (p->workers[i].busy)
                continue;
            if (p->workers[i].ready) {
                p->workers[i].busy = 1;
                pthread_mutex_unlock(&p->mu);
                return &p->workers[i];
            }
            if (spare < 0)
                spare = i;
        }
        if (spare >= 0) {
            /* build outside the lock: packing weights takes a while */
            worker *w = &p->workers[spare];
            w->busy = 1;
            pthread_mutex_unlock(&p->mu);
            *st = av_detect__worker_init(p, w, err, errlen);
            if (*st == AV_DETECT_OK)
                return w;
            pthread_mutex_lock(&p->mu);
            av_detect__worker_free(p, w);
            pthread_cond_signal(&p->cv);
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        pthread_cond_wait(&p->cv, &p->mu);
    }
}

worker *av_detect__try_acquire(av_detect_pipeline *p)
{
    worker *w = NULL;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->n_workers && !w; i++)
        if (!p->workers[i].busy && p->workers[i].ready) {
            w = &p->workers[i];
            w->busy = 1;
        }
    pthread_mutex_unlock(&p->mu);
    return w;
}

void av_detect__release(av_detect_pipeline *p, worker *w)
{
    pthread_mutex_lock(&p->mu);
    w->busy = 0;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* The worker's context of model m for n samples per run from slots[0..ns),
 * made on first use (replacing the least recently used one) on the
 * worker's pool; NULL with e set when the engine cannot make it. */
static cls_batch *slot_on(av_detect_pipeline *p, worker *w, const av_nn_model *m,
                          cls_batch *slots, int ns, int n, av_nn_pool *pool, char *e,
                          size_t elen)
{
    cls_batch *lru = &slots[0];
    w->tick++;
    for (int i = 0; i < ns; i++) {
        if (slots[i].n == n) {
            slots[i].used = w->tick;
            return &slots[i];
        }
        if (slots[i].used < lru->used)
            lru = &slots[i];
    }
    batch_free(m, lru);
    av_nn_ctx_opts co = {.threads = pool ? p->threads : 1, .backend = AV_NN_BACKEND_XNNPACK,
                         .pool = pool, .batch = n};
    if (av_nn_ctx_new(m, &co, &lru->ctx, e, elen) != AV_NN_OK)
        return NULL;
    lru->in = av_detect__bufs_alloc(m, 1, (size_t)n);
    lru->out = av_detect__bufs_alloc(m, 0, (size_t)n);
    if (!lru->in || !lru->out) {
        batch_free(m, lru);
        snprintf(e, elen, "out of memory for %d-sample buffers", n);
        return NULL;
    }
    if (m == p->det_model && det_input_in_place(m, lru->ctx, lru->in, p->det_in, (size_t)n))
        lru->in_ctx = p->det_in + 1;
    lru->n = n;
    lru->used = w->tick;
    return lru;
}

cls_batch *av_detect__batch_slot(av_detect_pipeline *p, worker *w, const av_nn_model *m,
                                 cls_batch *slots, int ns, int n, char *e, size_t elen)
{
    return slot_on(p, w, m, slots, ns, n, w->pool, e, elen);
}

cls_batch *av_detect__batch_slot_solo(av_detect_pipeline *p, worker *w, const av_nn_model *m,
                                      cls_batch *slots, int ns, int n, char *e, size_t elen)
{
    return slot_on(p, w, m, slots, ns, n, NULL, e, elen);
}

/* vision's parallel for on the engine pool: the image stages around the
 * engine run on the worker's threads, which sit idle between engine runs. */
static void pool_run(void *pool, av_vision_task_fn task, void *ctx, size_t n)
{
    av_nn_pool_for(pool, task, ctx, n);
}

av_vision_par av_detect__worker_par(const worker *w)
{
    if (!w || !w->pool)
        return (av_vision_par){.threads = 1};
    return (av_vision_par){.run = pool_run,
                           .pool = w->pool,
                           .threads = av_nn_pool_threads(w->pool)};
}
