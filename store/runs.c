/* runs.c - see runs.h. */
#include "store/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/runs_query.h"

enum {
    SQL_RUN_INSERT,
    SQL_STEP_INSERT,
    SQL_RUN_LOAD,
    SQL_STEP_LOAD,
    SQL_ALL_OUTPUTS,
    SQL_RUN_WRITE,
    SQL_STEP_WRITE,
    SQL_EVENT_INSERT,
    SQL_CLAIM_PICK,
    SQL_CLAIM_TAKE,
    SQL_NEXT_DUE,
    SQL_RELEASE_ALL,
    SQL_STEPS_OF_RUN,
    SQL_RUN_COUNT,
    SQL_ART_PUT,
    SQL_ART_LIST,
    SQL_ART_GET,
    SQL_EV_QUERY,
    SQL_EV_MAX,
    SQL_EV_LATEST,
    SQL_LAST
};

/* A step the runner calls: the current step of a pending or running run, or
 * the gate of a run awaiting approval that asked to be called while it waits
 * (due_at > 0: its watch, e.g. the continuous validation at the cutover gate). */
#define DUE_STEP                                                            \
    "((r.state IN ('pending', 'running')"                                  \
    "   AND s.state IN ('pending', 'running', 'waiting'))"                 \
    " OR (r.state = 'awaiting_approval' AND s.state = 'awaiting_approval'" \
    "   AND s.due_at > 0))"

#define RUN_COLS                                                            \
    "id, project_id, plan, engine, params, state, current_step,"           \
    " coalesce(error, ''), created_by, created_at, updated_at,"            \
    " coalesce(started_at, ''), coalesce(finished_at, ''), version, seq,"     \
    " cleanup, cleanup_attempts, coalesce(cleanup_error, ''), cleanup_until," \
    " cleanup_owner IS NOT NULL"

