/*
 * pass_sparse_head.c - a convolution head read only at a few gathered
 * pixels, evaluated only there.
 *
 * CenterNet's box-size head (tower_0/wh) is a depthwise 3x3 and a 1x1
 * 128 -> 4 (one conv with p.conv.dw_on after pass_fuse.c, its squeeze-excite
 * scale in in[6]) over all 128x128 pixels; the graph then reads it only
 * through gather(reshape(wh, [N*H*W, 4]), top-k indices): 100 pixels of
 * 16384. The gather becomes one SPARSE_HEAD node that reads the conv's input
 * and the indices and computes the depthwise (its pads, bias, act, scale)
 * and the 1x1 (bias, act) at those pixels only (xnn_sparse_head.c; the
 * reference kernel in ref_sparse_head.c).
 *
 * The conv's own output may still be a graph output (TF.js names it so): the
 * conv then stays, read by nobody, and av_nn_run skips it when the caller
 * does not want that output (a NULL output pointer, as the pipeline passes
 * for CenterNet's wh and heat map). When it is not an output, the final
 * dead-node removal drops it.
 *
 * Runs after the fusion sweep (the depthwise and the scale must be in the
 * conv first). AV_NN_FUSE_SPARSE_HEAD=0 turns it off.
 */
#include "nn/core.h"

static av_nn__switch sw = AV_NN__SWITCH("AV_NN_FUSE_SPARSE_HEAD");

bool av_nn__sparse_head_pays(void)
{
    return av_nn__switch_on(&sw);
}

void av_nn__sparse_head_force_off(bool on)
{
    av_nn__switch_force_off(&sw, on);
}

static bool f32_const(const av_nn__graph *g, av_nn__tid t, int64_t n)
{
    if (t < 0)
        return true; /* an absent bias */
    const av_nn__tensor *x = &g->tensors[t];
    return x->data && x->dtype == AV_NN_F32 && !av_nn__is_quant(x) && av_nn__numel(x) == n;
}

/* The conv (dw_on, no residual, a 1x1 of stride 1 without pads) that
 * produces y, or NULL. */
static const av_nn__node *head_conv(const av_nn__graph *g, av_nn__tid y)
{
    const av_nn__tensor *yt = &g->tensors[y];
    if (yt->producer < 0 || yt->n_consumers != 1 || yt->is_input || yt->rank != 4 ||
        yt->dtype != AV_NN_F32)
        return NULL;
    const av_nn__node *c = &g->nodes[yt->producer];
    const av_nn__conv_params *p = &c->p.conv;
    if (c->dead || c->op != AV_NN_OP_CONV2D || !p->dw_on || (c->n_in != 6 && c->n_in != 7) ||
        c->n_out != 1 || c->in[3] >= 0 || p->groups > 1)
        return NULL;
    const av_nn__tensor *x = &g->tensors[c->in[0]], *w = &g->tensors[c->in[1]];
    const av_nn__tensor *dw = &g->tensors[c->in[4]];
    if (x->rank != 4 || x->dtype != AV_NN_F32 || av_nn__is_quant(x) || w->rank != 4 ||
        dw->rank != 4)
        return NULL;
    int64_t C = x->dims[3], O = yt->dims[3];
    if (w->dims[0] != O || w->dims[1] != 1 || w->dims[2] != 1 || w->dims[3] != C ||
        dw->dims[0] != 1 || dw->dims[3] != C || x->dims[0] != yt->dims[0] ||
        x->dims[1] != yt->dims[1] || x->dims[2] != yt->dims[2])
        return NULL;
    if (p->stride_h != 1 || p->stride_w != 1 || p->pad_top || p->pad_left || p->pad_bottom ||
        p->pad_right || (p->dilation_h > 1) || (p->dilation_w > 1))
        return NULL;
    if (!f32_const(g, c->in[1], O * C) || !f32_const(g, c->in[2], O) ||
        !f32_const(g, c->in[4], av_nn__numel(dw)) || !f32_const(g, c->in[5], C))
        return NULL;
    if (c->n_in == 7 && c->in[6] >= 0) { /* the scale: [1 or N, 1, 1, C] f32 */
        const av_nn__tensor *s = &g->tensors[c->in[6]];
        if (s->dtype != AV_NN_F32 || s->rank != 4 || s->dims[1] != 1 || s->dims[2] != 1 ||
            s->dims[3] != C || (s->dims[0] != 1 && s->dims[0] != x->dims[0]))
            return NULL;
    }
    return c;
}

bool av_nn__fuse_sparse_head(av_nn__graph *g, av_nn__node *ga)
{
    if (ga->dead || ga->op != AV_NN_OP_GATHER || ga->n_in != 2 || ga->n_out != 1 ||
        ga->p.axis.axis != 0 || !av_nn__sparse_head_pays())
        return false;
    av_nn__tid d = ga->in[0], idx = ga->in[1];
    const av_nn__tensor *dt = &g->tensors[d], *it = &g->tensors[idx];
    const av_nn__tensor *ot = &g->tensors[ga->out[0]];
    if (dt->producer < 0 || dt->n_consumers != 1 || dt->is_output || dt->is_input ||
        dt->data || dt->rank != 2 || dt->dtype != AV_NN_F32 ||
        (it->dtype != AV_NN_I32 && it->dtype != AV_NN_I64) || it->rank + 1 != ot->rank ||
        it->rank >= AV_NN_MAX_RANK)
        return false;
    const av_nn__node *r = &g->nodes[dt->producer];
    if (r->dead || r->op != AV_NN_OP_RESHAPE || r->n_out != 1)
        return false;
    const av_nn__node *c = head_conv(g, r->in[0]);
    if (!c)
        return false;
    const av_nn__tensor *y = &g->tensors[r->in[0]];
    /* rows of the reshape are the conv's pixels, all images after each other */
    if (dt->dims[1] != y->dims[3] || dt->dims[0] != y->dims[0] * y->dims[1] * y->dims[2])
        return false;
    /* the gather becomes the head, in place: its slot in g->order comes
     * after the indices and after the conv's inputs (the conv's came after
     * them), so the order stays valid */
    ga->op = AV_NN_OP_SPARSE_HEAD;
    ga->p.conv = c->p.conv;
    ga->n_in = c->n_in;
    for (int k = 0; k < c->n_in; k++)
        ga->in[k] = c->in[k];
    ga->in[3] = idx;
    ga->p.conv.pre_rows = d, ga->p.conv.pre_head = r->in[0];
    return true;
}

av_nn_status av_nn__sparse_head_pass(av_nn__graph *g, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    /* the counts a rewrite leaves stale (the reshape's output, read by
     * nobody now) are no other candidate's: the caller recounts after */
    for (int j = 0; j < g->n_order; j++)
        av_nn__fuse_sparse_head(g, &g->nodes[g->order[j]]);
    return AV_NN_OK;
}
