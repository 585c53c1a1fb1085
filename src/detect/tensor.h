/*
 * tensor.h - model input filling and classifier output reading (internal to
 * src/detect): the glue between manifests, pixels and engine tensors.
 */
#ifndef AV_DETECT_TENSOR_H
#define AV_DETECT_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "detect/manifest.h"
#include "nn/nn.h"
#include "vision/vision.h"

/*
 * Check that an engine input fits the manifest: [1,H,W,3] (NHWC) or
 * [1,3,H,W] (NCHW) of the manifest's size, dtype f32, or u8/i8 with
 * quantisation. 0, or -1 with a message naming the model and tensor.
 */
int av_detect__check_input(const av_detect__manifest *m, const av_nn_tensor_info *ti,
                           char *err, size_t errlen);

/*
 * Write a model input from pixels: `px` holds w*h*3 RGB values in 0..255,
 * NHWC, as float (pxf) or bytes (px8, exactly one of the two non-NULL);
 * w, h equal the manifest's input size. Applies colour order, normalisation
 * ((v - mean) / std in float32), layout, dtype and quantisation.
 * dst has av_nn_input's size.
 */
void av_detect__fill_input(const av_detect__manifest *m, const av_nn_tensor_info *ti,
                           const float *pxf, const uint8_t *px8, void *dst);

/*
 * A float32 detector input straight from the image (no 0..255 float copy
 * in between): the TF1 bilinear resize to nw x nh at the top-left of the
 * manifest's in_w x in_h, normalised and laid out as fill_input does, in
 * one pass with rows on par's threads (av_vision_resize_tf_norm); the rest
 * (letterbox padding) gets what fill_input makes of a 0 pixel. The same
 * floats as av_detect__img_resize_tf + padding + fill_input. 0, or -1
 * (bad size, out of memory).
 */
int av_detect__fill_input_tf(const av_detect__manifest *m, const av_image *img, int nw, int nh,
                             const av_vision_par *par, float *dst);

/* Element count of a tensor (0 for a bad shape). */
size_t av_detect__numel(const av_nn_tensor_info *ti);

/*
 * Classifier scores as float probabilities from an output buffer (f32, or
 * u8/i8 dequantised; softmax applied when the manifest says logits).
 * probs has n = numel entries. 0, or -1 for an unsupported dtype.
 */
int av_detect__read_scores(const av_detect__manifest *m, const av_nn_tensor_info *ti,
                           const void *buf, float *probs, size_t n);

/* Indices of the k best scores, best first, skipping `skip` (-1: none);
 * ties go to the lower index. Returns how many were written (<= k). */
int av_detect__topk(const float *probs, size_t n, int skip, int k, int *idx);

/* One buffer per input (inputs 1) or output (0) of m, each n_samples
 * samples, zeroed; NULL when out of memory. Free with av_detect__bufs_free
 * and the same count (av_nn_num_inputs / av_nn_num_outputs). */
void **av_detect__bufs_alloc(const av_nn_model *m, int inputs, size_t n_samples);
void av_detect__bufs_free(void **b, int n);

#endif
