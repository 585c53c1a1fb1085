/*
 * species_pages.c - the birder's pages drawn from one pass over every bird
 * (the shared snapshot, birds_cache.c): /species (the life list),
 * /species/<name>, and /activity (birds by hour of day and by day, SVG
 * drawn here with a table alternative). Server-rendered; no JavaScript.
 */
#include "web/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the life list and activity: one pass over every bird ---- */

typedef struct life {
    char sci[128], common[128];
    int64_t birds, photos;
    char first[32], last[32], last_image[AV_STORE_ID_LEN + 1];
    double best;
    av_store_image best_img; /* id, ext, status only */
    int best_video;
    int64_t visits;          /* camera visits */
    int64_t best_visit;      /* the visit with the best frame; 0 none */
    double best_visit_score;
} life;

typedef struct tally {
    const char *only;          /* species filter, NULL: all */
    life *v;
    int n, cap, failed;
    int64_t hours[24];
    char (*days)[11];          /* distinct days, sorted at the end */
    int64_t *day_n;
    int nd, capd;
    int64_t birds;
} tally;

#define MAX_SPECIES 5000
#define MAX_DAYS 4000

static life *life_of(tally *t, const av_web__label *sp)
{
    for (int i = t->n - 1; i >= 0; i--)
        if (!strcmp(t->v[i].sci, sp->scientific))
            return &t->v[i];
    if (t->n >= MAX_SPECIES)
        return NULL;
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 64;
        life *v = realloc(t->v, (size_t)cap * sizeof *v);
        if (!v) {
            t->failed = 1;
            return NULL;
        }
        t->v = v, t->cap = cap;
    }
    life *l = &t->v[t->n++];
    memset(l, 0, sizeof *l);
    snprintf(l->sci, sizeof l->sci, "%s", sp->scientific);
    snprintf(l->common, sizeof l->common, "%s", sp->common);
    l->best = -1;
    return l;
}

static void count_day(tally *t, const char *seen)
{
    for (int i = t->nd - 1; i >= 0; i--)
        if (!strncmp(t->days[i], seen, 10)) {
            t->day_n[i]++;
            return;
        }
    if (t->nd >= MAX_DAYS)
        return;
    if (t->nd == t->capd) {
        int cap = t->capd ? t->capd * 2 : 64;
        char(*d)[11] = realloc(t->days, (size_t)cap * sizeof *d);
        int64_t *dn = d ? realloc(t->day_n, (size_t)cap * sizeof *dn) : NULL;
        if (d)
            t->days = d;
        if (!d || !dn) {
            t->failed = 1;
            return;
        }
        t->day_n = dn, t->capd = cap;
    }
    snprintf(t->days[t->nd], 11, "%.10s", seen);
    t->day_n[t->nd++] = 1;
}

/* A bird or visit seen at `seen` into the charts; its species' row (NULL none). */
static life *count_seen(tally *t, const av_web__label *sp, const char *seen)
{
    t->birds++;
    if (strlen(seen) >= 13) {
        int h = (seen[11] - '0') * 10 + (seen[12] - '0');
        if (h >= 0 && h < 24)
            t->hours[h]++;
        count_day(t, seen);
    }
    life *l = sp ? life_of(t, sp) : NULL;
    if (l) {
        l->birds++;
        if (!l->first[0] || strcmp(seen, l->first) < 0)
            snprintf(l->first, sizeof l->first, "%s", seen);
        if (strcmp(seen, l->last) > 0)
            snprintf(l->last, sizeof l->last, "%s", seen);
    }
    return l;
}

static void tally_one(tally *t, const av_web__birds *s, const av_web__bird *b)
{
    const av_web__label *sp = b->sp >= 0 ? &s->species[b->sp] : NULL;
    if (b->action == AV_REVIEW_NOT_BIRD || b->action == AV_REVIEW_DUPLICATE ||
        (t->only && (!sp || strcmp(t->only, sp->scientific))))
        return;
    life *l = count_seen(t, sp, b->seen);
    if (!l)
        return;
    if (strcmp(l->last_image, b->image_id)) { /* birds come ordered by image */
        l->photos++;
        snprintf(l->last_image, sizeof l->last_image, "%s", b->image_id);
    }
    /* The best photo: a reviewed bird beats any score, then the highest score. */
    double score = (b->action ? 2.0 : 0.0) + (isnan(b->score) ? 0.5 : b->score);
    if (score > l->best) {
        l->best = score;
        snprintf(l->best_img.id, sizeof l->best_img.id, "%s", b->image_id);
        snprintf(l->best_img.ext, sizeof l->best_img.ext, "%s", b->ext);
        snprintf(l->best_img.status, sizeof l->best_img.status, "done");
        l->best_video = b->is_video;
    }
}

