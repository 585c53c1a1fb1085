/*
 * server.c - the model server's libmicrohttpd daemon: request bodies with
 * a hard cap, the TF Serving URL grammar, status and metadata answers.
 *
 * Grammar (matched case-insensitively, as TF Serving's regexes):
 *   POST /v1/models/NAME[/versions/N|/labels/L]:(predict|classify|regress)
 *   GET  /v1/models[/NAME][/versions/N|/labels/L][/metadata]
 * Anything else under /v1/ is 400 "Malformed request: METHOD PATH"; paths
 * outside /v1/ get a plain (non-JSON) 404 like libevent's, except ours:
 * /v2 and below go to kserve.c (KServe V2). GET /healthz (alive), /readyz (200 once a version is AVAILABLE, else
 * 503) and /metrics (Prometheus text, metrics.c).
 */
#include "serving/internal.h"

#include "config/config.h"
#include "guard/guard.h"
#include "log/log.h"
#include "text/text.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_URL 2048

/* Per-request state: the body, capped at max_body_bytes. */
typedef struct req {
    char *body;
    size_t len, cap;
    int too_big;    /* body went over the cap: discard the rest, answer 413 */
    int answered;   /* a response was queued at header time */
    int route;      /* AV_SERVING__R_*, for /metrics */
    unsigned code;  /* HTTP status answered */
    int images;     /* images predicted */
    av_serving__pending *pending; /* queued on a batcher, connection suspended */
    struct timespec t0;           /* complete request seen (latency metric) */
    av_guard *guard;
} req;

/* The batcher parks a queued request's connection and wakes it when its
 * batch has run, so waiting requests hold no HTTP worker. */
static void park_conn(void *c)
{
    MHD_suspend_connection(c);
}

static void wake_conn(void *c)
{
    MHD_resume_connection(c);
}

