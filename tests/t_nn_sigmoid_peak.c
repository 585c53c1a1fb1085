/*
 * t_nn_sigmoid_peak.c - the heat map's sigmoid taken into the peak top-k
 * (pass_peaktopk.c's av_nn__sigmoid_peak_pass, xnn_peaktopk.c, the
 * reference's peak top-k): the conv writes logits, the top-k computes the
 * sigmoid of candidates only.
 *
 * Its exactness rests on the sigmoid as implemented (av_nn__xnn_sigmoid_span:
 * AVX2+FMA and the portable kernel) being monotone but for a margin: it is
 * not to the last bit (97 M of the 4.3 G floats on AVX2, 0.3 M portable
 * give an s below an earlier one), but every x' <= x - AV_NN__SIGMOID_MARGIN
 * has s(x') <= s(x): checked here over every float bit pattern but NaN, in
 * increasing order, for the AVX2 kernel; for the portable one at every float
 * of 2^-7 <= |x| < 128 (its departures are at 2^-5 <= |x| < 2; it saturates
 * at 17 and -87.5) and every 61st elsewhere. Under a sanitizer build both
 * as the portable one. Also checked there: s is strictly increasing at the
 * scale AV_NN__SIGMOID_GAP inside [-80, 8] (the top-k's shortcut for logits
 * far below their window's max), and never below +0.
 * Then fused against unfused bit for bit (values, indices, order, and the
 * heat map when it is a graph output, wanted or not): odd sizes, plateaus,
 * saturated regions (logits > 20: neighbours tie at 1.0f), all-negative
 * maps (ties at the low saturation), NaN, k past the number of peaks, 1 and
 * 2 threads, both backends, a batch-1 model run at batch 3; CenterNet
 * itself with the switch on and off.
 */
#include "harness.h"
#include "nn_fixture.h"
#include "nn_test_util.h"

#include "nn/xnn/xnn_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SIG_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIG_SANITIZED 1
#endif
#endif

/* ---- monotonicity over every float ---- */

#define RING (1u << 22) /* breakpoints of the running max kept */
#define N_FLOATS (2 * (uint64_t)0x7f800001u)

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The k-th non-NaN float in increasing order, k in [0, N_FLOATS): -inf ..
 * -0 (bit patterns 0xff800000 down to 0x80000000), then +0 .. +inf. */
static uint32_t nth_bits(uint64_t k)
{
    const uint64_t neg = 0x7f800001u;
    return k < neg ? (uint32_t)(0xff800000u - k) : (uint32_t)(k - neg);
}

static uint64_t index_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u >> 31 ? (uint64_t)(0xff800000u - u) : (uint64_t)u + 0x7f800001u;
}

typedef struct mono {
    uint64_t *bk; /* ring: index where the running max rose, */
    float *bm;    /* and the max from there */
    uint64_t nb, j; /* breakpoints so far; j: the last one at or before x - margin */
    uint64_t j2;    /* the last one at or before x - gap */
    float max;
    uint32_t sign;  /* the sign bits of every s, or'ed: s(x) * 0 must be +0 */
    uint64_t n_eval, n_down, n_strict; /* evaluated; s below an earlier s; checked strict */
} mono;

/* x in [STRICT_LO, STRICT_HI]: every x' <= x - gap (as float) has s(x') < s(x). */
static void mono_strict(mono *m, float x, float s, const char *what)
{
    uint64_t lim = index_of(x - AV_NN__SIGMOID_GAP);
    if (m->nb - m->j2 > RING) {
        CHECK_MSG(m->bk[(m->nb - RING) % RING] <= lim, "%s: breakpoint ring too small at %a",
                  what, (double)x);
        m->j2 = m->nb - RING;
    }
    while (m->j2 + 1 < m->nb && m->bk[(m->j2 + 1) % RING] <= lim)
        m->j2++;
    m->n_strict++;
    if (m->bk[m->j2 % RING] <= lim)
        CHECK_MSG(m->bm[m->j2 % RING] < s,
                  "%s: s(%a) = %a <= %a, the sigmoid of a logit below it by the gap", what,
                  (double)x, (double)s, (double)m->bm[m->j2 % RING]);
}

