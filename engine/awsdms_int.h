/* awsdms_int.h - what engine/awsdms.c (client, instance, endpoints) and
 * engine/awsdms_task.c (tasks) share. Not a public interface: the engine's
 * callers use engine/awsdms.h. Every function runs on a runner worker.
 */
#ifndef CUTOVER_ENGINE_AWSDMS_INT_H
#define CUTOVER_ENGINE_AWSDMS_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "aws/dms.h"
#include "engine/awsdms.h"
#include "engine/step.h"

#define AWSDMS_ID_MAX 256

/* Poll intervals before CUTOVER_DMS_POLL_SCALE, in ms. */
#define AWSDMS_POLL_INSTANCE_MS 10000
#define AWSDMS_POLL_CONNECTION_MS 3000
#define AWSDMS_POLL_TASK_MS 3000
#define AWSDMS_POLL_LOAD_MS 5000
#define AWSDMS_POLL_SHORT_MS 1000

/* The shared client, created from ctx->app on first use. Returns NULL with
 * v set (FAIL: no credentials provider or a bad endpoint URL). */
co_dms_client *awsdms_client(co_step_ctx *ctx, co_verdict *v);

/* base_ms scaled by CUTOVER_DMS_POLL_SCALE (at least 10 ms). */
int64_t awsdms_poll_ms(int64_t base_ms);

/* Calls op with input (stolen; NULL = {}) and wipes a Password member in it
 * before freeing it. As co_dms_call otherwise. */
co_status awsdms_call(co_dms_client *cli, const char *op, json_t *input,
                      co_dms_result *res, co_error *err);

/* What every operation does first: presets v to FAIL "ended without a
 * verdict" (so that a path that forgets to decide can never pass for
 * DONE), then returns awsdms_client(). */
co_dms_client *awsdms_begin(co_step_ctx *ctx, co_verdict *v, const char *op);

/* co_verdict_from_error for a DMS call that returned rc (used when err
 * was not filled, e.g. a classified DMS answer). */
void awsdms_verdict_error(co_verdict *v, const char *what, co_status rc,
                          const co_error *err);

/* {"Filters": [{"Name": name, "Values": [value]}]} (new reference). */
json_t *awsdms_filter(const char *name, const char *value);

/* The deterministic identifier "cutover-<run suffix>[-<role>]" (max_len 63
 * for instances, 255 otherwise) into out[AWSDMS_ID_MAX]. */
co_status awsdms_ident(const co_step_ctx *ctx, const char *role, size_t max_len,
                       char out[AWSDMS_ID_MAX], co_error *err);

/* String output key: this step's outputs first, then any step's in
 * all_outputs. Borrowed, NULL if absent. */
const char *awsdms_output(const co_step_ctx *ctx, const char *key);

/* Sets (value non-NULL) or removes string output key of this step. */
void awsdms_set_output(co_step_ctx *ctx, const char *key, const char *value);

/* Boolean output key of this step (absent = false) and its setter. */
bool awsdms_flag(const co_step_ctx *ctx, const char *key);
void awsdms_set_flag(co_step_ctx *ctx, const char *key, bool on);

/* Publishes "engine.status" when (status, reason) of resource/role differs
 * from the last one recorded in the outputs, and records it. Best effort
 * (a failed publish is logged). */
void awsdms_note_status(co_step_ctx *ctx, const char *resource, const char *role,
                        const char *status, const char *reason);

/* Copies what DMS answered with its timestamps (members ending in "Time"
 * or "Date" holding epoch seconds, integer or fractional, or ISO-8601
 * strings: co_dms_time_ms) turned into RFC 3339 strings. New reference
 * (NULL stays NULL). */
json_t *awsdms_normalize_times(const json_t *v);

/* Ensures the run's replication instance exists and is available:
 * CreateReplicationInstance "cutover-<run>" (class, storage, multi-AZ,
 * public access, engine version, ReplicationSubnetGroupIdentifier,
 * VpcSecurityGroupIds and KmsKeyId from the run's replication_instance_id
 * resource, else dms.t3.medium / 50 GB / single-AZ / private; adopted on
 * ResourceAlreadyExistsFault), then DescribeReplicationInstances (Filters
 * replication-instance-id). true once available (outputs
 * dms_instance_arn, dms_instance_status); false with v set: WAIT (10 s)
 * while creating/modifying/..., FAIL on failed, incompatible-*,
 * storage-full, inaccessible-encryption-credentials or deleting. An
 * instance recorded as available in the outputs is not described again. */
