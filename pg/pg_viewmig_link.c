/* pg_viewmig_link.c - postgres_fdw link (pg_viewmig_link_remote) and the
 * JSON parameter parsers of pg_viewmig.h. */
#include "pg/pg_viewmig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pg/pg_sql.h"
#include "core/validate.h"

/* ---- link_remote --------------------------------------------------------- */

static bool has_option(const PGresult *res, const char *name)
{
    int r;
    for (r = 0; res && r < PQntuples(res); r++)
        if (!strcmp(PQgetvalue(res, r, 0), name))
            return true;
    return false;
}

/* "OPTIONS ([SET|ADD] name 'value', ...)" for the given pairs; alter
 * selects SET/ADD by whether existing already has the option. */
static void alter_options(pg_sql *b, PGconn *c, bool alter, const PGresult *existing,
                          const char *const *names, const char *const *values, size_t n)
{
    size_t i;
    pg_sql_add(b, " OPTIONS (");
    for (i = 0; i < n; i++) {
        if (i)
            pg_sql_add(b, ", ");
        if (alter)
            pg_sql_add(b, has_option(existing, names[i]) ? "SET " : "ADD ");
        pg_sql_add(b, names[i]); /* fixed option names from this file */
        pg_sql_add(b, " ");
        pg_sql_literal(b, c, values[i]);
    }
    pg_sql_add(b, ")");
}

static void mapping_role(pg_sql *b, PGconn *c, const char *role)
{
    if (!role)
        pg_sql_add(b, "CURRENT_USER");
    else if (!strcasecmp(role, "public"))
        pg_sql_add(b, "PUBLIC");
    else
        pg_sql_ident(b, c, role);
}

static co_status ensure_server(PGconn *c, const pg_fdw_link *l, bool *created, pg_sql *b,
                               co_error *err)
{
    static const char sql_server[] =
        "SELECT w.fdwname FROM pg_catalog.pg_foreign_server s"
        " JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw"
        " WHERE s.srvname = $1";
    static const char sql_opts[] =
        "SELECT option_name FROM pg_catalog.pg_options_to_table("
        " (SELECT srvoptions FROM pg_catalog.pg_foreign_server WHERE srvname = $1))";
    const char *names[3] = {"host", "port", "dbname"};
    const char *values[3];
    const char *params[1] = {l->server};
    char port[16];
    PGresult *res = NULL;
    co_status rc;

    snprintf(port, sizeof port, "%d", l->port > 0 ? l->port : 5432);
    values[0] = l->host;
    values[1] = port;
    values[2] = l->dbname;
    if ((rc = pg_exec(c, "look up foreign server", sql_server, 1, params, &res, err)) != CO_OK)
        return rc;
    *created = PQntuples(res) == 0;
    if (!*created && strcmp(PQgetvalue(res, 0, 0), "postgres_fdw") != 0) {
        PQclear(res);
        return co_error_set(err, CO_ERR_CONFLICT, "foreign server %s uses another wrapper",
                            l->server);
    }
    PQclear(res);
    res = NULL;
    if (*created) {
        pg_sql_add(b, "CREATE SERVER ");
        pg_sql_ident(b, c, l->server);
        pg_sql_add(b, " FOREIGN DATA WRAPPER postgres_fdw");
        alter_options(b, c, false, NULL, names, values, 3);
        return pg_sql_run(c, "create foreign server", b, err);
    }
    if ((rc = pg_exec(c, "read server options", sql_opts, 1, params, &res, err)) != CO_OK)
        return rc;
    pg_sql_add(b, "ALTER SERVER ");
    pg_sql_ident(b, c, l->server);
    alter_options(b, c, true, res, names, values, 3);
    PQclear(res);
    return pg_sql_run(c, "update foreign server", b, err);
}

static co_status ensure_mapping(PGconn *c, const pg_fdw_link *l, pg_sql *b, co_error *err)
{
    static const char sql_map[] =
        "SELECT option_name FROM pg_catalog.pg_options_to_table("
        " (SELECT umoptions FROM pg_catalog.pg_user_mappings"
        "  WHERE srvname = $1 AND usename = coalesce($2, CURRENT_USER::text)))";
    const char *names[2] = {"user", "password"};
    const char *values[2] = {l->user, l->password ? l->password : ""};
    const char *role = l->local_role;
    const char *params[2];
    PGresult *res = NULL;
    co_status rc;
    size_t nopt = l->password ? 2 : 1;

    pg_sql_add(b, "CREATE USER MAPPING IF NOT EXISTS FOR ");
    mapping_role(b, c, role);
    pg_sql_add(b, " SERVER ");
    pg_sql_ident(b, c, l->server);
    if ((rc = pg_sql_run(c, "create user mapping", b, err)) != CO_OK)
        return rc;
    params[0] = l->server;
    params[1] = role && !strcasecmp(role, "public") ? "public" : role;
    if ((rc = pg_exec(c, "read user mapping", sql_map, 2, params, &res, err)) != CO_OK)
        return rc;
    pg_sql_add(b, "ALTER USER MAPPING FOR ");
    mapping_role(b, c, role);
    pg_sql_add(b, " SERVER ");
    pg_sql_ident(b, c, l->server);
    alter_options(b, c, true, res, names, values, nopt);
    PQclear(res);
    /* the message never includes the statement, so no secret leaks */
    return pg_sql_run(c, "update user mapping", b, err);
}

