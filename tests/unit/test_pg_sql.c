/* test_pg_sql.c - pg/pg_sql: the parts of the SQL template and the report
 * hand-over that need no server connection (text directives, unknown
 * directives, sticky failure, pg_sql_take, pg_report_out). Identifier and
 * literal quoting need a connection and run in the integration tests. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_conn.h"
#include "pg/pg_sql.h"
#include "tests/unit/tap.h"

static void test_text_directives(void)
{
    pg_sql b;
    co_error err;
    char *text;
    pg_sql_init(&b);
    pg_sql_addf(&b, NULL, "SELECT %s FROM t WHERE a LIKE 'x%%'%s", "a, b", ";");
    pg_sql_addf(&b, NULL, " -- %s", "100%s literal");
    co_error_clear(&err);
    CHECK(pg_sql_check(&b, &err) == CO_OK, "text directives leave the buffer usable");
    text = pg_sql_take(&b, &err);
    CHECK(text && strcmp(text, "SELECT a, b FROM t WHERE a LIKE 'x%'; -- 100%s literal") == 0,
          "%%s inserts its argument verbatim and %%%% a percent sign: %s", text ? text : "(null)");
    CHECK(b.data == NULL && b.len == 0, "pg_sql_take leaves the buffer empty");
    free(text);
}

static void test_unknown_directive(void)
{
    static const char *const bad[] = {"SELECT %d", "SELECT 1 %", "%q"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pg_sql b;
        co_error err;
        pg_sql_init(&b);
        pg_sql_addf(&b, NULL, bad[i], "x");
        pg_sql_add(&b, " more");
        co_error_clear(&err);
        CHECK(pg_sql_check(&b, &err) == CO_ERR_INVALID, "template \"%s\" is refused", bad[i]);
        CHECK(strstr(err.message, "directive") != NULL, "the error names the directive: %s",
              err.message);
        CHECK(pg_sql_take(&b, &err) == NULL, "pg_sql_take of a failed buffer returns NULL");
        CHECK(err.status == CO_ERR_INVALID, "pg_sql_take reports the failure");
        CHECK(b.data == NULL, "pg_sql_take frees a failed buffer");
    }
}

static void test_report_out(void)
{
    co_error err;
    json_t *report = json_object(), *out = NULL;
    co_error_clear(&err);
    CHECK(pg_report_out(NULL, &out, &err) == CO_ERR_NOMEM && err.status == CO_ERR_NOMEM,
          "a report that could not be built is CO_ERR_NOMEM");
    CHECK(out == NULL, "no report handed over when there is none");
    CHECK(pg_report_out(report, &out, &err) == CO_OK && out == report,
          "the report goes to *report_out");
    json_incref(report);
    CHECK(pg_report_out(report, NULL, &err) == CO_OK && report->refcount == 1,
          "without report_out the report is released");
    json_decref(report);
}

int main(void)
{
    test_text_directives();
    test_unknown_directive();
    test_report_out();
    return tap_done();
}
