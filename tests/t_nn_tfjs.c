/*
 * t_nn_tfjs.c - the TF.js graph-model loader.
 *
 * 1. Human's CenterNet and NanoDet (models/human, fetched by scripts/setup;
 *    skipped when absent) run on bird.bmp's exact preprocessed input and are
 *    compared output by output with the TF.js cpu-backend dumps in
 *    ../shared/reference/tfjs, on the reference and the XNNPACK backends.
 * 2. Small hand-written model.json files check the lowering (filter layout,
 *    float16/uint8 dequantisation, expand/squeeze) against values computed
 *    here, and hostile files (missing or short shards, '..' paths, huge
 *    shapes, unknown ops, cycles) against clean errors.
 */
#include "harness.h"
#include "detect_fixture.h"
#include "nn/nn.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- files ---- */

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f, "cannot create %s", path);
    CHECK(fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

/* Path of models/human/<name>.json, or skip the case when setup has not fetched it. */
static const char *human_model(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "models/human/%s.json", name);
    if (access(path, R_OK) != 0)
        SKIP("models/human missing (run scripts/setup)");
    return path;
}

/* ---- comparison with the TF.js dumps ---- */

typedef struct stats {
    double max_abs;   /* max |out - ref| */
    double max_rel;   /* max |out - ref| / max(|ref|, 1e-3) */
    double range;     /* max(ref) - min(ref) */
    int64_t n;
} stats;

static stats compare(const float *out, const float *ref, int64_t n)
{
    stats s = {0};
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)out[i] - ref[i]);
        if (!(d == d))
            d = INFINITY; /* a NaN counts as the worst error */
        double r = d / fmax(fabs(ref[i]), 1e-3);
        if (d > s.max_abs)
            s.max_abs = d;
        if (r > s.max_rel)
            s.max_rel = r;
        lo = fminf(lo, ref[i]);
        hi = fmaxf(hi, ref[i]);
    }
    s.range = (double)hi - lo;
    s.n = n;
    return s;
}

/*
 * CenterNet's detections [1,100,6] = x1,y1,x2,y2,score,class of the top-100
 * heatmap peaks, in score order. Equal scores (ties, or scores that differ
 * in the last bits between engines) may come out in another order, so each
 * reference row is matched with the output row of the same class whose
 * values agree, searching rows whose score is within score_tol. Returns the
 * number of rows that matched only out of place; fails when a row matches
 * nowhere.
 */
static int match_detections(const float *out, const float *ref, int rows, double score_tol,
                            double box_tol, double *worst)
{
    int moved = 0;
    char used[256] = {0};
    CHECK(rows <= 256);
    *worst = 0;
    for (int i = 0; i < rows; i++) {
        const float *r = ref + 6 * i;
        int best = -1;
        double best_err = INFINITY;
        for (int j = 0; j < rows; j++) {
            const float *o = out + 6 * j;
            if (used[j] || o[5] != r[5] || fabs((double)o[4] - r[4]) > score_tol)
                continue;
            double e = 0;
            for (int k = 0; k < 4; k++)
                e = fmax(e, fabs((double)o[k] - r[k]));
            if (e < best_err || (e == best_err && j == i)) {
                best_err = e;
                best = j;
            }
        }
        CHECK_MSG(best >= 0 && best_err <= box_tol,
                  "detection row %d (score %.6f class %g box %.2f,%.2f,%.2f,%.2f) has no match "
                  "(best box error %.4g)",
                  i, r[4], r[5], r[0], r[1], r[2], r[3], best_err);
        used[best] = 1;
        moved += best != i;
        *worst = fmax(*worst, best_err);
    }
    return moved;
}

/*
 * Load model <name>, feed bird.bmp's reference input, run on backend be and
 * compare every output with the TF.js dump. Tolerance: the max error of an
 * output must stay below 1e-3 of its value range (the range-relative figure;
 * the element-relative max_rel is printed too).
 */
