/*
 * decode.c - one analysis: open the container (FFmpeg demuxer chosen by the
 * magic bytes, reading through the AVIO source), check the limits on what
 * the headers say, decode the video stream, sample frames at the requested
 * rate, convert each to packed RGB (libswscale; display rotation applied),
 * run the pipeline, feed the tracker, report progress.
 *
 * Layout: the `run` struct holds every resource (NULL until acquired) and
 * run_free releases them in reverse order; open_input -> open_decoder ->
 * the read/decode loop (on_frame -> sample) -> finish.
 */
#include "video/video.h"
#include "base/base.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "video/internal.h"
#include "vision/vision.h"

#define AVIO_BUF (64 * 1024)
#define MAX_STREAMS 64
#define MAX_DECODE_FPS 240.0 /* decoded frames allowed per second of the duration limit */
#define MAX_BAD_PACKETS 64   /* consecutive packets the decoder rejects before giving up */
#define MAX_SIDE 65535

typedef struct run {
    av_detect_pipeline *p;
    av_video_opts o;
    av_video_result *r;
    char *err;
    size_t errlen;
    av_video__src *src;
    AVIOContext *pb;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    uint8_t *conv;            /* swscale output, conv_stride per row (av_malloc) */
    size_t conv_cap;
    av_image *img;            /* packed RGB of the current frame */
    av_video_tracker *trk;
    int *ids;                 /* track ids of one frame's detections */
    int ids_cap;
    int cap_frames, cap_dets; /* capacities of r->frames, r->dets */
    int vs;                   /* video stream index */
    AVRational tb;
    int64_t origin;           /* timestamp of t = 0 (AV_NOPTS_VALUE until known) */
    int orient;               /* EXIF orientation for the display rotation, 1 none */
    double next_t;            /* time of the next frame to sample */
    double t_last;            /* time of the last decoded frame */
    long long max_decoded;
    long long nb_frames;      /* frame count the container header gives, 0 unknown */
    int bad_packets;          /* consecutive packets rejected */
    char last_decode_err[160];
    double ms_detect;
} run;

/* FFmpeg's words for an error, with its last logged line when it has one. */
static void ff_why(int code, char *buf, size_t cap)
{
    char e[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(code, e, sizeof e);
    const char *last = av_video__log_last();
    if (last[0])
        snprintf(buf, cap, "%s (%.150s)", e, last);
    else
        snprintf(buf, cap, "%s", e);
}

static void run_free(run *u)
{
    free(u->ids);
    av_video_tracker_free(u->trk);
    av_img_free(u->img);
    av_free(u->conv);
    sws_freeContext(u->sws);
    av_frame_free(&u->frame);
    av_packet_free(&u->pkt);
    avcodec_free_context(&u->dec);
    avformat_close_input(&u->fmt);
    if (u->pb) {
        av_freep(&u->pb->buffer);
        avio_context_free(&u->pb);
    }
}

/* ---- opening ---- */

static const char *demuxer_for(av_video_container c)
{
    switch (c) {
    case AV_VIDEO_MP4:
    case AV_VIDEO_MOV: return "mov";
    case AV_VIDEO_WEBM:
    case AV_VIDEO_MKV: return "matroska";
    case AV_VIDEO_AVI: return "avi";
    case AV_VIDEO_NONE: break;
    }
    return NULL;
}

static int display_orient(const AVStream *st)
{
    const uint8_t *m = NULL;
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 29, 100)
    const AVPacketSideData *sd =
        av_packet_side_data_get(st->codecpar->coded_side_data, st->codecpar->nb_coded_side_data,
                                AV_PKT_DATA_DISPLAYMATRIX);
    if (sd && sd->size >= 9 * sizeof(int32_t))
        m = sd->data;
#else
    size_t size = 0;
    m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (size < 9 * sizeof(int32_t))
        m = NULL;
#endif
    if (!m)
        return 1;
    double a = av_display_rotation_get((const int32_t *)(const void *)m);
    if (isnan(a))
        return 1;
    int cw = ((int)lround(-a) % 360 + 360) % 360; /* clockwise turn that makes it upright */
    return cw == 90 ? 6 : cw == 180 ? 3 : cw == 270 ? 8 : 1;
}

