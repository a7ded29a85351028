/* awsdms.h - the "aws-dms" replication engine: engine.h's operations over
 * AWS DMS (aws/dms.h), and the Oracle source prerequisite script.
 *
 * Resources get deterministic identifiers from the run id (run_<suffix>):
 *   replication instance  cutover-<suffix>
 *   endpoints             cutover-<suffix>-source, -target, and for the
 *                         rollback task the reverse pair
 *                         cutover-<suffix>-rollback-source (the PostgreSQL
 *                         target read as a source) and
 *                         cutover-<suffix>-rollback-target (the original
 *                         source written as a target)
 *   tasks                 cutover-<suffix>-<role> (main, rollback, stage)
 * Every create first looks in the step outputs, and on
 * ResourceAlreadyExistsFault adopts the existing resource (its resourceArn,
 * else a Describe* by identifier), so a retried or resumed step converges.
 *
 * Step outputs written (ctx->outputs; later steps find them through
 * ctx->all_outputs, or by describing the deterministic identifier):
 *   dms_instance_arn, dms_instance_status, dms_source_endpoint_arn,
 *   dms_target_endpoint_arn, dms_rollback_source_endpoint_arn,
 *   dms_rollback_target_endpoint_arn, dms_task_<role>_arn,
 *   dms_status_<resource>_<role> (last "status|StopReason" seen, to
 *   publish "engine.status" on change), and progress flags
 *   (dms_{fwd,rev}_{source,target}_tested, dms_{fwd,rev}_ready,
 *   dms_refresh_started, dms_task_<role>_start_<StartReplicationTaskType>).
 *
 * Events: "engine.status" {"resource", "role", "status", "stop_reason",
 * "previous_status"} whenever a DMS status (or StopReason) changes;
 * "table.statistics" {"task": role, "status", "tables": [DMS
 * TableStatistics], "task_stats": DMS ReplicationTaskStats} on each poll of
 * await_full_load and await_cdc_latency. Timestamps inside tables and
 * task_stats (members ending in Time or Date) are converted from DMS's
 * epoch seconds to RFC 3339 UTC strings.
 *
 * Poll intervals (WAIT): instance 10 s, connection tests and schema refresh
 * 3 s, task transitions 3 s, full load and CDC 5 s. The environment
 * variable CUTOVER_DMS_POLL_SCALE (a factor in (0, 100], read once; tests
 * use 0.05) scales them all.
 *
 * Reading DMS: answers are read the way the AWS SDKs read them: JSON null
 * members are absent (aws/dms.h co_dms_drop_nulls), timestamps may be
 * epoch seconds or ISO-8601 strings, counters integers or reals, unknown
 * members are ignored and optional ones (ReplicationTaskStats, StopReason,
 * TableStatistics fields) may be missing: progress is then derived from
 * the tables' TableState.
 *
 * Waits (awsdms_wait.c): every poll records waiting_for (what, last
 * status, since) and publishes step.waiting periodically; instance,
 * connection-test, schema-refresh and task state waits fail after
 * instance_timeout_minutes / ready_timeout_minutes naming what was awaited
 * and its last status; a task that stays ready or stopped after an
 * accepted StartReplicationTask is started again (task_start_timeout_minutes,
 * task_start_attempts); a full load is judged by progress (step.stalled
 * after stall_minutes without a change of any table's FullLoadRows or
 * TableState).
 *
 * CDC latency (awsdms_cdc.c): the main task turns
 * ControlTablesSettings.StatusTableEnabled on and the engine reads the
 * awsdms_status control table on the PostgreSQL target with libpq:
 * latency = SOURCE_CURRENT_TIMESTAMP - SOURCE_TIMESTAMP_APPLIED, and
 * PENDING_CHANGES. await_cdc_latency() publishes engine.status with the
 * figures and is DONE once the latency held under max_seconds for
 * cdc_sync_window_seconds; with 0 (final_sync) once PENDING_CHANGES is 0
 * and the latency under 1 s, followed by DMS data validation
 * (awsdms_validate.c). A task without the status table (or the rollback
 * task, whose target is the source) is DONE when running, and the outputs
 * say that nothing was measured.
 *
 * THREADS: every operation runs on a runner worker. The DMS client is
 * created on first use from ctx->app (cfg.dms_endpoint, cfg.region,
 * aws_creds) and shared by all workers (aws/dms.h documents its locking);
 * co_aws_dms_engine_shutdown() frees it after the runner stopped.
 *
 * SECRETS: endpoint passwords (co_step_password) only travel in the
 * CreateEndpoint body; they are wiped after the call and never logged, put
 * in outputs, events or errors.
 */
#ifndef CUTOVER_ENGINE_AWSDMS_H
#define CUTOVER_ENGINE_AWSDMS_H

#include <jansson.h>

