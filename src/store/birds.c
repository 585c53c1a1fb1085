/*
 * birds.c - the birder's views over images, inferences and reviews
 * (schema v6), written once on the generic statement layer for both
 * drivers: every bird as it stands after review (life list, activity,
 * exports read it) and the gallery of uploads.
 *
 * Filters add fixed SQL fragments, never input text; values are bound.
 */
#include "store/driver.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each box's current review (NULL columns when none). */
#define CURRENT(alias, img, box)                                                               \
    alias ".rev = (SELECT MAX(r2.rev) FROM reviews r2 WHERE r2.image_id = " img                \
    " AND r2.box = " box ")"

/* Every bird: detections with their current review, then added boxes. */
#define BIRDS                                                                                  \
    "SELECT f.ID AS image_id, f.idx AS box, f.x1 AS x1, f.y1 AS y1, f.x2 AS x2, f.y2 AS y2,"   \
    " f.score AS score, COALESCE(f.species, '') AS model_species,"                             \
    " CASE WHEN r.action IS NULL THEN COALESCE(f.species, '')"                                 \
    " ELSE COALESCE(r.species, '') END AS species,"                                            \
    " CASE WHEN r.action IS NULL THEN COALESCE(f.common_name, '')"                             \
    " ELSE COALESCE(r.common_name, '') END AS common_name,"                                    \
    " COALESCE(r.action, '') AS action, COALESCE(r.who, '') AS who,"                           \
    " COALESCE(r.created_at, '') AS reviewed_at"                                               \
    " FROM inferences f LEFT JOIN reviews r ON r.image_id = f.ID AND r.box = f.idx AND "       \
    CURRENT("r", "f.ID", "f.idx")                                                              \
    " UNION ALL"                                                                               \
    " SELECT r.image_id, r.box, r.x1, r.y1, r.x2, r.y2, NULL, '', COALESCE(r.species, ''),"    \
    " COALESCE(r.common_name, ''), r.action, r.who, r.created_at FROM reviews r WHERE "        \
    CURRENT("r", "r.image_id", "r.box")                                                        \
    " AND EXISTS (SELECT 1 FROM reviews a WHERE a.image_id = r.image_id AND a.box = r.box"     \
    " AND a.rev = 1 AND a.action = 'added')"

#define SEEN "COALESCE(m.taken_at, CAST(i.created_at AS CHAR))"

/* "YYYY-MM-DD HH:MM:SS..." or "...T...Z" -> "YYYY-MM-DDTHH:MM:SS". */
static void norm_time(char *t)
{
    if (strlen(t) >= 19) {
        t[10] = 'T';
        t[19] = '\0';
    }
}

/* The WHERE fragments and arguments of a filter (the gallery's own columns
 * i, m, v must be in scope). */
typedef struct where {
    char sql[4096];
    av_store__arg a[8];
    int n;
} where;

static void add(where *w, const char *sql, const char *v)
{
    size_t len = strlen(w->sql);
    snprintf(w->sql + len, sizeof w->sql - len, "%s%s", w->sql[0] ? " AND " : " WHERE ", sql);
    w->a[w->n++] = AV_ARG_T(v);
}

static int set(const char *s)
{
    return s && *s;
}

static av_store_status check_filter(const av_store_filter *f, char *err, size_t errlen)
{
    const char *d[2] = {f->from, f->to};
    for (int i = 0; i < 2; i++)
        if (set(d[i]) && (strlen(d[i]) != 10 || d[i][4] != '-' || d[i][7] != '-'))
            return av_store__fail(err, errlen, AV_STORE_EARG,
                                  "a date must be written YYYY-MM-DD, not '%.20s'", d[i]);
    if (set(f->status) && strcmp(f->status, "pending") && strcmp(f->status, "done") &&
        strcmp(f->status, "failed"))
        return av_store__fail(err, errlen, AV_STORE_EARG,
                              "status must be pending, done or failed");
    if (set(f->species) && strlen(f->species) >= 128)
        return av_store__fail(err, errlen, AV_STORE_EARG, "species name too long");
    return AV_STORE_OK;
}

