/*
 * detect.h - the bird pipeline, public face: image bytes -> bird boxes with
 * species names, plus the result object shared by the CLI, the web app and
 * the model server.
 *
 * Models are only ever loaded through manifests (models/<name>.json, format in
 * manifest.h); models/pipeline.json names the default detector and the
 * species classifier.
 *
 * Objects:
 *   av_detect_pipeline  manifests + loaded models, opened once; safe to share
 *                       between threads (engine contexts come from a small
 *                       pool guarded by a mutex, one per concurrent run).
 *   av_detect_result    plain data, owned by the caller of av_detect_run().
 *
 * Errors: every fallible call returns an av_detect_status and writes a
 * message naming what failed into err (when err is non-NULL).
 */
#ifndef AV_DETECT_H
#define AV_DETECT_H

#include <stddef.h>

#include <jansson.h>

#include "vision/vision.h"

#define AV_DETECT_STATUS_MAP(X)                               \
    X(OK, 0, "ok")                                            \
    X(E_IO, 1, "cannot read file")                            \
    X(E_MANIFEST, 2, "invalid model manifest")                \
    X(E_MODEL, 3, "model does not match its manifest")        \
    X(E_IMAGE, 4, "cannot decode image")                      \
    X(E_LIMIT, 5, "image exceeds a limit")                    \
    X(E_NOMEM, 6, "out of memory")                            \
    X(E_ARG, 7, "invalid argument")                           \
    X(E_ENGINE, 8, "inference failed")

typedef enum av_detect_status {
#define X(name, num, msg) AV_DETECT_##name = num,
    AV_DETECT_STATUS_MAP(X)
#undef X
} av_detect_status;

/* Static string for a status; never NULL. */
const char *av_detect_strerror(av_detect_status st);

#define AV_DETECT_TOPK_MAX 10
#define AV_DETECT_NAME_MAX 96

/* One species guess for a box. */
typedef struct av_detect_species {
    int class_index;                     /* classifier output index */
    float score;                         /* 0..1 */
    char scientific[AV_DETECT_NAME_MAX]; /* "Ara macao" */
    char common[AV_DETECT_NAME_MAX];     /* "Scarlet Macaw" ("" when the label has none) */
} av_detect_species;

/* Which rule gave a bird its shown answer (label, confidence). */
typedef enum av_detect_rule {
    AV_DETECT_RULE_NONE = 0, /* no species answer: species off, or not a bird */
    AV_DETECT_RULE_SPECIES,  /* the top species, sure enough to name */
    AV_DETECT_RULE_GENUS,    /* top species unsure but its genus sure: "Corvus sp." */
    AV_DETECT_RULE_UNKNOWN,  /* a weak answer: "Unknown bird", species[] are its guesses */
} av_detect_rule;

/* "species", "genus", "unknown" or "none"; never NULL. */
const char *av_detect_rule_name(av_detect_rule rule);
/* The rule of such a name; AV_DETECT_RULE_NONE for any other text. */
av_detect_rule av_detect_rule_from_name(const char *name);

/* Which rule made a whole image a bird (README "Species crops and answers",
 * "Second opinion from ImageNet"). */
typedef enum av_detect_whole_by {
    AV_DETECT_WHOLE_NONE = 0, /* not a whole-image detection */
    AV_DETECT_WHOLE_SPECIES,  /* the whole image's best species reached whole_image_min */
    AV_DETECT_WHOLE_TWO_VIEWS, /* the whole image and its centre square name one species */
    AV_DETECT_WHOLE_IMAGENET, /* the ImageNet rescue: its bird classes sum high enough */
} av_detect_whole_by;

/* "species", "two_views", "imagenet" or "none"; never NULL. */
const char *av_detect_whole_by_name(av_detect_whole_by by);
/* The rule of such a name; AV_DETECT_WHOLE_NONE for any other text. */
av_detect_whole_by av_detect_whole_by_from_name(const char *name);

