/*
 * jobs.c - analysis workers: load the upload, run the analyzer, write the
 * annotated image, store the detections atomically.
 */
#include "web/jobs.h"
#include "base/base.h"
#include "web/internal.h"

#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct slot {
    char id[AV_STORE_ID_LEN + 1];
    int state; /* 0 free, 1 queued, 2 running */
    unsigned long seq;
    int attempts;              /* temporary failures so far (model server down) */
    struct timespec not_before; /* CLOCK_REALTIME; a retry waits until then */
} slot;

#define LEASE_DEFAULT_MS 15000 /* renewed every third of it while an analysis runs */
#define RETRY_MAX_S 30         /* backoff cap between retries of a temporary failure */
#define ORPHANS_MAX 256        /* pending images looked at per sweep */

static int before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Queued and due now (a retry waits out its backoff). */
static int ready(const slot *sl, const struct timespec *now)
{
    return sl->state == 1 && !before(now, &sl->not_before);
}

/* Queued for a retry later: waiters should not wait for it. */
static int delayed(const slot *sl)
{
    return sl->state == 1 && sl->attempts > 0;
}

struct av_web__jobs {
    const av_web_opts *opts;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    slot *slots;
    int n_slots;
    unsigned long next_seq;
    int stopping;
    pthread_t *threads;
    int n_threads;
    pthread_t keeper;
    int has_keeper;
    pthread_cond_t tick;      /* wakes the keeper: stopping, or the queue ran dry */
    int more_orphans;         /* the last sweep left some out (queue full) */
    av_web__metrics *metrics; /* may be NULL */
};

const char *av_web_analysis_strerror(av_web_analysis_status st)
{
    switch (st) {
#define X(name, num, msg) \
    case AV_WEB_ANALYSIS_##name: return msg;
        AV_WEB_ANALYSIS_STATUS_MAP(X)
#undef X
    }
    return "unknown status";
}

int av_web__lease_ms(const av_web_opts *o)
{
    return o->analysis_lease_ms > 0 ? o->analysis_lease_ms : LEASE_DEFAULT_MS;
}

