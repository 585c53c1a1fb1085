/*
 * t_video.c - src/video: the tracker on synthetic detections, magic bytes,
 * then real clips made at test time with the ffmpeg command-line tool from
 * the shared test images (a zoomed parrot in MP4, a panned bird in WebM,
 * MOV and MKV, a cat in AVI), the limits, cancellation, `aviary detect` on
 * a video, and hostile files (empty, truncated, random after ftyp, audio
 * only, 9000x9000 frames, a header claiming huge frames).
 *
 * Clip cases need ffmpeg (scripts/setup installs it) and fail without it;
 * like t_detect_pipeline they skip only when the models are not fetched.
 */
#define _GNU_SOURCE /* dladdr */
#include "harness.h"
#include "detect_fixture.h"
#include "proc.h"
#include "video_fixture.h"

#include "video/video.h"

#include <dlfcn.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static av_detect_det mkdet(float x1, float y1, float x2, float y2, float conf, int n,
                           const int *cls)
{
    av_detect_det d;
    memset(&d, 0, sizeof d);
    d.x1 = x1, d.y1 = y1, d.x2 = x2, d.y2 = y2;
    d.det_score = 0.6f;
    d.class_index = 14;
    snprintf(d.class_name, sizeof d.class_name, "bird");
    d.n_species = n;
    for (int i = 0; i < n; i++) {
        d.species[i].class_index = cls[i];
        d.species[i].score = i == 0 ? conf : conf / (float)(4 * i);
        snprintf(d.species[i].scientific, sizeof d.species[i].scientific, "Species %d", cls[i]);
        snprintf(d.species[i].common, sizeof d.species[i].common, "Common %d", cls[i]);
    }
    snprintf(d.label, sizeof d.label, n ? "Common %d" : "Bird", n ? cls[0] : 0);
    d.confidence = conf;
    return d;
}

static const int MACAW[3] = {923, 837, 245};
static const int MAGPIE[3] = {700, 701, 702};

/* A 4 s, 25 fps clip of parrot.jpg slowly zooming in (H.264 MP4). */
static const char *make_parrot_mp4(void)
{
    const char *out = av_test_tmp_path("parrot.mp4");
    av_test_ffmpeg("-i '%s' -vf \"zoompan=z='min(zoom+0.002,1.3)':x='iw/2-(iw/zoom/2)':"
                   "y='ih/2-(ih/zoom/2)':d=100:s=512x928:fps=25,format=yuv420p\" -c:v libx264 "
                   "-preset ultrafast '%s'",
                   av_test_shared("testdata/images/parrot.jpg"), out);
    return out;
}

static av_detect_pipeline *open_pipeline(void)
{
    av_test_need_species_model();
    av_detect_open_opts oo = {.threads = 2, .max_contexts = 1};
    return av_test_open_pipeline(NULL, &oo);
}

static av_video_status run_path(av_detect_pipeline *p, const char *path, const av_video_opts *o,
                                av_video_result *r, char *err, size_t errlen)
{
    size_t len;
    void *buf = av_test_read_file(path, &len);
    av_video_status st = av_video_run(p, buf, len, o, r, err, errlen);
    free(buf);
    return st;
}

/* Expect a failure with the given status and a message containing `word`. */
static void expect_fail(av_detect_pipeline *p, const void *buf, size_t len, const av_video_opts *o,
                        av_video_status want, const char *word, const char *what)
{
    av_video_result r;
    char err[1024] = "";
    av_video_status st = av_video_run(p, buf, len, o, &r, err, sizeof err);
    CHECK_MSG(st == want, "%s: status %d (%s) '%s', wanted %d (%s)", what, st,
              av_video_strerror(st), err, want, av_video_strerror(want));
    CHECK_MSG(err[0], "%s: no message", what);
    if (word)
        CHECK_MSG(strstr(err, word), "%s: message '%s' lacks '%s'", what, err, word);
    CHECK_EQ_INT(r.n_frames, 0);
    CHECK(r.frames == NULL && r.tracks == NULL && r.dets == NULL);
}

/* The visits of a result, one line each, for failure messages. */
static const char *visits_text(const av_video_result *r)
{
    static char buf[2048];
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->n_tracks && n < sizeof buf - 200; i++) {
        const av_video_track *t = &r->tracks[i];
        n += (size_t)snprintf(buf + n, sizeof buf - n, "\n  visit %d: %s %.2f-%.2f s, %d frames, "
                              "best %.3f [%.0f,%.0f,%.0f,%.0f]",
                              t->id, t->label, t->first_s, t->last_s, t->n_frames,
                              t->best_confidence, t->best.x1, t->best.y1, t->best.x2, t->best.y2);
    }
    for (int i = 0; i < r->n_dets && n < sizeof buf - 200; i++) {
        const av_video_det *d = &r->dets[i];
        n += (size_t)snprintf(buf + n, sizeof buf - n, "\n  t=%.2f track %d %s %.3f "
                              "[%.0f,%.0f,%.0f,%.0f]", r->frames[d->frame].t, d->track,
                              d->det.label, d->det.confidence, d->det.x1, d->det.y1, d->det.x2,
                              d->det.y2);
    }
    return buf;
}

