/*
 * models.c - the versions of a served model and their life cycle (one
 * registry per model; a config file serves several).
 *
 * Without a base path there is one version, 1, loaded from models_dir at
 * start. With a base path every child folder whose name is a decimal
 * number (leading zeros allowed, as TF Serving) is a version; its models
 * folder is BASE/N/models, or BASE/N itself when that holds pipeline.json.
 * Policy "latest 1": only the highest loadable version is served.
 *
 * Hot swap: the watcher thread re-scans every poll_ms. A version newer
 * than the live one is loaded outside the lock (state LOADING), then made
 * live under the lock; the old one goes UNLOADING and its pipeline is
 * closed by whoever drops its last reference (the watcher itself when no
 * request holds it), ending in END. A version that fails to load ends in
 * END with its error in status and is retried only when its folder's
 * mtime changes; the live version keeps serving meanwhile.
 */
#include "serving/internal.h"
#include "base/base.h"

#include "log/log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static av_serving__version *slot_of(av_serving__models *m, long long number)
{
    for (int i = 0; i < AV_SERVING__MAX_VERSIONS; i++)
        if (m->v[i].used && m->v[i].number == number)
            return &m->v[i];
    return NULL;
}

/* A free slot, reusing the lowest ended version when all are taken
 * (caller holds mu). */
static av_serving__version *new_slot(av_serving__models *m, long long number)
{
    av_serving__version *pick = NULL;
    for (int i = 0; i < AV_SERVING__MAX_VERSIONS && !pick; i++)
        if (!m->v[i].used)
            pick = &m->v[i];
    for (int i = 0; i < AV_SERVING__MAX_VERSIONS && !pick; i++)
        if (m->v[i].state == AV_SERVING__END && !m->v[i].pipe &&
            (!pick || m->v[i].number < pick->number))
            pick = &m->v[i];
    if (!pick)
        return NULL;
    memset(pick, 0, sizeof *pick);
    pick->used = 1;
    pick->number = number;
    pick->state = AV_SERVING__START;
    snprintf(pick->error_code, sizeof pick->error_code, "OK");
    return pick;
}

