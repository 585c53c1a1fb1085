/*
 * respond.c - every answer a handler queues: raw bytes, HTML pages in the
 * layout, message and error pages, redirects, JSON, and the feedback form
 * that results pages of images and videos share. Each takes the request,
 * which records the status for the metrics and tells the guard an answer
 * went out.
 */
#include "web/internal.h"

#include "config/config.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum MHD_Result av_web__queue(av_web__req *r, unsigned status, struct MHD_Response *resp)
{
    r->status = status;
    av_guard_responded(r->w->guard, r->c);
    return MHD_queue_response(r->c, status, resp);
}

enum MHD_Result av_web__send_asset(av_web__req *r, const char *name, const char *type)
{
    av_web__asset_ref a;
    if (av_web__asset(name, &a))
        return MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(a.len, (void *)a.data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "public, max-age=3600");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = av_web__queue(r, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result av_web__send(av_web__req *r, unsigned status, const char *type, const char *body,
                             size_t len, const char *cache)
{
    return av_web__send_hdrs(r, status, type, body, len, cache, NULL);
}

enum MHD_Result av_web__send_hdrs(av_web__req *r, unsigned status, const char *type,
                                  const char *body, size_t len, const char *cache,
                                  const char *const *hdrs)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    for (; hdrs && hdrs[0] && hdrs[1]; hdrs += 2)
        MHD_add_response_header(resp, hdrs[0], hdrs[1]);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache ? cache : "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self';"
                            " script-src 'self'; frame-ancestors 'none'");
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "5");
    enum MHD_Result ret = av_web__queue(r, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

int av_web__page(av_web__req *r, av_web__buf *out, const char *title, const char *tmpl,
                 const char *const *kv, const char *head)
{
    av_web__buf body;
    av_web__buf_init(&body, out->limit);
    if (av_web__render(&body, tmpl, kv)) {
        av_web__buf_free(&body);
        return -1;
    }
    av_web__buf account;
    av_web__buf_init(&account, 4096);
    av_web__account_nav(r, &account);
    const char *layout_kv[] = {"title", title, "body", body.p ? body.p : "", "head",
                               head ? head : "", "version", AV_VERSION, "account",
                               account.p ? account.p : "", NULL};
    int rc = av_web__render(out, "layout.html", layout_kv);
    av_web__buf_free(&body);
    av_web__buf_free(&account);
    return rc;
}

enum MHD_Result av_web__send_page(av_web__req *r, unsigned status, av_web__buf *b,
                                  const char *const *hdrs)
{
    enum MHD_Result ret =
        b->failed ? av_web__send(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
                                 "internal error\n", 15, NULL)
                  : av_web__send_hdrs(r, status, "text/html; charset=utf-8", b->p, b->len, NULL,
                                      hdrs);
    av_web__buf_free(b);
    return ret;
}

enum MHD_Result av_web__html(av_web__req *r, unsigned status, const char *title, av_web__buf *body)
{
    av_web__buf page;
    av_web__buf_init(&page, AV_WEB_PAGE_LIMIT);
    const char *kv[] = {"body", body->p ? body->p : "", NULL};
    if (av_web__page(r, &page, title, "plain.html", kv, NULL) || body->failed)
        page.failed = 1;
    av_web__buf_free(body);
    return av_web__send_page(r, status, &page, NULL);
}

enum MHD_Result av_web__message(av_web__req *r, unsigned status, const char *heading,
                                const char *text)
{
    char code[16];
    snprintf(code, sizeof code, "%u", status);
    const char *kv[] = {"code", code, "heading", heading, "text", text, NULL};
    av_web__buf b;
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    char title[160];
    snprintf(title, sizeof title, "%s - Aviary", heading);
    if (av_web__page(r, &b, title, "message.html", kv, NULL)) {
        av_web__buf_free(&b);
        return av_web__send(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "error\n", 6, NULL);
    }
    enum MHD_Result ret = av_web__send(r, status, "text/html; charset=utf-8", b.p, b.len, NULL);
    av_web__buf_free(&b);
    return ret;
}

enum MHD_Result av_web__internal_error(av_web__req *r, const char *where, const char *err)
{
    /* The details go to the log, never to the page. */
    av_log(AV_LOG_ERROR, "internal_error", "where", where, "error", err, NULL);
    return av_web__message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Something went wrong",
                           "The server could not complete this request. Please try again.");
}

enum MHD_Result av_web__not_found(av_web__req *r)
{
    return av_web__message(r, MHD_HTTP_NOT_FOUND, "Page not found",
                           "There is nothing at this address. The link may be mistyped, or the"
                           " image may never have been uploaded here.");
}

