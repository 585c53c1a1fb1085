/*
 * nms.c - greedy non-maximum suppression with TF.js's exact semantics
 * (tfjs-core non_max_suppression_impl: strict score threshold, descending
 * score with lower index first on ties, suppress at IoU >= threshold).
 */
#include "detect/decode.h"

#include <stdlib.h>

typedef struct cand {
    float score;
    int index;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* IoU as tfjs computes it: doubles from float32 corners, min/max per axis. */
static double iou(const float *a, const float *b)
{
    double ay1 = a[0] < a[2] ? a[0] : a[2], ay2 = a[0] < a[2] ? a[2] : a[0];
    double ax1 = a[1] < a[3] ? a[1] : a[3], ax2 = a[1] < a[3] ? a[3] : a[1];
    double by1 = b[0] < b[2] ? b[0] : b[2], by2 = b[0] < b[2] ? b[2] : b[0];
    double bx1 = b[1] < b[3] ? b[1] : b[3], bx2 = b[1] < b[3] ? b[3] : b[1];
    double area_a = (ay2 - ay1) * (ax2 - ax1);
    double area_b = (by2 - by1) * (bx2 - bx1);
    if (area_a <= 0 || area_b <= 0)
        return 0.0;
    double iy1 = ay1 > by1 ? ay1 : by1, iy2 = ay2 < by2 ? ay2 : by2;
    double ix1 = ax1 > bx1 ? ax1 : bx1, ix2 = ax2 < bx2 ? ax2 : bx2;
    double ih = iy2 - iy1, iw = ix2 - ix1;
    double inter = (ih > 0 ? ih : 0.0) * (iw > 0 ? iw : 0.0);
    return inter / (area_a + area_b - inter);
}

int av_detect__nms(const float *boxes, const float *scores, int n, double score_thr,
                   double iou_thr, int max_out, int *keep)
{
    if (n <= 0 || max_out <= 0)
        return 0;
    cand *c = malloc((size_t)n * sizeof *c);
    if (!c)
        return -1;
    int nc = 0;
    for (int i = 0; i < n; i++)
        if (scores[i] > score_thr) /* NaN scores fail this test and are never kept */
            c[nc++] = (cand){scores[i], i};
    qsort(c, (size_t)nc, sizeof *c, cmp_cand);
    int kept = 0;
    for (int k = 0; k < nc && kept < max_out; k++) {
        const float *b = boxes + 4 * (size_t)c[k].index;
        int drop = 0;
        for (int j = kept - 1; j >= 0 && !drop; j--)
            drop = iou(b, boxes + 4 * (size_t)keep[j]) >= iou_thr;
        if (!drop)
            keep[kept++] = c[k].index;
    }
    free(c);
    return kept;
}
