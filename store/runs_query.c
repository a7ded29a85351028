/* runs_query.c - see runs_query.h. */
#include "store/runs_query.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/runs.h"

enum {
    SQL_FIND_ASC,
    SQL_FIND_DESC,
    SQL_LATEST_PER_TASK,
    SQL_LATEST_CDC,
    SQL_LAST_EVENT,
    SQL_LAST
};

#define FIND_WHERE                                                             \
    " (?1 IS NULL OR state IN (SELECT value FROM json_each(?1)))"              \
    " AND (?2 IS NULL OR plan IN (SELECT value FROM json_each(?2)))"           \
    " AND (?3 IS NULL OR engine IN (SELECT value FROM json_each(?3)))"         \
    " AND (?4 IS NULL OR project_id IN (SELECT value FROM json_each(?4)))"     \
    " AND (?5 IS NULL OR created_at >= ?5) AND (?6 IS NULL OR created_at < ?6)"

static const char *const sql_text[] = {
    [SQL_FIND_ASC] = "SELECT id, seq FROM runs WHERE" FIND_WHERE
                     " AND seq > ?7 ORDER BY seq LIMIT ?8",
    [SQL_FIND_DESC] = "SELECT id, seq FROM runs WHERE" FIND_WHERE
                      " AND (?7 = 0 OR seq < ?7) ORDER BY seq DESC LIMIT ?8",
    /* the newest event of a type per replication task role */
    [SQL_LATEST_PER_TASK] =
        "SELECT id, data, created_at FROM events WHERE id IN"
        " (SELECT max(id) FROM events WHERE run_id = ?1 AND type = ?2"
        "  GROUP BY json_extract(data, '$.task')) ORDER BY id",
    [SQL_LATEST_CDC] =
        "SELECT data, created_at FROM events WHERE run_id = ?1 AND type = 'engine.status'"
        " AND json_extract(data, '$.CDCLatencyTarget') IS NOT NULL"
        " ORDER BY id DESC LIMIT 1",
    [SQL_LAST_EVENT] = "SELECT coalesce(max(id), 0) FROM events WHERE run_id = ?1",
};
CO_SQL_MODULE(CO_SQL_RUNS_QUERY);

co_status co_runs_query(co_store *store, const co_runs_filter *f, int64_t after_seq,
                        int limit, json_t **items, int64_t *last_seq, bool *more,
                        co_error *err)
{
    char (*ids)[CO_ID_SIZE] = calloc((size_t)limit + 1, CO_ID_SIZE);
    int64_t *seqs = calloc((size_t)limit + 1, sizeof *seqs);
    sqlite3_stmt *st = co_store_stmt(store, &sql,
                                     f->newest_first ? SQL_FIND_DESC : SQL_FIND_ASC, err);
    int n = 0, src;
    json_t *arr;
    co_status rc = CO_OK;

    if (!ids || !seqs || !st) {
        free(ids);
        free(seqs);
        return st ? co_error_set(err, CO_ERR_NOMEM, "out of memory") : CO_ERR_STORE;
    }
    CO_BIND(st, CO_TEXT(f->states), CO_TEXT(f->plans), CO_TEXT(f->engines),
            CO_TEXT(f->project_ids), CO_TEXT(f->created_after), CO_TEXT(f->created_before),
            CO_INT(after_seq), CO_INT(limit + 1));
    *more = false;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            *more = true;
            break;
        }
        snprintf(ids[n], CO_ID_SIZE, "%s", co_col_text(st, 0));
        seqs[n++] = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = co_store_fail(store, src, "listing runs", err);
    arr = json_array();
    *last_seq = n ? seqs[n - 1] : after_seq;
    for (int i = 0; i < n && rc == CO_OK; i++) {
        json_t *run = NULL;
        if ((rc = co_runs_json(store, ids[i], &run, err)) == CO_OK) {
            if (f->basic)
                json_object_del(run, "steps");
            json_array_append_new(arr, run);
        }
    }
    free(ids);
    free(seqs);
    if (rc != CO_OK) {
        json_decref(arr);
        return rc;
    }
    *items = arr;
    return CO_OK;
}

/* ------------------------------------------------------------- reasons */

static bool has(const char *hay, const char *needle)
{
    return strcasestr(hay, needle) != NULL;
}

static bool has_any(const char *hay, const char *const *needles)
{
    for (; *needles; needles++)
        if (has(hay, *needles))
            return true;
    return false;
}

