/*
 * claim.c - a lease on an image's analysis (schema v3, analysis_claims),
 * written once on the generic statement layer for both drivers.
 *
 * Claiming is one INSERT, or, when a claim exists, one UPDATE that moves it
 * forward only if it is older than the lease: of several nodes racing, the
 * database lets exactly one statement hit.
 */
#include "store/driver.h"
#include "base/base.h"

#include <stdio.h>
#include <time.h>

av_store_status av_store_analysis_claim(av_store *s, const char *id, int lease_ms, int *claimed,
                                        char *err, size_t errlen)
{
    *claimed = 0;
    if (!av_store_valid_id(id) || lease_ms <= 0)
        return av_store__fail(err, errlen, AV_STORE_EARG, "claim: bad id or lease");
    const av_store_driver *d = s->drv;
    av_store__sess *c = NULL;
    av_store_status st = d->sess_get(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    int64_t now = av_base_wall_ms();
    av_store__arg ins[2] = {AV_ARG_T(id), AV_ARG_I(now)};
    st = d->exec(c, "INSERT INTO analysis_claims (ID, claimed_at) VALUES (?, ?)", ins, 2, NULL,
                 NULL, err, errlen);
    if (st == AV_STORE_OK) {
        *claimed = 1;
    } else if (st == AV_STORE_CONFLICT) {
        int64_t changes = 0;
        av_store__arg up[3] = {AV_ARG_I(now), AV_ARG_T(id), AV_ARG_I(now - lease_ms)};
        st = d->exec(c, "UPDATE analysis_claims SET claimed_at = ? WHERE ID = ? AND claimed_at < ?",
                     up, 3, &changes, NULL, err, errlen);
        *claimed = st == AV_STORE_OK && changes == 1;
    }
    d->sess_put(s, c);
    return st;
}

av_store_status av_store_analysis_release(av_store *s, const char *id, char *err, size_t errlen)
{
    if (!av_store_valid_id(id))
        return av_store__fail(err, errlen, AV_STORE_EARG, "claim: bad id");
    const av_store_driver *d = s->drv;
    av_store__sess *c = NULL;
    av_store_status st = d->sess_get(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    av_store__arg a[1] = {AV_ARG_T(id)};
    st = d->exec(c, "DELETE FROM analysis_claims WHERE ID = ?", a, 1, NULL, NULL, err, errlen);
    d->sess_put(s, c);
    return st;
}

av_store_status av_store_analysis_note(av_store *s, const char *id, const char *why, char *err,
                                       size_t errlen)
{
    if (!av_store_valid_id(id) || !why)
        return av_store__fail(err, errlen, AV_STORE_EARG, "note: bad id");
    const av_store_driver *d = s->drv;
    av_store__sess *c = NULL;
    av_store_status st = d->sess_get(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    char text[256]; /* the column is shown as is: keep it short */
    snprintf(text, sizeof text, "%s", why);
    av_store__arg a[2] = {AV_ARG_T(text), AV_ARG_T(id)};
    st = d->exec(c, "UPDATE images SET error = ? WHERE ID = ? AND status = 'pending'", a, 2,
                 NULL, NULL, err, errlen);
    d->sess_put(s, c);
    return st;
}

av_store_status av_store_analysis_renew(av_store *s, const char *id, char *err, size_t errlen)
{
    if (!av_store_valid_id(id))
        return av_store__fail(err, errlen, AV_STORE_EARG, "renew: bad id");
    const av_store_driver *d = s->drv;
    av_store__sess *c = NULL;
    av_store_status st = d->sess_get(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    av_store__arg a[2] = {AV_ARG_I(av_base_wall_ms()), AV_ARG_T(id)};
    st = d->exec(c, "UPDATE analysis_claims SET claimed_at = ? WHERE ID = ?", a, 2, NULL, NULL,
                 err, errlen);
    d->sess_put(s, c);
    return st;
}

av_store_status av_store_analysis_orphans(av_store *s, int lease_ms,
                                          char (*ids)[AV_STORE_ID_LEN + 1], int max, int *n,
                                          char *err, size_t errlen)
{
    *n = 0;
    if (max <= 0 || lease_ms < 0)
        return av_store__fail(err, errlen, AV_STORE_EARG, "orphans: bad arguments");
    const av_store_driver *d = s->drv;
    av_store__sess *c = NULL;
    av_store_status st = d->sess_get(s, &c, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    av_store__id_rows r = {.ids = ids, .max = max};
    av_store__col cols[1] = {{AV_COL_TEXT, r.cur, sizeof r.cur, 0}};
    av_store__arg a[2] = {AV_ARG_I(av_base_wall_ms() - lease_ms), AV_ARG_I(max)};
    st = d->query(c,
                  "SELECT i.ID FROM images i LEFT JOIN analysis_claims c ON c.ID = i.ID"
                  " WHERE i.status = 'pending' AND (c.ID IS NULL OR c.claimed_at < ?)"
                  " ORDER BY i.created_at, i.ID LIMIT ?",
                  a, 2, cols, 1, av_store__id_row, &r, err, errlen);
    d->sess_put(s, c);
    *n = r.n;
    return st;
}