#include "engine/engine.h"
#include "core/status.h"

/* The engine, named "aws-dms" (register it with co_engine_register). */
extern const co_engine co_aws_dms_engine;

/* Frees the shared DMS client. Call once the runner's workers stopped (no
 * operation may be running); a later operation creates a new client. */
void co_aws_dms_engine_shutdown(void);

/* DMS SslMode for a libpq sslmode: disable, allow, prefer -> "none";
 * require -> "require"; verify-ca -> "verify-ca"; verify-full ->
 * "verify-full". NULL or "" -> "none" (the endpoint default "prefer").
 * Returns NULL for an unknown mode. Static strings. (DMS accepts only none
 * and verify-ca for Oracle endpoints; the mapping is the same for both.) */
const char *co_awsdms_ssl_mode(const char *libpq_sslmode);

/* Builds the DMS CreateEndpoint input (per DMS API CreateEndpoint) for the
 * endpoint document doc (host, port, database, username, engine, sslmode,
 * extra_connection_attributes, secrets_manager_secret_id,
 * secrets_manager_access_role_arn), as endpoint_type "source" or "target",
 * named identifier, tagged cutover-run-id=run_id. With a Secrets Manager
 * secret, PostgreSQLSettings / OracleSettings carry SecretsManagerSecretId
 * and SecretsManagerAccessRoleArn and no server, port, user or password is
 * sent; otherwise ServerName, Port, Username and password (may be NULL)
 * are. Returns a new object (the caller wipes Password with
 * co_awsdms_wipe_password and decrefs), NULL for an unknown engine or
 * sslmode, or out of memory. */
json_t *co_awsdms_endpoint_input_new(const json_t *doc, const char *identifier,
                                     const char *endpoint_type, const char *password,
                                     const char *run_id);

/* Overwrites the "Password" member of input (if any) with zero bytes in
 * place. NULL-safe. */
void co_awsdms_wipe_password(json_t *input);

/* ReplicationTaskSettings for a task of role ("main", "rollback", "stage")
 * and migration_type, built from the task resource's task_settings (base,
 * borrowed, may be NULL) merged with what the plan needs:
 * FullLoadSettings.TargetTablePrepMode "DO_NOTHING" for main and rollback
 * (convert_schema created the tables), FullLoadSettings.MaxFullLoadSubTasks
 * 8 unless set, FullLoadSettings.StopTaskCachedChangesApplied true (and
 * ...NotApplied false) for a main full-load-and-cdc task,
 * ControlTablesSettings.StatusTableEnabled and SuspendedTablesTableEnabled
 * true for a main task with CDC unless base sets them (the awsdms_status
 * control table the CDC latency is read from, awsdms_suspended_tables the
 * reasons of suspended tables), and
 * Logging.EnableLogging true. Top-level StopTaskCachedChanges* members are
 * moved into FullLoadSettings. Returns a new object, or NULL (no memory). */
json_t *co_awsdms_task_settings_new(const json_t *base, const char *role,
                                    const char *migration_type);

/* Table mappings selecting every table of each schema name in schemas
 * (array of strings), for runs without a task resource. New object, or
 * NULL when schemas holds no string. */
json_t *co_awsdms_default_mappings_new(const json_t *schemas);

/* The mappings of the reverse (rollback) task for the forward mappings:
 * selection rules with the names they have on the target side, and the
 * inverse of the forward name transformations: convert-lowercase <->
 * convert-uppercase (schema, table, column) and schema rename. Other
 * transformations that change names make it fail (CO_ERR_UNPROCESSABLE,
 * naming the rule); transformations that do not change names and
 * table-settings rules are left out. Returns a new object in *out. */
CO_MUST_CHECK co_status co_awsdms_reverse_mappings_new(const json_t *mappings,
                                                       json_t **out, co_error *err);

