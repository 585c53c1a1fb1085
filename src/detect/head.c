/*
 * head.c - a retrained species classification head (`aviary train
 * species` writes it, the pipeline applies it): logits = W f + b over
 * n_classes, f the species model's dequantised penultimate features.
 *
 * File format (little-endian):
 *   8 bytes  "AVHEAD1\n"
 *   u32      n_classes (1..100000), u32 dim (1..65536)
 *   f32      W, n_classes x dim, row-major
 *   f32      b, n_classes
 * The file size must be exactly that; every value must be finite.
 */
#include "detect/detect.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "AVHEAD1\n"
#define MAX_CLASSES 100000
#define MAX_DIM 65536
#define MAX_WEIGHTS (64LL << 20)

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* f32 values as little-endian bytes (the host order on every target we build). */
static int write_f32(FILE *f, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        unsigned char b[4];
        put_u32(b, u);
        if (fwrite(b, 1, 4, f) != 4)
            return -1;
    }
    return 0;
}

static int read_f32(FILE *f, float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char b[4];
        if (fread(b, 1, 4, f) != 4)
            return -1;
        uint32_t u = get_u32(b);
        memcpy(&v[i], &u, 4);
        if (!isfinite(v[i]))
            return -2;
    }
    return 0;
}

av_detect_status av_detect_head_save(const char *path, const av_detect_head *h, char *err,
                                     size_t errlen)
{
    if (h->n_classes < 1 || h->n_classes > MAX_CLASSES || h->dim < 1 || h->dim > MAX_DIM) {
        snprintf(err, errlen, "%s: head of %d classes x %d features is out of range", path,
                 h->n_classes, h->dim);
        return AV_DETECT_E_ARG;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot create", path);
        return AV_DETECT_E_IO;
    }
    unsigned char hdr[16];
    memcpy(hdr, MAGIC, 8);
    put_u32(hdr + 8, (uint32_t)h->n_classes);
    put_u32(hdr + 12, (uint32_t)h->dim);
    int bad = fwrite(hdr, 1, 16, f) != 16 ||
              write_f32(f, h->w, (size_t)h->n_classes * (size_t)h->dim) ||
              write_f32(f, h->b, (size_t)h->n_classes);
    bad |= fclose(f) != 0;
    if (bad) {
        snprintf(err, errlen, "%s: write failed (disk full?)", path);
        return AV_DETECT_E_IO;
    }
    return AV_DETECT_OK;
}

av_detect_status av_detect_head_load(const char *path, av_detect_head *h, char *err,
                                     size_t errlen)
{
    memset(h, 0, sizeof *h);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return AV_DETECT_E_IO;
    }
    unsigned char hdr[16];
    av_detect_status st = AV_DETECT_OK;
    long long nc = 0, dim = 0;
    if (fread(hdr, 1, 16, f) != 16 || memcmp(hdr, MAGIC, 8)) {
        snprintf(err, errlen, "%s: not a head file (no AVHEAD1 header)", path);
        st = AV_DETECT_E_MODEL;
    } else {
        nc = get_u32(hdr + 8), dim = get_u32(hdr + 12);
        if (nc < 1 || nc > MAX_CLASSES || dim < 1 || dim > MAX_DIM || nc * dim > MAX_WEIGHTS) {
            snprintf(err, errlen, "%s: %lld classes x %lld features is out of range", path, nc,
                     dim);
            st = AV_DETECT_E_MODEL;
        }
    }
    if (!st) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 16, SEEK_SET);
        if (size != 16 + 4 * (nc * dim + nc)) {
            snprintf(err, errlen, "%s: %ld bytes, a %lld x %lld head has %lld", path, size, nc,
                     dim, 16 + 4 * (nc * dim + nc));
            st = AV_DETECT_E_MODEL;
        }
    }
    if (!st) {
        h->w = malloc((size_t)(nc * dim) * sizeof *h->w);
        h->b = malloc((size_t)nc * sizeof *h->b);
        if (!h->w || !h->b) {
            snprintf(err, errlen, "%s: out of memory", path);
            st = AV_DETECT_E_NOMEM;
        }
    }
    if (!st && (read_f32(f, h->w, (size_t)(nc * dim)) || read_f32(f, h->b, (size_t)nc))) {
        snprintf(err, errlen, "%s: truncated, or a weight is not a finite number", path);
        st = AV_DETECT_E_MODEL;
    }
    fclose(f);
    if (st) {
        av_detect_head_free(h);
        return st;
    }
    h->n_classes = (int)nc;
    h->dim = (int)dim;
    return AV_DETECT_OK;
}

void av_detect_head_free(av_detect_head *h)
{
    free(h->w);
    free(h->b);
    free(h->prior);
    memset(h, 0, sizeof *h);
}

void av_detect_head_logits(const av_detect_head *h, const float *f, float *logits)
{
    for (int c = 0; c < h->n_classes; c++) {
        const float *w = h->w + (size_t)c * (size_t)h->dim;
        float acc = h->b[c];
        for (int k = 0; k < h->dim; k++)
            acc += w[k] * f[k];
        logits[c] = acc;
    }
}

void av_detect_softmax(float *v, int n)
{
    float mx = v[0];
    for (int i = 1; i < n; i++)
        mx = v[i] > mx ? v[i] : mx;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        v[i] = expf(v[i] - mx);
        sum += v[i];
    }
    for (int i = 0; i < n; i++)
        v[i] = (float)(v[i] / sum);
}
