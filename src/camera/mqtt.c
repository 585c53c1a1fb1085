/*
 * mqtt.c - notifications over MQTT (libmosquitto), with Home Assistant MQTT
 * discovery. Topics, under the prefix (default "aviary"):
 *
 *   PREFIX/status                 "online" / "offline" (retained; the will)
 *   PREFIX/CAMERA/visit           one message per notified visit (JSON as the webhook)
 *   PREFIX/CAMERA/species         the last species seen (retained)
 *   PREFIX/CAMERA/bird_present    "ON" / "OFF" (retained)
 *
 * and per camera, retained, homeassistant/sensor/aviary_CAMERA/last_species/config
 * and homeassistant/binary_sensor/aviary_CAMERA/bird_present/config, so
 * Home Assistant shows a "last species" sensor and a "bird present"
 * binary sensor per camera with no configuration.
 */
#include "camera/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "log/log.h"

struct av_camera__mqtt {
    struct mosquitto *m;
    char prefix[64];
    int discovery;
    char (*names)[AV_STORE_CAMERA_NAME_MAX];
    int n_names;
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    mosquitto_lib_init();
}

void av_camera__mqtt_lib_init(void)
{
    pthread_once(&lib_once, lib_init);
}

static void publish(struct mosquitto *m, const char *topic, const char *payload, int retain)
{
    int rc = mosquitto_publish(m, NULL, topic, (int)strlen(payload), payload, 1, retain != 0);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
        av_log(AV_LOG_WARN, "camera_mqtt_publish_failed", "topic", topic, "error",
               mosquitto_strerror(rc), NULL);
}

static void discovery(av_camera__mqtt *q, const char *cam)
{
    char topic[256], state[192], avail[96], uid[128], name[96], dev[80]; /* names < 64 */
    snprintf(avail, sizeof avail, "%s/status", q->prefix);
    snprintf(dev, sizeof dev, "aviary_%s", cam);
    snprintf(name, sizeof name, "Aviary %s", cam);
    json_t *device = json_pack("{s:[s], s:s, s:s, s:s}", "identifiers", dev, "name", name,
                               "manufacturer", "Aviary", "model", "feeder camera");
    /* a sensor with the last species */
    snprintf(topic, sizeof topic, "homeassistant/sensor/%s/last_species/config", dev);
    snprintf(state, sizeof state, "%s/%s/species", q->prefix, cam);
    snprintf(uid, sizeof uid, "%s_last_species", dev);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "name", "Last species", "unique_id",
                          uid, "state_topic", state, "availability_topic", avail, "icon",
                          "mdi:bird", "device", device);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (s)
        publish(q->m, topic, s, 1);
    free(s);
    json_decref(j);
    /* a binary sensor "bird present" */
    snprintf(topic, sizeof topic, "homeassistant/binary_sensor/%s/bird_present/config", dev);
    snprintf(state, sizeof state, "%s/%s/bird_present", q->prefix, cam);
    snprintf(uid, sizeof uid, "%s_bird_present", dev);
    j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "name", "Bird present",
                  "unique_id", uid, "state_topic", state, "availability_topic", avail,
                  "payload_on", "ON", "payload_off", "OFF", "device_class", "occupancy",
                  "device", device);
    s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (s)
        publish(q->m, topic, s, 1);
    free(s);
    json_decref(j);
    json_decref(device);
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    av_camera__mqtt *q = ud;
    if (rc) {
        av_log(AV_LOG_WARN, "camera_mqtt_refused", "error", mosquitto_connack_string(rc), NULL);
        return;
    }
    char topic[96];
    snprintf(topic, sizeof topic, "%s/status", q->prefix);
    publish(m, topic, "online", 1);
    for (int i = 0; q->discovery && i < q->n_names; i++)
        discovery(q, q->names[i]);
    av_log(AV_LOG_INFO, "camera_mqtt_connected", NULL);
}

