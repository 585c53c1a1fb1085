/*
 * t_camera.c - live cameras (issue 19): settings, motion gate, times and
 * signatures, the visit and lease tables (SQLite, or $AVIARY_TEST_DB), and
 * whole cameras against real parts started here: a local HTTP server
 * (libmicrohttpd) serving snapshots and receiving webhooks, a Mosquitto
 * broker (alerts, state, Home Assistant discovery), a watched
 * folder, and GStreamer's RTSP server (tests/rtsp_server.py) serving a
 * looped bird clip made with ffmpeg, killed and restarted mid-run.
 */
#include "harness.h"

#include "camera/camera.h"
#include "camera/internal.h"
#include "config/config.h"
#include "store/store.h"

#include <microhttpd.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "proc.h"
#include "web/web.h"

/* ---- helpers ---- */

static av_store *open_store(void)
{
    char url[1200], err[512];
    av_test_db_url(url, sizeof url, "cam.db", 'c');
    av_store *s = NULL;
    CHECK_MSG(av_store_open(url, &s, err, sizeof err) == AV_STORE_OK, "%s", err);
    int v = 0;
    CHECK_MSG(av_store_migrate(s, &v, err, sizeof err) == AV_STORE_OK, "%s", err);
    return s;
}

static int64_t now_ms(void)
{
    return (int64_t)time(NULL) * 1000;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    CHECK(p && fread(p, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void need_models(void)
{
    if (access("models/human/nanodet.json", R_OK) || access("models/inat_bird.json", R_OK))
        SKIP("detector models not fetched (run scripts/setup)");
}

static av_detect_pipeline *open_pipeline(void)
{
    need_models();
    av_detect_open_opts oo = {.threads = 1, .max_contexts = 2};
    av_detect_pipeline *p = NULL;
    char err[512];
    CHECK_MSG(av_detect_pipeline_open("models", &oo, &p, err, sizeof err) == 0, "%s", err);
    return p;
}

static av_camera_status status_of(av_camera_node *n, const char *name)
{
    av_camera_status *st = NULL, out;
    int count = 0;
    CHECK(av_camera_node_status(n, &st, &count) == 0);
    memset(&out, 0, sizeof out);
    for (int i = 0; i < count; i++)
        if (!strcmp(st[i].name, name))
            out = st[i];
    free(st);
    CHECK_MSG(out.name[0], "no camera %s", name);
    return out;
}

static int visits_of(av_store *s, const char *camera, av_store_camera_visit **v)
{
    int n = 0;
    char err[256];
    CHECK_MSG(av_store_camera_visits(s, camera, NULL, 0, 100, v, &n, err, sizeof err) ==
                  AV_STORE_OK, "%s", err);
    return n;
}

/* ---- settings ---- */

TEST(conf_parse)
{
    av_camera_conf *c = NULL;
    int n = 0;
    char err[256];
    CHECK_MSG(av_camera_conf_parse("feeder.url=rtsp://u:p@cam/stream\nfeeder.fps=1.5\n"
                                   "yard.url=snapshot:http://cam/snap.jpg\nyard.interval=3\n"
                                   "drop.url=dir:/srv/in\ndrop.done=/srv/done\n"
                                   "feeder.motion=off\n",
                                   &c, &n, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(n, 3);
    CHECK_STR_EQ(c[0].name, "feeder");
    CHECK_EQ_INT(c[0].kind, AV_CAMERA_STREAM);
    CHECK(c[0].fps == 1.5 && c[0].motion == 0);
    CHECK_EQ_INT(c[1].kind, AV_CAMERA_SNAPSHOT);
    CHECK_STR_EQ(c[1].url, "http://cam/snap.jpg");
    CHECK(c[1].interval_s == 3);
    CHECK_EQ_INT(c[2].kind, AV_CAMERA_FOLDER);
    CHECK_STR_EQ(c[2].url, "/srv/in");
    CHECK_STR_EQ(c[2].done_dir, "/srv/done");
    free(c);
    /* errors name the camera and what is wrong */
    CHECK(av_camera_conf_parse("bad name.url=x\n", &c, &n, err, sizeof err) == -1);
    CHECK(strstr(err, "camera name") != NULL);
    CHECK(av_camera_conf_parse("a.url=x\na.colour=red\n", &c, &n, err, sizeof err) == -1);
    CHECK(strstr(err, "camera a") && strstr(err, "colour"));
    CHECK(av_camera_conf_parse("a.fps=2\n", &c, &n, err, sizeof err) == -1);
    CHECK(strstr(err, "no url") != NULL);
    CHECK(av_camera_conf_parse("a.url=x\na.fps=500\n", &c, &n, err, sizeof err) == -1);
    CHECK(av_camera_conf_parse("a.url=x\na.kind=webcam\n", &c, &n, err, sizeof err) == -1);
    CHECK(av_camera_conf_parse("", &c, &n, err, sizeof err) == 0 && n == 0);
    free(c);
}

TEST(config_keys)
{
    const char *dir = av_test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/aviary.conf", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fprintf(f, "camera.yard.url = snapshot:http://127.0.0.1/snap.jpg\ncamera.yard.interval = 2\n"
               "camera-webhook = http://127.0.0.1:9/hook\ncamera-notify-cooldown = 60\n");
    fclose(f);
    const char *keys[] = {"camera", "camera.NAME.KEY", "camera-webhook",
                          "camera-notify-cooldown", "camera-cpu-budget", NULL};
    char *argv[] = {"--config", path, "--camera", "front=rtsp://cam/1", "--camera-cpu-budget",
                    "1.5", "--camera.front.fps=1", NULL};
    char *rest[8];
    int nrest = 0;
    av_config cfg;
    av_config_defaults(&cfg, "serve");
    char err[512];
    CHECK_MSG(av_config_parse(&cfg, keys, 7, argv, rest, &nrest, err, sizeof err) == 0, "%s",
              err);
    CHECK_EQ_INT(nrest, 0);
    CHECK(cfg.camera_cpu_budget == 1.5 && cfg.camera_notify_cooldown_s == 60);
    CHECK_STR_EQ(cfg.camera_webhook, "http://127.0.0.1:9/hook");
    av_camera_conf *c = NULL;
    int n = 0;
    CHECK_MSG(av_camera_conf_parse(cfg.cameras, &c, &n, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(n, 2);
    CHECK_STR_EQ(c[0].name, "yard");
    CHECK(c[0].kind == AV_CAMERA_SNAPSHOT && c[0].interval_s == 2);
    CHECK_STR_EQ(c[1].name, "front");
    CHECK(c[1].kind == AV_CAMERA_STREAM && c[1].fps == 1);
    free(c);
    char *bad[] = {"--camera", "no-equals-sign", NULL};
    av_config_defaults(&cfg, "serve");
    CHECK(av_config_parse(&cfg, keys, 2, bad, rest, &nrest, err, sizeof err) == AV_CONFIG_E_VALUE);
    CHECK(strstr(err, "NAME=URL") != NULL);
}

/* ---- motion gate ---- */

TEST(motion_gate)
{
    enum { W = 320, H = 240 };
    unsigned char *a = malloc(W * H * 3), *b = malloc(W * H * 3);
    CHECK(a && b);
    for (int i = 0; i < W * H * 3; i++)
        a[i] = (unsigned char)(i * 7 % 200);
    memcpy(b, a, W * H * 3);
    av_camera_motion *m = av_camera_motion_new(0.01);
    CHECK(m);
    double changed = 0;
    CHECK_EQ_INT(av_camera_motion_feed(m, a, W, H, &changed), 1); /* first frame */
    CHECK_EQ_INT(av_camera_motion_feed(m, b, W, H, &changed), 0);
    CHECK(changed == 0);
    for (int i = 0; i < W * H * 3; i++) /* sensor noise: +-3 levels */
        b[i] = (unsigned char)(a[i] + (i % 7) - 3);
    CHECK_EQ_INT(av_camera_motion_feed(m, b, W, H, &changed), 0);
    /* a bird-sized dark block (40x40 px) lands */
    for (int y = 100; y < 140; y++)
        for (int x = 150; x < 190; x++)
            memset(b + ((size_t)y * W + x) * 3, 250, 3);
    CHECK_EQ_INT(av_camera_motion_feed(m, b, W, H, &changed), 1);
    CHECK_MSG(changed > 0.01 && changed < 0.05, "changed %f", changed);
    CHECK_EQ_INT(av_camera_motion_feed(m, b, W, H, &changed), 0); /* it sits still */
    av_camera_motion_free(m);
    free(a);
    free(b);
}

/* ---- times, JSON and signatures ---- */

TEST(times_payload_signature)
{
    int64_t ms = 0;
    CHECK(av_camera_parse_time("2026-03-01", &ms) == 0 && ms == 1772323200000LL);
    CHECK(av_camera_parse_time("2026-03-01T12:30:05Z", &ms) == 0 &&
          ms == 1772323200000LL + (12 * 3600 + 30 * 60 + 5) * 1000LL);
    CHECK(av_camera_parse_time("2026-03-01T12:30", &ms) == 0);
    CHECK(av_camera_parse_time("1772323200000", &ms) == 0 && ms == 1772323200000LL);
    CHECK(av_camera_parse_time("yesterday", &ms) == -1);
    CHECK(av_camera_parse_time("2026-13-01", &ms) == -1);
    CHECK(av_camera_parse_time("2026-03-01T12:30:05+02", &ms) == -1);
    char iso[32];
    av_camera_iso(1772323200123LL, iso);
    CHECK_STR_EQ(iso, "2026-03-01T00:00:00.123Z");
    /* RFC 4231 test case 2 */
    char sig[72];
    av_camera_sign("Jefe", "what do ya want for nothing?", 28, sig);
    CHECK_STR_EQ(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    av_store_camera_visit v = {.id = 7, .first_ms = 1772323200000LL,
                               .last_ms = 1772323260000LL, .score = 0.91, .n_frames = 12,
                               .has_jpeg = 1, .x1 = 1, .y1 = 2, .x2 = 30, .y2 = 40};
    snprintf(v.camera, sizeof v.camera, "feeder");
    snprintf(v.species, sizeof v.species, "Erithacus rubecula");
    snprintf(v.common_name, sizeof v.common_name, "European Robin \"<b>\"");
    snprintf(v.label, sizeof v.label, "European Robin");
    size_t len = 0;
    char *body = av_camera_visit_payload(&v, "visit", &len);
    CHECK(body && len == strlen(body));
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    CHECK_MSG(j, "%s", body);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "event")), "visit");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "camera")), "feeder");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "common_name")), "European Robin \"<b>\"");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "first_seen")), "2026-03-01T00:00:00.000Z");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "best_frame")),
                 "/api/v1/visits/7/best.jpg");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "box")), 4);
    json_decref(j);
    free(body);
}

