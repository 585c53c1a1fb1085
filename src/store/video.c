/*
 * video.c - the video tables (schema v2, db/{sqlite,mysql}/0002_video.sql)
 * on either driver, through the generic statement primitives of driver.h,
 * as mlmd.c does, so SQLite and MySQL share one body.
 *
 * Stills are kept as base64 text: the primitives read TEXT, INT and DOUBLE
 * columns only, and a text column is the one type both drivers hand back
 * unchanged (a still is small: a poster or a thumbnail, at most
 * AV_STORE_MEDIA_MAX bytes).
 *
 * Layout: session helpers, base64, then the public calls in store.h order.
 */
#include "store/driver.h"
#include "base/base.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct sess {
    av_store *s;
    const av_store_driver *d;
    av_store__sess *c;
} sess;

static int valid(const char *id)
{
    return id && av_store_valid_id(id);
}

static av_store__arg opt_text(const char *s)
{
    return s && *s ? AV_ARG_T(s) : AV_ARG_NUL;
}

/* ---- base64 (RFC 4648, padded) ---- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *av_store__b64_encode(const unsigned char *p, size_t n)
{
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_val(char c)
{
    const char *q = c ? strchr(B64, c) : NULL;
    return q ? (int)(q - B64) : -1;
}

/* Decode into out (at least n / 4 * 3 bytes); -1 on a malformed string. */
int av_store__b64_decode(const char *s, size_t n, unsigned char *out, size_t *len)
{
    if (n % 4)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int a = b64_val(s[i]), b = b64_val(s[i + 1]);
        int last = i + 4 == n;
        int c = last && s[i + 2] == '=' ? -2 : b64_val(s[i + 2]);
        int d = last && s[i + 3] == '=' ? -2 : b64_val(s[i + 3]);
        if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2))
            return -1;
        unsigned v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)(c < 0 ? 0 : c) << 6 |
                     (unsigned)(d < 0 ? 0 : d);
        out[o++] = (unsigned char)(v >> 16);
        if (c >= 0)
            out[o++] = (unsigned char)(v >> 8 & 255);
        if (d >= 0)
            out[o++] = (unsigned char)(v & 255);
    }
    *len = o;
    return 0;
}

/* ---- the calls ---- */

av_store_status av_store_video_add(av_store *s, const char *id, const char *container,
                                   char *err, size_t errlen)
{
    if (!valid(id) || !container || strlen(container) >= 8)
        return av_store__fail(err, errlen, AV_STORE_EARG, "video: bad id or container");
    av_store__arg a[2] = {AV_ARG_T(id), AV_ARG_T(container)};
    return av_store__exec1(s, "INSERT INTO videos (ID, container) VALUES (?, ?)", a, 2, NULL, err,
                    errlen);
}

av_store_status av_store_video_get(av_store *s, const char *id, av_store_video *out, char *err,
                                   size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!valid(id))
        return AV_STORE_NOT_FOUND;
    int64_t w = 0, h = 0, done = 0, expected = 0, attempts = 0;
    av_store__col cols[10] = {
        {AV_COL_TEXT, out->container, sizeof out->container, 0},
        {AV_COL_TEXT, out->codec, sizeof out->codec, 0},
        {AV_COL_INT, &w, 0, 0},
        {AV_COL_INT, &h, 0, 0},
        {AV_COL_DOUBLE, &out->duration_s, 0, 0},
        {AV_COL_DOUBLE, &out->sample_fps, 0, 0},
        {AV_COL_INT, &done, 0, 0},
        {AV_COL_INT, &expected, 0, 0},
        {AV_COL_INT, &attempts, 0, 0},
        {AV_COL_DOUBLE, &out->idle_s, 0, 0},
    };
    out->duration_s = out->sample_fps = NAN;
    out->container[0] = '\0';
    av_store__arg a[1] = {AV_ARG_T(id)};
    /* Both dialects keep updated_at in the clock CURRENT_TIMESTAMP writes. */
    char age[160], sql[512];
    snprintf(sql, sizeof sql,
             "SELECT container, COALESCE(codec, ''), COALESCE(width, 0), COALESCE(height, 0),"
             " duration_s, sample_fps, frames_done, frames_expected, attempts, %s"
             " FROM videos WHERE ID = ?",
             av_store__sql_wrap(s->drv->age_s, "updated_at", age, sizeof age));
    av_store_status st = av_store__query1(s, sql, a, 1, cols, 10, NULL, NULL, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    if (!out->container[0])
        return AV_STORE_NOT_FOUND;
    snprintf(out->id, sizeof out->id, "%s", id);
    out->width = (int)w;
    out->height = (int)h;
    out->frames_done = (int)done;
    out->frames_expected = (int)expected;
    out->attempts = (int)attempts;
    return AV_STORE_OK;
}

