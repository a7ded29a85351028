/* pg_sequences.c - see pg_sequences.h. */
#include "pg/pg_sequences.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_conn.h"
#include "pg/pg_sql.h"

/* Sequence x column pairs, one row each, ordered by sequence. */
static const char sql_uses[] =
    "WITH " PG_SCOPE_TABLES_CTE ","
    " uses AS ("
    "  SELECT d.objid AS seq, d.refobjid AS tbl, d.refobjsubid AS att"
    "  FROM pg_catalog.pg_depend d"
    "  WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
    "    AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
    "    AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0"
    "    AND d.refobjid IN (SELECT oid FROM scope_tables)"
    "  UNION"
    "  SELECT d.refobjid, ad.adrelid, ad.adnum"
    "  FROM pg_catalog.pg_attrdef ad"
    "  JOIN pg_catalog.pg_depend d"
    "    ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid"
    "   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
    "  WHERE ad.adrelid IN (SELECT oid FROM scope_tables))"
    " SELECT sn.nspname, sc.relname, tn.nspname, tc.relname, a.attname,"
    "        s.seqincrement::text, s.seqmin::text, s.seqmax::text"
    " FROM uses u"
    " JOIN pg_catalog.pg_class sc ON sc.oid = u.seq AND sc.relkind = 'S'"
    " JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace"
    " JOIN pg_catalog.pg_sequence s ON s.seqrelid = u.seq"
    " JOIN pg_catalog.pg_class tc ON tc.oid = u.tbl"
    " JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace"
    " JOIN pg_catalog.pg_attribute a ON a.attrelid = u.tbl AND a.attnum = u.att"
    "   AND NOT a.attisdropped"
    " ORDER BY 1, 2, 3, 4, 5";

co_status pg_sequences_read_last_values(PGconn *source, const pg_scope *scope,
                                        json_t **out, co_error *err)
{
    static const char sql[] =
        "SELECT schemaname, sequencename, last_value::text FROM pg_catalog.pg_sequences"
        " WHERE schemaname IN (SELECT jsonb_array_elements_text($1::jsonb -> 'schemas'))"
        "   AND last_value IS NOT NULL ORDER BY 1, 2";
    char *param;
    const char *params[1];
    PGresult *res = NULL;
    json_t *map;
    co_status rc;
    int r;

    *out = NULL;
    if (!(param = pg_scope_param_new(scope, err)))
        return err ? err->status : CO_ERR_INVALID;
    params[0] = param;
    rc = pg_exec(source, "read source sequences", sql, 1, params, &res, err);
    free(param);
    if (rc != CO_OK)
        return rc;
    map = json_object();
    for (r = 0; map && r < PQntuples(res); r++) {
        json_t *inner = json_object_get(map, PQgetvalue(res, r, 0));
        long long v = pg_res_int(res, r, 2, 0);
        if (!inner) {
            inner = json_object();
            if (!inner || json_object_set_new(map, PQgetvalue(res, r, 0), inner)) {
                json_decref(map);
                map = NULL;
                break;
            }
        }
        if (json_object_set_new(inner, PQgetvalue(res, r, 1), json_integer(v))) {
            json_decref(map);
            map = NULL;
        }
    }
    PQclear(res);
    if (!map)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    *out = map;
    return CO_OK;
}

static bool parse_ll(const char *s, long long *out)
{
    char *end;
    if (!s || !*s)
        return false;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return !errno && !*end;
}

/* Source last_value for schema.name from the caller's map, as text. */
static bool source_value(const json_t *map, const char *schema, const char *name,
                         long long *out)
{
    const json_t *v = json_object_get(json_object_get(map, schema), name);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_string(v))
        return parse_ll(json_string_value(v), out);
    return false;
}

typedef struct seq_work {
    const char *schema, *name;
    long long inc, min, max;
    bool have_bound;
    long long bound; /* max (asc) / min (desc) over the columns */
    json_t *columns;
} seq_work;

