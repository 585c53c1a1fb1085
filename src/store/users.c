/*
 * users.c - owner accounts, sessions, API tokens and failed-login counts
 * (schema v4), written once on the generic statement layer for both
 * drivers. Passwords: Argon2id via libsodium's crypto_pwhash_str (salt and
 * limits inside the string). Tokens: 32 random bytes as hex; the database
 * keeps their SHA-256 only.
 */
#include "store/driver.h"
#include "base/base.h"
#include "store/sha256.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PW_MIN 8
#define PW_MAX 1024

/* sodium_init is idempotent and thread-safe after the first call returns;
 * -1 means no usable randomness, which no caller can work around. */
static int sodium_ready(char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        av_store__fail(err, errlen, AV_STORE_EDB, "accounts: libsodium could not initialise");
        return -1;
    }
    return 0;
}

int av_store_user_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > AV_STORE_USER_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '@' || ch == '-'))
            return 0;
    }
    return 1;
}

static av_store_status check_password(const char *pw, char *err, size_t errlen)
{
    size_t n = pw ? strlen(pw) : 0;
    if (n < PW_MIN)
        return av_store__fail(err, errlen, AV_STORE_EARG,
                              "the password is too short (at least %d characters)", PW_MIN);
    if (n > PW_MAX)
        return av_store__fail(err, errlen, AV_STORE_EARG,
                              "the password is too long (at most %d bytes)", PW_MAX);
    return AV_STORE_OK;
}

