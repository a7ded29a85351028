/* pglogical.c - see pglogical.h.
 *
 * Table statistics use DMS's names: TableState "Before load" (subscription
 * relation state i), "Full load" (d, f, s: copying or catching up),
 * "Table completed" (r), "Table error" (a table sync worker reported
 * errors); FullLoadRows from pg_stat_progress_copy while copying and from
 * the target's pg_stat_user_tables afterwards; Inserts/Updates/Deletes are
 * the target's counters since the full load finished.
 */
#include "engine/pglogical.h"
#include "engine/pglogical_int.h"
#include "engine/pglogical_validate.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/step.h"
#include "engine/steps_pg.h"
#include "engine/table_mappings.h"
#include "core/validate.h"
#include "pg/pg_sql.h"
#include "core/clock.h"

#define POLL_MS 1000

void co_pgl_object_name(const char *run_id, const char *role, char out[64])
{
    const char *id = strchr(run_id, '_');
    id = id ? id + 1 : run_id;
    snprintf(out, 64, "cutover_%s_%s", id, role);
}

void pgl_names_make(const co_step_ctx *ctx, const char *role, pgl_names *n)
{
    co_pgl_object_name(ctx->run->id, role, n->pub);
    memcpy(n->slot, n->pub, sizeof n->slot);
    memcpy(n->sub, n->pub, sizeof n->sub);
}

const co_resource *pgl_publisher(co_step_ctx *ctx, const char *role)
{
    return strcmp(role, "rollback") == 0 ? &ctx->target : &ctx->source;
}

const co_resource *pgl_subscriber(co_step_ctx *ctx, const char *role)
{
    return strcmp(role, "rollback") == 0 ? &ctx->source : &ctx->target;
}

static int fail_verdict(co_verdict *v, const char *what, const co_error *err)
{
    co_verdict_from_error(v, what, err);
    return 0;
}

