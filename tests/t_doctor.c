/*
 * t_doctor.c - a first start and `aviary doctor`, through the built binary
 * (AVIARY_BIN, default this build folder's): without models the log and the upload
 * page say where models are looked for and how to fetch them; doctor passes
 * on a good set-up and names each broken part, with exit status 1.
 */
#include "harness.h"
#include "detect_fixture.h"
#include "http.h"
#include "proc.h"

#include "config/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A listening socket on a free loopback port (closed by the process's end). */
static int listen_any(int *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) || listen(s, 4) ||
        getsockname(s, (struct sockaddr *)&sa, &len))
        FAIL("cannot listen on loopback");
    *port = ntohs(sa.sin_port);
    return s;
}

/* Started in a folder without ./models and no --models: the installed
 * folder is tried, and the log and the page say what to do. */
TEST(first_start_without_models)
{
    if (access(av_config_installed_models, F_OK) == 0)
        SKIP("models are installed on this machine");
    char dir[600], log[700], portarg[16];
    snprintf(dir, sizeof dir, "%s/empty", av_test_tmpdir());
    snprintf(log, sizeof log, "%s/serve.log", av_test_tmpdir());
    mkdir(dir, 0755);
    unsetenv("AVIARY_MODELS");
    unsetenv("AVIARY_CONFIG");
    int port = av_test_free_port();
    snprintf(portarg, sizeof portarg, "%d", port);
    char *argv[] = {"aviary", "serve", "--listen", "127.0.0.1", "--port", portarg, NULL};
    pid_t pid = av_test_spawn_in(dir, log, argv);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    av_http_resp r = {0};
    int up = av_test_wait_up(url, 10000) && av_http_get(url, &r) == 0 && r.status == 200;
    av_test_stop(pid, SIGTERM);
    CHECK_MSG(up, "aviary serve did not answer %s", url);
    CHECK_STR_CONTAINS(r.body, "No models are installed");
    CHECK_STR_CONTAINS(r.body, "scripts/setup --models");
    CHECK_STR_CONTAINS(r.body, av_config_installed_models);
    av_http_free(&r);
    size_t n;
    char *text = av_test_read_file(log, &n);
    CHECK_STR_CONTAINS(text, "event=models_dir dir=models from=none");
    CHECK_STR_CONTAINS(text, "event=models_unavailable");
    CHECK_STR_CONTAINS(text, "scripts/setup --models");
    free(text);
}

TEST(doctor_passes_on_a_good_setup)
{
    char data[600], portarg[16], out[8192];
    snprintf(data, sizeof data, "%s/data", av_test_tmpdir());
    snprintf(portarg, sizeof portarg, "%d", av_test_free_port());
    if (access("models/human/nanodet.bin", F_OK) != 0)
        SKIP("models not fetched (scripts/setup)");
    char *argv[] = {"aviary", "doctor", "--models", "models", "--data", data,
                    "--listen", "127.0.0.1", "--port", portarg, NULL};
    int rc = av_test_run(av_test_aviary_bin(), argv, out, sizeof out);
    CHECK_MSG(rc == 0, "doctor exited %d:\n%s", rc, out);
    CHECK_STR_CONTAINS(out, "ok    models");
    CHECK_STR_CONTAINS(out, "does not exist yet"); /* the data folder and database */
    CHECK_STR_CONTAINS(out, "is free");
    CHECK_STR_CONTAINS(out, "no problems");
    CHECK(!strstr(out, "FAIL"));
}

/* A models folder of links to ./models' files with imagenet.json replaced
 * by text (NULL: none); returns its path in dir. */
static void models_with_imagenet(char *dir, size_t cap, const char *name, const char *text)
{
    char abs[PATH_MAX], link[PATH_MAX + 300], target[PATH_MAX + 300];
    CHECK(realpath("models", abs));
    snprintf(dir, cap, "%s/%s", av_test_tmpdir(), name);
    mkdir(dir, 0755);
    const char *names[] = {"pipeline.json", "centernet.json", "centernet.int8.calib",
                           "nanodet.json", "nanodet.int8.calib", "inat_bird.json", "human",
                           "inat_bird", "imagenet_mobilenet"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(link, sizeof link, "%s/%s", dir, names[i]);
        snprintf(target, sizeof target, "%s/%s", abs, names[i]);
        CHECK_MSG(symlink(target, link) == 0, "symlink %s", link);
    }
    if (text) {
        snprintf(link, sizeof link, "%s/imagenet.json", dir);
        FILE *f = fopen(link, "w");
        CHECK(f);
        fputs(text, f);
        fclose(f);
    }
}

/* The ImageNet second opinion: loaded and its checksum checked, absent
 * (fine: it is optional, with the reason), or a model file that is not the
 * one its manifest names (a problem). */
