/*
 * t_detect_tiles.c - the tile pass (src/detect/passes.c, pipeline_run.c):
 * tiles follow the frame's aspect, a tile the found bird boxes already
 * cover is skipped, a tile box inside a found bird is dropped, and with the
 * models: how many tiles run, and that they run batched (NanoDet) with the
 * same answers one image at a time or in a batch of images, and a tile
 * finds the bird of a flock that the whole-image run misses.
 */
#include "harness.h"

#include "detect/detect.h"
#include "detect/passes.h"
#include "vision/vision.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static av_detect__box box(double x1, double y1, double x2, double y2, float score, int cls)
{
    return (av_detect__box){.x1 = x1, .y1 = y1, .x2 = x2, .y2 = y2, .score = score, .cls = cls};
}

TEST(tiles_follow_the_frame_aspect)
{
    av_detect__rect t[AV_DETECT__TILES_MAX];
    /* the bench's portrait 1024x1858: 1 x 2, not 2 x 2 */
    int n = av_detect__tile_grid(1024, 1858, 2, 0.25, t);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(t[0].w, 1024);
    CHECK_EQ_INT(t[0].h, 1062); /* ceil(1858 / 1.75) */
    CHECK_EQ_INT(t[0].y, 0);
    CHECK_EQ_INT(t[1].y, 1858 - 1062);
    /* a 3:2 landscape: 2 x 1 */
    n = av_detect__tile_grid(1638, 1097, 2, 0.25, t);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(t[0].h, 1097);
    CHECK_EQ_INT(t[1].x + t[1].w, 1638);
    /* 4:3 at grid 2: one row of 914x1200 is as square as 2 rows of 914x686, fewer wins */
    CHECK_EQ_INT(av_detect__tile_grid(1600, 1200, 2, 0.25, t), 2);
    /* a panorama at grid 3: 3 x 1; the same at grid 4 keeps 4 x 1 */
    CHECK_EQ_INT(av_detect__tile_grid(3000, 1000, 3, 0.25, t), 3);
    CHECK_EQ_INT(av_detect__tile_grid(4000, 1000, 4, 0, t), 4);
    CHECK_EQ_INT(t[3].x + t[3].w, 4000);
    /* a square at grid 3: 3 x 3 */
    CHECK_EQ_INT(av_detect__tile_grid(3000, 3000, 3, 0.25, t), 9);
    /* every tile inside the frame, all of it covered */
    n = av_detect__tile_grid(1917, 1333, 3, 0.3, t);
    CHECK(n >= 3 && n <= 9);
    for (int i = 0; i < n; i++) {
        CHECK(t[i].x >= 0 && t[i].x + t[i].w <= 1917);
        CHECK(t[i].y >= 0 && t[i].y + t[i].h <= 1333);
    }
    CHECK_EQ_INT(t[n - 1].x + t[n - 1].w, 1917);
    CHECK_EQ_INT(t[n - 1].y + t[n - 1].h, 1333);
}

TEST(tile_coverage_counts_bird_boxes_only)
{
    av_detect__rect t = {100, 100, 200, 100}; /* 20000 px */
    av_detect__box b[] = {
        box(0, 0, 200, 200, 0.5f, 14),     /* covers x 100..200 of the tile: half */
        box(250, 120, 300, 150, 0.5f, 14), /* 1500 px more */
        box(100, 100, 300, 200, 0.9f, 0),  /* another class: not counted */
    };
    CHECK_NEAR(av_detect__tile_covered(&t, b, 1, 14), 0.5, 1e-12);
    CHECK_NEAR(av_detect__tile_covered(&t, b, 3, 14), 0.575, 1e-12);
    CHECK_NEAR(av_detect__tile_covered(&t, b, 3, 0), 1.0, 1e-12);
    CHECK_NEAR(av_detect__tile_covered(&t, b, 0, 14), 0.0, 0);
    /* overlapping boxes are counted twice, capped at 1 */
    av_detect__box two[] = {box(0, 0, 400, 400, 0.5f, 14), box(0, 0, 400, 400, 0.4f, 14)};
    CHECK_NEAR(av_detect__tile_covered(&t, two, 2, 14), 1.0, 0);
}

