/*
 * t_nn_fuse_focus.c - the space-to-depth stem fusion (pass_focus.c) and its
 * kernel (xnn_s2d.c): four strided slices of an NCHW input, their concat
 * along C and the transpose to NHWC become reshape -> rank-6 transpose ->
 * reshape, which gives the unfused graph's bytes exactly on both backends
 * (with the own kernel and with it forced off) over random shapes, batch 1
 * and 2, both product orders of the offsets, f32 and uint8; left alone where
 * it would not be the same op (odd sizes, another order, a slice read
 * elsewhere) and when forced off.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include "nn/xnn/xnn_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct focus_case {
    int64_t n, c, h, w;
    av_nn_dtype dt;
    int order[4];    /* (qy, qx) of the concat's inputs as qy * 2 + qx */
    bool extra_out;  /* the first slice is a graph output too */
} focus_case;

static const int QX_MAJOR[4] = {0, 2, 1, 3}, QY_MAJOR[4] = {0, 1, 2, 3}, MIXED[4] = {0, 3, 1, 2};

static av_nn__graph *build(const focus_case *fc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t xd[4] = {fc->n, fc->c, fc->h, fc->w};
    av_nn__tid x = tt_input(g, "x", fc->dt, 4, xd), s[4];
    for (int k = 0; k < 4; k++) {
        int qy = fc->order[k] / 2, qx = fc->order[k] % 2;
        av_nn__params p;
        memset(&p, 0, sizeof p);
        p.slice.resolved = true;
        p.slice.end[0] = fc->n, p.slice.end[1] = fc->c;
        p.slice.step[0] = p.slice.step[1] = 1;
        /* h / 2 rows from qy (odd sizes: the rows both offsets have) */
        p.slice.begin[2] = qy, p.slice.end[2] = qy + 2 * (fc->h / 2 - 1) + 1, p.slice.step[2] = 2;
        p.slice.begin[3] = qx, p.slice.end[3] = qx + 2 * (fc->w / 2 - 1) + 1, p.slice.step[3] = 2;
        char name[16];
        snprintf(name, sizeof name, "s%d", k);
        s[k] = tt_act(g, name, fc->dt, -1, NULL);
        tt_node(g, AV_NN_OP_SLICE, name, &x, 1, &s[k], 1, &p);
    }
    av_nn__tid cat = tt_act(g, "cat", fc->dt, -1, NULL), y = tt_act(g, "y", fc->dt, -1, NULL);
    av_nn__params pc = {.axis = {.axis = 1}};
    tt_node(g, AV_NN_OP_CONCAT, "cat", s, 4, &cat, 1, &pc);
    av_nn__params pt = {.transpose = {.perm = {0, 2, 3, 1}, .rank = 4}};
    tt_node(g, AV_NN_OP_TRANSPOSE, "nhwc", &cat, 1, &y, 1, &pt);
    CHECK(av_nn__mark_output(g, y) >= 0);
    if (fc->extra_out)
        CHECK(av_nn__mark_output(g, s[0]) >= 0);
    return g;
}

/* Both backends (the xnn one with and without the own kernel) against the
 * interpreter, byte for byte; want_fused: no slice or concat left. */
