/*
 * mosaic.c - zoom-out copies of several scales on one detector canvas, and
 * their boxes mapped back (see passes.h): one detector run instead of one
 * per scale.
 */
#include "detect/passes.h"

#include <math.h>
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

int av_detect__mosaic_canvas(const av_detect__img *img, const av_detect__mosaic *m, uint8_t **out)
{
    *out = NULL;
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
        bad = !copy[i] ||
              av_detect__img_crop_area(&src, 0, 0, src.w, src.h, z->sw, z->sh, copy[i]) != 0;
    }
    if (!bad) {
        const av_detect__zoom *z = &m->z[0];
        double sum[3] = {0, 0, 0};
        size_t np = (size_t)z->sw * z->sh;
        for (size_t i = 0; i < np; i++)
            for (int c = 0; c < 3; c++)
                sum[c] += copy[0][i * 3 + c];
        uint8_t mean[3];
        for (int c = 0; c < 3; c++)
            mean[c] = (uint8_t)(sum[c] / (double)np + 0.5);
        for (size_t i = 0; i < (size_t)m->cw * m->ch; i++)
            memcpy(canvas + i * 3, mean, 3);
        for (int i = 0; i < m->n; i++) {
            z = &m->z[i];
            for (int y = 0; y < z->sh; y++)
                memcpy(canvas + ((size_t)(y + z->oy) * m->cw + z->ox) * 3,
                       copy[i] + (size_t)y * z->sw * 3, (size_t)z->sw * 3);
        }
    }
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
