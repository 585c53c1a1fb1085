/*
 * t_detect_passes.c - the detector passes' arithmetic without models
 * (src/detect/passes.c): nested suppression, merging, zoom-out geometry and
 * its mapping back to image pixels, tile layout and cut boxes, and the
 * "passes" settings of pipeline.json.
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

TEST(inside_and_iou)
{
    av_detect__box a = box(0, 0, 10, 10, 1, 0), b = box(5, 0, 15, 10, 1, 0);
    CHECK_NEAR(av_detect__inside(&a, &b), 0.5, 1e-12);
    CHECK_NEAR(av_detect__iou(&a, &b), 50.0 / 150.0, 1e-12);
    av_detect__box small = box(2, 2, 4, 4, 1, 0), empty = box(3, 3, 3, 9, 1, 0);
    CHECK_NEAR(av_detect__inside(&small, &a), 1.0, 1e-12);
    CHECK_NEAR(av_detect__inside(&a, &small), 0.04, 1e-12);
    CHECK_NEAR(av_detect__inside(&empty, &a), 0.0, 0);
    CHECK_NEAR(av_detect__iou(&empty, &a), 0.0, 0);
}

TEST(nested_box_of_same_bird_is_dropped)
{
    /* a tit's head box inside its body box (both labelled in the issue); a
     * second bird beside it and a lower-scored box of another class inside */
    av_detect__box b[] = {
        box(100, 100, 300, 300, 0.7f, 14), /* body */
        box(400, 100, 500, 200, 0.6f, 14), /* another bird, apart */
        box(120, 110, 220, 200, 0.4f, 14), /* head: all inside the body */
        box(130, 120, 200, 190, 0.3f, 15), /* other class inside: kept */
        box(250, 100, 350, 200, 0.3f, 14), /* half inside the body: kept at 0.8 */
    };
    int n = av_detect__suppress_nested(b, 5, 0.8);
    CHECK_EQ_INT(n, 4);
    CHECK_NEAR(b[0].score, 0.7f, 0);
    CHECK_NEAR(b[1].score, 0.6f, 0);
    CHECK_EQ_INT(b[2].cls, 15);
    CHECK_NEAR(b[3].x1, 250, 0);
    /* at 0.5 the half-inside box goes too */
    n = av_detect__suppress_nested(b, n, 0.5);
    CHECK_EQ_INT(n, 3);
    /* a better box inside a worse one is kept: only the lower score goes */
    av_detect__box c[] = {box(120, 110, 220, 200, 0.9f, 14), box(100, 100, 300, 300, 0.5f, 14)};
    CHECK_EQ_INT(av_detect__suppress_nested(c, 2, 0.8), 2);
}

TEST(merge_keeps_best_of_overlaps)
{
    av_detect__box b[4] = {box(0, 0, 100, 100, 0.3f, 14), box(200, 0, 300, 100, 0.5f, 14)};
    av_detect__box add[] = {
        box(5, 5, 105, 105, 0.6f, 14),   /* same bird as b[0], better: replaces it */
        box(205, 0, 300, 100, 0.2f, 14), /* same bird as b[1], worse: dropped */
        box(400, 0, 500, 100, 0.4f, 14), /* new bird: added */
        box(0, 0, 100, 100, 0.9f, 15),   /* other class on b[0]: added */
    };
    int n = av_detect__merge(b, 2, 4, add, 4, 0.4);
    CHECK_EQ_INT(n, 4);
    /* best first */
    CHECK_NEAR(b[0].score, 0.9f, 0);
    CHECK_EQ_INT(b[0].cls, 15);
    CHECK_NEAR(b[1].score, 0.6f, 0);
    CHECK_NEAR(b[1].x1, 5, 0);
    CHECK_NEAR(b[2].score, 0.5f, 0);
    CHECK_NEAR(b[3].score, 0.4f, 0);
    /* full: a better box replaces the worst, a worse one is dropped */
    av_detect__box more[] = {box(600, 0, 700, 100, 0.45f, 14), box(800, 0, 900, 100, 0.1f, 14)};
    n = av_detect__merge(b, n, 4, more, 2, 0.4);
    CHECK_EQ_INT(n, 4);
    CHECK_NEAR(b[3].score, 0.45f, 0);
    CHECK_NEAR(b[3].x1, 600, 0);
}

