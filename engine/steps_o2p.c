/* steps_o2p.c - the steps of the oracle-to-postgres plan (AWS's eight
 * steps). See steps.h. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/awsdms.h"
#include "engine/pglogical.h"
#include "engine/steps.h"
#include "engine/steps_pg.h"
#include "core/validate.h"
#include "pg/pg_capture.h"
#include "pg/pg_schema.h"
#include "pg/pg_scope.h"
#include "pg/pg_sequences.h"
#include "pg/pg_sql.h"
#include "core/log.h"

#define NEED_OP(ctx, v, op)                                                          \
    do {                                                                             \
        if (!(ctx)->engine || !(ctx)->engine->op) {                                  \
            co_verdict_set((v), CO_VERDICT_FAIL, 0, "engine %s cannot %s",           \
                           (ctx)->run->engine, #op);                                 \
            return;                                                                  \
        }                                                                            \
    } while (0)

void co_step_progress(co_step_ctx *ctx, const char *object, size_t done, size_t total)
{
    co_step_notify(ctx, "step.progress",
                   json_pack("{s:s, s:I, s:I, s:f}", "object", object ? object : "", "done",
                             (json_int_t)done, "total", (json_int_t)total, "percent",
                             total ? 100.0 * (double)done / (double)total : 100.0));
}

static void progress_cb(void *user, const char *object, size_t done, size_t total)
{
    co_step_progress(user, object, done, total);
}

static bool source_is_postgres(const co_step_ctx *ctx)
{
    const char *e = v_str(ctx->source.doc, "engine");
    return e && strcmp(e, "postgres") == 0;
}

/* The run's scope: {"schemas": parameters.schemas}. */
static co_status run_scope(co_step_ctx *ctx, json_t **holder, pg_scope *scope, co_error *err)
{
    *holder = json_pack("{s:O}", "schemas", json_object_get(ctx->run->params, "schemas"));
    return pg_scope_from_json(*holder, "/parameters", scope, err);
}

static const json_t *output_of(const co_step_ctx *ctx, const char *step, const char *key)
{
    return json_object_get(json_object_get(ctx->all_outputs, step), key);
}

/* The capture prepare_target stored (borrowed), or NULL with v failed:
 * "prepare_target left no <missing>". */
static const json_t *capture_or_fail(const co_step_ctx *ctx, const char *missing,
                                     co_verdict *v)
{
    const json_t *capture = output_of(ctx, "prepare_target", "capture");
    if (!capture)
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "prepare_target left no %s", missing);
    return capture;
}

static void artifact(co_step_ctx *ctx, const char *name, const char *ctype, const char *text,
                     co_verdict *v)
{
    co_error err;
    co_error_clear(&err);
    if (co_step_artifact(ctx, name, ctype, text, strlen(text), &err) != CO_OK)
        co_verdict_from_error(v, "storing an artifact", &err);
}

/* ---------------------------------------------------------- steps 1 to 4 */

void co_step_preflight(co_step_ctx *ctx, co_verdict *v)
{
    PGconn *c = NULL;
    co_error err;
    co_error_clear(&err);
    if (co_step_pg_open(ctx, &ctx->target, &c, &err) != CO_OK) {
        co_verdict_from_error(v, "connecting to the target", &err);
        return;
    }
    pg_conn_close(c);
    if (ctx->engine && ctx->engine->preflight) {
        ctx->engine->preflight(ctx, v);
        return;
    }
    co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
}

/* The run's table mappings: those of its task resource, else one include
 * rule per schema of the schemas parameter. New reference, NULL if none. */
static json_t *run_mappings_new(co_step_ctx *ctx)
{
    const char *task_id = co_param_str(ctx, "task_id", NULL);
    json_t *mappings = NULL;
    co_resource task;
    co_error err;
    co_error_clear(&err);
    memset(&task, 0, sizeof task);
    if (task_id && co_res_get(ctx->app->store, CO_KIND_TASK, task_id, &task, &err) == CO_OK)
        mappings = json_incref(json_object_get(task.doc, "table_mappings"));
    co_resource_clear(&task);
    return mappings ? mappings
                    : co_awsdms_default_mappings_new(json_object_get(ctx->run->params,
                                                                     "schemas"));
}

