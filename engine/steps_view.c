/* steps_view.c - the steps of the view-migration plan (two-stage migration
 * through a cross-database view). See steps.h.
 *
 * Parameters (engine/params.c): source_table {schema, name} staged into
 * staging_schema on the target; remote_endpoint_id and remote_table
 * {schema, name} in the second database, imported as a foreign table into
 * foreign_schema; view {schema, name, join, keys, columns}; final_table
 * {schema, name, key}; batch_size; ongoing_sync.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/awsdms.h"
#include "engine/steps.h"
#include "engine/steps_pg.h"
#include "core/validate.h"
#include "pg/pg_sql.h"
#include "pg/pg_viewmig.h"
#include "core/log.h"

static const char *pstr(const co_step_ctx *ctx, const char *obj, const char *key)
{
    return v_str(json_object_get(ctx->run->params, obj), key);
}

/* {"schema","name"} of the staged table on the target. */
static json_t *staged_rel(const co_step_ctx *ctx)
{
    return json_pack("{s:s, s:s}", "schema", co_param_str(ctx, "staging_schema", "staging"),
                     "name", pstr(ctx, "source_table", "name"));
}

static json_t *foreign_rel(const co_step_ctx *ctx)
{
    return json_pack("{s:s, s:s}", "schema", co_param_str(ctx, "foreign_schema", "remote"),
                     "name", pstr(ctx, "remote_table", "name"));
}

/* pg_viewmig's view shape built from the run parameters (new reference). */
static json_t *view_json(const co_step_ctx *ctx)
{
    json_t *view = json_object_get(ctx->run->params, "view");
    return json_pack("{s:{s:s, s:s}, s:o, s:o, s:s, s:O, s:O}", "view", "schema",
                     v_str(view, "schema") ? v_str(view, "schema") : "public", "name",
                     v_str(view, "name"), "left", staged_rel(ctx), "right", foreign_rel(ctx),
                     "join", v_str(view, "join") ? v_str(view, "join") : "inner", "keys",
                     json_object_get(view, "keys"), "columns",
                     json_object_get(view, "columns"));
}

static json_t *final_json(const co_step_ctx *ctx)
{
    json_t *view = json_object_get(ctx->run->params, "view");
    json_t *final = json_object_get(ctx->run->params, "final_table");
    return json_pack("{s:{s:s, s:s}, s:{s:s, s:s}, s:O}", "table", "schema",
                     v_str(final, "schema") ? v_str(final, "schema") : "public", "name",
                     v_str(final, "name"), "view", "schema",
                     v_str(view, "schema") ? v_str(view, "schema") : "public", "name",
                     v_str(view, "name"), "key", json_object_get(final, "key"));
}

static void progress_cb(void *user, const char *object, size_t done, size_t total)
{
    co_step_progress(user, object, done, total);
}

/* Creates the staging table on the target from the source's catalog
 * (columns, types, NOT NULL, primary key) if it is absent. Logical
 * replication needs the table to exist on the subscriber. */
