/*
 * manifest.h - model manifests (internal to src/detect): our JSON description
 * of how to feed a model and read its outputs. The app loads models only
 * through these files (models/<name>.json). Format (unknown keys ignored,
 * so a "comment" string is allowed anywhere):
 *
 *   name, version        strings (reported with every result)
 *   role                 "detector" | "classifier"
 *   file                 model file, relative to the manifest's folder
 *   format               "tfjs" | "tflite" | "onnx"
 *   input.name           graph input ("" = the only input)
 *   input.width/height   model input size in pixels
 *   input.layout         "NHWC" | "NCHW"
 *   input.colour         "RGB" (default) | "BGR"
 *   input.normalise      "0..255" | "0..1" | "-1..1" | {"mean": [3], "std": [3]}:
 *                        value = (pixel - mean) / std in float32; for a
 *                        quantised input then q = round(value / scale) + zp
 *   input.resize         "stretch" | "letterbox" (fit, pad right/bottom with 0)
 *   input.filter         "tf_bilinear" (TF1 resizeBilinear, detectors) | "area"
 *   output.kind          "centernet" | "nanodet" | "classifier"
 *   output.tensor        output read (centernet: required; classifier: "" = first)
 *   output.box_scale     nanodet: 2.5; output.base_grid: 13
 *   output.softmax       classifier: true when outputs are logits
 *   labels               ["person", ...] inline, or {"file": F, "background": NAME}
 *   thresholds           {min_score 0.2, nms_iou 0.4, max_detections 10}
 *   classes.keep         detector classes reported by default (COCO bird = 14)
 *   classes.skip         classes never reported (nanodet: 61 'toilet', as Human)
 *   baseline.mean_confidence  classifier: test-time mean top-1 confidence,
 *                        the monitoring baseline
 *   answer               classifier: {min_species, min_genus, drop_detector,
 *                        extra_detector, whole_agree}, the thresholds of the
 *                        species/genus/unknown rules, of dropping an unnamed
 *                        extra box and of the whole-image views' agreement
 *                        (answer.h); defaults AV_DETECT__ANSWER_* below
 *   precision            "float" (default) | "int8": run the float model's
 *                        convolutions as int8 (nn.h av_nn_model_quantize)
 *   calibration          int8: the range table `aviary model quantize` wrote,
 *                        relative to the manifest's folder (default
 *                        "<name>.int8.calib")
 *   head                 classifier, optional: {"file": F, "features": TENSOR,
 *                        "prior": P}, a retrained head (head.c, `aviary train
 *                        species`) applied to the named intermediate tensor instead
 *                        of the model's output, and optionally the site species
 *                        prior its answers are weighted by (prior.c); labels then
 *                        list the head's classes
 *
 * models/pipeline.json picks the default detector and the species manifest.
 */
#ifndef AV_DETECT_MANIFEST_H
#define AV_DETECT_MANIFEST_H

#include <stddef.h>

#include "detect/detect.h"

#define AV_DETECT__PATH_MAX 1024
#define AV_DETECT__MAX_LABELS 100000

typedef enum { AV_DETECT__DETECTOR, AV_DETECT__CLASSIFIER } av_detect__role;
typedef enum { AV_DETECT__CENTERNET, AV_DETECT__NANODET, AV_DETECT__CLASSIFY } av_detect__kind;
typedef enum { AV_DETECT__NHWC, AV_DETECT__NCHW } av_detect__layout;
typedef enum { AV_DETECT__STRETCH, AV_DETECT__LETTERBOX } av_detect__resize;
typedef enum { AV_DETECT__TF_BILINEAR, AV_DETECT__AREA } av_detect__filter;
typedef enum { AV_DETECT__FLOAT, AV_DETECT__INT8 } av_detect__precision;

