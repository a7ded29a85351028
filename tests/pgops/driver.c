/* driver.c - pgops-driver: every pg/ operation as a subcommand, for the
 * integration tests (tests/integration/test_pg_ops.py).
 *
 * Usage: pgops-driver <command> < request.json
 * The request is one JSON object on stdin; "conn" is a connection spec as
 * understood by pg_conn_spec_from_json. The answer is one JSON object on
 * stdout:
 *   {"status":"ok"|<co_status name>,"message":str,"sqlstate":str,
 *    "fields":[{"pointer","reason"}],"result":{...}}
 * "result" carries the operation's artifacts (capture, script, reports),
 * also when the operation failed but produced a report. Exit status: 0 for
 * ok, 2 for an operation error, 1 for a usage error.
 *
 * Commands: connect exec prepare_target capture_take capture_drop
 * capture_script restore_constraints enable_triggers read_sequences
 * reset_sequences apply_script copy_schema link_remote create_view
 * create_final_table load_final ongoing_sync validate.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_capture.h"
#include "pg/pg_chunks.h"
#include "pg/pg_conn.h"
#include "pg/pg_schema.h"
#include "pg/pg_scope.h"
#include "pg/pg_sequences.h"
#include "pg/pg_viewmig.h"
#include "core/status.h"

typedef co_status (*command_fn)(const json_t *req, PGconn *conn, json_t *result,
                                co_error *err);

/* Progress events recorded into result["progress"]. */
static void record_progress(void *user, const char *object, size_t done, size_t total)
{
    json_t *list = user;
    json_array_append_new(list, json_pack("{s:s, s:I, s:I}", "object", object, "done",
                                          (json_int_t)done, "total", (json_int_t)total));
}

static co_status set_owned(json_t *result, const char *key, json_t *value)
{
    if (value)
        json_object_set_new(result, key, value);
    return CO_OK;
}

static co_status cmd_connect(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    (void)req;
    (void)err;
    json_object_set_new(result, "server_version", json_integer(PQserverVersion(conn)));
    return CO_OK;
}

static co_status cmd_exec(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    const json_t *jp = json_object_get(req, "params"), *v;
    const char *sql = json_string_value(json_object_get(req, "sql"));
    const char *params[32];
    PGresult *res = NULL;
    json_t *rows;
    size_t i;
    int r, c;
    co_status rc;

    if (!sql)
        return co_error_field(err, "/sql", "is required");
    if (json_array_size(jp) > 32)
        return co_error_field(err, "/params", "at most 32");
    json_array_foreach(jp, i, v) params[i] = json_is_string(v) ? json_string_value(v) : NULL;
    rc = pg_exec(conn, "exec", sql, (int)json_array_size(jp), params, &res, err);
    if (rc != CO_OK)
        return rc;
    rows = json_array();
    for (r = 0; r < PQntuples(res); r++) {
        json_t *row = json_array();
        for (c = 0; c < PQnfields(res); c++) {
            const char *val = pg_res_get(res, r, c);
            json_array_append_new(row, val ? json_string(val) : json_null());
        }
        json_array_append_new(rows, row);
    }
    PQclear(res);
    return set_owned(result, "rows", rows);
}

static co_status with_scope(const json_t *req, pg_scope *scope, co_error *err)
{
    return pg_scope_from_json(json_object_get(req, "scope"), "/scope", scope, err);
}

static const json_t *previous_capture(const json_t *req)
{
    const json_t *p = json_object_get(req, "previous");
    return json_is_object(p) ? p : NULL;
}

static co_status cmd_prepare(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    pg_scope scope;
    json_t *cap = NULL;
    char *script = NULL;
    co_status rc = with_scope(req, &scope, err);
    if (rc != CO_OK)
        return rc;
    rc = pg_capture_prepare_target(conn, &scope, previous_capture(req), &cap, &script, err);
    pg_scope_clear(&scope);
    if (rc != CO_OK)
        return rc;
    set_owned(result, "capture", cap);
    set_owned(result, "script", json_string(script));
    free(script);
    return CO_OK;
}

