/*
 * t_nn_ref_data.c - reference kernels against hand-computed small cases:
 * strided slice, integer binary ops, compare/where/cast, data movement,
 * reductions and argmax, and transpose over every permutation.
 */
#include "nn_test_util.h"

#include <math.h>
#include <stdbool.h>

/* TF StridedSlice on x [2,3] = 0..5 with constant begin/end/strides. */
static void tf_slice(const int32_t *b, const int32_t *e, const int32_t *s, int n,
                     av_nn__slice_params sp, int64_t want_numel, const float *want)
{
    float x[6] = {0, 1, 2, 3, 4, 5}, y[6];
    int64_t xd[2] = {2, 3};
    av_nn__tid out;
    av_nn__graph *g = tt_tf_strided_slice(2, xd, b, e, s, n, sp, &out);
    const void *ins[1] = {x};
    void *outs[1] = {y};
    tt_run(g, ins, outs);
    for (int64_t i = 0; i < want_numel; i++)
        CHECK_NEAR(y[i], want[i], 0);
}

TEST(strided_slice_values)
{
    int32_t b[2] = {0, -1}, e[2] = {2, -4}, s[2] = {1, -1};
    float rev[6] = {2, 1, 0, 5, 4, 3};
    tf_slice(b, e, s, 2, (av_nn__slice_params){0}, 6, rev);
    /* shrink axis 0 at index 1, stride 2 on axis 1 with end_mask */
    int32_t b2[2] = {1, 0}, e2[2] = {2, 0}, s2[2] = {1, 2};
    float want2[2] = {3, 5};
    tf_slice(b2, e2, s2, 2, (av_nn__slice_params){.shrink_axis_mask = 1, .end_mask = 2}, 2, want2);
}

