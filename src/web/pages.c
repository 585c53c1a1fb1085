/*
 * pages.c - the upload form, an upload's results and feedback pages (photos;
 * videos hand over to video_pages.c), its JSON API, and what follows an
 * upload (redirect, batch page or JSON).
 */
#include "web/internal.h"

#include "config/config.h"
#include "log/log.h"
#include "text/text.h"
#include "monitor/monitor.h"
#include "vision/vision.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void species_note_html(av_web *w, av_web__buf *b)
{
    if (!w->o.species_note)
        return;
    av_web__buf_str(b, "<p class=\"note\">");
    av_web__buf_html(b, w->o.species_note);
    av_web__buf_str(b, "</p>");
}

enum MHD_Result av_web__page_index(av_web__req *r)
{
    av_web *w = r->w;
    char mb[32], video[96] = "";
    snprintf(mb, sizeof mb, "%lld", w->o.max_upload_bytes / 1000000);
    if (w->o.analyze_video) {
        int secs = w->o.max_video_seconds < 120;
        snprintf(video, sizeof video, "; videos: MP4, MOV, WebM, MKV or AVI, up to %lld MB and %.0f"
                 " %s", w->o.max_video_bytes / 1000000,
                 secs ? w->o.max_video_seconds : w->o.max_video_seconds / 60,
                 secs ? "seconds" : "minutes");
    }
    if (!av_web__may(r, AV_WEB_GUEST_UPLOAD))
        return av_web__message(r, MHD_HTTP_OK, "Uploads are closed to guests",
                               "Only the owner may upload photos to this Aviary. Sign in to"
                               " upload; the uploads already made can be seen by their link.");
    av_web__buf note, b, notice, csrf;
    av_web__buf_init(&note, 4096);
    av_web__buf_init(&notice, 4096);
    av_web__buf_init(&csrf, 256);
    species_note_html(w, &note);
    char hint[1600];
    if (av_web__owner_hint(w, hint, sizeof hint)) { /* first start: how to add the owner */
        av_web__buf_str(&notice, "<p class=\"note\" id=\"owner-hint\">");
        av_web__buf_html(&notice, hint);
        av_web__buf_str(&notice, "</p>");
    }
    av_web__csrf_input(r, &csrf);
    const char *kv[] = {"max_mb", mb, "video", video, "species_note", note.p ? note.p : "",
                        "notice", notice.p ? notice.p : "", "csrf", csrf.p ? csrf.p : "", NULL};
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    av_web__page(r, &b, "Aviary - bird detection", "index.html", kv, NULL);
    av_web__buf_free(&note);
    av_web__buf_free(&notice);
    av_web__buf_free(&csrf);
    return av_web__send_page(r, MHD_HTTP_OK, &b, NULL);
}

/* Display name of a detection: common name, else scientific, else label. */
static const char *det_name(const av_store_detection *d)
{
    if (d->common_name[0])
        return d->common_name;
    if (d->species[0])
        return d->species;
    return d->label[0] == 'b' && !strcmp(d->label, "bird") ? "Bird" : d->label;
}

/* What await_analysis did. */
typedef enum await_result {
    AWAIT_DONE,   /* *img re-read: show it */
    AWAIT_PARKED, /* the connection waits: answer nothing now */
    AWAIT_FULL,   /* the analysis queue is full */
} await_result;

/*
 * A pending image: queue its analysis and park the connection until it is
 * over (waiters.c, which also sees results of other nodes in the database):
 * PARKED. Called again after the wait (or when the connection cannot be
 * parked: then after waiting for the local job), it re-reads *img into *st:
 * DONE.
 */
static await_result await_analysis(av_web__req *r, av_store_image *img, av_store_status *st,
                                   char *err, size_t errlen)
{
    av_web *w = r->w;
    char id[AV_STORE_ID_LEN + 1];
    memcpy(id, img->id, sizeof id);
    if (!r->waited) {
        if (av_web__jobs_request(w->jobs, id))
            return AWAIT_FULL;
        if (!av_web__wait_async(w->waiters, r, id, w->o.analysis_wait_ms))
            return AWAIT_PARKED;
        av_web__jobs_wait(w->jobs, id, w->o.analysis_wait_ms);
    }
    *st = av_store_image_get(w->o.store, id, 0, img, err, errlen);
    return AWAIT_DONE;
}

