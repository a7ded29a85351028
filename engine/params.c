/* params.c - see params.h. */
#include "engine/params.h"

#include <stdio.h>
#include <string.h>

#include "store/resources.h"
#include "core/validate.h"

typedef enum ptype { P_STRING, P_INT, P_NUM, P_BOOL, P_OBJECT, P_ARRAY } ptype;

/* Checks a value of the right type further: field errors under ptr. */
typedef void (*pcheck)(const json_t *v, const char *ptr, co_error *err);

typedef struct param_def {
    const char *name;
    ptype type;
    bool required;          /* required for real engines (not the test engine) */
    const char *def_json;   /* default as JSON text, or NULL for none */
    int64_t lo, hi;         /* P_INT range; P_NUM: lo < value <= hi */
    const char *description;
} param_def;

/* Parameters that carry SQL run as given: creating such a run needs admin. */
static const char *const sql_params[] = {"converted_schema_sql", NULL};

/* ---- checks of structured parameters (PostgreSQL names: 1 to 63 bytes) */

static bool name_ok(const json_t *o, const char *key, bool required, const char *ptr,
                    co_error *err)
{
    const json_t *v = json_object_get(o, key);
    char p[192];
    v_pointer(p, sizeof p, ptr, key);
    if (!v && !required)
        return true;
    if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > 63 ||
        memchr(json_string_value(v), '\0', json_string_length(v))) {
        co_error_field(err, p, "must be a PostgreSQL name: a string of 1 to 63 bytes");
        return false;
    }
    return true;
}

static void only(const json_t *o, const char *ptr, const char *const *keys, co_error *err)
{
    v_only_known((json_t *)o, ptr, keys, err);
}

static void name_list(const json_t *v, const char *ptr, bool nonempty, co_error *err)
{
    size_t i, j;
    const json_t *item;
    if (!json_is_array(v) || (nonempty && json_array_size(v) == 0)) {
        co_error_field(err, ptr, "must be a%s array of names", nonempty ? " non-empty" : "n");
        return;
    }
    json_array_foreach(v, i, item) {
        char p[192];
        snprintf(p, sizeof p, "%s/%zu", ptr, i);
        if (!json_is_string(item) || json_string_length(item) < 1 ||
            json_string_length(item) > 63)
            co_error_field(err, p, "must be a PostgreSQL name: a string of 1 to 63 bytes");
        for (j = 0; j < i && json_is_string(item); j++)
            if (json_equal(item, json_array_get(v, j)))
                co_error_field(err, p, "repeats item %zu", j);
    }
}

static void check_schemas(const json_t *v, const char *ptr, co_error *err)
{
    name_list(v, ptr, true, err);
}

static void check_table(const json_t *v, const char *ptr, co_error *err)
{
    static const char *const keys[] = {"schema", "name", NULL};
    only(v, ptr, keys, err);
    name_ok(v, "schema", false, ptr, err);
    name_ok(v, "name", true, ptr, err);
}

static void check_final(const json_t *v, const char *ptr, co_error *err)
{
    static const char *const keys[] = {"schema", "name", "key", NULL};
    char p[192];
    only(v, ptr, keys, err);
    name_ok(v, "schema", false, ptr, err);
    name_ok(v, "name", true, ptr, err);
    v_pointer(p, sizeof p, ptr, "key");
    name_list(json_object_get(v, "key"), p, true, err);
}

static void check_key(json_t *item, const char *ptr, co_error *err)
{
    name_ok(item, "left", true, ptr, err);
    name_ok(item, "right", true, ptr, err);
}

static void check_column(json_t *item, const char *ptr, co_error *err)
{
    static const char *const sides[] = {"left", "right", NULL};
    v_enum(item, ptr, "side", sides, NULL, err);
    name_ok(item, "column", true, ptr, err);
    name_ok(item, "alias", false, ptr, err);
}

/* Member key of v: a non-empty array of objects with only the members
 * keys, each checked by check. */