static const char *const sql_text[] = {
    [SQL_RUN_INSERT] = "INSERT INTO runs (id, project_id, plan, engine, params, state,"
                       " created_by, created_at, updated_at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?7)",
    [SQL_STEP_INSERT] = "INSERT INTO run_steps (run_id, idx, step_id, state)"
                        " VALUES (?1, ?2, ?3, 'pending')",
    [SQL_RUN_LOAD] = "SELECT " RUN_COLS " FROM runs WHERE id = ?1",
    [SQL_STEP_LOAD] = "SELECT idx, step_id, state, attempts, due_at, duration_ms,"
                      " coalesce(started_at, ''), outputs, coalesce(last_error, '')"
                      " FROM run_steps WHERE run_id = ?1 AND idx = ?2",
    [SQL_ALL_OUTPUTS] = "SELECT step_id, outputs FROM run_steps WHERE run_id = ?1"
                        " ORDER BY idx",
    [SQL_RUN_WRITE] = "UPDATE runs SET state = ?2, current_step = ?3, error = ?4,"
                      " updated_at = ?5, version = version + 1,"
                      " started_at = CASE WHEN ?2 = 'running' THEN"
                      "   coalesce(started_at, ?5) ELSE started_at END,"
                      " finished_at = CASE WHEN ?2 IN ('succeeded','failed','cancelled')"
                      "   THEN ?5 ELSE NULL END"
                      " WHERE id = ?1",
    [SQL_STEP_WRITE] =
        "UPDATE run_steps SET"
        " state = coalesce(?3, state),"
        " attempts = CASE WHEN ?4 >= 0 THEN ?4 ELSE attempts END,"
        " due_at = CASE WHEN ?5 >= 0 THEN ?5 ELSE due_at END,"
        " lease_owner = CASE WHEN ?6 THEN NULL ELSE lease_owner END,"
        " lease_until = CASE WHEN ?6 THEN 0 ELSE lease_until END,"
        " started_at = CASE WHEN ?7 THEN coalesce(started_at, ?8) ELSE started_at END,"
        " finished_at = CASE WHEN ?9 THEN ?8 ELSE finished_at END,"
        " duration_ms = CASE WHEN ?9 AND started_at IS NOT NULL THEN"
        "   max(0, CAST((julianday(?8) - julianday(started_at)) * 86400000 AS INTEGER))"
        "   ELSE duration_ms END,"
        " last_error = CASE WHEN ?10 IS NULL THEN last_error"
        "   WHEN ?10 = '' THEN NULL ELSE ?10 END,"
        " sqlstate = CASE WHEN ?11 IS NULL THEN sqlstate"
        "   WHEN ?11 = '' THEN NULL ELSE ?11 END,"
        " outputs = coalesce(?12, outputs),"
        " approved_by = coalesce(?13, approved_by),"
        " approved_at = CASE WHEN ?13 IS NOT NULL THEN ?8 ELSE approved_at END,"
        " progress = CASE WHEN ?14 >= 0 THEN ?14 ELSE progress END"
        " WHERE run_id = ?1 AND idx = ?2",
    [SQL_EVENT_INSERT] = "INSERT INTO events (run_id, project_id, type, data, created_at)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)",
    /* CROSS JOIN makes SQLite drive from the runs (index runs_state) and
     * look up each run's current step by primary key, instead of scanning
     * every pending step of every queued run */
    [SQL_CLAIM_PICK] =
        "SELECT s.run_id, s.idx, s.state, r.state, s.attempts FROM runs r"
        " CROSS JOIN run_steps s ON s.run_id = r.id AND s.idx = r.current_step"
        " WHERE " DUE_STEP " AND s.due_at <= ?1"
        " AND (s.lease_owner IS NULL OR s.lease_until < ?1"
        "      OR substr(s.lease_owner, 1, length(?2)) <> ?2)"
        /* one step of a run at a time: a gate's watch that is still
         * running holds back the step after an approval */
        " AND NOT EXISTS (SELECT 1 FROM run_steps o WHERE o.run_id = r.id"
        "   AND o.idx <> s.idx AND o.lease_owner IS NOT NULL AND o.lease_until >= ?1"
        "   AND substr(o.lease_owner, 1, length(?2)) = ?2)"
        " ORDER BY s.due_at, r.seq LIMIT 1",
    [SQL_CLAIM_TAKE] = "UPDATE run_steps SET lease_owner = ?3, lease_until = ?4"
                       " WHERE run_id = ?1 AND idx = ?2",
    /* steps leased by a live worker are not "due": idle workers sleep */
    [SQL_NEXT_DUE] = "SELECT min(s.due_at) FROM runs r CROSS JOIN run_steps s"
                     " ON s.run_id = r.id AND s.idx = r.current_step"
                     " WHERE " DUE_STEP " AND s.lease_owner IS NULL",
    [SQL_RELEASE_ALL] = "UPDATE run_steps SET lease_owner = NULL, lease_until = 0"
                        " WHERE lease_owner IS NOT NULL",
    [SQL_STEPS_OF_RUN] = "SELECT idx, step_id, state, attempts, coalesce(started_at, ''),"
                         " coalesce(finished_at, ''), duration_ms,"
                         " coalesce(last_error, ''), coalesce(sqlstate, ''), progress,"
                         " outputs, coalesce(approved_by, ''),"
                         " coalesce(approved_at, ''), due_at"
                         " FROM run_steps WHERE run_id = ?1 ORDER BY idx",
    [SQL_RUN_COUNT] = "SELECT state, count(*) FROM runs GROUP BY state",
    [SQL_ART_PUT] = "INSERT INTO artifacts (run_id, name, step_id, content_type, body,"
                    " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
                    " ON CONFLICT (run_id, name) DO UPDATE SET step_id = excluded.step_id,"
                    " content_type = excluded.content_type, body = excluded.body,"
                    " updated_at = excluded.updated_at",
    [SQL_ART_LIST] = "SELECT name, step_id, content_type, length(body), created_at,"
                     " updated_at FROM artifacts WHERE run_id = ?1 ORDER BY created_at, name",
    [SQL_ART_GET] = "SELECT content_type, body FROM artifacts WHERE run_id = ?1"
                    " AND name = ?2",
    [SQL_EV_QUERY] = "SELECT id, type, coalesce(run_id, ''), coalesce(project_id, ''),"
                     " created_at, data FROM events WHERE id > ?1"
                     " AND (?2 <= 0 OR id <= ?2)"
                     " AND (?3 IS NULL OR run_id = ?3)"
                     " AND (?4 IS NULL OR project_id = ?4)"
                     " AND (?5 IS NULL OR type = ?5"
                     /* "x.*": prefix "x."; "!x.*": not that prefix (events.h) */
                     "  OR (?5 GLOB '[^!]*.[*]' AND substr(type, 1, length(?5) - 1)"
                     "      = substr(?5, 1, length(?5) - 1))"
                     "  OR (?5 GLOB '!?*.[*]' AND substr(type, 1, length(?5) - 2)"
                     "      <> substr(?5, 2, length(?5) - 2)))"
                     " ORDER BY id LIMIT ?6",
    [SQL_EV_MAX] = "SELECT coalesce(max(id), 0) FROM events",
    [SQL_EV_LATEST] = "SELECT id, type, coalesce(run_id, ''), coalesce(project_id, ''),"
                      " created_at, data FROM events WHERE run_id = ?1 AND type = ?2"
                      " ORDER BY id DESC LIMIT ?3",
};
CO_SQL_MODULE(CO_SQL_RUNS);