/* ---------------------------------------------------------------- tracker */

TEST(tracker_iou_continuity_one_visit)
{
    av_video_tracker *t;
    CHECK_EQ_INT(av_video_tracker_new(NULL, &t), AV_VIDEO_OK);
    for (int f = 0; f < 40; f++) { /* 20 s at 2 fps, the box drifting right */
        float x = 100 + f * 4.0f;
        float conf = f == 17 ? 0.95f : 0.7f;
        av_detect_det d = mkdet(x, 50, x + 200, 250, conf, 3, MACAW);
        int id = -1;
        CHECK_EQ_INT(av_video_tracker_add(t, f, f * 0.5, &d, 1, &id), AV_VIDEO_OK);
        CHECK_EQ_INT(id, 1);
    }
    const av_video_track *tr;
    CHECK_EQ_INT(av_video_tracker_tracks(t, &tr), 1);
    CHECK_EQ_INT(tr[0].id, 1);
    CHECK_EQ_INT(tr[0].n_frames, 40);
    CHECK_NEAR(tr[0].first_s, 0, 1e-9);
    CHECK_NEAR(tr[0].last_s, 19.5, 1e-9);
    CHECK_EQ_INT(tr[0].class_index, 923);
    CHECK_STR_EQ(tr[0].scientific, "Species 923");
    CHECK_NEAR(tr[0].best_confidence, 0.95, 1e-6);
    CHECK_EQ_INT(tr[0].best_frame, 17);
    CHECK_NEAR(tr[0].best_t, 8.5, 1e-9);
    CHECK_NEAR(tr[0].best.x1, 100 + 17 * 4, 1e-4);
    av_video_tracker_free(t);
}

TEST(tracker_species_switch_makes_new_visit)
{
    av_video_tracker *t;
    CHECK_EQ_INT(av_video_tracker_new(NULL, &t), AV_VIDEO_OK);
    int ids[6];
    for (int f = 0; f < 6; f++) {
        av_detect_det d = mkdet(10, 10, 110, 110, 0.8f, 3, f < 3 ? MACAW : MAGPIE);
        CHECK_EQ_INT(av_video_tracker_add(t, f, f * 0.5, &d, 1, &ids[f]), AV_VIDEO_OK);
    }
    CHECK(ids[0] == 1 && ids[1] == 1 && ids[2] == 1);
    CHECK(ids[3] == 2 && ids[4] == 2 && ids[5] == 2);
    const av_video_track *tr;
    CHECK_EQ_INT(av_video_tracker_tracks(t, &tr), 2);
    CHECK_EQ_INT(tr[0].class_index, 923);
    CHECK_EQ_INT(tr[1].class_index, 700);
    CHECK_NEAR(tr[0].last_s, 1.0, 1e-9);
    CHECK_NEAR(tr[1].first_s, 1.5, 1e-9);
    av_video_tracker_free(t);
}

TEST(tracker_top1_flicker_within_top3_stays_one_visit)
{
    av_video_tracker *t;
    CHECK_EQ_INT(av_video_tracker_new(NULL, &t), AV_VIDEO_OK);
    static const int ROSELLA[3] = {837, 923, 245};
    for (int f = 0; f < 7; f++) {
        av_detect_det d = mkdet(10, 10, 110, 110, f == 3 ? 0.5f : 0.8f, 3,
                                f == 3 ? ROSELLA : MACAW);
        int id;
        CHECK_EQ_INT(av_video_tracker_add(t, f, f * 0.5, &d, 1, &id), AV_VIDEO_OK);
        CHECK_EQ_INT(id, 1);
    }
    const av_video_track *tr;
    CHECK_EQ_INT(av_video_tracker_tracks(t, &tr), 1);
    CHECK_EQ_INT(tr[0].class_index, 923); /* the vote, not the odd frame */
    CHECK_EQ_INT(tr[0].n_frames, 7);
    av_video_tracker_free(t);
}

