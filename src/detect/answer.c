/*
 * answer.c - site species lists and the species / genus / unknown / drop
 * rules for a bird box (answer.h).
 */
#include "detect/answer.h"
#include "base/base.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LINE_MAX_BYTES 512

/* The binomial of label i ("Corvus corone (Carrion Crow)" -> "Corvus corone"). */
static void label_binomial(const av_detect__manifest *m, int i, char *out, size_t cap)
{
    char sci[AV_DETECT_NAME_MAX], common[AV_DETECT_NAME_MAX];
    av_detect_split_label(m->labels[i], sci, sizeof sci, common, sizeof common);
    av_detect_species_binomial(sci, out, cap);
}

int av_detect__answer_init(av_detect__answer *a, const av_detect__manifest *m, char *err,
                           size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->n = m->n_labels;
    a->background = m->background;
    a->min_species = m->answer_min_species;
    a->min_genus = m->answer_min_genus;
    a->drop_detector = m->answer_drop_detector;
    a->extra_detector = m->answer_extra_detector;
    a->whole_agree = m->answer_whole_agree;
    a->genus = malloc((size_t)a->n * sizeof *a->genus);
    a->genus_size = calloc((size_t)a->n, sizeof *a->genus_size);
    char(*names)[AV_DETECT_NAME_MAX] = malloc((size_t)a->n * sizeof *names);
    if (!a->genus || !a->genus_size || !names) {
        free(names);
        av_detect__answer_free(a);
        return AV_BASE_FAIL(-1, err, errlen, "species answer: out of memory");
    }
    /* genus numbers by first word; quadratic in the genera seen, once per open */
    int n_genera = 0;
    for (int i = 0; i < a->n; i++) {
        a->genus[i] = -1;
        if (i == a->background)
            continue;
        char sci[AV_DETECT_NAME_MAX], common[AV_DETECT_NAME_MAX], g[AV_DETECT_NAME_MAX];
        av_detect_split_label(m->labels[i], sci, sizeof sci, common, sizeof common);
        av_detect_species_genus(sci, g, sizeof g);
        int k = 0;
        while (k < n_genera && strcmp(names[k], g))
            k++;
        if (k == n_genera)
            snprintf(names[n_genera++], sizeof names[0], "%s", g);
        a->genus[i] = k;
        a->genus_size[k]++;
    }
    free(names);
    return 0;
}

int av_detect__answer_set_balance(av_detect__answer *a, const float *log_prior, int n,
                                  double strength, char *err, size_t errlen)
{
    if (n != a->n)
        return AV_BASE_FAIL(-1, err, errlen, "answer.balance: %d biases for %d labels", n, a->n);
    float *w = malloc((size_t)n * sizeof *w);
    if (!w)
        return AV_BASE_FAIL(-1, err, errlen, "answer.balance: out of memory");
    double mean = 0;
    int species = 0;
    for (int i = 0; i < n; i++)
        if (i != a->background)
            mean += log_prior[i], species++;
    mean = species ? mean / species : 0;
    for (int i = 0; i < n; i++)
        w[i] = i == a->background ? 1.0f : (float)exp(-strength * (log_prior[i] - mean));
    free(a->balance);
    a->balance = w;
    return 0;
}

void av_detect__answer_balance(const av_detect__answer *a, float *probs)
{
    if (!a->balance)
        return;
    double sum = 0;
    for (int i = 0; i < a->n; i++)
        sum += probs[i] *= a->balance[i];
    if (sum > 0)
        for (int i = 0; i < a->n; i++)
            probs[i] = (float)(probs[i] / sum);
}

void av_detect__answer_free(av_detect__answer *a)
{
    if (!a)
        return;
    free(a->balance);
    free(a->genus);
    free(a->genus_size);
    free(a->allowed);
    memset(a, 0, sizeof *a);
}

