/*
 * cmd_quantize.c - `aviary model quantize MODEL --calib DIR [--out FILE]`:
 * the int8 calibration table of a float detector (detect.h
 * av_detect_calibrate). MODEL is a manifest path or a name in --models.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int av_cli_model_quantize(const av_config *cfg, int argc, char **argv)
{
    const av_cli_cmd *me = &av_cli_model;
    const char *model = NULL, *calib = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--calib") && has)
            calib = argv[++i];
        else if (!strcmp(a, "--out") && has)
            out = argv[++i];
        else if (a[0] == '-')
            return av_cli_usage(me, "quantize: unknown option '%s' (or it lacks its value)", a);
        else if (!model)
            model = a;
        else
            return av_cli_usage(me, "quantize: unexpected argument '%s'", a);
    }
    if (!model || !calib)
        return av_cli_usage(me, "expected `quantize MODEL --calib DIR [--out FILE]`");
    char manifest[2048];
    size_t l = strlen(model);
    if (strchr(model, '/') || (l > 5 && !strcmp(model + l - 5, ".json")))
        snprintf(manifest, sizeof manifest, "%s", model);
    else
        snprintf(manifest, sizeof manifest, "%s/%s.json", cfg->models_dir, model);
    char err[1024], used[2048];
    int n = 0;
    if (av_detect_calibrate(manifest, calib, out, used, sizeof used, &n, err, sizeof err)) {
        fprintf(stderr, "aviary model quantize: %s\n", err);
        return 1;
    }
    printf("wrote %s: activation ranges of %s over %d photos from %s\n"
           "use it with \"precision\": \"int8\" in the manifest (\"calibration\" names the "
           "file when it is not the default)\n",
           used, manifest, n, calib);
    return 0;
}
