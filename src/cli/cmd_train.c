/*
 * cmd_train.c - `aviary train species` (retrain the species head on the
 * birders' reviews, evaluate, write a version) and `aviary model promote
 * VERSION` (serve a candidate, or roll back to an older version) / `aviary
 * model list`.
 */
#include "cli/cli.h"
#include "train/train.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const train_keys[] = {"db",        "data",       "models", "model-base-path",
                                         "log-level", "log-format", NULL};

/* --out DIR, or the model-base-path setting. */
static const char *out_dir(const av_config *cfg, const char *out)
{
    return out ? out : cfg->model_base_path[0] ? cfg->model_base_path : NULL;
}

static int parse_uint(const char *s, long max, long *v)
{
    char *end;
    *v = strtol(s, &end, 10);
    return *s && !*end && *v >= 0 && *v <= max ? 0 : -1;
}

static int run_train(const av_config *cfg, int argc, char **argv)
{
    const av_cli_cmd *me = &av_cli_train;
    const char *out = NULL, *what = NULL;
    long min_reviews = 20, seed = 1;
    int force = 0;
    double prior_alpha = 0; /* chosen on the held-back split */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--out") && has)
            out = argv[++i];
        else if (!strcmp(a, "--min-reviews") && has) {
            if (parse_uint(argv[++i], 1000000, &min_reviews) || min_reviews < 1)
                return av_cli_usage(me, "--min-reviews takes a number from 1");
        } else if (!strcmp(a, "--seed") && has) {
            if (parse_uint(argv[++i], 2147483647L, &seed))
                return av_cli_usage(me, "--seed takes a non-negative number");
        } else if (!strcmp(a, "--prior-alpha") && has) {
            char *end;
            const char *v = argv[++i];
            prior_alpha = strtod(v, &end);
            if (!*v || *end || !(prior_alpha > 0 && prior_alpha <= AV_DETECT_PRIOR_MAX_ALPHA))
                return av_cli_usage(me, "--prior-alpha takes a number in (0, 8]");
        } else if (!strcmp(a, "--no-prior"))
            prior_alpha = -1;
        else if (!strcmp(a, "--force"))
            force = 1;
        else if (a[0] == '-')
            return av_cli_usage(me, "unknown option '%s' (or it lacks its value)", a);
        else if (!what)
            what = a;
        else
            return av_cli_usage(me, "unexpected argument '%s'", a);
    }
    if (!what || strcmp(what, "species"))
        return av_cli_usage(me, "expected `train species`");
    if (!out_dir(cfg, out))
        return av_cli_usage(me, "--out DIR (the model server's --model-base-path) is required");
    char url[1100], err[1024];
    av_config_db_url(cfg, url, sizeof url);
    av_train_opts o = {.db_url = url, .models_dir = cfg->models_dir, .out_dir = out_dir(cfg, out),
                       .min_reviews = (int)min_reviews, .seed = (unsigned)seed, .force = force,
                       .fit = {.prior_alpha = prior_alpha}};
    static av_train_result r;
    av_train_status st = av_train_species(&o, &r, err, sizeof err);
    if (st) {
        fprintf(stderr, "aviary train species: %s\n", err);
        return 1;
    }
    printf("%s %s (version %lld): held-back top-1 %.1f%% (base %.1f%%, head without the "
           "species prior %.1f%%), top-5 %.1f%% (base %.1f%%)\n",
           r.promoted ? "promoted" : "candidate", r.path, r.version, r.eval.new_top1,
           r.eval.base_top1, r.eval.head_top1, r.eval.new_top5, r.eval.base_top5);
    if (!r.promoted)
        printf("not served: %s; serve it anyway with `aviary model promote candidate-%lld "
               "--out %s`\n",
               r.eval.reason, r.version, o.out_dir);
    return 0;
}