static co_status cmd_take(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    pg_scope scope;
    json_t *cap = NULL;
    co_status rc = with_scope(req, &scope, err);
    if (rc != CO_OK)
        return rc;
    rc = pg_capture_take(conn, &scope, previous_capture(req), &cap, err);
    pg_scope_clear(&scope);
    return rc == CO_OK ? set_owned(result, "capture", cap) : rc;
}

static co_status cmd_drop(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    (void)result;
    return pg_capture_drop(conn, json_object_get(req, "capture"), err);
}

static co_status cmd_script(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    const json_t *parts = json_object_get(req, "parts"), *v;
    unsigned mask = 0;
    size_t i;
    char *script;
    json_array_foreach(parts, i, v) {
        const char *p = json_string_value(v);
        if (p && !strcmp(p, "restore"))
            mask |= PG_SCRIPT_RESTORE;
        else if (p && !strcmp(p, "triggers"))
            mask |= PG_SCRIPT_TRIGGERS;
        else if (p && !strcmp(p, "drop"))
            mask |= PG_SCRIPT_DROP;
    }
    if (!mask)
        mask = PG_SCRIPT_ALL;
    script = pg_capture_script_new(conn, json_object_get(req, "capture"), mask, err);
    if (!script)
        return err->status;
    set_owned(result, "script", json_string(script));
    free(script);
    return CO_OK;
}

static co_status cmd_restore(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    json_t *progress = json_array(), *report = NULL;
    pg_restore_opts opts = {
        .concurrently = json_is_true(json_object_get(req, "concurrently")),
        .progress = record_progress,
        .progress_user = progress,
    };
    co_status rc = pg_capture_restore_constraints(conn, json_object_get(req, "capture"), &opts,
                                                  &report, err);
    set_owned(result, "report", report);
    set_owned(result, "progress", progress);
    return rc;
}

static co_status cmd_triggers(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    json_t *report = NULL;
    co_status rc = pg_capture_enable_triggers(conn, json_object_get(req, "capture"), &report,
                                              err);
    set_owned(result, "report", report);
    return rc;
}

static co_status cmd_read_seq(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    pg_scope scope;
    json_t *out = NULL;
    co_status rc = with_scope(req, &scope, err);
    if (rc != CO_OK)
        return rc;
    rc = pg_sequences_read_last_values(conn, &scope, &out, err);
    pg_scope_clear(&scope);
    return rc == CO_OK ? set_owned(result, "last_values", out) : rc;
}

static co_status cmd_reset_seq(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    pg_scope scope;
    json_t *report = NULL;
    const json_t *gap = json_object_get(req, "gap");
    pg_seq_opts opts = {
        .gap = json_is_integer(gap) ? json_integer_value(gap) : -1,
        .source_last_values = json_object_get(req, "source_last_values"),
    };
    co_status rc = with_scope(req, &scope, err);
    if (rc != CO_OK)
        return rc;
    rc = pg_sequences_reset(conn, &scope, &opts, &report, err);
    pg_scope_clear(&scope);
    set_owned(result, "report", report);
    return rc;
}

static co_status cmd_apply(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    json_t *report = NULL;
    pg_apply_opts opts = {
        .if_not_exists_schemas = json_is_true(json_object_get(req, "if_not_exists_schemas")),
    };
    const char *script = json_string_value(json_object_get(req, "script"));
    co_status rc;
    if (!script)
        return co_error_field(err, "/script", "is required");
    rc = pg_schema_apply_script(conn, script, &opts, &report, err);
    set_owned(result, "report", report);
    return rc;
}