static void now_text(char buf[32])
{
    co_clock_rfc3339(co_clock_now_ms(), buf, 32);
}

void co_run_row_clear(co_run_row *r)
{
    if (!r)
        return;
    json_decref(r->params);
    memset(r, 0, sizeof *r);
}

void co_step_row_clear(co_step_row *s)
{
    if (!s)
        return;
    json_decref(s->outputs);
    memset(s, 0, sizeof *s);
}


co_status co_runs_insert(co_store *store, const co_run_row *r,
                         const char *const *step_ids, size_t nsteps, co_error *err)
{
    char now[32], *params;
    co_status rc;
    int src;
    CO_STMT(SQL_RUN_INSERT);
    params = json_dumps(r->params, JSON_COMPACT | JSON_SORT_KEYS);
    if (!params)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    now_text(now);
    CO_BIND(st, CO_TEXT(r->id), CO_TEXT(r->project_id), CO_TEXT(r->plan), CO_TEXT(r->engine),
            CO_TEXT(params), CO_TEXT(r->created_by), CO_TEXT(now));
    src = sqlite3_step(st);
    free(params);
    if ((rc = co_store_done(store, st, src, "creating the run", err)) != CO_OK)
        return rc;
    for (size_t i = 0; i < nsteps; i++)
        if ((rc = CO_EXEC(SQL_STEP_INSERT, "creating a step", CO_TEXT(r->id), CO_INT(i),
                          CO_TEXT(step_ids[i]))) != CO_OK)
            return rc;
    return CO_OK;
}

co_status co_runs_load(co_store *store, const char *id, co_run_row *out, co_error *err)
{
    json_error_t jerr;
    co_status rc;
    CO_STMT(SQL_RUN_LOAD);
    memset(out, 0, sizeof *out);
    co_bind_text(st, 1, id);
    rc = co_store_row(store, st, "reading the run", err, "run %s does not exist", id);
    if (rc != CO_OK)
        return rc;
    snprintf(out->id, sizeof out->id, "%s", co_col_text(st, 0));
    snprintf(out->project_id, sizeof out->project_id, "%s", co_col_text(st, 1));
    snprintf(out->plan, sizeof out->plan, "%s", co_col_text(st, 2));
    snprintf(out->engine, sizeof out->engine, "%s", co_col_text(st, 3));
    out->params = json_loads(co_col_text(st, 4), 0, &jerr);
    out->state = co_run_state_parse(co_col_text(st, 5));
    out->current_step = sqlite3_column_int(st, 6);
    snprintf(out->error, sizeof out->error, "%s", co_col_text(st, 7));
    snprintf(out->created_by, sizeof out->created_by, "%s", co_col_text(st, 8));
    out->version = sqlite3_column_int64(st, 13);
    out->seq = sqlite3_column_int64(st, 14);
    out->cleanup_attempts = sqlite3_column_int(st, 16);
    sqlite3_reset(st);
    if (!out->params)
        return co_error_set(err, CO_ERR_STORE, "run %s has unreadable params", id);
    return CO_OK;
}

