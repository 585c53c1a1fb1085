/*
 * retrain.c - the monitor page's owner-only "Retrain now": runs what
 * `aviary train species` runs (av_train_species) on a background thread,
 * one run at a time per database (a lease row in camera_leases under a name
 * no camera can clash with in practice), its state kept as the site setting
 * "retrain_status" so every node's /monitor shows it. With --retrain-auto N
 * a checker thread starts the same run by itself when the monitor's
 * retraining warning holds and >= N reviewed birds arrived since the last
 * run started (the site setting "retrain_since").
 */
#include "web/internal.h"
#include "base/base.h"

#include "log/log.h"
#include "train/train.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RETRAIN_LEASE "_retrain-species"
#define RETRAIN_LEASE_MS (60 * 60 * 1000) /* a run is seconds to minutes; a dead node's lapses */
#define STATUS_KEY "retrain_status"
#define SINCE_KEY "retrain_since"
#define CHECK_MS_DEFAULT 60000

struct av_web__retrain {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th, checker;
    int running, joinable, has_checker, stopping;
    char node[128];
};

static void *check_loop(void *arg);

int av_web__retrain_new(av_web *w)
{
    av_web__retrain *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    char host[64] = "node";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(r->node, sizeof r->node, "%s:%ld:%p", host, (long)getpid(), (void *)w);
    w->retrain = r;
    if (w->o.retrain_auto > 0 && w->o.retrain_out_dir && *w->o.retrain_out_dir)
        r->has_checker = pthread_create(&r->checker, NULL, check_loop, w) == 0;
    return 0;
}