/* ---- the tables ---- */

static void add_visit(av_store *s, const char *camera, const char *species, double score,
                      int64_t first, const char *jpg, int64_t *id)
{
    av_store_camera_visit v = {.first_ms = first, .last_ms = first + 5000, .score = score,
                               .n_frames = 3, .x2 = 10, .y2 = 10};
    snprintf(v.camera, sizeof v.camera, "%s", camera);
    snprintf(v.species, sizeof v.species, "%s", species);
    snprintf(v.label, sizeof v.label, "%s", species);
    snprintf(v.node, sizeof v.node, "n1");
    char err[256];
    CHECK_MSG(av_store_camera_visit_add(s, &v, jpg, jpg ? strlen(jpg) : 0, id, err,
                                        sizeof err) == AV_STORE_OK, "%s", err);
}

TEST(store_visits)
{
    av_store *s = open_store();
    int64_t t0 = now_ms() - 40LL * 86400 * 1000, id = 0, id_robin = 0;
    add_visit(s, "feeder", "Erithacus rubecula", 0.9, t0, "JPEG-1", &id_robin);
    add_visit(s, "feeder", "Erithacus rubecula", 0.5, t0 + 1000, "JPEG-2", &id);
    add_visit(s, "feeder", "Pica pica", 0.7, t0 + 2000, "JPEG-3", &id);
    add_visit(s, "yard", "Pica pica", 0.8, now_ms(), "JPEG-4", &id);
    add_visit(s, "yard", "Erithacus rubecula", 0.4, now_ms() + 1, NULL, &id);
    av_store_camera_visit *v = NULL;
    int n = visits_of(s, "feeder", &v);
    CHECK_EQ_INT(n, 3);
    CHECK(v[0].first_ms == t0 + 2000); /* newest first */
    CHECK_STR_EQ(v[2].species, "Erithacus rubecula");
    CHECK(v[2].has_jpeg && v[2].n_frames == 3);
    free(v);
    char err[256];
    CHECK(av_store_camera_visits(s, NULL, "Pica pica", 0, 100, &v, &n, err, sizeof err) ==
          AV_STORE_OK);
    CHECK_EQ_INT(n, 2);
    free(v);
    CHECK(av_store_camera_visits(s, "yard", NULL, now_ms() - 60000, 100, &v, &n, err,
                                 sizeof err) == AV_STORE_OK);
    CHECK_EQ_INT(n, 2);
    CHECK(!v[0].has_jpeg);
    free(v);
    CHECK(av_store_camera_visits(s, "x' OR '1'='1", NULL, 0, 100, &v, &n, err, sizeof err) ==
              AV_STORE_OK && n == 0);
    free(v);
    int64_t count = 0;
    CHECK(av_store_camera_visit_count(s, "", now_ms() - 60000, &count, err, sizeof err) ==
              AV_STORE_OK && count == 2);
    int ever = 0, today = 0;
    CHECK(av_store_camera_species_seen(s, "feeder", "Pica pica", now_ms() - 60000, &ever,
                                       &today, err, sizeof err) == AV_STORE_OK);
    CHECK(ever && !today);
    CHECK(av_store_camera_species_seen(s, "yard", "Pica pica", now_ms() - 60000, &ever, &today,
                                       err, sizeof err) == AV_STORE_OK && ever && today);
    CHECK(av_store_camera_species_seen(s, "yard", "Sitta europaea", 0, &ever, &today, err,
                                       sizeof err) == AV_STORE_OK && !ever && !today);
    void *jpg = NULL;
    size_t len = 0;
    CHECK(av_store_camera_visit_jpeg(s, id_robin, &jpg, &len, err, sizeof err) == AV_STORE_OK);
    CHECK(len == 6 && !memcmp(jpg, "JPEG-1", 6));
    free(jpg);
    CHECK(av_store_camera_visit_jpeg(s, id, &jpg, &len, err, sizeof err) == AV_STORE_NOT_FOUND);
    int64_t bytes = 0;
    CHECK(av_store_camera_storage(s, &bytes, err, sizeof err) == AV_STORE_OK && bytes >= 24);
    /* retention: frames older than 30 days go, but each species keeps its best one */
    int64_t dropped = -1;
    CHECK_MSG(av_store_camera_prune(s, now_ms() - 30LL * 86400 * 1000, 1, 0, &dropped, err,
                                    sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_EQ_INT((int)dropped, 2); /* the 0.5 robin and the 0.7 magpie (the 0.8 one is best) */
    CHECK(av_store_camera_visit_jpeg(s, id_robin, &jpg, &len, err, sizeof err) == AV_STORE_OK);
    free(jpg);
    n = visits_of(s, "feeder", &v);
    CHECK_EQ_INT(n, 3); /* rows stay */
    CHECK(!v[0].has_jpeg && !v[1].has_jpeg && v[2].has_jpeg);
    free(v);
    /* bad input is refused before the database */
    av_store_camera_visit bad = {.first_ms = 10, .last_ms = 5};
    snprintf(bad.camera, sizeof bad.camera, "a/b");
    CHECK(av_store_camera_visit_add(s, &bad, NULL, 0, NULL, err, sizeof err) == AV_STORE_EARG);
    CHECK(av_store_camera_visits(s, NULL, NULL, 0, 0, &v, &n, err, sizeof err) ==
          AV_STORE_EARG);
    av_store_close(s);
}

/* Visits reviewed like photo birds; retention never prunes a reviewed one. */
TEST(store_visit_reviews_kept_by_retention)
{
    av_store *s = open_store();
    int64_t t0 = now_ms() - 40LL * 86400 * 1000, best = 0, confirmed = 0, other = 0, plain = 0;
    add_visit(s, "feeder", "Erithacus rubecula", 0.9, t0, "JPEG-1", &best);
    add_visit(s, "feeder", "Erithacus rubecula", 0.5, t0 + 1000, "JPEG-2", &confirmed);
    add_visit(s, "feeder", "Erithacus rubecula", 0.4, t0 + 2000, "JPEG-3", &other);
    add_visit(s, "feeder", "Erithacus rubecula", 0.3, t0 + 3000, "JPEG-4", &plain);
    char err[256];
    CHECK_MSG(av_store_camera_visit_review(s, confirmed, AV_REVIEW_CONFIRM, NULL, NULL, "ann",
                                           err, sizeof err) == AV_STORE_OK, "%s", err);
    CHECK(av_store_camera_visit_review(s, other, AV_REVIEW_SPECIES, "Pica pica",
                                       "Eurasian Magpie", "bob", err, sizeof err) == AV_STORE_OK);
    CHECK(av_store_camera_visit_review(s, other, AV_REVIEW_SPECIES, "", NULL, "bob", err,
                                       sizeof err) == AV_STORE_EARG);
    CHECK(av_store_camera_visit_review(s, other, AV_REVIEW_DUPLICATE, NULL, NULL, "bob", err,
                                       sizeof err) == AV_STORE_EARG);
    CHECK(av_store_camera_visit_review(s, plain + 100, AV_REVIEW_CONFIRM, NULL, NULL, "bob", err,
                                       sizeof err) == AV_STORE_NOT_FOUND);
    av_store_camera_visit *v = NULL;
    int n = visits_of(s, "feeder", &v);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(v[0].review, 0);
    CHECK_EQ_INT(v[1].review, AV_REVIEW_SPECIES);
    CHECK_STR_EQ(v[1].review_species, "Pica pica");
    CHECK_STR_EQ(v[1].review_common, "Eurasian Magpie");
    CHECK_STR_EQ(v[1].reviewed_by, "bob");
    CHECK(v[1].reviewed_ms > 0);
    CHECK_EQ_INT(v[2].review, AV_REVIEW_CONFIRM);
    free(v);
    /* frames first, then rows: only the unreviewed, not-best visit goes */
    int64_t dropped = -1;
    CHECK_MSG(av_store_camera_prune(s, now_ms() - 30LL * 86400 * 1000, 1, 0, &dropped, err,
                                    sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_EQ_INT((int)dropped, 1);
    CHECK_MSG(av_store_camera_prune(s, now_ms() - 30LL * 86400 * 1000, 1, 1, &dropped, err,
                                    sizeof err) == AV_STORE_OK, "%s", err);
    CHECK_EQ_INT((int)dropped, 1);
    n = visits_of(s, "feeder", &v);
    CHECK_EQ_INT(n, 3);
    for (int i = 0; i < n; i++)
        CHECK(v[i].id != plain && v[i].has_jpeg);
    free(v);
    av_store_close(s);
}

TEST(store_lease)
{
    av_store *s = open_store();
    char err[256];
    int held = 0;
    CHECK(av_store_camera_lease(s, "feeder", "node-a", 500, &held, err, sizeof err) ==
              AV_STORE_OK && held);
    CHECK(av_store_camera_lease(s, "feeder", "node-b", 500, &held, err, sizeof err) ==
              AV_STORE_OK && !held);
    usleep(200 * 1000);
    CHECK(av_store_camera_lease(s, "feeder", "node-a", 500, &held, err, sizeof err) ==
              AV_STORE_OK && held); /* renewed */
    usleep(300 * 1000);
    CHECK(av_store_camera_lease(s, "feeder", "node-b", 500, &held, err, sizeof err) ==
              AV_STORE_OK && !held); /* renewed 300 ms ago: still a's */
    usleep(700 * 1000);
    CHECK(av_store_camera_lease(s, "feeder", "node-b", 500, &held, err, sizeof err) ==
              AV_STORE_OK && held); /* a stopped renewing: taken over */
    CHECK(av_store_camera_lease(s, "feeder", "node-a", 500, &held, err, sizeof err) ==
              AV_STORE_OK && !held);
    CHECK(av_store_camera_lease_release(s, "feeder", "node-b", err, sizeof err) == AV_STORE_OK);
    CHECK(av_store_camera_lease(s, "feeder", "node-a", 500, &held, err, sizeof err) ==
              AV_STORE_OK && held); /* released: free at once */
    av_store_close(s);
}

/* ---- notification rules ---- */

static av_store_camera_visit visit(const char *camera, const char *species, const char *common,
                                   double score)
{
    av_store_camera_visit v = {.first_ms = now_ms(), .last_ms = now_ms(), .score = score};
    snprintf(v.camera, sizeof v.camera, "%s", camera);
    snprintf(v.species, sizeof v.species, "%s", species);
    snprintf(v.common_name, sizeof v.common_name, "%s", common);
    snprintf(v.label, sizeof v.label, "%s", common);
    return v;
}

TEST(notify_rules)
{
    av_store *s = open_store();
    char err[256];
    av_camera_notify_conf c = {.cooldown_s = 60, .min_score = 0.5};
    snprintf(c.webhook_url, sizeof c.webhook_url, "http://127.0.0.1:9/never-called");
    snprintf(c.block, sizeof c.block, "Pica pica, house sparrow");
    int ok = 0;
    av_camera__notifier *nt = av_camera__notifier_start(&c, s, NULL, 0, &ok, err, sizeof err);
    CHECK_MSG(nt && ok, "%s", err);
    av_store_camera_visit robin = visit("feeder", "Erithacus rubecula", "European Robin", 0.9);
    CHECK(av_camera__notify_wanted(nt, &robin));
    CHECK(!av_camera__notify_wanted(nt, &robin)); /* cooldown, per camera and species */
    robin = visit("yard", "Erithacus rubecula", "European Robin", 0.9);
    CHECK(av_camera__notify_wanted(nt, &robin)); /* another camera */
    av_store_camera_visit tit = visit("feeder", "Parus major", "Great Tit", 0.4);
    CHECK(!av_camera__notify_wanted(nt, &tit)); /* under the minimum score */
    tit.score = 0.6;
    CHECK(av_camera__notify_wanted(nt, &tit));
    av_store_camera_visit magpie = visit("feeder", "Pica pica", "Eurasian Magpie", 0.9);
    CHECK(!av_camera__notify_wanted(nt, &magpie)); /* blocked by scientific name */
    av_store_camera_visit sparrow = visit("feeder", "Passer domesticus", "House Sparrow", 0.9);
    CHECK(!av_camera__notify_wanted(nt, &sparrow)); /* by common name, any case */
    av_camera__notifier_stop(nt);

    /* allow list, first of the day, new for the site */
    av_camera_notify_conf c2 = {.first_of_day = 1, .allow = "Sitta europaea, Parus major"};
    snprintf(c2.webhook_url, sizeof c2.webhook_url, "http://127.0.0.1:9/never-called");
    nt = av_camera__notifier_start(&c2, s, NULL, 0, &ok, err, sizeof err);
    CHECK(nt);
    av_store_camera_visit nuthatch = visit("feeder", "Sitta europaea", "Eurasian Nuthatch", 0.9);
    CHECK(av_camera__notify_wanted(nt, &nuthatch));
    add_visit(s, "feeder", "Parus major", 0.8, now_ms() - 1000, NULL, NULL);
    tit = visit("feeder", "Parus major", "Great Tit", 0.9);
    CHECK(!av_camera__notify_wanted(nt, &tit)); /* seen today at this camera */
    tit = visit("yard", "Parus major", "Great Tit", 0.9);
    CHECK(av_camera__notify_wanted(nt, &tit)); /* first today at the yard */
    CHECK(!av_camera__notify_wanted(nt, &robin)); /* not on the allow list */
    av_camera__notifier_stop(nt);
    av_camera_notify_conf c3 = {.new_for_site = 1};
    snprintf(c3.webhook_url, sizeof c3.webhook_url, "http://127.0.0.1:9/never-called");
    nt = av_camera__notifier_start(&c3, s, NULL, 0, &ok, err, sizeof err);
    CHECK(nt);
    CHECK(!av_camera__notify_wanted(nt, &tit)); /* the feeder saw one */
    CHECK(av_camera__notify_wanted(nt, &nuthatch));
    av_camera__notifier_stop(nt);
    /* a bad MQTT URL is refused at start, with a message */
    av_camera_notify_conf c4 = {.mqtt_discovery = 1};
    snprintf(c4.mqtt_url, sizeof c4.mqtt_url, "tcp://broker");
    CHECK(av_camera__notifier_start(&c4, s, NULL, 0, &ok, err, sizeof err) == NULL && !ok);
    CHECK(strstr(err, "mqtt://") != NULL);
    av_store_close(s);
}

/* ---- a Mosquitto broker and a subscriber recording every message ---- */

typedef struct mq_msg {
    char topic[256];
    char payload[4096];
    int retain;
} mq_msg;

typedef struct mq_sub {
    struct mosquitto *m;
    pthread_mutex_t mu;
    mq_msg msgs[64];
    int n;
} mq_sub;

static void mq_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    (void)m;
    mq_sub *q = ud;
    pthread_mutex_lock(&q->mu);
    if (q->n < 64) {
        mq_msg *o = &q->msgs[q->n++];
        snprintf(o->topic, sizeof o->topic, "%s", msg->topic);
        int len = msg->payloadlen < (int)sizeof o->payload - 1 ? msg->payloadlen
                                                              : (int)sizeof o->payload - 1;
        memcpy(o->payload, msg->payload, (size_t)len);
        o->payload[len] = '\0';
        o->retain = msg->retain;
    }
    pthread_mutex_unlock(&q->mu);
}

static void mq_on_connect(struct mosquitto *m, void *ud, int rc)
{
    (void)ud;
    if (rc == 0)
        mosquitto_subscribe(m, NULL, "#", 1);
}

/* The last message on topic (copied into out), or 0 when none came. */
static int mq_last(mq_sub *q, const char *topic, mq_msg *out)
{
    int found = 0;
    pthread_mutex_lock(&q->mu);
    for (int i = 0; i < q->n; i++)
        if (!strcmp(q->msgs[i].topic, topic)) {
            *out = q->msgs[i];
            found = 1;
        }
    pthread_mutex_unlock(&q->mu);
    return found;
}

static pid_t broker_start(int port)
{
    if (access("/usr/sbin/mosquitto", X_OK))
        SKIP("mosquitto not installed (scripts/setup --test)");
    char conf[700], line[128];
    snprintf(conf, sizeof conf, "%s/mosquitto.conf", av_test_tmpdir());
    FILE *f = fopen(conf, "w");
    CHECK(f);
    snprintf(line, sizeof line, "listener %d 127.0.0.1\nallow_anonymous true\n", port);
    fputs(line, f);
    fclose(f);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        FILE *o = freopen("/dev/null", "w", stdout);
        FILE *e = freopen("/dev/null", "w", stderr);
        (void)o, (void)e;
        execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void mq_subscribe(mq_sub *q, int port)
{
    mosquitto_lib_init();
    pthread_mutex_init(&q->mu, NULL);
    q->m = mosquitto_new("t_camera", true, q);
    CHECK(q->m);
    mosquitto_connect_callback_set(q->m, mq_on_connect);
    mosquitto_message_callback_set(q->m, mq_on_message);
    int rc = MOSQ_ERR_NO_CONN;
    for (int i = 0; i < 50 && rc != MOSQ_ERR_SUCCESS; i++) { /* the broker is starting */
        rc = mosquitto_connect(q->m, "127.0.0.1", port, 30);
        if (rc != MOSQ_ERR_SUCCESS)
            usleep(100 * 1000);
    }
    CHECK_MSG(rc == MOSQ_ERR_SUCCESS, "broker: %s", mosquitto_strerror(rc));
    CHECK(mosquitto_loop_start(q->m) == MOSQ_ERR_SUCCESS);
}

/* ---- a local HTTP server: snapshots out, webhooks in ---- */

typedef struct fake {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    const unsigned char *snap; /* what GET /snap.jpg serves now */
    size_t snap_len;
    int gets;
    char hooks[8][4096];       /* webhook bodies received */
    char sigs[8][100];         /* their X-Aviary-Signature */
    char urls[8][256];         /* and path */
    int n_hooks;
    int fail_hooks;            /* answer the first N webhooks with 500 */
} fake;

typedef struct post_body {
    char buf[4096];
    size_t len;
} post_body;

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *data,
                                    size_t *data_size, void **req)
{
    (void)version;
    fake *f = cls;
    if (!strcmp(method, "POST")) {
        post_body *b = *req;
        if (!b) {
            *req = calloc(1, sizeof *b);
            return *req ? MHD_YES : MHD_NO;
        }
        if (*data_size) {
            size_t take = *data_size < sizeof b->buf - 1 - b->len ? *data_size
                                                                  : sizeof b->buf - 1 - b->len;
            memcpy(b->buf + b->len, data, take);
            b->len += take;
            *data_size = 0;
            return MHD_YES;
        }
        pthread_mutex_lock(&f->mu);
        unsigned status = MHD_HTTP_OK;
        if (f->fail_hooks > 0) {
            f->fail_hooks--;
            status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        } else if (f->n_hooks < 8) {
            const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                          "X-Aviary-Signature");
            snprintf(f->hooks[f->n_hooks], sizeof f->hooks[0], "%s", b->buf);
            snprintf(f->sigs[f->n_hooks], sizeof f->sigs[0], "%s", sig ? sig : "");
            snprintf(f->urls[f->n_hooks], sizeof f->urls[0], "%s", url);
            f->n_hooks++;
        }
        pthread_mutex_unlock(&f->mu);
        free(b);
        *req = NULL;
        struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
    }
    /* a snapshot, or a Frigate event's snapshot */
    if (strcmp(url, "/snap.jpg") &&
        (strncmp(url, "/api/events/", 12) || !strstr(url, "/snapshot.jpg")))
        return MHD_NO;
    pthread_mutex_lock(&f->mu);
    f->gets++;
    struct MHD_Response *r = MHD_create_response_from_buffer(f->snap_len, (void *)f->snap,
                                                             MHD_RESPMEM_MUST_COPY);
    pthread_mutex_unlock(&f->mu);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static void fake_start(fake *f)
{
    pthread_mutex_init(&f->mu, NULL);
    f->port = av_test_free_port();
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                            (uint16_t)f->port, NULL, NULL, fake_handler, f, MHD_OPTION_END);
    CHECK(f->d);
}

static void fake_serve(fake *f, const unsigned char *p, size_t n)
{
    pthread_mutex_lock(&f->mu);
    f->snap = p;
    f->snap_len = n;
    pthread_mutex_unlock(&f->mu);
}

static int fake_hooks(fake *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->n_hooks;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* Poll cond up to secs; the condition's value. */
#define WAIT_FOR(cond, secs)                                            \
    do {                                                                \
        for (int w_ = 0; w_ < (secs) * 10 && !(cond); w_++)             \
            usleep(100 * 1000);                                         \
    } while (0)

TEST(snapshot_camera_alerts)
{
    av_detect_pipeline *p = open_pipeline();
    size_t bird_len = 0, cat_len = 0;
    unsigned char *bird = read_all(av_test_shared("testdata/images/bird.bmp"), &bird_len);
    unsigned char *cat = read_all(av_test_shared("testdata/images/cat.bmp"), &cat_len);
    fake f;
    memset(&f, 0, sizeof f);
    fake_start(&f);
    fake_serve(&f, bird, bird_len);
    f.fail_hooks = 1; /* the first POST fails: the retry must deliver it */
    av_store *s = open_store();
    av_camera_conf cam;
    av_camera_conf_defaults(&cam, "yard");
    cam.kind = AV_CAMERA_SNAPSHOT;
    snprintf(cam.url, sizeof cam.url, "http://127.0.0.1:%d/snap.jpg", f.port);
    cam.interval_s = 0.3;
    cam.fps = 5;
    cam.visit_gap_s = 1.0;
    int mport = av_test_free_port();
    pid_t broker = broker_start(mport);
    mq_sub sub;
    memset(&sub, 0, sizeof sub);
    mq_subscribe(&sub, mport);
    av_camera_notify_conf nc = {.cooldown_s = 300, .retries = 3, .mqtt_discovery = 1};
    snprintf(nc.mqtt_url, sizeof nc.mqtt_url, "mqtt://127.0.0.1:%d", mport);
    snprintf(nc.webhook_url, sizeof nc.webhook_url, "http://127.0.0.1:%d/hook", f.port);
    snprintf(nc.webhook_secret, sizeof nc.webhook_secret, "s3cret");
    av_camera_node_opts o = {.store = s, .pipe = p, .cams = &cam, .n_cams = 1, .notify = &nc,
                             .node_id = "test-node"};
    av_camera_node *n = NULL;
    char err[512];
    CHECK_MSG(av_camera_node_start(&o, &n, err, sizeof err) == 0, "%s", err);
    /* the bird stays for a few analysed frames */
    WAIT_FOR(status_of(n, "yard").bird_present && status_of(n, "yard").analysed >= 3, 30);
    av_camera_status st = status_of(n, "yard");
    CHECK_MSG(st.bird_present && st.analysed >= 3, "state %s error %s analysed %lld", st.state,
              st.error, st.analysed);
    CHECK_STR_EQ(st.state, "live");
    unsigned char *jpg = NULL;
    size_t len = 0;
    CHECK(av_camera_node_frame(n, "yard", &jpg, &len) == 0 && len > 100 && jpg[0] == 0xFF);
    free(jpg);
    CHECK(av_camera_node_frame(n, "nope", &jpg, &len) == -1);
    /* the bird leaves: after the visit gap the visit is stored and sent */
    fake_serve(&f, cat, cat_len);
    WAIT_FOR(fake_hooks(&f) >= 1, 30);
    CHECK_EQ_INT(fake_hooks(&f), 1);
    char sig[72];
    av_camera_sign("s3cret", f.hooks[0], strlen(f.hooks[0]), sig);
    CHECK_STR_EQ(f.sigs[0], sig);
    json_error_t je;
    json_t *j = json_loads(f.hooks[0], 0, &je);
    CHECK_MSG(j, "%s", f.hooks[0]);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "camera")), "yard");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "event")), "visit");
    char best[64];
    snprintf(best, sizeof best, "/api/v1/visits/%lld/best.jpg",
             (long long)json_integer_value(json_object_get(j, "id")));
    CHECK_STR_EQ(json_string_value(json_object_get(j, "best_frame")), best);
    json_decref(j);
    st = status_of(n, "yard");
    CHECK(!st.bird_present && st.visits_stored == 1 && st.last_species[0]);
    /* MQTT: discovery for Home Assistant, the state topics, the visit event */
    mq_msg m;
    WAIT_FOR(mq_last(&sub, "aviary/yard/visit", &m), 10);
    CHECK(mq_last(&sub, "aviary/yard/visit", &m));
    j = json_loads(m.payload, 0, &je);
    CHECK_MSG(j, "%s", m.payload);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "label")), st.last_species);
    json_decref(j);
    CHECK(mq_last(&sub, "aviary/yard/species", &m));
    CHECK_STR_EQ(m.payload, st.last_species);
    CHECK(mq_last(&sub, "aviary/yard/bird_present", &m));
    CHECK_STR_EQ(m.payload, "OFF");
    CHECK(mq_last(&sub, "aviary/status", &m));
    CHECK_STR_EQ(m.payload, "online");
    CHECK(mq_last(&sub, "homeassistant/sensor/aviary_yard/last_species/config", &m));
    j = json_loads(m.payload, 0, &je);
    CHECK_MSG(j, "%s", m.payload);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "state_topic")), "aviary/yard/species");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "unique_id")), "aviary_yard_last_species");
    json_decref(j);
    CHECK(mq_last(&sub, "homeassistant/binary_sensor/aviary_yard/bird_present/config", &m));
    j = json_loads(m.payload, 0, &je);
    CHECK_MSG(j, "%s", m.payload);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "state_topic")),
                 "aviary/yard/bird_present");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "payload_on")), "ON");
    json_decref(j);
    /* "ON" came before "OFF" */
    int on_at = -1, off_at = -1;
    pthread_mutex_lock(&sub.mu);
    for (int i = 0; i < sub.n; i++)
        if (!strcmp(sub.msgs[i].topic, "aviary/yard/bird_present")) {
            if (!strcmp(sub.msgs[i].payload, "ON") && on_at < 0)
                on_at = i;
            if (!strcmp(sub.msgs[i].payload, "OFF"))
                off_at = i;
        }
    pthread_mutex_unlock(&sub.mu);
    CHECK(on_at >= 0 && off_at > on_at);
    /* the cat frames are not birds, and after the bird left no frame moved: the
     * motion gate lets the pipeline rest */
    long long analysed = st.analysed;
    usleep(1500 * 1000);
    st = status_of(n, "yard");
    CHECK_MSG(st.analysed == analysed, "analysed %lld -> %lld", analysed, st.analysed);
    CHECK(st.frames > analysed);
    av_camera_node_stop(n);
    av_store_camera_visit *v = NULL;
    CHECK_EQ_INT(visits_of(s, "yard", &v), 1);
    CHECK(v[0].has_jpeg && v[0].last_ms >= v[0].first_ms && v[0].n_frames >= 2);
    CHECK_STR_EQ(v[0].node, "test-node");
    free(v);
    WAIT_FOR(mq_last(&sub, "aviary/status", &m) && !strcmp(m.payload, "offline"), 5);
    CHECK_STR_EQ(m.payload, "offline");
    mosquitto_disconnect(sub.m);
    mosquitto_loop_stop(sub.m, false);
    mosquitto_destroy(sub.m);
    kill(broker, SIGTERM);
    waitpid(broker, NULL, 0);
    av_store_close(s);
    MHD_stop_daemon(f.d);
    av_detect_pipeline_close(p);
    free(bird);
    free(cat);
}

