/* pg_viewmig.h - the view-migration plan's database steps: link a second
 * database with postgres_fdw, build the cross-database view, shape and load
 * the final table, keep it in sync with a trigger, and validate it.
 *
 * DESIGN
 * The staging table (left) lives in the target database, filled by the
 * first replication task; the existing table (right) lives in a second
 * database and is reached through a postgres_fdw foreign table (foreign
 * tables carry no keys or constraints). The view joins them; the final
 * table has the view's columns and types (format_type() of the view's
 * pg_attribute rows, spliced as the server printed them), a primary key
 * chosen by the run's parameters and `migration_timestamp timestamptz NOT
 * NULL DEFAULT now()`.
 *
 * Identifiers are always quoted with PQescapeIdentifier and values bound as
 * parameters. DDL cannot take parameters, so the FDW server options and the
 * user mapping's user/password are spliced as literals with PQescapeLiteral
 * (the password then sits in the catalog, as postgres_fdw requires; it is
 * never logged or put into a report). Every step is idempotent: re-running
 * converges (IF NOT EXISTS, catalog checks, ON CONFLICT).
 *
 * Functions run on the calling thread; long ones (load, validate) report
 * progress through a callback and honour the session's statement_timeout
 * per statement.
 */
#ifndef CUTOVER_PG_VIEWMIG_H
#define CUTOVER_PG_VIEWMIG_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "pg/pg_conn.h"
#include "pg/pg_scope.h"
#include "core/status.h"

/* --- parameters (all strings borrowed) --------------------------------- */

typedef struct pg_fdw_link {
    const char *server;        /* local foreign server name */
    const char *host;          /* remote host (as the target server sees it) */
    int port;                  /* remote port; 0 = 5432 */
    const char *dbname;        /* remote database */
    const char *user;          /* remote user (user mapping option) */
    const char *password;      /* remote password (secret) */
    const char *local_role;    /* mapping FOR this role; NULL = CURRENT_USER;
                                  "PUBLIC" (any case) = FOR PUBLIC */
    const char *remote_schema; /* schema of the tables in the remote database */
    const char *const *tables; /* remote tables to import (LIMIT TO), >= 1 */
    size_t ntables;
    const char *local_schema;  /* where the foreign tables go (created if absent) */
} pg_fdw_link;

typedef enum pg_join_type {
    PG_JOIN_INNER,
    PG_JOIN_LEFT,
    PG_JOIN_RIGHT,
    PG_JOIN_FULL,
    PG_JOIN_LAST
} pg_join_type;

typedef enum pg_side { PG_SIDE_LEFT, PG_SIDE_RIGHT } pg_side;

typedef struct pg_join_key {
    const char *left;  /* column of the left (staging) table */
    const char *right; /* column of the right (foreign) table */
} pg_join_key;

typedef struct pg_view_column {
    pg_side side;
    const char *column;
    const char *alias; /* output name; NULL = column */
} pg_view_column;

typedef struct pg_view_spec {
    pg_relname view;  /* the view to create */
    pg_relname left;  /* staging table */
    pg_relname right; /* foreign table */
    pg_join_type join;
    const pg_join_key *keys;
    size_t nkeys;     /* >= 1 */
    const pg_view_column *columns;
    size_t ncolumns;  /* >= 1 */
} pg_view_spec;

typedef struct pg_final_spec {
    pg_relname table;       /* the final table */
    pg_relname view;        /* its source view */
    const char *const *key; /* primary-key columns (view output names) */
    size_t nkey;            /* >= 1 */
} pg_final_spec;

typedef struct pg_load_opts {
    long batch_rows;         /* rows per batch; <= 0 = 10000 */
    bool update_existing;    /* ON CONFLICT DO UPDATE (changed rows only) instead of DO NOTHING */
    bool prune;              /* afterwards delete final rows whose key left the view */
    pg_progress_fn progress; /* after each batch: done = rows read, total = view rows */
    void *progress_user;
} pg_load_opts;

/* --- steps --------------------------------------------------------------- */

/* In one transaction: CREATE EXTENSION IF NOT EXISTS postgres_fdw; the
 * server (created, or its host/port/dbname options brought up to date);
 * the user mapping (created, or its user/password updated); CREATE SCHEMA
 * IF NOT EXISTS local_schema; IMPORT FOREIGN SCHEMA remote_schema LIMIT TO
 * (the tables not yet present locally) FROM SERVER ... INTO local_schema.
 * *report_out (owned, optional): {"server","server_created":bool,
 * "imported":[names],"present":[names]} (no secrets). Errors:
 * CO_ERR_INVALID (missing parameters), CO_ERR_CONFLICT (a local non-foreign
 * relation has a table's name, or the server uses another wrapper),
 * CO_ERR_NOT_FOUND (a remote table was not found), see pg_conn_fail. */
CO_MUST_CHECK co_status pg_viewmig_link_remote(PGconn *conn, const pg_fdw_link *link,
                                               json_t **report_out, co_error *err);

/* Creates (or re-creates, in one transaction: DROP VIEW IF EXISTS + CREATE
 * VIEW) the view SELECT l.col AS alias, r.col AS alias ... FROM left AS l
 * <join> JOIN right AS r ON l.k1 = r.k1 AND ... . If sql_out is not NULL,
 * *sql_out (owned, free()) receives the CREATE VIEW text. Errors:
 * CO_ERR_INVALID (no keys/columns, duplicate output names, bad join type),
 * see pg_conn_fail (missing tables/columns: 42P01/42703). */
