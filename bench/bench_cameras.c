/*
 * bench_cameras.c - how many live cameras one node watches at 2 fps each,
 * with the motion gate on and off, and the CPU each costs.
 *
 *   bench_cameras [-s SECONDS] [-c 1,2,4,8] [-i IMAGE] [-f FPS] [-u STREAM_URL] [-p PASSES]
 *
 * -p runs these detector passes on the frames ("none", "nested",
 * "zoom_out,nested"; default: the node's, pipeline.json's without
 * zoom-out): -p zoom_out,nested prices zoom-out, which runs on every
 * analysed frame without a bird.
 *
 * Each camera is a snapshot camera polling a local HTTP server (in this
 * process, libmicrohttpd) that serves IMAGE as a JPEG (default
 * ../shared/testdata/images/cat.bmp: a scene with no bird, the common
 * case of a feeder camera). For each camera count and gate setting the
 * node runs SECONDS (default 10), then the bench prints per camera the
 * frames looked at per second and the frames the pipeline ran on per
 * second (medians over the cameras), and the process CPU used per camera
 * (% of one core, from getrusage: HTTP fetch, JPEG decode, gate, pipeline)
 * and in all. A camera count keeps up when its median rate is at least
 * 95% of FPS. The last lines give, per gate setting, the most cameras
 * that kept up, and the CPU-per-camera ratio gate off / gate on at the
 * largest count both ran.
 *
 * With -u every camera reads that stream instead (e.g. the looped clip of
 * tests/rtsp_server.py: rtsp://127.0.0.1:8554/bird), which adds the
 * cost of decoding every frame of the stream (the fps cap drops frames
 * after decoding, before conversion); a server on the same machine
 * competes for its CPU.
 *
 * Needs models/ (scripts/setup). The machine's other load counts: run it
 * on an idle machine for figures to quote.
 */
#include "bench_util.h"
#include "camera/camera.h"
#include "store/store.h"
#include "vision/vision.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static unsigned char *g_jpg;
static size_t g_len;

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *data,
                             size_t *size, void **req)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data, (void)size, (void)req;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(g_len, g_jpg, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

typedef struct result {
    double fps, analysed_fps, cpu_per_cam, cpu_total;
} result;

static unsigned g_passes; /* -p; 0: pipeline.json's */

static int run(av_store *store, av_detect_pipeline *pipe, int port, const char *stream, int n,
               int gate, double fps, double secs, result *out)
{
    av_camera_conf *cams = calloc((size_t)n, sizeof *cams);
    if (!cams)
        return -1;
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "cam%d", i);
        av_camera_conf_defaults(&cams[i], name);
        cams[i].kind = stream ? AV_CAMERA_STREAM : AV_CAMERA_SNAPSHOT;
        if (stream)
            snprintf(cams[i].url, sizeof cams[i].url, "%s", stream);
        else
            snprintf(cams[i].url, sizeof cams[i].url, "http://127.0.0.1:%d/snap.jpg", port);
        cams[i].interval_s = 1.0 / fps;
        cams[i].fps = fps;
        cams[i].motion = gate;
    }
    av_camera_node_opts o = {.store = store, .pipe = pipe, .cams = cams, .n_cams = n,
                             .node_id = "bench", .passes = g_passes};
    av_camera_node *node = NULL;
    char err[512];
    if (av_camera_node_start(&o, &node, err, sizeof err)) {
        fprintf(stderr, "bench_cameras: %s\n", err);
        free(cams);
        return -1;
    }
    sleep(stream ? 3 : 1); /* connections and first frames */
    av_camera_status *a = NULL, *b = NULL;
    int na = 0, nb = 0;
    av_camera_node_status(node, &a, &na);
    double c0 = cpu_s(), t0 = mono_s();
    usleep((useconds_t)(secs * 1e6));
    av_camera_node_status(node, &b, &nb);
    double c1 = cpu_s(), t1 = mono_s();
    av_camera_node_stop(node);
    double *f = calloc((size_t)n, sizeof *f), *g = calloc((size_t)n, sizeof *g);
    if (!a || !b || !f || !g || na != n || nb != n) {
        free(a), free(b), free(f), free(g), free(cams);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        f[i] = (double)(b[i].frames - a[i].frames) / (t1 - t0);
        g[i] = (double)(b[i].analysed - a[i].analysed) / (t1 - t0);
    }
    qsort(f, (size_t)n, sizeof *f, bench_cmp_double);
    qsort(g, (size_t)n, sizeof *g, bench_cmp_double);
    out->fps = f[n / 2];
    out->analysed_fps = g[n / 2];
    out->cpu_total = (c1 - c0) / (t1 - t0);
    out->cpu_per_cam = out->cpu_total / n;
    free(a), free(b), free(f), free(g), free(cams);
    return 0;
}

