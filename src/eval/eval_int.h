/*
 * eval_int.h - what an av_eval keeps per row (internal to src/eval).
 */
#ifndef AV_EVAL_INT_H
#define AV_EVAL_INT_H

#include "eval/eval.h"

/* The best bird's shown answer against the row's species. */
enum {
    AV_EVAL__NA = 0,       /* no species label, or no bird found */
    AV_EVAL__RIGHT,        /* a species name, right */
    AV_EVAL__WRONG,        /* a species name, wrong */
    AV_EVAL__GENUS_RIGHT,  /* "Genus sp.", the right genus */
    AV_EVAL__GENUS_WRONG,
    AV_EVAL__UNKNOWN,      /* "Unknown bird" (or no species answer) */
};

#define AV_EVAL__STAGES 5 /* decode, detect, species, draw, total */

typedef struct av_eval__row {
    int scored, error;
    char msg[160];
    int birds;                     /* bird detections (boxes or a whole-image bird) */
    int whole_image;               /* the best bird is a whole-image one */
    av_detect_whole_by whole_by;   /* and the rule that found it */
    int tp, fp, fn;                /* boxes at IoU 0.5 (rows with boxes) */
    int top1, top5;
    char pred[AV_DETECT_NAME_MAX]; /* best bird's top species (binomial), "" none */
    float pred_score;
    char shown[AV_DETECT_NAME_MAX];
    av_detect_rule rule;
    int named;                     /* AV_EVAL__* */
    int weak;                      /* bird boxes named as a species under 0.2 */
    int illustration;              /* the pipeline called it a drawing and removed its birds */
    double ms[AV_EVAL__STAGES];
    int det_runs;                  /* detector runs: the first, plus each pass's */
    int pass_runs[AV_DETECT_PASS_N]; /* of them, each pass's */
    int pass_boxes[AV_DETECT_PASS_N]; /* boxes each pass added (nested: removed) */
} av_eval__row;

struct av_eval {
    const av_eval_set *set;
    av_eval__row *rows;
};

#endif
