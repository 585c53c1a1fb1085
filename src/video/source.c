/*
 * source.c - the edges of src/video: magic bytes, status strings, the byte
 * source the demuxer reads (memory or a file, through FFmpeg's AVIO
 * callbacks) and FFmpeg's log captured per thread (the entry points that
 * open a source are in run.c).
 */
#include "video/video.h"
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avio.h>
#include <libavutil/error.h>
#include <libavutil/log.h>

#include "video/internal.h"

const char *av_video_strerror(av_video_status st)
{
    switch (st) {
#define X(name, num, msg) \
    case AV_VIDEO_##name:  \
        return msg;
        AV_VIDEO_STATUS_MAP(X)
#undef X
    }
    return "unknown status";
}

/* ---- magic bytes ---- */

av_video_container av_video_sniff(const void *bytes, size_t n)
{
    const unsigned char *b = bytes;
    if (!b || n < 12)
        return AV_VIDEO_NONE;
    if (!memcmp(b + 4, "ftyp", 4)) {
        uint32_t size = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (size < 8 && size != 1) /* 1: a 64-bit size follows */
            return AV_VIDEO_NONE;
        return !memcmp(b + 8, "qt  ", 4) ? AV_VIDEO_MOV : AV_VIDEO_MP4;
    }
    if (!memcmp(b + 4, "moov", 4) || !memcmp(b + 4, "mdat", 4) || !memcmp(b + 4, "wide", 4))
        return AV_VIDEO_MOV; /* QuickTime files from before ftyp */
    if (b[0] == 0x1A && b[1] == 0x45 && b[2] == 0xDF && b[3] == 0xA3) {
        size_t m = n < 64 ? n : 64;
        for (size_t i = 4; i + 4 <= m; i++)
            if (!memcmp(b + i, "webm", 4))
                return AV_VIDEO_WEBM;
        return AV_VIDEO_MKV;
    }
    if (!memcmp(b, "RIFF", 4) && !memcmp(b + 8, "AVI ", 4))
        return AV_VIDEO_AVI;
    return AV_VIDEO_NONE;
}

const char *av_video_container_name(av_video_container c)
{
    switch (c) {
    case AV_VIDEO_MP4: return "mp4";
    case AV_VIDEO_MOV: return "mov";
    case AV_VIDEO_WEBM: return "webm";
    case AV_VIDEO_MKV: return "mkv";
    case AV_VIDEO_AVI: return "avi";
    case AV_VIDEO_NONE: break;
    }
    return "none";
}

/* ---- the byte source ---- */

static size_t src_pread(av_video__src *s, uint8_t *buf, size_t n, int64_t at)
{
    if (at < 0 || at >= s->size)
        return 0;
    if ((int64_t)n > s->size - at)
        n = (size_t)(s->size - at);
    if (s->mem) {
        memcpy(buf, s->mem + at, n);
        return n;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(s->fd, buf + got, n - got, (off_t)(at + (int64_t)got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

int av_video__src_read(void *opaque, uint8_t *buf, int n)
{
    av_video__src *s = opaque;
    if (n <= 0)
        return 0;
    size_t got = src_pread(s, buf, (size_t)n, s->pos);
    if (got == 0)
        return AVERROR_EOF;
    s->pos += (int64_t)got;
    return (int)got;
}

int64_t av_video__src_seek(void *opaque, int64_t off, int whence)
{
    av_video__src *s = opaque;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE)
        return s->size;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? s->pos
                                          : whence == SEEK_END ? s->size : -1;
    if (base < 0 || (off > 0 && off > INT64_MAX - base))
        return AVERROR(EINVAL);
    int64_t to = base + off;
    if (to < 0 || to > s->size)
        return AVERROR(EINVAL);
    s->pos = to;
    return to;
}

size_t av_video__src_head(av_video__src *s, void *buf, size_t n)
{
    return src_pread(s, buf, n, 0);
}

/* ---- FFmpeg's log ---- */

static pthread_once_t g_log_once = PTHREAD_ONCE_INIT;
static _Thread_local char t_last[256];

static void log_cb(void *avcl, int level, const char *fmt, va_list vl)
{
    (void)avcl;
    if (level > AV_LOG_ERROR)
        return;
    char line[sizeof t_last];
    vsnprintf(line, sizeof line, fmt, vl);
    size_t l = strlen(line);
    while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' '))
        line[--l] = '\0';
    if (l)
        memcpy(t_last, line, l + 1);
}

static void log_setup(void)
{
    av_log_set_callback(log_cb);
}

void av_video__log_init(void)
{
    pthread_once(&g_log_once, log_setup);
}

void av_video__log_clear(void)
{
    t_last[0] = '\0';
}

const char *av_video__log_last(void)
{
    return t_last;
}

void av_video_log_capture(void)
{
    av_video__log_init();
}

void av_video_log_clear(void)
{
    av_video__log_clear();
}

const char *av_video_log_last(void)
{
    return av_video__log_last();
}
