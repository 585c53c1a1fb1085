/*
 * detection.c - a pipeline detection as the row the store keeps, and a row
 * back as a detection (to redraw its box): both directions in one place so
 * what one writes the other reads.
 */
#include "web/web.h"

#include "web/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void av_web_store_detection(const av_detect_det *d, const char *version, av_store_detection *s)
{
    memset(s, 0, sizeof *s);
    s->x1 = d->x1, s->y1 = d->y1, s->x2 = d->x2, s->y2 = d->y2;
    s->score = d->confidence;
    s->detector_score = d->det_score;
    s->species_score = d->n_species ? d->species[0].score : -1;
    snprintf(s->label, sizeof s->label, "%s", d->class_name[0] ? d->class_name : "bird");
    /* the shown answer, not the raw top species: a genus goes in as "Corvus sp.",
     * an unknown bird as the common name "Unknown bird" without a species
     * (RULE_NONE with species: a maker of detections that predates the rules) */
    if (d->n_species && (d->rule == AV_DETECT_RULE_SPECIES || d->rule == AV_DETECT_RULE_NONE)) {
        s->class_id = d->species[0].class_index;
        snprintf(s->species, sizeof s->species, "%s", d->species[0].scientific);
        snprintf(s->common_name, sizeof s->common_name, "%s", d->species[0].common);
    } else if (d->rule == AV_DETECT_RULE_GENUS) {
        snprintf(s->species, sizeof s->species, "%s", d->label);
    } else if (d->rule == AV_DETECT_RULE_UNKNOWN) {
        snprintf(s->common_name, sizeof s->common_name, "%s", d->label);
    }
    snprintf(s->model_version, sizeof s->model_version, "%s", version);
    if (d->whole_image)
        snprintf(s->whole_image_by, sizeof s->whole_image_by, "%s",
                 av_detect_whole_by_name(d->whole_by));
    /* every guess, whatever the rule: a review offers them first */
    for (int i = 0; i < d->n_species && s->n_guesses < AV_STORE_MAX_GUESSES; i++) {
        av_store_guess *g = &s->guesses[s->n_guesses++];
        g->score = d->species[i].score;
        snprintf(g->species, sizeof g->species, "%s", d->species[i].scientific);
        snprintf(g->common_name, sizeof g->common_name, "%s", d->species[i].common);
    }
}

/* Copy a name into a shorter field: cut, never overflow. */
static void copy_name(char *dst, size_t cap, const char *src)
{
    size_t l = strnlen(src, cap - 1);
    memcpy(dst, src, l);
    dst[l] = '\0';
}

void av_web_load_detection(const av_store_detection *s, av_detect_det *d)
{
    memset(d, 0, sizeof *d);
    d->x1 = (float)s->x1, d->y1 = (float)s->y1, d->x2 = (float)s->x2, d->y2 = (float)s->y2;
    d->confidence = (float)s->score;
    d->det_score = (float)s->detector_score;
    d->class_index = -1; /* not kept */
    copy_name(d->class_name, sizeof d->class_name, s->label[0] ? s->label : "bird");
    d->whole_by = av_detect_whole_by_from_name(s->whole_image_by);
    d->whole_image = d->whole_by != AV_DETECT_WHOLE_NONE;
    for (int i = 0; i < s->n_guesses && d->n_species < AV_DETECT_TOPK_MAX; i++) {
        av_detect_species *sp = &d->species[d->n_species++];
        sp->class_index = -1;
        sp->score = (float)s->guesses[i].score;
        copy_name(sp->scientific, sizeof sp->scientific, s->guesses[i].species);
        copy_name(sp->common, sizeof sp->common, s->guesses[i].common_name);
    }
    int genus = av_web__is_genus(s->species);
    if (s->species[0] && !genus) {
        d->rule = AV_DETECT_RULE_SPECIES;
        if (d->n_species == 0 && s->species_score >= 0) { /* a row from before the guesses */
            d->n_species = 1;
            d->species[0].score = (float)s->species_score;
            copy_name(d->species[0].scientific, sizeof d->species[0].scientific, s->species);
            copy_name(d->species[0].common, sizeof d->species[0].common, s->common_name);
        }
        if (d->n_species)
            d->species[0].class_index = s->class_id;
    } else if (genus) {
        d->rule = AV_DETECT_RULE_GENUS;
    } else if (s->common_name[0]) {
        d->rule = AV_DETECT_RULE_UNKNOWN;
    }
    const char *label = s->common_name[0] ? s->common_name
                        : s->species[0]   ? s->species
                        : !s->label[0] || !strcmp(s->label, "bird") ? "Bird"
                                                                    : s->label;
    copy_name(d->label, sizeof d->label, label);
}

int av_web_analysis_from_result(av_detect_result *r, av_web_analysis *out)
{
    memset(out, 0, sizeof *out);
    out->illustration.score = -1;
    out->width = r->width;
    out->height = r->height;
    out->dets = r->n_dets ? calloc((size_t)r->n_dets, sizeof *out->dets) : NULL;
    if (r->n_dets && !out->dets)
        return -1;
    char version[64];
    snprintf(version, sizeof version, "%.30s@%.30s", r->detector, r->detector_version);
    for (int i = 0; i < r->n_dets; i++)
        av_web_store_detection(&r->dets[i], version, &out->dets[i]);
    out->n_dets = r->n_dets;
    if (r->illustration) {
        /* the top species, not "Unknown bird": a drawing is not judged by its score */
        const av_detect_det *d = &r->illustrated;
        av_store_illustration *il = &out->illustration;
        il->on = 1;
        if (d->n_species) {
            snprintf(il->species, sizeof il->species, "%s", d->species[0].scientific);
            snprintf(il->common_name, sizeof il->common_name, "%s", d->species[0].common);
            il->score = d->species[0].score;
        } else {
            snprintf(il->common_name, sizeof il->common_name, "%s",
                     d->label[0] ? d->label : "Bird");
            il->score = d->confidence;
        }
    }
    out->annotated = r->annotated; /* ownership moves to the analysis */
    out->annotated_len = r->annotated_len;
    snprintf(out->annotated_ext, sizeof out->annotated_ext, "%s",
             strcmp(r->annotated_mime, "image/png") ? "jpg" : "png");
    r->annotated = NULL;
    r->annotated_len = 0;
    return 0;
}
