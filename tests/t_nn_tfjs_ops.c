/*
 * t_nn_tfjs_ops.c - TF op lowerings that Human's two models do not use (or
 * use only one way), each on a tiny hand-written model.json whose expected
 * output is worked out by hand from TF's documented semantics: pooling
 * padding, resize coordinate modes, integer Div, Slice/SplitV sizes of -1,
 * MatMul transposes, transposed convolution, Gather/Pad/ArgMax/Mean/Tile.
 * Every case runs on the reference and the XNNPACK backend.
 */
#include "harness.h"
#include "nn/nn.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PH(shape)                                                                                \
    "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},"        \
    "\"shape\":{\"shape\":{\"dim\":" shape "}}}}"
#define CONST(name) ",{\"name\":\"" name "\",\"op\":\"Const\"}"
#define S_SAME "U0FNRQ=="
#define S_VALID "VkFMSUQ="

/* An int32 or float32 weight: name, shape JSON, values (as doubles). */
typedef struct wdef {
    const char *name, *shape;
    bool is_int;
    int n;
    double v[16];
} wdef;

/*
 * Write model.json (nodes = the node list after the placeholder, signature
 * output names) and its shard, load it, run it with input x on both
 * backends, and compare output `out` with want.
 */
static void run_case(const char *nodes, const wdef *w, int nw, const float *x, const char *out,
                     const float *want, int n_want)
{
    const char *dir = av_test_tmpdir();
    char json[8192], path[1024], err[512];
    int k = snprintf(json, sizeof json, "{\"modelTopology\":{\"node\":[%s]},"
                                        "\"signature\":{\"outputs\":{\"%s\":{}}},"
                                        "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":[",
                     nodes, out);
    uint8_t shard[1024];
    size_t at = 0;
    for (int i = 0; i < nw; i++) {
        k += snprintf(json + k, sizeof json - (size_t)k,
                      "%s{\"name\":\"%s\",\"shape\":%s,\"dtype\":\"%s\"}", i ? "," : "",
                      w[i].name, w[i].shape, w[i].is_int ? "int32" : "float32");
        for (int j = 0; j < w[i].n; j++) {
            CHECK(at + 4 <= sizeof shard);
            if (w[i].is_int) {
                int32_t v = (int32_t)w[i].v[j];
                memcpy(shard + at, &v, 4);
            } else {
                float v = (float)w[i].v[j];
                memcpy(shard + at, &v, 4);
            }
            at += 4;
        }
    }
    k += snprintf(json + k, sizeof json - (size_t)k, "]}]}");
    CHECK((size_t)k < sizeof json);
    snprintf(path, sizeof path, "%s/w.bin", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(shard, 1, at ? at : 0, f) == at && fclose(f) == 0);
    snprintf(path, sizeof path, "%s/model.json", dir);
    f = fopen(path, "wb");
    CHECK(f && fwrite(json, 1, (size_t)k, f) == (size_t)k && fclose(f) == 0);

    av_nn_model *m = NULL;
    CHECK_MSG(av_nn_load(path, &m, err, sizeof err) == AV_NN_OK, "load: %s", err);
    CHECK_EQ_INT(av_nn_num_outputs(m), 1);
    const av_nn_tensor_info *oi = av_nn_output(m, 0);
    int64_t n = 1;
    for (int d = 0; d < oi->rank; d++)
        n *= oi->dims[d];
    CHECK_EQ_INT(n, n_want);
    CHECK_EQ_INT(oi->dtype, AV_NN_F32);
    for (int b = 0; b < 2; b++) {
        av_nn_ctx_opts o = {.threads = 1,
                            .backend = b ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE};
        av_nn_ctx *c = NULL;
        CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "ctx: %s", err);
        float y[64];
        CHECK(n_want <= 64);
        const void *ins[1] = {x};
        void *outs[1] = {y};
        CHECK_MSG(av_nn_run(c, ins, outs, err, sizeof err) == AV_NN_OK, "run: %s", err);
        for (int i = 0; i < n_want; i++)
            CHECK_MSG(y[i] > want[i] - 1e-5f && y[i] < want[i] + 1e-5f,
                      "%s backend %s: element %d is %g, want %g", out, b ? "xnnpack" : "ref", i,
                      y[i], want[i]);
        av_nn_ctx_free(c);
    }
    av_nn_model_free(m);
}

