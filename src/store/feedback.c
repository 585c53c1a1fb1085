/*
 * feedback.c - votes on an analysis and the monitoring series they feed
 * (schema v1, db/{sqlite,mysql}/0001_init.sql), written once over the
 * driver primitives for both databases.
 *
 * feedback_stats keeps running sums per key ("satisfaction", "class:NAME")
 * so each vote appends one monitoring point without rescanning history.
 */
#include "store/driver.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static av_store_status stat_add(av_store *s, av_store__sess *c, const char *key, double sum,
                                int n, char *err, size_t errlen)
{
    char up[64], sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO feedback_stats (`key`, `sum`, n) VALUES (?, ?, ?)"
             " %s `sum` = `sum` + ?, n = n + ?",
             av_store__sql_wrap(s->drv->upsert, "`key`", up, sizeof up));
    av_store__arg a[5] = {AV_ARG_T(key), AV_ARG_D(sum), AV_ARG_I(n), AV_ARG_D(sum), AV_ARG_I(n)};
    return s->drv->exec(c, sql, a, 5, NULL, NULL, err, errlen);
}

/* Mean of a stats key; NaN when nothing was counted. */
static av_store_status stat_mean(av_store *s, av_store__sess *c, const char *key, double *mean,
                                 int *n, char *err, size_t errlen)
{
    double sum = 0;
    int64_t cnt = 0;
    av_store__col cols[2] = {{AV_COL_DOUBLE, &sum, 0, 0}, {AV_COL_INT, &cnt, 0, 0}};
    av_store__arg a[1] = {AV_ARG_T(key)};
    av_store_status st =
        s->drv->query(c, "SELECT `sum`, n FROM feedback_stats WHERE `key` = ?", a, 1, cols, 2,
                      NULL, NULL, err, errlen);
    *mean = NAN;
    *n = 0;
    if (st == AV_STORE_OK && cnt > 0) {
        *n = (int)cnt;
        *mean = sum / (double)cnt;
    }
    return st;
}

typedef struct fb_ud {
    const char *id;
    const av_store_feedback *fb;
    const char *const *classes;
    int n_classes;
    av_store_monitor_point pt;
} fb_ud;

/* Per tracked class: this image's detections of it join the class's mean. */
static av_store_status add_class_scores(av_store *s, av_store__sess *c, const fb_ud *u,
                                        char *err, size_t errlen)
{
    av_store_status st = AV_STORE_OK;
    for (int k = 0; st == AV_STORE_OK && k < u->n_classes; k++) {
        double sum = 0;
        int64_t cnt = 0;
        av_store__col cols[2] = {{AV_COL_DOUBLE, &sum, 0, 0}, {AV_COL_INT, &cnt, 0, 0}};
        av_store__arg q[2] = {AV_ARG_T(u->id), AV_ARG_T(u->classes[k])};
        st = s->drv->query(c,
                           "SELECT COALESCE(SUM(score), 0), COUNT(*) FROM inferences"
                           " WHERE ID = ? AND species = ?",
                           q, 2, cols, 2, NULL, NULL, err, errlen);
        char key[160];
        snprintf(key, sizeof key, "class:%s", u->classes[k]);
        if (st == AV_STORE_OK && cnt > 0)
            st = stat_add(s, c, key, sum, (int)cnt, err, errlen);
    }
    return st;
}

