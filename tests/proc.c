/*
 * proc.c - see proc.h.
 */
#include "proc.h"

#include "harness.h"
#include "http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int av_test_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) ||
        getsockname(s, (struct sockaddr *)&sa, &len))
        FAIL("cannot find a free port");
    close(s);
    return ntohs(sa.sin_port);
}

int av_test_run(const char *bin, char *const argv[], char *out, size_t cap)
{
    int pfd[2];
    if (pipe(pfd))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        execv(bin, argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(pfd[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = '\0';
    close(pfd[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char *av_test_aviary_bin(void)
{
    static char path[PATH_MAX];
    char want[PATH_MAX + 16];
    const char *b = getenv("AVIARY_BIN");
    if (b && *b) {
        snprintf(want, sizeof want, "%s", b);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        CHECK(n > 0);
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        CHECK(slash);
        *slash = '\0';
        snprintf(want, sizeof want, "%s/../aviary", self);
    }
    CHECK_MSG(realpath(want, path) && access(path, X_OK) == 0, "%s not built (make)", want);
    return path;
}

pid_t av_test_spawn(char *const argv[])
{
    return av_test_spawn_in(NULL, NULL, argv);
}

pid_t av_test_spawn_in(const char *dir, const char *log, char *const argv[])
{
    const char *bin = av_test_aviary_bin(); /* before the fork: it may fail the case */
    pid_t pid = fork();
    if (pid == 0) {
        if (dir && chdir(dir))
            _exit(127);
        if (log) {
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
                _exit(127);
            close(fd);
        }
        execv(bin, argv);
        _exit(127);
    }
    CHECK(pid > 0);
    return pid;
}

int av_test_wait_up(const char *url, int ms)
{
    for (int t = 0; t < ms; t += 100) {
        av_http_resp r;
        if (av_http_get(url, &r) == 0 && r.status == 200) {
            av_http_free(&r);
            return 1;
        }
        av_http_free(&r);
        av_test_sleep_ms(100);
    }
    return 0;
}

int av_test_stop(pid_t pid, int sig)
{
    kill(pid, sig);
    int status = 0;
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        av_test_sleep_ms(100);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

void av_test_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
