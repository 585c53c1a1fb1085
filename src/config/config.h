/*
 * config.h - settings shared by every aviary command.
 *
 * Precedence, highest first: command-line flags (--port 8080 or --port=8080),
 * environment (AVIARY_PORT, AVIARY_DATA, ...: the flag name upper-cased with
 * '-' as '_'), the config file (--config FILE or AVIARY_CONFIG; lines
 * "key = value", '#' comments; keys are the flag names), built-in defaults.
 */
#ifndef AV_CONFIG_H
#define AV_CONFIG_H

#include <stddef.h>

#include "log/log.h"

#define AV_CONFIG_PATH_MAX 512
#define AV_VERSION "0.1.0"

#define AV_CONFIG_STATUS_MAP(X)                              \
    X(OK, 0, "ok")                                           \
    X(E_VALUE, 1, "invalid value for a setting")             \
    X(E_KEY, 2, "unknown setting")                           \
    X(E_IO, 3, "a file the settings name cannot be read")    \
    X(E_SYNTAX, 4, "malformed config file")                  \
    X(E_USAGE, 5, "a flag without its value")

typedef enum av_config_status {
#define X(name, num, msg) AV_CONFIG_##name = num,
    AV_CONFIG_STATUS_MAP(X)
#undef X
} av_config_status;

/* Static string for a status; never NULL. */
const char *av_config_strerror(av_config_status st);
/* Static name of a status ("E_VALUE"); never NULL. */
const char *av_config_status_name(av_config_status st);

typedef struct av_config {
    int port;                          /* serve: 8080, model-server: 8501 */
    char listen[64];                   /* bind address */
    char data_dir[AV_CONFIG_PATH_MAX]; /* SQLite file, originals/, inferenced/ */
    char db_url[1024];                 /* "" = sqlite:<data>/aviary.db */
    char models_dir[AV_CONFIG_PATH_MAX];
    int models_set;                    /* models given by flag, environment or file */
    char model_url[1024];              /* "" = in-process inference */
    char model_name[128];              /* TF Serving model name */
    char model_base_path[AV_CONFIG_PATH_MAX];
    char model_config_file[AV_CONFIG_PATH_MAX]; /* model-server: "" = one model */
    int batch_max;                     /* model-server: <= 1 = batching off */
    int batch_wait_ms;
    int batch_queue;
    int batch_threads;                 /* model-server: 0 = CPU count */
    int threads;                       /* inference threads per request */
    int workers;                       /* HTTP worker threads */
    long long max_upload_bytes;
    long long max_pixels;
    long long max_video_bytes;         /* serve: largest video upload */
    int max_video_seconds;             /* serve: longest video */
    int retrain_auto;                  /* serve: --retrain-auto N (0 = off) */
    int max_conns;                     /* open connections at most */
    int max_conns_per_client;          /* per client address; 0 = no limit */
    int header_timeout_s;              /* request line and headers within this */
    int request_timeout_s;             /* body within this after the headers */
    av_log_level log_level;
    av_log_format log_format;
    char config_file[AV_CONFIG_PATH_MAX];
    char blob_store[AV_CONFIG_PATH_MAX]; /* "" = image blobs in the database */
    char tracked[1024];                  /* comma-separated scientific names */
    int guest;                           /* serve: AV_CONFIG_GUEST_* bits, 0 = default */
    char metrics_token[256];             /* serve: "" = /metrics open */
    char trusted_proxies[512];           /* serve: proxies whose X-Forwarded-For counts */
    char species_list[AV_CONFIG_PATH_MAX]; /* site species list file or shipped NAME; "" = all */
    /* serve: live cameras (issue 19; keys in config/cameras.c) */
    char cameras[16384];           /* "NAME.KEY=VALUE" lines: --camera NAME=URL, camera.NAME.KEY */
    double camera_cpu_budget;      /* cores for camera analyses; 0 = all */
    char camera_node[128];         /* this node's name in camera leases; "" = host:pid */
    int camera_lease_s;
    char camera_webhook[1024], camera_webhook_secret[256];
    char camera_notify_allow[1024], camera_notify_block[1024];
    int camera_notify_first_of_day, camera_notify_new_species;
    double camera_notify_min_score, camera_notify_cooldown_s;
    int camera_retention_days;     /* 0 = keep every best frame */
    int camera_keep_best;          /* best frames kept per species whatever their age */
    char camera_mqtt[1024];        /* mqtt://[user:pass@]host[:port]; "" = off */
    char camera_mqtt_prefix[64];
    int camera_mqtt_discovery;     /* Home Assistant discovery messages */
    char camera_frigate_url[1024]; /* Frigate's HTTP API; "" = no Frigate events */
    char camera_frigate_topic[64]; /* Frigate's MQTT prefix */
} av_config;

