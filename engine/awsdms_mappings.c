/* awsdms_mappings.c - what the aws-dms engine sends as a task's
 * ReplicationTaskSettings and TableMappings: the plan's settings merged
 * into the user's, default mappings, and the inverse mappings of the
 * rollback task. Pure JSON work; see awsdms.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/awsdms.h"
#include "engine/table_mappings.h"

static bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* ---- settings and mappings ---------------------------------------------- */

static json_t *child_object(json_t *parent, const char *key)
{
    json_t *o = json_object_get(parent, key);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(parent, key, o);
    }
    return o;
}

json_t *co_awsdms_task_settings_new(const json_t *base, const char *role,
                                    const char *migration_type)
{
    static const char *const moved[] = {"StopTaskCachedChangesApplied",
                                        "StopTaskCachedChangesNotApplied"};
    json_t *s = json_is_object(base) ? json_deep_copy(base) : json_object();
    json_t *fls, *logging;
    bool cdc_only = streq(migration_type, "cdc");
    if (!s)
        return NULL;
    fls = child_object(s, "FullLoadSettings");
    for (size_t i = 0; i < 2; i++) {
        json_t *top = json_object_get(s, moved[i]);
        if (top && !json_object_get(fls, moved[i]))
            json_object_set(fls, moved[i], top);
        json_object_del(s, moved[i]);
    }
    if (streq(role, "main") || streq(role, "rollback"))
        json_object_set_new(fls, "TargetTablePrepMode", json_string("DO_NOTHING"));
    if (!cdc_only && !json_is_integer(json_object_get(fls, "MaxFullLoadSubTasks")))
        json_object_set_new(fls, "MaxFullLoadSubTasks", json_integer(8));
    if (streq(role, "main") && streq(migration_type, "full-load-and-cdc")) {
        json_object_set_new(fls, "StopTaskCachedChangesApplied", json_true());
        json_object_set_new(fls, "StopTaskCachedChangesNotApplied", json_false());
    }
    if (streq(role, "main") && !streq(migration_type, "full-load")) {
        /* the awsdms_status and awsdms_suspended_tables control tables on
         * the target: CDC latency, suspended tables and why (an explicit
         * false in the task resource is kept) */
        static const char *const tables[] = {"StatusTableEnabled",
                                             "SuspendedTablesTableEnabled"};
        json_t *cts = child_object(s, "ControlTablesSettings");
        for (size_t i = 0; i < 2; i++)
            if (!json_is_boolean(json_object_get(cts, tables[i])))
                json_object_set_new(cts, tables[i], json_true());
    }
    logging = child_object(s, "Logging");
    json_object_set_new(logging, "EnableLogging", json_true());
    return s;
}

json_t *co_awsdms_default_mappings_new(const json_t *schemas)
{
    json_t *rules = json_array(), *item;
    size_t i;
    int n = 0;
    json_array_foreach(schemas, i, item) {
        char id[16], name[160];
        if (!json_is_string(item))
            continue;
        snprintf(id, sizeof id, "%d", ++n);
        snprintf(name, sizeof name, "include-%d", n);
        json_array_append_new(rules, json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:s}",
                                               "rule-type", "selection", "rule-id", id,
                                               "rule-name", name, "object-locator",
                                               "schema-name", json_string_value(item),
                                               "table-name", "%", "rule-action", "include"));
    }
    if (n == 0) {
        json_decref(rules);
        return NULL;
    }
    return json_pack("{s:o}", "rules", rules);
}

/* Name changes found in forward mappings, to invert. */
typedef struct renames {
    json_t *case_rules; /* convert-lowercase/uppercase transformation rules */
    json_t *schema_renames; /* rename rules of rule-target schema */
} renames;

