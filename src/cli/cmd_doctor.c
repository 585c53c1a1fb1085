/*
 * cmd_doctor.c - `aviary doctor`: checks an installation the way `aviary
 * serve` would use it (same settings; the installed aviary.conf by default)
 * and prints, for each thing wrong, what to do about it. Changes nothing:
 * no database is created or migrated (reading the schema version is what
 * `aviary db status` does), no file is left behind.
 */
#include "cli/cli.h"

#include "detect/detect.h"
#include "store/store.h"

#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const doctor_keys[] = {
    "port", "listen", "data", "db", "models", "model-url", "log-level", "log-format", NULL,
};

typedef struct report {
    int problems, warnings;
} report;

/* One line per check: "ok", "warn" or "FAIL", the topic, what was found;
 * then, when there is one, "fix:" and what to do. */
static void line(report *r, const char *status, const char *topic, const char *fix,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void line(report *r, const char *status, const char *topic, const char *fix,
                 const char *fmt, ...)
{
    va_list ap;
    printf("%-5s %-9s ", status, topic);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (fix && fix[0])
        printf("      fix: %s\n", fix);
    if (!strcmp(status, "FAIL"))
        r->problems++;
    else if (!strcmp(status, "warn"))
        r->warnings++;
}

/* The optional ImageNet second opinion: loaded or why not, and its model
 * file against the checksum its manifest gives (a file that differs loads
 * but was not measured: README "Second opinion from ImageNet"). */
static void check_second(report *r, const av_detect_pipeline *p)
{
    const char *want, *note, *model = av_detect_pipeline_second(p, &want, &note);
    char got[65];
    if (!model) {
        line(r, "ok", "second", NULL, "ImageNet second opinion off: %s (optional; "
             "scripts/setup installs it)", note);
    } else if (av_store_sha256_file(model, got)) {
        line(r, "FAIL", "second", "reinstall it with scripts/setup",
             "ImageNet second opinion loaded, but %s cannot be read: %s", model, strerror(errno));
    } else if (!want[0]) {
        line(r, "warn", "second", "add the file's \"sha256\" to imagenet.json",
             "ImageNet second opinion loaded (%s, sha256 %.12s), no checksum to check it "
             "against", model, got);
    } else if (strcmp(want, got)) {
        line(r, "FAIL", "second", "reinstall it with scripts/setup (or remove imagenet.json "
             "to run without it)", "ImageNet second opinion loaded, but %s has sha256 %.12s, "
             "not the %.12s its manifest names", model, got, want);
    } else {
        line(r, "ok", "second", NULL, "ImageNet second opinion loaded (%s, sha256 checked)",
             model);
    }
}

static void check_models(report *r, const av_config *cfg)
{
    av_config probe = *cfg;
    av_config_models_from from = av_config_find_models(&probe, NULL);
    const char *dir = probe.models_dir;
    char hint[600], err[512];
    av_config_models_hint(&probe, hint, sizeof hint);
    av_detect_open_opts oo = {.threads = 1, .max_contexts = 1};
    av_detect_pipeline *p = NULL;
    if (from == AV_CONFIG_MODELS_NONE) {
        line(r, cfg->model_url[0] ? "warn" : "FAIL", "models", hint,
             "no models folder found (none holds pipeline.json)");
        return;
    }
    if (av_detect_pipeline_open(dir, &oo, &p, err, sizeof err) != AV_DETECT_OK) {
        line(r, cfg->model_url[0] ? "warn" : "FAIL", "models", hint,
             "%s (%s) does not load: %s%s", dir, av_config_models_from_name(from), err,
             cfg->model_url[0] ? " (photos go to --model-url; videos need these)" : "");
        return;
    }
    if (av_detect_pipeline_has_species(p))
        line(r, "ok", "models", NULL, "%s (%s): detector and species model load", dir,
             av_config_models_from_name(from));
    else
        line(r, "warn", "models", hint, "%s (%s): detector loads, species unavailable: %s", dir,
             av_config_models_from_name(from), av_detect_pipeline_species_note(p));
    check_second(r, p);
    av_detect_pipeline_close(p);
}

/* Someone must be able to sign in to delete uploads and see the settings. */
static void check_owner(report *r, const av_config *cfg, const char *url)
{
    char err[512], fix[1200];
    av_store *s = NULL;
    int64_t owners = 0;
    if (av_store_open(url, &s, err, sizeof err) != AV_STORE_OK ||
        av_store_owner_count(s, &owners, err, sizeof err) != AV_STORE_OK) {
        av_store_close(s);
        line(r, "FAIL", "owner", "check the database (see above)", "cannot count owners: %s",
             err);
        return;
    }
    av_store_close(s);
    if (owners > 0) {
        line(r, "ok", "owner", NULL, "%lld owner account(s)", (long long)owners);
        return;
    }
    av_cli_owner_command(cfg, fix, sizeof fix);
    line(r, "warn", "owner", fix, "no owner account: nobody can sign in, delete uploads or see "
         "the settings");
}

/* Reachable and migrated; a SQLite file that does not exist yet is created
 * by the first `aviary serve`, so it is only noted (opening would create it). */
static void check_database(report *r, const av_config *cfg)
{
    char url[1100], shown[1100], err[512], fix[1400];
    av_config_db_url(cfg, url, sizeof url);
    av_store_redact_url(url, shown, sizeof shown);
    struct stat st;
    if (!strncmp(url, "sqlite:", 7) && stat(url + 7, &st) != 0) {
        line(r, "ok", "database", NULL, "%s does not exist yet; `aviary serve` (or `aviary db "
             "init`) creates it", shown);
        char fix[1200];
        av_cli_owner_command(cfg, fix, sizeof fix);
        line(r, "warn", "owner", fix, "no owner account yet: nobody can sign in, delete uploads "
             "or see the settings");
        return;
    }
    av_store *s = NULL;
    int have = 0;
    if (av_store_open(url, &s, err, sizeof err) != AV_STORE_OK ||
        av_store_schema_version(s, &have, err, sizeof err) != AV_STORE_OK) {
        snprintf(fix, sizeof fix, "check --db/AVIARY_DB and that the server runs and accepts "
                 "this user (AVIARY_DB_PASSWORD_FILE for the password)");
        line(r, "FAIL", "database", fix, "%s: %s", shown, err);
        av_store_close(s);
        return;
    }
    int want = av_store_migration_count(s);
    av_store_close(s);
    if (have < want) {
        snprintf(fix, sizeof fix, "aviary db migrate --db '%s' (`aviary serve` also migrates "
                 "on start)", shown);
        line(r, "FAIL", "database", fix, "%s: schema version %d, %d pending migration(s)", shown,
             have, want - have);
        return;
    }
    line(r, "ok", "database", NULL, "%s: reachable, schema version %d (current)", shown, have);
    check_owner(r, cfg, url);
}

static void check_data_dir(report *r, const av_config *cfg)
{
    char probe[AV_CONFIG_PATH_MAX + 32], fix[AV_CONFIG_PATH_MAX + 200];
    const char *dir = cfg->data_dir;
    struct stat st;
    if (stat(dir, &st) != 0) {
        snprintf(fix, sizeof fix, "mkdir -p %s (owned by the user aviary runs as)", dir);
        /* serve creates it when its parent lets it */
        char parent[AV_CONFIG_PATH_MAX];
        snprintf(parent, sizeof parent, "%s", dir);
        char *slash = strrchr(parent, '/');
        if (slash)
            *(slash == parent ? slash + 1 : slash) = '\0';
        else
            snprintf(parent, sizeof parent, ".");
        struct stat pst;
        if (stat(parent, &pst) == 0 && S_ISDIR(pst.st_mode) && access(parent, W_OK) == 0)
            line(r, "ok", "data", NULL, "%s does not exist yet; `aviary serve` creates it", dir);
        else
            line(r, "FAIL", "data", fix, "%s does not exist and %s is no writable folder", dir,
                 parent);
        return;
    }
    snprintf(probe, sizeof probe, "%s/.aviary-doctor-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) {
        snprintf(fix, sizeof fix, "chown -R the user aviary runs as: %s (or pick --data DIR)",
                 dir);
        line(r, "FAIL", "data", fix, "%s is not writable: %s", dir, strerror(errno));
        return;
    }
    close(fd);
    unlink(probe);
    line(r, "ok", "data", NULL, "%s is writable", dir);
}

static size_t discard(void *p, size_t size, size_t n, void *ud)
{
    (void)p;
    size_t *got = ud;
    *got += size * n;
    return size * n;
}

/* Whether an aviary answers /healthz on the port (then "in use" is fine). */
static int aviary_answers(const char *host, int port)
{
    CURL *h = curl_easy_init();
    if (!h)
        return 0;
    char url[200];
    snprintf(url, sizeof url, "http://%s:%d/healthz",
             strcmp(host, "0.0.0.0") && strcmp(host, "::") ? host : "127.0.0.1", port);
    size_t got = 0;
    long code = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
    int ok = curl_easy_perform(h) == CURLE_OK &&
             curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200;
    curl_easy_cleanup(h);
    return ok;
}

static void check_port(report *r, const av_config *cfg)
{
    char service[16], fix[200];
    snprintf(service, sizeof service, "%d", cfg->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(cfg->listen, service, &hints, &ai);
    if (gai != 0) {
        line(r, "FAIL", "port", "give --listen an address of this machine",
             "--listen %s: %s", cfg->listen, gai_strerror(gai));
        return;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), err = 0;
    if (fd < 0) {
        err = errno;
    } else {
        int one = 1; /* as the server binds: a port in TIME_WAIT counts as free */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
            err = errno;
        close(fd);
    }
    freeaddrinfo(ai);
    if (!err) {
        line(r, "ok", "port", NULL, "%s:%d is free", cfg->listen, cfg->port);
    } else if (err == EADDRINUSE && aviary_answers(cfg->listen, cfg->port)) {
        line(r, "ok", "port", NULL, "%s:%d is in use by a running aviary (/healthz answers)",
             cfg->listen, cfg->port);
    } else {
        snprintf(fix, sizeof fix, "%s", err == EADDRINUSE
                 ? "stop the program using it (ss -ltnp) or pick another --port"
                 : err == EACCES ? "ports below 1024 need privileges: pick --port 1024 or above"
                                 : "check --listen and --port");
        line(r, "FAIL", "port", fix, "%s:%d cannot be bound: %s", cfg->listen, cfg->port,
             strerror(err));
    }
}

static int run_doctor(const av_config *cfg, int argc, char **argv)
{
    if (argc > 0)
        return av_cli_usage(&av_cli_doctor, "unexpected argument '%s'", argv[0]);
    report r = {0};
    printf("aviary %s doctor\n", AV_VERSION);
    if (cfg->config_file[0])
        line(&r, "ok", "config", NULL, "%s", cfg->config_file);
    else
        line(&r, "ok", "config", NULL, "none (%s not found): flags, AVIARY_* and defaults",
             av_config_installed_conf);
    if (geteuid() == 0)
        printf("      (run as root: write access is root's; the service runs as aviary, so "
               "also try `runuser -u aviary -- aviary doctor`)\n");
    check_models(&r, cfg);
    check_database(&r, cfg);
    check_data_dir(&r, cfg);
    check_port(&r, cfg);
    if (r.problems)
        printf("%d problem(s), %d warning(s): fix the lines marked FAIL\n", r.problems,
               r.warnings);
    else
        printf("no problems%s\n", r.warnings ? " (see the warnings)" : "");
    return r.problems ? 1 : 0;
}

const av_cli_cmd av_cli_doctor = {
    .name = "doctor",
    .summary = "check the installation: models, database, data folder, port",
    .usage = "[--config FILE] [--data DIR] [--db URL] [--models DIR] [--port N]",
    .keys = doctor_keys,
    .installed_config = 1,
    .extra_help =
        "Checks what `aviary serve` would use, with the same settings, and reads the\n"
        "installed config file by default: the models load (detector and species,\n"
        "and the optional ImageNet second opinion against its manifest's sha256),\n"
        "the database answers and its schema is current, the data folder is writable,\n"
        "the port is free (or a running aviary answers on it). Each problem is printed\n"
        "with what to do. Migrates and creates nothing. Exit status 0 when no check\n"
        "failed, else 1.\n",
    .run = run_doctor,
};
