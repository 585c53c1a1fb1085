/*
 * review_view.c - how per-bird reviews show: the results page's numbered,
 * coloured boxes and review forms, a review as JSON, and the /review queue
 * of unreviewed doubtful birds. Storing a review is review.c.
 */
#include "web/internal.h"

#include "vision/vision.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The marks (vision.h): white text on each is >= 4.5:1, the CSS's .c0-.c7. */
#define N_COLOURS AV_VISION_MARKS

/* ---- the results page ---- */

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

void av_web__review_figure(av_web__buf *b, const av_store_image *img, const av_store_detection *d,
                           int n, const av_store_review *rv, int n_rv)
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
        av_web__buf_html(b, av_web__bird_name(v[i].common, v[i].sci));
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

void av_web__review_section(const av_web__req *r, av_web__buf *b, const av_store_image *img,
                            const av_store_detection *d, int n, const av_store_review *rv, int n_rv)
{
    av_web *w = r->w;
    bird *v = malloc(MAX_BIRDS * sizeof *v);
    if (!v) {
        b->failed = 1;
        return;
    }
    int m = birds_of(d, n, rv, n_rv, v, MAX_BIRDS);
    if (!m && img->illustration.on) { /* a drawing: its bird was never stored */
        char text[400];
        av_web__illustration_text(&img->illustration, text, sizeof text);
        av_web__buf_str(b, "<p class=\"illustration\">");
        av_web__buf_html(b, text);
        av_web__buf_str(b, "</p>");
    } else if (!m)
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
        av_web__buf_html(b, gone(x) ? "(no bird)" : av_web__bird_name(x->common, x->sci));
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
        else if (!x->sci[0]) /* no species: the score is the detector's that it is a bird */
            av_web__buf_fmt(b, "</td><td class=\"num\">%.1f%% <span class=\"meta\">(bird)</span>"
                               "</td><td>",
                            x->score * 100);
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
        av_web__buf_html(b, gone(x) ? "(no bird)" : av_web__bird_name(x->common, x->sci));
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
            av_web__buf_html(b, av_web__bird_name(mc ? mc : "", model));
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
        return av_web__internal_error(r, "review queue", s ? "out of memory" : err);
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
        /* no species: named as on its results page, its score the detector's */
        const char *common = x->sp >= 0 ? s->species[x->sp].common : "Unknown bird";
        av_web__buf_fmt(&b, "<li class=\"card\"><a href=\"/uploads/%s#review-%d\">",
                        x->image_id, x->box + 1);
        av_store_image img;
        memset(&img, 0, sizeof img);
        snprintf(img.id, sizeof img.id, "%s", x->image_id);
        snprintf(img.ext, sizeof img.ext, "%s", x->ext);
        snprintf(img.status, sizeof img.status, "done");
        char alt[300];
        snprintf(alt, sizeof alt, "Bird %d: %s", x->box + 1, av_web__bird_name(common, sci));
        av_web__thumb(&b, &img, x->is_video, alt);
        av_web__buf_fmt(&b, "<span class=\"cap\"><span class=\"badge c%d\">%d</span> ",
                        x->box % N_COLOURS, x->box + 1);
        av_web__buf_html(&b, av_web__bird_name(common, sci));
        if (isnan(x->score))
            av_web__buf_str(&b, "</span>");
        else
            av_web__buf_fmt(&b, " %.0f%%%s</span>", x->score * 100, x->sp >= 0 ? "" : " (bird)");
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
