/*
 * mysql.c - the MySQL/MariaDB driver, on MariaDB Connector/C.
 *
 * URL: mysql://USER[:PASS]@HOST[:PORT]/DB[?socket=PATH&pool=N&timeout=S]
 * (user and password percent-decoded). Without a password in the URL it
 * comes from AVIARY_DB_PASSWORD, else from the first line of the file named
 * by AVIARY_DB_PASSWORD_FILE. The password is never put in an error text.
 * A missing database is created (CREATE DATABASE IF NOT EXISTS, as MLMD's
 * own MySQL source does) when the user may.
 *
 * Layout: URL parsing; the pool (bounded, connections opened lazily, each
 * with a cache of prepared statements); the generic primitives (exec,
 * query, script, begin/end, the retried transaction) that the query files
 * (images.c, feedback.c, mlmd.c, ...) run on; open/close; migrations; the
 * dialect's timestamp and upsert text.
 *
 * Outages: any "server gone" error drops that connection and bumps the pool
 * generation, so every other pooled connection reconnects before its next
 * use; a connection idle for more than a second is pinged first. The call
 * that meets the outage fails with AV_STORE_EUNAVAILABLE; InnoDB rolls back
 * its open transaction, so nothing is half-written; later calls reconnect.
 * Multi-row writes run in transactions at READ COMMITTED and are retried on
 * deadlock or lock-wait time-out.
 */
#include "store/driver.h"
#include "base/base.h"

#include <errno.h>
#include <errmsg.h>
#include <math.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MY_POOL_DEFAULT 8
#define MY_POOL_MAX 64
#define MY_STMT_CACHE 48
#define MY_MAX_ARGS 24
#define MY_MAX_COLS 24
#define MY_IDLE_PING_MS 1000
#define MY_TX_TRIES 4

extern const char *const av_store__mysql_migrations[];

typedef struct my_cached {
    char *sql;        /* strdup'd key */
    MYSQL_STMT *st;
} my_cached;

typedef struct my_conn {
    struct my_store *owner;
    MYSQL *m;          /* NULL until connected / after a drop */
    unsigned gen;      /* pool generation it connected in */
    int64_t last_ms;   /* last release, monotonic */
    int busy;
    unsigned last_errno; /* of the last failed statement */
    my_cached cache[MY_STMT_CACHE];
    int ncache, next_evict;
} my_conn;

typedef struct my_store {
    av_store base; /* first: see driver.h */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned gen;
    int pool;
    unsigned timeout_s;
    unsigned port;
    char host[256], user[128], pass[256], db[65], sock[512];
    char where[700]; /* "host:port/db" or "socket/db", for messages */
    my_conn conn[MY_POOL_MAX];
} my_store;

