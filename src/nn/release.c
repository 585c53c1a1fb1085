/*
 * release.c - a model frees the f32 weights of convolutions once packed.
 *
 * Every XNNPACK context of a model shares one packed copy of each
 * convolution's weights (xnn/xnn_share.c), so the graph's f32 copy is a
 * second one nobody reads after prepare: ~11 MiB of NanoDet's peak. With
 * av_nn_model_release_packed on, a context frees it right after packing a
 * node on our GEMM (so the peak never holds both), when
 *   - the tensor is f32, owned by the graph and read by that node only,
 *   - no live context of the model reads conv weights from the graph
 *     (m->raw_ctx: reference kernels), and
 *   - no Winograd copy exists (it cannot give the weights back exactly).
 * The tensor then points at a release record, which holds a reference to
 * the packed copy and is its key from then on (a live allocation: no other
 * constant can take that address while the model lives). A reader that
 * needs the f32 weights (a reference context, a node another kernel takes,
 * the quantiser, av_nn_find_tensor) restores them first: the GEMM packing
 * is a permutation, so the unpacked copy is the same bits.
 *
 * Contexts, release and restore of one model hold m->mu; a context's own
 * batch copy of the graph (bg) is updated with the model's graph.
 */
#include "nn/core.h"

#include <stdlib.h>
#include <string.h>

struct av_nn__rel {
    struct av_nn__rel *next;
    const float *pack; /* the GEMM copy, held; NULL once restored */
    size_t bytes;      /* of the f32 weights */
};

/* t (index tid) is read by node n, at input 1, and by no other live node. */
static bool only_reader(const av_nn__graph *g, av_nn__tid tid, const av_nn__node *n)
{
    if (n->n_in < 2 || n->in[1] != tid || g->tensors[tid].is_output)
        return false;
    int readers = 0;
    for (int j = 0; j < g->n_order; j++) {
        const av_nn__node *o = &g->nodes[g->order[j]];
        for (int k = 0; k < o->n_in; k++)
            readers += o->in[k] == tid;
    }
    return readers == 1;
}

static void set_both(av_nn_model *m, av_nn__graph *bg, av_nn__tid tid, void *data,
                     bool released)
{
    m->g->tensors[tid].data = data, m->g->tensors[tid].released = released;
    if (bg && bg != m->g && tid < bg->n_tensors)
        bg->tensors[tid].data = data, bg->tensors[tid].released = released;
}

static av_nn_status restore_one(av_nn_model *m, av_nn__graph *bg, av_nn__tid tid, char *err,
                                size_t errlen)
{
    av_nn__tensor *t = &m->g->tensors[tid];
    struct av_nn__rel *r = t->data;
    float *w = malloc(r->bytes ? r->bytes : 1);
    if (!w)
        return av_nn__fail(err, errlen, AV_NN_E_NOMEM, "restoring the weights of '%s' (%zu bytes)",
                           t->name ? t->name : "", r->bytes);
    size_t cout = (size_t)t->dims[0], ks = (size_t)(t->dims[1] * t->dims[2]);
    av_nn__xnn_gemm_unpack(r->pack, cout, ks, (size_t)t->dims[3], w);
    av_nn__xnn_pack_rekey(r, w); /* contexts made later share the copy again */
    av_nn__xnn_pack_put(r->pack);
    r->pack = NULL; /* the record stays (a key some context's batch copy may still name) */
    set_both(m, bg, tid, w, false);
    return AV_NN_OK;
}

av_nn_status av_nn__model_restore(av_nn_model *m, av_nn__graph *bg, const av_nn__node *n,
                                  char *err, size_t errlen)
{
    const av_nn__graph *g = m->g;
    if (n) {
        for (int k = 0; k < n->n_in; k++) {
            av_nn__tid tid = n->in[k];
            av_nn_status st;
            if (tid >= 0 && g->tensors[tid].released &&
                (st = restore_one(m, bg, tid, err, errlen)) != AV_NN_OK)
                return st;
        }
        return AV_NN_OK;
    }
    for (av_nn__tid tid = 0; tid < g->n_tensors; tid++) {
        av_nn_status st;
        if (g->tensors[tid].released && (st = restore_one(m, bg, tid, err, errlen)) != AV_NN_OK)
            return st;
    }
    return AV_NN_OK;
}

void av_nn__model_release(av_nn_model *m, av_nn__graph *bg, const av_nn__node *n)
{
    if (!m->release_packed || m->raw_ctx > 0 || n->op != AV_NN_OP_CONV2D || n->n_in < 2 ||
        n->in[1] < 0)
        return;
    av_nn__tid tid = n->in[1];
    av_nn__tensor *t = &m->g->tensors[tid];
    if (t->released || t->pinned || !t->data_owned || !t->data || t->dtype != AV_NN_F32 ||
        t->rank != 4 || !only_reader(m->g, tid, n) ||
        av_nn__xnn_pack_has_other(t->data, AV_NN__PACK_GEMM))
        return;
    int64_t nb = av_nn__nbytes(t);
    struct av_nn__rel *r = malloc(sizeof *r);
    const float *pack = r && nb > 0 ? av_nn__xnn_pack_hold(t->data, AV_NN__PACK_GEMM) : NULL;
    if (!pack) { /* not packed after all, or no memory for the record: keep it */
        free(r);
        return;
    }
    *r = (struct av_nn__rel){.next = m->rel, .pack = pack, .bytes = (size_t)nb};
    m->rel = r;
    av_nn__xnn_pack_rekey(t->data, r); /* before the address is free for another constant */
    free(t->data);
    set_both(m, bg, tid, r, true);
}

void av_nn__model_release_free(av_nn_model *m)
{
    for (int tid = 0; m->g && tid < m->g->n_tensors; tid++)
        if (m->g->tensors[tid].released) /* data is the record, freed below */
            m->g->tensors[tid].data = NULL, m->g->tensors[tid].released = false;
    while (m->rel) {
        struct av_nn__rel *r = m->rel;
        m->rel = r->next;
        av_nn__xnn_pack_put(r->pack);
        free(r);
    }
}

void av_nn_model_release_packed(av_nn_model *m, int on)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->release_packed = on != 0;
    pthread_mutex_unlock(&m->mu);
}

size_t av_nn_model_released_bytes(const av_nn_model *m)
{
    if (!m)
        return 0;
    av_nn_model *mm = (av_nn_model *)m; /* the lock only */
    size_t n = 0;
    pthread_mutex_lock(&mm->mu);
    for (const struct av_nn__rel *r = m->rel; r; r = r->next)
        n += r->pack ? r->bytes : 0;
    pthread_mutex_unlock(&mm->mu);
    return n;
}
