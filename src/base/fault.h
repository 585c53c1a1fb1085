/*
 * fault.h - allocation and file-call fault injection, force-included into
 * every translation unit of a fault build (Makefile: FAULT=1, on by default
 * in build-asan): `-DAV_FAULT -include src/base/fault.h`.
 *
 * It maps our code's malloc, calloc, realloc, strdup, strndup,
 * aligned_alloc, fopen and fread to counting wrappers (fault.c) that fail
 * the n-th call after av_base_fault_arm(n). Only calls written in our
 * sources are counted: libraries' own allocations (SQLite, jansson,
 * libjpeg-turbo, libspng, XNNPACK, FFmpeg...) and open()/read() are not.
 */
#ifndef AV_BASE_FAULT_H
#define AV_BASE_FAULT_H

#ifdef AV_FAULT
/* No libc header here: a file may still choose its feature macros
 * (_GNU_SOURCE) before its first include. The libc declarations read later
 * through these macros redeclare the wrappers with the same types. */
#include <stddef.h>
typedef struct _IO_FILE FILE; /* glibc's and musl's name for FILE */

/* The real functions stay declared for code that names them without a call
 * (curl's type checks compare against fread). */
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void *aligned_alloc(size_t align, size_t n);
char *strdup(const char *s);
char *strndup(const char *s, size_t n);
FILE *fopen(const char *path, const char *mode);
size_t fread(void *p, size_t size, size_t n, FILE *f);

void *av_base__fault_malloc(size_t n);
void *av_base__fault_calloc(size_t n, size_t size);
void *av_base__fault_realloc(void *p, size_t n);
void *av_base__fault_aligned_alloc(size_t align, size_t n);
char *av_base__fault_strdup(const char *s);
char *av_base__fault_strndup(const char *s, size_t n);
FILE *av_base__fault_fopen(const char *path, const char *mode);
size_t av_base__fault_fread(void *p, size_t size, size_t n, FILE *f);

#define malloc(n) av_base__fault_malloc(n)
#define calloc(n, s) av_base__fault_calloc(n, s)
#define realloc(p, n) av_base__fault_realloc(p, n)
#define aligned_alloc(a, n) av_base__fault_aligned_alloc(a, n)
#define strdup(s) av_base__fault_strdup(s)
#define strndup(s, n) av_base__fault_strndup(s, n)
#define fopen(p, m) av_base__fault_fopen(p, m)
#define fread(p, s, n, f) av_base__fault_fread(p, s, n, f)
#endif

#endif