TEST(tracker_gap_tolerance)
{
    /* default max_gap 2: two missing frames keep the visit, three end it */
    int seen[] = {1, 1, 0, 0, 1, 0, 0, 0, 1};
    av_video_tracker *t;
    CHECK_EQ_INT(av_video_tracker_new(NULL, &t), AV_VIDEO_OK);
    int last = 0;
    for (int f = 0; f < 9; f++) {
        av_detect_det d = mkdet(10, 10, 110, 110, 0.8f, 3, MACAW);
        int id = 0;
        CHECK_EQ_INT(av_video_tracker_add(t, f, f * 0.5, &d, seen[f], &id), AV_VIDEO_OK);
        if (seen[f])
            last = id;
        if (f == 4)
            CHECK_EQ_INT(id, 1);
    }
    CHECK_EQ_INT(last, 2);
    const av_video_track *tr;
    CHECK_EQ_INT(av_video_tracker_tracks(t, &tr), 2);
    CHECK_EQ_INT(tr[0].n_frames, 3);
    CHECK_NEAR(tr[0].last_s, 2.0, 1e-9);
    CHECK_NEAR(tr[1].first_s, 4.0, 1e-9);
    av_video_tracker_free(t);

    /* max_gap 0: any missing frame ends a visit */
    av_video_track_opts o = {.max_gap = 0};
    CHECK_EQ_INT(av_video_tracker_new(&o, &t), AV_VIDEO_OK);
    int seen2[] = {1, 0, 1, 1};
    for (int f = 0; f < 4; f++) {
        av_detect_det d = mkdet(10, 10, 110, 110, 0.8f, 3, MACAW);
        CHECK_EQ_INT(av_video_tracker_add(t, f, f * 0.5, &d, seen2[f], NULL), AV_VIDEO_OK);
    }
    CHECK_EQ_INT(av_video_tracker_tracks(t, &tr), 2);
    av_video_tracker_free(t);
}

TEST(tracker_two_birds_and_a_jump)
{
    av_video_tracker *t;
    CHECK_EQ_INT(av_video_tracker_new(NULL, &t), AV_VIDEO_OK);
    for (int f = 0; f < 5; f++) {
        /* two birds side by side, same species, both drifting */
        av_detect_det d[2] = {mkdet(10.0f + f, 10, 110.0f + f, 110, 0.8f, 3, MACAW),
                              mkdet(300.0f - f, 10, 400.0f - f, 110, 0.7f, 3, MACAW)};
        int ids[2];
        CHECK_EQ_INT(av_video_tracker_add(t, f, f * 0.5, d, 2, ids), AV_VIDEO_OK);
        CHECK_EQ_INT(ids[0], 1);
        CHECK_EQ_INT(ids[1], 2);
    }
    /* a box far from both (IoU 0) starts a third visit */
    av_detect_det far = mkdet(600, 300, 700, 400, 0.8f, 3, MACAW);
    int id;
    CHECK_EQ_INT(av_video_tracker_add(t, 5, 2.5, &far, 1, &id), AV_VIDEO_OK);
    CHECK_EQ_INT(id, 3);
    /* no species: the detector class must agree instead */
    av_detect_det plain = mkdet(600, 300, 700, 400, 0.6f, 0, NULL);
    CHECK_EQ_INT(av_video_tracker_add(t, 6, 3.0, &plain, 1, &id), AV_VIDEO_OK);
    CHECK_EQ_INT(id, 4);
    av_detect_det plain2 = mkdet(605, 300, 705, 400, 0.65f, 0, NULL);
    CHECK_EQ_INT(av_video_tracker_add(t, 7, 3.5, &plain2, 1, &id), AV_VIDEO_OK);
    CHECK_EQ_INT(id, 4);
    const av_video_track *tr;
    CHECK_EQ_INT(av_video_tracker_tracks(t, &tr), 4);
    CHECK_STR_EQ(tr[3].label, "Bird");
    CHECK_STR_EQ(tr[3].scientific, "");
    CHECK_NEAR(tr[3].best_confidence, 0.65, 1e-6);
    CHECK_EQ_INT(av_video_tracker_add(t, 8, 4.0, NULL, -1, NULL), AV_VIDEO_E_ARG);
    av_video_tracker_free(t);
}

