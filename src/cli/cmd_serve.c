/*
 * cmd_serve.c - `aviary serve`: the web application.
 */
#include "cli/cli.h"

#include "log/log.h"
#include "store/store.h"
#include "web/web.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *const serve_keys[] = {
    "port", "listen", "data", "db", "models", "model-url", "model-name", "threads", "workers",
    "max-upload-mb", "max-megapixels", "log-level", "log-format", NULL,
};

static int make_dir(const char *path)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST)
        return 0;
    av_logf(AV_LOG_ERROR, "data_dir", "cannot create %s: %s", path, strerror(errno));
    return -1;
}

static int run_serve(const av_config *cfg, int argc, char **argv)
{
    if (argc > 0)
        return av_cli_usage(&av_cli_serve, "unexpected argument '%s'", argv[0]);

    char sub[AV_CONFIG_PATH_MAX + 32];
    if (make_dir(cfg->data_dir))
        return 1;
    snprintf(sub, sizeof sub, "%s/originals", cfg->data_dir);
    if (make_dir(sub))
        return 1;
    snprintf(sub, sizeof sub, "%s/inferenced", cfg->data_dir);
    if (make_dir(sub))
        return 1;

    /* Block the stop signals before any thread starts, so every thread
     * inherits the mask and only sigwait() below sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    char db[1100], err[512];
    av_config_db_url(cfg, db, sizeof db);
    av_store *store = NULL;
    int schema = 0;
    if (av_store_open(db, &store, err, sizeof err) != AV_STORE_OK ||
        av_store_migrate(store, &schema, err, sizeof err) != AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "database_failed", "error", err, NULL);
        av_store_close(store);
        return 1;
    }
    static const char *const tracked[] = {"Erithacus rubecula", "Periparus ater", "Pica pica"};
    av_web_opts wo = {.listen = cfg->listen, .port = cfg->port, .workers = cfg->workers,
                      .role = "web", .store = store, .data_dir = cfg->data_dir,
                      .max_upload_bytes = cfg->max_upload_bytes, .analysis_workers = 1,
                      .queue_max = 64, .tracked = tracked, .n_tracked = 3};
    av_web *web = NULL;
    if (av_web_start(&wo, &web, err, sizeof err)) {
        av_log(AV_LOG_ERROR, "start_failed", "error", err, NULL);
        av_store_close(store);
        return 1;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", av_web_port(web));
    av_log(AV_LOG_INFO, "listening", "addr", cfg->listen, "port", port, "data", cfg->data_dir,
           "db", db, "version", AV_VERSION, NULL);

    int sig = 0;
    sigwait(&stop, &sig);
    av_log(AV_LOG_INFO, "stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    av_web_stop(web);
    av_store_close(store);
    av_log(AV_LOG_INFO, "stopped", NULL);
    return 0;
}

const av_cli_cmd av_cli_serve = {
    .name = "serve",
    .summary = "run the web application (upload, results, feedback, monitoring)",
    .usage = "[--port 8080] [--data DIR] [--db URL] [OPTIONS]",
    .keys = serve_keys,
    .run = run_serve,
};