static co_status import_tables(PGconn *c, const pg_fdw_link *l, json_t *imported,
                               json_t *present, pg_sql *b, co_error *err)
{
    static const char sql_rel[] =
        "SELECT c.relkind::text FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relname = $2";
    size_t i, missing = 0;
    co_status rc;

    pg_sql_add(b, "IMPORT FOREIGN SCHEMA ");
    pg_sql_ident(b, c, l->remote_schema);
    pg_sql_add(b, " LIMIT TO (");
    for (i = 0; i < l->ntables; i++) {
        const char *params[2] = {l->local_schema, l->tables[i]};
        PGresult *res = NULL;
        if ((rc = pg_exec(c, "look up local table", sql_rel, 2, params, &res, err)) != CO_OK)
            return rc;
        if (PQntuples(res) > 0) {
            bool foreign = !strcmp(PQgetvalue(res, 0, 0), "f");
            PQclear(res);
            if (!foreign)
                return co_error_set(err, CO_ERR_CONFLICT,
                                    "%s.%s exists and is not a foreign table",
                                    l->local_schema, l->tables[i]);
            json_array_append_new(present, json_string(l->tables[i]));
            continue;
        }
        PQclear(res);
        if (missing++)
            pg_sql_add(b, ", ");
        pg_sql_ident(b, c, l->tables[i]);
        json_array_append_new(imported, json_string(l->tables[i]));
    }
    pg_sql_add(b, ") FROM SERVER ");
    pg_sql_ident(b, c, l->server);
    pg_sql_add(b, " INTO ");
    pg_sql_ident(b, c, l->local_schema);
    if (missing == 0) {
        pg_sql_reset(b);
        return CO_OK;
    }
    if ((rc = pg_sql_run(c, "import foreign schema", b, err)) != CO_OK)
        return rc;
    /* IMPORT silently skips tables the remote side does not have. */
    for (i = 0; i < json_array_size(imported); i++) {
        const char *params[2] = {l->local_schema,
                                 json_string_value(json_array_get(imported, i))};
        PGresult *res = NULL;
        bool found;
        if ((rc = pg_exec(c, "check imported table", sql_rel, 2, params, &res, err)) != CO_OK)
            return rc;
        found = PQntuples(res) > 0;
        PQclear(res);
        if (!found)
            return co_error_set(err, CO_ERR_NOT_FOUND, "remote table %s.%s not found",
                                l->remote_schema, params[1]);
    }
    return CO_OK;
}