/* Folds max/min of one column into w. */
static co_status column_bound(PGconn *conn, seq_work *w, const char *tschema,
                              const char *table, const char *column, co_error *e)
{
    pg_sql b;
    PGresult *res = NULL;
    long long v;
    const char *txt;
    co_status rc;

    pg_sql_init(&b);
    pg_sql_add(&b, w->inc > 0 ? "SELECT pg_catalog.ceil(pg_catalog.max("
                              : "SELECT pg_catalog.floor(pg_catalog.min(");
    pg_sql_ident(&b, conn, column);
    pg_sql_add(&b, ")::numeric)::text FROM ");
    pg_sql_qname(&b, conn, tschema, table);
    rc = pg_sql_query(conn, "read column bound", &b, &res, e);
    pg_sql_free(&b);
    if (rc != CO_OK)
        return rc;
    txt = pg_res_get(res, 0, 0);
    if (txt) {
        if (!parse_ll(txt, &v)) {
            PQclear(res);
            return co_error_set(e, CO_ERR_REMOTE, "%s.%s.%s holds %s, outside bigint",
                                tschema, table, column, txt);
        }
        if (!w->have_bound || (w->inc > 0 ? v > w->bound : v < w->bound))
            w->bound = v;
        w->have_bound = true;
    }
    PQclear(res);
    return CO_OK;
}

static json_t *ll_json(long long v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    return json_string(t);
}

/* Computes and applies the new value of one sequence; fills the report row. */
static co_status apply_one(PGconn *conn, seq_work *w, const pg_seq_opts *opts,
                           long long gap, json_t *row, bool *changed, co_error *e)
{
    pg_sql b;
    PGresult *res = NULL;
    long long last, cur_next, target = 0, src = 0, cand;
    bool have_target = false, is_called;
    char *qn = NULL;
    const char *params[2];
    char tbuf[32];
    co_status rc;

    *changed = false;
    pg_sql_init(&b);
    pg_sql_add(&b, "SELECT last_value::text, is_called FROM ");
    pg_sql_qname(&b, conn, w->schema, w->name);
    rc = pg_sql_query(conn, "read sequence", &b, &res, e);
    pg_sql_free(&b);
    if (rc != CO_OK)
        return rc;
    if (!parse_ll(pg_res_get(res, 0, 0), &last)) {
        PQclear(res);
        return co_error_set(e, CO_ERR_REMOTE, "cannot read sequence %s.%s", w->schema,
                            w->name);
    }
    is_called = pg_res_bool(res, 0, 1);
    PQclear(res);
    cur_next = last;
    if (is_called && __builtin_add_overflow(last, w->inc, &cur_next))
        cur_next = w->inc > 0 ? w->max : w->min;
    json_object_set_new(row, "previous_next", ll_json(cur_next));

    if (w->have_bound) {
        if (w->inc > 0 ? __builtin_add_overflow(w->bound, gap, &cand)
                       : __builtin_sub_overflow(w->bound, gap, &cand))
            return co_error_set(e, CO_ERR_REMOTE, "sequence %s.%s: value overflows bigint",
                                w->schema, w->name);
        target = cand;
        have_target = true;
    }
    if (opts && source_value(opts->source_last_values, w->schema, w->name, &src)) {
        json_object_set_new(row, "source_last_value", ll_json(src));
        if (w->inc > 0 ? __builtin_add_overflow(src, gap, &cand)
                       : __builtin_sub_overflow(src, gap, &cand))
            return co_error_set(e, CO_ERR_REMOTE, "sequence %s.%s: value overflows bigint",
                                w->schema, w->name);
        if (!have_target || (w->inc > 0 ? cand > target : cand < target))
            target = cand;
        have_target = true;
    }
    if (!have_target) {
        json_object_set_new(row, "next_value", ll_json(cur_next));
        json_object_set_new(row, "action", json_string("no-data"));
        return CO_OK;
    }
    if (w->inc > 0 ? target <= cur_next : target >= cur_next) {
        json_object_set_new(row, "next_value", ll_json(cur_next));
        json_object_set_new(row, "action", json_string("unchanged"));
        return CO_OK;
    }
    if (target > w->max || target < w->min)
        return co_error_set(e, CO_ERR_REMOTE,
                            "sequence %s.%s: next value %lld is outside [%lld, %lld]",
                            w->schema, w->name, target, w->min, w->max);
    if (!(qn = pg_sql_qname_new(conn, w->schema, w->name, e)))
        return e->status;
    snprintf(tbuf, sizeof tbuf, "%lld", target);
    params[0] = qn;
    params[1] = tbuf;
    rc = pg_exec(conn, "setval",
                 "SELECT pg_catalog.setval($1::text::pg_catalog.regclass, $2::bigint, false)",
                 2, params, NULL, e);
    free(qn);
    if (rc != CO_OK)
        return rc;
    json_object_set_new(row, "next_value", ll_json(target));
    json_object_set_new(row, "action", json_string("set"));
    *changed = true;
    return CO_OK;
}