void av_web__retrain_free(av_web__retrain *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (r->has_checker)
        pthread_join(r->checker, NULL);
    if (r->joinable) /* a run in progress finishes first: its version is written whole */
        pthread_join(r->th, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static void put_status(av_web *w, const char *text)
{
    char err[256];
    if (av_store_setting_put(w->o.store, STATUS_KEY, text, err, sizeof err) != AV_STORE_OK)
        av_log(AV_LOG_ERROR, "retrain_status_failed", "error", err, NULL);
}

static void now_utc(char *out, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void *run(void *arg)
{
    av_web *w = arg;
    av_web__retrain *rt = w->retrain;
    av_train_result *res = calloc(1, sizeof *res); /* large: the per-species table */
    char err[1024] = "", when[40], text[AV_STORE_SETTING_MAX];
    av_train_opts o = {.db_url = w->o.retrain_db_url, .models_dir = w->o.retrain_models_dir,
                       .out_dir = w->o.retrain_out_dir, .min_reviews = 20, .seed = 1,
                       .quiet = 1};
    av_train_status st = res ? av_train_species(&o, res, err, sizeof err) : AV_TRAIN_E_NOMEM;
    if (!res)
        snprintf(err, sizeof err, "out of memory");
    now_utc(when, sizeof when);
    if (st)
        snprintf(text, sizeof text, "failed at %s: %.900s", when, err);
    else
        snprintf(text, sizeof text,
                 "%s at %s: version %lld (%.800s), held-back top-1 %.1f%% (base %.1f%%)%s%.256s",
                 res->promoted ? "promoted" : "written as a candidate", when, res->version,
                 res->path, res->eval.new_top1, res->eval.base_top1,
                 res->promoted ? "" : "; not served: ", res->promoted ? "" : res->eval.reason);
    free(res);
    put_status(w, text);
    av_log(st ? AV_LOG_ERROR : AV_LOG_INFO, "retrain_done", "result", text, NULL);
    av_store_camera_lease_release(w->o.store, RETRAIN_LEASE, rt->node, err, sizeof err);
    pthread_mutex_lock(&rt->mu);
    rt->running = 0;
    pthread_mutex_unlock(&rt->mu);
    return NULL;
}

/* Start a run for who: 0 started, 1 one runs on this node already, 2 another
 * node holds the lease, -1 failed (logged). */
static int begin_run(av_web *w, const char *who)
{
    av_web__retrain *rt = w->retrain;
    pthread_mutex_lock(&rt->mu);
    if (rt->running || rt->stopping) {
        pthread_mutex_unlock(&rt->mu);
        return 1;
    }
    char err[512] = "", when[40], text[600], since[32];
    int held = 0;
    if (av_store_camera_lease(w->o.store, RETRAIN_LEASE, rt->node, RETRAIN_LEASE_MS, &held, err,
                              sizeof err) != AV_STORE_OK || !held) {
        pthread_mutex_unlock(&rt->mu);
        if (err[0])
            av_log(AV_LOG_ERROR, "retrain_lease_failed", "error", err, NULL);
        return err[0] ? -1 : 2;
    }
    if (rt->joinable) /* the previous run has ended (running == 0) */
        pthread_join(rt->th, NULL);
    rt->joinable = 0;
    now_utc(when, sizeof when);
    snprintf(text, sizeof text, "running since %s (started by %s)", when, who);
    put_status(w, text);
    /* reviews are stamped "YYYY-MM-DDTHH:MM:SS.mmmZ": compared as text */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(since + k, sizeof since - k, ".%03ldZ", ts.tv_nsec / 1000000);
    if (av_store_setting_put(w->o.store, SINCE_KEY, since, err, sizeof err) != AV_STORE_OK)
        av_log(AV_LOG_ERROR, "retrain_status_failed", "error", err, NULL);
    if (pthread_create(&rt->th, NULL, run, w) != 0) {
        av_store_camera_lease_release(w->o.store, RETRAIN_LEASE, rt->node, err, sizeof err);
        put_status(w, "failed: could not start a thread");
        pthread_mutex_unlock(&rt->mu);
        return -1;
    }
    rt->running = rt->joinable = 1;
    pthread_mutex_unlock(&rt->mu);
    av_log(AV_LOG_INFO, "retrain_started", "by", who, NULL);
    return 0;
}

enum MHD_Result av_web__retrain_post(av_web__req *r, const char *user)
{
    av_web *w = r->w;
    if (!w->retrain || !w->o.retrain_out_dir || !*w->o.retrain_out_dir || !w->o.retrain_db_url)
        return av_web__message(r, MHD_HTTP_CONFLICT, "Retraining is not set up",
                               "This node does not know where to write model versions: start"
                               " it with --model-base-path DIR (the model server's base path).");
    int rc = begin_run(w, user);
    if (rc == 2)
        return av_web__message(r, MHD_HTTP_CONFLICT, "Already retraining",
                               "Another node is retraining the species model now; its result"
                               " appears on the monitor page.");
    if (rc < 0)
        return av_web__message(r, MHD_HTTP_SERVICE_UNAVAILABLE, "Something went wrong",
                               "Retraining could not be started. Please try again.");
    return av_web__redirect(r, "/monitor#retrain");
}

typedef struct count_new {
    const char *since;
    int n;
} count_new;

static int count_one(void *ud, const av_store_review *r)
{
    count_new *c = ud;
    c->n += r->species[0] && strcmp(r->created_at, c->since) > 0;
    return 0;
}

void av_web__retrain_check(av_web *w)
{
    char since[64] = "", err[256];
    int found = 0;
    if (!w->retrain || w->o.retrain_auto <= 0 ||
        av_store_setting_get(w->o.store, SINCE_KEY, since, sizeof since, &found, err,
                             sizeof err) != AV_STORE_OK)
        return;
    count_new c = {.since = since}; /* unset: every review is new */
    if (av_store_reviews_each(w->o.store, count_one, &c, err, sizeof err) != AV_STORE_OK ||
        c.n < w->o.retrain_auto || !av_web__retraining_advised(w))
        return;
    char who[64];
    snprintf(who, sizeof who, "--retrain-auto: %d new reviews", c.n);
    begin_run(w, who);
}

static void *check_loop(void *arg)
{
    av_web *w = arg;
    av_web__retrain *rt = w->retrain;
    int ms = w->o.retrain_check_ms > 0 ? w->o.retrain_check_ms : CHECK_MS_DEFAULT;
    pthread_mutex_lock(&rt->mu);
    while (!rt->stopping) {
        struct timespec until;
        av_base_deadline(&until, ms);
        pthread_cond_timedwait(&rt->cv, &rt->mu, &until);
        if (rt->stopping)
            break;
        pthread_mutex_unlock(&rt->mu);
        av_web__retrain_check(w);
        pthread_mutex_lock(&rt->mu);
    }
    pthread_mutex_unlock(&rt->mu);
    return NULL;
}

void av_web__retrain_section(const av_web__req *r, av_web__buf *b)
{
    av_web *w = r->w;
    char status[AV_STORE_SETTING_MAX + 1] = "", err[256];
    int found = 0;
    if (av_store_setting_get(w->o.store, STATUS_KEY, status, sizeof status, &found, err,
                             sizeof err) != AV_STORE_OK)
        found = 0;
    av_web__buf_str(b, "<h3 id=\"retrain\">Retraining</h3><p class=\"meta\">");
    av_web__buf_html(b, found ? status : "No retraining run yet.");
    av_web__buf_str(b, "</p>");
    if (!r->auth.owner)
        return;
    av_web__buf_str(b, "<form class=\"owner\" method=\"post\" action=\"/monitor/retrain\">");
    av_web__csrf_input(r, b);
    av_web__buf_str(b, "<button type=\"submit\">Retrain now</button> <span class=\"meta\">"
                       "Trains a new species head on the reviewed birds (as <code>aviary train"
                       " species</code>) and serves it when it beats the current one.</span>"
                       "</form>");
}
