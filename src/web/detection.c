/*
 * detection.c - a pipeline detection as the row the store keeps.
 */
#include "web/web.h"

#include <stdio.h>
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
    /* every guess, whatever the rule: a review offers them first */
    for (int i = 0; i < d->n_species && s->n_guesses < AV_STORE_MAX_GUESSES; i++) {
        av_store_guess *g = &s->guesses[s->n_guesses++];
        g->score = d->species[i].score;
        snprintf(g->species, sizeof g->species, "%s", d->species[i].scientific);
        snprintf(g->common_name, sizeof g->common_name, "%s", d->species[i].common);
    }
}
