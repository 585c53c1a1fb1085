/*
 * store.h - Aviary's storage interface: images, inferences, feedback and
 * the monitoring time series, behind one API with one driver per database
 * (SQLite now; MySQL/MariaDB behind the same calls).
 *
 * A store is opened from a URL ("sqlite:PATH" or
 * "mysql://user:pass@host:port/db[?socket=PATH&pool=N&timeout=S]"), is safe to use from many
 * threads at once (the driver keeps a small connection pool), and applies
 * its schema migrations on av_store_migrate(). Every call returns an
 * av_store_status; on failure err (if given) says what failed, never with
 * credentials in it.
 *
 * Strings in the records are fixed-size and NUL-terminated; blobs handed
 * out are malloc'd and owned by the caller (av_store_image_clear frees).
 */
#ifndef AV_STORE_H
#define AV_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Statuses, numbers fixed (they are logged and compared across builds):
 * X(NAME, number, text) gives AV_STORE_NAME and av_store_strerror's text. */
#define AV_STORE_STATUS_MAP(X)                                                              \
    X(OK, 0, "ok")                                                                          \
    X(NOT_FOUND, 1, "not found")       /* no such image (or row) */                         \
    X(CONFLICT, 2, "conflict")         /* already voted / already analysed / duplicate id */ \
    X(EARG, 3, "invalid argument")     /* invalid argument or URL */                        \
    X(EDB, 4, "database error")        /* message in err */                                 \
    X(ENOMEM, 5, "out of memory")                                                           \
    X(EUNAVAILABLE, 6, "unavailable")  /* driver not built in / server unreachable */

typedef enum av_store_status {
#define X(name, num, msg) AV_STORE_##name = num,
    AV_STORE_STATUS_MAP(X)
#undef X
} av_store_status;

/* Static string for a status; never NULL. */
const char *av_store_strerror(av_store_status st);

#define AV_STORE_ID_LEN 32 /* hex characters of an image ID */
#define AV_STORE_MAX_CLASSES 32

typedef struct av_store av_store;

/* An upload that is a drawing or painting, not a photo (schema v11; README
 * "Illustrations are not sightings"): its birds are not stored as
 * detections, only the best guess, for display. */
typedef struct av_store_illustration {
    int on;                  /* 1: a drawing; 0: a photo (the rest empty) */
    char species[128];       /* best guess, scientific name; "" if none */
    char common_name[128];   /* "" if none */
    double score;            /* the guess's score, 0..1; < 0 when none */
} av_store_illustration;

typedef struct av_store_image {
    char id[AV_STORE_ID_LEN + 1];
    char name[256];          /* as uploaded; display only, never a path */
    char ext[8];             /* from magic bytes: jpg, png, webp, bmp */
    char content_type[32];
    int64_t size_bytes;
    int width, height;       /* 0 until analysed */
    int voted;
    char status[16];         /* pending | done | failed */
    char error[256];         /* why analysis failed */
    char created_at[32];     /* ISO-8601 UTC */
    av_store_illustration illustration; /* set with status done */
    void *blob;              /* owned: av_store_image_clear() frees; NULL if not requested */
    size_t blob_len;
} av_store_image;

/* A box's species guesses kept for its review (schema v8). */
#define AV_STORE_MAX_GUESSES 5
typedef struct av_store_guess {
    double score;            /* the classifier's, 0..1 */
    char species[128];       /* scientific name */
    char common_name[128];   /* "" if none */
} av_store_guess;

/* One detection = one row of the original's inferences table. */
typedef struct av_store_detection {
    double x1, y1, x2, y2;   /* box in original-image pixels */
    double score;            /* the confidence the UI shows, 0..1 */
    double detector_score;
    double species_score;    /* < 0: no species */
    int class_id;            /* species label index, 0 = none */
    char label[32];          /* detector class, e.g. "bird" */
    char species[128];       /* scientific name, "" if none */
    char common_name[128];
    char model_version[64];
    /* A whole-image bird: the rule that found it ("species", "two_views",
     * "imagenet"); "" for a box (schema v10). */
    char whole_image_by[16];
    /* The classifier's top guesses, best first (inference_guesses, written
     * and read with the detections; 0 for a box without species). */
    int n_guesses;
    av_store_guess guesses[AV_STORE_MAX_GUESSES];
} av_store_detection;

/* One monitoring row: the running state after one vote. */
typedef struct av_store_monitor_point {
    char image_id[AV_STORE_ID_LEN + 1];
    char timestamp[32];
    int seq;                             /* vote number, from 1 */
    double user_satisfaction;            /* running mean */
    int n_classes;                       /* as tracked when listed */
    double class_avg[AV_STORE_MAX_CLASSES]; /* running mean; NaN when none seen yet */
} av_store_monitor_point;

typedef struct av_store_feedback {
    int vote_yes;
    int ground_truth, predicted; /* -1 when not given (vote yes) */
    double satisfaction;         /* this image's, from av_monitor */
} av_store_feedback;