static av_video_status open_input(run *u, av_video_container c)
{
    char why[256];
    uint8_t *buf = av_malloc(AVIO_BUF);
    if (!buf)
        return AV_BASE_FAIL(AV_VIDEO_E_NOMEM, u->err, u->errlen, "video: out of memory");
    u->pb = avio_alloc_context(buf, AVIO_BUF, 0, u->src, av_video__src_read, NULL,
                               av_video__src_seek);
    if (!u->pb) {
        av_free(buf);
        return AV_BASE_FAIL(AV_VIDEO_E_NOMEM, u->err, u->errlen, "video: out of memory");
    }
    u->fmt = avformat_alloc_context();
    if (!u->fmt)
        return AV_BASE_FAIL(AV_VIDEO_E_NOMEM, u->err, u->errlen, "video: out of memory");
    u->fmt->pb = u->pb;
    u->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    u->fmt->max_streams = MAX_STREAMS;
    const AVInputFormat *ifmt = av_find_input_format(demuxer_for(c));
    if (!ifmt)
        return AV_BASE_FAIL(AV_VIDEO_E_FORMAT, u->err, u->errlen, "this FFmpeg has no %s demuxer",
                            demuxer_for(c));
    const char *cname = av_video_container_name(c);
    int ret = avformat_open_input(&u->fmt, NULL, ifmt, NULL); /* frees fmt on failure */
    if (ret < 0) {
        ff_why(ret, why, sizeof why);
        return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen,
                            "cannot read the %s container (truncated or corrupt): %s", cname, why);
    }
    ret = avformat_find_stream_info(u->fmt, NULL);
    if (ret < 0) {
        ff_why(ret, why, sizeof why);
        return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen,
                            "cannot read the %s streams (truncated or corrupt): %s", cname, why);
    }
    const AVCodec *codec = NULL;
    int vs = av_find_best_stream(u->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (vs >= 0 && (u->fmt->streams[vs]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        vs = AVERROR_STREAM_NOT_FOUND; /* cover art is not a video */
    if (vs == AVERROR_DECODER_NOT_FOUND) {
        int i = av_find_best_stream(u->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        const char *n = i >= 0 ? avcodec_get_name(u->fmt->streams[i]->codecpar->codec_id) : "?";
        return AV_BASE_FAIL(AV_VIDEO_E_FORMAT, u->err, u->errlen,
                            "no decoder for the video codec '%s'", n);
    }
    if (vs < 0) {
        int audio = 0;
        for (unsigned i = 0; i < u->fmt->nb_streams; i++)
            audio += u->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
        if (audio)
            return AV_BASE_FAIL(AV_VIDEO_E_NOVIDEO, u->err, u->errlen,
                                "no video stream: the %s file holds only audio (%d stream%s)",
                                cname, audio, audio == 1 ? "" : "s");
        if (u->fmt->nb_streams == 0)
            return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen,
                                "no streams in the %s file (corrupt)", cname);
        return AV_BASE_FAIL(AV_VIDEO_E_NOVIDEO, u->err, u->errlen, "no video stream in the %s file",
                            cname);
    }
    u->vs = vs;
    AVStream *st = u->fmt->streams[vs];
    u->tb = st->time_base;
    const AVCodecParameters *par = st->codecpar;
    av_video_result *r = u->r;
    long long maxpx = u->o.limits.max_pixels;
    if (par->width <= 0 || par->height <= 0)
        return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen,
                            "the video stream has no frame size (corrupt header)");
    if (par->width > MAX_SIDE || par->height > MAX_SIDE ||
        (long long)par->width * par->height > maxpx)
        return AV_BASE_FAIL(AV_VIDEO_E_LIMIT, u->err, u->errlen,
                            "frames are %dx%d (%.1f Mpx), the limit is %.1f Mpx", par->width,
                            par->height, (double)par->width * par->height / 1e6,
                            (double)maxpx / 1e6);
    double dur = 0;
    if (u->fmt->duration != AV_NOPTS_VALUE && u->fmt->duration > 0)
        dur = (double)u->fmt->duration / AV_TIME_BASE;
    else if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        dur = (double)st->duration * av_q2d(st->time_base);
    if (dur > u->o.limits.max_seconds)
        return AV_BASE_FAIL(AV_VIDEO_E_LIMIT, u->err, u->errlen,
                            "the video is %.1f s long, the limit is %.0f s", dur,
                            u->o.limits.max_seconds);
    r->duration_s = dur;
    AVRational fr = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ? st->avg_frame_rate
                                                                              : st->r_frame_rate;
    r->source_fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0;
    if (!(r->source_fps > 0 && r->source_fps < 1e4))
        r->source_fps = 0;
    snprintf(r->demuxer, sizeof r->demuxer, "%s", u->fmt->iformat->name);
    snprintf(r->codec, sizeof r->codec, "%s", avcodec_get_name(par->codec_id));
    u->origin = st->start_time;
    u->nb_frames = st->nb_frames > 0 ? st->nb_frames : 0;
    u->orient = display_orient(st);
    r->rotation = u->orient == 6 ? 90 : u->orient == 3 ? 180 : u->orient == 8 ? 270 : 0;

    u->dec = avcodec_alloc_context3(codec);
    if (!u->dec)
        return AV_BASE_FAIL(AV_VIDEO_E_NOMEM, u->err, u->errlen, "video: out of memory");
    ret = avcodec_parameters_to_context(u->dec, par);
    if (ret < 0)
        return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen, "bad codec parameters");
    u->dec->thread_count = u->o.limits.decoder_threads;
    u->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    u->dec->max_pixels = maxpx;
    u->dec->pkt_timebase = st->time_base;
    ret = avcodec_open2(u->dec, codec, NULL);
    if (ret < 0) {
        ff_why(ret, why, sizeof why);
        return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen, "cannot open the %s decoder: %s",
                            codec->name, why);
    }
    u->pkt = av_packet_alloc();
    u->frame = av_frame_alloc();
    if (!u->pkt || !u->frame)
        return AV_BASE_FAIL(AV_VIDEO_E_NOMEM, u->err, u->errlen, "video: out of memory");
    return AV_VIDEO_OK;
}

