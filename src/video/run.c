/*
 * run.c - the entry points of src/video: open a source (memory or a file,
 * source.c) and hand it to decode.c to sample and detect (av_video_run*) or
 * to probe (av_video_probe*).
 */
#include "video/video.h"
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "video/internal.h"

av_video_status av_video_run(av_detect_pipeline *p, const void *bytes, size_t len,
                             const av_video_opts *opts, av_video_result *r, char *err,
                             size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!p || (!bytes && len))
        return AV_BASE_FAIL(AV_VIDEO_E_ARG, err, errlen, "video: no pipeline or bytes");
    if ((unsigned long long)len > (unsigned long long)INT64_MAX)
        return AV_BASE_FAIL(AV_VIDEO_E_LIMIT, err, errlen, "video: too large");
    av_video__src s = {.mem = bytes, .fd = -1, .size = (int64_t)len};
    return av_video__run_src(p, &s, opts, r, err, errlen);
}

av_video_status av_video_run_file(av_detect_pipeline *p, const char *path,
                                  const av_video_opts *opts, av_video_result *r, char *err,
                                  size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!p || !path)
        return AV_BASE_FAIL(AV_VIDEO_E_ARG, err, errlen, "video: no pipeline or path");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return AV_BASE_FAIL(AV_VIDEO_E_IO, err, errlen, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        return AV_BASE_FAIL(AV_VIDEO_E_IO, err, errlen, "not a regular file");
    }
    av_video__src s = {.fd = fd, .size = (int64_t)sb.st_size};
    av_video_status st = av_video__run_src(p, &s, opts, r, err, errlen);
    close(fd);
    return st;
}

av_video_status av_video_probe(const void *bytes, size_t len, const av_video_limits *limits,
                               av_video_result *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    if (!bytes && len)
        return AV_BASE_FAIL(AV_VIDEO_E_ARG, err, errlen, "video: no bytes");
    if ((unsigned long long)len > (unsigned long long)INT64_MAX)
        return AV_BASE_FAIL(AV_VIDEO_E_LIMIT, err, errlen, "video: too large");
    av_video__src s = {.mem = bytes, .fd = -1, .size = (int64_t)len};
    return av_video__probe_src(&s, limits, info, err, errlen);
}

av_video_status av_video_probe_file(const char *path, const av_video_limits *limits,
                                    av_video_result *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    if (!path)
        return AV_BASE_FAIL(AV_VIDEO_E_ARG, err, errlen, "video: no path");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return AV_BASE_FAIL(AV_VIDEO_E_IO, err, errlen, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        return AV_BASE_FAIL(AV_VIDEO_E_IO, err, errlen, "not a regular file");
    }
    av_video__src s = {.fd = fd, .size = (int64_t)sb.st_size};
    av_video_status st = av_video__probe_src(&s, limits, info, err, errlen);
    close(fd);
    return st;
}
