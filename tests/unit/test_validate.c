/* test_validate.c - core/validate and the co_error record (core/status). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "tests/unit/tap.h"

/* Parses a JSON text that the test itself wrote; NULL on a typo. */
static json_t *js(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!v)
        printf("# bad fixture %s: %s\n", text, jerr.text);
    return v;
}

/* True if err has exactly one field error, at pointer, whose reason
 * contains reason_part. */
static bool one_field(const co_error *err, const char *pointer, const char *reason_part)
{
    return err->status == CO_ERR_INVALID && err->nfields == 1 &&
           strcmp(err->fields[0].pointer, pointer) == 0 &&
           strstr(err->fields[0].reason, reason_part) != NULL;
}

/* Index of the field error at pointer, or -1. */
static int field_at(const co_error *err, const char *pointer)
{
    for (size_t i = 0; i < err->nfields; i++)
        if (strcmp(err->fields[i].pointer, pointer) == 0)
            return (int)i;
    return -1;
}

/* Empties err completely (co_error_clear leaves fields[] as they were), so
 * that failure messages never print stale or uninitialised reasons. */
static void reset(co_error *err)
{
    memset(err, 0, sizeof *err);
    co_error_clear(err);
}

static void show(const co_error *err)
{
    for (size_t i = 0; i < err->nfields; i++)
        printf("#   %s: %s\n", err->fields[i].pointer, err->fields[i].reason);
}

