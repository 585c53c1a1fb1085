/*
 * cmd_eval.c - `aviary eval MANIFEST.csv`: run the pipeline over a labelled
 * photo set and print its accuracy (src/eval) as a table, or JSON.
 * Exit status: 0 every image ran, 1 any failed (counted as misses), 2 usage.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

static const char *const eval_keys[] = {"models",     "threads",    "max-megapixels",
                                        "max-upload-mb", "log-level", "log-format",
                                        "species-list", NULL};

/* The folder a path is in ("." for a bare name) into dir. */
static void dir_of(const char *path, char *dir, size_t cap)
{
    const char *s = strrchr(path, '/');
    if (!s)
        snprintf(dir, cap, ".");
    else if (s == path)
        snprintf(dir, cap, "/");
    else
        snprintf(dir, cap, "%.*s", (int)(s - path), path);
}

/* One line of progress for a scored row. */
static void progress(int i, int n, const av_eval_row *row, const av_detect_result *r)
{
    int birds = 0;
    const av_detect_det *best = NULL;
    for (int k = 0; k < r->n_dets; k++)
        if (!strcmp(r->dets[k].class_name, "bird")) {
            birds++;
            best = best ? best : &r->dets[k];
        }
    fprintf(stderr, "[%d/%d] %s: %d bird%s (label %s: %d)", i + 1, n, row->file, birds,
            birds == 1 ? "" : "s", row->label, row->n_birds);
    if (best)
        fprintf(stderr, ", %s %.0f%%", best->label, best->confidence * 100);
    fprintf(stderr, "\n");
}

