/*
 * t_illus.c - drawings are not sightings (src/detect/illus.c): the page
 * statistic on synthetic pictures (a shape painted on white paper against
 * photo-like frames: grain, a blown-out sky above texture, bright noisy
 * white), the "illustration" settings parsed and refused, and the rule end
 * to end: a bird photo laid on a white page loses its boxes, with the rule
 * off it keeps them.
 */
#include "harness.h"
#include "detect_fixture.h"

#include "detect/detect.h"
#include "detect/illus.h"
#include "vision/vision.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A deterministic generator for grain (xorshift32). */
static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static uint8_t clamp8(int v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* An ellipse filling about a quarter of the frame, smoothly shaded: the
 * painted bird. */
static int in_shape(int x, int y, int w, int h)
{
    double dx = (x - w / 2.0) / (w * 0.3), dy = (y - h / 2.0) / (h * 0.3);
    return dx * dx + dy * dy <= 1;
}

static void paint_shape(uint8_t *rgb, int w, int h)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (in_shape(x, y, w, h)) {
                uint8_t *p = rgb + 3 * ((size_t)y * w + x);
                p[0] = (uint8_t)(120 + x % 60);
                p[1] = (uint8_t)(90 + y % 40);
                p[2] = 60;
            }
}

static uint8_t *page(int w, int h, int background, int grain, int sky_rows)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    CHECK(rgb);
    uint32_t s = 12345;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + 3 * ((size_t)y * w + x);
            int v = y < sky_rows ? 255 : background;
            int g = grain && y >= sky_rows ? (int)(rnd(&s) % (2 * grain + 1)) - grain : 0;
            p[0] = clamp8(v + g);
            p[1] = clamp8(v + g);
            p[2] = clamp8(v + g - (y >= sky_rows && v < 250 ? 20 : 0));
        }
    return rgb;
}

TEST(painted_shape_on_white_paper_is_an_illustration)
{
    av_detect__illus c;
    av_detect__illus_default(&c);
    int w = 600, h = 400;
    uint8_t *rgb = page(w, h, 255, 0, 0);
    paint_shape(rgb, w, h);
    av_detect__page pg;
    av_detect__page_measure(rgb, w, h, &pg);
    /* the ellipse covers pi * 0.3 * 0.3 = 28 % of the frame, and none of its border */
    CHECK_NEAR(pg.paper, 0.72, 0.03);
    CHECK_NEAR(pg.border, 1.0, 1e-9);
    CHECK_EQ_INT(av_detect__illus_is(&c, &pg), 1);
    c.on = 0;
    CHECK_EQ_INT(av_detect__illus_is(&c, &pg), 0);
    free(rgb);
}

TEST(photo_like_frames_are_not)
{
    av_detect__illus c;
    av_detect__illus_default(&c);
    int w = 640, h = 480;
    av_detect__page pg;
    /* the same shape on a grainy mid-tone background: no paper at all */
    uint8_t *rgb = page(w, h, 140, 4, 0);
    paint_shape(rgb, w, h);
    av_detect__page_measure(rgb, w, h, &pg);
    CHECK(pg.paper < 0.01 && pg.border < 0.01);
    CHECK_EQ_INT(av_detect__illus_is(&c, &pg), 0);
    free(rgb);
    /* blown-out sky over the top 45 %, grainy ground below: the sky is flat white, but the
     * lower border and most of the frame are not */
    rgb = page(w, h, 110, 6, h * 45 / 100);
    paint_shape(rgb, w, h);
    av_detect__page_measure(rgb, w, h, &pg);
    CHECK_MSG(pg.paper > 0.2 && pg.paper < 0.45, "paper %.3f", pg.paper);
    CHECK_MSG(pg.border > 0.3 && pg.border < 0.6, "border %.3f", pg.border);
    CHECK_EQ_INT(av_detect__illus_is(&c, &pg), 0);
    free(rgb);
    /* bright but grainy white (an overcast sky, JPEG noise): bright is not flat */
    rgb = page(w, h, 250, 4, 0);
    av_detect__page_measure(rgb, w, h, &pg);
    CHECK_MSG(pg.paper < 0.05, "paper %.3f", pg.paper);
    CHECK_EQ_INT(av_detect__illus_is(&c, &pg), 0);
    free(rgb);
}

TEST(tiny_and_thin_images_measure)
{
    uint8_t white[3 * 200] = {0};
    memset(white, 255, sizeof white);
    av_detect__page pg;
    av_detect__page_measure(white, 1, 1, &pg);
    CHECK_NEAR(pg.paper, 1, 0);
    CHECK_NEAR(pg.border, 1, 0);
    av_detect__page_measure(white, 200, 1, &pg);
    CHECK_NEAR(pg.paper, 1, 0);
    av_detect__page_measure(white, 2, 100, &pg);
    CHECK_NEAR(pg.border, 1, 0);
    white[3 * 100] = 0; /* one dark pixel spoils its neighbours' flatness */
    av_detect__page_measure(white, 200, 1, &pg);
    CHECK(pg.paper < 1 && pg.paper > 0.9);
}

