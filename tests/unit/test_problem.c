/* test_problem.c - server/problem (RFC 9457 problem details) and the status
 * table of core/status. */
#include <stdio.h>
#include <string.h>

#include "server/problem.h"
#include "core/status.h"
#include "tests/unit/tap.h"

/* The mapping as status.h documents it, written out independently. */
static const struct {
    co_status st;
    const char *name;
    int http;
    const char *title;
} expected[] = {
    {CO_ERR_NOMEM, "out-of-memory", 500, "Internal Server Error"},
    {CO_ERR_INVALID, "invalid", 400, "Bad Request"},
    {CO_ERR_UNPROCESSABLE, "unprocessable", 422, "Unprocessable Content"},
    {CO_ERR_NOT_FOUND, "not-found", 404, "Not Found"},
    {CO_ERR_CONFLICT, "conflict", 409, "Conflict"},
    {CO_ERR_PRECONDITION, "precondition-failed", 412, "Precondition Failed"},
    {CO_ERR_UNAUTHORIZED, "unauthorized", 401, "Unauthorized"},
    {CO_ERR_FORBIDDEN, "forbidden", 403, "Forbidden"},
    {CO_ERR_TOO_LARGE, "too-large", 413, "Content Too Large"},
    {CO_ERR_STORE, "store", 500, "Internal Server Error"},
    {CO_ERR_CRYPTO, "crypto", 500, "Internal Server Error"},
    {CO_ERR_IO, "io", 500, "Internal Server Error"},
    {CO_ERR_REMOTE, "remote", 502, "Bad Gateway"},
    {CO_ERR_TRANSIENT, "transient", 503, "Service Unavailable"},
    {CO_ERR_INTERNAL, "internal", 500, "Internal Server Error"},
    {CO_ERR_MISDIRECTED, "misdirected", 421, "Misdirected Request"},
    {CO_ERR_MEDIA_TYPE, "unsupported-media-type", 415, "Unsupported Media Type"},
    {CO_ERR_RATE_LIMITED, "rate-limited", 429, "Too Many Requests"},
    {CO_ERR_BUSY, "busy", 503, "Service Unavailable"},
};
_Static_assert(sizeof expected / sizeof expected[0] == CO_STATUS_LAST - 1,
               "expected[] must list every error status");

static void reset(co_error *err)
{
    memset(err, 0, sizeof *err);
    co_error_clear(err);
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool lower_kebab(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '-'))
            return false;
    return true;
}

static void test_status_table(void)
{
    CHECK(strcmp(co_status_str(CO_OK), "ok") == 0, "CO_OK is \"ok\"");
    CHECK(co_status_http(CO_OK) == 200, "CO_OK maps to 200");
    for (int st = 0; st < CO_STATUS_LAST; st++) {
        const char *name = co_status_str((co_status)st);
        CHECK(name && strcmp(name, "unknown") != 0, "status %d has a name (%s)", st,
              name ? name : "NULL");
        CHECK(lower_kebab(name), "status %d name '%s' is lower-case kebab", st, name);
        for (int other = st + 1; other < CO_STATUS_LAST; other++)
            CHECK(strcmp(name, co_status_str((co_status)other)) != 0,
                  "statuses %d and %d have different names", st, other);
        CHECK(co_status_http((co_status)st) >= 200 && co_status_http((co_status)st) < 600,
              "status %d maps to an HTTP status", st);
        CHECK(st == CO_OK || co_status_http((co_status)st) >= 400,
              "error status %d maps to 4xx/5xx", st);
    }
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        CHECK(strcmp(co_status_str(expected[i].st), expected[i].name) == 0,
              "co_status_str(%d) = %s (%s)", expected[i].st, expected[i].name,
              co_status_str(expected[i].st));
        CHECK(co_status_http(expected[i].st) == expected[i].http,
              "co_status_http(%s) = %d (%d)", expected[i].name, expected[i].http,
              co_status_http(expected[i].st));
    }
    CHECK(strcmp(co_status_str(CO_STATUS_LAST), "unknown") == 0,
          "CO_STATUS_LAST is \"unknown\"");
    CHECK(strcmp(co_status_str((co_status)-1), "unknown") == 0, "-1 is \"unknown\"");
    CHECK(co_status_http(CO_STATUS_LAST) == 500, "an unknown status maps to 500");
}

