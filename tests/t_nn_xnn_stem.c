/*
 * t_nn_xnn_stem.c - the direct 3x3 stride-2 RGB stem (xnn_stem.c): on
 * random shapes (odd and even sizes, 1 to 3 images, pads of 0 to 2 on each
 * side, 1 to 40 output channels, every act our GEMM applies, with and
 * without a bias) it gives bit for bit what our GEMM (the path it replaces,
 * xnn_stem forced off) gives, within the f32 tolerance of the reference
 * kernel, on 1 and 2 threads, from an input that ends at an unreadable
 * page; other shapes stay with the GEMM; forced off it is not chosen.
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct stem_case {
    int64_t n, h, w, o;        /* x [n, h, w, 3]; o output channels */
    int pt, pl, pb, pr;        /* explicit pads */
    av_nn__act act;
    bool bias;
} stem_case;

/* x -> conv 3x3 stride 2 -> y; the conv's index in *k. */
static av_nn__graph *build(const stem_case *sc, uint64_t seed, int *k, int cin, int kk, int s)
{
    av_nn__graph *g = nf_new_graph(seed);
    av_nn__tid in[3];
    in[0] = nf_act_in(g, AV_NN_F32, SH(sc->n, sc->h, sc->w, cin), 0, 0);
    in[1] = nf_konst(g, AV_NN_F32, SH(sc->o, kk, kk, cin), -1, 1);
    in[2] = sc->bias ? nf_konst(g, AV_NN_F32, SH(sc->o), -1, 1) : -1;
    av_nn__params p = {.conv = nf_cp(s, 1, AV_NN_PAD_EXPLICIT, sc->act)};
    p.conv.pad_top = sc->pt, p.conv.pad_left = sc->pl;
    p.conv.pad_bottom = sc->pb, p.conv.pad_right = sc->pr;
    *k = nf_add(g, AV_NN_OP_CONV2D, in, sc->bias ? 3 : 2, nf_out_t(g, 0, 0), &p);
    return g;
}

/* Prepares node k (stem on or forced off) and runs it on x into y. */
static void run_node(const av_nn__graph *g, int k, bool stem, const float *x, float *y,
                     pthreadpool_t pool, const char **what)
{
    const av_nn__backend *be = &av_nn__backend_xnn;
    const av_nn__node *n = &g->nodes[k];
    av_nn__xnn_stem_force_off(!stem);
    CHECK(be->supports_op(g, n));
    void *state = NULL;
    char err[256] = "";
    CHECK_MSG(be->prepare(g, n, pool, &state, err, sizeof err) == AV_NN_OK, "prepare: %s", err);
    *what = ((const av_nn__xnn_node *)state)->what;
    const void *in[AV_NN_MAX_NODE_INPUTS] = {x};
    for (int i = 1; i < n->n_in; i++)
        in[i] = n->in[i] >= 0 ? g->tensors[n->in[i]].data : NULL;
    void *out[1] = {y};
    CHECK_MSG(be->run(state, g, n, in, out, pool, err, sizeof err) == AV_NN_OK, "run: %s", err);
    be->release(state);
    av_nn__xnn_stem_force_off(false);
}

static void check_case(const stem_case *sc, uint64_t seed)
{
    int k;
    av_nn__graph *g = build(sc, seed, &k, 3, 3, 2);
    const av_nn__node *n = &g->nodes[k];
    CHECK(av_nn__xnn_stem_supports(g, n));
    const av_nn__tensor *xt = &g->tensors[n->in[0]], *yt = &g->tensors[n->out[0]];
    int64_t nx = av_nn__numel(xt), ny = av_nn__numel(yt);
    nf_guarded guard;
    float *x = nf_guarded_floats(&guard, (size_t)nx); /* its last float touches the guard */
    CHECK(x);
    nf_fill(x, AV_NN_F32, nx);
    float *want = nf_buf(yt), *ref = nf_buf(yt), *got = nf_buf(yt);
    const void *rin[AV_NN_MAX_NODE_INPUTS] = {x};
    for (int i = 1; i < n->n_in; i++)
        rin[i] = n->in[i] >= 0 ? g->tensors[n->in[i]].data : NULL;
    void *rout[1] = {ref};
    char err[256] = "";
    CHECK_MSG(av_nn__ref_run(g, n, rin, rout, err, sizeof err) == AV_NN_OK, "ref: %s", err);
    const char *what = NULL;
    run_node(g, k, false, x, want, nf_pool(), &what);
    CHECK(strstr(what, "stem") == NULL);
    /* sigmoid and SiLU spans may round their last (n % 8) floats apart from
     * their vector lanes: the GEMM's spans are tiles, the stem's rows */
    bool exact = sc->act != AV_NN_ACT_SIGMOID && sc->act != AV_NN_ACT_SILU;
    for (int threads = 0; threads < 2; threads++) { /* the caller's thread; the pool's two */
        memset(got, 0, (size_t)ny * sizeof *got);
        run_node(g, k, true, x, got, threads ? nf_pool() : NULL, &what);
        CHECK(strstr(what, "stem") != NULL);
        nf_compare(yt, got, ref, "stem vs reference");
        if (exact)
            CHECK_MSG(memcmp(got, want, (size_t)ny * sizeof *got) == 0,
                      "seed %llu: stem differs from the GEMM (%lldx%lldx%lld -> %lld, pads "
                      "%d %d %d %d, act %d)",
                      (unsigned long long)seed, (long long)sc->n, (long long)sc->h,
                      (long long)sc->w, (long long)sc->o, sc->pt, sc->pl, sc->pb, sc->pr,
                      (int)sc->act);
        else
            nf_compare(yt, got, want, "stem vs GEMM");
    }
    free(want), free(ref), free(got);
    nf_guarded_free(&guard);
    av_nn__graph_free(g);
}

