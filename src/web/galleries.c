/*
 * galleries.c - the card grids the gallery and species pages show: uploads
 * (from the store's gallery query, or for one species from the shared
 * snapshot of birds) with their birds' names as captions, and camera
 * visits. They draw into a buffer; the pages around them answer.
 */
#include "web/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int gone(const av_store_bird *b)
{
    return b->action == AV_REVIEW_NOT_BIRD || b->action == AV_REVIEW_DUPLICATE;
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
    const char *s = av_web__bird_name(b->common_name, b->species);
    for (int i = 0; i < x->n; i++)
        if (!strcmp(x->v[i], s))
            return 0;
    if (x->n < 4)
        snprintf(x->v[x->n++], sizeof x->v[0], "%s", s);
    else
        x->more++;
    return 0;
}

void av_web__gallery_items(av_web *w, av_web__buf *b, const av_store_gallery_item *g, int n)
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
        av_web__when(g[i].seen_at, t, sizeof t);
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
int av_web__gallery_page(av_web *w, const av_store_filter *f, int offset, int limit,
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

static int visit_match(const av_web__birds *s, const av_web__visit *v,
                       const av_web__visit_filter *f)
{
    return (!f->species || (v->sp >= 0 && !strcmp(s->species[v->sp].scientific, f->species))) &&
           (!f->camera || !strcmp(v->camera, f->camera)) &&
           (!f->from || strncmp(v->seen, f->from, 10) >= 0) &&
           (!f->to || strncmp(v->seen, f->to, 10) <= 0);
}

/* The visits matching f, newest first, from offset, at most limit, as cards
 * (each one's best frame, species, time, camera); *total = all matching. */
int av_web__visit_gallery(av_web *w, av_web__buf *b, const av_web__visit_filter *f, int offset,
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
        const char *name = sp ? av_web__bird_name(sp->common, sp->scientific) : "Bird";
        if (v->has_jpeg)
            av_web__buf_fmt(b, "<li class=\"card\"><a href=\"/api/v1/visits/%lld/best.jpg\">",
                            (long long)v->id);
        else
            av_web__buf_str(b, "<li class=\"card\"><a href=\"/cameras\">");
        av_web__visit_thumb(b, v->id, v->has_jpeg, name);
        av_web__buf_str(b, "<span class=\"cap\">");
        av_web__buf_html(b, name);
        char t[32];
        av_web__when(v->seen, t, sizeof t);
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
