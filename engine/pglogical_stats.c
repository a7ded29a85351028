/* pglogical_stats.c - table statistics in DMS's shape, the wait for the
 * full load, and CDC latency for the pg-logical engine (see pglogical.h).
 *
 * Sources: pg_subscription_rel (per-table sync state), pg_stat_progress_copy
 * (rows copied so far by a table sync worker), pg_stat_user_tables on the
 * subscriber (rows applied), pg_stat_subscription_stats (sync and apply
 * errors), and on the publisher pg_replication_slots (bytes behind:
 * pg_current_wal_insert_lsn() - confirmed_flush_lsn; the insert position,
 * not the write position pg_current_wal_lsn(), because a transaction
 * committed with synchronous_commit = off may still be in the WAL buffers
 * above the write position, and final_sync's drain must wait for it) and
 * pg_stat_replication
 * (replay_lag, which is what DMS calls CDCLatencyTarget).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/pglogical.h"
#include "engine/pglogical_int.h"
#include "engine/steps_pg.h"
#include "pg/pg_activity.h"
#include "core/validate.h"
#include "core/clock.h"
#include "core/log.h"

#define POLL_MS 1000
/* The full load is polled 4 times a second so that the step ends soon after
 * the last table is ready; statistics events go out at most once a second. */
#define LOAD_POLL_MS 250
#define STATS_EVERY_MS 1000
/* CDC latency polls while no subscriber is connected: this often for the
 * first UNKNOWN_LAG_FAST_MS of such a wait, then every POLL_MS. */
#define UNKNOWN_LAG_POLL_MS 200
#define UNKNOWN_LAG_FAST_MS 10000

static const char *table_state(char substate, bool errored)
{
    switch (substate) {
    case 'i': return errored ? "Table error" : "Before load";
    case 'd':
    case 'f':
    case 's': return errored ? "Table error" : "Full load";
    case 'r': return "Table completed";
    default: return "Table error";
    }
}

/* Reads the per-table statistics of role's subscription into *tables (DMS
 * TableStatistics shape) and the task-level counts into *task. Remembers in
 * ctx->outputs, per table, when its load started/ended and the insert
 * counter at that point, so later polls report changes since the load. */
static co_status read_stats(co_step_ctx *ctx, PGconn *c, const char *role,
                            json_t **tables, json_t **task, bool *all_ready,
                            bool *errored, co_error *err)
{
    pgl_names n;
    PGresult *res = NULL;
    const char *params[1];
    char now[32];
    json_t *marks, *arr;
    int loaded = 0, loading = 0, queued = 0, bad = 0, total;
    co_status rc;
    char *errs = NULL;

    pgl_names_make(ctx, role, &n);
    params[0] = n.sub;
    co_clock_rfc3339(co_clock_now_ms(), now, sizeof now);
    rc = pgl_query_text(c, "reading subscription errors",
                        "SELECT sync_error_count + apply_error_count"
                        " FROM pg_stat_subscription_stats WHERE subname = $1",
                        1, params, &errs, err);
    if (rc != CO_OK)
        return rc;
    *errored = errs && atoll(errs) > 0;
    free(errs);
    rc = pg_exec(c, "reading table states",
                 "SELECT n.nspname, c.relname, sr.srsubstate::text,"
                 " coalesce((SELECT p.tuples_processed FROM pg_stat_progress_copy p"
                 "   WHERE p.relid = sr.srrelid), -1),"
                 " coalesce(st.n_tup_ins, 0), coalesce(st.n_tup_upd, 0),"
                 " coalesce(st.n_tup_del, 0)"
                 " FROM pg_subscription s"
                 " JOIN pg_subscription_rel sr ON sr.srsubid = s.oid"
                 " JOIN pg_class c ON c.oid = sr.srrelid"
                 " JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid"
                 " WHERE s.subname = $1 ORDER BY 1, 2",
                 1, params, &res, err);
    if (rc != CO_OK)
        return rc;
    marks = json_object_get(ctx->outputs, "table_marks");
    if (!marks) {
        marks = json_object();
        json_object_set_new(ctx->outputs, "table_marks", marks);
    }
    arr = json_array();
    total = PQntuples(res);
    for (int r = 0; r < total; r++) {
        char key[300];
        char st = PQgetvalue(res, r, 2)[0];
        long long copied = atoll(PQgetvalue(res, r, 3));
        long long ins = atoll(PQgetvalue(res, r, 4));
        long long upd = atoll(PQgetvalue(res, r, 5));
        long long del = atoll(PQgetvalue(res, r, 6));
        json_t *m, *row;
        snprintf(key, sizeof key, "%s.%s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        m = json_object_get(marks, key);
        if (!m) {
            m = json_object();
            json_object_set_new(marks, key, m);
        }
        if (st != 'i' && !json_object_get(m, "start"))
            json_object_set_new(m, "start", json_string(now));
        if (st == 'r' && !json_object_get(m, "end")) {
            json_object_set_new(m, "end", json_string(now));
            json_object_set_new(m, "rows", json_integer(ins));
            json_object_set_new(m, "base_upd", json_integer(upd));
            json_object_set_new(m, "base_del", json_integer(del));
        }
        if (st == 'r')
            loaded++;
        else if (st == 'i')
            queued++;
        else
            loading++;
        if (*errored && st != 'r')
            bad++;
        row = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:i, s:s}",
                        "SchemaName", PQgetvalue(res, r, 0),
                        "TableName", PQgetvalue(res, r, 1),
                        "TableState", table_state(st, *errored),
                        "FullLoadRows",
                        (json_int_t)(st == 'r' ? json_integer_value(json_object_get(m, "rows"))
                                               : (copied > 0 ? copied : 0)),
                        "Inserts",
                        (json_int_t)(st == 'r' ? ins - json_integer_value(json_object_get(m, "rows")) : 0),
                        "Updates",
                        (json_int_t)(st == 'r' ? upd - json_integer_value(json_object_get(m, "base_upd")) : 0),
                        "Deletes",
                        (json_int_t)(st == 'r' ? del - json_integer_value(json_object_get(m, "base_del")) : 0),
                        "Ddls", 0, "LastUpdateTime", now);
        if (json_object_get(m, "start"))
            json_object_set(row, "FullLoadStartTime", json_object_get(m, "start"));
        if (json_object_get(m, "end"))
            json_object_set(row, "FullLoadEndTime", json_object_get(m, "end"));
        json_array_append_new(arr, row);
    }
    PQclear(res);
    *all_ready = total > 0 && loaded == total;
    *tables = arr;
    *task = json_pack("{s:f, s:i, s:i, s:i, s:i}", "FullLoadProgressPercent",
                      total ? 100.0 * loaded / total : 0.0, "TablesLoaded", loaded,
                      "TablesLoading", loading, "TablesQueued", queued, "TablesErrored",
                      bad);
    return CO_OK;
}

