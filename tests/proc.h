/*
 * proc.h - tests that run the aviary binary: a free port, a run with its
 * output captured, a server started in the background, waited for and stopped.
 */
#ifndef AV_TEST_PROC_H
#define AV_TEST_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* A loopback TCP port nothing listens on (bound, then released). Fails the
 * test when none can be had. */
int av_test_free_port(void);

/*
 * Run bin with argv (argv[0] is the program's name, NULL-terminated), its
 * stdout and stderr read into out (NUL-terminated, cut at cap - 1 bytes).
 * Returns the exit status, or -1 when it did not exit normally.
 */
int av_test_run(const char *bin, char *const argv[], char *out, size_t cap);

/* The aviary binary as an absolute path (cases may change directory):
 * $AVIARY_BIN (scripts/run-tests sets it per build folder), else the one of
 * this test binary's build folder (build-asan/tests/t_x: build-asan/aviary).
 * Fails the case when it is not built. */
const char *av_test_aviary_bin(void);

/* Starts av_test_aviary_bin() with argv in a child process; its pid. */
pid_t av_test_spawn(char *const argv[]);
/* The same in folder dir (NULL: this one), its stdout and stderr appended
 * to the file log (NULL: this process's). */
pid_t av_test_spawn_in(const char *dir, const char *log, char *const argv[]);

/* 1 once GET url answers 200, 0 when it has not within ms milliseconds. */
int av_test_wait_up(const char *url, int ms);

/* Sends sig to pid and reaps it (SIGKILL after 10 s): its exit status, or
 * -1 when it did not exit normally. */
int av_test_stop(pid_t pid, int sig);

void av_test_sleep_ms(int ms);

#endif
