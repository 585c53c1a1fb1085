/*
 * gallery.c - the birder's browsing pages: /uploads (every upload and
 * camera visit, newest first, filtered and paginated) and /batch (what a
 * multi-file upload made). The life list and activity are species_pages.c.
 * Server-rendered; they work without JavaScript.
 */
#include "web/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static enum MHD_Result visit_page(av_web__req *r, av_web__buf *b, const av_store_filter *f,
                                  const char *camera, long page)
{
    av_web *w = r->w;
    char err[512] = "";
    av_web__visit_filter vf = {f->species, f->from, f->to, camera[0] ? camera : NULL};
    av_web__buf items;
    av_web__buf_init(&items, AV_WEB_PAGE_LIMIT);
    int64_t total = 0;
    if (av_web__visit_gallery(w, &items, &vf, (int)((page - 1) * AV_WEB_GALLERY_PAGE),
                              AV_WEB_GALLERY_PAGE, &total, err, sizeof err)) {
        av_web__buf_free(&items);
        av_web__buf_free(b);
        return av_web__internal_error(r, "uploads", err);
    }
    long pages = (long)((total + AV_WEB_GALLERY_PAGE - 1) / AV_WEB_GALLERY_PAGE);
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
    if (av_web__gallery_page(w, &f, (int)((page - 1) * AV_WEB_GALLERY_PAGE), AV_WEB_GALLERY_PAGE,
                             &g, &n, &total, err, sizeof err)) {
        av_web__buf_free(&b);
        return av_web__internal_error(r, "uploads", err);
    }
    long pages = (long)((total + AV_WEB_GALLERY_PAGE - 1) / AV_WEB_GALLERY_PAGE);
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
        av_web__gallery_items(w, &b, g, n);
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
        av_web__gallery_items(w, &b, g, n);
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
