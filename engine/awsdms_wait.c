/* awsdms_wait.c - the aws-dms engine's waits: the generic deadline-bound
 * poll (awsdms_wait), the full load (progress and stall rule, restarts of
 * a task that does not start) and the CDC latency wait. See awsdms_int.h.
 *
 * No wait is silent: every poll records what it waits for and since when
 * (co_step_waiting: waiting_for on the run, periodic step.waiting events),
 * and every wait has a deadline (a run parameter) except the full load,
 * which is judged by progress (stall_minutes) because a large one takes
 * days.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/awsdms_int.h"
#include "engine/steps_pg.h"
#include "core/clock.h"
#include "core/log.h"

int64_t awsdms_minutes_ms(const co_step_ctx *ctx, const char *param, double def)
{
    double m = co_param_num(ctx, param, def);
    return m > 0 ? (int64_t)(m * 60000.0) : (int64_t)(def * 60000.0);
}

void awsdms_wait(co_step_ctx *ctx, co_verdict *v, const char *what, const char *detail,
                 const char *timeout_param, double def_minutes, int64_t poll_ms)
{
    int64_t since = co_step_waiting(ctx, what, detail,
                                    awsdms_minutes_ms(ctx, "waiting_event_minutes", 5));
    int64_t limit = timeout_param ? awsdms_minutes_ms(ctx, timeout_param, def_minutes) : 0;
    if (limit > 0 && co_clock_now_ms() - since > limit)
        co_verdict_set(v, CO_VERDICT_FAIL, 0,
                       "waited %.1f minutes for %s; last status: %s (run parameter %s)",
                       (double)(co_clock_now_ms() - since) / 60000.0, what,
                       detail ? detail : "unknown", timeout_param);
    else
        co_verdict_set(v, CO_VERDICT_WAIT, poll_ms, NULL);
}

/* The task's identifier for messages. */
static const char *task_name(const json_t *task, const char *role)
{
    const char *id = awsdms_task_str(task, "ReplicationTaskIdentifier");
    return id ? id : role;
}

/* ---- how far the full load is ------------------------------------------- */

typedef struct load_counts {
    int64_t total, loaded, loading, queued, errored;
    int64_t percent; /* FullLoadProgressPercent, or derived from the tables */
} load_counts;

/* Counts tables by TableState; the percentage from ReplicationTaskStats
 * when DMS gave it, else the share of loaded tables. */
static void count_tables(const json_t *task, const json_t *tables, load_counts *c)
{
    const json_t *stats = json_object_get(task, "ReplicationTaskStats");
    size_t i;
    json_t *t;
    memset(c, 0, sizeof *c);
    json_array_foreach(tables, i, t) {
        const char *st = awsdms_task_str(t, "TableState");
        c->total++;
        if (awsdms_streq(st, "Table completed"))
            c->loaded++;
        else if (awsdms_streq(st, "Full load"))
            c->loading++;
        else if (awsdms_streq(st, "Table error"))
            c->errored++;
        else
            c->queued++;
    }
    c->percent = co_dms_int(stats, "FullLoadProgressPercent", -1);
    if (c->percent < 0)
        c->percent = c->total ? 100 * c->loaded / c->total : 0;
}

/* A fingerprint of every table's TableState and FullLoadRows (FNV-1a). */
static void load_mark(const json_t *tables, char out[24])
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;
    json_t *t;
    json_array_foreach(tables, i, t) {
        char buf[600];
        snprintf(buf, sizeof buf, "%s.%s|%s|%lld;", awsdms_task_str(t, "SchemaName"),
                 awsdms_task_str(t, "TableName"), awsdms_task_str(t, "TableState"),
                 (long long)co_dms_int(t, "FullLoadRows", -1));
        for (const char *p = buf; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    }
    snprintf(out, 24, "%016llx", (unsigned long long)h);
}

