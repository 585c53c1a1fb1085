/*
 * client.c - libcurl client for any TF-Serving-compatible :predict
 * endpoint (ours, TensorFlow Serving with an encoded-image signature,
 * KServe V1).
 *
 * Request: {"instances": [{"b64": "<image bytes>"}]}. Answer read:
 * predictions[0] with the TF OD API outputs detection_boxes (N x 4 or a
 * flat 4N list; normalised ymin, xmin, ymax, xmax), detection_classes,
 * detection_scores, num_detections, and, when present, ours (image_size,
 * detection_detector_scores, detection_labels, detection_species*).
 * Foreign servers that pad to 100 detections are filtered at score 0.3.
 *
 * Connections: a small pool of curl easy handles (each keeps its
 * connection alive) shared by threads under a mutex. Transport errors are
 * retried with exponential backoff (200 ms, 400 ms, ...).
 */
#include "serving/internal.h"
#include "base/base.h"

#include "log/log.h"
#include "vision/vision.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL_MAX 8
#define FOREIGN_MIN_SCORE 0.3f

struct av_serving_client {
    char url[1400];
    long timeout_ms, connect_timeout_ms;
    int retries;
    long long max_response;
    const char *const *tracked; /* borrowed (static by contract) */
    int n_tracked;
    av_vision_font *font;       /* NULL: boxes without labels */
    pthread_mutex_t mu;
    CURL *idle[POOL_MAX];
    int n_idle;
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

av_serving_status av_serving_client_open(const av_serving_client_opts *o,
                                         av_serving_client **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *url = o ? o->url : NULL;
    if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) {
        snprintf(err, errlen, "model url '%s' must start with http:// or https://",
                 url ? url : "");
        return AV_SERVING_E_ARG;
    }
    const char *name = o->model_name && *o->model_name ? o->model_name : AV_SERVING_DEFAULT_MODEL;
    if (strlen(url) > 1024 || strlen(name) > 200) {
        snprintf(err, errlen, "model url or name too long");
        return AV_SERVING_E_ARG;
    }
    pthread_once(&g_curl_once, curl_init_once);
    av_serving_client *c = calloc(1, sizeof *c);
    if (!c || pthread_mutex_init(&c->mu, NULL)) {
        free(c);
        snprintf(err, errlen, "client: out of memory");
        return AV_SERVING_E_NOMEM;
    }
    if (strstr(url, ":predict"))
        snprintf(c->url, sizeof c->url, "%s", url);
    else {
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
            n--;
        snprintf(c->url, sizeof c->url, "%.*s/v1/models/%s:predict", (int)n, url, name);
    }
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 2000;
    c->retries = o->retries < 0 ? 0 : o->retries == 0 ? 1 : o->retries;
    c->max_response = o->max_response_bytes > 0 ? o->max_response_bytes : 16LL << 20;
    c->tracked = o->tracked ? o->tracked : av_serving__tracked_default;
    c->n_tracked = o->tracked ? o->n_tracked : 3;
    char e[256];
    if (av_vision_font_open(NULL, &c->font, e, sizeof e) != AV_VISION_OK)
        av_log(AV_LOG_WARN, "font_unavailable", "error", e, NULL);
    *out = c;
    return AV_SERVING_OK;
}

void av_serving_client_close(av_serving_client *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_idle; i++)
        curl_easy_cleanup(c->idle[i]);
    av_vision_font_close(c->font);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

const char *av_serving_client_url(const av_serving_client *c)
{
    return c->url;
}

static CURL *take_handle(av_serving_client *c)
{
    pthread_mutex_lock(&c->mu);
    CURL *h = c->n_idle ? c->idle[--c->n_idle] : NULL;
    pthread_mutex_unlock(&c->mu);
    return h ? h : curl_easy_init();
}

