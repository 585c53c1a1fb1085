/*
 * pipeline_impl.h - what the pipeline's files share (internal to
 * src/detect; the public API is detect.h). The files, lowest first:
 *
 *   pipeline_pool.c     the worker pool: engine contexts and run buffers,
 *                       and each worker's cache of batched contexts
 *   pipeline_species.c  species of the bird crops (batched), whole-image
 *                       birds, labels; the retraining entry points
 *   pipeline_run.c      detector runs and passes, one image end to end
 *   pipeline_batch.c    several images sharing detector runs
 *   pipeline.c          opening (pipeline.json, manifests, model checks,
 *                       the first worker planned), closing, getters
 *
 * Each includes only this header and the lower modules' headers: no file
 * calls one above it.
 */
#ifndef AV_DETECT_PIPELINE_IMPL_H
#define AV_DETECT_PIPELINE_IMPL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "detect/answer.h"
#include "detect/crops.h"
#include "base/base.h"
#include "detect/detect.h"
#include "detect/illus.h"
#include "detect/img.h"
#include "detect/manifest.h"
#include "detect/passes.h"
#include "detect/second.h"
#include "detect/tensor.h"
#include "nn/nn.h"

#define NMS_POOL 100 /* boxes kept by NMS before the class filter */
#define DEFAULT_CONTEXTS 4
#define DEFAULT_MAX_BYTES (30LL * 1000 * 1000)
#define DEFAULT_MAX_PIXELS (50LL * 1000 * 1000)
#define SPECIES_BATCH_DEFAULT 16 /* crops per batched species run */
#define SPECIES_BATCH_CAP 64     /* bound on av_detect_open_opts.species_batch */
/* Batched classifier contexts a worker keeps; for the iNat model each holds
 * ~1.5 MiB of arena per crop plus ~3.5 MiB of packed weights. */
#define BATCH_SLOTS 2
/* Images per batched detector run (more go in even chunks): NanoDet at 416
 * plans ~16 MiB of arena per image and its context takes ~29 ms per image
 * to make, so a worker keeps DET_SLOTS of them for the sizes last used. */
#define DET_BATCH_MAX 8
#define DET_SLOTS 2
/* Crops per bird box (pipeline.json "species_tta"): the margins, each
 * plain and, with "mirror", mirrored. */
#define SPECIES_VIEWS_MAX 4

/* One species crop of a box: its margin, and whether it is mirrored. */
typedef struct species_view {
    double margin;
    int mirror;
} species_view;


/* A context for n samples per run, with its n-sample buffers. */
typedef struct cls_batch {
    int n;               /* samples per run; 0: empty slot */
    av_nn_ctx *ctx;
    void **in, **out;    /* one buffer per model input / output, n samples each */
    int in_ctx;          /* 1 + the index of the input whose in[] is ctx's own bytes
                          * (the detector's; as worker.det_in_ctx), 0: none */
    unsigned long used;  /* worker tick of the last use: the least recent is replaced */
} cls_batch;

/* One engine context per model plus the buffers one run needs. */
typedef struct worker {
    av_nn_pool *pool;         /* shared by det_ctx and cls_ctx; NULL: one thread */
    av_nn_ctx *det_ctx, *cls_ctx;
    void **det_in, **det_out; /* one buffer per model input / output (NULL: not wanted) */
    int det_in_ctx;           /* det_in[p->det_in] is det_ctx's own input bytes
                               * (av_nn_ctx_input_buffer): filled in place, not ours to
                               * free, undefined after each run (every run refills it) */
    void **cls_in, **cls_out;
    float *resized;           /* detector input pixels, NHWC 0..255 (quantised inputs only) */
    av_detect__crops crops;   /* classifier crops of the current species step */
    float *probs;             /* classifier scores */
    float *probs_sum;         /* scores summed over a box's species views */
    uint8_t *flip;            /* a mirrored species crop (species_tta "mirror") */
    int raw_top;              /* best label of the last read_species, before the site list */
    av_detect__second_ctx *second; /* with p->second: the ImageNet context */
    int solo;                 /* species and veto side by side (pipeline_species.c):
                               * 0 not tried, 1 ran, -1 refused (run in turn) */
    uint8_t *feat;            /* with a head: tapped features of species_batch crops */
    float *featf;             /* one crop's features, dequantised */
    av_detect__box *boxes;    /* NMS_POOL decoded boxes */
    av_detect__box *xboxes;   /* NMS_POOL boxes of one extra pass run (passes.c) */
    av_detect__tensor *touts; /* detector outputs as tensors */
    cls_batch cb[BATCH_SLOTS]; /* classifier, by crop count */
    cls_batch sb[BATCH_SLOTS]; /* ImageNet second opinion (veto), by crop count */
    cls_batch cbs[BATCH_SLOTS], sbs[BATCH_SLOTS]; /* the same on one thread each, for the
                                * bird boxes of a species step side by side (in place of
                                * cb / sb, which then serve only more boxes than one run) */
    cls_batch db[DET_SLOTS];   /* detector, by image count */
    cls_batch tb;              /* detector, the tiles of one image (apart from db, which
                                * a batch of images is still reading when its tiles run) */
    unsigned long tick;       /* counts batched runs, for cls_batch.used */
    int ready, busy;
} worker;

