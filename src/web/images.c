/*
 * images.c - GET /originals/<ID>.<ext> and /inferenced/<ID>.<ext>.
 *
 * The store (database or blob store) holds every upload; this node's
 * data/originals and data/inferenced folders are only a cache of it. A
 * file missing here (the upload came in through another node) is fetched
 * from the store, or for an annotated image re-drawn from the original and
 * the stored detections by the render callback, written to the cache and
 * served, so every node answers every image URL with the same bytes.
 */
#include "web/internal.h"

#include "log/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static enum MHD_Result respond(struct MHD_Connection *c, struct MHD_Response *r,
                               const char *mime)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, mime);
    /* Uploaded and annotated images never change under one ID. */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
                            "public, max-age=31536000, immutable");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = av_web__queue(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result from_disk(struct MHD_Connection *c, const char *path, const char *mime)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    return respond(c, r, mime);
}

/* The annotated image of img: drawn from its original and detections. */
static int render(av_web *w, av_store_image *img, void **out, size_t *len, const char *ext)
{
    char err[512] = "";
    av_store_detection *dets = NULL;
    int n = 0;
    if (strcmp(img->status, "done") || !w->o.render ||
        av_store_detections_get(w->o.store, img->id, &dets, &n, err, sizeof err) != AV_STORE_OK)
        return -1;
    av_web_analysis a;
    memset(&a, 0, sizeof a);
    int rc = w->o.render(w->o.render_ud, img->blob, img->blob_len, dets, n, &a, err, sizeof err);
    free(dets);
    if (rc || !a.annotated || strcmp(a.annotated_ext, ext)) {
        av_log(AV_LOG_WARN, "annotated_render_failed", "id", img->id, "error",
               rc ? err : "unexpected format", NULL);
        free(a.annotated);
        return -1;
    }
    *out = a.annotated;
    *len = a.annotated_len;
    return 0;
}

/* One fetch of a large original from the store at a time: a video of up to
 * --max-video-mb is read whole into memory to be cached, and concurrent
 * first requests must not each hold a copy; the ones that waited find the
 * cached file. */
static pthread_mutex_t big_fetch = PTHREAD_MUTEX_INITIALIZER;
#define BIG_BYTES (8LL << 20)

enum MHD_Result av_web__image(av_web *w, struct MHD_Connection *c, int annotated,
                              const char *id, const char *ext, const char *mime)
{
    if (annotated && !strncmp(mime, "video/", 6))
        return MHD_NO; /* videos have stills under /videos/, no annotated copy */
    const char *sub = annotated ? "inferenced" : "originals";
    char dir[1100], name[64], path[1200];
    snprintf(dir, sizeof dir, "%s/%s", w->o.data_dir, sub);
    snprintf(name, sizeof name, "%s.%s", id, ext);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char err[512] = "";
    av_store_image img;
    av_store_status st = w->o.store ? av_store_image_get(w->o.store, id, 0, &img, err, sizeof err)
                                    : AV_STORE_EUNAVAILABLE;
    if (st == AV_STORE_NOT_FOUND) { /* deleted, maybe on another node: drop our copy */
        unlink(path);
        return MHD_NO;
    }
    if (from_disk(c, path, mime) == MHD_YES)
        return MHD_YES;
    if (!w->o.store)
        return MHD_NO;

    int big = st == AV_STORE_OK && img.size_bytes > BIG_BYTES;
    if (big) {
        pthread_mutex_lock(&big_fetch);
        if (from_disk(c, path, mime) == MHD_YES) { /* cached while we waited */
            pthread_mutex_unlock(&big_fetch);
            return MHD_YES;
        }
    }
    if (st == AV_STORE_OK)
        st = av_store_image_get(w->o.store, id, 1, &img, err, sizeof err);
    if (st == AV_STORE_NOT_FOUND) {
        if (big)
            pthread_mutex_unlock(&big_fetch);
        return MHD_NO;
    }
    if (st != AV_STORE_OK) {
        if (big)
            pthread_mutex_unlock(&big_fetch);
        av_log(AV_LOG_ERROR, "image_load_failed", "id", id, "error", err, NULL);
        return av_web__message(w, c, MHD_HTTP_SERVICE_UNAVAILABLE, "Try again shortly",
                               "The image could not be loaded just now.");
    }
    void *bytes = NULL;
    size_t len = 0;
    if (!img.blob) {
        /* no bytes (a blob file gone): nothing to serve */
    } else if (!annotated) {
        if (!strcmp(img.ext, ext)) {
            bytes = img.blob, len = img.blob_len;
            img.blob = NULL;
        }
    } else if (render(w, &img, &bytes, &len, ext)) {
        bytes = NULL;
    }
    av_store_image_clear(&img);
    if (bytes && av_web__write_file_atomic(dir, name, bytes, len)) /* a cache: serve anyway */
        av_log(AV_LOG_WARN, "image_cache_write_failed", "path", path, NULL);
    if (big)
        pthread_mutex_unlock(&big_fetch);
    if (!bytes)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, bytes, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(bytes);
        return MHD_NO;
    }
    return respond(c, r, mime);
}