int av_web__write_file_atomic(const char *dir, const char *name, const void *p, size_t n)
{
    char tmp[1200], dst[1200];
    snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", dir);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    const char *c = p;
    size_t left = n;
    while (left) {
        ssize_t w = write(fd, c, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        c += w;
        left -= (size_t)w;
    }
    fchmod(fd, 0644);
    if (close(fd) || rename(tmp, dst)) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int av_web__analyse(const av_web_opts *o, const char *id)
{
    char err[512] = "";
    av_store_image img;
    if (av_store_image_get(o->store, id, 1, &img, err, sizeof err) != AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "analysis_load_failed", "id", id, "error", err, NULL);
        return 0;
    }
    if (strcmp(img.status, "pending") != 0) {
        av_store_image_clear(&img);
        return 0;
    }
    if (!img.blob) { /* the blob store lost the file */
        av_log(AV_LOG_ERROR, "analysis_no_blob", "id", id, NULL);
        av_store_analysis_fail(o->store, id, "the uploaded file is missing", err, sizeof err);
        return 0;
    }
    /* Another web node may be analysing it (the upload came in there). */
    int claimed = 0;
    if (av_store_analysis_claim(o->store, id, av_web__lease_ms(o), &claimed, err, sizeof err) !=
        AV_STORE_OK) {
        av_log(AV_LOG_WARN, "analysis_claim_failed", "id", id, "error", err, NULL);
        av_store_image_clear(&img);
        return 1; /* the database is away: try again later */
    }
    if (!claimed) {
        av_log(AV_LOG_DEBUG, "analysis_claimed_elsewhere", "id", id, NULL);
        av_store_image_clear(&img);
        return 0;
    }
    av_web_analysis a;
    memset(&a, 0, sizeof a);
    int retry = 0;
    double t0 = av_base_now_ms();
    av_web_analysis_status rc = AV_WEB_ANALYSIS_E_FAILED;
    if (o->analyze)
        rc = o->analyze(o->analyze_ud, img.blob, img.blob_len, &a, err, sizeof err);
    else
        snprintf(err, sizeof err, "no analyzer configured");
    double elapsed_ms = av_base_now_ms() - t0;
    av_store_image_clear(&img);
    char ms[32];
    snprintf(ms, sizeof ms, "%.1f", elapsed_ms);
    if (rc == AV_WEB_ANALYSIS_E_RETRY) { /* model server unreachable: kept pending, retried */
        av_log(AV_LOG_WARN, "analysis_retry", "id", id, "error", err, "ms", ms, NULL);
        char e2[256];
        av_store_analysis_note(o->store, id, err, e2, sizeof e2);
        av_store_analysis_release(o->store, id, e2, sizeof e2);
        retry = 1;
        goto out;
    }
    if (rc != AV_WEB_ANALYSIS_OK) {
        av_log(AV_LOG_WARN, "analysis_failed", "id", id, "error", err, "ms", ms, NULL);
        char e2[256];
        av_store_analysis_fail(o->store, id, err, e2, sizeof e2);
        goto out;
    }
    if (a.annotated && a.annotated_len) {
        char dir[1100], name[64];
        snprintf(dir, sizeof dir, "%s/inferenced", o->data_dir);
        snprintf(name, sizeof name, "%s.%s", id, a.annotated_ext[0] ? a.annotated_ext : "jpg");
        if (av_web__write_file_atomic(dir, name, a.annotated, a.annotated_len))
            av_log(AV_LOG_ERROR, "annotated_write_failed", "id", id, "error", strerror(errno),
                   NULL);
    }
    av_store_status st =
        av_store_analysis_put_illus(o->store, id, a.width, a.height, a.dets, a.n_dets,
                                    &a.illustration, err, sizeof err);
    if (st != AV_STORE_OK && st != AV_STORE_CONFLICT)
        av_log(AV_LOG_ERROR, "analysis_store_failed", "id", id, "error", err, NULL);
    char nb[16];
    snprintf(nb, sizeof nb, "%d", a.n_dets);
    av_log(AV_LOG_INFO, "analysed", "id", id, "birds", nb, "ms", ms,
           a.illustration.on ? "illustration" : NULL, "true", NULL); /* NULL: a photo */
out:
    free(a.dets);
    free(a.annotated);
    return retry;
}

/* For a video run: 1 once the jobs are stopping. */
static int stopping(void *ud)
{
    return av_web__jobs_stopping(ud);
}

static void *worker(void *arg)
{
    av_web__jobs *j = arg;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        slot *pick = NULL;
        while (!j->stopping) {
            struct timespec now, wake = {0, 0};
            clock_gettime(CLOCK_REALTIME, &now);
            for (int i = 0; i < j->n_slots; i++) {
                slot *sl = &j->slots[i];
                if (ready(sl, &now) && (!pick || sl->seq < pick->seq))
                    pick = sl;
                else if (sl->state == 1 && !ready(sl, &now) &&
                         (!wake.tv_sec || before(&sl->not_before, &wake)))
                    wake = sl->not_before;
            }
            if (pick)
                break;
            if (wake.tv_sec) /* a retry falls due then */
                pthread_cond_timedwait(&j->work, &j->mu, &wake);
            else
                pthread_cond_wait(&j->work, &j->mu);
        }
        if (j->stopping)
            break;
        pick->state = 2;
        if (j->more_orphans) { /* a backlog waits in the database: refill when dry */
            int queued = 0;
            for (int i = 0; i < j->n_slots; i++)
                queued += j->slots[i].state == 1;
            if (!queued) {
                j->more_orphans = 0;
                pthread_cond_signal(&j->tick);
            }
        }
        char id[AV_STORE_ID_LEN + 1];
        memcpy(id, pick->id, sizeof id);
        pthread_mutex_unlock(&j->mu);
        double t0 = av_base_now_ms();
        int retry = 0;
        /* videos have their own path */
        if (!av_web__video_job(j->opts, id, av_web__lease_ms(j->opts), stopping, j))
            retry = av_web__analyse(j->opts, id);
        av_web__metrics_analysis(j->metrics, (av_base_now_ms() - t0) / 1e3);
        pthread_mutex_lock(&j->mu);
        if (retry) { /* back in the queue after 1, 2, 4 ... 30 s */
            int shift = pick->attempts < 5 ? pick->attempts : 5;
            int wait_s = 1 << shift;
            pick->attempts++;
            clock_gettime(CLOCK_REALTIME, &pick->not_before);
            pick->not_before.tv_sec += wait_s < RETRY_MAX_S ? wait_s : RETRY_MAX_S;
            pick->state = 1;
        } else {
            pick->state = 0;
            pick->attempts = 0;
        }
        pthread_cond_broadcast(&j->done);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Queue what no live node holds: every pending image and video with no
 * lease or a lapsed one, oldest first, while the queue has room. */
static void sweep(av_web__jobs *j, char (*ids)[AV_STORE_ID_LEN + 1])
{
    const av_web_opts *o = j->opts;
    int n = 0, queued = 0;
    char err[256];
    if (av_store_analysis_orphans(o->store, av_web__lease_ms(o), ids, ORPHANS_MAX, &n, err,
                                  sizeof err) != AV_STORE_OK) {
        av_log(AV_LOG_WARN, "recovery_sweep_failed", "error", err, NULL);
        return;
    }
    int more = n == ORPHANS_MAX;
    for (int i = 0; i < n; i++) {
        if (av_web__jobs_active(j, ids[i]))
            continue;
        if (av_web__jobs_request(j, ids[i])) {
            more = 1; /* full: the sweep when it runs dry takes the rest */
            break;
        }
        queued++;
    }
    pthread_mutex_lock(&j->mu);
    j->more_orphans = more;
    pthread_mutex_unlock(&j->mu);
    if (queued) {
        char k[16];
        snprintf(k, sizeof k, "%d", queued);
        av_log(AV_LOG_INFO, "recovery_queued", "images", k, NULL);
    }
}

/* Renew the leases of what runs here; sweep for orphans. */
static void *keeper(void *arg)
{
    av_web__jobs *j = arg;
    const av_web_opts *o = j->opts;
    int period = av_web__lease_ms(o) / 3;
    char(*ids)[AV_STORE_ID_LEN + 1] = calloc(ORPHANS_MAX, sizeof *ids);
    char(*running)[AV_STORE_ID_LEN + 1] = calloc((size_t)j->n_slots, sizeof *running);
    if (!ids || !running) {
        av_log(AV_LOG_ERROR, "recovery_failed", "error", "out of memory", NULL);
        free(ids);
        free(running);
        return NULL;
    }
    pthread_mutex_lock(&j->mu);
    while (!j->stopping) {
        int n = 0;
        for (int i = 0; i < j->n_slots; i++)
            if (j->slots[i].state == 2)
                memcpy(running[n++], j->slots[i].id, sizeof running[0]);
        pthread_mutex_unlock(&j->mu);
        char err[256];
        for (int i = 0; i < n; i++)
            if (av_store_analysis_renew(o->store, running[i], err, sizeof err) != AV_STORE_OK)
                av_log(AV_LOG_WARN, "lease_renew_failed", "id", running[i], "error", err, NULL);
        sweep(j, ids);
        pthread_mutex_lock(&j->mu);
        struct timespec t;
        av_base_deadline(&t, period);
        if (!j->stopping)
            pthread_cond_timedwait(&j->tick, &j->mu, &t);
    }
    pthread_mutex_unlock(&j->mu);
    free(ids);
    free(running);
    return NULL;
}

int av_web__jobs_start(const av_web_opts *o, av_web__jobs **out, char *err, size_t errlen)
{
    *out = NULL;
    av_web__jobs *j = calloc(1, sizeof *j);
    if (!j)
        goto oom;
    j->opts = o;
    j->n_threads = o->analysis_workers > 0 ? o->analysis_workers : 1;
    /* queued plus running entries */
    j->n_slots = (o->queue_max > 0 ? o->queue_max : 64) + j->n_threads;
    j->slots = calloc((size_t)j->n_slots, sizeof *j->slots);
    j->threads = calloc((size_t)j->n_threads, sizeof *j->threads);
    if (!j->slots || !j->threads)
        goto oom;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->work, NULL);
    pthread_cond_init(&j->done, NULL);
    pthread_cond_init(&j->tick, NULL);
    for (int i = 0; i < j->n_threads; i++)
        if (pthread_create(&j->threads[i], NULL, worker, j)) {
            j->n_threads = i;
            av_web__jobs_stop(j);
            snprintf(err, errlen, "web: cannot start analysis workers");
            return -1;
        }
    if (pthread_create(&j->keeper, NULL, keeper, j)) {
        av_web__jobs_stop(j);
        snprintf(err, errlen, "web: cannot start the analysis lease keeper");
        return -1;
    }
    j->has_keeper = 1;
    *out = j;
    return 0;
oom:
    if (j) {
        free(j->slots);
        free(j->threads);
        free(j);
    }
    snprintf(err, errlen, "web: out of memory");
    return -1;
}

void av_web__jobs_stop(av_web__jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stopping = 1;
    pthread_cond_broadcast(&j->work);
    pthread_cond_broadcast(&j->done);
    pthread_cond_broadcast(&j->tick);
    pthread_mutex_unlock(&j->mu);
    for (int i = 0; i < j->n_threads; i++)
        pthread_join(j->threads[i], NULL);
    if (j->has_keeper)
        pthread_join(j->keeper, NULL);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->work);
    pthread_cond_destroy(&j->done);
    pthread_cond_destroy(&j->tick);
    free(j->slots);
    free(j->threads);
    free(j);
}

