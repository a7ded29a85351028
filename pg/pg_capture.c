/* pg_capture.c - capture, merge and drop (see pg_capture.h). The restore
 * side and the script live in pg_capture_restore.c. */
#include "pg/pg_capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_sql.h"
#include "core/validate.h"

#define CAPTURE_FORMAT "cutover-capture/1"

static const char sql_fks[] =
    "WITH " PG_SCOPE_TABLES_CTE
    " SELECT n.nspname, c.relname, k.conname,"
    "        pg_catalog.pg_get_constraintdef(k.oid), k.convalidated,"
    "        c.relkind = 'p', pg_catalog.obj_description(k.oid, 'pg_constraint')"
    " FROM pg_catalog.pg_constraint k"
    " JOIN pg_catalog.pg_class c ON c.oid = k.conrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE k.contype = 'f' AND k.conparentid = 0"
    "   AND (k.conrelid IN (SELECT oid FROM scope_tables)"
    "        OR k.confrelid IN (SELECT oid FROM scope_tables))"
    " ORDER BY 1, 2, 3";

static const char sql_indexes[] =
    "WITH " PG_SCOPE_TABLES_CTE
    " SELECT t.nspname, t.relname, ic.relname,"
    "        pg_catalog.pg_get_indexdef(i.indexrelid), ic.relkind = 'I',"
    "        pc.relname, ts.spcname, i.indisclustered,"
    "        pg_catalog.obj_description(i.indexrelid, 'pg_class'), pn.nspname"
    " FROM pg_catalog.pg_index i"
    " JOIN scope_tables t ON t.oid = i.indrelid"
    " JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
    " LEFT JOIN pg_catalog.pg_inherits h ON h.inhrelid = i.indexrelid"
    " LEFT JOIN pg_catalog.pg_class pc ON pc.oid = h.inhparent"
    " LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace"
    " LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = ic.reltablespace"
    " WHERE NOT i.indisprimary AND NOT i.indisunique AND NOT i.indisexclusion"
    "   AND NOT i.indisreplident"
    "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k"
    "                   WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))"
    "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint f"
    "                   WHERE f.conindid = i.indexrelid AND f.contype = 'f')"
    "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
    "                   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
    "                     AND d.objid = i.indexrelid AND d.deptype IN ('i', 'e'))"
    " ORDER BY 1, 3";

static const char sql_triggers[] =
    "WITH " PG_SCOPE_TABLES_CTE
    " SELECT t.nspname, t.relname, g.tgname, g.tgenabled::text, g.tgparentid <> 0"
    " FROM pg_catalog.pg_trigger g"
    " JOIN scope_tables t ON t.oid = g.tgrelid"
    " WHERE NOT g.tgisinternal"
    " ORDER BY 5, 1, 2, 3";

/* ---- shape ------------------------------------------------------------ */

static co_status check_items(const json_t *arr, const char *what,
                             const char *const *strings, const char *const *bools,
                             co_error *err)
{
    size_t i, j;
    const json_t *it;
    if (!json_is_array(arr))
        return co_error_set(err, CO_ERR_INVALID, "capture: %s must be an array", what);
    json_array_foreach(arr, i, it) {
        if (!json_is_object(it))
            return co_error_set(err, CO_ERR_INVALID, "capture: %s[%zu] must be an object",
                                what, i);
        for (j = 0; strings[j]; j++) {
            const char *s = v_str(it, strings[j]);
            if (!s || !*s)
                return co_error_set(err, CO_ERR_INVALID,
                                    "capture: %s[%zu].%s must be a non-empty string",
                                    what, i, strings[j]);
        }
        for (j = 0; bools && bools[j]; j++)
            if (!json_is_boolean(json_object_get(it, bools[j])))
                return co_error_set(err, CO_ERR_INVALID,
                                    "capture: %s[%zu].%s must be a boolean", what, i,
                                    bools[j]);
    }
    return CO_OK;
}