co_status pgl_query_text(PGconn *c, const char *what, const char *sql, int n,
                            const char *const *params, char **out, co_error *err)
{
    PGresult *res = NULL;
    co_status rc = pg_exec(c, what, sql, n, params, &res, err);
    *out = NULL;
    if (rc == CO_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        *out = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

int pgl_exists(PGconn *c, const char *what, const char *sql, const char *name,
               co_error *err)
{
    char *v = NULL;
    const char *params[1] = {name};
    if (pgl_query_text(c, what, sql, 1, params, &v, err) != CO_OK)
        return -1;
    free(v);
    return v != NULL;
}

/* ------------------------------------------------------------ checks */

static void finding(json_t *f, const char *endpoint, const char *setting,
                    const char *value, const char *required)
{
    json_array_append_new(f, json_pack("{s:s, s:s, s:s, s:s}", "endpoint", endpoint,
                                       "setting", setting, "value", value, "required",
                                       required));
}

/* What a publisher needs: wal_level, a free slot and WAL sender, and a
 * role with REPLICATION; and the apply workers it may run as the subscriber
 * of the rollback task. */
static const char source_check_sql[] =
    "SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int"
    " - (SELECT count(*) FROM pg_replication_slots), current_setting('max_wal_senders')::int"
    " - (SELECT count(*) FROM pg_stat_replication),"
    " (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user),"
    " current_setting('max_logical_replication_workers'),"
    " (SELECT count(*) FROM pg_subscription WHERE subenabled)";

/* What a subscriber needs: a superuser (PostgreSQL 15: CREATE SUBSCRIPTION)
 * and a free logical replication worker for the subscription's apply
 * worker; with none, CDC would wait for ever with changes behind. Every
 * enabled subscription of the cluster (pg_subscription is shared by its
 * databases) holds one. */
static const char target_check_sql[] =
    "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),"
    " current_setting('max_logical_replication_workers'),"
    " (SELECT count(*) FROM pg_subscription WHERE subenabled)";

/* A finding when a subscriber (endpoint) has no logical replication worker
 * left for one more apply worker: workers is its
 * max_logical_replication_workers, in_use its enabled subscriptions. */
static void worker_finding(json_t *findings, const char *endpoint, const char *workers,
                           const char *in_use)
{
    char value[64];
    if (atoi(workers) < 1) {
        finding(findings, endpoint, "max_logical_replication_workers", workers,
                "at least 1 (the subscription's apply worker)");
    } else if (atoi(in_use) >= atoi(workers)) {
        snprintf(value, sizeof value, "%s, all in use by enabled subscriptions", workers);
        finding(findings, endpoint, "max_logical_replication_workers", value,
                "a free one for the subscription's apply worker");
    }
}

co_status co_pgl_check(co_step_ctx *ctx, json_t *findings, co_error *err)
{
    PGresult *res = NULL;
    co_status rc = co_step_pg_query(ctx, &ctx->source, "checking the source",
                                    source_check_sql, 0, NULL, &res, err);
    if (rc != CO_OK)
        return rc;
    if (strcmp(PQgetvalue(res, 0, 0), "logical") != 0)
        finding(findings, "source", "wal_level", PQgetvalue(res, 0, 0), "logical");
    if (atoi(PQgetvalue(res, 0, 1)) < 1)
        finding(findings, "source", "max_replication_slots", "no free replication slot",
                "at least one free slot");
    if (atoi(PQgetvalue(res, 0, 2)) < 1)
        finding(findings, "source", "max_wal_senders", "no free WAL sender",
                "at least one free WAL sender");
    if (strcmp(PQgetvalue(res, 0, 3), "t") != 0)
        finding(findings, "source", "role REPLICATION", "not granted",
                "a role with REPLICATION (or superuser)");
    if (co_param_bool(ctx, "rollback_task", false))
        worker_finding(findings, "source", PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5));
    PQclear(res);
    rc = co_step_pg_query(ctx, &ctx->target, "checking the target", target_check_sql, 0, NULL,
                          &res, err);
    if (rc == CO_OK && strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        finding(findings, "target", "role SUPERUSER", "not granted",
                "a superuser (PostgreSQL 15 requires it for CREATE SUBSCRIPTION)");
    if (rc == CO_OK)
        worker_finding(findings, "target", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
    PQclear(res);
    return rc;
}

static void pgl_preflight(co_step_ctx *ctx, co_verdict *v)
{
    json_t *findings = json_array();
    co_error err;
    co_error_clear(&err);
    if (co_pgl_check(ctx, findings, &err) != CO_OK ||
        pgl_table_findings(ctx, findings, &err) != CO_OK) {
        co_verdict_from_error(v, "preflight", &err);
    } else if (json_array_size(findings)) {
        char *text = json_dumps(findings, JSON_COMPACT);
        json_object_set(ctx->outputs, "findings", findings);
        co_verdict_set(v, CO_VERDICT_FAIL, 0,
                       "the endpoints or tables are not ready for logical replication: %s",
                       text ? text : "");
        free(text);
    } else {
        json_object_set_new(ctx->outputs, "findings", json_array());
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    }
    json_decref(findings);
}

static void pgl_ensure_instance(co_step_ctx *ctx, co_verdict *v)
{
    json_object_set_new(ctx->outputs, "replication_instance",
                        json_pack("{s:s, s:s}", "ReplicationInstanceIdentifier",
                                  "pg-logical (built in)", "ReplicationInstanceStatus",
                                  "available"));
    co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
}

static void pgl_ensure_endpoints(co_step_ctx *ctx, co_verdict *v)
{
    const co_resource *eps[2] = {&ctx->source, &ctx->target};
    json_t *conns = json_array();
    co_error err;
    for (int i = 0; i < 2; i++) {
        PGconn *c = NULL;
        co_error_clear(&err);
        if (co_step_pg_open(ctx, eps[i], &c, &err) != CO_OK) {
            co_verdict_from_error(v, i ? "testing the target endpoint"
                                       : "testing the source endpoint", &err);
            json_decref(conns);
            return;
        }
        pg_conn_close(c);
        json_array_append_new(conns, json_pack("{s:s, s:s}", "EndpointIdentifier",
                                               eps[i]->id, "Status", "successful"));
    }
    json_object_set_new(ctx->outputs, "connections", conns);
    co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
}

/* -------------------------------------------------------------- tables */

co_status pgl_selected_tables(co_step_ctx *ctx, const char *role, PGconn *c, json_t **out,
                              co_error *err)
{
    json_t *mappings = NULL, *tables;
    PGresult *res = NULL;
    const char *task_id = co_param_str(ctx, "task_id", NULL);
    co_status rc;

    if (strcmp(role, "stage") == 0) {
        /* view migration stage 1: just the source table */
        json_t *st = json_object_get(ctx->run->params, "source_table");
        mappings = json_pack("{s:[{s:s, s:s, s:s, s:{s:s, s:s}, s:s}]}", "rules",
                             "rule-type", "selection", "rule-id", "1", "rule-name", "stage",
                             "object-locator", "schema-name", v_str(st, "schema"),
                             "table-name", v_str(st, "name"), "rule-action", "explicit");
    } else if (task_id) {
        co_resource task;
        if ((rc = co_res_get(ctx->app->store, CO_KIND_TASK, task_id, &task, err)) != CO_OK)
            return rc;
        mappings = json_incref(json_object_get(task.doc, "table_mappings"));
        co_resource_clear(&task);
    } else {
        json_t *schemas = json_object_get(ctx->run->params, "schemas"), *s;
        size_t i;
        mappings = json_pack("{s:[]}", "rules");
        json_array_foreach(schemas, i, s)
            json_array_append_new(json_object_get(mappings, "rules"),
                                  json_pack("{s:s, s:I, s:I, s:{s:O, s:s}, s:s}",
                                            "rule-type", "selection", "rule-id",
                                            (json_int_t)i + 1, "rule-name",
                                            (json_int_t)i + 1, "object-locator",
                                            "schema-name", s, "table-name", "%",
                                            "rule-action", "include"));
    }
    rc = pg_exec(c, "listing source tables",
                 "SELECT n.nspname, c.relname,"
                 " EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid"
                 "   AND i.indisprimary) OR c.relreplident IN ('f', 'i'),"
                 " c.relpersistence = 'u', c.relreplident"
                 " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
                 " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                 " AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2",
                 0, NULL, &res, err);
    if (rc != CO_OK) {
        json_decref(mappings);
        return rc;
    }
    tables = json_array();
    for (int r = 0; r < PQntuples(res); r++)
        if (co_tm_selects(mappings, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), "table"))
            json_array_append_new(
                tables, json_pack("{s:s, s:s, s:b, s:b, s:s}", "schema", PQgetvalue(res, r, 0),
                                  "table", PQgetvalue(res, r, 1), "has_key",
                                  strcmp(PQgetvalue(res, r, 2), "t") == 0, "unlogged",
                                  strcmp(PQgetvalue(res, r, 3), "t") == 0, "replident",
                                  PQgetvalue(res, r, 4)));
    PQclear(res);
    json_decref(mappings);
    *out = tables;
    return CO_OK;
}

/* ---------------------------------------------------------------- tasks */

/* The replication objects of a task and how the catalogs name them. */
typedef enum pgl_object { PGL_PUBLICATION, PGL_SLOT, PGL_SUBSCRIPTION } pgl_object;

static const struct {
    const char *what, *sql; /* sql: one row when the object named $1 exists */
} pgl_objects[] = {
    [PGL_PUBLICATION] = {"looking for the publication",
                         "SELECT 1 FROM pg_publication WHERE pubname = $1"},
    [PGL_SLOT] = {"looking for the replication slot",
                  "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1"},
    [PGL_SUBSCRIPTION] = {"looking for the subscription",
                          "SELECT 1 FROM pg_subscription WHERE subname = $1"},
};

/* Whether object o named name is absent on c: CO_OK with *absent set, or
 * an error of the lookup (see pg_conn_fail). */
static co_status object_absent(PGconn *c, pgl_object o, const char *name, bool *absent,
                               co_error *err)
{
    int has = pgl_exists(c, pgl_objects[o].what, pgl_objects[o].sql, name, err);
    *absent = has == 0;
    return has < 0 ? err->status : CO_OK;
}

static co_status ensure_publication(PGconn *c, const pgl_names *n, json_t *tables,
                                    co_error *err)
{
    pg_sql q;
    bool absent;
    co_status rc = object_absent(c, PGL_PUBLICATION, n->pub, &absent, err);
    if (rc != CO_OK || !absent)
        return rc;
    pg_sql_init(&q);
    pg_sql_addf(&q, c, "CREATE PUBLICATION %I FOR TABLE ", n->pub);
    pg_sql_qnames(&q, c, tables);
    pg_sql_add(&q, " WITH (publish_via_partition_root = true)");
    rc = pg_sql_run(c, "creating the publication", &q, err);
    pg_sql_free(&q);
    return rc;
}

static co_status ensure_slot(PGconn *c, const pgl_names *n, co_error *err)
{
    const char *params[1] = {n->slot};
    bool absent;
    co_status rc = object_absent(c, PGL_SLOT, n->slot, &absent, err);
    if (rc != CO_OK || !absent)
        return rc;
    return pg_exec(c, "creating the replication slot",
                   "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", 1, params,
                   NULL, err);
}

static co_status ensure_subscription(co_step_ctx *ctx, PGconn *c, const pgl_names *n,
                                     const co_resource *pub_ep, bool copy_data,
                                     co_error *err)
{
    pg_sql q;
    char *conninfo, *sql;
    bool absent;
    co_status rc = object_absent(c, PGL_SUBSCRIPTION, n->sub, &absent, err);
    if (rc != CO_OK || !absent)
        return rc;
    if (!(conninfo = co_step_conninfo_new(ctx, pub_ep, err)))
        return err->status;
    pg_sql_init(&q);
    pg_sql_addf(&q, c,
                "CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I"
                " WITH (create_slot = false, enabled = false, slot_name = %L, copy_data = %s)",
                n->sub, conninfo, n->pub, n->slot, copy_data ? "true" : "false");
    OPENSSL_cleanse(conninfo, strlen(conninfo));
    free(conninfo);
    rc = pg_sql_check(&q, err);
    if (rc == CO_OK) {
        sql = pg_sql_steal(&q);
        /* the statement holds the password: errors report PostgreSQL's
         * message only, never the statement */
        rc = pg_exec_simple(c, "creating the subscription", sql, NULL, err);
        OPENSSL_cleanse(sql, strlen(sql));
        free(sql);
    }
    pg_sql_free(&q);
    return rc;
}

static void pgl_ensure_task(co_step_ctx *ctx, const char *role, co_verdict *v)
{
    PGconn *pubc = NULL, *subc = NULL;
    json_t *tables = NULL, *excluded = json_array();
    pgl_names n;
    co_error err;
    bool copy = strcmp(role, "rollback") != 0, snapshot;

    co_error_clear(&err);
    pgl_names_make(ctx, role, &n);
    if (copy && co_param_str(ctx, "task_id", NULL) && strcmp(role, "main") == 0) {
        /* a CDC-only task (DMS migration type "cdc") copies no data */
        co_resource task;
        if (co_res_get(ctx->app->store, CO_KIND_TASK, co_param_str(ctx, "task_id", NULL),
                       &task, &err) == CO_OK) {
            const char *type = v_str(task.doc, "migration_type");
            copy = !type || strcmp(type, "cdc") != 0;
            co_resource_clear(&task);
        }
        co_error_clear(&err);
    }
    if (co_step_pg_open(ctx, &ctx->source, &pubc, &err) != CO_OK) {
        fail_verdict(v, "connecting to the source", &err);
        goto out;
    }
    if (pgl_selected_tables(ctx, role, pubc, &tables, &err) != CO_OK) {
        fail_verdict(v, "selecting tables", &err);
        goto out;
    }
    if (strcmp(role, "rollback") == 0) {
        pg_conn_close(pubc);
        pubc = NULL;
        if (co_step_pg_open(ctx, pgl_publisher(ctx, role), &pubc, &err) != CO_OK) {
            fail_verdict(v, "connecting to the target", &err);
            goto out;
        }
    }
    if (json_array_size(tables) == 0) {
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "the table mappings select no table of the source");
        goto out;
    }
    /* tables_without_key: fail, replica-identity-full (may WAIT once) or exclude */
    if (pgl_keyless_policy(ctx, pubc, tables, excluded, v) != 0)
        goto out;
    if (json_array_size(tables) == 0) {
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "every selected table was excluded");
        goto out;
    }
    /* the main task's full load is a snapshot copy when asked for; the
     * copy then creates the slot with its exported snapshot */
    snapshot = copy && strcmp(role, "main") == 0 &&
               strcmp(co_param_str(ctx, "full_load_method", "snapshot"), "snapshot") == 0;
    if (ensure_publication(pubc, &n, tables, &err) != CO_OK ||
        (!snapshot && ensure_slot(pubc, &n, &err) != CO_OK)) {
        fail_verdict(v, "preparing the publisher", &err);
        goto out;
    }
    if (co_step_pg_open(ctx, pgl_subscriber(ctx, role), &subc, &err) != CO_OK ||
        ensure_subscription(ctx, subc, &n, pgl_publisher(ctx, role), copy && !snapshot,
                            &err) != CO_OK) {
        fail_verdict(v, "creating the subscription", &err);
        goto out;
    }
    json_object_set_new(ctx->outputs, role,
                        json_pack("{s:s, s:s, s:s, s:O, s:O, s:s}", "publication", n.pub,
                                  "slot", n.slot, "subscription", n.sub, "tables", tables,
                                  "excluded", excluded, "full_load_method",
                                  snapshot ? "snapshot" : copy ? "subscription" : "none"));
    co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
out:
    json_decref(tables);
    json_decref(excluded);
    pg_conn_close(pubc);
    pg_conn_close(subc);
}

