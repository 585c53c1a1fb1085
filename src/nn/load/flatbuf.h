/*
 * flatbuf.h - a small, bounds-checked FlatBuffers reader (internal to src/nn).
 *
 * Only what the TFLite loader needs: the root table, vtables, scalar fields,
 * sub-tables, vectors (of scalars and of tables), strings and unions (a u8
 * type field plus a table field). No generated code: the caller names
 * fields by their schema id.
 *
 * Every offset read from the buffer is checked against its length before it
 * is followed, and every vector's byte size against the bytes left after it,
 * so a hostile file yields `false` plus a message, never an out-of-bounds
 * read. Offsets are followed one at a time on the caller's request (no
 * recursion), so offset cycles cannot loop.
 *
 * Messages read "<ctx>: <field>: <what went wrong>", where ctx is a
 * caller-maintained context ("subgraph 0 tensor 17") and field the name the
 * caller passes. Multi-byte values are little-endian in the file and are
 * assembled byte by byte, so no alignment is assumed.
 */
#ifndef AV_NN_FLATBUF_H
#define AV_NN_FLATBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct av_nn__fb {
    const uint8_t *buf; /* borrowed; must outlive every table/vector read from it */
    size_t len;
    char ctx[128]; /* prefix of error messages, set by the caller */
    char *err;     /* caller's message buffer (may be NULL) */
    size_t errlen;
} av_nn__fb;

/* A table: its position and its validated vtable. present=false: field absent. */
typedef struct av_nn__fb_table {
    bool present;
    size_t pos;       /* byte offset of the table in buf */
    size_t vt;        /* byte offset of its vtable */
    uint16_t vt_size; /* vtable bytes (4 + 2 per field slot) */
    uint16_t size;    /* inline bytes of the table (fields must lie within) */
} av_nn__fb_table;

/* A vector: its element count and the offset of element 0 (bytes validated). */
typedef struct av_nn__fb_vec {
    bool present;
    size_t data;    /* byte offset of element 0 */
    uint32_t n;     /* element count */
    size_t elem;    /* element size in bytes (4 for a vector of tables) */
} av_nn__fb_vec;

/* Set up a reader over buf[0..len) reporting into err. */
void av_nn__fb_init(av_nn__fb *fb, const void *buf, size_t len, char *err, size_t errlen);
/* printf into fb->ctx (the message prefix). */
void av_nn__fb_ctx(av_nn__fb *fb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write "<ctx>: <message>" into fb->err; returns false for `return av_nn__fb_error(...)`. */
bool av_nn__fb_error(av_nn__fb *fb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The root table (uoffset at byte 0). */
bool av_nn__fb_root(av_nn__fb *fb, av_nn__fb_table *out);

/*
 * Scalar fields. A field absent from the vtable yields def. A field whose
 * bytes fall outside the table is an error. `name` names the field in messages.
 */
bool av_nn__fb_u8(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name, uint8_t def,
                  uint8_t *out);
bool av_nn__fb_i8(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name, int8_t def,
                  int8_t *out);
bool av_nn__fb_bool(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name, bool def,
                    bool *out);
bool av_nn__fb_i32(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name, int32_t def,
                   int32_t *out);
bool av_nn__fb_u32(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name, uint32_t def,
                   uint32_t *out);
bool av_nn__fb_u64(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name, uint64_t def,
                   uint64_t *out);
bool av_nn__fb_f32(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name, float def,
                   float *out);

/* Offset fields. Absent: out->present = false and true is returned. */
bool av_nn__fb_table_field(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name,
                           av_nn__fb_table *out);
/* elem: element size in bytes (1, 4, 8; 4 for vectors of tables or strings). */
bool av_nn__fb_vec_field(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name,
                         size_t elem, av_nn__fb_vec *out);
/*
 * String field: *s points into the buffer (NUL-terminated, checked), *n is its
 * length. Absent: *s = NULL, *n = 0.
 */
bool av_nn__fb_string_field(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name,
                            const char **s, size_t *n);

/* Element i (< v->n, checked) of a vector of tables. */
bool av_nn__fb_vec_table(av_nn__fb *fb, const av_nn__fb_vec *v, uint32_t i, const char *name,
                         av_nn__fb_table *out);

/* Elements of validated scalar vectors; i must be < v->n (caller's loop bound). */
uint8_t av_nn__fb_vec_u8(const av_nn__fb *fb, const av_nn__fb_vec *v, uint32_t i);
int32_t av_nn__fb_vec_i32(const av_nn__fb *fb, const av_nn__fb_vec *v, uint32_t i);
int64_t av_nn__fb_vec_i64(const av_nn__fb *fb, const av_nn__fb_vec *v, uint32_t i);
float av_nn__fb_vec_f32(const av_nn__fb *fb, const av_nn__fb_vec *v, uint32_t i);

#endif
