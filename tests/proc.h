/*
 * proc.h - tests that run the aviary binary: a free port, a run with its
 * output captured.
 */
#ifndef AV_TEST_PROC_H
#define AV_TEST_PROC_H

#include <stddef.h>

/* A loopback TCP port nothing listens on (bound, then released). Fails the
 * test when none can be had. */
int av_test_free_port(void);

/*
 * Run bin with argv (argv[0] is the program's name, NULL-terminated), its
 * stdout and stderr read into out (NUL-terminated, cut at cap - 1 bytes).
 * Returns the exit status, or -1 when it did not exit normally.
 */
int av_test_run(const char *bin, char *const argv[], char *out, size_t cap);

#endif
