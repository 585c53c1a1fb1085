/*
 * frigate.c - Frigate NVR events as a camera source, as WhosAtMyFeeder
 * does: subscribe to TOPIC/events (default frigate/events) on the MQTT
 * broker, and for each event whose label is "bird" and that has a
 * snapshot, once per event id: fetch the snapshot from Frigate's HTTP API
 * (GET /api/events/ID/snapshot.jpg?crop=1&quality=95), name the species
 * with the pipeline, store it as a visit of the Frigate camera, notify it
 * (the rules apply), and write the species back to Frigate as the event's
 * sub label (POST /api/events/ID/sub_label {"subLabel", "subLabelScore"}).
 *
 * Of several nodes only the holder of the "_frigate" lease handles events.
 * Events are handled on the MQTT client's own thread, one at a time (a
 * snapshot and one pipeline run: well under the 60 s keepalive).
 */
#include "camera/internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "log/log.h"

#define SEEN_MAX 256       /* event ids remembered (each handled once) */
#define EVENT_MAX (1 << 20) /* largest event message read */
#define SUB_LABEL_MAX 100  /* Frigate's sub label length */

struct av_camera__frigate {
    av_camera__frigate_env env;
    struct mosquitto *m;
    char topic[128];
    char seen[SEEN_MAX][64];
    int seen_next;
    int64_t lease_due;
    int held;
};

static int seen_before(av_camera__frigate *f, const char *id)
{
    for (int i = 0; i < SEEN_MAX; i++)
        if (!strcmp(f->seen[i], id))
            return 1;
    snprintf(f->seen[f->seen_next], sizeof f->seen[0], "%s", id);
    f->seen_next = (f->seen_next + 1) % SEEN_MAX;
    return 0;
}

/* Frigate's ids are "1700000000.123456-abc123": letters, digits, '.', '-'. */
static int id_ok(const char *id)
{
    if (!id || !*id || strlen(id) >= 64)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            return 0;
    return 1;
}

static int lease_held(av_camera__frigate *f)
{
    int64_t now = av_base_mono_ms();
    if (now < f->lease_due)
        return f->held;
    char err[256];
    int held = 0;
    if (av_store_camera_lease(f->env.store, "_frigate", f->env.node_id, f->env.lease_ms, &held,
                              err, sizeof err) != AV_STORE_OK)
        held = f->held; /* the database is away: keep to what we had */
    f->held = held;
    f->lease_due = now + (held ? f->env.lease_ms / 3 : 1000);
    return held;
}

static void write_sub_label(av_camera__frigate *f, const char *id, const char *label,
                            double score)
{
    char url[AV_CAMERA_URL_MAX + 128], sub[SUB_LABEL_MAX + 1], err[256];
    snprintf(url, sizeof url, "%s/api/events/%s/sub_label", f->env.frigate_url, id);
    snprintf(sub, sizeof sub, "%s", label);
    json_t *j = json_pack("{s:s, s:f}", "subLabel", sub, "subLabelScore",
                          round(score * 1000) / 1000);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (body && av_camera__http_post(url, 10.0, body, strlen(body), NULL, err, sizeof err))
        av_log(AV_LOG_WARN, "frigate_sub_label_failed", "event", id, "error", err, NULL);
    free(body);
}

