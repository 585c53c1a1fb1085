/*
 * t_web_recovery.c - nothing stays pending after a crash (issue 16, D8): a
 * web node is killed with SIGKILL while clients upload, a new one starts
 * on the same database and data folder, and every upload the first node
 * accepted (and any it stored without answering) is analysed without
 * anyone opening its page. SQLite, or $AVIARY_TEST_DB (scripts/run-tests
 * runs it again on MariaDB).
 */
#include "harness.h"
#include "http.h"
#include "proc.h"
#include "web_fixture.h"

#include "store/store.h"
#include "web/web.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LEASE_MS 3000 /* short here; the default is 15 s */
#define RECOVERY_LIMIT_S 30
#define UPLOADS_MAX 300 /* uploads tried at most; the kill comes at a third */

static int g_delay_ms;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A slow analyzer, so the kill finds work queued, running and not yet queued. */
static av_web_analysis_status fake_analyze(void *ud, const void *bytes, size_t len,
                                           av_web_analysis *out, char *err, size_t errlen)
{
    (void)ud, (void)bytes, (void)len, (void)err, (void)errlen;
    av_test_sleep_ms(g_delay_ms);
    out->width = 8;
    out->height = 8;
    return AV_WEB_ANALYSIS_OK;
}

/* Child: a web node on the shared database until it is killed. */
static pid_t spawn_node(const char *db, const char *dir, int delay_ms, int *port)
{
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(p[0]);
        g_delay_ms = delay_ms;
        char err[512];
        av_store *s = NULL;
        av_web *w = NULL;
        av_web_opts o = {.listen = "127.0.0.1", .workers = 4, .data_dir = dir,
                         .max_upload_bytes = 100000, .analyze = fake_analyze,
                         .analysis_workers = 1, .queue_max = 4,
                         .analysis_lease_ms = LEASE_MS};
        if (av_store_open(db, &s, err, sizeof err) != AV_STORE_OK)
            _exit(2);
        o.store = s;
        if (av_web_start(&o, &w, err, sizeof err)) {
            fprintf(stderr, "node: %s\n", err);
            _exit(3);
        }
        int port_no = av_web_port(w);
        if (write(p[1], &port_no, sizeof port_no) != (ssize_t)sizeof port_no)
            _exit(4);
        for (;;)
            pause();
    }
    close(p[1]);
    CHECK_EQ_INT(read(p[0], port, sizeof *port), (long)sizeof *port);
    close(p[0]);
    return pid;
}

typedef struct load {
    int port;
    volatile int stop;
    pthread_mutex_t mu;
    char ids[2000][AV_STORE_ID_LEN + 1]; /* accepted: 303 with a Location */
    int n;
    int seq;
} load;

static void *uploader(void *arg)
{
    load *l = arg;
    char u[96];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/upload", l->port);
    while (!l->stop) {
        unsigned char img[64] = {0xFF, 0xD8, 0xFF, 0xE0};
        pthread_mutex_lock(&l->mu);
        int k = l->seq++;
        pthread_mutex_unlock(&l->mu);
        if (k >= UPLOADS_MAX) { /* enough load; wait for the kill */
            av_test_sleep_ms(20);
            continue;
        }
        memcpy(img + 8, &k, sizeof k);
        const char *names[] = {"bird.jpg"};
        const void *datas[] = {img};
        size_t lens[] = {sizeof img};
        av_http_resp r;
        if (av_http_upload(u, "file", 1, names, datas, lens, &r))
            continue; /* the node is gone: this upload was not accepted */
        const char *loc = r.headers ? strstr(r.headers, "Location: /uploads/") : NULL;
        if (r.status == 303 && loc) {
            pthread_mutex_lock(&l->mu);
            if (l->n < 2000) {
                memcpy(l->ids[l->n], loc + 19, AV_STORE_ID_LEN);
                l->ids[l->n++][AV_STORE_ID_LEN] = '\0';
            }
            pthread_mutex_unlock(&l->mu);
        }
        av_http_free(&r);
    }
    return NULL;
}

static int pending_count(av_store *s)
{
    static char ids[4096][AV_STORE_ID_LEN + 1];
    int n = 0;
    char err[256];
    CHECK_MSG(av_store_analysis_orphans(s, 0, ids, 4096, &n, err, sizeof err) == AV_STORE_OK,
              "%s", err);
    return n;
}

TEST(kill_under_upload_load_then_every_upload_is_analysed)
{
    char db[1200], dir[800], err[512];
    snprintf(dir, sizeof dir, "%s", av_test_tmpdir());
    av_test_make_data_dir(dir);
    av_test_db_url(db, sizeof db, "aviary.db", 'r');
    av_store *s = av_test_store_at(db);

    static load l;
    memset(&l, 0, sizeof l);
    pthread_mutex_init(&l.mu, NULL);
    pid_t a = spawn_node(db, dir, 300, &l.port);
    char u[96];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/healthz", l.port);
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(u, &r), 0); /* also libcurl's global set-up, before threads */
    av_http_free(&r);
    enum { THREADS = 8 };
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, uploader, &l) == 0);
    for (int waited = 0; waited < 10000; waited += 10) { /* well into the load */
        pthread_mutex_lock(&l.mu);
        int n = l.n;
        pthread_mutex_unlock(&l.mu);
        if (n >= UPLOADS_MAX / 3)
            break;
        av_test_sleep_ms(10);
    }
    CHECK(kill(a, SIGKILL) == 0); /* mid-upload, mid-analysis */
    int status;
    CHECK(waitpid(a, &status, 0) == a);
    l.stop = 1;
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    int pending = pending_count(s);
    CHECK_MSG(l.n >= 8, "only %d uploads accepted before the kill", l.n);
    CHECK_MSG(pending > 0, "the kill left nothing pending (%d accepted): nothing to recover",
              l.n);

    /* A new node on the same data; nobody looks at any page. */
    int port = 0;
    double t0 = now_s();
    pid_t b = spawn_node(db, dir, 20, &port);
    int left = -1;
    char missing[AV_STORE_ID_LEN + 1] = "";
    while (now_s() - t0 < RECOVERY_LIMIT_S) {
        left = 0;
        for (int i = 0; i < l.n; i++) {
            av_store_image img;
            av_store_status st = av_store_image_get(s, l.ids[i], 0, &img, err, sizeof err);
            CHECK_MSG(st == AV_STORE_OK, "accepted upload %s lost: %s", l.ids[i], err);
            if (strcmp(img.status, "done")) {
                left++;
                snprintf(missing, sizeof missing, "%s", l.ids[i]);
            }
            av_store_image_clear(&img);
        }
        if (!left && !pending_count(s))
            break;
        av_test_sleep_ms(200);
    }
    double took = now_s() - t0;
    av_test_stop(b, SIGKILL);
    CHECK_MSG(left == 0, "%d of %d accepted uploads not analysed %d s after the restart (e.g. %s)",
              left, l.n, RECOVERY_LIMIT_S, missing);
    CHECK_MSG(pending_count(s) == 0, "uploads stored without an answer still pending");
    printf("    %d accepted, %d tried, %d pending at the kill, all done %.1f s after the restart\n",
           l.n, l.seq < UPLOADS_MAX ? l.seq : UPLOADS_MAX, pending, took);
    av_store_close(s);
}

TEST_MAIN(T(kill_under_upload_load_then_every_upload_is_analysed))