static void give_handle(av_serving_client *c, CURL *h)
{
    pthread_mutex_lock(&c->mu);
    if (c->n_idle < POOL_MAX) {
        c->idle[c->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (h)
        curl_easy_cleanup(h);
}

typedef struct sink {
    char *p;
    size_t len, cap, limit;
    int too_big;
} sink;

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    size_t n = size * nmemb;
    if (s->len + n + 1 > s->limit) {
        s->too_big = 1;
        return 0;
    }
    if (av_base_grow((void **)&s->p, &s->cap, s->len + n + 1, 1))
        return 0;
    memcpy(s->p + s->len, data, n);
    s->len += n;
    s->p[s->len] = '\0';
    return n;
}

/* POST body; on success *resp holds the answer (caller frees resp->p). */
static av_serving_status post(av_serving_client *c, const char *body, size_t len, long *http,
                              sink *resp, char *err, size_t errlen)
{
    CURLcode rc = CURLE_OK;
    for (int attempt = 0; attempt <= c->retries; attempt++) {
        if (attempt) {
            struct timespec ts = {0, (200L << (attempt - 1)) * 1000000L};
            while (ts.tv_nsec >= 1000000000L)
                ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            nanosleep(&ts, NULL);
        }
        CURL *h = take_handle(c);
        if (!h) {
            snprintf(err, errlen, "client: cannot create a curl handle");
            return AV_SERVING_E_NOMEM;
        }
        struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
        free(resp->p);
        memset(resp, 0, sizeof *resp);
        resp->limit = (size_t)c->max_response;
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, c->url);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        rc = curl_easy_perform(h);
        *http = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http);
        curl_slist_free_all(hdr);
        give_handle(c, h);
        if (rc == CURLE_OK)
            return AV_SERVING_OK;
        if (resp->too_big) {
            snprintf(err, errlen, "the model server's answer is over %lld bytes",
                     c->max_response);
            return AV_SERVING_E_PROTOCOL;
        }
        if (rc != CURLE_COULDNT_CONNECT && rc != CURLE_GOT_NOTHING && rc != CURLE_SEND_ERROR &&
            rc != CURLE_RECV_ERROR && rc != CURLE_COULDNT_RESOLVE_HOST)
            break; /* timeouts are not retried: the wait is already spent */
    }
    free(resp->p);
    resp->p = NULL;
    snprintf(err, errlen, "the model server at %s did not answer (%s)", c->url,
             curl_easy_strerror(rc));
    return AV_SERVING_E_TRANSPORT;
}

static float num(const json_t *v)
{
    return json_is_number(v) ? (float)json_number_value(v) : 0.0f;
}

/* The columns prefix + "boxes", "classes", ... of p: detection i as d
 * (boxes scaled by sx, sy: pixels for our server, 1 for a foreign one). */
static void parse_det(const av_serving_client *c, const json_t *p, const char *prefix, size_t i,
                      int flat, float sx, float sy, av_detect_det *d)
{
    char k[64];
#define COL(name) (snprintf(k, sizeof k, "%s%s", prefix, name), json_object_get(p, k))
    const json_t *boxes = COL("boxes"), *classes = COL("classes"), *scores = COL("scores");
    const json_t *dsc = COL("detector_scores"), *lab = COL("labels"), *rules = COL("rules");
    const json_t *conf = COL("confidences");
    const json_t *wholes = COL("whole_image_by"), *sp = COL("species");
    const json_t *spc = COL("species_common"), *sps = COL("species_scores");
    const json_t *spi = COL("species_classes");
#undef COL
    float b[4];
    const json_t *bx = flat ? NULL : json_array_get(boxes, i);
    for (int j = 0; j < 4; j++)
        b[j] = num(flat ? json_array_get(boxes, i * 4 + (size_t)j) : json_array_get(bx, (size_t)j));
    float score = num(json_array_get(scores, i));
    d->y1 = b[0] * sy, d->x1 = b[1] * sx, d->y2 = b[2] * sy, d->x2 = b[3] * sx;
    int cls = (int)num(json_array_get(classes, i));
    d->class_index = 14; /* COCO-80 'bird': every class we report is a bird */
    snprintf(d->class_name, sizeof d->class_name, "bird");
    d->det_score = json_is_array(dsc) ? num(json_array_get(dsc, i)) : score;
    /* the confidence the UI shows (older servers: detection_scores) */
    d->confidence = json_is_array(conf) ? num(json_array_get(conf, i)) : score;
    const json_t *rs = json_array_get(sp, i), *rc = json_array_get(spc, i),
                 *rp = json_array_get(sps, i), *ri = json_array_get(spi, i);
    for (size_t j = 0; j < json_array_size(rs) && d->n_species < AV_DETECT_TOPK_MAX; j++) {
        const char *sci = json_string_value(json_array_get(rs, j));
        if (!sci || !*sci)
            continue;
        av_detect_species *q = &d->species[d->n_species++];
        q->class_index = ri ? (int)num(json_array_get(ri, j)) : 0;
        q->score = num(json_array_get(rp, j));
        snprintf(q->scientific, sizeof q->scientific, "%s", sci);
        const char *com = json_string_value(json_array_get(rc, j));
        snprintf(q->common, sizeof q->common, "%s", com ? com : "");
    }
    if (d->n_species == 0 && cls >= 1 && cls <= c->n_tracked) { /* foreign: tracked id */
        av_detect_species *q = &d->species[d->n_species++];
        q->class_index = cls;
        q->score = score;
        snprintf(q->scientific, sizeof q->scientific, "%s", c->tracked[cls - 1]);
    }
    const char *l = json_string_value(json_array_get(lab, i));
    if (l && *l)
        snprintf(d->label, sizeof d->label, "%s", l);
    else if (d->n_species)
        snprintf(d->label, sizeof d->label, "%s",
                 d->species[0].common[0] ? d->species[0].common : d->species[0].scientific);
    else
        snprintf(d->label, sizeof d->label, "Bird");
    const char *rule = json_string_value(json_array_get(rules, i));
    d->rule = rule ? av_detect_rule_from_name(rule)
              : d->n_species ? AV_DETECT_RULE_SPECIES /* a server without rules */
                             : AV_DETECT_RULE_NONE;
    const char *by = json_string_value(json_array_get(wholes, i));
    d->whole_by = by ? av_detect_whole_by_from_name(by) : AV_DETECT_WHOLE_NONE;
    d->whole_image = d->whole_by != AV_DETECT_WHOLE_NONE;
}

