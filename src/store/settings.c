/*
 * settings.c - site settings in the database (schema v6, site_settings),
 * written once on the generic statement layer for both drivers.
 */
#include "store/driver.h"

#include <stdio.h>
#include <string.h>

static int key_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (!n || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || k[i] == '_'))
            return 0;
    return 1;
}

av_store_status av_store_setting_get(av_store *s, const char *key, char *out, size_t cap,
                                     int *found, char *err, size_t errlen)
{
    if (cap)
        out[0] = '\0';
    *found = 0;
    if (!key_ok(key))
        return av_store__fail(err, errlen, AV_STORE_EARG, "setting: bad key");
    int64_t one = 0;
    av_store__col c[2] = {{AV_COL_TEXT, out, cap, 0}, {AV_COL_INT, &one, 0, 0}};
    av_store__arg a[1] = {AV_ARG_T(key)};
    av_store_status st = av_store__query1(s, "SELECT v, 1 FROM site_settings WHERE k = ?", a, 1,
                                          c, 2, NULL, NULL, err, errlen);
    *found = st == AV_STORE_OK && one;
    return st;
}

av_store_status av_store_setting_put(av_store *s, const char *key, const char *value, char *err,
                                     size_t errlen)
{
    if (!key_ok(key) || !value || strlen(value) > AV_STORE_SETTING_MAX)
        return av_store__fail(err, errlen, AV_STORE_EARG, "setting: bad key or value too long");
    av_store__arg a[3] = {AV_ARG_T(key), AV_ARG_T(value), AV_ARG_T(value)};
    char up[64], sql[160];
    snprintf(sql, sizeof sql, "INSERT INTO site_settings (k, v) VALUES (?, ?) %s v = ?",
             av_store__sql_wrap(s->drv->upsert, "k", up, sizeof up));
    return av_store__exec1(s, sql, a, 3, NULL, err, errlen);
}

av_store_status av_store_setting_delete(av_store *s, const char *key, char *err, size_t errlen)
{
    if (!key_ok(key))
        return av_store__fail(err, errlen, AV_STORE_EARG, "setting: bad key");
    av_store__arg a[1] = {AV_ARG_T(key)};
    return av_store__exec1(s, "DELETE FROM site_settings WHERE k = ?", a, 1, NULL, err, errlen);
}