CO_MUST_CHECK co_status pg_viewmig_create_view(PGconn *conn, const pg_view_spec *spec,
                                               char **sql_out, co_error *err);

/* Creates the final table if absent: the view's columns with their
 * catalog types (and non-default collations), key columns NOT NULL,
 * migration_timestamp, PRIMARY KEY (key). If it exists, checks that its
 * primary key is exactly the key. *report_out (owned, optional):
 * {"created":bool,"columns":[{"name","type"}],"key":[...]}. Errors:
 * CO_ERR_NOT_FOUND (no such view), CO_ERR_INVALID (key not among the view's
 * columns, a view column named migration_timestamp), CO_ERR_CONFLICT
 * (existing table with another primary key), see pg_conn_fail. */
CO_MUST_CHECK co_status pg_viewmig_create_final_table(PGconn *conn, const pg_final_spec *spec,
                                                      json_t **report_out, co_error *err);

/* Copies the view into the final table in key order, in batches of
 * opts->batch_rows using keyset pagination (WHERE (key) > (last key of the
 * previous batch) ORDER BY key LIMIT n), each batch one INSERT ... SELECT
 * statement with ON CONFLICT (key) DO NOTHING or DO UPDATE, so re-running
 * never duplicates rows. *report_out (owned, optional): {"total":N (view rows
 * at the start),"read":N,"written":N,"batches":N,"pruned":N}. Errors:
 * CO_ERR_NOT_FOUND/INVALID as create_final_table, see pg_conn_fail (a
 * failing batch stops the load; earlier batches stay committed). */
CO_MUST_CHECK co_status pg_viewmig_load_final(PGconn *conn, const pg_final_spec *spec,
                                              const pg_load_opts *opts,
                                              json_t **report_out, co_error *err);

/* enable: installs (CREATE OR REPLACE) a SECURITY DEFINER plpgsql trigger
 * function and an AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW trigger on
 * the staging table, both named cutover_sync_<16 hex of md5(final table)>
 * (function in the final table's schema). For each changed staging row the
 * function re-syncs the affected key: upsert of the view's rows with that
 * key (ON CONFLICT (key) DO UPDATE, changed rows only) and delete of the
 * final row when the key is no longer in the view (staging delete, a key
 * change, an inner join losing its match). The trigger is ENABLE ALWAYS so
 * it also fires for rows applied by logical replication or DMS (which run
 * with session_replication_role = replica). Every key column of the final
 * table must come from the left (staging) side of the view. Changes made
 * only on the right-hand (remote) table are not seen by the trigger: re-run
 * pg_viewmig_load_final with update_existing and prune for those.
 * !enable: drops trigger and function (IF EXISTS). *report_out (owned,
 * optional): {"trigger","function","enabled":bool}. Errors: CO_ERR_INVALID
 * (key not from the left side), see pg_conn_fail. */
CO_MUST_CHECK co_status pg_viewmig_ongoing_sync(PGconn *conn, const pg_view_spec *view,
                                                const pg_final_spec *final, bool enable,
                                                json_t **report_out, co_error *err);

/* Compares the view and the final table over the view's columns (never
 * migration_timestamp): row counts; keys in the view but not in the final
 * table and the reverse (anti-joins, count plus up to max_keys keys each,
 * key order); keys present on both sides whose rows differ; and an
 * order-independent checksum per side (sum of the first 60 bits of
 * md5(row::text) over all rows, as a decimal string). *report_out (owned,
 * required): {"match":bool,"columns":[...],"key":[...],
 * "view":{"count":N,"checksum":"..."},"final":{...},
 * "missing_in_final":{"count":N,"keys":[{"col":"text",...}]},
 * "missing_in_view":{...},"different":{...}}. A mismatch is NOT an error:
 * the function returns CO_OK with match=false and the caller decides.
 * Errors: CO_ERR_NOT_FOUND/INVALID as create_final_table, see
 * pg_conn_fail. */
CO_MUST_CHECK co_status pg_viewmig_validate(PGconn *conn, const pg_final_spec *spec,
                                            size_t max_keys, json_t **report_out,
                                            co_error *err);

/* --- parameters from JSON --------------------------------------------------
 * Each parser fills a struct whose strings are borrowed from obj and whose
 * arrays are allocated: release them with the matching _clear function.
 * Errors: CO_ERR_INVALID with one field entry per problem under pointer;
 * CO_ERR_NOMEM. Shapes:
 *  link:  {"server","host","port","dbname","user","password","local_role"?,
 *          "remote_schema","tables":[...],"local_schema"}
 *  view:  {"view":{"schema","name"},"left":{...},"right":{...},
 *          "join":"inner|left|right|full","keys":[{"left","right"}],
 *          "columns":[{"side":"left|right","column","alias"?}]}
 *  final: {"table":{"schema","name"},"view":{...},"key":["col",...]}
 */
CO_MUST_CHECK co_status pg_fdw_link_from_json(const json_t *obj, const char *pointer,
                                              pg_fdw_link *out, co_error *err);
void pg_fdw_link_clear(pg_fdw_link *link);
CO_MUST_CHECK co_status pg_view_spec_from_json(const json_t *obj, const char *pointer,
                                               pg_view_spec *out, co_error *err);
void pg_view_spec_clear(pg_view_spec *spec);
CO_MUST_CHECK co_status pg_final_spec_from_json(const json_t *obj, const char *pointer,
                                                pg_final_spec *out, co_error *err);
void pg_final_spec_clear(pg_final_spec *spec);

#endif
