/*
 * t_web_health.c - the HTTP server answers /healthz over real HTTP, and the
 * `aviary serve` binary starts, serves and stops cleanly on SIGTERM/SIGINT.
 */
#include "harness.h"
#include "http.h"
#include "proc.h"

#include "web/web.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TEST(healthz_on_ephemeral_port)
{
    av_web_opts o = {.listen = "127.0.0.1", .port = 0, .workers = 2, .role = "web"};
    av_web *w = NULL;
    char err[256];
    CHECK_MSG(av_web_start(&o, &w, err, sizeof err) == 0, "%s", err);
    CHECK(av_web_port(w) > 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", av_web_port(w));
    av_http_resp r;
    CHECK_EQ_INT(av_http_get(url, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR_CONTAINS(r.body, "\"status\":\"ok\"");
    CHECK_STR_CONTAINS(r.headers, "application/json");
    av_http_free(&r);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/nope", av_web_port(w));
    CHECK_EQ_INT(av_http_get(url, &r), 0);
    CHECK_EQ_INT(r.status, 404);
    av_http_free(&r);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", av_web_port(w));
    CHECK_EQ_INT(av_http_request("POST", url, "text/plain", "x", 1, &r), 0);
    CHECK_EQ_INT(r.status, 405);
    av_http_free(&r);
    av_web_stop(w);
}

TEST(port_in_use_is_a_clear_error)
{
    av_web_opts o = {.listen = "127.0.0.1", .port = 0, .workers = 1};
    av_web *a = NULL, *b = NULL;
    char err[256];
    CHECK(av_web_start(&o, &a, err, sizeof err) == 0);
    o.port = av_web_port(a);
    CHECK_EQ_INT(av_web_start(&o, &b, err, sizeof err), -1);
    CHECK(b == NULL);
    CHECK_STR_CONTAINS(err, "cannot listen");
    o.listen = "not-an-ip";
    o.port = 0;
    CHECK_EQ_INT(av_web_start(&o, &b, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "not-an-ip");
    av_web_stop(a);
}

static void serve_and_stop(int sig)
{
    int port = av_test_free_port();
    char portarg[16], data[600];
    snprintf(portarg, sizeof portarg, "%d", port);
    snprintf(data, sizeof data, "%s/data", av_test_tmpdir());
    char *argv[] = {"aviary", "serve", "--listen", "127.0.0.1", "--port", portarg,
                    "--data", data, "--log-level", "warn", NULL};
    pid_t pid = av_test_spawn(argv);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", port);
    av_http_resp r = {0};
    int up = av_test_wait_up(url, 10000) && av_http_get(url, &r) == 0 && r.status == 200;
    if (!up)
        av_test_stop(pid, SIGKILL);
    CHECK_MSG(up, "aviary serve did not answer %s", url);
    CHECK_STR_CONTAINS(r.body, "\"version\"");
    av_http_free(&r);
    char sub[700];
    snprintf(sub, sizeof sub, "%s/originals", data);
    CHECK_MSG(access(sub, F_OK) == 0, "serve did not create %s", sub);

    int status = av_test_stop(pid, sig);
    CHECK_MSG(status == 0, "serve did not exit cleanly (%d)", status);
}

TEST(serve_binary_stops_on_sigterm)
{
    serve_and_stop(SIGTERM);
}

TEST(serve_binary_stops_on_sigint)
{
    serve_and_stop(SIGINT);
}

TEST(cli_help_version_dispatch)
{
    char out[8192];
    char *help[] = {"aviary", "--help", NULL};
    CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), help, out, sizeof out), 0);
    const char *cmds[] = {"serve", "model-server", "detect", "classify", "db", "mlmd"};
    for (size_t i = 0; i < 6; i++) {
        CHECK_STR_CONTAINS(out, cmds[i]);
        char *sub[] = {"aviary", (char *)cmds[i], "--help", NULL};
        char o2[8192];
        CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), sub, o2, sizeof o2), 0);
        CHECK_STR_CONTAINS(o2, "usage: aviary ");
    }
    char *ver[] = {"aviary", "version", NULL};
    CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), ver, out, sizeof out), 0);
    CHECK_STR_CONTAINS(out, "aviary 0.");
    char *bad[] = {"aviary", "fly", NULL};
    CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), bad, out, sizeof out), 2);
    CHECK_STR_CONTAINS(out, "unknown command 'fly'");
    char *badflag[] = {"aviary", "serve", "--bogus", NULL};
    CHECK_EQ_INT(av_test_run(av_test_aviary_bin(), badflag, out, sizeof out), 2);
    CHECK_STR_CONTAINS(out, "--bogus");
}

TEST_MAIN(T(healthz_on_ephemeral_port), T(port_in_use_is_a_clear_error),
          T(serve_binary_stops_on_sigterm), T(serve_binary_stops_on_sigint),
          T(cli_help_version_dispatch))
