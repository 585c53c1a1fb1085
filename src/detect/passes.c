/*
 * passes.c - settings, geometry and box arithmetic of the detector passes
 * (zoom-out, tiles, nested suppression); see passes.h. The detector runs
 * themselves are pipeline.c's.
 */
#include "detect/passes.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const pass_names[AV_DETECT_PASS_N] = {"zoom_out", "tiles", "nested"};

const char *av_detect_pass_name(int pass)
{
    return pass >= 0 && pass < AV_DETECT_PASS_N ? pass_names[pass] : "unknown";
}

int av_detect_pass_find(const char *name)
{
    for (int i = 0; i < AV_DETECT_PASS_N; i++)
        if (!strcmp(name, pass_names[i]))
            return i;
    return -1;
}

int av_detect_passes_parse(const char *list, unsigned *out, char *err, size_t errlen)
{
    unsigned bits = AV_DETECT_PASSES_SET;
    if (strcmp(list, "none") != 0) {
        const char *s = list;
        for (;;) {
            size_t n = strcspn(s, ",");
            char name[32];
            int pass = -1;
            if (n < sizeof name) {
                memcpy(name, s, n);
                name[n] = '\0';
                pass = av_detect_pass_find(name);
            }
            if (pass < 0) {
                snprintf(err, errlen, "unknown pass '%.*s' (zoom_out, tiles, nested, or none)",
                         (int)(n < 40 ? n : 40), s);
                return -1;
            }
            bits |= 1u << pass;
            if (!s[n])
                break;
            s += n + 1;
        }
    }
    *out = bits;
    return 0;
}

void av_detect__passes_default(av_detect__passes *c)
{
    /* the measured choice of models/pipeline.json (README "Detection passes") */
    memset(c, 0, sizeof *c);
    c->on[AV_DETECT_PASS_ZOOM] = 1;
    c->on[AV_DETECT_PASS_NESTED] = 1;
    c->zoom_scales[0] = 0.5;
    c->zoom_scales[1] = 0.3;
    c->n_zoom_scales = 2;
    c->zoom_min_score = 0.42;
    c->zoom_fill = 1.0;
    c->zoom_mosaic = 1;
    c->zoom_recheck = 0.07;
    c->tiles_min_side = 1400;
    c->tiles_grid = 2;
    c->tiles_overlap = 0.25;
    c->tiles_covered = 0.5;
    c->tiles_min_score = 0.36;
    c->tiles_seen = 0.3;
    c->nested_inside = 0.5;
}

/* One numeric setting of a pass object: absent keeps *v; present must be a
 * number in [lo, hi]. */
static int num_in(const json_t *o, const char *key, double lo, double hi, double *v,
                  const char *path, const char *pass, char *err, size_t errlen)
{
    const json_t *j = json_object_get(o, key);
    if (!j)
        return 0;
    double x = json_is_number(j) ? json_number_value(j) : NAN;
    if (!(x >= lo && x <= hi)) {
        snprintf(err, errlen, "%s: passes.%s.%s must be a number in [%g, %g]", path, pass, key,
                 lo, hi);
        return -1;
    }
    *v = x;
    return 0;
}

/* passes.zoom_out.scales: 1..AV_DETECT__ZOOM_MAX numbers in [0.2, 0.95]. */
static int zoom_scales(const json_t *o, const char *path, av_detect__passes *c, char *err,
                       size_t errlen)
{
    const json_t *a = json_object_get(o, "scales");
    if (!a)
        return 0;
    size_t n = json_is_array(a) ? json_array_size(a) : 0;
    int bad = n < 1 || n > AV_DETECT__ZOOM_MAX;
    for (size_t i = 0; !bad && i < n; i++) {
        const json_t *v = json_array_get(a, i);
        double x = json_is_number(v) ? json_number_value(v) : NAN;
        bad = !(x >= 0.2 && x <= 0.95);
        c->zoom_scales[i] = x;
    }
    if (bad) {
        snprintf(err, errlen, "%s: passes.zoom_out.scales must be 1 to %d numbers in [0.2, 0.95]",
                 path, AV_DETECT__ZOOM_MAX);
        return -1;
    }
    c->n_zoom_scales = (int)n;
    return 0;
}

