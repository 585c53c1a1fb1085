/*
 * gallery.c - the birder's browsing pages: /uploads (every upload, newest
 * first, filtered and paginated), /batch (what a multi-file upload made),
 * /species (the life list) and /species/<name>, /activity (birds by hour
 * of day and by day, SVG drawn here with a table alternative).
 * Server-rendered; they work without JavaScript.
 */
#include "web/internal.h"

#include "log/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SIZE 24

static enum MHD_Result failed(av_web__req *r, const char *where,
                              const char *err)
{
    av_log(AV_LOG_ERROR, "internal_error", "where", where, "error", err, NULL);
    return av_web__message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Something went wrong",
                           "The server could not complete this request. Please try again.");
}

void av_web__thumb(av_web__buf *b, const av_store_image *img, int is_video, const char *alt)
{
    if (is_video && strcmp(img->status, "failed") && img->status[0] && strcmp(img->status, "done"))
        av_web__buf_str(b, "<img src=\"/static/bird.svg\" alt=\"");
    else if (is_video)
        av_web__buf_fmt(b, "<img src=\"/videos/%s/poster.jpg\" alt=\"", img->id);
    else
        av_web__buf_fmt(b, "<img src=\"/originals/%s.%s\" alt=\"", img->id, img->ext);
    av_web__buf_html(b, alt);
    av_web__buf_str(b, "\" loading=\"lazy\" width=\"240\" height=\"180\">");
}

void av_web__visit_thumb(av_web__buf *b, int64_t id, int has_jpeg, const char *alt)
{
    if (has_jpeg)
        av_web__buf_fmt(b, "<img src=\"/api/v1/visits/%lld/best.jpg\" alt=\"", (long long)id);
    else /* dropped by retention */
        av_web__buf_str(b, "<img src=\"/static/bird.svg\" alt=\"");
    av_web__buf_html(b, alt);
    av_web__buf_str(b, "\" loading=\"lazy\" width=\"240\" height=\"180\">");
}

static const char *name_of(const char *common, const char *sci)
{
    return common[0] ? common : sci[0] ? sci : "Bird";
}

static int gone(const av_store_bird *b)
{
    return b->action == AV_REVIEW_NOT_BIRD || b->action == AV_REVIEW_DUPLICATE;
}

/* "YYYY-MM-DDTHH:MM:SS" -> "YYYY-MM-DD HH:MM" */
static void when(const char *t, char *out, size_t cap)
{
    snprintf(out, cap, "%.10s %.5s", t, strlen(t) >= 16 ? t + 11 : "");
}

/* ---- one upload's birds, for its caption ---- */

typedef struct names {
    char v[4][128];
    int n, more, birds;
} names;

static int names_fn(void *ud, const av_store_bird *b)
{
    names *x = ud;
    if (gone(b))
        return 0;
    x->birds++;
    const char *s = name_of(b->common_name, b->species);
    for (int i = 0; i < x->n; i++)
        if (!strcmp(x->v[i], s))
            return 0;
    if (x->n < 4)
        snprintf(x->v[x->n++], sizeof x->v[0], "%s", s);
    else
        x->more++;
    return 0;
}

