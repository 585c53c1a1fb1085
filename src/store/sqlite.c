/*
 * sqlite.c - the SQLite driver: the embedded default.
 *
 * A small pool of connections to one database file in WAL mode, so readers
 * never wait for the writer; writes take BEGIN IMMEDIATE so two writers
 * queue on the busy timeout instead of failing half-way. Every statement
 * is prepared with bound parameters.
 */
#include "store/driver.h"

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_SIZE 8
#define BUSY_TIMEOUT_MS 10000

extern const char *const av_store__sqlite_migrations[];

typedef struct sq_store {
    av_store base; /* first: see driver.h */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3 *conn[POOL_SIZE];
    int busy[POOL_SIZE];
} sq_store;

static av_store_status db_fail(sqlite3 *db, char *err, size_t errlen, const char *what)
{
    return av_store__fail(err, errlen, AV_STORE_EDB, "sqlite: %s: %s", what, sqlite3_errmsg(db));
}

static sqlite3 *acquire(sq_store *s)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (int i = 0; i < POOL_SIZE; i++)
            if (!s->busy[i]) {
                s->busy[i] = 1;
                pthread_mutex_unlock(&s->mu);
                return s->conn[i];
            }
        pthread_cond_wait(&s->cv, &s->mu);
    }
}

static void release(sq_store *s, sqlite3 *db)
{
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < POOL_SIZE; i++)
        if (s->conn[i] == db)
            s->busy[i] = 0;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void sq_close(av_store *base)
{
    sq_store *s = (sq_store *)base;
    for (int i = 0; i < POOL_SIZE; i++)
        sqlite3_close_v2(s->conn[i]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static av_store_status sq_open(const char *path, av_store **out, char *err, size_t errlen)
{
    if (!*path)
        return av_store__fail(err, errlen, AV_STORE_EARG, "sqlite: empty database path");
    sq_store *s = calloc(1, sizeof *s);
    if (!s)
        return av_store__fail(err, errlen, AV_STORE_ENOMEM, "sqlite: out of memory");
    s->base.drv = &av_store__sqlite_driver;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    for (int i = 0; i < POOL_SIZE; i++) {
        int rc = sqlite3_open_v2(path, &s->conn[i],
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 NULL);
        if (rc != SQLITE_OK) {
            av_store__fail(err, errlen, AV_STORE_EDB, "sqlite: cannot open %s: %s", path,
                           s->conn[i] ? sqlite3_errmsg(s->conn[i]) : sqlite3_errstr(rc));
            sq_close(&s->base);
            return AV_STORE_EDB;
        }
        sqlite3_busy_timeout(s->conn[i], BUSY_TIMEOUT_MS);
        char *msg = NULL;
        const char *pragmas = i == 0 ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                       " PRAGMA foreign_keys=ON;"
                                     : "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;";
        if (sqlite3_exec(s->conn[i], pragmas, NULL, NULL, &msg) != SQLITE_OK) {
            av_store__fail(err, errlen, AV_STORE_EDB, "sqlite: %s: %s", path,
                           msg ? msg : "pragma failed");
            sqlite3_free(msg);
            sq_close(&s->base);
            return AV_STORE_EDB;
        }
    }
    *out = &s->base;
    return AV_STORE_OK;
}

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* ---- migrations ---- */

static av_store_status current_version(sqlite3 *db, int *v, char *err, size_t errlen)
{
    if (exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version INTEGER PRIMARY KEY,"
                 " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"))
        return db_fail(db, err, errlen, "schema_migrations");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &st,
                           NULL))
        return db_fail(db, err, errlen, "schema version");
    *v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return AV_STORE_OK;
}

static av_store_status sq_schema_version(av_store *base, int *v, char *err, size_t errlen)
{
    sq_store *s = (sq_store *)base;
    sqlite3 *db = acquire(s);
    av_store_status st = current_version(db, v, err, errlen);
    release(s, db);
    return st;
}