TEST(folder_camera)
{
    av_detect_pipeline *p = open_pipeline();
    const char *dir = av_test_tmpdir();
    char in[400], done[400], tmp[700], final[700];
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(done, sizeof done, "%s/done", dir);
    CHECK(mkdir(in, 0700) == 0 && mkdir(done, 0700) == 0);
    av_store *s = open_store();
    av_camera_conf cam;
    av_camera_conf_defaults(&cam, "drop");
    cam.kind = AV_CAMERA_FOLDER;
    snprintf(cam.url, sizeof cam.url, "%s", in);
    snprintf(cam.done_dir, sizeof cam.done_dir, "%s", done);
    av_camera_node_opts o = {.store = s, .pipe = p, .cams = &cam, .n_cams = 1};
    av_camera_node *n = NULL;
    char err[512];
    CHECK_MSG(av_camera_node_start(&o, &n, err, sizeof err) == 0, "%s", err);
    WAIT_FOR(!strcmp(status_of(n, "drop").state, "live"), 10);
    /* a photo written under a hidden name, then renamed in: one event, whole file */
    size_t len = 0;
    unsigned char *bird = read_all(av_test_shared("testdata/images/bird.bmp"), &len);
    snprintf(tmp, sizeof tmp, "%s/.bird.tmp", in);
    snprintf(final, sizeof final, "%s/bird.bmp", in);
    FILE *f = fopen(tmp, "wb");
    CHECK(f && fwrite(bird, 1, len, f) == len);
    fclose(f);
    CHECK(rename(tmp, final) == 0);
    free(bird);
    snprintf(tmp, sizeof tmp, "%s/notes.txt", in); /* not a photo: left alone */
    f = fopen(tmp, "w");
    CHECK(f);
    fputs("hello", f);
    fclose(f);
    snprintf(final, sizeof final, "%s/bird.bmp", done);
    WAIT_FOR(access(final, F_OK) == 0, 30);
    CHECK_MSG(access(final, F_OK) == 0, "photo not moved to done");
    CHECK(access(tmp, F_OK) == 0);
    av_camera_status st = status_of(n, "drop");
    CHECK(st.analysed == 1 && st.bird_present);
    av_camera_node_stop(n); /* a stop stores the visit still open */
    av_store_camera_visit *v = NULL;
    CHECK_EQ_INT(visits_of(s, "drop", &v), 1);
    CHECK(v[0].has_jpeg);
    free(v);
    av_store_close(s);
    av_detect_pipeline_close(p);
}