/* ---- URL ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode [p, p+n) into out[cap]; -1 when it does not fit or is malformed. */
static int pct_decode(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)p[i];
        if (c == '%') {
            if (i + 2 >= n + 1)
                return -1;
            int h = hexval(p[i + 1]), l = hexval(p[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (c == 0 || o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

static int valid_db_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '$'))
            return 0;
    return 1;
}

static int read_password_file(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(out, (int)cap, f) != NULL;
    fclose(f);
    if (!ok) {
        out[0] = '\0';
        return 0;
    }
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static av_store_status parse_url(my_store *s, const char *rest, char *err, size_t errlen)
{
    static const char form[] = "mysql URL must look like mysql://user:pass@host:port/db";
    if (strncmp(rest, "//", 2) != 0)
        return av_store__fail(err, errlen, AV_STORE_EARG, "%s", form);
    const char *a = rest + 2, *slash = strchr(a, '/');
    if (!slash)
        return av_store__fail(err, errlen, AV_STORE_EARG, "%s", form);
    const char *at = NULL;
    for (const char *p = a; p < slash; p++)
        if (*p == '@')
            at = p;
    const char *h = a;
    int have_pass = 0;
    if (at) {
        const char *colon = memchr(a, ':', (size_t)(at - a));
        const char *uend = colon ? colon : at;
        if (pct_decode(a, (size_t)(uend - a), s->user, sizeof s->user))
            return av_store__fail(err, errlen, AV_STORE_EARG, "mysql URL: bad user name");
        if (colon) {
            if (pct_decode(colon + 1, (size_t)(at - colon - 1), s->pass, sizeof s->pass))
                return av_store__fail(err, errlen, AV_STORE_EARG, "mysql URL: bad password");
            have_pass = 1;
        }
        h = at + 1;
    }
    const char *hend = slash, *pcolon = NULL;
    if (*h == '[') { /* [v6 address] */
        const char *rb = memchr(h, ']', (size_t)(slash - h));
        if (!rb)
            return av_store__fail(err, errlen, AV_STORE_EARG, "mysql URL: bad host");
        if (rb + 1 < slash && rb[1] == ':')
            pcolon = rb + 1;
        if ((size_t)(rb - h - 1) >= sizeof s->host)
            return av_store__fail(err, errlen, AV_STORE_EARG, "mysql URL: host too long");
        memcpy(s->host, h + 1, (size_t)(rb - h - 1));
        s->host[rb - h - 1] = '\0';
    } else {
        pcolon = memchr(h, ':', (size_t)(slash - h));
        const char *e = pcolon ? pcolon : hend;
        if ((size_t)(e - h) >= sizeof s->host)
            return av_store__fail(err, errlen, AV_STORE_EARG, "mysql URL: host too long");
        memcpy(s->host, h, (size_t)(e - h));
        s->host[e - h] = '\0';
    }
    if (!s->host[0])
        snprintf(s->host, sizeof s->host, "localhost");
    s->port = 0;
    if (pcolon) {
        char *end;
        unsigned long p = strtoul(pcolon + 1, &end, 10);
        if (end != slash || p == 0 || p > 65535)
            return av_store__fail(err, errlen, AV_STORE_EARG, "mysql URL: bad port");
        s->port = (unsigned)p;
    }
    const char *q = strchr(slash, '?');
    size_t dblen = q ? (size_t)(q - slash - 1) : strlen(slash + 1);
    if (dblen == 0) {
        snprintf(s->db, sizeof s->db, "birdsClassifier");
    } else if (dblen >= sizeof s->db) {
        return av_store__fail(err, errlen, AV_STORE_EARG, "mysql URL: database name too long");
    } else {
        memcpy(s->db, slash + 1, dblen);
        s->db[dblen] = '\0';
    }
    if (!valid_db_name(s->db))
        return av_store__fail(err, errlen, AV_STORE_EARG,
                              "mysql URL: database name must be letters, digits, _ or $");
    s->pool = MY_POOL_DEFAULT;
    s->timeout_s = 5;
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        const char *amp = strchr(p, '&'), *e = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (!eq)
            return av_store__fail(err, errlen, AV_STORE_EARG, "mysql URL: bad parameter");
        char val[512];
        if (pct_decode(eq + 1, (size_t)(e - eq - 1), val, sizeof val))
            return av_store__fail(err, errlen, AV_STORE_EARG, "mysql URL: bad parameter value");
        size_t kl = (size_t)(eq - p);
        char *end;
        if (kl == 6 && strncmp(p, "socket", 6) == 0) {
            snprintf(s->sock, sizeof s->sock, "%s", val);
        } else if (kl == 4 && strncmp(p, "pool", 4) == 0) {
            long v = strtol(val, &end, 10);
            if (*end || v < 1 || v > MY_POOL_MAX)
                return av_store__fail(err, errlen, AV_STORE_EARG, "mysql URL: pool must be 1..%d",
                                      MY_POOL_MAX);
            s->pool = (int)v;
        } else if (kl == 7 && strncmp(p, "timeout", 7) == 0) {
            long v = strtol(val, &end, 10);
            if (*end || v < 1 || v > 3600)
                return av_store__fail(err, errlen, AV_STORE_EARG,
                                      "mysql URL: timeout must be 1..3600 seconds");
            s->timeout_s = (unsigned)v;
        } else {
            return av_store__fail(err, errlen, AV_STORE_EARG, "mysql URL: unknown parameter '%.*s'",
                                  (int)kl, p);
        }
        p = amp ? amp + 1 : NULL;
    }
    if (!have_pass) {
        const char *env = getenv("AVIARY_DB_PASSWORD"), *file = getenv("AVIARY_DB_PASSWORD_FILE");
        if (env && *env) {
            if (strlen(env) >= sizeof s->pass)
                return av_store__fail(err, errlen, AV_STORE_EARG, "AVIARY_DB_PASSWORD too long");
            snprintf(s->pass, sizeof s->pass, "%s", env);
        } else if (file && *file && read_password_file(file, s->pass, sizeof s->pass)) {
            return av_store__fail(err, errlen, AV_STORE_EARG,
                                  "cannot read AVIARY_DB_PASSWORD_FILE %s: %s", file,
                                  strerror(errno));
        }
    }
    if (s->sock[0])
        snprintf(s->where, sizeof s->where, "%s/%s", s->sock, s->db);
    else
        snprintf(s->where, sizeof s->where, "%s:%u/%s", s->host, s->port ? s->port : 3306, s->db);
    return AV_STORE_OK;
}

/* ---- pool ---- */

static int conn_lost(unsigned e)
{
    return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR ||
           e == CR_CONN_HOST_ERROR || e == CR_SERVER_LOST_EXTENDED || e == ER_CONNECTION_KILLED ||
           e == ER_SERVER_SHUTDOWN || e == CR_COMMANDS_OUT_OF_SYNC || e == 4031 /* idle kill */;
}

static void drop(my_conn *c)
{
    for (int i = 0; i < c->ncache; i++) {
        mysql_stmt_close(c->cache[i].st);
        free(c->cache[i].sql);
    }
    c->ncache = c->next_evict = 0;
    if (c->m)
        mysql_close(c->m);
    c->m = NULL;
}

/* Record a failure of c (errno e, message msg): a lost connection is dropped
 * and the pool told, so the others reconnect too. */
static av_store_status fail_conn(my_conn *c, unsigned e, const char *msg, char *err,
                                 size_t errlen, const char *what)
{
    c->last_errno = e;
    char copy[512]; /* msg lives in the connection or statement that drop() frees */
    snprintf(copy, sizeof copy, "%s", msg ? msg : "");
    msg = copy;
    if (conn_lost(e)) {
        my_store *s = c->owner;
        drop(c);
        pthread_mutex_lock(&s->mu);
        s->gen++;
        pthread_mutex_unlock(&s->mu);
        return av_store__fail(err, errlen, AV_STORE_EUNAVAILABLE,
                              "mysql: %s: database server unavailable (%s)", what, msg);
    }
    if (e == ER_DUP_ENTRY)
        return av_store__fail(err, errlen, AV_STORE_CONFLICT, "mysql: %s: %s", what, msg);
    if (e == ER_NET_PACKET_TOO_LARGE)
        return av_store__fail(err, errlen, AV_STORE_EARG,
                              "mysql: %s: value too large for the database (raise the server's"
                              " max_allowed_packet or use a blob store)", what);
    return av_store__fail(err, errlen, AV_STORE_EDB, "mysql: %s: %s", what, msg);
}

static av_store_status fail_m(my_conn *c, char *err, size_t errlen, const char *what)
{
    return fail_conn(c, mysql_errno(c->m), mysql_error(c->m), err, errlen, what);
}

static av_store_status fail_st(my_conn *c, MYSQL_STMT *st, char *err, size_t errlen,
                               const char *what)
{
    return fail_conn(c, mysql_stmt_errno(st), mysql_stmt_error(st), err, errlen, what);
}

static av_store_status connect_one(my_store *s, my_conn *c, int with_db, char *err,
                                   size_t errlen)
{
    MYSQL *m = mysql_init(NULL);
    if (!m)
        return av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
    unsigned ct = s->timeout_s, rw = s->timeout_s * 6;
    my_bool off = 0;
    mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &rw);
    mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
    mysql_optionsv(m, MYSQL_OPT_RECONNECT, &off); /* we reconnect, statements and all */
    mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_optionsv(m, MYSQL_INIT_COMMAND, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    mysql_optionsv(m, MYSQL_INIT_COMMAND,
                   "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'");
    const char *host = s->sock[0] ? "localhost" : s->host;
    if (!mysql_real_connect(m, host, s->user[0] ? s->user : NULL, s->pass[0] ? s->pass : NULL,
                            with_db ? s->db : NULL, s->port, s->sock[0] ? s->sock : NULL, 0)) {
        unsigned e = mysql_errno(m);
        av_store_status st =
            av_store__fail(err, errlen,
                           e == ER_BAD_DB_ERROR ? AV_STORE_EDB : AV_STORE_EUNAVAILABLE,
                           "mysql: cannot connect to %s (database server unavailable"
                           " or refused): %s", s->where, mysql_error(m));
        c->last_errno = e;
        mysql_close(m);
        return st;
    }
    c->m = m;
    c->ncache = c->next_evict = 0;
    return AV_STORE_OK;
}

static av_store_status acquire(my_store *s, my_conn **out, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->mu);
    my_conn *c = NULL;
    for (;;) {
        for (int i = 0; i < s->pool && !c; i++) /* prefer a connected one */
            if (!s->conn[i].busy && s->conn[i].m)
                c = &s->conn[i];
        for (int i = 0; i < s->pool && !c; i++)
            if (!s->conn[i].busy)
                c = &s->conn[i];
        if (c)
            break;
        pthread_cond_wait(&s->cv, &s->mu);
    }
    c->busy = 1;
    unsigned gen = s->gen;
    pthread_mutex_unlock(&s->mu);
    if (c->m && c->gen != gen)
        drop(c);
    else if (c->m && av_base_mono_ms() - c->last_ms >= MY_IDLE_PING_MS && mysql_ping(c->m))
        drop(c);
    if (!c->m) {
        av_store_status st = connect_one(s, c, 1, err, errlen);
        if (st != AV_STORE_OK) {
            pthread_mutex_lock(&s->mu);
            c->busy = 0;
            pthread_cond_signal(&s->cv);
            pthread_mutex_unlock(&s->mu);
            return st;
        }
        c->gen = gen;
    }
    c->last_errno = 0;
    *out = c;
    return AV_STORE_OK;
}