/* ---- one sampled frame ---- */

/* The decoded frame as packed RGB in u->img (rotated upright); *out is
 * u->img or a rotated copy the caller frees when it differs. */
static av_video_status to_rgb(run *u, const AVFrame *f, av_image **out)
{
    int w = f->width, h = f->height;
    u->sws = sws_getCachedContext(u->sws, w, h, (enum AVPixelFormat)f->format, w, h,
                                  AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
    if (!u->sws) {
        const char *n = av_get_pix_fmt_name((enum AVPixelFormat)f->format);
        return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen,
                            "cannot convert pixel format '%s' to RGB", n ? n : "?");
    }
    size_t stride = ((size_t)w * 3 + 63) & ~(size_t)63;
    size_t need = stride * (size_t)h + 64;
    if (need > u->conv_cap) {
        av_freep(&u->conv);
        u->conv_cap = 0;
        u->conv = av_malloc(need);
        if (!u->conv)
            return AV_BASE_FAIL(AV_VIDEO_E_NOMEM, u->err, u->errlen,
                                "video: out of memory for a %dx%d frame", w, h);
        u->conv_cap = need;
    }
    uint8_t *dst[4] = {u->conv, NULL, NULL, NULL};
    int dls[4] = {(int)stride, 0, 0, 0};
    if (sws_scale(u->sws, (const uint8_t *const *)f->data, f->linesize, 0, h, dst, dls) != h)
        return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen,
                            "pixel conversion failed on a %dx%d frame", w, h);
    if (!u->img || u->img->width != w || u->img->height != h) {
        av_img_free(u->img);
        u->img = av_img_new(w, h);
        if (!u->img)
            return AV_BASE_FAIL(AV_VIDEO_E_NOMEM, u->err, u->errlen,
                                "video: out of memory for a %dx%d frame", w, h);
    }
    for (int y = 0; y < h; y++)
        memcpy(u->img->data + (size_t)y * w * 3, u->conv + (size_t)y * stride, (size_t)w * 3);
    *out = u->img;
    if (u->orient != 1) {
        av_image *rot = av_img_clone(u->img);
        if (!rot || av_vision_orient(&rot, u->orient) != AV_VISION_OK) {
            av_img_free(rot);
            return AV_BASE_FAIL(AV_VIDEO_E_NOMEM, u->err, u->errlen,
                                "video: out of memory rotating a frame");
        }
        *out = rot;
    }
    return AV_VIDEO_OK;
}