static void filter_where(where *w, const av_store_filter *f, int gallery)
{
    memset(w, 0, sizeof *w);
    if (set(f->image_id))
        add(w, "i.ID = ?", f->image_id);
    if (set(f->from))
        add(w, "SUBSTR(" SEEN ", 1, 10) >= ?", f->from);
    if (set(f->to))
        add(w, "SUBSTR(" SEEN ", 1, 10) <= ?", f->to);
    if (gallery && set(f->species)) { /* the model's, unreviewed; or a current review's */
        add(w, "(i.ID IN (SELECT f.ID FROM inferences f WHERE f.species = ? AND NOT EXISTS"
               " (SELECT 1 FROM reviews r WHERE r.image_id = f.ID AND r.box = f.idx))"
               " OR i.ID IN (SELECT r.image_id FROM reviews r WHERE r.species = ? AND "
               CURRENT("r", "r.image_id", "r.box") "))", f->species);
        w->a[w->n++] = AV_ARG_T(f->species); /* its second ? */
    }
    if (!gallery && set(f->species))
        add(w, "b.species = ?", f->species);
    if (set(f->status))
        add(w, "i.status = ?", f->status);
    if (f->reviewed >= 0) {
        size_t len = strlen(w->sql);
        snprintf(w->sql + len, sizeof w->sql - len, "%s%sEXISTS (SELECT 1 FROM reviews rv"
                 " WHERE rv.image_id = i.ID)", w->sql[0] ? " AND " : " WHERE ",
                 f->reviewed ? "" : "NOT ");
    }
}

/* ---- birds ---- */

#define NB 23

typedef struct bird_row {
    av_store_bird b;
    int64_t box, w, h, video, exif, gps;
    char action[16];
    av_store__col c[NB];
    av_store_bird_fn fn;
    void *ud;
} bird_row;

static int bird_cb(void *ud)
{
    bird_row *x = ud;
    av_store_bird *b = &x->b;
    b->box = (int)x->box;
    if (x->c[6].is_null)
        b->score = NAN;
    b->action = av_store_review_action_parse(x->action);
    norm_time(b->seen_at);
    b->from_exif = x->exif != 0;
    b->has_gps = x->gps != 0;
    b->image_width = (int)x->w;
    b->image_height = (int)x->h;
    b->is_video = x->video != 0;
    return x->fn(x->ud, b);
}

