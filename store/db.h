/* db.h - the SQLite store: opening, schema migrations, per-thread
 * connections and prepared statements.
 *
 * DESIGN
 * One co_store per process. Each thread that touches the store gets its own
 * sqlite3 connection (opened lazily on first use, kept until
 * co_store_close()), so no connection is ever shared between threads and
 * SQLite's own locking (WAL mode, busy timeout) serialises writers.
 * Prepared statements live in one table per store module (an array of SQL
 * texts indexed by that module's enum); co_store_stmt() prepares each text
 * once per connection and hands out the cached statement, reset and with
 * its bindings cleared.
 *
 * Every connection runs with journal_mode=WAL, synchronous=FULL,
 * foreign_keys=ON and a busy timeout of 5 s. The schema version is
 * PRAGMA user_version; migrations in store/schema.c are applied in order at
 * open time inside one transaction each.
 */
#ifndef CUTOVER_STORE_DB_H
#define CUTOVER_STORE_DB_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

typedef struct co_store co_store;

/* Statement tables: one per store module. slot is the module's fixed index
 * in the per-connection statement cache (see enum co_sql_module_slot). */
typedef enum co_sql_module_slot {
    CO_SQL_RESOURCES,
    CO_SQL_IDEMPOTENCY,
    CO_SQL_RUNS,
    CO_SQL_EVENTS,
    CO_SQL_MISC,
    CO_SQL_RUNS_QUERY,
    CO_SQL_WEBHOOKS,
    CO_SQL_CLEANUP,
    CO_SQL_SECRETS,
    CO_SQL_MODULE_LAST
} co_sql_module_slot;

#define CO_SQL_MAX_PER_MODULE 48

typedef struct co_sql_module {
    co_sql_module_slot slot;
    const char *const *sql; /* sql[i] is statement i of the module */
    int count;              /* number of statements, <= CO_SQL_MAX_PER_MODULE */
} co_sql_module;

/* Declares the calling file's statement table: `static const co_sql_module
 * sql` in slot slot_ over the file's array `sql_text`, which is indexed by
 * an enum whose last member is SQL_LAST; fails to compile when the array
 * does not have exactly SQL_LAST entries. */
#define CO_SQL_MODULE(slot_)                                                \
    _Static_assert(sizeof sql_text / sizeof sql_text[0] == SQL_LAST,        \
                   "sql_text must cover the statement enum");               \
    static const co_sql_module sql = {slot_, sql_text, SQL_LAST}

/* Declares `sqlite3_stmt *st` as statement idx of the file's table `sql`
 * (see CO_SQL_MODULE) on the calling thread's connection; when it cannot be
 * prepared, returns CO_ERR_STORE from the enclosing function (a co_status
 * function with a co_error *err in scope, which co_store_stmt has set). */
#define CO_STMT(idx)                                                        \
    sqlite3_stmt *st = co_store_stmt(store, &sql, idx, err);               \
    if (!st)                                                                \
    return CO_ERR_STORE

/* Opens (creating if absent) the SQLite file at path, applies pending schema
 * migrations and returns a new store in *out (caller frees with
 * co_store_close). Errors: CO_ERR_STORE (cannot open, migration failed, or
 * the file's schema is newer than this binary), CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_store_open(const char *path, co_store **out,
                                      co_error *err);

/* Closes every per-thread connection and frees the store. Call only after
 * all threads that used it have stopped. NULL-safe. */
void co_store_close(co_store *store);

/* Returns the calling thread's connection (borrowed; valid until
 * co_store_close), opening it on first use. NULL with err set on failure. */
sqlite3 *co_store_conn(co_store *store, co_error *err);

/* Returns statement idx of module mod on the calling thread's connection,
 * reset and with cleared bindings (borrowed; do not finalize). NULL with err
 * set (CO_ERR_STORE) if it cannot be prepared. */
sqlite3_stmt *co_store_stmt(co_store *store, const co_sql_module *mod, int idx,
                            co_error *err);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK on the calling thread's connection.
 * co_store_rollback never fails (it logs). Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_store_begin(co_store *store, co_error *err);
CO_MUST_CHECK co_status co_store_commit(co_store *store, co_error *err);
void co_store_rollback(co_store *store);

/* co_store_begin, then statement idx of mod in *st (as co_store_stmt).
 * On CO_OK the transaction is open and the caller ends it; on an error
 * none is (a begun one is rolled back). Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_store_begin_stmt(co_store *store, const co_sql_module *mod,
                                            int idx, sqlite3_stmt **st, co_error *err);

/* Maps a SQLite result code rc from the calling thread's connection into
 * err: constraint violations become CO_ERR_CONFLICT, everything else
 * CO_ERR_STORE. what names the operation for the message. Returns the
 * status recorded. */
co_status co_store_fail(co_store *store, int rc, const char *what,
                        co_error *err);

/* Finishes a write statement st whose sqlite3_step returned rc: resets st
 * (bindings stay until the next co_store_stmt), then returns CO_OK when rc
 * is SQLITE_DONE, otherwise co_store_fail(store, rc, what, err). */
co_status co_store_done(co_store *store, sqlite3_stmt *st, int rc, const char *what,
                        co_error *err);

