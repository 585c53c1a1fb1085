/*
 * cameras.c - the serve settings of live cameras (issue 19), kept apart
 * from config.c: "camera" (NAME=URL, repeatable), "camera.NAME.KEY" (one
 * camera's option, checked by the camera module when it starts) and the
 * node-wide "camera-*" keys.
 */
#include "config/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const av_config_key av_config__camera_keys[] = {
    {"camera", "NAME=URL", "watch a camera (repeatable): rtsp://, rtmp://, http(s):// stream, "
                           "snapshot:http(s)://... still polled, or dir:/path watched folder"},
    {"camera-cpu-budget", "CORES", "cores camera analyses may use on average (default: all)"},
    {"camera-node", "NAME", "this node's name in camera leases (default host:pid)"},
    {"camera-lease-seconds", "N", "a camera whose node stopped renewing for N s is taken over "
                                  "(default 30)"},
    {"camera-webhook", "URL", "POST each notified visit as JSON to URL"},
    {"camera-webhook-secret", "SECRET", "sign webhook bodies: X-Aviary-Signature: "
                                        "sha256=HMAC-SHA256(SECRET, body)"},
    {"camera-notify-allow", "LIST", "notify only these species (comma-separated)"},
    {"camera-notify-block", "LIST", "never notify these species"},
    {"camera-notify-first-of-day", "on|off", "notify a species' first visit of the UTC day per "
                                             "camera only"},
    {"camera-notify-new-species", "on|off", "notify species never seen before at the site only"},
    {"camera-notify-min-score", "X", "notify visits scoring at least X (0..1)"},
    {"camera-notify-cooldown", "S", "seconds between notifications per camera and species "
                                    "(default 300)"},
    {"camera-mqtt", "URL", "publish visits and camera state to the MQTT broker at "
                           "mqtt://[user:pass@]host[:port]"},
    {"camera-mqtt-prefix", "TOPIC", "MQTT topics under TOPIC/ (default aviary)"},
    {"camera-mqtt-discovery", "on|off", "Home Assistant MQTT discovery: a last-species sensor "
                                        "and a bird-present binary sensor per camera "
                                        "(default on)"},
    {"camera-frigate-url", "URL", "name the birds of Frigate's events (FRIGATE_TOPIC/events on "
                                  "--camera-mqtt's broker) and write them back as sub labels "
                                  "through Frigate's API at URL (http://frigate:5000)"},
    {"camera-frigate-topic", "TOPIC", "Frigate's MQTT topic prefix (default frigate)"},
    {"camera-retention-days", "N", "drop visits' best frames after N days (0: keep; default 30)"},
    {"camera-keep-best", "N", "keep the N best frames of each species whatever their age "
                              "(default 5)"},
    {NULL, NULL, NULL},
};

const av_config_key av_config__camera_item = {
    "camera.NAME.KEY", "VALUE",
    "a camera option: url, kind, fps, interval, motion, motion-threshold, visit-gap, "
    "min-score, timeout, done"};

void av_config__camera_defaults(av_config *c)
{
    c->cameras[0] = '\0';
    c->camera_lease_s = 30;
    c->camera_notify_cooldown_s = 300;
    c->camera_retention_days = 30;
    c->camera_keep_best = 5;
    memcpy(c->camera_mqtt_prefix, "aviary", 7);
    memcpy(c->camera_frigate_topic, "frigate", 8);
    c->camera_mqtt_discovery = 1;
}

static av_config_status number(const char *key, const char *v, double lo, double hi, double *out,
                               char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi) {
        snprintf(err, errlen, "--%s: '%s' is not a number in %g..%g", key, v, lo, hi);
        return AV_CONFIG_E_VALUE;
    }
    *out = x;
    return AV_CONFIG_OK;
}

static av_config_status on_off(const char *key, const char *v, int *out, char *err, size_t errlen)
{
    if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
        *out = 1;
    else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
        *out = 0;
    else {
        snprintf(err, errlen, "--%s: '%s' is not on or off", key, v);
        return AV_CONFIG_E_VALUE;
    }
    return AV_CONFIG_OK;
}

static av_config_status text(char *dst, size_t cap, const char *key, const char *v, char *err,
                             size_t errlen)
{
    if (strlen(v) >= cap) {
        snprintf(err, errlen, "--%s: value longer than %zu bytes", key, cap - 1);
        return AV_CONFIG_E_VALUE;
    }
    memcpy(dst, v, strlen(v) + 1);
    return AV_CONFIG_OK;
}

/* Append one "NAME.KEY=VALUE" line to c->cameras. */
static av_config_status add_line(av_config *c, const char *name, size_t name_len, const char *k,
                                 const char *v, char *err, size_t errlen)
{
    size_t used = strlen(c->cameras), need = name_len + 1 + strlen(k) + 1 + strlen(v) + 1;
    if (strchr(v, '\n') || used + need >= sizeof c->cameras) {
        snprintf(err, errlen, "camera settings: more than %zu bytes in all, or a newline",
                 sizeof c->cameras - 1);
        return AV_CONFIG_E_VALUE;
    }
    snprintf(c->cameras + used, sizeof c->cameras - used, "%.*s.%s=%s\n", (int)name_len, name,
             k, v);
    return AV_CONFIG_OK;
}

