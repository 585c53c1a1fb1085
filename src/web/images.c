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

/* A single "Range: bytes=..." of a body of size bytes (RFC 9110 14.1.2):
 * 0 whole body (no range, several ranges or one we do not parse: served
 * whole, as allowed), 1 the part [*off, *off + *len), -1 unsatisfiable. */
static int byte_range(struct MHD_Connection *c, uint64_t size, uint64_t *off, uint64_t *len)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
        return 0;
    const char *p = h + 6;
    char *end;
    int has_first = *p >= '0' && *p <= '9';
    unsigned long long first = has_first ? strtoull(p, &end, 10) : 0;
    if (has_first)
        p = end;
    if (*p++ != '-')
        return 0;
    int has_last = *p >= '0' && *p <= '9';
    unsigned long long last = has_last ? strtoull(p, &end, 10) : 0;
    if (has_last)
        p = end;
    if (*p || (!has_first && !has_last) || (has_first && has_last && last < first))
        return 0;
    if (!has_first) { /* the last `last` bytes */
        if (last == 0 || size == 0)
            return -1;
        *off = last >= size ? 0 : size - last;
        *len = size - *off;
        return 1;
    }
    if (first >= size)
        return -1;
    *off = first;
    *len = (has_last && last < size ? last + 1 : size) - first;
    return 1;
}

/* Queue resp (covering the range part when status is 206) and release it. */
static enum MHD_Result respond(av_web__req *r, struct MHD_Response *resp, const char *mime,
                               unsigned status, uint64_t off, uint64_t len, uint64_t size)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, mime);
    /* Uploaded and annotated images never change under one ID. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            "public, max-age=31536000, immutable");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    char cr[96];
    if (status == MHD_HTTP_PARTIAL_CONTENT)
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)off,
                 (unsigned long long)(off + len - 1), (unsigned long long)size);
    else
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
    if (status != MHD_HTTP_OK)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    enum MHD_Result ret = av_web__queue(r, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The whole of size bytes, the requested part (206) or 416. */
static enum MHD_Result respond_range(av_web__req *r, const char *mime, uint64_t size, int fd,
                                     void *bytes)
{
    uint64_t off = 0, len = size;
    int part = byte_range(r->c, size, &off, &len);
    unsigned status = part > 0 ? MHD_HTTP_PARTIAL_CONTENT
                      : part < 0 ? MHD_HTTP_RANGE_NOT_SATISFIABLE
                                 : MHD_HTTP_OK;
    if (part < 0)
        off = len = 0;
    struct MHD_Response *resp;
    if (fd >= 0) {
        resp = part < 0 ? MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT)
                     : MHD_create_response_from_fd_at_offset64(len, fd, off);
        if (part < 0 || !resp)
            close(fd);
    } else if (part == 0) {
        resp = MHD_create_response_from_buffer((size_t)len, bytes, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(bytes);
    } else {
        resp = MHD_create_response_from_buffer((size_t)len, (char *)bytes + off,
                                            MHD_RESPMEM_MUST_COPY);
        free(bytes);
    }
    if (!resp)
        return MHD_NO;
    return respond(r, resp, mime, status, off, len, size);
}

static enum MHD_Result from_disk(av_web__req *r, const char *path, const char *mime)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return MHD_NO;
    }
    return respond_range(r, mime, (uint64_t)st.st_size, fd, NULL);
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

enum MHD_Result av_web__image(av_web__req *r, int annotated, const char *id, const char *ext,
                              const char *mime)
{
    av_web *w = r->w;
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
    if (from_disk(r, path, mime) == MHD_YES)
        return MHD_YES;
    if (!w->o.store)
        return MHD_NO;

    int big = st == AV_STORE_OK && img.size_bytes > BIG_BYTES;
    if (big) {
        pthread_mutex_lock(&big_fetch);
        if (from_disk(r, path, mime) == MHD_YES) { /* cached while we waited */
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
        return av_web__message(r, MHD_HTTP_SERVICE_UNAVAILABLE, "Try again shortly",
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
    return respond_range(r, mime, len, -1, bytes);
}
