/*
 * t_detect_tile_seen.c - the tiles pass skips a tile the first run saw at
 * enough resolution (src/detect/passes.c av_detect__tile_seen): one holding
 * a bird box that was large in the first run's input; and its "seen"
 * setting.
 */
#include "harness.h"

#include "detect/detect.h"
#include "detect/passes.h"

#include <jansson.h>
#include <string.h>

static av_detect__box box(double x1, double y1, double x2, double y2, float score, int cls)
{
    return (av_detect__box){.x1 = x1, .y1 = y1, .x2 = x2, .y2 = y2, .score = score, .cls = cls};
}

/* A 1638x1097 frame (bench_pipeline's three_birds.jpg) on a 512 stretched
 * input: 0.3126 input px per image px along x, 0.4667 along y; its two
 * tiles split it along x. */
TEST(tile_holding_a_large_bird_is_seen)
{
    av_detect__rect t[AV_DETECT__TILES_MAX];
    CHECK_EQ_INT(av_detect__tile_grid(1638, 1097, 2, 0.25, t), 2);
    double sx = 512.0 / 1638, sy = 512.0 / 1097;
    /* a bird 400 x 300 px in the left tile: 125 x 140 input px */
    av_detect__box big = box(100, 100, 500, 400, 0.8f, 14);
    CHECK(av_detect__tile_seen(&t[0], &big, 1, 14, sx, sy, 0.2 * 512));
    CHECK(!av_detect__tile_seen(&t[1], &big, 1, 14, sx, sy, 0.2 * 512)); /* not in the right */
    /* at 0.25 of the input (128 px) its 125 px side is too small */
    CHECK(!av_detect__tile_seen(&t[0], &big, 1, 14, sx, sy, 0.25 * 512));
    /* a small bird (40 px: 12.5 input px), another class, or a large box
     * whose centre lies in the other tile: not seen */
    av_detect__box b[] = {
        box(100, 100, 140, 140, 0.8f, 14),
        box(100, 100, 500, 400, 0.8f, 15),
        box(800, 100, 1600, 900, 0.8f, 14),
    };
    CHECK(!av_detect__tile_seen(&t[0], b, 3, 14, sx, sy, 0.2 * 512));
    CHECK(av_detect__tile_seen(&t[1], b, 3, 14, sx, sy, 0.2 * 512));
    /* no boxes: never seen */
    CHECK(!av_detect__tile_seen(&t[0], b, 0, 14, sx, sy, 0.2 * 512));
}

static int parse(const char *json, av_detect__passes *c, char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    int rc = av_detect__passes_parse(o, "pipeline.json", c, err, errlen);
    json_decref(o);
    return rc;
}

TEST(seen_setting)
{
    av_detect__passes c;
    char err[256] = "";
    av_detect__passes_default(&c);
    CHECK_NEAR(c.tiles_seen, 0.3, 0);
    CHECK_EQ_INT(parse("{\"tiles\": {\"seen\": 0}}", &c, err, sizeof err), 0);
    CHECK_NEAR(c.tiles_seen, 0, 0);
    CHECK_EQ_INT(parse("{\"tiles\": {\"seen\": 1.5}}", &c, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "passes.tiles.seen must be a number in [0, 1]");
}

TEST_MAIN(T(tile_holding_a_large_bird_is_seen), T(seen_setting))