static av_store_status hash_password(const char *pw, char out[crypto_pwhash_STRBYTES], char *err,
                                     size_t errlen)
{
    av_store_status st = check_password(pw, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    if (sodium_ready(err, errlen))
        return AV_STORE_EDB;
    if (crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return av_store__fail(err, errlen, AV_STORE_ENOMEM,
                              "accounts: not enough memory to hash the password");
    return AV_STORE_OK;
}

/* 32 random bytes as hex into tok, their SHA-256 hex into hash (optional). */
static void new_token(char tok[AV_STORE_TOKEN_LEN + 1], char hash[65])
{
    unsigned char r[AV_STORE_TOKEN_LEN / 2];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(tok, AV_STORE_TOKEN_LEN + 1, r, sizeof r);
    sodium_memzero(r, sizeof r);
    if (hash)
        av_store__sha256(tok, AV_STORE_TOKEN_LEN, hash);
}

static int token_ok(const char *t)
{
    if (!t || strlen(t) != AV_STORE_TOKEN_LEN)
        return 0;
    for (const char *p = t; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

av_store_status av_store_user_add(av_store *s, const char *name, const char *password, char *err,
                                  size_t errlen)
{
    if (!av_store_user_name_ok(name))
        return av_store__fail(err, errlen, AV_STORE_EARG,
                              "the user name must be 1-%d characters of letters, digits, . _ @ -",
                              AV_STORE_USER_NAME_MAX);
    char hash[crypto_pwhash_STRBYTES];
    av_store_status st = hash_password(password, hash, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    av_store__arg a[3] = {AV_ARG_T(name), AV_ARG_T(hash), AV_ARG_I(av_base_wall_ms())};
    st = av_store__exec1(s, "INSERT INTO users (name, role, pw_hash, created_ms)"
                            " VALUES (?, 'owner', ?, ?)",
                         a, 3, NULL, err, errlen);
    if (st == AV_STORE_CONFLICT)
        av_store__fail(err, errlen, st, "a user named '%s' exists already", name);
    return st;
}

/* Row callbacks: count rows (the columns keep the last one). */
static int count_row(void *ud)
{
    ++*(int *)ud;
    return 0;
}

static av_store_status user_id(av_store *s, const char *name, int64_t *id, char *err,
                               size_t errlen)
{
    int rows = 0;
    av_store__col c[1] = {{AV_COL_INT, id, 0, 0}};
    av_store__arg a[1] = {AV_ARG_T(name)};
    av_store_status st =
        av_store__query1(s, "SELECT id FROM users WHERE name = ?", a, 1, c, 1, count_row, &rows,
                         err, errlen);
    if (st == AV_STORE_OK && rows == 0)
        st = av_store__fail(err, errlen, AV_STORE_NOT_FOUND, "no user named '%s'", name);
    return st;
}

av_store_status av_store_user_passwd(av_store *s, const char *name, const char *password,
                                     char *err, size_t errlen)
{
    int64_t id = 0;
    av_store_status st = user_id(s, name, &id, err, errlen);
    char hash[crypto_pwhash_STRBYTES];
    if (st == AV_STORE_OK)
        st = hash_password(password, hash, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    av_store__arg a[2] = {AV_ARG_T(hash), AV_ARG_I(id)};
    st = av_store__exec1(s, "UPDATE users SET pw_hash = ? WHERE id = ?", a, 2, NULL, err, errlen);
    av_store__arg b[1] = {AV_ARG_I(id)};
    if (st == AV_STORE_OK) /* a changed password signs every browser out */
        st = av_store__exec1(s, "DELETE FROM sessions WHERE user_id = ?", b, 1, NULL, err, errlen);
    return st;
}

static av_store_status user_delete_body(av_store *s, av_store__sess *c, void *ud, char *err,
                                        size_t errlen)
{
    av_store__arg a[1] = {AV_ARG_I(*(const int64_t *)ud)};
    av_store_status st = s->drv->exec(c, "DELETE FROM sessions WHERE user_id = ?", a, 1, NULL,
                                      NULL, err, errlen);
    if (st == AV_STORE_OK)
        st = s->drv->exec(c, "DELETE FROM users WHERE id = ?", a, 1, NULL, NULL, err, errlen);
    return st;
}

av_store_status av_store_user_delete(av_store *s, const char *name, char *err, size_t errlen)
{
    int64_t id = 0;
    av_store_status st = user_id(s, name, &id, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    return s->drv->tx(s, user_delete_body, &id, err, errlen);
}

/* Columns of a user row, in USER_COLS order. */
#define USER_COLS "id, name, role, api_token_hash IS NOT NULL, created_ms"
typedef struct user_row {
    av_store_user u;
    int64_t has_token, created_ms;
    av_store__col c[5];
} user_row;

static void user_row_init(user_row *r)
{
    memset(r, 0, sizeof *r);
    r->c[0] = (av_store__col){AV_COL_INT, &r->u.id, 0, 0};
    r->c[1] = (av_store__col){AV_COL_TEXT, r->u.name, sizeof r->u.name, 0};
    r->c[2] = (av_store__col){AV_COL_TEXT, r->u.role, sizeof r->u.role, 0};
    r->c[3] = (av_store__col){AV_COL_INT, &r->has_token, 0, 0};
    r->c[4] = (av_store__col){AV_COL_INT, &r->created_ms, 0, 0};
}

static void user_row_done(user_row *r)
{
    r->u.has_api_token = r->has_token != 0;
    time_t t = (time_t)(r->created_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(r->u.created_at, sizeof r->u.created_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

typedef struct user_list {
    user_row row;
    av_store_user *v;
    int n, cap, failed;
} user_list;

static int list_row(void *ud)
{
    user_list *l = ud;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        av_store_user *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            l->failed = 1;
            return 1;
        }
        l->v = v, l->cap = cap;
    }
    user_row_done(&l->row);
    l->v[l->n++] = l->row.u;
    return 0;
}

av_store_status av_store_user_list(av_store *s, av_store_user **out, int *n, char *err,
                                   size_t errlen)
{
    *out = NULL, *n = 0;
    user_list l = {0};
    user_row_init(&l.row);
    av_store_status st = av_store__query1(s, "SELECT " USER_COLS " FROM users ORDER BY name",
                                          NULL, 0, l.row.c, 5, list_row, &l, err, errlen);
    if (st == AV_STORE_OK && l.failed)
        st = av_store__fail(err, errlen, AV_STORE_ENOMEM, "accounts: out of memory");
    if (st != AV_STORE_OK) {
        free(l.v);
        return st;
    }
    *out = l.v, *n = l.n;
    return st;
}

av_store_status av_store_owner_count(av_store *s, int64_t *n, char *err, size_t errlen)
{
    *n = 0;
    av_store__col c[1] = {{AV_COL_INT, n, 0, 0}};
    return av_store__query1(s, "SELECT COUNT(*) FROM users WHERE role = 'owner'", NULL, 0, c, 1,
                            NULL, NULL, err, errlen);
}

/* One user row by a condition on one text argument; NOT_FOUND when none. */
static av_store_status user_where(av_store *s, const char *where, const char *arg,
                                  av_store_user *out, char *pw_hash, size_t pw_cap, char *err,
                                  size_t errlen)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT " USER_COLS ", pw_hash FROM users WHERE %s", where);
    user_row r;
    user_row_init(&r);
    char pw_buf[crypto_pwhash_STRBYTES] = "";
    av_store__col c[6];
    memcpy(c, r.c, sizeof r.c);
    c[5] = (av_store__col){AV_COL_TEXT, pw_hash ? pw_hash : pw_buf,
                           pw_hash ? pw_cap : sizeof pw_buf, 0};
    int rows = 0;
    av_store__arg a[1] = {AV_ARG_T(arg)};
    av_store_status st = av_store__query1(s, sql, a, 1, c, 6, count_row, &rows, err, errlen);
    if (st == AV_STORE_OK && rows == 0)
        return av_store__fail(err, errlen, AV_STORE_NOT_FOUND, "no such user");
    if (st == AV_STORE_OK && out) {
        user_row_done(&r);
        *out = r.u;
    }
    return st;
}

av_store_status av_store_user_verify(av_store *s, const char *name, const char *password,
                                     av_store_user *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (sodium_ready(err, errlen))
        return AV_STORE_EDB;
    size_t pwlen = password ? strlen(password) : 0;
    char hash[crypto_pwhash_STRBYTES] = "";
    av_store_status st = AV_STORE_NOT_FOUND;
    if (av_store_user_name_ok(name) && pwlen <= PW_MAX)
        st = user_where(s, "name = ?", name, out, hash, sizeof hash, err, errlen);
    if (st != AV_STORE_OK && st != AV_STORE_NOT_FOUND)
        return st;
    /* Unknown names are checked against a fixed hash made once, so both
     * outcomes cost one Argon2id run. */
    static char dummy[crypto_pwhash_STRBYTES];
    static int have_dummy;
    if (st == AV_STORE_NOT_FOUND && !__atomic_load_n(&have_dummy, __ATOMIC_ACQUIRE)) {
        char h[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str(h, "aviary-no-such-user", 19, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0) {
            memcpy(dummy, h, sizeof h); /* racing threads write the same kind of value */
            __atomic_store_n(&have_dummy, 1, __ATOMIC_RELEASE);
        }
    }
    const char *against = st == AV_STORE_OK ? hash : dummy;
    int ok = *against && password &&
             crypto_pwhash_str_verify(against, password, pwlen) == 0;
    if (st == AV_STORE_OK && ok)
        return AV_STORE_OK;
    memset(out, 0, sizeof *out);
    return av_store__fail(err, errlen, AV_STORE_NOT_FOUND, "wrong user name or password");
}

av_store_status av_store_user_api_token(av_store *s, const char *name, char *token, char *err,
                                        size_t errlen)
{
    int64_t id = 0;
    av_store_status st = user_id(s, name, &id, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    if (sodium_ready(err, errlen))
        return AV_STORE_EDB;
    char hash[65];
    new_token(token, hash);
    av_store__arg a[2] = {AV_ARG_T(hash), AV_ARG_I(id)};
    return av_store__exec1(s, "UPDATE users SET api_token_hash = ? WHERE id = ?", a, 2, NULL, err,
                           errlen);
}

av_store_status av_store_user_by_api_token(av_store *s, const char *token, av_store_user *out,
                                           char *err, size_t errlen)
{
    if (!token_ok(token))
        return av_store__fail(err, errlen, AV_STORE_NOT_FOUND, "not an API token");
    char hash[65];
    av_store__sha256(token, AV_STORE_TOKEN_LEN, hash);
    return user_where(s, "api_token_hash = ?", hash, out, NULL, 0, err, errlen);
}

av_store_status av_store_session_new(av_store *s, int64_t user_id, int ttl_s, char *token,
                                     char *csrf, char *err, size_t errlen)
{
    if (ttl_s <= 0)
        return av_store__fail(err, errlen, AV_STORE_EARG, "session: bad lifetime");
    if (sodium_ready(err, errlen))
        return AV_STORE_EDB;
    char hash[65];
    new_token(token, hash);
    new_token(csrf, NULL);
    int64_t now = av_base_wall_ms();
    /* Expired rows of anyone go with each sign-in: the table stays small. */
    av_store__arg old[1] = {AV_ARG_I(now)};
    av_store_status st = av_store__exec1(s, "DELETE FROM sessions WHERE expires_ms < ?", old, 1,
                                         NULL, err, errlen);
    av_store__arg a[5] = {AV_ARG_T(hash), AV_ARG_I(user_id), AV_ARG_T(csrf), AV_ARG_I(now),
                          AV_ARG_I(now + (int64_t)ttl_s * 1000)};
    if (st == AV_STORE_OK)
        st = av_store__exec1(s, "INSERT INTO sessions (token_hash, user_id, csrf, created_ms,"
                                " expires_ms) VALUES (?, ?, ?, ?, ?)",
                             a, 5, NULL, err, errlen);
    return st;
}

av_store_status av_store_session_get(av_store *s, const char *token, av_store_user *user,
                                     char *csrf, char *err, size_t errlen)
{
    if (!token_ok(token))
        return av_store__fail(err, errlen, AV_STORE_NOT_FOUND, "no such session");
    char hash[65];
    av_store__sha256(token, AV_STORE_TOKEN_LEN, hash);
    user_row r;
    user_row_init(&r);
    av_store__col c[6];
    memcpy(c, r.c, sizeof r.c);
    c[5] = (av_store__col){AV_COL_TEXT, csrf, AV_STORE_TOKEN_LEN + 1, 0};
    int rows = 0;
    av_store__arg a[2] = {AV_ARG_T(hash), AV_ARG_I(av_base_wall_ms())};
    av_store_status st = av_store__query1(
        s,
        "SELECT u.id, u.name, u.role, u.api_token_hash IS NOT NULL, u.created_ms, s.csrf"
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = ? AND s.expires_ms > ?",
        a, 2, c, 6, count_row, &rows, err, errlen);
    if (st == AV_STORE_OK && rows == 0)
        return av_store__fail(err, errlen, AV_STORE_NOT_FOUND, "no such session");
    if (st == AV_STORE_OK) {
        user_row_done(&r);
        *user = r.u;
    }
    return st;
}

av_store_status av_store_session_end(av_store *s, const char *token, char *err, size_t errlen)
{
    if (!token_ok(token))
        return AV_STORE_OK;
    char hash[65];
    av_store__sha256(token, AV_STORE_TOKEN_LEN, hash);
    av_store__arg a[1] = {AV_ARG_T(hash)};
    return av_store__exec1(s, "DELETE FROM sessions WHERE token_hash = ?", a, 1, NULL, err,
                           errlen);
}

av_store_status av_store_login_blocked(av_store *s, const char *key, int max, int window_s,
                                       int *retry_s, char *err, size_t errlen)
{
    *retry_s = 0;
    int64_t since = 0, failures = 0;
    av_store__col c[2] = {{AV_COL_INT, &since, 0, 0}, {AV_COL_INT, &failures, 0, 0}};
    av_store__arg a[1] = {AV_ARG_T(key)};
    av_store_status st = av_store__query1(
        s, "SELECT window_ms, failures FROM login_failures WHERE k = ?", a, 1, c, 2, NULL, NULL,
        err, errlen);
    int64_t left = since + (int64_t)window_s * 1000 - av_base_wall_ms();
    if (st == AV_STORE_OK && failures >= max && left > 0)
        *retry_s = (int)((left + 999) / 1000);
    return st;
}

av_store_status av_store_login_failed(av_store *s, const char *key, int window_s, char *err,
                                      size_t errlen)
{
    int64_t now = av_base_wall_ms(), start = now - (int64_t)window_s * 1000;
    av_store__arg ins[2] = {AV_ARG_T(key), AV_ARG_I(now)};
    av_store_status st = av_store__exec1(
        s, "INSERT INTO login_failures (k, window_ms, failures) VALUES (?, ?, 1)", ins, 2, NULL,
        err, errlen);
    if (st != AV_STORE_CONFLICT)
        return st;
    /* An old window starts over at this failure; one statement, so racing
     * nodes each count theirs. */
    av_store__arg up[4] = {AV_ARG_I(start), AV_ARG_I(start), AV_ARG_I(now), AV_ARG_T(key)};
    return av_store__exec1(
        s,
        "UPDATE login_failures SET failures = CASE WHEN window_ms < ? THEN 1 ELSE failures + 1"
        " END, window_ms = CASE WHEN window_ms < ? THEN ? ELSE window_ms END WHERE k = ?",
        up, 4, NULL, err, errlen);
}

av_store_status av_store_login_reset(av_store *s, const char *key, char *err, size_t errlen)
{
    av_store__arg a[1] = {AV_ARG_T(key)};
    return av_store__exec1(s, "DELETE FROM login_failures WHERE k = ?", a, 1, NULL, err, errlen);
}
