/*
 * store.c - driver dispatch by URL scheme, IDs, shared helpers.
 */
#include "store/driver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static const av_store_driver *const g_drivers[] = {&av_store__sqlite_driver,
                                                   &av_store__mysql_driver};

const char *av_store_strerror(av_store_status st)
{
    switch (st) {
    case AV_STORE_OK: return "ok";
    case AV_STORE_NOT_FOUND: return "not found";
    case AV_STORE_CONFLICT: return "conflict";
    case AV_STORE_EARG: return "invalid argument";
    case AV_STORE_EDB: return "database error";
    case AV_STORE_ENOMEM: return "out of memory";
    case AV_STORE_EUNAVAILABLE: return "unavailable";
    }
    return "unknown error";
}

av_store_status av_store__fail(char *err, size_t errlen, av_store_status st, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

av_store_status av_store_open(const char *url, av_store **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *colon = url ? strchr(url, ':') : NULL;
    if (!colon)
        return av_store__fail(err, errlen, AV_STORE_EARG,
                              "database URL must look like sqlite:PATH or mysql://...");
    size_t n = (size_t)(colon - url);
    for (size_t i = 0; i < sizeof g_drivers / sizeof g_drivers[0]; i++) {
        const av_store_driver *d = g_drivers[i];
        if (strlen(d->scheme) == n && strncmp(d->scheme, url, n) == 0)
            return d->open(colon + 1, out, err, errlen);
    }
    return av_store__fail(err, errlen, AV_STORE_EARG, "database: unknown scheme '%.*s'", (int)n,
                          url);
}

void av_store_close(av_store *s)
{
    if (s) {
        free(s->blob_dir);
        s->blob_dir = NULL;
        s->drv->close(s);
    }
}

av_store_status av_store_set_blob_store(av_store *s, const char *dir, size_t max_db_blob,
                                        char *err, size_t errlen)
{
    s->max_blob = max_db_blob;
    free(s->blob_dir);
    s->blob_dir = NULL;
    if (!dir || !*dir)
        return AV_STORE_OK;
    if (strlen(dir) > 3000)
        return av_store__fail(err, errlen, AV_STORE_EARG, "blob store: path too long");
    if (mkdir(dir, 0750) && errno != EEXIST)
        return av_store__fail(err, errlen, AV_STORE_EARG, "blob store: cannot create %s: %s", dir,
                              strerror(errno));
    s->blob_dir = strdup(dir);
    return s->blob_dir ? AV_STORE_OK : AV_STORE_ENOMEM;
}

void av_store__blob_path(const av_store *s, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.blob", s->blob_dir, id);
}

/* Write the bytes to dir/.blob-XXXXXX, fsync, rename to dir/<id>.blob. */
static av_store_status blob_write(const av_store *s, const char *id, const void *p, size_t n,
                                  char *err, size_t errlen)
{
    char tmp[3100], dst[3100];
    snprintf(tmp, sizeof tmp, "%s/.blob-XXXXXX", s->blob_dir);
    av_store__blob_path(s, id, dst, sizeof dst);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return av_store__fail(err, errlen, AV_STORE_EDB, "blob store: %s", strerror(errno));
    const unsigned char *b = p;
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(fd, b + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        done += (size_t)k;
    }
    int bad = done != n || fsync(fd) != 0;
    bad |= close(fd) != 0;
    if (!bad && link(tmp, dst) != 0) /* link, not rename: an existing ID is never replaced */
        bad = errno == EEXIST ? 2 : 1;
    int e = errno;
    unlink(tmp);
    if (bad == 2)
        return av_store__fail(err, errlen, AV_STORE_CONFLICT, "image %s exists", id);
    if (bad)
        return av_store__fail(err, errlen, AV_STORE_EDB, "blob store: cannot write: %s",
                              strerror(e));
    return AV_STORE_OK;
}

static av_store_status blob_read(const av_store *s, av_store_image *img, char *err,
                                 size_t errlen)
{
    char path[3100];
    av_store__blob_path(s, img->id, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return av_store__fail(err, errlen, AV_STORE_EDB, "blob store: image %s: %s", img->id,
                              strerror(errno));
    struct stat st;
    av_store_status rc = AV_STORE_OK;
    if (fstat(fd, &st) || st.st_size < 0 || (img->size_bytes && st.st_size != img->size_bytes)) {
        rc = av_store__fail(err, errlen, AV_STORE_EDB, "blob store: image %s has the wrong size",
                            img->id);
    } else if (st.st_size > 0) {
        img->blob = malloc((size_t)st.st_size);
        size_t done = 0;
        while (img->blob && done < (size_t)st.st_size) {
            ssize_t k = read(fd, (char *)img->blob + done, (size_t)st.st_size - done);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break;
            done += (size_t)k;
        }
        if (!img->blob)
            rc = av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
        else if (done != (size_t)st.st_size)
            rc = av_store__fail(err, errlen, AV_STORE_EDB, "blob store: short read");
        else
            img->blob_len = done;
    }
    close(fd);
    if (rc != AV_STORE_OK)
        av_store_image_clear(img);
    return rc;
}

av_store_status av_store_migrate(av_store *s, int *v, char *err, size_t errlen)
{
    return s->drv->migrate(s, v, err, errlen);
}

av_store_status av_store_schema_version(av_store *s, int *v, char *err, size_t errlen)
{
    return s->drv->schema_version(s, v, err, errlen);
}

extern const char *const av_store__sqlite_migrations[];
extern const char *const av_store__mysql_migrations[];

int av_store_migration_count(const av_store *s)
{
    const char *const *m = strcmp(s->drv->dialect, "mysql") == 0 ? av_store__mysql_migrations
                                                                  : av_store__sqlite_migrations;
    int n = 0;
    while (m[n])
        n++;
    return n;
}

int av_store_new_id(char *buf)
{
    unsigned char r[AV_STORE_ID_LEN / 2];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t k = getrandom(r + got, sizeof r - got, 0);
        if (k < 0)
            return -1;
        got += (size_t)k;
    }
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(buf + 2 * i, 3, "%02x", r[i]);
    return 0;
}

int av_store_valid_id(const char *s)
{
    size_t i = 0;
    for (; s && s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return i == AV_STORE_ID_LEN;
}

av_store_status av_store_image_insert(av_store *s, const av_store_image *img, const void *blob,
                                      size_t len, char *err, size_t errlen)
{
    if (!av_store_valid_id(img->id))
        return av_store__fail(err, errlen, AV_STORE_EARG, "image id is not %d hex characters",
                              AV_STORE_ID_LEN);
    if (!s->blob_dir) {
        size_t max = s->max_blob                             ? s->max_blob
                     : strcmp(s->drv->dialect, "sqlite") == 0 ? AV_STORE_MAX_SQLITE_BLOB
                                                              : AV_STORE_MAX_DB_BLOB;
        if (blob && len > max)
            return av_store__fail(err, errlen, AV_STORE_EARG,
                                  "image of %zu bytes is over the %zu-byte limit for images kept"
                                  " in the database (use a blob store)", len, max);
        return s->drv->image_insert(s, img, blob, len, err, errlen);
    }
    av_store_status st = blob ? blob_write(s, img->id, blob, len, err, errlen) : AV_STORE_OK;
    if (st != AV_STORE_OK)
        return st;
    st = s->drv->image_insert(s, img, NULL, 0, err, errlen);
    if (st != AV_STORE_OK && blob) { /* the file is ours: link() made it */
        char path[3100];
        av_store__blob_path(s, img->id, path, sizeof path);
        unlink(path);
    }
    return st;
}

av_store_status av_store_image_get(av_store *s, const char *id, int with_blob,
                                   av_store_image *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!av_store_valid_id(id))
        return AV_STORE_NOT_FOUND;
    av_store_status st = s->drv->image_get(s, id, with_blob, out, err, errlen);
    if (st == AV_STORE_OK && with_blob && !out->blob && s->blob_dir)
        st = blob_read(s, out, err, errlen);
    return st;
}

void av_store_image_clear(av_store_image *img)
{
    free(img->blob);
    img->blob = NULL;
    img->blob_len = 0;
}

av_store_status av_store_image_count(av_store *s, int64_t *n, char *err, size_t errlen)
{
    return s->drv->image_count(s, n, err, errlen);
}

av_store_status av_store_analysis_put(av_store *s, const char *id, int w, int h,
                                      const av_store_detection *d, int n, char *err,
                                      size_t errlen)
{
    if (!av_store_valid_id(id) || n < 0)
        return AV_STORE_EARG;
    av_store_status st = s->drv->analysis_put(s, id, w, h, d, n, err, errlen);
    return st == AV_STORE_OK ? av_store__guesses_put(s, id, d, n, err, errlen) : st;
}

av_store_status av_store_analysis_fail(av_store *s, const char *id, const char *why, char *err,
                                       size_t errlen)
{
    return s->drv->analysis_fail(s, id, why, err, errlen);
}

av_store_status av_store_detections_get(av_store *s, const char *id, av_store_detection **d,
                                        int *n, char *err, size_t errlen)
{
    *d = NULL;
    *n = 0;
    av_store_status st = s->drv->detections_get(s, id, d, n, err, errlen);
    if (st == AV_STORE_OK && *n)
        st = av_store__guesses_get(s, id, *d, *n, err, errlen);
    if (st != AV_STORE_OK) {
        free(*d);
        *d = NULL;
        *n = 0;
    }
    return st;
}

av_store_status av_store_feedback_add(av_store *s, const char *id, const av_store_feedback *fb,
                                      const char *const *classes, int n_classes,
                                      av_store_monitor_point *point, char *err, size_t errlen)
{
    if (n_classes < 0 || n_classes > AV_STORE_MAX_CLASSES)
        return av_store__fail(err, errlen, AV_STORE_EARG, "at most %d tracked classes",
                              AV_STORE_MAX_CLASSES);
    if (!av_store_valid_id(id))
        return AV_STORE_NOT_FOUND;
    return s->drv->feedback_add(s, id, fb, classes, n_classes, point, err, errlen);
}

av_store_status av_store_feedback_count(av_store *s, int64_t *n, char *err, size_t errlen)
{
    return s->drv->feedback_count(s, n, err, errlen);
}

av_store_status av_store_monitoring_list(av_store *s, const char *const *classes, int n_classes,
                                         av_store_monitor_point **p, int *n, char *err,
                                         size_t errlen)
{
    *p = NULL;
    *n = 0;
    if (n_classes < 0 || n_classes > AV_STORE_MAX_CLASSES)
        return AV_STORE_EARG;
    return s->drv->monitoring_list(s, classes, n_classes, p, n, err, errlen);
}

void av_store__box_text(const av_store_detection *d, int width, int height, char *out,
                        size_t outlen)
{
    double w = width > 0 ? width : 1, h = height > 0 ? height : 1;
    snprintf(out, outlen, "%.6f, %.6f, %.6f, %.6f", d->y1 / h, d->x1 / w, d->y2 / h, d->x2 / w);
}

av_store_status av_store__split_sql(const char *sql,
                                    av_store_status (*fn)(void *ud, const char *stmt), void *ud,
                                    char *err, size_t errlen)
{
    size_t cap = strlen(sql) + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
    av_store_status st = AV_STORE_OK;
    int content = 0; /* anything but blanks since the last ';' */
    for (const char *p = sql;; p++) {
        char c = *p;
        if (c == '-' && p[1] == '-' && (p[2] == ' ' || p[2] == '\t' || p[2] == '\n')) {
            while (*p && *p != '\n')
                p++;
            if (!*p)
                c = '\0';
            else
                c = '\n';
        } else if (c == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 1 : p + strlen(p) - 1;
            c = ' ';
        } else if (c == '\'' || c == '"' || c == '`') { /* copy a quoted run whole */
            const char *q = p + 1;
            while (*q && *q != c) {
                if (*q == '\\' && q[1] && c != '`')
                    q++;
                q++;
            }
            size_t len = (size_t)(q - p) + (*q ? 1 : 0);
            memcpy(buf + n, p, len);
            n += len;
            content = 1;
            p += len - 1;
            continue;
        }
        if (c == ';' || c == '\0') {
            buf[n] = '\0';
            if (content)
                st = fn(ud, buf);
            n = 0;
            content = 0;
            if (st != AV_STORE_OK || c == '\0')
                break;
            continue;
        }
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            content = 1;
        buf[n++] = c;
    }
    free(buf);
    return st;
}

void av_store_redact_url(const char *url, char *out, size_t outlen)
{
    if (!outlen)
        return;
    const char *p = url ? strstr(url, "://") : NULL;
    const char *slash = p ? strchr(p + 3, '/') : NULL;
    const char *at = NULL;
    for (const char *q = p ? p + 3 : NULL; q && *q && (!slash || q < slash); q++)
        if (*q == '@')
            at = q;
    const char *colon = at ? memchr(p + 3, ':', (size_t)(at - p - 3)) : NULL;
    if (!colon) {
        snprintf(out, outlen, "%s", url ? url : "");
        return;
    }
    snprintf(out, outlen, "%.*s:***%s", (int)(colon - url), url, at);
}
