/* awsdms_task.c - the aws-dms engine's replication tasks: table mappings
 * and task settings, create/adopt, start, the full-load and CDC waits,
 * stop, delete and describe. See awsdms.h for identifiers, outputs and
 * events; awsdms.c for the shared helpers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/awsdms_int.h"
#include "core/clock.h"
#include "core/log.h"

#define TABLE_PAGES_MAX 200
#define START_REFUSALS_MAX 3

static bool known_role(const char *role)
{
    return role && (strcmp(role, "main") == 0 || strcmp(role, "rollback") == 0 ||
                    strcmp(role, "stage") == 0);
}

bool awsdms_streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* ---- what a task of role is made of ------------------------------------- */

typedef struct task_spec {
    json_t *mappings;       /* owned */
    json_t *settings;       /* owned */
    char migration_type[32];
} task_spec;

static void task_spec_clear(task_spec *t)
{
    json_decref(t->mappings);
    json_decref(t->settings);
    memset(t, 0, sizeof *t);
}

static json_t *stage_mappings(co_step_ctx *ctx)
{
    json_t *src = json_object_get(ctx->run->params, "source_table");
    const char *schema = json_string_value(json_object_get(src, "schema"));
    const char *name = json_string_value(json_object_get(src, "name"));
    const char *staging = co_param_str(ctx, "staging_schema", "staging");
    if (!schema || !name)
        return NULL;
    return json_pack("{s:[{s:s, s:s, s:s, s:{s:s, s:s}, s:s}, {s:s, s:s, s:s, s:s, s:{s:s}, "
                     "s:s, s:s}]}",
                     "rules", "rule-type", "selection", "rule-id", "1", "rule-name",
                     "stage-select", "object-locator", "schema-name", schema, "table-name",
                     name, "rule-action", "include", "rule-type", "transformation",
                     "rule-id", "2", "rule-name", "stage-schema", "rule-target", "schema",
                     "object-locator", "schema-name", schema, "rule-action", "rename",
                     "value", staging);
}

static co_status load_spec(co_step_ctx *ctx, const char *role, task_spec *t, co_error *err)
{
    const char *task_id = co_param_str(ctx, "task_id", NULL);
    const char *mtype = NULL;
    json_t *base = NULL, *fwd = NULL;
    co_resource r;
    co_status rc = CO_OK;
    memset(t, 0, sizeof *t);
    memset(&r, 0, sizeof r);
    if (task_id && (rc = co_res_get(ctx->app->store, CO_KIND_TASK, task_id, &r, err)) != CO_OK)
        return rc;
    if (task_id) {
        fwd = json_incref(json_object_get(r.doc, "table_mappings"));
        base = json_object_get(r.doc, "task_settings");
        mtype = json_string_value(json_object_get(r.doc, "migration_type"));
    } else if (awsdms_streq(role, "stage")) {
        fwd = stage_mappings(ctx);
    } else {
        fwd = co_awsdms_default_mappings_new(json_object_get(ctx->run->params, "schemas"));
    }
    if (!fwd) {
        rc = co_error_set(err, CO_ERR_UNPROCESSABLE, "no table mappings for the %s task", role);
        goto out;
    }
    if (awsdms_streq(role, "rollback")) {
        mtype = "cdc";
        rc = co_awsdms_reverse_mappings_new(fwd, &t->mappings, err);
    } else {
        if (!mtype)
            mtype = awsdms_streq(role, "main") ? "full-load-and-cdc"
                    : co_param_bool(ctx, "ongoing_sync", false) ? "full-load-and-cdc"
                                                                : "full-load";
        t->mappings = json_incref(fwd);
    }
    snprintf(t->migration_type, sizeof t->migration_type, "%s", mtype);
    if (rc == CO_OK && !(t->settings = co_awsdms_task_settings_new(base, role, mtype)))
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
    if (rc == CO_OK && awsdms_streq(role, "main") &&
        co_param_bool(ctx, "validate_tables", true)) {
        /* DMS data validation, read back at final_sync (awsdms_validate.c);
         * an explicit EnableValidation of the task resource is kept */
        json_t *vs = json_object_get(t->settings, "ValidationSettings");
        if (!json_is_object(vs))
            json_object_set_new(t->settings, "ValidationSettings", vs = json_object());
        if (!json_is_boolean(json_object_get(vs, "EnableValidation")))
            json_object_set_new(vs, "EnableValidation", json_true());
    }
out:
    json_decref(fwd);
    co_resource_clear(&r);
    if (rc != CO_OK)
        task_spec_clear(t);
    return rc;
}