static void release(my_store *s, my_conn *c)
{
    c->last_ms = av_base_mono_ms();
    pthread_mutex_lock(&s->mu);
    c->busy = 0;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- generic primitives ---- */

static MYSQL_STMT *prepare(my_conn *c, const char *sql, av_store_status *rc, char *err,
                           size_t errlen)
{
    for (int i = 0; i < c->ncache; i++)
        if (strcmp(c->cache[i].sql, sql) == 0)
            return c->cache[i].st;
    MYSQL_STMT *st = mysql_stmt_init(c->m);
    if (!st) {
        *rc = av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
        return NULL;
    }
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql))) {
        *rc = fail_st(c, st, err, errlen, "prepare");
        mysql_stmt_close(st);
        return NULL;
    }
    char *key = strdup(sql);
    if (!key) {
        mysql_stmt_close(st);
        *rc = av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
        return NULL;
    }
    int slot;
    if (c->ncache < MY_STMT_CACHE) {
        slot = c->ncache++;
    } else { /* full: evict round-robin */
        slot = c->next_evict;
        c->next_evict = (c->next_evict + 1) % MY_STMT_CACHE;
        mysql_stmt_close(c->cache[slot].st);
        free(c->cache[slot].sql);
    }
    c->cache[slot].sql = key;
    c->cache[slot].st = st;
    return st;
}

