/* pg_chunks.c - see pg_chunks.h. */
#include "pg/pg_chunks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_conn.h"
#include "pg/pg_sql.h"

/* The per-row checksum term, the same as final_sync's full validation. */
#define ROW_HASH "('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint"

co_status pg_chunks_session(PGconn *conn, co_error *err)
{
    return pg_exec_simple(conn, "setting the validation session",
                          "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD';"
                          " SET IntervalStyle = 'postgres'; SET extra_float_digits = 1;"
                          " SET bytea_output = 'hex'",
                          NULL, err);
}

co_status pg_chunks_tables(PGconn *conn, const pg_scope *scope, json_t **out, co_error *err)
{
    static const char sql[] =
        "WITH " PG_SCOPE_TABLES_CTE
        " SELECT st.nspname, st.relname,"
        "  coalesce((SELECT json_agg(a.attname ORDER BY k.ord)"
        "   FROM pg_catalog.pg_index i"
        "   CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
        "   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        "   WHERE i.indrelid = st.oid AND i.indisprimary), '[]')::text,"
        "  coalesce((SELECT json_agg(pg_catalog.format_type(a.atttypid, a.atttypmod)"
        "    ORDER BY k.ord)"
        "   FROM pg_catalog.pg_index i"
        "   CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
        "   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        "   WHERE i.indrelid = st.oid AND i.indisprimary), '[]')::text,"
        "  greatest(c.reltuples, 0)::bigint"
        " FROM scope_tables st JOIN pg_catalog.pg_class c ON c.oid = st.oid"
        " WHERE NOT c.relispartition ORDER BY 1, 2";
    char *param = pg_scope_param_new(scope, err);
    const char *params[1] = {param};
    PGresult *res = NULL;
    co_status rc;

    *out = NULL;
    if (!param)
        return err ? err->status : CO_ERR_INVALID;
    rc = pg_exec(conn, "listing the tables to validate", sql, 1, params, &res, err);
    free(param);
    if (rc != CO_OK)
        return rc;
    *out = json_array();
    for (int r = 0; r < PQntuples(res); r++) {
        json_t *keys = json_loads(PQgetvalue(res, r, 2), 0, NULL);
        json_t *types = json_loads(PQgetvalue(res, r, 3), 0, NULL);
        if (!keys || !types) {
            json_decref(keys);
            json_decref(types);
            rc = co_error_set(err, CO_ERR_NOMEM, "reading the primary keys");
            break;
        }
        json_array_append_new(*out, json_pack("{s:s, s:s, s:o, s:o, s:I}", "schema",
                                              PQgetvalue(res, r, 0), "name",
                                              PQgetvalue(res, r, 1), "keys", keys, "types",
                                              types, "est_rows",
                                              (json_int_t)pg_res_int(res, r, 4, 0)));
    }
    PQclear(res);
    if (rc != CO_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* Number of key columns of a table description, or -1 if malformed. */
static int nkeys_of(const json_t *table)
{
    const json_t *keys = json_object_get(table, "keys");
    const json_t *types = json_object_get(table, "types");
    if (!json_is_array(keys) || !json_is_array(types) ||
        json_array_size(keys) != json_array_size(types) ||
        !json_is_string(json_object_get(table, "schema")) ||
        !json_is_string(json_object_get(table, "name")))
        return -1;
    for (size_t i = 0; i < json_array_size(keys); i++)
        if (!json_is_string(json_array_get(keys, i)) || !json_is_string(json_array_get(types, i)))
            return -1;
    return (int)json_array_size(keys);
}

static const char *key_at(const json_t *table, const char *what, int i)
{
    return json_string_value(json_array_get(json_object_get(table, what), (size_t)i));
}

static void add_table(pg_sql *q, PGconn *conn, const json_t *table)
{
    pg_sql_qname(q, conn, json_string_value(json_object_get(table, "schema")),
                 json_string_value(json_object_get(table, "name")));
    pg_sql_add(q, " t");
}

/* "(prefix"k0", prefix"k1")" - the key columns of a row. */
static void add_key_row(pg_sql *q, PGconn *conn, const json_t *table, int n,
                        const char *prefix)
{
    pg_sql_add(q, "(");
    for (int i = 0; i < n; i++) {
        pg_sql_add(q, i ? ", " : "");
        pg_sql_add(q, prefix);
        pg_sql_ident(q, conn, key_at(table, "keys", i));
    }
    pg_sql_add(q, ")");
}

/* "((src->>0)::type0, ...)" - a key tuple cast back to the key's types;
 * src is trusted SQL text such as "$1::jsonb" or "e.value". The types are
 * format_type() output of the server's own catalog. */
static void add_key_cast(pg_sql *q, const json_t *table, int n, const char *src)
{
    pg_sql_add(q, "(");
    for (int i = 0; i < n; i++) {
        pg_sql_add(q, i ? ", (" : "(");
        pg_sql_add(q, src);
        pg_sql_add(q, " ->> ");
        pg_sql_int(q, i);
        pg_sql_add(q, ")::");
        pg_sql_add(q, key_at(table, "types", i));
    }
    pg_sql_add(q, ")");
}

/* " AND key > $p" / " AND key <= $p" for the bounds that are given; params
 * receives the bound texts (kept alive by the caller in texts). */
static void add_bounds(pg_sql *q, PGconn *conn, const json_t *table, int n, const json_t *lo,
                       const json_t *hi, const char **params, char **texts, int *np)
{
    const json_t *b[2] = {lo, hi};
    static const char *const op[2] = {" > ", " <= "};
    static const char *const ref[2] = {"$1::jsonb", "$2::jsonb"};
    for (int k = 0; k < 2; k++) {
        if (!b[k] || json_is_null(b[k]))
            continue;
        texts[*np] = json_dumps(b[k], JSON_COMPACT | JSON_ENCODE_ANY);
        params[*np] = texts[*np];
        pg_sql_add(q, " AND ");
        add_key_row(q, conn, table, n, "t.");
        pg_sql_add(q, op[k]);
        add_key_cast(q, table, n, ref[*np]);
        (*np)++;
    }
}

static co_status bad_table(co_error *err)
{
    return co_error_set(err, CO_ERR_INVALID, "malformed table description or key tuple");
}

static bool tuple_ok(const json_t *t, int n)
{
    return !t || json_is_null(t) || (json_is_array(t) && (int)json_array_size(t) == n);
}

/* Runs q with params, reads (rows, sum, last key, lsn) into out. */
static co_status run_fp(PGconn *conn, pg_sql *q, int np, const char **params,
                        pg_chunk_fp *out, co_error *err)
{
    PGresult *res = NULL;
    char *sql;
    co_status rc;

    if ((rc = pg_sql_check(q, err)) != CO_OK)
        return rc;
    sql = pg_sql_steal(q);
    rc = pg_exec(conn, "checksumming a chunk", sql, np, params, &res, err);
    free(sql);
    if (rc != CO_OK)
        return rc;
    out->rows = pg_res_int(res, 0, 0, 0);
    snprintf(out->sum, sizeof out->sum, "%s", PQgetvalue(res, 0, 1));
    snprintf(out->lsn, sizeof out->lsn, "%s", PQgetvalue(res, 0, 3));
    if (!PQgetisnull(res, 0, 2))
        out->last_key = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    PQclear(res);
    return CO_OK;
}

static void free_texts(char **texts, int n)
{
    for (int i = 0; i < n; i++)
        free(texts[i]);
}

co_status pg_chunk_first(PGconn *conn, const json_t *table, const json_t *lo, int64_t limit,
                         pg_chunk_fp *out, co_error *err)
{
    int n = nkeys_of(table), np = 0;
    const char *params[3];
    char *texts[3] = {NULL, NULL, NULL}, lim[24];
    pg_sql q;
    co_status rc;

    memset(out, 0, sizeof *out);
    if (n < 0 || !tuple_ok(lo, n) || limit < 1)
        return bad_table(err);
    pg_sql_init(&q);
    if (n == 0) {
        pg_sql_add(&q, "SELECT count(*), coalesce(sum(" ROW_HASH "), 0)::text, NULL::text,"
                       " pg_current_wal_insert_lsn()::text FROM ");
        add_table(&q, conn, table);
        rc = run_fp(conn, &q, 0, params, out, err);
        pg_sql_free(&q);
        return rc;
    }
    pg_sql_add(&q, "WITH s AS MATERIALIZED (SELECT ");
    for (int i = 0; i < n; i++) {
        pg_sql_add(&q, "t.");
        pg_sql_ident(&q, conn, key_at(table, "keys", i));
        pg_sql_add(&q, " AS c");
        pg_sql_int(&q, i);
        pg_sql_add(&q, ", ");
    }
    pg_sql_add(&q, ROW_HASH " AS h FROM ");
    add_table(&q, conn, table);
    pg_sql_add(&q, " WHERE true");
    add_bounds(&q, conn, table, n, lo, NULL, params, texts, &np);
    pg_sql_add(&q, " ORDER BY ");
    for (int i = 0; i < n; i++) {
        pg_sql_add(&q, i ? ", t." : "t.");
        pg_sql_ident(&q, conn, key_at(table, "keys", i));
    }
    snprintf(lim, sizeof lim, "%lld", (long long)limit);
    texts[np] = strdup(lim);
    params[np] = texts[np];
    np++;
    pg_sql_add(&q, np == 2 ? " LIMIT $2::bigint)" : " LIMIT $1::bigint)");
    pg_sql_add(&q, " SELECT (SELECT count(*) FROM s), (SELECT coalesce(sum(h), 0)::text FROM s),"
                   " (SELECT jsonb_build_array(");
    for (int i = 0; i < n; i++) {
        pg_sql_add(&q, i ? ", c" : "c");
        pg_sql_int(&q, i);
    }
    pg_sql_add(&q, ")::text FROM s ORDER BY ");
    for (int i = 0; i < n; i++) {
        pg_sql_add(&q, i ? " DESC, c" : "c");
        pg_sql_int(&q, i);
    }
    pg_sql_add(&q, " DESC LIMIT 1), pg_current_wal_insert_lsn()::text");
    rc = texts[np - 1] ? run_fp(conn, &q, np, params, out, err)
                       : co_error_set(err, CO_ERR_NOMEM, "out of memory");
    pg_sql_free(&q);
    free_texts(texts, np);
    return rc;
}

co_status pg_chunk_range(PGconn *conn, const json_t *table, const json_t *lo,
                         const json_t *hi, pg_chunk_fp *out, co_error *err)
{
    int n = nkeys_of(table), np = 0;
    const char *params[3];
    char *texts[3] = {NULL, NULL, NULL};
    pg_sql q;
    co_status rc;

    memset(out, 0, sizeof *out);
    if (n < 0 || !tuple_ok(lo, n) || !tuple_ok(hi, n))
        return bad_table(err);
    pg_sql_init(&q);
    pg_sql_add(&q, "SELECT count(*), coalesce(sum(" ROW_HASH "), 0)::text, NULL::text,"
                   " pg_current_wal_insert_lsn()::text FROM ");
    add_table(&q, conn, table);
    pg_sql_add(&q, " WHERE true");
    if (n > 0)
        add_bounds(&q, conn, table, n, lo, hi, params, texts, &np);
    rc = run_fp(conn, &q, np, params, out, err);
    pg_sql_free(&q);
    free_texts(texts, np);
    return rc;
}

co_status pg_chunk_digests(PGconn *conn, const json_t *table, const json_t *lo,
                           const json_t *hi, const json_t *keys, int64_t max_rows,
                           json_t **out, co_error *err)
{
    int n = nkeys_of(table), np = 0;
    const char *params[3];
    char *texts[3] = {NULL, NULL, NULL}, *sql = NULL;
    PGresult *res = NULL;
    pg_sql q;
    co_status rc;

    *out = NULL;
    if (n <= 0 || !tuple_ok(lo, n) || !tuple_ok(hi, n) || (keys && !json_is_array(keys)))
        return bad_table(err);
    pg_sql_init(&q);
    if (keys) {
        /* the key as given (so a caller finds its own tuples), for each
         * given key that has a row */
        pg_sql_add(&q, "SELECT e.value::text, md5(t::text)"
                       " FROM jsonb_array_elements($1::jsonb) e JOIN ");
        add_table(&q, conn, table);
        pg_sql_add(&q, " ON ");
        add_key_row(&q, conn, table, n, "t.");
        pg_sql_add(&q, " = ");
        add_key_cast(&q, table, n, "e.value");
        texts[0] = json_dumps(keys, JSON_COMPACT);
        params[0] = texts[0];
        np = 1;
    } else {
        pg_sql_add(&q, "SELECT jsonb_build_array");
        add_key_row(&q, conn, table, n, "t.");
        pg_sql_add(&q, "::text, md5(t::text) FROM ");
        add_table(&q, conn, table);
        pg_sql_add(&q, " WHERE true");
        add_bounds(&q, conn, table, n, lo, hi, params, texts, &np);
        pg_sql_add(&q, " LIMIT ");
        pg_sql_int(&q, max_rows + 1);
    }
    if ((rc = pg_sql_check(&q, err)) == CO_OK) {
        sql = pg_sql_steal(&q);
        rc = pg_exec(conn, "reading row digests", sql, np, params, &res, err);
    }
    if (rc == CO_OK && !keys && PQntuples(res) > max_rows)
        rc = co_error_set(err, CO_ERR_TOO_LARGE, "more than %lld rows in the range",
                          (long long)max_rows);
    if (rc == CO_OK) {
        *out = json_object();
        for (int r = 0; r < PQntuples(res); r++) {
            /* normalise the key text: compact JSON on both sides */
            json_t *k = json_loads(PQgetvalue(res, r, 0), JSON_DECODE_ANY, NULL);
            char *kt = k ? json_dumps(k, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            if (kt)
                json_object_set_new(*out, kt, json_string(PQgetvalue(res, r, 1)));
            free(kt);
            json_decref(k);
        }
    }
    PQclear(res);
    free(sql);
    pg_sql_free(&q);
    free_texts(texts, np);
    return rc;
}

/* ------------------------------------------------------------ change log */

static void add_log(pg_sql *q, PGconn *conn, const char *schema)
{
    pg_sql_qname(q, conn, schema, "changed_keys");
}

/* "INSERT INTO <log> (tbl, key) VALUES (idx, jsonb_build_array(<rec>.k1,
 * ...))": logs the key of record rec ("OLD." or "NEW."). */
static void add_log_insert(pg_sql *b, PGconn *conn, const char *schema, const json_t *table,
                           int n, int idx, const char *rec)
{
    pg_sql_add(b, "INSERT INTO ");
    add_log(b, conn, schema);
    pg_sql_add(b, " (tbl, key) VALUES (");
    pg_sql_int(b, idx);
    pg_sql_add(b, ", jsonb_build_array");
    add_key_row(b, conn, table, n, rec);
    pg_sql_add(b, ")");
}

/* The body of the trigger function of table number idx. */
static char *trigger_body(PGconn *conn, const char *schema, const json_t *table, int n,
                          int idx, co_error *err)
{
    pg_sql b;
    pg_sql_init(&b);
    pg_sql_add(&b, "BEGIN IF TG_OP <> 'INSERT' THEN IF TG_OP = 'DELETE' OR ");
    add_key_row(&b, conn, table, n, "OLD.");
    pg_sql_add(&b, " IS DISTINCT FROM ");
    add_key_row(&b, conn, table, n, "NEW.");
    pg_sql_add(&b, " THEN ");
    add_log_insert(&b, conn, schema, table, n, idx, "OLD.");
    pg_sql_add(&b, "; END IF; END IF; IF TG_OP <> 'DELETE' THEN ");
    add_log_insert(&b, conn, schema, table, n, idx, "NEW.");
    pg_sql_add(&b, "; END IF; RETURN NULL; END");
    return pg_sql_take(&b, err);
}

/* Runs a statement naming the log, built by the caller into q. */
static co_status run_log(PGconn *conn, pg_sql *q, const char *what, int np,
                         const char *const *params, PGresult **out, co_error *err)
{
    char *sql;
    co_status rc = pg_sql_check(q, err);
    if (rc != CO_OK) {
        pg_sql_free(q);
        return rc;
    }
    sql = pg_sql_steal(q);
    rc = np < 0 ? pg_exec_simple(conn, what, sql, out, err)
                : pg_exec(conn, what, sql, np, params, out, err);
    free(sql);
    pg_sql_free(q);
    return rc;
}

/* The clones of a partitioned table's trigger on its partitions keep their
 * own enabled state: set them ENABLE ALWAYS too, so that rows the apply
 * worker routes into a partition are logged. */
static co_status always_on_partitions(PGconn *conn, const json_t *t, const char *trigger,
                                      co_error *err)
{
    PGresult *res = NULL;
    co_status rc = pg_sql_exec_on(conn, "listing partitions",
                                  "SELECT n.nspname, c.relname"
                                  " FROM pg_partition_tree($1::regclass) p"
                                  " JOIN pg_catalog.pg_class c ON c.oid = p.relid"
                                  " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                                  " WHERE p.level > 0 AND c.relkind = 'r'",
                                  json_string_value(json_object_get(t, "schema")),
                                  json_string_value(json_object_get(t, "name")), &res, err);
    for (int r = 0; rc == CO_OK && r < PQntuples(res); r++) {
        pg_sql q;
        pg_sql_init(&q);
        pg_sql_add(&q, "ALTER TABLE ");
        pg_sql_qname(&q, conn, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        pg_sql_add(&q, " ENABLE ALWAYS TRIGGER ");
        pg_sql_ident(&q, conn, trigger);
        rc = run_log(conn, &q, "enabling the change-log trigger on a partition", -1, NULL,
                     NULL, err);
    }
    PQclear(res);
    return rc;
}

co_status pg_changelog_install(PGconn *conn, const char *schema, const char *trigger,
                               const json_t *tables, co_error *err)
{
    pg_sql q;
    char *sql = NULL;
    co_status rc;
    size_t i;
    const json_t *t;

    pg_sql_init(&q);
    pg_sql_add(&q, "CREATE SCHEMA IF NOT EXISTS ");
    pg_sql_ident(&q, conn, schema);
    pg_sql_add(&q, "; CREATE TABLE IF NOT EXISTS ");
    add_log(&q, conn, schema);
    pg_sql_add(&q, " (id bigserial PRIMARY KEY, tbl integer NOT NULL, key jsonb NOT NULL,"
                   " checks integer NOT NULL DEFAULT 0, not_before pg_lsn, src text);");
    json_array_foreach(tables, i, t) {
        int n = nkeys_of(t);
        char fn[32], *body;
        if (n < 0) {
            pg_sql_free(&q);
            return bad_table(err);
        }
        if (n == 0)
            continue;
        if (!(body = trigger_body(conn, schema, t, n, (int)i, err))) {
            pg_sql_free(&q);
            return err ? err->status : CO_ERR_NOMEM;
        }
        snprintf(fn, sizeof fn, "ck_%zu", i);
        pg_sql_add(&q, " CREATE OR REPLACE FUNCTION ");
        pg_sql_qname(&q, conn, schema, fn);
        pg_sql_add(&q, "() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER"
                       " SET search_path = pg_catalog AS ");
        pg_sql_literal(&q, conn, body);
        free(body);
        pg_sql_add(&q, "; CREATE OR REPLACE TRIGGER ");
        pg_sql_ident(&q, conn, trigger);
        pg_sql_add(&q, " AFTER INSERT OR UPDATE OR DELETE ON ");
        pg_sql_qname(&q, conn, json_string_value(json_object_get(t, "schema")),
                     json_string_value(json_object_get(t, "name")));
        pg_sql_add(&q, " FOR EACH ROW EXECUTE FUNCTION ");
        pg_sql_qname(&q, conn, schema, fn);
        pg_sql_add(&q, "(); ALTER TABLE ");
        pg_sql_qname(&q, conn, json_string_value(json_object_get(t, "schema")),
                     json_string_value(json_object_get(t, "name")));
        pg_sql_add(&q, " ENABLE ALWAYS TRIGGER ");
        pg_sql_ident(&q, conn, trigger);
        pg_sql_add(&q, ";");
    }
    if ((rc = pg_sql_check(&q, err)) == CO_OK) {
        sql = pg_sql_steal(&q);
        if ((rc = pg_begin(conn, err)) == CO_OK) {
            rc = pg_exec_simple(conn, "installing the change log", sql, NULL, err);
            json_array_foreach(tables, i, t)
                if (rc == CO_OK && nkeys_of(t) > 0)
                    rc = always_on_partitions(conn, t, trigger, err);
            rc = rc == CO_OK ? pg_commit(conn, err) : rc;
            if (rc != CO_OK)
                pg_rollback(conn);
        }
    }
    free(sql);
    pg_sql_free(&q);
    return rc;
}

co_status pg_changelog_remove(PGconn *conn, const char *schema, co_error *err)
{
    pg_sql q;
    pg_sql_init(&q);
    pg_sql_add(&q, "DROP SCHEMA IF EXISTS ");
    pg_sql_ident(&q, conn, schema);
    pg_sql_add(&q, " CASCADE");
    return run_log(conn, &q, "removing the change log", -1, NULL, NULL, err);
}

/* Runs "<head><the log><tail>" (see run_log for np, params and out). */
static co_status log_stmt(PGconn *conn, const char *schema, const char *head,
                          const char *tail, const char *what, int np,
                          const char *const *params, PGresult **out, co_error *err)
{
    pg_sql q;
    pg_sql_init(&q);
    pg_sql_add(&q, head);
    add_log(&q, conn, schema);
    pg_sql_add(&q, tail);
    return run_log(conn, &q, what, np, params, out, err);
}

/* log_stmt with $1 the compact JSON text of doc and, when np is 2, $2 p2
 * (NULL: SQL NULL). */
static co_status log_stmt_json(PGconn *conn, const char *schema, const char *head,
                               const char *tail, const char *what, const json_t *doc,
                               int np, const char *p2, co_error *err)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    const char *params[2] = {text, p2};
    co_status rc;
    if (!text)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    rc = log_stmt(conn, schema, head, tail, what, np, params, NULL, err);
    free(text);
    return rc;
}

co_status pg_changelog_read(PGconn *conn, const char *schema, const char *due_lsn, int limit,
                            PGresult **out, co_error *err)
{
    char lim[16];
    const char *params[2] = {due_lsn, lim};
    snprintf(lim, sizeof lim, "%d", limit);
    return log_stmt(conn, schema, "SELECT id, tbl, key::text, checks, coalesce(src, '') FROM ",
                    " WHERE not_before IS NULL OR $1::pg_lsn IS NULL"
                    " OR not_before <= $1::pg_lsn ORDER BY id LIMIT $2::integer",
                    "reading the change log", 2, params, out, err);
}

co_status pg_changelog_count(PGconn *conn, const char *schema, int64_t *out, co_error *err)
{
    PGresult *res = NULL;
    co_status rc = log_stmt(conn, schema, "SELECT count(*) FROM ", "",
                            "counting the change log", 0, NULL, &res, err);
    *out = rc == CO_OK ? pg_res_int(res, 0, 0, 0) : 0;
    PQclear(res);
    return rc;
}

co_status pg_changelog_delete(PGconn *conn, const char *schema, const json_t *ids,
                              co_error *err)
{
    return log_stmt_json(conn, schema, "DELETE FROM ",
                         " WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)",
                         "trimming the change log", ids, 1, NULL, err);
}

co_status pg_changelog_defer(PGconn *conn, const char *schema, const json_t *entries,
                             const char *not_before, co_error *err)
{
    return log_stmt_json(conn, schema, "UPDATE ",
                         " l SET checks = (e ->> 'checks')::integer, not_before = $2::pg_lsn,"
                         " src = e ->> 'src' FROM jsonb_array_elements($1::jsonb) e"
                         " WHERE l.id = (e ->> 'id')::bigint",
                         "deferring changed keys", entries, 2, not_before, err);
}

co_status pg_changelog_vacuum(PGconn *conn, const char *schema, co_error *err)
{
    return log_stmt(conn, schema, "VACUUM ", "", "vacuuming the change log", -1, NULL, NULL,
                    err);
}
