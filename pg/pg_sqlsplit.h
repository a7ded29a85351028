/* pg_sqlsplit.h - split a SQL script into statements the way psql does.
 *
 * A statement ends at a semicolon outside quotes, comments, parentheses and
 * BEGIN ... END blocks, following psql's lexer (psqlscan.l): '...' strings
 * ('' escapes; E'...' also backslash escapes), "..." identifiers,
 * $tag$...$tag$ dollar quotes, -- and nested slash-star comments, parenthesis
 * depth, and BEGIN/CASE ... END nesting counted only when BEGIN or CASE is
 * not the first word (so `BEGIN;` still ends at its semicolon while a
 * SQL-standard function body `BEGIN ATOMIC ...; ...; END` stays whole).
 * Standard-conforming strings are assumed (the default since 9.1).
 *
 * A psql meta-command (a backslash first on a statement, e.g. pg_dump's
 * `\restrict KEY` line) is returned as its own item with meta set, running to
 * the end of its line. Whitespace and comments before a statement are not
 * part of it; a final statement without a semicolon is still returned.
 * Pure function, thread-safe.
 */
#ifndef CUTOVER_PG_SQLSPLIT_H
#define CUTOVER_PG_SQLSPLIT_H

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
} pg_stmt_list;

/* Splits script[0..len) into *out. Errors: CO_ERR_NOMEM only (an
 * unterminated quote or comment simply extends to the end, and the server
 * reports the syntax error). */
CO_MUST_CHECK co_status pg_sqlsplit(const char *script, size_t len, pg_stmt_list *out,
                                    co_error *err);

/* Frees out's items and zeroes it. NULL-safe. */
void pg_stmt_list_free(pg_stmt_list *list);

/* Converts a 1-based character position (as PostgreSQL reports in
 * PG_DIAG_STATEMENT_POSITION, counting UTF-8 characters) inside
 * text[0..len) into a byte offset (clamped to len). */
size_t pg_sqlsplit_char_to_byte(const char *text, size_t len, long charpos);

/* Line (1-based) and column (1-based, in characters) of byte offset off in
 * text. */
void pg_sqlsplit_line_col(const char *text, size_t off, int *line, int *col);

#endif
