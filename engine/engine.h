/* engine.h - the replication-engine interface and the engine registry.
 *
 * An engine moves data (full load and CDC) between a source and a target
 * endpoint. Two implementations exist: "aws-dms" (AWS DMS through its JSON
 * API) and "pg-logical" (PostgreSQL publication/subscription). Every
 * operation runs one bounded unit of work on a runner thread and reports
 * through a verdict: DONE when the goal is reached, WAIT(after_ms) while a
 * remote resource is still changing (a worker never sleeps on it), RETRY
 * for transient failures, FAIL otherwise. Operations are idempotent:
 * resources get identifiers derived from the run id and are looked up
 * before they are created, so a retried or resumed step adopts what exists.
 *
 * Task roles name the replication tasks a run uses: "main" (full load +
 * CDC), "rollback" (reverse CDC after cutover), "stage" (view migration
 * stage 1). Table statistics use DMS's field names (TableName, SchemaName,
 * TableState, FullLoadRows, Inserts, Updates, Deletes, ...).
 */
#ifndef CUTOVER_ENGINE_ENGINE_H
#define CUTOVER_ENGINE_ENGINE_H

#include <jansson.h>
#include <stdbool.h>

#include "core/state.h"

struct co_step_ctx;

typedef enum co_task_start {
    CO_TASK_START_REPLICATION, /* first start (DMS start-replication) */
    CO_TASK_RESUME_PROCESSING, /* after the pause (DMS resume-processing) */
    CO_TASK_RELOAD_TARGET      /* reload (DMS reload-target) */
} co_task_start;

typedef struct co_engine {
    const char *name;
    /* If set, runs every step of every plan itself (test engines). */
    void (*run_step)(struct co_step_ctx *ctx, co_verdict *v);
    /* Engine reachable and credentials usable. */
    void (*preflight)(struct co_step_ctx *ctx, co_verdict *v);
    /* Replication instance exists and is available. */
    void (*ensure_instance)(struct co_step_ctx *ctx, co_verdict *v);
    /* Source and target endpoints exist and their connection tests pass. */
    void (*ensure_endpoints)(struct co_step_ctx *ctx, co_verdict *v);
    /* Task of role exists (created if absent) and is ready to start. */
    void (*ensure_task)(struct co_step_ctx *ctx, const char *role, co_verdict *v);
    /* Starts task role as kind says; DONE once the start was accepted. */
    void (*start_task)(struct co_step_ctx *ctx, const char *role, co_task_start kind,
                       co_verdict *v);
    /* Waits for the full load to finish and the task to stop after cached
     * changes: WAIT while loading, DONE at the expected stop, FAIL on a
     * table error (naming the table). Publishes table statistics. */
    void (*await_full_load)(struct co_step_ctx *ctx, const char *role, co_verdict *v);
    /* Waits until CDC latency is at most max_seconds. */
    void (*await_cdc_latency)(struct co_step_ctx *ctx, const char *role,
                              double max_seconds, co_verdict *v);
    /* Stops task role (DONE once stopped). */
    void (*stop_task)(struct co_step_ctx *ctx, const char *role, co_verdict *v);
    /* Deletes task role and what it alone uses (DONE once gone). */
    void (*delete_task)(struct co_step_ctx *ctx, const char *role, co_verdict *v);
    /* Validates the data of task role while CDC runs (final false) or at
     * the cutover gate after the drain (final true): WAIT while validating,
     * DONE when source and target agree, FAIL naming the key ranges that
     * differ. Progress goes to ctx->outputs "validation" in one shape for
     * every engine: {"state": running|done|mismatch, "progress": {"s.t":
     * {rows_validated, chunks_done, chunks_pending, keys_validated,
     * mismatches}}, "mismatches": [{table, lo, hi, keys, keys_total,
     * found_by}], "changed_keys_pending", "changed_keys_validated"}, and to
     * validation.progress / validation.mismatch events. Optional: without
     * it final_sync validates whole tables. */
    void (*validate_task)(struct co_step_ctx *ctx, const char *role, bool final,
                          co_verdict *v);
    /* Appends to items (a JSON array) one object per resource that
     * delete_task of role removes and that may still exist when it cannot:
     * {"kind", "name", "endpoint_id" or "arn" (where it lives, null if not
     * known), "remove" (the SQL or AWS CLI command that removes it)}.
     * Needs no connection (names derive from the run and its outputs). */
    void (*left_behind)(struct co_step_ctx *ctx, const char *role, json_t *items);
    /* Task status, StopReason and ReplicationTaskStats of role as JSON
     * (new reference) in *out; and per-table statistics in *tables. */
    void (*describe_task)(struct co_step_ctx *ctx, const char *role, json_t **out,
                          json_t **tables, co_verdict *v);
} co_engine;

/* The initialisers of the operations every engine implements, for an
 * engine whose functions are named <prefix>_<operation> (e.g.
 * awsdms_start_task); optional ones (run_step, validate_task) are set
 * beside it. */
#define CO_ENGINE_OPS(prefix)                                                                 \
    .preflight = prefix##_preflight, .ensure_instance = prefix##_ensure_instance,            \
    .ensure_endpoints = prefix##_ensure_endpoints, .ensure_task = prefix##_ensure_task,      \
    .start_task = prefix##_start_task, .await_full_load = prefix##_await_full_load,          \
    .await_cdc_latency = prefix##_await_cdc_latency, .stop_task = prefix##_stop_task,        \
    .delete_task = prefix##_delete_task, .left_behind = prefix##_left_behind,                \
    .describe_task = prefix##_describe_task

/* Registers an engine (static storage, name unique). Call before the
 * runner starts. Returns 0, or -1 when full or the name is taken. */
int co_engine_register(const co_engine *engine);

/* Finds a registered engine by name, or NULL. */
const co_engine *co_engine_find(const char *name);

/* Registers the built-in engines and, in test builds, the test engines
 * (co_engine_register_extra, a weak hook). */
void co_engine_register_builtin(void);

/* Weak hook: test builds define it to register test engines. */
void co_engine_register_extra(void);

#endif