av_store_status av_store_birds_each(av_store *s, const av_store_filter *f, av_store_bird_fn fn,
                                    void *ud, char *err, size_t errlen)
{
    av_store_filter none = AV_STORE_FILTER_NONE;
    if (!f)
        f = &none;
    av_store_status st = check_filter(f, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    bird_row *x = calloc(1, sizeof *x);
    if (!x)
        return av_store__fail(err, errlen, AV_STORE_ENOMEM, "birds: out of memory");
    av_store_bird *b = &x->b;
    av_store__col c[NB] = {
        {AV_COL_TEXT, b->image_id, sizeof b->image_id, 0},
        {AV_COL_INT, &x->box, 0, 0},
        {AV_COL_DOUBLE, &b->x1, 0, 0},
        {AV_COL_DOUBLE, &b->y1, 0, 0},
        {AV_COL_DOUBLE, &b->x2, 0, 0},
        {AV_COL_DOUBLE, &b->y2, 0, 0},
        {AV_COL_DOUBLE, &b->score, 0, 0},
        {AV_COL_TEXT, b->model_species, sizeof b->model_species, 0},
        {AV_COL_TEXT, b->species, sizeof b->species, 0},
        {AV_COL_TEXT, b->common_name, sizeof b->common_name, 0},
        {AV_COL_TEXT, x->action, sizeof x->action, 0},
        {AV_COL_TEXT, b->who, sizeof b->who, 0},
        {AV_COL_TEXT, b->reviewed_at, sizeof b->reviewed_at, 0},
        {AV_COL_TEXT, b->seen_at, sizeof b->seen_at, 0},
        {AV_COL_INT, &x->exif, 0, 0},
        {AV_COL_INT, &x->gps, 0, 0},
        {AV_COL_DOUBLE, &b->latitude, 0, 0},
        {AV_COL_DOUBLE, &b->longitude, 0, 0},
        {AV_COL_INT, &x->w, 0, 0},
        {AV_COL_INT, &x->h, 0, 0},
        {AV_COL_INT, &x->video, 0, 0},
        {AV_COL_TEXT, b->ext, sizeof b->ext, 0},
        {AV_COL_TEXT, b->name, sizeof b->name, 0},
    };
    memcpy(x->c, c, sizeof c);
    x->fn = fn, x->ud = ud;
    where w;
    filter_where(&w, f, 0);
    char sql[8192];
    snprintf(sql, sizeof sql,
             "SELECT b.image_id, b.box, b.x1, b.y1, b.x2, b.y2, b.score, b.model_species,"
             " b.species, b.common_name, b.action, b.who, b.reviewed_at, " SEEN ","
             " CASE WHEN m.taken_at IS NULL THEN 0 ELSE 1 END,"
             " CASE WHEN m.latitude IS NULL OR m.longitude IS NULL THEN 0 ELSE 1 END,"
             " COALESCE(m.latitude, 0), COALESCE(m.longitude, 0), COALESCE(i.width, 0),"
             " COALESCE(i.height, 0), CASE WHEN v.ID IS NULL THEN 0 ELSE 1 END, i.ext, i.name"
             " FROM (" BIRDS ") b JOIN images i ON i.ID = b.image_id"
             " LEFT JOIN image_meta m ON m.ID = i.ID LEFT JOIN videos v ON v.ID = i.ID"
             "%s ORDER BY b.image_id, b.box",
             w.sql);
    st = av_store__query1(s, sql, w.a, w.n, x->c, NB, bird_cb, x, err, errlen);
    free(x);
    return st;
}

/* ---- gallery ---- */

typedef struct gal {
    av_store_gallery_item it;
    int64_t size, w, h, voted, video, nrev;
    av_store__col c[14];
    av_store_gallery_item *v;
    int n, cap, failed;
} gal;

static int gal_cb(void *ud)
{
    gal *g = ud;
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 32;
        av_store_gallery_item *v = realloc(g->v, (size_t)cap * sizeof *v);
        if (!v) {
            g->failed = 1;
            return 1;
        }
        g->v = v, g->cap = cap;
    }
    av_store_gallery_item *it = &g->it;
    it->img.size_bytes = g->size;
    it->img.width = (int)g->w;
    it->img.height = (int)g->h;
    it->img.voted = g->voted != 0;
    it->is_video = g->video != 0;
    it->n_reviews = (int)g->nrev;
    norm_time(it->seen_at);
    /* Upload time shown as ISO-8601 UTC on either driver. */
    if (strlen(it->img.created_at) >= 19) {
        norm_time(it->img.created_at);
        strcat(it->img.created_at, "Z");
    }
    g->v[g->n++] = *it;
    return 0;
}