static co_status cmd_copy(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    pg_conn_spec src;
    const json_t *schemas = json_object_get(req, "schemas"), *v;
    const char *names[64];
    json_t *report = NULL;
    size_t i;
    co_status rc;

    if ((rc = pg_conn_spec_from_json(json_object_get(req, "source"), "/source", &src, err)))
        return rc;
    if (!json_is_array(schemas) || json_array_size(schemas) > 64)
        return co_error_field(err, "/schemas", "must be an array (at most 64)");
    json_array_foreach(schemas, i, v) names[i] = json_string_value(v);
    rc = pg_schema_copy(&src, conn, names, json_array_size(schemas),
                        json_string_value(json_object_get(req, "pg_dump")), &report, err);
    set_owned(result, "report", report);
    return rc;
}

static co_status cmd_link(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    pg_fdw_link link;
    json_t *report = NULL;
    co_status rc = pg_fdw_link_from_json(json_object_get(req, "link"), "/link", &link, err);
    if (rc != CO_OK)
        return rc;
    rc = pg_viewmig_link_remote(conn, &link, &report, err);
    pg_fdw_link_clear(&link);
    set_owned(result, "report", report);
    return rc;
}

static co_status cmd_view(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    pg_view_spec spec;
    char *sql = NULL;
    co_status rc = pg_view_spec_from_json(json_object_get(req, "view"), "/view", &spec, err);
    if (rc != CO_OK)
        return rc;
    rc = pg_viewmig_create_view(conn, &spec, &sql, err);
    pg_view_spec_clear(&spec);
    if (sql)
        set_owned(result, "sql", json_string(sql));
    free(sql);
    return rc;
}

static co_status cmd_final(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    pg_final_spec spec;
    json_t *report = NULL;
    co_status rc = pg_final_spec_from_json(json_object_get(req, "final"), "/final", &spec, err);
    if (rc != CO_OK)
        return rc;
    rc = pg_viewmig_create_final_table(conn, &spec, &report, err);
    pg_final_spec_clear(&spec);
    set_owned(result, "report", report);
    return rc;
}

static co_status cmd_load(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    pg_final_spec spec;
    json_t *report = NULL, *progress = json_array();
    const json_t *br = json_object_get(req, "batch_rows");
    pg_load_opts opts = {
        .batch_rows = json_is_integer(br) ? (long)json_integer_value(br) : 0,
        .update_existing = json_is_true(json_object_get(req, "update_existing")),
        .prune = json_is_true(json_object_get(req, "prune")),
        .progress = record_progress,
        .progress_user = progress,
    };
    co_status rc = pg_final_spec_from_json(json_object_get(req, "final"), "/final", &spec, err);
    if (rc != CO_OK) {
        json_decref(progress);
        return rc;
    }
    rc = pg_viewmig_load_final(conn, &spec, &opts, &report, err);
    pg_final_spec_clear(&spec);
    set_owned(result, "report", report);
    set_owned(result, "progress", progress);
    return rc;
}

static co_status cmd_sync(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    pg_view_spec view;
    pg_final_spec final;
    json_t *report = NULL;
    const json_t *en = json_object_get(req, "enable");
    co_status rc = pg_view_spec_from_json(json_object_get(req, "view"), "/view", &view, err);
    if (rc != CO_OK)
        return rc;
    rc = pg_final_spec_from_json(json_object_get(req, "final"), "/final", &final, err);
    if (rc == CO_OK) {
        rc = pg_viewmig_ongoing_sync(conn, &view, &final, en ? json_is_true(en) : true,
                                     &report, err);
        pg_final_spec_clear(&final);
    }
    pg_view_spec_clear(&view);
    set_owned(result, "report", report);
    return rc;
}

static co_status cmd_validate(const json_t *req, PGconn *conn, json_t *result, co_error *err)
{
    pg_final_spec spec;
    json_t *report = NULL;
    const json_t *mk = json_object_get(req, "max_keys");
    co_status rc = pg_final_spec_from_json(json_object_get(req, "final"), "/final", &spec, err);
    if (rc != CO_OK)
        return rc;
    rc = pg_viewmig_validate(conn, &spec, json_is_integer(mk) ? (size_t)json_integer_value(mk) : 20,
                             &report, err);
    pg_final_spec_clear(&spec);
    set_owned(result, "report", report);
    return rc;
}

