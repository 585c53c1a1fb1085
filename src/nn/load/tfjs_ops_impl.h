/*
 * tfjs_ops_impl.h - what the TF.js op lowerings share across tfjs_ops.c
 * (builders, compute ops, the op table) and tfjs_ops_data.c (data-movement
 * and index ops). Internal to src/nn/load.
 */
#ifndef AV_NN_TFJS_OPS_IMPL_H
#define AV_NN_TFJS_OPS_IMPL_H

#include "nn/load/tfjs.h"

#define FAIL(st, ...) av_nn__tfjs_fail(L, n, st, __VA_ARGS__)
#define IN(i) av_nn__tfjs_in(L, n, (i))

av_nn__tid av_nn__tfjs_act_tensor(av_nn__tfjs *L, const char *base, const char *suffix);
av_nn_status av_nn__tfjs_make_outputs(av_nn__tfjs *L, av_nn__tfjs_node *n, int k);
av_nn_status av_nn__tfjs_emit(av_nn__tfjs *L, av_nn__tfjs_node *n, av_nn__op op, const av_nn__tid *in,
                         int n_in, const av_nn__tid *out, int n_out, const av_nn__params *p);
av_nn_status av_nn__tfjs_emit1(av_nn__tfjs *L, av_nn__tfjs_node *n, av_nn__op op, const av_nn__tid *in,
                          int n_in, const av_nn__params *p);
av_nn__tid av_nn__tfjs_const_i32(av_nn__tfjs *L, const char *base, const char *suffix,
                            const int64_t *v, int k, bool scalar);
int av_nn__tfjs_const_ints(av_nn__tfjs *L, av_nn__tfjs_node *n, int i, const char *what, int64_t *out,
                      int max);
av_nn_status av_nn__tfjs_const_scalar(av_nn__tfjs *L, av_nn__tfjs_node *n, int i, const char *what,
                                 int64_t lo, int64_t hi, int *out);
av_nn_status av_nn__tfjs_lower_reshape(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_expand_dims(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_squeeze(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_pack(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_strided_slice(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_slice(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_transpose(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_pad(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_split(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_gather(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_topk(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_argmax(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_cast(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_softmax(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_sparse_to_dense(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_select(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_tile(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);
av_nn_status av_nn__tfjs_lower_concat(av_nn__tfjs *L, av_nn__tfjs_node *n, int arg);

#endif