static int grow(void **a, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > INT32_MAX / 2)
            return -1;
        nc *= 2;
    }
    void *n = realloc(*a, (size_t)nc * elem);
    if (!n)
        return -1;
    *a = n;
    *cap = nc;
    return 0;
}

static av_video_status map_detect(av_detect_status ds)
{
    return ds == AV_DETECT_E_NOMEM ? AV_VIDEO_E_NOMEM
         : ds == AV_DETECT_E_LIMIT ? AV_VIDEO_E_LIMIT
                                   : AV_VIDEO_E_DETECT;
}

static av_video_status sample(run *u, const AVFrame *f, long long index, double t)
{
    av_video_result *r = u->r;
    av_image *img = NULL;
    av_video_status st = to_rgb(u, f, &img);
    if (st)
        return st;
    av_detect_result dr;
    char e[512] = "";
    double t0 = av_base_now_ms();
    av_detect_status ds = av_detect_run_rgb(u->p, img->width, img->height, img->data, &u->o.run,
                                            &dr, e, sizeof e);
    u->ms_detect += av_base_now_ms() - t0;
    int w = img->width, h = img->height;
    if (ds != AV_DETECT_OK) {
        if (img != u->img)
            av_img_free(img);
        return AV_BASE_FAIL(map_detect(ds), u->err, u->errlen, "frame %lld at %.2f s: %s", index, t,
                            e);
    }
    if (r->n_frames == 0) {
        r->width = w;
        r->height = h;
        r->species_available = dr.species_available;
        memcpy(r->species_note, dr.species_note, sizeof r->species_note);
        memcpy(r->detector, dr.detector, sizeof r->detector);
        memcpy(r->detector_version, dr.detector_version, sizeof r->detector_version);
        memcpy(r->classifier, dr.classifier, sizeof r->classifier);
        memcpy(r->classifier_version, dr.classifier_version, sizeof r->classifier_version);
    }
    if (grow((void **)&r->frames, &u->cap_frames, r->n_frames + 1, sizeof *r->frames) ||
        grow((void **)&r->dets, &u->cap_dets, r->n_dets + dr.n_dets, sizeof *r->dets) ||
        grow((void **)&u->ids, &u->ids_cap, dr.n_dets, sizeof *u->ids)) {
        if (img != u->img)
            av_img_free(img);
        av_detect_result_free(&dr);
        return AV_BASE_FAIL(AV_VIDEO_E_NOMEM, u->err, u->errlen,
                            "video: out of memory for results");
    }
    st = av_video_tracker_add(u->trk, r->n_frames, t, dr.dets, dr.n_dets, u->ids);
    int hook_stop = 0;
    if (!st && u->o.frame_hook) { /* pixels are still here; the visit ids just known */
        av_video_frame_view v = {.frame = r->n_frames, .t = t, .width = w, .height = h,
                                 .rgb = img->data, .dets = dr.dets, .track_ids = u->ids,
                                 .n_dets = dr.n_dets};
        hook_stop = u->o.frame_hook(u->o.frame_ud, &v);
    }
    if (img != u->img)
        av_img_free(img);
    if (st) {
        av_detect_result_free(&dr);
        return AV_BASE_FAIL(st, u->err, u->errlen, "tracker: %s", av_video_strerror(st));
    }
    if (hook_stop) {
        av_detect_result_free(&dr);
        return AV_BASE_FAIL(AV_VIDEO_E_CANCELLED, u->err, u->errlen, "cancelled at frame %d",
                            r->n_frames);
    }
    r->frames[r->n_frames] = (av_video_frame){.index = (int)index, .t = t,
                                              .first_det = r->n_dets, .n_dets = dr.n_dets};
    for (int i = 0; i < dr.n_dets; i++)
        r->dets[r->n_dets + i] = (av_video_det){.frame = r->n_frames, .track = u->ids[i],
                                                .det = dr.dets[i]};
    r->n_dets += dr.n_dets;
    r->n_frames++;
    av_detect_result_free(&dr);
    if (u->o.progress) {
        int exp = r->frames_expected >= r->n_frames ? r->frames_expected : r->n_frames + 1;
        if (u->o.progress(u->o.progress_ud, r->n_frames, exp))
            return AV_BASE_FAIL(AV_VIDEO_E_CANCELLED, u->err, u->errlen,
                                "cancelled after %d frame%s", r->n_frames,
                                r->n_frames == 1 ? "" : "s");
    }
    return AV_VIDEO_OK;
}