/* ---- finding the task --------------------------------------------------- */

/* Describes the task of role (by recorded ARN, else by identifier):
 * 1 with *task borrowed from res, 0 when it does not exist, -1 with v set. */
int awsdms_find_task(co_step_ctx *ctx, co_dms_client *cli, const char *role,
                     bool with_settings, co_dms_result *res, json_t **task, co_verdict *v)
{
    char key[64], ident[AWSDMS_ID_MAX];
    const char *arn;
    json_t *in;
    co_error err;
    co_status rc;
    co_error_clear(&err);
    *task = NULL;
    if (!known_role(role)) {
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "aws-dms: unknown task role %s",
                       role ? role : "(null)");
        return -1;
    }
    snprintf(key, sizeof key, "dms_task_%s_arn", role);
    if ((rc = awsdms_ident(ctx, role, 255, ident, &err)) != CO_OK) {
        awsdms_verdict_error(v, "aws-dms", rc, &err);
        return -1;
    }
    arn = awsdms_output(ctx, key);
    in = arn ? awsdms_filter("replication-task-arn", arn)
             : awsdms_filter("replication-task-id", ident);
    if (!with_settings)
        json_object_set_new(in, "WithoutSettings", json_true());
    rc = awsdms_call(cli, "DescribeReplicationTasks", in, res, &err);
    if (rc == CO_ERR_NOT_FOUND ||
        (rc == CO_OK && !json_array_size(json_object_get(res->body, "ReplicationTasks")))) {
        if (arn)
            awsdms_set_output(ctx, key, NULL);
        return 0;
    }
    if (rc != CO_OK) {
        awsdms_verdict_error(v, "describe replication task", rc, &err);
        return -1;
    }
    *task = json_array_get(json_object_get(res->body, "ReplicationTasks"), 0);
    if ((arn = json_string_value(json_object_get(*task, "ReplicationTaskArn"))))
        awsdms_set_output(ctx, key, arn);
    return 1;
}

const char *awsdms_task_str(const json_t *task, const char *key)
{
    return json_string_value(json_object_get(task, key));
}

int64_t awsdms_stat_int(const json_t *task, const char *key)
{
    return co_dms_int(json_object_get(task, "ReplicationTaskStats"), key, 0);
}

/* True if DMS says the task was started at some time (a parsable
 * ReplicationTaskStartDate; absent or null means never). */
bool awsdms_ever_started(const json_t *task)
{
    return co_dms_time_ms(json_object_get(task, "ReplicationTaskStartDate")) >= 0;
}

/* WAIT for task to reach goal ("to become ready", "to stop", ...), with
 * the ready_timeout_minutes deadline (awsdms_wait). */
static void task_wait(co_step_ctx *ctx, co_verdict *v, const json_t *task, const char *role,
                      const char *goal)
{
    const char *name = awsdms_task_str(task, "ReplicationTaskIdentifier");
    const char *status = awsdms_task_str(task, "Status");
    char what[300], detail[100];
    snprintf(what, sizeof what, "replication task %s %s", name ? name : role, goal);
    snprintf(detail, sizeof detail, "status %s", status ? status : "unknown");
    awsdms_wait(ctx, v, what, detail, "ready_timeout_minutes", 30,
                awsdms_poll_ms(AWSDMS_POLL_TASK_MS));
}