/* TF SAME pooling pads bottom/right; AvgPool divides by the valid cells only. */
TEST(pool_same_padding)
{
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const char *pool = ",{\"name\":\"p\",\"op\":\"%s\",\"input\":[\"x\"],\"attr\":{"
                       "\"ksize\":{\"list\":{\"i\":[\"1\",\"2\",\"2\",\"1\"]}},"
                       "\"strides\":{\"list\":{\"i\":[\"1\",\"2\",\"2\",\"1\"]}},"
                       "\"padding\":{\"s\":\"" S_SAME "\"}}}";
    char nodes[1024];
    snprintf(nodes, sizeof nodes, "%s", PH("[{\"size\":1},{\"size\":3},{\"size\":3},{\"size\":1}]"));
    snprintf(nodes + strlen(nodes), sizeof nodes - strlen(nodes), pool, "AvgPool");
    float avg[4] = {3, 4.5f, 7.5f, 9};
    run_case(nodes, NULL, 0, x, "p", avg, 4);
    snprintf(nodes, sizeof nodes, "%s", PH("[{\"size\":1},{\"size\":3},{\"size\":3},{\"size\":1}]"));
    snprintf(nodes + strlen(nodes), sizeof nodes - strlen(nodes), pool, "MaxPool");
    float mx[4] = {5, 6, 8, 9};
    run_case(nodes, NULL, 0, x, "p", mx, 4);
}

/* [10,20] -> 3 wide: the three TF coordinate mappings give three answers. */
TEST(resize_nearest_coordinate_modes)
{
    static const struct {
        const char *attrs;
        float want[3];
    } cases[] = {
        {"", {10, 10, 20}},                                       /* floor(dst * 2/3) */
        {"\"half_pixel_centers\":{\"b\":true}", {10, 20, 20}},    /* floor((dst+.5) * 2/3) */
        {"\"align_corners\":{\"b\":true}", {10, 20, 20}},         /* round(dst * 1/2) */
    };
    float x[2] = {10, 20};
    wdef sz = {"sz", "[2]", true, 2, {1, 3}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char nodes[1024];
        snprintf(nodes, sizeof nodes,
                 "%s" CONST("sz") ",{\"name\":\"r\",\"op\":\"ResizeNearestNeighbor\","
                                  "\"input\":[\"x\",\"sz\"],\"attr\":{%s}}",
                 PH("[{\"size\":1},{\"size\":1},{\"size\":2},{\"size\":1}]"), cases[i].attrs);
        run_case(nodes, &sz, 1, x, "r", cases[i].want, 3);
    }
}

/* TF.js divides int32 tensors with floor division; Cast truncates toward zero. */
TEST(integer_div_floors)
{
    float x[4] = {-7.9f, 7.9f, -1, 6};
    wdef two = {"two", "[]", true, 1, {2}};
    const char *nodes =
        PH("[{\"size\":4}]") CONST("two")
        ",{\"name\":\"i\",\"op\":\"Cast\",\"input\":[\"x\"],\"attr\":{\"DstT\":{\"type\":\"DT_INT32\"}}}"
        ",{\"name\":\"d\",\"op\":\"Div\",\"input\":[\"i\",\"two\"],\"attr\":{\"T\":{\"type\":\"DT_INT32\"}}}"
        ",{\"name\":\"f\",\"op\":\"Cast\",\"input\":[\"d\"],\"attr\":{\"DstT\":{\"type\":\"DT_FLOAT\"}}}";
    float want[4] = {-4, 3, -1, 3};
    run_case(nodes, &two, 1, x, "f", want, 4);
}