/* s = s(x) below the running max (or NaN): the property the skip uses,
 * every x' <= x - margin (as float) has s(x') <= s(x). */
static void mono_down(mono *m, float x, float s, const char *what)
{
    CHECK_MSG(!isnan(s), "%s: s(%a) is NaN", what, (double)x);
    m->n_down++; /* some earlier x' has s(x') > s: it must be within the margin */
    uint64_t lim = index_of(x - AV_NN__SIGMOID_MARGIN);
    if (m->nb - m->j > RING) { /* j fell out of the ring: on to the oldest kept */
        CHECK_MSG(m->bk[(m->nb - RING) % RING] <= lim, "%s: breakpoint ring too small at %a",
                  what, (double)x);
        m->j = m->nb - RING;
    }
    while (m->j + 1 < m->nb && m->bk[(m->j + 1) % RING] <= lim)
        m->j++;
    if (m->bk[m->j % RING] <= lim) /* the max over x' <= x - margin */
        CHECK_MSG(m->bm[m->j % RING] <= s,
                  "%s: s(%a) = %a < %a, the sigmoid of a logit below it by more than the margin",
                  what, (double)x, (double)s, (double)m->bm[m->j % RING]);
}

/* Where the portable kernel is checked at every float: its departures from
 * monotone are at 2^-5 <= |x| < 2, its saturations at 17 and -87.5. */
static bool dense(float x)
{
    float a = fabsf(x);
    return a >= 0x1p-7f && a < 128.0f;
}

/* The non-NaN floats in increasing order, every one (sparse: every 61st
 * outside dense()), through the span in whole vectors of 8. */
static void check_monotone(bool sparse, const char *what, mono *m)
{
    enum { CH = 4096 }; /* in L1 */
    static float x[CH], s[CH];
    static uint64_t ks[CH];
    for (uint64_t k = 0; k < N_FLOATS;) {
        size_t n = 0;
        const uint64_t neg = 0x7f800001u;
        if (!sparse && (k + CH <= neg || (k >= neg && k + CH <= N_FLOATS))) {
            /* a run of one sign: consecutive bit patterns */
            uint32_t b0 = nth_bits(k);
            int32_t d = k < neg ? -1 : 1;
            for (; n < CH; n++) {
                uint32_t u = b0 + (uint32_t)((int32_t)n * d);
                memcpy(&x[n], &u, sizeof u);
                ks[n] = k + n;
            }
            k += CH;
        }
        for (; k < N_FLOATS && n < CH; n++) {
            ks[n] = k, x[n] = from_bits(nth_bits(k));
            k += sparse && !dense(x[n]) ? 61 : 1;
        }
        size_t n8 = (n + 7) & ~(size_t)7;
        for (size_t i = n; i < n8; i++) /* the last chunk padded: no portable tail */
            x[i] = x[n - 1];
        memcpy(s, x, n8 * sizeof *s);
        av_nn__xnn_sigmoid_span(s, n8);
        for (size_t i = 0; i < n; i++) {
            float v = s[i];
            uint32_t u;
            memcpy(&u, &v, sizeof u);
            m->sign |= u;
            if (v > m->max || m->nb == 0) { /* a new running max */
                m->bk[m->nb % RING] = ks[i], m->bm[m->nb % RING] = v, m->nb++;
                m->max = v;
            } else if (!(v == m->max)) {
                mono_down(m, x[i], v, what);
            }
            if (x[i] >= AV_NN__SIGMOID_STRICT_LO && x[i] <= AV_NN__SIGMOID_STRICT_HI)
                mono_strict(m, x[i], v, what);
        }
        m->n_eval += n;
    }
}

static float sig_one(float v)
{
    float b[8] = {v, v, v, v, v, v, v, v};
    av_nn__xnn_sigmoid_span(b, 8);
    return b[0];
}

/* sparse: every float only where dense() (the portable kernel is slow on
 * the denormals of its clamped range, and every float of both would take
 * over 20 s), every 61st elsewhere. */
