/* idempotency.h - stored responses of POST requests sent with an
 * Idempotency-Key header.
 *
 * A key is scoped to the authenticated principal. The first request with a
 * key stores its final response (status, content type, Location, ETag,
 * body) together with an HMAC-SHA256 of the method, path and body under a
 * key derived from the secret key (bodies may hold passwords, so a plain
 * hash would let anyone with the SQLite file test guesses); a later
 * request with the same key and the same fingerprint gets the stored
 * response again, one with another fingerprint gets 422. Keys are kept for
 * 24 hours.
 */
#ifndef CUTOVER_STORE_IDEMPOTENCY_H
#define CUTOVER_STORE_IDEMPOTENCY_H

#include <stddef.h>

#include "store/db.h"

typedef struct co_idem_record {
    char fingerprint[65]; /* hex HMAC-SHA256 of method, path and body */
    int status;
    char content_type[64];
    char location[256];
    char etag[64];
    char *body;           /* owned, may hold NULs; body_len bytes */
    size_t body_len;
} co_idem_record;

/* Computes the hex HMAC-SHA256 under mac_key (32 bytes; the daemon uses
 * co_secret_derive(key, "cutover idempotency v1")) of (method, path, body)
 * into out[65]; out is "" if OpenSSL fails (the request then never matches
 * a stored one). */
void co_idem_fingerprint(const unsigned char mac_key[32], const char *method,
                         const char *path, const char *body, size_t body_len,
                         char out[65]);

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
