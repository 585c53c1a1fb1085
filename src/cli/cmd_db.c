/*
 * cmd_db.c - `aviary db init|migrate|status|backup|restore` and `aviary mlmd init|status`,
 * on either driver (--db sqlite:PATH or mysql://...). All idempotent: init
 * and migrate apply what is pending, status changes nothing but prints.
 * The URL is printed with its password masked.
 */
#include "cli/cli.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const db_keys[] = {"db", "data", "log-level", "log-format", NULL};
static const char *const db_cmd_keys[] = {"db", "data", "blob-store", "log-level", "log-format",
                                          NULL};

static int open_db(const av_cli_cmd *me, const av_config *cfg, av_store **s, char *shown,
                   size_t shownlen)
{
    char url[1100], err[512];
    av_config_db_url(cfg, url, sizeof url);
    av_store_redact_url(url, shown, shownlen);
    if (av_store_open(url, s, err, sizeof err) != AV_STORE_OK) {
        fprintf(stderr, "aviary %s: %s\n", me->name, err);
        return 1;
    }
    return 0;
}

/* `db backup FILE` and `db restore FILE` (SQLite; MySQL: mariadb-dump). */
static int backup_restore(const av_config *cfg, const char *what, const char *file)
{
    char url[1100], err[512];
    av_config_db_url(cfg, url, sizeof url);
    int backup = !strcmp(what, "backup");
    if (!backup && av_cli_data_dir(&av_cli_db, cfg))
        return 1;
    av_store_status st = backup ? av_store_backup(url, file, err, sizeof err)
                                : av_store_restore(file, url, err, sizeof err);
    if (st == AV_STORE_EUNAVAILABLE) {
        fprintf(stderr, "aviary db %s: %s\n"
                        "  e.g. mariadb-dump --single-transaction birdsClassifier > aviary.sql\n",
                what, err);
        return 1;
    }
    if (st != AV_STORE_OK) {
        fprintf(stderr, "aviary db %s: %s\n", what, err);
        return 1;
    }
    char shown[1100];
    av_store_redact_url(url, shown, sizeof shown);
    if (backup)
        printf("backed up %s to %s\n", shown, file);
    else
        printf("restored %s into %s\n", file, shown);
    if (cfg->blob_store[0])
        printf("note: image files under %s are not in the database; copy that folder too\n",
               cfg->blob_store);
    return 0;
}

static int run_db(const av_config *cfg, int argc, char **argv)
{
    const av_cli_cmd *me = &av_cli_db;
    if (argc >= 1 && (!strcmp(argv[0], "backup") || !strcmp(argv[0], "restore"))) {
        if (argc != 2)
            return av_cli_usage(me, "%s needs one FILE", argv[0]);
        return backup_restore(cfg, argv[0], argv[1]);
    }
    if (argc != 1)
        return av_cli_usage(me, "expected one of init, migrate, status, backup, restore");
    const char *what = argv[0];
    int migrate = strcmp(what, "init") == 0 || strcmp(what, "migrate") == 0;
    if (!migrate && strcmp(what, "status") != 0)
        return av_cli_usage(me, "unknown action '%s' (init, migrate, status)", what);
    av_store *s = NULL;
    char shown[1100], err[512];
    if (open_db(me, cfg, &s, shown, sizeof shown))
        return 1;
    int before = 0, after = 0, rc = 0;
    if (av_store_schema_version(s, &before, err, sizeof err) != AV_STORE_OK ||
        (migrate && av_store_migrate(s, &after, err, sizeof err) != AV_STORE_OK)) {
        fprintf(stderr, "aviary db %s: %s\n", what, err);
        rc = 1;
    } else {
        int avail = av_store_migration_count(s);
        if (!migrate)
            after = before;
        printf("database: %s\n", shown);
        if (migrate)
            printf("applied: %d migration(s)\n", after - before);
        printf("schema version: %d\n", after);
        printf("pending migrations: %d", avail > after ? avail - after : 0);
        for (int v = after + 1; v <= avail; v++)
            printf("%s%04d", v == after + 1 ? " (" : ", ", v);
        printf("%s\n", avail > after ? ")" : "");
    }
    av_store_close(s);
    return rc;
}

static int run_mlmd(const av_config *cfg, int argc, char **argv)
{
    const av_cli_cmd *me = &av_cli_mlmd;
    if (argc != 1 || (strcmp(argv[0], "init") != 0 && strcmp(argv[0], "status") != 0))
        return av_cli_usage(me, "expected init or status");
    av_store *s = NULL;
    char shown[1100], err[512];
    if (open_db(me, cfg, &s, shown, sizeof shown))
        return 1;
    int rc = 0;
    av_store_mlmd_info info;
    if ((strcmp(argv[0], "init") == 0 && av_store_mlmd_init(s, err, sizeof err) != AV_STORE_OK) ||
        av_store_mlmd_status(s, &info, err, sizeof err) != AV_STORE_OK) {
        fprintf(stderr, "aviary mlmd %s: %s\n", argv[0], err);
        rc = 1;
    } else {
        printf("database: %s\n", shown);
        printf("mlmd tables: %d of 15\n", info.n_tables);
        printf("mlmd schema version: %d%s\n", info.schema_version,
               info.n_tables == 0 ? " (not initialised: run aviary mlmd init)" : "");
        printf("types: %lld, artifacts: %lld (models: %lld), executions: %lld, contexts: %lld,"
               " events: %lld\n",
               (long long)info.n_types, (long long)info.n_artifacts, (long long)info.n_models,
               (long long)info.n_executions, (long long)info.n_contexts,
               (long long)info.n_events);
        av_store_model_version *mv = NULL;
        int n = 0;
        if (av_store_mlmd_models(s, &mv, &n, err, sizeof err) == AV_STORE_OK)
            for (int i = 0; i < n; i++)
                printf("model %s %s sha256:%.12s registered %s runs %lld\n", mv[i].name,
                       mv[i].version, mv[i].sha256, mv[i].registered_at,
                       (long long)mv[i].n_runs);
        free(mv);
    }
    av_store_close(s);
    return rc;
}

const av_cli_cmd av_cli_db = {
    .name = "db",
    .summary = "create or migrate the database schema (SQLite or MySQL/MariaDB)",
    .usage = "init|migrate|status [--db URL] | backup FILE | restore FILE --data DIR",
    .keys = db_cmd_keys,
    .extra_help = "  init, migrate     create the schema or apply pending migrations\n"
                  "  status            schema version and pending migrations\n"
                  "  backup FILE       a consistent copy of the SQLite database, while servers run\n"
                  "                    (SQLite online backup; MySQL/MariaDB: mariadb-dump, README)\n"
                  "  restore FILE      a backup into a fresh data folder (--data DIR; refuses an\n"
                  "                    existing database), then pending migrations\n",
    .run = run_db,
};

const av_cli_cmd av_cli_mlmd = {
    .name = "mlmd",
    .summary = "ML Metadata store: create tables, register model versions",
    .usage = "init|status [--db URL]",
    .keys = db_keys,
    .run = run_mlmd,
};