static void test_pointer(void)
{
    char out[160], small[8];
    static const struct {
        const char *base, *key, *want;
    } cases[] = {
        {"", "name", "/name"},
        {"/settings", "max_lob_kb", "/settings/max_lob_kb"},
        {"", "a~b", "/a~0b"},
        {"", "a/b", "/a~1b"},
        {"", "~/", "/~0~1"},
        {"", "/~", "/~1~0"},
        {"/x", "~01", "/x/~001"},
        {"", "", "/"},
        {"/rules/0", "rule-id", "/rules/0/rule-id"},
        {"", "h\xc3\xa9", "/h\xc3\xa9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        v_pointer(out, sizeof out, cases[i].base, cases[i].key);
        CHECK(strcmp(out, cases[i].want) == 0, "v_pointer(\"%s\", \"%s\") = \"%s\" (%s)",
              cases[i].base, cases[i].key, cases[i].want, out);
    }
    v_pointer(small, sizeof small, "/abc", "defghij");
    CHECK(strlen(small) < sizeof small && strncmp(small, "/abc/", 5) == 0,
          "v_pointer truncates to the buffer (%s)", small);
    v_pointer(small, sizeof small, "", "~~~~~~");
    CHECK(strlen(small) < sizeof small && strcmp(small, "/~0~0") == 0,
          "v_pointer never splits an escape (%s)", small);
    v_pointer(small, sizeof small, "/a-very-long-base", "k");
    CHECK(strlen(small) == sizeof small - 1, "a base longer than the buffer is cut (%s)",
          small);
}

static void test_only_known(void)
{
    static const char *const allowed[] = {"name", "description", NULL};
    json_t *o = js("{\"name\": \"x\", \"description\": \"y\"}");
    co_error err;

    reset(&err);
    CHECK(v_only_known(o, "", allowed, &err), "known fields are accepted");
    CHECK(err.status == CO_OK && err.nfields == 0, "no error for known fields");
    json_decref(o);

    o = js("{\"name\": \"x\", \"colour\": 1, \"a/b\": 2, \"t~x\": 3}");
    reset(&err);
    CHECK(!v_only_known(o, "/settings", allowed, &err), "unknown fields are refused");
    CHECK(err.status == CO_ERR_INVALID && err.nfields == 3,
          "one field error per unknown field (%zu)", err.nfields);
    CHECK(field_at(&err, "/settings/colour") >= 0, "pointer /settings/colour");
    CHECK(field_at(&err, "/settings/a~1b") >= 0, "pointer /settings/a~1b is escaped");
    CHECK(field_at(&err, "/settings/t~0x") >= 0, "pointer /settings/t~0x is escaped");
    CHECK(field_at(&err, "/settings/name") < 0, "the known field is not flagged");
    CHECK(err.nfields && strcmp(err.fields[0].reason, "unknown field") == 0,
          "reason is 'unknown field' (%s)", err.fields[0].reason);
    json_decref(o);

    o = js("{}");
    reset(&err);
    CHECK(v_only_known(o, "", allowed, &err) && err.status == CO_OK,
          "an empty object has no unknown fields");
    json_decref(o);
}

static void test_string(void)
{
    json_t *o;
    co_error err;

    o = js("{}");
    reset(&err);
    CHECK(!v_string(o, "", "name", 1, 10, NULL, &err), "missing required string");
    CHECK(one_field(&err, "/name", "is required"), "reported as /name is required");
    reset(&err);
    CHECK(v_string(o, "", "engine", 1, 10, "dms", &err), "missing optional string");
    CHECK(err.status == CO_OK, "no error for an optional string");
    CHECK(v_str(o, "engine") && strcmp(v_str(o, "engine"), "dms") == 0,
          "the default is stored");
    json_decref(o);

    o = js("{\"name\": null}");
    reset(&err);
    CHECK(!v_string(o, "", "name", 1, 10, NULL, &err) &&
              one_field(&err, "/name", "is required"),
          "null counts as missing for a required string");
    reset(&err);
    CHECK(v_string(o, "", "name", 1, 10, "d", &err) && strcmp(v_str(o, "name"), "d") == 0,
          "null is replaced by the default");
    json_decref(o);

    {
        static const struct {
            const char *doc, *reason;
        } wrong[] = {
            {"{\"name\": 5}", "must be a string, not an integer"},
            {"{\"name\": 5.5}", "must be a string, not a number"},
            {"{\"name\": true}", "must be a string, not a boolean"},
            {"{\"name\": false}", "must be a string, not a boolean"},
            {"{\"name\": []}", "must be a string, not an array"},
            {"{\"name\": {}}", "must be a string, not an object"},
        };
        for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
            o = js(wrong[i].doc);
            reset(&err);
            CHECK(!v_string(o, "/p", "name", 0, 10, "default", &err) &&
                      one_field(&err, "/p/name", wrong[i].reason),
                  "%s: '%s' (%s)", wrong[i].doc, wrong[i].reason, err.fields[0].reason);
            json_decref(o);
        }
    }

    o = js("{\"a\": \"\", \"b\": \"abc\", \"c\": \"abcd\", \"d\": \"ab\", "
           "\"e\": \"\xc3\xa9\xc3\xa9\"}");
    reset(&err);
    CHECK(!v_string(o, "", "a", 1, 3, NULL, &err) &&
              one_field(&err, "/a", "must be 1 to 3 characters long"),
          "too short: %s", err.fields[0].reason);
    reset(&err);
    CHECK(v_string(o, "", "b", 1, 3, NULL, &err) && err.status == CO_OK,
          "length at the upper bound is accepted");
    reset(&err);
    CHECK(!v_string(o, "", "c", 1, 3, NULL, &err) && one_field(&err, "/c", "1 to 3"),
          "too long");
    reset(&err);
    CHECK(v_string(o, "", "d", 2, 2, NULL, &err), "exact length accepted");
    reset(&err);
    CHECK(v_string(o, "", "a", 0, 3, NULL, &err), "empty string accepted with minlen 0");
    reset(&err);
    CHECK(v_string(o, "", "e", 1, 2, NULL, &err), "length counts characters: 'éé' is 2");
    reset(&err);
    CHECK(!v_string(o, "", "e", 4, 4, NULL, &err), "'éé' is 2 characters, not its 4 bytes");
    json_decref(o);

    o = json_object();
    json_object_set_new(o, "nul", json_stringn("a\0b", 3));
    reset(&err);
    CHECK(!v_string(o, "", "nul", 0, 10, NULL, &err) &&
              one_field(&err, "/nul", "NUL"),
          "an embedded NUL (\\u0000) is refused");
    json_decref(o);
}