/* The Oracle source prerequisite script (SQL*Plus/SQLcl), for the
 * configure_source step to store as an artifact and gate on. source_doc is
 * the source endpoint document (host, port, database, username: used for
 * the header and as the default DMS user), table_mappings the run's DMS
 * table mappings (borrowed), dms_user the Oracle user DMS connects as (NULL:
 * the endpoint's username; an unquoted-style name is upper-cased as Oracle
 * resolves it). The script:
 *   1. checks ARCHIVELOG mode (SELECT LOG_MODE FROM V$DATABASE, and a block
 *      that raises unless it is ARCHIVELOG);
 *   2. creates the DMS user unless it exists (password prompted with
 *      ACCEPT ... HIDE, never in the script);
 *   3. grants what AWS documents for a self-managed Oracle source: CREATE
 *      SESSION, SELECT ANY TRANSACTION, V_$ARCHIVED_LOG, V_$LOG,
 *      V_$LOGFILE, V_$LOGMNR_LOGS, V_$LOGMNR_CONTENTS, V_$DATABASE,
 *      V_$THREAD, V_$PARAMETER, V_$NLS_PARAMETERS, V_$TIMEZONE_NAMES,
 *      V_$TRANSACTION, V_$CONTAINERS, the ALL_* catalog views, DBA_REGISTRY,
 *      OBJ$, DBA_TABLESPACES, ALL_ENCRYPTED_COLUMNS, EXECUTE ON DBMS_LOGMNR,
 *      LOGMINING (12c and later);
 *   4. enables minimal supplemental logging (ALTER DATABASE ADD
 *      SUPPLEMENTAL LOG DATA);
 *   5. for every table the selection rules name explicitly: GRANT SELECT
 *      and ALTER TABLE ... ADD SUPPLEMENTAL LOG DATA (PRIMARY KEY) COLUMNS;
 *      rules with '%' wildcards become a PL/SQL loop over ALL_TABLES (LIKE
 *      with '_' and '\' escaped, exclude rules as NOT conditions), views
 *      get SELECT only.
 * Identifiers are double-quoted with '"' doubled, string literals
 * single-quoted with '\'' doubled (Oracle itself forbids '"' in
 * identifiers, so such a name fails when the script runs; it can never be
 * injected). Returns a new NUL-terminated string (caller frees), or NULL
 * out of memory. */
char *co_oracle_prereq_script_new(const json_t *source_doc, const json_t *table_mappings,
                                  const char *dms_user);

/* The source quiesce check the DBA runs at the cutover gate (AWS's step 8,
 * "cut over"; SQL*Plus/SQLcl, generated, never executed by cutover): lists
 * the sessions of application users in V$SESSION (every USER session but
 * the Oracle-maintained schemas, the DMS user and its own) and fails while
 * there is one; fails while V$LOCKED_OBJECT shows locks on the tables the
 * selection rules of table_mappings pick (open transactions); then ALTER
 * SYSTEM CHECKPOINT, ALTER SYSTEM ARCHIVE LOG CURRENT and the current SCN.
 * source_doc and dms_user as for co_oracle_prereq_script_new. Quoting as
 * there. Returns a new string (caller frees), NULL out of memory. */
char *co_oracle_quiesce_script_new(const json_t *source_doc, const json_t *table_mappings,
                                   const char *dms_user);

/* The trigger-disabling script for an Oracle source that a rollback task
 * will write into: a PL/SQL loop over ALL_TRIGGERS that disables every
 * enabled trigger on the tables the selection rules pick (exclude rules
 * honoured) and prints the ALTER TRIGGER ... ENABLE statement that undoes
 * each. Returns a new string (caller frees), NULL out of memory. */
char *co_oracle_rollback_triggers_script_new(const json_t *source_doc,
                                             const json_t *table_mappings);

/* The script the DBA runs at the view plan's configure_source gate on an
 * Oracle source (SQL*Plus/SQLcl, generated, never executed by cutover):
 * ALTER TABLE "schema"."table" ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS for
 * the staged source table, which AWS DMS CDC of the staging task needs
 * (AWS DMS, "Using an Oracle database as a source": supplemental logging).
 * source_doc is the source endpoint document (host, database for the
 * header; borrowed); schema and table are the Oracle names as given
 * (borrowed), quoted as for co_oracle_prereq_script_new. Returns a new
 * string (caller frees), NULL when schema or table is NULL or out of
 * memory. */
char *co_oracle_view_logging_script_new(const json_t *source_doc, const char *schema,
                                        const char *table);

/* Per DMS API TestConnection and DescribeConnections, outside a run
 * (POST /v1/endpoints/{id}/test-connection): ctx is a co_op_ctx whose
 * scope id is the endpoint id and whose source is the endpoint under test
 * (its role is the DMS EndpointType). Creates (or adopts) the DMS endpoint
 * cutover-<endpoint>-test with the stored credentials, starts its
 * connection test on the replication instance `instance` (its ARN, or its
 * DMS identifier, looked up with DescribeReplicationInstances) unless one is
 * running, and reads the status once (one bounded unit, a few calls; the
 * caller repeats while WAIT). Verdict: DONE when "successful"; FAIL with
 * DMS's LastFailureMessage when "failed"; WAIT while "testing"; RETRY or
 * FAIL on errors of the calls. status (status_size bytes) receives DMS's
 * connection status ("testing", "successful", "failed", "not started").
 * Once the status is successful or failed the test endpoint is deleted
 * (DeleteEndpoint; a failure is only logged). The ARN stays in
 * ctx->outputs between calls on the same ctx. */
void co_awsdms_endpoint_test(struct co_step_ctx *ctx, const char *instance, char *status,
                             size_t status_size, co_verdict *v);

#endif
