/*
 * video_pages.c - what a video upload shows: the results page (poster with
 * boxes, progress while pending, a server-rendered SVG timeline of species
 * over time, the visits table with thumbnails, the feedback form), its JSON
 * in the API, and its stills (/videos/<ID>/poster.jpg, visit-<N>.jpg) served
 * from the store, so every web node can answer for every video.
 *
 * pages.c hands a request here when the upload's content type is video/ (any).
 */
#include "web/internal.h"

#include "log/log.h"
#include "vision/vision.h"
#include "text/text.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMELINE_MAX_DETS 20000 /* frame ticks drawn; more would bloat the page */
#define TIMELINE_MAX_ROWS 24    /* species rows; the rest are summed into "other" */
#define STALE_S 30.0            /* a pending video not updated for this long is re-queued */

/* Below AV_VIDEO_MIN_SPECIES_SCORE a visit is a bird, not a species: a
 * 4.7 % guess must not name one (nor count on the life list of a video). */
static int unsure(const av_store_detection *d)
{
    return d->species[0] && d->species_score >= 0 &&
           d->species_score < AV_VIDEO_MIN_SPECIES_SCORE;
}

/* A visit's colour mark (vision.h; -1 grey): its species' on every page,
 * the timeline and the poster (stills.c picks the same for its boxes). */
static int visit_mark(const av_store_detection *d)
{
    return unsure(d) ? -1 : av_vision_species_mark(d->species);
}

/* A colour key before a visit's name, by class (the CSP allows no inline style). */
static void visit_swatch(av_web__buf *b, const av_store_detection *d)
{
    int m = visit_mark(d);
    if (m < 0)
        av_web__buf_str(b, "<span class=\"swatch cg\" aria-hidden=\"true\"></span>");
    else
        av_web__buf_fmt(b, "<span class=\"swatch c%d\" aria-hidden=\"true\"></span>", m);
}

static const char *visit_name(const av_store_detection *d)
{
    if (unsure(d))
        return "Bird (species unsure)";
    if (d->common_name[0])
        return d->common_name;
    if (d->species[0])
        return d->species;
    return !strcmp(d->label, "bird") ? "Bird" : d->label;
}

/* "1:05.5" for 65.5 s; "-" for NaN. */
static void fmt_time(char *out, size_t cap, double s)
{
    if (!isfinite(s) || s < 0) {
        snprintf(out, cap, "-");
        return;
    }
    int m = (int)(s / 60);
    snprintf(out, cap, "%d:%04.1f", m, s - m * 60);
}

static int percent(const av_store_video *v)
{
    if (v->frames_expected <= 0)
        return 0;
    int p = (int)(100.0 * v->frames_done / v->frames_expected);
    return p < 0 ? 0 : p > 100 ? 100 : p;
}

/* Queue the analysis unless it is known to run somewhere: never started
 * here or anywhere (attempts 0), or its progress went stale (a node died). */
static int maybe_queue(av_web *w, const av_store_image *img, const av_store_video *v)
{
    if (strcmp(img->status, "pending") != 0)
        return 0;
    if (v->attempts > 0 && !(v->idle_s > STALE_S))
        return 0;
    return av_web__jobs_request(w->jobs, img->id);
}

/* ---- timeline ---- */

typedef struct row {
    const char *name;       /* borrowed from a visit */
    const char *scientific;
} row;

static int row_of(row *rows, int *n, const av_store_detection *d)
{
    const char *name = visit_name(d);
    for (int i = 0; i < *n; i++)
        if (!strcmp(rows[i].name, name))
            return i;
    if (*n == TIMELINE_MAX_ROWS)
        return TIMELINE_MAX_ROWS - 1; /* the last row gathers the rest */
    rows[*n] = (row){name, d->species};
    return (*n)++;
}

