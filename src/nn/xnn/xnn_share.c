/*
 * xnn_share.c - packed weights shared by the contexts of one model.
 *
 * Every context used to pack its own copy of each convolution's weights
 * (xnn_gemm.c, xnn_wino.c): NanoDet's are ~25 MiB (Winograd's are 4x the
 * 3x3 filters), per detector worker. A packed buffer is fully determined by
 * the constant it was packed from (its data pointer, and the bias's), the
 * packing and the shape, so contexts that pack the same constant the same
 * way share one buffer, counted, freed by the last context that holds it.
 *
 * Why a data pointer is a sound key: an entry lives only while a context
 * holds it, a context only while its model lives, and the model owns (or
 * keeps alive) that constant, so the address cannot be reused by another
 * tensor meanwhile; graph constants are never written after finalize.
 * A batch copy of the graph (batch.c) points at the same constants, so it
 * shares too (packing does not depend on the batch).
 *
 * When the model releases a constant's f32 copy (release.c), it holds its
 * own reference and moves the key from the freed address to its release
 * record (a live allocation, so the key stays unique); restoring moves it
 * to the new copy, so contexts made later keep sharing.
 */
#include "nn/xnn/xnn_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    av_nn__xnn_pack_key key;
    float *data;
    size_t refs;
    struct entry *next;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *head;

static bool same_key(const av_nn__xnn_pack_key *a, const av_nn__xnn_pack_key *b)
{
    return a->kind == b->kind && a->w == b->w && a->b == b->b && a->cin == b->cin &&
           a->cout == b->cout && a->kh == b->kh && a->kw == b->kw && a->bytes == b->bytes;
}

float *av_nn__xnn_pack_get(const av_nn__xnn_pack_key *key, av_nn__xnn_pack_fill fill,
                           const void *ctx)
{
    pthread_mutex_lock(&lock);
    for (entry *e = head; e; e = e->next)
        if (same_key(&e->key, key)) {
            e->refs++;
            pthread_mutex_unlock(&lock);
            return e->data;
        }
    /* filled under the lock: a second context of the model waits for this
     * pack instead of making its own (contexts are created rarely) */
    entry *e = malloc(sizeof *e);
    float *d = aligned_alloc(64, (key->bytes + 63) / 64 * 64);
    if (!e || !d) {
        pthread_mutex_unlock(&lock);
        free(e);
        free(d);
        return NULL;
    }
    memset(d, 0, key->bytes);
    fill(d, ctx);
    *e = (entry){.key = *key, .data = d, .refs = 1, .next = head};
    head = e;
    pthread_mutex_unlock(&lock);
    return d;
}

void av_nn__xnn_pack_put(const float *data)
{
    if (!data)
        return;
    pthread_mutex_lock(&lock);
    for (entry **pp = &head; *pp; pp = &(*pp)->next) {
        entry *e = *pp;
        if (e->data != data)
            continue;
        if (--e->refs == 0) {
            *pp = e->next;
            free(e->data);
            free(e);
        }
        break;
    }
    pthread_mutex_unlock(&lock);
}

float *av_nn__xnn_pack_find(const av_nn__xnn_pack_key *key)
{
    pthread_mutex_lock(&lock);
    float *d = NULL;
    for (entry *e = head; e && !d; e = e->next)
        if (same_key(&e->key, key))
            e->refs++, d = e->data;
    pthread_mutex_unlock(&lock);
    return d;
}

float *av_nn__xnn_pack_hold(const void *w, int kind)
{
    pthread_mutex_lock(&lock);
    float *d = NULL;
    for (entry *e = head; e && !d; e = e->next)
        if (e->key.w == w && e->key.kind == kind)
            e->refs++, d = e->data;
    pthread_mutex_unlock(&lock);
    return d;
}

bool av_nn__xnn_pack_has_other(const void *w, int kind)
{
    pthread_mutex_lock(&lock);
    bool found = false;
    for (const entry *e = head; e && !found; e = e->next)
        found = e->key.w == w && e->key.kind != kind;
    pthread_mutex_unlock(&lock);
    return found;
}

void av_nn__xnn_pack_rekey(const void *from, const void *to)
{
    pthread_mutex_lock(&lock);
    for (entry *e = head; e; e = e->next)
        if (e->key.w == from)
            e->key.w = to;
    pthread_mutex_unlock(&lock);
}

size_t av_nn__xnn_pack_live(size_t *refs)
{
    size_t n = 0, r = 0;
    pthread_mutex_lock(&lock);
    for (const entry *e = head; e; e = e->next)
        n++, r += e->refs;
    pthread_mutex_unlock(&lock);
    if (refs)
        *refs = r;
    return n;
}