static void gallery_items(av_web *w, av_web__buf *b, const av_store_gallery_item *g, int n)
{
    av_web__buf_str(b, "<ul class=\"gallery\">");
    for (int i = 0; i < n; i++) {
        const av_store_image *img = &g[i].img;
        names nm = {.n = 0};
        char err[256];
        av_store_filter f = AV_STORE_FILTER_NONE;
        f.image_id = img->id;
        if (!strcmp(img->status, "done"))
            av_store_birds_each(w->o.store, &f, names_fn, &nm, err, sizeof err);
        char alt[700] = "";
        size_t o = 0;
        for (int k = 0; k < nm.n && o < sizeof alt; k++)
            o += (size_t)snprintf(alt + o, sizeof alt - o, "%s%s", k ? ", " : "", nm.v[k]);
        if (!nm.n)
            snprintf(alt, sizeof alt, "%s", !strcmp(img->status, "done") ? "No bird found"
                                            : !strcmp(img->status, "failed") ? "Not analysed"
                                                                              : "Analysing");
        av_web__buf_fmt(b, "<li class=\"card\"><a href=\"/uploads/%s\">", img->id);
        av_web__thumb(b, img, g[i].is_video, alt);
        av_web__buf_str(b, "<span class=\"cap\">");
        av_web__buf_html(b, alt);
        if (nm.more)
            av_web__buf_fmt(b, " and %d more", nm.more);
        char t[32];
        when(g[i].seen_at, t, sizeof t);
        av_web__buf_fmt(b, "</span><span class=\"meta\">%s%s%s%s</span>", t,
                        g[i].is_video ? " &middot; video" : "",
                        strcmp(img->status, "done") ? " &middot; " : "",
                        strcmp(img->status, "done") ? img->status : "");
        if (g[i].n_reviews)
            av_web__buf_str(b, "<span class=\"tag\">reviewed</span>");
        av_web__buf_str(b, "</a></li>");
    }
    av_web__buf_str(b, "</ul>");
}

/* ---- a species' uploads, from the shared snapshot of birds ---- */

typedef struct hit {
    const av_web__bird *first; /* the image's first bird of the species */
    int reviewed;
} hit;

static int by_seen_desc(const void *pa, const void *pb)
{
    const hit *a = pa, *b = pb;
    int c = strcmp(b->first->seen, a->first->seen);
    return c ? c : strcmp(b->first->image_id, a->first->image_id);
}

/*
 * The uploads with a bird of f->species (after review), newest capture
 * first, within f's dates and reviewed state: one pass over the snapshot
 * instead of a join per request. Same contract as av_store_gallery.
 */
static int species_gallery(av_web *w, const av_store_filter *f, int offset, int limit,
                           av_store_gallery_item **out, int *n, int64_t *total, char *err,
                           size_t errlen)
{
    *out = NULL, *n = 0, *total = 0;
    av_web__birds *s = NULL;
    if (av_web__birds_get(w, &s, err, errlen))
        return -1;
    hit *h = malloc((size_t)(s->n ? s->n : 1) * sizeof *h);
    av_store_gallery_item *g = calloc((size_t)limit, sizeof *g);
    int nh = 0;
    for (int i = 0; h && g && i < s->n;) {
        int j = i, match = 0, reviewed = 0;
        const av_web__bird *first = NULL;
        for (; j < s->n && !strcmp(s->v[j].image_id, s->v[i].image_id); j++) {
            const av_web__bird *b = &s->v[j];
            reviewed |= b->action != 0;
            if (b->sp >= 0 && !strcmp(s->species[b->sp].scientific, f->species) &&
                b->action != AV_REVIEW_NOT_BIRD && b->action != AV_REVIEW_DUPLICATE) {
                match = 1;
                if (!first)
                    first = b;
            }
        }
        if (match && (!f->from || strncmp(first->seen, f->from, 10) >= 0) &&
            (!f->to || strncmp(first->seen, f->to, 10) <= 0) &&
            (f->reviewed < 0 || f->reviewed == reviewed) &&
            (!f->status || !strcmp(f->status, "done")))
            h[nh++] = (hit){first, reviewed};
        i = j;
    }
    int rc = h && g ? 0 : -1;
    if (rc)
        snprintf(err, errlen, "gallery: out of memory");
    else
        qsort(h, (size_t)nh, sizeof *h, by_seen_desc);
    for (int i = offset; !rc && i < nh && *n < limit; i++) {
        av_store_gallery_item *it = &g[*n];
        if (av_store_image_get(w->o.store, h[i].first->image_id, 0, &it->img, err, errlen) !=
            AV_STORE_OK)
            continue; /* deleted meanwhile */
        snprintf(it->seen_at, sizeof it->seen_at, "%s", h[i].first->seen);
        it->is_video = h[i].first->is_video;
        it->n_reviews = h[i].reviewed;
        (*n)++;
    }
    *total = nh;
    free(h);
    av_web__birds_put(s);
    if (rc)
        free(g);
    else
        *out = g;
    return rc;
}

