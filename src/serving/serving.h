/*
 * serving.h - the TensorFlow Serving REST protocol, both sides.
 *
 * Server (av_serving_start): a libmicrohttpd daemon answering the TF Serving
 * grammar (../shared/docs/specs/tfserving-rest.md) for one model name, or
 * for every model of a model config file (av_serving_model_config_parse):
 *   GET  /v1/models/NAME[/versions/N]            model_version_status
 *   GET  /v1/models/NAME[/versions/N]/metadata   signature_def
 *   POST /v1/models/NAME[/versions/N]:predict    detections per image
 * Every answer under /v1/ is JSON ({"error": "..."} on failure, with TF's
 * HTTP status for the error); any other path is a plain 404. The model is
 * the detection + species pipeline (detect.h): either one models folder
 * served as version 1, or a base path of numeric version folders watched
 * by a background thread that loads a newer version and swaps it in while
 * requests in flight finish on the version they started with.
 *
 * Dynamic batching (batch_max > 1, off by default): predict requests that
 * arrive within batch_wait_ms of the first waiting one are grouped, up to
 * batch_max images, and run by one of batch_threads batch threads per model
 * through av_detect_run_batch: one detector forward pass for up to 8 of the
 * batch's images (on an engine context re-planned for that batch) and their
 * bird crops in shared species runs; a detector the engine cannot batch
 * (CenterNet) runs image by image. Results equal unbatched runs. Images are
 * decoded by the HTTP workers, in parallel, before they queue (within
 * max_pixels per worker of decoded pixels queued; past that the batch
 * thread decodes them). At most batch_queue requests wait; one more is
 * answered 503 with Retry-After.
 *
 * Client (av_serving_client_*): a libcurl client that posts encoded image
 * bytes ({"instances": [{"b64": ...}]}) to any TF-Serving-compatible
 * :predict endpoint and turns the TF Object Detection API answer back into
 * an av_detect_result.
 *
 * Class ids in detection_classes (TF OD API convention, ids start at 1,
 * printed as floats): 1, 2, 3 when the top species of the box is a tracked
 * species (by default the original's Erithacus rubecula, Periparus ater,
 * Pica pica, in that order); otherwise the COCO label-map id of the
 * detector class (16 for bird).
 *
 * Errors: fallible calls return an av_serving_status and write a message
 * into err (when non-NULL). Nothing here exits or aborts.
 */
#ifndef AV_SERVING_H
#define AV_SERVING_H

#include <stddef.h>

#include "detect/detect.h"

#define AV_SERVING_STATUS_MAP(X)                              \
    X(OK, 0, "ok")                                            \
    X(E_ARG, 1, "invalid argument")                           \
    X(E_NOMEM, 2, "out of memory")                            \
    X(E_LISTEN, 3, "cannot listen")                           \
    X(E_MODEL, 4, "model cannot be loaded")                   \
    X(E_TRANSPORT, 5, "model server unreachable")             \
    X(E_HTTP, 6, "model server answered with an error")       \
    X(E_PROTOCOL, 7, "model server answer not understood")    \
    X(E_IMAGE, 8, "image cannot be decoded")

typedef enum av_serving_status {
#define X(name, num, msg) AV_SERVING_##name = num,
    AV_SERVING_STATUS_MAP(X)
#undef X
} av_serving_status;

/* Static string for a status; never NULL. */
const char *av_serving_strerror(av_serving_status st);

#define AV_SERVING_DEFAULT_MODEL "birdsClassifier"
#define AV_SERVING_MAX_INSTANCES 64 /* images in one predict request */

/* ------------------------------------------------------------- server */

typedef struct av_serving_opts {
    const char *listen;         /* IPv4 address; NULL = 0.0.0.0 */
    int port;                   /* 0 = ephemeral (see av_serving_port) */
    int workers;                /* HTTP worker threads (and concurrent runs); <= 0 = 4 */
    int threads;                /* engine threads per run; <= 1 = the worker's own */
    const char *model_name;     /* NULL = AV_SERVING_DEFAULT_MODEL */
    const char *models_dir;     /* served as version 1 when base_path is NULL or "" */
    const char *base_path;      /* numeric version folders, each a models folder */
    int poll_ms;                /* base_path re-scan period; <= 0 = 2000 */
    long long max_upload_bytes; /* largest encoded image; <= 0 = 30 MB. Request
                                 * bodies may be 4/3 of it plus 1 MiB (base64) */
    long long max_pixels;       /* largest image, also for input_tensor; <= 0 = 50 Mpx */
    int top_k;                  /* species per box; <= 0 = 3 */
    const char *const *tracked; /* scientific names with class ids 1..n; NULL = the
                                 * original's three */
    int n_tracked;
    const char *model_config_file; /* serve every model listed there (then model_name,
                                    * models_dir and base_path are unused); NULL = none */
    int batch_max;              /* images per batch; <= 1 = batching off */
    int batch_wait_ms;          /* longest wait for a batch to fill; < 0 = 0, 0 = none */
    int batch_queue;            /* requests waiting for a batch at most; <= 0 = 64 */
    int batch_threads;          /* batches run at once per model; <= 0 = CPU count
                                 * (capped at workers and AV_SERVING_MAX_BATCH_THREADS) */
    const char *metrics_token;  /* NULL/"": /metrics open; else Authorization: Bearer TOKEN */
    const char *species_list;   /* site species list (av_detect_open_opts); NULL = all */
} av_serving_opts;

