/*
 * decode.c - CenterNet and NanoDet output decoding to boxes in original-image
 * pixels, written to match the reference decoding in
 * ../shared/reference/tfjs/RESULTS.md (and lib.js) exactly.
 */
#include "detect/decode.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NANODET_MAX_BINS 64

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int skipped(const av_detect__dcfg *cfg, int c)
{
    for (int i = 0; i < cfg->n_skip; i++)
        if (cfg->skip[i] == c)
            return 1;
    return 0;
}

/* Rows and columns of a [1,R,C] or [R,C] tensor; 0 when it has another shape. */
static int shape2(const av_detect__tensor *t, int64_t *rows, int64_t *cols)
{
    if (t->rank == 3 && t->dims[0] == 1) {
        *rows = t->dims[1];
        *cols = t->dims[2];
    } else if (t->rank == 2) {
        *rows = t->dims[0];
        *cols = t->dims[1];
    } else {
        return 0;
    }
    return *rows > 0 && *cols > 0 && t->data;
}

int av_detect__decode_centernet(const av_detect__tensor *det, const av_detect__dcfg *cfg,
                                av_detect__box *out, char *err, size_t errlen)
{
    int64_t rows, cols;
    if (!shape2(det, &rows, &cols) || cols != 6 || rows > 100000)
        return fail(err, errlen, "centernet: detections output must be [1,N,6] (N <= 100000)");
    if (cfg->in_w <= 0 || cfg->in_h <= 0 || cfg->max_out <= 0)
        return fail(err, errlen, "centernet: bad decoder configuration");
    int n = (int)rows;
    float *boxes = malloc((size_t)n * 4 * sizeof *boxes);
    float *scores = malloc((size_t)n * sizeof *scores);
    int *keep = malloc((size_t)cfg->max_out * sizeof *keep);
    if (!boxes || !scores || !keep) {
        free(boxes), free(scores), free(keep);
        return fail(err, errlen, "centernet: out of memory");
    }
    /* Human hands tf NMS [y1,x1,y2,x2]; IoU is symmetric so the raw order works. */
    for (int i = 0; i < n; i++) {
        const float *r = det->data + (size_t)i * 6;
        memcpy(boxes + 4 * (size_t)i, r, 4 * sizeof *r);
        scores[i] = r[4];
    }
    int nk = av_detect__nms(boxes, scores, n, cfg->min_score, cfg->nms_iou, cfg->max_out, keep);
    int count = 0;
    for (int k = 0; k < nk; k++) {
        const float *r = det->data + (size_t)keep[k] * 6;
        float fc = r[5];
        if (isnan(fc) || fc < 0 || fc >= (float)cfg->n_classes || fc != floorf(fc))
            continue;
        int c = (int)fc;
        if (skipped(cfg, c))
            continue;
        /* Same double arithmetic as the reference: normalise, then scale. */
        double x = (double)r[0] / cfg->in_w, y = (double)r[1] / cfg->in_h;
        double w = (double)r[2] / cfg->in_w - x, h = (double)r[3] / cfg->in_h - y;
        out[count++] = (av_detect__box){
            .x1 = x * cfg->map_w,
            .y1 = y * cfg->map_h,
            .x2 = (x + w) * cfg->map_w,
            .y2 = (y + h) * cfg->map_h,
            .score = r[4],
            .cls = c,
            .level_grid = 0,
            .cell = keep[k],
        };
    }
    free(boxes), free(scores), free(keep);
    if (nk < 0)
        return fail(err, errlen, "centernet: out of memory in NMS");
    return count;
}

/* One NanoDet level matched by shape. */
typedef struct level {
    int grid, s;
    const float *scores; /* [g*g, n_classes] */
    const float *bins;   /* [g*g, 4*nbins] */
    int nbins;
} level;

typedef struct ncand {
    double bx, by, bw, bh; /* normalised, clamped box */
    float score;
    int cls, grid, cell;
} ncand;

static int find_level(const av_detect__tensor *outs, int n_outs, const av_detect__dcfg *cfg,
                      int s, level *lv, char *err, size_t errlen)
{
    int64_t g = (int64_t)cfg->base_grid * s, cells = g * g;
    lv->grid = (int)g;
    lv->s = s;
    lv->scores = lv->bins = NULL;
    for (int i = 0; i < n_outs; i++) {
        int64_t r, c;
        if (!shape2(&outs[i], &r, &c) || r != cells)
            continue;
        if (c == cfg->n_classes && !lv->scores)
            lv->scores = outs[i].data;
        else if (c < cfg->n_classes && c % 4 == 0 && c / 4 <= NANODET_MAX_BINS && !lv->bins) {
            lv->bins = outs[i].data;
            lv->nbins = (int)(c / 4);
        }
    }
    if (!lv->scores)
        return fail(err, errlen, "nanodet: no scores output of shape [1,%lld,%d] (grid %lld)",
                    (long long)cells, cfg->n_classes, (long long)g);
    if (!lv->bins)
        return fail(err, errlen,
                    "nanodet: no box output of shape [1,%lld,4*bins] (grid %lld)",
                    (long long)cells, (long long)g);
    return 0;
}

