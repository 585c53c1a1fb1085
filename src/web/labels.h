/*
 * labels.h - the species the classifier knows, from its label file
 * (internal to src/web).
 */
#ifndef AV_WEB_LABELS_H
#define AV_WEB_LABELS_H

#include <stddef.h>

typedef struct av_web__label {
    char scientific[128];
    char common[128]; /* "" when the file gives none */
} av_web__label;

typedef struct av_web__labels av_web__labels;

/* Load a label file (one "Genus species (Common Name)" per line; the
 * background and "class N" rows are skipped). *out owned by the caller
 * (av_web__labels_free). -1 with err when it cannot be read. */
int av_web__labels_load(const char *path, av_web__labels **out, char *err, size_t errlen);
void av_web__labels_free(av_web__labels *l);
int av_web__labels_count(const av_web__labels *l);
/* The i-th label (borrowed), NULL past the end. */
const av_web__label *av_web__labels_at(const av_web__labels *l, int i);
/* The label named by text: "Genus species (Common)", the scientific name or
 * the common name, any case. NULL when none (or l is NULL). */
const av_web__label *av_web__labels_find(const av_web__labels *l, const char *text);

#endif