/* The settings a pass object may hold (besides "on"). */
static const char *const pass_keys[AV_DETECT_PASS_N][7] = {
    {"scales", "min_score", "fill", "mosaic", "recheck", NULL},
    {"min_side", "grid", "overlap", "covered", "min_score", "seen"},
    {"inside", NULL, NULL, NULL},
};

static int known_key(int pass, const char *key)
{
    if (!strcmp(key, "on") || !strcmp(key, "comment"))
        return 1;
    for (int i = 0; pass_keys[pass][i]; i++)
        if (!strcmp(key, pass_keys[pass][i]))
            return 1;
    return 0;
}

int av_detect__passes_parse(const json_t *obj, const char *path, av_detect__passes *c, char *err,
                            size_t errlen)
{
    av_detect__passes_default(c);
    if (!obj)
        return 0;
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "%s: \"passes\" must be an object", path);
        return -1;
    }
    const char *name;
    const json_t *o;
    json_object_foreach((json_t *)obj, name, o) {
        if (!strcmp(name, "comment"))
            continue;
        int pass = av_detect_pass_find(name);
        if (pass < 0 || !json_is_object(o)) {
            snprintf(err, errlen,
                     "%s: passes.%.40s: unknown pass (zoom_out, tiles, nested; each an object)",
                     path, name);
            return -1;
        }
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)o, key, v) {
            if (!known_key(pass, key)) {
                snprintf(err, errlen, "%s: passes.%s.%.40s: unknown setting", path, name, key);
                return -1;
            }
        }
        const json_t *on = json_object_get(o, "on");
        if (on && !json_is_boolean(on)) {
            snprintf(err, errlen, "%s: passes.%s.on must be true or false", path, name);
            return -1;
        }
        if (on)
            c->on[pass] = json_is_true(on);
        const json_t *mo = pass == AV_DETECT_PASS_ZOOM ? json_object_get(o, "mosaic") : NULL;
        if (mo && !json_is_boolean(mo)) {
            snprintf(err, errlen, "%s: passes.%s.mosaic must be true or false", path, name);
            return -1;
        }
        if (mo)
            c->zoom_mosaic = json_is_true(mo);
        double side = c->tiles_min_side, grid = c->tiles_grid;
        int bad = 0;
        if (pass == AV_DETECT_PASS_ZOOM)
            bad = zoom_scales(o, path, c, err, errlen) ||
                  num_in(o, "min_score", 0, 1, &c->zoom_min_score, path, name, err, errlen) ||
                  num_in(o, "fill", 0, 1, &c->zoom_fill, path, name, err, errlen) ||
                  num_in(o, "recheck", 0, 1, &c->zoom_recheck, path, name, err, errlen);
        else if (pass == AV_DETECT_PASS_TILES)
            bad = num_in(o, "min_side", 0, 100000, &side, path, name, err, errlen) ||
                  num_in(o, "grid", 1, 4, &grid, path, name, err, errlen) ||
                  num_in(o, "overlap", 0, 0.5, &c->tiles_overlap, path, name, err, errlen) ||
                  num_in(o, "covered", 0, 1, &c->tiles_covered, path, name, err, errlen) ||
                  num_in(o, "min_score", 0, 1, &c->tiles_min_score, path, name, err, errlen) ||
                  num_in(o, "seen", 0, 1, &c->tiles_seen, path, name, err, errlen);
        else
            bad = num_in(o, "inside", 0.3, 1, &c->nested_inside, path, name, err, errlen);
        if (bad)
            return -1;
        c->tiles_min_side = (int)side;
        c->tiles_grid = (int)grid;
    }
    return 0;
}

static double area(const av_detect__box *a)
{
    double w = a->x2 - a->x1, h = a->y2 - a->y1;
    return w > 0 && h > 0 ? w * h : 0;
}

static double inter(const av_detect__box *a, const av_detect__box *b)
{
    double w = fmin(a->x2, b->x2) - fmax(a->x1, b->x1);
    double h = fmin(a->y2, b->y2) - fmax(a->y1, b->y1);
    return w > 0 && h > 0 ? w * h : 0;
}

