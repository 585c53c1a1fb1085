/*
 * base.h - the bottom module: small helpers every module needs and that
 * used to be copied file by file (a monotonic clock, a deadline for
 * pthread_cond_timedwait, a formatted error into a caller's buffer, a
 * checked grow-by-doubling array). Depends on nothing but libc; every
 * module may include it. Fault injection (fault.h) lives here too.
 */
#ifndef AV_BASE_H
#define AV_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- time (time.c) ---- */

/* Milliseconds on CLOCK_MONOTONIC: for durations and timeouts, never dates. */
double av_base_now_ms(void);
/* The same in whole milliseconds, for deadlines kept as integers. */
int64_t av_base_mono_ms(void);
/* Milliseconds since the Unix epoch (CLOCK_REALTIME): for timestamps. */
int64_t av_base_wall_ms(void);

/* *ts = now + ms on CLOCK_REALTIME, the clock pthread_cond_timedwait reads
 * by default; ms < 0 counts as 0. */
void av_base_deadline(struct timespec *ts, int64_t ms);

/* ---- errors (err.c) ---- */

/*
 * Writes the formatted message into err[errlen] (nothing when err is NULL or
 * errlen 0; always NUL-terminated, cut to fit). Returns -1, so a function
 * whose failure is -1 can `return av_base_errf(...)`; AV_BASE_FAIL returns
 * any status type.
 */
int av_base_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same after the first `at` bytes of err, which hold a prefix the
 * caller wrote (nothing when at >= errlen); va_list form. */
void av_base_verrf(char *err, size_t errlen, size_t at, const char *fmt, va_list ap);

/* `return AV_BASE_FAIL(st, err, errlen, "fmt", ...);` sets the message and
 * yields st, whatever the module's status enum is. */
#define AV_BASE_FAIL(st, err, errlen, ...) (av_base_errf((err), (errlen), __VA_ARGS__), (st))

/* ---- arrays (grow.c) ---- */

/*
 * Makes *p (an array of *cap elements of elem bytes, NULL with *cap 0 at
 * first) hold at least need elements, doubling the capacity (at least 16
 * elements) so appends stay amortised O(1). Returns 0, or -1 when the size
 * would overflow or memory is short; *p and *cap are then unchanged (the old
 * array is still the caller's to free). The caller owns *p: free().
 */
int av_base_grow(void **p, size_t *cap, size_t need, size_t elem);

/* ---- fault injection (fault.c; see fault.h for the build option) ---- */

/*
 * Fails the n-th allocation or file call (malloc, calloc, realloc, strdup,
 * strndup, aligned_alloc, fopen, fread) made by code compiled with AV_FAULT
 * from now on; n = 0 disarms. Without AV_FAULT nothing is counted and
 * nothing fails.
 */
void av_base_fault_arm(long n);
/* Calls counted since the last arm; whether the armed failure happened. */
long av_base_fault_count(void);
int av_base_fault_fired(void);
/* 1 in a build compiled with AV_FAULT. */
int av_base_fault_enabled(void);

#endif
