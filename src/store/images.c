/*
 * images.c - images, their analyses and detections (schema v1,
 * db/{sqlite,mysql}/0001_init.sql; a drawing's best guess, v11), written once over the driver
 * primitives for both databases; image bytes in the table or, with a blob
 * store, in DIR/<id>.blob files.
 */
#include "store/driver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- blob store files ---- */

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

/* ---- images ---- */

static av_store_status insert_row(av_store *s, const av_store_image *img, const void *blob,
                                  size_t len, char *err, size_t errlen)
{
    av_store__arg a[6] = {AV_ARG_T(img->id), AV_ARG_T(img->name), AV_ARG_NUL,
                          AV_ARG_T(img->ext), AV_ARG_T(img->content_type),
                          AV_ARG_I(img->size_bytes)};
    if (blob)
        a[2] = (av_store__arg){.type = AV_ARG_BLOB, .p = blob, .len = len};
    av_store_status st =
        av_store__exec1(s,
                        "INSERT INTO images (ID, name, image_blob, ext, content_type, size_bytes)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        a, 6, NULL, err, errlen);
    if (st == AV_STORE_CONFLICT)
        av_store__fail(err, errlen, AV_STORE_CONFLICT, "image %s exists", img->id);
    return st;
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
        return insert_row(s, img, blob, len, err, errlen);
    }
    av_store_status st = blob ? blob_write(s, img->id, blob, len, err, errlen) : AV_STORE_OK;
    if (st != AV_STORE_OK)
        return st;
    st = insert_row(s, img, NULL, 0, err, errlen);
    if (st != AV_STORE_OK && blob) { /* the file is ours: link() made it */
        char path[3100];
        av_store__blob_path(s, img->id, path, sizeof path);
        unlink(path);
    }
    return st;
}

typedef struct img_row {
    int64_t size, w, h, voted;
    av_store__blob blob;
    int found;
} img_row;

static int img_row_fn(void *ud)
{
    ((img_row *)ud)->found = 1;
    return 1;
}

av_store_status av_store_image_get(av_store *s, const char *id, int with_blob,
                                   av_store_image *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!av_store_valid_id(id))
        return AV_STORE_NOT_FOUND;
    img_row r = {0};
    av_store_illustration *il = &out->illustration;
    int64_t il_on = 0;
    av_store__col cols[16] = {
        {AV_COL_TEXT, out->id, sizeof out->id, 0},
        {AV_COL_TEXT, out->name, sizeof out->name, 0},
        {AV_COL_TEXT, out->ext, sizeof out->ext, 0},
        {AV_COL_TEXT, out->content_type, sizeof out->content_type, 0},
        {AV_COL_INT, &r.size, 0, 0},
        {AV_COL_INT, &r.w, 0, 0},
        {AV_COL_INT, &r.h, 0, 0},
        {AV_COL_INT, &r.voted, 0, 0},
        {AV_COL_TEXT, out->status, sizeof out->status, 0},
        {AV_COL_TEXT, out->error, sizeof out->error, 0},
        {AV_COL_TEXT, out->created_at, sizeof out->created_at, 0},
        {AV_COL_INT, &il_on, 0, 0},
        {AV_COL_TEXT, il->species, sizeof il->species, 0},
        {AV_COL_TEXT, il->common_name, sizeof il->common_name, 0},
        {AV_COL_DOUBLE, &il->score, 0, 0},
        {AV_COL_BLOB, &r.blob, 0, 0},
    };
    char ts[160], sql[768];
    snprintf(sql, sizeof sql,
             "SELECT ID, name, ext, content_type, size_bytes, COALESCE(width, 0),"
             " COALESCE(height, 0), voted, status, COALESCE(error, ''), %s, illustration,"
             " illustration_species, illustration_common, COALESCE(illustration_score, -1)%s"
             " FROM images WHERE ID = ?",
             av_store__sql_wrap(s->drv->ts_text, "created_at", ts, sizeof ts), with_blob ? ", image_blob" : "");
    av_store__arg a[1] = {AV_ARG_T(id)};
    av_store_status st = av_store__query1(s, sql, a, 1, cols, with_blob ? 16 : 15, img_row_fn,
                                          &r, err, errlen);
    if (st == AV_STORE_OK && !r.found)
        st = AV_STORE_NOT_FOUND;
    if (st != AV_STORE_OK) {
        free(r.blob.data);
        return st;
    }
    out->size_bytes = r.size;
    out->width = (int)r.w;
    out->height = (int)r.h;
    out->voted = (int)r.voted;
    il->on = il_on != 0;
    out->blob = r.blob.data;
    out->blob_len = r.blob.len;
    if (with_blob && !out->blob && s->blob_dir)
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
    return av_store__int(s, NULL, "SELECT COUNT(*) FROM images", NULL, 0, n, err, errlen);
}