/* Steps the bound query st to its first row. Returns CO_OK on a row (the
 * caller reads it, then calls sqlite3_reset). Otherwise resets st and
 * returns CO_ERR_NOT_FOUND with the message formatted from fmt when there
 * is no row, or co_store_fail(store, rc, what, err) on an SQLite error. */
co_status co_store_row(co_store *store, sqlite3_stmt *st, const char *what, co_error *err,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Steps the bound query st through all its rows, appending row(st) (a new
 * reference per row; NULL is skipped) to a new array, then resets st.
 * *out is the array (caller decrefs), set only on CO_OK. Errors: as
 * co_store_done (what names the operation). */
co_status co_store_rows_json(co_store *store, sqlite3_stmt *st, json_t *(*row)(sqlite3_stmt *st),
                             const char *what, json_t **out, co_error *err);

/* co_store_rows_json of statement idx of mod with its one parameter bound
 * to the text key (the parent's id). Errors: CO_ERR_STORE, as
 * co_store_rows_json. */
co_status co_store_list_json(co_store *store, const co_sql_module *mod, int idx,
                             const char *key, json_t *(*row)(sqlite3_stmt *st),
                             const char *what, json_t **out, co_error *err);

/* The integer in the first column of the first row of statement idx of
 * mod (a parameterless query such as "SELECT min(...)"), or def when the
 * statement cannot run, returns no row or NULL. */
int64_t co_store_int_or(co_store *store, const co_sql_module *mod, int idx, int64_t def);

/* Schema version the file is at after co_store_open (PRAGMA user_version). */
int co_store_schema_version(co_store *store);

/* Returns the path the store was opened with (borrowed). */
const char *co_store_path(const co_store *store);

/* Binds text (NULL binds SQL NULL) / int64 / blob; returns the SQLite rc. */
int co_bind_text(sqlite3_stmt *st, int i, const char *text);
int co_bind_int(sqlite3_stmt *st, int i, int64_t v);
int co_bind_blob(sqlite3_stmt *st, int i, const void *data, size_t len);

/* A copy of column i of st's current row (text or blob) in *out, malloc'd,
 * NUL-terminated, caller frees; its length without the NUL in *len (0 for
 * SQL NULL). Errors: CO_ERR_NOMEM (*out is NULL). */
co_status co_col_dup(sqlite3_stmt *st, int i, char **out, size_t *len, co_error *err);

/* One value for a statement parameter, built with the constructors below:
 * text (NUL-terminated, copied by SQLite; NULL binds SQL NULL), a 64-bit
 * integer, a double, bytes (copied; NULL binds SQL NULL) or SQL NULL. */
typedef enum co_sql_arg_type {
    CO_ARG_NULL,
    CO_ARG_TEXT,
    CO_ARG_INT,
    CO_ARG_REAL,
    CO_ARG_BLOB
} co_sql_arg_type;

typedef struct co_sql_arg {
    co_sql_arg_type type;
    const void *p; /* CO_ARG_TEXT, CO_ARG_BLOB: the value (borrowed) */
    int64_t i;     /* CO_ARG_INT: the value; CO_ARG_BLOB: its length in bytes */
    double r;      /* CO_ARG_REAL: the value */
} co_sql_arg;

#define CO_TEXT(s) ((co_sql_arg){CO_ARG_TEXT, (s), 0, 0})
#define CO_INT(v) ((co_sql_arg){CO_ARG_INT, NULL, (int64_t)(v), 0})
#define CO_REAL(v) ((co_sql_arg){CO_ARG_REAL, NULL, 0, (double)(v)})
#define CO_BLOB(data, len) ((co_sql_arg){CO_ARG_BLOB, (data), (int64_t)(len), 0})
#define CO_NULL ((co_sql_arg){CO_ARG_NULL, NULL, 0, 0})

/* A literal list of co_sql_arg as the (array, count) pair the functions
 * below take: CO_ARGS(CO_TEXT(id), CO_INT(n)). */
#define CO_ARGS(...)                                                        \
    (const co_sql_arg[]){__VA_ARGS__},                                      \
        sizeof((const co_sql_arg[]){__VA_ARGS__}) / sizeof(co_sql_arg)

/* Binds args[0..n) to parameters 1..n of st (the values are copied), each
 * whatever the others did. Returns SQLITE_OK, or the first failing
 * sqlite3_bind_* result. */
int co_bind_args(sqlite3_stmt *st, const co_sql_arg *args, size_t n);

/* co_bind_args(st, CO_ARGS(...)): binds the listed values in order. */
#define CO_BIND(st, ...) co_bind_args((st), CO_ARGS(__VA_ARGS__))

/* Runs write statement idx of mod once with parameters args[0..n) and
 * resets it. Returns CO_OK, or CO_ERR_STORE when it cannot be prepared and
 * otherwise as co_store_done (what names the operation). */
co_status co_store_exec(co_store *store, const co_sql_module *mod, int idx, const char *what,
                        co_error *err, const co_sql_arg *args, size_t n);

/* co_store_exec on the calling file's table `sql` with the enclosing
 * function's store and err: return CO_EXEC(SQL_X, "doing x", CO_TEXT(id)); */
#define CO_EXEC(idx, what, ...)                                             \
    co_store_exec(store, &sql, (idx), (what), err, CO_ARGS(__VA_ARGS__))

/* Column text, never NULL ("" for SQL NULL); borrowed until the next step. */
const char *co_col_text(sqlite3_stmt *st, int i);

#endif