co_status pgl_alter_subscription(co_step_ctx *ctx, const char *role, const char *action,
                                    co_error *err)
{
    PGconn *c = NULL;
    pgl_names n;
    pg_sql q;
    co_status rc;
    pgl_names_make(ctx, role, &n);
    if ((rc = co_step_pg_open(ctx, pgl_subscriber(ctx, role), &c, err)) != CO_OK)
        return rc;
    pg_sql_init(&q);
    pg_sql_addf(&q, c, "ALTER SUBSCRIPTION %I %s", n.sub, action);
    rc = pg_sql_run(c, "altering the subscription", &q, err);
    pg_sql_free(&q);
    pg_conn_close(c);
    return rc;
}

static void pgl_start_task(co_step_ctx *ctx, const char *role, co_task_start kind,
                          co_verdict *v)
{
    co_error err;
    co_error_clear(&err);
    if (kind == CO_TASK_RELOAD_TARGET) {
        co_verdict_set(v, CO_VERDICT_FAIL, 0,
                       "pg-logical cannot reload the target of a running task: use aws-dms "
                       "or start a new run");
        return;
    }
    if (kind == CO_TASK_START_REPLICATION && pgl_snapshot_copy_wanted(ctx, role)) {
        pgl_snapshot_copy(ctx, role, v);
        return;
    }
    if (pgl_alter_subscription(ctx, role, "ENABLE", &err) != CO_OK)
        co_verdict_from_error(v, "enabling the subscription", &err);
    else
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
}