/* ---- ensure_task -------------------------------------------------------- */

static bool endpoints_ready(co_step_ctx *ctx, co_dms_client *cli, bool reverse, co_verdict *v)
{
    const char *flag = reverse ? "dms_rev_ready" : "dms_fwd_ready";
    if (awsdms_flag(ctx, flag) ||
        (!reverse && awsdms_output(ctx, "dms_source_endpoint_arn") &&
         awsdms_output(ctx, "dms_target_endpoint_arn")))
        return true;
    if (!awsdms_pair_ready(ctx, cli, reverse, false, v))
        return false;
    awsdms_set_flag(ctx, flag, true);
    return true;
}

static void create_task(co_step_ctx *ctx, co_dms_client *cli, const char *role,
                        const char *inst, co_verdict *v)
{
    bool rev = awsdms_streq(role, "rollback");
    co_dms_result res = {0};
    co_error err;
    co_status rc;
    task_spec t;
    char ident[AWSDMS_ID_MAX];
    char *mappings = NULL, *settings = NULL;
    const char *src = awsdms_output(ctx, rev ? "dms_rollback_source_endpoint_arn"
                                             : "dms_source_endpoint_arn");
    const char *dst = awsdms_output(ctx, rev ? "dms_rollback_target_endpoint_arn"
                                             : "dms_target_endpoint_arn");
    co_error_clear(&err);
    if (!src || !dst) {
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "replication task %s: endpoint ARNs unknown", role);
        return;
    }
    if ((rc = awsdms_ident(ctx, role, 255, ident, &err)) != CO_OK ||
        (rc = load_spec(ctx, role, &t, &err)) != CO_OK) {
        awsdms_verdict_error(v, "replication task", rc, &err);
        return;
    }
    mappings = json_dumps(t.mappings, JSON_COMPACT);
    settings = json_dumps(t.settings, JSON_COMPACT);
    rc = awsdms_call(
        cli, "CreateReplicationTask",
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}]}",
                  "ReplicationTaskIdentifier", ident, "SourceEndpointArn", src,
                  "TargetEndpointArn", dst, "ReplicationInstanceArn", inst, "MigrationType", t.migration_type,
                  "TableMappings", mappings ? mappings : "", "ReplicationTaskSettings",
                  settings ? settings : "", "Tags", "Key", "cutover-run-id", "Value",
                  ctx->run->id),
        &res, &err);
    if (rc == CO_OK || res.cls == CO_DMS_ALREADY_EXISTS) {
        /* adopt: the next call finds it by identifier and waits for ready */
        co_verdict_set(v, CO_VERDICT_WAIT, awsdms_poll_ms(AWSDMS_POLL_SHORT_MS), NULL);
        co_log(CO_LOG_INFO, "dms", "run %s: replication task %s %s", ctx->run->id, ident,
               rc == CO_OK ? "created" : "exists, adopted");
    } else {
        awsdms_verdict_error(v, "create replication task", rc, &err);
    }
    free(mappings);
    free(settings);
    task_spec_clear(&t);
    co_dms_result_clear(&res);
}

/* Status sets of a replication task (DMS API ReplicationTask.Status). */
static const char *const TASK_ACTIVE[] = {"running", "starting", NULL};
static const char *const TASK_IDLE[] = {"stopped", "ready", "failed", NULL};

static bool status_in(const char *status, const char *const *set)
{
    for (; *set; set++)
        if (awsdms_streq(status, *set))
            return true;
    return false;
}

/* awsdms_find_task (no reload) and, when the task exists, its Status into
 * *status and a status note with its StopReason. Returns as
 * awsdms_find_task. */
static int find_noted(co_step_ctx *ctx, co_dms_client *cli, const char *role,
                      co_dms_result *res, json_t **task, const char **status, co_verdict *v)
{
    int found = awsdms_find_task(ctx, cli, role, false, res, task, v);
    if (found > 0) {
        *status = awsdms_task_str(*task, "Status");
        awsdms_note_status(ctx, "replication_task", role, *status,
                           awsdms_task_str(*task, "StopReason"));
    }
    return found;
}

