/* pg_schema.c - see pg_schema.h. */
#include "pg/pg_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pg/pg_script.h"

#define STMT_TEXT_MAX 2000

/* ---- applying a script ------------------------------------------------- */

static bool word_is(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len >= n && !strncasecmp(s, word, n) &&
           (len == n || !((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
                          s[n] == '_' || (s[n] >= '0' && s[n] <= '9')));
}

static bool is_transaction_control(const char *s, size_t len)
{
    return word_is(s, len, "BEGIN") || word_is(s, len, "START") ||
           word_is(s, len, "COMMIT") || word_is(s, len, "END") ||
           word_is(s, len, "ROLLBACK") || word_is(s, len, "ABORT");
}

/* "CREATE SCHEMA <one identifier>" -> offset of the identifier, else 0. */
static size_t bare_create_schema(const char *s, size_t len)
{
    size_t i = 0, id;
    if (!word_is(s, len, "CREATE"))
        return 0;
    i = 6;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (!word_is(s + i, len - i, "SCHEMA"))
        return 0;
    i += 6;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    id = i;
    if (i < len && s[i] == '"') {
        for (i++; i < len; i++) {
            if (s[i] == '"') {
                if (i + 1 < len && s[i + 1] == '"') {
                    i++;
                    continue;
                }
                i++;
                break;
            }
        }
    } else {
        if (word_is(s + i, len - i, "IF") || word_is(s + i, len - i, "AUTHORIZATION"))
            return 0;
        while (i < len && (((unsigned char)s[i] >= 0x80) || s[i] == '_' || s[i] == '$' ||
                           (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                           (s[i] >= '0' && s[i] <= '9')))
            i++;
    }
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return (i == len && id < len) ? id : 0;
}

/* Sends one statement; returns the final result (caller PQclears). COPY
 * FROM STDIN is refused, COPY TO STDOUT drained. */
static PGresult *exec_statement(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql), *next;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COPY_IN) {
        PQclear(res);
        if (PQputCopyEnd(conn, "COPY FROM STDIN is not supported in schema scripts") < 0)
            return NULL;
        res = NULL;
        while ((next = PQgetResult(conn))) {
            PQclear(res);
            res = next;
        }
    } else if (st == PGRES_COPY_OUT) {
        char *buf;
        while (PQgetCopyData(conn, &buf, 0) > 0)
            PQfreemem(buf);
        PQclear(res);
        res = NULL;
        while ((next = PQgetResult(conn))) {
            PQclear(res);
            res = next;
        }
    }
    return res;
}

static void set_opt_field(json_t *o, const char *key, const PGresult *res, int field)
{
    const char *v = res ? PQresultErrorField(res, field) : NULL;
    if (v)
        json_object_set_new(o, key, json_string(v));
}

/* Builds the error object and records the failure into err. */
static co_status statement_failed(PGconn *conn, const PGresult *res, const char *script,
                                  const pg_stmt *st, size_t index, json_t *report,
                                  co_error *err)
{
    const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
    size_t off = st->offset;
    int line, col;
    long charpos;
    json_t *e;
    char what[120];
    size_t tl = st->len < STMT_TEXT_MAX ? st->len : STMT_TEXT_MAX;
    char *text = strndup(script + st->offset, tl);

    if (pos)
        off += pg_script_char_to_byte(script + st->offset, st->len, strtol(pos, NULL, 10));
    pg_script_line_col(script, off, &line, &col);
    charpos = 1; /* character position of off in the whole script (1-based) */
    for (size_t i = 0; i < off; i++)
        if (((unsigned char)script[i] & 0xC0) != 0x80)
            charpos++;
    snprintf(what, sizeof what, "statement %zu (line %d, position %ld)", index + 1, line,
             charpos);
    pg_conn_fail(conn, res, what, err);
    e = json_pack("{s:I, s:i, s:i, s:I, s:s, s:s, s:s}", "index", (json_int_t)(index + 1),
                  "line", line, "column", col, "position", (json_int_t)charpos,
                  "statement", text ? text : "", "sqlstate",
                  err && err->sqlstate[0] ? err->sqlstate : "",
                  "message", err ? err->message : "");
    free(text);
    if (e) {
        set_opt_field(e, "server_message", res, PG_DIAG_MESSAGE_PRIMARY);
        set_opt_field(e, "detail", res, PG_DIAG_MESSAGE_DETAIL);
        set_opt_field(e, "hint", res, PG_DIAG_MESSAGE_HINT);
        set_opt_field(e, "context", res, PG_DIAG_CONTEXT);
        set_opt_field(e, "internal_query", res, PG_DIAG_INTERNAL_QUERY);
        set_opt_field(e, "internal_position", res, PG_DIAG_INTERNAL_POSITION);
        json_object_set_new(report, "error", e);
    }
    return err ? err->status : CO_ERR_REMOTE;
}

