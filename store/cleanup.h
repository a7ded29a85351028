/* cleanup.h - the durable state of a cancelled run's engine clean-up.
 *
 * runs.cleanup is 'none' (never cancelled), 'pending' (to do, due at
 * cleanup_until when no worker owns it), 'done', or 'gave_up' (the bound of
 * failed attempts was reached; the engine resources may still exist until
 * an operator asks for another clean-up). cleanup_attempts counts failed
 * attempts since the last request; cleanup_error is the last failure.
 */
#ifndef CUTOVER_STORE_CLEANUP_H
#define CUTOVER_STORE_CLEANUP_H

#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"
#include "store/ids.h"

/* Marks run id's engine resources for clean-up (after a cancel), due now,
 * with no attempt made. In the caller's transaction. Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_runs_mark_cleanup(co_store *store, const char *id,
                                             co_error *err);

/* Claims the most overdue pending clean-up for owner until now_ms +
 * lease_ms: one that is due and not owned, or owned by a worker of an
 * earlier boot (boot_id is this process's). run_id[CO_ID_SIZE] receives
 * it, *found = 0 if none is due. Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_runs_claim_cleanup(co_store *store, const char *owner,
                                              const char *boot_id, int64_t now_ms,
                                              int64_t lease_ms, char *run_id,
                                              int *found, co_error *err);

/* Releases a claimed clean-up with its outcome: state "done", "gave_up" or
 * "pending" (due again at due_ms, epoch ms); attempts is the number of
 * failed attempts so far; error (NULL for none) the last failure, copied.
 * Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_runs_finish_cleanup(co_store *store, const char *id,
                                               const char *state, int attempts,
                                               int64_t due_ms, const char *error,
                                               co_error *err);

/* An operator's request for another clean-up of cancelled run id: pending,
 * due now (a worker already on it keeps it), attempts back to 0.
 * Errors: CO_ERR_NOT_FOUND (no such run), CO_ERR_CONFLICT (the run is not
 * cancelled: only a cancelled run's resources are removed), CO_ERR_STORE. */
CO_MUST_CHECK co_status co_runs_request_cleanup(co_store *store, const char *id,
                                                co_error *err);

/* Epoch ms at which the next unowned pending clean-up is due, INT64_MAX if
 * none (for the runner's idle wait). */
int64_t co_runs_cleanup_next_due(co_store *store);

#endif
