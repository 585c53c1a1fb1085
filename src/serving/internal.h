/*
 * internal.h - pieces of the serving module shared by its files (not a
 * public header).
 *
 *   models.c   version registry: load, reference counts, hot swap, watcher
 *   server.c   libmicrohttpd daemon, URL grammar, status and metadata
 *   predict.c  predict request parsing, inference, response building
 *   batch.c    dynamic batching queue and its thread (one per model)
 *   modelcfg.c model config file reader
 *   client.c   libcurl client; annotate.c draws its boxes
 *   b64.c      base64; status.c strerror and TF class-id mapping
 */
#ifndef AV_SERVING_INTERNAL_H
#define AV_SERVING_INTERNAL_H

#include "serving/serving.h"

#include <jansson.h>
#include <pthread.h>

#define AV_SERVING__MAX_VERSIONS 16 /* versions kept in the status list */
#define AV_SERVING__COCO_BIRD 16    /* 'bird' in the TF OD API COCO label map */

/* TF Serving's ManagerState names (apis/get_model_status.proto). */
typedef enum av_serving__state {
    AV_SERVING__UNKNOWN = 0,
    AV_SERVING__START = 10,
    AV_SERVING__LOADING = 20,
    AV_SERVING__AVAILABLE = 30,
    AV_SERVING__UNLOADING = 40,
    AV_SERVING__END = 50
} av_serving__state;

const char *av_serving__state_name(av_serving__state s);

/* One version of the model. Fields are guarded by the registry mutex;
 * pipe is set once before the version becomes AVAILABLE and closed by
 * whoever drops the last reference after it stopped being served. */
typedef struct av_serving__version {
    long long number;
    av_serving__state state;
    char error_code[32];      /* TF error-code name, "OK" when healthy */
    char error_message[512];
    av_detect_pipeline *pipe;
    int refs;                 /* requests using pipe */
    long long stamp;          /* folder mtime signature of a failed load */
    int used;                 /* slot in use */
} av_serving__version;

typedef struct av_serving__models {
    pthread_mutex_t mu;
    char name[128];
    char models_dir[512];     /* fixed version 1 when base_path is "" */
    char base_path[512];
    av_detect_open_opts open_opts;
    av_serving__version v[AV_SERVING__MAX_VERSIONS];
    av_serving__version *live; /* served for "latest"; NULL when none */
    int poll_ms;
    int stopping;
    pthread_cond_t cv;
    pthread_t watcher;
    int has_watcher;
} av_serving__models;

int av_serving__models_init(av_serving__models *m, const char *name, const char *models_dir,
                            const char *base_path, const av_detect_open_opts *oo, int poll_ms,
                            char *err, size_t errlen);
void av_serving__models_free(av_serving__models *m);

/* Take a reference on a servable version: version <= 0 = latest. Returns
 * NULL when none is available; release with av_serving__release. */
av_serving__version *av_serving__acquire(av_serving__models *m, long long version);
void av_serving__release(av_serving__models *m, av_serving__version *v);

/* Status JSON for one version (> 0) or all; NULL with *http set to 404 and
 * msg filled when unknown. New reference. */
json_t *av_serving__status_json(av_serving__models *m, long long version, int *http, char *msg,
                                size_t msglen);

/* Prometheus counters (metrics.c), guarded by mu. */
#define AV_SERVING__N_ROUTES 4  /* status, metadata, predict, other */
#define AV_SERVING__N_BUCKETS 11
#define AV_SERVING__N_BATCH_BUCKETS 8 /* batch size le 1, 2, 4, ... 128 */
#define AV_SERVING__MAX_CODES 48
enum { AV_SERVING__R_STATUS, AV_SERVING__R_METADATA, AV_SERVING__R_PREDICT, AV_SERVING__R_OTHER };

typedef struct av_serving__metrics {
    pthread_mutex_t mu;
    struct {
        int route;
        unsigned code;
        unsigned long long count;
    } codes[AV_SERVING__MAX_CODES];
    int n_codes;
    unsigned long long bucket[AV_SERVING__N_ROUTES][AV_SERVING__N_BUCKETS];
    unsigned long long count[AV_SERVING__N_ROUTES];
    double sum[AV_SERVING__N_ROUTES];
    unsigned long long images;
    unsigned long long batch_bucket[AV_SERVING__N_BATCH_BUCKETS];
    unsigned long long batch_count, batch_sum; /* batches run, images in them */
    unsigned long long det_runs;  /* detector forward passes those batches made */
} av_serving__metrics;

void av_serving__metrics_init(av_serving__metrics *m);
void av_serving__metrics_free(av_serving__metrics *m);
void av_serving__metrics_observe(av_serving__metrics *m, int route, unsigned code,
                                 double seconds, int images);