/* The node-wide CPU budget: over it, frames are looked at, not analysed. */
TEST(cpu_budget)
{
    av_detect_pipeline *p = open_pipeline();
    size_t len = 0;
    unsigned char *cat = read_all(av_test_shared("testdata/images/cat.bmp"), &len);
    fake f;
    memset(&f, 0, sizeof f);
    fake_start(&f);
    fake_serve(&f, cat, len);
    av_store *s = open_store();
    av_camera_conf cam;
    av_camera_conf_defaults(&cam, "yard");
    cam.kind = AV_CAMERA_SNAPSHOT;
    snprintf(cam.url, sizeof cam.url, "http://127.0.0.1:%d/snap.jpg", f.port);
    cam.interval_s = 0.2;
    cam.fps = 5;
    cam.motion = 0; /* every frame would be analysed */
    /* 0.005 cores: the first analysis (tens of ms of CPU) overdraws the
     * bucket for many seconds */
    av_camera_node_opts o = {.store = s, .pipe = p, .cams = &cam, .n_cams = 1,
                             .cpu_budget = 0.005};
    av_camera_node *n = NULL;
    char err[512];
    CHECK_MSG(av_camera_node_start(&o, &n, err, sizeof err) == 0, "%s", err);
    WAIT_FOR(status_of(n, "yard").frames >= 10, 20);
    av_camera_status st = status_of(n, "yard");
    CHECK_MSG(st.frames >= 10 && st.analysed >= 1 && st.analysed <= 2,
              "frames %lld analysed %lld", st.frames, st.analysed);
    av_camera_node_stop(n);
    av_store_close(s);
    MHD_stop_daemon(f.d);
    av_detect_pipeline_close(p);
    free(cat);
}