/* The gallery's page: a species from the snapshot, anything else from the store. */
static int gallery_page(av_web *w, const av_store_filter *f, int offset, int limit,
                        av_store_gallery_item **out, int *n, int64_t *total, char *err,
                        size_t errlen)
{
    if (f->species)
        return species_gallery(w, f, offset, limit, out, n, total, err, errlen);
    return av_store_gallery(w->o.store, f, offset, limit, out, n, total, err, errlen) ==
                   AV_STORE_OK
               ? 0
               : -1;
}

/* ---- camera visits, from the same snapshot ---- */

typedef struct visit_filter {
    const char *species, *from, *to, *camera; /* NULL: any */
} visit_filter;

static int visit_match(const av_web__birds *s, const av_web__visit *v, const visit_filter *f)
{
    return (!f->species || (v->sp >= 0 && !strcmp(s->species[v->sp].scientific, f->species))) &&
           (!f->camera || !strcmp(v->camera, f->camera)) &&
           (!f->from || strncmp(v->seen, f->from, 10) >= 0) &&
           (!f->to || strncmp(v->seen, f->to, 10) <= 0);
}

/* The visits matching f, newest first, from offset, at most limit, as cards
 * (each one's best frame, species, time, camera); *total = all matching. */
static int visit_gallery(av_web *w, av_web__buf *b, const visit_filter *f, int offset,
                         int limit, int64_t *total, char *err, size_t errlen)
{
    *total = 0;
    av_web__birds *s = NULL;
    if (av_web__birds_get(w, &s, err, errlen))
        return -1;
    int shown = 0;
    for (int i = 0; i < s->n_visits; i++) {
        const av_web__visit *v = &s->visits[i];
        if (!visit_match(s, v, f) || (*total)++ < offset || shown >= limit)
            continue;
        if (!shown++)
            av_web__buf_str(b, "<ul class=\"gallery\">");
        const av_web__label *sp = v->sp >= 0 ? &s->species[v->sp] : NULL;
        const char *name = sp ? name_of(sp->common, sp->scientific) : "Bird";
        if (v->has_jpeg)
            av_web__buf_fmt(b, "<li class=\"card\"><a href=\"/api/v1/visits/%lld/best.jpg\">",
                            (long long)v->id);
        else
            av_web__buf_str(b, "<li class=\"card\"><a href=\"/cameras\">");
        av_web__visit_thumb(b, v->id, v->has_jpeg, name);
        av_web__buf_str(b, "<span class=\"cap\">");
        av_web__buf_html(b, name);
        char t[32];
        when(v->seen, t, sizeof t);
        av_web__buf_fmt(b, "</span><span class=\"meta\">%s UTC &middot; camera ", t);
        av_web__buf_html(b, v->camera);
        av_web__buf_fmt(b, " &middot; %.0f%%</span>%s</a></li>", v->score * 100,
                        v->reviewed ? "<span class=\"tag\">reviewed</span>" : "");
    }
    if (shown)
        av_web__buf_str(b, "</ul>");
    av_web__birds_put(s);
    return 0;
}

/* ---- /uploads ---- */

/* The filter's query string (for pagination links), without page; camera
 * (the camera's name, or "" for every camera) lists camera visits. */
static void filter_query(av_web__buf *b, const av_store_filter *f, const char *camera)
{
    const char *k[6] = {"species", "from", "to", "status", "kind", "camera"};
    const char *v[6] = {f->species, f->from, f->to, f->status, camera ? "camera" : NULL,
                        camera && camera[0] ? camera : NULL};
    for (int i = 0; i < 6; i++)
        if (v[i]) {
            av_web__buf_fmt(b, "&amp;%s=", k[i]);
            av_web__buf_url(b, v[i]);
        }
    if (f->reviewed >= 0)
        av_web__buf_fmt(b, "&amp;reviewed=%s", f->reviewed ? "yes" : "no");
}

static void option(av_web__buf *b, const char *value, const char *label, const char *cur)
{
    av_web__buf_fmt(b, "<option value=\"%s\"%s>%s</option>", value,
                    (cur && !strcmp(cur, value)) || (!cur && !value[0]) ? " selected" : "",
                    label);
}

