/*
 * auth.c - accounts on the web side: who asks (session cookie or API
 * token), what guests may do (--guest), same-origin and CSRF checks, the
 * sign-in and sign-out forms with their rate limit, the settings page,
 * deleting an upload, and the /metrics bearer token. See auth.h.
 */
#include "web/internal.h"

#include "log/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define COOKIE "aviary_session"
#define SESSION_TTL_S (7 * 24 * 3600)
/* Failed sign-ins allowed per window, per account and per client address:
 * enough for typos, far too few for guessing an Argon2id password. */
#define LOGIN_WINDOW_S (15 * 60)
#define LOGIN_MAX_PER_USER 5
#define LOGIN_MAX_PER_ADDR 20
/* Argon2id checks running at once per node: each takes 64 MiB and an HTTP
 * thread for ~0.15 s, so a flood of sign-ins from many addresses answers
 * 503 instead of taking every thread and a lot of memory. */
#define LOGIN_MAX_HASHING 2

/* What a route needs. */
enum { NEED_NONE, NEED_VIEW, NEED_UPLOAD, NEED_VOTE, NEED_OWNER };

static int need_of(const av_web__auth *a, const av_web *w, int right)
{
    return a->owner || (av_web__guest_bits(w) & right);
}

/* "/uploads/<id>/delete" -> id into out. */
static int delete_route(const char *url, char *out)
{
    static const char pre[] = "/uploads/";
    if (strncmp(url, pre, sizeof pre - 1))
        return 0;
    const char *id = url + sizeof pre - 1;
    if (strlen(id) != AV_STORE_ID_LEN + 7 || strcmp(id + AV_STORE_ID_LEN, "/delete"))
        return 0;
    memcpy(out, id, AV_STORE_ID_LEN);
    out[AV_STORE_ID_LEN] = '\0';
    return av_store_valid_id(out);
}

static int need(const char *url, const char *method)
{
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    char id[AV_STORE_ID_LEN + 1];
    if (!strcmp(url, "/healthz") || !strcmp(url, "/readyz") || !strcmp(url, "/metrics") ||
        !strncmp(url, "/static/", 8) || !strcmp(url, "/login") || !strcmp(url, "/logout"))
        return NEED_NONE;
    if (!strcmp(url, "/settings") || !strcmp(url, "/monitor/retrain") || delete_route(url, id) ||
        (!strcmp(method, "DELETE") && !strncmp(url, "/api/v1/images/", 15)))
        return NEED_OWNER;
    if (get)
        return NEED_VIEW;
    if (!strcmp(method, "POST") && (!strcmp(url, "/upload") || !strcmp(url, "/api/v1/images")))
        return NEED_UPLOAD;
    if (!strcmp(method, "POST") && !strncmp(url, "/uploads/", 9))
        return NEED_VOTE;
    if (!strcmp(method, "POST") &&
        (!strncmp(url, "/api/v1/images/", 15) || !strncmp(url, "/api/v1/visits/", 15)))
        return NEED_VOTE; /* a per-bird or per-visit review */
    return NEED_NONE; /* the router answers 404 or 405 */
}

/* ---- same origin ---- */

/* The authority of an "http(s)://host[:port][/...]" URL into out; -1 if it is not one. */
static int authority(const char *url, char *out, size_t cap)
{
    const char *p = !strncasecmp(url, "https://", 8) ? url + 8
                    : !strncasecmp(url, "http://", 7) ? url + 7
                                                      : NULL;
    if (!p)
        return -1;
    size_t n = strcspn(p, "/?#");
    if (n == 0 || n >= cap)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* origin's authority names host: equal, or, when host carries no port (a
 * proxy passing $host), the same host name. */
static int names_host(const char *auth, const char *host)
{
    if (!host || !*host)
        return 0;
    if (!strcasecmp(auth, host))
        return 1;
    if (strchr(host, ':') || strchr(host, ']'))
        return 0;
    size_t n = strlen(host);
    return !strncasecmp(auth, host, n) && auth[n] == ':';
}

/* A state-changing request from a page of another site is refused:
 * browsers send Origin (else Sec-Fetch-Site, else Referer); clients that
 * send none of them (curl, scripts) are not browsers and carry no cookie
 * of a victim. */