/* Prepare (cached), bind, execute. */
static av_store_status run(my_conn *c, const char *sql, const av_store__arg *a, int n,
                           MYSQL_STMT **out, char *err, size_t errlen)
{
    av_store_status rc = AV_STORE_OK;
    *out = NULL;
    if (n < 0 || n > MY_MAX_ARGS)
        return av_store__fail(err, errlen, AV_STORE_EARG, "mysql: too many parameters");
    MYSQL_STMT *st = prepare(c, sql, &rc, err, errlen);
    if (!st)
        return rc;
    if (mysql_stmt_param_count(st) != (unsigned long)n)
        return av_store__fail(err, errlen, AV_STORE_EARG, "mysql: parameter count mismatch");
    MYSQL_BIND b[MY_MAX_ARGS];
    unsigned long len[MY_MAX_ARGS];
    memset(b, 0, sizeof b);
    for (int i = 0; i < n; i++) {
        switch (a[i].type) {
        case AV_ARG_TEXT:
        case AV_ARG_BLOB:
            b[i].buffer_type = a[i].type == AV_ARG_TEXT ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
            b[i].buffer = (void *)a[i].p;
            len[i] = (unsigned long)a[i].len;
            b[i].buffer_length = len[i];
            b[i].length = &len[i];
            break;
        case AV_ARG_INT:
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = (void *)&a[i].i;
            break;
        case AV_ARG_DOUBLE:
            if (isnan(a[i].d)) {
                b[i].buffer_type = MYSQL_TYPE_NULL;
            } else {
                b[i].buffer_type = MYSQL_TYPE_DOUBLE;
                b[i].buffer = (void *)&a[i].d;
            }
            break;
        default:
            b[i].buffer_type = MYSQL_TYPE_NULL;
        }
    }
    if ((n && mysql_stmt_bind_param(st, b)) || mysql_stmt_execute(st))
        return fail_st(c, st, err, errlen, "execute");
    *out = st;
    return AV_STORE_OK;
}

