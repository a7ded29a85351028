/* test_table_mappings.c - engine/table_mappings: validation (data-driven over
 * tests/unit/data/table_mappings, see its README.md), the '%' wildcard,
 * table selection and rename detection. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/table_mappings.h"
#include "tests/unit/tap.h"

#define DATA_DIR "tests/unit/data/table_mappings"
#define MAX_FILES 128
#define MIN_VALID 9
#define MIN_INVALID 45

static json_t *js(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    if (!v)
        printf("# bad fixture: %s\n", jerr.text);
    return v;
}

static void reset(co_error *err)
{
    memset(err, 0, sizeof *err);
    co_error_clear(err);
}

static void show(const char *name, const co_error *err)
{
    printf("# %s: %s: %s\n", name, co_status_str(err->status), err->message);
    for (size_t i = 0; i < err->nfields; i++)
        printf("#   %s: %s\n", err->fields[i].pointer, err->fields[i].reason);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the *.json files of dir, sorted, into names (caller frees each). */
static size_t list_json(const char *dir, char **names, size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)) && n < max) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    return n;
}

/* Moves every top-level member starting with '_' out of doc into a new
 * object (returned; caller decrefs). */
static json_t *strip_meta(json_t *doc)
{
    json_t *meta = json_object(), *val;
    const char *key;
    void *tmp;
    json_object_foreach_safe(doc, tmp, key, val) {
        if (key[0] == '_') {
            json_object_set(meta, key, val);
            json_object_del(doc, key);
        }
    }
    return meta;
}

static bool has_field(const co_error *err, const char *pointer)
{
    for (size_t i = 0; i < err->nfields; i++)
        if (strcmp(err->fields[i].pointer, pointer) == 0)
            return true;
    return false;
}

static void check_selects(const char *name, const json_t *doc, const json_t *selects)
{
    size_t i;
    json_t *row;
    json_array_foreach(selects, i, row) {
        const char *schema = json_string_value(json_array_get(row, 0));
        const char *table = json_string_value(json_array_get(row, 1));
        const char *type = json_string_value(json_array_get(row, 2));
        json_t *want = json_array_get(row, 3);
        if (!CHECK(schema && table && type && json_is_boolean(want),
                   "%s: _selects[%zu] is [schema, table, type, bool]", name, i))
            continue;
        CHECK(co_tm_selects(doc, schema, table, type) == json_is_true(want),
              "%s: %s.%s (%s) is %sselected", name, schema, table, type,
              json_is_true(want) ? "" : "not ");
    }
}

static void check_renames(const char *name, const json_t *doc, const json_t *renames)
{
    const char *rule = NULL;
    bool has;
    if (!renames)
        return;
    has = co_tm_has_renames(doc, &rule);
    if (json_is_false(renames)) {
        CHECK(!has, "%s: no renaming rule (found %s)", name, rule ? rule : "?");
    } else {
        CHECK(has && rule && strcmp(rule, json_string_value(renames)) == 0,
              "%s: first renaming rule is %s (%s)", name, json_string_value(renames),
              rule ? rule : "none");
        CHECK(co_tm_has_renames(doc, NULL), "%s: rule_name may be NULL", name);
    }
}

static void run_valid(const char *name, json_t *doc)
{
    json_t *meta = strip_meta(doc), *before = json_deep_copy(doc);
    co_error err;

    reset(&err);
    CHECK(co_tm_validate(doc, "", &err) == CO_OK && err.nfields == 0,
          "valid/%s validates", name);
    if (err.status != CO_OK)
        show(name, &err);
    reset(&err);
    CHECK(co_tm_validate(doc, "/table_mappings", &err) == CO_OK,
          "valid/%s validates under a base", name);
    CHECK(json_equal(doc, before), "valid/%s: validation leaves the document as it was",
          name);
    check_selects(name, doc, json_object_get(meta, "_selects"));
    check_renames(name, doc, json_object_get(meta, "_renames"));
    json_decref(before);
    json_decref(meta);
}