/* --guest: what visitors who are not signed in may do (the same bits as
 * web.h's AV_WEB_GUEST_*; SET marks an explicit list, so "none" is SET alone). */
enum { AV_CONFIG_GUEST_VIEW = 1, AV_CONFIG_GUEST_UPLOAD = 2, AV_CONFIG_GUEST_VOTE = 4,
       AV_CONFIG_GUEST_SET = 8 };


/* Most tracked classes the monitor plots. */
#define AV_CONFIG_MAX_TRACKED 16

/*
 * Split c->tracked into at most max names (each trimmed, at most cap-1
 * bytes, copied into names[i]). Returns the count, or -1 with a message
 * when a name is empty or too long, or there are more than max.
 */
int av_config_tracked(const av_config *c, char (*names)[128], int max, char *err, size_t errlen);

/* One settable key, for --help tables and validation. */
typedef struct av_config_key {
    const char *name;  /* flag name without "--" */
    const char *arg;   /* "N", "DIR", ... */
    const char *help;
} av_config_key;

/* config/cameras.c: the camera keys ("camera", "camera.NAME.KEY", "camera-*"). */
av_config_status av_config__camera_set(av_config *c, const char *key, const char *value,
                                       char *err, size_t errlen);
void av_config__camera_defaults(av_config *c);
extern const av_config_key av_config__camera_keys[];
/* The key pattern "camera.NAME.KEY" stands for every per-camera setting. */
extern const av_config_key av_config__camera_item;

/* Defaults for a command ("serve", "model-server", ...; NULL = generic). */
void av_config_defaults(av_config *c, const char *cmd);

/*
 * Apply config file, environment and flags, in that order, onto c (which
 * should hold defaults; a config_file set beforehand is read when neither
 * --config nor AVIARY_CONFIG names one). `keys` lists the keys this command accepts
 * (NULL-terminated array of names). Arguments that are not accepted keys
 * are left for the command: they are copied, in order, to rest[] (borrowed
 * pointers into argv) and counted in *nrest (rest must hold argc entries).
 * Returns AV_CONFIG_OK, or a status with a message in err ("--port: 'abc'
 * is not a number"): E_USAGE for a flag without its value, E_SYNTAX for a
 * malformed config file, else as av_config_set.
 */
av_config_status av_config_parse(av_config *c, const char *const *keys, int argc, char **argv,
                                 char **rest, int *nrest, char *err, size_t errlen);

/* The description of a key (for help output), or NULL. */
const av_config_key *av_config_key_info(const char *name);

/* Set one key from text: AV_CONFIG_OK, or E_KEY (no such setting), E_VALUE
 * (not a valid value for it) or E_IO (a file it names cannot be read),
 * with a message in err. */
av_config_status av_config_set(av_config *c, const char *key, const char *value, char *err,
                               size_t errlen);

/* Effective database URL: db_url, or sqlite:<data_dir>/aviary.db. */
void av_config_db_url(const av_config *c, char *out, size_t outlen);

/*
 * Installed layout (make install / the .deb), compiled in from the
 * Makefile's PREFIX: e.g. "/usr/local/share/aviary/models" and
 * "/usr/local/etc/aviary/aviary.conf".
 */
extern const char av_config_installed_models[];
extern const char av_config_installed_conf[];

/* Where av_config_find_models took the models folder from. */
typedef enum av_config_models_from {
    AV_CONFIG_MODELS_GIVEN,     /* --models, AVIARY_MODELS or the config file */
    AV_CONFIG_MODELS_CWD,       /* ./models, holding pipeline.json */
    AV_CONFIG_MODELS_INSTALLED, /* the installed folder, holding pipeline.json */
    AV_CONFIG_MODELS_NONE,      /* no pipeline.json anywhere: ./models kept */
} av_config_models_from;

/*
 * Pick c->models_dir when no setting named one: ./models if it holds
 * pipeline.json, else `installed` (NULL = av_config_installed_models) if it
 * does, else ./models (the load then fails with av_config_models_hint's
 * advice).
 */
av_config_models_from av_config_find_models(av_config *c, const char *installed);

/* "--models/AVIARY_MODELS", "./models", "installed", "none": for logs. */
const char *av_config_models_from_name(av_config_models_from from);

/*
 * What to do when no models load: where they were looked for and the
 * command that fetches them, one sentence into out (truncated to outlen).
 */
void av_config_models_hint(const av_config *c, char *out, size_t outlen);

#endif
