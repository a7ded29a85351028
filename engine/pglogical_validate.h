/* pglogical_validate.h - continuous validation of the pg-logical engine:
 * source and target compared table by table in primary-key chunks while CDC
 * runs, and at the cutover gate only what changed since.
 *
 * DESIGN
 * pgl_validate_task() is the engine's validate_task operation. Each call is
 * one bounded attempt (about 2 s of work while CDC runs, 5 s at the gate)
 * on the runner; the whole state lives in the step's outputs under
 * "validation" (persisted with every verdict, so a restart resumes where the
 * last verdict left it) and in the change log on the target.
 *
 *  1. First call: lists the tables of the run's schemas on the target with
 *     their primary keys (pg/pg_chunks.h) and installs the change log: an
 *     ENABLE ALWAYS row trigger per table, fired by the subscription's apply
 *     worker and by local writes, writing each changed key into
 *     cutover_<run>_validation.changed_keys on the target.
 *  2. The pass: per table, chunks of validation_chunk_rows rows in key
 *     order; the target's chunk fixes the upper key bound, the source reads
 *     the same key range; equal count and checksum = validated. A chunk that
 *     differs is re-read once the subscription has confirmed the source LSN
 *     read with it (the replication lag has passed); if it still differs its
 *     rows are compared one by one and the differing keys are followed: a
 *     key whose source row is unchanged between validation_max_checks checks
 *     and still differs is a mismatch (reported with the chunk's key range
 *     and the keys); a key whose source row keeps changing is left to the
 *     change log (every change reaches the log through the trigger).
 *  3. The change log: due entries (oldest first) are compared by key the
 *     same way; matching ones are deleted, differing ones deferred until the
 *     subscriber passes the source LSN of the check.
 *  4. Cost: the source reads are bounded to validation_rate_rows rows per
 *     second (the attempt WAITs accordingly); while the slot is more than
 *     validation_backoff_lag_bytes behind, nothing is read (WAIT 2 s).
 *
 * Rechecks, the pass and the change log take turns within an attempt.
 * While CDC runs (final false) the operation is DONE once every table was
 * passed through, no chunk is pending, the change log consumer keeps up
 * (less than one batch of entries due) and nothing mismatched; at the gate
 * (final true, after the drain, without the rate limit) once additionally
 * the change log is empty. Mismatches FAIL then (all of them, once the pass
 * and the pending chunks are through) with the key ranges; a retry of
 * the step checks the mismatched keys again. Tables without a primary key
 * are compared whole, at every pass and at the gate.
 *
 * Events: validation.progress {"tables": {"s.t": {rows_validated,
 * chunks_done, chunks_pending, keys_validated, mismatches}},
 * "changed_keys_pending", "final"} after each attempt that validated
 * something; validation.mismatch {"table","lo","hi","keys","keys_total"}.
 *
 * THREADS: runs on a runner worker holding the step's lease; its own two
 * connections per attempt.
 */
#ifndef CUTOVER_ENGINE_PGLOGICAL_VALIDATE_H
#define CUTOVER_ENGINE_PGLOGICAL_VALIDATE_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "engine/step.h"

/* Engine operation validate_task (engine.h) for role "main": one attempt as
 * described above, state in ctx->outputs "validation" (at the gate taken
 * over from await_cdc_sync's outputs on the first call). Verdicts: DONE,
 * WAIT(ms), RETRY (connection loss and transient SQLSTATEs), FAIL (a
 * mismatch, the slot missing, other database errors). */
void pgl_validate_task(co_step_ctx *ctx, const char *role, bool final, co_verdict *v);

/* Drops the run's change log schema (and with it the triggers) on the
 * target through conn; absent is fine. Used by delete_task for role main.
 * Errors: see pg_conn_fail. */
CO_MUST_CHECK co_status pgl_validate_remove(co_step_ctx *ctx, PGconn *target, co_error *err);

#endif