TEST(zoom_geometry_maps_back_to_image_pixels)
{
    /* 1280x960 frame, 512x512 stretched input, image at half the canvas */
    av_detect__zoom z;
    av_detect__zoom_geom(1280, 960, 512, 512, 1, 0.5, &z);
    CHECK_EQ_INT(z.cw, 512);
    CHECK_EQ_INT(z.ch, 512);
    CHECK_EQ_INT(z.sw, 256);
    CHECK_EQ_INT(z.sh, 256);
    CHECK_EQ_INT(z.ox, 128);
    CHECK_EQ_INT(z.oy, 128);
    /* the shrunk image's corners on the canvas are the image's corners */
    av_detect__box b = box(z.ox, z.oy, z.ox + z.sw, z.oy + z.sh, 1, 14);
    av_detect__map_boxes(&b, 1, z.sx, z.sy, -z.ox * z.sx, -z.oy * z.sy);
    CHECK_NEAR(b.x1, 0, 1e-9);
    CHECK_NEAR(b.y1, 0, 1e-9);
    CHECK_NEAR(b.x2, 1280, 1e-9);
    CHECK_NEAR(b.y2, 960, 1e-9);
    /* a box on the canvas centre quarter is the image's centre half */
    b = box(192, 192, 320, 320, 1, 14);
    av_detect__map_boxes(&b, 1, z.sx, z.sy, -z.ox * z.sx, -z.oy * z.sy);
    CHECK_NEAR(b.x1, 320, 1e-9);
    CHECK_NEAR(b.y1, 240, 1e-9);
    CHECK_NEAR(b.x2, 960, 1e-9);
    CHECK_NEAR(b.y2, 720, 1e-9);
    /* letterbox: the canvas keeps the aspect (416 x 312 for 4:3) */
    av_detect__zoom_geom(1280, 960, 416, 416, 0, 0.3, &z);
    CHECK_EQ_INT(z.cw, 416);
    CHECK_EQ_INT(z.ch, 312);
    CHECK_EQ_INT(z.sw, 125);
    CHECK_EQ_INT(z.sh, 94);
    CHECK_EQ_INT(z.ox, 145);
    CHECK_EQ_INT(z.oy, 109);
    CHECK_NEAR(z.sx, 1280.0 / 125, 1e-12);
    CHECK_NEAR(z.sy, 960.0 / 94, 1e-12);
}

/* A 40x20 image, left half red, right half blue, on a 64x64 stretched
 * input at half scale: a 32x32 copy in the middle of a purple (mean) canvas;
 * a box around the copy's red half maps back to the image's red half. */