static void filter_form(av_web__buf *b, const av_store_filter *f, const char *species_text,
                        const char *camera)
{
    av_web__buf_str(b, "<form method=\"get\" action=\"/uploads\" class=\"card filters\">"
                       "<div class=\"field\"><label for=\"f-kind\">Source</label>"
                       "<select id=\"f-kind\" name=\"kind\">");
    option(b, "", "uploads", camera ? "camera" : NULL);
    option(b, "camera", "camera visits", camera ? "camera" : NULL);
    av_web__buf_str(b, "</select></div><div class=\"field\"><label for=\"f-camera\">Camera"
                       "</label><input id=\"f-camera\" name=\"camera\" autocomplete=\"off\""
                       " placeholder=\"any\" value=\"");
    av_web__buf_html(b, camera ? camera : "");
    av_web__buf_str(b, "\"></div>"
                       "<div class=\"field\"><label for=\"f-species\">Species</label>"
                       "<input id=\"f-species\" name=\"species\" list=\"species-list\""
                       " autocomplete=\"off\" value=\"");
    av_web__buf_html(b, species_text ? species_text : "");
    av_web__buf_str(b, "\"></div><div class=\"field\"><label for=\"f-from\">From</label>"
                       "<input type=\"date\" id=\"f-from\" name=\"from\" value=\"");
    av_web__buf_html(b, f->from ? f->from : "");
    av_web__buf_str(b, "\"></div><div class=\"field\"><label for=\"f-to\">To</label>"
                       "<input type=\"date\" id=\"f-to\" name=\"to\" value=\"");
    av_web__buf_html(b, f->to ? f->to : "");
    av_web__buf_str(b, "\"></div><div class=\"field\"><label for=\"f-status\">Status</label>"
                       "<select id=\"f-status\" name=\"status\">");
    option(b, "", "any", f->status);
    option(b, "done", "analysed", f->status);
    option(b, "pending", "pending", f->status);
    option(b, "failed", "failed", f->status);
    av_web__buf_str(b, "</select></div><div class=\"field\"><label for=\"f-reviewed\">Reviewed"
                       "</label><select id=\"f-reviewed\" name=\"reviewed\">");
    const char *rv = f->reviewed < 0 ? "" : f->reviewed ? "yes" : "no";
    option(b, "", "either", rv);
    option(b, "yes", "reviewed", rv);
    option(b, "no", "not reviewed", rv);
    av_web__buf_str(b, "</select></div><div class=\"field\"><button type=\"submit\">Filter"
                       "</button> <a href=\"/uploads\">Clear</a></div></form>");
}

static int valid_date(const char *s)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    return 1;
}

/* /uploads?kind=camera[&camera=NAME]: camera visits, newest first; the
 * status and reviewed filters are the uploads' own and left out. */
static enum MHD_Result visit_page(av_web__req *r, av_web__buf *b,
                                  const av_store_filter *f, const char *camera, long page)
{
    av_web *w = r->w;
    char err[512] = "";
    visit_filter vf = {f->species, f->from, f->to, camera[0] ? camera : NULL};
    av_web__buf items;
    av_web__buf_init(&items, AV_WEB_PAGE_LIMIT);
    int64_t total = 0;
    if (visit_gallery(w, &items, &vf, (int)((page - 1) * PAGE_SIZE), PAGE_SIZE, &total, err,
                      sizeof err)) {
        av_web__buf_free(&items);
        av_web__buf_free(b);
        return failed(r, "uploads", err);
    }
    long pages = (long)((total + PAGE_SIZE - 1) / PAGE_SIZE);
    av_web__buf_fmt(b, "<p class=\"meta\" role=\"status\">%lld camera visit%s", (long long)total,
                    total == 1 ? "" : "s");
    if (pages > 1)
        av_web__buf_fmt(b, " &middot; page %ld of %ld", page, pages);
    av_web__buf_str(b, "</p>");
    if (items.len)
        av_web__buf_str(b, items.p);
    else
        av_web__buf_str(b, total ? "<p>No visits on this page.</p>"
                                 : "<p>No camera visit matches. See <a href=\"/cameras\">the"
                                   " cameras</a> or clear the filter.</p>");
    if (items.failed)
        b->failed = 1;
    av_web__buf_free(&items);
    if (pages > 1) {
        av_web__buf_str(b, "<nav class=\"pager\" aria-label=\"Pages\">");
        if (page > 1) {
            av_web__buf_fmt(b, "<a rel=\"prev\" href=\"/uploads?page=%ld", page - 1);
            filter_query(b, f, camera);
            av_web__buf_str(b, "\">&larr; Newer</a>");
        }
        if (page < pages) {
            av_web__buf_fmt(b, "<a rel=\"next\" href=\"/uploads?page=%ld", page + 1);
            filter_query(b, f, camera);
            av_web__buf_str(b, "\">Older &rarr;</a>");
        }
        av_web__buf_str(b, "</nav>");
    }
    return av_web__html(r, MHD_HTTP_OK, "Camera visits - Aviary", b);
}

