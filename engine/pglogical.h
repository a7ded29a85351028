/* pglogical.h - the "pg-logical" replication engine: PostgreSQL's own
 * logical replication (publication on the source, subscription on the
 * target) behind the engine interface of engine/engine.h.
 *
 * Objects per task role (main, rollback, stage) are named from the run id:
 * cutover_<26 id chars>_<role> for the publication, the replication slot
 * and the subscription, so a retried or resumed step finds them instead of
 * creating more. The slot is created on the publisher first with
 * pg_create_logical_replication_slot() and the subscription is created
 * with create_slot = false: CREATE SUBSCRIPTION that creates its own slot
 * hangs when publisher and subscriber databases share a cluster.
 *
 * The subscription's connection string holds the source password; PostgreSQL
 * keeps it in pg_subscription.subconninfo on the target, readable by
 * superusers only. cutover never logs it or puts it in an event.
 */
#ifndef CUTOVER_ENGINE_PGLOGICAL_H
#define CUTOVER_ENGINE_PGLOGICAL_H

#include "engine/engine.h"
#include "core/status.h"

extern const co_engine co_pg_logical_engine;

/* Writes into out[64] the name shared by the publication, replication slot
 * and subscription of task role (main, stage, rollback) of run_id:
 * "cutover_<run id without its prefix>_<role>". */
void co_pgl_object_name(const char *run_id, const char *role, char out[64]);

/* Runs the source checks of the pg-logical engine (wal_level = logical,
 * free replication slots and WAL senders, a role that may replicate; with
 * run parameter rollback_task, a free logical replication worker) and the
 * target checks (a role that may create subscriptions; a free logical
 * replication worker for the apply worker: max_logical_replication_workers
 * at least 1 and above the enabled subscriptions of the cluster). Each failed
 * check is a finding {"endpoint", "setting", "value", "required"} appended
 * to findings (a JSON array). Returns CO_OK when the checks could run
 * (findings may still be non-empty), or the connection error. */
struct co_step_ctx;
CO_MUST_CHECK co_status co_pgl_check(struct co_step_ctx *ctx, json_t *findings,
                                     co_error *err);

#endif