const char *co_error_reason(const char *message, const char *sqlstate)
{
    static const char *const unreachable[] = {
        "could not connect", "connection refused", "could not translate host",
        "no route to host", "server closed the connection", "Couldn't connect",
        "connection to server", NULL};
    /* permission before reachability: libpq reports a refused login as a
     * failed "connection to server" */
    static const char *const denied[] = {
        "permission denied", "password authentication failed", "AccessDenied",
        "not authorized", "UnauthorizedOperation", "must be owner", "must be superuser",
        "InvalidClientTokenId", "SignatureDoesNotMatch", NULL};
    static const char *const timeouts[] = {"timed out", "timeout", NULL};
    static const char *const mismatch[] = {"differ between source and target",
                                           "validation", "mismatch", NULL};
    static const char *const prereq[] = {
        "not ready", "prerequisite", "wal_level", "replica identity", "primary key",
        "max_replication_slots", "max_wal_senders", "does not exist", "is missing",
        "select no table", "unsupported", "not supported", "REPLICATION", NULL};
    const char *ss = sqlstate ? sqlstate : "";
    const char *m = message ? message : "";
    if (!*m)
        return NULL;
    if (strcmp(ss, "42501") == 0 || strncmp(ss, "28", 2) == 0 || has_any(m, denied))
        return "permission_denied";
    if (strncmp(ss, "08", 2) == 0 || has_any(m, unreachable))
        return has(m, "target") ? "target_unreachable" : "source_unreachable";
    if (strcmp(ss, "57014") == 0 || has_any(m, timeouts))
        return "timeout";
    if (has_any(m, mismatch))
        return "validation_mismatch";
    if (strcmp(ss, "3D000") == 0 || strcmp(ss, "42P01") == 0 || strcmp(ss, "55000") == 0 ||
        has_any(m, prereq))
        return "prerequisite_missing";
    if (has(m, "after all attempts") || strcmp(ss, "40001") == 0 ||
        strcmp(ss, "40P01") == 0 || strncmp(ss, "53", 2) == 0)
        return "transient";
    if (has(m, "cancel"))
        return "cancelled";
    return "internal";
}

static json_t *reason_json(const char *message, const char *sqlstate)
{
    const char *r = co_error_reason(message, sqlstate);
    return r ? json_string(r) : json_null();
}

/* ------------------------------------------------------------ progress */

/* Rows the engine reports loaded and expected for the tables of one
 * table.statistics event; the earliest FullLoadStartTime in *start_ms. */
static void sum_tables(const json_t *tables, int64_t *loaded, int64_t *expected,
                       bool *expected_known, int *ntables, int *ncompleted,
                       int64_t *start_ms)
{
    const json_t *t;
    size_t i;
    json_array_foreach(tables, i, t) {
        const json_t *exp = json_object_get(t, "FullLoadRowsExpected");
        const char *state = json_string_value(json_object_get(t, "TableState"));
        const char *started = json_string_value(json_object_get(t, "FullLoadStartTime"));
        *loaded += json_integer_value(json_object_get(t, "FullLoadRows"));
        if (json_is_integer(exp))
            *expected += json_integer_value(exp);
        else
            *expected_known = false;
        (*ntables)++;
        if (state && strcmp(state, "Table completed") == 0)
            (*ncompleted)++;
        if (started) {
            int64_t ms = co_clock_parse_rfc3339(started);
            if (ms > 0 && (*start_ms == 0 || ms < *start_ms))
                *start_ms = ms;
        }
    }
}

