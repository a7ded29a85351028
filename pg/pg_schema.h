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
 * COPYING FROM A POSTGRESQL SOURCE: runs
 *   pg_dump --schema-only --no-owner --no-privileges --no-tablespaces
 *           --no-publications --no-subscriptions --no-security-labels
 *           --strict-names -n "<schema>" ...
 * as a child process (posix_spawn, no shell) whose environment holds the
 * connection settings as PG* variables (PGHOST, PGPORT, PGDATABASE,
 * PGUSER, PGPASSWORD, PGSSLMODE, PGCONNECT_TIMEOUT, PGAPPNAME) and no other
 * PG* variable of ours: the password is never on a command line and never
 * logged. Schema names are passed as double-quoted patterns, so they match
 * literally. Its plain SQL output is then applied as above with
 * if_not_exists_schemas. Extensions the schemas use are not dumped by
 * pg_dump -n (configure_target installs them). pg_dump is taken from
 * pg_dump_path, else $CUTOVER_PG_DUMP, else the newest
 * /usr/lib/postgresql/<N>/bin/pg_dump, else "pg_dump" on PATH; it must be at
 * least as new as the source server.
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

/* Runs pg_dump (see above) for schemas[0..nschemas) of the source and
 * returns its SQL output in *sql_out (owned, free()). timeout_s bounds the
 * whole run (0 = 1800 s). Errors: CO_ERR_TRANSIENT/CO_ERR_REMOTE from a
 * preliminary libpq connection to the source (so that cannot-connect and
 * bad credentials are classified like everywhere else), CO_ERR_REMOTE with
 * pg_dump's last stderr lines when it exits non-zero, CO_ERR_IO (cannot
 * start it, timeout), CO_ERR_TOO_LARGE (output over 256 MiB),
 * CO_ERR_INVALID, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_schema_dump_new(const pg_conn_spec *source,
                                           const char *const *schemas, size_t nschemas,
                                           const char *pg_dump_path, int timeout_s,
                                           char **sql_out, co_error *err);

/* pg_schema_dump_new + pg_schema_apply_script (if_not_exists_schemas on) on
 * target. *report_out as pg_schema_apply_script, plus "dump_bytes". Errors
 * as the two parts. */
CO_MUST_CHECK co_status pg_schema_copy(const pg_conn_spec *source, PGconn *target,
                                       const char *const *schemas, size_t nschemas,
                                       const char *pg_dump_path, json_t **report_out,
                                       co_error *err);

#endif
