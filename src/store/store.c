/*
 * store.c - driver dispatch by URL scheme, IDs, shared helpers. The domain
 * queries live in one file per table group (images.c, feedback.c, ...).
 */
#include "store/driver.h"
#include "base/base.h"

#include <errno.h>
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
#define X(name, num, msg) \
    case AV_STORE_##name: return msg;
        AV_STORE_STATUS_MAP(X)
#undef X
    }
    return "unknown error";
}

av_store_status av_store__fail(char *err, size_t errlen, av_store_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    av_base_verrf(err, errlen, 0, fmt, ap);
    va_end(ap);
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
