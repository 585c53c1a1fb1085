/*
 * labels.c - the species the classifier knows (its label file, one
 * "Genus species (Common Name)" per line), for choosing another species
 * in a review: lookup by scientific or common name, and the list offered
 * to the browser.
 */
#include "web/labels.h"

#include "detect/detect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LABELS 20000
#define MAX_FILE (4u << 20)

struct av_web__labels {
    av_web__label *v;
    int n;
};

static int usable(const char *sci)
{
    return sci[0] && strcmp(sci, "background") && strncmp(sci, "class ", 6);
}

int av_web__labels_load(const char *path, av_web__labels **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "species labels: cannot open %s", path);
        return -1;
    }
    av_web__labels *l = calloc(1, sizeof *l);
    char line[512];
    size_t total = 0;
    int cap = 0;
    while (l && fgets(line, sizeof line, f)) {
        total += strlen(line);
        if (total > MAX_FILE || l->n >= MAX_LABELS)
            break;
        line[strcspn(line, "\r\n")] = '\0';
        av_web__label x;
        av_detect_split_label(line, x.scientific, sizeof x.scientific, x.common,
                              sizeof x.common);
        if (!usable(x.scientific))
            continue;
        if (l->n == cap) {
            cap = cap ? cap * 2 : 256;
            av_web__label *v = realloc(l->v, (size_t)cap * sizeof *v);
            if (!v) {
                av_web__labels_free(l);
                l = NULL;
                break;
            }
            l->v = v;
        }
        l->v[l->n++] = x;
    }
    fclose(f);
    if (!l) {
        snprintf(err, errlen, "species labels: out of memory");
        return -1;
    }
    *out = l;
    return 0;
}

void av_web__labels_free(av_web__labels *l)
{
    if (!l)
        return;
    free(l->v);
    free(l);
}

int av_web__labels_count(const av_web__labels *l)
{
    return l ? l->n : 0;
}

const av_web__label *av_web__labels_at(const av_web__labels *l, int i)
{
    return l && i >= 0 && i < l->n ? &l->v[i] : NULL;
}

const av_web__label *av_web__labels_find(const av_web__labels *l, const char *text)
{
    if (!l || !text)
        return NULL;
    /* "Genus species (Common)" as offered by the list, or either name alone. */
    char sci[128], common[128];
    av_detect_split_label(text, sci, sizeof sci, common, sizeof common);
    for (int i = 0; i < l->n; i++)
        if (!strcasecmp(l->v[i].scientific, sci) ||
            (l->v[i].common[0] && !strcasecmp(l->v[i].common, text)))
            return &l->v[i];
    return NULL;
}