enum MHD_Result av_web__page_uploads(av_web__req *r)
{
    av_web *w = r->w;
    struct MHD_Connection *c = r->c;
    av_store_filter f = AV_STORE_FILTER_NONE;
    av_web__buf b;
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    av_web__buf_str(&b, "<h1>Uploads</h1>");
    const char *species_text = av_web__arg(c, "species");
    char sci[128] = "";
    if (species_text) { /* a common name works too */
        const av_web__label *l = av_web__labels_find(w->labels, species_text);
        snprintf(sci, sizeof sci, "%s", l ? l->scientific : species_text);
        f.species = sci;
    }
    const char *from = av_web__arg(c, "from"), *to = av_web__arg(c, "to");
    const char *status = av_web__arg(c, "status"), *rv = av_web__arg(c, "reviewed");
    const char *page_s = av_web__arg(c, "page");
    /* kind=camera (or a camera's name) lists camera visits instead of uploads */
    const char *kind = av_web__arg(c, "kind"), *camera = av_web__arg(c, "camera");
    int bad = 0;
    if (camera && !camera[0])
        camera = NULL;
    if (camera && !av_store_camera_name_ok(camera))
        camera = NULL, bad = 1;
    if (!camera && kind && !strcmp(kind, "camera"))
        camera = "";
    if ((from && !valid_date(from)) || (to && !valid_date(to)))
        bad = 1;
    else
        f.from = from, f.to = to;
    if (status && strcmp(status, "done") && strcmp(status, "pending") && strcmp(status, "failed"))
        bad = 1;
    else
        f.status = status;
    f.reviewed = rv && !strcmp(rv, "yes") ? 1 : rv && !strcmp(rv, "no") ? 0 : -1;
    long page = page_s ? strtol(page_s, NULL, 10) : 1;
    if (page < 1 || page > 1000000)
        page = 1;
    if (bad)
        av_web__buf_str(&b, "<p class=\"error\" role=\"alert\">Dates are written YYYY-MM-DD,"
                            " the status is analysed, pending or failed and a camera's name"
                            " letters, digits, - and _: that part of the filter was left"
                            " out.</p>");
    filter_form(&b, &f, species_text, camera);
    av_web__species_datalist(w, &b);