/* The new monitoring point: the running means, one row per tracked class. */
static av_store_status add_point(av_store *s, av_store__sess *c, fb_ud *u, char *err,
                                 size_t errlen)
{
    av_store_monitor_point *pt = &u->pt;
    int n_sat = 0, class_n[AV_STORE_MAX_CLASSES];
    av_store_status st = stat_mean(s, c, "satisfaction", &pt->user_satisfaction, &n_sat, err,
                                   errlen);
    pt->seq = n_sat;
    pt->n_classes = u->n_classes;
    for (int k = 0; st == AV_STORE_OK && k < u->n_classes; k++) {
        char key[160];
        snprintf(key, sizeof key, "class:%s", u->classes[k]);
        st = stat_mean(s, c, key, &pt->class_avg[k], &class_n[k], err, errlen);
    }
    if (st != AV_STORE_OK)
        return st;
    av_store__arg m[6] = {AV_ARG_T(u->id),
                          AV_ARG_D(u->n_classes > 0 ? pt->class_avg[0] : NAN),
                          AV_ARG_D(u->n_classes > 1 ? pt->class_avg[1] : NAN),
                          AV_ARG_D(u->n_classes > 2 ? pt->class_avg[2] : NAN),
                          AV_ARG_D(pt->user_satisfaction), AV_ARG_I(pt->seq)};
    st = s->drv->exec(c,
                      "INSERT INTO monitoring (imageID, avg_score_1, avg_score_2, avg_score_3,"
                      " user_satisfaction, seq) VALUES (?, ?, ?, ?, ?, ?)",
                      m, 6, NULL, NULL, err, errlen);
    for (int k = 0; st == AV_STORE_OK && k < u->n_classes; k++) {
        av_store__arg mc[4] = {AV_ARG_I(pt->seq), AV_ARG_T(u->classes[k]),
                               AV_ARG_D(pt->class_avg[k]), AV_ARG_I(class_n[k])};
        st = s->drv->exec(c,
                          "INSERT INTO monitoring_classes (seq, `class`, avg_score, n)"
                          " VALUES (?, ?, ?, ?)",
                          mc, 4, NULL, NULL, err, errlen);
    }
    return st;
}

