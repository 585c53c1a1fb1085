/*
 * cli.h - subcommands of the aviary binary (internal to src/cli).
 *
 * Each command gets argv after its name and returns the process exit
 * status: 0 success, 1 failure at run time, 2 usage error.
 */
#ifndef AV_CLI_H
#define AV_CLI_H

#include "config/config.h"
#include "detect/detect.h"
#include "guard/guard.h"

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
/* `aviary model quantize ...` (cmd_quantize.c); argv after "quantize". */
int av_cli_model_quantize(const av_config *cfg, int argc, char **argv);

/* The command that adds the first owner for this configuration's database
 * ("aviary user add NAME --data DIR" or "--db URL" with the password left out). */
void av_cli_owner_command(const av_config *cfg, char *out, size_t cap);
extern const av_cli_cmd av_cli_eval;

/* Read a whole regular file of at most max bytes: 0 with *buf malloc'd
 * (caller frees) and *len set, or -1 with a message in err. */
int av_cli_read_file(const char *path, long long max, unsigned char **buf, size_t *len,
                     char *err, size_t errlen);

/* A number in [lo, hi] from the whole of s: 0 with *out set, or -1. */
int av_cli_parse_double(const char *s, double lo, double hi, double *out);

/* Pipeline options shared by `aviary detect` and `aviary eval`. */
typedef struct av_cli_detect_opts {
    av_detect_open_opts open;
    av_detect_run_opts run;
} av_cli_detect_opts;

/* Their --help lines. */
#define AV_CLI_DETECT_OPTS_HELP                                                     \
    "  --min-score S   detector score threshold (default: the manifest's, 0.2)\n"     \
    "  --all-classes   report every COCO class, not only birds\n"                     \
    "  --detector NAME use models/NAME.json instead of pipeline.json's choice\n"      \
    "  --passes LIST   detector passes: zoom_out,tiles,nested, or none (default:\n"   \
    "                  pipeline.json's \"passes\")\n"                                \
    "  --top K         species per bird (default 3; eval: 5)\n"                       \
    "  --no-species    skip the species classifier\n"

/*
 * If argv[*i] is one of those options, take it (and its value: *i moves
 * past it) into o and return 1, with *rc 0, or the usage status (2, message
 * printed) when its value is bad; 0 when it is not one of them.
 */
int av_cli_detect_option(const av_cli_cmd *me, int argc, char **argv, int *i,
                         av_cli_detect_opts *o, int *rc);

/* The connection limits and deadlines of cfg for a server (guard.h); also
 * raises the process's open-file limit to its hard limit, as a server
 * holds a descriptor per connection. */
struct av_guard_opts av_cli_guard_opts(const av_config *cfg);

/* Print "aviary CMD: msg" to stderr; returns 2 for `return av_cli_usage(...)`. */
int av_cli_usage(const av_cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Create --data DIR when the database is the default SQLite file in it
 * (commands run before the first `aviary serve`); 0, or -1 with a message. */
int av_cli_data_dir(const av_cli_cmd *cmd, const av_config *cfg);
/* For commands whose implementation has not landed yet. */
int av_cli_not_built(const av_cli_cmd *cmd);

#endif
