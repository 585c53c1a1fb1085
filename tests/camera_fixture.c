/*
 * camera_fixture.c - shared set-up of the live-camera tests (camera_fixture.h).
 */
#include "camera_fixture.h"

#include "detect_fixture.h"
#include "harness.h"
#include "proc.h"
#include "web_fixture.h"

#include <microhttpd.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

av_store *cam_open_store(void)
{
    return av_test_open_store("cam.db", 'c');
}

av_detect_pipeline *cam_open_pipeline(void)
{
    av_test_need_species_model();
    av_detect_open_opts oo = {.threads = 1, .max_contexts = 2};
    return av_test_open_pipeline(NULL, &oo);
}

av_camera_status cam_status(av_camera_node *n, const char *name)
{
    av_camera_status *st = NULL, out;
    int count = 0;
    CHECK(av_camera_node_status(n, &st, &count) == 0);
    memset(&out, 0, sizeof out);
    for (int i = 0; i < count; i++)
        if (!strcmp(st[i].name, name))
            out = st[i];
    free(st);
    CHECK_MSG(out.name[0], "no camera %s", name);
    return out;
}

int cam_visits(av_store *s, const char *camera, av_store_camera_visit **v)
{
    int n = 0;
    char err[256];
    CHECK_MSG(av_store_camera_visits(s, camera, NULL, 0, 100, v, &n, err, sizeof err) ==
                  AV_STORE_OK, "%s", err);
    return n;
}

/* ---- a Mosquitto broker and a subscriber recording every message ---- */

static void mq_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    (void)m;
    cam_mq_sub *q = ud;
    pthread_mutex_lock(&q->mu);
    if (q->n < 64) {
        cam_mq_msg *o = &q->msgs[q->n++];
        snprintf(o->topic, sizeof o->topic, "%s", msg->topic);
        int len = msg->payloadlen < (int)sizeof o->payload - 1 ? msg->payloadlen
                                                              : (int)sizeof o->payload - 1;
        memcpy(o->payload, msg->payload, (size_t)len);
        o->payload[len] = '\0';
        o->retain = msg->retain;
    }
    pthread_mutex_unlock(&q->mu);
}

static void mq_on_connect(struct mosquitto *m, void *ud, int rc)
{
    (void)ud;
    if (rc == 0)
        mosquitto_subscribe(m, NULL, "#", 1);
}

/* The last message on topic (copied into out), or 0 when none came. */
int cam_mq_last(cam_mq_sub *q, const char *topic, cam_mq_msg *out)
{
    int found = 0;
    pthread_mutex_lock(&q->mu);
    for (int i = 0; i < q->n; i++)
        if (!strcmp(q->msgs[i].topic, topic)) {
            *out = q->msgs[i];
            found = 1;
        }
    pthread_mutex_unlock(&q->mu);
    return found;
}

pid_t cam_broker_start(int port)
{
    if (access("/usr/sbin/mosquitto", X_OK))
        SKIP("mosquitto not installed (scripts/setup --test)");
    char conf[700], line[128];
    snprintf(conf, sizeof conf, "%s/mosquitto.conf", av_test_tmpdir());
    FILE *f = fopen(conf, "w");
    CHECK(f);
    snprintf(line, sizeof line, "listener %d 127.0.0.1\nallow_anonymous true\n", port);
    fputs(line, f);
    fclose(f);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        FILE *o = freopen("/dev/null", "w", stdout);
        FILE *e = freopen("/dev/null", "w", stderr);
        (void)o, (void)e;
        execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

void cam_broker_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

void cam_mq_subscribe(cam_mq_sub *q, int port)
{
    mosquitto_lib_init();
    pthread_mutex_init(&q->mu, NULL);
    q->m = mosquitto_new("t_camera", true, q);
    CHECK(q->m);
    mosquitto_connect_callback_set(q->m, mq_on_connect);
    mosquitto_message_callback_set(q->m, mq_on_message);
    int rc = MOSQ_ERR_NO_CONN;
    for (int i = 0; i < 50 && rc != MOSQ_ERR_SUCCESS; i++) { /* the broker is starting */
        rc = mosquitto_connect(q->m, "127.0.0.1", port, 30);
        if (rc != MOSQ_ERR_SUCCESS)
            usleep(100 * 1000);
    }
    CHECK_MSG(rc == MOSQ_ERR_SUCCESS, "broker: %s", mosquitto_strerror(rc));
    CHECK(mosquitto_loop_start(q->m) == MOSQ_ERR_SUCCESS);
}

void cam_mq_close(cam_mq_sub *q)
{
    mosquitto_disconnect(q->m);
    mosquitto_loop_stop(q->m, false);
    mosquitto_destroy(q->m);
}

/* ---- a local HTTP server: snapshots out, webhooks in ---- */

typedef struct post_body {
    char buf[4096];
    size_t len;
} post_body;

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *data,
                                    size_t *data_size, void **req)
{
    (void)version;
    cam_fake *f = cls;
    if (!strcmp(method, "POST")) {
        post_body *b = *req;
        if (!b) {
            *req = calloc(1, sizeof *b);
            return *req ? MHD_YES : MHD_NO;
        }
        if (*data_size) {
            size_t take = *data_size < sizeof b->buf - 1 - b->len ? *data_size
                                                                  : sizeof b->buf - 1 - b->len;
            memcpy(b->buf + b->len, data, take);
            b->len += take;
            *data_size = 0;
            return MHD_YES;
        }
        pthread_mutex_lock(&f->mu);
        unsigned status = MHD_HTTP_OK;
        if (f->fail_hooks > 0) {
            f->fail_hooks--;
            status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        } else if (f->n_hooks < 8) {
            const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                          "X-Aviary-Signature");
            snprintf(f->hooks[f->n_hooks], sizeof f->hooks[0], "%s", b->buf);
            snprintf(f->sigs[f->n_hooks], sizeof f->sigs[0], "%s", sig ? sig : "");
            snprintf(f->urls[f->n_hooks], sizeof f->urls[0], "%s", url);
            f->n_hooks++;
        }
        pthread_mutex_unlock(&f->mu);
        free(b);
        *req = NULL;
        struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
    }
    /* a snapshot, or a Frigate event's snapshot */
    if (strcmp(url, "/snap.jpg") &&
        (strncmp(url, "/api/events/", 12) || !strstr(url, "/snapshot.jpg")))
        return MHD_NO;
    pthread_mutex_lock(&f->mu);
    f->gets++;
    struct MHD_Response *r = MHD_create_response_from_buffer(f->snap_len, (void *)f->snap,
                                                             MHD_RESPMEM_MUST_COPY);
    pthread_mutex_unlock(&f->mu);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

void cam_fake_start(cam_fake *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->port = av_test_free_port();
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                            (uint16_t)f->port, NULL, NULL, fake_handler, f, MHD_OPTION_END);
    CHECK(f->d);
}

void cam_fake_serve(cam_fake *f, const unsigned char *p, size_t n)
{
    pthread_mutex_lock(&f->mu);
    f->snap = p;
    f->snap_len = n;
    pthread_mutex_unlock(&f->mu);
}

int cam_fake_hooks(cam_fake *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->n_hooks;
    pthread_mutex_unlock(&f->mu);
    return n;
}