TEST(tile_box_inside_a_found_bird_is_dropped)
{
    av_detect__box found[] = {box(100, 100, 300, 300, 0.4f, 14), box(0, 0, 50, 50, 0.9f, 0)};
    av_detect__box add[] = {
        box(120, 120, 200, 180, 0.8f, 14), /* the head of the found bird, scored higher */
        box(250, 250, 400, 400, 0.6f, 14), /* a quarter inside: another bird */
        box(10, 10, 40, 40, 0.6f, 14),     /* inside a box of another class */
        box(150, 150, 160, 160, 0.3f, 0),  /* another class inside the bird */
    };
    int n = av_detect__drop_inside(add, 4, found, 2, 0.5);
    CHECK_EQ_INT(n, 3);
    CHECK_NEAR(add[0].x1, 250, 0);
    CHECK_NEAR(add[1].x1, 10, 0);
    CHECK_EQ_INT(add[2].cls, 0);
    CHECK_EQ_INT(av_detect__drop_inside(add, 3, found, 0, 0.5), 3);
}

TEST(tile_settings_parse_and_refuse)
{
    av_detect__passes c;
    char err[256] = "";
    CHECK_EQ_INT(av_detect__passes_parse(NULL, "p", &c, err, sizeof err), 0);
    CHECK_NEAR(c.tiles_covered, 0.5, 0);
    CHECK_NEAR(c.tiles_min_score, 0.36, 0);
    json_t *j = json_loads("{\"tiles\": {\"covered\": 0.8, \"min_score\": 0.3}}", 0, NULL);
    CHECK(j);
    CHECK_EQ_INT(av_detect__passes_parse(j, "p", &c, err, sizeof err), 0);
    CHECK_NEAR(c.tiles_covered, 0.8, 0);
    CHECK_NEAR(c.tiles_min_score, 0.3, 0);
    json_decref(j);
    j = json_loads("{\"tiles\": {\"covered\": 1.5}}", 0, NULL);
    CHECK(j);
    CHECK_EQ_INT(av_detect__passes_parse(j, "p", &c, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "passes.tiles.covered must be a number in [0, 1]");
    json_decref(j);
    j = json_loads("{\"tiles\": {\"min_score\": -0.1}}", 0, NULL);
    CHECK(j);
    CHECK_EQ_INT(av_detect__passes_parse(j, "p", &c, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "passes.tiles.min_score must be a number in [0, 1]");
    json_decref(j);
}

/* ---- with the models ---- */

static void need_models(void)
{
    if (access("models/human/nanodet.json", R_OK) || access("models/human/centernet.json", R_OK))
        SKIP("detector models not fetched (run scripts/setup)");
}

static av_detect_pipeline *open_with(const char *detector)
{
    need_models();
    av_detect_pipeline *p;
    char err[1024];
    av_detect_open_opts oo = {.threads = 1, .detector = detector, .no_species = 1};
    CHECK_MSG(av_detect_pipeline_open("models", &oo, &p, err, sizeof err) == 0, "%s", err);
    return p;
}

/* bird.bmp (512x343, one bird filling most of it) decoded to RGB. */
static av_image *bird_bmp(void)
{
    FILE *f = fopen(av_test_shared("testdata/images/bird.bmp"), "rb");
    CHECK(f);
    static unsigned char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    av_vision_decode_opts o;
    memset(&o, 0, sizeof o);
    av_image *im = NULL;
    av_vision_decode_info info;
    char err[256];
    CHECK_MSG(av_vision_decode(buf, len, &o, &im, &info, err, sizeof err) == AV_VISION_OK, "%s",
              err);
    return im;
}

/* The bird scaled by s (nearest) at (x0, y0) on f, a w x h frame. */
static void paste(unsigned char *f, int w, int h, const av_image *b, int x0, int y0, double s)
{
    int bw = (int)(b->width * s), bh = (int)(b->height * s);
    for (int y = 0; y < bh && y0 + y < h; y++)
        for (int x = 0; x < bw && x0 + x < w; x++)
            memcpy(f + ((size_t)(y0 + y) * w + x0 + x) * 3,
                   b->data + ((size_t)(int)(y / s) * b->width + (int)(x / s)) * 3, 3);
}

/* The bird scaled by s at (x0, y0) on a w x h grey frame. */
static unsigned char *frame(const av_image *b, int w, int h, int x0, int y0, double s)
{
    unsigned char *f = malloc((size_t)w * h * 3);
    CHECK(f);
    memset(f, 128, (size_t)w * h * 3);
    paste(f, w, h, b, x0, y0, s);
    return f;
}

static int bird_boxes(const av_detect_result *r)
{
    int n = 0;
    for (int i = 0; i < r->n_dets; i++)
        n += r->dets[i].class_index == 14 && !r->dets[i].whole_image;
    return n;
}

static const unsigned TILES = AV_DETECT_PASSES_SET | 1u << AV_DETECT_PASS_TILES |
                              1u << AV_DETECT_PASS_NESTED;

/* bird.bmp scaled 3x fills a 1536x1029 frame: both 2x1 tiles are covered by
 * its box, so the pass runs no tile and the answer is the whole-image one. */
TEST(tiles_covered_by_the_bird_found_are_skipped)
{
    av_detect_pipeline *p = open_with(NULL);
    av_image *b = bird_bmp();
    unsigned char *f = frame(b, 1536, 1029, 0, 0, 3);
    av_detect_run_opts on = {.passes = TILES};
    av_detect_run_opts off = {.passes = AV_DETECT_PASSES_SET | 1u << AV_DETECT_PASS_NESTED};
    av_detect_result r, r0;
    char err[512];
    CHECK_MSG(av_detect_run_rgb(p, 1536, 1029, f, &on, &r, err, sizeof err) == 0, "%s", err);
    CHECK_MSG(av_detect_run_rgb(p, 1536, 1029, f, &off, &r0, err, sizeof err) == 0, "%s", err);
    const av_detect_pass_info *t = &r.passes[AV_DETECT_PASS_TILES];
    CHECK(t->on && t->ran);
    CHECK_EQ_INT(t->runs, 0);
    CHECK_EQ_INT(bird_boxes(&r), 1);
    CHECK_EQ_INT(r.n_dets, r0.n_dets);
    CHECK_NEAR(r.dets[0].x1, r0.dets[0].x1, 0);
    av_detect_result_free(&r);
    av_detect_result_free(&r0);
    free(f);
    av_img_free(b);
    av_detect_pipeline_close(p);
}

/* bird.bmp at its own size on a 2048x1372 frame: two tiles run (2x1), and
 * the bird, which they see at twice the whole-image run's scale, stays one
 * box; with NanoDet (which batches) the two tiles are one batched run, and
 * the same frame twice in av_detect_run_batch gives each the same answer
 * (the tiles' context is not the one the batch of images reads). */
static void small_bird_tiles(const char *detector)
{
    av_detect_pipeline *p = open_with(detector);
    av_image *b = bird_bmp();
    unsigned char *f = frame(b, 2048, 1372, 700, 500, 1);
    av_detect_run_opts on = {.passes = TILES};
    av_detect_result r;
    char err[512];
    CHECK_MSG(av_detect_run_rgb(p, 2048, 1372, f, &on, &r, err, sizeof err) == 0, "%s", err);
    const av_detect_pass_info *t = &r.passes[AV_DETECT_PASS_TILES];
    CHECK(t->on && t->ran);
    CHECK_EQ_INT(t->runs, 2);
    CHECK_EQ_INT(bird_boxes(&r), 1);
    /* the box is on the bird: within its 512x343 cell at (700, 500) */
    CHECK(r.dets[0].x1 >= 690 && r.dets[0].x2 <= 1222);
    CHECK(r.dets[0].y1 >= 490 && r.dets[0].y2 <= 853);
    av_detect_image im[2] = {{.rgb = f, .width = 2048, .height = 1372},
                             {.rgb = f, .width = 2048, .height = 1372}};
    av_detect_result rs[2];
    av_detect_status st[2];
    int runs = 0;
    CHECK(av_detect_run_batch(p, 2, im, &on, rs, st, NULL, 0, &runs) == 0);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(rs[i].n_dets, r.n_dets);
        CHECK_EQ_INT(rs[i].passes[AV_DETECT_PASS_TILES].runs, 2);
        for (int k = 0; k < r.n_dets; k++) {
            CHECK_NEAR(rs[i].dets[k].x1, r.dets[k].x1, 1e-3);
            CHECK_NEAR(rs[i].dets[k].y2, r.dets[k].y2, 1e-3);
            CHECK_NEAR(rs[i].dets[k].det_score, r.dets[k].det_score, 1e-5);
        }
        av_detect_result_free(&rs[i]);
    }
    av_detect_result_free(&r);
    free(f);
    av_img_free(b);
    av_detect_pipeline_close(p);
}

/* A flock: five birds at 0.6 scale on a 2400x1600 frame. The whole-image
 * run finds four (0.20-0.25); the tiles see the fifth at 0.40 (CenterNet,
 * this engine), over the tiles' 0.36, and add it: five boxes, the four
 * found ones not doubled. */
TEST(tiles_add_the_bird_a_flock_hides)
{
    av_detect_pipeline *p = open_with(NULL);
    av_image *b = bird_bmp();
    unsigned char *f = frame(b, 2400, 1600, 100, 100, 0.6);
    const int at[4][2] = {{900, 200}, {1600, 150}, {300, 900}, {1200, 1000}};
    for (int i = 0; i < 4; i++)
        paste(f, 2400, 1600, b, at[i][0], at[i][1], 0.6);
    av_detect_run_opts on = {.passes = TILES};
    av_detect_run_opts off = {.passes = AV_DETECT_PASSES_SET | 1u << AV_DETECT_PASS_NESTED};
    av_detect_result r, r0;
    char err[512];
    CHECK_MSG(av_detect_run_rgb(p, 2400, 1600, f, &off, &r0, err, sizeof err) == 0, "%s", err);
    CHECK_MSG(av_detect_run_rgb(p, 2400, 1600, f, &on, &r, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(bird_boxes(&r0), 4);
    CHECK_EQ_INT(r.passes[AV_DETECT_PASS_TILES].runs, 2);
    CHECK_EQ_INT(bird_boxes(&r), 5);
    int found = 0; /* the new box is on the bird at (900, 200), 307x205 */
    for (int i = 0; i < r.n_dets; i++)
        found += r.dets[i].x1 >= 890 && r.dets[i].x2 <= 1217 && r.dets[i].y1 >= 190 &&
                 r.dets[i].y2 <= 415;
    CHECK_EQ_INT(found, 1);
    av_detect_result_free(&r);
    av_detect_result_free(&r0);
    free(f);
    av_img_free(b);
    av_detect_pipeline_close(p);
}

TEST(small_bird_tiles_centernet)
{
    small_bird_tiles(NULL);
}

TEST(small_bird_tiles_nanodet_batched)
{
    small_bird_tiles("nanodet");
}

TEST_MAIN(T(tiles_follow_the_frame_aspect), T(tile_coverage_counts_bird_boxes_only),
          T(tile_box_inside_a_found_bird_is_dropped), T(tile_settings_parse_and_refuse),
          T(tiles_covered_by_the_bird_found_are_skipped), T(tiles_add_the_bird_a_flock_hides),
          T(small_bird_tiles_centernet),
          T(small_bird_tiles_nanodet_batched))
