/* idempotency.h - stored responses of POST requests sent with an
 * Idempotency-Key header.
 *
 * A key is scoped to the authenticated principal. The first request with a
 * key stores its final response (status, content type, Location, ETag,
 * body) together with the SHA-256 of the method, path and body; a later
 * request with the same key and the same fingerprint gets the stored
 * response again, one with another fingerprint gets 422. Keys are kept for
 * 24 hours.
 */
#ifndef CUTOVER_STORE_IDEMPOTENCY_H
#define CUTOVER_STORE_IDEMPOTENCY_H

#include <stddef.h>

#include "store/db.h"

typedef struct co_idem_record {
    char fingerprint[65]; /* hex SHA-256 of method, path and body */
    int status;
    char content_type[64];
    char location[256];
    char etag[64];
    char *body;           /* owned, may hold NULs; body_len bytes */
    size_t body_len;
} co_idem_record;

/* Computes the hex SHA-256 fingerprint of (method, path, body) into
 * out[65]. */
void co_idem_fingerprint(const char *method, const char *path, const char *body,
                         size_t body_len, char out[65]);

/* Looks up (principal, key). Returns CO_OK with *found = 1 and *rec filled
 * (caller frees rec->body), CO_OK with *found = 0 if absent or expired, or
 * CO_ERR_STORE. */
CO_MUST_CHECK co_status co_idem_get(co_store *store, const char *principal,
                                    const char *key, co_idem_record *rec,
                                    int *found, co_error *err);

/* Stores rec under (principal, key) unless the key is already taken (the
 * first writer wins). Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_idem_put(co_store *store, const char *principal,
                                    const char *key, const char *method,
                                    const char *path, const co_idem_record *rec,
                                    co_error *err);

#endif
