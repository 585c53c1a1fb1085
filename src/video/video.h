/*
 * video.h - birds and species over time in a video clip: the public face of
 * src/video.
 *
 * A clip (bytes in memory or a file) is checked by its magic bytes (MP4/MOV,
 * WebM/MKV, AVI), demuxed and decoded with FFmpeg (libavformat, libavcodec,
 * libswscale), sampled at a fixed rate (default 2 frames per second of video
 * time, and always the first frame), and every sampled frame goes through the
 * detection + species pipeline (detect.h) as RGB. A tracker joins the
 * detections of successive sampled frames into visits:
 *
 *   a detection continues a visit when its box overlaps the visit's last box
 *   (IoU >= iou_min, default 0.3) and the species agree (one's top-1 species
 *   is among the other's top 3; without species, the same detector class);
 *   a visit stays open across up to max_gap sampled frames without a match
 *   (default 2, one second at 2 fps); each frame's detections are matched
 *   greedily, highest IoU first, one detection per visit; a box of the same
 *   species lying mostly (70% of its area) inside another box of the same
 *   frame is a duplicate of that bird: it joins that visit, uncounted.
 *
 * A visit's species is the top-1 species with the largest summed confidence
 * over its detections; its best frame is that species' most confident one.
 *
 * Limits (checked before decoding, and again while decoding because headers
 * can lie): input bytes (default 200 MB), duration (default 10 min), pixels
 * per frame (default 50 Mpx, the images' --max-megapixels), decoder threads
 * (default 2, at most 16), decoded frames (duration limit x 240 fps). Decoder
 * memory is then bounded by about (threads + 16 reference frames) x frame
 * size plus one RGB copy.
 *
 * Objects:
 *   av_video_result   plain data, owned by the caller of av_video_run*();
 *                     free with av_video_result_free.
 *   av_video_tracker  the tracker on its own (used by av_video_run; public so
 *                     it can be tested and fed from elsewhere); owned by the
 *                     caller of av_video_tracker_new.
 *
 * Threads: av_video_run* may run concurrently on one pipeline (the pipeline
 * is thread-safe); a tracker or a result belongs to one thread at a time.
 * FFmpeg's log output is routed, process-wide and once, into a per-thread
 * buffer whose last line is quoted in error messages; it is never printed.
 *
 * Errors: every fallible call returns an av_video_status and writes a
 * message naming what failed into err (when err is non-NULL).
 */
#ifndef AV_VIDEO_H
#define AV_VIDEO_H

#include <stddef.h>

#include <jansson.h>

#include "detect/detect.h"

#define AV_VIDEO_STATUS_MAP(X)                              \
    X(OK, 0, "ok")                                          \
    X(E_IO, 1, "cannot read file")                          \
    X(E_FORMAT, 2, "not a supported video container")       \
    X(E_CORRUPT, 3, "corrupt or truncated video")           \
    X(E_NOVIDEO, 4, "no video stream")                      \
    X(E_LIMIT, 5, "video exceeds a limit")                  \
    X(E_NOMEM, 6, "out of memory")                          \
    X(E_ARG, 7, "invalid argument")                         \
    X(E_DETECT, 8, "detection failed on a frame")           \
    X(E_CANCELLED, 9, "cancelled")

typedef enum av_video_status {
#define X(name, num, msg) AV_VIDEO_##name = num,
    AV_VIDEO_STATUS_MAP(X)
#undef X
} av_video_status;

/* Static string for a status; never NULL. */
const char *av_video_strerror(av_video_status st);

/* ----------------------------------------------------------- containers */

typedef enum av_video_container {
    AV_VIDEO_NONE = 0, /* not a video container we accept */
    AV_VIDEO_MP4,      /* ISO base media: "ftyp" at offset 4, brand not "qt  " */
    AV_VIDEO_MOV,      /* QuickTime: "ftyp" brand "qt  ", or a leading moov/mdat/wide atom */
    AV_VIDEO_WEBM,     /* EBML 1A 45 DF A3 with DocType "webm" */
    AV_VIDEO_MKV,      /* EBML 1A 45 DF A3, any other DocType (Matroska) */
    AV_VIDEO_AVI       /* "RIFF" size "AVI " */
} av_video_container;

