/*
 * t_nn_dw_slide.c - the f32 depthwise's sliding-window row kernel
 * (src/nn/xnn/xnn_dw_slide.c): on random shapes (odd sizes, channels not a
 * multiple of 8 or 16, kernels 1-7, strides 1-4, uneven pads, batch 2,
 * every fused activation) our kernel with the sliding window on must give
 * the run kernel's output bit for bit (same sums in the same order) and
 * the reference's within float rounding; every width and pad at the row's
 * edges; and the row functions xnn_dwpw.c and xnn_pwdw.c call (rows,
 * row_from on a window of input rows) read nothing outside what they are
 * given (guard pages: intrinsic loads are invisible to ASan). On CPUs that
 * run XNNPACK's depthwise (no AVX2+FMA, or AVX-512) there is nothing to test.
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"
#include "nn/xnn/xnn_dw_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define F32_TOL 1e-4

static float *rand_floats(size_t n, float lo, float hi)
{
    float *p = malloc(n * sizeof(float) + 64);
    CHECK(p);
    for (size_t i = 0; i < n; i++)
        p[i] = nf_frand(lo, hi);
    return p;
}

typedef struct dw_case {
    int64_t nb, h, w, c, kh, kw;
    av_nn__conv_params p;
    bool bias;
} dw_case;

static const av_nn__act acts[] = {AV_NN_ACT_NONE,      AV_NN_ACT_RELU,  AV_NN_ACT_RELU6,
                                  AV_NN_ACT_RELU_N1_1, AV_NN_ACT_CLAMP, AV_NN_ACT_LEAKY,
                                  AV_NN_ACT_SIGMOID,   AV_NN_ACT_SILU,  AV_NN_ACT_HARDSWISH};
#define N_ACTS (sizeof acts / sizeof acts[0])

/* The one-node graph of c, weights and bias random; *k receives the node. */
static av_nn__graph *build(const dw_case *c, int *k)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    const int64_t xd[4] = {c->nb, c->h, c->w, c->c}, wd[4] = {1, c->kh, c->kw, c->c};
    av_nn__tid in[3];
    in[0] = av_nn__add_tensor(g, "x", AV_NN_F32, 4, xd, NULL, false);
    in[1] = av_nn__add_tensor(g, "w", AV_NN_F32, 4, wd,
                              rand_floats((size_t)(c->kh * c->kw * c->c), -1, 1), true);
    in[2] = c->bias ? av_nn__add_tensor(g, "b", AV_NN_F32, 1, &c->c,
                                        rand_floats((size_t)c->c, -1, 1), true)
                    : -1;
    av_nn__tid y = av_nn__add_tensor(g, "y", AV_NN_F32, -1, NULL, NULL, false);
    CHECK(in[0] >= 0 && in[1] >= 0 && y >= 0 && (!c->bias || in[2] >= 0));
    av_nn__params pp = {.conv = c->p};
    *k = av_nn__add_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dw", in, c->bias ? 3 : 2, &y, 1, &pp);
    CHECK(*k >= 0);
    char err[256] = "";
    CHECK_MSG(av_nn__infer_node(g, &g->nodes[*k], err, sizeof err) == AV_NN_OK, "infer: %s", err);
    return g;
}

static bool has_output(const dw_case *c)
{
    return c->h + c->p.pad_top + c->p.pad_bottom >= c->kh &&
           c->w + c->p.pad_left + c->p.pad_right >= c->kw;
}

/* Whether the sliding window computes c's rows (xnn_dw_slide.c's gate). */
static bool slides(const dw_case *c, const av_nn__graph *g, int k)
{
    const av_nn__tensor *y = &g->tensors[g->nodes[k].out[0]];
    return c->p.stride_w == 1 && (c->kw == 3 || c->kw == 5) && y->dims[2] >= 8;
}

static void set_act(dw_case *c, av_nn__act kind)
{
    c->p.act.kind = kind;
    c->p.act.min = -0.5f, c->p.act.max = 0.7f;
    /* LEAKY slopes on both sides of 0 and 1; HARDSWISH: 1/6 (0) or TF.js's f16 1/6 */
    c->p.act.alpha = kind == AV_NN_ACT_HARDSWISH ? (nf_rnd() % 2 ? 0.0f : 0.166625977f)
                                                 : nf_frand(-0.5f, 1.5f);
}