static void test_each_status(void)
{
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        co_error err;
        json_t *p;
        char type[96];

        reset(&err);
        co_error_set(&err, expected[i].st, "something %s happened", expected[i].name);
        p = co_problem_new(&err, "/v1/projects/prj_1", NULL);
        if (!CHECK(json_is_object(p), "problem for %s", expected[i].name))
            continue;
        snprintf(type, sizeof type, "urn:cutover:problem:%s", expected[i].name);
        CHECK(jstr(p, "type") && strcmp(jstr(p, "type"), type) == 0, "%s: type %s (%s)",
              expected[i].name, type, jstr(p, "type"));
        CHECK(jstr(p, "title") && strcmp(jstr(p, "title"), expected[i].title) == 0,
              "%s: title %s (%s)", expected[i].name, expected[i].title, jstr(p, "title"));
        CHECK(json_is_integer(json_object_get(p, "status")) &&
                  json_integer_value(json_object_get(p, "status")) == expected[i].http &&
                  expected[i].http == co_status_http(expected[i].st),
              "%s: status %d", expected[i].name, expected[i].http);
        CHECK(jstr(p, "detail") && strstr(jstr(p, "detail"), expected[i].name) &&
                  strncmp(jstr(p, "detail"), "something ", 10) == 0,
              "%s: detail is the message", expected[i].name);
        CHECK(jstr(p, "instance") && strcmp(jstr(p, "instance"), "/v1/projects/prj_1") == 0,
              "%s: instance is the path", expected[i].name);
        CHECK(!json_object_get(p, "errors"), "%s: no errors member without fields",
              expected[i].name);
        CHECK(!json_object_get(p, "sqlstate"), "%s: no sqlstate unless set",
              expected[i].name);
        CHECK(json_object_size(p) == 5, "%s: exactly type, title, status, detail, instance",
              expected[i].name);
        json_decref(p);
    }
}

static void test_fields(void)
{
    co_error err;
    json_t *p, *errors, *e;

    reset(&err);
    co_error_field(&err, "/name", "is required");
    co_error_field(&err, "?limit", "must be from 1 to 200");
    co_error_field(&err, "@If-Match", "must be a quoted version");
    co_error_field(&err, "/table_mappings/rules/0/rule-action", "must be %s", "include");
    co_error_field(&err, "", "must be a JSON object");
    co_error_field(&err, "/a~1b", "unknown field");
    p = co_problem_new(&err, "/v1/projects", NULL);
    if (!CHECK(json_is_object(p), "problem for an invalid request"))
        return;
    CHECK(json_integer_value(json_object_get(p, "status")) == 400, "status 400");
    CHECK(strcmp(jstr(p, "type"), "urn:cutover:problem:invalid") == 0, "type invalid");
    CHECK(strcmp(jstr(p, "title"), "Bad Request") == 0, "title Bad Request");
    CHECK(jstr(p, "detail") && jstr(p, "detail")[0], "a generic detail (%s)",
          jstr(p, "detail"));
    errors = json_object_get(p, "errors");
    if (!CHECK(json_is_array(errors) && json_array_size(errors) == 6,
               "one errors entry per field (%zu)", json_array_size(errors)))
        goto done;

    e = json_array_get(errors, 0);
    CHECK(jstr(e, "pointer") && strcmp(jstr(e, "pointer"), "/name") == 0 &&
              strcmp(jstr(e, "detail"), "is required") == 0 && json_object_size(e) == 2,
          "a body field is {pointer, detail}");
    e = json_array_get(errors, 1);
    CHECK(jstr(e, "parameter") && strcmp(jstr(e, "parameter"), "limit") == 0 &&
              !json_object_get(e, "pointer") && json_object_size(e) == 2 &&
              strcmp(jstr(e, "detail"), "must be from 1 to 200") == 0,
          "a '?' field is {parameter, detail} without the '?'");
    e = json_array_get(errors, 2);
    CHECK(jstr(e, "header") && strcmp(jstr(e, "header"), "If-Match") == 0 &&
              !json_object_get(e, "pointer") && json_object_size(e) == 2,
          "an '@' field is {header, detail} without the '@'");
    e = json_array_get(errors, 3);
    CHECK(jstr(e, "pointer") &&
              strcmp(jstr(e, "pointer"), "/table_mappings/rules/0/rule-action") == 0 &&
              strcmp(jstr(e, "detail"), "must be include") == 0,
          "nested pointers are kept");
    e = json_array_get(errors, 4);
    CHECK(jstr(e, "pointer") && strcmp(jstr(e, "pointer"), "") == 0,
          "the empty pointer (whole body) is a pointer");
    e = json_array_get(errors, 5);
    CHECK(jstr(e, "pointer") && strcmp(jstr(e, "pointer"), "/a~1b") == 0,
          "escaped pointers are passed through");
done:
    json_decref(p);

    /* fields on an unprocessable error */
    reset(&err);
    co_error_set(&err, CO_ERR_UNPROCESSABLE, "the plan cannot run with these endpoints");
    co_error_field(&err, "/source_endpoint_id", "is an Oracle endpoint");
    p = co_problem_new(&err, NULL, NULL);
    CHECK(p && json_integer_value(json_object_get(p, "status")) == 422 &&
              json_array_size(json_object_get(p, "errors")) == 1 &&
              strcmp(jstr(p, "detail"), "the plan cannot run with these endpoints") == 0,
          "an unprocessable problem lists its fields");
    CHECK(p && !json_object_get(p, "instance"), "no instance when the path is NULL");
    json_decref(p);

    /* the field cap carries through */
    reset(&err);
    for (int i = 0; i < CO_ERROR_MAX_FIELDS + 3; i++)
        co_error_field(&err, "/x", "reason %d", i);
    p = co_problem_new(&err, "/", NULL);
    CHECK(p && json_array_size(json_object_get(p, "errors")) == CO_ERROR_MAX_FIELDS,
          "at most CO_ERROR_MAX_FIELDS entries");
    json_decref(p);
}