double av_detect__inside(const av_detect__box *a, const av_detect__box *b)
{
    double aa = area(a);
    return aa > 0 ? inter(a, b) / aa : 0;
}

double av_detect__iou(const av_detect__box *a, const av_detect__box *b)
{
    double aa = area(a), ab = area(b);
    if (aa <= 0 || ab <= 0)
        return 0;
    double i = inter(a, b);
    return i / (aa + ab - i);
}

int av_detect__suppress_nested(av_detect__box *b, int n, double inside)
{
    int kept = 0;
    for (int i = 0; i < n; i++) {
        int drop = 0;
        for (int k = 0; k < kept && !drop; k++)
            drop = b[k].cls == b[i].cls && b[k].score >= b[i].score &&
                   av_detect__inside(&b[i], &b[k]) >= inside;
        if (!drop)
            b[kept++] = b[i];
    }
    return kept;
}

static int by_score(const void *pa, const void *pb)
{
    const av_detect__box *a = pa, *b = pb;
    return (a->score < b->score) - (a->score > b->score);
}

int av_detect__merge(av_detect__box *b, int n, int cap, const av_detect__box *add, int m,
                     double iou)
{
    for (int j = 0; j < m; j++) {
        int beaten = 0;
        for (int i = 0; i < n && !beaten; i++)
            beaten = b[i].cls == add[j].cls && b[i].score >= add[j].score &&
                     av_detect__iou(&b[i], &add[j]) >= iou;
        if (beaten)
            continue;
        int k = 0; /* drop what the new box beats */
        for (int i = 0; i < n; i++)
            if (!(b[i].cls == add[j].cls && av_detect__iou(&b[i], &add[j]) >= iou))
                b[k++] = b[i];
        n = k;
        if (n < cap) {
            b[n++] = add[j];
        } else if (n > 0) { /* full: replace the worst when the new box is better */
            int worst = 0;
            for (int i = 1; i < n; i++)
                if (b[i].score < b[worst].score)
                    worst = i;
            if (b[worst].score < add[j].score)
                b[worst] = add[j];
        }
    }
    qsort(b, (size_t)n, sizeof *b, by_score);
    return n;
}

void av_detect__map_boxes(av_detect__box *b, int n, double sx, double sy, double dx, double dy)
{
    for (int i = 0; i < n; i++) {
        b[i].x1 = b[i].x1 * sx + dx;
        b[i].x2 = b[i].x2 * sx + dx;
        b[i].y1 = b[i].y1 * sy + dy;
        b[i].y2 = b[i].y2 * sy + dy;
    }
}

void av_detect__zoom_geom(int w, int h, int in_w, int in_h, int stretch, double scale,
                          av_detect__zoom *z)
{
    if (stretch) {
        z->cw = in_w;
        z->ch = in_h;
    } else { /* letterbox: the canvas keeps the image's aspect, fitted to the input */
        double s = fmin((double)in_w / w, (double)in_h / h);
        z->cw = (int)fmax(1, round(w * s));
        z->ch = (int)fmax(1, round(h * s));
    }
    z->sw = (int)fmax(1, round(z->cw * scale));
    z->sh = (int)fmax(1, round(z->ch * scale));
    z->ox = (z->cw - z->sw) / 2;
    z->oy = (z->ch - z->sh) / 2;
    z->sx = (double)w / z->sw;
    z->sy = (double)h / z->sh;
}

void av_detect__tile_copy(const av_detect__img *img, const av_detect__rect *t, uint8_t *buf)
{
    for (int y = 0; y < t->h; y++)
        memcpy(buf + (size_t)y * t->w * 3, img->rgb + ((size_t)(t->y + y) * img->w + t->x) * 3,
               (size_t)t->w * 3);
}

int av_detect__zoom_wanted(const av_detect__box *b, int n, int cls, int w, int h, double fill)
{
    double img = (double)w * h;
    for (int i = 0; i < n; i++) {
        if (b[i].cls != cls)
            continue;
        av_detect__box c = b[i]; /* clamped: a box may reach past the image */
        c.x1 = fmax(0, c.x1), c.y1 = fmax(0, c.y1);
        c.x2 = fmin(w, c.x2), c.y2 = fmin(h, c.y2);
        if (area(&c) < fill * img)
            return 0;
    }
    return 1;
}

