/*
 * text.h - UTF-8 validation and repair for client-supplied text.
 */
#ifndef AV_TEXT_H
#define AV_TEXT_H

#include <stddef.h>

#define AV_TEXT_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD, what a bad byte becomes */

/* Length of the valid UTF-8 character at p (1-4), 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included);
 * reads no further than a NUL. */
size_t av_text_utf8_len(const unsigned char *p);
/* Copy src into dst (cap bytes, NUL-terminated) as valid UTF-8: a byte
 * that starts no valid character becomes U+FFFD; characters are never cut. */
void av_text_utf8_clean(char *dst, size_t cap, const char *src);

#endif
