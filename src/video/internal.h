/*
 * internal.h - what the files of src/video share (av_video__ names); not
 * part of the public face (video.h).
 */
#ifndef AV_VIDEO_INTERNAL_H
#define AV_VIDEO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "video/video.h"

/* Intersection over union of two [x1, y1, x2, y2] boxes; 0 when disjoint. */
double av_video__iou(const float *a, const float *b);

/* Where the demuxer reads from: borrowed memory, or a file descriptor
 * (owned by whoever opened it). size is fixed when the source is made. */
typedef struct av_video__src {
    const uint8_t *mem; /* NULL for a file */
    int fd;             /* -1 for memory */
    int64_t size, pos;
} av_video__src;

/* FFmpeg AVIO callbacks over a source (opaque is an av_video__src *). */
int av_video__src_read(void *opaque, uint8_t *buf, int n);
int64_t av_video__src_seek(void *opaque, int64_t off, int whence);
/* Read up to n bytes at offset 0 without moving pos; returns bytes read. */
size_t av_video__src_head(av_video__src *s, void *buf, size_t n);

/* Route FFmpeg's log into a per-thread buffer (once per process), and the
 * last line logged by this thread since av_video__log_clear ("" if none). */
void av_video__log_init(void);
void av_video__log_clear(void);
const char *av_video__log_last(void);

/* The analysis proper on an opened source (decode.c). */
av_video_status av_video__run_src(av_detect_pipeline *p, av_video__src *src,
                                  const av_video_opts *opts, av_video_result *r, char *err,
                                  size_t errlen);

/* Header checks only (av_video_probe*); decode.c. */
av_video_status av_video__probe_src(av_video__src *src, const av_video_limits *limits,
                                    av_video_result *info, char *err, size_t errlen);

#endif
