/*
 * second.c - the optional ImageNet second opinion (second.h): its manifest
 * and class groups, one engine context per worker, group sums of a crop.
 */
#include "detect/second.h"
#include "base/base.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detect/manifest.h"
#include "detect/tensor.h"

#define MANIFEST_MAX (1 << 20)

static const char *const GROUP_NAMES[AV_DETECT__SECOND_GROUPS] = {"bird", "artefact"};

struct av_detect__second {
    av_detect__manifest m;
    av_nn_model *model;
    int in, out, n_out;
    av_detect__second_rules rules;
    char sha256[65]; /* the manifest's "sha256" of the model file, "" none */
};

struct av_detect__second_ctx {
    av_nn_ctx *ctx;
    void **ins, **outs;
    int n_in, n_out;
    float *probs;
};

static int get_unit(json_t *o, const char *key, double *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        *out = 0;
        return 0;
    }
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)
        return av_base_errf(err, errlen, "second_opinion.%s: a number in [0, 1]", key);
    *out = json_number_value(v);
    return 0;
}

int av_detect__second_rules_parse(const char *json, size_t len, int n_classes,
                                  av_detect__second_rules *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return av_base_errf(err, errlen, "line %d: %s", je.line, je.text);
    int rc = -1;
    json_t *so = json_object_get(root, "second_opinion");
    json_t *groups = json_object_get(so, "groups");
    if (!json_is_object(so) || !json_is_object(groups)) {
        av_base_errf(err, errlen, "second_opinion.groups: an object is required");
        goto out;
    }
    for (int g = 0; g < AV_DETECT__SECOND_GROUPS; g++) {
        json_t *ranges = json_object_get(groups, GROUP_NAMES[g]);
        size_t n = json_array_size(ranges);
        if (!json_is_array(ranges) || n == 0 || n > AV_DETECT__SECOND_RANGES) {
            av_base_errf(err, errlen, "second_opinion.groups.%s: 1 to %d [first, last] ranges",
                         GROUP_NAMES[g], AV_DETECT__SECOND_RANGES);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *a = json_array_get(ranges, i);
            json_t *lo = json_array_get(a, 0), *hi = json_array_get(a, 1);
            if (json_array_size(a) != 2 || !json_is_integer(lo) || !json_is_integer(hi) ||
                json_integer_value(lo) < 0 || json_integer_value(lo) > json_integer_value(hi) ||
                json_integer_value(hi) >= n_classes) {
                av_base_errf(err, errlen,
                             "second_opinion.groups.%s[%zu]: [first, last] class indices, "
                             "0 <= first <= last < %d",
                             GROUP_NAMES[g], i, n_classes);
                goto out;
            }
            r->lo[g][i] = (int)json_integer_value(lo);
            r->hi[g][i] = (int)json_integer_value(hi);
        }
        r->n_ranges[g] = (int)n;
    }
    if (get_unit(so, "whole_image_min_bird", &r->rescue_min_bird, err, errlen) ||
        get_unit(so, "veto_max_bird", &r->veto_max_bird, err, errlen) ||
        get_unit(so, "veto_min_artefact", &r->veto_min_artefact, err, errlen) ||
        get_unit(so, "veto_max_species", &r->veto_max_species, err, errlen))
        goto out;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void av_detect__second_sum(const av_detect__second_rules *r, const float *probs, int n,
                           av_detect__second_sums *sums)
{
    for (int g = 0; g < AV_DETECT__SECOND_GROUPS; g++) {
        double s = 0;
        for (int i = 0; i < r->n_ranges[g]; i++)
            for (int c = r->lo[g][i]; c <= r->hi[g][i] && c < n; c++)
                s += probs[c];
        sums->group[g] = s;
    }
}

int av_detect__second_asks(const av_detect__second_rules *r, double species_best)
{
    return r->veto_max_bird > 0 && (r->veto_max_species <= 0 || species_best < r->veto_max_species);
}

int av_detect__second_vetoes(const av_detect__second_rules *r, const av_detect__second_sums *sums)
{
    return r->veto_max_bird > 0 && sums->group[AV_DETECT__SECOND_BIRD] < r->veto_max_bird &&
           sums->group[AV_DETECT__SECOND_ARTEFACT] >= r->veto_min_artefact;
}

const av_detect__second_rules *av_detect__second_rules_of(const av_detect__second *s)
{
    return &s->rules;
}

void av_detect__second_close(av_detect__second *s)
{
    if (!s)
        return;
    av_nn_model_free(s->model);
    av_detect__manifest_free(&s->m);
    free(s);
}

/* 1 when the model file and the label file the manifest text names (relative
 * to dir, or absolute) are both there; a manifest too broken to say is
 * "installed", so that loading it reports what is wrong. */
static int installed(const char *dir, const char *text, size_t len)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root)
        return 1;
    const char *files[2] = {json_string_value(json_object_get(root, "file")),
                            json_string_value(json_object_get(json_object_get(root, "labels"),
                                                              "file"))};
    int yes = 1;
    for (int i = 0; i < 2 && yes; i++) {
        char p[AV_DETECT__PATH_MAX];
        if (!files[i])
            continue;
        snprintf(p, sizeof p, "%s%s%s", files[i][0] == '/' ? "" : dir,
                 files[i][0] == '/' ? "" : "/", files[i]);
        yes = access(p, R_OK) == 0;
    }
    json_decref(root);
    return yes;
}