static void monotone_kernel(const char *what, bool sparse)
{
    CHECK(sig_one(-0.0f) == sig_one(0.0f)); /* equal inputs: equal outputs */
    mono m = {.bk = malloc(RING * sizeof(uint64_t)), .bm = malloc(RING * sizeof(float))};
    CHECK(m.bk && m.bm);
#ifdef SIG_SANITIZED
    sparse = true; /* the sanitizers make every float too slow */
#endif
    check_monotone(sparse, what, &m);
    if (!sparse)
        CHECK(m.n_eval == N_FLOATS); /* every non-NaN float */
    else /* every float of dense(), 14 binades each side, and a sample */
        CHECK(m.n_eval > 2 * 14 * (uint64_t)(1u << 23));
    CHECK(!(m.sign >> 31)); /* no s below +0: a masked non-peak is +0 */
    CHECK(m.n_strict > (uint64_t)1 << 27);
    printf("  %s: %llu floats, %llu below an earlier value (all within the margin %a), "
           "%llu strictly above every s of x - %a; s(NaN) = %a, s(-inf) = %a, s(+inf) = %a\n",
           what, (unsigned long long)m.n_eval, (unsigned long long)m.n_down,
           (double)AV_NN__SIGMOID_MARGIN, (unsigned long long)m.n_strict,
           (double)AV_NN__SIGMOID_GAP, (double)sig_one(NAN), (double)sig_one(-INFINITY),
           (double)sig_one(INFINITY));
    free(m.bk), free(m.bm);
}

TEST(sigmoid_is_monotone_over_every_float)
{
#if defined(__x86_64__) || defined(__i386__)
    /* as the kernels run it: denormals flushed and read as zero (the pool's
     * PTHREADPOOL_FLAG_DISABLE_DENORMALS) */
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);
#endif
    if (av_nn__silu_fusion_pays()) /* the AVX2+FMA kernel the dispatcher picks here */
        monotone_kernel("AVX2+FMA sigmoid", false); /* every float */
    av_nn__silu_force_portable(true);
    monotone_kernel("portable sigmoid", true);
    av_nn__silu_force_portable(false);
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(csr);
#endif
}

/* ---- fused against unfused ---- */

enum { D_STEPS, D_SAT, D_NEG, D_SPARSE, D_NAN, D_MIXED, D_COUNT };

typedef struct sp_case {
    int64_t n, h, w, c;
    int k;
    int data;      /* D_* */
    bool identity; /* conv weights pass the input through: logits = x */
    bool leak;     /* the heat map is a graph output */
    int64_t mb;    /* the model's batch when not n (a batch-1 model run at batch n) */
} sp_case;

static int64_t numel(const sp_case *pc)
{
    return pc->n * pc->h * pc->w * pc->c;
}

/* x -> depthwise 3x3 -> 1x1 -> sigmoid (heat map) -> peak mask (four nodes)
 * -> reshape [n, h*w*c] -> top-k; the passes make it one conv (dw_on, the
 * sigmoid its act) and one peak top-k. */