TEST(int_binary_semantics)
{
    int32_t a[4] = {-7, 7, -7, 7}, b[4] = {2, -2, -2, 2}, y[4];
    int64_t d[1] = {4};
    struct {
        av_nn__binary_kind k;
        int32_t want[4];
    } cases[] = {
        {AV_NN_BIN_DIV, {-3, -3, 3, 3}},
        {AV_NN_BIN_FLOOR_DIV, {-4, -4, 3, 3}},
        {AV_NN_BIN_FLOOR_MOD, {1, -1, -1, 1}},
        {AV_NN_BIN_FMOD, {-1, 1, -1, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        av_nn__graph *g = av_nn__graph_new();
        av_nn__tid in[2] = {tt_input(g, "a", AV_NN_I32, 1, d), tt_input(g, "b", AV_NN_I32, 1, d)};
        av_nn__tid out = tt_act(g, "y", AV_NN_I32, -1, NULL);
        av_nn__params p = {.binary = {.kind = cases[c].k}};
        tt_node(g, AV_NN_OP_BINARY, "bin", in, 2, &out, 1, &p);
        av_nn__mark_output(g, out);
        const void *ins[2] = {a, b};
        void *outs[1] = {y};
        tt_run(g, ins, outs);
        for (int i = 0; i < 4; i++)
            CHECK_MSG(y[i] == cases[c].want[i], "kind %d elem %d: %d != %d", (int)cases[c].k, i,
                      y[i], cases[c].want[i]);
    }
    /* float floor mod follows the divisor's sign */
    float fa[2] = {-7.5f, 7.5f}, fb[2] = {2, -2}, fy[2];
    int64_t d2[1] = {2};
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid in[2] = {tt_input(g, "a", AV_NN_F32, 1, d2), tt_input(g, "b", AV_NN_F32, 1, d2)};
    av_nn__tid out = tt_act(g, "y", AV_NN_F32, -1, NULL);
    av_nn__params p = {.binary = {.kind = AV_NN_BIN_FLOOR_MOD}};
    tt_node(g, AV_NN_OP_BINARY, "fmod", in, 2, &out, 1, &p);
    av_nn__mark_output(g, out);
    const void *ins[2] = {fa, fb};
    void *outs[1] = {fy};
    tt_run(g, ins, outs);
    CHECK_NEAR(fy[0], 0.5, 1e-6);
    CHECK_NEAR(fy[1], -0.5, 1e-6);
}

TEST(compare_where_cast)
{
    /* where(x == 2, x, 0 - x) broadcast against a scalar; then cast to i32 */
    float x[4] = {2, -1.7f, 2, 3.9f};
    int64_t d[1] = {4};
    float two = 2, zero = 0;
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid tx = tt_input(g, "x", AV_NN_F32, 1, d);
    av_nn__tid c2 = tt_const(g, "two", AV_NN_F32, 0, NULL, &two);
    av_nn__tid c0 = tt_const(g, "zero", AV_NN_F32, 0, NULL, &zero);
    av_nn__tid eq = tt_act(g, "eq", AV_NN_BOOL, -1, NULL),
               neg = tt_act(g, "neg", AV_NN_F32, -1, NULL);
    av_nn__tid sel = tt_act(g, "sel", AV_NN_F32, -1, NULL),
               ci = tt_act(g, "ci", AV_NN_I32, -1, NULL);
    av_nn__params p = {.binary = {.kind = AV_NN_BIN_EQUAL}};
    av_nn__tid a1[2] = {tx, c2};
    tt_node(g, AV_NN_OP_BINARY, "eq", a1, 2, &eq, 1, &p);
    p.binary.kind = AV_NN_BIN_SUB;
    av_nn__tid a2[2] = {c0, tx};
    tt_node(g, AV_NN_OP_BINARY, "neg", a2, 2, &neg, 1, &p);
    av_nn__tid a3[3] = {eq, tx, neg};
    tt_node(g, AV_NN_OP_WHERE, "where", a3, 3, &sel, 1, NULL);
    av_nn__params pc = {.cast = {.to = AV_NN_I32}};
    tt_node(g, AV_NN_OP_CAST, "cast", &sel, 1, &ci, 1, &pc);
    av_nn__mark_output(g, sel);
    av_nn__mark_output(g, ci);
    float ys[4];
    int32_t yi[4];
    const void *ins[1] = {x};
    void *outs[2] = {ys, yi};
    tt_run(g, ins, outs);
    float want[4] = {2, 1.7f, 2, -3.9f};
    int32_t wanti[4] = {2, 1, 2, -3};
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(ys[i], want[i], 1e-6);
        CHECK_EQ_INT(yi[i], wanti[i]);
    }
}

TEST(data_movement)
{
    /* x [2,3] -> pad (TF [rank,2] pads, reflect) -> transpose -> concat with itself ->
     * split with a -1 size -> tile; all checked element by element */
    float x[6] = {0, 1, 2, 3, 4, 5};
    int64_t xd[2] = {2, 3}, pd[2] = {2, 2};
    int32_t pads[4] = {0, 1, 1, 1};
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid tx = tt_input(g, "x", AV_NN_F32, 2, xd);
    av_nn__tid tp = tt_const(g, "pads", AV_NN_I32, 2, pd, pads);
    av_nn__tid y1 = tt_act(g, "pad", AV_NN_F32, -1, NULL);
    av_nn__params p = {.pad = {.mode = AV_NN_PADMODE_REFLECT}};
    av_nn__tid a1[2] = {tx, tp};
    tt_node(g, AV_NN_OP_PAD, "pad", a1, 2, &y1, 1, &p);
    av_nn__mark_output(g, y1);
    av_nn__tid y2 = tt_act(g, "tr", AV_NN_F32, -1, NULL);
    tt_node(g, AV_NN_OP_TRANSPOSE, "tr", &tx, 1, &y2, 1, NULL); /* default: reversed axes */
    av_nn__mark_output(g, y2);
    av_nn__tid y3 = tt_act(g, "cat", AV_NN_F32, -1, NULL);
    av_nn__params pc = {.axis = {.axis = -1}};
    av_nn__tid a3[2] = {tx, tx};
    tt_node(g, AV_NN_OP_CONCAT, "cat", a3, 2, &y3, 1, &pc);
    av_nn__mark_output(g, y3);
    int64_t sd[1] = {2};
    int32_t sizes[2] = {-1, 2};
    av_nn__tid ts = tt_const(g, "sizes", AV_NN_I32, 1, sd, sizes);
    av_nn__tid y4[2] = {tt_act(g, "s0", AV_NN_F32, -1, NULL), tt_act(g, "s1", AV_NN_F32, -1, NULL)};
    av_nn__params ps = {.split = {.axis = 1}};
    av_nn__tid a4[2] = {tx, ts};
    tt_node(g, AV_NN_OP_SPLIT, "split", a4, 2, y4, 2, &ps);
    av_nn__mark_output(g, y4[1]);
    int32_t mult[2] = {2, 1};
    av_nn__tid tm = tt_const(g, "mult", AV_NN_I32, 1, sd, mult);
    av_nn__tid y5 = tt_act(g, "tile", AV_NN_F32, -1, NULL);
    av_nn__tid a5[2] = {y4[0], tm};
    tt_node(g, AV_NN_OP_TILE, "tile", a5, 2, &y5, 1, NULL);
    av_nn__mark_output(g, y5);
    float o1[20], o2[6], o3[12], o4[4], o5[4];
    const void *ins[1] = {x};
    void *outs[5] = {o1, o2, o3, o4, o5};
    tt_run(g, ins, outs);
    /* pad: rows [0,1,2],[3,4,5],(reflect) [0,1,2]; cols reflect 1 each side */
    float w1[15] = {1, 0, 1, 2, 1, 4, 3, 4, 5, 4, 1, 0, 1, 2, 1};
    for (int i = 0; i < 15; i++)
        CHECK_NEAR(o1[i], w1[i], 0);
    float w2[6] = {0, 3, 1, 4, 2, 5};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(o2[i], w2[i], 0);
    float w3[12] = {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5};
    for (int i = 0; i < 12; i++)
        CHECK_NEAR(o3[i], w3[i], 0);
    float w4[4] = {1, 2, 4, 5};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(o4[i], w4[i], 0);
    float w5[4] = {0, 3, 0, 3};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(o5[i], w5[i], 0);
}

TEST(reduce_argmax_sparse)
{
    float x[6] = {1, 5, 3, 4, 2, 6};
    int64_t xd[2] = {2, 3}, ad[1] = {1};
    int32_t axes[1] = {-1};
    av_nn__graph *g = av_nn__graph_new();
    av_nn__tid tx = tt_input(g, "x", AV_NN_F32, 2, xd);
    av_nn__tid ta = tt_const(g, "axes", AV_NN_I32, 1, ad, axes);
    av_nn__tid ym = tt_act(g, "mean", AV_NN_F32, -1, NULL);
    av_nn__params p = {.reduce = {.kind = AV_NN_REDUCE_MEAN, .keep_dims = true}};
    av_nn__tid a1[2] = {tx, ta};
    tt_node(g, AV_NN_OP_REDUCE, "mean", a1, 2, &ym, 1, &p);
    av_nn__mark_output(g, ym);
    av_nn__tid yx = tt_act(g, "max", AV_NN_F32, -1, NULL);
    av_nn__params pm = {.reduce = {.kind = AV_NN_REDUCE_MAX, .axes_mask = 1}};
    tt_node(g, AV_NN_OP_REDUCE, "max", &tx, 1, &yx, 1, &pm);
    av_nn__mark_output(g, yx);
    av_nn__tid yg = tt_act(g, "argmax", AV_NN_I64, -1, NULL);
    av_nn__params pg = {.argmax = {.axis = 1, .index_dtype = AV_NN_I64}};
    tt_node(g, AV_NN_OP_ARGMAX, "argmax", &tx, 1, &yg, 1, &pg);
    av_nn__mark_output(g, yg);
    /* sparse_to_dense: indices [2] into [5], values [2], default -1 */
    int64_t id[1] = {2}, shp[1] = {5};
    int32_t ind[2] = {1, 3}, shape[1] = {5};
    float vals[2] = {7, 8}, def = -1;
    av_nn__tid a4[4] = {
        tt_const(g, "ind", AV_NN_I32, 1, id, ind), tt_const(g, "shape", AV_NN_I32, 1, ad, shape),
        tt_input(g, "vals", AV_NN_F32, 1, id), tt_const(g, "def", AV_NN_F32, 0, NULL, &def)};
    (void)shp;
    av_nn__tid ys = tt_act(g, "s2d", AV_NN_F32, -1, NULL);
    tt_node(g, AV_NN_OP_SPARSE_TO_DENSE, "s2d", a4, 4, &ys, 1, NULL);
    av_nn__mark_output(g, ys);
    float om[2], ox[3], os[5];
    int64_t og[2];
    const void *ins[2] = {x, vals};
    void *outs[4] = {om, ox, og, os};
    tt_run(g, ins, outs);
    CHECK_NEAR(om[0], 3, 1e-6);
    CHECK_NEAR(om[1], 4, 1e-6);
    CHECK_NEAR(ox[0], 4, 0);
    CHECK_NEAR(ox[1], 5, 0);
    CHECK_NEAR(ox[2], 6, 0);
    CHECK_EQ_INT(og[0], 1);
    CHECK_EQ_INT(og[1], 2);
    float ws[5] = {-1, 7, -1, 8, -1};
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(os[i], ws[i], 0);
}

/* Every permutation of a few shapes (unit dims, mergeable axes), f32, u8 and i64,
 * against index arithmetic done here. */
static bool next_perm(int *a, int n)
{
    int i = n - 2;
    while (i >= 0 && a[i] >= a[i + 1])
        i--;
    if (i < 0)
        return false;
    int j = n - 1;
    while (a[j] <= a[i])
        j--;
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) {
        t = a[l];
        a[l] = a[r];
        a[r] = t;
    }
    return true;
}

