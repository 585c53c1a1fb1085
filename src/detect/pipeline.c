/*
 * pipeline.c - open the models named by models/pipeline.json once (manifest
 * and model checks, the species answer rules), and plan the first worker's
 * engine contexts while opening, so the first request runs on ready
 * contexts instead of paying for weight packing and arena planning.
 * Running is in pipeline_run.c, batches in pipeline_batch.c, species in
 * pipeline_species.c, the worker pool in pipeline_pool.c (pipeline_impl.h).
 */
#include "detect/pipeline_impl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PIPELINE_JSON_MAX (64 * 1024)

/* ---- opening ---- */

typedef struct pipeline_cfg {
    char detector[64], species[64];
    double crop_margin, whole_min;
    species_view views[SPECIES_VIEWS_MAX];
    int n_views;
    av_detect__passes passes;
    av_detect__illus illus;
} pipeline_cfg;

/* "species_tta" (optional): an array of "mirror" and extra crop margins
 * (numbers in [0, 1]). The views are every margin (crop_margin first), each
 * plain and, with "mirror", mirrored too; at most SPECIES_VIEWS_MAX. */
static int parse_tta(const json_t *j, pipeline_cfg *pc, const char *path, char *err,
                     size_t errlen)
{
    double margins[SPECIES_VIEWS_MAX] = {pc->crop_margin};
    int nm = 1, mirror = 0;
    pc->views[0] = (species_view){pc->crop_margin, 0};
    pc->n_views = 1;
    if (!j)
        return 0;
    if (!json_is_array(j))
        goto bad;
    for (size_t i = 0; i < json_array_size(j); i++) {
        const json_t *v = json_array_get(j, i);
        if (json_is_string(v) && !strcmp(json_string_value(v), "mirror")) {
            mirror = 1;
        } else if (json_is_number(v) && json_number_value(v) >= 0 &&
                   json_number_value(v) <= 1 && nm < SPECIES_VIEWS_MAX) {
            margins[nm++] = json_number_value(v);
        } else {
            goto bad;
        }
    }
    if (nm * (1 + mirror) > SPECIES_VIEWS_MAX)
        goto bad;
    pc->n_views = 0;
    for (int m = 0; m < nm; m++)
        for (int f = 0; f <= mirror; f++)
            pc->views[pc->n_views++] = (species_view){margins[m], f};
    return 0;
bad:
    av_base_errf(err, errlen,
                 "%s: \"species_tta\" must be an array of \"mirror\" and crop margins in "
                 "[0, 1], %d species crops per box at most",
                 path, SPECIES_VIEWS_MAX);
    return -1;
}

static av_detect_status read_pipeline_json(const char *dir, pipeline_cfg *pc, char *err,
                                           size_t errlen)
{
    char path[AV_DETECT__PATH_MAX];
    snprintf(path, sizeof path, "%s/pipeline.json", dir);
    char *text;
    size_t len;
    av_detect_status st = av_detect__read_file(path, PIPELINE_JSON_MAX, &text, &len, err, errlen);
    if (st)
        return st;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!root)
        return AV_BASE_FAIL(AV_DETECT_E_MANIFEST, err, errlen, "%s: line %d: %s", path, je.line, je.text);
    const char *d = NULL, *s = NULL;
    double margin = -1, wmin = -1;
    json_t *jm = json_object_get(root, "crop_margin");
    json_t *jw = json_object_get(root, "whole_image_min_species_score");
    if (json_unpack_ex(root, &je, 0, "{s:s, s:s}", "detector", &d, "species", &s) ||
        !json_is_number(jm) || !json_is_number(jw)) {
        json_decref(root);
        return AV_BASE_FAIL(AV_DETECT_E_MANIFEST, err, errlen,
                     "%s: needs \"detector\" and \"species\" (strings), \"crop_margin\" and "
                     "\"whole_image_min_species_score\" (numbers)",
                     path);
    }
    margin = json_number_value(jm);
    wmin = json_number_value(jw);
    int bad = strlen(d) >= sizeof pc->detector || strlen(s) >= sizeof pc->species || strchr(d, '/') ||
              strchr(s, '/') || !(margin >= 0 && margin <= 1) || !(wmin >= 0 && wmin <= 1);
    char perr[512] = "";
    if (!bad && (av_detect__passes_parse(json_object_get(root, "passes"), path, &pc->passes,
                                         perr, sizeof perr) ||
                 av_detect__illus_parse(json_object_get(root, "illustration"), path, &pc->illus,
                                        perr, sizeof perr))) {
        json_decref(root);
        return AV_BASE_FAIL(AV_DETECT_E_MANIFEST, err, errlen, "%s", perr);
    }
    if (!bad) {
        snprintf(pc->detector, sizeof pc->detector, "%s", d);
        snprintf(pc->species, sizeof pc->species, "%s", s);
        pc->crop_margin = margin;
        pc->whole_min = wmin;
        if (parse_tta(json_object_get(root, "species_tta"), pc, path, perr, sizeof perr)) {
            json_decref(root);
            return AV_BASE_FAIL(AV_DETECT_E_MANIFEST, err, errlen, "%s", perr);
        }
    }
    json_decref(root);
    if (bad)
        return AV_BASE_FAIL(AV_DETECT_E_MANIFEST, err, errlen,
                     "%s: detector/species must be plain manifest names, crop_margin and "
                     "whole_image_min_species_score in [0, 1]",
                     path);
    return AV_DETECT_OK;
}

