/*
 * stmt.c - one statement on a pooled session, for the driver-independent
 * code (video.c, users.c, delete.c, images.c) that needs no transaction,
 * and one integer read.
 */
#include "store/driver.h"
#include "base/base.h"

#include <stdio.h>
#include <time.h>

av_store_status av_store__exec1(av_store *s, const char *sql, const av_store__arg *a, int n,
                                int64_t *changes, char *err, size_t errlen)
{
    av_store__sess *c = NULL;
    av_store_status st = s->drv->sess_get(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    st = s->drv->exec(c, sql, a, n, changes, NULL, err, errlen);
    s->drv->sess_put(s, c);
    return st;
}

av_store_status av_store__query1(av_store *s, const char *sql, const av_store__arg *a, int n,
                                 av_store__col *cols, int ncols, av_store__row_fn fn, void *ud,
                                 char *err, size_t errlen)
{
    av_store__sess *c = NULL;
    av_store_status st = s->drv->sess_get(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    st = s->drv->query(c, sql, a, n, cols, ncols, fn, ud, err, errlen);
    s->drv->sess_put(s, c);
    return st;
}

static int first_row(void *ud)
{
    (void)ud;
    return 1;
}

av_store_status av_store__int(av_store *s, av_store__sess *c, const char *sql,
                              const av_store__arg *a, int n, int64_t *v, char *err,
                              size_t errlen)
{
    *v = 0;
    av_store__col col = {AV_COL_INT, v, 0, 0};
    if (!c)
        return av_store__query1(s, sql, a, n, &col, 1, first_row, NULL, err, errlen);
    return s->drv->query(c, sql, a, n, &col, 1, first_row, NULL, err, errlen);
}

const char *av_store__sql_wrap(av_store__wrap w, const char *arg, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s", w.pre, w.drop_arg ? "" : arg, w.post);
    return buf;
}

int av_store__grow(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    if (need > AV_STORE__MAX_ROWS)
        return -1;
    size_t c = (size_t)*cap;
    if (av_base_grow(p, &c, (size_t)need, elem))
        return -1;
    *cap = c > (size_t)AV_STORE__MAX_ROWS ? AV_STORE__MAX_ROWS : (int)c;
    return 0;
}