static av_store_status my_exec(av_store__sess *sess, const char *sql, const av_store__arg *a,
                               int n, int64_t *changes, int64_t *last_id, char *err,
                               size_t errlen)
{
    my_conn *c = (my_conn *)sess;
    MYSQL_STMT *st;
    av_store_status rc = run(c, sql, a, n, &st, err, errlen);
    if (rc != AV_STORE_OK)
        return rc;
    if (changes)
        *changes = (int64_t)mysql_stmt_affected_rows(st);
    if (last_id)
        *last_id = (int64_t)mysql_stmt_insert_id(st);
    if (mysql_stmt_field_count(st))
        mysql_stmt_free_result(st);
    return AV_STORE_OK;
}

static av_store_status my_query(av_store__sess *sess, const char *sql, const av_store__arg *a,
                                int n, av_store__col *cols, int ncols, av_store__row_fn fn,
                                void *ud, char *err, size_t errlen)
{
    my_conn *c = (my_conn *)sess;
    MYSQL_STMT *st;
    if (ncols < 1 || ncols > MY_MAX_COLS)
        return av_store__fail(err, errlen, AV_STORE_EARG, "mysql: bad column count");
    av_store_status rc = run(c, sql, a, n, &st, err, errlen);
    if (rc != AV_STORE_OK)
        return rc;
    if (mysql_stmt_field_count(st) != (unsigned)ncols) {
        mysql_stmt_free_result(st);
        return av_store__fail(err, errlen, AV_STORE_EARG, "mysql: column count mismatch");
    }
    MYSQL_BIND b[MY_MAX_COLS];
    unsigned long len[MY_MAX_COLS];
    my_bool nul[MY_MAX_COLS];
    memset(b, 0, sizeof b);
    for (int i = 0; i < ncols; i++) {
        b[i].length = &len[i];
        b[i].is_null = &nul[i];
        switch (cols[i].type) {
        case AV_COL_TEXT:
            b[i].buffer_type = MYSQL_TYPE_STRING;
            b[i].buffer = cols[i].p;
            b[i].buffer_length = cols[i].cap ? (unsigned long)cols[i].cap - 1 : 0;
            break;
        case AV_COL_INT:
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = cols[i].p;
            break;
        case AV_COL_DOUBLE:
            b[i].buffer_type = MYSQL_TYPE_DOUBLE;
            b[i].buffer = cols[i].p;
            break;
        default: /* AV_COL_BLOB: length first, bytes by fetch_column */
            b[i].buffer_type = MYSQL_TYPE_BLOB;
            b[i].buffer = NULL;
            b[i].buffer_length = 0;
        }
    }
    if (mysql_stmt_bind_result(st, b) || mysql_stmt_store_result(st)) {
        rc = fail_st(c, st, err, errlen, "fetch");
        if (c->m) /* a lost connection was dropped, st with it */
            mysql_stmt_free_result(st);
        return rc;
    }
    for (;;) {
        int r = mysql_stmt_fetch(st);
        if (r == MYSQL_NO_DATA)
            break;
        if (r == 1) {
            rc = fail_st(c, st, err, errlen, "fetch");
            break;
        }
        for (int i = 0; i < ncols && rc == AV_STORE_OK; i++) {
            cols[i].is_null = nul[i] != 0;
            if (cols[i].type == AV_COL_TEXT && cols[i].cap) {
                size_t l = nul[i] ? 0 : len[i];
                if (l > cols[i].cap - 1)
                    l = cols[i].cap - 1;
                ((char *)cols[i].p)[l] = '\0';
            } else if (cols[i].type == AV_COL_INT && nul[i]) {
                *(int64_t *)cols[i].p = 0;
            } else if (cols[i].type == AV_COL_DOUBLE && nul[i]) {
                *(double *)cols[i].p = NAN;
            } else if (cols[i].type == AV_COL_BLOB) {
                av_store__blob *bl = cols[i].p;
                free(bl->data);
                bl->data = NULL;
                bl->len = 0;
                if (!nul[i] && len[i] > 0) {
                    bl->data = malloc(len[i]);
                    if (!bl->data) {
                        rc = av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
                        break;
                    }
                    MYSQL_BIND fb;
                    memset(&fb, 0, sizeof fb);
                    unsigned long got = 0;
                    fb.buffer_type = MYSQL_TYPE_BLOB;
                    fb.buffer = bl->data;
                    fb.buffer_length = len[i];
                    fb.length = &got;
                    if (mysql_stmt_fetch_column(st, &fb, (unsigned)i, 0)) {
                        rc = fail_st(c, st, err, errlen, "fetch blob");
                        break;
                    }
                    bl->len = len[i];
                }
            }
        }
        if (rc != AV_STORE_OK || (fn && fn(ud)))
            break;
    }
    if (c->m)
        mysql_stmt_free_result(st);
    return rc;
}