co_status pg_viewmig_link_remote(PGconn *conn, const pg_fdw_link *l, json_t **report_out,
                                 co_error *err)
{
    json_t *imported = json_array(), *present = json_array();
    bool created = false;
    pg_sql b;
    co_status rc;

    if (report_out)
        *report_out = NULL;
    if (!imported || !present) {
        json_decref(imported);
        json_decref(present);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    if (!l->server || !*l->server || !l->host || !l->dbname || !l->user ||
        !l->remote_schema || !l->local_schema || l->ntables == 0) {
        json_decref(imported);
        json_decref(present);
        return co_error_set(err, CO_ERR_INVALID,
                            "link needs server, host, dbname, user, remote_schema, "
                            "local_schema and at least one table");
    }
    pg_sql_init(&b);
    if ((rc = pg_begin(conn, err)) != CO_OK)
        goto fail;
    pg_sql_add(&b, "CREATE EXTENSION IF NOT EXISTS postgres_fdw");
    if ((rc = pg_sql_run(conn, "create extension postgres_fdw", &b, err)) != CO_OK ||
        (rc = ensure_server(conn, l, &created, &b, err)) != CO_OK ||
        (rc = ensure_mapping(conn, l, &b, err)) != CO_OK)
        goto fail;
    pg_sql_add(&b, "CREATE SCHEMA IF NOT EXISTS ");
    pg_sql_ident(&b, conn, l->local_schema);
    if ((rc = pg_sql_run(conn, "create local schema", &b, err)) != CO_OK ||
        (rc = import_tables(conn, l, imported, present, &b, err)) != CO_OK ||
        (rc = pg_commit(conn, err)) != CO_OK)
        goto fail;
    pg_sql_free(&b);
    return pg_report_out(json_pack("{s:s, s:b, s:o, s:o}", "server", l->server,
                                   "server_created", created, "imported", imported,
                                   "present", present),
                         report_out, err);
fail:
    pg_rollback(conn);
    pg_sql_free(&b);
    json_decref(imported);
    json_decref(present);
    return rc;
}

/* ---- JSON parameters ------------------------------------------------------- */

/* v_str, with "" taken as absent. */
static const char *get_str(const json_t *o, const char *k)
{
    const char *s = v_str(o, k);
    return s && *s ? s : NULL;
}

static co_status need_str(const json_t *o, const char *k, const char *pointer,
                          const char **out, co_error *err)
{
    char p[512];
    *out = get_str(o, k);
    if (*out)
        return CO_OK;
    snprintf(p, sizeof p, "%s/%s", pointer, k);
    return co_error_field(err, p, "must be a non-empty string");
}

static co_status relname(const json_t *o, const char *k, const char *pointer, pg_relname *out,
                         co_error *err)
{
    char p[400];
    const json_t *r = json_object_get(o, k);
    co_status rc = CO_OK;
    snprintf(p, sizeof p, "%s/%s", pointer, k);
    if (!json_is_object(r))
        return co_error_field(err, p, "must be {\"schema\",\"name\"}");
    if (need_str(r, "schema", p, &out->schema, err) != CO_OK)
        rc = CO_ERR_INVALID;
    if (need_str(r, "name", p, &out->name, err) != CO_OK)
        rc = CO_ERR_INVALID;
    return rc;
}

/* Non-empty array of non-empty strings -> allocated const char* array. */
static co_status str_array(const json_t *o, const char *k, const char *pointer,
                           const char ***out, size_t *n, co_error *err)
{
    const json_t *a = json_object_get(o, k), *v;
    char p[200];
    size_t i;
    const char **arr;
    *out = NULL;
    *n = 0;
    snprintf(p, sizeof p, "%s/%s", pointer, k);
    if (!json_is_array(a) || json_array_size(a) == 0)
        return co_error_field(err, p, "must be a non-empty array of strings");
    if (!(arr = calloc(json_array_size(a), sizeof *arr)))
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || !*json_string_value(v)) {
            snprintf(p, sizeof p, "%s/%s/%zu", pointer, k, i);
            free(arr);
            return co_error_field(err, p, "must be a non-empty string");
        }
        arr[i] = json_string_value(v);
    }
    *out = arr;
    *n = json_array_size(a);
    return CO_OK;
}

/* Starts reading the object o found at JSON pointer *pointer (NULL is
 * taken as the document root "") into out, which is zeroed (size bytes).
 * Returns CO_OK, or CO_ERR_INVALID naming the pointer when o is no
 * object. */
static co_status spec_begin(const json_t *o, const char **pointer, void *out, size_t size,
                            co_error *err)
{
    memset(out, 0, size);
    if (!*pointer)
        *pointer = "";
    if (!json_is_object(o))
        return co_error_field(err, (*pointer)[0] ? *pointer : "/", "must be an object");
    return CO_OK;
}

/* Ends a parsed spec: frees its arrays a and b (either may be NULL) and
 * zeroes the spec (size bytes). */
static void spec_free(void *spec, size_t size, const void *a, const void *b)
{
    free((void *)a);
    free((void *)b);
    memset(spec, 0, size);
}

void pg_fdw_link_clear(pg_fdw_link *link)
{
    if (link)
        spec_free(link, sizeof *link, link->tables, NULL);
}

void pg_view_spec_clear(pg_view_spec *spec)
{
    if (spec)
        spec_free(spec, sizeof *spec, spec->keys, spec->columns);
}

void pg_final_spec_clear(pg_final_spec *spec)
{
    if (spec)
        spec_free(spec, sizeof *spec, spec->key, NULL);
}

