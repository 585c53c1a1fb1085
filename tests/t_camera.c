/*
 * t_camera.c - live cameras (issue 19): settings, motion gate, times and
 * signatures, the visit and lease tables (SQLite, or $AVIARY_TEST_DB),
 * notification rules, and the pages and API over a node. Whole cameras
 * against real parts: t_camera_live.c (snapshots, webhooks, MQTT, a
 * watched folder, Frigate) and t_camera_outage.c (RTSP killed and
 * restarted, a node taking over from a dead one, dead cameras).
 */
#include "harness.h"
#include "camera_fixture.h"
#include "detect_fixture.h"

#include "camera/camera.h"
#include "camera/internal.h"
#include "config/config.h"
#include "store/store.h"

#include <microhttpd.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
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

static int64_t now_ms(void)
{
    return (int64_t)time(NULL) * 1000;
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
    av_store *s = cam_open_store();
    int64_t t0 = now_ms() - 40LL * 86400 * 1000, id = 0, id_robin = 0;
    add_visit(s, "feeder", "Erithacus rubecula", 0.9, t0, "JPEG-1", &id_robin);
    add_visit(s, "feeder", "Erithacus rubecula", 0.5, t0 + 1000, "JPEG-2", &id);
    add_visit(s, "feeder", "Pica pica", 0.7, t0 + 2000, "JPEG-3", &id);
    add_visit(s, "yard", "Pica pica", 0.8, now_ms(), "JPEG-4", &id);
    add_visit(s, "yard", "Erithacus rubecula", 0.4, now_ms() + 1, NULL, &id);
    av_store_camera_visit *v = NULL;
    int n = cam_visits(s, "feeder", &v);
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
    n = cam_visits(s, "feeder", &v);
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
    av_store *s = cam_open_store();
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
    int n = cam_visits(s, "feeder", &v);
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
    n = cam_visits(s, "feeder", &v);
    CHECK_EQ_INT(n, 3);
    for (int i = 0; i < n; i++)
        CHECK(v[i].id != plain && v[i].has_jpeg);
    free(v);
    av_store_close(s);
}

TEST(store_lease)
{
    av_store *s = cam_open_store();
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
    av_store *s = cam_open_store();
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

/* ---- the pages and the API ---- */

TEST(web_pages_api)
{
    av_store *s = cam_open_store();
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

TEST_MAIN(T(conf_parse), T(config_keys), T(motion_gate), T(times_payload_signature),
          T(store_visit_reviews_kept_by_retention), T(store_visits), T(store_lease),
          T(notify_rules), T(web_pages_api))
