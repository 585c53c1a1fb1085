/*
 * t_nn_fuse_spp.c - the SPP chain (pass_spp.c): stride-1 "same" max pools of
 * one input, each rewired to read the next smaller one's output with the
 * difference window, give the unchained graph's bytes on both backends over
 * random shapes (1 x 1 images, windows wider than the image, batch 2), window
 * sets of YOLOX (5, 9, 13), YOLOv3's SPP and pairs, explicit and SAME
 * padding; pools that are not that (stride 2, padding other than k / 2) are
 * left alone, and so is everything when forced off.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include <stdlib.h>
#include <string.h>

#define MAXP 4

typedef struct spp_case {
    int64_t n, h, w, c;
    int np, k[MAXP];
    bool same;     /* SAME padding instead of explicit k / 2 */
    int odd_pool;  /* 1 + index of a pool with stride 2, 0: none */
    int asym_pool; /* 1 + index of a pool padded k / 2 + 1 at the bottom, 0: none */
} spp_case;

static av_nn__graph *build(const spp_case *sc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {sc->n, sc->h, sc->w, sc->c};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, xd), cat[MAXP + 1] = {x};
    for (int i = 0; i < sc->np; i++) {
        int k = sc->k[i];
        av_nn__params p;
        memset(&p, 0, sizeof p);
        p.pool.filter_h = p.pool.filter_w = k;
        p.pool.stride_h = p.pool.stride_w = sc->odd_pool == i + 1 ? 2 : 1;
        p.pool.dilation_h = p.pool.dilation_w = 1;
        p.pool.padding = sc->same ? AV_NN_PAD_SAME : AV_NN_PAD_EXPLICIT;
        p.pool.pad_top = p.pool.pad_left = p.pool.pad_right = k / 2;
        p.pool.pad_bottom = k / 2 + (sc->asym_pool == i + 1);
        char name[16];
        snprintf(name, sizeof name, "pool%d", i);
        cat[i + 1] = tt_act(g, name, AV_NN_F32, -1, NULL);
        tt_node(g, AV_NN_OP_MAX_POOL2D, name, &x, 1, &cat[i + 1], 1, &p);
    }
    bool concat = !sc->odd_pool && !sc->asym_pool; /* other shapes: each pool an output */
    if (concat) {
        av_nn__tid y = tt_act(g, "y", AV_NN_F32, -1, NULL);
        av_nn__params pc = {.axis = {.axis = 3}};
        tt_node(g, AV_NN_OP_CONCAT, "cat", cat, sc->np + 1, &y, 1, &pc);
        CHECK(av_nn__mark_output(g, y) >= 0);
    } else {
        for (int i = 0; i < sc->np; i++)
            CHECK(av_nn__mark_output(g, cat[i + 1]) >= 0);
    }
    return g;
}

/* Pools that read the graph input x (tensor 0) after finalize. */
static int pools_on_x(const av_nn__graph *g)
{
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        k += !g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_MAX_POOL2D &&
             g->nodes[i].in[0] == g->inputs[0];
    return k;
}

static void check_case(const spp_case *sc, int want_on_x)
{
    int64_t nx = sc->n * sc->h * sc->w * sc->c;
    float *x = malloc((size_t)nx * sizeof *x);
    CHECK(x);
    for (int64_t i = 0; i < nx; i++) /* a few repeats: ties between window maxima */
        x[i] = (float)(nf_rnd() % 97) - 48.5f;
    float *want[MAXP], *got[MAXP];
    size_t bytes[MAXP];
    av_nn__graph *g = build(sc);
    char err[256] = "";
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    for (int o = 0; o < g->n_outputs; o++) {
        int64_t nb = av_nn__nbytes(&g->tensors[g->outputs[o]]);
        CHECK(nb > 0);
        bytes[o] = (size_t)nb;
        want[o] = malloc(bytes[o]), got[o] = malloc(bytes[o]);
        CHECK(want[o] && got[o]);
    }
    int nout = g->n_outputs;
    CHECK_MSG(pools_on_x(g) == want_on_x, "%lldx%lldx%lldx%lld: %d pools read x, want %d",
              (long long)sc->n, (long long)sc->h, (long long)sc->w, (long long)sc->c,
              pools_on_x(g), want_on_x);
    av_nn__graph_free(g);
    const void *in[1] = {x};
    g = build(sc);
    tt_interpret(g, in, (void **)want);
    av_nn__graph_free(g);
    for (int be = 0; be < 2; be++) {
        g = build(sc);
        tt_run_backend(g, be ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE, in, (void **)got);
        for (int o = 0; o < nout; o++)
            CHECK_MSG(memcmp(got[o], want[o], bytes[o]) == 0,
                      "backend %d output %d: %lldx%lldx%lldx%lld pools %d %d %d differ", be, o,
                      (long long)sc->n, (long long)sc->h, (long long)sc->w, (long long)sc->c,
                      sc->k[0], sc->k[1], sc->np > 2 ? sc->k[2] : 0);
    }
    for (int o = 0; o < nout; o++)
        free(want[o]), free(got[o]);
    free(x);
}

TEST(chained_equals_unchained_random_shapes)
{
    static const int sets[][MAXP + 1] = {
        {3, 5, 9, 13}, {3, 13, 9, 5}, {2, 3, 5}, {3, 3, 7, 11}, {4, 5, 9, 13, 3}, {2, 9, 5}};
    nf_reseed(175);
    for (int it = 0; it < 24; it++) {
        const int *s = sets[it % 6];
        spp_case sc = {.n = it % 5 == 4 ? 2 : 1,
                       .h = 1 + nf_rnd() % 15,
                       .w = 1 + nf_rnd() % 17,
                       .c = 1 + nf_rnd() % 19,
                       .np = s[0],
                       .same = it % 3 == 1};
        memcpy(sc.k, s + 1, sizeof(int) * (size_t)s[0]);
        check_case(&sc, 1);
    }
    spp_case yolox = {.n = 1, .h = 13, .w = 13, .c = 128, .np = 3, .k = {5, 9, 13}};
    check_case(&yolox, 1);
}

TEST(left_alone_where_it_would_not_be_the_same)
{
    spp_case s2 = {.n = 1, .h = 9, .w = 11, .c = 5, .np = 3, .k = {5, 9, 13}, .odd_pool = 2};
    check_case(&s2, 2); /* the stride-2 9 stays on x; 13 reads 5 with a 9 window */
    spp_case asym = {.n = 1, .h = 8, .w = 7, .c = 3, .np = 2, .k = {5, 9}, .asym_pool = 2};
    check_case(&asym, 2);
    spp_case twice = {.n = 1, .h = 6, .w = 6, .c = 4, .np = 2, .k = {5, 5}};
    check_case(&twice, 2); /* the same window twice: nothing to chain */
}

TEST(forced_off_keeps_the_pools_on_x)
{
    spp_case sc = {.n = 1, .h = 13, .w = 13, .c = 8, .np = 3, .k = {5, 9, 13}};
    av_nn__spp_force_off(true);
    check_case(&sc, 3);
    av_nn__spp_force_off(false);
    check_case(&sc, 1);
}

TEST_MAIN(T(chained_equals_unchained_random_shapes),
          T(left_alone_where_it_would_not_be_the_same), T(forced_off_keeps_the_pools_on_x))
