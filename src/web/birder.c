/*
 * birder.c - page pieces the birder's pages share (gallery, species and
 * activity pages, the review queue, the results page's birds): thumbnails,
 * the colours of boxes and species, the species datalist, the site list.
 * They draw HTML only; no page or response lives here.
 */
#include "web/internal.h"

#include "vision/vision.h"

#include <stdio.h>
#include <string.h>

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

const char *av_web__bird_name(const char *common, const char *sci)
{
    return common[0] ? common : sci[0] ? sci : "Bird";
}

int av_web__is_genus(const char *sci)
{
    size_t n = strlen(sci);
    return n > 4 && !strcmp(sci + n - 4, " sp.");
}

void av_web__illustration_text(const av_store_illustration *il, char *out, size_t cap)
{
    const char *name = av_web__bird_name(il->common_name, il->species);
    int both = il->common_name[0] && il->species[0];
    snprintf(out, cap,
             "This looks like a drawing or painting, not a photo: no sighting recorded."
             " Best guess: %s%s%s%s",
             name, both ? " (" : "", both ? il->species : "", both ? ")" : "");
}

void av_web__when(const char *t, char *out, size_t cap)
{
    snprintf(out, cap, "%.10s %.5s", t, strlen(t) >= 16 ? t + 11 : "");
}
