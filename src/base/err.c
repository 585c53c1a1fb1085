/*
 * err.c - formatted error messages into the caller's buffer (base.h).
 */
#include "base/base.h"

#include <stdio.h>

void av_base_verrf(char *err, size_t errlen, size_t at, const char *fmt, va_list ap)
{
    if (err && at < errlen)
        vsnprintf(err + at, errlen - at, fmt, ap);
}

int av_base_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    av_base_verrf(err, errlen, 0, fmt, ap);
    va_end(ap);
    return -1;
}