/* Open a store: "sqlite:PATH" (creates the file) or "mysql://..." (see
 * mysql.c for the URL and where the password may come from; the database
 * is created when missing). *out owned by caller (av_store_close). */
av_store_status av_store_open(const char *url, av_store **out, char *err, size_t errlen);
void av_store_close(av_store *s);

/* Apply pending migrations (idempotent). *version receives the schema version. */
av_store_status av_store_migrate(av_store *s, int *version, char *err, size_t errlen);
av_store_status av_store_schema_version(av_store *s, int *version, char *err, size_t errlen);
/* Number of migrations built in for s's driver (the newest schema version). */
int av_store_migration_count(const av_store *s);

/* New random image ID (128 bits from getrandom) as hex; buf holds AV_STORE_ID_LEN+1. */
int av_store_new_id(char *buf);
/* True when s is exactly AV_STORE_ID_LEN lowercase hex characters. */
int av_store_valid_id(const char *s);

/*
 * Where image bytes live. By default in the images table (image_blob, as
 * the original did), up to max_db_blob bytes (0 = the driver's default:
 * AV_STORE_MAX_SQLITE_BLOB on SQLite, AV_STORE_MAX_DB_BLOB on MySQL, whose
 * packets and replication suffer from huge rows);
 * a larger one is refused with EARG. With dir set, each image is a file
 * dir/<ID>.blob (written to a temp file, fsync'd, renamed: never half a
 * file) and image_blob stays NULL; no size limit but the upload limit.
 * Call before the store is shared between threads.
 */
#define AV_STORE_MAX_DB_BLOB (64u << 20)
#define AV_STORE_MAX_SQLITE_BLOB (256u << 20) /* the 200 MB video limit fits */
av_store_status av_store_set_blob_store(av_store *s, const char *dir, size_t max_db_blob,
                                        char *err, size_t errlen);

/* Insert an image with its bytes (copied). CONFLICT if the ID exists. */
av_store_status av_store_image_insert(av_store *s, const av_store_image *img, const void *blob,
                                      size_t len, char *err, size_t errlen);
/* Fetch an image; with_blob = 1 also loads the bytes into out->blob. */
av_store_status av_store_image_get(av_store *s, const char *id, int with_blob,
                                   av_store_image *out, char *err, size_t errlen);
void av_store_image_clear(av_store_image *img);
av_store_status av_store_image_count(av_store *s, int64_t *n, char *err, size_t errlen);

/*
 * Store the analysis of an image atomically: its detections (n may be 0),
 * its size, status "done". CONFLICT (and nothing written) when the image
 * was already analysed, so two racing analyses store one result.
 */
av_store_status av_store_analysis_put(av_store *s, const char *id, int width, int height,
                                      const av_store_detection *dets, int n, char *err,
                                      size_t errlen);
/* The same, recording that the image is a drawing (ill may be NULL: a photo). */
av_store_status av_store_analysis_put_illus(av_store *s, const char *id, int width, int height,
                                            const av_store_detection *dets, int n,
                                            const av_store_illustration *ill, char *err,
                                            size_t errlen);
/*
 * A lease on analysing a pending image, so that of several web nodes asked
 * for it at once one runs the models: *claimed = 1 when this caller holds
 * the lease now (no claim existed, or it was older than lease_ms: its node
 * died or gave up), else 0 (someone else is at it; wait for the result).
 * Release gives it up early (a retryable failure: let anyone retry).
 */
av_store_status av_store_analysis_claim(av_store *s, const char *id, int lease_ms, int *claimed,
                                        char *err, size_t errlen);
av_store_status av_store_analysis_release(av_store *s, const char *id, char *err, size_t errlen);
/* Move this node's lease on a running analysis forward (leases are short;
 * the node renews them while it works, so a dead node's lapse soon). */
av_store_status av_store_analysis_renew(av_store *s, const char *id, char *err, size_t errlen);
/* Pending images (videos included) nobody holds a live lease on: never
 * claimed, or claimed more than lease_ms ago (the node died). Oldest first,
 * at most max ids into ids; *n how many. */
av_store_status av_store_analysis_orphans(av_store *s, int lease_ms,
                                          char (*ids)[AV_STORE_ID_LEN + 1], int max, int *n,
                                          char *err, size_t errlen);
/* Why a pending image is still pending (a temporary failure, retried): kept
 * in images.error while the status stays pending; cleared when it is done. */
av_store_status av_store_analysis_note(av_store *s, const char *id, const char *why, char *err,
                                       size_t errlen);
/* Mark analysis failed with a reason (shown to the user). */
av_store_status av_store_analysis_fail(av_store *s, const char *id, const char *why, char *err,
                                       size_t errlen);
/* Detections of an image, in order; *dets malloc'd (free()), *n may be 0. */
av_store_status av_store_detections_get(av_store *s, const char *id, av_store_detection **dets,
                                        int *n, char *err, size_t errlen);