static av_video_status on_frame(run *u, const AVFrame *f)
{
    av_video_result *r = u->r;
    long long index = r->frames_decoded++;
    if (r->frames_decoded > u->max_decoded)
        return AV_BASE_FAIL(AV_VIDEO_E_LIMIT, u->err, u->errlen,
                            "more than %lld frames decoded (limit for %.0f s)", u->max_decoded,
                            u->o.limits.max_seconds);
    if (f->width > MAX_SIDE || f->height > MAX_SIDE ||
        (long long)f->width * f->height > u->o.limits.max_pixels)
        return AV_BASE_FAIL(AV_VIDEO_E_LIMIT, u->err, u->errlen,
                            "frame %lld is %dx%d, the limit is %.1f Mpx", index, f->width,
                            f->height, (double)u->o.limits.max_pixels / 1e6);
    int64_t ts = f->best_effort_timestamp;
    double t;
    if (ts == AV_NOPTS_VALUE) {
        t = (double)index / (r->source_fps > 0 ? r->source_fps : 25.0);
    } else {
        if (u->origin == AV_NOPTS_VALUE)
            u->origin = ts;
        t = (double)(ts - u->origin) * av_q2d(u->tb);
    }
    if (!(t >= 0))
        t = 0;
    if (t > u->o.limits.max_seconds + 1)
        return AV_BASE_FAIL(AV_VIDEO_E_LIMIT, u->err, u->errlen,
                            "the video runs past %.0f s, the limit", u->o.limits.max_seconds);
    if (t > u->t_last)
        u->t_last = t;
    if (r->n_frames > 0 && t < u->next_t - 1e-3)
        return AV_VIDEO_OK;
    u->next_t = (floor(t * u->o.fps + 1e-3) + 1) / u->o.fps;
    return sample(u, f, index, t);
}

/* Receive every frame the decoder has ready. */
static av_video_status drain(run *u)
{
    for (;;) {
        int ret = avcodec_receive_frame(u->dec, u->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return AV_VIDEO_OK;
        if (ret < 0) {
            ff_why(ret, u->last_decode_err, sizeof u->last_decode_err);
            if (++u->bad_packets > MAX_BAD_PACKETS)
                return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen,
                                    "the video stream does not decode: %s", u->last_decode_err);
            continue;
        }
        u->bad_packets = 0;
        av_video_status st = on_frame(u, u->frame);
        av_frame_unref(u->frame);
        if (st)
            return st;
    }
}

static av_video_status send(run *u, const AVPacket *pkt)
{
    int ret = avcodec_send_packet(u->dec, pkt);
    if (ret == AVERROR(EAGAIN)) {
        av_video_status st = drain(u);
        if (st)
            return st;
        ret = avcodec_send_packet(u->dec, pkt);
    }
    if (ret < 0 && ret != AVERROR_EOF) {
        ff_why(ret, u->last_decode_err, sizeof u->last_decode_err);
        if (++u->bad_packets > MAX_BAD_PACKETS)
            return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen,
                                "the video stream does not decode: %s", u->last_decode_err);
    }
    return drain(u);
}

