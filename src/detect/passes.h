/*
 * passes.h - the detector passes beyond the one whole-image run (internal to
 * src/detect): their settings (the "passes" object of models/pipeline.json)
 * and the geometry and box arithmetic they need. Running the detector stays
 * in pipeline.c; everything here is pure and tested on its own
 * (tests/t_detect_passes.c).
 *
 *   zoom-out  the COCO detectors miss a bird that fills the frame; a copy
 *             shrunk to `scale` of the input and centred on a padded canvas
 *             is found. Runs only when the first run found no bird box, or
 *             only boxes covering at least `fill` of the image; each of
 *             `scales` in turn until one finds a bird (with `mosaic`, the
 *             scales that fit share one canvas and one detector run).
 *   tiles     `grid` overlapping tiles along the frame's longer side (and
 *             as many along the shorter as keep them nearest to square) on
 *             frames whose longer side is at least `min_side` px: small
 *             birds and flocks that the detector's small input loses. A
 *             tile `covered` or more by bird boxes already found is
 *             skipped, and so is one holding a bird the first run saw
 *             `seen` large; a tile box needs `min_score`, and one lying `inside`
 *             (nested's) within a found bird box is a part of that bird:
 *             dropped.
 *   nested    a box whose area lies `inside` or more within a better-scored
 *             box of the same class is the same bird twice: dropped.
 */
#ifndef AV_DETECT_PASSES_H
#define AV_DETECT_PASSES_H

#include <jansson.h>

#include "detect/decode.h"
#include "detect/img.h"

#define AV_DETECT__ZOOM_MAX 4
#define AV_DETECT__MOSAIC_GAP 0.05 /* least gap around a mosaic's copies, of the canvas side */

typedef struct av_detect__passes {
    int on[AV_DETECT_PASS_N];   /* which passes run by default */
    double zoom_scales[AV_DETECT__ZOOM_MAX]; /* image side on the canvas, fraction of it
                                              * (0.2..0.95), tried in turn */
    int n_zoom_scales;
    double zoom_min_score;      /* detector threshold for zoom-out boxes (the run's when higher) */
    double zoom_fill;           /* a box covering this much of the image counts as frame-filling */
    int zoom_mosaic;            /* 1: the scales share detector canvases (av_detect__mosaic_geom);
                                 * 0: one run per scale */
    double zoom_recheck;        /* when zoom-out found no bird either: the best box of another
                                 * class is a bird when ImageNet's bird classes on its crop sum
                                 * to this (0: off; needs models/imagenet.json) */
    int tiles_min_side;         /* px: tiles only on frames at least this long */
    int tiles_grid;             /* tiles per side (2..4) */
    double tiles_overlap;       /* overlap of neighbouring tiles, fraction of a tile (0..0.5) */
    double tiles_covered;       /* skip a tile this much covered by found bird boxes (0..1) */
    double tiles_min_score;     /* detector threshold for tile boxes (the run's when higher) */
    double tiles_seen;          /* skip a tile holding a bird the first run saw this large: its
                                 * shorter side, fraction of the input's shorter side (0: off) */
    double nested_inside;       /* fraction of a box's area inside a better one (0.3..1) */
} av_detect__passes;

/* The defaults (no "passes" object): those of the shipped pipeline.json
 * (zoom-out at 0.5 then 0.3 on one mosaic canvas, boxes from 0.42, only
 * when no bird box, then the recheck of the best other box at 0.07;
 * nested at 0.5; tiles off: 2 along the longer side from
 * 1400 px, a quarter overlap, skipped when half covered or holding a bird
 * seen at 0.3 of the input side, boxes from 0.36). */
void av_detect__passes_default(av_detect__passes *c);

/*
 * Read the "passes" object of pipeline.json (obj may be NULL: defaults) into
 * c. Unknown keys and out-of-range values are refused, naming the key, with
 * `path` in the message. 0, or -1 with err set.
 */
int av_detect__passes_parse(const json_t *obj, const char *path, av_detect__passes *c, char *err,
                            size_t errlen);

/* Fraction of a's area inside b (0 when a has no area). */
double av_detect__inside(const av_detect__box *a, const av_detect__box *b);

/* IoU of two corner boxes (0 when either has no area). */
double av_detect__iou(const av_detect__box *a, const av_detect__box *b);

