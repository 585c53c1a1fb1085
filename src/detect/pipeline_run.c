/*
 * pipeline_run.c - one image through the pipeline: decode, detector run,
 * the extra detector passes (settings and box arithmetic in passes.c), the
 * boxes kept, species (pipeline_species.c), annotation.
 */
#include "detect/pipeline_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"

/* ---- one run ---- */

/* Resize img to the detector input and lay it out into dst (one sample of
 * input det_in); *map_w x *map_h is the image area the input spans. */
av_detect_status av_detect__det_prepare(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                        void *dst, double *map_w, double *map_h, char *err,
                                        size_t errlen)
{
    const av_detect__manifest *m = &p->det;
    *map_w = img->w, *map_h = img->h;
    int nw = m->in_w, nh = m->in_h;
    if (m->resize == AV_DETECT__LETTERBOX) {
        /* scale to fit, pad right/bottom with 0: the input then spans in/scale pixels */
        double sc = fmin((double)m->in_w / img->w, (double)m->in_h / img->h);
        nw = (int)fmax(1, fmin(m->in_w, round(img->w * sc)));
        nh = (int)fmax(1, fmin(m->in_h, round(img->h * sc)));
        *map_w = m->in_w / sc;
        *map_h = m->in_h / sc;
    }
    if (av_nn_input(p->det_model, p->det_in)->dtype == AV_NN_F32) {
        /* one pass from the pixels into the input, rows on the worker's threads */
        av_image v = {.width = img->w, .height = img->h, .data = (uint8_t *)img->rgb};
        av_vision_par par = av_detect__worker_par(w);
        if (av_detect__fill_input_tf(m, &v, nw, nh, &par, dst))
            return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "detect: resize failed");
        return AV_DETECT_OK;
    }
    /* quantised inputs: 0..255 floats first (fill_input quantises them) */
    if (av_detect__img_resize_tf(img, nw, nh, w->resized))
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "detect: resize failed");
    if (m->resize == AV_DETECT__LETTERBOX) {
        /* spread the nw x nh rows into in_w-wide rows, last row first (in place) */
        for (int y = nh - 1; y >= 0; y--) {
            memmove(w->resized + (size_t)y * m->in_w * 3, w->resized + (size_t)y * nw * 3,
                    (size_t)nw * 3 * sizeof(float));
            memset(w->resized + ((size_t)y * m->in_w + nw) * 3, 0,
                   (size_t)(m->in_w - nw) * 3 * sizeof(float));
        }
        memset(w->resized + (size_t)nh * m->in_w * 3, 0,
               (size_t)(m->in_h - nh) * m->in_w * 3 * sizeof(float));
    }
    av_detect__fill_input(m, av_nn_input(p->det_model, p->det_in), w->resized, NULL, dst);
    return AV_DETECT_OK;
}

/* Boxes of one image from its detector outputs t (one sample each, as the
 * model's outputs) into out (NMS_POOL); *nbox gets their count. */
av_detect_status av_detect__det_decode(av_detect_pipeline *p, const av_detect__tensor *t,
                                       double map_w, double map_h, double min_score,
                                       av_detect__box *out, int *nbox, char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->det;
    char e[512] = "";
    av_detect__dcfg cfg = {
        .min_score = min_score,
        .nms_iou = m->nms_iou,
        .max_out = NMS_POOL,
        .skip = m->skip,
        .n_skip = m->n_skip,
        .n_classes = m->n_labels,
        .in_w = m->in_w,
        .in_h = m->in_h,
        .map_w = map_w,
        .map_h = map_h,
        .box_scale = m->box_scale,
        .base_grid = m->base_grid,
    };
    int n = m->kind == AV_DETECT__CENTERNET
                ? av_detect__decode_centernet(&t[p->det_out], &cfg, out, e, sizeof e)
                : av_detect__decode_nanodet(t, av_nn_num_outputs(p->det_model), &cfg, out, e,
                                            sizeof e);
    if (n < 0)
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s", e);
    *nbox = n;
    return AV_DETECT_OK;
}