static av_video_status decode_all(run *u)
{
    long long packets = 0, max_packets = u->max_decoded * 4 + 10000;
    int read_err = 0;
    for (;;) {
        int ret = av_read_frame(u->fmt, u->pkt);
        if (ret < 0) {
            if (ret != AVERROR_EOF)
                read_err = ret;
            break;
        }
        if (++packets > max_packets) {
            av_packet_unref(u->pkt);
            return AV_BASE_FAIL(AV_VIDEO_E_LIMIT, u->err, u->errlen,
                                "more than %lld packets in the container", max_packets);
        }
        if (u->pkt->stream_index != u->vs) {
            av_packet_unref(u->pkt);
            continue;
        }
        av_video_status st = send(u, u->pkt);
        av_packet_unref(u->pkt);
        if (st)
            return st;
    }
    av_video_status st = send(u, NULL); /* flush */
    if (st)
        return st;
    av_video_result *r = u->r;
    char why[256];
    if (r->n_frames == 0) {
        if (read_err)
            ff_why(read_err, why, sizeof why);
        return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen,
                            "no video frame could be decoded (truncated or corrupt)%s%s",
                            read_err || u->last_decode_err[0] ? ": " : "",
                            read_err ? why : u->last_decode_err);
    }
    if (read_err) {
        ff_why(read_err, why, sizeof why);
        return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen,
                            "read error after %.2f s of video (truncated?): %s", u->t_last, why);
    }
    long long want = u->nb_frames, slack = want / 20 > 2 ? want / 20 : 2;
    if (want > 0 && r->frames_decoded + slack < want)
        return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen,
                            "truncated: %lld frames decoded, the container says %lld",
                            r->frames_decoded, want);
    double dur = r->duration_s;
    double frame_s = r->source_fps > 0 ? 1.0 / r->source_fps : 0;
    if (dur > 0 && u->t_last + frame_s < dur - fmax(0.5, 0.05 * dur))
        return AV_BASE_FAIL(AV_VIDEO_E_CORRUPT, u->err, u->errlen,
                            "truncated: the frames end at %.2f s, the container says %.2f s",
                            u->t_last, dur);
    return AV_VIDEO_OK;
}

/* ---- the whole run ---- */

static av_video_opts defaults(const av_video_opts *in)
{
    av_video_opts o = in ? *in : (av_video_opts){0};
    if (!(o.fps > 0))
        o.fps = AV_VIDEO_DEFAULT_FPS;
    if (o.fps > AV_VIDEO_MAX_FPS)
        o.fps = AV_VIDEO_MAX_FPS;
    av_video_limits *l = &o.limits;
    if (l->max_bytes <= 0)
        l->max_bytes = AV_VIDEO_DEFAULT_MAX_BYTES;
    if (!(l->max_seconds > 0))
        l->max_seconds = AV_VIDEO_DEFAULT_MAX_SECONDS;
    if (l->max_seconds > 24 * 3600.0)
        l->max_seconds = 24 * 3600.0;
    if (l->max_pixels <= 0)
        l->max_pixels = AV_VIDEO_DEFAULT_MAX_PIXELS;
    if (l->max_pixels > (long long)MAX_SIDE * MAX_SIDE)
        l->max_pixels = (long long)MAX_SIDE * MAX_SIDE;
    if (l->decoder_threads <= 0)
        l->decoder_threads = 2;
    if (l->decoder_threads > AV_VIDEO_MAX_DECODER_THREADS)
        l->decoder_threads = AV_VIDEO_MAX_DECODER_THREADS;
    o.run.max_pixels = l->max_pixels;
    o.run.annotate = 0; /* frames are not annotated */
    return o;
}

/* What a run and a probe both start with: the size within the limit, a
 * container signature (into u->r->container), the demuxer opened and its
 * headers checked against the limits. */
