/*
 * bench_retrain.c - the closed loop on ../shared/eval/birds (simulate.c):
 * review one half of the photos, train, promote, score the other half with
 * the base and the new version; prints the per-species table, the European
 * and North American top-1 (base vs new) and the training time. Then the
 * same with every reviewed photo stored REPEAT times (default: enough for
 * about 1,000 reviews) to time training on 1,000 reviews.
 *
 *   build/bench/bench_retrain [SEED] [REPEAT] [THREADS]   (from the repo root)
 * THREADS: engine threads of the analysis; REPEAT -R: only the timing run, R copies.
 * AVIARY_BENCH_DETECTOR=nanodet analyses with that detector instead of pipeline.json's.
 * AVIARY_TRAIN_ALPHA=A fixes the species prior's alpha (-1: no prior; unset: chosen).
 */
#include "train/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const GROUP[3] = {"European", "North American", "elsewhere"};

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* the table as it comes, also into a file */
    unsigned seed = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1;
    int repeat = argc > 2 ? atoi(argv[2]) : 0;
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    const char *shared = getenv("AVIARY_SHARED") ? getenv("AVIARY_SHARED") : "../shared";
    char eval[1024], work[] = "/tmp/bench_retrain.XXXXXX", err[1024];
    snprintf(eval, sizeof eval, "%s/eval/birds", shared);
    if (!mkdtemp(work))
        return 1;
    static av_train_sim_result r;
    av_train_sim_opts o = {.eval_dir = eval, .models_dir = "models", .work_dir = work,
                           .seed = seed, .repeat = 1, .threads = threads};
    /* AVIARY_TRAIN_L2 / _EPOCHS / _LR: try other settings than the defaults */
    if (getenv("AVIARY_TRAIN_L2"))
        o.fit.l2 = atof(getenv("AVIARY_TRAIN_L2"));
    if (getenv("AVIARY_TRAIN_EPOCHS"))
        o.fit.epochs = atoi(getenv("AVIARY_TRAIN_EPOCHS"));
    if (getenv("AVIARY_TRAIN_LR"))
        o.fit.lr = atof(getenv("AVIARY_TRAIN_LR"));
    if (getenv("AVIARY_TRAIN_ALPHA")) /* the species prior's alpha; < 0: none */
        o.fit.prior_alpha = atof(getenv("AVIARY_TRAIN_ALPHA"));
    o.detector = getenv("AVIARY_BENCH_DETECTOR"); /* e.g. nanodet; unset: pipeline.json's */
    if (repeat < 0) { /* -R: only the timing run, each reviewed photo stored R times */
        repeat = -repeat;
        goto timing;
    }
    if (getenv("AVIARY_TRAIN_ONLY"))
        repeat = -1;
    if (av_train_simulate(&o, &r, err, sizeof err)) {
        fprintf(stderr, "bench_retrain: %s\n", err);
        return 1;
    }
    printf("\nreviewed %d photos; version %lld %s (%s)\n", r.n_reviews, r.train.version,
           r.train.promoted ? "promoted" : "kept as candidate", r.train.eval.reason);
    if (r.train.prior_alpha >= 0)
        printf("species prior: %.0f sightings of %d species, alpha %g, pseudo-count %g (held "
               "back: top-1 base %.1f%%, head %.1f%%, head + prior %.1f%%)\n",
               r.train.prior_sightings, r.train.prior_species, r.train.prior_alpha,
               r.train.prior_pseudo, r.train.eval.base_top1, r.train.eval.head_top1,
               r.train.eval.new_top1);
    printf("%-28s %-15s %3s %8s %8s\n", "species (scored half)", "group", "n", "base", "new");
    for (int g = 0; g < 3; g++)
        for (int k = 0; k < r.n_rows; k++)
            if (r.rows[k].group == g)
                printf("%-28s %-15s %3d %7.0f%% %7.0f%%\n", r.rows[k].species, GROUP[g],
                       r.rows[k].n, 100.0 * r.rows[k].base_ok / r.rows[k].n,
                       100.0 * r.rows[k].new_ok / r.rows[k].n);
    for (int g = 0; g < 3; g++)
        if (r.group_n[g])
            printf("%s photos: %d, top-1 base %.1f%% -> new %.1f%% (%+.1f points)\n", GROUP[g],
                   r.group_n[g], 100.0 * r.group_base[g] / r.group_n[g],
                   100.0 * r.group_new[g] / r.group_n[g],
                   100.0 * (r.group_new[g] - r.group_base[g]) / r.group_n[g]);
    printf("train species on %d reviews: %.1f s (features %.1f s, fit %.1f s; CPU time %.1f + "
           "%.1f s)\n",
           r.n_reviews, r.seconds_train, r.train.seconds_features, r.train.seconds_fit,
           r.train.cpu_seconds_features, r.train.cpu_seconds_fit);

    if (repeat < 0)
        return 0;
    if (repeat == 0)
        repeat = (1000 + r.n_reviews - 1) / (r.n_reviews ? r.n_reviews : 1);
timing:;
    char work2[] = "/tmp/bench_retrain.XXXXXX";
    if (!mkdtemp(work2))
        return 1;
    o.work_dir = work2;
    o.repeat = repeat;
    o.quiet = 1;
    if (av_train_simulate(&o, &r, err, sizeof err)) {
        fprintf(stderr, "bench_retrain: %s\n", err);
        return 1;
    }
    printf("train species on %d reviews: %.1f s (features %.1f s, fit %.1f s; CPU time %.1f + "
           "%.1f s)\n",
           r.n_reviews, r.seconds_train, r.train.seconds_features, r.train.seconds_fit,
           r.train.cpu_seconds_features, r.train.cpu_seconds_fit);
    printf("(work folders %s and %s)\n", work, work2);
    return 0;
}