av_store_status av_store_video_start(av_store *s, const char *id, int *attempts, char *err,
                                     size_t errlen)
{
    if (!valid(id))
        return av_store__fail(err, errlen, AV_STORE_EARG, "video: bad id");
    int64_t changes = 0;
    av_store__arg a[1] = {AV_ARG_T(id)};
    av_store_status st = av_store__exec1(s,
                                  "UPDATE videos SET attempts = attempts + 1, frames_done = 0,"
                                  " updated_at = CURRENT_TIMESTAMP WHERE ID = ?",
                                  a, 1, &changes, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    if (changes != 1)
        return AV_STORE_NOT_FOUND;
    av_store_video v;
    st = av_store_video_get(s, id, &v, err, errlen);
    if (st == AV_STORE_OK && attempts)
        *attempts = v.attempts;
    return st;
}

av_store_status av_store_video_progress(av_store *s, const char *id, int done, int expected,
                                        char *err, size_t errlen)
{
    if (!valid(id))
        return av_store__fail(err, errlen, AV_STORE_EARG, "video: bad id");
    av_store__arg a[3] = {AV_ARG_I(done), AV_ARG_I(expected), AV_ARG_T(id)};
    return av_store__exec1(s,
                    "UPDATE videos SET frames_done = ?, frames_expected = ?,"
                    " updated_at = CURRENT_TIMESTAMP WHERE ID = ?",
                    a, 3, NULL, err, errlen);
}

static av_store_status put_rows(sess *x, const char *id, const av_store_video *info,
                                const av_store_visit *v, int nv, const av_store_video_det *d,
                                int nd, const av_store_media *m, int nm, char *err,
                                size_t errlen)
{
    int64_t changes = 0;
    av_store__arg claim[3] = {AV_ARG_I(info->width), AV_ARG_I(info->height), AV_ARG_T(id)};
    av_store_status st = x->d->exec(x->c,
                                    "UPDATE images SET status = 'done', error = NULL, width = ?,"
                                    " height = ? WHERE ID = ? AND status <> 'done'",
                                    claim, 3, &changes, NULL, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    if (changes != 1) /* a racing analysis (another node) stored it first */
        return av_store__fail(err, errlen, AV_STORE_CONFLICT, "video %s already analysed", id);
    /* The finished run: progress whole, frames_expected = frames analysed. */
    av_store__arg vi[8] = {opt_text(info->codec), AV_ARG_I(info->width), AV_ARG_I(info->height),
                           AV_ARG_D(info->duration_s), AV_ARG_D(info->sample_fps),
                           AV_ARG_I(info->frames_expected), AV_ARG_I(info->frames_expected),
                           AV_ARG_T(id)};
    st = x->d->exec(x->c,
                    "UPDATE videos SET codec = ?, width = ?, height = ?, duration_s = ?,"
                    " sample_fps = ?, frames_done = ?, frames_expected = ?,"
                    " updated_at = CURRENT_TIMESTAMP WHERE ID = ?",
                    vi, 8, NULL, NULL, err, errlen);
    for (int i = 0; st == AV_STORE_OK && i < nv; i++) {
        const av_store_detection *e = &v[i].det;
        char box[128];
        av_store__box_text(e, info->width, info->height, box, sizeof box);
        av_store__arg a[15] = {
            AV_ARG_T(id), AV_ARG_T(box), AV_ARG_D(e->score), AV_ARG_I(e->class_id), AV_ARG_I(i),
            AV_ARG_D(e->x1), AV_ARG_D(e->y1), AV_ARG_D(e->x2), AV_ARG_D(e->y2),
            AV_ARG_T(e->label), opt_text(e->species), opt_text(e->common_name),
            AV_ARG_D(e->detector_score), e->species_score >= 0 ? AV_ARG_D(e->species_score)
                                                               : AV_ARG_NUL,
            AV_ARG_T(e->model_version)};
        st = x->d->exec(x->c,
                        "INSERT INTO inferences (ID, box, score, `class`, idx, x1, y1, x2, y2,"
                        " label, species, common_name, detector_score, species_score,"
                        " model_version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        a, 15, NULL, NULL, err, errlen);
        if (st != AV_STORE_OK)
            break;
        av_store__arg b[8] = {AV_ARG_T(id),         AV_ARG_I(i),
                              AV_ARG_I(v[i].track), AV_ARG_D(v[i].first_s),
                              AV_ARG_D(v[i].last_s), AV_ARG_D(v[i].best_t),
                              AV_ARG_I(v[i].best_frame), AV_ARG_I(v[i].n_frames)};
        st = x->d->exec(x->c,
                        "INSERT INTO video_visits (ID, idx, track, first_s, last_s, best_t,"
                        " best_frame, n_frames) VALUES (?,?,?,?,?,?,?,?)",
                        b, 8, NULL, NULL, err, errlen);
    }
    for (int i = 0; st == AV_STORE_OK && i < nd; i++) {
        const av_store_detection *e = &d[i].det;
        av_store__arg a[15] = {
            AV_ARG_T(id), AV_ARG_I(d[i].frame), AV_ARG_I(d[i].frame_index), AV_ARG_D(d[i].t),
            AV_ARG_I(d[i].track), AV_ARG_D(e->x1), AV_ARG_D(e->y1), AV_ARG_D(e->x2),
            AV_ARG_D(e->y2), AV_ARG_T(e->label), opt_text(e->species), opt_text(e->common_name),
            AV_ARG_D(e->score), AV_ARG_D(e->detector_score),
            e->species_score >= 0 ? AV_ARG_D(e->species_score) : AV_ARG_NUL};
        st = x->d->exec(x->c,
                        "INSERT INTO video_detections (ID, frame, frame_index, t, track, x1, y1,"
                        " x2, y2, label, species, common_name, score, detector_score,"
                        " species_score) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        a, 15, NULL, NULL, err, errlen);
    }
    for (int i = 0; st == AV_STORE_OK && i < nm; i++) {
        if (!m[i].name || !m[i].content_type || !m[i].data || !m[i].len ||
            m[i].len > AV_STORE_MEDIA_MAX)
            return av_store__fail(err, errlen, AV_STORE_EARG, "video: bad still %d", i);
        char *b64 = av_store__b64_encode(m[i].data, m[i].len);
        if (!b64)
            return av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
        av_store__arg a[5] = {AV_ARG_T(id), AV_ARG_T(m[i].name), AV_ARG_T(m[i].content_type),
                              AV_ARG_I(m[i].len), AV_ARG_T(b64)};
        st = x->d->exec(x->c,
                        "INSERT INTO video_media (ID, name, content_type, size_bytes, data_b64)"
                        " VALUES (?,?,?,?,?)",
                        a, 5, NULL, NULL, err, errlen);
        free(b64);
    }
    return st;
}

typedef struct put_ud {
    const char *id;
    const av_store_video *info;
    const av_store_visit *v;
    int nv;
    const av_store_video_det *d;
    int nd;
    const av_store_media *m;
    int nm;
} put_ud;

static av_store_status put_body(av_store *s, av_store__sess *c, void *ud, char *err,
                                size_t errlen)
{
    const put_ud *u = ud;
    sess x = {s, s->drv, c};
    return put_rows(&x, u->id, u->info, u->v, u->nv, u->d, u->nd, u->m, u->nm, err, errlen);
}

av_store_status av_store_video_put(av_store *s, const char *id, const av_store_video *info,
                                   const av_store_visit *visits, int n_visits,
                                   const av_store_video_det *dets, int n_dets,
                                   const av_store_media *media, int n_media, char *err,
                                   size_t errlen)
{
    if (!valid(id) || !info || n_visits < 0 || n_dets < 0 || n_media < 0 ||
        (n_visits && !visits) || (n_dets && !dets) || (n_media && !media))
        return av_store__fail(err, errlen, AV_STORE_EARG, "video: bad arguments");
    put_ud u = {id, info, visits, n_visits, dets, n_dets, media, n_media};
    return s->drv->tx(s, put_body, &u, err, errlen);
}

/* Rows of the detection columns shared by visits and frame detections. */
typedef struct det_cols {
    av_store_detection d;
    int64_t cls;
} det_cols;

typedef struct visit_rows {
    av_store_visit cur, *out;
    int n, cap;
    int64_t track, best_frame, n_frames;
    det_cols dc;
    int failed;
} visit_rows;

static int visit_row(void *ud)
{
    visit_rows *r = ud;
    if (av_store__grow((void **)&r->out, &r->cap, r->n + 1, sizeof *r->out)) {
        r->failed = 1;
        return 1;
    }
    av_store_visit *v = &r->out[r->n++];
    *v = r->cur;
    v->track = (int)r->track;
    v->best_frame = (int)r->best_frame;
    v->n_frames = (int)r->n_frames;
    v->det = r->dc.d;
    v->det.class_id = (int)r->dc.cls;
    if (isnan(v->det.species_score))
        v->det.species_score = -1;
    return 0;
}

av_store_status av_store_video_visits(av_store *s, const char *id, av_store_visit **out, int *n,
                                      char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!valid(id))
        return AV_STORE_NOT_FOUND;
    visit_rows r;
    memset(&r, 0, sizeof r);
    av_store__col cols[6 + AV_STORE__DET_COLS] = {
        {AV_COL_INT, &r.track, 0, 0},          {AV_COL_DOUBLE, &r.cur.first_s, 0, 0},
        {AV_COL_DOUBLE, &r.cur.last_s, 0, 0},  {AV_COL_DOUBLE, &r.cur.best_t, 0, 0},
        {AV_COL_INT, &r.best_frame, 0, 0},     {AV_COL_INT, &r.n_frames, 0, 0},
    };
    av_store__det_cols(cols + 6, &r.dc.d, &r.dc.cls);
    av_store__arg a[1] = {AV_ARG_T(id)};
    av_store_status st = av_store__query1(
        s,
        "SELECT v.track, v.first_s, v.last_s, v.best_t, v.best_frame, v.n_frames, i.x1, i.y1,"
        " i.x2, i.y2, i.score, i.detector_score, i.species_score, i.`class`, i.label,"
        " COALESCE(i.species, ''), COALESCE(i.common_name, ''), i.model_version"
        " FROM video_visits v JOIN inferences i ON i.ID = v.ID AND i.idx = v.idx"
        " WHERE v.ID = ? ORDER BY v.idx",
        a, 1, cols, 6 + AV_STORE__DET_COLS, visit_row, &r, err, errlen);
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

typedef struct vdet_rows {
    av_store_video_det cur, *out;
    int n, cap, max;
    int64_t frame, frame_index, track;
    int failed;
} vdet_rows;

static int vdet_row(void *ud)
{
    vdet_rows *r = ud;
    if (r->n >= r->max)
        return 1;
    if (av_store__grow((void **)&r->out, &r->cap, r->n + 1, sizeof *r->out)) {
        r->failed = 1;
        return 1;
    }
    av_store_video_det *v = &r->out[r->n++];
    *v = r->cur;
    v->frame = (int)r->frame;
    v->frame_index = (int)r->frame_index;
    v->track = (int)r->track;
    if (isnan(v->det.species_score))
        v->det.species_score = -1;
    return 0;
}

av_store_status av_store_video_dets(av_store *s, const char *id, int max,
                                    av_store_video_det **out, int *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!valid(id))
        return AV_STORE_NOT_FOUND;
    vdet_rows r;
    memset(&r, 0, sizeof r);
    r.max = max > 0 && max < AV_STORE__MAX_ROWS ? max : AV_STORE__MAX_ROWS;
    av_store_detection *d = &r.cur.det;
    av_store__col cols[14] = {
        {AV_COL_INT, &r.frame, 0, 0},          {AV_COL_INT, &r.frame_index, 0, 0},
        {AV_COL_DOUBLE, &r.cur.t, 0, 0},       {AV_COL_INT, &r.track, 0, 0},
        {AV_COL_DOUBLE, &d->x1, 0, 0},         {AV_COL_DOUBLE, &d->y1, 0, 0},
        {AV_COL_DOUBLE, &d->x2, 0, 0},         {AV_COL_DOUBLE, &d->y2, 0, 0},
        {AV_COL_TEXT, d->label, sizeof d->label, 0},
        {AV_COL_TEXT, d->species, sizeof d->species, 0},
        {AV_COL_TEXT, d->common_name, sizeof d->common_name, 0},
        {AV_COL_DOUBLE, &d->score, 0, 0},      {AV_COL_DOUBLE, &d->detector_score, 0, 0},
        {AV_COL_DOUBLE, &d->species_score, 0, 0},
    };
    av_store__arg a[1] = {AV_ARG_T(id)};
    av_store_status st = av_store__query1(
        s,
        "SELECT frame, frame_index, t, track, x1, y1, x2, y2, label, COALESCE(species, ''),"
        " COALESCE(common_name, ''), score, detector_score, species_score"
        " FROM video_detections WHERE ID = ? ORDER BY frame, track",
        a, 1, cols, 14, vdet_row, &r, err, errlen);
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

av_store_status av_store_video_media_get(av_store *s, const char *id, const char *name,
                                         char *ctype, size_t ctype_cap, void **data,
                                         size_t *len, char *err, size_t errlen)
{
    *data = NULL;
    *len = 0;
    if (!valid(id) || !name)
        return AV_STORE_NOT_FOUND;
    /* First the length, so the text buffer can be sized exactly. */
    int64_t b64_len = -1, size = 0;
    ctype[0] = '\0';
    av_store__col c1[3] = {{AV_COL_TEXT, ctype, ctype_cap, 0},
                           {AV_COL_INT, &size, 0, 0},
                           {AV_COL_INT, &b64_len, 0, 0}};
    av_store__arg a[2] = {AV_ARG_T(id), AV_ARG_T(name)};
    av_store_status st = av_store__query1(s,
                                   "SELECT content_type, size_bytes, LENGTH(data_b64)"
                                   " FROM video_media WHERE ID = ? AND name = ?",
                                   a, 2, c1, 3, NULL, NULL, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    if (b64_len < 0)
        return AV_STORE_NOT_FOUND;
    if (b64_len > (int64_t)AV_STORE_MEDIA_MAX / 3 * 4 + 8 || size <= 0 ||
        size > (int64_t)AV_STORE_MEDIA_MAX)
        return av_store__fail(err, errlen, AV_STORE_EDB, "video: still %s of %s is oversized",
                              name, id);
    char *text = malloc((size_t)b64_len + 1);
    unsigned char *bytes = malloc((size_t)b64_len / 4 * 3 + 3);
    if (!text || !bytes) {
        free(text);
        free(bytes);
        return av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
    }
    text[0] = '\0';
    av_store__col c2[1] = {{AV_COL_TEXT, text, (size_t)b64_len + 1, 0}};
    st = av_store__query1(s, "SELECT data_b64 FROM video_media WHERE ID = ? AND name = ?", a, 2, c2, 1,
                   NULL, NULL, err, errlen);
    size_t got = 0;
    if (st == AV_STORE_OK &&
        (av_store__b64_decode(text, strlen(text), bytes, &got) || got != (size_t)size))
        st = av_store__fail(err, errlen, AV_STORE_EDB, "video: still %s of %s is damaged", name,
                            id);
    free(text);
    if (st != AV_STORE_OK) {
        free(bytes);
        return st;
    }
    *data = bytes;
    *len = got;
    return AV_STORE_OK;
}

int av_store__id_row(void *ud)
{
    av_store__id_rows *r = ud;
    if (r->n >= r->max)
        return 1;
    memcpy(r->ids[r->n++], r->cur, sizeof r->cur);
    return 0;
}

av_store_status av_store_video_unfinished(av_store *s, char (*ids)[AV_STORE_ID_LEN + 1], int max,
                                          int *n, char *err, size_t errlen)
{
    *n = 0;
    if (max <= 0)
        return AV_STORE_OK;
    av_store__id_rows r = {.ids = ids, .max = max};
    av_store__col cols[1] = {{AV_COL_TEXT, r.cur, sizeof r.cur, 0}};
    av_store_status st = av_store__query1(s,
                                   "SELECT v.ID FROM videos v JOIN images i ON i.ID = v.ID"
                                   " WHERE i.status = 'pending' ORDER BY i.created_at, v.ID",
                                   NULL, 0, cols, 1, av_store__id_row, &r, err, errlen);
    *n = r.n;
    return st;
}
