/*
 * second.h - a second opinion from a general ImageNet classifier (internal
 * to src/detect). Optional: models/imagenet.json and its model file; when
 * either is missing the pipeline runs exactly as without it. Its manifest's
 * "second_opinion" object names ImageNet class groups by index ranges and
 * the two rules' thresholds (README "Second opinion"):
 *   rescue: an image without a bird box is a whole-image bird when the
 *           summed bird classes of the whole image reach whole_image_min_bird;
 *   veto:   a bird box whose crop has bird classes under veto_max_bird and
 *           artefact classes at veto_min_artefact or more is dropped.
 */
#ifndef AV_DETECT_SECOND_H
#define AV_DETECT_SECOND_H

#include <stddef.h>

#include "detect/detect.h"
#include "detect/img.h"
#include "nn/nn.h"

#define AV_DETECT__SECOND_RANGES 16 /* index ranges per class group */

typedef enum { AV_DETECT__SECOND_BIRD, AV_DETECT__SECOND_ARTEFACT, AV_DETECT__SECOND_GROUPS } av_detect__second_group;

/* Sums of one run's probabilities per class group. */
typedef struct av_detect__second_sums {
    double group[AV_DETECT__SECOND_GROUPS];
} av_detect__second_sums;

/* The class groups (inclusive index ranges) and the rules' thresholds. */
typedef struct av_detect__second_rules {
    int n_ranges[AV_DETECT__SECOND_GROUPS];
    int lo[AV_DETECT__SECOND_GROUPS][AV_DETECT__SECOND_RANGES];
    int hi[AV_DETECT__SECOND_GROUPS][AV_DETECT__SECOND_RANGES];
    double rescue_min_bird;  /* whole_image_min_bird; 0: no rescue */
    double veto_max_bird;    /* 0: no veto */
    double veto_min_artefact;
    double veto_max_species; /* ask only about boxes whose best species score is under this; 0: all */
} av_detect__second_rules;

/*
 * Parse a manifest's "second_opinion" object (the whole manifest as JSON
 * text) for a model with n_classes outputs: groups "bird" and "artefact"
 * as [[first, last], ...] index ranges, whole_image_min_bird, veto_max_bird,
 * veto_min_artefact, veto_max_species (each in [0, 1]). 0, or -1 with err naming the field.
 */
int av_detect__second_rules_parse(const char *json, size_t len, int n_classes,
                                  av_detect__second_rules *r, char *err, size_t errlen);
/* Group sums of probs[0..n). */
void av_detect__second_sum(const av_detect__second_rules *r, const float *probs, int n,
                           av_detect__second_sums *sums);
/* Whether the veto asks ImageNet about a bird box whose best species score
 * (before the site list) is species_best: only where the species model is
 * unsure (veto_max_species; 0 asks about every box), as ImageNet only ever
 * vetoed crops it names weakly. */
int av_detect__second_asks(const av_detect__second_rules *r, double species_best);
/* 1 when a bird box with these crop sums is dropped (veto rule). */
int av_detect__second_vetoes(const av_detect__second_rules *r, const av_detect__second_sums *sums);

typedef struct av_detect__second av_detect__second;         /* model and rules, shared */
typedef struct av_detect__second_ctx av_detect__second_ctx; /* one worker's context */

/*
 * Open DIR/imagenet.json. *out NULL and AV_DETECT_OK when the manifest or its
 * model file is absent (no second opinion); an error (err says what and
 * where) for a manifest that is there but wrong. *out is owned by the
 * caller (av_detect__second_close).
 */
av_detect_status av_detect__second_open(const char *dir, av_detect__second **out, char *err,
                                        size_t errlen);
void av_detect__second_close(av_detect__second *s);
/* Why av_detect__second_open(dir) gave no second opinion, as one line
 * ("DIR/imagenet.json is absent", its files not installed) into note. */
void av_detect__second_absent_why(const char *dir, char *note, size_t len);
/* s's model file path; *sha256 gets its manifest's "sha256" ("" none). */
const char *av_detect__second_model(const av_detect__second *s, const char **sha256);
/* s's rules (borrowed). */
const av_detect__second_rules *av_detect__second_rules_of(const av_detect__second *s);

/* A context on pool (may be NULL) for one thread; caller frees it with
 * av_detect__second_ctx_free before the pool. */
av_detect_status av_detect__second_ctx_new(const av_detect__second *s, av_nn_pool *pool,
                                           int threads, av_detect__second_ctx **out, char *err,
                                           size_t errlen);
void av_detect__second_ctx_free(av_detect__second_ctx *c);

/* The input size its crops are resized to (RGB8, area filter). */
void av_detect__second_input_size(const av_detect__second *s, int *w, int *h);
/* Classify a crop already resized to the input size (px: w*h*3 RGB8, as
 * av_detect__img_crop_area makes it; the species crop when the sizes are
 * the same) and sum the groups into *sums. 0, or -1 on failure (err set). */
int av_detect__second_run(const av_detect__second *s, av_detect__second_ctx *c,
                          const uint8_t *px, av_detect__second_sums *sums, char *err,
                          size_t errlen);
/* s's engine model (borrowed): for contexts of several samples a run. */
const av_nn_model *av_detect__second_nn(const av_detect__second *s);
/* n crops in one run of bctx, a context of s's model for n samples with
 * its n-sample buffers in / out (the pipeline's batch slot): each crop (as
 * for av_detect__second_run) goes in with av_detect__second_fill as sample
 * j, then av_detect__second_run_n runs them (c lends its score buffer) and
 * sums crop j's groups into sums[j]: what n runs of av_detect__second_run
 * give, as the engine computes each sample alone. 0, or -1 (err set). */
void av_detect__second_fill(const av_detect__second *s, const uint8_t *px, void **in, int j);
int av_detect__second_run_n(const av_detect__second *s, av_detect__second_ctx *c,
                            av_nn_ctx *bctx, void **in, void **out, int n,
                            av_detect__second_sums *sums, char *err, size_t errlen);
#endif