static void test_sqlstate_extra(void)
{
    co_error err;
    json_t *p, *extra;

    reset(&err);
    co_error_set(&err, CO_ERR_REMOTE, "relation \"x\" does not exist");
    memcpy(err.sqlstate, "42P01", 6);
    p = co_problem_new(&err, "/v1/runs/run_1", NULL);
    CHECK(p && jstr(p, "sqlstate") && strcmp(jstr(p, "sqlstate"), "42P01") == 0,
          "sqlstate is included when set");
    CHECK(p && json_integer_value(json_object_get(p, "status")) == 502 &&
              strcmp(jstr(p, "title"), "Bad Gateway") == 0,
          "a remote error is 502 Bad Gateway");
    json_decref(p);

    reset(&err);
    co_error_set(&err, CO_ERR_CONFLICT, "the run is running");
    extra = json_pack("{s:s, s:i}", "state", "running", "version", 3);
    p = co_problem_new(&err, "/v1/runs/run_1/cancel", extra);
    CHECK(p && jstr(p, "state") && strcmp(jstr(p, "state"), "running") == 0 &&
              json_integer_value(json_object_get(p, "version")) == 3,
          "extra members are merged");
    CHECK(p && json_integer_value(json_object_get(p, "status")) == 409 &&
              strcmp(jstr(p, "type"), "urn:cutover:problem:conflict") == 0,
          "the standard members stay");
    CHECK(json_object_size(extra) == 2 && extra->refcount == 1,
          "extra is borrowed, not stolen or changed");
    json_decref(p);
    json_decref(extra);

    /* an empty message falls back to the title */
    reset(&err);
    err.status = CO_ERR_NOT_FOUND;
    p = co_problem_new(&err, "/x", NULL);
    CHECK(p && jstr(p, "detail") && strcmp(jstr(p, "detail"), "Not Found") == 0,
          "an empty message gives the title as detail");
    json_decref(p);
}

/* Messages and reasons are cut by vsnprintf at a byte count; a cut inside a
 * multi-byte UTF-8 character (e.g. a long non-ASCII URL in "no route for
 * GET <url>") must still give a problem, not NULL (which means "out of
 * memory" by the header's contract). */