/* WAIT while the load progresses; the stall rule of stall_minutes. */
static void load_wait(co_step_ctx *ctx, const char *name, const json_t *tables,
                      const load_counts *c, co_verdict *v)
{
    char mark[24], what[300], detail[400], since_text[40];
    const char *prev = json_string_value(json_object_get(ctx->outputs, "dms_load_mark"));
    int64_t now = co_clock_now_ms();
    int64_t mark_ms = (int64_t)json_integer_value(json_object_get(ctx->outputs, "dms_load_mark_ms"));
    int64_t stall = awsdms_minutes_ms(ctx, "stall_minutes", 60);
    load_mark(tables, mark);
    if (!prev || strcmp(prev, mark) != 0 || mark_ms <= 0) {
        awsdms_set_output(ctx, "dms_load_mark", mark);
        json_object_set_new(ctx->outputs, "dms_load_mark_ms", json_integer(mark_ms = now));
        awsdms_set_flag(ctx, "dms_load_stalled", false);
    }
    snprintf(what, sizeof what, "full load of replication task %s", name);
    snprintf(detail, sizeof detail, "%lld of %lld tables loaded, %lld loading, %lld%%",
             (long long)c->loaded, (long long)c->total, (long long)c->loading,
             (long long)c->percent);
    if (now - mark_ms > stall) {
        co_clock_rfc3339(mark_ms, since_text, sizeof since_text);
        snprintf(detail, sizeof detail,
                 "stalled: no table's FullLoadRows or TableState changed since %s; %lld of "
                 "%lld tables loaded, %lld%%",
                 since_text, (long long)c->loaded, (long long)c->total, (long long)c->percent);
        if (!awsdms_flag(ctx, "dms_load_stalled")) {
            awsdms_set_flag(ctx, "dms_load_stalled", true);
            co_step_notify(ctx, "step.stalled",
                           json_pack("{s:s, s:s, s:s, s:f, s:I, s:I}", "task", name, "what",
                                     what, "since", since_text, "stall_minutes",
                                     (double)stall / 60000.0, "tables_loaded",
                                     (json_int_t)c->loaded, "tables", (json_int_t)c->total));
            co_log(CO_LOG_WARN, "dms", "run %s: %s: %s", ctx->run->id, what, detail);
        }
        if (co_param_bool(ctx, "fail_on_stall", false)) {
            co_verdict_set(v, CO_VERDICT_FAIL, 0, "%s %s (fail_on_stall)", what, detail);
            return;
        }
    }
    awsdms_wait(ctx, v, what, detail, NULL, 0, awsdms_poll_ms(AWSDMS_POLL_LOAD_MS));
}

/* ---- a task that does not start ----------------------------------------- */

/* The task stays ready or stopped although DMS accepted a start: waits
 * task_start_timeout_minutes, then StartReplicationTask (type) again, up
 * to task_start_attempts starts in all; then FAILs naming the task and its
 * status. */
static void not_starting(co_step_ctx *ctx, co_dms_client *cli, const char *role,
                         const json_t *task, const char *type, co_verdict *v)
{
    const char *name = task_name(task, role), *status = awsdms_task_str(task, "Status");
    char what[300], detail[200], key[96];
    int64_t since, starts, attempts = co_param_int(ctx, "task_start_attempts", 3);
    co_dms_result res = {0};
    co_error err;
    co_status rc;
    snprintf(key, sizeof key, "dms_task_%s_restarts", role);
    starts = 1 + (int64_t)json_integer_value(json_object_get(ctx->outputs, key));
    snprintf(what, sizeof what, "replication task %s to run after StartReplicationTask", name);
    snprintf(detail, sizeof detail, "status %s after %lld accepted start(s)",
             status ? status : "unknown", (long long)starts);
    since = co_step_waiting(ctx, what, detail,
                            awsdms_minutes_ms(ctx, "waiting_event_minutes", 5));
    if (co_clock_now_ms() - since <= awsdms_minutes_ms(ctx, "task_start_timeout_minutes", 10)) {
        co_verdict_set(v, CO_VERDICT_WAIT, awsdms_poll_ms(AWSDMS_POLL_TASK_MS), NULL);
        return;
    }
    if (starts >= attempts) {
        co_verdict_set(v, CO_VERDICT_FAIL, 0,
                       "replication task %s is still %s after %lld StartReplicationTask "
                       "call(s) that DMS accepted (%s); see the task's logs in DMS",
                       name, status ? status : "unknown", (long long)starts, type);
        return;
    }
    co_error_clear(&err);
    rc = awsdms_call(cli, "StartReplicationTask",
                     json_pack("{s:s, s:s}", "ReplicationTaskArn",
                               awsdms_task_str(task, "ReplicationTaskArn"),
                               "StartReplicationTaskType", type),
                     &res, &err);
    if (rc == CO_OK || res.cls == CO_DMS_INVALID_STATE) {
        json_object_set_new(ctx->outputs, key, json_integer(starts));
        co_step_waiting_clear(ctx);
        co_log(CO_LOG_WARN, "dms", "run %s: task %s stayed %s; %s again (start %lld of %lld)",
               ctx->run->id, name, status ? status : "?", type, (long long)starts + 1,
               (long long)attempts);
        co_verdict_set(v, CO_VERDICT_WAIT, awsdms_poll_ms(AWSDMS_POLL_TASK_MS), NULL);
    } else {
        awsdms_verdict_error(v, "start replication task", rc, &err);
    }
    co_dms_result_clear(&res);
}

