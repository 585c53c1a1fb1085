/*
 * cmd_model_server.c - `aviary model-server`: not built yet. Keeps its final
 * name, usage and settings so scripts and docs can rely on them; running it
 * says it is not built and exits 2.
 */
#include "cli/cli.h"

static const char *const model_server_keys[] = {
    "port", "listen", "models", "model-name", "model-base-path", "threads", "workers",
    "log-level", "log-format", NULL,
};

static int run_model_server(const av_config *cfg, int argc, char **argv)
{
    (void)cfg, (void)argc, (void)argv;
    return av_cli_not_built(&av_cli_model_server);
}

const av_cli_cmd av_cli_model_server = {
    .name = "model-server",
    .summary = "serve models over the TensorFlow Serving REST API (port 8501)",
    .usage = "[--port 8501] [--model-name NAME] [--model-base-path DIR] [OPTIONS]",
    .keys = model_server_keys,
    .run = run_model_server,
};
