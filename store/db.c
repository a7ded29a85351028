/* db.c - see db.h.
 *
 * THREADS: co_store is shared by all threads. conns (the list of every
 * per-thread connection) is guarded by mu; each thread finds its own
 * connection through the thread-local tl_conn without locking.
 */
#include "store/db.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/schema.h"

typedef struct thread_conn {
    co_store *store;
    sqlite3 *db;
    sqlite3_stmt *stmts[CO_SQL_MODULE_LAST][CO_SQL_MAX_PER_MODULE];
    struct thread_conn *next;
} thread_conn;

struct co_store {
    char *path;
    int schema_version;
    pthread_mutex_t mu;
    thread_conn *conns;
};

static __thread thread_conn *tl_conn;

static co_status exec_sql(sqlite3 *db, const char *sql, co_error *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        co_error_set(err, CO_ERR_STORE, "sqlite: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return CO_ERR_STORE;
    }
    return CO_OK;
}

static co_status open_conn(const char *path, sqlite3 **out, co_error *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        co_error_set(err, CO_ERR_STORE, "cannot open SQLite file %s: %s", path,
                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return CO_ERR_STORE;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    if (exec_sql(db,
                 "PRAGMA journal_mode=WAL;"
                 "PRAGMA synchronous=FULL;"
                 "PRAGMA foreign_keys=ON;",
                 err) != CO_OK) {
        sqlite3_close(db);
        return CO_ERR_STORE;
    }
    *out = db;
    return CO_OK;
}

static int user_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static co_status migrate(sqlite3 *db, int *version, co_error *err)
{
    int v = user_version(db);
    if (v < 0)
        return co_error_set(err, CO_ERR_STORE, "cannot read PRAGMA user_version");
    if (v > co_schema_migration_count)
        return co_error_set(err, CO_ERR_STORE,
                            "the SQLite file is at schema version %d but this "
                            "cutoverd knows only up to %d: refusing to open it",
                            v, co_schema_migration_count);
    for (; v < co_schema_migration_count; v++) {
        char bump[64];
        if (exec_sql(db, "BEGIN IMMEDIATE", err) != CO_OK)
            return CO_ERR_STORE;
        snprintf(bump, sizeof bump, "PRAGMA user_version=%d", v + 1);
        if (exec_sql(db, co_schema_migrations[v], err) != CO_OK ||
            exec_sql(db, bump, err) != CO_OK) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return CO_ERR_STORE;
        }
        if (exec_sql(db, "COMMIT", err) != CO_OK)
            return CO_ERR_STORE;
        co_log(CO_LOG_INFO, "store", "schema migrated to version %d", v + 1);
    }
    *version = v;
    return CO_OK;
}

static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

/* Process-wide SQLite settings, before the first connection: no global
 * memory statistics (they take a global mutex on every allocation). */
