/*
 * driver.h - the method table each database driver fills (internal).
 *
 * struct av_store is the base every driver's state starts with, so the
 * public calls in store.c dispatch through s->drv without knowing which
 * database is underneath. iVersion-style growth: add methods at the end.
 */
#ifndef AV_STORE_DRIVER_H
#define AV_STORE_DRIVER_H

#include "store/store.h"

#include <stdint.h>
#include <string.h>

/*
 * Generic statement primitives, used by the driver-independent ML Metadata
 * code (mlmd.c). A session is one pooled connection, pinned between
 * sess_get and sess_put so a transaction stays on it. Every statement is
 * prepared with bound parameters (av_store__arg); results land in caller
 * buffers (av_store__col), one callback per row.
 */
typedef struct av_store__sess av_store__sess; /* driver-specific */

enum { AV_ARG_NULL, AV_ARG_TEXT, AV_ARG_BLOB, AV_ARG_INT, AV_ARG_DOUBLE };

typedef struct av_store__arg {
    int type;        /* AV_ARG_* */
    const void *p;   /* TEXT/BLOB bytes, borrowed for the call */
    size_t len;      /* TEXT/BLOB length */
    int64_t i;       /* INT */
    double d;        /* DOUBLE */
} av_store__arg;

static inline av_store__arg av_store__arg_text(const char *s)
{
    av_store__arg a = {.type = s ? AV_ARG_TEXT : AV_ARG_NULL, .p = s, .len = s ? strlen(s) : 0};
    return a;
}
#define AV_ARG_T(s) av_store__arg_text(s) /* NULL binds NULL */
#define AV_ARG_I(v) ((av_store__arg){.type = AV_ARG_INT, .i = (int64_t)(v)})
#define AV_ARG_D(v) ((av_store__arg){.type = AV_ARG_DOUBLE, .d = (v)})
#define AV_ARG_NUL ((av_store__arg){.type = AV_ARG_NULL})

enum { AV_COL_TEXT, AV_COL_INT, AV_COL_DOUBLE, AV_COL_BLOB };

/* An AV_COL_BLOB destination: each row frees data and mallocs the new
 * bytes (NULL, 0 for NULL or empty); the caller frees the last. */
typedef struct av_store__blob {
    void *data;
    size_t len;
} av_store__blob;

typedef struct av_store__col {
    int type;     /* AV_COL_*: TEXT into char[cap] (truncated, NUL-terminated), INT into
                     int64_t, DOUBLE into double, BLOB into av_store__blob */
    void *p;      /* destination, owned by the caller */
    size_t cap;   /* TEXT buffer size */
    int is_null;  /* set per row */
} av_store__col;

/* Row callback: return 0 to go on, non-zero to stop (the query still succeeds). */
typedef int (*av_store__row_fn)(void *ud);

/* Dialect text: pre ARG post; with drop_arg, ARG is left out (MySQL's
 * upsert names no key). */
typedef struct av_store__wrap {
    const char *pre, *post;
    int drop_arg;
} av_store__wrap;

/* pre + arg + post into buf (truncated at cap); returns buf. */
const char *av_store__sql_wrap(av_store__wrap w, const char *arg, char *buf, size_t cap);

/* Body of a transaction (driver->tx): statements on c; OK commits, anything
 * else rolls back. It may run more than once, so it must rewrite its outputs
 * on each run and touch nothing outside the database. */
typedef av_store_status (*av_store__tx_fn)(av_store *s, av_store__sess *c, void *ud,
                                           char *err, size_t errlen);

/*
 * What a driver implements: connecting, pooling, statements, transactions,
 * migrations, and the few places the SQL dialects differ. The domain
 * queries are written once over these (images.c, feedback.c, mlmd.c,
 * video.c, reviews.c, users.c, ...).
 */
typedef struct av_store_driver {
    const char *scheme; /* URL scheme: "sqlite", "mysql" */
    av_store_status (*open)(const char *rest, av_store **out, char *err, size_t errlen);
    void (*close)(av_store *s);
    av_store_status (*migrate)(av_store *s, int *version, char *err, size_t errlen);
    av_store_status (*schema_version)(av_store *s, int *version, char *err, size_t errlen);
    /* Generic primitives (see above). sess_get may reconnect; EUNAVAILABLE when
     * the server cannot be reached. exec: *changes = affected rows, *last_id =
     * the auto-increment id (either may be NULL); CONFLICT on a unique key. */
    av_store_status (*sess_get)(av_store *s, av_store__sess **out, char *err, size_t errlen);
    void (*sess_put)(av_store *s, av_store__sess *c);
    av_store_status (*begin)(av_store__sess *c, char *err, size_t errlen);
    av_store_status (*end)(av_store__sess *c, int commit, char *err, size_t errlen);
    av_store_status (*exec)(av_store__sess *c, const char *sql, const av_store__arg *args,
                            int nargs, int64_t *changes, int64_t *last_id, char *err,
                            size_t errlen);
    av_store_status (*query)(av_store__sess *c, const char *sql, const av_store__arg *args,
                             int nargs, av_store__col *cols, int ncols, av_store__row_fn fn,
                             void *ud, char *err, size_t errlen);
    /* Run a script of ';'-separated DDL statements (static text, no parameters). */
    av_store_status (*script)(av_store__sess *c, const char *sql, char *err, size_t errlen);
    const char *dialect; /* "sqlite" or "mysql": picks the DDL flavour */
    /* body in one transaction on a pooled session of its own, run again (a
     * few times, short back-off) when the database answers deadlock, lock
     * wait time-out or busy: multi-statement writes go through here. */
    av_store_status (*tx)(av_store *s, av_store__tx_fn body, void *ud, char *err,
                          size_t errlen);
    /* Dialect: SQL text around an argument, where the two databases differ
     * (av_store__sql_wrap puts them together). */
    av_store__wrap ts_text;      /* timestamp column -> ISO-8601 text "...T12:00:00.000Z" */
    av_store__wrap age_s;        /* timestamp column -> seconds (double) from it to now, in
                                    the clock CURRENT_TIMESTAMP writes */
    av_store__wrap count_tables; /* "('a', 'b')" -> query counting which of them exist */
    av_store__wrap upsert;       /* unique key columns -> the clause after INSERT ... VALUES
                                    (...) that updates the row already holding the key; the
                                    SET list follows, in bound values */
    /* A named lock across processes, held by session c until unlock (MySQL,
     * whose DDL commits implicitly; SQLite's BEGIN IMMEDIATE already
     * serialises, so there it is a no-op). EDB "... busy" after timeout_s. */
    av_store_status (*lock)(av_store__sess *c, const char *name, int timeout_s, char *err,
                            size_t errlen);
    void (*unlock)(av_store__sess *c, const char *name);
} av_store_driver;