/* The container the first n bytes announce (12 bytes suffice except for
 * WebM vs MKV, which looks at up to 64). Only magic bytes are checked. */
av_video_container av_video_sniff(const void *bytes, size_t n);
/* "mp4", "mov", "webm", "mkv", "avi" or "none"; static. */
const char *av_video_container_name(av_video_container c);

/* --------------------------------------------------------------- options */

#define AV_VIDEO_DEFAULT_MAX_BYTES (200LL * 1000 * 1000)
#define AV_VIDEO_DEFAULT_MAX_SECONDS 600.0
#define AV_VIDEO_DEFAULT_MAX_PIXELS (50LL * 1000 * 1000)
#define AV_VIDEO_DEFAULT_FPS 2.0
/* Below this species score a visit is a bird, not a species: a 4.7 % guess
 * names none (web pages) and is drawn grey (poster, timeline). */
#define AV_VIDEO_MIN_SPECIES_SCORE 0.2
#define AV_VIDEO_MAX_FPS 30.0
#define AV_VIDEO_MAX_DECODER_THREADS 16

typedef struct av_video_limits {
    long long max_bytes;  /* input size; <= 0: AV_VIDEO_DEFAULT_MAX_BYTES */
    double max_seconds;   /* duration; <= 0: AV_VIDEO_DEFAULT_MAX_SECONDS */
    long long max_pixels; /* width x height of a frame; <= 0: AV_VIDEO_DEFAULT_MAX_PIXELS */
    int decoder_threads;  /* FFmpeg decoder threads; <= 0: 2; capped at 16 */
} av_video_limits;

typedef struct av_video_track_opts {
    double iou_min; /* box overlap that continues a visit; <= 0: 0.3 */
    int max_gap;    /* sampled frames a visit may miss; < 0: 2 (0 means none) */
} av_video_track_opts;

/*
 * Progress: called after every sampled frame with the frames analysed so far
 * and the frames expected (from the container's duration; never below done;
 * the last call has done == expected). Return 0 to go on, anything else to
 * cancel: the run then stops with AV_VIDEO_E_CANCELLED.
 */
typedef int (*av_video_progress_fn)(void *ud, int done, int expected);

/*
 * Frame hook: called after every sampled frame has been analysed and fed to
 * the tracker, with the frame's upright RGB pixels and its detections and
 * their visit ids (all borrowed for the call only). It lets a caller keep
 * stills (posters, thumbnails: see av_video_stills) without the result
 * holding pixels. Return 0 to go on, anything else to cancel (as progress).
 */
typedef struct av_video_frame_view {
    int frame;                  /* index into av_video_result.frames */
    double t;                   /* its time, seconds */
    int width, height;          /* upright frame size */
    const unsigned char *rgb;   /* packed RGB, width * 3 bytes per row */
    const av_detect_det *dets;  /* n_dets detections, box in frame pixels */
    const int *track_ids;       /* visit id of each detection */
    int n_dets;
} av_video_frame_view;

typedef int (*av_video_frame_fn)(void *ud, const av_video_frame_view *v);

typedef struct av_video_opts {
    double fps;                   /* sampled frames per second of video; <= 0: 2; max 30 */
    av_video_limits limits;
    av_detect_run_opts run;       /* per frame; run.max_pixels is taken from limits */
    av_video_track_opts track;
    av_video_progress_fn progress; /* may be NULL */
    void *progress_ud;
    av_video_frame_fn frame_hook;  /* may be NULL */
    void *frame_ud;
} av_video_opts;

/* --------------------------------------------------------------- results */

/* One sampled frame; its detections are dets[first_det .. first_det+n_dets). */
typedef struct av_video_frame {
    int index;           /* decoded frame number in the stream (0 = first) */
    double t;            /* seconds from the start of the stream */
    int first_det, n_dets;
} av_video_frame;

