/*
 * cmd_serve.c - `aviary serve`: the web application.
 */
#include "cli/cli.h"

#include "camera/camera.h"
#include "detect/detect.h"
#include "serving/serving.h"
#include "log/log.h"
#include "store/store.h"
#include "train/train.h"
#include "web/web.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const serve_keys[] = {
    "port", "listen", "data", "db", "models", "model-url", "model-name", "threads", "workers",
    "max-upload-mb", "max-megapixels", "log-level", "log-format", "blob-store", "tracked",
    "max-video-mb", "max-video-seconds", "guest", "metrics-token", "metrics-token-file",
    "trusted-proxies", "species-list", "model-base-path", "retrain-auto",
    /* live cameras (config/cameras.c) */
    "camera", "camera.NAME.KEY", "camera-cpu-budget", "camera-node", "camera-lease-seconds",
    "camera-webhook", "camera-webhook-secret", "camera-notify-allow", "camera-notify-block",
    "camera-notify-first-of-day", "camera-notify-new-species", "camera-notify-min-score",
    "camera-notify-cooldown", "camera-mqtt", "camera-mqtt-prefix", "camera-mqtt-discovery",
    "camera-frigate-url", "camera-frigate-topic",
    "camera-retention-days", "camera-keep-best",
    /* connection limits (guard) */
    "max-conns", "max-conns-per-client", "header-timeout", "request-timeout", NULL,
};

_Static_assert((int)AV_CONFIG_GUEST_VIEW == (int)AV_WEB_GUEST_VIEW &&
                   (int)AV_CONFIG_GUEST_UPLOAD == (int)AV_WEB_GUEST_UPLOAD &&
                   (int)AV_CONFIG_GUEST_VOTE == (int)AV_WEB_GUEST_VOTE &&
                   (int)AV_CONFIG_GUEST_SET == (int)AV_WEB_GUEST_SET,
               "--guest bits are handed to the web module as they are");

/* The settings page's rows: name, value pairs, secrets left out. */
static void settings_rows(const av_config *cfg, const char *db_shown, int analysis_workers,
                          char (*vals)[1100], const char **rows)
{
    int i = 0, k = 0;
#define ROW(name, ...)                                                  \
    do {                                                                \
        snprintf(vals[k], sizeof vals[k], __VA_ARGS__);                 \
        rows[i++] = name;                                               \
        rows[i++] = vals[k++];                                          \
    } while (0)
    ROW("listen", "%s:%d", cfg->listen, cfg->port);
    ROW("data", "%s", cfg->data_dir);
    ROW("db", "%s", db_shown);
    ROW("blob-store", "%s", cfg->blob_store[0] ? cfg->blob_store : "(in the database)");
    ROW("models", "%s", cfg->models_dir);
    ROW("model-url", "%s", cfg->model_url[0] ? cfg->model_url : "(in-process)");
    ROW("model-name", "%s", cfg->model_name);
    ROW("threads", "%d", cfg->threads);
    ROW("workers", "%d HTTP, %d analysis", cfg->workers, analysis_workers);
    ROW("max-upload-mb", "%lld", cfg->max_upload_bytes / 1000000);
    ROW("max-megapixels", "%lld", cfg->max_pixels / 1000000);
    ROW("max-video-mb", "%lld", cfg->max_video_bytes / 1000000);
    ROW("max-video-seconds", "%d", cfg->max_video_seconds);
    ROW("tracked", "%s", cfg->tracked);
    ROW("species-list", "%s", cfg->species_list[0] ? cfg->species_list : "(every species)");
    ROW("metrics-token", "%s", cfg->metrics_token[0] ? "(set)" : "(none: /metrics is open)");
    ROW("trusted-proxies", "%s", cfg->trusted_proxies[0] ? cfg->trusted_proxies : "(none)");
    ROW("log-level", "%s", av_log_level_name(cfg->log_level));
    ROW("config", "%s", cfg->config_file[0] ? cfg->config_file : "(none)");
#undef ROW
    rows[i] = NULL;
}

/* Live cameras (issue 19): the configured ones, the notification rules,
 * retention; watched on the in-process pipeline (none: frames only). */