static enum MHD_Result send_text(req *rq, struct MHD_Connection *c, unsigned status, const char *type,
                                 const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    rq->code = status;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    av_guard_responded(rq->guard, c);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* /metrics with --metrics-token: the bearer token must match (compared in
 * constant time, so its bytes cannot be guessed one by one from timings). */
static int metrics_allowed(const av_serving *s, struct MHD_Connection *c)
{
    if (!s->metrics_token[0])
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    size_t n = strlen(s->metrics_token);
    return h && !strncasecmp(h, "Bearer ", 7) && strlen(h + 7) == n &&
           sodium_memcmp(h + 7, s->metrics_token, n) == 0;
}

/* Send and release j (NULL: out of memory -> 500); a 503 tells the
 * client when to retry, as TF Serving's UNAVAILABLE is meant to be retried. */
static enum MHD_Result send_json(req *rq, struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_INDENT(1) | JSON_REAL_PRECISION(7) | JSON_PRESERVE_ORDER)
                : NULL;
    json_decref(j);
    if (!s) {
        static const char oom[] = "{ \"error\": \"out of memory\" }\n";
        return send_text(rq, c, 500, "application/json", oom, sizeof oom - 1);
    }
    size_t n = strlen(s);
    struct MHD_Response *r = MHD_create_response_from_buffer(n, s, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (status == 503)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    rq->code = status;
    av_guard_responded(rq->guard, c);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(req *rq, struct MHD_Connection *c, unsigned status,
                                  const char *msg)
{
    return send_json(rq, c, status, av_serving__error_json("%s", msg));
}

/* libevent's 404 page, which TF Serving sends for paths outside /v1/. */
static enum MHD_Result plain_404(req *rq, struct MHD_Connection *c)
{
    static const char body[] = "<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n"
                               "<H1>Not Found</H1>\n</BODY></HTML>\n";
    return send_text(rq, c, MHD_HTTP_NOT_FOUND, "text/html", body, sizeof body - 1);
}

/* ------------------------------------------------------------ grammar */

typedef struct route {
    char name[256];
    long long version;   /* 0 = none given */
    char label[128];     /* "" = none */
    int metadata;        /* GET .../metadata */
    char method[16];     /* POST: predict, classify, regress */
} route;

enum { ROUTE_OK = 0, ROUTE_MALFORMED = -1, ROUTE_NO_NAME = -2, ROUTE_BAD_VERSION = -3 };

static int eat(const char **p, const char *lit)
{
    size_t n = strlen(lit);
    if (strncasecmp(*p, lit, n) != 0)
        return 0;
    *p += n;
    return 1;
}

/* A segment of one or more chars, none '/' or ':'. */
static int segment(const char **p, char *out, size_t cap)
{
    size_t n = strcspn(*p, "/:");
    if (n == 0 || n >= cap)
        return 0;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n;
    return 1;
}

static int parse_route(const char *url, int post, route *r, char *bad, size_t badlen)
{
    memset(r, 0, sizeof *r);
    const char *p = url;
    if (!eat(&p, "/v1/models"))
        return ROUTE_MALFORMED;
    if (!*p)
        return post ? ROUTE_MALFORMED : ROUTE_NO_NAME;
    if (!eat(&p, "/") || !segment(&p, r->name, sizeof r->name))
        return ROUTE_MALFORMED;
    const char *q = p;
    if (eat(&q, "/versions/")) {
        size_t n = strspn(q, "0123456789");
        if (n == 0)
            return ROUTE_MALFORMED;
        long long v = 0;
        int overflow = 0;
        for (size_t i = 0; i < n; i++) {
            if (v > (9223372036854775807LL - (q[i] - '0')) / 10)
                overflow = 1;
            else
                v = v * 10 + (q[i] - '0');
        }
        if (overflow) {
            snprintf(bad, badlen, "%.*s", (int)(n < 64 ? n : 64), q);
            return ROUTE_BAD_VERSION;
        }
        r->version = v;
        p = q + n;
    } else if (eat(&q, "/labels/")) {
        if (!segment(&q, r->label, sizeof r->label))
            return ROUTE_MALFORMED;
        p = q;
    }
    if (post) {
        if (!eat(&p, ":"))
            return ROUTE_MALFORMED;
        if (strcasecmp(p, "predict") && strcasecmp(p, "classify") && strcasecmp(p, "regress"))
            return ROUTE_MALFORMED;
        snprintf(r->method, sizeof r->method, "%s", p);
        for (char *c = r->method; *c; c++)
            *c = (char)(*c | 0x20);
        return ROUTE_OK;
    }
    if (eat(&p, "/metadata"))
        r->metadata = 1;
    return *p ? ROUTE_MALFORMED : ROUTE_OK;
}

/* ----------------------------------------------------------- metadata */

static json_t *tensor_info(const char *dtype, const long long *dims, int n, const char *name)
{
    json_t *dim = json_array();
    for (int i = 0; dim && i < n; i++) {
        char s[24];
        snprintf(s, sizeof s, "%lld", dims[i]);
        if (json_array_append_new(dim, json_pack("{s:s, s:s}", "size", s, "name", ""))) {
            json_decref(dim);
            dim = NULL;
        }
    }
    if (!dim)
        return NULL;
    return json_pack("{s:s, s:{s:o, s:b}, s:s}", "dtype", dtype, "tensor_shape", "dim", dim,
                     "unknown_rank", 0, "name", name);
}

typedef struct out_desc {
    const char *alias, *dtype;
    int rank;
    long long dims[4];
} out_desc;

/* Outputs of both signatures, TF OD API names first (predict.c writes them). */
static const out_desc OUTPUTS[] = {
    {"detection_boxes", "DT_FLOAT", 3, {-1, -1, 4}},
    {"detection_classes", "DT_FLOAT", 2, {-1, -1}},
    {"detection_scores", "DT_FLOAT", 2, {-1, -1}},
    {"num_detections", "DT_FLOAT", 1, {-1}},
    {"detection_detector_scores", "DT_FLOAT", 2, {-1, -1}},
    {"detection_labels", "DT_STRING", 2, {-1, -1}},
    {"detection_species", "DT_STRING", 3, {-1, -1, -1}},
    {"detection_species_common", "DT_STRING", 3, {-1, -1, -1}},
    {"detection_species_scores", "DT_FLOAT", 3, {-1, -1, -1}},
    {"detection_species_classes", "DT_FLOAT", 3, {-1, -1, -1}},
    {"image_size", "DT_INT32", 2, {-1, 2}},
};

static json_t *signature(const char *input, const char *dtype, const long long *dims, int rank)
{
    json_t *outs = json_object();
    for (size_t i = 0; outs && i < sizeof OUTPUTS / sizeof OUTPUTS[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s:0", OUTPUTS[i].alias);
        if (json_object_set_new(outs, OUTPUTS[i].alias,
                                tensor_info(OUTPUTS[i].dtype, OUTPUTS[i].dims, OUTPUTS[i].rank,
                                            name))) {
            json_decref(outs);
            outs = NULL;
        }
    }
    char name[96];
    snprintf(name, sizeof name, "%s:0", input);
    json_t *ti = tensor_info(dtype, dims, rank, name);
    if (!outs || !ti) {
        json_decref(outs);
        json_decref(ti);
        return NULL;
    }
    return json_pack("{s:{s:o}, s:o, s:s, s:{}}", "inputs", input, ti, "outputs", outs,
                     "method_name", "tensorflow/serving/predict", "defaults");
}

static json_t *metadata_json(const char *model, long long version)
{
    static const long long img_dims[] = {-1, -1, -1, 3}, bytes_dims[] = {-1};
    char v[32];
    snprintf(v, sizeof v, "%lld", version);
    json_t *sd = signature("input_tensor", "DT_UINT8", img_dims, 4);
    json_t *sb = signature("image_bytes", "DT_STRING", bytes_dims, 1);
    if (!sd || !sb) {
        json_decref(sd);
        json_decref(sb);
        return NULL;
    }
    return json_pack("{s:{s:s, s:s, s:s}, s:{s:{s:{s:o, s:o}}}}", "model_spec", "name", model,
                     "signature_name", "", "version", v, "metadata", "signature_def",
                     "signature_def", "serving_default", sd, "image_bytes", sb);
}

/* ------------------------------------------------------------ routing */

/* KServe V2 (kserve.c); its own grammar, TF's limits on the body. */
static enum MHD_Result kserve(av_serving *s, struct MHD_Connection *c, const char *url,
                              const char *method, req *rq)
{
    if (rq->too_big) {
        char msg[160];
        snprintf(msg, sizeof msg, "Request body is larger than the limit of %lld bytes",
                 s->max_body_bytes);
        return send_error(rq, c, 413, msg);
    }
    json_t *answer = NULL;
    int binary = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                             "Inference-Header-Content-Length") != NULL;
    rq->route = strstr(url, "/infer") ? AV_SERVING__R_PREDICT : AV_SERVING__R_STATUS;
    unsigned st = av_serving__kserve(s, method, url, rq->body ? rq->body : "", rq->len, binary,
                                     &answer, &rq->images);
    return send_json(rq, c, st, answer);
}

static enum MHD_Result handle(av_serving *s, struct MHD_Connection *c, const char *url,
                              const char *method, req *rq)
{
    int post = !strcmp(method, "POST");
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (get && (!strcmp(url, "/healthz") || !strcmp(url, "/readyz"))) {
        long long live = av_serving_live_version(s);
        int ready = url[1] == 'h' || live > 0;
        for (int i = 1; i < s->n_models && ready; i++) /* ready: every model serves */
            ready = av_serving_live_version_of(s, s->model[i].models.name) > 0;
        char body[256];
        int n = snprintf(body, sizeof body,
                         "{\"status\":\"%s\",\"role\":\"model-server\",\"version\":\"%s\","
                         "\"model\":\"%s\",\"model_version\":%lld,\"uptime_s\":%lld}\n",
                         ready ? "ok" : "unavailable", AV_VERSION, s->model[0].models.name, live,
                         (long long)(time(NULL) - s->started));
        return send_text(rq, c, ready ? 200 : 503, "application/json", body, (size_t)n);
    }
    if (get && !strcmp(url, "/metrics") && !metrics_allowed(s, c))
        return send_text(rq, c, 401, "text/plain; charset=utf-8",
                         "metrics need Authorization: Bearer TOKEN\n", 42);
    if (get && !strcmp(url, "/metrics")) {
        char *text = malloc(65536);
        if (!text)
            return MHD_NO;
        size_t n = av_serving__metrics_text(&s->metrics, text, 65536);
        if (n < 65536)
            n += (size_t)snprintf(text + n, 65536 - n,
                                  "# HELP aviary_serving_model_version Version served for "
                                  "latest (0: none).\n"
                                  "# TYPE aviary_serving_model_version gauge\n");
        for (int i = 0; i < s->n_models && n < 65536; i++)
            n += (size_t)snprintf(text + n, 65536 - n,
                                  "aviary_serving_model_version{model=\"%s\"} %lld\n",
                                  s->model[i].models.name,
                                  av_serving_live_version_of(s, s->model[i].models.name));
        enum MHD_Result ret = send_text(rq, c, 200, "text/plain; version=0.0.4", text,
                                        n < 65536 ? n : 65535);
        free(text);
        return ret;
    }
    if (!strncmp(url, "/v2", 3) && (!url[3] || url[3] == '/'))
        return kserve(s, c, url, method, rq);
    if (strncasecmp(url, "/v1/", 4) != 0)
        return plain_404(rq, c);
    if (strlen(url) > MAX_URL)
        return send_error(rq, c, 400, "Malformed request: URL too long");
    route r;
    char bad[80] = "";
    int rc = (post || get) ? parse_route(url, post, &r, bad, sizeof bad) : ROUTE_MALFORMED;
    if (rc == ROUTE_NO_NAME)
        return send_error(rq, c, 400, "Missing model name in request.");
    if (rc == ROUTE_BAD_VERSION) {
        char msg[160];
        snprintf(msg, sizeof msg, "Failed to convert version: %s to numeric.", bad);
        return send_error(rq, c, 400, msg);
    }
    if (rc != ROUTE_OK) {
        char msg[MAX_URL + 64];
        snprintf(msg, sizeof msg, "Malformed request: %s %s", method, url);
        return send_error(rq, c, 400, msg);
    }
    av_serving__model *md = av_serving__find(s, r.name);
    int known = md != NULL;
    char msg[600];
    if (post) {
        if (rq->too_big) {
            snprintf(msg, sizeof msg, "Request body is larger than the limit of %lld bytes",
                     s->max_body_bytes);
            return send_error(rq, c, 413, msg);
        }
        if (r.label[0] && known) {
            snprintf(msg, sizeof msg, "Unrecognized servable version label: %s", r.label);
            return send_error(rq, c, 400, msg);
        }
        if (!known) {
            if (r.version)
                snprintf(msg, sizeof msg, "Servable not found for request: Specific(%s, %lld)",
                         r.name, r.version);
            else
                snprintf(msg, sizeof msg, "Servable not found for request: Latest(%s)", r.name);
            return send_error(rq, c, 404, msg);
        }
        if (strcmp(r.method, "predict")) {
            snprintf(msg, sizeof msg,
                     "Expected %s signature method_name to be tensorflow/serving/%s. Was: "
                     "tensorflow/serving/predict",
                     strcmp(r.method, "classify") ? "regression" : "classification", r.method);
            return send_error(rq, c, 400, msg);
        }
        json_t *answer = NULL;
        rq->route = AV_SERVING__R_PREDICT;
        unsigned st = av_serving__predict(s, md, r.version, rq->body ? rq->body : "", rq->len,
                                          &answer, &rq->images, park_conn, wake_conn, c,
                                          &rq->pending);
        if (rq->pending)
            return MHD_YES; /* answered when the batch has run (on_request again) */
        return send_json(rq, c, st, answer);
    }
    rq->route = r.metadata ? AV_SERVING__R_METADATA : AV_SERVING__R_STATUS;
    if (r.metadata) {
        if (r.label[0] && known) {
            snprintf(msg, sizeof msg, "Unrecognized servable version label: %s", r.label);
            return send_error(rq, c, 400, msg);
        }
        av_serving__version *v = known ? av_serving__acquire(&md->models, r.version) : NULL;
        if (!v) {
            if (r.version)
                snprintf(msg, sizeof msg, "Servable not found for request: Specific(%s, %lld)",
                         r.name, r.version);
            else
                snprintf(msg, sizeof msg, "Servable not found for request: Latest(%s)", r.name);
            return send_error(rq, c, 404, msg);
        }
        long long number = v->number;
        av_serving__release(&md->models, v);
        return send_json(rq, c, 200, metadata_json(r.name, number));
    }
    if (!known) {
        if (r.version)
            snprintf(msg, sizeof msg, "Could not find version %lld of model %s", r.version,
                     r.name);
        else
            snprintf(msg, sizeof msg, "Could not find any versions of model %s", r.name);
        return send_error(rq, c, 404, msg);
    }
    int http = 500;
    json_t *j = av_serving__status_json(&md->models, r.version, &http, msg, sizeof msg);
    if (!j)
        return send_error(rq, c, (unsigned)http, msg);
    return send_json(rq, c, 200, j);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    av_serving *s = cls;
    if (*req_cls == NULL) {
        req *rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        *req_cls = rq;
        rq->guard = s->guard;
        const char *why = NULL;
        unsigned bad = av_guard_check(s->guard, c, version, &why);
        if (bad) {
            rq->answered = 1;
            return send_error(rq, c, bad, why);
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoll(cl, NULL, 10) > s->max_body_bytes &&
            (strncasecmp(url, "/v1/", 4) == 0 || strncmp(url, "/v2/", 4) == 0)) {
            rq->too_big = 1;
            rq->answered = 1;
            char msg[160];
            snprintf(msg, sizeof msg, "Request body is larger than the limit of %lld bytes",
                     s->max_body_bytes);
            return send_error(rq, c, 413, msg);
        }
        return MHD_YES;
    }
    req *rq = *req_cls;
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->answered || rq->too_big)
            return MHD_YES; /* discard */
        if (rq->len + n > (size_t)s->max_body_bytes) {
            rq->too_big = 1;
            free(rq->body);
            rq->body = NULL;
            rq->len = rq->cap = 0;
            return MHD_YES;
        }
        if (rq->len + n + 1 > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 65536;
            while (cap < rq->len + n + 1)
                cap *= 2;
            if (cap > (size_t)s->max_body_bytes + 1)
                cap = (size_t)s->max_body_bytes + 1;
            char *p = realloc(rq->body, cap);
            if (!p)
                return MHD_NO;
            rq->body = p;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload_data, n);
        rq->len += n;
        rq->body[rq->len] = '\0';
        return MHD_YES;
    }
    if (rq->answered)
        return MHD_YES;
    enum MHD_Result ret;
    if (rq->pending) { /* resumed: the batch ran */
        json_t *answer = NULL;
        unsigned st = av_serving__predict_finish(s, rq->pending, &answer, &rq->images);
        rq->pending = NULL;
        ret = send_json(rq, c, st, answer);
    } else {
        clock_gettime(CLOCK_MONOTONIC, &rq->t0);
        rq->route = AV_SERVING__R_OTHER;
        ret = handle(s, c, url, method, rq);
        if (rq->pending)
            return ret;
    }
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    av_serving__metrics_observe(&s->metrics, rq->route, rq->code,
                                (double)(t1.tv_sec - rq->t0.tv_sec) +
                                    (double)(t1.tv_nsec - rq->t0.tv_nsec) / 1e9,
                                rq->images);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    av_serving *s = cls;
    req *rq = *req_cls;
    if (rq && rq->pending) /* closed before it was answered (shutdown) */
        av_serving__predict_abandon(cls, rq->pending);
    if (rq) {
        /* After a large body the heap keeps its peak (RSS stayed at 2-3 GB
         * after 41 MB nested-list requests): hand the free pages back. */
        int large = rq->cap > (8u << 20);
        free(rq->body);
        free(rq);
        if (large)
            malloc_trim(0);
    }
    *req_cls = NULL;
    av_guard_completed(s->guard, c);
}