bool awsdms_instance_ready(co_step_ctx *ctx, co_dms_client *cli, co_verdict *v);

/* ARN of the run's replication instance: from the outputs, else described
 * by identifier (and then recorded). false with v set when it does not
 * exist (FAIL) or DMS failed. */
bool awsdms_instance_arn(co_step_ctx *ctx, co_dms_client *cli, char *out, size_t size,
                         co_verdict *v);

/* Ensures the endpoint pair exists and its connection tests passed:
 * forward (the run's source and target) or reverse (rollback direction);
 * with refresh, also refreshes the source's schemas. true when all is done
 * (v untouched); false with v set (WAIT, RETRY, FAIL). */
bool awsdms_pair_ready(co_step_ctx *ctx, co_dms_client *cli, bool reverse, bool refresh,
                       co_verdict *v);

/* ---- waits (awsdms_wait.c) ----------------------------------------------- */

/* A run parameter in minutes (co_param_num, def when absent) as ms. */
int64_t awsdms_minutes_ms(const co_step_ctx *ctx, const char *param, double def);

/* One poll of a wait on DMS: records it with co_step_waiting (waiting_for
 * on the run, a periodic step.waiting event every waiting_event_minutes)
 * and sets v to WAIT(poll_ms); when timeout_param (a run parameter in
 * minutes, default def_minutes; NULL: no deadline) has passed since the
 * wait began, sets v to FAIL "waited <m> minutes for <what>; last status:
 * <detail> (run parameter <timeout_param>)" instead. what names the
 * awaited thing and must stay the same text for the whole wait; detail
 * (may be NULL) is its last observed status. */
void awsdms_wait(co_step_ctx *ctx, co_verdict *v, const char *what, const char *detail,
                 const char *timeout_param, double def_minutes, int64_t poll_ms);

/* ---- CDC latency (awsdms_cdc.c) ------------------------------------------- */

/* One reading of the awsdms_status control table. */
typedef struct awsdms_cdc_figures {
    double latency_s;     /* SOURCE_CURRENT_TIMESTAMP - SOURCE_TIMESTAMP_APPLIED
                           * in seconds (0 when applied is ahead); -1 unknown */
    int64_t pending;      /* PENDING_CHANGES; -1 unknown */
    char task_status[40]; /* TASK_STATUS ("CHANGE PROCESSING", "FULL LOAD", ...) */
    char status_time[40]; /* STATUS_TIME, ISO 8601 without zone as DMS writes it */
    char table[200];      /* "<control schema>.awsdms_status" */
} awsdms_cdc_figures;

/* True when task (role) writes the control table of setting (e.g.
 * "StatusTableEnabled", "SuspendedTablesTableEnabled") into the run's
 * PostgreSQL target: that member of its ControlTablesSettings is true and
 * it is not the rollback task (whose target is the source). task
 * described with its settings. */
bool awsdms_control_table_on(const co_step_ctx *ctx, const char *role, const json_t *task,
                             const char *setting);

/* The tables DMS suspended for task, with its reason, from
 * awsdms_suspended_tables in the control schema on the target, as a new
 * object {"<TABLE_OWNER>.<TABLE_NAME>": "<SUSPEND_REASON>"} in *out ({}
 * when the table does not exist). Errors as awsdms_validation_failures. */
CO_MUST_CHECK co_status awsdms_suspended_tables(co_step_ctx *ctx, const json_t *task,
                                                json_t **out, co_error *err);

/* Reads the newest awsdms_status row of task (TASK_NAME = the resource id
 * at the end of its ARN) from the control schema of its settings
 * (ControlTablesSettings.ControlSchema, else public) on the run's target,
 * with libpq as the target endpoint's user. task must have been described
 * with its settings. Returns 1 with *f filled, 0 when the table or the
 * row does not exist (yet), -1 with err set (connection or SQL errors,
 * CO_ERR_TRANSIENT for transient ones). */
int awsdms_cdc_read(co_step_ctx *ctx, const json_t *task, awsdms_cdc_figures *f,
                    co_error *err);