/* One detection on a sampled frame. */
typedef struct av_video_det {
    int frame;           /* index into av_video_result.frames */
    int track;           /* id of the visit it belongs to (av_video_track.id) */
    av_detect_det det;   /* box in frame pixels, species, label */
} av_video_det;

/* One visit: the same bird (by position and species) over several frames. */
typedef struct av_video_track {
    int id;                             /* 1, 2, ... in order of first appearance */
    int class_index;                    /* species class (or detector class without species) */
    char scientific[AV_DETECT_NAME_MAX]; /* top-1 species, "" without species */
    char common[AV_DETECT_NAME_MAX];
    char label[AV_DETECT_NAME_MAX];     /* what the UI shows (as av_detect_det.label) */
    double first_s, last_s;             /* first and last sampled frame it was seen in */
    int n_frames;                       /* sampled frames it was seen in */
    float best_confidence;              /* best label confidence of its species */
    int best_frame;                     /* index into av_video_result.frames */
    double best_t;                      /* that frame's time */
    av_detect_det best;                 /* the detection on that frame (box, species) */
} av_video_track;

typedef struct av_video_result {
    av_video_container container;
    char demuxer[32], codec[32];    /* FFmpeg names: "mov,mp4,...", "h264" */
    int width, height;              /* frame size (as decoded; after rotation) */
    int rotation;                   /* display rotation applied, degrees clockwise */
    double duration_s;              /* from the container; else the last frame's time */
    double source_fps;              /* average frame rate, 0 when unknown */
    double sample_fps;              /* the sampling rate used */
    long long frames_decoded;       /* every decoded frame */
    int frames_expected;            /* estimate made before decoding */
    int n_frames;                   /* sampled frames analysed */
    av_video_frame *frames;
    int n_dets;
    av_video_det *dets;
    int n_tracks;
    av_video_track *tracks;         /* visits, by first appearance */
    int species_available;
    char species_note[512];
    char detector[64], detector_version[64], classifier[64], classifier_version[64];
    double ms_decode, ms_detect, ms_total; /* decode+convert, pipeline, whole run */
} av_video_result;

/* Free what a result owns and zero it; NULL-safe. */
void av_video_result_free(av_video_result *r);

/*
 * The result as a JSON object (a new reference the caller owns; NULL when
 * out of memory): container, size, duration, sampling, "tracks" (the
 * visits), "frame_count", and with with_frames also "frames" (each with its
 * detections and their track ids). `name` (may be NULL) is recorded as
 * "video". Dump with JSON_REAL_PRECISION(7) to print numbers short.
 */
json_t *av_video_result_to_json(const av_video_result *r, const char *name, int with_frames);

/* ------------------------------------------------------------------- run */

/*
 * Analyse a clip held in memory (bytes are borrowed for the call). opts may
 * be NULL (defaults). On success *r is filled (caller frees with
 * av_video_result_free); on failure it is zeroed and err says why:
 * E_FORMAT (empty, unknown magic, no decoder), E_CORRUPT (the demuxer or
 * decoder rejects it, or its frames end well before its duration),
 * E_NOVIDEO (audio only), E_LIMIT, E_DETECT, E_CANCELLED, E_NOMEM.
 */
av_video_status av_video_run(av_detect_pipeline *p, const void *bytes, size_t len,
                             const av_video_opts *opts, av_video_result *r, char *err,
                             size_t errlen);

/* The same on a file, read as the demuxer needs it (never whole). */
av_video_status av_video_run_file(av_detect_pipeline *p, const char *path,
                                  const av_video_opts *opts, av_video_result *r, char *err,
                                  size_t errlen);

/*
 * Check a clip without decoding it: magic bytes, container, video stream,
 * frame size and duration against the limits (the checks av_video_run
 * makes before it decodes). On success *info holds container, demuxer,
 * codec, width and height (as stored, before rotation), rotation,
 * duration_s and source_fps, nothing else (no free needed). Errors as
 * av_video_run's, and E_IO for a file that cannot be read.
 */