static void test_utf8_truncation(void)
{
    char text[600];
    co_error err;
    json_t *p;
    size_t n;

    memset(text, 'a', sizeof err.message - 2);
    n = sizeof err.message - 2;
    memcpy(text + n, "\xc3\xa9\xc3\xa9", 5); /* "éé": the first is cut in half */
    reset(&err);
    co_error_set(&err, CO_ERR_NOT_FOUND, "%s", text);
    CHECK(strlen(err.message) == sizeof err.message - 2 &&
              (unsigned char)err.message[sizeof err.message - 3] == 'a',
          "co_error_set drops the half UTF-8 character vsnprintf left at the end");
    p = co_problem_new(&err, "/x", NULL);
    CHECK(p != NULL, "a message cut inside a UTF-8 character still gives a problem");
    CHECK(p && jstr(p, "detail") != NULL, "... with a detail string");
    json_decref(p);

    memset(text, 'r', sizeof err.fields[0].reason - 2);
    n = sizeof err.fields[0].reason - 2;
    memcpy(text + n, "\xc3\xa9\xc3\xa9", 5);
    reset(&err);
    co_error_field(&err, "/name", "%s", text);
    co_error_field(&err, "/other", "is required");
    p = co_problem_new(&err, "/x", NULL);
    CHECK(p && json_array_size(json_object_get(p, "errors")) == 2,
          "a reason cut inside a UTF-8 character keeps its errors entry (%zu of 2)",
          p ? json_array_size(json_object_get(p, "errors")) : 0);
    json_decref(p);

    reset(&err);
    co_error_set(&err, CO_ERR_NOT_FOUND, "no route for GET %s", "/caf\xc3\xa9");
    p = co_problem_new(&err, "/caf\xc3\xa9", NULL);
    CHECK(p && strstr(jstr(p, "detail"), "caf\xc3\xa9") != NULL,
          "valid UTF-8 in the message is kept");
    CHECK(p && jstr(p, "instance") && strcmp(jstr(p, "instance"), "/caf%C3%A9") == 0,
          "non-ASCII bytes of the path are percent-encoded in instance (%s)",
          p ? jstr(p, "instance") : "-");
    json_decref(p);

    reset(&err);
    co_error_set(&err, CO_ERR_NOT_FOUND, "x");
    p = co_problem_new(&err, "/caf\xc3", NULL);
    CHECK(p && jstr(p, "instance") && strcmp(jstr(p, "instance"), "/caf%C3") == 0,
          "an invalid UTF-8 path still gives an instance (%s)",
          p ? jstr(p, "instance") : "-");
    json_decref(p);
}

/* instance is a URI reference: a decoded request path is re-encoded. */
static void test_instance(void)
{
    static const struct {
        const char *path, *want;
    } cases[] = {
        {"/v1/projects/prj_1", "/v1/projects/prj_1"},
        {"/v1/a b", "/v1/a%20b"},
        {"/v1/100%", "/v1/100%25"},
        {"/v1/x\"y<z>", "/v1/x%22y%3Cz%3E"},
        {"/v1/-._~!$&'()*+,;=:@", "/v1/-._~!$&'()*+,;=:@"},
        {"/v1/a?b#c", "/v1/a%3Fb%23c"},
        {"/v1/tab\tnl\n", "/v1/tab%09nl%0A"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        co_error err;
        json_t *p;
        reset(&err);
        co_error_set(&err, CO_ERR_NOT_FOUND, "x");
        p = co_problem_new(&err, cases[i].path, NULL);
        CHECK(p && jstr(p, "instance") && strcmp(jstr(p, "instance"), cases[i].want) == 0,
              "instance for %s is %s (%s)", cases[i].path, cases[i].want,
              p && jstr(p, "instance") ? jstr(p, "instance") : "-");
        json_decref(p);
    }
}

/* co_utf8_trim, which core/log.c applies to every cut log line. */
static void test_utf8_trim(void)
{
    char two[] = "ab\xc3", three[] = "a\xe2\x9c", four[] = "\xf0\x9f\x98",
         whole[] = "caf\xc3\xa9", ascii[] = "plain";
    co_utf8_trim(two);
    co_utf8_trim(three);
    co_utf8_trim(four);
    co_utf8_trim(whole);
    co_utf8_trim(ascii);
    CHECK(strcmp(two, "ab") == 0, "a cut 2-byte sequence is dropped");
    CHECK(strcmp(three, "a") == 0, "a cut 3-byte sequence is dropped");
    CHECK(strcmp(four, "") == 0, "a cut 4-byte sequence is dropped");
    CHECK(strcmp(whole, "caf\xc3\xa9") == 0, "a whole sequence is kept");
    CHECK(strcmp(ascii, "plain") == 0, "ASCII is kept");
}

int main(void)
{
    CHECK(strcmp(CO_PROBLEM_CONTENT_TYPE, "application/problem+json") == 0,
          "content type is application/problem+json");
    test_status_table();
    test_each_status();
    test_fields();
    test_sqlstate_extra();
    test_utf8_truncation();
    test_instance();
    test_utf8_trim();
    return tap_done();
}