static void objects(const json_t *v, const char *ptr, const char *key,
                    const char *const *keys, void (*check)(json_t *, const char *, co_error *),
                    const char *what, co_error *err)
{
    const json_t *arr = json_object_get(v, key);
    json_t *item;
    size_t i;
    char p[192], q[sizeof p + 24];
    v_pointer(p, sizeof p, ptr, key);
    if (!json_is_array(arr) || !json_array_size(arr))
        co_error_field(err, p, "must be a non-empty array of %s", what);
    json_array_foreach(arr, i, item) {
        snprintf(q, sizeof q, "%s/%zu", p, i);
        if (!json_is_object(item)) {
            co_error_field(err, q, "must be an object %s", what);
            continue;
        }
        only(item, q, keys, err);
        check(item, q, err);
    }
}

static void check_view(const json_t *v, const char *ptr, co_error *err)
{
    static const char *const keys[] = {"schema", "name", "join", "keys", "columns", NULL};
    static const char *const key_keys[] = {"left", "right", NULL};
    static const char *const col_keys[] = {"side", "column", "alias", NULL};
    static const char *const joins[] = {"inner", "left", "right", "full", NULL};
    only(v, ptr, keys, err);
    name_ok(v, "schema", false, ptr, err);
    name_ok(v, "name", true, ptr, err);
    if (json_object_get(v, "join"))
        v_enum((json_t *)v, ptr, "join", joins, "inner", err);
    objects(v, ptr, "keys", key_keys, check_key, "{left, right} column pairs", err);
    objects(v, ptr, "columns", col_keys, check_column, "{side, column, alias}", err);
}

/* Rows of the parameter tables: REQ a required parameter (no default),
 * OPT an optional one, INTEGER an optional integer from lo to hi, MINUTES an
 * optional number of minutes greater than 0 and at most max. def is the
 * default as JSON text, or NULL for none. */
#define REQ(name, type, desc) {name, type, true, NULL, 0, 0, desc}
#define OPT(name, type, def, desc) {name, type, false, def, 0, 0, desc}
#define INTEGER(name, def, lo, hi, desc) {name, P_INT, false, def, lo, hi, desc}
#define MINUTES(name, def, max, desc) {name, P_NUM, false, def, 0, max, desc}

#define COMMON_PARAMS                                                                              \
    REQ("source_endpoint_id", P_STRING, "source endpoint (role source) of the project"),           \
    REQ("target_endpoint_id", P_STRING, "target endpoint (role target, postgres) of the project"), \
    OPT("task_id", P_STRING, NULL,                                                                 \
        "replication task whose table mappings and settings the run uses"),                        \
    OPT("replication_instance_id", P_STRING, NULL, "replication instance (aws-dms)"),              \
    INTEGER("statement_timeout_ms", "300000", 1000, 86400000,                                      \
            "PostgreSQL statement_timeout per step"),                                              \
    INTEGER("max_attempts", "5", 1, 100, "attempts per step before it fails (transient errors)"),  \
    INTEGER("retry_base_ms", "1000", 10, 600000,                                                   \
            "first retry delay; doubles per attempt, with jitter"),                                \
    INTEGER("retry_cap_ms", "60000", 10, 3600000, "largest retry delay"),                          \
    OPT("test", P_OBJECT, NULL, "test engine behaviour (tests only)"),                             \
    MINUTES("instance_timeout_minutes", "45", 1440,                                                \
            "aws-dms: how long a replication instance may take to become available (DMS takes "    \
            "5 to 20 minutes)"),                                                                   \
    MINUTES("ready_timeout_minutes", "30", 1440,                                                   \
            "aws-dms: how long connection tests, schema refreshes and replication task state "     \
            "changes (creating, stopping, deleting) may take"),                                    \
    MINUTES("task_start_timeout_minutes", "10", 1440,                                              \
            "aws-dms: how long a task may stay ready or stopped after DMS accepted "               \
            "StartReplicationTask before it is started again"),                                    \
    INTEGER("task_start_attempts", "3", 1, 20,                                                     \
            "aws-dms: StartReplicationTask calls for a task that does not start, before the "      \
            "step fails"),                                                                         \
    MINUTES("stall_minutes", "60", 100000,                                                         \
            "full load: minutes without a change of any table's FullLoadRows or TableState "       \
            "before a step.stalled event"),                                                        \
    OPT("fail_on_stall", P_BOOL, "false",                                                          \
        "full load: fail the step when it stalled instead of waiting on"),                         \
    MINUTES("waiting_event_minutes", "5", 1440,                                                    \
            "period of the step.waiting events while a step waits"),                               \
    OPT("cleanup", P_BOOL, "true",                                                                 \
        "aws-dms: delete the endpoints and the replication instance the run made once its "        \
        "tasks are deleted (after cutover, on cancel)")

