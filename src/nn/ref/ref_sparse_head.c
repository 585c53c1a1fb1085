/*
 * ref_sparse_head.c - reference kernel of SPARSE_HEAD (pass_sparse_head.c):
 * a dw_on conv's output rows at the indexed pixels only, each computed as
 * the reference conv (ref_conv.c: the scaled input, the depthwise, then the
 * 1x1) computes that pixel, in the same order: a reference context gives
 * the rows the unfused gather read.
 */
#include "nn/ref/ref.h"

#include <stdlib.h>

av_nn_status av_nn__ref_sparse_head(const av_nn__graph *g, const av_nn__node *n,
                                    const void *const *in, void *const *out, char *err,
                                    size_t errlen)
{
    const av_nn__tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
    const av_nn__tensor *it = &g->tensors[n->in[3]], *dwt = &g->tensors[n->in[4]];
    const av_nn__conv_params *p = &n->p.conv;
    const float *xf = in[0], *pw = in[1], *pb = n->in[2] >= 0 ? in[2] : NULL;
    const float *dw = in[4], *db = n->in[5] >= 0 ? in[5] : NULL;
    const float *sc = n->n_in > 6 && n->in[6] >= 0 ? in[6] : NULL;
    int64_t N = x->dims[0], H = x->dims[1], W = x->dims[2], C = x->dims[3];
    int64_t O = w->dims[0], KH = dwt->dims[1], KW = dwt->dims[2], P = N * H * W;
    int64_t ni = av_nn__numel(it);
    bool one_scale = sc && g->tensors[n->in[6]].dims[0] == 1;
    float *mid = malloc((size_t)(C > 0 ? C : 1) * sizeof *mid);
    if (!mid)
        return av_nn__node_fail(err, errlen, AV_NN_E_NOMEM, n, "depthwise row");
    float *y = out[0];
    for (int64_t j = 0; j < ni; j++) {
        int64_t k = av_nn__load_int(in[3], it->dtype, j);
        if (k < 0)
            k += P; /* as the gather it replaced: negative indices wrap */
        if (k < 0 || k >= P) {
            free(mid);
            return av_nn__node_fail(err, errlen, AV_NN_E_ARG, n, "index %lld out of range [0, %lld)",
                                    (long long)av_nn__load_int(in[3], it->dtype, j),
                                    (long long)P);
        }
        int64_t b = k / (H * W), oy = k / W % H, ox = k % W;
        const float *s = sc ? sc + (one_scale ? 0 : b) * C : NULL;
        for (int64_t c = 0; c < C; c++)
            mid[c] = db ? db[c] : 0.0f;
        for (int64_t ky = 0; ky < KH; ky++) {
            int64_t iy = oy - p->dw_pad_top + ky;
            if (iy < 0 || iy >= H)
                continue;
            for (int64_t kx = 0; kx < KW; kx++) {
                int64_t ix = ox - p->dw_pad_left + kx;
                if (ix < 0 || ix >= W)
                    continue;
                const float *xp = xf + ((b * H + iy) * W + ix) * C, *wp = dw + (ky * KW + kx) * C;
                for (int64_t c = 0; c < C; c++) {
                    float xv = s ? xp[c] * s[c] : xp[c]; /* the scaled input, as ref_conv.c */
                    mid[c] += xv * wp[c];
                }
            }
        }
        for (int64_t c = 0; c < C; c++)
            mid[c] = av_nn__apply_act(mid[c], &p->dw_act);
        for (int64_t o = 0; o < O; o++) {
            float acc = pb ? pb[o] : 0.0f, sum = 0;
            for (int64_t c = 0; c < C; c++)
                sum += mid[c] * pw[o * C + c];
            acc += sum;
            y[j * O + o] = av_nn__apply_act(acc, &p->act);
        }
    }
    free(mid);
    return AV_NN_OK;
}