/* ---- Frigate: events over MQTT, snapshots and sub labels over HTTP ---- */

TEST(frigate_events)
{
    av_detect_pipeline *p = open_pipeline();
    size_t bird_len = 0;
    unsigned char *bird = read_all(av_test_shared("testdata/images/bird.bmp"), &bird_len);
    fake f;
    memset(&f, 0, sizeof f);
    fake_start(&f);
    fake_serve(&f, bird, bird_len);
    int mport = av_test_free_port();
    pid_t broker = broker_start(mport);
    mq_sub sub;
    memset(&sub, 0, sizeof sub);
    mq_subscribe(&sub, mport);
    av_store *s = open_store();
    av_camera_notify_conf nc = {.cooldown_s = 300};
    snprintf(nc.mqtt_url, sizeof nc.mqtt_url, "mqtt://127.0.0.1:%d", mport);
    char frigate[64];
    snprintf(frigate, sizeof frigate, "http://127.0.0.1:%d/", f.port);
    av_camera_node_opts o = {.store = s, .pipe = p, .notify = &nc, .frigate_url = frigate,
                             .node_id = "n1"};
    av_camera_node *n = NULL;
    char err[512];
    CHECK_MSG(av_camera_node_start(&o, &n, err, sizeof err) == 0, "%s", err);
    usleep(500 * 1000); /* its subscription */
    const char *person = "{\"type\":\"new\",\"after\":{\"id\":\"1700000000.1-p\","
                         "\"camera\":\"birdcam\",\"label\":\"person\",\"has_snapshot\":true}}";
    const char *ev = "{\"type\":\"new\",\"before\":{},\"after\":{\"id\":\"1700000000.5-abc\","
                     "\"camera\":\"birdcam\",\"label\":\"bird\",\"has_snapshot\":true,"
                     "\"start_time\":1700000000.5,\"end_time\":null}}";
    const char *upd = "{\"type\":\"update\",\"after\":{\"id\":\"1700000000.5-abc\","
                      "\"camera\":\"birdcam\",\"label\":\"bird\",\"has_snapshot\":true,"
                      "\"start_time\":1700000000.5,\"end_time\":1700000009.5}}";
    CHECK(mosquitto_publish(sub.m, NULL, "frigate/events", (int)strlen(person), person, 1,
                            false) == MOSQ_ERR_SUCCESS);
    CHECK(mosquitto_publish(sub.m, NULL, "frigate/events", 9, "not json{", 1, false) ==
          MOSQ_ERR_SUCCESS);
    CHECK(mosquitto_publish(sub.m, NULL, "frigate/events", (int)strlen(ev), ev, 1, false) ==
          MOSQ_ERR_SUCCESS);
    CHECK(mosquitto_publish(sub.m, NULL, "frigate/events", (int)strlen(upd), upd, 1, false) ==
          MOSQ_ERR_SUCCESS);
    WAIT_FOR(fake_hooks(&f) >= 1, 30);
    usleep(1000 * 1000); /* the update must not make a second one */
    CHECK_EQ_INT(fake_hooks(&f), 1);
    CHECK_STR_EQ(f.urls[0], "/api/events/1700000000.5-abc/sub_label");
    json_error_t je;
    json_t *j = json_loads(f.hooks[0], 0, &je);
    CHECK_MSG(j, "%s", f.hooks[0]);
    const char *label = json_string_value(json_object_get(j, "subLabel"));
    CHECK(label && *label);
    CHECK(json_number_value(json_object_get(j, "subLabelScore")) > 0);
    av_store_camera_visit *v = NULL;
    CHECK_EQ_INT(visits_of(s, "birdcam", &v), 1);
    CHECK(v[0].first_ms == 1700000000500LL && v[0].has_jpeg);
    CHECK(!strcmp(v[0].common_name, label) || !strcmp(v[0].species, label));
    free(v);
    json_decref(j);
    mq_msg m;
    CHECK(mq_last(&sub, "aviary/birdcam/species", &m));
    av_camera_node_stop(n);
    mosquitto_disconnect(sub.m);
    mosquitto_loop_stop(sub.m, false);
    mosquitto_destroy(sub.m);
    kill(broker, SIGTERM);
    waitpid(broker, NULL, 0);
    av_store_close(s);
    MHD_stop_daemon(f.d);
    av_detect_pipeline_close(p);
    free(bird);
}