/*
 * Node k of g on our kernel with the sliding window on and off (every
 * fourth seed on the pool too: it spins on a loaded machine) and on the reference: on and off the same bits, both
 * within F32_TOL of the reference. Frees g.
 */
static void check_node(av_nn__graph *g, int k, uint64_t seed)
{
    const av_nn__node *n = &g->nodes[k];
    CHECK_MSG(av_nn__xnn_dw_takes(g, n), "seed %llu: our kernel refuses the node",
              (unsigned long long)seed);
    size_t nx = (size_t)av_nn__numel(&g->tensors[n->in[0]]);
    size_t ny = (size_t)av_nn__numel(&g->tensors[n->out[0]]);
    float *x = rand_floats(nx, -4, 4); /* hard-swish bends at +-3 */
    float *want = rand_floats(ny, 0, 0), *on = rand_floats(ny, 0, 0), *off = rand_floats(ny, 0, 0);
    const void *in[3] = {x, g->tensors[n->in[1]].data,
                         n->n_in > 2 && n->in[2] >= 0 ? g->tensors[n->in[2]].data : NULL};
    void *out[1] = {want};
    char err[256] = "";
    CHECK_MSG(av_nn__ref_run(g, n, in, out, err, sizeof err) == AV_NN_OK, "ref: %s", err);
    av_nn__xnn_node st;
    memset(&st, 0, sizeof st);
    CHECK_EQ_INT(av_nn__xnn_dw_prepare(g, n, &st, err, sizeof err), AV_NN_OK);
    for (int pool = seed % 4 == 0; pool >= 0; pool--) {
        memset(on, 0xff, ny * sizeof *on); /* NaN: an output left unwritten shows */
        memset(off, 0, ny * sizeof *off);
        av_nn__xnn_dw_slide_force_off(false);
        av_nn__xnn_dw_run(st.dw, x, on, pool ? nf_pool() : NULL);
        av_nn__xnn_dw_slide_force_off(true);
        av_nn__xnn_dw_run(st.dw, x, off, pool ? nf_pool() : NULL);
        av_nn__xnn_dw_slide_force_off(false);
        for (size_t i = 0; i < ny; i++) {
            double a = on[i], b = want[i], tol = F32_TOL * (fabs(b) > 1 ? fabs(b) : 1);
            CHECK_MSG(memcmp(&on[i], &off[i], sizeof(float)) == 0,
                      "seed %llu pool %d: element %zu of %zu: sliding %.9g, run kernel %.9g",
                      (unsigned long long)seed, pool, i, ny, a, (double)off[i]);
            CHECK_MSG(fabs(a - b) <= tol, "seed %llu pool %d: element %zu of %zu: %.9g vs ref %.9g",
                      (unsigned long long)seed, pool, i, ny, a, b);
        }
    }
    av_nn__xnn_dw_free(st.dw);
    free(x);
    free(want);
    free(on);
    free(off);
    av_nn__graph_free(g);
}

/* A random case: kernels 1..7 per axis (mostly 3 and 5), stride 1..4 per axis
 * (width mostly 1: the sliding window's), pads below the kernel, 1..45
 * channels, widths up to 40, every act. */
static dw_case random_case(uint64_t seed)
{
    nf_reseed(seed * 0x9e3779b97f4a7c15ull + 3);
    dw_case c = {.nb = 1 + nf_rnd() % 2, .h = 1 + nf_rnd() % 13, .w = 1 + nf_rnd() % 40,
                 .c = 1 + nf_rnd() % 45};
    static const int64_t ks[] = {3, 5, 3, 5, 1, 2, 4, 6, 7};
    c.kh = ks[nf_rnd() % 9], c.kw = nf_rnd() % 3 ? c.kh : ks[nf_rnd() % 9];
    c.p = (av_nn__conv_params){.stride_h = 1 + (int)(nf_rnd() % 4),
                               .stride_w = nf_rnd() % 4 ? 1 : 1 + (int)(nf_rnd() % 4),
                               .dilation_h = 1, .dilation_w = 1, .padding = AV_NN_PAD_EXPLICIT,
                               .depth_multiplier = 1};
    c.p.pad_top = (int)(nf_rnd() % (uint32_t)c.kh), c.p.pad_bottom = (int)(nf_rnd() % (uint32_t)c.kh);
    c.p.pad_left = (int)(nf_rnd() % (uint32_t)c.kw), c.p.pad_right = (int)(nf_rnd() % (uint32_t)c.kw);
    set_act(&c, acts[nf_rnd() % N_ACTS]);
    c.bias = nf_rnd() % 4 != 0;
    return c;
}