static const param_def o2p_params[] = {
    COMMON_PARAMS,
    OPT("schemas", P_ARRAY, "[\"public\"]", "schemas to migrate"),
    OPT("converted_schema_sql", P_STRING, NULL,
        "converted schema DDL to apply at convert_schema, after an admin approved it at "
        "review_schema (needs the admin role)"),
    OPT("rollback_task", P_BOOL, "false", "start a reverse CDC-only task at cutover"),
    INTEGER("sequence_gap", "1000", 0, 1000000000, "gap added to sequences at reset_sequences"),
    INTEGER("cdc_latency_threshold_seconds", "5", 0, 86400,
            "CDC latency under which await_cdc_sync is done"),
    INTEGER("cdc_sync_window_seconds", "60", 0, 86400,
            "aws-dms: how long the CDC latency must stay under the threshold"),
    OPT("create_indexes_concurrently", P_BOOL, "false",
        "restore indexes with CREATE INDEX CONCURRENTLY"),
    INTEGER("restore_jobs", NULL, 1, 64,
            "connections restore_constraints builds indexes and foreign keys with, side by side "
            "(default: the number of CPU cores of the cutoverd host)"),
    INTEGER("restore_index_workers", NULL, 0, 64,
            "max_parallel_maintenance_workers of restore_constraints' sessions: parallel workers "
            "each index build may add to its restore_jobs connection (0: the connections are the "
            "only parallelism; default: the target's own setting)"),
    INTEGER("maintenance_work_mem_mb", "64", 1, 2097151,
            "maintenance_work_mem (MiB) of the target sessions that build primary keys, indexes "
            "and foreign keys (full load, restore_constraints), whatever the target's own "
            "setting; each of the restore_jobs or full_load_jobs sessions may use this much "
            "(default: PostgreSQL's default; larger in-memory sorts were slower)"),
    OPT("full_load_method", P_STRING, "\"snapshot\"",
        "pg-logical: subscription (PostgreSQL's table synchronisation, copy_data = true) or "
        "snapshot (the slot made with an exported snapshot, tables copied under it in parallel "
        "with primary keys built per table, then CDC from the slot)"),
    INTEGER("full_load_jobs", NULL, 1, 64,
            "pg-logical snapshot copy: connection pairs copying tables side by side (default: "
            "the number of CPU cores of the cutoverd host)"),
    INTEGER("full_load_split_pages", "0", 0, 1073741824,
            "pg-logical snapshot copy: tables of more 8 KiB pages than this are copied in ctid "
            "ranges of about this size, side by side (0: whole tables, each written frozen)"),
    OPT("migration_role", P_STRING, NULL,
        "role that configure_target creates (NOLOGIN, if absent) and grants USAGE, CREATE and "
        "all privileges on the migrated schemas"),
    OPT("tables_without_key", P_STRING, "\"fail\"",
        "tables without a primary key or replica identity (pg-logical): fail (a preflight "
        "finding), replica-identity-full (set on the source for the migration, restored at "
        "stop_task) or exclude (left out, listed in the report)"),
    OPT("copy_large_objects", P_BOOL, "false",
        "copy large objects (pg_largeobject) at final_sync while the source is quiet "
        "(pg-logical); without it, large objects on the source are a preflight finding"),
    OPT("validate_tables", P_BOOL, "true",
        "validate the data (PostgreSQL sources): continuously during CDC (pg-logical) and at "
        "final_sync as final_validation says; false turns every validation off"),
    OPT("final_validation", P_STRING, "\"changed\"",
        "what final_sync validates after the drain: changed (what changed since its continuous "
        "validation; whole tables where the engine has none), full (row counts and checksums of "
        "every table), none"),
    INTEGER("validation_chunk_rows", "10000", 100, 1000000,
            "rows per primary-key chunk of the continuous validation"),
    INTEGER("validation_rate_rows", "100000", 0, 1000000000,
            "source rows per second the continuous validation may read (0: no limit)"),
    INTEGER("validation_max_checks", "3", 1, 100,
            "checks of a differing key, with its source row unchanged, before it is a mismatch"),
    INTEGER("validation_backoff_lag_bytes", "67108864", 0, 1099511627776,
            "the continuous validation pauses while the slot is more bytes behind than this"),
    {NULL, P_STRING, false, NULL, 0, 0, NULL},
};

