/*
 * source.c - the three source loops: a stream (stream.c), a snapshot URL
 * polled at an interval, a folder watched with inotify. Each returns to
 * node.c's thread on stop or failure; that thread reconnects with backoff.
 */
#include "camera/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log.h"
#include "video/video.h"
#include "vision/vision.h"

static int feed_cb(void *ud, int w, int h, const unsigned char *rgb)
{
    return av_camera__feed(ud, w, h, rgb, AV_CAMERA__CAPPED);
}

int av_camera__run_stream(av_camera__cam *k, char *err, size_t errlen)
{
    const av_camera_conf *c = av_camera__conf(k);
    int opened = 0;
    int rc = av_camera__stream_run(c->url, c->io_timeout_s, c->fps, av_camera__max_pixels(k),
                                   av_camera__stop_flag(k), feed_cb, k, &opened, err, errlen);
    if (rc == 0 && atomic_load(av_camera__stop_flag(k)))
        return 0;
    return opened ? 1 : -1;
}

/* Decode image bytes and feed them as one frame: 0, 1 when the source
 * should stop (stopping, lease lost), or -1 with a message. */
static int feed_image(av_camera__cam *k, const void *bytes, size_t len, int force, char *err,
                      size_t errlen)
{
    av_vision_decode_opts o = {.limits = {.max_bytes = av_camera__max_bytes(k),
                                          .max_pixels = av_camera__max_pixels(k)}};
    av_image *img = NULL;
    if (av_vision_decode(bytes, len, &o, &img, NULL, err, errlen) != AV_VISION_OK)
        return -1;
    int stop = av_camera__feed(k, img->width, img->height, img->data,
                               force ? AV_CAMERA__FORCE : 0);
    av_img_free(img);
    return stop ? 1 : 0;
}

int av_camera__run_snapshot(av_camera__cam *k, char *err, size_t errlen)
{
    const av_camera_conf *c = av_camera__conf(k);
    int got_any = 0;
    int64_t period = (int64_t)(c->interval_s * 1000);
    if (c->fps > 0 && 1000.0 / c->fps > (double)period)
        period = (int64_t)(1000.0 / c->fps); /* the fps cap bounds polling too */
    while (!atomic_load(av_camera__stop_flag(k))) {
        int64_t t0 = av_base_mono_ms();
        void *body = NULL;
        size_t len = 0;
        int rc = av_camera__http_get(c->url, c->io_timeout_s, av_camera__max_bytes(k), &body,
                                     &len, err, errlen);
        if (rc == 0)
            rc = feed_image(k, body, len, 0, err, errlen);
        free(body);
        if (rc > 0)
            return 0; /* stopping, or another node took the camera */
        if (rc < 0)
            return got_any ? 1 : -1;
        got_any = 1;
        int64_t left = period - (av_base_mono_ms() - t0);
        if (left > 0 && av_camera__sleep(k, left))
            break;
    }
    return 0;
}

/* ---- watched folder ---- */

static int is_clip(const unsigned char *head, size_t n)
{
    return av_video_sniff(head, n) != AV_VIDEO_NONE;
}

/* dir/name into out (PATH_MAX); -1 when too long. */
static int join(char *out, const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    if (a + b + 2 > PATH_MAX)
        return -1;
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
    return 0;
}

/* Analyse one file of the folder, then move it to done (or keep it). */
static void folder_file(av_camera__cam *k, const char *dir, const char *name)
{
    const av_camera_conf *c = av_camera__conf(k);
    char path[PATH_MAX];
    if (name[0] == '.' || join(path, dir, name))
        return; /* hidden and partial files (".name.tmp" written then renamed) */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        return;
    }
    unsigned char head[64];
    ssize_t hn = read(fd, head, sizeof head);
    char err[512] = "";
    int rc = -1;
    if (hn > 0 && is_clip(head, (size_t)hn)) {
        close(fd);
        fd = -1;
        rc = av_camera__clip(k, path, err, sizeof err);
    } else if (hn > 0 && av_vision_sniff(head, (size_t)hn) != AV_VISION_FMT_UNKNOWN) {
        long long max = av_camera__max_bytes(k);
        if (sb.st_size > max) {
            snprintf(err, sizeof err, "photo of %lld bytes is over the %lld-byte limit",
                     (long long)sb.st_size, max);
        } else {
            size_t len = (size_t)sb.st_size, got = 0;
            unsigned char *buf = malloc(len ? len : 1);
            if (buf && lseek(fd, 0, SEEK_SET) == 0) {
                while (got < len) {
                    ssize_t r = read(fd, buf + got, len - got);
                    if (r <= 0)
                        break;
                    got += (size_t)r;
                }
                rc = got == len && feed_image(k, buf, len, 1, err, sizeof err) >= 0 ? 0 : -1;
                if (got != len)
                    snprintf(err, sizeof err, "cannot read the photo");
            }
            free(buf);
        }
    } else {
        return (void)close(fd); /* not a photo or a clip: left alone */
    }
    if (fd >= 0)
        close(fd);
    if (rc)
        av_log(AV_LOG_WARN, "camera_file_failed", "camera", c->name, "file", name, "error", err,
               NULL);
    if (c->done_dir[0]) {
        char to[PATH_MAX];
        if (join(to, c->done_dir, name) || rename(path, to))
            av_log(AV_LOG_WARN, "camera_file_not_moved", "camera", c->name, "file", name,
                   "error", strerror(errno), NULL);
    }
}

int av_camera__run_folder(av_camera__cam *k, char *err, size_t errlen)
{
    const av_camera_conf *c = av_camera__conf(k);
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "inotify: %s", strerror(errno));
        return -1;
    }
    /* close_write: a file written in place; moved_to: one renamed in whole */
    if (inotify_add_watch(fd, c->url, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR) < 0) {
        snprintf(err, errlen, "cannot watch %s: %s", c->url, strerror(errno));
        close(fd);
        return -1;
    }
    av_camera__set_state(k, "live", "");
    /* Files already there are new to us only when analysed ones move away. */
    if (c->done_dir[0]) {
        DIR *d = opendir(c->url);
        struct dirent *e;
        while (d && (e = readdir(d)) && !atomic_load(av_camera__stop_flag(k)))
            folder_file(k, c->url, e->d_name);
        if (d)
            closedir(d);
    }
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int rc = 0;
    while (!atomic_load(av_camera__stop_flag(k))) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 500);
        if (r < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            rc = 1;
            break;
        }
        if (r == 0 && av_camera__tick(k))
            break; /* stopping, or another node took the folder */
        if (r <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            continue;
        for (char *q = buf; q < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)q;
            if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                snprintf(err, errlen, "the folder %s went away", c->url);
                rc = 1;
            } else if (ev->len && !(ev->mask & IN_ISDIR)) {
                folder_file(k, c->url, ev->name);
            }
            q += sizeof *ev + ev->len;
        }
        if (rc)
            break;
    }
    close(fd);
    return rc;
}