static av_store_status sq_migrate(av_store *base, int *version, char *err, size_t errlen)
{
    sq_store *s = (sq_store *)base;
    sqlite3 *db = acquire(s);
    av_store_status st = AV_STORE_OK;
    if (exec(db, "BEGIN IMMEDIATE")) {
        st = db_fail(db, err, errlen, "begin migration");
        goto out;
    }
    int v = 0;
    st = current_version(db, &v, err, errlen);
    for (int i = v; st == AV_STORE_OK && av_store__sqlite_migrations[i]; i++) {
        char *msg = NULL;
        if (sqlite3_exec(db, av_store__sqlite_migrations[i], NULL, NULL, &msg) != SQLITE_OK) {
            st = av_store__fail(err, errlen, AV_STORE_EDB, "sqlite: migration %d: %s", i + 1,
                                msg ? msg : "failed");
            sqlite3_free(msg);
            break;
        }
        sqlite3_stmt *ins;
        if (sqlite3_prepare_v2(db, "INSERT INTO schema_migrations(version) VALUES (?)", -1, &ins,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_int(ins, 1, i + 1);
            if (sqlite3_step(ins) != SQLITE_DONE)
                st = db_fail(db, err, errlen, "record migration");
            sqlite3_finalize(ins);
        } else {
            st = db_fail(db, err, errlen, "record migration");
        }
        v = i + 1;
    }
    if (st == AV_STORE_OK && exec(db, "COMMIT"))
        st = db_fail(db, err, errlen, "commit migration");
    if (st != AV_STORE_OK)
        exec(db, "ROLLBACK");
    else if (version)
        *version = v;
out:
    release(s, db);
    return st;
}

/* ---- images ---- */

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static av_store_status sq_image_insert(av_store *base, const av_store_image *img,
                                       const void *blob, size_t len, char *err, size_t errlen)
{
    sq_store *s = (sq_store *)base;
    sqlite3 *db = acquire(s);
    sqlite3_stmt *st = NULL;
    av_store_status rc = AV_STORE_OK;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO images (ID, name, image_blob, ext, content_type,"
                           " size_bytes) VALUES (?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL)) {
        rc = db_fail(db, err, errlen, "insert image");
        goto out;
    }
    sqlite3_bind_text(st, 1, img->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, img->name, -1, SQLITE_STATIC);
    if (blob)
        sqlite3_bind_blob64(st, 3, blob, len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_text(st, 4, img->ext, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, img->content_type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, img->size_bytes);
    int r = sqlite3_step(st);
    if (r == SQLITE_CONSTRAINT)
        rc = av_store__fail(err, errlen, AV_STORE_CONFLICT, "image %s exists", img->id);
    else if (r != SQLITE_DONE)
        rc = db_fail(db, err, errlen, "insert image");
out:
    sqlite3_finalize(st);
    release(s, db);
    return rc;
}

static av_store_status sq_image_get(av_store *base, const char *id, int with_blob,
                                    av_store_image *out, char *err, size_t errlen)
{
    sq_store *s = (sq_store *)base;
    sqlite3 *db = acquire(s);
    sqlite3_stmt *st = NULL;
    av_store_status rc = AV_STORE_OK;
    const char *sql = with_blob
                          ? "SELECT ID, name, ext, content_type, size_bytes, COALESCE(width,0),"
                            " COALESCE(height,0), voted, status, COALESCE(error,''), created_at,"
                            " image_blob FROM images WHERE ID = ?"
                          : "SELECT ID, name, ext, content_type, size_bytes, COALESCE(width,0),"
                            " COALESCE(height,0), voted, status, COALESCE(error,''), created_at"
                            " FROM images WHERE ID = ?";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) {
        rc = db_fail(db, err, errlen, "get image");
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        rc = AV_STORE_NOT_FOUND;
        goto out;
    }
    if (r != SQLITE_ROW) {
        rc = db_fail(db, err, errlen, "get image");
        goto out;
    }
    col_text(st, 0, out->id, sizeof out->id);
    col_text(st, 1, out->name, sizeof out->name);
    col_text(st, 2, out->ext, sizeof out->ext);
    col_text(st, 3, out->content_type, sizeof out->content_type);
    out->size_bytes = sqlite3_column_int64(st, 4);
    out->width = sqlite3_column_int(st, 5);
    out->height = sqlite3_column_int(st, 6);
    out->voted = sqlite3_column_int(st, 7);
    col_text(st, 8, out->status, sizeof out->status);
    col_text(st, 9, out->error, sizeof out->error);
    col_text(st, 10, out->created_at, sizeof out->created_at);
    if (with_blob) {
        int n = sqlite3_column_bytes(st, 11);
        const void *p = sqlite3_column_blob(st, 11);
        if (n > 0 && p) {
            out->blob = malloc((size_t)n);
            if (!out->blob) {
                rc = av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
                goto out;
            }
            memcpy(out->blob, p, (size_t)n);
            out->blob_len = (size_t)n;
        }
    }
out:
    sqlite3_finalize(st);
    release(s, db);
    return rc;
}

static av_store_status count_query(sq_store *s, const char *sql, int64_t *n, char *err,
                                   size_t errlen)
{
    sqlite3 *db = acquire(s);
    sqlite3_stmt *st = NULL;
    av_store_status rc = AV_STORE_OK;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) || sqlite3_step(st) != SQLITE_ROW)
        rc = db_fail(db, err, errlen, "count");
    else
        *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    release(s, db);
    return rc;
}

