/*
 * log.h - one-line structured logging to stderr.
 *
 * Every line is either key=value ("logfmt") or one JSON object:
 *   ts=2026-11-28T17:44:24.123Z level=info event=listening port=8080
 *   {"ts":"2026-11-28T17:44:24.123Z","level":"info","event":"listening","port":"8080"}
 * Fields are given as alternating key/value strings; values are quoted or
 * escaped as the format needs, so user-supplied text cannot forge fields.
 * Thread-safe: each line is written with a single write(2).
 */
#ifndef AV_LOG_H
#define AV_LOG_H

typedef enum av_log_level {
    AV_LOG_DEBUG = 0,
    AV_LOG_INFO,
    AV_LOG_WARN,
    AV_LOG_ERROR,
    AV_LOG_OFF
} av_log_level;

typedef enum av_log_format {
    AV_LOG_LOGFMT = 0,
    AV_LOG_JSON
} av_log_format;

/* Process-wide settings; call before starting threads. */
void av_log_setup(av_log_level min_level, av_log_format format);
/* Parse "debug|info|warn|error|off" / "logfmt|json"; 0 on success, -1 if unknown. */
int av_log_parse_level(const char *s, av_log_level *out);
int av_log_parse_format(const char *s, av_log_format *out);
const char *av_log_level_name(av_log_level l);
int av_log_enabled(av_log_level l);

/*
 * Log `event` with key/value pairs: av_log(AV_LOG_INFO, "listening", "port", "8080", NULL).
 * The list ends with NULL. A NULL value prints as empty.
 */
void av_log(av_log_level level, const char *event, ...);

/* Like av_log with one printf-formatted "msg" field. */
void av_logf(av_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
