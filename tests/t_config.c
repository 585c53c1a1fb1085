/*
 * t_config.c - settings precedence: flags > environment > file > defaults.
 */
#include "harness.h"

#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const keys[] = {"port", "data", "db", "threads", "max-upload-mb",
                                   "log-level", NULL};

static int parse(av_config *c, int argc, char **argv, char **rest, int *nrest, char *err)
{
    av_config_defaults(c, "serve");
    return av_config_parse(c, keys, argc, argv, rest, nrest, err, 256);
}

TEST(defaults)
{
    av_config c;
    av_config_defaults(&c, "serve");
    CHECK_EQ_INT(c.port, 8080);
    CHECK_STR_EQ(c.data_dir, "data");
    av_config_defaults(&c, "model-server");
    CHECK_EQ_INT(c.port, 8501);
    char url[600];
    av_config_defaults(&c, "serve");
    av_config_db_url(&c, url, sizeof url);
    CHECK_STR_EQ(url, "sqlite:data/aviary.db");
}

TEST(flags_both_forms)
{
    char *argv[] = {"--port", "9090", "--data=/tmp/x", "img.jpg", "--db", "mysql://u@h/db"};
    char *rest[6], err[256];
    int n;
    av_config c;
    CHECK_EQ_INT(parse(&c, 6, argv, rest, &n, err), 0);
    CHECK_EQ_INT(c.port, 9090);
    CHECK_STR_EQ(c.data_dir, "/tmp/x");
    CHECK_STR_EQ(c.db_url, "mysql://u@h/db");
    CHECK_EQ_INT(n, 1);
    CHECK_STR_EQ(rest[0], "img.jpg");
}

TEST(unknown_flags_left_for_command)
{
    char *argv[] = {"--json", "--top", "3", "--", "--port"};
    char *rest[5], err[256];
    int n;
    av_config c;
    CHECK_EQ_INT(parse(&c, 5, argv, rest, &n, err), 0);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(c.port, 8080); /* after "--" nothing is a flag */
}

TEST(bad_values_are_errors)
{
    char *a1[] = {"--port", "abc"};
    char *a2[] = {"--port", "70000"};
    char *a3[] = {"--port"};
    char *a4[] = {"--log-level", "loud"};
    char *rest[4], err[256];
    int n;
    av_config c;
    CHECK_EQ_INT(parse(&c, 2, a1, rest, &n, err), AV_CONFIG_E_VALUE);
    CHECK_STR_CONTAINS(err, "not a whole number");
    CHECK_EQ_INT(parse(&c, 2, a2, rest, &n, err), AV_CONFIG_E_VALUE);
    CHECK_STR_CONTAINS(err, "out of range");
    CHECK_EQ_INT(parse(&c, 1, a3, rest, &n, err), AV_CONFIG_E_USAGE);
    CHECK_STR_CONTAINS(err, "needs a value");
    CHECK_EQ_INT(parse(&c, 2, a4, rest, &n, err), AV_CONFIG_E_VALUE);
    CHECK_STR_CONTAINS(err, "--log-level");
}

TEST(precedence_flag_env_file)
{
    char path[600];
    snprintf(path, sizeof path, "%s/aviary.conf", av_test_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f);
    fprintf(f, "# comment\nport = 7000\nthreads = 3\ndata = /from/file\nmax-upload-mb = 5\n");
    fclose(f);
    setenv("AVIARY_CONFIG", path, 1);
    setenv("AVIARY_THREADS", "4", 1);
    setenv("AVIARY_PORT", "7100", 1);
    char *argv[] = {"--port", "7200"};
    char *rest[2], err[256];
    int n;
    av_config c;
    CHECK_MSG(parse(&c, 2, argv, rest, &n, err) == 0, "%s", err);
    CHECK_EQ_INT(c.port, 7200);             /* flag beats env and file */
    CHECK_EQ_INT(c.threads, 4);             /* env beats file */
    CHECK_STR_EQ(c.data_dir, "/from/file"); /* file beats default */
    CHECK_EQ_INT(c.max_upload_bytes, 5000000);
}

TEST(config_flag_and_bad_file)
{
    char path[600];
    snprintf(path, sizeof path, "%s/bad.conf", av_test_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f);
    fprintf(f, "port = 1\nnonsense line\n");
    fclose(f);
    unsetenv("AVIARY_CONFIG");
    char flag[700];
    snprintf(flag, sizeof flag, "--config=%s", path);
    char *argv[] = {flag};
    char *rest[1], err[256];
    int n;
    av_config c;
    CHECK_EQ_INT(parse(&c, 1, argv, rest, &n, err), AV_CONFIG_E_SYNTAX);
    CHECK_STR_CONTAINS(err, ":2: expected 'key = value'");

    f = fopen(path, "w");
    fprintf(f, "colour = blue\n");
    fclose(f);
    CHECK_EQ_INT(parse(&c, 1, argv, rest, &n, err), AV_CONFIG_E_KEY);
    CHECK_STR_CONTAINS(err, "unknown key 'colour'");

    char *missing[] = {"--config", "/nonexistent/aviary.conf"};
    CHECK_EQ_INT(parse(&c, 2, missing, rest, &n, err), AV_CONFIG_E_IO);
    CHECK_STR_CONTAINS(err, "/nonexistent/aviary.conf");
}