co_status co_runs_exists(co_store *store, const char *id, co_error *err)
{
    co_status rc;
    CO_STMT(SQL_RUN_LOAD);
    co_bind_text(st, 1, id);
    rc = co_store_row(store, st, "reading the run", err, "run %s does not exist", id);
    if (rc == CO_OK)
        sqlite3_reset(st);
    return rc;
}

co_status co_runs_load_step(co_store *store, const char *id, int idx,
                            co_step_row *out, co_error *err)
{
    json_error_t jerr;
    co_status rc;
    CO_STMT(SQL_STEP_LOAD);
    memset(out, 0, sizeof *out);
    co_bind_text(st, 1, id);
    co_bind_int(st, 2, idx);
    if ((rc = co_store_row(store, st, "reading the step", err, "run %s has no step %d", id,
                           idx)) != CO_OK)
        return rc;
    out->idx = sqlite3_column_int(st, 0);
    snprintf(out->step_id, sizeof out->step_id, "%s", co_col_text(st, 1));
    out->state = co_step_state_parse(co_col_text(st, 2));
    out->attempts = sqlite3_column_int(st, 3);
    out->due_at = sqlite3_column_int64(st, 4);
    out->duration_ms = sqlite3_column_int64(st, 5);
    snprintf(out->started_at, sizeof out->started_at, "%s", co_col_text(st, 6));
    out->outputs = json_loads(co_col_text(st, 7), 0, &jerr);
    snprintf(out->last_error, sizeof out->last_error, "%s", co_col_text(st, 8));
    sqlite3_reset(st);
    if (!out->outputs)
        out->outputs = json_object();
    return CO_OK;
}

co_status co_runs_all_outputs(co_store *store, const char *id, json_t **out,
                              co_error *err)
{
    json_t *all;
    json_error_t jerr;
    int src;
    CO_STMT(SQL_ALL_OUTPUTS);
    all = json_object();
    co_bind_text(st, 1, id);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_loads(co_col_text(st, 1), 0, &jerr);
        json_object_set_new(all, co_col_text(st, 0), o ? o : json_object());
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE) {
        json_decref(all);
        return co_store_fail(store, src, "reading step outputs", err);
    }
    *out = all;
    return CO_OK;
}

co_status co_runs_write_run(co_store *store, const char *id, co_run_state state,
                            int current_step, const char *error, co_error *err)
{
    char now[32];
    now_text(now);
    return CO_EXEC(SQL_RUN_WRITE, "updating the run", CO_TEXT(id),
                   CO_TEXT(co_run_state_name(state)), CO_INT(current_step),
                   CO_TEXT(error && *error ? error : NULL), CO_TEXT(now));
}

co_step_write co_step_write_keep(void)
{
    co_step_write w;
    memset(&w, 0, sizeof w);
    w.state = CO_STEP_STATE_LAST;
    w.attempts = -1;
    w.due_at = -1;
    w.progress = -1;
    return w;
}

co_status co_runs_write_step(co_store *store, const char *id, int idx,
                             const co_step_write *w, co_error *err)
{
    char now[32], *outputs = NULL;
    co_status rc;
    now_text(now);
    if (w->outputs && !(outputs = json_dumps(w->outputs, JSON_COMPACT | JSON_SORT_KEYS)))
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    rc = CO_EXEC(SQL_STEP_WRITE, "updating the step", CO_TEXT(id), CO_INT(idx),
                 CO_TEXT(w->state < CO_STEP_STATE_LAST ? co_step_state_name(w->state) : NULL),
                 CO_INT(w->attempts), CO_INT(w->due_at), CO_INT(w->release_lease),
                 CO_INT(w->mark_started), CO_TEXT(now), CO_INT(w->mark_finished),
                 CO_TEXT(w->error), CO_TEXT(w->sqlstate), CO_TEXT(outputs),
                 CO_TEXT(w->approved_by), CO_REAL(w->progress));
    free(outputs);
    return rc;
}

co_status co_events_insert(co_store *store, const char *run_id,
                           const char *project_id, const char *type,
                           const json_t *data, int64_t *event_id, co_error *err)
{
    char now[32], *text;
    co_status rc;
    text = json_dumps(data, JSON_COMPACT);
    if (!text)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    now_text(now);
    rc = CO_EXEC(SQL_EVENT_INSERT, "appending an event", CO_TEXT(run_id), CO_TEXT(project_id),
                 CO_TEXT(type), CO_TEXT(text), CO_TEXT(now));
    free(text);
    if (rc == CO_OK)
        *event_id = sqlite3_last_insert_rowid(co_store_conn(store, NULL));
    return rc;
}

