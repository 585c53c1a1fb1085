/*
 * pb.h - a small protobuf wire-format reader (internal to src/nn).
 *
 * No generated code and no schema: the caller walks the fields of one
 * message with av_nn__pb_next() and switches on the field number. Every
 * length is checked against the enclosing message; nested messages are
 * opened with av_nn__pb_sub(), which enforces a nesting depth limit so a
 * hostile file cannot drive unbounded recursion. Nothing is copied: LEN
 * payloads point into the caller's buffer, which must outlive the reader.
 *
 * Repeated numeric fields come "packed" (one LEN field holding many values)
 * or unpacked (one field per value); av_nn__pb_iter reads both the same way.
 */
#ifndef AV_NN_PB_H
#define AV_NN_PB_H

#include "nn/nn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AV_NN_PB_MAX_DEPTH 32

typedef enum av_nn__pb_wire {
    AV_NN_PB_VARINT = 0,
    AV_NN_PB_I64 = 1,
    AV_NN_PB_LEN = 2,
    AV_NN_PB_I32 = 5
} av_nn__pb_wire;

typedef struct av_nn__pb {
    const uint8_t *base; /* start of the whole file: offsets in messages are from here */
    const uint8_t *p, *end;
    int depth;
} av_nn__pb;

typedef struct av_nn__pb_field {
    uint32_t num;        /* field number */
    av_nn__pb_wire wire;
    uint64_t u;          /* VARINT value, or the raw bits of I32/I64 */
    const uint8_t *data; /* LEN payload (borrowed from the buffer) */
    size_t len;
    size_t off;          /* byte offset of the field's tag from base */
} av_nn__pb_field;

/* Reader over the whole buffer buf[0..len) (depth 0). */
void av_nn__pb_init(av_nn__pb *r, const uint8_t *buf, size_t len);

/*
 * Read the next field of r's message. Returns 1 with *f filled, 0 at the end
 * of the message, -1 on malformed input (err names the byte offset; groups,
 * reserved wire types, truncated varints and lengths past the end of the
 * message are all malformed).
 */
int av_nn__pb_next(av_nn__pb *r, av_nn__pb_field *f, char *err, size_t errlen);

/*
 * Open the LEN field f (read from r) as a nested message. Fails (returns
 * false, err written) when f is not LEN or the nesting limit is reached.
 */
bool av_nn__pb_sub(const av_nn__pb *r, const av_nn__pb_field *f, av_nn__pb *sub, char *err,
                   size_t errlen);

/* Scalar encodings of repeated numeric fields. */
typedef enum av_nn__pb_kind {
    AV_NN_PB_K_VARINT = 0, /* int32/int64/uint64/bool/enum (value as uint64 bits) */
    AV_NN_PB_K_FIXED32,    /* float, fixed32 (raw 32 bits) */
    AV_NN_PB_K_FIXED64     /* double, fixed64 (raw 64 bits) */
} av_nn__pb_kind;

typedef struct av_nn__pb_iter {
    const uint8_t *p, *end; /* packed payload still to read */
    uint64_t single;        /* the value of an unpacked field */
    int n_single;           /* 1 until an unpacked value is consumed */
    av_nn__pb_kind kind;
    size_t off;             /* offset of the payload from base, for messages */
    const uint8_t *base;
} av_nn__pb_iter;

/*
 * Start iterating the values that field f (of reader r) contributes to a
 * repeated field of the given kind. Fails when the wire type matches neither
 * the packed nor the unpacked encoding of kind.
 */
bool av_nn__pb_iter_init(av_nn__pb_iter *it, const av_nn__pb *r, const av_nn__pb_field *f,
                         av_nn__pb_kind kind, char *err, size_t errlen);
/* 1 with *v set, 0 at the end, -1 when a packed payload is malformed. */
int av_nn__pb_iter_next(av_nn__pb_iter *it, uint64_t *v, char *err, size_t errlen);
/*
 * Number of values the iterator will yield, without consuming them; -1 when
 * malformed. FIXED kinds need a payload that is a multiple of the width.
 */
int64_t av_nn__pb_iter_count(const av_nn__pb_iter *it, char *err, size_t errlen);

/* Bit-cast helpers for FIXED32 / FIXED64 values. */
float av_nn__pb_f32(uint64_t bits);
double av_nn__pb_f64(uint64_t bits);

#endif