static void test_enum(void)
{
    static const char *const engines[] = {"dms", "logical", "fake", NULL};
    json_t *o;
    co_error err;

    o = js("{\"engine\": \"logical\"}");
    reset(&err);
    CHECK(v_enum(o, "", "engine", engines, NULL, &err) && err.status == CO_OK,
          "a listed value is accepted");
    json_decref(o);

    o = js("{}");
    reset(&err);
    CHECK(!v_enum(o, "", "engine", engines, NULL, &err) &&
              one_field(&err, "/engine", "is required"),
          "missing required enum");
    reset(&err);
    CHECK(v_enum(o, "", "engine", engines, "dms", &err) &&
              strcmp(v_str(o, "engine"), "dms") == 0,
          "the enum default is stored");
    json_decref(o);

    o = js("{\"engine\": \"DMS\", \"n\": 3, \"z\": null}");
    reset(&err);
    CHECK(!v_enum(o, "/x", "engine", engines, "dms", &err) &&
              one_field(&err, "/x/engine", "must be one of: dms, logical, fake"),
          "a value not listed (case matters) names the list: %s", err.fields[0].reason);
    reset(&err);
    CHECK(!v_enum(o, "", "n", engines, NULL, &err) &&
              one_field(&err, "/n", "must be one of: dms, logical, fake"),
          "a non-string is refused with the list");
    reset(&err);
    CHECK(v_enum(o, "", "z", engines, "fake", &err) && strcmp(v_str(o, "z"), "fake") == 0,
          "null takes the enum default");
    json_decref(o);

    {
        /* a long list is cut without overflowing the reason */
        static const char *const many[] = {
            "aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccc",
            "dddddddddddddddddddd", "eeeeeeeeeeeeeeeeeeee", "ffffffffffffffffffff",
            "gggggggggggggggggggg", "hhhhhhhhhhhhhhhhhhhh", "iiiiiiiiiiiiiiiiiiii",
            "jjjjjjjjjjjjjjjjjjjj", "kkkkkkkkkkkkkkkkkkkk", NULL};
        o = js("{\"v\": \"zzz\"}");
        reset(&err);
        CHECK(!v_enum(o, "", "v", many, NULL, &err) && err.nfields == 1 &&
                  strlen(err.fields[0].reason) < sizeof err.fields[0].reason &&
                  strstr(err.fields[0].reason, "must be one of: aaaa") != NULL,
              "a long enum list is truncated safely");
        json_decref(o);
    }
}

