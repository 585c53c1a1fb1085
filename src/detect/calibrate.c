/*
 * calibrate.c - `aviary model quantize`: the int8 calibration table of a
 * float detector, from photos fed the way the pipeline feeds the detector
 * (whole photo, TF1-bilinear stretch to the input, the manifest's
 * normalisation and layout). The table (nn.h av_nn_calib_save) is what a
 * manifest with "precision": "int8" reads at load.
 */
#include "detect/detect.h"
#include "base/base.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detect/img.h"
#include "detect/manifest.h"
#include "detect/tensor.h"
#include "nn/nn.h"

#define CAL_MAX_BYTES (30LL * 1000 * 1000)
#define CAL_MAX_PIXELS (50LL * 1000 * 1000)
#define CAL_MAX_PHOTOS 100000

static int is_photo(const char *name)
{
    const char *dot = strrchr(name, '.');
    return name[0] != '.' && dot &&
           (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png") ||
            !strcasecmp(dot, ".bmp"));
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted photo file names directly in dir (malloc'd array of malloc'd names). */
static av_detect_status list_photos(const char *dir, char ***names, int *n, char *err,
                                    size_t errlen)
{
    *names = NULL, *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return AV_BASE_FAIL(AV_DETECT_E_IO, err, errlen, "cannot open photo folder %s", dir);
    int cap = 0;
    struct dirent *e;
    av_detect_status st = AV_DETECT_OK;
    while (!st && (e = readdir(d))) {
        if (!is_photo(e->d_name))
            continue;
        if (*n >= CAL_MAX_PHOTOS) {
            st = AV_BASE_FAIL(AV_DETECT_E_LIMIT, err, errlen, "%s: more than %d photos", dir,
                       CAL_MAX_PHOTOS);
            break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(*names, (size_t)cap * sizeof *grown);
            if (!grown) {
                st = AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "listing %s", dir);
                break;
            }
            *names = grown;
        }
        if (!((*names)[*n] = strdup(e->d_name)))
            st = AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "listing %s", dir);
        else
            (*n)++;
    }
    closedir(d);
    if (!st && *n == 0)
        st = AV_BASE_FAIL(AV_DETECT_E_ARG, err, errlen, "%s: no .jpg/.jpeg/.png/.bmp photos", dir);
    if (!st)
        qsort(*names, (size_t)*n, sizeof **names, by_name);
    return st;
}

/* Feed one photo through the float model, widening the ranges. */
static av_detect_status calib_photo(const av_detect__manifest *m, av_nn_model *model,
                                    av_nn_ctx *ctx, av_nn_calib *cal, const char *path,
                                    float *resized, void *in, void **outs, char *err,
                                    size_t errlen)
{
    char *bytes = NULL;
    size_t len = 0;
    av_detect_status st = av_detect__read_file(path, (size_t)CAL_MAX_BYTES, &bytes, &len, err,
                                               errlen);
    if (st)
        return st;
    av_detect__img img;
    char e[512];
    st = av_detect__img_decode(bytes, len, CAL_MAX_BYTES, CAL_MAX_PIXELS, &img, e, sizeof e);
    free(bytes);
    if (st)
        return AV_BASE_FAIL(st, err, errlen, "%s: %s", path, e);
    if (av_detect__img_resize_tf(&img, m->in_w, m->in_h, resized))
        st = AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "%s: resize failed", path);
    av_detect__img_free(&img);
    if (st)
        return st;
    av_detect__fill_input(m, av_nn_input(model, 0), resized, NULL, in);
    const void *ins[1] = {in};
    if (av_nn_calib_run(cal, ctx, ins, outs, e, sizeof e) != AV_NN_OK)
        return AV_BASE_FAIL(AV_DETECT_E_ENGINE, err, errlen, "%s: %s", path, e);
    return AV_DETECT_OK;
}