TEST(zoom_canvas_is_shrunk_image_on_its_mean_colour)
{
    uint8_t px[40 * 20 * 3];
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 40; x++) {
            uint8_t *q = px + ((size_t)y * 40 + x) * 3;
            q[0] = x < 20 ? 200 : 0;
            q[1] = 0;
            q[2] = x < 20 ? 0 : 100;
        }
    av_detect__img img = av_detect__img_wrap(40, 20, px);
    av_detect__zoom z;
    av_detect__zoom_geom(40, 20, 64, 64, 1, 0.5, &z);
    CHECK(z.cw == 64 && z.ch == 64 && z.sw == 32 && z.sh == 32 && z.ox == 16 && z.oy == 16);
    uint8_t *c = NULL;
    CHECK_EQ_INT(av_detect__zoom_canvas(&img, &z, &c, NULL), 0);
    const uint8_t *corner = c, *red = c + ((size_t)30 * 64 + 20) * 3,
                  *blue = c + ((size_t)30 * 64 + 44) * 3;
    CHECK(corner[0] == 100 && corner[1] == 0 && corner[2] == 50); /* the mean colour */
    CHECK(red[0] == 200 && red[1] == 0 && red[2] == 0);
    CHECK(blue[0] == 0 && blue[1] == 0 && blue[2] == 100);
    CHECK(c[((size_t)15 * 64 + 20) * 3] == 100); /* the row above the copy is border */
    free(c);
    av_detect__box b = box(16, 16, 32, 48, 1, 14); /* the copy's left (red) half */
    av_detect__map_boxes(&b, 1, z.sx, z.sy, -z.ox * z.sx, -z.oy * z.sy);
    CHECK_NEAR(b.x1, 0, 1e-9);
    CHECK_NEAR(b.x2, 20, 1e-9);
    CHECK_NEAR(b.y1, 0, 1e-9);
    CHECK_NEAR(b.y2, 20, 1e-9);
    /* a tile of the same image: its own rows */
    av_detect__rect t = {18, 5, 4, 3};
    uint8_t tile[4 * 3 * 3];
    av_detect__tile_copy(&img, &t, tile);
    CHECK(tile[0] == 200 && tile[3] == 200 && tile[6] == 0 && tile[8] == 100);
    CHECK(tile[(2 * 4 + 3) * 3 + 2] == 100);
}

/* The second scale made from the first's shrunk copy: nearly the canvas
 * made from the whole image. */
TEST(zoom_smaller_scale_from_the_shrunk_copy)
{
    uint8_t px[40 * 20 * 3];
    for (int i = 0; i < 40 * 20; i++) {
        int x = i % 40;
        px[i * 3] = x < 20 ? 200 : 0;
        px[i * 3 + 1] = (uint8_t)(i / 40 * 10);
        px[i * 3 + 2] = x < 20 ? 0 : 100;
    }
    av_detect__img img = av_detect__img_wrap(40, 20, px);
    av_detect__zoom z1, z2;
    av_detect__zoom_geom(40, 20, 64, 64, 1, 0.5, &z1);
    av_detect__zoom_geom(40, 20, 64, 64, 1, 0.25, &z2);
    uint8_t *c1, *s1, *c2, *s2, *direct;
    CHECK_EQ_INT(av_detect__zoom_canvas(&img, &z1, &c1, &s1), 0);
    CHECK(s1[0] == 200 && s1[(31 * 32 + 31) * 3 + 2] == 100);
    av_detect__img half = av_detect__img_wrap(z1.sw, z1.sh, s1);
    CHECK_EQ_INT(av_detect__zoom_canvas(&half, &z2, &c2, &s2), 0);
    CHECK_EQ_INT(av_detect__zoom_canvas(&img, &z2, &direct, NULL), 0);
    CHECK(z2.sw == 16 && z2.sh == 16);
    /* pure colours away from the halves' edge; near it the two resizes blend a little
     * differently, so the canvases agree to within a few levels on average */
    CHECK(s2[0] == 200 && s2[2] == 0 && s2[15 * 3] == 0 && s2[15 * 3 + 2] == 100);
    long diff = 0;
    size_t nb = (size_t)z2.cw * z2.ch * 3;
    for (size_t i = 0; i < nb; i++)
        diff += labs((long)c2[i] - direct[i]);
    CHECK_MSG(diff <= (long)nb * 2, "mean difference %.2f", (double)diff / nb);
    free(c1);
    free(s1);
    free(c2);
    free(s2);
    free(direct);
}

TEST(zoom_wanted_when_nothing_or_only_frame_filling)
{
    av_detect__box b[] = {box(-20, 0, 650, 470, 0.3f, 14), box(10, 10, 60, 60, 0.5f, 15)};
    CHECK(av_detect__zoom_wanted(b, 0, 14, 640, 480, 0.5));  /* nothing */
    CHECK(av_detect__zoom_wanted(b + 1, 1, 14, 640, 480, 0.5)); /* no bird, a cat */
    CHECK(av_detect__zoom_wanted(b, 2, 14, 640, 480, 0.5));  /* one frame-filling bird */
    av_detect__box c[] = {box(0, 0, 640, 480, 0.3f, 14), box(10, 10, 200, 200, 0.2f, 14)};
    CHECK(!av_detect__zoom_wanted(c, 2, 14, 640, 480, 0.5)); /* a bird of normal size */
    CHECK(!av_detect__zoom_wanted(c, 2, 14, 640, 480, 1.01));
}

