/*
 * cmd_detect.c - `aviary detect` (birds + species per image, JSON lines or
 * text; a video, told by its magic bytes, gives its visits instead) and
 * `aviary classify` (a bare classifier, JSON per image).
 * Exit status: 0 all files fine, 1 any file failed (each says why), 2 usage.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "detect/detect.h"
#include "video/video.h"
#include "vision/vision.h"

static const char *const detect_keys[] = {"models",    "threads",    "max-megapixels",
                                          "max-upload-mb", "log-level", "log-format",
                                          "species-list", NULL};

int av_cli_read_file(const char *path, long long max, unsigned char **buf, size_t *len,
                    char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode)) {
        fclose(f);
        snprintf(err, errlen, "not a regular file");
        return -1;
    }
    if (sb.st_size > max) {
        fclose(f);
        snprintf(err, errlen, "%lld bytes, limit is %lld", (long long)sb.st_size, max);
        return -1;
    }
    size_t n = (size_t)sb.st_size;
    *buf = malloc(n ? n : 1);
    if (!*buf) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t got = fread(*buf, 1, n, f);
    fclose(f);
    if (got != n) {
        free(*buf);
        *buf = NULL;
        snprintf(err, errlen, "short read");
        return -1;
    }
    *len = n;
    return 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void print_json_line(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(7)) : NULL;
    if (s) {
        puts(s);
        free(s);
    } else {
        puts("{\"error\":\"out of memory\"}");
    }
    fflush(stdout);
}

static void print_error_line(const char *image, const char *msg)
{
    json_t *o = json_pack("{s:s, s:s}", "image", image, "error", msg);
    print_json_line(o);
    json_decref(o);
}

/* Where the annotated copy of `image` goes: OUT itself for one image that
 * is not a folder, else OUT/<name without extension>.annotated.<ext>. */
static int annotate_path(const char *out, int many, const char *image, const char *mime,
                         char *dst, size_t cap)
{
    struct stat sb;
    int is_dir = stat(out, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (!many && !is_dir)
        return snprintf(dst, cap, "%s", out) < (int)cap ? 0 : -1;
    const char *b = base_name(image);
    const char *dot = strrchr(b, '.');
    int stem = dot && dot != b ? (int)(dot - b) : (int)strlen(b);
    int n = snprintf(dst, cap, "%s/%.*s.annotated.%s", out, stem, b,
                     strcmp(mime, "image/png") ? "jpg" : "png");
    return n > 0 && n < (int)cap ? 0 : -1;
}

/* The format OUT's extension asks for (.png, .jpg, .jpeg), or NULL. */
static const char *mime_of_name(const char *path)
{
    const char *dot = strrchr(base_name(path), '.');
    if (!dot)
        return NULL;
    if (!strcasecmp(dot, ".png"))
        return "image/png";
    if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"))
        return "image/jpeg";
    return NULL;
}

/* r's annotated image re-encoded as `mime` when OUT's name asks for the other
 * format than the input's (a JPEG photo written to out.png). */
static int convert_annotated(av_detect_result *r, const char *mime, long long max_pixels,
                             char *err, size_t errlen)
{
    av_vision_decode_opts o = {.limits = {(long long)r->annotated_len, max_pixels}};
    av_image *img = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    av_vision_status st = av_vision_decode(r->annotated, r->annotated_len, &o, &img, NULL, err,
                                           errlen);
    if (st == AV_VISION_OK)
        st = strcmp(mime, "image/png") ? av_vision_encode_jpeg(img, 90, &buf, &len, err, errlen)
                                       : av_vision_encode_png(img, &buf, &len, err, errlen);
    av_img_free(img);
    if (st != AV_VISION_OK)
        return -1;
    free(r->annotated);
    r->annotated = buf;
    r->annotated_len = len;
    snprintf(r->annotated_mime, sizeof r->annotated_mime, "%s", mime);
    return 0;
}

static int write_file(const char *path, const void *buf, size_t len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot write %.500s: %s", path, strerror(errno));
        return -1;
    }
    size_t w = fwrite(buf, 1, len, f);
    if (fclose(f) || w != len) {
        snprintf(err, errlen, "cannot write %.500s", path);
        return -1;
    }
    return 0;
}