/* One batch-1 detector run on img; boxes (image pixels) into out. */
static av_detect_status run_detector(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                     double min_score, av_detect__box *out, int *nbox, char *err,
                                     size_t errlen)
{
    double map_w, map_h;
    /* det_in may be the context's own bytes (w->det_in_ctx), which a run
     * reuses: det_prepare writes all of it before every run, and nothing
     * reads it after (the decode reads the outputs) */
    av_detect_status st =
        av_detect__det_prepare(p, w, img, w->det_in[p->det_in], &map_w, &map_h, err, errlen);
    if (st)
        return st;
    char e[512] = "";
    if (av_nn_run(w->det_ctx, (const void *const *)w->det_in, w->det_out, e, sizeof e) != AV_NN_OK)
        return AV_BASE_FAIL(AV_DETECT_E_ENGINE, err, errlen, "%s: %s", p->det.name, e);
    return av_detect__det_decode(p, w->touts, map_w, map_h, min_score, out, nbox, err, errlen);
}

/* ---- detector passes (settings and box arithmetic in passes.c) ---- */

/* Keep the bird-class boxes of b[0..n); returns their count. */
static int only_class(av_detect__box *b, int n, int cls)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (b[i].cls == cls)
            b[k++] = b[i];
    return k;
}

/* Zoom-out at one scale: the image shrunk onto a padded canvas
 * (av_detect__zoom_canvas), one detector run; bird boxes mapped back and
 * merged into w->boxes. *found gets the bird boxes the run found. *prev
 * (sw x sh in *pz) is the previous scale's shrunk copy, NULL at first: a
 * smaller scale is resized from it rather than from the whole image; on
 * return it is this scale's. */
static av_detect_status pass_zoom(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                  double scale, double min_score, int *nbox, int *found,
                                  uint8_t **prev, av_detect__zoom *pz, av_detect_pass_info *pi,
                                  char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->det;
    av_detect__zoom z;
    av_detect__zoom_geom(img->w, img->h, m->in_w, m->in_h, m->resize != AV_DETECT__LETTERBOX,
                         scale, &z);
    av_detect__img src = *img;
    if (*prev && z.sw <= pz->sw && z.sh <= pz->sh)
        src = av_detect__img_wrap(pz->sw, pz->sh, *prev);
    uint8_t *canvas, *small;
    if (av_detect__zoom_canvas_on(&src, &z, w->pool, &canvas, &small))
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "zoom-out: out of memory");
    free(*prev);
    *prev = small;
    *pz = z;
    av_detect__img cimg = av_detect__img_wrap(z.cw, z.ch, canvas);
    double thr = fmax(p->passes.zoom_min_score, min_score); /* never below the run's */
    int n = 0;
    av_detect_status st = run_detector(p, w, &cimg, thr, w->xboxes, &n, err, errlen);
    free(canvas);
    if (st)
        return st;
    pi->runs++;
    n = only_class(w->xboxes, n, p->bird_class);
    *found = n;
    av_detect__map_boxes(w->xboxes, n, z.sx, z.sy, -z.ox * z.sx, -z.oy * z.sy);
    int before = *nbox;
    *nbox = av_detect__merge(w->boxes, *nbox, NMS_POOL, w->xboxes, n, m->nms_iou);
    pi->boxes += *nbox - before > 0 ? *nbox - before : 0;
    return AV_DETECT_OK;
}

/* Zoom-out as mosaics: scales[*first..] laid out on one canvas (as many as
 * fit, av_detect__mosaic_geom), one detector run; the bird boxes of the
 * first copy that found any are mapped back and merged into w->boxes.
 * *first moves past the scales this canvas held; *found gets the bird
 * boxes kept. */