const av_cli_cmd av_cli_train = {
    .name = "train",
    .summary = "retrain the species head on reviewed birds; evaluate; write a model version",
    .usage = "species --db URL --out DIR [--min-reviews N] [--seed S] [--prior-alpha A | "
             "--no-prior] [--force]",
    .keys = train_keys,
    .extra_help =
        "  --out DIR          the model server's --model-base-path: the new version is written\n"
        "                     there as the next number (served within 2 s) when it beats the\n"
        "                     base, else as candidate-N\n"
        "  --min-reviews N    refuse with fewer usable reviews (default 20)\n"
        "  --seed S           split and shuffle seed (default 1): same reviews + seed = same head\n"
        "  --prior-alpha A    weight of the site's species prior (confirmed sightings): the\n"
        "                     answer is p(species | crop) * prior^A, renormalised; default:\n"
        "                     chosen on the held-back split (0 when it does not help)\n"
        "  --no-prior         no species prior\n"
        "  --force            promote even when the evaluation says no (recorded)\n"
        "  --models DIR       the base models (default ./models)\n",
    .run = run_train,
};

static int run_model(const av_config *cfg, int argc, char **argv)
{
    const av_cli_cmd *me = &av_cli_model;
    if (argc > 0 && !strcmp(argv[0], "quantize"))
        return av_cli_model_quantize(cfg, argc - 1, argv + 1);
    const char *out = NULL, *pos[3] = {0};
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] == '-')
            return av_cli_usage(me, "unknown option '%s'", argv[i]);
        else if (n < 2)
            pos[n++] = argv[i];
        else
            return av_cli_usage(me, "unexpected argument '%s'", argv[i]);
    }
    const char *dir = out_dir(cfg, out);
    if (!dir)
        return av_cli_usage(me, "--out DIR (the model server's --model-base-path) is required");
    if (n == 2 && !strcmp(pos[0], "promote")) {
        char err[1024];
        long long v;
        if (av_train_promote(dir, pos[1], &v, err, sizeof err)) {
            fprintf(stderr, "aviary model promote: %s\n", err);
            return 1;
        }
        printf("%s is now served as version %lld of %s\n", pos[1], v, dir);
        return 0;
    }
    if (n == 1 && !strcmp(pos[0], "list")) {
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char p[2048];
            snprintf(p, sizeof p, "%s/%s/retrain/version.json", dir, e->d_name);
            json_t *j = json_load_file(p, 0, NULL);
            json_t *ev = json_object_get(j, "evaluation");
            if (j)
                printf("%-14s top-1 %.1f%% (base %.1f%%, prior alpha %g) on %lld held back, "
                       "%s%s\n",
                       e->d_name, json_number_value(json_object_get(ev, "new_top1")),
                       json_number_value(json_object_get(ev, "base_top1")),
                       json_number_value(
                           json_object_get(json_object_get(j, "prior"), "alpha")),
                       (long long)json_integer_value(json_object_get(ev, "held_back")),
                       json_is_true(json_object_get(j, "promoted")) ? "promoted" : "candidate",
                       json_is_true(json_object_get(j, "forced")) ? " (forced)" : "");
            else
                printf("%-14s (not retrained here)\n", e->d_name);
            json_decref(j);
        }
        if (d)
            closedir(d);
        else
            fprintf(stderr, "aviary model list: cannot open %s\n", dir);
        return d ? 0 : 1;
    }
    return av_cli_usage(me, "expected `promote VERSION`, `list` or `quantize MODEL`");
}

const av_cli_cmd av_cli_model = {
    .name = "model",
    .summary = "model versions under a model server's base path: list, promote or roll back;"
               " int8 calibration",
    .usage = "list | promote VERSION --out DIR | quantize MODEL --calib DIR [--out FILE]",
    .keys = train_keys,
    .extra_help = "  list               versions and candidates with their evaluation\n"
                  "  promote VERSION    serve VERSION (a number or candidate-N) again: it is\n"
                  "                     copied as the next version number, which running\n"
                  "                     model servers swap to (a rollback is promoting an\n"
                  "                     older number)\n"
                  "  --out DIR          the model server's --model-base-path\n"
                  "  quantize MODEL     int8 calibration of a float detector (MODEL: a\n"
                  "                     manifest path, or NAME for --models DIR/NAME.json):\n"
                  "                     runs it on every photo in --calib DIR and writes\n"
                  "                     the activation ranges to --out FILE (default: the\n"
                  "                     manifest's \"calibration\", else NAME.int8.calib\n"
                  "                     beside it), read by \"precision\": \"int8\"\n",
    .run = run_model,
};
