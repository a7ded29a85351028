/* pg_schema.h - put a schema on the target (step convert_schema): apply a
 * converted-schema SQL script atomically, or copy the schema of a
 * PostgreSQL source with pg_dump.
 *
 * APPLYING A SCRIPT: the script is split into statements by PostgreSQL's
 * own parser (libpg_query, pg_script.h) and each statement is sent on its own inside ONE
 * transaction (BEGIN ... COMMIT), so that a failure names the exact
 * statement: its 1-based index, the line where it starts, the character
 * position of the error in the whole script (from PG_DIAG_STATEMENT_POSITION,
 * or the statement's start when the server gives none), and the server's
 * SQLSTATE, message, detail, hint and context (PL/pgSQL errors carry the
 * internal query/position as well). Any failure rolls everything back.
 * Transaction-control statements in the script (BEGIN, START TRANSACTION,
 * COMMIT, END, ROLLBACK, ABORT) would break the single transaction and are
 * skipped and listed in the report. psql meta-commands are refused, except
 * `\restrict` / `\unrestrict`, which pg_dump 15.14+ writes into plain dumps
 * and which are skipped. Statements that cannot run in a transaction block
 * (CREATE INDEX CONCURRENTLY, CREATE DATABASE, ...) fail with 25001 and are
 * reported like any other failure. The session keeps whatever SET /
 * set_config(..., false) the script ran (e.g. pg_dump's empty search_path):
 * use a connection of its own.
 *
 * Re-running: the script runs as written (a second run normally fails on
 * "already exists" and rolls back, changing nothing). With
 * if_not_exists_schemas, statements that are exactly `CREATE SCHEMA name`
 * become CREATE SCHEMA IF NOT EXISTS, so schemas created beforehand by
 * configure_target do not conflict.
 *
 * COPYING FROM A POSTGRESQL SOURCE (pg_schema_copy.c): PostgreSQL's own
 * tools, no SQL is parsed here to apply it:
 *   1. pg_dump --schema-only --format=custom --no-owner --no-privileges
 *              --no-tablespaces --no-publications --no-subscriptions
 *              --no-security-labels --strict-names -n "<schema>" ...
 *      into a private work directory (pg_tool.h: no shell, the connection
 *      in PG* variables, the passwords of source and target in a 0600
 *      passfile, never on a command line or in the environment);
 *   2. pg_restore --list, without the "SCHEMA - name" entries (the schemas
 *      are created with CREATE SCHEMA IF NOT EXISTS first, so schemas made
 *      by configure_target do not conflict), then pg_restore --use-list
 *      --no-owner --no-privileges --no-tablespaces --file schema.sql;
 *   3. psql -X --single-transaction -v ON_ERROR_STOP=1 -v VERBOSITY=verbose
 *      -f schema.sql on the target: all or nothing. On failure psql's
 *      "psql:<file>:<line>: ERROR:  <SQLSTATE>: <message>" is turned into
 *      the error report: the statement of schema.sql holding that line (split
 *      with pg_script.h for the report only), its index and first line, the
 *      SQLSTATE, message, detail, hint and context.
 * Schema names are passed as double-quoted patterns, so they match
 * literally. Extensions the schemas use are not dumped by pg_dump -n
 * (configure_target installs them). The programs are taken from
 * pg_dump_path (pg_dump only), else $CUTOVER_PG_DUMP, $CUTOVER_PG_RESTORE,
 * $CUTOVER_PSQL, else the newest /usr/lib/postgresql/<N>/bin, else PATH;
 * pg_dump must be at least as new as the source server.
 *
 * Functions run on the calling thread and block until done.
 */
#ifndef CUTOVER_PG_SCHEMA_H
#define CUTOVER_PG_SCHEMA_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "pg/pg_conn.h"
#include "core/status.h"

typedef struct pg_apply_opts {
    bool if_not_exists_schemas; /* CREATE SCHEMA x -> CREATE SCHEMA IF NOT EXISTS x */
    pg_progress_fn progress;    /* after each statement (done/total); may be NULL */
    void *progress_user;
} pg_apply_opts;

/* Applies script (UTF-8 SQL text, NUL-terminated) on conn in one
 * transaction. opts may be NULL. *report_out (owned, optional) receives
 * {"statements":N,"executed":N,"skipped":[{"index","line","text"}]} and, on
 * a statement failure, "error":{"index","line","column","position",
 * "statement","sqlstate","message","detail"?,"hint"?,"context"?,
 * "internal_query"?,"internal_position"?} (position is the 1-based
 * character offset in the script; statement is truncated to 2000 bytes).
 * Errors: CO_ERR_REMOTE/CO_ERR_TRANSIENT (see pg_conn_fail) with a message
 * "statement N (line L, position P): ..." and err->sqlstate set;
 * CO_ERR_UNPROCESSABLE for a psql meta-command; CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_schema_apply_script(PGconn *conn, const char *script,
                                               const pg_apply_opts *opts,
                                               json_t **report_out, co_error *err);

/* Copies the schemas[0..nschemas) of source onto target (see COPYING
 * above); target is used for CREATE SCHEMA IF NOT EXISTS and for its
 * connection settings (PQconninfo), which psql reuses. *report_out (owned,
 * optional, also on failure) receives {"entries": archive entries restored,
 * "dump_bytes": archive size, "script_bytes": schema.sql size} and, when
 * psql failed, "error": {"index","line","statement","sqlstate","message",
 * "detail"?,"hint"?,"context"?}. Errors: CO_ERR_TRANSIENT/CO_ERR_REMOTE from
 * a first libpq connection to the source (so that cannot-connect and bad
 * credentials are classified like everywhere else); CO_ERR_REMOTE with the
 * program's stderr when pg_dump or pg_restore exits non-zero, or
 * "schema.sql line L: <message> in: <statement>" with err->sqlstate when
 * the script fails on the target (nothing is left applied); CO_ERR_IO
 * (cannot start a program, timeout after 1800 s, work files);
 * CO_ERR_TOO_LARGE, CO_ERR_INVALID (no or empty schema names), CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_schema_copy(const pg_conn_spec *source, PGconn *target,
                                       const char *const *schemas, size_t nschemas,
                                       const char *pg_dump_path, json_t **report_out,
                                       co_error *err);

#endif
