/*
 * harness.h - Aviary's small test framework.
 *
 * Each tests/t_*.c file is one binary. It lists its cases with TEST_MAIN();
 * the runner forks every case into its own process with a timeout (a crash
 * or hang fails that case only), prints one line per case and a closing
 * "N passed, N failed[, N skipped]" line that scripts/run-tests adds up.
 *
 *   TEST(parses_port) { CHECK_EQ_INT(cfg.port, 8080); }
 *   TEST_MAIN(T(parses_port))
 *
 * Run one binary with a case name to run only that case, unforked (for gdb).
 */
#ifndef AV_TEST_HARNESS_H
#define AV_TEST_HARNESS_H

#include <stddef.h>
#include <stdio.h>

typedef void (*av_test_fn)(void);

struct av_test {
    const char *name;
    av_test_fn fn;
};

#define TEST(name) static void name(void)
#define T(fn) { #fn, fn }

void av_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
void av_test_skip(const char *why) __attribute__((noreturn));
int av_test_main(int argc, char **argv, const struct av_test *tests, size_t n);

/* Path of a file under ../shared (or $AVIARY_SHARED); skips the case when missing.
 * The last 8 answers stay valid (a case may hold several paths at once). */
const char *av_test_shared(const char *rel);
/* Fresh empty scratch directory for this case, removed by the runner afterwards. */
const char *av_test_tmpdir(void);
/* The case's database URL: sqlite:<tmpdir>/<sqlite_name>, or with
 * $AVIARY_TEST_DB (mysql://.../db) the same server with a database of this
 * case's own, aviary_<tag><pid> (created on open). */
void av_test_db_url(char *url, size_t cap, const char *sqlite_name, char tag);

#define TEST_MAIN(...)                                                           \
    int main(int argc, char **argv)                                              \
    {                                                                            \
        static const struct av_test tests_[] = {__VA_ARGS__};                    \
        return av_test_main(argc, argv, tests_, sizeof tests_ / sizeof tests_[0]); \
    }

#define FAIL(...) av_test_fail(__FILE__, __LINE__, __VA_ARGS__)
#define SKIP(why) av_test_skip(why)

#define CHECK(cond)                                    \
    do {                                               \
        if (!(cond))                                   \
            FAIL("check failed: %s", #cond);           \
    } while (0)

#define CHECK_MSG(cond, ...)                           \
    do {                                               \
        if (!(cond))                                   \
            FAIL(__VA_ARGS__);                         \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                       \
    do {                                                                         \
        long long a_ = (long long)(a), b_ = (long long)(b);                      \
        if (a_ != b_)                                                            \
            FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);                      \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                    \
    do {                                                                         \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);           \
        if (!(a_ - b_ <= t_ && b_ - a_ <= t_))                                   \
            FAIL("%s ~ %s: %.9g vs %.9g (tol %.3g)", #a, #b, a_, b_, t_);        \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                       \
    do {                                                                         \
        const char *a_ = (a), *b_ = (b);                                         \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                   \
            FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",       \
                 b_ ? b_ : "(null)");                                            \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                          \
    do {                                                                         \
        const char *h_ = (hay), *n_ = (needle);                                  \
        if (!h_ || !strstr(h_, n_))                                              \
            FAIL("%s does not contain \"%s\": \"%.300s\"", #hay, n_,             \
                 h_ ? h_ : "(null)");                                            \
    } while (0)

#endif