static av_nn__graph *build(const sp_case *pc)
{
    av_nn__graph *g = av_nn__graph_new();
    CHECK(g);
    int64_t mb = pc->mb ? pc->mb : pc->n, C = pc->c, d[4] = {mb, pc->h, pc->w, C};
    av_nn__tid x = tt_input(g, "x", AV_NN_F32, 4, d);
    float *wd = calloc((size_t)(9 * C), sizeof *wd), *bd = calloc((size_t)C, sizeof *bd);
    float *wp = calloc((size_t)(C * C), sizeof *wp), *bp = calloc((size_t)C, sizeof *bp);
    CHECK(wd && bd && wp && bp);
    nf_reseed((uint64_t)(pc->h * 131 + pc->w * 7 + C));
    for (int64_t i = 0; i < 9 * C; i++)
        wd[i] = pc->identity ? (i / C == 4 ? 1.0f : 0.0f) : nf_frand(-0.5f, 0.5f);
    for (int64_t i = 0; i < C * C; i++)
        wp[i] = pc->identity ? (i / C == i % C ? 1.0f : 0.0f) : nf_frand(-1.0f, 1.0f);
    for (int64_t i = 0; i < C && !pc->identity; i++)
        bd[i] = nf_frand(-0.5f, 0.5f), bp[i] = nf_frand(-1.0f, 1.0f);
    av_nn__tid twd = tt_const(g, "wd", AV_NN_F32, 4, (int64_t[]){1, 3, 3, C}, wd);
    av_nn__tid tbd = tt_const(g, "bd", AV_NN_F32, 1, &C, bd);
    av_nn__tid twp = tt_const(g, "wp", AV_NN_F32, 4, (int64_t[]){C, 1, 1, C}, wp);
    av_nn__tid tbp = tt_const(g, "bp", AV_NN_F32, 1, &C, bp);
    free(wd), free(bd), free(wp), free(bp);
    av_nn__tid dt = tt_act(g, "dw", AV_NN_F32, -1, NULL), lt = tt_act(g, "pw", AV_NN_F32, -1, NULL);
    av_nn__tid hm = tt_act(g, "heat", AV_NN_F32, -1, NULL), out[2];
    av_nn__params pd = {.conv = nf_cp(1, 1, AV_NN_PAD_SAME, AV_NN_ACT_NONE)};
    pd.conv.depth_multiplier = 1;
    tt_node(g, AV_NN_OP_DEPTHWISE_CONV2D, "dwconv", (av_nn__tid[]){x, twd, tbd}, 3, &dt, 1, &pd);
    av_nn__params pw = {.conv = nf_cp(1, 1, AV_NN_PAD_VALID, AV_NN_ACT_NONE)};
    tt_node(g, AV_NN_OP_CONV2D, "pwconv", (av_nn__tid[]){dt, twp, tbp}, 3, &lt, 1, &pw);
    av_nn__params ps = {.unary = {.kind = AV_NN_UN_SIGMOID}};
    tt_node(g, AV_NN_OP_UNARY, "sigmoid", &lt, 1, &hm, 1, &ps);
    tt_peak_topk(g, hm, mb, pc->h * pc->w * C, 3, 3, pc->k, AV_NN_I32, out);
    CHECK(av_nn__mark_output(g, out[0]) >= 0);
    CHECK(av_nn__mark_output(g, out[1]) >= 0);
    if (pc->leak)
        CHECK(av_nn__mark_output(g, hm) >= 0);
    return g;
}

/* Inputs (the logits themselves when identity): quarter steps (plateaus),
 * saturated blocks, all negative (down past the low clamp), sparse bumps. */
static float *make_x(const sp_case *pc, uint64_t seed)
{
    int64_t ne = numel(pc);
    float *x = malloc((size_t)ne * sizeof *x);
    CHECK(x);
    nf_reseed(seed);
    nf_range(-3, 3, true);
    nf_fill(x, AV_NN_F32, ne);
    for (int64_t i = 0; i < ne; i++) {
        uint32_t u = nf_rnd();
        int64_t px = i / pc->c, col = px % pc->w, row = px / pc->w % pc->h;
        switch (pc->data) {
        case D_SAT: /* blocks of logits 20..40 (s = 1.0f), and the rest */
            x[i] = (row / 3 + col / 4) % 2 ? 20.0f + (float)(u % 81) * 0.25f : x[i];
            break;
        case D_NEG: /* all negative, a third below the low clamp (-87.5) */
            x[i] = u % 3 == 0 ? -90.0f - (float)(u % 50) : -fabsf(x[i]) * (float)(1 + u % 9);
            break;
        case D_SPARSE:
            x[i] = u % 89 == 0 ? x[i] + 6 : -8.0f + x[i] * 0.25f;
            break;
        case D_NAN:
            x[i] = u % 53 == 0 ? NAN : x[i];
            break;
        case D_MIXED: /* saturated both ways, plateaus and zeros */
            x[i] = u % 5 == 0 ? 25.0f : u % 5 == 1 ? -100.0f : u % 5 == 2 ? 0.0f : x[i];
            break;
        default:
            break;
        }
    }
    return x;
}

/* Live peak top-k nodes that took the sigmoid. */
static int count_sig(const av_nn__graph *g)
{
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        k += !g->nodes[i].dead && g->nodes[i].op == AV_NN_OP_TOPK && g->nodes[i].p.topk.peak &&
             g->nodes[i].p.topk.sigmoid;
    return k;
}

typedef struct result {
    float *v;
    int32_t *i;
    float *heat;
} result;

/* Builds and finalizes pc's graph (the sigmoid fusion off when off), checks
 * whether it fused, runs it (the heat map copied out when heat). */
