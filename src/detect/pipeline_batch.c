/*
 * pipeline_batch.c - av_detect_run_batch: up to DET_BATCH_MAX images share
 * one detector run on a worker context made for that many, and the bird
 * crops of all of them share the species runs. A detector the engine cannot
 * batch is logged once and its images run one at a time.
 */
#include "detect/pipeline_impl.h"

#include <stdlib.h>
#include <string.h>

#include "log/log.h"

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
    double t = av_base_now_ms();
    cls_batch *b = NULL;
    char msg[512] = "";
    if (m >= 2 && !atomic_load(&p->det_refused)) {
        b = av_detect__batch_slot(p, w, p->det_model, w->db, DET_SLOTS, m, msg, sizeof msg);
        if (!b && atomic_exchange(&p->det_refused, 1) == 0)
            av_log(AV_LOG_WARN, "detector_batch_off", "model", p->det.name, "error", msg,
                   "effect", "images of a batch run the detector one at a time", NULL);
    }
    if (!b) { /* one image, or a detector that does not batch: av_detect_run's path */
        for (int i = 0; i < m; i++) {
            int j = idx[i];
            st[j] = av_detect__run_locked(p, w, &imgs[j], o, &rs[j], e[j], BATCH_ERR);
            (*runs)++;
        }
        return;
    }
    const av_nn_tensor_info *ti = av_nn_input(p->det_model, p->det_in);
    size_t in_bytes = av_detect__numel(ti) * av_nn_dtype_size(ti->dtype);
    double map_w[DET_BATCH_MAX], map_h[DET_BATCH_MAX];
    for (int i = 0; i < m; i++) /* a sample that fails here is run but not read */
        st[idx[i]] = av_detect__det_prepare(p, w, &imgs[idx[i]],
                                            (uint8_t *)b->in[p->det_in] + i * in_bytes,
                                            &map_w[i], &map_h[i], e[idx[i]], BATCH_ERR);
    if (av_nn_run(b->ctx, (const void *const *)b->in, b->out, msg, sizeof msg) != AV_NN_OK) {
        for (int i = 0; i < m; i++)
            if (st[idx[i]] == AV_DETECT_OK)
                st[idx[i]] = AV_BASE_FAIL(AV_DETECT_E_ENGINE, e[idx[i]], BATCH_ERR, "%s: %s",
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
        st[j] = av_detect__det_decode(p, w->touts, map_w[i], map_h[i], min_score, w->boxes, &nbox,
                                      e[j], BATCH_ERR);
        for (int q = 0; q < no; q++)
            w->touts[q].data = w->det_out[q]; /* back to the batch-1 buffers the passes use */
        if (st[j] == AV_DETECT_OK)
            st[j] = av_detect__run_passes(p, w, &imgs[j], o, min_score, &nbox, &rs[j], e[j],
                                          BATCH_ERR);
        if (st[j] == AV_DETECT_OK)
            st[j] = av_detect__keep_boxes(p, w, &imgs[j], nbox, o, &rs[j], e[j], BATCH_ERR);
    }
    double t2 = av_base_now_ms(), own[DET_BATCH_MAX], shared = t2 - t;
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
    if (nl && av_detect__species_step(p, w, nl, li, lr, o, msg, sizeof msg)) {
        for (int i = 0; i < m; i++)
            if (st[idx[i]] == AV_DETECT_OK)
                st[idx[i]] = AV_BASE_FAIL(AV_DETECT_E_ENGINE, e[idx[i]], BATCH_ERR, "%s", msg);
        return;
    }
    double ms = nl ? (av_base_now_ms() - t2) / nl : 0;
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
    double t0 = av_base_now_ms();
    int any = 0;
    /* a worker free now decodes on its idle threads and keeps them (as av_detect_run) */
    worker *held = av_detect__try_acquire(p);
    av_vision_par dpar = av_detect__worker_par(held);
    for (int j = 0; j < k; j++) {
        const av_detect_image *im = &in[j];
        memset(&imgs[j], 0, sizeof imgs[j]);
        e[j][0] = '\0';
        if (im->rgb && (im->width < 1 || im->height < 1)) {
            st[j] = AV_BASE_FAIL(AV_DETECT_E_ARG, e[j], BATCH_ERR, "detect: no pipeline or pixels");
        } else if (im->rgb && (long long)im->width * im->height > max_pixels) {
            st[j] = AV_BASE_FAIL(AV_DETECT_E_LIMIT, e[j], BATCH_ERR,
                          "%dx%d pixels exceed the limit of %lld", im->width, im->height,
                          max_pixels);
        } else if (im->rgb) {
            imgs[j] = av_detect__img_wrap(im->width, im->height, im->rgb);
            st[j] = AV_DETECT_OK;
        } else if (!im->bytes && im->len) {
            st[j] = AV_BASE_FAIL(AV_DETECT_E_ARG, e[j], BATCH_ERR, "detect: no pipeline or image");
        } else {
            double t = av_base_now_ms();
            st[j] = av_detect__img_decode_on(im->bytes, im->len,
                                             im->max_bytes > 0 ? im->max_bytes : max_bytes,
                                             max_pixels, held ? &dpar : NULL, &imgs[j], e[j],
                                             BATCH_ERR);
            imgs[j].drawable = 1; /* freed after its annotation */
            rs[j].ms_decode = av_base_now_ms() - t;
        }
        if (st[j] == AV_DETECT_OK) {
            av_detect__result_header(p, &imgs[j], &rs[j]);
            any = 1;
        }
    }
    int finished = 0; /* annotated and timed while the worker was ours */
    if (any) {
        char msg[BATCH_ERR] = "";
        av_detect_status ast = AV_DETECT_OK;
        worker *w = held ? held : av_detect__acquire(p, msg, sizeof msg, &ast);
        if (w) {
            batch_locked(p, w, k, imgs, o, rs, st, e, runs);
            av_vision_par par = av_detect__worker_par(w); /* its threads encode the strips */
            for (int j = 0; j < k; j++)
                if (st[j] == AV_DETECT_OK)
                    st[j] = av_detect__result_finish(&imgs[j], o, t0, AV_DETECT_OK, &rs[j], &par,
                                                     e[j], BATCH_ERR);
            finished = 1;
            av_detect__release(p, w);
            held = NULL;
        } else {
            for (int j = 0; j < k; j++)
                if (st[j] == AV_DETECT_OK)
                    st[j] = AV_BASE_FAIL(ast, e[j], BATCH_ERR, "%s", msg);
        }
    }
    if (held) /* nothing decoded to run */
        av_detect__release(p, held);
    for (int j = 0; j < k; j++) {
        if (st[j] == AV_DETECT_OK && !finished)
            st[j] = av_detect__result_finish(&imgs[j], o, t0, AV_DETECT_OK, &rs[j], NULL, e[j],
                                             BATCH_ERR);
        else if (st[j] != AV_DETECT_OK)
            av_detect_result_free(&rs[j]); /* (a failed finish freed it already: no harm) */
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
