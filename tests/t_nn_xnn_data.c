/*
 * t_nn_xnn_data.c - the XNNPACK backend's data movement (transpose, slice,
 * concat, split: our strided-copy kernel on the pool) over every dtype, and
 * the comparisons and casts of CenterNet's peak mask, against the reference
 * kernels one node at a time (tests/nn_fixture.h).
 */
#include "harness.h"
#include "nn_fixture.h"

#include "nn/core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- data movement: our strided-copy kernel on the pool ---- */

static const av_nn_dtype data_dtypes[] = {AV_NN_F32, AV_NN_F16, AV_NN_U8,  AV_NN_I8,
                                          AV_NN_I32, AV_NN_I64, AV_NN_BOOL};
#define N_DATA_DTYPES (int)(sizeof data_dtypes / sizeof data_dtypes[0])

/* Random rank 1..5 shape with odd sizes and unit axes mixed in. */
static int rand_shape(int64_t *d, int max_rank)
{
    int r = 1 + (int)(nf_rnd() % (unsigned)max_rank);
    for (int i = 0; i < r; i++)
        d[i] = nf_rnd() % 5 == 0 ? 1 : 1 + (int64_t)(nf_rnd() % 9);
    return r;
}

static av_nn__tid data_in(av_nn__graph *g, av_nn_dtype dt, const int64_t *d, int r)
{
    bool q = dt == AV_NN_U8 || dt == AV_NN_I8;
    return nf_act_in(g, dt, d, r, q ? 0.05f : 0, q ? 3 : 0);
}

TEST(transpose_random_shapes_all_dtypes)
{
    for (int c = 0; c < 74; c++) {
        av_nn__graph *g = nf_new_graph(400 + (uint64_t)c);
        int64_t d[AV_NN_MAX_RANK];
        int r = rand_shape(d, 5);
        av_nn__params p = {.transpose = {.rank = r}};
        if (c >= 60) { /* few channels, many pixels: rows of 3 become long rows of pieces */
            static const int64_t hw[7][3] = {{2, 64, 70}, {1, 416, 416}, {1, 67, 67}, {3, 128, 1},
                                             {1, 96, 33}, {2, 5, 256},   {1, 1, 8192}};
            const int64_t *s = hw[(c - 60) % 7];
            r = p.transpose.rank = 4;
            d[0] = s[0], d[1] = c < 67 ? 3 : 2, d[2] = s[1], d[3] = s[2];
            for (int i = 0; i < 4; i++)
                p.transpose.perm[i] = (int[]){0, 2, 3, 1}[i];
            av_nn__tid x = data_in(g, data_dtypes[c % N_DATA_DTYPES], d, r);
            nf_check_node(g, nf_add(g, AV_NN_OP_TRANSPOSE, &x, 1, nf_out_t(g, 0, 0), &p));
            continue;
        }
        for (int i = 0; i < r; i++)
            p.transpose.perm[i] = i;
        for (int i = r - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)(nf_rnd() % (unsigned)(i + 1)), t = p.transpose.perm[i];
            p.transpose.perm[i] = p.transpose.perm[j], p.transpose.perm[j] = t;
        }
        if (c == 0) { /* the NCHW -> NHWC wrapper, large enough for several pool tasks */
            r = 4, d[0] = 1, d[1] = 12, d[2] = 67, d[3] = 45;
            memcpy(p.transpose.perm, (int[]){0, 2, 3, 1}, 4 * sizeof(int));
        }
        av_nn__tid x = data_in(g, data_dtypes[c % N_DATA_DTYPES], d, r);
        nf_check_node(g, nf_add(g, AV_NN_OP_TRANSPOSE, &x, 1, nf_out_t(g, 0, 0), &p));
    }
}

static av_nn__tid i64_vec(av_nn__graph *g, const int64_t *v, int64_t n)
{
    int64_t *p = malloc((size_t)n * sizeof *p);
    CHECK(p);
    memcpy(p, v, (size_t)n * sizeof *p);
    av_nn__tid t = av_nn__add_tensor(g, "k", AV_NN_I64, 1, &n, p, true);
    CHECK(t >= 0);
    return t;
}

TEST(slice_random_strided_all_dtypes)
{
    for (int c = 0; c < 60; c++) {
        av_nn__graph *g = nf_new_graph(500 + (uint64_t)c);
        int64_t d[AV_NN_MAX_RANK], b[AV_NN_MAX_RANK], e[AV_NN_MAX_RANK], st[AV_NN_MAX_RANK];
        int r = rand_shape(d, 5);
        if (c == 0) /* the space-to-depth stem: every other row and column */
            r = 4, d[0] = 1, d[1] = 3, d[2] = 64, d[3] = 70;
        for (int i = 0; i < r; i++) {
            st[i] = (int64_t)(nf_rnd() % 3) + 1;
            if (nf_rnd() % 4 == 0)
                st[i] = -st[i];
            b[i] = (int64_t)(nf_rnd() % (uint64_t)(d[i] + 2)) - 1;
            e[i] = st[i] > 0 ? d[i] + 1 : -(d[i] + 2); /* clamped to the far end */
            if (nf_rnd() % 2)
                e[i] = (int64_t)(nf_rnd() % (uint64_t)(d[i] + 1));
            if (c == 0)
                b[i] = i >= 2, e[i] = d[i], st[i] = i >= 2 ? 2 : 1;
        }
        int64_t rr = r;
        av_nn__tid in[5];
        in[0] = data_in(g, data_dtypes[c % N_DATA_DTYPES], d, r);
        in[1] = i64_vec(g, b, rr);
        in[2] = i64_vec(g, e, rr);
        in[3] = -1;
        in[4] = i64_vec(g, st, rr);
        av_nn__params p = {.slice = {.tf_semantics = false}};
        int k = nf_add(g, AV_NN_OP_SLICE, in, 5, nf_out_t(g, 0, 0), &p);
        if (av_nn__numel(&g->tensors[g->nodes[k].out[0]]) == 0) {
            av_nn__graph_free(g); /* empty slices need no kernel */
            continue;
        }
        nf_check_node(g, k);
    }
}