co_status pg_capture_validate(const json_t *capture, co_error *err)
{
    static const char *const fk_s[] = {"schema", "table", "name", "definition", NULL};
    static const char *const fk_b[] = {"validated", "partitioned", NULL};
    static const char *const ix_s[] = {"schema", "table", "name", "definition", NULL};
    static const char *const ix_b[] = {"partitioned", "clustered", NULL};
    static const char *const tg_s[] = {"schema", "table", "name", "enabled", NULL};
    static const char *const tg_b[] = {"clone", NULL};
    const char *fmt;
    size_t i;
    const json_t *it;
    co_status rc;

    if (!json_is_object(capture))
        return co_error_set(err, CO_ERR_INVALID, "capture must be a JSON object");
    fmt = v_str(capture, "format");
    if (!fmt || strcmp(fmt, CAPTURE_FORMAT) != 0)
        return co_error_set(err, CO_ERR_INVALID, "capture format must be %s",
                            CAPTURE_FORMAT);
    if ((rc = check_items(json_object_get(capture, "foreign_keys"), "foreign_keys",
                          fk_s, fk_b, err)) != CO_OK ||
        (rc = check_items(json_object_get(capture, "indexes"), "indexes", ix_s,
                          ix_b, err)) != CO_OK ||
        (rc = check_items(json_object_get(capture, "triggers"), "triggers", tg_s,
                          tg_b, err)) != CO_OK)
        return rc;
    json_array_foreach(json_object_get(capture, "indexes"), i, it) {
        const char *def = v_str(it, "definition");
        if (strncmp(def, "CREATE INDEX ", 13) != 0 &&
            strncmp(def, "CREATE UNIQUE INDEX ", 20) != 0)
            return co_error_set(err, CO_ERR_INVALID,
                                "capture: indexes[%zu].definition is not CREATE INDEX", i);
    }
    json_array_foreach(json_object_get(capture, "triggers"), i, it) {
        const char *e = v_str(it, "enabled");
        if (strlen(e) != 1 || !strchr("ODRA", e[0]))
            return co_error_set(err, CO_ERR_INVALID,
                                "capture: triggers[%zu].enabled must be O, D, R or A", i);
    }
    return CO_OK;
}

/* ---- take --------------------------------------------------------------- */

/* How one result column becomes a member of the captured object. */
typedef enum col_kind { COL_TEXT, COL_BOOL, COL_OPT_TEXT } col_kind;
typedef struct col_def {
    const char *member;
    int col;
    col_kind kind;
} col_def;

/* The members taken from each row of sql_fks, sql_indexes and sql_triggers. */
static const col_def fk_cols[] = {
    {"schema", 0, COL_TEXT},      {"table", 1, COL_TEXT},        {"name", 2, COL_TEXT},
    {"definition", 3, COL_TEXT},  {"validated", 4, COL_BOOL},    {"partitioned", 5, COL_BOOL},
    {"comment", 6, COL_OPT_TEXT}, {NULL, 0, COL_TEXT}};
static const col_def index_cols[] = {
    {"schema", 0, COL_TEXT},          {"table", 1, COL_TEXT},
    {"name", 2, COL_TEXT},            {"definition", 3, COL_TEXT},
    {"partitioned", 4, COL_BOOL},     {"parent", 5, COL_OPT_TEXT},
    {"parent_schema", 9, COL_OPT_TEXT}, {"tablespace", 6, COL_OPT_TEXT},
    {"clustered", 7, COL_BOOL},       {"comment", 8, COL_OPT_TEXT},
    {NULL, 0, COL_TEXT}};
static const col_def trigger_cols[] = {
    {"schema", 0, COL_TEXT}, {"table", 1, COL_TEXT}, {"name", 2, COL_TEXT},
    {"enabled", 3, COL_TEXT}, {"clone", 4, COL_BOOL}, {NULL, 0, COL_TEXT}};

/* Appends one object per row of res to out, members as cols say (a NULL
 * optional text becomes JSON null). Errors: CO_ERR_NOMEM. */
static co_status rows_to_json(const PGresult *res, const col_def *cols, json_t *out)
{
    for (int r = 0; r < PQntuples(res); r++) {
        json_t *o = json_object();
        if (!o || json_array_append_new(out, o))
            return CO_ERR_NOMEM;
        for (const col_def *c = cols; c->member; c++) {
            const char *v = pg_res_get(res, r, c->col);
            json_t *j = c->kind == COL_BOOL ? json_boolean(pg_res_bool(res, r, c->col))
                        : v                 ? json_string(v)
                        : c->kind == COL_TEXT ? json_string("")
                                              : json_null();
            if (!j || json_object_set_new(o, c->member, j))
                return CO_ERR_NOMEM;
        }
    }
    return CO_OK;
}

/* Identity of an object inside one array: schema, table and name joined by
 * an ASCII unit separator (which cannot appear in a PostgreSQL identifier
 * typed by a person, and at worst makes two keys collide harmlessly). For
 * indexes the table is left out: index names are unique per schema. */
static char *object_key(const json_t *o, bool with_table)
{
    const char *s = v_str(o, "schema"), *t = v_str(o, "table"), *n = v_str(o, "name");
    size_t len = strlen(s) + strlen(n) + (with_table ? strlen(t) : 0) + 3;
    char *k = malloc(len);
    if (!k)
        return NULL;
    if (with_table)
        snprintf(k, len, "%s\x1f%s\x1f%s", s, t, n);
    else
        snprintf(k, len, "%s\x1f%s", s, n);
    return k;
}

/* Indexes whose parent index is not captured cannot be dropped on their own
 * (the parent requires them); leave them out, repeatedly, so that chains
 * resolve. */
