/*
 * sha256.h - SHA-256 as lowercase hex (internal to src/store).
 */
#ifndef AV_STORE_SHA256_H
#define AV_STORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* hex receives 64 hex digits and a NUL. */
void av_store__sha256(const void *data, size_t len, char hex[65]);
/* av_store_sha256_file (a file's checksum) is public: store.h. */

#endif
