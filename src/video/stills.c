/*
 * stills.c - posters and visit thumbnails kept while a clip is analysed
 * (see av_video_stills in video.h). A run's result holds no pixels, and
 * decoding a frame again later would mean a second pass over the file, so
 * the frame hook encodes what may be needed while the pixels are at hand:
 * the best poster so far, and per (visit, species) the most confident
 * detection's crop. The tracker decides a visit's species only at the end,
 * which is why one crop per species of a visit is kept, not one per visit.
 *
 * Layout: candidates (the crops), the poster, the hook, the getters.
 */
#include "video/video.h"
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vision/vision.h"

#define DEFAULT_POSTER_SIDE 960
#define DEFAULT_THUMB_SIDE 160
#define DEFAULT_QUALITY 85
#define DEFAULT_MAX_BYTES (32u << 20)
#define MAX_SIDE_OPT 4096
#define THUMB_MARGIN 0.15 /* context around the box, as the species crop has */

typedef struct cand {
    int track, cls, frame;
    float conf;
    unsigned char *jpg;
    size_t len;
} cand;

struct av_video_stills {
    av_video_stills_opts o;
    av_vision_font *font; /* NULL: boxes without labels */
    cand *c;
    int n;
    size_t cap;
    size_t bytes;         /* JPEG bytes held by the candidates */
    unsigned char *poster;
    size_t poster_len;
    int poster_n;         /* detections on the poster frame; -1 none yet */
    double poster_sum;    /* their summed confidence */
};

static int clampi(int v, int dflt, int max)
{
    return v <= 0 ? dflt : v > max ? max : v;
}

av_video_status av_video_stills_new(const av_video_stills_opts *opts, av_video_stills **out)
{
    *out = NULL;
    av_video_stills *s = calloc(1, sizeof *s);
    if (!s)
        return AV_VIDEO_E_NOMEM;
    if (opts)
        s->o = *opts;
    s->o.poster_side = clampi(s->o.poster_side, DEFAULT_POSTER_SIDE, MAX_SIDE_OPT);
    s->o.thumb_side = clampi(s->o.thumb_side, DEFAULT_THUMB_SIDE, MAX_SIDE_OPT);
    s->o.quality = clampi(s->o.quality, DEFAULT_QUALITY, 100);
    if (!s->o.max_bytes)
        s->o.max_bytes = DEFAULT_MAX_BYTES;
    s->poster_n = -1;
    char e[256];
    if (av_vision_font_open(NULL, &s->font, e, sizeof e) != AV_VISION_OK)
        s->font = NULL; /* labels are a nicety: draw boxes only */
    *out = s;
    return AV_VIDEO_OK;
}

void av_video_stills_free(av_video_stills *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        free(s->c[i].jpg);
    free(s->c);
    free(s->poster);
    av_vision_font_close(s->font);
    free(s);
}

static int det_class(const av_detect_det *d)
{
    return d->n_species > 0 ? d->species[0].class_index : d->class_index;
}

static cand *find(av_video_stills *s, int track, int cls)
{
    for (int i = 0; i < s->n; i++)
        if (s->c[i].track == track && s->c[i].cls == cls)
            return &s->c[i];
    return NULL;
}

/* A better crop for (track, class): -1 only when out of memory. */
static int offer_crop(av_video_stills *s, const av_image *img, const av_detect_det *d,
                      int track, int frame)
{
    int cls = det_class(d);
    cand *c = find(s, track, cls);
    if (c && c->conf >= d->confidence)
        return 0;
    av_image *crop = NULL;
    char e[256];
    if (av_vision_crop_resize(img, d->x1, d->y1, d->x2, d->y2, THUMB_MARGIN, s->o.thumb_side,
                              s->o.thumb_side, &crop, e, sizeof e) != AV_VISION_OK)
        return 0; /* a degenerate box: no thumbnail from it */
    unsigned char *jpg = NULL;
    size_t len = 0;
    av_vision_status st = av_vision_encode_jpeg(crop, s->o.quality, &jpg, &len, e, sizeof e);
    av_img_free(crop);
    if (st != AV_VISION_OK)
        return st == AV_VISION_E_NOMEM ? -1 : 0;
    size_t old = c ? c->len : 0;
    if (s->bytes - old + len > s->o.max_bytes) { /* over budget: keep what there is */
        free(jpg);
        return 0;
    }
    if (!c) {
        if (av_base_grow((void **)&s->c, &s->cap, (size_t)s->n + 1, sizeof *s->c)) {
            free(jpg);
            return -1;
        }
        c = &s->c[s->n++];
        *c = (cand){.track = track, .cls = cls};
    }
    free(c->jpg);
    s->bytes = s->bytes - old + len;
    c->jpg = jpg;
    c->len = len;
    c->conf = d->confidence;
    c->frame = frame;
    return 0;
}

