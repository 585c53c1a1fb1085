/*
 * answer.h - what a bird box is called (internal to src/detect): the site
 * species list that restricts the classifier's scores, and the rules that
 * turn scores into the shown answer (README "Detection and species"):
 *
 *   species  the top species scores at least min_species: its name
 *   genus    else the summed scores of its genus reach min_genus (and the
 *            genus has more than one species): "Corvus sp."
 *   drop     else, when the background class outscores the top species and
 *            the detector score is under drop_detector: no bird at all
 *   unknown  else "Unknown bird", the species list holding its best guesses
 *
 * and, over the boxes of one image (av_detect__answer_settle): an unknown
 * box under extra_detector beside a named one is dropped (a part of that
 * bird or clutter), and the boxes are ordered by species score, so the
 * first is the image's surest answer. Without a bird box, the whole image
 * is a bird when its best species reaches the pipeline's
 * whole_image_min_species_score, or when the whole image and its centre
 * square (av_detect__answer_centre) name the same species, each at
 * whole_agree or more (av_detect__answer_views_agree).
 *
 * Thresholds come from the classifier manifest's "answer" object
 * (manifest.h), measured with `aviary eval`.
 */
#ifndef AV_DETECT_ANSWER_H
#define AV_DETECT_ANSWER_H

#include <stddef.h>

#include "detect/detect.h"
#include "detect/manifest.h"

#define AV_DETECT__LIST_MAX_BYTES (1024 * 1024)

typedef struct av_detect__answer {
    int n;                  /* classifier labels */
    int background;         /* its index, -1 none */
    int *genus;             /* genus number per label (-1 for background) */
    int *genus_size;        /* labels per genus number */
    unsigned char *allowed; /* site list: 1 per allowed label; NULL = every label */
    int n_allowed;          /* species (binomials) on the list */
    double min_species, min_genus, drop_detector;
    double extra_detector;  /* unknown boxes under this beside a named box are dropped; 0 off */
    double whole_agree;     /* both views' score for the whole-image agreement; 0 off */
    float *balance;         /* per label: 1 / training prior ^ strength; NULL = off */
} av_detect__answer;

/* Build from a classifier manifest (borrowed for the call). 0, or -1 when
 * out of memory (err set). Free with av_detect__answer_free. */
int av_detect__answer_init(av_detect__answer *a, const av_detect__manifest *m, char *err,
                           size_t errlen);
void av_detect__answer_free(av_detect__answer *a);

/*
 * Balance the model's answers against its training data ("answer.balance"
 * in the classifier manifest): a softmax classifier's last bias learns the
 * log frequency of each class in its training set, so the iNat model favours
 * the species most photographed there (Mallard, Red-tailed Hawk, American
 * Robin) over a look-alike (Pica hudsonia over Pica pica). With
 * log_prior[0..n) (that bias) each label's score is divided by
 * exp(log_prior)^strength, relative to the mean; the background class is
 * left as it is. 0, or -1 (err set) when n is not a->n or out of memory.
 */
int av_detect__answer_set_balance(av_detect__answer *a, const float *log_prior, int n,
                                  double strength, char *err, size_t errlen);
/* probs[a->n] weighted by the balance and renormalised; nothing when off. */
void av_detect__answer_balance(const av_detect__answer *a, float *probs);

/*
 * Read a site species list (one scientific name a line, '#' starts a
 * comment, blank lines ignored; binomials matched through
 * av_detect_species_binomial, a subspecies label counting as its species).
 * 0, or -1 with "FILE:LINE: 'name' is not a species of MODEL" (or an I/O
 * message) in err; labels names the model for messages.
 */
int av_detect__answer_load_list(av_detect__answer *a, const av_detect__manifest *m,
                                const char *path, char *err, size_t errlen);

/* 1 when name's species is on the loaded site list (or there is none),
 * else 0: the list as read above, not read again. */
int av_detect__answer_allows(const av_detect__answer *a, const av_detect__manifest *m,
                             const char *name);

/* Apply the site list to probs (n scores, in place): labels off the list
 * get 0, the rest (and background) are rescaled to sum to 1. No-op
 * without a list. Returns the best non-background score from before, for
 * bird / no-bird decisions the list must not sway; *top (may be NULL)
 * gets its label index (-1 when there is none). */
double av_detect__answer_restrict(const av_detect__answer *a, float *probs, int *top);

/*
 * Name the bird d (species[] already filled from probs, best first) by the
 * rules above: sets d->rule, d->label and d->confidence. Returns 1 when the
 * box should be dropped, else 0.
 */
int av_detect__answer_name(const av_detect__answer *a, const float *probs, av_detect_det *d);

/*
 * The boxes dets[0..n) of one image, named: drop the unknown boxes whose
 * detector score is under extra_detector when another box is named
 * (species or genus rule), then order them by top species score, best
 * first (boxes without species after, by detector score; stable). Returns
 * how many remain (in place).
 */
int av_detect__answer_settle(const av_detect__answer *a, av_detect_det *dets, int n);

/* The centre square of a w x h image whose side is 0.8 of the shorter
 * side: the second view of the whole-image rule. */
void av_detect__answer_centre(int w, int h, int *x1, int *y1, int *x2, int *y2);

/*
 * Whether the whole image and its centre square show the same bird: their
 * top species (before any site list: class indices) are the same and both
 * scores reach whole_agree. 0 when whole_agree is 0 (off).
 */
int av_detect__answer_views_agree(const av_detect__answer *a, int top_whole, double whole,
                                  int top_centre, double centre);

#endif
