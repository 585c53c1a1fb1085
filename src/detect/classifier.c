/*
 * classifier.c - a stand-alone image classifier for `aviary classify`: a
 * manifest or a bare model file, whole image area-resized to the input,
 * top-k labels out.
 */
#include "detect/detect.h"
#include "base/base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/img.h"
#include "detect/manifest.h"
#include "detect/tensor.h"
#include "nn/nn.h"

#define DEFAULT_MAX_BYTES (30LL * 1000 * 1000)
#define DEFAULT_MAX_PIXELS (50LL * 1000 * 1000)

struct av_detect_classifier {
    av_detect__manifest m;
    av_nn_model *model;
    av_nn_ctx *ctx;
    int in, out;
    void **ins, **outs;
    uint8_t *px;
    float *probs;
    size_t n_out;
};

/* 1 when path is a JSON manifest (an object with "role"), 0 otherwise. */
static int is_manifest(const char *path)
{
    size_t l = strlen(path);
    if (l < 5 || strcmp(path + l - 5, ".json") != 0)
        return 0;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    int yes = json_is_object(root) && json_object_get(root, "role") != NULL;
    json_decref(root);
    return yes;
}

/* Describe a bare model's single image input as a manifest. */
static av_detect_status bare_manifest(av_detect_classifier *c, const char *path,
                                      const char *range, char *err, size_t errlen)
{
    av_detect__manifest *m = &c->m;
    const av_nn_tensor_info *ti = av_nn_input(c->model, c->in);
    snprintf(m->name, sizeof m->name, "%.63s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    snprintf(m->version, sizeof m->version, "file");
    m->role = AV_DETECT__CLASSIFIER;
    m->kind = AV_DETECT__CLASSIFY;
    m->background = -1;
    m->filter = AV_DETECT__AREA;
    if (ti->rank == 4 && ti->dims[3] == 3) {
        m->layout = AV_DETECT__NHWC;
        m->in_h = (int)ti->dims[1];
        m->in_w = (int)ti->dims[2];
    } else if (ti->rank == 4 && ti->dims[1] == 3) {
        m->layout = AV_DETECT__NCHW;
        m->in_h = (int)ti->dims[2];
        m->in_w = (int)ti->dims[3];
    } else {
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen,
                     "%s: input '%s' is not an image [1,H,W,3] or [1,3,H,W]", path, ti->name);
    }
    if (m->in_w <= 0 || m->in_h <= 0 || m->in_w > 8192 || m->in_h > 8192)
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: input size %dx%d not supported", path,
                     m->in_w, m->in_h);
    float mean, sd;
    if (ti->dtype != AV_NN_F32 && ti->scale > 0) {
        /* quantised: choose mean/std so that q = pixel, as TFLite users feed it */
        mean = (float)ti->zero_point;
        sd = 1.0f / ti->scale;
    } else if (!range || !strcmp(range, "-1..1")) {
        mean = 127.5f, sd = 127.5f;
    } else if (!strcmp(range, "0..1")) {
        mean = 0.0f, sd = 255.0f;
    } else if (!strcmp(range, "0..255")) {
        mean = 0.0f, sd = 1.0f;
    } else {
        return AV_BASE_FAIL(AV_DETECT_E_ARG, err, errlen, "range '%s' is not 0..255, 0..1 or -1..1",
                     range);
    }
    for (int i = 0; i < 3; i++)
        m->mean[i] = mean, m->std[i] = sd;
    return AV_DETECT_OK;
}

