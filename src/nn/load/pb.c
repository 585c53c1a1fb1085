/*
 * pb.c - protobuf wire-format reader: varints, fixed 32/64-bit values,
 * length-delimited payloads, packed repeated scalars; every read is checked
 * against the end of the enclosing message.
 */
#include "nn/load/pb.h"

#include "nn/ir/ir.h"

#include <string.h>

void av_nn__pb_init(av_nn__pb *r, const uint8_t *buf, size_t len)
{
    r->base = buf;
    r->p = buf;
    r->end = buf + len;
    r->depth = 0;
}

/* Decode one varint at *pp (< end). Returns false when truncated or longer
 * than 10 bytes / 64 bits. */
static bool read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (p >= end)
            return false;
        uint8_t b = *p++;
        if (i == 9 && b > 1)
            return false; /* bits beyond 64 */
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *pp = p;
            *v = x;
            return true;
        }
    }
    return false;
}

static uint64_t read_le(const uint8_t *p, int n)
{
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}

int av_nn__pb_next(av_nn__pb *r, av_nn__pb_field *f, char *err, size_t errlen)
{
    if (r->p >= r->end)
        return 0;
    size_t off = (size_t)(r->p - r->base);
    uint64_t tag;
    if (!read_varint(&r->p, r->end, &tag)) {
        av_nn__fail(err, errlen, AV_NN_E_FORMAT, "protobuf: truncated field tag at byte %zu", off);
        return -1;
    }
    uint64_t num = tag >> 3;
    if (num == 0 || num > 0x1fffffff) {
        av_nn__fail(err, errlen, AV_NN_E_FORMAT, "protobuf: bad field number at byte %zu", off);
        return -1;
    }
    memset(f, 0, sizeof *f);
    f->num = (uint32_t)num;
    f->wire = (av_nn__pb_wire)(tag & 7);
    f->off = off;
    size_t left;
    switch (tag & 7) {
    case AV_NN_PB_VARINT:
        if (!read_varint(&r->p, r->end, &f->u)) {
            av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                        "protobuf: truncated varint in field %u at byte %zu", f->num, off);
            return -1;
        }
        return 1;
    case AV_NN_PB_I64:
    case AV_NN_PB_I32: {
        int w = (tag & 7) == AV_NN_PB_I64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < (size_t)w) {
            av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                        "protobuf: truncated fixed%d in field %u at byte %zu", w * 8, f->num, off);
            return -1;
        }
        f->u = read_le(r->p, w);
        r->p += w;
        return 1;
    }
    case AV_NN_PB_LEN: {
        uint64_t n;
        if (!read_varint(&r->p, r->end, &n)) {
            av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                        "protobuf: truncated length in field %u at byte %zu", f->num, off);
            return -1;
        }
        left = (size_t)(r->end - r->p);
        if (n > left) {
            av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                        "protobuf: field %u at byte %zu claims %llu bytes, %zu left", f->num, off,
                        (unsigned long long)n, left);
            return -1;
        }
        f->data = r->p;
        f->len = (size_t)n;
        r->p += n;
        return 1;
    }
    default:
        av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                    "protobuf: unsupported wire type %u in field %u at byte %zu",
                    (unsigned)(tag & 7), f->num, off);
        return -1;
    }
}

bool av_nn__pb_sub(const av_nn__pb *r, const av_nn__pb_field *f, av_nn__pb *sub, char *err,
                   size_t errlen)
{
    if (f->wire != AV_NN_PB_LEN) {
        av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                    "protobuf: field %u at byte %zu should be a message (wire type %d)", f->num,
                    f->off, (int)f->wire);
        return false;
    }
    if (r->depth + 1 > AV_NN_PB_MAX_DEPTH) {
        av_nn__fail(err, errlen, AV_NN_E_LIMIT,
                    "protobuf: messages nested deeper than %d at byte %zu", AV_NN_PB_MAX_DEPTH,
                    f->off);
        return false;
    }
    sub->base = r->base;
    sub->p = f->data;
    sub->end = f->data + f->len;
    sub->depth = r->depth + 1;
    return true;
}

static av_nn__pb_wire unpacked_wire(av_nn__pb_kind k)
{
    return k == AV_NN_PB_K_VARINT ? AV_NN_PB_VARINT
           : k == AV_NN_PB_K_FIXED32 ? AV_NN_PB_I32
                                     : AV_NN_PB_I64;
}

bool av_nn__pb_iter_init(av_nn__pb_iter *it, const av_nn__pb *r, const av_nn__pb_field *f,
                         av_nn__pb_kind kind, char *err, size_t errlen)
{
    memset(it, 0, sizeof *it);
    it->kind = kind;
    it->base = r->base;
    it->off = f->off;
    if (f->wire == AV_NN_PB_LEN) {
        it->p = f->data;
        it->end = f->data + f->len;
        return true;
    }
    if (f->wire == unpacked_wire(kind)) {
        it->single = f->u;
        it->n_single = 1;
        return true;
    }
    av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                "protobuf: field %u at byte %zu has wire type %d, expected a repeated %s",
                f->num, f->off, (int)f->wire,
                kind == AV_NN_PB_K_VARINT ? "varint"
                : kind == AV_NN_PB_K_FIXED32 ? "fixed32"
                                             : "fixed64");
    return false;
}

int av_nn__pb_iter_next(av_nn__pb_iter *it, uint64_t *v, char *err, size_t errlen)
{
    if (it->n_single) {
        it->n_single = 0;
        *v = it->single;
        return 1;
    }
    if (!it->p || it->p >= it->end)
        return 0;
    if (it->kind == AV_NN_PB_K_VARINT) {
        if (!read_varint(&it->p, it->end, v)) {
            av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                        "protobuf: truncated varint in packed field at byte %zu", it->off);
            return -1;
        }
        return 1;
    }
    size_t w = it->kind == AV_NN_PB_K_FIXED32 ? 4 : 8;
    if ((size_t)(it->end - it->p) < w) {
        av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                    "protobuf: packed fixed%zu field at byte %zu has a partial value", w * 8,
                    it->off);
        return -1;
    }
    *v = read_le(it->p, (int)w);
    it->p += w;
    return 1;
}

int64_t av_nn__pb_iter_count(const av_nn__pb_iter *it, char *err, size_t errlen)
{
    if (it->n_single)
        return 1;
    if (!it->p)
        return 0;
    size_t len = (size_t)(it->end - it->p);
    if (it->kind == AV_NN_PB_K_VARINT) {
        /* a varint ends at each byte without the continuation bit */
        int64_t n = 0;
        for (const uint8_t *q = it->p; q < it->end; q++)
            n += !(*q & 0x80);
        if (len && (it->end[-1] & 0x80)) {
            av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                        "protobuf: truncated varint in packed field at byte %zu", it->off);
            return -1;
        }
        return n;
    }
    size_t w = it->kind == AV_NN_PB_K_FIXED32 ? 4 : 8;
    if (len % w) {
        av_nn__fail(err, errlen, AV_NN_E_FORMAT,
                    "protobuf: packed fixed%zu field at byte %zu has %zu bytes", w * 8, it->off,
                    len);
        return -1;
    }
    return (int64_t)(len / w);
}

float av_nn__pb_f32(uint64_t bits)
{
    uint32_t b = (uint32_t)bits;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

double av_nn__pb_f64(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, 8);
    return d;
}