    char err[512] = "";
    if (camera)
        return visit_page(r, &b, &f, camera, page);
    av_store_gallery_item *g = NULL;
    int n = 0;
    int64_t total = 0;
    if (gallery_page(w, &f, (int)((page - 1) * PAGE_SIZE), PAGE_SIZE, &g, &n, &total, err,
                     sizeof err)) {
        av_web__buf_free(&b);
        return failed(r, "uploads", err);
    }
    long pages = (long)((total + PAGE_SIZE - 1) / PAGE_SIZE);
    av_web__buf_fmt(&b, "<p class=\"meta\" role=\"status\">%lld upload%s", (long long)total,
                    total == 1 ? "" : "s");
    if (pages > 1)
        av_web__buf_fmt(&b, " &middot; page %ld of %ld", page, pages);
    av_web__buf_str(&b, "</p>");
    if (!n)
        av_web__buf_str(&b, total ? "<p>No uploads on this page.</p>"
                                  : "<p>Nothing here yet. <a href=\"/\">Upload a photo</a> or"
                                    " clear the filter.</p>");
    else
        gallery_items(w, &b, g, n);
    free(g);
    if (pages > 1) {
        av_web__buf_str(&b, "<nav class=\"pager\" aria-label=\"Pages\">");
        if (page > 1) {
            av_web__buf_fmt(&b, "<a rel=\"prev\" href=\"/uploads?page=%ld", page - 1);
            filter_query(&b, &f, NULL);
            av_web__buf_str(&b, "\">&larr; Newer</a>");
        }
        if (page < pages) {
            av_web__buf_fmt(&b, "<a rel=\"next\" href=\"/uploads?page=%ld", page + 1);
            filter_query(&b, &f, NULL);
            av_web__buf_str(&b, "\">Older &rarr;</a>");
        }
        av_web__buf_str(&b, "</nav>");
    }
    return av_web__html(r, MHD_HTTP_OK, "Uploads - Aviary", &b);
}

/* ---- /batch?ids=ID,ID,...&bad=NAME: PROBLEM ---- */

enum MHD_Result av_web__page_batch(av_web__req *r)
{
    av_web *w = r->w;
    struct MHD_Connection *c = r->c;
    const char *ids = av_web__arg(c, "ids");
    av_web__buf b;
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    av_web__buf_str(&b, "<h1>Your uploads</h1>");
    av_store_gallery_item g[AV_WEB_MAX_FILES];
    int n = 0, pending = 0;
    for (const char *p = ids ? ids : ""; *p && n < AV_WEB_MAX_FILES;) {
        size_t len = strcspn(p, ",");
        char id[AV_STORE_ID_LEN + 1] = "";
        if (len == AV_STORE_ID_LEN) {
            memcpy(id, p, len);
            id[len] = '\0';
        }
        p += len + (p[len] == ',');
        char err[256];
        memset(&g[n], 0, sizeof g[n]);
        if (!av_store_valid_id(id) ||
            av_store_image_get(w->o.store, id, 0, &g[n].img, err, sizeof err) != AV_STORE_OK)
            continue;
        g[n].is_video = av_web__is_video_type(g[n].img.content_type);
        char t[32];
        snprintf(t, sizeof t, "%s", g[n].img.created_at);
        snprintf(g[n].seen_at, sizeof g[n].seen_at, "%.16s", t);
        if (g[n].seen_at[10] == 'T')
            g[n].seen_at[10] = ' ';
        pending += !strcmp(g[n].img.status, "pending");
        /* Start analyses this node has not started (idempotent). */
        if (!strcmp(g[n].img.status, "pending") && !g[n].is_video)
            av_web__jobs_request(w->jobs, id);
        n++;
    }
    const char *bad = av_web__arg(c, "bad");
    if (bad) {
        av_web__buf_str(&b, "<p class=\"error\" role=\"alert\">Not uploaded: ");
        av_web__buf_html(&b, bad);
        av_web__buf_str(&b, "</p>");
    }
    if (!n)
        av_web__buf_str(&b, "<p>None of these uploads exist (any more).</p>");
    else {
        av_web__buf_fmt(&b, "<p class=\"meta\" role=\"status\">%d upload%s, %d still being"
                            " analysed%s</p>",
                        n, n == 1 ? "" : "s", pending,
                        pending ? ": this page refreshes by itself" : "");
        gallery_items(w, &b, g, n);
    }
    av_web__buf_str(&b, "<p><a href=\"/uploads\">All uploads</a> &middot; <a href=\"/\">Upload"
                        " more</a></p>");
    if (!pending)
        return av_web__html(r, MHD_HTTP_OK, "Your uploads - Aviary", &b);
    /* Refresh while analyses run (no script needed). */
    av_web__buf page;
    av_web__buf_init(&page, AV_WEB_PAGE_LIMIT);
    const char *kv[] = {"body", b.p ? b.p : "", NULL};
    if (av_web__page(r, &page, "Your uploads - Aviary", "plain.html", kv,
                     "<meta http-equiv=\"refresh\" content=\"3\">") ||
        b.failed)
        page.failed = 1;
    av_web__buf_free(&b);
    enum MHD_Result ret =
        page.failed ? av_web__send(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "error\n", 6,
                                   NULL)
                    : av_web__send(r, MHD_HTTP_OK, "text/html; charset=utf-8", page.p, page.len,
                                   NULL);
    av_web__buf_free(&page);
    return ret;
}

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
    av_web__buf_str(b, every == 3 && n == 24 ? "Hour" : "Day");
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
         (const char(*)[11])labels, t->hours, 3, colour);
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
    av_web__buf_html(b, name_of(common, sci));
    av_web__buf_str(b, "</a>");
}