static av_store_status sq_image_count(av_store *base, int64_t *n, char *err, size_t errlen)
{
    return count_query((sq_store *)base, "SELECT COUNT(*) FROM images", n, err, errlen);
}

static av_store_status sq_feedback_count(av_store *base, int64_t *n, char *err, size_t errlen)
{
    return count_query((sq_store *)base, "SELECT COUNT(*) FROM feedback", n, err, errlen);
}

/* ---- analysis ---- */

static av_store_status sq_analysis_put(av_store *base, const char *id, int width, int height,
                                       const av_store_detection *d, int n, char *err,
                                       size_t errlen)
{
    sq_store *s = (sq_store *)base;
    sqlite3 *db = acquire(s);
    sqlite3_stmt *st = NULL;
    av_store_status rc = AV_STORE_OK;
    if (exec(db, "BEGIN IMMEDIATE")) {
        rc = db_fail(db, err, errlen, "begin");
        release(s, db);
        return rc;
    }
    /* Claim the image: only a pending (or failed) one moves to done. */
    if (sqlite3_prepare_v2(db,
                           "UPDATE images SET status = 'done', error = NULL, width = ?,"
                           " height = ? WHERE ID = ? AND status <> 'done'",
                           -1, &st, NULL)) {
        rc = db_fail(db, err, errlen, "claim image");
        goto out;
    }
    sqlite3_bind_int(st, 1, width);
    sqlite3_bind_int(st, 2, height);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_fail(db, err, errlen, "claim image");
        goto out;
    }
    if (sqlite3_changes(db) != 1) {
        rc = av_store__fail(err, errlen, AV_STORE_CONFLICT, "image %s already analysed or unknown",
                            id);
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO inferences (ID, box, score, class, idx, x1, y1, x2, y2,"
                           " label, species, common_name, detector_score, species_score,"
                           " model_version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL)) {
        rc = db_fail(db, err, errlen, "insert inference");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        char box[128];
        av_store__box_text(&d[i], width, height, box, sizeof box);
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, box, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 3, d[i].score);
        sqlite3_bind_int(st, 4, d[i].class_id);
        sqlite3_bind_int(st, 5, i);
        sqlite3_bind_double(st, 6, d[i].x1);
        sqlite3_bind_double(st, 7, d[i].y1);
        sqlite3_bind_double(st, 8, d[i].x2);
        sqlite3_bind_double(st, 9, d[i].y2);
        sqlite3_bind_text(st, 10, d[i].label, -1, SQLITE_STATIC);
        if (d[i].species[0])
            sqlite3_bind_text(st, 11, d[i].species, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 11);
        if (d[i].common_name[0])
            sqlite3_bind_text(st, 12, d[i].common_name, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 12);
        sqlite3_bind_double(st, 13, d[i].detector_score);
        if (d[i].species_score >= 0)
            sqlite3_bind_double(st, 14, d[i].species_score);
        else
            sqlite3_bind_null(st, 14);
        sqlite3_bind_text(st, 15, d[i].model_version, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = db_fail(db, err, errlen, "insert inference");
            goto out;
        }
    }
out:
    sqlite3_finalize(st);
    if (rc == AV_STORE_OK && exec(db, "COMMIT"))
        rc = db_fail(db, err, errlen, "commit");
    if (rc != AV_STORE_OK)
        exec(db, "ROLLBACK");
    release(s, db);
    return rc;
}