void awsdms_ensure_task(co_step_ctx *ctx, const char *role, co_verdict *v)
{
    co_dms_client *cli = awsdms_begin(ctx, v, "ensure_task");
    co_dms_result res = {0};
    char inst[512];
    json_t *task;
    const char *status;
    int found;
    if (!cli)
        return;
    if (!known_role(role)) {
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "aws-dms: unknown task role %s",
                       role ? role : "(null)");
        return;
    }
    if (!awsdms_instance_ready(ctx, cli, v) ||
        !endpoints_ready(ctx, cli, awsdms_streq(role, "rollback"), v) ||
        !awsdms_instance_arn(ctx, cli, inst, sizeof inst, v))
        return;
    if ((found = find_noted(ctx, cli, role, &res, &task, &status, v)) < 0)
        goto out;
    if (found == 0) {
        create_task(ctx, cli, role, inst, v);
        goto out;
    }
    if (awsdms_streq(status, "creating") || awsdms_streq(status, "modifying") ||
        awsdms_streq(status, "deleting"))
        task_wait(ctx, v, task, role, "to become ready");
    else if (awsdms_streq(status, "failed") && !awsdms_ever_started(task))
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "replication task %s failed: %s", role,
                       awsdms_task_str(task, "LastFailureMessage")
                           ? awsdms_task_str(task, "LastFailureMessage")
                           : "no message");
    else /* ready, or it ran already (a resumed step): start_task decides */
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
out:
    co_dms_result_clear(&res);
}

/* ---- start_task --------------------------------------------------------- */

const char *awsdms_start_type(co_task_start kind)
{
    return kind == CO_TASK_RESUME_PROCESSING ? "resume-processing"
           : kind == CO_TASK_RELOAD_TARGET   ? "reload-target"
                                             : "start-replication";
}

void awsdms_start_task(co_step_ctx *ctx, const char *role, co_task_start kind,
                       co_verdict *v)
{
    co_dms_client *cli = awsdms_begin(ctx, v, "start_task");
    co_dms_result res = {0};
    co_error err;
    co_status rc;
    char flag[96], refusals[96];
    const char *type = awsdms_start_type(kind), *status, *arn;
    json_t *task;
    int found;
    if (!cli)
        return;
    co_error_clear(&err);
    snprintf(flag, sizeof flag, "dms_task_%s_start_%s", role ? role : "", type);
    snprintf(refusals, sizeof refusals, "dms_task_%s_start_refusals", role ? role : "");
    if ((found = find_noted(ctx, cli, role, &res, &task, &status, v)) <= 0) {
        if (found == 0)
            co_verdict_set(v, CO_VERDICT_FAIL, 0, "replication task %s does not exist", role);
        goto out;
    }
    arn = awsdms_task_str(task, "ReplicationTaskArn");
    if (status_in(status, TASK_ACTIVE) || awsdms_flag(ctx, flag)) {
        awsdms_set_flag(ctx, flag, true);
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        goto out;
    }
    if (awsdms_streq(status, "creating") || awsdms_streq(status, "modifying") ||
        awsdms_streq(status, "stopping") || awsdms_streq(status, "deleting")) {
        task_wait(ctx, v, task, role, "to be ready to start");
        goto out;
    }
    if (kind == CO_TASK_START_REPLICATION && awsdms_ever_started(task)) {
        awsdms_set_flag(ctx, flag, true); /* it was started before (a resumed step) */
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        goto out;
    }
    rc = awsdms_call(cli, "StartReplicationTask",
                     json_pack("{s:s, s:s}", "ReplicationTaskArn", arn,
                               "StartReplicationTaskType", type),
                     &res, &err);
    if (rc == CO_OK) {
        awsdms_set_flag(ctx, flag, true);
        json_object_del(ctx->outputs, refusals);
        co_log(CO_LOG_INFO, "dms", "run %s: task %s: %s", ctx->run->id, role, type);
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    } else if (res.cls == CO_DMS_INVALID_STATE &&
               json_integer_value(json_object_get(ctx->outputs, refusals)) <
                   START_REFUSALS_MAX) {
        json_object_set_new(
            ctx->outputs, refusals,
            json_integer(json_integer_value(json_object_get(ctx->outputs, refusals)) + 1));
        co_verdict_set(v, CO_VERDICT_WAIT, awsdms_poll_ms(AWSDMS_POLL_TASK_MS), NULL);
    } else {
        awsdms_verdict_error(v, "start replication task", rc, &err);
    }
out:
    co_dms_result_clear(&res);
}