/* The manifest's optional "sha256" (64 hex digits) into hex ("" when
 * absent). 0, or -1 when it is there but not such a string. */
static int manifest_sha256(const char *text, size_t len, char hex[65])
{
    hex[0] = '\0';
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    const json_t *v = root ? json_object_get(root, "sha256") : NULL;
    int bad = 0;
    if (v) {
        const char *h = json_string_value(v);
        bad = !h || strlen(h) != 64 || strspn(h, "0123456789abcdef") != 64;
        if (!bad)
            memcpy(hex, h, 65);
    }
    json_decref(root);
    return bad ? -1 : 0;
}

void av_detect__second_absent_why(const char *dir, char *note, size_t len)
{
    char path[AV_DETECT__PATH_MAX];
    snprintf(path, sizeof path, "%s/imagenet.json", dir);
    char err[256], *text = NULL;
    size_t n = 0;
    if (access(path, F_OK) != 0)
        snprintf(note, len, "%s is absent", path);
    else if (av_detect__read_file(path, MANIFEST_MAX, &text, &n, err, sizeof err))
        snprintf(note, len, "%s", err);
    else if (!installed(dir, text, n))
        snprintf(note, len, "the model or label file %s names is not installed", path);
    else
        snprintf(note, len, "%s is installed but was not opened", path);
    free(text);
}

const char *av_detect__second_model(const av_detect__second *s, const char **sha256)
{
    *sha256 = s->sha256;
    return s->m.path;
}

av_detect_status av_detect__second_open(const char *dir, av_detect__second **out, char *err,
                                        size_t errlen)
{
    *out = NULL;
    char path[AV_DETECT__PATH_MAX];
    snprintf(path, sizeof path, "%s/imagenet.json", dir);
    if (access(path, F_OK) != 0)
        return AV_DETECT_OK;
    char e[512] = "", *text = NULL;
    size_t len = 0;
    av_detect_status st = av_detect__read_file(path, MANIFEST_MAX, &text, &len, err, errlen);
    if (st)
        return st;
    if (!installed(dir, text, len)) {
        free(text); /* the optional model is not installed: no second opinion */
        return AV_DETECT_OK;
    }
    av_detect__second *s = calloc(1, sizeof *s);
    if (!s) {
        free(text);
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "second opinion: out of memory");
    }
    st = av_detect__manifest_load(path, &s->m, err, errlen);
    if (!st && s->m.role != AV_DETECT__CLASSIFIER)
        st = AV_BASE_FAIL(AV_DETECT_E_MANIFEST, err, errlen, "%s: role is not classifier", path);
    if (!st && av_nn_load(s->m.path, &s->model, e, sizeof e) != AV_NN_OK)
        st = AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: %s", s->m.path, e);
    if (!st) {
        s->in = s->m.input_name[0] ? av_nn_find_input(s->model, s->m.input_name) : 0;
        s->out = s->m.output_name[0] ? av_nn_find_output(s->model, s->m.output_name) : 0;
        if (s->in < 0 || s->out < 0)
            st = AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: cannot find its input/output",
                              s->m.path);
    }
    if (!st && av_detect__check_input(&s->m, av_nn_input(s->model, s->in), e, sizeof e))
        st = AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s", e);
    if (!st) {
        const av_nn_tensor_info *to = av_nn_output(s->model, s->out);
        size_t n = av_detect__numel(to);
        if (n == 0 || n > 100000 || n != (size_t)s->m.n_labels ||
            (to->dtype != AV_NN_F32 && to->dtype != AV_NN_U8 && to->dtype != AV_NN_I8))
            st = AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen,
                              "%s: output is not a score vector of its %d labels", s->m.path,
                              s->m.n_labels);
        s->n_out = (int)n;
    }
    if (!st && av_detect__second_rules_parse(text, len, s->n_out, &s->rules, e, sizeof e))
        st = AV_BASE_FAIL(AV_DETECT_E_MANIFEST, err, errlen, "%s: %s", path, e);
    if (!st && manifest_sha256(text, len, s->sha256))
        st = AV_BASE_FAIL(AV_DETECT_E_MANIFEST, err, errlen,
                          "%s: sha256: 64 hex digits of the model file", path);
    free(text);
    if (st) {
        av_detect__second_close(s);
        return st;
    }
    *out = s;
    return AV_DETECT_OK;
}

