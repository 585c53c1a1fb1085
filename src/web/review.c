/*
 * review.c - per-bird review: the results page's numbered, coloured boxes
 * and review forms, the form and API handlers that store a review (who:
 * the signed-in owner, else "guest"; rights and CSRF as every form, see
 * auth.c), and the /review queue of unreviewed doubtful birds.
 */
#include "web/internal.h"

#include "detect/detect.h"
#include "log/log.h"
#include "vision/vision.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The marks (vision.h): white text on each is >= 4.5:1, the CSS's .c0-.c7. */
#define N_COLOURS AV_VISION_MARKS

const char *av_web__box_colour(int i)
{
    return av_vision_mark_hex(i);
}

const char *av_web__species_colour(const char *scientific)
{
    int m = av_vision_species_mark(scientific);
    return m < 0 ? "#555555" : av_vision_mark_hex(m);
}

int av_web__outside_site_list(const av_web *w, const char *species)
{
    /* a genus answer ("Corvus") is no species to find on a list */
    if (!w->o.on_site_list || !species || !strchr(species, ' '))
        return 0;
    return w->o.on_site_list(w->o.site_list_ud, species) == 0;
}

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

/* ---- the results page ---- */

static const char *bird_name(const char *common, const char *sci)
{
    return common[0] ? common : sci[0] ? sci : "Bird";
}

/* The current review of box i, or NULL. */
static const av_store_review *review_of(const av_store_review *rv, int n_rv, int box)
{
    for (int k = 0; k < n_rv; k++)
        if (rv[k].box == box)
            return &rv[k];
    return NULL;
}

typedef struct bird {
    int box;
    double x1, y1, x2, y2, score; /* score NaN: added */
    const char *sci, *common;      /* as it stands now */
    const char *model_sci;
    const av_store_review *rv;
} bird;

/* Detections then added boxes, each with its current review applied. */
static int birds_of(const av_store_detection *d, int n, const av_store_review *rv, int n_rv,
                    bird *out, int cap)
{
    int m = 0;
    for (int i = 0; i < n && m < cap; i++) {
        const av_store_review *r = review_of(rv, n_rv, i);
        bird b = {i, d[i].x1, d[i].y1, d[i].x2, d[i].y2, d[i].score, d[i].species,
                  d[i].common_name, d[i].species, r};
        if (r) {
            b.sci = r->species;
            b.common = r->common_name;
        }
        out[m++] = b;
    }
    for (int k = 0; k < n_rv && m < cap; k++) {
        if (rv[k].box < n)
            continue;
        bird b = {rv[k].box, rv[k].x1, rv[k].y1, rv[k].x2, rv[k].y2, NAN, rv[k].species,
                  rv[k].common_name, "", &rv[k]};
        out[m++] = b;
    }
    return m;
}

/* The model's common name of detection box (NULL past the detections). */
static const char *review_model_common(const av_store_detection *d, int n, int box)
{
    return box >= 0 && box < n ? d[box].common_name : NULL;
}

static int gone(const bird *b)
{
    return b->rv && (b->rv->action == AV_REVIEW_NOT_BIRD || b->rv->action == AV_REVIEW_DUPLICATE);
}

#define MAX_BIRDS 256

/* A box's stored top guesses as radio buttons (no JavaScript needed):
 * "Set species" takes the chosen one unless a name was typed. */
static void guess_choices(av_web__buf *b, const av_store_detection *d, int box)
{
    av_web__buf_str(b, "<fieldset class=\"guesses\"><legend>The model's top guesses</legend>");
    for (int k = 0; k < d->n_guesses && k < AV_STORE_MAX_GUESSES; k++) {
        const av_store_guess *g = &d->guesses[k];
        av_web__buf_fmt(b, "<div class=\"guess\"><input type=\"radio\" id=\"g-%d-%d\""
                           " name=\"guess\" value=\"",
                        box + 1, k);
        av_web__buf_html(b, g->species);
        av_web__buf_fmt(b, "\"><label for=\"g-%d-%d\">", box + 1, k);
        if (g->common_name[0]) {
            av_web__buf_html(b, g->common_name);
            av_web__buf_str(b, " ");
        }
        av_web__buf_str(b, "<i>");
        av_web__buf_html(b, g->species);
        av_web__buf_fmt(b, "</i> <span class=\"meta\">%.1f%%</span></label></div>",
                        g->score * 100);
    }
    av_web__buf_str(b, "</fieldset>");
}

