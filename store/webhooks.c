/* webhooks.c - see webhooks.h. */
#include "store/webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/resources.h"

enum {
    SQL_ENQUEUE,
    SQL_INSERT,
    SQL_GET,
    SQL_LIST,
    SQL_UPDATE,
    SQL_DELETE,
    SQL_DUE,
    SQL_SECRET,
    SQL_ATTEMPT,
    SQL_DONE,
    SQL_FAILING,
    SQL_DISABLE,
    SQL_DELIVERIES,
    SQL_ATTEMPTS_OF,
    SQL_LAST
};

#define WH_COLS                                                              \
    "id, project_id, url, events, enabled, disabled_reason, failing_since,"  \
    " created_at, updated_at"

static const char *const sql_text[] = {
    /* "run.*" matches "run.state": the pattern without its "*" is a prefix */
    [SQL_ENQUEUE] =
        "INSERT INTO webhook_outbox (webhook_id, event_id, run_id, type, body, next_at,"
        " first_at, created_at)"
        " SELECT w.id, ?1, ?2, ?4, json_object('type', ?4, 'timestamp', ?6,"
        "   'data', json_patch(?5, json_object('event_id', ?1, 'run_id', ?2,"
        "   'project_id', ?3))), ?7, ?7, ?6"
        " FROM webhooks w WHERE w.project_id = ?3 AND w.enabled"
        " AND EXISTS (SELECT 1 FROM json_each(w.events) e WHERE e.value = ?4"
        "   OR e.value = '*' OR (e.value LIKE '%.*'"
        "   AND substr(?4, 1, length(e.value) - 1) = substr(e.value, 1, length(e.value) - 1)))"
        " ORDER BY w.seq",
    [SQL_INSERT] = "INSERT INTO webhooks (id, project_id, url, events, secret, created_at,"
                   " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    [SQL_GET] = "SELECT " WH_COLS " FROM webhooks WHERE id = ?1",
    [SQL_LIST] = "SELECT " WH_COLS " FROM webhooks WHERE project_id = ?1 ORDER BY seq",
    [SQL_UPDATE] = "UPDATE webhooks SET url = coalesce(?2, url), events = coalesce(?3, events),"
                   " enabled = CASE WHEN ?4 < 0 THEN enabled ELSE ?4 END,"
                   " disabled_reason = CASE WHEN ?4 = 1 THEN NULL ELSE disabled_reason END,"
                   " failing_since = CASE WHEN ?4 = 1 THEN NULL ELSE failing_since END,"
                   " updated_at = ?5 WHERE id = ?1",
    [SQL_DELETE] = "DELETE FROM webhooks WHERE id = ?1",
    [SQL_DUE] =
        "SELECT o.id, o.webhook_id, w.project_id, o.event_id, w.url, o.body, o.attempts,"
        " o.first_at, coalesce(w.failing_since, 0)"
        " FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id"
        " WHERE o.state = 'pending' AND w.enabled AND o.next_at <= ?1"
        " AND NOT EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.webhook_id = o.webhook_id"
        "   AND p.run_id IS o.run_id AND p.state = 'pending' AND p.id < o.id)"
        " ORDER BY o.id LIMIT ?2",
    [SQL_SECRET] = "SELECT secret FROM webhooks WHERE id = ?1",
    [SQL_ATTEMPT] = "INSERT INTO webhook_attempts (outbox_id, attempt, status, error,"
                    " duration_ms, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQL_DONE] = "UPDATE webhook_outbox SET attempts = ?2,"
                 " state = CASE WHEN ?3 THEN 'delivered' WHEN ?4 THEN 'failed'"
                 "   ELSE 'pending' END, next_at = ?5 WHERE id = ?1",
    [SQL_FAILING] = "UPDATE webhooks SET failing_since = CASE WHEN ?2 THEN NULL"
                    "   ELSE coalesce(failing_since, ?3) END WHERE id = ?1",
    [SQL_DISABLE] = "UPDATE webhooks SET enabled = 0, disabled_reason = ?2 WHERE id = ?1",
    [SQL_DELIVERIES] = "SELECT id, event_id, type, state, attempts, next_at, created_at"
                       " FROM webhook_outbox WHERE webhook_id = ?1 ORDER BY id DESC LIMIT ?2",
    [SQL_ATTEMPTS_OF] = "SELECT attempt, status, error, duration_ms, at FROM webhook_attempts"
                        " WHERE outbox_id = ?1 ORDER BY id",
};
CO_SQL_MODULE(CO_SQL_WEBHOOKS);



co_status co_webhooks_enqueue(co_store *store, int64_t event_id, const char *run_id,
                              const char *project_id, const char *type, const char *data,
                              const char *created_at, int64_t now_ms, co_error *err)
{
    if (!project_id || !*project_id)
        return CO_OK;
    return CO_EXEC(SQL_ENQUEUE, "queueing webhook deliveries", CO_INT(event_id),
                   CO_TEXT(run_id && *run_id ? run_id : NULL), CO_TEXT(project_id),
                   CO_TEXT(type), CO_TEXT(data), CO_TEXT(created_at), CO_INT(now_ms));
}

