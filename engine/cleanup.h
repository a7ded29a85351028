/* cleanup.h - removing a cancelled run's engine resources, with a bound.
 *
 * A clean-up attempt calls the engine's delete_task for the task roles
 * "main", "stage" and "rollback" in turn (resources are named after the
 * run, so a role that never existed costs one look-up). It backs off like
 * a step: WAIT verdicts (a resource still changing) come back after their
 * delay and do not count; RETRY verdicts count as failed attempts and come
 * back after co_backoff_ms(attempts, retry_base_ms, retry_cap_ms) of the
 * run's parameters; after max_attempts failed attempts, or at once on a
 * FAIL verdict, the clean-up gives up: runs.cleanup = 'gave_up' and a
 * run.cleanup event {"result": "gave_up", "error", "attempts",
 * "left_behind": [...]} lists what may remain and the command that
 * removes each (engine left_behind). POST /v1/runs/{id}/cleanup asks for
 * another round (store/cleanup.h co_runs_request_cleanup). Every failed
 * attempt also publishes run.cleanup {"result": "retrying", ...}.
 */
#ifndef CUTOVER_ENGINE_CLEANUP_H
#define CUTOVER_ENGINE_CLEANUP_H

#include "engine/app.h"

/* Runs one clean-up attempt of run_id, which the caller has claimed
 * (co_runs_claim_cleanup), and releases the claim with its outcome. rand01
 * in [0, 1) jitters the backoff. Errors are logged, never returned. */
void co_cleanup_attempt(co_app *app, const char *run_id, double rand01);

#endif
