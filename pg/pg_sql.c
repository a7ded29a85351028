/* pg_sql.c - see pg_sql.h. */
#include "pg/pg_sql.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_conn.h"

_Static_assert(offsetof(pg_sql, data) == offsetof(co_buf, data) &&
                   offsetof(pg_sql, len) == offsetof(co_buf, len),
               "pg_sql.data and .len must alias co_buf's");

void pg_sql_init(pg_sql *b)
{
    memset(b, 0, sizeof *b);
    b->buf.cap = PG_SQL_MAX_BYTES;
    b->failed = CO_OK;
}

void pg_sql_free(pg_sql *b)
{
    if (!b)
        return;
    co_buf_free(&b->buf);
    pg_sql_init(b);
}

void pg_sql_reset(pg_sql *b)
{
    b->buf.len = 0;
    if (b->buf.data)
        b->buf.data[0] = '\0';
    b->failed = CO_OK;
    b->why[0] = '\0';
}

void pg_sql_addn(pg_sql *b, const char *text, size_t n)
{
    co_status rc;
    if (b->failed != CO_OK)
        return;
    if ((rc = co_buf_append(&b->buf, text, n)) != CO_OK)
        b->failed = rc;
}

void pg_sql_add(pg_sql *b, const char *text)
{
    pg_sql_addn(b, text, strlen(text));
}

void pg_sql_int(pg_sql *b, int64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    pg_sql_add(b, tmp);
}

static void escape_failed(pg_sql *b, PGconn *conn, const char *what)
{
    if (b->failed != CO_OK)
        return;
    b->failed = CO_ERR_INVALID;
    snprintf(b->why, sizeof b->why, "cannot quote %s: %s", what,
             conn ? PQerrorMessage(conn) : "no connection");
}

void pg_sql_ident(pg_sql *b, PGconn *conn, const char *ident)
{
    char *q;
    if (b->failed != CO_OK)
        return;
    if (!ident || !*ident) {
        b->failed = CO_ERR_INVALID;
        snprintf(b->why, sizeof b->why, "empty identifier");
        return;
    }
    q = PQescapeIdentifier(conn, ident, strlen(ident));
    if (!q) {
        escape_failed(b, conn, "identifier");
        return;
    }
    pg_sql_add(b, q);
    PQfreemem(q);
}

void pg_sql_qname(pg_sql *b, PGconn *conn, const char *schema, const char *name)
{
    if (schema && *schema) {
        pg_sql_ident(b, conn, schema);
        pg_sql_add(b, ".");
    }
    pg_sql_ident(b, conn, name);
}

void pg_sql_qnames(pg_sql *b, PGconn *conn, const json_t *tables)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tables, i, t) {
        if (i)
            pg_sql_add(b, ", ");
        pg_sql_qname(b, conn, json_string_value(json_object_get(t, "schema")),
                     json_string_value(json_object_get(t, "table")));
    }
}

void pg_sql_literal(pg_sql *b, PGconn *conn, const char *value)
{
    char *q;
    if (b->failed != CO_OK)
        return;
    q = PQescapeLiteral(conn, value ? value : "", value ? strlen(value) : 0);
    if (!q) {
        escape_failed(b, conn, "literal");
        return;
    }
    pg_sql_add(b, q);
    PQfreemem(q);
}

void pg_sql_addf(pg_sql *b, PGconn *conn, const char *tmpl, ...)
{
    va_list ap;
    const char *p = tmpl, *pct, *schema;
    va_start(ap, tmpl);
    while ((pct = strchr(p, '%')) != NULL) {
        pg_sql_addn(b, p, (size_t)(pct - p));
        switch (pct[1]) {
        case 's': pg_sql_add(b, va_arg(ap, const char *)); break;
        case 'I': pg_sql_ident(b, conn, va_arg(ap, const char *)); break;
        case 'L': pg_sql_literal(b, conn, va_arg(ap, const char *)); break;
        case '%': pg_sql_add(b, "%"); break;
        case 'Q':
            schema = va_arg(ap, const char *);
            pg_sql_qname(b, conn, schema, va_arg(ap, const char *));
            break;
        default:
            if (b->failed == CO_OK) {
                b->failed = CO_ERR_INVALID;
                snprintf(b->why, sizeof b->why, "unknown SQL template directive");
            }
            va_end(ap);
            return;
        }
        p = pct + 2;
    }
    pg_sql_add(b, p);
    va_end(ap);
}

co_status pg_sql_check(const pg_sql *b, co_error *err)
{
    switch (b->failed) {
    case CO_OK:
        return CO_OK;
    case CO_ERR_NOMEM:
        return co_error_set(err, CO_ERR_NOMEM, "out of memory building SQL");
    case CO_ERR_TOO_LARGE:
        return co_error_set(err, CO_ERR_TOO_LARGE, "SQL text over %zu bytes",
                            PG_SQL_MAX_BYTES);
    default:
        return co_error_set(err, b->failed, "%s", b->why[0] ? b->why : "invalid SQL input");
    }
}

co_status pg_sql_run(PGconn *conn, const char *what, pg_sql *b, co_error *err)
{
    co_status rc = pg_sql_check(b, err);
    if (rc == CO_OK)
        rc = pg_exec_simple(conn, what, b->data, NULL, err);
    pg_sql_reset(b);
    return rc;
}

co_status pg_sql_query(PGconn *conn, const char *what, pg_sql *b, PGresult **out,
                       co_error *err)
{
    co_status rc = pg_sql_check(b, err);
    if (rc == CO_OK)
        rc = pg_exec(conn, what, b->data, 0, NULL, out, err);
    pg_sql_reset(b);
    return rc;
}

char *pg_sql_steal(pg_sql *b)
{
    char *p;
    if (b->failed != CO_OK) {
        pg_sql_free(b);
        return NULL;
    }
    p = b->buf.data ? co_buf_steal(&b->buf) : strdup("");
    pg_sql_init(b);
    return p;
}

char *pg_sql_take(pg_sql *b, co_error *err)
{
    if (pg_sql_check(b, err) != CO_OK) {
        pg_sql_free(b);
        return NULL;
    }
    return pg_sql_steal(b);
}

char *pg_sql_ident_new(PGconn *conn, const char *ident, co_error *err)
{
    pg_sql b;
    pg_sql_init(&b);
    pg_sql_ident(&b, conn, ident);
    return pg_sql_take(&b, err);
}

char *pg_sql_qname_new(PGconn *conn, const char *schema, const char *name,
                       co_error *err)
{
    pg_sql b;
    pg_sql_init(&b);
    pg_sql_qname(&b, conn, schema, name);
    return pg_sql_take(&b, err);
}

co_status pg_sql_exec_on(PGconn *conn, const char *what, const char *sql,
                         const char *schema, const char *name, PGresult **out,
                         co_error *err)
{
    char *qn = pg_sql_qname_new(conn, schema, name, err);
    const char *params[1] = {qn};
    co_status rc;
    if (!qn)
        return err ? err->status : CO_ERR_NOMEM;
    rc = pg_exec(conn, what, sql, 1, params, out, err);
    free(qn);
    return rc;
}

char *pg_sql_display_name(const char *schema, const char *name, char *out,
                          size_t size)
{
    if (schema && *schema)
        snprintf(out, size, "%s.%s", schema, name ? name : "");
    else
        snprintf(out, size, "%s", name ? name : "");
    return out;
}
