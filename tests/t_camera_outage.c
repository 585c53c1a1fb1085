/*
 * t_camera_outage.c - cameras and nodes going away: GStreamer's RTSP server
 * (tests/rtsp_server.py) serving a looped bird clip made with ffmpeg,
 * killed and restarted mid-run; a second node, in a process of its own,
 * killed so that this one takes the camera over; cameras that cannot be
 * reached.
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
    av_detect_pipeline *p = cam_open_pipeline();
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
    av_store *s = cam_open_store();
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
    WAIT_FOR(cam_status(n, "feeder").bird_present, 40);
    av_camera_status st = cam_status(n, "feeder");
    CHECK_MSG(st.bird_present, "state %s error %s frames %lld", st.state, st.error, st.frames);
    long long frames = st.frames;
    /* the camera's server dies */
    rtsp_stop(srv);
    WAIT_FOR(strcmp(cam_status(n, "feeder").state, "live") != 0, 20);
    st = cam_status(n, "feeder");
    CHECK_MSG(!strcmp(st.state, "reconnecting") || !strcmp(st.state, "dead"), "state %s",
              st.state);
    CHECK(st.error[0]);
    sleep(2); /* an outage longer than no frame at all, shorter than the visit gap */
    srv = rtsp_start(port, pattern);
    WAIT_FOR(!strcmp(cam_status(n, "feeder").state, "live") &&
                 cam_status(n, "feeder").frames > frames + 4, 40);
    st = cam_status(n, "feeder");
    CHECK_MSG(!strcmp(st.state, "live") && st.frames > frames + 4, "state %s frames %lld",
              st.state, st.frames);
    CHECK(st.reconnects >= 1);
    CHECK(st.bird_present);
    av_camera_node_stop(n);
    rtsp_stop(srv);
    /* one visit across the outage */
    av_store_camera_visit *v = NULL;
    int nv = cam_visits(s, "feeder", &v);
    CHECK_MSG(nv == 1, "%d visits", nv);
    free(v);
    av_store_close(s);
    av_detect_pipeline_close(p);
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
 * set: forking the test process (several threads: the cam_fake camera's daemon) and going on in
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
    av_store *s = cam_open_store(); /* migrated before node A opens it */
    cam_fake f;
    cam_fake_start(&f);
    size_t len = 0;
    unsigned char *cat = av_test_read_file(av_test_shared("testdata/images/cat.bmp"), &len);
    cam_fake_serve(&f, cat, len);
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
    WAIT_FOR(!strcmp(cam_status(n, "yard").state, "standby"), 10);
    CHECK_STR_EQ(cam_status(n, "yard").state, "standby");
    sleep(2);
    CHECK_STR_EQ(cam_status(n, "yard").state, "standby"); /* A renews: B stays out */
    kill(child, SIGKILL); /* A dies without giving the lease up */
    waitpid(child, NULL, 0);
    /* live comes before B's first frame: wait for both */
    WAIT_FOR(!strcmp(cam_status(n, "yard").state, "live") && cam_status(n, "yard").frames > 0, 10);
    av_camera_status st = cam_status(n, "yard");
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
    av_store *s = cam_open_store();
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
    WAIT_FOR(!strcmp(cam_status(n, "gone").state, "dead"), 20);
    av_camera_status st = cam_status(n, "gone");
    CHECK_MSG(!strcmp(st.state, "dead"), "state %s", st.state);
    CHECK(st.error[0] && st.reconnects >= 2);
    st = cam_status(n, "snap");
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

TEST_MAIN(T(rtsp_outage), T(dead_camera), T(lease_takeover))