/*
 * Record a vote and the running means it produces, atomically: the vote,
 * per tracked class the sum and count of the confidences of this image's
 * detections of that class, the satisfaction sum and count, one monitoring
 * row, voted = 1. CONFLICT when the image was already voted on (nothing
 * written). classes: scientific names of the tracked classes, in order
 * (the first three also fill avg_score_1..3). *point (optional) receives
 * the new row.
 */
av_store_status av_store_feedback_add(av_store *s, const char *id, const av_store_feedback *fb,
                                      const char *const *classes, int n_classes,
                                      av_store_monitor_point *point, char *err, size_t errlen);
av_store_status av_store_feedback_count(av_store *s, int64_t *n, char *err, size_t errlen);

/* The whole monitoring series, oldest first, with the tracked classes'
 * averages in the given order. *points malloc'd (free()). */
av_store_status av_store_monitoring_list(av_store *s, const char *const *classes, int n_classes,
                                         av_store_monitor_point **points, int *n, char *err,
                                         size_t errlen);

/*
 * Videos (schema v2). A video is an images row (upload, status, vote) plus
 * a videos row made at upload; its analysis stores, in one transaction,
 * one inferences row per visit (at its best frame, box in frame pixels),
 * the visits' timing, every sampled frame's detections, and its stills
 * (poster, thumbnails). Progress is in the database so every node and
 * every reload sees it. Images have no videos row (video_get: NOT_FOUND).
 */
#define AV_STORE_MEDIA_MAX (8u << 20) /* largest still, bytes */

typedef struct av_store_video {
    char id[AV_STORE_ID_LEN + 1];
    char container[8];       /* mp4, mov, webm, mkv, avi */
    char codec[32];          /* "" until analysed */
    int width, height;       /* frame size; 0 until analysed */
    double duration_s;       /* NaN until known */
    double sample_fps;       /* NaN until analysed */
    int frames_done, frames_expected; /* progress of the current analysis */
    int attempts;            /* analyses started */
    double idle_s;           /* seconds since the row last changed (progress) */
} av_store_video;

/* One visit: its inferences row (det) and when it was seen. */
typedef struct av_store_visit {
    int track;               /* visit id, 1, 2, ... */
    double first_s, last_s, best_t;
    int best_frame;          /* sampled frame number of det */
    int n_frames;
    av_store_detection det;  /* species, best confidence, box at best_frame */
} av_store_visit;

/* One detection on one sampled frame. */
typedef struct av_store_video_det {
    int frame;               /* sampled frame number, 0, 1, ... */
    int frame_index;         /* decoded frame number in the stream */
    double t;                /* seconds */
    int track;               /* visit id */
    av_store_detection det;  /* model_version unused */
} av_store_video_det;

/* A still to store: name "poster" or "visit-N"; bytes borrowed. */
typedef struct av_store_media {
    const char *name, *content_type;
    const void *data;
    size_t len;              /* at most AV_STORE_MEDIA_MAX */
} av_store_media;

/* The videos row of an uploaded video (after av_store_image_insert). */
av_store_status av_store_video_add(av_store *s, const char *id, const char *container,
                                   char *err, size_t errlen);
/* NOT_FOUND when id is not a video (or unknown). */
av_store_status av_store_video_get(av_store *s, const char *id, av_store_video *out, char *err,
                                   size_t errlen);
/* An analysis starts: attempts + 1 (into *attempts), progress reset. */
av_store_status av_store_video_start(av_store *s, const char *id, int *attempts, char *err,
                                     size_t errlen);
av_store_status av_store_video_progress(av_store *s, const char *id, int done, int expected,
                                        char *err, size_t errlen);
/*
 * Store a finished analysis atomically: info's codec, size, duration and
 * sampling; the visits (an inferences row each, idx = order, plus their
 * timing); every frame detection; the stills; status "done". CONFLICT (and
 * nothing written) when the image is already done or unknown.
 */
av_store_status av_store_video_put(av_store *s, const char *id, const av_store_video *info,
                                   const av_store_visit *visits, int n_visits,
                                   const av_store_video_det *dets, int n_dets,
                                   const av_store_media *media, int n_media, char *err,
                                   size_t errlen);
/* Visits in order; *out malloc'd (free()), *n may be 0. */
av_store_status av_store_video_visits(av_store *s, const char *id, av_store_visit **out, int *n,
                                      char *err, size_t errlen);
/* Frame detections by frame, at most max (<= 0: all); *out malloc'd (free()). */
av_store_status av_store_video_dets(av_store *s, const char *id, int max,
                                    av_store_video_det **out, int *n, char *err, size_t errlen);
/* A still: *data malloc'd (free()), content type into ctype. NOT_FOUND if none. */
av_store_status av_store_video_media_get(av_store *s, const char *id, const char *name,
                                         char *ctype, size_t ctype_cap, void **data,
                                         size_t *len, char *err, size_t errlen);