static co_status prune_orphans(json_t *indexes)
{
    bool changed = true;
    while (changed) {
        json_t *names = json_object();
        size_t i;
        json_t *it;
        if (!names)
            return CO_ERR_NOMEM;
        changed = false;
        json_array_foreach(indexes, i, it) {
            char *k = object_key(it, false);
            if (!k || json_object_set_new(names, k, json_true())) {
                free(k);
                json_decref(names);
                return CO_ERR_NOMEM;
            }
            free(k);
        }
        for (i = 0; i < json_array_size(indexes);) {
            json_t *ix = json_array_get(indexes, i);
            const char *parent = v_str(ix, "parent");
            if (parent) {
                const char *ps = v_str(ix, "parent_schema");
                json_t *probe = json_pack("{s:s, s:s}", "schema",
                                          ps ? ps : v_str(ix, "schema"), "name", parent);
                char *k = probe ? object_key(probe, false) : NULL;
                bool known = k && json_object_get(names, k);
                json_decref(probe);
                free(k);
                if (!known) {
                    json_array_remove(indexes, i);
                    changed = true;
                    continue;
                }
            }
            i++;
        }
        json_decref(names);
    }
    return CO_OK;
}

/* result = previous[...] + current items not in previous. */
static co_status merge_array(const json_t *prev, const json_t *cur, bool with_table,
                             json_t **out)
{
    json_t *seen = json_object(), *res = json_array();
    const json_t *const from[2] = {prev, cur};
    size_t i;
    json_t *it;
    if (!seen || !res)
        goto nomem;
    for (int f = 0; f < 2; f++)
        json_array_foreach(from[f], i, it) {
            char *k = object_key(it, with_table);
            if (!k)
                goto nomem;
            if (!json_object_get(seen, k) &&
                (json_object_set_new(seen, k, json_true()) || json_array_append(res, it))) {
                free(k);
                goto nomem;
            }
            free(k);
        }
    json_decref(seen);
    *out = res;
    return CO_OK;
nomem:
    json_decref(seen);
    json_decref(res);
    return CO_ERR_NOMEM;
}

static co_status query_rows(PGconn *conn, const char *what, const char *sql,
                            const char *param, const col_def *cols, json_t *out,
                            co_error *err)
{
    const char *params[1] = {param};
    PGresult *res = NULL;
    co_status rc = pg_exec(conn, what, sql, 1, params, &res, err);
    if (rc != CO_OK)
        return rc;
    rc = rows_to_json(res, cols, out);
    PQclear(res);
    if (rc != CO_OK)
        return co_error_set(err, rc, "out of memory building the capture");
    return CO_OK;
}

enum { KIND_FKS, KIND_INDEXES, KIND_TRIGGERS, NKINDS };

/* The three lists of a capture: member, the query that reads it, its
 * columns, and whether an object's identity includes its table. */
static const struct {
    const char *member, *what, *sql;
    const col_def *cols;
    bool with_table;
} kinds[] = {
    [KIND_FKS] = {"foreign_keys", "capture foreign keys", sql_fks, fk_cols, true},
    [KIND_INDEXES] = {"indexes", "capture indexes", sql_indexes, index_cols, false},
    [KIND_TRIGGERS] = {"triggers", "capture triggers", sql_triggers, trigger_cols, true},
};

co_status pg_capture_take(PGconn *conn, const pg_scope *scope, const json_t *previous,
                          json_t **capture_out, co_error *err)
{
    json_t *cur[NKINDS] = {NULL}, *merged[NKINDS] = {NULL}, *cap;
    char *param = NULL;
    co_status rc;
    size_t k;

    *capture_out = NULL;
    if (previous && (rc = pg_capture_validate(previous, err)) != CO_OK)
        return rc;
    if (!(param = pg_scope_param_new(scope, err)))
        return err ? err->status : CO_ERR_INVALID;
    if ((rc = pg_scope_check(conn, scope, err)) != CO_OK)
        goto done;
    if ((rc = pg_exec_simple(conn, "begin capture",
                             "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL,
                             err)) != CO_OK)
        goto done;
    for (k = 0; rc == CO_OK && k < NKINDS; k++) {
        if (!(cur[k] = json_array()))
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        else
            rc = query_rows(conn, kinds[k].what, kinds[k].sql, param, kinds[k].cols, cur[k],
                            err);
    }
    pg_rollback(conn); /* read-only: nothing to commit */
    if (rc != CO_OK)
        goto done;
    rc = prune_orphans(cur[KIND_INDEXES]);
    for (k = 0; rc == CO_OK && k < NKINDS; k++)
        rc = merge_array(json_object_get(previous, kinds[k].member), cur[k],
                         kinds[k].with_table, &merged[k]);
    if (rc != CO_OK) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory merging the capture");
        goto done;
    }
    cap = json_pack("{s:s, s:O, s:O, s:O}", "format", CAPTURE_FORMAT,
                    kinds[KIND_FKS].member, merged[KIND_FKS], kinds[KIND_INDEXES].member,
                    merged[KIND_INDEXES], kinds[KIND_TRIGGERS].member, merged[KIND_TRIGGERS]);
    if (!cap) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory building the capture");
        goto done;
    }
    *capture_out = cap;