/* One executed batch of `images` images (batching on) that made det_runs
 * detector forward passes (1 when they all shared one). */
void av_serving__metrics_batch(av_serving__metrics *m, int images, int det_runs);
/* Write the exposition text into out (truncated at cap); returns the
 * length it needed. The model gauges are appended by the caller. */
size_t av_serving__metrics_text(av_serving__metrics *m, char *out, size_t cap);

/*
 * Dynamic batching (batch.c). A task is one predict request's images,
 * decoded by its HTTP worker; the submitter owns the task, its images and
 * its results, and holds a reference on v until the task is done. The
 * batcher only reads imgs and writes res/st/err/done. The request does not
 * hold its HTTP worker while it waits: park (called by submit under the
 * batcher's lock, before the batcher can see the task) suspends the
 * connection, wake (called once the task is done; the batcher touches the
 * task no more) resumes it.
 */
struct av_image;
typedef struct av_serving__encoded {
    const unsigned char *bytes;     /* encoded image, owned by the submitter */
    size_t len;
    long long max_bytes;            /* decode limit for it */
} av_serving__encoded;

typedef struct av_serving__task {
    av_serving__version *v;         /* pipeline to run on (referenced by the submitter) */
    int n;                          /* images */
    struct av_image *const *imgs;   /* n images: decoded, or NULL to decode from enc[i] */
    const av_serving__encoded *enc; /* n entries */
    av_detect_result *res;          /* n results, filled by the batcher */
    av_detect_status st;            /* first failure, AV_DETECT_OK when all ran */
    char err[512];
    int done;
    double enqueued_ms;
    void (*park)(void *ud), (*wake)(void *ud);
    void *ud;
    struct av_serving__task *next;
} av_serving__task;

typedef struct av_serving__batcher {
    pthread_mutex_t mu;
    pthread_cond_t cv;              /* batcher: a task arrived or stop */
    pthread_cond_t done_cv;         /* submitters: a task finished */
    av_serving__task *head, *tail;  /* waiting tasks, oldest first */
    int queued;                     /* tasks in the list */
    int max, wait_ms, queue_cap;
    long long px_held, px_budget;   /* pixels decoded ahead by HTTP workers, and the cap */
    int top_k;
    long long max_pixels;
    int stopping, started, joined;
    pthread_t th[AV_SERVING_MAX_BATCH_THREADS];
    int n_threads;                  /* started */
    av_serving__metrics *metrics;   /* borrowed from the server */
} av_serving__batcher;

/* Start threads batch threads (each runs one batch at a time); 0 or -1
 * (message in err, nothing left running). */
int av_serving__batcher_start(av_serving__batcher *b, int max, int wait_ms, int queue_cap,
                              int threads, int top_k, long long max_pixels,
                              long long px_budget, av_serving__metrics *metrics, char *err,
                              size_t errlen);
/* Run the tasks still queued and stop the thread; later submits fail.
 * Safe on a zeroed, never-started batcher. */
void av_serving__batcher_stop(av_serving__batcher *b);
/* Free what start made (after stop, once no task can be waited on). */
void av_serving__batcher_free(av_serving__batcher *b);
/* Queue t (parking its request) and return at once: 0, or -1 (t untouched,
 * nothing parked) when queue_cap tasks already wait or the batcher stops. */
int av_serving__batcher_submit(av_serving__batcher *b, av_serving__task *t);
/* Block until t (submitted) is done. */
void av_serving__batcher_wait(av_serving__batcher *b, av_serving__task *t);
/* Reserve px pixels of the decode-ahead budget (1) or not (0: the image
 * stays encoded and the batch thread decodes it when it runs); release
 * what was reserved once the image is freed. Bounds the memory of queued
 * pixels to what batching off can hold (max_pixels per worker). */
int av_serving__batcher_reserve(av_serving__batcher *b, long long px);
void av_serving__batcher_unreserve(av_serving__batcher *b, long long px);

/* av_detect_run's decode (limits, EXIF, messages) into *out (caller frees
 * with av_img_free), its status mapped as av_detect_run maps it. */
av_detect_status av_serving__decode(const void *bytes, size_t len, long long max_bytes,
                                    long long max_pixels, struct av_image **out, char *err,
                                    size_t errlen);

/* One served model: its versions and, with batching, its batch queue. */
typedef struct av_serving__model {
    av_serving__models models;
    av_serving__batcher batcher;
} av_serving__model;

struct MHD_Daemon;

struct av_serving {
    struct MHD_Daemon *daemon;
    int port;
    av_serving__model *model;   /* n_models entries, owned */
    int n_models;
    int batching;               /* batch_max > 1 */
    long long max_upload_bytes, max_body_bytes, max_pixels;
    int top_k;
    long long started;          /* time(NULL) at start, for /healthz */
    av_serving__metrics metrics;
    const char *const *tracked; /* borrowed from the caller (static by contract) */
    int n_tracked;
    char metrics_token[256];    /* "" = /metrics open */
    av_guard *guard;            /* freed after the daemon stops */
};

