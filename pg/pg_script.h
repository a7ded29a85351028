/* pg_script.h - split a SQL script into statements with PostgreSQL's own
 * parser (libpg_query, Debian libpg-query-dev), for convert_schema.
 *
 * The script is split with pg_query_split_with_parser, so statement ends
 * follow the server's grammar: quotes, dollar quotes, comments, keywords
 * used as column names (`begin`, `end`, `atomic`, `loop`), SQL-standard
 * function bodies (`BEGIN ATOMIC ... END`) and rule actions in parentheses
 * all stay inside their statement. The grammar is PostgreSQL 15's (the
 * version libpg_query was built from).
 *
 * psql meta-commands (a line whose first non-blank character is a
 * backslash where the parser stops, e.g. pg_dump's `\restrict KEY`) are
 * returned as items of their own with meta set, running to the end of their
 * line. If the parser rejects the script anywhere else (a syntax error, or
 * syntax newer than PostgreSQL 15), the script is split with
 * pg_query_split_with_scanner instead (semicolons outside quotes and
 * comments), so that the server reports the error on the statement that
 * holds it; `fallback` is then set on the list.
 *
 * Whitespace and comments before a statement are not part of it, nor is
 * the terminating semicolon; a final statement without a semicolon is still
 * returned. Thread-safe (libpg_query keeps its state per thread).
 */
#ifndef CUTOVER_PG_SCRIPT_H
#define CUTOVER_PG_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

typedef struct pg_stmt {
    size_t offset; /* byte offset of the first character in the script */
    size_t len;    /* bytes, without the terminating semicolon */
    int line;      /* 1-based line of the first character */
    bool meta;     /* a psql backslash command */
} pg_stmt;

typedef struct pg_stmt_list {
    pg_stmt *items; /* owned; free with pg_stmt_list_free */
    size_t count;
    bool fallback;  /* the parser rejected the script: split by the scanner */
} pg_stmt_list;

/* Splits script[0..len) (UTF-8; len bytes, no NUL inside) into *out (owned
 * by the caller, pg_stmt_list_free). Errors: CO_ERR_UNPROCESSABLE when even
 * the scanner rejects the script (an unterminated quote or comment), with
 * "line L: <libpg_query's message>"; CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_script_split(const char *script, size_t len, pg_stmt_list *out,
                                        co_error *err);

/* Frees out's items and zeroes it. NULL-safe. */
void pg_stmt_list_free(pg_stmt_list *list);

/* Converts a 1-based character position (as PostgreSQL reports in
 * PG_DIAG_STATEMENT_POSITION, counting UTF-8 characters) inside
 * text[0..len) into a byte offset (clamped to len). */
size_t pg_script_char_to_byte(const char *text, size_t len, long charpos);

/* Line (1-based) and column (1-based, in characters) of byte offset off in
 * text. */
void pg_script_line_col(const char *text, size_t off, int *line, int *col);

#endif
