/* table_mappings.c - see table_mappings.h. */
#include "engine/table_mappings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"

static const char *const selection_actions[] = {"include", "exclude", "explicit",
                                                NULL};
static const char *const transformation_actions[] = {
    "rename", "remove-column", "convert-lowercase", "convert-uppercase",
    "add-prefix", "remove-prefix", "replace-prefix", "add-suffix",
    "remove-suffix", "replace-suffix", "define-primary-key", "change-data-type",
    "add-column", "include-column", "exclude-column", "add-before-image-columns",
    "data-masking-digits-mask", "data-masking-digits-randomize",
    "data-masking-hash-mask", NULL};
static const char *const targets[] = {"schema", "table", "column",
                                      "table-tablespace", "index-tablespace", NULL};
static const char *const table_types[] = {"table", "view", "all", NULL};
static const char *const rule_types[] = {"selection", "transformation",
                                         "table-settings", NULL};
/* Actions that need "value", and those that also need "old-value". */
static const char *const need_value[] = {"rename", "add-prefix", "remove-prefix",
                                         "replace-prefix", "add-suffix",
                                         "remove-suffix", "replace-suffix",
                                         "add-column", NULL};
static const char *const need_old_value[] = {"replace-prefix", "replace-suffix",
                                             NULL};
static const char *const renaming[] = {"rename", "add-prefix", "remove-prefix",
                                       "replace-prefix", "add-suffix",
                                       "remove-suffix", "replace-suffix",
                                       "convert-lowercase", "convert-uppercase",
                                       NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; s && *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

static void check_locator(const json_t *rule, const char *type, const char *action,
                          const char *target, const char *rp, co_error *err)
{
    json_t *loc = json_object_get(rule, "object-locator");
    char lp[200];
    snprintf(lp, sizeof lp, "%s/object-locator", rp);
    if (!json_is_object(loc)) {
        co_error_field(err, lp, "is required and must be an object");
        return;
    }
    v_name((json_t *)loc, lp, "schema-name", 1, 256, NULL, err);
    if (strcmp(type, "selection") == 0 || strcmp(type, "table-settings") == 0 ||
        (target && (strcmp(target, "table") == 0 || strcmp(target, "column") == 0)))
        v_name((json_t *)loc, lp, "table-name", 1, 256, NULL, err);
    if (target && strcmp(target, "column") == 0)
        v_string((json_t *)loc, lp, "column-name", 1, 256, NULL, err);
    if (json_object_get(loc, "table-type")) {
        if (strcmp(type, "selection") != 0)
            co_error_field(err, lp, "table-type is only for selection rules");
        else
            v_enum((json_t *)loc, lp, "table-type", table_types, NULL, err);
    }
    if (action && strcmp(action, "explicit") == 0) {
        const char *s = v_str(loc, "schema-name"), *t = v_str(loc, "table-name");
        if ((s && strchr(s, '%')) || (t && strchr(t, '%')))
            co_error_field(err, lp, "explicit selection rules cannot use the %% wildcard");
    }
}

static void check_rule(const json_t *rule, size_t i, const char *base, co_error *err,
                       bool *includes)
{
    char rp[160], ptr[200];
    const char *type, *action, *target = NULL;
    json_t *id;

    snprintf(rp, sizeof rp, "%s/rules/%zu", base, i);
    if (!json_is_object(rule)) {
        co_error_field(err, rp, "each rule must be an object");
        return;
    }
    if (!v_enum((json_t *)rule, rp, "rule-type", rule_types, NULL, err))
        return;
    type = v_str(rule, "rule-type");
    id = json_object_get(rule, "rule-id");
    snprintf(ptr, sizeof ptr, "%s/rule-id", rp);
    if (!id)
        co_error_field(err, ptr, "is required");
    else if (!(json_is_integer(id) && json_integer_value(id) > 0) &&
             !(json_is_string(id) && json_string_length(id) > 0 &&
               strspn(json_string_value(id), "0123456789") == json_string_length(id)))
        co_error_field(err, ptr, "must be a positive number, e.g. \"1\"");
    v_string((json_t *)rule, rp, "rule-name", 1, 256, NULL, err);
    action = v_str(rule, "rule-action");
    snprintf(ptr, sizeof ptr, "%s/rule-action", rp);
    if (strcmp(type, "selection") == 0) {
        if (!in_list(selection_actions, action))
            co_error_field(err, ptr, "a selection rule's rule-action must be "
                                     "include, exclude or explicit");
        else if (strcmp(action, "exclude") != 0)
            *includes = true;
    } else if (strcmp(type, "transformation") == 0) {
        if (!in_list(transformation_actions, action))
            co_error_field(err, ptr, "'%s' is not a DMS transformation rule-action",
                           action ? action : "(missing)");
        if (v_enum((json_t *)rule, rp, "rule-target", targets, NULL, err))
            target = v_str(rule, "rule-target");
        if (in_list(need_value, action))
            v_name((json_t *)rule, rp, "value", 0, 256, NULL, err);
        if (in_list(need_old_value, action))
            v_name((json_t *)rule, rp, "old-value", 0, 256, NULL, err);
    }
    check_locator(rule, type, action, target, rp, err);
}

/* rule-ids "1", "01" and 1 name the same rule. */
static bool same_id(const json_t *a, const json_t *b)
{
    long long x, y;
    char *end;
    if (!a || !b)
        return false;
    if (json_is_integer(a))
        x = json_integer_value(a);
    else if (json_is_string(a) && (x = strtoll(json_string_value(a), &end, 10), !*end))
        ;
    else
        return json_equal(a, b);
    if (json_is_integer(b))
        y = json_integer_value(b);
    else if (json_is_string(b) && (y = strtoll(json_string_value(b), &end, 10), !*end))
        ;
    else
        return false;
    return x == y;
}

co_status co_tm_validate(const json_t *mappings, const char *base, co_error *err)
{
    json_t *rules = json_object_get(mappings, "rules");
    char ptr[160];
    bool includes = false;
    size_t i, j, fields_before = err ? err->nfields : 0;

    snprintf(ptr, sizeof ptr, "%s/rules", base);
    if (!json_is_object(mappings))
        return co_error_field(err, base, "must be an object with a rules array");
    if (!json_is_array(rules) || json_array_size(rules) == 0)
        return co_error_field(err, ptr, "must be a non-empty array of rules");
    for (i = 0; i < json_array_size(rules); i++)
        check_rule(json_array_get(rules, i), i, base, err, &includes);
    for (i = 0; i < json_array_size(rules); i++) {
        json_t *a = json_array_get(rules, i);
        for (j = i + 1; j < json_array_size(rules); j++) {
            json_t *b = json_array_get(rules, j);
            char rp[200];
            if (same_id(json_object_get(a, "rule-id"), json_object_get(b, "rule-id"))) {
                snprintf(rp, sizeof rp, "%s/%zu/rule-id", ptr, j);
                co_error_field(err, rp, "duplicates the rule-id of rule %zu", i);
            }
            if (json_equal(json_object_get(a, "rule-name"),
                           json_object_get(b, "rule-name"))) {
                snprintf(rp, sizeof rp, "%s/%zu/rule-name", ptr, j);
                co_error_field(err, rp, "duplicates the rule-name of rule %zu", i);
            }
        }
    }
    if (!includes && err->nfields == fields_before)
        co_error_field(err, ptr, "needs at least one selection rule with rule-action "
                                 "include or explicit");
    return err->status;
}

bool co_tm_like(const char *pattern, const char *name)
{
    /* iterative wildcard match: linear backtracking to the last '%' */
    const char *star = NULL, *resume = NULL;
    while (*name) {
        if (*pattern == '%') {
            star = ++pattern;
            resume = name;
        } else if (*pattern == *name) {
            pattern++;
            name++;
        } else if (star) {
            pattern = star;
            name = ++resume;
        } else {
            return false;
        }
    }
    while (*pattern == '%')
        pattern++;
    return *pattern == '\0';
}

bool co_tm_selects(const json_t *mappings, const char *schema, const char *table,
                   const char *type)
{
    json_t *rules = json_object_get(mappings, "rules"), *rule;
    size_t i;
    bool included = false;
    json_array_foreach(rules, i, rule) {
        json_t *loc = json_object_get(rule, "object-locator");
        const char *action = v_str(rule, "rule-action");
        const char *tt = v_str(loc, "table-type");
        const char *s = v_str(loc, "schema-name"), *t = v_str(loc, "table-name");
        if (!v_str(rule, "rule-type") || strcmp(v_str(rule, "rule-type"), "selection") != 0)
            continue;
        if (!s || !t || !action || !co_tm_like(s, schema) || !co_tm_like(t, table))
            continue;
        if (!tt)
            tt = "table";
        if (strcmp(tt, "all") != 0 && strcmp(tt, type) != 0)
            continue;
        if (strcmp(action, "exclude") == 0)
            return false;
        included = true;
    }
    return included;
}

bool co_tm_has_renames(const json_t *mappings, const char **rule_name)
{
    json_t *rules = json_object_get(mappings, "rules"), *rule;
    size_t i;
    json_array_foreach(rules, i, rule) {
        const char *type = v_str(rule, "rule-type");
        if (type && strcmp(type, "transformation") == 0 &&
            in_list(renaming, v_str(rule, "rule-action"))) {
            if (rule_name)
                *rule_name = v_str(rule, "rule-name");
            return true;
        }
    }
    return false;
}