void pgl_await_full_load(co_step_ctx *ctx, const char *role, co_verdict *v)
{
    PGconn *c = NULL;
    json_t *tables = NULL, *task = NULL;
    bool ready = false, errored = false;
    co_error err;

    co_error_clear(&err);
    if (co_step_pg_open(ctx, pgl_subscriber(ctx, role), &c, &err) != CO_OK ||
        read_stats(ctx, c, role, &tables, &task, &ready, &errored, &err) != CO_OK) {
        co_verdict_from_error(v, "reading the full load's progress", &err);
        pg_conn_close(c);
        return;
    }
    pg_conn_close(c);
    {
        int64_t now = co_clock_now_ms();
        int64_t last = json_integer_value(json_object_get(ctx->outputs, "stats_published_ms"));
        if (ready || errored || now - last >= STATS_EVERY_MS) {
            co_step_notify(ctx, "table.statistics",
                    json_pack("{s:s, s:O, s:O}", "task", role, "tables", tables, "task_stats",
                              task));
            json_object_set_new(ctx->outputs, "stats_published_ms", json_integer(now));
        }
    }
    json_object_set(ctx->outputs, "task_stats", task);
    if (errored) {
        json_t *t;
        size_t i;
        char names_buf[512] = "";
        size_t used = 0;
        json_array_foreach(tables, i, t)
            if (strcmp(v_str(t, "TableState"), "Table error") == 0 && used < 400)
                used += (size_t)snprintf(names_buf + used, sizeof names_buf - used, "%s%s.%s",
                                         used ? ", " : "", v_str(t, "SchemaName"),
                                         v_str(t, "TableName"));
        co_verdict_set(v, CO_VERDICT_FAIL, 0,
                       "Table error during the full load of %s (see the subscriber's "
                       "server log)", names_buf[0] ? names_buf : "the task");
    } else if (!ready) {
        co_verdict_set(v, CO_VERDICT_WAIT, LOAD_POLL_MS, NULL);
    } else if (strcmp(role, "main") == 0) {
        /* Stop after the full load: changes wait in the slot, as DMS's
         * cached changes do, until resume_cdc enables the subscription. */
        if (pgl_alter_subscription(ctx, role, "DISABLE", &err) != CO_OK) {
            co_verdict_from_error(v, "pausing the subscription", &err);
        } else {
            co_step_notify(ctx, "engine.status",
                    json_pack("{s:s, s:s, s:s}", "task", role, "Status", "stopped",
                              "StopReason", "STOPPED_AFTER_CACHED_EVENTS"));
            json_object_set_new(ctx->outputs, "StopReason",
                                json_string("STOPPED_AFTER_CACHED_EVENTS"));
            co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        }
    } else {
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    }
    json_decref(tables);
    json_decref(task);
}