/* A camera visit counts once, at its first sighting. */
static void tally_visit(tally *t, const av_web__birds *s, const av_web__visit *v)
{
    const av_web__label *sp = v->sp >= 0 ? &s->species[v->sp] : NULL;
    if (t->only && (!sp || strcmp(t->only, sp->scientific)))
        return;
    life *l = count_seen(t, sp, v->seen);
    if (!l)
        return;
    l->visits++;
    if (v->has_jpeg && (!l->best_visit || v->score > l->best_visit_score)) {
        l->best_visit = v->id;
        l->best_visit_score = v->score;
    }
}

/* Every bird and camera visit (of t->only, when set) into t, from the
 * shared snapshot. */
static int tally_all(av_web *w, tally *t, char *err, size_t errlen)
{
    av_web__birds *s = NULL;
    if (av_web__birds_get(w, &s, err, errlen))
        return -1;
    for (int i = 0; i < s->n && !t->failed; i++)
        tally_one(t, s, &s->v[i]);
    for (int i = 0; i < s->n_visits && !t->failed; i++)
        tally_visit(t, s, &s->visits[i]);
    av_web__birds_put(s);
    if (t->failed)
        snprintf(err, errlen, "tally: out of memory");
    return t->failed ? -1 : 0;
}

static void tally_free(tally *t)
{
    free(t->v);
    free(t->days);
    free(t->day_n);
}

static int by_count(const void *pa, const void *pb)
{
    const life *a = pa, *b = pb;
    if (a->birds != b->birds)
        return a->birds < b->birds ? 1 : -1;
    return strcmp(a->sci, b->sci);
}

static int by_day(const void *pa, const void *pb)
{
    return strcmp((const char *)pa, (const char *)pb);
}

static void sort_days(tally *t)
{
    /* days and counts move together: sort pairs through an index */
    typedef struct { char d[11]; int64_t n; } pair;
    pair *p = malloc((size_t)(t->nd ? t->nd : 1) * sizeof *p);
    if (!p) {
        t->failed = 1;
        return;
    }
    for (int i = 0; i < t->nd; i++) {
        memcpy(p[i].d, t->days[i], 11);
        p[i].n = t->day_n[i];
    }
    qsort(p, (size_t)t->nd, sizeof *p, by_day);
    for (int i = 0; i < t->nd; i++) {
        memcpy(t->days[i], p[i].d, 11);
        t->day_n[i] = p[i].n;
    }
    free(p);
}

/* "00:00" is ~40 of the chart's 360 units wide, a bar ~13: a label every 3
 * hours ran into the next. */
#define HOUR_LABEL_EVERY 6

/* A bar chart: n bars, labels under every `every`-th bar; then the same
 * numbers as a table (the chart's alternative). */
static void bars(av_web__buf *b, const char *id, const char *title, const char *unit, int n,
                 const char (*labels)[11], const int64_t *v, int every, const char *colour)
{
    enum { VW = 360, VH = 200, L = 34, R = 8, T = 10, B = 40 };
    int64_t max = 1;
    for (int i = 0; i < n; i++)
        if (v[i] > max)
            max = v[i];
    double bw = n ? (double)(VW - L - R) / n : 1;
    av_web__buf_fmt(b, "<figure class=\"chart-fig\"><svg class=\"bars\" viewBox=\"0 0 %d %d\""
                       " role=\"img\" aria-labelledby=\"%s-t\"><title id=\"%s-t\">",
                    VW, VH, id, id);
    av_web__buf_html(b, title);
    av_web__buf_str(b, "</title>");
    /* y axis: 0 and max, as whole birds */
    av_web__buf_fmt(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#555\"/>"
                       "<text x=\"%d\" y=\"%d\" font-size=\"14\" text-anchor=\"end\""
                       " fill=\"#1b1b1b\">0</text><text x=\"%d\" y=\"%d\" font-size=\"14\""
                       " text-anchor=\"end\" fill=\"#1b1b1b\">%lld</text>",
                    L, VH - B, VW - R, VH - B, L - 4, VH - B, L - 4, T + 12, (long long)max);
    for (int i = 0; i < n; i++) {
        double h = (double)v[i] / (double)max * (VH - T - B);
        av_web__buf_fmt(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\""
                           " fill=\"%s\"><title>%s: %lld %s</title></rect>",
                        L + i * bw + bw * 0.1, VH - B - h, bw * 0.8, h, colour, labels[i],
                        (long long)v[i], unit);
        if (every > 0 && (i % every == 0 || i == n - 1) &&
            (i == n - 1 ? 1 : (n - 1 - i) >= every / 2 || i == 0))
            av_web__buf_fmt(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"14\" text-anchor=\"%s\""
                               " fill=\"#1b1b1b\">%s</text>",
                            i == n - 1 && n > 1 ? L + (i + 1) * bw : L + i * bw + bw / 2,
                            VH - B + 18, i == n - 1 && n > 1 ? "end" : i ? "middle" : "start",
                            labels[i]);
    }
    av_web__buf_str(b, "</svg><figcaption>");
    av_web__buf_html(b, title);
    av_web__buf_str(b, "</figcaption></figure><details><summary>The numbers as a table"
                       "</summary><table class=\"compact\"><thead><tr><th scope=\"col\">");
    av_web__buf_str(b, every == HOUR_LABEL_EVERY && n == 24 ? "Hour" : "Day");
    av_web__buf_fmt(b, "</th><th scope=\"col\">%s</th></tr></thead><tbody>", unit);
    for (int i = 0; i < n; i++)
        av_web__buf_fmt(b, "<tr><td>%s</td><td class=\"num\">%lld</td></tr>", labels[i],
                        (long long)v[i]);
    av_web__buf_str(b, "</tbody></table></details>");
}