static av_store_status sq_analysis_fail(av_store *base, const char *id, const char *why,
                                        char *err, size_t errlen)
{
    sq_store *s = (sq_store *)base;
    sqlite3 *db = acquire(s);
    sqlite3_stmt *st = NULL;
    av_store_status rc = AV_STORE_OK;
    if (sqlite3_prepare_v2(db,
                           "UPDATE images SET status = 'failed', error = ? WHERE ID = ?"
                           " AND status <> 'done'",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, why, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_fail(db, err, errlen, "mark failed");
    } else {
        rc = db_fail(db, err, errlen, "mark failed");
    }
    sqlite3_finalize(st);
    release(s, db);
    return rc;
}

static av_store_status sq_detections_get(av_store *base, const char *id,
                                         av_store_detection **out, int *n, char *err,
                                         size_t errlen)
{
    sq_store *s = (sq_store *)base;
    sqlite3 *db = acquire(s);
    sqlite3_stmt *st = NULL;
    av_store_status rc = AV_STORE_OK;
    av_store_detection *d = NULL;
    int cnt = 0, cap = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT x1, y1, x2, y2, score, detector_score,"
                           " COALESCE(species_score, -1), class, label, COALESCE(species, ''),"
                           " COALESCE(common_name, ''), model_version FROM inferences"
                           " WHERE ID = ? ORDER BY idx",
                           -1, &st, NULL)) {
        rc = db_fail(db, err, errlen, "get detections");
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 8;
            av_store_detection *nd = realloc(d, (size_t)cap * sizeof *d);
            if (!nd) {
                rc = av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
                goto out;
            }
            d = nd;
        }
        av_store_detection *x = &d[cnt++];
        memset(x, 0, sizeof *x);
        x->x1 = sqlite3_column_double(st, 0);
        x->y1 = sqlite3_column_double(st, 1);
        x->x2 = sqlite3_column_double(st, 2);
        x->y2 = sqlite3_column_double(st, 3);
        x->score = sqlite3_column_double(st, 4);
        x->detector_score = sqlite3_column_double(st, 5);
        x->species_score = sqlite3_column_double(st, 6);
        x->class_id = sqlite3_column_int(st, 7);
        col_text(st, 8, x->label, sizeof x->label);
        col_text(st, 9, x->species, sizeof x->species);
        col_text(st, 10, x->common_name, sizeof x->common_name);
        col_text(st, 11, x->model_version, sizeof x->model_version);
    }
    if (r != SQLITE_DONE)
        rc = db_fail(db, err, errlen, "get detections");
out:
    sqlite3_finalize(st);
    release(s, db);
    if (rc != AV_STORE_OK) {
        free(d);
        return rc;
    }
    *out = d;
    *n = cnt;
    return rc;
}

/* ---- feedback and monitoring ---- */

static int stat_add(sqlite3 *db, const char *key, double sum, int n)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO feedback_stats (key, sum, n) VALUES (?, ?, ?)"
                           " ON CONFLICT(key) DO UPDATE SET sum = sum + excluded.sum,"
                           " n = n + excluded.n",
                           -1, &st, NULL))
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 2, sum);
    sqlite3_bind_int(st, 3, n);
    int ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

/* Mean of a stats key; NaN when nothing was counted. */
static int stat_mean(sqlite3 *db, const char *key, double *mean, int *n)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT sum, n FROM feedback_stats WHERE key = ?", -1, &st, NULL))
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    *mean = NAN;
    *n = 0;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW && sqlite3_column_int(st, 1) > 0) {
        *n = sqlite3_column_int(st, 1);
        *mean = sqlite3_column_double(st, 0) / *n;
    }
    sqlite3_finalize(st);
    return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : -1;
}

static void bind_opt_double(sqlite3_stmt *st, int i, double v)
{
    if (isnan(v))
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, v);
}