typedef struct av_detect__manifest {
    char name[64];
    char version[64];
    av_detect__role role;
    char path[AV_DETECT__PATH_MAX]; /* model file, resolved against the manifest's folder */
    char format[16];                /* "tfjs" | "tflite" | "onnx" */
    av_detect__precision precision; /* int8: quantise at load from calib_path */
    char calib_path[AV_DETECT__PATH_MAX]; /* resolved like path; "" for float */
    /* input */
    char input_name[128];
    int in_w, in_h;
    av_detect__layout layout;
    int bgr;                        /* 1: feed channels as B,G,R */
    float mean[3], std[3];          /* value = (pixel0..255 - mean) / std, per channel */
    av_detect__resize resize;
    av_detect__filter filter;
    /* output */
    av_detect__kind kind;
    char output_name[128];          /* centernet/classifier: the tensor read ("" = first) */
    double box_scale;               /* nanodet: 2.5 (Human's scaleBox) */
    int base_grid;                  /* nanodet: 13, the coarsest grid */
    int softmax;                    /* classifier: 1 when outputs are logits */
    /* labels: owned array of n_labels strings */
    char **labels;
    int n_labels;
    int background;                 /* classifier: index of the background class, -1 none */
    /* thresholds */
    double min_score, nms_iou;
    int max_dets;
    int *keep;                      /* detector classes kept by default (owned) */
    int n_keep;
    int *skip;                      /* detector classes never reported (owned) */
    int n_skip;
    /* classifier monitoring baseline: mean top-1 confidence measured at test time */
    double baseline_confidence;     /* < 0 when not given */
    /* classifier: thresholds of the shown answer (answer.h) */
    double answer_min_species, answer_min_genus, answer_drop_detector;
    double answer_extra_detector, answer_whole_agree;
    double answer_balance; /* strength of the training-prior balance (answer.h); 0 off */
    /* retrained head (optional): file resolved like path, "" when none */
    char head_path[AV_DETECT__PATH_MAX];
    char head_features[256];        /* intermediate tensor the head reads */
    char head_prior_path[AV_DETECT__PATH_MAX]; /* site species prior (prior.c), "" = none */
} av_detect__manifest;

/* Defaults of "answer" (measured on ../shared/eval/birds; README "Evaluation"). */
#define AV_DETECT__ANSWER_MIN_SPECIES 0.45
#define AV_DETECT__ANSWER_MIN_GENUS 0.5
#define AV_DETECT__ANSWER_DROP_DETECTOR 0.5
#define AV_DETECT__ANSWER_EXTRA_DETECTOR 0.4
#define AV_DETECT__ANSWER_WHOLE_AGREE 0.4

/*
 * Parse and validate one manifest file. The model path is resolved against
 * the manifest's folder. On success *m is filled and owns its arrays (free
 * with av_detect__manifest_free); on failure it is zeroed and err names the
 * file and the field.
 */
av_detect_status av_detect__manifest_load(const char *path, av_detect__manifest *m, char *err,
                                          size_t errlen);
/* Same, from JSON text; base_dir resolves "file", origin names it in errors. */
av_detect_status av_detect__manifest_parse(const char *text, size_t len, const char *base_dir,
                                           const char *origin, av_detect__manifest *m,
                                           char *err, size_t errlen);
void av_detect__manifest_free(av_detect__manifest *m);

/* 1 when class c is kept (by default, or always with all_classes), 0 if not. */
int av_detect__manifest_keeps(const av_detect__manifest *m, int c, int all_classes);

/*
 * Read a label file (one label per line, '\r' stripped, blank trailing lines
 * dropped; at most AV_DETECT__MAX_LABELS lines, 4 MB). On success *labels is
 * a malloc'd array of malloc'd strings the caller frees with
 * av_detect__labels_free.
 */
av_detect_status av_detect__labels_load(const char *path, char ***labels, int *n, char *err,
                                        size_t errlen);
void av_detect__labels_free(char **labels, int n);

/* Read a whole file into a malloc'd NUL-terminated buffer (caller frees); at
 * most max bytes. */
av_detect_status av_detect__read_file(const char *path, size_t max, char **out, size_t *len,
                                      char *err, size_t errlen);

#endif