/* " Label 93% [x1,y1,x2,y2] species", or the guesses when the answer is unsure. */
static void print_det(const av_detect_det *d)
{
    printf(" %s %.0f%% [%.0f,%.0f,%.0f,%.0f]", d->label, d->confidence * 100, d->x1, d->y1,
           d->x2, d->y2);
    if (d->whole_image)
        printf(" (whole image, by %s)", av_detect_whole_by_name(d->whole_by));
    if (d->n_species && d->rule == AV_DETECT_RULE_SPECIES)
        printf(" %s", d->species[0].scientific);
    else if (d->n_species) /* genus or unknown: the guesses, never as the answer */
        for (int k = 0; k < d->n_species && k < 3; k++)
            printf("%s%s %.0f%%%s", k ? ", " : " (guesses: ", d->species[k].scientific,
                   d->species[k].score * 100, k + 1 == d->n_species || k == 2 ? ")" : "");
}

static void print_text(const char *image, const av_detect_result *r)
{
    printf("%s: %dx%d, %d detection%s", image, r->width, r->height, r->n_dets,
           r->n_dets == 1 ? "" : "s");
    for (int i = 0; i < r->n_dets; i++) {
        printf("%s", i ? ";" : ":");
        print_det(&r->dets[i]);
    }
    if (r->illustration) { /* not a sighting: the best guess is shown, never counted */
        printf("; illustration, not a photo (paper white %.0f%%), best guess:",
               r->page_paper * 100);
        print_det(&r->illustrated);
    }
    printf("\n");
    fflush(stdout);
}

/* Whether the file starts like a video container (MP4/MOV, WebM/MKV, AVI). */
static int is_video_file(const char *path)
{
    unsigned char head[64];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return av_video_sniff(head, n) != AV_VIDEO_NONE;
}

static void print_video_text(const char *path, const av_video_result *r)
{
    printf("%s: %s %dx%d, %.1f s, %d frame%s analysed, %d visit%s", path,
           av_video_container_name(r->container), r->width, r->height, r->duration_s,
           r->n_frames, r->n_frames == 1 ? "" : "s", r->n_tracks, r->n_tracks == 1 ? "" : "s");
    for (int i = 0; i < r->n_tracks; i++) {
        const av_video_track *t = &r->tracks[i];
        printf("%s %s %.1f-%.1f s %.0f%%", i ? ";" : ":", t->label, t->first_s, t->last_s,
               t->best_confidence * 100);
        if (t->scientific[0])
            printf(" %s", t->scientific);
    }
    printf("\n");
    fflush(stdout);
}