co_status pg_sequences_reset(PGconn *conn, const pg_scope *scope, const pg_seq_opts *opts,
                             json_t **report_out, co_error *err)
{
    char *param = NULL;
    const char *params[1];
    PGresult *res = NULL;
    json_t *list = NULL;
    long long gap = (opts && opts->gap >= 0) ? opts->gap : PG_SEQ_DEFAULT_GAP;
    size_t changed = 0, failed = 0;
    co_error first;
    char first_name[300] = "";
    co_status rc;
    int r, n;

    if (report_out)
        *report_out = NULL;
    co_error_clear(&first);
    if (!(param = pg_scope_param_new(scope, err)))
        return err ? err->status : CO_ERR_INVALID;
    params[0] = param;
    if ((rc = pg_scope_check(conn, scope, err)) != CO_OK ||
        (rc = pg_exec(conn, "find sequences", sql_uses, 1, params, &res, err)) != CO_OK) {
        free(param);
        return rc;
    }
    free(param);
    if (!(list = json_array())) {
        PQclear(res);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    n = PQntuples(res);
    for (r = 0; r < n;) {
        seq_work w;
        co_error e;
        json_t *row;
        bool ch = false;

        memset(&w, 0, sizeof w);
        co_error_clear(&e);
        w.schema = PQgetvalue(res, r, 0);
        w.name = PQgetvalue(res, r, 1);
        w.inc = pg_res_int(res, r, 5, 1);
        w.min = pg_res_int(res, r, 6, 1);
        w.max = pg_res_int(res, r, 7, 0);
        w.columns = json_array();
        row = json_pack("{s:s, s:s, s:o, s:n}", "schema", w.schema, "name", w.name,
                        "columns", w.columns ? w.columns : json_array(),
                        "source_last_value");
        if (!row || !w.columns) {
            json_decref(row);
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
            goto done;
        }
        /* every column fed by this sequence */
        for (; r < n && !strcmp(PQgetvalue(res, r, 0), w.schema) &&
               !strcmp(PQgetvalue(res, r, 1), w.name);
             r++) {
            char col[400];
            snprintf(col, sizeof col, "%s.%s.%s", PQgetvalue(res, r, 2),
                     PQgetvalue(res, r, 3), PQgetvalue(res, r, 4));
            json_array_append_new(w.columns, json_string(col));
            if (e.status == CO_OK)
                (void)column_bound(conn, &w, PQgetvalue(res, r, 2), PQgetvalue(res, r, 3),
                                   PQgetvalue(res, r, 4), &e);
        }
        json_object_set_new(row, "data_bound", w.have_bound ? ll_json(w.bound) : json_null());
        if (e.status == CO_OK)
            (void)apply_one(conn, &w, opts, gap, row, &ch, &e);
        if (e.status != CO_OK) {
            json_object_set_new(row, "action", json_string("failed"));
            json_object_set_new(row, "error", json_string(e.message));
            if (!failed++) {
                first = e;
                snprintf(first_name, sizeof first_name, "%s.%s", w.schema, w.name);
            }
            if (PQstatus(conn) != CONNECTION_OK) {
                json_array_append_new(list, row);
                break;
            }
        }
        if (ch)
            changed++;
        json_array_append_new(list, row);
    }
    rc = CO_OK;
    if (PQstatus(conn) != CONNECTION_OK)
        rc = co_error_set(err, CO_ERR_TRANSIENT, "connection lost while resetting sequences");
    else if (failed) {
        rc = co_error_set(err, first.status == CO_ERR_TRANSIENT ? CO_ERR_TRANSIENT
                                                               : CO_ERR_REMOTE,
                          "%zu sequence(s) not reset; first: %s: %s", failed, first_name,
                          first.message);
        if (err && first.sqlstate[0])
            memcpy(err->sqlstate, first.sqlstate, 6);
    }
done:
    PQclear(res);
    if (pg_report_out(json_pack("{s:I, s:o}", "changed", (json_int_t)changed, "sequences",
                                list),
                      report_out, err) != CO_OK)
        return CO_ERR_NOMEM;
    return rc;
}