/* Index of the first maximum of v[0..n). */
static int argmax_first(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

static double clamp01(double a)
{
    return a < 0 ? 0 : a > 1 ? 1 : a;
}

int av_detect__decode_nanodet(const av_detect__tensor *outs, int n_outs,
                              const av_detect__dcfg *cfg, av_detect__box *out, char *err,
                              size_t errlen)
{
    static const int strides[3] = {1, 2, 4};
    level lv[3];
    if (cfg->base_grid <= 0 || cfg->base_grid > 1024 || cfg->n_classes <= 0 || cfg->in_w <= 0 ||
        cfg->max_out <= 0)
        return fail(err, errlen, "nanodet: bad decoder configuration");
    for (int l = 0; l < 3; l++)
        if (find_level(outs, n_outs, cfg, strides[l], &lv[l], err, errlen))
            return -1;

    size_t cap = 1024, n = 0;
    ncand *c = malloc(cap * sizeof *c);
    if (!c)
        return fail(err, errlen, "nanodet: out of memory");
    for (int l = 0; l < 3; l++) {
        const level *L = &lv[l];
        int g = L->grid, cells = g * g;
        /* Human: off = bin * (baseSize / strideSize / size); side = (scaleBox / strideSize) * off */
        double unit = (double)(g / L->s) / cfg->in_w;
        double k = cfg->box_scale / L->s;
        for (int i = 0; i < cells; i++) {
            const float *sc = L->scores + (size_t)i * cfg->n_classes;
            int bins[4] = {-1, -1, -1, -1};
            for (int j = 0; j < cfg->n_classes; j++) {
                if (!(sc[j] > cfg->min_score) || skipped(cfg, j))
                    continue;
                if (bins[0] < 0)
                    for (int side = 0; side < 4; side++)
                        bins[side] = argmax_first(L->bins + ((size_t)i * 4 + side) * L->nbins,
                                                  L->nbins);
                double cx = (0.5 + (i % g)) / g, cy = (0.5 + (i / g)) / g;
                double x = cx - k * (bins[0] * unit);
                double y = cy - k * (bins[1] * unit);
                double w = cx + k * (bins[2] * unit) - x;
                double h = cy + k * (bins[3] * unit) - y;
                if (n == cap) {
                    /* bounded by cells * classes of three levels: at most ~1.1M entries for 416/80 */
                    ncand *nc = realloc(c, cap * 2 * sizeof *c);
                    if (!nc) {
                        free(c);
                        return fail(err, errlen, "nanodet: out of memory");
                    }
                    c = nc;
                    cap *= 2;
                }
                c[n++] = (ncand){clamp01(x), clamp01(y), clamp01(w), clamp01(h), sc[j], j, g, i};
            }
        }
    }
    if (n > (size_t)0x7fffffff / 4) {
        free(c);
        return fail(err, errlen, "nanodet: too many candidates");
    }
    float *boxes = malloc((n ? n : 1) * 4 * sizeof *boxes);
    float *scores = malloc((n ? n : 1) * sizeof *scores);
    int *keep = malloc((size_t)cfg->max_out * sizeof *keep);
    if (!boxes || !scores || !keep) {
        free(c), free(boxes), free(scores), free(keep);
        return fail(err, errlen, "nanodet: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        /* corner box [y1,x1,y2,x2] as float32, the sums taken in double as the reference */
        boxes[4 * i + 0] = (float)c[i].by;
        boxes[4 * i + 1] = (float)c[i].bx;
        boxes[4 * i + 2] = (float)(c[i].by + c[i].bh);
        boxes[4 * i + 3] = (float)(c[i].bx + c[i].bw);
        scores[i] = c[i].score;
    }
    int nk = av_detect__nms(boxes, scores, (int)n, cfg->min_score, cfg->nms_iou, cfg->max_out,
                            keep);
    for (int q = 0; q < nk; q++) {
        const ncand *a = &c[keep[q]];
        out[q] = (av_detect__box){
            .x1 = a->bx * cfg->map_w,
            .y1 = a->by * cfg->map_h,
            .x2 = (a->bx + a->bw) * cfg->map_w,
            .y2 = (a->by + a->bh) * cfg->map_h,
            .score = a->score,
            .cls = a->cls,
            .level_grid = a->grid,
            .cell = a->cell,
        };
    }
    free(c), free(boxes), free(scores), free(keep);
    if (nk < 0)
        return fail(err, errlen, "nanodet: out of memory in NMS");
    return nk;
}
