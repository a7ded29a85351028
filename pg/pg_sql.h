/* pg_sql.h - a growable SQL text buffer with safe identifier/literal splicing.
 *
 * SQL is never built by printf in this module family: trusted fragments
 * (keywords, fixed text written in our sources, definitions returned by the
 * server's own pg_get_*def() functions) are appended as is, identifiers go
 * through PQescapeIdentifier (pg_sql_ident/pg_sql_qname) and values go
 * through bound parameters ($1...) at execution time. Only where PostgreSQL
 * does not accept parameters (utility statements: CREATE SERVER ... OPTIONS,
 * CREATE USER MAPPING, COMMENT ON, DO blocks) are values spliced as literals
 * with PQescapeLiteral (pg_sql_literal).
 *
 * The buffer is sticky-failing: after the first allocation or escaping
 * failure every append is a no-op and pg_sql_check() reports the failure, so
 * callers append freely and check once. Hard cap: PG_SQL_MAX_BYTES.
 *
 * Not thread-safe per buffer (each buffer belongs to one caller); the PGconn
 * passed to the escaping functions is only used for its encoding settings.
 */
#ifndef CUTOVER_PG_SQL_H
#define CUTOVER_PG_SQL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/status.h"

#define PG_SQL_MAX_BYTES ((size_t)256 * 1024 * 1024)

/* The text lives in a co_buf (core/buf.h, capped at PG_SQL_MAX_BYTES);
 * data and len name its first two members for readers of the text. */
typedef struct pg_sql {
    union {
        co_buf buf;
        struct {
            char *data; /* NUL-terminated text, NULL until the first append */
            size_t len; /* bytes used, without the NUL */
        };
    };
    co_status failed;  /* CO_OK, CO_ERR_NOMEM, CO_ERR_TOO_LARGE or CO_ERR_INVALID */
    char why[160];     /* reason for CO_ERR_INVALID (escaping failure) */
} pg_sql;

/* Initialises an empty buffer (no allocation). */
void pg_sql_init(pg_sql *b);

/* Frees the buffer's memory and re-initialises it. NULL-safe. */
void pg_sql_free(pg_sql *b);

/* Empties the buffer, keeping its memory and clearing a failure. */
void pg_sql_reset(pg_sql *b);

/* Appends trusted SQL text (never user input). */
void pg_sql_add(pg_sql *b, const char *text);

/* Appends the first n bytes of trusted text. */
void pg_sql_addn(pg_sql *b, const char *text, size_t n);

/* Appends a decimal integer. */
void pg_sql_int(pg_sql *b, int64_t v);

/* Appends ident quoted with PQescapeIdentifier (always double-quoted). */
void pg_sql_ident(pg_sql *b, PGconn *conn, const char *ident);

/* Appends "schema"."name" (both quoted); schema may be NULL or "" to append
 * only the quoted name. */
void pg_sql_qname(pg_sql *b, PGconn *conn, const char *schema, const char *name);

/* Appends "schema"."table" of each element {"schema", "table"} of the
 * JSON array tables (borrowed), separated by ", " (a TRUNCATE or
 * publication list). */
void pg_sql_qnames(pg_sql *b, PGconn *conn, const json_t *tables);

/* Appends value as a string literal with PQescapeLiteral (E'...' when it
 * holds backslashes). Only for statements that cannot take parameters. */
void pg_sql_literal(pg_sql *b, PGconn *conn, const char *value);

/* Appends tmpl with its directives replaced, in order, by the const char *
 * arguments that follow: %s trusted text (as pg_sql_add), %I an identifier
 * (pg_sql_ident), %Q two arguments schema, name (pg_sql_qname), %L a
 * literal (pg_sql_literal), %% a percent sign; the directives follow those
 * of PostgreSQL's format() function. Other text of tmpl is trusted SQL. An
 * unknown directive marks the buffer failed (CO_ERR_INVALID, reported by
 * pg_sql_check); an argument missing for a directive is undefined
 * behaviour, as with printf. Example: pg_sql_addf(b, c, "DROP INDEX %Q",
 * schema, name). */
void pg_sql_addf(pg_sql *b, PGconn *conn, const char *tmpl, ...);

/* Returns CO_OK, or the sticky failure recorded into err. */
CO_MUST_CHECK co_status pg_sql_check(const pg_sql *b, co_error *err);

/* Runs b's text on conn as one simple query (pg_exec_simple, results
 * discarded) after checking b, then empties b (pg_sql_reset: its memory is
 * kept for the next statement; the caller still owns it and frees it with
 * pg_sql_free). what names the statement in errors. Returns CO_OK, b's
 * sticky failure (as pg_sql_check; nothing is sent then) or the statement's
 * error (see pg_conn_fail). Not for text holding secrets: the text is not
 * wiped. */
CO_MUST_CHECK co_status pg_sql_run(PGconn *conn, const char *what, pg_sql *b,
                                   co_error *err);

/* As pg_sql_run, but runs the text as one statement with pg_exec (no
 * parameters) and hands its result to *out as pg_exec does (the caller
 * frees it with PQclear; out may be NULL). */
CO_MUST_CHECK co_status pg_sql_query(PGconn *conn, const char *what, pg_sql *b,
                                     PGresult **out, co_error *err);

/* Returns the text (caller frees with free()) and re-initialises b; NULL if
 * the buffer failed or is empty-and-unallocated (then returns strdup("")). */
char *pg_sql_steal(pg_sql *b);

/* Returns b's text (malloc'd; the caller frees it with free()) and
 * re-initialises b; on a sticky failure returns NULL with err set as
 * pg_sql_check says, and frees b's memory. */
char *pg_sql_take(pg_sql *b, co_error *err);

/* Returns a new malloc'd copy of ident quoted by PQescapeIdentifier, or NULL
 * with err set (CO_ERR_NOMEM, or CO_ERR_INVALID for an invalid encoding).
 * Caller frees with free(). */
char *pg_sql_ident_new(PGconn *conn, const char *ident, co_error *err);

/* Returns a new malloc'd "schema"."name" (schema NULL/"" -> "name"), or NULL
 * with err set. Caller frees with free(). */
char *pg_sql_qname_new(PGconn *conn, const char *schema, const char *name,
                       co_error *err);

/* Runs sql (one statement) with pg_exec and $1 the quoted "schema"."name"
 * (as pg_sql_qname_new: for a ::regclass cast, or text derived from the
 * quoted name); *out as pg_exec (caller frees it with PQclear). Errors:
 * CO_ERR_NOMEM, CO_ERR_INVALID (name cannot be quoted), see pg_conn_fail. */
CO_MUST_CHECK co_status pg_sql_exec_on(PGconn *conn, const char *what, const char *sql,
                                       const char *schema, const char *name,
                                       PGresult **out, co_error *err);

/* Writes "schema.name" (unquoted, for messages and JSON) into out, truncating.
 * Returns out. */
char *pg_sql_display_name(const char *schema, const char *name, char *out,
                          size_t size);

#endif
