/* pglogical_int.h - internals shared by pglogical.c (tasks) and
 * pglogical_stats.c (table statistics and CDC latency). Not a public API. */
#ifndef CUTOVER_ENGINE_PGLOGICAL_INT_H
#define CUTOVER_ENGINE_PGLOGICAL_INT_H

#include <libpq-fe.h>

#include "engine/step.h"

/* Names of the publication, slot and subscription of a task role. */
typedef struct pgl_names {
    char pub[64], slot[64], sub[64];
} pgl_names;

/* Fills n for role: cutover_<run id without prefix>_<role>. */
void pgl_names_make(const co_step_ctx *ctx, const char *role, pgl_names *n);

/* The endpoint that publishes (subscribes) for role: "rollback" replicates
 * target -> source, the other roles source -> target. Borrowed from ctx. */
const co_resource *pgl_publisher(co_step_ctx *ctx, const char *role);
const co_resource *pgl_subscriber(co_step_ctx *ctx, const char *role);

/* 1 if the one-parameter query sql returns a row for name, 0 if not, -1 on
 * error (err set). */
int pgl_exists(PGconn *c, const char *what, const char *sql, const char *name,
               co_error *err);

/* One-row, one-column query; *out is a new string or NULL when no row. */
CO_MUST_CHECK co_status pgl_query_text(PGconn *c, const char *what, const char *sql,
                                       int n, const char *const *params, char **out,
                                       co_error *err);

/* ALTER SUBSCRIPTION <sub of role> <action> on the subscriber. */
CO_MUST_CHECK co_status pgl_alter_subscription(co_step_ctx *ctx, const char *role,
                                               const char *action, co_error *err);

/* The tables of the source that the run's table mappings select for role
 * (read from the catalog through c), as a new array of {"schema", "table",
 * "has_key" (a primary key, or replica identity FULL or INDEX), "unlogged",
 * "replident" (pg_class.relreplident: d, n, f, i)}. Errors: from libpq, or
 * loading the run's task. */
CO_MUST_CHECK co_status pgl_selected_tables(co_step_ctx *ctx, const char *role, PGconn *c,
                                            json_t **out, co_error *err);

/* pglogical_checks.c. Appends to findings (a JSON array) one
 * {"endpoint":"source", "table", "setting", "value", "required"} per
 * selected table the engine cannot carry as is: unlogged; without a key or
 * replica identity while tables_without_key is "fail"; with a foreign key
 * to a table that is not selected; plus {"endpoint", "setting": "large
 * objects", ...} when the source holds large objects and copy_large_objects
 * is false. Read-only. Errors: connecting to or querying the source. */
CO_MUST_CHECK co_status pgl_table_findings(co_step_ctx *ctx, json_t *findings,
                                           co_error *err);

/* Applies the run parameter tables_without_key to tables (from
 * pgl_selected_tables, changed in place) on the publisher connection pubc:
 * "exclude" removes the keyless tables and appends "schema.table" names to
 * excluded; "replica-identity-full" first records them with their previous
 * relreplident in ctx->outputs.replica_identity_full and returns 1 with a
 * WAIT verdict (so the record is saved before any change), then on the next
 * call runs ALTER TABLE ... REPLICA IDENTITY FULL for each and returns 0;
 * "fail" (the default) returns -1 with a FAIL verdict naming the tables.
 * Returns 0 to go on, 1 (WAIT set) or -1 (v set). */
int pgl_keyless_policy(co_step_ctx *ctx, PGconn *pubc, json_t *tables, json_t *excluded,
                       co_verdict *v);

/* Puts back, on the publisher pubc, the replica identity of every table
 * recorded by pgl_keyless_policy (outputs of full_load in
 * ctx->all_outputs) that is still FULL: DEFAULT or NOTHING as it was.
 * Appends {"schema","table","replica_identity"} per table to report (may
 * be NULL). Idempotent. Errors: from libpq. */
CO_MUST_CHECK co_status pgl_restore_replica_identity(co_step_ctx *ctx, PGconn *pubc,
                                                     json_t *report, co_error *err);

/* Engine operations implemented in pglogical_stats.c (see engine.h). */
/* True when role's task (the step outputs' {role}.full_load_method) loads
 * by snapshot copy instead of the subscription's table synchronisation. */
bool pgl_snapshot_copy_wanted(const co_step_ctx *ctx, const char *role);

/* The full load of role's task by snapshot copy (pglogical_copy.c): WAIT
 * once to persist the target's keys, then creates the slot, copies every
 * table of outputs.{role}.tables and sets outputs.full_load_copy; DONE, or
 * RETRY/FAIL naming what failed (a retry starts the copy again). Runs on the
 * step's thread for the whole copy, publishing table.statistics about once a
 * second. */
void pgl_snapshot_copy(co_step_ctx *ctx, const char *role, co_verdict *v);

void pgl_await_full_load(co_step_ctx *ctx, const char *role, co_verdict *v);
/* One poll of role's CDC catching up (engine op await_cdc_latency; the
 * DMS metric CDCLatencyTarget): measures on the publisher the slot's bytes
 * behind (pg_current_wal_insert_lsn() - confirmed_flush_lsn) and the lag
 * (PG_SUBSCRIBER_LAG_SQL, pg/pg_activity.h), publishes engine.status and
 * sets outputs.cdc ({CDCLatencyTarget: s or null when unknown,
 * BytesBehind}). DONE when nothing is behind or, max_seconds > 0, the
 * measured lag is at most max_seconds; an unknown lag (no subscriber
 * connected to the slot) never counts as caught up. Otherwise
 * WAIT, with waiting_for naming the subscription and what is behind
 * (co_step_waiting). FAIL when the slot is missing; the errors of
 * co_step_pg_open and pg_exec as RETRY/FAIL (co_verdict_from_error). */
void pgl_await_cdc_latency(co_step_ctx *ctx, const char *role, double max_seconds,
                           co_verdict *v);
void pgl_describe_task(co_step_ctx *ctx, const char *role, json_t **out,
                       json_t **tables, co_verdict *v);

#endif