static void check_against_tfjs(const char *name, av_nn_backend be, int threads)
{
    const char *model_path = human_model(name);
    char refdir[512], p[1024];
    snprintf(p, sizeof p, "reference/tfjs/reference/%s/tensors/bird.bmp.tensors.json", name);
    snprintf(refdir, sizeof refdir, "%s", av_test_shared(p));
    *strrchr(refdir, '/') = '\0';

    char err[512];
    av_nn_model *m = NULL;
    av_nn_status st = av_nn_load(model_path, &m, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "load %s: %s", model_path, err);
    av_nn_ctx_opts o = {.threads = threads, .backend = be};
    av_nn_ctx *c = NULL;
    st = av_nn_ctx_new(m, &o, &c, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "ctx: %s", err);

    snprintf(p, sizeof p, "%s/bird.bmp.tensors.json", refdir);
    json_error_t je;
    json_t *desc = json_load_file(p, 0, &je);
    CHECK_MSG(desc, "%s: %s", p, je.text);
    json_t *files = json_object_get(desc, "files");

    int nout = av_nn_num_outputs(m);
    CHECK_EQ_INT(av_nn_num_inputs(m), 1);
    CHECK_EQ_INT(json_array_size(files), (size_t)nout + 1);
    void *in = NULL;
    float **outs = calloc((size_t)nout, sizeof *outs), **refs = calloc((size_t)nout, sizeof *refs);
    int64_t *counts = calloc((size_t)nout, sizeof *counts);
    CHECK(outs && refs && counts);
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);
        const char *role = json_string_value(json_object_get(f, "role"));
        const char *tname = json_string_value(json_object_get(f, "name"));
        json_t *shape = json_object_get(f, "shape");
        snprintf(p, sizeof p, "%s/%s", refdir, json_string_value(json_object_get(f, "file")));
        size_t len;
        void *data = av_test_read_file(p, &len);
        const av_nn_tensor_info *ti;
        int idx = 0;
        if (!strcmp(role, "input")) {
            ti = av_nn_input(m, 0);
            CHECK_STR_EQ(ti->name, tname);
            in = data;
        } else {
            idx = av_nn_find_output(m, tname);
            CHECK_MSG(idx >= 0, "model has no output '%s'", tname);
            ti = av_nn_output(m, idx);
            refs[idx] = data;
        }
        int64_t n = 1;
        CHECK_EQ_INT(ti->rank, json_array_size(shape));
        for (int d = 0; d < ti->rank; d++) {
            CHECK_EQ_INT(ti->dims[d], json_integer_value(json_array_get(shape, d)));
            n *= ti->dims[d];
        }
        CHECK_EQ_INT(ti->dtype, AV_NN_F32);
        CHECK_EQ_INT(len, (size_t)n * 4);
        if (strcmp(role, "input") != 0) {
            counts[idx] = n;
            outs[idx] = malloc((size_t)n * 4);
            CHECK(outs[idx]);
        }
    }
    const void *ins[1] = {in};
    st = av_nn_run(c, ins, (void *const *)outs, err, sizeof err);
    CHECK_MSG(st == AV_NN_OK, "run: %s", err);

    const char *bname = be == AV_NN_BACKEND_REFERENCE ? "reference" : "xnnpack";
    for (int i = 0; i < nout; i++) {
        const av_nn_tensor_info *ti = av_nn_output(m, i);
        CHECK_MSG(refs[i], "no reference dump for output '%s'", ti->name);
        if (!strcmp(ti->name, "tower_0/detections")) {
            /* scores: tolerance well above engine noise; boxes: 0.05 px of 512 */
            double worst;
            int moved = match_detections(outs[i], refs[i], 100, 1e-4, 0.05, &worst);
            stats s = compare(outs[i], refs[i], counts[i]);
            printf("    %s %s %-20s in-place max_abs %.3g; matched rows: %d moved, worst box "
                   "err %.3g px\n",
                   name, bname, ti->name, s.max_abs, moved, worst);
            continue;
        }
        stats s = compare(outs[i], refs[i], counts[i]);
        printf("    %s %s %-20s max_abs %.3g  max_rel(|ref|>=1e-3) %.3g  range %.4g  "
               "max_abs/range %.3g\n",
               name, bname, ti->name, s.max_abs, s.max_rel, s.range, s.max_abs / s.range);
        CHECK_MSG(s.max_abs <= 1e-3 * s.range, "%s: max abs error %.4g > 1e-3 x range %.4g",
                  ti->name, s.max_abs, s.range);
    }
    for (int i = 0; i < nout; i++) {
        free(outs[i]);
        free(refs[i]);
    }
    free(outs);
    free(refs);
    free(counts);
    free(in);
    json_decref(desc);
    av_nn_ctx_free(c);
    av_nn_model_free(m);
}

