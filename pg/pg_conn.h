/* pg_conn.h - libpq connections for the migration steps, error
 * classification, and the two execution helpers every pg_ module uses.
 *
 * DESIGN
 * A step opens its own connection (pg_conn_open), does one bounded unit of
 * work and closes it: connections are never shared between threads, and a
 * PGconn is used by one thread at a time (libpq's rule). Connections are made
 * with PQconnectdbParams from a pg_conn_spec, never from a hand-built
 * conninfo string, with expand_dbname off so a database name containing '='
 * is just a name. application_name is "cutover/<run id>" so that operators
 * can see and cancel our sessions in pg_stat_activity.
 *
 * Failures map onto co_status once, here (pg_conn_fail):
 *   - no result / connection gone / cannot connect, SQLSTATE class 08,
 *     57P01-57P03 (admin/crash shutdown, cannot connect now), 40001
 *     (serialization), 40P01 (deadlock), class 53 (insufficient resources),
 *     55P03 (lock not available)                      -> CO_ERR_TRANSIENT
 *   - everything else (42501 permission denied, syntax errors, ...)
 *                                                     -> CO_ERR_REMOTE
 * co_error.sqlstate receives the SQLSTATE and co_error.message the server's
 * primary message (plus DETAIL when it fits). A connection attempt that the
 * server refused for authentication or a missing database/role has no
 * SQLSTATE in libpq's API; it is recognised from the (English, lc_messages=C)
 * server text and reported as CO_ERR_REMOTE with 28P01/28000/3D000, since
 * retrying cannot help. Any other connection failure is CO_ERR_TRANSIENT.
 *
 * Notices (e.g. "relation already exists, skipping") are routed to the debug
 * log instead of stderr. Passwords never appear in messages or logs.
 */
#ifndef CUTOVER_PG_CONN_H
#define CUTOVER_PG_CONN_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

/* How to reach a PostgreSQL database. All strings are borrowed (the caller
 * keeps them alive while the spec is used). NULL means "libpq default"
 * except where noted. */
typedef struct pg_conn_spec {
    const char *host;             /* host name, IP address or socket directory */
    int port;                     /* TCP port; 0 = 5432 */
    const char *dbname;           /* required */
    const char *user;             /* required */
    const char *password;         /* secret: never logged */
    const char *sslmode;          /* disable|allow|prefer|require|verify-ca|verify-full; NULL = prefer */
    const char *sslrootcert;      /* CA bundle path for verify-ca/verify-full; NULL = libpq's default */
    int connect_timeout_s;        /* seconds; 0 = 10 */
    const char *run_id;           /* application_name becomes "cutover/<run_id>" */
    const char *application_name; /* overrides the run_id-derived name when set */
    int statement_timeout_ms;     /* session default; 0 = server default (none) */
    bool replication;             /* a logical walsender connection (libpq
                                     replication=database) that also accepts
                                     replication commands such as
                                     CREATE_REPLICATION_SLOT */
} pg_conn_spec;

/* A progress callback for long operations: object names the item being
 * worked on (borrowed, valid during the call), done/total count items (or
 * rows, as the caller's doc says). Called on the calling thread; it must not
 * use the connection. */
typedef void (*pg_progress_fn)(void *user, const char *object, size_t done,
                               size_t total);

/* Fills *out (zeroed first) from an endpoint resource's document {"host",
 * "port", "database", "username", "sslmode", "sslrootcert"} and password
 * (decrypted by the caller). Strings are borrowed from doc and password;
 * timeouts, run_id and application_name are left for the caller. The one
 * endpoint -> connection mapping of the steps, routes and checks. */
void pg_conn_spec_from_endpoint(const json_t *doc, const char *password,
                                pg_conn_spec *out);

/* Fills *out from a JSON object {"host","port","dbname","user","password",
 * "sslmode","connect_timeout","run_id","application_name",
 * "statement_timeout_ms"} (port may be a number or a numeric string). The
 * strings in *out are borrowed from obj and live as long as obj does.
 * Errors: CO_ERR_INVALID with one field entry per bad member (pointer
 * prefix is `pointer`, e.g. "/target"). */