TEST(slice_with_size_minus_one)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    wdef w[2] = {{"b", "[2]", true, 2, {0, 1}}, {"s", "[2]", true, 2, {-1, 2}}};
    const char *nodes = PH("[{\"size\":2},{\"size\":3}]") CONST("b") CONST("s")
        ",{\"name\":\"y\",\"op\":\"Slice\",\"input\":[\"x\",\"b\",\"s\"]}";
    float want[4] = {2, 3, 5, 6};
    run_case(nodes, w, 2, x, "y", want, 4);
}

TEST(splitv_second_output)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    wdef w[2] = {{"sz", "[2]", true, 2, {1, -1}}, {"ax", "[]", true, 1, {1}}};
    const char *nodes = PH("[{\"size\":2},{\"size\":3}]") CONST("sz") CONST("ax")
        ",{\"name\":\"sp\",\"op\":\"SplitV\",\"input\":[\"x\",\"sz\",\"ax\"],"
        "\"attr\":{\"num_split\":{\"i\":\"2\"}}}"
        ",{\"name\":\"y\",\"op\":\"Identity\",\"input\":[\"sp:1\"]}";
    float want[4] = {2, 3, 5, 6};
    run_case(nodes, w, 2, x, "y", want, 4);
}

/* a [2,3] x b[2,3]^T */
TEST(matmul_transpose_b)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    wdef b = {"b", "[2,3]", false, 6, {1, 0, -1, 2, 1, 0}};
    const char *nodes = PH("[{\"size\":2},{\"size\":3}]") CONST("b")
        ",{\"name\":\"y\",\"op\":\"MatMul\",\"input\":[\"x\",\"b\"],"
        "\"attr\":{\"transpose_b\":{\"b\":true}}}";
    float want[4] = {1 - 3, 2 + 2, 4 - 6, 8 + 5};
    run_case(nodes, &b, 1, x, "y", want, 4);
}

/* A filter another node reads too keeps its HWIO copy (the loader transposes
 * a filter in place only when the convolution is its one reader). */
TEST(filter_read_twice)
{
    float x[2] = {1, 2}; /* [1,1,1,2] */
    wdef w[3] = {{"f", "[1,1,2,2]", false, 4, {1, 2, 3, 4}},
                 {"shp", "[4]", true, 4, {1, 1, 1, 4}},
                 {"ax", "[]", true, 1, {3}}};
    const char *nodes =
        PH("[{\"size\":1},{\"size\":1},{\"size\":1},{\"size\":2}]") CONST("f") CONST("shp")
            CONST("ax") ",{\"name\":\"c\",\"op\":\"Conv2D\",\"input\":[\"x\",\"f\"],"
                        "\"attr\":{\"strides\":{\"list\":{\"i\":[\"1\",\"1\",\"1\",\"1\"]}},"
                        "\"padding\":{\"s\":\"" S_VALID "\"}}}"
                        ",{\"name\":\"fr\",\"op\":\"Reshape\",\"input\":[\"f\",\"shp\"]}"
                        ",{\"name\":\"y\",\"op\":\"ConcatV2\",\"input\":[\"c\",\"fr\",\"ax\"],"
                        "\"attr\":{\"N\":{\"i\":\"2\"}}}";
    /* conv: out[o] = sum_i x[i] f[i][o]; then f itself in HWIO order */
    float want[6] = {1 * 1 + 2 * 3, 1 * 2 + 2 * 4, 1, 2, 3, 4};
    run_case(nodes, w, 3, x, "y", want, 6);
}

/* Conv2DBackpropInput: [output_shape, filter HWOI, x]; stride 2 spreads x over the filter. */
TEST(transposed_conv)
{
    float x[2] = {2, -1}; /* [1,1,1,2]: two input channels */
    wdef w[2] = {{"os", "[4]", true, 4, {1, 2, 2, 1}},
                 {"f", "[2,2,1,2]", false, 8, {1, 10, 2, 20, 3, 30, 4, 40}}};
    const char *nodes = PH("[{\"size\":1},{\"size\":1},{\"size\":1},{\"size\":2}]") CONST("os")
        CONST("f") ",{\"name\":\"y\",\"op\":\"Conv2DBackpropInput\",\"input\":[\"os\",\"f\",\"x\"],"
                   "\"attr\":{\"strides\":{\"list\":{\"i\":[\"1\",\"2\",\"2\",\"1\"]}},"
                   "\"padding\":{\"s\":\"" S_VALID "\"}}}";
    /* out[h][w] = sum_i x[i] * f[h][w][0][i] */
    float want[4] = {2 - 10, 4 - 20, 6 - 30, 8 - 40};
    run_case(nodes, w, 2, x, "y", want, 4);
}