/* mqtt://[user[:pass]@]host[:port] into its parts; -1 when malformed. */
int av_camera__mqtt_parse_url(const char *url, char *user, char *pass, char *host, int *port)
{
    user[0] = pass[0] = host[0] = '\0';
    *port = 1883;
    if (strncmp(url, "mqtt://", 7))
        return -1;
    const char *p = url + 7, *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul = (size_t)((colon ? colon : at) - p);
        if (ul >= 128 || (colon && (size_t)(at - colon - 1) >= 128))
            return -1;
        memcpy(user, p, ul);
        user[ul] = '\0';
        if (colon) {
            memcpy(pass, colon + 1, (size_t)(at - colon - 1));
            pass[at - colon - 1] = '\0';
        }
        p = at + 1;
    }
    const char *colon = strrchr(p, ':'), *end = p + strcspn(p, "/");
    size_t hl = (size_t)((colon && colon < end ? colon : end) - p);
    if (!hl || hl >= 256)
        return -1;
    memcpy(host, p, hl);
    host[hl] = '\0';
    if (colon && colon < end) {
        char *e = NULL;
        long v = strtol(colon + 1, &e, 10);
        if (e != end || v < 1 || v > 65535)
            return -1;
        *port = (int)v;
    }
    return 0;
}

av_camera__mqtt *av_camera__mqtt_start(const av_camera_notify_conf *conf,
                                       const char *const *names, int n_names, char *err,
                                       size_t errlen)
{
    char user[128], pass[128], host[256];
    int port = 0;
    if (av_camera__mqtt_parse_url(conf->mqtt_url, user, pass, host, &port)) {
        snprintf(err, errlen, "MQTT: '%s' is not mqtt://[user:pass@]host[:port]",
                 conf->mqtt_url);
        return NULL;
    }
    av_camera__mqtt_lib_init();
    av_camera__mqtt *q = calloc(1, sizeof *q);
    if (q && n_names > 0)
        q->names = calloc((size_t)n_names, sizeof *q->names);
    if (!q || (n_names > 0 && !q->names)) {
        free(q);
        snprintf(err, errlen, "MQTT: out of memory");
        return NULL;
    }
    for (int i = 0; i < n_names; i++)
        snprintf(q->names[i], sizeof q->names[i], "%s", names[i]);
    q->n_names = n_names;
    snprintf(q->prefix, sizeof q->prefix, "%s", conf->mqtt_prefix[0] ? conf->mqtt_prefix
                                                                    : "aviary");
    q->discovery = conf->mqtt_discovery;
    char topic[96];
    snprintf(topic, sizeof topic, "%s/status", q->prefix);
    q->m = mosquitto_new(NULL, true, q);
    if (!q->m || (user[0] && mosquitto_username_pw_set(q->m, user, pass[0] ? pass : NULL)) ||
        mosquitto_will_set(q->m, topic, 7, "offline", 1, true) ||
        mosquitto_reconnect_delay_set(q->m, 1, 30, true)) {
        snprintf(err, errlen, "MQTT: cannot set the client up");
        av_camera__mqtt_stop(q);
        return NULL;
    }
    mosquitto_connect_callback_set(q->m, on_connect);
    /* async: a broker down at start is retried by the loop thread */
    int rc = mosquitto_connect_async(q->m, host, port, 30);
    if (rc != MOSQ_ERR_SUCCESS)
        av_log(AV_LOG_WARN, "camera_mqtt_unreachable", "host", host, "error",
               mosquitto_strerror(rc), NULL);
    if (mosquitto_loop_start(q->m) != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "MQTT: cannot start the client thread");
        av_camera__mqtt_stop(q);
        return NULL;
    }
    return q;
}

void av_camera__mqtt_stop(av_camera__mqtt *q)
{
    if (!q)
        return;
    if (q->m) {
        char topic[96];
        snprintf(topic, sizeof topic, "%s/status", q->prefix);
        publish(q->m, topic, "offline", 1);
        mosquitto_disconnect(q->m);
        mosquitto_loop_stop(q->m, false); /* the disconnect ends its loop */
        mosquitto_destroy(q->m);
    }
    free(q->names);
    free(q);
}

void av_camera__mqtt_publish(av_camera__mqtt *q, const char *camera, const char *topic,
                             const char *payload, int retain)
{
    if (!q)
        return;
    char t[256];
    snprintf(t, sizeof t, "%s/%s/%s", q->prefix, camera, topic);
    publish(q->m, t, payload, retain);
}
