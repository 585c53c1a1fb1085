/*
 * t_web_video.c - video uploads in the web application, over real HTTP on
 * an ephemeral port, with SQLite (or $AVIARY_TEST_DB as t_web_app) and the
 * real pipeline on short clips made at test time with ffmpeg from the
 * shared test images: upload through the form and the API, background
 * analysis and its progress, the results page (poster, SVG timeline, visits
 * table, feedback), failures (corrupt, audio only), limits, and restarts.
 *
 * Skips (with the reason) when ffmpeg or the models are missing.
 */
#include "harness.h"
#include "http.h"
#include "detect_fixture.h"
#include "video_fixture.h"
#include "web_fixture.h"

#include "detect/detect.h"
#include "store/store.h"
#include "video/video.h"
#include "vision/vision.h"
#include "web/web.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const tracked[] = {"Erithacus rubecula", "Periparus ater", "Pica pica"};

/* ---- clips ---- */

/* The bird clip's bytes (av_test_make_bird). */
static char *make_bird(const char *name, double secs, const char *codec, size_t *len)
{
    return av_test_read_file(av_test_make_bird(name, secs, codec), len);
}

/* ---- the analyzer: the real pipeline, optionally held at a gate ---- */

static av_detect_pipeline *g_pipe;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_gate;      /* 1: runs wait (reporting progress) until released */
static int g_waiting;   /* runs waiting at the gate */
static int g_calls;

static av_video_status analyze_video(void *ud, const void *bytes, size_t len,
                                     const av_video_opts *opts, av_video_result *r, char *err,
                                     size_t errlen)
{
    (void)ud;
    pthread_mutex_lock(&g_mu);
    g_calls++;
    int gate = g_gate;
    if (gate)
        g_waiting++;
    pthread_mutex_unlock(&g_mu);
    while (gate) { /* as a long video: progress keeps coming, the server may cancel */
        if (opts->progress && opts->progress(opts->progress_ud, 1, 4)) {
            pthread_mutex_lock(&g_mu);
            g_waiting--;
            pthread_mutex_unlock(&g_mu);
            memset(r, 0, sizeof *r);
            snprintf(err, errlen, "cancelled");
            return AV_VIDEO_E_CANCELLED;
        }
        usleep(20 * 1000);
        pthread_mutex_lock(&g_mu);
        gate = g_gate;
        if (!gate)
            g_waiting--;
        pthread_mutex_unlock(&g_mu);
    }
    return av_video_run(g_pipe, bytes, len, opts, r, err, errlen);
}

static void set_gate(int on)
{
    pthread_mutex_lock(&g_mu);
    g_gate = on;
    pthread_mutex_unlock(&g_mu);
}

static int waiting(void)
{
    pthread_mutex_lock(&g_mu);
    int n = g_waiting;
    pthread_mutex_unlock(&g_mu);
    return n;
}

/* ---- the server ---- */

struct app {
    av_store *store;
    av_web *web;
    char base[64];
    char dir[700];
    char db[1200];
};


static void open_store(struct app *a)
{
    if (!a->dir[0]) {
        snprintf(a->dir, sizeof a->dir, "%s", av_test_tmpdir());
        av_test_make_data_dir(a->dir);
        av_test_db_url(a->db, sizeof a->db, "aviary.db", 'v');
    }
    a->store = av_test_store_at(a->db);
}

static void start_web(struct app *a, long long max_video_bytes, double max_video_seconds)
{
    char err[512];
    if (!g_pipe) {
        av_test_need_species_model();
        av_detect_open_opts oo = {.threads = 2, .max_contexts = 2};
        g_pipe = av_test_open_pipeline(NULL, &oo);
    }
    av_web_opts o = {.listen = "127.0.0.1", .port = 0, .workers = 4, .store = a->store,
                     .data_dir = a->dir, .max_upload_bytes = 1000000, .analysis_workers = 1,
                     .queue_max = 8, .tracked = tracked, .n_tracked = 3,
                     .analyze_video = analyze_video, .max_video_bytes = max_video_bytes,
                     .max_video_seconds = max_video_seconds};
    CHECK_MSG(av_web_start(&o, &a->web, err, sizeof err) == 0, "%s", err);
    snprintf(a->base, sizeof a->base, "http://127.0.0.1:%d", av_web_port(a->web));
}