/* IDs of videos whose analysis is not finished (status pending), oldest
 * first, at most max, into ids; *n the count. */
av_store_status av_store_video_unfinished(av_store *s, char (*ids)[AV_STORE_ID_LEN + 1], int max,
                                          int *n, char *err, size_t errlen);

/* Copy url into out with any password replaced by "***", for logs. */
void av_store_redact_url(const char *url, char *out, size_t outlen);
/* Lowercase hex SHA-256 of the file at path into hex (64 digits and a NUL):
 * 0, or -1 when it cannot be read (errno kept). MLMD's model records and
 * `aviary doctor` checksum model files with it. */
int av_store_sha256_file(const char *path, char hex[65]);

/*
 * ML Metadata (MLMD schema v10, google/ml-metadata's own tables, in the same
 * database; see db/mlmd/). Every call serialises with other processes on
 * the same database (BEGIN IMMEDIATE on SQLite, a named lock on MySQL), so
 * a model loaded by several processes at once is still registered once.
 */

/* Create the 15 MLMD tables, their indexes and MLMDEnv = 10 when none exist,
 * and the nine built-in simple types. Idempotent; EDB when only some of the
 * tables exist or the schema version is not 10. */
av_store_status av_store_mlmd_init(av_store *s, char *err, size_t errlen);

typedef struct av_store_mlmd_info {
    int n_tables;        /* of the 15 MLMD tables, how many exist */
    int schema_version;  /* MLMDEnv.schema_version, 0 if none */
    int64_t n_types, n_artifacts, n_models, n_executions, n_contexts, n_events;
} av_store_mlmd_info;
av_store_status av_store_mlmd_status(av_store *s, av_store_mlmd_info *out, char *err,
                                     size_t errlen);

/* A model version, as registered: an Artifact of type aviary.Model (base
 * type mlmd.Model) with properties name, version, uri, sha256, role, and one
 * custom DOUBLE property per test metric. Strings are borrowed. */
typedef struct av_store_model_info {
    const char *name, *version, *uri, *sha256, *role; /* NULL reads as "" */
    int n_metrics;
    const char *const *metric_names;
    const double *metric_values;
} av_store_model_info;

/* Register m once (keyed by name, version and sha256; initialises MLMD if
 * needed). *artifact_id receives its id; *created (optional) 1 when new. */
av_store_status av_store_mlmd_register_model(av_store *s, const av_store_model_info *m,
                                             int64_t *artifact_id, int *created, char *err,
                                             size_t errlen);

/* A deployment: the Context `name` (type aviary.Deployment, made once) with
 * the artifacts attributed to it, and a new Execution (type aviary.Serving,
 * RUNNING) for this run, associated to the context, with an INPUT Event
 * from each artifact. *context_id, *execution_id optional. */
av_store_status av_store_mlmd_deployment(av_store *s, const char *name, const int64_t *artifacts,
                                         int n, int64_t *context_id, int64_t *execution_id,
                                         char *err, size_t errlen);
/* End a run: last_known_state COMPLETE (ok) or FAILED. */
av_store_status av_store_mlmd_execution_end(av_store *s, int64_t execution_id, int ok,
                                            char *err, size_t errlen);

/* Register the models the app loads: models_dir/pipeline.json's detector and
 * species manifests (every *.json manifest when there is no pipeline.json)
 * whose model file exists, with the file's sha256 and the manifest's
 * "test_metrics" numbers; then av_store_mlmd_deployment(deployment). Models
 * whose file is missing are skipped. *n_models (optional) = registered. */
av_store_status av_store_mlmd_register_manifests(av_store *s, const char *models_dir,
                                                 const char *deployment, int *n_models,
                                                 int64_t *execution_id, char *err,
                                                 size_t errlen);

/*
 * Lineage of one `aviary train species` run: the reviews snapshot as an
 * Artifact (aviary.Dataset, base mlmd.Dataset; name reviews@<sha>, counts
 * as custom properties; one per snapshot), the run as an Execution
 * (aviary.Training, base mlmd.Train, COMPLETE, custom properties params
 * JSON, promoted, forced), the new head as a model version (aviary.Model,
 * name species-head, its metrics as custom properties) and its evaluation
 * (aviary.Evaluation, base mlmd.Metrics), with an INPUT Event from the
 * dataset and OUTPUT Events to the model and the evaluation. Strings are
 * borrowed. *model_id (optional) gets the model artifact's id.
 */
typedef struct av_store_training_info {
    const char *dataset_sha256;
    int64_t n_samples, n_images, n_classes, n_new_classes;
    const char *params_json;
    const char *model_version, *model_uri, *head_sha256;
    int n_metrics;
    const char *const *metric_names;
    const double *metric_values;
    int promoted, forced;
} av_store_training_info;
av_store_status av_store_mlmd_record_training(av_store *s, const av_store_training_info *t,
                                              int64_t *model_id, char *err, size_t errlen);