/* Stop batchers and unload models (daemon already stopped), free s. */
static void teardown(av_serving *s)
{
    for (int i = 0; i < s->n_models; i++) {
        av_serving__batcher_stop(&s->model[i].batcher);
        av_serving__batcher_free(&s->model[i].batcher);
    }
    for (int i = 0; i < s->n_models; i++)
        av_serving__models_free(&s->model[i].models);
    free(s->model);
    av_serving__metrics_free(&s->metrics);
    av_guard_free(s->guard);
    free(s);
}

/* Load every model (one, or each of the config file) and start their
 * batchers. On failure s->n_models counts what must be torn down. */
static av_serving_status load_models(av_serving *s, const av_serving_opts *o, int workers,
                                     char *err, size_t errlen)
{
    av_serving_model_config one, *cfg = &one;
    int n = 1;
    if (o->model_config_file && *o->model_config_file) {
        cfg = calloc(AV_SERVING_MAX_MODELS, sizeof *cfg);
        if (!cfg) {
            snprintf(err, errlen, "serving: out of memory");
            return AV_SERVING_E_NOMEM;
        }
        if (av_serving_model_config_parse(o->model_config_file, cfg, AV_SERVING_MAX_MODELS, &n,
                                          err, errlen)) {
            free(cfg);
            return AV_SERVING_E_ARG;
        }
    } else {
        const char *name =
            o->model_name && *o->model_name ? o->model_name : AV_SERVING_DEFAULT_MODEL;
        if (strlen(name) >= sizeof one.name) {
            snprintf(err, errlen, "serving: model name too long");
            return AV_SERVING_E_ARG;
        }
        snprintf(one.name, sizeof one.name, "%s", name);
        one.base_path[0] = '\0';
    }
    s->model = calloc((size_t)n, sizeof *s->model);
    if (!s->model) {
        if (cfg != &one)
            free(cfg);
        snprintf(err, errlen, "serving: out of memory");
        return AV_SERVING_E_NOMEM;
    }
    av_detect_open_opts oo = {.threads = o->threads, .max_contexts = workers,
                              .species_list = o->species_list};
    /* Default as TF Serving's num_batch_threads: one batch per CPU at once;
     * more than the engine contexts (one per worker) would only queue. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int batch_threads = o->batch_threads > 0 ? o->batch_threads : cpus > 0 ? (int)cpus : 1;
    if (batch_threads > workers)
        batch_threads = workers;
    av_serving_status st = AV_SERVING_OK;
    for (int i = 0; i < n && !st; i++) {
        const char *models_dir = o->models_dir, *base = o->base_path;
        if (cfg != &one) {
            /* A config base_path is a version folder tree, or one models
             * folder (it holds pipeline.json) served as version 1. */
            char pj[600];
            struct stat sb;
            snprintf(pj, sizeof pj, "%s/pipeline.json", cfg[i].base_path);
            int flat = stat(pj, &sb) == 0;
            models_dir = flat ? cfg[i].base_path : NULL;
            base = flat ? NULL : cfg[i].base_path;
        }
        char e[640];
        if (av_serving__models_init(&s->model[i].models, cfg[i].name, models_dir, base, &oo,
                                    o->poll_ms, e, sizeof e)) {
            if (cfg != &one)
                snprintf(err, errlen, "model %s: %s", cfg[i].name, e);
            else
                snprintf(err, errlen, "%s", e);
            st = AV_SERVING_E_MODEL;
            break;
        }
        s->n_models = i + 1;
        if (s->batching &&
            av_serving__batcher_start(&s->model[i].batcher, o->batch_max, o->batch_wait_ms,
                                      o->batch_queue, batch_threads, s->top_k, s->max_pixels,
                                      s->max_pixels * workers, &s->metrics, err, errlen))
            st = AV_SERVING_E_NOMEM;
    }
    if (cfg != &one)
        free(cfg);
    return st;
}

