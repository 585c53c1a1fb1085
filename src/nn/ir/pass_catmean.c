/*
 * pass_catmean.c - a concat's global mean into the concat.
 *
 * CenterNet's head: c = relu(concat(skip, resize(z))) (1x128x128x128, 8 MiB),
 * then s = mean(c, H and W, keepdims) for its squeeze-excite. Unfused, the
 * reduce reads the 8 MiB back that the concat has just written. Fused, the
 * concat (p.axis.mean, out[1] = the reduce's output) adds up what it writes
 * per output row while the row is in L1 and merges the rows' sums per image
 * in row order, so the answer does not depend on the threads (xnn_concat.c);
 * the reference runs its own reduce on the concat's output, as unfused.
 *
 * Fires on a reduce mean over axes H, W (mask 0b0110) of a rank 4 f32 NHWC
 * tensor, keepdims, whose input a live concat along channels (axis 3)
 * writes; the concat's output may have other readers and be a graph output.
 * Not quantised. AV_NN_FUSE_CONCAT_MEAN=0 keeps the reduce.
 */
#include "nn/core.h"


static av_nn__switch sw = AV_NN__SWITCH("AV_NN_FUSE_CONCAT_MEAN");

bool av_nn__concat_mean_fusion_pays(void)
{
    return av_nn__switch_on(&sw);
}

void av_nn__concat_mean_force_off(bool on)
{
    av_nn__switch_force_off(&sw, on);
}

bool av_nn__fuse_concat_mean(av_nn__graph *g, av_nn__node *rd)
{
    const av_nn__reduce_params *p = &rd->p.reduce;
    if (rd->op != AV_NN_OP_REDUCE || p->kind != AV_NN_REDUCE_MEAN || p->axes_mask != 6u ||
        !p->keep_dims || rd->n_in < 1 || rd->n_in > 2 || rd->n_out != 1 || rd->in[0] < 0 ||
        rd->out[0] < 0 || (rd->n_in > 1 && rd->in[1] >= 0 && !g->tensors[rd->in[1]].data) ||
        !av_nn__concat_mean_fusion_pays())
        return false;
    const av_nn__tensor *x = &g->tensors[rd->in[0]], *y = &g->tensors[rd->out[0]];
    if (x->dtype != AV_NN_F32 || av_nn__is_quant(x) || x->rank != 4 || x->producer < 0 ||
        y->dtype != AV_NN_F32 || av_nn__is_quant(y) || y->rank != 4 || y->dims[0] != x->dims[0] ||
        y->dims[1] != 1 || y->dims[2] != 1 || y->dims[3] != x->dims[3] || y->is_input ||
        y->data || x->dims[1] < 1 || x->dims[2] < 1)
        return false;
    av_nn__node *cat = &g->nodes[x->producer];
    if (cat->dead || cat->op != AV_NN_OP_CONCAT || cat->n_out != 1 || cat->out[0] != rd->in[0] ||
        cat->p.axis.axis != 3 || cat->p.axis.mean)
        return false;
    cat->p.axis.mean = true;
    cat->out[1] = rd->out[0];
    cat->n_out = 2;
    g->tensors[rd->out[0]].producer = (int)(cat - g->nodes);
    rd->dead = true;
    return true;
}