static int same_origin(struct MHD_Connection *c)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    const char *fwd = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Host");
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    const char *referer = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Referer");
    char a[300];
    const char *from = origin ? origin : (site ? NULL : referer);
    if (!origin && site)
        return !strcmp(site, "same-origin") || !strcmp(site, "none");
    if (!from)
        return 1;
    if (authority(from, a, sizeof a))
        return 0; /* "null", or not a URL */
    return names_host(a, host) || names_host(a, fwd);
}

/* ---- identity ---- */

static int bearer(struct MHD_Connection *c, const char **token)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h)
        return 0;
    *token = !strncasecmp(h, "Bearer ", 7) ? h + 7 : "";
    return 1;
}

/* Who asks: -1 with a 401 queued for a bad API token, 1 for a store error
 * (treated as a guest, logged), else 0. */
static int resolve(av_web__req *r, const char *url, av_web__auth *a)
{
    av_web *w = r->w;
    struct MHD_Connection *c = r->c;
    char err[512] = "";
    av_store_user u;
    if (!strncmp(url, "/api/", 5)) {
        const char *tok;
        if (!bearer(c, &tok))
            return 0;
        av_store_status st = av_store_user_by_api_token(w->o.store, tok, &u, err, sizeof err);
        if (st == AV_STORE_OK) {
            a->owner = 1;
            snprintf(a->user, sizeof a->user, "%s", u.name);
            return 0;
        }
        if (st != AV_STORE_NOT_FOUND)
            av_log(AV_LOG_ERROR, "auth_failed", "error", err, NULL);
        static const char *const hdrs[] = {"WWW-Authenticate", "Bearer realm=\"aviary\"", NULL};
        static const char body[] = "{\"error\":\"invalid API token\"}\n";
        av_web__send_hdrs(r, MHD_HTTP_UNAUTHORIZED, "application/json", body, sizeof body - 1,
                          NULL, hdrs);
        return -1;
    }
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
    if (!cookie)
        return 0;
    av_store_status st = av_store_session_get(w->o.store, cookie, &u, a->csrf, err, sizeof err);
    if (st == AV_STORE_OK) {
        a->owner = a->by_session = 1;
        snprintf(a->user, sizeof a->user, "%s", u.name);
        snprintf(a->session, sizeof a->session, "%s", cookie);
        return 0;
    }
    a->csrf[0] = '\0';
    if (st != AV_STORE_NOT_FOUND) {
        av_log(AV_LOG_ERROR, "session_lookup_failed", "error", err, NULL);
        return 1;
    }
    return 0;
}

/* The client's address for the rate limit: the peer, or, when the peer is
 * a trusted proxy, the last X-Forwarded-For entry (the one it added). */
static void client_addr(av_web__req *r, char *out, size_t cap)
{
    av_web *w = r->w;
    struct MHD_Connection *c = r->c;
    snprintf(out, cap, "unknown");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
    const char *list = w->o.trusted_proxies;
    const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
    if (!list || !*list || !xff)
        return;
    size_t n = strlen(out);
    int trusted = 0;
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        while (k && p[k - 1] == ' ')
            k--;
        if (k == n && !strncmp(p, out, n))
            trusted = 1;
        p += strcspn(p, ",");
        while (*p == ',' || *p == ' ')
            p++;
    }
    if (!trusted)
        return;
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    while (*last == ' ')
        last++;
    size_t k = strspn(last, "0123456789abcdefABCDEF.:"); /* an IP address, nothing else */
    if (k > 0 && k < cap && k < 64 && (!last[k] || last[k] == ' ')) {
        memcpy(out, last, k);
        out[k] = '\0';
    }
}

/* ---- form fields ---- */

static void append(char *dst, size_t cap, int *too_long, const char *data, uint64_t off,
                   size_t size)
{
    size_t have = off ? strlen(dst) : 0;
    if (have + size + 1 > cap) {
        *too_long = 1;
        return;
    }
    if (size)
        memcpy(dst + have, data, size);
    dst[have + size] = '\0';
}

void av_web__auth_csrf_field(av_web__req *r, const char *data, uint64_t off, size_t size)
{
    append(r->auth.form_csrf, sizeof r->auth.form_csrf, &r->auth.field_too_long, data, off,
           size);
}

int av_web__auth_csrf_ok(const av_web__req *r)
{
    const av_web__auth *a = &r->auth;
    if (!a->by_session)
        return 1;
    return strlen(a->form_csrf) == AV_STORE_TOKEN_LEN &&
           sodium_memcmp(a->form_csrf, a->csrf, AV_STORE_TOKEN_LEN) == 0;
}

