/*
 * t_serving_illus.c - a drawing over the model server (t_serving's family,
 * apart because t_serving.c is long): a bird photo laid on a white page is an
 * illustration in-process, and the model server's answer carries the same
 * facts (illustration, page figures, the illustrated best guess) back through
 * the client, so a web node behind --model-url stores what an in-process one
 * does; a photo keeps its bird and says it is not a drawing.
 */
#include "harness.h"
#include "detect_fixture.h"
#include "serving_fixture.h"

#include "log/log.h"
#include "serving/serving.h"
#include "vision/vision.h"
#include "web/web.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The same detection in-process and through the server (boxes went through
 * normalised floats). */
static void same_det(const av_detect_det *a, const av_detect_det *b)
{
    CHECK_STR_EQ(b->label, a->label);
    CHECK_EQ_INT(b->rule, a->rule);
    CHECK_EQ_INT(b->whole_image, a->whole_image);
    CHECK_EQ_INT(b->whole_by, a->whole_by);
    CHECK_NEAR(b->confidence, a->confidence, 1e-4);
    CHECK_NEAR(b->x1, a->x1, 0.5);
    CHECK_NEAR(b->y2, a->y2, 0.5);
    CHECK_EQ_INT(b->n_species, a->n_species);
    for (int i = 0; i < a->n_species && i < b->n_species; i++) {
        CHECK_STR_EQ(b->species[i].scientific, a->species[i].scientific);
        CHECK_STR_EQ(b->species[i].common, a->species[i].common);
        CHECK_NEAR(b->species[i].score, a->species[i].score, 1e-4);
    }
}

/* img in-process and through the model server at url: the same illustration
 * facts, detections and stored analysis. */
static void compare(av_serving_client *c, const unsigned char *img, size_t len,
                    av_detect_result *local, av_detect_result *remote)
{
    av_detect_pipeline *p = av_test_open_pipeline(NULL, NULL);
    char err[1024];
    av_detect_run_opts ro = {.top_k = 3}; /* the model server's default */
    CHECK_MSG(av_detect_run(p, img, len, &ro, local, err, sizeof err) == AV_DETECT_OK, "%s", err);
    av_detect_pipeline_close(p);
    CHECK_MSG(av_serving_client_predict(c, img, len, NULL, remote, err, sizeof err) ==
                  AV_SERVING_OK,
              "%s", err);
    CHECK_EQ_INT(remote->page_measured, local->page_measured);
    CHECK_NEAR(remote->page_paper, local->page_paper, 1e-6);
    CHECK_NEAR(remote->page_border, local->page_border, 1e-6);
    CHECK_EQ_INT(remote->illustration, local->illustration);
    CHECK_EQ_INT(remote->n_dets, local->n_dets);
    for (int i = 0; i < local->n_dets && i < remote->n_dets; i++)
        same_det(&local->dets[i], &remote->dets[i]);
    if (local->illustration)
        same_det(&local->illustrated, &remote->illustrated);
    /* what a web node stores from each */
    av_web_analysis a, b;
    CHECK(av_web_analysis_from_result(local, &a) == 0);
    CHECK(av_web_analysis_from_result(remote, &b) == 0);
    CHECK_EQ_INT(b.illustration.on, a.illustration.on);
    CHECK_STR_EQ(b.illustration.species, a.illustration.species);
    CHECK_STR_EQ(b.illustration.common_name, a.illustration.common_name);
    CHECK_NEAR(b.illustration.score, a.illustration.score, 1e-4);
    CHECK_EQ_INT(b.n_dets, a.n_dets);
    free(a.dets), free(a.annotated), free(b.dets), free(b.annotated);
}

TEST(illustration_over_the_model_server)
{
    av_serving_opts o = {.workers = 2};
    av_test_srv v;
    av_test_srv_start(&v, &o);
    char err[512];
    av_serving_client_opts co = {.url = v.base};
    av_serving_client *c = NULL;
    CHECK(av_serving_client_open(&co, &c, err, sizeof err) == AV_SERVING_OK);

    size_t len;
    unsigned char *png = av_test_bird_on_a_page(&len);
    av_detect_result local, remote;
    compare(c, png, len, &local, &remote);
    CHECK_EQ_INT(remote.illustration, 1); /* the page rule held, and came across */
    CHECK_EQ_INT(remote.n_dets, 0);
    CHECK(remote.illustrated.label[0]);
    CHECK_MSG(remote.page_paper > 0.7 && remote.page_border > 0.99, "paper %.3f border %.3f",
              remote.page_paper, remote.page_border);
    /* the in-process JSON of the remote result says it as aviary detect --json does */
    json_t *j = av_detect_result_to_json(&remote, NULL);
    CHECK(json_is_true(json_object_get(j, "illustration")));
    CHECK(json_is_object(json_object_get(j, "illustrated")));
    json_decref(j);
    av_detect_result_free(&local);
    av_detect_result_free(&remote);
    free(png);

    /* a photo: measured, not a drawing, its bird kept */
    unsigned char *bmp = av_test_read_file(av_test_shared("testdata/images/bird.bmp"), &len);
    compare(c, bmp, len, &local, &remote);
    CHECK_EQ_INT(remote.page_measured, 1);
    CHECK_EQ_INT(remote.illustration, 0);
    CHECK(remote.n_dets >= 1);
    av_detect_result_free(&local);
    av_detect_result_free(&remote);
    free(bmp);
    av_serving_client_close(c);
    av_serving_stop(v.s);
}

TEST_MAIN(T(illustration_over_the_model_server))
