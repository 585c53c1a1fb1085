/*
 * illus.c - the page statistic that tells a bird painted on white paper
 * from a photograph, and its settings (illus.h).
 */
#include "detect/illus.h"

#include <math.h>
#include <string.h>

#include "base/base.h"

#define PAPER_MIN 245 /* every channel at least this: white paper */
#define PAPER_FLAT 2  /* luma range of the 3x3 neighbourhood at most this */
#define SAMPLES 65536 /* about this many grid samples per image */
#define PAGE_BANDS 8   /* bands of grid rows measured in parallel, at most */

void av_detect__illus_default(av_detect__illus *c)
{
    c->on = 1;
    c->min_paper = 0.6;
    c->min_border = 0.9;
}

int av_detect__illus_parse(const json_t *obj, const char *path, av_detect__illus *c, char *err,
                           size_t errlen)
{
    av_detect__illus_default(c);
    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return av_base_errf(err, errlen, "%s: \"illustration\" must be an object", path);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (!strcmp(key, "on") && json_is_boolean(v)) {
            c->on = json_is_true(v);
        } else if ((!strcmp(key, "min_paper") || !strcmp(key, "min_border")) &&
                   json_is_number(v) && json_number_value(v) > 0 &&
                   json_number_value(v) <= 1) {
            *(key[4] == 'p' ? &c->min_paper : &c->min_border) = json_number_value(v);
        } else {
            return av_base_errf(err, errlen,
                                "%s: illustration.%s: expected \"on\" (boolean), \"min_paper\" "
                                "or \"min_border\" (numbers in (0, 1])",
                                path, key);
        }
    }
    return 0;
}

static int luma(const uint8_t *p)
{
    return (77 * p[0] + 150 * p[1] + 29 * p[2]) >> 8;
}

/* Whether pixel (x, y) is flat paper white (neighbours clamped at the edges). */
static int paper_at(const uint8_t *rgb, int w, int h, int x, int y)
{
    const uint8_t *p = rgb + 3 * ((size_t)y * (size_t)w + (size_t)x);
    if (p[0] < PAPER_MIN || p[1] < PAPER_MIN || p[2] < PAPER_MIN)
        return 0;
    int lo = 255, hi = 0;
    for (int dy = -1; dy <= 1; dy++) {
        int yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
        for (int dx = -1; dx <= 1; dx++) {
            int xx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
            int l = luma(rgb + 3 * ((size_t)yy * (size_t)w + (size_t)xx));
            lo = l < lo ? l : lo;
            hi = l > hi ? l : hi;
        }
    }
    return hi - lo <= PAPER_FLAT;
}

/* Sample rows [r0, r1) of the grid (row r at y = step / 2 + r * step). */
typedef struct page_job {
    const uint8_t *rgb;
    int w, h, step, ring, rows, bands;
    long n[PAGE_BANDS], paper[PAGE_BANDS], nb[PAGE_BANDS], pb[PAGE_BANDS];
} page_job;

static void page_band(void *ctx, size_t i)
{
    page_job *j = ctx;
    int r0 = (int)((long long)j->rows * (long long)i / j->bands);
    int r1 = (int)((long long)j->rows * (long long)(i + 1) / j->bands);
    long n = 0, paper = 0, nb = 0, pb = 0;
    for (int r = r0; r < r1; r++) {
        int y = j->step / 2 + r * j->step;
        int edge_y = y < j->ring || y >= j->h - j->ring;
        for (int x = j->step / 2; x < j->w; x += j->step) {
            int is = paper_at(j->rgb, j->w, j->h, x, y);
            n++;
            paper += is;
            if (edge_y || x < j->ring || x >= j->w - j->ring) {
                nb++;
                pb += is;
            }
        }
    }
    j->n[i] = n, j->paper[i] = paper, j->nb[i] = nb, j->pb[i] = pb;
}

void av_detect__page_measure_on(const uint8_t *rgb, int w, int h, av_nn_pool *pool,
                                av_detect__page *out)
{
    /* a grid, not every pixel: the fractions need ~1e-3 precision, not 2 Mpx */
    int step = (int)sqrt((double)w * (double)h / SAMPLES);
    step = step < 1 ? 1 : step;
    int ring = (w < h ? w : h) / 20;
    ring = ring < 1 ? 1 : ring;
    /* counts per band, summed: the fractions of one pass over the grid */
    page_job j = {.rgb = rgb, .w = w, .h = h, .step = step, .ring = ring,
                  .rows = (h - step / 2 + step - 1) / step};
    int threads = av_nn_pool_threads(pool);
    j.bands = threads > PAGE_BANDS ? PAGE_BANDS : threads;
    if (j.bands > j.rows)
        j.bands = j.rows > 0 ? j.rows : 1;
    if (j.bands > 1)
        av_nn_pool_for(pool, page_band, &j, (size_t)j.bands);
    else
        page_band(&j, 0);
    long n = 0, paper = 0, nb = 0, pb = 0;
    for (int i = 0; i < j.bands; i++)
        n += j.n[i], paper += j.paper[i], nb += j.nb[i], pb += j.pb[i];
    /* no sample in the ring (a needle-thin image): judge it by the frame */
    out->paper = n ? (double)paper / (double)n : 0;
    out->border = nb ? (double)pb / (double)nb : out->paper;
}

void av_detect__page_measure(const uint8_t *rgb, int w, int h, av_detect__page *out)
{
    av_detect__page_measure_on(rgb, w, h, NULL, out);
}

int av_detect__illus_is(const av_detect__illus *c, const av_detect__page *pg)
{
    return c->on && pg->paper >= c->min_paper && pg->border >= c->min_border;
}