void av_web__review_figure(av_web__buf *b, const av_store_image *img,
                           const av_store_detection *d, int n, const av_store_review *rv,
                           int n_rv)
{
    bird *v = malloc(MAX_BIRDS * sizeof *v);
    if (!v) {
        b->failed = 1;
        return;
    }
    int m = birds_of(d, n, rv, n_rv, v, MAX_BIRDS);
    double W = img->width > 0 ? img->width : 1, H = img->height > 0 ? img->height : 1;
    /* Labels >= 14 CSS px when the photo is shown 320 px wide (a phone). */
    double fs = 15.0 * W / 320.0, stroke = W / 260.0 < 2 ? 2 : W / 260.0;
    av_web__buf_fmt(b, "<svg class=\"birds\" id=\"birds-svg\" viewBox=\"0 0 %d %d\" role=\"img\""
                       " aria-labelledby=\"birds-title\" data-w=\"%d\" data-h=\"%d\">"
                       "<title id=\"birds-title\">",
                    img->width, img->height, img->width, img->height);
    int shown = 0;
    for (int i = 0; i < m; i++)
        shown += !gone(&v[i]);
    av_web__buf_fmt(b, "Photo with %d bird%s marked", shown, shown == 1 ? "" : "s");
    for (int i = 0, k = 0; i < m; i++) {
        if (gone(&v[i]))
            continue;
        av_web__buf_fmt(b, "%s %d ", k++ ? "," : ":", v[i].box + 1);
        av_web__buf_html(b, bird_name(v[i].common, v[i].sci));
    }
    av_web__buf_fmt(b, "</title><image href=\"/originals/%s.%s\" x=\"0\" y=\"0\" width=\"%d\""
                       " height=\"%d\"/>",
                    img->id, img->ext, img->width, img->height);
    for (int i = 0; i < m; i++) {
        const bird *x = &v[i];
        const char *col = gone(x) ? "#555555" : av_web__box_colour(x->box);
        av_web__buf_fmt(b,
                        "<g class=\"box\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
                        " height=\"%.1f\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"%s/>",
                        x->x1, x->y1, x->x2 - x->x1, x->y2 - x->y1, col, stroke,
                        gone(x) ? " stroke-dasharray=\"8 6\"" : "");
        /* The number in a badge at the box's corner, kept inside the photo. */
        double r = fs * 0.85, cx = x->x1 + r, cy = x->y1 + r;
        if (cx + r > W)
            cx = W - r;
        if (cy + r > H)
            cy = H - r;
        av_web__buf_fmt(b,
                        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\" stroke=\"#fff\""
                        " stroke-width=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\""
                        " fill=\"#fff\" font-weight=\"700\" text-anchor=\"middle\""
                        " dominant-baseline=\"central\">%d</text></g>",
                        cx, cy, r, col, stroke / 2, cx, cy, fs, x->box + 1);
    }
    av_web__buf_str(b, "</svg>");
    free(v);
}

static void state_text(av_web__buf *b, const bird *x)
{
    const av_store_review *r = x->rv;
    if (!r) {
        av_web__buf_str(b, "not reviewed");
        return;
    }
    switch (r->action) {
    case AV_REVIEW_CONFIRM: av_web__buf_str(b, "confirmed"); break;
    case AV_REVIEW_SPECIES: av_web__buf_str(b, "corrected"); break;
    case AV_REVIEW_NOT_BIRD: av_web__buf_str(b, "not a bird"); break;
    case AV_REVIEW_DUPLICATE: av_web__buf_str(b, "duplicate"); break;
    case AV_REVIEW_ADDED: av_web__buf_str(b, "added"); break;
    }
    av_web__buf_str(b, " by ");
    av_web__buf_html(b, r->who);
}

void av_web__species_datalist(const av_web *w, av_web__buf *b)
{
    int n = av_web__labels_count(w->labels);
    if (!n)
        return;
    av_web__buf_str(b, "<datalist id=\"species-list\">");
    for (int i = 0; i < n; i++) {
        const av_web__label *l = av_web__labels_at(w->labels, i);
        av_web__buf_str(b, "<option value=\"");
        av_web__buf_html(b, l->scientific);
        if (l->common[0]) {
            av_web__buf_str(b, " (");
            av_web__buf_html(b, l->common);
            av_web__buf_str(b, ")");
        }
        av_web__buf_str(b, "\">");
    }
    av_web__buf_str(b, "</datalist>");
}

