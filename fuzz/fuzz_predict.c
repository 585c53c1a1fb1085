/*
 * fuzz_predict.c - libFuzzer target: a model-server predict body parsed
 * twice, with pixel lists read straight into images (pixels.c, the
 * server's path) and with every list left to jansson (the parse before
 * issue 16); both must accept the same bodies and find the same images,
 * byte for byte. The image run itself is the pipeline's (its own tests).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serving/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct images {
    int n;
    size_t len[AV_SERVING_MAX_INSTANCES];
    unsigned char *bytes[AV_SERVING_MAX_INSTANCES];
} images;

static void keep(void *ud, const void *bytes, size_t len)
{
    images *im = ud;
    if (im->n == AV_SERVING_MAX_INSTANCES)
        abort();
    im->bytes[im->n] = malloc(len ? len : 1);
    if (!im->bytes[im->n])
        abort();
    memcpy(im->bytes[im->n], bytes, len);
    im->len[im->n++] = len;
}

static void drop(images *im)
{
    for (int i = 0; i < im->n; i++)
        free(im->bytes[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    av_serving s;
    memset(&s, 0, sizeof s);
    s.max_pixels = 4096; /* small: the limit paths get reached too */
    images fast = {0}, slow = {0};
    json_t *a = NULL, *b = NULL;
    unsigned sf = av_serving__predict_parse(&s, (const char *)data, size, 1, keep, &fast, &a);
    unsigned ss = av_serving__predict_parse(&s, (const char *)data, size, 0, keep, &slow, &b);
    if ((sf == 0) != (ss == 0) || fast.n != slow.n) {
        fprintf(stderr, "fast %u (%d images) vs jansson %u (%d images)\n", sf, fast.n, ss,
                slow.n);
        abort();
    }
    for (int i = 0; i < fast.n; i++)
        if (fast.len[i] != slow.len[i] || memcmp(fast.bytes[i], slow.bytes[i], fast.len[i]))
            abort();
    if ((sf && !a) || (ss && !b))
        abort(); /* every error has its answer */
    json_decref(a);
    json_decref(b);
    drop(&fast);
    drop(&slow);
    return 0;
}