static av_detect_status pass_zoom_mosaic(av_detect_pipeline *p, worker *w,
                                         const av_detect__img *img, int *first, double min_score,
                                         int *nbox, int *found, av_detect_pass_info *pi,
                                         char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->det;
    const av_detect__passes *c = &p->passes;
    av_detect__mosaic mo;
    *first += av_detect__mosaic_geom(img->w, img->h, m->in_w, m->in_h,
                                     m->resize != AV_DETECT__LETTERBOX, c->zoom_scales + *first,
                                     c->n_zoom_scales - *first, AV_DETECT__MOSAIC_GAP, &mo);
    uint8_t *canvas;
    if (av_detect__mosaic_canvas_on(img, &mo, w->pool, &canvas))
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "zoom-out: out of memory");
    av_detect__img cimg = av_detect__img_wrap(mo.cw, mo.ch, canvas);
    double thr = fmax(c->zoom_min_score, min_score); /* never below the run's */
    int n = 0, copy;
    av_detect_status st = run_detector(p, w, &cimg, thr, w->xboxes, &n, err, errlen);
    free(canvas);
    if (st)
        return st;
    pi->runs++;
    n = only_class(w->xboxes, n, p->bird_class);
    n = av_detect__mosaic_boxes(w->xboxes, n, p->bird_class, &mo, &copy);
    *found = n;
    int before = *nbox;
    *nbox = av_detect__merge(w->boxes, *nbox, NMS_POOL, w->xboxes, n, m->nms_iou);
    pi->boxes += *nbox - before > 0 ? *nbox - before : 0;
    return AV_DETECT_OK;
}

/* The recheck after a zoom-out that found no bird: the best-scored box of
 * another class (CenterNet calls a woodpecker filling the frame a dog) is
 * cropped with 0.15 of its longer side around it for the ImageNet second
 * opinion; when its bird classes sum to passes.zoom_out.recheck or more,
 * the box is kept in r->recheck_box, a bird's box if the whole-image rules
 * find no bird (species step). */
static av_detect_status recheck_best_box(av_detect_pipeline *p, worker *w,
                                         const av_detect__img *img, int nbox,
                                         av_detect_pass_info *pi, av_detect_result *r, char *err,
                                         size_t errlen)
{
    int best = -1;
    for (int i = 0; i < nbox; i++) {
        if (w->boxes[i].cls == p->bird_class)
            return AV_DETECT_OK; /* a bird box (frame-filling): nothing to recheck */
        if (best < 0 || w->boxes[i].score > w->boxes[best].score)
            best = i;
    }
    if (best < 0)
        return AV_DETECT_OK;
    av_detect__box *b = &w->boxes[best];
    double m = 0.15 * fmax(b->x2 - b->x1, b->y2 - b->y1);
    int x1 = (int)fmax(0, b->x1 - m), y1 = (int)fmax(0, b->y1 - m);
    int x2 = (int)fmin(img->w, b->x2 + m), y2 = (int)fmin(img->h, b->y2 + m);
    if (x2 - x1 < 2 || y2 - y1 < 2)
        return AV_DETECT_OK;
    int sw, sh;
    av_detect__second_input_size(p->second, &sw, &sh);
    uint8_t *px = malloc((size_t)sw * sh * 3);
    if (!px)
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "recheck: out of memory");
    av_detect__second_sums sums;
    char e[256] = "crop failed";
    int bad = av_detect__img_crop_area_on(img, x1, y1, x2, y2, sw, sh, px, w->pool) ||
              av_detect__second_run(p->second, w->second, px, &sums, e, sizeof e);
    free(px);
    if (bad)
        return AV_BASE_FAIL(AV_DETECT_E_ENGINE, err, errlen, "recheck: %s", e);
    if (sums.group[AV_DETECT__SECOND_BIRD] >= p->passes.zoom_recheck) {
        av_detect_det *d = &r->recheck_box;
        memset(d, 0, sizeof *d);
        d->x1 = (float)fmax(0, fmin(img->w, b->x1));
        d->y1 = (float)fmax(0, fmin(img->h, b->y1));
        d->x2 = (float)fmax(0, fmin(img->w, b->x2));
        d->y2 = (float)fmax(0, fmin(img->h, b->y2));
        d->det_score = b->score;
        d->class_index = p->bird_class;
        snprintf(d->class_name, sizeof d->class_name, "%s", p->det.labels[p->bird_class]);
        r->recheck_found = d->x2 - d->x1 >= 1 && d->y2 - d->y1 >= 1;
        pi->boxes += r->recheck_found;
    }
    return AV_DETECT_OK;
}

/* One tile's boxes (tile pixels, all classes, in w->xboxes): the bird boxes
 * mapped to image pixels, less those cut by an inner tile edge and those
 * inside a bird already found, merged into w->boxes. */