static av_store_status sq_feedback_add(av_store *base, const char *id,
                                       const av_store_feedback *fb, const char *const *classes,
                                       int n_classes, av_store_monitor_point *point, char *err,
                                       size_t errlen)
{
    sq_store *s = (sq_store *)base;
    sqlite3 *db = acquire(s);
    sqlite3_stmt *st = NULL;
    av_store_status rc = AV_STORE_OK;
    av_store_monitor_point pt;
    memset(&pt, 0, sizeof pt);
    if (exec(db, "BEGIN IMMEDIATE")) {
        rc = db_fail(db, err, errlen, "begin");
        release(s, db);
        return rc;
    }
    /* Claim the vote first: a second vote changes nothing. */
    if (sqlite3_prepare_v2(db, "UPDATE images SET voted = 1 WHERE ID = ? AND voted = 0", -1, &st,
                           NULL)) {
        rc = db_fail(db, err, errlen, "vote");
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_fail(db, err, errlen, "vote");
        goto out;
    }
    if (sqlite3_changes(db) != 1) {
        sqlite3_finalize(st);
        st = NULL;
        int64_t exists = 0;
        if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM images WHERE ID = ?", -1, &st, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW)
                exists = sqlite3_column_int64(st, 0);
        }
        rc = exists ? av_store__fail(err, errlen, AV_STORE_CONFLICT, "image already voted on")
                    : AV_STORE_NOT_FOUND;
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;

    if (sqlite3_prepare_v2(db,
                           "INSERT INTO feedback (imageID, vote, ground_truth, predicted,"
                           " satisfaction) VALUES (?, ?, ?, ?, ?)",
                           -1, &st, NULL)) {
        rc = db_fail(db, err, errlen, "insert feedback");
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, fb->vote_yes ? "yes" : "no", -1, SQLITE_STATIC);
    if (fb->ground_truth >= 0)
        sqlite3_bind_int(st, 3, fb->ground_truth);
    else
        sqlite3_bind_null(st, 3);
    if (fb->predicted >= 0)
        sqlite3_bind_int(st, 4, fb->predicted);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_double(st, 5, fb->satisfaction);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_fail(db, err, errlen, "insert feedback");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;

    if (stat_add(db, "satisfaction", fb->satisfaction, 1)) {
        rc = db_fail(db, err, errlen, "satisfaction stats");
        goto out;
    }
    /* Per tracked class: this image's detections of it join the mean. */
    if (sqlite3_prepare_v2(db,
                           "SELECT COALESCE(SUM(score), 0), COUNT(*) FROM inferences"
                           " WHERE ID = ? AND species = ?",
                           -1, &st, NULL)) {
        rc = db_fail(db, err, errlen, "class scores");
        goto out;
    }
    for (int k = 0; k < n_classes; k++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, classes[k], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) {
            rc = db_fail(db, err, errlen, "class scores");
            goto out;
        }
        double sum = sqlite3_column_double(st, 0);
        int cnt = sqlite3_column_int(st, 1);
        char key[160];
        snprintf(key, sizeof key, "class:%s", classes[k]);
        if (cnt > 0 && stat_add(db, key, sum, cnt)) {
            rc = db_fail(db, err, errlen, "class stats");
            goto out;
        }
    }
    sqlite3_finalize(st);
    st = NULL;

    int n_sat = 0;
    if (stat_mean(db, "satisfaction", &pt.user_satisfaction, &n_sat)) {
        rc = db_fail(db, err, errlen, "satisfaction mean");
        goto out;
    }
    pt.seq = n_sat;
    pt.n_classes = n_classes;
    int class_n[AV_STORE_MAX_CLASSES];
    for (int k = 0; k < n_classes; k++) {
        char key[160];
        snprintf(key, sizeof key, "class:%s", classes[k]);
        if (stat_mean(db, key, &pt.class_avg[k], &class_n[k])) {
            rc = db_fail(db, err, errlen, "class mean");
            goto out;
        }
    }
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO monitoring (imageID, avg_score_1, avg_score_2,"
                           " avg_score_3, user_satisfaction, seq) VALUES (?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL)) {
        rc = db_fail(db, err, errlen, "insert monitoring");
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    for (int k = 0; k < 3; k++)
        bind_opt_double(st, 2 + k, k < n_classes ? pt.class_avg[k] : NAN);
    sqlite3_bind_double(st, 5, pt.user_satisfaction);
    sqlite3_bind_int(st, 6, pt.seq);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_fail(db, err, errlen, "insert monitoring");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO monitoring_classes (seq, class, avg_score, n)"
                           " VALUES (?, ?, ?, ?)",
                           -1, &st, NULL)) {
        rc = db_fail(db, err, errlen, "insert monitoring classes");
        goto out;
    }
    for (int k = 0; k < n_classes; k++) {
        sqlite3_reset(st);
        sqlite3_bind_int(st, 1, pt.seq);
        sqlite3_bind_text(st, 2, classes[k], -1, SQLITE_STATIC);
        bind_opt_double(st, 3, pt.class_avg[k]);
        sqlite3_bind_int(st, 4, class_n[k]);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = db_fail(db, err, errlen, "insert monitoring classes");
            goto out;
        }
    }
    snprintf(pt.image_id, sizeof pt.image_id, "%s", id);