static char *case_copy(const char *s, bool upper)
{
    char *out = strdup(s ? s : "");
    for (char *p = out; p && *p; p++)
        *p = (char)(upper ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
    return out;
}

static const char *loc_get(const json_t *rule, const char *key)
{
    return json_string_value(json_object_get(json_object_get(rule, "object-locator"), key));
}

/* The case conversion a forward case rule of target applies to the name
 * (schema, or schema+table): +1 upper, -1 lower, 0 none. */
static int case_of(const renames *r, const char *target, const char *schema,
                   const char *table)
{
    size_t i;
    json_t *rule;
    int c = 0;
    json_array_foreach(r->case_rules, i, rule) {
        const char *t = json_string_value(json_object_get(rule, "rule-target"));
        const char *ls = loc_get(rule, "schema-name"), *lt = loc_get(rule, "table-name");
        if (!streq(t, target) || !ls || !co_tm_like(ls, schema))
            continue;
        if (table && (!lt || !co_tm_like(lt, table)))
            continue;
        c = streq(json_string_value(json_object_get(rule, "rule-action")), "convert-uppercase")
                ? 1 : -1;
    }
    return c;
}

/* The target-side name of schema (new string). */
static char *fwd_schema(const renames *r, const char *schema)
{
    size_t i;
    json_t *rule;
    int c;
    json_array_foreach(r->schema_renames, i, rule) {
        if (streq(loc_get(rule, "schema-name"), schema))
            return strdup(json_string_value(json_object_get(rule, "value")));
    }
    c = case_of(r, "schema", schema, NULL);
    return c ? case_copy(schema, c > 0) : strdup(schema);
}

static char *fwd_table(const renames *r, const char *schema, const char *table)
{
    int c = case_of(r, "table", schema, table);
    return c ? case_copy(table, c > 0) : strdup(table);
}

static co_status collect_renames(const json_t *mappings, renames *r, co_error *err)
{
    static const char *const name_changing[] = {
        "rename", "add-prefix", "remove-prefix", "replace-prefix", "add-suffix",
        "remove-suffix", "replace-suffix", NULL};
    size_t i;
    json_t *rule;
    json_array_foreach(json_object_get(mappings, "rules"), i, rule) {
        const char *type = json_string_value(json_object_get(rule, "rule-type"));
        const char *action = json_string_value(json_object_get(rule, "rule-action"));
        const char *target = json_string_value(json_object_get(rule, "rule-target"));
        const char *name = json_string_value(json_object_get(rule, "rule-name"));
        if (!streq(type, "transformation") || !action)
            continue;
        if (streq(action, "convert-lowercase") || streq(action, "convert-uppercase")) {
            json_array_append(r->case_rules, rule);
            continue;
        }
        for (const char *const *a = name_changing; *a; a++) {
            if (strcmp(*a, action) != 0)
                continue;
            if (streq(action, "rename") && streq(target, "schema") &&
                loc_get(rule, "schema-name") && !strchr(loc_get(rule, "schema-name"), '%') &&
                json_is_string(json_object_get(rule, "value")))
                json_array_append(r->schema_renames, rule);
            else
                return co_error_set(err, CO_ERR_UNPROCESSABLE,
                                    "the rollback task cannot invert transformation rule "
                                    "%s (%s of a %s)", name ? name : "?", action,
                                    target ? target : "?");
        }
    }
    return CO_OK;
}

static void add_rule(json_t *rules, json_t *rule)
{
    char id[16], name[32];
    size_t n = json_array_size(rules) + 1;
    snprintf(id, sizeof id, "%zu", n);
    snprintf(name, sizeof name, "rollback-%zu", n);
    json_object_set_new(rule, "rule-id", json_string(id));
    json_object_set_new(rule, "rule-name", json_string(name));
    json_array_append_new(rules, rule);
}

/* The inverse of one forward case rule, located by target-side names. */
static json_t *inverse_case_rule(const renames *r, const json_t *rule)
{
    const char *target = json_string_value(json_object_get(rule, "rule-target"));
    bool to_upper = streq(json_string_value(json_object_get(rule, "rule-action")),
                          "convert-lowercase");
    const char *ls = loc_get(rule, "schema-name"), *lt = loc_get(rule, "table-name");
    const char *lc = loc_get(rule, "column-name");
    char *s = streq(target, "schema") ? case_copy(ls, !to_upper) : fwd_schema(r, ls ? ls : "%");
    char *t = lt ? (streq(target, "table") ? case_copy(lt, !to_upper)
                                            : fwd_table(r, ls ? ls : "%", lt))
                 : NULL;
    char *c = lc ? case_copy(lc, !to_upper) : NULL;
    json_t *out = json_pack("{s:s, s:s, s:{s:s, s:s?, s:s?}, s:s}", "rule-type",
                            "transformation", "rule-target", target ? target : "schema",
                            "object-locator", "schema-name", s, "table-name", t,
                            "column-name", c, "rule-action",
                            to_upper ? "convert-uppercase" : "convert-lowercase");
    free(s);
    free(t);
    free(c);
    return out;
}

co_status co_awsdms_reverse_mappings_new(const json_t *mappings, json_t **out, co_error *err)
{
    renames r = {json_array(), json_array()};
    json_t *rules = json_array(), *rule;
    co_status rc;
    size_t i;
    *out = NULL;
    if ((rc = collect_renames(mappings, &r, err)) != CO_OK)
        goto done;
    json_array_foreach(json_object_get(mappings, "rules"), i, rule) {
        const char *ls = loc_get(rule, "schema-name"), *lt = loc_get(rule, "table-name");
        char *s, *t;
        if (!streq(json_string_value(json_object_get(rule, "rule-type")), "selection") || !ls)
            continue;
        s = fwd_schema(&r, ls);
        t = fwd_table(&r, ls, lt ? lt : "%");
        add_rule(rules, json_pack("{s:s, s:{s:s, s:s}, s:O}", "rule-type", "selection",
                                  "object-locator", "schema-name", s, "table-name", t,
                                  "rule-action", json_object_get(rule, "rule-action")));
        free(s);
        free(t);
    }
    json_array_foreach(r.schema_renames, i, rule) {
        add_rule(rules, json_pack("{s:s, s:s, s:{s:O}, s:s, s:s}", "rule-type",
                                  "transformation", "rule-target", "schema", "object-locator",
                                  "schema-name", json_object_get(rule, "value"), "rule-action",
                                  "rename", "value", loc_get(rule, "schema-name")));
    }
    json_array_foreach(r.case_rules, i, rule) add_rule(rules, inverse_case_rule(&r, rule));
    if (json_array_size(rules) == 0) {
        rc = co_error_set(err, CO_ERR_UNPROCESSABLE, "the table mappings select nothing");
        goto done;
    }
    *out = json_pack("{s:O}", "rules", rules);
done:
    json_decref(rules);
    json_decref(r.case_rules);
    json_decref(r.schema_renames);
    return rc;
}