co_status co_webhooks_insert(co_store *store, const char *id, const char *project_id,
                             const char *url, const json_t *events,
                             const unsigned char *secret, size_t secret_len, co_error *err)
{
    char now[32], *ev = json_dumps(events, JSON_COMPACT);
    co_status rc;
    if (!ev)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    co_clock_rfc3339(co_clock_now_ms(), now, sizeof now);
    rc = CO_EXEC(SQL_INSERT, "creating the webhook", CO_TEXT(id), CO_TEXT(project_id),
                 CO_TEXT(url), CO_TEXT(ev), CO_BLOB(secret, secret_len), CO_TEXT(now));
    free(ev);
    return rc;
}

static json_t *row_json(sqlite3_stmt *st)
{
    json_t *events = json_loads(co_col_text(st, 3), 0, NULL);
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:b}", "id", co_col_text(st, 0),
                          "project_id", co_col_text(st, 1), "url", co_col_text(st, 2),
                          "events", events ? events : json_array(), "enabled",
                          sqlite3_column_int(st, 4));
    char t[32];
    json_object_set_new(o, "disabled_reason",
                        sqlite3_column_type(st, 5) == SQLITE_NULL
                            ? json_null()
                            : json_string(co_col_text(st, 5)));
    json_object_set_new(o, "failing_since",
                        sqlite3_column_type(st, 6) == SQLITE_NULL
                            ? json_null()
                            : json_string(co_clock_rfc3339(sqlite3_column_int64(st, 6), t,
                                                           sizeof t)));
    json_object_set_new(o, "created_at", json_string(co_col_text(st, 7)));
    json_object_set_new(o, "updated_at", json_string(co_col_text(st, 8)));
    return o;
}

