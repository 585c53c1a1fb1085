/*
 * visit.c - a stored visit as JSON (the API and the notifications show the
 * same object), and the time formats they use.
 */
#include "camera/camera.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void av_camera_iso(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&t, &tm)) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    char s[24];
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", s, (int)(ms % 1000));
}

int av_camera_parse_time(const char *s, int64_t *ms)
{
    if (!s || !*s || strlen(s) > 32)
        return -1;
    int all_digits = 1;
    for (const char *p = s; *p; p++)
        all_digits &= isdigit((unsigned char)*p) != 0;
    if (all_digits) {
        if (strlen(s) > 15) /* beyond year 33000 in ms */
            return -1;
        *ms = strtoll(s, NULL, 10);
        return 0;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
        return -1;
    const char *end = s + n;
    if (*end == 'T' || *end == ' ') {
        int m = 0;
        if (sscanf(end + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &m) == 3 ||
            sscanf(end + 1, "%2d:%2d%n", &h, &mi, &m) == 2)
            end += 1 + m;
        else
            return -1;
    }
    if (*end == 'Z')
        end++;
    if (*end || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60 || h < 0 || mi < 0 || sec < 0)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || t < 0)
        return -1;
    *ms = (int64_t)t * 1000;
    return 0;
}

json_t *av_camera_visit_json(const av_store_camera_visit *v)
{
    char first[32], last[32], frame[64] = "";
    av_camera_iso(v->first_ms, first);
    av_camera_iso(v->last_ms, last);
    if (v->has_jpeg)
        snprintf(frame, sizeof frame, "/api/v1/visits/%lld/best.jpg", (long long)v->id);
    const char *review = v->review ? av_store_review_action_name(v->review) : NULL;
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:f, s:s, s:s, s:I, s:I, s:i, s:[f,f,f,f],"
                     " s:s, s:s, s:s?, s:s, s:s}",
                     "id", (json_int_t)v->id, "camera", v->camera, "species", v->species,
                     "common_name", v->common_name, "label", v->label, "score",
                     round(v->score * 10000) / 10000, "first_seen", first, "last_seen", last,
                     "first_seen_ms", (json_int_t)v->first_ms, "last_seen_ms",
                     (json_int_t)v->last_ms, "n_frames", v->n_frames, "box",
                     round(v->x1 * 10) / 10, round(v->y1 * 10) / 10, round(v->x2 * 10) / 10,
                     round(v->y2 * 10) / 10, "best_frame", frame, "node", v->node, "review",
                     review, "review_species", v->review_species, "reviewed_by",
                     v->reviewed_by);
}