TEST(tracker_nested_duplicate_box_joins_the_visit)
{
    av_video_tracker *t;
    CHECK_EQ_INT(av_video_tracker_new(NULL, &t), AV_VIDEO_OK);
    for (int f = 0; f < 4; f++) {
        /* the detector also boxes the bird's lower half on frame 2 */
        av_detect_det d[2] = {mkdet(15, 32, 435, 290, 0.9f, 3, MACAW),
                              mkdet(15, 149, 295, 290, 0.85f, 3, MACAW)};
        int ids[2] = {0, 0};
        CHECK_EQ_INT(av_video_tracker_add(t, f, f * 0.5, d, f == 2 ? 2 : 1, ids), AV_VIDEO_OK);
        CHECK_EQ_INT(ids[0], 1);
        if (f == 2)
            CHECK_EQ_INT(ids[1], 1);
    }
    const av_video_track *tr;
    CHECK_EQ_INT(av_video_tracker_tracks(t, &tr), 1);
    CHECK_EQ_INT(tr[0].n_frames, 4);
    /* a different species in the same place is another bird */
    av_detect_det d[2] = {mkdet(15, 32, 435, 290, 0.9f, 3, MACAW),
                          mkdet(15, 149, 295, 290, 0.85f, 3, MAGPIE)};
    int ids[2];
    CHECK_EQ_INT(av_video_tracker_add(t, 4, 2.0, d, 2, ids), AV_VIDEO_OK);
    CHECK_EQ_INT(ids[0], 1);
    CHECK_EQ_INT(ids[1], 2);
    av_video_tracker_free(t);
}

TEST(sniff_magic_bytes)
{
    static const unsigned char mp4[] = "\0\0\0\x20" "ftypisom\0\0\2\0";
    static const unsigned char mov[] = "\0\0\0\x14" "ftypqt  \0\0\2\0";
    static const unsigned char oldmov[] = "\0\0\x10\0" "moov\0\0\0\0";
    static const unsigned char webm[] = "\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01"
                                        "\x42\x82\x84webm";
    static const unsigned char mkv[] = "\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01"
                                       "\x42\x82\x88matroska";
    static const unsigned char avi[] = "RIFF\x10\0\0\0" "AVI LIST";
    static const unsigned char wav[] = "RIFF\x10\0\0\0" "WAVEfmt ";
    static const unsigned char badftyp[] = "\0\0\0\x04" "ftypisom";
    CHECK_EQ_INT(av_video_sniff(mp4, sizeof mp4 - 1), AV_VIDEO_MP4);
    CHECK_EQ_INT(av_video_sniff(mov, sizeof mov - 1), AV_VIDEO_MOV);
    CHECK_EQ_INT(av_video_sniff(oldmov, sizeof oldmov - 1), AV_VIDEO_MOV);
    CHECK_EQ_INT(av_video_sniff(webm, sizeof webm - 1), AV_VIDEO_WEBM);
    CHECK_EQ_INT(av_video_sniff(mkv, sizeof mkv - 1), AV_VIDEO_MKV);
    CHECK_EQ_INT(av_video_sniff(avi, sizeof avi - 1), AV_VIDEO_AVI);
    CHECK_EQ_INT(av_video_sniff(wav, sizeof wav - 1), AV_VIDEO_NONE);
    CHECK_EQ_INT(av_video_sniff(badftyp, sizeof badftyp - 1), AV_VIDEO_NONE);
    CHECK_EQ_INT(av_video_sniff(mp4, 8), AV_VIDEO_NONE);
    CHECK_EQ_INT(av_video_sniff(NULL, 0), AV_VIDEO_NONE);
    CHECK_EQ_INT(av_video_sniff("\xff\xd8\xff\xe0\0\x10JFIF\0\1", 12), AV_VIDEO_NONE);
    CHECK_STR_EQ(av_video_container_name(AV_VIDEO_WEBM), "webm");
    CHECK_STR_EQ(av_video_container_name(AV_VIDEO_NONE), "none");
    CHECK_STR_EQ(av_video_strerror(AV_VIDEO_E_NOVIDEO), "no video stream");
}

/* FFmpeg's libraries call av_log(), a name Aviary's log module also
 * defines; if the executable exports Aviary's, FFmpeg's calls land in it
 * with the wrong arguments (a crash at --log-level debug). */
TEST(ffmpeg_av_log_not_interposed)
{
    void *sym = dlsym(RTLD_DEFAULT, "av_log");
    CHECK_MSG(sym, "av_log not found");
    Dl_info info;
    CHECK(dladdr(sym, &info) && info.dli_fname);
    CHECK_MSG(strstr(info.dli_fname, "libavutil"),
              "av_log resolves to %s, not libavutil: FFmpeg's log calls reach Aviary's av_log "
              "(link with -Wl,--exclude-libs,ALL or rename src/log's av_log)",
              info.dli_fname);
}

/* ----------------------------------------------------------------- clips */

typedef struct progress_log {
    int calls, last_done, last_expected, monotonic, cancel_at;
} progress_log;

static int on_progress(void *ud, int done, int expected)
{
    progress_log *l = ud;
    if (done < l->last_done || done > expected)
        l->monotonic = 0;
    l->calls++;
    l->last_done = done;
    l->last_expected = expected;
    return l->cancel_at > 0 && done >= l->cancel_at;
}