static void tile_boxes(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                       const av_detect__rect *t, int n, int *nbox, av_detect_pass_info *pi)
{
    n = only_class(w->xboxes, n, p->bird_class);
    av_detect__map_boxes(w->xboxes, n, 1, 1, t->x, t->y);
    n = av_detect__drop_cut(w->xboxes, n, t, img->w, img->h, 2);
    n = av_detect__drop_inside(w->xboxes, n, w->boxes, *nbox, p->passes.nested_inside);
    int before = *nbox;
    *nbox = av_detect__merge(w->boxes, *nbox, NMS_POOL, w->xboxes, n, p->det.nms_iou);
    pi->boxes += *nbox - before > 0 ? *nbox - before : 0;
}

/* The tiles of img that can add a bird into t (<= AV_DETECT__TILES_MAX):
 * none when the grid is one tile, and not those that the bird boxes found
 * so far already cover `covered` or more of (their birds are seen whole),
 * nor those holding a bird the first run saw `seen` large or more
 * (av_detect__tile_seen). */
static int tiles_to_run(const av_detect_pipeline *p, const worker *w, const av_detect__img *img,
                        int nbox, av_detect__rect *t)
{
    const av_detect__passes *c = &p->passes;
    int nt = av_detect__tile_grid(img->w, img->h, c->tiles_grid, c->tiles_overlap, t);
    if (nt < 2)
        return 0;
    /* the first run's input pixels per image pixel (letterbox: one scale) */
    const av_detect__manifest *m = &p->det;
    double sx = (double)m->in_w / img->w, sy = (double)m->in_h / img->h;
    if (m->resize == AV_DETECT__LETTERBOX)
        sx = sy = fmin(sx, sy);
    double seen = c->tiles_seen * fmin(m->in_w, m->in_h);
    int k = 0;
    for (int i = 0; i < nt; i++)
        if (av_detect__tile_covered(&t[i], w->boxes, nbox, p->bird_class) < c->tiles_covered &&
            !(seen > 0 &&
              av_detect__tile_seen(&t[i], w->boxes, nbox, p->bird_class, sx, sy, seen)))
            t[k++] = t[i];
    return k;
}

/* Tiles: every tile to run in one batched detector run on the worker's
 * tile context (one run per tile when the engine cannot batch the
 * detector); their boxes go through tile_boxes. */