co_status co_runs_claim(co_store *store, const char *owner, const char *boot_id,
                        int64_t now_ms, int64_t lease_ms, co_claim *claim,
                        int *found, co_error *err)
{
    sqlite3_stmt *st;
    co_status rc;
    int src;

    *found = 0;
    if ((rc = co_store_begin_stmt(store, &sql, SQL_CLAIM_PICK, &st, err)) != CO_OK)
        return rc;
    CO_BIND(st, CO_INT(now_ms), CO_TEXT(boot_id));
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        snprintf(claim->run_id, sizeof claim->run_id, "%s", co_col_text(st, 0));
        claim->idx = sqlite3_column_int(st, 1);
        claim->step_state = co_step_state_parse(co_col_text(st, 2));
        claim->run_state = co_run_state_parse(co_col_text(st, 3));
        claim->attempts = sqlite3_column_int(st, 4);
        *found = 1;
    }
    sqlite3_reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = co_store_fail(store, src, "looking for due steps", err);
        co_store_rollback(store);
        return rc;
    }
    if (*found && (rc = CO_EXEC(SQL_CLAIM_TAKE, "leasing a step", CO_TEXT(claim->run_id),
                                CO_INT(claim->idx), CO_TEXT(owner),
                                CO_INT(now_ms + lease_ms))) != CO_OK) {
        co_store_rollback(store);
        return rc;
    }
    return co_store_commit(store, err);
}

co_status co_runs_release_all_leases(co_store *store, co_error *err)
{
    CO_STMT(SQL_RELEASE_ALL);
    return co_store_done(store, st, sqlite3_step(st), "releasing leases", err);
}

int64_t co_runs_next_due(co_store *store)
{
    return co_store_int_or(store, &sql, SQL_NEXT_DUE, INT64_MAX);
}

static json_t *text_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

/* The clean-up member of a run (columns 15-19 of RUN_COLS). */
static json_t *cleanup_json(sqlite3_stmt *st)
{
    const char *state = co_col_text(st, 15);
    int64_t until = sqlite3_column_int64(st, 18);
    json_t *next = json_null();
    if (strcmp(state, "pending") == 0 && !sqlite3_column_int(st, 19) && until > 0) {
        char ts[32];
        co_clock_rfc3339(until, ts, sizeof ts);
        next = json_string(ts);
    }
    return json_pack("{s:s, s:i, s:o, s:o}", "state", state, "attempts",
                     sqlite3_column_int(st, 16), "last_error",
                     text_or_null(co_col_text(st, 17)), "next_attempt_at", next);
}

static co_status steps_json(co_store *store, const char *id, json_t **out,
                            int *done, co_error *err)
{
    json_t *steps = json_array();
    json_error_t jerr;
    int src;
    CO_STMT(SQL_STEPS_OF_RUN);
    *done = 0;
    co_bind_text(st, 1, id);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *state = co_col_text(st, 2);
        json_t *o = json_pack("{s:i, s:s, s:s, s:i, s:o, s:o, s:I, s:o, s:o}",
                              "index", sqlite3_column_int(st, 0),
                              "id", co_col_text(st, 1), "state", state,
                              "attempts", sqlite3_column_int(st, 3),
                              "started_at", text_or_null(co_col_text(st, 4)),
                              "finished_at", text_or_null(co_col_text(st, 5)),
                              "duration_ms", (json_int_t)sqlite3_column_int64(st, 6),
                              "last_error", text_or_null(co_col_text(st, 7)),
                              "sqlstate", text_or_null(co_col_text(st, 8)));
        json_t *outputs = json_loads(co_col_text(st, 10), 0, &jerr);
        if (sqlite3_column_type(st, 9) != SQLITE_NULL)
            json_object_set_new(o, "progress_percent",
                                json_real(sqlite3_column_double(st, 9)));
        else
            json_object_set_new(o, "progress_percent", json_null());
        json_object_set_new(o, "outputs", outputs ? outputs : json_object());
        json_object_set_new(o, "approved_by", text_or_null(co_col_text(st, 11)));
        json_object_set_new(o, "approved_at", text_or_null(co_col_text(st, 12)));
        if (strcmp(state, "succeeded") == 0 || strcmp(state, "skipped") == 0)
            (*done)++;
        json_array_append_new(steps, o);
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE) {
        json_decref(steps);
        return co_store_fail(store, src, "reading steps", err);
    }
    *out = steps;
    return CO_OK;
}