static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *filename, const char *content_type,
                                  const char *transfer_encoding, const char *data, uint64_t off,
                                  size_t size)
{
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
    av_web__auth *a = &((av_web__req *)cls)->auth;
    if (!strcmp(key, "csrf"))
        append(a->form_csrf, sizeof a->form_csrf, &a->field_too_long, data, off, size);
    else if (!strcmp(key, "user"))
        append(a->login_user, sizeof a->login_user, &a->field_too_long, data, off, size);
    else if (!strcmp(key, "password"))
        append(a->login_pw, sizeof a->login_pw, &a->field_too_long, data, off, size);
    else if (!strcmp(key, "tracked"))
        append(a->form_tracked, sizeof a->form_tracked, &a->field_too_long, data, off, size);
    return MHD_YES;
}

void av_web__auth_clear(av_web__req *r)
{
    sodium_memzero(r->auth.login_pw, sizeof r->auth.login_pw);
}

/* ---- pages ---- */

static void cookie_header(struct MHD_Connection *c, const char *value, int max_age, char *out,
                          size_t cap)
{
    const char *proto = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Proto");
    int tls = proto && !strcasecmp(proto, "https");
    snprintf(out, cap, COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s", value,
             max_age, tls ? "; Secure" : "");
}

static enum MHD_Result see_other(av_web__req *r, const char *location, const char *set_cookie)
{
    const char *hdrs[] = {"Location", location, set_cookie ? "Set-Cookie" : NULL, set_cookie,
                          NULL};
    return av_web__send_hdrs(r, MHD_HTTP_SEE_OTHER, "text/plain; charset=utf-8", "", 0, NULL,
                             hdrs);
}

static enum MHD_Result login_page(av_web__req *r, unsigned status, const char *error,
                                  const char *const *hdrs)
{
    av_web *w = r->w;
    av_web__buf note, b;
    av_web__buf_init(&note, 4096);
    if (error) {
        av_web__buf_str(&note, "<p class=\"error\" role=\"alert\">");
        av_web__buf_html(&note, error);
        av_web__buf_str(&note, "</p>");
    }
    if (r && r->auth.owner) {
        av_web__buf_str(&note, "<p class=\"note\">You are signed in as <strong>");
        av_web__buf_html(&note, r->auth.user);
        av_web__buf_str(&note, "</strong>.</p>");
    }
    char hint[1600];
    if (av_web__owner_hint(w, hint, sizeof hint)) {
        av_web__buf_str(&note, "<p class=\"note\">");
        av_web__buf_html(&note, hint);
        av_web__buf_str(&note, "</p>");
    }
    const char *kv[] = {"note", note.p ? note.p : "", NULL};
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    av_web__page(r, &b, "Sign in - Aviary", "login.html", kv, NULL);
    av_web__buf_free(&note);
    return av_web__send_page(r, status, &b, hdrs);
}