/* ---- analyses ---- */

void av_store__box_text(const av_store_detection *d, int width, int height, char *out,
                        size_t outlen)
{
    double w = width > 0 ? width : 1, h = height > 0 ? height : 1;
    snprintf(out, outlen, "%.6f, %.6f, %.6f, %.6f", d->y1 / h, d->x1 / w, d->y2 / h, d->x2 / w);
}

typedef struct put_ud {
    const char *id;
    int width, height;
    const av_store_detection *d;
    int n;
    const av_store_illustration *ill; /* never NULL */
} put_ud;

static av_store_status put_body(av_store *s, av_store__sess *c, void *ud, char *err,
                                size_t errlen)
{
    put_ud *u = ud;
    int64_t changed = 0;
    /* Claim the image: only a pending (or failed) one moves to done. */
    const av_store_illustration *il = u->ill;
    av_store__arg a[7] = {AV_ARG_I(u->width), AV_ARG_I(u->height), AV_ARG_I(il->on != 0),
                          AV_ARG_T(il->species), AV_ARG_T(il->common_name),
                          il->on && il->score >= 0 ? AV_ARG_D(il->score) : AV_ARG_NUL,
                          AV_ARG_T(u->id)};
    av_store_status st = s->drv->exec(c,
                                      "UPDATE images SET status = 'done', error = NULL, width = ?,"
                                      " height = ?, illustration = ?, illustration_species = ?,"
                                      " illustration_common = ?, illustration_score = ?"
                                      " WHERE ID = ? AND status <> 'done'",
                                      a, 7, &changed, NULL, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    if (changed != 1)
        return av_store__fail(err, errlen, AV_STORE_CONFLICT,
                              "image %s already analysed or unknown", u->id);
    for (int i = 0; i < u->n && st == AV_STORE_OK; i++) {
        const av_store_detection *d = &u->d[i];
        char box[128];
        av_store__box_text(d, u->width, u->height, box, sizeof box);
        av_store__arg b[16] = {
            AV_ARG_T(u->id), AV_ARG_T(box), AV_ARG_D(d->score), AV_ARG_I(d->class_id),
            AV_ARG_I(i), AV_ARG_D(d->x1), AV_ARG_D(d->y1), AV_ARG_D(d->x2), AV_ARG_D(d->y2),
            AV_ARG_T(d->label), d->species[0] ? AV_ARG_T(d->species) : AV_ARG_NUL,
            d->common_name[0] ? AV_ARG_T(d->common_name) : AV_ARG_NUL,
            AV_ARG_D(d->detector_score),
            d->species_score >= 0 ? AV_ARG_D(d->species_score) : AV_ARG_NUL,
            AV_ARG_T(d->model_version), AV_ARG_T(d->whole_image_by)};
        st = s->drv->exec(c,
                          "INSERT INTO inferences (ID, box, score, `class`, idx, x1, y1, x2, y2,"
                          " label, species, common_name, detector_score, species_score,"
                          " model_version, whole_image_by)"
                          " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          b, 16, NULL, NULL, err, errlen);
    }
    /* in the same transaction: a reader that sees the image done sees its guesses */
    return st == AV_STORE_OK ? av_store__guesses_put(s, c, u->id, u->d, u->n, err, errlen) : st;
}

av_store_status av_store_analysis_put(av_store *s, const char *id, int w, int h,
                                      const av_store_detection *d, int n, char *err,
                                      size_t errlen)
{
    return av_store_analysis_put_illus(s, id, w, h, d, n, NULL, err, errlen);
}

av_store_status av_store_analysis_put_illus(av_store *s, const char *id, int w, int h,
                                            const av_store_detection *d, int n,
                                            const av_store_illustration *ill, char *err,
                                            size_t errlen)
{
    static const av_store_illustration photo = {.score = -1};
    if (!av_store_valid_id(id) || n < 0)
        return AV_STORE_EARG;
    put_ud u = {id, w, h, d, n, ill && ill->on ? ill : &photo};
    return s->drv->tx(s, put_body, &u, err, errlen);
}

av_store_status av_store_analysis_fail(av_store *s, const char *id, const char *why, char *err,
                                       size_t errlen)
{
    av_store__arg a[2] = {AV_ARG_T(why), AV_ARG_T(id)};
    return av_store__exec1(
        s, "UPDATE images SET status = 'failed', error = ? WHERE ID = ? AND status <> 'done'", a,
        2, NULL, err, errlen);
}

void av_store__det_cols(av_store__col *cols, av_store_detection *d, int64_t *cls)
{
    const av_store__col c[AV_STORE__DET_COLS] = {
        {AV_COL_DOUBLE, &d->x1, 0, 0},
        {AV_COL_DOUBLE, &d->y1, 0, 0},
        {AV_COL_DOUBLE, &d->x2, 0, 0},
        {AV_COL_DOUBLE, &d->y2, 0, 0},
        {AV_COL_DOUBLE, &d->score, 0, 0},
        {AV_COL_DOUBLE, &d->detector_score, 0, 0},
        {AV_COL_DOUBLE, &d->species_score, 0, 0},
        {AV_COL_INT, cls, 0, 0},
        {AV_COL_TEXT, d->label, sizeof d->label, 0},
        {AV_COL_TEXT, d->species, sizeof d->species, 0},
        {AV_COL_TEXT, d->common_name, sizeof d->common_name, 0},
        {AV_COL_TEXT, d->model_version, sizeof d->model_version, 0},
    };
    memcpy(cols, c, sizeof c);
}

typedef struct dets_ud {
    av_store_detection *d, row;
    int64_t cls;
    int n, cap, oom;
} dets_ud;

static int dets_fn(void *ud)
{
    dets_ud *u = ud;
    if (av_store__grow((void **)&u->d, &u->cap, u->n + 1, sizeof *u->d)) {
        u->oom = 1;
        return 1;
    }
    u->row.class_id = (int)u->cls;
    u->d[u->n++] = u->row;
    return 0;
}

av_store_status av_store_detections_get(av_store *s, const char *id, av_store_detection **out,
                                        int *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    dets_ud u;
    memset(&u, 0, sizeof u);
    av_store__col cols[AV_STORE__DET_COLS + 1];
    av_store__det_cols(cols, &u.row, &u.cls);
    cols[AV_STORE__DET_COLS] =
        (av_store__col){AV_COL_TEXT, u.row.whole_image_by, sizeof u.row.whole_image_by, 0};
    av_store__arg a[1] = {AV_ARG_T(id)};
    av_store_status st = av_store__query1(
        s,
        "SELECT x1, y1, x2, y2, score, detector_score, COALESCE(species_score, -1), `class`,"
        " label, COALESCE(species, ''), COALESCE(common_name, ''), model_version,"
        " whole_image_by FROM inferences WHERE ID = ? ORDER BY idx",
        a, 1, cols, AV_STORE__DET_COLS + 1, dets_fn, &u, err, errlen);
    if (st == AV_STORE_OK && u.oom)
        st = av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
    if (st == AV_STORE_OK && u.n)
        st = av_store__guesses_get(s, id, u.d, u.n, err, errlen);
    if (st != AV_STORE_OK) {
        free(u.d);
        return st;
    }
    *out = u.d;
    *n = u.n;
    return AV_STORE_OK;
}