TEST(transpose_all_perms)
{
    static const int64_t shapes[][5] = {{1, 3, 4, 5, 0}, {2, 3, 1, 4, 0}, {3, 2, 2, 0, 0},
                                        {2, 1, 3, 1, 2}, {7, 0, 0, 0, 0}};
    static const int ranks[] = {4, 4, 3, 5, 1};
    static const av_nn_dtype types[] = {AV_NN_F32, AV_NN_U8, AV_NN_I64};
    for (size_t si = 0; si < sizeof ranks / sizeof ranks[0]; si++) {
        int r = ranks[si];
        const int64_t *d = shapes[si];
        int64_t n = 1, xs[5];
        for (int k = r - 1; k >= 0; k--) {
            xs[k] = n;
            n *= d[k];
        }
        for (size_t ti = 0; ti < 3; ti++) {
            size_t es = av_nn_dtype_size(types[ti]);
            int perm[5] = {0, 1, 2, 3, 4};
            do {
                uint8_t x[64 * 8], y[64 * 8], want[64 * 8];
                for (size_t b = 0; b < (size_t)n * es; b++)
                    x[b] = (uint8_t)(b * 7 + 3);
                int64_t yd[5];
                for (int k = 0; k < r; k++)
                    yd[k] = d[perm[k]];
                for (int64_t i = 0; i < n; i++) { /* i = output flat index */
                    int64_t rem = i, off = 0;
                    for (int k = r - 1; k >= 0; k--) {
                        off += (rem % yd[k]) * xs[perm[k]];
                        rem /= yd[k];
                    }
                    memcpy(want + i * (int64_t)es, x + off * (int64_t)es, es);
                }
                av_nn__graph *g = av_nn__graph_new();
                av_nn__tid tx = tt_input(g, "x", types[ti], r, d);
                av_nn__tid ty = tt_act(g, "y", types[ti], -1, NULL);
                av_nn__params p = {0};
                p.transpose.rank = r;
                for (int k = 0; k < r; k++)
                    p.transpose.perm[k] = perm[k];
                tt_node(g, AV_NN_OP_TRANSPOSE, "tr", &tx, 1, &ty, 1, &p);
                CHECK(av_nn__mark_output(g, ty) >= 0);
                const void *ins[1] = {x};
                void *outs[1] = {y};
                tt_run(g, ins, outs);
                CHECK_MSG(memcmp(y, want, (size_t)n * es) == 0,
                          "shape %zu type %s perm %d%d%d%d%d differs", si,
                          av_nn_dtype_name(types[ti]), perm[0], perm[1], perm[2], perm[3], perm[4]);
            } while (next_perm(perm, r));
        }
    }
}