/* ---- statistics --------------------------------------------------------- */

/* Every TableStatistics entry of task (per DMS API DescribeTableStatistics,
 * MaxRecords 500, paginated) as a new array in *raw. */
static co_status read_tables(co_dms_client *cli, const json_t *task, json_t **raw,
                             co_error *err)
{
    co_dms_result res = {0};
    json_t *in = json_pack("{s:s, s:i}", "ReplicationTaskArn",
                           awsdms_task_str(task, "ReplicationTaskArn"), "MaxRecords", 500);
    co_status rc = co_dms_paginate(cli, "DescribeTableStatistics", in, "TableStatistics",
                                   TABLE_PAGES_MAX, true, raw, &res, err);
    json_decref(in);
    co_dms_result_clear(&res);
    return rc;
}

/* Reads every table's statistics (new array in *tables) and publishes one
 * table.statistics event. false with v set on a DMS error. */
bool awsdms_table_stats(co_step_ctx *ctx, co_dms_client *cli, const char *role,
                        const json_t *task, json_t **tables, co_verdict *v)
{
    co_error err;
    co_status rc;
    json_t *raw = NULL;
    co_error_clear(&err);
    rc = read_tables(cli, task, &raw, &err);
    if (rc != CO_OK) {
        awsdms_verdict_error(v, "describe table statistics", rc, &err);
        return false;
    }
    *tables = awsdms_normalize_times(raw);
    json_decref(raw);
    co_step_notify(ctx, "table.statistics",
                   json_pack("{s:s, s:s?, s:O, s:o?}", "task", role, "status",
                             awsdms_task_str(task, "Status"), "tables", *tables, "task_stats",
                             awsdms_normalize_times(
                                 json_object_get(task, "ReplicationTaskStats"))));
    return true;
}

/* FAILs naming the tables in "Table error"; false when there is none. */
bool awsdms_table_errors(co_step_ctx *ctx, const json_t *task, const json_t *tables,
                         const char *role, co_verdict *v)
{
    char names[900] = "";
    size_t i, n = 0, len = 0;
    json_t *t, *suspended = NULL;
    if (awsdms_control_table_on(ctx, role, task, "SuspendedTablesTableEnabled")) {
        co_error err;
        co_error_clear(&err);
        if (awsdms_suspended_tables(ctx, task, &suspended, &err) != CO_OK)
            co_log(CO_LOG_WARN, "dms", "run %s: reading awsdms_suspended_tables: %s",
                   ctx->run->id, err.message); /* the TableStates still count */
    }
    json_array_foreach(tables, i, t) {
        char key[300];
        const char *reason;
        bool error = awsdms_streq(awsdms_task_str(t, "TableState"), "Table error");
        snprintf(key, sizeof key, "%s.%s", awsdms_task_str(t, "SchemaName"),
                 awsdms_task_str(t, "TableName"));
        reason = json_string_value(json_object_get(suspended, key));
        if (!error && !reason)
            continue;
        if (n++ < 8 && len < sizeof names)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s (%s%s%s)",
                                    n > 1 ? ", " : "", key,
                                    error ? "Table error" : "suspended", reason ? ": " : "",
                                    reason ? reason : "");
    }
    json_decref(suspended);
    if (n == 0 && awsdms_stat_int(task, "TablesErrored") == 0)
        return false;
    if (n == 0)
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "replication task %s: %lld table(s) in error",
                       role, (long long)awsdms_stat_int(task, "TablesErrored"));
    else
        co_verdict_set(v, CO_VERDICT_FAIL, 0,
                       "replication task %s: table(s) in error or suspended by DMS: %s%s",
                       role, names, n > 8 ? ", ..." : "");
    return true;
}