/* One detection. Boxes are in original-image pixels, clamped to the image. */
typedef struct av_detect_det {
    float x1, y1, x2, y2;
    float det_score;       /* detector score; 0 for a whole-image detection */
    int class_index;       /* detector class (COCO-80); -1 for a whole-image detection */
    char class_name[32];   /* detector class name ("bird") */
    int whole_image;       /* 1: no box found, the species model named the whole image */
    av_detect_whole_by whole_by; /* with whole_image: which rule found the bird */
    int n_species;         /* 0 when species are unavailable or not a bird */
    av_detect_species species[AV_DETECT_TOPK_MAX];
    float species_best;    /* best species score before the site list; 0 without species */
    /* What the UI shows: the top species' common name (else scientific) and
     * its score when species are known; otherwise "Bird" (or the COCO class
     * name for other classes) and the detector score. */
    char label[AV_DETECT_NAME_MAX];
    float confidence;
    av_detect_rule rule;   /* which rule chose label and confidence */
} av_detect_det;

/*
 * Detector passes beyond the one whole-image run, set in models/pipeline.json
 * ("passes"; README "Detection passes"): zoom-out (a padded, shrunk copy,
 * when nothing or only a frame-filling box was found), tiles (overlapping
 * tiles of large frames) and nested (drop a box lying mostly inside a
 * better box of the same class).
 */
typedef enum av_detect_pass {
    AV_DETECT_PASS_ZOOM = 0,
    AV_DETECT_PASS_TILES,
    AV_DETECT_PASS_NESTED,
    AV_DETECT_PASS_N
} av_detect_pass;

/* "zoom_out", "tiles", "nested" (static); "unknown" out of range. */
const char *av_detect_pass_name(int pass);
/* The pass named `name`, or -1. */
int av_detect_pass_find(const char *name);
/* A pass list ("zoom_out,nested", or "none") as av_detect_run_opts.passes
 * into *out. 0, or -1 naming the unknown pass in err. */
int av_detect_passes_parse(const char *list, unsigned *out, char *err, size_t errlen);

/* What one pass did for one image. */
typedef struct av_detect_pass_info {
    int on;       /* enabled for this run */
    int ran;      /* its condition held and it ran (zoom-out and tiles are conditional) */
    int runs;     /* detector runs it made */
    int boxes;    /* boxes it added (zoom-out, tiles) or removed (nested) */
    double ms;    /* its time, detector runs included */
} av_detect_pass_info;

typedef struct av_detect_result {
    int width, height;        /* decoded (EXIF-upright) image size */
    int n_dets;
    av_detect_det *dets;      /* n_dets entries, best first */
    int species_available;    /* 0: species model missing or disabled */
    char species_note[512];   /* why species are unavailable and how to add them */
    char detector[64], detector_version[64];
    char classifier[64], classifier_version[64]; /* "" without species */
    int batched_species;      /* 1: the bird crops ran in batched engine runs (all of them
                               * in one run, up to species_batch per run); 0: one run per
                               * crop (one crop, batching off or refused by the model) */
    double ms_decode, ms_detect, ms_species, ms_draw, ms_total; /* ms_detect includes passes */
    av_detect_pass_info passes[AV_DETECT_PASS_N];
    /* The illustration rule (pipeline.json "illustration"; README "Illustrations are not
     * sightings"): measured when it is on and a bird was found. */
    int page_measured;        /* 1: page_paper and page_border were measured */
    double page_paper, page_border; /* flat paper-white fraction of the frame, of its border */
    int illustration;         /* 1: a drawing on a white page: its bird answers were removed
                               * from dets (not a sighting); the best one is `illustrated` */
    av_detect_det illustrated; /* with illustration: the best bird answer, for display only */
    /* The zoom-out recheck (README "Detection passes"): a box of another class that the
     * ImageNet second opinion calls a bird. It becomes a bird box only when the whole-image
     * rules find no bird, so a frame-filling bird the species model names stays whole. */
    int recheck_found;        /* 1: recheck_box holds such a box (image pixels) */
    av_detect_det recheck_box;
    unsigned char *annotated; /* annotated image (JPEG, or PNG for PNG input) or NULL */
    size_t annotated_len;
    char annotated_mime[16];  /* "image/jpeg" or "image/png" */
} av_detect_result;

/* Free what a result owns (dets, annotated) and zero it; NULL-safe. */
void av_detect_result_free(av_detect_result *r);

/*
 * The result as a JSON object (a new reference the caller owns, release with
 * json_decref), or NULL when out of memory. The annotated image bytes are not
 * included. `image` (may be NULL) is recorded as "image". Numbers are
 * rounded (boxes 0.1 px, scores 1e-4, times 0.01 ms): dump with
 * JSON_REAL_PRECISION(7) to print them short.
 */
