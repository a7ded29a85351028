/* pg_chunks.h - comparing a table between two PostgreSQL databases in
 * primary-key ranges ("chunks") and by lists of keys, for the continuous
 * validation of the pg-logical engine (engine/pglogical_validate.c).
 *
 * DESIGN
 * A table is described by a JSON object that the caller keeps (in step
 * outputs) for the whole run:
 *   {"schema","name","keys":["col",...],"types":["integer",...],"est_rows":N}
 * keys/types are the primary-key columns in index order and their
 * format_type() (empty arrays: no primary key, the table is compared as one
 * chunk). Key values travel as JSON arrays ("key tuples", e.g. [42] or
 * ["2024-01-01T00:00:00+00:00","a"]) made by jsonb_build_array, i.e. each
 * column as to_jsonb gives it (ISO 8601 dates whatever DateStyle says), and
 * are cast back with ((tuple ->> i)::<type>), so any key type with a text
 * round trip works and no value is spliced into SQL (key tuples are bound
 * as one jsonb parameter; identifiers go through PQescapeIdentifier).
 *
 * A chunk is the key range (lo, hi]: lo NULL = from the first row, hi NULL
 * = to the last. Its fingerprint is the row count and the sum of the first
 * 64 bits of md5(row::text) of its rows (order-independent; the same
 * checksum final_sync's full validation uses), plus
 * pg_current_wal_insert_lsn() read in the same statement: on a publisher
 * every commit record of a transaction the statement's snapshot sees lies
 * below it. (pg_current_wal_lsn() is the write position: a transaction
 * committed with synchronous_commit = off can still be in the WAL buffers
 * above it, so a subscriber that confirmed it has not received that commit.)
 *
 * The change log (pg_changelog_*) is a table <schema>.changed_keys on the
 * target, filled by one ENABLE ALWAYS row trigger per table (so it fires for
 * the subscription's apply worker as well as for local writes) with the key
 * tuple of every inserted, updated or deleted row. The schema belongs to the
 * run and is dropped with everything in it by pg_changelog_remove.
 *
 * THREADS: none of their own; each call uses the caller's connection.
 */
#ifndef CUTOVER_PG_CHUNKS_H
#define CUTOVER_PG_CHUNKS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "pg/pg_scope.h"
#include "core/status.h"

/* A chunk fingerprint. */
typedef struct pg_chunk_fp {
    int64_t rows;
    char sum[48];      /* decimal sum of the 64-bit md5 prefixes */
    char lsn[32];      /* pg_current_wal_insert_lsn() of the read, e.g. "0/16B3740" */
    json_t *last_key;  /* pg_chunk_first: key tuple of the chunk's last row
                        * (new reference, NULL when the chunk is empty or the
                        * table has no key); caller decrefs */
} pg_chunk_fp;

/* Sets the session settings that make text forms of values comparable
 * between two servers (TimeZone UTC, DateStyle ISO, IntervalStyle postgres,
 * extra_float_digits 1, bytea_output hex). Errors: see pg_conn_fail. */
CO_MUST_CHECK co_status pg_chunks_session(PGconn *conn, co_error *err);

/* Lists the tables of scope on conn (relkind r and p, no partitions) as a
 * JSON array of table descriptions (see above; est_rows from reltuples,
 * 0 when never analysed) in *out (new reference, caller decrefs).
 * Errors: see pg_conn_fail; CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_chunks_tables(PGconn *conn, const pg_scope *scope,
                                         json_t **out, co_error *err);

/* Fingerprint of the next chunk of table after key tuple lo (NULL: from the
 * start): at most `limit` rows in key order (limit >= 1). out->last_key is
 * the chunk's upper bound to give pg_chunk_range for the same chunk on the
 * other side; out->rows < limit means the chunk reached the end of the
 * table. A table without a key is read whole. Errors: see pg_conn_fail;
 * CO_ERR_INVALID for a malformed table description or key tuple. */
CO_MUST_CHECK co_status pg_chunk_first(PGconn *conn, const json_t *table, const json_t *lo,
                                       int64_t limit, pg_chunk_fp *out, co_error *err);

/* Fingerprint of the rows of table with lo < key <= hi (NULL bounds are
 * open). out->last_key stays NULL. Errors as pg_chunk_first. */
CO_MUST_CHECK co_status pg_chunk_range(PGconn *conn, const json_t *table, const json_t *lo,
                                       const json_t *hi, pg_chunk_fp *out, co_error *err);

/* Row digests of table, either of the range (lo, hi] (keys NULL) or of the
 * rows whose key tuple is in the JSON array keys: *out (new reference) maps
 * the compact JSON text of each found key tuple to md5(row::text).
 * `max_rows` bounds a range read (CO_ERR_TOO_LARGE beyond it). Errors as
 * pg_chunk_first. */
CO_MUST_CHECK co_status pg_chunk_digests(PGconn *conn, const json_t *table, const json_t *lo,
                                         const json_t *hi, const json_t *keys,
                                         int64_t max_rows, json_t **out, co_error *err);

/* Creates, if absent, schema `schema` with the change log table and, for
 * every table of the JSON array tables that has a key (index i in the
 * array = the log's tbl value), a trigger function <schema>.ck_<i> and an
 * AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW trigger `trigger` on the
 * table, set ENABLE ALWAYS. One transaction. Errors: see pg_conn_fail
 * (e.g. 42501 without ownership of the tables). */
CO_MUST_CHECK co_status pg_changelog_install(PGconn *conn, const char *schema,
                                             const char *trigger, const json_t *tables,
                                             co_error *err);

/* Drops schema `schema` with CASCADE (the log, the functions and, through
 * them, the triggers); absent is fine. Errors: see pg_conn_fail. */
CO_MUST_CHECK co_status pg_changelog_remove(PGconn *conn, const char *schema,
                                            co_error *err);

/* Reads at most limit entries of the log that are due (not_before NULL or
 * <= due_lsn, an LSN text; NULL = all), oldest first, as rows (id, tbl,
 * key jsonb text, checks, src) in *out (caller PQclears). Errors: see
 * pg_conn_fail. */
CO_MUST_CHECK co_status pg_changelog_read(PGconn *conn, const char *schema,
                                          const char *due_lsn, int limit, PGresult **out,
                                          co_error *err);

/* Number of entries in the log into *out. Errors: see pg_conn_fail. */
CO_MUST_CHECK co_status pg_changelog_count(PGconn *conn, const char *schema, int64_t *out,
                                           co_error *err);

/* Deletes the entries whose ids are in the JSON array ids (integers).
 * Errors: see pg_conn_fail. */
CO_MUST_CHECK co_status pg_changelog_delete(PGconn *conn, const char *schema,
                                            const json_t *ids, co_error *err);

/* Marks entries to be checked again once the subscriber has passed
 * not_before (LSN text): entries is a JSON array of {"id", "checks", "src"}
 * (src: the source digest seen, "" when the source has no such row).
 * One statement. Errors: see pg_conn_fail. */
CO_MUST_CHECK co_status pg_changelog_defer(PGconn *conn, const char *schema,
                                           const json_t *entries, const char *not_before,
                                           co_error *err);

/* VACUUM of the log table (deleted entries would otherwise slow the
 * oldest-first reads where autovacuum is off). Outside a transaction.
 * Errors: see pg_conn_fail. */
CO_MUST_CHECK co_status pg_changelog_vacuum(PGconn *conn, const char *schema, co_error *err);

#endif