static av_detect_status pass_tiles(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                   double min_score, int *nbox, av_detect_pass_info *pi,
                                   char *err, size_t errlen)
{
    av_detect__rect t[AV_DETECT__TILES_MAX];
    int k = tiles_to_run(p, w, img, *nbox, t);
    if (k == 0)
        return AV_DETECT_OK;
    min_score = fmax(p->passes.tiles_min_score, min_score); /* never below the run's */
    uint8_t *buf = malloc((size_t)t[0].w * t[0].h * 3); /* the tiles share one size */
    if (!buf)
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "tiles: out of memory");
    char msg[512] = "";
    cls_batch *b = NULL;
    if (k >= 2 && !atomic_load(&p->det_refused)) {
        b = av_detect__batch_slot(p, w, p->det_model, &w->tb, 1, k, msg, sizeof msg);
        if (!b && atomic_exchange(&p->det_refused, 1) == 0)
            av_log(AV_LOG_WARN, "detector_batch_off", "model", p->det.name, "error", msg,
                   "effect", "tiles and the images of a batch run the detector one at a time",
                   NULL);
    }
    av_detect_status st = AV_DETECT_OK;
    if (!b) {
        for (int i = 0; i < k && !st; i++) {
            av_detect__tile_copy(img, &t[i], buf);
            av_detect__img timg = av_detect__img_wrap(t[i].w, t[i].h, buf);
            int n = 0;
            st = run_detector(p, w, &timg, min_score, w->xboxes, &n, err, errlen);
            if (!st) {
                pi->runs++;
                tile_boxes(p, w, img, &t[i], n, nbox, pi);
            }
        }
        free(buf);
        return st;
    }
    const av_nn_tensor_info *ti = av_nn_input(p->det_model, p->det_in);
    size_t in_bytes = av_detect__numel(ti) * av_nn_dtype_size(ti->dtype);
    double map_w[AV_DETECT__TILES_MAX], map_h[AV_DETECT__TILES_MAX];
    for (int i = 0; i < k && !st; i++) {
        av_detect__tile_copy(img, &t[i], buf);
        av_detect__img timg = av_detect__img_wrap(t[i].w, t[i].h, buf);
        st = av_detect__det_prepare(p, w, &timg, (uint8_t *)b->in[p->det_in] + i * in_bytes,
                                    &map_w[i], &map_h[i], err, errlen);
    }
    free(buf);
    if (st)
        return st;
    if (av_nn_run(b->ctx, (const void *const *)b->in, b->out, msg, sizeof msg) != AV_NN_OK)
        return AV_BASE_FAIL(AV_DETECT_E_ENGINE, err, errlen, "%s: %s", p->det.name, msg);
    pi->runs += k; /* detector inputs: the compute is per tile, batched or not */
    int no = av_nn_num_outputs(p->det_model);
    for (int i = 0; i < k && !st; i++) {
        for (int q = 0; q < no; q++) { /* sample i of every output, shaped as batch 1 */
            const av_nn_tensor_info *to = av_nn_output(p->det_model, q);
            size_t ob = av_detect__numel(to) * av_nn_dtype_size(to->dtype);
            w->touts[q].data = (const float *)(const void *)((const uint8_t *)b->out[q] + i * ob);
        }
        int n = 0;
        st = av_detect__det_decode(p, w->touts, map_w[i], map_h[i], min_score, w->xboxes, &n, err,
                                   errlen);
        if (!st)
            tile_boxes(p, w, img, &t[i], n, nbox, pi);
    }
    for (int q = 0; q < no; q++)
        w->touts[q].data = w->det_out[q]; /* back to the batch-1 buffers */
    return st;
}

/* The passes after the first detector run, on w->boxes (*nbox of them):
 * zoom-out and tiles when their conditions hold, then nested suppression.
 * What each did goes to r->passes. */
av_detect_status av_detect__run_passes(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                       const av_detect_run_opts *o, double min_score, int *nbox,
                                       av_detect_result *r, char *err, size_t errlen)
{
    const av_detect__passes *c = &p->passes;
    for (int i = 0; i < AV_DETECT_PASS_N; i++)
        r->passes[i].on = ((o->skip_passes >> i) & 1u)
                              ? 0
                              : o->passes ? (int)((o->passes >> i) & 1u) : c->on[i];
    if (p->bird_class < 0)
        return AV_DETECT_OK; /* every pass is about bird boxes */
    av_detect_pass_info *pi = &r->passes[AV_DETECT_PASS_ZOOM];
    if (pi->on &&
        av_detect__zoom_wanted(w->boxes, *nbox, p->bird_class, img->w, img->h, c->zoom_fill)) {
        double t = av_base_now_ms();
        pi->ran = 1;
        av_detect_status st = AV_DETECT_OK;
        int found = 0;
        uint8_t *prev = NULL;
        av_detect__zoom pz;
        for (int i = 0; c->zoom_mosaic && i < c->n_zoom_scales && !found && !st;)
            st = pass_zoom_mosaic(p, w, img, &i, min_score, nbox, &found, pi, err, errlen);
        for (int i = 0; !c->zoom_mosaic && i < c->n_zoom_scales && !found && !st; i++)
            st = pass_zoom(p, w, img, c->zoom_scales[i], min_score, nbox, &found, &prev, &pz, pi,
                           err, errlen);
        free(prev);
        if (!st && !found && c->zoom_recheck > 0 && p->second && w->second)
            st = recheck_best_box(p, w, img, *nbox, pi, r, err, errlen);
        pi->ms = av_base_now_ms() - t;
        if (st)
            return st;
    }
    pi = &r->passes[AV_DETECT_PASS_TILES];
    if (pi->on && (img->w >= c->tiles_min_side || img->h >= c->tiles_min_side)) {
        double t = av_base_now_ms();
        pi->ran = 1;
        av_detect_status st = pass_tiles(p, w, img, min_score, nbox, pi, err, errlen);
        pi->ms = av_base_now_ms() - t;
        if (st)
            return st;
    }
    pi = &r->passes[AV_DETECT_PASS_NESTED];
    if (pi->on) {
        double t = av_base_now_ms();
        int before = *nbox;
        pi->ran = 1;
        *nbox = av_detect__suppress_nested(w->boxes, *nbox, c->nested_inside);
        pi->boxes = before - *nbox;
        pi->ms = av_base_now_ms() - t;
    }
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < AV_DETECT_PASS_N; i++) {
        const av_detect_pass_info *q = &r->passes[i];
        p->totals[i].ran += (unsigned long long)q->ran;
        p->totals[i].runs += (unsigned long long)q->runs;
        p->totals[i].boxes += (unsigned long long)q->boxes;
        p->totals[i].ms += q->ms;
    }
    pthread_mutex_unlock(&p->mu);
    return AV_DETECT_OK;
}