av_config_status av_config__camera_set(av_config *c, const char *key, const char *v, char *err,
                                       size_t errlen)
{
    double x;
    int b;
    if (!strcmp(key, "camera")) {
        const char *eq = strchr(v, '=');
        if (!eq || eq == v || !eq[1]) {
            snprintf(err, errlen, "--camera: '%s' is not NAME=URL", v);
            return AV_CONFIG_E_VALUE;
        }
        return add_line(c, v, (size_t)(eq - v), "url", eq + 1, err, errlen);
    }
    if (!strncmp(key, "camera.", 7)) {
        const char *name = key + 7, *dot = strchr(name, '.');
        if (!dot || dot == name || !dot[1]) {
            snprintf(err, errlen, "'%s' is not camera.NAME.KEY", key);
            return AV_CONFIG_E_VALUE;
        }
        return add_line(c, name, (size_t)(dot - name), dot + 1, v, err, errlen);
    }
    if (!strcmp(key, "camera-cpu-budget")) {
        if (number(key, v, 0, 1024, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->camera_cpu_budget = x;
        return AV_CONFIG_OK;
    }
    if (!strcmp(key, "camera-node"))
        return text(c->camera_node, sizeof c->camera_node, key, v, err, errlen);
    if (!strcmp(key, "camera-lease-seconds")) {
        if (number(key, v, 2, 3600, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->camera_lease_s = (int)x;
        return AV_CONFIG_OK;
    }
    if (!strcmp(key, "camera-webhook"))
        return text(c->camera_webhook, sizeof c->camera_webhook, key, v, err, errlen);
    if (!strcmp(key, "camera-webhook-secret"))
        return text(c->camera_webhook_secret, sizeof c->camera_webhook_secret, key, v, err,
                    errlen);
    if (!strcmp(key, "camera-notify-allow"))
        return text(c->camera_notify_allow, sizeof c->camera_notify_allow, key, v, err, errlen);
    if (!strcmp(key, "camera-notify-block"))
        return text(c->camera_notify_block, sizeof c->camera_notify_block, key, v, err, errlen);
    if (!strcmp(key, "camera-notify-first-of-day")) {
        if (on_off(key, v, &b, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->camera_notify_first_of_day = b;
        return AV_CONFIG_OK;
    }
    if (!strcmp(key, "camera-notify-new-species")) {
        if (on_off(key, v, &b, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->camera_notify_new_species = b;
        return AV_CONFIG_OK;
    }
    if (!strcmp(key, "camera-notify-min-score"))
        return number(key, v, 0, 1, &c->camera_notify_min_score, err, errlen);
    if (!strcmp(key, "camera-notify-cooldown"))
        return number(key, v, 0, 86400 * 7, &c->camera_notify_cooldown_s, err, errlen);
    if (!strcmp(key, "camera-mqtt"))
        return text(c->camera_mqtt, sizeof c->camera_mqtt, key, v, err, errlen);
    if (!strcmp(key, "camera-mqtt-prefix")) {
        if (!*v || strpbrk(v, "#+")) {
            snprintf(err, errlen, "--%s: a topic without '#' or '+'", key);
            return AV_CONFIG_E_VALUE;
        }
        return text(c->camera_mqtt_prefix, sizeof c->camera_mqtt_prefix, key, v, err, errlen);
    }
    if (!strcmp(key, "camera-mqtt-discovery")) {
        if (on_off(key, v, &b, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->camera_mqtt_discovery = b;
        return AV_CONFIG_OK;
    }
    if (!strcmp(key, "camera-frigate-url"))
        return text(c->camera_frigate_url, sizeof c->camera_frigate_url, key, v, err, errlen);
    if (!strcmp(key, "camera-frigate-topic")) {
        if (!*v || strpbrk(v, "#+")) {
            snprintf(err, errlen, "--%s: a topic without '#' or '+'", key);
            return AV_CONFIG_E_VALUE;
        }
        return text(c->camera_frigate_topic, sizeof c->camera_frigate_topic, key, v, err,
                    errlen);
    }
    if (!strcmp(key, "camera-retention-days")) {
        if (number(key, v, 0, 36500, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->camera_retention_days = (int)x;
        return AV_CONFIG_OK;
    }
    if (!strcmp(key, "camera-keep-best")) {
        if (number(key, v, 0, 10000, &x, err, errlen))
            return AV_CONFIG_E_VALUE;
        c->camera_keep_best = (int)x;
        return AV_CONFIG_OK;
    }
    snprintf(err, errlen, "unknown setting '%s'", key);
    return AV_CONFIG_E_KEY;
}