static void test_int(void)
{
    json_t *o;
    co_error err;

    o = js("{\"lo\": 1, \"hi\": 100, \"under\": 0, \"over\": 101, \"neg\": -5, "
           "\"real\": 5.0, \"str\": \"5\", \"bool\": true, \"nul\": null, "
           "\"big\": 9223372036854775807}");
    reset(&err);
    CHECK(v_int(o, "", "lo", 1, 100, false, 0, &err) && err.status == CO_OK,
          "the lower bound is accepted");
    CHECK(v_int(o, "", "hi", 1, 100, false, 0, &err) && err.status == CO_OK,
          "the upper bound is accepted");
    reset(&err);
    CHECK(!v_int(o, "", "under", 1, 100, false, 0, &err) &&
              one_field(&err, "/under", "must be from 1 to 100"),
          "below the range: %s", err.fields[0].reason);
    reset(&err);
    CHECK(!v_int(o, "", "over", 1, 100, false, 0, &err) &&
              one_field(&err, "/over", "must be from 1 to 100"),
          "above the range");
    reset(&err);
    CHECK(!v_int(o, "", "neg", 0, 10, true, 3, &err) &&
              one_field(&err, "/neg", "must be from 0 to 10"),
          "negative below a zero lower bound");
    reset(&err);
    CHECK(v_int(o, "", "neg", -10, 0, false, 0, &err), "negative ranges work");
    reset(&err);
    CHECK(!v_int(o, "", "real", 0, 10, true, 3, &err) &&
              one_field(&err, "/real", "must be an integer, not a number"),
          "5.0 is not an integer");
    reset(&err);
    CHECK(!v_int(o, "", "str", 0, 10, true, 3, &err) &&
              one_field(&err, "/str", "must be an integer, not a string"),
          "\"5\" is not an integer");
    reset(&err);
    CHECK(!v_int(o, "", "bool", 0, 10, true, 3, &err) &&
              one_field(&err, "/bool", "not a boolean"),
          "true is not an integer");
    reset(&err);
    CHECK(v_int(o, "", "big", 0, INT64_MAX, false, 0, &err), "INT64_MAX in range");
    reset(&err);
    CHECK(!v_int(o, "", "big", 0, INT64_MAX - 1, false, 0, &err), "INT64_MAX over range");
    reset(&err);
    CHECK(!v_int(o, "", "missing", 0, 10, false, 0, &err) &&
              one_field(&err, "/missing", "is required"),
          "missing required integer");
    reset(&err);
    CHECK(v_int(o, "", "missing", 0, 10, true, 7, &err) &&
              json_integer_value(json_object_get(o, "missing")) == 7,
          "the integer default is stored");
    reset(&err);
    CHECK(v_int(o, "", "nul", 0, 10, true, 9, &err) &&
              json_integer_value(json_object_get(o, "nul")) == 9,
          "null takes the integer default");
    json_decref(o);
}

static void test_bool(void)
{
    json_t *o = js("{\"t\": true, \"f\": false, \"s\": \"true\", \"i\": 1, \"n\": null}");
    co_error err;

    reset(&err);
    CHECK(v_bool(o, "", "t", false, &err) && v_bool(o, "", "f", true, &err) &&
              err.status == CO_OK,
          "true and false are accepted");
    CHECK(json_is_true(json_object_get(o, "t")) && json_is_false(json_object_get(o, "f")),
          "present booleans are not overwritten by the default");
    CHECK(!v_bool(o, "/o", "s", false, &err) &&
              one_field(&err, "/o/s", "must be a boolean, not a string"),
          "\"true\" is not a boolean");
    reset(&err);
    CHECK(!v_bool(o, "", "i", false, &err) && one_field(&err, "/i", "not an integer"),
          "1 is not a boolean");
    reset(&err);
    CHECK(v_bool(o, "", "absent", true, &err) && json_is_true(json_object_get(o, "absent")),
          "the boolean default true is stored");
    CHECK(v_bool(o, "", "absent2", false, &err) &&
              json_is_false(json_object_get(o, "absent2")),
          "the boolean default false is stored");
    CHECK(v_bool(o, "", "n", true, &err) && json_is_true(json_object_get(o, "n")),
          "null takes the boolean default");
    CHECK(err.status == CO_OK, "defaults record no error");
    json_decref(o);
}

static void test_object(void)
{
    json_t *o = js("{\"settings\": {\"a\": 1}, \"arr\": [], \"s\": \"x\", \"n\": null}");
    co_error err;

    reset(&err);
    CHECK(v_object(o, "", "settings", true, &err) && err.status == CO_OK,
          "an object member is accepted");
    CHECK(json_integer_value(json_object_get(json_object_get(o, "settings"), "a")) == 1,
          "the object is kept as is");
    CHECK(!v_object(o, "", "arr", false, &err) &&
              one_field(&err, "/arr", "must be an object, not an array"),
          "an array is not an object");
    reset(&err);
    CHECK(!v_object(o, "/p", "s", false, &err) &&
              one_field(&err, "/p/s", "must be an object, not a string"),
          "a string is not an object");
    reset(&err);
    CHECK(!v_object(o, "", "absent", true, &err) &&
              one_field(&err, "/absent", "is required"),
          "missing required object");
    reset(&err);
    CHECK(v_object(o, "", "absent", false, &err) &&
              json_is_object(json_object_get(o, "absent")) &&
              json_object_size(json_object_get(o, "absent")) == 0,
          "an optional object defaults to {}");
    CHECK(v_object(o, "", "n", false, &err) && json_is_object(json_object_get(o, "n")),
          "null takes the {} default");
    CHECK(err.status == CO_OK, "no error after the defaults");
    json_decref(o);
}