static co_status create_staging_table(co_step_ctx *ctx, co_error *err)
{
    PGconn *src = NULL, *tgt = NULL;
    PGresult *res = NULL;
    const char *params[2] = {pstr(ctx, "source_table", "schema"),
                             pstr(ctx, "source_table", "name")};
    pg_sql q;
    co_status rc;

    if ((rc = co_step_pg_open(ctx, &ctx->source, &src, err)) != CO_OK)
        return rc;
    rc = pg_exec(src, "reading the source table's columns",
                 "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
                 " coalesce(a.attnum = ANY (i.indkey), false)"
                 " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
                 " JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary"
                 " WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0"
                 " AND NOT a.attisdropped ORDER BY a.attnum",
                 2, params, &res, err);
    pg_conn_close(src);
    if (rc != CO_OK)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return co_error_set(err, CO_ERR_REMOTE, "source table %s.%s does not exist",
                            params[0], params[1]);
    }
    if ((rc = co_step_pg_open(ctx, &ctx->target, &tgt, err)) != CO_OK) {
        PQclear(res);
        return rc;
    }
    pg_sql_init(&q);
    pg_sql_addf(&q, tgt, "CREATE SCHEMA IF NOT EXISTS %I; CREATE TABLE IF NOT EXISTS %Q (",
                co_param_str(ctx, "staging_schema", "staging"),
                co_param_str(ctx, "staging_schema", "staging"), params[1]);
    for (int r = 0; r < PQntuples(res); r++)
        /* format_type() output is a type name produced by the server */
        pg_sql_addf(&q, tgt, "%s%I %s%s", r ? ", " : "", PQgetvalue(res, r, 0),
                    PQgetvalue(res, r, 1),
                    strcmp(PQgetvalue(res, r, 2), "t") == 0 ? " NOT NULL" : "");
    {
        int first = 1;
        for (int r = 0; r < PQntuples(res); r++) {
            if (strcmp(PQgetvalue(res, r, 3), "t") != 0)
                continue;
            pg_sql_add(&q, first ? ", PRIMARY KEY (" : ", ");
            pg_sql_ident(&q, tgt, PQgetvalue(res, r, 0));
            first = 0;
        }
        if (!first)
            pg_sql_add(&q, ")");
    }
    pg_sql_add(&q, ")");
    PQclear(res);
    rc = pg_sql_run(tgt, "creating the staging table", &q, err);
    pg_sql_free(&q);
    pg_conn_close(tgt);
    return rc;
}

void co_step_view_configure_source(co_step_ctx *ctx, co_verdict *v)
{
    const char *engine = v_str(ctx->source.doc, "engine");
    char *script;
    co_error err;

    if (strcmp(ctx->run->engine, "aws-dms") != 0 || !engine || strcmp(engine, "oracle") != 0 ||
        json_is_true(json_object_get(ctx->outputs, "script_stored"))) {
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        return;
    }
    script = co_oracle_view_logging_script_new(ctx->source.doc,
                                               pstr(ctx, "source_table", "schema"),
                                               pstr(ctx, "source_table", "name"));
    if (!script) {
        co_verdict_set(v, CO_VERDICT_FAIL, 0,
                       "cannot build oracle_view_supplemental_logging.sql");
        return;
    }
    co_error_clear(&err);
    if (co_step_artifact(ctx, "oracle_view_supplemental_logging.sql", "text/plain", script,
                         strlen(script), &err) != CO_OK) {
        co_verdict_from_error(v, "storing an artifact", &err);
    } else {
        json_object_set_new(ctx->outputs, "script_stored", json_true());
        co_verdict_set(v, CO_VERDICT_GATE, 0, NULL);
    }
    free(script);
}

void co_step_stage_load(co_step_ctx *ctx, co_verdict *v)
{
    co_error err;
    co_error_clear(&err);
    if (strcmp(ctx->run->engine, "pg-logical") == 0 &&
        !json_is_true(json_object_get(ctx->outputs, "staging_table"))) {
        if (create_staging_table(ctx, &err) != CO_OK) {
            co_verdict_from_error(v, "creating the staging table", &err);
            return;
        }
        json_object_set_new(ctx->outputs, "staging_table", json_true());
    }
    co_step_engine_task(ctx, "stage", true, v);
}

