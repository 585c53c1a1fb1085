/*
 * main.c - `aviary` entry point: global help, version, subcommand dispatch.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const av_cli_cmd *const g_cmds[] = {
    &av_cli_serve, &av_cli_model_server, &av_cli_detect, &av_cli_eval, &av_cli_classify,
    &av_cli_db, &av_cli_mlmd, &av_cli_user, &av_cli_doctor, &av_cli_train, &av_cli_model,
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
            "With no flags, `aviary serve` runs the whole app on :8080 with SQLite under ./data.\n"
            "Models: --models DIR, else ./models if it holds pipeline.json, else\n"
            "%s. `aviary doctor` checks an installation; `man aviary`.\n",
            av_config_installed_models);
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
            if (strchr(info->name, '.')) /* a pattern (camera.NAME.KEY): no variable */
                snprintf(env, sizeof env, "-");
            printf("  %-26s %-24s %s\n", flag, env, info->help);
        }
        printf("  %-26s %-24s %s\n", "--config FILE", "AVIARY_CONFIG", "settings file (key = value)");
    }
}

static bool takes_key(const av_cli_cmd *c, const char *key)
{
    for (const char *const *k = c->keys; k && *k; k++)
        if (!strcmp(*k, key))
            return true;
    return false;
}

/* Settle the models folder (flag, ./models, installed) and say which. A
 * model server with versions or a model list does not use it. */
static void find_models(const av_cli_cmd *c, av_config *cfg)
{
    if (!takes_key(c, "models") || cfg->model_base_path[0] || cfg->model_config_file[0])
        return;
    av_config_models_from from = av_config_find_models(cfg, NULL);
    /* the command-line tools stay quiet unless asked */
    av_log_level lv = !strcmp(c->name, "detect") || !strcmp(c->name, "classify")
                          ? AV_LOG_DEBUG : AV_LOG_INFO;
    if (from == AV_CONFIG_MODELS_NONE) {
        char hint[600];
        av_config_models_hint(cfg, hint, sizeof hint);
        av_log(AV_LOG_WARN, "models_dir", "dir", cfg->models_dir, "from", "none", "next", hint,
               NULL);
    } else {
        av_log(lv, "models_dir", "dir", cfg->models_dir, "from", av_config_models_from_name(from),
               NULL);
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

int av_cli_data_dir(const av_cli_cmd *cmd, const av_config *cfg)
{
    if (cfg->db_url[0] || mkdir(cfg->data_dir, 0750) == 0 || errno == EEXIST)
        return 0;
    fprintf(stderr, "aviary %s: cannot create %s: %s\n", cmd->name, cfg->data_dir,
            strerror(errno));
    return -1;
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
    if (c->installed_config && access(av_config_installed_conf, R_OK) == 0)
        snprintf(cfg.config_file, sizeof cfg.config_file, "%s", av_config_installed_conf);
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
    find_models(c, &cfg);
    int rc = c->run(&cfg, nrest, rest);
    free(rest);
    return rc;
}
