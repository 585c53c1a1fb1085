/*
 * detect_opts.c - the pipeline options `aviary detect` and `aviary eval`
 * share (detector, thresholds, species), parsed in one place so eval can
 * measure every design detect can run.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || end == s || *end || !(d >= lo && d <= hi))
        return -1;
    *out = d;
    return 0;
}

int av_cli_detect_option(const av_cli_cmd *me, int argc, char **argv, int *i,
                         av_cli_detect_opts *o, int *rc)
{
    const char *a = argv[*i];
    *rc = 0;
    if (!strcmp(a, "--all-classes")) {
        o->run.all_classes = 1;
        return 1;
    }
    if (!strcmp(a, "--no-species")) {
        o->open.no_species = 1;
        return 1;
    }
    if (strcmp(a, "--min-score") && strcmp(a, "--detector") && strcmp(a, "--top") &&
        strcmp(a, "--passes"))
        return 0;
    if (*i + 1 >= argc) {
        *rc = av_cli_usage(me, "%s needs a value", a);
        return 1;
    }
    const char *v = argv[++*i];
    double d;
    if (!strcmp(a, "--detector")) {
        o->open.detector = v;
    } else if (!strcmp(a, "--passes")) {
        char e[128];
        if (av_detect_passes_parse(v, &o->run.passes, e, sizeof e))
            *rc = av_cli_usage(me, "--passes: %s", e);
    } else if (!strcmp(a, "--min-score")) {
        if (parse_num(v, 0.001, 1.0, &d))
            *rc = av_cli_usage(me, "--min-score: '%s' is not a number in [0.001, 1]", v);
        o->run.min_score = d;
    } else {
        if (parse_num(v, 1, AV_DETECT_TOPK_MAX, &d))
            *rc = av_cli_usage(me, "--top: '%s' is not in 1..%d", v, AV_DETECT_TOPK_MAX);
        o->run.top_k = (int)d;
    }
    return 1;
}