int main(int argc, char **argv)
{
    double secs = 10, fps = 2;
    const char *image = "../shared/testdata/images/cat.bmp", *counts = "1,2,4,8", *stream = NULL;
    const char *passes = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "s:c:i:f:u:p:")) != -1) {
        if (opt == 's')
            secs = atof(optarg);
        else if (opt == 'c')
            counts = optarg;
        else if (opt == 'i')
            image = optarg;
        else if (opt == 'f')
            fps = atof(optarg);
        else if (opt == 'u')
            stream = optarg;
        else if (opt == 'p')
            passes = optarg;
        else {
            fprintf(stderr, "usage: bench_cameras [-s SECONDS] [-c 1,2,4,8] [-i IMAGE] "
                            "[-f FPS] [-u STREAM_URL] [-p PASSES]\n");
            return 2;
        }
    }
    char perr[256];
    if (passes && av_detect_passes_parse(passes, &g_passes, perr, sizeof perr)) {
        fprintf(stderr, "bench_cameras: -p: %s\n", perr);
        return 2;
    }
    if (secs <= 0 || fps <= 0 || fps > 30) {
        fprintf(stderr, "bench_cameras: -s and -f must be positive (-f at most 30)\n");
        return 2;
    }
    /* the scene as a camera would send it: a JPEG */
    FILE *fp = fopen(image, "rb");
    if (!fp) {
        fprintf(stderr, "bench_cameras: cannot open %s\n", image);
        return 1;
    }
    static unsigned char raw[64 << 20];
    size_t rn = fread(raw, 1, sizeof raw, fp);
    fclose(fp);
    av_image *img = NULL;
    char err[512];
    if (av_vision_decode(raw, rn, NULL, &img, NULL, err, sizeof err) != AV_VISION_OK ||
        av_vision_encode_jpeg(img, 85, &g_jpg, &g_len, err, sizeof err) != AV_VISION_OK) {
        fprintf(stderr, "bench_cameras: %s: %s\n", image, err);
        return 1;
    }
    int w = img->width, h = img->height;
    av_img_free(img);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
                                                MHD_USE_THREAD_PER_CONNECTION,
                                            0, NULL, NULL, serve, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bench_cameras: cannot start the HTTP server\n");
        return 1;
    }
    int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char dir[] = "/tmp/bench_cameras.XXXXXX", url[128];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(url, sizeof url, "sqlite:%s/b.db", dir);
    av_store *store = NULL;
    int v = 0;
    if (av_store_open(url, &store, err, sizeof err) ||
        av_store_migrate(store, &v, err, sizeof err)) {
        fprintf(stderr, "bench_cameras: %s\n", err);
        return 1;
    }
    av_detect_open_opts oo = {.threads = 1, .max_contexts = 64};
    av_detect_pipeline *pipe = NULL;
    if (av_detect_pipeline_open("models", &oo, &pipe, err, sizeof err)) {
        fprintf(stderr, "bench_cameras: models: %s (run scripts/setup)\n", err);
        return 1;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (stream)
        printf("bench_cameras: every camera reads %s, %.1f fps per camera, %.0f s per run, "
               "%ld cores online\n", stream, fps, secs, cores);
    else
        printf("bench_cameras: %dx%d JPEG of %zu bytes (%s), %.1f fps per camera, %.0f s per "
               "run, %ld cores online\n", w, h, g_len, image, fps, secs, cores);
    printf("detector passes: %s\n", passes ? passes : "the node's (pipeline.json's, no zoom-out)");
    printf("%-9s %7s %12s %14s %16s %12s\n", "gate", "cameras", "fps/camera", "analysed/cam",
           "CPU/camera %core", "CPU cores");
    int best[2] = {0, 0};
    double last_cpu[2] = {0, 0};
    int last_n[2] = {0, 0};
    for (int gate = 1; gate >= 0; gate--) {
        char list[256];
        snprintf(list, sizeof list, "%s", counts);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            int n = atoi(tok);
            if (n < 1 || n > AV_CAMERA_MAX)
                continue;
            result r;
            if (run(store, pipe, port, stream, n, gate, fps, secs, &r))
                return 1;
            printf("%-9s %7d %12.2f %14.2f %16.1f %12.2f\n", gate ? "on" : "off", n, r.fps,
                   r.analysed_fps, r.cpu_per_cam * 100, r.cpu_total);
            fflush(stdout);
            if (r.fps >= 0.95 * fps && (gate || r.analysed_fps >= 0.95 * fps))
                best[gate] = n;
            last_cpu[gate] = r.cpu_per_cam;
            last_n[gate] = n;
        }
    }
    printf("cameras kept at %.1f fps: gate on %d, gate off %d (of the counts tried)\n", fps,
           best[1], best[0]);
    if (last_n[0] == last_n[1] && last_cpu[1] > 0)
        printf("CPU per camera at %d cameras: gate off / gate on = %.1fx\n", last_n[0],
               last_cpu[0] / last_cpu[1]);
    av_detect_pipeline_close(pipe);
    av_store_close(store);
    MHD_stop_daemon(d);
    free(g_jpg);
    return 0;
}