TEST(slide_same_bits_as_run_kernel_random_shapes)
{
    if (!av_nn__xnn_dw_available())
        return; /* XNNPACK's depthwise on this CPU: neither kernel of ours runs */
    int tried = 0, slid = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        dw_case c = random_case(seed);
        if (!has_output(&c))
            continue;
        int k;
        av_nn__graph *g = build(&c, &k);
        slid += slides(&c, g, k), tried++;
        check_node(g, k, seed);
    }
    CHECK(tried >= 250);
    CHECK_MSG(slid >= 60, "only %d of %d cases took the sliding window", slid, tried);
}

/* Every output width from 8 (one run) to 27 (runs, an overlapping last one,
 * edge runs on both sides) with every left and right pad, 3x3 and 5x5, channels
 * around the 8-lane vector and the 16-channel block. */
TEST(slide_every_width_and_pad)
{
    if (!av_nn__xnn_dw_available())
        return;
    static const int64_t chans[] = {1, 7, 8, 9, 16, 21};
    uint64_t seed = 5000;
    for (int64_t kw = 3; kw <= 5; kw += 2)
        for (int pl = 0; pl < kw; pl++)
            for (int pr = 0; pr < kw; pr++)
                for (int64_t ow = 8 + (pl + pr) % 3; ow <= 27; ow += 3, seed++) {
                    int64_t w = ow + kw - 1 - pl - pr;
                    nf_reseed(seed);
                    dw_case c = {.nb = 1, .h = kw + w % 3, .w = w, .c = chans[seed % 6], .kh = kw,
                                 .kw = kw, .bias = seed % 5 != 0};
                    c.p = (av_nn__conv_params){.stride_h = 1 + (int)(seed % 2), .stride_w = 1,
                                               .dilation_h = 1, .dilation_w = 1,
                                               .padding = AV_NN_PAD_EXPLICIT,
                                               .pad_top = (int)(seed % (uint64_t)kw),
                                               .pad_bottom = pr, .pad_left = pl,
                                               .pad_right = pr, .depth_multiplier = 1};
                    set_act(&c, acts[seed % N_ACTS]);
                    int k;
                    av_nn__graph *g = build(&c, &k);
                    CHECK(slides(&c, g, k));
                    check_node(g, k, seed);
                }
}

/* A mapping of 3 pages, the first and last PROT_NONE: n floats ending at the
 * last guard (end) or starting right after the first (!end). */
static float *guarded_at(uint8_t *map, size_t page, size_t n, bool end)
{
    return end ? (float *)(map + 2 * page) - n : (float *)(map + page);
}

/*
 * xnn_pwdw.c's contract: output row oy from a window holding only input rows
 * [lo, hi) of av_nn__xnn_dw_window, put against a guard page on either side;
 * the output row against one too. xnn_dwpw.c's: rows [row0, row0 + n) of a
 * batch of 2 (the second image's rows too). Both bit for bit the whole
 * node's rows, sliding window on and off.
 */
