/* pg_cutover.c - see pg_cutover.h. */
#include "pg/pg_cutover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_conn.h"
#include "pg/pg_sql.h"

/* {"a","b"} -> the text array literal for a text[] parameter (malloc'd). */
static char *text_array(const json_t *names)
{
    size_t i, n = 3;
    const json_t *s;
    char *out, *p;
    json_array_foreach(names, i, s)
        n += 2 * json_string_length(s) + 4;
    if (!(out = malloc(n)))
        return NULL;
    p = out;
    *p++ = '{';
    json_array_foreach(names, i, s) {
        const char *v = json_string_value(s);
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (; v && *v; v++) {
            if (*v == '"' || *v == '\\')
                *p++ = '\\';
            *p++ = *v;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

/* Handles row r of res for rows_in_schemas, adding to acc. */
typedef co_status (*row_fn)(PGconn *c, PGresult *res, int r, json_t *acc, co_error *err);

/* Runs sql with $1 the text[] of the names in the JSON array schemas and
 * hands each row to row, which adds to acc (a new JSON value, stolen; NULL
 * when it could not be made), until one fails. acc goes to *out (optional)
 * when all went well and is released otherwise. Errors: CO_ERR_NOMEM, see
 * pg_conn_fail, those of row. */
static co_status rows_in_schemas(PGconn *c, const char *what, const char *sql,
                                 const json_t *schemas, row_fn row, json_t *acc, json_t **out,
                                 co_error *err)
{
    char *arr = acc ? text_array(schemas) : NULL;
    const char *params[1] = {arr};
    PGresult *res = NULL;
    co_status rc;
    if (!arr) {
        json_decref(acc);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    rc = pg_exec(c, what, sql, 1, params, &res, err);
    free(arr);
    for (int r = 0; rc == CO_OK && r < PQntuples(res); r++)
        rc = row(c, res, r, acc, err);
    PQclear(res);
    if (rc == CO_OK && out)
        *out = acc;
    else
        json_decref(acc);
    return rc;
}

/* A row of the fingerprint query: table, kind ('c' column, 'k' constraint,
 * 't' table), name, definition. */
static co_status fingerprint_row(PGconn *c, PGresult *res, int r, json_t *fp, co_error *err)
{
    const char *table = PQgetvalue(res, r, 0), *kind = PQgetvalue(res, r, 1);
    json_t *e = json_object_get(fp, table);
    (void)c;
    (void)err;
    if (!e) {
        e = json_pack("{s:{}, s:{}}", "columns", "constraints");
        json_object_set_new(fp, table, e);
    }
    if (*kind != 't')
        json_object_set_new(json_object_get(e, *kind == 'c' ? "columns" : "constraints"),
                            PQgetvalue(res, r, 2), json_string(PQgetvalue(res, r, 3)));
    return CO_OK;
}

co_status pg_schema_fingerprint(PGconn *c, const json_t *schemas, json_t **out, co_error *err)
{
    static const char sql[] =
        "SELECT n.nspname || '.' || c.relname, 'c', a.attname,"
        " format_type(a.atttypid, a.atttypmod)"
        "   || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END"
        " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p')"
        " AND a.attnum > 0 AND NOT a.attisdropped"
        " UNION ALL"
        " SELECT n.nspname || '.' || c.relname, 'k', k.conname,"
        " pg_get_constraintdef(k.oid)"
        " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p')"
        " AND k.contype IN ('p', 'u', 'c', 'f', 'x')"
        " UNION ALL"
        " SELECT n.nspname || '.' || c.relname, 't', '', ''"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p')";
    *out = NULL;
    return rows_in_schemas(c, "reading the schema fingerprint", sql, schemas, fingerprint_row,
                           json_object(), out, err);
}

static void diff_add(json_t *d, const char *table, const char *object, const json_t *a,
                     const json_t *b)
{
    json_array_append_new(d, json_pack("{s:s, s:s, s:O, s:O}", "table", table, "object",
                                       object, "source", a ? a : json_null(), "target",
                                       b ? b : json_null()));
}

static void diff_members(json_t *d, const char *table, const char *what, const json_t *a,
                         const json_t *b)
{
    const char *key;
    json_t *v;
    char object[400];
    json_object_foreach((json_t *)a, key, v) {
        const json_t *w = json_object_get(b, key);
        if (!w || !json_equal(v, w)) {
            snprintf(object, sizeof object, "%s %s", what, key);
            diff_add(d, table, object, v, w);
        }
    }
    json_object_foreach((json_t *)b, key, v) {
        if (!json_object_get(a, key)) {
            snprintf(object, sizeof object, "%s %s", what, key);
            diff_add(d, table, object, NULL, v);
        }
    }
}

json_t *pg_schema_fingerprint_diff(const json_t *source, const json_t *target)
{
    json_t *d = json_array(), *v;
    const char *table;
    json_object_foreach((json_t *)source, table, v) {
        const json_t *w = json_object_get(target, table);
        if (!w) {
            diff_add(d, table, "table", json_string("present"), NULL);
            continue;
        }
        diff_members(d, table, "column", json_object_get(v, "columns"),
                     json_object_get(w, "columns"));
        diff_members(d, table, "constraint", json_object_get(v, "constraints"),
                     json_object_get(w, "constraints"));
    }
    json_object_foreach((json_t *)target, table, v)
        if (!json_object_get(source, table))
            diff_add(d, table, "table", NULL, json_string("present"));
    return d;
}

co_status pg_large_objects_copy(PGconn *src, PGconn *dst, json_t **report_out, co_error *err)
{
    PGresult *list = NULL;
    long long bytes = 0;
    int n = 0;
    co_status rc;

    if (report_out)
        *report_out = NULL;
    rc = pg_exec(src, "listing large objects",
                 "SELECT oid::text FROM pg_catalog.pg_largeobject_metadata ORDER BY oid", 0,
                 NULL, &list, err);
    if (rc == CO_OK)
        rc = pg_begin(dst, err);
    if (rc != CO_OK) {
        PQclear(list);
        return rc;
    }
    n = PQntuples(list);
    for (int i = 0; rc == CO_OK && i < n; i++) {
        const char *oid = PQgetvalue(list, i, 0);
        const char *p1[1] = {oid};
        PGresult *data = PQexecParams(src, "SELECT lo_get($1::oid)", 1, NULL, p1, NULL, NULL, 1);
        if (!data || PQresultStatus(data) != PGRES_TUPLES_OK || PQntuples(data) != 1) {
            rc = pg_conn_fail(src, data, "reading a large object", err);
        } else {
            const char *p2[2] = {oid, PQgetvalue(data, 0, 0)};
            int lens[2] = {0, PQgetlength(data, 0, 0)}, fmts[2] = {0, 1};
            PGresult *w;
            bytes += lens[1];
            rc = pg_exec(dst, "replacing a large object",
                         "SELECT lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata"
                         " WHERE oid = $1::oid", 1, p1, NULL, err);
            if (rc == CO_OK) {
                w = PQexecParams(dst, "SELECT lo_from_bytea($1::oid, $2::bytea)", 2, NULL, p2,
                                 lens, fmts, 0);
                if (!w || PQresultStatus(w) != PGRES_TUPLES_OK) {
                    rc = pg_conn_fail(dst, w, "writing a large object", err);
                }
                PQclear(w);
            }
        }
        PQclear(data);
    }
    PQclear(list);
    if (rc != CO_OK) {
        pg_rollback(dst);
        return rc;
    }
    if ((rc = pg_commit(dst, err)) == CO_OK && report_out)
        *report_out = json_pack("{s:i, s:I}", "objects", n, "bytes", (json_int_t)bytes);
    return rc;
}

/* A row of the materialized view list: schema, name. Refreshes the view
 * and adds "schema.view" to done. */
static co_status refresh_row(PGconn *c, PGresult *res, int r, json_t *done, co_error *err)
{
    const char *schema = PQgetvalue(res, r, 0), *name = PQgetvalue(res, r, 1);
    pg_sql q;
    char what[300];
    co_status rc;
    pg_sql_init(&q);
    pg_sql_addf(&q, c, "REFRESH MATERIALIZED VIEW %Q", schema, name);
    snprintf(what, sizeof what, "refreshing %s.%s", schema, name);
    rc = pg_sql_run(c, what, &q, err);
    pg_sql_free(&q);
    if (rc == CO_OK)
        json_array_append_new(done, json_sprintf("%s.%s", schema, name));
    return rc;
}

co_status pg_matviews_refresh(PGconn *c, const json_t *schemas, json_t **report_out,
                              co_error *err)
{
    static const char sql[] = "SELECT n.nspname, c.relname FROM pg_class c"
                              " JOIN pg_namespace n ON n.oid = c.relnamespace"
                              " WHERE c.relkind = 'm' AND n.nspname = ANY ($1::text[])"
                              " ORDER BY c.oid";
    if (report_out)
        *report_out = NULL;
    return rows_in_schemas(c, "listing materialized views", sql, schemas, refresh_row,
                           json_array(), report_out, err);
}