static int find_io(const av_nn_model *m, int input, const char *name)
{
    int n = input ? av_nn_num_inputs(m) : av_nn_num_outputs(m);
    if (name && name[0]) {
        int i = input ? av_nn_find_input(m, name) : av_nn_find_output(m, name);
        if (i >= 0)
            return i;
        /* TF.js names may carry a ":0" suffix on one side only */
        char alt[160];
        size_t l = strlen(name);
        if (l > 2 && !strcmp(name + l - 2, ":0"))
            snprintf(alt, sizeof alt, "%.*s", (int)(l - 2), name);
        else
            snprintf(alt, sizeof alt, "%s:0", name);
        return input ? av_nn_find_input(m, alt) : av_nn_find_output(m, alt);
    }
    return n == 1 ? 0 : -1;
}

static av_detect_status load_model(const av_detect__manifest *man, av_nn_model **out, char *err,
                                   size_t errlen)
{
    char e[512] = "";
    av_nn_status ns = av_nn_load(man->path, out, e, sizeof e);
    if (ns != AV_NN_OK)
        return AV_BASE_FAIL(ns == AV_NN_E_IO ? AV_DETECT_E_IO : AV_DETECT_E_MODEL, err, errlen,
                     "%s: cannot load %s: %s%s", man->name, man->path, e,
                     ns == AV_NN_E_IO ? " (run scripts/setup to fetch the models)" : "");
    if (man->precision == AV_DETECT__INT8 &&
        (ns = av_nn_model_quantize(*out, man->calib_path, NULL, e, sizeof e)) != AV_NN_OK) {
        av_nn_model_free(*out);
        *out = NULL;
        return AV_BASE_FAIL(ns == AV_NN_E_IO ? AV_DETECT_E_IO : AV_DETECT_E_MODEL, err, errlen,
                     "%s: \"precision\": \"int8\": %s%s", man->name, e,
                     ns == AV_NN_E_IO ? " (make one with `aviary model quantize`)" : "");
    }
    /* the workers' contexts share packed weights: the graph's f32 copy goes
     * once packed (nn.h), and comes back if something needs it */
    av_nn_model_release_packed(*out, 1);
    return AV_DETECT_OK;
}

static av_detect_status check_detector(av_detect_pipeline *p, char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->det;
    p->det_in = find_io(p->det_model, 1, m->input_name);
    if (p->det_in < 0)
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: model has no input '%s'", m->name,
                     m->input_name);
    char e[512];
    if (av_detect__check_input(m, av_nn_input(p->det_model, p->det_in), e, sizeof e))
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s", e);
    int no = av_nn_num_outputs(p->det_model);
    for (int i = 0; i < no; i++) {
        const av_nn_tensor_info *ti = av_nn_output(p->det_model, i);
        if (ti->dtype != AV_NN_F32 || ti->rank > 8)
            return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: output '%s' is %s, decoder needs f32",
                         m->name, ti->name, av_nn_dtype_name(ti->dtype));
    }
    p->det_out = -1;
    if (m->kind == AV_DETECT__CENTERNET) {
        p->det_out = find_io(p->det_model, 0, m->output_name);
        if (p->det_out < 0)
            return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: model has no output '%s'", m->name,
                         m->output_name);
    }
    p->bird_class = -1;
    for (int i = 0; i < m->n_labels; i++)
        if (!strcmp(m->labels[i], "bird"))
            p->bird_class = i;
    return AV_DETECT_OK;
}