co_status pg_schema_apply_script(PGconn *conn, const char *script, const pg_apply_opts *opts,
                                 json_t **report_out, co_error *err)
{
    pg_stmt_list list;
    json_t *report = NULL, *skipped = NULL;
    size_t i, executed = 0;
    co_status rc;

    if (report_out)
        *report_out = NULL;
    if (!script)
        return co_error_set(err, CO_ERR_INVALID, "no script");
    if ((rc = pg_script_split(script, strlen(script), &list, err)) != CO_OK)
        return rc;
    report = json_object();
    skipped = json_array();
    if (!report || !skipped) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < list.count; i++) {
        const pg_stmt *st = &list.items[i];
        if (st->meta && !word_is(script + st->offset + 1, st->len - 1, "restrict") &&
            !word_is(script + st->offset + 1, st->len - 1, "unrestrict")) {
            rc = co_error_set(err, CO_ERR_UNPROCESSABLE,
                              "statement %zu (line %d): psql meta-command %.*s is not "
                              "supported", i + 1, st->line,
                              (int)(st->len > 40 ? 40 : st->len), script + st->offset);
            goto done;
        }
    }
    if ((rc = pg_begin(conn, err)) != CO_OK)
        goto done;
    for (i = 0; i < list.count; i++) {
        const pg_stmt *st = &list.items[i];
        const char *s = script + st->offset;
        size_t id;
        char *sql;
        PGresult *res;
        ExecStatusType es;

        if (st->meta || is_transaction_control(s, st->len)) {
            json_t *sk = json_pack("{s:I, s:i, s:s%}", "index", (json_int_t)(i + 1), "line",
                                   st->line, "text", s,
                                   (size_t)(st->len > 200 ? 200 : st->len));
            if (sk)
                json_array_append_new(skipped, sk);
            continue;
        }
        id = (opts && opts->if_not_exists_schemas) ? bare_create_schema(s, st->len) : 0;
        if (id) {
            size_t n = st->len - id;
            sql = malloc(n + 29);
            if (sql) {
                memcpy(sql, "CREATE SCHEMA IF NOT EXISTS ", 28);
                memcpy(sql + 28, s + id, n);
                sql[28 + n] = '\0';
            }
        } else {
            sql = strndup(s, st->len);
        }
        if (!sql) {
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
            pg_rollback(conn);
            goto done;
        }
        res = exec_statement(conn, sql);
        free(sql);
        es = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK && es != PGRES_EMPTY_QUERY) {
            rc = statement_failed(conn, res, script, st, i, report, err);
            PQclear(res);
            pg_rollback(conn);
            goto done;
        }
        PQclear(res);
        executed++;
        if (opts && opts->progress)
            opts->progress(opts->progress_user, "statement", i + 1, list.count);
    }
    rc = pg_commit(conn, err);
done:
    if (report) {
        json_object_set_new(report, "statements", json_integer((json_int_t)list.count));
        json_object_set_new(report, "executed", json_integer((json_int_t)executed));
        json_object_set(report, "skipped", skipped);
    }
    json_decref(skipped);
    pg_stmt_list_free(&list);
    if (report_out && report)
        *report_out = report;
    else
        json_decref(report);
    return rc;
}
