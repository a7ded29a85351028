/* awsdms_validate.c - DMS data validation at final_sync (see
 * awsdms_int.h awsdms_validate). The main task runs with
 * ValidationSettings.EnableValidation when validate_tables is true
 * (awsdms_task.c); DMS then reports per table, in DescribeTableStatistics,
 * ValidationState ("Not enabled", "Pending records", "Mismatched records",
 * "Suspended records", "No primary key", "Table error", "Validated", ...)
 * and the ValidationPending/Failed/SuspendedRecords counts, and keeps the
 * keys of failed rows in awsdms_validation_failures_v1 on the target (per
 * the DMS user guide, "AWS DMS data validation").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/awsdms_int.h"
#include "engine/steps_pg.h"

#define KEYS_MAX 200 /* failed keys read from the target */
#define KEYS_NAMED 5 /* keys named per table in the error */

static bool bad_state(const char *st)
{
    return awsdms_streq(st, "Mismatched records") || awsdms_streq(st, "Suspended records") ||
           awsdms_streq(st, "Table error") || awsdms_streq(st, "Error");
}

static bool pending_state(const char *st)
{
    return awsdms_streq(st, "Pending records") || awsdms_streq(st, "Pending validation") ||
           awsdms_streq(st, "Validating");
}

/* Appends "NAME (state; keys a, b)" of one bad table to the message. */
static void name_table(char *msg, size_t size, size_t *len, const char *name, const char *st,
                       const json_t *keys)
{
    size_t i;
    json_t *k;
    if (*len >= size)
        return;
    *len += (size_t)snprintf(msg + *len, size - *len, "%s%s (%s", *len ? ", " : "", name,
                             st ? st : "failed records");
    json_array_foreach(keys, i, k) {
        if (i >= KEYS_NAMED || *len >= size)
            break;
        *len += (size_t)snprintf(msg + *len, size - *len, "%s%s", i ? ", " : "; keys ",
                                 json_string_value(json_object_get(k, "key")));
    }
    if (*len < size)
        *len += (size_t)snprintf(msg + *len, size - *len, "%s)",
                                 json_array_size(keys) > KEYS_NAMED ? ", ..." : "");
}

/* Stores the report as validation.json and its summary in the outputs. */
static bool store_report(co_step_ctx *ctx, json_t *report, int mismatches, co_verdict *v)
{
    char *text = json_dumps(report, JSON_INDENT(2));
    co_error err;
    co_error_clear(&err);
    json_object_set_new(ctx->outputs, "validation",
                        json_pack("{s:b, s:i, s:s}", "match", mismatches == 0, "mismatches",
                                  mismatches, "method", "dms-validation"));
    if (co_step_artifact(ctx, "validation.json", "application/json", text ? text : "{}",
                         text ? strlen(text) : 2, &err) != CO_OK) {
        co_verdict_from_error(v, "storing validation.json", &err);
        free(text);
        return false;
    }
    free(text);
    return true;
}

void awsdms_validate(co_step_ctx *ctx, const char *role, const json_t *task,
                     const json_t *tables, co_verdict *v)
{
    json_t *report_tables = json_object(), *failed = NULL, *t, *report;
    const char *name = awsdms_task_str(task, "ReplicationTaskIdentifier");
    char msg[900] = "", what[300];
    size_t i, len = 0;
    int mismatches = 0, pending = 0, enabled = 0;
    co_error err;
    co_error_clear(&err);
    json_array_foreach(tables, i, t) {
        const char *st = awsdms_task_str(t, "ValidationState");
        if (st && !awsdms_streq(st, "Not enabled"))
            enabled++;
        if (pending_state(st) || co_dms_int(t, "ValidationPendingRecords", 0) > 0)
            pending++;
    }
    snprintf(what, sizeof what, "DMS data validation of replication task %s",
             name ? name : role);
    if (enabled == 0) {
        json_object_set_new(ctx->outputs, "validation",
                            json_pack("{s:n, s:s, s:s}", "match", "method", "none", "note",
                                      "DMS reported no ValidationState for the task's tables"));
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        goto out;
    }
    if (pending) {
        char detail[96];
        snprintf(detail, sizeof detail, "%d of %zu tables with records pending validation",
                 pending, json_array_size(tables));
        awsdms_wait(ctx, v, what, detail, NULL, 0, awsdms_poll_ms(AWSDMS_POLL_LOAD_MS));
        goto out;
    }
    if (awsdms_validation_failures(ctx, task, KEYS_MAX, &failed, &err) != CO_OK) {
        co_verdict_from_error(v, "reading the DMS validation failures", &err);
        goto out;
    }
    json_array_foreach(tables, i, t) {
        char key[300];
        const char *st = awsdms_task_str(t, "ValidationState");
        json_t *keys;
        bool bad = bad_state(st) || co_dms_int(t, "ValidationFailedRecords", 0) > 0 ||
                   co_dms_int(t, "ValidationSuspendedRecords", 0) > 0;
        snprintf(key, sizeof key, "%s.%s", awsdms_task_str(t, "SchemaName"),
                 awsdms_task_str(t, "TableName"));
        keys = json_object_get(failed, key);
        if (bad) {
            mismatches++;
            name_table(msg, sizeof msg, &len, key, st, keys);
        }
        json_object_set_new(
            report_tables, key,
            json_pack("{s:b, s:n, s:n, s:{s:s?, s:I, s:I, s:I}, s:o}", "match", !bad,
                      "source", "target", "dms", "ValidationState", st,
                      "ValidationPendingRecords",
                      (json_int_t)co_dms_int(t, "ValidationPendingRecords", 0),
                      "ValidationFailedRecords",
                      (json_int_t)co_dms_int(t, "ValidationFailedRecords", 0),
                      "ValidationSuspendedRecords",
                      (json_int_t)co_dms_int(t, "ValidationSuspendedRecords", 0),
                      "failed_keys", keys ? json_incref(keys) : json_array()));
    }
    report = json_pack("{s:b, s:i, s:s, s:O}", "match", mismatches == 0, "mismatches",
                       mismatches, "method", "dms-validation", "tables", report_tables);
    if (store_report(ctx, report, mismatches, v)) {
        co_step_waiting_clear(ctx);
        if (mismatches)
            co_verdict_set(v, CO_VERDICT_FAIL, 0,
                           "DMS data validation: %d table(s) differ between source and "
                           "target: %s (see validation.json)",
                           mismatches, msg);
        else
            co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    }
    json_decref(report);
out:
    json_decref(failed);
    json_decref(report_tables);
}