/* Load the retrained head the species manifest names and check it against
 * the tensor it reads and the labels. */
static av_detect_status check_head(av_detect_pipeline *p, char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->cls;
    char e[512];
    av_detect_status st = av_detect_head_load(m->head_path, &p->head, err, errlen);
    if (st)
        return st;
    if (av_nn_find_tensor(p->cls_model, m->head_features, &p->feat_info, NULL, e, sizeof e))
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: head.features: %s", m->name, e);
    size_t n = av_detect__numel(&p->feat_info);
    av_nn_dtype t = p->feat_info.dtype;
    if ((t != AV_NN_F32 && t != AV_NN_U8 && t != AV_NN_I8) || n != (size_t)p->head.dim ||
        p->head.n_classes != m->n_labels)
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen,
                     "%s: head %d x %d does not fit tensor '%s' (%zu %s values) and %d labels",
                     m->name, p->head.n_classes, p->head.dim, m->head_features, n,
                     av_nn_dtype_name(t), m->n_labels);
    p->feat_bytes = n * av_nn_dtype_size(t);
    return m->head_prior_path[0]
               ? av_detect_prior_load(m->head_prior_path, (const char *const *)m->labels,
                                      m->n_labels, m->background, &p->head, err, errlen)
               : AV_DETECT_OK;
}

static av_detect_status check_classifier(av_detect_pipeline *p, char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->cls;
    p->cls_in = find_io(p->cls_model, 1, m->input_name);
    p->cls_out = find_io(p->cls_model, 0, m->output_name);
    if (p->cls_in < 0 || p->cls_out < 0)
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: cannot find the %s tensor", m->name,
                     p->cls_in < 0 ? "input" : "output");
    char e[512];
    if (av_detect__check_input(m, av_nn_input(p->cls_model, p->cls_in), e, sizeof e))
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s", e);
    const av_nn_tensor_info *to = av_nn_output(p->cls_model, p->cls_out);
    size_t n = av_detect__numel(to);
    if (m->head_path[0])
        return check_head(p, err, errlen);
    if (n != (size_t)m->n_labels)
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: output has %zu classes, label file %d",
                     m->name, n, m->n_labels);
    if (to->dtype != AV_NN_F32 && to->dtype != AV_NN_U8 && to->dtype != AV_NN_I8)
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: output dtype %s not supported", m->name,
                     av_nn_dtype_name(to->dtype));
    return AV_DETECT_OK;
}

/* The training-prior balance (answer.h) from the classifier's last fully
 * connected bias, when its manifest asks for one; with a retrained head,
 * from the head's own bias (which starts as the model's), so a version
 * whose head is the base one answers as the base. */
static av_detect_status open_balance(av_detect_pipeline *p, char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->cls;
    if (m->answer_balance <= 0)
        return AV_DETECT_OK;
    if (m->head_path[0])
        return av_detect__answer_set_balance(&p->answer, p->head.b, p->head.n_classes,
                                             m->answer_balance, err, errlen)
                   ? AV_DETECT_E_MODEL
                   : AV_DETECT_OK;
    const char *in, *wn, *bn;
    av_nn_tensor_info bi;
    const void *bd = NULL;
    char e[512];
    if (av_nn_last_fc(p->cls_model, &in, &wn, &bn, e, sizeof e) ||
        (bn[0] && av_nn_find_tensor(p->cls_model, bn, &bi, &bd, e, sizeof e)))
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen, "%s: answer.balance: %s", m->name, e);
    if (!bd || (bi.dtype != AV_NN_F32 && bi.dtype != AV_NN_I32) ||
        av_detect__numel(&bi) != (size_t)m->n_labels)
        return AV_BASE_FAIL(AV_DETECT_E_MODEL, err, errlen,
                            "%s: answer.balance needs the last fully connected layer's bias "
                            "over the %d labels as a constant",
                            m->name, m->n_labels);
    float *b = malloc((size_t)m->n_labels * sizeof *b);
    if (!b)
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "answer.balance: out of memory");
    for (int c = 0; c < m->n_labels; c++)
        b[c] = bi.dtype == AV_NN_F32
                   ? ((const float *)bd)[c]
                   : bi.scale * (float)(((const int32_t *)bd)[c] - bi.zero_point);
    int bad = av_detect__answer_set_balance(&p->answer, b, m->n_labels, m->answer_balance, err,
                                            errlen);
    free(b);
    return bad ? AV_DETECT_E_NOMEM : AV_DETECT_OK;
}