json_t *av_detect_result_to_json(const av_detect_result *r, const char *image);

typedef struct av_detect_open_opts {
    const char *detector;  /* manifest name ("nanodet", "centernet"); NULL = pipeline.json */
    int threads;           /* engine threads per run; <= 1 runs on the calling thread */
    int max_contexts;      /* engine context pool size (concurrent runs); <= 0 means 4 */
    int no_species;        /* 1: do not load the species classifier */
    int species_batch;     /* bird crops per batched species run (more go in even chunks):
                            * <= 0 means 16, 1 runs one crop at a time; at most 64 */
    const char *species_list; /* site species list file (one scientific name a line, '#'
                            * comments), or a bare NAME for models_dir/sites/NAME.txt;
                            * NULL/"" = every species. An unknown name fails the open
                            * (E_ARG, err gives file and line). */
} av_detect_open_opts;

typedef struct av_detect_run_opts {
    double min_score;      /* detector score threshold; <= 0 = manifest's */
    int all_classes;       /* 1: keep every detector class, not only the manifest's (bird) */
    int top_k;             /* species per box; <= 0 = 3; capped at AV_DETECT_TOPK_MAX */
    int annotate;          /* 1: draw boxes + labels and encode result->annotated */
    long long max_bytes;   /* image byte limit; <= 0 = 30 MB */
    long long max_pixels;  /* decoded pixel limit; <= 0 = 50 Mpx */
    unsigned passes;       /* 0: pipeline.json's passes; else AV_DETECT_PASSES_SET with a
                            * bit (1u << AV_DETECT_PASS_x) for each pass to run */
    unsigned skip_passes;  /* bits (1u << AV_DETECT_PASS_x) of passes never to run, whatever
                            * passes or pipeline.json say (live cameras skip zoom-out) */
} av_detect_run_opts;

#define AV_DETECT_PASSES_SET 0x80000000u

typedef struct av_detect_pipeline av_detect_pipeline;

/*
 * Load models_dir/pipeline.json, the detector and (when its file is present)
 * species manifests and models. opts may be NULL (defaults). On success *out
 * owns the pipeline (free with av_detect_pipeline_close); a missing species
 * model is not an error: results then say species are unavailable. One
 * engine context per model is planned here (weights packed, arenas laid
 * out), so an engine failure fails the open (E_ENGINE) and the first run
 * does not pay for it; the other max_contexts - 1 are made when runs
 * overlap, and batched contexts when a batch size is first used.
 */
av_detect_status av_detect_pipeline_open(const char *models_dir, const av_detect_open_opts *opts,
                                         av_detect_pipeline **out, char *err, size_t errlen);
void av_detect_pipeline_close(av_detect_pipeline *p);

/*
 * The pipeline a node serves now, replaceable while in use (current.c; all
 * calls thread-safe). new: first stays the caller's (never closed here);
 * -1 when out of memory. acquire: the pipeline to run a request on, held
 * until release; replace: later acquires get p (owned from now on: closed
 * by the last release after it is replaced again, or by free), requests in
 * flight finish on the one they hold. free: after every release.
 */
typedef struct av_detect_current av_detect_current;
int av_detect_current_new(av_detect_pipeline *first, av_detect_current **out);
av_detect_pipeline *av_detect_current_acquire(av_detect_current *c);
void av_detect_current_release(av_detect_current *c, av_detect_pipeline *p);
int av_detect_current_replace(av_detect_current *c, av_detect_pipeline *p);
unsigned long long av_detect_current_swaps(av_detect_current *c);
void av_detect_current_free(av_detect_current *c);

/* Totals of one pass over every run of a pipeline (for /metrics). */
typedef struct av_detect_pass_totals {
    unsigned long long ran;      /* images it ran on */
    unsigned long long runs;     /* detector runs it made */
    unsigned long long boxes;    /* boxes it added or removed */
    double ms;                   /* time spent */
} av_detect_pass_totals;

/* A snapshot of the pass totals since the pipeline opened. Thread-safe. */
void av_detect_pipeline_pass_totals(av_detect_pipeline *p,
                                    av_detect_pass_totals out[AV_DETECT_PASS_N]);

/* The detector's manifest name ("centernet"), static for the pipeline's life. */
const char *av_detect_pipeline_detector(const av_detect_pipeline *p);