static void timeline_svg(av_web__buf *b, const av_store_video *v, const av_store_visit *vs, int nv,
                         const av_store_video_det *ds, int nd)
{
    if (nv == 0) {
        av_web__buf_str(b, "<p>No birds were seen in this video.</p>");
        return;
    }
    row rows[TIMELINE_MAX_ROWS];
    int nr = 0;
    int *visit_row = calloc((size_t)nv, sizeof *visit_row);
    if (!visit_row) {
        b->failed = 1;
        return;
    }
    double dur = isfinite(v->duration_s) && v->duration_s > 0 ? v->duration_s : 0;
    for (int i = 0; i < nv; i++) {
        visit_row[i] = row_of(rows, &nr, &vs[i].det);
        if (vs[i].last_s > dur)
            dur = vs[i].last_s;
    }
    if (!(dur > 0))
        dur = 1;
    double step = isfinite(v->sample_fps) && v->sample_fps > 0 ? 1.0 / v->sample_fps : 0.5;
    const int left = 250, right = 24, top = 10, row_h = 32, axis_h = 36, width = 900;
    int plot_w = width - left - right;
    int height = top + nr * row_h + axis_h;
    av_web__buf_fmt(b,
                    "<svg class=\"timeline\" viewBox=\"0 0 %d %d\" role=\"img\""
                    " aria-labelledby=\"tl-title\" xmlns=\"http://www.w3.org/2000/svg\">"
                    "<title id=\"tl-title\">Species seen over time: %d species, %d visit%s</title>",
                    width, height, nr, nv, nv == 1 ? "" : "s");
    for (int r = 0; r < nr; r++) {
        int y = top + r * row_h;
        av_web__buf_fmt(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>",
                        left, y, plot_w, row_h - 4, r % 2 ? "#f4f6f8" : "#eaeef2");
        av_web__buf_fmt(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 8,
                        y + row_h / 2 + 2);
        av_web__buf_html(b, rows[r].name);
        av_web__buf_str(b, "</text>");
    }
    /* bars in the species' colour, the same on every page (av_web__species_colour) */
    for (int i = 0; i < nv; i++) { /* one bar per visit, first to last sighting */
        double x0 = left + plot_w * vs[i].first_s / dur;
        double x1 = left + plot_w * fmin(vs[i].last_s + step, dur) / dur;
        if (x1 - x0 < 3)
            x1 = x0 + 3;
        char a[16], z[16];
        fmt_time(a, sizeof a, vs[i].first_s);
        fmt_time(z, sizeof z, vs[i].last_s);
        av_web__buf_fmt(b,
                        "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" rx=\"3\""
                        " fill=\"%s\" fill-opacity=\"0.75\"><title>",
                        x0, top + visit_row[i] * row_h + 3, x1 - x0, row_h - 10,
                        visit_mark(&vs[i].det) < 0 ? "#555555"
                                                   : av_vision_mark_hex(visit_mark(&vs[i].det)));
        av_web__buf_html(b, visit_name(&vs[i].det));
        av_web__buf_fmt(b, ", visit %d: %s to %s, best %.0f%%</title></rect>", vs[i].track, a, z,
                        vs[i].det.score * 100);
    }
    /* A tick per detection on a sampled frame, in its visit's row. */
    for (int k = 0; k < nd && k < TIMELINE_MAX_DETS; k++) {
        int r = -1;
        for (int i = 0; i < nv; i++)
            if (vs[i].track == ds[k].track) {
                r = visit_row[i];
                break;
            }
        if (r < 0)
            continue;
        double x = left + plot_w * fmin(ds[k].t, dur) / dur;
        av_web__buf_fmt(b,
                        "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#1a202c\""
                        " stroke-width=\"1\"/>",
                        x, x, top + r * row_h + 5, top + r * row_h + row_h - 9);
    }
    /* Time axis: about six labelled ticks at a round step. */
    static const double steps[] = {0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600};
    double tick = steps[0];
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        tick = steps[i];
        if (dur / tick <= 6)
            break;
    }
    int y_axis = top + nr * row_h;
    av_web__buf_fmt(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#555\"/>", left,
                    left + plot_w, y_axis, y_axis);
    for (int i = 0; i * tick <= dur + 1e-9 && i < 64; i++) {
        double x = left + plot_w * (i * tick) / dur;
        char t[16];
        fmt_time(t, sizeof t, i * tick);
        av_web__buf_fmt(b,
                        "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#555\"/>"
                        "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>",
                        x, x, y_axis, y_axis + 5, x, y_axis + 20, t);
    }
    av_web__buf_str(b, "</svg>");
    free(visit_row);
}

static int species_count(const av_store_visit *vs, int nv)
{
    int n = 0;
    for (int i = 0; i < nv; i++) {
        int seen = unsure(&vs[i].det) || !vs[i].det.species[0];
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(visit_name(&vs[j].det), visit_name(&vs[i].det));
        n += !seen;
    }
    return n;
}

