/* pg_snapcopy.c - see pg_snapcopy.h. */
#include "pg/pg_snapcopy.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/validate.h"
#include "pg/pg_conn.h"
#include "pg/pg_sql.h"

/* ------------------------------------------------------------ set-up */

co_status pg_snapcopy_create_slot(PGconn *repl, const char *slot, char **snapshot,
                                  char **lsn, co_error *err)
{
    pg_sql q;
    PGresult *res = NULL;
    co_status rc;
    size_t n = strlen(slot);
    *snapshot = *lsn = NULL;
    if (n == 0 || n > 63 || strspn(slot, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
        return co_error_set(err, CO_ERR_INVALID, "replication slot name %s is not [a-z0-9_]",
                            slot);
    /* the replication grammar takes no parameters: the name is quoted
     * (PQescapeIdentifier; the walsender's scanner reads quoted names) */
    pg_sql_init(&q);
    pg_sql_add(&q, "CREATE_REPLICATION_SLOT ");
    pg_sql_ident(&q, repl, slot);
    pg_sql_add(&q, " LOGICAL pgoutput EXPORT_SNAPSHOT");
    rc = pg_sql_check(&q, err);
    if (rc == CO_OK)
        rc = pg_exec_simple(repl, "creating the replication slot with an exported snapshot",
                            q.data, &res, err);
    pg_sql_free(&q);
    if (rc != CO_OK)
        return rc;
    /* columns: slot_name, consistent_point, snapshot_name, output_plugin */
    if (PQntuples(res) != 1 || PQnfields(res) < 3 || PQgetisnull(res, 0, 2)) {
        PQclear(res);
        return co_error_set(err, CO_ERR_REMOTE,
                            "CREATE_REPLICATION_SLOT returned no exported snapshot");
    }
    *lsn = strdup(PQgetvalue(res, 0, 1));
    *snapshot = strdup(PQgetvalue(res, 0, 2));
    PQclear(res);
    if (!*lsn || !*snapshot) {
        free(*lsn);
        free(*snapshot);
        *snapshot = *lsn = NULL;
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    return CO_OK;
}

co_status pg_snapcopy_import(PGconn *src, const char *snapshot, co_error *err)
{
    pg_sql q;
    co_status rc;
    pg_sql_init(&q);
    pg_sql_addf(&q, src,
                "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;"
                " SET TRANSACTION SNAPSHOT %L; SET LOCAL statement_timeout = 0",
                snapshot);
    rc = pg_sql_run(src, "importing the slot's snapshot", &q, err);
    pg_sql_free(&q);
    return rc;
}

/* Two text arrays of the schemas and names of tables, for $1 and $2. */
static co_status table_arrays(const json_t *tables, char **schemas, char **names,
                              co_error *err)
{
    json_t *a = json_array(), *b = json_array(), *t;
    size_t i;
    json_array_foreach(tables, i, t) {
        json_array_append_new(a, json_string(v_str(t, "schema")));
        json_array_append_new(b, json_string(v_str(t, "table")));
    }
    *schemas = json_dumps(a, JSON_COMPACT);
    *names = json_dumps(b, JSON_COMPACT);
    json_decref(a);
    json_decref(b);
    if (*schemas && *names)
        return CO_OK;
    free(*schemas);
    free(*names);
    return co_error_set(err, CO_ERR_NOMEM, "out of memory");
}

/* The tables of $1/$2 (JSON arrays of schema and table names), in order. */
#define TABLES_CTE \
    "WITH t AS (SELECT s, n FROM json_array_elements_text($1::json) WITH ORDINALITY" \
    "   AS a(s, i) JOIN json_array_elements_text($2::json) WITH ORDINALITY AS b(n, j)" \
    "   ON i = j)"

co_status pg_snapcopy_keys(PGconn *tgt, const json_t *tables, json_t **keys_out,
                           co_error *err)
{
    char *schemas = NULL, *names = NULL;
    const char *params[2];
    PGresult *res = NULL;
    co_status rc;
    *keys_out = NULL;
    if ((rc = table_arrays(tables, &schemas, &names, err)) != CO_OK)
        return rc;
    params[0] = schemas;
    params[1] = names;
    rc = pg_exec(tgt, "reading the target's primary keys",
                 TABLES_CTE
                 " SELECT ns.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid)"
                 " FROM t JOIN pg_namespace ns ON ns.nspname = t.s"
                 " JOIN pg_class c ON c.relnamespace = ns.oid AND c.relname = t.n"
                 " JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p'"
                 " WHERE c.relkind = 'r' AND c.relreplident = 'd'"
                 " AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f'"
                 "   AND f.conindid = k.conindid)"
                 " ORDER BY 1, 2",
                 2, params, &res, err);
    free(schemas);
    free(names);
    if (rc != CO_OK)
        return rc;
    *keys_out = json_array();
    for (int r = 0; r < PQntuples(res); r++)
        json_array_append_new(*keys_out,
                              json_pack("{s:s, s:s, s:s, s:s}", "schema", PQgetvalue(res, r, 0),
                                        "table", PQgetvalue(res, r, 1), "name",
                                        PQgetvalue(res, r, 2), "definition",
                                        PQgetvalue(res, r, 3)));
    PQclear(res);
    return CO_OK;
}

co_status pg_snapcopy_check_empty(PGconn *tgt, const json_t *tables, co_error *err)
{
    json_t *t;
    size_t i;
    json_array_foreach(tables, i, t) {
        pg_sql q;
        PGresult *res = NULL;
        co_status rc;
        pg_sql_init(&q);
        pg_sql_add(&q, "SELECT EXISTS (SELECT 1 FROM ");
        pg_sql_qname(&q, tgt, v_str(t, "schema"), v_str(t, "table"));
        pg_sql_add(&q, ")");
        rc = pg_sql_query(tgt, "checking the target table is empty", &q, &res, err);
        pg_sql_free(&q);
        if (rc != CO_OK)
            return rc;
        rc = pg_res_bool(res, 0, 0)
                 ? co_error_set(err, CO_ERR_CONFLICT,
                                "target table %s.%s already holds rows: the full load copies "
                                "into empty tables (empty it or leave it out of the table "
                                "mappings)", v_str(t, "schema"), v_str(t, "table"))
                 : CO_OK;
        PQclear(res);
        if (rc != CO_OK)
            return rc;
    }
    return CO_OK;
}

co_status pg_snapcopy_reset_target(PGconn *tgt, const json_t *tables, const json_t *keys,
                                   co_error *err)
{
    pg_sql q;
    json_t *t;
    size_t i;
    co_status rc;
    pg_sql_init(&q);
    pg_sql_add(&q, "BEGIN;");
    json_array_foreach(keys, i, t) {
        pg_sql_add(&q, " ALTER TABLE IF EXISTS ONLY ");
        pg_sql_qname(&q, tgt, v_str(t, "schema"), v_str(t, "table"));
        pg_sql_add(&q, " DROP CONSTRAINT IF EXISTS ");
        pg_sql_ident(&q, tgt, v_str(t, "name"));
        pg_sql_add(&q, ";");
    }
    pg_sql_add(&q, " TRUNCATE ");
    pg_sql_qnames(&q, tgt, tables);
    pg_sql_add(&q, "; COMMIT");
    /* (a failed buffer sends nothing: the ROLLBACK then only warns) */
    if ((rc = pg_sql_run(tgt, "emptying the target tables for the copy", &q, err)) != CO_OK)
        pg_rollback(tgt);
    pg_sql_free(&q);
    return rc;
}

/* ---------------------------------------------------------------- plan */

typedef struct sc_table {
    const char *schema, *name; /* borrowed from the caller's array */
    long long pages;
    size_t nchunks, chunks_done;
    long long rows;            /* rows copied so far */
    int64_t started_ms, ended_ms;
    const char *state;         /* queued, copying, keys, done, error */
    char relkind;              /* r or p */
    bool binary;               /* COPY in binary format (same built-in types) */
    char **keys_sql;           /* ADD CONSTRAINT statements, nkeys */
    size_t nkeys;
} sc_table;

typedef struct sc_chunk {
    sc_table *table;
    char *out_sql, *in_sql;    /* COPY ... TO STDOUT / COPY ... FROM STDIN */
    char *truncate_sql;        /* a whole ordinary table: emptied in the COPY's
                                  transaction, so COPY can FREEZE; else NULL */
} sc_chunk;

typedef struct sc_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sc_table *tables;
    size_t ntables;
    sc_chunk *chunks;
    size_t nchunks, next;
    size_t running;            /* workers still running */
    bool failed;
    co_error err;              /* the first failure */
    const pg_snapcopy_opts *o;
} sc_job;

typedef struct sc_worker {
    sc_job *job;
    PGconn *src, *tgt;
    pthread_t th;
} sc_worker;

/* Decides the binary format: the source's and the target's columns have
 * the same type names, every one built in (OID below 16384, so the same on
 * both servers: binary arrays and records carry element type OIDs), and
 * both servers have the same major version. */
static co_status same_builtin_types(PGconn *src, PGconn *tgt, const sc_table *t,
                                    const char *src_types, bool *binary, co_error *err)
{
    const char *params[2] = {t->schema, t->name};
    PGresult *res = NULL;
    co_status rc;
    *binary = false;
    if (PQserverVersion(src) / 10000 != PQserverVersion(tgt) / 10000 || !src_types)
        return CO_OK;
    rc = pg_exec(tgt, "planning the copy",
                 "SELECT json_object_agg(a.attname, format_type(a.atttypid, a.atttypmod)"
                 "   ORDER BY a.attnum)::text"
                 " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
                 " JOIN pg_namespace ns ON ns.oid = c.relnamespace"
                 " WHERE ns.nspname = $1 AND c.relname = $2 AND a.attnum > 0"
                 " AND NOT a.attisdropped AND a.attgenerated = ''",
                 2, params, &res, err);
    if (rc == CO_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        *binary = strcmp(PQgetvalue(res, 0, 0), src_types) == 0;
    PQclear(res);
    return rc;
}

/* Reads the table's kind, size in pages and copied columns (not dropped,
 * not generated) from src under the snapshot; appends the quoted column
 * list to cols and decides the format and the number of ranges. */
static co_status plan_table(PGconn *src, PGconn *tgt, sc_table *t, long long split_pages,
                            pg_sql *cols, co_error *err)
{
    const char *params[2] = {t->schema, t->name};
    PGresult *res = NULL;
    json_t *names, *n;
    char *types = NULL;
    size_t i;
    /* the column types only when all are built-in (binary format) */
    co_status rc = pg_exec(src, "planning the copy",
                           "SELECT c.relkind::text,"
                           " pg_relation_size(c.oid) / current_setting('block_size')::int,"
                           " a.names::text, CASE WHEN a.builtin THEN a.types::text END"
                           " FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace,"
                           " LATERAL (SELECT json_agg(attname ORDER BY attnum) AS names,"
                           "   json_object_agg(attname, format_type(atttypid, atttypmod)"
                           "     ORDER BY attnum) AS types,"
                           "   bool_and(atttypid < 16384) AS builtin FROM pg_attribute"
                           "   WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped"
                           "   AND attgenerated = '') a"
                           " WHERE ns.nspname = $1 AND c.relname = $2",
                           2, params, &res, err);
    if (rc == CO_OK && PQntuples(res) != 1) {
        PQclear(res);
        return co_error_set(err, CO_ERR_INVALID, "table %s.%s is not on the source", t->schema,
                            t->name);
    }
    if (rc != CO_OK)
        return rc;
    t->relkind = PQgetvalue(res, 0, 0)[0];
    t->pages = pg_res_int(res, 0, 1, 0);
    names = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    if (!PQgetisnull(res, 0, 3))
        types = strdup(PQgetvalue(res, 0, 3));
    PQclear(res);
    if (!json_is_array(names) || json_array_size(names) == 0) {
        json_decref(names);
        free(types);
        return co_error_set(err, CO_ERR_INVALID, "table %s.%s has no column to copy",
                            t->schema, t->name);
    }
    json_array_foreach(names, i, n) {
        if (i)
            pg_sql_add(cols, ", ");
        pg_sql_ident(cols, src, json_string_value(n));
    }
    json_decref(names);
    rc = same_builtin_types(src, tgt, t, types, &t->binary, err);
    free(types);
    t->nchunks = 1;
    if (t->relkind == 'r' && split_pages > 0 && PQserverVersion(src) >= 140000 &&
        t->pages > split_pages)
        t->nchunks = (size_t)((t->pages + split_pages - 1) / split_pages);
    return rc == CO_OK ? pg_sql_check(cols, err) : rc;
}

/* Builds the COPY statements of chunk k of t: ctid ranges [k*step, (k+1)*step)
 * pages, the last one open-ended (the table may have grown since). */
static co_status plan_chunk(PGconn *src, PGconn *tgt, sc_table *t, const char *cols,
                            size_t k, sc_chunk *ch, co_error *err)
{
    pg_sql out, in, trunc;
    char relkind = t->relkind;
    const char *format = t->binary ? " (FORMAT binary)" : "";
    co_status rc;
    long long step = (t->pages + (long long)t->nchunks - 1) / (long long)t->nchunks;
    pg_sql_init(&out);
    pg_sql_init(&in);
    if (t->nchunks == 1 && relkind == 'r') {
        pg_sql_add(&out, "COPY ");
        pg_sql_qname(&out, src, t->schema, t->name);
        pg_sql_add(&out, " (");
        pg_sql_add(&out, cols);
        pg_sql_add(&out, ") TO STDOUT");
        pg_sql_add(&out, format);
    } else {
        pg_sql_add(&out, "COPY (SELECT ");
        pg_sql_add(&out, cols);
        pg_sql_add(&out, relkind == 'r' ? " FROM ONLY " : " FROM ");
        pg_sql_qname(&out, src, t->schema, t->name);
        if (t->nchunks > 1) {
            pg_sql_add(&out, " WHERE ctid >= '(");
            pg_sql_int(&out, (int64_t)k * step);
            pg_sql_add(&out, ",0)'::tid");
            if (k + 1 < t->nchunks) {
                pg_sql_add(&out, " AND ctid < '(");
                pg_sql_int(&out, (int64_t)(k + 1) * step);
                pg_sql_add(&out, ",0)'::tid");
            }
        }
        pg_sql_add(&out, ") TO STDOUT");
        pg_sql_add(&out, format);
    }
    pg_sql_init(&trunc);
    pg_sql_add(&in, "COPY ");
    pg_sql_qname(&in, tgt, t->schema, t->name);
    pg_sql_add(&in, " (");
    pg_sql_add(&in, cols);
    pg_sql_add(&in, ") FROM STDIN");
    if (t->nchunks == 1 && relkind == 'r') {
        /* emptied in the same transaction: the rows are written frozen, so
         * the key build and later scans need not set hint bits page by page */
        pg_sql_add(&trunc, "BEGIN; TRUNCATE ONLY ");
        pg_sql_qname(&trunc, tgt, t->schema, t->name);
        pg_sql_add(&in, t->binary ? " (FORMAT binary, FREEZE)" : " (FREEZE)");
    } else {
        pg_sql_add(&in, format);
    }
    if ((rc = pg_sql_check(&out, err)) == CO_OK && (rc = pg_sql_check(&in, err)) == CO_OK &&
        (rc = pg_sql_check(&trunc, err)) == CO_OK) {
        ch->table = t;
        ch->out_sql = pg_sql_steal(&out);
        ch->in_sql = pg_sql_steal(&in);
        ch->truncate_sql = trunc.len ? pg_sql_steal(&trunc) : NULL;
    }
    pg_sql_free(&out);
    pg_sql_free(&in);
    pg_sql_free(&trunc);
    return rc;
}

static co_status plan_keys(PGconn *tgt, sc_table *t, const json_t *keys, co_error *err)
{
    json_t *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        pg_sql q;
        co_status rc;
        char **grown;
        if (strcmp(v_str(k, "schema"), t->schema) != 0 || strcmp(v_str(k, "table"), t->name))
            continue;
        pg_sql_init(&q);
        pg_sql_add(&q, "ALTER TABLE ONLY ");
        pg_sql_qname(&q, tgt, t->schema, t->name);
        pg_sql_add(&q, " ADD CONSTRAINT ");
        pg_sql_ident(&q, tgt, v_str(k, "name"));
        pg_sql_add(&q, " ");
        pg_sql_add(&q, v_str(k, "definition")); /* pg_get_constraintdef output */
        if ((rc = pg_sql_check(&q, err)) != CO_OK ||
            !(grown = realloc(t->keys_sql, (t->nkeys + 1) * sizeof *grown))) {
            pg_sql_free(&q);
            return rc != CO_OK ? rc : co_error_set(err, CO_ERR_NOMEM, "out of memory");
        }
        t->keys_sql = grown;
        t->keys_sql[t->nkeys++] = pg_sql_steal(&q);
        pg_sql_free(&q);
    }
    return CO_OK;
}

static int by_size_desc(const void *a, const void *b)
{
    const sc_chunk *x = a, *y = b;
    long long px = x->table->pages / (long long)x->table->nchunks;
    long long py = y->table->pages / (long long)y->table->nchunks;
    return px < py ? 1 : px > py ? -1 : 0;
}

static co_status plan(sc_job *j, const json_t *tables, co_error *err)
{
    const pg_snapcopy_opts *o = j->o;
    size_t nt = json_array_size(tables), total = 0;
    pg_sql *cols;
    co_status rc = CO_OK;
    j->tables = calloc(nt ? nt : 1, sizeof *j->tables);
    cols = calloc(nt ? nt : 1, sizeof *cols);
    if (!j->tables || !cols) {
        free(cols);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    j->ntables = nt;
    for (size_t i = 0; i < nt && rc == CO_OK; i++) {
        json_t *t = json_array_get(tables, i);
        sc_table *st = &j->tables[i];
        st->schema = v_str(t, "schema");
        st->name = v_str(t, "table");
        st->state = "queued";
        pg_sql_init(&cols[i]);
        if (!st->schema || !st->name)
            rc = co_error_set(err, CO_ERR_INVALID, "a table to copy has no schema or name");
        else if ((rc = plan_table(o->sources[0], o->targets[0], st, o->split_pages, &cols[i],
                                  err)) == CO_OK)
            rc = plan_keys(o->targets[0], st, o->keys, err);
        total += st->nchunks;
    }
    if (rc == CO_OK && !(j->chunks = calloc(total ? total : 1, sizeof *j->chunks)))
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nt && rc == CO_OK; i++)
        for (size_t k = 0; k < j->tables[i].nchunks && rc == CO_OK; k++)
            rc = plan_chunk(o->sources[0], o->targets[0], &j->tables[i], cols[i].data, k,
                            &j->chunks[j->nchunks++], err);
    for (size_t i = 0; i < nt; i++)
        pg_sql_free(&cols[i]);
    free(cols);
    if (rc == CO_OK)
        qsort(j->chunks, j->nchunks, sizeof *j->chunks, by_size_desc);
    return rc;
}

/* ---------------------------------------------------------------- copy */

/* Streams one chunk from src to tgt; adds the rows to its table's count
 * (under the job's lock, every 10,000 rows and at the end). */
/* Rows go to the target in CopyData messages of up to this many bytes: a
 * COPY FROM stream need not keep rows and messages aligned, and one message
 * per row costs the target backend (the copy's slowest part) a message read
 * per row. */
#define SC_BATCH_BYTES (64 * 1024)

typedef struct sc_batch {
    char data[SC_BATCH_BYTES];
    size_t len;
} sc_batch;

/* Sends what b holds as one CopyData message; 1 on success (PQputCopyData). */
static int batch_flush(PGconn *tgt, sc_batch *b)
{
    int put = b->len ? PQputCopyData(tgt, b->data, (int)b->len) : 1;
    b->len = 0;
    return put;
}

/* Appends n bytes of row to b, sending b first when they do not fit, and
 * a row larger than b on its own; 1 on success (PQputCopyData). */
static int batch_put(PGconn *tgt, sc_batch *b, const char *row, int n)
{
    if (b->len + (size_t)n > sizeof b->data && batch_flush(tgt, b) != 1)
        return -1;
    if ((size_t)n > sizeof b->data)
        return PQputCopyData(tgt, row, n);
    memcpy(b->data + b->len, row, (size_t)n);
    b->len += (size_t)n;
    return 1;
}

static co_status copy_stream(sc_job *j, PGconn *src, PGconn *tgt, sc_chunk *ch,
                             const char *what, co_error *err)
{
    sc_batch *batch;
    static const char signature[11] = "PGCOPY\n\377\r\n";
    PGresult *res;
    char *row = NULL;
    long long pending = 0;
    bool first = true;
    int n;
    co_status rc = CO_OK;

    if (!(batch = malloc(sizeof *batch)))
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    batch->len = 0;
    res = PQexec(tgt, ch->in_sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        free(batch);
        rc = pg_conn_fail(tgt, res, what, err);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    res = PQexec(src, ch->out_sql);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        rc = pg_conn_fail(src, res, what, err);
        PQclear(res);
        PQputCopyEnd(tgt, "the source could not be read");
        while ((res = PQgetResult(tgt)))
            PQclear(res);
        free(batch);
        return rc;
    }
    PQclear(res);
    /* libpq hands out one row per call; in binary format the file header
     * (19 bytes, if sent alone) and the 2-byte trailer are not rows */
    while ((n = PQgetCopyData(src, &row, 0)) > 0) {
        bool is_row = !ch->table->binary ||
                      (n > 2 && !(first && n == 19 && !memcmp(row, signature, 11)));
        int put = batch_put(tgt, batch, row, n);
        PQfreemem(row);
        first = false;
        if (put != 1) {
            rc = pg_conn_fail(tgt, NULL, what, err);
            break;
        }
        if (is_row && ++pending == 10000) {
            pthread_mutex_lock(&j->mu);
            ch->table->rows += pending;
            pthread_mutex_unlock(&j->mu);
            pending = 0;
            if (j->o->stop && atomic_load(j->o->stop)) {
                rc = co_error_set(err, CO_ERR_TRANSIENT,
                                  "%s: interrupted, cutoverd is stopping", what);
                break;
            }
        }
    }
    if (rc == CO_OK && n == -2)
        rc = pg_conn_fail(src, NULL, what, err);
    if (rc == CO_OK && batch_flush(tgt, batch) != 1)
        rc = pg_conn_fail(tgt, NULL, what, err);
    free(batch);
    /* a stream left in the middle stays in COPY OUT: PQgetResult would
     * return that state forever; the caller closes the connection */
    while (n <= 0 && (res = PQgetResult(src))) {
        if (rc == CO_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = pg_conn_fail(src, res, what, err);
        PQclear(res);
    }
    if (PQputCopyEnd(tgt, rc == CO_OK ? NULL : "the source failed") != 1 && rc == CO_OK)
        rc = pg_conn_fail(tgt, NULL, what, err);
    while ((res = PQgetResult(tgt))) {
        if (rc == CO_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = pg_conn_fail(tgt, res, what, err);
        PQclear(res);
    }
    pthread_mutex_lock(&j->mu);
    ch->table->rows += pending;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

/* One chunk, inside the transaction that empties the table first when the
 * chunk is a whole ordinary table (COPY ... FREEZE needs it). */
static co_status copy_chunk(sc_job *j, PGconn *src, PGconn *tgt, sc_chunk *ch,
                            co_error *err)
{
    char what[400];
    co_status rc;
    snprintf(what, sizeof what, "copying %s.%s", ch->table->schema, ch->table->name);
    if (ch->truncate_sql &&
        (rc = pg_exec_simple(tgt, what, ch->truncate_sql, NULL, err)) != CO_OK) {
        pg_rollback(tgt);
        return rc;
    }
    rc = copy_stream(j, src, tgt, ch, what, err);
    if (ch->truncate_sql) {
        if (rc == CO_OK)
            rc = pg_commit(tgt, err);
        else
            pg_rollback(tgt);
    }
    return rc;
}

static co_status build_keys(sc_table *t, PGconn *tgt, co_error *err)
{
    char what[400];
    snprintf(what, sizeof what, "building the primary key of %s.%s", t->schema, t->name);
    for (size_t i = 0; i < t->nkeys; i++) {
        co_status rc = pg_exec_simple(tgt, what, t->keys_sql[i], NULL, err);
        if (rc != CO_OK)
            return rc;
    }
    return CO_OK;
}

static void *worker(void *arg)
{
    sc_worker *w = arg;
    sc_job *j = w->job;
    co_error err;
    co_error_clear(&err);
    for (;;) {
        sc_chunk *ch;
        bool last;
        co_status rc;
        pthread_mutex_lock(&j->mu);
        if (j->failed || j->next >= j->nchunks ||
            (j->o->stop && atomic_load(j->o->stop))) {
            pthread_mutex_unlock(&j->mu);
            break;
        }
        ch = &j->chunks[j->next++];
        if (!ch->table->started_ms)
            ch->table->started_ms = co_clock_now_ms();
        ch->table->state = "copying";
        pthread_mutex_unlock(&j->mu);

        rc = copy_chunk(j, w->src, w->tgt, ch, &err);
        pthread_mutex_lock(&j->mu);
        last = rc == CO_OK && ++ch->table->chunks_done == ch->table->nchunks;
        if (last && ch->table->nkeys)
            ch->table->state = "keys";
        pthread_mutex_unlock(&j->mu);
        if (last)
            rc = build_keys(ch->table, w->tgt, &err);
        pthread_mutex_lock(&j->mu);
        if (rc != CO_OK) {
            ch->table->state = "error";
            if (!j->failed)
                j->err = err;
            j->failed = true;
        } else if (last) {
            ch->table->state = "done";
            ch->table->ended_ms = co_clock_now_ms();
        }
        pthread_mutex_unlock(&j->mu);
    }
    pthread_mutex_lock(&j->mu);
    j->running--;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* The progress array; called with j->mu held. */
static json_t *snapshot_progress(const sc_job *j)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < j->ntables; i++) {
        const sc_table *t = &j->tables[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:b}", "schema", t->schema,
                              "table", t->name, "state", t->state, "rows",
                              (json_int_t)t->rows, "chunks", (json_int_t)t->nchunks,
                              "chunks_done", (json_int_t)t->chunks_done, "format",
                              t->binary ? "binary" : "text", "frozen",
                              t->nchunks == 1 && t->relkind == 'r');
        if (t->started_ms)
            json_object_set_new(o, "started_ms", json_integer(t->started_ms));
        if (t->ended_ms)
            json_object_set_new(o, "ended_ms", json_integer(t->ended_ms));
        json_array_append_new(arr, o);
    }
    return arr;
}

static void report(sc_job *j)
{
    json_t *p;
    if (!j->o->progress)
        return;
    pthread_mutex_lock(&j->mu);
    p = snapshot_progress(j);
    pthread_mutex_unlock(&j->mu);
    j->o->progress(j->o->progress_user, p);
    json_decref(p);
}

static void job_free(sc_job *j)
{
    for (size_t i = 0; i < j->nchunks; i++) {
        free(j->chunks[i].out_sql);
        free(j->chunks[i].in_sql);
        free(j->chunks[i].truncate_sql);
    }
    for (size_t i = 0; i < j->ntables; i++) {
        for (size_t k = 0; k < j->tables[i].nkeys; k++)
            free(j->tables[i].keys_sql[k]);
        free(j->tables[i].keys_sql);
    }
    free(j->chunks);
    free(j->tables);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
}

co_status pg_snapcopy_run(const pg_snapcopy_opts *o, const json_t *tables,
                          json_t **report_out, co_error *err)
{
    sc_job j;
    sc_worker w[PG_SNAPCOPY_MAX_JOBS];
    size_t started = 0;
    co_status rc;

    *report_out = NULL;
    if (!o || !o->sources || !o->targets || o->jobs < 1 || o->jobs > PG_SNAPCOPY_MAX_JOBS ||
        !json_is_array(tables))
        return co_error_set(err, CO_ERR_INVALID, "bad copy options");
    memset(&j, 0, sizeof j);
    j.o = o;
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    for (size_t i = 0; i < o->jobs; i++)
        if ((rc = pg_conn_set_statement_timeout(o->targets[i], 0, err)) != CO_OK) {
            job_free(&j);
            return rc;
        }
    if ((rc = plan(&j, tables, err)) != CO_OK) {
        job_free(&j);
        return rc;
    }
    /* counted under the lock before each thread starts: a worker without
     * work may end before the next one is created */
    pthread_mutex_lock(&j.mu);
    for (size_t i = 0; i < o->jobs; i++) {
        w[i] = (sc_worker){.job = &j, .src = o->sources[i], .tgt = o->targets[i]};
        j.running++;
        if (pthread_create(&w[i].th, NULL, worker, &w[i]) != 0) {
            j.running--;
            break;
        }
        started++;
    }
    if (started == 0 && !j.failed) {
        j.failed = true;
        co_error_set(&j.err, CO_ERR_NOMEM, "cannot start a copy thread");
    }
    while (j.running > 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        if (pthread_cond_timedwait(&j.cv, &j.mu, &until) == ETIMEDOUT && j.running > 0) {
            pthread_mutex_unlock(&j.mu);
            report(&j);
            pthread_mutex_lock(&j.mu);
        }
    }
    pthread_mutex_unlock(&j.mu);
    for (size_t i = 0; i < started; i++)
        pthread_join(w[i].th, NULL);
    report(&j);
    *report_out = snapshot_progress(&j);
    rc = CO_OK;
    if (j.failed) {
        rc = j.err.status;
        if (err)
            *err = j.err;
    }
    job_free(&j);
    return rc;
}