static int start_cameras(const av_config *cfg, av_store *store, av_detect_pipeline *pipe,
                         av_camera_node **out)
{
    char err[512];
    av_camera_conf *cams = NULL;
    int n = 0;
    if (av_camera_conf_parse(cfg->cameras, &cams, &n, err, sizeof err)) {
        av_log(AV_LOG_ERROR, "camera_config_invalid", "error", err, NULL);
        return -1;
    }
    av_camera_notify_conf nc = {.first_of_day = cfg->camera_notify_first_of_day,
                                .new_for_site = cfg->camera_notify_new_species,
                                .min_score = cfg->camera_notify_min_score,
                                .cooldown_s = cfg->camera_notify_cooldown_s, .retries = 3,
                                .mqtt_discovery = cfg->camera_mqtt_discovery};
    snprintf(nc.mqtt_url, sizeof nc.mqtt_url, "%s", cfg->camera_mqtt);
    snprintf(nc.mqtt_prefix, sizeof nc.mqtt_prefix, "%s", cfg->camera_mqtt_prefix);
    snprintf(nc.webhook_url, sizeof nc.webhook_url, "%s", cfg->camera_webhook);
    snprintf(nc.webhook_secret, sizeof nc.webhook_secret, "%s", cfg->camera_webhook_secret);
    snprintf(nc.allow, sizeof nc.allow, "%s", cfg->camera_notify_allow);
    snprintf(nc.block, sizeof nc.block, "%s", cfg->camera_notify_block);
    av_camera_node_opts o = {.store = store, .pipe = pipe, .cams = cams, .n_cams = n,
                             .notify = &nc, .node_id = cfg->camera_node,
                             .cpu_budget = cfg->camera_cpu_budget,
                             .lease_ms = cfg->camera_lease_s * 1000,
                             .max_pixels = cfg->max_pixels, .max_bytes = cfg->max_upload_bytes,
                             .frigate_url = cfg->camera_frigate_url,
                             .frigate_topic = cfg->camera_frigate_topic,
                             .retention_days = cfg->camera_retention_days,
                             .keep_best = cfg->camera_keep_best};
    if (cfg->camera_frigate_url[0] && !cfg->camera_mqtt[0]) {
        av_log(AV_LOG_ERROR, "camera_config_invalid", "error",
               "--camera-frigate-url needs --camera-mqtt: Frigate's events come over MQTT", NULL);
        free(cams);
        return -1;
    }
    if (n && !pipe)
        av_log(AV_LOG_WARN, "cameras_without_models", "note",
               "no models here: camera frames are shown, not analysed", NULL);
    int rc = av_camera_node_start(&o, out, err, sizeof err);
    free(cams);
    if (rc)
        av_log(AV_LOG_ERROR, "cameras_failed", "error", err, NULL);
    return rc;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST)
        return 0;
    av_logf(AV_LOG_ERROR, "data_dir", "cannot create %s: %s", path, strerror(errno));
    return -1;
}

/* The in-process analyzer: the detection pipeline behind the web module's
 * callback. Without models it explains how to get them. */
typedef struct analyzer {
    av_detect_pipeline *pipe;
    av_detect_current *cur;    /* photos: pipe, or a version loaded since (NULL: pipe) */
    av_serving_client *client; /* --model-url: remote inference instead of pipe */
    const av_config *cfg;
    char unavailable[640];
} analyzer;

/* Videos run on the in-process pipeline only, also on a web node with
 * --model-url (which then loads the models for videos when it has them):
 * the TF Serving protocol has no video call, and sending every sampled
 * frame would cost more than it saves. ud is the pipeline. */
static av_video_status analyze_video(void *ud, const void *bytes, size_t len,
                                     const av_video_opts *opts, av_video_result *r, char *err,
                                     size_t errlen)
{
    return av_video_run(ud, bytes, len, opts, r, err, errlen);
}

/* The review queue's site list check (ud is the pipeline). */
static int on_site_list(void *ud, const char *scientific)
{
    return av_detect_pipeline_on_site_list(ud, scientific);
}

