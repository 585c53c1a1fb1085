/*
 * t_camera_live.c - whole cameras against real parts started here: a local
 * HTTP server (libmicrohttpd) serving snapshots and receiving webhooks, a
 * Mosquitto broker (alerts, state, Home Assistant discovery, Frigate
 * events), a watched folder, and the node-wide CPU budget.
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

TEST(snapshot_camera_alerts)
{
    av_detect_pipeline *p = cam_open_pipeline();
    size_t bird_len = 0, cat_len = 0;
    unsigned char *bird = av_test_read_file(av_test_shared("testdata/images/bird.bmp"), &bird_len);
    unsigned char *cat = av_test_read_file(av_test_shared("testdata/images/cat.bmp"), &cat_len);
    cam_fake f;
    cam_fake_start(&f);
    cam_fake_serve(&f, bird, bird_len);
    f.fail_hooks = 1; /* the first POST fails: the retry must deliver it */
    av_store *s = cam_open_store();
    av_camera_conf cam;
    av_camera_conf_defaults(&cam, "yard");
    cam.kind = AV_CAMERA_SNAPSHOT;
    snprintf(cam.url, sizeof cam.url, "http://127.0.0.1:%d/snap.jpg", f.port);
    cam.interval_s = 0.3;
    cam.fps = 5;
    cam.visit_gap_s = 1.0;
    int mport = av_test_free_port();
    pid_t broker = cam_broker_start(mport);
    cam_mq_sub sub;
    memset(&sub, 0, sizeof sub);
    cam_mq_subscribe(&sub, mport);
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
    WAIT_FOR(cam_status(n, "yard").bird_present && cam_status(n, "yard").analysed >= 3, 30);
    av_camera_status st = cam_status(n, "yard");
    CHECK_MSG(st.bird_present && st.analysed >= 3, "state %s error %s analysed %lld", st.state,
              st.error, st.analysed);
    CHECK_STR_EQ(st.state, "live");
    unsigned char *jpg = NULL;
    size_t len = 0;
    CHECK(av_camera_node_frame(n, "yard", &jpg, &len) == 0 && len > 100 && jpg[0] == 0xFF);
    free(jpg);
    CHECK(av_camera_node_frame(n, "nope", &jpg, &len) == -1);
    /* the bird leaves: after the visit gap the visit is stored and sent */
    cam_fake_serve(&f, cat, cat_len);
    WAIT_FOR(cam_fake_hooks(&f) >= 1, 30);
    CHECK_EQ_INT(cam_fake_hooks(&f), 1);
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
    st = cam_status(n, "yard");
    CHECK(!st.bird_present && st.visits_stored == 1 && st.last_species[0]);
    /* MQTT: discovery for Home Assistant, the state topics, the visit event */
    cam_mq_msg m;
    WAIT_FOR(cam_mq_last(&sub, "aviary/yard/visit", &m), 10);
    CHECK(cam_mq_last(&sub, "aviary/yard/visit", &m));
    j = json_loads(m.payload, 0, &je);
    CHECK_MSG(j, "%s", m.payload);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "label")), st.last_species);
    json_decref(j);
    CHECK(cam_mq_last(&sub, "aviary/yard/species", &m));
    CHECK_STR_EQ(m.payload, st.last_species);
    CHECK(cam_mq_last(&sub, "aviary/yard/bird_present", &m));
    CHECK_STR_EQ(m.payload, "OFF");
    CHECK(cam_mq_last(&sub, "aviary/status", &m));
    CHECK_STR_EQ(m.payload, "online");
    CHECK(cam_mq_last(&sub, "homeassistant/sensor/aviary_yard/last_species/config", &m));
    j = json_loads(m.payload, 0, &je);
    CHECK_MSG(j, "%s", m.payload);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "state_topic")), "aviary/yard/species");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "unique_id")), "aviary_yard_last_species");
    json_decref(j);
    CHECK(cam_mq_last(&sub, "homeassistant/binary_sensor/aviary_yard/bird_present/config", &m));
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
    st = cam_status(n, "yard");
    CHECK_MSG(st.analysed == analysed, "analysed %lld -> %lld", analysed, st.analysed);
    CHECK(st.frames > analysed);
    av_camera_node_stop(n);
    av_store_camera_visit *v = NULL;
    CHECK_EQ_INT(cam_visits(s, "yard", &v), 1);
    CHECK(v[0].has_jpeg && v[0].last_ms >= v[0].first_ms && v[0].n_frames >= 2);
    CHECK_STR_EQ(v[0].node, "test-node");
    free(v);
    WAIT_FOR(cam_mq_last(&sub, "aviary/status", &m) && !strcmp(m.payload, "offline"), 5);
    CHECK_STR_EQ(m.payload, "offline");
    cam_mq_close(&sub);
    cam_broker_stop(broker);
    av_store_close(s);
    MHD_stop_daemon(f.d);
    av_detect_pipeline_close(p);
    free(bird);
    free(cat);
}

