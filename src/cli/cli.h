/*
 * cli.h - subcommands of the aviary binary (internal to src/cli).
 *
 * Each command gets argv after its name and returns the process exit
 * status: 0 success, 1 failure at run time, 2 usage error.
 */
#ifndef AV_CLI_H
#define AV_CLI_H

#include "config/config.h"

typedef struct av_cli_cmd {
    const char *name;
    const char *summary;
    const char *usage;          /* after "aviary NAME " */
    const char *const *keys;    /* accepted config keys */
    const char *extra_help;     /* command-specific flags, pre-formatted */
    int installed_config;       /* read the installed aviary.conf unless told another */
    int (*run)(const av_config *cfg, int argc, char **argv);
} av_cli_cmd;

extern const av_cli_cmd av_cli_serve;
extern const av_cli_cmd av_cli_model_server;
extern const av_cli_cmd av_cli_detect;
extern const av_cli_cmd av_cli_classify;
extern const av_cli_cmd av_cli_db;
extern const av_cli_cmd av_cli_mlmd;
extern const av_cli_cmd av_cli_doctor;
extern const av_cli_cmd av_cli_user;
extern const av_cli_cmd av_cli_train;
extern const av_cli_cmd av_cli_model;

/* The command that adds the first owner for this configuration's database
 * ("aviary user add NAME --data DIR" or "--db URL" with the password left out). */
void av_cli_owner_command(const av_config *cfg, char *out, size_t cap);

/* Print "aviary CMD: msg" to stderr; returns 2 for `return av_cli_usage(...)`. */
int av_cli_usage(const av_cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Create --data DIR when the database is the default SQLite file in it
 * (commands run before the first `aviary serve`); 0, or -1 with a message. */
int av_cli_data_dir(const av_cli_cmd *cmd, const av_config *cfg);
/* For commands whose implementation has not landed yet. */
int av_cli_not_built(const av_cli_cmd *cmd);

#endif