static av_video_status open_checked(run *u)
{
    const av_video__src *src = u->src;
    if (src->size == 0)
        return AV_BASE_FAIL(AV_VIDEO_E_FORMAT, u->err, u->errlen, "empty file (0 bytes)");
    if (src->size > u->o.limits.max_bytes)
        return AV_BASE_FAIL(AV_VIDEO_E_LIMIT, u->err, u->errlen,
                            "%lld bytes, the video limit is %lld", (long long)src->size,
                            u->o.limits.max_bytes);
    unsigned char head[64];
    size_t nh = av_video__src_head(u->src, head, sizeof head);
    av_video_container c = av_video_sniff(head, nh);
    if (c == AV_VIDEO_NONE)
        return AV_BASE_FAIL(
            AV_VIDEO_E_FORMAT, u->err, u->errlen,
            "not a video this service reads: no MP4/MOV (ftyp), WebM/MKV (EBML) or AVI "
            "(RIFF AVI) signature");
    u->r->container = c;
    av_video__log_init();
    av_video__log_clear();
    return open_input(u, c);
}

av_video_status av_video__run_src(av_detect_pipeline *p, av_video__src *src,
                                  const av_video_opts *opts, av_video_result *r, char *err,
                                  size_t errlen)
{
    memset(r, 0, sizeof *r);
    double t0 = av_base_now_ms();
    run u = {.p = p, .o = defaults(opts), .r = r, .err = err, .errlen = errlen, .src = src,
             .vs = -1, .origin = AV_NOPTS_VALUE, .orient = 1};
    if (err && errlen)
        err[0] = '\0';
    av_video_limits *l = &u.o.limits;
    u.max_decoded = (long long)ceil(l->max_seconds * MAX_DECODE_FPS) + 1000;
    r->sample_fps = u.o.fps;
    av_video_status st = open_checked(&u);
    if (!st) {
        double dur = r->duration_s;
        r->frames_expected = dur > 0 ? (int)fmin(ceil(dur * u.o.fps - 1e-6), 1e8) : 0;
        if (r->frames_expected < 1 && dur > 0)
            r->frames_expected = 1;
        st = av_video_tracker_new(&u.o.track, &u.trk);
        if (st)
            av_base_errf(u.err, u.errlen, "video: out of memory");
    }
    double td = av_base_now_ms();
    if (!st)
        st = decode_all(&u);
    if (!st) {
        const av_video_track *tr;
        int n = av_video_tracker_tracks(u.trk, &tr);
        r->tracks = n > 0 ? malloc((size_t)n * sizeof *r->tracks) : NULL;
        if (n < 0 || (n > 0 && !r->tracks)) {
            st = AV_BASE_FAIL(AV_VIDEO_E_NOMEM, u.err, u.errlen, "video: out of memory for visits");
        } else {
            if (n > 0)
                memcpy(r->tracks, tr, (size_t)n * sizeof *tr);
            r->n_tracks = n;
        }
    }
    if (!st && r->duration_s <= 0)
        r->duration_s = u.t_last;
    if (!st && u.o.progress && r->frames_expected != r->n_frames) {
        if (u.o.progress(u.o.progress_ud, r->n_frames, r->n_frames))
            st = AV_BASE_FAIL(AV_VIDEO_E_CANCELLED, u.err, u.errlen, "cancelled");
    }
    run_free(&u);
    if (st) {
        av_video_result_free(r);
        return st;
    }
    r->ms_detect = u.ms_detect;
    r->ms_total = av_base_now_ms() - t0;
    r->ms_decode = av_base_now_ms() - td - u.ms_detect;
    return AV_VIDEO_OK;
}

av_video_status av_video__probe_src(av_video__src *src, const av_video_limits *limits,
                                    av_video_result *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    av_video_opts in = {.limits = limits ? *limits : (av_video_limits){0}};
    run u = {.o = defaults(&in), .r = info, .err = err, .errlen = errlen, .src = src,
             .vs = -1, .origin = AV_NOPTS_VALUE, .orient = 1};
    if (err && errlen)
        err[0] = '\0';
    av_video_status st = open_checked(&u); /* the header checks, no decoding */
    if (!st) {
        const AVCodecParameters *par = u.fmt->streams[u.vs]->codecpar;
        info->width = par->width;
        info->height = par->height;
    }
    run_free(&u);
    if (st)
        memset(info, 0, sizeof *info);
    return st;
}