static void test_read_only(void)
{
    static const char *const ro[] = {"id", "status", "created_at", NULL};
    json_t *o = js("{\"name\": \"x\"}");
    co_error err;

    reset(&err);
    CHECK(v_read_only(o, "", ro, &err) && err.status == CO_OK,
          "no read-only field present");
    json_decref(o);

    o = js("{\"id\": \"prj_x\", \"status\": \"ready\", \"name\": \"x\"}");
    reset(&err);
    CHECK(!v_read_only(o, "", ro, &err), "read-only fields are refused");
    CHECK(err.status == CO_ERR_INVALID && err.nfields == 2, "two fields flagged (%zu)",
          err.nfields);
    CHECK(field_at(&err, "/id") >= 0 && field_at(&err, "/status") >= 0,
          "pointers /id and /status");
    CHECK(err.nfields && strstr(err.fields[0].reason, "read-only") != NULL,
          "reason says read-only (%s)", err.fields[0].reason);
    json_decref(o);

    o = js("{\"status\": null}");
    reset(&err);
    CHECK(!v_read_only(o, "/x", ro, &err) && one_field(&err, "/x/status", "read-only"),
          "even a null read-only field is refused");
    json_decref(o);
}

/* v_depth_ok names the first container nested too deep by its pointer,
 * through objects and arrays; scalars do not count as a level. */
