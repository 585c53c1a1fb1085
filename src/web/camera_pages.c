/*
 * camera_pages.c - live cameras in the web app (issue 19):
 *
 *   GET /cameras                      each camera: state, last frame with boxes,
 *                                     fps, visits today; recent visits. Reloads
 *                                     itself every 10 s (no script needed).
 *   GET /cameras/<NAME>/frame.jpg     the last frame with its boxes drawn
 *   GET /api/v1/cameras               the same as JSON
 *   GET /api/v1/visits?camera=NAME&since=T&species=S&limit=N   stored visits
 *   GET /api/v1/visits/<ID>/best.jpg  a visit's best frame
 *
 * Cameras are watched by the node (o.cameras); visits come from the store,
 * so any node lists every camera's visits.
 */
#include "web/internal.h"

#include "camera/camera.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECENT_VISITS 24
#define API_VISITS_DEFAULT 100
#define API_VISITS_MAX 1000

static int64_t day_start_ms(void)
{
    int64_t now = (int64_t)time(NULL) * 1000;
    return now - now % (86400LL * 1000); /* UTC day, as the notification rule */
}

/* Visits today per camera; -1 when the store fails. */
static int64_t visits_today(av_web *w, const char *camera)
{
    int64_t n = 0;
    char err[256];
    if (av_store_camera_visit_count(w->o.store, camera, day_start_ms(), &n, err, sizeof err) !=
        AV_STORE_OK)
        return -1;
    return n;
}

static void fact(av_web__buf *b, const char *k, const char *v)
{
    av_web__buf_str(b, "<div><span class=\"k\">");
    av_web__buf_html(b, k);
    av_web__buf_str(b, "</span> <span class=\"v\">");
    av_web__buf_html(b, v);
    av_web__buf_str(b, "</span></div>");
}

static void camera_card(av_web *w, av_web__buf *b, const av_camera_status *s)
{
    char v[64];
    av_web__buf_str(b, "<section class=\"card camera\"><h2>");
    av_web__buf_html(b, s->name);
    av_web__buf_fmt(b, " <span class=\"state state-%s\">", s->state);
    av_web__buf_html(b, s->state);
    av_web__buf_str(b, "</span></h2>");
    if (s->error[0] && strcmp(s->state, "live")) {
        av_web__buf_str(b, "<p class=\"warn\">");
        av_web__buf_html(b, s->error);
        av_web__buf_str(b, "</p>");
    }
    if (s->last_frame_age_s >= 0) {
        /* the query string defeats caches between reloads */
        av_web__buf_str(b, "<img class=\"frame\" src=\"/cameras/");
        av_web__buf_html(b, s->name);
        av_web__buf_fmt(b, "/frame.jpg?t=%lld\" alt=\"last frame of ", (long long)time(NULL));
        av_web__buf_html(b, s->name);
        av_web__buf_str(b, "\">");
    } else {
        av_web__buf_str(b, "<p>No frame yet.</p>");
    }
    av_web__buf_str(b, "<div class=\"camera-facts\">");
    fact(b, "Source", av_camera_kind_name(s->kind));
    fact(b, "URL", s->url_shown);
    snprintf(v, sizeof v, "%.1f (analysed %.1f)", s->fps, s->analysed_fps);
    fact(b, "Frames per second", v);
    int64_t today = visits_today(w, s->name);
    snprintf(v, sizeof v, today < 0 ? "?" : "%lld", (long long)today);
    fact(b, "Visits today", v);
    fact(b, "Bird present", s->bird_present ? "yes" : "no");
    fact(b, "Last species", s->last_species[0] ? s->last_species : "-");
    if (s->last_frame_age_s >= 0) {
        snprintf(v, sizeof v, "%.0f s ago", s->last_frame_age_s);
        fact(b, "Last frame", v);
    }
    snprintf(v, sizeof v, "%d", s->reconnects);
    fact(b, "Reconnects", v);
    av_web__buf_str(b, "</div></section>");
}

