/* test_script.c - unit tests of pg_script_split (statements split by PostgreSQL's parser)
 * and its position helpers. Data-driven: each case is a script and the
 * statements (text, line, meta) it must split into. */
#include <stdio.h>
#include <string.h>

#include "pg/pg_script.h"
#include "tests/unit/tap.h"

typedef struct expect {
    const char *text;
    int line;
    bool meta;
} expect;

typedef struct split_case {
    const char *name;
    const char *script;
    expect stmts[6];
    size_t count;
} split_case;

static const split_case cases[] = {
    {"plain", "SELECT 1; SELECT 2;", {{"SELECT 1", 1, false}, {"SELECT 2", 1, false}}, 2},
    {"comments skipped before, kept inside",
     "-- header; not a statement\n/* block; /* nested; */ still */\nSELECT /* ; */ 1 -- ;\n;\n",
     {{"SELECT /* ; */ 1 -- ;", 3, false}}, 1},
    {"quotes", "SELECT 'a;''b', \"x;\"\"y\" FROM t; SELECT E'\\';';",
     {{"SELECT 'a;''b', \"x;\"\"y\" FROM t", 1, false}, {"SELECT E'\\';'", 1, false}}, 2},
    {"dollar quotes",
     "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $$ nested; $body$ LANGUAGE sql;\n"
     "SELECT $$a;b$$, $1;",
     {{"CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $$ nested; $body$ LANGUAGE sql",
       1, false},
      {"SELECT $$a;b$$, $1", 2, false}}, 2},
    {"identifier with dollar is not a quote", "SELECT a$b; SELECT 2;",
     {{"SELECT a$b", 1, false}, {"SELECT 2", 1, false}}, 2},
    {"begin atomic body",
     "BEGIN;\nCREATE FUNCTION g() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n"
     "  SELECT CASE WHEN true THEN 2 END;\nEND;\nCOMMIT;",
     {{"BEGIN", 1, false},
      {"CREATE FUNCTION g() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n"
       "  SELECT CASE WHEN true THEN 2 END;\nEND", 2, false},
      {"COMMIT", 7, false}}, 3},
    {"parentheses", "CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2); SELECT 3",
     {{"CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2)", 1, false},
      {"SELECT 3", 1, false}}, 2},
    {"meta commands", "\\restrict abc123\nSET x = 1;\n\\unrestrict abc123\n",
     {{"\\restrict abc123", 1, true}, {"SET x = 1", 2, false}, {"\\unrestrict abc123", 3, true}},
     3},
    {"unterminated last statement", "SELECT 1;\n\n  SELECT 2  \n",
     {{"SELECT 1", 1, false}, {"SELECT 2", 3, false}}, 2},
    {"empty statements", ";;  ;\n-- only a comment\n", {{NULL, 0, false}}, 0},
    {"keywords as column names (pg_dump leaves them unquoted)",
     "CREATE TABLE public.t (\n    begin integer,\n    \"end\" text,\n    atomic boolean,\n"
     "    loop numeric\n);\nCREATE PROCEDURE p() LANGUAGE plpgsql AS $$BEGIN NULL; END$$;",
     {{"CREATE TABLE public.t (\n    begin integer,\n    \"end\" text,\n    atomic boolean,\n"
       "    loop numeric\n)", 1, false},
      {"CREATE PROCEDURE p() LANGUAGE plpgsql AS $$BEGIN NULL; END$$", 7, false}}, 2},
    {"case inside a begin atomic body",
     "CREATE FUNCTION h(begin int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n"
     " SELECT CASE WHEN h.begin > 0 THEN 1 ELSE 0 END;\nEND;\nSELECT 1;",
     {{"CREATE FUNCTION h(begin int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n"
       " SELECT CASE WHEN h.begin > 0 THEN 1 ELSE 0 END;\nEND", 1, false},
      {"SELECT 1", 5, false}}, 2},
    {"syntax error: scanner split, the server reports it",
     "CREATE TABLE a (i int);\nCREATE TABLE b (i int,,);\nSELECT 'x;y';",
     {{"CREATE TABLE a (i int)", 1, false}, {"CREATE TABLE b (i int,,)", 2, false},
      {"SELECT 'x;y'", 3, false}}, 3},
    {"multibyte", "SELECT 'ü;é'; SELECT \"Ünï\";",
     {{"SELECT 'ü;é'", 1, false}, {"SELECT \"Ünï\"", 1, false}}, 2},
};

static void run_case(const split_case *c)
{
    pg_stmt_list list;
    co_error err;
    size_t i;
    co_error_clear(&err);
    if (!CHECK(pg_script_split(c->script, strlen(c->script), &list, &err) == CO_OK, "%s: split",
               c->name))
        return;
    CHECK(list.count == c->count, "%s: %zu statements, want %zu", c->name, list.count,
          c->count);
    for (i = 0; i < list.count && i < c->count; i++) {
        const pg_stmt *s = &list.items[i];
        CHECK(s->len == strlen(c->stmts[i].text) &&
                  !memcmp(c->script + s->offset, c->stmts[i].text, s->len),
              "%s: statement %zu is [%.*s]", c->name, i, (int)s->len, c->script + s->offset);
        CHECK(s->line == c->stmts[i].line, "%s: statement %zu line %d, want %d", c->name, i,
              s->line, c->stmts[i].line);
        CHECK(s->meta == c->stmts[i].meta, "%s: statement %zu meta", c->name, i);
    }
    CHECK(list.fallback == (strstr(c->name, "syntax error") != NULL), "%s: fallback", c->name);
    pg_stmt_list_free(&list);
}

static void test_unterminated(void)
{
    pg_stmt_list list;
    co_error err;
    co_error_clear(&err);
    CHECK(pg_script_split("SELECT 1;\nSELECT 'open", 20, &list, &err) == CO_ERR_UNPROCESSABLE,
          "an unterminated quote is refused");
    CHECK(strstr(err.message, "line 2") != NULL, "names line 2: %s", err.message);
}

static void test_positions(void)
{
    const char *t = "ab\nüé x";
    int line, col;
    /* character 5 (1-based) is 'é': bytes a b \n ü(2) é(2) */
    CHECK(pg_script_char_to_byte(t, strlen(t), 5) == 5, "char 5 -> byte 5");
    CHECK(pg_script_char_to_byte(t, strlen(t), 7) == 8, "char 7 -> byte 8");
    CHECK(pg_script_char_to_byte(t, strlen(t), 1000) == strlen(t), "clamped");
    pg_script_line_col(t, 8, &line, &col);
    CHECK(line == 2 && col == 4, "byte 8 is line 2 col 4 (got %d:%d)", line, col);
}

int main(void)
{
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
    test_positions();
    test_unterminated();
    return tap_done();
}