/*
 * Nested suppression over b[0..n), best score first: drop a box when at
 * least `inside` of its area lies within a kept, better-scored box of the
 * same class. Order of the kept boxes is kept. Returns the new count.
 */
int av_detect__suppress_nested(av_detect__box *b, int n, double inside);

/*
 * Merge add[0..m) into b[0..n) (room for cap): an added box is dropped when
 * it overlaps a box of the same class at IoU >= iou; when it scores higher
 * than the boxes it overlaps, it replaces them. The result is sorted best
 * first. Returns the new count (<= cap).
 */
int av_detect__merge(av_detect__box *b, int n, int cap, const av_detect__box *add, int m,
                     double iou);

/* Map boxes from a pass's frame to image pixels: x = x * sx + dx,
 * y = y * sy + dy. */
void av_detect__map_boxes(av_detect__box *b, int n, double sx, double sy, double dx, double dy);

/*
 * Zoom-out canvas for a w x h image and a detector input of in_w x in_h:
 * the canvas is cw x ch (the input size when `stretch`, else the image
 * scaled to fit the input), the image is shrunk to sw x sh (`scale` of the
 * canvas per side) and placed at (ox, oy). A canvas box maps back to image
 * pixels with sx = w / sw, sy = h / sh, dx = -ox * sx, dy = -oy * sy.
 */
typedef struct av_detect__zoom {
    int cw, ch, sw, sh, ox, oy;
    double sx, sy; /* image pixels per shrunk pixel, per axis */
} av_detect__zoom;

void av_detect__zoom_geom(int w, int h, int in_w, int in_h, int stretch, double scale,
                          av_detect__zoom *z);

/*
 * The zoom-out canvas of img for z: img area-resized to sw x sh and placed
 * at (ox, oy) on cw x ch pixels of its mean colour (a border that adds no
 * edges of its own). On success *out (cw * ch * 3 bytes, RGB8) is malloc'd
 * and owned by the caller (free()), and so is *shrunk when not NULL: the
 * sw x sh copy, from which a smaller scale is cheaper to make than from the
 * whole image (img may be such a copy: z keeps the original's geometry).
 * 0, or -1 when out of memory.
 */
int av_detect__zoom_canvas(const av_detect__img *img, const av_detect__zoom *z, uint8_t **out,
                           uint8_t **shrunk);
/* The same with the shrink's rows on pool's threads (NULL: this one). */
int av_detect__zoom_canvas_on(const av_detect__img *img, const av_detect__zoom *z,
                              av_nn_pool *pool, uint8_t **out, uint8_t **shrunk);

/* Whether the boxes call for a zoom-out: none of class cls, or every one
 * covers at least `fill` of the w x h image. */
int av_detect__zoom_wanted(const av_detect__box *b, int n, int cls, int w, int h, double fill);

/* One tile: pixels [x, x + w) x [y, y + h) of the image. */
typedef struct av_detect__rect {
    int x, y, w, h;
} av_detect__rect;

#define AV_DETECT__TILES_MAX 16

/*
 * The tiles of a w x h image: grid (clamped to 1..4) tiles along the longer
 * side, and along the shorter side the count (1..grid) that makes the tiles
 * nearest to square (fewer on a tie), each neighbour overlapping by
 * `overlap` of a tile, covering the image exactly (the last tile of a row
 * ends at the image edge). Row-major; writes up to AV_DETECT__TILES_MAX
 * rects into out, returns the count.
 */
int av_detect__tile_grid(int w, int h, int grid, double overlap, av_detect__rect *out);

/* Fraction of tile t covered by the class-cls boxes of b[0..n) (the sum of
 * their overlaps with it, capped at 1; 1 for an empty tile). */
double av_detect__tile_covered(const av_detect__rect *t, const av_detect__box *b, int n, int cls);

/*
 * Whether the first run saw tile t at enough resolution: it holds (centre
 * inside) a class-cls box of b[0..n) (image pixels) whose shorter side, in
 * the first run's input pixels (image pixels times sx, sy), is at least
 * min_px. Tiles add resolution (1.75x along the longer side for 2 tiles) to
 * find birds too small for the first run; where it already saw a bird that
 * large, the birds of that view are not too small for it.
 */
int av_detect__tile_seen(const av_detect__rect *t, const av_detect__box *b, int n, int cls,
                         double sx, double sy, double min_px);