void av_web__review_section(const av_web__req *r, av_web__buf *b, const av_store_image *img,
                            const av_store_detection *d, int n, const av_store_review *rv,
                            int n_rv)
{
    av_web *w = r->w;
    bird *v = malloc(MAX_BIRDS * sizeof *v);
    if (!v) {
        b->failed = 1;
        return;
    }
    int m = birds_of(d, n, rv, n_rv, v, MAX_BIRDS);
    if (!m)
        av_web__buf_str(b, "<p>No birds were found in this photo.</p>");
    else
        av_web__buf_str(b, "<div class=\"scroll\"><table class=\"birds\"><thead><tr>"
                           "<th scope=\"col\">#</th><th scope=\"col\">Bird species</th>"
                           "<th scope=\"col\">Scientific name</th><th scope=\"col\">Confidence"
                           "</th><th scope=\"col\">Review</th></tr></thead><tbody>");
    for (int i = 0; i < m; i++) {
        const bird *x = &v[i];
        av_web__buf_fmt(b, "<tr id=\"bird-%d\"%s><td><span class=\"badge c%d\">%d</span></td><td>",
                        x->box + 1, gone(x) ? " class=\"gone\"" : "", x->box % N_COLOURS,
                        x->box + 1);
        av_web__buf_html(b, gone(x) ? "(no bird)" : bird_name(x->common, x->sci));
        av_web__buf_str(b, "</td><td><i>");
        av_web__buf_html(b, x->sci[0] ? x->sci : "-");
        av_web__buf_str(b, "</i>");
        if (x->rv && x->model_sci[0] && strcmp(x->model_sci, x->sci)) {
            av_web__buf_str(b, " <span class=\"meta\">(model: <i>");
            av_web__buf_html(b, x->model_sci);
            av_web__buf_str(b, "</i>)</span>");
        }
        if (isnan(x->score))
            av_web__buf_str(b, "</td><td class=\"num\">added</td><td>");
        else
            av_web__buf_fmt(b, "</td><td class=\"num\">%.1f%%</td><td>", x->score * 100);
        state_text(b, x);
        av_web__buf_str(b, "</td></tr>");
    }
    if (m)
        av_web__buf_str(b, "</tbody></table></div>");
    if (!av_web__may(r, AV_WEB_GUEST_VOTE)) {
        av_web__buf_str(b, "<p>Reviewing is open to signed-in users only here.</p>");
        free(v);
        return;
    }
    av_web__species_datalist(w, b);
    for (int i = 0; i < m; i++) {
        const bird *x = &v[i];
        av_web__buf_fmt(b, "<form method=\"post\" action=\"/uploads/%s/review#bird-%d\""
                           " class=\"bird-review\" id=\"review-%d\">",
                        img->id, x->box + 1, x->box + 1);
        av_web__csrf_input(r, b);
        av_web__buf_fmt(b, "<input type=\"hidden\" name=\"box\" value=\"%d\"><fieldset><legend>"
                           "<span class=\"badge c%d\">%d</span> ",
                        x->box, x->box % N_COLOURS, x->box + 1);
        av_web__buf_html(b, gone(x) ? "(no bird)" : bird_name(x->common, x->sci));
        av_web__buf_str(b, " <span class=\"meta\">");
        state_text(b, x);
        av_web__buf_str(b, "</span></legend>");
        /* The model's top guesses first, then the search over every label. */
        int guessed = x->box < n && d[x->box].n_guesses > 0;
        if (guessed)
            guess_choices(b, &d[x->box], x->box);
        /* The species field and its button come first: Enter in the field sets the species. */
        av_web__buf_fmt(b, "<div class=\"field species\"><label for=\"sp-%d\">%s</label>"
                           "<input id=\"sp-%d\" name=\"species\""
                           " list=\"species-list\" autocomplete=\"off\" maxlength=\"260\""
                           " placeholder=\"common or scientific name\"> <button type=\"submit\""
                           " name=\"action\" value=\"species\">Set species</button></div>"
                           "<div class=\"actions\">",
                        x->box + 1, guessed ? "Or search every species" : "Another species",
                        x->box + 1);
        /* Confirm keeps the model's species (an added bird's: the one given). */
        const char *model = x->model_sci[0] ? x->model_sci : x->sci;
        if (model[0]) {
            const char *mc = x->model_sci[0] ? review_model_common(d, n, x->box) : x->common;
            av_web__buf_str(b, "<button type=\"submit\" name=\"action\" value=\"confirm\">"
                               "Confirm ");
            av_web__buf_html(b, bird_name(mc ? mc : "", model));
            av_web__buf_str(b, "</button> ");
        }
        av_web__buf_str(b, "<button type=\"submit\" name=\"action\" value=\"not_bird\""
                           " class=\"secondary\">Not a bird</button> <button type=\"submit\""
                           " name=\"action\" value=\"duplicate\" class=\"secondary\">Duplicate"
                           "</button></div></fieldset></form>");
    }
    av_web__buf_fmt(b, "<form method=\"post\" action=\"/uploads/%s/review#birds\""
                       " class=\"add-bird\" id=\"add-bird\">",
                    img->id);
    av_web__csrf_input(r, b);
    av_web__buf_fmt(b, "<input type=\"hidden\" name=\"action\" value=\"added\"><fieldset>"
                       "<legend>Add a bird the model missed</legend><p class=\"meta\""
                       " id=\"add-help\">Drag a box around it on the photo, or type its corners"
                       " in pixels: the photo is %d &times; %d.</p><div class=\"corners\">",
                    img->width, img->height);
    static const char *const names[4] = {"x1", "y1", "x2", "y2"};
    static const char *const labels[4] = {"Left (x1)", "Top (y1)", "Right (x2)", "Bottom (y2)"};
    for (int k = 0; k < 4; k++)
        av_web__buf_fmt(b, "<div class=\"field\"><label for=\"add-%s\">%s</label><input"
                           " type=\"number\" id=\"add-%s\" name=\"%s\" min=\"0\" max=\"%d\""
                           " step=\"1\" required inputmode=\"numeric\""
                           " aria-describedby=\"add-help\"></div>",
                        names[k], labels[k], names[k], names[k],
                        k % 2 ? img->height : img->width);
    av_web__buf_str(b, "</div><div class=\"field species\"><label for=\"add-species\">Species"
                       " (optional)</label><input id=\"add-species\" name=\"species\""
                       " list=\"species-list\" autocomplete=\"off\" maxlength=\"260\"></div>"
                       "<button type=\"submit\">Add bird</button></fieldset></form>");
    free(v);
}

