/*
 * multipart.h - streaming multipart/form-data parser (web module, private).
 *
 * Fed the body in chunks of any size, it reports each part as begin / data
 * ... / end events, so a part's start is an event of its own and never
 * guessed from an offset (a chunk holding only a few bytes of a file is
 * still the same file). Memory is fixed: one window of AV_WEB__MP_WINDOW
 * bytes however large the body.
 */
#ifndef AV_WEB_MULTIPART_H
#define AV_WEB_MULTIPART_H

#include <stddef.h>

#define AV_WEB__MP_WINDOW 16384 /* also the largest header block of one part */

typedef struct av_web__mp av_web__mp;

typedef struct av_web__mp_part {
    const char *name;         /* form field name; "" when absent */
    const char *filename;     /* NULL when the part is not a file */
    const char *content_type; /* "" when absent */
} av_web__mp_part;

/* Callbacks return 0 to go on, non-zero to stop parsing (feed then fails). */
typedef struct av_web__mp_events {
    int (*begin)(void *ctx, const av_web__mp_part *p);
    int (*data)(void *ctx, const char *data, size_t n);
    int (*end)(void *ctx);
} av_web__mp_events;

/*
 * A parser for a body with this Content-Type header value; NULL with err
 * set when it is not multipart/form-data with a usable boundary, or out of
 * memory. Owned by the caller: av_web__mp_free.
 */
av_web__mp *av_web__mp_new(const char *content_type, const av_web__mp_events *ev, void *ctx,
                           char *err, size_t errlen);
/* 0 ok; -1 malformed body or a callback stopped it (the parser then refuses more). */
int av_web__mp_feed(av_web__mp *m, const char *data, size_t n);
/* After the last chunk: 0 when the closing boundary was seen, -1 when the
 * body ended early (a part that had begun gets no end event). */
int av_web__mp_finish(av_web__mp *m);
/* Why the last call failed ("" when none did). */
const char *av_web__mp_error(const av_web__mp *m);
void av_web__mp_free(av_web__mp *m);

#endif