static enum MHD_Result settings_page(av_web__req *r, const char *note, unsigned status)
{
    av_web *w = r->w;
    av_web__buf rows, b;
    av_web__buf_init(&rows, 1 << 16);
    int g = av_web__guest_bits(w);
    char guest[64];
    snprintf(guest, sizeof guest, "%s%s%s", g & AV_WEB_GUEST_VIEW ? "view" : "nothing",
             g & AV_WEB_GUEST_UPLOAD ? ", upload" : "", g & AV_WEB_GUEST_VOTE ? ", vote" : "");
    av_web__buf_str(&rows, "<tr><th scope=\"row\">guests may</th><td>");
    av_web__buf_html(&rows, guest);
    av_web__buf_str(&rows, "</td></tr>");
    for (const char *const *p = w->o.settings; p && p[0] && p[1]; p += 2) {
        av_web__buf_str(&rows, "<tr><th scope=\"row\">");
        av_web__buf_html(&rows, p[0]);
        av_web__buf_str(&rows, "</th><td><code>");
        av_web__buf_html(&rows, p[1]);
        av_web__buf_str(&rows, "</code></td></tr>");
    }
    /* the species the monitor tracks: editable here, for every node */
    av_web__buf form;
    av_web__buf_init(&form, 1 << 16);
    av_web__tracked_set t;
    av_web__tracked(w, &t);
    if (note) {
        av_web__buf_str(&form, "<p class=\"error\" role=\"alert\">");
        av_web__buf_html(&form, note);
        av_web__buf_str(&form, "</p>");
    }
    av_web__buf_str(&form, "<form method=\"post\" action=\"/settings\">");
    av_web__csrf_input(r, &form);
    av_web__buf_str(&form, "<div class=\"field\"><label for=\"tracked\">Species the monitor"
                           " tracks</label><p class=\"meta\" id=\"tracked-help\">Scientific"
                           " or common names, one a line or separated by commas (at most 32);"
                           " empty: back to the --tracked setting.</p><textarea id=\"tracked\""
                           " name=\"tracked\" rows=\"5\" cols=\"40\""
                           " aria-describedby=\"tracked-help\">");
    for (int k = 0; k < t.n; k++) {
        av_web__buf_html(&form, t.names[k]);
        av_web__buf_str(&form, "\n");
    }
    av_web__buf_str(&form, "</textarea></div><button type=\"submit\">Save</button></form>");
    const char *kv[] = {"rows", rows.p ? rows.p : "", "tracked_form", form.p ? form.p : "",
                        NULL};
    av_web__buf_init(&b, AV_WEB_PAGE_LIMIT);
    av_web__page(r, &b, "Settings - Aviary", "settings.html", kv, NULL);
    av_web__buf_free(&rows);
    av_web__buf_free(&form);
    return av_web__send_page(r, status, &b, NULL);
}

int av_web__owner_hint(av_web *w, char *out, size_t cap)
{
    static int seen_owner; /* once an owner exists, stop asking the database */
    out[0] = '\0';
    if (!w->o.store || __atomic_load_n(&seen_owner, __ATOMIC_RELAXED))
        return 0;
    int64_t n = 0;
    char err[512];
    if (av_store_owner_count(w->o.store, &n, err, sizeof err) != AV_STORE_OK)
        return 0;
    if (n > 0) {
        __atomic_store_n(&seen_owner, 1, __ATOMIC_RELAXED);
        return 0;
    }
    snprintf(out, cap,
             "No owner account exists yet, so nobody can sign in, delete uploads or see the"
             " settings. On the server, run: %s",
             w->o.owner_hint && *w->o.owner_hint ? w->o.owner_hint : "aviary user add NAME");
    return 1;
}

/* ---- refusals ---- */

/* A refusal: JSON for the API (with the Bearer challenge on 401), else a page. */
static enum MHD_Result refuse(av_web__req *r, int api, unsigned status, const char *text)
{
    if (api) {
        char body[300];
        int n = snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", text);
        static const char *const hdrs[] = {"WWW-Authenticate", "Bearer realm=\"aviary\"", NULL};
        return av_web__send_hdrs(r, status, "application/json", body, (size_t)n, NULL,
                                 status == MHD_HTTP_UNAUTHORIZED ? hdrs : NULL);
    }
    return av_web__message(r, status,
                           status == MHD_HTTP_FORBIDDEN ? "Not allowed" : "Sign in needed", text);
}

/* ---- the hooks ---- */