static void pgl_stop_task(co_step_ctx *ctx, const char *role, co_verdict *v)
{
    co_error err;
    co_error_clear(&err);
    if (pgl_alter_subscription(ctx, role, "DISABLE", &err) != CO_OK)
        co_verdict_from_error(v, "disabling the subscription", &err);
    else
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
}

static void pgl_delete_task(co_step_ctx *ctx, const char *role, co_verdict *v)
{
    PGconn *subc = NULL, *pubc = NULL;
    pgl_names n;
    co_error err;
    pg_sql q;
    const char *params[1];
    co_error_clear(&err);
    pg_sql_init(&q);
    pgl_names_make(ctx, role, &n);
    params[0] = n.sub;
    if (co_step_pg_open(ctx, pgl_subscriber(ctx, role), &subc, &err) != CO_OK)
        goto fail;
    /* the change log of the continuous validation goes with the task */
    if (strcmp(role, "main") == 0 && pgl_validate_remove(ctx, subc, &err) != CO_OK)
        goto fail;
    if (pgl_exists(subc, pgl_objects[PGL_SUBSCRIPTION].what, pgl_objects[PGL_SUBSCRIPTION].sql,
                   n.sub, &err) > 0) {
        static const struct {
            const char *tmpl, *what;
        } stmts[] = {{"ALTER SUBSCRIPTION %I DISABLE", "detaching the subscription"},
                     {"ALTER SUBSCRIPTION %I SET (slot_name = NONE)",
                      "detaching the subscription"},
                     {"DROP SUBSCRIPTION IF EXISTS %I", "dropping the subscription"}};
        for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
            pg_sql_addf(&q, subc, stmts[i].tmpl, n.sub);
            if (pg_sql_run(subc, stmts[i].what, &q, &err) != CO_OK)
                goto fail;
        }
    } else if (err.status != CO_OK) {
        goto fail;
    }
    if (co_step_pg_open(ctx, pgl_publisher(ctx, role), &pubc, &err) != CO_OK)
        goto fail;
    params[0] = n.slot;
    if (pg_exec(pubc, "dropping the replication slot",
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                " WHERE slot_name = $1 AND NOT active",
                1, params, NULL, &err) != CO_OK)
        goto fail;
    pg_sql_addf(&q, pubc, "DROP PUBLICATION IF EXISTS %I", n.pub);
    if (pg_sql_run(pubc, "dropping the publication", &q, &err) != CO_OK)
        goto fail;
    if (strcmp(role, "main") == 0) {
        json_t *restored = json_array();
        co_status rc = pgl_restore_replica_identity(ctx, pubc, restored, &err);
        if (json_array_size(restored))
            json_object_set(ctx->outputs, "replica_identity_restored", restored);
        json_decref(restored);
        if (rc != CO_OK)
            goto fail;
    }
    if (pgl_exists(pubc, "checking the slot is gone", pgl_objects[PGL_SLOT].sql, n.slot,
                   &err) > 0) {
        /* the walsender of the dropped subscription is still exiting */
        co_verdict_set(v, CO_VERDICT_WAIT, 500, NULL);
    } else {
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    }
    goto out;