/* True if the task is set up to stop by itself after its full load. */
bool awsdms_expects_stop(const json_t *task)
{
    json_t *s = json_loads(awsdms_task_str(task, "ReplicationTaskSettings") ?
                           awsdms_task_str(task, "ReplicationTaskSettings") : "{}", 0, NULL);
    json_t *fls = json_object_get(s, "FullLoadSettings");
    bool stop = awsdms_streq(awsdms_task_str(task, "MigrationType"), "full-load") ||
                json_is_true(json_object_get(fls, "StopTaskCachedChangesApplied")) ||
                json_is_true(json_object_get(fls, "StopTaskCachedChangesNotApplied"));
    json_decref(s);
    return stop;
}

bool awsdms_pause_reason(const char *reason)
{
    return reason && (strstr(reason, "STOPPED_AFTER_CACHED_EVENTS") ||
                      strstr(reason, "STOPPED_AFTER_FULL_LOAD") ||
                      strstr(reason, "FULL_LOAD_ONLY_FINISHED"));
}

void awsdms_fail_stopped(co_verdict *v, const char *role, const json_t *task)
{
    const char *msg = awsdms_task_str(task, "LastFailureMessage");
    co_verdict_set(v, CO_VERDICT_FAIL, 0, "replication task %s is %s (%s)%s%s", role,
                   awsdms_task_str(task, "Status"),
                   awsdms_task_str(task, "StopReason") ? awsdms_task_str(task, "StopReason")
                                                       : "no StopReason",
                   msg ? ": " : "", msg ? msg : "");
}

/* ---- stop, delete, describe --------------------------------------------- */

/* Issues op (StopReplicationTask / DeleteReplicationTask) on task; WAIT
 * afterwards (also when DMS says the state changed meanwhile). */
static void task_action(co_step_ctx *ctx, co_dms_client *cli, const char *op,
                        const json_t *task, const char *role, const char *goal,
                        co_verdict *v)
{
    co_dms_result res = {0};
    co_error err;
    co_status rc;
    co_error_clear(&err);
    rc = awsdms_call(cli, op, json_pack("{s:s}", "ReplicationTaskArn",
                                        awsdms_task_str(task, "ReplicationTaskArn")),
                     &res, &err);
    if (rc == CO_OK || res.cls == CO_DMS_INVALID_STATE || res.cls == CO_DMS_NOT_FOUND)
        task_wait(ctx, v, task, role, goal);
    else
        awsdms_verdict_error(v, op, rc, &err);
    co_dms_result_clear(&res);
}

/* Stops (del false) or stops and deletes (del true) role's task; a task
 * that does not exist counts as done (after a delete, the run's endpoints
 * and instance are cleaned up). */
static void stop_or_delete(co_step_ctx *ctx, const char *role, bool del, co_verdict *v)
{
    co_dms_client *cli = awsdms_begin(ctx, v, del ? "delete_task" : "stop_task");
    const char *goal = del ? "to be deleted" : "to stop";
    co_dms_result res = {0};
    json_t *task;
    const char *status;
    int found;
    if (!cli)
        return;
    if ((found = find_noted(ctx, cli, role, &res, &task, &status, v)) < 0)
        goto out;
    if (found == 0) { /* nothing to stop or delete */
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        if (del)
            awsdms_cleanup_after(ctx, cli, role, v);
    } else if (status_in(status, TASK_ACTIVE)) {
        task_action(ctx, cli, "StopReplicationTask", task, role, goal, v);
    } else if (status_in(status, TASK_IDLE)) {
        if (del)
            task_action(ctx, cli, "DeleteReplicationTask", task, role, goal, v);
        else
            co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    } else {
        task_wait(ctx, v, task, role, goal);
    }
out:
    co_dms_result_clear(&res);
}