static void run(const sp_case *pc, bool off, av_nn_backend be, int threads, const float *x,
                result *r, bool heat)
{
    size_t nk = (size_t)(pc->n * pc->k);
    r->v = malloc(nk * sizeof *r->v);
    r->i = malloc(nk * sizeof *r->i);
    r->heat = malloc((size_t)numel(pc) * sizeof *r->heat);
    CHECK(r->v && r->i && r->heat);
    memset(r->v, 0xa5, nk * sizeof *r->v);
    memset(r->heat, 0xa5, (size_t)numel(pc) * sizeof *r->heat);
    av_nn__sigmoid_peak_force_off(off);
    int64_t was = av_nn__dwpw_min_floats(0); /* small maps take the depthwise too */
    av_nn__graph *g = build(pc);
    char err[512] = "";
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn__dwpw_min_floats(was);
    av_nn__sigmoid_peak_force_off(false);
    /* fuses where the peak top-k and the depthwise + 1x1 fusions did */
    bool can = av_nn__peak_fusion_pays() && av_nn__dwpw_fusion_pays() && pc->c % 8 == 0;
    CHECK_EQ_INT(count_sig(g), !off && can ? 1 : 0);
    av_nn_model *m = NULL;
    CHECK(av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) == AV_NN_OK);
    av_nn_ctx_opts o = {.threads = threads, .backend = be, .batch = (int)pc->n};
    av_nn_ctx *c = NULL;
    CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "ctx: %s", err);
    void *outs[3] = {r->v, r->i, heat ? r->heat : NULL};
    CHECK_MSG(av_nn_run(c, (const void *[]){x}, outs, err, sizeof err) == AV_NN_OK, "run: %s",
              err);
    av_nn_ctx_free(c);
    av_nn_model_free(m);
}

static void res_free(result *r)
{
    free(r->v), free(r->i), free(r->heat);
}

static void same(const sp_case *pc, const result *a, const result *b, bool heat,
                 const char *what)
{
    size_t nk = (size_t)(pc->n * pc->k);
    CHECK_MSG(memcmp(a->v, b->v, nk * sizeof *a->v) == 0 &&
                  memcmp(a->i, b->i, nk * sizeof *a->i) == 0,
              "%s: top-k differs, %lldx%lldx%lldx%lld k %d data %d identity %d", what,
              (long long)pc->n, (long long)pc->h, (long long)pc->w, (long long)pc->c, pc->k,
              pc->data, pc->identity);
    if (heat)
        CHECK_MSG(memcmp(a->heat, b->heat, (size_t)numel(pc) * sizeof *a->heat) == 0,
                  "%s: heat map differs, %lldx%lldx%lld data %d", what, (long long)pc->h,
                  (long long)pc->w, (long long)pc->c, pc->data);
}

static void check_case(const sp_case *pc, uint64_t seed)
{
    float *x = make_x(pc, seed);
    for (int b = 0; b < 2; b++) {
        av_nn_backend be = b ? AV_NN_BACKEND_REFERENCE : AV_NN_BACKEND_XNNPACK;
        result plain, fused2, fused1, unwanted;
        run(pc, true, be, 2, x, &plain, pc->leak);
        run(pc, false, be, 2, x, &fused2, pc->leak);
        same(pc, &fused2, &plain, pc->leak, b ? "reference, 2 threads" : "own, 2 threads");
        run(pc, false, be, 1, x, &fused1, pc->leak);
        same(pc, &fused1, &plain, pc->leak, b ? "reference, 1 thread" : "own, 1 thread");
        if (pc->leak) { /* the heat map not wanted: the top-k the same */
            run(pc, false, be, 2, x, &unwanted, false);
            same(pc, &unwanted, &plain, false, "heat map not wanted");
            res_free(&unwanted);
        }
        res_free(&plain), res_free(&fused2), res_free(&fused1);
    }
    free(x);
}