/* Whether species are available, and the note explaining why not (static
 * for the pipeline's life). */
int av_detect_pipeline_has_species(const av_detect_pipeline *p);
const char *av_detect_pipeline_species_note(const av_detect_pipeline *p);
/* The optional ImageNet second opinion (README "Second opinion from
 * ImageNet"): its model file's path when loaded, with *sha256 the checksum
 * its manifest gives ("" none); NULL when not, with *note saying why. */
const char *av_detect_pipeline_second(const av_detect_pipeline *p, const char **sha256,
                                      const char **note);
/* Whether a species (a scientific name; a subspecies counts as its
 * species) is on the site species list the pipeline was opened with:
 * 1 on it, 0 off it, -1 when there is no list (every species allowed). */
int av_detect_pipeline_on_site_list(const av_detect_pipeline *p, const char *scientific);
/* The species manifest's monitoring baseline (baseline.mean_confidence: the
 * test-time mean top-1 score), or < 0 when it gives none or species are off. */
double av_detect_pipeline_species_baseline(const av_detect_pipeline *p);

/*
 * Decode image bytes, detect, name species, optionally annotate. Thread-safe.
 * opts may be NULL. On success *result is filled (caller frees with
 * av_detect_result_free); on failure it is zeroed and err says why.
 */
av_detect_status av_detect_run(av_detect_pipeline *p, const void *image, size_t len,
                               const av_detect_run_opts *opts, av_detect_result *result,
                               char *err, size_t errlen);

/*
 * The same on pixels already decoded (video frames): width x height packed
 * RGB8 rows (3*width bytes each), borrowed for the call only. max_bytes is
 * unused; max_pixels applies. Annotation, when asked, is a JPEG. Results and
 * errors as av_detect_run (ms_decode is 0).
 */
av_detect_status av_detect_run_rgb(av_detect_pipeline *p, int width, int height,
                                   const unsigned char *rgb, const av_detect_run_opts *opts,
                                   av_detect_result *r, char *err, size_t errlen);

/*
 * Several images through one shared detector forward pass. Each image is
 * either encoded bytes (decoded as av_detect_run does) or decoded RGB8
 * pixels (as av_detect_run_rgb); both are borrowed for the call only.
 */
#define AV_DETECT_BATCH_MAX 256 /* images in one av_detect_run_batch call */

typedef struct av_detect_image {
    const void *bytes;          /* encoded image (len bytes), used when rgb is NULL */
    size_t len;
    long long max_bytes;        /* byte limit for this image; <= 0: opts->max_bytes */
    const unsigned char *rgb;   /* or: width x height packed RGB8 rows */
    int width, height;
} av_detect_image;

/*
 * Run n (1..AV_DETECT_BATCH_MAX) images: decode each, resize each to the
 * detector input, run the detector once for up to 8 images at a time (more
 * go in even chunks) on a per-worker context made for that many images,
 * decode and NMS each image's slice of the outputs, then classify the bird
 * crops of all those images in batched species runs (as av_detect_run
 * batches one image's crops), and annotate when asked. Results equal
 * av_detect_run's per image. A detector the engine cannot batch (CenterNet)
 * runs the images one at a time instead (logged once, with the reason).
 *
 * Per image i: status[i] (required) gets its status and, when errs is
 * non-NULL, errs + i * errlen its message; results[i] is filled on success
 * (caller frees with av_detect_result_free) and zeroed on failure. A bad
 * image fails alone: the others still run. *det_runs (may be NULL) gets
 * the detector forward passes made for the images themselves; the extra
 * runs of a pass (zoom-out, tiles) are in each result's passes[].runs. Returns AV_DETECT_OK when every image
 * ran, AV_DETECT_E_ARG (every status E_ARG, nothing run) on bad arguments,
 * else the status of the first image that failed. Thread-safe.
 */
av_detect_status av_detect_run_batch(av_detect_pipeline *p, int n, const av_detect_image *images,
                                     const av_detect_run_opts *opts, av_detect_result *results,
                                     av_detect_status *status, char *errs, size_t errlen,
                                     int *det_runs);

/* The colour of detection d (index i among those drawn). */
typedef av_vision_color (*av_detect_color_fn)(const av_detect_det *d, int i);

