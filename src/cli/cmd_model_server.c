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

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const model_server_keys[] = {
    "port", "listen", "models", "model-name", "model-base-path", "model-config-file",
    "threads", "workers", "batch-max", "batch-wait-ms", "batch-queue", "batch-threads",
    "max-upload-mb",
    "max-megapixels", "db", "log-level", "log-format", "metrics-token", "metrics-token-file",
    "species-list", NULL,
};

/*
 * With --db, ML Metadata records every model version this server loads:
 * each version once as an Artifact (shared with the web nodes'
 * registrations), each served model as a deployment Context with a RUNNING
 * Execution per live version. Versions hot-loaded later are seen by
 * mlmd_sync, called every few seconds from the main loop (the serving
 * module stays free of the store). Failures are logged, never fatal:
 * serving does not depend on the metadata store.
 */
typedef struct mlmd_model {
    char name[128];
    char base[512];  /* version folders, or "" */
    char fixed[512]; /* a models folder served as version 1, or "" */
    long long registered; /* live version recorded, 0 none */
    int64_t run;          /* its Execution */
} mlmd_model;

typedef struct mlmd_state {
    av_store *store;
    char shown[1100]; /* the URL without password, for logs */
    char dep[300];    /* deployment name prefix */
    int multi;        /* several models: one Context each, "dep/NAME" */
    int n;
    mlmd_model m[AV_SERVING_MAX_MODELS];
} mlmd_state;

static void mlmd_open(const av_config *cfg, const char *port, mlmd_state *st)
{
    memset(st, 0, sizeof *st);
    if (!cfg->db_url[0])
        return;
    char err[640], host[128] = "localhost";
    av_store_redact_url(cfg->db_url, st->shown, sizeof st->shown);
    gethostname(host, sizeof host - 1);
    snprintf(st->dep, sizeof st->dep, "model-server@%.120s:%s", host, port);
    if (cfg->model_config_file[0]) {
        av_serving_model_config mc[AV_SERVING_MAX_MODELS];
        int n = 0;
        if (av_serving_model_config_parse(cfg->model_config_file, mc, AV_SERVING_MAX_MODELS, &n,
                                          err, sizeof err)) {
            av_log(AV_LOG_WARN, "mlmd_failed", "error", err, NULL);
            return;
        }
        for (int i = 0; i < n; i++) {
            char pj[700];
            snprintf(pj, sizeof pj, "%s/pipeline.json", mc[i].base_path);
            snprintf(st->m[i].name, sizeof st->m[i].name, "%s", mc[i].name);
            if (!access(pj, F_OK))
                snprintf(st->m[i].fixed, sizeof st->m[i].fixed, "%s", mc[i].base_path);
            else
                snprintf(st->m[i].base, sizeof st->m[i].base, "%s", mc[i].base_path);
        }
        st->n = n;
        st->multi = 1;
    } else {
        snprintf(st->m[0].name, sizeof st->m[0].name, "%s",
                 cfg->model_name[0] ? cfg->model_name : AV_SERVING_DEFAULT_MODEL);
        if (cfg->model_base_path[0])
            snprintf(st->m[0].base, sizeof st->m[0].base, "%s", cfg->model_base_path);
        else
            snprintf(st->m[0].fixed, sizeof st->m[0].fixed, "%s", cfg->models_dir);
        st->n = 1;
    }
    if (av_store_open(cfg->db_url, &st->store, err, sizeof err) != AV_STORE_OK) {
        av_log(AV_LOG_WARN, "mlmd_failed", "db", st->shown, "error", err, NULL);
        st->store = NULL;
    }
}

/* Record each model's live version if it is not recorded yet. */
static void mlmd_sync(av_serving *s, mlmd_state *st)
{
    for (int i = 0; st->store && i < st->n; i++) {
        mlmd_model *m = &st->m[i];
        long long live = av_serving_live_version_of(s, m->name);
        if (live <= 0 || live == m->registered)
            continue;
        char dir[1200], dep[500], err[640];
        if (m->fixed[0]) {
            snprintf(dir, sizeof dir, "%s", m->fixed);
        } else { /* the version folder, or its models/ */
            snprintf(dir, sizeof dir, "%s/%lld/models", m->base, live);
            if (access(dir, F_OK))
                snprintf(dir, sizeof dir, "%s/%lld", m->base, live);
        }
        snprintf(dep, sizeof dep, "%s%s%s", st->dep, st->multi ? "/" : "",
                 st->multi ? m->name : "");
        if (m->run > 0) /* the previous version's run ends with its swap */
            av_store_mlmd_execution_end(st->store, m->run, 1, err, sizeof err);
        m->run = 0;
        int n = 0;
        if (av_store_mlmd_register_manifests(st->store, dir, dep, &n, &m->run, err, sizeof err) !=
            AV_STORE_OK) {
            av_log(AV_LOG_WARN, "mlmd_failed", "db", st->shown, "error", err, NULL);
            continue; /* tried again at the next sync */
        }
        m->registered = live;
        char nm[16], v[32];
        snprintf(nm, sizeof nm, "%d", n);
        snprintf(v, sizeof v, "%lld", live);
        av_log(AV_LOG_INFO, "mlmd_registered", "db", st->shown, "model", m->name, "version", v,
               "models", nm, "deployment", dep, NULL);
    }
}

static void mlmd_close(mlmd_state *st)
{
    char err[256];
    for (int i = 0; st->store && i < st->n; i++)
        if (st->m[i].run > 0)
            av_store_mlmd_execution_end(st->store, st->m[i].run, 1, err, sizeof err);
    av_store_close(st->store);
    st->store = NULL;
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
                         .batch_queue = cfg->batch_queue, .batch_threads = cfg->batch_threads,
                         .metrics_token = cfg->metrics_token,
                         .species_list = cfg->species_list};
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

    mlmd_state mlmd;
    mlmd_open(cfg, port, &mlmd);
    mlmd_sync(s, &mlmd);

    int sig = -1;
    while (sig < 0) { /* wake every 2 s to record hot-loaded versions */
        struct timespec tick = {2, 0};
        sig = sigtimedwait(&stop, NULL, &tick);
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            break;
        if (sig < 0)
            mlmd_sync(s, &mlmd);
    }
    av_log(AV_LOG_INFO, "stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    av_serving_stop(s);
    mlmd_close(&mlmd);
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
        "into batches of up to N images, each run by one of --batch-threads threads\n"
        "with one detector forward pass for up to 8 of its images and their bird\n"
        "crops in shared species runs (a detector that cannot batch, e.g. centernet,\n"
        "runs image by image, logged once); results equal unbatched runs. At most\n"
        "--batch-queue requests wait, more get 503 with Retry-After.\n"
        "With --db (the web nodes' database) every model version this server loads\n"
        "(hot-loaded ones within 2 s) is recorded in ML Metadata, registered once\n"
        "and shared with the web nodes. Serving works without it.\n"
        "\n"
        "endpoints (TF Serving REST):\n"
        "  GET  /v1/models/NAME[/versions/N]            model_version_status\n"
        "  GET  /v1/models/NAME[/versions/N]/metadata   signature_def\n"
        "  POST /v1/models/NAME[/versions/N]:predict    {\"instances\": [{\"b64\": ...}]}\n"
        "                                               or [{\"input_tensor\": HxWx3}]\n",
    .run = run_model_server,
};