done:
    for (k = 0; k < NKINDS; k++) {
        json_decref(cur[k]);
        json_decref(merged[k]);
    }
    free(param);
    return rc;
}

/* ---- drop --------------------------------------------------------------- */

co_status pg_capture_drop(PGconn *conn, const json_t *capture, co_error *err)
{
    json_t *tables = NULL, *it;
    size_t i;
    pg_sql b;
    char what[300], disp[256];
    co_status rc;

    if ((rc = pg_capture_validate(capture, err)) != CO_OK)
        return rc;
    pg_sql_init(&b);
    if ((rc = pg_begin(conn, err)) != CO_OK)
        return rc;
    json_array_foreach(json_object_get(capture, "foreign_keys"), i, it) {
        pg_sql_add(&b, "ALTER TABLE IF EXISTS ");
        pg_sql_qname(&b, conn, v_str(it, "schema"), v_str(it, "table"));
        pg_sql_add(&b, " DROP CONSTRAINT IF EXISTS ");
        pg_sql_ident(&b, conn, v_str(it, "name"));
        snprintf(what, sizeof what, "drop foreign key %s on %s", v_str(it, "name"),
                 pg_sql_display_name(v_str(it, "schema"), v_str(it, "table"), disp,
                                     sizeof disp));
        if ((rc = pg_sql_run(conn, what, &b, err)) != CO_OK)
            goto fail;
    }
    json_array_foreach(json_object_get(capture, "indexes"), i, it) {
        if (v_str(it, "parent"))
            continue; /* dropped with its parent */
        pg_sql_add(&b, "DROP INDEX IF EXISTS ");
        pg_sql_qname(&b, conn, v_str(it, "schema"), v_str(it, "name"));
        snprintf(what, sizeof what, "drop index %s",
                 pg_sql_display_name(v_str(it, "schema"), v_str(it, "name"), disp,
                                     sizeof disp));
        if ((rc = pg_sql_run(conn, what, &b, err)) != CO_OK)
            goto fail;
    }
    /* One DISABLE TRIGGER USER per table, parents before partitions is not
     * needed here: every table ends up disabled. */
    tables = json_object();
    if (!tables) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto fail;
    }
    json_array_foreach(json_object_get(capture, "triggers"), i, it) {
        json_t *k = json_pack("{s:s, s:s, s:s}", "schema", v_str(it, "schema"), "table",
                              v_str(it, "table"), "name", "");
        char *ks = k ? object_key(k, true) : NULL;
        json_decref(k);
        if (!ks) {
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (!json_object_get(tables, ks)) {
            json_object_set_new(tables, ks, json_true());
            pg_sql_add(&b, "ALTER TABLE IF EXISTS ");
            pg_sql_qname(&b, conn, v_str(it, "schema"), v_str(it, "table"));
            pg_sql_add(&b, " DISABLE TRIGGER USER");
            snprintf(what, sizeof what, "disable triggers on %s",
                     pg_sql_display_name(v_str(it, "schema"), v_str(it, "table"), disp,
                                         sizeof disp));
            if ((rc = pg_sql_run(conn, what, &b, err)) != CO_OK) {
                free(ks);
                goto fail;
            }
        }
        free(ks);
    }
    json_decref(tables);
    pg_sql_free(&b);
    return pg_commit(conn, err);
fail:
    json_decref(tables);
    pg_sql_free(&b);
    pg_rollback(conn);
    return rc;
}

co_status pg_capture_prepare_target(PGconn *conn, const pg_scope *scope,
                                    const json_t *previous, json_t **capture_out,
                                    char **script_out, co_error *err)
{
    json_t *cap = NULL;
    char *script = NULL;
    co_status rc;

    *capture_out = NULL;
    if (script_out)
        *script_out = NULL;
    if ((rc = pg_capture_take(conn, scope, previous, &cap, err)) != CO_OK)
        return rc;
    if (script_out) {
        script = pg_capture_script_new(conn, cap, PG_SCRIPT_ALL, err);
        if (!script) {
            json_decref(cap);
            return err ? err->status : CO_ERR_NOMEM;
        }
    }
    if ((rc = pg_capture_drop(conn, cap, err)) != CO_OK) {
        json_decref(cap);
        free(script);
        return rc;
    }
    *capture_out = cap;
    if (script_out)
        *script_out = script;
    return CO_OK;
}