CO_MUST_CHECK co_status pg_conn_spec_from_json(const json_t *obj,
                                               const char *pointer,
                                               pg_conn_spec *out,
                                               co_error *err);

/* Connects with PQconnectdbParams (client_encoding UTF8, TCP keepalives on)
 * and returns the new connection in *out; the caller closes it with
 * pg_conn_close(). Errors: CO_ERR_INVALID (no dbname/user), CO_ERR_TRANSIENT
 * (cannot connect), CO_ERR_REMOTE (authentication / missing database or
 * role, with sqlstate), CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_conn_open(const pg_conn_spec *spec, PGconn **out,
                                     co_error *err);

/* PQfinish; NULL-safe. */
void pg_conn_close(PGconn *conn);

/* Records the failure of an operation named `what` into err, classifying it
 * as described at the top of this file. res may be NULL (then the
 * connection's error message is used). Returns the status recorded
 * (CO_ERR_TRANSIENT or CO_ERR_REMOTE). */
co_status pg_conn_fail(PGconn *conn, const PGresult *res, const char *what,
                       co_error *err);

/* True if sqlstate (5 characters) names a condition worth retrying. */
bool pg_sqlstate_is_transient(const char *sqlstate);

/* Runs one statement with PQexecParams and text parameters params[0..n-1]
 * ($1..$n; a NULL entry is SQL NULL). On success *out (if out is not NULL)
 * receives the result, which the caller frees with PQclear; with out NULL
 * the result is freed here. Errors: see pg_conn_fail; `what` names the
 * operation in the message. */
CO_MUST_CHECK co_status pg_exec(PGconn *conn, const char *what, const char *sql,
                                int nparams, const char *const *params,
                                PGresult **out, co_error *err);

/* Runs SQL text without parameters with PQexec (utility statements, DDL
 * that cannot take parameters; several statements allowed). Result
 * handling and errors as pg_exec. */
CO_MUST_CHECK co_status pg_exec_simple(PGconn *conn, const char *what,
                                       const char *sql, PGresult **out,
                                       co_error *err);

/* Sets the session setting `name` to `value` (both borrowed, e.g.
 * "maintenance_work_mem", "1024MB") for the rest of the session, through
 * set_config with bound parameters (per PostgreSQL's set_config(setting_name,
 * new_value, is_local)). Errors: see pg_conn_fail (an unknown setting or a
 * bad value: CO_ERR_REMOTE with PostgreSQL's SQLSTATE). */
CO_MUST_CHECK co_status pg_conn_set_config(PGconn *conn, const char *name, const char *value,
                                           co_error *err);

/* Sets this session's statement_timeout (milliseconds; 0 = none) through
 * set_config with a bound parameter. Use it around calls that need a
 * different limit (index builds: 0). Errors: see pg_conn_fail. */
CO_MUST_CHECK co_status pg_conn_set_statement_timeout(PGconn *conn, int ms,
                                                      co_error *err);

/* BEGIN / COMMIT. pg_rollback never fails (best effort, for cleanup). */
CO_MUST_CHECK co_status pg_begin(PGconn *conn, co_error *err);
CO_MUST_CHECK co_status pg_commit(PGconn *conn, co_error *err);
void pg_rollback(PGconn *conn);

/* Value of row/col in res, or NULL for SQL NULL (borrowed from res). */
const char *pg_res_get(const PGresult *res, int row, int col);

/* Same, parsed as a signed 64-bit integer; def for NULL or not a number. */
long long pg_res_int(const PGresult *res, int row, int col, long long def);

/* True if the value is "t" (boolean true). */
bool pg_res_bool(const PGresult *res, int row, int col);

/* Hands an operation's report (a JSON object, owned; NULL when building it
 * failed) to its caller: into *report_out when report_out is not NULL
 * (the caller then owns it, json_decref), else frees it. Returns CO_OK, or
 * CO_ERR_NOMEM set into err when report is NULL. */
CO_MUST_CHECK co_status pg_report_out(json_t *report, json_t **report_out, co_error *err);

#endif
