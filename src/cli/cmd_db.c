/*
 * cmd_db.c - `aviary db` and `aviary mlmd`: not built yet. They keep their
 * final names, usage and settings so scripts and docs can rely on them;
 * running one says it is not built and exits 2.
 */
#include "cli/cli.h"

static const char *const db_keys[] = {"db", "data", "log-level", "log-format", NULL};

static int run_db(const av_config *cfg, int argc, char **argv)
{
    (void)cfg, (void)argc, (void)argv;
    return av_cli_not_built(&av_cli_db);
}

static int run_mlmd(const av_config *cfg, int argc, char **argv)
{
    (void)cfg, (void)argc, (void)argv;
    return av_cli_not_built(&av_cli_mlmd);
}

const av_cli_cmd av_cli_db = {
    .name = "db",
    .summary = "create or migrate the database schema (SQLite or MySQL/MariaDB)",
    .usage = "init|migrate|status [--db URL]",
    .keys = db_keys,
    .run = run_db,
};

const av_cli_cmd av_cli_mlmd = {
    .name = "mlmd",
    .summary = "ML Metadata store: create tables, register model versions",
    .usage = "init|status [--db URL]",
    .keys = db_keys,
    .run = run_mlmd,
};
