/* secret.h - encryption at rest of write-only secrets (endpoint passwords).
 *
 * AES-256-GCM (OpenSSL EVP) with a 32-byte key read from a key file that is
 * created with mode 0600 from RAND_bytes at first start if absent. A sealed
 * blob is: version byte 0x01 | 12-byte random nonce | ciphertext | 16-byte
 * tag. Version 1 blobs were bound to the owning resource id only; version
 * 2 blobs (every blob sealed now) are bound by their additional
 * authenticated data to the endpoint id and its destination (host, port,
 * database, username, sslmode, sslrootcert: co_secret_endpoint_aad), so a blob copied
 * onto another row, or a row whose destination was edited in the SQLite
 * file, fails to open. store/rewrap.h re-seals version 1 blobs at start and
 * every blob under a new key.
 */
#ifndef CUTOVER_STORE_SECRET_H
#define CUTOVER_STORE_SECRET_H

#include <stddef.h>

#include <jansson.h>

#include "core/status.h"

#define CO_SECRET_KEY_LEN 32
#define CO_SECRET_OVERHEAD (1 + 12 + 16)
#define CO_SECRET_BLOB_VERSION 2

typedef struct co_secret_key {
    unsigned char key[CO_SECRET_KEY_LEN];
} co_secret_key;

/* Loads the key from path, creating the file (0600, O_EXCL) with a fresh
 * random key if it does not exist. Errors: CO_ERR_IO (cannot read/create,
 * wrong size, or readable by group/others), CO_ERR_CRYPTO (RAND_bytes). */
CO_MUST_CHECK co_status co_secret_key_load(const char *path, co_secret_key *key,
                                           co_error *err);

/* Seals plain[0..plain_len) bound to aad (NUL-terminated, e.g. the resource
 * id). *out is a new malloc'd blob of plain_len + CO_SECRET_OVERHEAD bytes
 * that the caller frees; *out_len its length. Errors: CO_ERR_CRYPTO,
 * CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_secret_seal(const co_secret_key *key,
                                       const char *aad, const void *plain,
                                       size_t plain_len, unsigned char **out,
                                       size_t *out_len, co_error *err);

/* Opens a blob made by co_secret_seal with the same aad. *out is a new
 * malloc'd NUL-terminated plaintext (caller frees; wipe with
 * OPENSSL_cleanse first). Errors: CO_ERR_CRYPTO when the blob is malformed,
 * tampered with, or bound to another aad; CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_secret_open(const co_secret_key *key, const char *aad,
                                       const unsigned char *blob, size_t blob_len,
                                       char **out, size_t *out_len, co_error *err);

/* The version byte of a sealed blob (1 or 2), 0 if blob is too short. */
int co_secret_blob_version(const unsigned char *blob, size_t blob_len);

/* The additional authenticated data that binds an endpoint's password to
 * where it may be sent: the compact JSON array [id, host, port, database,
 * username, sslmode, sslrootcert] of the endpoint's validated doc (null for an absent
 * member). *out is a new string the caller frees. Errors: CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_secret_endpoint_aad(const char *id, const json_t *doc,
                                               char **out, co_error *err);

/* Opens an endpoint's password blob (co_secret_open) bound to the aad
 * co_secret_endpoint_aad makes of id and doc. *out as co_secret_open.
 * Errors: CO_ERR_CRYPTO when the blob was sealed for another destination
 * (or tampered with), CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_secret_open_endpoint(const co_secret_key *key, const char *id,
                                                const json_t *doc,
                                                const unsigned char *blob,
                                                size_t blob_len, char **out,
                                                size_t *out_len, co_error *err);

/* Derives a 32-byte subkey for another purpose than sealing from key:
 * HMAC-SHA256(key, label) (label e.g. "cutover idempotency v1"). out is
 * zeroed if OpenSSL fails. */
void co_secret_derive(const co_secret_key *key, const char *label,
                      unsigned char out[32]);

#endif
