/*
 * cmd_detect.c - `aviary detect` and `aviary classify` (command line).
 */
#include "cli/cli.h"

static const char *const detect_keys[] = {"models", "threads", "max-megapixels", "log-level",
                                          "log-format", NULL};

static int run_detect(const av_config *cfg, int argc, char **argv)
{
    (void)cfg, (void)argc, (void)argv;
    return av_cli_not_built(&av_cli_detect);
}

static int run_classify(const av_config *cfg, int argc, char **argv)
{
    (void)cfg, (void)argc, (void)argv;
    return av_cli_not_built(&av_cli_classify);
}

const av_cli_cmd av_cli_detect = {
    .name = "detect",
    .summary = "find birds and name their species in images; JSON lines out",
    .usage = "[--json] [--annotate OUT] [--min-score S] IMAGE...",
    .keys = detect_keys,
    .run = run_detect,
};

const av_cli_cmd av_cli_classify = {
    .name = "classify",
    .summary = "run an image classifier model on images; JSON per image",
    .usage = "--model M [--labels L] [--top K] IMAGE...",
    .keys = detect_keys,
    .extra_help = "options:\n"
                  "  --model M       model file (TFLite, TF.js model.json or ONNX)\n"
                  "  --labels L      label file, one per line\n"
                  "  --top K         how many classes to print (default 5)\n",
    .run = run_classify,
};