/* The lineage of a model version a training run made (found = 0 when
 * none did): the run, the reviews snapshot it read, its parameters and the
 * evaluation recorded with the model. */
typedef struct av_store_training_view {
    int found;
    int64_t execution_id, dataset_id, samples, forced;
    char dataset[128];
    char params[256];
    double new_top1, base_top1, new_top5, base_top5, held_back;
} av_store_training_view;
av_store_status av_store_mlmd_training_of(av_store *s, int64_t model_id,
                                          av_store_training_view *out, char *err, size_t errlen);

typedef struct av_store_model_version {
    int64_t artifact_id;
    char name[128], version[128], sha256[65], role[32];
    char uri[512];
    char registered_at[32]; /* ISO-8601 UTC */
    int64_t n_runs;         /* executions (serving runs) that used it */
} av_store_model_version;

/* Registered model versions, oldest first; *out malloc'd (free()), *n may be
 * 0 (also when MLMD was never initialised). */
av_store_status av_store_mlmd_models(av_store *s, av_store_model_version **out, int *n,
                                     char *err, size_t errlen);

/*
 * Live cameras (schema v5, issue 19; store/camera.c). Each visit a camera
 * saw is one camera_visits row with its best frame (JPEG, at most
 * AV_STORE_MEDIA_MAX bytes); times are ms since the epoch, UTC.
 */
#define AV_STORE_CAMERA_NAME_MAX 64 /* camera names: [A-Za-z0-9_-], 1..63 */

typedef struct av_store_camera_visit {
    int64_t id;                           /* set by the store */
    char camera[AV_STORE_CAMERA_NAME_MAX];
    int64_t first_ms, last_ms;            /* first and last seen */
    char species[128], common_name[128];  /* "" when species are unknown */
    char label[128];                      /* what the UI shows */
    double score;                         /* best confidence of its species */
    int n_frames;                         /* analysed frames it was seen in */
    double x1, y1, x2, y2;                /* best box, frame pixels */
    int has_jpeg;                         /* a best frame is stored */
    char node[128];                       /* the node that watched it */
    int review;                           /* av_store_review_action; 0 none */
    char review_species[128], review_common[128]; /* AV_REVIEW_SPECIES's */
    char reviewed_by[128];
    int64_t reviewed_ms;                  /* 0: never reviewed */
} av_store_camera_visit;

/* True when name is a valid camera name. */
int av_store_camera_name_ok(const char *name);
/* Store a visit and its best frame (jpeg may be NULL); *id (optional) gets its id. */
av_store_status av_store_camera_visit_add(av_store *s, const av_store_camera_visit *v,
                                          const void *jpeg, size_t len, int64_t *id, char *err,
                                          size_t errlen);
/* Visits newest first, filtered by camera and species ("" or NULL: any) and
 * first seen at or after since_ms, at most max (1..10000); *out malloc'd
 * (free()), *n may be 0. */
av_store_status av_store_camera_visits(av_store *s, const char *camera, const char *species,
                                       int64_t since_ms, int max, av_store_camera_visit **out,
                                       int *n, char *err, size_t errlen);
/* Every visit, newest first, to fn (a non-zero return stops): the birds
 * cache reads them all once per change (av_store_birds_version). */
typedef int (*av_store_camera_visit_fn)(void *ud, const av_store_camera_visit *v);
av_store_status av_store_camera_visits_each(av_store *s, av_store_camera_visit_fn fn, void *ud,
                                            char *err, size_t errlen);
/* Visits of a camera ("" any) first seen at or after since_ms. */
av_store_status av_store_camera_visit_count(av_store *s, const char *camera, int64_t since_ms,
                                            int64_t *n, char *err, size_t errlen);
/* Whether a species was seen before before_ms at any camera (new for the
 * site) and since since_ms at this camera (first of the day). */
av_store_status av_store_camera_species_seen(av_store *s, const char *camera,
                                             const char *species, int64_t since_ms,
                                             int *seen_ever, int *seen_since, char *err,
                                             size_t errlen);
/* Review visit id: AV_REVIEW_CONFIRM, AV_REVIEW_SPECIES (species and
 * common, a scientific name required) or AV_REVIEW_NOT_BIRD, by who; a
 * later review replaces it. NOT_FOUND when no such visit. */
av_store_status av_store_camera_visit_review(av_store *s, int64_t id, int action,
                                             const char *species, const char *common,
                                             const char *who, char *err, size_t errlen);
/* A visit's best frame: *data malloc'd (free()). NOT_FOUND if none. */
av_store_status av_store_camera_visit_jpeg(av_store *s, int64_t id, void **data, size_t *len,
                                           char *err, size_t errlen);
/*
 * The lease on watching a camera: *held = 1 when node holds it now (it
 * was free, already node's (renewed), or older than lease_ms: its node
 * died). Of several nodes racing, exactly one statement wins.
 */
