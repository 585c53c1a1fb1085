/*
 * upload.c - streaming multipart uploads and small url-encoded forms.
 *
 * The upload body is parsed by multipart.c (begin / data / end events per
 * part); the feedback form by libmicrohttpd's post processor. At most
 * AV_WEB_MAX_FILES file parts are kept; later ones are counted and named
 * in the answer. File parts go straight to an O_EXCL temp file in originals/ as they
 * arrive (the body is never held in memory); the size limit is checked on
 * the Content-Length before reading and on every chunk after. When a part
 * ends, its type is told from the magic bytes (never the name or the
 * client's Content-Type), it is renamed to originals/<ID>.<ext> and
 * stored in the images table. Videos (MP4/MOV, WebM/MKV, AVI by their magic
 * bytes) come through the same form and API with their own size limit,
 * told from a part's first 64 bytes, and their headers are checked against
 * the duration and frame-size limits before they are kept; they also get a
 * videos row.
 */
#include "web/internal.h"

#include "log/log.h"
#include "text/text.h"
#include "video/video.h"
#include "vision/vision.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Accepted photo types, by their magic bytes (vision's sniffing): JPEG,
 * PNG and WebP. BMP decodes too but is no upload format (the form and the
 * README name those three). NULL when it is none of them. */
static const char *photo_type(const void *p, size_t n, const char **content_type)
{
    av_vision_format f = av_vision_sniff(p, n);
    if (f != AV_VISION_FMT_JPEG && f != AV_VISION_FMT_PNG && f != AV_VISION_FMT_WEBP)
        return NULL;
    *content_type = av_vision_format_mime(f);
    return av_vision_format_ext(f);
}

static void reject(av_web__req *r, unsigned status, const char *problem)
{
    av_web__file *f = &r->files[r->n_files - 1];
    f->status = status;
    snprintf(f->problem, sizeof f->problem, "%s", problem);
}

long long av_web__part_limit(const av_web *w, int video)
{
    long long img = w->o.max_upload_bytes;
    long long vid = w->o.analyze_video ? w->o.max_video_bytes : 0;
    return video > 0 ? vid : video == 0 ? img : vid > img ? vid : img;
}

/* "200 MB", "4.7 MB", or "50 kB" below a megabyte (small limits in tests
 * and demos); a tenth is shown only where the size is not whole. */
static void fmt_size(char *out, size_t cap, long long bytes)
{
    long long unit = bytes >= 1000000 ? 1000000 : 1000;
    const char *name = unit == 1000000 ? "MB" : "kB";
    long long tenths = bytes * 10 / unit;
    if (tenths % 10 == 0)
        snprintf(out, cap, "%lld %s", tenths / 10, name);
    else
        snprintf(out, cap, "%lld.%lld %s", tenths / 10, tenths % 10, name);
}

static const char *video_mime(av_video_container c)
{
    switch (c) {
    case AV_VIDEO_MP4: return "video/mp4";
    case AV_VIDEO_MOV: return "video/quicktime";
    case AV_VIDEO_WEBM: return "video/webm";
    case AV_VIDEO_MKV: return "video/x-matroska";
    case AV_VIDEO_AVI: return "video/x-msvideo";
    default: return "application/octet-stream";
    }
}

/* A video part: refused (status set) when video analysis is off or its
 * headers break a limit; other defects (corrupt, audio only) are kept for
 * the analysis to name on the results page. */
static void check_video(av_web *w, av_web__req *r, const void *map, size_t n)
{
    char e[128], problem[160];
    if (!w->o.analyze_video) {
        reject(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "is a video, and this server does not "
                                                   "analyse videos");
        return;
    }
    if ((long long)n > w->o.max_video_bytes) {
        char lim[32], got[32];
        fmt_size(lim, sizeof lim, w->o.max_video_bytes);
        fmt_size(got, sizeof got, (long long)n);
        snprintf(problem, sizeof problem, "is larger than the video limit of %s (%s)", lim, got);
        reject(r, MHD_HTTP_CONTENT_TOO_LARGE, problem);
        return;
    }
    av_video_limits lim = {.max_bytes = w->o.max_video_bytes,
                           .max_seconds = w->o.max_video_seconds,
                           .max_pixels = w->o.max_pixels};
    av_video_result info;
    if (av_video_probe(map, n, &lim, &info, e, sizeof e) == AV_VIDEO_E_LIMIT) {
        snprintf(problem, sizeof problem, "cannot be analysed: %s", e);
        reject(r, MHD_HTTP_CONTENT_TOO_LARGE, problem);
    }
}

