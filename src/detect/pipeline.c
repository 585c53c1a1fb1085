/*
 * pipeline.c - open the models named by models/pipeline.json once, then run
 * decode -> detect -> species -> annotate per image. Engine contexts (and
 * their scratch buffers) live in a small pool guarded by a mutex, so one
 * pipeline serves many threads.
 *
 * The bird crops of one image are classified in one batched engine run
 * (species_batch crops at most; more go in even chunks) on a context made
 * for exactly that many crops. Each worker keeps a few such contexts, one
 * per crop count, replacing the least recently used. When the engine cannot
 * make one (a classifier graph that does not batch) the pipeline logs why
 * once and classifies crops one at a time from then on.
 *
 * av_detect_run_batch does the same for the detector across images: up to
 * DET_BATCH_MAX images share one detector run on a worker context made for
 * that many, and the bird crops of all of them share the species runs. A
 * detector the engine cannot batch is logged once and its images run one
 * at a time.
 */
#include "detect/detect.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "detect/answer.h"
#include "detect/decode.h"
#include "detect/img.h"
#include "detect/manifest.h"
#include "detect/passes.h"
#include "detect/tensor.h"
#include "log/log.h"
#include "nn/nn.h"

#define PIPELINE_JSON_MAX (64 * 1024)
#define NMS_POOL 100 /* boxes kept by NMS before the class filter */
#define DEFAULT_CONTEXTS 4
#define DEFAULT_MAX_BYTES (30LL * 1000 * 1000)
#define DEFAULT_MAX_PIXELS (50LL * 1000 * 1000)
#define SPECIES_BATCH_DEFAULT 16 /* crops per batched species run */
#define SPECIES_BATCH_CAP 64     /* bound on av_detect_open_opts.species_batch */
/* Batched classifier contexts a worker keeps; for the iNat model each holds
 * ~1.5 MiB of arena per crop plus ~3.5 MiB of packed weights. */
#define BATCH_SLOTS 2
/* Images per batched detector run (more go in even chunks): NanoDet at 416
 * plans ~16 MiB of arena per image and its context takes ~29 ms per image
 * to make, so a worker keeps DET_SLOTS of them for the sizes last used. */
#define DET_BATCH_MAX 8
#define DET_SLOTS 2

/* A context for n samples per run, with its n-sample buffers. */
typedef struct cls_batch {
    int n;               /* samples per run; 0: empty slot */
    av_nn_ctx *ctx;
    void **in, **out;    /* one buffer per model input / output, n samples each */
    unsigned long used;  /* worker tick of the last use: the least recent is replaced */
} cls_batch;

/* One engine context per model plus the buffers one run needs. */
typedef struct worker {
    av_nn_pool *pool;         /* shared by det_ctx and cls_ctx; NULL: one thread */
    av_nn_ctx *det_ctx, *cls_ctx;
    void **det_in, **det_out; /* one buffer per model input / output */
    void **cls_in, **cls_out;
    float *resized;           /* detector input pixels, NHWC 0..255 */
    uint8_t *crop;            /* classifier input pixels, RGB8 */
    float *probs;             /* classifier scores */
    uint8_t *feat;            /* with a head: tapped features of species_batch crops */
    float *featf;             /* one crop's features, dequantised */
    av_detect__box *boxes;    /* NMS_POOL decoded boxes */
    av_detect__box *xboxes;   /* NMS_POOL boxes of one extra pass run (passes.c) */
    av_detect__tensor *touts; /* detector outputs as tensors */
    cls_batch cb[BATCH_SLOTS]; /* classifier, by crop count */
    cls_batch db[DET_SLOTS];   /* detector, by image count */
    unsigned long tick;       /* counts batched runs, for cls_batch.used */
    int ready, busy;
} worker;

struct av_detect_pipeline {
    av_detect__manifest det, cls;
    av_nn_model *det_model, *cls_model;
    int det_in, cls_in, cls_out; /* input / output indices */
    int det_out;                 /* centernet: the detections output */
    int has_species;
    av_detect__answer answer;    /* site list and naming rules (answer.h) */
    char species_note[512];
    int bird_class;              /* detector class that gets species, -1 none */
    double crop_margin, whole_min;
    av_detect__passes passes;    /* pipeline.json "passes" */
    av_detect_pass_totals totals[AV_DETECT_PASS_N]; /* under mu */
    int threads;
    int species_batch;           /* crops per batched run; 1: one at a time */
    atomic_int batch_refused;    /* 1: the engine could not batch the classifier (logged) */
    atomic_int det_refused;      /* 1: the engine could not batch the detector (logged) */
    av_detect_head head;         /* retrained head (cls.head_path), n_classes 0 = none */
    av_nn_tensor_info feat_info; /* the tensor it reads, per sample */
    size_t feat_bytes;           /* its bytes per sample */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    worker *workers;
    int n_workers;
};