/* Our server's illustration outputs (predict.c image_outputs): the page
 * figures, and for a drawing its best bird. */
static void parse_illustration(const av_serving_client *c, const json_t *p, av_detect_result *r)
{
    const json_t *page = json_object_get(p, "illustration_page");
    if (json_array_size(page) == 2) {
        r->page_measured = 1;
        r->page_paper = num(json_array_get(page, 0));
        r->page_border = num(json_array_get(page, 1));
    }
    const json_t *boxes = json_object_get(p, "illustrated_boxes");
    if (!json_is_true(json_object_get(p, "illustration")) || json_array_size(boxes) < 1 ||
        !json_is_array(json_array_get(boxes, 0)))
        return;
    r->illustration = 1;
    parse_det(c, p, "illustrated_", 0, 0, (float)r->width, (float)r->height, &r->illustrated);
}

/* predictions[0] (or outputs, columnar with one image) -> dets with
 * normalised boxes. */
static av_serving_status parse_answer(av_serving_client *c, const json_t *p, av_detect_result *r,
                                      int *scaled, char *err, size_t errlen)
{
    const json_t *boxes = json_object_get(p, "detection_boxes");
    const json_t *classes = json_object_get(p, "detection_classes");
    const json_t *scores = json_object_get(p, "detection_scores");
    if (!json_is_array(boxes) || !json_is_array(classes) || !json_is_array(scores)) {
        snprintf(err, errlen, "the model server's answer has no detection_boxes, "
                              "detection_classes and detection_scores");
        return AV_SERVING_E_PROTOCOL;
    }
    int flat = json_array_size(boxes) > 0 && json_is_number(json_array_get(boxes, 0));
    size_t n = flat ? json_array_size(boxes) / 4 : json_array_size(boxes);
    if (json_array_size(classes) < n)
        n = json_array_size(classes);
    if (json_array_size(scores) < n)
        n = json_array_size(scores);
    const json_t *nd = json_object_get(p, "num_detections");
    if (json_is_number(nd) && json_number_value(nd) >= 0 && json_number_value(nd) < (double)n)
        n = (size_t)json_number_value(nd);
    if (n > 1000)
        n = 1000;
    const json_t *size = json_object_get(p, "image_size");
    int ours = json_is_array(size) && json_array_size(size) == 2;
    if (ours) {
        r->height = (int)json_integer_value(json_array_get(size, 0));
        r->width = (int)json_integer_value(json_array_get(size, 1));
        if (r->width <= 0 || r->height <= 0 || r->width > 1000000 || r->height > 1000000) {
            snprintf(err, errlen, "the model server's image_size is invalid");
            return AV_SERVING_E_PROTOCOL;
        }
    }
    *scaled = ours;
    r->dets = n ? calloc(n, sizeof *r->dets) : NULL;
    if (n && !r->dets) {
        snprintf(err, errlen, "client: out of memory");
        return AV_SERVING_E_NOMEM;
    }
    r->species_available = json_is_array(json_object_get(p, "detection_species"));
    float sx = ours ? (float)r->width : 1.0f, sy = ours ? (float)r->height : 1.0f;
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ours && num(json_array_get(scores, i)) < FOREIGN_MIN_SCORE)
            continue;
        parse_det(c, p, "detection_", i, flat, sx, sy, &r->dets[k++]);
    }
    r->n_dets = k;
    if (ours)
        parse_illustration(c, p, r);
    return AV_SERVING_OK;
}