/*
 * The one drawing of labelled detection boxes (the pipeline's annotation,
 * the remote-inference client's, video posters): dets[0..n) drawn on img in
 * place, each box's corners multiplied by scale (1 = image pixels), in
 * color(d, i) (NULL: av_vision_palette(i)), labelled "label 93%" from the
 * det's label and confidence with font (NULL: boxes only). E_ARG for bad
 * arguments, E_NOMEM (err says so) when out of memory.
 */
av_detect_status av_detect_draw(av_image *img, const av_detect_det *dets, int n, double scale,
                                av_detect_color_fn color, av_vision_font *font, char *err,
                                size_t errlen);

/*
 * Draw detections on an image as av_detect_run's annotation does (same
 * decode, boxes, "label 93%" text from each det's label and confidence,
 * PNG for PNG input else JPEG), without running any model: lets a node
 * re-create the annotated image from stored detections. Limits as
 * av_detect_run_opts (<= 0 = defaults). On success *out is malloc'd and
 * owned by the caller (free()); mime gets "image/jpeg" or "image/png".
 */
av_detect_status av_detect_annotate(const void *image, size_t len, const av_detect_det *dets,
                                    int n, long long max_bytes, long long max_pixels,
                                    unsigned char **out, size_t *outlen, char *mime,
                                    size_t mimecap, char *err, size_t errlen);

/*
 * `aviary model quantize`: calibrate the int8 quantisation of the float
 * detector of manifest (a models/NAME.json path) on every .jpg/.jpeg/.png/
 * .bmp photo directly in photo_dir, each fed as the pipeline feeds the
 * detector, and write the range table (nn.h av_nn_calib_save) to out, or
 * when out is NULL or "" to the manifest's "calibration" path (int8
 * manifests) or NAME.int8.calib beside the manifest. out_used (may be NULL)
 * receives the path written, *n_photos the photos used.
 */
av_detect_status av_detect_calibrate(const char *manifest, const char *photo_dir,
                                     const char *out, char *out_used, size_t out_cap,
                                     int *n_photos, char *err, size_t errlen);

/*
 * A stand-alone image classifier (`aviary classify`): `model` is a manifest
 * (.json with "role": "classifier") or a model file (TFLite, TF.js, ONNX).
 * For a bare model file the input size comes from its [1,H,W,3] or [1,3,H,W]
 * input; quantised u8/i8 inputs get the raw pixels (q = pixel), float inputs
 * get `range` ("0..255", "0..1" or "-1..1"; NULL = "-1..1"). `labels` (may
 * be NULL) is a label file, one per line; a manifest brings its own. Images
 * are area-resized (whole image, stretched) to the input size.
 * On success *out owns the classifier (free with av_detect_classifier_close).
 */
typedef struct av_detect_classifier av_detect_classifier;

av_detect_status av_detect_classifier_open(const char *model, const char *labels,
                                           const char *range, int threads,
                                           av_detect_classifier **out, char *err, size_t errlen);
void av_detect_classifier_close(av_detect_classifier *c);

/* Input width, height and dtype name ("u8", "f32", ...) for reports. */
void av_detect_classifier_info(const av_detect_classifier *c, int *w, int *h, const char **dtype);

/*
 * Classify one image (bytes, limits as av_detect_run_opts; <= 0 = defaults).
 * Writes up to k (<= AV_DETECT_TOPK_MAX) results best first into out and
 * their count into *n; labels missing from the label file are named
 * "class N"; the background class of a manifest is skipped. Not thread-safe
 * for one classifier (one engine context); open one per thread.
 */
av_detect_status av_detect_classify(av_detect_classifier *c, const void *image, size_t len,
                                    long long max_bytes, long long max_pixels, int k,
                                    av_detect_species *out, int *n, char *err, size_t errlen);

/*
 * Split "Ara macao (Scarlet Macaw)" into "Ara macao" and "Scarlet Macaw".
 * A label without a trailing "(...)" is all scientific, common "". Outputs
 * are truncated to their capacities and always NUL-terminated.
 */
void av_detect_split_label(const char *label, char *scientific, size_t scap, char *common,
                           size_t ccap);

/*
 * The binomial a species name stands for among the species model's labels:
 * a subspecies counts as its species ("Junco hyemalis oreganus" -> "Junco
 * hyemalis"; a hybrid "A b × c" stays whole), and a name renamed since the
 * labels' 2017 taxonomy becomes the labels' name ("Dryobates pubescens" ->
 * "Picoides pubescens"). Blanks are collapsed; out is always terminated.
 */