static av_detect_status failf(char *err, size_t errlen, av_detect_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static av_detect_status failf(char *err, size_t errlen, av_detect_status st, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- opening ---- */

typedef struct pipeline_cfg {
    char detector[64], species[64];
    double crop_margin, whole_min;
    av_detect__passes passes;
} pipeline_cfg;

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
        return failf(err, errlen, AV_DETECT_E_MANIFEST, "%s: line %d: %s", path, je.line, je.text);
    const char *d = NULL, *s = NULL;
    double margin = -1, wmin = -1;
    json_t *jm = json_object_get(root, "crop_margin");
    json_t *jw = json_object_get(root, "whole_image_min_species_score");
    if (json_unpack_ex(root, &je, 0, "{s:s, s:s}", "detector", &d, "species", &s) ||
        !json_is_number(jm) || !json_is_number(jw)) {
        json_decref(root);
        return failf(err, errlen, AV_DETECT_E_MANIFEST,
                     "%s: needs \"detector\" and \"species\" (strings), \"crop_margin\" and "
                     "\"whole_image_min_species_score\" (numbers)",
                     path);
    }
    margin = json_number_value(jm);
    wmin = json_number_value(jw);
    int bad = strlen(d) >= sizeof pc->detector || strlen(s) >= sizeof pc->species || strchr(d, '/') ||
              strchr(s, '/') || !(margin >= 0 && margin <= 1) || !(wmin >= 0 && wmin <= 1);
    char perr[512] = "";
    if (!bad && av_detect__passes_parse(json_object_get(root, "passes"), path, &pc->passes, perr,
                                        sizeof perr)) {
        json_decref(root);
        return failf(err, errlen, AV_DETECT_E_MANIFEST, "%s", perr);
    }
    if (!bad) {
        snprintf(pc->detector, sizeof pc->detector, "%s", d);
        snprintf(pc->species, sizeof pc->species, "%s", s);
        pc->crop_margin = margin;
        pc->whole_min = wmin;
    }
    json_decref(root);
    if (bad)
        return failf(err, errlen, AV_DETECT_E_MANIFEST,
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
        return failf(err, errlen, ns == AV_NN_E_IO ? AV_DETECT_E_IO : AV_DETECT_E_MODEL,
                     "%s: cannot load %s: %s%s", man->name, man->path, e,
                     ns == AV_NN_E_IO ? " (run scripts/setup to fetch the models)" : "");
    return AV_DETECT_OK;
}

static av_detect_status check_detector(av_detect_pipeline *p, char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->det;
    p->det_in = find_io(p->det_model, 1, m->input_name);
    if (p->det_in < 0)
        return failf(err, errlen, AV_DETECT_E_MODEL, "%s: model has no input '%s'", m->name,
                     m->input_name);
    char e[512];
    if (av_detect__check_input(m, av_nn_input(p->det_model, p->det_in), e, sizeof e))
        return failf(err, errlen, AV_DETECT_E_MODEL, "%s", e);
    int no = av_nn_num_outputs(p->det_model);
    for (int i = 0; i < no; i++) {
        const av_nn_tensor_info *ti = av_nn_output(p->det_model, i);
        if (ti->dtype != AV_NN_F32 || ti->rank > 8)
            return failf(err, errlen, AV_DETECT_E_MODEL, "%s: output '%s' is %s, decoder needs f32",
                         m->name, ti->name, av_nn_dtype_name(ti->dtype));
    }
    p->det_out = -1;
    if (m->kind == AV_DETECT__CENTERNET) {
        p->det_out = find_io(p->det_model, 0, m->output_name);
        if (p->det_out < 0)
            return failf(err, errlen, AV_DETECT_E_MODEL, "%s: model has no output '%s'", m->name,
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
        return failf(err, errlen, AV_DETECT_E_MODEL, "%s: head.features: %s", m->name, e);
    size_t n = av_detect__numel(&p->feat_info);
    av_nn_dtype t = p->feat_info.dtype;
    if ((t != AV_NN_F32 && t != AV_NN_U8 && t != AV_NN_I8) || n != (size_t)p->head.dim ||
        p->head.n_classes != m->n_labels)
        return failf(err, errlen, AV_DETECT_E_MODEL,
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
        return failf(err, errlen, AV_DETECT_E_MODEL, "%s: cannot find the %s tensor", m->name,
                     p->cls_in < 0 ? "input" : "output");
    char e[512];
    if (av_detect__check_input(m, av_nn_input(p->cls_model, p->cls_in), e, sizeof e))
        return failf(err, errlen, AV_DETECT_E_MODEL, "%s", e);
    const av_nn_tensor_info *to = av_nn_output(p->cls_model, p->cls_out);
    size_t n = av_detect__numel(to);
    if (m->head_path[0])
        return check_head(p, err, errlen);
    if (n != (size_t)m->n_labels)
        return failf(err, errlen, AV_DETECT_E_MODEL, "%s: output has %zu classes, label file %d",
                     m->name, n, m->n_labels);
    if (to->dtype != AV_NN_F32 && to->dtype != AV_NN_U8 && to->dtype != AV_NN_I8)
        return failf(err, errlen, AV_DETECT_E_MODEL, "%s: output dtype %s not supported", m->name,
                     av_nn_dtype_name(to->dtype));
    return AV_DETECT_OK;
}

/* The species answer rules and, when given, the site species list; a bad
 * list fails the open (err says which line). */
static av_detect_status open_answer(av_detect_pipeline *p, const char *dir, const char *list,
                                    char *err, size_t errlen)
{
    if (av_detect__answer_init(&p->answer, &p->cls, err, errlen))
        return AV_DETECT_E_NOMEM;
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
            return failf(err, errlen, AV_DETECT_E_ARG, "detector '%s' is not a manifest name",
                         o.detector);
        snprintf(pc.detector, sizeof pc.detector, "%s", o.detector);
    }
    av_detect_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return failf(err, errlen, AV_DETECT_E_NOMEM, "pipeline: out of memory");
    p->threads = o.threads;
    p->species_batch = o.species_batch > 0 ? o.species_batch : SPECIES_BATCH_DEFAULT;
    if (p->species_batch > SPECIES_BATCH_CAP)
        p->species_batch = SPECIES_BATCH_CAP;
    atomic_init(&p->batch_refused, 0);
    atomic_init(&p->det_refused, 0);
    p->n_workers = o.max_contexts > 0 ? o.max_contexts : DEFAULT_CONTEXTS;
    p->crop_margin = pc.crop_margin;
    p->whole_min = pc.whole_min;
    p->passes = pc.passes;
    p->workers = calloc((size_t)p->n_workers, sizeof *p->workers);
    if (!p->workers || pthread_mutex_init(&p->mu, NULL)) {
        free(p->workers);
        free(p);
        return failf(err, errlen, AV_DETECT_E_NOMEM, "pipeline: out of memory");
    }
    if (pthread_cond_init(&p->cv, NULL)) {
        pthread_mutex_destroy(&p->mu);
        free(p->workers);
        free(p);
        return failf(err, errlen, AV_DETECT_E_NOMEM, "pipeline: cannot create condition");
    }
    char path[AV_DETECT__PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.json", dir, pc.detector);
    st = av_detect__manifest_load(path, &p->det, err, errlen);
    if (!st && p->det.role != AV_DETECT__DETECTOR)
        st = failf(err, errlen, AV_DETECT_E_MANIFEST, "%s: role must be detector", path);
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
    *out = p;
    return AV_DETECT_OK;
}

static void free_bufs(void **b, int n)
{
    if (!b)
        return;
    for (int i = 0; i < n; i++)
        free(b[i]);
    free(b);
}

static void batch_free(const av_nn_model *m, cls_batch *b)
{
    av_nn_ctx_free(b->ctx);
    free_bufs(b->in, b->in && m ? av_nn_num_inputs(m) : 0);
    free_bufs(b->out, b->out && m ? av_nn_num_outputs(m) : 0);
    memset(b, 0, sizeof *b);
}

static void worker_free(av_detect_pipeline *p, worker *w)
{
    for (int i = 0; i < BATCH_SLOTS; i++)
        batch_free(p->cls_model, &w->cb[i]); /* before the pool their contexts use */
    for (int i = 0; i < DET_SLOTS; i++)
        batch_free(p->det_model, &w->db[i]);
    av_nn_ctx_free(w->det_ctx);
    av_nn_ctx_free(w->cls_ctx);
    av_nn_pool_free(w->pool); /* after the contexts that use it */
    w->pool = NULL;
    free_bufs(w->det_in, p->det_model ? av_nn_num_inputs(p->det_model) : 0);
    free_bufs(w->det_out, p->det_model ? av_nn_num_outputs(p->det_model) : 0);
    free_bufs(w->cls_in, p->cls_model ? av_nn_num_inputs(p->cls_model) : 0);
    free_bufs(w->cls_out, p->cls_model ? av_nn_num_outputs(p->cls_model) : 0);
    free(w->resized);
    free(w->crop);
    free(w->probs);
    free(w->feat);
    free(w->featf);
    free(w->boxes);
    free(w->xboxes);
    free(w->touts);
    memset(w, 0, sizeof *w);
}

void av_detect_pipeline_close(av_detect_pipeline *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_workers; i++)
        worker_free(p, &p->workers[i]);
    free(p->workers);
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

double av_detect_pipeline_species_baseline(const av_detect_pipeline *p)
{
    return p && p->has_species ? p->cls.baseline_confidence : -1.0;
}

/* ---- the context pool ---- */

/* One zeroed buffer per tensor of a model's inputs or outputs, for n
 * samples (the models here have batch 1: the checks ask for [1,...]). */
static void **alloc_bufs(const av_nn_model *m, int inputs, size_t n_samples)
{
    int n = inputs ? av_nn_num_inputs(m) : av_nn_num_outputs(m);
    void **b = calloc((size_t)(n > 0 ? n : 1), sizeof *b);
    if (!b)
        return NULL;
    for (int i = 0; i < n; i++) {
        const av_nn_tensor_info *ti = inputs ? av_nn_input(m, i) : av_nn_output(m, i);
        size_t bytes = av_detect__numel(ti) * av_nn_dtype_size(ti->dtype);
        b[i] = bytes ? calloc(n_samples, bytes) : NULL;
        if (!b[i]) {
            free_bufs(b, i);
            return NULL;
        }
    }
    return b;
}

static av_detect_status worker_init(av_detect_pipeline *p, worker *w, char *err, size_t errlen)
{
    char e[512] = "";
    /* one thread pool for the worker's detector and classifier contexts, which
     * run one after the other: a pool each left idle workers spinning */
    if (av_nn_pool_new(p->threads, &w->pool, e, sizeof e) != AV_NN_OK)
        return failf(err, errlen, AV_DETECT_E_NOMEM, "%s", e);
    av_nn_ctx_opts co = {.threads = p->threads, .backend = AV_NN_BACKEND_XNNPACK,
                         .pool = w->pool};
    if (av_nn_ctx_new(p->det_model, &co, &w->det_ctx, e, sizeof e) != AV_NN_OK)
        return failf(err, errlen, AV_DETECT_E_ENGINE, "%s: %s", p->det.name, e);
    if (p->has_species && av_nn_ctx_new(p->cls_model, &co, &w->cls_ctx, e, sizeof e) != AV_NN_OK)
        return failf(err, errlen, AV_DETECT_E_ENGINE, "%s: %s", p->cls.name, e);
    int no = av_nn_num_outputs(p->det_model);
    w->det_in = alloc_bufs(p->det_model, 1, 1);
    w->det_out = alloc_bufs(p->det_model, 0, 1);
    w->resized = malloc((size_t)p->det.in_w * (size_t)p->det.in_h * 3 * sizeof(float));
    w->boxes = malloc(NMS_POOL * sizeof *w->boxes);
    w->xboxes = malloc(NMS_POOL * sizeof *w->xboxes);
    w->touts = calloc((size_t)no, sizeof *w->touts);
    int ok = w->det_in && w->det_out && w->resized && w->boxes && w->xboxes && w->touts;
    if (p->has_species) {
        w->cls_in = alloc_bufs(p->cls_model, 1, 1);
        w->cls_out = alloc_bufs(p->cls_model, 0, 1);
        w->crop = malloc((size_t)p->cls.in_w * (size_t)p->cls.in_h * 3);
        w->probs = malloc((size_t)p->cls.n_labels * sizeof *w->probs);
        ok = ok && w->cls_in && w->cls_out && w->crop && w->probs;
        if (p->head.n_classes) {
            w->feat = malloc((size_t)p->species_batch * p->feat_bytes);
            w->featf = malloc((size_t)p->head.dim * sizeof *w->featf);
            ok = ok && w->feat && w->featf;
        }
    }
    if (!ok)
        return failf(err, errlen, AV_DETECT_E_NOMEM, "pipeline: out of memory for run buffers");
    for (int i = 0; i < no; i++) {
        const av_nn_tensor_info *ti = av_nn_output(p->det_model, i);
        w->touts[i].data = w->det_out[i];
        w->touts[i].rank = ti->rank;
        for (int d = 0; d < ti->rank; d++)
            w->touts[i].dims[d] = ti->dims[d];
    }
    w->ready = 1;
    return AV_DETECT_OK;
}

static worker *acquire(av_detect_pipeline *p, char *err, size_t errlen, av_detect_status *st)
{
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int spare = -1;
        for (int i = 0; i < p->n_workers; i++) {
            if (p->workers[i].busy)
                continue;
            if (p->workers[i].ready) {
                p->workers[i].busy = 1;
                pthread_mutex_unlock(&p->mu);
                return &p->workers[i];
            }
            if (spare < 0)
                spare = i;
        }
        if (spare >= 0) {
            /* build outside the lock: packing weights takes a while */
            worker *w = &p->workers[spare];
            w->busy = 1;
            pthread_mutex_unlock(&p->mu);
            *st = worker_init(p, w, err, errlen);
            if (*st == AV_DETECT_OK)
                return w;
            pthread_mutex_lock(&p->mu);
            worker_free(p, w);
            pthread_cond_signal(&p->cv);
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        pthread_cond_wait(&p->cv, &p->mu);
    }
}

static void release(av_detect_pipeline *p, worker *w)
{
    pthread_mutex_lock(&p->mu);
    w->busy = 0;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* ---- one run ---- */

/* Resize img to the detector input and lay it out into dst (one sample of
 * input det_in); *map_w x *map_h is the image area the input spans. */
static av_detect_status det_prepare(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                    void *dst, double *map_w, double *map_h, char *err,
                                    size_t errlen)
{
    const av_detect__manifest *m = &p->det;
    *map_w = img->w, *map_h = img->h;
    if (m->resize == AV_DETECT__LETTERBOX) {
        /* scale to fit, pad right/bottom with 0: the input then spans in/scale pixels */
        double sc = fmin((double)m->in_w / img->w, (double)m->in_h / img->h);
        int nw = (int)fmax(1, fmin(m->in_w, round(img->w * sc)));
        int nh = (int)fmax(1, fmin(m->in_h, round(img->h * sc)));
        if (av_detect__img_resize_tf(img, nw, nh, w->resized))
            return failf(err, errlen, AV_DETECT_E_NOMEM, "detect: resize failed");
        /* spread the nw x nh rows into in_w-wide rows, last row first (in place) */
        for (int y = nh - 1; y >= 0; y--) {
            memmove(w->resized + (size_t)y * m->in_w * 3, w->resized + (size_t)y * nw * 3,
                    (size_t)nw * 3 * sizeof(float));
            memset(w->resized + ((size_t)y * m->in_w + nw) * 3, 0,
                   (size_t)(m->in_w - nw) * 3 * sizeof(float));
        }
        memset(w->resized + (size_t)nh * m->in_w * 3, 0,
               (size_t)(m->in_h - nh) * m->in_w * 3 * sizeof(float));
        *map_w = m->in_w / sc;
        *map_h = m->in_h / sc;
    } else if (av_detect__img_resize_tf(img, m->in_w, m->in_h, w->resized)) {
        return failf(err, errlen, AV_DETECT_E_NOMEM, "detect: resize failed");
    }
    av_detect__fill_input(m, av_nn_input(p->det_model, p->det_in), w->resized, NULL, dst);
    return AV_DETECT_OK;
}

/* Boxes of one image from its detector outputs t (one sample each, as the
 * model's outputs) into out (NMS_POOL); *nbox gets their count. */
static av_detect_status det_decode(av_detect_pipeline *p, const av_detect__tensor *t,
                                   double map_w, double map_h, double min_score,
                                   av_detect__box *out, int *nbox, char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->det;
    char e[512] = "";
    av_detect__dcfg cfg = {
        .min_score = min_score,
        .nms_iou = m->nms_iou,
        .max_out = NMS_POOL,
        .skip = m->skip,
        .n_skip = m->n_skip,
        .n_classes = m->n_labels,
        .in_w = m->in_w,
        .in_h = m->in_h,
        .map_w = map_w,
        .map_h = map_h,
        .box_scale = m->box_scale,
        .base_grid = m->base_grid,
    };
    int n = m->kind == AV_DETECT__CENTERNET
                ? av_detect__decode_centernet(&t[p->det_out], &cfg, out, e, sizeof e)
                : av_detect__decode_nanodet(t, av_nn_num_outputs(p->det_model), &cfg, out, e,
                                            sizeof e);
    if (n < 0)
        return failf(err, errlen, AV_DETECT_E_MODEL, "%s", e);
    *nbox = n;
    return AV_DETECT_OK;
}

/* One batch-1 detector run on img; boxes (image pixels) into out. */
static av_detect_status run_detector(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                     double min_score, av_detect__box *out, int *nbox, char *err,
                                     size_t errlen)
{
    double map_w, map_h;
    av_detect_status st =
        det_prepare(p, w, img, w->det_in[p->det_in], &map_w, &map_h, err, errlen);
    if (st)
        return st;
    char e[512] = "";
    if (av_nn_run(w->det_ctx, (const void *const *)w->det_in, w->det_out, e, sizeof e) != AV_NN_OK)
        return failf(err, errlen, AV_DETECT_E_ENGINE, "%s: %s", p->det.name, e);
    return det_decode(p, w->touts, map_w, map_h, min_score, out, nbox, err, errlen);
}

/* ---- detector passes (settings and box arithmetic in passes.c) ---- */

/* Keep the bird-class boxes of b[0..n); returns their count. */
static int only_class(av_detect__box *b, int n, int cls)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (b[i].cls == cls)
            b[k++] = b[i];
    return k;
}

/* Zoom-out at one scale: the image shrunk onto a padded canvas
 * (av_detect__zoom_canvas), one detector run; bird boxes mapped back and
 * merged into w->boxes. *found gets the bird boxes the run found. */
static av_detect_status pass_zoom(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                  double scale, double min_score, int *nbox, int *found,
                                  av_detect_pass_info *pi, char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->det;
    av_detect__zoom z;
    av_detect__zoom_geom(img->w, img->h, m->in_w, m->in_h, m->resize != AV_DETECT__LETTERBOX,
                         scale, &z);
    uint8_t *canvas;
    if (av_detect__zoom_canvas(img, &z, &canvas))
        return failf(err, errlen, AV_DETECT_E_NOMEM, "zoom-out: out of memory");
    av_detect__img cimg = av_detect__img_wrap(z.cw, z.ch, canvas);
    double thr = fmax(p->passes.zoom_min_score, min_score); /* never below the run's */
    int n = 0;
    av_detect_status st = run_detector(p, w, &cimg, thr, w->xboxes, &n, err, errlen);
    free(canvas);
    if (st)
        return st;
    pi->runs++;
    n = only_class(w->xboxes, n, p->bird_class);
    *found = n;
    av_detect__map_boxes(w->xboxes, n, z.sx, z.sy, -z.ox * z.sx, -z.oy * z.sy);
    int before = *nbox;
    *nbox = av_detect__merge(w->boxes, *nbox, NMS_POOL, w->xboxes, n, m->nms_iou);
    pi->boxes += *nbox - before > 0 ? *nbox - before : 0;
    return AV_DETECT_OK;
}

/* Tiles: one detector run per overlapping tile; bird boxes not cut by an
 * inner tile edge are mapped back and merged into w->boxes. */
static av_detect_status pass_tiles(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                   double min_score, int *nbox, av_detect_pass_info *pi,
                                   char *err, size_t errlen)
{
    av_detect__rect t[AV_DETECT__TILES_MAX];
    int nt = av_detect__tile_grid(img->w, img->h, p->passes.tiles_grid, p->passes.tiles_overlap,
                                  t);
    uint8_t *buf = nt > 1 ? malloc((size_t)t[0].w * t[0].h * 3) : NULL;
    if (nt > 1 && !buf)
        return failf(err, errlen, AV_DETECT_E_NOMEM, "tiles: out of memory");
    av_detect_status st = AV_DETECT_OK;
    for (int k = 0; k < nt && nt > 1 && !st; k++) {
        av_detect__tile_copy(img, &t[k], buf);
        av_detect__img timg = av_detect__img_wrap(t[k].w, t[k].h, buf);
        int n = 0;
        st = run_detector(p, w, &timg, min_score, w->xboxes, &n, err, errlen);
        if (st)
            break;
        pi->runs++;
        n = only_class(w->xboxes, n, p->bird_class);
        av_detect__map_boxes(w->xboxes, n, 1, 1, t[k].x, t[k].y);
        n = av_detect__drop_cut(w->xboxes, n, &t[k], img->w, img->h, 2);
        int before = *nbox;
        *nbox = av_detect__merge(w->boxes, *nbox, NMS_POOL, w->xboxes, n, p->det.nms_iou);
        pi->boxes += *nbox - before > 0 ? *nbox - before : 0;
    }
    free(buf);
    return st;
}

/* The passes after the first detector run, on w->boxes (*nbox of them):
 * zoom-out and tiles when their conditions hold, then nested suppression.
 * What each did goes to r->passes. */
static av_detect_status run_passes(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                   const av_detect_run_opts *o, double min_score, int *nbox,
                                   av_detect_result *r, char *err, size_t errlen)
{
    const av_detect__passes *c = &p->passes;
    for (int i = 0; i < AV_DETECT_PASS_N; i++)
        r->passes[i].on = ((o->skip_passes >> i) & 1u)
                              ? 0
                              : o->passes ? (int)((o->passes >> i) & 1u) : c->on[i];
    if (p->bird_class < 0)
        return AV_DETECT_OK; /* every pass is about bird boxes */
    av_detect_pass_info *pi = &r->passes[AV_DETECT_PASS_ZOOM];
    if (pi->on &&
        av_detect__zoom_wanted(w->boxes, *nbox, p->bird_class, img->w, img->h, c->zoom_fill)) {
        double t = now_ms();
        pi->ran = 1;
        av_detect_status st = AV_DETECT_OK;
        int found = 0;
        for (int i = 0; i < c->n_zoom_scales && !found && !st; i++)
            st = pass_zoom(p, w, img, c->zoom_scales[i], min_score, nbox, &found, pi, err,
                           errlen);
        pi->ms = now_ms() - t;
        if (st)
            return st;
    }
    pi = &r->passes[AV_DETECT_PASS_TILES];
    if (pi->on && (img->w >= c->tiles_min_side || img->h >= c->tiles_min_side)) {
        double t = now_ms();
        pi->ran = 1;
        av_detect_status st = pass_tiles(p, w, img, min_score, nbox, pi, err, errlen);
        pi->ms = now_ms() - t;
        if (st)
            return st;
    }
    pi = &r->passes[AV_DETECT_PASS_NESTED];
    if (pi->on) {
        double t = now_ms();
        int before = *nbox;
        pi->ran = 1;
        *nbox = av_detect__suppress_nested(w->boxes, *nbox, c->nested_inside);
        pi->boxes = before - *nbox;
        pi->ms = now_ms() - t;
    }
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < AV_DETECT_PASS_N; i++) {
        const av_detect_pass_info *q = &r->passes[i];
        p->totals[i].ran += (unsigned long long)q->ran;
        p->totals[i].runs += (unsigned long long)q->runs;
        p->totals[i].boxes += (unsigned long long)q->boxes;
        p->totals[i].ms += q->ms;
    }
    pthread_mutex_unlock(&p->mu);
    return AV_DETECT_OK;
}

/* Square crop around a box with a context margin, clamped to the image. */
static void crop_square(const av_detect__img *img, const av_detect_det *d, double margin, int *x1,
                        int *y1, int *x2, int *y2)
{
    double cx = (d->x1 + d->x2) / 2, cy = (d->y1 + d->y2) / 2;
    double side = fmax(d->x2 - d->x1, d->y2 - d->y1) * (1 + 2 * margin);
    *x1 = (int)fmax(0, floor(cx - side / 2));
    *y1 = (int)fmax(0, floor(cy - side / 2));
    *x2 = (int)fmin(img->w, ceil(cx + side / 2));
    *y2 = (int)fmin(img->h, ceil(cy + side / 2));
    if (*x2 <= *x1)
        *x2 = *x1 + 1 <= img->w ? *x1 + 1 : img->w, *x1 = *x2 - 1;
    if (*y2 <= *y1)
        *y2 = *y1 + 1 <= img->h ? *y1 + 1 : img->h, *y1 = *y2 - 1;
}

/* Crop [x1,y1,x2,y2) of img to the classifier input into dst (one sample). */
static int fill_crop(av_detect_pipeline *p, worker *w, const av_detect__img *img, int x1, int y1,
                     int x2, int y2, void *dst, char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->cls;
    if (av_detect__img_crop_area(img, x1, y1, x2, y2, m->in_w, m->in_h, w->crop)) {
        failf(err, errlen, AV_DETECT_E_NOMEM, "species: crop failed");
        return -1;
    }
    av_detect__fill_input(m, av_nn_input(p->cls_model, p->cls_in), NULL, w->crop, dst);
    return 0;
}

/* Tapped features (feat_info's dtype) -> dim floats. */
static void dequantise(const av_nn_tensor_info *ti, const void *src, float *dst, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = ti->dtype == AV_NN_F32 ? ((const float *)src)[i]
                 : ti->dtype == AV_NN_U8
                     ? ti->scale * (float)(((const uint8_t *)src)[i] - ti->zero_point)
                     : ti->scale * (float)(((const int8_t *)src)[i] - ti->zero_point);
}

/* Species (top_k) of one sample's classifier output buf (with a head: its
 * tapped features) into d, restricted to the site list, and the shown
 * answer (answer.h; a box to drop is left with species but rule NONE,
 * dropped by species_step); returns the best non-background score before the
 * site list (whether a whole image shows a bird is not the list's business). */
static double read_species(av_detect_pipeline *p, worker *w, const void *buf, int top_k,
                           av_detect_det *d)
{
    const av_detect__manifest *m = &p->cls;
    const av_nn_tensor_info *to = av_nn_output(p->cls_model, p->cls_out);
    if (p->head.n_classes) {
        dequantise(&p->feat_info, buf, w->featf, p->head.dim);
        av_detect_head_logits(&p->head, w->featf, w->probs);
        av_detect_softmax(w->probs, p->head.n_classes);
        av_detect_prior_apply(&p->head, w->probs);
    } else {
        av_detect__read_scores(m, to, buf, w->probs, (size_t)m->n_labels);
    }
    double raw_best = av_detect__answer_restrict(&p->answer, w->probs);
    int idx[AV_DETECT_TOPK_MAX];
    int k = av_detect__topk(w->probs, (size_t)m->n_labels, m->background, top_k, idx);
    d->n_species = k;
    for (int i = 0; i < k; i++) {
        av_detect_species *s = &d->species[i];
        s->class_index = idx[i];
        s->score = w->probs[idx[i]];
        av_detect_split_label(m->labels[idx[i]], s->scientific, sizeof s->scientific, s->common,
                              sizeof s->common);
    }
    d->rule = AV_DETECT_RULE_NONE;
    if (k)
        av_detect__answer_name(&p->answer, w->probs, d);
    return k ? raw_best : 0.0;
}

/* One species run of n samples; with a head it also taps the features
 * into feat (n samples). */
static av_nn_status run_species(av_detect_pipeline *p, av_nn_ctx *c, void **in, void **out,
                                uint8_t *feat, int n, char *e, size_t elen)
{
    if (!p->head.n_classes)
        return av_nn_run(c, (const void *const *)in, out, e, elen);
    return av_nn_run_tap(c, (const void *const *)in, out, p->cls.head_features, feat,
                         (size_t)n * p->feat_bytes, e, elen);
}

/* Classify pixels [x1,y1,x2,y2) of img; fills species (top_k) and returns
 * the best non-background score, or -1 on engine failure. */
static double classify(av_detect_pipeline *p, worker *w, const av_detect__img *img, int x1,
                       int y1, int x2, int y2, int top_k, av_detect_det *d, char *err,
                       size_t errlen)
{
    if (fill_crop(p, w, img, x1, y1, x2, y2, w->cls_in[p->cls_in], err, errlen))
        return -1;
    char e[512] = "";
    if (run_species(p, w->cls_ctx, w->cls_in, w->cls_out, w->feat, 1, e, sizeof e) != AV_NN_OK) {
        failf(err, errlen, AV_DETECT_E_ENGINE, "%s: %s", p->cls.name, e);
        return -1;
    }
    return read_species(p, w, p->head.n_classes ? (void *)w->feat : w->cls_out[p->cls_out],
                        top_k, d);
}

/* The worker's context of model m for n samples per run from slots[0..ns),
 * made on first use (replacing the least recently used one) on the
 * worker's pool; NULL with e set when the engine cannot make it. */
static cls_batch *batch_slot(av_detect_pipeline *p, worker *w, const av_nn_model *m,
                             cls_batch *slots, int ns, int n, char *e, size_t elen)
{
    cls_batch *lru = &slots[0];
    w->tick++;
    for (int i = 0; i < ns; i++) {
        if (slots[i].n == n) {
            slots[i].used = w->tick;
            return &slots[i];
        }
        if (slots[i].used < lru->used)
            lru = &slots[i];
    }
    batch_free(m, lru);
    av_nn_ctx_opts co = {.threads = p->threads, .backend = AV_NN_BACKEND_XNNPACK,
                         .pool = w->pool, .batch = n};
    if (av_nn_ctx_new(m, &co, &lru->ctx, e, elen) != AV_NN_OK)
        return NULL;
    lru->in = alloc_bufs(m, 1, (size_t)n);
    lru->out = alloc_bufs(m, 0, (size_t)n);
    if (!lru->in || !lru->out) {
        batch_free(m, lru);
        snprintf(e, elen, "out of memory for %d-sample buffers", n);
        return NULL;
    }
    lru->n = n;
    lru->used = w->tick;
    return lru;
}

/*
 * Classify the n crops of dets (n >= 2) in one engine run. 0 on success, 1
 * when the engine cannot batch this classifier (nothing written: the caller
 * runs the crops one by one; batching is then off for the pipeline, logged
 * once), -1 on a failure that fails the run.
 */
static int classify_batch(av_detect_pipeline *p, worker *w, const av_detect__img *const *imgs,
                          av_detect_det **dets, int n, int top_k, char *err, size_t errlen)
{
    char e[512] = "";
    cls_batch *b = batch_slot(p, w, p->cls_model, w->cb, BATCH_SLOTS, n, e, sizeof e);
    if (!b) {
        if (atomic_exchange(&p->batch_refused, 1) == 0)
            av_log(AV_LOG_WARN, "species_batch_off", "model", p->cls.name, "error", e, "effect",
                   "species crops run one at a time", NULL);
        return 1;
    }
    const av_nn_tensor_info *ti = av_nn_input(p->cls_model, p->cls_in);
    const av_nn_tensor_info *to = av_nn_output(p->cls_model, p->cls_out);
    size_t in_bytes = av_detect__numel(ti) * av_nn_dtype_size(ti->dtype);
    size_t out_bytes = av_detect__numel(to) * av_nn_dtype_size(to->dtype);
    for (int j = 0; j < n; j++) {
        int x1, y1, x2, y2;
        crop_square(imgs[j], dets[j], p->crop_margin, &x1, &y1, &x2, &y2);
        if (fill_crop(p, w, imgs[j], x1, y1, x2, y2, (uint8_t *)b->in[p->cls_in] + j * in_bytes,
                      err, errlen))
            return -1;
    }
    if (run_species(p, b->ctx, b->in, b->out, w->feat, n, e, sizeof e) != AV_NN_OK) {
        failf(err, errlen, AV_DETECT_E_ENGINE, "%s: %s", p->cls.name, e);
        return -1;
    }
    for (int j = 0; j < n; j++)
        read_species(p, w,
                     p->head.n_classes ? (const void *)(w->feat + j * p->feat_bytes)
                                       : (const uint8_t *)b->out[p->cls_out] + j * out_bytes,
                     top_k, dets[j]);
    return 0;
}

/*
 * Species of the crops dets[0..n), dets[j] cut from imgs[j]: one batched run
 * when n >= 2 and batching is on, else one run each. *batched is cleared
 * when a chunk of two or more ran one by one. 0, or -1 on failure (err set).
 */
static int classify_chunk(av_detect_pipeline *p, worker *w, const av_detect__img *const *imgs,
                          av_detect_det **dets, int n, int top_k, int *batched, char *err,
                          size_t errlen)
{
    if (n >= 2 && p->species_batch > 1 && !atomic_load(&p->batch_refused)) {
        int rc = classify_batch(p, w, imgs, dets, n, top_k, err, errlen);
        if (rc <= 0)
            return rc;
    }
    if (n >= 2)
        *batched = 0;
    for (int j = 0; j < n; j++) {
        int x1, y1, x2, y2;
        crop_square(imgs[j], dets[j], p->crop_margin, &x1, &y1, &x2, &y2);
        if (classify(p, w, imgs[j], x1, y1, x2, y2, top_k, dets[j], err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* Label of a box without species (read_species names the others). */
static void set_label(av_detect_pipeline *p, av_detect_det *d)
{
    if (d->n_species == 0) {
        const char *name = d->class_index == p->bird_class || d->whole_image ? "Bird"
                                                                               : d->class_name;
        snprintf(d->label, sizeof d->label, "%s", name);
        d->confidence = d->det_score;
    }
}

/* The first nbox of w->boxes that the run keeps (class, size) as r->dets,
 * in original-image pixels. */
static av_detect_status keep_boxes(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                   int nbox, const av_detect_run_opts *o, av_detect_result *r,
                                   char *err, size_t errlen)
{
    const av_detect__manifest *m = &p->det;
    r->dets = calloc((size_t)m->max_dets + 1, sizeof *r->dets); /* + 1: a whole-image bird */
    if (!r->dets)
        return failf(err, errlen, AV_DETECT_E_NOMEM, "detect: out of memory");
    for (int i = 0; i < nbox && r->n_dets < m->max_dets; i++) {
        const av_detect__box *b = &w->boxes[i];
        if (!av_detect__manifest_keeps(m, b->cls, o->all_classes))
            continue;
        av_detect_det *d = &r->dets[r->n_dets];
        d->x1 = (float)fmax(0, fmin(img->w, b->x1));
        d->y1 = (float)fmax(0, fmin(img->h, b->y1));
        d->x2 = (float)fmax(0, fmin(img->w, b->x2));
        d->y2 = (float)fmax(0, fmin(img->h, b->y2));
        if (d->x2 - d->x1 < 1 || d->y2 - d->y1 < 1)
            continue; /* degenerate (NanoDet argmax bin 0 on both sides) */
        d->det_score = b->score;
        d->class_index = b->cls;
        snprintf(d->class_name, sizeof d->class_name, "%s", m->labels[b->cls]);
        r->n_dets++;
    }
    return AV_DETECT_OK;
}

/*
 * Species and labels for n detected images (rs[i] cut from imgs[i]): the
 * bird crops of all of them in even chunks of at most species_batch crops
 * (20 crops at 16 run as 10 + 10), then, for an image without a bird box,
 * the whole image. 0, or -1 on an engine failure (err set).
 */
static int species_step(av_detect_pipeline *p, worker *w, int n, const av_detect__img *const *imgs,
                        av_detect_result *const *rs, const av_detect_run_opts *o, char *err,
                        size_t errlen)
{
    int top_k = o->top_k > 0 ? (o->top_k < AV_DETECT_TOPK_MAX ? o->top_k : AV_DETECT_TOPK_MAX) : 3;
    if (p->has_species) {
        int birds = 0;
        for (int k = 0; k < n; k++)
            for (int i = 0; i < rs[k]->n_dets; i++)
                birds += rs[k]->dets[i].class_index == p->bird_class;
        int chunks = (birds + p->species_batch - 1) / p->species_batch;
        int per = chunks ? (birds + chunks - 1) / chunks : 0;
        av_detect_det *chunk[SPECIES_BATCH_CAP];
        const av_detect__img *cimg[SPECIES_BATCH_CAP];
        int nc = 0, done = 0, batched = birds >= 2 && p->species_batch > 1;
        for (int k = 0; k < n; k++) {
            for (int i = 0; i < rs[k]->n_dets; i++) {
                if (rs[k]->dets[i].class_index != p->bird_class)
                    continue;
                cimg[nc] = imgs[k];
                chunk[nc++] = &rs[k]->dets[i];
                done++;
                if (nc == per || done == birds) {
                    if (classify_chunk(p, w, cimg, chunk, nc, top_k, &batched, err, errlen))
                        return -1;
                    nc = 0;
                }
            }
        }
        for (int k = 0; k < n; k++) {
            av_detect_result *r = rs[k];
            int mine = 0;
            for (int i = 0; i < r->n_dets; i++)
                mine += r->dets[i].class_index == p->bird_class;
            r->batched_species = batched && mine > 0;
            if (mine)
                continue;
            /* No bird box: ask the species model about the whole image and
             * report a whole-image bird when it is confident (pipeline.json). */
            const av_detect__img *img = imgs[k];
            av_detect_det *d = &r->dets[r->n_dets];
            memset(d, 0, sizeof *d);
            double best = classify(p, w, img, 0, 0, img->w, img->h, top_k, d, err, errlen);
            if (best < 0)
                return -1;
            if (best >= p->whole_min) {
                d->x1 = d->y1 = 0;
                d->x2 = (float)img->w;
                d->y2 = (float)img->h;
                d->class_index = -1;
                d->whole_image = 1;
                snprintf(d->class_name, sizeof d->class_name, "bird");
                r->n_dets++;
            } else {
                memset(d, 0, sizeof *d);
            }
        }
    }
    for (int k = 0; k < n; k++) {
        av_detect_result *r = rs[k];
        int kept = 0;
        for (int i = 0; i < r->n_dets; i++) {
            av_detect_det *d = &r->dets[i];
            if (d->n_species > 0 && d->rule == AV_DETECT_RULE_NONE)
                continue; /* answer.h: background, and a weak detector score */
            set_label(p, d);
            r->dets[kept++] = *d;
        }
        r->n_dets = kept;
    }
    return 0;
}

static av_detect_status run_locked(av_detect_pipeline *p, worker *w, const av_detect__img *img,
                                   const av_detect_run_opts *o, av_detect_result *r, char *err,
                                   size_t errlen)
{
    double t = now_ms();
    int nbox = 0;
    double min_score = o->min_score > 0 ? o->min_score : p->det.min_score;
    av_detect_status st = run_detector(p, w, img, min_score, w->boxes, &nbox, err, errlen);
    if (!st)
        st = run_passes(p, w, img, o, min_score, &nbox, r, err, errlen);
    if (!st)
        st = keep_boxes(p, w, img, nbox, o, r, err, errlen);
    if (st)
        return st;
    double t2 = now_ms();
    r->ms_detect = t2 - t;
    if (species_step(p, w, 1, &img, &r, o, err, errlen))
        return AV_DETECT_E_ENGINE;
    r->ms_species = now_ms() - t2;
    return AV_DETECT_OK;
}

/* What a result says about the image and the models, before any run. */
static void result_header(const av_detect_pipeline *p, const av_detect__img *img,
                          av_detect_result *r)
{
    r->width = img->w;
    r->height = img->h;
    snprintf(r->detector, sizeof r->detector, "%s", p->det.name);
    snprintf(r->detector_version, sizeof r->detector_version, "%s", p->det.version);
    r->species_available = p->has_species;
    if (p->has_species) {
        snprintf(r->classifier, sizeof r->classifier, "%s", p->cls.name);
        snprintf(r->classifier_version, sizeof r->classifier_version, "%s", p->cls.version);
    } else {
        snprintf(r->species_note, sizeof r->species_note, "%s", p->species_note);
    }
}

/* After the engine: annotate when asked, then ms_total (from t0); on
 * failure (st, or the annotation's) free r. */
static av_detect_status result_finish(const av_detect__img *img, const av_detect_run_opts *o,
                                      double t0, av_detect_status st, av_detect_result *r,
                                      char *err, size_t errlen)
{
    if (!st && o->annotate) {
        double t = now_ms();
        st = av_detect__img_annotate(img, r->dets, r->n_dets, &r->annotated, &r->annotated_len,
                                     r->annotated_mime, sizeof r->annotated_mime, err, errlen);
        r->ms_draw = now_ms() - t;
    }
    if (st) {
        av_detect_result_free(r);
        return st;
    }
    r->ms_total = now_ms() - t0;
    return AV_DETECT_OK;
}

/* Detect, name species and optionally annotate on decoded pixels; img is
 * borrowed. t0 is when the run started (for ms_total). */
static av_detect_status run_img(av_detect_pipeline *p, const av_detect__img *img,
                                const av_detect_run_opts *o, double t0, av_detect_result *r,
                                char *err, size_t errlen)
{
    av_detect_status st = AV_DETECT_OK;
    result_header(p, img, r);
    worker *w = acquire(p, err, errlen, &st);
    if (w) {
        st = run_locked(p, w, img, o, r, err, errlen);
        release(p, w);
    }
    return result_finish(img, o, t0, st, r, err, errlen);
}

av_detect_status av_detect_run(av_detect_pipeline *p, const void *image, size_t len,
                               const av_detect_run_opts *opts, av_detect_result *r, char *err,
                               size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!p || (!image && len))
        return failf(err, errlen, AV_DETECT_E_ARG, "detect: no pipeline or image");
    av_detect_run_opts o = opts ? *opts : (av_detect_run_opts){0};
    long long max_bytes = o.max_bytes > 0 ? o.max_bytes : DEFAULT_MAX_BYTES;
    long long max_pixels = o.max_pixels > 0 ? o.max_pixels : DEFAULT_MAX_PIXELS;
    double t0 = now_ms();
    av_detect__img img;
    av_detect_status st =
        av_detect__img_decode(image, len, max_bytes, max_pixels, &img, err, errlen);
    if (st)
        return st;
    r->ms_decode = now_ms() - t0;
    st = run_img(p, &img, &o, t0, r, err, errlen);
    av_detect__img_free(&img);
    return st;
}

av_detect_status av_detect_run_rgb(av_detect_pipeline *p, int width, int height,
                                   const unsigned char *rgb, const av_detect_run_opts *opts,
                                   av_detect_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!p || !rgb || width < 1 || height < 1)
        return failf(err, errlen, AV_DETECT_E_ARG, "detect: no pipeline or pixels");
    av_detect_run_opts o = opts ? *opts : (av_detect_run_opts){0};
    long long max_pixels = o.max_pixels > 0 ? o.max_pixels : DEFAULT_MAX_PIXELS;
    if ((long long)width * height > max_pixels)
        return failf(err, errlen, AV_DETECT_E_LIMIT, "%dx%d pixels exceed the limit of %lld",
                     width, height, max_pixels);
    av_detect__img img = av_detect__img_wrap(width, height, rgb);
    return run_img(p, &img, &o, now_ms(), r, err, errlen);
}

/* ---- several images, shared detector runs ---- */

#define BATCH_ERR 512 /* message room per image while a chunk runs */

/*
 * The engine part for k decoded images on worker w (those with st[j] ==
 * AV_DETECT_OK): one detector run for all of them on the worker's context
 * for that many (or one run each when the engine cannot batch the
 * detector), then the species of all their crops. A failure fails only the
 * images it concerns: st[j] and e[j] say why. *runs counts detector runs.
 */
static void batch_locked(av_detect_pipeline *p, worker *w, int k, const av_detect__img *imgs,
                         const av_detect_run_opts *o, av_detect_result *rs,
                         av_detect_status *st, char (*e)[BATCH_ERR], int *runs)
{
    int idx[DET_BATCH_MAX], m = 0;
    for (int j = 0; j < k; j++)
        if (st[j] == AV_DETECT_OK)
            idx[m++] = j;
    if (m == 0)
        return;
    double t = now_ms();
    cls_batch *b = NULL;
    char msg[512] = "";
    if (m >= 2 && !atomic_load(&p->det_refused)) {
        b = batch_slot(p, w, p->det_model, w->db, DET_SLOTS, m, msg, sizeof msg);
        if (!b && atomic_exchange(&p->det_refused, 1) == 0)
            av_log(AV_LOG_WARN, "detector_batch_off", "model", p->det.name, "error", msg,
                   "effect", "images of a batch run the detector one at a time", NULL);
    }
    if (!b) { /* one image, or a detector that does not batch: av_detect_run's path */
        for (int i = 0; i < m; i++) {
            int j = idx[i];
            st[j] = run_locked(p, w, &imgs[j], o, &rs[j], e[j], BATCH_ERR);
            (*runs)++;
        }
        return;
    }
    const av_nn_tensor_info *ti = av_nn_input(p->det_model, p->det_in);
    size_t in_bytes = av_detect__numel(ti) * av_nn_dtype_size(ti->dtype);
    double map_w[DET_BATCH_MAX], map_h[DET_BATCH_MAX];
    for (int i = 0; i < m; i++) /* a sample that fails here is run but not read */
        st[idx[i]] = det_prepare(p, w, &imgs[idx[i]], (uint8_t *)b->in[p->det_in] + i * in_bytes,
                                 &map_w[i], &map_h[i], e[idx[i]], BATCH_ERR);
    if (av_nn_run(b->ctx, (const void *const *)b->in, b->out, msg, sizeof msg) != AV_NN_OK) {
        for (int i = 0; i < m; i++)
            if (st[idx[i]] == AV_DETECT_OK)
                st[idx[i]] = failf(e[idx[i]], BATCH_ERR, AV_DETECT_E_ENGINE, "%s: %s",
                                   p->det.name, msg);
        return;
    }
    (*runs)++;
    int no = av_nn_num_outputs(p->det_model);
    double min_score = o->min_score > 0 ? o->min_score : p->det.min_score;
    for (int i = 0; i < m; i++) {
        int j = idx[i];
        if (st[j] != AV_DETECT_OK)
            continue;
        for (int q = 0; q < no; q++) { /* sample i of every output, shaped as batch 1 */
            const av_nn_tensor_info *to = av_nn_output(p->det_model, q);
            size_t ob = av_detect__numel(to) * av_nn_dtype_size(to->dtype);
            w->touts[q].data = (const float *)(const void *)((const uint8_t *)b->out[q] + i * ob);
        }
        int nbox = 0;
        st[j] = det_decode(p, w->touts, map_w[i], map_h[i], min_score, w->boxes, &nbox, e[j],
                           BATCH_ERR);
        for (int q = 0; q < no; q++)
            w->touts[q].data = w->det_out[q]; /* back to the batch-1 buffers the passes use */
        if (st[j] == AV_DETECT_OK)
            st[j] = run_passes(p, w, &imgs[j], o, min_score, &nbox, &rs[j], e[j], BATCH_ERR);
        if (st[j] == AV_DETECT_OK)
            st[j] = keep_boxes(p, w, &imgs[j], nbox, o, &rs[j], e[j], BATCH_ERR);
    }
    double t2 = now_ms(), own[DET_BATCH_MAX], shared = t2 - t;
    for (int i = 0; i < m; i++) { /* each image's passes are its own time */
        own[i] = 0;
        for (int q = 0; q < AV_DETECT_PASS_N; q++)
            own[i] += rs[idx[i]].passes[q].ms;
        shared -= own[i];
    }
    const av_detect__img *li[DET_BATCH_MAX];
    av_detect_result *lr[DET_BATCH_MAX];
    int nl = 0;
    for (int i = 0; i < m; i++) {
        if (st[idx[i]] != AV_DETECT_OK)
            continue;
        li[nl] = &imgs[idx[i]];
        lr[nl++] = &rs[idx[i]];
        rs[idx[i]].ms_detect = shared / m + own[i]; /* the shared run's time, per image */
    }
    if (nl && species_step(p, w, nl, li, lr, o, msg, sizeof msg)) {
        for (int i = 0; i < m; i++)
            if (st[idx[i]] == AV_DETECT_OK)
                st[idx[i]] = failf(e[idx[i]], BATCH_ERR, AV_DETECT_E_ENGINE, "%s", msg);
        return;
    }
    double ms = nl ? (now_ms() - t2) / nl : 0;
    for (int i = 0; i < nl; i++)
        lr[i]->ms_species = ms;
}

/* Decode k (<= DET_BATCH_MAX) images, run them on one worker, annotate.
 * errs (may be NULL) has errlen bytes per image. */
static void run_chunk(av_detect_pipeline *p, int k, const av_detect_image *in,
                      const av_detect_run_opts *o, av_detect_result *rs, av_detect_status *st,
                      char *errs, size_t errlen, int *runs)
{
    av_detect__img imgs[DET_BATCH_MAX];
    char e[DET_BATCH_MAX][BATCH_ERR];
    long long max_bytes = o->max_bytes > 0 ? o->max_bytes : DEFAULT_MAX_BYTES;
    long long max_pixels = o->max_pixels > 0 ? o->max_pixels : DEFAULT_MAX_PIXELS;
    double t0 = now_ms();
    int any = 0;
    for (int j = 0; j < k; j++) {
        const av_detect_image *im = &in[j];
        memset(&imgs[j], 0, sizeof imgs[j]);
        e[j][0] = '\0';
        if (im->rgb && (im->width < 1 || im->height < 1)) {
            st[j] = failf(e[j], BATCH_ERR, AV_DETECT_E_ARG, "detect: no pipeline or pixels");
        } else if (im->rgb && (long long)im->width * im->height > max_pixels) {
            st[j] = failf(e[j], BATCH_ERR, AV_DETECT_E_LIMIT,
                          "%dx%d pixels exceed the limit of %lld", im->width, im->height,
                          max_pixels);
        } else if (im->rgb) {
            imgs[j] = av_detect__img_wrap(im->width, im->height, im->rgb);
            st[j] = AV_DETECT_OK;
        } else if (!im->bytes && im->len) {
            st[j] = failf(e[j], BATCH_ERR, AV_DETECT_E_ARG, "detect: no pipeline or image");
        } else {
            double t = now_ms();
            st[j] = av_detect__img_decode(im->bytes, im->len,
                                          im->max_bytes > 0 ? im->max_bytes : max_bytes,
                                          max_pixels, &imgs[j], e[j], BATCH_ERR);
            rs[j].ms_decode = now_ms() - t;
        }
        if (st[j] == AV_DETECT_OK) {
            result_header(p, &imgs[j], &rs[j]);
            any = 1;
        }
    }
    if (any) {
        char msg[BATCH_ERR] = "";
        av_detect_status ast = AV_DETECT_OK;
        worker *w = acquire(p, msg, sizeof msg, &ast);
        if (w) {
            batch_locked(p, w, k, imgs, o, rs, st, e, runs);
            release(p, w);
        } else {
            for (int j = 0; j < k; j++)
                if (st[j] == AV_DETECT_OK)
                    st[j] = failf(e[j], BATCH_ERR, ast, "%s", msg);
        }
    }
    for (int j = 0; j < k; j++) {
        if (st[j] == AV_DETECT_OK)
            st[j] = result_finish(&imgs[j], o, t0, AV_DETECT_OK, &rs[j], e[j], BATCH_ERR);
        else
            av_detect_result_free(&rs[j]);
        av_detect__img_free(&imgs[j]);
        if (errs && errlen)
            snprintf(errs + (size_t)j * errlen, errlen, "%s", st[j] ? e[j] : "");
    }
}

av_detect_status av_detect_run_batch(av_detect_pipeline *p, int n, const av_detect_image *images,
                                     const av_detect_run_opts *opts, av_detect_result *results,
                                     av_detect_status *status, char *errs, size_t errlen,
                                     int *det_runs)
{
    if (det_runs)
        *det_runs = 0;
    int in_range = n >= 1 && n <= AV_DETECT_BATCH_MAX;
    if (!p || !images || !results || !status || !in_range) {
        for (int i = 0; in_range && status && i < n; i++) {
            status[i] = AV_DETECT_E_ARG;
            if (results)
                memset(&results[i], 0, sizeof results[i]);
            if (errs && errlen)
                snprintf(errs + (size_t)i * errlen, errlen, "detect: bad batch arguments");
        }
        return AV_DETECT_E_ARG;
    }
    av_detect_run_opts o = opts ? *opts : (av_detect_run_opts){0};
    for (int i = 0; i < n; i++)
        memset(&results[i], 0, sizeof results[i]);
    /* even chunks of at most DET_BATCH_MAX images: 12 run as 6 + 6 */
    int chunks = (n + DET_BATCH_MAX - 1) / DET_BATCH_MAX;
    int per = (n + chunks - 1) / chunks, runs = 0;
    for (int s = 0; s < n; s += per) {
        int k = n - s < per ? n - s : per;
        run_chunk(p, k, images + s, &o, results + s, status + s,
                  errs ? errs + (size_t)s * errlen : NULL, errlen, &runs);
    }
    if (det_runs)
        *det_runs = runs;
    for (int i = 0; i < n; i++)
        if (status[i] != AV_DETECT_OK)
            return status[i];
    return AV_DETECT_OK;
}

/* ------------------------------------------------------------ retraining */

av_detect_status av_detect_species_base_head(av_detect_pipeline *p, av_detect_head *h,
                                             const char *const **labels, int *background,
                                             const char **features, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    if (!p || !p->has_species)
        return failf(err, errlen, AV_DETECT_E_ARG, "species model not loaded");
    const char *in, *wn, *bn;
    av_nn_tensor_info wi, bi, fi;
    const void *wd = NULL, *bd = NULL;
    char e[512];
    if (av_nn_last_fc(p->cls_model, &in, &wn, &bn, e, sizeof e) ||
        av_nn_find_tensor(p->cls_model, in, &fi, NULL, e, sizeof e) ||
        av_nn_find_tensor(p->cls_model, wn, &wi, &wd, e, sizeof e))
        return failf(err, errlen, AV_DETECT_E_MODEL, "%s: %s", p->cls.name, e);
    if (bn[0] && av_nn_find_tensor(p->cls_model, bn, &bi, &bd, e, sizeof e))
        return failf(err, errlen, AV_DETECT_E_MODEL, "%s: %s", p->cls.name, e);
    const av_nn_tensor_info *to = av_nn_output(p->cls_model, p->cls_out);
    size_t n_out = av_detect__numel(to);
    if (!wd || wi.rank != 2 || (size_t)wi.dims[0] != n_out ||
        (size_t)wi.dims[1] != av_detect__numel(&fi) ||
        (wi.dtype != AV_NN_F32 && wi.dtype != AV_NN_U8 && wi.dtype != AV_NN_I8) ||
        (bd && bi.dtype != AV_NN_F32 && bi.dtype != AV_NN_I32))
        return failf(err, errlen, AV_DETECT_E_MODEL,
                     "%s: its last fully connected layer does not map the features to the "
                     "%zu classes as a constant [classes, features] matrix",
                     p->cls.name, n_out);
    h->n_classes = (int)wi.dims[0];
    h->dim = (int)wi.dims[1];
    h->w = malloc((size_t)h->n_classes * (size_t)h->dim * sizeof *h->w);
    h->b = calloc((size_t)h->n_classes, sizeof *h->b);
    if (!h->w || !h->b) {
        av_detect_head_free(h);
        return failf(err, errlen, AV_DETECT_E_NOMEM, "base head: out of memory");
    }
    dequantise(&wi, wd, h->w, h->n_classes * h->dim);
    for (int c = 0; bd && c < h->n_classes; c++)
        h->b[c] = bi.dtype == AV_NN_F32 ? ((const float *)bd)[c]
                                         : bi.scale * (float)(((const int32_t *)bd)[c] -
                                                              bi.zero_point);
    *features = in;
    /* a retrained version's first classes are the base labels, in order */
    *labels = (const char *const *)p->cls.labels;
    *background = p->cls.background < h->n_classes ? p->cls.background : -1;
    return AV_DETECT_OK;
}

av_detect_status av_detect_box_features(av_detect_pipeline *p, const void *image, size_t len,
                                        const av_detect_run_opts *opts, int n,
                                        const float *boxes, float *feats, char *err,
                                        size_t errlen)
{
    if (!p || !p->has_species || n < 0 || (!image && len))
        return failf(err, errlen, AV_DETECT_E_ARG, "features: no species model or image");
    const char *in, *wn, *bn;
    av_nn_tensor_info fi;
    char e[512];
    if (av_nn_last_fc(p->cls_model, &in, &wn, &bn, e, sizeof e) ||
        av_nn_find_tensor(p->cls_model, in, &fi, NULL, e, sizeof e))
        return failf(err, errlen, AV_DETECT_E_MODEL, "%s: %s", p->cls.name, e);
    int dim = (int)av_detect__numel(&fi);
    size_t fbytes = (size_t)dim * av_nn_dtype_size(fi.dtype);
    av_detect_run_opts o = opts ? *opts : (av_detect_run_opts){0};
    av_detect__img img;
    av_detect_status st = av_detect__img_decode(
        image, len, o.max_bytes > 0 ? o.max_bytes : DEFAULT_MAX_BYTES,
        o.max_pixels > 0 ? o.max_pixels : DEFAULT_MAX_PIXELS, &img, err, errlen);
    if (st)
        return st;
    uint8_t *buf = malloc(fbytes);
    worker *w = buf ? acquire(p, err, errlen, &st) : NULL;
    if (!buf && !st)
        st = failf(err, errlen, AV_DETECT_E_NOMEM, "features: out of memory");
    for (int j = 0; w && !st && j < n; j++) {
        const float *b = boxes + 4 * j;
        av_detect_det d = {.x1 = b[0], .y1 = b[1], .x2 = b[2], .y2 = b[3]};
        if (!(d.x2 > d.x1 && d.y2 > d.y1)) {
            st = failf(err, errlen, AV_DETECT_E_ARG, "features: box %d is empty", j);
            break;
        }
        int x1, y1, x2, y2;
        crop_square(&img, &d, p->crop_margin, &x1, &y1, &x2, &y2);
        if (fill_crop(p, w, &img, x1, y1, x2, y2, w->cls_in[p->cls_in], err, errlen)) {
            st = AV_DETECT_E_NOMEM;
            break;
        }
        if (av_nn_run_tap(w->cls_ctx, (const void *const *)w->cls_in, w->cls_out, in, buf,
                          fbytes, e, sizeof e) != AV_NN_OK) {
            st = failf(err, errlen, AV_DETECT_E_ENGINE, "%s: %s", p->cls.name, e);
            break;
        }
        dequantise(&fi, buf, feats + (size_t)j * (size_t)dim, dim);
    }
    if (w)
        release(p, w);
    free(buf);
    av_detect__img_free(&img);
    return st;
}