/* The species a box is stored under (as av_web_store_detection names it:
 * the species, or the genus label "Corvus sp."), NULL when none or under
 * AV_VIDEO_MIN_SPECIES_SCORE: its colour (av_vision_species_color) is then
 * the same as its visit's on the timeline. */
static const char *shown_species(const av_detect_det *d)
{
    if (d->n_species && d->species[0].score < AV_VIDEO_MIN_SPECIES_SCORE)
        return NULL;
    if (d->n_species && (d->rule == AV_DETECT_RULE_SPECIES || d->rule == AV_DETECT_RULE_NONE))
        return d->species[0].scientific;
    return d->rule == AV_DETECT_RULE_GENUS ? d->label : NULL;
}

/* The species' colour, as the timeline and the visits table show it. */
static av_vision_color shown_color(const av_detect_det *d, int i)
{
    (void)i;
    return av_vision_species_color(shown_species(d));
}

/* Scale, draw the frame's boxes, encode (av_video_stills_draw). -1 when out
 * of memory, 1 when the encoder failed. */
static int draw_frame(const av_video_stills *s, const av_image *img,
                      const av_video_frame_view *v, unsigned char **out, size_t *out_len)
{
    char e[256];
    av_image *work = NULL;
    double k = 1.0;
    int side = img->width > img->height ? img->width : img->height;
    if (side > s->o.poster_side) {
        k = (double)s->o.poster_side / side;
        int w = (int)(img->width * k + 0.5), h = (int)(img->height * k + 0.5);
        if (av_vision_resize_pil(img, w < 1 ? 1 : w, h < 1 ? 1 : h, &work, e, sizeof e) !=
            AV_VISION_OK)
            return -1;
        k = (double)work->width / img->width;
    } else {
        work = av_img_clone(img);
        if (!work)
            return -1;
    }
    if (av_detect_draw(work, v->dets, v->n_dets, k, shown_color, s->font, e, sizeof e)) {
        av_img_free(work);
        return -1; /* only out of memory: the view was checked */
    }
    av_vision_status st = av_vision_encode_jpeg(work, s->o.quality, out, out_len, e, sizeof e);
    av_img_free(work);
    if (st != AV_VISION_OK)
        return st == AV_VISION_E_NOMEM ? -1 : 1;
    return 0;
}

int av_video_stills_draw(const av_video_stills *s, const av_video_frame_view *v,
                         unsigned char **jpg, size_t *len)
{
    *jpg = NULL;
    *len = 0;
    if (!s || !v || !v->rgb || v->width < 1 || v->height < 1 || v->n_dets < 0)
        return 1;
    /* The view's pixels are only read: the cast lends them to the const APIs. */
    av_image img = {.width = v->width, .height = v->height, .data = (uint8_t *)v->rgb};
    return draw_frame(s, &img, v, jpg, len);
}

/* The new poster. -1 when out of memory. */
static int make_poster(av_video_stills *s, const av_image *img, const av_video_frame_view *v)
{
    unsigned char *jpg = NULL;
    size_t len = 0;
    int rc = draw_frame(s, img, v, &jpg, &len);
    if (rc)
        return rc < 0 ? -1 : 0;
    free(s->poster);
    s->poster = jpg;
    s->poster_len = len;
    return 0;
}

int av_video_stills_hook(void *ud, const av_video_frame_view *v)
{
    av_video_stills *s = ud;
    if (!s || !v || !v->rgb || v->width < 1 || v->height < 1)
        return 0;
    /* The view's pixels are only read: the cast lends them to the const APIs. */
    av_image img = {.width = v->width, .height = v->height, .data = (uint8_t *)v->rgb};
    double sum = 0;
    for (int i = 0; i < v->n_dets; i++) {
        sum += v->dets[i].confidence;
        if (offer_crop(s, &img, &v->dets[i], v->track_ids[i], v->frame))
            return -1;
    }
    if (v->n_dets > s->poster_n || (v->n_dets == s->poster_n && sum > s->poster_sum + 1e-6)) {
        if (make_poster(s, &img, v))
            return -1;
        s->poster_n = v->n_dets;
        s->poster_sum = sum;
    }
    return 0;
}

const unsigned char *av_video_stills_poster(const av_video_stills *s, size_t *len)
{
    *len = s && s->poster ? s->poster_len : 0;
    return s ? s->poster : NULL;
}

const unsigned char *av_video_stills_thumb(const av_video_stills *s, const av_video_track *t,
                                           size_t *len)
{
    *len = 0;
    if (!s || !t)
        return NULL;
    const cand *best = NULL;
    for (int i = 0; i < s->n; i++) {
        const cand *c = &s->c[i];
        if (c->track != t->id)
            continue;
        if (c->cls == t->class_index) { /* the visit's species: its best detection */
            best = c;
            break;
        }
        if (!best || c->conf > best->conf)
            best = c;
    }
    if (!best)
        return NULL;
    *len = best->len;
    return best->jpg;
}