static void run_invalid(const char *name, json_t *doc)
{
    json_t *meta = strip_meta(doc), *before = json_deep_copy(doc);
    json_t *expect = json_object_get(meta, "_expect"), *p;
    size_t i, missing = 0, unexpected = 0;
    co_error err;

    if (!CHECK(json_is_array(expect) && json_array_size(expect) > 0,
               "invalid/%s has a non-empty _expect array", name))
        goto done;
    reset(&err);
    if (!CHECK(co_tm_validate(doc, "", &err) == CO_ERR_INVALID,
               "invalid/%s is refused with CO_ERR_INVALID (%s; expected %s first)",
               name, co_status_str(err.status), json_string_value(json_array_get(expect, 0))))
        goto done;
    json_array_foreach(expect, i, p) {
        const char *want = json_string_value(p);
        if (!want || !has_field(&err, want)) {
            printf("# invalid/%s: expected a field error at %s\n", name,
                   want ? want : "(not a string)");
            missing++;
        }
    }
    for (i = 0; i < err.nfields; i++) {
        bool listed = false;
        size_t j;
        json_array_foreach(expect, j, p)
            if (json_is_string(p) && strcmp(json_string_value(p), err.fields[i].pointer) == 0)
                listed = true;
        if (!listed) {
            printf("# invalid/%s: unexpected field error at %s: %s\n", name,
                   err.fields[i].pointer, err.fields[i].reason);
            unexpected++;
        }
    }
    CHECK(missing == 0 && unexpected == 0,
          "invalid/%s: field errors exactly at _expect (%zu missing, %zu unexpected)",
          name, missing, unexpected);
    for (i = 0; i < err.nfields; i++)
        if (!err.fields[i].reason[0])
            break;
    CHECK(err.nfields > 0 && i == err.nfields, "invalid/%s: every field has a reason",
          name);

    /* the same pointers, under the base the task handler uses */
    reset(&err);
    (void)co_tm_validate(doc, "/table_mappings", &err);
    for (i = 0; i < err.nfields; i++)
        if (strncmp(err.fields[i].pointer, "/table_mappings/rules", 21) != 0)
            break;
    CHECK(err.nfields > 0 && i == err.nfields,
          "invalid/%s: pointers are prefixed with the base", name);
    CHECK(json_equal(doc, before), "invalid/%s: validation leaves the document as it was",
          name);
done:
    json_decref(before);
    json_decref(meta);
}

static void run_dir(const char *sub, bool valid, size_t min_files)
{
    char dir[256], path[512];
    char *names[MAX_FILES];
    size_t n;

    snprintf(dir, sizeof dir, "%s/%s", DATA_DIR, sub);
    n = list_json(dir, names, MAX_FILES);
    CHECK(n >= min_files, "%s holds at least %zu fixtures (%zu)", dir, min_files, n);
    for (size_t i = 0; i < n; i++) {
        json_error_t jerr;
        json_t *doc;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        doc = json_load_file(path, 0, &jerr);
        if (!doc)
            printf("# %s:%d: %s\n", path, jerr.line, jerr.text);
        if (CHECK(json_is_object(doc), "%s is a JSON object", path)) {
            if (valid)
                run_valid(names[i], doc);
            else
                run_invalid(names[i], doc);
        }
        json_decref(doc);
        free(names[i]);
    }
}

static void test_not_an_object(void)
{
    json_t *arr = js("[{\"rule-type\": \"selection\"}]");
    co_error err;

    reset(&err);
    CHECK(co_tm_validate(arr, "/table_mappings", &err) == CO_ERR_INVALID &&
              err.nfields == 1 && strcmp(err.fields[0].pointer, "/table_mappings") == 0,
          "an array instead of the document is flagged at the base (%s)",
          err.fields[0].pointer);
    reset(&err);
    CHECK(co_tm_validate(NULL, "/table_mappings", &err) == CO_ERR_INVALID &&
              err.nfields == 1 && strcmp(err.fields[0].pointer, "/table_mappings") == 0,
          "a missing document is flagged at the base");
    json_decref(arr);
}

/* Other fields of the same request failing first must not hide the
 * mappings' own problems: one response lists every invalid field. */
static void test_shared_error_record(void)
{
    json_t *only_exclude = js(
        "{\"rules\": [{\"rule-type\": \"selection\", \"rule-id\": \"1\", "
        "\"rule-name\": \"1\", \"object-locator\": {\"schema-name\": \"HR\", "
        "\"table-name\": \"%\"}, \"rule-action\": \"exclude\"}]}");
    json_t *bad_action = js(
        "{\"rules\": [{\"rule-type\": \"selection\", \"rule-id\": \"1\", "
        "\"rule-name\": \"1\", \"object-locator\": {\"schema-name\": \"HR\", "
        "\"table-name\": \"%\"}, \"rule-action\": \"keep\"}]}");
    co_error err;

    reset(&err);
    co_error_field(&err, "/name", "is required");
    CHECK(co_tm_validate(bad_action, "/table_mappings", &err) == CO_ERR_INVALID &&
              has_field(&err, "/name") &&
              has_field(&err, "/table_mappings/rules/0/rule-action"),
          "rule errors are added after another field's error");

    reset(&err);
    co_error_field(&err, "/name", "is required");
    CHECK(co_tm_validate(only_exclude, "/table_mappings", &err) == CO_ERR_INVALID &&
              has_field(&err, "/table_mappings/rules"),
          "'no include rule' is reported even when another field failed before");
    if (!has_field(&err, "/table_mappings/rules"))
        show("only_exclude after /name", &err);
    json_decref(only_exclude);
    json_decref(bad_action);
}