/* /metrics: what each detector pass did since start (ud is the pipeline). */
static size_t pass_metrics(void *ud, char *buf, size_t cap)
{
    av_detect_pass_totals t[AV_DETECT_PASS_N];
    av_detect_pipeline_pass_totals(ud, t);
    static const char *const what[4][2] = {
        {"images", "Images a detector pass ran on."},
        {"detector_runs", "Detector runs made by a pass."},
        {"boxes", "Boxes a pass added (zoom_out, tiles) or removed (nested)."},
        {"seconds", "Time spent in a pass."}};
    size_t len = 0;
    for (int k = 0; k < 4 && len < cap; k++) {
        len += (size_t)snprintf(buf + len, cap - len,
                                "# HELP aviary_detect_pass_%s_total %s\n"
                                "# TYPE aviary_detect_pass_%s_total counter\n",
                                what[k][0], what[k][1], what[k][0]);
        for (int i = 0; i < AV_DETECT_PASS_N && len < cap; i++) {
            double v = k == 0 ? (double)t[i].ran : k == 1 ? (double)t[i].runs
                                               : k == 2 ? (double)t[i].boxes : t[i].ms / 1e3;
            len += (size_t)snprintf(buf + len, cap - len,
                                    k == 3 ? "aviary_detect_pass_%s_total{pass=\"%s\"} %.6f\n"
                                           : "aviary_detect_pass_%s_total{pass=\"%s\"} %.0f\n",
                                    what[k][0], av_detect_pass_name(i), v);
        }
    }
    return len < cap ? len : cap; /* cap: truncated, dropped by the caller */
}

static av_web_analysis_status analyze(void *ud, const void *bytes, size_t len,
                                      av_web_analysis *out, char *err, size_t errlen)
{
    analyzer *a = ud;
    if (!a->pipe && !a->client) {
        snprintf(err, errlen, "%s", a->unavailable);
        return AV_WEB_ANALYSIS_E_FAILED;
    }
    /* top_k: the guesses a review offers first (av_store_detection.guesses) */
    av_detect_run_opts ro = {.annotate = 1, .max_bytes = a->cfg->max_upload_bytes,
                             .max_pixels = a->cfg->max_pixels, .top_k = AV_STORE_MAX_GUESSES};
    av_serving_client_run_opts co = {.annotate = 1, .max_bytes = ro.max_bytes,
                                     .max_pixels = ro.max_pixels};
    av_detect_result r;
    if (a->client) {
        char e[512];
        av_serving_status cs = av_serving_client_predict(a->client, bytes, len, &co, &r, e,
                                                         sizeof e);
        if (cs == AV_SERVING_E_TRANSPORT || cs == AV_SERVING_E_HTTP) {
            snprintf(err, errlen, "the model server could not be used (%s)", e);
            return AV_WEB_ANALYSIS_E_RETRY; /* kept pending, retried with backoff */
        }
        if (cs != AV_SERVING_OK) {
            snprintf(err, errlen, "%s", e);
            return AV_WEB_ANALYSIS_E_FAILED;
        }
    } else {
        av_detect_pipeline *p = a->cur ? av_detect_current_acquire(a->cur) : a->pipe;
        av_detect_status ds = av_detect_run(p, bytes, len, &ro, &r, err, errlen);
        if (a->cur)
            av_detect_current_release(a->cur, p);
        if (ds != AV_DETECT_OK)
            return AV_WEB_ANALYSIS_E_FAILED;
    }
    int bad = av_web_analysis_from_result(&r, out);
    av_detect_result_free(&r);
    if (bad) {
        snprintf(err, errlen, "out of memory");
        return AV_WEB_ANALYSIS_E_FAILED;
    }
    return AV_WEB_ANALYSIS_OK;
}

/* Re-draw an annotated image from stored detections, with the label the
 * pipeline drew (av_web_load_detection) so every node serves the same
 * picture. Needs no model. */