int av_web__auth_begin(av_web__req *r, const char *url, const char *method)
{
    av_web *w = r->w;
    struct MHD_Connection *c = r->c;
    av_web__auth *a = &r->auth;
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    int api = !strncmp(url, "/api/", 5);

    if (!strcmp(url, "/metrics") && w->o.metrics_token && *w->o.metrics_token) {
        const char *tok = NULL;
        size_t n = strlen(w->o.metrics_token);
        if (!bearer(c, &tok) || strlen(tok) != n ||
            sodium_memcmp(tok, w->o.metrics_token, n) != 0) {
            static const char *const hdrs[] = {"WWW-Authenticate", "Bearer realm=\"metrics\"",
                                               NULL};
            av_web__send_hdrs(r, MHD_HTTP_UNAUTHORIZED, "text/plain; charset=utf-8",
                              "metrics need Authorization: Bearer TOKEN\n", 42, NULL, hdrs);
            return -1;
        }
    }
    if (!w->o.store)
        return 0;
    if (strncmp(url, "/static/", 8) && resolve(r, url, a) < 0)
        return -1;
    if (!get && !same_origin(c)) {
        av_log(AV_LOG_WARN, "cross_site_refused", "method", method, "url", url, NULL);
        refuse(r, api, MHD_HTTP_FORBIDDEN,
               "cross-site request refused: this form was not sent from this site");
        return -1;
    }
    int n = need(url, method);
    int ok = n == NEED_NONE || (n == NEED_VIEW && need_of(a, w, AV_WEB_GUEST_VIEW)) ||
             (n == NEED_UPLOAD && need_of(a, w, AV_WEB_GUEST_UPLOAD)) ||
             (n == NEED_VOTE && need_of(a, w, AV_WEB_GUEST_VOTE)) || (n == NEED_OWNER && a->owner);
    if (!ok) {
        if (!api && get) {
            see_other(r, "/login", NULL);
            return -1;
        }
        refuse(r, api, api ? MHD_HTTP_UNAUTHORIZED : MHD_HTTP_FORBIDDEN,
               api ? "this needs the owner's API token (Authorization: Bearer TOKEN)"
               : n == NEED_OWNER ? "Only the owner may do this. Sign in first."
               : n == NEED_UPLOAD ? "Uploads are open to signed-in users only here."
                                  : "Feedback is open to signed-in users only here.");
        return -1;
    }

    char id[AV_STORE_ID_LEN + 1];
    if (get && !strcmp(url, "/login"))
    {
        login_page(r, MHD_HTTP_OK, NULL, NULL);
        return -1;
    }
    if (get && !strcmp(url, "/settings")) {
        settings_page(r, NULL, MHD_HTTP_OK);
        return -1;
    }
    if (!strcmp(method, "DELETE") && !strncmp(url, "/api/v1/images/", 15)) {
        if (!av_store_valid_id(url + 15)) {
            refuse(r, 1, MHD_HTTP_NOT_FOUND, "no such image");
            return -1;
        }
        r->route = AV_WEB_ROUTE_AUTH; /* answered at the end of the (empty) body */
        return 0;
    }
    if (!strcmp(method, "POST") && (!strcmp(url, "/login") || !strcmp(url, "/logout") ||
                                    !strcmp(url, "/settings") || delete_route(url, id) ||
                                    !strcmp(url, "/monitor/retrain"))) {
        r->route = AV_WEB_ROUTE_AUTH;
        /* NULL without a form body: the fields stay empty and are refused */
        r->pp = MHD_create_post_processor(c, 4096, form_field, r);
    }
    return 0;
}

int av_web__auth_body_ok(av_web__req *r)
{
    if (!r->auth.refused && av_web__auth_csrf_ok(r))
        return 0;
    av_log(AV_LOG_WARN, "csrf_refused", "user", r->auth.user, NULL);
    av_web__message(r, MHD_HTTP_FORBIDDEN, "This form has expired",
                    "The form did not carry this session's security token. Reload the page"
                    " and send it again.");
    return -1;
}

/* Remove an upload everywhere: the store, then this node's cached files
 * (other nodes drop theirs when asked for them: images.c checks the store). */
static av_store_status delete_upload(av_web *w, const char *id, const char *user, char *err,
                                     size_t errlen)
{
    av_store_image img;
    av_store_status st = av_store_image_get(w->o.store, id, 0, &img, err, errlen);
    if (st == AV_STORE_OK)
        st = av_store_image_delete(w->o.store, id, err, errlen);
    if (st != AV_STORE_OK)
        return st;
    char path[1200];
    snprintf(path, sizeof path, "%s/originals/%s.%s", w->o.data_dir, id, img.ext);
    unlink(path);
    static const char *const annotated[] = {"jpg", "png"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/inferenced/%s.%s", w->o.data_dir, id, annotated[i]);
        unlink(path);
    }
    av_store_image_clear(&img);
    av_log(AV_LOG_INFO, "upload_deleted", "id", id, "user", user, NULL);
    return AV_STORE_OK;
}