TEST(fused_equals_unfused_random_maps)
{
    nf_reseed(23);
    for (int it = 0; it < 30; it++) {
        static const int64_t cs[] = {8, 16, 24, 80, 40};
        sp_case pc = {.n = it % 7 == 6 ? 2 : 1,
                      .h = 1 + nf_rnd() % 23,
                      .w = 1 + nf_rnd() % 21,
                      .c = cs[it % 5],
                      .data = it % D_COUNT,
                      .identity = it % 4 != 3,
                      .leak = it % 3 == 1};
        int64_t img = pc.h * pc.w * pc.c;
        pc.k = (int)(1 + nf_rnd() % (img < 256 ? img : 256));
        if (it % 4 == 2) /* k past the number of peaks: zeros in index order */
            pc.k = (int)(img < 256 ? img : 256);
        check_case(&pc, 300 + (uint64_t)it);
    }
}

TEST(centernet_sized_maps)
{
    for (int data = 0; data < D_COUNT; data++) {
        sp_case pc = {.n = 1, .h = 32, .w = 29, .c = 80, .k = 100, .data = data,
                      .identity = true, .leak = data % 2};
        check_case(&pc, 40 + (uint64_t)data);
    }
}

TEST(batch_one_model_run_at_batch_three)
{
    sp_case pc = {.n = 3, .mb = 1, .h = 9, .w = 11, .c = 16, .k = 40, .data = D_STEPS,
                  .identity = true, .leak = true};
    check_case(&pc, 5);
    pc.data = D_SAT, pc.identity = false;
    check_case(&pc, 6);
}

TEST(not_fused_for_odd_channel_counts)
{
    sp_case pc = {.n = 1, .h = 5, .w = 6, .c = 12, .k = 20, .identity = true};
    float *x = make_x(&pc, 1);
    result a, b;
    run(&pc, false, AV_NN_BACKEND_XNNPACK, 1, x, &a, false); /* checks no fusion */
    run(&pc, true, AV_NN_BACKEND_XNNPACK, 1, x, &b, false);
    same(&pc, &a, &b, false, "channels 12");
    res_free(&a), res_free(&b);
    free(x);
}

/* ---- int8 calibration of the fused graph ---- */

/* [lo, hi] of tensor name in pc's graph (the fusion off when off), calibrated
 * on x with the own kernels. */
static void calib_range(const sp_case *pc, bool off, const float *x, const char *name,
                        double *lo, double *hi)
{
    av_nn__sigmoid_peak_force_off(off);
    int64_t was = av_nn__dwpw_min_floats(0);
    av_nn__graph *g = build(pc);
    char err[512] = "", path[512], line[512];
    CHECK_MSG(av_nn__graph_finalize(g, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn__dwpw_min_floats(was);
    av_nn__sigmoid_peak_force_off(false);
    av_nn_model *m = NULL;
    CHECK(av_nn__model_from_graph(g, AV_NN_FORMAT_AUTO, NULL, &m, err, sizeof err) == AV_NN_OK);
    av_nn_ctx *c = NULL;
    av_nn_ctx_opts o = {.threads = 1};
    CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn_calib *cal = NULL;
    CHECK(av_nn_calib_new(m, &cal, err, sizeof err) == AV_NN_OK);
    size_t nk = (size_t)(pc->n * pc->k);
    float *v = malloc(nk * sizeof *v), *heat = malloc((size_t)numel(pc) * sizeof *heat);
    int32_t *ix = malloc(nk * sizeof *ix);
    CHECK(v && ix && heat);
    void *outs[3] = {v, ix, heat};
    CHECK_MSG(av_nn_calib_run(cal, c, (const void *[]){x}, outs, err, sizeof err) == AV_NN_OK,
              "%s", err);
    snprintf(path, sizeof path, "%s/sigmoid_peak%d.calib", av_test_tmpdir(), off);
    CHECK(av_nn_calib_save(cal, path, NULL, err, sizeof err) == AV_NN_OK);
    FILE *f = fopen(path, "r");
    CHECK(f);
    bool found = false;
    size_t nl = strlen(name);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, name, nl) && line[nl] == '\t') {
            CHECK(sscanf(line + nl, "%lf %lf", lo, hi) == 2);
            found = true;
        }
    fclose(f);
    CHECK_MSG(found, "no row for %s", name);
    free(v), free(ix), free(heat);
    av_nn_calib_free(cal);
    av_nn_ctx_free(c);
    av_nn_model_free(m);
}

/* The heat map's and the mask's ranges as unfused, whether the heat map is
 * a graph output (its node observed) or not (the top-k widens it): the
 * fused side computes the sigmoid as the reference does, so within 1e-6. */
