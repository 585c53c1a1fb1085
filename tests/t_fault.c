/*
 * t_fault.c - allocation and file-call failures (src/base/fault.h), built
 * only in a fault build (build-asan, or FAULT=1). Each case walks N = 1,
 * 2, ... over one operation with the N-th counted call failing, until an N
 * at which no failure was injected and the operation succeeds. At every N
 * the operation must either return an error with a message, or succeed
 * with a correct result where the failed call was optional (a shrinking
 * realloc, an optimisation pass skipped): no crash, no abort, and under
 * LeakSanitizer nothing leaked.
 *
 * Counted calls are our code's malloc, calloc, realloc, strdup, strndup,
 * aligned_alloc, fopen and fread; libraries' own allocations (SQLite,
 * libjpeg-turbo, libspng, XNNPACK...) are not failed.
 */
#include "harness.h"
#include "t_vision_util.h"

#include "base/base.h"
#include "eval/eval.h"
#include "nn/nn.h"
#include "store/store.h"
#include "vision/vision.h"
#include "web/multipart.h"

#include <spng.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* One operation: 0 on success, else non-zero with err set; it frees what
 * it made either way. */
typedef int (*op_fn)(void *ctx, char *err, size_t errlen);

#define WALK_MAX 20000

/* Walks N over op; returns the N at which it succeeded with no failure
 * injected (every counted call before it was failed once). */
static long walk(const char *what, op_fn op, void *ctx)
{
    long absorbed = 0;
    /* AV_FAULT_FROM=N starts there (with AV_FAULT_TRACE=1: where call N is). */
    const char *from = getenv("AV_FAULT_FROM"), *step = getenv("AV_FAULT_STEP");
    long first = from ? atol(from) : 1, by = step && atol(step) > 0 ? atol(step) : 1;
    for (long n = first > 0 ? first : 1; n <= WALK_MAX; n += by) {
        char err[512] = "";
        av_base_fault_arm(n);
        int rc = op(ctx, err, sizeof err);
        int fired = av_base_fault_fired();
        long calls = av_base_fault_count();
        av_base_fault_arm(0);
#ifdef HAVE_LSAN
        CHECK_MSG(!__lsan_do_recoverable_leak_check(), "%s: leak after failing call %ld (%s)",
                  what, n, err);
#endif
        if (!fired) {
            CHECK_MSG(rc == 0, "%s: failed with no failure injected (N=%ld): %s", what, n, err);
            long tried = (n - first) / by;
            printf("%s: %ld counted calls, %ld failed once each: %ld clean errors, %ld absorbed\n",
                   what, calls, tried, tried - absorbed, absorbed);
            return n;
        }
        if (rc == 0)
            absorbed++; /* op checked its result: the failed call was optional */
        else
            CHECK_MSG(err[0], "%s: call %ld failed with no message", what, n);
    }
    FAIL("%s: still failing after %d injected failures", what, WALK_MAX);
}

TEST(fault_build_is_on)
{
    CHECK(av_base_fault_enabled());
    av_base_fault_arm(1);
    void *p = malloc(16);
    CHECK(p == NULL);
    CHECK(av_base_fault_fired());
    p = malloc(16);
    CHECK(p != NULL);
    CHECK_EQ_INT((int)av_base_fault_count(), 2);
    av_base_fault_arm(0);
    free(p);
}

/* ---- av_base_grow ---- */

TEST(grow_checks_overflow)
{
    void *p = NULL;
    size_t cap = 0;
    CHECK(av_base_grow(&p, &cap, 3, sizeof(int)) == 0 && cap >= 16);
    size_t old = cap;
    CHECK(av_base_grow(&p, &cap, (size_t)-1 / 2, 4) == -1 && cap == old);
    CHECK(av_base_grow(&p, &cap, 17, sizeof(int)) == 0 && cap == 32);
    av_base_fault_arm(1);
    CHECK(av_base_grow(&p, &cap, 100, sizeof(int)) == -1 && cap == 32 && p);
    av_base_fault_arm(0);
    free(p);
}

/* ---- model loading ---- */

static int load_model(void *ctx, char *err, size_t errlen)
{
    av_nn_model *m = NULL;
    av_nn_status st = av_nn_load(ctx, &m, err, errlen);
    if (st != AV_NN_OK) {
        CHECK(m == NULL);
        return -1;
    }
    CHECK(av_nn_num_inputs(m) == 1 && av_nn_num_outputs(m) >= 1);
    av_nn_model_free(m);
    return 0;
}

