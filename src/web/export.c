/*
 * export.c - the birder's exports, from every bird as it stands after
 * review (av_store_birds_each):
 *   detections.csv  one row per bird with its review state;
 *   ebird.csv       eBird Record Format (Extended), no header: one
 *                   checklist per day and site, each species counted as the
 *                   most seen in one photo (birds in different photos may be
 *                   the same bird);
 *   coco.json       COCO detection dataset: images, boxes, final species
 *                   (?reviewed=1: only reviewed images), for retraining.
 * Text cells that a spreadsheet would run as a formula get a leading '.
 */
#include "web/internal.h"

#include "config/config.h"
#include "log/log.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_LIMIT (512u << 20)

static void csv_cell(av_web__buf *b, const char *s)
{
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    int formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
                  s[0] == '\r';
    if (quote)
        av_web__buf_str(b, "\"");
    if (formula)
        av_web__buf_str(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            av_web__buf_str(b, "\"\"");
        else
            av_web__buf_add(b, p, 1);
    }
    if (quote)
        av_web__buf_str(b, "\"");
}

static int gone(const av_store_bird *x)
{
    return x->action == AV_REVIEW_NOT_BIRD || x->action == AV_REVIEW_DUPLICATE;
}

/* ---- detections.csv ---- */

static int csv_row(void *ud, const av_store_bird *x)
{
    av_web__buf *b = ud;
    csv_cell(b, x->image_id);
    av_web__buf_str(b, ",");
    csv_cell(b, x->name);
    av_web__buf_fmt(b, ",%s,%d,%.1f,%.1f,%.1f,%.1f,", x->is_video ? "video" : "photo",
                    x->box + 1, x->x1, x->y1, x->x2, x->y2);
    csv_cell(b, x->model_species);
    if (isnan(x->score))
        av_web__buf_str(b, ",,");
    else
        av_web__buf_fmt(b, ",%.4f,", x->score);
    csv_cell(b, x->species);
    av_web__buf_str(b, ",");
    csv_cell(b, x->common_name);
    av_web__buf_fmt(b, ",%s,", x->action ? av_store_review_action_name(x->action) : "unreviewed");
    csv_cell(b, x->who);
    av_web__buf_fmt(b, ",%s,%s,%s,", x->reviewed_at, x->seen_at, x->from_exif ? "exif" : "upload");
    if (x->has_gps)
        av_web__buf_fmt(b, "%.6f,%.6f\r\n", x->latitude, x->longitude);
    else
        av_web__buf_str(b, ",\r\n");
    return b->failed;
}

/* ---- ebird.csv ---- */

typedef struct sighting {
    char date[11], site[48], sci[128], common[128], image[AV_STORE_ID_LEN + 1];
    char start[6];
    double lat, lon;
    int has_gps, in_photo, max;
} sighting;

typedef struct ebird {
    sighting *v;
    int n, cap, failed;
} ebird;

static int ebird_fn(void *ud, const av_store_bird *x)
{
    ebird *e = ud;
    if (gone(x) || !x->species[0])
        return 0;
    char site[48];
    if (x->has_gps) /* about 1 km: one garden, one site */
        snprintf(site, sizeof site, "%.2f,%.2f", x->latitude, x->longitude);
    else
        snprintf(site, sizeof site, "Aviary");
    /* birds arrive ordered by image: count within the photo, keep the max */
    for (int i = e->n - 1; i >= 0; i--) {
        sighting *s = &e->v[i];
        if (strncmp(s->date, x->seen_at, 10) || strcmp(s->site, site) || strcmp(s->sci, x->species))
            continue;
        if (strcmp(s->image, x->image_id)) {
            snprintf(s->image, sizeof s->image, "%s", x->image_id);
            s->in_photo = 0;
        }
        if (++s->in_photo > s->max)
            s->max = s->in_photo;
        if (strncmp(x->seen_at + 11, s->start, 5) < 0)
            snprintf(s->start, sizeof s->start, "%.5s", x->seen_at + 11);
        return 0;
    }
    if (e->n == e->cap) {
        int cap = e->cap ? e->cap * 2 : 64;
        sighting *v = realloc(e->v, (size_t)cap * sizeof *v);
        if (!v) {
            e->failed = 1;
            return 1;
        }
        e->v = v, e->cap = cap;
    }
    sighting *s = &e->v[e->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->date, sizeof s->date, "%.10s", x->seen_at);
    snprintf(s->site, sizeof s->site, "%s", site);
    snprintf(s->sci, sizeof s->sci, "%s", x->species);
    snprintf(s->common, sizeof s->common, "%s", x->common_name);
    snprintf(s->image, sizeof s->image, "%s", x->image_id);
    snprintf(s->start, sizeof s->start, "%.5s", strlen(x->seen_at) >= 16 ? x->seen_at + 11 : "");
    s->lat = x->latitude, s->lon = x->longitude, s->has_gps = x->has_gps;
    s->in_photo = s->max = 1;
    return 0;
}

