/*
 * flatbuf.c - bounds-checked FlatBuffers access (see flatbuf.h).
 *
 * Layout reminders (FlatBuffers binary format):
 *   root      u32 uoffset at byte 0 -> root table
 *   table     i32 soffset at its start; vtable = table - soffset
 *   vtable    u16 vtable bytes, u16 table inline bytes, u16 field offsets
 *             (relative to the table; 0 = field absent)
 *   offsets   u32, relative to where they are stored, always forward
 *   vector    u32 count, then the elements
 *   string    u32 length, bytes, NUL
 * All arithmetic is done in uint64_t so nothing wraps on 32-bit size_t.
 */
#include "nn/load/flatbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void av_nn__fb_init(av_nn__fb *fb, const void *buf, size_t len, char *err, size_t errlen)
{
    fb->buf = buf;
    fb->len = len;
    fb->ctx[0] = '\0';
    fb->err = err;
    fb->errlen = errlen;
}

void av_nn__fb_ctx(av_nn__fb *fb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fb->ctx, sizeof fb->ctx, fmt, ap);
    va_end(ap);
}

bool av_nn__fb_error(av_nn__fb *fb, const char *fmt, ...)
{
    if (!fb->err || !fb->errlen)
        return false;
    int n = snprintf(fb->err, fb->errlen, "%s%s", fb->ctx, fb->ctx[0] ? ": " : "");
    if (n < 0 || (size_t)n >= fb->errlen)
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fb->err + n, fb->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

/* true when [pos, pos+n) lies inside the buffer */
static bool in_bounds(const av_nn__fb *fb, uint64_t pos, uint64_t n)
{
    return pos <= fb->len && n <= fb->len - pos;
}

/* Validate the table at pos and its vtable. */
static bool open_table(av_nn__fb *fb, uint64_t pos, const char *name, av_nn__fb_table *out)
{
    memset(out, 0, sizeof *out);
    if (!in_bounds(fb, pos, 4))
        return av_nn__fb_error(fb, "%s: table offset %llu out of bounds (file %zu bytes)", name,
                               (unsigned long long)pos, fb->len);
    int32_t so = (int32_t)rd32(fb->buf + pos);
    int64_t vt = (int64_t)pos - (int64_t)so;
    if (vt < 0 || !in_bounds(fb, (uint64_t)vt, 4))
        return av_nn__fb_error(fb, "%s: vtable offset %lld out of bounds", name, (long long)vt);
    uint16_t vt_size = rd16(fb->buf + vt), size = rd16(fb->buf + vt + 2);
    if (vt_size < 4 || (vt_size & 1) || !in_bounds(fb, (uint64_t)vt, vt_size))
        return av_nn__fb_error(fb, "%s: bad vtable size %u at offset %lld", name, vt_size,
                               (long long)vt);
    if (size < 4 || !in_bounds(fb, pos, size))
        return av_nn__fb_error(fb, "%s: table size %u at offset %llu out of bounds", name, size,
                               (unsigned long long)pos);
    out->present = true;
    out->pos = (size_t)pos;
    out->vt = (size_t)vt;
    out->vt_size = vt_size;
    out->size = size;
    return true;
}

bool av_nn__fb_root(av_nn__fb *fb, av_nn__fb_table *out)
{
    if (fb->len < 8)
        return av_nn__fb_error(fb, "file too short (%zu bytes)", fb->len);
    return open_table(fb, rd32(fb->buf), "root table", out);
}

/*
 * Locate field id of t holding sz bytes. *pos = 0 when the field is absent
 * (offset 0 can never be a field: the soffset lives there).
 */
static bool field_pos(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name,
                      size_t sz, size_t *pos)
{
    *pos = 0;
    if (!t->present || id < 0)
        return true;
    uint32_t slot = 4 + 2 * (uint32_t)id;
    if (slot + 2 > t->vt_size)
        return true; /* table written by an older schema: field absent */
    uint16_t fo = rd16(fb->buf + t->vt + slot);
    if (fo == 0)
        return true;
    if (fo < 4 || (uint32_t)fo + sz > t->size)
        return av_nn__fb_error(fb, "field %s: offset %u outside table of %u bytes", name, fo,
                               t->size);
    *pos = t->pos + fo;
    return true;
}

#define SCALAR_GETTER(fn, type, sz, expr)                                                    \
    bool fn(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name, type def,     \
            type *out)                                                                       \
    {                                                                                        \
        size_t p;                                                                            \
        *out = def;                                                                          \
        if (!field_pos(fb, t, id, name, sz, &p))                                             \
            return false;                                                                    \
        if (p) {                                                                             \
            const uint8_t *b = fb->buf + p;                                                  \
            *out = (expr);                                                                   \
        }                                                                                    \
        return true;                                                                         \
    }

SCALAR_GETTER(av_nn__fb_u8, uint8_t, 1, b[0])
SCALAR_GETTER(av_nn__fb_i8, int8_t, 1, (int8_t)b[0])
SCALAR_GETTER(av_nn__fb_bool, bool, 1, b[0] != 0)
SCALAR_GETTER(av_nn__fb_i32, int32_t, 4, (int32_t)rd32(b))
SCALAR_GETTER(av_nn__fb_u32, uint32_t, 4, rd32(b))
SCALAR_GETTER(av_nn__fb_u64, uint64_t, 8, rd64(b))

bool av_nn__fb_f32(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name, float def,
                   float *out)
{
    size_t p;
    *out = def;
    if (!field_pos(fb, t, id, name, 4, &p))
        return false;
    if (p) {
        uint32_t bits = rd32(fb->buf + p);
        memcpy(out, &bits, sizeof bits);
    }
    return true;
}

/* Follow the uoffset stored at byte p; *target must leave room for `need` bytes. */
static bool follow(av_nn__fb *fb, size_t p, const char *name, uint64_t need, uint64_t *target)
{
    uint64_t tgt = (uint64_t)p + rd32(fb->buf + p);
    if (!in_bounds(fb, tgt, need))
        return av_nn__fb_error(fb, "%s: offset %llu out of bounds (file %zu bytes)", name,
                               (unsigned long long)tgt, fb->len);
    *target = tgt;
    return true;
}

bool av_nn__fb_table_field(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name,
                           av_nn__fb_table *out)
{
    size_t p;
    uint64_t tgt;
    memset(out, 0, sizeof *out);
    if (!field_pos(fb, t, id, name, 4, &p))
        return false;
    if (!p)
        return true;
    if (!follow(fb, p, name, 4, &tgt))
        return false;
    return open_table(fb, tgt, name, out);
}

/* Validate the vector whose length word is at byte v. */
static bool open_vec(av_nn__fb *fb, uint64_t v, const char *name, size_t elem, av_nn__fb_vec *out)
{
    uint32_t n = rd32(fb->buf + v);
    uint64_t bytes = (uint64_t)n * elem;
    if (!in_bounds(fb, v + 4, bytes))
        return av_nn__fb_error(fb, "%s: vector length %u (x%zu bytes) exceeds the file", name, n,
                               elem);
    out->present = true;
    out->data = (size_t)(v + 4);
    out->n = n;
    out->elem = elem;
    return true;
}

bool av_nn__fb_vec_field(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name,
                         size_t elem, av_nn__fb_vec *out)
{
    size_t p;
    uint64_t tgt;
    memset(out, 0, sizeof *out);
    if (!field_pos(fb, t, id, name, 4, &p))
        return false;
    if (!p)
        return true;
    if (!follow(fb, p, name, 4, &tgt))
        return false;
    return open_vec(fb, tgt, name, elem, out);
}

bool av_nn__fb_string_field(av_nn__fb *fb, const av_nn__fb_table *t, int id, const char *name,
                            const char **s, size_t *n)
{
    av_nn__fb_vec v;
    *s = NULL;
    *n = 0;
    if (!av_nn__fb_vec_field(fb, t, id, name, 1, &v))
        return false;
    if (!v.present)
        return true;
    if (!in_bounds(fb, v.data + v.n, 1) || fb->buf[v.data + v.n] != '\0')
        return av_nn__fb_error(fb, "%s: string of %u bytes is not NUL-terminated", name, v.n);
    *s = (const char *)fb->buf + v.data;
    *n = v.n;
    return true;
}

bool av_nn__fb_vec_table(av_nn__fb *fb, const av_nn__fb_vec *v, uint32_t i, const char *name,
                         av_nn__fb_table *out)
{
    uint64_t tgt;
    memset(out, 0, sizeof *out);
    if (!v->present || i >= v->n || v->elem != 4)
        return av_nn__fb_error(fb, "%s: element %u out of range", name, i);
    size_t p = v->data + (size_t)i * 4;
    if (!follow(fb, p, name, 4, &tgt))
        return false;
    return open_table(fb, tgt, name, out);
}

uint8_t av_nn__fb_vec_u8(const av_nn__fb *fb, const av_nn__fb_vec *v, uint32_t i)
{
    return fb->buf[v->data + i];
}

int32_t av_nn__fb_vec_i32(const av_nn__fb *fb, const av_nn__fb_vec *v, uint32_t i)
{
    return (int32_t)rd32(fb->buf + v->data + (size_t)i * 4);
}

int64_t av_nn__fb_vec_i64(const av_nn__fb *fb, const av_nn__fb_vec *v, uint32_t i)
{
    return (int64_t)rd64(fb->buf + v->data + (size_t)i * 8);
}

float av_nn__fb_vec_f32(const av_nn__fb *fb, const av_nn__fb_vec *v, uint32_t i)
{
    uint32_t bits = rd32(fb->buf + v->data + (size_t)i * 4);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}
