/* pglogical_copy.c - the pg-logical full load by snapshot copy (run parameter
 * full_load_method "snapshot", the default): the replication slot with an
 * exported snapshot, parallel COPY under it (pg/pg_snapcopy.h), then the
 * subscription, created with copy_data = false, streams from the slot's
 * consistent point once resume_cdc enables it.
 *
 * Two invocations of the full_load step's start phase:
 *   1. the target tables are checked to be empty and their primary keys are
 *      read; the keys are stored in the step's outputs (copy_keys) and the
 *      step waits 1 ms so the runner persists them before anything is dropped;
 *   2. a stale slot of an interrupted attempt is dropped, the slot is made,
 *      the target is reset (keys dropped, tables emptied: only rows this
 *      copy wrote can be there) and the tables are copied.
 * A crash or a retry repeats 2 from the start: the snapshot of an earlier
 * attempt cannot be imported again.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/pglogical.h"
#include "engine/pglogical_int.h"
#include "engine/steps.h"
#include "engine/steps_pg.h"
#include "core/clock.h"
#include "core/validate.h"
#include "pg/pg_snapcopy.h"

/* By default tables are copied whole: each in one transaction that empties
 * it first, so COPY writes the rows frozen (no hint bits to set later) --
 * on a 2-core host that beat ctid ranges, whose parallel streams compete
 * for the same cores (docs/benchmarks.md). */
#define SPLIT_PAGES 0

bool pgl_snapshot_copy_wanted(const co_step_ctx *ctx, const char *role)
{
    const char *m = v_str(json_object_get(ctx->outputs, role), "full_load_method");
    return m && strcmp(m, "snapshot") == 0;
}

static const char *dms_state(const char *s)
{
    if (strcmp(s, "queued") == 0)
        return "Before load";
    if (strcmp(s, "done") == 0)
        return "Table completed";
    if (strcmp(s, "error") == 0)
        return "Table error";
    return "Full load"; /* copying, keys */
}

/* Publishes the copy's progress as DMS table statistics (table.statistics,
 * the same shape the subscription's own table sync reports). */
static void on_progress(void *user, const json_t *tables)
{
    co_step_ctx *ctx = user;
    json_t *arr = json_array(), *t;
    size_t i;
    int loaded = 0, loading = 0, queued = 0, bad = 0;
    char now[32];
    co_clock_rfc3339(co_clock_now_ms(), now, sizeof now);
    json_array_foreach(tables, i, t) {
        const char *st = dms_state(v_str(t, "state"));
        json_t *row = json_pack("{s:s, s:s, s:s, s:O, s:i, s:i, s:i, s:i, s:s}", "SchemaName",
                                v_str(t, "schema"), "TableName", v_str(t, "table"),
                                "TableState", st, "FullLoadRows", json_object_get(t, "rows"),
                                "Inserts", 0, "Updates", 0, "Deletes", 0, "Ddls", 0,
                                "LastUpdateTime", now);
        char ts[32];
        if (json_object_get(t, "started_ms")) {
            co_clock_rfc3339(json_integer_value(json_object_get(t, "started_ms")), ts, sizeof ts);
            json_object_set_new(row, "FullLoadStartTime", json_string(ts));
        }
        if (json_object_get(t, "ended_ms")) {
            co_clock_rfc3339(json_integer_value(json_object_get(t, "ended_ms")), ts, sizeof ts);
            json_object_set_new(row, "FullLoadEndTime", json_string(ts));
        }
        json_array_append_new(arr, row);
        if (strcmp(st, "Table completed") == 0)
            loaded++;
        else if (strcmp(st, "Before load") == 0)
            queued++;
        else if (strcmp(st, "Table error") == 0)
            bad++;
        else
            loading++;
    }
    {
        size_t total = json_array_size(tables);
        json_t *task = json_pack("{s:f, s:i, s:i, s:i, s:i}", "FullLoadProgressPercent",
                                 total ? 100.0 * loaded / (double)total : 0.0, "TablesLoaded",
                                 loaded, "TablesLoading", loading, "TablesQueued", queued,
                                 "TablesErrored", bad);
        co_step_notify(ctx, "table.statistics",
                       json_pack("{s:s, s:o, s:O}", "task", "main", "tables", arr,
                                 "task_stats", task));
        json_object_set_new(ctx->outputs, "task_stats", task);
        co_step_progress(ctx, "tables", (size_t)loaded, total);
    }
}