/* The species answer rules and, when given, the site species list; a bad
 * list fails the open (err says which line). */
static av_detect_status open_answer(av_detect_pipeline *p, const char *dir, const char *list,
                                    char *err, size_t errlen)
{
    if (av_detect__answer_init(&p->answer, &p->cls, err, errlen))
        return AV_DETECT_E_NOMEM;
    av_detect_status st = open_balance(p, err, errlen);
    if (st)
        return st;
    if (!list || !list[0])
        return AV_DETECT_OK;
    char path[AV_DETECT__PATH_MAX];
    /* a bare name is one of the shipped lists: models/sites/NAME.txt */
    if (!strchr(list, '/') && !strchr(list, '.'))
        snprintf(path, sizeof path, "%s/sites/%s.txt", dir, list);
    else
        snprintf(path, sizeof path, "%s", list);
    if (av_detect__answer_load_list(&p->answer, &p->cls, path, err, errlen))
        return AV_DETECT_E_ARG;
    return AV_DETECT_OK;
}

static void open_species(av_detect_pipeline *p, const char *dir, const char *name)
{
    char path[AV_DETECT__PATH_MAX], e[512] = "";
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    av_detect_status st = av_detect__manifest_load(path, &p->cls, e, sizeof e);
    if (st == AV_DETECT_OK && p->cls.role != AV_DETECT__CLASSIFIER) {
        snprintf(e, sizeof e, "%.400s: role is not classifier", path);
        st = AV_DETECT_E_MANIFEST;
    }
    if (st == AV_DETECT_OK && access(p->cls.path, R_OK) != 0) {
        snprintf(e, sizeof e, "%.400s not found", p->cls.path);
        st = AV_DETECT_E_IO;
    }
    if (st == AV_DETECT_OK)
        st = load_model(&p->cls, &p->cls_model, e, sizeof e);
    if (st == AV_DETECT_OK)
        st = check_classifier(p, e, sizeof e);
    if (st == AV_DETECT_OK) {
        p->has_species = 1;
        return;
    }
    av_nn_model_free(p->cls_model);
    p->cls_model = NULL;
    av_detect_head_free(&p->head);
    av_detect__manifest_free(&p->cls);
    snprintf(p->species_note, sizeof p->species_note,
             "species model unavailable (%.120s); birds are labelled 'Bird'. To add it run "
             "scripts/setup, or copy the model and its label file into %.150s/%.60s/",
             e, dir, name);
}