TEST(parrot_mp4_is_one_scarlet_macaw_visit)
{
    const char *clip = make_parrot_mp4();
    av_detect_pipeline *p = open_pipeline();
    progress_log pl = {.monotonic = 1};
    av_video_opts o = {.progress = on_progress, .progress_ud = &pl};
    av_video_result r;
    char err[1024];
    CHECK_MSG(run_path(p, clip, &o, &r, err, sizeof err) == AV_VIDEO_OK, "%s", err);
    CHECK_EQ_INT(r.container, AV_VIDEO_MP4);
    CHECK_STR_EQ(r.codec, "h264");
    CHECK_EQ_INT(r.width, 512);
    CHECK_EQ_INT(r.height, 928);
    CHECK_NEAR(r.duration_s, 4.0, 0.05);
    CHECK_NEAR(r.source_fps, 25, 0.01);
    CHECK_EQ_INT(r.frames_decoded, 100);
    CHECK_EQ_INT(r.n_frames, 8); /* 2 fps over 4 s, first frame included */
    CHECK_EQ_INT(r.frames_expected, 8);
    CHECK_NEAR(r.frames[0].t, 0, 1e-9);
    CHECK_EQ_INT(r.frames[0].index, 0);
    for (int i = 1; i < r.n_frames; i++) {
        CHECK_NEAR(r.frames[i].t, i * 0.5, 0.041);
        CHECK(r.frames[i].index > r.frames[i - 1].index);
    }
    CHECK_MSG(r.n_tracks == 1, "%d visits:%s", r.n_tracks, visits_text(&r));
    const av_video_track *t = &r.tracks[0];
    CHECK_STR_EQ(t->scientific, "Ara macao");
    CHECK_STR_EQ(t->common, "Scarlet Macaw");
    CHECK(t->n_frames >= 6);
    CHECK(t->best_confidence > 0.5f);
    CHECK(t->best_frame >= 0 && t->best_frame < r.n_frames);
    CHECK(t->best.x2 > t->best.x1 && t->best.x2 <= 512 && t->best.y2 <= 928);
    CHECK(t->last_s - t->first_s >= 2.5);
    for (int i = 0; i < r.n_dets; i++)
        CHECK_EQ_INT(r.dets[i].track, 1);
    CHECK(pl.monotonic);
    CHECK_EQ_INT(pl.calls, 8);
    CHECK_EQ_INT(pl.last_done, 8);
    CHECK_EQ_INT(pl.last_expected, 8);

    json_t *j = av_video_result_to_json(&r, "parrot.mp4", 1);
    CHECK(j);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "container")), "mp4");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "frame_count")), 8);
    json_t *tr = json_object_get(j, "tracks");
    CHECK_EQ_INT(json_array_size(tr), 1);
    json_t *t0 = json_array_get(tr, 0);
    CHECK_STR_EQ(json_string_value(json_object_get(t0, "scientific")), "Ara macao");
    CHECK(json_is_array(json_object_get(json_object_get(t0, "best_frame"), "box")));
    CHECK(json_array_size(json_object_get(t0, "species")) >= 1);
    json_t *fr = json_object_get(j, "frames");
    CHECK_EQ_INT(json_array_size(fr), 8);
    json_t *d0 = json_array_get(json_object_get(json_array_get(fr, 0), "detections"), 0);
    if (d0)
        CHECK_EQ_INT(json_integer_value(json_object_get(d0, "track")), 1);
    json_decref(j);
    j = av_video_result_to_json(&r, NULL, 0);
    CHECK(j && !json_object_get(j, "frames") && !json_object_get(j, "video"));
    json_decref(j);
    av_video_result_free(&r);
    CHECK(r.tracks == NULL && r.n_tracks == 0);
    av_detect_pipeline_close(p);
}

TEST(bird_webm_vp8_one_visit_from_file)
{
    const char *clip =
        av_test_make_bird("bird.webm", 4, "-c:v libvpx -b:v 1M -deadline realtime -cpu-used 8");
    av_detect_pipeline *p = open_pipeline();
    av_video_result r;
    char err[1024];
    CHECK_MSG(av_video_run_file(p, clip, NULL, &r, err, sizeof err) == AV_VIDEO_OK, "%s", err);
    CHECK_EQ_INT(r.container, AV_VIDEO_WEBM);
    CHECK_STR_EQ(r.codec, "vp8");
    CHECK_EQ_INT(r.width, 448);
    CHECK_EQ_INT(r.n_frames, 8);
    CHECK_MSG(r.n_tracks == 1, "%d visits:%s", r.n_tracks, visits_text(&r));
    CHECK(r.tracks[0].n_frames >= 6);
    CHECK_STR_EQ(r.tracks[0].best.class_name, "bird");
    av_video_result_free(&r);
    CHECK_EQ_INT(av_video_run_file(p, av_test_tmp_path("missing.webm"), NULL, &r, err, sizeof err),
                 AV_VIDEO_E_IO);
    av_detect_pipeline_close(p);
}