TEST(settings_parsed_and_refused)
{
    av_detect__illus c;
    char err[512];
    CHECK(av_detect__illus_parse(NULL, "p.json", &c, err, sizeof err) == 0);
    CHECK(c.on == 1);
    CHECK_NEAR(c.min_paper, 0.6, 1e-9);
    CHECK_NEAR(c.min_border, 0.9, 1e-9);
    json_t *o = json_loads("{\"on\": false, \"min_paper\": 0.7, \"min_border\": 0.95}", 0, NULL);
    CHECK(av_detect__illus_parse(o, "p.json", &c, err, sizeof err) == 0);
    CHECK(c.on == 0);
    CHECK_NEAR(c.min_paper, 0.7, 1e-9);
    CHECK_NEAR(c.min_border, 0.95, 1e-9);
    json_decref(o);
    const char *bad[] = {"{\"min_paper\": 0}", "{\"min_border\": 1.5}", "{\"on\": 1}",
                         "{\"paper\": 0.5}", "[]"};
    const char *named[] = {"min_paper", "min_border", "illustration.on", "illustration.paper",
                           "must be an object"};
    for (int i = 0; i < 5; i++) {
        o = json_loads(bad[i], 0, NULL);
        CHECK(o);
        CHECK_MSG(av_detect__illus_parse(o, "p.json", &c, err, sizeof err) == -1, "%s", bad[i]);
        CHECK_STR_CONTAINS(err, named[i]);
        CHECK_STR_CONTAINS(err, "p.json");
        json_decref(o);
    }
}

/* ---- end to end ---- */

static int birds(const av_detect_result *r)
{
    int n = 0;
    for (int i = 0; i < r->n_dets; i++)
        n += r->dets[i].class_index == 14 || r->dets[i].whole_image;
    return n;
}

static void run(const char *dir, const unsigned char *img, size_t len, av_detect_result *r)
{
    av_detect_pipeline *p = av_test_open_pipeline(dir, NULL);
    char err[1024];
    CHECK_MSG(av_detect_run(p, img, len, NULL, r, err, sizeof err) == AV_DETECT_OK, "%s", err);
    av_detect_pipeline_close(p);
}

TEST(bird_on_a_white_page_is_not_a_sighting)
{
    av_test_need_models();
    size_t len;
    unsigned char *png = av_test_bird_on_a_page(&len);
    av_detect_result r;
    run("models", png, len, &r);
    CHECK_EQ_INT(r.page_measured, 1);
    CHECK_MSG(r.page_paper > 0.7 && r.page_border > 0.99, "paper %.3f border %.3f", r.page_paper,
              r.page_border);
    CHECK_EQ_INT(r.illustration, 1);
    CHECK_EQ_INT(birds(&r), 0);
    CHECK(r.illustrated.label[0]); /* the best guess stays available */
    json_t *j = av_detect_result_to_json(&r, NULL);
    CHECK(json_is_true(json_object_get(j, "illustration")));
    CHECK(json_is_object(json_object_get(j, "illustrated")));
    CHECK(json_is_number(json_object_get(json_object_get(j, "page"), "paper")));
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "count")), 0);
    json_decref(j);
    av_detect_result_free(&r);

    /* the same models with the rule off: the bird is counted */
    const char *dir = av_test_tmpdir();
    char cwd[512], cmd[2048];
    CHECK(getcwd(cwd, sizeof cwd));
    snprintf(cmd, sizeof cmd,
             "cp models/pipeline.json models/centernet.json models/nanodet.json "
             "models/inat_bird.json '%s'/ && ln -s '%s/models/human' '%s/human' && "
             "ln -s '%s/models/inat_bird' '%s/inat_bird' && "
             "sed -i 's/\"illustration\": {\"on\": true/\"illustration\": {\"on\": false/' "
             "'%s/pipeline.json' && grep -q '\"on\": false, \"min_paper\"' '%s/pipeline.json'",
             dir, cwd, dir, cwd, dir, dir, dir);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    run(dir, png, len, &r);
    CHECK_EQ_INT(r.page_measured, 0);
    CHECK_EQ_INT(r.illustration, 0);
    CHECK_MSG(birds(&r) >= 1, "no bird on the page with the rule off");
    j = av_detect_result_to_json(&r, NULL);
    CHECK(!json_object_get(j, "illustration"));
    json_decref(j);
    av_detect_result_free(&r);
    free(png);
}

TEST(bird_photo_is_measured_and_kept)
{
    av_test_need_models();
    size_t n;
    unsigned char *buf = av_test_read_file(av_test_shared("testdata/images/bird.bmp"), &n);
    av_detect_result r;
    run("models", buf, n, &r);
    free(buf);
    CHECK_EQ_INT(r.page_measured, 1);
    CHECK(r.page_paper < 0.05);
    CHECK_EQ_INT(r.illustration, 0);
    CHECK(birds(&r) >= 1);
    json_t *j = av_detect_result_to_json(&r, NULL);
    CHECK(json_is_false(json_object_get(j, "illustration")));
    CHECK(!json_object_get(j, "illustrated"));
    json_decref(j);
    av_detect_result_free(&r);
}

TEST_MAIN(T(painted_shape_on_white_paper_is_an_illustration), T(photo_like_frames_are_not),
          T(tiny_and_thin_images_measure), T(settings_parsed_and_refused),
          T(bird_on_a_white_page_is_not_a_sighting), T(bird_photo_is_measured_and_kept))