out:
    sqlite3_finalize(st);
    if (rc == AV_STORE_OK && exec(db, "COMMIT"))
        rc = db_fail(db, err, errlen, "commit");
    if (rc != AV_STORE_OK)
        exec(db, "ROLLBACK");
    release(s, db);
    if (rc == AV_STORE_OK && point)
        *point = pt;
    return rc;
}

static av_store_status sq_monitoring_list(av_store *base, const char *const *classes,
                                          int n_classes, av_store_monitor_point **out, int *n,
                                          char *err, size_t errlen)
{
    sq_store *s = (sq_store *)base;
    sqlite3 *db = acquire(s);
    sqlite3_stmt *st = NULL, *cls = NULL;
    av_store_status rc = AV_STORE_OK;
    av_store_monitor_point *p = NULL;
    int cnt = 0, cap = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT imageID, timestamp, seq, user_satisfaction FROM monitoring"
                           " ORDER BY seq",
                           -1, &st, NULL) ||
        sqlite3_prepare_v2(db,
                           "SELECT avg_score FROM monitoring_classes WHERE seq = ? AND class = ?",
                           -1, &cls, NULL)) {
        rc = db_fail(db, err, errlen, "list monitoring");
        goto out;
    }
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            av_store_monitor_point *np = realloc(p, (size_t)cap * sizeof *p);
            if (!np) {
                rc = av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
                goto out;
            }
            p = np;
        }
        av_store_monitor_point *x = &p[cnt++];
        memset(x, 0, sizeof *x);
        col_text(st, 0, x->image_id, sizeof x->image_id);
        col_text(st, 1, x->timestamp, sizeof x->timestamp);
        x->seq = sqlite3_column_int(st, 2);
        x->user_satisfaction = sqlite3_column_double(st, 3);
        x->n_classes = n_classes;
        for (int k = 0; k < n_classes; k++) {
            sqlite3_reset(cls);
            sqlite3_bind_int(cls, 1, x->seq);
            sqlite3_bind_text(cls, 2, classes[k], -1, SQLITE_STATIC);
            x->class_avg[k] = NAN;
            if (sqlite3_step(cls) == SQLITE_ROW && sqlite3_column_type(cls, 0) != SQLITE_NULL)
                x->class_avg[k] = sqlite3_column_double(cls, 0);
        }
    }
    if (r != SQLITE_DONE)
        rc = db_fail(db, err, errlen, "list monitoring");
out:
    sqlite3_finalize(st);
    sqlite3_finalize(cls);
    release(s, db);
    if (rc != AV_STORE_OK) {
        free(p);
        return rc;
    }
    *out = p;
    *n = cnt;
    return rc;
}

/* ---- generic primitives (driver.h), used by mlmd.c ---- */

static av_store_status sq_sess_get(av_store *base, av_store__sess **out, char *err,
                                   size_t errlen)
{
    (void)err, (void)errlen;
    *out = (av_store__sess *)acquire((sq_store *)base);
    return AV_STORE_OK;
}

static void sq_sess_put(av_store *base, av_store__sess *c)
{
    release((sq_store *)base, (sqlite3 *)c);
}

static av_store_status sq_begin(av_store__sess *c, char *err, size_t errlen)
{
    sqlite3 *db = (sqlite3 *)c;
    return exec(db, "BEGIN IMMEDIATE") ? db_fail(db, err, errlen, "begin") : AV_STORE_OK;
}

static av_store_status sq_end(av_store__sess *c, int commit, char *err, size_t errlen)
{
    sqlite3 *db = (sqlite3 *)c;
    if (!commit) {
        exec(db, "ROLLBACK");
        return AV_STORE_OK;
    }
    if (exec(db, "COMMIT")) {
        av_store_status st = db_fail(db, err, errlen, "commit");
        exec(db, "ROLLBACK");
        return st;
    }
    return AV_STORE_OK;
}