#define AV_SERVING_MAX_MODELS 16   /* models in one config file */
#define AV_SERVING_MAX_BATCH 256   /* largest batch_max */
#define AV_SERVING_MAX_BATCH_THREADS 64

/* One model of a config file. */
typedef struct av_serving_model_config {
    char name[128];
    char base_path[512];
} av_serving_model_config;

/*
 * Read a model config file: the subset of TF Serving's ModelServerConfig
 * text format (model_server_config.proto) that names models,
 *
 *   model_config_list {
 *     config { name: "birds"  base_path: "/srv/birds"  model_platform: "tensorflow" }
 *     config { name: "robins" base_path: "/srv/robins" }
 *   }
 *
 * '#' starts a comment; fields may be separated by ',' or ';'; model_platform
 * is accepted and ignored; any other field is an error naming its line (so a
 * policy we do not implement is never silently dropped). base_path is a
 * folder of numeric version folders, or a models folder (holding
 * pipeline.json) served as version 1. Relative base paths are used as given
 * (relative to the working directory). Writes at most max entries into out
 * and their count into *n. 0, or -1 with a message in err.
 */
int av_serving_model_config_parse(const char *path, av_serving_model_config *out, int max,
                                  int *n, char *err, size_t errlen);

typedef struct av_serving av_serving;

/*
 * Load the model and start serving; returns at once. With models_dir the
 * pipeline must load (else E_MODEL). With base_path the newest loadable
 * version is loaded before returning; when none is, the server still
 * starts (status shows why, predict answers 404) and keeps watching.
 * Strings in o are copied. On success *out owns the server (free with
 * av_serving_stop).
 */
av_serving_status av_serving_start(const av_serving_opts *o, av_serving **out, char *err,
                                   size_t errlen);

/* The port actually bound. */
int av_serving_port(const av_serving *s);

/* The version number predict uses now (0: none available), of the first
 * model (the only one without a config file). */
long long av_serving_live_version(av_serving *s);
/* The same for the model called name (0 also when no such model). */
long long av_serving_live_version_of(av_serving *s, const char *name);

/* Stop accepting, finish in-flight requests, stop the watcher, unload,
 * free. NULL is a no-op. */
void av_serving_stop(av_serving *s);

/* ------------------------------------------------------------- client */

typedef struct av_serving_client_opts {
    const char *url;            /* "http://host:8501" (the :predict path is added) or a
                                 * full ".../v1/models/NAME[/versions/N]:predict" URL */
    const char *model_name;     /* NULL = AV_SERVING_DEFAULT_MODEL */
    long timeout_ms;            /* whole request; <= 0 = 30000 */
    long connect_timeout_ms;    /* <= 0 = 2000 */
    int retries;                /* extra attempts on transport errors (with backoff);
                                 * < 0 = none; 0 = default 1 */
    long long max_response_bytes; /* <= 0 = 16 MiB */
    const char *const *tracked; /* names of class ids 1..n; NULL = the original's three */
    int n_tracked;
} av_serving_client_opts;

typedef struct av_serving_client_run_opts {
    int annotate;               /* 1: draw the boxes locally into result->annotated */
    long long max_bytes;        /* <= 0 = 30 MB */
    long long max_pixels;       /* local decode limit; <= 0 = 50 Mpx */
} av_serving_client_run_opts;

typedef struct av_serving_client av_serving_client;

/* Check the options, build the endpoint URL. Strings are copied. On success
 * *out owns the client (free with av_serving_client_close). Thread-safe:
 * one client may be shared by threads (it keeps a pool of keep-alive
 * connections). */
av_serving_status av_serving_client_open(const av_serving_client_opts *o,
                                         av_serving_client **out, char *err, size_t errlen);
void av_serving_client_close(av_serving_client *c);

/* The predict URL in use (static for the client's life). */
const char *av_serving_client_url(const av_serving_client *c);

/*
 * Send one encoded image, parse the answer into *result (zeroed first;
 * caller frees with av_detect_result_free). Boxes come back in pixels of
 * the EXIF-upright image: its size is taken from the server's image_size
 * output when present, else from decoding the image here. On failure
 * *result is empty and err says what failed (E_TRANSPORT: unreachable or
 * timed out, after the retries; E_HTTP: a 5xx, 429, 408 or 404 answer, worth
 * retrying later; E_IMAGE: another 4xx, the server refused this image; both
 * with the server's {"error"} text).
 */
av_serving_status av_serving_client_predict(av_serving_client *c, const void *image, size_t len,
                                            const av_serving_client_run_opts *opts,
                                            av_detect_result *result, char *err, size_t errlen);

/* -------------------------------------------------------------- base64 */

/* Standard base64 (RFC 4648, with padding). Encode: *out is malloc'd and
 * NUL-terminated, caller frees. Decode accepts padded or unpadded input and
 * the URL-safe alphabet; -1 on bad input or when out of memory. */
int av_serving_b64_encode(const void *in, size_t n, char **out, size_t *outlen);
int av_serving_b64_decode(const char *in, size_t n, unsigned char **out, size_t *outlen);

#endif