static int run_eval(const av_config *cfg, int argc, char **argv)
{
    const av_cli_cmd *me = &av_cli_eval;
    const char *manifest = NULL, *images = NULL, *json_file = NULL;
    int json = 0, rc;
    av_cli_detect_opts dopt = {.run.top_k = 5};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (av_cli_detect_option(me, argc, argv, &i, &dopt, &rc)) {
            if (rc)
                return rc;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--images") || !strcmp(a, "--json-file")) {
            if (i + 1 >= argc)
                return av_cli_usage(me, "%s needs a value", a);
            *(!strcmp(a, "--images") ? &images : &json_file) = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return av_cli_usage(me, "unknown option '%s'", a);
        } else if (manifest) {
            return av_cli_usage(me, "one MANIFEST only ('%s' and '%s')", manifest, a);
        } else {
            manifest = a;
        }
    }
    if (!manifest)
        return av_cli_usage(me, "no MANIFEST given");
    if (dopt.run.top_k < 5)
        fprintf(stderr, "aviary eval: --top %d: species top-5 counts only the first %d\n",
                dopt.run.top_k, dopt.run.top_k);

    char err[1024], dir[600];
    av_eval_set *set;
    if (av_eval_set_load(manifest, &set, err, sizeof err)) {
        fprintf(stderr, "aviary eval: %s\n", err);
        return 1;
    }
    if (images) {
        snprintf(dir, sizeof dir, "%s", images);
    } else {
        char mdir[512];
        dir_of(manifest, mdir, sizeof mdir);
        snprintf(dir, sizeof dir, "%s/images", mdir);
    }
    av_detect_open_opts oo = dopt.open;
    oo.threads = cfg->threads;
    oo.max_contexts = 1;
    oo.species_list = cfg->species_list;
    av_detect_pipeline *p;
    if (av_detect_pipeline_open(cfg->models_dir, &oo, &p, err, sizeof err)) {
        fprintf(stderr, "aviary eval: %s\n", err);
        av_eval_set_free(set);
        return 1;
    }
    if (!av_detect_pipeline_has_species(p) && !oo.no_species)
        fprintf(stderr, "aviary eval: %s\n", av_detect_pipeline_species_note(p));
    av_eval *ev = av_eval_new(set);
    if (!ev) {
        fprintf(stderr, "aviary eval: out of memory\n");
        av_detect_pipeline_close(p);
        av_eval_set_free(set);
        return 1;
    }
    av_detect_run_opts ro = dopt.run;
    ro.annotate = 0;
    ro.max_bytes = cfg->max_upload_bytes;
    ro.max_pixels = cfg->max_pixels;
    int failed = 0;
    char detector[200] = "", species[200] = "";
    for (int i = 0; i < set->n_rows; i++) {
        const av_eval_row *row = &set->rows[i];
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, row->file);
        unsigned char *buf;
        size_t len;
        av_detect_result r;
        err[0] = '\0';
        if (av_cli_read_file(path, cfg->max_upload_bytes, &buf, &len, err, sizeof err) == 0) {
            av_detect_status st = av_detect_run(p, buf, len, &ro, &r, err, sizeof err);
            free(buf);
            if (st == AV_DETECT_OK) {
                if (!detector[0]) {
                    snprintf(detector, sizeof detector, "%s (%s)", r.detector,
                             r.detector_version);
                    snprintf(species, sizeof species, "%s", r.classifier[0] ? r.classifier
                                                                            : "off");
                }
                av_eval_add(ev, i, &r);
                progress(i, set->n_rows, row, &r);
                av_detect_result_free(&r);
                continue;
            }
        }
        failed++;
        char msg[1300];
        snprintf(msg, sizeof msg, "%s: %s", path, err);
        av_eval_add_error(ev, i, msg);
        fprintf(stderr, "[%d/%d] %s: error: %s\n", i + 1, set->n_rows, row->file, err);
    }
    if (json || json_file) {
        json_t *o = av_eval_to_json(ev);
        if (o) {
            json_object_set_new(o, "manifest", json_string(manifest));
            json_object_set_new(o, "detector", json_string(detector));
            json_object_set_new(o, "species_model", json_string(species));
            json_object_set_new(o, "species_list", json_string(cfg->species_list));
        }
        char *s = o ? json_dumps(o, JSON_INDENT(1) | JSON_REAL_PRECISION(6)) : NULL;
        if (!s)
            fprintf(stderr, "aviary eval: out of memory for the JSON report\n");
        else if (json)
            puts(s);
        if (s && json_file) {
            FILE *f = fopen(json_file, "w");
            int bad = !f || fputs(s, f) < 0 || fputc('\n', f) < 0;
            if ((f && fclose(f)) || bad) {
                fprintf(stderr, "aviary eval: cannot write %s\n", json_file);
                failed++;
            }
        }
        free(s);
        json_decref(o);
        failed += !s;
    }
    if (!json) {
        char title[1400];
        snprintf(title, sizeof title, "aviary eval %s: detector %s, species model %s", manifest,
                 detector[0] ? detector : "-", species[0] ? species : "-");
        av_eval_print(ev, title, stdout);
    }
    av_eval_free(ev);
    av_detect_pipeline_close(p);
    av_eval_set_free(set);
    return failed ? 1 : 0;
}

const av_cli_cmd av_cli_eval = {
    .name = "eval",
    .summary = "accuracy on a labelled photo set: recall, counts, species top-1/top-5",
    .usage = "MANIFEST.csv [--images DIR] [--json] [--json-file F] [detect options]",
    .keys = eval_keys,
    .extra_help =
        "Runs the pipeline on every image of MANIFEST.csv (columns file, scientific_name,\n"
        "n_birds[, boxes]; the format of ../shared/eval/birds/manifest.csv) and prints bird\n"
        "recall, negatives clean, box count exact, box precision/recall at IoU 0.5 (rows with\n"
        "boxes), species top-1/top-5 of the best box (binomials; 'a;b' matches either;\n"
        "renamed species through a synonym table), what the user is shown, time per stage,\n"
        "a per-species table and the 20 most frequent confusions. Progress on stderr.\n"
        "options:\n"
        "  --images DIR    folder the file column is relative to (default: the manifest's\n"
        "                  folder/images)\n"
        "  --json          the report as one JSON object (with one entry per image)\n"
        "  --json-file F   also write that JSON to F (beside the table)\n"
        "detect options (as `aviary detect`):\n" AV_CLI_DETECT_OPTS_HELP
        "Exit 1 if any image failed (it counts as a miss); `make eval` runs the shared set.\n",
    .run = run_eval,
};
