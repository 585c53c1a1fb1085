/*
 * t_web_auth.c - accounts and access over real HTTP: guest modes, the
 * same-origin and CSRF checks, session cookies, the sign-in rate limit,
 * sessions and deletes seen by a second node on the same database (SQLite
 * file, or the MySQL/MariaDB server named by $AVIARY_TEST_DB), API tokens,
 * the /metrics token and the first-start hint.
 */
#include "harness.h"
#include "http.h"
#include "web_fixture.h"

#include "store/store.h"
#include "web/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char JPEG[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1};
static const char PASSWORD[] = "correct horse battery";

static av_web_analysis_status fake_analyze(void *ud, const void *bytes, size_t len,
                                           av_web_analysis *out, char *err, size_t errlen)
{
    (void)ud, (void)bytes, (void)len, (void)err, (void)errlen;
    out->width = 64, out->height = 48, out->n_dets = 1;
    out->dets = calloc(1, sizeof *out->dets);
    if (!out->dets)
        return AV_WEB_ANALYSIS_E_FAILED;
    out->dets->x2 = out->dets->y2 = 10, out->dets->score = 0.9;
    out->dets->species_score = -1;
    snprintf(out->dets->label, sizeof out->dets->label, "bird");
    out->annotated = malloc(sizeof JPEG);
    if (!out->annotated)
        return AV_WEB_ANALYSIS_E_FAILED;
    memcpy(out->annotated, JPEG, sizeof JPEG);
    out->annotated_len = sizeof JPEG;
    snprintf(out->annotated_ext, sizeof out->annotated_ext, "jpg");
    return AV_WEB_ANALYSIS_OK;
}

static const char *const tracked[] = {"Pica pica"};

typedef struct node {
    av_store *store;
    av_web *web;
    char base[64];
    char data[800];
} node;

/* "Retrain now" settings for the next start() (NULL: not offered). */
static const char *retrain_out, *retrain_models;
static int retrain_auto;

/* A web node on this case's database, with its own data folder. */
static void start(node *n, const char *name, int guest, const char *metrics_token)
{
    char url[1200], err[512];
    snprintf(n->data, sizeof n->data, "%s/%s", av_test_tmpdir(), name);
    mkdir(n->data, 0755);
    av_test_make_data_dir(n->data);
    av_test_db_url(url, sizeof url, "aviary.db", 'a');
    n->store = av_test_store_at(url);
    static const char *const settings[] = {"threads", "2", "db", "sqlite:<b>x</b>", NULL};
    av_web_opts o = {.listen = "127.0.0.1", .workers = 4, .store = n->store,
                     .data_dir = n->data, .max_upload_bytes = 1000000, .analyze = fake_analyze,
                     .analysis_workers = 1, .queue_max = 8, .tracked = tracked, .n_tracked = 1,
                     .guest = guest, .metrics_token = metrics_token,
                     .trusted_proxies = "127.0.0.1",
                     .owner_hint = "aviary user add NAME --data /srv/aviary",
                     .settings = settings};
    static char retrain_db[1200];
    snprintf(retrain_db, sizeof retrain_db, "%s", url);
    o.retrain_db_url = retrain_db;
    o.retrain_out_dir = retrain_out;
    o.retrain_models_dir = retrain_models;
    o.retrain_auto = retrain_auto;
    o.retrain_check_ms = 50;
    CHECK_MSG(av_web_start(&o, &n->web, err, sizeof err) == 0, "%s", err);
    snprintf(n->base, sizeof n->base, "http://127.0.0.1:%d", av_web_port(n->web));
}

static void stop(node *n)
{
    av_web_stop(n->web);
    av_store_close(n->store);
}

static void add_owner(node *n)
{
    char err[512];
    CHECK_MSG(av_store_user_add(n->store, "alice", PASSWORD, err, sizeof err) == AV_STORE_OK,
              "%s", err);
}

/* One request; hdrs NULL-terminated (may be NULL). Returns the status. */
static long req(node *n, const char *method, const char *path, const char *const *hdrs,
                const char *ctype, const char *body, size_t len, av_http_resp *r)
{
    char u[300];
    snprintf(u, sizeof u, "%s%s", n->base, path);
    CHECK_EQ_INT(av_http_send(method, u, hdrs, ctype, body, body ? len : 0, r), 0);
    return r->status;
}