/* The first nbox of w->boxes that the run keeps (class, size) as r->dets,
 * in original-image pixels. */
av_detect_status av_detect__keep_boxes(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                       int nbox, const av_detect_run_opts *o, av_detect_result *r,
                                       char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->det;
    r->dets = calloc((size_t)m->max_dets + 1, sizeof *r->dets); /* + 1: a whole-image bird */
    if (!r->dets)
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "detect: out of memory");
    for (int i = 0; i < nbox && r->n_dets < m->max_dets; i++) {
        const av_detect__box *b = &w->boxes[i];
        if (!av_detect__manifest_keeps(m, b->cls, o->all_classes))
            continue;
        av_detect_det *d = &r->dets[r->n_dets];
        d->x1 = (float)fmax(0, fmin(img->w, b->x1));
        d->y1 = (float)fmax(0, fmin(img->h, b->y1));
        d->x2 = (float)fmax(0, fmin(img->w, b->x2));
        d->y2 = (float)fmax(0, fmin(img->h, b->y2));
        if (d->x2 - d->x1 < 1 || d->y2 - d->y1 < 1)
            continue; /* degenerate (NanoDet argmax bin 0 on both sides) */
        d->det_score = b->score;
        d->class_index = b->cls;
        snprintf(d->class_name, sizeof d->class_name, "%s", m->labels[b->cls]);
        r->n_dets++;
    }
    return AV_DETECT_OK;
}

av_detect_status av_detect__run_locked(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                       const av_detect_run_opts *o, av_detect_result *r, char *err,
                                       size_t errlen)
{
    double t = av_base_now_ms();
    int nbox = 0;
    double min_score = o->min_score > 0 ? o->min_score : p->det.min_score;
    av_detect_status st = run_detector(p, w, img, min_score, w->boxes, &nbox, err, errlen);
    if (!st)
        st = av_detect__run_passes(p, w, img, o, min_score, &nbox, r, err, errlen);
    if (!st)
        st = av_detect__keep_boxes(p, w, img, nbox, o, r, err, errlen);
    if (st)
        return st;
    double t2 = av_base_now_ms();
    r->ms_detect = t2 - t;
    if (av_detect__species_step(p, w, 1, &img, &r, o, err, errlen))
        return AV_DETECT_E_ENGINE;
    r->ms_species = av_base_now_ms() - t2;
    return AV_DETECT_OK;
}

/* What a result says about the image and the models, before any run. */
void av_detect__result_header(const av_detect_pipeline *p, const av_detect__img *img,
                              av_detect_result *r)
{
    r->width = img->w;
    r->height = img->h;
    snprintf(r->detector, sizeof r->detector, "%s", p->det.name);
    snprintf(r->detector_version, sizeof r->detector_version, "%s", p->det.version);
    r->species_available = p->has_species;
    if (p->has_species) {
        snprintf(r->classifier, sizeof r->classifier, "%s", p->cls.name);
        snprintf(r->classifier_version, sizeof r->classifier_version, "%s", p->cls.version);
    } else {
        snprintf(r->species_note, sizeof r->species_note, "%s", p->species_note);
    }
}