TEST(stem_equals_gemm_random_shapes)
{
    if (!av_nn__xnn_gemm_available())
        return; /* not this CPU's path: XNNPACK runs the convolution */
    static const av_nn__act acts[8] = {AV_NN_ACT_NONE,      AV_NN_ACT_RELU,  AV_NN_ACT_RELU6,
                                       AV_NN_ACT_HARDSWISH, AV_NN_ACT_CLAMP, AV_NN_ACT_LEAKY,
                                       AV_NN_ACT_SIGMOID,   AV_NN_ACT_SILU};
    nf_reseed(15);
    for (int it = 0; it < 40; it++) {
        stem_case sc = {.n = 1 + (it % 5 == 4 ? 2 : 0),
                        .h = 1 + nf_rnd() % 37,
                        .w = 1 + nf_rnd() % 41,
                        .o = 1 + nf_rnd() % 40,
                        .pt = (int)(nf_rnd() % 3),
                        .pl = (int)(nf_rnd() % 3),
                        .pb = (int)(nf_rnd() % 3),
                        .pr = (int)(nf_rnd() % 3),
                        .act = acts[it % 8],
                        .bias = it % 3 != 1};
        if (sc.h + sc.pt + sc.pb < 3 || sc.w + sc.pl + sc.pr < 3)
            sc.h += 3, sc.w += 3; /* at least one output pixel */
        check_case(&sc, 1000 + (uint64_t)it);
    }
    /* CenterNet's stem at a smaller size: TF's SAME (pad after) and torch's (1 each side) */
    check_case(&(stem_case){.n = 1, .h = 64, .w = 70, .o = 16, .pb = 1, .pr = 1,
                            .act = AV_NN_ACT_HARDSWISH, .bias = true},
               2000);
    check_case(&(stem_case){.n = 1, .h = 63, .w = 65, .o = 16, .pt = 1, .pl = 1, .pb = 1,
                            .pr = 1, .act = AV_NN_ACT_HARDSWISH, .bias = true},
               2001);
}

/* Another channel count, kernel or stride: the GEMM's (or XNNPACK's). */
TEST(other_shapes_stay_with_the_gemm)
{
    stem_case sc = {.n = 1, .h = 9, .w = 11, .o = 8, .pt = 1, .pl = 1, .pb = 1, .pr = 1,
                    .bias = true};
    struct {
        int cin, k, s;
    } other[4] = {{4, 3, 2}, {3, 3, 1}, {3, 5, 2}, {1, 3, 2}};
    for (int i = 0; i < 4; i++) {
        int k;
        av_nn__graph *g = build(&sc, 3000 + (uint64_t)i, &k, other[i].cin, other[i].k, other[i].s);
        CHECK(!av_nn__xnn_stem_supports(g, &g->nodes[k]));
        av_nn__graph_free(g);
    }
    int k;
    av_nn__graph *g = build(&sc, 3010, &k, 3, 3, 2);
    av_nn__xnn_stem_force_off(true);
    CHECK(!av_nn__xnn_stem_supports(g, &g->nodes[k]));
    av_nn__xnn_stem_force_off(false);
    CHECK_EQ_INT(av_nn__xnn_stem_supports(g, &g->nodes[k]), av_nn__xnn_gemm_available());
    nf_check_node(g, k); /* whichever kernel: the reference's answer (frees g) */
}

TEST_MAIN(T(stem_equals_gemm_random_shapes), T(other_shapes_stay_with_the_gemm))