TEST(slide_row_functions_read_only_their_rows)
{
    if (!av_nn__xnn_dw_available())
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *in_map = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
    uint8_t *out_map = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
    CHECK(in_map != MAP_FAILED && out_map != MAP_FAILED);
    CHECK(mprotect(in_map, page, PROT_NONE) == 0 && mprotect(in_map + 2 * page, page, PROT_NONE) == 0);
    CHECK(mprotect(out_map, page, PROT_NONE) == 0 &&
          mprotect(out_map + 2 * page, page, PROT_NONE) == 0);
    static const int64_t shapes[][4] = {/* w, c, k, pad */
                                        {8, 5, 5, 2},  {11, 13, 3, 1}, {17, 3, 5, 2},
                                        {10, 16, 3, 0}, {12, 9, 5, 4},  {10, 7, 3, 2}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        nf_reseed(70 + si);
        int64_t w = shapes[si][0], ch = shapes[si][1], kk = shapes[si][2], pad = shapes[si][3];
        dw_case c = {.nb = 2, .h = 6, .w = w, .c = ch, .kh = kk, .kw = kk, .bias = true};
        c.p = (av_nn__conv_params){.stride_h = 1 + (int)(si % 2), .stride_w = 1, .dilation_h = 1,
                                   .dilation_w = 1, .padding = AV_NN_PAD_EXPLICIT,
                                   .pad_top = (int)(pad < kk ? pad : kk - 1),
                                   .pad_bottom = (int)(pad < kk ? pad : kk - 1),
                                   .pad_left = (int)(pad < kk ? pad : kk - 1),
                                   .pad_right = (int)(pad % kk), .depth_multiplier = 1};
        set_act(&c, si % 2 ? AV_NN_ACT_HARDSWISH : AV_NN_ACT_SILU);
        int k;
        av_nn__graph *g = build(&c, &k);
        const av_nn__node *n = &g->nodes[k];
        CHECK(slides(&c, g, k));
        av_nn__xnn_node st;
        memset(&st, 0, sizeof st);
        char err[256];
        CHECK_EQ_INT(av_nn__xnn_dw_prepare(g, n, &st, err, sizeof err), AV_NN_OK);
        const av_nn__tensor *yt = &g->tensors[n->out[0]];
        size_t oh = (size_t)yt->dims[1], ow = (size_t)yt->dims[2], rowf = ow * (size_t)ch;
        size_t img = (size_t)(c.h * w * ch), nx = 2 * img, ny = (size_t)av_nn__numel(yt);
        size_t rows = 0;
        CHECK(av_nn__xnn_dw_row_floats(st.dw, &rows) == rowf && rows == 2 * oh);
        CHECK(img * sizeof(float) <= page && rowf * sizeof(float) <= page);
        float *x = rand_floats(nx, -4, 4), *want = rand_floats(ny, 0, 0);
        float *got = rand_floats(ny, 0, 0);
        av_nn__xnn_dw_run(st.dw, x, want, NULL);
        for (int off = 0; off < 2; off++) {
            av_nn__xnn_dw_slide_force_off(off);
            /* xnn_dwpw.c: bands of 3 rows across the two images */
            memset(got, 0xff, ny * sizeof *got);
            for (size_t r = 0; r < rows; r += 3)
                av_nn__xnn_dw_rows(st.dw, x, got + r * rowf, r, rows - r < 3 ? rows - r : 3);
            CHECK_MSG(memcmp(got, want, ny * sizeof *got) == 0, "shape %zu off %d: rows", si, off);
            /* xnn_pwdw.c: one window per output row of image 1 */
            for (size_t oy = 0; oy < oh; oy++) {
                size_t lo, hi;
                av_nn__xnn_dw_window(st.dw, oy, &lo, &hi);
                CHECK(lo < hi && hi <= (size_t)c.h);
                size_t wf = (hi - lo) * (size_t)(w * ch);
                for (int e = 0; e < 4; e++) { /* input, output: at the end or the start */
                    float *win = guarded_at(in_map, page, wf, e & 1);
                    float *yr = guarded_at(out_map, page, rowf, e & 2);
                    memcpy(win, x + img + lo * (size_t)(w * ch), wf * sizeof *win);
                    memset(yr, 0xff, rowf * sizeof *yr);
                    av_nn__xnn_dw_row_from(st.dw, win, lo, yr, oy);
                    CHECK_MSG(memcmp(yr, want + (oh + oy) * rowf, rowf * sizeof *yr) == 0,
                              "shape %zu off %d: row %zu from its window (%d)", si, off, oy, e);
                }
            }
        }
        av_nn__xnn_dw_slide_force_off(false);
        av_nn__xnn_dw_free(st.dw);
        free(x);
        free(want);
        free(got);
        av_nn__graph_free(g);
    }
    munmap(in_map, 3 * page);
    munmap(out_map, 3 * page);
}

TEST_MAIN(T(slide_same_bits_as_run_kernel_random_shapes), T(slide_every_width_and_pad),
          T(slide_row_functions_read_only_their_rows))
