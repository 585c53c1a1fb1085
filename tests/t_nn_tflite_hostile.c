/*
 * t_nn_tflite_hostile.c - the TFLite loader on hostile input: each case
 * checks for a non-OK status and a message naming the problem; every
 * prefix and single-byte flip of a small valid model must load or fail
 * cleanly (the ASan build runs these too). Models: tests/tflite_fixture.h.
 */
#include "harness.h"
#include "tflite_fixture.h"

#include "detect/detect.h"
#include "nn/nn.h"
#include "vision/vision.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TEST(empty_and_short)
{
    tf_check_fails_bytes((const uint8_t *)"", 0, "unrecognised");
    const uint8_t hdr[8] = {0, 0, 0, 0, 'T', 'F', 'L', '3'};
    tf_check_fails_bytes(hdr, sizeof hdr, "vtable");
    const uint8_t shortb[9] = {8, 0, 0, 0, 'T', 'F', 'L', '3', 0};
    tf_check_fails_bytes(shortb, sizeof shortb, "out of bounds");
}

TEST(wrong_version)
{
    mb m;
    tf_add_model(&m);
    m.version = 2;
    tf_check_fails(&m, "schema version 2");
    mb_free(&m);
}

TEST(tensor_index_out_of_range)
{
    mb m;
    tf_add_model(&m);
    m.ops[0].in[1] = 99;
    tf_check_fails(&m, "names tensor 99 of 3");
    mb_free(&m);
    tf_add_model(&m);
    m.ops[0].out[0] = -5;
    tf_check_fails(&m, "names tensor -5");
    mb_free(&m);
    tf_add_model(&m);
    m.in[0] = 7;
    tf_check_fails(&m, "names tensor 7");
    mb_free(&m);
    tf_add_model(&m);
    m.ops[0].code_index = 4;
    tf_check_fails(&m, "opcode_index 4 of 1");
    mb_free(&m);
}

TEST(buffer_index_out_of_range)
{
    mb m;
    tf_add_model(&m);
    m.t[1].buffer = 50;
    tf_check_fails(&m, "buffer 50 of 2");
    mb_free(&m);
}

TEST(data_size_mismatch)
{
    mb m;
    tf_add_model(&m);
    m.buf_len[1] = 12; /* 3 floats for shape [4] */
    tf_check_fails(&m, "holds 12 bytes, shape and type need 16");
    mb_free(&m);
}

TEST(huge_dims)
{
    mb m;
    /* an input: nothing infers its shape, the file's is used as is */
    tf_add_model(&m);
    m.t[0].dims[0] = 1 << 30;
    m.t[0].dims[1] = 1 << 30;
    char err[512] = "";
    av_nn_model *model = NULL;
    av_nn_status st = tf_load_mb(&m, &model, err, sizeof err);
    CHECK_MSG(st != AV_NN_OK, "loaded a [2^30, 2^30] input");
    CHECK(model == NULL);
    CHECK_STR_CONTAINS(err, "'x'");
    CHECK_STR_CONTAINS(err, "exceeds");
    CHECK_EQ_INT(st, AV_NN_E_LIMIT);
    /* a constant */
    m.t[0].dims[0] = 1;
    m.t[0].dims[1] = 4;
    m.t[1].rank = 2;
    m.t[1].dims[0] = 1 << 30;
    m.t[1].dims[1] = 1 << 30;
    tf_check_fails(&m, "'c': shape [1073741824, 1073741824] exceeds");
    CHECK_EQ_INT(tf_load_mb(&m, &model, err, sizeof err), AV_NN_E_LIMIT);
    /* negative dims */
    m.t[1].rank = 1;
    m.t[1].dims[0] = -4;
    tf_check_fails(&m, "tensor 1 'c': dim 0 is -4");
    mb_free(&m);
}

TEST(rank_nine)
{
    mb m;
    tf_add_model(&m);
    m.t[2].rank = 9;
    for (int i = 0; i < 9; i++)
        m.t[2].dims[i] = 1;
    tf_check_fails(&m, "rank 9 exceeds 8");
    mb_free(&m);
}

TEST(unknown_builtin_code)
{
    mb m;
    tf_add_model(&m);
    m.codes[0] = 200;
    tf_check_fails(&m, "builtin 200");
    char err[256];
    av_nn_model *model = NULL;
    CHECK_EQ_INT(tf_load_mb(&m, &model, err, sizeof err), AV_NN_E_UNSUPPORTED);
    tf_check_fails(&m, "not supported");
    m.codes[0] = -3;
    tf_check_fails(&m, "not supported");
    mb_free(&m);
}

TEST(custom_op)
{
    mb m;
    tf_add_model(&m);
    m.codes[0] = OP_CUSTOM;
    m.custom[0] = "TFLite_Detection_PostProcess";
    tf_check_fails(&m, "CUSTOM");
    tf_check_fails(&m, "TFLite_Detection_PostProcess");
    mb_free(&m);
}