/* {"table": {schema, name, keys, types}, "lo", "hi"} -> {rows, sum, lsn}
 * of pg_chunk_range (pg_chunks.h). */
static co_status cmd_chunk_range(const json_t *req, PGconn *conn, json_t *result,
                                 co_error *err)
{
    pg_chunk_fp fp;
    co_status rc = pg_chunks_session(conn, err);
    if (rc == CO_OK)
        rc = pg_chunk_range(conn, json_object_get(req, "table"), json_object_get(req, "lo"),
                            json_object_get(req, "hi"), &fp, err);
    if (rc == CO_OK) {
        json_object_set_new(result, "rows", json_integer(fp.rows));
        json_object_set_new(result, "sum", json_string(fp.sum));
        json_object_set_new(result, "lsn", json_string(fp.lsn));
    }
    return rc;
}

static const struct {
    const char *name;
    command_fn fn;
} commands[] = {
    {"chunk_range", cmd_chunk_range},
    {"connect", cmd_connect},
    {"exec", cmd_exec},
    {"prepare_target", cmd_prepare},
    {"capture_take", cmd_take},
    {"capture_drop", cmd_drop},
    {"capture_script", cmd_script},
    {"restore_constraints", cmd_restore},
    {"enable_triggers", cmd_triggers},
    {"read_sequences", cmd_read_seq},
    {"reset_sequences", cmd_reset_seq},
    {"apply_script", cmd_apply},
    {"copy_schema", cmd_copy},
    {"link_remote", cmd_link},
    {"create_view", cmd_view},
    {"create_final_table", cmd_final},
    {"load_final", cmd_load},
    {"ongoing_sync", cmd_sync},
    {"validate", cmd_validate},
};

static int answer(co_status rc, const co_error *err, json_t *result)
{
    json_t *out = json_object(), *fields = json_array();
    size_t i;
    for (i = 0; rc != CO_OK && i < err->nfields; i++)
        json_array_append_new(fields, json_pack("{s:s, s:s}", "pointer", err->fields[i].pointer,
                                                "reason", err->fields[i].reason));
    json_object_set_new(out, "status", json_string(co_status_str(rc)));
    json_object_set_new(out, "message", json_string(rc == CO_OK ? "" : err->message));
    json_object_set_new(out, "sqlstate", json_string(rc == CO_OK ? "" : err->sqlstate));
    json_object_set_new(out, "fields", fields);
    json_object_set(out, "result", result);
    json_dumpf(out, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
    fputc('\n', stdout);
    json_decref(out);
    return rc == CO_OK ? 0 : 2;
}

int main(int argc, char **argv)
{
    json_error_t jerr;
    json_t *req, *result;
    co_error err;
    pg_conn_spec spec;
    PGconn *conn = NULL;
    command_fn fn = NULL;
    co_status rc;
    size_t i;
    int code;

    if (argc != 2) {
        fprintf(stderr, "usage: %s <command> < request.json\n", argv[0]);
        return 1;
    }
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            fn = commands[i].fn;
    if (!fn) {
        fprintf(stderr, "unknown command %s\n", argv[1]);
        return 1;
    }
    req = json_loadf(stdin, 0, &jerr);
    if (!json_is_object(req)) {
        fprintf(stderr, "request: %s (line %d)\n", jerr.text, jerr.line);
        return 1;
    }
    co_error_clear(&err);
    result = json_object();
    rc = pg_conn_spec_from_json(json_object_get(req, "conn"), "/conn", &spec, &err);
    if (rc == CO_OK)
        rc = pg_conn_open(&spec, &conn, &err);
    if (rc == CO_OK)
        rc = fn(req, conn, result, &err);
    code = answer(rc, &err, result);
    pg_conn_close(conn);
    json_decref(result);
    json_decref(req);
    return code;
}