static slot *find(av_web__jobs *j, const char *id)
{
    for (int i = 0; i < j->n_slots; i++)
        if (j->slots[i].state && strcmp(j->slots[i].id, id) == 0)
            return &j->slots[i];
    return NULL;
}

int av_web__jobs_request(av_web__jobs *j, const char *id)
{
    int rc = 0;
    pthread_mutex_lock(&j->mu);
    if (!find(j, id)) {
        int queued = 0;
        slot *free_slot = NULL;
        for (int i = 0; i < j->n_slots; i++) {
            if (j->slots[i].state == 1)
                queued++;
            else if (!j->slots[i].state && !free_slot)
                free_slot = &j->slots[i];
        }
        int limit = j->opts->queue_max > 0 ? j->opts->queue_max : 64;
        if (!free_slot || queued >= limit) {
            rc = -1;
        } else {
            snprintf(free_slot->id, sizeof free_slot->id, "%s", id);
            free_slot->state = 1;
            free_slot->seq = j->next_seq++;
            free_slot->attempts = 0;
            free_slot->not_before = (struct timespec){0, 0};
            pthread_cond_signal(&j->work);
        }
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

int av_web__jobs_wait(av_web__jobs *j, const char *id, int timeout_ms)
{
    struct timespec until;
    av_base_deadline(&until, timeout_ms);
    pthread_mutex_lock(&j->mu);
    int done = 1;
    slot *sl;
    while ((sl = find(j, id)) && !delayed(sl) && !j->stopping) {
        if (pthread_cond_timedwait(&j->done, &j->mu, &until) == ETIMEDOUT) {
            sl = find(j, id);
            done = !sl || delayed(sl);
            break;
        }
    }
    pthread_mutex_unlock(&j->mu);
    return done;
}

void av_web__jobs_set_metrics(av_web__jobs *j, av_web__metrics *m)
{
    pthread_mutex_lock(&j->mu);
    j->metrics = m;
    pthread_mutex_unlock(&j->mu);
}

void av_web__jobs_depth(av_web__jobs *j, int *queued, int *running)
{
    *queued = *running = 0;
    pthread_mutex_lock(&j->mu);
    for (int i = 0; i < j->n_slots; i++) {
        *queued += j->slots[i].state == 1;
        *running += j->slots[i].state == 2;
    }
    pthread_mutex_unlock(&j->mu);
}

int av_web__jobs_stopping(av_web__jobs *j)
{
    pthread_mutex_lock(&j->mu);
    int s = j->stopping;
    pthread_mutex_unlock(&j->mu);
    return s;
}

int av_web__jobs_active(av_web__jobs *j, const char *id)
{
    if (!j)
        return 0;
    pthread_mutex_lock(&j->mu);
    slot *sl = find(j, id);
    int active = sl && !delayed(sl);
    pthread_mutex_unlock(&j->mu);
    return active;
}