static void sqlite_configure(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

co_status co_store_open(const char *path, co_store **out, co_error *err)
{
    co_store *store = calloc(1, sizeof *store);
    sqlite3 *db = NULL;
    co_status rc;

    pthread_once(&sqlite_once, sqlite_configure);
    if (!store || !(store->path = strdup(path))) {
        free(store);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&store->mu, NULL);
    rc = open_conn(path, &db, err);
    if (rc == CO_OK)
        rc = migrate(db, &store->schema_version, err);
    sqlite3_close(db);
    if (rc != CO_OK) {
        co_store_close(store);
        return rc;
    }
    *out = store;
    return CO_OK;
}

void co_store_close(co_store *store)
{
    thread_conn *c, *next;
    if (!store)
        return;
    for (c = store->conns; c; c = next) {
        next = c->next;
        for (int m = 0; m < CO_SQL_MODULE_LAST; m++)
            for (int i = 0; i < CO_SQL_MAX_PER_MODULE; i++)
                sqlite3_finalize(c->stmts[m][i]);
        sqlite3_close(c->db);
        if (tl_conn == c)
            tl_conn = NULL;
        free(c);
    }
    pthread_mutex_destroy(&store->mu);
    free(store->path);
    free(store);
}

static thread_conn *thread_get(co_store *store, co_error *err)
{
    thread_conn *c = tl_conn;
    if (c && c->store == store)
        return c;
    /* A thread uses one store at a time (tests may open a second one:
     * the thread then gets a fresh connection to it). */
    c = calloc(1, sizeof *c);
    if (!c) {
        co_error_set(err, CO_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (open_conn(store->path, &c->db, err) != CO_OK) {
        free(c);
        return NULL;
    }
    c->store = store;
    pthread_mutex_lock(&store->mu);
    c->next = store->conns;
    store->conns = c;
    pthread_mutex_unlock(&store->mu);
    tl_conn = c;
    return c;
}

sqlite3 *co_store_conn(co_store *store, co_error *err)
{
    thread_conn *c = thread_get(store, err);
    return c ? c->db : NULL;
}

sqlite3_stmt *co_store_stmt(co_store *store, const co_sql_module *mod, int idx,
                            co_error *err)
{
    thread_conn *c = thread_get(store, err);
    sqlite3_stmt **slot;
    if (!c)
        return NULL;
    if (idx < 0 || idx >= mod->count || mod->count > CO_SQL_MAX_PER_MODULE) {
        co_error_set(err, CO_ERR_INTERNAL, "statement %d out of range", idx);
        return NULL;
    }
    slot = &c->stmts[mod->slot][idx];
    if (!*slot) {
        int rc = sqlite3_prepare_v3(c->db, mod->sql[idx], -1,
                                    SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK) {
            co_error_set(err, CO_ERR_STORE, "prepare failed: %s (%s)",
                         sqlite3_errmsg(c->db), mod->sql[idx]);
            *slot = NULL;
            return NULL;
        }
    } else {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
    }
    return *slot;
}

co_status co_store_begin(co_store *store, co_error *err)
{
    sqlite3 *db = co_store_conn(store, err);
    if (!db)
        return CO_ERR_STORE;
    return exec_sql(db, "BEGIN IMMEDIATE", err);
}

co_status co_store_commit(co_store *store, co_error *err)
{
    sqlite3 *db = co_store_conn(store, err);
    if (!db)
        return CO_ERR_STORE;
    if (exec_sql(db, "COMMIT", err) != CO_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return CO_ERR_STORE;
    }
    return CO_OK;
}

void co_store_rollback(co_store *store)
{
    sqlite3 *db = co_store_conn(store, NULL);
    if (db && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

co_status co_store_begin_stmt(co_store *store, const co_sql_module *mod, int idx,
                              sqlite3_stmt **st, co_error *err)
{
    co_status rc = co_store_begin(store, err);
    if (rc != CO_OK)
        return rc;
    if (!(*st = co_store_stmt(store, mod, idx, err))) {
        co_store_rollback(store);
        return CO_ERR_STORE;
    }
    return CO_OK;
}

co_status co_store_rows_json(co_store *store, sqlite3_stmt *st, json_t *(*row)(sqlite3_stmt *st),
                             const char *what, json_t **out, co_error *err)
{
    json_t *arr = json_array();
    co_status rc;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, row(st));
    if ((rc = co_store_done(store, st, src, what, err)) != CO_OK) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return CO_OK;
}

co_status co_store_list_json(co_store *store, const co_sql_module *mod, int idx,
                             const char *key, json_t *(*row)(sqlite3_stmt *st),
                             const char *what, json_t **out, co_error *err)
{
    sqlite3_stmt *st = co_store_stmt(store, mod, idx, err);
    if (!st)
        return CO_ERR_STORE;
    co_bind_text(st, 1, key);
    return co_store_rows_json(store, st, row, what, out, err);
}

co_status co_store_done(co_store *store, sqlite3_stmt *st, int rc, const char *what,
                        co_error *err)
{
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? CO_OK : co_store_fail(store, rc, what, err);
}

co_status co_store_row(co_store *store, sqlite3_stmt *st, const char *what, co_error *err,
                       const char *fmt, ...)
{
    char msg[sizeof err->message];
    va_list ap;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return CO_OK;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return co_store_fail(store, rc, what, err);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return co_error_set(err, CO_ERR_NOT_FOUND, "%s", msg);
}

int64_t co_store_int_or(co_store *store, const co_sql_module *mod, int idx, int64_t def)
{
    sqlite3_stmt *st = co_store_stmt(store, mod, idx, NULL);
    int64_t v = def;
    if (!st)
        return def;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return v;
}

co_status co_store_fail(co_store *store, int rc, const char *what, co_error *err)
{
    sqlite3 *db = co_store_conn(store, NULL);
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return co_error_set(err, CO_ERR_CONFLICT, "%s: %s", what, msg);
    co_log(CO_LOG_ERROR, "store", "%s failed: %s", what, msg);
    return co_error_set(err, CO_ERR_STORE, "%s failed: %s", what, msg);
}

int co_store_schema_version(co_store *store)
{
    return store->schema_version;
}

const char *co_store_path(const co_store *store)
{
    return store->path;
}

int co_bind_text(sqlite3_stmt *st, int i, const char *text)
{
    if (!text)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
}

int co_bind_int(sqlite3_stmt *st, int i, int64_t v)
{
    return sqlite3_bind_int64(st, i, v);
}

int co_bind_blob(sqlite3_stmt *st, int i, const void *data, size_t len)
{
    if (!data)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_blob(st, i, data, (int)len, SQLITE_TRANSIENT);
}

const char *co_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

co_status co_col_dup(sqlite3_stmt *st, int i, char **out, size_t *len, co_error *err)
{
    const void *data = sqlite3_column_blob(st, i);
    *len = (size_t)sqlite3_column_bytes(st, i);
    *out = malloc(*len + 1);
    if (!*out)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    if (*len)
        memcpy(*out, data, *len);
    (*out)[*len] = '\0';
    return CO_OK;
}

int co_bind_args(sqlite3_stmt *st, const co_sql_arg *args, size_t n)
{
    int first = SQLITE_OK;
    for (size_t k = 0; k < n; k++) {
        const co_sql_arg *a = &args[k];
        int i = (int)k + 1, rc;
        switch (a->type) {
        case CO_ARG_TEXT: rc = co_bind_text(st, i, a->p); break;
        case CO_ARG_INT: rc = co_bind_int(st, i, a->i); break;
        case CO_ARG_REAL: rc = sqlite3_bind_double(st, i, a->r); break;
        case CO_ARG_BLOB: rc = co_bind_blob(st, i, a->p, (size_t)a->i); break;
        default: rc = sqlite3_bind_null(st, i); break;
        }
        if (first == SQLITE_OK)
            first = rc;
    }
    return first;
}

co_status co_store_exec(co_store *store, const co_sql_module *mod, int idx, const char *what,
                        co_error *err, const co_sql_arg *args, size_t n)
{
    sqlite3_stmt *st = co_store_stmt(store, mod, idx, err);
    if (!st)
        return CO_ERR_STORE;
    co_bind_args(st, args, n);
    return co_store_done(store, st, sqlite3_step(st), what, err);
}