void awsdms_stop_task(co_step_ctx *ctx, const char *role, co_verdict *v)
{
    stop_or_delete(ctx, role, false, v);
}

void awsdms_delete_task(co_step_ctx *ctx, const char *role, co_verdict *v)
{
    stop_or_delete(ctx, role, true, v);
}

void awsdms_left_behind(co_step_ctx *ctx, const char *role, json_t *items)
{
    static const char *const ep_keys[] = {"dms_rollback_source_endpoint_arn",
                                          "dms_rollback_target_endpoint_arn"};
    char key[64], ident[AWSDMS_ID_MAX];
    const char *arn;
    co_error err;
    co_error_clear(&err);
    if (!known_role(role) || awsdms_ident(ctx, role, 255, ident, &err) != CO_OK)
        return;
    snprintf(key, sizeof key, "dms_task_%s_arn", role);
    arn = awsdms_output(ctx, key);
    json_array_append_new(
        items,
        json_pack("{s:s, s:s, s:o, s:o}", "kind", "replication_task", "name", ident, "arn",
                  arn ? json_string(arn) : json_null(), "remove",
                  arn ? json_sprintf("aws dms delete-replication-task --replication-task-arn %s",
                                     arn)
                      : json_sprintf("aws dms describe-replication-tasks --filters "
                                     "Name=replication-task-id,Values=%s (if it exists, "
                                     "aws dms delete-replication-task --replication-task-arn "
                                     "<its ReplicationTaskArn>)", ident)));
    for (size_t i = 0; strcmp(role, "rollback") == 0 && i < 2; i++)
        if ((arn = awsdms_output(ctx, ep_keys[i])))
            json_array_append_new(
                items, json_pack("{s:s, s:s, s:s, s:o}", "kind", "endpoint", "name",
                                 i ? "rollback target" : "rollback source", "arn", arn,
                                 "remove",
                                 json_sprintf("aws dms delete-endpoint --endpoint-arn %s", arn)));
}

void awsdms_describe_task(co_step_ctx *ctx, const char *role, json_t **out, json_t **tables,
                          co_verdict *v)
{
    static const char *const keys[] = {
        "ReplicationTaskIdentifier", "ReplicationTaskArn", "MigrationType", "Status",
        "StopReason", "LastFailureMessage", "ReplicationTaskStartDate",
        "ReplicationTaskStats", NULL};
    co_dms_client *cli = awsdms_begin(ctx, v, "describe_task");
    co_dms_result res = {0};
    co_error err;
    co_status rc;
    json_t *task, *raw = NULL, *norm;
    int found;
    *out = NULL;
    *tables = NULL;
    if (!cli)
        return;
    co_error_clear(&err);
    if ((found = awsdms_find_task(ctx, cli, role, false, &res, &task, v)) <= 0) {
        if (found == 0)
            co_verdict_set(v, CO_VERDICT_FAIL, 0, "replication task %s does not exist", role);
        goto out;
    }
    if ((rc = read_tables(cli, task, &raw, &err)) != CO_OK) {
        awsdms_verdict_error(v, "describe table statistics", rc, &err);
        goto out;
    }
    norm = awsdms_normalize_times(task);
    *out = json_object();
    for (const char *const *k = keys; *k; k++)
        if (json_object_get(norm, *k))
            json_object_set(*out, *k, json_object_get(norm, *k));
    json_decref(norm);
    *tables = awsdms_normalize_times(raw);
    co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
out:
    json_decref(raw);
    co_dms_result_clear(&res);
}
