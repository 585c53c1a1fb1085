/*
 * illus.h - drawings are not sightings (internal to src/detect). A bird
 * painted on a field-guide page sits on flat paper white that fills most of
 * the frame and all of its border; photographs, even against a blown-out
 * sky, have texture, gradient or a perch somewhere at the edge. The
 * "illustration" object of models/pipeline.json turns the rule on and sets
 * its two thresholds (README "Illustrations are not sightings").
 */
#ifndef AV_DETECT_ILLUS_H
#define AV_DETECT_ILLUS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

typedef struct av_detect__illus {
    int on;
    double min_paper;  /* paper fraction of the whole frame */
    double min_border; /* paper fraction of the frame's outer ring */
} av_detect__illus;

/* Paper-white statistics of one image, each a fraction in [0, 1]. */
typedef struct av_detect__page {
    double paper;  /* of the whole frame */
    double border; /* of the outer ring, 1/20 of the shorter side wide */
} av_detect__page;

/* The shipped settings: on, paper 0.6, border 0.9. */
void av_detect__illus_default(av_detect__illus *c);

/* Read pipeline.json's "illustration" object (NULL: defaults) into c:
 * "on" (boolean), "min_paper" and "min_border" (numbers in (0, 1]);
 * unknown keys refused. 0, or -1 with err naming the key and `path`. */
int av_detect__illus_parse(const json_t *obj, const char *path, av_detect__illus *c, char *err,
                           size_t errlen);

/*
 * Measure rgb (w x h, RGB8, rows packed) on a grid of about 64k samples: a
 * sample is paper when its three channels are all >= 245 and the luma of
 * its 3x3 neighbourhood varies by 2 or less (flat, not bright sky with
 * clouds or JPEG grain). w, h >= 1.
 */
void av_detect__page_measure(const uint8_t *rgb, int w, int h, av_detect__page *out);
/* The same, its grid rows in bands on pool's threads (NULL: this one):
 * the same counts, so the same fractions. */
void av_detect__page_measure_on(const uint8_t *rgb, int w, int h, av_nn_pool *pool,
                                av_detect__page *out);

/* 1 when the rule is on and pg passes both thresholds. */
int av_detect__illus_is(const av_detect__illus *c, const av_detect__page *pg);

#endif
