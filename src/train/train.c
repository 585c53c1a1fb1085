/*
 * train.c - `aviary train species`: reviews -> features -> split -> head
 * -> evaluation -> version (promoted or candidate) -> lineage. Progress and
 * the per-species table go to stderr.
 */
#include "train/train.h"
#include "base/base.h"

#include "store/store.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void progress(const av_train_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress(const av_train_opts *o, const char *fmt, ...)
{
    if (o->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("train: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* retrain/version.json: the training record (dataset, parameters, evaluation). */
static char *record_json(const av_train_opts *o, const av_train_dataset *d,
                         const av_train_fit_opts *fo, const av_train_result *r, int forced)
{
    const av_train_eval *e = &r->eval;
    json_t *sp = json_array();
    for (int k = 0; sp && k < e->n_sp; k++)
        json_array_append_new(sp, json_pack("{s:s, s:i, s:i, s:f, s:f, s:f}", "species",
                                            e->sp[k].species, "reviews", e->sp[k].n_reviews,
                                            "held_back", e->sp[k].n, "base_top1",
                                            e->sp[k].base_top1, "head_top1", e->sp[k].head_top1,
                                            "new_top1", e->sp[k].new_top1));
    json_t *j = json_pack(
        "{s:i, s:{s:s, s:i, s:i, s:i, s:i, s:i, s:i}, s:{s:f, s:i, s:f, s:i, s:i, s:i, s:i}, "
        "s:{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:o}, s:{s:b, s:f, s:f, s:f, s:i}, s:b, s:b, "
        "s:s}",
        "format", 1, "dataset", "sha256", d->sha256, "samples", d->n, "images", d->n_images,
        "classes", d->n_classes, "new_classes", d->n_new_classes, "train", r->n_train, "test",
        r->n_test, "params", "l2", fo->l2, "epochs", fo->epochs, "lr", fo->lr, "batch",
        fo->batch, "seed", (int)o->seed, "candidates", fo->candidates, "min_reviews",
        o->min_reviews, "evaluation", "held_back", e->n, "base_top1", e->base_top1, "base_top5",
        e->base_top5, "head_top1", e->head_top1, "head_top5", e->head_top5, "new_top1",
        e->new_top1, "new_top5", e->new_top5, "per_species", sp, "prior", "stored",
        r->prior_alpha >= 0, "alpha", r->prior_alpha > 0 ? r->prior_alpha : 0.0, "pseudo_count",
        r->prior_pseudo, "sightings", r->prior_sightings, "species", r->prior_species,
        "promoted", r->promoted, "forced", forced, "rule", e->reason);
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

/* Lineage in ML Metadata (dataset -> training -> model + evaluation). A
 * failure is reported but does not undo the written version. */
static void record_lineage(const av_train_opts *o, av_store *s, const av_train_dataset *d,
                           const av_train_fit_opts *fo, const av_detect_head *h,
                           av_train_result *r)
{
    char ver[48], params[384], hsha[65], e[512];
    snprintf(ver, sizeof ver, "%s%lld", r->promoted ? "" : "candidate-", r->version);
    snprintf(params, sizeof params,
             "{\"l2\": %g, \"epochs\": %d, \"lr\": %g, \"batch\": %d, \"seed\": %u, "
             "\"candidates\": %d, \"prior_alpha\": %g, \"prior_pseudo_count\": %g, "
             "\"prior_sightings\": %g}",
             fo->l2, fo->epochs, fo->lr, fo->batch, o->seed, fo->candidates,
             r->prior_alpha > 0 ? r->prior_alpha : 0.0, r->prior_pseudo, r->prior_sightings);
    av_train_sha256(h->w, (size_t)h->n_classes * (size_t)h->dim * sizeof *h->w, hsha);
    static const char *const names[8] = {"base_top1", "base_top5", "new_top1",
                                         "new_top5",  "held_back", "promoted",
                                         "head_top1", "prior_alpha"};
    double vals[8] = {r->eval.base_top1, r->eval.base_top5, r->eval.new_top1,
                      r->eval.new_top5,  r->eval.n,         r->promoted,
                      r->eval.head_top1, r->prior_alpha > 0 ? r->prior_alpha : 0.0};
    av_store_training_info t = {.dataset_sha256 = d->sha256, .n_samples = d->n,
                                .n_images = d->n_images, .n_classes = d->n_classes,
                                .n_new_classes = d->n_new_classes, .params_json = params,
                                .model_version = ver, .model_uri = r->path, .head_sha256 = hsha,
                                .n_metrics = 8, .metric_names = names, .metric_values = vals,
                                .promoted = r->promoted, .forced = r->promoted && !r->eval.promote};
    if (av_store_mlmd_record_training(s, &t, &r->mlmd_model_id, e, sizeof e))
        fprintf(stderr, "train: lineage not recorded in ML Metadata: %s\n", e);
    else
        progress(o, "lineage recorded in ML Metadata (model artifact %lld)",
                 (long long)r->mlmd_model_id);
}

/* The site's species prior (prior.c): alpha and pseudo-count chosen on the
 * held-back split, h->prior set from the training part's sightings for the
 * evaluation; *counts (owned by the caller) for the version. Off when
 * fo->prior_alpha < 0 (r->prior_alpha -1). */
static av_train_status species_prior(const av_train_opts *o, const av_train_fit_opts *fo,
                                     const av_train_dataset *d, const av_detect_head *base,
                                     av_detect_head *h, double **counts, av_train_result *r,
                                     char *err, size_t errlen)
{
    r->prior_alpha = -1;
    if (fo->prior_alpha < 0)
        return AV_TRAIN_OK;
    *counts = malloc((size_t)d->n_classes * sizeof **counts);
    if (!*counts) {
        snprintf(err, errlen, "species prior: out of memory");
        return AV_TRAIN_E_NOMEM;
    }
    double t0 = av_base_now_ms() / 1e3;
    av_train_status st = av_train_prior_choose(d, base, h, fo, &r->prior_alpha,
                                               &r->prior_pseudo, err, errlen);
    av_train_prior_counts(d, 1, *counts);
    if (!st)
        st = av_train_prior_set(d, h, *counts, r->prior_alpha, r->prior_pseudo, err, errlen);
    av_train_prior_counts(d, 0, *counts);
    for (int c = 0; c < d->n_classes; c++)
        r->prior_sightings += (*counts)[c], r->prior_species += (*counts)[c] > 0;
    if (!st)
        progress(o, "species prior: %.0f sightings of %d species, alpha %g, pseudo-count %g "
                    "(chosen on the held-back split in %.2f s)",
                 r->prior_sightings, r->prior_species, r->prior_alpha, r->prior_pseudo,
                 av_base_now_ms() / 1e3 - t0);
    return st;
}

av_train_status av_train_species(const av_train_opts *o, av_train_result *r, char *err,
                                 size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!o->db_url || !o->out_dir || !*o->out_dir) {
        snprintf(err, errlen, "train: --db and --out are required");
        return AV_TRAIN_E_ARG;
    }
    const char *models = o->models_dir && *o->models_dir ? o->models_dir : "models";
    int min_reviews = o->min_reviews > 0 ? o->min_reviews : 20;
    av_train_fit_opts fo = o->fit;
    fo.l2 = fo.l2 > 0 ? fo.l2 : 1e-5;
    fo.epochs = fo.epochs > 0 ? fo.epochs : 100;
    fo.lr = fo.lr > 0 ? fo.lr : 1.0;
    fo.batch = fo.batch > 0 ? fo.batch : 32;
    fo.candidates = fo.candidates > 0 ? fo.candidates : 10;
    fo.seed = o->seed;

    char e[512];
    av_store *s = NULL;
    if (av_store_open(o->db_url, &s, e, sizeof e) != AV_STORE_OK ||
        av_store_migrate(s, NULL, e, sizeof e) != AV_STORE_OK) {
        av_store_close(s);
        snprintf(err, errlen, "database: %s", e);
        return AV_TRAIN_E_STORE;
    }
    /* dataset.c runs one image per thread on up to 4 threads: one engine
     * thread each, as idle pool workers would spin against the others */
    av_detect_open_opts oo = {.threads = 1, .max_contexts = 4};
    av_detect_pipeline *p = NULL;
    if (av_detect_pipeline_open(models, &oo, &p, e, sizeof e) != AV_DETECT_OK) {
        av_store_close(s);
        snprintf(err, errlen, "models %s: %s", models, e);
        return AV_TRAIN_E_MODEL;
    }
    av_detect_head base = {0}, h = {0};
    const char *const *labels;
    int background;
    const char *features;
    av_train_dataset d = {0};
    av_train_status st = AV_TRAIN_OK;
    if (av_detect_species_base_head(p, &base, &labels, &background, &features, e, sizeof e)) {
        snprintf(err, errlen, "base head: %s", e);
        st = AV_TRAIN_E_MODEL;
    }
    double t0 = av_base_now_ms() / 1e3, c0 = cpu_s();
    if (!st) {
        progress(o, "reading reviews and cutting crops from %s", models);
        st = av_train_dataset_build(s, p, &base, labels, background, &d, err, errlen);
    }
    if (!st) {
        snprintf(d.feature_name, sizeof d.feature_name, "%s", features);
        r->seconds_features = av_base_now_ms() / 1e3 - t0;
        r->cpu_seconds_features = cpu_s() - c0;
        int species = 0;
        for (int i = 0; i < d.n; i++) {
            int seen = 0;
            for (int j = 0; j < i && !seen; j++)
                seen = d.s[j].label == d.s[i].label;
            species += !seen;
        }
        progress(o, "%d reviewed birds on %d images, %d species (%d new to the base), %d "
                    "skipped; features in %.1f s",
                 d.n, d.n_images, species, d.n_new_classes, d.skipped, r->seconds_features);
        if (d.n < min_reviews) {
            snprintf(err, errlen, "%d usable reviews, fewer than --min-reviews %d", d.n,
                     min_reviews);
            st = AV_TRAIN_E_DATA;
        }
    }
    if (!st) {
        av_train_split(&d, 0.2, o->seed);
        for (int i = 0; i < d.n; i++)
            r->n_test += d.s[i].test;
        r->n_train = d.n - r->n_test;
        r->n_samples = d.n;
        r->n_classes = d.n_classes;
        r->n_new_classes = d.n_new_classes;
        progress(o, "split by image: %d train, %d held back", r->n_train, r->n_test);
        t0 = av_base_now_ms() / 1e3, c0 = cpu_s();
        st = av_train_fit(&d, &base, &fo, &h, err, errlen);
        r->seconds_fit = av_base_now_ms() / 1e3 - t0;
        r->cpu_seconds_fit = cpu_s() - c0;
    }
    double *counts = NULL;
    if (!st) {
        progress(o, "head trained in %.1f s (up to %d epochs, l2 %g toward the base)", r->seconds_fit,
                 fo.epochs, fo.l2);
        st = species_prior(o, &fo, &d, &base, &h, &counts, r, err, errlen);
    }
    if (!st) {
        av_train_evaluate(&d, &base, &h, &r->eval);
        const av_train_eval *ev = &r->eval;
        progress(o, "held back %d: top-1 base %.1f%% -> head %.1f%% -> with prior %.1f%%, "
                    "top-5 %.1f%% -> %.1f%% -> %.1f%%",
                 ev->n, ev->base_top1, ev->head_top1, ev->new_top1, ev->base_top5,
                 ev->head_top5, ev->new_top5);
        for (int k = 0; !o->quiet && k < ev->n_sp; k++)
            if (ev->sp[k].n)
                fprintf(stderr,
                        "train:   %-36s reviews %4d held back %3d  top-1 %5.1f -> %5.1f -> "
                        "%5.1f\n",
                        ev->sp[k].species, ev->sp[k].n_reviews, ev->sp[k].n, ev->sp[k].base_top1,
                        ev->sp[k].head_top1, ev->sp[k].new_top1);
        r->promoted = ev->promote || o->force;
        progress(o, "%s: %s%s", ev->promote ? "promote" : "keep as candidate", ev->reason,
                 !ev->promote && o->force ? " (--force: promoted anyway, recorded)" : "");
        char *info = record_json(o, &d, &fo, r, !ev->promote && o->force);
        if (!info) {
            snprintf(err, errlen, "out of memory");
            st = AV_TRAIN_E_NOMEM;
        } else {
            /* the served prior counts every review; the evaluation's only the training part */
            av_train_prior pr = {.alpha = r->prior_alpha > 0 ? r->prior_alpha : 0.0,
                                 .pseudo = r->prior_pseudo};
            if (counts)
                av_train_prior_counts(&d, 0, counts), pr.counts = counts;
            st = av_train_write_version(o->out_dir, models, &d, &h, counts ? &pr : NULL, info,
                                        r->promoted, &r->version, r->path, sizeof r->path, err,
                                        errlen);
        }
        free(info);
    }
    if (!st) {
        progress(o, "wrote %s", r->path);
        record_lineage(o, s, &d, &fo, &h, r);
    }
    free(counts);
    av_train_dataset_free(&d);
    av_detect_head_free(&base);
    av_detect_head_free(&h);
    av_detect_pipeline_close(p);
    av_store_close(s);
    return st;
}

const char *av_train_strerror(av_train_status st)
{
    switch (st) {
#define X(name, num, msg) \
    case AV_TRAIN_##name:  \
        return msg;
        AV_TRAIN_STATUS_MAP(X)
#undef X
    }
    return "unknown status";
}