av_serving_status av_serving_client_predict(av_serving_client *c, const void *image, size_t len,
                                            const av_serving_client_run_opts *opts,
                                            av_detect_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    av_serving_client_run_opts o = opts ? *opts : (av_serving_client_run_opts){0};
    long long max_bytes = o.max_bytes > 0 ? o.max_bytes : 30LL * 1000 * 1000;
    if (!c || !image || len == 0 || (long long)len > max_bytes) {
        snprintf(err, errlen, "image: empty or over %lld bytes", max_bytes);
        return AV_SERVING_E_ARG;
    }
    char *b64 = NULL;
    size_t blen = 0;
    if (av_serving_b64_encode(image, len, &b64, &blen)) {
        snprintf(err, errlen, "client: out of memory");
        return AV_SERVING_E_NOMEM;
    }
    static const char pre[] = "{\"instances\": [{\"b64\": \"", post_[] = "\"}]}";
    size_t blen_all = sizeof pre - 1 + blen + sizeof post_ - 1;
    char *body = malloc(blen_all + 1);
    if (!body) {
        free(b64);
        snprintf(err, errlen, "client: out of memory");
        return AV_SERVING_E_NOMEM;
    }
    memcpy(body, pre, sizeof pre - 1);
    memcpy(body + sizeof pre - 1, b64, blen);
    memcpy(body + sizeof pre - 1 + blen, post_, sizeof post_);
    free(b64);

    sink resp = {0};
    long http = 0;
    double t0 = av_base_now_ms();
    av_serving_status st = post(c, body, blen_all, &http, &resp, err, errlen);
    double post_ms = av_base_now_ms() - t0;
    free(body);
    if (st)
        return st;
    json_error_t je;
    json_t *j = resp.p ? json_loadb(resp.p, resp.len, 0, &je) : NULL;
    free(resp.p);
    if (http != 200) {
        const char *msg = json_string_value(json_object_get(j, "error"));
        snprintf(err, errlen, "the model server answered %ld: %s", http,
                 msg ? msg : "(no error message)");
        json_decref(j);
        /* 5xx, 429, 408 and 404 (model not loaded yet) may pass: E_HTTP, worth a
         * retry; any other 4xx is about this image and will not change. */
        return http >= 500 || http == 429 || http == 408 || http == 404 ? AV_SERVING_E_HTTP
                                                                        : AV_SERVING_E_IMAGE;
    }
    const json_t *p = json_array_get(json_object_get(j, "predictions"), 0);
    if (!json_is_object(p)) {
        json_decref(j);
        snprintf(err, errlen, "the model server's answer has no predictions[0] object");
        return AV_SERVING_E_PROTOCOL;
    }
    int scaled = 0;
    st = parse_answer(c, p, r, &scaled, err, errlen);
    json_decref(j);
    if (!st && (!scaled || o.annotate))
        st = av_serving__finish(image, len, max_bytes, o.max_pixels, scaled, o.annotate, c->font,
                                r, err, errlen);
    if (st) {
        av_detect_result_free(r);
        return st;
    }
    snprintf(r->detector, sizeof r->detector, "remote");
    snprintf(r->detector_version, sizeof r->detector_version, "tfserving");
    r->ms_detect = post_ms;
    r->ms_total = r->ms_detect;
    return AV_SERVING_OK;
}
