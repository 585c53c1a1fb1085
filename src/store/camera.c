/*
 * camera.c - live camera visits and camera leases (schema v5,
 * db/{sqlite,mysql}/0005_cameras.sql), written once on the generic
 * statement primitives of driver.h for both drivers (as video.c, claim.c).
 *
 * Optional filters are bound twice, "(? = '' OR col = ?)", so each call
 * is one fixed prepared statement whatever the caller filters on.
 */
#include "store/driver.h"
#include "base/base.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VISITS_MAX 10000 /* rows one listing returns at most */

int av_store_camera_name_ok(const char *name)
{
    if (!name || !*name || strlen(name) >= AV_STORE_CAMERA_NAME_MAX)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

static av_store__arg any_text(const char *s)
{
    return AV_ARG_T(s ? s : "");
}

av_store_status av_store_camera_visit_add(av_store *s, const av_store_camera_visit *v,
                                          const void *jpeg, size_t len, int64_t *id, char *err,
                                          size_t errlen)
{
    if (!v || !av_store_camera_name_ok(v->camera) || v->last_ms < v->first_ms)
        return av_store__fail(err, errlen, AV_STORE_EARG, "camera visit: bad camera or times");
    if (jpeg && (len == 0 || len > AV_STORE_MEDIA_MAX))
        return av_store__fail(err, errlen, AV_STORE_EARG,
                              "camera visit: best frame of %zu bytes (limit %u)", len,
                              AV_STORE_MEDIA_MAX);
    char *b64 = NULL;
    if (jpeg && !(b64 = av_store__b64_encode(jpeg, len)))
        return av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
    av_store__arg a[14] = {
        AV_ARG_T(v->camera), AV_ARG_I(v->first_ms), AV_ARG_I(v->last_ms), AV_ARG_T(v->species),
        AV_ARG_T(v->common_name), AV_ARG_T(v->label), AV_ARG_D(v->score), AV_ARG_I(v->n_frames),
        AV_ARG_D(v->x1), AV_ARG_D(v->y1), AV_ARG_D(v->x2), AV_ARG_D(v->y2),
        b64 ? AV_ARG_T(b64) : AV_ARG_NUL, AV_ARG_T(v->node)};
    /* the new row's id: exec on a session of our own, as stmt.c's helper does */
    const av_store_driver *d = s->drv;
    av_store__sess *c = NULL;
    int64_t last = 0;
    av_store_status st = d->sess_get(s, &c, err, errlen);
    if (st == AV_STORE_OK) {
        st = d->exec(c,
                     "INSERT INTO camera_visits (camera, first_seen, last_seen, species,"
                     " common_name, label, score, n_frames, x1, y1, x2, y2, best_jpeg,"
                     " node) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     a, 14, NULL, &last, err, errlen);
        d->sess_put(s, c);
    }
    free(b64);
    if (st == AV_STORE_OK && id)
        *id = last;
    return st;
}

/* One query for every listing: the row's columns into r->cur, then fn. */
typedef struct visit_q {
    av_store_camera_visit cur;
    int64_t n_frames, has_jpeg; /* INT columns are read as int64 */
    char review[16];
    av_store_camera_visit_fn fn;
    void *ud;
} visit_q;

static int visit_q_row(void *ud)
{
    visit_q *q = ud;
    q->cur.n_frames = (int)q->n_frames;
    q->cur.has_jpeg = q->has_jpeg != 0;
    q->cur.review = (int)av_store_review_action_parse(q->review);
    return q->fn(q->ud, &q->cur);
}

static av_store_status select_visits(av_store *s, const char *camera, const char *species,
                                     int64_t since_ms, int64_t limit, av_store_camera_visit_fn fn,
                                     void *ud, char *err, size_t errlen)
{
    visit_q *q = calloc(1, sizeof *q);
    if (!q)
        return av_store__fail(err, errlen, AV_STORE_ENOMEM, "camera visits: out of memory");
    q->fn = fn, q->ud = ud;
    av_store_camera_visit *c = &q->cur;
    av_store__col cols[20] = {
        {AV_COL_INT, &c->id, 0, 0},
        {AV_COL_TEXT, c->camera, sizeof c->camera, 0},
        {AV_COL_INT, &c->first_ms, 0, 0},
        {AV_COL_INT, &c->last_ms, 0, 0},
        {AV_COL_TEXT, c->species, sizeof c->species, 0},
        {AV_COL_TEXT, c->common_name, sizeof c->common_name, 0},
        {AV_COL_TEXT, c->label, sizeof c->label, 0},
        {AV_COL_DOUBLE, &c->score, 0, 0},
        {AV_COL_INT, &q->n_frames, 0, 0},
        {AV_COL_DOUBLE, &c->x1, 0, 0},
        {AV_COL_DOUBLE, &c->y1, 0, 0},
        {AV_COL_DOUBLE, &c->x2, 0, 0},
        {AV_COL_DOUBLE, &c->y2, 0, 0},
        {AV_COL_INT, &q->has_jpeg, 0, 0},
        {AV_COL_TEXT, c->node, sizeof c->node, 0},
        {AV_COL_TEXT, q->review, sizeof q->review, 0},
        {AV_COL_TEXT, c->review_species, sizeof c->review_species, 0},
        {AV_COL_TEXT, c->review_common, sizeof c->review_common, 0},
        {AV_COL_TEXT, c->reviewed_by, sizeof c->reviewed_by, 0},
        {AV_COL_INT, &c->reviewed_ms, 0, 0},
    };
    av_store__arg a[6] = {any_text(camera), any_text(camera), any_text(species),
                          any_text(species), AV_ARG_I(since_ms), AV_ARG_I(limit)};
    av_store_status st =
        av_store__query1(s,
                         "SELECT id, camera, first_seen, last_seen, species, common_name,"
                         " label, score, n_frames, x1, y1, x2, y2,"
                         " CASE WHEN best_jpeg IS NULL THEN 0 ELSE 1 END, node, review_action,"
                         " review_species, review_common, reviewed_by, reviewed_at"
                         " FROM camera_visits WHERE (? = '' OR camera = ?)"
                         " AND (? = '' OR species = ?) AND first_seen >= ?"
                         " ORDER BY first_seen DESC, id DESC LIMIT ?",
                         a, 6, cols, 20, visit_q_row, q, err, errlen);
    free(q);
    return st;
}

av_store_status av_store_camera_visits_each(av_store *s, av_store_camera_visit_fn fn, void *ud,
                                            char *err, size_t errlen)
{
    return select_visits(s, NULL, NULL, INT64_MIN, INT64_MAX, fn, ud, err, errlen);
}

typedef struct visit_rows {
    av_store_camera_visit *out;
    int n, cap, max;
    int failed;
} visit_rows;

static int visit_row(void *ud, const av_store_camera_visit *v)
{
    visit_rows *r = ud;
    if (r->n >= r->max)
        return 1;
    if (av_store__grow((void **)&r->out, &r->cap, r->n + 1, sizeof *r->out)) {
        r->failed = 1;
        return 1;
    }
    r->out[r->n++] = *v;
    return 0;
}

av_store_status av_store_camera_visits(av_store *s, const char *camera, const char *species,
                                       int64_t since_ms, int max, av_store_camera_visit **out,
                                       int *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (max < 1 || max > VISITS_MAX)
        return av_store__fail(err, errlen, AV_STORE_EARG, "camera visits: max %d not in 1..%d",
                              max, VISITS_MAX);
    visit_rows r = {.max = max};
    av_store_status st =
        select_visits(s, camera, species, since_ms, max, visit_row, &r, err, errlen);
    if (st == AV_STORE_OK && r.failed)
        st = av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
    if (st != AV_STORE_OK) {
        free(r.out);
        return st;
    }
    *out = r.out;
    *n = r.n;
    return AV_STORE_OK;
}

av_store_status av_store_camera_visit_count(av_store *s, const char *camera, int64_t since_ms,
                                            int64_t *n, char *err, size_t errlen)
{
    *n = 0;
    av_store__col col = {AV_COL_INT, n, 0, 0};
    av_store__arg a[3] = {any_text(camera), any_text(camera), AV_ARG_I(since_ms)};
    return av_store__query1(s,
                            "SELECT COUNT(*) FROM camera_visits WHERE (? = '' OR camera = ?)"
                            " AND first_seen >= ?",
                            a, 3, &col, 1, NULL, NULL, err, errlen);
}

av_store_status av_store_camera_species_seen(av_store *s, const char *camera,
                                             const char *species, int64_t since_ms,
                                             int *seen_ever, int *seen_since, char *err,
                                             size_t errlen)
{
    *seen_ever = *seen_since = 0;
    if (!species || !*species)
        return AV_STORE_OK;
    int64_t ever = 0, since = 0;
    av_store__col cols[2] = {{AV_COL_INT, &ever, 0, 0}, {AV_COL_INT, &since, 0, 0}};
    av_store__arg a[4] = {AV_ARG_T(species), any_text(camera), AV_ARG_I(since_ms),
                          AV_ARG_T(species)};
    av_store_status st = av_store__query1(
        s,
        "SELECT (SELECT COUNT(*) FROM camera_visits WHERE species = ?),"
        " (SELECT COUNT(*) FROM camera_visits WHERE camera = ? AND first_seen >= ?"
        " AND species = ?)",
        a, 4, cols, 2, NULL, NULL, err, errlen);
    *seen_ever = ever > 0;
    *seen_since = since > 0;
    return st;
}

av_store_status av_store_camera_visit_review(av_store *s, int64_t id, int action,
                                             const char *species, const char *common,
                                             const char *who, char *err, size_t errlen)
{
    if (action != AV_REVIEW_CONFIRM && action != AV_REVIEW_SPECIES &&
        action != AV_REVIEW_NOT_BIRD)
        return av_store__fail(err, errlen, AV_STORE_EARG,
                              "visit review: confirm, species or not_bird");
    if (action == AV_REVIEW_SPECIES && (!species || !*species))
        return av_store__fail(err, errlen, AV_STORE_EARG, "visit review: which species?");
    if (action != AV_REVIEW_SPECIES)
        species = common = "";
    if (strlen(species) >= 128 || (common && strlen(common) >= 128) ||
        (who && strlen(who) >= 128))
        return av_store__fail(err, errlen, AV_STORE_EARG, "visit review: a name too long");
    int64_t changes = 0;
    av_store__arg a[6] = {AV_ARG_T(av_store_review_action_name((av_store_review_action)action)),
                          AV_ARG_T(species), any_text(common), any_text(who),
                          AV_ARG_I(av_base_wall_ms()), AV_ARG_I(id)};
    av_store_status st = av_store__exec1(s,
                                         "UPDATE camera_visits SET review_action = ?,"
                                         " review_species = ?, review_common = ?,"
                                         " reviewed_by = ?, reviewed_at = ? WHERE id = ?",
                                         a, 6, &changes, err, errlen);
    if (st == AV_STORE_OK && changes == 0)
        return av_store__fail(err, errlen, AV_STORE_NOT_FOUND, "no camera visit %lld",
                              (long long)id);
    return st;
}

av_store_status av_store_camera_visit_jpeg(av_store *s, int64_t id, void **data, size_t *len,
                                           char *err, size_t errlen)
{
    *data = NULL;
    *len = 0;
    int64_t b64_len = -1;
    av_store__col c1 = {AV_COL_INT, &b64_len, 0, 0};
    av_store__arg a[1] = {AV_ARG_I(id)};
    av_store_status st =
        av_store__query1(s, "SELECT LENGTH(best_jpeg) FROM camera_visits WHERE id = ?", a, 1,
                         &c1, 1, NULL, NULL, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    if (b64_len <= 0 || c1.is_null)
        return AV_STORE_NOT_FOUND;
    if (b64_len > (int64_t)AV_STORE_MEDIA_MAX / 3 * 4 + 8)
        return av_store__fail(err, errlen, AV_STORE_EDB, "camera visit %lld: frame oversized",
                              (long long)id);
    char *text = malloc((size_t)b64_len + 1);
    unsigned char *bytes = malloc((size_t)b64_len / 4 * 3 + 3);
    if (!text || !bytes) {
        free(text);
        free(bytes);
        return av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
    }
    text[0] = '\0';
    av_store__col c2 = {AV_COL_TEXT, text, (size_t)b64_len + 1, 0};
    st = av_store__query1(s, "SELECT best_jpeg FROM camera_visits WHERE id = ?", a, 1, &c2, 1,
                          NULL, NULL, err, errlen);
    size_t got = 0;
    if (st == AV_STORE_OK && av_store__b64_decode(text, strlen(text), bytes, &got))
        st = av_store__fail(err, errlen, AV_STORE_EDB, "camera visit %lld: frame damaged",
                            (long long)id);
    free(text);
    if (st != AV_STORE_OK || got == 0) {
        free(bytes);
        return st != AV_STORE_OK ? st : AV_STORE_NOT_FOUND;
    }
    *data = bytes;
    *len = got;
    return AV_STORE_OK;
}

av_store_status av_store_camera_lease(av_store *s, const char *camera, const char *node,
                                      int lease_ms, int *held, char *err, size_t errlen)
{
    *held = 0;
    if (!av_store_camera_name_ok(camera) || !node || !*node || strlen(node) >= 128 ||
        lease_ms <= 0)
        return av_store__fail(err, errlen, AV_STORE_EARG, "camera lease: bad camera or node");
    int64_t now = av_base_wall_ms();
    av_store__arg ins[3] = {AV_ARG_T(camera), AV_ARG_T(node), AV_ARG_I(now)};
    av_store_status st = av_store__exec1(s,
                                         "INSERT INTO camera_leases (camera, node, renewed_at)"
                                         " VALUES (?, ?, ?)",
                                         ins, 3, NULL, err, errlen);
    if (st == AV_STORE_OK) {
        *held = 1;
    } else if (st == AV_STORE_CONFLICT) {
        /* renew our own lease, or take over one whose node stopped renewing */
        int64_t changes = 0;
        av_store__arg up[5] = {AV_ARG_T(node), AV_ARG_I(now), AV_ARG_T(camera), AV_ARG_T(node),
                               AV_ARG_I(now - lease_ms)};
        st = av_store__exec1(s,
                             "UPDATE camera_leases SET node = ?, renewed_at = ? WHERE camera = ?"
                             " AND (node = ? OR renewed_at < ?)",
                             up, 5, &changes, err, errlen);
        *held = st == AV_STORE_OK && changes == 1;
    }
    return st;
}

av_store_status av_store_camera_lease_release(av_store *s, const char *camera, const char *node,
                                              char *err, size_t errlen)
{
    av_store__arg a[2] = {any_text(camera), any_text(node)};
    return av_store__exec1(s, "DELETE FROM camera_leases WHERE camera = ? AND node = ?", a, 2,
                           NULL, err, errlen);
}

/* Visits kept whatever their age: each species' keep_best highest scores.
 * The derived table lets MySQL read the table an UPDATE/DELETE changes. */
#define KEPT "SELECT id FROM (SELECT v.id FROM camera_visits v WHERE (SELECT COUNT(*)" \
             " FROM camera_visits b WHERE b.species = v.species AND (b.score > v.score OR" \
             " (b.score = v.score AND b.id < v.id))) < ?) kept"

av_store_status av_store_camera_prune(av_store *s, int64_t before_ms, int keep_best,
                                      int drop_rows, int64_t *dropped, char *err, size_t errlen)
{
    int64_t changes = 0;
    av_store__arg a[2] = {AV_ARG_I(before_ms), AV_ARG_I(keep_best < 0 ? 0 : keep_best)};
    av_store_status st =
        av_store__exec1(s,
            drop_rows ? "DELETE FROM camera_visits WHERE first_seen < ? AND review_action = ''"
                        " AND id NOT IN (" KEPT ")"
                      : "UPDATE camera_visits SET best_jpeg = NULL WHERE first_seen < ?"
                        " AND best_jpeg IS NOT NULL AND review_action = ''"
                        " AND id NOT IN (" KEPT ")",
            a, 2, &changes, err, errlen);
    if (dropped)
        *dropped = st == AV_STORE_OK ? changes : 0;
    return st;
}

av_store_status av_store_camera_storage(av_store *s, int64_t *bytes, char *err, size_t errlen)
{
    int64_t chars = 0;
    av_store__col col = {AV_COL_INT, &chars, 0, 0};
    av_store_status st =
        av_store__query1(s, "SELECT COALESCE(SUM(LENGTH(best_jpeg)), 0) FROM camera_visits",
                         NULL, 0, &col, 1, NULL, NULL, err, errlen);
    *bytes = chars / 4 * 3;
    return st;
}