static void start(struct app *a, long long max_video_bytes, double max_video_seconds)
{
    memset(a, 0, sizeof *a);
    open_store(a);
    start_web(a, max_video_bytes, max_video_seconds);
}

static void stop(struct app *a)
{
    av_web_stop(a->web);
    a->web = NULL;
    av_store_close(a->store);
    a->store = NULL;
}

static void get(struct app *a, const char *fmt, const char *id, av_http_resp *r)
{
    char path[256], u[400];
    snprintf(path, sizeof path, fmt, id);
    snprintf(u, sizeof u, "%s%s", a->base, path);
    CHECK_EQ_INT(av_http_get(u, r), 0);
}

/* Poll the API until the status is not pending; returns the last body (free()). */
static char *wait_done(struct app *a, const char *id, int timeout_s)
{
    time_t until = time(NULL) + timeout_s;
    for (;;) {
        av_http_resp r;
        get(a, "/api/v1/images/%s", id, &r);
        CHECK_MSG(r.status == 200 || r.status == 503, "api status %ld: %s", r.status, r.body);
        if (r.status == 200 && !strstr(r.body, "\"status\":\"pending\"")) {
            char *body = r.body;
            r.body = NULL;
            av_http_free(&r);
            return body;
        }
        av_http_free(&r);
        CHECK_MSG(time(NULL) < until, "video %s still pending after %d s", id, timeout_s);
        usleep(100 * 1000);
    }
}

static void wait_for(int (*cond)(void), int timeout_s, const char *what)
{
    time_t until = time(NULL) + timeout_s;
    while (!cond()) {
        CHECK_MSG(time(NULL) < until, "timed out waiting for %s", what);
        usleep(20 * 1000);
    }
}

static int one_waiting(void)
{
    return waiting() >= 1;
}

/* ---- cases ---- */

