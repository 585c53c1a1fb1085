/*
 * train.h - closing the loop: retrain the species head on the birders'
 * reviews, evaluate it against the base head, write it as a model version
 * the model server hot-swaps to (or as a candidate), record its lineage.
 *
 *   dataset.c   reviewed boxes -> species features (crops cut by the pipeline)
 *   softmax.c   softmax regression pulled toward the base head
 *   prior.c     the site's species prior from confirmed sightings
 *   evaluate.c  split by image stratified by species; top-1/top-5 per species
 *   version.c   version folders (manifest + base model + head) and promote
 *   watch.c     in-process nodes load a newly promoted version
 *   train.c     av_train_species: all of the above, progress on stderr
 */
#ifndef AV_TRAIN_H
#define AV_TRAIN_H

#include "detect/detect.h"

#include <stddef.h>
#include <stdint.h>

#define AV_TRAIN_STATUS_MAP(X)                              \
    X(OK, 0, "ok")                                          \
    X(E_ARG, 1, "bad option or folder")                     \
    X(E_DATA, 2, "too few reviews to train or evaluate")    \
    X(E_STORE, 3, "the database failed")                    \
    X(E_MODEL, 4, "the models could not be loaded or used") \
    X(E_IO, 5, "writing the version failed")                \
    X(E_NOMEM, 6, "out of memory")

typedef enum av_train_status {
#define X(name, num, msg) AV_TRAIN_##name = num,
    AV_TRAIN_STATUS_MAP(X)
#undef X
} av_train_status;

/* Static string for a status; never NULL. */
const char *av_train_strerror(av_train_status st);

/* ---- dataset: one sample per usable reviewed box ---- */

typedef struct av_train_sample {
    char image_id[40];
    char species[128];  /* scientific name (the label) */
    char common[128];
    int label;          /* class index in the dataset's class list */
    int test;           /* 1: held back for evaluation */
} av_train_sample;

typedef struct av_train_dataset {
    av_train_sample *s; /* n samples (owned) */
    float *feat;        /* n x dim features (owned) */
    int n, dim;
    char (*names)[128]; /* n_classes scientific names, base classes first (owned) */
    char (*commons)[128];
    int n_classes, n_base, background;
    int n_images, n_new_classes, skipped; /* skipped: videos, undecodable, no species */
    char sha256[65];    /* of the (image, box, species) list: the snapshot's identity */
    char feature_name[256]; /* the species model tensor the features come from */
} av_train_dataset;

void av_train_dataset_free(av_train_dataset *d);
/* Lowercase hex SHA-256 of len bytes. */
void av_train_sha256(const void *data, size_t len, char hex[65]);

struct av_store;
/* Features of every current review that names a species (confirm, species,
 * added with a species), images read from s, cut and run through p. Class
 * list: the base head's labels, then species the base does not know. */
av_train_status av_train_dataset_build(struct av_store *s, av_detect_pipeline *p,
                                       const av_detect_head *base, const char *const *labels,
                                       int background, av_train_dataset *d, char *err,
                                       size_t errlen);

/* Hold back about frac of the images (at least one image of each species
 * with >= 2 images), stratified by each image's first species, shuffled by
 * seed: sets s[i].test. */
void av_train_split(av_train_dataset *d, double frac, unsigned seed);

/* ---- head training ---- */

typedef struct av_train_fit_opts {
    double l2;          /* pull toward the base head: l2/2 * ||theta - theta_base||^2 */
    int epochs;
    double lr;
    int batch;
    unsigned seed;
    int candidates;     /* base classes per sample kept in the softmax (its top-k by base) */
    /* site species prior (prior.c): alpha > 0 fixed, 0 chosen on the held-back
     * split, < 0 none; pseudo_count > 0 fixed, 0 chosen */
    double prior_alpha, prior_pseudo;
} av_train_fit_opts;

/* Train head h (n_classes = d->n_classes, starting from base for the base
 * classes, zero for new ones) on the samples with test == 0. Deterministic
 * for a seed. h is allocated here (av_detect_head_free). */
av_train_status av_train_fit(const av_train_dataset *d, const av_detect_head *base,
                             const av_train_fit_opts *o, av_detect_head *h, char *err,
                             size_t errlen);

/* ---- the site's species prior (prior.c) ---- */

/* counts[n_classes]: confirmed sightings (samples) of each class; only the
 * training part (test == 0) when train_only. */
void av_train_prior_counts(const av_train_dataset *d, int train_only, double *counts);

/* Choose alpha and the pseudo-count (those of o not fixed) on the held-back
 * split: the prior from the training part only, h's answers weighted by it;
 * beside the held-back samples, each training sample whose species has no
 * other training image is scored as a first sighting (base's answer, its
 * species unseen). The best top-1 over both (ties: the lower mean log loss,
 * then the smaller alpha). *alpha 0 when nothing is held back or no
 * weighting helps. */
av_train_status av_train_prior_choose(const av_train_dataset *d, const av_detect_head *base,
                                      const av_detect_head *h, const av_train_fit_opts *o,
                                      double *alpha, double *pseudo, char *err, size_t errlen);

/* Set h->prior from counts (replacing one there). */
av_train_status av_train_prior_set(const av_train_dataset *d, av_detect_head *h,
                                   const double *counts, double alpha, double pseudo,
                                   char *err, size_t errlen);

/* ---- evaluation ---- */

#define AV_TRAIN_MAX_SPECIES_ROWS 512

typedef struct av_train_species_score {
    char species[128];
    int n;                    /* held-back samples */
    int n_reviews;            /* all samples of it */
    double base_top1, new_top1; /* percent */
    double head_top1;         /* the new head without the species prior */
} av_train_species_score;

