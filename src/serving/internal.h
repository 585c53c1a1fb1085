/*
 * internal.h - pieces of the serving module shared by its files (not a
 * public header).
 *
 *   models.c   version registry: load, reference counts, hot swap, watcher
 *   server.c   libmicrohttpd daemon, URL grammar, status and metadata
 *   predict.c  predict request parsing, inference, response building
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
} av_serving__metrics;

void av_serving__metrics_init(av_serving__metrics *m);
void av_serving__metrics_free(av_serving__metrics *m);
void av_serving__metrics_observe(av_serving__metrics *m, int route, unsigned code,
                                 double seconds, int images);
/* Write the exposition text into out (truncated at cap); returns the
 * length it needed. */
size_t av_serving__metrics_text(av_serving__metrics *m, const char *model, long long version,
                                char *out, size_t cap);

struct MHD_Daemon;

struct av_serving {
    struct MHD_Daemon *daemon;
    int port;
    av_serving__models models;
    long long max_upload_bytes, max_body_bytes, max_pixels;
    int top_k;
    long long started;          /* time(NULL) at start, for /healthz */
    av_serving__metrics metrics;
    const char *const *tracked; /* borrowed from the caller (static by contract) */
    int n_tracked;
};

/* Predict: parse body (len bytes, NUL-terminated), run, answer JSON.
 * Returns the HTTP status and a new JSON object (the answer or {"error"}). */
unsigned av_serving__predict(av_serving *s, long long version, const char *body, size_t len,
                             json_t **answer, int *images);

/* {"error": msg} (new reference, may be NULL when out of memory). */
json_t *av_serving__error_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* TF OD API class id of a detection (see serving.h). */
int av_serving__class_id(const av_detect_det *d, const char *const *tracked, int n_tracked);
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