TEST(folder_camera)
{
    av_detect_pipeline *p = cam_open_pipeline();
    const char *dir = av_test_tmpdir();
    char in[400], done[400], tmp[700], final[700];
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(done, sizeof done, "%s/done", dir);
    CHECK(mkdir(in, 0700) == 0 && mkdir(done, 0700) == 0);
    av_store *s = cam_open_store();
    av_camera_conf cam;
    av_camera_conf_defaults(&cam, "drop");
    cam.kind = AV_CAMERA_FOLDER;
    snprintf(cam.url, sizeof cam.url, "%s", in);
    snprintf(cam.done_dir, sizeof cam.done_dir, "%s", done);
    av_camera_node_opts o = {.store = s, .pipe = p, .cams = &cam, .n_cams = 1};
    av_camera_node *n = NULL;
    char err[512];
    CHECK_MSG(av_camera_node_start(&o, &n, err, sizeof err) == 0, "%s", err);
    WAIT_FOR(!strcmp(cam_status(n, "drop").state, "live"), 10);
    /* a photo written under a hidden name, then renamed in: one event, whole file */
    size_t len = 0;
    unsigned char *bird = av_test_read_file(av_test_shared("testdata/images/bird.bmp"), &len);
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
    av_camera_status st = cam_status(n, "drop");
    CHECK(st.analysed == 1 && st.bird_present);
    av_camera_node_stop(n); /* a stop stores the visit still open */
    av_store_camera_visit *v = NULL;
    CHECK_EQ_INT(cam_visits(s, "drop", &v), 1);
    CHECK(v[0].has_jpeg);
    free(v);
    av_store_close(s);
    av_detect_pipeline_close(p);
}

/* The node-wide CPU budget: over it, frames are looked at, not analysed. */
TEST(cpu_budget)
{
    av_detect_pipeline *p = cam_open_pipeline();
    size_t len = 0;
    unsigned char *cat = av_test_read_file(av_test_shared("testdata/images/cat.bmp"), &len);
    cam_fake f;
    cam_fake_start(&f);
    cam_fake_serve(&f, cat, len);
    av_store *s = cam_open_store();
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
    WAIT_FOR(cam_status(n, "yard").frames >= 10, 20);
    av_camera_status st = cam_status(n, "yard");
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
    av_detect_pipeline *p = cam_open_pipeline();
    size_t bird_len = 0;
    unsigned char *bird = av_test_read_file(av_test_shared("testdata/images/bird.bmp"), &bird_len);
    cam_fake f;
    cam_fake_start(&f);
    cam_fake_serve(&f, bird, bird_len);
    int mport = av_test_free_port();
    pid_t broker = cam_broker_start(mport);
    cam_mq_sub sub;
    memset(&sub, 0, sizeof sub);
    cam_mq_subscribe(&sub, mport);
    av_store *s = cam_open_store();
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
    WAIT_FOR(cam_fake_hooks(&f) >= 1, 30);
    usleep(1000 * 1000); /* the update must not make a second one */
    CHECK_EQ_INT(cam_fake_hooks(&f), 1);
    CHECK_STR_EQ(f.urls[0], "/api/events/1700000000.5-abc/sub_label");
    json_error_t je;
    json_t *j = json_loads(f.hooks[0], 0, &je);
    CHECK_MSG(j, "%s", f.hooks[0]);
    const char *label = json_string_value(json_object_get(j, "subLabel"));
    CHECK(label && *label);
    CHECK(json_number_value(json_object_get(j, "subLabelScore")) > 0);
    av_store_camera_visit *v = NULL;
    CHECK_EQ_INT(cam_visits(s, "birdcam", &v), 1);
    CHECK(v[0].first_ms == 1700000000500LL && v[0].has_jpeg);
    CHECK(!strcmp(v[0].common_name, label) || !strcmp(v[0].species, label));
    free(v);
    json_decref(j);
    cam_mq_msg m;
    CHECK(cam_mq_last(&sub, "aviary/birdcam/species", &m));
    av_camera_node_stop(n);
    cam_mq_close(&sub);
    cam_broker_stop(broker);
    av_store_close(s);
    MHD_stop_daemon(f.d);
    av_detect_pipeline_close(p);
    free(bird);
}

TEST_MAIN(T(snapshot_camera_alerts), T(folder_camera), T(cpu_budget), T(frigate_events))