static void handle_event(av_camera__frigate *f, json_t *after)
{
    const char *id = json_string_value(json_object_get(after, "id"));
    const char *label = json_string_value(json_object_get(after, "label"));
    const char *camera = json_string_value(json_object_get(after, "camera"));
    if (!id_ok(id) || !label || strcmp(label, "bird") || !camera ||
        !json_is_true(json_object_get(after, "has_snapshot")))
        return;
    if (!av_store_camera_name_ok(camera)) {
        av_log(AV_LOG_WARN, "frigate_camera_name", "camera", camera, "note",
               "not a valid camera name here: event skipped", NULL);
        return;
    }
    if (!lease_held(f) || seen_before(f, id))
        return;
    char url[AV_CAMERA_URL_MAX + 128], err[512];
    snprintf(url, sizeof url, "%s/api/events/%s/snapshot.jpg?crop=1&quality=95",
             f->env.frigate_url, id);
    void *jpg = NULL;
    size_t len = 0;
    if (av_camera__http_get(url, 10.0, f->env.max_bytes, &jpg, &len, err, sizeof err)) {
        av_log(AV_LOG_WARN, "frigate_snapshot_failed", "event", id, "error", err, NULL);
        return;
    }
    av_detect_run_opts ro = {.max_bytes = f->env.max_bytes, .max_pixels = f->env.max_pixels};
    av_detect_result r;
    if (av_detect_run(f->env.pipe, jpg, len, &ro, &r, err, sizeof err) != AV_DETECT_OK) {
        av_log(AV_LOG_WARN, "frigate_analysis_failed", "event", id, "error", err, NULL);
        free(jpg);
        return;
    }
    if (r.n_dets == 0) { /* Frigate saw a bird, the detector none: nothing to name */
        av_detect_result_free(&r);
        free(jpg);
        return;
    }
    const av_detect_det *d = &r.dets[0]; /* best first */
    av_store_camera_visit v;
    memset(&v, 0, sizeof v);
    snprintf(v.camera, sizeof v.camera, "%s", camera);
    double start = json_number_value(json_object_get(after, "start_time"));
    double end = json_number_value(json_object_get(after, "end_time"));
    int64_t now = av_base_wall_ms();
    v.first_ms = start > 0 ? (int64_t)llround(start * 1000) : now;
    v.last_ms = end > start ? (int64_t)llround(end * 1000) : v.first_ms;
    if (d->n_species) {
        snprintf(v.species, sizeof v.species, "%s", d->species[0].scientific);
        snprintf(v.common_name, sizeof v.common_name, "%s", d->species[0].common);
    }
    snprintf(v.label, sizeof v.label, "%s", d->label);
    v.score = d->confidence;
    v.n_frames = 1;
    v.x1 = d->x1, v.y1 = d->y1, v.x2 = d->x2, v.y2 = d->y2;
    snprintf(v.node, sizeof v.node, "%s", f->env.node_id);
    int wanted = f->env.notifier && av_camera__notify_wanted(f->env.notifier, &v);
    av_store_status st = av_store_camera_visit_add(f->env.store, &v, jpg,
                                                   len <= AV_STORE_MEDIA_MAX ? len : 0, &v.id,
                                                   err, sizeof err);
    v.has_jpeg = len <= AV_STORE_MEDIA_MAX;
    free(jpg);
    if (st != AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "frigate_visit_not_stored", "event", id, "error", err, NULL);
        av_detect_result_free(&r);
        return;
    }
    av_log(AV_LOG_INFO, "frigate_visit", "event", id, "camera", camera, "species", v.label,
           NULL);
    av_camera__notify_species(f->env.notifier, camera, v.label);
    if (wanted)
        av_camera__notify(f->env.notifier, &v);
    if (d->n_species)
        write_sub_label(f, id, d->species[0].common[0] ? d->species[0].common
                                                       : d->species[0].scientific,
                        d->species[0].score);
    av_detect_result_free(&r);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    (void)m;
    av_camera__frigate *f = ud;
    if (!msg->payload || msg->payloadlen <= 0 || msg->payloadlen > EVENT_MAX)
        return;
    json_error_t je;
    json_t *j = json_loadb(msg->payload, (size_t)msg->payloadlen, 0, &je);
    json_t *after = j ? json_object_get(j, "after") : NULL;
    if (json_is_object(after))
        handle_event(f, after);
    json_decref(j);
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    av_camera__frigate *f = ud;
    if (rc == 0)
        mosquitto_subscribe(m, NULL, f->topic, 1);
}

av_camera__frigate *av_camera__frigate_start(const av_camera__frigate_env *env, char *err,
                                             size_t errlen)
{
    char user[128], pass[128], host[256];
    int port = 0;
    if (av_camera__mqtt_parse_url(env->mqtt_url, user, pass, host, &port)) {
        snprintf(err, errlen, "Frigate: the MQTT URL is not mqtt://[user:pass@]host[:port]");
        return NULL;
    }
    if (strncmp(env->frigate_url, "http://", 7) && strncmp(env->frigate_url, "https://", 8)) {
        snprintf(err, errlen, "Frigate: '%s' is not an http(s):// URL", env->frigate_url);
        return NULL;
    }
    if (!env->pipe) {
        snprintf(err, errlen, "Frigate: no models here to name the species");
        return NULL;
    }
    av_camera__frigate *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "Frigate: out of memory");
        return NULL;
    }
    f->env = *env;
    size_t ul = strlen(f->env.frigate_url); /* ".../" and "..." name the same API */
    while (ul && f->env.frigate_url[ul - 1] == '/')
        f->env.frigate_url[--ul] = '\0';
    snprintf(f->topic, sizeof f->topic, "%s/events", env->topic[0] ? env->topic : "frigate");
    av_camera__mqtt_lib_init();
    f->m = mosquitto_new(NULL, true, f);
    if (!f->m || (user[0] && mosquitto_username_pw_set(f->m, user, pass[0] ? pass : NULL)) ||
        mosquitto_reconnect_delay_set(f->m, 1, 30, true)) {
        snprintf(err, errlen, "Frigate: cannot set the MQTT client up");
        av_camera__frigate_stop(f);
        return NULL;
    }
    mosquitto_connect_callback_set(f->m, on_connect);
    mosquitto_message_callback_set(f->m, on_message);
    int rc = mosquitto_connect_async(f->m, host, port, 60);
    if (rc != MOSQ_ERR_SUCCESS)
        av_log(AV_LOG_WARN, "frigate_mqtt_unreachable", "host", host, "error",
               mosquitto_strerror(rc), NULL);
    if (mosquitto_loop_start(f->m) != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "Frigate: cannot start the MQTT client thread");
        av_camera__frigate_stop(f);
        return NULL;
    }
    return f;
}

void av_camera__frigate_stop(av_camera__frigate *f)
{
    if (!f)
        return;
    if (f->m) {
        mosquitto_disconnect(f->m);
        mosquitto_loop_stop(f->m, false);
        mosquitto_destroy(f->m);
    }
    if (f->held) {
        char err[256];
        av_store_camera_lease_release(f->env.store, "_frigate", f->env.node_id, err, sizeof err);
    }
    free(f);
}
