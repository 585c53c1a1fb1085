/*
 * t_web_multipart.c - the upload body parser (src/web/multipart.c) on its
 * own: parts, names and bytes the same whether a body comes whole or one
 * byte at a time; preamble, epilogue, quoted parameters, a part with no
 * headers, and what it refuses (no boundary, a body cut short, headers
 * past the window). fuzz_multipart explores the rest.
 */
#include "harness.h"

#include "web/multipart.h"

#include <stdio.h>
#include <string.h>

typedef struct trace {
    char log[8192];
    size_t len;
} trace;

static void add(trace *t, const char *s, size_t n)
{
    CHECK(t->len + n < sizeof t->log);
    memcpy(t->log + t->len, s, n);
    t->len += n;
    t->log[t->len] = '\0';
}

static int on_begin(void *ctx, const av_web__mp_part *p)
{
    trace *t = ctx;
    char s[512];
    int n = snprintf(s, sizeof s, "<%s|%s|%s>", p->name, p->filename ? p->filename : "-",
                     p->content_type);
    add(t, s, (size_t)n);
    return 0;
}

static int on_data(void *ctx, const char *d, size_t n)
{
    add(ctx, d, n);
    return 0;
}

static int on_end(void *ctx)
{
    add(ctx, "</>", 3);
    return 0;
}

static const av_web__mp_events EV = {on_begin, on_data, on_end};

/* Parse body whole (step 0) or step bytes at a time; the result of finish
 * (or -2 when a feed failed) and the trace. */
static int parse(const char *ct, const char *body, size_t n, size_t step, trace *t)
{
    memset(t, 0, sizeof *t);
    char err[128];
    av_web__mp *m = av_web__mp_new(ct, &EV, t, err, sizeof err);
    CHECK_MSG(m, "%s", err);
    int rc = 0;
    for (size_t at = 0; at < n && !rc; at += step ? step : n) {
        size_t k = step && step < n - at ? step : n - at;
        if (av_web__mp_feed(m, body + at, k))
            rc = -2;
    }
    if (!rc)
        rc = av_web__mp_finish(m);
    av_web__mp_free(m);
    return rc;
}

static void same_both_ways(const char *ct, const char *body, int want_rc, const char *want)
{
    trace a, b;
    size_t n = strlen(body);
    CHECK_EQ_INT(parse(ct, body, n, 0, &a), want_rc);
    CHECK_EQ_INT(parse(ct, body, n, 1, &b), want_rc);
    CHECK_STR_EQ(a.log, want);
    CHECK_STR_EQ(b.log, want);
}

TEST(parts_whole_and_byte_by_byte)
{
    same_both_ways("multipart/form-data; boundary=XB",
                   "preamble\r\n--XB\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n"
                   "hi\r\n--XB\r\nContent-Disposition: form-data; name=\"file\"; "
                   "filename=\"a b.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
                   "\r\n--X\r\n-\r\n--XB--\r\nepilogue --XB\r\n",
                   0, "<note|-|>hi</><file|a b.jpg|image/jpeg>\r\n--X\r\n-</>");
}

TEST(quoted_boundary_and_parameters)
{
    same_both_ways("Multipart/Form-Data; charset=utf-8; boundary=\"b;q\"",
                   "--b;q  \r\nContent-Disposition: form-data; filename=\"x\\\"y.png\"; "
                   "name=file\r\n\r\nPNG\r\n--b;q--",
                   0, "<file|x\"y.png|>PNG</>");
}

TEST(part_without_headers_and_empty_file)
{
    same_both_ways("multipart/form-data; boundary=B",
                   "--B\r\n\r\nabc\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; "
                   "filename=\"e.jpg\"\r\n\r\n\r\n--B--",
                   0, "<|-|>abc</><file|e.jpg|></>");
}

TEST(refusals)
{
    char err[128];
    CHECK(!av_web__mp_new("application/x-www-form-urlencoded", &EV, NULL, err, sizeof err));
    CHECK_STR_CONTAINS(err, "not multipart");
    CHECK(!av_web__mp_new("multipart/form-data", &EV, NULL, err, sizeof err));
    CHECK_STR_CONTAINS(err, "boundary");
    /* cut short: the part began, never ended */
    same_both_ways("multipart/form-data; boundary=B",
                   "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.jpg\"\r\n"
                   "\r\nabcdef",
                   -1, "<file|c.jpg|>ab"); /* the last 4 could start a boundary */
    /* garbage after a boundary */
    same_both_ways("multipart/form-data; boundary=B", "--Bxyz\r\n\r\n", -2, "");
    /* a header block past the window */
    static char big[AV_WEB__MP_WINDOW + 200];
    int n = snprintf(big, sizeof big, "--B\r\nX: ");
    memset(big + n, 'a', sizeof big - (size_t)n - 1);
    same_both_ways("multipart/form-data; boundary=B", big, -2, "");
}

TEST_MAIN(T(parts_whole_and_byte_by_byte), T(quoted_boundary_and_parameters),
          T(part_without_headers_and_empty_file), T(refusals))
