/*
 * t_draw.c - the one drawing of labelled detection boxes (av_detect_draw)
 * and its three callers: the pipeline's annotation (av_detect_annotate, the
 * path av_detect_run takes), the remote-inference client's
 * (av_serving__finish) and video stills (av_video_stills_draw). Each
 * caller's output must be the shared function's pixels, encoded as that
 * caller encodes; the pipeline and the remote path must give the same
 * bytes. No models needed: a synthetic picture and fixed boxes.
 */
#include "harness.h"

#include "detect/detect.h"
#include "serving/internal.h"
#include "video/video.h"
#include "vision/vision.h"

#include <stdlib.h>
#include <string.h>

#define W 640
#define H 480

static av_image *picture(void)
{
    av_image *img = av_img_new(W, H);
    CHECK(img);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = img->data + ((size_t)y * W + x) * 3;
            p[0] = (uint8_t)x, p[1] = (uint8_t)y, p[2] = (uint8_t)(x ^ y);
        }
    return img;
}

/* A fractional box, a genus answer over most of the image, one half outside. */
static void boxes(av_detect_det d[3])
{
    memset(d, 0, 3 * sizeof *d);
    d[0] = (av_detect_det){.x1 = 10.5f, .y1 = 20.25f, .x2 = 200, .y2 = 150, .confidence = 0.934f};
    snprintf(d[0].label, sizeof d[0].label, "European Robin");
    d[1] = (av_detect_det){.x1 = 300, .y1 = 5, .x2 = 630, .y2 = 470, .confidence = 0.5f,
                           .rule = AV_DETECT_RULE_GENUS};
    snprintf(d[1].label, sizeof d[1].label, "Corvus sp.");
    d[2] = (av_detect_det){.x1 = -5, .y1 = 400, .x2 = 100, .y2 = 500, .confidence = 0.071f};
    snprintf(d[2].label, sizeof d[2].label, "Bird");
}

static av_image *decode(const unsigned char *b, size_t len)
{
    av_image *img = NULL;
    char e[256];
    CHECK_MSG(av_vision_decode(b, len, NULL, &img, NULL, e, sizeof e) == AV_VISION_OK, "%s", e);
    return img;
}

static int same_pixels(const av_image *a, const av_image *b)
{
    return a->width == b->width && a->height == b->height &&
           !memcmp(a->data, b->data, (size_t)a->width * a->height * 3);
}

/* PNG and JPEG input: the pipeline's annotation and the remote client's are
 * the same bytes, and their pixels are av_detect_draw's on the input. */
TEST(pipeline_and_remote_draw_alike)
{
    av_image *img = picture();
    av_detect_det d[3];
    boxes(d);
    av_vision_font *font = NULL;
    char e[256];
    if (av_vision_font_open(NULL, &font, e, sizeof e) != AV_VISION_OK)
        font = NULL; /* the pipeline then draws without labels too */
    for (int png = 0; png < 2; png++) {
        unsigned char *in;
        size_t len;
        CHECK(png ? av_vision_encode_png(img, &in, &len, e, sizeof e) == AV_VISION_OK
                  : av_vision_encode_jpeg(img, 90, &in, &len, e, sizeof e) == AV_VISION_OK);
        unsigned char *a;
        size_t alen;
        char mime[32];
        CHECK_MSG(av_detect_annotate(in, len, d, 3, 0, 0, &a, &alen, mime, sizeof mime, e,
                                     sizeof e) == AV_DETECT_OK,
                  "%s", e);
        CHECK_STR_EQ(mime, png ? "image/png" : "image/jpeg");

        av_detect_result r;
        memset(&r, 0, sizeof r);
        r.dets = calloc(3, sizeof *r.dets);
        CHECK(r.dets);
        memcpy(r.dets, d, sizeof(av_detect_det) * 3);
        r.n_dets = 3;
        CHECK_MSG(av_serving__finish(in, len, 0, 0, 1, 1, font, &r, e, sizeof e) ==
                      AV_SERVING_OK,
                  "%s", e);
        CHECK_STR_EQ(r.annotated_mime, mime);
        CHECK(r.annotated_len == alen && !memcmp(r.annotated, a, alen));

        /* the pixels are the shared function's on the decoded input */
        av_image *want = decode(in, len);
        CHECK(av_detect_draw(want, d, 3, 1.0, NULL, font, e, sizeof e) == AV_DETECT_OK);
        av_image *got = decode(a, alen);
        if (png) {
            CHECK(same_pixels(got, want));
        } else {
            unsigned char *j;
            size_t jlen;
            CHECK(av_vision_encode_jpeg_par(want, 90, NULL, &j, &jlen, e, sizeof e) ==
                  AV_VISION_OK);
            CHECK(jlen == alen && !memcmp(j, a, alen));
            free(j);
        }
        av_img_free(got);
        av_img_free(want);
        av_detect_result_free(&r);
        free(a);
        free(in);
    }
    av_vision_font_close(font);
    av_img_free(img);
}

