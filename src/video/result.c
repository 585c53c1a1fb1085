/*
 * result.c - freeing a video result and its JSON form. Detections are
 * written by av_detect_result_to_json (through a borrowed one-frame result)
 * so a detection reads the same in a video as in an image.
 */
#include "video/video.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void av_video_result_free(av_video_result *r)
{
    if (!r)
        return;
    free(r->frames);
    free(r->dets);
    free(r->tracks);
    memset(r, 0, sizeof *r);
}

static json_t *num(double v, double unit)
{
    if (!isfinite(v))
        return json_null();
    return json_real(round(v / unit) * unit);
}

/* Text from label files may not be UTF-8: non-ASCII bytes become '?'. */
static json_t *str(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char c[AV_DETECT_NAME_MAX * 2];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof c; i++)
        c[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
    c[i] = '\0';
    return json_string(c);
}

static int set(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}

/* The "detections" array of n dets, as av_detect_result_to_json writes it
 * (new reference, or NULL). */
static json_t *dets_json(const av_video_result *r, const av_detect_det *dets, int n)
{
    av_detect_result one = {.width = r->width, .height = r->height, .n_dets = n,
                            .dets = (av_detect_det *)dets, .species_available = 1};
    json_t *o = av_detect_result_to_json(&one, NULL);
    json_t *a = o ? json_object_get(o, "detections") : NULL;
    if (a)
        json_incref(a);
    json_decref(o);
    return a;
}

static json_t *track_json(const av_video_result *r, const av_video_track *t)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_t *best = dets_json(r, &t->best, 1);
    json_t *bd = best ? json_array_get(best, 0) : NULL;
    int frame_index = t->best_frame >= 0 && t->best_frame < r->n_frames
                          ? r->frames[t->best_frame].index
                          : -1;
    int bad = !bd;
    bad |= set(o, "id", json_integer(t->id)) | set(o, "label", str(t->label)) |
           set(o, "scientific", str(t->scientific)) | set(o, "common", str(t->common)) |
           set(o, "first_seen_s", num(t->first_s, 0.001)) |
           set(o, "last_seen_s", num(t->last_s, 0.001)) |
           set(o, "frames", json_integer(t->n_frames)) |
           set(o, "best_confidence", num(t->best_confidence, 1e-4));
    if (bd) {
        json_t *bf = json_object();
        bad |= !bf;
        if (bf) {
            bad |= set(bf, "frame", json_integer(t->best_frame)) |
                   set(bf, "index", json_integer(frame_index)) |
                   set(bf, "t", num(t->best_t, 0.001));
            json_t *box = json_object_get(bd, "box"), *sp = json_object_get(bd, "species");
            bad |= !box || !sp || json_object_set(bf, "box", box) ||
                   json_object_set(o, "species", sp);
            bad |= set(o, "best_frame", bf);
        }
    }
    json_decref(best);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *frame_json(const av_video_result *r, const av_video_frame *f)
{
    int n = f->n_dets;
    if (f->first_det < 0 || n < 0 || f->first_det > r->n_dets - n)
        return NULL;
    av_detect_det *tmp = n ? malloc((size_t)n * sizeof *tmp) : NULL;
    if (n && !tmp)
        return NULL;
    for (int i = 0; i < n; i++)
        tmp[i] = r->dets[f->first_det + i].det;
    json_t *a = dets_json(r, tmp, n);
    free(tmp);
    if (!a)
        return NULL;
    for (int i = 0; i < n; i++)
        if (set(json_array_get(a, (size_t)i), "track",
                json_integer(r->dets[f->first_det + i].track))) {
            json_decref(a);
            return NULL;
        }
    return json_pack("{s:i, s:o, s:o}", "index", f->index, "t", num(f->t, 0.001), "detections",
                     a);
}

static json_t *model_json(const char *name, const char *version)
{
    if (!name[0])
        return json_null();
    return json_pack("{s:o, s:o}", "name", str(name), "version", str(version));
}

json_t *av_video_result_to_json(const av_video_result *r, const char *name, int with_frames)
{
    json_t *o = json_object(), *tracks = json_array();
    if (!o || !tracks) {
        json_decref(o);
        json_decref(tracks);
        return NULL;
    }
    int bad = 0;
    if (name)
        bad |= set(o, "video", str(name));
    bad |= set(o, "container", str(av_video_container_name(r->container))) |
           set(o, "demuxer", str(r->demuxer)) | set(o, "codec", str(r->codec)) |
           set(o, "width", json_integer(r->width)) | set(o, "height", json_integer(r->height)) |
           set(o, "rotation", json_integer(r->rotation)) |
           set(o, "duration_s", num(r->duration_s, 0.001)) |
           set(o, "source_fps", num(r->source_fps, 0.001)) |
           set(o, "sample_fps", num(r->sample_fps, 0.001)) |
           set(o, "frames_decoded", json_integer(r->frames_decoded)) |
           set(o, "frame_count", json_integer(r->n_frames)) |
           set(o, "detection_count", json_integer(r->n_dets));
    for (int i = 0; i < r->n_tracks; i++)
        bad |= json_array_append_new(tracks, track_json(r, &r->tracks[i]));
    bad |= set(o, "tracks", tracks);
    bad |= set(o, "visits", json_integer(r->n_tracks));
    if (with_frames) {
        json_t *fr = json_array();
        for (int i = 0; fr && i < r->n_frames; i++)
            bad |= json_array_append_new(fr, frame_json(r, &r->frames[i]));
        bad |= set(o, "frames", fr);
    }
    bad |= set(o, "species_available", json_boolean(r->species_available));
    if (!r->species_available)
        bad |= set(o, "species_note", str(r->species_note));
    bad |= set(o, "models",
               json_pack("{s:o, s:o}", "detector", model_json(r->detector, r->detector_version),
                         "species", model_json(r->classifier, r->classifier_version)));
    bad |= set(o, "timings_ms",
               json_pack("{s:o, s:o, s:o}", "decode", num(r->ms_decode, 0.01), "detect",
                         num(r->ms_detect, 0.01), "total", num(r->ms_total, 0.01)));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
