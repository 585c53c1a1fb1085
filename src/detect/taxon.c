/*
 * taxon.c - species names as the species model's labels spell them: a
 * binomial (a subspecies counts as its species) with the names renamed
 * since the labels' 2017 iNaturalist taxonomy mapped back to the label's
 * name, and the genus of a name. Used to match manifest labels and site
 * lists against the model, never to rename what the model answers.
 */
#include "detect/detect.h"

#include <stdio.h>
#include <string.h>

/* Current name -> the labels' name (only species the labels have). */
static const char *const synonyms[][2] = {
    {"Dryobates pubescens", "Picoides pubescens"},
    {"Leuconotopicus villosus", "Picoides villosus"},
    {"Dryobates nuttallii", "Picoides nuttallii"},
    {"Dryobates scalaris", "Picoides scalaris"},
    {"Leuconotopicus albolarvatus", "Picoides albolarvatus"},
    {"Dryobates albolarvatus", "Picoides albolarvatus"},
    {"Dryobates villosus", "Picoides villosus"},
    {"Linaria cannabina", "Carduelis cannabina"},
    {"Curruca communis", "Sylvia communis"},
    {"Coloeus monedula", "Corvus monedula"},
    {"Mareca penelope", "Anas penelope"},
    {"Mareca strepera", "Anas strepera"},
    {"Mareca americana", "Anas americana"},
    {"Spatula clypeata", "Anas clypeata"},
    {"Spatula discors", "Anas discors"},
    {"Spatula cyanoptera", "Anas cyanoptera"},
    {"Spatula querquedula", "Anas querquedula"},
    {"Corthylio calendula", "Regulus calendula"},
};

/* Copy the first n bytes of s into out (cap bytes), collapsing runs of
 * blanks to one space. */
static void copy_words(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    int blank = 0;
    for (size_t i = 0; i < n && s[i] && o + 1 < cap; i++) {
        if (s[i] == ' ' || s[i] == '\t') {
            blank = o > 0;
            continue;
        }
        if (blank && o + 2 < cap)
            out[o++] = ' ';
        blank = 0;
        out[o++] = s[i];
    }
    if (cap)
        out[o < cap ? o : cap - 1] = '\0';
}

void av_detect_species_binomial(const char *name, char *out, size_t cap)
{
    char tmp[AV_DETECT_NAME_MAX * 2];
    while (*name == ' ' || *name == '\t')
        name++;
    /* end after the second word, unless the third marks a hybrid ("x"/"×") */
    const char *p = name;
    int words = 0;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (words == 2 && strncmp(p, "\xc3\x97", 2) && strncmp(p, "x ", 2))
            break;
        if (words == 2)
            words = -100; /* a hybrid: keep the whole name */
        while (*p && *p != ' ' && *p != '\t')
            p++;
        words++;
    }
    copy_words(tmp, sizeof tmp, name, (size_t)(p - name));
    for (size_t i = 0; i < sizeof synonyms / sizeof synonyms[0]; i++)
        if (!strcmp(tmp, synonyms[i][0])) {
            snprintf(out, cap, "%s", synonyms[i][1]);
            return;
        }
    snprintf(out, cap, "%s", tmp);
}

void av_detect_species_genus(const char *name, char *out, size_t cap)
{
    while (*name == ' ' || *name == '\t')
        name++;
    size_t n = strcspn(name, " \t");
    copy_words(out, cap, name, n);
}