struct script_ud {
    my_conn *c;
    char *err;
    size_t errlen;
};

static av_store_status script_one(void *ud, const char *stmt)
{
    struct script_ud *u = ud;
    if (mysql_real_query(u->c->m, stmt, (unsigned long)strlen(stmt)))
        return fail_m(u->c, u->err, u->errlen, "script");
    MYSQL_RES *res = mysql_store_result(u->c->m);
    if (res)
        mysql_free_result(res);
    return AV_STORE_OK;
}

static av_store_status my_script(av_store__sess *sess, const char *sql, char *err, size_t errlen)
{
    struct script_ud u = {(my_conn *)sess, err, errlen};
    return av_store__split_sql(sql, script_one, &u, err, errlen);
}

static av_store_status simple(my_conn *c, const char *q, char *err, size_t errlen)
{
    if (mysql_real_query(c->m, q, (unsigned long)strlen(q)))
        return fail_m(c, err, errlen, q);
    return AV_STORE_OK;
}

static av_store_status my_begin(av_store__sess *sess, char *err, size_t errlen)
{
    return simple((my_conn *)sess, "START TRANSACTION", err, errlen);
}

static av_store_status my_end(av_store__sess *sess, int commit, char *err, size_t errlen)
{
    my_conn *c = (my_conn *)sess;
    if (!c->m) /* dropped after a lost connection: the server rolled back */
        return commit ? av_store__fail(err, errlen, AV_STORE_EUNAVAILABLE,
                                       "mysql: connection lost before commit")
                      : AV_STORE_OK;
    if (commit)
        return simple(c, "COMMIT", err, errlen);
    char e2[64];
    simple(c, "ROLLBACK", e2, sizeof e2);
    return AV_STORE_OK;
}

static av_store_status my_sess_get(av_store *base, av_store__sess **out, char *err,
                                   size_t errlen)
{
    my_conn *c = NULL;
    av_store_status st = acquire((my_store *)base, &c, err, errlen);
    *out = (av_store__sess *)c;
    return st;
}