static void recent_visits(av_web *w, av_web__buf *b)
{
    av_store_camera_visit *v = NULL;
    int n = 0;
    char err[256];
    if (av_store_camera_visits(w->o.store, NULL, NULL, 0, RECENT_VISITS, &v, &n, err,
                               sizeof err) != AV_STORE_OK) {
        av_web__buf_str(b, "<p class=\"warn\">Visits cannot be listed: ");
        av_web__buf_html(b, err);
        av_web__buf_str(b, "</p>");
        return;
    }
    if (!n) {
        av_web__buf_str(b, "<p>No visit yet.</p>");
        return;
    }
    av_web__buf_str(b, "<table><thead><tr><th scope=\"col\">Best frame</th><th scope=\"col\">"
                       "Species</th><th scope=\"col\">Camera</th><th scope=\"col\">First seen"
                       "</th><th scope=\"col\">Last seen</th><th scope=\"col\">Score</th>"
                       "</tr></thead><tbody>");
    for (int i = 0; i < n; i++) {
        char first[32], last[32];
        av_camera_iso(v[i].first_ms, first);
        av_camera_iso(v[i].last_ms, last);
        av_web__buf_str(b, "<tr><td>");
        if (v[i].has_jpeg)
            av_web__buf_fmt(b, "<img class=\"thumb\" src=\"/api/v1/visits/%lld/best.jpg\" "
                               "alt=\"\" width=\"96\" height=\"96\">",
                            (long long)v[i].id);
        av_web__buf_str(b, "</td><td>");
        av_web__buf_html(b, v[i].label[0] ? v[i].label : "Bird");
        if (v[i].species[0] && strcmp(v[i].species, v[i].label)) {
            av_web__buf_str(b, " <i>");
            av_web__buf_html(b, v[i].species);
            av_web__buf_str(b, "</i>");
        }
        av_web__buf_str(b, "</td><td>");
        av_web__buf_html(b, v[i].camera);
        av_web__buf_fmt(b, "</td><td>%s</td><td>%s</td><td class=\"num\">%.0f%%</td></tr>",
                        first, last, v[i].score * 100);
    }
    av_web__buf_str(b, "</tbody></table>");
    free(v);
}

enum MHD_Result av_web__page_cameras(av_web__req *r)
{
    av_web *w = r->w;
    av_camera_status *st = NULL;
    int n = 0;
    if (av_camera_node_status(w->o.cameras, &st, &n))
        return av_web__message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Out of memory",
                               "The cameras cannot be shown right now.");
    av_web__buf cams, visits, b;
    av_web__buf_init(&cams, AV_WEB_PAGE_LIMIT);
    av_web__buf_init(&visits, AV_WEB_PAGE_LIMIT);
    if (!n)
        av_web__buf_str(&cams, "<p>This node watches no camera. Add one with <code>--camera "
                               "NAME=URL</code> or <code>camera.NAME.url</code> in the config "
                               "file (README, Cameras).</p>");
    for (int i = 0; i < n; i++)
        camera_card(w, &cams, &st[i]);
    free(st);
    recent_visits(w, &visits);
    const char *kv[] = {"cameras", cams.p ? cams.p : "", "visits", visits.p ? visits.p : "",
                        NULL};
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    av_web__page(r, &b, "Aviary - cameras", "cameras.html", kv,
                 "<meta http-equiv=\"refresh\" content=\"10\">");
    if (cams.failed || visits.failed)
        b.failed = 1;
    av_web__buf_free(&cams);
    av_web__buf_free(&visits);
    enum MHD_Result ret =
        b.failed ? av_web__send(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
                                "internal error\n", 15, NULL)
                 : av_web__send(r, MHD_HTTP_OK, "text/html; charset=utf-8", b.p, b.len, NULL);
    av_web__buf_free(&b);
    return ret;
}

/* rest: "<NAME>/frame.jpg" */
enum MHD_Result av_web__camera_frame(av_web__req *r, const char *rest)
{
    av_web *w = r->w;
    const char *slash = strchr(rest, '/');
    char name[AV_STORE_CAMERA_NAME_MAX];
    size_t len = slash ? (size_t)(slash - rest) : 0;
    if (!slash || strcmp(slash, "/frame.jpg") || len == 0 || len >= sizeof name)
        return MHD_NO;
    memcpy(name, rest, len);
    name[len] = '\0';
    unsigned char *jpg = NULL;
    size_t n = 0;
    if (!av_store_camera_name_ok(name) || av_camera_node_frame(w->o.cameras, name, &jpg, &n))
        return MHD_NO;
    enum MHD_Result ret = av_web__send(r, MHD_HTTP_OK, "image/jpeg", (const char *)jpg, n, NULL);
    free(jpg);
    return ret;
}