static long req0(node *n, const char *method, const char *path, const char *const *hdrs,
                 const char *body)
{
    av_http_resp r;
    long st = req(n, method, path, hdrs, body ? "application/x-www-form-urlencoded" : NULL, body,
                  body ? strlen(body) : 0, &r);
    av_http_free(&r);
    return st;
}

/* A multipart body: the csrf field (when given) before or after one JPEG. */
static size_t multipart(char *out, size_t cap, const char *csrf, int csrf_first)
{
    size_t n = 0;
    char field[300] = "";
    if (csrf)
        snprintf(field, sizeof field,
                 "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n%s\r\n", csrf);
    n += (size_t)snprintf(out + n, cap - n, "%s", csrf_first ? field : "");
    n += (size_t)snprintf(out + n, cap - n,
                          "--XyZ\r\nContent-Disposition: form-data; name=\"file\";"
                          " filename=\"bird.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n");
    memcpy(out + n, JPEG, sizeof JPEG);
    n += sizeof JPEG;
    n += (size_t)snprintf(out + n, cap - n, "\r\n%s--XyZ--\r\n", csrf_first ? "" : field);
    return n;
}

static long upload(node *n, const char *path, const char *const *hdrs, const char *csrf,
                   int csrf_first, char *id)
{
    char body[2048];
    size_t len = multipart(body, sizeof body, csrf, csrf_first);
    av_http_resp r;
    long st = req(n, "POST", path, hdrs, "multipart/form-data; boundary=XyZ", body, len, &r);
    const char *loc = strstr(r.headers, "Location: /uploads/");
    const char *json = strstr(r.body, "\"id\":\"");
    if (id && (loc || json)) {
        memcpy(id, loc ? loc + 19 : json + 6, AV_STORE_ID_LEN);
        id[AV_STORE_ID_LEN] = '\0';
    }
    av_http_free(&r);
    return st;
}

/* Sign in; the session token from Set-Cookie into cookie ("aviary_session=..."). */
static long login(node *n, const char *user, const char *pw, const char *const *hdrs,
                  char *cookie, size_t cap, av_http_resp *out)
{
    char body[300];
    snprintf(body, sizeof body, "user=%s&password=%s", user, pw);
    av_http_resp r;
    long st = req(n, "POST", "/login", hdrs, "application/x-www-form-urlencoded", body,
                  strlen(body), &r);
    const char *sc = strstr(r.headers, "Set-Cookie: ");
    if (cookie) {
        cookie[0] = '\0';
        if (sc)
            snprintf(cookie, cap, "Cookie: %.*s", (int)strcspn(sc + 12, ";\r\n"), sc + 12);
    }
    if (out)
        *out = r;
    else
        av_http_free(&r);
    return st;
}

/* The CSRF token of a signed-in page (from its forms). */
static void csrf_of(node *n, const char *cookie, char *csrf)
{
    const char *hdrs[] = {cookie, NULL};
    av_http_resp r;
    CHECK_EQ_INT(req(n, "GET", "/", hdrs, NULL, NULL, 0, &r), 200);
    const char *p = strstr(r.body, "name=\"csrf\" value=\"");
    CHECK_MSG(p, "no csrf field: %.400s", r.body);
    memcpy(csrf, p + 19, AV_STORE_TOKEN_LEN);
    csrf[AV_STORE_TOKEN_LEN] = '\0';
    av_http_free(&r);
}

static void analysed_image(node *n, char *id)
{
    CHECK_EQ_INT(upload(n, "/upload", NULL, NULL, 0, id), 303);
    char path[100];
    snprintf(path, sizeof path, "/uploads/%s", id);
    CHECK_EQ_INT(req0(n, "GET", path, NULL, NULL), 200);
}