static enum MHD_Result sign_in(av_web__req *r)
{
    av_web *w = r->w;
    struct MHD_Connection *c = r->c;
    av_web__auth *a = &r->auth;
    char addr[80], kuser[80], kaddr[100], err[512] = "";
    client_addr(r, addr, sizeof addr);
    snprintf(kuser, sizeof kuser, "user:%s", a->login_user);
    snprintf(kaddr, sizeof kaddr, "addr:%s", addr);
    if (a->field_too_long || !a->login_user[0] || !a->login_pw[0])
        return login_page(r, MHD_HTTP_BAD_REQUEST, "Enter your user name and password.",
                          NULL);
    /* a name no account can have is counted against the address only */
    int named = av_store_user_name_ok(a->login_user);
    int retry_u = 0, retry_a = 0;
    if ((named && av_store_login_blocked(w->o.store, kuser, LOGIN_MAX_PER_USER, LOGIN_WINDOW_S,
                                         &retry_u, err, sizeof err) != AV_STORE_OK) ||
        av_store_login_blocked(w->o.store, kaddr, LOGIN_MAX_PER_ADDR, LOGIN_WINDOW_S, &retry_a,
                               err, sizeof err) != AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "login_failed", "error", err, NULL);
        return av_web__message(r, MHD_HTTP_SERVICE_UNAVAILABLE, "Try again shortly",
                               "Signing in is not possible just now.");
    }
    if (retry_u || retry_a) {
        int s = retry_u > retry_a ? retry_u : retry_a;
        char after[16], text[160];
        snprintf(after, sizeof after, "%d", s);
        snprintf(text, sizeof text,
                 "Too many failed sign-ins. Try again in %d minute%s.", (s + 59) / 60,
                 (s + 59) / 60 == 1 ? "" : "s");
        av_log(AV_LOG_WARN, "login_rate_limited", "user", named ? a->login_user : "(invalid name)",
               "addr", addr, NULL);
        const char *hdrs[] = {"Retry-After", after, NULL};
        return login_page(r, MHD_HTTP_TOO_MANY_REQUESTS, text, hdrs);
    }
    static int hashing;
    if (__atomic_add_fetch(&hashing, 1, __ATOMIC_ACQ_REL) > LOGIN_MAX_HASHING) {
        __atomic_sub_fetch(&hashing, 1, __ATOMIC_ACQ_REL);
        av_web__auth_clear(r);
        av_log(AV_LOG_WARN, "login_busy", "addr", addr, NULL);
        static const char *const hdrs[] = {"Retry-After", "1", NULL};
        return login_page(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "Many sign-ins are being checked right now. Please try again.", hdrs);
    }
    av_store_user u;
    av_store_status st = av_store_user_verify(w->o.store, a->login_user, a->login_pw, &u, err,
                                              sizeof err);
    __atomic_sub_fetch(&hashing, 1, __ATOMIC_ACQ_REL);
    av_web__auth_clear(r);
    if (st == AV_STORE_NOT_FOUND) {
        if (named)
            av_store_login_failed(w->o.store, kuser, LOGIN_WINDOW_S, err, sizeof err);
        av_store_login_failed(w->o.store, kaddr, LOGIN_WINDOW_S, err, sizeof err);
        av_log(AV_LOG_WARN, "login_refused", "user", named ? a->login_user : "(invalid name)",
               "addr", addr, NULL);
        return login_page(r, MHD_HTTP_UNAUTHORIZED, "Wrong user name or password.", NULL);
    }
    char token[AV_STORE_TOKEN_LEN + 1], csrf[AV_STORE_TOKEN_LEN + 1];
    if (st == AV_STORE_OK)
        st = av_store_session_new(w->o.store, u.id, SESSION_TTL_S, token, csrf, err, sizeof err);
    if (st != AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "login_failed", "error", err, NULL);
        return av_web__message(r, MHD_HTTP_SERVICE_UNAVAILABLE, "Try again shortly",
                               "Signing in is not possible just now.");
    }
    av_store_login_reset(w->o.store, kuser, err, sizeof err);
    av_log(AV_LOG_INFO, "login", "user", u.name, "addr", addr, NULL);
    char cookie[300];
    cookie_header(c, token, SESSION_TTL_S, cookie, sizeof cookie);
    sodium_memzero(token, sizeof token);
    return see_other(r, "/", cookie);
}

/* POST /settings: the species the monitor tracks, each one the species
 * model knows (when its labels are loaded); stored for every node. */
