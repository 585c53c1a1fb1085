/*
 * t_detect_mosaic.c - the zoom-out mosaic without models (src/detect/mosaic.c):
 * several zoom-out copies laid out on one detector canvas, the canvas's
 * pixels, and the boxes of a run mapped back per copy; and the "mosaic"
 * setting of pipeline.json's zoom_out.
 */
#include "harness.h"

#include "detect/detect.h"
#include "detect/passes.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static av_detect__box box(double x1, double y1, double x2, double y2, float score, int cls)
{
    return (av_detect__box){.x1 = x1, .y1 = y1, .x2 = x2, .y2 = y2, .score = score, .cls = cls};
}

/* The shipped scales on CenterNet's stretched 512 input: both copies on one
 * canvas, side by side along x with equal gaps, centred in y, each the size
 * it has alone. */
TEST(scales_05_and_03_share_one_canvas)
{
    const double sc[] = {0.5, 0.3};
    av_detect__mosaic m;
    CHECK_EQ_INT(av_detect__mosaic_geom(1280, 960, 512, 512, 1, sc, 2, 0.05, &m), 2);
    CHECK_EQ_INT(m.n, 2);
    CHECK(m.cw == 512 && m.ch == 512);
    for (int i = 0; i < 2; i++) {
        av_detect__zoom alone;
        av_detect__zoom_geom(1280, 960, 512, 512, 1, sc[i], &alone);
        CHECK(m.z[i].sw == alone.sw && m.z[i].sh == alone.sh);
        CHECK_NEAR(m.z[i].sx, alone.sx, 1e-12);
        CHECK_NEAR(m.z[i].sy, alone.sy, 1e-12);
        CHECK_EQ_INT(m.z[i].oy, (512 - m.z[i].sh) / 2);
    }
    CHECK(m.z[0].sw == 256 && m.z[1].sw == 154);
    int g0 = m.z[0].ox, g1 = m.z[1].ox - (m.z[0].ox + m.z[0].sw),
        g2 = 512 - (m.z[1].ox + m.z[1].sw);
    CHECK_MSG(g0 >= 26 && g1 >= 26 && g2 >= 26, "gaps %d %d %d", g0, g1, g2);
    CHECK_MSG(abs(g0 - g1) <= 1 && abs(g1 - g2) <= 1, "gaps %d %d %d", g0, g1, g2);
}

/* Copies that do not fit together go on separate canvases: the first alone,
 * centred as the plain zoom-out canvas; the caller lays out the rest. A
 * letterboxed portrait canvas stacks its copies along y. */
TEST(copies_that_do_not_fit_and_portrait_canvas)
{
    const double sc[] = {0.6, 0.5, 0.3};
    av_detect__mosaic m;
    CHECK_EQ_INT(av_detect__mosaic_geom(1280, 960, 512, 512, 1, sc, 3, 0.05, &m), 1);
    av_detect__zoom alone;
    av_detect__zoom_geom(1280, 960, 512, 512, 1, 0.6, &alone);
    CHECK(m.z[0].ox == alone.ox && m.z[0].oy == alone.oy && m.z[0].sw == alone.sw);
    /* the next canvas: 0.5 and 0.3 */
    CHECK_EQ_INT(av_detect__mosaic_geom(1280, 960, 512, 512, 1, sc + 1, 2, 0.05, &m), 2);
    /* a gap too wide for two copies: one */
    CHECK_EQ_INT(av_detect__mosaic_geom(1280, 960, 512, 512, 1, sc + 1, 2, 0.1, &m), 1);
    /* portrait, letterboxed into 416: canvas 234 x 416, copies stacked along y */
    CHECK_EQ_INT(av_detect__mosaic_geom(900, 1600, 416, 416, 0, sc + 1, 2, 0.05, &m), 2);
    CHECK(m.cw == 234 && m.ch == 416);
    CHECK(m.z[0].sh == 208 && m.z[1].sh == 125);
    CHECK(m.z[1].oy >= m.z[0].oy + m.z[0].sh + 21);
    CHECK(m.z[1].oy + m.z[1].sh <= 416 - 21);
    CHECK_EQ_INT(m.z[0].ox, (234 - m.z[0].sw) / 2);
}

/* A 40x20 image, left half red, right half blue, on a 64x64 stretched
 * canvas at 0.5 and 0.25: each copy on the canvas is the plain zoom-out
 * canvas's copy, on the mean colour of the first. */