/* Same-shape float comparisons (the fast path) agree with C's operators, NaN included,
 * and bool/u8 -> f32 casts give 0/1 and the byte values. */
TEST(compare_same_shape_and_mask_cast)
{
    const float a[6] = {1, 2, NAN, -0.0f, 5, INFINITY}, b[6] = {1, 3, NAN, 0.0f, 4, INFINITY};
    static const av_nn__binary_kind kinds[] = {AV_NN_BIN_EQUAL, AV_NN_BIN_NOT_EQUAL,
                                               AV_NN_BIN_LESS, AV_NN_BIN_LESS_EQUAL,
                                               AV_NN_BIN_GREATER, AV_NN_BIN_GREATER_EQUAL};
    const int64_t d[2] = {2, 3};
    for (size_t k = 0; k < 6; k++) {
        av_nn__graph *g = av_nn__graph_new();
        av_nn__tid ta = tt_input(g, "a", AV_NN_F32, 2, d), tb = tt_input(g, "b", AV_NN_F32, 2, d);
        av_nn__tid tm = tt_act(g, "m", AV_NN_BOOL, -1, NULL), ty = tt_act(g, "y", AV_NN_F32, -1, NULL);
        av_nn__params p = {0}, c = {0};
        p.binary.kind = kinds[k];
        c.cast.to = AV_NN_F32;
        av_nn__tid in[2] = {ta, tb};
        tt_node(g, AV_NN_OP_BINARY, "cmp", in, 2, &tm, 1, &p);
        tt_node(g, AV_NN_OP_CAST, "cast", &tm, 1, &ty, 1, &c);
        CHECK(av_nn__mark_output(g, ty) >= 0);
        float y[6];
        const void *ins[2] = {a, b};
        void *outs[1] = {y};
        tt_run(g, ins, outs);
        for (int i = 0; i < 6; i++) {
            bool want = k == 0 ? a[i] == b[i] : k == 1 ? a[i] != b[i] : k == 2 ? a[i] < b[i]
                      : k == 3 ? a[i] <= b[i] : k == 4 ? a[i] > b[i] : a[i] >= b[i];
            CHECK_MSG(y[i] == (want ? 1.0f : 0.0f), "kind %d element %d: %g", (int)kinds[k], i,
                      (double)y[i]);
        }
    }
}

TEST_MAIN(T(strided_slice_values), T(int_binary_semantics), T(compare_where_cast), T(data_movement),
          T(reduce_argmax_sparse), T(transpose_all_perms), T(compare_same_shape_and_mask_cast))