TEST(cat_avi_mjpeg_has_no_visit)
{
    const char *clip = av_test_tmp_path("cat.avi");
    av_test_ffmpeg(
        "-loop 1 -framerate 25 -t 2 -i '%s' -vf scale=512:340,format=yuvj420p -c:v mjpeg "
        "-q:v 4 '%s'",
        av_test_shared("testdata/images/cat.bmp"), clip);
    av_detect_pipeline *p = open_pipeline();
    av_video_result r;
    char err[1024];
    CHECK_MSG(run_path(p, clip, NULL, &r, err, sizeof err) == AV_VIDEO_OK, "%s", err);
    CHECK_EQ_INT(r.container, AV_VIDEO_AVI);
    CHECK_STR_EQ(r.codec, "mjpeg");
    CHECK_EQ_INT(r.n_frames, 4);
    CHECK_MSG(r.n_tracks == 0, "%d visits on the cat:%s", r.n_tracks, visits_text(&r));
    CHECK_EQ_INT(r.n_dets, 0);
    av_video_result_free(&r);
    av_detect_pipeline_close(p);
}

TEST(mov_mpeg4_and_mkv_vp9_containers)
{
    const char *mov = av_test_make_bird("bird.mov", 2, "-c:v mpeg4 -q:v 4 -f mov");
    const char *mkv =
        av_test_make_bird("bird.mkv", 2, "-c:v libvpx-vp9 -b:v 500k -deadline realtime -cpu-used 8");
    av_detect_pipeline *p = open_pipeline();
    const char *clips[2] = {mov, mkv};
    av_video_container want[2] = {AV_VIDEO_MOV, AV_VIDEO_MKV};
    const char *codec[2] = {"mpeg4", "vp9"};
    for (int i = 0; i < 2; i++) {
        av_video_opts o = {.fps = 1};
        av_video_result r;
        char err[1024];
        CHECK_MSG(run_path(p, clips[i], &o, &r, err, sizeof err) == AV_VIDEO_OK, "%s: %s",
                  clips[i], err);
        CHECK_EQ_INT(r.container, want[i]);
        CHECK_STR_EQ(r.codec, codec[i]);
        CHECK_EQ_INT(r.n_frames, 2);
        CHECK_MSG(r.n_tracks == 1, "%s: %d visits:%s", clips[i], r.n_tracks, visits_text(&r));
        av_video_result_free(&r);
    }
    av_detect_pipeline_close(p);
}

TEST(sampling_rate_and_cancel)
{
    const char *clip =
        av_test_make_bird("bird.mp4", 2, "-c:v libx264 -preset ultrafast -g 10 -bf 2");
    av_detect_pipeline *p = open_pipeline();
    av_video_opts o = {.fps = 4};
    av_video_result r;
    char err[1024];
    CHECK_MSG(run_path(p, clip, &o, &r, err, sizeof err) == AV_VIDEO_OK, "%s", err);
    CHECK_EQ_INT(r.n_frames, 8);
    CHECK_NEAR(r.sample_fps, 4, 1e-9);
    for (int i = 0; i < r.n_frames; i++)
        CHECK_NEAR(r.frames[i].t, i * 0.25, 0.041);
    CHECK_EQ_INT(r.n_tracks, 1);
    av_video_result_free(&r);

    progress_log pl = {.monotonic = 1, .cancel_at = 2};
    o = (av_video_opts){.progress = on_progress, .progress_ud = &pl};
    CHECK_EQ_INT(run_path(p, clip, &o, &r, err, sizeof err), AV_VIDEO_E_CANCELLED);
    CHECK_EQ_INT(pl.calls, 2);
    CHECK_EQ_INT(pl.last_expected, 4);
    CHECK_STR_CONTAINS(err, "cancelled");
    CHECK(r.frames == NULL && r.n_frames == 0);
    av_detect_pipeline_close(p);
}