TEST(unsupported_tensor_type)
{
    mb m;
    tf_add_model(&m);
    m.t[0].type = TT_STRING;
    tf_check_fails(&m, "type STRING (5) is not supported");
    char err[256];
    av_nn_model *model = NULL;
    CHECK_EQ_INT(tf_load_mb(&m, &model, err, sizeof err), AV_NN_E_UNSUPPORTED);
    m.t[0].type = TT_F32;
    m.t[1].type = TT_STRING; /* a constant's type, read inside the operator */
    tf_check_fails(&m, "tensor 1 'c': type STRING");
    CHECK_EQ_INT(tf_load_mb(&m, &model, err, sizeof err), AV_NN_E_UNSUPPORTED);
    m.t[0].type = 77;
    tf_check_fails(&m, "(77) is not supported");
    mb_free(&m);
}

TEST(operator_reads_its_own_output)
{
    mb m;
    tf_add_model(&m);
    m.ops[0].in[0] = 2; /* y = relu(y + c) */
    tf_check_fails(&m, "cycle");
    mb_free(&m);
    /* two operators feeding each other */
    mb_init(&m);
    int x = mb_tensor_add(&m, "x", TT_F32, 1, (int32_t[]){4});
    int a = mb_tensor_add(&m, "a", TT_F32, 1, (int32_t[]){4});
    int b = mb_tensor_add(&m, "b", TT_F32, 1, (int32_t[]){4});
    mb_op_add(&m, OP_ADD, 2, (int32_t[]){x, b}, 1, (int32_t[]){a});
    mb_op_add(&m, OP_ADD, 2, (int32_t[]){a, x}, 1, (int32_t[]){b});
    mb_io(&m, 1, (int32_t[]){x}, 1, (int32_t[]){b});
    tf_check_fails(&m, "cycle");
    mb_free(&m);
}