static enum MHD_Result life_list(av_web__req *r)
{
    av_web *w = r->w;
    char err[512] = "";
    tally t = {0};
    if (tally_all(w, &t, err, sizeof err)) {
        tally_free(&t);
        return failed(r, "species", err);
    }
    qsort(t.v, (size_t)t.n, sizeof *t.v, by_count);
    av_web__buf b;
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    av_web__buf_fmt(&b, "<h1>Species</h1><p class=\"lead\">Life list: %d species in %lld"
                        " bird%s, after review.</p>",
                    t.n, (long long)t.birds, t.birds == 1 ? "" : "s");
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
        when(l->first, first, sizeof first);
        when(l->last, last, sizeof last);
        av_web__buf_str(&b, "<tr><td class=\"thumb\">");
        if (l->best_img.id[0]) { /* a photo first; else a camera visit's best frame */
            av_web__buf_fmt(&b, "<a href=\"/uploads/%s\" tabindex=\"-1\">", l->best_img.id);
            av_web__thumb(&b, &l->best_img, l->best_video, name_of(l->common, l->sci));
            av_web__buf_str(&b, "</a>");
        } else if (l->best_visit) {
            av_web__visit_thumb(&b, l->best_visit, 1, name_of(l->common, l->sci));
        }
        av_web__buf_str(&b, "</td><td data-label=\"Species\">");
        species_link(&b, l->sci, l->common);
        av_web__buf_str(&b, "<br><i>");
        av_web__buf_html(&b, l->sci);
        av_web__buf_fmt(&b, "</i></td><td class=\"num\" data-label=\"Birds\">%lld</td>"
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
        return failed(r, "species", err);
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
    av_web__buf_html(&b, name_of(l->common, l->sci));
    av_web__buf_str(&b, "</h1><p class=\"lead\"><i>");
    av_web__buf_html(&b, l->sci);
    char first[32], last[32];
    when(l->first, first, sizeof first);
    when(l->last, last, sizeof last);
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
    if (!gallery_page(w, &f, 0, PAGE_SIZE, &g, &n, &total, err, sizeof err))
        gallery_items(w, &b, g, n);
    free(g);
    if (total > n) {
        av_web__buf_fmt(&b, "<p><a href=\"/uploads?species=");
        av_web__buf_url(&b, l->sci);
        av_web__buf_fmt(&b, "\">All %lld photos</a></p>", (long long)total);
    }
    av_web__buf_str(&b, "</section>");
    if (l->visits) {
        av_web__buf_str(&b, "<section class=\"card\"><h2>Camera visits</h2>");
        visit_filter vf = {l->sci, NULL, NULL, NULL};
        int64_t nv = 0;
        visit_gallery(w, &b, &vf, 0, PAGE_SIZE, &nv, err, sizeof err);
        if (nv > PAGE_SIZE) {
            av_web__buf_str(&b, "<p><a href=\"/uploads?kind=camera&amp;species=");
            av_web__buf_url(&b, l->sci);
            av_web__buf_fmt(&b, "\">All %lld camera visits</a></p>", (long long)nv);
        }
        av_web__buf_str(&b, "</section>");
    }
    char title[300];
    snprintf(title, sizeof title, "%s - Aviary", name_of(l->common, l->sci));
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
        return failed(r, "activity", err);
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
        av_web__buf_html(&b, name_of(l->common, l->sci));
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