static int by_checklist(const void *pa, const void *pb)
{
    const sighting *a = pa, *b = pb;
    int c = strcmp(a->date, b->date);
    if (!c)
        c = strcmp(a->site, b->site);
    return c ? c : strcmp(a->sci, b->sci);
}

static void ebird_csv(av_web__buf *b, ebird *e)
{
    qsort(e->v, (size_t)e->n, sizeof *e->v, by_checklist);
    for (int i = 0; i < e->n; i++) {
        const sighting *s = &e->v[i];
        /* the checklist's start: its earliest sighting */
        char start[6];
        snprintf(start, sizeof start, "%s", s->start);
        for (int k = i; k >= 0 && !strcmp(e->v[k].date, s->date) && !strcmp(e->v[k].site, s->site);
             k--)
            if (strcmp(e->v[k].start, start) < 0)
                snprintf(start, sizeof start, "%s", e->v[k].start);
        for (int k = i; k < e->n && !strcmp(e->v[k].date, s->date) && !strcmp(e->v[k].site, s->site);
             k++)
            if (strcmp(e->v[k].start, start) < 0)
                snprintf(start, sizeof start, "%s", e->v[k].start);
        char genus[128] = "", species[128] = "";
        sscanf(s->sci, "%127s %127[^\n]", genus, species);
        /* Common Name, Genus, Species, Number, Species Comments */
        csv_cell(b, s->common[0] ? s->common : s->sci);
        av_web__buf_str(b, ",");
        csv_cell(b, genus);
        av_web__buf_str(b, ",");
        csv_cell(b, species);
        av_web__buf_fmt(b, ",%d,From Aviary photos (most in one photo),", s->max);
        /* Location Name, Latitude, Longitude */
        csv_cell(b, s->has_gps ? s->site : "Aviary camera");
        if (s->has_gps)
            av_web__buf_fmt(b, ",%.6f,%.6f,", s->lat, s->lon);
        else
            av_web__buf_str(b, ",,,");
        /* Date (MM/DD/YYYY), Start Time, State, Country, Protocol, Observers, Duration,
         * All observations reported, Distance, Area, Submission Comments */
        av_web__buf_fmt(b, "%.2s/%.2s/%.4s,%s,,,Incidental,1,,N,,,Exported from Aviary\r\n",
                        s->date + 5, s->date + 8, s->date, start);
    }
}

/* ---- coco.json ---- */

typedef struct coco {
    json_t *images, *anns, *cats;
    char last[AV_STORE_ID_LEN + 1];
    int64_t image_no, ann_no;
    int reviewed_only;
    char (*cat_names)[128];
    int n_cats, cap_cats, failed;
} coco;

static int category(coco *k, const char *sci, const char *common)
{
    for (int i = 0; i < k->n_cats; i++)
        if (!strcmp(k->cat_names[i], sci))
            return i + 1;
    if (k->n_cats == k->cap_cats) {
        int cap = k->cap_cats ? k->cap_cats * 2 : 64;
        char(*v)[128] = realloc(k->cat_names, (size_t)cap * sizeof *v);
        if (!v) {
            k->failed = 1;
            return 0;
        }
        k->cat_names = v, k->cap_cats = cap;
    }
    snprintf(k->cat_names[k->n_cats++], 128, "%s", sci);
    json_array_append_new(k->cats, json_pack("{s:i,s:s,s:s,s:s}", "id", k->n_cats, "name", sci,
                                             "common_name", common, "supercategory", "bird"));
    return k->n_cats;
}