static const param_def view_params[] = {
    COMMON_PARAMS,
    REQ("source_table", P_OBJECT, "{schema, name} of the source table staged by stage_load"),
    OPT("staging_schema", P_STRING, NULL,
        "schema of the staged table on the target (default: \"staging\"; with pg-logical, the "
        "source table's schema)"),
    REQ("remote_endpoint_id", P_STRING,
        "endpoint of the second PostgreSQL database, linked with postgres_fdw"),
    REQ("remote_table", P_OBJECT, "{schema, name} of the existing table in the second database"),
    OPT("foreign_schema", P_STRING, "\"remote\"", "schema of the foreign table on the target"),
    REQ("view", P_OBJECT,
        "{schema, name, join (inner|left|right|full), keys [{left, right}], columns [{side "
        "(left|right), column, alias}]}"),
    REQ("final_table", P_OBJECT, "{schema, name, key [column, ...]}"),
    INTEGER("batch_size", "10000", 1, 10000000, "rows per load_final batch"),
    OPT("ongoing_sync", P_BOOL, "false",
        "keep the final table in sync with a trigger on the staging table"),
    {NULL, P_STRING, false, NULL, 0, 0, NULL},
};

/* String parameters with a fixed set of values. */
static const struct {
    const char *name;
    const char *const values[4];
} enum_params[] = {
    {"final_validation", {"changed", "full", "none", NULL}},
    {"tables_without_key", {"fail", "replica-identity-full", "exclude", NULL}},
    {"full_load_method", {"snapshot", "subscription", NULL, NULL}},
};

static void check_enum(const char *name, const json_t *val, const char *ptr, co_error *err)
{
    for (size_t i = 0; i < sizeof enum_params / sizeof enum_params[0]; i++) {
        if (strcmp(enum_params[i].name, name) != 0)
            continue;
        for (const char *const *v = enum_params[i].values; *v; v++)
            if (strcmp(*v, json_string_value(val)) == 0)
                return;
        co_error_field(err, ptr, "must be one of %s, %s, %s", enum_params[i].values[0],
                       enum_params[i].values[1], enum_params[i].values[2]);
    }
}

/* Parameters checked beyond their type (either plan). */
static const struct {
    const char *name;
    pcheck check;
} checks[] = {
    {"schemas", check_schemas},         {"source_table", check_table},
    {"remote_table", check_table},      {"view", check_view},
    {"final_table", check_final},
};

static const param_def *table_of(const co_plan_def *plan)
{
    return strcmp(plan->id, "view-migration") == 0 ? view_params : o2p_params;
}

static const char *type_name(ptype t)
{
    switch (t) {
    case P_STRING: return "string";
    case P_INT: return "integer";
    case P_NUM: return "number";
    case P_BOOL: return "boolean";
    case P_OBJECT: return "object";
    default: return "array";
    }
}