void co_step_link_remote(co_step_ctx *ctx, co_verdict *v)
{
    co_resource remote;
    PGconn *c = NULL;
    json_t *obj = NULL, *report = NULL;
    pg_fdw_link link;
    char *password = NULL, server[64];
    const char *suffix = strchr(ctx->run->id, '_');
    co_error err;

    co_error_clear(&err);
    memset(&link, 0, sizeof link);
    memset(&remote, 0, sizeof remote);
    snprintf(server, sizeof server, "cutover_%s", suffix ? suffix + 1 : ctx->run->id);
    if (co_step_endpoint(ctx, "remote_endpoint_id", &remote, &err) != CO_OK ||
        co_step_password(ctx, &remote, &password, &err) != CO_OK)
        goto fail;
    obj = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:[s], s:s}", "server", server,
                    "host", v_str(remote.doc, "host"), "port",
                    json_integer_value(json_object_get(remote.doc, "port")), "dbname",
                    v_str(remote.doc, "database"), "user", v_str(remote.doc, "username"),
                    "password", password, "remote_schema",
                    pstr(ctx, "remote_table", "schema"), "tables",
                    pstr(ctx, "remote_table", "name"), "local_schema",
                    co_param_str(ctx, "foreign_schema", "remote"));
    if (!obj || pg_fdw_link_from_json(obj, "/parameters", &link, &err) != CO_OK ||
        co_step_pg_open(ctx, &ctx->target, &c, &err) != CO_OK ||
        pg_viewmig_link_remote(c, &link, &report, &err) != CO_OK)
        goto fail;
    json_object_set_new(ctx->outputs, "report", report);
    json_object_set_new(ctx->outputs, "server", json_string(server));
    co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    goto out;
fail:
    json_decref(report);
    co_verdict_from_error(v, "linking the remote table", &err);
out:
    pg_fdw_link_clear(&link);
    if (obj) {
        json_object_del(obj, "password");
        json_decref(obj);
    }
    if (password) {
        OPENSSL_cleanse(password, strlen(password));
        free(password);
    }
    co_resource_clear(&remote);
    pg_conn_close(c);
}

void co_step_create_view(co_step_ctx *ctx, co_verdict *v)
{
    PGconn *c = NULL;
    json_t *obj = view_json(ctx);
    pg_view_spec spec;
    char *sql = NULL;
    co_error err;
    co_error_clear(&err);
    memset(&spec, 0, sizeof spec);
    if (!obj || pg_view_spec_from_json(obj, "/parameters/view", &spec, &err) != CO_OK ||
        co_step_pg_open(ctx, &ctx->target, &c, &err) != CO_OK ||
        pg_viewmig_create_view(c, &spec, &sql, &err) != CO_OK) {
        co_verdict_from_error(v, "creating the view", &err);
    } else {
        co_error aerr;
        co_error_clear(&aerr);
        if (co_step_artifact(ctx, "create_view.sql", "text/plain", sql, strlen(sql), &aerr) != CO_OK)
            co_verdict_from_error(v, "storing the view's SQL", &aerr);
        else
            co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    }
    free(sql);
    pg_view_spec_clear(&spec);
    json_decref(obj);
    pg_conn_close(c);
}

/* What the final-table steps share: the final table's spec from the run's
 * parameters and a connection to the target. */
typedef struct final_job {
    json_t *obj; /* holds the strings spec borrows */
    pg_final_spec spec;
    PGconn *c;
    co_error err;
} final_job;

/* Parses the spec and connects; false with j->err set on failure. */
static bool final_begin(co_step_ctx *ctx, final_job *j)
{
    memset(j, 0, sizeof *j);
    co_error_clear(&j->err);
    j->obj = final_json(ctx);
    if (!j->obj) {
        co_error_set(&j->err, CO_ERR_NOMEM, "out of memory");
        return false;
    }
    return pg_final_spec_from_json(j->obj, "/parameters/final_table", &j->spec, &j->err) ==
               CO_OK &&
           co_step_pg_open(ctx, &ctx->target, &j->c, &j->err) == CO_OK;
}

/* Sets the verdict from rc (keeping report in the outputs when done) and
 * releases the job. report is consumed. */
static void final_end(co_step_ctx *ctx, final_job *j, co_status rc, json_t *report,
                      const char *what, co_verdict *v)
{
    if (rc != CO_OK || j->err.status != CO_OK) {
        co_verdict_from_error(v, what, &j->err);
    } else {
        json_object_set(ctx->outputs, "report", report);
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    }
    json_decref(report);
    pg_final_spec_clear(&j->spec);
    json_decref(j->obj);
    pg_conn_close(j->c);
}

void co_step_create_final_table(co_step_ctx *ctx, co_verdict *v)
{
    final_job j;
    json_t *report = NULL;
    co_status rc = final_begin(ctx, &j)
                       ? pg_viewmig_create_final_table(j.c, &j.spec, &report, &j.err)
                       : j.err.status;
    final_end(ctx, &j, rc, report, "creating the final table", v);
}