/* Per species: its visits, time on screen, first seen, best confidence. */
static void species_summary(av_web__buf *b, const av_store_visit *vs, int nv)
{
    av_web__buf_str(b, "<table class=\"stack\" id=\"species-summary\"><thead><tr><th"
                       " scope=\"col\">Species</th><th scope=\"col\">Visits</th><th"
                       " scope=\"col\">On screen</th><th scope=\"col\">First seen</th><th"
                       " scope=\"col\">Best confidence</th></tr></thead><tbody>");
    for (int i = 0; i < nv; i++) {
        const char *name = visit_name(&vs[i].det);
        int first = 1;
        for (int j = 0; j < i && first; j++)
            first = strcmp(visit_name(&vs[j].det), name) != 0;
        if (!first)
            continue;
        int n = 0;
        double on = 0, at = vs[i].first_s, best = 0;
        for (int j = i; j < nv; j++)
            if (!strcmp(visit_name(&vs[j].det), name)) {
                n++;
                on += vs[j].last_s - vs[j].first_s;
                at = fmin(at, vs[j].first_s);
                best = fmax(best, vs[j].det.score);
            }
        char t_on[16], t_at[16];
        fmt_time(t_on, sizeof t_on, on);
        fmt_time(t_at, sizeof t_at, at);
        av_web__buf_str(b, "<tr><td data-label=\"Species\">");
        visit_swatch(b, &vs[i].det);
        av_web__buf_html(b, name);
        av_web__buf_fmt(b, "</td><td class=\"num\" data-label=\"Visits\">%d</td><td"
                           " class=\"num\" data-label=\"On screen\">%s</td><td class=\"num\""
                           " data-label=\"First seen\">%s</td><td class=\"num\""
                           " data-label=\"Best confidence\">%.1f%%</td></tr>",
                        n, t_on, t_at, best * 100);
    }
    av_web__buf_str(b, "</tbody></table>");
}

static void visits_table(av_web__buf *b, const char *id, const char *ext, const av_store_visit *vs,
                         int nv)
{
    if (nv == 0) {
        av_web__buf_str(b, "<p>No birds were found in this video.</p>");
        return;
    }
    int ns = species_count(vs, nv);
    av_web__buf_fmt(b, "<p class=\"meta\" id=\"visit-count\">%d visit%s, %d species</p>", nv,
                    nv == 1 ? "" : "s", ns);
    species_summary(b, vs, nv);
    av_web__buf_str(b, "<table class=\"visits stack\"><thead><tr><th scope=\"col\">#</th>"
                       "<th scope=\"col\">Best frame</th><th scope=\"col\">Bird species</th>"
                       "<th scope=\"col\">Scientific name</th><th scope=\"col\">First seen</th>"
                       "<th scope=\"col\">Last seen</th><th scope=\"col\">Best confidence</th>"
                       "</tr></thead><tbody>");
    for (int i = 0; i < nv; i++) {
        char a[16], z[16];
        fmt_time(a, sizeof a, vs[i].first_s);
        fmt_time(z, sizeof z, vs[i].last_s);
        /* the thumbnail seeks the player (video.js); without script the
         * link opens the clip at that time (a media fragment) */
        av_web__buf_fmt(b,
                        "<tr><td data-label=\"#\">%d</td><td><a class=\"seek\""
                        " href=\"/originals/%s.%s#t=%.1f\" data-t=\"%.1f\"><img"
                        " src=\"/videos/%s/visit-%d.jpg\" alt=\"",
                        i + 1, id, ext, vs[i].first_s, vs[i].first_s, id, vs[i].track);
        av_web__buf_html(b, visit_name(&vs[i].det));
        av_web__buf_fmt(b, " at %s: play from here\" width=\"80\" height=\"80\"></a></td><td"
                           " data-label=\"Species\">",
                        a);
        visit_swatch(b, &vs[i].det);
        av_web__buf_html(b, visit_name(&vs[i].det));
        av_web__buf_str(b, "</td><td data-label=\"Scientific name\"><i>");
        av_web__buf_html(b, vs[i].det.species[0] ? vs[i].det.species : "-");
        if (unsure(&vs[i].det))
            av_web__buf_fmt(b, "</i> (guess, %.1f%%)<i>", vs[i].det.species_score * 100);
        av_web__buf_fmt(b,
                        "</i></td><td class=\"num\" data-label=\"First seen\">%s</td><td"
                        " class=\"num\" data-label=\"Last seen\">%s</td>"
                        "<td class=\"num\" data-label=\"Best confidence\">%.1f%%</td></tr>",
                        a, z, vs[i].det.score * 100);
    }
    av_web__buf_str(b, "</tbody></table>");
}

