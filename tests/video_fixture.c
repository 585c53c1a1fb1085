/*
 * video_fixture.c - clips for the video tests (video_fixture.h).
 */
#include "video_fixture.h"

#include "detect_fixture.h"
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const char *av_test_tmp_path(const char *name)
{
    static char paths[8][800];
    static unsigned next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", av_test_tmpdir(), name);
    return p;
}

void av_test_ffmpeg(const char *fmt, ...)
{
    CHECK_MSG(system("command -v ffmpeg >/dev/null 2>&1") == 0,
              "ffmpeg not found: scripts/setup installs it (Debian package ffmpeg)");
    char args[3000], cmd[4000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    const char *log = av_test_tmp_path("ffmpeg.log");
    snprintf(cmd, sizeof cmd, "ffmpeg -hide_banner -nostdin -loglevel error -y %s >'%s' 2>&1",
             args, log);
    if (system(cmd) != 0) {
        size_t n = 0;
        char *out = av_test_read_file(log, &n);
        FAIL("ffmpeg failed: %s\n%.800s", cmd, out);
    }
}

const char *av_test_make_bird(const char *name, double secs, const char *codec)
{
    const char *out = av_test_tmp_path(name);
    av_test_ffmpeg("-loop 1 -framerate 25 -t %.2f -i '%s' -vf \"crop=448:300:'min(t*16,64)':"
                   "'min(t*10,42)',format=yuv420p\" %s '%s'",
                   secs, av_test_shared("testdata/images/bird.bmp"), codec, out);
    return out;
}
