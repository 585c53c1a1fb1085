/*
 * reviews.c - per-bird reviews and EXIF capture metadata (schema v6,
 * db/{sqlite,mysql}/0006_reviews.sql), written once on the generic
 * statement layer for both drivers.
 *
 * A review row is inserted with the next rev of its box (or, for an added
 * bird, rev 1 of the next free box number); the primary key (image_id, box,
 * rev) turns a race between two nodes into a CONFLICT, and the loser simply
 * reads the numbers again and retries, so nothing is lost and the latest
 * decision stays the current one.
 */
#include "store/driver.h"
#include "base/base.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRIES 8     /* racing inserts of one box before giving up */
#define PAGE 256      /* rows per read of av_store_reviews_each */
#define MAX_LIST 100000 /* reviews of one image one list returns */

static const char *const ACTIONS[] = {NULL, "confirm", "species", "not_bird", "duplicate",
                                      "added"};

const char *av_store_review_action_name(av_store_review_action a)
{
    return a >= AV_REVIEW_CONFIRM && a <= AV_REVIEW_ADDED ? ACTIONS[a] : NULL;
}

av_store_review_action av_store_review_action_parse(const char *s)
{
    for (int a = AV_REVIEW_CONFIRM; s && a <= AV_REVIEW_ADDED; a++)
        if (strcmp(s, ACTIONS[a]) == 0)
            return (av_store_review_action)a;
    return 0;
}

/* A name for display and export: printable, no control bytes, fits. */
static int name_ok(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static av_store__arg opt_text(const char *s)
{
    return s && *s ? AV_ARG_T(s) : AV_ARG_NUL;
}

static void now_iso(char *out, size_t cap)
{
    int64_t ms = av_base_wall_ms();
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char sec[24];
    strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03dZ", sec, (int)(ms % 1000));
}

/* ---- reading rows ---- */

#define REVIEW_COLS                                                                            \
    "r.image_id, r.box, r.rev, r.action, r.x1, r.y1, r.x2, r.y2,"                              \
    " COALESCE(r.model_species, ''), COALESCE(r.species, ''), COALESCE(r.common_name, ''),"    \
    " r.who, r.created_at, COALESCE(i.width, 0), COALESCE(i.height, 0),"                       \
    " CASE WHEN v.ID IS NULL THEN 0 ELSE 1 END"
#define REVIEW_FROM                                                                            \
    " FROM reviews r JOIN images i ON i.ID = r.image_id LEFT JOIN videos v ON v.ID = r.image_id"
#define CURRENT_ONLY                                                                           \
    " r.rev = (SELECT MAX(r2.rev) FROM reviews r2 WHERE r2.image_id = r.image_id"              \
    " AND r2.box = r.box)"
#define NCOLS 16

typedef struct row {
    av_store_review r;
    int64_t box, rev, w, h, video;
    char action[16];
    av_store__col c[NCOLS];
} row;

static void row_init(row *x)
{
    memset(x, 0, sizeof *x);
    av_store_review *r = &x->r;
    av_store__col c[NCOLS] = {
        {AV_COL_TEXT, r->image_id, sizeof r->image_id, 0},
        {AV_COL_INT, &x->box, 0, 0},
        {AV_COL_INT, &x->rev, 0, 0},
        {AV_COL_TEXT, x->action, sizeof x->action, 0},
        {AV_COL_DOUBLE, &r->x1, 0, 0},
        {AV_COL_DOUBLE, &r->y1, 0, 0},
        {AV_COL_DOUBLE, &r->x2, 0, 0},
        {AV_COL_DOUBLE, &r->y2, 0, 0},
        {AV_COL_TEXT, r->model_species, sizeof r->model_species, 0},
        {AV_COL_TEXT, r->species, sizeof r->species, 0},
        {AV_COL_TEXT, r->common_name, sizeof r->common_name, 0},
        {AV_COL_TEXT, r->who, sizeof r->who, 0},
        {AV_COL_TEXT, r->created_at, sizeof r->created_at, 0},
        {AV_COL_INT, &x->w, 0, 0},
        {AV_COL_INT, &x->h, 0, 0},
        {AV_COL_INT, &x->video, 0, 0},
    };
    memcpy(x->c, c, sizeof c);
}

static void row_done(row *x)
{
    x->r.box = (int)x->box;
    x->r.rev = (int)x->rev;
    x->r.action = av_store_review_action_parse(x->action);
    x->r.image_width = (int)x->w;
    x->r.image_height = (int)x->h;
    x->r.is_video = x->video != 0;
}

typedef struct list {
    row row;
    av_store_review *v;
    int n, cap, failed;
} list;

static int list_row(void *ud)
{
    list *l = ud;
    if (l->n >= MAX_LIST)
        return 1;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        av_store_review *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            l->failed = 1;
            return 1;
        }
        l->v = v, l->cap = cap;
    }
    row_done(&l->row);
    l->v[l->n++] = l->row.r;
    return 0;
}