av_store_status av_store_camera_lease(av_store *s, const char *camera, const char *node,
                                      int lease_ms, int *held, char *err, size_t errlen);
/* Give a lease up (a clean stop), so another node takes over at once. */
av_store_status av_store_camera_lease_release(av_store *s, const char *camera, const char *node,
                                              char *err, size_t errlen);
/*
 * Retention: drop the best frames of visits first seen before before_ms,
 * except reviewed visits and each species' keep_best highest-scoring
 * visits; then the rows
 * themselves when drop_rows. *dropped (optional) = frames dropped.
 */
av_store_status av_store_camera_prune(av_store *s, int64_t before_ms, int keep_best,
                                      int drop_rows, int64_t *dropped, char *err, size_t errlen);
/* Bytes of best frames stored (base64 text length x 3/4), for /monitor. */
av_store_status av_store_camera_storage(av_store *s, int64_t *bytes, char *err, size_t errlen);

/*
 * Accounts (schema v4; users.c). An owner signs in with a password, kept
 * as an Argon2id string (libsodium crypto_pwhash_str, interactive limits);
 * sessions and API tokens are random 256-bit tokens of which the database
 * keeps only the SHA-256, so a leaked database opens no session. Names are
 * 1-64 bytes of [A-Za-z0-9._@-]; passwords 8-1024 bytes.
 */
#define AV_STORE_USER_NAME_MAX 64
#define AV_STORE_TOKEN_LEN 64 /* hex characters of a session, CSRF or API token */

typedef struct av_store_user {
    int64_t id;
    char name[AV_STORE_USER_NAME_MAX + 1];
    char role[16];           /* "owner" */
    int has_api_token;
    char created_at[32];     /* ISO-8601 UTC */
} av_store_user;

/* 1 when name is an acceptable account name. */
int av_store_user_name_ok(const char *name);
/* Add an owner; EARG for a bad name or password (message says which),
 * CONFLICT when the name exists. */
av_store_status av_store_user_add(av_store *s, const char *name, const char *password, char *err,
                                  size_t errlen);
/* New password; every session of the account ends. NOT_FOUND: no such user. */
av_store_status av_store_user_passwd(av_store *s, const char *name, const char *password,
                                     char *err, size_t errlen);
/* Remove the account, its sessions and API token. NOT_FOUND: no such user. */
av_store_status av_store_user_delete(av_store *s, const char *name, char *err, size_t errlen);
/* Accounts by name; *out malloc'd (free()), *n may be 0. */
av_store_status av_store_user_list(av_store *s, av_store_user **out, int *n, char *err,
                                   size_t errlen);
/* How many owner accounts exist (0: first start, nobody can sign in). */
av_store_status av_store_owner_count(av_store *s, int64_t *n, char *err, size_t errlen);
/* Check a password: OK and *out filled, or NOT_FOUND for an unknown name or
 * a wrong password alike (an unknown name costs a hash too, so timing does
 * not tell them apart). */
av_store_status av_store_user_verify(av_store *s, const char *name, const char *password,
                                     av_store_user *out, char *err, size_t errlen);
/* A new API token for the account (replacing any old one), into token
 * (AV_STORE_TOKEN_LEN + 1); shown once, only its hash is kept. */
av_store_status av_store_user_api_token(av_store *s, const char *name, char *token, char *err,
                                        size_t errlen);
/* The account holding this API token; NOT_FOUND when none. */
av_store_status av_store_user_by_api_token(av_store *s, const char *token, av_store_user *out,
                                           char *err, size_t errlen);

/* A new session for user_id lasting ttl_s: token (the cookie) and csrf
 * (the forms' token), each AV_STORE_TOKEN_LEN + 1 bytes. */
av_store_status av_store_session_new(av_store *s, int64_t user_id, int ttl_s, char *token,
                                     char *csrf, char *err, size_t errlen);
/* The session's account and CSRF token; NOT_FOUND when unknown or expired. */
av_store_status av_store_session_get(av_store *s, const char *token, av_store_user *user,
                                     char *csrf, char *err, size_t errlen);
av_store_status av_store_session_end(av_store *s, const char *token, char *err, size_t errlen);

/*
 * Failed-login counting for the rate limit, by key ("user:NAME",
 * "addr:IP"): failures within window_s of the window's first one.
 * login_blocked: *retry_s > 0 (seconds until the window ends) when key has
 * max or more failures now. login_failed counts one; login_reset forgets.
 */
av_store_status av_store_login_blocked(av_store *s, const char *key, int max, int window_s,
                                       int *retry_s, char *err, size_t errlen);
av_store_status av_store_login_failed(av_store *s, const char *key, int window_s, char *err,
                                      size_t errlen);
av_store_status av_store_login_reset(av_store *s, const char *key, char *err, size_t errlen);

/*
 * Delete an upload (delete.c): its rows in every table (image, detections,
 * vote, reviews, capture metadata, video rows, stills, analysis lease) in one transaction, then its
 * blob-store file. The monitoring series keeps the running means the vote
 * produced (history, not the image). NOT_FOUND when there is no such image.
 */