TEST(tiles_cover_image_with_overlap)
{
    av_detect__rect t[AV_DETECT__TILES_MAX];
    /* a 2:1 landscape: 2 tiles along its width, 1 along its height (nearest to square) */
    int n = av_detect__tile_grid(2000, 1000, 2, 0.25, t);
    CHECK_EQ_INT(n, 2);
    /* 2 tiles of 1143 overlapping by a quarter cover 2000 */
    CHECK_EQ_INT(t[0].x, 0);
    CHECK_EQ_INT(t[0].w, 1143);
    CHECK_EQ_INT(t[1].x, 2000 - 1143);
    CHECK_EQ_INT(t[1].y, 0);
    CHECK_EQ_INT(t[1].h, 1000);
    for (int i = 0; i < n; i++) {
        CHECK(t[i].x >= 0 && t[i].x + t[i].w <= 2000);
        CHECK(t[i].y >= 0 && t[i].y + t[i].h <= 1000);
    }
    CHECK(t[0].x + t[0].w - t[1].x >= 0.25 * t[0].w - 1);
    /* a square frame keeps grid x grid: 2 tiles of 572 cover 1000 both ways */
    n = av_detect__tile_grid(1000, 1000, 2, 0.25, t);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(t[2].x, 0);
    CHECK_EQ_INT(t[2].h, 572);
    CHECK_EQ_INT(t[3].y, 1000 - 572);
    /* 3x3 and a clamped grid */
    n = av_detect__tile_grid(900, 900, 3, 0, t);
    CHECK_EQ_INT(n, 9);
    CHECK_EQ_INT(t[4].x, 300);
    CHECK_EQ_INT(t[8].x + t[8].w, 900);
    CHECK_EQ_INT(av_detect__tile_grid(900, 900, 9, 0.1, t), 16);
    CHECK_EQ_INT(av_detect__tile_grid(900, 900, 0, 0.1, t), 1);
    CHECK_EQ_INT(t[0].w, 900);
}

TEST(tile_boxes_map_to_image_and_cut_ones_drop)
{
    av_detect__rect t = {857, 428, 1143, 572}; /* the bottom-right tile above */
    av_detect__box b[] = {
        box(100, 100, 200, 180, 0.5f, 14), /* inside */
        box(0, 50, 80, 120, 0.5f, 14),     /* touches the tile's left edge: inner, cut */
        box(1000, 400, 1143, 572, 0.5f, 14), /* right/bottom: the image's own edges */
    };
    av_detect__map_boxes(b, 3, 1, 1, t.x, t.y);
    CHECK_NEAR(b[0].x1, 957, 0);
    CHECK_NEAR(b[0].y2, 608, 0);
    CHECK_NEAR(b[2].x2, 2000, 0);
    CHECK_NEAR(b[2].y2, 1000, 0);
    int n = av_detect__drop_cut(b, 3, &t, 2000, 1000, 2);
    CHECK_EQ_INT(n, 2);
    CHECK_NEAR(b[0].x1, 957, 0);
    CHECK_NEAR(b[1].x2, 2000, 0);
}

static int parse(const char *text, av_detect__passes *c, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    CHECK_MSG(j, "bad test JSON: %s", je.text);
    int rc = av_detect__passes_parse(j, "pipeline.json", c, err, errlen);
    json_decref(j);
    return rc;
}