TEST(env_errors_name_the_variable)
{
    setenv("AVIARY_THREADS", "many", 1);
    char *rest[1], err[256];
    int n;
    av_config c;
    CHECK_EQ_INT(parse(&c, 0, NULL, rest, &n, err), AV_CONFIG_E_VALUE);
    CHECK_STR_CONTAINS(err, "AVIARY_THREADS");
}

TEST(tracked_classes)
{
    av_config c;
    char names[AV_CONFIG_MAX_TRACKED][128], err[256];
    av_config_defaults(&c, "serve");
    CHECK_EQ_INT(av_config_tracked(&c, names, AV_CONFIG_MAX_TRACKED, err, sizeof err), 3);
    CHECK_STR_EQ(names[0], "Erithacus rubecula");
    CHECK_STR_EQ(names[2], "Pica pica");
    CHECK_EQ_INT(av_config_set(&c, "tracked", " Ara macao , Pica pica", err, sizeof err), 0);
    CHECK_EQ_INT(av_config_tracked(&c, names, AV_CONFIG_MAX_TRACKED, err, sizeof err), 2);
    CHECK_STR_EQ(names[0], "Ara macao");
    CHECK_STR_EQ(names[1], "Pica pica");
    /* a bad list is refused with a reason and leaves the old one */
    CHECK_EQ_INT(av_config_set(&c, "tracked", "a,,b", err, sizeof err), AV_CONFIG_E_VALUE);
    CHECK_STR_CONTAINS(err, "empty class name");
    CHECK_EQ_INT(av_config_tracked(&c, names, AV_CONFIG_MAX_TRACKED, err, sizeof err), 2);
    char many[400] = "";
    for (int i = 0; i < AV_CONFIG_MAX_TRACKED + 1; i++)
        strcat(many, i ? ",x" : "x");
    CHECK_EQ_INT(av_config_set(&c, "tracked", many, err, sizeof err), AV_CONFIG_E_VALUE);
    CHECK_STR_CONTAINS(err, "more than 16");
    CHECK_EQ_INT(av_config_set(&c, "blob-store", "/srv/blobs", err, sizeof err), 0);
    CHECK_STR_EQ(c.blob_store, "/srv/blobs");
}

static void touch_pipeline(const char *dir)
{
    char path[700];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/pipeline.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("{}\n", f);
    fclose(f);
}

