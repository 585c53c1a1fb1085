/*
 * t_nn_calib_tables.c - every committed int8 calibration table
 * (models/NAME.int8.calib) still applies to its model: the model the
 * manifest models/NAME.json names loads, and av_nn_model_quantize accepts
 * the table (every tensor name in it is in today's optimised graph) and
 * turns convolutions to int8. A pass that renames or fuses tensors makes a
 * table stale: "precision": "int8" would then refuse to load, so this
 * fails until the table is regenerated with `aviary model quantize NAME
 * --calib ../shared/eval/birds/images` (README, int8).
 */
#include "harness.h"

#include "nn/nn.h"

#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SUFFIX ".int8.calib"

/* Quantise the model of manifest models/<name>.json with table; *convs
 * receives the int8 count. False (skipped) when the model files are absent. */
static bool check_table(const char *name, const char *table, int *convs)
{
    char manifest[512], model[1024], err[512];
    snprintf(manifest, sizeof manifest, "models/%s.json", name);
    json_error_t je;
    json_t *root = json_load_file(manifest, 0, &je);
    CHECK_MSG(root, "%s: %s (a table without its manifest)", manifest, je.text);
    const char *file = json_string_value(json_object_get(root, "file"));
    CHECK_MSG(file, "%s: no \"file\"", manifest);
    snprintf(model, sizeof model, "models/%s", file);
    json_decref(root);
    if (access(model, R_OK) != 0) {
        printf("    %s: %s missing (run scripts/setup)\n", table, model);
        return false;
    }
    av_nn_model *m = NULL;
    CHECK_MSG(av_nn_load(model, &m, err, sizeof err) == AV_NN_OK, "%s: %s", model, err);
    av_nn_quant_report r = {0};
    av_nn_status st = av_nn_model_quantize(m, table, &r, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "%s is stale for %s: %s", table, model, err);
    printf("    %s: %d int8 convs, %d float, %d quantize/dequantize\n", table, r.quantised,
           r.kept_float, r.boundaries);
    *convs = r.quantised;
    av_nn_model_free(m);
    return true;
}

TEST(committed_tables_load_against_their_models)
{
    DIR *d = opendir("models");
    CHECK_MSG(d, "models/ not found (run from the repository root)");
    int tables = 0, checked = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name), ls = strlen(SUFFIX);
        if (l <= ls || strcmp(e->d_name + l - ls, SUFFIX))
            continue;
        char name[256], table[512];
        snprintf(name, sizeof name, "%.*s", (int)(l - ls), e->d_name);
        snprintf(table, sizeof table, "models/%s", e->d_name);
        tables++;
        int convs = 0;
        if (check_table(name, table, &convs)) {
            CHECK_MSG(convs > 0, "%s: no convolution became int8", table);
            checked++;
        }
    }
    closedir(d);
    /* the two detectors' tables are committed (README, int8) */
    CHECK_MSG(tables >= 2, "only %d tables in models/", tables);
    if (!checked)
        SKIP("models/human missing (run scripts/setup)");
}

TEST_MAIN(T(committed_tables_load_against_their_models))
