/*
 * bench_util.h - clocks, medians and random buffers shared by the benchmark
 * programs (each is one .c file linked with libaviary; header-only so that
 * each takes what it uses).
 */
#ifndef AV_BENCH_UTIL_H
#define AV_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

static inline double bench_clock_ms(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Wall clock. */
static inline double bench_now_ms(void)
{
    return bench_clock_ms(CLOCK_MONOTONIC);
}

/* CPU time of the whole process (every thread): what machine load inflates least. */
static inline double bench_cpu_ms(void)
{
    return bench_clock_ms(CLOCK_PROCESS_CPUTIME_ID);
}

/* CPU time of the calling thread. */
static inline double bench_thread_cpu_ms(void)
{
    return bench_clock_ms(CLOCK_THREAD_CPUTIME_ID);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static inline double bench_median(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* n floats in [-1, 1) from *seed, then `slack` zeroed bytes (XNNPACK may read past the
 * end); NULL when out of memory. The caller frees. */
static inline float *bench_rand_floats(size_t n, size_t slack, unsigned *seed)
{
    float *p = calloc(1, n * sizeof(float) + slack);
    for (size_t i = 0; p && i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        p[i] = (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return p;
}

#endif