TEST(settings_parse_and_refuse)
{
    av_detect__passes c;
    char err[256] = "";
    CHECK_EQ_INT(av_detect__passes_parse(NULL, "p", &c, err, sizeof err), 0);
    CHECK(c.on[AV_DETECT_PASS_NESTED] && c.on[AV_DETECT_PASS_ZOOM] && !c.on[AV_DETECT_PASS_TILES]);
    CHECK_EQ_INT(c.n_zoom_scales, 2);
    CHECK_NEAR(c.zoom_min_score, 0.42, 0);
    CHECK_NEAR(c.nested_inside, 0.5, 0);
    CHECK_EQ_INT(parse("{\"zoom_out\": {\"on\": true, \"scales\": [0.5, 0.3], \"fill\": 0.6},"
                       " \"tiles\": {\"on\": true, \"grid\": 3, \"min_side\": 1000},"
                       " \"nested\": {\"on\": false, \"inside\": 0.7}}",
                       &c, err, sizeof err),
                 0);
    CHECK(c.on[AV_DETECT_PASS_ZOOM] && c.on[AV_DETECT_PASS_TILES] && !c.on[AV_DETECT_PASS_NESTED]);
    CHECK_NEAR(c.zoom_min_score, 0.42, 0); /* not given: the default stays */
    CHECK_EQ_INT(c.n_zoom_scales, 2);
    CHECK_NEAR(c.zoom_scales[1], 0.3, 0);
    CHECK_NEAR(c.zoom_fill, 0.6, 0);
    CHECK_EQ_INT(c.tiles_grid, 3);
    CHECK_EQ_INT(c.tiles_min_side, 1000);
    CHECK_NEAR(c.nested_inside, 0.7, 0);
    CHECK_EQ_INT(parse("{\"zoom\": {}}", &c, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "passes.zoom: unknown pass");
    CHECK_EQ_INT(parse("{\"tiles\": {\"grid\": 7}}", &c, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "passes.tiles.grid must be a number in [1, 4]");
    CHECK_EQ_INT(parse("{\"zoom_out\": {\"scales\": [0.1]}}", &c, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "scales must be 1 to 4 numbers");
    CHECK_EQ_INT(parse("{\"nested\": {\"on\": 1}}", &c, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "passes.nested.on must be true or false");
    CHECK_EQ_INT(parse("{\"nested\": {\"inside\": 0.7, \"iou\": 1}}", &c, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "passes.nested.iou: unknown setting");
}

TEST(pass_list_parses)
{
    unsigned bits = 0;
    char err[128] = "";
    CHECK_EQ_INT(av_detect_passes_parse("zoom_out,nested", &bits, err, sizeof err), 0);
    CHECK_EQ_INT(bits, AV_DETECT_PASSES_SET | 1u << AV_DETECT_PASS_ZOOM |
                           1u << AV_DETECT_PASS_NESTED);
    CHECK_EQ_INT(av_detect_passes_parse("none", &bits, err, sizeof err), 0);
    CHECK_EQ_INT(bits, AV_DETECT_PASSES_SET);
    CHECK_EQ_INT(av_detect_passes_parse("tiles,zoom", &bits, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "unknown pass 'zoom'");
    CHECK_EQ_INT(av_detect_passes_parse("", &bits, err, sizeof err), -1);
    CHECK_STR_EQ(av_detect_pass_name(AV_DETECT_PASS_TILES), "tiles");
    CHECK_EQ_INT(av_detect_pass_find("nested"), AV_DETECT_PASS_NESTED);
}

TEST_MAIN(T(inside_and_iou), T(nested_box_of_same_bird_is_dropped),
          T(merge_keeps_best_of_overlaps), T(zoom_geometry_maps_back_to_image_pixels),
          T(zoom_canvas_is_shrunk_image_on_its_mean_colour),
          T(zoom_smaller_scale_from_the_shrunk_copy),
          T(zoom_wanted_when_nothing_or_only_frame_filling), T(tiles_cover_image_with_overlap),
          T(tile_boxes_map_to_image_and_cut_ones_drop), T(settings_parse_and_refuse),
          T(pass_list_parses))