/* After the engine: annotate when asked, then ms_total (from t0); on
 * failure (st, or the annotation's) free r. */
av_detect_status av_detect__result_finish(const av_detect__img *img, const av_detect_run_opts *o,
                                          double t0, av_detect_status st, av_detect_result *r,
                                          const av_vision_par *par, char *err, size_t errlen)
{
    if (!st && o->annotate) {
        double t = av_base_now_ms();
        st = av_detect__img_annotate(img, r->dets, r->n_dets, par, &r->annotated,
                                     &r->annotated_len, r->annotated_mime,
                                     sizeof r->annotated_mime, err, errlen);
        r->ms_draw = av_base_now_ms() - t;
    }
    if (st) {
        av_detect_result_free(r);
        return st;
    }
    r->ms_total = av_base_now_ms() - t0;
    return AV_DETECT_OK;
}

/* Detect, name species and optionally annotate on decoded pixels; img is
 * borrowed. t0 is when the run started (for ms_total). w: a worker already
 * held for this run, or NULL (one is acquired here). */
static av_detect_status run_img(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                const av_detect_run_opts *o, double t0, av_detect_result *r,
                                char *err, size_t errlen)
{
    av_detect_status st = AV_DETECT_OK;
    av_detect__result_header(p, img, r);
    if (!w)
        w = av_detect__acquire(p, err, errlen, &st);
    if (!w)
        return av_detect__result_finish(img, o, t0, st, r, NULL, err, errlen);
    st = av_detect__run_locked(p, w, img, o, r, err, errlen);
    /* annotated while the worker is ours: its threads encode the strips */
    av_vision_par par = av_detect__worker_par(w);
    st = av_detect__result_finish(img, o, t0, st, r, &par, err, errlen);
    av_detect__release(p, w);
    return st;
}

av_detect_status av_detect_run(av_detect_pipeline *p, const void *image, size_t len,
                               const av_detect_run_opts *opts, av_detect_result *r, char *err,
                               size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!p || (!image && len))
        return AV_BASE_FAIL(AV_DETECT_E_ARG, err, errlen, "detect: no pipeline or image");
    av_detect_run_opts o = opts ? *opts : (av_detect_run_opts){0};
    long long max_bytes = o.max_bytes > 0 ? o.max_bytes : DEFAULT_MAX_BYTES;
    long long max_pixels = o.max_pixels > 0 ? o.max_pixels : DEFAULT_MAX_PIXELS;
    double t0 = av_base_now_ms();
    /* A worker free now lends its idle threads to the decode and keeps
     * them for the run; when all are busy the cores are too: one thread. */
    worker *w = av_detect__try_acquire(p);
    av_vision_par par = av_detect__worker_par(w);
    av_detect__img img;
    av_detect_status st = av_detect__img_decode_on(image, len, max_bytes, max_pixels,
                                                   w ? &par : NULL, &img, err, errlen);
    if (st) {
        if (w)
            av_detect__release(p, w);
        return st;
    }
    img.drawable = 1; /* ours, freed after the run: annotated in place */
    r->ms_decode = av_base_now_ms() - t0;
    st = run_img(p, w, &img, &o, t0, r, err, errlen);
    av_detect__img_free(&img);
    return st;
}

av_detect_status av_detect_run_rgb(av_detect_pipeline *p, int width, int height,
                                   const unsigned char *rgb, const av_detect_run_opts *opts,
                                   av_detect_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!p || !rgb || width < 1 || height < 1)
        return AV_BASE_FAIL(AV_DETECT_E_ARG, err, errlen, "detect: no pipeline or pixels");
    av_detect_run_opts o = opts ? *opts : (av_detect_run_opts){0};
    long long max_pixels = o.max_pixels > 0 ? o.max_pixels : DEFAULT_MAX_PIXELS;
    if ((long long)width * height > max_pixels)
        return AV_BASE_FAIL(AV_DETECT_E_LIMIT, err, errlen, "%dx%d pixels exceed the limit of %lld",
                     width, height, max_pixels);
    av_detect__img img = av_detect__img_wrap(width, height, rgb);
    return run_img(p, NULL, &img, &o, av_base_now_ms(), r, err, errlen);
}
