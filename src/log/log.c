/*
 * log.c - logfmt / JSON lines to stderr, one write(2) per line.
 */
#include "log/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

static av_log_level g_level = AV_LOG_INFO;
static av_log_format g_format = AV_LOG_LOGFMT;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void av_log_setup(av_log_level min_level, av_log_format format)
{
    g_level = min_level;
    g_format = format;
}

int av_log_parse_level(const char *s, av_log_level *out)
{
    for (int i = 0; i <= AV_LOG_OFF; i++)
        if (s && strcmp(s, level_names[i]) == 0) {
            *out = (av_log_level)i;
            return 0;
        }
    return -1;
}

int av_log_parse_format(const char *s, av_log_format *out)
{
    if (s && strcmp(s, "logfmt") == 0)
        *out = AV_LOG_LOGFMT;
    else if (s && strcmp(s, "json") == 0)
        *out = AV_LOG_JSON;
    else
        return -1;
    return 0;
}

const char *av_log_level_name(av_log_level l)
{
    return (unsigned)l <= AV_LOG_OFF ? level_names[l] : "?";
}

int av_log_enabled(av_log_level l)
{
    return l >= g_level && l < AV_LOG_OFF;
}

/* Bounded appender: silently truncates, always NUL-terminated. */
struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
};

static void put(struct line *ln, const char *s, size_t n)
{
    size_t room = sizeof ln->buf - 2 - ln->len; /* keep space for '\n' + NUL */
    if (n > room)
        n = room;
    memcpy(ln->buf + ln->len, s, n);
    ln->len += n;
    ln->buf[ln->len] = '\0';
}

static void puts_(struct line *ln, const char *s)
{
    put(ln, s, strlen(s));
}

static void put_json_str(struct line *ln, const char *s)
{
    put(ln, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(ln, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            puts_(ln, esc);
        } else {
            put(ln, (const char *)p, 1);
        }
    }
    put(ln, "\"", 1);
}

/* logfmt value: bare when safe, else quoted with escapes. */
static void put_logfmt_val(struct line *ln, const char *s)
{
    int bare = *s != '\0';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f)
            bare = 0;
    if (bare)
        puts_(ln, s);
    else
        put_json_str(ln, s);
}

static void put_field(struct line *ln, const char *k, const char *v, int first)
{
    if (!v)
        v = "";
    if (g_format == AV_LOG_JSON) {
        if (!first)
            put(ln, ",", 1);
        put_json_str(ln, k);
        put(ln, ":", 1);
        put_json_str(ln, v);
    } else {
        if (!first)
            put(ln, " ", 1);
        puts_(ln, k);
        put(ln, "=", 1);
        put_logfmt_val(ln, v);
    }
}

static void vlog(av_log_level level, const char *event, const char *msg, va_list ap)
{
    struct line ln = {.len = 0};
    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);

    if (g_format == AV_LOG_JSON)
        put(&ln, "{", 1);
    put_field(&ln, "ts", ts, 1);
    put_field(&ln, "level", av_log_level_name(level), 0);
    put_field(&ln, "event", event, 0);
    if (msg)
        put_field(&ln, "msg", msg, 0);
    else
        for (;;) {
            const char *k = va_arg(ap, const char *);
            if (!k)
                break;
            put_field(&ln, k, va_arg(ap, const char *), 0);
        }
    if (g_format == AV_LOG_JSON)
        put(&ln, "}", 1);
    ln.buf[ln.len++] = '\n';
    ssize_t w = write(STDERR_FILENO, ln.buf, ln.len);
    (void)w; /* nowhere left to report a failing stderr */
}

void av_log(av_log_level level, const char *event, ...)
{
    if (!av_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, event);
    vlog(level, event, NULL, ap);
    va_end(ap);
}

void av_logf(av_log_level level, const char *event, const char *fmt, ...)
{
    if (!av_log_enabled(level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    va_list none;
    va_start(none, fmt); /* unused by vlog when msg is given */
    vlog(level, event, msg, none);
    va_end(none);
}