/* Builds script (taking the run's mappings) and stores it as artifact
 * name; v set on failure (FAIL or RETRY), untouched otherwise. */
static void oracle_artifact(co_step_ctx *ctx, const char *name,
                            char *(*build)(co_step_ctx *ctx, const json_t *mappings),
                            co_verdict *v)
{
    json_t *mappings = run_mappings_new(ctx);
    char *script = build(ctx, mappings);
    json_decref(mappings);
    if (!script) {
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "cannot build %s", name);
        return;
    }
    artifact(ctx, name, "text/plain", script, v);
    free(script);
}

static char *prereq_script(co_step_ctx *ctx, const json_t *mappings)
{
    return co_oracle_prereq_script_new(ctx->source.doc, mappings,
                                       v_str(ctx->source.doc, "username"));
}

static char *quiesce_script(co_step_ctx *ctx, const json_t *mappings)
{
    return co_oracle_quiesce_script_new(ctx->source.doc, mappings,
                                        v_str(ctx->source.doc, "username"));
}

static char *triggers_script(co_step_ctx *ctx, const json_t *mappings)
{
    return co_oracle_rollback_triggers_script_new(ctx->source.doc, mappings);
}

void co_step_configure_source(co_step_ctx *ctx, co_verdict *v)
{
    if (!source_is_postgres(ctx)) {
        /* Oracle: the prerequisite script is run by a DBA, then approved. */
        if (json_is_true(json_object_get(ctx->outputs, "script_stored"))) {
            co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
            return;
        }
        co_verdict_set(v, CO_VERDICT_GATE, 0, NULL);
        oracle_artifact(ctx, "oracle_prerequisites.sql", prereq_script, v);
        if (v->kind == CO_VERDICT_FAIL || v->kind == CO_VERDICT_RETRY)
            return;
        json_object_set_new(ctx->outputs, "script_stored", json_true());
        return;
    }
    /* PostgreSQL source: verify what logical replication needs. */
    {
        json_t *findings = json_array();
        co_error err;
        static const char script[] =
            "-- PostgreSQL source prerequisites for logical replication\n"
            "ALTER SYSTEM SET wal_level = logical;          -- needs a restart\n"
            "ALTER SYSTEM SET max_replication_slots = 10;\n"
            "ALTER SYSTEM SET max_wal_senders = 10;\n"
            "-- the migration role: ALTER ROLE <user> WITH REPLICATION;\n";
        co_error_clear(&err);
        artifact(ctx, "source_prerequisites.sql", "text/plain", script, v);
        if (v->kind == CO_VERDICT_RETRY || v->kind == CO_VERDICT_FAIL) {
            json_decref(findings);
            return;
        }
        if (strcmp(ctx->run->engine, "pg-logical") == 0 &&
            co_pgl_check(ctx, findings, &err) != CO_OK) {
            co_verdict_from_error(v, "checking the source", &err);
        } else if (json_array_size(findings)) {
            char *text = json_dumps(findings, JSON_COMPACT);
            json_object_set(ctx->outputs, "findings", findings);
            co_verdict_set(v, CO_VERDICT_FAIL, 0, "the source is not ready: %s", text ? text : "");
            free(text);
        } else {
            co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        }
        json_decref(findings);
    }
}

/* Runs trusted SQL text built with pg_sql (identifiers escaped). */
static co_status run_built(PGconn *c, pg_sql *q, const char *what, co_error *err)
{
    co_status rc = pg_sql_run(c, what, q, err);
    pg_sql_free(q);
    return rc;
}

/* The migration role (parameter migration_role): created NOLOGIN if absent,
 * with USAGE and CREATE on each schema, all privileges on its tables and
 * sequences, and the same by default for objects created later. */
