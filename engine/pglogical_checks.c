/* pglogical_checks.c - what PostgreSQL's logical replication does not carry,
 * found before anything changes (preflight) or handled (tables without a
 * key, replica identity restored at the end). See pglogical_int.h. */
#include "engine/pglogical_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "engine/steps_pg.h"
#include "pg/pg_sql.h"

static void table_finding(json_t *f, const char *table, const char *setting,
                          const char *value, const char *required)
{
    json_array_append_new(f, json_pack("{s:s, s:s, s:s, s:s, s:s}", "endpoint", "source",
                                       "table", table, "setting", setting, "value", value,
                                       "required", required));
}

static bool selected(const json_t *tables, const char *schema, const char *table)
{
    const json_t *t;
    size_t i;
    json_array_foreach(tables, i, t)
        if (!strcmp(v_str(t, "schema"), schema) && !strcmp(v_str(t, "table"), table))
            return true;
    return false;
}

/* Foreign keys from a selected table to a table that is not selected. */
static co_status fk_findings(PGconn *src, const json_t *tables, json_t *findings,
                             co_error *err)
{
    PGresult *res = NULL;
    co_status rc = pg_exec(src, "listing foreign keys",
                           "SELECT cn.nspname, c.relname, k.conname, fn.nspname, f.relname"
                           " FROM pg_constraint k"
                           " JOIN pg_class c ON c.oid = k.conrelid"
                           " JOIN pg_namespace cn ON cn.oid = c.relnamespace"
                           " JOIN pg_class f ON f.oid = k.confrelid"
                           " JOIN pg_namespace fn ON fn.oid = f.relnamespace"
                           " WHERE k.contype = 'f' AND k.conparentid = 0 ORDER BY 1, 2, 3",
                           0, NULL, &res, err);
    for (int r = 0; rc == CO_OK && r < PQntuples(res); r++) {
        char name[300], setting[200], value[300], required[400];
        if (!selected(tables, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1)) ||
            selected(tables, PQgetvalue(res, r, 3), PQgetvalue(res, r, 4)))
            continue;
        snprintf(name, sizeof name, "%s.%s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        snprintf(setting, sizeof setting, "foreign key %s", PQgetvalue(res, r, 2));
        snprintf(value, sizeof value, "references %s.%s, which is not selected",
                 PQgetvalue(res, r, 3), PQgetvalue(res, r, 4));
        snprintf(required, sizeof required,
                 "%s.%s selected too (its schema in schemas, or in the task's table "
                 "mappings), or the foreign key dropped", PQgetvalue(res, r, 3),
                 PQgetvalue(res, r, 4));
        table_finding(findings, name, setting, value, required);
    }
    PQclear(res);
    return rc;
}

co_status pgl_table_findings(co_step_ctx *ctx, json_t *findings, co_error *err)
{
    PGconn *src = NULL;
    PGresult *res = NULL;
    json_t *tables = NULL, *t;
    const char *policy = co_param_str(ctx, "tables_without_key", "fail");
    size_t i;
    co_status rc;

    if ((rc = co_step_pg_open(ctx, &ctx->source, &src, err)) != CO_OK)
        return rc;
    if ((rc = pgl_selected_tables(ctx, "main", src, &tables, err)) != CO_OK)
        goto out;
    json_array_foreach(tables, i, t) {
        char name[300];
        snprintf(name, sizeof name, "%s.%s", v_str(t, "schema"), v_str(t, "table"));
        if (json_is_true(json_object_get(t, "unlogged")))
            table_finding(findings, name, "persistence", "unlogged",
                          "a logged table (logical replication does not carry unlogged "
                          "tables): ALTER TABLE ... SET LOGGED, or leave it out of the "
                          "table mappings");
        if (!json_is_true(json_object_get(t, "has_key")) && !strcmp(policy, "fail"))
            table_finding(findings, name, "replica identity",
                          "no primary key and no replica identity index or FULL",
                          "a primary key or replica identity, or the run parameter "
                          "tables_without_key: replica-identity-full or exclude");
    }
    if ((rc = fk_findings(src, tables, findings, err)) != CO_OK)
        goto out;
    rc = pg_exec(src, "counting large objects",
                 "SELECT count(*) FROM pg_catalog.pg_largeobject_metadata", 0, NULL, &res,
                 err);
    if (rc == CO_OK && atol(PQgetvalue(res, 0, 0)) > 0 &&
        !co_param_bool(ctx, "copy_large_objects", false)) {
        char value[64];
        snprintf(value, sizeof value, "%s large objects", PQgetvalue(res, 0, 0));
        json_array_append_new(findings,
                              json_pack("{s:s, s:s, s:s, s:s}", "endpoint", "source",
                                        "setting", "large objects", "value", value,
                                        "required",
                                        "the run parameter copy_large_objects: true "
                                        "(logical replication does not carry them; they "
                                        "are copied at final_sync while the source is "
                                        "quiet)"));
    }
out:
    PQclear(res);
    json_decref(tables);
    pg_conn_close(src);
    return rc;
}

