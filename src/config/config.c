/*
 * config.c - defaults < config file < environment < flags.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_MAX_BYTES (64 * 1024)

static const av_config_key g_keys[] = {
    {"config", "FILE", "read settings from FILE (key = value lines)"},
    {"port", "N", "TCP port to listen on"},
    {"listen", "ADDR", "address to bind (default 0.0.0.0)"},
    {"data", "DIR", "data folder: SQLite file, originals/, inferenced/ (default ./data)"},
    {"db", "URL", "database: sqlite:PATH or mysql://user:pass@host:port/db (default sqlite:DIR/aviary.db)"},
    {"models", "DIR", "folder of model manifests and files (default ./models if it holds "
                      "pipeline.json, else the installed models)"},
    {"model-url", "URL", "run inference on this TF-Serving-compatible endpoint instead of in-process"},
    {"model-name", "NAME", "model name served or called (default birdsClassifier)"},
    {"model-base-path", "DIR", "model server: folder of numeric version folders (serve: where "
                               "the monitor's Retrain now writes versions)"},
    {"retrain-auto", "N", "serve: retrain by itself when the retraining warning holds and N "
                          "reviewed birds arrived since the last run (default 0: off)"},
    {"model-config-file", "FILE", "model server: serve every model listed in FILE (TF Serving "
                                  "model_config_list text format)"},
    {"batch-max", "N", "model server: run up to N images of concurrent requests as one batch "
                       "(default 0: batching off)"},
    {"batch-wait-ms", "MS", "model server: longest wait for a batch to fill (default 5)"},
    {"batch-queue", "N", "model server: requests waiting for a batch at most, then 503 "
                         "(default 64)"},
    {"batch-threads", "N", "model server: batches run at once per model (default: CPU count, "
                           "at most --workers)"},
    {"threads", "N", "inference threads per request (default 2)"},
    {"workers", "N", "HTTP worker threads (default 4)"},
    {"max-upload-mb", "N", "largest accepted upload in MB (default 30)"},
    {"max-megapixels", "N", "largest accepted image in megapixels (default 50)"},
    {"max-video-mb", "N", "largest accepted video upload in MB (default 200)"},
    {"max-video-seconds", "N", "longest accepted video in seconds (default 600)"},
    {"max-conns", "N", "open connections at most (default 10000, within the open-file limit)"},
    {"max-conns-per-client", "N", "open connections per client address (default 64; 0: no "
                                  "limit, for a node behind a proxy that limits instead)"},
    {"header-timeout", "S", "seconds a client has for a request's line and headers "
                            "(default 30; the idle timeout is 60)"},
    {"request-timeout", "S", "seconds a client has for a request's body after its headers "
                             "(default 900)"},
    {"log-level", "LEVEL", "debug, info, warn, error or off (default info)"},
    {"log-format", "FMT", "logfmt or json (default logfmt)"},
    {"blob-store", "DIR", "keep uploaded images as files under DIR instead of database blobs"},
    {"species-list", "FILE", "name only these species: one scientific name a line, or NAME for "
                             "models/sites/NAME.txt (britain-ireland, europe, north-america)"},
    {"tracked", "LIST", "comma-separated species the monitor tracks (default: the original's "
                        "Erithacus rubecula, Periparus ater, Pica pica)"},
    {"guest", "LIST", "what visitors who are not signed in may do: comma list of view, upload,"
                      " vote, or none (default upload,vote; each implies view)"},
    {"metrics-token", "TOKEN", "require Authorization: Bearer TOKEN on /metrics (default: open)"},
    {"metrics-token-file", "FILE", "read the /metrics token from the first line of FILE"},
    {"trusted-proxies", "LIST", "comma-separated proxy addresses whose X-Forwarded-For names the"
                                " client (sign-in rate limit per address)"},
    {NULL, NULL, NULL},
};

const av_config_key *av_config_key_info(const char *name)
{
    for (const av_config_key *k = g_keys; k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    for (const av_config_key *k = av_config__camera_keys; k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    if (strncmp(name, "camera.", 7) == 0)
        return &av_config__camera_item;
    return NULL;
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

void av_config_defaults(av_config *c, const char *cmd)
{
    memset(c, 0, sizeof *c);
    c->port = (cmd && strcmp(cmd, "model-server") == 0) ? 8501 : 8080;
    copy(c->listen, sizeof c->listen, "0.0.0.0");
    copy(c->data_dir, sizeof c->data_dir, "data");
    copy(c->models_dir, sizeof c->models_dir, "models");
    copy(c->model_name, sizeof c->model_name, "birdsClassifier");
    c->threads = 2;
    c->workers = 4;
    c->batch_wait_ms = 5;
    c->batch_queue = 64;
    c->max_upload_bytes = 30LL * 1000 * 1000;
    c->max_pixels = 50LL * 1000 * 1000;
    c->max_video_bytes = 200LL * 1000 * 1000;
    c->max_video_seconds = 600;
    c->max_conns = 10000;
    c->max_conns_per_client = 64;
    c->header_timeout_s = 30;
    c->request_timeout_s = 900;
    c->log_level = AV_LOG_INFO;
    c->log_format = AV_LOG_LOGFMT;
    copy(c->tracked, sizeof c->tracked, "Erithacus rubecula,Periparus ater,Pica pica");
    av_config__camera_defaults(c);
}

static av_config_status parse_ll(const char *key, const char *v, long long lo, long long hi,
                                 long long *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end != '\0') {
        snprintf(err, errlen, "--%s: '%s' is not a whole number", key, v);
        return AV_CONFIG_E_VALUE;
    }
    if (x < lo || x > hi) {
        snprintf(err, errlen, "--%s: %lld is out of range %lld..%lld", key, x, lo, hi);
        return AV_CONFIG_E_VALUE;
    }
    *out = x;
    return AV_CONFIG_OK;
}

static av_config_status set_str(char *dst, size_t cap, const char *key, const char *v, char *err,
                                size_t errlen)
{
    if (strlen(v) >= cap) {
        snprintf(err, errlen, "--%s: value longer than %zu bytes", key, cap - 1);
        return AV_CONFIG_E_VALUE;
    }
    copy(dst, cap, v);
    return AV_CONFIG_OK;
}

static av_config_status parse_guest(const char *v, int *out, char *err, size_t errlen)
{
    int g = AV_CONFIG_GUEST_SET, none = 0;
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (!n)
            break;
        if (n == 4 && !strncmp(p, "view", 4))
            g |= AV_CONFIG_GUEST_VIEW;
        else if (n == 6 && !strncmp(p, "upload", 6))
            g |= AV_CONFIG_GUEST_UPLOAD | AV_CONFIG_GUEST_VIEW;
        else if (n == 4 && !strncmp(p, "vote", 4))
            g |= AV_CONFIG_GUEST_VOTE | AV_CONFIG_GUEST_VIEW;
        else if (n == 4 && !strncmp(p, "none", 4))
            none = 1;
        else {
            snprintf(err, errlen, "--guest: '%.*s' is not one of view, upload, vote, none",
                     (int)(n > 40 ? 40 : n), p);
            return AV_CONFIG_E_VALUE;
        }
        p += n;
    }
    if (none && g != AV_CONFIG_GUEST_SET) {
        snprintf(err, errlen, "--guest: 'none' cannot be combined with other rights");
        return AV_CONFIG_E_VALUE;
    }
    if (!none && g == AV_CONFIG_GUEST_SET) {
        snprintf(err, errlen, "--guest: empty (say none to let guests only sign in)");
        return AV_CONFIG_E_VALUE;
    }
    *out = g;
    return AV_CONFIG_OK;
}

/* The first line of a file holding a secret (a token), without its newline. */
static av_config_status read_secret(const char *path, char *dst, size_t cap, char *err,
                                    size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return AV_CONFIG_E_IO;
    }
    char line[512];
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[ok ? strcspn(line, "\r\n") : 0] = '\0';
    if (!line[0] || strlen(line) >= cap) {
        snprintf(err, errlen, "%s: expected a token of 1-%zu characters on its first line", path,
                 cap - 1);
        return AV_CONFIG_E_VALUE;
    }
    memcpy(dst, line, strlen(line) + 1); /* fits: checked above */
    return AV_CONFIG_OK;
}