TEST(form_upload_results_page_and_feedback)
{
    size_t len;
    char *clip = make_bird("bird.mp4", 3, "-c:v libx264 -preset ultrafast", &len);
    struct app a;
    start(&a, 0, 0);
    char id[AV_STORE_ID_LEN + 1];
    av_test_upload(a.base, "<i>garden.mp4", clip, len, id);
    char *json = wait_done(&a, id, 60);
    CHECK_STR_CONTAINS(json, "\"kind\":\"video\"");
    CHECK_STR_CONTAINS(json, "\"status\":\"done\"");
    CHECK_STR_CONTAINS(json, "\"container\":\"mp4\"");
    CHECK_STR_CONTAINS(json, "\"duration\":3");
    CHECK_STR_CONTAINS(json, "\"percent\":100");
    CHECK_STR_CONTAINS(json, "\"species_count\":1");
    CHECK_STR_CONTAINS(json, "\"visits\":[{\"track\":1,");
    CHECK(!strstr(json, "\"track\":2")); /* one bird, one visit */
    free(json);

    av_http_resp r;
    get(&a, "/uploads/%s", id, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "<svg class=\"timeline\"");
    CHECK_STR_CONTAINS(r.body, "Species seen over time: 1 species, 1 visit");
    CHECK_STR_CONTAINS(r.body, "id=\"visit-count\">1 visit, 1 species<");
    CHECK_STR_CONTAINS(r.body, "<table class=\"visits stack\">");
    CHECK_STR_CONTAINS(r.body, "id=\"species-summary\""); /* per species (issue 17) */
    /* the timeline bar's colour: the species', keyed in both tables too */
    const char *bar = strstr(r.body, "fill-opacity=\"0.75\"");
    CHECK(bar && bar - r.body > 20);
    char hex[8] = "";
    const char *fill = bar - 1;
    while (fill > r.body && strncmp(fill, "fill=\"#", 7))
        fill--;
    snprintf(hex, sizeof hex, "%.7s", fill + 6);
    int mark = -1;
    for (int m = 0; m < AV_VISION_MARKS; m++)
        if (!strcmp(hex, av_vision_mark_hex(m)))
            mark = m;
    CHECK_MSG(mark >= 0, "timeline bar %s is no species mark", hex);
    char key[80];
    snprintf(key, sizeof key, "<span class=\"swatch c%d\" aria-hidden=\"true\"></span>", mark);
    const char *key1 = strstr(r.body, key);
    CHECK(key1 && strstr(key1 + 1, key)); /* species summary, then the visits table */
    char want[200];
    snprintf(want, sizeof want, "<video id=\"player\" controls preload=\"metadata\""
                                " poster=\"/videos/%s/poster.jpg\" src=\"/originals/%s.mp4\">",
             id, id);
    CHECK_STR_CONTAINS(r.body, want);
    snprintf(want, sizeof want, "<a class=\"seek\" href=\"/originals/%s.mp4#t=", id);
    CHECK_STR_CONTAINS(r.body, want);
    snprintf(want, sizeof want, "<img src=\"/videos/%s/poster.jpg\"", id);
    CHECK_STR_CONTAINS(r.body, want);
    snprintf(want, sizeof want, "<img src=\"/videos/%s/visit-1.jpg\"", id);
    CHECK_STR_CONTAINS(r.body, want);
    CHECK_STR_CONTAINS(r.body, "&lt;i&gt;garden.mp4"); /* the name is escaped */
    CHECK(!strstr(r.body, "<i>garden"));
    CHECK_STR_CONTAINS(r.body, "name=\"vote\"");
    CHECK(!strstr(r.body, "http-equiv=\"refresh\"")); /* done: no reloading */
    av_http_free(&r);

    /* The clip itself, from this node's cache and, once that is gone (another
     * node took the upload), from the store. */
    for (int k = 0; k < 2; k++) {
        get(&a, "/originals/%s.mp4", id, &r);
        CHECK_EQ_INT(r.status, 200);
        CHECK_STR_CONTAINS(r.headers, "video/mp4");
        CHECK(r.len == len && !memcmp(r.body, clip, len));
        av_http_free(&r);
        char cached[1200];
        snprintf(cached, sizeof cached, "%s/originals/%s.mp4", av_test_tmpdir(), id);
        if (k == 0)
            CHECK_MSG(unlink(cached) == 0, "%s was not cached", cached);
    }
    get(&a, "/inferenced/%s.mp4", id, &r); /* no annotated copy of a video */
    CHECK_EQ_INT(r.status, 404);
    av_http_free(&r);
    get(&a, "/uploads/%s", id, &r);
    snprintf(want, sizeof want, "<a href=\"/originals/%s.mp4\" download>", id);
    CHECK_STR_CONTAINS(r.body, want);
    av_http_free(&r);

    /* The stills come from the store, as JPEG. */
    get(&a, "/videos/%s/poster.jpg", id, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.headers, "image/jpeg");
    CHECK(r.len > 1000 && (unsigned char)r.body[0] == 0xFF && (unsigned char)r.body[1] == 0xD8);
    /* its box is drawn in the timeline's colour for that species: count the
     * poster's pixels near that colour, and near the old per-visit palette's */
    av_image *poster = NULL;
    char e[256];
    CHECK_MSG(av_vision_decode(r.body, r.len, NULL, &poster, NULL, e, sizeof e) == AV_VISION_OK,
              "%s", e);
    av_vision_color want_c = av_vision_mark_color(mark), visit_c = av_vision_palette(1);
    long near_want = 0, near_visit = 0;
    for (long p = 0; p < (long)poster->width * poster->height; p++) {
        const uint8_t *px = poster->data + 3 * p;
        near_want += abs(px[0] - want_c.r) + abs(px[1] - want_c.g) + abs(px[2] - want_c.b) < 40;
        near_visit +=
            abs(px[0] - visit_c.r) + abs(px[1] - visit_c.g) + abs(px[2] - visit_c.b) < 40;
    }
    av_img_free(poster);
    CHECK_MSG(near_want > 300 && near_want > 4 * near_visit,
              "poster pixels near the species colour %s: %ld, near the visit's: %ld", hex,
              near_want, near_visit);
    av_http_free(&r);
    get(&a, "/videos/%s/visit-1.jpg", id, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK((unsigned char)r.body[0] == 0xFF && (unsigned char)r.body[1] == 0xD8);
    av_http_free(&r);
    get(&a, "/videos/%s/visit-9.jpg", id, &r);
    CHECK_EQ_INT(r.status, 404);
    av_http_free(&r);
    get(&a, "/videos/%s/../poster.jpg", id, &r);
    CHECK_EQ_INT(r.status, 404);
    av_http_free(&r);

    /* Per-frame rows: at 2 fps, 6 sampled frames, each with the bird. */
    av_store_video_det *ds = NULL;
    int nd = 0;
    char err[256];
    CHECK(av_store_video_dets(a.store, id, 0, &ds, &nd, err, sizeof err) == AV_STORE_OK);
    CHECK_MSG(nd >= 5, "%d frame detections", nd);
    CHECK_EQ_INT(ds[0].frame, 0);
    CHECK_EQ_INT(ds[0].track, 1);
    free(ds);

    /* Feedback: the same form, one vote per video. */
    char u[256];
    snprintf(u, sizeof u, "%s/uploads/%s", a.base, id);
    const char *form = "vote=no&ground_truth=2&predicted=1";
    CHECK_EQ_INT(av_http_request("POST", u, "application/x-www-form-urlencoded", form,
                                 strlen(form), &r),
                 0);
    CHECK_EQ_INT(r.status, 303);
    av_http_free(&r);
    get(&a, "/uploads/%s", id, &r);
    CHECK_STR_CONTAINS(r.body, "Thank you for your feedback");
    av_http_free(&r);
    int64_t votes = 0;
    CHECK(av_store_feedback_count(a.store, &votes, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(votes, 1);
    av_store_image img;
    CHECK(av_store_image_get(a.store, id, 0, &img, err, sizeof err) == AV_STORE_OK);
    CHECK(img.voted);
    CHECK_STR_EQ(img.content_type, "video/mp4");
    stop(&a);
    free(clip);
}

TEST(api_upload_webm_and_progress_while_pending)
{
    size_t len;
    char *clip = make_bird("bird.webm", 2, "-c:v libvpx -b:v 300k -deadline realtime", &len);
    struct app a;
    start(&a, 0, 0);
    set_gate(1);
    char u[256];
    snprintf(u, sizeof u, "%s/api/v1/images", a.base);
    av_http_resp r;
    const char *names[] = {"clip.webm"};
    const void *datas[] = {clip};
    size_t lens[] = {len};
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_MSG(r.status == 201, "status %ld: %s", r.status, r.body);
    const char *p = strstr(r.body, "\"id\":\"");
    CHECK(p);
    char id[AV_STORE_ID_LEN + 1];
    memcpy(id, p + 6, AV_STORE_ID_LEN);
    id[AV_STORE_ID_LEN] = '\0';
    av_http_free(&r);

    /* Held at the gate at 1 of 4 frames: the page shows 25% and reloads itself. */
    wait_for(one_waiting, 30, "the analysis to start");
    usleep(700 * 1000); /* past the progress write interval */
    get(&a, "/uploads/%s", id, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "<progress id=\"progress\" max=\"100\" value=\"25\">");
    CHECK_STR_CONTAINS(r.body, "http-equiv=\"refresh\"");
    av_http_free(&r);
    get(&a, "/api/v1/images/%s", id, &r);
    CHECK_STR_CONTAINS(r.body, "\"status\":\"pending\"");
    CHECK_STR_CONTAINS(r.body, "\"frames_done\":1,\"frames_expected\":4,\"percent\":25");
    av_http_free(&r);

    set_gate(0);
    char *json = wait_done(&a, id, 60);
    CHECK_STR_CONTAINS(json, "\"kind\":\"video\"");
    CHECK_STR_CONTAINS(json, "\"container\":\"webm\"");
    CHECK_STR_CONTAINS(json, "\"status\":\"done\"");
    CHECK_STR_CONTAINS(json, "\"visits\":[{");
    free(json);
    stop(&a);
    free(clip);
}

TEST(corrupt_and_audio_only_videos_fail_clearly)
{
    size_t len;
    char *clip = make_bird("bird.mp4", 3, "-c:v libx264 -preset ultrafast", &len);
    struct app a;
    start(&a, 0, 0);
    /* Truncated: the header announces 3 s, the bytes stop early. */
    char id[AV_STORE_ID_LEN + 1];
    av_test_upload(a.base, "cut.mp4", clip, len / 3, id);
    char *json = wait_done(&a, id, 60);
    CHECK_STR_CONTAINS(json, "\"status\":\"failed\"");
    CHECK_STR_CONTAINS(json, "\"error\":\"video: ");
    free(json);
    av_http_resp r;
    get(&a, "/uploads/%s", id, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "This video could not be analysed: video: ");
    CHECK_MSG(strstr(r.body, "truncated") || strstr(r.body, "corrupt"), "%.2000s", r.body);
    CHECK(!strstr(r.body, "http-equiv=\"refresh\""));
    av_http_free(&r);

    /* Audio only, in an MP4 container. */
    const char *m4a = av_test_tmp_path("tone.mp4");
    av_test_ffmpeg("-f lavfi -i sine=frequency=440:duration=1 -c:a aac '%s'", m4a);
    size_t alen;
    char *audio = av_test_read_file(m4a, &alen);
    av_test_upload(a.base, "tone.mp4", audio, alen, id);
    json = wait_done(&a, id, 60);
    CHECK_STR_CONTAINS(json, "\"status\":\"failed\"");
    CHECK_STR_CONTAINS(json, "only audio");
    free(json);
    get(&a, "/uploads/%s", id, &r);
    CHECK_STR_CONTAINS(r.body, "no video stream: the mp4 file holds only audio");
    av_http_free(&r);
    stop(&a);
    free(audio);
    free(clip);
}

TEST(too_long_and_too_big_videos_are_refused)
{
    size_t len;
    char *clip = make_bird("bird.mp4", 3, "-c:v libx264 -preset ultrafast", &len);
    struct app a;
    start(&a, 0, 2); /* 2 s at most */
    char u[256];
    snprintf(u, sizeof u, "%s/upload", a.base);
    av_http_resp r;
    const char *names[] = {"long.mp4"};
    const void *datas[] = {clip};
    size_t lens[] = {len};
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 413);
    CHECK_STR_CONTAINS(r.body, "the video is 3.0 s long, the limit is 2 s");
    av_http_free(&r);
    snprintf(u, sizeof u, "%s/api/v1/images", a.base);
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 413);
    CHECK_STR_CONTAINS(r.body, "limit is 2 s");
    av_http_free(&r);
    int64_t n = -1;
    char err[256];
    CHECK(av_store_image_count(a.store, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 0); /* nothing kept */
    stop(&a);

    /* Bytes: the limit is told while the body streams in. */
    memset(&a, 0, sizeof a);
    start(&a, 20000, 0);
    snprintf(u, sizeof u, "%s/upload", a.base);
    CHECK_MSG(len > 20000, "clip of %zu bytes", len);
    CHECK_EQ_INT(av_http_upload(u, "file", 1, names, datas, lens, &r), 0);
    CHECK_EQ_INT(r.status, 413);
    CHECK_STR_CONTAINS(r.body, "is larger than the video limit of 20 kB (at least ");
    av_http_free(&r);
    CHECK(av_store_image_count(a.store, &n, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 0);
    stop(&a);
    free(clip);
}

static int none_waiting(void)
{
    return waiting() == 0;
}

TEST(restart_resumes_or_fails_unfinished_videos)
{
    size_t len;
    char *clip = make_bird("bird.mp4", 2, "-c:v libx264 -preset ultrafast", &len);
    struct app a;
    start(&a, 0, 0);
    /* A stop in the middle of an analysis leaves the video pending. */
    set_gate(1);
    char id[AV_STORE_ID_LEN + 1];
    av_test_upload(a.base, "bird.mp4", clip, len, id);
    wait_for(one_waiting, 30, "the analysis to start");
    av_web_stop(a.web); /* cancels the run through its progress callback */
    a.web = NULL;
    wait_for(none_waiting, 10, "the run to end");
    char err[256];
    av_store_image img;
    CHECK(av_store_image_get(a.store, id, 0, &img, err, sizeof err) == AV_STORE_OK);
    CHECK_STR_EQ(img.status, "pending");
    av_store_video v;
    CHECK(av_store_video_get(a.store, id, &v, err, sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(v.attempts, 1);

    /* Another video that already died with its server twice. */
    av_store_image dead;
    memset(&dead, 0, sizeof dead);
    CHECK(av_store_new_id(dead.id) == 0);
    snprintf(dead.name, sizeof dead.name, "dead.mp4");
    snprintf(dead.ext, sizeof dead.ext, "mp4");
    snprintf(dead.content_type, sizeof dead.content_type, "video/mp4");
    dead.size_bytes = (int64_t)len;
    CHECK(av_store_image_insert(a.store, &dead, clip, len, err, sizeof err) == AV_STORE_OK);
    CHECK(av_store_video_add(a.store, dead.id, "mp4", err, sizeof err) == AV_STORE_OK);
    CHECK(av_store_video_start(a.store, dead.id, NULL, err, sizeof err) == AV_STORE_OK);
    CHECK(av_store_video_start(a.store, dead.id, NULL, err, sizeof err) == AV_STORE_OK);

    /* Restart: the first is analysed again, the second failed with a reason. */
    set_gate(0);
    start_web(&a, 0, 0);
    char *json = wait_done(&a, id, 60);
    CHECK_STR_CONTAINS(json, "\"status\":\"done\"");
    CHECK_STR_CONTAINS(json, "\"attempts\":2");
    free(json);
    json = wait_done(&a, dead.id, 10);
    CHECK_STR_CONTAINS(json, "\"status\":\"failed\"");
    CHECK_STR_CONTAINS(json, "interrupted by a server restart 2 times");
    free(json);
    av_http_resp r;
    get(&a, "/uploads/%s", dead.id, &r);
    CHECK_STR_CONTAINS(r.body, "please upload the video again");
    av_http_free(&r);
    stop(&a);
    free(clip);
}

TEST(index_page_offers_videos)
{
    av_test_need_species_model();
    struct app a;
    start(&a, 50000000, 120);
    av_http_resp r;
    get(&a, "%s/", "", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "videos: MP4, MOV, WebM, MKV or AVI, up to 50 MB and 2 minutes");
    CHECK_STR_CONTAINS(r.body, "video/mp4");
    av_http_free(&r);
    stop(&a);
}

TEST_MAIN(T(form_upload_results_page_and_feedback), T(api_upload_webm_and_progress_while_pending),
          T(corrupt_and_audio_only_videos_fail_clearly), T(too_long_and_too_big_videos_are_refused),
          T(restart_resumes_or_fails_unfinished_videos), T(index_page_offers_videos))