static void check_case(const focus_case *fc, bool want_fused)
{
    size_t es = av_nn_dtype_size(fc->dt);
    int64_t nx = fc->n * fc->c * fc->h * fc->w, ny = 4 * fc->n * fc->c * (fc->h / 2) * (fc->w / 2);
    int64_t ns = ny / 4;
    unsigned char *x = malloc((size_t)nx * es);
    unsigned char *want[2] = {malloc((size_t)ny * es), malloc((size_t)ns * es)};
    unsigned char *got[2] = {malloc((size_t)ny * es), malloc((size_t)ns * es)};
    CHECK(x && want[0] && want[1] && got[0] && got[1]);
    for (int64_t i = 0; i < nx; i++) /* distinct values: any misplaced element shows */
        if (es == 4) {
            float v = (float)i + 0.25f;
            memcpy(x + i * 4, &v, 4);
        } else {
            x[i] = (unsigned char)(i * 7 + 1);
        }
    const void *in[1] = {x};
    av_nn__graph *g = build(fc);
    tt_interpret(g, in, (void **)want);
    av_nn__graph_free(g);
    for (int run = 0; run < 3; run++) { /* reference, xnn, xnn with the kernel off */
        g = build(fc);
        char err[256] = "";
        CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
        CHECK_MSG(tt_count_live(g, AV_NN_OP_SLICE) == (want_fused ? 0 : 4) &&
                      tt_count_live(g, AV_NN_OP_CONCAT) == (want_fused ? 0 : 1),
                  "fused %d: %lldx%lldx%lldx%lld order %d%d%d%d", want_fused, (long long)fc->n,
                  (long long)fc->c, (long long)fc->h, (long long)fc->w, fc->order[0],
                  fc->order[1], fc->order[2], fc->order[3]);
        av_nn__xnn_s2d_force_off(run == 2);
        memset(got[0], 0xAB, (size_t)ny * es);
        tt_run_backend(g, run ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE, in,
                       (void **)got);
        av_nn__xnn_s2d_force_off(false);
        CHECK_MSG(memcmp(got[0], want[0], (size_t)ny * es) == 0,
                  "run %d: %lldx%lldx%lldx%lld dtype %d order %d%d%d%d differs", run,
                  (long long)fc->n, (long long)fc->c, (long long)fc->h, (long long)fc->w, fc->dt,
                  fc->order[0], fc->order[1], fc->order[2], fc->order[3]);
        if (fc->extra_out)
            CHECK(memcmp(got[1], want[1], (size_t)ns * es) == 0);
    }
    free(x);
    for (int i = 0; i < 2; i++)
        free(want[i]), free(got[i]);
}

TEST(fused_equals_unfused_random_shapes)
{
    nf_reseed(15);
    for (int it = 0; it < 24; it++) {
        focus_case fc = {.n = it % 4 == 3 ? 2 : 1,
                         .c = 1 + nf_rnd() % 5,
                         .h = 2 * (1 + nf_rnd() % 11),
                         .w = 2 * (1 + nf_rnd() % 13),
                         .dt = it % 3 == 2 ? AV_NN_U8 : AV_NN_F32};
        memcpy(fc.order, it % 2 ? QY_MAJOR : QX_MAJOR, sizeof fc.order);
        check_case(&fc, true);
    }
    /* YOLOX's own: 3 channels, qx-major, large enough for several pool tasks */
    focus_case yolox = {.n = 1, .c = 3, .h = 64, .w = 96, .dt = AV_NN_F32};
    memcpy(yolox.order, QX_MAJOR, sizeof yolox.order);
    check_case(&yolox, true);
}

TEST(not_fused_where_it_would_not_be_the_same)
{
    focus_case odd = {.n = 1, .c = 3, .h = 9, .w = 8, .dt = AV_NN_F32}; /* H odd: a row dropped */
    memcpy(odd.order, QX_MAJOR, sizeof odd.order);
    check_case(&odd, false);
    focus_case mixed = {.n = 1, .c = 2, .h = 6, .w = 10, .dt = AV_NN_F32}; /* no product order */
    memcpy(mixed.order, MIXED, sizeof mixed.order);
    check_case(&mixed, false);
    focus_case shared = {.n = 1, .c = 3, .h = 8, .w = 6, .dt = AV_NN_F32, .extra_out = true};
    memcpy(shared.order, QX_MAJOR, sizeof shared.order);
    check_case(&shared, false);
}

TEST(forced_off_keeps_the_slices)
{
    focus_case fc = {.n = 1, .c = 3, .h = 10, .w = 14, .dt = AV_NN_F32};
    memcpy(fc.order, QX_MAJOR, sizeof fc.order);
    av_nn__focus_force_off(true);
    check_case(&fc, false);
    av_nn__focus_force_off(false);
    check_case(&fc, true);
}

TEST_MAIN(T(fused_equals_unfused_random_shapes), T(not_fused_where_it_would_not_be_the_same),
          T(forced_off_keeps_the_slices))