TEST(canvas_holds_each_copy_on_the_mean_colour)
{
    uint8_t px[40 * 20 * 3];
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 40; x++) {
            uint8_t *q = px + ((size_t)y * 40 + x) * 3;
            q[0] = x < 20 ? 200 : 0;
            q[1] = (uint8_t)(y * 10);
            q[2] = x < 20 ? 0 : 100;
        }
    av_detect__img img = av_detect__img_wrap(40, 20, px);
    const double sc[] = {0.5, 0.25};
    av_detect__mosaic m;
    CHECK_EQ_INT(av_detect__mosaic_geom(40, 20, 64, 64, 1, sc, 2, 0.05, &m), 2);
    uint8_t *c = NULL;
    CHECK_EQ_INT(av_detect__mosaic_canvas(&img, &m, &c), 0);
    for (int i = 0; i < 2; i++) { /* the copies as the one-scale canvases make them */
        av_detect__zoom z = m.z[i];
        uint8_t *one = NULL, *small = NULL;
        av_detect__img src = img;
        if (i == 1) { /* made from the first copy, as mosaic_canvas does */
            CHECK_EQ_INT(av_detect__zoom_canvas(&img, &m.z[0], &one, &small), 0);
            free(one);
            src = av_detect__img_wrap(m.z[0].sw, m.z[0].sh, small);
        }
        z.ox = (z.cw - z.sw) / 2, z.oy = (z.ch - z.sh) / 2;
        CHECK_EQ_INT(av_detect__zoom_canvas(&src, &z, &one, NULL), 0);
        int same = 1;
        for (int y = 0; y < z.sh; y++)
            same &= !memcmp(c + ((size_t)(y + m.z[i].oy) * 64 + m.z[i].ox) * 3,
                            one + ((size_t)(y + z.oy) * 64 + z.ox) * 3, (size_t)z.sw * 3);
        CHECK_MSG(same, "copy %d differs from its one-scale canvas", i);
        free(one);
        free(small);
    }
    /* the corners and the gap between the copies: the first copy's mean */
    const uint8_t *corner = c, *gap = c + ((size_t)32 * 64 + m.z[0].ox + m.z[0].sw) * 3;
    CHECK(corner[0] == 100 && corner[2] == 50);
    CHECK(!memcmp(corner, gap, 3));
    CHECK(m.z[0].ox + m.z[0].sw < m.z[1].ox);
    free(c);
}

/* Boxes of a mosaic run: mapped back with their copy's geometry, clipped to
 * it; a box centred in the padding dropped; a smaller copy's boxes only
 * when the larger found no bird. */
TEST(boxes_map_back_per_copy)
{
    const double sc[] = {0.5, 0.3};
    av_detect__mosaic m;
    CHECK_EQ_INT(av_detect__mosaic_geom(1280, 960, 512, 512, 1, sc, 2, 0.05, &m), 2);
    const av_detect__zoom *a = &m.z[0], *b = &m.z[1];
    /* copy 0 holds a bird covering its left half, reaching 10 px into the
     * gap; copy 1 one over all of it; a cat in copy 1; a box in the padding */
    av_detect__box in[] = {
        box(a->ox, a->oy, a->ox + a->sw / 2.0, a->oy + a->sh + 10, 0.6f, 14),
        box(b->ox, b->oy, b->ox + b->sw, b->oy + b->sh, 0.9f, 14),
        box(b->ox + 10, b->oy + 10, b->ox + 20, b->oy + 20, 0.5f, 15),
        box(2, 2, 12, 12, 0.8f, 14),
    };
    av_detect__box o[4];
    memcpy(o, in, sizeof in);
    int copy = -2, n = av_detect__mosaic_boxes(o, 4, 14, &m, &copy);
    CHECK_EQ_INT(copy, 0);
    CHECK_EQ_INT(n, 1);
    CHECK_NEAR(o[0].x1, 0, 1e-9);
    CHECK_NEAR(o[0].y1, 0, 1e-9);
    CHECK_NEAR(o[0].x2, 640, 1e-9);
    CHECK_NEAR(o[0].y2, 960, 1e-9); /* clipped to the copy: the image's bottom */
    CHECK_NEAR(o[0].score, 0.6f, 0);
    /* without copy 0's bird, copy 1's boxes (the cat too), the whole image */
    memcpy(o, in + 1, 3 * sizeof *in);
    n = av_detect__mosaic_boxes(o, 3, 14, &m, &copy);
    CHECK_EQ_INT(copy, 1);
    CHECK_EQ_INT(n, 2);
    CHECK_NEAR(o[0].x1, 0, 1e-9);
    CHECK_NEAR(o[0].x2, 1280, 1e-9);
    CHECK_NEAR(o[0].y2, 960, 1e-9);
    CHECK_EQ_INT(o[1].cls, 15);
    CHECK_NEAR(o[1].x1, 10 * 1280.0 / b->sw, 1e-9);
    /* only padding: nothing, no copy */
    memcpy(o, in + 3, sizeof *in);
    CHECK_EQ_INT(av_detect__mosaic_boxes(o, 1, 14, &m, &copy), 0);
    CHECK_EQ_INT(copy, -1);
}

static int parse(const char *json, av_detect__passes *c, char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    int rc = av_detect__passes_parse(o, "pipeline.json", c, err, errlen);
    json_decref(o);
    return rc;
}

/* zoom_out.mosaic: on by default; false runs one scale per detector run. */
TEST(mosaic_setting)
{
    av_detect__passes c;
    char err[256] = "";
    av_detect__passes_default(&c);
    CHECK_EQ_INT(c.zoom_mosaic, 1);
    CHECK_EQ_INT(parse("{\"zoom_out\": {\"mosaic\": false}}", &c, err, sizeof err), 0);
    CHECK_EQ_INT(c.zoom_mosaic, 0);
    CHECK_EQ_INT(parse("{\"zoom_out\": {\"mosaic\": 1}}", &c, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "passes.zoom_out.mosaic must be true or false");
    CHECK_EQ_INT(parse("{\"tiles\": {\"mosaic\": true}}", &c, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "passes.tiles.mosaic: unknown setting");
}

TEST_MAIN(T(scales_05_and_03_share_one_canvas), T(copies_that_do_not_fit_and_portrait_canvas),
          T(canvas_holds_each_copy_on_the_mean_colour), T(boxes_map_back_per_copy),
          T(mosaic_setting))
