/* awsdms_cdc.c - the control tables DMS keeps on a PostgreSQL target,
 * read with libpq as the target endpoint's user; see awsdms_int.h.
 *  - CDC latency from the replication status table, written when the
 *    task's ControlTablesSettings.StatusTableEnabled is true (per the DMS
 *    user guide, "Control table task settings": awsdms_status in the
 *    control schema, one row per task with TASK_NAME, TASK_STATUS,
 *    STATUS_TIME, PENDING_CHANGES, SOURCE_CURRENT_TIMESTAMP,
 *    SOURCE_TIMESTAMP_APPLIED);
 *  - the tables DMS suspended and why, from awsdms_suspended_tables
 *    (TABLE_OWNER, TABLE_NAME, SUSPEND_REASON, SUSPEND_TIMESTAMP), written
 *    with ControlTablesSettings.SuspendedTablesTableEnabled;
 *  - the keys of rows that failed DMS data validation, from
 *    awsdms_validation_failures_v1 (TASK_NAME, TABLE_OWNER, TABLE_NAME,
 *    FAILURE_TIME, KEY_TYPE, KEY, FAILURE_TYPE, DETAILS; per the DMS user
 *    guide, "AWS DMS data validation").
 * TASK_NAME is the task's resource id, the last part of its ARN.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/awsdms_int.h"
#include "engine/steps_pg.h"
#include "pg/pg_sql.h"

/* The control schema of task: ControlTablesSettings.ControlSchema of its
 * ReplicationTaskSettings, else "public" (DMS uses the target's default
 * schema when it is empty). Copied into out. */
static void control_schema(const json_t *task, char *out, size_t size)
{
    const char *text = awsdms_task_str(task, "ReplicationTaskSettings");
    json_t *s = text ? json_loads(text, 0, NULL) : NULL;
    const char *schema = json_string_value(
        json_object_get(json_object_get(s, "ControlTablesSettings"), "ControlSchema"));
    snprintf(out, size, "%s", schema && *schema ? schema : "public");
    json_decref(s);
}

bool awsdms_control_table_on(const co_step_ctx *ctx, const char *role, const json_t *task,
                             const char *setting)
{
    const char *text = awsdms_task_str(task, "ReplicationTaskSettings");
    json_t *s = text ? json_loads(text, 0, NULL) : NULL;
    bool on = json_is_true(
        json_object_get(json_object_get(s, "ControlTablesSettings"), setting));
    const char *engine = json_string_value(json_object_get(ctx->target.doc, "engine"));
    json_decref(s);
    return on && !awsdms_streq(role, "rollback") && awsdms_streq(engine, "postgres");
}

/* Runs "SELECT <cols> FROM <control schema>.<table> WHERE task_name = $1
 * <tail>" (tail may use $2 = arg) on the target: 1 with *res (caller
 * clears), 0 when the table does not exist, -1 with err. *table_out
 * receives "<schema>.<table>". */
static int query_control(co_step_ctx *ctx, const json_t *task, const char *table,
                         const char *cols, const char *tail, const char *arg,
                         PGresult **res, char *table_out, size_t table_size, co_error *err)
{
    const char *arn = awsdms_task_str(task, "ReplicationTaskArn");
    const char *colon = arn ? strrchr(arn, ':') : NULL;
    char schema[128];
    const char *params[3];
    PGconn *c = NULL;
    pg_sql q;
    char *sql = NULL;
    int found = -1;

    *res = NULL;
    control_schema(task, schema, sizeof schema);
    snprintf(table_out, table_size, "%s.%s", schema, table);
    if (!colon) {
        co_error_set(err, CO_ERR_REMOTE, "the replication task has no ARN");
        return -1;
    }
    params[0] = schema;
    params[1] = table;
    pg_sql_init(&q);
    if (co_step_pg_open(ctx, &ctx->target, &c, err) != CO_OK ||
        pg_exec(c, "looking for a DMS control table",
                "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = $1 AND c.relname = $2",
                2, params, res, err) != CO_OK)
        goto out;
    found = PQntuples(*res) > 0;
    PQclear(*res);
    *res = NULL;
    if (!found)
        goto out;
    pg_sql_add(&q, "SELECT ");
    pg_sql_add(&q, cols);
    pg_sql_add(&q, " FROM ");
    pg_sql_qname(&q, c, schema, table);
    pg_sql_add(&q, " WHERE task_name = $1 ");
    pg_sql_add(&q, tail);
    /* TASK_NAME is the task's resource id, the last part of its ARN */
    params[0] = colon + 1;
    params[1] = arg;
    if (pg_sql_check(&q, err) != CO_OK || !(sql = pg_sql_steal(&q)) ||
        pg_exec(c, "reading a DMS control table", sql, arg ? 2 : 1, params, res, err) != CO_OK)
        found = -1;
out:
    free(sql);
    pg_sql_free(&q);
    pg_conn_close(c);
    return found;
}

