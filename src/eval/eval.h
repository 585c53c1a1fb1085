/*
 * eval.h - accuracy of the bird pipeline on a labelled photo set
 * (`aviary eval`): a manifest of images with their species, bird counts
 * and (optionally) boxes, scored against av_detect results.
 *
 * Manifest: CSV with a header row naming at least the columns `file`,
 * `scientific_name` and `n_birds` (others, such as `boxes`, `common_name`,
 * `license_note`, are optional; unknown columns are ignored; fields may be
 * quoted with "" as an escaped quote). Per row:
 *   scientific_name  a binomial, several joined with ';' (any of them is a
 *                    right answer), or "none" for a photo without a bird
 *   n_birds          birds visible; empty = not given
 *   boxes            empty = not given; else "x1 y1 x2 y2" in pixels of the
 *                    upright image, several joined with ';'
 * Names are matched as binomials through av_detect_species_binomial
 * (subspecies and renamed species count as the labels' species).
 *
 * Objects:
 *   av_eval_set  the parsed manifest (owned by the caller of av_eval_set_load)
 *   av_eval      the running score of one evaluation, fed one result per row
 *
 * The metric definitions (README "Evaluation"): bird recall = photos with
 * birds where at least one bird (box or whole image) is reported; negatives
 * clean = photos without birds where none is; count exact = photos with
 * birds and n_birds given whose bird count equals it; box precision/recall
 * at IoU 0.5 (greedy, best score first) over rows with boxes; species top-1
 * / top-5 of the best (first) bird: over every photo with a species label,
 * a photo with no bird counting as wrong. "named" counts what the user is
 * shown: a species name that is right, a species name that is wrong, a
 * genus, or "Unknown bird" (av_detect_det.rule).
 */
#ifndef AV_EVAL_H
#define AV_EVAL_H

#include <stdio.h>

#include <jansson.h>

#include "detect/detect.h"

#define AV_EVAL_NAMES_MAX 4          /* species per row ("a;b") */
#define AV_EVAL_BOXES_MAX 64         /* boxes per row */
#define AV_EVAL_ROWS_MAX 100000
#define AV_EVAL_MANIFEST_MAX (16 * 1024 * 1024)

typedef struct av_eval_row {
    char file[256];                  /* relative to the images folder; no "..", no leading '/' */
    char label[256];                 /* scientific_name as written ("none" for negatives) */
    int n_names;                     /* 0: a photo without birds */
    char names[AV_EVAL_NAMES_MAX][AV_DETECT_NAME_MAX]; /* binomials, labels' spelling */
    int n_birds;                     /* -1: not given */
    int n_boxes;                     /* -1: not given */
    float boxes[AV_EVAL_BOXES_MAX][4];
} av_eval_row;

typedef struct av_eval_set {
    int n_rows;
    av_eval_row *rows;
} av_eval_set;

/*
 * Parse a manifest file. On success *out is a new set the caller frees with
 * av_eval_set_free; on failure -1 and err says which line and field is
 * wrong.
 */
int av_eval_set_load(const char *path, av_eval_set **out, char *err, size_t errlen);
/* The same from text (len bytes); origin names the text in messages. */
int av_eval_set_parse(const char *text, size_t len, const char *origin, av_eval_set **out,
                      char *err, size_t errlen);
void av_eval_set_free(av_eval_set *s);

/* The figures of an evaluation so far (numerators and denominators). */
typedef struct av_eval_summary {
    int images, errors;              /* rows scored; rows whose image failed (counted as misses) */
    int with_birds, found;           /* bird recall = found / with_birds */
    int without, clean;              /* negatives clean = clean / without */
    int counted, count_exact;        /* count exact = count_exact / counted */
    int boxed_rows, box_tp, box_fp, box_fn; /* box P = tp/(tp+fp), R = tp/(tp+fn) */
    int species_rows, top1, top5;    /* species top-1 / top-5 = top1 / species_rows */
    int named_right, named_wrong, named_genus, named_unknown; /* the best bird's shown answer */
    int named_weak;                  /* bird boxes (any row) shown with a species name at a
                                      * species score under 0.2 */
    int illustrations;               /* rows the pipeline called drawings (birds removed) */
    int illustrations_with_birds;    /* of them, rows labelled with birds (real photos lost) */
    double recall, negatives_clean, count_rate, box_precision, box_recall, top1_rate, top5_rate;
} av_eval_summary;

typedef struct av_eval av_eval;

/* A new evaluation over set (borrowed; must outlive it); NULL when out of memory. */
av_eval *av_eval_new(const av_eval_set *set);
void av_eval_free(av_eval *e);

/* Score row i with its result (borrowed for the call). 0, or -1 on a bad
 * index or out of memory. Results need top_k >= 5 for top-5. */
int av_eval_add(av_eval *e, int row, const av_detect_result *r);
/* Score row i as failed (its image could not be read or run): a miss on
 * every figure it counts for. msg is kept for the report. */
int av_eval_add_error(av_eval *e, int row, const char *msg);

void av_eval_summarise(const av_eval *e, av_eval_summary *s);

/* The report as a table (text) on f; title goes on the first line. */
void av_eval_print(const av_eval *e, const char *title, FILE *f);
/* The report as JSON (a new reference the caller owns), NULL when out of
 * memory: "summary" figures, "per_species", "confusions", "timings_ms"
 * (mean and median per stage), "detector_runs" (total and mean per image,
 * and per pass its runs, the images it ran on and the boxes it added) and
 * one entry per scored row in "rows" (with its det_runs). */
json_t *av_eval_to_json(const av_eval *e);

#endif