/* Start of tile i of n, each `t` long, covering [0, len). */
static int tile_start(int i, int n, int t, int len)
{
    if (n <= 1)
        return 0;
    return (int)round((double)i * (len - t) / (n - 1));
}

/* Tile length for n tiles overlapping by `overlap` of a tile over len px. */
static int tile_len(int len, int n, double overlap)
{
    /* n tiles of t with overlap o*t cover t * (n - (n - 1) * o) */
    return (int)fmin(len, ceil(len / (n - (n - 1) * overlap)));
}

int av_detect__tile_grid(int w, int h, int grid, double overlap, av_detect__rect *out)
{
    if (grid < 1)
        grid = 1;
    if (grid > 4)
        grid = 4;
    overlap = fmin(fmax(overlap, 0), 0.5);
    /* grid tiles along the longer side; along the shorter side the count
     * (1..grid) whose tiles are nearest to square, fewer on a tie: the
     * detector stretches each tile to its square input, and a 1024x1858
     * portrait needs 1x2 tiles, not 2x2 */
    int lw = w >= h, nl = grid, ns = 1;
    int tl = tile_len(lw ? w : h, nl, overlap);
    double best = INFINITY;
    for (int n = 1; n <= grid; n++) {
        double d = fabs(log((double)tl / tile_len(lw ? h : w, n, overlap)));
        if (d < best - 1e-9) {
            best = d;
            ns = n;
        }
    }
    int cols = lw ? nl : ns, rows = lw ? ns : nl;
    int tw = tile_len(w, cols, overlap), th = tile_len(h, rows, overlap);
    int k = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            out[k++] = (av_detect__rect){tile_start(c, cols, tw, w), tile_start(r, rows, th, h),
                                         tw, th};
    return k;
}

double av_detect__tile_covered(const av_detect__rect *t, const av_detect__box *b, int n, int cls)
{
    av_detect__box tb = {.x1 = t->x, .y1 = t->y, .x2 = t->x + t->w, .y2 = t->y + t->h};
    double ta = area(&tb), sum = 0;
    for (int i = 0; i < n; i++)
        if (b[i].cls == cls)
            sum += inter(&tb, &b[i]);
    /* overlapping boxes count twice: an upper bound, capped */
    return ta > 0 ? fmin(1, sum / ta) : 1;
}

int av_detect__tile_seen(const av_detect__rect *t, const av_detect__box *b, int n, int cls,
                         double sx, double sy, double min_px)
{
    for (int i = 0; i < n; i++) {
        double cx = (b[i].x1 + b[i].x2) / 2, cy = (b[i].y1 + b[i].y2) / 2;
        if (b[i].cls != cls || cx < t->x || cx >= t->x + t->w || cy < t->y || cy >= t->y + t->h)
            continue;
        if (fmin((b[i].x2 - b[i].x1) * sx, (b[i].y2 - b[i].y1) * sy) >= min_px)
            return 1;
    }
    return 0;
}

int av_detect__drop_inside(av_detect__box *add, int m, const av_detect__box *b, int n,
                           double inside)
{
    int kept = 0;
    for (int j = 0; j < m; j++) {
        int drop = 0;
        for (int i = 0; i < n && !drop; i++)
            drop = b[i].cls == add[j].cls && av_detect__inside(&add[j], &b[i]) >= inside;
        if (!drop)
            add[kept++] = add[j];
    }
    return kept;
}

int av_detect__drop_cut(av_detect__box *b, int n, const av_detect__rect *t, int img_w, int img_h,
                        double margin)
{
    int kept = 0;
    for (int i = 0; i < n; i++) {
        int cut = (t->x > 0 && b[i].x1 <= t->x + margin) ||
                  (t->y > 0 && b[i].y1 <= t->y + margin) ||
                  (t->x + t->w < img_w && b[i].x2 >= t->x + t->w - margin) ||
                  (t->y + t->h < img_h && b[i].y2 >= t->y + t->h - margin);
        if (!cut)
            b[kept++] = b[i];
    }
    return kept;
}