/* ---- the full load ------------------------------------------------------ */

/* What every poll of a task wait reads: the task (with its settings) and
 * its table statistics (new array in *tables, published); the status
 * change is noted. false with v set (FAIL when the task does not exist). */
static bool poll_task(co_step_ctx *ctx, co_dms_client *cli, const char *role,
                      co_dms_result *res, json_t **task, json_t **tables, co_verdict *v)
{
    int found = awsdms_find_task(ctx, cli, role, true, res, task, v);
    if (found == 0)
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "replication task %s does not exist", role);
    if (found <= 0)
        return false;
    awsdms_note_status(ctx, "replication_task", role, awsdms_task_str(*task, "Status"),
                       awsdms_task_str(*task, "StopReason"));
    return awsdms_table_stats(ctx, cli, role, *task, tables, v);
}

void awsdms_await_full_load(co_step_ctx *ctx, const char *role, co_verdict *v)
{
    co_dms_client *cli = awsdms_begin(ctx, v, "await_full_load");
    co_dms_result res = {0};
    json_t *task, *tables = NULL;
    const char *status, *reason, *name;
    load_counts c;
    bool stops, done;
    if (!cli || !poll_task(ctx, cli, role, &res, &task, &tables, v))
        goto out;
    status = awsdms_task_str(task, "Status");
    reason = awsdms_task_str(task, "StopReason");
    name = task_name(task, role);
    count_tables(task, tables, &c);
    stops = awsdms_expects_stop(task);
    done = c.total > 0 && c.loaded == c.total;
    if (awsdms_streq(status, "failed")) /* its LastFailureMessage says most */
        awsdms_fail_stopped(v, role, task);
    else if (awsdms_table_errors(ctx, task, tables, role, v))
        ;
    else if (awsdms_streq(status, "stopped") &&
             (awsdms_pause_reason(reason) || (!reason && stops && done)))
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    else if (awsdms_streq(status, "stopped"))
        awsdms_fail_stopped(v, role, task);
    else if (awsdms_streq(status, "ready"))
        not_starting(ctx, cli, role, task, "start-replication", v);
    else if (awsdms_streq(status, "running") && !stops && c.percent >= 100 &&
             c.loading == 0 && c.queued == 0)
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL); /* loaded; CDC goes on */
    else
        load_wait(ctx, name, tables, &c, v);
    if (v->kind == CO_VERDICT_DONE)
        co_step_waiting_clear(ctx);
out:
    json_decref(tables);
    co_dms_result_clear(&res);
}

/* ---- CDC latency -------------------------------------------------------- */

/* Measures the latency of a running task whose full load is done and
 * decides: DONE once it held under max_seconds for the window. */