av_store_status av_store_reviews_list(av_store *s, const char *image_id, int current_only,
                                      av_store_review **out, int *n, char *err, size_t errlen)
{
    *out = NULL, *n = 0;
    if (!av_store_valid_id(image_id))
        return AV_STORE_OK;
    list *l = calloc(1, sizeof *l);
    if (!l)
        return av_store__fail(err, errlen, AV_STORE_ENOMEM, "reviews: out of memory");
    row_init(&l->row);
    av_store__arg a[1] = {AV_ARG_T(image_id)};
    const char *sql = current_only ? "SELECT " REVIEW_COLS REVIEW_FROM
                                     " WHERE r.image_id = ? AND" CURRENT_ONLY
                                     " ORDER BY r.box, r.rev"
                                   : "SELECT " REVIEW_COLS REVIEW_FROM
                                     " WHERE r.image_id = ? ORDER BY r.box, r.rev";
    av_store_status st = av_store__query1(s, sql, a, 1, l->row.c, NCOLS, list_row, l, err, errlen);
    if (st == AV_STORE_OK && l->failed)
        st = av_store__fail(err, errlen, AV_STORE_ENOMEM, "reviews: out of memory");
    if (st == AV_STORE_OK)
        *out = l->v, *n = l->n;
    else
        free(l->v);
    free(l);
    return st;
}

av_store_status av_store_reviews_each(av_store *s, av_store_review_fn fn, void *ud, char *err,
                                      size_t errlen)
{
    list *l = calloc(1, sizeof *l);
    if (!l)
        return av_store__fail(err, errlen, AV_STORE_ENOMEM, "reviews: out of memory");
    row_init(&l->row);
    char after_id[AV_STORE_ID_LEN + 1] = "";
    int after_box = -1, stop = 0;
    av_store_status st = AV_STORE_OK;
    while (st == AV_STORE_OK && !stop) {
        /* Keyset paging: no session is held while fn runs. */
        av_store__arg a[4] = {AV_ARG_T(after_id), AV_ARG_T(after_id), AV_ARG_I(after_box),
                              AV_ARG_I(PAGE)};
        l->n = 0;
        st = av_store__query1(s,
                              "SELECT " REVIEW_COLS REVIEW_FROM " WHERE" CURRENT_ONLY
                              " AND (r.image_id > ? OR (r.image_id = ? AND r.box > ?))"
                              " ORDER BY r.image_id, r.box LIMIT ?",
                              a, 4, l->row.c, NCOLS, list_row, l, err, errlen);
        if (st == AV_STORE_OK && l->failed)
            st = av_store__fail(err, errlen, AV_STORE_ENOMEM, "reviews: out of memory");
        if (st != AV_STORE_OK || l->n == 0)
            break;
        for (int i = 0; i < l->n && !stop; i++)
            stop = fn(ud, &l->v[i]) != 0;
        snprintf(after_id, sizeof after_id, "%s", l->v[l->n - 1].image_id);
        after_box = l->v[l->n - 1].box;
        if (l->n < PAGE)
            break;
    }
    free(l->v);
    free(l);
    return st;
}

/* ---- adding ---- */

typedef struct base {
    int added; /* an added box, not a detection */
    double x1, y1, x2, y2;
    char species[128], common[128];
} base;

