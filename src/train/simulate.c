/*
 * simulate.c - the closed loop on labelled photos (the test suite and
 * bench_retrain run it on ../shared/eval/birds): split the one-species
 * photos by photo (alternately within each species, so both halves see
 * every species with >= 2 photos), analyse them all with the base models
 * into a fresh SQLite store, review the first half's best box through the
 * store API (confirm when the model's top species is the label, else
 * "another species"; "added" with the whole image when no box was found),
 * train with av_train_species, then analyse the second half with the base
 * models and with the new version (promoted or candidate) and score the
 * top species of each photo's best box. `repeat` stores each reviewed photo
 * that many times (distinct uploads, analysed once) to time training on more
 * reviews.
 */
#include "train/train.h"
#include "base/base.h"

#include "store/store.h"
#include "web/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = n > 0 && n < (64L << 20) ? malloc((size_t)n) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* The README's section a species is listed under: 0 European, 1 North
 * American, 2 elsewhere. */
static int group_of(const char *readme, const char *sci)
{
    const char *eu = strstr(readme, "### European"), *na = strstr(readme, "### North American");
    char needle[160];
    snprintf(needle, sizeof needle, "| %s |", sci);
    const char *at = strstr(readme, needle);
    if (!at || !eu || !na)
        return 2;
    const char *after_na = strstr(na + 4, "\n### ");
    if (at > na && (!after_na || at < after_na))
        return 1;
    return at > eu && at < (na > eu ? na : readme + strlen(readme)) ? 0 : 2;
}

/* One CSV field (quotes allowed) from *p into out. */
static void field(const char **p, char *out, size_t cap)
{
    size_t n = 0;
    int q = **p == '"';
    if (q)
        (*p)++;
    while (**p && (q ? !(**p == '"' && (*p)[1] != '"') : (**p != ',' && **p != '\n'))) {
        if (q && **p == '"')
            (*p)++;
        if (n + 1 < cap)
            out[n++] = **p;
        (*p)++;
    }
    if (q && **p == '"')
        (*p)++;
    if (**p == ',')
        (*p)++;
    out[n] = '\0';
}

typedef struct photo {
    char file[32], sci[128], common[128];
    int half; /* 0 reviewed, 1 scored */
} photo;

/* Index of the detection with the best detector score, or -1. */
static int best_box(const av_detect_result *r)
{
    int b = -1;
    for (int i = 0; i < r->n_dets; i++)
        if (!r->dets[i].whole_image && (b < 0 || r->dets[i].det_score > r->dets[b].det_score))
            b = i;
    return b;
}

/* Store the photo (analysed as r) as a new upload and review its best box. */
static av_train_status store_review(av_store *s, const av_detect_result *r, const photo *ph,
                                    const unsigned char *img, size_t len, char *err,
                                    size_t errlen)
{
    char e[512];
    av_store_image im = {0};
    av_store_new_id(im.id);
    snprintf(im.name, sizeof im.name, "%s", ph->file);
    snprintf(im.ext, sizeof im.ext, "jpg");
    snprintf(im.content_type, sizeof im.content_type, "image/jpeg");
    im.size_bytes = (int64_t)len;
    snprintf(im.status, sizeof im.status, "pending");
    av_store_detection *dets = calloc((size_t)(r->n_dets ? r->n_dets : 1), sizeof *dets);
    av_train_status st = dets ? AV_TRAIN_OK : AV_TRAIN_E_NOMEM;
    for (int i = 0; dets && i < r->n_dets; i++)
        av_web_store_detection(&r->dets[i], "base", &dets[i]);
    if (!st && (av_store_image_insert(s, &im, img, len, e, sizeof e) ||
                av_store_analysis_put(s, im.id, r->width, r->height, dets, r->n_dets, e,
                                      sizeof e)))
        st = AV_TRAIN_E_STORE;
    int b = best_box(r);
    av_store_review rv = {0};
    snprintf(rv.image_id, sizeof rv.image_id, "%s", im.id);
    snprintf(rv.who, sizeof rv.who, "simulation");
    if (b >= 0) {
        rv.box = b;
        int same = r->dets[b].n_species && !strcmp(r->dets[b].species[0].scientific, ph->sci);
        rv.action = same ? AV_REVIEW_CONFIRM : AV_REVIEW_SPECIES;
    } else {
        rv.action = AV_REVIEW_ADDED;
        rv.x1 = 0, rv.y1 = 0, rv.x2 = r->width, rv.y2 = r->height;
    }
    snprintf(rv.species, sizeof rv.species, "%s", ph->sci);
    snprintf(rv.common_name, sizeof rv.common_name, "%s", ph->common);
    if (!st && av_store_review_add(s, &rv, e, sizeof e))
        st = AV_TRAIN_E_STORE;
    if (st == AV_TRAIN_E_STORE)
        snprintf(err, errlen, "%s: store: %s", ph->file, e);
    else if (st)
        snprintf(err, errlen, "out of memory");
    free(dets);
    return st;
}

