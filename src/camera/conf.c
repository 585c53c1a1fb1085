/*
 * conf.c - camera settings from "NAME.KEY=VALUE" lines (the config keeps
 * --camera NAME=URL as "NAME.url=URL" and camera.NAME.KEY file lines so).
 */
#include "camera/camera.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 2048

const char *av_camera_kind_name(av_camera_kind k)
{
    switch (k) {
    case AV_CAMERA_STREAM: return "stream";
    case AV_CAMERA_SNAPSHOT: return "snapshot";
    case AV_CAMERA_FOLDER: return "folder";
    }
    return "stream";
}

void av_camera_conf_defaults(av_camera_conf *c, const char *name)
{
    memset(c, 0, sizeof *c);
    size_t l = name ? strnlen(name, sizeof c->name - 1) : 0; /* valid names fit */
    memcpy(c->name, name ? name : "", l);
    c->name[l] = '\0';
    c->fps = 2.0;
    c->interval_s = 5.0;
    c->motion = 1;
    c->motion_threshold = 0.01;
    c->visit_gap_s = 10.0;
    c->io_timeout_s = 10.0;
}

static int num(const char *cam, const char *key, const char *v, double lo, double hi, double *out,
               char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi) {
        snprintf(err, errlen, "camera %s: %s '%s' is not a number in %g..%g", cam, key, v, lo,
                 hi);
        return -1;
    }
    *out = x;
    return 0;
}

/* The kind a URL implies when none is given. */
static av_camera_kind kind_of(const char *url)
{
    if (!strncmp(url, "dir:", 4) || url[0] == '/')
        return AV_CAMERA_FOLDER;
    if (!strncmp(url, "snapshot:", 9))
        return AV_CAMERA_SNAPSHOT;
    return AV_CAMERA_STREAM;
}

static int set_key(av_camera_conf *c, const char *key, const char *v, int *kind_set, char *err,
                   size_t errlen)
{
    if (!strcmp(key, "url")) {
        if (!*v || strlen(v) >= sizeof c->url) {
            snprintf(err, errlen, "camera %s: url is empty or longer than %zu bytes", c->name,
                     sizeof c->url - 1);
            return -1;
        }
        if (!*kind_set)
            c->kind = kind_of(v);
        /* the markers pick the kind only; keep the URL or path proper */
        const char *u = !strncmp(v, "snapshot:", 9) ? v + 9 : !strncmp(v, "dir:", 4) ? v + 4 : v;
        snprintf(c->url, sizeof c->url, "%s", u);
        return 0;
    }
    if (!strcmp(key, "kind")) {
        if (!strcmp(v, "stream"))
            c->kind = AV_CAMERA_STREAM;
        else if (!strcmp(v, "snapshot"))
            c->kind = AV_CAMERA_SNAPSHOT;
        else if (!strcmp(v, "folder"))
            c->kind = AV_CAMERA_FOLDER;
        else {
            snprintf(err, errlen, "camera %s: kind '%s' is not stream, snapshot or folder",
                     c->name, v);
            return -1;
        }
        *kind_set = 1;
        return 0;
    }
    if (!strcmp(key, "fps"))
        return num(c->name, key, v, 0.05, 30, &c->fps, err, errlen);
    if (!strcmp(key, "interval"))
        return num(c->name, key, v, 0.2, 86400, &c->interval_s, err, errlen);
    if (!strcmp(key, "motion")) {
        if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "true"))
            c->motion = 1;
        else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "false"))
            c->motion = 0;
        else {
            snprintf(err, errlen, "camera %s: motion '%s' is not on or off", c->name, v);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "motion-threshold"))
        return num(c->name, key, v, 0.0001, 1, &c->motion_threshold, err, errlen);
    if (!strcmp(key, "visit-gap"))
        return num(c->name, key, v, 0.5, 3600, &c->visit_gap_s, err, errlen);
    if (!strcmp(key, "min-score"))
        return num(c->name, key, v, 0, 1, &c->min_score, err, errlen);
    if (!strcmp(key, "timeout"))
        return num(c->name, key, v, 0.5, 300, &c->io_timeout_s, err, errlen);
    if (!strcmp(key, "done")) {
        if (strlen(v) >= sizeof c->done_dir) {
            snprintf(err, errlen, "camera %s: done folder longer than %zu bytes", c->name,
                     sizeof c->done_dir - 1);
            return -1;
        }
        snprintf(c->done_dir, sizeof c->done_dir, "%s", v);
        return 0;
    }
    snprintf(err, errlen, "camera %s: unknown setting '%s' (url, kind, fps, interval, motion, "
             "motion-threshold, visit-gap, min-score, timeout, done)", c->name, key);
    return -1;
}

int av_camera_conf_parse(const char *text, av_camera_conf **out, int *n, char *err,
                         size_t errlen)
{
    *out = NULL;
    *n = 0;
    av_camera_conf *cams = calloc(AV_CAMERA_MAX, sizeof *cams);
    int kind_set[AV_CAMERA_MAX] = {0};
    if (!cams) {
        snprintf(err, errlen, "cameras: out of memory");
        return -1;
    }
    int count = 0;
    const char *p = text ? text : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[LINE_MAX_BYTES];
        if (len >= sizeof line) {
            snprintf(err, errlen, "cameras: a setting longer than %zu bytes", sizeof line - 1);
            goto fail;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        p += len + (nl ? 1 : 0);
        if (!*line)
            continue;
        char *dot = strchr(line, '.'), *eq = strchr(line, '=');
        if (!dot || !eq || dot > eq) {
            snprintf(err, errlen, "cameras: '%.80s' is not NAME.KEY=VALUE", line);
            goto fail;
        }
        *dot = *eq = '\0';
        const char *name = line, *key = dot + 1, *val = eq + 1;
        if (!av_store_camera_name_ok(name)) {
            snprintf(err, errlen, "camera name '%.80s': use 1 to %d letters, digits, '-' or '_'",
                     name, AV_STORE_CAMERA_NAME_MAX - 1);
            goto fail;
        }
        int i = 0;
        while (i < count && strcmp(cams[i].name, name))
            i++;
        if (i == count) {
            if (count == AV_CAMERA_MAX) {
                snprintf(err, errlen, "cameras: more than %d", AV_CAMERA_MAX);
                goto fail;
            }
            av_camera_conf_defaults(&cams[count++], name);
        }
        if (set_key(&cams[i], key, val, &kind_set[i], err, errlen))
            goto fail;
    }
    for (int i = 0; i < count; i++)
        if (!cams[i].url[0]) {
            snprintf(err, errlen, "camera %s: no url (--camera %s=URL or camera.%s.url)",
                     cams[i].name, cams[i].name, cams[i].name);
            goto fail;
        }
    *out = cams;
    *n = count;
    return 0;
fail:
    free(cams);
    return -1;
}