TEST(gather_axis_1)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    wdef w[2] = {{"idx", "[2]", true, 2, {2, 0}}, {"ax", "[]", true, 1, {1}}};
    const char *nodes = PH("[{\"size\":2},{\"size\":3}]") CONST("idx") CONST("ax")
        ",{\"name\":\"y\",\"op\":\"GatherV2\",\"input\":[\"x\",\"idx\",\"ax\"],"
        "\"attr\":{\"batch_dims\":{\"i\":\"0\"}}}";
    float want[4] = {3, 1, 6, 4};
    run_case(nodes, w, 2, x, "y", want, 4);
}

TEST(padv2_value)
{
    float x[2] = {1, 2};
    wdef w[2] = {{"p", "[2,2]", true, 4, {0, 0, 1, 0}}, {"v", "[]", false, 1, {9}}};
    const char *nodes = PH("[{\"size\":1},{\"size\":2}]") CONST("p") CONST("v")
        ",{\"name\":\"y\",\"op\":\"PadV2\",\"input\":[\"x\",\"p\",\"v\"]}";
    float want[3] = {9, 1, 2};
    run_case(nodes, w, 2, x, "y", want, 3);
}

TEST(argmax_and_mean)
{
    float x[6] = {1, 7, 3, 9, 5, 6};
    wdef ax = {"ax", "[]", true, 1, {-1}};
    const char *nodes = PH("[{\"size\":2},{\"size\":3}]") CONST("ax")
        ",{\"name\":\"a\",\"op\":\"ArgMax\",\"input\":[\"x\",\"ax\"]}"
        ",{\"name\":\"y\",\"op\":\"Cast\",\"input\":[\"a\"],\"attr\":{\"DstT\":{\"type\":\"DT_FLOAT\"}}}";
    float want[2] = {1, 0};
    run_case(nodes, &ax, 1, x, "y", want, 2);
    const char *mean = PH("[{\"size\":2},{\"size\":3}]") CONST("ax")
        ",{\"name\":\"y\",\"op\":\"Mean\",\"input\":[\"x\",\"ax\"],\"attr\":{\"keep_dims\":{\"b\":false}}}";
    float wm[2] = {11.0f / 3, 20.0f / 3};
    run_case(mean, &ax, 1, x, "y", wm, 2);
}

TEST(tile_transpose_addn)
{
    float x[2] = {1, 2};
    wdef w[2] = {{"mul", "[2]", true, 2, {2, 1}}, {"perm", "[2]", true, 2, {1, 0}}};
    const char *nodes = PH("[{\"size\":1},{\"size\":2}]") CONST("mul") CONST("perm")
        ",{\"name\":\"t\",\"op\":\"Tile\",\"input\":[\"x\",\"mul\"]}"
        ",{\"name\":\"tr\",\"op\":\"Transpose\",\"input\":[\"t\",\"perm\"]}"
        ",{\"name\":\"y\",\"op\":\"AddN\",\"input\":[\"tr\",\"tr\",\"tr\"]}";
    float want[4] = {3, 3, 6, 6}; /* tile [[1,2],[1,2]] -> T [[1,1],[2,2]] x 3 */
    run_case(nodes, w, 2, x, "y", want, 4);
}

TEST_MAIN(T(filter_read_twice), T(pool_same_padding), T(resize_nearest_coordinate_modes), T(integer_div_floors),
          T(slice_with_size_minus_one), T(splitv_second_output), T(matmul_transpose_b),
          T(transposed_conv), T(gather_axis_1), T(padv2_value), T(argmax_and_mean),
          T(tile_transpose_addn))
