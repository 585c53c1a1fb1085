/*
 * stream.c - a live stream (RTSP, RTMP, HTTP(S)) or a clip file read with
 * FFmpeg. Nothing may block a camera thread for long: FFmpeg's interrupt
 * callback ends any open or read that passes its deadline (io_timeout
 * from the start of that call) or sees the stop flag.
 */
#include "camera/internal.h"

#include "video/video.h"

#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#define MAX_SIDE 8192
#define MAX_BAD_PACKETS 256

typedef struct io {
    atomic_int *stop;
    int64_t deadline; /* monotonic ms */
} io;

static int interrupt_cb(void *opaque)
{
    io *x = opaque;
    return atomic_load(x->stop) || av_base_mono_ms() > x->deadline;
}

/* "what: FFmpeg's error (its last log line)" */
static void averr(char *err, size_t errlen, const char *what, int rc)
{
    char e[128];
    av_strerror(rc, e, sizeof e);
    const char *last = av_video_log_last();
    snprintf(err, errlen, "%s: %s%s%.200s%s", what, e, *last ? " (" : "", last, *last ? ")" : "");
}

int av_camera__stream_run(const char *url, double io_timeout_s, double max_fps,
                          long long max_pixels, atomic_int *stop, av_camera__frame_fn fn,
                          void *ud, int *opened, char *err, size_t errlen)
{
    *opened = 0;
    av_video_log_capture(); /* FFmpeg's messages go into errors, not onto stderr */
    av_video_log_clear();
    int64_t tmo = (int64_t)(io_timeout_s > 0 ? io_timeout_s * 1000 : 10000);
    io x = {.stop = stop, .deadline = av_base_mono_ms() + tmo};
    AVFormatContext *fmt = avformat_alloc_context();
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    struct SwsContext *sws = NULL;
    uint8_t *rgb = NULL;
    int rgb_w = 0, rgb_h = 0, rc = -1, bad = 0;
    AVDictionary *o = NULL;
    if (!fmt || !pkt || !frame) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    fmt->interrupt_callback = (AVIOInterruptCB){interrupt_cb, &x};
    char us[32];
    snprintf(us, sizeof us, "%lld", (long long)tmo * 1000);
    av_dict_set(&o, "rw_timeout", us, 0);         /* any protocol's reads, microseconds */
    if (!strncmp(url, "rtsp://", 7) || !strncmp(url, "rtsps://", 8)) {
        av_dict_set(&o, "rtsp_transport", "tcp", 0); /* no lost UDP packets, NAT-proof */
        av_dict_set(&o, "timeout", us, 0);            /* socket timeout (FFmpeg >= 5) */
    }
    if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8))
        av_dict_set(&o, "reconnect", "0", 0); /* we reconnect, with our own backoff */
    int r = avformat_open_input(&fmt, url, NULL, &o); /* frees fmt on failure */
    av_dict_free(&o);
    if (r < 0) {
        averr(err, errlen, "cannot open the stream", r);
        goto out;
    }
    x.deadline = av_base_mono_ms() + tmo;
    if ((r = avformat_find_stream_info(fmt, NULL)) < 0) {
        averr(err, errlen, "cannot read the stream's format", r);
        goto out;
    }
    int vs = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (vs < 0) {
        snprintf(err, errlen, "no video in the stream");
        goto out;
    }
    const AVCodecParameters *par = fmt->streams[vs]->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec || !(dec = avcodec_alloc_context3(codec)) ||
        avcodec_parameters_to_context(dec, par) < 0) {
        snprintf(err, errlen, "no decoder for the stream's codec");
        goto out;
    }
    dec->thread_count = 1; /* one camera, one core at most: the node budgets the rest */
    if ((r = avcodec_open2(dec, codec, NULL)) < 0) {
        averr(err, errlen, "cannot open the decoder", r);
        goto out;
    }
    int64_t due = 0; /* the fps cap's schedule (av_camera__fps_take) */
    for (;;) {
        if (atomic_load(stop)) {
            rc = 0;
            break;
        }
        x.deadline = av_base_mono_ms() + tmo;
        r = av_read_frame(fmt, pkt);
        if (r == AVERROR_EOF) {
            snprintf(err, errlen, "the stream ended");
            rc = 0;
            break;
        }
        if (r < 0) {
            averr(err, errlen, atomic_load(stop) ? "stopped" : "stream read failed (timeout?)",
                  r);
            rc = atomic_load(stop) ? 0 : -1;
            break;
        }
        if (pkt->stream_index != vs) {
            av_packet_unref(pkt);
            continue;
        }
        r = avcodec_send_packet(dec, pkt);
        av_packet_unref(pkt);
        if (r < 0 && r != AVERROR(EAGAIN)) {
            if (++bad > MAX_BAD_PACKETS) {
                averr(err, errlen, "the decoder rejects the stream", r);
                break;
            }
            continue;
        }
        int stopping = 0;
        while (!stopping && avcodec_receive_frame(dec, frame) == 0) {
            bad = 0;
            int w = frame->width, h = frame->height;
            if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE ||
                (max_pixels > 0 && (long long)w * h > max_pixels)) {
                snprintf(err, errlen, "frame %dx%d exceeds the limits", w, h);
                av_frame_unref(frame);
                goto out;
            }
            *opened = 1;
            if (max_fps > 0 && !av_camera__fps_take(&due, max_fps)) {
                av_frame_unref(frame); /* the fps cap, before any conversion */
                continue;
            }
            if (w != rgb_w || h != rgb_h) {
                av_free(rgb);
                rgb = av_malloc((size_t)w * (size_t)h * 3);
                rgb_w = w, rgb_h = h;
                if (!rgb) {
                    snprintf(err, errlen, "out of memory");
                    av_frame_unref(frame);
                    goto out;
                }
            }
            sws = sws_getCachedContext(sws, w, h, (enum AVPixelFormat)frame->format, w, h,
                                       AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
            uint8_t *dst[4] = {rgb};
            int dls[4] = {w * 3};
            if (!sws ||
                sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, h, dst,
                          dls) != h) {
                snprintf(err, errlen, "cannot convert a %s frame",
                         av_get_pix_fmt_name((enum AVPixelFormat)frame->format)
                             ? av_get_pix_fmt_name((enum AVPixelFormat)frame->format)
                             : "?");
                av_frame_unref(frame);
                goto out;
            }
            av_frame_unref(frame);
            stopping = fn(ud, w, h, rgb) != 0;
        }
        if (stopping) {
            rc = 0;
            break;
        }
    }
out:
    av_free(rgb);
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return rc;
}