static co_status grant_role(PGconn *c, const char *role, const char *schema, co_error *err)
{
    static const char *const grants[][2] = {
        {"GRANT USAGE, CREATE ON SCHEMA ", " TO "},
        {"GRANT ALL ON ALL TABLES IN SCHEMA ", " TO "},
        {"GRANT ALL ON ALL SEQUENCES IN SCHEMA ", " TO "},
        {"ALTER DEFAULT PRIVILEGES IN SCHEMA ", " GRANT ALL ON TABLES TO "},
        {"ALTER DEFAULT PRIVILEGES IN SCHEMA ", " GRANT ALL ON SEQUENCES TO "},
    };
    co_status rc = CO_OK;
    for (size_t i = 0; rc == CO_OK && i < sizeof grants / sizeof grants[0]; i++) {
        pg_sql q;
        pg_sql_init(&q);
        pg_sql_add(&q, grants[i][0]);
        pg_sql_ident(&q, c, schema);
        pg_sql_add(&q, grants[i][1]);
        pg_sql_ident(&q, c, role);
        rc = run_built(c, &q, "granting the migration role", err);
    }
    return rc;
}

void co_step_configure_target(co_step_ctx *ctx, co_verdict *v)
{
    PGconn *c = NULL;
    json_t *schemas = json_object_get(ctx->run->params, "schemas"), *s;
    const char *role = co_param_str(ctx, "migration_role", NULL);
    co_error err;
    co_status rc = CO_OK;
    size_t i;
    co_error_clear(&err);
    if (co_step_pg_open(ctx, &ctx->target, &c, &err) != CO_OK) {
        co_verdict_from_error(v, "connecting to the target", &err);
        return;
    }
    if (role) {
        const char *params[1] = {role};
        PGresult *res = NULL;
        rc = pg_exec(c, "looking for the migration role",
                     "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, params, &res, &err);
        if (rc == CO_OK && PQntuples(res) == 0) {
            pg_sql q;
            pg_sql_init(&q);
            pg_sql_add(&q, "CREATE ROLE ");
            pg_sql_ident(&q, c, role);
            pg_sql_add(&q, " NOLOGIN");
            rc = run_built(c, &q, "creating the migration role", &err);
        }
        PQclear(res);
    }
    json_array_foreach(schemas, i, s) {
        pg_sql q;
        if (rc != CO_OK)
            break;
        pg_sql_init(&q);
        pg_sql_add(&q, "CREATE SCHEMA IF NOT EXISTS ");
        pg_sql_ident(&q, c, json_string_value(s));
        rc = run_built(c, &q, "creating a schema", &err);
        if (rc == CO_OK && role)
            rc = grant_role(c, role, json_string_value(s), &err);
    }
    pg_conn_close(c);
    if (rc != CO_OK)
        co_verdict_from_error(v, "configuring the target", &err);
    else
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
}

static void convert_from_script(co_step_ctx *ctx, PGconn *c, const char *script,
                                co_verdict *v)
{
    pg_apply_opts opts = {.if_not_exists_schemas = true};
    json_t *report = NULL;
    co_error err;
    co_error_clear(&err);
    if (pg_schema_apply_script(c, script, &opts, &report, &err) != CO_OK) {
        co_verdict_from_error(v, "applying the converted schema", &err);
        if (report)
            json_object_set(ctx->outputs, "error_report", report);
    } else {
        json_object_set(ctx->outputs, "report", report);
        json_object_set_new(ctx->outputs, "applied", json_true());
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    }
    json_decref(report);
}

void co_step_convert_schema(co_step_ctx *ctx, co_verdict *v)
{
    PGconn *c = NULL;
    const char *script = co_param_str(ctx, "converted_schema_sql", NULL);
    co_error err;

    /* Applying DDL is atomic but not idempotent: once applied, done. */
    if (json_is_true(json_object_get(ctx->outputs, "applied"))) {
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        return;
    }
    co_error_clear(&err);
    if (!script && !source_is_postgres(ctx)) {
        co_verdict_set(v, CO_VERDICT_FAIL, 0,
                       "an Oracle source needs the converted schema: pass it as "
                       "parameters.converted_schema_sql");
        return;
    }
    if (co_step_pg_open(ctx, &ctx->target, &c, &err) != CO_OK) {
        co_verdict_from_error(v, "connecting to the target", &err);
        return;
    }
    if (script) {
        convert_from_script(ctx, c, script, v);
    } else {
        /* PostgreSQL source: the whole schema of the selected schemas via pg_dump */
        json_t *schemas = json_object_get(ctx->run->params, "schemas"), *s, *report = NULL;
        const char *names[64];
        size_t i, n = 0;
        char *password = NULL;
        pg_conn_spec spec;
        json_array_foreach(schemas, i, s)
            if (n < 64)
                names[n++] = json_string_value(s);
        if (co_step_password(ctx, &ctx->source, &password, &err) != CO_OK) {
            co_verdict_from_error(v, "reading the source password", &err);
            pg_conn_close(c);
            return;
        }
        pg_conn_spec_from_endpoint(ctx->source.doc, password, &spec);
        spec.run_id = ctx->run->id;
        if (pg_schema_copy(&spec, c, names, n, NULL, &report, &err) != CO_OK) {
            co_verdict_from_error(v, "copying the schema from the source", &err);
        } else {
            json_object_set(ctx->outputs, "report", report);
            json_object_set_new(ctx->outputs, "applied", json_true());
            co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        }
        json_decref(report);
        OPENSSL_cleanse(password, strlen(password));
        free(password);
    }
    pg_conn_close(c);
}

/* --------------------------------------------------------- steps 5 and 6 */

void co_step_create_replication_instance(co_step_ctx *ctx, co_verdict *v)
{
    NEED_OP(ctx, v, ensure_instance);
    ctx->engine->ensure_instance(ctx, v);
}

void co_step_create_endpoints(co_step_ctx *ctx, co_verdict *v)
{
    NEED_OP(ctx, v, ensure_endpoints);
    ctx->engine->ensure_endpoints(ctx, v);
}

/* ---------------------------------------------------------------- step 7 */

void co_step_prepare_target(co_step_ctx *ctx, co_verdict *v)
{
    PGconn *c = NULL;
    json_t *holder = NULL, *capture = NULL;
    pg_scope scope;
    co_error err;
    char *script = NULL;

    co_error_clear(&err);
    memset(&scope, 0, sizeof scope);
    if (run_scope(ctx, &holder, &scope, &err) != CO_OK ||
        co_step_pg_open(ctx, &ctx->target, &c, &err) != CO_OK) {
        co_verdict_from_error(v, "preparing the target", &err);
        goto out;
    }
    if (!json_object_get(ctx->outputs, "capture")) {
        /* Phase 1: capture and persist before anything is dropped. */
        if (pg_capture_take(c, &scope, NULL, &capture, &err) != CO_OK) {
            co_verdict_from_error(v, "capturing constraints", &err);
            goto out;
        }
        if (!(script = pg_capture_script_new(c, capture, PG_SCRIPT_ALL, &err))) {
            co_verdict_from_error(v, "writing the restore script", &err);
            goto out;
        }
        artifact(ctx, "prepare_target.sql", "text/plain", script, v);
        if (v->kind == CO_VERDICT_FAIL || v->kind == CO_VERDICT_RETRY)
            goto out;
        {
            char *text = json_dumps(capture, JSON_INDENT(2));
            if (text) {
                artifact(ctx, "capture.json", "application/json", text, v);
                free(text);
            }
            if (v->kind == CO_VERDICT_FAIL || v->kind == CO_VERDICT_RETRY)
                goto out;
        }
        json_object_set(ctx->outputs, "capture", capture);
        co_verdict_set(v, CO_VERDICT_WAIT, 1, NULL); /* persist, then drop */
        goto out;
    }
    /* Phase 2: drop FKs and secondary indexes, disable user triggers. */
    if (pg_capture_drop(c, json_object_get(ctx->outputs, "capture"), &err) != CO_OK) {
        co_verdict_from_error(v, "dropping constraints", &err);
        goto out;
    }
    co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
out:
    free(script);
    json_decref(capture);
    pg_scope_clear(&scope);
    json_decref(holder);
    pg_conn_close(c);
}

/* Engine task phases kept in outputs.phase: ensure -> start -> await. */
void co_step_engine_task(co_step_ctx *ctx, const char *role, bool start_fresh,
                         co_verdict *v)
{
    const char *phase = v_str(ctx->outputs, "phase");
    if (!phase)
        phase = "ensure";
    NEED_OP(ctx, v, ensure_task);
    NEED_OP(ctx, v, start_task);
    NEED_OP(ctx, v, await_full_load);
    if (strcmp(phase, "ensure") == 0) {
        ctx->engine->ensure_task(ctx, role, v);
        if (v->kind != CO_VERDICT_DONE)
            return;
        json_object_set_new(ctx->outputs, "phase", json_string("start"));
        phase = "start";
    }
    if (strcmp(phase, "start") == 0) {
        ctx->engine->start_task(ctx, role,
                                start_fresh ? CO_TASK_START_REPLICATION
                                            : CO_TASK_RESUME_PROCESSING, v);
        if (v->kind != CO_VERDICT_DONE)
            return;
        json_object_set_new(ctx->outputs, "phase", json_string("await"));
        /* a start that copied the data itself (pg-logical's snapshot copy)
         * is read at once; a started task is polled from half a second on */
        if (!json_object_get(ctx->outputs, "full_load_copy")) {
            co_verdict_set(v, CO_VERDICT_WAIT, 500, NULL);
            return;
        }
    }
    ctx->engine->await_full_load(ctx, role, v);
}

void co_step_full_load(co_step_ctx *ctx, co_verdict *v)
{
    co_step_engine_task(ctx, "main", true, v);
}

void co_step_restore_constraints(co_step_ctx *ctx, co_verdict *v)
{
    PGconn *c = NULL;
    json_t *report = NULL;
    const json_t *capture = capture_or_fail(ctx, "capture to restore", v);
    pg_restore_opts opts = {.concurrently = co_param_bool(ctx, "create_indexes_concurrently",
                                                          false),
                            .progress = progress_cb,
                            .progress_user = ctx};
    PGconn *more[PG_RESTORE_MAX_JOBS];
    long jobs = co_param_int(ctx, "restore_jobs", sysconf(_SC_NPROCESSORS_ONLN));
    co_error err;
    co_error_clear(&err);
    if (!capture)
        return;
    if (co_step_pg_open(ctx, &ctx->target, &c, &err) != CO_OK ||
        co_step_pg_restore_session(ctx, c, &err) != CO_OK) {
        co_verdict_from_error(v, "connecting to the target", &err);
        pg_conn_close(c);
        return;
    }
    /* restore_jobs connections in all (default: this host's cores) */
    while (jobs > 1 && opts.nmore < PG_RESTORE_MAX_JOBS && opts.nmore + 1 < (size_t)jobs) {
        PGconn *m = NULL;
        if (co_step_pg_open(ctx, &ctx->target, &m, &err) != CO_OK ||
            co_step_pg_restore_session(ctx, m, &err) != CO_OK) {
            pg_conn_close(m);
            co_error_clear(&err); /* fewer jobs, same work */
            break;
        }
        more[opts.nmore++] = m;
    }
    opts.more = more;
    if (pg_capture_restore_constraints(c, capture, &opts, &report, &err) != CO_OK)
        co_verdict_from_error(v, "restoring constraints", &err);
    else
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    if (report) {
        char *text = json_dumps(report, JSON_INDENT(2));
        json_object_set(ctx->outputs, "report", report);
        if (text) {
            co_verdict prev = *v;
            artifact(ctx, "restore_constraints.json", "application/json", text, v);
            if (v->kind == CO_VERDICT_DONE)
                *v = prev;
            free(text);
        }
        json_decref(report);
    }
    for (size_t i = 0; i < opts.nmore; i++)
        pg_conn_close(more[i]);
    pg_conn_close(c);
}

void co_step_resume_cdc(co_step_ctx *ctx, co_verdict *v)
{
    NEED_OP(ctx, v, start_task);
    ctx->engine->start_task(ctx, "main", CO_TASK_RESUME_PROCESSING, v);
}

/* Continuous validation runs where the engine has one, for PostgreSQL
 * sources, unless validate_tables is false. */
bool co_step_continuous_validation(const co_step_ctx *ctx)
{
    return ctx->engine && ctx->engine->validate_task && source_is_postgres(ctx) &&
           co_param_bool(ctx, "validate_tables", true);
}

void co_step_await_cdc_sync(co_step_ctx *ctx, co_verdict *v)
{
    NEED_OP(ctx, v, await_cdc_latency);
    /* validate from the end of the full load; then CDC must have caught up */
    if (co_step_continuous_validation(ctx)) {
        ctx->engine->validate_task(ctx, "main", false, v);
        if (v->kind != CO_VERDICT_DONE)
            return;
    }
    ctx->engine->await_cdc_latency(
        ctx, "main", (double)co_param_int(ctx, "cdc_latency_threshold_seconds", 5), v);
    if (v->kind != CO_VERDICT_DONE || source_is_postgres(ctx) ||
        json_is_true(json_object_get(ctx->outputs, "gate_scripts_stored")))
        return;
    /* Oracle source: what the DBA runs at the cutover gate */
    oracle_artifact(ctx, "oracle_quiesce_check.sql", quiesce_script, v);
    if (v->kind == CO_VERDICT_DONE && co_param_bool(ctx, "rollback_task", false))
        oracle_artifact(ctx, "oracle_rollback_triggers.sql", triggers_script, v);
    if (v->kind == CO_VERDICT_DONE)
        json_object_set_new(ctx->outputs, "gate_scripts_stored", json_true());
}

/* ---------------------------------------------------------------- step 8 */

/* Count and an order-independent checksum (sum of the first 64 bits of each
 * row's md5) of every table of the run's schemas, as {"schema.table":
 * {"rows": n, "checksum": "..."}}. */
static co_status table_fingerprints(co_step_ctx *ctx, const co_resource *ep,
                                    json_t **out, co_error *err)
{
    /* $1: the schemas as a JSON array */
    static const char tables_sql[] =
        "SELECT n.nspname, c.relname FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
        " AND n.nspname IN (SELECT jsonb_array_elements_text($1::jsonb))"
        " ORDER BY 1, 2";
    PGconn *c = NULL;
    PGresult *tabs = NULL;
    json_t *schemas = json_object_get(ctx->run->params, "schemas");
    char *list = json_dumps(schemas, JSON_COMPACT);
    const char *params[1] = {list};
    co_status rc;

    *out = json_object();
    if ((rc = co_step_pg_open(ctx, ep, &c, err)) != CO_OK)
        goto out;
    rc = pg_exec(c, "listing tables", tables_sql, 1, params, &tabs, err);
    for (int r = 0; rc == CO_OK && r < PQntuples(tabs); r++) {
        pg_sql q;
        char key[300];
        PGresult *res = NULL;
        pg_sql_init(&q);
        pg_sql_add(&q, "SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 16))"
                       "::bit(64)::bigint), 0)::text FROM ");
        pg_sql_qname(&q, c, PQgetvalue(tabs, r, 0), PQgetvalue(tabs, r, 1));
        pg_sql_add(&q, " t");
        rc = pg_sql_query(c, "fingerprinting a table", &q, &res, err);
        if (rc == CO_OK) {
            snprintf(key, sizeof key, "%s.%s", PQgetvalue(tabs, r, 0), PQgetvalue(tabs, r, 1));
            json_object_set_new(*out, key,
                                json_pack("{s:I, s:s}", "rows",
                                          (json_int_t)atoll(PQgetvalue(res, 0, 0)),
                                          "checksum", PQgetvalue(res, 0, 1)));
        }
        PQclear(res);
        pg_sql_free(&q);
    }
out:
    PQclear(tabs);
    pg_conn_close(c);
    free(list);
    return rc;
}

/* Compares every table of source and target (PostgreSQL sources) and stores
 * the report as the artifact validation.json; a difference fails. */
static void validate_tables(co_step_ctx *ctx, co_verdict *v)
{
    json_t *a = NULL, *b = NULL, *tables = json_object(), *report;
    /* tables left out by tables_without_key: exclude are listed, not compared */
    json_t *excluded = json_object_get(output_of(ctx, "full_load", "main"), "excluded");
    const char *key;
    json_t *val;
    co_error err;
    int mismatches = 0;
    char *text;

    co_error_clear(&err);
    if (table_fingerprints(ctx, &ctx->source, &a, &err) != CO_OK ||
        table_fingerprints(ctx, &ctx->target, &b, &err) != CO_OK) {
        co_verdict_from_error(v, "validating the tables", &err);
        goto out;
    }
    json_object_foreach(a, key, val) {
        json_t *other = json_object_get(b, key), *ex;
        bool same = other && json_equal(val, other), skip = false;
        size_t k;
        json_array_foreach(excluded, k, ex)
            skip = skip || !strcmp(json_string_value(ex), key);
        if (skip)
            continue;
        mismatches += !same;
        json_object_set_new(tables, key, json_pack("{s:O, s:O, s:b}", "source", val,
                                                   "target", other ? other : json_null(),
                                                   "match", same));
    }
    report = json_pack("{s:s, s:b, s:i, s:o, s:o}", "final_validation", "full", "match",
                       mismatches == 0, "mismatches", mismatches, "tables", tables,
                       "excluded", excluded ? json_incref(excluded) : json_array());
    tables = NULL;
    text = json_dumps(report, JSON_INDENT(2));
    artifact(ctx, "validation.json", "application/json", text ? text : "{}", v);
    free(text);
    json_object_set_new(ctx->outputs, "validation",
                        json_pack("{s:b, s:i}", "match", mismatches == 0, "mismatches",
                                  mismatches));
    json_decref(report);
    if (v->kind == CO_VERDICT_RETRY || v->kind == CO_VERDICT_FAIL)
        goto out;
    if (mismatches)
        co_verdict_set(v, CO_VERDICT_FAIL, 0,
                       "%d tables differ between source and target (see validation.json)",
                       mismatches);
    else
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
out:
    json_decref(tables);
    json_decref(a);
    json_decref(b);
}

/* final_validation "changed": the engine validates what changed since its
 * continuous validation; the result is stored as validation.json. */
static void final_changed(co_step_ctx *ctx, co_verdict *v)
{
    json_t *st, *report, *tables, *val;
    const char *key;
    char *text;
    ctx->engine->validate_task(ctx, "main", true, v);
    if (v->kind != CO_VERDICT_DONE && v->kind != CO_VERDICT_FAIL)
        return;
    st = json_object_get(ctx->outputs, "validation");
    tables = json_deep_copy(json_object_get(st, "progress"));
    json_object_foreach(tables, key, val)
        json_object_set_new(val, "match", json_boolean(json_integer_value(
                                              json_object_get(val, "mismatches")) == 0));
    report = json_pack("{s:s, s:b, s:I, s:O*, s:o*, s:O*}", "final_validation", "changed",
                       "match", v->kind == CO_VERDICT_DONE, "mismatches",
                       (json_int_t)json_array_size(json_object_get(st, "mismatches")),
                       "changed_keys_validated", json_object_get(st, "changed_keys_validated"),
                       "tables", tables, "mismatch_details", json_object_get(st, "mismatches"));
    if (report) { /* tables left out by tables_without_key: exclude */
        json_t *ex = json_object_get(output_of(ctx, "full_load", "main"), "excluded");
        json_object_set_new(report, "excluded", ex ? json_incref(ex) : json_array());
    }
    text = report ? json_dumps(report, JSON_INDENT(2)) : NULL;
    json_decref(report);
    if (text) {
        co_verdict prev = *v;
        artifact(ctx, "validation.json", "application/json", text, v);
        if (v->kind == CO_VERDICT_DONE)
            *v = prev;
        free(text);
    }
}

void co_step_final_sync(co_step_ctx *ctx, co_verdict *v)
{
    NEED_OP(ctx, v, await_cdc_latency);
    if (!json_is_true(json_object_get(ctx->outputs, "synced"))) {
        ctx->engine->await_cdc_latency(ctx, "main", 0, v);
        if (v->kind != CO_VERDICT_DONE)
            return;
        json_object_set_new(ctx->outputs, "synced", json_true());
    }
    /* schema unchanged, large objects, materialized views */
    co_step_cutover_objects(ctx, v);
    if (v->kind != CO_VERDICT_DONE)
        return;
    /* With a PostgreSQL source, prove it: what changed since the continuous
     * validation (changed), or counts and checksums of every table (full,
     * and changed where the engine has no continuous validation). */
    const char *mode = co_param_str(ctx, "final_validation", "changed");
    if (!source_is_postgres(ctx) || !co_param_bool(ctx, "validate_tables", true) ||
        strcmp(mode, "none") == 0)
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    else if (strcmp(mode, "changed") == 0 && co_step_continuous_validation(ctx))
        final_changed(ctx, v);
    else
        validate_tables(ctx, v);
}

void co_step_stop_task(co_step_ctx *ctx, co_verdict *v)
{
    NEED_OP(ctx, v, stop_task);
    NEED_OP(ctx, v, delete_task);
    if (!json_is_true(json_object_get(ctx->outputs, "stopped"))) {
        ctx->engine->stop_task(ctx, "main", v);
        if (v->kind != CO_VERDICT_DONE)
            return;
        json_object_set_new(ctx->outputs, "stopped", json_true());
    }
    ctx->engine->delete_task(ctx, "main", v);
}

void co_step_enable_triggers(co_step_ctx *ctx, co_verdict *v)
{
    PGconn *c = NULL;
    json_t *report = NULL;
    const json_t *capture = capture_or_fail(ctx, "trigger states", v);
    co_error err;
    co_error_clear(&err);
    if (!capture)
        return;
    if (co_step_pg_open(ctx, &ctx->target, &c, &err) != CO_OK ||
        pg_capture_enable_triggers(c, capture, &report, &err) != CO_OK)
        co_verdict_from_error(v, "enabling triggers", &err);
    else
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    if (report)
        json_object_set_new(ctx->outputs, "report", report);
    pg_conn_close(c);
}

void co_step_reset_sequences(co_step_ctx *ctx, co_verdict *v)
{
    PGconn *c = NULL, *src = NULL;
    json_t *holder = NULL, *last = NULL, *report = NULL;
    pg_scope scope;
    pg_seq_opts opts;
    co_error err;
    co_error_clear(&err);
    memset(&scope, 0, sizeof scope);
    opts.gap = co_param_int(ctx, "sequence_gap", 1000);
    opts.source_last_values = NULL;
    if (run_scope(ctx, &holder, &scope, &err) != CO_OK)
        goto fail;
    if (source_is_postgres(ctx)) {
        if (co_step_pg_open(ctx, &ctx->source, &src, &err) != CO_OK ||
            pg_sequences_read_last_values(src, &scope, &last, &err) != CO_OK)
            goto fail;
        opts.source_last_values = last;
    }
    if (co_step_pg_open(ctx, &ctx->target, &c, &err) != CO_OK ||
        pg_sequences_reset(c, &scope, &opts, &report, &err) != CO_OK)
        goto fail;
    json_object_set_new(ctx->outputs, "report", report);
    report = NULL;
    co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    goto out;
fail:
    co_verdict_from_error(v, "resetting sequences", &err);
out:
    json_decref(report);
    json_decref(last);
    json_decref(holder);
    pg_scope_clear(&scope);
    pg_conn_close(c);
    pg_conn_close(src);
}

void co_step_rollback_task(co_step_ctx *ctx, co_verdict *v)
{
    const char *phase = v_str(ctx->outputs, "phase");
    NEED_OP(ctx, v, ensure_task);
    NEED_OP(ctx, v, start_task);
    if (!phase) {
        ctx->engine->ensure_task(ctx, "rollback", v);
        if (v->kind != CO_VERDICT_DONE)
            return;
        json_object_set_new(ctx->outputs, "phase", json_string("start"));
    }
    ctx->engine->start_task(ctx, "rollback", CO_TASK_START_REPLICATION, v);
}