static enum MHD_Result save_tracked(av_web__req *r)
{
    av_web *w = r->w;
    char out[AV_STORE_SETTING_MAX + 1] = "", msg[300] = "", err[512] = "";
    size_t o = 0;
    int n = 0;
    if (r->auth.field_too_long)
        snprintf(msg, sizeof msg, "The list is too long.");
    for (char *p = r->auth.form_tracked; !msg[0] && *p;) {
        size_t len = strcspn(p, ",\n");
        char one[272];
        snprintf(one, sizeof one, "%.*s", (int)(len < sizeof one ? len : sizeof one - 1), p);
        p += len + (p[len] != '\0');
        char *s = one, *e = one + strlen(one);
        while (*s == ' ' || *s == '\r' || *s == '\t')
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\r' || e[-1] == '\t'))
            *--e = '\0';
        if (!*s)
            continue;
        const av_web__label *l = av_web__labels_find(w->labels, s);
        const char *sci = l ? l->scientific : s;
        int bad = !l && w->labels;
        for (const char *q = sci; !bad && *q; q++)
            bad = (unsigned char)*q < 0x20 || strchr("<>\"&;=,", *q) != NULL;
        if (bad)
            snprintf(msg, sizeof msg, "\"%.100s\" is not a species this Aviary knows.", s);
        else if (++n > AV_WEB_MAX_TRACKED)
            snprintf(msg, sizeof msg, "At most %d species can be tracked.", AV_WEB_MAX_TRACKED);
        else if (o + strlen(sci) + 2 < sizeof out)
            o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", o ? "," : "", sci);
    }
    if (msg[0])
        return settings_page(r, msg, MHD_HTTP_UNPROCESSABLE_CONTENT);
    /* empty: forget the list, back to --tracked */
    av_store_status st = n ? av_store_setting_put(w->o.store, "tracked", out, err, sizeof err)
                           : av_store_setting_delete(w->o.store, "tracked", err, sizeof err);
    if (st != AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "settings_failed", "error", err, NULL);
        return settings_page(r, "The list could not be saved. Please try again.",
                             MHD_HTTP_INTERNAL_SERVER_ERROR);
    }
    return see_other(r, "/settings", NULL);
}

enum MHD_Result av_web__auth_end(av_web__req *r, const char *url)
{
    av_web *w = r->w;
    struct MHD_Connection *c = r->c;
    char id[AV_STORE_ID_LEN + 1], err[512] = "";
    if (!strncmp(url, "/api/", 5)) { /* DELETE /api/v1/images/ID, owner checked */
        snprintf(id, sizeof id, "%s", url + 15);
        av_store_status rc = delete_upload(w, id, r->auth.user, err, sizeof err);
        if (rc == AV_STORE_NOT_FOUND)
            return refuse(r, 1, MHD_HTTP_NOT_FOUND, "no such image");
        if (rc != AV_STORE_OK) {
            av_log(AV_LOG_ERROR, "delete_failed", "id", id, "error", err, NULL);
            return refuse(r, 1, MHD_HTTP_INTERNAL_SERVER_ERROR, "delete failed");
        }
        return av_web__send(r, MHD_HTTP_NO_CONTENT, "application/json", "", 0, NULL);
    }
    if (!strcmp(url, "/login"))
        return sign_in(r);
    if (av_web__auth_body_ok(r))
        return MHD_YES;
    if (!strcmp(url, "/settings")) /* the owner's, checked in auth_begin */
        return save_tracked(r);
    if (!strcmp(url, "/monitor/retrain")) /* the owner's, checked in auth_begin */
        return av_web__retrain_post(r, r->auth.user);
    if (!strcmp(url, "/logout")) {
        if (r->auth.by_session &&
            av_store_session_end(w->o.store, r->auth.session, err, sizeof err) != AV_STORE_OK)
            av_log(AV_LOG_ERROR, "logout_failed", "error", err, NULL);
        char cookie[300];
        cookie_header(c, "", 0, cookie, sizeof cookie);
        return see_other(r, "/", cookie);
    }
    delete_route(url, id);
    av_store_status rc = delete_upload(w, id, r->auth.user, err, sizeof err);
    if (rc == AV_STORE_NOT_FOUND)
        return av_web__message(r, MHD_HTTP_NOT_FOUND, "Image not found",
                               "No uploaded image has this ID.");
    if (rc != AV_STORE_OK) {
        av_log(AV_LOG_ERROR, "delete_failed", "id", id, "error", err, NULL);
        return av_web__message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Something went wrong",
                               "The upload could not be deleted. Please try again.");
    }
    return av_web__message(r, MHD_HTTP_OK, "Upload deleted",
                           "The upload, its results and its vote are gone from every node.");
}