/* ALTER TABLE s.t REPLICA IDENTITY <what> on c. */
static co_status set_identity(PGconn *c, const char *schema, const char *table,
                              const char *what, co_error *err)
{
    pg_sql q;
    co_status rc;
    pg_sql_init(&q);
    pg_sql_addf(&q, c, "ALTER TABLE %Q REPLICA IDENTITY %s", schema, table, what);
    rc = pg_sql_run(c, "setting the replica identity", &q, err);
    pg_sql_free(&q);
    return rc;
}

int pgl_keyless_policy(co_step_ctx *ctx, PGconn *pubc, json_t *tables, json_t *excluded,
                       co_verdict *v)
{
    const char *policy = co_param_str(ctx, "tables_without_key", "fail");
    json_t *plan = json_object_get(ctx->outputs, "replica_identity_full"), *t;
    json_t *keyless = json_array();
    co_error err;
    size_t i;

    co_error_clear(&err);
    json_array_foreach(tables, i, t)
        if (!json_is_true(json_object_get(t, "has_key")))
            json_array_append(keyless, t);
    if (!strcmp(policy, "exclude")) {
        for (i = json_array_size(tables); i-- > 0;) {
            t = json_array_get(tables, i);
            if (!json_is_true(json_object_get(t, "has_key"))) {
                json_array_insert_new(excluded, 0, json_sprintf("%s.%s", v_str(t, "schema"),
                                                                v_str(t, "table")));
                json_array_remove(tables, i);
            }
        }
    } else if (!strcmp(policy, "replica-identity-full") && !plan && json_array_size(keyless)) {
        /* record the previous settings, saved by the WAIT, before changing any */
        plan = json_array();
        json_array_foreach(keyless, i, t)
            json_array_append_new(plan, json_pack("{s:s, s:s, s:s}", "schema",
                                                  v_str(t, "schema"), "table",
                                                  v_str(t, "table"), "previous",
                                                  v_str(t, "replident")));
        json_object_set_new(ctx->outputs, "replica_identity_full", plan);
        json_decref(keyless);
        co_verdict_set(v, CO_VERDICT_WAIT, 1, NULL);
        return 1;
    } else if (!strcmp(policy, "replica-identity-full")) {
        json_array_foreach(plan, i, t)
            if (set_identity(pubc, v_str(t, "schema"), v_str(t, "table"), "FULL", &err) !=
                CO_OK) {
                co_verdict_from_error(v, "setting REPLICA IDENTITY FULL", &err);
                json_decref(keyless);
                return -1;
            }
        json_array_foreach(keyless, i, t)
            if (selected(plan, v_str(t, "schema"), v_str(t, "table")))
                json_object_set_new(t, "has_key", json_true());
    }
    for (i = json_array_size(keyless); i-- > 0;)
        if (json_is_true(json_object_get(json_array_get(keyless, i), "has_key")))
            json_array_remove(keyless, i);
    if (strcmp(policy, "exclude") != 0 && json_array_size(keyless)) {
        json_t *names = json_array();
        char *text;
        json_array_foreach(keyless, i, t)
            json_array_append_new(names, json_sprintf("%s.%s", v_str(t, "schema"),
                                                      v_str(t, "table")));
        text = json_dumps(names, JSON_COMPACT);
        co_verdict_set(v, CO_VERDICT_FAIL, 0,
                       "tables without a primary key or replica identity cannot "
                       "replicate updates and deletes: %s (run parameter tables_without_key: "
                       "replica-identity-full or exclude)", text ? text : "");
        free(text);
        json_decref(names);
        json_decref(keyless);
        return -1;
    }
    json_decref(keyless);
    return 0;
}

co_status pgl_restore_replica_identity(co_step_ctx *ctx, PGconn *pubc, json_t *report,
                                       co_error *err)
{
    const json_t *plan = json_object_get(json_object_get(ctx->all_outputs, "full_load"),
                                         "replica_identity_full"), *t;
    size_t i;
    json_array_foreach(plan, i, t) {
        const char *prev = v_str(t, "previous");
        const char *what = prev && !strcmp(prev, "n") ? "NOTHING" : "DEFAULT";
        const char *params[2] = {v_str(t, "schema"), v_str(t, "table")};
        char *cur = NULL;
        co_status rc = pgl_query_text(pubc, "reading the replica identity",
                                      "SELECT c.relreplident FROM pg_class c JOIN pg_namespace"
                                      " n ON n.oid = c.relnamespace WHERE n.nspname = $1"
                                      " AND c.relname = $2", 2, params, &cur, err);
        if (rc == CO_OK && cur && !strcmp(cur, "f"))
            rc = set_identity(pubc, params[0], params[1], what, err);
        free(cur);
        if (rc != CO_OK)
            return rc;
        if (report)
            json_array_append_new(report, json_pack("{s:s, s:s, s:s}", "schema", params[0],
                                                    "table", params[1], "replica_identity",
                                                    what));
    }
    return CO_OK;
}
