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
#define TX_TRIES 4

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
        return av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
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

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Copy a BLOB column into b (malloc'd; NULL, 0 when empty). -1: out of memory. */
static int col_blob(sqlite3_stmt *st, int i, av_store__blob *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    const void *p = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);
    if (n <= 0 || !p)
        return 0;
    b->data = malloc((size_t)n);
    if (!b->data)
        return -1;
    memcpy(b->data, p, (size_t)n);
    b->len = (size_t)n;
    return 0;
}

/* ---- generic primitives (driver.h) ---- */

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
            else if (cols[i].type == AV_COL_BLOB && col_blob(st, i, cols[i].p))
                rc = av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
        }
        if (rc != AV_STORE_OK)
            break;
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

/* Writers queue on BEGIN IMMEDIATE's busy timeout; a statement can still
 * meet SQLITE_BUSY (a checkpoint, another process): run the body again. */
static av_store_status sq_tx(av_store *base, av_store__tx_fn body, void *ud, char *err,
                             size_t errlen)
{
    sqlite3 *db = acquire((sq_store *)base);
    av_store_status st = sq_begin((av_store__sess *)db, err, errlen);
    for (int attempt = 1; st == AV_STORE_OK; attempt++) {
        st = body(base, (av_store__sess *)db, ud, err, errlen);
        if (st == AV_STORE_OK && exec(db, "COMMIT"))
            st = db_fail(db, err, errlen, "commit");
        if (st == AV_STORE_OK)
            break;
        int busy = st == AV_STORE_EDB && (sqlite3_errcode(db) & 0xff) == SQLITE_BUSY;
        exec(db, "ROLLBACK");
        if (!busy || attempt >= TX_TRIES)
            break;
        st = sq_begin((av_store__sess *)db, err, errlen);
    }
    release((sq_store *)base, db);
    return st;
}

static av_store_status sq_lock(av_store__sess *c, const char *name, int timeout_s, char *err,
                               size_t errlen)
{
    (void)c, (void)name, (void)timeout_s, (void)err, (void)errlen;
    return AV_STORE_OK;
}

static void sq_unlock(av_store__sess *c, const char *name)
{
    (void)c, (void)name;
}

const av_store_driver av_store__sqlite_driver = {
    .scheme = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .migrate = sq_migrate,
    .schema_version = sq_schema_version,
    .sess_get = sq_sess_get,
    .sess_put = sq_sess_put,
    .begin = sq_begin,
    .end = sq_end,
    .exec = sq_exec,
    .query = sq_query,
    .script = sq_script,
    .dialect = "sqlite",
    .tx = sq_tx,
    .ts_text = {"", "", 0}, /* stored as ISO-8601 text already */
    .age_s = {"(julianday('now') - julianday(", ")) * 86400.0", 0},
    .count_tables = {"SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ", "",
                     0},
    .upsert = {"ON CONFLICT(", ") DO UPDATE SET", 0},
    .lock = sq_lock,
    .unlock = sq_unlock,
};
