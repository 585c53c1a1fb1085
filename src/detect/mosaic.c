/*
 * mosaic.c - zoom-out canvases: one shrunk copy, or copies of several
 * scales on one detector canvas with their boxes mapped back (see passes.h):
 * one detector run instead of one per scale.
 */
#include "detect/passes.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int av_detect__mosaic_geom(int w, int h, int in_w, int in_h, int stretch, const double *scales,
                           int n, double gap, av_detect__mosaic *m)
{
    memset(m, 0, sizeof *m);
    if (n > AV_DETECT__ZOOM_MAX)
        n = AV_DETECT__ZOOM_MAX;
    for (int i = 0; i < n; i++)
        av_detect__zoom_geom(w, h, in_w, in_h, stretch, scales[i], &m->z[i]);
    m->cw = m->z[0].cw;
    m->ch = m->z[0].ch;
    int along_x = m->cw >= m->ch, side = along_x ? m->cw : m->ch;
    int g = (int)ceil(fmax(0, gap) * side), used = 0, k = 0;
    for (; k < n; k++) { /* copies from the first while they fit with a gap each and one more */
        int len = along_x ? m->z[k].sw : m->z[k].sh;
        if (k > 0 && used + len + (k + 2) * g > side)
            break;
        used += len;
    }
    if (k == 1) /* alone: centred, as the plain zoom-out canvas */
        return m->n = 1;
    int at = 0, rest = side - used; /* spread what is left evenly over the k + 1 gaps */
    for (int i = 0; i < k; i++) {
        av_detect__zoom *z = &m->z[i];
        int lead = rest * (i + 1) / (k + 1) - rest * i / (k + 1);
        at += lead;
        if (along_x) {
            z->ox = at;
            z->oy = (m->ch - z->sh) / 2;
            at += z->sw;
        } else {
            z->oy = at;
            z->ox = (m->cw - z->sw) / 2;
            at += z->sh;
        }
    }
    return m->n = k;
}

static atomic_int g_plain = -1; /* -1: not read from the environment yet */

void av_detect__canvas_plain(int on)
{
    atomic_store(&g_plain, on ? 1 : 0);
}

int av_detect__canvas_is_plain(void)
{
    int v = atomic_load(&g_plain);
    if (v < 0) {
        const char *e = getenv("AV_DETECT_CANVAS_PLAIN");
        v = e && *e == '1';
        atomic_store(&g_plain, v);
    }
    return v;
}

/* The mean colour of n RGB pixels, rounded: the sums are integers either
 * way, so summing in uint64 gives the doubles' sums exactly (< 2^53). */
static void mean_rgb(const uint8_t *px, size_t n, uint8_t mean[3])
{
    double sum[3] = {0, 0, 0};
    if (av_detect__canvas_is_plain()) {
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 3; c++)
                sum[c] += px[i * 3 + c];
    } else {
        uint64_t s0 = 0, s1 = 0, s2 = 0;
        for (size_t i = 0; i < n; i++, px += 3)
            s0 += px[0], s1 += px[1], s2 += px[2];
        sum[0] = (double)s0, sum[1] = (double)s1, sum[2] = (double)s2;
    }
    for (int c = 0; c < 3; c++)
        mean[c] = (uint8_t)(sum[c] / (double)n + 0.5);
}

void av_detect__canvas_compose(uint8_t *canvas, int cw, int ch, const av_detect__zoom *z, int n,
                               uint8_t *const *copy)
{
    uint8_t mean[3];
    mean_rgb(copy[0], (size_t)z[0].sw * (size_t)z[0].sh, mean);
    size_t rb = (size_t)cw * 3;
    if (av_detect__canvas_is_plain()) {
        for (size_t i = 0; i < (size_t)cw * ch; i++)
            memcpy(canvas + i * 3, mean, 3);
    } else if (ch > 0) { /* one row of the colour, then copied down */
        for (int x = 0; x < cw; x++)
            memcpy(canvas + (size_t)x * 3, mean, 3);
        for (int y = 1; y < ch; y++)
            memcpy(canvas + (size_t)y * rb, canvas, rb);
    }
    for (int i = 0; i < n; i++)
        for (int y = 0; y < z[i].sh; y++)
            memcpy(canvas + (size_t)(y + z[i].oy) * rb + (size_t)z[i].ox * 3,
                   copy[i] + (size_t)y * z[i].sw * 3, (size_t)z[i].sw * 3);
}