co_status co_webhooks_get(co_store *store, const char *id, json_t **out, co_error *err)
{
    int src;
    CO_STMT(SQL_GET);
    co_bind_text(st, 1, id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *out = row_json(st);
    sqlite3_reset(st);
    if (src == SQLITE_DONE)
        return co_error_set(err, CO_ERR_NOT_FOUND, "webhook %s does not exist", id);
    return src == SQLITE_ROW ? CO_OK : co_store_fail(store, src, "reading the webhook", err);
}

co_status co_webhooks_list(co_store *store, const char *project_id, json_t **out,
                           co_error *err)
{
    co_status rc = co_res_exists(store, CO_KIND_PROJECT, project_id, err);
    return rc != CO_OK ? rc
                       : co_store_list_json(store, &sql, SQL_LIST, project_id, row_json,
                                            "listing webhooks", out, err);
}

co_status co_webhooks_update(co_store *store, const char *id, const char *url,
                             const json_t *events, int enabled, co_error *err)
{
    char now[32], *ev = events ? json_dumps(events, JSON_COMPACT) : NULL;
    co_status rc;
    co_clock_rfc3339(co_clock_now_ms(), now, sizeof now);
    rc = CO_EXEC(SQL_UPDATE, "updating the webhook", CO_TEXT(id), CO_TEXT(url), CO_TEXT(ev),
                 CO_INT(enabled), CO_TEXT(now));
    free(ev);
    if (rc == CO_OK && sqlite3_changes(co_store_conn(store, NULL)) == 0)
        return co_error_set(err, CO_ERR_NOT_FOUND, "webhook %s does not exist", id);
    return rc;
}

co_status co_webhooks_delete(co_store *store, const char *id, co_error *err)
{
    co_status rc = CO_EXEC(SQL_DELETE, "deleting the webhook", CO_TEXT(id));
    if (rc == CO_OK && sqlite3_changes(co_store_conn(store, NULL)) == 0)
        return co_error_set(err, CO_ERR_NOT_FOUND, "webhook %s does not exist", id);
    return rc;
}

/* One row of SQL_DUE as the sender's delivery item. */
static json_t *due_json(sqlite3_stmt *st)
{
    return json_pack("{s:I, s:s, s:s, s:I, s:s, s:s, s:i, s:I, s:I}", "outbox_id",
                     (json_int_t)sqlite3_column_int64(st, 0), "webhook_id", co_col_text(st, 1),
                     "project_id", co_col_text(st, 2), "event_id",
                     (json_int_t)sqlite3_column_int64(st, 3), "url", co_col_text(st, 4), "body",
                     co_col_text(st, 5), "attempts", sqlite3_column_int(st, 6), "first_at",
                     (json_int_t)sqlite3_column_int64(st, 7), "failing_since",
                     (json_int_t)sqlite3_column_int64(st, 8));
}

co_status co_webhooks_due(co_store *store, int64_t now_ms, int limit, json_t **out,
                          co_error *err)
{
    CO_STMT(SQL_DUE);
    CO_BIND(st, CO_INT(now_ms), CO_INT(limit));
    return co_store_rows_json(store, st, due_json, "reading due webhook deliveries", out, err);
}

co_status co_webhooks_secret(co_store *store, const char *id, unsigned char **blob,
                             size_t *len, co_error *err)
{
    int src;
    CO_STMT(SQL_SECRET);
    *blob = NULL;
    co_bind_text(st, 1, id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *len = (size_t)sqlite3_column_bytes(st, 0);
        if ((*blob = malloc(*len ? *len : 1)))
            memcpy(*blob, sqlite3_column_blob(st, 0), *len);
    }
    sqlite3_reset(st);
    if (src == SQLITE_DONE)
        return co_error_set(err, CO_ERR_NOT_FOUND, "webhook %s does not exist", id);
    if (src != SQLITE_ROW)
        return co_store_fail(store, src, "reading the webhook secret", err);
    return *blob ? CO_OK : co_error_set(err, CO_ERR_NOMEM, "out of memory");
}

co_status co_webhooks_record(co_store *store, int64_t outbox_id, const char *webhook_id,
                             int attempt, long status, const char *error,
                             int64_t duration_ms, bool delivered, bool give_up,
                             int64_t next_at, int64_t now_ms, co_error *err)
{
    char now[32];
    co_status rc;
    if ((rc = co_store_begin(store, err)) != CO_OK)
        return rc;
    co_clock_rfc3339(now_ms, now, sizeof now);
    if ((rc = CO_EXEC(SQL_ATTEMPT, "recording a webhook attempt", CO_INT(outbox_id),
                      CO_INT(attempt), status ? CO_INT(status) : CO_NULL, CO_TEXT(error),
                      CO_INT(duration_ms), CO_TEXT(now))) != CO_OK ||
        (rc = CO_EXEC(SQL_DONE, "recording a webhook delivery", CO_INT(outbox_id),
                      CO_INT(attempt), CO_INT(delivered), CO_INT(give_up), CO_INT(next_at))) !=
            CO_OK ||
        (rc = CO_EXEC(SQL_FAILING, "recording a webhook failure", CO_TEXT(webhook_id),
                      CO_INT(delivered), CO_INT(now_ms))) != CO_OK) {
        co_store_rollback(store);
        return rc;
    }
    return co_store_commit(store, err);
}

co_status co_webhooks_disable(co_store *store, const char *id, const char *reason,
                              co_error *err)
{
    return CO_EXEC(SQL_DISABLE, "disabling the webhook", CO_TEXT(id), CO_TEXT(reason));
}

co_status co_webhooks_deliveries(co_store *store, const char *id, int limit, json_t **out,
                                 co_error *err)
{
    json_t *arr = json_array(), *it;
    int64_t ids[200];
    int n = 0, src;
    size_t i;
    CO_STMT(SQL_DELIVERIES);
    co_bind_text(st, 1, id);
    co_bind_int(st, 2, limit > 200 ? 200 : limit);
    while ((src = sqlite3_step(st)) == SQLITE_ROW && n < 200) {
        char next[32], msg[40];
        const char *state = co_col_text(st, 3);
        ids[n++] = sqlite3_column_int64(st, 0);
        snprintf(msg, sizeof msg, "evt_%lld", (long long)sqlite3_column_int64(st, 1));
        json_array_append_new(
            arr, json_pack("{s:I, s:s, s:s, s:s, s:i, s:o, s:s}", "event_id",
                           (json_int_t)sqlite3_column_int64(st, 1), "webhook_message_id", msg,
                           "type", co_col_text(st, 2), "state", state, "attempts",
                           sqlite3_column_int(st, 4), "next_attempt_at",
                           strcmp(state, "pending") == 0
                               ? json_string(co_clock_rfc3339(sqlite3_column_int64(st, 5),
                                                              next, sizeof next))
                               : json_null(),
                           "created_at", co_col_text(st, 6)));
    }
    if (co_store_done(store, st, src == SQLITE_ROW ? SQLITE_DONE : src, "listing deliveries",
                      err) != CO_OK) {
        json_decref(arr);
        return CO_ERR_STORE;
    }
    json_array_foreach(arr, i, it) {
        json_t *att = json_array();
        sqlite3_stmt *a = co_store_stmt(store, &sql, SQL_ATTEMPTS_OF, err);
        if (!a) {
            json_decref(att);
            json_decref(arr);
            return CO_ERR_STORE;
        }
        co_bind_int(a, 1, ids[i]);
        while ((src = sqlite3_step(a)) == SQLITE_ROW)
            json_array_append_new(
                att, json_pack("{s:i, s:o, s:o, s:I, s:s}", "attempt", sqlite3_column_int(a, 0),
                               "status", sqlite3_column_type(a, 1) == SQLITE_NULL
                                             ? json_null()
                                             : json_integer(sqlite3_column_int(a, 1)),
                               "error", sqlite3_column_type(a, 2) == SQLITE_NULL
                                            ? json_null()
                                            : json_string(co_col_text(a, 2)),
                               "duration_ms", (json_int_t)sqlite3_column_int64(a, 3), "at",
                               co_col_text(a, 4)));
        sqlite3_reset(a);
        json_object_set_new(it, "attempt_log", att);
    }
    *out = arr;
    return CO_OK;
}
