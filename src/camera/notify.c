/*
 * notify.c - notifications of stored visits: the rules (allow/block lists,
 * minimum score, first of the day, new for the site, cooldown per camera
 * and species), and a sender thread that publishes each on MQTT (mqtt.c)
 * and POSTs it to the webhook, signed with HMAC-SHA256, retried with
 * backoff 1, 2, 4 ... s. A bounded queue:
 * a stalled receiver costs dropped alerts, never a stalled camera.
 */
#include "camera/internal.h"
#include "base/base.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "log/log.h"

#define QUEUE_MAX 256
#define COOLDOWN_KEYS 512
#define POST_TIMEOUT_S 10.0

typedef struct cool {
    char camera[AV_STORE_CAMERA_NAME_MAX];
    char species[128];
    int64_t at_ms;
} cool;

struct av_camera__notifier {
    av_camera_notify_conf c;
    av_store *store;
    av_camera__mqtt *mqtt; /* NULL without mqtt_url */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    av_store_camera_visit q[QUEUE_MAX];
    int head, n;
    cool cools[COOLDOWN_KEYS];
    int n_cools;
};

/* ---- payload and signature ---- */

char *av_camera_visit_payload(const av_store_camera_visit *v, const char *event, size_t *len)
{
    json_t *j = av_camera_visit_json(v);
    if (j && json_object_set_new(j, "event", json_string(event)))
        json_decref(j), j = NULL;
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(7)) : NULL;
    json_decref(j);
    if (s && len)
        *len = strlen(s);
    return s;
}

void av_camera_sign(const char *secret, const void *body, size_t len, char out[72])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mlen = 0;
    out[0] = '\0';
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac, &mlen) || mlen != 32)
        return;
    int o = snprintf(out, 72, "sha256=");
    for (unsigned i = 0; i < mlen; i++)
        o += snprintf(out + o, (size_t)(72 - o), "%02x", mac[i]);
}

/* ---- rules ---- */

/* Whether a comma-separated list names the species (scientific or common,
 * case-insensitive). */
static int listed(const char *list, const av_store_camera_visit *v)
{
    const char *p = list;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t n = (size_t)(e - p);
        while (n && isspace((unsigned char)p[n - 1]))
            n--;
        if (n && ((strlen(v->species) == n && !strncasecmp(v->species, p, n)) ||
                  (strlen(v->common_name) == n && !strncasecmp(v->common_name, p, n)) ||
                  (strlen(v->label) == n && !strncasecmp(v->label, p, n))))
            return 1;
        p = e;
    }
    return 0;
}

static int64_t day_start_ms(int64_t ms)
{
    return ms - ms % (86400LL * 1000); /* UTC day */
}

int av_camera__notify_wanted(av_camera__notifier *nt, const av_store_camera_visit *v)
{
    if (!nt)
        return 0;
    const av_camera_notify_conf *c = &nt->c;
    if (v->score < c->min_score || (c->block[0] && listed(c->block, v)) ||
        (c->allow[0] && !listed(c->allow, v)))
        return 0;
    const char *key = v->species[0] ? v->species : v->label;
    if (c->first_of_day || c->new_for_site) {
        int ever = 0, today = 0;
        char err[256];
        if (av_store_camera_species_seen(nt->store, v->camera, key, day_start_ms(v->first_ms),
                                         &ever, &today, err, sizeof err) != AV_STORE_OK) {
            av_log(AV_LOG_WARN, "camera_notify_rule_failed", "error", err, NULL);
            return 0;
        }
        if ((c->new_for_site && ever) || (c->first_of_day && today))
            return 0;
    }
    int64_t now = av_base_wall_ms(), cd = (int64_t)(c->cooldown_s * 1000);
    pthread_mutex_lock(&nt->mu);
    int i = 0, oldest = 0;
    for (; i < nt->n_cools; i++) {
        if (!strcmp(nt->cools[i].camera, v->camera) && !strcmp(nt->cools[i].species, key))
            break;
        if (nt->cools[i].at_ms < nt->cools[oldest].at_ms)
            oldest = i;
    }
    int ok = 1;
    if (i < nt->n_cools && now - nt->cools[i].at_ms < cd) {
        ok = 0;
    } else {
        if (i == nt->n_cools) /* a new key, or the stalest one replaced */
            i = nt->n_cools < COOLDOWN_KEYS ? nt->n_cools++ : oldest;
        snprintf(nt->cools[i].camera, sizeof nt->cools[i].camera, "%s", v->camera);
        snprintf(nt->cools[i].species, sizeof nt->cools[i].species, "%s", key);
        nt->cools[i].at_ms = now;
    }
    pthread_mutex_unlock(&nt->mu);
    return ok;
}

/* ---- the sender ---- */

void av_camera__notify(av_camera__notifier *nt, const av_store_camera_visit *v)
{
    if (!nt)
        return;
    pthread_mutex_lock(&nt->mu);
    if (nt->n < QUEUE_MAX) {
        nt->q[(nt->head + nt->n) % QUEUE_MAX] = *v;
        nt->n++;
        pthread_cond_signal(&nt->cv);
    } else {
        av_log(AV_LOG_WARN, "camera_notify_dropped", "camera", v->camera, "reason",
               "queue full", NULL);
    }
    pthread_mutex_unlock(&nt->mu);
}