av_store_status av_store_image_delete(av_store *s, const char *id, char *err, size_t errlen);

/*
 * Backup and restore of a SQLite store (backup.c), with SQLite's online
 * backup API: a consistent copy while servers keep writing. backup copies
 * the database of url into dest (written beside it, then renamed over it);
 * restore copies src, which must be an Aviary database that passes
 * SQLite's quick_check, into url's file, which must not exist yet, then
 * applies pending migrations. A MySQL/MariaDB url gets EUNAVAILABLE
 * (use mariadb-dump).
 */
av_store_status av_store_backup(const char *url, const char *dest, char *err, size_t errlen);
av_store_status av_store_restore(const char *src, const char *url, char *err, size_t errlen);

/*
 * Per-bird reviews (schema v6; reviews.c). A birder's decision about one
 * box of an image: confirm the model's species, give another species, say
 * it is not a bird or a duplicate of another box, or add a bird the model
 * missed. Each decision is a row; the latest decision about a box (its
 * highest rev) is the box's current review, older ones stay as history.
 *
 * Boxes are numbered per image: 0 .. n-1 are the detections
 * (av_store_detections_get order, = inferences.idx); an added bird gets the
 * next free number (n, n+1, ...) when it is added, and can then be
 * reviewed like any other box (e.g. not_bird withdraws it).
 *
 * Coordinates are always in original-image pixels (for a video, the
 * visit's best frame, in frame pixels: is_video tells).
 */
#define AV_STORE_REVIEW_WHO_MAX 64

typedef enum av_store_review_action {
    AV_REVIEW_CONFIRM = 1, /* the model's species is right */
    AV_REVIEW_SPECIES,     /* a bird of another species (species says which) */
    AV_REVIEW_NOT_BIRD,    /* no bird there: a false detection */
    AV_REVIEW_DUPLICATE,   /* a bird already boxed by another box */
    AV_REVIEW_ADDED        /* a bird the model missed (species optional) */
} av_store_review_action;

/* "confirm", "species", "not_bird", "duplicate", "added"; NULL if invalid. */
const char *av_store_review_action_name(av_store_review_action a);
/* The action named s (as above), or 0 when s names none. */
av_store_review_action av_store_review_action_parse(const char *s);

typedef struct av_store_review {
    char image_id[AV_STORE_ID_LEN + 1];
    int box;                  /* box number (see above) */
    int rev;                  /* 1, 2, ... per box; the highest is current */
    av_store_review_action action;
    double x1, y1, x2, y2;    /* box in original-image pixels */
    char model_species[128];  /* what the model said ("" for an added box / none) */
    char species[128];        /* final scientific name: the model's (confirm), the
                                 chosen one (species, added), "" for not_bird,
                                 duplicate, or an added bird left unidentified */
    char common_name[128];    /* of species, "" when unknown */
    char who[AV_STORE_REVIEW_WHO_MAX + 1]; /* the signed-in owner's name, or "guest" */
    char created_at[32];      /* ISO-8601 UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ" */
    /* Filled by the readers (av_store_reviews_list / _each), ignored by add: */
    int image_width, image_height; /* the image's (or video frame's) size */
    int is_video;
} av_store_review;

/*
 * Record one review. In r the caller sets image_id, action, who, and:
 *  - confirm / not_bird / duplicate: box, an existing box number (a
 *    detection or an added box); the box's coordinates, model_species and
 *    (confirm) species + common_name are taken from the stored detection or
 *    the box's earlier review; what the caller put there is ignored;
 *  - species: box, and species (required) + common_name (optional);
 *  - added: x1..y2 (inside the image, at least 1 px each way), species and
 *    common_name optional; box is ignored and receives the new number.
 * On OK, r receives everything stored: box, rev, coordinates, names and
 * created_at. NOT_FOUND: no such image, or no such box; EARG: bad action,
 * empty species for "species", a bad who or box, an image not analysed yet.
 * Two racing reviews of a box both land (distinct revs; the later is
 * current); two racing added boxes get distinct numbers.
 */
av_store_status av_store_review_add(av_store *s, av_store_review *r, char *err, size_t errlen);

/*
 * An image's reviews, by box then rev: with current_only = 1 only each
 * box's current review, else every decision (history). *out malloc'd
 * (free()), *n may be 0. An unknown image gives OK with *n = 0.
 */
av_store_status av_store_reviews_list(av_store *s, const char *image_id, int current_only,
                                      av_store_review **out, int *n, char *err, size_t errlen);

/*
 * Every image's current reviewed boxes (export and retraining), ordered by
 * image id then box, one call of fn per box with r borrowed for the call.
 * Rows are read in pages of a few hundred, and fn is called with no
 * database session held, so fn may itself call the store. fn returns 0 to
 * go on, non-zero to stop (then this returns OK). Boxes whose current
 * review is not_bird or duplicate are included: skip them for training.
 */