/* What the current step waits for: {what, detail?, since} from its
 * outputs.waiting_for (engine/step.h co_step_waiting) while it is running
 * or waiting; JSON null otherwise. New reference. */
static json_t *waiting_for(const json_t *step)
{
    const char *state = json_string_value(json_object_get(step, "state"));
    json_t *w = json_object_get(json_object_get(step, "outputs"), "waiting_for");
    const char *what = json_string_value(json_object_get(w, "what"));
    const char *since = json_string_value(json_object_get(w, "since"));
    if (!state || (strcmp(state, "running") != 0 && strcmp(state, "waiting") != 0) ||
        !what || !since)
        return json_null();
    return json_pack("{s:s, s:s?, s:s}", "what", what, "detail",
                     json_string_value(json_object_get(w, "detail")), "since", since);
}

co_status co_runs_json(co_store *store, const char *id, json_t **out, co_error *err)
{
    json_t *steps = NULL, *run, *cur;
    json_error_t jerr;
    int done = 0;
    co_status rc;
    size_t n;
    CO_STMT(SQL_RUN_LOAD);
    co_bind_text(st, 1, id);
    rc = co_store_row(store, st, "reading the run", err, "run %s does not exist", id);
    if (rc != CO_OK)
        return rc;
    run = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:s, s:s, s:s, s:o, s:o}",
                    "id", co_col_text(st, 0), "project_id", co_col_text(st, 1),
                    "plan", co_col_text(st, 2), "engine", co_col_text(st, 3),
                    "parameters", json_loads(co_col_text(st, 4), 0, &jerr),
                    "state", co_col_text(st, 5),
                    "error", text_or_null(co_col_text(st, 7)),
                    "created_by", co_col_text(st, 8),
                    "created_at", co_col_text(st, 9),
                    "updated_at", co_col_text(st, 10),
                    "started_at", text_or_null(co_col_text(st, 11)),
                    "finished_at", text_or_null(co_col_text(st, 12)));
    {
        int current = sqlite3_column_int(st, 6);
        json_object_set_new(run, "version", json_integer(sqlite3_column_int64(st, 13)));
        json_object_set_new(run, "cleanup", cleanup_json(st));
        sqlite3_reset(st);
        if ((rc = steps_json(store, id, &steps, &done, err)) != CO_OK) {
            json_decref(run);
            return rc;
        }
        n = json_array_size(steps);
        cur = json_array_get(steps, (size_t)current);
        json_object_set_new(run, "current_step",
                            cur ? json_string(json_string_value(json_object_get(cur, "id")))
                                : json_null());
        json_object_set_new(run, "waiting_for", waiting_for(cur));
    }
    json_object_set_new(run, "progress_percent",
                        json_real(n ? 100.0 * done / (double)n : 0.0));
    json_object_set_new(run, "steps", steps);
    if ((rc = co_runs_describe(store, id, run, err)) != CO_OK) {
        json_decref(run);
        return rc;
    }
    *out = run;
    return CO_OK;
}

co_status co_runs_list_json(co_store *store, const char *project_id, int64_t after_seq,
                            int limit, json_t **items, int64_t *last_seq, bool *more,
                            co_error *err)
{
    /* the project's runs are the cross-project list filtered by project */
    json_t *ids = json_pack("[s]", project_id);
    char *text = json_dumps(ids, JSON_COMPACT);
    co_runs_filter f;
    co_status rc;
    json_decref(ids);
    if (!text)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    memset(&f, 0, sizeof f);
    f.project_ids = text;
    rc = co_runs_query(store, &f, after_seq, limit, items, last_seq, more, err);
    free(text);
    return rc;
}

