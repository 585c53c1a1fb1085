/*
 * harness.c - runner for tests/harness.h: forks each case with a timeout.
 *
 * Exit status of a case process: 0 pass, 77 skip, anything else (or a
 * signal, or the timeout) fail. The timeout is 120 s per case, scaled by
 * $AV_TEST_TIMEOUT_SCALE (sanitizer builds set 4).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SKIP_STATUS 77

static char g_tmpdir[512];

void av_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

void av_test_skip(const char *why)
{
    fprintf(stderr, "    skipped: %s\n", why);
    fflush(stderr);
    _exit(SKIP_STATUS);
}

const char *av_test_shared(const char *rel)
{
    static char paths[8][1024];
    static unsigned next;
    char *path = paths[next++ % 8];
    const char *root = getenv("AVIARY_SHARED");
    if (!root || !*root)
        root = "../shared";
    snprintf(path, sizeof paths[0], "%s/%s", root, rel);
    if (access(path, R_OK) != 0) {
        char why[1200];
        snprintf(why, sizeof why, "%s not found (set AVIARY_SHARED)", path);
        av_test_skip(why);
    }
    return path;
}

const char *av_test_tmpdir(void)
{
    if (!g_tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(g_tmpdir, sizeof g_tmpdir, "%s/aviary-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(g_tmpdir))
            FAIL("mkdtemp: %s", strerror(errno));
    }
    return g_tmpdir;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    remove(p);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run_case(const struct av_test *t, int timeout_s)
{
    /* The tmpdir name is chosen here so the parent can remove it. */
    const char *base = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/aviary-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        snprintf(g_tmpdir, sizeof g_tmpdir, "%s", dir);
        alarm((unsigned)timeout_s);
        t->fn();
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    kill(-pid, SIGKILL); /* anything the case left running (servers) */
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        fprintf(stderr, "    %s\n", sig == SIGALRM ? "timed out" : strsignal(sig));
    }
    return 1;
}

int av_test_main(int argc, char **argv, const struct av_test *tests, size_t n)
{
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (argc > 1) { /* one case, in-process, for debugging */
        for (size_t i = 0; i < n; i++)
            if (strcmp(tests[i].name, argv[1]) == 0) {
                tests[i].fn();
                printf("PASS %s/%s\n", prog, tests[i].name);
                return 0;
            }
        fprintf(stderr, "%s: no test case '%s'\n", prog, argv[1]);
        return 2;
    }
    double scale = 1.0;
    const char *s = getenv("AV_TEST_TIMEOUT_SCALE");
    if (s && atof(s) > 0)
        scale = atof(s);
    int timeout_s = (int)(120 * scale);
    int passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        double t0 = now_s();
        int rc = run_case(&tests[i], timeout_s);
        double dt = now_s() - t0;
        const char *word = rc == 0 ? "PASS" : rc == SKIP_STATUS ? "SKIP" : "FAIL";
        if (rc == 0)
            passed++;
        else if (rc == SKIP_STATUS)
            skipped++;
        else
            failed++;
        printf("%s %s/%s (%.2fs)\n", word, prog, tests[i].name, dt);
        fflush(stdout);
    }
    printf("%s: %d passed, %d failed, %d skipped\n", prog, passed, failed, skipped);
    return failed ? 1 : 0;
}

void av_test_db_url(char *url, size_t cap, const char *sqlite_name, char tag)
{
    const char *env = getenv("AVIARY_TEST_DB");
    if (!env || !*env) {
        snprintf(url, cap, "sqlite:%s/%s", av_test_tmpdir(), sqlite_name);
        return;
    }
    const char *hostpart = strstr(env, "://");
    const char *slash = hostpart ? strchr(hostpart + 3, '/') : NULL;
    CHECK_MSG(slash, "AVIARY_TEST_DB must be mysql://.../db");
    const char *q = strchr(slash, '?');
    snprintf(url, cap, "%.*s/aviary_%c%d%s", (int)(slash - env), env, tag, (int)getpid(),
             q ? q : "");
}