/* Parse a version folder name: all digits, fits int64. */
static int parse_version(const char *s, long long *out)
{
    if (!*s)
        return -1;
    long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (v > (LLONG_MAX - (*p - '0')) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 0;
}

/* The models folder of a version folder, and an mtime signature of it. */
static void version_dir(const char *base, const char *child, char *out, size_t cap,
                        long long *stamp)
{
    struct stat st;
    char pj[1200];
    snprintf(pj, sizeof pj, "%s/%s/pipeline.json", base, child);
    if (stat(pj, &st) == 0)
        snprintf(out, cap, "%s/%s", base, child);
    else
        snprintf(out, cap, "%s/%s/models", base, child);
    *stamp = 0;
    if (stat(out, &st) == 0)
        *stamp = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    snprintf(pj, sizeof pj, "%s/pipeline.json", out);
    if (stat(pj, &st) == 0)
        *stamp ^= (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec + st.st_size;
}

/* Drop a version from service (caller holds mu). Returns the pipeline to
 * close now (no references left), or NULL. */
static av_detect_pipeline *retire(av_serving__version *v)
{
    if (v->state != AV_SERVING__AVAILABLE)
        return NULL;
    v->state = AV_SERVING__UNLOADING;
    if (v->refs > 0)
        return NULL;
    av_detect_pipeline *p = v->pipe;
    v->pipe = NULL;
    v->state = AV_SERVING__END;
    return p;
}

/* Load one version folder into its slot and, when it is the newest, make
 * it live. Called without mu held. */
static void load_version(av_serving__models *m, long long number, const char *dir,
                         long long stamp)
{
    pthread_mutex_lock(&m->mu);
    av_serving__version *v = slot_of(m, number);
    if (!v)
        v = new_slot(m, number);
    if (!v) {
        pthread_mutex_unlock(&m->mu);
        return;
    }
    v->state = AV_SERVING__LOADING;
    v->stamp = stamp;
    snprintf(v->error_code, sizeof v->error_code, "OK");
    v->error_message[0] = '\0';
    pthread_mutex_unlock(&m->mu);

    char num[32], err[512] = "";
    snprintf(num, sizeof num, "%lld", number);
    av_log(AV_LOG_INFO, "model_loading", "model", m->name, "version", num, "dir", dir, NULL);
    av_detect_pipeline *p = NULL;
    av_detect_status st = av_detect_pipeline_open(dir, &m->open_opts, &p, err, sizeof err);

    av_detect_pipeline *close_now = NULL;
    pthread_mutex_lock(&m->mu);
    if (st != AV_DETECT_OK) {
        v->state = AV_SERVING__END;
        snprintf(v->error_code, sizeof v->error_code, "%s",
                 st == AV_DETECT_E_IO ? "NOT_FOUND" : "INVALID_ARGUMENT");
        snprintf(v->error_message, sizeof v->error_message, "%s", err);
    } else {
        v->pipe = p;
        v->state = AV_SERVING__AVAILABLE;
        if (!m->live || m->live->number < number) {
            if (m->live)
                close_now = retire(m->live);
            m->live = v;
        } else {
            close_now = retire(v); /* an older version appeared: not served */
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (st != AV_DETECT_OK)
        av_log(AV_LOG_ERROR, "model_load_failed", "model", m->name, "version", num, "error",
               err, NULL);
    else
        av_log(AV_LOG_INFO, "model_available", "model", m->name, "version", num, NULL);
    av_detect_pipeline_close(close_now);
}

/* One pass over the base path: load the newest version if it is new (or
 * changed since it failed). */
static void scan(av_serving__models *m)
{
    DIR *d = opendir(m->base_path);
    if (!d) {
        pthread_mutex_lock(&m->mu);
        int warned = m->live == NULL;
        pthread_mutex_unlock(&m->mu);
        if (warned)
            av_log(AV_LOG_DEBUG, "base_path_missing", "path", m->base_path, "error",
                   strerror(errno), NULL);
        return;
    }
    long long best = -1;
    char best_name[256] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long long n;
        char p[1200];
        struct stat st;
        if (parse_version(e->d_name, &n) || strlen(e->d_name) >= sizeof best_name)
            continue;
        snprintf(p, sizeof p, "%s/%s", m->base_path, e->d_name);
        if (stat(p, &st) || !S_ISDIR(st.st_mode))
            continue;
        /* Newest first; a version that failed and has not changed since
         * does not hide an older loadable one. */
        char dir[1200];
        long long stamp;
        version_dir(m->base_path, e->d_name, dir, sizeof dir, &stamp);
        pthread_mutex_lock(&m->mu);
        av_serving__version *v = slot_of(m, n);
        int failed = v && v->state == AV_SERVING__END && !v->pipe &&
                     strcmp(v->error_code, "OK") != 0 && v->stamp == stamp;
        pthread_mutex_unlock(&m->mu);
        if (!failed && n > best) {
            best = n;
            snprintf(best_name, sizeof best_name, "%s", e->d_name);
        }
    }
    closedir(d);
    if (best < 0)
        return;
    pthread_mutex_lock(&m->mu);
    av_serving__version *v = slot_of(m, best);
    int todo = (!m->live || m->live->number < best) &&
               (!v || v->state == AV_SERVING__END || v->state == AV_SERVING__START);
    pthread_mutex_unlock(&m->mu);
    if (!todo)
        return;
    char dir[1200];
    long long stamp;
    version_dir(m->base_path, best_name, dir, sizeof dir, &stamp);
    load_version(m, best, dir, stamp);
}

static void *watcher(void *arg)
{
    av_serving__models *m = arg;
    pthread_mutex_lock(&m->mu);
    while (!m->stopping) {
        struct timespec ts;
        av_base_deadline(&ts, m->poll_ms);
        pthread_cond_timedwait(&m->cv, &m->mu, &ts);
        if (m->stopping)
            break;
        pthread_mutex_unlock(&m->mu);
        scan(m);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

int av_serving__models_init(av_serving__models *m, const char *name, const char *models_dir,
                            const char *base_path, const av_detect_open_opts *oo, int poll_ms,
                            char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (strlen(name) >= sizeof m->name || (models_dir && strlen(models_dir) >= 500) ||
        (base_path && strlen(base_path) >= 500)) {
        snprintf(err, errlen, "serving: model name or path too long");
        return -1;
    }
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->models_dir, sizeof m->models_dir, "%s", models_dir ? models_dir : "models");
    snprintf(m->base_path, sizeof m->base_path, "%s", base_path ? base_path : "");
    m->open_opts = *oo;
    m->poll_ms = poll_ms > 0 ? poll_ms : 2000;
    if (pthread_mutex_init(&m->mu, NULL)) {
        snprintf(err, errlen, "serving: cannot create mutex");
        return -1;
    }
    if (pthread_cond_init(&m->cv, NULL)) {
        pthread_mutex_destroy(&m->mu);
        snprintf(err, errlen, "serving: cannot create condition");
        return -1;
    }
    if (!m->base_path[0]) {
        load_version(m, 1, m->models_dir, 0);
        if (!m->live) {
            snprintf(err, errlen, "%s", m->v[0].error_message);
            av_serving__models_free(m);
            return -1;
        }
        return 0;
    }
    struct stat st;
    if (stat(m->base_path, &st) || !S_ISDIR(st.st_mode))
        av_log(AV_LOG_WARN, "base_path_missing", "path", m->base_path, "note",
               "Could not find base path; waiting for it to appear", NULL);
    scan(m);
    if (!m->live)
        av_log(AV_LOG_WARN, "no_versions", "model", m->name, "path", m->base_path, "note",
               "No loadable versions found under base path (name each version folder as a"
               " number, e.g. 1/)",
               NULL);
    if (pthread_create(&m->watcher, NULL, watcher, m)) {
        snprintf(err, errlen, "serving: cannot start the version watcher");
        av_serving__models_free(m);
        return -1;
    }
    m->has_watcher = 1;
    return 0;
}

void av_serving__models_free(av_serving__models *m)
{
    if (m->has_watcher) {
        pthread_mutex_lock(&m->mu);
        m->stopping = 1;
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->watcher, NULL);
        m->has_watcher = 0;
    }
    for (int i = 0; i < AV_SERVING__MAX_VERSIONS; i++) {
        av_detect_pipeline_close(m->v[i].pipe);
        m->v[i].pipe = NULL;
    }
    m->live = NULL;
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
}

av_serving__version *av_serving__acquire(av_serving__models *m, long long version)
{
    pthread_mutex_lock(&m->mu);
    av_serving__version *v = version > 0 ? slot_of(m, version) : m->live;
    if (v && v->state == AV_SERVING__AVAILABLE && v->pipe)
        v->refs++;
    else
        v = NULL;
    pthread_mutex_unlock(&m->mu);
    return v;
}

void av_serving__release(av_serving__models *m, av_serving__version *v)
{
    if (!v)
        return;
    av_detect_pipeline *close_now = NULL;
    pthread_mutex_lock(&m->mu);
    if (--v->refs == 0 && v->state == AV_SERVING__UNLOADING) {
        close_now = v->pipe;
        v->pipe = NULL;
        v->state = AV_SERVING__END;
    }
    pthread_mutex_unlock(&m->mu);
    av_detect_pipeline_close(close_now);
}

static long long live_of(av_serving__models *m)
{
    pthread_mutex_lock(&m->mu);
    long long n = m->live ? m->live->number : 0;
    pthread_mutex_unlock(&m->mu);
    return n;
}

long long av_serving_live_version(av_serving *s)
{
    return s->n_models > 0 ? live_of(&s->model[0].models) : 0;
}

long long av_serving_live_version_of(av_serving *s, const char *name)
{
    av_serving__model *md = av_serving__find(s, name);
    return md ? live_of(&md->models) : 0;
}

av_serving__model *av_serving__find(av_serving *s, const char *name)
{
    for (int i = 0; i < s->n_models; i++)
        if (!strcmp(s->model[i].models.name, name))
            return &s->model[i];
    return NULL;
}

static json_t *version_json(const av_serving__version *v)
{
    char num[32];
    snprintf(num, sizeof num, "%lld", v->number);
    return json_pack("{s:s, s:s, s:{s:s, s:s}}", "version", num, "state",
                     av_serving__state_name(v->state), "status", "error_code", v->error_code,
                     "error_message", v->error_message);
}

json_t *av_serving__status_json(av_serving__models *m, long long version, int *http, char *msg,
                                size_t msglen)
{
    json_t *list = json_array();
    if (!list) {
        *http = 500;
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    pthread_mutex_lock(&m->mu);
    int order[AV_SERVING__MAX_VERSIONS], n = 0;
    for (int i = 0; i < AV_SERVING__MAX_VERSIONS; i++)
        if (m->v[i].used && (version <= 0 || m->v[i].number == version))
            order[n++] = i;
    for (int i = 1; i < n; i++) /* newest first */
        for (int j = i; j > 0 && m->v[order[j]].number > m->v[order[j - 1]].number; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    int oom = 0;
    for (int i = 0; i < n; i++)
        oom |= json_array_append_new(list, version_json(&m->v[order[i]])) != 0;
    pthread_mutex_unlock(&m->mu);
    if (n == 0 || oom) {
        json_decref(list);
        *http = oom ? 500 : 404;
        if (oom)
            snprintf(msg, msglen, "out of memory");
        else if (version > 0)
            snprintf(msg, msglen, "Could not find version %lld of model %s", version, m->name);
        else
            snprintf(msg, msglen, "Could not find any versions of model %s", m->name);
        return NULL;
    }
    json_t *o = json_pack("{s:o}", "model_version_status", list);
    *http = o ? 200 : 500;
    if (!o)
        snprintf(msg, msglen, "out of memory");
    return o;
}