TEST(guest_view_only_cannot_change_anything)
{
    node a;
    start(&a, "a", AV_WEB_GUEST_SET | AV_WEB_GUEST_VIEW, NULL);
    add_owner(&a);
    char err[512], token[AV_STORE_TOKEN_LEN + 1], id[AV_STORE_ID_LEN + 1], path[200];
    CHECK_EQ_INT(av_store_user_api_token(a.store, "alice", token, err, sizeof err), AV_STORE_OK);
    char auth[120];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *owner_api[] = {auth, NULL};
    CHECK_EQ_INT(upload(&a, "/api/v1/images", owner_api, NULL, 0, id), 201);
    snprintf(path, sizeof path, "/uploads/%s", id);
    CHECK_EQ_INT(req0(&a, "GET", path, NULL, NULL), 200); /* analysed; guests may look */

    /* every state-changing route and API call, as a guest */
    char other[AV_STORE_ID_LEN + 1];
    CHECK_EQ_INT(upload(&a, "/upload", NULL, NULL, 0, NULL), 403);
    CHECK_EQ_INT(upload(&a, "/api/v1/images", NULL, NULL, 0, other), 401);
    CHECK_EQ_INT(req0(&a, "POST", path, NULL, "vote=yes"), 403);
    snprintf(path, sizeof path, "/uploads/%s/delete", id);
    CHECK_EQ_INT(req0(&a, "POST", path, NULL, "x=1"), 403);
    snprintf(path, sizeof path, "/api/v1/images/%s", id);
    CHECK_EQ_INT(req0(&a, "DELETE", path, NULL, NULL), 401);
    const char *bad_token[] = {"Authorization: Bearer 0123", NULL};
    CHECK_EQ_INT(req0(&a, "DELETE", path, bad_token, NULL), 401);
    CHECK_EQ_INT(req0(&a, "GET", "/settings", NULL, NULL), 303);
    /* what a guest sees says so, and offers no form */
    av_http_resp r;
    CHECK_EQ_INT(req(&a, "GET", "/", NULL, NULL, NULL, 0, &r), 200);
    CHECK_STR_CONTAINS(r.body, "Uploads are closed to guests");
    CHECK(!strstr(r.body, "action=\"/upload\""));
    av_http_free(&r);
    snprintf(path, sizeof path, "/uploads/%s", id);
    CHECK_EQ_INT(req(&a, "GET", path, NULL, NULL, NULL, 0, &r), 200);
    CHECK_STR_CONTAINS(r.body, "open to signed-in users only");
    CHECK(!strstr(r.body, "name=\"vote\""));
    CHECK(!strstr(r.body, "/delete"));
    av_http_free(&r);

    /* nothing changed */
    int64_t n = 0;
    CHECK_EQ_INT(av_store_image_count(a.store, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(av_store_feedback_count(a.store, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 0);

    /* the owner's token may */
    CHECK_EQ_INT(req0(&a, "DELETE", path, owner_api, NULL), 405); /* a page, not the API */
    snprintf(path, sizeof path, "/api/v1/images/%s", id);
    CHECK_EQ_INT(req0(&a, "DELETE", path, owner_api, NULL), 204);
    CHECK_EQ_INT(req0(&a, "GET", path, NULL, NULL), 404);
    CHECK_EQ_INT(req0(&a, "DELETE", path, owner_api, NULL), 404);
    CHECK_EQ_INT(req0(&a, "DELETE", "/api/v1/images/xyz", owner_api, NULL), 404);
    CHECK_EQ_INT(req0(&a, "DELETE", "/api/", owner_api, NULL), 405);
    CHECK_EQ_INT(req0(&a, "DELETE", "/api/v1/images", owner_api, NULL), 405);
    stop(&a);
}

TEST(guest_none_sees_only_sign_in)
{
    node a;
    start(&a, "a", AV_WEB_GUEST_SET, NULL);
    av_http_resp r;
    CHECK_EQ_INT(req(&a, "GET", "/", NULL, NULL, NULL, 0, &r), 303);
    CHECK_STR_CONTAINS(r.headers, "Location: /login");
    av_http_free(&r);
    CHECK_EQ_INT(req0(&a, "GET", "/monitor", NULL, NULL), 303);
    CHECK_EQ_INT(req0(&a, "GET", "/api/v1/images/0123456789abcdef0123456789abcdef", NULL, NULL),
                 401);
    CHECK_EQ_INT(req0(&a, "GET", "/login", NULL, NULL), 200);
    CHECK_EQ_INT(req0(&a, "GET", "/static/aviary.css", NULL, NULL), 200);
    CHECK_EQ_INT(req0(&a, "GET", "/healthz", NULL, NULL), 200);
    stop(&a);
}

TEST(cross_site_posts_refused)
{
    node a;
    start(&a, "a", 0, NULL); /* default: guests upload and vote */
    char id[AV_STORE_ID_LEN + 1], path[100], host_origin[120], err[512];
    analysed_image(&a, id);
    snprintf(path, sizeof path, "/uploads/%s", id);
    const char *evil[] = {"Origin: http://evil.example", NULL};
    const char *null_origin[] = {"Origin: null", NULL};
    const char *fetch_site[] = {"Sec-Fetch-Site: cross-site", NULL};
    const char *evil_ref[] = {"Referer: http://evil.example/page", NULL};
    const char *port_origin[] = {"Origin: http://127.0.0.1:1", NULL};
    CHECK_EQ_INT(req0(&a, "POST", path, evil, "vote=yes"), 403);
    CHECK_EQ_INT(req0(&a, "POST", path, null_origin, "vote=yes"), 403);
    CHECK_EQ_INT(req0(&a, "POST", path, fetch_site, "vote=yes"), 403);
    CHECK_EQ_INT(req0(&a, "POST", path, evil_ref, "vote=yes"), 403);
    CHECK_EQ_INT(req0(&a, "POST", path, port_origin, "vote=yes"), 403);
    CHECK_EQ_INT(upload(&a, "/upload", evil, NULL, 0, NULL), 403);
    CHECK_EQ_INT(upload(&a, "/api/v1/images", evil, NULL, 0, NULL), 403);
    CHECK_EQ_INT(req0(&a, "POST", "/login", evil, "user=alice&password=x"), 403);
    int64_t n = 0;
    CHECK_EQ_INT(av_store_feedback_count(a.store, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(av_store_image_count(a.store, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 1);
    /* from this site's own page it goes through */
    snprintf(host_origin, sizeof host_origin, "Origin: %s", a.base);
    const char *mine[] = {host_origin, "Sec-Fetch-Site: same-origin", NULL};
    CHECK_EQ_INT(req0(&a, "POST", path, mine, "vote=yes"), 303);
    CHECK_EQ_INT(av_store_feedback_count(a.store, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 1);
    /* behind a proxy that passes the host name without the port */
    const char *proxied[] = {"Host: birds.example", "Origin: https://birds.example", NULL};
    CHECK_EQ_INT(upload(&a, "/upload", proxied, NULL, 0, NULL), 303);
    stop(&a);
}

TEST(session_cookie_attributes_and_sign_out)
{
    node a;
    start(&a, "a", 0, NULL);
    add_owner(&a);
    char cookie[200], csrf[AV_STORE_TOKEN_LEN + 1];
    av_http_resp r;
    CHECK_EQ_INT(login(&a, "alice", "wrong password", NULL, cookie, sizeof cookie, &r), 401);
    CHECK(!strstr(r.headers, "Set-Cookie"));
    CHECK_STR_CONTAINS(r.body, "Wrong user name or password");
    av_http_free(&r);
    CHECK_EQ_INT(login(&a, "nobody", "wrong password", NULL, cookie, sizeof cookie, NULL), 401);
    CHECK_EQ_INT(login(&a, "alice", PASSWORD, NULL, cookie, sizeof cookie, &r), 303);
    CHECK_STR_CONTAINS(r.headers, "Location: /");
    const char *sc = strstr(r.headers, "Set-Cookie: aviary_session=");
    CHECK_MSG(sc, "%s", r.headers);
    char line[300];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(sc, "\r\n"), sc);
    CHECK_STR_CONTAINS(line, "; HttpOnly");
    CHECK_STR_CONTAINS(line, "; SameSite=Strict");
    CHECK_STR_CONTAINS(line, "; Path=/");
    CHECK(!strstr(line, "Secure")); /* plain HTTP here */
    av_http_free(&r);
    const char *tls[] = {"X-Forwarded-Proto: https", NULL};
    CHECK_EQ_INT(login(&a, "alice", PASSWORD, tls, NULL, 0, &r), 303);
    sc = strstr(r.headers, "Set-Cookie: ");
    CHECK(sc);
    snprintf(line, sizeof line, "%.*s", (int)strcspn(sc, "\r\n"), sc);
    CHECK_STR_CONTAINS(line, "; Secure");
    av_http_free(&r);

    /* signed in: the pages say so and link the settings */
    const char *me[] = {cookie, NULL};
    CHECK_EQ_INT(req(&a, "GET", "/settings", me, NULL, NULL, 0, &r), 200);
    CHECK_STR_CONTAINS(r.body, "Sign out alice");
    CHECK_STR_CONTAINS(r.body, "<th scope=\"row\">threads</th><td><code>2</code>");
    CHECK_STR_CONTAINS(r.body, "sqlite:&lt;b&gt;x&lt;/b&gt;"); /* escaped */
    CHECK_STR_CONTAINS(r.body, "view, upload, vote");
    av_http_free(&r);
    /* sign out needs the token; then the cookie is worthless */
    csrf_of(&a, cookie, csrf);
    CHECK_EQ_INT(req0(&a, "POST", "/logout", me, "csrf=0"), 403);
    char body[100];
    snprintf(body, sizeof body, "csrf=%s", csrf);
    CHECK_EQ_INT(req(&a, "POST", "/logout", me, "application/x-www-form-urlencoded", body,
                     strlen(body), &r),
                 303);
    CHECK_STR_CONTAINS(r.headers, "Max-Age=0");
    av_http_free(&r);
    CHECK_EQ_INT(req0(&a, "GET", "/settings", me, NULL), 303);
    stop(&a);
}

TEST(csrf_token_required_on_session_forms)
{
    node a;
    start(&a, "a", 0, NULL);
    add_owner(&a);
    char cookie[200], csrf[AV_STORE_TOKEN_LEN + 1], id[AV_STORE_ID_LEN + 1], path[100],
        body[200], err[512], wrong[AV_STORE_TOKEN_LEN + 1];
    analysed_image(&a, id);
    CHECK_EQ_INT(login(&a, "alice", PASSWORD, NULL, cookie, sizeof cookie, NULL), 303);
    csrf_of(&a, cookie, csrf);
    snprintf(wrong, sizeof wrong, "%s", csrf);
    wrong[5] = wrong[5] == 'a' ? 'b' : 'a';
    const char *me[] = {cookie, NULL};
    snprintf(path, sizeof path, "/uploads/%s", id);
    /* every form of a signed-in page carries the token */
    av_http_resp r;
    CHECK_EQ_INT(req(&a, "GET", path, me, NULL, NULL, 0, &r), 200);
    const char *p = r.body;
    int forms = 0;
    while ((p = strstr(p, "<form"))) {
        const char *end = strstr(p, "</form>");
        CHECK(end);
        char f[4096];
        snprintf(f, sizeof f, "%.*s", (int)(end - p), p);
        CHECK_STR_CONTAINS(f, csrf);
        forms++;
        p = end;
    }
    CHECK_EQ_INT(forms, 5); /* sign out, the bird's review, add a bird, feedback, delete */
    av_http_free(&r);

    CHECK_EQ_INT(req0(&a, "POST", path, me, "vote=yes"), 403);
    snprintf(body, sizeof body, "vote=yes&csrf=%s", wrong);
    CHECK_EQ_INT(req0(&a, "POST", path, me, body), 403);
    int64_t n = 0;
    CHECK_EQ_INT(av_store_feedback_count(a.store, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 0);
    snprintf(body, sizeof body, "vote=yes&csrf=%s", csrf);
    CHECK_EQ_INT(req0(&a, "POST", path, me, body), 303);
    CHECK_EQ_INT(av_store_feedback_count(a.store, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 1);

    /* uploads: the token must come before the file, and nothing is kept otherwise */
    CHECK_EQ_INT(upload(&a, "/upload", me, NULL, 1, NULL), 403);
    CHECK_EQ_INT(upload(&a, "/upload", me, wrong, 1, NULL), 403);
    CHECK_EQ_INT(upload(&a, "/upload", me, csrf, 0, NULL), 403);
    CHECK_EQ_INT(av_store_image_count(a.store, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 1);
    char id2[AV_STORE_ID_LEN + 1];
    CHECK_EQ_INT(upload(&a, "/upload", me, csrf, 1, id2), 303);
    CHECK_EQ_INT(av_store_image_count(a.store, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 2);
    /* delete needs it too */
    snprintf(path, sizeof path, "/uploads/%s/delete", id2);
    CHECK_EQ_INT(req0(&a, "POST", path, me, "x=1"), 403);
    snprintf(body, sizeof body, "csrf=%s", csrf);
    CHECK_EQ_INT(req0(&a, "POST", path, me, body), 200);
    CHECK_EQ_INT(av_store_image_count(a.store, &n, err, sizeof err), AV_STORE_OK);
    CHECK_EQ_INT(n, 1);
    stop(&a);
}

TEST(sign_in_rate_limited_per_account_and_address)
{
    node a;
    start(&a, "a", 0, NULL);
    add_owner(&a);
    const char *from1[] = {"X-Forwarded-For: 192.0.2.1", NULL};
    const char *from2[] = {"X-Forwarded-For: 192.0.2.2", NULL};
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(login(&a, "alice", "guessing-wrong", from1, NULL, 0, NULL), 401);
    /* the account is locked, even with the right password, from anywhere */
    av_http_resp r;
    CHECK_EQ_INT(login(&a, "alice", PASSWORD, from2, NULL, 0, &r), 429);
    CHECK_STR_CONTAINS(r.headers, "Retry-After: ");
    CHECK(!strstr(r.headers, "Set-Cookie"));
    CHECK_STR_CONTAINS(r.body, "Too many failed sign-ins");
    av_http_free(&r);
    /* per address: 20 failures on any names lock that address out */
    for (int i = 0; i < 15; i++) {
        char user[32]; /* the first: bytes no account name has (not even UTF-8) */
        snprintf(user, sizeof user, i ? "user%d" : "%%ff%%fe%%27", i);
        CHECK_EQ_INT(login(&a, user, "guessing-wrong", from1, NULL, 0, NULL), 401);
    }
    CHECK_EQ_INT(login(&a, "someone", "guessing-wrong", from1, NULL, 0, NULL), 429);
    CHECK_EQ_INT(login(&a, "someone", "guessing-wrong", from2, NULL, 0, NULL), 401);
    stop(&a);
}

TEST(sessions_and_deletes_seen_by_a_second_node)
{
    node a, b;
    start(&a, "a", 0, NULL);
    start(&b, "b", 0, NULL);
    add_owner(&a);
    char cookie[200], csrf[AV_STORE_TOKEN_LEN + 1], id[AV_STORE_ID_LEN + 1], path[120],
        body[100], file[1000];
    CHECK_EQ_INT(login(&a, "alice", PASSWORD, NULL, cookie, sizeof cookie, NULL), 303);
    const char *me[] = {cookie, NULL};
    /* node B knows the session A made, and its token */
    csrf_of(&b, cookie, csrf);
    CHECK_EQ_INT(req0(&b, "GET", "/settings", me, NULL), 200);

    analysed_image(&a, id);
    /* both nodes cache the original and the annotated image */
    snprintf(path, sizeof path, "/originals/%s.jpg", id);
    CHECK_EQ_INT(req0(&a, "GET", path, NULL, NULL), 200);
    CHECK_EQ_INT(req0(&b, "GET", path, NULL, NULL), 200);
    snprintf(path, sizeof path, "/inferenced/%s.jpg", id);
    CHECK_EQ_INT(req0(&a, "GET", path, NULL, NULL), 200);
    snprintf(file, sizeof file, "%s/originals/%s.jpg", b.data, id);
    CHECK(access(file, F_OK) == 0);

    /* deleted on B: gone on A, whose cache must not bring it back */
    snprintf(path, sizeof path, "/uploads/%s/delete", id);
    snprintf(body, sizeof body, "csrf=%s", csrf);
    CHECK_EQ_INT(req0(&b, "POST", path, me, body), 200);
    CHECK(access(file, F_OK) != 0);
    snprintf(file, sizeof file, "%s/originals/%s.jpg", a.data, id);
    CHECK(access(file, F_OK) == 0); /* until asked for */
    snprintf(path, sizeof path, "/originals/%s.jpg", id);
    CHECK_EQ_INT(req0(&a, "GET", path, NULL, NULL), 404);
    CHECK(access(file, F_OK) != 0);
    snprintf(path, sizeof path, "/inferenced/%s.jpg", id);
    CHECK_EQ_INT(req0(&a, "GET", path, NULL, NULL), 404);
    snprintf(path, sizeof path, "/uploads/%s", id);
    CHECK_EQ_INT(req0(&a, "GET", path, NULL, NULL), 404);
    snprintf(path, sizeof path, "/api/v1/images/%s", id);
    CHECK_EQ_INT(req0(&a, "GET", path, NULL, NULL), 404);

    /* signed out on A: B no longer knows the session */
    CHECK_EQ_INT(req0(&a, "POST", "/logout", me, body), 303);
    CHECK_EQ_INT(req0(&b, "GET", "/settings", me, NULL), 303);
    stop(&b);
    stop(&a);
}

TEST(metrics_token)
{
    node a;
    start(&a, "a", 0, "m3trics-s3cret");
    CHECK_EQ_INT(req0(&a, "GET", "/metrics", NULL, NULL), 401);
    const char *wrong[] = {"Authorization: Bearer m3trics-s3cre", NULL};
    CHECK_EQ_INT(req0(&a, "GET", "/metrics", wrong, NULL), 401);
    const char *right[] = {"Authorization: Bearer m3trics-s3cret", NULL};
    av_http_resp r;
    CHECK_EQ_INT(req(&a, "GET", "/metrics", right, NULL, NULL, 0, &r), 200);
    CHECK_STR_CONTAINS(r.body, "aviary_web_requests_total");
    av_http_free(&r);
    CHECK_EQ_INT(req0(&a, "GET", "/healthz", NULL, NULL), 200);
    stop(&a);
}

TEST(first_start_says_how_to_add_the_owner)
{
    node a;
    start(&a, "a", 0, NULL);
    av_http_resp r;
    CHECK_EQ_INT(req(&a, "GET", "/", NULL, NULL, NULL, 0, &r), 200);
    CHECK_STR_CONTAINS(r.body, "No owner account exists yet");
    CHECK_STR_CONTAINS(r.body, "aviary user add NAME --data /srv/aviary");
    CHECK_STR_CONTAINS(r.body, "name=\"file\""); /* the open flow still works */
    av_http_free(&r);
    add_owner(&a);
    CHECK_EQ_INT(req(&a, "GET", "/", NULL, NULL, NULL, 0, &r), 200);
    CHECK(!strstr(r.body, "No owner account exists yet"));
    CHECK_STR_CONTAINS(r.body, "href=\"/login\"");
    av_http_free(&r);
    stop(&a);
}

/* The monitor's "Retrain now": the owner's only, with the CSRF token; it
 * runs av_train_species in the background and /monitor shows how it ended. */
TEST(retrain_now_owner_only_in_background)
{
    node a;
    char out[900];
    snprintf(out, sizeof out, "%s/versions", av_test_tmpdir());
    mkdir(out, 0755);
    retrain_out = NULL; /* first: not set up */
    start(&a, "a", 0, NULL);
    add_owner(&a);
    av_http_resp r;
    CHECK_EQ_INT(req(&a, "GET", "/monitor", NULL, NULL, NULL, 0, &r), 200);
    CHECK_STR_CONTAINS(r.body, "No retraining run yet.");
    CHECK(!strstr(r.body, "/monitor/retrain"));
    av_http_free(&r);
    CHECK_EQ_INT(req0(&a, "POST", "/monitor/retrain", NULL, "x=1"), 403); /* a guest */
    char cookie[200], csrf[AV_STORE_TOKEN_LEN + 1], body[200];
    CHECK_EQ_INT(login(&a, "alice", PASSWORD, NULL, cookie, sizeof cookie, NULL), 303);
    csrf_of(&a, cookie, csrf);
    const char *me[] = {cookie, NULL};
    CHECK_EQ_INT(req(&a, "GET", "/monitor", me, NULL, NULL, 0, &r), 200);
    const char *f = strstr(r.body, "action=\"/monitor/retrain\"");
    CHECK_MSG(f, "no retrain button: %.300s", r.body);
    CHECK_STR_CONTAINS(f, csrf);
    av_http_free(&r);
    CHECK_EQ_INT(req0(&a, "POST", "/monitor/retrain", me, "x=1"), 403); /* no token */
    snprintf(body, sizeof body, "csrf=%s", csrf);
    CHECK_EQ_INT(req0(&a, "POST", "/monitor/retrain", me, body), 409); /* no --model-base-path */
    stop(&a);

    /* set up, with base models that cannot load: the run fails on its thread, and says why */
    retrain_out = out;
    retrain_models = "no-such-models";
    start(&a, "a", 0, NULL);
    retrain_out = retrain_models = NULL;
    CHECK_EQ_INT(req0(&a, "POST", "/monitor/retrain", me, body), 303);
    int done = 0;
    for (int i = 0; i < 200 && !done; i++) {
        CHECK_EQ_INT(req(&a, "GET", "/monitor", me, NULL, NULL, 0, &r), 200);
        done = strstr(r.body, "failed at ") != NULL;
        if (done)
            CHECK_STR_CONTAINS(r.body, "models no-such-models");
        else
            CHECK_STR_CONTAINS(r.body, "running since ");
        av_http_free(&r);
        if (!done)
            usleep(50000);
    }
    CHECK(done);
    /* the lease was given back: a second run starts */
    CHECK_EQ_INT(req0(&a, "POST", "/monitor/retrain", me, body), 303);
    stop(&a);
}

static void add_review(node *n, const char *id)
{
    char err[512];
    av_store_review v = {.action = AV_REVIEW_ADDED, .x1 = 1, .y1 = 1, .x2 = 20, .y2 = 20};
    snprintf(v.image_id, sizeof v.image_id, "%s", id);
    snprintf(v.species, sizeof v.species, "Pica pica");
    snprintf(v.who, sizeof v.who, "guest");
    CHECK_MSG(av_store_review_add(n->store, &v, err, sizeof err) == AV_STORE_OK, "%s", err);
}

static void setting(node *n, const char *key, char *out, size_t cap)
{
    char err[512];
    int found = 0;
    CHECK_MSG(av_store_setting_get(n->store, key, out, cap, &found, err, sizeof err) ==
                  AV_STORE_OK, "%s", err);
}

/* --retrain-auto 2: a run starts by itself once the warning holds (a "no"
 * vote) and two reviewed birds arrived, and not again without new ones. */
TEST(retrain_auto_after_enough_new_reviews)
{
    node a;
    char out[900], id[AV_STORE_ID_LEN + 1], path[100], st[AV_STORE_SETTING_MAX + 1];
    snprintf(out, sizeof out, "%s/versions", av_test_tmpdir());
    mkdir(out, 0755);
    retrain_out = out;
    retrain_models = "no-such-models";
    retrain_auto = 2;
    start(&a, "a", 0, NULL);
    retrain_out = retrain_models = NULL;
    retrain_auto = 0;
    analysed_image(&a, id);
    add_review(&a, id);
    add_review(&a, id);
    usleep(300000); /* enough reviews, but no warning yet: nothing runs */
    setting(&a, "retrain_status", st, sizeof st);
    CHECK_STR_EQ(st, "");
    snprintf(path, sizeof path, "/uploads/%s", id);
    CHECK_EQ_INT(req0(&a, "POST", path, NULL, "vote=no&ground_truth=4&predicted=2"), 303);
    int done = 0;
    for (int i = 0; i < 200 && !done; i++) {
        setting(&a, "retrain_status", st, sizeof st);
        done = !strncmp(st, "failed at ", 10);
        if (!done)
            usleep(50000);
    }
    CHECK_MSG(done, "status: %s", st);
    CHECK_STR_CONTAINS(st, "models no-such-models");
    char since[64], since2[64];
    setting(&a, "retrain_since", since, sizeof since);
    CHECK(since[0]);
    usleep(300000); /* no new review: no new run */
    setting(&a, "retrain_since", since2, sizeof since2);
    CHECK_STR_EQ(since2, since);
    add_review(&a, id); /* one is fewer than 2 */
    usleep(300000);
    setting(&a, "retrain_since", since2, sizeof since2);
    CHECK_STR_EQ(since2, since);
    add_review(&a, id);
    for (int i = 0; i < 200 && !strcmp(since2, since); i++) {
        usleep(50000);
        setting(&a, "retrain_since", since2, sizeof since2);
    }
    CHECK(strcmp(since2, since) != 0);
    stop(&a);
}

TEST_MAIN(T(guest_view_only_cannot_change_anything), T(guest_none_sees_only_sign_in),
          T(cross_site_posts_refused), T(session_cookie_attributes_and_sign_out),
          T(csrf_token_required_on_session_forms),
          T(sign_in_rate_limited_per_account_and_address),
          T(sessions_and_deletes_seen_by_a_second_node), T(metrics_token),
          T(first_start_says_how_to_add_the_owner), T(retrain_now_owner_only_in_background),
          T(retrain_auto_after_enough_new_reviews))