/* MobileNet v2 (TFLite: under 300 counted calls, seconds). AV_FAULT_MODEL=
 * PATH walks another model instead: yolox_nano.onnx makes about 3,700
 * calls, minutes under ASan, too long for every run. */
TEST(model_load)
{
    const char *path = getenv("AV_FAULT_MODEL");
    if (!path)
        path = av_test_shared("models/imagenet_mobilenet/mobilenet_v2_1.0_224_quant.tflite");
    walk("model load", load_model, (void *)path);
}

/* ---- image decoding ---- */

typedef struct bytes {
    unsigned char *p;
    size_t n;
    int w, h; /* the decoded size expected */
} bytes;

static int decode(void *ctx, char *err, size_t errlen)
{
    const bytes *b = ctx;
    av_image *img = NULL;
    av_vision_status st = av_vision_decode(b->p, b->n, NULL, &img, NULL, err, errlen);
    if (st != AV_VISION_OK) {
        CHECK(img == NULL);
        return -1;
    }
    CHECK(img->width == b->w && img->height == b->h && img->data);
    av_img_free(img);
    return 0;
}

TEST(decode_jpeg)
{
    bytes b;
    b.p = tv_image_file("parrot.jpg", &b.n);
    av_vision_decode_info info;
    CHECK(av_vision_probe(b.p, b.n, NULL, &info, NULL, 0) == AV_VISION_OK);
    int turned = info.orientation >= 5; /* EXIF 5..8 swap the sides */
    b.w = turned ? info.src_height : info.src_width;
    b.h = turned ? info.src_width : info.src_height;
    walk("jpeg decode", decode, &b);
    free(b.p);
}

TEST(decode_png)
{
    /* A small RGBA PNG, alpha flattened on decode. */
    enum { W = 40, H = 30 };
    static unsigned char px[W * H * 4];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (unsigned char)(i * 7);
    spng_ctx *c = spng_ctx_new(SPNG_CTX_ENCODER);
    CHECK(c);
    CHECK(spng_set_option(c, SPNG_ENCODE_TO_BUFFER, 1) == 0);
    struct spng_ihdr h = {.width = W, .height = H, .bit_depth = 8,
                          .color_type = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA};
    CHECK(spng_set_ihdr(c, &h) == 0);
    CHECK(spng_encode_image(c, px, sizeof px, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE) == 0);
    int e = 0;
    bytes b = {.w = W, .h = H};
    b.p = spng_get_png_buffer(c, &b.n, &e);
    CHECK(b.p && !e);
    spng_ctx_free(c);
    walk("png decode", decode, &b);
    free(b.p);
}

/* ---- multipart parsing ---- */

static int mp_on_begin(void *ctx, const av_web__mp_part *p)
{
    (void)p;
    ++*(int *)ctx;
    return 0;
}

static int mp_on_data(void *ctx, const char *d, size_t n)
{
    (void)ctx, (void)d, (void)n;
    return 0;
}

static int mp_on_end(void *ctx)
{
    (void)ctx;
    return 0;
}

static int multipart(void *ctx, char *err, size_t errlen)
{
    (void)ctx;
    static const av_web__mp_events ev = {mp_on_begin, mp_on_data, mp_on_end};
    static const char body[] = "--XyZ\r\n"
                               "Content-Disposition: form-data; name=\"note\"\r\n\r\n"
                               "a robin\r\n"
                               "--XyZ\r\n"
                               "Content-Disposition: form-data; name=\"file\"; filename=\"b.jpg\"\r\n"
                               "Content-Type: image/jpeg\r\n\r\n"
                               "\xff\xd8\xff\xe0 bytes\r\n"
                               "--XyZ--\r\n";
    int parts = 0;
    av_web__mp *m = av_web__mp_new("multipart/form-data; boundary=XyZ", &ev, &parts, err, errlen);
    if (!m)
        return -1;
    int rc = av_web__mp_feed(m, body, sizeof body - 1);
    if (!rc)
        rc = av_web__mp_finish(m);
    if (rc)
        snprintf(err, errlen, "%s", av_web__mp_error(m));
    else if (parts != 2)
        rc = -1, snprintf(err, errlen, "%d parts, want 2", parts);
    av_web__mp_free(m);
    return rc;
}

TEST(multipart_parse)
{
    walk("multipart", multipart, NULL);
}

/* ---- a file read with fopen/fread: the evaluation manifest ---- */

static int manifest(void *ctx, char *err, size_t errlen)
{
    av_eval_set *s = NULL;
    if (av_eval_set_load(ctx, &s, err, errlen)) {
        CHECK(s == NULL);
        return -1;
    }
    CHECK(s->n_rows > 100);
    av_eval_set_free(s);
    return 0;
}