/* A LIKE pattern of a selection rule, a name, and whether it matches. */
struct like_case {
    const char *pattern, *name;
    bool want;
};

static void test_like(void)
{
    static const struct like_case cases[] = {
        {"", "", true},
        {"", "a", false},
        {"a", "", false},
        {"%", "", true},
        {"%", "EMPLOYEES", true},
        {"%%", "", true},
        {"%%", "x", true},
        {"EMPLOYEES", "EMPLOYEES", true},
        {"EMPLOYEES", "EMPLOYEE", false},
        {"EMPLOYEE", "EMPLOYEES", false},
        {"EMPLOYEES", "employees", false},
        {"EMP%", "EMP", true},
        {"EMP%", "EMPLOYEES", true},
        {"EMP%", "XEMP", false},
        {"%S", "EMPLOYEES", true},
        {"%S", "S", true},
        {"%S", "SX", false},
        {"%LOY%", "EMPLOYEES", true},
        {"%LOY%", "LOY", true},
        {"%LOY%", "LO", false},
        {"a%b%c", "abc", true},
        {"a%b%c", "aXXbYYc", true},
        {"a%b%c", "acb", false},
        {"a%b%c", "abcb", false},
        {"a%b%c", "abcbc", true},
        {"%a%a%", "banana", true},
        {"%a%a%a%a%", "banana", false},
        {"a_c", "abc", false},
        {"a_c", "a_c", true},
        {"TMP\\_%", "TMP_X", false},
        {"h\xc3\xa9%", "h\xc3\xa9llo", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(co_tm_like(cases[i].pattern, cases[i].name) == cases[i].want,
              "co_tm_like(\"%s\", \"%s\") is %s", cases[i].pattern, cases[i].name,
              cases[i].want ? "true" : "false");
}

static void test_selects(void)
{
    json_t *m;

    /* an exclude wins whatever the rule order */
    m = js("{\"rules\": ["
           "{\"rule-type\": \"selection\", \"rule-id\": \"1\", \"rule-name\": \"x\","
           " \"object-locator\": {\"schema-name\": \"HR\", \"table-name\": \"SECRET\"},"
           " \"rule-action\": \"exclude\"},"
           "{\"rule-type\": \"selection\", \"rule-id\": \"2\", \"rule-name\": \"i\","
           " \"object-locator\": {\"schema-name\": \"HR\", \"table-name\": \"%\"},"
           " \"rule-action\": \"include\"}]}");
    CHECK(!co_tm_selects(m, "HR", "SECRET", "table"), "exclude before include wins");
    CHECK(co_tm_selects(m, "HR", "PUBLIC", "table"), "other tables stay included");
    json_decref(m);

    m = js("{\"rules\": ["
           "{\"rule-type\": \"selection\", \"rule-id\": \"1\", \"rule-name\": \"i\","
           " \"object-locator\": {\"schema-name\": \"%\", \"table-name\": \"%\","
           " \"table-type\": \"all\"}, \"rule-action\": \"include\"},"
           "{\"rule-type\": \"selection\", \"rule-id\": \"2\", \"rule-name\": \"x\","
           " \"object-locator\": {\"schema-name\": \"HR\", \"table-name\": \"V_%\","
           " \"table-type\": \"view\"}, \"rule-action\": \"exclude\"},"
           "{\"rule-type\": \"selection\", \"rule-id\": \"3\", \"rule-name\": \"y\","
           " \"object-locator\": {\"schema-name\": \"SYS\", \"table-name\": \"%\","
           " \"table-type\": \"all\"}, \"rule-action\": \"exclude\"}]}");
    CHECK(co_tm_selects(m, "HR", "EMPLOYEES", "table"), "table-type all includes tables");
    CHECK(co_tm_selects(m, "HR", "EMP_V", "view"), "table-type all includes views");
    CHECK(!co_tm_selects(m, "HR", "V_EMP", "view"), "exclude after include wins (view)");
    CHECK(co_tm_selects(m, "HR", "V_EMP", "table"),
          "an exclude with table-type view leaves a table of that name");
    CHECK(!co_tm_selects(m, "SYS", "DUAL", "table") && !co_tm_selects(m, "SYS", "V", "view"),
          "an exclude with table-type all excludes tables and views");
    json_decref(m);

    m = js("{\"rules\": ["
           "{\"rule-type\": \"selection\", \"rule-id\": \"1\", \"rule-name\": \"v\","
           " \"object-locator\": {\"schema-name\": \"HR\", \"table-name\": \"%\","
           " \"table-type\": \"view\"}, \"rule-action\": \"include\"}]}");
    CHECK(co_tm_selects(m, "HR", "EMP_V", "view"), "table-type view includes views");
    CHECK(!co_tm_selects(m, "HR", "EMPLOYEES", "table"),
          "table-type view does not include tables");
    json_decref(m);

    m = js("{\"rules\": ["
           "{\"rule-type\": \"selection\", \"rule-id\": \"1\", \"rule-name\": \"t\","
           " \"object-locator\": {\"schema-name\": \"HR\", \"table-name\": \"%\"},"
           " \"rule-action\": \"include\"}]}");
    CHECK(co_tm_selects(m, "HR", "EMPLOYEES", "table"), "no table-type means tables");
    CHECK(!co_tm_selects(m, "HR", "EMP_V", "view"), "no table-type excludes views");
    CHECK(!co_tm_selects(m, "hr", "EMPLOYEES", "table"), "schema names are case-sensitive");
    json_decref(m);

    /* only selection rules select; malformed rules are skipped */
    m = js("{\"rules\": ["
           "{\"rule-type\": \"transformation\", \"rule-id\": \"1\", \"rule-name\": \"t\","
           " \"rule-target\": \"table\", \"rule-action\": \"include\","
           " \"object-locator\": {\"schema-name\": \"%\", \"table-name\": \"%\"}},"
           "{\"rule-type\": \"table-settings\", \"rule-id\": \"2\", \"rule-name\": \"s\","
           " \"object-locator\": {\"schema-name\": \"%\", \"table-name\": \"%\"}},"
           "{\"rule-type\": \"selection\", \"rule-id\": \"3\", \"rule-name\": \"n\","
           " \"rule-action\": \"include\"},"
           "{\"rule-id\": \"4\", \"rule-action\": \"include\","
           " \"object-locator\": {\"schema-name\": \"%\", \"table-name\": \"%\"}},"
           "{\"rule-type\": \"selection\", \"rule-id\": \"5\","
           " \"object-locator\": {\"schema-name\": \"%\", \"table-name\": \"%\"}},"
           "7]}");
    CHECK(!co_tm_selects(m, "HR", "EMPLOYEES", "table"),
          "transformation, table-settings and malformed rules select nothing");
    json_decref(m);

    CHECK(!co_tm_selects(NULL, "HR", "EMPLOYEES", "table"), "NULL mappings select nothing");
    m = js("{\"rules\": {}}");
    CHECK(!co_tm_selects(m, "HR", "EMPLOYEES", "table"), "non-array rules select nothing");
    json_decref(m);
}

static void test_has_renames(void)
{
    json_t *m;
    const char *rule = "untouched";

    m = js("{\"rules\": ["
           "{\"rule-type\": \"transformation\", \"rule-id\": \"1\", \"rule-name\": \"rm\","
           " \"rule-action\": \"remove-column\", \"rule-target\": \"column\"},"
           "{\"rule-type\": \"transformation\", \"rule-id\": \"2\", \"rule-name\": \"dt\","
           " \"rule-action\": \"change-data-type\", \"rule-target\": \"column\"},"
           "{\"rule-type\": \"selection\", \"rule-id\": \"3\", \"rule-name\": \"s\","
           " \"rule-action\": \"rename\"}]}");
    CHECK(!co_tm_has_renames(m, &rule), "remove-column and change-data-type do not rename; "
                                        "selection rules never do");
    json_decref(m);

    {
        static const char *const renaming[] = {
            "rename", "add-prefix", "remove-prefix", "replace-prefix", "add-suffix",
            "remove-suffix", "replace-suffix", "convert-lowercase", "convert-uppercase",
            NULL};
        for (const char *const *a = renaming; *a; a++) {
            char text[256];
            snprintf(text, sizeof text,
                     "{\"rules\": [{\"rule-type\": \"transformation\", \"rule-name\": "
                     "\"r-%s\", \"rule-action\": \"%s\"}]}",
                     *a, *a);
            m = js(text);
            rule = NULL;
            CHECK(co_tm_has_renames(m, &rule) && rule && strncmp(rule, "r-", 2) == 0 &&
                      strcmp(rule + 2, *a) == 0,
                  "%s renames", *a);
            json_decref(m);
        }
    }
    CHECK(!co_tm_has_renames(NULL, NULL), "NULL mappings have no renames");
}

int main(void)
{
    run_dir("valid", true, MIN_VALID);
    run_dir("invalid", false, MIN_INVALID);
    test_not_an_object();
    test_shared_error_record();
    test_like();
    test_selects();
    test_has_renames();
    return tap_done();
}