/* When and where the photo was taken, from its EXIF (stored at upload). */
static void capture_meta(av_web *w, av_web__buf *b, const char *id)
{
    av_store_image_meta m;
    char err[256];
    if (av_store_image_meta_get(w->o.store, id, &m, err, sizeof err) != AV_STORE_OK ||
        (!m.taken_at[0] && !m.has_gps))
        return;
    av_web__buf_str(b, "<p class=\"meta\" id=\"capture\">");
    if (m.taken_at[0])
        av_web__buf_fmt(b, "Taken %.10s at %.5s (camera clock)", m.taken_at, m.taken_at + 11);
    if (m.has_gps)
        av_web__buf_fmt(b, "%s %.5f, %.5f", m.taken_at[0] ? " &middot; at" : "Taken at",
                        m.latitude, m.longitude);
    av_web__buf_str(b, "</p>");
}

enum MHD_Result av_web__page_results(av_web__req *r, const char *id, const char *form_error,
                                     unsigned status)
{
    av_web *w = r->w;
    char err[512] = "";
    av_store_image img;
    av_store_status st = av_store_image_get(w->o.store, id, 0, &img, err, sizeof err);
    if (st == AV_STORE_NOT_FOUND)
        return av_web__message(r, MHD_HTTP_NOT_FOUND, "Image not found",
                               "No uploaded image has this ID.");
    if (st != AV_STORE_OK)
        return av_web__internal_error(r, "results", err);
    if (av_web__is_video_type(img.content_type)) /* video_pages.c */
        return av_web__video_results(r, &img, form_error, status);

    if (strcmp(img.status, "pending") == 0) {
        await_result wr = await_analysis(r, &img, &st, err, sizeof err);
        if (wr == AWAIT_PARKED)
            return MHD_YES; /* parked: called again when it is over */
        if (wr == AWAIT_FULL)
            return av_web__message(r, MHD_HTTP_SERVICE_UNAVAILABLE, "Busy right now",
                                   "Your photo is saved, but every analysis worker is busy."
                                   " Please reload this page in a few seconds.");
        if (st != AV_STORE_OK)
            return av_web__internal_error(r, "results", err);
    }

    av_store_detection *dets = NULL;
    int n = 0;
    if (strcmp(img.status, "done") == 0 &&
        av_store_detections_get(w->o.store, img.id, &dets, &n, err, sizeof err) != AV_STORE_OK)
        return av_web__internal_error(r, "detections", err);

    av_web__buf annotated, table, fb, b;
    av_web__buf_init(&annotated, 8192);
    av_web__buf_init(&table, 1 << 20);
    av_web__buf_init(&fb, 16384);
    const char *head = NULL;
    av_store_review *rv = NULL;
    int n_rv = 0;
    if (!strcmp(img.status, "done")) {
        /* numbered, coloured boxes and per-bird review (review.c) */
        if (av_store_reviews_list(w->o.store, img.id, 1, &rv, &n_rv, err, sizeof err) !=
            AV_STORE_OK)
            av_log(AV_LOG_ERROR, "internal_error", "where", "reviews", "error", err, NULL);
        av_web__review_figure(&annotated, &img, dets, n, rv, n_rv);
        av_web__buf_fmt(&annotated, "<p class=\"meta\"><a href=\"/inferenced/%s.%s\">The photo"
                                    " with the model's boxes drawn in</a></p>",
                        img.id, strcmp(img.ext, "png") ? "jpg" : "png");
        capture_meta(w, &table, img.id);
        if (r->rv.error[0]) { /* a refused review (review.c) */
            av_web__buf_str(&table, "<p class=\"error\" role=\"alert\" id=\"review-error\">");
            av_web__buf_html(&table, r->rv.error);
            av_web__buf_str(&table, "</p>");
        }
        av_web__review_section(r, &table, &img, dets, n, rv, n_rv);
        av_web__feedback_form(r, &fb, &img, form_error);
        head = "<script src=\"/static/review.js\" defer></script>";
    } else if (!strcmp(img.status, "failed")) {
        av_web__buf_str(&annotated, "<p class=\"error\">This image could not be analysed: ");
        av_web__buf_html(&annotated, img.error);
        av_web__buf_str(&annotated, "</p>");
        av_web__buf_str(&table, "<p>No results.</p>");
        av_web__buf_str(&fb, "<p>Feedback is possible once the image has been analysed.</p>");
    } else if (img.error[0]) { /* a temporary failure: retried by the workers */
        av_web__buf_str(&annotated, "<p class=\"error\">Analysis pending, retrying by itself: ");
        av_web__buf_html(&annotated, img.error);
        av_web__buf_str(&annotated, "</p><p>Your photo is kept; this page refreshes by itself.</p>");
        av_web__buf_str(&table, "<p>Analysis pending.</p>");
        head = "<meta http-equiv=\"refresh\" content=\"5\">";
    } else {
        av_web__buf_str(&annotated, "<p>Analysis in progress&hellip; this page refreshes by "
                                    "itself.</p>");
        av_web__buf_str(&table, "<p>Analysis pending.</p>");
        head = "<meta http-equiv=\"refresh\" content=\"2\">";
    }
    av_web__buf note;
    av_web__buf_init(&note, 4096);
    species_note_html(w, &note);
    av_web__buf owner;
    av_web__buf_init(&owner, 4096);
    av_web__owner_tools(r, &owner, img.id);
    const char *kv[] = {"id", img.id, "name", img.name, "ext", img.ext,
                        "annotated", annotated.p ? annotated.p : "",
                        "table", table.p ? table.p : "",
                        "feedback", fb.p ? fb.p : "",
                        "species_note", note.p ? note.p : "",
                        "owner", owner.p ? owner.p : "", NULL};
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    char title[320];
    snprintf(title, sizeof title, "%s - Aviary results", img.name);
    av_web__page(r, &b, title, "results.html", kv, head);
    if (annotated.failed || table.failed || fb.failed)
        b.failed = 1;
    av_web__buf_free(&annotated);
    av_web__buf_free(&table);
    av_web__buf_free(&fb);
    av_web__buf_free(&note);
    av_web__buf_free(&owner);
    free(dets);
    free(rv);
    return av_web__send_page(r, status, &b, NULL);
}

