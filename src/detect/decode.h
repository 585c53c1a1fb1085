/*
 * decode.h - detector output decoding and NMS (internal to src/detect).
 *
 * Both decoders reproduce the reference decoding of RESULTS.md
 * (../shared/reference/tfjs) to the last bit where it is defined: boxes are
 * computed in double from the float32 outputs, NMS compares float32 boxes and
 * scores with TF.js's rules. NanoDet uses a proper corner-box NMS (the
 * reference's `detections_nms_xyxy`), not Human's [y,x,h,w] bug.
 */
#ifndef AV_DETECT_DECODE_H
#define AV_DETECT_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "detect/detect.h"

/* A decoded box in original-image pixels (not clamped). */
typedef struct av_detect__box {
    double x1, y1, x2, y2;
    float score;
    int cls;          /* 0-based class index */
    int level_grid;   /* nanodet: grid of the level (13/26/52), centernet: 0 */
    int cell;         /* nanodet: cell index in the level, centernet: row */
} av_detect__box;

typedef struct av_detect__dcfg {
    double min_score;   /* candidates need score > min_score (float32 vs double, as TF.js) */
    double nms_iou;     /* suppress when IoU >= nms_iou */
    int max_out;        /* most boxes kept by NMS */
    const int *skip;    /* classes never reported (nanodet: before NMS, as Human) */
    int n_skip;
    int n_classes;      /* label count: scores tensors are [.., n_classes] */
    int in_w, in_h;     /* model input size */
    double map_w, map_h;/* original-image pixels spanned by the whole model input */
    double box_scale;   /* nanodet: 2.5 */
    int base_grid;      /* nanodet: 13 */
} av_detect__dcfg;

/* A float32 output tensor as the engine returned it (borrowed). */
typedef struct av_detect__tensor {
    const float *data;
    int rank;
    int64_t dims[8];
} av_detect__tensor;

/*
 * TF.js tf.image.nonMaxSuppression semantics: candidates with score >
 * score_thr sorted by score descending (lower index first on ties); one is
 * dropped when its IoU with any kept box is >= iou_thr; IoU takes min/max
 * of each box's corners and is 0 when either box has zero area. `boxes` holds
 * n boxes of 4 float32 corners (either corner order). Writes the kept indices
 * in keep order into keep[] (room for max_out) and returns their count, or
 * -1 when out of memory.
 */
int av_detect__nms(const float *boxes, const float *scores, int n, double score_thr,
                   double iou_thr, int max_out, int *keep);

/*
 * CenterNet: `det` is tower_0/detections [1,N,6] (x1,y1,x2,y2 in input
 * pixels, score, class). Class-agnostic NMS over all rows; rows whose class is
 * NaN, out of range or skipped are dropped after NMS (as Human does).
 * Writes at most cfg->max_out boxes into out (NMS order), returns the count
 * or -1 with err set.
 */
int av_detect__decode_centernet(const av_detect__tensor *det, const av_detect__dcfg *cfg,
                                av_detect__box *out, char *err, size_t errlen);

/*
 * NanoDet: the outputs (any order) are matched by shape: per grid g =
 * base_grid * s (s = 1, 2, 4) scores [1,g*g,n_classes] and box bins
 * [1,g*g,4*B]. Argmax-bin decoding (first maximum) as RESULTS.md, then
 * corner-box NMS on raw scores. Returns the count written (<= max_out) or -1
 * with err set.
 */
int av_detect__decode_nanodet(const av_detect__tensor *outs, int n_outs,
                              const av_detect__dcfg *cfg, av_detect__box *out, char *err,
                              size_t errlen);

#endif
