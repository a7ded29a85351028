/* buf.h - growable byte buffer with a hard cap.
 *
 * data is always NUL-terminated after a successful append. Appends beyond
 * cap fail with CO_ERR_TOO_LARGE and leave the buffer unchanged.
 */
#ifndef CUTOVER_CORE_BUF_H
#define CUTOVER_CORE_BUF_H

#include <stddef.h>

#include "core/status.h"

typedef struct co_buf {
    char *data;  /* owned; NULL until the first append */
    size_t len;  /* bytes used, excluding the NUL */
    size_t size; /* bytes allocated */
    size_t cap;  /* largest len allowed (0 = 64 MiB) */
} co_buf;

/* Appends len bytes. Errors: CO_ERR_NOMEM, CO_ERR_TOO_LARGE. */
CO_MUST_CHECK co_status co_buf_append(co_buf *b, const void *data, size_t len);

/* Appends printf-formatted text. Errors: CO_ERR_NOMEM, CO_ERR_TOO_LARGE. */
CO_MUST_CHECK co_status co_buf_printf(co_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Hands the data to the caller (who frees it) and resets b. May return NULL
 * for an empty buffer. */
char *co_buf_steal(co_buf *b);

/* Frees the data and resets b. NULL-safe. */
void co_buf_free(co_buf *b);

#endif
