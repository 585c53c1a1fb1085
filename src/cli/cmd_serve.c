/*
 * cmd_serve.c - `aviary serve`: the web application.
 */
#include "cli/cli.h"

#include "detect/detect.h"
#include "serving/serving.h"
#include "log/log.h"
#include "store/store.h"
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
    "max-video-mb", "max-video-seconds", "species-list", NULL,
};

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

static int analyze(void *ud, const void *bytes, size_t len, av_web_analysis *out, char *err,
                   size_t errlen)
{
    analyzer *a = ud;
    if (!a->pipe && !a->client) {
        snprintf(err, errlen, "%s", a->unavailable);
        return -1;
    }
    av_detect_run_opts ro = {.annotate = 1, .max_bytes = a->cfg->max_upload_bytes,
                             .max_pixels = a->cfg->max_pixels};
    av_serving_client_run_opts co = {.annotate = 1, .max_bytes = ro.max_bytes,
                                     .max_pixels = ro.max_pixels};
    av_detect_result r;
    if (a->client) {
        char e[512];
        av_serving_status cs = av_serving_client_predict(a->client, bytes, len, &co, &r, e,
                                                         sizeof e);
        if (cs == AV_SERVING_E_TRANSPORT || cs == AV_SERVING_E_HTTP) {
            snprintf(err, errlen, "the model server could not be used (%s)", e);
            return 1; /* kept pending, retried with backoff */
        }
        if (cs != AV_SERVING_OK) {
            snprintf(err, errlen, "%s", e);
            return -1;
        }
    } else if (av_detect_run(a->pipe, bytes, len, &ro, &r, err, errlen) != AV_DETECT_OK) {
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->width = r.width;
    out->height = r.height;
    out->dets = r.n_dets ? calloc((size_t)r.n_dets, sizeof *out->dets) : NULL;
    if (r.n_dets && !out->dets) {
        av_detect_result_free(&r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char version[64];
    snprintf(version, sizeof version, "%.30s@%.30s", r.detector, r.detector_version);
    for (int i = 0; i < r.n_dets; i++)
        av_web_store_detection(&r.dets[i], version, &out->dets[i]);
    out->n_dets = r.n_dets;
    out->annotated = r.annotated; /* ownership moves to the web module */
    out->annotated_len = r.annotated_len;
    snprintf(out->annotated_ext, sizeof out->annotated_ext, "%s",
             strcmp(r.annotated_mime, "image/png") ? "jpg" : "png");
    r.annotated = NULL;
    av_detect_result_free(&r);
    return 0;
}

/* Re-draw an annotated image from stored detections, with the label the
 * pipeline drew (common name, else scientific, else "Bird"/detector class)
 * so every node serves the same picture. Needs no model. */
static int render(void *ud, const void *bytes, size_t len, const av_store_detection *dets, int n,
                  av_web_analysis *out, char *err, size_t errlen)
{
    const analyzer *a = ud;
    av_detect_det *d = n > 0 ? calloc((size_t)n, sizeof *d) : NULL;
    if (n > 0 && !d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const av_store_detection *s = &dets[i];
        d[i].x1 = (float)s->x1, d[i].y1 = (float)s->y1;
        d[i].x2 = (float)s->x2, d[i].y2 = (float)s->y2;
        d[i].confidence = (float)s->score;
        const char *label = s->common_name[0] ? s->common_name
                            : s->species[0]   ? s->species
                            : !s->label[0] || !strcmp(s->label, "bird") ? "Bird"
                                                                        : s->label;
        size_t l = strnlen(label, sizeof d[i].label - 1); /* names fit; cut, never overflow */
        memcpy(d[i].label, label, l);
        d[i].label[l] = '\0';
    }
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
        snprintf(an.unavailable, sizeof an.unavailable,
                 "no detector model is installed (%s); run scripts/setup to fetch the models",
                 err);
        av_log(AV_LOG_ERROR, "models_unavailable", "models", cfg->models_dir, "error", err,
               NULL);
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
                                          : NULL,
                      /* without an in-process pipeline, video uploads are refused */
                      .analyze_video = an.pipe ? analyze_video : NULL,
                      .analyze_video_ud = an.pipe, .max_video_bytes = cfg->max_video_bytes,
                      .max_video_seconds = cfg->max_video_seconds,
                      .max_pixels = cfg->max_pixels,
                      .extra_metrics = an.pipe ? pass_metrics : NULL,
                      .extra_metrics_ud = an.pipe};
    av_web *web = NULL;
    if (av_web_start(&wo, &web, err, sizeof err)) {
        av_log(AV_LOG_ERROR, "start_failed", "error", err, NULL);
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
    char db_shown[1100];
    av_store_redact_url(db, db_shown, sizeof db_shown);
    av_log(AV_LOG_INFO, "listening", "addr", cfg->listen, "port", port, "data", cfg->data_dir,
           "db", db_shown, "version", AV_VERSION, NULL);

    int sig = 0;
    sigwait(&stop, &sig);
    av_log(AV_LOG_INFO, "stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    av_web_stop(web);
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
