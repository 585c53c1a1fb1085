/*
 * crops.c - a worker's cache of classifier crops (crops.h).
 */
#include "detect/crops.h"

#include <stdlib.h>

void av_detect__crops_reset(av_detect__crops *c)
{
    c->n = 0;
    c->next = 0;
}

void av_detect__crops_free(av_detect__crops *c)
{
    for (int i = 0; i < AV_DETECT__CROPS_MAX; i++) {
        free(c->e[i].px);
        c->e[i].px = NULL;
        c->e[i].cap = 0;
    }
    av_detect__crops_reset(c);
}

const uint8_t *av_detect__crops_get(av_detect__crops *c, const av_detect__img *img, int x1,
                                    int y1, int x2, int y2, int ow, int oh, av_nn_pool *pool)
{
    if (ow < 1 || oh < 1)
        return NULL;
    for (int i = 0; i < c->n; i++) {
        const av_detect__crop_entry *e = &c->e[i];
        if (e->rgb == img->rgb && e->iw == img->w && e->ih == img->h && e->x1 == x1 &&
            e->y1 == y1 && e->x2 == x2 && e->y2 == y2 && e->ow == ow && e->oh == oh)
            return e->px;
    }
    int k;
    if (c->n < AV_DETECT__CROPS_MAX) {
        k = c->n++;
    } else { /* full: replace the oldest */
        k = c->next;
        c->next = (c->next + 1) % AV_DETECT__CROPS_MAX;
    }
    av_detect__crop_entry *e = &c->e[k];
    size_t need = (size_t)ow * (size_t)oh * 3;
    e->rgb = NULL; /* not valid until filled */
    if (e->cap < need) {
        uint8_t *px = realloc(e->px, need);
        if (!px)
            return NULL;
        e->px = px;
        e->cap = need;
    }
    if (av_detect__img_crop_area_on(img, x1, y1, x2, y2, ow, oh, e->px, pool))
        return NULL;
    *e = (av_detect__crop_entry){.rgb = img->rgb, .iw = img->w, .ih = img->h, .x1 = x1,
                                 .y1 = y1, .x2 = x2, .y2 = y2, .ow = ow, .oh = oh,
                                 .px = e->px, .cap = e->cap};
    return e->px;
}
