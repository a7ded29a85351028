/* pg_tool.h - run PostgreSQL's client programs (pg_dump, pg_restore, psql)
 * as child processes, with the password in a passfile.
 *
 * DESIGN: a child is started with posix_spawn (no shell) and an environment
 * built here: PATH, HOME and TZ from ours, LC_ALL=C, PGCLIENTENCODING=UTF8,
 * and the connection as PGHOST, PGPORT, PGDATABASE, PGUSER, PGSSLMODE, PGSSLROOTCERT,
 * PGCONNECT_TIMEOUT, PGAPPNAME and PGPASSFILE. The password is never in the
 * environment or on a command line: it goes into a passfile (libpq's
 * ~/.pgpass format, mode 0600) inside a private work directory (mode 0700,
 * from mkdtemp under $TMPDIR or /tmp) that the caller removes when the
 * child is done. Its stdout is captured (or discarded) and its stderr kept
 * (the first 16 KiB) for error messages.
 *
 * THREADS: every function may run on any thread; nothing is shared.
 */
#ifndef CUTOVER_PG_TOOL_H
#define CUTOVER_PG_TOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "pg/pg_conn.h"
#include "core/status.h"

typedef struct pg_tool_result {
    char *out;      /* captured stdout, NUL-terminated (owned); NULL if discarded */
    size_t out_len; /* bytes of out */
    char *err_text; /* stderr (first 16 KiB), NUL-terminated (owned), never NULL after a run */
    int exit_code;  /* the exit status, or -signal when it was killed */
} pg_tool_result;

/* Path of program `name` (e.g. "pg_restore"): given if set, else
 * $env_var if set, else the newest /usr/lib/postgresql/<N>/bin/<name>, else
 * name (looked up on PATH). Returns a malloc'd string or NULL (no memory). */
char *pg_tool_find(const char *name, const char *given, const char *env_var);

/* Creates a private work directory (mode 0700); *dir_out is malloc'd.
 * Errors: CO_ERR_IO, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_tool_workdir_new(char **dir_out, co_error *err);

/* Removes every file in dir (one level), the directory itself, and frees
 * dir. Files are overwritten with zeros first when their name is
 * "pgpass". NULL-safe. */
void pg_tool_workdir_remove(char *dir);

/* Writes a passfile at path (mode 0600, created exclusively) with one line
 * host:port:dbname:user:password per spec with a password (':' and '\'
 * escaped as libpq requires; a NULL host or a socket directory is written
 * as '*', port 0 as 5432). Errors: CO_ERR_IO, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_tool_passfile_write(const char *path,
                                               const pg_conn_spec *const *specs, size_t n,
                                               co_error *err);

/* The child environment for spec (see DESIGN); passfile may be NULL. The
 * password of spec is not used. Returns a NULL-terminated, malloc'd vector
 * (free with pg_tool_vec_free) or NULL (no memory). */
char **pg_tool_env_new(const pg_conn_spec *spec, const char *passfile);

/* a + sep + b as a new string (malloc'd), or NULL (no memory). */
char *pg_tool_join(const char *a, char sep, const char *b);

/* Frees a NULL-terminated vector of malloc'd strings. NULL-safe. */
void pg_tool_vec_free(char **v);

/* Runs argv (argv[0] the program path) with envp and stdin from /dev/null,
 * waits for it (at most timeout_s seconds, 0 = 1800; then SIGKILL).
 * capture_out: keep stdout in res->out (at most max_out bytes), else it
 * goes to /dev/null. res is filled on CO_OK whatever the exit status
 * (free with pg_tool_result_free). Errors: CO_ERR_IO (cannot start it,
 * timeout, pipe/poll failures, with the program's name), CO_ERR_TOO_LARGE
 * (stdout over max_out), CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_tool_run(char *const *argv, char *const *envp, int timeout_s,
                                    bool capture_out, size_t max_out, pg_tool_result *res,
                                    co_error *err);

/* Frees res's buffers and zeroes it. NULL-safe. */
void pg_tool_result_free(pg_tool_result *res);

#endif