static av_store_status fb_body(av_store *s, av_store__sess *c, void *ud, char *err,
                               size_t errlen)
{
    fb_ud *u = ud;
    memset(&u->pt, 0, sizeof u->pt);
    int64_t changed = 0;
    /* Claim the vote first: a second vote changes nothing. */
    av_store__arg a[1] = {AV_ARG_T(u->id)};
    av_store_status st =
        s->drv->exec(c, "UPDATE images SET voted = 1 WHERE ID = ? AND voted = 0", a, 1, &changed,
                     NULL, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    if (changed != 1) {
        int64_t exists = 0;
        st = av_store__int(s, c, "SELECT COUNT(*) FROM images WHERE ID = ?", a, 1, &exists, err,
                           errlen);
        if (st != AV_STORE_OK)
            return st;
        return exists ? av_store__fail(err, errlen, AV_STORE_CONFLICT, "image already voted on")
                      : AV_STORE_NOT_FOUND;
    }
    const av_store_feedback *fb = u->fb;
    av_store__arg f[5] = {AV_ARG_T(u->id), AV_ARG_T(fb->vote_yes ? "yes" : "no"),
                          fb->ground_truth >= 0 ? AV_ARG_I(fb->ground_truth) : AV_ARG_NUL,
                          fb->predicted >= 0 ? AV_ARG_I(fb->predicted) : AV_ARG_NUL,
                          AV_ARG_D(fb->satisfaction)};
    st = s->drv->exec(c,
                      "INSERT INTO feedback (imageID, vote, ground_truth, predicted, satisfaction)"
                      " VALUES (?, ?, ?, ?, ?)",
                      f, 5, NULL, NULL, err, errlen);
    if (st == AV_STORE_OK)
        st = stat_add(s, c, "satisfaction", fb->satisfaction, 1, err, errlen);
    if (st == AV_STORE_OK)
        st = add_class_scores(s, c, u, err, errlen);
    if (st == AV_STORE_OK)
        st = add_point(s, c, u, err, errlen);
    if (st == AV_STORE_OK)
        snprintf(u->pt.image_id, sizeof u->pt.image_id, "%s", u->id);
    return st;
}

av_store_status av_store_feedback_add(av_store *s, const char *id, const av_store_feedback *fb,
                                      const char *const *classes, int n_classes,
                                      av_store_monitor_point *point, char *err, size_t errlen)
{
    if (n_classes < 0 || n_classes > AV_STORE_MAX_CLASSES)
        return av_store__fail(err, errlen, AV_STORE_EARG, "at most %d tracked classes",
                              AV_STORE_MAX_CLASSES);
    if (!av_store_valid_id(id))
        return AV_STORE_NOT_FOUND;
    fb_ud u = {id, fb, classes, n_classes, {{0}}};
    av_store_status st = s->drv->tx(s, fb_body, &u, err, errlen);
    if (st == AV_STORE_OK && point)
        *point = u.pt;
    return st;
}

av_store_status av_store_feedback_count(av_store *s, int64_t *n, char *err, size_t errlen)
{
    return av_store__int(s, NULL, "SELECT COUNT(*) FROM feedback", NULL, 0, n, err, errlen);
}

/* ---- the monitoring series ---- */

typedef struct mon_ud {
    av_store_monitor_point *p, row;
    int n, cap, oom;
    int64_t seq;
} mon_ud;

static int mon_fn(void *ud)
{
    mon_ud *u = ud;
    if (av_store__grow((void **)&u->p, &u->cap, u->n + 1, sizeof *u->p)) {
        u->oom = 1;
        return 1;
    }
    u->row.seq = (int)u->seq;
    u->p[u->n++] = u->row;
    return 0;
}

/* Rows of one class come ordered by seq, as the points do: merge. */
typedef struct cls_ud {
    av_store_monitor_point *p;
    int n, k, at;
    int64_t seq;
    double avg;
} cls_ud;

static int cls_fn(void *ud)
{
    cls_ud *u = ud;
    while (u->at < u->n && u->p[u->at].seq < u->seq)
        u->at++;
    if (u->at < u->n && u->p[u->at].seq == u->seq)
        u->p[u->at].class_avg[u->k] = u->avg;
    return 0;
}

av_store_status av_store_monitoring_list(av_store *s, const char *const *classes, int n_classes,
                                         av_store_monitor_point **out, int *n, char *err,
                                         size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (n_classes < 0 || n_classes > AV_STORE_MAX_CLASSES)
        return AV_STORE_EARG;
    av_store__sess *c = NULL;
    av_store_status st = s->drv->sess_get(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    mon_ud u;
    memset(&u, 0, sizeof u);
    av_store__col cols[4] = {
        {AV_COL_TEXT, u.row.image_id, sizeof u.row.image_id, 0},
        {AV_COL_TEXT, u.row.timestamp, sizeof u.row.timestamp, 0},
        {AV_COL_INT, &u.seq, 0, 0},
        {AV_COL_DOUBLE, &u.row.user_satisfaction, 0, 0},
    };
    char ts[160], sql[256];
    snprintf(sql, sizeof sql,
             "SELECT imageID, %s, seq, user_satisfaction FROM monitoring ORDER BY seq",
             av_store__sql_wrap(s->drv->ts_text, "`timestamp`", ts, sizeof ts));
    st = s->drv->query(c, sql, NULL, 0, cols, 4, mon_fn, &u, err, errlen);
    if (st == AV_STORE_OK && u.oom)
        st = av_store__fail(err, errlen, AV_STORE_ENOMEM, "out of memory");
    for (int i = 0; i < u.n && st == AV_STORE_OK; i++) {
        u.p[i].n_classes = n_classes;
        for (int k = 0; k < n_classes; k++)
            u.p[i].class_avg[k] = NAN;
    }
    /* Tracked classes: one pass per class over monitoring_classes. */
    for (int k = 0; k < n_classes && st == AV_STORE_OK && u.n; k++) {
        cls_ud cu = {u.p, u.n, k, 0, 0, NAN};
        av_store__col cc[2] = {{AV_COL_INT, &cu.seq, 0, 0}, {AV_COL_DOUBLE, &cu.avg, 0, 0}};
        av_store__arg a[1] = {AV_ARG_T(classes[k])};
        st = s->drv->query(c,
                           "SELECT seq, avg_score FROM monitoring_classes WHERE `class` = ?"
                           " ORDER BY seq",
                           a, 1, cc, 2, cls_fn, &cu, err, errlen);
    }
    s->drv->sess_put(s, c);
    if (st != AV_STORE_OK) {
        free(u.p);
        return st;
    }
    *out = u.p;
    *n = u.n;
    return AV_STORE_OK;
}