TEST(eval_manifest_load)
{
    walk("eval manifest", manifest, (void *)av_test_shared("eval/birds/manifest.csv"));
}

/* ---- store round trip (SQLite) ---- */

static int round_trip(void *ctx, char *err, size_t errlen)
{
    /* A fresh database per N: a failed insert must not make the next N's a conflict. */
    static int k;
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s/f%d.db", (const char *)ctx, ++k);
    av_store *s = NULL;
    if (av_store_open(url, &s, err, errlen) != AV_STORE_OK)
        return -1;
    int rc = -1, v = 0;
    av_store_image img, got;
    memset(&img, 0, sizeof img);
    memset(&got, 0, sizeof got);
    av_store_detection d;
    memset(&d, 0, sizeof d);
    d.x1 = 1, d.y1 = 2, d.x2 = 30, d.y2 = 40, d.score = 0.9, d.species_score = 0.8;
    d.class_id = 3, d.n_guesses = 1, d.guesses[0].score = 0.8;
    snprintf(d.label, sizeof d.label, "bird");
    snprintf(d.species, sizeof d.species, "Turdus migratorius");
    snprintf(d.guesses[0].species, sizeof d.guesses[0].species, "Turdus migratorius");
    av_store_detection *dets = NULL;
    int n = 0;
    if (av_store_migrate(s, &v, err, errlen) != AV_STORE_OK || av_store_new_id(img.id) != 0)
        goto out;
    snprintf(img.name, sizeof img.name, "robin.jpg");
    snprintf(img.ext, sizeof img.ext, "jpg");
    snprintf(img.content_type, sizeof img.content_type, "image/jpeg");
    img.size_bytes = 4;
    if (av_store_image_insert(s, &img, "\xff\xd8\xff\xe0", 4, err, errlen) != AV_STORE_OK ||
        av_store_analysis_put(s, img.id, 64, 48, &d, 1, err, errlen) != AV_STORE_OK ||
        av_store_image_get(s, img.id, 1, &got, err, errlen) != AV_STORE_OK ||
        av_store_detections_get(s, img.id, &dets, &n, err, errlen) != AV_STORE_OK)
        goto out;
    if (got.blob_len != 4 || memcmp(got.blob, "\xff\xd8\xff\xe0", 4) || got.width != 64 ||
        n != 1 || strcmp(dets[0].species, d.species) || dets[0].n_guesses != 1) {
        snprintf(err, errlen, "read back differs (blob %zu bytes, %d detections)", got.blob_len,
                 n);
        goto out;
    }
    rc = 0;
out:
    free(dets);
    av_store_image_clear(&got);
    av_store_close(s);
    return rc;
}

/* SQLite's own allocator through the counted malloc (AV_FAULT_SQLITE=1): its
 * out-of-memory paths then reach the store too. About 12,800 calls, so
 * with AV_FAULT_STEP=K for every K-th; not part of the default run. */
static void *sq_malloc(int n)
{
    size_t *p = malloc((size_t)n + 16);
    return p ? (p[0] = (size_t)n, (char *)p + 16) : NULL;
}
static void sq_free(void *p)
{
    if (p)
        free((char *)p - 16);
}
static void *sq_realloc(void *p, int n)
{
    if (!p)
        return sq_malloc(n);
    size_t *q = realloc((char *)p - 16, (size_t)n + 16);
    return q ? (q[0] = (size_t)n, (char *)q + 16) : NULL;
}
static int sq_size(void *p)
{
    return p ? (int)*(size_t *)((char *)p - 16) : 0;
}
static int sq_roundup(int n)
{
    return (n + 7) & ~7;
}
static int sq_init(void *a)
{
    (void)a;
    return 0;
}
static void sq_shutdown(void *a)
{
    (void)a;
}

TEST(store_round_trip)
{
    const char *sq = getenv("AV_FAULT_SQLITE");
    if (sq && *sq == '1') {
        static const sqlite3_mem_methods mm = {sq_malloc,  sq_free, sq_realloc,  sq_size,
                                               sq_roundup, sq_init, sq_shutdown, NULL};
        CHECK(sqlite3_config(SQLITE_CONFIG_MALLOC, &mm) == SQLITE_OK);
    }
    walk("store round trip", round_trip, (void *)av_test_tmpdir());
}

TEST_MAIN(T(fault_build_is_on), T(grow_checks_overflow), T(model_load), T(decode_jpeg),
          T(decode_png), T(multipart_parse), T(eval_manifest_load), T(store_round_trip))