/* The model called name, or NULL. */
av_serving__model *av_serving__find(av_serving *s, const char *name);

/*
 * Predict on model md: parse body (len bytes, NUL-terminated), run, answer
 * JSON. Returns the HTTP status and a new JSON object (the answer or
 * {"error"}); 503 means the batch queue is full (answer with Retry-After).
 * With batching on it may instead return 0 with *pending set: the request
 * was queued and parked with park(ud); once wake(ud) is called, finish it
 * with av_serving__predict_finish (or drop it with _abandon). Either frees
 * the pending request.
 */
typedef struct av_serving__pending av_serving__pending;
unsigned av_serving__predict(av_serving *s, av_serving__model *md, long long version,
                             const char *body, size_t len, json_t **answer, int *images,
                             void (*park)(void *), void (*wake)(void *), void *ud,
                             av_serving__pending **pending);
unsigned av_serving__predict_finish(av_serving *s, av_serving__pending *p, json_t **answer,
                                    int *images);
void av_serving__predict_abandon(av_serving *s, av_serving__pending *p);
/* Parse a predict body only (for the fuzzer): each image found is passed
 * to each; 0, or the error status with *answer set (new reference). fast 0
 * leaves pixel lists to jansson, as the parse was before pixels.c. */
unsigned av_serving__predict_parse(const av_serving *s, const char *body, size_t len, int fast,
                                   void (*each)(void *ud, const void *bytes, size_t len),
                                   void *ud, json_t **answer);

/* pixels.c: nested-list pixel images carved out of a predict body before
 * jansson parses it (a json_t per value was 30x the body). */
typedef struct av_serving__pixels {
    unsigned char *bmp[AV_SERVING_MAX_INSTANCES]; /* top-down 24-bit BMPs, owned */
    size_t bmp_len[AV_SERVING_MAX_INSTANCES];
    int n;
    char key[32]; /* "@pixels-<random hex>", new for each body */
    char *json;   /* the body with each list replaced by {key: k}; NULL when none was */
    size_t len, cap;
} av_serving__pixels;
/* Fill px from body; 0, or the HTTP status with msg (a large list that is
 * not valid pixels, over the pixel limit, out of memory). Free px with
 * av_serving__pixels_free either way (it is empty after a failure). */
unsigned av_serving__pixels_extract(const char *body, size_t len, long long max_pixels,
                                    av_serving__pixels *px, char *msg, size_t msglen);
/* k when v is a {key: k} reference to a BMP still in px, else -1. */
int av_serving__pixels_ref(const av_serving__pixels *px, const json_t *v);
void av_serving__pixels_free(av_serving__pixels *px);
/* A zeroed top-down 24-bit BMP of h x w with its header (rows at +54,
 * 4-byte aligned); NULL when out of memory. Owned by the caller. */
unsigned char *av_serving__pixels_bmp(size_t h, size_t w, size_t *len);

/*
 * KServe V2 / Open Inference Protocol REST (kserve.c) for a URL under /v2:
 * fills *answer (new reference: the answer or {"error"}) and returns the
 * HTTP status. body (len bytes, NUL-terminated) is used by POST .../infer.
 * binary_ext: the request carried Inference-Header-Content-Length (the
 * binary data extension, refused).
 */
unsigned av_serving__kserve(av_serving *s, const char *method, const char *url,
                            const char *body, size_t len, int binary_ext, json_t **answer,
                            int *images);

/* {"error": msg} (new reference, may be NULL when out of memory). */
json_t *av_serving__error_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* TF OD API class id of a detection (see serving.h). */
int av_serving__class_id(const av_detect_det *d, const char *const *tracked, int n_tracked);
/* detection_scores of a detection of class cls: the species score for a
 * tracked species or a whole-image bird, else the detector's score. */
double av_serving__det_score(const av_detect_det *d, int cls, const char *const *tracked,
                             int n_tracked);
/* The default tracked species. */
extern const char *const av_serving__tracked_default[3];

/* Client side, after parsing: decode the image (within the limits); when
 * !scaled set r's size from it and scale the normalised boxes in r->dets
 * to pixels; when draw, draw the boxes with labels and encode the result
 * into r->annotated (PNG for PNG input, else JPEG). font may be NULL. */
struct av_vision_font;
av_serving_status av_serving__finish(const void *image, size_t len, long long max_bytes,
                                     long long max_pixels, int scaled, int draw,
                                     struct av_vision_font *font, av_detect_result *r,
                                     char *err, size_t errlen);

#endif