/* The keys of rows that failed DMS data validation for task, at most
 * limit, from awsdms_validation_failures_v1 in the control schema on the
 * target, as a new object {"<TABLE_OWNER>.<TABLE_NAME>": [{key,
 * failure_type}]} in *out ({} when the table does not exist). Errors:
 * connection and SQL errors (CO_ERR_TRANSIENT for transient ones). */
CO_MUST_CHECK co_status awsdms_validation_failures(co_step_ctx *ctx, const json_t *task,
                                                   int limit, json_t **out, co_error *err);

/* (awsdms_validate.c) DMS data validation at final_sync: reads
 * ValidationState, ValidationPendingRecords, ValidationFailedRecords and
 * ValidationSuspendedRecords of every table (tables: DescribeTableStatistics
 * of task), stores validation.json (the shape of the pg-logical report:
 * {match, mismatches, method, tables: {name: {match, source, target, dms,
 * failed_keys}}}) and sets outputs.validation {match, mismatches}. DONE
 * when every table is validated (or validation is not enabled on the task:
 * outputs say so); WAIT while records are pending; FAIL naming the tables
 * mismatched or suspended and the keys from awsdms_validation_failures_v1. */
void awsdms_validate(co_step_ctx *ctx, const char *role, const json_t *task,
                     const json_t *tables, co_verdict *v);

/* ---- shared by awsdms_task.c and awsdms_wait.c ---------------------------- */

/* strcmp(a, b) == 0 with NULL never equal. */
bool awsdms_streq(const char *a, const char *b);

/* Describes the task of role (by recorded ARN, else by identifier, per DMS
 * API DescribeReplicationTasks): 1 with *task borrowed from res, 0 when it
 * does not exist, -1 with v set. with_settings: ask for TableMappings and
 * ReplicationTaskSettings too. */
int awsdms_find_task(co_step_ctx *ctx, co_dms_client *cli, const char *role,
                     bool with_settings, co_dms_result *res, json_t **task, co_verdict *v);

/* String member key of task, NULL when absent. Borrowed. */
const char *awsdms_task_str(const json_t *task, const char *key);

/* ReplicationTaskStats member key of task as an integer (co_dms_int), 0
 * when absent (DMS may leave ReplicationTaskStats out). */
int64_t awsdms_stat_int(const json_t *task, const char *key);

/* True if ReplicationTaskStartDate is a timestamp (absent or null: the
 * task never started). */
bool awsdms_ever_started(const json_t *task);

/* DescribeTableStatistics of task (paginated), times normalised, as a new
 * array in *tables, and one table.statistics event. false with v set. */
bool awsdms_table_stats(co_step_ctx *ctx, co_dms_client *cli, const char *role,
                        const json_t *task, json_t **tables, co_verdict *v);

/* Table health: FAILs naming the tables in "Table error" or suspended by
 * DMS (awsdms_suspended_tables, when the task writes it) with DMS's reason
 * from that table; false when there is none (or v set to RETRY when the
 * control table could not be read). */
bool awsdms_table_errors(co_step_ctx *ctx, const json_t *task, const json_t *tables,
                         const char *role, co_verdict *v);

/* True if the task is set up to stop by itself after its full load
 * (full-load, or StopTaskCachedChanges(Not)Applied in its settings). */
bool awsdms_expects_stop(const json_t *task);

/* True for the StopReasons of a task that paused after its full load. */
bool awsdms_pause_reason(const char *reason);

/* FAIL "replication task <role> is <status> (<StopReason>): <message>". */
void awsdms_fail_stopped(co_verdict *v, const char *role, const json_t *task);

/* DMS StartReplicationTaskType of kind (static string). */
const char *awsdms_start_type(co_task_start kind);

/* ---- task operations (awsdms_task.c); engine.h gives their contract.
 * role is "main", "rollback" or "stage" (anything else FAILs). Each
 * finds the task by its recorded ARN, else by identifier, per DMS API
 * DescribeReplicationTasks (Filters replication-task-arn / -id). */

/* The instance (awsdms_instance_ready: the view-migration plan has no
 * step of its own for it) and the endpoints (the forward pair, or the
 * reverse pair for rollback, created and tested here) first; then
 * CreateReplicationTask (MigrationType,
 * TableMappings and ReplicationTaskSettings from the run's task resource,
 * see co_awsdms_task_settings_new / co_awsdms_reverse_mappings_new),
 * adopting on ResourceAlreadyExistsFault. WAIT (3 s) while creating or
 * modifying; DONE once ready (or already run); FAIL if creation failed. */