av_detect_status av_detect_calibrate(const char *manifest, const char *photo_dir,
                                     const char *out, char *out_used, size_t out_cap,
                                     int *n_photos, char *err, size_t errlen)
{
    if (!manifest || !photo_dir || !n_photos)
        return AV_BASE_FAIL(AV_DETECT_E_ARG, err, errlen, "calibrate: manifest, folder or count is NULL");
    *n_photos = 0;
    av_detect__manifest m;
    av_detect_status st = av_detect__manifest_load(manifest, &m, err, errlen);
    if (st)
        return st;
    av_nn_model *model = NULL;
    av_nn_ctx *ctx = NULL;
    av_nn_calib *cal = NULL;
    char **names = NULL, e[512], path[2048];
    int n = 0, no = 0;
    float *resized = NULL;
    void *in = NULL, **outs = NULL;
    /* default table: the one the manifest reads, else <name>.int8.calib beside it */
    const char *slash = strrchr(manifest, '/');
    char dflt[AV_DETECT__PATH_MAX];
    if (m.calib_path[0])
        snprintf(dflt, sizeof dflt, "%s", m.calib_path);
    else
        snprintf(dflt, sizeof dflt, "%.*s%s.int8.calib", slash ? (int)(slash - manifest + 1) : 0,
                 manifest, m.name);
    const char *dst = out && out[0] ? out : dflt;
    if (m.role != AV_DETECT__DETECTOR || m.resize != AV_DETECT__STRETCH)
        st = AV_BASE_FAIL(AV_DETECT_E_ARG, err, errlen,
                   "%s: calibration takes a detector manifest with \"resize\": \"stretch\"",
                   manifest);
    if (!st && av_nn_load(m.path, &model, e, sizeof e) != AV_NN_OK)
        st = AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: %s", m.path, e);
    if (!st && av_nn_num_inputs(model) != 1)
        st = AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: calibration needs a one-input model",
                   m.path);
    if (!st && av_detect__check_input(&m, av_nn_input(model, 0), e, sizeof e))
        st = AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s", e);
    av_nn_ctx_opts co = {.threads = 1, .backend = AV_NN_BACKEND_XNNPACK};
    if (!st && (av_nn_ctx_new(model, &co, &ctx, e, sizeof e) != AV_NN_OK ||
                av_nn_calib_new(model, &cal, e, sizeof e) != AV_NN_OK))
        st = AV_BASE_FAIL(AV_DETECT_E_ENGINE, err, errlen, "%s: %s", m.path, e);
    if (!st) {
        const av_nn_tensor_info *ti = av_nn_input(model, 0);
        no = av_nn_num_outputs(model);
        resized = malloc((size_t)m.in_w * (size_t)m.in_h * 3 * sizeof *resized);
        in = malloc(av_detect__numel(ti) * av_nn_dtype_size(ti->dtype) + 1);
        outs = calloc((size_t)no, sizeof *outs);
        int ok = resized && in && outs;
        for (int i = 0; ok && i < no; i++) {
            const av_nn_tensor_info *to = av_nn_output(model, i);
            ok = (outs[i] = malloc(av_detect__numel(to) * av_nn_dtype_size(to->dtype) + 1)) != NULL;
        }
        if (!ok)
            st = AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "calibrate: out of memory");
    }
    if (!st)
        st = list_photos(photo_dir, &names, &n, err, errlen);
    for (int i = 0; !st && i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", photo_dir, names[i]);
        st = calib_photo(&m, model, ctx, cal, path, resized, in, outs, err, errlen);
    }
    if (!st) {
        char comment[2200];
        snprintf(comment, sizeof comment,
                 "model %s (%s %s)\nphotos: %d from %s\nmade by: aviary model quantize", m.path,
                 m.name, m.version, n, photo_dir);
        if (av_nn_calib_save(cal, dst, comment, e, sizeof e) != AV_NN_OK)
            st = AV_BASE_FAIL(AV_DETECT_E_IO, err, errlen, "%s", e);
    }
    if (!st) {
        *n_photos = n;
        if (out_used && out_cap)
            snprintf(out_used, out_cap, "%s", dst);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    for (int i = 0; outs && i < no; i++)
        free(outs[i]);
    free(outs);
    free(in);
    free(resized);
    av_nn_calib_free(cal);
    av_nn_ctx_free(ctx);
    av_nn_model_free(model);
    av_detect__manifest_free(&m);
    return st;
}