/* The image must be analysed; its size bounds an added box. */
static av_store_status image_size(const av_store_driver *d, av_store__sess *c, const char *id,
                                  int64_t *w, int64_t *h, char *err, size_t errlen)
{
    char status[16] = "";
    av_store__col cols[3] = {{AV_COL_TEXT, status, sizeof status, 0},
                             {AV_COL_INT, w, 0, 0},
                             {AV_COL_INT, h, 0, 0}};
    av_store__arg a[1] = {AV_ARG_T(id)};
    av_store_status st = d->query(c, "SELECT status, COALESCE(width, 0), COALESCE(height, 0)"
                                     " FROM images WHERE ID = ?",
                                  a, 1, cols, 3, NULL, NULL, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    if (!status[0])
        return av_store__fail(err, errlen, AV_STORE_NOT_FOUND, "no image %s", id);
    if (strcmp(status, "done") != 0)
        return av_store__fail(err, errlen, AV_STORE_EARG,
                              "image %s is not analysed (%s): nothing to review yet", id, status);
    return AV_STORE_OK;
}

/* What the box is: a detection's row, else the added box's first review. */
static av_store_status box_base(const av_store_driver *d, av_store__sess *c, const char *id,
                                int box, base *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    int64_t one = 0;
    av_store__col cols[7] = {
        {AV_COL_DOUBLE, &b->x1, 0, 0},
        {AV_COL_DOUBLE, &b->y1, 0, 0},
        {AV_COL_DOUBLE, &b->x2, 0, 0},
        {AV_COL_DOUBLE, &b->y2, 0, 0},
        {AV_COL_TEXT, b->species, sizeof b->species, 0},
        {AV_COL_TEXT, b->common, sizeof b->common, 0},
        {AV_COL_INT, &one, 0, 0},
    };
    av_store__arg a[2] = {AV_ARG_T(id), AV_ARG_I(box)};
    av_store_status st =
        d->query(c, "SELECT x1, y1, x2, y2, COALESCE(species, ''), COALESCE(common_name, ''), 1"
                    " FROM inferences WHERE ID = ? AND idx = ?",
                 a, 2, cols, 7, NULL, NULL, err, errlen);
    if (st == AV_STORE_OK && !one) {
        b->added = 1;
        st = d->query(c, "SELECT x1, y1, x2, y2, COALESCE(species, ''),"
                         " COALESCE(common_name, ''), 1 FROM reviews"
                         " WHERE image_id = ? AND box = ? AND rev = 1 AND action = 'added'",
                      a, 2, cols, 7, NULL, NULL, err, errlen);
    }
    if (st == AV_STORE_OK && !one)
        st = av_store__fail(err, errlen, AV_STORE_NOT_FOUND, "image %s has no box %d", id, box);
    return st;
}

/* One try: read the numbers, insert. CONFLICT when another writer won. */
static av_store_status add_once(av_store *s, av_store__sess *c, void *ud, char *err,
                                size_t errlen)
{
    av_store_review *r = ud;
    const av_store_driver *d = s->drv;
    int64_t w = 0, h = 0, next = 0;
    av_store_status st;
    av_store__arg id1[1] = {AV_ARG_T(r->image_id)};
    st = image_size(d, c, r->image_id, &w, &h, err, errlen);
    if (st == AV_STORE_OK && r->action == AV_REVIEW_ADDED) {
        if (!(r->x1 >= 0 && r->y1 >= 0 && r->x2 <= (double)w && r->y2 <= (double)h &&
              r->x2 - r->x1 >= 1 && r->y2 - r->y1 >= 1))
            st = av_store__fail(err, errlen, AV_STORE_EARG,
                                "the added box (%.0f,%.0f)-(%.0f,%.0f) is not inside the"
                                " %lldx%lld image",
                                r->x1, r->y1, r->x2, r->y2, (long long)w, (long long)h);
        int64_t n_det = 0, max_box = -1;
        if (st == AV_STORE_OK)
            st = av_store__int(s, c, "SELECT COUNT(*) FROM inferences WHERE ID = ?", id1, 1, &n_det,
                         err, errlen);
        if (st == AV_STORE_OK)
            st = av_store__int(s, c, "SELECT COALESCE(MAX(box), -1) FROM reviews WHERE image_id = ?",
                         id1, 1, &max_box, err, errlen);
        r->box = (int)(max_box + 1 > n_det ? max_box + 1 : n_det);
        r->rev = 1;
        r->model_species[0] = '\0';
    } else if (st == AV_STORE_OK) {
        base b;
        st = box_base(d, c, r->image_id, r->box, &b, err, errlen);
        av_store__arg a[2] = {AV_ARG_T(r->image_id), AV_ARG_I(r->box)};
        if (st == AV_STORE_OK)
            st = av_store__int(s, c,
                         "SELECT COALESCE(MAX(rev), 0) FROM reviews WHERE image_id = ? AND box = ?",
                         a, 2, &next, err, errlen);
        r->rev = (int)next + 1;
        r->x1 = b.x1, r->y1 = b.y1, r->x2 = b.x2, r->y2 = b.y2;
        /* An added box was never the model's: its model species stays none. */
        snprintf(r->model_species, sizeof r->model_species, "%s", b.added ? "" : b.species);
        if (r->action == AV_REVIEW_CONFIRM) {
            snprintf(r->species, sizeof r->species, "%s", b.species);
            snprintf(r->common_name, sizeof r->common_name, "%s", b.common);
        } else if (r->action != AV_REVIEW_SPECIES) {
            r->species[0] = r->common_name[0] = '\0';
        }
    }
    if (st == AV_STORE_OK) {
        now_iso(r->created_at, sizeof r->created_at);
        av_store__arg a[13] = {AV_ARG_T(r->image_id),
                               AV_ARG_I(r->box),
                               AV_ARG_I(r->rev),
                               AV_ARG_T(av_store_review_action_name(r->action)),
                               AV_ARG_D(r->x1),
                               AV_ARG_D(r->y1),
                               AV_ARG_D(r->x2),
                               AV_ARG_D(r->y2),
                               opt_text(r->model_species),
                               opt_text(r->species),
                               opt_text(r->common_name),
                               AV_ARG_T(r->who),
                               AV_ARG_T(r->created_at)};
        st = d->exec(c,
                     "INSERT INTO reviews (image_id, box, rev, action, x1, y1, x2, y2,"
                     " model_species, species, common_name, who, created_at)"
                     " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     a, 13, NULL, NULL, err, errlen);
    }
    return st;
}

av_store_status av_store_review_add(av_store *s, av_store_review *r, char *err, size_t errlen)
{
    if (!av_store_valid_id(r->image_id))
        return av_store__fail(err, errlen, AV_STORE_EARG, "review: bad image id");
    if (!av_store_review_action_name(r->action))
        return av_store__fail(err, errlen, AV_STORE_EARG,
                              "review: the action must be confirm, species, not_bird,"
                              " duplicate or added");
    if (!r->who[0] || !name_ok(r->who, sizeof r->who))
        return av_store__fail(err, errlen, AV_STORE_EARG, "review: bad reviewer name");
    if (!name_ok(r->species, sizeof r->species) ||
        !name_ok(r->common_name, sizeof r->common_name))
        return av_store__fail(err, errlen, AV_STORE_EARG, "review: bad species name");
    if (r->action == AV_REVIEW_SPECIES && !r->species[0])
        return av_store__fail(err, errlen, AV_STORE_EARG, "review: which species? none given");
    if (r->action != AV_REVIEW_ADDED && r->box < 0)
        return av_store__fail(err, errlen, AV_STORE_EARG, "review: bad box number %d", r->box);
    if (r->action == AV_REVIEW_ADDED &&
        !(isfinite(r->x1) && isfinite(r->y1) && isfinite(r->x2) && isfinite(r->y2)))
        return av_store__fail(err, errlen, AV_STORE_EARG, "review: the added box is not numbers");
    av_store_status st = AV_STORE_CONFLICT;
    for (int i = 0; i < RETRIES && st == AV_STORE_CONFLICT; i++)
        st = s->drv->tx(s, add_once, r, err, errlen);
    return st;
}

/* ---- capture metadata ---- */

av_store_status av_store_image_meta_put(av_store *s, const char *id,
                                        const av_store_image_meta *m, char *err, size_t errlen)
{
    if (!av_store_valid_id(id))
        return av_store__fail(err, errlen, AV_STORE_EARG, "image meta: bad image id");
    if (!name_ok(m->taken_at, sizeof m->taken_at))
        return av_store__fail(err, errlen, AV_STORE_EARG, "image meta: bad capture time");
    int gps = m->has_gps && isfinite(m->latitude) && isfinite(m->longitude) &&
              fabs(m->latitude) <= 90 && fabs(m->longitude) <= 180;
    av_store__arg a[4] = {AV_ARG_T(id), opt_text(m->taken_at),
                          gps ? AV_ARG_D(m->latitude) : AV_ARG_NUL,
                          gps ? AV_ARG_D(m->longitude) : AV_ARG_NUL};
    av_store_status st = av_store__exec1(s, "DELETE FROM image_meta WHERE ID = ?", a, 1, NULL,
                                         err, errlen);
    if (st == AV_STORE_OK)
        st = av_store__exec1(s,
                             "INSERT INTO image_meta (ID, taken_at, latitude, longitude)"
                             " VALUES (?, ?, ?, ?)",
                             a, 4, NULL, err, errlen);
    return st;
}

av_store_status av_store_image_meta_get(av_store *s, const char *id, av_store_image_meta *out,
                                        char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!av_store_valid_id(id))
        return AV_STORE_OK;
    int64_t gps = 0;
    av_store__col cols[4] = {{AV_COL_TEXT, out->taken_at, sizeof out->taken_at, 0},
                             {AV_COL_DOUBLE, &out->latitude, 0, 0},
                             {AV_COL_DOUBLE, &out->longitude, 0, 0},
                             {AV_COL_INT, &gps, 0, 0}};
    av_store__arg a[1] = {AV_ARG_T(id)};
    av_store_status st = av_store__query1(
        s,
        "SELECT COALESCE(taken_at, ''), COALESCE(latitude, 0), COALESCE(longitude, 0),"
        " CASE WHEN latitude IS NULL OR longitude IS NULL THEN 0 ELSE 1 END"
        " FROM image_meta WHERE ID = ?",
        a, 1, cols, 4, NULL, NULL, err, errlen);
    out->has_gps = st == AV_STORE_OK && gps;
    return st;
}
