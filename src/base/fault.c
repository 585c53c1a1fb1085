/*
 * fault.c - the counting wrappers behind fault.h and the arm/count API of
 * base.h. The counter is global and atomic: a fault walk runs one operation
 * at a time, whatever threads it uses.
 */
/* The wrappers call the real functions: the force-included macros go
 * before any libc header declares them. */
#undef malloc
#undef calloc
#undef realloc
#undef aligned_alloc
#undef strdup
#undef strndup
#undef fopen
#undef fread

#include "base/base.h"
#include "base/fault.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long armed;  /* the call that fails, counted from 1; 0: none */
static atomic_long calls;  /* calls counted since the last arm */
static atomic_int fired;

void av_base_fault_arm(long n)
{
    atomic_store(&armed, n > 0 ? n : 0);
    atomic_store(&calls, 0);
    atomic_store(&fired, 0);
}

long av_base_fault_count(void)
{
    return atomic_load(&calls);
}

int av_base_fault_fired(void)
{
    return atomic_load(&fired);
}

int av_base_fault_enabled(void)
{
#ifdef AV_FAULT
    return 1;
#else
    return 0;
#endif
}

#ifdef AV_FAULT
/* In a sanitizer build: AV_FAULT_TRACE=1 prints where each failure is injected. */
void __sanitizer_print_stack_trace(void) __attribute__((weak));

/* 1 when this call is the armed one (errno set as the real failure would). */
static int hit(int err)
{
    long n = atomic_fetch_add(&calls, 1) + 1;
    if (n != atomic_load(&armed))
        return 0;
    atomic_store(&fired, 1);
    const char *trace = getenv("AV_FAULT_TRACE");
    if (trace && *trace == '1' && __sanitizer_print_stack_trace) {
        fprintf(stderr, "fault: failing call %ld here:\n", n);
        __sanitizer_print_stack_trace();
    }
    errno = err;
    return 1;
}

void *av_base__fault_malloc(size_t n)
{
    return hit(ENOMEM) ? NULL : malloc(n);
}

void *av_base__fault_calloc(size_t n, size_t size)
{
    return hit(ENOMEM) ? NULL : calloc(n, size);
}

void *av_base__fault_realloc(void *p, size_t n)
{
    return hit(ENOMEM) ? NULL : realloc(p, n);
}

void *av_base__fault_aligned_alloc(size_t align, size_t n)
{
    return hit(ENOMEM) ? NULL : aligned_alloc(align, n);
}

char *av_base__fault_strdup(const char *s)
{
    return hit(ENOMEM) ? NULL : strdup(s);
}

char *av_base__fault_strndup(const char *s, size_t n)
{
    return hit(ENOMEM) ? NULL : strndup(s, n);
}

FILE *av_base__fault_fopen(const char *path, const char *mode)
{
    return hit(EMFILE) ? NULL : fopen(path, mode);
}

/* A failed read returns 0 items; the stream's error flag cannot be set from
 * outside, so callers see what a read error or an early end looks like. */
size_t av_base__fault_fread(void *p, size_t size, size_t n, FILE *f)
{
    return hit(EIO) ? 0 : fread(p, size, n, f);
}
#endif
