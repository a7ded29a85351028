/* pg_scope.h - which tables a pg_ operation acts on: a set of schemas and an
 * optional list of tables in them.
 *
 * The scope reaches SQL as ONE bound jsonb parameter (pg_scope_param_new),
 * {"schemas":["s1",...],"tables":[{"schema":"s1","name":"t"},...]}, which
 * the statements unpack with jsonb_array_elements; names are compared with
 * the catalog as plain text, so any identifier (quotes, spaces, mixed case,
 * non-ASCII) works and nothing is spliced.
 */
#ifndef CUTOVER_PG_SCOPE_H
#define CUTOVER_PG_SCOPE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "core/status.h"

/* A relation name: schema and name exactly as in the catalog (unquoted).
 * Strings are borrowed. schema NULL means "any schema of the scope". */
typedef struct pg_relname {
    const char *schema, *name;
} pg_relname;

/* Schemas (at least one) and optionally tables within them (ntables 0 =
 * every ordinary and partitioned table of the schemas). Arrays and strings
 * are borrowed from the caller. */
typedef struct pg_scope {
    const char *const *schemas;
    size_t nschemas;
    const pg_relname *tables;
    size_t ntables;
} pg_scope;

/* SQL text of a CTE named scope_tables(oid, nspname, relname, relkind)
 * listing the in-scope tables (relkind r or p), reading the scope from
 * parameter $1 (jsonb). Use as "WITH " PG_SCOPE_TABLES_CTE " SELECT ...". */
#define PG_SCOPE_TABLES_CTE                                                      \
    "scope_tables AS ("                                                          \
    " SELECT c.oid, n.nspname, c.relname, c.relkind"                             \
    " FROM pg_catalog.pg_class c"                                                \
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"                  \
    " WHERE c.relkind IN ('r', 'p')"                                             \
    "  AND n.nspname IN (SELECT jsonb_array_elements_text($1::jsonb -> 'schemas'))" \
    "  AND (jsonb_array_length($1::jsonb -> 'tables') = 0 OR EXISTS ("           \
    "   SELECT 1 FROM jsonb_array_elements($1::jsonb -> 'tables') t"             \
    "   WHERE t ->> 'name' = c.relname"                                          \
    "     AND coalesce(t ->> 'schema', n.nspname) = n.nspname)))"

/* Returns the scope as the JSON text for $1 (caller frees with free()), or
 * NULL with err set (CO_ERR_INVALID: no schema, empty names; CO_ERR_NOMEM). */
char *pg_scope_param_new(const pg_scope *scope, co_error *err);

/* Parses {"schemas":[...], "tables":[{"schema","name"} | "name", ...]} into
 * *out. The arrays in *out are allocated (release with pg_scope_clear); the
 * strings are borrowed from obj. Errors: CO_ERR_INVALID with field entries
 * under `pointer`; CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_scope_from_json(const json_t *obj, const char *pointer,
                                           pg_scope *out, co_error *err);

/* Frees the arrays allocated by pg_scope_from_json and zeroes *scope. */
void pg_scope_clear(pg_scope *scope);

/* Checks that every schema of the scope exists in conn's database.
 * Errors: CO_ERR_NOT_FOUND naming the first missing schema; see
 * pg_conn_fail for database errors. */
CO_MUST_CHECK co_status pg_scope_check(PGconn *conn, const pg_scope *scope,
                                       co_error *err);

#endif