enum MHD_Result av_web__video_results(av_web__req *r, const av_store_image *img,
                                      const char *form_error, unsigned status)
{
    av_web *w = r->w;
    char err[512] = "";
    av_store_video v;
    av_store_status st = av_store_video_get(w->o.store, img->id, &v, err, sizeof err);
    if (st != AV_STORE_OK) {
        return av_web__internal_error(r, "video", err);
    }
    int done = !strcmp(img->status, "done"), failed = !strcmp(img->status, "failed");
    if (!done && !failed && maybe_queue(w, img, &v))
        return av_web__message(r, MHD_HTTP_SERVICE_UNAVAILABLE, "Busy right now",
                               "Your video is saved, but every analysis worker is busy."
                               " Please reload this page in a few seconds.");
    av_store_visit *vs = NULL;
    av_store_video_det *ds = NULL;
    int nv = 0, nd = 0;
    if (done && (av_store_video_visits(w->o.store, img->id, &vs, &nv, err, sizeof err) ||
                 av_store_video_dets(w->o.store, img->id, TIMELINE_MAX_DETS, &ds, &nd, err,
                                     sizeof err))) {
        free(vs);
        return av_web__internal_error(r, "video visits", err);
    }
    av_web__buf facts, stat, poster, tl, table, fb, note, b;
    av_web__buf_init(&facts, 1024);
    av_web__buf_init(&stat, 4096);
    av_web__buf_init(&poster, 4096);
    av_web__buf_init(&tl, 4 << 20);
    av_web__buf_init(&table, 1 << 20);
    av_web__buf_init(&fb, 16384);
    av_web__buf_init(&note, 4096);
    char dur[16];
    fmt_time(dur, sizeof dur, v.duration_s);
    av_web__buf_fmt(&facts, " &middot; %s", v.container);
    if (isfinite(v.duration_s))
        av_web__buf_fmt(&facts, " &middot; %s long", dur);
    if (v.width > 0)
        av_web__buf_fmt(&facts, " &middot; %d&times;%d", v.width, v.height);
    /* id: 32 hex; ext: from the magic bytes (mp4, mov, webm, mkv, avi) */
    av_web__buf_fmt(&facts, " &middot; <a href=\"/originals/%s.%s\" download>original video</a>",
                    img->id, img->ext);
    const char *head = NULL;
    if (done) {
        /* the clip itself, in a player (served with Range by /originals/) */
        av_web__buf_fmt(&poster, "<video id=\"player\" controls preload=\"metadata\""
                                 " poster=\"/videos/%s/poster.jpg\" src=\"/originals/%s.%s\">"
                                 "<a href=\"/originals/%s.%s\">Download the video</a></video>",
                        img->id, img->id, img->ext, img->id, img->ext);
        av_web__buf_fmt(&poster, "<img src=\"/videos/%s/poster.jpg\" alt=\"Poster frame, %d bird"
                                 " visit%s marked\">",
                        img->id, nv, nv == 1 ? "" : "s");
        head = "<script src=\"/static/video.js\" defer></script>";
        timeline_svg(&tl, &v, vs, nv, ds, nd);
        visits_table(&table, img->id, img->ext, vs, nv);
        av_web__feedback_form(r, &fb, img, form_error);
    } else if (failed) {
        av_web__buf_str(&stat, "<p class=\"error\" role=\"alert\">This video could not be "
                               "analysed: ");
        av_web__buf_html(&stat, img->error);
        av_web__buf_str(&stat, "</p>");
        av_web__buf_str(&poster, "<p>No poster.</p>");
        av_web__buf_str(&tl, "<p>No results.</p>");
        av_web__buf_str(&table, "<p>No results.</p>");
        av_web__buf_str(&fb, "<p>No feedback to give: the video could not be analysed.</p>");
    } else {
        int p = percent(&v);
        av_web__buf_fmt(&stat,
                        "<section class=\"card\" aria-live=\"polite\"><h2>Analysing</h2>"
                        "<progress id=\"progress\" max=\"100\" value=\"%d\">%d%%</progress>"
                        "<p>%d%% &middot; frame %d of %d sampled; this page refreshes by "
                        "itself.</p></section>",
                        p, p, p, v.frames_done, v.frames_expected);
        av_web__buf_str(&poster, "<p>The poster appears when the analysis is done.</p>");
        av_web__buf_str(&tl, "<p>Analysis pending.</p>");
        av_web__buf_str(&table, "<p>Analysis pending.</p>");
        av_web__buf_str(&fb, "<p>Feedback is possible once the video has been analysed.</p>");
        head = "<meta http-equiv=\"refresh\" content=\"2\">";
    }
    if (w->o.species_note) {
        av_web__buf_str(&note, "<p class=\"note\">");
        av_web__buf_html(&note, w->o.species_note);
        av_web__buf_str(&note, "</p>");
    }
    av_web__buf owner;
    av_web__buf_init(&owner, 4096);
    av_web__owner_tools(r, &owner, img->id);
    const char *kv[] = {"id", img->id, "name", img->name,
                        "facts", facts.p ? facts.p : "", "status", stat.p ? stat.p : "",
                        "poster", poster.p ? poster.p : "", "timeline", tl.p ? tl.p : "",
                        "visits", table.p ? table.p : "", "feedback", fb.p ? fb.p : "",
                        "species_note", note.p ? note.p : "", "owner", owner.p ? owner.p : "",
                        NULL};
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    char title[320];
    snprintf(title, sizeof title, "%s - Aviary results", img->name);
    av_web__page(r, &b, title, "video.html", kv, head);
    av_web__buf_free(&owner);
    int bad = facts.failed || stat.failed || poster.failed || tl.failed || table.failed ||
              fb.failed || note.failed || b.failed;
    av_web__buf_free(&facts);
    av_web__buf_free(&stat);
    av_web__buf_free(&poster);
    av_web__buf_free(&tl);
    av_web__buf_free(&table);
    av_web__buf_free(&fb);
    av_web__buf_free(&note);
    free(vs);
    free(ds);
    if (bad) {
        av_web__buf_free(&b);
        return av_web__send(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
                            "internal error\n", 15, NULL);
    }
    enum MHD_Result ret = av_web__send(r, status, "text/html; charset=utf-8", b.p, b.len, NULL);
    av_web__buf_free(&b);
    return ret;
}

