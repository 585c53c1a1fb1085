/*
 * video_fixture.h - clips for the video tests (t_video, t_web_video): a
 * scratch path in the case's folder, ffmpeg run quietly, and the bird clip
 * (testdata/images/bird.bmp panned across) in any codec.
 *
 * Linked into every test (Makefile TEST_LIB); failures go through CHECK and
 * SKIP, so call these only from inside a test case.
 */
#ifndef AV_VIDEO_FIXTURE_H
#define AV_VIDEO_FIXTURE_H

/* av_test_tmpdir()/name; the last 8 answers stay valid. */
const char *av_test_tmp_path(const char *name);

/* ffmpeg -hide_banner -nostdin -loglevel error -y ARGS (printf-style); fails
 * the case, with ffmpeg's output, when it is missing or the encode fails. */
void av_test_ffmpeg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* bird.bmp panned across for secs at 25 fps (one bird: one visit), encoded
 * with the ffmpeg arguments codec, at av_test_tmp_path(name): that path. */
const char *av_test_make_bird(const char *name, double secs, const char *codec);

#endif
