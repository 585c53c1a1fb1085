/*
 * cmd_model_server.c - `aviary model-server`: the TensorFlow-Serving-
 * compatible REST model server (src/serving). Serves --models as version 1,
 * or watches --model-base-path for numeric version folders; stops cleanly
 * on SIGINT/SIGTERM.
 */
#include "cli/cli.h"

#include "log/log.h"
#include "serving/serving.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>

static const char *const model_server_keys[] = {
    "port", "listen", "models", "model-name", "model-base-path", "threads", "workers",
    "max-upload-mb", "max-megapixels", "log-level", "log-format", NULL,
};

static int run_model_server(const av_config *cfg, int argc, char **argv)
{
    if (argc > 0)
        return av_cli_usage(&av_cli_model_server, "unexpected argument '%s'", argv[0]);

    /* Block the stop signals before any thread starts, so every thread
     * inherits the mask and only sigwait() below sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    av_serving_opts o = {.listen = cfg->listen, .port = cfg->port, .workers = cfg->workers,
                         .threads = cfg->threads, .model_name = cfg->model_name,
                         .models_dir = cfg->models_dir, .base_path = cfg->model_base_path,
                         .max_upload_bytes = cfg->max_upload_bytes,
                         .max_pixels = cfg->max_pixels};
    av_serving *s = NULL;
    char err[640];
    if (av_serving_start(&o, &s, err, sizeof err) != AV_SERVING_OK) {
        av_log(AV_LOG_ERROR, "start_failed", "error", err, NULL);
        return 1;
    }
    char port[16], version[32];
    snprintf(port, sizeof port, "%d", av_serving_port(s));
    snprintf(version, sizeof version, "%lld", av_serving_live_version(s));
    av_log(AV_LOG_INFO, "listening", "role", "model-server", "addr", cfg->listen, "port", port,
           "model", cfg->model_name[0] ? cfg->model_name : AV_SERVING_DEFAULT_MODEL, "version",
           version, "base_path", cfg->model_base_path[0] ? cfg->model_base_path : NULL, NULL);

    int sig = 0;
    sigwait(&stop, &sig);
    av_log(AV_LOG_INFO, "stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    av_serving_stop(s);
    av_log(AV_LOG_INFO, "stopped", NULL);
    return 0;
}

const av_cli_cmd av_cli_model_server = {
    .name = "model-server",
    .summary = "serve models over the TensorFlow Serving REST API (port 8501)",
    .usage = "[--port 8501] [--model-name NAME] [--model-base-path DIR] [OPTIONS]",
    .keys = model_server_keys,
    .extra_help =
        "Without --model-base-path the pipeline in --models is served as version 1.\n"
        "With it, DIR/1, DIR/2, ... are versions (each a models folder, or holding\n"
        "one named models/); the newest loadable one is served and DIR is re-scanned\n"
        "every 2 s: a new version loads in the background and replaces the old one\n"
        "without failing requests in flight; a broken one leaves the old one serving\n"
        "and shows its error in the status. Add a version by copying it under another\n"
        "name and renaming it into place.\n"
        "\n"
        "endpoints (TF Serving REST):\n"
        "  GET  /v1/models/NAME[/versions/N]            model_version_status\n"
        "  GET  /v1/models/NAME[/versions/N]/metadata   signature_def\n"
        "  POST /v1/models/NAME[/versions/N]:predict    {\"instances\": [{\"b64\": ...}]}\n"
        "                                               or [{\"input_tensor\": HxWx3}]\n",
    .run = run_model_server,
};