static int render(void *ud, const void *bytes, size_t len, const av_store_detection *dets, int n,
                  av_web_analysis *out, char *err, size_t errlen)
{
    const analyzer *a = ud;
    av_detect_det *d = n > 0 ? calloc((size_t)n, sizeof *d) : NULL;
    if (n > 0 && !d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++)
        av_web_load_detection(&dets[i], &d[i]);
    unsigned char *img = NULL;
    size_t img_len = 0;
    char mime[16];
    av_detect_status st = av_detect_annotate(bytes, len, d, n, a->cfg->max_upload_bytes,
                                             a->cfg->max_pixels, &img, &img_len, mime,
                                             sizeof mime, err, errlen);
    free(d);
    if (st != AV_DETECT_OK)
        return -1;
    out->annotated = img; /* ownership moves to the web module */
    out->annotated_len = img_len;
    snprintf(out->annotated_ext, sizeof out->annotated_ext, "%s",
             strcmp(mime, "image/png") ? "jpg" : "png");
    return 0;
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
    /* A MySQL pool as large as the threads that use it: HTTP workers plus the
     * analysis workers (at most two per core, below), unless the URL sets
     * pool= itself. */
    if (!strncmp(db, "mysql://", 8) && !strstr(db, "pool=")) {
        int n = cfg->workers + 2 * (int)(sysconf(_SC_NPROCESSORS_ONLN) > 0
                                             ? sysconf(_SC_NPROCESSORS_ONLN) : 1);
        size_t l = strlen(db);
        snprintf(db + l, sizeof db - l, "%spool=%d", strchr(db, '?') ? "&" : "?",
                 n < 1 ? 1 : n > 64 ? 64 : n);
    }
    av_store *store = NULL;
    int schema = 0;
    if (av_store_open(db, &store, err, sizeof err) != AV_STORE_OK ||
        av_store_migrate(store, &schema, err, sizeof err) != AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "database_failed", "error", err, NULL);
        av_store_close(store);
        return 1;
    }
    if (cfg->blob_store[0] && /* image files instead of DB blobs */
        av_store_set_blob_store(store, cfg->blob_store, 0, err, sizeof err) != AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "blob_store_failed", "error", err, NULL);
        av_store_close(store);
        return 1;
    }
    /* Analysis workers sized to the cores: each in-process run uses --threads
     * engine threads, so cores / threads of them fill the machine without
     * oversubscribing it; remote runs mostly wait on the model servers, so
     * two per core keep them busy. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cfg->threads > 0 ? cfg->threads : 1;
    int n_workers = cfg->model_url[0] ? (int)(2 * (cores > 0 ? cores : 1))
                                      : (int)((cores > 0 ? cores : 1) / threads);
    n_workers = n_workers < 1 ? 1 : n_workers > 32 ? 32 : n_workers;
    analyzer an = {.cfg = cfg};
    av_detect_open_opts oo = {.threads = cfg->threads, .max_contexts = n_workers,
                              .species_list = cfg->species_list};
    if (cfg->model_url[0]) {
        av_serving_client_opts co = {.url = cfg->model_url, .model_name = cfg->model_name};
        if (av_serving_client_open(&co, &an.client, err, sizeof err) != AV_SERVING_OK) {
            av_log(AV_LOG_ERROR, "model_url_invalid", "error", err, NULL);
            av_store_close(store);
            return 1;
        }
        av_log(AV_LOG_INFO, "remote_inference", "url", av_serving_client_url(an.client), NULL);
        if (cfg->species_list[0])
            av_log(AV_LOG_WARN, "species_list_local_only", "species_list", cfg->species_list,
                   "effect", "applies to videos analysed here; photos are named by the model "
                   "server, which needs its own --species-list", NULL);
        /* photos go to the model servers; videos need the models here */
        if (av_detect_pipeline_open(cfg->models_dir, &oo, &an.pipe, err, sizeof err) ==
            AV_DETECT_OK)
            av_log(AV_LOG_INFO, "videos_in_process", "models", cfg->models_dir, NULL);
        else
            av_log(AV_LOG_WARN, "videos_unavailable", "reason",
                   "no models here for videos; video uploads are refused", "error", err, NULL);
    } else if (av_detect_pipeline_open(cfg->models_dir, &oo, &an.pipe, err, sizeof err) !=
        AV_DETECT_OK) {
        /* First start without models: the log and the upload page (as the
         * species note) say where they were looked for and how to get them. */
        char hint[sizeof an.unavailable - 64];
        av_config_models_hint(cfg, hint, sizeof hint);
        snprintf(an.unavailable, sizeof an.unavailable, "No models are installed, so photos "
                 "cannot be analysed yet: %s.", hint);
        av_log(AV_LOG_ERROR, "models_unavailable", "models", cfg->models_dir, "error", err,
               "next", hint, NULL);
    } else if (!av_detect_pipeline_has_species(an.pipe)) {
        av_log(AV_LOG_WARN, "species_unavailable", "note",
               av_detect_pipeline_species_note(an.pipe), NULL);
    }
    /* tracked classes (--tracked), each with the species manifest's baseline */
    static char names[AV_CONFIG_MAX_TRACKED][128];
    const char *tracked[AV_CONFIG_MAX_TRACKED];
    double baselines[AV_CONFIG_MAX_TRACKED];
    int n_tracked = av_config_tracked(cfg, names, AV_CONFIG_MAX_TRACKED, err, sizeof err);
    if (n_tracked < 0) {
        av_log(AV_LOG_ERROR, "tracked_invalid", "error", err, NULL);
        av_detect_pipeline_close(an.pipe);
        av_serving_client_close(an.client);
        av_store_close(store);
        return 1;
    }
    double baseline = an.pipe ? av_detect_pipeline_species_baseline(an.pipe) : -1.0;
    for (int i = 0; i < n_tracked; i++) {
        tracked[i] = names[i];
        baselines[i] = baseline >= 0 ? baseline : NAN;
    }
    char det_name[96] = "not installed"; /* the monitor page's detector line */
    if (an.pipe)
        snprintf(det_name, sizeof det_name, "%.60s (COCO), bird class",
                 av_detect_pipeline_detector(an.pipe));
    av_web_opts wo = {.listen = cfg->listen, .port = cfg->port, .workers = cfg->workers,
                      .role = "web", .store = store, .data_dir = cfg->data_dir,
                      .max_upload_bytes = cfg->max_upload_bytes, .analyze = analyze,
                      .analyze_ud = &an, .render = render, .render_ud = &an,
                      .analysis_workers = n_workers, .queue_max = 64,
                      .tracked = tracked, .n_tracked = n_tracked, .baselines = baselines,
                      .detector_name = an.client ? "remote model server (--model-url)"
                                                 : det_name,
                      .species_name = an.pipe && av_detect_pipeline_has_species(an.pipe)
                                          ? "MobileNetV2 iNaturalist 2017 birds (964 species)"
                                          : NULL,
                      .species_note = an.pipe && !av_detect_pipeline_has_species(an.pipe)
                                          ? av_detect_pipeline_species_note(an.pipe)
                                      : !an.pipe && !an.client ? an.unavailable
                                                               : NULL,
                      /* without an in-process pipeline, video uploads are refused */
                      .analyze_video = an.pipe ? analyze_video : NULL,
                      .analyze_video_ud = an.pipe, .max_video_bytes = cfg->max_video_bytes,
                      .max_video_seconds = cfg->max_video_seconds,
                      .max_pixels = cfg->max_pixels,
                      .extra_metrics = an.pipe ? pass_metrics : NULL,
                      .extra_metrics_ud = an.pipe, .guard = av_cli_guard_opts(cfg)};
    char owner_cmd[1300], db_shown[1100];
    av_store_redact_url(db, db_shown, sizeof db_shown);
    static char setting_vals[24][1100];
    static const char *settings[2 * 24 + 1];
    av_cli_owner_command(cfg, owner_cmd, sizeof owner_cmd);
    settings_rows(cfg, db_shown, n_workers, setting_vals, settings);
    /* the review queue's site list: the one the pipeline loaded */
    wo.on_site_list = an.pipe ? on_site_list : NULL;
    wo.site_list_ud = an.pipe;
    wo.guest = cfg->guest;
    wo.metrics_token = cfg->metrics_token;
    wo.trusted_proxies = cfg->trusted_proxies;
    wo.owner_hint = owner_cmd;
    wo.settings = settings;
    /* "Retrain now" on /monitor writes versions where the model server reads them */
    static char retrain_db[1100];
    av_config_db_url(cfg, retrain_db, sizeof retrain_db);
    wo.retrain_db_url = retrain_db;
    wo.retrain_models_dir = cfg->models_dir;
    wo.retrain_out_dir = cfg->model_base_path[0] ? cfg->model_base_path : NULL;
    wo.retrain_auto = cfg->retrain_auto;
    /* The species a review may choose: the installed species model's labels. */
    static char labels_path[1200];
    snprintf(labels_path, sizeof labels_path, "%s/inat_bird/inat_bird_labels.txt",
             cfg->models_dir);
    if (access(labels_path, R_OK) == 0)
        wo.species_labels = labels_path;
    int64_t owners = 0;
    if (av_store_owner_count(store, &owners, err, sizeof err) == AV_STORE_OK && owners == 0)
        av_log(AV_LOG_WARN, "no_owner", "note",
               "no owner account: nobody can sign in, delete uploads or see the settings",
               "next", owner_cmd, NULL);
    av_camera_node *cams = NULL;
    if (start_cameras(cfg, store, an.pipe, &cams)) {
        av_detect_pipeline_close(an.pipe);
        av_serving_client_close(an.client);
        av_store_close(store);
        return 1;
    }
    wo.cameras = cams;
    av_web *web = NULL;
    /* In-process photos follow the model server's base path: a version
     * promoted there (Retrain now, train species, model promote) is loaded
     * and swapped in; videos and cameras keep the models they started with. */
    av_train_watch *watch = NULL;
    if (an.pipe && !an.client && cfg->model_base_path[0]) {
        if (av_detect_current_new(an.pipe, &an.cur) ||
            av_train_watch_start(cfg->model_base_path, &oo, an.cur, 2000, &watch, err,
                                 sizeof err) != AV_TRAIN_OK) {
            av_log(AV_LOG_WARN, "models_watch_unavailable", "error",
                   an.cur ? err : "out of memory", NULL);
            av_detect_current_free(an.cur);
            an.cur = NULL;
        }
    }
    if (av_web_start(&wo, &web, err, sizeof err)) {
        av_log(AV_LOG_ERROR, "start_failed", "error", err, NULL);
        av_train_watch_stop(watch);
        av_detect_current_free(an.cur);
        av_camera_node_stop(cams);
        av_detect_pipeline_close(an.pipe);
        av_serving_client_close(an.client);
        av_store_close(store);
        return 1;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", av_web_port(web));
    /* ML Metadata: the loaded model versions (once each) and this run. */
    int64_t mlmd_run = 0;
    if (an.pipe) {
        char host[128] = "localhost", dep[200];
        gethostname(host, sizeof host - 1);
        snprintf(dep, sizeof dep, "serve@%s:%s", host, port);
        int n_models = 0;
        if (av_store_mlmd_register_manifests(store, cfg->models_dir, dep, &n_models, &mlmd_run, err,
                                             sizeof err) != AV_STORE_OK)
            av_log(AV_LOG_WARN, "mlmd_failed", "error", err, NULL);
    }
    av_log(AV_LOG_INFO, "listening", "addr", cfg->listen, "port", port, "data", cfg->data_dir,
           "db", db_shown, "version", AV_VERSION, NULL);

    int sig = 0;
    sigwait(&stop, &sig);
    av_log(AV_LOG_INFO, "stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    av_web_stop(web);
    av_camera_node_stop(cams); /* after the pages that read it; stores open visits */
    av_train_watch_stop(watch);
    av_detect_current_free(an.cur); /* the versions it loaded; an.pipe stays ours */
    if (mlmd_run > 0)
        av_store_mlmd_execution_end(store, mlmd_run, 1, err, sizeof err);
    av_detect_pipeline_close(an.pipe);
    av_serving_client_close(an.client);
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
