/*
 * modelcfg.c - the model config file (--model-config-file): the part of TF
 * Serving's ModelServerConfig text format that lists models by name and
 * base path (grammar in serving.h). A small hand tokenizer: the file is
 * capped at 64 KiB, strings at 511 bytes, models at the caller's max; every
 * error names its line.
 */
#include "serving/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFG_MAX_BYTES (64 * 1024)

enum { T_END, T_IDENT, T_STRING, T_LBRACE, T_RBRACE, T_COLON, T_BAD };

typedef struct lexer {
    const char *p, *end;
    int line;
    int kind;
    char text[512]; /* identifier or decoded string */
    char *err;
    size_t errlen;
    const char *path;
} lexer;

static int failf(lexer *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(lexer *L, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(L->err, L->errlen, "%s:%d: %s", L->path, L->line, msg);
    return -1;
}

/* Next token into L->kind / L->text; ',' and ';' separate fields and are skipped. */
static int next(lexer *L)
{
    for (;;) {
        while (L->p < L->end && (isspace((unsigned char)*L->p) || *L->p == ',' || *L->p == ';')) {
            if (*L->p == '\n')
                L->line++;
            L->p++;
        }
        if (L->p < L->end && *L->p == '#') {
            while (L->p < L->end && *L->p != '\n')
                L->p++;
            continue;
        }
        break;
    }
    L->text[0] = '\0';
    if (L->p >= L->end)
        return L->kind = T_END;
    char c = *L->p;
    if (c == '{' || c == '}' || c == ':') {
        L->p++;
        return L->kind = c == '{' ? T_LBRACE : c == '}' ? T_RBRACE : T_COLON;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        size_t n = 0;
        while (L->p < L->end && (isalnum((unsigned char)*L->p) || *L->p == '_')) {
            if (n + 1 >= sizeof L->text)
                return failf(L, "name too long"), L->kind = T_BAD;
            L->text[n++] = *L->p++;
        }
        L->text[n] = '\0';
        return L->kind = T_IDENT;
    }
    if (c == '"' || c == '\'') {
        size_t n = 0;
        L->p++;
        while (L->p < L->end && *L->p != c) {
            char ch = *L->p++;
            if (ch == '\n')
                return failf(L, "unterminated string"), L->kind = T_BAD;
            if (ch == '\\') {
                if (L->p >= L->end)
                    break;
                ch = *L->p++;
                ch = ch == 'n' ? '\n' : ch == 't' ? '\t' : ch;
            }
            if (n + 1 >= sizeof L->text)
                return failf(L, "string longer than %zu bytes", sizeof L->text - 1),
                       L->kind = T_BAD;
            L->text[n++] = ch;
        }
        if (L->p >= L->end)
            return failf(L, "unterminated string"), L->kind = T_BAD;
        L->p++;
        L->text[n] = '\0';
        return L->kind = T_STRING;
    }
    failf(L, "unexpected character '%c'", c);
    return L->kind = T_BAD;
}

/* After a message field name: optional ':' then '{'. */
static int open_message(lexer *L, const char *field)
{
    if (next(L) == T_COLON)
        next(L);
    if (L->kind != T_LBRACE)
        return L->kind == T_BAD ? -1 : failf(L, "expected '{' after %s", field);
    return 0;
}

static int parse_config(lexer *L, av_serving_model_config *c)
{
    int have_name = 0, have_path = 0, start = L->line;
    memset(c, 0, sizeof *c);
    for (;;) {
        next(L);
        if (L->kind == T_RBRACE)
            break;
        if (L->kind == T_BAD)
            return -1;
        if (L->kind != T_IDENT)
            return failf(L, "expected a field of config or '}'");
        char field[64];
        snprintf(field, sizeof field, "%.63s", L->text);
        int is_name = !strcmp(field, "name"), is_path = !strcmp(field, "base_path"),
            is_platform = !strcmp(field, "model_platform");
        if (!is_name && !is_path && !is_platform)
            return failf(L, "unsupported field '%s' (supported: name, base_path, "
                            "model_platform)",
                         field);
        if (next(L) != T_COLON)
            return L->kind == T_BAD ? -1 : failf(L, "expected ':' after %s", field);
        if (next(L) != T_STRING)
            return L->kind == T_BAD ? -1 : failf(L, "%s needs a quoted string", field);
        if (is_name) {
            size_t n = strlen(L->text);
            if (n == 0 || n >= sizeof c->name || strpbrk(L->text, "/:?#% \t\n"))
                return failf(L, "model name '%s' is empty, too long or has one of / : ? # %% "
                                "or a space",
                             L->text);
            memcpy(c->name, L->text, n + 1);
            have_name = 1;
        } else if (is_path) {
            size_t n = strlen(L->text);
            if (n == 0 || n >= 500)
                return failf(L, "base_path is empty or longer than 499 bytes");
            memcpy(c->base_path, L->text, n + 1);
            have_path = 1;
        }
    }
    if (!have_name || !have_path) {
        L->line = start;
        return failf(L, "config needs both name and base_path");
    }
    return 0;
}

int av_serving_model_config_parse(const char *path, av_serving_model_config *out, int max,
                                  int *n, char *err, size_t errlen)
{
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(CFG_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    size_t len = fread(buf, 1, CFG_MAX_BYTES + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr || len > CFG_MAX_BYTES) {
        free(buf);
        snprintf(err, errlen, "%s: %s", path,
                 rerr ? "read error" : "larger than 64 KiB (not a model config file?)");
        return -1;
    }
    lexer L = {.p = buf, .end = buf + len, .line = 1, .err = err, .errlen = errlen, .path = path};
    int rc = 0;
    if (next(&L) != T_IDENT || strcmp(L.text, "model_config_list"))
        rc = L.kind == T_BAD ? -1 : failf(&L, "expected model_config_list { config { ... } }");
    if (!rc)
        rc = open_message(&L, "model_config_list");
    while (!rc) {
        next(&L);
        if (L.kind == T_RBRACE)
            break;
        if (L.kind == T_BAD) {
            rc = -1;
            break;
        }
        if (L.kind != T_IDENT || strcmp(L.text, "config")) {
            rc = failf(&L, "expected config { ... } or '}' in model_config_list");
            break;
        }
        if (*n >= max) {
            rc = failf(&L, "more than %d models", max);
            break;
        }
        rc = open_message(&L, "config");
        if (!rc)
            rc = parse_config(&L, &out[*n]);
        for (int i = 0; !rc && i < *n; i++)
            if (!strcmp(out[i].name, out[*n].name))
                rc = failf(&L, "model '%s' is listed twice", out[*n].name);
        if (!rc)
            (*n)++;
    }
    if (!rc && next(&L) != T_END)
        rc = L.kind == T_BAD ? -1 : failf(&L, "unexpected text after model_config_list");
    if (!rc && *n == 0)
        rc = failf(&L, "no models in model_config_list");
    free(buf);
    if (rc)
        *n = 0;
    return rc;
}
