/*
 * motion.c - the motion gate: each frame shrunk to a 64x48 grey copy (box
 * averages of the luma), compared with the previous copy. Costs one pass
 * over the frame's pixels with integer arithmetic: far below a detector run.
 */
#include "camera/camera.h"

#include <stdlib.h>
#include <string.h>

#define W AV_CAMERA_MOTION_W
#define H AV_CAMERA_MOTION_H
#define LEVEL_DIFF 24 /* grey levels a cell must move by: above sensor noise */

struct av_camera_motion {
    double threshold;
    int have_prev;
    unsigned char prev[W * H], cur[W * H];
};

av_camera_motion *av_camera_motion_new(double threshold)
{
    av_camera_motion *m = calloc(1, sizeof *m);
    if (m)
        m->threshold = threshold > 0 && threshold <= 1 ? threshold : 0.01;
    return m;
}

void av_camera_motion_free(av_camera_motion *m)
{
    free(m);
}

/* Box-average luma of each cell (integer BT.601 weights, every 2nd pixel
 * and row: enough samples for a 64x48 copy of frames up to 4K). */
static void shrink(const unsigned char *rgb, int width, int height, unsigned char *out)
{
    for (int cy = 0; cy < H; cy++) {
        int y0 = (int)((long long)cy * height / H), y1 = (int)((long long)(cy + 1) * height / H);
        if (y1 <= y0)
            y1 = y0 + 1;
        for (int cx = 0; cx < W; cx++) {
            int x0 = (int)((long long)cx * width / W), x1 = (int)((long long)(cx + 1) * width / W);
            if (x1 <= x0)
                x1 = x0 + 1;
            unsigned long sum = 0, cnt = 0;
            for (int y = y0; y < y1 && y < height; y += 2) {
                const unsigned char *row = rgb + (size_t)y * (size_t)width * 3;
                for (int x = x0; x < x1 && x < width; x += 2) {
                    const unsigned char *px = row + (size_t)x * 3;
                    sum += (77u * px[0] + 150u * px[1] + 29u * px[2]) >> 8;
                    cnt++;
                }
            }
            out[cy * W + cx] = (unsigned char)(cnt ? sum / cnt : 0);
        }
    }
}

int av_camera_motion_feed(av_camera_motion *m, const unsigned char *rgb, int width, int height,
                          double *changed)
{
    if (changed)
        *changed = 1.0;
    if (!m || !rgb || width < 1 || height < 1)
        return 1;
    shrink(rgb, width, height, m->cur);
    int first = !m->have_prev, n = 0;
    for (int i = 0; i < W * H && !first; i++) {
        int d = (int)m->cur[i] - (int)m->prev[i];
        n += d > LEVEL_DIFF || d < -LEVEL_DIFF;
    }
    memcpy(m->prev, m->cur, sizeof m->prev);
    m->have_prev = 1;
    if (first)
        return 1;
    double share = (double)n / (W * H);
    if (changed)
        *changed = share;
    return share >= m->threshold;
}
