/*
 * cmd_user.c - `aviary user add|passwd|list|del|token`: owner accounts in
 * the database (either driver). Passwords are read from the terminal with
 * echo off, asked twice, or with --password-stdin from the first line of
 * standard input (for scripts); they never appear in argv.
 */
#include "cli/cli.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const char *const user_keys[] = {"db", "data", "log-level", "log-format", NULL};

#define PW_CAP 1100 /* a little over the 1024 bytes accepted, to say "too long" */

static void wipe(char *p, size_t n)
{
    volatile char *v = p;
    while (n--)
        *v++ = 0;
}

/* One line from f into buf without its newline; -1 at EOF with nothing read. */
static int read_line(FILE *f, char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, f))
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* Ask on the terminal with echo off. */
static int ask_tty(const char *prompt, char *buf, size_t cap)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    FILE *tty = fdopen(fd, "r+");
    if (!tty) {
        close(fd);
        return -1;
    }
    struct termios old, quiet;
    int have = tcgetattr(fd, &old) == 0;
    if (have) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t)~ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    fputs(prompt, tty);
    fflush(tty);
    int rc = read_line(tty, buf, cap);
    if (have)
        tcsetattr(fd, TCSAFLUSH, &old);
    fputs("\n", tty);
    fclose(tty);
    return rc;
}

/* The new password: stdin's first line, or asked twice on the terminal. */
static int get_password(const char *name, int from_stdin, char *pw, size_t cap)
{
    if (from_stdin) {
        if (read_line(stdin, pw, cap)) {
            fprintf(stderr, "aviary user: --password-stdin: nothing on standard input\n");
            return -1;
        }
        return 0;
    }
    char prompt[128], again[PW_CAP];
    snprintf(prompt, sizeof prompt, "New password for %s: ", name);
    if (ask_tty(prompt, pw, cap)) {
        fprintf(stderr, "aviary user: no terminal to ask for the password on; pipe it in with"
                        " --password-stdin\n");
        return -1;
    }
    int rc = ask_tty("Again: ", again, sizeof again);
    if (rc || strcmp(pw, again)) {
        fprintf(stderr, "aviary user: the passwords differ; nothing changed\n");
        rc = -1;
    }
    wipe(again, sizeof again);
    return rc;
}

static int run_user(const av_config *cfg, int argc, char **argv)
{
    const av_cli_cmd *me = &av_cli_user;
    int from_stdin = 0, n = 0;
    const char *pos[3] = {NULL, NULL, NULL};
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--password-stdin"))
            from_stdin = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return av_cli_usage(me, "unknown option '%s'", argv[i]);
        else if (n < 3)
            pos[n++] = argv[i];
        else
            return av_cli_usage(me, "unexpected argument '%s'", argv[i]);
    }
    const char *what = pos[0] ? pos[0] : "";
    int needs_name = !strcmp(what, "add") || !strcmp(what, "passwd") || !strcmp(what, "del") ||
                     !strcmp(what, "token");
    if (!needs_name && strcmp(what, "list"))
        return av_cli_usage(me, "expected add, passwd, list, del or token");
    if (needs_name != (n == 2) || (!needs_name && n != 1))
        return av_cli_usage(me, needs_name ? "%s needs one user NAME" : "%s takes no NAME", what);
    const char *name = pos[1];

    char url[1100], err[512];
    av_config_db_url(cfg, url, sizeof url);
    if (av_cli_data_dir(me, cfg))
        return 1;
    av_store *s = NULL;
    if (av_store_open(url, &s, err, sizeof err) != AV_STORE_OK ||
        av_store_migrate(s, NULL, err, sizeof err) != AV_STORE_OK) {
        fprintf(stderr, "aviary user: %s\n", err);
        av_store_close(s);
        return 1;
    }
    int rc = 0;
    av_store_status st = AV_STORE_OK;
    if (!strcmp(what, "add") || !strcmp(what, "passwd")) {
        char pw[PW_CAP];
        if (!strcmp(what, "add") && !av_store_user_name_ok(name)) {
            st = av_store_user_add(s, name, "", err, sizeof err); /* for its message */
        } else if (get_password(name, from_stdin, pw, sizeof pw)) {
            rc = 1;
        } else {
            st = !strcmp(what, "add") ? av_store_user_add(s, name, pw, err, sizeof err)
                                      : av_store_user_passwd(s, name, pw, err, sizeof err);
            if (st == AV_STORE_OK)
                printf(!strcmp(what, "add") ? "owner '%s' added; sign in at /login\n"
                                            : "password of '%s' changed; its sessions ended\n",
                       name);
        }
        wipe(pw, sizeof pw);
    } else if (!strcmp(what, "del")) {
        st = av_store_user_delete(s, name, err, sizeof err);
        if (st == AV_STORE_OK)
            printf("user '%s' deleted, with its sessions and API token\n", name);
    } else if (!strcmp(what, "token")) {
        char token[AV_STORE_TOKEN_LEN + 1];
        st = av_store_user_api_token(s, name, token, err, sizeof err);
        if (st == AV_STORE_OK) {
            printf("%s\n", token);
            fprintf(stderr, "API token of '%s' (shown once; it replaces the previous one).\n"
                            "Use it as: Authorization: Bearer TOKEN\n",
                    name);
        }
        wipe(token, sizeof token);
    } else {
        av_store_user *u = NULL;
        int count = 0;
        st = av_store_user_list(s, &u, &count, err, sizeof err);
        for (int i = 0; st == AV_STORE_OK && i < count; i++)
            printf("%-24s %-6s created %s%s\n", u[i].name, u[i].role, u[i].created_at,
                   u[i].has_api_token ? "  (API token)" : "");
        if (st == AV_STORE_OK && count == 0)
            printf("no users yet: add an owner with `aviary user add NAME`\n");
        free(u);
    }
    if (st != AV_STORE_OK) {
        fprintf(stderr, "aviary user %s: %s\n", what, err);
        rc = 1;
    }
    av_store_close(s);
    return rc;
}

const av_cli_cmd av_cli_user = {
    .name = "user",
    .summary = "owner accounts: add, change password, list, delete, API token",
    .usage = "add|passwd NAME [--password-stdin] | list | del NAME | token NAME [--db URL]",
    .keys = user_keys,
    .extra_help = "  add NAME          a new owner; the password is asked twice on the terminal\n"
                  "  passwd NAME       a new password (every session of the account ends)\n"
                  "  list              accounts, role, creation time, whether an API token is set\n"
                  "  del NAME          remove the account, its sessions and API token\n"
                  "  token NAME        a new API token for the JSON API (printed once)\n"
                  "  --password-stdin  read the password from the first line of standard input\n",
    .run = run_user,
};

/* The command that adds the first owner, as the operator would type it for
 * this server's database (a MySQL URL without its password: the command
 * reads AVIARY_DB_PASSWORD like serve). */
void av_cli_owner_command(const av_config *cfg, char *out, size_t cap)
{
    char shown[1100];
    if (!cfg->db_url[0]) {
        snprintf(out, cap, "aviary user add NAME --data %s", cfg->data_dir);
        return;
    }
    av_store_redact_url(cfg->db_url, shown, sizeof shown);
    char *stars = strstr(shown, ":***@");
    if (stars)
        memmove(stars, stars + 4, strlen(stars + 4) + 1);
    snprintf(out, cap, "aviary user add NAME --db '%s'", shown);
}