static void hour_chart(av_web__buf *b, const tally *t, const char *id, const char *colour)
{
    char labels[24][11];
    for (int h = 0; h < 24; h++)
        snprintf(labels[h], sizeof labels[h], "%02d:00", h % 24);
    bars(b, id, "Birds by hour of the day (capture time)", "birds", 24,
         (const char(*)[11])labels, t->hours, HOUR_LABEL_EVERY, colour);
}

/* Every day from the first to the last seen (at most the last 92), zeros included. */
static void day_chart(av_web__buf *b, const tally *t, const char *id, const char *colour)
{
    if (!t->nd)
        return;
    enum { MAXD = 92 };
    char labels[MAXD][11];
    int64_t v[MAXD];
    int n = 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y, m, d;
    if (sscanf(t->days[t->nd - 1], "%d-%d-%d", &y, &m, &d) != 3)
        return;
    tm.tm_year = y - 1900, tm.tm_mon = m - 1, tm.tm_mday = d, tm.tm_hour = 12;
    time_t last = timegm(&tm);
    if (sscanf(t->days[0], "%d-%d-%d", &y, &m, &d) != 3)
        return;
    tm.tm_year = y - 1900, tm.tm_mon = m - 1, tm.tm_mday = d, tm.tm_hour = 12;
    time_t first = timegm(&tm);
    if (last - first > (time_t)(MAXD - 1) * 86400)
        first = last - (time_t)(MAXD - 1) * 86400;
    for (time_t s = first; s <= last && n < MAXD; s += 86400) {
        struct tm g;
        gmtime_r(&s, &g);
        strftime(labels[n], sizeof labels[n], "%Y-%m-%d", &g);
        v[n] = 0;
        for (int i = 0; i < t->nd; i++)
            if (!strcmp(t->days[i], labels[n]))
                v[n] = t->day_n[i];
        n++;
    }
    bars(b, id, n < t->nd ? "Birds by day (the last 92 days)" : "Birds by day", "birds", n,
         (const char(*)[11])labels, v, n > 14 ? n / 3 : n > 1 ? n - 1 : 1, colour);
}

static void species_link(av_web__buf *b, const char *sci, const char *common)
{
    av_web__buf_str(b, "<a href=\"/species/");
    av_web__buf_url(b, sci);
    av_web__buf_str(b, "\">");
    av_web__buf_html(b, av_web__bird_name(common, sci));
    av_web__buf_str(b, "</a>");
}