int av_detect__zoom_canvas(const av_detect__img *img, const av_detect__zoom *z, uint8_t **out,
                           uint8_t **shrunk)
{
    return av_detect__zoom_canvas_on(img, z, NULL, out, shrunk);
}

int av_detect__zoom_canvas_on(const av_detect__img *img, const av_detect__zoom *z,
                              av_nn_pool *pool, uint8_t **out, uint8_t **shrunk)
{
    *out = NULL;
    if (shrunk)
        *shrunk = NULL;
    if (av_detect__canvas_is_plain())
        pool = NULL;
    uint8_t *canvas = malloc((size_t)z->cw * z->ch * 3);
    uint8_t *small = malloc((size_t)z->sw * z->sh * 3);
    if (!canvas || !small ||
        av_detect__img_crop_area_on(img, 0, 0, img->w, img->h, z->sw, z->sh, small, pool)) {
        free(canvas);
        free(small);
        return -1;
    }
    av_detect__canvas_compose(canvas, z->cw, z->ch, z, 1, &small);
    if (shrunk)
        *shrunk = small;
    else
        free(small);
    *out = canvas;
    return 0;
}

int av_detect__mosaic_canvas(const av_detect__img *img, const av_detect__mosaic *m, uint8_t **out)
{
    return av_detect__mosaic_canvas_on(img, m, NULL, out);
}

int av_detect__mosaic_canvas_on(const av_detect__img *img, const av_detect__mosaic *m,
                                av_nn_pool *pool, uint8_t **out)
{
    *out = NULL;
    if (av_detect__canvas_is_plain())
        pool = NULL;
    uint8_t *canvas = malloc((size_t)m->cw * m->ch * 3);
    uint8_t *copy[AV_DETECT__ZOOM_MAX] = {NULL};
    int bad = !canvas;
    for (int i = 0; i < m->n && !bad; i++) {
        const av_detect__zoom *z = &m->z[i];
        av_detect__img src = *img;
        for (int j = i - 1; j >= 0; j--) /* the smallest earlier copy still larger */
            if (m->z[j].sw >= z->sw && m->z[j].sh >= z->sh) {
                src = av_detect__img_wrap(m->z[j].sw, m->z[j].sh, copy[j]);
                break;
            }
        copy[i] = malloc((size_t)z->sw * z->sh * 3);
        bad = !copy[i] || av_detect__img_crop_area_on(&src, 0, 0, src.w, src.h, z->sw, z->sh,
                                                      copy[i], pool) != 0;
    }
    if (!bad)
        av_detect__canvas_compose(canvas, m->cw, m->ch, m->z, m->n, copy);
    for (int i = 0; i < m->n; i++)
        free(copy[i]);
    if (bad) {
        free(canvas);
        return -1;
    }
    *out = canvas;
    return 0;
}

/* The copy of m whose rectangle holds point (x, y), or -1. */
static int copy_at(const av_detect__mosaic *m, double x, double y)
{
    for (int i = 0; i < m->n; i++) {
        const av_detect__zoom *z = &m->z[i];
        if (x >= z->ox && x < z->ox + z->sw && y >= z->oy && y < z->oy + z->sh)
            return i;
    }
    return -1;
}

int av_detect__mosaic_boxes(av_detect__box *b, int n, int cls, const av_detect__mosaic *m,
                            int *copy)
{
    int first = m->n; /* the first copy holding a class-cls box */
    for (int i = 0; i < n; i++) {
        int c = copy_at(m, (b[i].x1 + b[i].x2) / 2, (b[i].y1 + b[i].y2) / 2);
        if (b[i].cls == cls && c >= 0 && c < first)
            first = c;
    }
    *copy = first < m->n ? first : -1;
    if (first == m->n)
        first = 0; /* no bird: the other classes of the largest copy */
    const av_detect__zoom *z = &m->z[first];
    int kept = 0;
    for (int i = 0; i < n; i++) {
        av_detect__box c = b[i];
        if (copy_at(m, (c.x1 + c.x2) / 2, (c.y1 + c.y2) / 2) != first)
            continue;
        c.x1 = fmax(c.x1, z->ox), c.y1 = fmax(c.y1, z->oy);
        c.x2 = fmin(c.x2, z->ox + z->sw), c.y2 = fmin(c.y2, z->oy + z->sh);
        c.x1 = (c.x1 - z->ox) * z->sx, c.x2 = (c.x2 - z->ox) * z->sx;
        c.y1 = (c.y1 - z->oy) * z->sy, c.y2 = (c.y2 - z->oy) * z->sy;
        b[kept++] = c;
    }
    return kept;
}
