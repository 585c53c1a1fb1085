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
    s->class_id = d->n_species ? d->species[0].class_index : 0;
    snprintf(s->label, sizeof s->label, "%s", d->class_name[0] ? d->class_name : "bird");
    if (d->n_species) {
        snprintf(s->species, sizeof s->species, "%s", d->species[0].scientific);
        snprintf(s->common_name, sizeof s->common_name, "%s", d->species[0].common);
    }
    snprintf(s->model_version, sizeof s->model_version, "%s", version);
}