static bool type_ok(ptype t, const json_t *v)
{
    switch (t) {
    case P_STRING: return json_is_string(v);
    case P_INT: return json_is_integer(v);
    case P_NUM: return json_is_number(v);
    case P_BOOL: return json_is_boolean(v);
    case P_OBJECT: return json_is_object(v);
    default: return json_is_array(v);
    }
}

static void check_endpoint(co_store *store, const char *project_id, json_t *params,
                           const char *key, const char *role, co_error *err)
{
    co_resource ep;
    char ptr[96];
    if (!json_object_get(params, key))
        return;
    v_pointer(ptr, sizeof ptr, "/parameters", key);
    if (co_resource_ref(store, CO_KIND_ENDPOINT, project_id, params, key, &ep, NULL) != CO_OK) {
        co_error_field(err, ptr, "endpoint %s does not exist in project %s",
                       v_str(params, key), project_id);
        return;
    }
    if (role && strcmp(v_str(ep.doc, "role"), role) != 0)
        co_error_field(err, ptr, "endpoint %s is a %s endpoint, not a %s", ep.id,
                       v_str(ep.doc, "role"), role);
    co_resource_clear(&ep);
}

/* Names that end up in generated SQL and Oracle scripts: no control
 * characters (and schemas must be non-empty strings). */
static void check_names(const json_t *params, co_error *err)
{
    static const char *const names[] = {"staging_schema", "migration_role",
                                        "foreign_schema", NULL};
    static const char *const objects[] = {"source_table", "remote_table", "final_table",
                                          "view", NULL};
    const json_t *s;
    size_t i;
    char ptr[160];
    json_array_foreach(json_object_get(params, "schemas"), i, s) {
        if (!json_is_string(s) || !json_string_length(s) ||
            v_has_control(json_string_value(s))) {
            snprintf(ptr, sizeof ptr, "/parameters/schemas/%zu", i);
            co_error_field(err, ptr, "must be a non-empty name without control characters");
        }
    }
    for (const char *const *k = names; *k; k++) {
        v_pointer(ptr, sizeof ptr, "/parameters", *k);
        if (v_has_control(json_string_value(json_object_get(params, *k))))
            co_error_field(err, ptr, "must not contain control characters");
    }
    for (const char *const *k = objects; *k; k++) {
        const json_t *o = json_object_get(params, *k);
        for (int m = 0; m < 2; m++) {
            const char *member = m ? "name" : "schema";
            if (v_has_control(json_string_value(json_object_get(o, member)))) {
                snprintf(ptr, sizeof ptr, "/parameters/%s/%s", *k, member);
                co_error_field(err, ptr, "must not contain control characters");
            }
        }
    }
}

const char *co_params_sql_param(const co_plan_def *plan, const json_t *params)
{
    for (const param_def *d = table_of(plan); d->name; d++)
        for (size_t i = 0; sql_params[i]; i++)
            if (strcmp(d->name, sql_params[i]) == 0 && json_object_get(params, d->name))
                return d->name;
    return NULL;
}

/* A reference parameter names a resource of kind in the same project. */
static void check_ref(co_store *store, const char *project_id, json_t *params,
                      const char *key, co_kind kind, co_error *err)
{
    co_resource r;
    char ptr[96];
    if (!json_is_string(json_object_get(params, key)))
        return;
    v_pointer(ptr, sizeof ptr, "/parameters", key);
    if (co_resource_ref(store, kind, project_id, params, key, &r, NULL) != CO_OK)
        co_error_field(err, ptr, "%s %s does not exist in project %s",
                       co_kind_name(kind), v_str(params, key), project_id);
    else
        co_resource_clear(&r);
}