/* Drop the boxes of add[0..m) with `inside` or more of their area within a
 * box of the same class in b[0..n) (a tile's view of part of a bird the
 * whole-image run found). Returns the new m. */
int av_detect__drop_inside(av_detect__box *add, int m, const av_detect__box *b, int n,
                           double inside);

/* Copy the pixels of tile t of img into buf (t->w * t->h * 3 bytes). */
void av_detect__tile_copy(const av_detect__img *img, const av_detect__rect *t, uint8_t *buf);

/*
 * Drop boxes of a tile (in image pixels) that touch an edge of the tile
 * lying inside the image (within `margin` px): a bird cut by the tile,
 * seen whole by a neighbour or by the whole-image run. Returns the new n.
 */
int av_detect__drop_cut(av_detect__box *b, int n, const av_detect__rect *tile, int img_w,
                        int img_h, double margin);

/*
 * Zoom-out mosaic: several zoom-out copies on one canvas, so that one
 * detector run looks at all of them (the copies of scales 0.5 and 0.3 fit
 * side by side in one input: 0.8 of its side). Copies go along the
 * canvas's longer side in the order of `scales`, centred across it, with
 * equal gaps of at least `gap` of that side between them and at the ends;
 * each copy is the whole image shrunk to its scale of the canvas (as
 * av_detect__zoom_geom). z[i] is copy i's geometry (cw, ch the canvas's).
 */
typedef struct av_detect__mosaic {
    int cw, ch;
    int n;                              /* copies on the canvas */
    av_detect__zoom z[AV_DETECT__ZOOM_MAX];
} av_detect__mosaic;

/*
 * Lay out scales[0..n) (n <= AV_DETECT__ZOOM_MAX) on one canvas: as many of
 * them, from the first, as fit with their gaps (at least one: a copy that
 * does not fit alone is the plain zoom-out canvas). Returns how many it
 * took (m->n); the caller lays out the rest on further canvases.
 */
int av_detect__mosaic_geom(int w, int h, int in_w, int in_h, int stretch, const double *scales,
                           int n, double gap, av_detect__mosaic *m);

/*
 * The mosaic canvas of img: each copy area-resized (the first from img,
 * each next one from the copy before it when that is larger, as a smaller
 * scale is cheaper to make from a shrunk copy) on cw x ch pixels of the
 * first copy's mean colour. *out (cw * ch * 3 bytes, RGB8) is malloc'd and
 * owned by the caller. 0, or -1 when out of memory.
 */
int av_detect__mosaic_canvas(const av_detect__img *img, const av_detect__mosaic *m,
                             uint8_t **out);
/* The same with each copy's rows on pool's threads (NULL: this one). */
int av_detect__mosaic_canvas_on(const av_detect__img *img, const av_detect__mosaic *m,
                                av_nn_pool *pool, uint8_t **out);

/*
 * The zoom-out canvas bytes (both canvases above): cw x ch pixels of the
 * mean colour of copy[0] (z[0].sw x z[0].sh), copy i (z[i].sw x z[i].sh)
 * laid at (z[i].ox, z[i].oy). The mean sums in integers and the fill goes a
 * row at a time; av_detect__canvas_plain(1) (or AV_DETECT_CANVAS_PLAIN=1)
 * makes the canvases as before, summing in doubles and filling pixel by
 * pixel on one thread (the same bytes: tests and benches compare).
 */
void av_detect__canvas_compose(uint8_t *canvas, int cw, int ch, const av_detect__zoom *z, int n,
                               uint8_t *const *copy);
void av_detect__canvas_plain(int on);
int av_detect__canvas_is_plain(void);

/*
 * The boxes of a mosaic run (canvas pixels, b[0..n)) as image pixels: a
 * box belongs to the copy holding its centre (none: padding, dropped), is
 * clipped to that copy and mapped back with its geometry; only the boxes
 * of the first copy that holds any of class cls are kept (a smaller copy
 * counts only when the larger ones found no bird, as when each scale ran
 * in turn). Returns the new n; *copy gets that copy's index (-1 when no
 * copy holds a class-cls box).
 */
int av_detect__mosaic_boxes(av_detect__box *b, int n, int cls, const av_detect__mosaic *m,
                            int *copy);

#endif
