/*
 * main.c - `aviary` entry point: global help, version, subcommand dispatch.
 */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const av_cli_cmd *const g_cmds[] = {
    &av_cli_serve, &av_cli_model_server, &av_cli_detect, &av_cli_eval, &av_cli_classify, &av_cli_db, &av_cli_mlmd,
};
#define N_CMDS (sizeof g_cmds / sizeof g_cmds[0])

static void print_main_help(FILE *f)
{
    fprintf(f,
            "aviary %s - bird detection and species identification\n"
            "\n"
            "usage: aviary COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "commands:\n",
            AV_VERSION);
    for (size_t i = 0; i < N_CMDS; i++)
        fprintf(f, "  %-13s %s\n", g_cmds[i]->name, g_cmds[i]->summary);
    fprintf(f, "  %-13s %s\n", "version", "print the version");
    fprintf(f, "  %-13s %s\n", "help [CMD]", "this text, or a command's");
    fprintf(f,
            "\n"
            "Settings come from flags, then AVIARY_* environment variables, then a\n"
            "config file (--config FILE), then defaults. `aviary CMD --help` lists them.\n"
            "With no flags, `aviary serve` runs the whole app on :8080 with SQLite under ./data.\n");
}

static void print_cmd_help(const av_cli_cmd *c)
{
    printf("usage: aviary %s %s\n\n%s\n", c->name, c->usage, c->summary);
    if (c->extra_help)
        printf("\n%s", c->extra_help);
    if (c->keys && c->keys[0]) {
        printf("\nsettings (flag / environment):\n");
        for (const char *const *k = c->keys; *k; k++) {
            const av_config_key *info = av_config_key_info(*k);
            if (!info)
                continue;
            char flag[64], env[64];
            snprintf(flag, sizeof flag, "--%s %s", info->name, info->arg);
            size_t n = (size_t)snprintf(env, sizeof env, "AVIARY_");
            for (const char *p = info->name; *p && n + 1 < sizeof env; p++)
                env[n++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
            env[n] = '\0';
            printf("  %-26s %-24s %s\n", flag, env, info->help);
        }
        printf("  %-26s %-24s %s\n", "--config FILE", "AVIARY_CONFIG", "settings file (key = value)");
    }
}

static const av_cli_cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < N_CMDS; i++)
        if (strcmp(g_cmds[i]->name, name) == 0)
            return g_cmds[i];
    return NULL;
}

int av_cli_usage(const av_cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "aviary %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see `aviary %s --help`)\n", cmd->name);
    return 2;
}

int av_cli_not_built(const av_cli_cmd *cmd)
{
    fprintf(stderr, "aviary %s: not built yet in this version (%s)\n", cmd->name, AV_VERSION);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_main_help(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        if (!strcmp(name, "help") && argc > 2) {
            const av_cli_cmd *c = find_cmd(argv[2]);
            if (!c) {
                fprintf(stderr, "aviary: unknown command '%s'\n", argv[2]);
                return 2;
            }
            print_cmd_help(c);
            return 0;
        }
        print_main_help(stdout);
        return 0;
    }
    if (!strcmp(name, "version") || !strcmp(name, "--version")) {
        printf("aviary %s\n", AV_VERSION);
        return 0;
    }
    const av_cli_cmd *c = find_cmd(name);
    if (!c) {
        fprintf(stderr, "aviary: unknown command '%s' (try `aviary --help`)\n", name);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_cmd_help(c);
            return 0;
        }
    }
    av_config cfg;
    av_config_defaults(&cfg, c->name);
    char err[512];
    int nrest = 0;
    char **rest = calloc((size_t)argc, sizeof *rest);
    if (!rest) {
        fprintf(stderr, "aviary: out of memory\n");
        return 1;
    }
    if (av_config_parse(&cfg, c->keys, argc - 2, argv + 2, rest, &nrest, err, sizeof err)) {
        free(rest);
        return av_cli_usage(c, "%s", err);
    }
    av_log_setup(cfg.log_level, cfg.log_format);
    int rc = c->run(&cfg, nrest, rest);
    free(rest);
    return rc;
}