/* --models, then ./models holding pipeline.json, then the installed folder */
TEST(models_search_order)
{
    char work[600], installed[650], hint[600], err[256];
    snprintf(work, sizeof work, "%s/work", av_test_tmpdir());
    snprintf(installed, sizeof installed, "%s/installed", av_test_tmpdir());
    mkdir(work, 0755);
    CHECK_EQ_INT(chdir(work), 0); /* each case runs in its own process */
    unsetenv("AVIARY_MODELS");
    unsetenv("AVIARY_CONFIG");
    av_config c;

    av_config_defaults(&c, "serve"); /* nothing anywhere: ./models, and advice */
    CHECK_EQ_INT(av_config_find_models(&c, installed), AV_CONFIG_MODELS_NONE);
    CHECK_STR_EQ(c.models_dir, "models");
    av_config_models_hint(&c, hint, sizeof hint);
    CHECK_STR_CONTAINS(hint, "./models");
    CHECK_STR_CONTAINS(hint, av_config_installed_models);
    CHECK_STR_CONTAINS(hint, "scripts/setup --models");

    touch_pipeline(installed);
    av_config_defaults(&c, "serve");
    CHECK_EQ_INT(av_config_find_models(&c, installed), AV_CONFIG_MODELS_INSTALLED);
    CHECK_STR_EQ(c.models_dir, installed);
    CHECK_STR_EQ(av_config_models_from_name(AV_CONFIG_MODELS_INSTALLED), "installed");

    mkdir("models", 0755); /* a models folder without pipeline.json is not one */
    av_config_defaults(&c, "serve");
    CHECK_EQ_INT(av_config_find_models(&c, installed), AV_CONFIG_MODELS_INSTALLED);
    touch_pipeline("models");
    av_config_defaults(&c, "serve");
    CHECK_EQ_INT(av_config_find_models(&c, installed), AV_CONFIG_MODELS_CWD);
    CHECK_STR_EQ(c.models_dir, "models");

    setenv("AVIARY_MODELS", "/srv/m", 1); /* a setting wins, even an empty folder */
    char *rest[1];
    int n;
    av_config_defaults(&c, "serve");
    const char *const keys[] = {"models", NULL};
    CHECK_MSG(av_config_parse(&c, keys, 0, NULL, rest, &n, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(av_config_find_models(&c, installed), AV_CONFIG_MODELS_GIVEN);
    CHECK_STR_EQ(c.models_dir, "/srv/m");
    av_config_models_hint(&c, hint, sizeof hint);
    CHECK_STR_CONTAINS(hint, "/srv/m");
}

/* A command's default config file (doctor: the installed one) is read
 * unless --config or AVIARY_CONFIG names another. */
TEST(default_config_file)
{
    char def[400], other[400], err[256];
    snprintf(def, sizeof def, "%s/default.conf", av_test_tmpdir());
    snprintf(other, sizeof other, "%s/other.conf", av_test_tmpdir());
    FILE *f = fopen(def, "w");
    CHECK(f);
    fputs("port = 7001\n", f);
    fclose(f);
    f = fopen(other, "w");
    CHECK(f);
    fputs("port = 7002\n", f);
    fclose(f);
    unsetenv("AVIARY_CONFIG");
    unsetenv("AVIARY_PORT");
    char *rest[2];
    int n;
    av_config c;
    av_config_defaults(&c, "serve");
    snprintf(c.config_file, sizeof c.config_file, "%s", def);
    CHECK_MSG(av_config_parse(&c, keys, 0, NULL, rest, &n, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(c.port, 7001);
    av_config_defaults(&c, "serve");
    snprintf(c.config_file, sizeof c.config_file, "%s", def);
    setenv("AVIARY_CONFIG", other, 1);
    CHECK_MSG(av_config_parse(&c, keys, 0, NULL, rest, &n, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(c.port, 7002);
    CHECK_STR_EQ(c.config_file, other);
}

TEST(guest_and_metrics_token)
{
    av_config c;
    char err[256];
    av_config_defaults(&c, "serve");
    CHECK_EQ_INT(c.guest, 0); /* the default: upload and vote */
    CHECK_EQ_INT(av_config_set(&c, "guest", "view", err, sizeof err), 0);
    CHECK_EQ_INT(c.guest, AV_CONFIG_GUEST_SET | AV_CONFIG_GUEST_VIEW);
    CHECK_EQ_INT(av_config_set(&c, "guest", "upload, vote", err, sizeof err), 0);
    CHECK_EQ_INT(c.guest, AV_CONFIG_GUEST_SET | AV_CONFIG_GUEST_VIEW | AV_CONFIG_GUEST_UPLOAD |
                              AV_CONFIG_GUEST_VOTE);
    CHECK_EQ_INT(av_config_set(&c, "guest", "none", err, sizeof err), 0);
    CHECK_EQ_INT(c.guest, AV_CONFIG_GUEST_SET);
    CHECK_EQ_INT(av_config_set(&c, "guest", "view,delete", err, sizeof err), AV_CONFIG_E_VALUE);
    CHECK_STR_CONTAINS(err, "'delete'");
    CHECK_EQ_INT(av_config_set(&c, "guest", "none,view", err, sizeof err), AV_CONFIG_E_VALUE);
    CHECK_EQ_INT(av_config_set(&c, "guest", "", err, sizeof err), AV_CONFIG_E_VALUE);
    CHECK_EQ_INT(c.guest, AV_CONFIG_GUEST_SET); /* a bad value changes nothing */

    char path[700];
    snprintf(path, sizeof path, "%s/token", av_test_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("s3cret-token\nsecond line ignored\n", f);
    fclose(f);
    CHECK_EQ_INT(av_config_set(&c, "metrics-token-file", path, err, sizeof err), 0);
    CHECK_STR_EQ(c.metrics_token, "s3cret-token");
    CHECK_EQ_INT(av_config_set(&c, "metrics-token-file", "/nonexistent/x", err, sizeof err),
                 AV_CONFIG_E_IO);
    CHECK_STR_CONTAINS(err, "/nonexistent/x");
}

/* Each way a setting fails has its own status, named and described. */
TEST(status_codes)
{
    av_config c;
    char err[256];
    av_config_defaults(&c, "serve");
    CHECK_EQ_INT(av_config_set(&c, "colour", "blue", err, sizeof err), AV_CONFIG_E_KEY);
    CHECK_STR_CONTAINS(err, "unknown setting 'colour'");
    CHECK_EQ_INT(av_config_set(&c, "camera-keep-best", "-3", err, sizeof err), AV_CONFIG_E_VALUE);
    CHECK_STR_EQ(av_config_status_name(AV_CONFIG_E_SYNTAX), "E_SYNTAX");
    CHECK_STR_EQ(av_config_strerror(AV_CONFIG_E_KEY), "unknown setting");
    CHECK_STR_EQ(av_config_strerror((av_config_status)99), "unknown status");
}

TEST_MAIN(T(guest_and_metrics_token), T(status_codes), T(defaults), T(flags_both_forms), T(unknown_flags_left_for_command),
          T(bad_values_are_errors), T(precedence_flag_env_file), T(config_flag_and_bad_file),
          T(env_errors_name_the_variable), T(tracked_classes), T(models_search_order),
          T(default_config_file))