enum MHD_Result av_web__api_cameras(av_web__req *r)
{
    av_web *w = r->w;
    av_camera_status *st = NULL;
    int n = 0;
    if (av_camera_node_status(w->o.cameras, &st, &n))
        return av_web__json_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++) {
        json_t *j = av_camera_status_json(&st[i]);
        int64_t today = visits_today(w, st[i].name);
        if (j)
            json_object_set_new(j, "visits_today", today < 0 ? json_null() : json_integer(today));
        if (j) {
            char frame[AV_STORE_CAMERA_NAME_MAX + 32];
            snprintf(frame, sizeof frame, "/cameras/%s/frame.jpg", st[i].name);
            json_object_set_new(j, "frame", st[i].last_frame_age_s < 0 ? json_null()
                                                                       : json_string(frame));
        }
        if (!j || json_array_append_new(arr, j)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    free(st);
    return av_web__send_json(r, MHD_HTTP_OK, arr ? json_pack("{s:o}", "cameras", arr) : NULL);
}

static enum MHD_Result visit_best(av_web__req *r, const char *rest)
{
    av_web *w = r->w;
    char *end = NULL;
    long long id = strtoll(rest, &end, 10);
    if (!end || end == rest || strcmp(end, "/best.jpg") || id <= 0)
        return av_web__json_error(r, MHD_HTTP_NOT_FOUND, "not found");
    void *jpg = NULL;
    size_t n = 0;
    char err[256];
    av_store_status st = av_store_camera_visit_jpeg(w->o.store, id, &jpg, &n, err, sizeof err);
    if (st == AV_STORE_NOT_FOUND)
        return av_web__json_error(r, MHD_HTTP_NOT_FOUND, "this visit has no stored frame");
    if (st != AV_STORE_OK)
        return av_web__json_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, err);
    /* a visit's frame never changes (retention only removes it) */
    enum MHD_Result ret = av_web__send(r, MHD_HTTP_OK, "image/jpeg", jpg, n,
                                       "public, max-age=86400");
    free(jpg);
    return ret;
}

/* rest: "" (the list) or "<ID>/best.jpg" */
enum MHD_Result av_web__api_visits(av_web__req *r, const char *rest)
{
    av_web *w = r->w;
    struct MHD_Connection *c = r->c;
    if (*rest)
        return visit_best(r, rest);
    const char *camera = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "camera");
    const char *species = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "species");
    const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    if (camera && *camera && !av_store_camera_name_ok(camera))
        return av_web__json_error(r, MHD_HTTP_BAD_REQUEST,
                          "camera: a name of letters, digits, '-' or '_' (at most 63)");
    if (species && strlen(species) >= 128)
        return av_web__json_error(r, MHD_HTTP_BAD_REQUEST, "species: at most 127 bytes");
    int64_t since_ms = 0;
    if (since && *since && av_camera_parse_time(since, &since_ms))
        return av_web__json_error(r, MHD_HTTP_BAD_REQUEST,
                          "since: ms since the epoch or YYYY-MM-DD[THH:MM[:SS]][Z] (UTC)");
    int max = API_VISITS_DEFAULT;
    if (limit && *limit) {
        char *end = NULL;
        long l = strtol(limit, &end, 10);
        if (!end || *end || l < 1 || l > API_VISITS_MAX)
            return av_web__json_error(r, MHD_HTTP_BAD_REQUEST, "limit: 1..1000");
        max = (int)l;
    }
    av_store_camera_visit *v = NULL;
    int n = 0;
    char err[256];
    if (av_store_camera_visits(w->o.store, camera, species, since_ms, max, &v, &n, err,
                               sizeof err) != AV_STORE_OK)
        return av_web__json_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, err);
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, av_camera_visit_json(&v[i]))) {
            json_decref(arr);
            arr = NULL;
        }
    free(v);
    return av_web__send_json(r, MHD_HTTP_OK,
                             arr ? json_pack("{s:o, s:i}", "visits", arr, "count", n) : NULL);
}

void av_web__camera_storage(av_web *w, char *out, size_t outlen)
{
    int64_t bytes = 0;
    char err[256];
    if (av_store_camera_storage(w->o.store, &bytes, err, sizeof err) != AV_STORE_OK)
        snprintf(out, outlen, "unknown");
    else if (bytes >= 10LL << 20)
        snprintf(out, outlen, "%.0f MB", (double)bytes / 1e6);
    else
        snprintf(out, outlen, "%.1f MB", (double)bytes / 1e6);
}