void co_step_load_final(co_step_ctx *ctx, co_verdict *v)
{
    final_job j;
    json_t *report = NULL;
    pg_load_opts opts = {.batch_rows = (long)co_param_int(ctx, "batch_size", 10000),
                         .update_existing = true,
                         .prune = false,
                         .progress = progress_cb,
                         .progress_user = ctx};
    co_status rc = final_begin(ctx, &j)
                       ? pg_viewmig_load_final(j.c, &j.spec, &opts, &report, &j.err)
                       : j.err.status;
    final_end(ctx, &j, rc, report, "loading the final table", v);
}

void co_step_ongoing_sync(co_step_ctx *ctx, co_verdict *v)
{
    PGconn *c = NULL;
    json_t *vobj = view_json(ctx), *fobj = final_json(ctx), *report = NULL;
    pg_view_spec view;
    pg_final_spec final;
    co_error err;
    co_error_clear(&err);
    memset(&view, 0, sizeof view);
    memset(&final, 0, sizeof final);
    if (!vobj || !fobj ||
        pg_view_spec_from_json(vobj, "/parameters/view", &view, &err) != CO_OK ||
        pg_final_spec_from_json(fobj, "/parameters/final_table", &final, &err) != CO_OK ||
        co_step_pg_open(ctx, &ctx->target, &c, &err) != CO_OK ||
        pg_viewmig_ongoing_sync(c, &view, &final, true, &report, &err) != CO_OK) {
        co_verdict_from_error(v, "installing the sync trigger", &err);
    } else {
        json_object_set(ctx->outputs, "report", report);
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    }
    json_decref(report);
    pg_view_spec_clear(&view);
    pg_final_spec_clear(&final);
    json_decref(vobj);
    json_decref(fobj);
    pg_conn_close(c);
}

void co_step_validate(co_step_ctx *ctx, co_verdict *v)
{
    PGconn *c = NULL;
    json_t *obj = final_json(ctx), *report = NULL;
    pg_final_spec spec;
    co_error err;

    if (json_is_true(json_object_get(ctx->outputs, "matched"))) {
        /* validated; without ongoing sync the staging task is not needed */
        if (!co_param_bool(ctx, "ongoing_sync", false) && ctx->engine &&
            ctx->engine->delete_task && !ctx->engine->run_step)
            ctx->engine->delete_task(ctx, "stage", v);
        else
            co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        json_decref(obj);
        return;
    }
    co_error_clear(&err);
    memset(&spec, 0, sizeof spec);
    if (!obj || pg_final_spec_from_json(obj, "/parameters/final_table", &spec, &err) != CO_OK ||
        co_step_pg_open(ctx, &ctx->target, &c, &err) != CO_OK ||
        pg_viewmig_validate(c, &spec, 20, &report, &err) != CO_OK) {
        co_verdict_from_error(v, "validating", &err);
        goto out;
    }
    {
        char *text = json_dumps(report, JSON_INDENT(2));
        co_error aerr;
        co_error_clear(&aerr);
        json_object_set(ctx->outputs, "report", report);
        if (!text ||
            co_step_artifact(ctx, "validation.json", "application/json", text, strlen(text),
                             &aerr) != CO_OK) {
            co_verdict_from_error(v, "storing the validation report", &aerr);
            free(text);
            goto out;
        }
        if (!json_is_true(json_object_get(report, "match"))) {
            char *compact = json_dumps(report, JSON_COMPACT);
            co_verdict_set(v, CO_VERDICT_FAIL, 0, "validation found differences: %.900s",
                           compact ? compact : "");
            free(compact);
        } else {
            json_object_set_new(ctx->outputs, "matched", json_true());
            co_verdict_set(v, CO_VERDICT_WAIT, 1, NULL); /* persist, then clean up */
        }
        free(text);
    }
out:
    json_decref(report);
    pg_final_spec_clear(&spec);
    json_decref(obj);
    pg_conn_close(c);
}