#define ALREADY_VOTED                                                                          \
    "This photo already had feedback (sent from another tab or by someone else), so this"      \
    " vote was not counted."

enum MHD_Result av_web__page_feedback(av_web__req *r, const char *id)
{
    av_web *w = r->w;
    char err[512] = "", msg[256];
    av_store_image img;
    av_store_status st = av_store_image_get(w->o.store, id, 0, &img, err, sizeof err);
    if (st == AV_STORE_NOT_FOUND)
        return av_web__message(r, MHD_HTTP_NOT_FOUND, "Image not found",
                               "No uploaded image has this ID.");
    if (st != AV_STORE_OK)
        return av_web__internal_error(r, "feedback", err);
    if (strcmp(img.status, "done") != 0)
        return av_web__page_results(r, img.id, "Please wait until the analysis is done.",
                                    MHD_HTTP_CONFLICT);
    if (img.voted) /* say so: a vote from a second tab is not silently dropped */
        return av_web__page_results(r, img.id, ALREADY_VOTED, MHD_HTTP_CONFLICT);
    av_monitor_vote v;
    if (r->field_too_long) {
        return av_web__page_results(r, img.id, "A field was too long.",
                                    MHD_HTTP_UNPROCESSABLE_CONTENT);
    }
    if (av_monitor_parse_vote(r->vote[0] ? r->vote : NULL,
                              r->ground_truth[0] ? r->ground_truth : NULL,
                              r->predicted[0] ? r->predicted : NULL, &v, msg, sizeof msg))
        return av_web__page_results(r, img.id, msg, MHD_HTTP_UNPROCESSABLE_CONTENT);

