/* steps_pg.h - what step functions and the pg-logical engine share to
 * reach PostgreSQL: connections to a run's endpoints, and the mapping of a
 * co_error onto a verdict.
 */
#ifndef CUTOVER_ENGINE_STEPS_PG_H
#define CUTOVER_ENGINE_STEPS_PG_H

#include <libpq-fe.h>

#include "engine/step.h"
#include "pg/pg_conn.h"

/* Opens a libpq connection to endpoint ep (its doc's host, port, database,
 * username, sslmode and its sealed password) with application_name
 * "cutover/<run id>", a 10 s connect timeout and the run's
 * statement_timeout_ms. *out is closed by the caller (pg_conn_close).
 * Errors: CO_ERR_INVALID (not a postgres endpoint, or no password: Secrets
 * Manager references are only for aws-dms), as pg_conn_open otherwise. */
CO_MUST_CHECK co_status co_step_pg_open(co_step_ctx *ctx, const co_resource *ep,
                                        PGconn **out, co_error *err);

/* Opens a connection to ep (as co_step_pg_open), runs sql with nparams
 * text params (pg_exec) and closes the connection: for a step that asks an
 * endpoint one question. *res (owned, PQclear; NULL on failure) is the
 * result, which outlives the connection. what names the query in errors.
 * Errors: as co_step_pg_open and pg_exec. */
CO_MUST_CHECK co_status co_step_pg_query(co_step_ctx *ctx, const co_resource *ep,
                                         const char *what, const char *sql, int nparams,
                                         const char *const *params, PGresult **res,
                                         co_error *err);

/* maintenance_work_mem (MiB) of the build sessions when the run does not
 * set maintenance_work_mem_mb: PostgreSQL's own default. A B-tree build
 * whose sort fits in this spills sorted runs to disk and merges them, and
 * that was faster than one in-memory sort of the whole key: 30 million
 * random integers, 18.2 s with 64 MB against 32.3 s with 512 MB and
 * 31.8 s with 2 GB (docs/benchmarks.md, bench/index-builds.py). It also
 * bounds the memory the restore_jobs sessions take together. */
#define CO_BUILD_MAINTENANCE_WORK_MEM_MB 64

/* Prepares a target session that builds primary keys, indexes or foreign
 * keys: statement_timeout 0 and maintenance_work_mem, the run parameter
 * maintenance_work_mem_mb or else CO_BUILD_MAINTENANCE_WORK_MEM_MB, for the
 * rest of the session (the target's own setting is not used: it is often
 * raised for other reasons, and more is slower for these builds).
 * conn is borrowed. Errors: see pg_conn_fail. */
CO_MUST_CHECK co_status co_step_pg_build_session(co_step_ctx *ctx, PGconn *conn,
                                                 co_error *err);

/* A target session of restore_constraints: co_step_pg_build_session, and
 * max_parallel_maintenance_workers when the run sets restore_index_workers
 * (with restore_jobs connections building side by side, a build's own
 * parallel workers only compete with the other builds for the cores).
 * conn is borrowed. Errors: see pg_conn_fail. */
CO_MUST_CHECK co_status co_step_pg_restore_session(co_step_ctx *ctx, PGconn *conn,
                                                   co_error *err);

/* As co_step_pg_open, but a logical walsender connection (libpq
 * replication=database): it runs SQL and the replication commands of the
 * streaming replication protocol (CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT).
 * The role needs REPLICATION. Same errors. */
CO_MUST_CHECK co_status co_step_pg_open_replication(co_step_ctx *ctx, const co_resource *ep,
                                                    PGconn **out, co_error *err);

/* Loads endpoint resource named by run parameter param (e.g.
 * "remote_endpoint_id") into *out (caller clears). Errors: CO_ERR_INVALID
 * when the parameter is absent, as co_res_get otherwise. */
CO_MUST_CHECK co_status co_step_endpoint(co_step_ctx *ctx, const char *param,
                                         co_resource *out, co_error *err);

/* Builds a libpq connection string for ep (values single-quoted with
 * backslash escapes per the libpq conninfo syntax), for CREATE SUBSCRIPTION
 * and postgres_fdw. The string contains the password: the caller wipes and
 * frees it and never logs it. NULL on failure with err set. */
char *co_step_conninfo_new(co_step_ctx *ctx, const co_resource *ep, co_error *err);

#endif
