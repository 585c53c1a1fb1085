/*
 * t_serving_config.c - several models from one model config file (reloaded
 * when it changes, bad files refused), and `aviary model-server
 * --model-config-file` with batching flags.
 */
#include "harness.h"
#include "detect_fixture.h"
#include "http.h"
#include "proc.h"
#include "serving_fixture.h"

#include "serving/serving.h"

#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(model_config_file_two_models)
{
    char b1[700], b2[700], cfg[800], real[PATH_MAX], text[2 * 700 + PATH_MAX + 400];
    snprintf(b1, sizeof b1, "%s/cfg_birds", av_test_tmpdir());
    snprintf(b2, sizeof b2, "%s/cfg_robins", av_test_tmpdir());
    CHECK(mkdir(b1, 0755) == 0 && mkdir(b2, 0755) == 0);
    av_test_make_version(b1, "1", 0);
    av_test_make_version(b2, "3", 0);
    CHECK(realpath("models", real) != NULL);
    snprintf(cfg, sizeof cfg, "%s/models.config", av_test_tmpdir());
    snprintf(text, sizeof text,
             "# two version trees and one plain models folder\n"
             "model_config_list {\n"
             "  config { name: \"birds\" base_path: \"%s\" model_platform: \"tensorflow\" }\n"
             "  config: {\n    name: 'robins',\n    base_path: \"%s\"\n  }\n"
             "  config { name: \"flat\" base_path: \"%s\" }\n"
             "}\n",
             b1, b2, real);
    av_test_write_file(cfg, text, strlen(text));
    av_serving_opts o = {.model_config_file = cfg, .poll_ms = 100};
    av_test_srv v;
    av_test_srv_start(&v, &o);
    CHECK_EQ_INT(av_serving_live_version_of(v.s, "birds"), 1);
    CHECK_EQ_INT(av_serving_live_version_of(v.s, "robins"), 3);
    CHECK_EQ_INT(av_serving_live_version_of(v.s, "flat"), 1);
    CHECK_EQ_INT(av_serving_live_version_of(v.s, "birdsClassifier"), 0);

    const char *names[] = {"birds", "robins", "flat"}, *vers[] = {"1", "3", "1"};
    char *body = av_test_b64_request(av_test_shared("testdata/images/parrot.jpg"));
    for (int i = 0; i < 3; i++) {
        char path[256];
        long st;
        snprintf(path, sizeof path, "/v1/models/%s", names[i]);
        json_t *j = av_test_srv_call(&v, "GET", path, NULL, &st, NULL);
        CHECK_MSG(st == 200, "%s: status %ld", path, st);
        CHECK_EQ_INT(json_array_size(json_object_get(j, "model_version_status")), 1);
        CHECK_STR_EQ(av_test_state_of(j, vers[i], NULL), "AVAILABLE");
        json_decref(j);

        snprintf(path, sizeof path, "/v1/models/%s/metadata", names[i]);
        j = av_test_srv_call(&v, "GET", path, NULL, &st, NULL);
        CHECK_EQ_INT(st, 200);
        json_t *spec = json_object_get(j, "model_spec");
        CHECK_STR_EQ(json_string_value(json_object_get(spec, "name")), names[i]);
        CHECK_STR_EQ(json_string_value(json_object_get(spec, "version")), vers[i]);
        json_decref(j);

        snprintf(path, sizeof path, "/v1/models/%s/versions/%s:predict", names[i], vers[i]);
        j = av_test_srv_call(&v, "POST", path, body, &st, NULL);
        CHECK_MSG(st == 200, "%s: status %ld: %s", path, st, av_test_err_of(j));
        json_t *p = json_array_get(json_object_get(j, "predictions"), 0);
        CHECK(json_number_value(json_object_get(p, "num_detections")) >= 1);
        json_decref(j);
    }
    /* Versions are per model: robins has no version 1. */
    av_test_srv_expect_error(&v, "POST", "/v1/models/robins/versions/1:predict", body, 404,
                             "Servable not found for request: Specific(robins, 1)");
    av_test_srv_expect_error(&v, "GET", "/v1/models/nope", NULL, 404,
                             "Could not find any versions of model nope");
    av_test_srv_expect_error(&v, "GET", "/v1/models/nope/metadata", NULL, 404,
                             "Servable not found for request: Latest(nope)");
    av_test_srv_expect_error(&v, "POST", "/v1/models/nope:predict", body, 404,
                             "Servable not found for request: Latest(nope)");
    av_test_srv_expect_error(&v, "GET", "/v1/models/birdsClassifier", NULL, 404,
                             "Could not find any versions of model birdsClassifier");
    long st;
    json_t *j = av_test_srv_call(&v, "GET", "/readyz", NULL, &st, NULL);
    CHECK_EQ_INT(st, 200);
    json_decref(j);
    char *m = av_test_metrics_text(&v);
    CHECK_STR_CONTAINS(m, "aviary_serving_model_version{model=\"birds\"} 1");
    CHECK_STR_CONTAINS(m, "aviary_serving_model_version{model=\"robins\"} 3");
    CHECK_STR_CONTAINS(m, "aviary_serving_model_version{model=\"flat\"} 1");
    free(m);

    /* Hot swap stays per model: a new robins version leaves birds alone. */
    av_test_make_version(b2, "4", 0);
    for (int t = 0; t < 200 && av_serving_live_version_of(v.s, "robins") != 4; t++)
        av_test_sleep_ms(50);
    CHECK_EQ_INT(av_serving_live_version_of(v.s, "robins"), 4);
    CHECK_EQ_INT(av_serving_live_version_of(v.s, "birds"), 1);
    av_serving_stop(v.s);
    free(body);

    /* Bad files are refused before anything loads, naming the line. */
    struct {
        const char *text, *want;
    } bad[] = {
        {"model_config_list {\n config {\n  name: \"a\" base_path: \"x\"\n  "
         "model_version_policy { all {} }\n }\n}\n",
         ":4: unsupported field 'model_version_policy'"},
        {"model_config_list { config { name: \"a\" base_path: \"x\" } config { name: \"a\" "
         "base_path: \"y\" } }",
         "model 'a' is listed twice"},
        {"model_config_list { config { name: \"a\" } }", "needs both name and base_path"},
        {"model_config_list { }", "no models"},
        {"model_config_list { config { name: \"a/b\" base_path: \"x\" } }", "model name"},
        {"model_config_list { config { name: \"a\" base_path: \"x }", "unterminated string"},
        {"{}", "expected model_config_list"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        av_test_write_file(cfg, bad[i].text, strlen(bad[i].text));
        av_serving *s = NULL;
        char err[512] = "";
        av_serving_opts ob = {.listen = "127.0.0.1", .model_config_file = cfg};
        CHECK_EQ_INT(av_serving_start(&ob, &s, err, sizeof err), AV_SERVING_E_ARG);
        CHECK(s == NULL);
        CHECK_STR_CONTAINS(err, bad[i].want);
    }
}

/* The flags reach the server: `aviary model-server --model-config-file F
 * --batch-max 4` serves the file's model with batching (batch sizes in
 * /metrics); out-of-range batch flags are usage errors. */
TEST(model_server_cli_config_file_and_batching)
{
    char real[PATH_MAX], cfg[800], text[PATH_MAX + 200];
    CHECK(realpath("models", real) != NULL);
    snprintf(cfg, sizeof cfg, "%s/cli.config", av_test_tmpdir());
    snprintf(text, sizeof text,
             "model_config_list { config { name: \"cliBirds\" base_path: \"%s\" } }\n", real);
    av_test_write_file(cfg, text, strlen(text));
    int port = av_test_free_port();
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    char *argv[] = {"aviary",
                    "model-server",
                    "--listen",
                    "127.0.0.1",
                    "--port",
                    p,
                    "--model-config-file",
                    cfg,
                    "--batch-max",
                    "4",
                    "--batch-wait-ms",
                    "1",
                    "--log-level",
                    "warn",
                    NULL};
    pid_t pid = av_test_spawn(argv);
    av_test_srv v = {0};
    snprintf(v.base, sizeof v.base, "http://127.0.0.1:%d", port);
    char url[160];
    snprintf(url, sizeof url, "%s/v1/models/cliBirds", v.base);
    CHECK_MSG(av_test_wait_up(url, 15000), "model-server did not serve cliBirds at %s", url);
    char *body = av_test_b64_request(av_test_shared("testdata/images/parrot.jpg"));
    long st;
    json_t *j = av_test_srv_call(&v, "POST", "/v1/models/cliBirds:predict", body, &st, NULL);
    CHECK_MSG(st == 200, "status %ld: %s", st, av_test_err_of(j));
    json_decref(j);
    free(body);
    char *m = av_test_metrics_text(&v);
    CHECK_MSG(av_test_metric(m, "aviary_serving_batch_size_count") == 1, "no batch counted:\n%s",
              m);
    free(m);
    CHECK_EQ_INT(av_test_stop(pid, SIGINT), 0);

    char *bad[] = {"aviary", "model-server", "--batch-max", "100000", NULL};
    pid = av_test_spawn(bad);
    int status;
    waitpid(pid, &status, 0);
    CHECK_EQ_INT(WEXITSTATUS(status), 2);
}

TEST_MAIN(T(model_config_file_two_models), T(model_server_cli_config_file_and_batching))