static int run_detect(const av_config *cfg, int argc, char **argv)
{
    const av_cli_cmd *me = &av_cli_detect;
    int json = 0, frames = 0, rc;
    av_cli_detect_opts dopt = {.run.top_k = 3};
    const char *annotate = NULL;
    double fps = AV_VIDEO_DEFAULT_FPS, video_mb = 200,
           video_s = AV_VIDEO_DEFAULT_MAX_SECONDS;
    int first = argc;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            first = i + 1;
            break;
        }
        if (a[0] != '-' || !a[1]) {
            first = i;
            break;
        }
        if (av_cli_detect_option(me, argc, argv, &i, &dopt, &rc)) {
            if (rc)
                return rc;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--frames")) {
            frames = 1;
        } else if (!strcmp(a, "--fps") || !strcmp(a, "--max-video-mb") ||
                   !strcmp(a, "--max-video-seconds")) {
            if (i + 1 >= argc)
                return av_cli_usage(me, "%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--fps") ? av_cli_parse_double(v, 0.01, AV_VIDEO_MAX_FPS, &fps)
                : !strcmp(a, "--max-video-mb") ? av_cli_parse_double(v, 0.001, 1e6, &video_mb)
                                               : av_cli_parse_double(v, 0.1, 86400, &video_s))
                return av_cli_usage(me, "%s: '%s' is out of range", a, v);
        } else if (!strcmp(a, "--annotate")) {
            if (i + 1 >= argc)
                return av_cli_usage(me, "%s needs a value", a);
            annotate = argv[++i];
        } else {
            return av_cli_usage(me, "unknown option '%s'", a);
        }
        first = i + 1;
    }
    int n_images = argc - first;
    if (n_images <= 0)
        return av_cli_usage(me, "no IMAGE given");

    av_detect_open_opts oo = dopt.open;
    oo.threads = cfg->threads;
    oo.max_contexts = 1;
    oo.species_list = cfg->species_list;
    int no_species = oo.no_species;
    av_detect_pipeline *p;
    char err[1024];
    av_detect_status st = av_detect_pipeline_open(cfg->models_dir, &oo, &p, err, sizeof err);
    if (st) {
        fprintf(stderr, "aviary detect: %s\n", err);
        return 1;
    }
    if (!av_detect_pipeline_has_species(p) && !no_species)
        fprintf(stderr, "aviary detect: %s\n", av_detect_pipeline_species_note(p));
    av_detect_run_opts ro = dopt.run;
    ro.annotate = annotate != NULL;
    ro.max_bytes = cfg->max_upload_bytes;
    ro.max_pixels = cfg->max_pixels;
    av_video_opts vo = {.fps = fps,
                        .limits = {.max_bytes = (long long)(video_mb * 1e6),
                                   .max_seconds = video_s, .max_pixels = cfg->max_pixels},
                        .run = ro};
    vo.run.annotate = 0;
    int failed = 0;
    for (int i = 0; i < n_images; i++) {
        const char *path = argv[first + i];
        if (is_video_file(path)) {
            char what[1100];
            av_video_result vr;
            if (annotate)
                fprintf(stderr, "aviary detect: %s: --annotate is not done for videos\n",
                        base_name(path));
            if (av_video_run_file(p, path, &vo, &vr, err, sizeof err) != AV_VIDEO_OK) {
                failed++;
                snprintf(what, sizeof what, "error: %s", err);
                if (json)
                    print_error_line(path, err);
                else
                    printf("%s: error: %s\n", path, err);
            } else {
                snprintf(what, sizeof what, "video, %d frames, %d visit%s", vr.n_frames,
                         vr.n_tracks, vr.n_tracks == 1 ? "" : "s");
                if (json) {
                    json_t *o = av_video_result_to_json(&vr, path, frames);
                    print_json_line(o);
                    json_decref(o);
                } else {
                    print_video_text(path, &vr);
                }
                av_video_result_free(&vr);
            }
            fprintf(stderr, "[%d/%d] %s: %s\n", i + 1, n_images, base_name(path), what);
            err[0] = '\0';
            continue;
        }
        unsigned char *buf;
        size_t len;
        char what[1100];
        av_detect_result r;
        int ok = 0;
        if (av_cli_read_file(path, cfg->max_upload_bytes, &buf, &len, err, sizeof err) == 0) {
            st = av_detect_run(p, buf, len, &ro, &r, err, sizeof err);
            free(buf);
            ok = st == AV_DETECT_OK;
        }
        if (ok && annotate) {
            char out[1024];
            const char *want = NULL;
            if (annotate_path(annotate, n_images > 1, path, r.annotated_mime, out, sizeof out) ||
                ((want = mime_of_name(out)) && strcmp(want, r.annotated_mime) &&
                 convert_annotated(&r, want, cfg->max_pixels, err, sizeof err)) ||
                write_file(out, r.annotated, r.annotated_len, err, sizeof err)) {
                if (!err[0])
                    snprintf(err, sizeof err, "annotated file name too long");
                av_detect_result_free(&r);
                ok = 0;
            }
        }
        if (!ok) {
            failed++;
            snprintf(what, sizeof what, "error: %s", err);
            if (json)
                print_error_line(path, err);
            else
                printf("%s: error: %s\n", path, err);
        } else {
            int birds = 0;
            for (int k = 0; k < r.n_dets; k++)
                birds += !strcmp(r.dets[k].class_name, "bird");
            snprintf(what, sizeof what, "%d bird%s", birds, birds == 1 ? "" : "s");
            if (json) {
                json_t *o = av_detect_result_to_json(&r, path);
                print_json_line(o);
                json_decref(o);
            } else {
                print_text(path, &r);
            }
            av_detect_result_free(&r);
        }
        if (n_images > 1 || !ok)
            fprintf(stderr, "[%d/%d] %s: %s\n", i + 1, n_images, base_name(path), what);
        err[0] = '\0';
    }
    av_detect_pipeline_close(p);
    return failed ? 1 : 0;
}