static void my_sess_put(av_store *base, av_store__sess *sess)
{
    release((my_store *)base, (my_conn *)sess);
}

/* ---- open / close ---- */

static void my_close(av_store *base)
{
    my_store *s = (my_store *)base;
    for (int i = 0; i < MY_POOL_MAX; i++)
        drop(&s->conn[i]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    explicit_bzero(s->pass, sizeof s->pass);
    free(s);
}

static pthread_once_t g_lib_once = PTHREAD_ONCE_INIT;
static int g_lib_rc;
static void lib_init(void)
{
    g_lib_rc = mysql_library_init(0, NULL, NULL);
}

static av_store_status my_open(const char *rest, av_store **out, char *err, size_t errlen)
{
    pthread_once(&g_lib_once, lib_init);
    if (g_lib_rc)
        return av_store__fail(err, errlen, AV_STORE_EUNAVAILABLE, "mysql: library init failed");
    my_store *s = calloc(1, sizeof *s);
    if (!s)
        return av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
    s->base.drv = &av_store__mysql_driver;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    for (int i = 0; i < MY_POOL_MAX; i++)
        s->conn[i].owner = s;
    av_store_status st = parse_url(s, rest, err, errlen);
    if (st != AV_STORE_OK) {
        my_close(&s->base);
        return st;
    }
    /* One connection now, so a wrong URL fails at open as with SQLite. */
    my_conn *c = &s->conn[0];
    st = connect_one(s, c, 1, err, errlen);
    if (st != AV_STORE_OK && c->last_errno == ER_BAD_DB_ERROR) {
        char q[192];
        snprintf(q, sizeof q, "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4"
                 " COLLATE utf8mb4_bin", s->db); /* name checked by valid_db_name */
        st = connect_one(s, c, 0, err, errlen);
        if (st == AV_STORE_OK) {
            st = simple(c, q, err, errlen);
            drop(c);
            if (st == AV_STORE_OK)
                st = connect_one(s, c, 1, err, errlen);
        }
    }
    if (st != AV_STORE_OK) {
        my_close(&s->base);
        return st;
    }
    c->last_ms = av_base_mono_ms();
    *out = &s->base;
    return AV_STORE_OK;
}

/* ---- migrations ---- */

static av_store_status my_lock(av_store__sess *c, const char *name, int timeout_s, char *err,
                               size_t errlen);
static void my_unlock(av_store__sess *c, const char *name);

static av_store_status get_int(my_conn *c, const char *sql, const av_store__arg *a, int n,
                               int64_t *v, char *err, size_t errlen)
{
    *v = 0;
    av_store__col col = {AV_COL_INT, v, 0, 0};
    return my_query((av_store__sess *)c, sql, a, n, &col, 1, NULL, NULL, err, errlen);
}

static av_store_status version_of(my_conn *c, int *v, char *err, size_t errlen)
{
    av_store_status st = my_script((av_store__sess *)c,
                                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                   " version INT NOT NULL PRIMARY KEY,"
                                   " applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)"
                                   ") ENGINE=InnoDB",
                                   err, errlen);
    int64_t x = 0;
    if (st == AV_STORE_OK)
        st = get_int(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0, &x,
                     err, errlen);
    *v = (int)x;
    return st;
}

static av_store_status my_schema_version(av_store *base, int *v, char *err, size_t errlen)
{
    my_store *s = (my_store *)base;
    my_conn *c;
    av_store_status st = acquire(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    st = version_of(c, v, err, errlen);
    release(s, c);
    return st;
}

static av_store_status my_migrate(av_store *base, int *version, char *err, size_t errlen)
{
    my_store *s = (my_store *)base;
    my_conn *c;
    av_store_status st = acquire(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    /* DDL commits implicitly in MySQL: a named lock keeps two migrating
     * processes from running the same step twice. */
    st = my_lock((av_store__sess *)c, "aviary_migrate", 60, err, errlen);
    int locked = st == AV_STORE_OK;
    int v = 0;
    if (st == AV_STORE_OK)
        st = version_of(c, &v, err, errlen);
    for (int i = v; st == AV_STORE_OK && av_store__mysql_migrations[i]; i++) {
        st = my_script((av_store__sess *)c, av_store__mysql_migrations[i], err, errlen);
        av_store__arg a[1] = {AV_ARG_I(i + 1)};
        if (st == AV_STORE_OK)
            st = my_exec((av_store__sess *)c, "INSERT INTO schema_migrations (version) VALUES (?)",
                         a, 1, NULL, NULL, err, errlen);
        if (st == AV_STORE_OK)
            v = i + 1;
    }
    if (locked)
        my_unlock((av_store__sess *)c, "aviary_migrate");
    release(s, c);
    if (st == AV_STORE_OK && version)
        *version = v;
    return st;
}

/* ---- transactions with retry ---- */

/* Run body in a transaction; retried on deadlock / lock-wait time-out. */
static av_store_status my_tx(av_store *base, av_store__tx_fn body, void *ud, char *err,
                             size_t errlen)
{
    my_store *s = (my_store *)base;
    my_conn *c;
    av_store_status st = acquire(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    for (int attempt = 0;; attempt++) {
        st = my_begin((av_store__sess *)c, err, errlen);
        if (st == AV_STORE_OK)
            st = body(base, (av_store__sess *)c, ud, err, errlen);
        if (st == AV_STORE_OK)
            st = my_end((av_store__sess *)c, 1, err, errlen);
        else
            my_end((av_store__sess *)c, 0, NULL, 0);
        int retry = st == AV_STORE_EDB && (c->last_errno == ER_LOCK_DEADLOCK ||
                                           c->last_errno == ER_LOCK_WAIT_TIMEOUT);
        if (!retry || attempt + 1 >= MY_TX_TRIES || !c->m)
            break;
        struct timespec ts = {0, (long)(1 + attempt) * 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    release(s, c);
    return st;
}

/* ---- named locks ---- */

/* GET_LOCK names are server-wide: the database's name keeps two databases apart. */
static av_store_status my_lock(av_store__sess *c, const char *name, int timeout_s, char *err,
                               size_t errlen)
{
    int64_t got = 0;
    av_store__arg a[2] = {AV_ARG_T(name), AV_ARG_I(timeout_s)};
    av_store_status st = get_int((my_conn *)c, "SELECT GET_LOCK(CONCAT(?, '.', DATABASE()), ?)",
                                 a, 2, &got, err, errlen);
    if (st == AV_STORE_OK && got != 1)
        st = av_store__fail(err, errlen, AV_STORE_EDB, "mysql: lock %s busy", name);
    return st;
}

static void my_unlock(av_store__sess *c, const char *name)
{
    my_conn *mc = (my_conn *)c;
    if (!mc->m) /* dropped: the server released it with the connection */
        return;
    int64_t ignored;
    char e2[128];
    av_store__arg a[1] = {AV_ARG_T(name)};
    get_int(mc, "SELECT RELEASE_LOCK(CONCAT(?, '.', DATABASE()))", a, 1, &ignored, e2,
            sizeof e2);
}

const av_store_driver av_store__mysql_driver = {
    .scheme = "mysql",
    .open = my_open,
    .close = my_close,
    .migrate = my_migrate,
    .schema_version = my_schema_version,
    .sess_get = my_sess_get,
    .sess_put = my_sess_put,
    .begin = my_begin,
    .end = my_end,
    .exec = my_exec,
    .query = my_query,
    .script = my_script,
    .dialect = "mysql",
    .tx = my_tx,
    .ts_text = {"CONCAT(LEFT(DATE_FORMAT(", ", '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')", 0},
    .age_s = {"TIMESTAMPDIFF(MICROSECOND, ", ", CURRENT_TIMESTAMP(3)) / 1e6", 0},
    .count_tables = {"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema ="
                     " DATABASE() AND table_name IN ", "", 0},
    .upsert = {"ON DUPLICATE KEY UPDATE", "", 1}, /* on whichever unique key the row hits */
    .lock = my_lock,
    .unlock = my_unlock,
};