/* Mark every label whose binomial is name; returns how many. */
static int allow_name(av_detect__answer *a, const av_detect__manifest *m, const char *name)
{
    char want[AV_DETECT_NAME_MAX];
    av_detect_species_binomial(name, want, sizeof want);
    int hits = 0;
    for (int i = 0; i < a->n; i++) {
        if (i == a->background)
            continue;
        char b[AV_DETECT_NAME_MAX];
        label_binomial(m, i, b, sizeof b);
        if (!strcmp(b, want)) {
            hits += !a->allowed[i];
            a->allowed[i] = 1;
        }
    }
    return hits;
}

int av_detect__answer_allows(const av_detect__answer *a, const av_detect__manifest *m,
                             const char *name)
{
    if (!a->allowed)
        return 1;
    char want[AV_DETECT_NAME_MAX];
    av_detect_species_binomial(name, want, sizeof want);
    for (int i = 0; i < a->n; i++) {
        char b[AV_DETECT_NAME_MAX];
        if (i == a->background || !a->allowed[i])
            continue;
        label_binomial(m, i, b, sizeof b);
        if (!strcmp(b, want))
            return 1;
    }
    return 0;
}

int av_detect__answer_load_list(av_detect__answer *a, const av_detect__manifest *m,
                                const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return AV_BASE_FAIL(-1, err, errlen, "species list %s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode) || sb.st_size > AV_DETECT__LIST_MAX_BYTES) {
        fclose(f);
        return AV_BASE_FAIL(-1, err, errlen, "species list %s: not a regular file of at most %d bytes",
                     path, AV_DETECT__LIST_MAX_BYTES);
    }
    unsigned char *allowed = calloc((size_t)a->n, 1);
    if (!allowed) {
        fclose(f);
        return AV_BASE_FAIL(-1, err, errlen, "species list %s: out of memory", path);
    }
    free(a->allowed);
    a->allowed = allowed;
    a->n_allowed = 0;
    char line[LINE_MAX_BYTES];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            rc = AV_BASE_FAIL(-1, err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
                       LINE_MAX_BYTES - 2);
            break;
        }
        line[strcspn(line, "#\r\n")] = '\0';
        char *s = line + strspn(line, " \t");
        size_t e = strlen(s);
        while (e && (s[e - 1] == ' ' || s[e - 1] == '\t'))
            s[--e] = '\0';
        if (!*s)
            continue;
        if (!strchr(s, ' ') || allow_name(a, m, s) == 0) {
            char b[AV_DETECT_NAME_MAX];
            av_detect_species_binomial(s, b, sizeof b);
            int dup = 0;
            for (int i = 0; i < a->n && !dup; i++) {
                char lb[AV_DETECT_NAME_MAX];
                if (i == a->background || !a->allowed[i])
                    continue;
                label_binomial(m, i, lb, sizeof lb);
                dup = !strcmp(lb, b);
            }
            if (dup && strchr(s, ' '))
                continue; /* listed twice (or a synonym of a listed name) */
            rc = AV_BASE_FAIL(-1, err, errlen, "%s:%d: '%.100s' is not a species of the model %s", path,
                       lineno, s, m->name);
            break;
        }
        a->n_allowed++;
    }
    if (!rc && ferror(f))
        rc = AV_BASE_FAIL(-1, err, errlen, "species list %s: read error", path);
    if (!rc && a->n_allowed == 0)
        rc = AV_BASE_FAIL(-1, err, errlen, "species list %s: no species in it", path);
    fclose(f);
    if (rc) {
        free(a->allowed);
        a->allowed = NULL;
        a->n_allowed = 0;
    }
    return rc;
}

double av_detect__answer_restrict(const av_detect__answer *a, float *probs, int *top)
{
    double best = 0;
    int at = -1;
    for (int i = 0; i < a->n; i++)
        if (i != a->background && (at < 0 || probs[i] > best))
            best = probs[i], at = i;
    if (top)
        *top = at;
    if (!a->allowed)
        return best;
    double sum = 0;
    for (int i = 0; i < a->n; i++) {
        if (!a->allowed[i] && i != a->background)
            probs[i] = 0;
        sum += probs[i];
    }
    if (sum > 0)
        for (int i = 0; i < a->n; i++)
            probs[i] = (float)(probs[i] / sum);
    return best;
}