typedef int (*av_store_review_fn)(void *ud, const av_store_review *r);
av_store_status av_store_reviews_each(av_store *s, av_store_review_fn fn, void *ud, char *err,
                                      size_t errlen);

/*
 * Capture metadata read from an upload's EXIF (schema v6): when it was
 * taken (camera clock, no zone, "YYYY-MM-DDTHH:MM:SS", "" if unknown) and
 * where (has_gps = 0 when unknown). put replaces; get gives OK with empty
 * fields when nothing was stored.
 */
typedef struct av_store_image_meta {
    char taken_at[20];
    int has_gps;
    double latitude, longitude; /* degrees, north and east positive */
} av_store_image_meta;
av_store_status av_store_image_meta_put(av_store *s, const char *id,
                                        const av_store_image_meta *m, char *err, size_t errlen);
av_store_status av_store_image_meta_get(av_store *s, const char *id, av_store_image_meta *out,
                                        char *err, size_t errlen);

/*
 * The birder's views (schema v6; birds.c): every bird as it stands after
 * review, and the gallery of uploads. A "bird" is a detection (its box
 * number = inferences.idx) or an added box; its final species is the
 * current review's when reviewed, else the model's. Capture time is the
 * EXIF time when the upload had one, else the upload time.
 */
typedef struct av_store_bird {
    char image_id[AV_STORE_ID_LEN + 1];
    int box;
    double x1, y1, x2, y2;      /* original-image (or frame) pixels */
    double score;               /* the model's confidence; NaN for an added box */
    char model_species[128];    /* "" when the model named none, or an added box */
    char species[128];          /* final scientific name ("" none / not a bird) */
    char common_name[128];
    av_store_review_action action; /* current review; 0 = not reviewed */
    char who[AV_STORE_REVIEW_WHO_MAX + 1]; /* of the current review, "" if none */
    char reviewed_at[32];
    char seen_at[32];           /* capture time, "YYYY-MM-DDTHH:MM:SS" (local camera
                                   clock from EXIF, else upload time UTC) */
    int from_exif;              /* 1 when seen_at came from EXIF */
    int has_gps;
    double latitude, longitude;
    int image_width, image_height, is_video;
    char ext[8];
    char name[256];             /* the upload's file name */
} av_store_bird;

/* Filter of birds and gallery: any field empty / -1 = no filter. */
typedef struct av_store_filter {
    const char *species;        /* final scientific name */
    const char *from, *to;      /* capture date "YYYY-MM-DD", inclusive */
    const char *status;         /* pending | done | failed */
    int reviewed;               /* 1: with a review, 0: without, -1: either */
    const char *image_id;       /* one image */
} av_store_filter;
#define AV_STORE_FILTER_NONE {NULL, NULL, NULL, NULL, -1, NULL}

/*
 * Every bird matching f (species / dates / image), not_bird and duplicate
 * boxes included (action says), ordered by image id then box. fn is called
 * per bird with b borrowed, while a database session is held: it must not
 * call the store. fn returns non-zero to stop.
 */
typedef int (*av_store_bird_fn)(void *ud, const av_store_bird *b);
av_store_status av_store_birds_each(av_store *s, const av_store_filter *f, av_store_bird_fn fn,
                                    void *ud, char *err, size_t errlen);

/* A stamp that changes whenever the birds could have (an analysis stored, a
 * review, an upload or a delete, capture metadata): caches of
 * av_store_birds_each's results compare it, camera visits included. Into
 * out (at least 256 bytes). */
av_store_status av_store_birds_version(av_store *s, char *out, size_t cap, char *err,
                                       size_t errlen);

/* One upload in the gallery. */
typedef struct av_store_gallery_item {
    av_store_image img;         /* no blob */
    char seen_at[32];           /* as av_store_bird.seen_at */
    int is_video, n_reviews;
} av_store_gallery_item;

/* Uploads matching f, newest first (by upload time), offset/limit (limit
 * 1..200); *total = how many match. *out malloc'd (free()). */
av_store_status av_store_gallery(av_store *s, const av_store_filter *f, int offset, int limit,
                                 av_store_gallery_item **out, int *n, int64_t *total, char *err,
                                 size_t errlen);

/*
 * Site settings an owner changes at run time (schema v6; settings.c), shared
 * by every node: key (1-64 of [a-z_]) -> value (at most
 * AV_STORE_SETTING_MAX bytes). get: *found = 0 and out "" when unset.
 */
#define AV_STORE_SETTING_MAX 4096
av_store_status av_store_setting_get(av_store *s, const char *key, char *out, size_t cap,
                                     int *found, char *err, size_t errlen);
av_store_status av_store_setting_put(av_store *s, const char *key, const char *value, char *err,
                                     size_t errlen);
/* Unset key (OK when it was not set). */
av_store_status av_store_setting_delete(av_store *s, const char *key, char *err, size_t errlen);

#endif
