/*
 * crops.h - a worker's cache of classifier crops (internal to src/detect).
 * The species model and the ImageNet second opinion both take a 224x224
 * area-resized crop of the same square around a bird box (and of the whole
 * image when no box is found); the cache makes each crop once per species
 * step. Entries are keyed by image pixels, rectangle and output size, and
 * are forgotten by av_detect__crops_reset (the images they came from may
 * be gone after the step).
 */
#ifndef AV_DETECT_CROPS_H
#define AV_DETECT_CROPS_H

#include <stdint.h>

#include "detect/img.h"

/* Crops kept at most (~147 KiB each at 224x224); more replace the oldest. */
#define AV_DETECT__CROPS_MAX 16

typedef struct av_detect__crop_entry {
    const uint8_t *rgb; /* the image's pixels (identity only) */
    int iw, ih, x1, y1, x2, y2, ow, oh;
    uint8_t *px;        /* ow*oh*3 bytes */
    size_t cap;         /* bytes allocated at px */
} av_detect__crop_entry;

typedef struct av_detect__crops {
    av_detect__crop_entry e[AV_DETECT__CROPS_MAX];
    int n;    /* entries in use */
    int next; /* the entry replaced when all are in use */
} av_detect__crops;

/* Forget every entry (buffers kept for reuse). */
void av_detect__crops_reset(av_detect__crops *c);
/* Free the buffers; c is then empty. */
void av_detect__crops_free(av_detect__crops *c);
/* Pixels [x1,y1,x2,y2) of img area-resized to ow x oh (av_detect__img_crop_area):
 * from the cache, or made now (on pool's threads, NULL: this one) and kept. Valid until the next get or reset;
 * NULL when the crop fails or memory runs out. */
const uint8_t *av_detect__crops_get(av_detect__crops *c, const av_detect__img *img, int x1,
                                    int y1, int x2, int y2, int ow, int oh, av_nn_pool *pool);

#endif