static av_store_status bind_args(sqlite3 *db, sqlite3_stmt *st, const av_store__arg *a, int n,
                                 char *err, size_t errlen)
{
    if (sqlite3_bind_parameter_count(st) != n)
        return av_store__fail(err, errlen, AV_STORE_EARG, "sqlite: parameter count mismatch");
    for (int i = 0; i < n; i++) {
        int rc;
        switch (a[i].type) {
        case AV_ARG_TEXT:
            rc = sqlite3_bind_text64(st, i + 1, a[i].p, a[i].len, SQLITE_STATIC, SQLITE_UTF8);
            break;
        case AV_ARG_BLOB:
            rc = sqlite3_bind_blob64(st, i + 1, a[i].p, a[i].len, SQLITE_STATIC);
            break;
        case AV_ARG_INT:
            rc = sqlite3_bind_int64(st, i + 1, a[i].i);
            break;
        case AV_ARG_DOUBLE:
            rc = isnan(a[i].d) ? sqlite3_bind_null(st, i + 1)
                               : sqlite3_bind_double(st, i + 1, a[i].d);
            break;
        default:
            rc = sqlite3_bind_null(st, i + 1);
        }
        if (rc != SQLITE_OK)
            return db_fail(db, err, errlen, "bind");
    }
    return AV_STORE_OK;
}

static av_store_status sq_exec(av_store__sess *c, const char *sql, const av_store__arg *a,
                               int n, int64_t *changes, int64_t *last_id, char *err,
                               size_t errlen)
{
    sqlite3 *db = (sqlite3 *)c;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
        return db_fail(db, err, errlen, "prepare");
    av_store_status rc = bind_args(db, st, a, n, err, errlen);
    if (rc == AV_STORE_OK) {
        int r = sqlite3_step(st);
        if (r == SQLITE_CONSTRAINT)
            rc = av_store__fail(err, errlen, AV_STORE_CONFLICT, "sqlite: %s", sqlite3_errmsg(db));
        else if (r != SQLITE_DONE && r != SQLITE_ROW)
            rc = db_fail(db, err, errlen, "execute");
    }
    if (rc == AV_STORE_OK && changes)
        *changes = sqlite3_changes(db);
    if (rc == AV_STORE_OK && last_id)
        *last_id = sqlite3_last_insert_rowid(db);
    sqlite3_finalize(st);
    return rc;
}

static av_store_status sq_query(av_store__sess *c, const char *sql, const av_store__arg *a,
                                int n, av_store__col *cols, int ncols, av_store__row_fn fn,
                                void *ud, char *err, size_t errlen)
{
    sqlite3 *db = (sqlite3 *)c;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
        return db_fail(db, err, errlen, "prepare");
    av_store_status rc = bind_args(db, st, a, n, err, errlen);
    if (rc == AV_STORE_OK && sqlite3_column_count(st) != ncols)
        rc = av_store__fail(err, errlen, AV_STORE_EARG, "sqlite: column count mismatch");
    int r = SQLITE_DONE;
    while (rc == AV_STORE_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < ncols; i++) {
            cols[i].is_null = sqlite3_column_type(st, i) == SQLITE_NULL;
            if (cols[i].type == AV_COL_TEXT && cols[i].cap)
                col_text(st, i, cols[i].p, cols[i].cap);
            else if (cols[i].type == AV_COL_INT)
                *(int64_t *)cols[i].p = sqlite3_column_int64(st, i);
            else if (cols[i].type == AV_COL_DOUBLE)
                *(double *)cols[i].p = cols[i].is_null ? NAN : sqlite3_column_double(st, i);
        }
        if (fn && fn(ud)) {
            r = SQLITE_DONE;
            break;
        }
    }
    if (rc == AV_STORE_OK && r != SQLITE_DONE)
        rc = db_fail(db, err, errlen, "query");
    sqlite3_finalize(st);
    return rc;
}

static av_store_status sq_script(av_store__sess *c, const char *sql, char *err, size_t errlen)
{
    sqlite3 *db = (sqlite3 *)c;
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        av_store_status st =
            av_store__fail(err, errlen, AV_STORE_EDB, "sqlite: %s", msg ? msg : "script failed");
        sqlite3_free(msg);
        return st;
    }
    return AV_STORE_OK;
}

const av_store_driver av_store__sqlite_driver = {
    .scheme = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .migrate = sq_migrate,
    .schema_version = sq_schema_version,
    .image_insert = sq_image_insert,
    .image_get = sq_image_get,
    .image_count = sq_image_count,
    .analysis_put = sq_analysis_put,
    .analysis_fail = sq_analysis_fail,
    .detections_get = sq_detections_get,
    .feedback_add = sq_feedback_add,
    .feedback_count = sq_feedback_count,
    .monitoring_list = sq_monitoring_list,
    .sess_get = sq_sess_get,
    .sess_put = sq_sess_put,
    .begin = sq_begin,
    .end = sq_end,
    .exec = sq_exec,
    .query = sq_query,
    .script = sq_script,
    .dialect = "sqlite",
};
