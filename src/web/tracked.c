/*
 * tracked.c - the species the monitor tracks: the list the owner set on the
 * settings page (site_settings 'tracked', shared by every node), else the
 * --tracked flag. A species from the flag keeps its test baseline; others
 * have none (NaN).
 */
#include "web/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Fill name[] from names[]: what the store's monitoring calls take. */
static void point_names(av_web__tracked_set *t)
{
    for (int k = 0; k < t->n; k++)
        t->name[k] = t->names[k];
}

void av_web__tracked(av_web *w, av_web__tracked_set *t)
{
    char (*names)[128] = t->names;
    double *baselines = t->baselines;
    const int max = AV_WEB_MAX_TRACKED;
    char list[AV_STORE_SETTING_MAX + 1], err[256];
    int found = 0, n = 0;
    if (av_store_setting_get(w->o.store, "tracked", list, sizeof list, &found, err,
                             sizeof err) != AV_STORE_OK)
        found = 0;
    if (!found) {
        for (int i = 0; i < w->o.n_tracked && n < max; i++, n++) {
            snprintf(names[n], 128, "%s", w->o.tracked[i]);
            baselines[n] = w->o.baselines ? w->o.baselines[i] : NAN;
        }
        t->n = n;
        point_names(t);
        return;
    }
    for (char *p = list; *p && n < max;) {
        size_t len = strcspn(p, ",\n");
        char one[128];
        snprintf(one, sizeof one, "%.*s", (int)(len < sizeof one ? len : sizeof one - 1), p);
        p += len + (p[len] != '\0');
        char *s = one, *e = one + strlen(one);
        while (*s == ' ' || *s == '\r')
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\r'))
            *--e = '\0';
        if (!*s)
            continue;
        snprintf(names[n], 128, "%s", s);
        baselines[n] = NAN;
        for (int i = 0; i < w->o.n_tracked; i++)
            if (!strcmp(w->o.tracked[i], s) && w->o.baselines)
                baselines[n] = w->o.baselines[i];
        n++;
    }
    t->n = n;
    point_names(t);
}
