/* runs_query.h - read models of runs for automation: the cross-project run
 * list with filters, the run's progress (rows, ETA, CDC latency) and the
 * machine-readable reason of its errors, and the latest table statistics of
 * its replication task(s).
 *
 * DESIGN
 * Nothing here is stored twice: progress and table statistics are read from
 * the latest "table.statistics" and "engine.status" events of the run (the
 * events table, store/runs.h), and an error's reason is derived from the
 * stored message and SQLSTATE by one classifier (co_error_reason), so the
 * same row always yields the same reason. The ETA is an absolute time
 * computed from the last statistics, so an unchanged run renders to the same
 * bytes (ETags and ?wait= rely on that).
 */
#ifndef CUTOVER_STORE_RUNS_QUERY_H
#define CUTOVER_STORE_RUNS_QUERY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"

/* Filters of GET /v1/runs. Each list is a JSON array text of accepted
 * values ('["running","failed"]') or NULL for any; created_* are RFC 3339
 * UTC timestamps as written by co_clock_rfc3339, or NULL. Strings are
 * borrowed. */
typedef struct co_runs_filter {
    const char *states;
    const char *plans;
    const char *engines;
    const char *project_ids;
    const char *created_after;   /* inclusive */
    const char *created_before;  /* exclusive */
    bool newest_first;           /* order_by=-created_at */
    bool basic;                  /* view=basic: no "steps" member */
} co_runs_filter;

/* One page of runs matching f, after cursor after_seq (0 = from the start,
 * in the direction of the ordering), at most limit (1..200). *items is a new
 * array of run documents as co_runs_json renders them (without "steps" when
 * f->basic); *last_seq is the cursor of the last item, *more tells whether
 * further rows exist. Errors: CO_ERR_STORE, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_runs_query(co_store *store, const co_runs_filter *f,
                                      int64_t after_seq, int limit, json_t **items,
                                      int64_t *last_seq, bool *more, co_error *err);

/* The stable reason of an error message (and its PostgreSQL SQLSTATE, may
 * be NULL or ""): one of "source_unreachable", "target_unreachable",
 * "permission_denied", "prerequisite_missing", "validation_mismatch",
 * "timeout", "transient", "cancelled", "internal" (static string). NULL for
 * an empty message. The list is the ErrorReason schema of the contract. */
const char *co_error_reason(const char *message, const char *sqlstate);

/* Adds the derived members of a run document (as co_runs_json builds it,
 * borrowed and modified): "error_reason", each step's "last_error_reason",
 * and "progress" {rows_loaded, rows_expected, tables_total, tables_loaded,
 * full_load_percent, full_load_eta, cdc_latency_seconds, bytes_behind,
 * as_of} from the run's latest statistics events. Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_runs_describe(co_store *store, const char *run_id,
                                         json_t *run, co_error *err);

/* Latest table statistics of run_id: *out = {"tasks": [{"task", "status",
 * "task_stats", "as_of"}], "items": [{"task", DMS TableStatistics
 * members...}]} (new reference) and *etag_id the id of the newest event
 * used (0 when there is none yet). Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_runs_tables(co_store *store, const char *run_id,
                                       json_t **out, int64_t *etag_id,
                                       co_error *err);

/* Id of the newest event of run_id (0 if none). */
int64_t co_runs_last_event(co_store *store, const char *run_id);

#endif