static int run_classify(const av_config *cfg, int argc, char **argv)
{
    const av_cli_cmd *me = &av_cli_classify;
    const char *model = NULL, *labels = NULL, *range = NULL;
    int top = 5, first = argc;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            first = i + 1;
            break;
        }
        if (a[0] != '-' || !a[1]) {
            first = i;
            break;
        }
        if (!strcmp(a, "--model") || !strcmp(a, "--labels") || !strcmp(a, "--top") ||
            !strcmp(a, "--range")) {
            if (i + 1 >= argc)
                return av_cli_usage(me, "%s needs a value", a);
            const char *v = argv[++i];
            double d;
            if (!strcmp(a, "--model"))
                model = v;
            else if (!strcmp(a, "--labels"))
                labels = v;
            else if (!strcmp(a, "--range"))
                range = v;
            else if (av_cli_parse_double(v, 1, AV_DETECT_TOPK_MAX, &d))
                return av_cli_usage(me, "--top: '%s' is not in 1..%d", v, AV_DETECT_TOPK_MAX);
            else
                top = (int)d;
        } else {
            return av_cli_usage(me, "unknown option '%s'", a);
        }
        first = i + 1;
    }
    if (!model)
        return av_cli_usage(me, "--model is required");
    if (first >= argc)
        return av_cli_usage(me, "no IMAGE given");
    char err[1024];
    av_detect_classifier *c;
    if (av_detect_classifier_open(model, labels, range, cfg->threads, &c, err, sizeof err)) {
        fprintf(stderr, "aviary classify: %s\n", err);
        return 1;
    }
    int w, h, failed = 0;
    const char *dtype;
    av_detect_classifier_info(c, &w, &h, &dtype);
    for (int i = first; i < argc; i++) {
        unsigned char *buf;
        size_t len;
        av_detect_species sp[AV_DETECT_TOPK_MAX];
        int n = 0;
        av_detect_status st = AV_DETECT_E_IO;
        if (av_cli_read_file(argv[i], cfg->max_upload_bytes, &buf, &len, err, sizeof err) == 0) {
            st = av_detect_classify(c, buf, len, cfg->max_upload_bytes, cfg->max_pixels, top, sp,
                                    &n, err, sizeof err);
            free(buf);
        }
        if (st) {
            failed++;
            print_error_line(argv[i], err);
            fprintf(stderr, "aviary classify: %s: %s\n", argv[i], err);
            continue;
        }
        json_t *o = json_pack("{s:s, s:{s:i, s:i, s:s}, s:[]}", "image", argv[i], "input", "width",
                              w, "height", h, "dtype", dtype, "top");
        json_t *arr = o ? json_object_get(o, "top") : NULL;
        for (int k = 0; arr && k < n; k++) {
            char label[2 * AV_DETECT_NAME_MAX + 4];
            if (sp[k].common[0])
                snprintf(label, sizeof label, "%s (%s)", sp[k].scientific, sp[k].common);
            else
                snprintf(label, sizeof label, "%s", sp[k].scientific);
            json_array_append_new(arr, json_pack("{s:i, s:s, s:f}", "index", sp[k].class_index,
                                                 "label", label, "score",
                                                 (double)(int)(sp[k].score * 10000 + 0.5) / 10000));
        }
        print_json_line(o);
        json_decref(o);
    }
    av_detect_classifier_close(c);
    return failed ? 1 : 0;
}

const av_cli_cmd av_cli_detect = {
    .name = "detect",
    .summary = "find birds and name their species in images and videos; JSON lines out",
    .usage = "[--json] [--annotate OUT] [--min-score S] [--all-classes] [--fps F] IMAGE|VIDEO...",
    .keys = detect_keys,
    .extra_help = "options:\n"
                  "  --json          one JSON object per image per line (default: text)\n"
                  "  --annotate OUT  write the image with boxes and labels to OUT (a file for\n"
                  "                  one image, else the folder OUT/NAME.annotated.jpg|png;\n"
                  "                  OUT.png / OUT.jpg pick the format, else the input's)\n"
                  AV_CLI_DETECT_OPTS_HELP
                  "videos (MP4/MOV, WebM/MKV, AVI, told by their first bytes) give one object\n"
                  "per file with its visits (\"tracks\") and frame count:\n"
                  "  --fps F         frames sampled per second of video (default 2; max 30)\n"
                  "  --frames        also list every sampled frame's detections (--json)\n"
                  "  --max-video-mb N       largest video file (default 200)\n"
                  "  --max-video-seconds N  longest video (default 600)\n"
                  "Progress goes to stderr ([3/10] eagle.jpg: 1 bird); exit 1 if any file failed.\n",
    .run = run_detect,
};

const av_cli_cmd av_cli_classify = {
    .name = "classify",
    .summary = "run an image classifier model on images; JSON per image",
    .usage = "--model M [--labels L] [--top K] IMAGE...",
    .keys = detect_keys,
    .extra_help = "options:\n"
                  "  --model M       manifest (.json with a role) or model file (TFLite, TF.js\n"
                  "                  model.json or ONNX)\n"
                  "  --labels L      label file, one per line\n"
                  "  --top K         how many classes to print (default 5)\n"
                  "  --range R       float inputs: 0..255, 0..1 or -1..1 (default -1..1);\n"
                  "                  quantised inputs get the raw pixels\n",
    .run = run_classify,
};
