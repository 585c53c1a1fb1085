/*
 * review.c - storing a per-bird review: the form's and the API's fields,
 * and the handlers that store one (who: the signed-in owner, else "guest";
 * rights and CSRF as every form, see auth.c). How reviews show is
 * review_view.c.
 */
#include "web/internal.h"

#include "detect/detect.h"
#include "log/log.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- posted fields ---- */

int av_web__review_field(av_web__req *r, const char *key, const char *data, uint64_t off,
                         size_t size)
{
    av_web__review_form *f = &r->rv;
    char *dst = NULL;
    size_t cap = 0;
#define FIELD(name)                                                                            \
    if (!strcmp(key, #name))                                                                   \
        dst = f->name, cap = sizeof f->name;
    FIELD(box) FIELD(action) FIELD(species) FIELD(guess) FIELD(x1) FIELD(y1) FIELD(x2) FIELD(y2)
#undef FIELD
    if (!dst)
        return 0;
    size_t have = off ? strlen(dst) : 0;
    if (have + size + 1 > cap) {
        f->too_long = 1;
        return 1;
    }
    memcpy(dst + have, data, size);
    dst[have + size] = '\0';
    return 1;
}

void av_web__review_body(av_web__req *r, const char *data, size_t size)
{
    av_web__review_form *f = &r->rv;
    if (f->body_len + size > AV_WEB_REVIEW_BODY_MAX) {
        f->too_long = 1;
        return;
    }
    memcpy(f->body + f->body_len, data, size);
    f->body_len += size;
    f->body[f->body_len] = '\0';
}

/* ---- storing a review ---- */

/* species text -> scientific + common, checked against the label list.
 * -1 with msg when it names no species we know. */
static int resolve_species(const av_web *w, const char *text, char *sci, size_t scap, char *common,
                           size_t ccap, char *msg, size_t msgcap)
{
    while (*text == ' ')
        text++;
    if (!*text) {
        snprintf(msg, msgcap, "Please type the species (common or scientific name).");
        return -1;
    }
    if (w->labels) {
        const av_web__label *l = av_web__labels_find(w->labels, text);
        if (!l) {
            snprintf(msg, msgcap, "\"%.120s\" is not a species this Aviary knows. Pick one from"
                     " the list (common or scientific name).", text);
            return -1;
        }
        snprintf(sci, scap, "%s", l->scientific);
        snprintf(common, ccap, "%s", l->common);
        return 0;
    }
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || strchr("<>\"&;=", *p)) {
            snprintf(msg, msgcap, "A species name cannot contain \"%c\".", *p < 0x20 ? '?' : *p);
            return -1;
        }
    av_detect_split_label(text, sci, scap, common, ccap);
    return 0;
}

static int parse_num(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static void who_of(const av_web__req *r, char *out, size_t cap)
{
    snprintf(out, cap, "%s", r && r->auth.owner && r->auth.user[0] ? r->auth.user : "guest");
}

/* Validate and store; on failure msg says what and *status the HTTP status. */
static int store_review(av_web *w, const av_web__req *r, av_store_review *rv, char *msg,
                        size_t msgcap, unsigned *status)
{
    char err[512] = "";
    who_of(r, rv->who, sizeof rv->who);
    av_store_status st = av_store_review_add(w->o.store, rv, err, sizeof err);
    if (st == AV_STORE_OK)
        return 0;
    if (st == AV_STORE_NOT_FOUND || st == AV_STORE_EARG) {
        snprintf(msg, msgcap, "%s", err);
        *status = st == AV_STORE_NOT_FOUND ? MHD_HTTP_NOT_FOUND : MHD_HTTP_UNPROCESSABLE_CONTENT;
    } else {
        av_log(AV_LOG_ERROR, "internal_error", "where", "review", "error", err, NULL);
        snprintf(msg, msgcap, "The review could not be saved. Please try again.");
        *status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    return -1;
}

enum MHD_Result av_web__review_post(av_web__req *r, const char *id)
{
    av_web *w = r->w;
    av_web__review_form *f = &r->rv;
    char msg[300] = "";
    unsigned status = MHD_HTTP_UNPROCESSABLE_CONTENT;
    av_store_review rv;
    memset(&rv, 0, sizeof rv);
    snprintf(rv.image_id, sizeof rv.image_id, "%s", av_store_valid_id(id) ? id : "");
    rv.action = av_store_review_action_parse(f->action);
    rv.box = -1;
    double box = -1;
    if (!rv.image_id[0])
        return av_web__message(r, MHD_HTTP_NOT_FOUND, "Image not found",
                               "No uploaded image has this ID.");
    if (f->too_long)
        snprintf(msg, sizeof msg, "A field was too long.");
    else if (!rv.action)
        snprintf(msg, sizeof msg, "Please choose what to do with this bird.");
    else if (rv.action != AV_REVIEW_ADDED &&
             (parse_num(f->box, &box) || box < 0 || box >= 100000 || box != floor(box)))
        snprintf(msg, sizeof msg, "Which bird? The form named none.");
    else if (rv.action == AV_REVIEW_ADDED &&
             (parse_num(f->x1, &rv.x1) || parse_num(f->y1, &rv.y1) ||
              parse_num(f->x2, &rv.x2) || parse_num(f->y2, &rv.y2)))
        snprintf(msg, sizeof msg, "Please give the new bird's box: four numbers in pixels.");
    else if (rv.action == AV_REVIEW_SPECIES && !f->species[0] && !f->guess[0])
        snprintf(msg, sizeof msg, "Please choose one of the guesses or type a species.");
    else if ((rv.action == AV_REVIEW_SPECIES ||
              (rv.action == AV_REVIEW_ADDED && f->species[0])) &&
             /* a typed name wins over a chosen guess: it was typed after */
             resolve_species(w, f->species[0] ? f->species : f->guess, rv.species,
                             sizeof rv.species, rv.common_name, sizeof rv.common_name, msg,
                             sizeof msg))
        ;
    else {
        rv.box = (int)box;
        if (!store_review(w, r, &rv, msg, sizeof msg, &status)) {
            char loc[160];
            snprintf(loc, sizeof loc, "/uploads/%s#bird-%d", rv.image_id, rv.box + 1);
            return av_web__redirect(r, loc); /* post/redirect/get */
        }
        if (status == MHD_HTTP_NOT_FOUND && strstr(msg, "no image"))
            return av_web__message(r, MHD_HTTP_NOT_FOUND, "Image not found",
                                   "No uploaded image has this ID.");
    }
    snprintf(r->rv.error, sizeof r->rv.error, "%s", msg);
    return av_web__page_results(r, rv.image_id, NULL, status);
}

/* The request's JSON object (a new reference); NULL with *ret the
 * error answer (usage says what to send) when there is none. */
static json_t *body_object(av_web__req *r, const char *usage, enum MHD_Result *ret)
{
    if (r->rv.too_long) {
        *ret = av_web__json_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "the body is over 4096 bytes");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(r->rv.body, r->rv.body_len, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        *ret = av_web__json_error(r, MHD_HTTP_BAD_REQUEST, usage);
        return NULL;
    }
    return j;
}

enum MHD_Result av_web__review_api(av_web__req *r, const char *rest)
{
    av_web *w = r->w;
    /* rest: "<ID>/detections" or "<ID>/detections/<N>" (N from 1, as shown) */
    static const char seg[] = "/detections";
    char id[AV_STORE_ID_LEN + 1];
    if (strlen(rest) < AV_STORE_ID_LEN + sizeof seg - 1)
        return av_web__json_error(r, MHD_HTTP_NOT_FOUND, "not found");
    memcpy(id, rest, AV_STORE_ID_LEN);
    id[AV_STORE_ID_LEN] = '\0';
    const char *tail = rest + AV_STORE_ID_LEN;
    if (!av_store_valid_id(id) || strncmp(tail, seg, sizeof seg - 1))
        return av_web__json_error(r, MHD_HTTP_NOT_FOUND, "not found");
    tail += sizeof seg - 1;
    long n = -1;
    if (*tail == '/') {
        char *end;
        n = strtol(tail + 1, &end, 10);
        if (*end || end == tail + 1 || n < 1 || n > 100000)
            return av_web__json_error(r, MHD_HTTP_NOT_FOUND,
                                      "no such detection: number them from 1");
    } else if (*tail) {
        return av_web__json_error(r, MHD_HTTP_NOT_FOUND, "not found");
    }
    enum MHD_Result ret = MHD_NO;
    json_t *j = body_object(r,
                            "send a JSON object: {\"confirm\":true}, {\"species\":\"NAME\"},"
                            " {\"not_bird\":true} or {\"duplicate\":true}; to add a bird"
                            " {\"box\":[x1,y1,x2,y2],\"species\":\"NAME\"}",
                            &ret);
    if (!j)
        return ret;
    av_store_review rv;
    memset(&rv, 0, sizeof rv);
    snprintf(rv.image_id, sizeof rv.image_id, "%s", id);
    char msg[300] = "";
    json_t *sp = json_object_get(j, "species");
    if (sp && !json_is_string(sp))
        snprintf(msg, sizeof msg, "species must be a string");
    if (n < 0) {
        json_t *box = json_object_get(j, "box");
        double v[4];
        int ok = json_is_array(box) && json_array_size(box) == 4;
        for (int k = 0; ok && k < 4; k++) {
            json_t *e = json_array_get(box, (size_t)k);
            ok = json_is_number(e);
            v[k] = ok ? json_number_value(e) : 0;
        }
        if (!ok && !msg[0])
            snprintf(msg, sizeof msg, "box must be [x1, y1, x2, y2] in pixels");
        rv.action = AV_REVIEW_ADDED;
        rv.x1 = v[0], rv.y1 = v[1], rv.x2 = v[2], rv.y2 = v[3];
    } else {
        rv.box = (int)n - 1;
        int k = 0;
        if (json_is_true(json_object_get(j, "confirm")))
            rv.action = AV_REVIEW_CONFIRM, k++;
        if (json_is_true(json_object_get(j, "not_bird")))
            rv.action = AV_REVIEW_NOT_BIRD, k++;
        if (json_is_true(json_object_get(j, "duplicate")))
            rv.action = AV_REVIEW_DUPLICATE, k++;
        if (sp)
            rv.action = AV_REVIEW_SPECIES, k++;
        if (k != 1 && !msg[0])
            snprintf(msg, sizeof msg, "give exactly one of confirm, species, not_bird,"
                                      " duplicate");
    }
    if (!msg[0] && sp)
        resolve_species(w, json_string_value(sp), rv.species, sizeof rv.species,
                        rv.common_name, sizeof rv.common_name, msg, sizeof msg);
    json_decref(j);
    unsigned status = MHD_HTTP_UNPROCESSABLE_CONTENT;
    if (msg[0] || store_review(w, r, &rv, msg, sizeof msg, &status))
        return av_web__json_error(r, status, msg);
    return av_web__send_json(r, MHD_HTTP_CREATED, av_web__review_json(&rv));
}

enum MHD_Result av_web__visit_review_api(av_web__req *r, const char *rest)
{
    av_web *w = r->w;
    char *end = NULL;
    long long id = strtoll(rest, &end, 10);
    if (!end || end == rest || strcmp(end, "/review") || id <= 0)
        return av_web__json_error(r, MHD_HTTP_NOT_FOUND,
                                  "not found: POST /api/v1/visits/<ID>/review");
    enum MHD_Result ret = MHD_NO;
    json_t *j = body_object(r,
                            "send a JSON object: {\"confirm\":true}, {\"species\":\"NAME\"}"
                            " or {\"not_bird\":true}",
                            &ret);
    if (!j)
        return ret;
    char msg[300] = "", sci[128] = "", common[128] = "", who[128];
    json_t *sp = json_object_get(j, "species");
    int action = 0, k = 0;
    if (json_is_true(json_object_get(j, "confirm")))
        action = AV_REVIEW_CONFIRM, k++;
    if (json_is_true(json_object_get(j, "not_bird")))
        action = AV_REVIEW_NOT_BIRD, k++;
    if (sp)
        action = AV_REVIEW_SPECIES, k++;
    if (sp && !json_is_string(sp))
        snprintf(msg, sizeof msg, "species must be a string");
    else if (k != 1)
        snprintf(msg, sizeof msg, "give exactly one of confirm, species, not_bird");
    else if (sp)
        resolve_species(w, json_string_value(sp), sci, sizeof sci, common, sizeof common, msg,
                        sizeof msg);
    json_decref(j);
    if (msg[0])
        return av_web__json_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, msg);
    who_of(r, who, sizeof who);
    char err[512] = "";
    av_store_status st =
        av_store_camera_visit_review(w->o.store, id, action, sci, common, who, err, sizeof err);
    if (st == AV_STORE_NOT_FOUND)
        return av_web__json_error(r, MHD_HTTP_NOT_FOUND, err);
    if (st == AV_STORE_EARG)
        return av_web__json_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, err);
    if (st != AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "internal_error", "where", "visit review", "error", err, NULL);
        return av_web__json_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
                         "The review could not be saved. Please try again.");
    }
    return av_web__send_json(r, MHD_HTTP_CREATED,
                             json_pack("{s:I, s:s, s:s, s:s, s:s}", "visit", (json_int_t)id,
                                       "action",
                                       av_store_review_action_name((av_store_review_action)action),
                                       "species", sci, "common_name", common, "who", who));
}