static void test_depth(void)
{
    static const struct {
        const char *doc;
        int max;
        const char *where; /* NULL: within the limit */
    } rows[] = {
        {"{\"a\": 1, \"b\": [1, 2]}", 2, NULL},
        {"{\"a\": {\"b\": {}}}", 2, "/a/b"},
        {"{\"a\": [1, {\"c\": \"x\"}]}", 2, "/a/1"},
        {"{\"a\": [1, {\"c\": \"x\"}]}", 3, NULL},
        {"{\"x\": 1, \"a/b\": [[]]}", 2, "/a~1b/0"},
        {"[{}, [[]]]", 2, "/1/0"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *o = js(rows[i].doc);
        co_error err;
        bool ok;
        reset(&err);
        ok = v_depth_ok(o, rows[i].max, &err);
        if (!rows[i].where)
            CHECK(ok && err.status == CO_OK, "%s within %d levels", rows[i].doc, rows[i].max);
        else
            CHECK(!ok && one_field(&err, rows[i].where, "nested deeper than"),
                  "%s deeper than %d levels at %s", rows[i].doc, rows[i].max, rows[i].where);
        json_decref(o);
    }
}

/* Applies patch to doc and compares with want (all JSON texts). */
static void merge_case(const char *doc, const char *patch, const char *want)
{
    json_t *d = js(doc), *p = js(patch), *w = js(want);
    char *got;
    if (!d || !p || !w) {
        CHECK(false, "merge fixture parses: %s + %s", doc, patch);
    } else {
        v_merge_patch(d, p);
        got = json_dumps(d, JSON_SORT_KEYS | JSON_COMPACT);
        CHECK(json_equal(d, w), "merge %s + %s = %s (got %s)", doc, patch, want,
              got ? got : "?");
        free(got);
    }
    json_decref(d);
    json_decref(p);
    json_decref(w);
}

static void test_merge_patch(void)
{
    /* RFC 7396 Appendix A, the cases whose original and patch are objects
     * (the others replace the whole document, which an in-place patch of
     * an object cannot express). */
    merge_case("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    merge_case("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
    merge_case("{\"a\":\"b\"}", "{\"a\":null}", "{}");
    merge_case("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
    merge_case("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    merge_case("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
    merge_case("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
               "{\"a\":{\"b\":\"d\"}}");
    merge_case("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
    merge_case("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
    merge_case("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
    /* RFC 7396 section 3 */
    merge_case("{\"title\":\"Goodbye!\",\"author\":{\"givenName\":\"John\","
               "\"familyName\":\"Doe\"},\"tags\":[\"example\",\"sample\"],"
               "\"content\":\"This will be unchanged\"}",
               "{\"title\":\"Hello!\",\"phoneNumber\":\"+01-123-456-7890\","
               "\"author\":{\"familyName\":null},\"tags\":[\"example\"]}",
               "{\"title\":\"Hello!\",\"author\":{\"givenName\":\"John\"},"
               "\"tags\":[\"example\"],\"content\":\"This will be unchanged\","
               "\"phoneNumber\":\"+01-123-456-7890\"}");
    /* more of the same rule: a patch object replacing a non-object value
     * is itself merged into {}, so its nulls disappear */
    merge_case("{\"a\":\"b\"}", "{\"a\":{\"c\":null,\"d\":1}}", "{\"a\":{\"d\":1}}");
    merge_case("{\"a\":1}", "{}", "{\"a\":1}");
    merge_case("{\"a\":1}", "{\"missing\":null}", "{\"a\":1}");
    merge_case("{\"a\":{\"b\":{\"c\":1,\"d\":2}}}", "{\"a\":{\"b\":{\"c\":null}}}",
               "{\"a\":{\"b\":{\"d\":2}}}");
}

static void test_error_record(void)
{
    co_error err;

    memset(&err, 0x7f, sizeof err);
    co_error_clear(&err);
    CHECK(err.status == CO_OK && err.nfields == 0 && err.message[0] == '\0' &&
              err.sqlstate[0] == '\0',
          "co_error_clear empties the record");
    CHECK(co_error_set(&err, CO_ERR_CONFLICT, "first %d", 1) == CO_ERR_CONFLICT,
          "co_error_set returns the status it records");
    CHECK(co_error_set(&err, CO_ERR_STORE, "second") != CO_OK,
          "a second co_error_set still reports failure");
    CHECK(err.status == CO_ERR_CONFLICT && strcmp(err.message, "first 1") == 0,
          "first error wins (%s: %s)", co_status_str(err.status), err.message);
    CHECK(co_error_field(&err, "/a", "bad") == CO_ERR_CONFLICT,
          "co_error_field returns the status already recorded");
    CHECK(err.status == CO_ERR_CONFLICT && strcmp(err.message, "first 1") == 0,
          "a field does not change an earlier error's status or message");
    CHECK(err.nfields == 1 && strcmp(err.fields[0].pointer, "/a") == 0,
          "the field is still listed (e.g. @If-Match on a 412)");
    CHECK(co_error_set(NULL, CO_ERR_IO, "x") == CO_ERR_IO, "a NULL record returns st");
    CHECK(co_error_field(NULL, "/a", "x") == CO_ERR_INVALID,
          "a NULL record returns CO_ERR_INVALID for a field");
    co_error_clear(NULL);

    co_error_clear(&err);
    CHECK(co_error_field(&err, "/name", "is %s", "required") == CO_ERR_INVALID,
          "co_error_field on a clear record returns CO_ERR_INVALID");
    CHECK(err.status == CO_ERR_INVALID && err.message[0] != '\0',
          "it sets a generic message (%s)", err.message);
    CHECK(err.nfields == 1 && strcmp(err.fields[0].reason, "is required") == 0,
          "formats the reason");
    co_error_set(&err, CO_ERR_STORE, "later");
    CHECK(err.status == CO_ERR_INVALID, "a later co_error_set does not override fields");

    co_error_clear(&err);
    co_error_set(&err, CO_ERR_UNPROCESSABLE, "the mappings are not acceptable");
    CHECK(co_error_field(&err, "/x", "y") == CO_ERR_UNPROCESSABLE && err.nfields == 1,
          "fields may be added to an unprocessable error");
    CHECK(strcmp(err.message, "the mappings are not acceptable") == 0,
          "the unprocessable message is kept");

    co_error_clear(&err);
    for (int i = 0; i < CO_ERROR_MAX_FIELDS + 5; i++) {
        char ptr[32];
        snprintf(ptr, sizeof ptr, "/f%d", i);
        co_error_field(&err, ptr, "reason %d", i);
    }
    CHECK(err.nfields == CO_ERROR_MAX_FIELDS, "the field list is capped at %d (%zu)",
          CO_ERROR_MAX_FIELDS, err.nfields);
    CHECK(strcmp(err.fields[0].pointer, "/f0") == 0 &&
              strcmp(err.fields[CO_ERROR_MAX_FIELDS - 1].pointer, "/f15") == 0,
          "the first fields are kept in order");
    CHECK(strcmp(err.fields[CO_ERROR_MAX_FIELDS - 1].reason, "reason 15") == 0,
          "the last kept reason is reason 15");

    {
        /* over-long pointers and reasons are cut, NUL-terminated */
        char longp[400], longr[600];
        memset(longp, 'p', sizeof longp - 1);
        longp[sizeof longp - 1] = '\0';
        memset(longr, 'r', sizeof longr - 1);
        longr[sizeof longr - 1] = '\0';
        co_error_clear(&err);
        co_error_field(&err, longp, "%s", longr);
        CHECK(strlen(err.fields[0].pointer) == sizeof err.fields[0].pointer - 1 &&
                  strlen(err.fields[0].reason) == sizeof err.fields[0].reason - 1,
              "long pointer and reason are truncated");
    }
}

/* All checks run and every problem is listed, in order. */
static void test_all_checks_run(void)
{
    static const char *const allowed[] = {"name", "engine", "port", "ssl", NULL};
    static const char *const engines[] = {"dms", "logical", NULL};
    json_t *o = js("{\"engine\": \"x\", \"port\": 0, \"ssl\": \"yes\", \"extra\": 1}");
    co_error err;

    reset(&err);
    v_only_known(o, "", allowed, &err);
    v_string(o, "", "name", 1, 64, NULL, &err);
    v_enum(o, "", "engine", engines, NULL, &err);
    v_int(o, "", "port", 1, 65535, true, 5432, &err);
    v_bool(o, "", "ssl", true, &err);
    CHECK(err.status == CO_ERR_INVALID && err.nfields == 5,
          "five problems listed (%zu)", err.nfields);
    if (err.nfields != 5)
        show(&err);
    CHECK(field_at(&err, "/extra") == 0 && field_at(&err, "/name") == 1 &&
              field_at(&err, "/engine") == 2 && field_at(&err, "/port") == 3 &&
              field_at(&err, "/ssl") == 4,
          "in the order the checks ran");
    json_decref(o);

    o = js("{}");
    reset(&err);
    co_error_set(&err, CO_ERR_STORE, "database is locked");
    CHECK(!v_string(o, "", "name", 1, 64, NULL, &err),
          "v_string still reports a missing field after another error");
    CHECK(err.status == CO_ERR_STORE && strcmp(err.message, "database is locked") == 0,
          "but the earlier store error is kept");
    json_decref(o);
}

static void test_v_str(void)
{
    json_t *o = js("{\"s\": \"v\", \"i\": 1}");
    CHECK(v_str(o, "s") && strcmp(v_str(o, "s"), "v") == 0, "v_str of a string");
    CHECK(v_str(o, "i") == NULL, "v_str of a non-string is NULL");
    CHECK(v_str(o, "absent") == NULL, "v_str of an absent key is NULL");
    CHECK(v_str(NULL, "s") == NULL, "v_str of NULL is NULL");
    json_decref(o);
}

int main(void)
{
    test_pointer();
    test_only_known();
    test_string();
    test_enum();
    test_int();
    test_bool();
    test_object();
    test_read_only();
    test_depth();
    test_merge_patch();
    test_error_record();
    test_all_checks_run();
    test_v_str();
    return tap_done();
}
