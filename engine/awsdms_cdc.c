/* awsdms_cdc.c - the control tables DMS keeps on a PostgreSQL target,
 * read with libpq as the target endpoint's user; see awsdms_int.h.
 *  - CDC latency from the replication status table, written when the
 *    task's ControlTablesSettings.StatusTableEnabled is true (per the DMS
 *    user guide, "Control table task settings": awsdms_status in the
 *    control schema, one row per task with TASK_NAME, TASK_STATUS,
 *    STATUS_TIME, PENDING_CHANGES, SOURCE_CURRENT_TIMESTAMP,
 *    SOURCE_TIMESTAMP_APPLIED);
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

bool awsdms_cdc_measurable(const co_step_ctx *ctx, const char *role, const json_t *task)
{
    const char *text = awsdms_task_str(task, "ReplicationTaskSettings");
    json_t *s = text ? json_loads(text, 0, NULL) : NULL;
    bool on = json_is_true(json_object_get(json_object_get(s, "ControlTablesSettings"),
                                           "StatusTableEnabled"));
    const char *engine = json_string_value(json_object_get(ctx->target.doc, "engine"));
    json_decref(s);
    return on && !awsdms_streq(role, "rollback") && awsdms_streq(engine, "postgres");
}

int awsdms_cdc_read(co_step_ctx *ctx, const json_t *task, awsdms_cdc_figures *f,
                    co_error *err)
{
    const char *arn = awsdms_task_str(task, "ReplicationTaskArn");
    const char *colon = arn ? strrchr(arn, ':') : NULL;
    char schema[128];
    const char *params[2];
    PGconn *c = NULL;
    PGresult *res = NULL;
    pg_sql q;
    char *sql = NULL;
    int found = -1;

    memset(f, 0, sizeof *f);
    f->latency_s = -1;
    f->pending = -1;
    control_schema(task, schema, sizeof schema);
    snprintf(f->table, sizeof f->table, "%s.awsdms_status", schema);
    if (!colon) {
        co_error_set(err, CO_ERR_REMOTE, "the replication task has no ARN");
        return -1;
    }
    /* TASK_NAME is the task's resource id, the last part of its ARN */
    params[0] = schema;
    params[1] = colon + 1;
    pg_sql_init(&q);
    if (co_step_pg_open(ctx, &ctx->target, &c, err) != CO_OK)
        goto out;
    if (pg_exec(c, "looking for the DMS status table",
                "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = $1 AND c.relname = 'awsdms_status'",
                1, params, &res, err) != CO_OK)
        goto out;
    if (PQntuples(res) == 0) {
        found = 0;
        goto out;
    }
    PQclear(res);
    res = NULL;
    pg_sql_add(&q, "SELECT task_status, to_char(status_time, 'YYYY-MM-DD\"T\"HH24:MI:SS'),"
                   " pending_changes, extract(epoch FROM source_current_timestamp -"
                   " source_timestamp_applied)::float8 FROM ");
    pg_sql_qname(&q, c, schema, "awsdms_status");
    pg_sql_add(&q, " WHERE task_name = $1 ORDER BY status_time DESC NULLS LAST LIMIT 1");
    if (pg_sql_check(&q, err) != CO_OK)
        goto out;
    sql = pg_sql_steal(&q);
    if (pg_exec(c, "reading the DMS status table", sql, 1, params + 1, &res, err) != CO_OK)
        goto out;
    found = PQntuples(res) > 0;
    if (found) {
        snprintf(f->task_status, sizeof f->task_status, "%s", PQgetvalue(res, 0, 0));
        snprintf(f->status_time, sizeof f->status_time, "%s", PQgetvalue(res, 0, 1));
        f->pending = PQgetisnull(res, 0, 2) ? -1 : pg_res_int(res, 0, 2, -1);
        f->latency_s = PQgetisnull(res, 0, 3) ? -1 : atof(PQgetvalue(res, 0, 3));
        if (f->latency_s < 0 && !PQgetisnull(res, 0, 3))
            f->latency_s = 0; /* applied ahead of the read position: nothing behind */
    }
out:
    free(sql);
    pg_sql_free(&q);
    PQclear(res);
    pg_conn_close(c);
    return found;
}

co_status awsdms_validation_failures(co_step_ctx *ctx, const json_t *task, int limit,
                                     json_t **out, co_error *err)
{
    const char *arn = awsdms_task_str(task, "ReplicationTaskArn");
    const char *colon = arn ? strrchr(arn, ':') : NULL;
    char schema[128], lim[16];
    const char *params[3];
    PGconn *c = NULL;
    PGresult *res = NULL;
    pg_sql q;
    char *sql = NULL;
    co_status rc;

    *out = json_object();
    control_schema(task, schema, sizeof schema);
    snprintf(lim, sizeof lim, "%d", limit);
    params[0] = schema;
    params[1] = colon ? colon + 1 : "";
    params[2] = lim;
    pg_sql_init(&q);
    if ((rc = co_step_pg_open(ctx, &ctx->target, &c, err)) != CO_OK ||
        (rc = pg_exec(c, "looking for the DMS validation failures table",
                      "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                      " WHERE n.nspname = $1 AND c.relname = 'awsdms_validation_failures_v1'",
                      1, params, &res, err)) != CO_OK || PQntuples(res) == 0)
        goto out;
    PQclear(res);
    res = NULL;
    pg_sql_add(&q, "SELECT table_owner, table_name, key, failure_type FROM ");
    pg_sql_qname(&q, c, schema, "awsdms_validation_failures_v1");
    pg_sql_add(&q, " WHERE task_name = $1 ORDER BY failure_time, key LIMIT $2::int");
    if ((rc = pg_sql_check(&q, err)) != CO_OK)
        goto out;
    sql = pg_sql_steal(&q);
    if ((rc = pg_exec(c, "reading the DMS validation failures", sql, 2, params + 1, &res,
                      err)) != CO_OK)
        goto out;
    for (int r = 0; r < PQntuples(res); r++) {
        char name[300];
        json_t *list;
        snprintf(name, sizeof name, "%s.%s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        if (!(list = json_object_get(*out, name))) {
            list = json_array();
            json_object_set_new(*out, name, list);
        }
        json_array_append_new(list, json_pack("{s:s, s:s}", "key", PQgetvalue(res, r, 2),
                                              "failure_type", PQgetvalue(res, r, 3)));
    }
out:
    free(sql);
    pg_sql_free(&q);
    PQclear(res);
    pg_conn_close(c);
    if (rc != CO_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