/* ---- JSON ---- */

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *video_json(av_web *w, const av_store_image *img, const av_store_video *v)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    char url[160];
    json_object_set_new(o, "id", json_string(img->id));
    char name[sizeof img->name * 3]; /* rows stored before names were cleaned */
    av_text_utf8_clean(name, sizeof name, img->name);
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "kind", json_string("video"));
    json_object_set_new(o, "status", json_string(img->status));
    snprintf(url, sizeof url, "/uploads/%s", img->id);
    json_object_set_new(o, "results_url", json_string(url));
    snprintf(url, sizeof url, "/originals/%s.%s", img->id, img->ext);
    json_object_set_new(o, "original_url", json_string(url));
    json_object_set_new(o, "container", json_string(v->container));
    if (v->codec[0])
        json_object_set_new(o, "codec", json_string(v->codec));
    json_object_set_new(o, "duration", num_or_null(v->duration_s));
    if (v->width > 0) {
        json_object_set_new(o, "width", json_integer(v->width));
        json_object_set_new(o, "height", json_integer(v->height));
    }
    json_object_set_new(o, "sample_fps", num_or_null(v->sample_fps));
    json_object_set_new(o, "progress",
                        json_pack("{s:i,s:i,s:i,s:i}", "frames_done", v->frames_done,
                                  "frames_expected", v->frames_expected, "percent",
                                  !strcmp(img->status, "done") ? 100 : percent(v), "attempts",
                                  v->attempts));
    if (!strcmp(img->status, "failed"))
        json_object_set_new(o, "error", json_string(img->error));
    if (!strcmp(img->status, "done")) {
        snprintf(url, sizeof url, "/videos/%s/poster.jpg", img->id);
        json_object_set_new(o, "poster_url", json_string(url));
        av_store_visit *vs = NULL;
        int nv = 0;
        char err[256];
        json_t *arr = json_array();
        if (av_store_video_visits(w->o.store, img->id, &vs, &nv, err, sizeof err) ==
            AV_STORE_OK) {
            for (int i = 0; i < nv; i++) {
                const av_store_detection *d = &vs[i].det;
                snprintf(url, sizeof url, "/videos/%s/visit-%d.jpg", img->id, vs[i].track);
                json_t *x = json_pack("{s:i,s:s,s:s,s:f,s:f,s:f,s:f,s:i,s:[f,f,f,f],s:s}",
                                      "track", vs[i].track, "label", d->label, "name",
                                      visit_name(d), "confidence", d->score, "first_seen",
                                      vs[i].first_s, "last_seen", vs[i].last_s, "best_t",
                                      vs[i].best_t, "frames", vs[i].n_frames, "box", d->x1,
                                      d->y1, d->x2, d->y2, "thumbnail_url", url);
                if (!x)
                    continue;
                json_object_set_new(x, "species",
                                    d->species[0] ? json_string(d->species) : json_null());
                json_object_set_new(x, "common_name", d->common_name[0]
                                                          ? json_string(d->common_name)
                                                          : json_null());
                json_array_append_new(arr, x);
            }
            json_object_set_new(o, "species_count", json_integer(species_count(vs, nv)));
            free(vs);
        }
        json_object_set_new(o, "visits", arr);
    }
    json_object_set_new(o, "voted", json_boolean(img->voted));
    return o;
}

