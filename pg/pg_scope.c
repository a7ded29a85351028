/* pg_scope.c - see pg_scope.h. */
#include "pg/pg_scope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_conn.h"

char *pg_scope_param_new(const pg_scope *scope, co_error *err)
{
    json_t *root = NULL, *schemas = NULL, *tables = NULL;
    char *text = NULL;
    size_t i;

    if (!scope || scope->nschemas == 0) {
        co_error_set(err, CO_ERR_INVALID, "at least one schema is required");
        return NULL;
    }
    root = json_object();
    schemas = json_array();
    tables = json_array();
    if (!root || !schemas || !tables)
        goto nomem;
    for (i = 0; i < scope->nschemas; i++) {
        if (!scope->schemas[i] || !*scope->schemas[i]) {
            co_error_set(err, CO_ERR_INVALID, "schema names must not be empty");
            goto fail;
        }
        if (json_array_append_new(schemas, json_string(scope->schemas[i])))
            goto nomem;
    }
    for (i = 0; i < scope->ntables; i++) {
        json_t *t;
        if (!scope->tables[i].name || !*scope->tables[i].name) {
            co_error_set(err, CO_ERR_INVALID, "table names must not be empty");
            goto fail;
        }
        t = json_pack("{s:s}", "name", scope->tables[i].name);
        if (!t)
            goto nomem;
        if (scope->tables[i].schema &&
            json_object_set_new(t, "schema", json_string(scope->tables[i].schema))) {
            json_decref(t);
            goto nomem;
        }
        if (json_array_append_new(tables, t))
            goto nomem;
    }
    if (json_object_set(root, "schemas", schemas) ||
        json_object_set(root, "tables", tables))
        goto nomem;
    text = json_dumps(root, JSON_COMPACT);
    if (!text)
        goto nomem;
    goto done;
nomem:
    co_error_set(err, CO_ERR_NOMEM, "out of memory building the scope");
fail:
    text = NULL;
done:
    json_decref(schemas);
    json_decref(tables);
    json_decref(root);
    return text;
}

co_status pg_scope_from_json(const json_t *obj, const char *pointer,
                             pg_scope *out, co_error *err)
{
    const json_t *schemas, *tables, *v;
    const char **names = NULL;
    pg_relname *rels = NULL;
    char ptr[160];
    size_t i;
    co_status rc = CO_OK;

    memset(out, 0, sizeof *out);
    if (!pointer)
        pointer = "";
    schemas = json_object_get(obj, "schemas");
    tables = json_object_get(obj, "tables");
    if (!json_is_array(schemas) || json_array_size(schemas) == 0) {
        snprintf(ptr, sizeof ptr, "%s/schemas", pointer);
        return co_error_field(err, ptr, "must be a non-empty array of schema names");
    }
    if (tables && !json_is_null(tables) && !json_is_array(tables)) {
        snprintf(ptr, sizeof ptr, "%s/tables", pointer);
        return co_error_field(err, ptr, "must be an array");
    }
    names = calloc(json_array_size(schemas), sizeof *names);
    rels = calloc(json_array_size(tables) + 1, sizeof *rels);
    if (!names || !rels) {
        free(names);
        free(rels);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    json_array_foreach(schemas, i, v) {
        if (!json_is_string(v) || !*json_string_value(v)) {
            snprintf(ptr, sizeof ptr, "%s/schemas/%zu", pointer, i);
            rc = co_error_field(err, ptr, "must be a non-empty string");
            continue;
        }
        names[i] = json_string_value(v);
    }
    json_array_foreach(tables, i, v) {
        const char *s = NULL, *n = NULL;
        if (json_is_string(v)) {
            n = json_string_value(v);
        } else if (json_is_object(v)) {
            const json_t *js = json_object_get(v, "schema");
            const json_t *jn = json_object_get(v, "name");
            s = json_is_string(js) ? json_string_value(js) : NULL;
            n = json_is_string(jn) ? json_string_value(jn) : NULL;
        }
        if (!n || !*n) {
            snprintf(ptr, sizeof ptr, "%s/tables/%zu", pointer, i);
            rc = co_error_field(err, ptr, "must be a table name or {\"schema\",\"name\"}");
            continue;
        }
        rels[i].schema = s;
        rels[i].name = n;
    }
    if (rc != CO_OK) {
        free(names);
        free(rels);
        return rc;
    }
    out->schemas = names;
    out->nschemas = json_array_size(schemas);
    out->tables = rels;
    out->ntables = json_array_size(tables);
    return CO_OK;
}

void pg_scope_clear(pg_scope *scope)
{
    if (!scope)
        return;
    free((void *)scope->schemas);
    free((void *)scope->tables);
    memset(scope, 0, sizeof *scope);
}

co_status pg_scope_check(PGconn *conn, const pg_scope *scope, co_error *err)
{
    static const char sql[] =
        "SELECT s FROM jsonb_array_elements_text($1::jsonb -> 'schemas') s"
        " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n"
        "                   WHERE n.nspname = s) LIMIT 1";
    char *param = pg_scope_param_new(scope, err);
    const char *params[1];
    PGresult *res = NULL;
    co_status rc;

    if (!param)
        return err ? err->status : CO_ERR_INVALID;
    params[0] = param;
    rc = pg_exec(conn, "check schemas", sql, 1, params, &res, err);
    if (rc == CO_OK && PQntuples(res) > 0)
        rc = co_error_set(err, CO_ERR_NOT_FOUND, "schema %s does not exist",
                          PQgetvalue(res, 0, 0));
    PQclear(res);
    free(param);
    return rc;
}