/* Top species of the photo's best box ("" when no box). */
static void top_species(av_detect_pipeline *p, const unsigned char *img, size_t len, char *out,
                        size_t cap)
{
    av_detect_result r;
    char e[512];
    out[0] = '\0';
    if (av_detect_run(p, img, len, NULL, &r, e, sizeof e) != AV_DETECT_OK)
        return;
    int b = best_box(&r);
    if (b >= 0 && r.dets[b].n_species)
        snprintf(out, cap, "%s", r.dets[b].species[0].scientific);
    av_detect_result_free(&r);
}

av_train_status av_train_simulate(const av_train_sim_opts *o, av_train_sim_result *res,
                                  char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    char path[1200];
    size_t len;
    snprintf(path, sizeof path, "%s/manifest.csv", o->eval_dir);
    size_t rlen;
    char *csv = (char *)slurp(path, &len), *readme;
    snprintf(path, sizeof path, "%s/README.md", o->eval_dir);
    readme = (char *)slurp(path, &rlen);
    char *big = csv ? realloc(csv, len + 1) : NULL; /* room for a terminating NUL */
    csv = big ? big : csv;
    char *rbig = readme ? realloc(readme, rlen + 1) : NULL;
    readme = rbig ? rbig : readme;
    if (readme && rbig)
        readme[rlen] = '\0';
    photo *ph = calloc(400, sizeof *ph);
    if (!csv || !readme || !ph || !big || !rbig) {
        free(csv), free(readme), free(ph);
        snprintf(err, errlen, "%s: cannot read manifest.csv and README.md", o->eval_dir);
        return AV_TRAIN_E_ARG;
    }
    int n = 0;
    csv[len] = '\0';
    for (char *line = strchr(csv, '\n'); line && line[1] && n < 400;) {
        line++;
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        const char *q = line;
        char f[3][256];
        for (int k = 0; k < 3; k++)
            field(&q, f[k], sizeof f[k]);
        if (f[0][0] && strcmp(f[1], "none") && !strchr(f[1], ';')) {
            snprintf(ph[n].file, sizeof ph[n].file, "%.31s", f[0]);
            snprintf(ph[n].sci, sizeof ph[n].sci, "%.127s", f[1]);
            snprintf(ph[n].common, sizeof ph[n].common, "%.127s", f[2]);
            n++;
        }
        line = eol;
    }
    free(csv);
    /* alternate halves within each species, in file order */
    for (int i = 0; i < n; i++) {
        int before = 0;
        for (int j = 0; j < i; j++)
            before += !strcmp(ph[j].sci, ph[i].sci);
        ph[i].half = (int)((before + (o->seed & 1)) & 1);
        if (o->max_per_species > 0 && before >= o->max_per_species)
            ph[i].half = -1; /* not used */
    }
    char db[1300], versions[1300];
    snprintf(db, sizeof db, "sqlite:%s/sim.db", o->work_dir);
    snprintf(versions, sizeof versions, "%s/versions", o->work_dir);
    char e[512];
    av_store *s = NULL;
    av_detect_pipeline *base = NULL, *cand = NULL;
    av_detect_open_opts oo = {.threads = o->threads, .max_contexts = 1,
                              .detector = o->detector};
    av_train_status st = AV_TRAIN_OK;
    if (av_store_open(db, &s, e, sizeof e) || av_store_migrate(s, NULL, e, sizeof e)) {
        snprintf(err, errlen, "%s: %s", db, e);
        st = AV_TRAIN_E_STORE;
    } else if (av_detect_pipeline_open(o->models_dir, &oo, &base, e, sizeof e)) {
        snprintf(err, errlen, "%s: %s", o->models_dir, e);
        st = AV_TRAIN_E_MODEL;
    }
    int repeat = o->repeat > 0 ? o->repeat : 1;
    for (int i = 0; !st && i < n; i++) {
        if (ph[i].half != 0)
            continue;
        snprintf(path, sizeof path, "%s/images/%s", o->eval_dir, ph[i].file);
        unsigned char *img = slurp(path, &len);
        if (!img) {
            snprintf(err, errlen, "%s: cannot read", path);
            st = AV_TRAIN_E_ARG;
        }
        /* analysed once: the same bytes give the same result, stored repeat times */
        av_detect_result ar;
        if (!st && av_detect_run(base, img, len, NULL, &ar, e, sizeof e) != AV_DETECT_OK) {
            snprintf(err, errlen, "%s: %s", ph[i].file, e);
            st = AV_TRAIN_E_MODEL;
        } else if (!st) {
            for (int k = 0; !st && k < repeat; k++, res->n_reviews++)
                st = store_review(s, &ar, &ph[i], img, len, err, errlen);
            av_detect_result_free(&ar);
        }
        free(img);
    }
    av_store_close(s);
    if (!st) {
        av_train_opts to = {.db_url = db, .models_dir = o->models_dir, .out_dir = versions,
                            .min_reviews = 10, .seed = o->seed, .quiet = o->quiet,
                            .fit = o->fit};
        double t0 = av_base_now_ms() / 1e3;
        st = av_train_species(&to, &res->train, err, errlen);
        res->seconds_train = av_base_now_ms() / 1e3 - t0;
    }
    if (!st && av_detect_pipeline_open(res->train.path, &oo, &cand, e, sizeof e)) {
        snprintf(err, errlen, "the new version %s does not load: %s", res->train.path, e);
        st = AV_TRAIN_E_MODEL;
    }
    for (int i = 0; !st && i < n; i++) {
        if (ph[i].half != 1)
            continue;
        snprintf(path, sizeof path, "%s/images/%s", o->eval_dir, ph[i].file);
        unsigned char *img = slurp(path, &len);
        if (!img)
            continue;
        char b[128], c[128];
        top_species(base, img, len, b, sizeof b);
        top_species(cand, img, len, c, sizeof c);
        free(img);
        int g = group_of(readme, ph[i].sci), row = -1;
        for (int k = 0; k < res->n_rows; k++)
            if (!strcmp(res->rows[k].species, ph[i].sci))
                row = k;
        if (row < 0 && res->n_rows < AV_TRAIN_MAX_SPECIES_ROWS) {
            row = res->n_rows++;
            snprintf(res->rows[row].species, sizeof res->rows[row].species, "%s", ph[i].sci);
            res->rows[row].group = g;
        }
        int bo = !strcmp(b, ph[i].sci), no = !strcmp(c, ph[i].sci);
        if (row >= 0)
            res->rows[row].n++, res->rows[row].base_ok += bo, res->rows[row].new_ok += no;
        res->group_n[g]++, res->group_base[g] += bo, res->group_new[g] += no;
    }
    av_detect_pipeline_close(base);
    av_detect_pipeline_close(cand);
    free(readme);
    free(ph);
    return st;
}