co_status pg_fdw_link_from_json(const json_t *o, const char *pointer, pg_fdw_link *out,
                                co_error *err)
{
    const json_t *port = json_object_get(o, "port");
    co_status rc = CO_OK;
    char p[200];
    if ((rc = spec_begin(o, &pointer, out, sizeof *out, err)) != CO_OK)
        return rc;
    if (need_str(o, "server", pointer, &out->server, err) ||
        need_str(o, "host", pointer, &out->host, err) ||
        need_str(o, "dbname", pointer, &out->dbname, err) ||
        need_str(o, "user", pointer, &out->user, err) ||
        need_str(o, "remote_schema", pointer, &out->remote_schema, err) ||
        need_str(o, "local_schema", pointer, &out->local_schema, err))
        rc = CO_ERR_INVALID;
    out->password = get_str(o, "password");
    out->local_role = get_str(o, "local_role");
    if (json_is_integer(port) && json_integer_value(port) > 0 &&
        json_integer_value(port) < 65536) {
        out->port = (int)json_integer_value(port);
    } else if (port && !json_is_null(port)) {
        snprintf(p, sizeof p, "%s/port", pointer);
        rc = co_error_field(err, p, "must be a TCP port");
    }
    if (rc == CO_OK)
        rc = str_array(o, "tables", pointer, (const char ***)&out->tables, &out->ntables, err);
    return rc;
}

static co_status parse_join(const char *s, pg_join_type *out)
{
    static const char *const names[PG_JOIN_LAST] = {"inner", "left", "right", "full"};
    int i;
    for (i = 0; i < PG_JOIN_LAST; i++)
        if (s && !strcasecmp(s, names[i])) {
            *out = (pg_join_type)i;
            return CO_OK;
        }
    return CO_ERR_INVALID;
}

co_status pg_view_spec_from_json(const json_t *o, const char *pointer, pg_view_spec *out,
                                 co_error *err)
{
    const json_t *keys = json_object_get(o, "keys"), *cols = json_object_get(o, "columns"), *v;
    pg_join_key *k = NULL;
    pg_view_column *c = NULL;
    co_status rc = CO_OK;
    char p[200];
    size_t i;

    if ((rc = spec_begin(o, &pointer, out, sizeof *out, err)) != CO_OK)
        return rc;
    if (relname(o, "view", pointer, &out->view, err) ||
        relname(o, "left", pointer, &out->left, err) ||
        relname(o, "right", pointer, &out->right, err))
        rc = CO_ERR_INVALID;
    if (parse_join(get_str(o, "join") ? get_str(o, "join") : "inner", &out->join)) {
        snprintf(p, sizeof p, "%s/join", pointer);
        rc = co_error_field(err, p, "must be inner, left, right or full");
    }
    if (!json_is_array(keys) || !json_array_size(keys)) {
        snprintf(p, sizeof p, "%s/keys", pointer);
        return co_error_field(err, p, "must be a non-empty array of {\"left\",\"right\"}");
    }
    if (!json_is_array(cols) || !json_array_size(cols)) {
        snprintf(p, sizeof p, "%s/columns", pointer);
        return co_error_field(err, p, "must be a non-empty array of columns");
    }
    out->keys = k = calloc(json_array_size(keys), sizeof *k);
    out->columns = c = calloc(json_array_size(cols), sizeof *c);
    if (!k || !c) {
        pg_view_spec_clear(out);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    out->nkeys = json_array_size(keys);
    out->ncolumns = json_array_size(cols);
    json_array_foreach(keys, i, v) {
        snprintf(p, sizeof p, "%s/keys/%zu", pointer, i);
        if (need_str(v, "left", p, &k[i].left, err) || need_str(v, "right", p, &k[i].right, err))
            rc = CO_ERR_INVALID;
    }
    json_array_foreach(cols, i, v) {
        const char *side = get_str(v, "side");
        snprintf(p, sizeof p, "%s/columns/%zu", pointer, i);
        if (need_str(v, "column", p, &c[i].column, err))
            rc = CO_ERR_INVALID;
        c[i].alias = get_str(v, "alias");
        if (side && !strcasecmp(side, "left")) {
            c[i].side = PG_SIDE_LEFT;
        } else if (side && !strcasecmp(side, "right")) {
            c[i].side = PG_SIDE_RIGHT;
        } else {
            snprintf(p, sizeof p, "%s/columns/%zu/side", pointer, i);
            rc = co_error_field(err, p, "must be left or right");
        }
    }
    if (rc != CO_OK)
        pg_view_spec_clear(out); /* the half-made spec */
    return rc;
}

co_status pg_final_spec_from_json(const json_t *o, const char *pointer, pg_final_spec *out,
                                  co_error *err)
{
    co_status rc = CO_OK;
    if ((rc = spec_begin(o, &pointer, out, sizeof *out, err)) != CO_OK)
        return rc;
    if (relname(o, "table", pointer, &out->table, err) ||
        relname(o, "view", pointer, &out->view, err))
        rc = CO_ERR_INVALID;
    if (rc == CO_OK)
        rc = str_array(o, "key", pointer, (const char ***)&out->key, &out->nkey, err);
    return rc;
}
