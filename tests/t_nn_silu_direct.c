/*
 * t_nn_silu_direct.c - the direct AVX2+FMA SiLU (xnn_silu.c, x / (1 + exp(-x))
 * without the mirrored sigmoid): against x / (1 + exp(-x)) in double and
 * against the mirrored kernel it replaces, over odd sizes (vector tails, two-
 * vector steps, pool tasks), the exp cut-offs and past them, signed zeros,
 * infinities and NaN, in place and out of place; and it is the kernel the
 * engine's SiLU runs where AV_NN_XNN_SILU_DIRECT is not "0".
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/xnn/xnn_impl.h" /* av_nn__xnn_silu_with */

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { K_DEFAULT = 1, K_MIRRORED = 3, K_DIRECT = 4 };

static const float special[] = {0.0f,  -0.0f,   86.9f, -86.9f,  87.0f,  -87.0f, 87.4f,
                                -87.4f, 88.0f,  -88.0f, 100.0f, -100.0f, 1e-30f, -1e-30f,
                                20.0f, -20.0f,  1e-3f,  -1e-3f, 0.5f,   -0.5f,  INFINITY};

static float *values(size_t n, uint64_t seed)
{
    float *x = malloc(n * sizeof *x);
    CHECK(x);
    nf_reseed(seed);
    size_t ns = sizeof special / sizeof special[0];
    for (size_t i = 0; i < n; i++)
        x[i] = n >= ns && i < ns ? special[i] : nf_frand(-40, 40);
    if (n > 40)
        x[n / 2] = NAN;
    return x;
}

/* Both kernels against double on sizes that leave every tail length. */
TEST(direct_against_double_odd_sizes)
{
    static const size_t sizes[] = {1, 2, 5, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 33, 16385, 40009};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        float *x = values(n, 900 + si), *y = malloc(n * sizeof *y);
        CHECK(y);
        if (!av_nn__xnn_silu_with(K_DIRECT, x, y, n, si % 2 ? nf_pool() : NULL)) {
            free(x), free(y);
            return; /* no AVX2+FMA on this CPU: nothing to compare */
        }
        for (size_t i = 0; i < n; i++) {
            double v = x[i], want = isinf(v) ? v : v / (1 + exp(-v));
            double tol = 2e-6 * (fabs(want) > 1e-3 ? fabs(want) : 1e-3);
            CHECK_MSG(fabs(y[i] - want) <= tol || (isnan(want) && isnan(y[i])) ||
                          (isinf(want) && y[i] == want),
                      "n %zu: silu(%.9g) = %.9g, want %.9g", n, v, y[i], want);
        }
        /* in place on the pool: the same bits */
        float *z = malloc(n * sizeof *z);
        CHECK(z);
        memcpy(z, x, n * sizeof *z);
        CHECK(av_nn__xnn_silu_with(K_DIRECT, z, z, n, nf_pool()));
        CHECK(memcmp(z, y, n * sizeof *z) == 0);
        free(z), free(x), free(y);
    }
}

/* Direct and mirrored agree within both one's errors, element by element. */
TEST(direct_against_mirrored)
{
    enum { N = 4099 };
    float *x = values(N, 77), *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    CHECK(a && b);
    if (av_nn__xnn_silu_with(K_DIRECT, x, a, N, NULL)) {
        CHECK(av_nn__xnn_silu_with(K_MIRRORED, x, b, N, NULL));
        for (size_t i = 0; i < N; i++) {
            double m = fabs(b[i]) > 1e-3 ? fabs(b[i]) : 1e-3;
            CHECK_MSG(fabs((double)a[i] - b[i]) <= 4e-6 * m || (isnan(a[i]) && isnan(b[i])) ||
                          (isinf(b[i]) && a[i] == b[i]),
                      "silu(%.9g): direct %.9g, mirrored %.9g", x[i], a[i], b[i]);
        }
    }
    free(x), free(a), free(b);
}

/* A tail never reads or writes past n: the floats after it stay as they were. */
TEST(direct_tail_stays_inside)
{
    float buf[40];
    for (size_t n = 1; n < 24; n++) {
        for (size_t i = 0; i < 40; i++)
            buf[i] = (float)i - 20.0f;
        if (!av_nn__xnn_silu_with(K_DIRECT, buf, buf, n, NULL))
            return;
        for (size_t i = n; i < 40; i++)
            CHECK_MSG(buf[i] == (float)i - 20.0f, "n %zu: float %zu changed", n, i);
    }
}

/* The engine's SiLU (the default AVX2 kernel, the row span of the convolutions)
 * is the direct kernel, bit for bit, unless this CPU has AVX-512F (its own). */
TEST(engine_runs_direct)
{
    enum { N = 1037 };
    float *x = values(N, 5), *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    CHECK(a && b);
    if (av_nn__xnn_silu_with(K_DIRECT, x, a, N, NULL)) {
        CHECK(av_nn__xnn_silu_with(K_DEFAULT, x, b, N, nf_pool()));
        CHECK(memcmp(a, b, N * sizeof *a) == 0);
        /* no AVX-512F: spans run AVX2 (unless AV_NN_NO_AVX2 leaves them portable) */
        if (av_nn__silu_fusion_pays() && !av_nn__xnn_silu_with(2, x, b, N, NULL)) {
            memcpy(b, x, N * sizeof *b);
            av_nn__xnn_silu_span(b, N);
            CHECK(memcmp(a, b, N * sizeof *a) == 0);
        }
    }
    CHECK(!av_nn__xnn_silu_with(5, x, a, N, NULL)); /* no such kernel */
    free(x), free(a), free(b);
}

TEST_MAIN(T(direct_against_double_odd_sizes), T(direct_against_mirrored),
          T(direct_tail_stays_inside), T(engine_runs_direct))
