/*
 * cli.h - subcommands of the aviary binary (internal to src/cli).
 *
 * Each command gets argv after its name and returns the process exit
 * status: 0 success, 1 failure at run time, 2 usage error.
 */
#ifndef AV_CLI_H
#define AV_CLI_H

#include "config/config.h"
#include "guard/guard.h"

typedef struct av_cli_cmd {
    const char *name;
    const char *summary;
    const char *usage;          /* after "aviary NAME " */
    const char *const *keys;    /* accepted config keys */
    const char *extra_help;     /* command-specific flags, pre-formatted */
    int (*run)(const av_config *cfg, int argc, char **argv);
} av_cli_cmd;

extern const av_cli_cmd av_cli_serve;
extern const av_cli_cmd av_cli_model_server;
extern const av_cli_cmd av_cli_detect;
extern const av_cli_cmd av_cli_classify;
extern const av_cli_cmd av_cli_db;
extern const av_cli_cmd av_cli_mlmd;

/* The connection limits and deadlines of cfg for a server (guard.h); also
 * raises the process's open-file limit to its hard limit, as a server
 * holds a descriptor per connection. */
struct av_guard_opts av_cli_guard_opts(const av_config *cfg);

/* Print "aviary CMD: msg" to stderr; returns 2 for `return av_cli_usage(...)`. */
int av_cli_usage(const av_cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For commands whose implementation has not landed yet. */
int av_cli_not_built(const av_cli_cmd *cmd);

#endif