TEST(concat_split_random_axes_all_dtypes)
{
    for (int c = 0; c < 60; c++) {
        av_nn__graph *g = nf_new_graph(600 + (uint64_t)c);
        int64_t d[AV_NN_MAX_RANK];
        int r = rand_shape(d, 5), axis = (int)(nf_rnd() % (unsigned)r),
            parts = 1 + (int)(nf_rnd() % 4);
        av_nn_dtype dt = data_dtypes[c % N_DATA_DTYPES];
        if (c % 2 == 0) {
            av_nn__tid in[4];
            for (int i = 0; i < parts; i++) {
                d[axis] = 1 + (int64_t)(nf_rnd() % 6);
                in[i] = data_in(g, dt, d, r);
            }
            av_nn__params p = {.axis = {.axis = axis - (int)(nf_rnd() % 2) * r}};
            av_nn__tid y = nf_out_t(g, 0, 0);
            bool q = dt == AV_NN_U8 || dt == AV_NN_I8;
            nf_set_q(g, y, q ? 0.05f : 0, q ? 3 : 0);
            nf_check_node(g, nf_add(g, AV_NN_OP_CONCAT, in, parts, y, &p));
        } else {
            int64_t sizes[4], total = 0;
            for (int i = 0; i < parts; i++)
                total += sizes[i] = (int64_t)(nf_rnd() % 5);
            d[axis] = total;
            av_nn__tid x = data_in(g, dt, d, r), y[4];
            for (int i = 0; i < parts; i++)
                y[i] = nf_out_t(g, 0, 0);
            av_nn__params p = {.split = {.axis = axis, .resolved = true}};
            memcpy(p.split.sizes, sizes, sizeof sizes);
            int k = av_nn__add_node(g, AV_NN_OP_SPLIT, "split", &x, 1, y, parts, &p);
            CHECK(k >= 0);
            char err[256] = "";
            CHECK_MSG(av_nn__infer_node(g, &g->nodes[k], err, sizeof err) == AV_NN_OK, "%s", err);
            if (av_nn__numel(&g->tensors[x]) == 0) {
                av_nn__graph_free(g);
                continue;
            }
            nf_check_node(g, k);
        }
    }
}

/* CenterNet's peak mask: equal(maxpool(k), k) -> bool -> f32; sizes span pool tasks. */
TEST(equal_and_mask_cast)
{
    static const int64_t sizes[] = {1, 7, 16385 * 2 + 3};
    for (int i = 0; i < 3; i++) {
        av_nn__graph *g = nf_new_graph(700 + (uint64_t)i);
        nf_range(-2, 2, true); /* multiples of 0.25 in [-2, 2]: many equal pairs */
        av_nn__tid in[2] = {nf_act_in(g, AV_NN_F32, &sizes[i], 1, 0, 0),
                            nf_act_in(g, AV_NN_F32, &sizes[i], 1, 0, 0)};
        av_nn__params p = {.binary = {.kind = AV_NN_BIN_EQUAL}};
        nf_check_node(g, nf_add(g, AV_NN_OP_BINARY, in, 2, nf_out_t(g, 0, 0), &p));
        for (int k = 0; k < 2; k++) {
            g = nf_new_graph(710 + (uint64_t)(i * 2 + k));
            av_nn__tid x = nf_act_in(g, k ? AV_NN_U8 : AV_NN_BOOL, &sizes[i], 1, 0, 0);
            av_nn__params c = {.cast = {.to = AV_NN_F32}};
            nf_check_node(g, nf_add(g, AV_NN_OP_CAST, &x, 1, nf_out_t(g, 0, 0), &c));
        }
    }
    av_nn__graph *g = nf_new_graph(720); /* broadcasting stays on the reference */
    av_nn__tid in[2] = {nf_act_in(g, AV_NN_F32, SH(3, 4), 0, 0),
                        nf_act_in(g, AV_NN_F32, SH(4), 0, 0)};
    av_nn__params p = {.binary = {.kind = AV_NN_BIN_EQUAL}};
    nf_check_refused(g, nf_add(g, AV_NN_OP_BINARY, in, 2, nf_out_t(g, 0, 0), &p));
}

TEST(concat_requantising_left_to_ref)
{
    av_nn__graph *g = nf_new_graph(370);
    av_nn__tid in[2] = {nf_act_in(g, AV_NN_U8, SH(2, 3), 0.05f, 3),
                        nf_act_in(g, AV_NN_U8, SH(2, 3), 0.1f, 3)};
    av_nn__params p = {.axis = {.axis = 1}};
    nf_check_refused(g, nf_add(g, AV_NN_OP_CONCAT, in, 2, nf_out_t(g, 0.05f, 3), &p));
}

TEST_MAIN(T(transpose_random_shapes_all_dtypes), T(slice_random_strided_all_dtypes),
          T(concat_split_random_axes_all_dtypes), T(equal_and_mask_cast),
          T(concat_requantising_left_to_ref))
