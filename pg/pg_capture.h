/* pg_capture.h - prepare a target for a bulk load and put it back afterwards:
 * capture, drop and recreate foreign keys and secondary indexes, disable and
 * restore user triggers (steps prepare_target, restore_constraints and
 * enable_triggers of the oracle-to-postgres plan).
 *
 * WHAT IS CAPTURED (for the tables of a pg_scope)
 * - Foreign keys: every FK whose referencing OR referenced table is in
 *   scope (an FK from outside pointing in would otherwise block the load),
 *   with pg_get_constraintdef() text (keeps ON DELETE/UPDATE, MATCH,
 *   DEFERRABLE/INITIALLY, and NOT VALID for FKs that were never validated),
 *   whether it was validated, and its comment. FKs cloned onto partitions
 *   (conparentid <> 0) are not captured: dropping/adding the parent's FK
 *   drops/recreates them.
 * - Secondary indexes: pg_get_indexdef() text, tablespace, CLUSTER mark and
 *   comment of every index on an in-scope table EXCEPT
 *     * primary-key indexes and indexes owned by a PRIMARY KEY, UNIQUE or
 *       EXCLUDE constraint (dropping them would drop the constraint),
 *     * every other UNIQUE index as well: uniqueness is a data rule, not a
 *       load-speed aid; loading duplicates would only make the restore fail
 *       later, and FKs (in and out of scope) can depend on unique indexes,
 *     * the replica-identity index and indexes owned by an extension.
 *   Partitioned indexes (relkind I) are captured with their "ON ONLY"
 *   definition together with their partitions' indexes and the parent link;
 *   only the top-level index is dropped (its children go with it) and the
 *   restore recreates parent, children, then ALTER INDEX ... ATTACH
 *   PARTITION, keeping every original name.
 * - Triggers: pg_trigger.tgenabled (O origin/enabled, D disabled, R replica,
 *   A always) of every user trigger (NOT tgisinternal), clones on partitions
 *   included and marked.
 *
 * Triggers are switched off with ALTER TABLE ... DISABLE TRIGGER USER, not
 * ALL: ALL also disables the internal RI triggers, which needs superuser
 * and would silently stop FK enforcement; the FKs in scope are dropped
 * anyway, and FKs that stay keep being checked.
 *
 * THE CAPTURE (JSON, owned by the caller, persisted as a run artifact)
 *   {"format":"cutover-capture/1",
 *    "foreign_keys":[{"schema","table","name","definition","validated":bool,
 *                     "partitioned":bool,"comment":str|null}],
 *    "indexes":[{"schema","table","name","definition","partitioned":bool,
 *                "parent":str|null,"parent_schema":str|null (the partitioned
 *                index this one is attached to),
 *                "tablespace":str|null,"clustered":bool,"comment":str|null}],
 *    "triggers":[{"schema","table","name","enabled":"O|D|R|A","clone":bool}]}
 * Definitions are SQL produced by the server and are executed verbatim on
 * restore: a capture is trusted data and must never come from an API client.
 *
 * MERGING: prepare may run more than once (retries, crash recovery). The
 * caller passes the previous capture; an object present in it keeps the
 * earlier entry (the first capture saw the original state: a trigger already
 * disabled by the first run must be re-enabled later, an index already
 * dropped is only known from it) and objects seen for the first time are
 * appended.
 *
 * CRASH SAFETY: pg_capture_prepare_target() = pg_capture_take() +
 * pg_capture_drop(). A runner that must survive a crash between the two
 * calls them separately and persists the capture in between.
 *
 * All functions use the connection from the calling thread only; they run
 * with the session's statement_timeout (set it to 0 for long index builds).
 */
#ifndef CUTOVER_PG_CAPTURE_H
#define CUTOVER_PG_CAPTURE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "pg/pg_conn.h"
#include "pg/pg_scope.h"
#include "core/status.h"

/* Parts of the SQL script returned by pg_capture_script_new. */
enum {
    PG_SCRIPT_RESTORE = 1u << 0,  /* indexes, FKs (NOT VALID + VALIDATE) */
    PG_SCRIPT_TRIGGERS = 1u << 1, /* trigger states */
    PG_SCRIPT_DROP = 1u << 2,     /* the drops/disables prepare performs */
    PG_SCRIPT_ALL = PG_SCRIPT_RESTORE | PG_SCRIPT_TRIGGERS
};

#define PG_RESTORE_MAX_JOBS 64

typedef struct pg_restore_opts {
    bool concurrently;        /* CREATE INDEX CONCURRENTLY (not inside a transaction;
                                 ignored for partitioned parents) */
    pg_progress_fn progress;  /* called on the caller's thread after each of the
                                 objects it restored itself (done = objects finished
                                 so far by all connections); may be NULL */
    void *progress_user;
    PGconn *const *more;      /* nmore extra connections to the same database
                                 (borrowed, at most PG_RESTORE_MAX_JOBS are used):
                                 each restores objects on a thread of its own */
    size_t nmore;
} pg_restore_opts;