    av_store_detection *dets = NULL;
    int n = 0;
    if (av_store_detections_get(w->o.store, img.id, &dets, &n, err, sizeof err) != AV_STORE_OK)
        return av_web__internal_error(r, "feedback", err);
    free(dets);
    av_store_feedback fb = {.vote_yes = v.yes, .ground_truth = v.ground_truth,
                            .predicted = v.predicted,
                            .satisfaction = av_monitor_satisfaction(&v, n)};
    av_web__tracked_set t;
    av_web__tracked(w, &t);
    st = av_store_feedback_add(w->o.store, img.id, &fb, t.name, t.n, NULL, err, sizeof err);
    if (st == AV_STORE_CONFLICT) /* another request voted first */
        return av_web__page_results(r, img.id, ALREADY_VOTED, MHD_HTTP_CONFLICT);
    if (st != AV_STORE_OK)
        return av_web__internal_error(r, "feedback", err);
    char loc[128];
    snprintf(loc, sizeof loc, "/uploads/%s#feedback", img.id);
    return av_web__redirect(r, loc); /* post/redirect/get: a reload never votes twice */
}

static json_t *image_json(av_web *w, const av_store_image *img)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(img->id));
    char name[sizeof img->name * 3]; /* rows stored before names were cleaned */
    av_text_utf8_clean(name, sizeof name, img->name);
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "status", json_string(img->status));
    char url[128];
    snprintf(url, sizeof url, "/uploads/%s", img->id);
    json_object_set_new(o, "results_url", json_string(url));
    snprintf(url, sizeof url, "/originals/%s.%s", img->id, img->ext);
    json_object_set_new(o, "original_url", json_string(url));
    if (!strcmp(img->status, "failed"))
        json_object_set_new(o, "error", json_string(img->error));
    else if (!strcmp(img->status, "pending") && img->error[0]) /* being retried */
        json_object_set_new(o, "retrying", json_string(img->error));
    if (!strcmp(img->status, "done")) {
        snprintf(url, sizeof url, "/inferenced/%s.%s", img->id,
                 strcmp(img->ext, "png") ? "jpg" : "png");
        json_object_set_new(o, "annotated_url", json_string(url));
        json_object_set_new(o, "width", json_integer(img->width));
        json_object_set_new(o, "height", json_integer(img->height));
        av_store_detection *d = NULL;
        int n = 0;
        char err[256];
        json_t *arr = json_array();
        if (av_store_detections_get(w->o.store, img->id, &d, &n, err, sizeof err) ==
            AV_STORE_OK) {
            for (int i = 0; i < n; i++) {
                json_t *x = json_object();
                json_object_set_new(x, "label", json_string(d[i].label));
                json_object_set_new(x, "name", json_string(det_name(&d[i])));
                json_object_set_new(x, "species", d[i].species[0] ? json_string(d[i].species)
                                                                  : json_null());
                json_object_set_new(x, "common_name", d[i].common_name[0]
                                                          ? json_string(d[i].common_name)
                                                          : json_null());
                json_object_set_new(x, "confidence", json_real(d[i].score));
                json_object_set_new(x, "detector_score", json_real(d[i].detector_score));
                json_object_set_new(x, "species_score", d[i].species_score >= 0
                                                            ? json_real(d[i].species_score)
                                                            : json_null());
                json_object_set_new(x, "box", json_pack("[f,f,f,f]", d[i].x1, d[i].y1, d[i].x2,
                                                        d[i].y2));
                json_object_set_new(x, "model_version", json_string(d[i].model_version));
                json_object_set_new(x, "whole_image_by", d[i].whole_image_by[0]
                                                             ? json_string(d[i].whole_image_by)
                                                             : json_null());
                json_t *gs = json_array(); /* the classifier's top guesses, best first */
                for (int k = 0; gs && k < d[i].n_guesses; k++)
                    json_array_append_new(
                        gs, json_pack("{s:s,s:o,s:f}", "species", d[i].guesses[k].species,
                                      "common_name",
                                      d[i].guesses[k].common_name[0]
                                          ? json_string(d[i].guesses[k].common_name)
                                          : json_null(),
                                      "score", d[i].guesses[k].score));
                json_object_set_new(x, "guesses", gs ? gs : json_null());
                json_array_append_new(arr, x);
            }
            free(d);
        }
        json_object_set_new(o, "detections", arr);
        json_t *il = json_null(); /* a drawing: no detections, the best guess here */
        if (img->illustration.on) {
            const av_store_illustration *x = &img->illustration;
            char text[400];
            av_web__illustration_text(x, text, sizeof text);
            il = json_pack("{s:s, s:o, s:o, s:o}", "message", text, "species",
                           x->species[0] ? json_string(x->species) : json_null(),
                           "common_name",
                           x->common_name[0] ? json_string(x->common_name) : json_null(),
                           "score", x->score >= 0 ? json_real(x->score) : json_null());
        }
        json_object_set_new(o, "illustration", il);
        /* each reviewed bird's current review (review.c), by box */
        av_store_review *rv = NULL;
        int n_rv = 0;
        json_t *reviews = json_array();
        if (av_store_reviews_list(w->o.store, img->id, 1, &rv, &n_rv, err, sizeof err) ==
            AV_STORE_OK)
            for (int i = 0; i < n_rv; i++)
                json_array_append_new(reviews, av_web__review_json(&rv[i]));
        free(rv);
        json_object_set_new(o, "reviews", reviews);
    }
    json_object_set_new(o, "voted", json_boolean(img->voted));
    return o;
}