void av_detect_species_binomial(const char *name, char *out, size_t cap);
/* The genus (first word) of a scientific name; out is always terminated. */
void av_detect_species_genus(const char *name, char *out, size_t cap);

/*
 * Retraining (head.c, pipeline.c). A species head maps the species model's
 * penultimate features f (dim values, dequantised) to n_classes logits,
 * W f + b; a species manifest with "head" applies one (see manifest.h).
 */
typedef struct av_detect_head {
    int n_classes, dim;
    float *w; /* n_classes x dim, row-major (owned) */
    float *b; /* n_classes (owned) */
    /* site species prior (prior.c), NULL = none: weights the softmax output
     * is multiplied by before renormalising (owned) */
    float *prior;
} av_detect_head;

/* Write / read a head file (format in head.c). load fills *h (free with
 * av_detect_head_free); on failure *h is zeroed and err says why. */
av_detect_status av_detect_head_save(const char *path, const av_detect_head *h, char *err,
                                     size_t errlen);
av_detect_status av_detect_head_load(const char *path, av_detect_head *h, char *err,
                                     size_t errlen);
void av_detect_head_free(av_detect_head *h);
/* logits[n_classes] = W f + b. */
void av_detect_head_logits(const av_detect_head *h, const float *f, float *logits);
/* In place, numerically stable. */
void av_detect_softmax(float *v, int n);

/*
 * Site species prior (prior.c): counts of confirmed sightings per class,
 * smoothed by a Dirichlet pseudo-count per species class (the uniform base
 * distribution mixed in) and raised to alpha, relative to uniform:
 *   w[c] = (S (n_c + pseudo) / (N + pseudo S))^alpha,  w[background] = 1
 * (S species classes, N sightings). Applied to a head's softmax output:
 * posterior[c] = p(c | crop) w[c], renormalised.
 *
 * File (JSON, retrain/prior.json of a version folder):
 *   {"format": 1, "alpha": A, "pseudo_count": P, "sightings": N,
 *    "species": [{"class": C, "name": "Scientific", "n": K}, ...]}
 * classes not listed have n = 0; a listed name must be the label's
 * scientific part (the file belongs to those labels).
 */
#define AV_DETECT_PRIOR_MAX_ALPHA 8.0
void av_detect_prior_weights(const double *counts, int n_classes, int background, double alpha,
                             double pseudo, float *w);
/* names[c]: class c's scientific name. */
av_detect_status av_detect_prior_save(const char *path, const double *counts,
                                      const char *const *names, int n_classes, int background,
                                      double alpha, double pseudo, char *err, size_t errlen);
/* Reads path, checks it against labels ("Scientific (Common)"), and sets
 * h->prior (n_labels == h->n_classes weights, owned by h). */
av_detect_status av_detect_prior_load(const char *path, const char *const *labels, int n_labels,
                                      int background, av_detect_head *h, char *err,
                                      size_t errlen);
/* probs[h->n_classes] *= h->prior, renormalised; nothing without a prior. */
void av_detect_prior_apply(const av_detect_head *h, float *probs);

/*
 * The species model's base head (its last fully connected layer, read
 * from the engine's graph and dequantised) into *h (caller frees with
 * av_detect_head_free), and the labels it scores (borrowed from p:
 * *labels[n_classes], *background the background index or -1; *features
 * the name of the tensor the head reads, owned by p). E_ARG
 * without species; E_MODEL when the model has no such layer.
 */
av_detect_status av_detect_species_base_head(av_detect_pipeline *p, av_detect_head *h,
                                             const char *const **labels, int *background,
                                             const char **features, char *err, size_t errlen);

/*
 * Species features of n boxes of one image, each cut exactly as the
 * pipeline cuts a bird crop (square, crop_margin, area filter), through
 * the species model up to its head's input: feats[n * dim] (dim as
 * av_detect_species_base_head gives). Boxes are x1,y1,x2,y2 in EXIF-upright
 * image pixels (what results and reviews hold). The image is decoded as
 * av_detect_run decodes it (opts limits). Thread-safe.
 */
av_detect_status av_detect_box_features(av_detect_pipeline *p, const void *image, size_t len,
                                        const av_detect_run_opts *opts, int n,
                                        const float *boxes, float *feats, char *err,
                                        size_t errlen);

#endif