int av_detect__answer_name(const av_detect__answer *a, const float *probs, av_detect_det *d)
{
    const av_detect_species *top = &d->species[0];
    float bg = a->background >= 0 ? probs[a->background] : 0.0f;
    if (d->n_species > 0 && top->score >= a->min_species && top->score > bg) {
        snprintf(d->label, sizeof d->label, "%s", top->common[0] ? top->common : top->scientific);
        d->confidence = top->score;
        d->rule = AV_DETECT_RULE_SPECIES;
        return 0;
    }
    if (d->n_species > 0) {
        int g = top->class_index >= 0 && top->class_index < a->n ? a->genus[top->class_index] : -1;
        double sum = 0;
        for (int i = 0; g >= 0 && i < a->n; i++)
            if (a->genus[i] == g)
                sum += probs[i];
        if (g >= 0 && a->genus_size[g] > 1 && sum >= a->min_genus && sum > bg) {
            char genus[AV_DETECT_NAME_MAX];
            av_detect_species_genus(top->scientific, genus, sizeof genus);
            snprintf(d->label, sizeof d->label, "%.80s sp.", genus);
            d->confidence = (float)sum;
            d->rule = AV_DETECT_RULE_GENUS;
            return 0;
        }
    }
    if (d->n_species > 0 && bg >= top->score && !d->whole_image && d->det_score < a->drop_detector)
        return 1;
    snprintf(d->label, sizeof d->label, "Unknown bird");
    d->confidence = d->det_score > 0 ? d->det_score : (d->n_species ? top->score : 0.0f);
    d->rule = AV_DETECT_RULE_UNKNOWN;
    return 0;
}

/* The key boxes are ordered by: top species score, or -1 + detector score
 * (below every species score) for a box without species. */
static double order_key(const av_detect_det *d)
{
    return d->n_species > 0 ? d->species[0].score : d->det_score - 1.0;
}

int av_detect__answer_settle(const av_detect__answer *a, av_detect_det *dets, int n)
{
    int named = 0;
    for (int i = 0; i < n; i++)
        named |= dets[i].n_species > 0 &&
                 (dets[i].rule == AV_DETECT_RULE_SPECIES || dets[i].rule == AV_DETECT_RULE_GENUS);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        const av_detect_det *d = &dets[i];
        if (named && d->rule == AV_DETECT_RULE_UNKNOWN && d->n_species > 0 && !d->whole_image &&
            d->det_score < a->extra_detector)
            continue;
        if (kept != i)
            dets[kept] = *d;
        kept++;
    }
    /* insertion sort: a handful of boxes, and it keeps equal keys in order */
    for (int i = 1; i < kept; i++) {
        av_detect_det d = dets[i];
        double k = order_key(&d);
        int j = i;
        while (j > 0 && order_key(&dets[j - 1]) < k) {
            dets[j] = dets[j - 1];
            j--;
        }
        dets[j] = d;
    }
    return kept;
}

void av_detect__answer_centre(int w, int h, int *x1, int *y1, int *x2, int *y2)
{
    int side = (int)((w < h ? w : h) * 0.8);
    if (side < 1)
        side = 1;
    *x1 = (w - side) / 2;
    *y1 = (h - side) / 2;
    *x2 = *x1 + side;
    *y2 = *y1 + side;
}

int av_detect__answer_views_agree(const av_detect__answer *a, int top_whole, double whole,
                                  int top_centre, double centre)
{
    return a->whole_agree > 0 && top_whole >= 0 && top_whole == top_centre &&
           whole >= a->whole_agree && centre >= a->whole_agree;
}