static co_status add_progress(co_store *store, const char *run_id, json_t *run,
                              co_error *err)
{
    int64_t loaded = 0, expected = 0, start_ms = 0, as_of_ms = 0;
    bool expected_known = true, any = false;
    int ntables = 0, ncompleted = 0, src;
    double percent = -1;
    json_error_t jerr;
    json_t *p;
    char as_of[32] = "";
    sqlite3_stmt *st = co_store_stmt(store, &sql, SQL_LATEST_PER_TASK, err);
    if (!st)
        return CO_ERR_STORE;
    co_bind_text(st, 1, run_id);
    co_bind_text(st, 2, "table.statistics");
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *d = json_loads(co_col_text(st, 1), 0, &jerr);
        const json_t *pct = json_object_get(json_object_get(d, "task_stats"),
                                            "FullLoadProgressPercent");
        const char *task = json_string_value(json_object_get(d, "task"));
        if (d && !(task && strcmp(task, "rollback") == 0)) {
            any = true;
            sum_tables(json_object_get(d, "tables"), &loaded, &expected, &expected_known,
                       &ntables, &ncompleted, &start_ms);
            if (json_is_number(pct))
                percent = json_number_value(pct);
            snprintf(as_of, sizeof as_of, "%s", co_col_text(st, 2));
        }
        json_decref(d);
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return co_store_fail(store, src, "reading table statistics", err);
    p = json_object();
    if (any) {
        double frac;
        as_of_ms = co_clock_parse_rfc3339(as_of);
        if (expected_known && expected > 0)
            frac = (double)loaded / (double)expected;
        else if (percent >= 0)
            frac = percent / 100.0;
        else
            frac = ntables ? (double)ncompleted / ntables : 0;
        json_object_set_new(p, "rows_loaded", json_integer(loaded));
        json_object_set_new(p, "rows_expected",
                            expected_known && ntables ? json_integer(expected) : json_null());
        json_object_set_new(p, "tables_total", json_integer(ntables));
        json_object_set_new(p, "tables_loaded", json_integer(ncompleted));
        json_object_set_new(p, "full_load_percent",
                            json_real(floor(fmin(frac, 1.0) * 1000.0) / 10.0));
        if (frac > 0 && frac < 1 && start_ms > 0 && as_of_ms > start_ms) {
            char eta[32];
            int64_t left = (int64_t)((double)(as_of_ms - start_ms) * (1 - frac) / frac);
            json_object_set_new(p, "full_load_eta",
                                json_string(co_clock_rfc3339(as_of_ms + left, eta, sizeof eta)));
        } else {
            json_object_set_new(p, "full_load_eta", json_null());
        }
    } else {
        json_object_set_new(p, "rows_loaded", json_null());
        json_object_set_new(p, "rows_expected", json_null());
        json_object_set_new(p, "tables_total", json_null());
        json_object_set_new(p, "tables_loaded", json_null());
        json_object_set_new(p, "full_load_percent", json_null());
        json_object_set_new(p, "full_load_eta", json_null());
    }
    json_object_set_new(p, "cdc_latency_seconds", json_null());
    json_object_set_new(p, "bytes_behind", json_null());
    if (!(st = co_store_stmt(store, &sql, SQL_LATEST_CDC, err))) {
        json_decref(p);
        return CO_ERR_STORE;
    }
    co_bind_text(st, 1, run_id);
    if ((src = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *d = json_loads(co_col_text(st, 0), 0, &jerr);
        json_object_set(p, "cdc_latency_seconds", json_object_get(d, "CDCLatencyTarget"));
        if (json_object_get(d, "BytesBehind"))
            json_object_set(p, "bytes_behind", json_object_get(d, "BytesBehind"));
        if (!any || strcmp(co_col_text(st, 1), as_of) > 0)
            snprintf(as_of, sizeof as_of, "%s", co_col_text(st, 1));
        json_decref(d);
        src = sqlite3_step(st);
    }
    sqlite3_reset(st);
    json_object_set_new(p, "as_of", as_of[0] ? json_string(as_of) : json_null());
    json_object_set_new(run, "progress", p);
    if (src != SQLITE_DONE)
        return co_store_fail(store, src, "reading the CDC latency", err);
    return CO_OK;
}

co_status co_runs_describe(co_store *store, const char *run_id, json_t *run,
                           co_error *err)
{
    json_t *steps = json_object_get(run, "steps"), *s, *failed = NULL;
    size_t i;
    json_array_foreach(steps, i, s) {
        const char *e = json_string_value(json_object_get(s, "last_error"));
        const char *ss = json_string_value(json_object_get(s, "sqlstate"));
        json_object_set_new(s, "last_error_reason", reason_json(e, ss));
        if (e && strcmp(json_string_value(json_object_get(s, "state")), "failed") == 0)
            failed = s;
    }
    {
        const char *e = json_string_value(json_object_get(run, "error"));
        json_t *r = failed ? json_incref(json_object_get(failed, "last_error_reason"))
                           : reason_json(e, NULL);
        json_object_set_new(run, "error_reason", e ? r : (json_decref(r), json_null()));
    }
    return add_progress(store, run_id, run, err);
}

co_status co_runs_tables(co_store *store, const char *run_id, json_t **out,
                         int64_t *etag_id, co_error *err)
{
    json_t *tasks = json_array(), *items = json_array();
    json_error_t jerr;
    int src;
    sqlite3_stmt *st = co_store_stmt(store, &sql, SQL_LATEST_PER_TASK, err);
    if (!st) {
        json_decref(tasks);
        json_decref(items);
        return CO_ERR_STORE;
    }
    *etag_id = 0;
    co_bind_text(st, 1, run_id);
    co_bind_text(st, 2, "table.statistics");
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *d = json_loads(co_col_text(st, 1), 0, &jerr), *t;
        const char *task = json_string_value(json_object_get(d, "task"));
        size_t i;
        *etag_id = sqlite3_column_int64(st, 0);
        if (!d)
            continue;
        json_array_append_new(tasks, json_pack("{s:s, s:O?, s:O?, s:s}", "task",
                                               task ? task : "main", "status",
                                               json_object_get(d, "status"), "task_stats",
                                               json_object_get(d, "task_stats"), "as_of",
                                               co_col_text(st, 2)));
        json_array_foreach(json_object_get(d, "tables"), i, t) {
            json_t *row = json_deep_copy(t);
            json_object_set_new(row, "task", json_string(task ? task : "main"));
            json_array_append_new(items, row);
        }
        json_decref(d);
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE) {
        json_decref(tasks);
        json_decref(items);
        return co_store_fail(store, src, "reading table statistics", err);
    }
    *out = json_pack("{s:o, s:o}", "tasks", tasks, "items", items);
    return CO_OK;
}

int64_t co_runs_last_event(co_store *store, const char *run_id)
{
    sqlite3_stmt *st = co_store_stmt(store, &sql, SQL_LAST_EVENT, NULL);
    int64_t id = 0;
    if (!st)
        return 0;
    co_bind_text(st, 1, run_id);
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return id;
}
