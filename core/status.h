/* status.h - the project-wide status codes and the error record.
 *
 * Every fallible function returns a co_status (CO_OK is 0) and, on failure,
 * fills a caller-provided co_error: the first error wins, later calls to
 * co_error_set() on the same record are ignored. Field-level validation
 * problems are collected as (JSON pointer, reason) pairs so that the HTTP
 * layer can answer RFC 9457 problem+json with one entry per invalid field.
 *
 * The mapping from status to HTTP status lives in one place:
 * co_status_http().
 */
#ifndef CUTOVER_CORE_STATUS_H
#define CUTOVER_CORE_STATUS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum co_status {
    CO_OK = 0,
    CO_ERR_NOMEM,        /* allocation failed (500) */
    CO_ERR_INVALID,      /* request failed validation (400) */
    CO_ERR_UNPROCESSABLE,/* well-formed but not acceptable (422) */
    CO_ERR_NOT_FOUND,    /* no such resource (404) */
    CO_ERR_CONFLICT,     /* state does not allow it (409) */
    CO_ERR_PRECONDITION, /* If-Match mismatch (412) */
    CO_ERR_UNAUTHORIZED, /* no or bad credentials (401) */
    CO_ERR_FORBIDDEN,    /* role too low (403) */
    CO_ERR_TOO_LARGE,    /* request body over the limit (413) */
    CO_ERR_STORE,        /* SQLite failure (500) */
    CO_ERR_CRYPTO,       /* OpenSSL failure or tampered ciphertext (500) */
    CO_ERR_IO,           /* file or socket failure (500) */
    CO_ERR_REMOTE,       /* a remote system refused, terminal (502) */
    CO_ERR_TRANSIENT,    /* a remote system failed, worth retrying (503) */
    CO_ERR_INTERNAL,     /* a bug (500) */
    CO_ERR_MISDIRECTED,  /* Host header names another server (421) */
    CO_ERR_MEDIA_TYPE,   /* request body of an unsupported media type (415) */
    CO_ERR_RATE_LIMITED, /* too many requests from this client (429) */
    CO_ERR_BUSY,         /* the server is at a capacity limit (503) */
    CO_STATUS_LAST
} co_status;

#define CO_MUST_CHECK __attribute__((warn_unused_result))

#define CO_ERROR_MAX_FIELDS 16

/* One invalid field: a JSON pointer (RFC 6901) into the request body, or a
 * query parameter name prefixed with '?', and a human-readable reason. */
typedef struct co_field_error {
    char pointer[160];
    char reason[240];
} co_field_error;

typedef struct co_error {
    co_status status;            /* CO_OK while no error was recorded */
    char message[512];           /* the "detail" of the problem */
    size_t nfields;              /* entries used in fields[] */
    co_field_error fields[CO_ERROR_MAX_FIELDS];
    char sqlstate[6];            /* PostgreSQL SQLSTATE when it applies, "" otherwise */
} co_error;

/* Returns a static, stable lower-case name for st ("ok", "invalid", ...). */
const char *co_status_str(co_status st);

/* Returns the HTTP status code that st maps to (200 for CO_OK). */
int co_status_http(co_status st);

/* Resets err to "no error". err may be NULL. */
void co_error_clear(co_error *err);

/* Records status st with a printf-style message unless err already holds an
 * error (first error wins). Returns st so that callers can write
 * `return co_error_set(err, CO_ERR_X, "...")`. err may be NULL. */
co_status co_error_set(co_error *err, co_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds one invalid field (pointer, reason) and marks err CO_ERR_INVALID
 * with a generic message if no error is set yet. Extra fields beyond
 * CO_ERROR_MAX_FIELDS are dropped. Returns CO_ERR_INVALID (or the status
 * already recorded). err may be NULL. */
co_status co_error_field(co_error *err, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Cuts a multi-byte UTF-8 sequence left incomplete at the end of the
 * NUL-terminated buf (as snprintf truncation leaves it), in place, so that
 * the text stays valid UTF-8. Complete sequences are kept whole. */
void co_utf8_trim(char *buf);

#endif