/* ---- RTSP: a looped bird clip, killed and restarted mid-run ---- */

static pid_t rtsp_start(int port, const char *pattern)
{
    if (access("/usr/bin/python3", X_OK))
        SKIP("no /usr/bin/python3 (scripts/setup --test installs python3-gi)");
    char log[700];
    snprintf(log, sizeof log, "%s/rtsp.log", av_test_tmpdir());
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        FILE *o = freopen(log, "a", stdout);
        FILE *e = freopen(log, "a", stderr);
        (void)o, (void)e;
        char ps[16];
        snprintf(ps, sizeof ps, "%d", port);
        execl("/usr/bin/python3", "python3", "tests/rtsp_server.py", ps, pattern, (char *)NULL);
        _exit(127);
    }
    /* up when "ready" is logged */
    for (int i = 0; i < 100; i++) {
        size_t n = 0;
        FILE *f = fopen(log, "rb");
        char buf[4096] = "";
        if (f) {
            n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
        }
        buf[n] = '\0';
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            if (strstr(buf, "Namespace") || strstr(buf, "ModuleNotFound") ||
                strstr(buf, "No module"))
                SKIP("GStreamer RTSP server not installed (scripts/setup --test)");
            FAIL("rtsp_server.py exited: %.600s", buf);
        }
        if (strstr(buf, "ready"))
            return pid;
        usleep(100 * 1000);
    }
    kill(-pid, SIGKILL);
    FAIL("rtsp_server.py did not start");
}