int awsdms_cdc_read(co_step_ctx *ctx, const json_t *task, awsdms_cdc_figures *f,
                    co_error *err)
{
    PGresult *res = NULL;
    int found;
    memset(f, 0, sizeof *f);
    f->latency_s = -1;
    f->pending = -1;
    found = query_control(ctx, task, "awsdms_status",
                          "task_status, to_char(status_time, 'YYYY-MM-DD\"T\"HH24:MI:SS'),"
                          " pending_changes, extract(epoch FROM source_current_timestamp -"
                          " source_timestamp_applied)::float8",
                          "ORDER BY status_time DESC NULLS LAST LIMIT 1", NULL, &res, f->table,
                          sizeof f->table, err);
    if (found == 1 && PQntuples(res) == 0)
        found = 0;
    if (found == 1) {
        snprintf(f->task_status, sizeof f->task_status, "%s", PQgetvalue(res, 0, 0));
        snprintf(f->status_time, sizeof f->status_time, "%s", PQgetvalue(res, 0, 1));
        f->pending = PQgetisnull(res, 0, 2) ? -1 : pg_res_int(res, 0, 2, -1);
        f->latency_s = PQgetisnull(res, 0, 3) ? -1 : atof(PQgetvalue(res, 0, 3));
        if (f->latency_s < 0 && !PQgetisnull(res, 0, 3))
            f->latency_s = 0; /* applied ahead of the read position: nothing behind */
    }
    PQclear(res);
    return found;
}

/* Rows of res as {"<col 0>.<col 1>": value of col 2 (or, with list, an
 * array of {key: col 2, failure_type: col 3})}. */
static json_t *by_table(const PGresult *res, bool list)
{
    json_t *out = json_object();
    for (int r = 0; res && r < PQntuples(res); r++) {
        char name[300];
        json_t *arr;
        snprintf(name, sizeof name, "%s.%s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        if (!list) {
            json_object_set_new(out, name, json_string(PQgetvalue(res, r, 2)));
            continue;
        }
        if (!(arr = json_object_get(out, name))) {
            arr = json_array();
            json_object_set_new(out, name, arr);
        }
        json_array_append_new(arr, json_pack("{s:s, s:s}", "key", PQgetvalue(res, r, 2),
                                             "failure_type", PQgetvalue(res, r, 3)));
    }
    return out;
}

co_status awsdms_validation_failures(co_step_ctx *ctx, const json_t *task, int limit,
                                     json_t **out, co_error *err)
{
    PGresult *res = NULL;
    char lim[16], table[200];
    int found;
    snprintf(lim, sizeof lim, "%d", limit);
    found = query_control(ctx, task, "awsdms_validation_failures_v1",
                          "table_owner, table_name, key, failure_type",
                          "ORDER BY failure_time, key LIMIT $2::int", lim, &res, table,
                          sizeof table, err);
    *out = found < 0 ? NULL : by_table(res, true);
    PQclear(res);
    return found < 0 ? err->status : CO_OK;
}

co_status awsdms_suspended_tables(co_step_ctx *ctx, const json_t *task, json_t **out,
                                  co_error *err)
{
    PGresult *res = NULL;
    char table[200];
    int found = query_control(ctx, task, "awsdms_suspended_tables",
                              "table_owner, table_name, suspend_reason",
                              "ORDER BY suspend_timestamp", NULL, &res, table, sizeof table,
                              err);
    *out = found < 0 ? NULL : by_table(res, false);
    PQclear(res);
    return found < 0 ? err->status : CO_OK;
}
