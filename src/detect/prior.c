/*
 * prior.c - the site's species prior: a site's birds repeat, so confirmed
 * sightings reweight the head's answer (the posterior is p(species | crop)
 * * prior^alpha, renormalised). Weights, the file (format in detect.h) and
 * the answer-time application; `aviary train species` computes the counts
 * and alpha.
 */
#include "detect/detect.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILE_BYTES (8L << 20)
#define MAX_COUNT 1e9

void av_detect_prior_weights(const double *counts, int n_classes, int background, double alpha,
                             double pseudo, float *w)
{
    double total = 0;
    int species = 0;
    for (int c = 0; c < n_classes; c++)
        if (c != background)
            total += counts[c], species++;
    double denom = total + pseudo * species;
    for (int c = 0; c < n_classes; c++) {
        if (c == background || denom <= 0 || alpha == 0) {
            w[c] = 1.0f;
            continue;
        }
        /* relative to uniform, so alpha = 0 or no sightings change nothing */
        double rel = species * (counts[c] + pseudo) / denom;
        w[c] = (float)pow(rel, alpha);
    }
}

av_detect_status av_detect_prior_save(const char *path, const double *counts,
                                      const char *const *names, int n_classes, int background,
                                      double alpha, double pseudo, char *err, size_t errlen)
{
    json_t *sp = json_array();
    double total = 0;
    int bad = !sp;
    for (int c = 0; !bad && c < n_classes; c++) {
        if (c == background || counts[c] <= 0)
            continue;
        total += counts[c];
        bad = json_array_append_new(sp, json_pack("{s:i, s:s, s:f}", "class", c, "name",
                                                  names[c], "n", counts[c])) != 0;
    }
    json_t *j = bad ? NULL
                    : json_pack("{s:i, s:f, s:f, s:f, s:o}", "format", 1, "alpha", alpha,
                                "pseudo_count", pseudo, "sightings", total, "species", sp);
    if (!j) {
        if (bad)
            json_decref(sp);
        snprintf(err, errlen, "%s: out of memory", path);
        return AV_DETECT_E_NOMEM;
    }
    int w = json_dump_file(j, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (w) {
        snprintf(err, errlen, "%s: cannot write", path);
        return AV_DETECT_E_IO;
    }
    return AV_DETECT_OK;
}

static av_detect_status fail(char *err, size_t errlen, av_detect_status st, const char *path,
                             const char *what, double *counts, json_t *j)
{
    snprintf(err, errlen, "%s: %s", path, what);
    free(counts);
    json_decref(j);
    return st;
}

av_detect_status av_detect_prior_load(const char *path, const char *const *labels, int n_labels,
                                      int background, av_detect_head *h, char *err,
                                      size_t errlen)
{
    struct stat sb;
    if (stat(path, &sb) || !S_ISREG(sb.st_mode))
        return fail(err, errlen, AV_DETECT_E_IO, path, "cannot read the species prior", NULL,
                    NULL);
    if (sb.st_size > MAX_FILE_BYTES)
        return fail(err, errlen, AV_DETECT_E_MODEL, path, "species prior larger than 8 MiB",
                    NULL, NULL);
    if (n_labels != h->n_classes || n_labels < 1)
        return fail(err, errlen, AV_DETECT_E_MODEL, path, "prior needs a head over the labels",
                    NULL, NULL);
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    double *counts = calloc((size_t)n_labels, sizeof *counts);
    if (!counts)
        return fail(err, errlen, AV_DETECT_E_NOMEM, path, "out of memory", NULL, j);
    json_t *sp = json_object_get(j, "species");
    json_t *al = json_object_get(j, "alpha"), *ps = json_object_get(j, "pseudo_count");
    if (!json_is_object(j) || json_integer_value(json_object_get(j, "format")) != 1 ||
        !json_is_array(sp) || !json_is_number(al) || !json_is_number(ps))
        return fail(err, errlen, AV_DETECT_E_MODEL, path,
                    "not a species prior (format 1 with alpha, pseudo_count, species)", counts,
                    j);
    double alpha = json_number_value(al), pseudo = json_number_value(ps);
    if (!(alpha >= 0 && alpha <= AV_DETECT_PRIOR_MAX_ALPHA) || !(pseudo > 0 && pseudo <= 1e6))
        return fail(err, errlen, AV_DETECT_E_MODEL, path,
                    "alpha must be 0..8 and pseudo_count in (0, 1e6]", counts, j);
    size_t i;
    json_t *e;
    json_array_foreach(sp, i, e)
    {
        json_t *c = json_object_get(e, "class"), *n = json_object_get(e, "n");
        const char *name = json_string_value(json_object_get(e, "name"));
        json_int_t ci = json_integer_value(c);
        double nv = json_number_value(n);
        char sci[128], common[128];
        if (!json_is_integer(c) || ci < 0 || ci >= n_labels || ci == background || !name ||
            !json_is_number(n) || !(nv >= 0 && nv <= MAX_COUNT) || counts[ci] > 0) {
            char what[160];
            snprintf(what, sizeof what,
                     "species[%zu]: needs a species class (once), its name and a count 0..1e9",
                     i);
            return fail(err, errlen, AV_DETECT_E_MODEL, path, what, counts, j);
        }
        av_detect_split_label(labels[ci], sci, sizeof sci, common, sizeof common);
        if (strcmp(sci, name)) {
            char what[400];
            snprintf(what, sizeof what, "species[%zu]: class %lld is %.120s, not %.120s", i,
                     (long long)ci, sci, name);
            return fail(err, errlen, AV_DETECT_E_MODEL, path, what, counts, j);
        }
        counts[ci] = nv;
    }
    float *w = malloc((size_t)n_labels * sizeof *w);
    if (!w)
        return fail(err, errlen, AV_DETECT_E_NOMEM, path, "out of memory", counts, j);
    av_detect_prior_weights(counts, n_labels, background, alpha, pseudo, w);
    free(counts);
    json_decref(j);
    free(h->prior);
    h->prior = w;
    return AV_DETECT_OK;
}

void av_detect_prior_apply(const av_detect_head *h, float *probs)
{
    if (!h->prior)
        return;
    double sum = 0;
    for (int c = 0; c < h->n_classes; c++)
        sum += probs[c] *= h->prior[c];
    if (sum > 0)
        for (int c = 0; c < h->n_classes; c++)
            probs[c] = (float)(probs[c] / sum);
}