static void rtsp_stop(pid_t pid)
{
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

TEST(rtsp_outage)
{
    av_detect_pipeline *p = open_pipeline();
    const char *dir = av_test_tmpdir();
    char cmd[2048], pattern[700];
    snprintf(pattern, sizeof pattern, "%s/frame%%03d.jpg", dir);
    /* 3 s of bird.bmp panned slowly: the bird stays in view, the frames move */
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -loglevel error -y -loop 1 -framerate 5 -t 3 -i '%s' -vf "
             "\"crop=448:300:'min(t*20,64)':'min(t*10,42)'\" -q:v 3 -start_number 0 '%s'",
             av_test_shared("testdata/images/bird.bmp"), pattern);
    if (system(cmd) != 0)
        SKIP("ffmpeg not installed");
    int port = av_test_free_port();
    pid_t srv = rtsp_start(port, pattern);
    av_store *s = open_store();
    av_camera_conf cam;
    av_camera_conf_defaults(&cam, "feeder");
    snprintf(cam.url, sizeof cam.url, "rtsp://127.0.0.1:%d/bird", port);
    cam.fps = 2;
    cam.visit_gap_s = 4;
    cam.io_timeout_s = 3;
    av_camera_node_opts o = {.store = s, .pipe = p, .cams = &cam, .n_cams = 1};
    av_camera_node *n = NULL;
    char err[512];
    CHECK_MSG(av_camera_node_start(&o, &n, err, sizeof err) == 0, "%s", err);
    WAIT_FOR(status_of(n, "feeder").bird_present, 40);
    av_camera_status st = status_of(n, "feeder");
    CHECK_MSG(st.bird_present, "state %s error %s frames %lld", st.state, st.error, st.frames);
    long long frames = st.frames;
    /* the camera's server dies */
    rtsp_stop(srv);
    WAIT_FOR(strcmp(status_of(n, "feeder").state, "live") != 0, 20);
    st = status_of(n, "feeder");
    CHECK_MSG(!strcmp(st.state, "reconnecting") || !strcmp(st.state, "dead"), "state %s",
              st.state);
    CHECK(st.error[0]);
    sleep(2); /* an outage longer than no frame at all, shorter than the visit gap */
    srv = rtsp_start(port, pattern);
    WAIT_FOR(!strcmp(status_of(n, "feeder").state, "live") &&
                 status_of(n, "feeder").frames > frames + 4, 40);
    st = status_of(n, "feeder");
    CHECK_MSG(!strcmp(st.state, "live") && st.frames > frames + 4, "state %s frames %lld",
              st.state, st.frames);
    CHECK(st.reconnects >= 1);
    CHECK(st.bird_present);
    av_camera_node_stop(n);
    rtsp_stop(srv);
    /* one visit across the outage */
    av_store_camera_visit *v = NULL;
    int nv = visits_of(s, "feeder", &v);
    CHECK_MSG(nv == 1, "%d visits", nv);
    free(v);
    av_store_close(s);
    av_detect_pipeline_close(p);
}

/* ---- the pages and the API ---- */

TEST(web_pages_api)
{
    av_store *s = open_store();
    int64_t id_a = 0, id_b = 0;
    add_visit(s, "feeder", "Erithacus rubecula", 0.9, 1772323200000LL, "\xff\xd8JPEG", &id_a);
    add_visit(s, "yard", "<script>x</script>", 0.5, now_ms(), NULL, &id_b);
    /* a camera that cannot connect: the page still shows it, and escapes */
    av_camera_conf cam;
    av_camera_conf_defaults(&cam, "yard");
    snprintf(cam.url, sizeof cam.url, "rtsp://user:secret@127.0.0.1:%d/x", av_test_free_port());
    cam.io_timeout_s = 1;
    av_camera_node_opts co = {.store = s, .cams = &cam, .n_cams = 1};
    av_camera_node *n = NULL;
    char err[512];
    CHECK_MSG(av_camera_node_start(&co, &n, err, sizeof err) == 0, "%s", err);
    av_web_opts o = {.listen = "127.0.0.1", .workers = 2, .store = s,
                     .data_dir = av_test_tmpdir(), .cameras = n};
    av_web *w = NULL;
    CHECK_MSG(av_web_start(&o, &w, err, sizeof err) == 0, "%s", err);
    char base[64], u[256];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", av_web_port(w));
    av_http_resp r;
    snprintf(u, sizeof u, "%s/cameras", base);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT((int)r.status, 200);
    CHECK(strstr(r.body, "http-equiv=\"refresh\"") != NULL);
    CHECK(strstr(r.body, "<h2>yard") != NULL);
    CHECK(strstr(r.body, "&lt;script&gt;") && !strstr(r.body, "<script>x"));
    CHECK(!strstr(r.body, "secret")); /* the password is never shown */
    CHECK(strstr(r.body, "Erithacus rubecula") != NULL);
    av_http_free(&r);
    snprintf(u, sizeof u, "%s/api/v1/cameras", base);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT((int)r.status, 200);
    json_error_t je;
    json_t *j = json_loads(r.body, 0, &je);
    CHECK_MSG(j, "%s", r.body);
    json_t *c0 = json_array_get(json_object_get(j, "cameras"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(c0, "name")), "yard");
    CHECK_EQ_INT((int)json_integer_value(json_object_get(c0, "visits_today")), 1);
    CHECK(strstr(json_string_value(json_object_get(c0, "url")), "***") != NULL);
    json_decref(j);
    av_http_free(&r);
    snprintf(u, sizeof u, "%s/api/v1/visits?camera=feeder&since=2026-03-01", base);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT((int)r.status, 200);
    j = json_loads(r.body, 0, &je);
    CHECK_MSG(j, "%s", r.body);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(j, "count")), 1);
    json_t *v0 = json_array_get(json_object_get(j, "visits"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(v0, "species")), "Erithacus rubecula");
    char best[128];
    snprintf(best, sizeof best, "%s", json_string_value(json_object_get(v0, "best_frame")));
    json_decref(j);
    av_http_free(&r);
    snprintf(u, sizeof u, "%s/api/v1/visits?camera=feeder&since=2026-03-02", base);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK(strstr(r.body, "\"count\":0") != NULL);
    av_http_free(&r);
    snprintf(u, sizeof u, "%s%s", base, best);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT((int)r.status, 200);
    CHECK(r.len == 6 && !memcmp(r.body, "\xff\xd8JPEG", 6));
    av_http_free(&r);
    const char *bad[] = {"/api/v1/visits?since=yesterday", "/api/v1/visits?camera=a%2Fb",
                         "/api/v1/visits?limit=0"};
    for (int i = 0; i < 3; i++) {
        snprintf(u, sizeof u, "%s%s", base, bad[i]);
        CHECK_EQ_INT(av_http_get(u, &r), 0);
        CHECK_MSG(r.status == 400 && strstr(r.body, "error"), "%s: %ld", bad[i], r.status);
        av_http_free(&r);
    }
    snprintf(u, sizeof u, "%s/api/v1/visits/%lld/best.jpg", base, (long long)id_b);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT((int)r.status, 404);
    av_http_free(&r);
    snprintf(u, sizeof u, "%s/cameras/nope/frame.jpg", base);
    CHECK_EQ_INT(av_http_get(u, &r), 0);
    CHECK_EQ_INT((int)r.status, 404);
    av_http_free(&r);
    av_web_stop(w);
    av_camera_node_stop(n);
    av_store_close(s);
}