/* Reads the FKs, secondary indexes and trigger states of the tables in
 * scope (one REPEATABLE READ snapshot) and merges them with previous (may
 * be NULL; borrowed). On success *capture_out is a new reference the caller
 * owns (json_decref). Read-only. Errors: CO_ERR_INVALID (bad scope or
 * previous capture), CO_ERR_NOT_FOUND (a schema does not exist), see
 * pg_conn_fail, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_capture_take(PGconn *conn, const pg_scope *scope,
                                        const json_t *previous,
                                        json_t **capture_out, co_error *err);

/* In one transaction: drops every captured FK (ALTER TABLE IF EXISTS ...
 * DROP CONSTRAINT IF EXISTS), every captured top-level secondary index
 * (DROP INDEX IF EXISTS) and runs DISABLE TRIGGER USER on every table with
 * captured triggers. Idempotent. capture is borrowed. Errors: CO_ERR_INVALID
 * (malformed capture), see pg_conn_fail (nothing is dropped then). */
CO_MUST_CHECK co_status pg_capture_drop(PGconn *conn, const json_t *capture,
                                        co_error *err);

/* pg_capture_take + pg_capture_drop. On success *capture_out (owned,
 * json_decref) is the merged capture and, if script_out is not NULL,
 * *script_out (owned, free()) the re-runnable restore script
 * (PG_SCRIPT_ALL). On failure nothing is returned; if the take succeeded
 * but the drop failed, nothing was dropped. Errors as the two parts. */
CO_MUST_CHECK co_status pg_capture_prepare_target(PGconn *conn,
                                                  const pg_scope *scope,
                                                  const json_t *previous,
                                                  json_t **capture_out,
                                                  char **script_out,
                                                  co_error *err);

/* Returns the SQL script for the requested parts of capture (see enum
 * above) as a new string the caller frees with free(). Running it twice is
 * safe: CREATE INDEX IF NOT EXISTS, FKs added in DO blocks that check
 * pg_constraint first (NOT VALID, then VALIDATE CONSTRAINT, which is a no-op
 * when already valid), trigger states set absolutely. conn is used only for
 * quoting. NULL with err set on malformed capture (CO_ERR_INVALID) or
 * CO_ERR_NOMEM. */
char *pg_capture_script_new(PGconn *conn, const json_t *capture, unsigned parts,
                            co_error *err);

/* Recreates the captured indexes (partitioned parents first, then their
 * partitions' indexes and ATTACH PARTITION; an INVALID leftover of an
 * interrupted concurrent build is dropped and rebuilt), then the FKs (ADD
 * ... NOT VALID, then VALIDATE CONSTRAINT if the original was validated;
 * FKs on partitioned tables are added validated in one step since
 * PostgreSQL 15 cannot add them NOT VALID), comments, CLUSTER marks and
 * tablespaces. Objects already present are left alone, so it can be re-run.
 * With opts->more, the indexes (unless some are partitioned: then in order
 * on conn), then the foreign keys, are shared out among conn and the extra
 * connections, one object per connection at a time (CREATE INDEX takes a
 * SHARE lock, so builds on one table run side by side; ADD FOREIGN KEY
 * waits for another on the same referenced table). The report's objects
 * are then in completion order.
 * Each object is its own statement/transaction; a failing object is
 * recorded and the rest continue. If report_out is not NULL, *report_out
 * (owned) receives {"total":N,"created":N,"present":N,"failed":N,
 * "objects":[{"kind":"index|foreign_key","schema","table","name",
 * "action":"created|present|validated|failed","error"?,"sqlstate"?}]},
 * also when some objects failed. Errors: CO_ERR_REMOTE naming the first
 * failed object and the count (report still returned), CO_ERR_TRANSIENT
 * when the connection is lost (stops at once), CO_ERR_INVALID (malformed
 * capture), CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_capture_restore_constraints(PGconn *conn,
                                                       const json_t *capture,
                                                       const pg_restore_opts *opts,
                                                       json_t **report_out,
                                                       co_error *err);

/* Sets every captured trigger back to its captured tgenabled state
 * (O -> ENABLE, D -> DISABLE, R -> ENABLE REPLICA, A -> ENABLE ALWAYS),
 * triggers of parent tables before their partitions' clones (enabling on a
 * partitioned table recurses). A trigger that no longer exists is reported
 * as failed; the others are still set. *report_out (owned, optional):
 * {"total":N,"failed":N,"triggers":[{"schema","table","name","enabled",
 * "action":"set|failed","error"?}]}. Errors: CO_ERR_CONFLICT (some trigger
 * missing), see pg_conn_fail, CO_ERR_INVALID, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_capture_enable_triggers(PGconn *conn,
                                                   const json_t *capture,
                                                   json_t **report_out,
                                                   co_error *err);

/* Checks that capture has the shape described above (every member present
 * with the right type). Errors: CO_ERR_INVALID naming the first problem. */
CO_MUST_CHECK co_status pg_capture_validate(const json_t *capture, co_error *err);

#endif