/* ---- storing a review ---- */

/* species text -> scientific + common, checked against the label list.
 * -1 with msg when it names no species we know. */
static int resolve_species(const av_web *w, const char *text, char *sci, size_t scap,
                           char *common, size_t ccap, char *msg, size_t msgcap)
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

json_t *av_web__review_json(const av_store_review *r)
{
    return json_pack("{s:s,s:i,s:i,s:s,s:[f,f,f,f],s:o,s:o,s:o,s:s,s:s}", "image_id",
                     r->image_id, "box", r->box, "rev", r->rev, "action",
                     av_store_review_action_name(r->action), "bbox", r->x1, r->y1, r->x2, r->y2,
                     "species", r->species[0] ? json_string(r->species) : json_null(),
                     "common_name", r->common_name[0] ? json_string(r->common_name) : json_null(),
                     "model_species",
                     r->model_species[0] ? json_string(r->model_species) : json_null(), "who",
                     r->who, "created_at", r->created_at);
}

/* The request's JSON object (a new reference); NULL with *ret the
 * error answer (usage says what to send) when there is none. */
static json_t *body_object(av_web__req *r, const char *usage,
                           enum MHD_Result *ret)
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
            return av_web__json_error(r, MHD_HTTP_NOT_FOUND, "no such detection: number them from 1");
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
        return av_web__json_error(r, MHD_HTTP_NOT_FOUND, "not found: POST /api/v1/visits/<ID>/review");
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

/* ---- the queue ---- */

typedef struct doubt {
    const av_web__bird *b;
    int rank; /* 0 unknown, 1 outside the site list, 2 low score, 3 the rest */
} doubt;