TEST(limits_bytes_duration_pixels)
{
    const char *clip = av_test_make_bird("bird.mp4", 4, "-c:v libx264 -preset ultrafast");
    av_detect_pipeline *p = open_pipeline();
    size_t len;
    void *buf = av_test_read_file(clip, &len);
    av_video_opts o = {.limits = {.max_bytes = (long long)len - 1}};
    expect_fail(p, buf, len, &o, AV_VIDEO_E_LIMIT, "limit", "max_bytes");
    o = (av_video_opts){.limits = {.max_seconds = 2}};
    expect_fail(p, buf, len, &o, AV_VIDEO_E_LIMIT, "4.0 s long", "max_seconds");
    o = (av_video_opts){.limits = {.max_pixels = 100000}};
    expect_fail(p, buf, len, &o, AV_VIDEO_E_LIMIT, "448x300", "max_pixels");
    free(buf);
    av_detect_pipeline_close(p);
}

TEST(hostile_empty_random_ftyp_and_truncated)
{
    av_detect_pipeline *p = open_pipeline();
    expect_fail(p, "", 0, NULL, AV_VIDEO_E_FORMAT, "empty", "zero bytes");
    unsigned char junk[4096];
    srand(9);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(rand() >> 7);
    expect_fail(p, junk, sizeof junk, NULL, AV_VIDEO_E_FORMAT, "signature", "random bytes");
    memcpy(junk, "\0\0\0\x18" "ftypisom\0\0\2\0isomiso2", 24);
    expect_fail(p, junk, sizeof junk, NULL, AV_VIDEO_E_CORRUPT, "mp4", "ftyp + random");
    memcpy(junk, "\x1a\x45\xdf\xa3", 4);
    expect_fail(p, junk, sizeof junk, NULL, AV_VIDEO_E_CORRUPT, NULL, "EBML + random");
    memcpy(junk, "RIFF\0\x10\0\0" "AVI LIST", 16);
    expect_fail(p, junk, sizeof junk, NULL, AV_VIDEO_E_CORRUPT, NULL, "RIFF AVI + random");

    const char *clips[3] = {
        av_test_make_bird("t.mp4", 3, "-c:v libx264 -preset ultrafast"),
        av_test_make_bird("t.webm", 3, "-c:v libvpx -b:v 1M -deadline realtime -cpu-used 8"),
        av_test_make_bird("t.avi", 3, "-c:v mjpeg -q:v 5 -pix_fmt yuvj420p"),
    };
    const double cuts[] = {0.0, 0.02, 0.3, 0.6, 0.8};
    for (int c = 0; c < 3; c++) {
        size_t len;
        unsigned char *buf = av_test_read_file(clips[c], &len);
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            size_t n = k == 0 ? 16 : (size_t)(len * cuts[k]);
            char what[256];
            snprintf(what, sizeof what, "%s cut at %zu of %zu bytes", clips[c], n, len);
            av_video_opts o1 = {.fps = 1};
            expect_fail(p, buf, n, &o1, AV_VIDEO_E_CORRUPT, NULL, what);
        }
        /* random damage in the middle: an error or a result, never a crash */
        for (size_t i = len / 3; i < len / 3 + 2000 && i < len; i += 7)
            buf[i] ^= 0x5a;
        av_video_result r;
        char err[1024];
        av_video_opts o = {.fps = 1};
        if (av_video_run(p, buf, len, &o, &r, err, sizeof err) == AV_VIDEO_OK)
            av_video_result_free(&r);
        else
            CHECK(err[0]);
        free(buf);
    }
    av_detect_pipeline_close(p);
}

TEST(hostile_audio_only)
{
    const char *a = av_test_tmp_path("sine.mp4");
    av_test_ffmpeg("-f lavfi -i sine=frequency=440:duration=1 -c:a aac '%s'", a);
    const char *w = av_test_tmp_path("sine.mkv");
    av_test_ffmpeg("-f lavfi -i sine=frequency=440:duration=1 -c:a pcm_s16le '%s'", w);
    av_detect_pipeline *p = open_pipeline();
    const char *files[2] = {a, w};
    for (int i = 0; i < 2; i++) {
        size_t len;
        void *buf = av_test_read_file(files[i], &len);
        expect_fail(p, buf, len, NULL, AV_VIDEO_E_NOVIDEO, "only audio", files[i]);
        free(buf);
    }
    av_detect_pipeline_close(p);
}

/* Offset of the first `tag` chunk id in an AVI, or 0. */
static size_t find_tag(const unsigned char *b, size_t n, const char *tag)
{
    for (size_t i = 12; i + 8 <= n; i++)
        if (!memcmp(b + i, tag, 4))
            return i;
    return 0;
}

static void put_le32(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
    p[3] = (unsigned char)(v >> 24);
}