av_detect_status av_detect_classifier_open(const char *model, const char *labels,
                                           const char *range, int threads,
                                           av_detect_classifier **out, char *err, size_t errlen)
{
    *out = NULL;
    av_detect_classifier *c = calloc(1, sizeof *c);
    if (!c)
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "classifier: out of memory");
    av_detect_status st = AV_DETECT_OK;
    int manifest = is_manifest(model);
    const char *path = model;
    char e[512] = "";
    if (manifest) {
        st = av_detect__manifest_load(model, &c->m, err, errlen);
        if (!st && c->m.role != AV_DETECT__CLASSIFIER)
            st = AV_BASE_FAIL(AV_DETECT_E_MANIFEST, err, errlen, "%s: role is not classifier", model);
        path = c->m.path;
    }
    if (!st && av_nn_load(path, &c->model, e, sizeof e) != AV_NN_OK)
        st = AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: %s", path, e);
    if (!st) {
        c->in = manifest && c->m.input_name[0] ? av_nn_find_input(c->model, c->m.input_name) : 0;
        c->out = manifest && c->m.output_name[0] ? av_nn_find_output(c->model, c->m.output_name)
                                                 : 0;
        if (c->in < 0 || c->out < 0 || av_nn_num_inputs(c->model) < 1 ||
            av_nn_num_outputs(c->model) < 1)
            st = AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: cannot find its input/output", path);
    }
    if (!st && !manifest)
        st = bare_manifest(c, path, range, err, errlen);
    if (!st && av_detect__check_input(&c->m, av_nn_input(c->model, c->in), e, sizeof e))
        st = AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s", e);
    if (!st && labels && labels[0]) {
        av_detect__labels_free(c->m.labels, c->m.n_labels);
        c->m.labels = NULL;
        c->m.n_labels = 0;
        st = av_detect__labels_load(labels, &c->m.labels, &c->m.n_labels, err, errlen);
    }
    if (!st) {
        const av_nn_tensor_info *to = av_nn_output(c->model, c->out);
        c->n_out = av_detect__numel(to);
        if (c->n_out == 0 || c->n_out > 1000000 ||
            (to->dtype != AV_NN_F32 && to->dtype != AV_NN_U8 && to->dtype != AV_NN_I8))
            st = AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: output is not a score vector",
                       path);
    }
    av_nn_ctx_opts co = {.threads = threads, .backend = AV_NN_BACKEND_XNNPACK};
    if (!st && av_nn_ctx_new(c->model, &co, &c->ctx, e, sizeof e) != AV_NN_OK)
        st = AV_BASE_FAIL(AV_DETECT_E_ENGINE, err, errlen, "%s: %s", path, e);
    if (!st) {
        int ni = av_nn_num_inputs(c->model), no = av_nn_num_outputs(c->model);
        c->ins = calloc((size_t)ni, sizeof *c->ins);
        c->outs = calloc((size_t)no, sizeof *c->outs);
        c->px = malloc((size_t)c->m.in_w * (size_t)c->m.in_h * 3);
        c->probs = malloc(c->n_out * sizeof *c->probs);
        int ok = c->ins && c->outs && c->px && c->probs;
        for (int i = 0; ok && i < ni; i++) {
            const av_nn_tensor_info *ti = av_nn_input(c->model, i);
            ok = (c->ins[i] = calloc(1, av_detect__numel(ti) * av_nn_dtype_size(ti->dtype) + 1)) != NULL;
        }
        for (int i = 0; ok && i < no; i++) {
            const av_nn_tensor_info *ti = av_nn_output(c->model, i);
            ok = (c->outs[i] = calloc(1, av_detect__numel(ti) * av_nn_dtype_size(ti->dtype) + 1)) != NULL;
        }
        if (!ok)
            st = AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "classifier: out of memory");
    }
    if (st) {
        av_detect_classifier_close(c);
        return st;
    }
    *out = c;
    return AV_DETECT_OK;
}

void av_detect_classifier_close(av_detect_classifier *c)
{
    if (!c)
        return;
    if (c->model) {
        for (int i = 0; c->ins && i < av_nn_num_inputs(c->model); i++)
            free(c->ins[i]);
        for (int i = 0; c->outs && i < av_nn_num_outputs(c->model); i++)
            free(c->outs[i]);
    }
    free(c->ins);
    free(c->outs);
    free(c->px);
    free(c->probs);
    av_nn_ctx_free(c->ctx);
    av_nn_model_free(c->model);
    av_detect__manifest_free(&c->m);
    free(c);
}

void av_detect_classifier_info(const av_detect_classifier *c, int *w, int *h, const char **dtype)
{
    *w = c->m.in_w;
    *h = c->m.in_h;
    *dtype = av_nn_dtype_name(av_nn_input(c->model, c->in)->dtype);
}

av_detect_status av_detect_classify(av_detect_classifier *c, const void *image, size_t len,
                                    long long max_bytes, long long max_pixels, int k,
                                    av_detect_species *out, int *n, char *err, size_t errlen)
{
    *n = 0;
    av_detect__img img;
    av_detect_status st =
        av_detect__img_decode(image, len, max_bytes > 0 ? max_bytes : DEFAULT_MAX_BYTES,
                              max_pixels > 0 ? max_pixels : DEFAULT_MAX_PIXELS, &img, err, errlen);
    if (st)
        return st;
    int rc = av_detect__img_crop_area(&img, 0, 0, img.w, img.h, c->m.in_w, c->m.in_h, c->px);
    av_detect__img_free(&img);
    if (rc)
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "classify: resize failed");
    av_detect__fill_input(&c->m, av_nn_input(c->model, c->in), NULL, c->px, c->ins[c->in]);
    char e[512] = "";
    if (av_nn_run(c->ctx, (const void *const *)c->ins, c->outs, e, sizeof e) != AV_NN_OK)
        return AV_BASE_FAIL(AV_DETECT_E_ENGINE, err, errlen, "classify: %s", e);
    av_detect__read_scores(&c->m, av_nn_output(c->model, c->out), c->outs[c->out], c->probs,
                           c->n_out);
    int idx[AV_DETECT_TOPK_MAX];
    if (k > AV_DETECT_TOPK_MAX)
        k = AV_DETECT_TOPK_MAX;
    if (k < 1)
        k = 1;
    int got = av_detect__topk(c->probs, c->n_out, c->m.background, k, idx);
    for (int i = 0; i < got; i++) {
        av_detect_species *s = &out[i];
        s->class_index = idx[i];
        s->score = c->probs[idx[i]];
        if (idx[i] < c->m.n_labels) {
            av_detect_split_label(c->m.labels[idx[i]], s->scientific, sizeof s->scientific,
                                  s->common, sizeof s->common);
        } else {
            snprintf(s->scientific, sizeof s->scientific, "class %d", idx[i]);
            s->common[0] = '\0';
        }
    }
    *n = got;
    return AV_DETECT_OK;
}