TEST(calibration_keeps_the_heat_map_ranges)
{
    for (int leak = 0; leak < 2; leak++) {
        sp_case pc = {.n = 1, .h = 9, .w = 11, .c = 16, .k = 30, .data = D_STEPS,
                      .identity = true, .leak = leak};
        float *x = make_x(&pc, 9);
        static const char *names[] = {"heat", "y", "r"};
        for (int i = 0; i < 3; i++) {
            double flo, fhi, plo, phi;
            calib_range(&pc, false, x, names[i], &flo, &fhi);
            calib_range(&pc, true, x, names[i], &plo, &phi);
            CHECK_MSG(fabs(flo - plo) <= 1e-6 && fabs(fhi - phi) <= 1e-6 && fhi > flo,
                      "%s (leak %d): [%g, %g] fused, [%g, %g] unfused", names[i], leak, flo, fhi,
                      plo, phi);
        }
        free(x);
    }
}

/* ---- CenterNet with the switch on and off ---- */

#define MODEL "models/human/centernet.json"

/* Loads CenterNet (the fusion off when off) and runs it; outputs indexed as
 * the model's, only the detections wanted when det_only; *det their index. */
static void centernet_run(bool off, int threads, const float *x, void **bufs, bool det_only,
                          size_t *bytes, int *det)
{
    char err[512] = "";
    av_nn__sigmoid_peak_force_off(off);
    av_nn_model *m = NULL;
    CHECK_MSG(av_nn_load(MODEL, &m, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn__sigmoid_peak_force_off(false);
    nf_output_bytes(m, 3, 8u << 20, bytes);
    *det = av_nn_find_output(m, "tower_0/detections");
    CHECK(*det >= 0);
    void *outs[3];
    for (int i = 0; i < 3; i++)
        outs[i] = det_only && i != *det ? NULL : bufs[i];
    av_nn_ctx *c = nf_ctx(m, AV_NN_BACKEND_XNNPACK, threads, 0);
    CHECK_MSG(av_nn_run(c, (const void *[]){x}, outs, err, sizeof err) == AV_NN_OK, "%s", err);
    av_nn_ctx_free(c);
    av_nn_model_free(m);
}

TEST(centernet_detections_and_heat_map_unchanged)
{
    if (access(MODEL, R_OK) != 0)
        SKIP(MODEL " missing (run scripts/setup)");
    size_t n_in = 512 * 512 * 3, bytes[3];
    int det;
    float *x = malloc(n_in * sizeof *x);
    CHECK(x);
    for (size_t i = 0; i < n_in; i++) /* a smooth picture with some edges, 0..255 */
        x[i] = (float)(127.5 + 127.5 * sin((double)(i % 1531) * 0.013 + (double)(i / 1536) * 0.05));
    void *want[3], *got[3];
    for (int i = 0; i < 3; i++) {
        want[i] = malloc(8u << 20), got[i] = malloc(8u << 20);
        CHECK(want[i] && got[i]);
    }
    centernet_run(true, 2, x, want, false, bytes, &det);
    for (int threads = 1; threads <= 2; threads++) {
        centernet_run(false, threads, x, got, false, bytes, &det); /* every output wanted */
        for (int i = 0; i < 3; i++)
            CHECK_MSG(memcmp(got[i], want[i], bytes[i]) == 0, "output %d, %d threads", i,
                      threads);
        memset(got[det], 0x7f, bytes[det]);
        centernet_run(false, threads, x, got, true, bytes, &det);
        CHECK_MSG(memcmp(got[det], want[det], bytes[det]) == 0, "detections alone, %d threads",
                  threads);
    }
    const float *d = want[det];
    CHECK(d[4] > 0.0f && d[4] <= 1.0f); /* real scores */
    for (int i = 0; i < 3; i++)
        free(want[i]), free(got[i]);
    free(x);
}

TEST_MAIN(T(sigmoid_is_monotone_over_every_float), T(fused_equals_unfused_random_maps),
          T(centernet_sized_maps), T(batch_one_model_run_at_batch_three),
          T(not_fused_for_odd_channel_counts), T(calibration_keeps_the_heat_map_ranges),
          T(centernet_detections_and_heat_map_unchanged))