/* Video stills colour boxes by species (as the timeline): the genus box
 * gets its genus label's colour, the others the no-species colour. */
static av_vision_color stills_color(const av_detect_det *d, int i)
{
    (void)i;
    return av_vision_species_color(d->rule == AV_DETECT_RULE_GENUS ? d->label : NULL);
}

/* A still at full size and a poster scaled to 320 px: the shared drawing
 * (boxes scaled with the frame) encoded at the stills' quality. */
TEST(stills_draw_alike)
{
    av_image *img = picture();
    av_detect_det d[3];
    boxes(d);
    av_vision_font *font = NULL;
    char e[256];
    if (av_vision_font_open(NULL, &font, e, sizeof e) != AV_VISION_OK)
        font = NULL;
    for (int side = 0; side <= 320; side += 320) {
        av_video_stills_opts so = {.poster_side = side, .quality = 85};
        av_video_stills *s;
        CHECK(av_video_stills_new(&so, &s) == AV_VIDEO_OK);
        av_video_frame_view v = {.width = W, .height = H, .rgb = img->data, .dets = d,
                                 .n_dets = 3};
        unsigned char *got;
        size_t glen;
        CHECK(av_video_stills_draw(s, &v, &got, &glen) == 0);

        av_image *want = NULL;
        double k = 1.0;
        if (side) {
            CHECK(av_vision_resize_pil(img, 320, 240, &want, e, sizeof e) == AV_VISION_OK);
            k = 320.0 / W;
        } else {
            want = av_img_clone(img);
        }
        CHECK(want);
        CHECK(av_detect_draw(want, d, 3, k, stills_color, font, e, sizeof e) == AV_DETECT_OK);
        unsigned char *j;
        size_t jlen;
        CHECK(av_vision_encode_jpeg(want, 85, &j, &jlen, e, sizeof e) == AV_VISION_OK);
        CHECK_MSG(jlen == glen && !memcmp(j, got, glen), "poster side %d differs", side);
        free(j);
        free(got);
        av_img_free(want);
        av_video_stills_free(s);
    }
    av_vision_font_close(font);
    av_img_free(img);
}

/* The drawing itself: boxes land where asked, in the asked colour, scaled;
 * nothing to draw leaves the picture alone; bad arguments are refused. */
TEST(draw_places_boxes_and_refuses_bad_input)
{
    av_image *img = picture(), *orig = av_img_clone(img);
    CHECK(orig);
    char e[256];
    av_detect_det d = {.x1 = 40, .y1 = 60, .x2 = 400, .y2 = 300, .confidence = 0.9f};
    snprintf(d.label, sizeof d.label, "Bird");
    CHECK(av_detect_draw(img, &d, 0, 1.0, NULL, NULL, e, sizeof e) == AV_DETECT_OK);
    CHECK(same_pixels(img, orig));
    /* scale 0.5: the box's left edge at x = 20, mid-height y = 90 */
    CHECK(av_detect_draw(img, &d, 1, 0.5, NULL, NULL, e, sizeof e) == AV_DETECT_OK);
    av_vision_color c = av_vision_palette(0);
    const uint8_t *p = img->data + ((size_t)90 * W + 20) * 3;
    CHECK_MSG(p[0] == c.r && p[1] == c.g && p[2] == c.b, "pixel %d,%d,%d", p[0], p[1], p[2]);
    p = img->data + ((size_t)90 * W + 40) * 3; /* the unscaled edge is untouched */
    CHECK(!memcmp(p, orig->data + ((size_t)90 * W + 40) * 3, 3));
    CHECK(av_detect_draw(img, &d, -1, 1.0, NULL, NULL, e, sizeof e) == AV_DETECT_E_ARG);
    CHECK(av_detect_draw(img, NULL, 2, 1.0, NULL, NULL, e, sizeof e) == AV_DETECT_E_ARG);
    CHECK(av_detect_draw(NULL, &d, 1, 1.0, NULL, NULL, e, sizeof e) == AV_DETECT_E_ARG);
    CHECK_STR_CONTAINS(e, "draw");
    av_img_free(orig);
    av_img_free(img);
}

TEST_MAIN(T(pipeline_and_remote_draw_alike), T(stills_draw_alike),
          T(draw_places_boxes_and_refuses_bad_input))