/* ---- several nodes: one watches a camera; another takes over when it dies ---- */

/* lease_takeover's camera: a snapshot camera polled every 0.2 s. */
static void yard_camera(av_camera_conf *cam, const char *url)
{
    av_camera_conf_defaults(cam, "yard");
    cam->kind = AV_CAMERA_SNAPSHOT;
    snprintf(cam->url, sizeof cam->url, "%s", url);
    cam->interval_s = 0.2;
    cam->fps = 5;
}

/* lease_takeover's node A runs in this test binary, executed again with these two variables
 * set: forking the test process (several threads: the fake camera's daemon) and going on in
 * the child without exec could deadlock it on a lock another thread held at the fork. */
__attribute__((constructor)) static void node_a_main(void)
{
    const char *db = getenv("AV_TEST_NODE_A_DB"), *cam_url = getenv("AV_TEST_NODE_A_CAM");
    if (!db || !cam_url)
        return;
    av_store *cs = NULL;
    char e[512];
    if (av_store_open(db, &cs, e, sizeof e) != AV_STORE_OK) {
        fprintf(stderr, "node A: %s\n", e);
        _exit(2);
    }
    av_camera_conf cam;
    yard_camera(&cam, cam_url);
    av_camera_node_opts o = {.store = cs, .cams = &cam, .n_cams = 1, .node_id = "node-a",
                             .lease_ms = 1500};
    av_camera_node *n = NULL;
    if (av_camera_node_start(&o, &n, e, sizeof e)) {
        fprintf(stderr, "node A: %s\n", e);
        _exit(3);
    }
    for (;;)
        pause(); /* killed by the test */
}

TEST(lease_takeover)
{
    char url[1200];
    av_test_db_url(url, sizeof url, "cam.db", 'c');
    av_store *s = open_store(); /* migrated before node A opens it */
    fake f;
    memset(&f, 0, sizeof f);
    fake_start(&f);
    size_t len = 0;
    unsigned char *cat = read_all(av_test_shared("testdata/images/cat.bmp"), &len);
    fake_serve(&f, cat, len);
    char cam_url[128];
    snprintf(cam_url, sizeof cam_url, "http://127.0.0.1:%d/snap.jpg", f.port);
    av_camera_conf cam;
    yard_camera(&cam, cam_url);
    /* node A's environment, built before the fork: the child only calls execve */
    extern char **environ;
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **envp = calloc(n_env + 3, sizeof *envp);
    char *db_var = malloc(strlen(url) + 32), *cam_var = malloc(sizeof cam_url + 32);
    CHECK(envp && db_var && cam_var);
    sprintf(db_var, "AV_TEST_NODE_A_DB=%s", url);
    sprintf(cam_var, "AV_TEST_NODE_A_CAM=%s", cam_url);
    memcpy(envp, environ, n_env * sizeof *envp);
    envp[n_env] = db_var;
    envp[n_env + 1] = cam_var;
    char *child_argv[] = {"t_camera-node-a", NULL};
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        execve("/proc/self/exe", child_argv, envp);
        _exit(127);
    }
    free(envp);
    free(db_var);
    free(cam_var);
    /* A takes the camera first */
    int gets = 0; /* 10 s, longer in sanitizer builds (AV_TEST_TIMEOUT_SCALE) */
    const char *scale_env = getenv("AV_TEST_TIMEOUT_SCALE");
    int tries = 100 * (scale_env && atoi(scale_env) > 1 ? atoi(scale_env) : 1);
    for (int i = 0; i < tries && gets < 3; i++) {
        usleep(100 * 1000);
        pthread_mutex_lock(&f.mu);
        gets = f.gets;
        pthread_mutex_unlock(&f.mu);
    }
    CHECK_MSG(gets >= 3, "node A never polled the camera");
    av_camera_node_opts o = {.store = s, .cams = &cam, .n_cams = 1, .node_id = "node-b",
                             .lease_ms = 1500};
    av_camera_node *n = NULL;
    char err[512];
    CHECK_MSG(av_camera_node_start(&o, &n, err, sizeof err) == 0, "%s", err);
    WAIT_FOR(!strcmp(status_of(n, "yard").state, "standby"), 10);
    CHECK_STR_EQ(status_of(n, "yard").state, "standby");
    sleep(2);
    CHECK_STR_EQ(status_of(n, "yard").state, "standby"); /* A renews: B stays out */
    kill(child, SIGKILL); /* A dies without giving the lease up */
    waitpid(child, NULL, 0);
    /* live comes before B's first frame: wait for both */
    WAIT_FOR(!strcmp(status_of(n, "yard").state, "live") && status_of(n, "yard").frames > 0, 10);
    av_camera_status st = status_of(n, "yard");
    CHECK_MSG(!strcmp(st.state, "live") && st.frames > 0, "state %s, %lld frames", st.state,
              (long long)st.frames);
    av_camera_node_stop(n);
    av_store_close(s);
    MHD_stop_daemon(f.d);
    free(cat);
}

/* A camera that cannot be reached shows as dead, and stopping never hangs. */
TEST(dead_camera)
{
    av_store *s = open_store();
    av_camera_conf cam[2];
    av_camera_conf_defaults(&cam[0], "gone");
    snprintf(cam[0].url, sizeof cam[0].url, "rtsp://127.0.0.1:%d/x", av_test_free_port());
    cam[0].io_timeout_s = 1;
    av_camera_conf_defaults(&cam[1], "snap");
    cam[1].kind = AV_CAMERA_SNAPSHOT;
    snprintf(cam[1].url, sizeof cam[1].url, "http://127.0.0.1:%d/x.jpg", av_test_free_port());
    cam[1].io_timeout_s = 1;
    av_camera_node_opts o = {.store = s, .cams = cam, .n_cams = 2, .node_id = "n"};
    av_camera_node *n = NULL;
    char err[512];
    CHECK_MSG(av_camera_node_start(&o, &n, err, sizeof err) == 0, "%s", err);
    WAIT_FOR(!strcmp(status_of(n, "gone").state, "dead"), 20);
    av_camera_status st = status_of(n, "gone");
    CHECK_MSG(!strcmp(st.state, "dead"), "state %s", st.state);
    CHECK(st.error[0] && st.reconnects >= 2);
    st = status_of(n, "snap");
    CHECK(strcmp(st.state, "live") && st.error[0]);
    json_t *j = av_camera_status_json(&st);
    CHECK(j && json_is_string(json_object_get(j, "state")));
    json_decref(j);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    av_camera_node_stop(n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_MSG(t1.tv_sec - t0.tv_sec < 3, "stop took %ld s", (long)(t1.tv_sec - t0.tv_sec));
    av_store_close(s);
}

TEST_MAIN(T(conf_parse), T(config_keys), T(motion_gate), T(times_payload_signature),
          T(store_visit_reviews_kept_by_retention),
          T(store_visits), T(store_lease), T(notify_rules), T(snapshot_camera_alerts),
          T(folder_camera), T(cpu_budget), T(frigate_events),
          T(rtsp_outage), T(dead_camera), T(web_pages_api), T(lease_takeover))