enum MHD_Result av_web__video_api(av_web__req *r, const av_store_image *img)
{
    av_web *w = r->w;
    char err[512] = "";
    av_store_video v;
    json_t *j = NULL;
    if (av_store_video_get(w->o.store, img->id, &v, err, sizeof err) == AV_STORE_OK) {
        if (maybe_queue(w, img, &v))
            return av_web__send(r, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
                                "{\"error\":\"busy; retry shortly\"}\n", 30, NULL);
        j = video_json(w, img, &v);
    } else {
        av_log(AV_LOG_ERROR, "internal_error", "where", "video api", "error", err, NULL);
    }
    return av_web__send_json(r, MHD_HTTP_OK, j); /* NULL j: a 500 */
}

/* ---- stills ---- */

/* "<ID>/poster.jpg" or "<ID>/visit-<N>.jpg" -> id, media name; -1 otherwise. */
static int parse_still(const char *rest, char *id, char *name, size_t cap)
{
    if (strlen(rest) <= AV_STORE_ID_LEN + 1 || rest[AV_STORE_ID_LEN] != '/')
        return -1;
    memcpy(id, rest, AV_STORE_ID_LEN);
    id[AV_STORE_ID_LEN] = '\0';
    if (!av_store_valid_id(id))
        return -1;
    const char *file = rest + AV_STORE_ID_LEN + 1;
    if (!strcmp(file, "poster.jpg")) {
        snprintf(name, cap, "poster");
        return 0;
    }
    if (strncmp(file, "visit-", 6) != 0)
        return -1;
    const char *p = file + 6;
    long n = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 7) {
        n = n * 10 + (*p++ - '0');
        digits++;
    }
    if (!digits || n < 1 || strcmp(p, ".jpg") != 0)
        return -1;
    snprintf(name, cap, "visit-%ld", n);
    return 0;
}

enum MHD_Result av_web__video_still(av_web__req *r, const char *rest)
{
    av_web *w = r->w;
    char id[AV_STORE_ID_LEN + 1], name[32], ctype[32], err[256];
    if (parse_still(rest, id, name, sizeof name))
        return MHD_NO;
    void *data = NULL;
    size_t len = 0;
    av_store_status st = av_store_video_media_get(w->o.store, id, name, ctype, sizeof ctype,
                                                  &data, &len, err, sizeof err);
    if (st != AV_STORE_OK) {
        if (st != AV_STORE_NOT_FOUND)
            av_log(AV_LOG_ERROR, "still_failed", "id", id, "error", err, NULL);
        return MHD_NO;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "image/jpeg");
    /* Stills exist only once the analysis is stored, and never change after. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            "public, max-age=31536000, immutable");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = av_web__queue(r, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}