TEST(doctor_reports_the_second_opinion)
{
    char data[600], portarg[16], dir[PATH_MAX + 64], out[8192];
    if (access("models/imagenet_mobilenet/mobilenet_v2_1.0_224_quant.tflite", R_OK) ||
        access("models/human/nanodet.bin", F_OK))
        SKIP("models or the ImageNet model not fetched (scripts/setup)");
    snprintf(data, sizeof data, "%s/data2", av_test_tmpdir());
    snprintf(portarg, sizeof portarg, "%d", av_test_free_port());
    char *argv[] = {"aviary", "doctor", "--models", "models", "--data", data,
                    "--listen", "127.0.0.1", "--port", portarg, NULL};
    CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), argv, out, sizeof out), 0);
    CHECK_STR_CONTAINS(out, "ok    second    ImageNet second opinion loaded");
    CHECK_STR_CONTAINS(out, "sha256 checked");

    models_with_imagenet(dir, sizeof dir, "no-imagenet", NULL);
    argv[3] = dir;
    CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), argv, out, sizeof out), 0);
    CHECK_STR_CONTAINS(out, "ok    second    ImageNet second opinion off:");
    CHECK_STR_CONTAINS(out, "imagenet.json is absent");

    /* the shipped manifest with another checksum: loads, but is not the file */
    size_t n;
    char *text = av_test_read_file("models/imagenet.json", &n);
    char *h = strstr(text, "\"sha256\": \"");
    CHECK(h);
    h[12] = h[12] == '0' ? '1' : '0';
    models_with_imagenet(dir, sizeof dir, "other-imagenet", text);
    free(text);
    argv[3] = dir;
    CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), argv, out, sizeof out), 1);
    CHECK_STR_CONTAINS(out, "FAIL  second    ImageNet second opinion loaded, but");
    CHECK_STR_CONTAINS(out, "fix: reinstall it with scripts/setup");
}

/* Each broken part on its own line with a fix, and exit status 1. */
TEST(doctor_names_what_is_wrong)
{
    char file[600], data[700], models[600], portarg[16], out[8192];
    snprintf(file, sizeof file, "%s/plain-file", av_test_tmpdir());
    snprintf(data, sizeof data, "%s/data", file); /* under a file: cannot be made */
    snprintf(models, sizeof models, "%s/no-models", av_test_tmpdir());
    FILE *f = fopen(file, "w");
    CHECK(f);
    fclose(f);
    mkdir(models, 0755);
    int port, busy = listen_any(&port); /* not an aviary: no /healthz */
    snprintf(portarg, sizeof portarg, "%d", port);
    char *argv[] = {"aviary", "doctor", "--models", models, "--data", data,
                    "--db", "mysql://nobody@127.0.0.1:1/aviary", "--listen", "127.0.0.1",
                    "--port", portarg, NULL};
    int rc = av_test_run(av_test_aviary_bin(), argv, out, sizeof out);
    close(busy);
    CHECK_MSG(rc == 1, "doctor exited %d:\n%s", rc, out);
    CHECK_STR_CONTAINS(out, "FAIL  models");
    CHECK_STR_CONTAINS(out, "scripts/setup --models");
    CHECK_STR_CONTAINS(out, "FAIL  database");
    CHECK_STR_CONTAINS(out, "FAIL  data");
    CHECK_STR_CONTAINS(out, "FAIL  port");
    CHECK_STR_CONTAINS(out, "fix: stop the program using it");
    CHECK_STR_CONTAINS(out, "4 problem(s)");
}

/* An empty SQLite file has every migration pending; `db init` fixes it. */
TEST(doctor_checks_migrations)
{
    char path[600], url[700], out[8192];
    snprintf(path, sizeof path, "%s/old.db", av_test_tmpdir());
    snprintf(url, sizeof url, "sqlite:%s", path);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fclose(f);
    char *doctor[] = {"aviary", "doctor", "--db", url, "--models", "/nonexistent", NULL};
    CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), doctor, out, sizeof out), 1);
    CHECK_STR_CONTAINS(out, "FAIL  database");
    CHECK_STR_CONTAINS(out, "pending migration");
    CHECK_STR_CONTAINS(out, "fix: aviary db migrate");
    char *init[] = {"aviary", "db", "init", "--db", url, NULL};
    CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), init, out, sizeof out), 0);
    CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), doctor, out, sizeof out), 1); /* models still */
    CHECK_STR_CONTAINS(out, "ok    database");
    CHECK_STR_CONTAINS(out, "(current)");
}

TEST(doctor_help_and_usage)
{
    char out[8192];
    char *help[] = {"aviary", "doctor", "--help", NULL};
    CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), help, out, sizeof out), 0);
    CHECK_STR_CONTAINS(out, "usage: aviary doctor");
    CHECK_STR_CONTAINS(out, "--data DIR");
    char *main_help[] = {"aviary", "--help", NULL};
    CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), main_help, out, sizeof out), 0);
    CHECK_STR_CONTAINS(out, "doctor");
    CHECK_STR_CONTAINS(out, av_config_installed_models);
    char *extra[] = {"aviary", "doctor", "now", NULL};
    CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), extra, out, sizeof out), 2);
    CHECK_STR_CONTAINS(out, "unexpected argument 'now'");
}

TEST_MAIN(T(first_start_without_models), T(doctor_passes_on_a_good_setup),
          T(doctor_reports_the_second_opinion),
          T(doctor_names_what_is_wrong), T(doctor_checks_migrations), T(doctor_help_and_usage))