void av_detect__second_ctx_free(av_detect__second_ctx *c)
{
    if (!c)
        return;
    av_detect__bufs_free(c->ins, c->n_in);
    av_detect__bufs_free(c->outs, c->n_out);
    free(c->probs);
    av_nn_ctx_free(c->ctx);
    free(c);
}

av_detect_status av_detect__second_ctx_new(const av_detect__second *s, av_nn_pool *pool,
                                           int threads, av_detect__second_ctx **out, char *err,
                                           size_t errlen)
{
    *out = NULL;
    av_detect__second_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "second opinion: out of memory");
    char e[512] = "";
    av_nn_ctx_opts co = {.threads = threads, .backend = AV_NN_BACKEND_XNNPACK, .pool = pool};
    if (av_nn_ctx_new(s->model, &co, &c->ctx, e, sizeof e) != AV_NN_OK) {
        av_detect__second_ctx_free(c);
        return AV_BASE_FAIL(AV_DETECT_E_ENGINE, err, errlen, "%s: %s", s->m.name, e);
    }
    c->n_in = av_nn_num_inputs(s->model);
    c->n_out = av_nn_num_outputs(s->model);
    c->ins = av_detect__bufs_alloc(s->model, 1, 1);
    c->outs = av_detect__bufs_alloc(s->model, 0, 1);
    c->probs = malloc((size_t)s->n_out * sizeof *c->probs);
    if (!c->ins || !c->outs || !c->probs) {
        av_detect__second_ctx_free(c);
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "second opinion: out of memory");
    }
    *out = c;
    return AV_DETECT_OK;
}

void av_detect__second_input_size(const av_detect__second *s, int *w, int *h)
{
    *w = s->m.in_w;
    *h = s->m.in_h;
}

int av_detect__second_run(const av_detect__second *s, av_detect__second_ctx *c,
                          const uint8_t *px, av_detect__second_sums *sums, char *err,
                          size_t errlen)
{
    av_detect__fill_input(&s->m, av_nn_input(s->model, s->in), NULL, px, c->ins[s->in]);
    char e[512] = "";
    if (av_nn_run(c->ctx, (const void *const *)c->ins, c->outs, e, sizeof e) != AV_NN_OK)
        return av_base_errf(err, errlen, "%s: %s", s->m.name, e);
    if (av_detect__read_scores(&s->m, av_nn_output(s->model, s->out), c->outs[s->out], c->probs,
                               (size_t)s->n_out))
        return av_base_errf(err, errlen, "%s: output dtype not supported", s->m.name);
    av_detect__second_sum(&s->rules, c->probs, s->n_out, sums);
    return 0;
}

const av_nn_model *av_detect__second_nn(const av_detect__second *s)
{
    return s ? s->model : NULL;
}

void av_detect__second_fill(const av_detect__second *s, const uint8_t *px, void **in, int j)
{
    const av_nn_tensor_info *ti = av_nn_input(s->model, s->in);
    size_t in_bytes = av_detect__numel(ti) * av_nn_dtype_size(ti->dtype);
    av_detect__fill_input(&s->m, ti, NULL, px, (uint8_t *)in[s->in] + (size_t)j * in_bytes);
}

int av_detect__second_run_n(const av_detect__second *s, av_detect__second_ctx *c,
                            av_nn_ctx *bctx, void **in, void **out, int n,
                            av_detect__second_sums *sums, char *err, size_t errlen)
{
    const av_nn_tensor_info *to = av_nn_output(s->model, s->out);
    size_t out_bytes = av_detect__numel(to) * av_nn_dtype_size(to->dtype);
    char e[512] = "";
    if (av_nn_run(bctx, (const void *const *)in, out, e, sizeof e) != AV_NN_OK)
        return av_base_errf(err, errlen, "%s: %s", s->m.name, e);
    for (int j = 0; j < n; j++) {
        if (av_detect__read_scores(&s->m, to, (const uint8_t *)out[s->out] + (size_t)j * out_bytes,
                                   c->probs, (size_t)s->n_out))
            return av_base_errf(err, errlen, "%s: output dtype not supported", s->m.name);
        av_detect__second_sum(&s->rules, c->probs, s->n_out, &sums[j]);
    }
    return 0;
}