enum MHD_Result av_web__api_image(av_web__req *r, const char *id)
{
    av_web *w = r->w;
    char err[512] = "";
    av_store_image img;
    av_store_status st = av_store_image_get(w->o.store, id, 0, &img, err, sizeof err);
    if (st == AV_STORE_NOT_FOUND)
        return av_web__json_error(r, MHD_HTTP_NOT_FOUND, "no image with this id");
    if (st != AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "internal_error", "where", "api", "error", err, NULL);
        return av_web__json_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error");
    }
    if (av_web__is_video_type(img.content_type)) /* video_pages.c */
        return av_web__video_api(r, &img);
    if (!strcmp(img.status, "pending")) {
        await_result wr = await_analysis(r, &img, &st, err, sizeof err);
        if (wr == AWAIT_PARKED)
            return MHD_YES; /* parked: called again when it is over */
        if (wr == AWAIT_FULL)
            return av_web__json_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "busy; retry shortly");
        if (st != AV_STORE_OK)
            return av_web__json_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error");
    }
    return av_web__send_json(r, MHD_HTTP_OK, image_json(w, &img));
}

/* When and where a photo was taken (EXIF), read once from the start of the
 * stored original and kept beside the image (activity, eBird export). */
static void store_capture_meta(av_web *w, const char *id)
{
    char err[256], path[1200];
    av_store_image img;
    if (av_store_image_get(w->o.store, id, 0, &img, err, sizeof err) != AV_STORE_OK ||
        strcmp(img.ext, "jpg"))
        return; /* EXIF comes with JPEGs */
    snprintf(path, sizeof path, "%s/originals/%s.%s", w->o.data_dir, id, img.ext);
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    enum { HEAD = 256 * 1024 }; /* APP1 is at the start; one segment is <= 64 KB */
    unsigned char *buf = malloc(HEAD);
    size_t n = buf ? fread(buf, 1, HEAD, f) : 0;
    fclose(f);
    av_store_image_meta m;
    memset(&m, 0, sizeof m);
    if (buf && !av_vision_exif_capture(buf, n, m.taken_at, &m.has_gps, &m.latitude,
                                       &m.longitude) &&
        av_store_image_meta_put(w->o.store, id, &m, err, sizeof err) != AV_STORE_OK)
        av_log(AV_LOG_WARN, "capture_meta_not_stored", "id", id, "error", err, NULL);
    free(buf);
}