TEST(hostile_huge_frames)
{
    const char *huge = av_test_tmp_path("huge.avi");
    av_test_ffmpeg(
        "-f lavfi -i color=c=gray:s=9000x9000:r=1 -frames:v 1 -c:v mjpeg -pix_fmt yuvj420p "
        "-q:v 20 '%s'",
        huge);
    av_detect_pipeline *p = open_pipeline();
    size_t len;
    void *buf = av_test_read_file(huge, &len);
    expect_fail(p, buf, len, NULL, AV_VIDEO_E_LIMIT, "9000x9000", "9000x9000 frame");
    free(buf);

    /* a small AVI whose headers claim 60000 x 60000 frames */
    const char *small = av_test_make_bird("small.avi", 1, "-c:v mjpeg -q:v 5 -pix_fmt yuvj420p");
    unsigned char *b = av_test_read_file(small, &len);
    size_t avih = find_tag(b, len, "avih"), strf = find_tag(b, len, "strf");
    CHECK(avih && strf);
    put_le32(b + avih + 8 + 32, 60000); /* dwWidth, dwHeight */
    put_le32(b + avih + 8 + 36, 60000);
    put_le32(b + strf + 8 + 4, 60000);  /* biWidth, biHeight */
    put_le32(b + strf + 8 + 8, 60000);
    av_video_result r;
    char err[1024];
    av_video_status st = av_video_run(p, b, len, NULL, &r, err, sizeof err);
    /* refused on the header, or (when the demuxer takes the size from the
     * decoded frame) read at its real size: never a 3.6 Gpx allocation */
    if (st == AV_VIDEO_OK) {
        CHECK_MSG(r.width == 448 && r.height == 300, "%dx%d", r.width, r.height);
        av_video_result_free(&r);
    } else {
        CHECK_MSG(st == AV_VIDEO_E_LIMIT || st == AV_VIDEO_E_CORRUPT, "%d: %s", st, err);
        CHECK(err[0]);
    }
    free(b);
    av_detect_pipeline_close(p);
}

TEST(cli_detect_video_and_image)
{
    av_test_need_species_model();
    const char *clip = make_parrot_mp4();
    const char *bird = av_test_shared("testdata/images/bird.bmp");
    char cmd[2048];
    const char *out = av_test_tmp_path("out.jsonl");
    snprintf(cmd, sizeof cmd, "'%s' detect --json --models models '%s' '%s' >'%s' 2>/dev/null",
             av_test_aviary_bin(), clip, bird, out);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    size_t len;
    char *text = av_test_read_file(out, &len);
    text[len] = '\0';
    char *nl = strchr(text, '\n');
    CHECK(nl);
    *nl = '\0';
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    CHECK_MSG(v, "line 1: %s", je.text);
    CHECK_STR_EQ(json_string_value(json_object_get(v, "video")), clip);
    CHECK_EQ_INT(json_integer_value(json_object_get(v, "frame_count")), 8);
    json_t *tr = json_object_get(v, "tracks");
    CHECK_EQ_INT(json_array_size(tr), 1);
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(tr, 0), "scientific")),
                 "Ara macao");
    json_decref(v);
    json_t *im = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, &je);
    CHECK_MSG(im, "line 2: %s", je.text);
    CHECK(json_is_array(json_object_get(im, "detections")));
    CHECK(!json_object_get(im, "tracks"));
    json_decref(im);
    free(text);

    /* text form, a broken video (exit 1, says why) */
    const char *bad = av_test_tmp_path("bad.mp4");
    av_test_write_file(bad, "\0\0\0\x18" "ftypisom\0\0\2\0isomiso2", 24);
    snprintf(cmd, sizeof cmd, "'%s' detect --models models '%s' >'%s' 2>/dev/null",
             av_test_aviary_bin(), bad, out);
    CHECK_EQ_INT(WEXITSTATUS(system(cmd)), 1);
    text = av_test_read_file(out, &len);
    text[len] = '\0';
    CHECK_STR_CONTAINS(text, "error:");
    CHECK_STR_CONTAINS(text, "mp4");
    free(text);
}

TEST_MAIN(T(tracker_iou_continuity_one_visit), T(tracker_species_switch_makes_new_visit),
          T(tracker_top1_flicker_within_top3_stays_one_visit), T(tracker_gap_tolerance),
          T(tracker_two_birds_and_a_jump),
          T(tracker_nested_duplicate_box_joins_the_visit), T(sniff_magic_bytes), T(ffmpeg_av_log_not_interposed),
          T(parrot_mp4_is_one_scarlet_macaw_visit), T(bird_webm_vp8_one_visit_from_file),
          T(cat_avi_mjpeg_has_no_visit), T(mov_mpeg4_and_mkv_vp9_containers),
          T(sampling_rate_and_cancel), T(limits_bytes_duration_pixels),
          T(hostile_empty_random_ftyp_and_truncated), T(hostile_audio_only),
          T(hostile_huge_frames), T(cli_detect_video_and_image))
