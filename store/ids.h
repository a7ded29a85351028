/* ids.h - opaque resource ids.
 *
 * An id is a type prefix ("prj_", "ept_", "rin_", "tsk_", "run_") followed by
 * 26 characters of lower-case RFC 4648 base32 (no padding) encoding 128 bits
 * from OpenSSL's RAND_bytes: e.g. "prj_5x3k...". 31 bytes with the NUL.
 */
#ifndef CUTOVER_STORE_IDS_H
#define CUTOVER_STORE_IDS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

#define CO_ID_SIZE 32 /* prefix (4) + 26 base32 chars + NUL, rounded */

/* Writes a new id with the given 4-character prefix (e.g. "prj_") into
 * out[CO_ID_SIZE]. Errors: CO_ERR_CRYPTO if RAND_bytes fails,
 * CO_ERR_INTERNAL if the prefix is not 4 characters. */
CO_MUST_CHECK co_status co_id_new(const char *prefix, char out[CO_ID_SIZE],
                                  co_error *err);

/* True if id has the given prefix and 26 base32 characters after it. */
bool co_id_valid(const char *id, const char *prefix);

#endif
