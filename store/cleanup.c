/* cleanup.c - see cleanup.h. */
#include "store/cleanup.h"

#include <stdio.h>

enum {
    SQL_MARK,
    SQL_CLAIM,
    SQL_FINISH,
    SQL_REQUEST,
    SQL_RUN_STATE,
    SQL_NEXT_DUE,
    SQL_LAST
};

/* The assignments that make a run's clean-up pending from its first attempt on
 * (SQL_MARK, SQL_REQUEST). */
#define SET_PENDING "cleanup = 'pending', cleanup_attempts = 0, cleanup_error = NULL"

static const char *const sql_text[] = {
    [SQL_MARK] = "UPDATE runs SET " SET_PENDING ", cleanup_until = 0"
                 " WHERE id = ?1 AND cleanup = 'none'",
    /* cleanup_until is the due time while unowned, the lease end while owned */
    [SQL_CLAIM] = "UPDATE runs SET cleanup_owner = ?1, cleanup_until = ?3 + ?4"
                  " WHERE id = (SELECT id FROM runs WHERE cleanup = 'pending'"
                  "  AND (cleanup_until <= ?3 OR (cleanup_owner IS NOT NULL"
                  "       AND substr(cleanup_owner, 1, length(?2)) <> ?2))"
                  "  AND NOT EXISTS (SELECT 1 FROM run_steps s WHERE s.run_id = runs.id"
                  "   AND s.lease_owner IS NOT NULL AND s.lease_until > ?3"
                  "   AND substr(s.lease_owner, 1, length(?2)) = ?2)"
                  "  ORDER BY cleanup_until LIMIT 1)"
                  " RETURNING id",
    [SQL_FINISH] = "UPDATE runs SET cleanup = ?2, cleanup_attempts = ?3,"
                   " cleanup_until = ?4, cleanup_error = ?5, cleanup_owner = NULL"
                   " WHERE id = ?1",
    [SQL_REQUEST] = "UPDATE runs SET " SET_PENDING ","
                    " cleanup_until = CASE WHEN cleanup_owner IS NULL THEN 0"
                    "   ELSE cleanup_until END"
                    " WHERE id = ?1 AND state = 'cancelled' RETURNING id",
    [SQL_RUN_STATE] = "SELECT state FROM runs WHERE id = ?1",
    [SQL_NEXT_DUE] = ("SELECT min(cleanup_until) FROM runs WHERE cleanup = 'pending'"
                      " AND cleanup_owner IS NULL"),
};
CO_SQL_MODULE(CO_SQL_CLEANUP);



co_status co_runs_mark_cleanup(co_store *store, const char *id, co_error *err)
{
    return CO_EXEC(SQL_MARK, "marking the clean-up", CO_TEXT(id));
}

co_status co_runs_claim_cleanup(co_store *store, const char *owner, const char *boot_id,
                                int64_t now_ms, int64_t lease_ms, char *run_id, int *found,
                                co_error *err)
{
    int src;
    CO_STMT(SQL_CLAIM);
    *found = 0;
    CO_BIND(st, CO_TEXT(owner), CO_TEXT(boot_id), CO_INT(now_ms), CO_INT(lease_ms));
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        snprintf(run_id, CO_ID_SIZE, "%s", co_col_text(st, 0));
        *found = 1;
        src = sqlite3_step(st);
    }
    return co_store_done(store, st, src, "claiming a clean-up", err);
}

co_status co_runs_finish_cleanup(co_store *store, const char *id, const char *state,
                                 int attempts, int64_t due_ms, const char *error,
                                 co_error *err)
{
    return CO_EXEC(SQL_FINISH, "recording the clean-up", CO_TEXT(id), CO_TEXT(state),
                   CO_INT(attempts), CO_INT(due_ms), CO_TEXT(error));
}

co_status co_runs_request_cleanup(co_store *store, const char *id, co_error *err)
{
    int src;
    sqlite3_stmt *st = co_store_stmt(store, &sql, SQL_REQUEST, err);
    if (!st)
        return CO_ERR_STORE;
    co_bind_text(st, 1, id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        return co_store_done(store, st, sqlite3_step(st), "requesting a clean-up", err);
    if (co_store_done(store, st, src, "requesting a clean-up", err) != CO_OK)
        return err->status;
    if (!(st = co_store_stmt(store, &sql, SQL_RUN_STATE, err)))
        return CO_ERR_STORE;
    co_bind_text(st, 1, id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        co_status rc = co_error_set(err, CO_ERR_CONFLICT,
                                    "run %s is %s: only a cancelled run's engine resources "
                                    "are cleaned up (cancel it first)",
                                    id, co_col_text(st, 0));
        sqlite3_reset(st);
        return rc;
    }
    if (co_store_done(store, st, src, "reading the run", err) != CO_OK)
        return err->status;
    return co_error_set(err, CO_ERR_NOT_FOUND, "run %s does not exist", id);
}

int64_t co_runs_cleanup_next_due(co_store *store)
{
    return co_store_int_or(store, &sql, SQL_NEXT_DUE, INT64_MAX);
}
