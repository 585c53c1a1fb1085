/*
 * detect_fixture.c - shared set-up of the detection pipeline tests
 * (detect_fixture.h).
 */
#include "detect_fixture.h"

#include "harness.h"

#include "vision/vision.h"

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void *av_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f, "cannot open %s", path);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    CHECK(n >= 0 && fseek(f, 0, SEEK_SET) == 0);
    unsigned char *buf = malloc((size_t)n + 1);
    CHECK(buf);
    CHECK_MSG(fread(buf, 1, (size_t)n, f) == (size_t)n, "cannot read %s", path);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

void av_test_write_file(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f, "cannot create %s", path);
    CHECK(fwrite(b, 1, n, f) == n);
    CHECK(fclose(f) == 0);
}

void av_test_need_models(void)
{
    if (access("models/human/nanodet.json", R_OK) || access("models/human/centernet.json", R_OK))
        SKIP("detector models not fetched (run scripts/setup)");
}

void av_test_need_species_model(void)
{
    av_test_need_models();
    if (access("models/inat_bird/mobilenet_v2_1.0_224_inat_bird_quant.tflite", R_OK))
        SKIP("species model not fetched (run scripts/setup)");
}

av_detect_pipeline *av_test_open_pipeline(const char *dir, const av_detect_open_opts *o)
{
    if (!dir) {
        av_test_need_models();
        dir = "models";
    }
    av_detect_open_opts oo = o ? *o : (av_detect_open_opts){.threads = 1};
    av_detect_pipeline *p;
    char err[1024];
    CHECK_MSG(av_detect_pipeline_open(dir, &oo, &p, err, sizeof err) == 0, "%s: %s", dir, err);
    return p;
}

void av_test_run_file(av_detect_pipeline *p, const char *path, const av_detect_run_opts *o,
                      av_detect_result *r)
{
    size_t len;
    unsigned char *buf = av_test_read_file(path, &len);
    char err[1024];
    av_detect_status st = av_detect_run(p, buf, len, o, r, err, sizeof err);
    free(buf);
    CHECK_MSG(st == AV_DETECT_OK, "%s: %s", path, err);
}

int av_test_count_bird_boxes(const av_detect_result *r)
{
    int n = 0;
    for (int i = 0; i < r->n_dets; i++)
        n += r->dets[i].class_index == 14 && !r->dets[i].whole_image;
    return n;
}

unsigned char *av_test_bird_on_a_page(size_t *len)
{
    size_t n;
    unsigned char *bmp = av_test_read_file(av_test_shared("testdata/images/bird.bmp"), &n);
    av_image *bird = NULL, *pg = av_img_new(1100, 740);
    char err[256];
    CHECK_MSG(av_vision_decode(bmp, n, NULL, &bird, NULL, err, sizeof err) == AV_VISION_OK, "%s",
              err);
    free(bmp);
    CHECK(pg);
    memset(pg->data, 255, (size_t)pg->width * pg->height * 3);
    int ox = (pg->width - bird->width) / 2, oy = (pg->height - bird->height) / 2;
    for (int y = 0; y < bird->height; y++)
        memcpy(pg->data + 3 * ((size_t)(oy + y) * pg->width + ox),
               bird->data + 3 * (size_t)y * bird->width, 3 * (size_t)bird->width);
    unsigned char *png = NULL;
    CHECK(av_vision_encode_png(pg, &png, len, err, sizeof err) == AV_VISION_OK);
    av_img_free(bird);
    av_img_free(pg);
    return png;
}

const char *av_test_models_with(const char *name, const char *file, const char *key,
                                const char *value)
{
    static char dir[PATH_MAX + 64];
    char abs[PATH_MAX], link[PATH_MAX + 400], target[PATH_MAX + 400];
    CHECK(realpath("models", abs));
    snprintf(dir, sizeof dir, "%s/%s", av_test_tmpdir(), name);
    CHECK_MSG(mkdir(dir, 0755) == 0, "mkdir %s", dir);
    DIR *d = opendir(abs);
    CHECK(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, file))
            continue;
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        snprintf(target, sizeof target, "%s/%s", abs, e->d_name);
        CHECK_MSG(symlink(target, link) == 0, "symlink %s", link);
    }
    closedir(d);
    json_error_t je;
    snprintf(target, sizeof target, "models/%s", file);
    json_t *root = json_load_file(target, 0, &je);
    CHECK_MSG(json_is_object(root), "%s: %s", target, je.text);
    /* walk to the object holding the last part of key */
    char path[256];
    snprintf(path, sizeof path, "%s", key);
    json_t *obj = root;
    char *last = path;
    for (char *dot; (dot = strchr(last, '.')); last = dot + 1) {
        *dot = '\0';
        obj = json_object_get(obj, last);
        CHECK_MSG(json_is_object(obj), "%s: no object '%s' on the way to %s", target, last, key);
    }
    if (value) {
        json_t *v = json_loads(value, JSON_DECODE_ANY, &je);
        CHECK_MSG(v, "%s: %s", value, je.text);
        CHECK(json_object_set_new(obj, last, v) == 0);
    } else {
        json_object_del(obj, last);
    }
    snprintf(link, sizeof link, "%s/%s", dir, file);
    CHECK(json_dump_file(root, link, JSON_INDENT(1)) == 0);
    json_decref(root);
    return dir;
}

/* bird.bmp tiled 2x2 with the bottom-right cell left black: three separate
 * birds NanoDet finds (a 3x1 strip, as bench_pipeline once built, gives no
 * box at all: squeezed to 416x416 the birds are too narrow). */
unsigned char *av_test_three_birds(int *w, int *h)
{
    size_t len;
    void *buf = av_test_read_file(av_test_shared("testdata/images/bird.bmp"), &len);
    av_image *img = NULL;
    char err[256];
    CHECK_MSG(av_vision_decode(buf, len, NULL, &img, NULL, err, sizeof err) == AV_VISION_OK, "%s",
              err);
    free(buf);
    *w = img->width * 2, *h = img->height * 2;
    unsigned char *px = calloc((size_t)*w * (size_t)*h, 3);
    CHECK(px);
    for (int y = 0; y < *h; y++)
        for (int x = 0; x < *w; x++)
            if (x < img->width || y < img->height)
                memcpy(px + ((size_t)y * *w + x) * 3,
                       img->data + ((size_t)(y % img->height) * img->width + x % img->width) * 3,
                       3);
    av_img_free(img);
    return px;
}