/* Keep a display name: the last path component, control characters
 * dropped, valid UTF-8 (JSON and the pages carry it as text). */
static void clean_name(char *dst, size_t cap, const char *src)
{
    const char *base = src;
    for (const char *p = src; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    char printable[1100];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)base; *p && n + 1 < sizeof printable;
         p++)
        if (*p >= 0x20 && *p != 0x7f)
            printable[n++] = (char)*p;
    printable[n] = '\0';
    av_text_utf8_clean(dst, cap, printable);
    if (!dst[0])
        snprintf(dst, cap, "upload");
}


/* Close the current part and store it (or record why not). */
static void finish_part(av_web *w, av_web__req *r)
{
    if (!r->in_file)
        return;
    r->in_file = 0;
    av_web__file *f = &r->files[r->n_files - 1];
    int fd = r->fd;
    r->fd = -1;
    if (r->too_big == AV_WEB_SIZE_OVER && !f->status)
        reject(r, MHD_HTTP_CONTENT_TOO_LARGE, "is larger than the upload limit");
    if (f->status || r->part_bytes == 0) {
        if (!f->status)
            reject(r, MHD_HTTP_BAD_REQUEST, "is empty");
        goto drop;
    }
    void *map = mmap(NULL, (size_t)r->part_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        reject(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not be read back");
        goto drop;
    }
    const char *ctype = NULL;
    const char *ext = photo_type(map, (size_t)r->part_bytes, &ctype);
    av_video_container vc = ext ? AV_VIDEO_NONE : av_video_sniff(map, (size_t)r->part_bytes);
    if (vc != AV_VIDEO_NONE) {
        check_video(w, r, map, (size_t)r->part_bytes);
        if (f->status) {
            munmap(map, (size_t)r->part_bytes);
            goto drop;
        }
        ext = av_video_container_name(vc);
        ctype = video_mime(vc);
    }
    if (!ext) {
        munmap(map, (size_t)r->part_bytes);
        reject(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
               "is not a PNG, JPEG or WebP image, nor an MP4, MOV, WebM, MKV or AVI video");
        goto drop;
    }
    av_store_image img;
    memset(&img, 0, sizeof img);
    if (av_store_new_id(img.id)) {
        munmap(map, (size_t)r->part_bytes);
        reject(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not be given an ID");
        goto drop;
    }
    snprintf(img.name, sizeof img.name, "%s", f->name);
    snprintf(img.ext, sizeof img.ext, "%s", ext);
    snprintf(img.content_type, sizeof img.content_type, "%s", ctype);
    img.size_bytes = r->part_bytes;
    char dst[1200], err[512];
    snprintf(dst, sizeof dst, "%s/originals/%s.%s", w->o.data_dir, img.id, ext);
    fchmod(fd, 0644);
    if (rename(r->tmp_path, dst)) {
        munmap(map, (size_t)r->part_bytes);
        av_log(AV_LOG_ERROR, "upload_rename_failed", "error", strerror(errno), NULL);
        reject(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not be saved");
        goto drop;
    }
    r->tmp_path[0] = '\0';
    av_store_status st = av_store_image_insert(w->o.store, &img, map, (size_t)r->part_bytes, err,
                                               sizeof err);
    munmap(map, (size_t)r->part_bytes);
    close(fd);
    if (st == AV_STORE_EARG) { /* larger than the database keeps per file */
        unlink(dst);
        av_log(AV_LOG_WARN, "upload_store_refused", "error", err, NULL);
        reject(r, MHD_HTTP_CONTENT_TOO_LARGE,
               "is larger than the database keeps per file (the operator can set --blob-store)");
        return;
    }
    if (st != AV_STORE_OK) {
        unlink(dst);
        av_log(AV_LOG_ERROR, "upload_store_failed", "error", err, NULL);
        reject(r, MHD_HTTP_SERVICE_UNAVAILABLE, "could not be stored; please try again");
        return;
    }
    if (vc != AV_VIDEO_NONE &&
        av_store_video_add(w->o.store, img.id, ext, err, sizeof err) != AV_STORE_OK) {
        char e2[128];
        av_log(AV_LOG_ERROR, "upload_store_failed", "error", err, NULL);
        av_store_analysis_fail(w->o.store, img.id, "the video could not be registered", e2,
                               sizeof e2);
        reject(r, MHD_HTTP_SERVICE_UNAVAILABLE, "could not be stored; please try again");
        return;
    }
    snprintf(f->id, sizeof f->id, "%s", img.id);
    char size[32];
    snprintf(size, sizeof size, "%lld", r->part_bytes);
    av_log(AV_LOG_INFO, "uploaded", "id", img.id, "bytes", size, "type", ext, NULL);
    return;
drop:
    if (fd >= 0)
        close(fd);
    if (r->tmp_path[0])
        unlink(r->tmp_path);
    r->tmp_path[0] = '\0';
}

/* Feedback: small url-encoded (or multipart) fields, appended across chunks. */
static enum MHD_Result feedback_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *filename, const char *content_type,
                                      const char *transfer_encoding, const char *data, uint64_t off,
                                      size_t size)
{
    av_web__req *r = cls;
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
    if (!strcmp(key, "csrf")) { /* checked by auth.c */
        av_web__auth_csrf_field(r, data, off, size);
        return MHD_YES;
    }
    char *dst = NULL;
    size_t cap = 0;
    if (!strcmp(key, "vote"))
        dst = r->vote, cap = sizeof r->vote;
    else if (!strcmp(key, "ground_truth"))
        dst = r->ground_truth, cap = sizeof r->ground_truth;
    else if (!strcmp(key, "predicted"))
        dst = r->predicted, cap = sizeof r->predicted;
    if (!dst) { /* a per-bird review form's fields (review.c) */
        av_web__review_field(r, key, data, off, size);
        return MHD_YES;
    }
    size_t have = off ? strlen(dst) : 0;
    if (have + size + 1 > cap) {
        r->field_too_long = 1;
        return MHD_YES;
    }
    memcpy(dst + have, data, size);
    dst[have + size] = '\0';
    return MHD_YES;
}

/* multipart events (multipart.c): a part begins, carries data, ends. */
static int part_begin(void *ctx, const av_web__mp_part *p)
{
    av_web__req *r = ctx;
    av_web *w = r->w;
    if (!strcmp(p->name, "csrf") && !p->filename) { /* checked by auth.c */
        r->skip_part = r->csrf_part = 1;
        r->csrf_off = 0;
        return 0;
    }
    r->skip_part = strcmp(p->name, "file") != 0 || !p->filename;
    if (r->skip_part)
        return 0; /* other fields are ignored */
    if (!av_web__auth_csrf_ok(r)) { /* a session's form: its token comes first */
        r->auth.refused = 1;
        return 1;
    }
    if (r->n_files == AV_WEB_MAX_FILES) { /* named in the answer, not stored */
        if (!r->extra_files++)
            clean_name(r->first_extra, sizeof r->first_extra, p->filename);
        r->skip_part = 1;
        return 0;
    }
    av_web__file *f = &r->files[r->n_files++];
    memset(f, 0, sizeof *f);
    clean_name(f->name, sizeof f->name, p->filename);
    snprintf(r->tmp_path, sizeof r->tmp_path, "%s/originals/.upload-XXXXXX", w->o.data_dir);
    r->fd = mkstemp(r->tmp_path); /* O_EXCL, mode 0600 */
    if (r->fd < 0) {
        r->tmp_path[0] = '\0';
        reject(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not be saved");
    }
    r->in_file = 1;
    r->part_bytes = 0;
    r->sniffed = r->part_video = 0;
    r->head_len = 0;
    r->too_big = AV_WEB_SIZE_OK;
    return 0;
}

static int part_data(void *ctx, const char *data, size_t size)
{
    av_web__req *r = ctx;
    av_web *w = r->w;
    if (r->csrf_part) {
        av_web__auth_csrf_field(r, data, r->csrf_off, size);
        r->csrf_off += size;
        return 0;
    }
    if (r->skip_part || !r->in_file || r->files[r->n_files - 1].status)
        return 0;
    if (!r->sniffed) { /* images and videos have their own limits: which is it? */
        size_t k = sizeof r->head - r->head_len < size ? sizeof r->head - r->head_len : size;
        memcpy(r->head + r->head_len, data, k);
        r->head_len += k;
        if (r->head_len == sizeof r->head) {
            r->sniffed = 1;
            r->part_video = av_video_sniff(r->head, r->head_len) != AV_VIDEO_NONE;
        }
    }
    r->part_bytes += (long long)size;
    if (r->part_bytes > av_web__part_limit(w, r->sniffed ? r->part_video : -1)) {
        r->too_big = AV_WEB_SIZE_OVER;
        /* Refused while it streams in: only a lower bound of its size is known. */
        int kind = r->sniffed ? r->part_video : -1;
        char problem[160], lim[32], got[32];
        fmt_size(lim, sizeof lim, av_web__part_limit(w, kind));
        fmt_size(got, sizeof got, r->part_bytes);
        snprintf(problem, sizeof problem, "is larger than the %s limit of %s (at least %s)",
                 kind > 0 ? "video" : kind == 0 ? "photo" : "upload", lim, got);
        reject(r, MHD_HTTP_CONTENT_TOO_LARGE, problem);
        return 0;
    }
    while (size) {
        ssize_t n = write(r->fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            reject(r, MHD_HTTP_INSUFFICIENT_STORAGE, "could not be written (disk full?)");
            return 0;
        }
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

static int part_end(void *ctx)
{
    av_web__req *r = ctx;
    if (!r->skip_part)
        finish_part(r->w, r);
    r->skip_part = r->csrf_part = 0;
    return 0;
}

int av_web__upload_begin(av_web__req *r)
{
    av_web *w = r->w;
    struct MHD_Connection *c = r->c;
    const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    int feedback = r->route == AV_WEB_ROUTE_FEEDBACK;
    long long limit = feedback ? AV_WEB_FORM_LIMIT : av_web__body_limit(w);
    if (len && atoll(len) > limit) {
        /* Refused from its Content-Length, before a byte is read: say both. */
        char text[300], got[32], img[32], vid[32];
        fmt_size(got, sizeof got, atoll(len));
        fmt_size(img, sizeof img, w->o.max_upload_bytes);
        fmt_size(vid, sizeof vid, w->o.max_video_bytes);
        if (feedback)
            snprintf(text, sizeof text, "This form is %s; a feedback form is at most %d kB.",
                     got, AV_WEB_FORM_LIMIT / 1024);
        else if (w->o.analyze_video)
            snprintf(text, sizeof text,
                     "This upload is %s; each photo may be at most %s, each video %s.", got,
                     img, vid);
        else
            snprintf(text, sizeof text, "This upload is %s; each photo may be at most %s.", got,
                     img);
        if (r->route == AV_WEB_ROUTE_API_UPLOAD)
            av_web__send_json(r, MHD_HTTP_CONTENT_TOO_LARGE, json_pack("{s:s}", "error", text));
        else
            av_web__message(r, MHD_HTTP_CONTENT_TOO_LARGE,
                            feedback ? "That form is too large" : "That upload is too large",
                            text);
        return -1;
    }
    if (feedback) {
        r->pp = MHD_create_post_processor(c, 64 * 1024, feedback_field, r);
    } else {
        static const av_web__mp_events ev = {part_begin, part_data, part_end};
        char err[128];
        r->mp = av_web__mp_new(
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE), &ev, r,
            err, sizeof err);
    }
    if (!r->pp && !r->mp) {
        av_web__message(r, MHD_HTTP_BAD_REQUEST, "That upload could not be read",
                        feedback ? "Please send the form as the page does."
                                 : "Please upload through the form (multipart/form-data).");
        return -1;
    }
    return 0;
}

long long av_web__body_limit(const av_web *w)
{
    return av_web__part_limit(w, -1) * AV_WEB_MAX_FILES + 64 * 1024;
}

int av_web__upload_feed(av_web__req *r, const char *data, size_t n)
{
    r->total_bytes += (long long)n;
    if (r->failed)
        return 0;
    if (!r->mp) { /* url-encoded forms: feedback, sign-in (auth.c) */
        if (r->total_bytes > AV_WEB_FORM_LIMIT)
            r->field_too_long = 1; /* chunked: no Content-Length was checked */
        else if (r->pp && MHD_post_process(r->pp, data, n) != MHD_YES)
            r->failed = 1;
        return 0;
    }
    if (r->mp && av_web__mp_feed(r->mp, data, n))
        r->failed = 1;
    return 0;
}

void av_web__upload_end(av_web *w, av_web__req *r)
{
    if (!r->mp || (!r->failed && !av_web__mp_finish(r->mp)))
        return;
    r->failed = 1; /* after_upload names the problem when no file came through */
    /* A malformed or cut-off body: the file it was in is not kept. */
    if (r->in_file && !r->files[r->n_files - 1].status) {
        char problem[160];
        snprintf(problem, sizeof problem, "could not be read (%s)", av_web__mp_error(r->mp));
        reject(r, MHD_HTTP_BAD_REQUEST, problem);
    }
    finish_part(w, r);
}

void av_web__req_free(av_web__req *r)
{
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    av_web__mp_free(r->mp);
    if (r->fd >= 0)
        close(r->fd);
    if (r->tmp_path[0])
        unlink(r->tmp_path);
    free(r);
}