av_store_status av_store_gallery(av_store *s, const av_store_filter *f, int offset, int limit,
                                 av_store_gallery_item **out, int *n, int64_t *total, char *err,
                                 size_t errlen)
{
    *out = NULL, *n = 0;
    if (total)
        *total = 0;
    av_store_filter none = AV_STORE_FILTER_NONE;
    if (!f)
        f = &none;
    av_store_status st = check_filter(f, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    if (limit < 1 || limit > 200 || offset < 0)
        return av_store__fail(err, errlen, AV_STORE_EARG, "gallery: bad page");
    gal *g = calloc(1, sizeof *g);
    if (!g)
        return av_store__fail(err, errlen, AV_STORE_ENOMEM, "gallery: out of memory");
    av_store_image *im = &g->it.img;
    av_store__col c[14] = {
        {AV_COL_TEXT, im->id, sizeof im->id, 0},
        {AV_COL_TEXT, im->name, sizeof im->name, 0},
        {AV_COL_TEXT, im->ext, sizeof im->ext, 0},
        {AV_COL_TEXT, im->content_type, sizeof im->content_type, 0},
        {AV_COL_INT, &g->size, 0, 0},
        {AV_COL_INT, &g->w, 0, 0},
        {AV_COL_INT, &g->h, 0, 0},
        {AV_COL_INT, &g->voted, 0, 0},
        {AV_COL_TEXT, im->status, sizeof im->status, 0},
        {AV_COL_TEXT, im->error, sizeof im->error, 0},
        {AV_COL_TEXT, im->created_at, sizeof im->created_at, 0},
        {AV_COL_TEXT, g->it.seen_at, sizeof g->it.seen_at, 0},
        {AV_COL_INT, &g->video, 0, 0},
        {AV_COL_INT, &g->nrev, 0, 0},
    };
    memcpy(g->c, c, sizeof c);
    where w;
    filter_where(&w, f, 1);
    char sql[8192];
    const char *from = " FROM images i LEFT JOIN image_meta m ON m.ID = i.ID"
                       " LEFT JOIN videos v ON v.ID = i.ID";
    if (total) {
        snprintf(sql, sizeof sql, "SELECT COUNT(*)%s%s", from, w.sql);
        av_store__col one = {AV_COL_INT, total, 0, 0};
        st = av_store__query1(s, sql, w.a, w.n, &one, 1, NULL, NULL, err, errlen);
    }
    if (st == AV_STORE_OK) {
        snprintf(sql, sizeof sql,
                 "SELECT i.ID, i.name, i.ext, i.content_type, i.size_bytes, COALESCE(i.width, 0),"
                 " COALESCE(i.height, 0), i.voted, i.status, COALESCE(i.error, ''),"
                 " CAST(i.created_at AS CHAR), " SEEN ", CASE WHEN v.ID IS NULL THEN 0 ELSE 1 END,"
                 " (SELECT COUNT(*) FROM reviews rc WHERE rc.image_id = i.ID)"
                 "%s%s ORDER BY i.created_at DESC, i.ID DESC LIMIT ? OFFSET ?",
                 from, w.sql);
        w.a[w.n++] = AV_ARG_I(limit);
        w.a[w.n++] = AV_ARG_I(offset);
        st = av_store__query1(s, sql, w.a, w.n, g->c, 14, gal_cb, g, err, errlen);
    }
    if (st == AV_STORE_OK && g->failed)
        st = av_store__fail(err, errlen, AV_STORE_ENOMEM, "gallery: out of memory");
    if (st == AV_STORE_OK)
        *out = g->v, *n = g->n;
    else
        free(g->v);
    free(g);
    return st;
}

av_store_status av_store_birds_version(av_store *s, char *out, size_t cap, char *err,
                                       size_t errlen)
{
    int64_t done = 0, all = 0, reviews = 0, meta = 0, visits = 0, last_visit = 0, frames = 0,
            visit_review = 0;
    char last_image[40] = "", last_review[40] = "";
    av_store__col c[10] = {{AV_COL_INT, &done, 0, 0},
                          {AV_COL_INT, &all, 0, 0},
                          {AV_COL_TEXT, last_image, sizeof last_image, 0},
                          {AV_COL_INT, &reviews, 0, 0},
                          {AV_COL_TEXT, last_review, sizeof last_review, 0},
                          {AV_COL_INT, &meta, 0, 0},
                          {AV_COL_INT, &visits, 0, 0},
                          {AV_COL_INT, &last_visit, 0, 0},
                          {AV_COL_INT, &frames, 0, 0},
                          {AV_COL_INT, &visit_review, 0, 0}};
    /* camera visits: added (max id), pruned (count), their frames dropped
     * or reviewed (the last review's time) */
    av_store_status st = av_store__query1(
        s,
        "SELECT (SELECT COUNT(*) FROM images WHERE status = 'done'),"
        " (SELECT COUNT(*) FROM images),"
        " (SELECT COALESCE(CAST(MAX(created_at) AS CHAR), '') FROM images),"
        " (SELECT COUNT(*) FROM reviews), (SELECT COALESCE(MAX(created_at), '') FROM reviews),"
        " (SELECT COUNT(*) FROM image_meta), (SELECT COUNT(*) FROM camera_visits),"
        " (SELECT COALESCE(MAX(id), 0) FROM camera_visits),"
        " (SELECT COUNT(best_jpeg) FROM camera_visits),"
        " (SELECT COALESCE(MAX(reviewed_at), 0) FROM camera_visits)",
        NULL, 0, c, 10, NULL, NULL, err, errlen);
    if (st == AV_STORE_OK)
        snprintf(out, cap, "%lld/%lld/%s/%lld/%s/%lld/%lld/%lld/%lld/%lld", (long long)done,
                 (long long)all, last_image, (long long)reviews, last_review, (long long)meta,
                 (long long)visits, (long long)last_visit, (long long)frames,
                 (long long)visit_review);
    return st;
}