av_serving_status av_serving_start(const av_serving_opts *o, av_serving **out, char *err,
                                   size_t errlen)
{
    *out = NULL;
    av_serving *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "serving: out of memory");
        return AV_SERVING_E_NOMEM;
    }
    s->max_upload_bytes = o->max_upload_bytes > 0 ? o->max_upload_bytes : 30LL * 1000 * 1000;
    s->max_body_bytes = s->max_upload_bytes / 3 * 4 + 8 + (1 << 20);
    s->max_pixels = o->max_pixels > 0 ? o->max_pixels : 50LL * 1000 * 1000;
    if (o->metrics_token && strlen(o->metrics_token) >= sizeof s->metrics_token) {
        snprintf(err, errlen, "metrics token longer than %zu bytes", sizeof s->metrics_token - 1);
        free(s);
        return AV_SERVING_E_ARG;
    }
    snprintf(s->metrics_token, sizeof s->metrics_token, "%s",
             o->metrics_token ? o->metrics_token : "");
    s->top_k = o->top_k > 0 ? (o->top_k < AV_DETECT_TOPK_MAX ? o->top_k : AV_DETECT_TOPK_MAX) : 3;
    s->tracked = o->tracked ? o->tracked : av_serving__tracked_default;
    s->n_tracked = o->tracked ? o->n_tracked : 3;
    s->batching = o->batch_max > 1;
    int workers = o->workers > 0 ? o->workers : 4;
    av_serving__metrics_init(&s->metrics);
    av_serving_status lst = load_models(s, o, workers, err, errlen);
    if (lst != AV_SERVING_OK) {
        teardown(s);
        return lst;
    }

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    const char *addr = o->listen && *o->listen ? o->listen : "0.0.0.0";
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "serving: '%s' is not an IPv4 address", addr);
        teardown(s);
        return AV_SERVING_E_ARG;
    }
    s->guard = av_guard_new(&o->guard, err, errlen);
    if (!s->guard) {
        teardown(s);
        return AV_SERVING_E_NOMEM;
    }
    struct MHD_OptionItem guard[8];
    av_guard_mhd_options(s->guard, guard, 8);
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_TURBO |
            (s->batching ? MHD_ALLOW_SUSPEND_RESUME : 0),
        (uint16_t)o->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)workers,
        MHD_OPTION_ARRAY, guard, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024), MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "serving: cannot listen on %s:%d (port in use or no permission?)",
                 addr, o->port);
        teardown(s);
        return AV_SERVING_E_LISTEN;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    s->started = time(NULL);
    *out = s;
    return AV_SERVING_OK;
}

int av_serving_port(const av_serving *s)
{
    return s->port;
}

void av_serving_stop(av_serving *s)
{
    if (!s)
        return;
    /* Batchers first: they run what is queued and wake those requests, as
     * the daemon may not stop with suspended connections; later predicts
     * get 503. Then the daemon (answers or drops the woken requests), then
     * the batchers' locks and the models. */
    for (int i = 0; i < s->n_models; i++)
        av_serving__batcher_stop(&s->model[i].batcher);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    teardown(s);
}