void pgl_await_cdc_latency(co_step_ctx *ctx, const char *role, double max_seconds,
                           co_verdict *v)
{
    PGconn *pc = NULL;
    PGresult *res = NULL;
    pgl_names n;
    const char *params[2];
    co_error err;
    long long bytes;
    double lag;
    bool lag_known;
    int64_t since;
    char what[300], detail[300];

    co_error_clear(&err);
    pgl_names_make(ctx, role, &n);
    params[0] = n.slot;
    params[1] = n.sub;
    if (co_step_pg_open(ctx, pgl_publisher(ctx, role), &pc, &err) != CO_OK ||
        pg_exec(pc, "measuring CDC latency",
                "SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_insert_lsn(),"
                "   s.confirmed_flush_lsn), -1)::bigint, " PG_SUBSCRIBER_LAG_SQL("$2")
                " FROM pg_replication_slots s WHERE s.slot_name = $1",
                2, params, &res, &err) != CO_OK) {
        co_verdict_from_error(v, "measuring CDC latency", &err);
        pg_conn_close(pc);
        return;
    }
    if (PQntuples(res) == 0) {
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "replication slot %s is missing", n.slot);
        PQclear(res);
        pg_conn_close(pc);
        return;
    }
    bytes = atoll(PQgetvalue(res, 0, 0));
    lag_known = !PQgetisnull(res, 0, 1);
    lag = lag_known ? atof(PQgetvalue(res, 0, 1)) : 0;
    PQclear(res);
    pg_conn_close(pc);
    co_step_notify(ctx, "engine.status",
            json_pack("{s:s, s:s, s:o, s:o, s:I}", "task", role, "Status", "running",
                      "CDCLatencySource", lag_known ? json_real(lag) : json_null(),
                      "CDCLatencyTarget", lag_known ? json_real(lag) : json_null(),
                      "BytesBehind", (json_int_t)bytes));
    json_object_set_new(ctx->outputs, "cdc",
                        json_pack("{s:o, s:I}", "CDCLatencyTarget",
                                  lag_known ? json_real(lag) : json_null(), "BytesBehind",
                                  (json_int_t)bytes));
    /* Caught up: nothing behind, or a measured lag within the threshold.
     * Without a lag (no subscriber connected to the slot) only bytes
     * behind 0 counts. */
    if (bytes == 0 || (bytes > 0 && lag_known && max_seconds > 0 && lag <= max_seconds)) {
        co_step_waiting_clear(ctx);
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        return;
    }
    snprintf(what, sizeof what, "subscription %s to catch up with the source (%s)", n.sub,
             max_seconds > 0 ? "CDC latency within cdc_latency_threshold_seconds"
                             : "no bytes behind");
    if (bytes < 0)
        snprintf(detail, sizeof detail, "slot %s has no confirmed position yet", n.slot);
    else if (lag_known)
        snprintf(detail, sizeof detail, "%lld bytes behind, CDC latency %.1f s", bytes, lag);
    else
        snprintf(detail, sizeof detail,
                 "%lld bytes behind; no subscriber is connected to slot %s (its apply "
                 "worker has not started or keeps failing: see the target's log)",
                 bytes, n.slot);
    since = co_step_waiting(ctx, what, detail, 60000);
    /* an apply worker that has just been enabled connects within a second
     * or so: look again sooner for the first seconds of an unknown lag */
    co_verdict_set(v, CO_VERDICT_WAIT,
                   !lag_known && co_clock_now_ms() - since < UNKNOWN_LAG_FAST_MS
                       ? UNKNOWN_LAG_POLL_MS
                       : max_seconds > 0 ? POLL_MS : 500,
                   NULL);
}

void pgl_describe_task(co_step_ctx *ctx, const char *role, json_t **out, json_t **tables,
                       co_verdict *v)
{
    PGconn *c = NULL;
    json_t *task = NULL;
    bool ready = false, errored = false;
    co_error err;
    co_error_clear(&err);
    *out = NULL;
    *tables = NULL;
    if (co_step_pg_open(ctx, pgl_subscriber(ctx, role), &c, &err) != CO_OK ||
        read_stats(ctx, c, role, tables, &task, &ready, &errored, &err) != CO_OK) {
        co_verdict_from_error(v, "describing the task", &err);
        pg_conn_close(c);
        return;
    }
    pg_conn_close(c);
    *out = json_pack("{s:s, s:o}", "Status", errored ? "failed" : "running",
                     "ReplicationTaskStats", task);
    co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
}