typedef struct av_train_eval {
    int n;                                   /* held-back samples */
    double base_top1, base_top5, new_top1, new_top5; /* percent */
    double head_top1, head_top5;             /* new head without its prior */
    av_train_species_score sp[AV_TRAIN_MAX_SPECIES_ROWS];
    int n_sp;
    int promote;                             /* the promotion rule holds */
    char reason[256];                        /* why (not) */
} av_train_eval;

/* Score base (n_base classes) and new heads on the held-back samples: new
 * with h's species prior when it has one (what is served), head without.
 * The rule: new top-1 > base top-1 and no species with >= 5 reviews loses
 * more than 5 points of top-1. */
void av_train_evaluate(const av_train_dataset *d, const av_detect_head *base,
                       const av_detect_head *h, av_train_eval *e);

/* ---- versions ---- */

/* Highest version number taken under base_dir, candidates included (0 when none). */
long long av_train_latest_version(const char *base_dir);
/* Highest numeric (served) version folder under base_dir (0 when none). */
long long av_train_latest_served(const char *base_dir);

/*
 * In-process reload (watch.c): every interval_ms (default 2000) look for a
 * numeric version under base_dir newer than the newest at start (or last
 * loaded), open it with oo (copied) and av_detect_current_replace it into
 * cur (borrowed; must outlive the watch). Requests holding the old pipeline
 * finish on it. *out: stop with av_train_watch_stop.
 */
typedef struct av_train_watch av_train_watch;
av_train_status av_train_watch_start(const char *base_dir, const av_detect_open_opts *oo,
                                     av_detect_current *cur, int interval_ms,
                                     av_train_watch **out, char *err, size_t errlen);
void av_train_watch_stop(av_train_watch *w);

/* The species prior a version applies: sightings per class (n_classes). */
typedef struct av_train_prior {
    const double *counts;
    double alpha, pseudo;
} av_train_prior;

/*
 * Write a version folder under base_dir: a copy of models_dir (files
 * hard-linked where possible) whose species manifest applies head h with
 * labels names/commons and, when prior is not NULL, retrain/prior.json,
 * plus retrain/version.json (the manifest: what json_info holds). promote:
 * as the next number (renamed into place, so a model server never sees
 * half of it), else as candidate-<N>. *version gets the number, path (cap
 * bytes) the folder.
 */
av_train_status av_train_write_version(const char *base_dir, const char *models_dir,
                                       const av_train_dataset *d, const av_detect_head *h,
                                       const av_train_prior *prior, const char *json_info,
                                       int promote, long long *version, char *path, size_t cap,
                                       char *err, size_t errlen);

/* Serve `which` (a number, or candidate-N) again: copied as the next
 * version number. *version gets the new number. */
av_train_status av_train_promote(const char *base_dir, const char *which, long long *version,
                                 char *err, size_t errlen);

/* ---- the whole run ---- */

typedef struct av_train_opts {
    const char *db_url;
    const char *models_dir;   /* the base models (default "models") */
    const char *out_dir;      /* the model server's base path */
    int min_reviews;          /* refuse below this many usable reviews (default 20) */
    unsigned seed;
    int force;                /* promote even when the rule does not hold (recorded) */
    int quiet;                /* no progress on stderr */
    av_train_fit_opts fit;    /* zeros: defaults */
} av_train_opts;

typedef struct av_train_result {
    av_train_eval eval;
    long long version;        /* written version number (candidate or promoted) */
    int promoted;
    char path[1024];
    int n_samples, n_train, n_test, n_classes, n_new_classes;
    double seconds_features, seconds_fit;         /* wall clock */
    double cpu_seconds_features, cpu_seconds_fit; /* CPU time of the process (all threads) */
    int64_t mlmd_model_id;    /* 0 when lineage was not recorded */
    /* the species prior: alpha (-1: none), pseudo-count, all sightings, species seen */
    double prior_alpha, prior_pseudo, prior_sightings;
    int prior_species;
} av_train_result;

av_train_status av_train_species(const av_train_opts *o, av_train_result *r, char *err,
                                 size_t errlen);

/* ---- the closed loop on labelled photos (simulate.c) ---- */

typedef struct av_train_sim_opts {
    const char *eval_dir;   /* ../shared/eval/birds: manifest.csv, README.md, images/ */
    const char *models_dir; /* base models */
    const char *work_dir;   /* sim.db and versions/ are made here */
    unsigned seed;          /* training seed; its low bit picks which half is reviewed */
    int repeat;             /* store each reviewed photo this many times (>= 1) */
    int max_per_species;    /* photos of a species used, 0 = all (a lean test) */
    const char *detector;   /* detector manifest for analysing and scoring; NULL = pipeline.json's */
    int threads, quiet;
    av_train_fit_opts fit;  /* zeros: av_train_species's defaults */
} av_train_sim_opts;

typedef struct av_train_sim_row {
    char species[128];
    int group;              /* 0 European, 1 North American, 2 elsewhere (README) */
    int n, base_ok, new_ok; /* scored photos, right with the base / new version */
} av_train_sim_row;

typedef struct av_train_sim_result {
    av_train_result train;
    int n_reviews;
    double seconds_train;   /* av_train_species: reviews -> version written */
    av_train_sim_row rows[AV_TRAIN_MAX_SPECIES_ROWS];
    int n_rows;
    int group_n[3], group_base[3], group_new[3];
} av_train_sim_result;

av_train_status av_train_simulate(const av_train_sim_opts *o, av_train_sim_result *r,
                                  char *err, size_t errlen);

#endif