enum MHD_Result av_web__redirect(av_web__req *r, const char *location)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = av_web__queue(r, MHD_HTTP_SEE_OTHER, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result av_web__send_json(av_web__req *r, unsigned status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return av_web__send(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                            "{\"error\":\"internal error\"}\n", 27, NULL);
    enum MHD_Result ret = av_web__send(r, status, "application/json", s, strlen(s), NULL);
    free(s);
    return ret;
}

enum MHD_Result av_web__json_error(av_web__req *r, unsigned status, const char *msg)
{
    return av_web__send_json(r, status, json_pack("{s:s}", "error", msg));
}

/* The vote the per-bird reviews already give, when every detection has one:
 * yes when each was confirmed or corrected and none was added; the birds
 * there (reviewed birds plus added ones) and those detected. 0: not yet. */
static int derived_vote(const av_web__req *r, const av_store_image *img, int *yes, int *gt,
                        int *pred)
{
    if (!r || !r->w || !r->w->o.store || av_web__is_video_type(img->content_type))
        return 0;
    char err[256];
    av_store_detection *d = NULL;
    av_store_review *rv = NULL;
    int n = 0, n_rv = 0, ok = 0;
    if (av_store_detections_get(r->w->o.store, img->id, &d, &n, err, sizeof err) == AV_STORE_OK &&
        av_store_reviews_list(r->w->o.store, img->id, 1, &rv, &n_rv, err, sizeof err) ==
            AV_STORE_OK) {
        int reviewed = 0, found = 0, added = 0, wrong = 0;
        for (int k = 0; k < n_rv; k++) {
            if (rv[k].box < n)
                reviewed++;
            if (rv[k].action == AV_REVIEW_CONFIRM || rv[k].action == AV_REVIEW_SPECIES)
                found += rv[k].box < n;
            added += rv[k].box >= n && rv[k].action != AV_REVIEW_NOT_BIRD &&
                     rv[k].action != AV_REVIEW_DUPLICATE;
            wrong += rv[k].action == AV_REVIEW_NOT_BIRD || rv[k].action == AV_REVIEW_DUPLICATE;
        }
        ok = n_rv > 0 && reviewed == n;
        *yes = !added && !wrong;
        *gt = found + added;
        *pred = found;
    }
    free(d);
    free(rv);
    return ok;
}

void av_web__feedback_form(av_web__req *r, av_web__buf *b, const av_store_image *img,
                           const char *form_error)
{
    if (form_error) {
        av_web__buf_str(b, "<p class=\"error\" role=\"alert\">");
        av_web__buf_html(b, form_error);
        av_web__buf_str(b, "</p>");
    }
    if (img->voted) {
        av_web__buf_str(b, "<p class=\"thanks\">Thank you for your feedback!</p>");
        return;
    }
    if (!av_web__may(r, AV_WEB_GUEST_VOTE)) {
        av_web__buf_str(b, "<p>Feedback is open to signed-in users only here.</p>");
        return;
    }
    /* What to show in the fields: the values just sent (a refused form keeps
     * them), else what the per-bird reviews already say. */
    char vote[8] = "", gt[24] = "", pred[24] = "";
    int yes = 0, g = 0, p = 0;
    if (form_error && r) {
        snprintf(vote, sizeof vote, "%s", r->vote);
        snprintf(gt, sizeof gt, "%s", r->ground_truth);
        snprintf(pred, sizeof pred, "%s", r->predicted);
    } else if (derived_vote(r, img, &yes, &g, &p)) {
        snprintf(vote, sizeof vote, "%s", yes ? "yes" : "no");
        snprintf(gt, sizeof gt, "%d", g);
        snprintf(pred, sizeof pred, "%d", p);
        av_web__buf_str(b, "<p class=\"meta\">Filled in from your reviews of each bird: check"
                           " and send.</p>");
    }
    av_web__buf_fmt(b, "<form method=\"post\" action=\"/uploads/%s#feedback\">", img->id);
    av_web__csrf_input(r, b);
    av_web__buf_fmt(
        b, "<fieldset><legend>Did it accurately detect all your birds?</legend>"
           "<label><input type=\"radio\" name=\"vote\" value=\"yes\" required%s> Yes</label> "
           "<label><input type=\"radio\" name=\"vote\" value=\"no\"%s> No</label></fieldset>"
           "<p class=\"meta\">If not, tell us:</p>"
           "<div class=\"field\"><label for=\"ground_truth\">How many birds are in the picture?"
           "</label><input type=\"number\" min=\"0\" max=\"10000\" id=\"ground_truth\""
           " name=\"ground_truth\" inputmode=\"numeric\" value=\"",
        !strcmp(vote, "yes") ? " checked" : "", !strcmp(vote, "no") ? " checked" : "");
    av_web__buf_html(b, gt);
    av_web__buf_str(b, "\"></div><div class=\"field\"><label for=\"predicted\">How many birds got"
                       " accurately detected?</label><input type=\"number\" min=\"0\""
                       " max=\"10000\" id=\"predicted\" name=\"predicted\" inputmode=\"numeric\""
                       " value=\"");
    av_web__buf_html(b, pred);
    av_web__buf_str(b, "\"></div><button type=\"submit\">Send feedback</button></form>");
}
