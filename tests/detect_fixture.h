/*
 * detect_fixture.h - shared set-up of the tests that run the detection
 * pipeline (t_detect_pipeline*, t_species_views, t_illus, t_serving_illus,
 * t_kserve...): reading a file whole, skipping when the models are not
 * fetched, opening ./models (or another folder), running an image file, and
 * the "bird on a white page" drawing.
 *
 * Linked into every test (Makefile TEST_LIB); failures go through CHECK and
 * SKIP, so call these only from inside a test case.
 */
#ifndef AV_DETECT_FIXTURE_H
#define AV_DETECT_FIXTURE_H

#include "detect/detect.h"

#include <stddef.h>

/* The whole file (NUL-terminated past *len); fails the case when unreadable. */
void *av_test_read_file(const char *path, size_t *len);
/* Writes n bytes to path (created or truncated); fails the case on an error. */
void av_test_write_file(const char *path, const void *b, size_t n);

/* Skips the case unless ./models has the detectors (NanoDet and CenterNet);
 * _species: and the iNat bird species model (scripts/setup fetches them). */
void av_test_need_models(void);
void av_test_need_species_model(void);

/* The pipeline of folder dir (NULL: ./models, after av_test_need_models)
 * with these options (NULL: one thread); fails the case when it does not open. */
av_detect_pipeline *av_test_open_pipeline(const char *dir, const av_detect_open_opts *o);

/*
 * A models folder NAME under the test's tmpdir: links to ./models' entries
 * except the manifest FILE ("pipeline.json", "inat_bird.json"), which is
 * ./models' FILE with the member at dotted KEY ("passes.zoom_out.recheck")
 * set to the JSON text VALUE, or removed when VALUE is NULL. Returns the
 * folder (a static buffer: the next call overwrites it); fails the case on
 * any error.
 */
const char *av_test_models_with(const char *name, const char *file, const char *key,
                                const char *value);

/* av_detect_run on the file at path; fails the case on any error. */
void av_test_run_file(av_detect_pipeline *p, const char *path, const av_detect_run_opts *o,
                      av_detect_result *r);

/* Boxes of COCO class 14 (bird), whole-image answers left out. */
int av_test_count_bird_boxes(const av_detect_result *r);

/* testdata/images/bird.bmp (a photo, 512x343) in the middle of a 1100x740
 * white page, as PNG: a drawing (README "Illustrations are not sightings"). */
unsigned char *av_test_bird_on_a_page(size_t *len);

/* bird.bmp tiled 2x2, the bottom-right cell black (RGB8, malloc'd, *w x *h):
 * three separate bird boxes. */
unsigned char *av_test_three_birds(int *w, int *h);

#endif