av_video_status av_video_probe(const void *bytes, size_t len, const av_video_limits *limits,
                               av_video_result *info, char *err, size_t errlen);
av_video_status av_video_probe_file(const char *path, const av_video_limits *limits,
                                    av_video_result *info, char *err, size_t errlen);

/* ---------------------------------------------------------------- stills */

/*
 * Stills of a run, kept as JPEG while it decodes (the result holds no
 * pixels): a poster, the sampled frame with the most detections (ties: the
 * higher summed confidence) with their boxes and labels drawn, scaled to at
 * most poster_side pixels; and per visit a square thumbnail of the
 * detection that the tracker picks as its best (per visit and species, the
 * most confident one is kept; the visit's species decides at the end).
 * Bounded: at most max_bytes of JPEG in all; visits past that get none.
 *
 * Use: av_video_stills_new, set opts.frame_hook = av_video_stills_hook and
 * opts.frame_ud = the stills, run, then read poster and thumbnails; free.
 * One stills object belongs to one run at a time.
 */
typedef struct av_video_stills av_video_stills;

typedef struct av_video_stills_opts {
    int poster_side;     /* longest poster side; <= 0: 960 */
    int thumb_side;      /* thumbnail side; <= 0: 160 */
    int quality;         /* JPEG quality; <= 0: 85 */
    size_t max_bytes;    /* all stills together; 0: 32 MiB */
} av_video_stills_opts;

/* opts may be NULL. *out owns the stills (av_video_stills_free). */
av_video_status av_video_stills_new(const av_video_stills_opts *opts, av_video_stills **out);
void av_video_stills_free(av_video_stills *s);
/* The frame hook (ud is the stills). Fails (cancelling the run) only when
 * out of memory; an encoder error just leaves that still out. */
int av_video_stills_hook(void *ud, const av_video_frame_view *v);
/* The poster (borrowed; NULL with *len 0 when no frame was seen). */
const unsigned char *av_video_stills_poster(const av_video_stills *s, size_t *len);
/* The thumbnail of visit t of the finished run (borrowed), or NULL. */
const unsigned char *av_video_stills_thumb(const av_video_stills *s, const av_video_track *t,
                                           size_t *len);

/* A frame with its boxes and labels drawn as the poster is (scaled to at
 * most poster_side, the stills' font and quality), into *jpg (malloc'd,
 * caller frees): 0, -1 when out of memory, 1 on bad input or an encoder
 * failure. The stills are only read (live cameras' "last frame"). */
int av_video_stills_draw(const av_video_stills *s, const av_video_frame_view *v,
                         unsigned char **jpg, size_t *len);

/* FFmpeg's log, for other FFmpeg users (live cameras): routed once per
 * process into a per-thread buffer, never printed; the calling thread's
 * last error line since av_video_log_clear ("" if none; thread-local). */
void av_video_log_capture(void);
void av_video_log_clear(void);
const char *av_video_log_last(void);

/* --------------------------------------------------------------- tracker */

typedef struct av_video_tracker av_video_tracker;

/* opts may be NULL. *out owns the tracker (free with av_video_tracker_free). */
av_video_status av_video_tracker_new(const av_video_track_opts *opts, av_video_tracker **out);
void av_video_tracker_free(av_video_tracker *t);

/*
 * Feed the detections of one sampled frame, in frame order (frame indexes
 * av_video_result.frames, t its time). track_ids (n entries, may be NULL)
 * receives each detection's visit id. dets are copied as needed. Fails only
 * with E_NOMEM or E_LIMIT (more than 100000 visits).
 */
av_video_status av_video_tracker_add(av_video_tracker *t, int frame, double time_s,
                                     const av_detect_det *dets, int n, int *track_ids);

/* The visits so far, by first appearance; *out is borrowed until the next
 * call on the tracker. Returns their count, or -1 when out of memory. */
int av_video_tracker_tracks(av_video_tracker *t, const av_video_track **out);

#endif