enum MHD_Result av_web__after_upload(av_web__req *r, int api)
{
    av_web *w = r->w;
    int stored = 0;
    unsigned worst = 0;
    const av_web__file *bad = NULL;
    for (int i = 0; i < r->n_files; i++) {
        if (r->files[i].id[0]) {
            stored++;
            store_capture_meta(w, r->files[i].id);
            av_web__jobs_request(w->jobs, r->files[i].id); /* start early; full queue is fine */
        } else if (!bad) {
            bad = &r->files[i];
            worst = r->files[i].status;
        }
    }
    char extra[400] = ""; /* file parts past the limit: said, not stored */
    if (r->extra_files)
        snprintf(extra, sizeof extra,
                 "%d more file%s (from \"%s\") %s not stored: at most %d files per upload",
                 r->extra_files, r->extra_files > 1 ? "s" : "", r->first_extra,
                 r->extra_files > 1 ? "were" : "was", AV_WEB_MAX_FILES);
    if (!stored && r->extra_files)
        worst = MHD_HTTP_CONTENT_TOO_LARGE;
    if (api) {
        json_t *arr = json_array();
        if (r->extra_files)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:i}", "name", r->first_extra,
                                                 "error", extra, "count", r->extra_files));
        for (int i = 0; i < r->n_files; i++) {
            const av_web__file *f = &r->files[i];
            json_t *o = json_pack("{s:s}", "name", f->name);
            if (f->id[0]) {
                char url[128];
                json_object_set_new(o, "id", json_string(f->id));
                snprintf(url, sizeof url, "/api/v1/images/%s", f->id);
                json_object_set_new(o, "url", json_string(url));
            } else {
                char msg[300];
                snprintf(msg, sizeof msg, "%s %s", f->name, f->problem);
                json_object_set_new(o, "error", json_string(msg));
            }
            json_array_append_new(arr, o);
        }
        if (!r->n_files && r->failed)
            return av_web__json_error(r, MHD_HTTP_BAD_REQUEST, av_web__mp_error(r->mp));
        if (!r->n_files)
            return av_web__json_error(r, MHD_HTTP_BAD_REQUEST,
                              "send the image as multipart/form-data field \"file\"");
        return av_web__send_json(r, stored ? MHD_HTTP_CREATED : worst,
                         json_pack("{s:o}", "images", arr));
    }
    if (!r->n_files && r->failed)
        return av_web__message(r, MHD_HTTP_BAD_REQUEST, "That upload could not be read",
                               av_web__mp_error(r->mp));
    if (!r->n_files)
        return av_web__message(r, MHD_HTTP_BAD_REQUEST, "No photo received",
                               "Please choose a photo to upload.");
    if (stored == 1 && r->n_files == 1 && !r->extra_files) {
        char loc[128];
        snprintf(loc, sizeof loc, "/uploads/%s", r->files[0].id);
        return av_web__redirect(r, loc);
    }
    if (!stored) {
        char text[480];
        snprintf(text, sizeof text, "\"%s\" %s.", bad->name, bad->problem);
        return av_web__message(r, worst, worst == MHD_HTTP_CONTENT_TOO_LARGE
                                                ? "That upload is too large"
                                                : "That file cannot be analysed",
                               text);
    }
    /* Several files: 303 to their batch page (a reload never posts again). */
    av_web__buf loc;
    av_web__buf_init(&loc, 8192);
    av_web__buf_str(&loc, "/batch?ids=");
    for (int i = 0, k = 0; i < r->n_files; i++)
        if (r->files[i].id[0])
            av_web__buf_fmt(&loc, "%s%s", k++ ? "," : "", r->files[i].id);
    if (bad) {
        av_web__buf_str(&loc, "&bad=");
        for (int i = 0, k = 0; i < r->n_files; i++) {
            const av_web__file *f = &r->files[i];
            if (f->id[0])
                continue;
            char one[480];
            snprintf(one, sizeof one, "%s\"%s\" %s", k++ ? "; " : "", f->name, f->problem);
            av_web__buf_url(&loc, one);
        }
    }
    if (r->extra_files) {
        if (bad)
            av_web__buf_url(&loc, "; ");
        else
            av_web__buf_str(&loc, "&bad=");
        av_web__buf_url(&loc, extra);
    }
    enum MHD_Result ret = loc.failed ? av_web__redirect(r, "/uploads")
                                     : av_web__redirect(r, loc.p);
    av_web__buf_free(&loc);
    return ret;
}