static enum MHD_Result life_list(av_web__req *r)
{
    av_web *w = r->w;
    char err[512] = "";
    tally t = {0};
    if (tally_all(w, &t, err, sizeof err)) {
        tally_free(&t);
        return av_web__internal_error(r, "species", err);
    }
    if (t.n) /* qsort(NULL, 0) is undefined: an empty life list */
        qsort(t.v, (size_t)t.n, sizeof *t.v, by_count);
    av_web__buf b;
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    int genera = 0;
    for (int i = 0; i < t.n; i++)
        genera += av_web__is_genus(t.v[i].sci);
    av_web__buf_fmt(&b, "<h1>Species</h1><p class=\"lead\">Life list: %d species in %lld"
                        " bird%s, after review.",
                    t.n - genera, (long long)t.birds, t.birds == 1 ? "" : "s");
    if (genera)
        av_web__buf_fmt(&b, " %d more %s named only to the genus (\"sp.\"): listed, not counted.",
                        genera, genera == 1 ? "is" : "are");
    av_web__buf_str(&b, "</p>");
    if (!t.n)
        av_web__buf_str(&b, "<p>No species yet. <a href=\"/\">Upload a photo</a>.</p>");
    else
        av_web__buf_str(&b, "<table class=\"stack life\"><thead><tr><th scope=\"col\">Best photo"
                            "</th><th scope=\"col\">Species</th><th scope=\"col\">Birds</th>"
                            "<th scope=\"col\">Photos</th><th scope=\"col\">Camera visits</th>"
                            "<th scope=\"col\">First seen</th>"
                            "<th scope=\"col\">Last seen</th></tr></thead><tbody>");
    for (int i = 0; i < t.n; i++) {
        const life *l = &t.v[i];
        char first[32], last[32];
        av_web__when(l->first, first, sizeof first);
        av_web__when(l->last, last, sizeof last);
        av_web__buf_str(&b, "<tr><td class=\"thumb\">");
        if (l->best_img.id[0]) { /* a photo first; else a camera visit's best frame */
            av_web__buf_fmt(&b, "<a href=\"/uploads/%s\" tabindex=\"-1\">", l->best_img.id);
            av_web__thumb(&b, &l->best_img, l->best_video, av_web__bird_name(l->common, l->sci));
            av_web__buf_str(&b, "</a>");
        } else if (l->best_visit) {
            av_web__visit_thumb(&b, l->best_visit, 1, av_web__bird_name(l->common, l->sci));
        }
        av_web__buf_str(&b, "</td><td data-label=\"Species\">");
        species_link(&b, l->sci, l->common);
        if (l->common[0]) { /* else the link already reads the scientific name */
            av_web__buf_str(&b, "<br><i>");
            av_web__buf_html(&b, l->sci);
            av_web__buf_str(&b, "</i>");
        }
        av_web__buf_fmt(&b, "</td><td class=\"num\" data-label=\"Birds\">%lld</td>"
                            "<td class=\"num\" data-label=\"Photos\">%lld</td>"
                            "<td class=\"num\" data-label=\"Camera visits\">%lld</td>"
                            "<td data-label=\"First seen\">%s</td><td data-label=\"Last seen\">"
                            "%s</td></tr>",
                        (long long)l->birds, (long long)l->photos, (long long)l->visits, first,
                        last);
    }
    if (t.n)
        av_web__buf_str(&b, "</tbody></table>");
    tally_free(&t);
    return av_web__html(r, MHD_HTTP_OK, "Species - Aviary", &b);
}

enum MHD_Result av_web__page_species(av_web__req *r, const char *name)
{
    av_web *w = r->w;
    if (!name || !*name)
        return life_list(r);
    if (strlen(name) >= 128)
        return av_web__message(r, MHD_HTTP_NOT_FOUND, "Species not found",
                               "No bird of this species has been seen here.");
    char err[512] = "";
    tally t = {0};
    t.only = name;
    if (tally_all(w, &t, err, sizeof err)) {
        tally_free(&t);
        return av_web__internal_error(r, "species", err);
    }
    if (!t.n) {
        tally_free(&t);
        return av_web__message(r, MHD_HTTP_NOT_FOUND, "Species not found",
                               "No bird of this species has been seen here (after review).");
    }
    sort_days(&t);
    const life *l = &t.v[0];
    av_web__buf b;
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    av_web__buf_str(&b, "<h1>");
    av_web__buf_html(&b, av_web__bird_name(l->common, l->sci));
    av_web__buf_str(&b, "</h1><p class=\"lead\"><i>");
    av_web__buf_html(&b, l->sci);
    char first[32], last[32];
    av_web__when(l->first, first, sizeof first);
    av_web__when(l->last, last, sizeof last);
    av_web__buf_fmt(&b, "</i> &middot; %lld bird%s in %lld photo%s and %lld camera visit%s"
                        " &middot; first seen %s, last seen %s</p>",
                    (long long)l->birds, l->birds == 1 ? "" : "s", (long long)l->photos,
                    l->photos == 1 ? "" : "s", (long long)l->visits,
                    l->visits == 1 ? "" : "s", first, last);
    const char *col = av_web__species_colour(l->sci);
    av_web__buf_str(&b, "<section class=\"card\"><h2>Activity</h2>");
    hour_chart(&b, &t, "sp-hours", col);
    day_chart(&b, &t, "sp-days", col);
    av_web__buf_str(&b, "</section><section class=\"card\"><h2>Photos</h2>");
    av_store_filter f = AV_STORE_FILTER_NONE;
    f.species = l->sci;
    av_store_gallery_item *g = NULL;
    int n = 0;
    int64_t total = 0;
    if (!av_web__gallery_page(w, &f, 0, AV_WEB_GALLERY_PAGE, &g, &n, &total, err, sizeof err))
        av_web__gallery_items(w, &b, g, n);
    free(g);
    if (total > n) {
        av_web__buf_fmt(&b, "<p><a href=\"/uploads?species=");
        av_web__buf_url(&b, l->sci);
        av_web__buf_fmt(&b, "\">All %lld photos</a></p>", (long long)total);
    }
    av_web__buf_str(&b, "</section>");
    if (l->visits) {
        av_web__buf_str(&b, "<section class=\"card\"><h2>Camera visits</h2>");
        av_web__visit_filter vf = {l->sci, NULL, NULL, NULL};
        int64_t nv = 0;
        av_web__visit_gallery(w, &b, &vf, 0, AV_WEB_GALLERY_PAGE, &nv, err, sizeof err);
        if (nv > AV_WEB_GALLERY_PAGE) {
            av_web__buf_str(&b, "<p><a href=\"/uploads?kind=camera&amp;species=");
            av_web__buf_url(&b, l->sci);
            av_web__buf_fmt(&b, "\">All %lld camera visits</a></p>", (long long)nv);
        }
        av_web__buf_str(&b, "</section>");
    }
    char title[300];
    snprintf(title, sizeof title, "%s - Aviary", av_web__bird_name(l->common, l->sci));
    tally_free(&t);
    return av_web__html(r, MHD_HTTP_OK, title, &b);
}

