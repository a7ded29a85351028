/* pg_snapcopy.h - the full load of a pg-logical task done the way
 * `pgcopydb clone --follow` does it, instead of the subscription's own
 * table synchronisation:
 *
 *   1. the replication slot is created on a walsender connection with an
 *      exported snapshot (CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT); its
 *      consistent point is where CDC will start;
 *   2. several source connections import that snapshot (SET TRANSACTION
 *      SNAPSHOT) and COPY the tables out in parallel, large tables split in
 *      ctid ranges (TID range scans, PostgreSQL 14+), into target tables
 *      whose primary keys were dropped;
 *   3. each table's primary key is built again by the connection that
 *      finished the table's last range, while the others keep copying;
 *   4. the subscription (copy_data = false) then streams from the slot, so
 *      every change committed after the snapshot arrives once.
 *
 * Connections are opened by the caller and borrowed; each is used by one
 * thread at a time. Rows travel in COPY text format, so the target's column
 * types only need to accept the source's text output. Generated columns are
 * left out on both sides.
 */
#ifndef CUTOVER_PG_SNAPCOPY_H
#define CUTOVER_PG_SNAPCOPY_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stddef.h>

#include "core/status.h"

#define PG_SNAPCOPY_MAX_JOBS 64

/* Progress of a copy, reported on the caller's thread about once a second
 * and once at the end: tables is borrowed for the call, an array of
 * {"schema","table","state":"queued|copying|keys|done|error","rows":N,
 * "chunks":N,"chunks_done":N,"format":"binary|text","frozen":bool,
 * "started_ms":N|absent,"ended_ms":N|absent}
 * (rows copied so far; times in ms since the epoch). */
typedef void (*pg_snapcopy_progress_fn)(void *user, const json_t *tables);

typedef struct pg_snapcopy_opts {
    PGconn *const *sources;   /* jobs source connections, each inside the
                                 transaction pg_snapcopy_import opened */
    PGconn *const *targets;   /* jobs target connections */
    size_t jobs;              /* 1..PG_SNAPCOPY_MAX_JOBS */
    long long split_pages;    /* tables (relkind r) of more pages than this are
                                 copied in ranges of about this many pages;
                                 0 = never split */
    const json_t *keys;       /* from pg_snapcopy_keys (borrowed): rebuilt
                                 per table after its copy; may be NULL */
    pg_snapcopy_progress_fn progress; /* may be NULL */
    void *progress_user;
    const atomic_int *stop;   /* when it becomes non-zero (the daemon is
                                 stopping) every COPY in flight is abandoned
                                 and the copy fails with CO_ERR_TRANSIENT
                                 (so the step is retried); may be NULL */
} pg_snapcopy_opts;

/* Runs CREATE_REPLICATION_SLOT <slot> LOGICAL pgoutput EXPORT_SNAPSHOT on
 * repl, a walsender connection (pg_conn_spec.replication). slot must be
 * [a-z0-9_]{1,63}. On success *snapshot and *lsn (owned, free()) hold the
 * exported snapshot's name and the slot's consistent point; the snapshot
 * stays importable until the next command on repl or its close. Per the
 * streaming replication protocol (PostgreSQL 10+). Errors: CO_ERR_INVALID
 * (bad name), see pg_conn_fail, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_snapcopy_create_slot(PGconn *repl, const char *slot,
                                                char **snapshot, char **lsn,
                                                co_error *err);

/* Opens a READ ONLY REPEATABLE READ transaction on src that imports
 * snapshot (SET TRANSACTION SNAPSHOT) and turns statement_timeout off. The
 * transaction stays open for pg_snapcopy_run; closing the connection ends
 * it. Errors: see pg_conn_fail (e.g. 22023 when the snapshot is gone). */
CO_MUST_CHECK co_status pg_snapcopy_import(PGconn *src, const char *snapshot,
                                           co_error *err);

/* Reads the primary keys of tables (an array of {"schema","table"},
 * borrowed) on the target tgt that the copy may drop: those of ordinary
 * tables (relkind r) using the default replica identity, which no foreign
 * key still present depends on. *keys_out (owned, json_decref) is an array
 * of {"schema","table","name","definition"} (definition from
 * pg_get_constraintdef, executed verbatim later: trusted server output).
 * Read-only. Errors: see pg_conn_fail, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_snapcopy_keys(PGconn *tgt, const json_t *tables,
                                         json_t **keys_out, co_error *err);

/* Fails with CO_ERR_CONFLICT naming the first table of tables (array of
 * {"schema","table"}) that already holds a row on tgt: the copy loads into
 * empty tables and never deletes what it did not write. Errors: also see
 * pg_conn_fail. */
CO_MUST_CHECK co_status pg_snapcopy_check_empty(PGconn *tgt, const json_t *tables,
                                                co_error *err);

/* In one transaction on tgt: drops the keys (ALTER TABLE IF EXISTS ONLY ...
 * DROP CONSTRAINT IF EXISTS) and empties the tables (TRUNCATE), so a copy
 * that was interrupted can start again. keys may be NULL. Errors: see
 * pg_conn_fail (nothing changed then), CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_snapcopy_reset_target(PGconn *tgt, const json_t *tables,
                                                 const json_t *keys, co_error *err);

/* Copies every table of tables (array of {"schema","table"}, borrowed) from
 * o->sources to o->targets: COPY ... TO STDOUT on a source, COPY ... FROM
 * STDIN on a target, one table range per connection pair at a time, the
 * largest tables first; then each table's keys of o->keys (ALTER TABLE ONLY
 * ... ADD CONSTRAINT). Stops after the ranges in flight at the first
 * failure, and within 10,000 rows of each stream once o->stop is set. *report_out (owned; also on failure) is the last progress array
 * (see pg_snapcopy_progress_fn). Errors: CO_ERR_INVALID (bad options or a
 * table missing on the source), CO_ERR_REMOTE / CO_ERR_TRANSIENT naming the
 * table (see pg_conn_fail), CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_snapcopy_run(const pg_snapcopy_opts *o, const json_t *tables,
                                        json_t **report_out, co_error *err);

#endif