/* Wait up to ms unless stopping; 1 when stopping. */
static int wait_ms(av_camera__notifier *nt, int64_t ms)
{
    struct timespec until;
    av_base_deadline(&until, ms);
    pthread_mutex_lock(&nt->mu);
    while (!nt->stopping && pthread_cond_timedwait(&nt->cv, &nt->mu, &until) == 0)
        ;
    int s = nt->stopping;
    pthread_mutex_unlock(&nt->mu);
    return s;
}

static void send_webhook(av_camera__notifier *nt, const av_store_camera_visit *v)
{
    size_t len = 0;
    char *body = av_camera_visit_payload(v, "visit", &len);
    if (!body)
        return;
    char sig[72] = "", sig_h[100] = "";
    const char *headers[3] = {"X-Aviary-Event: visit", NULL, NULL};
    if (nt->c.webhook_secret[0]) {
        av_camera_sign(nt->c.webhook_secret, body, len, sig);
        snprintf(sig_h, sizeof sig_h, "X-Aviary-Signature: %s", sig);
        headers[1] = sig_h;
    }
    char err[256];
    int64_t backoff = 1000;
    for (int attempt = 0; attempt <= nt->c.retries; attempt++) {
        if (av_camera__http_post(nt->c.webhook_url, POST_TIMEOUT_S, body, len, headers, err,
                                 sizeof err) == 0) {
            free(body);
            return;
        }
        av_log(AV_LOG_WARN, "camera_webhook_failed", "camera", v->camera, "error", err, NULL);
        if (attempt < nt->c.retries && wait_ms(nt, backoff))
            break; /* stopping: no more retries */
        backoff *= 2;
    }
    free(body);
}

static void *sender(void *arg)
{
    av_camera__notifier *nt = arg;
    pthread_mutex_lock(&nt->mu);
    for (;;) {
        while (!nt->n && !nt->stopping)
            pthread_cond_wait(&nt->cv, &nt->mu);
        if (!nt->n)
            break; /* stopping with nothing left */
        av_store_camera_visit v = nt->q[nt->head];
        nt->head = (nt->head + 1) % QUEUE_MAX;
        nt->n--;
        pthread_mutex_unlock(&nt->mu);
        if (nt->mqtt) {
            char *body = av_camera_visit_payload(&v, "visit", NULL);
            if (body)
                av_camera__mqtt_publish(nt->mqtt, v.camera, "visit", body, 0);
            free(body);
        }
        if (nt->c.webhook_url[0])
            send_webhook(nt, &v);
        pthread_mutex_lock(&nt->mu);
    }
    pthread_mutex_unlock(&nt->mu);
    return NULL;
}

av_camera__notifier *av_camera__notifier_start(const av_camera_notify_conf *conf,
                                               av_store *store, const char *const *names,
                                               int n_names, int *ok, char *err,
                                               size_t errlen)
{
    *ok = 1;
    if (!conf || (!conf->webhook_url[0] && !conf->mqtt_url[0]))
        return NULL;
    av_camera__notifier *nt = calloc(1, sizeof *nt);
    if (!nt) {
        snprintf(err, errlen, "notifications: out of memory");
        *ok = 0;
        return NULL;
    }
    nt->c = *conf;
    if (nt->c.retries < 0)
        nt->c.retries = 0;
    nt->store = store;
    if (conf->mqtt_url[0] &&
        !(nt->mqtt = av_camera__mqtt_start(conf, names, n_names, err, errlen))) {
        free(nt);
        *ok = 0;
        return NULL;
    }
    pthread_mutex_init(&nt->mu, NULL);
    pthread_cond_init(&nt->cv, NULL);
    if (pthread_create(&nt->th, NULL, sender, nt)) {
        av_camera__mqtt_stop(nt->mqtt);
        pthread_mutex_destroy(&nt->mu);
        pthread_cond_destroy(&nt->cv);
        free(nt);
        snprintf(err, errlen, "notifications: cannot start a thread");
        *ok = 0;
        return NULL;
    }
    return nt;
}

void av_camera__notify_presence(av_camera__notifier *nt, const char *camera, int present)
{
    if (nt && nt->mqtt)
        av_camera__mqtt_publish(nt->mqtt, camera, "bird_present", present ? "ON" : "OFF", 1);
}

void av_camera__notify_species(av_camera__notifier *nt, const char *camera, const char *label)
{
    if (nt && nt->mqtt)
        av_camera__mqtt_publish(nt->mqtt, camera, "species", label, 1);
}

void av_camera__notifier_stop(av_camera__notifier *nt)
{
    if (!nt)
        return;
    pthread_mutex_lock(&nt->mu);
    nt->stopping = 1;
    pthread_cond_broadcast(&nt->cv);
    pthread_mutex_unlock(&nt->mu);
    pthread_join(nt->th, NULL);
    av_camera__mqtt_stop(nt->mqtt); /* after the sender: its last visits go out */
    pthread_mutex_destroy(&nt->mu);
    pthread_cond_destroy(&nt->cv);
    free(nt);
}
