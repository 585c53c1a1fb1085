/*
 * auth.h - who is asking, and what they may do (internal to src/web).
 *
 * A request is the owner's when it carries a valid session cookie (pages)
 * or API token (Authorization: Bearer, /api/ only: the API ignores cookies,
 * so a browser cannot be made to call it with the owner's rights); anyone
 * else is a guest, with the rights --guest gives. Every state-changing
 * request must come from this site (Origin, else Sec-Fetch-Site, else
 * Referer), and a form posted with the session cookie must carry the
 * session's CSRF token.
 */
#ifndef AV_WEB_AUTH_H
#define AV_WEB_AUTH_H

#include "store/store.h"

#define AV_WEB_LOGIN_FIELD_MAX 1024 /* the longest password accepted */

typedef struct av_web__auth {
    int owner;        /* signed in (session) or API token */
    int by_session;   /* the session cookie made it the owner's: forms need csrf */
    int refused;      /* a form's CSRF token was missing or wrong (seen mid-body) */
    char user[AV_STORE_USER_NAME_MAX + 1];
    char csrf[AV_STORE_TOKEN_LEN + 1];    /* the session's CSRF token; "" for guests */
    char session[AV_STORE_TOKEN_LEN + 1]; /* the cookie's token, for sign-out */
    /* form fields */
    char form_csrf[AV_STORE_TOKEN_LEN + 2];
    char login_user[AV_STORE_USER_NAME_MAX + 2];
    char login_pw[AV_WEB_LOGIN_FIELD_MAX + 2];
    char form_tracked[AV_STORE_SETTING_MAX + 2]; /* POST /settings: the tracked species */
    int field_too_long;
} av_web__auth;

struct av_web__req;
/* upload.c's form iterator hands the "csrf" field here (any chunking). */
void av_web__auth_csrf_field(struct av_web__req *r, const char *data, uint64_t off, size_t size);
/* 1 when a form posted so far may go on: no session cookie, or the csrf
 * field received matches the session's. */
int av_web__auth_csrf_ok(const struct av_web__req *r);

#endif