av_config_status av_config_set(av_config *c, const char *key, const char *v, char *err,
                               size_t errlen)
{
    long long x;
    if (strncmp(key, "camera", 6) == 0)
        return av_config__camera_set(c, key, v, err, errlen);
#define STR(field) set_str(c->field, sizeof c->field, key, v, err, errlen)
    if (strcmp(key, "config") == 0)
        return STR(config_file);
    if (strcmp(key, "port") == 0) {
        if (parse_ll(key, v, 0, 65535, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->port = (int)x;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "listen") == 0)
        return STR(listen);
    if (strcmp(key, "data") == 0)
        return STR(data_dir);
    if (strcmp(key, "db") == 0)
        return STR(db_url);
    if (strcmp(key, "models") == 0) {
        c->models_set = 1;
        return STR(models_dir);
    }
    if (strcmp(key, "model-url") == 0)
        return STR(model_url);
    if (strcmp(key, "model-name") == 0)
        return STR(model_name);
    if (strcmp(key, "model-base-path") == 0)
        return STR(model_base_path);
    if (strcmp(key, "model-config-file") == 0)
        return STR(model_config_file);
    if (strcmp(key, "blob-store") == 0)
        return STR(blob_store);
    if (strcmp(key, "species-list") == 0)
        return STR(species_list);
    if (strcmp(key, "tracked") == 0) {
        av_config probe = *c;
        char names[AV_CONFIG_MAX_TRACKED][128];
        if (STR(tracked) ||
            av_config_tracked(c, names, AV_CONFIG_MAX_TRACKED, err, errlen) < 0) {
            *c = probe; /* keep the old list on a bad one */
            return AV_CONFIG_E_VALUE;
        }
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "guest") == 0)
        return parse_guest(v, &c->guest, err, errlen);
    if (strcmp(key, "metrics-token") == 0)
        return STR(metrics_token);
    if (strcmp(key, "metrics-token-file") == 0)
        return read_secret(v, c->metrics_token, sizeof c->metrics_token, err, errlen);
    if (strcmp(key, "trusted-proxies") == 0)
        return STR(trusted_proxies);
    if (strcmp(key, "threads") == 0) {
        if (parse_ll(key, v, 1, 256, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->threads = (int)x;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "batch-max") == 0) {
        if (parse_ll(key, v, 0, 256, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->batch_max = (int)x;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "batch-wait-ms") == 0) {
        if (parse_ll(key, v, 0, 60000, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->batch_wait_ms = (int)x;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "batch-threads") == 0) {
        if (parse_ll(key, v, 0, 64, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->batch_threads = (int)x;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "batch-queue") == 0) {
        if (parse_ll(key, v, 1, 100000, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->batch_queue = (int)x;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "workers") == 0) {
        if (parse_ll(key, v, 1, 1024, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->workers = (int)x;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "max-upload-mb") == 0) {
        if (parse_ll(key, v, 1, 100000, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->max_upload_bytes = x * 1000 * 1000;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "max-megapixels") == 0) {
        if (parse_ll(key, v, 1, 1000, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->max_pixels = x * 1000 * 1000;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "max-video-mb") == 0) {
        if (parse_ll(key, v, 1, 100000, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->max_video_bytes = x * 1000 * 1000;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "retrain-auto") == 0) {
        if (parse_ll(key, v, 0, 1000000, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->retrain_auto = (int)x;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "max-video-seconds") == 0) {
        if (parse_ll(key, v, 1, 86400, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->max_video_seconds = (int)x;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "max-conns") == 0) {
        if (parse_ll(key, v, 1, 1000000, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->max_conns = (int)x;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "max-conns-per-client") == 0) {
        if (parse_ll(key, v, 0, 1000000, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->max_conns_per_client = (int)x;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "header-timeout") == 0 || strcmp(key, "request-timeout") == 0) {
        if (parse_ll(key, v, 1, 86400, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        *(key[0] == 'h' ? &c->header_timeout_s : &c->request_timeout_s) = (int)x;
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "log-level") == 0) {
        if (av_log_parse_level(v, &c->log_level)) {
            snprintf(err, errlen, "--log-level: '%s' is not one of debug, info, warn, error, off", v);
            return AV_CONFIG_E_VALUE;
        }
        return AV_CONFIG_OK;
    }
    if (strcmp(key, "log-format") == 0) {
        if (av_log_parse_format(v, &c->log_format)) {
            snprintf(err, errlen, "--log-format: '%s' is not logfmt or json", v);
            return AV_CONFIG_E_VALUE;
        }
        return AV_CONFIG_OK;
    }
#undef STR
    snprintf(err, errlen, "unknown setting '%s'", key);
    return AV_CONFIG_E_KEY;
}

static int key_allowed(const char *const *keys, const char *name)
{
    if (strcmp(name, "config") == 0)
        return 1;
    for (; keys && *keys; keys++)
        if (strcmp(*keys, name) == 0 ||
            (strcmp(*keys, "camera") == 0 && strncmp(name, "camera.", 7) == 0))
            return 1;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static av_config_status load_file(av_config *c, const char *const *keys, const char *path,
                                  char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "config file %s: %s", path, strerror(errno));
        return AV_CONFIG_E_IO;
    }
    char line[2048];
    int lineno = 0;
    av_config_status rc = AV_CONFIG_OK;
    long total = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        total += (long)strlen(line);
        if (total > FILE_MAX_BYTES) {
            snprintf(err, errlen, "config file %s: larger than %d bytes", path, FILE_MAX_BYTES);
            rc = AV_CONFIG_E_SYNTAX;
            break;
        }
        char *s = trim(line);
        if (*s == '#' || *s == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "config file %s:%d: expected 'key = value'", path, lineno);
            rc = AV_CONFIG_E_SYNTAX;
            break;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        if (strcmp(k, "config") == 0 || !av_config_key_info(k)) {
            snprintf(err, errlen, "config file %s:%d: unknown key '%s'", path, lineno, k);
            rc = AV_CONFIG_E_KEY;
            break;
        }
        if (!key_allowed(keys, k))
            continue; /* a shared file may hold other commands' keys */
        char sub[512];
        rc = av_config_set(c, k, v, sub, sizeof sub);
        if (rc != AV_CONFIG_OK) {
            snprintf(err, errlen, "config file %s:%d: %s", path, lineno, sub);
            break;
        }
    }
    fclose(f);
    return rc;
}

static void env_name(const char *key, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "AVIARY_");
    for (const char *p = key; *p && n + 1 < cap; p++)
        out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

/* Split "--key=value" / "--key value"; returns 1 if argv[*i] is an accepted key. */
static int flag_at(const char *const *keys, int argc, char **argv, int *i, char *key, size_t kcap,
                   const char **val, char *err, size_t errlen, int *bad)
{
    const char *a = argv[*i];
    *bad = 0;
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
        return 0;
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t klen = eq ? (size_t)(eq - name) : strlen(name);
    if (klen >= kcap)
        return 0;
    memcpy(key, name, klen);
    key[klen] = '\0';
    if (!key_allowed(keys, key) || !av_config_key_info(key))
        return 0;
    if (eq) {
        *val = eq + 1;
    } else {
        if (*i + 1 >= argc) {
            snprintf(err, errlen, "--%s needs a value (%s)", key, av_config_key_info(key)->arg);
            *bad = 1;
            return 1;
        }
        *val = argv[++*i];
    }
    return 1;
}

av_config_status av_config_parse(av_config *c, const char *const *keys, int argc, char **argv,
                                 char **rest, int *nrest, char *err, size_t errlen)
{
    char key[64];
    const char *val;
    int bad;
    av_config_status st;
    *nrest = 0;

    /* The config file is named by a flag or the environment: find it first. */
    const char *cfg = getenv("AVIARY_CONFIG");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (flag_at(keys, argc, argv, &i, key, sizeof key, &val, err, errlen, &bad)) {
            if (bad)
                return AV_CONFIG_E_USAGE;
            if (strcmp(key, "config") == 0)
                cfg = val;
        }
    }
    if (!cfg && c->config_file[0]) /* a command's default file (doctor) */
        cfg = c->config_file;
    if (cfg && *cfg) {
        st = cfg != c->config_file
                 ? set_str(c->config_file, sizeof c->config_file, "config", cfg, err, errlen)
                 : AV_CONFIG_OK;
        if (st == AV_CONFIG_OK)
            st = load_file(c, keys, cfg, err, errlen);
        if (st != AV_CONFIG_OK)
            return st;
    }

    const av_config_key *tables[2] = {g_keys, av_config__camera_keys};
    for (int t = 0; t < 2; t++) {
        for (const av_config_key *k = tables[t]; k->name; k++) {
            if (strcmp(k->name, "config") == 0 || !key_allowed(keys, k->name))
                continue;
            char env[80];
            env_name(k->name, env, sizeof env);
            const char *v = getenv(env);
            if (v && *v) {
                char sub[512];
                st = av_config_set(c, k->name, v, sub, sizeof sub);
                if (st != AV_CONFIG_OK) {
                    snprintf(err, errlen, "%s: %s", env, sub);
                    return st;
                }
            }
        }
    }

    int only_positional = 0;
    for (int i = 0; i < argc; i++) {
        if (!only_positional && strcmp(argv[i], "--") == 0) {
            only_positional = 1;
            rest[(*nrest)++] = argv[i];
            continue;
        }
        if (!only_positional &&
            flag_at(keys, argc, argv, &i, key, sizeof key, &val, err, errlen, &bad)) {
            if (bad)
                return AV_CONFIG_E_USAGE;
            if (strcmp(key, "config") == 0)
                continue;
            st = av_config_set(c, key, val, err, errlen);
            if (st != AV_CONFIG_OK)
                return st;
            continue;
        }
        rest[(*nrest)++] = argv[i];
    }
    return AV_CONFIG_OK;
}

void av_config_db_url(const av_config *c, char *out, size_t outlen)
{
    if (c->db_url[0])
        snprintf(out, outlen, "%s", c->db_url);
    else
        snprintf(out, outlen, "sqlite:%s/aviary.db", c->data_dir);
}

int av_config_tracked(const av_config *c, char (*names)[128], int max, char *err, size_t errlen)
{
    int n = 0;
    const char *p = c->tracked;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *a = p, *b = p + len;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a == b || (size_t)(b - a) >= 128 || n == max) {
            snprintf(err, errlen,
                     n == max ? "--tracked: more than %d classes"
                     : a == b ? "--tracked: empty class name (at class %d)"
                              : "--tracked: class name %d longer than 127 bytes",
                     n == max ? max : n + 1);
            return -1;
        }
        memcpy(names[n], a, (size_t)(b - a));
        names[n][b - a] = '\0';
        n++;
        if (!end)
            break;
        p = end + 1;
    }
    return n;
}

const char *av_config_strerror(av_config_status st)
{
    switch (st) {
#define X(name, num, msg) \
    case AV_CONFIG_##name: return msg;
        AV_CONFIG_STATUS_MAP(X)
#undef X
    }
    return "unknown status";
}

const char *av_config_status_name(av_config_status st)
{
    switch (st) {
#define X(name, num, msg) \
    case AV_CONFIG_##name: return #name;
        AV_CONFIG_STATUS_MAP(X)
#undef X
    }
    return "UNKNOWN";
}