co_status co_params_validate(co_store *store, const co_plan_def *plan,
                             const char *engine_name, const char *project_id,
                             json_t *params, co_error *err)
{
    const param_def *defs = table_of(plan);
    bool test_engine = strncmp(engine_name, "test", 4) == 0;
    const char *key;
    json_t *val;

    json_object_foreach(params, key, val) {
        const param_def *d = defs;
        char ptr[160];
        while (d->name && strcmp(d->name, key) != 0)
            d++;
        v_pointer(ptr, sizeof ptr, "/parameters", key);
        if (!d->name) {
            co_error_field(err, ptr, "unknown parameter of plan %s", plan->id);
            continue;
        }
        if (!type_ok(d->type, val)) {
            co_error_field(err, ptr, "must be a%s %s", d->type == P_INT ||
                           d->type == P_OBJECT || d->type == P_ARRAY ? "n" : "",
                           type_name(d->type));
            continue;
        }
        if (d->type == P_INT && (json_integer_value(val) < d->lo ||
                                 json_integer_value(val) > d->hi))
            co_error_field(err, ptr, "must be from %lld to %lld", (long long)d->lo,
                           (long long)d->hi);
        if (d->type == P_NUM && (json_number_value(val) <= (double)d->lo ||
                                 json_number_value(val) > (double)d->hi))
            co_error_field(err, ptr, "must be greater than %lld and at most %lld",
                           (long long)d->lo, (long long)d->hi);
        if (d->type == P_STRING && json_string_length(val) == 0)
            co_error_field(err, ptr, "must not be empty");
        else if (d->type == P_STRING)
            check_enum(d->name, val, ptr, err);

        for (size_t c = 0; c < sizeof checks / sizeof checks[0]; c++)
            if (strcmp(checks[c].name, key) == 0)
                checks[c].check(val, ptr, err);
    }
    for (const param_def *d = defs; d->name; d++) {
        char ptr[160];
        if (json_object_get(params, d->name))
            continue;
        v_pointer(ptr, sizeof ptr, "/parameters", d->name);
        if (d->required && !test_engine) {
            co_error_field(err, ptr, "is required by plan %s", plan->id);
        } else if (d->def_json) {
            json_t *dv = json_loads(d->def_json, JSON_DECODE_ANY, NULL);
            if (dv)
                json_object_set_new(params, d->name, dv);
        }
    }
    check_names(params, err);
    if (json_object_get(params, "test") && !test_engine)
        co_error_field(err, "/parameters/test", "is only for test engines");
    check_endpoint(store, project_id, params, "source_endpoint_id", "source", err);
    check_endpoint(store, project_id, params, "target_endpoint_id", "target", err);
    check_endpoint(store, project_id, params, "remote_endpoint_id", NULL, err);
    if (strcmp(plan->id, "view-migration") == 0 && !json_object_get(params, "staging_schema")) {
        const char *src_schema = v_str(json_object_get(params, "source_table"), "schema");
        bool native = strcmp(engine_name, "pg-logical") == 0;
        json_object_set_new(params, "staging_schema",
                            json_string(native && src_schema ? src_schema : "staging"));
    }
    if (strcmp(engine_name, "pg-logical") == 0 && strcmp(plan->id, "view-migration") == 0) {
        const char *src_schema = v_str(json_object_get(params, "source_table"), "schema");
        const char *staging = v_str(params, "staging_schema");
        if (src_schema && staging && strcmp(src_schema, staging) != 0)
            co_error_field(err, "/parameters/staging_schema",
                           "pg-logical replicates a table under its own name: the staging "
                           "schema must be the source table's schema (%s); use aws-dms to "
                           "stage into another schema", src_schema);
    }
    check_ref(store, project_id, params, "task_id", CO_KIND_TASK, err);
    check_ref(store, project_id, params, "replication_instance_id",
              CO_KIND_INSTANCE, err);
    return err->status;
}

json_t *co_params_describe(const co_plan_def *plan)
{
    json_t *arr = json_array();
    for (const param_def *d = table_of(plan); d->name; d++) {
        json_t *o = json_pack("{s:s, s:s, s:b, s:s}", "name", d->name, "type",
                              type_name(d->type), "required", d->required,
                              "description", d->description);
        if (d->def_json)
            json_object_set_new(o, "default", json_loads(d->def_json, JSON_DECODE_ANY, NULL));
        json_array_append_new(arr, o);
    }
    return arr;
}