enum MHD_Result av_web__page_activity(av_web__req *r)
{
    av_web *w = r->w;
    struct MHD_Connection *c = r->c;
    const char *text = av_web__arg(c, "species");
    const av_web__label *lab = text ? av_web__labels_find(w->labels, text) : NULL;
    char sci[128] = "";
    if (text)
        snprintf(sci, sizeof sci, "%s", lab ? lab->scientific : text);
    char err[512] = "";
    tally t = {0};
    t.only = sci[0] ? sci : NULL;
    if (tally_all(w, &t, err, sizeof err)) {
        tally_free(&t);
        return av_web__internal_error(r, "activity", err);
    }
    sort_days(&t);
    av_web__buf b;
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    av_web__buf_str(&b, "<h1>Activity</h1><form method=\"get\" action=\"/activity\""
                        " class=\"card filters\"><div class=\"field\"><label for=\"a-species\">"
                        "Species</label><select id=\"a-species\" name=\"species\">");
    av_web__buf_fmt(&b, "<option value=\"\"%s>all species</option>", sci[0] ? "" : " selected");
    /* every species seen, from the same pass when unfiltered */
    tally all = {0};
    const tally *seen = &t;
    if (sci[0] && !tally_all(w, &all, err, sizeof err))
        seen = &all;
    for (int i = 0; i < seen->n; i++) {
        const life *l = &seen->v[i];
        av_web__buf_str(&b, "<option value=\"");
        av_web__buf_html(&b, l->sci);
        av_web__buf_fmt(&b, "\"%s>", !strcmp(l->sci, sci) ? " selected" : "");
        av_web__buf_html(&b, av_web__bird_name(l->common, l->sci));
        av_web__buf_str(&b, "</option>");
    }
    tally_free(&all);
    av_web__buf_fmt(&b, "</select></div><div class=\"field\"><button type=\"submit\">Show"
                        "</button></div></form><p class=\"meta\">%lld bird%s; times are when"
                        " the photo was taken (EXIF, camera clock) or else uploaded (UTC), and"
                        " when a camera visit began (UTC).</p>",
                    (long long)t.birds, t.birds == 1 ? "" : "s");
    const char *col = sci[0] ? av_web__species_colour(sci) : "#1f6f5c";
    if (t.birds) {
        av_web__buf_str(&b, "<section class=\"card\"><h2>By hour of the day</h2>");
        hour_chart(&b, &t, "hours", col);
        av_web__buf_str(&b, "</section><section class=\"card\"><h2>By day</h2>");
        day_chart(&b, &t, "days", col);
        av_web__buf_str(&b, "</section>");
    } else {
        av_web__buf_str(&b, "<p>No birds yet.</p>");
    }
    tally_free(&t);
    return av_web__html(r, MHD_HTTP_OK, "Activity - Aviary", &b);
}