av_detect_status av_detect_pipeline_open(const char *models_dir, const av_detect_open_opts *opts,
                                         av_detect_pipeline **out, char *err, size_t errlen)
{
    *out = NULL;
    av_detect_open_opts o = opts ? *opts : (av_detect_open_opts){0};
    const char *dir = models_dir && models_dir[0] ? models_dir : "models";
    pipeline_cfg pc;
    av_detect_status st = read_pipeline_json(dir, &pc, err, errlen);
    if (st)
        return st;
    if (o.detector && o.detector[0]) {
        if (strchr(o.detector, '/') || strlen(o.detector) >= sizeof pc.detector)
            return AV_BASE_FAIL(AV_DETECT_E_ARG, err, errlen, "detector '%s' is not a manifest name",
                         o.detector);
        snprintf(pc.detector, sizeof pc.detector, "%s", o.detector);
    }
    av_detect_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "pipeline: out of memory");
    p->threads = o.threads;
    p->species_batch = o.species_batch > 0 ? o.species_batch : SPECIES_BATCH_DEFAULT;
    if (p->species_batch > SPECIES_BATCH_CAP)
        p->species_batch = SPECIES_BATCH_CAP;
    atomic_init(&p->batch_refused, 0);
    atomic_init(&p->second_refused, 0);
    atomic_init(&p->det_refused, 0);
    p->n_workers = o.max_contexts > 0 ? o.max_contexts : DEFAULT_CONTEXTS;
    p->crop_margin = pc.crop_margin;
    p->whole_min = pc.whole_min;
    memcpy(p->views, pc.views, sizeof p->views);
    p->n_views = pc.n_views;
    p->passes = pc.passes;
    p->illus = pc.illus;
    p->workers = calloc((size_t)p->n_workers, sizeof *p->workers);
    if (!p->workers || pthread_mutex_init(&p->mu, NULL)) {
        free(p->workers);
        free(p);
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "pipeline: out of memory");
    }
    if (pthread_cond_init(&p->cv, NULL)) {
        pthread_mutex_destroy(&p->mu);
        free(p->workers);
        free(p);
        return AV_BASE_FAIL(AV_DETECT_E_NOMEM, err, errlen, "pipeline: cannot create condition");
    }
    char path[AV_DETECT__PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.json", dir, pc.detector);
    st = av_detect__manifest_load(path, &p->det, err, errlen);
    if (!st && p->det.role != AV_DETECT__DETECTOR)
        st = AV_BASE_FAIL(AV_DETECT_E_MANIFEST, err, errlen, "%s: role must be detector", path);
    if (!st)
        st = load_model(&p->det, &p->det_model, err, errlen);
    if (!st)
        st = check_detector(p, err, errlen);
    if (st) {
        av_detect_pipeline_close(p);
        return st;
    }
    if (o.no_species)
        snprintf(p->species_note, sizeof p->species_note,
                 "species classification disabled; birds are labelled 'Bird'");
    else
        open_species(p, dir, pc.species);
    if (p->has_species && (st = open_answer(p, dir, o.species_list, err, errlen))) {
        av_detect_pipeline_close(p);
        return st;
    }
    /* the ImageNet second opinion judges bird boxes and box-free images,
     * both only with species (second.h) */
    if (p->has_species && (st = av_detect__second_open(dir, &p->second, err, errlen))) {
        av_detect_pipeline_close(p);
        return st;
    }
    if (!p->has_species)
        snprintf(p->second_note, sizeof p->second_note, "it needs the species model");
    else if (!p->second)
        av_detect__second_absent_why(dir, p->second_note, sizeof p->second_note);
    /* Plan one worker's contexts now (weights packed, arenas planned): the
     * first request then runs at once, and a model the engine cannot run
     * fails the open rather than a request. More workers are made when
     * requests overlap. */
    if ((st = av_detect__worker_init(p, &p->workers[0], err, errlen))) {
        av_detect_pipeline_close(p);
        return st;
    }
    *out = p;
    return AV_DETECT_OK;
}

void av_detect_pipeline_close(av_detect_pipeline *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_workers; i++)
        av_detect__worker_free(p, &p->workers[i]);
    free(p->workers);
    av_detect__second_close(p->second);
    av_nn_model_free(p->det_model);
    av_nn_model_free(p->cls_model);
    av_detect_head_free(&p->head);
    av_detect__manifest_free(&p->det);
    av_detect__manifest_free(&p->cls);
    av_detect__answer_free(&p->answer);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void av_detect_pipeline_pass_totals(av_detect_pipeline *p,
                                    av_detect_pass_totals out[AV_DETECT_PASS_N])
{
    pthread_mutex_lock(&p->mu);
    memcpy(out, p->totals, sizeof p->totals);
    pthread_mutex_unlock(&p->mu);
}

const char *av_detect_pipeline_detector(const av_detect_pipeline *p)
{
    return p->det.name;
}

int av_detect_pipeline_on_site_list(const av_detect_pipeline *p, const char *scientific)
{
    if (!p->has_species || !p->answer.allowed)
        return -1;
    return av_detect__answer_allows(&p->answer, &p->cls, scientific);
}

int av_detect_pipeline_has_species(const av_detect_pipeline *p)
{
    return p->has_species;
}

const char *av_detect_pipeline_species_note(const av_detect_pipeline *p)
{
    return p->species_note;
}

const char *av_detect_pipeline_second(const av_detect_pipeline *p, const char **sha256,
                                      const char **note)
{
    *sha256 = "";
    *note = p->second_note;
    return p->second ? av_detect__second_model(p->second, sha256) : NULL;
}

double av_detect_pipeline_species_baseline(const av_detect_pipeline *p)
{
    return p && p->has_species ? p->cls.baseline_confidence : -1.0;
}
