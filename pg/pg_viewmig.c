/* pg_viewmig.c - view, final table, load, ongoing sync and validation of the
 * view-migration plan (see pg_viewmig.h). */
#include "pg/pg_viewmig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_sql.h"

#define DEFAULT_BATCH_ROWS 10000
#define MIGRATION_TS "migration_timestamp"

/* ---- the view's columns from the catalog ----------------------------------- */

typedef struct vcol {
    char *name;
    char *type;        /* format_type() text */
    char *coll_schema; /* non-default collation, or NULL */
    char *coll_name;
} vcol;

typedef struct vcols {
    vcol *items;
    size_t n;
} vcols;

static void vcols_free(vcols *v)
{
    size_t i;
    for (i = 0; i < v->n; i++) {
        free(v->items[i].name);
        free(v->items[i].type);
        free(v->items[i].coll_schema);
        free(v->items[i].coll_name);
    }
    free(v->items);
    v->items = NULL;
    v->n = 0;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Columns of relation rel (view or table) in attnum order; with_ts = keep
 * migration_timestamp. CO_ERR_NOT_FOUND if rel does not exist. */
static co_status read_columns(PGconn *c, const pg_relname *rel, bool with_ts, vcols *out,
                              co_error *err)
{
    static const char sql[] =
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),"
        "       CASE WHEN a.attcollation <> t.typcollation THEN cn.nspname END,"
        "       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END"
        " FROM pg_catalog.pg_class r"
        " JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace"
        " JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid"
        " JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
        " LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation"
        " LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace"
        " WHERE n.nspname = $1 AND r.relname = $2 AND a.attnum > 0"
        "   AND NOT a.attisdropped ORDER BY a.attnum";
    const char *params[2] = {rel->schema, rel->name};
    PGresult *res = NULL;
    co_status rc;
    int r, nrows;

    memset(out, 0, sizeof *out);
    if ((rc = pg_exec(c, "read columns", sql, 2, params, &res, err)) != CO_OK)
        return rc;
    nrows = PQntuples(res);
    if (nrows == 0) {
        PQclear(res);
        return co_error_set(err, CO_ERR_NOT_FOUND, "relation %s.%s does not exist",
                            rel->schema, rel->name);
    }
    out->items = calloc((size_t)nrows, sizeof *out->items);
    if (!out->items) {
        PQclear(res);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    for (r = 0; r < nrows; r++) {
        vcol *v;
        if (!with_ts && !strcmp(PQgetvalue(res, r, 0), MIGRATION_TS))
            continue;
        v = &out->items[out->n++];
        v->name = strdup(PQgetvalue(res, r, 0));
        v->type = strdup(PQgetvalue(res, r, 1));
        v->coll_schema = dup_or_null(pg_res_get(res, r, 2));
        v->coll_name = dup_or_null(pg_res_get(res, r, 3));
        if (!v->name || !v->type) {
            PQclear(res);
            vcols_free(out);
            return co_error_set(err, CO_ERR_NOMEM, "out of memory");
        }
    }
    PQclear(res);
    return CO_OK;
}

static bool vcols_has(const vcols *v, const char *name)
{
    size_t i;
    for (i = 0; i < v->n; i++)
        if (!strcmp(v->items[i].name, name))
            return true;
    return false;
}

/* Reads the view's columns and checks the key against them. */
static co_status view_and_key(PGconn *c, const pg_final_spec *f, vcols *cols, co_error *err)
{
    size_t i;
    co_status rc;
    if (!f || f->nkey == 0)
        return co_error_set(err, CO_ERR_INVALID, "a key of at least one column is required");
    if ((rc = read_columns(c, &f->view, true, cols, err)) != CO_OK)
        return rc;
    if (vcols_has(cols, MIGRATION_TS)) {
        vcols_free(cols);
        return co_error_set(err, CO_ERR_INVALID, "the view must not have a column named "
                                                 MIGRATION_TS);
    }
    for (i = 0; i < f->nkey; i++)
        if (!vcols_has(cols, f->key[i])) {
            co_error_set(err, CO_ERR_INVALID, "key column %s is not a column of %s.%s",
                         f->key[i], f->view.schema, f->view.name);
            vcols_free(cols);
            return CO_ERR_INVALID;
        }
    return CO_OK;
}

/* Starts a step on the final table: clears *report_out (optional) and
 * reads the view's columns into cols, checking the key (view_and_key). */
static co_status final_begin(PGconn *c, const pg_final_spec *f, vcols *cols,
                             json_t **report_out, co_error *err)
{
    if (report_out)
        *report_out = NULL;
    return view_and_key(c, f, cols, err);
}

/* ---- small SQL helpers ---------------------------------------------------- */

/* Item i of a comma-separated list: prefix.name (prefix NULL = the bare
 * name), then suffix (NULL = none). */
static void list_item(pg_sql *b, PGconn *c, size_t i, const char *prefix, const char *name,
                      const char *suffix)
{
    pg_sql_addf(b, c, "%s%s%s%I%s", i ? ", " : "", prefix ? prefix : "", prefix ? "." : "",
                name, suffix ? suffix : "");
}

/* prefix.col1, prefix.col2, ... (prefix NULL = bare names). */
static void col_list(pg_sql *b, PGconn *c, const char *prefix, const vcols *v)
{
    size_t i;
    for (i = 0; i < v->n; i++)
        list_item(b, c, i, prefix, v->items[i].name, NULL);
}

/* The key columns as col_list, each followed by suffix (NULL = none). */
static void key_list(pg_sql *b, PGconn *c, const char *prefix, const pg_final_spec *f,
                     const char *suffix)
{
    size_t i;
    for (i = 0; i < f->nkey; i++)
        list_item(b, c, i, prefix, f->key[i], suffix);
}

/* a.k1 = <bb>.<cols[0]> AND a.k2 = <bb>.<cols[1]> ... over the key columns
 * k of f; cols NULL means the key columns themselves. */
static void key_match(pg_sql *b, PGconn *c, const char *a, const pg_final_spec *f,
                      const char *const *cols, const char *bb)
{
    size_t i;
    for (i = 0; i < f->nkey; i++)
        pg_sql_addf(b, c, "%s%s.%I = %s.%I", i ? " AND " : "", a, f->key[i], bb,
                    cols ? cols[i] : f->key[i]);
}

static bool is_key(const pg_final_spec *f, const char *name)
{
    size_t i;
    for (i = 0; i < f->nkey; i++)
        if (!strcmp(f->key[i], name))
            return true;
    return false;
}

/* ON CONFLICT (key) DO NOTHING | DO UPDATE SET c = EXCLUDED.c, ...,
 * migration_timestamp = now() WHERE (row of f) IS DISTINCT FROM (EXCLUDED). */
static void on_conflict(pg_sql *b, PGconn *c, const pg_final_spec *f, const vcols *v,
                        bool update)
{
    size_t i, nonkey = 0;
    pg_sql_add(b, " ON CONFLICT (");
    key_list(b, c, NULL, f, NULL);
    pg_sql_add(b, ")");
    for (i = 0; i < v->n; i++)
        if (!is_key(f, v->items[i].name))
            nonkey++;
    if (!update || nonkey == 0) {
        pg_sql_add(b, " DO NOTHING");
        return;
    }
    pg_sql_add(b, " DO UPDATE SET ");
    for (i = 0; i < v->n; i++) {
        if (is_key(f, v->items[i].name))
            continue;
        pg_sql_ident(b, c, v->items[i].name);
        pg_sql_add(b, " = EXCLUDED.");
        pg_sql_ident(b, c, v->items[i].name);
        pg_sql_add(b, ", ");
    }
    pg_sql_add(b, MIGRATION_TS " = pg_catalog.now() WHERE ROW(");
    col_list(b, c, "f", v);
    pg_sql_add(b, ")::text IS DISTINCT FROM ROW(");
    col_list(b, c, "EXCLUDED", v);
    pg_sql_add(b, ")::text");
}

/* ---- create_view ------------------------------------------------------------ */

static const char *col_out_name(const pg_view_column *c)
{
    return c->alias ? c->alias : c->column;
}

co_status pg_viewmig_create_view(PGconn *conn, const pg_view_spec *s, char **sql_out,
                                 co_error *err)
{
    static const char *const joins[PG_JOIN_LAST] = {" JOIN ", " LEFT JOIN ", " RIGHT JOIN ",
                                                    " FULL JOIN "};
    pg_sql b, drop;
    size_t i, j;
    co_status rc;

    if (sql_out)
        *sql_out = NULL;
    if (!s->nkeys || !s->ncolumns || (unsigned)s->join >= PG_JOIN_LAST)
        return co_error_set(err, CO_ERR_INVALID, "a view needs join keys, columns and a join type");
    for (i = 0; i < s->ncolumns; i++)
        for (j = i + 1; j < s->ncolumns; j++)
            if (!strcmp(col_out_name(&s->columns[i]), col_out_name(&s->columns[j])))
                return co_error_set(err, CO_ERR_INVALID,
                                    "view column %s appears twice; give one an alias",
                                    col_out_name(&s->columns[i]));
    pg_sql_init(&b);
    pg_sql_init(&drop);
    pg_sql_add(&b, "CREATE VIEW ");
    pg_sql_qname(&b, conn, s->view.schema, s->view.name);
    pg_sql_add(&b, " AS SELECT ");
    for (i = 0; i < s->ncolumns; i++) {
        if (i)
            pg_sql_add(&b, ", ");
        pg_sql_add(&b, s->columns[i].side == PG_SIDE_LEFT ? "l." : "r.");
        pg_sql_ident(&b, conn, s->columns[i].column);
        pg_sql_add(&b, " AS ");
        pg_sql_ident(&b, conn, col_out_name(&s->columns[i]));
    }
    pg_sql_add(&b, " FROM ");
    pg_sql_qname(&b, conn, s->left.schema, s->left.name);
    pg_sql_add(&b, " AS l");
    pg_sql_add(&b, joins[s->join]);
    pg_sql_qname(&b, conn, s->right.schema, s->right.name);
    pg_sql_add(&b, " AS r ON ");
    for (i = 0; i < s->nkeys; i++) {
        if (i)
            pg_sql_add(&b, " AND ");
        pg_sql_add(&b, "l.");
        pg_sql_ident(&b, conn, s->keys[i].left);
        pg_sql_add(&b, " = r.");
        pg_sql_ident(&b, conn, s->keys[i].right);
    }
    pg_sql_add(&drop, "DROP VIEW IF EXISTS ");
    pg_sql_qname(&drop, conn, s->view.schema, s->view.name);
    if ((rc = pg_sql_check(&b, err)) != CO_OK || (rc = pg_sql_check(&drop, err)) != CO_OK)
        goto done;
    if ((rc = pg_begin(conn, err)) != CO_OK)
        goto done;
    if ((rc = pg_exec_simple(conn, "drop old view", drop.data, NULL, err)) != CO_OK ||
        (rc = pg_exec_simple(conn, "create view", b.data, NULL, err)) != CO_OK ||
        (rc = pg_commit(conn, err)) != CO_OK) {
        pg_rollback(conn);
        goto done;
    }
    if (sql_out)
        *sql_out = pg_sql_steal(&b);
done:
    pg_sql_free(&b);
    pg_sql_free(&drop);
    return rc;
}

/* ---- create_final_table -------------------------------------------------------- */

/* Primary-key column names of table, in key order (empty if none). */
static co_status read_pk(PGconn *c, const pg_relname *t, PGresult **out, co_error *err)
{
    static const char sql[] =
        "SELECT a.attname FROM pg_catalog.pg_index i"
        " JOIN pg_catalog.pg_class r ON r.oid = i.indrelid"
        " JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace"
        " CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
        " JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum = k.attnum"
        " WHERE n.nspname = $1 AND r.relname = $2 AND i.indisprimary ORDER BY k.ord";
    const char *params[2] = {t->schema, t->name};
    return pg_exec(c, "read primary key", sql, 2, params, out, err);
}

static co_status table_exists(PGconn *c, const pg_relname *t, bool *exists, co_error *err)
{
    static const char sql[] =
        "SELECT 1 FROM pg_catalog.pg_class r"
        " JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace"
        " WHERE n.nspname = $1 AND r.relname = $2 AND r.relkind IN ('r', 'p')";
    const char *params[2] = {t->schema, t->name};
    PGresult *res = NULL;
    co_status rc = pg_exec(c, "look up table", sql, 2, params, &res, err);
    if (rc == CO_OK)
        *exists = PQntuples(res) > 0;
    PQclear(res);
    return rc;
}

co_status pg_viewmig_create_final_table(PGconn *conn, const pg_final_spec *f,
                                        json_t **report_out, co_error *err)
{
    vcols v;
    pg_sql b;
    bool exists = false;
    json_t *cols = NULL, *keys = NULL;
    PGresult *pk = NULL;
    size_t i;
    co_status rc;

    if ((rc = final_begin(conn, f, &v, report_out, err)) != CO_OK)
        return rc;
    pg_sql_init(&b);
    if ((rc = table_exists(conn, &f->table, &exists, err)) != CO_OK)
        goto done;
    if (exists) {
        bool same;
        if ((rc = read_pk(conn, &f->table, &pk, err)) != CO_OK)
            goto done;
        same = (size_t)PQntuples(pk) == f->nkey;
        for (i = 0; same && i < f->nkey; i++)
            same = !strcmp(PQgetvalue(pk, (int)i, 0), f->key[i]);
        PQclear(pk);
        if (!same) {
            rc = co_error_set(err, CO_ERR_CONFLICT,
                              "%s.%s exists with a different primary key", f->table.schema,
                              f->table.name);
            goto done;
        }
    } else {
        pg_sql_add(&b, "CREATE TABLE IF NOT EXISTS ");
        pg_sql_qname(&b, conn, f->table.schema, f->table.name);
        pg_sql_add(&b, " (");
        for (i = 0; i < v.n; i++) {
            pg_sql_ident(&b, conn, v.items[i].name);
            pg_sql_add(&b, " ");
            pg_sql_add(&b, v.items[i].type); /* format_type() output, quoted by the server */
            if (v.items[i].coll_name) {
                pg_sql_add(&b, " COLLATE ");
                pg_sql_qname(&b, conn, v.items[i].coll_schema, v.items[i].coll_name);
            }
            if (is_key(f, v.items[i].name))
                pg_sql_add(&b, " NOT NULL");
            pg_sql_add(&b, ", ");
        }
        pg_sql_add(&b, MIGRATION_TS " timestamptz NOT NULL DEFAULT pg_catalog.now(), PRIMARY KEY (");
        key_list(&b, conn, NULL, f, NULL);
        pg_sql_add(&b, "))");
        if ((rc = pg_sql_check(&b, err)) != CO_OK ||
            (rc = pg_exec_simple(conn, "create final table", b.data, NULL, err)) != CO_OK)
            goto done;
    }
    cols = json_array();
    keys = json_array();
    for (i = 0; cols && i < v.n; i++)
        json_array_append_new(cols, json_pack("{s:s, s:s}", "name", v.items[i].name, "type",
                                              v.items[i].type));
    for (i = 0; keys && i < f->nkey; i++)
        json_array_append_new(keys, json_string(f->key[i]));
    if (report_out) {
        *report_out = json_pack("{s:b, s:O, s:O}", "created", !exists, "columns", cols,
                                "key", keys);
        if (!*report_out)
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
done:
    json_decref(cols);
    json_decref(keys);
    pg_sql_free(&b);
    vcols_free(&v);
    return rc;
}

/* ---- load_final ------------------------------------------------------------------ */

/* Runs the statement built in b, then frees b. *n receives the number in
 * the first column of its first row or, for a statement that returns no
 * rows, the number of rows it touched. Errors: see pg_sql_query. */
static co_status query_count(PGconn *c, const char *what, pg_sql *b, long long *n,
                             co_error *err)
{
    PGresult *res = NULL;
    co_status rc = pg_sql_query(c, what, b, &res, err);
    pg_sql_free(b);
    if (rc == CO_OK)
        *n = PQntuples(res) > 0 ? pg_res_int(res, 0, 0, 0) : atoll(PQcmdTuples(res));
    PQclear(res);
    return rc;
}

static co_status count_rows(PGconn *c, const pg_relname *rel, long long *n, co_error *err)
{
    pg_sql b;
    pg_sql_init(&b);
    pg_sql_addf(&b, c, "SELECT count(*) FROM %Q", rel->schema, rel->name);
    return query_count(c, "count rows", &b, n, err);
}

/* The batch statement; with_lower adds WHERE (key) > ($2, ...). $1 = limit. */
static void build_batch(pg_sql *b, PGconn *c, const pg_final_spec *f, const vcols *v,
                        bool update, bool with_lower)
{
    size_t i;
    pg_sql_add(b, "WITH batch AS MATERIALIZED (SELECT ");
    col_list(b, c, "v", v);
    pg_sql_add(b, " FROM ");
    pg_sql_qname(b, c, f->view.schema, f->view.name);
    pg_sql_add(b, " AS v");
    if (with_lower) {
        pg_sql_add(b, " WHERE (");
        key_list(b, c, "v", f, NULL);
        pg_sql_add(b, ") > (");
        for (i = 0; i < f->nkey; i++) {
            if (i)
                pg_sql_add(b, ", ");
            pg_sql_add(b, "$");
            pg_sql_int(b, (int64_t)i + 2);
        }
        pg_sql_add(b, ")");
    }
    pg_sql_add(b, " ORDER BY ");
    key_list(b, c, "v", f, NULL);
    pg_sql_add(b, " LIMIT $1::bigint), ins AS (INSERT INTO ");
    pg_sql_qname(b, c, f->table.schema, f->table.name);
    pg_sql_add(b, " AS f (");
    col_list(b, c, NULL, v);
    pg_sql_add(b, ") SELECT ");
    col_list(b, c, NULL, v);
    pg_sql_add(b, " FROM batch");
    on_conflict(b, c, f, v, update);
    pg_sql_add(b, " RETURNING 1) SELECT (SELECT count(*) FROM batch),"
                  " (SELECT count(*) FROM ins), ");
    key_list(b, c, "last", f, "::text");
    pg_sql_add(b, " FROM (SELECT ");
    key_list(b, c, NULL, f, NULL);
    pg_sql_add(b, " FROM batch ORDER BY ");
    key_list(b, c, NULL, f, " DESC");
    pg_sql_add(b, " LIMIT 1) AS last");
}

static co_status prune_final(PGconn *c, const pg_final_spec *f, long long *pruned,
                             co_error *err)
{
    pg_sql b;
    pg_sql_init(&b);
    pg_sql_addf(&b, c, "DELETE FROM %Q AS f WHERE NOT EXISTS (SELECT 1 FROM %Q AS v WHERE ",
                f->table.schema, f->table.name, f->view.schema, f->view.name);
    key_match(&b, c, "v", f, NULL, "f");
    pg_sql_add(&b, ")");
    return query_count(c, "prune final table", &b, pruned, err);
}

co_status pg_viewmig_load_final(PGconn *conn, const pg_final_spec *f, const pg_load_opts *opts,
                                json_t **report_out, co_error *err)
{
    vcols v;
    pg_sql first, next;
    long long total = 0, read = 0, written = 0, batches = 0, pruned = 0;
    long batch = opts && opts->batch_rows > 0 ? opts->batch_rows : DEFAULT_BATCH_ROWS;
    bool update = opts && opts->update_existing;
    const char **params = NULL;
    char limit[32], dispname[300];
    co_status rc;
    size_t i;

    if ((rc = final_begin(conn, f, &v, report_out, err)) != CO_OK)
        return rc;
    pg_sql_init(&first);
    pg_sql_init(&next);
    params = calloc(f->nkey + 1, sizeof *params);
    if (!params) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto done;
    }
    build_batch(&first, conn, f, &v, update, false);
    build_batch(&next, conn, f, &v, update, true);
    if ((rc = pg_sql_check(&first, err)) != CO_OK || (rc = pg_sql_check(&next, err)) != CO_OK ||
        (rc = count_rows(conn, &f->view, &total, err)) != CO_OK)
        goto done;
    snprintf(limit, sizeof limit, "%ld", batch);
    params[0] = limit;
    pg_sql_display_name(f->table.schema, f->table.name, dispname, sizeof dispname);
    for (;;) {
        PGresult *res = NULL;
        bool more;
        rc = pg_exec(conn, "load batch", batches ? next.data : first.data,
                     batches ? (int)f->nkey + 1 : 1, params, &res, err);
        if (rc != CO_OK)
            goto done;
        batches++;
        more = PQntuples(res) > 0;
        if (more) {
            long long got = pg_res_int(res, 0, 0, 0);
            read += got;
            written += pg_res_int(res, 0, 1, 0);
            for (i = 0; i < f->nkey; i++) {
                free((void *)params[i + 1]);
                params[i + 1] = dup_or_null(pg_res_get(res, 0, (int)i + 2));
            }
            more = got == batch;
        }
        PQclear(res);
        if (opts && opts->progress)
            opts->progress(opts->progress_user, dispname, (size_t)read, (size_t)total);
        if (!more)
            break;
    }
    if (opts && opts->prune && (rc = prune_final(conn, f, &pruned, err)) != CO_OK)
        goto done;
    if (report_out) {
        *report_out = json_pack("{s:I, s:I, s:I, s:I, s:I}", "total", (json_int_t)total,
                                "read", (json_int_t)read, "written", (json_int_t)written,
                                "batches", (json_int_t)batches, "pruned", (json_int_t)pruned);
        if (!*report_out)
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
done:
    if (params)
        for (i = 1; i <= f->nkey; i++)
            free((void *)params[i]);
    free(params);
    pg_sql_free(&first);
    pg_sql_free(&next);
    vcols_free(&v);
    return rc;
}

/* ---- ongoing_sync ------------------------------------------------------------------ */

/* Re-sync of the key found in record rec (NEW or OLD). */
static void resync_key(pg_sql *b, PGconn *c, const pg_final_spec *f, const vcols *v,
                       const char *const *left_cols, const char *rec)
{
    pg_sql_add(b, "    DELETE FROM ");
    pg_sql_qname(b, c, f->table.schema, f->table.name);
    pg_sql_add(b, " AS f WHERE ");
    key_match(b, c, "f", f, left_cols, rec);
    pg_sql_add(b, " AND NOT EXISTS (SELECT 1 FROM ");
    pg_sql_qname(b, c, f->view.schema, f->view.name);
    pg_sql_add(b, " AS v WHERE ");
    key_match(b, c, "v", f, left_cols, rec);
    pg_sql_add(b, ");\n    INSERT INTO ");
    pg_sql_qname(b, c, f->table.schema, f->table.name);
    pg_sql_add(b, " AS f (");
    col_list(b, c, NULL, v);
    pg_sql_add(b, ") SELECT ");
    col_list(b, c, "v", v);
    pg_sql_add(b, " FROM ");
    pg_sql_qname(b, c, f->view.schema, f->view.name);
    pg_sql_add(b, " AS v WHERE ");
    key_match(b, c, "v", f, left_cols, rec);
    on_conflict(b, c, f, v, true);
    pg_sql_add(b, ";\n");
}

static co_status sync_name(PGconn *c, const pg_final_spec *f, char *out, size_t size,
                           co_error *err)
{
    PGresult *res = NULL;
    co_status rc = pg_sql_exec_on(c, "name sync trigger",
                                  "SELECT 'cutover_sync_'"
                                  " || pg_catalog.left(pg_catalog.md5($1), 16)",
                                  f->table.schema, f->table.name, &res, err);
    if (rc == CO_OK)
        snprintf(out, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

co_status pg_viewmig_ongoing_sync(PGconn *conn, const pg_view_spec *view,
                                  const pg_final_spec *f, bool enable, json_t **report_out,
                                  co_error *err)
{
    vcols v = {0};
    pg_sql body, b;
    const char **left_cols = NULL;
    char name[64], tag[32];
    size_t i, j;
    int n = 0;
    co_status rc;

    if (report_out)
        *report_out = NULL;
    pg_sql_init(&body);
    pg_sql_init(&b);
    if ((rc = sync_name(conn, f, name, sizeof name, err)) != CO_OK)
        return rc;
    if (!enable) {
        pg_sql_addf(&b, conn, "DROP TRIGGER IF EXISTS %I ON %Q; DROP FUNCTION IF EXISTS %Q()",
                    name, view->left.schema, view->left.name, f->table.schema, name);
        rc = pg_sql_run(conn, "drop sync trigger", &b, err);
        goto report;
    }
    if ((rc = view_and_key(conn, f, &v, err)) != CO_OK)
        goto done;
    left_cols = calloc(f->nkey, sizeof *left_cols);
    if (!left_cols) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < f->nkey; i++) {
        for (j = 0; j < view->ncolumns; j++)
            if (!strcmp(col_out_name(&view->columns[j]), f->key[i]))
                break;
        if (j == view->ncolumns || view->columns[j].side != PG_SIDE_LEFT) {
            rc = co_error_set(err, CO_ERR_INVALID,
                              "key column %s must come from the left (staging) table",
                              f->key[i]);
            goto done;
        }
        left_cols[i] = view->columns[j].column;
    }
    pg_sql_add(&body, "BEGIN\n  IF TG_OP IN ('UPDATE', 'DELETE') THEN\n");
    resync_key(&body, conn, f, &v, left_cols, "OLD");
    pg_sql_add(&body, "  END IF;\n  IF TG_OP IN ('INSERT', 'UPDATE') THEN\n");
    resync_key(&body, conn, f, &v, left_cols, "NEW");
    pg_sql_add(&body, "  END IF;\n  RETURN NULL;\nEND\n");
    if ((rc = pg_sql_check(&body, err)) != CO_OK)
        goto done;
    snprintf(tag, sizeof tag, "$cutover$");
    while (strstr(body.data, tag))
        snprintf(tag, sizeof tag, "$cutover%d$", ++n);
    pg_sql_addf(&b, conn, "CREATE OR REPLACE FUNCTION %Q() RETURNS trigger LANGUAGE plpgsql"
                " SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS %s\n%s%s;\n",
                f->table.schema, name, tag, body.data, tag);
    pg_sql_addf(&b, conn, "CREATE OR REPLACE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %Q"
                " FOR EACH ROW EXECUTE FUNCTION %Q();\n", name, view->left.schema,
                view->left.name, f->table.schema, name);
    pg_sql_addf(&b, conn, "ALTER TABLE %Q ENABLE ALWAYS TRIGGER %I", view->left.schema,
                view->left.name, name);
    /* One simple-query string runs as one implicit transaction. */
    if ((rc = pg_sql_run(conn, "install sync trigger", &b, err)) != CO_OK)
        goto done;
report:
    if (rc == CO_OK && report_out) {
        char fn[300];
        pg_sql_display_name(f->table.schema, name, fn, sizeof fn);
        *report_out = json_pack("{s:s, s:s, s:b}", "trigger", name, "function", fn, "enabled",
                                enable);
        if (!*report_out)
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
done:
    free(left_cols);
    vcols_free(&v);
    pg_sql_free(&body);
    pg_sql_free(&b);
    return rc;
}

/* ---- validate ------------------------------------------------------------------------ */

static co_status side_summary(PGconn *c, const pg_relname *rel, const vcols *v, json_t **out,
                              co_error *err)
{
    pg_sql b;
    PGresult *res = NULL;
    co_status rc;
    pg_sql_init(&b);
    pg_sql_add(&b, "SELECT count(*), coalesce(sum(('x' || pg_catalog.substr(pg_catalog.md5(ROW(");
    col_list(&b, c, "t", v);
    pg_sql_add(&b, ")::text), 1, 15))::bit(60)::bigint::numeric), 0)::text FROM ");
    pg_sql_qname(&b, c, rel->schema, rel->name);
    pg_sql_add(&b, " AS t");
    rc = pg_sql_query(c, "checksum", &b, &res, err);
    if (rc == CO_OK) {
        *out = json_pack("{s:I, s:s}", "count", (json_int_t)pg_res_int(res, 0, 0, 0),
                         "checksum", PQgetvalue(res, 0, 1));
        if (!*out)
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    PQclear(res);
    pg_sql_free(&b);
    return rc;
}

/* Keys of a (alias a) with no row in b, or (different) keys whose rows
 * differ; up to max keys plus the total count. */
static co_status key_diff(PGconn *c, const pg_final_spec *f, const vcols *v,
                          const pg_relname *a, const pg_relname *bb, bool different,
                          size_t max, json_t **out, co_error *err)
{
    pg_sql s;
    PGresult *res = NULL;
    char lim[32];
    const char *params[1] = {lim};
    json_t *keys = NULL;
    long long total = 0;
    co_status rc;
    int r;
    size_t i;

    pg_sql_init(&s);
    pg_sql_add(&s, "SELECT pg_catalog.count(*) OVER (), ");
    key_list(&s, c, "a", f, "::text");
    pg_sql_add(&s, " FROM ");
    pg_sql_qname(&s, c, a->schema, a->name);
    pg_sql_add(&s, " AS a");
    if (different) {
        pg_sql_add(&s, " JOIN ");
        pg_sql_qname(&s, c, bb->schema, bb->name);
        pg_sql_add(&s, " AS b ON ");
        key_match(&s, c, "a", f, NULL, "b");
        pg_sql_add(&s, " WHERE ROW(");
        col_list(&s, c, "a", v);
        pg_sql_add(&s, ")::text IS DISTINCT FROM ROW(");
        col_list(&s, c, "b", v);
        pg_sql_add(&s, ")::text");
    } else {
        pg_sql_add(&s, " WHERE NOT EXISTS (SELECT 1 FROM ");
        pg_sql_qname(&s, c, bb->schema, bb->name);
        pg_sql_add(&s, " AS b WHERE ");
        key_match(&s, c, "a", f, NULL, "b");
        pg_sql_add(&s, ")");
    }
    pg_sql_add(&s, " ORDER BY ");
    key_list(&s, c, "a", f, NULL);
    pg_sql_add(&s, " LIMIT $1::bigint");
    snprintf(lim, sizeof lim, "%zu", max > 0 ? max : 1);
    rc = pg_sql_check(&s, err);
    if (rc == CO_OK)
        rc = pg_exec(c, different ? "compare rows" : "find missing keys", s.data, 1, params,
                     &res, err);
    pg_sql_free(&s);
    if (rc != CO_OK)
        return rc;
    keys = json_array();
    for (r = 0; keys && r < PQntuples(res); r++) {
        json_t *k = json_object();
        total = pg_res_int(res, r, 0, 0);
        for (i = 0; k && i < f->nkey; i++) {
            const char *val = pg_res_get(res, r, (int)i + 1);
            json_object_set_new(k, f->key[i], val ? json_string(val) : json_null());
        }
        if (max > 0 && k)
            json_array_append_new(keys, k);
        else
            json_decref(k);
    }
    PQclear(res);
    *out = keys ? json_pack("{s:I, s:o}", "count", (json_int_t)total, "keys", keys) : NULL;
    if (!*out)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    return CO_OK;
}

co_status pg_viewmig_validate(PGconn *conn, const pg_final_spec *f, size_t max_keys,
                              json_t **report_out, co_error *err)
{
    vcols v;
    json_t *sv = NULL, *sf = NULL, *mf = NULL, *mv = NULL, *df = NULL, *cols = NULL,
           *keys = NULL;
    bool exists = false, match;
    co_status rc;
    size_t i;

    if ((rc = final_begin(conn, f, &v, report_out, err)) != CO_OK)
        return rc;
    if ((rc = table_exists(conn, &f->table, &exists, err)) != CO_OK)
        goto done;
    if (!exists) {
        rc = co_error_set(err, CO_ERR_NOT_FOUND, "table %s.%s does not exist",
                          f->table.schema, f->table.name);
        goto done;
    }
    if ((rc = side_summary(conn, &f->view, &v, &sv, err)) != CO_OK ||
        (rc = side_summary(conn, &f->table, &v, &sf, err)) != CO_OK ||
        (rc = key_diff(conn, f, &v, &f->view, &f->table, false, max_keys, &mf, err)) != CO_OK ||
        (rc = key_diff(conn, f, &v, &f->table, &f->view, false, max_keys, &mv, err)) != CO_OK ||
        (rc = key_diff(conn, f, &v, &f->view, &f->table, true, max_keys, &df, err)) != CO_OK)
        goto done;
    cols = json_array();
    keys = json_array();
    for (i = 0; cols && i < v.n; i++)
        json_array_append_new(cols, json_string(v.items[i].name));
    for (i = 0; keys && i < f->nkey; i++)
        json_array_append_new(keys, json_string(f->key[i]));
    match = json_integer_value(json_object_get(sv, "count")) ==
                json_integer_value(json_object_get(sf, "count")) &&
            json_equal(json_object_get(sv, "checksum"), json_object_get(sf, "checksum")) &&
            json_integer_value(json_object_get(mf, "count")) == 0 &&
            json_integer_value(json_object_get(mv, "count")) == 0 &&
            json_integer_value(json_object_get(df, "count")) == 0;
    *report_out = json_pack("{s:b, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "match", match,
                            "columns", cols, "key", keys, "view", sv, "final", sf,
                            "missing_in_final", mf, "missing_in_view", mv, "different", df);
    if (!*report_out)
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
done:
    json_decref(sv);
    json_decref(sf);
    json_decref(mf);
    json_decref(mv);
    json_decref(df);
    json_decref(cols);
    json_decref(keys);
    vcols_free(&v);
    return rc;
}