static void cdc_measure(co_step_ctx *ctx, const char *role, const json_t *task,
                        const json_t *tables, double max_seconds, co_verdict *v)
{
    awsdms_cdc_figures f;
    co_error err;
    char what[300], detail[400];
    const char *name = task_name(task, role);
    int64_t now = co_clock_now_ms(), under;
    int64_t window = max_seconds > 0 ? co_param_int(ctx, "cdc_sync_window_seconds", 60) * 1000 : 0;
    bool ok;
    int got;
    co_error_clear(&err);
    if (!awsdms_control_table_on(ctx, role, task, "StatusTableEnabled")) {
        /* no latency source: running and applying changes is all DMS says */
        json_object_set_new(ctx->outputs, "cdc",
                            json_pack("{s:s, s:s}", "source", "none", "note",
                                      "CDC latency not measured: the task does not write "
                                      "the awsdms_status control table to a PostgreSQL "
                                      "target (ControlTablesSettings.StatusTableEnabled); "
                                      "done when the task runs and applies changes"));
        co_step_waiting_clear(ctx);
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        return;
    }
    got = awsdms_cdc_read(ctx, task, &f, &err);
    if (got < 0) {
        co_verdict_from_error(v, "reading the DMS status control table", &err);
        return;
    }
    snprintf(what, sizeof what, "CDC latency of replication task %s at most %g s%s", name,
             max_seconds, max_seconds > 0 ? " for the sync window" : " with no pending change");
    if (got == 0 || f.latency_s < 0) {
        snprintf(detail, sizeof detail, "no row for the task in %s yet (DMS writes it when "
                 "ControlTablesSettings.StatusTableEnabled is true)", f.table);
        awsdms_wait(ctx, v, what, detail, "ready_timeout_minutes", 30,
                    awsdms_poll_ms(AWSDMS_POLL_LOAD_MS));
        return;
    }
    co_step_notify(ctx, "engine.status",
                   json_pack("{s:s, s:s, s:s, s:f, s:I, s:s, s:s, s:s}", "resource",
                             "replication_task", "task", role, "status", "running",
                             "CDCLatency", f.latency_s, "PendingChanges", (json_int_t)f.pending,
                             "TaskStatus", f.task_status, "StatusTime", f.status_time,
                             "latency_source", f.table));
    json_object_set_new(ctx->outputs, "cdc",
                        json_pack("{s:f, s:I, s:s, s:s}", "CDCLatency", f.latency_s,
                                  "PendingChanges", (json_int_t)f.pending, "source",
                                  "awsdms_status control table", "table", f.table));
    ok = max_seconds > 0 ? f.latency_s <= max_seconds
                         : f.pending == 0 && f.latency_s < 1.0;
    under = (int64_t)json_integer_value(json_object_get(ctx->outputs, "dms_cdc_under_since_ms"));
    if (!ok) {
        json_object_del(ctx->outputs, "dms_cdc_under_since_ms");
    } else if (under <= 0) {
        json_object_set_new(ctx->outputs, "dms_cdc_under_since_ms", json_integer(under = now));
    }
    if (ok && now - under >= window) {
        co_step_waiting_clear(ctx);
        if (max_seconds <= 0 && awsdms_streq(role, "main") &&
            co_param_bool(ctx, "validate_tables", true))
            awsdms_validate(ctx, role, task, tables, v); /* final_sync: prove it */
        else
            co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        return;
    }
    snprintf(detail, sizeof detail, "CDCLatency %.1f s, PendingChanges %lld (%s)%s",
             f.latency_s, (long long)f.pending, f.table,
             ok ? ", under the threshold; holding for the window" : "");
    awsdms_wait(ctx, v, what, detail, NULL, 0,
                awsdms_poll_ms(max_seconds > 0 ? AWSDMS_POLL_LOAD_MS : AWSDMS_POLL_SHORT_MS));
}

void awsdms_await_cdc_latency(co_step_ctx *ctx, const char *role, double max_seconds,
                              co_verdict *v)
{
    co_dms_client *cli = awsdms_begin(ctx, v, "await_cdc_latency");
    co_dms_result res = {0};
    json_t *task, *tables = NULL;
    const char *status, *reason;
    char what[300];
    load_counts c;
    json_object_set_new(ctx->outputs, "dms_cdc_latency_threshold_seconds",
                        json_real(max_seconds));
    if (!cli || !poll_task(ctx, cli, role, &res, &task, &tables, v))
        goto out;
    status = awsdms_task_str(task, "Status");
    reason = awsdms_task_str(task, "StopReason");
    count_tables(task, tables, &c);
    snprintf(what, sizeof what, "replication task %s to run", task_name(task, role));
    if (awsdms_streq(status, "failed"))
        awsdms_fail_stopped(v, role, task);
    else if (awsdms_table_errors(ctx, task, tables, role, v))
        ;
    else if (awsdms_streq(status, "running") &&
             (awsdms_streq(awsdms_task_str(task, "MigrationType"), "cdc") || c.percent >= 100))
        cdc_measure(ctx, role, task, tables, max_seconds, v);
    else if (awsdms_streq(status, "running"))
        load_wait(ctx, task_name(task, role), tables, &c, v);
    else if (awsdms_streq(status, "stopped") && reason && !awsdms_pause_reason(reason))
        awsdms_fail_stopped(v, role, task);
    else if (awsdms_streq(status, "stopped") || awsdms_streq(status, "ready"))
        not_starting(ctx, cli, role, task,
                     awsdms_streq(status, "stopped") || awsdms_ever_started(task)
                         ? "resume-processing"
                         : "start-replication",
                     v);
    else
        awsdms_wait(ctx, v, what, status, "ready_timeout_minutes", 30,
                    awsdms_poll_ms(AWSDMS_POLL_TASK_MS));
out:
    json_decref(tables);
    co_dms_result_clear(&res);
}