#define QUEUE_SHOWN 60
#define LOW_SCORE 0.5

static int doubt_rank(const av_web *w, const av_web__birds *s, const av_web__bird *b)
{
    if (b->sp < 0)
        return 0;
    if (av_web__outside_site_list(w, s->species[b->sp].scientific))
        return 1;
    return b->score < LOW_SCORE ? 2 : 3;
}

static int by_doubt(const void *pa, const void *pb)
{
    const doubt *a = pa, *b = pb;
    if (a->rank != b->rank)
        return a->rank - b->rank;
    double sa = isnan(a->b->score) ? 0 : a->b->score, sb = isnan(b->b->score) ? 0 : b->b->score;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    return strcmp(b->b->seen, a->b->seen); /* then newest first */
}

enum MHD_Result av_web__page_review_queue(av_web__req *r)
{
    av_web *w = r->w;
    char err[512] = "";
    av_web__birds *s = NULL;
    doubt *q = NULL;
    int n = 0;
    if (!av_web__birds_get(w, &s, err, sizeof err)) {
        q = malloc((size_t)(s->n ? s->n : 1) * sizeof *q);
        for (int i = 0; q && i < s->n; i++)
            if (!s->v[i].action && !s->v[i].is_video)
                q[n++] = (doubt){&s->v[i], doubt_rank(w, s, &s->v[i])};
    }
    if (!s || !q) {
        av_web__birds_put(s);
        av_log(AV_LOG_ERROR, "internal_error", "where", "review queue", "error",
               s ? "out of memory" : err, NULL);
        return av_web__message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Something went wrong",
                               "The server could not complete this request. Please try again.");
    }
    qsort(q, (size_t)n, sizeof *q, by_doubt);
    static const char *const why[4] = {"species unknown", "outside the site list",
                                       "low confidence", "not reviewed"};
    av_web__buf b;
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    av_web__buf_fmt(&b, "<h1>Review queue</h1><p class=\"lead\">%d bird%s not reviewed yet;"
                        " the most doubtful first (unknown species, outside the site list, low"
                        " confidence).</p>",
                    n, n == 1 ? " is" : "s are");
    if (!n)
        av_web__buf_str(&b, "<p class=\"good\">Nothing to review: every bird has been"
                            " reviewed.</p>");
    else
        av_web__buf_str(&b, "<ul class=\"gallery\">");
    for (int i = 0; i < n && i < QUEUE_SHOWN; i++) {
        const av_web__bird *x = q[i].b;
        const char *sci = x->sp >= 0 ? s->species[x->sp].scientific : "";
        const char *common = x->sp >= 0 ? s->species[x->sp].common : "";
        av_web__buf_fmt(&b, "<li class=\"card\"><a href=\"/uploads/%s#review-%d\">",
                        x->image_id, x->box + 1);
        av_store_image img;
        memset(&img, 0, sizeof img);
        snprintf(img.id, sizeof img.id, "%s", x->image_id);
        snprintf(img.ext, sizeof img.ext, "%s", x->ext);
        snprintf(img.status, sizeof img.status, "done");
        char alt[300];
        snprintf(alt, sizeof alt, "Bird %d: %s", x->box + 1, bird_name(common, sci));
        av_web__thumb(&b, &img, x->is_video, alt);
        av_web__buf_fmt(&b, "<span class=\"cap\"><span class=\"badge c%d\">%d</span> ",
                        x->box % N_COLOURS, x->box + 1);
        av_web__buf_html(&b, bird_name(common, sci));
        if (isnan(x->score))
            av_web__buf_str(&b, "</span>");
        else
            av_web__buf_fmt(&b, " %.0f%%</span>", x->score * 100);
        av_web__buf_fmt(&b, "<span class=\"meta\">%s &middot; %.10s</span></a></li>",
                        why[q[i].rank], x->seen);
    }
    if (n)
        av_web__buf_str(&b, "</ul>");
    if (n > QUEUE_SHOWN)
        av_web__buf_fmt(&b, "<p class=\"meta\">Showing the first %d; review them and reload"
                            " for more.</p>",
                        QUEUE_SHOWN);
    free(q);
    av_web__birds_put(s);
    return av_web__html(r, MHD_HTTP_OK, "Review queue - Aviary", &b);
}
