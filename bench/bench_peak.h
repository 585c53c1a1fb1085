/*
 * bench_peak.h - this machine's f32 FMA peak, measured: `threads` threads
 * each run 12 independent chains of 8-wide fused multiply-adds (enough to
 * cover the FMA latency on two pipes) for ~40 ms; the sum of their
 * GFLOP/s. A convolution's time can not fall below its FLOPs at this rate,
 * so the figure says how far a model is from the hardware's floor. 0 when
 * the CPU (or compiler) has no AVX2+FMA.
 */
#ifndef AVIARY_BENCH_PEAK_H
#define AVIARY_BENCH_PEAK_H

#include <pthread.h>
#include <time.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define BENCH_PEAK_X86 1

#define BENCH_PEAK_ITERS 400000L /* x 12 chains x 16 FLOP: ~77 MFLOP a thread */

typedef struct bench_peak_job {
    double gflops;
    float sink;
} bench_peak_job;

__attribute__((target("avx2,fma"))) static void *bench_peak_thread(void *arg)
{
    bench_peak_job *j = arg;
    __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2),
           a3 = _mm256_set1_ps(3), a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5),
           a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7), a8 = _mm256_set1_ps(8),
           a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
    double best = 0;
    for (int round = 0; round < 5; round++) { /* the best of 5: noise only slows it */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long k = 0; k < BENCH_PEAK_ITERS; k++) {
            a0 = _mm256_fmadd_ps(a0, m, c), a1 = _mm256_fmadd_ps(a1, m, c);
            a2 = _mm256_fmadd_ps(a2, m, c), a3 = _mm256_fmadd_ps(a3, m, c);
            a4 = _mm256_fmadd_ps(a4, m, c), a5 = _mm256_fmadd_ps(a5, m, c);
            a6 = _mm256_fmadd_ps(a6, m, c), a7 = _mm256_fmadd_ps(a7, m, c);
            a8 = _mm256_fmadd_ps(a8, m, c), a9 = _mm256_fmadd_ps(a9, m, c);
            a10 = _mm256_fmadd_ps(a10, m, c), a11 = _mm256_fmadd_ps(a11, m, c);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        double g = s > 0 ? BENCH_PEAK_ITERS * 12.0 * 16.0 / s / 1e9 : 0;
        best = g > best ? g : best;
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    j->sink = _mm_cvtss_f32(_mm256_castps256_ps128(s)); /* keeps the chains alive */
    j->gflops = best;
    return NULL;
}
#endif

/* f32 GFLOP/s of `threads` (1..64) threads at once, or 0 without AVX2+FMA. */
static inline double bench_fma_peak_gflops(int threads)
{
#ifdef BENCH_PEAK_X86
    if (threads < 1 || threads > 64 || !__builtin_cpu_supports("avx2") ||
        !__builtin_cpu_supports("fma"))
        return 0;
    pthread_t t[64];
    bench_peak_job jobs[64] = {{0, 0}};
    int started = 0;
    for (int i = 1; i < threads; i++, started++)
        if (pthread_create(&t[i], NULL, bench_peak_thread, &jobs[i]))
            break;
    bench_peak_thread(&jobs[0]);
    double sum = jobs[0].gflops;
    for (int i = 1; i <= started; i++) {
        pthread_join(t[i], NULL);
        sum += jobs[i].gflops;
    }
    return started == threads - 1 ? sum : 0;
#else
    (void)threads;
    return 0;
#endif
}

#endif
