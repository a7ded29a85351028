/* rewrap.h - re-sealing every stored secret: version 1 blobs (bound to the
 * endpoint id only) to version 2 (bound to the destination) at start-up,
 * and every blob under a new key (cutoverd --rotate-key).
 *
 * DESIGN
 * One SQLite transaction reads every resource row with a secret (and every
 * webhook's signing secret, bound to the webhook id), opens the
 * blob with the old key and the AAD its version implies (store/secret.h),
 * seals it again with the new key and co_secret_endpoint_aad of the row's
 * doc, and writes it back; either every row is re-sealed or none is.
 * Plaintexts are wiped right after use.
 *
 * THREADS: call from the main thread before the HTTP server and the runner
 * start (or in the --rotate-key command, with the daemon stopped).
 */
#ifndef CUTOVER_STORE_REWRAP_H
#define CUTOVER_STORE_REWRAP_H

#include <stdbool.h>

#include "store/db.h"
#include "store/secret.h"

/* Re-seals the secrets of store: with only_v1, only version 1 blobs (a
 * migration with old_key == new_key); otherwise every blob, from old_key
 * to new_key. *count receives the number of rows rewritten. Errors:
 * CO_ERR_CRYPTO (a blob does not open with old_key: wrong key or edited
 * row, named by id; nothing is written), CO_ERR_STORE, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_secret_rewrap(co_store *store,
                                         const co_secret_key *old_key,
                                         const co_secret_key *new_key, bool only_v1,
                                         size_t *count, co_error *err);

#endif
