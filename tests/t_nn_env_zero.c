/*
 * t_nn_env_zero.c - av_nn__env_zero (nn/ir/ir.c), the one reader of the
 * engine's fast-path switches (AV_NN_...=0 turns a path off): true only for
 * "0", read once into its cache (a later change of the environment does not
 * move it), and threads filling one cache at once all see the same value.
 */
#include "harness.h"

#include "nn/ir/ir.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

TEST(zero_means_off_anything_else_on)
{
    static const struct {
        const char *value; /* NULL: unset */
        bool off;
    } cases[] = {{"0", true}, {"1", false}, {"", false}, {"00", false}, {NULL, false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].value)
            setenv("AV_NN_TEST_SWITCH", cases[i].value, 1);
        else
            unsetenv("AV_NN_TEST_SWITCH");
        _Atomic int cache = -1;
        CHECK_EQ_INT(av_nn__env_zero(&cache, "AV_NN_TEST_SWITCH"), cases[i].off);
        CHECK_EQ_INT(atomic_load(&cache), cases[i].off);
    }
}

TEST(read_once)
{
    setenv("AV_NN_TEST_SWITCH", "0", 1);
    _Atomic int cache = -1;
    CHECK(av_nn__env_zero(&cache, "AV_NN_TEST_SWITCH"));
    setenv("AV_NN_TEST_SWITCH", "1", 1);
    CHECK(av_nn__env_zero(&cache, "AV_NN_TEST_SWITCH")); /* the cached value */
    unsetenv("AV_NN_TEST_SWITCH");
}

static _Atomic int shared_cache = -1;

static void *reader(void *arg)
{
    *(bool *)arg = av_nn__env_zero(&shared_cache, "AV_NN_TEST_SWITCH");
    return NULL;
}

TEST(threads_agree)
{
    setenv("AV_NN_TEST_SWITCH", "0", 1);
    enum { N = 8 };
    pthread_t t[N];
    bool got[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(pthread_create(&t[i], NULL, reader, &got[i]), 0);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CHECK(got[i]);
    }
    unsetenv("AV_NN_TEST_SWITCH");
}

TEST_MAIN(T(zero_means_off_anything_else_on), T(read_once), T(threads_agree))