TEST(writes_to_inputs_and_constants)
{
    mb m;
    /* an operator whose output is the graph input */
    tf_add_model(&m);
    m.ops[0].out[0] = 0;
    m.out[0] = 0;
    tf_check_fails(&m, "'x'");
    mb_free(&m);
    /* an operator whose output is a constant */
    tf_add_model(&m);
    m.ops[0].out[0] = 1;
    m.out[0] = 1;
    tf_check_fails(&m, "'c'");
    mb_free(&m);
    /* two operators writing one tensor */
    tf_add_model(&m);
    mb_op_add(&m, OP_ADD, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
    tf_check_fails(&m, "'y'");
    mb_free(&m);
}

TEST(no_outputs)
{
    mb m;
    tf_add_model(&m);
    m.no_outputs = true;
    tf_check_fails(&m, "no outputs");
    m.no_outputs = false;
    m.n_out = 0;
    tf_check_fails(&m, "no outputs");
    m.n_out = 1;
    m.ops[0].n_out = 0;
    tf_check_fails(&m, "no outputs");
    mb_free(&m);
}

TEST(no_subgraphs_or_operators)
{
    mb m;
    tf_add_model(&m);
    /* an output nothing computes */
    m.n_ops = 0;
    tf_check_fails(&m, "'y'");
    mb_free(&m);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

TEST(offsets_outside_the_file)
{
    mb m;
    tf_add_model(&m);
    size_t len;
    uint8_t *b = mb_build(&m, &len);
    uint8_t *c = malloc(len);
    CHECK(c);
    /* sanity: the bytes load as built */
    char err[256];
    av_nn_model *model = NULL;
    CHECK(av_nn_load_mem(b, len, &model, err, sizeof err) == AV_NN_OK);
    av_nn_model_free(model);
    uint32_t root = rd32(b);
    /* root offset past the end */
    memcpy(c, b, len);
    wr32(c, (uint32_t)len + 100);
    tf_check_fails_bytes(c, len, "root table: table offset");
    /* root table's vtable before the file start and after its end */
    memcpy(c, b, len);
    wr32(c + root, root + 64);
    tf_check_fails_bytes(c, len, "vtable offset");
    wr32(c + root, (uint32_t)-(int32_t)(len + 8));
    tf_check_fails_bytes(c, len, "vtable offset");
    /* a vtable slot pointing past the table's inline size */
    memcpy(c, b, len);
    uint32_t vt = (uint32_t)((int64_t)root - (int32_t)rd32(b + root));
    uint16_t tsize = (uint16_t)(c[vt + 2] | c[vt + 3] << 8);
    c[vt + 4] = (uint8_t)tsize; /* version field at the table's end */
    c[vt + 5] = (uint8_t)(tsize >> 8);
    tf_check_fails_bytes(c, len, "field version: offset");
    /* the vtable claims more bytes than the file has */
    memcpy(c, b, len);
    c[vt] = 0xfe;
    c[vt + 1] = 0xff;
    tf_check_fails_bytes(c, len, "bad vtable size");
    /* the subgraphs offset points past the end */
    memcpy(c, b, len);
    uint16_t fo = (uint16_t)(c[vt + 4 + 2 * 2] | c[vt + 5 + 2 * 2] << 8);
    CHECK(fo != 0);
    wr32(c + root + fo, (uint32_t)len);
    tf_check_fails_bytes(c, len, "subgraphs: offset");
    /* a vector whose count runs past the end */
    memcpy(c, b, len);
    uint32_t sgs = root + fo + rd32(b + root + fo);
    wr32(c + sgs, 0x40000000u);
    tf_check_fails_bytes(c, len, "subgraphs: vector length");
    free(c);
    free(b);
    mb_free(&m);
}

/* Every prefix and single-byte flip of a small valid model: no crash, clean status. */
TEST(truncations_and_flips)
{
    mb m;
    tf_add_model(&m);
    size_t len;
    uint8_t *b = mb_build(&m, &len);
    mb_free(&m);
    /* Output of the whole model on one input, to compare what a prefix loads to. */
    const float xin[4] = {1.0f, 1.0f, -3.0f, 0.5f};
    float want[4], got[4];
    {
        av_nn_model *model = NULL;
        char err[256];
        CHECK(av_nn_load_mem(b, len, &model, err, sizeof err) == AV_NN_OK);
        const void *in[1] = {xin};
        void *out[1] = {want};
        tf_run_on(model, AV_NN_BACKEND_REFERENCE, in, out);
        av_nn_model_free(model);
    }
    size_t shortest_ok = len;
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size so ASan sees overreads */
        CHECK(copy);
        memcpy(copy, b, n);
        char err[256] = "";
        av_nn_model *model = NULL;
        av_nn_status st = av_nn_load_mem(copy, n, &model, err, sizeof err);
        CHECK_MSG((st == AV_NN_OK) == (model != NULL), "prefix %zu: status %d", n, (int)st);
        if (st == AV_NN_OK) {
            /* only bytes nothing refers to were cut (the builder writes buffer 0's
             * empty table last): the model must be the same */
            if (n < shortest_ok)
                shortest_ok = n;
            const void *in[1] = {xin};
            void *out[1] = {got};
            tf_run_on(model, AV_NN_BACKEND_REFERENCE, in, out);
            CHECK_MSG(memcmp(got, want, sizeof got) == 0, "prefix %zu computes otherwise", n);
            av_nn_model_free(model);
        } else {
            CHECK_MSG(err[0], "prefix %zu: no message", n);
        }
        free(copy);
    }
    CHECK_MSG(shortest_ok + 32 >= len, "a prefix of %zu/%zu bytes loaded", shortest_ok, len);
    static const uint8_t flips[] = {0xff, 0x80, 0x01, 0x7f, 0x10};
    int loaded = 0;
    uint8_t *copy = malloc(len);
    CHECK(copy);
    for (size_t i = 0; i < len; i++)
        for (size_t k = 0; k < sizeof flips; k++) {
            memcpy(copy, b, len);
            copy[i] ^= flips[k];
            char err[256] = "";
            av_nn_model *model = NULL;
            av_nn_status st = av_nn_load_mem(copy, len, &model, err, sizeof err);
            CHECK_MSG((st == AV_NN_OK) == (model != NULL), "flip %zu: status %d", i, (int)st);
            if (st != AV_NN_OK) {
                CHECK_MSG(err[0], "flip %zu^%02x: no message", i, flips[k]);
            } else {
                /* what loads must also run (small shapes only) */
                loaded++;
                const av_nn_tensor_info *ii = av_nn_input(model, 0);
                int64_t ne = 1;
                for (int d = 0; ii && d < ii->rank; d++)
                    ne *= ii->dims[d];
                if (ii && av_nn_num_inputs(model) == 1 && av_nn_num_outputs(model) == 1 &&
                    ne <= 64) {
                    const av_nn_tensor_info *oi = av_nn_output(model, 0);
                    int64_t no = 1;
                    for (int d = 0; d < oi->rank; d++)
                        no *= oi->dims[d];
                    if (no <= 64) {
                        uint8_t inb[64 * 8] = {0}, outb[64 * 8];
                        const void *in[1] = {inb};
                        void *out[1] = {outb};
                        av_nn_ctx_opts o = {.threads = 1, .backend = AV_NN_BACKEND_REFERENCE};
                        av_nn_ctx *c = NULL;
                        if (av_nn_ctx_new(model, &o, &c, err, sizeof err) == AV_NN_OK) {
                            av_nn_run(c, in, out, err, sizeof err);
                            av_nn_ctx_free(c);
                        }
                    }
                }
                av_nn_model_free(model);
            }
        }
    CHECK(loaded > 0); /* flips of padding and of values still load */
    free(copy);
    free(b);
}
TEST_MAIN(T(empty_and_short), T(wrong_version), T(tensor_index_out_of_range),
          T(buffer_index_out_of_range), T(data_size_mismatch), T(huge_dims), T(rank_nine),
          T(unknown_builtin_code), T(custom_op), T(unsupported_tensor_type),
          T(operator_reads_its_own_output), T(writes_to_inputs_and_constants), T(no_outputs),
          T(no_subgraphs_or_operators), T(offsets_outside_the_file), T(truncations_and_flips))