void awsdms_ensure_task(co_step_ctx *ctx, const char *role, co_verdict *v);

/* StartReplicationTask with StartReplicationTaskType start-replication,
 * resume-processing or reload-target. DONE at once if the task is running
 * or starting, or this start was already accepted (output flag); WAIT
 * while it is changing state; an InvalidResourceStateFault is re-read up to
 * 3 times (WAIT), then FAILs with DMS's message. */
void awsdms_start_task(co_step_ctx *ctx, const char *role, co_task_start kind,
                       co_verdict *v);

/* (awsdms_wait.c) DescribeReplicationTasks + DescribeTableStatistics
 * (paginated, MaxRecords 500) on each poll, with a table.statistics event.
 * DONE when the task stopped with StopReason STOPPED_AFTER_CACHED_EVENTS,
 * STOPPED_AFTER_FULL_LOAD or FULL_LOAD_ONLY_FINISHED (or, without a
 * StopReason, stopped with every table loaded when it was set to stop),
 * or (for a task not set to stop) runs with the full load at 100 %; FAIL
 * when it failed, stopped otherwise, or a table is in "Table error"
 * (named). A task still ready after DMS accepted StartReplicationTask is
 * started again after task_start_timeout_minutes, at most
 * task_start_attempts starts in all, then FAILs naming it and its status.
 * While loading: WAIT (5 s) with waiting_for "full load of replication
 * task <id>"; when no table's FullLoadRows or TableState changed for
 * stall_minutes, one step.stalled event (FAIL with fail_on_stall). */
void awsdms_await_full_load(co_step_ctx *ctx, const char *role, co_verdict *v);

/* (awsdms_wait.c) As await_full_load for the polls and the restarts
 * (resume-processing for a stopped task); once the task runs with its
 * full load done, measures CDC latency from the awsdms_status control
 * table on the target (awsdms_cdc.c) and publishes engine.status with the
 * figures. DONE when the latency stayed at most max_seconds for
 * cdc_sync_window_seconds; with max_seconds 0 (final_sync), when
 * PENDING_CHANGES is 0 and the latency under 1 s. */
void awsdms_await_cdc_latency(co_step_ctx *ctx, const char *role, double max_seconds,
                              co_verdict *v);

/* StopReplicationTask while running or starting, WAIT (3 s) until
 * stopped; DONE when stopped, ready, failed or absent. */
void awsdms_stop_task(co_step_ctx *ctx, const char *role, co_verdict *v);

/* Stops the task if needed, then DeleteReplicationTask and WAIT until
 * DescribeReplicationTasks answers ResourceNotFoundFault (DONE); then
 * awsdms_cleanup_after. */
void awsdms_delete_task(co_step_ctx *ctx, const char *role, co_verdict *v);

/* (awsdms_cleanup.c) Once the task of role is gone: for rollback, its
 * reverse endpoints; with the run parameter cleanup (default true), for
 * main and stage the forward endpoints, and the replication instance
 * (after the rollback task, or after main/stage when no rollback task was
 * asked for). Each found by its run-derived identifier (DescribeEndpoints,
 * DescribeReplicationInstances), then DeleteEndpoint /
 * DeleteReplicationInstance, not waited for. v stays DONE, or becomes
 * RETRY/FAIL on a DMS error. */
void awsdms_cleanup_after(co_step_ctx *ctx, co_dms_client *cli, const char *role,
                          co_verdict *v);
/* The replication task of role (by identifier, with its ARN when
 * recorded) and, for rollback, the reverse endpoint pair (by ARN), with
 * the AWS CLI command that deletes each (engine.h left_behind). */
void awsdms_left_behind(co_step_ctx *ctx, const char *role, json_t *items);

/* *out: {ReplicationTaskIdentifier, ReplicationTaskArn, MigrationType,
 * Status, StopReason, LastFailureMessage, ReplicationTaskStartDate,
 * ReplicationTaskStats} and *tables: [TableStatistics], both new
 * references with RFC 3339 times (NULL unless DONE). */
void awsdms_describe_task(co_step_ctx *ctx, const char *role, json_t **out,
                          json_t **tables, co_verdict *v);

#endif