static int coco_fn(void *ud, const av_store_bird *x)
{
    coco *k = ud;
    if (x->is_video || gone(x) || (k->reviewed_only && !x->action))
        return 0;
    if (strcmp(k->last, x->image_id)) {
        snprintf(k->last, sizeof k->last, "%s", x->image_id);
        char file[64];
        snprintf(file, sizeof file, "%s.%s", x->image_id, x->ext);
        json_array_append_new(k->images,
                              json_pack("{s:I,s:s,s:i,s:i,s:s,s:s}", "id", ++k->image_no,
                                        "file_name", file, "width", x->image_width, "height",
                                        x->image_height, "aviary_id", x->image_id, "date_captured",
                                        x->seen_at));
    }
    int cat = x->species[0] ? category(k, x->species, x->common_name) : 0;
    double w = x->x2 - x->x1, h = x->y2 - x->y1;
    json_t *a = json_pack("{s:I,s:I,s:[f,f,f,f],s:f,s:i,s:i,s:s,s:s}", "id", ++k->ann_no,
                          "image_id", k->image_no, "bbox", x->x1, x->y1, w, h, "area", w * h,
                          "iscrowd", 0, "aviary_box", x->box + 1, "review",
                          x->action ? av_store_review_action_name(x->action) : "unreviewed",
                          "model_species", x->model_species);
    /* a bird of unknown species: a box with no category (COCO needs an id; 0 = none) */
    json_object_set_new(a, "category_id", json_integer(cat));
    json_array_append_new(k->anns, a);
    return k->failed;
}

/* ---- dispatch ---- */

static enum MHD_Result send_file(av_web__req *r, const char *type, const char *name, av_web__buf *b)
{
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"aviary-%s\"", name);
    const char *hdrs[] = {"Content-Disposition", disp, NULL};
    enum MHD_Result ret =
        b->failed ? av_web__send(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "error\n", 6,
                                 NULL)
                  : av_web__send_hdrs(r, MHD_HTTP_OK, type, b->p ? b->p : "", b->len, NULL, hdrs);
    av_web__buf_free(b);
    return ret;
}

enum MHD_Result av_web__export(av_web__req *r, const char *name)
{
    av_web *w = r->w;
    struct MHD_Connection *c = r->c;
    char err[512] = "";
    av_web__buf b;
    av_web__buf_init(&b, EXPORT_LIMIT);
    av_store_status st = AV_STORE_OK;
    if (!strcmp(name, "detections.csv")) {
        av_web__buf_str(&b, "image_id,file_name,kind,bird,x1,y1,x2,y2,model_species,"
                            "model_confidence,species,common_name,review,reviewed_by,"
                            "reviewed_at,seen_at,seen_from,latitude,longitude\r\n");
        st = av_store_birds_each(w->o.store, NULL, csv_row, &b, err, sizeof err);
        if (st == AV_STORE_OK)
            return send_file(r, "text/csv; charset=utf-8", name, &b);
    } else if (!strcmp(name, "ebird.csv")) {
        ebird e = {0};
        st = av_store_birds_each(w->o.store, NULL, ebird_fn, &e, err, sizeof err);
        if (st == AV_STORE_OK && !e.failed) {
            ebird_csv(&b, &e);
            free(e.v);
            return send_file(r, "text/csv; charset=utf-8", name, &b);
        }
        free(e.v);
    } else if (!strcmp(name, "coco.json")) {
        const char *rv = av_web__arg(c, "reviewed");
        coco k = {json_array(), json_array(), json_array(), "", 0, 0,
                  rv && !strcmp(rv, "1"), NULL, 0, 0, 0};
        st = av_store_birds_each(w->o.store, NULL, coco_fn, &k, err, sizeof err);
        free(k.cat_names);
        json_t *root = json_pack("{s:{s:s,s:s},s:o,s:o,s:o}", "info", "description",
                                 "Aviary birds, boxes in original-image pixels, species after"
                                 " review",
                                 "version", AV_VERSION, "images", k.images, "annotations",
                                 k.anns, "categories", k.cats);
        char *s = st == AV_STORE_OK && !k.failed && root ? json_dumps(root, JSON_COMPACT) : NULL;
        json_decref(root);
        if (s) {
            av_web__buf_str(&b, s);
            free(s);
            return send_file(r, "application/json", name, &b);
        }
    } else {
        av_web__buf_free(&b);
        return av_web__message(r, MHD_HTTP_NOT_FOUND, "No such export",
                               "The exports are /export/detections.csv, /export/ebird.csv and"
                               " /export/coco.json.");
    }
    av_web__buf_free(&b);
    av_log(AV_LOG_ERROR, "internal_error", "where", "export", "error", err, NULL);
    return av_web__message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Export failed",
                           "The export could not be made. Please try again.");
}
