/*
 * cmd_model_server.c - `aviary model-server`: the TensorFlow-Serving-
 * compatible REST model server (src/serving). Serves --models as version 1,
 * or watches --model-base-path for numeric version folders, or serves every
 * model of --model-config-file; optional dynamic batching (--batch-max);
 * stops cleanly on SIGINT/SIGTERM.
 */
#include "cli/cli.h"

#include "log/log.h"
#include "serving/serving.h"
#include "store/store.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static const char *const model_server_keys[] = {
    "port", "listen", "models", "model-name", "model-base-path", "model-config-file",
    "threads", "workers", "batch-max", "batch-wait-ms", "batch-queue", "batch-threads",
    "max-upload-mb",
    "max-megapixels", "db", "log-level", "log-format", NULL,
};

/*
 * With --db, record in ML Metadata the models this server loaded (each
 * version once, shared with the web nodes' registrations) and this
 * deployment as a Context with a RUNNING Execution; *store and *run are
 * kept to end the run at shutdown. Failure is logged, never fatal: serving
 * does not depend on the metadata store.
 */
static void mlmd_register(const av_config *cfg, av_serving *s, const char *port,
                          av_store **store, int64_t *run)
{
    *store = NULL;
    *run = 0;
    if (!cfg->db_url[0])
        return;
    if (cfg->model_config_file[0]) {
        /* The registration below records one models folder; with several
         * models it would name only one of them, so say so instead. */
        av_log(AV_LOG_WARN, "mlmd_skipped", "reason",
               "--db registration is not done with --model-config-file yet", NULL);
        return;
    }
    char err[640], shown[1100], dir[1200], host[128] = "localhost", dep[300];
    av_store_redact_url(cfg->db_url, shown, sizeof shown);
    if (av_store_open(cfg->db_url, store, err, sizeof err) != AV_STORE_OK) {
        av_log(AV_LOG_WARN, "mlmd_failed", "db", shown, "error", err, NULL);
        *store = NULL;
        return;
    }
    if (cfg->model_base_path[0]) { /* version folder, or its models/ */
        snprintf(dir, sizeof dir, "%s/%lld/models", cfg->model_base_path,
                 av_serving_live_version(s));
        if (access(dir, F_OK))
            snprintf(dir, sizeof dir, "%s/%lld", cfg->model_base_path,
                     av_serving_live_version(s));
    } else
        snprintf(dir, sizeof dir, "%s", cfg->models_dir);
    gethostname(host, sizeof host - 1);
    snprintf(dep, sizeof dep, "model-server@%s:%s", host, port);
    int n = 0;
    if (av_store_mlmd_register_manifests(*store, dir, dep, &n, run, err, sizeof err) !=
        AV_STORE_OK) {
        av_log(AV_LOG_WARN, "mlmd_failed", "db", shown, "error", err, NULL);
        return;
    }
    char nm[16];
    snprintf(nm, sizeof nm, "%d", n);
    av_log(AV_LOG_INFO, "mlmd_registered", "db", shown, "models", nm, "deployment", dep, NULL);
}

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
                         .max_pixels = cfg->max_pixels,
                         .model_config_file = cfg->model_config_file,
                         .batch_max = cfg->batch_max, .batch_wait_ms = cfg->batch_wait_ms,
                         .batch_queue = cfg->batch_queue, .batch_threads = cfg->batch_threads};
    av_serving *s = NULL;
    char err[640];
    if (av_serving_start(&o, &s, err, sizeof err) != AV_SERVING_OK) {
        av_log(AV_LOG_ERROR, "start_failed", "error", err, NULL);
        return 1;
    }
    char port[16], version[32], batch[64] = "off";
    snprintf(port, sizeof port, "%d", av_serving_port(s));
    snprintf(version, sizeof version, "%lld", av_serving_live_version(s));
    if (cfg->batch_max > 1)
        snprintf(batch, sizeof batch, "max=%d,wait_ms=%d,queue=%d,threads=%d", cfg->batch_max,
                 cfg->batch_wait_ms, cfg->batch_queue, cfg->batch_threads);
    if (cfg->model_config_file[0])
        av_log(AV_LOG_INFO, "listening", "role", "model-server", "addr", cfg->listen, "port",
               port, "model_config_file", cfg->model_config_file, "batching", batch, NULL);
    else
        av_log(AV_LOG_INFO, "listening", "role", "model-server", "addr", cfg->listen, "port",
               port, "model", cfg->model_name[0] ? cfg->model_name : AV_SERVING_DEFAULT_MODEL,
               "version", version, "base_path",
               cfg->model_base_path[0] ? cfg->model_base_path : NULL, "batching", batch, NULL);

    av_store *store = NULL;
    int64_t run = 0;
    mlmd_register(cfg, s, port, &store, &run);

    int sig = 0;
    sigwait(&stop, &sig);
    av_log(AV_LOG_INFO, "stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    av_serving_stop(s);
    if (run > 0)
        av_store_mlmd_execution_end(store, run, 1, err, sizeof err);
    av_store_close(store);
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
        "--model-config-file FILE serves several models, each under its own name\n"
        "with its own versions (TF Serving's text format):\n"
        "  model_config_list {\n"
        "    config { name: \"birds\"  base_path: \"/srv/birds\" }\n"
        "    config { name: \"robins\" base_path: \"/srv/robins\" model_platform: \"tensorflow\" }\n"
        "  }\n"
        "(a base_path holding pipeline.json is served as version 1).\n"
        "--batch-max N (> 1) groups predict requests arriving within --batch-wait-ms\n"
        "into batches of up to N images, each run back to back on one engine context\n"
        "by one of --batch-threads threads (the forward pass is not shared: the\n"
        "graphs are planned for batch 1, so results equal unbatched runs); at most\n"
        "--batch-queue requests wait, more get 503 with Retry-After.\n"
        "With --db (the web nodes' database) the loaded models and this server are\n"
        "recorded in ML Metadata (versions registered once, shared with the web\n"
        "nodes; the version live at start-up). Serving works without it.\n"
        "\n"
        "endpoints (TF Serving REST):\n"
        "  GET  /v1/models/NAME[/versions/N]            model_version_status\n"
        "  GET  /v1/models/NAME[/versions/N]/metadata   signature_def\n"
        "  POST /v1/models/NAME[/versions/N]:predict    {\"instances\": [{\"b64\": ...}]}\n"
        "                                               or [{\"input_tensor\": HxWx3}]\n",
    .run = run_model_server,
};