struct av_detect_pipeline {
    av_detect__manifest det, cls;
    av_nn_model *det_model, *cls_model;
    int det_in, cls_in, cls_out; /* input / output indices */
    int det_out;                 /* centernet: the detections output */
    int has_species;
    av_detect__second *second;   /* optional ImageNet second opinion (second.h); NULL off */
    av_detect__answer answer;    /* site list and naming rules (answer.h) */
    char species_note[512];
    char second_note[512];       /* with second NULL: why there is no second opinion */
    int bird_class;              /* detector class that gets species, -1 none */
    double crop_margin, whole_min;
    species_view views[SPECIES_VIEWS_MAX]; /* a bird box's species crops, averaged; [0] plain */
    int n_views;
    av_detect__passes passes;    /* pipeline.json "passes" */
    av_detect__illus illus;      /* pipeline.json "illustration" (illus.h) */
    av_detect_pass_totals totals[AV_DETECT_PASS_N]; /* under mu */
    int threads;
    int species_batch;           /* crops per batched run; 1: one at a time */
    atomic_int batch_refused;    /* 1: the engine could not batch the classifier (logged) */
    atomic_int second_refused;   /* 1: the engine could not batch ImageNet (logged) */
    atomic_int det_refused;      /* 1: the engine could not batch the detector (logged) */
    av_detect_head head;         /* retrained head (cls.head_path), n_classes 0 = none */
    av_nn_tensor_info feat_info; /* the tensor it reads, per sample */
    size_t feat_bytes;           /* its bytes per sample */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    worker *workers;
    int n_workers;
};

/* ---- pipeline_pool.c ---- */

/* Make worker w's contexts (on its own thread pool) and run buffers; on
 * failure the caller frees w with av_detect__worker_free. */
av_detect_status av_detect__worker_init(av_detect_pipeline *p, worker *w, char *err,
                                        size_t errlen);
/* Free everything w holds and zero it (a never-made worker is fine). */
void av_detect__worker_free(av_detect_pipeline *p, worker *w);
/* A ready worker, waiting while all are busy (one not yet made is made
 * here); NULL with *st and err set when making it failed. */
worker *av_detect__acquire(av_detect_pipeline *p, char *err, size_t errlen,
                           av_detect_status *st);
void av_detect__release(av_detect_pipeline *p, worker *w);
/* A ready worker that is free now, or NULL: never waits, never makes one
 * (the decode borrows its threads when they are idle anyway). */
worker *av_detect__try_acquire(av_detect_pipeline *p);
/* The worker's threads as vision's parallel for (one thread: runs inline). */
av_vision_par av_detect__worker_par(const worker *w);
/* As av_detect__batch_slot, for a context that runs on the calling thread
 * only (no pool): the species step's side-by-side runs (cbs, sbs). */
cls_batch *av_detect__batch_slot_solo(av_detect_pipeline *p, worker *w, const av_nn_model *m,
                                      cls_batch *slots, int ns, int n, char *e, size_t elen);
/* The worker's context of model m for n samples per run from slots[0..ns),
 * made on first use (replacing the least recently used one) on the
 * worker's pool; NULL with e set when the engine cannot make it. */
cls_batch *av_detect__batch_slot(av_detect_pipeline *p, worker *w, const av_nn_model *m,
                                 cls_batch *slots, int ns, int n, char *e, size_t elen);

/* ---- pipeline_species.c ---- */

/*
 * Species and labels for n detected images (rs[i] cut from imgs[i]): the
 * bird crops of all of them in even chunks of at most species_batch crops,
 * then, for an image without a bird box, the whole image. 0, or -1 on an
 * engine failure (err set).
 */
int av_detect__species_step(av_detect_pipeline *p, worker *w, int n,
                            const av_detect__img *const *imgs, av_detect_result *const *rs,
                            const av_detect_run_opts *o, char *err, size_t errlen);

/* ---- pipeline_run.c ---- */

/* Resize img to the detector input and lay it out into dst (one sample of
 * input det_in); *map_w x *map_h is the image area the input spans. */
av_detect_status av_detect__det_prepare(av_detect_pipeline *p, worker *w,
                                        const av_detect__img *img, void *dst, double *map_w,
                                        double *map_h, char *err, size_t errlen);
/* Boxes of one image from its detector outputs t (one sample each, as the
 * model's outputs) into out (NMS_POOL); *nbox gets their count. */
av_detect_status av_detect__det_decode(av_detect_pipeline *p, const av_detect__tensor *t,
                                       double map_w, double map_h, double min_score,
                                       av_detect__box *out, int *nbox, char *err,
                                       size_t errlen);
/* The passes after the first detector run, on w->boxes (*nbox of them). */
av_detect_status av_detect__run_passes(av_detect_pipeline *p, worker *w,
                                       const av_detect__img *img, const av_detect_run_opts *o,
                                       double min_score, int *nbox, av_detect_result *r,
                                       char *err, size_t errlen);
/* The first nbox of w->boxes that the run keeps (class, size) as r->dets. */
av_detect_status av_detect__keep_boxes(av_detect_pipeline *p, worker *w,
                                       const av_detect__img *img, int nbox,
                                       const av_detect_run_opts *o, av_detect_result *r,
                                       char *err, size_t errlen);
/* Detector, passes and species of one image on worker w. */
av_detect_status av_detect__run_locked(av_detect_pipeline *p, worker *w,
                                       const av_detect__img *img, const av_detect_run_opts *o,
                                       av_detect_result *r, char *err, size_t errlen);
/* What a result says about the image and the models, before any run. */
void av_detect__result_header(const av_detect_pipeline *p, const av_detect__img *img,
                              av_detect_result *r);
/* After the engine: annotate when asked (encoding on par's threads, may
 * be NULL), then ms_total (from t0); on failure (st, or the annotation's)
 * free r. */
av_detect_status av_detect__result_finish(const av_detect__img *img,
                                          const av_detect_run_opts *o, double t0,
                                          av_detect_status st, av_detect_result *r,
                                          const av_vision_par *par, char *err, size_t errlen);

#endif