/* Phase 1: the target is empty and its keys are known, persisted first. */
static void read_keys(co_step_ctx *ctx, const json_t *tables, co_verdict *v)
{
    PGconn *tgt = NULL;
    json_t *keys = NULL;
    co_error err;
    co_error_clear(&err);
    if (co_step_pg_open(ctx, &ctx->target, &tgt, &err) != CO_OK ||
        pg_snapcopy_check_empty(tgt, tables, &err) != CO_OK ||
        pg_snapcopy_keys(tgt, tables, &keys, &err) != CO_OK) {
        co_verdict_from_error(v, "preparing the full load", &err);
    } else {
        json_object_set_new(ctx->outputs, "copy_keys", keys);
        co_verdict_set(v, CO_VERDICT_WAIT, 1, NULL); /* persist, then drop */
    }
    pg_conn_close(tgt);
}

/* Drops the slot an interrupted attempt left (its snapshot is gone). */
static co_status drop_stale_slot(co_step_ctx *ctx, const char *slot, co_error *err)
{
    PGconn *c = NULL;
    const char *params[1] = {slot};
    co_status rc = co_step_pg_open(ctx, &ctx->source, &c, err);
    if (rc == CO_OK)
        rc = pg_exec(c, "dropping the replication slot of an interrupted copy",
                     "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                     " WHERE slot_name = $1 AND NOT active",
                     1, params, NULL, err);
    pg_conn_close(c);
    return rc;
}

void pgl_snapshot_copy(co_step_ctx *ctx, const char *role, co_verdict *v)
{
    const json_t *tables = json_object_get(json_object_get(ctx->outputs, role), "tables");
    const json_t *keys = json_object_get(ctx->outputs, "copy_keys");
    PGconn *repl = NULL, *src[PG_SNAPCOPY_MAX_JOBS] = {0}, *tgt[PG_SNAPCOPY_MAX_JOBS] = {0};
    char *snapshot = NULL, *lsn = NULL;
    json_t *report = NULL;
    long jobs = co_param_int(ctx, "full_load_jobs", sysconf(_SC_NPROCESSORS_ONLN));
    pgl_names n;
    pg_snapcopy_opts o = {.split_pages = co_param_int(ctx, "full_load_split_pages", SPLIT_PAGES),
                          .progress = on_progress,
                          .progress_user = ctx};
    int64_t t0 = co_clock_mono_ms();
    const char *what = "copying the tables";
    bool ok = false;
    co_error err;

    co_error_clear(&err);
    if (!json_is_array(tables)) {
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "the task lists no tables to copy");
        return;
    }
    if (!keys) {
        read_keys(ctx, tables, v);
        return;
    }
    if (jobs < 1)
        jobs = 1;
    if (jobs > PG_SNAPCOPY_MAX_JOBS)
        jobs = PG_SNAPCOPY_MAX_JOBS;
    pgl_names_make(ctx, role, &n);
    co_step_notify(ctx, "engine.status",
                   json_pack("{s:s, s:s, s:s, s:i}", "task", role, "Status", "starting",
                             "FullLoadMethod", "snapshot", "Jobs", (int)jobs));
    if (drop_stale_slot(ctx, n.slot, &err) != CO_OK ||
        co_step_pg_open_replication(ctx, &ctx->source, &repl, &err) != CO_OK ||
        pg_snapcopy_create_slot(repl, n.slot, &snapshot, &lsn, &err) != CO_OK) {
        what = "creating the replication slot";
        goto out;
    }
    for (long i = 0; i < jobs; i++)
        if (co_step_pg_open(ctx, &ctx->source, &src[i], &err) != CO_OK ||
            pg_snapcopy_import(src[i], snapshot, &err) != CO_OK ||
            co_step_pg_open(ctx, &ctx->target, &tgt[i], &err) != CO_OK ||
            co_step_pg_build_session(ctx, tgt[i], &err) != CO_OK) {
            what = "opening the copy connections";
            goto out;
        }
    /* every job holds the snapshot now: the walsender may go */
    pg_conn_close(repl);
    repl = NULL;
    if (pg_snapcopy_reset_target(tgt[0], tables, keys, &err) != CO_OK) {
        what = "preparing the target tables";
        goto out;
    }
    o.sources = src;
    o.targets = tgt;
    o.jobs = (size_t)jobs;
    o.keys = keys;
    o.stop = &ctx->app->stopping; /* SIGTERM: the copy is abandoned, retried at start */
    if (pg_snapcopy_run(&o, tables, &report, &err) == CO_OK) {
        json_object_set_new(ctx->outputs, "full_load_copy",
                            json_pack("{s:s, s:s, s:i, s:I, s:O}", "method", "snapshot",
                                      "consistent_point", lsn, "jobs", (int)jobs,
                                      "duration_ms", (json_int_t)(co_clock_mono_ms() - t0),
                                      "tables", report));
        ok = true;
    }
out:
    if (ok)
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    else
        co_verdict_from_error(v, what, &err);
    json_decref(report);
    for (long i = 0; i < jobs; i++) {
        pg_conn_close(src[i]);
        pg_conn_close(tgt[i]);
    }
    pg_conn_close(repl);
    free(snapshot);
    free(lsn);
}