struct av_store {
    const av_store_driver *drv; /* always first */
    char *blob_dir;             /* owned; NULL: image bytes in the images table */
    size_t max_blob;            /* largest image kept in the table (0 = default) */
};

extern const av_store_driver av_store__sqlite_driver;
extern const av_store_driver av_store__mysql_driver;

/* Split a DDL script at ';' outside quotes and comments: calls fn on each
 * non-empty statement (NUL-terminated copy). Returns fn's first non-OK. */
av_store_status av_store__split_sql(const char *sql,
                                    av_store_status (*fn)(void *ud, const char *stmt), void *ud,
                                    char *err, size_t errlen);

/* snprintf into err when given; returns st. */
av_store_status av_store__fail(char *err, size_t errlen, av_store_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Rows of one ID column collected into ids (at most max; fn stops there):
 * bind cur as the column, pass av_store__id_row with the struct. */
typedef struct av_store__id_rows {
    char (*ids)[AV_STORE_ID_LEN + 1];
    char cur[AV_STORE_ID_LEN + 1];
    int n, max;
} av_store__id_rows;
int av_store__id_row(void *ud);

/* The original's box text: "ymin, xmin, ymax, xmax" normalised to the image. */
void av_store__box_text(const av_store_detection *d, int width, int height, char *out,
                        size_t outlen);

/* One statement on a session of its own (stmt.c): sess_get, exec or
 * query, sess_put. For calls that need no transaction. */
av_store_status av_store__exec1(av_store *s, const char *sql, const av_store__arg *a, int n,
                                int64_t *changes, char *err, size_t errlen);
av_store_status av_store__query1(av_store *s, const char *sql, const av_store__arg *a, int n,
                                 av_store__col *cols, int ncols, av_store__row_fn fn, void *ud,
                                 char *err, size_t errlen);
/* The first row's integer column into *v (0 when there is no row), on
 * session c, or on a session of its own when c is NULL. */
av_store_status av_store__int(av_store *s, av_store__sess *c, const char *sql,
                              const av_store__arg *a, int n, int64_t *v, char *err,
                              size_t errlen);
/* The 12 columns of a detection as images.c and video.c read it from
 * inferences (x1, y1, x2, y2, score, detector_score, species_score, class,
 * label, species, common_name, model_version), bound to d and *cls. */
#define AV_STORE__DET_COLS 12
void av_store__det_cols(av_store__col *cols, av_store_detection *d, int64_t *cls);
/* Each box's species guesses (guesses.c, schema v8): put on session c inside
 * the transaction that stores the analysis (a reader that sees the image
 * done sees its guesses), get fills dets[].guesses by idx. */
av_store_status av_store__guesses_put(av_store *s, av_store__sess *c, const char *id,
                                      const av_store_detection *d, int n, char *err,
                                      size_t errlen);
av_store_status av_store__guesses_get(av_store *s, const char *id, av_store_detection *d, int n,
                                      char *err, size_t errlen);
/* Where the blob store keeps an image: DIR/<id>.blob (store.c). */
void av_store__blob_path(const av_store *s, const char *id, char *out, size_t cap);
/* Rows one read returns at most, whatever the caller asks. */
#define AV_STORE__MAX_ROWS 10000000

/* Grow *p (elements of elem bytes, *cap of them) to hold need: 0, or -1
 * when out of memory or past 10 million rows. */
int av_store__grow(void **p, int *cap, int need, size_t elem);

/* Base64 (RFC 4648, padded) for media kept as text (video.c): encode
 * returns a malloc'd string (caller frees) or NULL; decode writes at most
 * n / 4 * 3 bytes into out and returns -1 on a malformed string. */
char *av_store__b64_encode(const unsigned char *p, size_t n);
int av_store__b64_decode(const char *s, size_t n, unsigned char *out, size_t *len);

#endif