TEST(centernet_reference_backend_matches_tfjs)
{
    check_against_tfjs("centernet", AV_NN_BACKEND_REFERENCE, 1);
}
TEST(centernet_xnnpack_matches_tfjs) { check_against_tfjs("centernet", AV_NN_BACKEND_XNNPACK, 2); }
TEST(nanodet_reference_backend_matches_tfjs)
{
    check_against_tfjs("nanodet", AV_NN_BACKEND_REFERENCE, 1);
}
TEST(nanodet_xnnpack_matches_tfjs) { check_against_tfjs("nanodet", AV_NN_BACKEND_XNNPACK, 2); }

/* The signature's names and shapes reach the public tensor info. */
TEST(human_models_signatures)
{
    char err[512];
    av_nn_model *m = NULL;
    CHECK_MSG(av_nn_load(human_model("centernet"), &m, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_EQ_INT(av_nn_model_format(m), AV_NN_FORMAT_TFJS);
    CHECK_STR_EQ(av_nn_input(m, 0)->name, "tower_0/images");
    CHECK_EQ_INT(av_nn_input(m, 0)->dims[1], 512);
    CHECK_EQ_INT(av_nn_num_outputs(m), 3);
    int d = av_nn_find_output(m, "tower_0/detections");
    CHECK(d >= 0);
    CHECK_EQ_INT(av_nn_output(m, d)->rank, 3);
    CHECK_EQ_INT(av_nn_output(m, d)->dims[1], 100);
    CHECK_EQ_INT(av_nn_output(m, d)->dims[2], 6);
    av_nn_model_free(m);

    CHECK_MSG(av_nn_load(human_model("nanodet"), &m, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_STR_EQ(av_nn_input(m, 0)->name, "input_1:0");
    CHECK_EQ_INT(av_nn_input(m, 0)->dims[1], 3); /* NCHW, as the model expects */
    CHECK_EQ_INT(av_nn_num_outputs(m), 6);
    d = av_nn_find_output(m, "Identity_3:0");
    CHECK(d >= 0);
    CHECK_EQ_INT(av_nn_output(m, d)->dims[1], 2704);
    CHECK_EQ_INT(av_nn_output(m, d)->dims[2], 44);
    av_nn_model_free(m);
}

/* ---- small hand-written models ---- */

/* Write model.json (text) and shard w.bin (bytes) into a fresh folder; returns the json path. */
static const char *write_model(const char *json, const void *shard, size_t shard_len)
{
    static char path[1024];
    const char *dir = av_test_tmpdir();
    write_file(dir, "model.json", json, strlen(json));
    if (shard)
        write_file(dir, "w.bin", shard, shard_len);
    snprintf(path, sizeof path, "%s/model.json", dir);
    return path;
}

static uint16_t f16(float f)
{
    /* exact for the small values used here (no rounding needed) */
    uint32_t b;
    memcpy(&b, &f, 4);
    uint32_t sign = (b >> 16) & 0x8000, exp = (b >> 23) & 0xff, man = b & 0x7fffff;
    if (exp == 0)
        return (uint16_t)sign;
    return (uint16_t)(sign | ((exp - 112) << 10) | (man >> 13));
}

#define NODE_PH(name, shape)                                                                     \
    "{\"name\":\"" name "\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},"  \
    "\"shape\":{\"shape\":{\"dim\":" shape "}}}}"
#define NODE_CONST(name) "{\"name\":\"" name "\",\"op\":\"Const\"}"
#define B64_NHWC "TkhXQw=="
#define B64_SAME "U0FNRQ=="
#define B64_VALID "VkFMSUQ="
#define B64_BIASADD "Qmlhc0FkZA=="
#define B64_RELU "UmVsdQ=="

/*
 * 1x3x3x2 input, _FusedConv2D 2x2 VALID filter (HWIO, float16) with BiasAdd
 * (uint8 affine) and Relu: checks the HWIO->OHWI rewrite and both
 * dequantisations against a direct computation.
 */
TEST(fused_conv_filter_layout_and_dequant)
{
    enum { H = 3, W = 3, C = 2, K = 2, O = 3 };
    float filt[K][K][C][O], bias[O];
    uint8_t shard[K * K * C * O * 2 + O];
    int at = 0;
    for (int i = 0; i < K * K * C * O; i++) {
        float v = (float)((i * 7) % 11 - 5) * 0.25f;
        ((float *)filt)[i] = v;
        uint16_t h = f16(v);
        shard[at++] = (uint8_t)(h & 0xff);
        shard[at++] = (uint8_t)(h >> 8);
    }
    for (int o = 0; o < O; o++) { /* q * 0.5 + (-1) */
        uint8_t q = (uint8_t)(3 * o + 1);
        shard[at++] = q;
        bias[o] = q * 0.5f - 1.0f;
    }
    const char *json =
        "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":["
        NODE_PH("x", "[{\"size\":\"1\"},{\"size\":\"3\"},{\"size\":\"3\"},{\"size\":\"2\"}]") ","
        NODE_CONST("f") "," NODE_CONST("b") ","
        "{\"name\":\"conv\",\"op\":\"_FusedConv2D\",\"input\":[\"x\",\"f\",\"b\",\"^x\"],"
        "\"attr\":{\"data_format\":{\"s\":\"" B64_NHWC "\"},\"padding\":{\"s\":\"" B64_VALID "\"},"
        "\"strides\":{\"list\":{\"i\":[\"1\",\"1\",\"1\",\"1\"]}},"
        "\"fused_ops\":{\"list\":{\"s\":[\"" B64_BIASADD "\",\"" B64_RELU "\"]}},"
        "\"num_args\":{\"i\":\"1\"}}},"
        "{\"name\":\"y\",\"op\":\"Identity\",\"input\":[\"conv:0\"]}]},"
        "\"signature\":{\"inputs\":{\"x:0\":{\"name\":\"x:0\"}},\"outputs\":{\"y:0\":{\"name\":\"y:0\"}}},"
        "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":["
        "{\"name\":\"f\",\"shape\":[2,2,2,3],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"float16\"}},"
        "{\"name\":\"b\",\"shape\":[3],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"uint8\","
        "\"scale\":0.5,\"min\":-1}}]}]}";
    const char *path = write_model(json, shard, sizeof shard);
    char err[512];
    av_nn_model *m = NULL;
    CHECK_MSG(av_nn_load(path, &m, err, sizeof err) == AV_NN_OK, "%s", err);
    CHECK_STR_EQ(av_nn_input(m, 0)->name, "x:0");
    CHECK_STR_EQ(av_nn_output(m, 0)->name, "y:0");
    const av_nn_tensor_info *oi = av_nn_output(m, 0);
    CHECK_EQ_INT(oi->rank, 4);
    CHECK_EQ_INT(oi->dims[1], 2);
    CHECK_EQ_INT(oi->dims[3], O);
    float x[H][W][C], y[2][2][O], want[2][2][O];
    for (int i = 0; i < H * W * C; i++)
        ((float *)x)[i] = (float)(i % 5) - 1.5f;
    for (int oy = 0; oy < 2; oy++)
        for (int ox = 0; ox < 2; ox++)
            for (int o = 0; o < O; o++) {
                float s = bias[o];
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++)
                        for (int c = 0; c < C; c++)
                            s += x[oy + ky][ox + kx][c] * filt[ky][kx][c][o];
                want[oy][ox][o] = s > 0 ? s : 0;
            }
    for (int b = 0; b < 2; b++) {
        av_nn_ctx_opts o = {.threads = 1,
                            .backend = b ? AV_NN_BACKEND_XNNPACK : AV_NN_BACKEND_REFERENCE};
        av_nn_ctx *c = NULL;
        CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "%s", err);
        const void *ins[1] = {x};
        void *outs[1] = {y};
        CHECK_MSG(av_nn_run(c, ins, outs, err, sizeof err) == AV_NN_OK, "%s", err);
        for (int i = 0; i < 2 * 2 * O; i++)
            CHECK_NEAR(((float *)y)[i], ((float *)want)[i], 1e-5);
        av_nn_ctx_free(c);
    }
    av_nn_model_free(m);
}

/* ExpandDims (-1 and 1), Squeeze and Pack lower to strided slices with the right shapes. */
TEST(expand_squeeze_pack_shapes)
{
    int32_t ints[3] = {-1, 1, 0};
    const char *json =
        "{\"modelTopology\":{\"node\":["
        NODE_PH("x", "[{\"size\":\"2\"},{\"size\":\"3\"}]") ","
        NODE_CONST("m1") "," NODE_CONST("p1") "," NODE_CONST("z") ","
        "{\"name\":\"e1\",\"op\":\"ExpandDims\",\"input\":[\"x\",\"m1\"]},"
        "{\"name\":\"e2\",\"op\":\"ExpandDims\",\"input\":[\"x\",\"p1\"]},"
        "{\"name\":\"sq\",\"op\":\"Squeeze\",\"input\":[\"e2\"],"
        "\"attr\":{\"squeeze_dims\":{\"list\":{\"i\":[\"1\"]}}}},"
        "{\"name\":\"sq2\",\"op\":\"Squeeze\",\"input\":[\"e1\"],"
        "\"attr\":{\"squeeze_dims\":{\"list\":{\"i\":[\"-1\"]}}}},"
        "{\"name\":\"pk\",\"op\":\"Pack\",\"input\":[\"sq\",\"sq2\"],"
        "\"attr\":{\"axis\":{\"i\":\"1\"},\"N\":{\"i\":\"2\"}}},"
        "{\"name\":\"unused\",\"op\":\"NoSuchOp\",\"input\":[\"x\"]},"
        "{\"name\":\"sink\",\"op\":\"Identity\",\"input\":[\"z\"]}]},"
        "\"signature\":{\"outputs\":{\"e1\":{},\"e2\":{},\"sq\":{},\"pk\":{}}},"
        "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":["
        "{\"name\":\"m1\",\"shape\":[],\"dtype\":\"int32\"},"
        "{\"name\":\"p1\",\"shape\":[],\"dtype\":\"int32\"},"
        "{\"name\":\"z\",\"shape\":[1],\"dtype\":\"int32\"}]}]}";
    const char *path = write_model(json, ints, sizeof ints);
    char err[512];
    av_nn_model *m = NULL;
    /* the unknown op feeds no output: TF.js would never run it, neither do we */
    CHECK_MSG(av_nn_load(path, &m, err, sizeof err) == AV_NN_OK, "%s", err);
    static const struct {
        const char *name;
        int rank;
        int64_t dims[3];
    } want[] = {{"e1", 3, {2, 3, 1}}, {"e2", 3, {2, 1, 3}}, {"sq", 2, {2, 3}}, {"pk", 3, {2, 2, 3}}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int k = av_nn_find_output(m, want[i].name);
        CHECK_MSG(k >= 0, "no output %s", want[i].name);
        const av_nn_tensor_info *ti = av_nn_output(m, k);
        CHECK_EQ_INT(ti->rank, want[i].rank);
        for (int d = 0; d < want[i].rank; d++)
            CHECK_EQ_INT(ti->dims[d], want[i].dims[d]);
    }
    float x[6] = {1, 2, 3, 4, 5, 6}, pk[12], e1[6], e2[6], sq[6];
    void *outs[4];
    outs[av_nn_find_output(m, "e1")] = e1;
    outs[av_nn_find_output(m, "e2")] = e2;
    outs[av_nn_find_output(m, "sq")] = sq;
    outs[av_nn_find_output(m, "pk")] = pk;
    av_nn_ctx_opts o = {.threads = 1, .backend = AV_NN_BACKEND_REFERENCE};
    av_nn_ctx *c = NULL;
    CHECK_MSG(av_nn_ctx_new(m, &o, &c, err, sizeof err) == AV_NN_OK, "%s", err);
    const void *ins[1] = {x};
    CHECK_MSG(av_nn_run(c, ins, outs, err, sizeof err) == AV_NN_OK, "%s", err);
    for (int i = 0; i < 6; i++) {
        CHECK_NEAR(e1[i], x[i], 0);
        CHECK_NEAR(sq[i], x[i], 0);
    }
    /* pk[r][j][k] = (j ? sq2 : sq)[r][k] = x[r][k] */
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++)
                CHECK_NEAR(pk[(r * 2 + j) * 3 + k], x[r * 3 + k], 0);
    av_nn_ctx_free(c);
    av_nn_model_free(m);
}

/* ---- hostile files ---- */

#define GOOD_NODES                                                                               \
    "\"modelTopology\":{\"node\":[" NODE_PH("x", "[{\"size\":\"1\"},{\"size\":\"4\"}]") ","     \
    NODE_CONST("w") ",{\"name\":\"y\",\"op\":\"Add\",\"input\":[\"x\",\"w\"]}]}"

static av_nn_status load_err(const char *json, const void *shard, size_t shard_len, char *err,
                             size_t errlen)
{
    const char *path = write_model(json, shard, shard_len);
    av_nn_model *m = (av_nn_model *)&err; /* must be reset to NULL on failure */
    av_nn_status st = av_nn_load(path, &m, err, errlen);
    if (st == AV_NN_OK)
        av_nn_model_free(m);
    else
        CHECK(m == NULL);
    return st;
}

TEST(good_small_model_loads)
{
    float w[4] = {1, 2, 3, 4};
    char err[512];
    CHECK_MSG(load_err("{" GOOD_NODES ",\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":"
                       "[{\"name\":\"w\",\"shape\":[4],\"dtype\":\"float32\"}]}]}",
                       w, sizeof w, err, sizeof err) == AV_NN_OK,
              "%s", err);
}

TEST(missing_shard_is_io_error)
{
    char err[512];
    av_nn_status st = load_err("{" GOOD_NODES ",\"weightsManifest\":[{\"paths\":[\"nope.bin\"],"
                               "\"weights\":[{\"name\":\"w\",\"shape\":[4],\"dtype\":\"float32\"}]}]}",
                               NULL, 0, err, sizeof err);
    CHECK_EQ_INT(st, AV_NN_E_IO);
    CHECK_STR_CONTAINS(err, "nope.bin");
}

TEST(short_shard_is_format_error)
{
    float w[3] = {1, 2, 3};
    char err[512];
    av_nn_status st = load_err("{" GOOD_NODES ",\"weightsManifest\":[{\"paths\":[\"w.bin\"],"
                               "\"weights\":[{\"name\":\"w\",\"shape\":[4],\"dtype\":\"float32\"}]}]}",
                               w, sizeof w, err, sizeof err);
    CHECK_EQ_INT(st, AV_NN_E_FORMAT);
    CHECK_STR_CONTAINS(err, "weight 'w'");
    CHECK_STR_CONTAINS(err, "hold 12 bytes");
}

TEST(paths_outside_the_model_folder_are_rejected)
{
    static const char *bad[] = {"../w.bin", "a/../../w.bin", "/etc/passwd", "..", "a/..", ""};
    float w[4] = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[1024], err[512];
        snprintf(json, sizeof json,
                 "{" GOOD_NODES ",\"weightsManifest\":[{\"paths\":[\"%s\"],\"weights\":"
                 "[{\"name\":\"w\",\"shape\":[4],\"dtype\":\"float32\"}]}]}",
                 bad[i]);
        av_nn_status st = load_err(json, w, sizeof w, err, sizeof err);
        CHECK_MSG(st == AV_NN_E_FORMAT, "path '%s' gave %d: %s", bad[i], st, err);
        CHECK_STR_CONTAINS(err, "inside the model folder");
    }
}

TEST(huge_shapes_are_limit_errors)
{
    float w[4] = {0};
    char err[512];
    av_nn_status st = load_err("{" GOOD_NODES ",\"weightsManifest\":[{\"paths\":[\"w.bin\"],"
                               "\"weights\":[{\"name\":\"w\",\"shape\":[65536,65536,65536],"
                               "\"dtype\":\"float32\"}]}]}",
                               w, sizeof w, err, sizeof err);
    CHECK_EQ_INT(st, AV_NN_E_LIMIT);
    CHECK_STR_CONTAINS(err, "weight 'w'");
    /* fits the element limit but not the shard */
    st = load_err("{" GOOD_NODES ",\"weightsManifest\":[{\"paths\":[\"w.bin\"],"
                  "\"weights\":[{\"name\":\"w\",\"shape\":[1000000000],\"dtype\":\"float32\"}]}]}",
                  w, sizeof w, err, sizeof err);
    CHECK_EQ_INT(st, AV_NN_E_FORMAT);
    st = load_err("{" GOOD_NODES ",\"weightsManifest\":[{\"paths\":[\"w.bin\"],"
                  "\"weights\":[{\"name\":\"w\",\"shape\":[-4],\"dtype\":\"float32\"}]}]}",
                  w, sizeof w, err, sizeof err);
    CHECK_EQ_INT(st, AV_NN_E_FORMAT);
    /* a huge placeholder shape is caught at finalize (elements limit) */
    st = load_err("{\"modelTopology\":{\"node\":[" NODE_PH(
                      "x", "[{\"size\":\"99999999999\"},{\"size\":\"4\"}]") ","
                      "{\"name\":\"y\",\"op\":\"Relu\",\"input\":[\"x\"]}]}}",
                  NULL, 0, err, sizeof err);
    CHECK_MSG(st != AV_NN_OK, "huge input accepted");
}

TEST(unknown_op_names_node_and_op)
{
    char err[512];
    av_nn_status st = load_err("{\"modelTopology\":{\"node\":[" NODE_PH("x", "[{\"size\":\"4\"}]")
                               ",{\"name\":\"odd\",\"op\":\"FancyOp\",\"input\":[\"x\"]}]}}",
                               NULL, 0, err, sizeof err);
    CHECK_EQ_INT(st, AV_NN_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(err, "'odd'");
    CHECK_STR_CONTAINS(err, "FancyOp");
}

TEST(cycles_are_format_errors)
{
    char err[512];
    av_nn_status st = load_err("{\"modelTopology\":{\"node\":[" NODE_PH("x", "[{\"size\":\"4\"}]")
                               ",{\"name\":\"a\",\"op\":\"Add\",\"input\":[\"x\",\"b\"]},"
                               "{\"name\":\"b\",\"op\":\"Relu\",\"input\":[\"a\"]},"
                               "{\"name\":\"out\",\"op\":\"Relu\",\"input\":[\"b\"]}]}}",
                               NULL, 0, err, sizeof err);
    CHECK_EQ_INT(st, AV_NN_E_FORMAT);
    CHECK_STR_CONTAINS(err, "cycle");
    /* a self loop with no other sink: no outputs at all */
    st = load_err("{\"modelTopology\":{\"node\":[{\"name\":\"a\",\"op\":\"Relu\",\"input\":[\"a\"]}]}}",
                  NULL, 0, err, sizeof err);
    CHECK_EQ_INT(st, AV_NN_E_FORMAT);
    st = load_err("{\"modelTopology\":{\"node\":[{\"name\":\"a\",\"op\":\"Relu\",\"input\":[\"a\"]}]},"
                  "\"signature\":{\"outputs\":{\"a\":{}}}}",
                  NULL, 0, err, sizeof err);
    CHECK_EQ_INT(st, AV_NN_E_FORMAT);
    CHECK_STR_CONTAINS(err, "cycle");
}

TEST(malformed_structure_is_rejected)
{
    static const char *bad[] = {
        "{\"modelTopology\":{\"node\":[",                                   /* bad JSON */
        "{\"modelTopology\":{\"node\":[]}}",                                 /* no nodes */
        "{\"modelTopology\":{\"node\":[{\"name\":\"a\"}]}}",                 /* no op */
        "{\"modelTopology\":{\"node\":[" NODE_PH("x", "[{\"size\":\"4\"}]") "," NODE_PH(
            "x", "[{\"size\":\"4\"}]") "]}}",                                /* duplicate name */
        "{\"modelTopology\":{\"node\":[" NODE_PH("x", "[{\"size\":\"4\"}]")
        ",{\"name\":\"y\",\"op\":\"Relu\",\"input\":[\"nobody\"]}]}}",       /* dangling input */
        "{\"modelTopology\":{\"node\":[" NODE_PH("x", "[{\"size\":\"4\"}]")
        ",{\"name\":\"y\",\"op\":\"Relu\",\"input\":[\"x:7\"]}]}}",          /* bad port */
        "{\"modelTopology\":{\"node\":[" NODE_PH("x", "[{\"size\":\"4\"}]")
        ",{\"name\":\"y\",\"op\":\"Relu\",\"input\":[\"x\"]}]},\"signature\":{\"outputs\":"
        "{\"zz:0\":{}}}}",                                                   /* unknown output */
        "{\"modelTopology\":{\"node\":[" NODE_CONST("c") ",{\"name\":\"y\",\"op\":\"Relu\","
        "\"input\":[\"c\"]}]}}",                                             /* const w/o weight */
        "{\"modelTopology\":{\"model_config\":{}}}",                         /* layers model */
        "[1,2,3]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        av_nn_status st = load_err(bad[i], NULL, 0, err, sizeof err);
        CHECK_MSG(st != AV_NN_OK, "case %zu accepted", i);
        CHECK_MSG(err[0] != '\0', "case %zu: no message", i);
    }
}

TEST_MAIN(T(human_models_signatures), T(centernet_reference_backend_matches_tfjs),
          T(centernet_xnnpack_matches_tfjs), T(nanodet_reference_backend_matches_tfjs),
          T(nanodet_xnnpack_matches_tfjs), T(fused_conv_filter_layout_and_dequant),
          T(expand_squeeze_pack_shapes), T(good_small_model_loads), T(missing_shard_is_io_error),
          T(short_shard_is_format_error), T(paths_outside_the_model_folder_are_rejected),
          T(huge_shapes_are_limit_errors), T(unknown_op_names_node_and_op),
          T(cycles_are_format_errors), T(malformed_structure_is_rejected))