fail:
    co_verdict_from_error(v, "deleting the task", &err);
out:
    pg_sql_free(&q);
    pg_conn_close(subc);
    pg_conn_close(pubc);
}

static json_t *endpoint_id(const co_resource *ep)
{
    return ep->id[0] ? json_string(ep->id) : json_null();
}

/* One left-behind item whose removal is a psql script: the name is not
 * spliced into the SQL but given as the psql variable `name`, which the
 * script uses as :"name" (psql quotes it with PQescapeIdentifier) or :'name'
 * (PQescapeLiteral). The operator runs it with
 * psql -v name=<name> -f - (the script on standard input). */
static void add_left(json_t *items, const char *kind, const char *name, json_t *endpoint,
                     const char *script)
{
    json_array_append_new(items, json_pack("{s:s, s:s, s:o, s:s, s:{s:s}}", "kind", kind,
                                           "name", name, "endpoint_id", endpoint, "remove",
                                           script, "psql_variables", "name", name));
}

/* What a clean-up that gave up leaves behind, each with the psql script an
 * operator runs to remove it (never executed here: no connection needed). */
static void pgl_left_behind(co_step_ctx *ctx, const char *role, json_t *items)
{
    pgl_names n;
    pgl_names_make(ctx, role, &n);
    add_left(items, "subscription", n.sub, endpoint_id(pgl_subscriber(ctx, role)),
             "ALTER SUBSCRIPTION :\"name\" DISABLE;"
             " ALTER SUBSCRIPTION :\"name\" SET (slot_name = NONE);"
             " DROP SUBSCRIPTION :\"name\";");
    add_left(items, "replication_slot", n.slot, endpoint_id(pgl_publisher(ctx, role)),
             "SELECT pg_drop_replication_slot(:'name');");
    add_left(items, "publication", n.pub, endpoint_id(pgl_publisher(ctx, role)),
             "DROP PUBLICATION :\"name\";");
}

const co_engine co_pg_logical_engine = {
    .name = "pg-logical",
    CO_ENGINE_OPS(pgl),
    .validate_task = pgl_validate_task,
};