co_status co_runs_count(co_store *store, int64_t counts[CO_RUN_STATE_LAST],
                        co_error *err)
{
    int src;
    CO_STMT(SQL_RUN_COUNT);
    for (int i = 0; i < CO_RUN_STATE_LAST; i++)
        counts[i] = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        co_run_state s = co_run_state_parse(co_col_text(st, 0));
        if (s < CO_RUN_STATE_LAST)
            counts[s] = sqlite3_column_int64(st, 1);
    }
    return co_store_done(store, st, src, "counting runs", err);
}

co_status co_artifact_put(co_store *store, const char *run_id, const char *name,
                          const char *step_id, const char *content_type,
                          const void *body, size_t len, co_error *err)
{
    char now[32];
    now_text(now);
    return CO_EXEC(SQL_ART_PUT, "storing an artifact", CO_TEXT(run_id), CO_TEXT(name),
                   CO_TEXT(step_id), CO_TEXT(content_type), CO_BLOB(body ? body : "", len),
                   CO_TEXT(now));
}

/* One row of SQL_ART_LIST as the API's artifact item. */
static json_t *artifact_json(sqlite3_stmt *st)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "name", co_col_text(st, 0), "step_id",
                     co_col_text(st, 1), "content_type", co_col_text(st, 2), "size",
                     (json_int_t)sqlite3_column_int64(st, 3), "created_at", co_col_text(st, 4),
                     "updated_at", co_col_text(st, 5));
}

co_status co_artifact_list(co_store *store, const char *run_id, json_t **items,
                           co_error *err)
{
    co_status rc = co_runs_exists(store, run_id, err);
    return rc != CO_OK ? rc
                       : co_store_list_json(store, &sql, SQL_ART_LIST, run_id, artifact_json,
                                            "listing artifacts", items, err);
}

co_status co_artifact_get(co_store *store, const char *run_id, const char *name,
                          char **body, size_t *len, char ctype[64], co_error *err)
{
    co_status rc;
    CO_STMT(SQL_ART_GET);
    co_bind_text(st, 1, run_id);
    co_bind_text(st, 2, name);
    if ((rc = co_store_row(store, st, "reading an artifact", err, "run %s has no artifact %s",
                           run_id, name)) != CO_OK)
        return rc;
    snprintf(ctype, 64, "%s", co_col_text(st, 0));
    rc = co_col_dup(st, 1, body, len, err);
    sqlite3_reset(st);
    return rc;
}

/* One row of an events statement (id, type, run_id, project_id,
 * created_at, data) as the API's event. */
static json_t *event_json(sqlite3_stmt *st)
{
    json_error_t jerr;
    json_t *data = json_loads(co_col_text(st, 5), 0, &jerr);
    return json_pack("{s:I, s:s, s:o, s:o, s:s, s:o}", "id",
                     (json_int_t)sqlite3_column_int64(st, 0), "type", co_col_text(st, 1),
                     "run_id", text_or_null(co_col_text(st, 2)), "project_id",
                     text_or_null(co_col_text(st, 3)), "created_at", co_col_text(st, 4), "data",
                     data ? data : json_object());
}

co_status co_events_query(co_store *store, int64_t after, int64_t upto,
                          const char *run_id, const char *project_id,
                          const char *type, int limit, json_t **items,
                          co_error *err)
{
    CO_STMT(SQL_EV_QUERY);
    CO_BIND(st, CO_INT(after), CO_INT(upto), CO_TEXT(run_id), CO_TEXT(project_id),
            CO_TEXT(type), CO_INT(limit));
    return co_store_rows_json(store, st, event_json, "reading events", items, err);
}

co_status co_events_newest(co_store *store, const char *run_id, const char *type,
                           int limit, json_t **items, co_error *err)
{
    CO_STMT(SQL_EV_LATEST);
    CO_BIND(st, CO_TEXT(run_id), CO_TEXT(type), CO_INT(limit));
    return co_store_rows_json(store, st, event_json, "reading events", items, err);
}

int64_t co_events_max_id(co_store *store)
{
    sqlite3_stmt *st = co_store_stmt(store, &sql, SQL_EV_MAX, NULL);
    int64_t id = 0;
    if (!st)
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return id;
}
