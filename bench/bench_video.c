/*
 * bench_video.c - video analysis throughput: a 30 s 1080p H.264 clip (made
 * at start-up with the ffmpeg tool from ../shared parrot.jpg, scaled to
 * 1920 wide and panned top to bottom) analysed at 2 fps with 1 and 2
 * threads (engine threads and decoder threads alike). Prints frames
 * analysed, wall time, frames analysed per second, and the split between
 * decoding and the pipeline.
 *
 *   build/bench/bench_video [MODELS_DIR] [CLIP]   (run from the repo root;
 *   CLIP reuses an existing file instead of making one)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "detect/detect.h"
#include "video/video.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *models = argc > 1 ? argv[1] : "models";
    const char *clip = argc > 2 ? argv[2] : NULL;
    char dir[] = "/tmp/aviary-bench-video-XXXXXX", path[128], cmd[1024];
    int made = 0;
    if (!clip) {
        const char *shared = getenv("AVIARY_SHARED");
        char img[512];
        snprintf(img, sizeof img, "%s/testdata/images/parrot.jpg", shared ? shared : "../shared");
        if (access(img, R_OK) || !mkdtemp(dir)) {
            fprintf(stderr, "bench_video: %s not found (set AVIARY_SHARED)\n", img);
            return 1;
        }
        snprintf(path, sizeof path, "%s/parrot_1080p_30s.mp4", dir);
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -hide_banner -nostdin -loglevel error -y -loop 1 -framerate 25 -t 30 "
                 "-i '%s' -vf \"scale=1920:-2,crop=1920:1080:0:'(ih-1080)*t/30',format=yuv420p\" "
                 "-c:v libx264 -preset veryfast -crf 23 '%s'",
                 img, path);
        double t0 = now_s();
        if (system(cmd) != 0) {
            fprintf(stderr, "bench_video: ffmpeg failed (scripts/setup installs it)\n");
            rmdir(dir);
            return 1;
        }
        printf("clip: 30 s, 1920x1080, 25 fps, H.264 (made in %.1f s)\n", now_s() - t0);
        clip = path;
        made = 1;
    }
    int rc = 0;
    for (int threads = 1; threads <= 2; threads++) {
        av_detect_open_opts oo = {.threads = threads, .max_contexts = 1};
        av_detect_pipeline *p;
        char err[1024];
        if (av_detect_pipeline_open(models, &oo, &p, err, sizeof err)) {
            fprintf(stderr, "bench_video: %s\n", err);
            rc = 1;
            break;
        }
        av_video_opts vo = {.fps = 2, .limits = {.decoder_threads = threads}};
        av_video_result r;
        double t0 = now_s();
        av_video_status st = av_video_run_file(p, clip, &vo, &r, err, sizeof err);
        double wall = now_s() - t0;
        if (st) {
            fprintf(stderr, "bench_video: %s\n", err);
            av_detect_pipeline_close(p);
            rc = 1;
            break;
        }
        printf("threads %d: %d frames analysed (%lld decoded) in %.2f s wall = %.2f frames/s "
               "analysed, %.0f decoded frames/s; decode+convert %.2f s, pipeline %.2f s "
               "(%.0f ms/frame); %d visit%s\n",
               threads, r.n_frames, r.frames_decoded, wall, r.n_frames / wall,
               r.frames_decoded / wall, r.ms_decode / 1e3, r.ms_detect / 1e3,
               r.n_frames ? r.ms_detect / r.n_frames : 0.0, r.n_tracks,
               r.n_tracks == 1 ? "" : "s");
        fflush(stdout);
        av_video_result_free(&r);
        av_detect_pipeline_close(p);
    }
    if (made) {
        unlink(path);
        rmdir(dir);
    }
    return rc;
}
