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

typedef struct av_config {
    int port;                          /* serve: 8080, model-server: 8501 */
    char listen[64];                   /* bind address */
    char data_dir[AV_CONFIG_PATH_MAX]; /* SQLite file, originals/, inferenced/ */
    char db_url[1024];                 /* "" = sqlite:<data>/aviary.db */
    char models_dir[AV_CONFIG_PATH_MAX];
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
    int max_conns;                     /* open connections at most */
    int max_conns_per_client;          /* per client address; 0 = no limit */
    int header_timeout_s;              /* request line and headers within this */
    int request_timeout_s;             /* body within this after the headers */
    av_log_level log_level;
    av_log_format log_format;
    char config_file[AV_CONFIG_PATH_MAX];
    char blob_store[AV_CONFIG_PATH_MAX]; /* "" = image blobs in the database */
    char tracked[1024];                  /* comma-separated scientific names */
} av_config;

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

/* Defaults for a command ("serve", "model-server", ...; NULL = generic). */
void av_config_defaults(av_config *c, const char *cmd);

/*
 * Apply config file, environment and flags, in that order, onto c (which
 * should hold defaults). `keys` lists the keys this command accepts
 * (NULL-terminated array of names). Arguments that are not accepted keys
 * are left for the command: they are copied, in order, to rest[] (borrowed
 * pointers into argv) and counted in *nrest (rest must hold argc entries).
 * Returns 0, or -1 with a message in err ("--port: 'abc' is not a number").
 */
int av_config_parse(av_config *c, const char *const *keys, int argc, char **argv,
                    char **rest, int *nrest, char *err, size_t errlen);

/* The description of a key (for help output), or NULL. */
const av_config_key *av_config_key_info(const char *name);

/* Set one key from text: 0 or -1 with a message. */
int av_config_set(av_config *c, const char *key, const char *value, char *err, size_t errlen);

/* Effective database URL: db_url, or sqlite:<data_dir>/aviary.db. */
void av_config_db_url(const av_config *c, char *out, size_t outlen);

#endif
