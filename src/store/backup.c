/*
 * backup.c - copies of a SQLite store with SQLite's online backup API
 * (sqlite3_backup_*): the copy is one consistent snapshot even while web
 * nodes keep writing (WAL readers do not block them). Both directions write
 * a temporary file beside the target and rename it into place, so a crash
 * never leaves half a database under the final name.
 */
#include "store/store.h"
#include "store/driver.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "sqlite:PATH" -> PATH; NULL (err set) for anything else. */
static const char *sqlite_path(const char *url, char *err, size_t errlen)
{
    if (url && !strncmp(url, "sqlite:", 7) && url[7])
        return url + 7;
    if (url && !strncmp(url, "mysql://", 8))
        av_store__fail(err, errlen, AV_STORE_EUNAVAILABLE,
                       "backup and restore work on SQLite only; for MySQL/MariaDB use"
                       " mariadb-dump (see README, MySQL/MariaDB: Backup)");
    else
        av_store__fail(err, errlen, AV_STORE_EARG, "not a database URL: expected sqlite:PATH");
    return NULL;
}

/* Copy the database file src into dst (a new file) with the backup API. */
static av_store_status copy_db(const char *src, const char *dst, char *err, size_t errlen)
{
    sqlite3 *from = NULL, *to = NULL;
    av_store_status st = AV_STORE_OK;
    if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        st = av_store__fail(err, errlen, AV_STORE_EDB, "%s: %s", src,
                            from ? sqlite3_errmsg(from) : "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(from, 5000);
    if (sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        st = av_store__fail(err, errlen, AV_STORE_EDB, "%s: %s", dst,
                            to ? sqlite3_errmsg(to) : "cannot create");
        goto out;
    }
    sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
    if (!b) {
        st = av_store__fail(err, errlen, AV_STORE_EDB, "backup: %s", sqlite3_errmsg(to));
        goto out;
    }
    int rc;
    /* All pages in one step: one read transaction, so one snapshot. */
    while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED)
        sqlite3_sleep(50);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE)
        st = av_store__fail(err, errlen, AV_STORE_EDB, "backup of %s: %s", src,
                            sqlite3_errstr(rc));
out:
    sqlite3_close(from);
    if (to && sqlite3_close(to) != SQLITE_OK && st == AV_STORE_OK)
        st = av_store__fail(err, errlen, AV_STORE_EDB, "%s: could not be closed", dst);
    return st;
}

/* An Aviary database: intact, and with the tables and version rows. */
static av_store_status check_aviary_db(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    av_store_status st = AV_STORE_OK;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        st = av_store__fail(err, errlen, AV_STORE_EARG, "%s: %s", path,
                            db ? sqlite3_errmsg(db) : "cannot open");
        goto out;
    }
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW ||
        strcmp((const char *)sqlite3_column_text(q, 0), "ok") != 0) {
        st = av_store__fail(err, errlen, AV_STORE_EARG,
                            "%s is not an intact SQLite database (%s)", path,
                            sqlite3_errmsg(db));
        goto out;
    }
    sqlite3_finalize(q);
    q = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND"
                           " name IN ('images', 'inferences')),"
                           " (SELECT MAX(version) FROM schema_migrations)",
                           -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW || sqlite3_column_int(q, 0) != 2 ||
        sqlite3_column_int(q, 1) < 1)
        st = av_store__fail(err, errlen, AV_STORE_EARG, "%s is not an Aviary database", path);
out:
    sqlite3_finalize(q);
    sqlite3_close(db);
    return st;
}

/* Copy src to a temp file beside final, then rename it over final. */
static av_store_status copy_into_place(const char *src, const char *final, char *err,
                                       size_t errlen)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%ld", final, (long)getpid()) >= sizeof tmp)
        return av_store__fail(err, errlen, AV_STORE_EARG, "path too long: %s", final);
    unlink(tmp);
    av_store_status st = copy_db(src, tmp, err, errlen);
    if (st == AV_STORE_OK && rename(tmp, final) != 0)
        st = av_store__fail(err, errlen, AV_STORE_EDB, "%s: %s", final, strerror(errno));
    if (st != AV_STORE_OK)
        unlink(tmp);
    return st;
}

av_store_status av_store_backup(const char *url, const char *dest, char *err, size_t errlen)
{
    const char *path = sqlite_path(url, err, errlen);
    if (!path)
        return url && !strncmp(url, "mysql://", 8) ? AV_STORE_EUNAVAILABLE : AV_STORE_EARG;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return av_store__fail(err, errlen, AV_STORE_NOT_FOUND, "%s: %s", path, strerror(errno));
    av_store_status st = check_aviary_db(path, err, errlen);
    return st == AV_STORE_OK ? copy_into_place(path, dest, err, errlen) : st;
}

av_store_status av_store_restore(const char *src, const char *url, char *err, size_t errlen)
{
    const char *path = sqlite_path(url, err, errlen);
    if (!path)
        return url && !strncmp(url, "mysql://", 8) ? AV_STORE_EUNAVAILABLE : AV_STORE_EARG;
    struct stat sb;
    if (stat(path, &sb) == 0)
        return av_store__fail(err, errlen, AV_STORE_CONFLICT,
                              "%s exists already: restore only into a fresh data folder", path);
    av_store_status st = check_aviary_db(src, err, errlen);
    if (st == AV_STORE_OK)
        st = copy_into_place(src, path, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    /* An older backup is brought up to this binary's schema. */
    av_store *s = NULL;
    st = av_store_open(url, &s, err, errlen);
    if (st == AV_STORE_OK)
        st = av_store_migrate(s, NULL, err, errlen);
    av_store_close(s);
    return st;
}
